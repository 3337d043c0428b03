//! Replicas sharing one PostgreSQL database: the rate of asynchronous submissions and the
//! time until 1,000 short jobs (the echo example) have all succeeded, on one replica and on
//! two. Each replica is an `ades serve` with four workers; with two, the submissions
//! alternate between them and both work the one queue. Every run gets a fresh database.
//!
//! Run: `ADES_BENCH_POSTGRES_URL=$(bash scripts/start-postgres.sh) cargo bench --bench
//! replicas` (needs Docker, busybox-static and a PostgreSQL role allowed to create
//! databases; `ADES_TEST_POSTGRES_URL` is used when `ADES_BENCH_POSTGRES_URL` is not set).
//! `ADES_BENCH_JOBS` sets the number of jobs (default 1000), `ADES_BENCH_CONCURRENCY` the
//! number of submitting clients (default 16).

mod common;

use common::{build_ades, env_or, get_json, must, postgres_url_or_exit, FreshDatabase, Server};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

const WORKERS: &str = "4";

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let postgres = postgres_url_or_exit("replicas");
    let total: usize = env_or("ADES_BENCH_JOBS", 1000);
    let clients: usize = env_or("ADES_BENCH_CONCURRENCY", 16);
    let ades = build_ades(&root);
    must(Command::new("bash").arg(root.join("examples/base/build.sh")));
    must(
        Command::new(&ades)
            .args(["seed", "build"])
            .arg(root.join("examples/echo")),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");

    println!("| replicas ({WORKERS} workers each) | submissions ({clients} clients) | all {total} successful after | jobs/s |");
    println!("| --- | --- | --- | --- |");
    for replicas in [1, 2] {
        let run = runtime.block_on(run(&ades, &postgres, replicas, total, clients));
        println!(
            "| {replicas} | {:.0} jobs/s | {:.1} s | {:.1} |",
            total as f64 / run.submitted.as_secs_f64(),
            run.done.as_secs_f64(),
            total as f64 / run.done.as_secs_f64(),
        );
    }
}

/// Times from the first submission.
struct Run {
    submitted: Duration,
    done: Duration,
}

async fn run(ades: &Path, postgres: &str, replicas: usize, total: usize, clients: usize) -> Run {
    let database = FreshDatabase::create(postgres).await;
    let workspace = tempfile::tempdir().expect("a workspace dir");
    let workspace_root = workspace.path().to_str().expect("a UTF-8 temp dir");
    let data: Vec<_> = (0..replicas)
        .map(|_| tempfile::tempdir().expect("a data dir"))
        .collect();
    let servers: Vec<_> = data
        .iter()
        .map(|dir| {
            Server::start(
                ades,
                dir.path(),
                &["--database-url", &database.url],
                &[
                    ("ADES__QUEUE__WORKERS", WORKERS),
                    ("ADES__QUEUE__POLL_SECONDS", "1"),
                    ("ADES__WORKSPACE__ROOT", workspace_root),
                    // One load generator stands for many clients: no per-address limit.
                    ("ADES__LIMITS__CLIENT_REQUESTS_IN_FLIGHT", "0"),
                ],
            )
        })
        .collect();
    for server in &servers {
        server.wait_up().await;
    }
    let bases: Vec<_> = servers.iter().map(|s| s.base.clone()).collect();

    let started = Instant::now();
    submit(&bases, total, clients).await;
    let submitted = started.elapsed();
    wait_until_idle(&bases[0]).await;
    let done = started.elapsed();

    let mut db = PgConnection::connect(&database.url)
        .await
        .expect("connect to the bench database");
    let successful: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'successful'")
            .fetch_one(&mut db)
            .await
            .expect("count the jobs");
    let _ = db.close().await;
    assert_eq!(successful, total as i64, "not every job succeeded");

    drop(servers);
    database.remove().await;
    Run { submitted, done }
}

/// Submits `total` echo jobs from `clients` concurrent clients, the n-th to replica
/// n mod replicas; every one must be accepted (201).
async fn submit(bases: &[String], total: usize, clients: usize) {
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next, bases) = (client.clone(), next.clone(), bases.to_vec());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let response = client
                    .post(format!(
                        "{}/processes/echo/execution",
                        bases[n % bases.len()]
                    ))
                    .header("Prefer", "respond-async")
                    .json(&serde_json::json!({ "inputs": { "MESSAGE": format!("job {n}") } }))
                    .send()
                    .await
                    .expect("submit");
                assert_eq!(response.status().as_u16(), 201, "submission {n}");
                assert!(response.headers().contains_key("location"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("a submitting client");
    }
}

/// Polls until no job is accepted or running (30 minutes at most).
async fn wait_until_idle(base: &str) {
    let client = reqwest::Client::new();
    let url = format!("{base}/jobs?status=accepted,running&limit=1");
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let page: serde_json::Value = get_json(&client, &url).await;
        if page["jobs"].as_array().is_some_and(|jobs| jobs.is_empty()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs did not finish in 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
