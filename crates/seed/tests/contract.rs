//! The runtime contract (seed-notes 4.1-4.10): checklist items 18-28, 31 and 32 at plan
//! level, plus the invocation checks.

use seed::contract::{
    format_allocation, json_arg, plan_launch, Bind, Invocation, LaunchPlan, Layout, Policy,
};
use seed::{Manifest, Problem};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const COMPLETE: &str = include_str!("fixtures/official/complete/seed.manifest.json");

mod common;

use common::test_manifest as manifest;

fn complete() -> Manifest {
    serde_json::from_str(COMPLETE).expect("complete example")
}

/// A scratch area: `out/` is an empty output directory, files go anywhere else.
struct Scratch {
    dir: TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("out")).expect("out dir");
        Scratch { dir }
    }

    fn layout(&self) -> Layout {
        Layout::new(self.dir.path().join("out"))
    }

    fn file(&self, relative: &str, bytes: usize) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![b'x'; bytes]).unwrap();
        path
    }

    fn subdir(&self, relative: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}

fn plan(manifest: &Manifest, invocation: &Invocation, scratch: &Scratch) -> LaunchPlan {
    match plan_launch(manifest, invocation, &scratch.layout(), &Policy::default()) {
        Ok(plan) => plan,
        Err(problems) => panic!("unexpected problems: {problems:#?}"),
    }
}

fn problems(manifest: &Manifest, invocation: &Invocation, scratch: &Scratch) -> Vec<Problem> {
    match plan_launch(manifest, invocation, &scratch.layout(), &Policy::default()) {
        Ok(plan) => panic!("expected problems, got a plan: {plan:#?}"),
        Err(problems) => problems,
    }
}

fn at<'a>(problems: &'a [Problem], location: &str) -> Vec<&'a Problem> {
    problems.iter().filter(|p| p.location == location).collect()
}

fn only_at<'a>(problems: &'a [Problem], location: &str) -> &'a Problem {
    let found = at(problems, location);
    assert_eq!(found.len(), 1, "one problem at {location}: {problems:#?}");
    assert!(found[0].is_error());
    found[0]
}

fn bind_at<'a>(plan: &'a LaunchPlan, container: &str) -> &'a Bind {
    plan.binds
        .iter()
        .find(|b| b.container == container)
        .unwrap_or_else(|| panic!("no bind at {container}: {:#?}", plan.binds))
}

fn files(pairs: &[(&str, Vec<PathBuf>)]) -> BTreeMap<String, Vec<PathBuf>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn strings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap()
}

/// Everything the complete example needs.
fn complete_invocation(scratch: &Scratch) -> Invocation {
    Invocation {
        files: files(&[("INPUT_FILE", vec![scratch.file("in/cells.h5", 10)])]),
        json: [("INPUT_JSON".to_string(), json!("some text"))].into(),
        settings: strings(&[("VERSION", "1"), ("DB_HOST", "db"), ("DB_PASS", "hunter2")]),
        mounts: [
            ("MOUNT_PATH".to_string(), scratch.subdir("mnt/ro")),
            ("WRITE_PATH".to_string(), scratch.subdir("mnt/rw")),
        ]
        .into(),
    }
}

fn single_input(name: &str, required: bool) -> Manifest {
    manifest(
        json!({"inputs": {"files": [{"name": name, "required": required}]}}),
        Value::Null,
    )
}

fn multiple_input(required: bool) -> Manifest {
    manifest(
        json!({"inputs": {"files": [{"name": "IMAGES", "multiple": true, "required": required}]}}),
        Value::Null,
    )
}

fn json_input(kind: &str, required: bool) -> Manifest {
    manifest(
        json!({"inputs": {"json": [{"name": "INPUT_JSON", "type": kind, "required": required}]}}),
        Value::Null,
    )
}

fn with_json(value: Value) -> Invocation {
    Invocation {
        json: [("INPUT_JSON".to_string(), value)].into(),
        ..Invocation::default()
    }
}

// --- Checklist 18: OUTPUT_DIR -------------------------------------------------------------

