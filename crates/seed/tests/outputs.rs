//! Output capture (seed-notes 4.12): checklist items 41-50, plus symlinks and patterns that
//! try to leave `OUTPUT_DIR`.

use seed::errors::{BuiltinError, JobFailure};
use seed::outputs::{capture_outputs, CaptureReport, INVALID_OUTPUT_PATTERN};
use seed::Manifest;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/official/complete"
);

mod common;

/// A manifest whose interface declares just these outputs.
fn manifest(outputs: Value) -> Manifest {
    common::test_manifest(json!({ "outputs": outputs }), Value::Null)
}

/// One file output.
fn file_output(pattern: &str, multiple: bool, required: bool) -> Manifest {
    manifest(json!({"files": [{
        "name": "OUT",
        "pattern": pattern,
        "mediaType": "image/tiff",
        "multiple": multiple,
        "required": required
    }]}))
}

/// The complete example's json outputs, without its file outputs.
fn complete_json_outputs() -> Manifest {
    let text = std::fs::read_to_string(format!("{FIXTURES}/seed.manifest.json")).unwrap();
    let mut manifest: Manifest = serde_json::from_str(&text).unwrap();
    let interface = manifest.job.interface.as_mut().unwrap();
    interface.outputs.files.clear();
    assert_eq!(interface.outputs.json.len(), 2);
    manifest
}

fn output_dir() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &Path, relative: &str, content: &str) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    path
}

fn copy_fixture(dir: &Path, fixture: &str, relative: &str) {
    std::fs::copy(format!("{FIXTURES}/{fixture}"), dir.join(relative)).unwrap();
}

fn captured(report: &CaptureReport, output: &str) -> Vec<String> {
    report.outputs.files[output]
        .iter()
        .map(|f| f.relative.clone())
        .collect()
}

fn failure_names(report: &CaptureReport) -> Vec<&str> {
    report.failures.iter().map(|f| f.name.as_str()).collect()
}

fn only_failure(report: &CaptureReport, error: BuiltinError) -> &JobFailure {
    assert_eq!(
        failure_names(report),
        [error.name()],
        "{:#?}",
        report.failures
    );
    &report.failures[0]
}

fn assert_clean(report: &CaptureReport) {
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
}

// --- Checklist 41: patterns -----------------------------------------------------------------

#[test]
fn checklist_41_patterns_are_relative_to_output_dir_and_not_recursive() {
    let dir = output_dir();
    write(dir.path(), "a.tif", "1");
    write(dir.path(), "sub-1/x.tif", "22");
    write(dir.path(), "sub-2/x.tif", "333");
    write(dir.path(), "sub-2/y.tif", "4");
    write(dir.path(), "deep/sub-3/x.tif", "5");

    let report = capture_outputs(&file_output("*.tif", true, true), dir.path());
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["a.tif"]);
    let file = &report.outputs.files["OUT"][0];
    assert_eq!(file.path, dir.path().canonicalize().unwrap().join("a.tif"));
    assert!(file.path.is_absolute());
    assert_eq!(file.size_bytes, 1);
    assert_eq!(file.media_type.as_deref(), Some("image/tiff"));
    assert_eq!(file.metadata, None);

    let report = capture_outputs(&file_output("sub-*/x.tif", true, true), dir.path());
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["sub-1/x.tif", "sub-2/x.tif"]);
    assert_eq!(report.outputs.files["OUT"][1].size_bytes, 3);

    // `**` is just `*`: one level, no recursion.
    let report = capture_outputs(&file_output("**/x.tif", true, true), dir.path());
    assert_eq!(captured(&report, "OUT"), ["sub-1/x.tif", "sub-2/x.tif"]);

    // Case-sensitive.
    let report = capture_outputs(&file_output("A.TIF", false, true), dir.path());
    only_failure(&report, BuiltinError::MissingRequiredOutput);
}

