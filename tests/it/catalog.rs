//! Integration tests of catalog/ (owned by the catalog work): scans of the real engine.
//!
//! Other tests build and remove images while these run, so each case checks only the images
//! it made (unique names) or the examples, never the exact set the engine holds.

use crate::support::{busybox_image, example_image};
use ades::catalog::{Catalog, CatalogSettings, EngineState};
use ades::domain::ProcessId;
use ades::engine::docker::DockerEngine;
use ades::engine::{BuildRequest, ImageStore};
use bollard::query_parameters::TagImageOptions;
use bollard::Docker;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

async fn engine() -> Docker {
    Docker::connect_with_defaults()
        .expect("a Docker client")
        .negotiate_version()
        .await
        .expect("these tests need a running Docker engine")
}

/// The catalogue's view of the engine behind `docker`.
fn images_of(docker: Docker) -> Arc<dyn ImageStore> {
    Arc::new(DockerEngine::new(docker))
}

/// A lower-case name no other test (or earlier run) uses; never contains `-seed`.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "itcat-{prefix}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

struct ImagesToRemove(Vec<String>);

impl Drop for ImagesToRemove {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&self.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn manifest(name: &str) -> serde_json::Value {
    serde_json::json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "Catalogue test", "description": "Never run",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 10,
            "interface": {"inputs": {"json": [{"name": "TEXT", "type": "string"}]}}
        }
    })
}

/// Builds an image from the busybox base with `labels`, tagged `tag`.
async fn build_labelled(docker: &Docker, tag: &str, labels: BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {}\n", busybox_image()),
    )
    .unwrap();
    let request = BuildRequest {
        context_dir: dir.path().to_path_buf(),
        dockerfile: "Dockerfile".to_string(),
        tag: tag.to_string(),
        labels,
    };
    let mut output = String::new();
    let mut progress = |line: &str| output.push_str(line);
    if let Err(err) = DockerEngine::new(docker.clone())
        .build_image(&request, &mut progress)
        .await
    {
        panic!("building {tag} failed: {err}\n{output}");
    }
}

fn seed_label(document: &serde_json::Value) -> BTreeMap<String, String> {
    BTreeMap::from([(
        seed::label::LABEL_KEY.to_string(),
        seed::label::encode_label(document),
    )])
}

fn discovering() -> CatalogSettings {
    CatalogSettings {
        discover_local_images: true,
        images: Vec::new(),
        ..Default::default()
    }
}