#[test]
fn checklist_18_output_dir_is_an_absolute_container_path_bound_read_write() {
    let scratch = Scratch::new();
    let plan = plan(
        &manifest(Value::Null, Value::Null),
        &Invocation::default(),
        &scratch,
    );
    let output_dir = &plan.env_map()["OUTPUT_DIR"];
    assert_eq!(output_dir, "/seed/outputs");
    assert!(output_dir.starts_with('/'));
    let bind = bind_at(&plan, output_dir);
    assert!(!bind.read_only, "OUTPUT_DIR must be writable");
    assert_eq!(bind.host, canonical(&scratch.dir.path().join("out")));
    assert!(bind.host.is_absolute());
    assert_eq!(plan.args, None);
}

#[test]
fn checklist_18_output_dir_must_exist_and_be_empty() {
    let scratch = Scratch::new();
    let m = manifest(Value::Null, Value::Null);

    scratch.file("out/stale.txt", 1);
    let found = problems(&m, &Invocation::default(), &scratch);
    assert!(only_at(&found, "OUTPUT_DIR").message.contains("not empty"));

    let missing = Layout::new(scratch.dir.path().join("nowhere"));
    let found = plan_launch(&m, &Invocation::default(), &missing, &Policy::default()).unwrap_err();
    assert!(only_at(&found, "OUTPUT_DIR")
        .message
        .contains("does not exist"));
}

// --- Checklist 19-21: input files -----------------------------------------------------------

#[test]
fn checklist_19_single_input_file_is_exposed_as_its_absolute_container_path() {
    let scratch = Scratch::new();
    let host = scratch.file("data/cells.h5", 3);
    let invocation = Invocation {
        files: files(&[("INPUT_FILE", vec![host.clone()])]),
        ..Invocation::default()
    };
    let plan = plan(&single_input("INPUT_FILE", true), &invocation, &scratch);
    let path = &plan.env_map()["INPUT_FILE"];
    assert_eq!(path, "/seed/inputs/INPUT_FILE/cells.h5");
    let bind = bind_at(&plan, path);
    assert!(bind.read_only, "inputs are read-only");
    assert_eq!(bind.host, canonical(&host));
}

#[test]
fn checklist_20_input_names_are_normalised_into_variable_names() {
    let scratch = Scratch::new();
    let host = scratch.file("data/a.txt", 3);
    let m = single_input("input-file", true);
    // The key as declared, and the key as the variable it becomes: both name the input.
    for key in ["input-file", "INPUT_FILE", "Input-File"] {
        let invocation = Invocation {
            files: files(&[(key, vec![host.clone()])]),
            ..Invocation::default()
        };
        let env = plan(&m, &invocation, &scratch).env_map();
        assert_eq!(
            env["INPUT_FILE"], "/seed/inputs/INPUT_FILE/a.txt",
            "key {key}"
        );
        assert!(!env.contains_key("input-file"));
    }
}

#[test]
fn checklist_21_multiple_input_is_a_directory_holding_each_file_directly() {
    let scratch = Scratch::new();
    let a = scratch.file("a/x.tif", 1);
    let b = scratch.file("b/x.tif", 1);
    // A directory stands for the regular files directly inside it; sub-directories are
    // ignored.
    let dir = scratch.subdir("batch");
    scratch.file("batch/y.tif", 1);
    scratch.file("batch/nested/z.tif", 1);
    let invocation = Invocation {
        files: files(&[("IMAGES", vec![a.clone(), b.clone(), dir])]),
        ..Invocation::default()
    };
    let plan = plan(&multiple_input(true), &invocation, &scratch);
    let dir_path = &plan.env_map()["IMAGES"];
    assert_eq!(dir_path, "/seed/inputs/IMAGES");

    let mut inputs: Vec<(&str, &Path)> = plan
        .binds
        .iter()
        .filter(|b| b.container.starts_with("/seed/inputs/"))
        .map(|b| {
            assert!(b.read_only);
            let (parent, name) = b.container.rsplit_once('/').unwrap();
            assert_eq!(
                parent, dir_path,
                "each file directly under the input directory"
            );
            (name, b.host.as_path())
        })
        .collect();
    inputs.sort();
    assert_eq!(
        inputs,
        vec![
            ("1-x.tif", canonical(&b).as_path()),
            ("x.tif", canonical(&a).as_path()),
            (
                "y.tif",
                canonical(&scratch.dir.path().join("batch/y.tif")).as_path()
            ),
        ]
    );
}

