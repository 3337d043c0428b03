//! The worker pool: the only place containers are started for served jobs. Workers claim
//! jobs from the store with one conditional update, hold a lease renewed by heartbeats,
//! write only while they hold it (fencing), and stop a job's container when the lease is
//! lost or the job dismissed. A reaper requeues or fails jobs whose lease expired; at
//! start-up a sweep removes containers left by an earlier process.
//!
//! - `executor.rs`: one job from staging to its [`Completion`](crate::store::Completion).
//! - `worker.rs`: claim, heartbeat, record; [`Worker::try_execute_next`] is one step.
//! - `reaper.rs`: expired leases back to the queue.
//! - `sweep.rs`: orphaned containers at start-up.
//! - `capacity.rs`: the CPUs, memory and GPUs jobs reserve before their container starts.
//!
//! Every long-running loop (workers, reaper) runs under a supervisor that restarts it after
//! a panic (with capped backoff), so one bug cannot silently stop the queue.
//!
//! Shutdown does not hand running jobs back to the store: a cancelled job keeps its
//! `running` status until its lease expires, and the reaper (of the next start, or of
//! another process on the same store) requeues it. This costs one lease period of delay and
//! one attempt; it needs no store method beyond the fenced ones, and the same path covers a
//! crash.

pub mod capacity;
pub mod concurrency;
pub mod executor;
pub mod hosts;
pub mod reaper;
pub mod sweep;
pub mod worker;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use executor::{Executor, Outcome, ProgressReporter, JOB_ID_LABEL};
pub use hosts::HostRegistration;
pub use reaper::Reaper;
pub use sweep::{sweep_orphaned_containers, SweepError, SweepReport};
pub use worker::Worker;

use crate::catalog::Catalog;
use crate::domain::WorkerId;
use crate::engine::ContainerRunner;
use crate::execution::{Hardening, OptOuts};
use crate::jobs::JobService;
use crate::store::RunningLimits;
use crate::workspace::staging::StagingLimits;
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Operator configuration a process needs to run: its Seed settings and mounts (never
/// inputs: clients do not see or set them).
///
/// Its `Debug` output names the settings but never shows their values (some are secrets).
#[derive(Clone, Default)]
pub struct ProcessRunConfig {
    /// Seed setting name -> value (every declared setting is required).
    pub settings: BTreeMap<String, String>,
    /// Seed mount name -> host directory (every declared mount is required).
    pub mounts: BTreeMap<String, PathBuf>,
    /// What its containers may do beyond [`QueueSettings::hardening`].
    pub opt_outs: OptOuts,
}

impl std::fmt::Debug for ProcessRunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let settings: Vec<&String> = self.settings.keys().collect();
        f.debug_struct("ProcessRunConfig")
            .field("settings (values hidden)", &settings)
            .field("mounts", &self.mounts)
            .field("opt_outs", &self.opt_outs)
            .finish()
    }
}

