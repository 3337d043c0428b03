//! `ades run` end to end: the example Seed images on the real Docker engine, checked through
//! what a user sees (exit status, the `--json` report, the files written). The `complete`
//! example checks most of the runtime contract from inside its container and exits 10 when
//! any item is broken, so its success is itself the check of checklist items 18-30 and 32-36.

use crate::cli::run_json;
use crate::support::{
    ades, assert_owned_by_us, auth_registry, busybox_image, docker, example_image, is_root,
    push_to_auth_registry, push_to_registry, registry, repo_root, shell_job_image,
};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn example(path: &str) -> String {
    repo_root()
        .join("examples")
        .join(path)
        .display()
        .to_string()
}

fn arg(name: &str, value: impl AsRef<str>) -> String {
    format!("{name}={}", value.as_ref())
}

/// No container labelled with this run id remains in the engine.
fn assert_container_removed(report: &Value) {
    let run_id = report["runId"].as_str().expect("runId in the report");
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=org.ades.run-id={run_id}"))
        .output()
        .expect("docker ps");
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "container of run {run_id} still exists"
    );
}

fn output_dir(tmp: &tempfile::TempDir) -> String {
    tmp.path().join("out").display().to_string()
}

#[test]
fn io_demo_copies_its_input() {
    // Checklist 19 (single input file exposed as a readable path), 38 (exit 0 = success).
    let image = example_image("io-demo");
    let tmp = tempfile::tempdir().unwrap();
    let input = example("io-demo/sample/input.txt");
    let (ran, report) = run_json(&[
        &image,
        "-i",
        &arg("INPUT_FILE", &input),
        "-o",
        &output_dir(&tmp),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(report["status"], "successful", "{report:#}");
    let copied = std::fs::read(tmp.path().join("out/new-output.txt")).unwrap();
    assert_eq!(copied, std::fs::read(&input).unwrap());
    let files = report["outputs"]["files"]["OUTPUT_FILE"]
        .as_array()
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["mediaType"], "text/plain");
    assert_container_removed(&report);
}

#[test]
fn io_demo_accepts_a_lower_case_dashed_key() {
    // Checklist 20: keys are matched after normalisation.
    let image = example_image("io-demo");
    let tmp = tempfile::tempdir().unwrap();
    let (ran, _) = run_json(&[
        &image,
        "-i",
        &arg("input-file", example("io-demo/sample/input.txt")),
        "-o",
        &output_dir(&tmp),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
}

const SECRET: &str = "s3cret-token-never-printed";

fn complete_args(tmp: &tempfile::TempDir, with_optionals: bool) -> Vec<String> {
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    // The job's user (not root, not necessarily the test's) writes there.
    std::fs::set_permissions(&scratch, PermissionsExt::from_mode(0o777)).unwrap();
    let mut args = vec![
        example_image("complete"),
        "-i".into(),
        arg("INPUT_FILES", example("complete/sample/inputs")),
        "-j".into(),
        "LABEL=Sample run".into(),
        "-j".into(),
        "FACTOR=1.5".into(),
        "-j".into(),
        "UPPERCASE=true".into(),
        "-j".into(),
        r#"TAGS=["demo","sample"]"#.into(),
        "-j".into(),
        format!("OPTIONS=@{}", example("complete/sample/options.json")),
        "-e".into(),
        "MODE=numbered".into(),
        "-e".into(),
        arg("API_TOKEN", SECRET),
        "-m".into(),
        arg("REFERENCE", example("complete/sample/reference")),
        "-m".into(),
        arg("SCRATCH", scratch.display().to_string()),
        "-o".into(),
        output_dir(tmp),
    ];
    if with_optionals {
        args.extend([
            "-i".into(),
            arg("SUPPLEMENT", example("complete/sample/supplement.txt")),
            "-j".into(),
            "MAX_LINES=2".into(),
        ]);
    }
    args
}

#[test]
fn complete_example_finds_the_whole_contract_and_its_outputs_are_captured() {
    // Inside the container: 18, 19, 21, 24, 25, 26, 27, 29, 30, 32, 33, 34, 35; outside:
    // 41, 44 (optional output absent), 45, 46, 47, 50.
    let tmp = tempfile::tempdir().unwrap();
    let args = complete_args(&tmp, true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ran, report) = run_json(&args);
    assert_eq!(ran.code, 0, "stderr:\n{}\nreport: {report:#}", ran.stderr);
    assert_eq!(report["status"], "successful");

    let files = &report["outputs"]["files"];
    let parts: Vec<&str> = files["PARTS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["relativePath"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["part-1.txt", "part-2.txt", "part-3.txt"]);
    assert_eq!(files["REJECTS"], serde_json::json!([]));
    let summary = &files["SUMMARY"][0];
    assert_eq!(summary["relativePath"], "summary.txt");
    assert_eq!(summary["metadata"]["type"], "Feature", "{summary:#}");

    let json = &report["outputs"]["json"];
    assert_eq!(json["TOTAL_LINES"], 5);
    assert_eq!(json["SCALED_TOTAL"], 7.5);
    assert_eq!(json["LABEL_ECHO"], "Sample run");
    assert_eq!(json["UPPERCASED"], true);
    assert_eq!(
        json["FILE_NAMES"],
        serde_json::json!(["alpha.txt", "beta.txt", "gamma.txt"])
    );
    assert!(json["SUPPLEMENT_FIRST_LINE"].is_string());
    assert!(json.get("UNUSED").is_none(), "{json:#}");
    assert!(json.get("extra").is_none(), "undeclared keys are ignored");

    let part1 = std::fs::read_to_string(tmp.path().join("out/part-1.txt")).unwrap();
    assert_eq!(
        part1.lines().count(),
        2,
        "MAX_LINES=2 reached the job: {part1}"
    );
    assert!(tmp.path().join("scratch/complete-last-run.txt").exists());
    assert_eq!(report["allocated"]["mem"], "64.0");
    assert_hardened_summary(&std::fs::read_to_string(tmp.path().join("out/summary.txt")).unwrap());
    // The outputs are handed back: ades's own, whoever the job ran as.
    assert_owned_by_us(&tmp.path().join("out"));

    // Checklist 25: the secret is never printed or reported.
    assert!(!ran.stdout.contains(SECRET) && !ran.stderr.contains(SECRET));
    assert_container_removed(&report);
}

/// What the complete example's summary says of its container: not root, a read-only root
/// filesystem that refused the write.
pub fn assert_hardened_summary(summary: &str) {
    let uid: u32 = summary
        .lines()
        .find_map(|l| l.strip_prefix("uid: "))
        .unwrap_or_else(|| panic!("no uid line in {summary}"))
        .parse()
        .unwrap();
    assert_ne!(uid, 0, "{summary}");
    if is_root() {
        assert_eq!(
            uid, 10001,
            "the default user when ades runs as root: {summary}"
        );
    }
    assert!(
        summary.contains("root filesystem: read-only\n"),
        "{summary}"
    );
    assert!(
        summary.contains("write to /: Read-only file system\n"),
        "{summary}"
    );
}

#[test]
fn complete_example_without_its_optional_inputs() {
    // Checklist 22 (absent optional inputs are unset: the job checks it) and 34 (the
    // `${X/#/--flag }` prefixes vanish), 46 (the optional json output is then absent).
    let tmp = tempfile::tempdir().unwrap();
    let args = complete_args(&tmp, false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ran, report) = run_json(&args);
    assert_eq!(ran.code, 0, "stderr:\n{}\nreport: {report:#}", ran.stderr);
    assert!(report["outputs"]["json"]
        .get("SUPPLEMENT_FIRST_LINE")
        .is_none());
    assert_eq!(report["outputs"]["json"]["TOTAL_LINES"], 6);
}

#[test]
fn complete_example_fails_when_the_contract_is_broken() {
    // The in-container checks can fail: a read-write REFERENCE mount is a contract
    // violation (declared error 10), which proves the success above means something.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("rw-manifest");
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(example("complete/seed.manifest.json")).unwrap(),
    )
    .unwrap();
    manifest["job"]["name"] = "complete-broken".into();
    manifest["job"]["interface"]["mounts"][0]["mode"] = "rw".into();
    for entry in std::fs::read_dir(example("complete")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.join("seed.manifest.json"), manifest.to_string()).unwrap();
    busybox_image();
    let built = ades(&["seed", "build", "--json", dir.to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let image: Value = serde_json::from_str(&built.stdout).unwrap();
    let mut args = complete_args(&tmp, true);
    args[0] = image["image"].as_str().unwrap().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ran, report) = run_json(&args);
    assert_eq!(ran.code, 10, "{}", ran.stderr);
    assert_eq!(report["failures"][0]["name"], "contract-violated");
    assert!(ran.stderr.contains("REFERENCE") || ran.stderr.contains("reference"));
    let _ = Command::new("docker")
        .args(["rmi", "-f", image["image"].as_str().unwrap()])
        .output();
}

#[test]
fn declared_and_undeclared_exit_codes_are_reported() {
    // Checklist 39 (declared: name, title, description, category) and 40 (undeclared).
    let image = example_image("errors");
    let cases = [
        (2, "invalid-data", "Invalid data", "data"),
        (3, "job-failed", "Job failed", "job"),
        (4, "bare-error", "bare-error", "job"),
        (5, "algorithm-unknown", "Algorithm failed", "job"),
    ];
    for (code, name, title, category) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let (ran, report) = run_json(&[
            &image,
            "-j",
            &format!("CODE={code}"),
            "-o",
            &output_dir(&tmp),
        ]);
        assert_eq!(ran.code, code, "{}", ran.stderr);
        assert_eq!(report["status"], "failed");
        assert_eq!(report["exitCode"], code);
        let failure = &report["failures"][0];
        assert_eq!(failure["name"], name, "{failure:#}");
        assert_eq!(failure["title"], title, "{failure:#}");
        assert_eq!(failure["category"], category, "{failure:#}");
        assert_eq!(failure["exitCode"], code, "{failure:#}");
        // The human form names the error too.
        let human = ades(&[
            "run",
            &image,
            "-j",
            &format!("CODE={code}"),
            "-o",
            &tmp.path().join("human").display().to_string(),
        ]);
        assert_eq!(human.code, code);
        assert!(human.stderr.contains(name), "{}", human.stderr);
    }
    let tmp = tempfile::tempdir().unwrap();
    let (ran, report) = run_json(&[&image, "-j", "CODE=0", "-o", &output_dir(&tmp)]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(report["status"], "successful");
}

#[test]
fn a_job_outliving_its_timeout_is_killed() {
    // Checklist 37: a hard kill at `timeout` (2 s) of a job that sleeps 300 s.
    let image = example_image("timeout");
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (ran, report) = run_json(&[&image, "-o", &output_dir(&tmp)]);
    let took = started.elapsed();
    assert_eq!(ran.code, 124, "{}", ran.stderr);
    assert_eq!(report["timedOut"], true);
    assert_eq!(report["failures"][0]["name"], "timeout");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    assert_container_removed(&report);
}

#[test]
fn interrupting_ades_run_kills_and_removes_the_container() {
    let image = example_image("timeout");
    let tmp = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ades"))
        .args(["run", "--json", &image, "-o", &output_dir(&tmp)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the container start (it sleeps 300 s; its timeout is 2 s, so interrupt fast).
    std::thread::sleep(Duration::from_millis(1200));
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    // Either the interrupt or (on a very slow machine) the 2 s timeout ended it; both kill
    // and remove the container.
    let code = output.status.code();
    assert!(
        code == Some(130) || code == Some(124),
        "{code:?} {report:#}"
    );
    if code == Some(130) {
        assert_eq!(report["cancelled"], true, "{report:#}");
        assert_eq!(report["failures"][0]["name"], "cancelled");
    }
    assert_container_removed(&report);
}

#[test]
fn echo_runs_the_image_cmd_when_the_manifest_has_no_command() {
    // Checklist 36: no command -> the image's own CMD/ENTRYPOINT, no extra argument.
    let image = example_image("echo");
    let tmp = tempfile::tempdir().unwrap();
    let message = "It's \"quoted\", $HOME and /slashes/ stay as they are";
    let (ran, report) = run_json(&[
        &image,
        "-j",
        &arg("MESSAGE", message),
        "-j",
        "REPEAT=2",
        "-i",
        &arg("COMPLEX_INPUT", example("echo/sample/hello.txt")),
        "-o",
        &output_dir(&tmp),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(report["outputs"]["json"]["ECHOED"], message);
    let echoed = std::fs::read_to_string(tmp.path().join("out/echo.txt")).unwrap();
    assert_eq!(echoed.lines().count(), 2);
    assert_eq!(
        std::fs::read(tmp.path().join("out/complex-echo")).unwrap(),
        std::fs::read(example("echo/sample/hello.txt")).unwrap()
    );
}

/// Removes an image reference from the engine when dropped, even when the test failed, so
/// the next run of the test pulls again.
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

#[test]
fn an_image_only_in_a_registry_is_pulled_then_run() {
    let repository = format!("ades-it/run-pull-{}", uuid::Uuid::new_v4().simple());
    let remote = push_to_registry(&example_image("echo"), &registry(), &repository, "1.0.0");
    let _cleanup = RemoveImage(remote.clone());
    let tmp = tempfile::tempdir().unwrap();
    let (ran, report) = run_json(&[
        &remote,
        "-j",
        "MESSAGE=from the registry",
        "-i",
        &arg("COMPLEX_INPUT", example("echo/sample/hello.txt")),
        "-o",
        &output_dir(&tmp),
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(report["outputs"]["json"]["ECHOED"], "from the registry");
    assert_eq!(report["image"], remote.as_str());
    assert_container_removed(&report);
    // The progress goes to stderr, before the container's output.
    let pulling = ran.stderr.find(&format!("pulling image {remote}"));
    let pulled = ran.stderr.find(&format!("pulled image {remote}"));
    assert!(
        matches!((pulling, pulled), (Some(a), Some(b)) if a < b),
        "{}",
        ran.stderr
    );
    docker(&["image", "inspect", &remote]);
}

#[test]
fn an_image_in_an_authenticated_registry_is_pulled_with_the_configured_credentials() {
    let repository = format!("ades-it/run-auth-{}", uuid::Uuid::new_v4().simple());
    let remote = push_to_auth_registry(&example_image("echo"), &repository, "1.0.0");
    let _cleanup = RemoveImage(remote.clone());
    let tmp = tempfile::tempdir().unwrap();
    let config = |password: &str| {
        let file = tmp.path().join(format!("ades-{password}.toml"));
        std::fs::write(
            &file,
            format!(
                "[[registries.credentials]]\nregistry = \"{}\"\nusername = \"ades\"\n\
                 password = \"{password}\"\n",
                auth_registry()
            ),
        )
        .unwrap();
        file.to_str().unwrap().to_string()
    };
    let args = |out: &str| {
        vec![
            remote.clone(),
            "-j".to_string(),
            "MESSAGE=from the locked registry".to_string(),
            "-i".to_string(),
            arg("COMPLEX_INPUT", example("echo/sample/hello.txt")),
            "-o".to_string(),
            tmp.path().join(out).to_str().unwrap().to_string(),
        ]
    };
    let run = |extra: &[&str], out: &str| {
        let mut all: Vec<String> = vec!["run".to_string()];
        all.extend(extra.iter().map(|s| s.to_string()));
        all.extend(args(out));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        ades(&all)
    };

    // No configuration: the registry refuses, and the message says what to configure.
    let ran = run(&[], "none");
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains(&format!("{} requires credentials", auth_registry())),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("ades run"), "{}", ran.stderr);
    // Wrong ones: refused as such, the password never shown.
    let ran = run(&["-c", &config("not-the-password")], "wrong");
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("refused the credentials"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("not-the-password"), "{}", ran.stderr);

    // The server's configuration file: pulled with its credentials, then run.
    let ran = run(&["--json", "-c", &config("ades-secret")], "right");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report: Value = serde_json::from_str(&ran.stdout).expect("a JSON report");
    assert_eq!(
        report["outputs"]["json"]["ECHOED"],
        "from the locked registry"
    );
    assert!(
        ran.stderr.contains(&format!("pulled image {remote}")),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("ades-secret"), "{}", ran.stderr);
    docker(&["image", "inspect", &remote]);
}

#[test]
fn an_image_missing_from_its_registry_cannot_start() {
    let remote = format!(
        "{}/ades-it/never-pushed-{}:1.0.0",
        registry(),
        uuid::Uuid::new_v4().simple()
    );
    let ran = ades(&["run", &remote]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("pulling image {remote}")),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&format!(
            "error: image {remote} is not in the Docker engine and pulling it from {} failed",
            registry()
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("manifest unknown"), "{}", ran.stderr);
}

#[test]
fn invalid_invocations_fail_before_any_container_starts() {
    // Checklist 23 and the issue's list: each names the key and what is expected; exit 2.
    let image = example_image("complete");
    let tmp = tempfile::tempdir().unwrap();
    let out = output_dir(&tmp);
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            vec!["-i".into(), "NO_SUCH_INPUT=/etc/hostname".into()],
            "NO_SUCH_INPUT",
            "expected",
        ),
        (vec![], "INPUT_FILES", "INPUT_FILES"),
        (
            vec!["-i".into(), "INPUT_FILES=/no/such/file.txt".into()],
            "INPUT_FILES",
            "/no/such/file.txt",
        ),
        (vec!["-j".into(), "FACTOR=abc".into()], "FACTOR", "number"),
        (
            vec!["-e".into(), "NOT_A_SETTING=1".into()],
            "NOT_A_SETTING",
            "setting",
        ),
        (vec![], "REFERENCE", "mount"),
        (vec!["-i".into(), "broken-flag".into()], "-i", "NAME=VALUE"),
    ];
    for (extra, key, words) in cases {
        let mut args = vec![image.clone()];
        args.extend(extra);
        args.extend(["-o".to_string(), out.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut all = vec!["run"];
        all.extend(args);
        let ran = ades(&all);
        assert_eq!(ran.code, 2, "{key}: {}", ran.stderr);
        let line = ran
            .stderr
            .lines()
            .find(|l| l.contains(key) && l.contains(words))
            .unwrap_or_else(|| panic!("no line naming {key} and {words}:\n{}", ran.stderr));
        assert!(line.contains("ERROR"), "{line}");
        assert!(!ran.stderr.contains("running "), "a container was started");
        assert!(
            !Path::new(&out).exists(),
            "the output directory was left behind"
        );
    }
}

#[test]
fn an_unknown_image_and_a_non_empty_output_dir_are_refused() {
    let ran = ades(&["run", "nothing-here-0.0.1-seed:0.0.1"]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("ades seed build"), "{}", ran.stderr);

    let image = example_image("io-demo");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("old.txt"), "x").unwrap();
    let ran = ades(&[
        "run",
        &image,
        "-i",
        &arg("INPUT_FILE", example("io-demo/sample/input.txt")),
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 1);
    assert!(ran.stderr.contains("not empty"), "{}", ran.stderr);
}

fn run_script(script: &str) -> (i32, Value) {
    let image = shell_job_image();
    let tmp = tempfile::tempdir().unwrap();
    let (ran, report) = run_json(&[
        &image,
        "-j",
        &arg("SCRIPT", script),
        "-o",
        &output_dir(&tmp),
    ]);
    (ran.code, report)
}

fn failure_names(report: &Value) -> Vec<String> {
    report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn output_capture_judges_a_clean_exit() {
    // A value with spaces stays one argument (35): the whole script reaches `sh -c`.
    let good =
        "echo a > $OUTPUT_DIR/one-a.txt && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    let (code, report) = run_script(good);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["outputs"]["json"]["COUNT"], 1);

    // 42: a required output with no match; 49: required json with no seed.outputs.json.
    let (code, report) = run_script("true");
    assert_eq!(code, 1, "{report:#}");
    let names = failure_names(&report);
    assert!(
        names.contains(&"missing-required-output".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"invalid-results-manifest".to_string()),
        "{names:?}"
    );

    // 43: two matches for a single output.
    let two = "touch $OUTPUT_DIR/one-a.txt $OUTPUT_DIR/one-b.txt && echo '{\"COUNT\": 2}' > $OUTPUT_DIR/seed.outputs.json";
    let (code, report) = run_script(two);
    assert_eq!(code, 1);
    assert_eq!(failure_names(&report), ["unexpected-multiple-outputs"]);

    // 48: a json output of the wrong type.
    let wrong =
        "touch $OUTPUT_DIR/one-a.txt && echo '{\"COUNT\": \"3\"}' > $OUTPUT_DIR/seed.outputs.json";
    let (code, report) = run_script(wrong);
    assert_eq!(code, 1);
    assert_eq!(failure_names(&report), ["invalid-results-manifest"]);

    // 45 and 50: the side-car matches `one-*` too, but is never captured as an output; it
    // is attached to the file it describes.
    let sidecar = "touch $OUTPUT_DIR/one-a.txt && echo '{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2]},\"properties\":{}}' > $OUTPUT_DIR/one-a.txt.metadata.json && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    let (code, report) = run_script(sidecar);
    assert_eq!(code, 0, "{report:#}");
    let captured = report["outputs"]["files"]["ONE"].as_array().unwrap();
    assert_eq!(captured.len(), 1, "{report:#}");
    assert_eq!(captured[0]["metadata"]["geometry"]["type"], "Point");

    // 50: an invalid side-car is reported.
    let bad = "touch $OUTPUT_DIR/one-a.txt && echo '{\"type\":\"Nonsense\"}' > $OUTPUT_DIR/one-a.txt.metadata.json && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    let (code, report) = run_script(bad);
    assert_eq!(code, 1);
    assert_eq!(failure_names(&report), ["invalid-metadata"]);
}

/// Records who the job runs as and whether `/` takes a file, in `one-probe.txt`.
const PROBE_SCRIPT: &str = "{ id -u; if touch /probe 2>/dev/null; then echo root writable; \
     else echo root read-only; fi; \
     cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
     } > \"$OUTPUT_DIR/one-probe.txt\"; echo '{\"COUNT\": 1}' > \"$OUTPUT_DIR/seed.outputs.json\"";

fn probe_run(flags: &[&str]) -> Vec<String> {
    let image = shell_job_image();
    let tmp = tempfile::tempdir().unwrap();
    let out = output_dir(&tmp);
    let script = arg("SCRIPT", PROBE_SCRIPT);
    let mut args = vec![image.as_str(), "-j", &script, "-o", &out];
    args.extend_from_slice(flags);
    let (ran, report) = run_json(&args);
    assert_eq!(ran.code, 0, "{}\n{report:#}", ran.stderr);
    assert_owned_by_us(&tmp.path().join("out"));
    std::fs::read_to_string(tmp.path().join("out/one-probe.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn ades_run_is_hardened_unless_told_otherwise() {
    let hardened = probe_run(&[]);
    assert_ne!(hardened[0], "0", "{hardened:?}");
    assert_eq!(hardened[1..], ["root read-only", "4096"]);

    let loosened = probe_run(&["--run-as-root", "--writable-root", "--pids-limit", "5000"]);
    assert_eq!(loosened, ["0", "root writable", "5000"]);

    let mine = probe_run(&["--user", "4321:4321"]);
    assert_eq!(mine[0], "4321");
}
