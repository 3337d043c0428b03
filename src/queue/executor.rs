//! Running one claimed job: find its process, stage its inputs, run its Seed image and turn
//! the report into a [`Completion`]. Knows nothing of leases: the worker (`worker.rs`) holds
//! those and writes the completion.
//!
//! Choices:
//! - Every attempt starts clean: `inputs/` and `outputs/` are emptied and staged again;
//!   `log.txt` keeps every attempt, each opened by a header line, and is capped at
//!   [`MAX_LOG_BYTES`] in total (a note marks where output was dropped).
//! - The container's run id is `<job id>-<attempt>`, and it carries [`JOB_ID_LABEL`], so the
//!   start-up sweep can tell server jobs from `ades run` containers and find their job.
//! - Results hold every output the job produced, whatever the request asked for: the
//!   façades choose what to show. Absent optional outputs are missing from the results.
//! - Failures ades reports itself (not the algorithm) get the names below; a process that
//!   needs operator configuration (settings, mounts, unknown resources) fails `system` with a
//!   message saying what to configure; bad inputs fail `data`.
//! - Between staging and the container, the job reserves the CPUs, memory and GPUs its
//!   manifest allocates (`capacity.rs`); it waits while they are taken ("waiting for
//!   resources: ...") and fails `insufficient-resources` when it asks more than the whole
//!   capacity. The reservation ends with the container.
//! - Engine errors (engine unreachable, image missing, image pull failed) fail the attempt
//!   `system`; [`is_retryable`] tells the worker which failures get another attempt.
//! - A served job's container is kept after it exits until the worker has recorded the end
//!   ([`Executor::remove_containers`]). A later attempt that finds it (its worker was lost
//!   in between, or while it ran) takes it over instead of running the job again
//!   ([`Executor::take_over`]), so a job's container runs once per successful attempt.
//! - While the runner pulls an absent image, its status lines ("pulling image X: 3 of 5
//!   layers done") become the job's status message: the log sink is synchronous, so it
//!   keeps the latest line in a slot that the run's own task reports between polls.
//! - A cancelled run (dismissed, lease lost, server stopping) produces no completion: the
//!   store already says `dismissed`, or the lease expires and the reaper requeues the job.

use super::capacity::{Capacity, Reservation, ReserveError, ResourcePool};
use super::{ProcessRunConfig, QueueSettings};
use crate::catalog::Catalog;
use crate::domain::{Binding, Job, JobId, JobResults, OutputValue, Process, SeedBinding};
use crate::engine::RunFacts;
use crate::engine::{
    ContainerExit, ContainerRunner, ContainerSpec, FoundContainer, FoundState, LogSink, Milestone,
    RunnerError,
};
use crate::execution::{
    judge_run, open_inputs_to, plan_job, run_seed_job, ExecutionError, Hardening, SeedJob,
    SeedJobReport,
};
use crate::provenance::{EndedRun, ProvRecord};
use crate::store::Completion;
use crate::workspace::staging::StagingError;
use crate::workspace::Workspace;
use async_trait::async_trait;
use seed::contract::{Allocation, Invocation, Policy};
use seed::errors::{FailureCategory, JobFailure};
use seed::Problem;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

mod cwl;

/// Label on every container a served job starts, holding the job id (`ades run` containers
/// have [`crate::engine::RUN_ID_LABEL`] but not this one).
pub const JOB_ID_LABEL: &str = "org.ades.job-id";

/// The most `log.txt` grows to, all attempts together.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;

/// Failure name: the job's process is no longer offered (`system`).
pub const PROCESS_UNAVAILABLE: &str = "process-unavailable";
/// Failure name: the process lacks operator configuration (`system`).
pub const PROCESS_NOT_CONFIGURED: &str = "process-not-configured";
/// Failure name: an input cannot be used (`data`).
pub const INVALID_INPUT: &str = "invalid-input";
/// Failure name: the server could not write the job's files (`system`).
pub const WORKSPACE_ERROR: &str = "workspace-error";
/// Failure name: the container engine failed or refused the container (`system`).
pub const ENGINE_ERROR: &str = "engine-error";
/// Failure name: the image was not in the engine and pulling it failed (`system`).
pub const IMAGE_PULL_FAILED: &str = "image-pull-failed";
/// Failure name: ades itself failed while running the job (a bug; `system`).
pub const INTERNAL_ERROR: &str = "internal-error";
/// Failure name: the job asks for more CPUs, memory or GPUs than this server gives its jobs
/// in all (`system`).
pub const INSUFFICIENT_RESOURCES: &str = "insufficient-resources";

/// Where the executor reports what it is doing (the worker writes it to the store).
#[async_trait]
pub trait ProgressReporter: Send + Sync {
    /// Records `message` as the job's status message ("staging inputs", ...).
    async fn report(&self, message: &str);

    /// Records `message` and the job's progress in percent (a container's
    /// `ADES_PROGRESS` line); a reporter that keeps no percentage records the message.
    async fn report_progress(&self, message: &str, percent: u8) {
        let _ = percent;
        self.report(message).await;
    }

    /// Keeps the job's provenance record, made just before the attempt's end is returned
    /// (so it is kept by the time the end is). A reporter that keeps none ignores it.
    async fn record_provenance(&self, _record: &ProvRecord) {}
}

/// The stdout line a container prints to move its job's progress:
/// `ADES_PROGRESS <0-100> [message]` (our convention for Seed images, in the README).
pub const PROGRESS_PREFIX: &str = "ADES_PROGRESS";

/// The percentage and message of an `ADES_PROGRESS` line (`None`: not one, or not a number
/// from 0 to 100). Without a message the status says "running container".
pub fn progress_line(line: &str) -> Option<(u8, String)> {
    let rest = line.strip_prefix(PROGRESS_PREFIX)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let (number, message) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let percent: u8 = number.parse().ok().filter(|p| *p <= 100)?;
    let message = message.trim();
    let message = if message.is_empty() {
        "running container".to_string()
    } else {
        message.chars().take(500).collect()
    };
    Some((percent, message))
}

