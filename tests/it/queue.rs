//! Integration tests of queue/: the worker, the reaper and the start-up sweep on the real
//! Docker engine, with the example Seed images, a real SQLite store in a temporary
//! directory and the real catalogue mapping. Every test checks that the containers of its
//! jobs are gone afterwards.

use crate::support::{example_image, repo_root, shell_job_image};
use ades::catalog::seed_process::process_from_manifest;
use ades::catalog::Catalog;
use ades::domain::{
    ExecuteRequest, InputValue, Job, JobId, JobStatus, OutputValue, Process, WorkerId,
};
use ades::engine::docker::DockerEngine;
use ades::engine::ImageStore;
use ades::engine::RUN_ID_LABEL;
use ades::jobs::JobService;
use ades::queue::concurrency::Concurrency;
use ades::queue::sweep::sweep_containers;
use ades::queue::{Executor, QueueSettings, Worker, JOB_ID_LABEL};
use ades::store::sqlite::SqliteStore;
use ades::workspace::Workspace;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::Docker;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

async fn engine() -> Docker {
    Docker::connect_with_defaults()
        .expect("a Docker client")
        .negotiate_version()
        .await
        .expect("these tests need a running Docker engine")
}

/// The process of a built image, from the manifest in its label.
async fn process_of(docker: &Docker, image: &str) -> Process {
    let label = DockerEngine::new(docker.clone())
        .inspect_image(image)
        .await
        .expect("inspect the example image")
        .label
        .expect("a Seed label");
    let document = seed::label::decode_label(&label).expect("a readable label");
    let manifest = seed::validate::manifest_from_value(document)
        .expect("a valid manifest")
        .manifest;
    process_from_manifest(&manifest, image, None)
}

struct Rig {
    docker: Docker,
    jobs: JobService,
    workspace: Workspace,
    executor: Arc<Executor>,
    settings: QueueSettings,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new(images: &[String]) -> Rig {
        Rig::with_settings(images, |_| {}).await
    }

    /// A rig whose queue settings `adjust` changes.
    async fn with_settings(images: &[String], adjust: impl FnOnce(&mut QueueSettings)) -> Rig {
        let docker = engine().await;
        let mut processes = Vec::new();
        for image in images {
            processes.push(process_of(&docker, image).await);
        }
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::connect(dir.path().join("jobs.db").to_str().unwrap())
            .await
            .expect("open the database");
        let jobs = JobService::new(Arc::new(store));
        let workspace = Workspace::new(dir.path());
        let mut settings = QueueSettings {
            lease: Duration::from_secs(3),
            heartbeat: Duration::from_millis(200),
            poll: Duration::from_millis(100),
            ..QueueSettings::default()
        };
        adjust(&mut settings);
        let executor = Arc::new(Executor::new(
            Catalog::from_processes(processes),
            Arc::new(DockerEngine::new(docker.clone())),
            workspace.clone(),
            settings.clone(),
        ));
        Rig {
            docker,
            jobs,
            workspace,
            executor,
            settings,
            _dir: dir,
        }
    }

    fn worker(&self, name: &str) -> Worker {
        Worker::new(
            WorkerId(name.to_string()),
            self.jobs.clone(),
            self.executor.clone(),
            &self.settings,
            CancellationToken::new(),
            Concurrency::fixed(1),
        )
    }

    async fn submit(&self, image: &str, inputs: Value) -> Job {
        let process = process_of(&self.docker, image).await;
        let mut request = ExecuteRequest::default();
        for (name, value) in inputs.as_object().unwrap() {
            request.inputs.insert(
                name.clone(),
                vec![InputValue::Inline {
                    value: value.clone(),
                    media_type: None,
                }],
            );
        }
        self.jobs
            .submit(&ades::auth::Caller::system(), &process, request)
            .await
            .expect("submit")
    }

    async fn job(&self, id: &JobId) -> Job {
        self.jobs
            .get(&ades::auth::Caller::system(), id)
            .await
            .expect("get the job")
    }

