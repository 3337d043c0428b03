//! Fault tests: an `ades serve` process is killed with SIGKILL while jobs run, then started
//! again on the same port and data directory. Whatever the timing, no job is lost or doubled:
//! every job ends `successful`, its container ran exactly once, every replica serves its
//! outputs, and no job container is left behind.
//!
//! "Ran exactly once" is seen from outside the server: the jobs run the `ades-it-marker` Seed
//! image, whose script appends one line ("started on replica a") to `<markers>/<TAG>` (a Seed
//! mount, one host directory for all replicas) each time its container starts. A job whose
//! container ran twice has two lines there.
//!
//! A failure lists each job that went wrong and how ("job X (tag t017): 2 marker lines: ..."),
//! the log lines about the first few of them, and the end of each replica's log (its stderr,
//! captured to a file).
//!
//! The two tests never run at the same time: each keeps the engine busy with several
//! containers at once, and sharing the machine would only make both slower and their timing
//! noisier.

use crate::support::{ades, busybox_image, docker, free_port, PostgresTestDatabase};
use futures_util::stream::{self, StreamExt};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The process the jobs run (the image [`build_marker_image`] builds).
const PROCESS: &str = "ades-it-marker";
/// Workers per replica.
const WORKERS: usize = 4;
/// HTTP requests in flight at once, at most.
const IN_FLIGHT: usize = 16;
/// How long all jobs get to become final after the restart.
const ALL_FINAL_WITHIN: Duration = Duration::from_secs(6 * 60);
const FINAL: [&str; 3] = ["successful", "failed", "dismissed"];

/// Held by each test for its whole run (see the module's documentation).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_postgres_survive_a_sigkill() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let database = PostgresTestDatabase::create().await;
    // Two replicas on one database and one job workspace (as replicas must be deployed).
    let cluster = Cluster::start(&["a", "b"], Database::Postgres(database.url())).await;
    kill_a_replica_mid_run(cluster, 300, "b").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_single_process_survives_a_sigkill() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // One process, SQLite and the workspace in its data directory (the defaults): the same
    // 300 jobs as the replicas get.
    let cluster = Cluster::start(&["solo"], Database::Sqlite).await;
    kill_a_replica_mid_run(cluster, 300, "solo").await;
}

/// The scenario: submit `count` jobs, SIGKILL the replica `victim` while it runs some of
/// them (and others are already done), start it again, wait until every job is final, then
/// check that none was lost or doubled.
/// Callbacks due when the servers die are delivered after the restart. Every job
/// subscribes a receiver that refuses the first two tries of each callback (503), with 2 s
/// between tries, so when the last job ends the callbacks of the latest jobs are still
/// due; then every replica is killed (SIGKILL) and started again.
#[tokio::test(flavor = "multi_thread")]
async fn callbacks_due_at_a_sigkill_are_delivered_after_the_restart_on_sqlite() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start_with(&["solo"], Database::Sqlite, &callback_env()).await;
    callbacks_survive_a_sigkill(cluster).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_due_at_a_sigkill_are_delivered_after_the_restart_on_two_postgres_replicas() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let database = PostgresTestDatabase::create().await;
    let cluster = Cluster::start_with(
        &["a", "b"],
        Database::Postgres(database.url()),
        &callback_env(),
    )
    .await;
    callbacks_survive_a_sigkill(cluster).await;
}

/// Receivers on loopback (the guard allows it only when told), 2 s before the second try
/// (4 s before the third), a 2 s POST timeout (so a dead process's claim lapses in 6 s).
fn callback_env() -> Vec<(&'static str, String)> {
    vec![
        ("ADES__QUEUE__ALLOW_PRIVATE_URLS", "true".to_string()),
        ("ADES__CALLBACKS__RETRY_SECONDS", "2".to_string()),
        ("ADES__CALLBACKS__TIMEOUT_SECONDS", "2".to_string()),
        ("ADES__CALLBACKS__POLL_SECONDS", "1".to_string()),
    ]
}