#[test]
fn checklist_21_required_multiple_input_needs_at_least_one_file() {
    let scratch = Scratch::new();
    let empty = scratch.subdir("empty");
    scratch.subdir("empty/only-a-subdir");
    let invocation = Invocation {
        files: files(&[("IMAGES", vec![empty])]),
        ..Invocation::default()
    };
    let found = problems(&multiple_input(true), &invocation, &scratch);
    assert!(only_at(&found, "IMAGES")
        .message
        .contains("no regular file"));

    // Optional: the same empty directory leaves the variable unset.
    let env = plan(&multiple_input(false), &invocation, &scratch).env_map();
    assert!(!env.contains_key("IMAGES"));
}

// --- Checklist 22: optional inputs ----------------------------------------------------------

#[test]
fn checklist_22_optional_inputs_not_supplied_leave_their_variables_unset() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({
            "command": "run ${OPT_FILE} ${OPT_JSON}",
            "inputs": {
                "files": [{"name": "opt-file", "required": false}],
                "json": [{"name": "opt-json", "type": "string", "required": false}]
            }
        }),
        Value::Null,
    );
    let plan = plan(&m, &Invocation::default(), &scratch);
    let env = plan.env_map();
    assert!(!env.contains_key("OPT_FILE"));
    assert!(!env.contains_key("OPT_JSON"));
    assert_eq!(env.len(), 1, "only OUTPUT_DIR: {env:?}");
    assert_eq!(plan.binds.len(), 1, "only OUTPUT_DIR is bound");
    // An empty list of paths is "not given" too.
    let invocation = Invocation {
        files: files(&[("opt-file", vec![])]),
        ..Invocation::default()
    };
    let plan2 = plan_launch(&m, &invocation, &scratch.layout(), &Policy::default()).unwrap();
    assert!(!plan2.env_map().contains_key("OPT_FILE"));
}

// --- Checklist 23: missing required items ---------------------------------------------------