#[test]
fn checklist_41_wildcards_do_not_match_a_leading_dot() {
    let dir = output_dir();
    write(dir.path(), ".hidden.tif", "1");
    write(dir.path(), "shown.tif", "1");
    write(dir.path(), ".cache/x.tif", "1");

    let report = capture_outputs(&file_output("*", true, false), dir.path());
    assert_eq!(captured(&report, "OUT"), ["shown.tif"]);
    let report = capture_outputs(&file_output("*/x.tif", true, false), dir.path());
    assert_eq!(captured(&report, "OUT"), Vec::<String>::new());
    let report = capture_outputs(&file_output(".*.tif", true, true), dir.path());
    assert_eq!(captured(&report, "OUT"), [".hidden.tif"]);
}

#[test]
fn checklist_41_an_output_dir_with_glob_characters_in_its_name_works() {
    let parent = output_dir();
    let dir = parent.path().join("run [1]*?");
    std::fs::create_dir(&dir).unwrap();
    write(&dir, "result.tif", "1");
    let report = capture_outputs(&file_output("*.tif", false, true), &dir);
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["result.tif"]);
}

#[test]
fn checklist_41_directories_are_not_captured() {
    let dir = output_dir();
    std::fs::create_dir(dir.path().join("out.tif")).unwrap();
    let report = capture_outputs(&file_output("*.tif", false, true), dir.path());
    only_failure(&report, BuiltinError::MissingRequiredOutput);
}

// --- Checklist 42-44: counts ----------------------------------------------------------------

#[test]
fn checklist_42_a_required_output_with_no_match_fails() {
    let dir = output_dir();
    write(dir.path(), "other.txt", "1");
    for multiple in [false, true] {
        let report = capture_outputs(&file_output("*.tif", multiple, true), dir.path());
        let failure = only_failure(&report, BuiltinError::MissingRequiredOutput);
        assert_eq!(failure.name, "missing-required-output");
        assert!(failure.description.contains("OUT") && failure.description.contains("*.tif"));
        assert!(report.outputs.files["OUT"].is_empty());
    }
}

#[test]
fn checklist_43_a_single_output_with_two_matches_fails() {
    let dir = output_dir();
    write(dir.path(), "a.tif", "1");
    write(dir.path(), "b.tif", "1");
    let report = capture_outputs(&file_output("*.tif", false, true), dir.path());
    let failure = only_failure(&report, BuiltinError::UnexpectedMultipleOutputs);
    assert_eq!(failure.name, "unexpected-multiple-outputs");
    assert!(
        failure.description.contains("a.tif, b.tif"),
        "{}",
        failure.description
    );
    // Optional makes no difference.
    let report = capture_outputs(&file_output("*.tif", false, false), dir.path());
    only_failure(&report, BuiltinError::UnexpectedMultipleOutputs);
}

#[test]
fn checklist_44_an_optional_multiple_output_may_match_nothing_or_one_file() {
    let dir = output_dir();
    let report = capture_outputs(&file_output("*.tif", true, false), dir.path());
    assert_clean(&report);
    assert_eq!(report.outputs.files["OUT"], vec![]);

    write(dir.path(), "one.tif", "1");
    let report = capture_outputs(&file_output("*.tif", true, false), dir.path());
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["one.tif"]);

    // One file satisfies a required multiple output too (the spec; seed-cli wants two).
    let report = capture_outputs(&file_output("*.tif", true, true), dir.path());
    assert_clean(&report);
}

#[test]
fn checklist_44_an_optional_single_output_may_be_absent() {
    let dir = output_dir();
    let report = capture_outputs(&file_output("*.tif", false, false), dir.path());
    assert_clean(&report);
    assert!(report.outputs.files["OUT"].is_empty());
}

// --- Checklist 45: never captured -----------------------------------------------------------

