//! Manifest and side-car validation: the seed-notes section 9 checklist (1-14, 20, 27) and
//! the semantic rules ades adds. Fixtures are the official examples, mutated inline.

use seed::manifest::{ErrorCategory, MountMode};
use seed::names::{docker_name_problem, image_name, normalize};
use seed::validate::{
    manifest_from_value, parse_manifest, validate_manifest_schema, validate_manifest_value,
    validate_metadata_value,
};
use seed::{Problem, Severity};
use serde_json::{json, Value};

const COMPLETE: &str = include_str!("fixtures/official/complete/seed.manifest.json");
const WATERMARK: &str = include_str!("fixtures/official/watermark/seed.manifest.json");
const RANDOM_NUMBER: &str = include_str!("fixtures/official/random-number/seed.manifest.json");
const OUTFILE_METADATA: &str = include_str!("fixtures/official/complete/outfile.csv.metadata.json");

fn complete() -> Value {
    serde_json::from_str(COMPLETE).unwrap()
}

fn set(document: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut *document
    } else {
        document
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent} in the fixture"))
    };
    match target {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().unwrap();
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
        }
        other => panic!("cannot set {pointer} in {other}"),
    }
}

fn remove(document: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut *document
    } else {
        document.pointer_mut(parent).unwrap()
    };
    target
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap_or_else(|| panic!("no {pointer} in the fixture"));
}

fn errors(document: &Value) -> Vec<Problem> {
    validate_manifest_value(document)
        .into_iter()
        .filter(Problem::is_error)
        .collect()
}

fn warnings(document: &Value) -> Vec<Problem> {
    validate_manifest_value(document)
        .into_iter()
        .filter(|p| p.severity == Severity::Warning)
        .collect()
}

