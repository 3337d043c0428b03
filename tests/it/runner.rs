//! Tests of the Docker runner and the image functions against the real engine.
//!
//! Every case uses its own run id or image tag (the suite runs in parallel threads) and
//! checks afterwards that no container with its run id is left.

use crate::support::{
    self, auth_registry, busybox_image, push_to_auth_registry, push_to_registry, registry,
};
use ades::engine::docker::DockerEngine;
use ades::engine::{
    BindMount, Confinement, ContainerExit, ContainerRunner, ContainerSpec, Limits, LogSink,
    RunnerError, RUN_ID_LABEL,
};
use ades::engine::{BuildRequest, ImageError, ImageStore};
use ades::registry::RegistryCredentials;
use bollard::query_parameters::{ListContainersOptions, TagImageOptions};
use bollard::Docker;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MIB: i64 = 1024 * 1024;

#[derive(Default)]
struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    statuses: Vec<String>,
}

impl Collected {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

impl LogSink for Collected {
    fn stdout(&mut self, chunk: &[u8]) {
        self.stdout.extend_from_slice(chunk);
    }
    fn stderr(&mut self, chunk: &[u8]) {
        self.stderr.extend_from_slice(chunk);
    }
    fn status(&mut self, message: &str) {
        self.statuses.push(message.to_string());
    }
}

/// A name no other test (or earlier run of this one) uses.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "it-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn engine() -> Docker {
    Docker::connect_with_defaults()
        .expect("a Docker client")
        .negotiate_version()
        .await
        .expect("these tests need a running Docker engine")
}

fn shell(run_id: &str, script: &str) -> ContainerSpec {
    ContainerSpec {
        working_dir: None,
        image: busybox_image().to_string(),
        args: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: Vec::new(),
        binds: Vec::new(),
        limits: Limits::default(),
        confinement: Confinement::default(),
        labels: BTreeMap::new(),
        run_id: run_id.to_string(),
        timeout: Duration::from_secs(60),
        user: None,
        network: None,
        keep_after_exit: false,
    }
}

/// Runs a spec to completion and checks that its container is gone afterwards.
async fn run(
    docker: &Docker,
    spec: &ContainerSpec,
) -> (Result<ContainerExit, RunnerError>, Collected) {
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker.clone())
        .run(spec, CancellationToken::new(), &mut logs)
        .await;
    assert_no_container(docker, &spec.run_id).await;
    (result, logs)
}

async fn containers_with_run_id(docker: &Docker, run_id: &str) -> usize {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{RUN_ID_LABEL}={run_id}")],
    )]);
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .len()
}

async fn assert_no_container(docker: &Docker, run_id: &str) {
    assert_eq!(
        containers_with_run_id(docker, run_id).await,
        0,
        "a container labelled {RUN_ID_LABEL}={run_id} was left behind"
    );
}

/// Removes the listed image references when dropped, even when the test failed.
struct ImagesToRemove(Vec<String>);