#[test]
fn checklist_23_missing_required_input_json_setting_and_mount_are_all_reported_at_once() {
    let scratch = Scratch::new();
    let found = problems(&complete(), &Invocation::default(), &scratch);
    assert!(found.iter().all(Problem::is_error));
    for (key, expected) in [
        (
            "INPUT_FILE",
            "the following input file keys are expected: INPUT_FILE",
        ),
        (
            "INPUT_JSON",
            "the following json input keys are expected: INPUT_JSON (string)",
        ),
        (
            "VERSION",
            "the following setting keys are expected: VERSION, DB_HOST, DB_PASS",
        ),
        ("DB_HOST", "the following setting keys are expected"),
        ("DB_PASS", "the following setting keys are expected"),
        (
            "MOUNT_PATH",
            "the following mount keys are expected: MOUNT_PATH, WRITE_PATH",
        ),
        ("WRITE_PATH", "the following mount keys are expected"),
    ] {
        let problem = only_at(&found, key);
        assert!(
            problem.message.contains(key) && problem.message.contains(expected),
            "{key}: {}",
            problem.message
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn checklist_23_a_complete_invocation_has_no_problems() {
    let scratch = Scratch::new();
    plan(&complete(), &complete_invocation(&scratch), &scratch);
}

// --- Checklist 24: json inputs --------------------------------------------------------------

#[test]
fn checklist_24_json_inputs_are_injected_as_raw_strings_or_compact_json() {
    let scratch = Scratch::new();
    for (kind, value, injected) in [
        ("string", json!("hello world"), "hello world"),
        ("object", json!({"a": 1}), r#"{"a":1}"#),
        (
            "object",
            json!({"b": [1, 2], "a": {"c": null}}),
            r#"{"a":{"c":null},"b":[1,2]}"#,
        ),
        ("array", json!([1, "x", true]), r#"[1,"x",true]"#),
        ("integer", json!(5), "5"),
        ("integer", json!(-12), "-12"),
        ("number", json!(1.5), "1.5"),
        ("number", json!(7), "7"),
        ("boolean", json!(true), "true"),
        ("boolean", json!(false), "false"),
    ] {
        let env = plan(&json_input(kind, true), &with_json(value), &scratch).env_map();
        assert_eq!(env["INPUT_JSON"], injected, "{kind}");
    }
}

#[test]
fn checklist_24_json_arg_reads_text_by_the_declared_type() {
    let string = json_input("string", true);
    assert_eq!(json_arg(&string, "INPUT_JSON", "5"), json!("5"));
    assert_eq!(json_arg(&string, "INPUT_JSON", "\"q\""), json!("\"q\""));
    assert_eq!(
        json_arg(&string, "input-json", "hello world"),
        json!("hello world")
    );

    let object = json_input("object", true);
    assert_eq!(
        json_arg(&object, "INPUT_JSON", r#"{ "a" : 1 }"#),
        json!({"a": 1})
    );
    assert_eq!(
        json_arg(&json_input("integer", true), "input_json", "5"),
        json!(5)
    );
    assert_eq!(
        json_arg(&json_input("boolean", true), "INPUT_JSON", "true"),
        json!(true)
    );
    // Unparseable text stays a string so that plan_launch can say what is wrong.
    assert_eq!(
        json_arg(&json_input("integer", true), "INPUT_JSON", "abc"),
        json!("abc")
    );
    // Unknown names: JSON when it parses, else a string.
    assert_eq!(json_arg(&string, "OTHER", "[1]"), json!([1]));
    assert_eq!(json_arg(&string, "OTHER", "abc"), json!("abc"));
}

#[test]
fn json_values_of_the_wrong_type_are_reported() {
    let scratch = Scratch::new();
    for (kind, text, message) in [
        (
            "integer",
            "abc",
            r#"INPUT_JSON expects an integer, got the string "abc""#,
        ),
        (
            "integer",
            "3.5",
            "INPUT_JSON expects an integer, got the number 3.5",
        ),
        (
            "number",
            "true",
            "INPUT_JSON expects a number, got the boolean true",
        ),
        (
            "boolean",
            "yes",
            r#"INPUT_JSON expects a boolean, got the string "yes""#,
        ),
        (
            "object",
            "[1]",
            "INPUT_JSON expects an object, got an array",
        ),
        ("array", "{}", "INPUT_JSON expects an array, got an object"),
    ] {
        let m = json_input(kind, true);
        let value = json_arg(&m, "INPUT_JSON", text);
        let found = problems(&m, &with_json(value), &scratch);
        assert_eq!(only_at(&found, "INPUT_JSON").message, message);
    }
    let found = problems(
        &json_input("string", true),
        &with_json(json!(null)),
        &scratch,
    );
    assert_eq!(
        only_at(&found, "INPUT_JSON").message,
        "INPUT_JSON expects a string, got null"
    );
}

// --- Checklist 25: settings -----------------------------------------------------------------

#[test]
fn checklist_25_settings_are_exposed_with_the_secret_flag() {
    let scratch = Scratch::new();
    let plan = plan(&complete(), &complete_invocation(&scratch), &scratch);
    let env = plan.env_map();
    assert_eq!(env["VERSION"], "1");
    assert_eq!(env["DB_HOST"], "db");
    assert_eq!(env["DB_PASS"], "hunter2");
    for var in &plan.env {
        assert_eq!(var.secret, var.name == "DB_PASS", "{}", var.name);
    }
    // A logged plan does not show the secret.
    let logged = format!("{plan:?}");
    assert!(!logged.contains("hunter2"), "{logged}");
    assert!(logged.contains("DB_HOST") && logged.contains("\"db\""));
}

#[test]
fn checklist_25_setting_keys_match_after_normalisation_and_may_be_empty() {
    let scratch = Scratch::new();
    let m = manifest(json!({"settings": [{"name": "db-host"}]}), Value::Null);
    let invocation = Invocation {
        settings: strings(&[("db-host", "")]),
        ..Invocation::default()
    };
    assert_eq!(plan(&m, &invocation, &scratch).env_map()["DB_HOST"], "");
    let invocation = Invocation {
        settings: strings(&[("DB_HOST", "h")]),
        ..Invocation::default()
    };
    assert_eq!(plan(&m, &invocation, &scratch).env_map()["DB_HOST"], "h");
}

// --- Checklist 26: mounts -------------------------------------------------------------------

#[test]
fn checklist_26_mounts_bind_read_only_by_default_and_read_write_when_declared() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"mounts": [
            {"name": "REF", "path": "/ref"},
            {"name": "RO", "path": "/ro", "mode": "ro"},
            {"name": "SCRATCH", "path": "/scratch", "mode": "rw"}
        ]}),
        Value::Null,
    );
    let invocation = Invocation {
        mounts: [
            ("REF".to_string(), scratch.subdir("ref")),
            ("RO".to_string(), scratch.subdir("ro")),
            ("SCRATCH".to_string(), scratch.subdir("scratch")),
        ]
        .into(),
        ..Invocation::default()
    };
    let plan = plan(&m, &invocation, &scratch);
    assert!(bind_at(&plan, "/ref").read_only);
    assert!(bind_at(&plan, "/ro").read_only);
    assert!(!bind_at(&plan, "/scratch").read_only);
    assert_eq!(
        bind_at(&plan, "/ref").host,
        canonical(&scratch.dir.path().join("ref"))
    );
    // Mounts produce no variable.
    assert_eq!(plan.env.len(), 1);
}

#[test]
fn checklist_26_mount_host_paths_must_be_existing_directories_and_keys_match_exactly() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"mounts": [
            {"name": "A", "path": "/a"},
            {"name": "B", "path": "/b"},
            {"name": "MY_MOUNT", "path": "/c"}
        ]}),
        Value::Null,
    );
    let invocation = Invocation {
        mounts: [
            ("A".to_string(), scratch.file("a-file", 1)),
            ("B".to_string(), scratch.dir.path().join("nowhere")),
            ("my-mount".to_string(), scratch.subdir("c")),
        ]
        .into(),
        ..Invocation::default()
    };
    let found = problems(&m, &invocation, &scratch);
    assert!(only_at(&found, "A").message.contains("not a directory"));
    assert!(only_at(&found, "B").message.contains("does not exist"));
    let unknown = only_at(&found, "my-mount");
    assert!(
        unknown.message.contains("matched exactly"),
        "{}",
        unknown.message
    );
    assert!(only_at(&found, "MY_MOUNT")
        .message
        .contains("was not given"));
    assert_eq!(found.len(), 4);
}

