//! Shared test helpers.

pub use crate::app::{spawn_app, spawn_app_with};

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Makes sure the `ades-busybox:latest` base image exists (built by examples/base/build.sh)
/// and returns its name. Builds it at most once per test process.
pub fn busybox_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new("bash")
            .arg(repo_root().join("examples/base/build.sh"))
            .status()
            .expect("run examples/base/build.sh");
        assert!(status.success(), "examples/base/build.sh failed");
    });
    "ades-busybox:latest"
}

/// Whether the tests run as root (then ades runs job containers as 10001:10001).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// Every entry under `dir` (itself included) belongs to the user running the tests: ades
/// takes the outputs back from the container's user after a run.
pub fn assert_owned_by_us(dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata("/proc/self").unwrap().uid();
    let meta = std::fs::symlink_metadata(dir).unwrap();
    assert_eq!(meta.uid(), ours, "{} is not ours", dir.display());
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            assert_owned_by_us(&entry.unwrap().path());
        }
    }
}

/// What a run of the `ades` binary did.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the real `ades` binary with `args` and waits for it.
pub fn ades(args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_ades"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("start the ades binary");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Builds `examples/<name>` with `ades seed build` (once per test process) and returns the
/// image name it was tagged with.
pub fn example_image(name: &str) -> String {
    static BUILT: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    busybox_image();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    // Held across the build so two tests never build the same example at once.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(image) = built.get(name) {
        return image.clone();
    }
    let dir = repo_root().join("examples").join(name);
    let ran = ades(&["seed", "build", "--json", dir.to_str().unwrap()]);
    assert_eq!(
        ran.code, 0,
        "ades seed build {name} failed:\n{}",
        ran.stderr
    );
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).expect("build report");
    let image = report["image"].as_str().expect("image name").to_string();
    built.insert(name.to_string(), image.clone());
    image
}

/// Builds a Seed image `FROM ades-busybox:latest` with `ades seed build`, labelled with
/// `manifest`: with a `script`, the image runs it with `sh` (`/app/run.sh`, the command's
/// words its arguments), without one `sh` itself is the entry point. Returns the image's
/// name.
pub fn build_seed_image(manifest: &serde_json::Value, script: Option<&str>) -> String {
    busybox_image();
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = match script {
        Some(script) => {
            std::fs::write(dir.path().join("run.sh"), script).unwrap();
            "FROM ades-busybox:latest\nCOPY run.sh /app/run.sh\n\
             ENTRYPOINT [\"/bin/sh\", \"/app/run.sh\"]\n"
        }
        None => "FROM ades-busybox:latest\nENTRYPOINT [\"/bin/sh\"]\n",
    };
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.path().join("seed.manifest.json"), manifest.to_string()).unwrap();
    let built = ades(&["seed", "build", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(built.code, 0, "{}", built.stderr);
    let report: serde_json::Value = serde_json::from_str(&built.stdout).expect("build report");
    report["image"].as_str().expect("image name").to_string()
}

/// A Seed image whose job runs the shell script given as its json input `SCRIPT`
/// (`sh -c "$SCRIPT"`), declaring a single required output file `ONE` (`one-*`) and a
/// required integer json output `COUNT`: lets a test make a job misbehave in any way.
pub fn shell_job_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let manifest = serde_json::json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "ades-it-shell", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                    "title": "Shell", "description": "Runs SCRIPT",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 30,
                    "interface": {
                        "command": "-c ${SCRIPT}",
                        "inputs": {"json": [{"name": "SCRIPT", "type": "string"}]},
                        "outputs": {
                            "files": [{"name": "ONE", "pattern": "one-*"}],
                            "json": [{"name": "COUNT", "type": "integer"}]
                        }
                    }
                }
            });
            build_seed_image(&manifest, None)
        })
        .clone()
}

/// The open test registry (`host:port`, anonymous push and pull), started by
/// scripts/start-registry.sh; a test fails (never skips) without it.
pub fn registry() -> String {
    std::env::var("ADES_TEST_REGISTRY").unwrap_or_else(|_| {
        panic!(
            "ADES_TEST_REGISTRY is not set: run scripts/start-registry.sh and set \
             ADES_TEST_REGISTRY=127.0.0.1:5000 (scripts/test-all.sh does both)"
        )
    })
}