fn listing(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  {:?} {p}", p.severity))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts there is no error at all.
#[track_caller]
fn assert_valid(document: &Value) {
    let errors = errors(document);
    assert!(
        errors.is_empty(),
        "unexpected errors:\n{}",
        listing(&errors)
    );
}

/// Asserts exactly one error, at `location`, whose message contains every `words`; returns it.
#[track_caller]
fn assert_one_error(document: &Value, location: &str, words: &[&str]) -> Problem {
    let errors = errors(document);
    assert_eq!(
        errors.len(),
        1,
        "expected one error at {location}, got:\n{}",
        listing(&errors)
    );
    let problem = errors.into_iter().next().unwrap();
    assert_eq!(problem.location, location, "{problem}");
    for word in words {
        assert!(problem.message.contains(word), "{word:?} not in: {problem}");
    }
    problem
}

/// Asserts some problem of `severity` at `location` mentions every `words`.
#[track_caller]
fn assert_has(problems: &[Problem], severity: Severity, location: &str, words: &[&str]) {
    let found = problems.iter().any(|p| {
        p.severity == severity
            && p.location == location
            && words.iter().all(|w| p.message.contains(w))
    });
    assert!(
        found,
        "no {severity:?} at {location} mentioning {words:?} in:\n{}",
        listing(problems)
    );
}

// ---------------------------------------------------------------------------------------
// seed-notes section 9, statements 1-14, 20, 27

#[test]
fn checklist_01_seed_version_must_be_exactly_1_0_0() {
    for wrong in [
        json!("1.0.1"),
        json!("1.0"),
        json!("0.1.0"),
        json!(" 1.0.0"),
        json!("SEED_VERSION"),
    ] {
        let mut document = complete();
        set(&mut document, "/seedVersion", wrong.clone());
        assert_one_error(&document, "/seedVersion", &["\"1.0.0\""]);
        assert!(!validate_manifest_schema(&document).is_empty(), "{wrong}");
    }
    let mut document = complete();
    set(&mut document, "/seedVersion", json!(1.0));
    assert_one_error(&document, "/seedVersion", &["must be a string"]);

    let mut document = complete();
    remove(&mut document, "/seedVersion");
    assert_one_error(&document, "/", &["add the required member `seedVersion`"]);
}

#[test]
fn checklist_02_job_name_underscore_rejected() {
    let mut document = complete();
    set(&mut document, "/job/name", json!("my_job"));
    let problem = assert_one_error(&document, "/job/name", &[]);
    assert_eq!(
        problem.message,
        "`job.name` \"my_job\" must match ^[a-zA-Z0-9-]+$: use letters, digits and '-' only \
         (no '_', '.' or spaces), e.g. \"my-job\""
    );
}

#[test]
fn checklist_02_job_name_mixed_case_accepted_by_schema() {
    let mut document = complete();
    set(&mut document, "/job/name", json!("My-Job2"));
    assert!(validate_manifest_schema(&document).is_empty());
    // Choice (validate.rs): Docker cannot name the image, so ades still refuses it, and
    // that is the only finding.
    assert_one_error(&document, "/job/name", &["upper-case", "\"my-job2\""]);
    set(&mut document, "/job/name", json!("my-job2"));
    assert_valid(&document);
}

#[test]
fn checklist_03_job_version_must_be_semver() {
    for (wrong, why) in [
        ("1.0", "three"),
        ("01.0.0", "leading zeros"),
        ("v1.0.0", "numbers"),
    ] {
        let mut document = complete();
        set(&mut document, "/job/jobVersion", json!(wrong));
        assert_one_error(
            &document,
            "/job/jobVersion",
            &["not a semantic version", why],
        );
        let mut document = complete();
        set(&mut document, "/job/packageVersion", json!(wrong));
        assert_one_error(
            &document,
            "/job/packageVersion",
            &["not a semantic version", why],
        );
    }
}

#[test]
fn checklist_03_prerelease_and_build_accepted_by_schema() {
    for member in ["/job/jobVersion", "/job/packageVersion"] {
        let mut document = complete();
        set(&mut document, member, json!("1.0.0-rc.1+build.5"));
        assert!(validate_manifest_schema(&document).is_empty());
        // Choice (validate.rs): '+' cannot be part of a Docker image name or tag.
        assert_one_error(&document, member, &["build metadata", "+build.5"]);
        set(&mut document, member, json!("1.0.0-rc.1"));
        assert_valid(&document);
    }
}

#[test]
fn checklist_04_missing_required_job_members_rejected() {
    for member in [
        "name",
        "jobVersion",
        "packageVersion",
        "title",
        "description",
        "maintainer",
        "timeout",
    ] {
        let mut document = complete();
        remove(&mut document, &format!("/job/{member}"));
        assert_one_error(
            &document,
            "/job",
            &[&format!("add the required member `{member}` to `job`")],
        );
    }
    for member in ["name", "email"] {
        let mut document = complete();
        remove(&mut document, &format!("/job/maintainer/{member}"));
        assert_one_error(
            &document,
            "/job/maintainer",
            &[&format!(
                "add the required member `{member}` to `job.maintainer`"
            )],
        );
    }
    let mut document = complete();
    remove(&mut document, "/job/timeout");
    let problem = assert_one_error(&document, "/job", &[]);
    assert_eq!(
        problem.message,
        "add the required member `timeout` to `job` (an integer number of seconds)"
    );
    let mut document = complete();
    remove(&mut document, "/job");
    assert_one_error(&document, "/", &["add the required member `job`"]);
}

#[test]
fn checklist_05_unknown_members_rejected_at_every_level() {
    for object in [
        "",
        "/job",
        "/job/maintainer",
        "/job/resources",
        "/job/resources/scalar/0",
        "/job/interface",
        "/job/interface/inputs",
        "/job/interface/inputs/files/0",
        "/job/interface/inputs/json/0",
        "/job/interface/outputs",
        "/job/interface/outputs/files/0",
        "/job/interface/outputs/json/0",
        "/job/interface/mounts/0",
        "/job/interface/settings/0",
        "/job/errors/0",
    ] {
        let mut document = complete();
        set(&mut document, &format!("{object}/extra"), json!(1));
        assert_one_error(
            &document,
            &format!("{object}/extra"),
            &["remove the unknown member `extra`", "allowed here: "],
        );
    }
    let mut document = complete();
    set(&mut document, "/job/extra", json!(true));
    let problem = assert_one_error(&document, "/job/extra", &[]);
    assert_eq!(
        problem.message,
        "remove the unknown member `extra` from `job` (allowed here: name, jobVersion, \
         packageVersion, title, description, tags, maintainer, timeout, resources, interface, \
         errors)"
    );
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/foo",
        json!("x"),
    );
    assert_one_error(
        &document,
        "/job/interface/inputs/files/0/foo",
        &["`foo`", "`job.interface.inputs.files[0]`", "mediaTypes"],
    );
}

#[test]
fn checklist_06_empty_resources_accepted() {
    let mut document = complete();
    set(&mut document, "/job/resources", json!({}));
    assert!(validate_manifest_value(&document)
        .iter()
        .all(|p| !p.is_error()));
    let valid = manifest_from_value(document).unwrap();
    assert!(valid.manifest.scalar_resources().is_empty());
    assert_eq!(valid.manifest.job.resources, Some(Default::default()));
}

#[test]
fn checklist_07_fractional_timeout_rejected() {
    let mut document = complete();
    set(&mut document, "/job/timeout", json!(1.5));
    let problem = assert_one_error(&document, "/job/timeout", &[]);
    assert_eq!(
        problem.message,
        "`job.timeout` must be an integer written without a decimal point or exponent \
         (e.g. 3600), not 1.5"
    );
    set(&mut document, "/job/timeout", json!("3600"));
    assert_one_error(&document, "/job/timeout", &["the string \"3600\""]);
}