#[test]
fn checklist_45_side_cars_and_the_results_file_are_never_captured() {
    let dir = output_dir();
    write(dir.path(), "a.csv", "1");
    write(dir.path(), "b.metadata.json", "{}");
    write(dir.path(), "seed.outputs.json", "{}");
    write(dir.path(), "sub/seed.outputs.json", "{}");
    write(dir.path(), "sub/c.metadata.json", "{}");

    let report = capture_outputs(&file_output("*", true, true), dir.path());
    assert_eq!(captured(&report, "OUT"), ["a.csv"]);
    let report = capture_outputs(&file_output("*/*", true, false), dir.path());
    assert_eq!(captured(&report, "OUT"), Vec::<String>::new());
    for pattern in ["seed.outputs.json", "*.json", "b.metadata.json"] {
        let report = capture_outputs(&file_output(pattern, false, true), dir.path());
        only_failure(&report, BuiltinError::MissingRequiredOutput);
    }
}

// --- Checklist 46-49: json outputs ----------------------------------------------------------

#[test]
fn checklist_46_json_outputs_of_the_official_complete_example() {
    let manifest = complete_json_outputs();

    let dir = output_dir();
    copy_fixture(dir.path(), "seed.outputs.json", "seed.outputs.json");
    let report = capture_outputs(&manifest, dir.path());
    assert_clean(&report);
    assert_eq!(report.outputs.json["cell_count"], json!(3));
    assert_eq!(report.outputs.json["dummy"], json!(1));
    assert_eq!(
        report.outputs.json.len(),
        2,
        "published under `name`, not `key`"
    );

    let dir = output_dir();
    copy_fixture(dir.path(), "seed.outputs2.json", "seed.outputs.json");
    let report = capture_outputs(&manifest, dir.path());
    assert_clean(&report);
    assert_eq!(report.outputs.json["cell_count"], json!(3));
    assert!(!report.outputs.json.contains_key("dummy"));
}

