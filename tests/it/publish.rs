//! `ades seed publish` against the real test registries (pushed through the real engine,
//! read back with the registry client and `ades seed search`) and `ades seed batch` with
//! real containers.
//!
//! Every publish test pushes under its own `it-pub-<uuid>` organisation, so parallel tests
//! and reruns never see each other's images.

use crate::support::{ades, auth_registry, busybox_image, docker, example_image, registry};
use ades::registry::{ImageReference, RegistryClient, RegistryCredentials, RegistrySettings};
use seed::label::{decode_label, LABEL_KEY};
use seed::validate::manifest_from_value;
use serde_json::Value;
use std::process::Command;

fn org() -> String {
    format!("it-pub-{}", uuid::Uuid::new_v4().simple())
}

/// The manifest in the label of `reference` as the registry holds it (no pull), and the
/// digest the registry gives the image.
async fn remote_manifest(client: &RegistryClient, reference: &str) -> (seed::Manifest, String) {
    let parsed = ImageReference::parse(reference).unwrap();
    let remote = client.inspect(&parsed).await.expect("the pushed image");
    let label = remote.labels.get(LABEL_KEY).expect("the Seed label");
    let document = decode_label(label).expect("the label is JSON");
    let valid = manifest_from_value(document).expect("the label is a valid manifest");
    (valid.manifest, remote.digest)
}

fn json_report(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not a JSON report ({e}): {stdout}"))
}

/// Removes a local image name when the test ends, however it ends.
struct Untag(String);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