#[test]
fn checklist_07_integral_float_timeout_rejected() {
    // Choice (validate.rs): JSON integers only, as draft-04 validators and Scale do.
    for written in ["3600.0", "3.6e3"] {
        let text = COMPLETE.replace("\"timeout\": 3600", &format!("\"timeout\": {written}"));
        assert_ne!(text, COMPLETE);
        let problems = parse_manifest(&text).unwrap_err();
        let errors: Vec<_> = problems.into_iter().filter(Problem::is_error).collect();
        assert_eq!(errors.len(), 1, "{}", listing(&errors));
        assert_eq!(errors[0].location, "/job/timeout");
        assert!(errors[0].message.contains("integer"), "{}", errors[0]);
    }
}

#[test]
fn checklist_07_json_input_type_float_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/json/0/type",
        json!("float"),
    );
    let problem = assert_one_error(&document, "/job/interface/inputs/json/0/type", &[]);
    assert_eq!(
        problem.message,
        "`job.interface.inputs.json[0].type` \"float\" must be one of \"array\", \"boolean\", \
         \"integer\", \"number\", \"object\", \"string\": use \"number\" for values that may \
         have a fraction"
    );
}

#[test]
fn checklist_07_error_category_system_rejected() {
    let mut document = complete();
    set(&mut document, "/job/errors/1/category", json!("system"));
    assert_one_error(
        &document,
        "/job/errors/1/category",
        &[
            "\"system\" must be one of \"job\", \"data\"",
            "input was bad",
        ],
    );
}

#[test]
fn checklist_07_mount_mode_wo_rejected() {
    let mut document = complete();
    set(&mut document, "/job/interface/mounts/0/mode", json!("wo"));
    assert_one_error(
        &document,
        "/job/interface/mounts/0/mode",
        &["\"wo\" must be one of \"ro\", \"rw\"", "read-only"],
    );
}

#[test]
fn checklist_08_official_examples_valid() {
    for text in [COMPLETE, WATERMARK, RANDOM_NUMBER] {
        let valid = parse_manifest(text).unwrap_or_else(|p| panic!("{}", listing(&p)));
        assert_eq!(valid.manifest.seed_version, "1.0.0");
        assert_eq!(valid.document, serde_json::from_str::<Value>(text).unwrap());
        assert!(valid
            .warnings
            .iter()
            .all(|w| w.severity == Severity::Warning));
    }
    assert!(validate_manifest_schema(&complete()).is_empty());
}

#[test]
fn checklist_08_complete_example_warns_only_about_unnormalised_output_names() {
    let valid = parse_manifest(COMPLETE).unwrap();
    let locations: Vec<&str> = valid.warnings.iter().map(|w| w.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "/job/interface/outputs/files/0/name",
            "/job/interface/outputs/files/1/name",
            "/job/interface/outputs/json/0/name",
            "/job/interface/outputs/json/1/name",
        ]
    );
    assert!(valid.warnings[0].message.contains("`OUTPUT_FILE_PNGS`"));
}

#[test]
fn checklist_08_outfile_metadata_valid() {
    let metadata: Value = serde_json::from_str(OUTFILE_METADATA).unwrap();
    let problems = validate_metadata_value(&metadata);
    assert!(problems.is_empty(), "{}", listing(&problems));
}

#[test]
fn checklist_08_invalid_metadata_rejected() {
    let mut feature: Value = serde_json::from_str(OUTFILE_METADATA).unwrap();
    feature.as_object_mut().unwrap().remove("properties");
    let problems = validate_metadata_value(&feature);
    assert_has(&problems, Severity::Error, "/", &["`properties`"]);

    let mut feature: Value = serde_json::from_str(OUTFILE_METADATA).unwrap();
    feature["geometry"]["coordinates"][0][1] = json!([101.0]);
    let problems = validate_metadata_value(&feature);
    assert_has(
        &problems,
        Severity::Error,
        "/geometry/coordinates/0/1",
        &["at least 2 items"],
    );

    let mut feature: Value = serde_json::from_str(OUTFILE_METADATA).unwrap();
    feature["geometry"]["type"] = json!("Polygone");
    let problems = validate_metadata_value(&feature);
    assert_has(
        &problems,
        Severity::Error,
        "/geometry/type",
        &["\"Polygone\"", "Polygon"],
    );

    let problems = validate_metadata_value(&json!({"type": "Featur", "properties": {}}));
    assert_has(&problems, Severity::Error, "/type", &["not a GeoJSON type"]);

    let problems = validate_metadata_value(&json!([1, 2]));
    assert!(
        problems.iter().any(|p| p.location == "/"),
        "{}",
        listing(&problems)
    );

    let problems = validate_metadata_value(&json!({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"}, "properties": null}]
    }));
    assert_has(
        &problems,
        Severity::Error,
        "/features/0/geometry/coordinates",
        &["must be an array"],
    );
}

