//! How fast the SQLite job store commits new jobs: `insert_job` straight on the store (no
//! HTTP), each job committed and synced to disk (`synchronous = FULL`) before the call
//! returns, from one task after another, then from 8 and from 64 tasks at once (their
//! submissions share transactions: `store::group_commit`). A fresh database file in a temporary directory (under `TMPDIR`, so point
//! that at the disk the data directory would be on).
//!
//! Run: `cargo bench --bench sqlite_insert`. `ADES_BENCH_JOBS` sets the jobs per run
//! (default 2000).

mod common;

use common::{env_or, quantile_ms};

use std::sync::Arc;
use std::time::{Duration, Instant};

use ades::domain::{JobId, ProcessId};
use ades::store::sqlite::SqliteStore;
use ades::store::{JobStore, NewJob};
use time::OffsetDateTime;

/// Tasks inserting at once in each run: one after another, then as a busy server's
/// clients would.
const TASKS: [usize; 3] = [1, 8, 64];

fn new_job() -> NewJob {
    NewJob {
        id: JobId::new(),
        process_id: ProcessId::parse("io-demo").expect("a process id"),
        request: Default::default(),
        priority: 0,
        owner: None,
        step_of: None,
        workflow: false,
        submitted_by: None,
    }
}

/// Inserts `jobs` jobs from `tasks` tasks; returns the wall time and each insert's latency,
/// sorted.
async fn insert(store: &Arc<SqliteStore>, jobs: usize, tasks: usize) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = store.clone();
        let share = jobs / tasks + usize::from(task < jobs % tasks);
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let one = Instant::now();
                store
                    .insert_job(new_job(), OffsetDateTime::now_utc())
                    .await
                    .expect("insert a job");
                latencies.push(one.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(jobs);
    for handle in handles {
        latencies.extend(handle.await.expect("an insert task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    (elapsed, latencies)
}

fn report(label: &str, jobs: usize, (elapsed, latencies): &(Duration, Vec<Duration>)) {
    println!(
        "{label:<24} {jobs} jobs in {:.3} s = {:.0} jobs/s (p50 {:.2} ms, p99 {:.2} ms)",
        elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        quantile_ms(latencies, 0.50),
        quantile_ms(latencies, 0.99),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs: usize = env_or("ADES_BENCH_JOBS", 2_000).max(64);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("insert.db");
    let store = Arc::new(
        SqliteStore::connect(path.to_str().expect("a UTF-8 path"))
            .await
            .expect("open the SQLite store"),
    );
    println!("SQLite insert_job, {}:", path.display());
    for tasks in TASKS {
        let run = insert(&store, jobs, tasks).await;
        report(&format!("{tasks} task(s)"), jobs, &run);
    }
}