/// The test registry with basic authentication (user `ades`, password `ades-secret`).
pub fn auth_registry() -> String {
    std::env::var("ADES_TEST_AUTH_REGISTRY").unwrap_or_else(|_| {
        panic!(
            "ADES_TEST_AUTH_REGISTRY is not set: run scripts/start-registry.sh and set \
             ADES_TEST_AUTH_REGISTRY=127.0.0.1:5001 (scripts/test-all.sh does both)"
        )
    })
}

/// Runs `docker` with `args`, panicking with its output when it fails; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    assert!(
        output.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Pushes the local image `local` to `registry` as `repository:tag` (registry-qualified
/// reference returned). The local tag made for the push is removed again, so the local
/// engine keeps only `local`.
pub fn push_to_registry(local: &str, registry: &str, repository: &str, tag: &str) -> String {
    let remote = format!("{registry}/{repository}:{tag}");
    docker(&["tag", local, &remote]);
    docker(&["push", "--quiet", &remote]);
    docker(&["rmi", &remote]);
    remote
}

/// Pushes `local` to the basic-auth test registry as `repository:tag`, logging in through a
/// throw-away Docker CLI configuration so the user's own is left alone; the local tag made
/// for the push is removed again.
pub fn push_to_auth_registry(local: &str, repository: &str, tag: &str) -> String {
    use std::io::Write;
    let registry = auth_registry();
    let config = tempfile::tempdir().unwrap();
    let config_dir = config.path().to_str().unwrap();
    let mut login = std::process::Command::new("docker")
        .args([
            "--config",
            config_dir,
            "login",
            "-u",
            "ades",
            "--password-stdin",
        ])
        .arg(&registry)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run docker login");
    login
        .stdin
        .take()
        .unwrap()
        .write_all(b"ades-secret")
        .unwrap();
    assert!(
        login.wait().unwrap().success(),
        "docker login {registry} failed"
    );
    let remote = format!("{registry}/{repository}:{tag}");
    docker(&["tag", local, &remote]);
    docker(&["--config", config_dir, "push", "--quiet", &remote]);
    docker(&["rmi", &remote]);
    remote
}

/// GETs `url` and reads its JSON body; fails the test unless the answer is a success.
/// POSTs an execute request with `Prefer: respond-async`; the job's `Location`.
pub async fn submit_async(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> String {
    let response = client
        .post(url)
        .header("Prefer", "respond-async")
        .json(body)
        .send()
        .await
        .expect("POST execute");
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    response
        .headers()
        .get("location")
        .expect("Location")
        .to_str()
        .unwrap()
        .to_string()
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = client.get(url).send().await.expect("GET");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().await.expect("JSON body")
}

/// Polls the job at `job_url` until it is final (failing the test after `within`) and
/// returns its status document.
pub async fn wait_final(
    client: &reqwest::Client,
    job_url: &str,
    within: std::time::Duration,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + within;
    loop {
        let status = get_json(client, job_url).await;
        let final_status = ["successful", "failed", "dismissed"];
        if final_status.contains(&status["status"].as_str().unwrap_or("")) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job not final in time: {status:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for a server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PostgreSQL server of the tests: `ADES_TEST_POSTGRES_URL` (started by
/// scripts/start-postgres.sh) names a database on it as a role allowed to create databases.
/// A test fails (never skips) without it.
pub fn postgres_admin_url() -> String {
    std::env::var("ADES_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "ADES_TEST_POSTGRES_URL is not set: this test needs a PostgreSQL server. \
             Run scripts/start-postgres.sh and set ADES_TEST_POSTGRES_URL to the URL it prints \
             (e.g. postgres://ades:ades@127.0.0.1:5432/postgres)"
        )
    })
}

/// A PostgreSQL database made for one test on the server of [`postgres_admin_url`], dropped
/// when the value is (pass or fail).
pub struct PostgresTestDatabase {
    admin_url: String,
    name: String,
}

impl PostgresTestDatabase {
    pub async fn create() -> PostgresTestDatabase {
        use sqlx::Connection;
        let admin_url = postgres_admin_url();
        let name = format!("ades_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to ADES_TEST_POSTGRES_URL: {e}"));
        // An identifier cannot be a bound parameter; the name is ours (a UUID), not input.
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        admin.close().await.ok();
        PostgresTestDatabase { admin_url, name }
    }

    /// The database's URL (the admin URL with the database name replaced).
    pub fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{server}/{database}{query}")
}

impl Drop for PostgresTestDatabase {
    fn drop(&mut self) {
        use sqlx::Connection;
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside the test's runtime: clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        });
        // Best effort: a database left behind is only clutter.
        let _ = cleanup.join();
    }
}
