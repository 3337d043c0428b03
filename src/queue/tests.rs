//! Unit tests of the executor, worker, reaper and pool with a scripted runner and the real
//! SQLite store.

use super::executor::{
    ENGINE_ERROR, INSUFFICIENT_RESOURCES, INTERNAL_ERROR, INVALID_INPUT, PROCESS_NOT_CONFIGURED,
    PROCESS_UNAVAILABLE,
};
use super::test_support::{manifest, process, test_settings, Act, Rig, ScriptedRunner};
use super::{supervise, Backoff, ProcessRunConfig, Reaper, WorkerPool, JOB_ID_LABEL};
use crate::catalog::Catalog;
use crate::domain::{
    ExecuteRequest, InputValue, Job, JobId, JobStatus, OutputValue, Process, WorkerId,
};
use seed::errors::FailureCategory;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

fn copier() -> Process {
    process(manifest(
        "copier",
        json!({
            "inputs": {
                "files": [{ "name": "INPUT_FILE", "mediaTypes": ["text/plain"] }],
                "json": [{ "name": "FACTOR", "type": "number", "required": false }]
            },
            "outputs": {
                "files": [
                    { "name": "COPY", "mediaType": "text/plain", "pattern": "copy.txt" },
                    { "name": "EXTRA", "pattern": "extra-*.txt", "multiple": true, "required": false }
                ],
                "json": [{ "name": "TOTAL", "key": "total", "type": "integer" }]
            }
        }),
        json!([{
            "code": 3,
            "name": "copy-failed",
            "title": "Copy failed",
            "description": "The copy could not be written.",
            "category": "data"
        }]),
    ))
}

fn copier_request() -> ExecuteRequest {
    let mut request = ExecuteRequest::default();
    request.inputs.insert(
        "INPUT_FILE".into(),
        vec![InputValue::Base64 {
            data: "aGVsbG8K".into(),
            media_type: Some("text/plain".into()),
        }],
    );
    request.inputs.insert(
        "FACTOR".into(),
        vec![InputValue::Inline {
            value: json!(1.5),
            media_type: None,
        }],
    );
    request
}

fn copier_success() -> Act {
    Act::Exit {
        code: 0,
        files: vec![
            ("copy.txt".into(), b"hello\n".to_vec()),
            ("seed.outputs.json".into(), br#"{"total": 6}"#.to_vec()),
        ],
        stdout: b"copied 6 bytes\n".to_vec(),
    }
}

async fn submit(rig: &Rig, process: &Process, request: ExecuteRequest) -> Job {
    rig.jobs
        .submit(&crate::auth::Caller::system(), process, request)
        .await
        .expect("submit")
}

async fn job(rig: &Rig, id: &JobId) -> Job {
    rig.jobs
        .get(&crate::auth::Caller::system(), id)
        .await
        .expect("get the job")
}

fn failure_name(job: &Job) -> &str {
    job.failure.as_ref().map(|f| f.name.as_str()).unwrap_or("")
}

#[tokio::test]
async fn a_successful_job_has_results_a_log_and_a_labelled_container() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;

    let ran = rig.worker("w1").try_execute_next().await.unwrap();
    assert_eq!(ran.as_ref(), Some(&submitted.id));
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    assert!(
        done.message
            .as_deref()
            .unwrap_or("")
            .starts_with("finished in "),
        "{done:?}"
    );
    let results = done.results.expect("results");
    assert_eq!(
        results["COPY"],
        vec![OutputValue::File {
            path: "copy.txt".into(),
            media_type: Some("text/plain".into()),
            size_bytes: 6,
            metadata: None,
            published: None,
        }]
    );
    assert_eq!(
        results["TOTAL"],
        vec![OutputValue::Json { value: json!(6) }]
    );
    assert!(
        !results.contains_key("EXTRA"),
        "absent optional outputs are left out"
    );

    let log = std::fs::read_to_string(rig.workspace.log_file(&submitted.id)).unwrap();
    assert!(log.contains("copied 6 bytes\n"), "{log}");
    assert!(log.contains("a line on stderr\n"), "{log}");
    assert!(log.starts_with("[ades] attempt 1 of job "), "{log}");

    let spec = runner.specs.lock().unwrap()[0].clone();
    assert_eq!(spec.run_id, format!("{}-1", submitted.id));
    assert_eq!(spec.labels[JOB_ID_LABEL], submitted.id.as_str());
    assert_eq!(spec.image, "copier:test");
    let env: std::collections::BTreeMap<_, _> = spec.env.iter().cloned().collect();
    assert_eq!(env["FACTOR"], "1.5");
    let staged = rig
        .workspace
        .inputs_dir(&submitted.id)
        .join("INPUT_FILE/0-input.txt");
    assert_eq!(std::fs::read(&staged).unwrap(), b"hello\n");
    assert!(spec
        .binds
        .iter()
        .any(|b| b.host == staged.canonicalize().unwrap() && b.read_only));
}

