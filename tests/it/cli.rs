//! The `ades` command line, run as a user would: the real binary, the real Docker engine, the
//! example Seed images built with `ades seed build`.

use crate::support::{ades, busybox_image, example_image, repo_root, Ran};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn official(example: &str) -> PathBuf {
    repo_root()
        .join("crates/seed/tests/fixtures/official")
        .join(example)
}

fn complete_manifest() -> Value {
    let text = std::fs::read_to_string(official("complete/seed.manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn write_manifest(dir: &Path, manifest: &Value) -> PathBuf {
    let file = dir.join("seed.manifest.json");
    std::fs::write(&file, serde_json::to_string_pretty(manifest).unwrap()).unwrap();
    file
}

// ---- seed validate ----------------------------------------------------------------------

#[test]
fn validate_accepts_every_official_example() {
    for example in ["complete", "random-number", "watermark"] {
        let ran = ades(&["seed", "validate", official(example).to_str().unwrap()]);
        assert_eq!(ran.code, 0, "{example}: {}", ran.stderr);
        assert!(
            ran.stderr.contains("is a valid Seed 1.0.0 manifest"),
            "{}",
            ran.stderr
        );
    }
}

#[test]
fn validate_lists_every_problem_with_its_pointer_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = complete_manifest();
    manifest["seedVersion"] = "0.1.0".into();
    manifest["job"]["name"] = "my_job".into();
    manifest["job"]["timeout"] = serde_json::json!(1.5);
    manifest["job"]["interface"]["mounts"][1]["path"] = "relative/path".into();
    manifest["job"]["interface"]["inputs"]["json"][0]["name"] = "INPUT-FILE".into();
    let file = write_manifest(dir.path(), &manifest);

    let ran = ades(&["seed", "validate", file.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    for pointer in [
        "/seedVersion",
        "/job/name",
        "/job/timeout",
        "/job/interface/mounts/1/path",
        "/job/interface/inputs/json/0/name",
    ] {
        assert!(
            ran.stderr.contains(pointer),
            "no problem at {pointer}:\n{}",
            ran.stderr
        );
    }

    let ran = ades(&["seed", "validate", "--json", file.to_str().unwrap()]);
    assert_eq!(ran.code, 1);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let errors = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == "error")
        .count();
    assert!(errors >= 5, "{report:#}");
}

#[test]
fn validate_explains_malformed_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seed.manifest.json");
    std::fs::write(&file, "{\"seedVersion\": \"1.0.0\",}").unwrap();
    let ran = ades(&["seed", "validate", file.to_str().unwrap()]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("line 1"), "{}", ran.stderr);
}

#[test]
fn validate_strict_turns_warnings_into_failure() {
    // The official complete example has names that are not normalised (`cell_count`):
    // warnings only, unless --strict.
    let path = official("complete");
    assert_eq!(ades(&["seed", "validate", path.to_str().unwrap()]).code, 0);
    let ran = ades(&["seed", "validate", "--strict", path.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
}

#[test]
fn validate_reports_a_missing_target() {
    let ran = ades(&["seed", "validate", "/nonexistent/dir/seed.manifest.json"]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("error:"), "{}", ran.stderr);
}

// ---- seed init (checklist 51) -------------------------------------------------------------

#[test]
fn checklist_51_init_writes_a_valid_manifest_only_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let job_dir = dir.path().join("Edge Detector");
    let ran = ades(&["seed", "init", job_dir.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let file = job_dir.join("seed.manifest.json");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("\"edge-detector\""), "{written}");
    assert_eq!(
        ades(&["seed", "validate", job_dir.to_str().unwrap()]).code,
        0
    );

    std::fs::write(&file, "{\"mine\": true}").unwrap();
    let ran = ades(&["seed", "init", job_dir.to_str().unwrap()]);
    assert_eq!(ran.code, 0);
    assert!(ran.stderr.contains("left unmodified"), "{}", ran.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"mine\": true}");
}

// ---- seed build / list / validate IMAGE (checklist 52, 53) --------------------------------

#[test]
fn checklist_52_build_tags_by_convention_and_attaches_the_label() {
    let image = example_image("io-demo");
    assert_eq!(image, "io-demo-1.0.0-seed:1.0.0");
    // The label is read back from the engine by `validate IMAGE`.
    let ran = ades(&["seed", "validate", &image]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("label of image io-demo-1.0.0-seed:1.0.0"),
        "{}",
        ran.stderr
    );
}

#[test]
fn build_refuses_an_invalid_manifest_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = complete_manifest();
    manifest["job"]["name"] = "never-built".into();
    manifest["job"]["interface"]["settings"][0]["name"] = "OUTPUT_DIR".into();
    write_manifest(dir.path(), &manifest);
    std::fs::write(dir.path().join("Dockerfile"), "FROM ades-busybox:latest\n").unwrap();
    let ran = ades(&["seed", "build", dir.path().to_str().unwrap()]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("nothing was built"), "{}", ran.stderr);
    assert!(ran.stderr.contains("OUTPUT_DIR"), "{}", ran.stderr);
    let listed = ades(&["seed", "list", "--json"]);
    assert!(!listed.stdout.contains("never-built"), "{}", listed.stdout);
}

#[test]
fn build_reports_a_failing_dockerfile() {
    busybox_image();
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = complete_manifest();
    manifest["job"]["name"] = "broken-build".into();
    write_manifest(dir.path(), &manifest);
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM ades-busybox:latest\nRUN exit 7\n",
    )
    .unwrap();
    let ran = ades(&["seed", "build", dir.path().to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("error:"), "{}", ran.stderr);
}

#[test]
fn validate_image_without_a_seed_label_says_so() {
    let ran = ades(&["seed", "validate", busybox_image()]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("not a Seed image"), "{}", ran.stderr);
}

#[test]
fn validate_unknown_image_says_how_to_get_it() {
    let ran = ades(&["seed", "validate", "no-such-thing-0.0.1-seed:0.0.1"]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("ades seed build"), "{}", ran.stderr);
}

#[test]
fn checklist_53_list_shows_only_seed_images() {
    let image = example_image("io-demo");
    // The busybox base image is in the engine too, and is no Seed image.
    busybox_image();
    let ran = ades(&["seed", "list", "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let listed: Value = serde_json::from_str(&ran.stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert!(names.contains(&image.as_str()), "{names:?}");
    assert!(names.iter().all(|n| n.contains("-seed")), "{names:?}");
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == image.as_str())
        .unwrap();
    assert!(entry["title"].is_string(), "{entry:#}");

    let table = ades(&["seed", "list"]);
    assert!(table.stdout.contains(&image), "{}", table.stdout);
    assert!(!table.stdout.contains("ades-busybox"), "{}", table.stdout);
}

/// Runs `ades run --json` and parses its report.
pub fn run_json(args: &[&str]) -> (Ran, Value) {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let ran = ades(&all);
    let report = serde_json::from_str(&ran.stdout).unwrap_or(Value::Null);
    (ran, report)
}