/// How an execution ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Write this to the store.
    Complete(Completion),
    /// Cancelled (dismissed, lease lost, server stopping): write nothing.
    Abandoned,
}

/// Everything a job run needs, shared by the workers.
pub struct Executor {
    catalog: Catalog,
    runner: Arc<dyn ContainerRunner>,
    workspace: Workspace,
    settings: QueueSettings,
    http: reqwest::Client,
    /// What running jobs hold of the capacity.
    resources: ResourcePool,
    /// Where container starts, image pulls and jobs waiting for resources are counted.
    metrics: crate::metrics::Metrics,
}

impl Executor {
    /// An executor running `catalog`'s processes on `runner`, files under `workspace`.
    pub fn new(
        catalog: Catalog,
        runner: Arc<dyn ContainerRunner>,
        workspace: Workspace,
        settings: QueueSettings,
    ) -> Self {
        // Counted apart from any server until `with_metrics` says whose they are.
        let metrics = crate::metrics::Metrics::new();
        Executor {
            catalog,
            runner,
            workspace,
            http: crate::workspace::staging::http_client_for(&settings.staging),
            resources: ResourcePool::new(Capacity::of(&settings), metrics.clone()),
            metrics,
            settings,
        }
    }

    /// The same executor, counting in `metrics` (a server's, [`crate::jobs::JobService::metrics`]).
    /// Call before any job runs: the resource pool starts afresh.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.resources = ResourcePool::new(Capacity::of(&self.settings), metrics.clone());
        self.metrics = metrics;
        self
    }

    /// Runs `job` (already claimed) to its end; `cancel` stops it at any stage.
    pub async fn execute(
        &self,
        job: &Job,
        cancel: CancellationToken,
        progress: &dyn ProgressReporter,
    ) -> Outcome {
        // What the steps learn for the provenance record.
        let mut trace = RunTrace::default();
        // Each step either hands the next one what it needs or ends the attempt early with
        // its outcome (`Err`): the order of the steps is the whole story of an attempt.
        let attempt = async {
            let process = self.process_of(job)?;
            trace.process = Some(process.clone());
            // Where a process that runs something other than one Seed container branches
            // off: everything below is the Seed run.
            let seed = match &process.binding {
                Binding::Seed(seed) => seed,
                Binding::Cwl(cwl) => {
                    return self
                        .run_cwl(job, &process, cwl, cancel.clone(), progress, &mut trace)
                        .await
                }
                // Workers never claim workflow jobs (the workflow driver runs them); a job
                // whose process was replaced by a workflow after it was queued ends here.
                Binding::Workflow(_) | Binding::Remote(_) => {
                    return Err(failed(ades_failure(
                        PROCESS_UNAVAILABLE,
                        "Process unavailable",
                        format!(
                            "Process {} became a workflow after this job was queued; submit \
                             a new job to run the workflow.",
                            job.process_id
                        ),
                        FailureCategory::System,
                    )))
                }
            };
            let mut log = LogFile::open(&self.workspace.log_file(&job.id), MAX_LOG_BYTES)
                .map_err(|err| workspace_failure(&err))?;
            log.note(&format!(
                "attempt {} of job {}: {} ({})",
                job.attempt, job.id, process.id, seed.image
            ));
            if let Some(outcome) = self
                .take_over(job, seed, &cancel, progress, &mut log, &mut trace)
                .await
            {
                return Ok(outcome);
            }
            let invocation = self
                .stage(job, &process, &cancel, progress, &mut log)
                .await?;
            trace.invocation = Some(invocation.clone());
            let seed_job = self.seed_job(job, &process, seed, invocation)?;
            Ok(self
                .run(
                    job,
                    &process,
                    &seed_job,
                    cancel.clone(),
                    progress,
                    log,
                    &mut trace,
                )
                .await)
        };
        let outcome = attempt.await.unwrap_or_else(|ended_early| ended_early);
        if let Outcome::Complete(completion) = &outcome {
            self.record_provenance(job, completion, trace, progress)
                .await;
        }
        outcome
    }

    /// Makes the provenance record of an attempt that ended (hashing the staged inputs and
    /// the outputs) and hands it to the reporter. A job whose process was gone before
    /// anything ran has no plan to record: it gets none.
    async fn record_provenance(
        &self,
        job: &Job,
        completion: &Completion,
        trace: RunTrace,
        progress: &dyn ProgressReporter,
    ) {
        let Some(process) = trace.process else {
            return;
        };
        let status = match completion {
            Completion::Succeeded { .. } => "successful",
            Completion::Failed { .. } => "failed",
        };
        let run = EndedRun {
            job: job.clone(),
            process: process.as_ref().clone(),
            status: status.to_string(),
            ended: time::OffsetDateTime::now_utc(),
            invocation: trace.invocation,
            inputs_dir: self.workspace.inputs_dir(&job.id),
            outputs: trace.outputs,
            facts: trace.facts,
            host: super::hosts::host_name(),
        };
        progress.record_provenance(&run.into_record().await).await;
    }

    /// The job's process, if it is still offered.
    fn process_of(&self, job: &Job) -> Result<Arc<Process>, Outcome> {
        self.catalog.get(&job.process_id).ok_or_else(|| {
            failed(ades_failure(
                PROCESS_UNAVAILABLE,
                "Process unavailable",
                format!(
                    "Process {} is no longer offered by this server (its image was removed \
                     or its manifest became invalid). Make the image available again and \
                     submit a new job.",
                    job.process_id
                ),
                FailureCategory::System,
            ))
        })
    }

    /// Stages the inputs afresh (the workspace empties `inputs/` and `outputs/` first).
    async fn stage(
        &self,
        job: &Job,
        process: &Process,
        cancel: &CancellationToken,
        progress: &dyn ProgressReporter,
        log: &mut LogFile,
    ) -> Result<Invocation, Outcome> {
        progress.report("staging inputs").await;
        let staging = self.workspace.stage_inputs(
            &job.id,
            process,
            &job.request,
            &self.http,
            &self.settings.staging,
        );
        let staged = tokio::select! {
            staged = staging => staged,
            _ = cancel.cancelled() => return Err(Outcome::Abandoned),
        };
        staged.map_err(|err| match err {
            StagingError::BadInput { input, reason } => {
                let description = format!("Input {input}: {reason}.");
                log.note(&description);
                failed(ades_failure(
                    INVALID_INPUT,
                    "Invalid input",
                    description,
                    FailureCategory::Data,
                ))
            }
            StagingError::Io(message) => workspace_failure(&message),
        })
    }

    /// The Seed job of this attempt: the staged invocation with the operator's settings and
    /// mounts, the hardening loosened as the process's opt-outs allow.
    fn seed_job(
        &self,
        job: &Job,
        process: &Process,
        seed: &SeedBinding,
        invocation: Invocation,
    ) -> Result<SeedJob, Outcome> {
        let run_config = self
            .settings
            .processes
            .get(process.id.as_str())
            .cloned()
            .unwrap_or_default();
        let hardening = self
            .settings
            .hardening
            .clone()
            .with_opt_outs(&run_config.opt_outs);
        let inputs_dir = self.workspace.inputs_dir(&job.id);
        if let Err(err) = open_inputs_to(&inputs_dir, hardening.user.as_deref()) {
            return Err(workspace_failure(&format!(
                "{}: {err}",
                inputs_dir.display()
            )));
        }
        Ok(SeedJob {
            image: seed.image.clone(),
            manifest: seed.manifest.clone(),
            invocation: with_configuration(invocation, &run_config, &seed.manifest),
            output_dir: self.workspace.outputs_dir(&job.id),
            run_id: run_id(job),
            policy: Policy {
                allow_unknown_resources: self.settings.allow_unknown_resources,
            },
            hardening,
            network: self.settings.network.clone(),
            keep_container: true,
        })
    }

    /// Reserves what the job's manifest allocates, waiting while it is taken. A job the
    /// contract refuses reserves nothing (`None`): running it reports why.
    async fn reserve(
        &self,
        seed_job: &SeedJob,
        cancel: &CancellationToken,
        progress: &dyn ProgressReporter,
        log: &mut LogFile,
    ) -> Result<Option<Reservation>, Outcome> {
        let Ok(plan) = plan_job(seed_job) else {
            return Ok(None);
        };
        match self
            .resources
            .reserve(&plan.allocation, cancel, progress)
            .await
        {
            Ok(reservation) => Ok(Some(reservation)),
            Err(ReserveError::Cancelled) => Err(Outcome::Abandoned),
            Err(ReserveError::TooLarge(description)) => {
                log.note(&description);
                log.finish();
                Err(failed(ades_failure(
                    INSUFFICIENT_RESOURCES,
                    "Insufficient resources",
                    description,
                    FailureCategory::System,
                )))
            }
        }
    }

    /// Reserves the job's resources, runs the container (holding them until it ends),
    /// publishes the outputs and judges the run.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        job: &Job,
        process: &Process,
        seed_job: &SeedJob,
        cancel: CancellationToken,
        progress: &dyn ProgressReporter,
        mut log: LogFile,
        trace: &mut RunTrace,
    ) -> Outcome {
        let reservation = match self.reserve(seed_job, &cancel, progress, &mut log).await {
            Ok(reservation) => reservation,
            Err(ended_early) => return ended_early,
        };
        progress.report("running container").await;
        let runner = LabellingRunner {
            inner: self.runner.as_ref(),
            job_id: job.id.as_str(),
            process: process.id.as_str(),
            progress,
            metrics: &self.metrics,
        };
        let mut sink = FactsCatcher::new(&mut log);
        let result = run_seed_job(&runner, seed_job, cancel, &mut sink).await;
        trace.facts = sink.facts;
        drop(reservation);
        let outcome = match result {
            Ok(report) => {
                trace.outputs = Some(report.outputs.clone());
                for warning in &report.warnings {
                    log.note(warning);
                }
                self.published(job, &report).await
            }
            Err(ExecutionError::Invocation(problems)) => {
                failed(invocation_failure(process, seed_job, &problems))
            }
            Err(ExecutionError::Runner(err)) => failed(engine_failure(&err)),
            Err(ExecutionError::Workspace(message)) => workspace_failure(&message),
        };
        if let Outcome::Complete(Completion::Failed { message, .. }) = &outcome {
            log.note(message);
        }
        log.finish();
        outcome
    }

    /// The outcome of a run that ended by itself, once the workspace has published its
    /// outputs (a cancelled run publishes nothing: it records nothing).
    async fn published(&self, job: &Job, report: &SeedJobReport) -> Outcome {
        if report.exit == ContainerExit::Cancelled {
            return Outcome::Abandoned;
        }
        if let Err(message) = self.workspace.publish_outputs(&job.id).await {
            return workspace_failure(&message);
        }
        let mut outcome = outcome_of(report);
        if let Outcome::Complete(Completion::Succeeded { results, .. }) = &mut outcome {
            if let Err(message) = self.publish_to_output_workspace(job, results).await {
                return workspace_failure(&message);
            }
        }
        outcome
    }

    /// Publishes a successful job's files to its process's output workspace
    /// (`[processes.<id>] output_workspace`), if it has one, and records where each went
    /// in `results` (which then link them there). A failure fails the job: its products
    /// did not land where the operator wants them.
    async fn publish_to_output_workspace(
        &self,
        job: &Job,
        results: &mut crate::domain::JobResults,
    ) -> Result<(), String> {
        // A strike rule's output workspace wins over the process's.
        let configured = self
            .settings
            .processes
            .get(job.process_id.as_str())
            .map(|config| config.output_workspace.as_str());
        let Some(name) = job
            .request
            .output_workspace
            .as_deref()
            .or(configured)
            .filter(|name| !name.is_empty())
        else {
            return Ok(());
        };
        let published = self
            .settings
            .staging
            .workspaces
            .publish(
                name,
                job.process_id.as_str(),
                job.id.as_str(),
                job.created,
                &self.workspace.outputs_dir(&job.id),
            )
            .await
            .map_err(|e| format!("cannot publish the outputs to the workspace {name}: {e}"))?;
        for values in results.values_mut() {
            for value in values {
                if let OutputValue::File {
                    path,
                    published: slot,
                    ..
                } = value
                {
                    *slot = published.iter().find(|p| &p.file == path).map(|p| {
                        crate::domain::PublishedFile {
                            workspace: p.workspace.clone(),
                            path: p.path.clone(),
                            sha256: p.sha256.clone(),
                        }
                    });
                }
            }
        }
        Ok(())
    }

    /// Finds the containers earlier attempts of this job left (their worker was lost
    /// before it recorded the end). On a later attempt, the newest one that ran is taken
    /// over: followed to its end (or, if it already ended, judged as it ended) instead of
    /// running the job a second time; `None` when there is none, after removing any stale
    /// ones, and the job runs afresh.
    ///
    /// Taking over needs the earlier attempt's `outputs/`, so replicas must share the
    /// workspace; a container on another host's engine is not seen here (see the README on
    /// replicas).
    async fn take_over(
        &self,
        job: &Job,
        seed: &SeedBinding,
        cancel: &CancellationToken,
        progress: &dyn ProgressReporter,
        log: &mut LogFile,
        trace: &mut RunTrace,
    ) -> Option<Outcome> {
        if job.attempt <= 1 {
            // A claim counts the attempt, so the first one has no earlier container to
            // find: that saves an engine call for nearly every job.
            return None;
        }
        let found = match self
            .runner
            .find_containers(JOB_ID_LABEL, job.id.as_str())
            .await
        {
            Ok(found) => found,
            Err(err) => return Some(failed(engine_failure(&err))),
        };
        let outputs_dir = self.workspace.outputs_dir(&job.id);
        let followed = if job.attempt > 1 && outputs_dir.is_dir() {
            newest_that_ran(&found)
        } else {
            None
        };
        for stale in found.iter().filter(|c| Some(*c) != followed) {
            log.note(&format!(
                "removing container {} left by an earlier attempt",
                stale.name
            ));
            if let Err(err) = self.runner.remove(&stale.name).await {
                return Some(failed(engine_failure(&err)));
            }
        }
        let container = followed?;
        log.note(&format!(
            "taking over container {} that an earlier attempt started (its worker was lost \
             before recording the end); its output from the start follows",
            container.name
        ));
        tracing::info!(container = %container.name, "taking over the container of an earlier attempt");
        progress
            .report("running container (taken over from a lost worker)")
            .await;
        let started = std::time::Instant::now();
        let timeout = std::time::Duration::from_secs(seed.manifest.job.timeout);
        let mut sink = FactsCatcher::new(log);
        let followed = self
            .runner
            .reattach(container, timeout, cancel.clone(), &mut sink)
            .await;
        // Only the part of the run this attempt followed was sampled.
        trace.facts = sink.facts;
        let exit = match followed {
            Ok(ContainerExit::Cancelled) => return Some(Outcome::Abandoned),
            Ok(exit) => exit,
            Err(err) => return Some(failed(engine_failure(&err))),
        };
        progress.report("capturing outputs").await;
        let seed_job = SeedJob {
            image: seed.image.clone(),
            manifest: seed.manifest.clone(),
            invocation: Invocation::default(),
            output_dir: outputs_dir,
            run_id: container.run_id.clone().unwrap_or_default(),
            policy: Policy::default(),
            hardening: Hardening::default(),
            network: None,
            keep_container: true,
        };
        // The allocation is not recomputed (that needs the staged inputs): an out-of-memory
        // message then names no limit, and no disk warning is given.
        let report = judge_run(&seed_job, Allocation::default(), exit, started.elapsed());
        trace.outputs = Some(report.outputs.clone());
        for warning in &report.warnings {
            log.note(warning);
        }
        let outcome = self.published(job, &report).await;
        if let Outcome::Complete(Completion::Failed { message, .. }) = &outcome {
            log.note(message);
        }
        log.finish();
        Some(outcome)
    }

    /// Removes the containers of `job` once attempt `attempt` ended and its end is recorded
    /// (or it is requeued). The first attempt's is the only one a job has ever had, named
    /// by its run id: removed without listing (one engine call, not two); a later attempt
    /// may have followed an earlier one's container, so those look for every one.
    pub async fn remove_attempt_containers(&self, job: &JobId, attempt: u32) {
        if attempt > 1 {
            return self.remove_containers(job).await;
        }
        let run = attempt_run_id(job, attempt);
        if let Err(err) = self.runner.remove_run(&run).await {
            tracing::warn!(run = %run, error = %err, "cannot remove the job's container");
        }
    }

    /// Removes every container of `job` (once its end is recorded: until then a kept
    /// container is what a later attempt would take over). Failures are logged: the
    /// start-up sweep removes what is left.
    pub async fn remove_containers(&self, job: &JobId) {
        let found = match self
            .runner
            .find_containers(JOB_ID_LABEL, job.as_str())
            .await
        {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list the job's containers to remove them");
                return;
            }
        };
        for container in found {
            if let Err(err) = self.runner.remove(&container.name).await {
                tracing::warn!(container = %container.name, error = %err, "cannot remove the job's container");
            }
        }
    }
}