#[test]
fn mounts_may_not_overlap_the_paths_ades_reserves() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"mounts": [
            {"name": "OUT", "path": "/seed/outputs/"},
            {"name": "UNDER", "path": "/seed/inputs/x"},
            {"name": "ABOVE", "path": "/seed"},
            {"name": "FINE", "path": "/seeds"},
            {"name": "TWIN", "path": "/seeds"}
        ]}),
        Value::Null,
    );
    let invocation = Invocation {
        mounts: ["OUT", "UNDER", "ABOVE", "FINE", "TWIN"]
            .iter()
            .map(|n| (n.to_string(), scratch.subdir(n)))
            .collect(),
        ..Invocation::default()
    };
    let found = problems(&m, &invocation, &scratch);
    assert_eq!(at(&found, "OUT").len(), 1);
    assert_eq!(at(&found, "UNDER").len(), 1);
    assert_eq!(at(&found, "ABOVE").len(), 2, "above both reserved paths");
    assert!(at(&found, "FINE").is_empty());
    assert!(only_at(&found, "TWIN")
        .message
        .contains("both declared at /seeds"));
}

// --- Checklist 27, 28, 31: resources --------------------------------------------------------

#[test]
fn checklist_27_every_scalar_resource_gets_an_allocated_variable() {
    let scratch = Scratch::new();
    let m = manifest(
        Value::Null,
        json!([
            {"name": "cpus", "value": 1},
            {"name": "mem", "value": 1024},
            {"name": "sharedMem", "value": 1024},
            {"name": "disk", "value": 0.5},
            {"name": "gpus", "value": 2},
            {"name": "my-demo-resourceNew", "value": 3}
        ]),
    );
    let policy = Policy {
        allow_unknown_resources: true,
    };
    let plan = plan_launch(&m, &Invocation::default(), &scratch.layout(), &policy).unwrap();
    let env = plan.env_map();
    assert_eq!(env["ALLOCATED_CPUS"], "1.0");
    assert_eq!(env["ALLOCATED_MEM"], "1024.0");
    assert_eq!(env["ALLOCATED_SHAREDMEM"], "1024.0");
    assert_eq!(env["ALLOCATED_DISK"], "0.5");
    assert_eq!(env["ALLOCATED_GPUS"], "2.0");
    assert_eq!(env["ALLOCATED_MY_DEMO_RESOURCENEW"], "3.0");
    let a = &plan.allocation;
    assert_eq!(
        (a.cpus, a.mem_mib, a.shared_mem_mib, a.disk_mib, a.gpus),
        (Some(1.0), Some(1024.0), Some(1024.0), Some(0.5), Some(2))
    );
    let names: Vec<&str> = a.all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "cpus",
            "mem",
            "sharedMem",
            "disk",
            "gpus",
            "my-demo-resourceNew"
        ]
    );
}