#[test]
fn checklist_08_metadata_bbox_resolved_offline() {
    let mut feature: Value = serde_json::from_str(OUTFILE_METADATA).unwrap();
    feature["bbox"] = json!([100.0, 0.0, 101.0, 1.0]);
    assert!(validate_metadata_value(&feature).is_empty());
    feature["bbox"] = json!([100.0, 0.0, 101.0]);
    let problems = validate_metadata_value(&feature);
    assert_has(&problems, Severity::Error, "/bbox", &["at least 4 items"]);
    feature["bbox"] = json!([100.0, 0.0, 101.0, "1"]);
    let problems = validate_metadata_value(&feature);
    assert_has(&problems, Severity::Error, "/bbox/3", &["must be a number"]);
}

#[test]
fn checklist_09_absent_members_get_defaults() {
    let mut document = complete();
    let interface = &mut document["job"]["interface"];
    interface["inputs"] = json!({
        "files": [{"name": "INPUT_FILE"}],
        "json": [{"name": "INPUT_JSON", "type": "string"}]
    });
    interface["outputs"] = json!({
        "files": [{"name": "OUT", "pattern": "*.png"}],
        "json": [{"name": "COUNT", "type": "integer"}]
    });
    interface["mounts"] = json!([{"name": "MOUNT_PATH", "path": "/the/container/path"}]);
    interface["settings"] = json!([{"name": "VERSION"}]);
    document["job"]["errors"] = json!([{"code": 1, "name": "error-name-one"}]);
    let valid = manifest_from_value(document).unwrap_or_else(|p| panic!("{}", listing(&p)));
    assert!(valid.warnings.is_empty(), "{}", listing(&valid.warnings));
    let interface = valid.manifest.interface().into_owned();

    let file = &interface.inputs.files[0];
    assert!(file.required && !file.multiple && !file.partial);
    assert!(file.media_types.is_empty());
    assert!(interface.inputs.json[0].required);
    let output = &interface.outputs.files[0];
    assert!(output.required && !output.multiple);
    assert_eq!(output.media_type, None);
    assert!(interface.outputs.json[0].required);
    assert_eq!(interface.outputs.json[0].source_key(), "COUNT");
    assert_eq!(interface.mounts[0].mode, MountMode::Ro);
    assert!(!interface.settings[0].secret);
    let error = &valid.manifest.job.errors[0];
    assert_eq!(error.category, ErrorCategory::Job);
    assert_eq!(error.title, None);
}

#[test]
fn checklist_10_inputs_normalising_alike_collide() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/name",
        json!("in-file"),
    );
    set(
        &mut document,
        "/job/interface/inputs/files/1",
        json!({"name": "IN_FILE"}),
    );
    let problem = assert_one_error(&document, "/job/interface/inputs/files/1/name", &[]);
    assert_eq!(
        problem.message,
        "input file `IN_FILE` and input file `in-file` (at /job/interface/inputs/files/0/name) \
         both become the environment variable IN_FILE: rename one of them"
    );

    // Across kinds: a json input and a setting.
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/settings/0/name",
        json!("input-json"),
    );
    assert_one_error(
        &document,
        "/job/interface/settings/0/name",
        &[
            "setting `input-json`",
            "json input `INPUT_JSON`",
            "INPUT_JSON",
        ],
    );
}

#[test]
fn checklist_10_output_dir_is_reserved() {
    for pointer in [
        "/job/interface/inputs/files/0/name",
        "/job/interface/inputs/json/0/name",
        "/job/interface/settings/2/name",
    ] {
        for name in ["OUTPUT_DIR", "output-dir"] {
            let mut document = complete();
            set(&mut document, pointer, json!(name));
            assert_one_error(
                &document,
                pointer,
                &["OUTPUT_DIR", "output directory", "rename"],
            );
        }
    }
}

#[test]
fn checklist_11_allocated_names_are_reserved() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/name",
        json!("ALLOCATED_CPUS"),
    );
    let problem = assert_one_error(&document, "/job/interface/inputs/files/0/name", &[]);
    assert_eq!(
        problem.message,
        "input file `ALLOCATED_CPUS` would become the environment variable ALLOCATED_CPUS, \
         which ades sets to the allocation of resource `cpus` (at \
         /job/resources/scalar/0/name): rename it"
    );
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/settings/0/name",
        json!("allocated-sharedMem"),
    );
    assert_one_error(
        &document,
        "/job/interface/settings/0/name",
        &["ALLOCATED_SHAREDMEM", "resource `sharedMem`"],
    );
    // Without the resource the name is free.
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/name",
        json!("ALLOCATED_GPUS"),
    );
    assert_valid(&document);
}

#[test]
fn checklist_12_duplicate_mount_names_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/mounts/1/name",
        json!("MOUNT_PATH"),
    );
    assert_one_error(
        &document,
        "/job/interface/mounts/1/name",
        &[
            "duplicate mount name `MOUNT_PATH`",
            "/job/interface/mounts/0/name",
        ],
    );
}

#[test]
fn checklist_12_duplicate_error_names_rejected() {
    let mut document = complete();
    set(&mut document, "/job/errors/1/name", json!("error-name-one"));
    assert_one_error(
        &document,
        "/job/errors/1/name",
        &[
            "duplicate error name `error-name-one`",
            "/job/errors/0/name",
        ],
    );
}