/// Of the containers found for a job, the one of the latest attempt that has run (running
/// or exited); never-started and dying ones do not count.
fn newest_that_ran(found: &[FoundContainer]) -> Option<&FoundContainer> {
    let attempt_of = |c: &FoundContainer| {
        c.run_id
            .as_deref()
            .and_then(|run| run.rsplit('-').next())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    };
    found
        .iter()
        .filter(|c| matches!(c.state, FoundState::Running | FoundState::Exited))
        .max_by_key(|c| attempt_of(c))
}

/// Whether a failed attempt is worth another one: the system failures that come and go
/// (engine unreachable or failing, image pull failed, workspace full). A bad input, an
/// algorithm's own error (`data`, `job`), a process missing its configuration or asking
/// more than the capacity, and ades' own bugs fail at once: another attempt would end the
/// same way.
pub fn is_retryable(failure: &JobFailure) -> bool {
    failure.category == FailureCategory::System
        && matches!(
            failure.name.as_str(),
            ENGINE_ERROR | IMAGE_PULL_FAILED | WORKSPACE_ERROR
        )
}

/// The run id of a job's attempt: `<job id>-<attempt>`.
pub fn run_id(job: &Job) -> String {
    attempt_run_id(&job.id, job.attempt)
}

/// The run id of attempt `attempt` of job `id`.
pub fn attempt_run_id(id: &JobId, attempt: u32) -> String {
    format!("{id}-{attempt}")
}