/// A callback receiver that answers 503 to the first `refusals` POSTs of each
/// `Idempotency-Key`, then 204; it counts both.
#[derive(Clone, Default)]
struct FlakyReceiver {
    /// Idempotency key -> (POSTs refused, POSTs taken).
    seen: std::sync::Arc<std::sync::Mutex<HashMap<String, (u32, u32)>>>,
}

impl FlakyReceiver {
    async fn start(refusals: u32) -> (FlakyReceiver, String) {
        let receiver = FlakyReceiver::default();
        let seen = receiver.seen.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let seen = seen.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("(none)")
                        .to_string();
                    let mut seen = seen.lock().unwrap();
                    let entry = seen.entry(key).or_default();
                    if entry.0 < refusals {
                        entry.0 += 1;
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        entry.1 += 1;
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook?token=t", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (receiver, url)
    }

    fn taken(&self, key: &str) -> u32 {
        self.seen.lock().unwrap().get(key).map_or(0, |e| e.1)
    }
}

async fn callbacks_survive_a_sigkill(mut cluster: Cluster) {
    let (receiver, hook) = FlakyReceiver::start(2).await;
    let jobs = cluster
        .submit_with(12, &json!({"subscriber": {"successUri": hook}}))
        .await;
    let statuses = cluster
        .wait_until_final(&jobs, Duration::from_secs(120))
        .await;
    let key = |job: &SubmittedJob| format!("{}:successful:1", job.id);
    let pending = jobs
        .iter()
        .filter(|job| receiver.taken(&key(job)) == 0)
        .count();
    for replica in &mut cluster.replicas {
        replica.sigkill();
    }
    for job in &jobs {
        assert_eq!(
            statuses.get(&job.id).map(String::as_str),
            Some("successful"),
            "{}\n{}",
            job.label(),
            cluster.log_tails()
        );
    }
    assert!(
        pending > 0,
        "every callback was delivered before the kill: the test proves nothing"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    for replica in &mut cluster.replicas {
        replica.start();
    }
    cluster.wait_until_up().await;

    let deadline = Instant::now() + Duration::from_secs(90);
    while jobs.iter().any(|job| receiver.taken(&key(job)) == 0) {
        assert!(
            Instant::now() < deadline,
            "callbacks not delivered after the restart: {:?}\n{}",
            jobs.iter()
                .filter(|job| receiver.taken(&key(job)) == 0)
                .map(SubmittedJob::label)
                .collect::<Vec<_>>(),
            cluster.log_tails()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Each try is recorded for the job's owner; the last one delivered.
    for job in &jobs {
        let url = format!("{}/jobs/{}/callbacks", cluster.replicas[0].base, job.id);
        let mut record = get_json(&cluster.client, &url).await.unwrap();
        for _ in 0..40 {
            if record["callbacks"][0]["delivered"].is_string() {
                break;
            }
            // Delivered, but the try's record may still be on its way.
            tokio::time::sleep(Duration::from_millis(250)).await;
            record = get_json(&cluster.client, &url).await.unwrap();
        }
        let callback = &record["callbacks"][0];
        assert_eq!(callback["status"], "successful", "{record:#}");
        assert_eq!(callback["idempotencyKey"], key(job), "{record:#}");
        // Shown without its query string, which may hold the receiver's token.
        assert_eq!(
            callback["uri"],
            hook.split('?').next().unwrap(),
            "{record:#}"
        );
        assert!(callback["delivered"].is_string(), "{record:#}");
        let tries = callback["tries"].as_array().unwrap();
        assert_eq!(tries.last().unwrap()["delivered"], true, "{record:#}");
        assert!(
            tries[..tries.len() - 1]
                .iter()
                .all(|t| t["delivered"] == false),
            "{record:#}"
        );
    }
    cluster.stop();
}

async fn kill_a_replica_mid_run(mut cluster: Cluster, count: usize, victim: &str) {
    let clock = Instant::now();
    let jobs = cluster.submit(count).await;
    println!("{count} jobs submitted after {:?}", clock.elapsed());

    // The kill must catch jobs in the act: containers running under the victim's workers,
    // while earlier jobs have already finished.
    let caught = cluster.wait_until_busy(victim, WORKERS, 4, &jobs).await;
    cluster.replica(victim).sigkill();
    println!("replica {victim} killed after {:?}", clock.elapsed());
    // Its containers live on in the engine; its leases run out meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.replica(victim).start();
    cluster.wait_until_up().await;
    println!("replica {victim} restarted after {:?}", clock.elapsed());

    let statuses = cluster.wait_until_final(&jobs, ALL_FINAL_WITHIN).await;
    println!("jobs final after {:?}", clock.elapsed());

    let mut problems = status_problems(&jobs, &statuses);
    problems.extend(cluster.marker_problems(&jobs));
    problems.extend(cluster.output_problems(&jobs, &statuses).await);
    problems.extend(cluster.unfinished_job_problems().await);
    problems.extend(leftover_container_problems(&jobs).await);
    println!("checked after {:?}", clock.elapsed());
    if !problems.is_empty() {
        let texts: Vec<String> = problems.iter().map(|p| p.text.clone()).collect();
        let mut examples: Vec<&str> = problems.iter().filter_map(|p| p.job.as_deref()).collect();
        examples.dedup();
        examples.truncate(3);
        panic!(
            "{} problem(s) with {count} jobs after replica {victim} was killed with SIGKILL \
             while running the containers of {} (markers per job: {}):\n{}\n\n{}\n{}",
            problems.len(),
            caught.join(", "),
            cluster.marker_histogram(&jobs),
            abbreviated(&texts, 80),
            cluster.log_lines_about(&examples),
            cluster.log_tails(),
        );
    }
    cluster.stop();
}

/// Something wrong at the end, about one job when `job` says which.
struct Problem {
    job: Option<String>,
    text: String,
}

impl Problem {
    fn of(job: &SubmittedJob, what: String) -> Problem {
        Problem {
            job: Some(job.id.clone()),
            text: format!("{}: {what}", job.label()),
        }
    }

    fn general(text: String) -> Problem {
        Problem { job: None, text }
    }
}

/// One submitted job.
#[derive(Debug, Clone)]
struct SubmittedJob {
    id: String,
    /// Its `TAG` input, unique in the test: the name of its marker file.
    tag: String,
}

impl SubmittedJob {
    fn label(&self) -> String {
        format!("job {} (tag {})", self.id, self.tag)
    }
}

/// Where the replicas keep their jobs.
enum Database {
    /// One PostgreSQL database for all replicas, which then share one workspace directory.
    Postgres(String),
    /// Each replica's default SQLite database and workspace in its data directory.
    Sqlite,
}

/// `ades serve` processes on one machine, with the directories they use.
struct Cluster {
    replicas: Vec<Replica>,
    /// The host directory behind the `MARKERS` mount of every replica.
    markers: PathBuf,
    client: Client,
    /// Holds every directory above; dropped last.
    _root: tempfile::TempDir,
}

impl Cluster {
    async fn start(names: &[&str], database: Database) -> Cluster {
        Cluster::start_with(names, database, &[]).await
    }

    /// [`Cluster::start`] with more environment variables for every replica.
    async fn start_with(
        names: &[&str],
        database: Database,
        extra_env: &[(&'static str, String)],
    ) -> Cluster {
        build_marker_image();
        let root = tempfile::tempdir().expect("temporary directory");
        let markers = root.path().join("markers");
        std::fs::create_dir(&markers).unwrap();
        // The jobs' (non-root) user appends to it, as to any rw Seed mount.
        std::fs::set_permissions(
            &markers,
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let mut common_env = vec![
            ("ADES__QUEUE__WORKERS", WORKERS.to_string()),
            ("ADES__QUEUE__LEASE_SECONDS", "4".to_string()),
            ("ADES__QUEUE__HEARTBEAT_SECONDS", "1".to_string()),
            ("ADES__QUEUE__POLL_SECONDS", "1".to_string()),
            ("ADES__CATALOG__RESCAN_SECONDS", "0".to_string()),
            // The test stands for many clients (IN_FLIGHT submissions at once) from one
            // address: no per-address limit.
            ("ADES__LIMITS__CLIENT_REQUESTS_IN_FLIGHT", "0".to_string()),
        ];
        common_env.extend(extra_env.iter().cloned());
        if let Database::Postgres(url) = &database {
            let workspace = root.path().join("workspace");
            std::fs::create_dir(&workspace).unwrap();
            common_env.push(("ADES__DATABASE__URL", url.clone()));
            common_env.push(("ADES__WORKSPACE__ROOT", path_text(&workspace)));
        }
        let replicas = names
            .iter()
            .map(|name| Replica::new(name, root.path(), &markers, &common_env))
            .collect();
        let mut cluster = Cluster {
            replicas,
            markers,
            client: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            _root: root,
        };
        for replica in &mut cluster.replicas {
            replica.start();
        }
        cluster.wait_until_up().await;
        cluster
    }

    fn replica(&mut self, name: &str) -> &mut Replica {
        self.replicas
            .iter_mut()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no replica {name}"))
    }

    /// Waits until every replica answers HTTP; fails (with the logs) if one exits or does not
    /// answer within 30 s.
    async fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for index in 0..self.replicas.len() {
            loop {
                let replica = &mut self.replicas[index];
                if let Some(exit) = replica.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                    panic!(
                        "replica {} exited at start-up ({exit}):\n{}",
                        replica.name,
                        replica.log_tail(60)
                    );
                }
                let url = format!("{}/", replica.base);
                if self.client.get(&url).send().await.is_ok() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "replica {} did not answer within 30 s:\n{}",
                    self.replicas[index].name,
                    self.replicas[index].log_tail(60)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Submits `count` asynchronous jobs, round-robin over the replicas, each with the tag
    /// `t<n>`.
    async fn submit(&self, count: usize) -> Vec<SubmittedJob> {
        self.submit_with(count, &json!({})).await
    }

    /// [`Cluster::submit`] with the members of `extra` added to each execute request.
    async fn submit_with(&self, count: usize, extra: &Value) -> Vec<SubmittedJob> {
        let submissions = (0..count).map(|n| {
            let replica = &self.replicas[n % self.replicas.len()];
            let tag = format!("t{n:03}");
            let url = format!("{}/processes/{PROCESS}/execution", replica.base);
            let mut body = json!({
                "inputs": { "TAG": tag },
                "outputs": {
                    "MARKED": { "transmissionMode": "reference" },
                    "ECHOED_TAG": { "transmissionMode": "value" }
                },
                "response": "document"
            });
            if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                body.extend(extra.clone());
            }
            let client = self.client.clone();
            async move {
                let response = client
                    .post(&url)
                    .header("Prefer", "respond-async")
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| format!("POST {url} (tag {tag}): {e}"))?;
                let status = response.status();
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .map(str::to_string);
                match location {
                    Some(location) if status == StatusCode::CREATED => {
                        let id = location.rsplit('/').next().unwrap().to_string();
                        Ok(SubmittedJob { id, tag })
                    }
                    _ => Err(format!(
                        "POST {url} (tag {tag}): {status}, Location {location:?}: {}",
                        response.text().await.unwrap_or_default()
                    )),
                }
            }
        });
        let results: Vec<Result<SubmittedJob, String>> = stream::iter(submissions)
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let failed: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err().cloned())
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {count} submissions failed:\n{}\n{}",
            failed.len(),
            abbreviated(&failed, 20),
            self.log_tails()
        );
        results.into_iter().map(Result::unwrap).collect()
    }

    /// Every job's status (id -> status), read page by page from the replica `index`.
    async fn list_statuses(&self, index: usize) -> Result<HashMap<String, String>, String> {
        let mut statuses = HashMap::new();
        let mut next = Some(format!("{}/jobs?limit=100", self.replicas[index].base));
        while let Some(url) = next.take() {
            let page = get_json(&self.client, &url).await?;
            for job in page["jobs"].as_array().into_iter().flatten() {
                statuses.insert(
                    job["jobID"].as_str().unwrap_or_default().to_string(),
                    job["status"].as_str().unwrap_or_default().to_string(),
                );
            }
            next = page["links"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|link| link["rel"] == "next")
                .and_then(|link| link["href"].as_str())
                .map(str::to_string);
        }
        Ok(statuses)
    }

    /// The statuses from whichever replica answers (they share the database), trying them in
    /// turn starting with `round`'s.
    async fn statuses(&self, round: usize) -> Result<HashMap<String, String>, String> {
        let mut errors = Vec::new();
        for k in 0..self.replicas.len() {
            let index = (round + k) % self.replicas.len();
            if self.replicas[index].child.is_none() {
                continue;
            }
            match self.list_statuses(index).await {
                Ok(statuses) => return Ok(statuses),
                Err(e) => errors.push(e),
            }
        }
        Err(errors.join("; "))
    }

    /// Waits (at most 90 s) until `running` or more jobs run containers started by the replica
    /// `victim` and `finished` or more jobs are successful; returns the tags of the jobs
    /// running there then.
    async fn wait_until_busy(
        &self,
        victim: &str,
        running: usize,
        finished: usize,
        jobs: &[SubmittedJob],
    ) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(90);
        let started_by_victim = format!("started on replica {victim}");
        let mut round = 0;
        loop {
            let statuses = self
                .statuses(round)
                .await
                .unwrap_or_else(|e| panic!("listing jobs: {e}\n{}", self.log_tails()));
            round += 1;
            let count = |status: &str| statuses.values().filter(|s| *s == status).count();
            let on_victim: Vec<String> = jobs
                .iter()
                .filter(|job| statuses.get(&job.id).map(String::as_str) == Some("running"))
                .filter(|job| self.marker_lines(&job.tag).last() == Some(&started_by_victim))
                .map(|job| job.tag.clone())
                .collect();
            let running_on_victim = on_victim.len();
            if running_on_victim >= running && count("successful") >= finished {
                println!(
                    "killing replica {victim}: it runs the containers of {}; jobs: {} running, \
                     {} successful, {} accepted",
                    on_victim.join(", "),
                    count("running"),
                    count("successful"),
                    count("accepted")
                );
                return on_victim;
            }
            assert!(
                Instant::now() < deadline,
                "replica {victim} never ran {running} containers while {finished} jobs were \
                 done (last seen: {running_on_victim} running there; {} successful, {} failed, \
                 {} accepted)\n{}",
                count("successful"),
                count("failed"),
                count("accepted"),
                self.log_tails()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until every job is final or `within` has passed; returns the last statuses
    /// seen (jobs missing from the list are missing from the map).
    async fn wait_until_final(
        &self,
        jobs: &[SubmittedJob],
        within: Duration,
    ) -> HashMap<String, String> {
        let deadline = Instant::now() + within;
        let mut round = 0;
        let mut last = HashMap::new();
        loop {
            match self.statuses(round).await {
                Ok(statuses) => last = statuses,
                Err(e) => println!("listing jobs failed (retrying): {e}"),
            }
            round += 1;
            let all_final = jobs.iter().all(|job| {
                last.get(&job.id)
                    .is_some_and(|status| FINAL.contains(&status.as_str()))
            });
            if all_final || Instant::now() >= deadline {
                return last;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The lines of the marker file of `tag` (none when the job never started).
    fn marker_lines(&self, tag: &str) -> Vec<String> {
        std::fs::read_to_string(self.markers.join(tag))
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Jobs whose container did not start exactly once.
    fn marker_problems(&self, jobs: &[SubmittedJob]) -> Vec<Problem> {
        jobs.iter()
            .filter_map(|job| {
                let lines = self.marker_lines(&job.tag);
                (lines.len() != 1).then(|| {
                    Problem::of(
                        job,
                        format!(
                            "{} marker lines: its container started {} times ({})",
                            lines.len(),
                            lines.len(),
                            lines.join("; ")
                        ),
                    )
                })
            })
            .collect()
    }

    /// "1 line: 290 jobs, 2 lines: 10 jobs".
    fn marker_histogram(&self, jobs: &[SubmittedJob]) -> String {
        let mut histogram = BTreeMap::new();
        for job in jobs {
            *histogram
                .entry(self.marker_lines(&job.tag).len())
                .or_insert(0) += 1;
        }
        histogram
            .iter()
            .map(|(lines, jobs)| format!("{lines} line(s): {jobs} jobs"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Successful jobs whose results are not served, or not right, by some replica: each
    /// replica's results document must hold the tag and link to the output file, which that
    /// replica must serve.
    async fn output_problems(
        &self,
        jobs: &[SubmittedJob],
        statuses: &HashMap<String, String>,
    ) -> Vec<Problem> {
        let checks = jobs
            .iter()
            .filter(|job| statuses.get(&job.id).map(String::as_str) == Some("successful"))
            .flat_map(|job| self.replicas.iter().map(move |replica| (job, replica)))
            .map(|(job, replica)| async move {
                check_outputs(&self.client, job, replica)
                    .await
                    .err()
                    .map(|e| Problem::of(job, format!("via replica {}: {e}", replica.name)))
            });
        stream::iter(checks)
            .buffered(IN_FLIGHT)
            .filter_map(|problem| async move { problem })
            .collect()
            .await
    }

    /// Jobs any replica still lists as `accepted` or `running`.
    async fn unfinished_job_problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for replica in &self.replicas {
            let url = format!("{}/jobs?status=accepted,running&limit=1000", replica.base);
            match get_json(&self.client, &url).await {
                Ok(page) => {
                    for job in page["jobs"].as_array().into_iter().flatten() {
                        problems.push(Problem {
                            job: job["jobID"].as_str().map(str::to_string),
                            text: format!(
                                "job {} is still {} (listed by replica {})",
                                job["jobID"], job["status"], replica.name
                            ),
                        });
                    }
                }
                Err(e) => problems.push(Problem::general(format!("replica {}: {e}", replica.name))),
            }
        }
        problems
    }

    /// The end of every replica's log, for a failure message.
    fn log_tails(&self) -> String {
        self.replicas
            .iter()
            .map(|r| r.log_tail(40))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every replica's log lines that mention one of `job_ids`, in time order, each marked
    /// with its replica, for a failure message.
    fn log_lines_about(&self, job_ids: &[&str]) -> String {
        let logs: Vec<(&str, String)> = self
            .replicas
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    std::fs::read_to_string(&r.log).unwrap_or_default(),
                )
            })
            .collect();
        let mut text = String::new();
        for id in job_ids {
            text.push_str(&format!("----- log lines about job {id} -----\n"));
            // Lines start with their timestamp: sorting them sorts them in time.
            let mut lines: Vec<(&str, &str)> = logs
                .iter()
                .flat_map(|(name, log)| log.lines().map(move |line| (line, *name)))
                .filter(|(line, _)| line.contains(id))
                .collect();
            lines.sort();
            for (line, name) in lines {
                text.push_str(&format!("[{name}] {line}\n"));
            }
        }
        text
    }

    fn stop(mut self) {
        for replica in &mut self.replicas {
            replica.sigkill();
        }
    }
}

/// Fetches `job`'s results document from `replica`, then the output file it links to.
async fn check_outputs(
    client: &Client,
    job: &SubmittedJob,
    replica: &Replica,
) -> Result<(), String> {
    let results = get_json(client, &format!("{}/jobs/{}/results", replica.base, job.id)).await?;
    if results["ECHOED_TAG"] != job.tag.as_str() {
        return Err(format!(
            "ECHOED_TAG is {} in {results}",
            results["ECHOED_TAG"]
        ));
    }
    let href = results["MARKED"]["href"]
        .as_str()
        .ok_or_else(|| format!("no MARKED link in {results}"))?;
    if !href.starts_with(&replica.base) {
        return Err(format!("MARKED links to another server: {href}"));
    }
    let response = client
        .get(href)
        .send()
        .await
        .map_err(|e| format!("GET {href}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let expected = format!("tag {}\n", job.tag);
    if status != StatusCode::OK || body != expected {
        return Err(format!(
            "GET {href}: {status}, {:?} (expected {expected:?})",
            shortened(&body)
        ));
    }
    Ok(())
}

/// Jobs not `successful`, each with its status.
fn status_problems(jobs: &[SubmittedJob], statuses: &HashMap<String, String>) -> Vec<Problem> {
    jobs.iter()
        .filter_map(|job| match statuses.get(&job.id).map(String::as_str) {
            Some("successful") => None,
            Some(status) if FINAL.contains(&status) => Some(Problem::of(job, status.to_string())),
            Some(status) => Some(Problem::of(
                job,
                format!("still {status} after {ALL_FINAL_WITHIN:?}"),
            )),
            None => Some(Problem::of(job, "missing from the job list".to_string())),
        })
        .collect()
}

/// Containers of the test's jobs still in the engine (waiting up to 15 s for removals that
/// follow a job's completion); they are removed, so that a failed run leaves no clutter.
async fn leftover_container_problems(jobs: &[SubmittedJob]) -> Vec<Problem> {
    let ours: HashMap<&str, &SubmittedJob> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listing = docker(&[
            "ps",
            "-a",
            "--filter",
            "label=org.ades.job-id",
            "--format",
            "{{.Label \"org.ades.job-id\"}}\t{{.Names}}\t{{.Status}}",
        ]);
        let left: Vec<(&SubmittedJob, String, String)> = listing
            .lines()
            .filter_map(|line| {
                let mut fields = line.splitn(3, '\t');
                let job = ours.get(fields.next()?)?;
                Some((*job, fields.next()?.to_string(), fields.next()?.to_string()))
            })
            .collect();
        if left.is_empty() {
            return Vec::new();
        }
        if Instant::now() >= deadline {
            let names: HashSet<&str> = left.iter().map(|(_, name, _)| name.as_str()).collect();
            let mut remove = vec!["rm", "-f"];
            remove.extend(names);
            let _ = Command::new("docker").args(&remove).output();
            return left
                .into_iter()
                .map(|(job, name, status)| {
                    Problem::of(job, format!("container {name} remains ({status})"))
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One `ades serve` process: its port, data directory, configuration file and log survive
/// restarts.
struct Replica {
    name: String,
    base: String,
    port: u16,
    data_dir: PathBuf,
    config: PathBuf,
    /// The process's stderr (every start appended).
    log: PathBuf,
    env: Vec<(&'static str, String)>,
    child: Option<Child>,
}

impl Replica {
    fn new(name: &str, root: &Path, markers: &Path, env: &[(&'static str, String)]) -> Replica {
        let data_dir = root.join(format!("replica-{name}"));
        std::fs::create_dir(&data_dir).unwrap();
        // The mount and the setting go in a configuration file: environment variables cannot
        // name them (the configuration loader lowercases their keys, and mount and setting
        // names match exactly; the process id's dashes are no shell variable name either).
        let config = root.join(format!("replica-{name}.toml"));
        let toml = format!(
            "[processes.{PROCESS}.mounts]\nMARKERS = {markers:?}\n\n\
             [processes.{PROCESS}.settings]\nREPLICA = {name:?}\n",
            markers = path_text(markers),
        );
        std::fs::write(&config, toml).unwrap();
        let port = free_port();
        Replica {
            name: name.to_string(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir,
            config,
            log: root.join(format!("replica-{name}.stderr.log")),
            env: env.to_vec(),
            child: None,
        }
    }

    fn start(&mut self) {
        assert!(self.child.is_none(), "replica {} runs already", self.name);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(log, "===== test: starting replica {} =====", self.name).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ades"))
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ades serve");
        self.child = Some(child);
    }

    /// Kills the process without warning (SIGKILL) and reaps it.
    fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    /// The last `lines` warnings and errors of the log, then its last `lines` lines.
    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last = |of: Vec<&str>| of[of.len().saturating_sub(lines)..].join("\n");
        let warnings = text
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .collect();
        format!(
            "----- replica {} ({}), log {} -----\n\
             last warnings and errors:\n{}\nlast lines:\n{}",
            self.name,
            self.base,
            self.log.display(),
            last(warnings),
            last(text.lines().collect()),
        )
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.sigkill();
    }
}

/// A Seed image whose job appends "started on replica $REPLICA" to `/markers/$TAG` (mount
/// `MARKERS`, setting `REPLICA`), sleeps a second, then outputs the file `MARKED`
/// ("tag $TAG") and the json output `ECHOED_TAG`. Built (as
/// `ades-it-marker-1.0.0-seed:1.0.0`, which the servers discover) once per test process.
fn build_marker_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        busybox_image();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM ades-busybox:latest\nCOPY marker.sh /marker.sh\nENTRYPOINT [\"/bin/sh\"]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("marker.sh"),
            "echo \"started on replica $REPLICA\" >> \"/markers/$TAG\"\n\
             sleep 1\n\
             echo \"tag $TAG\" > \"$OUTPUT_DIR/marked.txt\"\n\
             echo \"{\\\"ECHOED_TAG\\\": \\\"$TAG\\\"}\" > \"$OUTPUT_DIR/seed.outputs.json\"\n",
        )
        .unwrap();
        let manifest = json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": PROCESS, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": "Marker", "description": "Marks each start in /markers/TAG",
                "maintainer": {"name": "ades", "email": "ades@example.org"},
                "timeout": 60,
                "interface": {
                    "command": "/marker.sh",
                    "inputs": {"json": [{"name": "TAG", "type": "string"}]},
                    "outputs": {
                        "files": [
                            {"name": "MARKED", "mediaType": "text/plain", "pattern": "marked.txt"}
                        ],
                        "json": [{"name": "ECHOED_TAG", "type": "string"}]
                    },
                    "mounts": [{"name": "MARKERS", "path": "/markers", "mode": "rw"}],
                    "settings": [{"name": "REPLICA"}]
                }
            }
        });
        std::fs::write(dir.path().join("seed.manifest.json"), manifest.to_string()).unwrap();
        let built = ades(&["seed", "build", "--json", dir.path().to_str().unwrap()]);
        assert_eq!(built.code, 0, "{}", built.stderr);
    });
}

async fn get_json(client: &Client, url: &str) -> Result<Value, String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!("GET {url}: {status}: {}", shortened(&body)));
    }
    response
        .json()
        .await
        .map_err(|e| format!("GET {url}: not JSON: {e}"))
}

/// At most `max` lines of `lines`, then how many were left out.
fn abbreviated(lines: &[String], max: usize) -> String {
    let mut text = lines
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > max {
        text.push_str(&format!("\n... and {} more", lines.len() - max));
    }
    text
}

/// `text` cut to 300 characters.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("UTF-8 temporary path").to_string()
}