#[tokio::test]
async fn nothing_to_do_is_none() {
    let rig = Rig::new(vec![copier()], ScriptedRunner::new(vec![])).await;
    assert_eq!(rig.worker("w1").try_execute_next().await.unwrap(), None);
}

#[tokio::test]
async fn a_declared_error_fails_the_job_with_its_name_and_message() {
    let rig = Rig::new(vec![copier()], ScriptedRunner::new(vec![Act::exit(3)])).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure.clone().unwrap();
    assert_eq!(failure.name, "copy-failed");
    assert_eq!(failure.category, FailureCategory::Data);
    assert_eq!(failure.exit_code, Some(3));
    assert_eq!(
        done.message.as_deref(),
        Some("copy-failed: Copy failed — The copy could not be written.")
    );
    let log = std::fs::read_to_string(rig.workspace.log_file(&submitted.id)).unwrap();
    assert!(log.contains("[ades] copy-failed: Copy failed"), "{log}");
}

#[tokio::test]
async fn a_missing_required_output_fails_the_job() {
    let rig = Rig::new(vec![copier()], ScriptedRunner::new(vec![Act::exit(0)])).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(failure_name(&done), "missing-required-output");
}

#[tokio::test]
async fn a_process_that_is_gone_fails_the_job_as_a_system_failure() {
    let runner = ScriptedRunner::new(vec![]);
    let rig = Rig::new(vec![], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(failure_name(&done), PROCESS_UNAVAILABLE);
    assert_eq!(done.failure.unwrap().category, FailureCategory::System);
    assert!(done.message.unwrap().contains("copier"));
    assert_eq!(runner.runs(), 0);
}

#[tokio::test]
async fn bad_base64_fails_the_job_naming_the_input() {
    let runner = ScriptedRunner::new(vec![]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let mut request = copier_request();
    request.inputs.insert(
        "INPUT_FILE".into(),
        vec![InputValue::Base64 {
            data: "***".into(),
            media_type: None,
        }],
    );
    let submitted = submit(&rig, &copier(), request).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure.unwrap();
    assert_eq!(failure.name, INVALID_INPUT);
    assert_eq!(failure.category, FailureCategory::Data);
    assert!(failure.description.contains("INPUT_FILE"), "{failure:?}");
    assert_eq!(runner.runs(), 0);
}

#[tokio::test]
async fn inputs_the_contract_refuses_fail_as_data() {
    let runner = ScriptedRunner::new(vec![]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let mut request = copier_request();
    request.inputs.insert(
        "FACTOR".into(),
        vec![InputValue::Inline {
            value: json!("lots"),
            media_type: None,
        }],
    );
    let submitted = submit(&rig, &copier(), request).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    let failure = done.failure.unwrap();
    assert_eq!(failure.name, INVALID_INPUT, "{failure:?}");
    assert_eq!(failure.category, FailureCategory::Data);
    assert!(failure.description.contains("FACTOR"), "{failure:?}");
}

fn configured() -> Process {
    process(manifest(
        "configured",
        json!({
            "settings": [{ "name": "API_TOKEN", "secret": true }],
            "mounts": [{ "name": "REFERENCE", "path": "/reference" }]
        }),
        json!([]),
    ))
}

#[tokio::test]
async fn a_process_missing_its_configuration_fails_naming_what_to_configure() {
    let runner = ScriptedRunner::new(vec![]);
    let rig = Rig::new(vec![configured()], runner.clone()).await;
    let submitted = submit(&rig, &configured(), ExecuteRequest::default()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    let failure = done.failure.unwrap();
    assert_eq!(failure.name, PROCESS_NOT_CONFIGURED);
    assert_eq!(failure.category, FailureCategory::System);
    assert!(failure.description.contains("API_TOKEN"), "{failure:?}");
    assert!(failure.description.contains("REFERENCE"), "{failure:?}");
    assert_eq!(runner.runs(), 0);
}

/// Runs a job of `configured()` with its setting and mount configured under the given
/// names; checks that both reach the container.
async fn assert_configuration_reaches_the_container(setting: &str, mount: &str) {
    let runner = ScriptedRunner::new(vec![Act::exit(0)]);
    let mut settings = test_settings();
    let reference = tempfile::tempdir().unwrap();
    let mut config = ProcessRunConfig::default();
    config.settings.insert(setting.into(), "s3cret".into());
    config
        .mounts
        .insert(mount.into(), reference.path().to_path_buf());
    settings.processes.insert("configured".into(), config);
    let rig = Rig::with_settings(vec![configured()], runner.clone(), settings).await;
    let submitted = submit(&rig, &configured(), ExecuteRequest::default()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    let spec = runner.specs.lock().unwrap()[0].clone();
    assert!(spec
        .env
        .contains(&("API_TOKEN".to_string(), "s3cret".to_string())));
    assert!(spec.binds.iter().any(|b| b.container == "/reference"));
}

#[tokio::test]
async fn configured_settings_and_mounts_reach_the_container() {
    assert_configuration_reaches_the_container("API_TOKEN", "REFERENCE").await;
}

#[tokio::test]
async fn configuration_names_match_the_manifest_whatever_their_case() {
    // As `ADES__PROCESSES__CONFIGURED__MOUNTS__REFERENCE=...` arrives: lower-cased.
    assert_configuration_reaches_the_container("api_token", "reference").await;
}

fn retrying_settings(max_attempts: u32) -> super::QueueSettings {
    super::QueueSettings {
        max_attempts,
        retry_backoff: std::time::Duration::from_millis(200),
        retry_backoff_max: std::time::Duration::from_secs(1),
        ..test_settings()
    }
}

#[tokio::test]
async fn engine_errors_are_retried_after_a_delay_then_fail_as_system() {
    let runner = ScriptedRunner::new(vec![Act::EngineDown]);
    let rig = Rig::with_settings(vec![copier()], runner, retrying_settings(2)).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    assert_eq!(
        worker.try_execute_next().await.unwrap(),
        Some(submitted.id.clone())
    );
    let waiting = job(&rig, &submitted.id).await;
    assert_eq!(waiting.status, JobStatus::Accepted, "{waiting:?}");
    let message = waiting.message.unwrap();
    assert!(
        message.starts_with("retrying in 0.2 s: attempt 1 of 2 failed: engine-error"),
        "{message}"
    );
    // Not before its delay.
    assert_eq!(worker.try_execute_next().await.unwrap(), None);
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    assert_eq!(
        worker.try_execute_next().await.unwrap(),
        Some(submitted.id.clone())
    );
    // The last attempt's failure is final.
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.attempt, 2);
    assert_eq!(failure_name(&done), ENGINE_ERROR);
    assert_eq!(done.failure.unwrap().category, FailureCategory::System);
}

#[tokio::test]
async fn a_retried_job_succeeds_on_a_later_attempt() {
    let runner = ScriptedRunner::new(vec![Act::EngineDown, copier_success()]);
    let rig = Rig::with_settings(vec![copier()], runner, retrying_settings(3)).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    worker.try_execute_next().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    worker.try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    assert_eq!(done.attempt, 2);
}

#[tokio::test]
async fn failures_of_the_job_itself_are_not_retried() {
    // A declared error (category `job`) with attempts to spare.
    let runner = ScriptedRunner::new(vec![Act::exit(1)]);
    let rig = Rig::with_settings(vec![copier()], runner, retrying_settings(3)).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed, "{done:?}");
    assert_eq!(done.attempt, 1);
}

#[test]
fn retry_delays_double_up_to_the_cap() {
    let (base, max) = (Duration::from_secs(5), Duration::from_secs(60));
    let delays: Vec<u64> = (1..=6)
        .map(|a| Backoff::delay_after(base, max, a).as_secs())
        .collect();
    assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
    assert_eq!(Backoff::delay_after(base, max, u32::MAX), max);
}

#[tokio::test]
async fn a_panicking_job_fails_and_the_worker_goes_on() {
    let runner = ScriptedRunner::new(vec![Act::Panic, copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let first = submit(&rig, &copier(), copier_request()).await;
    let second = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    assert_eq!(
        worker.try_execute_next().await.unwrap(),
        Some(first.id.clone())
    );
    let failed = job(&rig, &first.id).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failure_name(&failed), INTERNAL_ERROR);
    assert_eq!(
        worker.try_execute_next().await.unwrap(),
        Some(second.id.clone())
    );
    assert_eq!(job(&rig, &second.id).await.status, JobStatus::Successful);
}

#[tokio::test]
async fn each_attempt_starts_with_empty_outputs() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    // Left by an earlier attempt.
    let outputs = rig.workspace.outputs_dir(&submitted.id);
    std::fs::create_dir_all(&outputs).unwrap();
    std::fs::write(outputs.join("extra-stale.txt"), "old").unwrap();
    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    assert!(!done.results.unwrap().contains_key("EXTRA"));
}

#[tokio::test]
async fn progress_messages_are_recorded() {
    let runner = ScriptedRunner::new(vec![Act::UntilCancelled]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    wait_for_runs(&runner, 1).await;
    let running = job(&rig, &submitted.id).await;
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.message.as_deref(), Some("running container"));
    rig.jobs
        .dismiss(&crate::auth::Caller::system(), &submitted.id)
        .await
        .unwrap();
    step.await.unwrap().unwrap();
}

async fn wait_for_runs(runner: &ScriptedRunner, runs: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runner.runs() < runs {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never started"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn dismissing_a_running_job_cancels_its_container() {
    let runner = ScriptedRunner::new(vec![Act::UntilCancelled]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    wait_for_runs(&runner, 1).await;
    rig.jobs
        .dismiss(&crate::auth::Caller::system(), &submitted.id)
        .await
        .unwrap();
    let ran = tokio::time::timeout(Duration::from_secs(5), step)
        .await
        .expect("the step ends once the job is dismissed")
        .unwrap()
        .unwrap();
    assert_eq!(ran, Some(submitted.id.clone()));
    assert_eq!(*runner.cancelled.lock().unwrap(), 1);
    assert_eq!(job(&rig, &submitted.id).await.status, JobStatus::Dismissed);
}

#[tokio::test]
async fn a_lost_lease_cancels_the_container() {
    let runner = ScriptedRunner::new(vec![Act::UntilCancelled]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let worker = rig.worker("w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    wait_for_runs(&runner, 1).await;
    // As if the worker had stalled past its lease and the reaper had requeued the job.
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let reaped = rig
        .jobs
        .store()
        .reap_expired_leases(later, 3)
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1);
    tokio::time::timeout(Duration::from_secs(5), step)
        .await
        .expect("the heartbeat notices the lost lease")
        .unwrap()
        .unwrap();
    assert_eq!(*runner.cancelled.lock().unwrap(), 1);
    let requeued = job(&rig, &submitted.id).await;
    assert_eq!(requeued.status, JobStatus::Accepted, "{requeued:?}");
}

#[tokio::test]
async fn the_reaper_requeues_a_job_whose_worker_vanished() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    // A worker claims it and is never heard of again.
    let now = OffsetDateTime::now_utc();
    let claimed = rig
        .jobs
        .store()
        .claim_next_job(
            &WorkerId("vanished".into()),
            now + Duration::from_millis(200),
            now,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, submitted.id);
    let reaper = Reaper::new(rig.jobs.clone(), 3, Duration::from_millis(50));
    assert!(
        reaper.reap_once().await.unwrap().is_empty(),
        "not expired yet"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reaped = reaper.reap_once().await.unwrap();
    assert_eq!(reaped.len(), 1);
    assert_eq!(reaped[0].now, JobStatus::Accepted);

    rig.worker("w1").try_execute_next().await.unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    assert_eq!(done.attempt, 2);
    assert_eq!(
        runner.specs.lock().unwrap()[0].run_id,
        format!("{}-2", submitted.id)
    );
}

#[tokio::test]
async fn concurrent_workers_never_run_a_job_twice() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    *runner.delay.lock().unwrap() = Duration::from_millis(20);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(submit(&rig, &copier(), copier_request()).await.id);
    }
    let mut steps = Vec::new();
    for n in 0..4 {
        let worker = rig.worker(&format!("w{n}"));
        steps.push(tokio::spawn(async move {
            let mut ran = Vec::new();
            while let Some(id) = worker.try_execute_next().await.unwrap() {
                ran.push(id);
            }
            ran
        }));
    }
    let mut ran = Vec::new();
    for step in steps {
        ran.extend(step.await.unwrap());
    }
    ran.sort();
    ids.sort();
    assert_eq!(ran, ids, "each job ran exactly once");
    let mut run_ids: Vec<String> = runner
        .specs
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.run_id.clone())
        .collect();
    run_ids.sort();
    run_ids.dedup();
    assert_eq!(run_ids.len(), 12);
    assert!(
        *runner.max_running.lock().unwrap() > 1,
        "the workers ran in parallel"
    );
    for id in &ids {
        assert_eq!(job(&rig, id).await.status, JobStatus::Successful);
    }
}

#[tokio::test]
async fn the_pool_runs_submitted_jobs_and_stops() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let pool = WorkerPool::start(
        rig.jobs.clone(),
        Catalog::from_processes(vec![copier()]),
        runner.clone(),
        rig.workspace.clone(),
        test_settings(),
    );
    assert_eq!(pool.worker_ids().len(), 2);
    let submitted = submit(&rig, &copier(), copier_request()).await;
    let done = rig
        .jobs
        .wait_until_final(
            &crate::auth::Caller::system(),
            &submitted.id,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    tokio::time::timeout(
        Duration::from_secs(5),
        pool.shutdown(Duration::from_secs(5)),
    )
    .await
    .expect("an idle pool stops at once");
}

#[tokio::test]
async fn shutdown_cancels_jobs_still_running_after_the_grace_period() {
    let runner = ScriptedRunner::new(vec![Act::UntilCancelled, copier_success()]);
    let settings = test_settings();
    let rig = Rig::with_settings(vec![copier()], runner.clone(), settings.clone()).await;
    let pool = WorkerPool::start(
        rig.jobs.clone(),
        Catalog::from_processes(vec![copier()]),
        runner.clone(),
        rig.workspace.clone(),
        settings.clone(),
    );
    let submitted = submit(&rig, &copier(), copier_request()).await;
    wait_for_runs(&runner, 1).await;
    tokio::time::timeout(
        Duration::from_secs(5),
        pool.shutdown(Duration::from_millis(200)),
    )
    .await
    .expect("shutdown ends soon after the grace period");
    assert_eq!(*runner.cancelled.lock().unwrap(), 1);
    // Still running under the old lease; once it expires, the next start's reaper requeues
    // it and a worker runs it again.
    assert_eq!(job(&rig, &submitted.id).await.status, JobStatus::Running);
    let pool = WorkerPool::start(
        rig.jobs.clone(),
        Catalog::from_processes(vec![copier()]),
        runner.clone(),
        rig.workspace.clone(),
        settings,
    );
    let done = rig
        .jobs
        .wait_until_final(
            &crate::auth::Caller::system(),
            &submitted.id,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    assert_eq!(done.attempt, 2);
    pool.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_dismissed_waiting_job_never_runs() {
    let runner = ScriptedRunner::new(vec![copier_success()]);
    let rig = Rig::new(vec![copier()], runner.clone()).await;
    let submitted = submit(&rig, &copier(), copier_request()).await;
    rig.jobs
        .dismiss(&crate::auth::Caller::system(), &submitted.id)
        .await
        .unwrap();
    assert_eq!(rig.worker("w1").try_execute_next().await.unwrap(), None);
    assert_eq!(runner.runs(), 0);
}

/// A process declaring `cpus` and `mem` (MiB), with no inputs or outputs.
fn hungry(cpus: f64, mem: f64) -> Process {
    let mut document = manifest("hungry", json!({}), json!([]));
    document["job"]["resources"] = json!({
        "scalar": [{ "name": "cpus", "value": cpus }, { "name": "mem", "value": mem }]
    });
    process(document)
}

fn with_capacity(cpus: f64, mem_mib: f64) -> super::QueueSettings {
    super::QueueSettings {
        capacity_cpus: Some(cpus),
        capacity_mem_mib: Some(mem_mib),
        ..test_settings()
    }
}

#[tokio::test]
async fn jobs_that_do_not_fit_together_run_one_after_the_other() {
    let runner = ScriptedRunner::new(vec![Act::exit(0)]);
    *runner.delay.lock().unwrap() = Duration::from_millis(300);
    let process = hungry(1.0, 64.0);
    let rig = Rig::with_settings(
        vec![process.clone()],
        runner.clone(),
        with_capacity(1.0, 1000.0),
    )
    .await;
    let first = submit(&rig, &process, ExecuteRequest::default()).await;
    let second = submit(&rig, &process, ExecuteRequest::default()).await;
    let mut steps = Vec::new();
    for name in ["w1", "w2"] {
        let worker = rig.worker(name);
        steps.push(tokio::spawn(async move { worker.try_execute_next().await }));
    }
    // One job runs; the other waits, saying why.
    wait_for_runs(&runner, 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let waiting = loop {
        let (a, b) = (job(&rig, &first.id).await, job(&rig, &second.id).await);
        let waiting = [a, b].into_iter().find(|j| {
            j.message
                .as_deref()
                .is_some_and(|m| m.starts_with("waiting for resources"))
        });
        if let Some(waiting) = waiting {
            break waiting;
        }
        assert!(tokio::time::Instant::now() < deadline, "no job waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(waiting.status, JobStatus::Running);
    assert_eq!(
        waiting.message.as_deref(),
        Some("waiting for resources: needs 1 cpu, 64 MiB; free 0 cpus, 936 MiB")
    );
    for step in steps {
        tokio::time::timeout(Duration::from_secs(10), step)
            .await
            .expect("both jobs end")
            .unwrap()
            .unwrap();
    }
    assert_eq!(runner.runs(), 2);
    assert_eq!(
        *runner.max_running.lock().unwrap(),
        1,
        "the two containers never overlapped"
    );
    for id in [&first.id, &second.id] {
        let done = job(&rig, id).await;
        assert_eq!(done.status, JobStatus::Successful, "{done:?}");
    }
}

#[tokio::test]
async fn a_job_larger_than_the_capacity_fails_naming_what_to_change() {
    let runner = ScriptedRunner::new(vec![Act::exit(0)]);
    let process = hungry(2.0, 1024.0);
    let rig = Rig::with_settings(
        vec![process.clone()],
        runner.clone(),
        with_capacity(1.0, 4096.0),
    )
    .await;
    let submitted = submit(&rig, &process, ExecuteRequest::default()).await;
    tokio::time::timeout(Duration::from_secs(5), rig.worker("w1").try_execute_next())
        .await
        .expect("refused at once")
        .unwrap();
    let done = job(&rig, &submitted.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure.clone().unwrap();
    assert_eq!(failure.name, INSUFFICIENT_RESOURCES);
    assert_eq!(failure.category, FailureCategory::System);
    assert!(
        failure.description.contains("asks for 2 cpus")
            && failure.description.contains("at most 1 cpu")
            && failure.description.contains("Seed manifest")
            && failure.description.contains("capacity"),
        "{failure:?}"
    );
    assert!(
        !failure.description.contains("MiB"),
        "memory fits: {failure:?}"
    );
    assert_eq!(runner.runs(), 0);
    let log = std::fs::read_to_string(rig.workspace.log_file(&submitted.id)).unwrap();
    assert!(log.contains("asks for 2 cpus"), "{log}");
}

#[tokio::test]
async fn dismissing_a_job_waiting_for_resources_ends_its_wait() {
    let runner = ScriptedRunner::new(vec![Act::UntilCancelled]);
    let process = hungry(1.0, 64.0);
    let rig = Rig::with_settings(
        vec![process.clone()],
        runner.clone(),
        with_capacity(1.0, 1000.0),
    )
    .await;
    let running = submit(&rig, &process, ExecuteRequest::default()).await;
    let waiting = submit(&rig, &process, ExecuteRequest::default()).await;
    let worker = rig.worker("w1");
    let first = tokio::spawn(async move { worker.try_execute_next().await });
    wait_for_runs(&runner, 1).await;
    let worker = rig.worker("w2");
    let second = tokio::spawn(async move { worker.try_execute_next().await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !job(&rig, &waiting.id)
        .await
        .message
        .is_some_and(|m| m.starts_with("waiting for resources"))
    {
        assert!(tokio::time::Instant::now() < deadline, "never waited");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.jobs
        .dismiss(&crate::auth::Caller::system(), &waiting.id)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the dismissal ends the wait")
        .unwrap()
        .unwrap();
    assert_eq!(job(&rig, &waiting.id).await.status, JobStatus::Dismissed);
    assert_eq!(runner.runs(), 1, "the dismissed job never started");
    rig.jobs
        .dismiss(&crate::auth::Caller::system(), &running.id)
        .await
        .unwrap();
    first.await.unwrap().unwrap();
}

#[test]
fn backoff_doubles_up_to_its_cap_and_resets() {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
    let delays: Vec<u128> = (0..5).map(|_| backoff.next_delay().as_millis()).collect();
    assert_eq!(delays, [100, 200, 400, 500, 500]);
    backoff.reset();
    assert_eq!(backoff.next_delay(), Duration::from_millis(100));
}

#[test]
fn reaper_intervals_follow_the_lease() {
    assert_eq!(
        Reaper::interval_for(Duration::from_secs(30)),
        Duration::from_secs(5)
    );
    assert_eq!(
        Reaper::interval_for(Duration::from_millis(600)),
        Duration::from_millis(200)
    );
    assert_eq!(
        Reaper::interval_for(Duration::from_millis(10)),
        Duration::from_millis(100)
    );
}

#[tokio::test]
async fn a_panicking_loop_is_restarted() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let supervised = supervise("test", CancellationToken::new(), move || {
        let runs = counted.clone();
        async move {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the first run panics");
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), supervised)
        .await
        .expect("the second run ends the supervisor");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stopping_ends_a_supervisor_waiting_to_restart() {
    let stop = CancellationToken::new();
    let supervised = tokio::spawn(supervise("test", stop.clone(), || async {
        panic!("always panics")
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), supervised)
        .await
        .expect("the supervisor stops")
        .unwrap();
}
