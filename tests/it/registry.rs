//! The registry client and `ades seed search` against real registries (Debian's
//! docker-registry, started by scripts/start-registry.sh): images pushed with the real
//! `docker push`, read back without pulling.
//!
//! Every test pushes under its own `it-<uuid>` organisation, so parallel tests and reruns
//! never see each other's images.

use crate::support::{ades, auth_registry, busybox_image, docker, example_image, registry};
use ades::registry::{
    ImageReference, RegistryClient, RegistryCredentials, RegistryError, RegistrySettings,
};
use seed::label::LABEL_KEY;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

const AUTH_USER: &str = "ades";
const AUTH_PASSWORD: &str = "ades-secret";

fn unique_org() -> String {
    format!("it-{}", uuid::Uuid::new_v4().simple())
}

/// Pushes `local` as `registry/repository:tag` and returns (that reference, the digest
/// `docker push` reported). The tag made for the push is removed again.
fn push(local: &str, registry: &str, repository: &str, tag: &str) -> (String, String) {
    let remote = format!("{registry}/{repository}:{tag}");
    docker(&["tag", local, &remote]);
    let output = Command::new("docker")
        .args(["push", &remote])
        .output()
        .expect("run docker push");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    docker(&["rmi", &remote]);
    assert!(
        output.status.success(),
        "docker push {remote} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The last line reads `<tag>: digest: sha256:... size: N`.
    let digest = stdout
        .split_whitespace()
        .find(|word| word.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in the output of docker push:\n{stdout}"))
        .to_string();
    (remote, digest)
}

/// Pushes to the basic-auth registry, logged in only for the push. Serialised: `docker
/// login` and `logout` share one credentials file.
fn push_with_login(local: &str, repository: &str, tag: &str) -> (String, String) {
    static LOGIN: Mutex<()> = Mutex::new(());
    let _held = LOGIN.lock().unwrap_or_else(|e| e.into_inner());
    let registry = auth_registry();
    let mut login = Command::new("docker")
        .args(["login", &registry, "-u", AUTH_USER, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker login");
    login
        .stdin
        .take()
        .unwrap()
        .write_all(AUTH_PASSWORD.as_bytes())
        .unwrap();
    let logged_in = login.wait_with_output().unwrap();
    assert!(
        logged_in.status.success(),
        "docker login {registry} failed: {}",
        String::from_utf8_lossy(&logged_in.stderr)
    );
    let pushed = std::panic::catch_unwind(|| push(local, &registry, repository, tag));
    docker(&["logout", &registry]);
    pushed.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn anonymous() -> RegistryClient {
    RegistryClient::new(RegistrySettings::default())
}

fn with_auth(password: &str) -> RegistryClient {
    RegistryClient::new(RegistrySettings {
        credentials: vec![RegistryCredentials {
            registry: auth_registry(),
            username: AUTH_USER.to_string(),
            password: password.to_string(),
        }],
        ..RegistrySettings::default()
    })
}

fn local_label(image: &str) -> String {
    docker(&[
        "inspect",
        "--format",
        &format!("{{{{index .Config.Labels \"{LABEL_KEY}\"}}}}"),
        image,
    ])
}

// ---- the client ---------------------------------------------------------------------------

#[tokio::test]
async fn inspect_by_tag_gives_the_pushed_digest_and_the_seed_label() {
    let image = example_image("echo");
    let org = unique_org();
    let (remote, pushed_digest) = push(&image, &registry(), &format!("{org}/echo"), "1.0.0");

    let reference = ImageReference::parse(&remote).unwrap();
    let found = anonymous().inspect(&reference).await.expect("inspect");
    assert_eq!(found.digest, pushed_digest);
    assert_eq!(found.labels[LABEL_KEY], local_label(&image));
    assert!(found.created.is_some());

    // The pinned form names the same image.
    let pinned = ImageReference::parse(&reference.with_digest(&found.digest)).unwrap();
    assert_eq!(pinned.digest.as_deref(), Some(pushed_digest.as_str()));
    let again = anonymous()
        .inspect(&pinned)
        .await
        .expect("inspect by digest");
    assert_eq!(again.digest, pushed_digest);
    assert_eq!(again.labels, found.labels);

    assert!(anonymous()
        .tags(&registry(), &format!("{org}/echo"))
        .await
        .unwrap()
        .contains(&"1.0.0".to_string()));
}

#[tokio::test]
async fn an_unknown_tag_or_repository_is_not_found() {
    let org = unique_org();
    push(
        &example_image("echo"),
        &registry(),
        &format!("{org}/echo"),
        "1.0.0",
    );
    for missing in [
        format!("{}/{org}/echo:no-such-tag", registry()),
        format!("{}/{org}/no-such-repo:1.0.0", registry()),
    ] {
        let reference = ImageReference::parse(&missing).unwrap();
        match anonymous().inspect(&reference).await {
            Err(err @ RegistryError::NotFound(_)) => {
                assert!(err.to_string().contains(&missing), "{err}")
            }
            other => panic!("{missing}: expected NotFound, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_registry_says_where_it_tried() {
    let reference = ImageReference::parse("127.0.0.1:1/some/image:1").unwrap();
    match anonymous().inspect(&reference).await {
        Err(err @ RegistryError::Unreachable(..)) => {
            let message = err.to_string();
            assert!(
                message.contains("http://127.0.0.1:1/v2/some/image/manifests/1"),
                "{message}"
            );
            assert!(message.contains("running"), "{message}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }

    let ran = ades(&["seed", "search", "127.0.0.1:1"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("cannot be reached"), "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
}

#[tokio::test]
async fn the_auth_registry_needs_credentials() {
    let image = example_image("echo");
    let org = unique_org();
    let (remote, pushed_digest) = push_with_login(&image, &format!("{org}/echo"), "1.0.0");
    let reference = ImageReference::parse(&remote).unwrap();

    match anonymous().inspect(&reference).await {
        Err(err @ RegistryError::Unauthorized(..)) => {
            let message = err.to_string();
            assert!(message.contains(&auth_registry()), "{message}");
            assert!(message.contains("configure"), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    match with_auth("not-the-password").inspect(&reference).await {
        Err(err @ RegistryError::Unauthorized(..)) => {
            assert!(!err.to_string().contains("not-the-password"), "{err}")
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }

    let client = with_auth(AUTH_PASSWORD);
    let found = client
        .inspect(&reference)
        .await
        .expect("inspect with credentials");
    assert_eq!(found.digest, pushed_digest);
    assert_eq!(found.labels[LABEL_KEY], local_label(&image));
    let hits = client
        .search(&auth_registry(), Some(&org), None)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].reference, remote);
}

// ---- ades seed search ---------------------------------------------------------------------

/// Runs `ades seed search` with `password` in ADES_REGISTRY_PASSWORD or, when `stdin`, piped
/// to --password-stdin.
fn search_with_password(args: &[&str], password: &str, stdin: bool) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ades"));
    command
        .args(["seed", "search"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("ADES_REGISTRY_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if stdin {
        command.arg("--password-stdin");
    } else {
        command.env("ADES_REGISTRY_PASSWORD", password);
    }
    let mut child = command.spawn().expect("start ades");
    let mut input = child.stdin.take().unwrap();
    if stdin {
        writeln!(input, "{password}").unwrap();
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn search_lists_exactly_the_seed_images_of_an_org() {
    let registry = registry();
    let org = unique_org();
    let (echo, echo_digest) = push(
        &example_image("echo"),
        &registry,
        &format!("{org}/echo"),
        "1.0.0",
    );
    let (io_demo, _) = push(
        &example_image("io-demo"),
        &registry,
        &format!("{org}/io-demo"),
        "1.0.0",
    );
    let (plain, _) = push(
        busybox_image(),
        &registry,
        &format!("{org}/busybox"),
        "latest",
    );

    let ran = ades(&["seed", "search", &registry, "--org", &org]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two images:\n{}", ran.stdout);
    assert!(lines[0].starts_with("IMAGE"), "{}", ran.stdout);
    let echo_line = lines
        .iter()
        .find(|l| l.starts_with(&echo))
        .expect("echo listed");
    for word in [
        "Echo",
        "1.0.0",
        "MESSAGE",
        "COMPLEX_INPUT",
        "ECHO",
        "ECHOED",
    ] {
        assert!(echo_line.contains(word), "{word} in {echo_line}");
    }
    let io_line = lines
        .iter()
        .find(|l| l.starts_with(&io_demo))
        .expect("io-demo listed");
    for word in ["Input/Output Demonstration", "INPUT_FILE", "OUTPUT_FILE"] {
        assert!(io_line.contains(word), "{word} in {io_line}");
    }
    assert!(!ran.stdout.contains(&plain), "{}", ran.stdout);

    let ran = ades(&["seed", "search", &registry, "--org", &org, "--json"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let found: Vec<Value> = serde_json::from_str(&ran.stdout).expect("a JSON array");
    let images: Vec<&str> = found.iter().map(|f| f["image"].as_str().unwrap()).collect();
    assert_eq!(images, vec![echo.as_str(), io_demo.as_str()]);
    let echo_found = &found[0];
    assert_eq!(echo_found["digest"], echo_digest.as_str());
    assert_eq!(echo_found["name"], "echo");
    assert_eq!(echo_found["title"], "Echo");
    assert_eq!(echo_found["jobVersion"], "1.0.0");
    assert_eq!(echo_found["packageVersion"], "1.0.0");
    assert_eq!(
        echo_found["inputs"],
        serde_json::json!(["COMPLEX_INPUT", "MESSAGE", "REPEAT"])
    );
    assert_eq!(
        echo_found["outputs"],
        serde_json::json!(["ECHO", "COMPLEX_ECHO", "ECHOED"])
    );

    // --filter narrows, case-insensitively, on the title among others.
    let ran = ades(&[
        "seed",
        "search",
        &registry,
        "--org",
        &org,
        "--json",
        "--filter",
        "input/OUTPUT",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let found: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(found.len(), 1, "{}", ran.stdout);
    assert_eq!(found[0]["image"], io_demo.as_str());

    // No hit is still a successful answer.
    let ran = ades(&[
        "seed",
        "search",
        &registry,
        "--org",
        &org,
        "--filter",
        "no-such-thing",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "{}", ran.stdout);
    assert!(
        ran.stderr.contains("No Seed images found"),
        "{}",
        ran.stderr
    );
    let ran = ades(&[
        "seed",
        "search",
        &registry,
        "--org",
        &unique_org(),
        "--json",
    ]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), "[]");
}

#[test]
fn search_logs_in_with_a_password_from_stdin_or_the_environment() {
    let registry = auth_registry();
    let org = unique_org();
    let (echo, _) = push_with_login(&example_image("echo"), &format!("{org}/echo"), "1.0.0");

    let ran = ades(&["seed", "search", &registry, "--org", &org]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("credentials"), "{}", ran.stderr);

    for stdin in [true, false] {
        let args = ["--org", &org, "--username", AUTH_USER, "--json", &registry];
        let (code, stdout, stderr) = search_with_password(&args, AUTH_PASSWORD, stdin);
        assert_eq!(code, 0, "stdin={stdin}: {stderr}");
        let found: Vec<Value> = serde_json::from_str(&stdout).unwrap();
        assert_eq!(found.len(), 1, "{stdout}");
        assert_eq!(found[0]["image"], echo.as_str());

        let (code, _, stderr) = search_with_password(&args, "wrong-pw", stdin);
        assert_eq!(code, 1, "stdin={stdin}: {stderr}");
        assert!(
            stderr.contains("check the username and password"),
            "{stderr}"
        );
        assert!(!stderr.contains("wrong-pw"), "{stderr}");
    }
}