#[test]
fn checklist_12_relative_mount_path_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/mounts/0/path",
        json!("the/container/path"),
    );
    let problem = assert_one_error(&document, "/job/interface/mounts/0/path", &[]);
    assert_eq!(
        problem.message,
        "mount `MOUNT_PATH` has the relative path \"the/container/path\": give the absolute \
         path inside the container, e.g. \"/the/container/path\""
    );
}

#[test]
fn checklist_13_fractional_gpus_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "gpus", "value": 1.5}),
    );
    assert_one_error(
        &document,
        "/job/resources/scalar/4/value",
        &["resource `gpus` asks for 1.5 GPUs", "whole", "2"],
    );
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "gpus", "value": 2}),
    );
    assert_valid(&document);
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "gpus", "value": 2.0}),
    );
    assert_valid(&document);
}

#[test]
fn checklist_14_image_name_of_complete_example() {
    let valid = parse_manifest(COMPLETE).unwrap();
    assert_eq!(image_name(&valid.manifest.job), "my-job-1.0.0-seed:1.0.0");
    assert_eq!(docker_name_problem(&valid.manifest.job), None);
    let watermark = parse_manifest(WATERMARK).unwrap();
    assert_eq!(
        image_name(&watermark.manifest.job),
        "image-watermark-0.1.0-seed:0.1.0"
    );
}

#[test]
fn checklist_20_input_names_normalise() {
    assert_eq!(normalize("input-file"), "INPUT_FILE");
    assert_eq!(normalize("INPUT_FILE"), "INPUT_FILE");
    assert_eq!(normalize("inPut-File"), "INPUT_FILE");
}

#[test]
fn checklist_27_resource_names_normalise() {
    let allocated = |name: &str| format!("ALLOCATED_{}", normalize(name));
    assert_eq!(allocated("sharedMem"), "ALLOCATED_SHAREDMEM");
    assert_eq!(
        allocated("my-demo-resourceNew"),
        "ALLOCATED_MY_DEMO_RESOURCENEW"
    );
    assert_eq!(allocated("cpus"), "ALLOCATED_CPUS");
}

// ---------------------------------------------------------------------------------------
// All problems at once

#[test]
fn broken_manifest_reports_every_problem_with_its_pointer() {
    let mut document = complete();
    set(&mut document, "/job/name", json!("my_job"));
    set(&mut document, "/job/timeout", json!(1.5));
    set(&mut document, "/job/extra", json!(1));
    remove(&mut document, "/job/title");
    set(
        &mut document,
        "/job/interface/inputs/files/0/mediaType",
        json!("x/y"),
    );
    set(
        &mut document,
        "/job/interface/inputs/files/1",
        json!({"name": "input-file"}),
    );
    set(
        &mut document,
        "/job/interface/mounts/0/path",
        json!("relative"),
    );
    set(
        &mut document,
        "/job/interface/mounts/1/path",
        json!("/seed/outputs/x"),
    );
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "gpus", "value": 0.5}),
    );
    set(&mut document, "/job/resources/scalar/1/value", json!(-1));
    set(&mut document, "/job/errors/1/code", json!(1));
    set(&mut document, "/job/errors/0/category", json!("system"));

    let problems = validate_manifest_value(&document);
    let expected = [
        ("/job/name", "must match"),
        ("/job/timeout", "integer"),
        ("/job/extra", "remove the unknown member `extra`"),
        ("/job", "add the required member `title`"),
        (
            "/job/interface/inputs/files/0/mediaType",
            "rename the unknown member `mediaType` of `job.interface.inputs.files[0]` to `mediaTypes`",
        ),
        ("/job/interface/inputs/files/1/name", "both become the environment variable INPUT_FILE"),
        ("/job/interface/mounts/0/path", "relative path"),
        ("/job/interface/mounts/1/path", "/seed"),
        ("/job/resources/scalar/4/value", "whole"),
        ("/job/resources/scalar/1/value", "negative"),
        ("/job/errors/1/code", "exit code 1 is already mapped by error `error-name-one`"),
        ("/job/errors/0/category", "must be one of"),
    ];
    for (location, words) in expected {
        assert_has(&problems, Severity::Error, location, &[words]);
    }
    let errors: Vec<_> = problems.iter().filter(|p| p.is_error()).collect();
    assert_eq!(errors.len(), expected.len(), "{}", listing(&problems));
    // Listed top-down, members in the order the spec writes them, unknown members last.
    let order: Vec<&str> = errors.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        order,
        [
            "/job",
            "/job/name",
            "/job/timeout",
            "/job/resources/scalar/1/value",
            "/job/resources/scalar/4/value",
            "/job/interface/inputs/files/0/mediaType",
            "/job/interface/inputs/files/1/name",
            "/job/interface/mounts/0/path",
            "/job/interface/mounts/1/path",
            "/job/errors/0/category",
            "/job/errors/1/code",
            "/job/extra",
        ]
    );
    // Errors first, then warnings.
    let first_warning = problems
        .iter()
        .position(|p| !p.is_error())
        .unwrap_or(problems.len());
    assert!(problems[first_warning..].iter().all(|p| !p.is_error()));
    assert!(problems.iter().all(|p| p.location.starts_with('/')));

    let failure = manifest_from_value(document).unwrap_err();
    assert_eq!(failure, problems);
}

