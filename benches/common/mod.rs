//! What the benchmarks share: building the release binary, running a command that must
//! succeed, running `ades serve` as a child process, and fresh PostgreSQL databases.

// Each benchmark compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

/// Builds `target/release/ades` and returns its path.
pub fn build_ades(root: &Path) -> PathBuf {
    must(
        Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "ades"])
            .current_dir(root),
    );
    root.join("target/release/ades")
}

/// Runs `cmd`, its stdout discarded; panics with its stderr when it fails.
pub fn must(cmd: &mut Command) {
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("start a benchmark command");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The value of environment variable `name`, parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A running `ades serve`, stopped (SIGTERM, then waited for) when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Server {
    /// Starts `ades serve` on a free loopback port with `data` as its data directory,
    /// `args` after those, and `env` (`ADES__...` settings) on top of a quiet log and no
    /// catalog re-scans.
    pub fn start(ades: &Path, data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(ades)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .env("ADES__CATALOG__RESCAN_SECONDS", "0")
            .env("ADES__LOG__LEVEL", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ades serve");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until the server answers `GET /` (30 s at most).
    pub async fn wait_up(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{}/", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "ades serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL server to use: `ADES_BENCH_POSTGRES_URL`, else `ADES_TEST_POSTGRES_URL`
/// (the URL of any database on it; `scripts/start-postgres.sh` prints one). Exits with a
/// message when neither is set.
pub fn postgres_url_or_exit(bench: &str) -> String {
    std::env::var("ADES_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("ADES_TEST_POSTGRES_URL"))
        .unwrap_or_else(|_| {
            eprintln!(
                "the {bench} benchmark needs PostgreSQL: set ADES_BENCH_POSTGRES_URL (or \
                 ADES_TEST_POSTGRES_URL), e.g. to the URL `bash scripts/start-postgres.sh` prints"
            );
            std::process::exit(2)
        })
}

/// A database made for one run on the server of `server_url`, dropped by `remove`.
pub struct FreshDatabase {
    name: String,
    admin_url: String,
    /// The URL of the new database.
    pub url: String,
}

impl FreshDatabase {
    /// Creates `ades_bench_<random>` through the server's `postgres` database.
    pub async fn create(server_url: &str) -> FreshDatabase {
        let name = format!("ades_bench_{}", uuid::Uuid::new_v4().simple());
        let with_db = |db: &str| {
            let mut url = url::Url::parse(server_url).expect("a PostgreSQL URL");
            url.set_path(db);
            url.to_string()
        };
        let admin_url = with_db("postgres");
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the postgres database");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        let _ = admin.close().await;
        FreshDatabase {
            url: with_db(&name),
            name,
            admin_url,
        }
    }

    /// Drops the database (after every server using it has stopped).
    pub async fn remove(self) {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect to the postgres database");
        admin
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await
            .expect("DROP DATABASE");
        let _ = admin.close().await;
    }
}

/// The `q` quantile (0..=1) of `sorted` (ascending), in milliseconds.
/// GETs `url` and reads its JSON body; panics (failing the benchmark) on any error.
pub async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}