    /// Containers of the job, any attempt, as the engine lists them.
    async fn list_containers_of(&self, id: &JobId) -> Vec<bollard::models::ContainerSummary> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![format!("{JOB_ID_LABEL}={id}")]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        self.docker
            .list_containers(Some(options))
            .await
            .expect("list containers")
    }

    /// How many containers the job has, any attempt.
    async fn containers_of(&self, id: &JobId) -> usize {
        self.list_containers_of(id).await.len()
    }

    /// The engine's view of the job's container once it runs. Polled: right after a create
    /// the engine may list a container that it cannot inspect yet (seen as a 404 on a
    /// loaded machine).
    async fn inspect_running_container(&self, id: &JobId) -> ContainerInspectResponse {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let listed = self.list_containers_of(id).await;
            for name in listed.iter().filter_map(|c| c.id.clone()) {
                let options = None::<bollard::query_parameters::InspectContainerOptions>;
                if let Ok(inspected) = self.docker.inspect_container(&name, options).await {
                    let running = inspected.state.as_ref().and_then(|s| s.running);
                    if running == Some(true) {
                        return inspected;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no running container of job {id} after 30 s: {listed:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_status(&self, id: &JobId, message: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = self.job(id).await;
            if job.message.as_deref() == Some(message) && self.containers_of(id).await > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the job never got to {message:?}: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn assert_containers_gone_within(&self, id: &JobId, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.containers_of(id).await > 0 {
            assert!(
                Instant::now() < deadline,
                "the container of job {id} still exists after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn log_of(rig: &Rig, id: &JobId) -> String {
    std::fs::read_to_string(rig.workspace.log_file(id)).unwrap_or_default()
}

#[tokio::test]
async fn io_demo_runs_to_success_with_results_and_a_log() {
    let image = example_image("io-demo");
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let sample =
        std::fs::read_to_string(repo_root().join("examples/io-demo/sample/input.txt")).unwrap();
    let job = rig.submit(&image, json!({ "INPUT_FILE": sample })).await;

    let ran = rig.worker("it-w1").try_execute_next().await.unwrap();
    assert_eq!(ran.as_ref(), Some(&job.id));
    let done = rig.job(&job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Successful,
        "{done:?}\n{}",
        log_of(&rig, &job.id)
    );
    assert!(done.message.unwrap().starts_with("finished in "));
    let results = done.results.unwrap();
    match &results["OUTPUT_FILE"][..] {
        [OutputValue::File {
            path,
            media_type,
            size_bytes,
            ..
        }] => {
            assert_eq!(path, "new-output.txt");
            assert_eq!(media_type.as_deref(), Some("text/plain"));
            assert_eq!(*size_bytes, sample.len() as u64);
            let mut published = rig.workspace.open_output(&job.id, path).unwrap();
            let mut content = String::new();
            std::io::Read::read_to_string(&mut published, &mut content).unwrap();
            assert_eq!(content, sample);
        }
        other => panic!("unexpected OUTPUT_FILE results {other:?}"),
    }
    let log = log_of(&rig, &job.id);
    assert!(log.contains("io-demo: copied"), "{log}");
    assert_eq!(rig.containers_of(&job.id).await, 0);
}

#[tokio::test]
async fn a_declared_error_fails_the_job_with_its_name_and_message() {
    let image = example_image("errors");
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig.submit(&image, json!({ "CODE": 3 })).await;
    rig.worker("it-w1").try_execute_next().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure.clone().unwrap();
    assert_eq!(failure.name, "job-failed");
    assert_eq!(failure.exit_code, Some(3));
    let message = done.message.unwrap();
    assert!(
        message.starts_with("job-failed: Job failed — The job was asked to fail"),
        "{message}"
    );
    let log = log_of(&rig, &job.id);
    assert!(
        log.lines().count() >= 3,
        "stdout and stderr are in the log: {log}"
    );
    assert_eq!(rig.containers_of(&job.id).await, 0);
}

#[tokio::test]
async fn a_job_asking_more_than_the_capacity_fails_without_a_container() {
    // The echo example declares cpus 0.25 and mem 16.
    let image = example_image("echo");
    let rig = Rig::with_settings(std::slice::from_ref(&image), |settings| {
        settings.capacity_cpus = Some(0.1);
        settings.capacity_mem_mib = Some(8.0);
    })
    .await;
    let job = rig.submit(&image, json!({ "MESSAGE": "too big" })).await;
    rig.worker("it-w1").try_execute_next().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    let failure = done.failure.clone().unwrap();
    assert_eq!(failure.name, "insufficient-resources");
    assert_eq!(failure.category, seed::errors::FailureCategory::System);
    let message = done.message.unwrap();
    assert!(
        message.starts_with(
            "insufficient-resources: Insufficient resources — The job asks for 0.25 cpus, \
             16 MiB but this server gives its jobs at most 0.1 cpus, 8 MiB in all"
        ),
        "{message}"
    );
    assert!(
        message.contains("Seed manifest") && message.contains("configured job capacity"),
        "{message}"
    );
    assert!(log_of(&rig, &job.id).contains("asks for 0.25 cpus"));
    assert_eq!(rig.containers_of(&job.id).await, 0);

    // With room for it, the same job runs.
    let rig = Rig::with_settings(std::slice::from_ref(&image), |settings| {
        settings.capacity_cpus = Some(0.25);
        settings.capacity_mem_mib = Some(16.0);
    })
    .await;
    let job = rig.submit(&image, json!({ "MESSAGE": "fits" })).await;
    rig.worker("it-w1").try_execute_next().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Successful,
        "{done:?}\n{}",
        log_of(&rig, &job.id)
    );
}

#[tokio::test]
async fn an_unset_capacity_is_read_from_the_engine() {
    let docker = engine().await;
    let info = docker.info().await.expect("engine info");
    let filled = ades::queue::capacity::fill_from_engine(
        QueueSettings::default(),
        &DockerEngine::new(docker.clone()),
    )
    .await;
    assert_eq!(filled.capacity_cpus, info.ncpu.map(|n| n as f64));
    let mem = filled.capacity_mem_mib.expect("the engine's memory");
    assert!(mem > 0.0 && mem * 1024.0 * 1024.0 <= info.mem_total.unwrap() as f64);
    assert_eq!(filled.capacity_gpus, 0);
    let configured = QueueSettings {
        capacity_cpus: Some(1.5),
        capacity_mem_mib: Some(512.0),
        capacity_gpus: 1,
        ..QueueSettings::default()
    };
    let kept =
        ades::queue::capacity::fill_from_engine(configured, &DockerEngine::new(docker)).await;
    assert_eq!(
        (
            kept.capacity_cpus,
            kept.capacity_mem_mib,
            kept.capacity_gpus
        ),
        (Some(1.5), Some(512.0), 1)
    );
}

#[tokio::test]
async fn a_job_outliving_its_timeout_fails_with_timeout() {
    let image = example_image("timeout");
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig.submit(&image, json!({})).await;
    let started = Instant::now();
    rig.worker("it-w1").try_execute_next().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let done = rig.job(&job.id).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.failure.unwrap().name, "timeout");
    assert_eq!(rig.containers_of(&job.id).await, 0);
}

#[tokio::test]
async fn dismissing_a_running_job_removes_its_container() {
    let image = shell_job_image();
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig.submit(&image, json!({ "SCRIPT": "sleep 120" })).await;
    let worker = rig.worker("it-w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    rig.wait_for_status(&job.id, "running container").await;

    let dismissed_at = Instant::now();
    let dismissed = rig
        .jobs
        .dismiss(&ades::auth::Caller::system(), &job.id)
        .await
        .unwrap();
    assert_eq!(dismissed.status, JobStatus::Dismissed);
    rig.assert_containers_gone_within(&job.id, Duration::from_secs(10))
        .await;
    tokio::time::timeout(Duration::from_secs(10), step)
        .await
        .expect("the worker's step ends")
        .unwrap()
        .unwrap();
    assert!(dismissed_at.elapsed() < Duration::from_secs(10));
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Dismissed);
}

#[tokio::test]
async fn a_lost_lease_stops_the_container() {
    let image = shell_job_image();
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig.submit(&image, json!({ "SCRIPT": "sleep 120" })).await;
    let worker = rig.worker("it-w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    rig.wait_for_status(&job.id, "running container").await;

    // As if this worker had stalled past its lease and a reaper had requeued the job.
    let later = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let reaped = rig
        .jobs
        .store()
        .reap_expired_leases(later, 3)
        .await
        .unwrap();
    assert_eq!(reaped.len(), 1);
    rig.assert_containers_gone_within(&job.id, Duration::from_secs(10))
        .await;
    tokio::time::timeout(Duration::from_secs(10), step)
        .await
        .expect("the worker's step ends")
        .unwrap()
        .unwrap();
    assert_eq!(rig.job(&job.id).await.status, JobStatus::Accepted);
}

#[tokio::test]
async fn the_reaper_requeues_a_job_whose_worker_vanished() {
    let image = example_image("echo");
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig
        .submit(&image, json!({ "MESSAGE": "again", "REPEAT": 2 }))
        .await;
    let now = OffsetDateTime::now_utc();
    rig.jobs
        .store()
        .claim_next_job(
            &WorkerId("it-vanished".into()),
            now + Duration::from_millis(300),
            now,
        )
        .await
        .unwrap()
        .expect("the job is claimed");

    let reaper = ades::queue::Reaper::new(rig.jobs.clone(), 3, Duration::from_millis(100));
    let stop = CancellationToken::new();
    let reaping = tokio::spawn({
        let stop = stop.clone();
        async move { reaper.run(stop).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.job(&job.id).await.status != JobStatus::Accepted {
        assert!(
            Instant::now() < deadline,
            "the reaper never requeued the job"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    reaping.await.unwrap();

    rig.worker("it-w1").try_execute_next().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Successful,
        "{done:?}\n{}",
        log_of(&rig, &job.id)
    );
    assert_eq!(done.attempt, 2);
    assert_eq!(
        done.results.unwrap()["ECHOED"],
        vec![OutputValue::Json {
            value: json!("again")
        }]
    );
    assert_eq!(rig.containers_of(&job.id).await, 0);
}

#[tokio::test]
async fn concurrent_workers_never_run_a_job_twice() {
    let image = example_image("echo");
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            rig.submit(&image, json!({ "MESSAGE": format!("job {n}") }))
                .await
                .id,
        );
    }
    let mut steps = Vec::new();
    for n in 0..3 {
        let worker = rig.worker(&format!("it-w{n}"));
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
    assert_eq!(ran, ids, "every job ran exactly once");
    for id in &ids {
        let done = rig.job(id).await;
        assert_eq!(done.status, JobStatus::Successful, "{done:?}");
        assert_eq!(done.attempt, 1);
        let events = rig
            .jobs
            .events(&ades::auth::Caller::system(), id)
            .await
            .unwrap();
        let runs = events
            .iter()
            .filter(|e| e.status == JobStatus::Running)
            .count();
        assert!(runs >= 1);
        assert_eq!(rig.containers_of(id).await, 0);
    }
}

/// Starts a container as an earlier server process would have left it for `job_id`'s
/// attempt 1: labelled, named after its run, running `script` in the shell image with the
/// job's outputs directory as `$OUTPUT_DIR`.
async fn start_leftover(rig: &Rig, job_id: &JobId, name: &str, script: &str) -> String {
    let outputs = rig.workspace.outputs_dir(job_id);
    std::fs::create_dir_all(&outputs).unwrap();
    let mut labels = HashMap::new();
    labels.insert(RUN_ID_LABEL.to_string(), format!("{job_id}-1"));
    labels.insert(JOB_ID_LABEL.to_string(), job_id.to_string());
    let uid = {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&outputs).unwrap();
        format!("{}:{}", meta.uid(), meta.gid())
    };
    let body = ContainerCreateBody {
        image: Some(shell_job_image()),
        cmd: Some(vec!["-c".into(), script.into()]),
        env: Some(vec!["OUTPUT_DIR=/leftover-outputs".into()]),
        user: Some(uid),
        labels: Some(labels),
        host_config: Some(bollard::models::HostConfig {
            binds: Some(vec![format!("{}:/leftover-outputs", outputs.display())]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    };
    rig.docker
        .create_container(Some(options), body)
        .await
        .expect("create a container");
    rig.docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .expect("start it");
    name.to_string()
}

#[tokio::test]
async fn the_sweep_removes_containers_of_ended_jobs_only() {
    let image = shell_job_image();
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let ended = rig.submit(&image, json!({ "SCRIPT": "sleep 120" })).await;
    rig.jobs
        .dismiss(&ades::auth::Caller::system(), &ended.id)
        .await
        .expect("dismiss");
    let waiting = rig.submit(&image, json!({ "SCRIPT": "sleep 120" })).await;
    let unknown = JobId::new();

    let sleeper = "sleep 120";
    start_leftover(
        &rig,
        &ended.id,
        &format!("ades-it-sweep-{}", ended.id),
        sleeper,
    )
    .await;
    let kept = start_leftover(
        &rig,
        &waiting.id,
        &format!("ades-it-sweep-{}", waiting.id),
        sleeper,
    )
    .await;
    let foreign =
        start_leftover(&rig, &unknown, &format!("ades-it-sweep-{unknown}"), sleeper).await;

    let report = sweep_containers(&DockerEngine::new(rig.docker.clone()), &rig.jobs, |_| false)
        .await
        .expect("sweep");
    assert_eq!(rig.containers_of(&ended.id).await, 0, "{report:?}");
    assert_eq!(
        rig.containers_of(&waiting.id).await,
        1,
        "a container of a job not ended yet is left for its next attempt to take over"
    );
    assert_eq!(
        rig.containers_of(&unknown).await,
        1,
        "a container of a job this store does not know is left alone"
    );
    assert_eq!(report.removed.len(), 1, "{report:?}");

    for name in [foreign, kept] {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        rig.docker
            .remove_container(&name, Some(options))
            .await
            .expect("clean up");
    }
}

/// A worker died while its job's container ran (or after it exited, before the end was
/// recorded): the next attempt follows that container to its end instead of running the
/// job a second time.
#[tokio::test]
async fn a_later_attempt_takes_over_the_container_of_a_lost_worker() {
    let image = shell_job_image();
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    // What the request would do if it ran again; the leftover container does otherwise, so
    // the results tell which one the job's end came from.
    let rerun = "echo r > $OUTPUT_DIR/one-rerun.txt && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    for (case, delay) in [("still running", "sleep 2"), ("already exited", "true")] {
        let job = rig.submit(&image, json!({ "SCRIPT": rerun })).await;
        let now = OffsetDateTime::now_utc();
        let claimed = rig
            .jobs
            .store()
            .claim_next_job(
                &WorkerId("it-dead".into()),
                now + Duration::from_secs(1),
                now,
            )
            .await
            .unwrap()
            .expect("the dead worker's claim");
        assert_eq!(claimed.id, job.id);
        let leftover = format!(
            "{delay} && echo left > $OUTPUT_DIR/one-left.txt && echo '{{\"COUNT\": 7}}' > $OUTPUT_DIR/seed.outputs.json && echo done"
        );
        start_leftover(
            &rig,
            &job.id,
            &format!("ades-it-leftover-{}", job.id),
            &leftover,
        )
        .await;
        if case == "already exited" {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // The dead worker's lease runs out and the reaper requeues the job.
        let later = OffsetDateTime::now_utc() + Duration::from_secs(2);
        let reaped = rig
            .jobs
            .store()
            .reap_expired_leases(later, 3)
            .await
            .unwrap();
        assert_eq!(reaped.len(), 1, "{case}");

        let ran = rig.worker("it-w1").try_execute_next().await.unwrap();
        assert_eq!(ran.as_ref(), Some(&job.id), "{case}");
        let done = rig.job(&job.id).await;
        let log = log_of(&rig, &job.id);
        assert_eq!(
            done.status,
            JobStatus::Successful,
            "{case}: {done:?}\n{log}"
        );
        assert_eq!(done.attempt, 2, "{case}");
        let results = done.results.unwrap();
        assert_eq!(
            results["COUNT"],
            vec![OutputValue::Json { value: json!(7) }],
            "{case}: the results are the leftover container's"
        );
        assert!(results.contains_key("ONE"), "{case}: {results:?}");
        assert!(
            log.contains("taking over container ades-it-leftover-"),
            "{case}: {log}"
        );
        assert!(
            log.contains("done"),
            "{case}: the container's output is in the log: {log}"
        );
        assert_eq!(
            rig.containers_of(&job.id).await,
            0,
            "{case}: removed once recorded"
        );
    }
}

/// The script for the shell image that records who it runs as and whether `/` takes a
/// file, in `one-probe.txt`.
const PROBE_SCRIPT: &str = "{ id -u; if touch /probe 2>/dev/null; then echo root writable; \
     else echo root read-only; fi; } > \"$OUTPUT_DIR/one-probe.txt\"; \
     echo '{\"COUNT\": 1}' > \"$OUTPUT_DIR/seed.outputs.json\"";

/// Runs [`PROBE_SCRIPT`] as a served job under `adjust`ed settings; its two lines.
async fn probe_job(adjust: impl FnOnce(&mut QueueSettings, &str)) -> Vec<String> {
    let image = shell_job_image();
    let process_id = process_of(&engine().await, &image).await.id.to_string();
    let rig = Rig::with_settings(std::slice::from_ref(&image), |s| adjust(s, &process_id)).await;
    let job = rig.submit(&image, json!({ "SCRIPT": PROBE_SCRIPT })).await;
    rig.worker("it-w1").try_execute_next().await.unwrap();
    let done = rig.job(&job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Successful,
        "{done:?}\n{}",
        log_of(&rig, &job.id)
    );
    let mut probe = rig.workspace.open_output(&job.id, "one-probe.txt").unwrap();
    // Handed back to ades after the run, whoever the job ran as.
    crate::support::assert_owned_by_us(&rig.workspace.outputs_dir(&job.id));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut probe, &mut text).unwrap();
    text.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn served_jobs_run_as_a_non_root_user_on_a_read_only_root() {
    let lines = probe_job(|_, _| {}).await;
    assert_ne!(lines[0], "0", "{lines:?}");
    assert_eq!(lines[1], "root read-only", "{lines:?}");
}

#[tokio::test]
async fn a_process_allowed_root_and_a_writable_root_gets_them() {
    let lines = probe_job(|settings, process_id| {
        settings.processes.insert(
            process_id.to_string(),
            ades::queue::ProcessRunConfig {
                opt_outs: ades::execution::OptOuts {
                    run_as_root: true,
                    writable_root: true,
                    pids_limit: None,
                },
                ..Default::default()
            },
        );
    })
    .await;
    assert_eq!(lines, ["0", "root writable"]);
}

#[tokio::test]
async fn a_job_declaring_no_resources_gets_the_default_limits() {
    // The shell image declares no cpus or mem: the container as the engine has it carries
    // the default memory and CPU limits and the rest of the hardening.
    let image = shell_job_image();
    let rig = Rig::new(std::slice::from_ref(&image)).await;
    let job = rig.submit(&image, json!({ "SCRIPT": "sleep 120" })).await;
    let worker = rig.worker("it-w1");
    let step = tokio::spawn(async move { worker.try_execute_next().await });
    rig.wait_for_status(&job.id, "running container").await;

    let inspected = rig.inspect_running_container(&job.id).await;
    rig.jobs
        .dismiss(&ades::auth::Caller::system(), &job.id)
        .await
        .unwrap();

    let host = inspected.host_config.unwrap();
    assert_eq!(host.memory, Some(2048 * 1024 * 1024));
    assert_eq!(host.memory_swap, Some(2048 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(1_000_000_000));
    assert_eq!(host.pids_limit, Some(4096));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert!(host.tmpfs.unwrap().contains_key("/tmp"));
    let nofile = host
        .ulimits
        .unwrap()
        .into_iter()
        .find(|u| u.name.as_deref() == Some("nofile"))
        .expect("a nofile ulimit");
    assert_eq!((nofile.soft, nofile.hard), (Some(4096), Some(4096)));
    let security = host.security_opt.unwrap_or_default();
    assert!(security.contains(&"no-new-privileges".to_string()));
    assert!(
        !security.iter().any(|o| o.contains("unconfined")),
        "{security:?}"
    );
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    let user = inspected.config.unwrap().user.unwrap_or_default();
    assert!(!user.is_empty() && !user.starts_with("0:"), "user {user:?}");

    rig.assert_containers_gone_within(&job.id, Duration::from_secs(10))
        .await;
    tokio::time::timeout(Duration::from_secs(10), step)
        .await
        .expect("the worker's step ends")
        .unwrap()
        .unwrap();
}
