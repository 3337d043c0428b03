//! `ades jobs list|show|cancel|requeue`: the real binary against a real job store, seeded
//! through the library (SQLite in a temporary data directory; the core scenario again on
//! PostgreSQL, which needs `ADES_TEST_POSTGRES_URL` like the store tests: without it the
//! PostgreSQL test fails, never skips).

use ades::domain::{ExecuteRequest, Job, JobId, JobStatus, OutputValue, ProcessId, WorkerId};
use ades::store::{connect_store, Completion, JobStore, NewJob};
use seed::errors::{FailureCategory, JobFailure};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

type Store = Arc<dyn JobStore>;

/// What a run of `ades` did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `ades jobs <args>`; the database is named by `store_flags` (e.g. `--data-dir D`),
/// given after the subcommand (they are global to `ades jobs`). The caller's `ADES__*` and
/// `ADES_CONFIG` settings are cleared so only the test's choices count.
fn jobs(store_flags: &[&str], args: &[&str]) -> Ran {
    jobs_with_env(store_flags, args, &[])
}

fn jobs_with_env(store_flags: &[&str], args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ades"));
    command.arg("jobs").args(args).args(store_flags);
    for (key, _) in std::env::vars() {
        if key.starts_with("ADES__") || key == "ADES_CONFIG" {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1").envs(env.iter().copied());
    let output = command.output().expect("start the ades binary");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Ran {
    fn ok(self) -> Ran {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// The jobs every scenario starts from, oldest first (an hour ago, a minute apart).
struct Seeded {
    /// alpha, running (claimed by a worker).
    running: JobId,
    /// beta, failed (exit code 3).
    failed: JobId,
    /// alpha, successful (with results).
    successful: JobId,
    /// alpha, accepted.
    alpha_1: JobId,
    /// alpha, accepted.
    alpha_2: JobId,
    /// beta, accepted (the newest).
    beta: JobId,
}

fn at(minute: i64) -> OffsetDateTime {
    // Whole seconds, an hour ago: before any `now` the binary uses. Fixed once, so a time
    // computed for a filter equals the one a job was seeded with however slow the test.
    static BASE: std::sync::OnceLock<OffsetDateTime> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let hour_ago = OffsetDateTime::now_utc() - Duration::hours(1);
        hour_ago.replace_nanosecond(0).unwrap()
    });
    *base + Duration::minutes(minute)
}

fn worker() -> WorkerId {
    WorkerId("jobs-cli-test-worker".to_string())
}

async fn insert(store: &Store, process: &str, created: OffsetDateTime) -> JobId {
    let id = JobId::new();
    store
        .insert_job(
            NewJob {
                id: id.clone(),
                process_id: ProcessId::parse(process).unwrap(),
                request: ExecuteRequest::default(),
                priority: 0,
                owner: None,
                step_of: None,
                workflow: false,
                submitted_by: None,
            },
            created,
        )
        .await
        .expect("insert a job");
    id
}

/// Claims the only accepted job, which must be `id`.
async fn claim(store: &Store, id: &JobId, now: OffsetDateTime) {
    let claimed = store
        .claim_next_job(
            &worker(),
            OffsetDateTime::now_utc() + Duration::hours(1),
            now,
        )
        .await
        .expect("claim")
        .expect("a job to claim");
    assert_eq!(&claimed.id, id);
}

async fn seed(store: &Store) -> Seeded {
    // Each job is claimed before the next is inserted, so the claims take the right ones.
    let running = insert(store, "alpha", at(0)).await;
    claim(store, &running, at(0)).await;

    let failed = insert(store, "beta", at(1)).await;
    claim(store, &failed, at(1)).await;
    let failure = JobFailure {
        name: "algorithm-unknown".to_string(),
        title: "Unknown algorithm error".to_string(),
        description: "Its exit code 3 is not declared in the manifest's errors.".to_string(),
        category: FailureCategory::Job,
        exit_code: Some(3),
    };
    let message = "failed: exit code 3".to_string();
    assert!(store
        .complete_job(
            &failed,
            &worker(),
            Completion::Failed { failure, message },
            at(2)
        )
        .await
        .unwrap());

    let successful = insert(store, "alpha", at(3)).await;
    claim(store, &successful, at(3)).await;
    let mut results = BTreeMap::new();
    results.insert(
        "COUNT".to_string(),
        vec![OutputValue::Json {
            value: serde_json::json!(42),
        }],
    );
    results.insert(
        "ONE".to_string(),
        vec![OutputValue::File {
            path: "one-a.txt".to_string(),
            media_type: None,
            size_bytes: 2048,
            metadata: None,
            published: None,
        }],
    );
    let message = "done".to_string();
    assert!(store
        .complete_job(
            &successful,
            &worker(),
            Completion::Succeeded { results, message },
            at(4)
        )
        .await
        .unwrap());

    Seeded {
        running,
        failed,
        successful,
        alpha_1: insert(store, "alpha", at(5)).await,
        alpha_2: insert(store, "alpha", at(6)).await,
        beta: insert(store, "beta", at(7)).await,
    }
}

async fn job(store: &Store, id: &JobId) -> Job {
    store.get_job(id).await.unwrap().expect("the job exists")
}

/// A SQLite store in a fresh data directory, at the default place (`<dir>/ades.db`).
async fn sqlite() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ades.db").display());
    let store = connect_store(&url).await.expect("open the SQLite store");
    (dir, store)
}

fn data_dir(dir: &TempDir) -> [&str; 2] {
    ["--data-dir", dir.path().to_str().unwrap()]
}

/// Ids of the jobs in `list --json` output, in order.
fn listed_ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|job| job["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids(jobs: &[&JobId]) -> Vec<String> {
    jobs.iter().map(|id| id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_newest_first_in_text_and_json() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);

    let all = jobs(&flags, &["list"]).ok();
    let lines: Vec<&str> = all.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "a header and six jobs:\n{}", all.stdout);
    for column in ["ID", "PROCESS", "STATUS", "CREATED", "ATTEMPT", "MESSAGE"] {
        assert!(lines[0].contains(column), "{}", lines[0]);
    }
    assert!(
        lines[1].starts_with(s.beta.as_str()),
        "newest first: {}",
        lines[1]
    );
    assert!(lines[6].starts_with(s.running.as_str()), "{}", lines[6]);
    let failed_line = lines
        .iter()
        .find(|l| l.starts_with(s.failed.as_str()))
        .unwrap();
    assert!(failed_line.contains("beta"), "{failed_line}");
    assert!(failed_line.contains("failed"), "{failed_line}");
    assert!(failed_line.contains("failed: exit code 3"), "{failed_line}");
    assert!(
        failed_line.contains(&at(1).year().to_string()),
        "{failed_line}"
    );

    let accepted_alpha = jobs(
        &flags,
        &[
            "list",
            "--status",
            "accepted",
            "--process",
            "alpha",
            "--json",
        ],
    )
    .ok();
    assert_eq!(
        listed_ids(&accepted_alpha.json()),
        ids(&[&s.alpha_2, &s.alpha_1])
    );
    let first = &accepted_alpha.json()[1];
    assert_eq!(first["processId"], "alpha");
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["attempt"], 0);
    assert!(first["created"].as_str().unwrap().ends_with('Z'), "{first}");

    let two_statuses = jobs(
        &flags,
        &[
            "list", "--status", "failed", "--status", "running", "--json",
        ],
    )
    .ok();
    assert_eq!(
        listed_ids(&two_statuses.json()),
        ids(&[&s.failed, &s.running])
    );

    let window = jobs(
        &flags,
        &[
            "list",
            "--created-after",
            &at(3)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            "--created-before",
            &at(6)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            "--json",
        ],
    )
    .ok();
    assert_eq!(
        listed_ids(&window.json()),
        ids(&[&s.alpha_2, &s.alpha_1, &s.successful])
    );

    let limited = jobs(&flags, &["list", "--limit", "2"]).ok();
    assert_eq!(limited.stdout.lines().count(), 3, "{}", limited.stdout);
    assert!(limited.stderr.contains("--limit"), "{}", limited.stderr);

    let none = jobs(&flags, &["list", "--process", "gamma", "--json"]).ok();
    assert_eq!(none.json(), serde_json::json!([]));

    let bad = jobs(&flags, &["list", "--status", "finished"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("accepted, running, successful, failed or dismissed"),
        "{}",
        bad.stderr
    );
    let bad = jobs(&flags, &["list", "--process", "no_such/process"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let bad = jobs(&flags, &["list", "--created-after", "yesterday"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
    let bad = jobs(&flags, &["list", "--limit", "0"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn show_prints_the_job_its_failure_results_and_events() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);

    let failed = jobs(&flags, &["show", s.failed.as_str()]).ok();
    let text = &failed.stdout;
    assert!(text.contains(&format!("job       {}", s.failed)), "{text}");
    assert!(text.contains("process   beta"), "{text}");
    assert!(text.contains("status    failed"), "{text}");
    assert!(text.contains("attempt   1"), "{text}");
    assert!(text.contains("finished"), "{text}");
    assert!(
        text.contains("algorithm-unknown (job, exit code 3): Unknown algorithm error"),
        "{text}"
    );
    let events = text.split("events:").nth(1).expect("an events section");
    let statuses: Vec<&str> = events
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(statuses, ["accepted", "running", "failed"], "{text}");

    let successful = jobs(&flags, &["show", s.successful.as_str()]).ok();
    assert!(
        successful.stdout.contains("COUNT: 42"),
        "{}",
        successful.stdout
    );
    assert!(
        successful.stdout.contains("ONE: one-a.txt (2.0 KiB)"),
        "{}",
        successful.stdout
    );

    let shown = jobs(&flags, &["show", s.failed.as_str(), "--json"])
        .ok()
        .json();
    assert_eq!(shown["id"], s.failed.as_str());
    assert_eq!(shown["status"], "failed");
    assert_eq!(shown["failure"]["name"], "algorithm-unknown");
    assert_eq!(shown["failure"]["exitCode"], 3);
    let events: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["accepted", "running", "failed"]);
    let shown = jobs(&flags, &["show", s.successful.as_str(), "--json"])
        .ok()
        .json();
    assert_eq!(shown["results"]["COUNT"][0]["value"], 42);
    let file = &shown["results"]["ONE"][0];
    assert_eq!(file["kind"], "file");
    assert_eq!(file["path"], "one-a.txt");
    assert_eq!(file["mediaType"], "text/plain");
    assert_eq!(file["sizeBytes"], 2048);
    assert_eq!(shown["failure"], Value::Null);

    let unknown = JobId::new();
    let missing = jobs(&flags, &["show", unknown.as_str()]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains(unknown.as_str()) && missing.stderr.contains("ades.db"),
        "names the job and the database: {}",
        missing.stderr
    );
    let bad = jobs(&flags, &["show", "not-a-uuid"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_by_ids_dismisses_exactly_those() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);

    let ran = jobs(&flags, &["cancel", s.alpha_1.as_str(), s.running.as_str()]).ok();
    assert!(ran.stderr.contains("cancelled 2 jobs"), "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains(&format!("{}  alpha  running -> dismissed", s.running)),
        "{}",
        ran.stdout
    );
    assert_eq!(job(&store, &s.alpha_1).await.status, JobStatus::Dismissed);
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Dismissed);
    for untouched in [&s.alpha_2, &s.beta] {
        assert_eq!(job(&store, untouched).await.status, JobStatus::Accepted);
    }

    // A finished job named by id is withdrawn, as the OGC API's dismiss does.
    jobs(&flags, &["cancel", s.successful.as_str()]).ok();
    assert_eq!(
        job(&store, &s.successful).await.status,
        JobStatus::Dismissed
    );

    // An unknown id is an error; the known ones are still cancelled.
    let unknown = JobId::new();
    let ran = jobs(&flags, &["cancel", s.beta.as_str(), unknown.as_str()]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains(unknown.as_str()), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("cancelled 1 job, 1 unknown"),
        "{}",
        ran.stderr
    );
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Dismissed);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_by_filter_is_a_dry_run_until_yes() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);
    let filter = ["cancel", "--status", "accepted", "--process", "alpha"];

    let dry = jobs(&flags, &filter);
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("2 accepted jobs would be cancelled"),
        "{}",
        dry.stderr
    );
    assert!(dry.stderr.contains("--yes"), "{}", dry.stderr);
    for id in [&s.alpha_1, &s.alpha_2, &s.beta] {
        assert_eq!(job(&store, id).await.status, JobStatus::Accepted, "dry run");
    }

    let ran = jobs(&flags, &[&filter[..], &["--yes"]].concat()).ok();
    assert!(ran.stderr.contains("cancelled 2 jobs"), "{}", ran.stderr);
    assert_eq!(job(&store, &s.alpha_1).await.status, JobStatus::Dismissed);
    assert_eq!(job(&store, &s.alpha_2).await.status, JobStatus::Dismissed);
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Accepted);
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Running);

    // Without --status, a filter run takes accepted and running jobs, never finished ones.
    jobs(&flags, &["cancel", "--process", "alpha", "--yes"]).ok();
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Dismissed);
    assert_eq!(
        job(&store, &s.successful).await.status,
        JobStatus::Successful
    );

    // Finished statuses are refused by a filter run; nothing matching is not an error.
    let refused = jobs(&flags, &["cancel", "--status", "successful", "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let nothing = jobs(&flags, &["cancel", "--process", "gamma"]).ok();
    assert!(
        nothing.stderr.contains("nothing to cancel"),
        "{}",
        nothing.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filter_run_covers_every_page() {
    let (dir, store) = sqlite().await;
    let count = 520; // more than one page of the store's listing (500)
    for i in 0..count {
        insert(&store, "bulk", at(0) + Duration::milliseconds(i)).await;
    }
    let flags = data_dir(&dir);
    let dry = jobs(&flags, &["cancel", "--process", "bulk"]);
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("520 accepted or running jobs"),
        "{}",
        dry.stderr
    );
    let ran = jobs(&flags, &["cancel", "--process", "bulk", "--yes"]).ok();
    assert!(ran.stderr.contains("cancelled 520 jobs"), "{}", ran.stderr);
    let left = jobs(&flags, &["list", "--status", "accepted", "--json"]).ok();
    assert_eq!(left.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn requeue_restarts_failed_jobs_and_skips_others() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);

    let ran = jobs(&flags, &["requeue", s.failed.as_str()]).ok();
    assert!(ran.stderr.contains("requeued 1 job"), "{}", ran.stderr);
    let requeued = job(&store, &s.failed).await;
    assert_eq!(requeued.status, JobStatus::Accepted);
    assert_eq!(requeued.attempt, 0);
    assert!(requeued.failure.is_none() && requeued.finished.is_none());
    let events = store.job_events(&s.failed).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.status, JobStatus::Accepted);
    assert_eq!(last.message.as_deref(), Some("requeued by an operator"));

    let skipped = jobs(&flags, &["requeue", s.running.as_str()]).ok();
    assert!(
        skipped.stderr.contains(&format!(
            "job {} is running: only failed or dismissed jobs can be requeued",
            s.running
        )),
        "{}",
        skipped.stderr
    );
    assert!(
        skipped.stderr.contains("requeued 0 jobs, skipped 1"),
        "{}",
        skipped.stderr
    );
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Running);

    // Dismissed jobs come back by filter (an undo of a bulk cancel), after a dry run.
    jobs(&flags, &["cancel", "--process", "beta", "--yes"]).ok();
    let dry = jobs(&flags, &["requeue", "--status", "dismissed"]);
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("2 dismissed jobs would be requeued"),
        "{}",
        dry.stderr
    );
    let ran = jobs(&flags, &["requeue", "--status", "dismissed", "--yes"]).ok();
    assert!(ran.stderr.contains("requeued 2 jobs"), "{}", ran.stderr);
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Accepted);

    let refused = jobs(&flags, &["requeue", "--status", "running", "--yes"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let unknown = jobs(&flags, &["requeue", JobId::new().as_str()]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_command_lines_change_nothing() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let flags = data_dir(&dir);
    for verb in ["cancel", "requeue"] {
        let none = jobs(&flags, &[verb]);
        assert_eq!(
            none.code, 2,
            "{verb} without ids or filters: {}",
            none.stderr
        );
        assert!(none.stderr.contains("--status"), "{}", none.stderr);
        let none = jobs(&flags, &[verb, "--yes"]);
        assert_eq!(none.code, 2, "{verb} --yes alone: {}", none.stderr);
        let both = jobs(&flags, &[verb, s.beta.as_str(), "--process", "beta"]);
        assert_eq!(both.code, 2, "{}", both.stderr);
        let bad_id = jobs(&flags, &[verb, s.beta.as_str(), "job-1"]);
        assert_eq!(bad_id.code, 2, "{}", bad_id.stderr);
        let bad_status = jobs(&flags, &[verb, "--status", "done", "--yes"]);
        assert_eq!(bad_status.code, 2, "{}", bad_status.stderr);
    }
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Accepted);
    assert_eq!(job(&store, &s.failed).await.status, JobStatus::Failed);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_is_found_like_ades_serve_finds_it() {
    let (dir, store) = sqlite().await;
    let s = seed(&store).await;
    let url = format!("sqlite://{}", dir.path().join("ades.db").display());

    // --database-url, the environment and a configuration file all name it.
    let ran = jobs(&["--database-url", &url], &["list", "--json"]).ok();
    assert_eq!(ran.json().as_array().unwrap().len(), 6);
    let ran = jobs_with_env(&[], &["list", "--json"], &[("ADES__DATABASE__URL", &url)]).ok();
    assert_eq!(ran.json().as_array().unwrap().len(), 6);
    let config = dir.path().join("ades.toml");
    std::fs::write(&config, format!("[database]\nurl = {url:?}\n")).unwrap();
    let ran = jobs(
        &["-c", config.to_str().unwrap()],
        &["show", s.beta.as_str()],
    )
    .ok();
    assert!(ran.stdout.contains("status    accepted"), "{}", ran.stdout);

    // A data directory without a database is a mistake, not an empty store.
    let empty = tempfile::tempdir().unwrap();
    let ran = jobs(&data_dir(&empty), &["list"]);
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("no job store"), "{}", ran.stderr);
    assert!(!empty.path().join("ades.db").exists(), "nothing created");

    // An unreachable server: the URL is shown, its password is not.
    let ran = jobs(
        &["--database-url", "postgres://ades:s3cret@127.0.0.1:1/ades"],
        &["list"],
    );
    assert_eq!(ran.code, 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("127.0.0.1:1"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("s3cret"), "{}", ran.stderr);
}

// ---- PostgreSQL ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn postgres_list_cancel_and_requeue() {
    let database = crate::support::PostgresTestDatabase::create().await;
    let url = database.url();
    let store = connect_store(&url)
        .await
        .expect("open the PostgreSQL store");
    let s = seed(&store).await;
    let flags = ["--database-url", url.as_str()];

    let listed = jobs(&flags, &["list", "--status", "accepted", "--json"]).ok();
    assert_eq!(
        listed_ids(&listed.json()),
        ids(&[&s.beta, &s.alpha_2, &s.alpha_1])
    );
    let text = jobs(&flags, &["list", "--process", "beta"]).ok();
    assert_eq!(text.stdout.lines().count(), 3, "{}", text.stdout);

    let dry = jobs(
        &flags,
        &["cancel", "--status", "accepted", "--process", "alpha"],
    );
    assert_eq!(dry.code, 1, "{}", dry.stderr);
    assert_eq!(job(&store, &s.alpha_1).await.status, JobStatus::Accepted);
    let ran = jobs(
        &flags,
        &[
            "cancel",
            "--status",
            "accepted",
            "--process",
            "alpha",
            "--yes",
        ],
    )
    .ok();
    assert!(ran.stderr.contains("cancelled 2 jobs"), "{}", ran.stderr);
    assert_eq!(job(&store, &s.alpha_1).await.status, JobStatus::Dismissed);
    assert_eq!(job(&store, &s.alpha_2).await.status, JobStatus::Dismissed);
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Accepted);
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Running);

    jobs(&flags, &["cancel", s.beta.as_str()]).ok();
    assert_eq!(job(&store, &s.beta).await.status, JobStatus::Dismissed);

    let ran = jobs(&flags, &["requeue", s.failed.as_str(), s.running.as_str()]).ok();
    assert!(
        ran.stderr.contains("requeued 1 job, skipped 1"),
        "{}",
        ran.stderr
    );
    let requeued = job(&store, &s.failed).await;
    assert_eq!(requeued.status, JobStatus::Accepted);
    assert_eq!(requeued.attempt, 0);
    let events = store.job_events(&s.failed).await.unwrap();
    assert_eq!(
        events.last().unwrap().message.as_deref(),
        Some("requeued by an operator")
    );
    assert_eq!(job(&store, &s.running).await.status, JobStatus::Running);

    let unknown = jobs(&flags, &["cancel", JobId::new().as_str()]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        !unknown.stderr.contains(":ades@"),
        "password hidden: {}",
        unknown.stderr
    );
}