/// The invocation with the operator's settings and mounts. Their names are matched to the
/// manifest's without regard to case: `ADES__PROCESSES__<id>__MOUNTS__<name>` variables
/// reach the configuration lower-cased, while Seed names are upper-case by convention (and
/// unique whatever their case, as their environment variables must be).
fn with_configuration(
    mut invocation: Invocation,
    config: &ProcessRunConfig,
    manifest: &seed::Manifest,
) -> Invocation {
    let interface = manifest.interface();
    let setting_names: Vec<&str> = interface.settings.iter().map(|s| s.name.as_str()).collect();
    let mount_names: Vec<&str> = interface.mounts.iter().map(|m| m.name.as_str()).collect();
    invocation.settings = declared_names(&config.settings, &setting_names);
    invocation.mounts = declared_names(&config.mounts, &mount_names);
    invocation
}

/// `configured` with each key spelt as the declared name it equals ignoring case; keys that
/// match no declared name are kept as they are (the Seed contract reports them).
fn declared_names<V: Clone>(
    configured: &std::collections::BTreeMap<String, V>,
    declared: &[&str],
) -> std::collections::BTreeMap<String, V> {
    configured
        .iter()
        .map(|(key, value)| {
            let name = declared
                .iter()
                .find(|name| **name == key.as_str())
                .or_else(|| declared.iter().find(|name| name.eq_ignore_ascii_case(key)))
                .map_or_else(|| key.clone(), |name| name.to_string());
            (name, value.clone())
        })
        .collect()
}