#[test]
fn checklist_28_input_multiplier_uses_the_exact_input_size() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"inputs": {"files": [{"name": "IN", "multiple": true}]}}),
        json!([
            {"name": "disk", "value": 1000, "inputMultiplier": 4},
            {"name": "mem", "value": 64}
        ]),
    );
    // 2.0 MiB of input, in two files.
    let invocation = Invocation {
        files: files(&[(
            "IN",
            vec![
                scratch.file("a.bin", 1536 * 1024),
                scratch.file("b.bin", 512 * 1024),
            ],
        )]),
        ..Invocation::default()
    };
    let plan = plan(&m, &invocation, &scratch);
    assert_eq!(plan.input_mib, 2.0);
    assert_eq!(plan.allocation.disk_mib, Some(1008.0));
    assert_eq!(plan.env_map()["ALLOCATED_DISK"], "1008.0");
    // No multiplier, no input term.
    assert_eq!(plan.env_map()["ALLOCATED_MEM"], "64.0");

    // Exact, not rounded: 1.5 MiB -> 1006.
    let scratch = Scratch::new();
    let invocation = Invocation {
        files: files(&[("IN", vec![scratch.file("c.bin", 1536 * 1024)])]),
        ..Invocation::default()
    };
    assert_eq!(
        plan_launch(&m, &invocation, &scratch.layout(), &Policy::default())
            .unwrap()
            .env_map()["ALLOCATED_DISK"],
        "1006.0"
    );
}

#[test]
fn allocation_values_print_shortest_with_a_decimal_point() {
    assert_eq!(format_allocation(1.0), "1.0");
    assert_eq!(format_allocation(1024.0), "1024.0");
    assert_eq!(format_allocation(0.5), "0.5");
    assert_eq!(format_allocation(1008.0), "1008.0");
    assert_eq!(format_allocation(0.25), "0.25");
    assert_eq!(format_allocation(0.1 + 0.2), "0.30000000000000004");
    assert_eq!(format_allocation(1e21), "1000000000000000000000.0");
    assert_eq!(format_allocation(0.0), "0.0");
}