fn id(text: &str) -> ProcessId {
    ProcessId::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn local_seed_images_are_published_with_their_job_names() {
    let io_demo = example_image("io-demo");
    let echo = example_image("echo");
    let catalog = Catalog::new(discovering(), Ok(images_of(engine().await)));
    assert!(catalog.list().is_empty(), "nothing before the first scan");
    catalog.rescan().await;

    assert_eq!(catalog.engine_state(), EngineState::Reachable);
    let io = catalog.get(&id("io-demo")).expect("io-demo is published");
    assert_eq!(io.version, "1.0.0");
    assert_eq!(io.title, "Input/Output Demonstration");
    assert_eq!(io.inputs[0].id, "INPUT_FILE");
    assert_eq!(io.outputs[0].id, "OUTPUT_FILE");
    let echo_process = catalog.get(&id("echo")).expect("echo is published");
    assert_eq!(echo_process.inputs[0].id, "MESSAGE");
    // The examples are the only images of these jobs (unless a test tags another one).
    assert_eq!(io.seed().unwrap().image, io_demo);
    assert_eq!(echo_process.seed().unwrap().image, echo);
    assert!(io
        .seed()
        .unwrap()
        .image_id
        .as_deref()
        .is_some_and(|id| id.starts_with("sha256:")));

    let listed: Vec<String> = catalog.list().iter().map(|p| p.id.to_string()).collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");
    assert!(listed.contains(&"io-demo".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn images_without_a_seed_label_or_with_an_invalid_one_are_skipped_with_a_reason() {
    let docker = engine().await;
    busybox_image();
    let plain_repo = format!("{}-seed", unique("nolabel"));
    let plain = format!("{plain_repo}:1.0.0");
    let invalid_name = unique("invalid");
    let invalid = format!("{invalid_name}-1.0.0-seed:1.0.0");
    let _cleanup = ImagesToRemove(vec![plain.clone(), invalid.clone()]);

    docker
        .tag_image(
            busybox_image(),
            Some(TagImageOptions {
                repo: Some(plain_repo.clone()),
                tag: Some("1.0.0".to_string()),
            }),
        )
        .await
        .unwrap();
    let mut bad = manifest(&invalid_name);
    bad["job"]["timeout"] = serde_json::json!("soon");
    build_labelled(&docker, &invalid, seed_label(&bad)).await;

    let catalog = Catalog::new(discovering(), Ok(images_of(docker)));
    catalog.rescan().await;
    assert_eq!(catalog.engine_state(), EngineState::Reachable);

    let skipped = catalog.skipped();
    let reason = |image: &str| {
        skipped
            .iter()
            .find(|s| s.image == image)
            .unwrap_or_else(|| panic!("{image} is not among the skipped: {skipped:#?}"))
            .reason
            .clone()
    };
    assert!(
        reason(&plain).contains("no com.ngageoint.seed.manifest label"),
        "{}",
        reason(&plain)
    );
    let why = reason(&invalid);
    assert!(why.contains("not a valid Seed manifest"), "{why}");
    assert!(why.contains("/job/timeout"), "{why}");

    assert!(catalog.get(&id(&invalid_name)).is_none());
    assert!(catalog
        .list()
        .iter()
        .all(|p| p.seed().unwrap().image != plain && p.seed().unwrap().image != invalid));
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_images_are_published_whatever_their_name() {
    let docker = engine().await;
    let job = unique("pinned");
    let tag = format!("{job}:1.0.0");
    let missing = format!("{}:1.0.0", unique("missing"));
    let _cleanup = ImagesToRemove(vec![tag.clone()]);
    build_labelled(&docker, &tag, seed_label(&manifest(&job))).await;

    // Only configured images: exactly the one that exists.
    let pinned_only = Catalog::new(
        CatalogSettings {
            discover_local_images: false,
            images: vec![tag.clone(), missing.clone()],
            ..Default::default()
        },
        Ok(images_of(docker.clone())),
    );
    pinned_only.rescan().await;
    assert_eq!(pinned_only.engine_state(), EngineState::Reachable);
    let ids: Vec<String> = pinned_only
        .list()
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(ids, vec![job.clone()]);
    let process = pinned_only.get(&id(&job)).unwrap();
    assert_eq!(process.seed().unwrap().image, tag);
    assert_eq!(process.inputs[0].id, "TEXT");
    let skipped = pinned_only.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:#?}");
    assert_eq!(skipped[0].image, missing);
    assert!(
        skipped[0].reason.contains("not in the local Docker engine"),
        "{}",
        skipped[0].reason
    );

    // Discovery alone does not find it (no `-seed` in its name); configured, it is added.
    let discovered = Catalog::new(discovering(), Ok(images_of(docker.clone())));
    discovered.rescan().await;
    assert!(discovered.get(&id(&job)).is_none());
    let both = Catalog::new(
        CatalogSettings {
            discover_local_images: true,
            images: vec![tag.clone()],
            ..Default::default()
        },
        Ok(images_of(docker)),
    );
    both.rescan().await;
    assert_eq!(both.get(&id(&job)).unwrap().seed().unwrap().image, tag);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_that_does_not_answer_gives_an_empty_catalogue_and_a_reason() {
    for settings in [
        discovering(),
        CatalogSettings {
            discover_local_images: false,
            images: vec!["io-demo-1.0.0-seed:1.0.0".to_string()],
            ..Default::default()
        },
    ] {
        // A socket nobody listens on any more: what a stopped engine leaves behind.
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let docker =
            Docker::connect_with_unix(socket.to_str().unwrap(), 5, bollard::API_DEFAULT_VERSION)
                .unwrap();
        let catalog = Catalog::new(settings, Ok(images_of(docker)));
        catalog.rescan().await;
        match catalog.engine_state() {
            EngineState::Unreachable(message) => {
                assert!(message.contains("cannot be reached"), "{message}")
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
        assert!(catalog.list().is_empty());
        assert!(catalog.skipped().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalogue_started_without_an_engine_connects_at_its_next_scan() {
    example_image("io-demo");
    let catalog = Catalog::new(discovering(), Err("down at start-up".to_string()));
    assert_eq!(
        catalog.engine_state(),
        EngineState::Unreachable("down at start-up".to_string())
    );
    assert!(catalog.list().is_empty());
    catalog.rescan().await;
    assert_eq!(catalog.engine_state(), EngineState::Reachable);
    assert!(catalog.get(&id("io-demo")).is_some());
}

/// Where the real engine listens.
enum Upstream {
    Unix(PathBuf),
    Tcp(String),
}

fn upstream() -> Upstream {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => Upstream::Unix(host[7..].into()),
        Ok(host) if host.starts_with("tcp://") => Upstream::Tcp(host[6..].to_string()),
        _ => Upstream::Unix("/var/run/docker.sock".into()),
    }
}

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// A socket at `path` that forwards to the real engine until `stop` is cancelled; then every
/// connection is cut and the socket file removed, as if the engine went away.
fn spawn_engine_proxy(path: &Path, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let path = path.to_path_buf();
    tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let Ok((mut client, _)) = accepted else { break };
            connections.spawn(async move {
                let mut engine: Box<dyn Duplex> = match upstream() {
                    Upstream::Unix(socket) => {
                        Box::new(tokio::net::UnixStream::connect(socket).await.unwrap())
                    }
                    Upstream::Tcp(address) => {
                        Box::new(tokio::net::TcpStream::connect(address).await.unwrap())
                    }
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
            });
        }
        connections.shutdown().await;
        drop(listener);
        let _ = std::fs::remove_file(&path);
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_outage_keeps_the_published_set_until_it_answers_again() {
    example_image("io-demo");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("engine.sock");

    let stop = CancellationToken::new();
    let proxy = spawn_engine_proxy(&socket, stop.clone());
    let docker =
        Docker::connect_with_unix(socket.to_str().unwrap(), 10, bollard::API_DEFAULT_VERSION)
            .unwrap()
            .negotiate_version()
            .await
            .unwrap();
    let catalog = Catalog::new(discovering(), Ok(images_of(docker)));
    catalog.rescan().await;
    assert_eq!(catalog.engine_state(), EngineState::Reachable);
    let before: Vec<String> = catalog.list().iter().map(|p| p.id.to_string()).collect();
    assert!(before.contains(&"io-demo".to_string()), "{before:?}");

    stop.cancel();
    proxy.await.unwrap();
    catalog.rescan().await;
    assert!(
        matches!(catalog.engine_state(), EngineState::Unreachable(_)),
        "{:?}",
        catalog.engine_state()
    );
    let during: Vec<String> = catalog.list().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(during, before);
    assert!(catalog.get(&id("io-demo")).is_some());

    let stop = CancellationToken::new();
    let proxy = spawn_engine_proxy(&socket, stop.clone());
    catalog.rescan().await;
    assert_eq!(catalog.engine_state(), EngineState::Reachable);
    assert!(catalog.get(&id("io-demo")).is_some());
    stop.cancel();
    proxy.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_built_after_the_scan_is_found_on_demand() {
    // A catalogue scanned before the image existed finds it by id once the last scan is
    // older than the on-demand age, without waiting for the periodic scan.
    let docker = engine().await;
    let catalog = ades::catalog::Catalog::new(
        ades::catalog::CatalogSettings {
            discover_local_images: true,
            images: vec![],
            ..Default::default()
        },
        Ok(images_of(docker)),
    );
    catalog.rescan().await;
    let dir = tempfile::tempdir().unwrap();
    let name = format!("ondemand{}", std::process::id());
    let manifest = serde_json::json!({
        "seedVersion": "1.0.0",
        "job": {"name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "On demand", "description": "Built after the first scan",
            "maintainer": {"name": "ades", "email": "ades@example.org"}, "timeout": 10}
    });
    std::fs::write(dir.path().join("seed.manifest.json"), manifest.to_string()).unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM ades-busybox:latest\n").unwrap();
    crate::support::busybox_image();
    let built = crate::support::ades(&["seed", "build", dir.path().to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let id = ades::domain::ProcessId::parse(&name).unwrap();
    assert!(catalog.get(&id).is_none(), "not yet scanned");
    tokio::time::sleep(ades::catalog::ON_DEMAND_SCAN_AGE).await;
    assert!(catalog.find(&id).await.is_some(), "found on demand");
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &format!("{name}-1.0.0-seed:1.0.0")])
        .output();
}