/// How the queue runs jobs.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Jobs run at once by this process at most (0 = run no workers: API only); with
    /// `adaptive`, the ceiling of the limit that adapts (`concurrency.rs`).
    pub workers: usize,
    /// Adapt the number of jobs run at once to the engine's pace, from `start_workers` up
    /// to `workers`; otherwise always `workers`.
    pub adaptive: bool,
    /// Where the adaptive limit starts.
    pub start_workers: usize,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often a worker renews its lease (well under `lease`).
    pub heartbeat: Duration,
    /// How often idle workers look for work without being woken.
    pub poll: Duration,
    /// Attempts a job gets: a job whose worker vanished, or whose attempt failed for a
    /// reason worth retrying ([`executor::is_retryable`]), runs again until it used them.
    pub max_attempts: u32,
    /// Delay before the second attempt after a retryable failure; doubled for each further
    /// one, up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// Process id -> most jobs running at once, over every worker sharing the store.
    pub max_running: RunningLimits,
    /// Who job containers run as, how they are confined, their limits when the manifest
    /// declares none (loosened per process by [`ProcessRunConfig::opt_outs`]).
    pub hardening: Hardening,
    /// Docker network for job containers (`None`: no network).
    pub network: Option<String>,
    /// Run jobs whose manifest declares resources ades does not know (they only get
    /// `ALLOCATED_*`); otherwise such jobs fail asking the operator to allow them.
    pub allow_unknown_resources: bool,
    /// Process id -> settings and mounts.
    pub processes: BTreeMap<String, ProcessRunConfig>,
    /// Limits on staging inputs.
    pub staging: StagingLimits,
    /// CPUs this process's jobs may use at once: each job reserves the `cpus` its manifest
    /// allocates before its container starts (a job that does not fit waits; one asking
    /// more than this fails `insufficient-resources`). `None`: the engine's CPU count when
    /// [`capacity::fill_from_engine`] ran at start-up, else no limit.
    pub capacity_cpus: Option<f64>,
    /// Memory (MiB) this process's jobs may use at once, reserved like `capacity_cpus` from
    /// each job's `mem`. `None`: the engine's total memory when
    /// [`capacity::fill_from_engine`] ran at start-up, else no limit.
    pub capacity_mem_mib: Option<f64>,
    /// Disk (MiB) this process's jobs may use at once in the workspace, reserved from each
    /// job's `disk` (with its `inputMultiplier` share of the staged inputs). `None`: no limit.
    pub capacity_disk_mib: Option<f64>,
    /// GPUs this process's jobs may use at once (default 0: a job declaring `gpus` fails
    /// `insufficient-resources` unless GPUs are configured).
    pub capacity_gpus: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            workers: 2,
            adaptive: false,
            start_workers: 2,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_secs(2),
            max_attempts: 3,
            retry_backoff: Duration::from_secs(5),
            retry_backoff_max: Duration::from_secs(300),
            max_running: RunningLimits::new(),
            hardening: Hardening::default(),
            network: None,
            allow_unknown_resources: false,
            processes: BTreeMap::new(),
            staging: StagingLimits::default(),
            capacity_cpus: None,
            capacity_mem_mib: None,
            capacity_disk_mib: None,
            capacity_gpus: 0,
        }
    }
}

/// The running workers and reaper.
pub struct WorkerPool {
    /// Stops claiming (workers) and reaping.
    stop: CancellationToken,
    /// Cancels the jobs still running after the grace period.
    abort: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    worker_ids: Vec<WorkerId>,
}

impl WorkerPool {
    /// Starts `settings.workers` workers and the reaper (the reaper also with 0 workers:
    /// it needs only the store). Call [`sweep_orphaned_containers`] first.
    pub fn start(
        jobs: JobService,
        catalog: Catalog,
        runner: Arc<dyn ContainerRunner>,
        workspace: Workspace,
        settings: QueueSettings,
    ) -> WorkerPool {
        let stop = CancellationToken::new();
        let abort = CancellationToken::new();
        let executor = Arc::new(
            Executor::new(catalog, runner, workspace, settings.clone())
                .with_metrics(jobs.metrics().clone()),
        );
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let pool_id = format!("ades-{}-{}", std::process::id(), &instance[..8]);
        let mut tasks = Vec::new();
        let mut worker_ids = Vec::new();
        let gate = concurrency::Concurrency::for_pool(&settings, jobs.metrics().clone());
        if settings.workers > 0 {
            let registration = HostRegistration::new(
                jobs.clone(),
                pool_id.clone(),
                settings.workers,
                capacity::Capacity::of(&settings),
                settings.heartbeat,
                settings.lease,
            );
            let stop_registration = stop.clone();
            tasks.push(tokio::spawn(supervise(
                "worker registration",
                stop.clone(),
                move || {
                    let registration = registration.clone();
                    let stop = stop_registration.clone();
                    async move { registration.run(stop).await }
                },
            )));
        }
        for slot in 0..settings.workers {
            let id = WorkerId(format!("{pool_id}-{slot}"));
            worker_ids.push(id.clone());
            let worker = Worker::new(
                id,
                jobs.clone(),
                executor.clone(),
                &settings,
                abort.clone(),
                gate.clone(),
            );
            let stop_worker = stop.clone();
            tasks.push(tokio::spawn(supervise("worker", stop.clone(), move || {
                let worker = worker.clone();
                let stop = stop_worker.clone();
                async move { worker.run(stop).await }
            })));
        }
        let reaper = Reaper::new(
            jobs,
            settings.max_attempts,
            Reaper::interval_for(settings.lease),
        );
        let stop_reaper = stop.clone();
        tasks.push(tokio::spawn(supervise("reaper", stop.clone(), move || {
            let reaper = reaper.clone();
            let stop = stop_reaper.clone();
            async move { reaper.run(stop).await }
        })));
        tracing::info!(
            workers = settings.workers,
            adaptive = settings.adaptive,
            start = gate.limit(),
            "worker pool started"
        );
        WorkerPool {
            stop,
            abort,
            tasks,
            worker_ids,
        }
    }