#[test]
fn semantic_checks_still_run_beside_schema_errors() {
    let mut document = complete();
    remove(&mut document, "/job/maintainer");
    set(
        &mut document,
        "/job/interface/settings/0/name",
        json!("OUTPUT_DIR"),
    );
    set(&mut document, "/job/interface/mounts/0/path", json!(7));
    let problems = errors(&document);
    assert_has(&problems, Severity::Error, "/job", &["`maintainer`"]);
    assert_has(
        &problems,
        Severity::Error,
        "/job/interface/settings/0/name",
        &["OUTPUT_DIR"],
    );
    assert_has(
        &problems,
        Severity::Error,
        "/job/interface/mounts/0/path",
        &["must be a string"],
    );
    assert_eq!(problems.len(), 3, "{}", listing(&problems));
}

#[test]
fn not_an_object_is_one_problem() {
    let problems = validate_manifest_value(&json!([1, 2]));
    assert_eq!(problems.len(), 1, "{}", listing(&problems));
    assert_eq!(problems[0].location, "/");
    assert_eq!(
        problems[0].message,
        "the manifest must be a JSON object ({ ... }), not an array"
    );
}

// ---------------------------------------------------------------------------------------
// Malformed JSON

#[test]
fn malformed_json_trailing_comma() {
    let text = "{\n  \"seedVersion\": \"1.0.0\",\n  \"job\": {\"name\": \"x\",}\n}";
    let problems = parse_manifest(text).unwrap_err();
    assert_eq!(problems.len(), 1);
    let problem = &problems[0];
    assert_eq!(problem.location, "/");
    assert!(problem.message.contains("line 3, column"), "{problem}");
    assert!(problem.message.contains("trailing comma"), "{problem}");
    assert!(problem.message.contains("remove the ','"), "{problem}");
    assert!(problem.message.contains("near `\"job\""), "{problem}");
}

#[test]
fn malformed_json_unmatched_bracket() {
    let text = COMPLETE.trim_end().strip_suffix('}').unwrap();
    let problems = parse_manifest(text).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("ends too early"),
        "{}",
        problems[0]
    );

    let problems = parse_manifest(&format!("{COMPLETE}}}")).unwrap_err();
    assert!(
        problems[0].message.contains("text after the end"),
        "{}",
        problems[0]
    );

    let problems = parse_manifest("{\"seedVersion\": \"1.0.0\" \"job\": {}}").unwrap_err();
    assert!(
        problems[0].message.contains("',' is missing"),
        "{}",
        problems[0]
    );
}

#[test]
fn malformed_json_empty() {
    let problems = parse_manifest("  \n").unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].location, "/");
    assert!(problems[0].message.contains("empty"), "{}", problems[0]);
}

#[test]
fn byte_order_mark_is_tolerated() {
    assert!(parse_manifest(&format!("\u{feff}{RANDOM_NUMBER}")).is_ok());
}

// ---------------------------------------------------------------------------------------
// Other semantic rules

#[test]
fn duplicate_resources_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "mem", "value": 1}),
    );
    assert_one_error(
        &document,
        "/job/resources/scalar/4/name",
        &["duplicate resource `mem`", "/job/resources/scalar/1/name"],
    );
    let mut document = complete();
    set(
        &mut document,
        "/job/resources/scalar/4",
        json!({"name": "sharedmem", "value": 1}),
    );
    assert_one_error(
        &document,
        "/job/resources/scalar/4/name",
        &["resource `sharedMem`", "ALLOCATED_SHAREDMEM"],
    );
}

#[test]
fn negative_resource_amounts_rejected() {
    let mut document = complete();
    set(&mut document, "/job/resources/scalar/1/value", json!(-64));
    assert_one_error(
        &document,
        "/job/resources/scalar/1/value",
        &["resource `mem`", "-64"],
    );
    let mut document = complete();
    set(
        &mut document,
        "/job/resources/scalar/3/inputMultiplier",
        json!(-0.5),
    );
    assert_one_error(
        &document,
        "/job/resources/scalar/3/inputMultiplier",
        &["`inputMultiplier` of resource `disk`", "negative"],
    );
    let mut document = complete();
    set(&mut document, "/job/resources/scalar/0/value", json!(0));
    assert_valid(&document);
}

#[test]
fn duplicate_error_codes_rejected() {
    let mut document = complete();
    set(&mut document, "/job/errors/1/code", json!(1));
    assert_one_error(
        &document,
        "/job/errors/1/code",
        &["exit code 1 is already mapped by error `error-name-one` (at /job/errors/0/code)"],
    );
}