#[tokio::test]
async fn publish_pushes_under_the_conventional_name_and_refuses_to_overwrite() {
    let image = example_image("io-demo");
    let registry = registry();
    let org = org();
    let client = RegistryClient::new(RegistrySettings::default());
    let publish = |extra: &[&str]| {
        let mut args = vec!["seed", "publish", &image, "-r", &registry, "-O", &org];
        args.extend_from_slice(extra);
        ades(&args)
    };

    let ran = publish(&["--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = json_report(&ran.stdout);
    let remote = format!("{registry}/{org}/io-demo-1.0.0-seed:1.0.0");
    assert_eq!(report["published"], remote.as_str());
    assert_eq!(report["relabeled"], false);
    let (manifest, digest) = remote_manifest(&client, &remote).await;
    assert_eq!(manifest.job.name, "io-demo");
    assert_eq!(manifest.job.package_version, "1.0.0");
    assert_eq!(report["digest"], digest.as_str());
    // The registry-qualified name is not left in the local engine.
    let left = Command::new("docker")
        .args(["image", "inspect", &remote])
        .output()
        .unwrap();
    assert!(!left.status.success(), "{remote} was left in the engine");

    // `ades seed search` finds it.
    let found = ades(&["seed", "search", &registry, "--org", &org, "--json"]);
    assert_eq!(found.code, 0, "{}", found.stderr);
    let found = json_report(&found.stdout);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["image"], remote.as_str());

    // Again: refused, saying what to do; nothing changes in the registry.
    let ran = publish(&[]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("{remote} already exists")),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("--force"), "{}", ran.stderr);
    assert!(ran.stderr.contains("-pp"), "{}", ran.stderr);

    // With --force: pushed over it.
    let ran = publish(&["--force", "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(json_report(&ran.stdout)["published"], remote.as_str());

    // With -pp (seed-cli's spelling): the package patch version is bumped in the name and
    // in the label, and the new label is on the local image too.
    let bumped_local = "io-demo-1.0.0-seed:1.0.1";
    let _untag = Untag(bumped_local.to_string());
    let ran = publish(&["-pp", "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let report = json_report(&ran.stdout);
    let bumped = format!("{registry}/{org}/io-demo-1.0.0-seed:1.0.1");
    assert_eq!(report["published"], bumped.as_str());
    assert_eq!(report["image"], bumped_local);
    assert_eq!(report["packageVersion"], "1.0.1");
    assert_eq!(report["relabeled"], true);
    let (manifest, _) = remote_manifest(&client, &bumped).await;
    assert_eq!(manifest.job.package_version, "1.0.1");
    assert_eq!(manifest.job.job_version, "1.0.0");
    let local_label = docker(&[
        "inspect",
        "--format",
        &format!("{{{{index .Config.Labels \"{LABEL_KEY}\"}}}}"),
        bumped_local,
    ]);
    let local = manifest_from_value(decode_label(&local_label).unwrap()).unwrap();
    assert_eq!(local.manifest.job.package_version, "1.0.1");
    // The first tag is untouched.
    let (manifest, _) = remote_manifest(&client, &remote).await;
    assert_eq!(manifest.job.package_version, "1.0.0");
}

#[tokio::test]
async fn publish_to_the_auth_registry_takes_the_configured_credentials() {
    let image = example_image("io-demo");
    let registry = auth_registry();
    let org = org();
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("ades.toml");
    std::fs::write(
        &config,
        format!(
            "[[registries.credentials]]\nregistry = \"{registry}\"\nusername = \"ades\"\n\
             password = \"ades-secret\"\n"
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let publish = |extra: &[&str]| {
        let mut args = vec!["seed", "publish", &image, "-r", &registry, "-O", &org];
        args.extend_from_slice(extra);
        ades(&args)
    };

    // Without credentials the existence check is refused, with what to configure.
    let ran = publish(&[]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("refused the credentials"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("[registries] credentials"),
        "{}",
        ran.stderr
    );
    // And so is the push itself (--force skips the check).
    let ran = publish(&["--force"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("refused the push"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("[registries] credentials"),
        "{}",
        ran.stderr
    );

    // With the configuration's credentials: pushed, and readable with them.
    let ran = publish(&["-c", config, "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!ran.stderr.contains("ades-secret"), "{}", ran.stderr);
    let remote = format!("{registry}/{org}/io-demo-1.0.0-seed:1.0.0");
    assert_eq!(json_report(&ran.stdout)["published"], remote.as_str());
    let client = RegistryClient::new(RegistrySettings {
        credentials: vec![RegistryCredentials {
            registry: registry.clone(),
            username: "ades".to_string(),
            password: "ades-secret".to_string(),
        }],
        ..RegistrySettings::default()
    });
    let (manifest, _) = remote_manifest(&client, &remote).await;
    assert_eq!(manifest.job.name, "io-demo");
}

#[test]
fn publish_refuses_unknown_and_non_seed_images() {
    let registry = registry();
    let ran = ades(&[
        "seed",
        "publish",
        "no-such-image-seed:9.9.9",
        "-r",
        &registry,
    ]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("not in the local Docker engine"),
        "{}",
        ran.stderr
    );
    let ran = ades(&["seed", "publish", busybox_image(), "-r", &registry]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("not a Seed image"), "{}", ran.stderr);
    let ran = ades(&[
        "seed",
        "publish",
        busybox_image(),
        "-r",
        &registry,
        "-pp",
        "-pm",
    ]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
}

#[test]
fn batch_runs_once_per_file_and_counts_the_failures() {
    let image = example_image("io-demo");
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        std::fs::write(inputs.join(name), format!("contents of {name}\n")).unwrap();
    }
    // A directory inside the input directory is not a file: not run.
    std::fs::create_dir(inputs.join("subdir")).unwrap();
    let out = tmp.path().join("out");
    let batch = |out: &std::path::Path| {
        ades(&[
            "seed",
            "batch",
            &image,
            "-d",
            inputs.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--json",
        ])
    };

    let ran = batch(&out);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let summary = json_report(&ran.stdout);
    assert_eq!(summary["input"], "INPUT_FILE");
    assert_eq!(summary["succeeded"], 3);
    assert_eq!(summary["failed"], 0);
    for name in ["a.txt", "b.txt", "c.txt"] {
        let copied = std::fs::read_to_string(out.join(name).join("new-output.txt")).unwrap();
        assert_eq!(copied, format!("contents of {name}\n"));
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
    assert!(
        ran.stderr.contains("3 file(s): 3 succeeded, 0 failed"),
        "{}",
        ran.stderr
    );

    // A file the job cannot read (mode 000; the container never runs as root) fails its
    // run: counted, and the exit status says so; the others still succeed.
    let unreadable = inputs.join("d.txt");
    std::fs::write(&unreadable, "secret\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = tmp.path().join("out-2");
    let ran = batch(&out);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    let summary = json_report(&ran.stdout);
    assert_eq!(summary["succeeded"], 3);
    assert_eq!(summary["failed"], 1);
    let failed: Vec<&Value> = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["file"].as_str().unwrap().ends_with("d.txt"));
    assert_eq!(failed[0]["report"]["exitCode"], 1);
    assert!(
        ran.stderr.contains("4 file(s): 3 succeeded, 1 failed"),
        "{}",
        ran.stderr
    );
    assert!(out.join("a.txt/new-output.txt").is_file());
}

#[test]
fn batch_refuses_a_command_line_that_does_not_fit_before_running() {
    let image = example_image("io-demo");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), "a\n").unwrap();
    let out = tmp.path().join("out");
    let ran = ades(&[
        "seed",
        "batch",
        &image,
        "-d",
        tmp.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-i",
        "NOT_AN_INPUT",
    ]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("INPUT_FILE"), "{}", ran.stderr);
    assert!(!out.exists());
}