    /// The ids the workers hold leases under.
    pub fn worker_ids(&self) -> &[WorkerId] {
        &self.worker_ids
    }

    /// Ordered stop: claim nothing more, let running jobs finish for up to `grace`, then
    /// cancel what still runs (those jobs go back to `accepted` for the next start).
    ///
    /// Cancelled jobs are not released at once: their leases expire and the reaper requeues
    /// them (see the module documentation).
    pub async fn shutdown(self, grace: Duration) {
        let WorkerPool {
            stop,
            abort,
            mut tasks,
            ..
        } = self;
        stop.cancel();
        let aborts: Vec<_> = tasks.iter().map(|task| task.abort_handle()).collect();
        let all_done = |tasks: &mut Vec<JoinHandle<()>>| {
            let tasks = std::mem::take(tasks);
            async move {
                for task in tasks {
                    let _ = task.await;
                }
            }
        };
        let mut waiting = Box::pin(all_done(&mut tasks));
        if tokio::time::timeout(grace, &mut waiting).await.is_ok() {
            tracing::info!("worker pool stopped");
            return;
        }
        tracing::warn!(
            grace_s = grace.as_secs_f64(),
            "jobs still running after the grace period: cancelling them; they run again after the next start"
        );
        abort.cancel();
        if tokio::time::timeout(SHUTDOWN_CANCEL_LIMIT, &mut waiting)
            .await
            .is_err()
        {
            tracing::error!("workers did not stop after their jobs were cancelled; aborting them");
            for task in aborts {
                task.abort();
            }
        }
    }
}

/// How long cancelled jobs get to stop (the runner kills and removes a container within
/// 10 s) before shutdown stops waiting.
const SHUTDOWN_CANCEL_LIMIT: Duration = Duration::from_secs(15);

/// Runs the loop `make` builds in a task of its own, and builds and runs it again after a
/// panic (waiting a capped, growing delay) until it returns or `stop` fires.
pub(crate) async fn supervise<F, Fut>(what: &'static str, stop: CancellationToken, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        match AbortOnDrop(tokio::spawn(make())).wait().await {
            Ok(()) => return,
            Err(err) if err.is_panic() => {
                let panic = worker::panic_text(err.into_panic());
                let delay = backoff.next_delay();
                tracing::error!(
                    task = what,
                    panic = %panic,
                    restart_in_s = delay.as_secs_f64(),
                    "a queue task panicked; restarting it"
                );
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            Err(_) => return,
        }
    }
}

/// A task aborted when its owner is dropped (so aborting a supervisor stops what it runs,
/// down to the job's container, whose runner removes it when dropped).
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    pub(crate) async fn wait(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Capped exponential backoff: `min`, `2 min`, `4 min`, ... up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    /// Delays handed out since the last reset.
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            failures: 0,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        Backoff::delay_after(self.min, self.max, self.failures)
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// The delay after `failures` failures in a row (1-based): `min`, doubled for each
    /// further one, at most `max`.
    pub(crate) fn delay_after(min: Duration, max: Duration, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        min.saturating_mul(2u32.saturating_pow(doublings)).min(max)
    }
}