#[test]
fn checklist_47_undeclared_members_are_ignored_and_keys_are_case_sensitive() {
    let manifest = complete_json_outputs();
    let dir = output_dir();
    write(
        dir.path(),
        "seed.outputs.json",
        r#"{"cellCount": 3, "extra": 1, "DUMMY": 2, "cell_count": 9}"#,
    );
    let report = capture_outputs(&manifest, dir.path());
    assert_clean(&report);
    // `cell_count` is read from `cellCount` only; `DUMMY` is not `dummy`.
    assert_eq!(report.outputs.json.len(), 1);
    assert_eq!(report.outputs.json["cell_count"], json!(3));

    let dir = output_dir();
    write(dir.path(), "seed.outputs.json", r#"{"cellcount": 3}"#);
    let report = capture_outputs(&manifest, dir.path());
    let failure = only_failure(&report, BuiltinError::InvalidResultsManifest);
    assert!(
        failure.description.contains("\"cellCount\"")
            && failure.description.contains("case-sensitive"),
        "{}",
        failure.description
    );
}

#[test]
fn checklist_48_a_json_output_of_the_wrong_type_fails() {
    let manifest = complete_json_outputs();
    let dir = output_dir();
    write(
        dir.path(),
        "seed.outputs.json",
        r#"{"cellCount": "3", "dummy": 1.5}"#,
    );
    let report = capture_outputs(&manifest, dir.path());
    // Both are reported, the optional one too.
    assert_eq!(
        failure_names(&report),
        ["invalid-results-manifest", "invalid-results-manifest"]
    );
    assert!(
        report.failures[0]
            .description
            .contains("must be an integer, but is the string \"3\""),
        "{}",
        report.failures[0].description
    );
    assert!(report.failures[1].description.contains("the number 1.5"));
    assert!(report.outputs.json.is_empty());
}

#[test]
fn checklist_49_a_missing_required_json_output_fails() {
    let manifest = complete_json_outputs();

    let dir = output_dir();
    write(dir.path(), "seed.outputs.json", r#"{"dummy": 1}"#);
    let report = capture_outputs(&manifest, dir.path());
    let failure = only_failure(&report, BuiltinError::InvalidResultsManifest);
    assert!(failure.description.contains("cell_count"));
    assert_eq!(report.outputs.json["dummy"], json!(1));

    // No file at all, while a json output is required.
    let dir = output_dir();
    let report = capture_outputs(&manifest, dir.path());
    let failure = only_failure(&report, BuiltinError::InvalidResultsManifest);
    assert!(failure
        .description
        .contains("seed.outputs.json was not found"));
    assert!(failure.description.contains("cell_count"));
}

#[test]
fn checklist_49_a_missing_results_file_is_fine_when_every_json_output_is_optional() {
    let manifest = manifest(json!({"json": [{"name": "n", "type": "integer", "required": false}]}));
    let report = capture_outputs(&manifest, output_dir().path());
    assert_clean(&report);
    assert!(report.outputs.json.is_empty());

    // And without json outputs the file is not even read.
    let dir = output_dir();
    write(dir.path(), "seed.outputs.json", "not json");
    assert_clean(&capture_outputs(
        &file_output("*.x", true, false),
        dir.path(),
    ));
}

#[test]
fn checklist_49_an_unreadable_results_file_fails() {
    let manifest = manifest(json!({"json": [{"name": "n", "type": "integer", "required": false}]}));
    for (content, expected) in [
        ("{\"n\": 1,", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object, but holds an array"),
    ] {
        let dir = output_dir();
        write(dir.path(), "seed.outputs.json", content);
        let report = capture_outputs(&manifest, dir.path());
        let failure = only_failure(&report, BuiltinError::InvalidResultsManifest);
        assert!(
            failure.description.contains(expected),
            "{}",
            failure.description
        );
    }
}

// --- Checklist 50: side-cars ----------------------------------------------------------------

#[test]
fn checklist_50_a_side_car_is_parsed_and_attached_to_its_file() {
    let dir = output_dir();
    write(dir.path(), "outfile.csv", "a,b\n");
    copy_fixture(
        dir.path(),
        "outfile.csv.metadata.json",
        "outfile.csv.metadata.json",
    );
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/outfile.csv.metadata.json")).unwrap(),
    )
    .unwrap();

    let report = capture_outputs(&file_output("outfile*.csv", false, true), dir.path());
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["outfile.csv"]);
    assert_eq!(report.outputs.files["OUT"][0].metadata, Some(expected));
}

#[test]
fn checklist_50_an_invalid_side_car_is_reported() {
    let dir = output_dir();
    write(dir.path(), "a.csv", "1");
    write(
        dir.path(),
        "a.csv.metadata.json",
        r#"{"type": "Feature", "geometry": 7}"#,
    );
    write(dir.path(), "b.csv", "1");
    write(dir.path(), "b.csv.metadata.json", "{not json");
    write(dir.path(), "c.csv", "1");

    let report = capture_outputs(&file_output("*.csv", true, true), dir.path());
    assert_eq!(
        failure_names(&report),
        ["invalid-metadata", "invalid-metadata"]
    );
    assert!(report.failures[0]
        .description
        .contains("a.csv.metadata.json"));
    assert!(report.failures[1]
        .description
        .contains("b.csv.metadata.json"));
    assert!(report.failures[1].description.contains("not valid JSON"));
    // The files are still listed, without metadata.
    assert_eq!(captured(&report, "OUT"), ["a.csv", "b.csv", "c.csv"]);
    assert!(report.outputs.files["OUT"]
        .iter()
        .all(|f| f.metadata.is_none()));
}

// --- Symlinks and escaping patterns ---------------------------------------------------------

#[cfg(unix)]
#[test]
fn symlinks_are_never_captured() {
    use std::os::unix::fs::symlink;
    let host = output_dir();
    let secret = write(host.path(), "secret.csv", "password");
    write(host.path(), "elsewhere/x.csv", "password");
    let dir = output_dir();
    write(dir.path(), "real.txt", "1");
    symlink(&secret, dir.path().join("out.csv")).unwrap();
    symlink(dir.path().join("real.txt"), dir.path().join("inside.csv")).unwrap();
    symlink(host.path().join("elsewhere"), dir.path().join("sub")).unwrap();

    let report = capture_outputs(&file_output("*.csv", true, true), dir.path());
    let failure = only_failure(&report, BuiltinError::MissingRequiredOutput);
    assert!(
        failure.description.contains("inside.csv, out.csv"),
        "{}",
        failure.description
    );
    // Through a symlinked directory leading out of OUTPUT_DIR.
    let report = capture_outputs(&file_output("sub/*.csv", true, true), dir.path());
    only_failure(&report, BuiltinError::MissingRequiredOutput);
    assert!(report.outputs.files["OUT"].is_empty());
}

#[cfg(unix)]
#[test]
fn symlinked_results_and_side_cars_are_not_read() {
    use std::os::unix::fs::symlink;
    let host = output_dir();
    let outside = write(host.path(), "results.json", r#"{"n": 1}"#);
    let dir = output_dir();
    symlink(&outside, dir.path().join("seed.outputs.json")).unwrap();
    let manifest = manifest(json!({"json": [{"name": "n", "type": "integer"}]}));
    let report = capture_outputs(&manifest, dir.path());
    let failure = only_failure(&report, BuiltinError::InvalidResultsManifest);
    assert!(failure.description.contains("symbolic link"));
    assert!(report.outputs.json.is_empty());

    let dir = output_dir();
    write(dir.path(), "a.csv", "1");
    symlink(&outside, dir.path().join("a.csv.metadata.json")).unwrap();
    let report = capture_outputs(&file_output("a.csv", false, true), dir.path());
    assert_clean(&report);
    assert_eq!(report.outputs.files["OUT"][0].metadata, None);
}

#[test]
fn patterns_that_leave_output_dir_fail() {
    let parent = output_dir();
    write(parent.path(), "outside.txt", "secret");
    let dir = parent.path().join("out");
    write(&dir, "sub/inside.txt", "1");
    let outside = parent.path().join("outside.txt");
    for pattern in [
        "../outside.txt",
        "sub/../../outside.txt",
        "..",
        outside.to_str().unwrap(),
        "",
    ] {
        let report = capture_outputs(&file_output(pattern, false, false), &dir);
        assert_eq!(
            failure_names(&report),
            [INVALID_OUTPUT_PATTERN],
            "{pattern:?}"
        );
        assert!(report.failures[0].description.contains("OUT"));
        assert!(report.outputs.files["OUT"].is_empty());
    }
    let report = capture_outputs(&file_output("[", false, false), &dir);
    assert_eq!(failure_names(&report), [INVALID_OUTPUT_PATTERN]);
}

#[test]
fn every_failure_is_reported() {
    let dir = output_dir();
    write(dir.path(), "a.tif", "1");
    write(dir.path(), "b.tif", "1");
    write(dir.path(), "seed.outputs.json", r#"{"count": "x"}"#);
    let manifest = manifest(json!({
        "files": [
            {"name": "tifs", "pattern": "*.tif"},
            {"name": "png", "pattern": "*.png"},
            {"name": "bad", "pattern": "/etc/*"}
        ],
        "json": [
            {"name": "count", "type": "integer"},
            {"name": "size", "type": "number"}
        ]
    }));
    let report = capture_outputs(&manifest, dir.path());
    assert_eq!(
        failure_names(&report),
        [
            "unexpected-multiple-outputs",
            "missing-required-output",
            INVALID_OUTPUT_PATTERN,
            "invalid-results-manifest",
            "invalid-results-manifest",
        ]
    );
    assert_eq!(captured(&report, "tifs"), ["a.tif", "b.tif"]);
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_are_skipped_without_panicking() {
    use std::os::unix::ffi::OsStrExt;
    let dir = output_dir();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.tif");
    std::fs::write(dir.path().join(name), "1").unwrap();
    write(dir.path(), "ok.tif", "1");
    let report = capture_outputs(&file_output("*.tif", true, true), dir.path());
    assert_clean(&report);
    assert_eq!(captured(&report, "OUT"), ["ok.tif"]);
}