#[test]
fn error_codes_outside_exit_status_range_warn() {
    for (code, words) in [
        (0, "success"),
        (256, "arrives as 0"),
        (-1, "arrives as 255"),
    ] {
        let mut document = complete();
        set(&mut document, "/job/errors/1/code", json!(code));
        assert_valid(&document);
        assert_has(
            &warnings(&document),
            Severity::Warning,
            "/job/errors/1/code",
            &[words],
        );
    }
    let mut document = complete();
    set(&mut document, "/job/errors/1/code", json!(u64::MAX));
    assert_one_error(&document, "/job/errors/1/code", &["too large"]);
}

#[test]
fn timeout_must_be_positive() {
    for timeout in [0, -5] {
        let mut document = complete();
        set(&mut document, "/job/timeout", json!(timeout));
        assert_one_error(&document, "/job/timeout", &["positive"]);
    }
}

#[test]
fn mounts_at_or_under_seed_rejected() {
    for path in [
        "/seed",
        "/seed/",
        "/seed/inputs",
        "/seed/outputs/extra",
        "/data/../seed/x",
    ] {
        let mut document = complete();
        set(&mut document, "/job/interface/mounts/1/path", json!(path));
        let errors = errors(&document);
        assert_has(
            &errors,
            Severity::Error,
            "/job/interface/mounts/1/path",
            &[
                "inside /seed",
                "/seed/inputs",
                "/seed/outputs",
                "outside /seed",
            ],
        );
    }
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/mounts/1/path",
        json!("/seedling"),
    );
    assert_valid(&document);
}

#[test]
fn mount_paths_must_be_normalised() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/mounts/1/path",
        json!("/write/./a//b/../c"),
    );
    assert_one_error(
        &document,
        "/job/interface/mounts/1/path",
        &["not normalised", "\"/write/a/c\""],
    );
    // A trailing slash (seed-cli's own examples have `/tmp/`) is only a warning.
    set(
        &mut document,
        "/job/interface/mounts/1/path",
        json!("/tmp/"),
    );
    assert_valid(&document);
    assert_has(
        &warnings(&document),
        Severity::Warning,
        "/job/interface/mounts/1/path",
        &["\"/tmp\""],
    );
    set(&mut document, "/job/interface/mounts/1/path", json!("/"));
    assert_one_error(
        &document,
        "/job/interface/mounts/1/path",
        &["root directory"],
    );
    set(&mut document, "/job/interface/mounts/1/path", json!(""));
    assert_one_error(&document, "/job/interface/mounts/1/path", &["empty path"]);
}

#[test]
fn two_mounts_at_one_path_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/mounts/1/path",
        json!("/the/container/path/"),
    );
    assert_one_error(
        &document,
        "/job/interface/mounts/1/path",
        &["same container path", "mount `MOUNT_PATH`"],
    );
}

#[test]
fn docker_refusing_the_image_name_is_an_error() {
    let mut document = complete();
    set(&mut document, "/job/name", json!("My-Job"));
    set(&mut document, "/job/jobVersion", json!("1.0.0-RC1"));
    set(&mut document, "/job/packageVersion", json!("1.0.0+b1"));
    let problems = errors(&document);
    assert_has(&problems, Severity::Error, "/job/name", &["\"my-job\""]);
    assert_has(
        &problems,
        Severity::Error,
        "/job/jobVersion",
        &["\"1.0.0-rc1\""],
    );
    assert_has(
        &problems,
        Severity::Error,
        "/job/packageVersion",
        &["`+b1`", "tag"],
    );
    assert_eq!(problems.len(), 3, "{}", listing(&problems));

    // The same finding through the typed model.
    let mut job = parse_manifest(COMPLETE).unwrap().manifest.job;
    job.name = "My-Job".to_string();
    let sentence = docker_name_problem(&job).unwrap();
    assert!(sentence.contains("upper-case"), "{sentence}");

    // Other members being wrong does not hide it.
    let mut document = complete();
    set(&mut document, "/job/name", json!("My-Job"));
    set(&mut document, "/job/jobVersion", json!("1.0"));
    let problems = errors(&document);
    assert_has(&problems, Severity::Error, "/job/name", &["upper-case"]);
    assert_has(
        &problems,
        Severity::Error,
        "/job/jobVersion",
        &["semantic version"],
    );
    assert_eq!(problems.len(), 2, "{}", listing(&problems));
}

#[test]
fn duplicate_output_names_rejected() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/outputs/json/1/name",
        json!("output_file_csv"),
    );
    assert_one_error(
        &document,
        "/job/interface/outputs/json/1/name",
        &[
            "json output `output_file_csv`",
            "output file `output_file_csv`",
            "published by name",
        ],
    );
}