fn failed(failure: JobFailure) -> Outcome {
    let message = failure_message(&failure);
    Outcome::Complete(Completion::Failed { failure, message })
}

/// The status message of a failed job: `<name>: <title> — <description>`.
pub fn failure_message(failure: &JobFailure) -> String {
    if failure.description.trim().is_empty() {
        format!("{}: {}", failure.name, failure.title)
    } else {
        format!(
            "{}: {} — {}",
            failure.name, failure.title, failure.description
        )
    }
}

/// A failure ades reports itself.
pub fn ades_failure(
    name: &str,
    title: &str,
    description: impl Into<String>,
    category: FailureCategory,
) -> JobFailure {
    JobFailure {
        name: name.to_string(),
        title: title.to_string(),
        description: description.into(),
        category,
        exit_code: None,
    }
}

fn workspace_failure(message: &str) -> Outcome {
    failed(ades_failure(
        WORKSPACE_ERROR,
        "Workspace error",
        format!(
            "The server could not prepare the job's files: {message}. Check the data \
                 directory's free space and permissions."
        ),
        FailureCategory::System,
    ))
}

fn engine_failure(err: &RunnerError) -> JobFailure {
    if let RunnerError::PullFailed(message) = err {
        // The message already names the image, the registry's reason and what to do.
        return ades_failure(
            IMAGE_PULL_FAILED,
            "Image pull failed",
            format!("{message}. Submit the job again once the image can be pulled."),
            FailureCategory::System,
        );
    }
    let hint = match err {
        RunnerError::ImageNotFound(_) => {
            " Pull or build the image on the server's engine, then submit the job again."
        }
        RunnerError::EngineUnavailable(_) => " Submit the job again once the engine is back.",
        RunnerError::Rejected(_) | RunnerError::Engine(_) | RunnerError::PullFailed(_) => "",
    };
    ades_failure(
        ENGINE_ERROR,
        "Container engine error",
        format!("{err}.{hint}"),
        FailureCategory::System,
    )
}

/// A job the Seed contract refused: the operator's part (settings, mounts, resources, the
/// output directory) makes it a `system` failure naming what to configure, else the inputs
/// are at fault (`data`).
fn invocation_failure(process: &Process, job: &SeedJob, problems: &[Problem]) -> JobFailure {
    let interface = job.manifest.interface();
    let operator_part = |p: &Problem| {
        p.location.starts_with('/')
            || p.location == "OUTPUT_DIR"
            || interface.settings.iter().any(|s| s.name == p.location)
            || interface.mounts.iter().any(|m| m.name == p.location)
            || job.invocation.settings.contains_key(&p.location)
            || job.invocation.mounts.contains_key(&p.location)
    };
    let list = |problems: &[&Problem]| {
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let operator: Vec<&Problem> = problems.iter().filter(|p| operator_part(p)).collect();
    if operator.is_empty() {
        let all: Vec<&Problem> = problems.iter().collect();
        ades_failure(
            INVALID_INPUT,
            "Invalid input",
            format!("The inputs do not fit the process: {}.", list(&all)),
            FailureCategory::Data,
        )
    } else {
        ades_failure(
            PROCESS_NOT_CONFIGURED,
            "Process not configured",
            format!(
                "Process {} cannot run until the server's operator configures it: {}. Set the \
                 process's settings and mounts (or allow unknown resources) in the server \
                 configuration.",
                process.id,
                list(&operator)
            ),
            FailureCategory::System,
        )
    }
}

fn outcome_of(report: &SeedJobReport) -> Outcome {
    if report.exit == ContainerExit::Cancelled {
        return Outcome::Abandoned;
    }
    if let Some(failure) = report.failures.first() {
        return failed(failure.clone());
    }
    let mut results = JobResults::new();
    for (name, files) in &report.outputs.files {
        if files.is_empty() {
            continue;
        }
        let values = files
            .iter()
            .map(|file| OutputValue::File {
                path: file.relative.clone(),
                media_type: file.media_type.clone(),
                size_bytes: file.size_bytes,
                metadata: file.metadata.clone(),
                published: None,
            })
            .collect();
        results.insert(name.clone(), values);
    }
    for (name, value) in &report.outputs.json {
        results.insert(
            name.clone(),
            vec![OutputValue::Json {
                value: value.clone(),
            }],
        );
    }
    Outcome::Complete(Completion::Succeeded {
        results,
        message: format!("finished in {:.1} s", report.duration.as_secs_f64()),
    })
}

/// Adds [`JOB_ID_LABEL`] to the container, makes the runner's status lines (image pulls) the
/// job's status message, and reports "capturing outputs" once the container exits.
struct LabellingRunner<'a> {
    inner: &'a dyn ContainerRunner,
    job_id: &'a str,
    process: &'a str,
    progress: &'a dyn ProgressReporter,
    metrics: &'a crate::metrics::Metrics,
}

