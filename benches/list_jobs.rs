//! `GET /jobs` with a million jobs in PostgreSQL: latency (p50, p95, p99) of the first page,
//! unfiltered and filtered by status, by process, by both, and by a creation-time interval.
//!
//! `ades serve` (no workers) creates the schema in a fresh database; the jobs are then
//! written straight with SQL: 20 processes, the five statuses equally often, creation times
//! spread evenly over the past year, then `ANALYZE`. Each query is sent sequentially from
//! one keep-alive client, after a warm-up. Then the failed jobs of the last 300 days become
//! successful, and the status filters are measured again: matches that are rare and old are
//! the hard case for a newest-first scan.
//!
//! Run: `ADES_BENCH_POSTGRES_URL=$(bash scripts/start-postgres.sh) cargo bench --bench
//! list_jobs` (`ADES_TEST_POSTGRES_URL` is used when `ADES_BENCH_POSTGRES_URL` is not set).
//! `ADES_BENCH_ROWS` sets the number of jobs (default 1000000), `ADES_BENCH_REQUESTS` the
//! requests measured per query (default 500).

mod common;

use common::{
    build_ades, env_or, get_json, postgres_url_or_exit, quantile_ms, FreshDatabase, Server,
};

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use sqlx::{Connection, Executor, PgConnection};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const YEAR_MICROS: i64 = 365 * 86_400 * 1_000_000;
const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// The jobs: job i (1 = newest) runs process `process-<i mod 20>`, has status number
/// (i / 20) mod 5, so every process has every status, and was created i/rows of a year
/// before $1 (µs). Every row decodes as a job: the request is an empty document-mode
/// request; successful jobs have a json output, failed ones a failure.
const FILL: &str = "
INSERT INTO jobs (id, process_id, status, message, progress, created, started, finished,
                  updated, request, results, failure, attempt, lease_owner, lease_expires)
SELECT md5(i::text)::uuid::text, 'process-' || (i % 20), status, 'bench job', NULL,
       created, started, finished, COALESCE(finished, started, created),
       '{\"inputs\":{},\"outputs\":{},\"response\":\"document\"}',
       CASE WHEN status = 'successful'
            THEN '{\"ECHOED\":[{\"kind\":\"json\",\"value\":\"hello\"}]}'::jsonb END,
       CASE WHEN status = 'failed'
            THEN '{\"name\":\"invalid-repeat\",\"title\":\"Invalid repeat\",\"description\":\"REPEAT must be 0 to 1000\",\"category\":\"data\",\"exitCode\":2}'::jsonb END,
       CASE WHEN status = 'accepted' THEN 0 ELSE 1 END,
       CASE WHEN status = 'running' THEN 'bench-worker' END,
       -- A lease a year ahead keeps the reaper away from the running jobs.
       CASE WHEN status = 'running' THEN $1 + $3 END
FROM (
    SELECT i, status, created,
           CASE WHEN status <> 'accepted' THEN created + 1000000 END AS started,
           CASE WHEN status IN ('successful', 'failed', 'dismissed') THEN created + 6000000 END
               AS finished
    FROM (
        SELECT i,
               (ARRAY['accepted', 'running', 'successful', 'failed', 'dismissed'])[1 + (i / 20) % 5]
                   AS status,
               $1 - i * ($3 / $2) AS created
        FROM generate_series(1, $2) AS i
    ) AS numbered
) AS timed";

/// Failed jobs created after $1 (µs) become successful ones.
const SKEW: &str = "
UPDATE jobs
SET status = 'successful', failure = NULL,
    results = '{\"ECHOED\":[{\"kind\":\"json\",\"value\":\"hello\"}]}'