#[test]
fn wider_namespace_collisions_only_warn() {
    let cases = [
        // An output named like an input.
        (
            "/job/interface/outputs/files/1/name",
            "INPUT_FILE",
            "input file `INPUT_FILE`",
        ),
        // A mount named like a setting (normalised): reported on the setting, which comes
        // later in seed-cli's order (resources, inputs, outputs, mounts, settings, errors).
        ("/job/interface/mounts/1/name", "version", "mount `version`"),
        // An error named like a resource.
        ("/job/errors/1/name", "cpus", "resource `cpus`"),
        // Outputs normalising alike.
        (
            "/job/interface/outputs/json/1/name",
            "CELL-COUNT",
            "json output `cell_count`",
        ),
    ];
    for (pointer, name, other) in cases {
        let mut document = complete();
        set(&mut document, pointer, json!(name));
        assert_valid(&document);
        let reported_at = if pointer.contains("mounts") {
            "/job/interface/settings/0/name"
        } else {
            pointer
        };
        assert_has(
            &warnings(&document),
            Severity::Warning,
            reported_at,
            &[other, "seed-cli rejects it"],
        );
    }
    // An input named like a resource: separate variables (CPUS, ALLOCATED_CPUS) for ades.
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/json/0/name",
        json!("CPUS"),
    );
    assert_valid(&document);
    assert_has(
        &warnings(&document),
        Severity::Warning,
        "/job/interface/inputs/json/0/name",
        &["resource `cpus`"],
    );
}

#[test]
fn names_seed_cli_reserves_outside_the_environment_warn() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/outputs/files/0/name",
        json!("OUTPUT_DIR"),
    );
    set(
        &mut document,
        "/job/interface/mounts/0/name",
        json!("ALLOCATED_MEM"),
    );
    assert_valid(&document);
    let warnings = warnings(&document);
    assert_has(
        &warnings,
        Severity::Warning,
        "/job/interface/outputs/files/0/name",
        &["OUTPUT_DIR", "seed-cli reserves"],
    );
    assert_has(
        &warnings,
        Severity::Warning,
        "/job/interface/mounts/0/name",
        &["resource `mem`", "seed-cli reserves"],
    );
}

#[test]
fn unnormalised_names_warn() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/name",
        json!("input-file"),
    );
    set(
        &mut document,
        "/job/interface/settings/1/name",
        json!("db-host"),
    );
    assert_valid(&document);
    let warnings = warnings(&document);
    assert_has(
        &warnings,
        Severity::Warning,
        "/job/interface/inputs/files/0/name",
        &["environment variable INPUT_FILE", "`INPUT_FILE`"],
    );
    assert_has(
        &warnings,
        Severity::Warning,
        "/job/interface/settings/1/name",
        &["DB_HOST"],
    );
    // Resources and errors are exempt (`sharedMem`, `error-name-one`).
    assert!(warnings
        .iter()
        .all(|w| !w.location.starts_with("/job/resources")));
    assert!(warnings
        .iter()
        .all(|w| !w.location.starts_with("/job/errors")));
}

#[test]
fn helpful_suggestions_for_old_member_names() {
    let mut document = complete();
    let interface = document["job"]["interface"].as_object_mut().unwrap();
    let inputs = interface.remove("inputs").unwrap();
    interface.insert("inputData".to_string(), inputs);
    assert_one_error(
        &document,
        "/job/interface/inputData",
        &["rename the unknown member `inputData`", "to `inputs`"],
    );
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/resources",
        json!({"scalar": []}),
    );
    assert_one_error(
        &document,
        "/job/interface/resources",
        &["move `resources`", "`job`"],
    );
}

#[test]
fn type_errors_name_the_expected_type() {
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/inputs/files/0/required",
        json!("true"),
    );
    assert_one_error(
        &document,
        "/job/interface/inputs/files/0/required",
        &["must be a boolean (true or false, without quotes), not the string \"true\""],
    );
    let mut document = complete();
    set(&mut document, "/job/tags", json!("hdf5"));
    assert_one_error(&document, "/job/tags", &["`job.tags` must be an array"]);
    let mut document = complete();
    set(
        &mut document,
        "/job/interface/settings/0/name",
        json!("my setting"),
    );
    assert_one_error(
        &document,
        "/job/interface/settings/0/name",
        &["^[a-zA-Z0-9_-]+$", "e.g. \"my-setting\""],
    );
}

#[test]
fn unusable_output_patterns_rejected() {
    for (pattern, words) in [
        ("/abs/*.tif", "is absolute"),
        ("../up/*.tif", "climbs out"),
        ("", "is empty"),
        ("[abc", "is not a valid glob"),
    ] {
        let mut manifest = ades_complete_for_patterns();
        manifest["job"]["interface"]["outputs"]["files"][0]["pattern"] = pattern.into();
        let problems = seed::validate::validate_manifest_value(&manifest);
        let found = problems
            .iter()
            .find(|p| p.location == "/job/interface/outputs/files/0/pattern")
            .unwrap_or_else(|| panic!("no problem for {pattern:?}: {problems:#?}"));
        assert!(found.is_error(), "{found}");
        assert!(found.message.contains(words), "{found}");
    }
}

fn ades_complete_for_patterns() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/official/complete/seed.manifest.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}