impl Drop for ImagesToRemove {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&self.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

async fn build(
    docker: &Docker,
    dir: &Path,
    dockerfile: &str,
    tag: &str,
    labels: BTreeMap<String, String>,
) -> (Result<String, ImageError>, String) {
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let request = BuildRequest {
        context_dir: dir.to_path_buf(),
        dockerfile: "Dockerfile".to_string(),
        tag: tag.to_string(),
        labels,
    };
    let mut output = String::new();
    let mut progress = |line: &str| output.push_str(line);
    let result = DockerEngine::new(docker.clone())
        .build_image(&request, &mut progress)
        .await;
    (result, output)
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_propagate() {
    let docker = engine().await;
    let (zero, _) = run(&docker, &shell(&unique("exit0"), "exit 0")).await;
    assert_eq!(zero.unwrap(), ContainerExit::Exited(0));
    let (three, _) = run(&docker, &shell(&unique("exit3"), "exit 3")).await;
    assert_eq!(three.unwrap(), ContainerExit::Exited(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn env_reaches_the_process() {
    let docker = engine().await;
    let mut spec = shell(&unique("env"), "echo \"[$GREETING] [$OUTPUT_DIR]\"");
    spec.env = vec![
        ("GREETING".into(), "hello world".into()),
        ("OUTPUT_DIR".into(), "/out".into()),
    ];
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "[hello world] [/out]\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn stdout_and_stderr_arrive_separately() {
    let docker = engine().await;
    let spec = shell(
        &unique("streams"),
        "echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2",
    );
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "out-1\nout-2\n");
    assert_eq!(logs.err(), "err-1\nerr-2\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn all_output_is_delivered_before_run_returns() {
    let docker = engine().await;
    // Lots of output right before a fast exit: the tail must not be lost.
    let spec = shell(&unique("drain"), "seq 1 50000; seq 1 3000 >&2; exit 5");
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(5));
    let out = logs.out();
    assert_eq!(out.lines().count(), 50000);
    assert_eq!(out.lines().last(), Some("50000"));
    assert_eq!(logs.err().lines().last(), Some("3000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn args_replace_cmd_and_keep_entrypoint() {
    let docker = engine().await;
    let tag = format!("{}:latest", unique("entrypoint"));
    let _cleanup = ImagesToRemove(vec![tag.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {}\nENTRYPOINT [\"echo\", \"entry\"]\nCMD [\"default-cmd\"]\n",
        busybox_image()
    );
    let (built, output) = build(&docker, dir.path(), &dockerfile, &tag, BTreeMap::new()).await;
    built.unwrap_or_else(|err| panic!("build failed: {err}\n{output}"));

    let mut spec = shell(&unique("cmd-kept"), "");
    spec.image = tag.clone();
    spec.args = None;
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "entry default-cmd\n");

    let mut spec = shell(&unique("cmd-replaced"), "");
    spec.image = tag.clone();
    spec.args = Some(vec!["given".into(), "two words".into()]);
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "entry given two words\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_bind_cannot_be_written_and_read_write_bind_can() {
    let docker = engine().await;
    let input = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    std::fs::write(input.path().join("in.txt"), "input data").unwrap();
    let mut spec = shell(
        &unique("binds"),
        "cat /in/in.txt; echo; \
         if touch /in/new 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; \
         echo result > $OUTPUT_DIR/out.txt && echo rw-written",
    );
    spec.env = vec![("OUTPUT_DIR".into(), "/out".into())];
    spec.binds = vec![
        BindMount {
            host: input.path().to_path_buf(),
            container: "/in".into(),
            read_only: true,
        },
        BindMount {
            host: output.path().to_path_buf(),
            container: "/out".into(),
            read_only: false,
        },
    ];
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0), "{}", logs.err());
    assert_eq!(logs.out(), "input data\nro-refused\nrw-written\n");
    assert!(!input.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(output.path().join("out.txt")).unwrap(),
        "result\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_limit_is_applied() {
    let docker = engine().await;
    // cgroup v1 first (this host), v2 as a fallback.
    let mut spec = shell(
        &unique("memory"),
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    );
    spec.limits.memory_bytes = Some(64 * MIB);
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0), "{}", logs.err());
    assert_eq!(logs.out().trim(), (64 * MIB).to_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn going_over_the_memory_limit_is_out_of_memory() {
    let docker = engine().await;
    // A shell variable of 64 MB in a container limited to 16 MiB (no swap).
    let mut spec = shell(
        &unique("oom"),
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}",
    );
    spec.limits.memory_bytes = Some(16 * MIB);
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(
        result.unwrap(),
        ContainerExit::OutOfMemory,
        "{}",
        logs.err()
    );

    // A plain non-zero exit is not mistaken for one.
    let spec = shell(&unique("not-oom"), "exit 137");
    let (result, _) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(137));
}

#[tokio::test(flavor = "multi_thread")]
async fn shm_size_is_applied() {
    let docker = engine().await;
    let mut spec = shell(&unique("shm"), "df -k /dev/shm");
    spec.limits.shm_bytes = Some(32 * MIB);
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0), "{}", logs.err());
    let out = logs.out();
    let blocks = out
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("unexpected df output: {out}"));
    assert_eq!(blocks, "32768", "df output: {out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn container_is_hardened_and_offline() {
    let docker = engine().await;
    let spec = shell(
        &unique("hardening"),
        "grep -E '^(NoNewPrivs|CapEff|CapBnd|Seccomp):' /proc/self/status; \
         echo nofile $(ulimit -n) core $(ulimit -c); \
         touch /probe 2>/dev/null && echo root writable || echo root read-only; \
         touch /tmp/probe && echo tmp writable; \
         printf '#!/bin/sh\\necho ran\\n' > /tmp/x.sh; chmod +x /tmp/x.sh; \
         /tmp/x.sh 2>/dev/null || echo tmp noexec; \
         awk '$5 == \"/tmp\" { print \"tmp mount\", $9, $10, $11 }' /proc/self/mountinfo; \
         cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; \
         ls /sys/class/net",
    );
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0), "{}", logs.err());
    let out = logs.out();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    // Seccomp 2: the engine's default filter is on.
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(lines.contains(&"nofile 4096 core 0"), "{out}");
    assert!(lines.contains(&"root read-only"), "{out}");
    assert!(lines.contains(&"tmp writable"), "{out}");
    assert!(lines.contains(&"tmp noexec"), "{out}");
    assert!(!lines.contains(&"ran"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("tmp mount tmpfs") && l.contains("size=65536k")),
        "{out}"
    );
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000000"), "{out}");
    assert!(lines.contains(&"4096"), "pids limit missing: {out}");
    // Network "none": only the loopback interface exists.
    assert_eq!(lines.last(), Some(&"lo"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loosened_confinement_gives_a_writable_root_and_more_pids() {
    let docker = engine().await;
    let mut spec = shell(
        &unique("loosened"),
        "touch /probe && echo root writable; \
         cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
    );
    spec.confinement = Confinement {
        read_only_root: false,
        tmp_bytes: None,
        pids_limit: 5000,
        ..Confinement::default()
    };
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0), "{}", logs.err());
    let out = logs.out();
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["root writable", "5000"], "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_kills_the_container() {
    let docker = engine().await;
    let mut spec = shell(&unique("timeout"), "echo started; sleep 30");
    spec.timeout = Duration::from_secs(2);
    let began = Instant::now();
    let (result, logs) = run(&docker, &spec).await;
    let took = began.elapsed();
    assert_eq!(result.unwrap(), ContainerExit::TimedOut);
    assert!(took >= Duration::from_secs(2), "returned after {took:?}");
    assert!(took < Duration::from_secs(12), "returned after {took:?}");
    assert_eq!(logs.out(), "started\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_kills_the_container_quickly() {
    let docker = engine().await;
    let spec = shell(&unique("cancel"), "echo started; sleep 30");
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let cancelled_at = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        trigger.cancel();
        Instant::now()
    });
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker.clone())
        .run(&spec, cancel, &mut logs)
        .await;
    let returned = Instant::now();
    let cancelled_at = cancelled_at.await.unwrap();
    assert_eq!(result.unwrap(), ContainerExit::Cancelled);
    let took = returned.duration_since(cancelled_at);
    assert!(took < Duration::from_secs(10), "took {took:?} after cancel");
    assert_no_container(&docker, &spec.run_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_before_start_runs_nothing() {
    let docker = engine().await;
    let spec = shell(&unique("precancel"), "exit 0");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker.clone())
        .run(&spec, cancel, &mut logs)
        .await;
    assert_eq!(result.unwrap(), ContainerExit::Cancelled);
    assert_no_container(&docker, &spec.run_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_run_removes_the_container() {
    let docker = engine().await;
    let spec = shell(&unique("dropped"), "sleep 30");
    let mut logs = Collected::default();
    let runner = DockerEngine::new(docker.clone());
    let run = runner.run(&spec, CancellationToken::new(), &mut logs);
    // Give up on the run while the container is running; the future is dropped.
    let gave_up = tokio::time::timeout(Duration::from_secs(3), run).await;
    assert!(gave_up.is_err(), "the run ended by itself: {gave_up:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while containers_with_run_id(&docker, &spec.run_id).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the container of a dropped run was not removed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_local_image_fails_its_pull_with_a_build_hint() {
    // Without a registry in its name the image would come from Docker Hub, which this
    // machine may not reach: either way the pull fails, and the hint covers the likelier
    // mistake of a local image that was never built.
    let docker = engine().await;
    let mut spec = shell(&unique("noimage"), "exit 0");
    spec.image = format!("{}:latest", unique("missing-image"));
    let (result, _) = run(&docker, &spec).await;
    match result {
        Err(RunnerError::PullFailed(message)) => {
            assert!(message.contains(&spec.image), "{message}");
            assert!(message.contains("ades seed build"), "{message}");
        }
        other => panic!("expected PullFailed, got {other:?}"),
    }
}

/// The repository of a test image in a registry: unique, so the engine never has it yet.
fn unique_repository(prefix: &str) -> String {
    format!("ades-it/{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn image_is_local(reference: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", reference])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the docker CLI")
        .success()
}

/// Builds an image with a layer of its own (so pulling it downloads something), pushes it to
/// the open test registry as `repository:1` and removes it from the engine again.
fn push_image_with_a_new_layer(repository: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\nCOPY stamp /stamp\n", busybox_image()),
    )
    .unwrap();
    std::fs::write(dir.path().join("stamp"), repository).unwrap();
    let remote = format!("{}/{repository}:1", registry());
    support::docker(&["build", "-q", "-t", &remote, dir.path().to_str().unwrap()]);
    support::docker(&["push", "--quiet", &remote]);
    // The only tag: removing it removes the image and its new layer.
    support::docker(&["rmi", &remote]);
    remote
}

fn auth_credentials(password: &str) -> Vec<RegistryCredentials> {
    vec![RegistryCredentials {
        registry: auth_registry(),
        username: "ades".to_string(),
        password: password.to_string(),
    }]
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absent_image_is_pulled_then_run_with_progress_reported() {
    let docker = engine().await;
    let remote = push_image_with_a_new_layer(&unique_repository("pull"));
    let _cleanup = ImagesToRemove(vec![remote.clone()]);
    assert!(
        !image_is_local(&remote),
        "{remote} is already in the engine"
    );

    let mut spec = shell(&unique("pulled"), "echo pulled-and-ran");
    spec.image = remote.clone();
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "pulled-and-ran\n");
    assert_eq!(
        logs.statuses.first().map(String::as_str),
        Some(format!("pulling image {remote}").as_str()),
        "{:?}",
        logs.statuses
    );
    assert!(
        logs.statuses
            .iter()
            .any(|s| s.starts_with(&format!("pulling image {remote}: "))
                && s.ends_with("layers done")),
        "no layer progress in {:?}",
        logs.statuses
    );
    assert!(
        logs.statuses
            .last()
            .unwrap()
            .starts_with(&format!("pulled image {remote}")),
        "{:?}",
        logs.statuses
    );
    assert!(image_is_local(&remote));

    // Present now: the next run pulls nothing.
    let spec = ContainerSpec {
        run_id: unique("pulled-again"),
        ..spec
    };
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert!(logs.statuses.is_empty(), "{:?}", logs.statuses);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_of_one_absent_digest_reference_share_one_pull() {
    let docker = engine().await;
    let repository = unique_repository("digest");
    let registry = registry();
    push_to_registry(busybox_image(), &registry, &repository, "1");
    // The digest the registry holds for the tag, as a client pinning the image would use it.
    let head = std::process::Command::new("curl")
        .args(["-sfI", "-H"])
        .arg("Accept: application/vnd.docker.distribution.manifest.v2+json")
        .arg(format!("http://{registry}/v2/{repository}/manifests/1"))
        .output()
        .expect("run curl");
    let headers = String::from_utf8_lossy(&head.stdout).to_string();
    let digest = headers
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("docker-content-digest")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no digest in {headers}"));
    let pinned = format!("{registry}/{repository}@{digest}");
    let _cleanup = ImagesToRemove(vec![pinned.clone()]);
    assert!(
        !image_is_local(&pinned),
        "{pinned} is already in the engine"
    );

    let runner = DockerEngine::new(docker.clone());
    let spec = |name: &str| ContainerSpec {
        working_dir: None,
        image: pinned.clone(),
        ..shell(&unique(name), "echo ok")
    };
    let (first, second) = (spec("digest-a"), spec("digest-b"));
    let (mut logs_a, mut logs_b) = (Collected::default(), Collected::default());
    let (a, b) = tokio::join!(
        runner.run(&first, CancellationToken::new(), &mut logs_a),
        runner.run(&second, CancellationToken::new(), &mut logs_b),
    );
    assert_eq!(a.unwrap(), ContainerExit::Exited(0));
    assert_eq!(b.unwrap(), ContainerExit::Exited(0));
    assert_eq!((logs_a.out(), logs_b.out()), ("ok\n".into(), "ok\n".into()));
    let pulls = logs_a
        .statuses
        .iter()
        .chain(&logs_b.statuses)
        .filter(|s| **s == format!("pulling image {pinned}"))
        .count();
    assert_eq!(pulls, 1, "{:?} {:?}", logs_a.statuses, logs_b.statuses);
    assert_no_container(&docker, &first.run_id).await;
    assert_no_container(&docker, &second.run_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_missing_from_the_registry_fails_the_pull() {
    let docker = engine().await;
    let mut spec = shell(&unique("not-in-registry"), "exit 0");
    spec.image = format!("{}/{}:1", registry(), unique_repository("never-pushed"));
    let (result, logs) = run(&docker, &spec).await;
    match result {
        Err(RunnerError::PullFailed(message)) => {
            assert!(message.contains(&spec.image), "{message}");
            assert!(message.contains("manifest unknown"), "{message}");
            assert!(
                message.contains(&format!("exist in {}", registry())),
                "{message}"
            );
        }
        other => panic!("expected PullFailed, got {other:?}"),
    }
    assert_eq!(logs.statuses, vec![format!("pulling image {}", spec.image)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auth_registry_needs_the_configured_credentials() {
    let docker = engine().await;
    let remote = push_to_auth_registry(busybox_image(), &unique_repository("auth"), "1");
    let _cleanup = ImagesToRemove(vec![remote.clone()]);
    let mut spec = shell(&unique("auth-none"), "echo authorised");
    spec.image = remote.clone();

    // No credentials, then wrong ones: refused, and the message says what to configure.
    let (result, _) = run(&docker, &spec).await;
    match result {
        Err(RunnerError::PullFailed(message)) => {
            assert!(message.contains(&remote), "{message}");
            assert!(
                message.contains(&format!("{} requires credentials", auth_registry())),
                "{message}"
            );
        }
        other => panic!("expected PullFailed, got {other:?}"),
    }
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker.clone())
        .with_registry_credentials(auth_credentials("wrong-password"))
        .run(&spec, CancellationToken::new(), &mut logs)
        .await;
    match result {
        Err(RunnerError::PullFailed(message)) => {
            assert!(message.contains("refused the credentials"), "{message}");
            assert!(!message.contains("wrong-password"), "{message}");
        }
        other => panic!("expected PullFailed, got {other:?}"),
    }
    assert!(!image_is_local(&remote));

    // The right ones: pulled and run.
    let spec = ContainerSpec {
        run_id: unique("auth-ok"),
        ..spec
    };
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker.clone())
        .with_registry_credentials(auth_credentials("ades-secret"))
        .run(&spec, CancellationToken::new(), &mut logs)
        .await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "authorised\n");
    assert_no_container(&docker, &spec.run_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_refusals_are_rejected_with_its_message() {
    let docker = engine().await;
    // Below Docker's minimum memory limit (6 MiB).
    let mut spec = shell(&unique("tiny-memory"), "exit 0");
    spec.limits.memory_bytes = Some(MIB);
    let (result, _) = run(&docker, &spec).await;
    match result {
        Err(RunnerError::Rejected(message)) => {
            assert!(message.to_lowercase().contains("memory"), "{message}")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }

    // A bind of a host path that does not exist.
    let mut spec = shell(&unique("bad-bind"), "exit 0");
    spec.binds = vec![BindMount {
        host: "/nonexistent/ades-it/input".into(),
        container: "/in".into(),
        read_only: true,
    }];
    let (result, _) = run(&docker, &spec).await;
    match result {
        Err(RunnerError::Rejected(message)) => {
            assert!(message.contains("/nonexistent/ades-it/input"), "{message}")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn built_image_carries_its_label_and_is_listed_when_seed_named() {
    let docker = engine().await;
    let base = unique("image");
    let seed_tag = format!("{base}-seed:1.0.0");
    let plain_repo = format!("{base}-plain");
    let plain_tag = format!("{plain_repo}:1.0.0");
    let _cleanup = ImagesToRemove(vec![seed_tag.clone(), plain_tag.clone()]);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.txt"), "context file\n").unwrap();
    std::fs::create_dir(dir.path().join("target")).unwrap();
    std::fs::write(dir.path().join("target/skipped.txt"), "not sent\n").unwrap();
    let label = r#"{"seedVersion":"1.0.0","job":{"name":"x","command":"${IN} \"q\""}}"#;
    let labels = BTreeMap::from([
        (seed::label::LABEL_KEY.to_string(), label.to_string()),
        ("org.ades.test".to_string(), "yes".to_string()),
    ]);
    let dockerfile = format!(
        "FROM {}\nCOPY data.txt /data.txt\nCOPY . /context/\n",
        busybox_image()
    );
    let (built, output) = build(&docker, dir.path(), &dockerfile, &seed_tag, labels).await;
    let id = built.unwrap_or_else(|err| panic!("build failed: {err}\n{output}"));
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(output.contains("Step 1/"), "progress output: {output}");

    let inspected = DockerEngine::new(docker.clone())
        .inspect_image(&seed_tag)
        .await
        .unwrap();
    assert_eq!(inspected.id, id);
    assert_eq!(inspected.label.as_deref(), Some(label));
    assert!(inspected.created.is_some());
    assert!(inspected.size_bytes.unwrap_or(0) > 0);

    // The context left out target/, and the file copied by name is there.
    let mut spec = shell(&unique("context"), "cat /data.txt; ls /context");
    spec.image = seed_tag.clone();
    let (result, logs) = run(&docker, &spec).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "context file\nDockerfile\ndata.txt\n");

    docker
        .tag_image(
            &seed_tag,
            Some(TagImageOptions {
                repo: Some(plain_repo.clone()),
                tag: Some("1.0.0".to_string()),
            }),
        )
        .await
        .unwrap();
    let listed = DockerEngine::new(docker.clone())
        .list_seed_images()
        .await
        .unwrap();
    let references: Vec<&str> = listed.iter().map(|i| i.reference.as_str()).collect();
    assert!(references.contains(&seed_tag.as_str()), "{references:?}");
    assert!(!references.contains(&plain_tag.as_str()), "{references:?}");
    assert!(references.windows(2).all(|w| w[0] < w[1]), "{references:?}");
    let entry = listed.iter().find(|i| i.reference == seed_tag).unwrap();
    assert_eq!(entry.id, id);
    assert_eq!(entry.label.as_deref(), Some(label));
    assert!(entry.created.as_deref().is_some_and(|c| c.contains('T')));
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_build_is_build_failed_with_the_engine_message() {
    let docker = engine().await;
    let tag = format!("{}:latest", unique("broken"));
    let _cleanup = ImagesToRemove(vec![tag.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {}\nRUN echo about to fail && exit 7\n",
        busybox_image()
    );
    let (built, output) = build(&docker, dir.path(), &dockerfile, &tag, BTreeMap::new()).await;
    match built {
        Err(ImageError::BuildFailed(message)) => {
            assert!(message.contains("returned a non-zero code: 7"), "{message}")
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    assert!(
        output.contains("about to fail"),
        "progress output: {output}"
    );
    assert!(matches!(
        DockerEngine::new(docker.clone()).inspect_image(&tag).await,
        Err(ImageError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn inspecting_a_missing_image_is_not_found() {
    let docker = engine().await;
    let reference = format!("{}:latest", unique("absent"));
    match DockerEngine::new(docker.clone())
        .inspect_image(&reference)
        .await
    {
        Err(ImageError::NotFound(name)) => assert_eq!(name, reference),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_engine_is_engine_unavailable_with_a_hint() {
    // A path that exists but is no socket: connecting fails like a stopped daemon.
    let dir = tempfile::tempdir().unwrap();
    let fake_socket = dir.path().join("docker.sock");
    std::fs::write(&fake_socket, "").unwrap();
    let docker = Docker::connect_with_unix(
        &format!("unix://{}", fake_socket.display()),
        5,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap();
    let spec = shell(&unique("no-engine"), "exit 0");
    let mut logs = Collected::default();
    let result = DockerEngine::new(docker)
        .run(&spec, CancellationToken::new(), &mut logs)
        .await;
    match result {
        Err(RunnerError::EngineUnavailable(message)) => {
            assert!(message.contains("dockerd"), "{message}")
        }
        other => panic!("expected EngineUnavailable, got {other:?}"),
    }
}

/// Remembers when each stdout chunk arrived.
#[derive(Default)]
struct Timed {
    stdout: Vec<(Instant, String)>,
}

impl LogSink for Timed {
    fn stdout(&mut self, chunk: &[u8]) {
        self.stdout
            .push((Instant::now(), String::from_utf8_lossy(chunk).into_owned()));
    }
    fn stderr(&mut self, _chunk: &[u8]) {}
}

#[tokio::test(flavor = "multi_thread")]
async fn output_streams_while_the_container_runs() {
    let docker = engine().await;
    let spec = shell(&unique("live"), "echo early; sleep 3; echo late");
    let mut logs = Timed::default();
    let result = DockerEngine::new(docker.clone())
        .run(&spec, CancellationToken::new(), &mut logs)
        .await;
    let returned = Instant::now();
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    let (first_at, first) = logs.stdout.first().expect("no output").clone();
    assert_eq!(first, "early\n");
    assert!(
        returned.duration_since(first_at) >= Duration::from_secs(2),
        "the first line only arrived at the end"
    );
    let all: String = logs.stdout.iter().map(|(_, text)| text.as_str()).collect();
    assert_eq!(all, "early\nlate\n");
    assert_no_container(&docker, &spec.run_id).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_outlast_the_client_request_timeout() {
    // bollard's request timeout bounds each request's response headers; a run longer than
    // it must still be waited for (the real default is 2 minutes; 1 s here).
    let docker = engine().await.with_timeout(Duration::from_secs(1));
    let (result, logs) = run(&docker, &shell(&unique("long"), "sleep 3; echo done")).await;
    assert_eq!(result.unwrap(), ContainerExit::Exited(0));
    assert_eq!(logs.out(), "done\n");
}