#[test]
fn checklist_31_unknown_resources_are_refused_unless_the_policy_allows_them() {
    let scratch = Scratch::new();
    let m = manifest(
        Value::Null,
        json!([{"name": "cpus", "value": 1}, {"name": "fpgas", "value": 1}, {"name": "Mem", "value": 1}]),
    );
    let found = problems(&m, &Invocation::default(), &scratch);
    let fpgas = only_at(&found, "/job/resources/scalar/1/name");
    assert!(
        fpgas.message.contains("fpgas")
            && fpgas.message.contains("cpus, mem, sharedMem, disk, gpus")
    );
    // Names are case-sensitive.
    only_at(&found, "/job/resources/scalar/2/name");
    assert_eq!(found.len(), 2);

    let policy = Policy {
        allow_unknown_resources: true,
    };
    let plan = plan_launch(&m, &Invocation::default(), &scratch.layout(), &policy).unwrap();
    assert_eq!(plan.env_map()["ALLOCATED_FPGAS"], "1.0");
    assert_eq!(
        plan.allocation.mem_mib, None,
        "an unknown name is not `mem`"
    );
    assert_eq!(plan.allocation.all.len(), 3);
}

#[test]
fn gpus_must_come_to_a_whole_number() {
    let scratch = Scratch::new();
    let m = manifest(Value::Null, json!([{"name": "gpus", "value": 1.5}]));
    let found = problems(&m, &Invocation::default(), &scratch);
    assert!(only_at(&found, "/job/resources/scalar/0/value")
        .message
        .contains("whole"));

    // Through the multiplier too: 1 + 0.5 * 1 MiB.
    let m = manifest(
        json!({"inputs": {"files": [{"name": "IN"}]}}),
        json!([{"name": "gpus", "value": 1, "inputMultiplier": 0.5}]),
    );
    let invocation = Invocation {
        files: files(&[("IN", vec![scratch.file("one-mib", 1024 * 1024)])]),
        ..Invocation::default()
    };
    let found = problems(&m, &invocation, &scratch);
    only_at(&found, "/job/resources/scalar/0/value");
}

// --- Checklist 32: the command --------------------------------------------------------------

#[test]
fn checklist_32_command_expands_with_the_container_environment() {
    let scratch = Scratch::new();
    let plan = plan(&complete(), &complete_invocation(&scratch), &scratch);
    let env = plan.env_map();
    assert_eq!(env["INPUT_FILE"], "/seed/inputs/INPUT_FILE/cells.h5");
    assert_eq!(
        plan.args,
        Some(vec![
            "/seed/inputs/INPUT_FILE/cells.h5".to_string(),
            "/seed/outputs".to_string(),
            "1".to_string(),
        ])
    );
}

#[test]
fn checklist_32_allocated_values_are_available_to_the_command() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"command": "run --mem ${ALLOCATED_MEM}"}),
        json!([{"name": "mem", "value": 256}]),
    );
    let plan = plan(&m, &Invocation::default(), &scratch);
    assert_eq!(
        plan.args,
        Some(vec![
            "run".to_string(),
            "--mem".to_string(),
            "256.0".to_string()
        ])
    );
}

#[test]
fn checklist_36_no_command_runs_the_image_cmd() {
    let scratch = Scratch::new();
    for interface in [json!({}), json!({"command": "  "})] {
        let plan = plan(
            &manifest(interface, Value::Null),
            &Invocation::default(),
            &scratch,
        );
        assert_eq!(plan.args, None);
    }
}

// --- Invocation checks ----------------------------------------------------------------------

#[test]
fn input_files_that_do_not_exist_or_are_not_regular_files_are_reported() {
    let scratch = Scratch::new();
    let m = manifest(
        json!({"inputs": {"files": [{"name": "A"}, {"name": "B"}, {"name": "C", "multiple": true}]}}),
        Value::Null,
    );
    let invocation = Invocation {
        files: files(&[
            ("A", vec![scratch.dir.path().join("missing.txt")]),
            ("B", vec![scratch.subdir("a-dir")]),
            (
                "C",
                vec![
                    scratch.file("ok.txt", 1),
                    scratch.dir.path().join("gone.txt"),
                ],
            ),
        ]),
        ..Invocation::default()
    };
    let found = problems(&m, &invocation, &scratch);
    let a = only_at(&found, "A");
    assert!(a.message.contains("missing.txt") && a.message.contains("does not exist"));
    let b = only_at(&found, "B");
    assert!(b.message.contains("is a directory") && b.message.contains("not `multiple`"));
    assert!(only_at(&found, "C").message.contains("gone.txt"));
    assert_eq!(found.len(), 3);
}