#[async_trait]
impl ContainerRunner for LabellingRunner<'_> {
    async fn run(
        &self,
        spec: &ContainerSpec,
        cancel: CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        let mut spec = spec.clone();
        spec.labels
            .insert(JOB_ID_LABEL.to_string(), self.job_id.to_string());
        let slot = StatusSlot::default();
        let mut sink = StatusForwarder {
            log: logs,
            slot: &slot,
            line: Vec::new(),
            timer: RunTimer::new(self.process, self.metrics),
        };
        let run = self.inner.run(&spec, cancel, &mut sink);
        tokio::pin!(run);
        // The report is awaited here, between polls of the run, so no task is spawned and
        // a slow store delays the run only by one write.
        let exit = loop {
            tokio::select! {
                result = &mut run => break result?,
                _ = slot.ready.notified() => {
                    match slot.take() {
                        Some((message, Some(percent))) => {
                            self.progress.report_progress(&message, percent).await
                        }
                        Some((message, None)) => self.progress.report(&message).await,
                        None => {}
                    }
                }
            }
        };
        if exit != ContainerExit::Cancelled {
            self.progress.report("capturing outputs").await;
        }
        Ok(exit)
    }
}

/// The latest status line (with a percentage, from `ADES_PROGRESS`) not yet reported;
/// older ones are simply replaced.
#[derive(Default)]
struct StatusSlot {
    latest: std::sync::Mutex<Option<(String, Option<u8>)>>,
    ready: tokio::sync::Notify,
}

impl StatusSlot {
    fn put(&self, message: &str, percent: Option<u8>) {
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((message.to_string(), percent));
        self.ready.notify_one();
    }

    fn take(&self) -> Option<(String, Option<u8>)> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The longest stdout line looked at for `ADES_PROGRESS` (a longer one is output only).
const MAX_PROGRESS_LINE: usize = 1024;

/// Passes output on to the job's log, status lines and the container's `ADES_PROGRESS`
/// lines to a [`StatusSlot`], and the runner's milestones to a [`RunTimer`].
struct StatusForwarder<'a> {
    log: &'a mut dyn LogSink,
    slot: &'a StatusSlot,
    /// The start of the stdout line being written (chunks split lines anywhere).
    line: Vec<u8>,
    timer: RunTimer<'a>,
}

/// Times a run's steps from the runner's [`Milestone`]s, in no engine's terms: the
/// container start from the run's beginning (or, when the image had to be pulled first,
/// from the pull's end, when the runner asks for the container again) to the container
/// running; each pull from its start to its end. A run that waits for another run's pull
/// of the same image is told of no pull (it pulled nothing), so that wait counts in its
/// start.
struct RunTimer<'a> {
    process: &'a str,
    metrics: &'a crate::metrics::Metrics,
    /// Since when the container is being asked for.
    asked: std::time::Instant,
    /// When the pull under way began.
    pulling: Option<std::time::Instant>,
}

impl<'a> RunTimer<'a> {
    fn new(process: &'a str, metrics: &'a crate::metrics::Metrics) -> Self {
        RunTimer {
            process,
            metrics,
            asked: std::time::Instant::now(),
            pulling: None,
        }
    }

    fn observe(&mut self, milestone: Milestone) {
        let now = std::time::Instant::now();
        match milestone {
            Milestone::PullStarted => self.pulling = Some(now),
            Milestone::PullEnded { pulled } => {
                if let Some(began) = self.pulling.take() {
                    let outcome = if pulled {
                        crate::metrics::PullOutcome::Pulled
                    } else {
                        crate::metrics::PullOutcome::Failed
                    };
                    self.metrics.image_pulled(outcome, now - began);
                }
                self.asked = now;
            }
            Milestone::ContainerRunning => self
                .metrics
                .container_started(self.process, now - self.asked),
        }
    }
}

impl LogSink for StatusForwarder<'_> {
    fn stdout(&mut self, chunk: &[u8]) {
        self.log.stdout(chunk);
        for &byte in chunk {
            if byte == b'\n' {
                if let Some((percent, message)) = std::str::from_utf8(&self.line)
                    .ok()
                    .and_then(|line| progress_line(line.trim_end_matches('\r')))
                {
                    self.slot.put(&message, Some(percent));
                }
                self.line.clear();
            } else if self.line.len() < MAX_PROGRESS_LINE {
                self.line.push(byte);
            }
        }
    }

    fn stderr(&mut self, chunk: &[u8]) {
        self.log.stderr(chunk);
    }

    fn status(&mut self, message: &str) {
        self.log.status(message);
        self.slot.put(message, None);
    }

    fn milestone(&mut self, milestone: Milestone) {
        self.timer.observe(milestone);
        self.log.milestone(milestone);
    }

    fn ended(&mut self, facts: &RunFacts) {
        self.log.ended(facts);
    }
}

/// What an attempt's steps learn for its provenance record.
#[derive(Default)]
struct RunTrace {
    process: Option<Arc<Process>>,
    /// The staged inputs (`None`: staging did not finish, or the run was taken over).
    invocation: Option<seed::contract::Invocation>,
    outputs: Option<seed::outputs::CapturedOutputs>,
    facts: Option<RunFacts>,
}