WHERE status = 'failed' AND created > $1";

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let postgres = postgres_url_or_exit("list_jobs");
    let rows: i64 = env_or("ADES_BENCH_ROWS", 1_000_000);
    let requests: usize = env_or("ADES_BENCH_REQUESTS", 500);
    let ades = build_ades(&root);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let database = FreshDatabase::create(&postgres).await;
        let data = tempfile::tempdir().expect("a data dir");
        let server = Server::start(
            &ades,
            data.path(),
            &["--database-url", &database.url, "--no-workers"],
            &[],
        );
        server.wait_up().await;

        let now = micros(SystemTime::now());
        let started = Instant::now();
        fill(&database.url, now, rows).await;
        eprintln!(
            "{rows} jobs written and analysed in {:.1?}",
            started.elapsed()
        );

        // One day, 90 days back: about rows / 365 jobs.
        let (from, to) = (now - 91 * DAY_MICROS, now - 90 * DAY_MICROS);
        let interval = format!("{}/{}", rfc3339(from), rfc3339(to));
        let queries = [
            ("unfiltered", "/jobs?limit=10".to_string()),
            ("status=failed", "/jobs?status=failed&limit=10".to_string()),
            (
                "processID=process-7",
                "/jobs?processID=process-7&limit=10".to_string(),
            ),
            (
                "processID=process-7, status=successful",
                "/jobs?processID=process-7&status=successful&limit=10".to_string(),
            ),
            (
                "datetime=one day, 90 days back",
                format!("/jobs?datetime={interval}&limit=10"),
            ),
        ];
        println!("| `GET /jobs`, first page of 10, {rows} jobs | p50 | p95 | p99 |");
        println!("| --- | --- | --- | --- |");
        let client = reqwest::Client::new();
        for (name, path) in queries {
            measure(&client, &format!("{}{path}", server.base), name, requests).await;
        }

        // The hard case for a newest-first scan: the matches are rare and old. Failed
        // jobs now exist only in the oldest 65 days.
        let mut db = PgConnection::connect(&database.url)
            .await
            .expect("connect to the bench database");
        sqlx::query(SKEW)
            .bind(now - 300 * DAY_MICROS)
            .execute(&mut db)
            .await
            .expect("turn the newer failed jobs successful");
        db.execute("ANALYZE jobs").await.expect("ANALYZE");
        let _ = db.close().await;
        for (name, path) in [
            (
                "status=failed, none in the last 300 days",
                "/jobs?status=failed&limit=10",
            ),
            (
                "processID=process-7, status=failed, none in the last 300 days",
                "/jobs?processID=process-7&status=failed&limit=10",
            ),
        ] {
            measure(&client, &format!("{}{path}", server.base), name, requests).await;
        }
        drop(server);
        database.remove().await;
    });
}

/// Writes `rows` jobs created over the year before `now` (µs), then `ANALYZE`s the table.
async fn fill(url: &str, now: i64, rows: i64) {
    let mut db = PgConnection::connect(url)
        .await
        .expect("connect to the bench database");
    sqlx::query(FILL)
        .bind(now)
        .bind(rows)
        .bind(YEAR_MICROS)
        .execute(&mut db)
        .await
        .expect("insert the jobs");
    db.execute("ANALYZE jobs").await.expect("ANALYZE");
    let _ = db.close().await;
}

/// Prints the p50, p95 and p99 latency of `url` as a table row.
async fn measure(client: &reqwest::Client, url: &str, name: &str, requests: usize) {
    let mut latencies = latencies(client, url, requests).await;
    latencies.sort();
    println!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
        quantile_ms(&latencies, 0.50),
        quantile_ms(&latencies, 0.95),
        quantile_ms(&latencies, 0.99),
    );
}

/// Latencies of `requests` sequential GETs of `url` (each a 200 with ten jobs), after
/// `requests / 10` unmeasured ones.
async fn latencies(client: &reqwest::Client, url: &str, requests: usize) -> Vec<Duration> {
    let mut measured = Vec::with_capacity(requests);
    for n in 0..requests + requests / 10 {
        let t = Instant::now();
        let page: serde_json::Value = get_json(client, url).await;
        let elapsed = t.elapsed();
        assert_eq!(page["jobs"].as_array().map(Vec::len), Some(10), "{url}");
        if n >= requests / 10 {
            measured.push(elapsed);
        }
    }
    measured
}

fn micros(t: SystemTime) -> i64 {
    let since = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_micros()).expect("a time in range")
}

fn rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .expect("a time in range")
        .format(&Rfc3339)
        .expect("an RFC 3339 time")
}