#[test]
fn several_files_for_a_single_input_are_reported() {
    let scratch = Scratch::new();
    let invocation = Invocation {
        files: files(&[("IN", vec![scratch.file("a", 1), scratch.file("b", 1)])]),
        ..Invocation::default()
    };
    let found = problems(&single_input("IN", true), &invocation, &scratch);
    let problem = only_at(&found, "IN");
    assert!(problem.message.contains("single file") && problem.message.contains("2 were given"));
}

#[test]
fn unknown_keys_are_reported_with_the_expected_keys() {
    let scratch = Scratch::new();
    let mut invocation = complete_invocation(&scratch);
    invocation
        .files
        .insert("NOPE_FILE".into(), vec![scratch.file("n", 1)]);
    invocation.json.insert("nope-json".into(), json!(1));
    invocation
        .settings
        .insert("NOPE_SETTING".into(), "x".into());
    invocation
        .mounts
        .insert("NOPE_MOUNT".into(), scratch.subdir("n-dir"));
    let found = problems(&complete(), &invocation, &scratch);
    assert!(only_at(&found, "NOPE_FILE")
        .message
        .contains("the following input file keys are expected: INPUT_FILE"));
    assert!(only_at(&found, "nope-json")
        .message
        .contains("the following json input keys are expected: INPUT_JSON (string)"));
    assert!(only_at(&found, "NOPE_SETTING")
        .message
        .contains("the following setting keys are expected: VERSION, DB_HOST, DB_PASS"));
    assert!(only_at(&found, "NOPE_MOUNT")
        .message
        .contains("the following mount keys are expected: MOUNT_PATH, WRITE_PATH"));
    assert_eq!(found.len(), 4);

    // A job with no settings says so.
    let found = problems(
        &manifest(Value::Null, Value::Null),
        &Invocation {
            settings: strings(&[("X", "1")]),
            ..Invocation::default()
        },
        &scratch,
    );
    assert!(only_at(&found, "X")
        .message
        .contains("this job takes no settings"));
}

#[test]
fn two_keys_naming_the_same_item_are_refused() {
    let scratch = Scratch::new();
    let invocation = Invocation {
        files: files(&[
            ("INPUT_FILE", vec![scratch.file("a", 1)]),
            ("input-file", vec![scratch.file("b", 1)]),
        ]),
        ..Invocation::default()
    };
    let found = problems(&single_input("input-file", true), &invocation, &scratch);
    let problem = only_at(&found, "input-file");
    assert!(
        problem.message.contains("give it once"),
        "{}",
        problem.message
    );
}

#[test]
fn secret_values_never_appear_in_problems() {
    let scratch = Scratch::new();
    let mut invocation = complete_invocation(&scratch);
    invocation
        .settings
        .insert("DB_PASS".into(), "hunter2\0".into());
    invocation
        .settings
        .insert("db-pass-typo".into(), "hunter3".into());
    let found = problems(&complete(), &invocation, &scratch);
    assert!(only_at(&found, "DB_PASS").message.contains("NUL"));
    for problem in &found {
        assert!(!problem.message.contains("hunter"), "{problem}");
    }
}

#[cfg(unix)]
#[test]
fn host_paths_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let scratch = Scratch::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    let path = scratch.dir.path().join(name);
    std::fs::write(&path, "1").unwrap();
    let invocation = Invocation {
        files: files(&[("IN", vec![path])]),
        ..Invocation::default()
    };
    let found = problems(&single_input("IN", true), &invocation, &scratch);
    assert!(only_at(&found, "IN").message.contains("not UTF-8"));
}

#[test]
fn invocation_debug_never_shows_setting_values() {
    let mut invocation = seed::contract::Invocation::default();
    invocation
        .settings
        .insert("DB_PASS".to_string(), "hunter2-secret".to_string());
    let shown = format!("{invocation:?}");
    assert!(shown.contains("DB_PASS"), "{shown}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
}