/// Passes everything on to a log, keeping what the runner reports at the container's end.
struct FactsCatcher<'a> {
    log: &'a mut dyn LogSink,
    facts: Option<RunFacts>,
}

impl<'a> FactsCatcher<'a> {
    fn new(log: &'a mut dyn LogSink) -> Self {
        FactsCatcher { log, facts: None }
    }
}

impl LogSink for FactsCatcher<'_> {
    fn stdout(&mut self, chunk: &[u8]) {
        self.log.stdout(chunk);
    }

    fn stderr(&mut self, chunk: &[u8]) {
        self.log.stderr(chunk);
    }

    fn status(&mut self, message: &str) {
        self.log.status(message);
    }

    fn milestone(&mut self, milestone: Milestone) {
        self.log.milestone(milestone);
    }

    fn ended(&mut self, facts: &RunFacts) {
        self.facts = Some(facts.clone());
    }
}

/// `log.txt`: the container's stdout and stderr as they come, plus ades' own notes (lines
/// starting `[ades]`), capped.
///
/// Writes go to the page cache; they do not wait on the disk, which is why a plain file is
/// used from the async runtime. Each chunk of output is written through at once (one write
/// per chunk the engine sends), so a reader that follows the log (`/jobs/{id}/logs` as an
/// event stream) sees a line as soon as the container prints it.
struct LogFile {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    written: u64,
    cap: u64,
    truncated: bool,
}

impl LogFile {
    fn open(path: &Path, cap: u64) -> Result<Self, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Some(std::io::BufWriter::with_capacity(64 * 1024, file)),
            written,
            cap,
            truncated: written >= cap,
        })
    }

    fn append(&mut self, bytes: &[u8]) {
        self.append_buffered(bytes);
        self.finish();
    }

    fn append_buffered(&mut self, bytes: &[u8]) {
        if self.truncated {
            return;
        }
        let room = self.cap.saturating_sub(self.written);
        let take = bytes.len().min(room as usize);
        self.write_raw(&bytes[..take]);
        if take < bytes.len() {
            self.truncated = true;
            let note = format!(
                "\n[ades] log truncated at {} MiB; further output was dropped\n",
                self.cap / (1024 * 1024)
            );
            self.write_raw(note.as_bytes());
        }
    }

    /// A line of ades' own, on a line of its own (notes always fit: they are small and
    /// written even past the cap, so a failure is never hidden by a chatty job).
    fn note(&mut self, text: &str) {
        let line = format!("[ades] {text}\n");
        self.write_raw(line.as_bytes());
        self.finish();
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if let Err(err) = file.write_all(bytes) {
            tracing::warn!(path = %self.path.display(), error = %err, "cannot write the job log; its output is dropped");
            self.file = None;
            return;
        }
        self.written += bytes.len() as u64;
    }

    fn finish(&mut self) {
        if let Some(file) = self.file.as_mut() {
            if let Err(err) = file.flush() {
                tracing::warn!(path = %self.path.display(), error = %err, "cannot write the job log");
            }
        }
    }
}

impl LogSink for LogFile {
    fn stdout(&mut self, chunk: &[u8]) {
        self.append(chunk);
    }

    fn stderr(&mut self, chunk: &[u8]) {
        self.append(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_capped_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job/log.txt");
        let mut log = LogFile::open(&path, 10).unwrap();
        log.stdout(b"12345");
        log.stderr(b"67890abc");
        log.stdout(b"more");
        log.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("1234567890\n[ades] log truncated"),
            "{text}"
        );
        assert!(!text.contains("abc") && !text.contains("more"), "{text}");
        drop(log);
        // A later attempt appends its notes but no more output.
        let mut log = LogFile::open(&path, 10).unwrap();
        log.note("attempt 2");
        log.stdout(b"zzz");
        log.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("[ades] attempt 2\n"), "{text}");
        assert!(!text.contains("zzz"));
    }

    /// Sends status lines like a runner pulling an image, then "runs".
    struct Pulling;

    #[async_trait]
    impl ContainerRunner for Pulling {
        async fn run(
            &self,
            spec: &ContainerSpec,
            _: CancellationToken,
            logs: &mut dyn LogSink,
        ) -> Result<ContainerExit, RunnerError> {
            assert_eq!(spec.labels.get(JOB_ID_LABEL).map(String::as_str), Some("j"));
            logs.status("pulling image x");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            logs.status("pulling image x: 0 of 1 layers done");
            logs.status("pulling image x: 1 of 1 layers done");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            logs.stdout(b"out");
            Ok(ContainerExit::Exited(0))
        }
    }

    fn test_spec() -> ContainerSpec {
        ContainerSpec {
            working_dir: None,
            image: "x".into(),
            args: None,
            env: Vec::new(),
            binds: Vec::new(),
            limits: Default::default(),
            confinement: Default::default(),
            labels: Default::default(),
            run_id: "j-1".into(),
            timeout: std::time::Duration::from_secs(1),
            user: None,
            network: None,
            keep_after_exit: false,
        }
    }

    /// What the executor reported: each message, with its percentage when it had one.
    #[derive(Default)]
    struct Recorded(std::sync::Mutex<Vec<(String, Option<u8>)>>);

    #[async_trait]
    impl ProgressReporter for Recorded {
        async fn report(&self, message: &str) {
            self.0.lock().unwrap().push((message.to_string(), None));
        }

        async fn report_progress(&self, message: &str, percent: u8) {
            self.0
                .lock()
                .unwrap()
                .push((message.to_string(), Some(percent)));
        }
    }

    /// Runs `inner` through the labelling runner into a log file: what was reported, and
    /// the log's text.
    async fn run_labelled(inner: &dyn ContainerRunner) -> (Vec<(String, Option<u8>)>, String) {
        run_labelled_into(inner, &crate::metrics::Metrics::new()).await
    }

    /// [`run_labelled`], counting in `metrics`.
    async fn run_labelled_into(
        inner: &dyn ContainerRunner,
        metrics: &crate::metrics::Metrics,
    ) -> (Vec<(String, Option<u8>)>, String) {
        let progress = Recorded::default();
        let runner = LabellingRunner {
            inner,
            job_id: "j",
            process: "p",
            progress: &progress,
            metrics,
        };
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFile::open(&dir.path().join("log.txt"), 1024).unwrap();
        let exit = runner
            .run(&test_spec(), CancellationToken::new(), &mut log)
            .await
            .unwrap();
        assert_eq!(exit, ContainerExit::Exited(0));
        log.finish();
        let text = std::fs::read_to_string(dir.path().join("log.txt")).unwrap();
        let reported = progress.0.lock().unwrap().clone();
        (reported, text)
    }

    /// Reports the milestones of a run that pulls its image (300 ms), then starts the
    /// container (20 ms more).
    struct PullsThenStarts {
        pulled: bool,
    }

    #[async_trait]
    impl ContainerRunner for PullsThenStarts {
        async fn run(
            &self,
            _: &ContainerSpec,
            _: CancellationToken,
            logs: &mut dyn LogSink,
        ) -> Result<ContainerExit, RunnerError> {
            logs.milestone(Milestone::PullStarted);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            logs.milestone(Milestone::PullEnded {
                pulled: self.pulled,
            });
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            logs.milestone(Milestone::ContainerRunning);
            Ok(ContainerExit::Exited(0))
        }
    }

    /// The value of the sample line starting with `prefix` (name and labels) in `text`.
    fn sample(text: &str, prefix: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    }

    #[tokio::test]
    async fn the_runners_milestones_time_the_pull_and_the_start_apart() {
        let metrics = crate::metrics::Metrics::new();
        run_labelled_into(&PullsThenStarts { pulled: true }, &metrics).await;
        run_labelled_into(&PullsThenStarts { pulled: false }, &metrics).await;
        let text = metrics.render(&crate::metrics::Readings::default());
        assert_eq!(
            sample(&text, "ades_image_pulls_total{outcome=\"pulled\"}"),
            1.0
        );
        assert_eq!(
            sample(&text, "ades_image_pulls_total{outcome=\"failed\"}"),
            1.0
        );
        assert_eq!(sample(&text, "ades_image_pull_seconds_count"), 2.0);
        assert!(
            sample(&text, "ades_image_pull_seconds_sum") >= 0.6,
            "{text}"
        );
        let starts = "ades_container_start_seconds_count{process=\"p\"}";
        assert_eq!(sample(&text, starts), 2.0);
        // Each start counts from the end of its pull: 20 ms, not the 320 ms of the run.
        let start_sum = sample(&text, "ades_container_start_seconds_sum{process=\"p\"}");
        assert!((0.04..0.6).contains(&start_sum), "{text}");
    }

    #[tokio::test]
    async fn runner_status_lines_become_the_job_status_latest_first() {
        let (reported, log) = run_labelled(&Pulling).await;
        // Lines sent between two reports are coalesced into the latest.
        let messages: Vec<&str> = reported.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            messages,
            [
                "pulling image x",
                "pulling image x: 1 of 1 layers done",
                "capturing outputs"
            ]
        );
        assert!(reported.iter().all(|(_, percent)| percent.is_none()));
        assert_eq!(log, "out");
    }

    #[test]
    fn progress_lines_are_read_by_the_convention() {
        assert_eq!(
            progress_line("ADES_PROGRESS 40 halfway there"),
            Some((40, "halfway there".to_string()))
        );
        assert_eq!(
            progress_line("ADES_PROGRESS 100"),
            Some((100, "running container".to_string()))
        );
        assert_eq!(progress_line("ADES_PROGRESS 101 too far"), None);
        assert_eq!(progress_line("ADES_PROGRESS -1"), None);
        assert_eq!(progress_line("ADES_PROGRESS half"), None);
        assert_eq!(progress_line("ADES_PROGRESSIVE 5"), None);
        assert_eq!(progress_line("progress 5"), None);
    }

    struct Progressing;

    #[async_trait]
    impl ContainerRunner for Progressing {
        async fn run(
            &self,
            _spec: &ContainerSpec,
            _cancel: CancellationToken,
            logs: &mut dyn LogSink,
        ) -> Result<ContainerExit, RunnerError> {
            // A line split across chunks, then a pause so the report is made.
            logs.stdout(b"working\nADES_PRO");
            logs.stdout(b"GRESS 40 halfway\n");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(ContainerExit::Exited(0))
        }
    }

    #[tokio::test]
    async fn a_progress_line_moves_the_progress_and_stays_in_the_log() {
        let (reported, log) = run_labelled(&Progressing).await;
        assert_eq!(
            reported,
            [
                ("halfway".to_string(), Some(40)),
                ("capturing outputs".to_string(), None)
            ]
        );
        assert_eq!(log, "working\nADES_PROGRESS 40 halfway\n");
    }

    #[test]
    fn a_failed_pull_fails_the_job_as_a_system_error_with_its_message() {
        let failure = engine_failure(&RunnerError::PullFailed(
            "image r/x:1 is not in the Docker engine and pulling it from r failed: manifest \
             unknown (check that the repository and the tag or digest exist in r)"
                .into(),
        ));
        assert_eq!(failure.name, IMAGE_PULL_FAILED);
        assert_eq!(failure.category, FailureCategory::System);
        assert!(failure.description.contains("manifest unknown"));
        assert!(failure_message(&failure)
            .starts_with("image-pull-failed: Image pull failed — image r/x:1"));
    }

    #[test]
    fn failure_messages_name_the_error() {
        let failure = ades_failure("bad", "Bad thing", "It broke.", FailureCategory::Job);
        assert_eq!(failure_message(&failure), "bad: Bad thing — It broke.");
        let bare = ades_failure("bare-error", "bare-error", "", FailureCategory::Job);
        assert_eq!(failure_message(&bare), "bare-error: bare-error");
    }
}
