//! A worker: claims one job at a time, holds its lease with heartbeats while the executor
//! runs it, and writes how it ended, fenced by the lease.
//!
//! Choices:
//! - [`Worker::try_execute_next`] is one step (claim, run to the end, record): tests call it
//!   instead of sleeping; [`Worker::run`] is that step in a loop, woken by
//!   [`JobService::wake_a_worker`] with a timed poll as fallback, with capped exponential
//!   backoff while the store fails.
//! - The job runs in a task of its own: a panic in it fails that job (`internal-error`) and
//!   the worker goes on.
//! - The heartbeat renews the lease at once (closing the gap between the claim and
//!   [`JobService::register_running`], in which a dismissal would otherwise go unnoticed)
//!   and then every `heartbeat`. A renewal answered `false` (dismissed, or reaped after a
//!   stall) cancels the container. When the store cannot be reached for a whole lease, the
//!   container is cancelled too: by then the reaper may have handed the job to another
//!   worker.
//! - The lease is kept while the completion is written, which is retried a few times with
//!   backoff; if the store stays unreachable the lease expires and the job runs again.

use super::concurrency::Concurrency;
use super::executor::{ades_failure, failure_message, Executor, Outcome, ProgressReporter};
use super::executor::{is_retryable, ENGINE_ERROR, INTERNAL_ERROR};
use super::{AbortOnDrop, Backoff, QueueSettings};
use crate::domain::{Job, JobId, WorkerId};
use crate::jobs::JobService;
use crate::store::{Completion, JobStore, RunningLimits, StoreError};
use async_trait::async_trait;
use seed::errors::FailureCategory;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How often writing a job's end is tried before giving up on it.
const COMPLETION_TRIES: u32 = 5;

/// What the metrics of a job's end need of the claimed job, which its run consumes.
struct EndedJob {
    process: String,
    queued: Duration,
}

/// One worker of the pool. Cheap to clone (clones share the worker id).
#[derive(Clone)]
pub struct Worker {
    inner: Arc<WorkerInner>,
}

struct WorkerInner {
    id: WorkerId,
    jobs: JobService,
    executor: Arc<Executor>,
    lease: Duration,
    heartbeat: Duration,
    poll: Duration,
    max_attempts: u32,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    limits: RunningLimits,
    /// Cancels the running job (the pool's shutdown after its grace period).
    abort: CancellationToken,
    /// The pool's limit on jobs in flight, passed before each claim.
    gate: Arc<Concurrency>,
}

impl Worker {
    /// A worker named `id`; `abort` cancels whatever it runs (its job goes back to the
    /// queue when the lease expires); in [`Worker::run`] it claims a job only when `gate`
    /// (its pool's, shared by its workers) has a place.
    pub fn new(
        id: WorkerId,
        jobs: JobService,
        executor: Arc<Executor>,
        settings: &QueueSettings,
        abort: CancellationToken,
        gate: Arc<Concurrency>,
    ) -> Self {
        Worker {
            inner: Arc::new(WorkerInner {
                id,
                jobs,
                executor,
                lease: settings.lease,
                heartbeat: settings.heartbeat,
                poll: settings.poll,
                max_attempts: settings.max_attempts,
                retry_backoff: settings.retry_backoff,
                retry_backoff_max: settings.retry_backoff_max,
                limits: settings.max_running.clone(),
                abort,
                gate,
            }),
        }
    }

    /// The id this worker holds leases under.
    pub fn id(&self) -> &WorkerId {
        &self.inner.id
    }

    /// Claims the next job and runs it to its end. `Ok(None)` when nothing waits; an error
    /// only when the claim itself failed (how the job went is in the store).
    pub async fn try_execute_next(&self) -> Result<Option<JobId>, StoreError> {
        let now = OffsetDateTime::now_utc();
        let claimed = self
            .inner
            .jobs
            .store()
            .claim_next_job_within(
                &self.inner.id,
                now + self.inner.lease,
                now,
                &self.inner.limits,
            )
            .await?;
        let Some(job) = claimed else {
            return Ok(None);
        };
        self.inner.gate.claimed();
        let id = job.id.clone();
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            process_id = %job.process_id,
            attempt = job.attempt,
            worker = %self.inner.id
        );
        self.execute_claimed(job).instrument(span).await;
        Ok(Some(id))
    }

    /// Runs jobs until `stop` fires (a job already running is finished first: cancelling it
    /// is `abort`'s business).
    pub async fn run(&self, stop: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        while !stop.is_cancelled() {
            let permit = tokio::select! {
                _ = stop.cancelled() => break,
                permit = self.inner.gate.acquire() => permit,
            };
            let next = self.try_execute_next().await;
            drop(permit);
            match next {
                Ok(Some(_)) => backoff.reset(),
                Ok(None) => {
                    backoff.reset();
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = self.inner.jobs.wait_for_work(self.inner.poll) => {}
                    }
                }
                Err(err) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        worker = %self.inner.id,
                        error = %err,
                        retry_in_ms = delay.as_millis() as u64,
                        "cannot claim jobs; retrying"
                    );
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    async fn execute_claimed(&self, job: Job) {
        let inner = &self.inner;
        let id = job.id.clone();
        let attempt = job.attempt;
        // For the metrics at its end: the wait is creation to this claim, the run from here.
        let ran_from = Instant::now();
        let ended = EndedJob {
            process: job.process_id.as_str().to_string(),
            queued: (job.started.unwrap_or_else(OffsetDateTime::now_utc) - job.created)
                .try_into()
                .unwrap_or_default(),
        };
        tracing::info!("job started");
        let cancel = inner.jobs.register_running(&id);
        inner.jobs.announce(&id);

        let heartbeat_stop = CancellationToken::new();
        // Aborted with this future, so an aborted worker never keeps a lease alive.
        let heartbeat = AbortOnDrop(tokio::spawn(
            keep_lease(
                inner.jobs.store().clone(),
                id.clone(),
                inner.id.clone(),
                inner.lease,
                inner.heartbeat,
                cancel.clone(),
                inner.abort.clone(),
                heartbeat_stop.clone(),
            )
            .in_current_span(),
        ));

        let executor = inner.executor.clone();
        let progress = StoreProgress {
            jobs: inner.jobs.clone(),
            job_id: id.clone(),
            worker: inner.id.clone(),
        };
        let run = AbortOnDrop(tokio::spawn(
            async move { executor.execute(&job, cancel, &progress).await }.in_current_span(),
        ));
        let outcome = match run.wait().await {
            Ok(outcome) => outcome,
            Err(err) if err.is_panic() => {
                let panic = panic_text(err.into_panic());
                tracing::error!(panic = %panic, "the job's execution panicked; failing the job");
                let failure = ades_failure(
                    INTERNAL_ERROR,
                    "Internal error",
                    "The server failed while running this job (a bug, recorded in the \
                     server's log). Submit the job again; report the problem if it recurs.",
                    FailureCategory::System,
                );
                let message = failure_message(&failure);
                Outcome::Complete(Completion::Failed { failure, message })
            }
            Err(_) => Outcome::Abandoned,
        };

        inner.gate.job_ended(matches!(
            &outcome,
            Outcome::Complete(Completion::Failed { failure, .. }) if failure.name == ENGINE_ERROR
        ));
        match outcome {
            Outcome::Complete(Completion::Failed { failure, message })
                if is_retryable(&failure) && attempt < inner.max_attempts =>
            {
                self.write_retry(&id, attempt, &message).await
            }
            Outcome::Complete(completion) => {
                if self
                    .write_completion(&id, completion, &ended, ran_from)
                    .await
                {
                    inner.executor.remove_attempt_containers(&id, attempt).await;
                }
            }
            Outcome::Abandoned => {
                tracing::info!("job stopped before its end (dismissed, lease lost or shutdown)")
            }
        }
        heartbeat_stop.cancel();
        let _ = heartbeat.wait().await;
        inner.jobs.unregister_running(&id);
        inner.jobs.announce(&id);
    }

    /// Puts the job back in the queue after a retryable failure of attempt `attempt`, to
    /// run again after a capped exponential delay.
    async fn write_retry(&self, id: &JobId, attempt: u32, failure: &str) {
        let inner = &self.inner;
        let delay = Backoff::delay_after(inner.retry_backoff, inner.retry_backoff_max, attempt);
        let message = format!(
            "retrying in {} s: attempt {attempt} of {} failed: {failure}",
            delay.as_secs_f64(),
            inner.max_attempts
        );
        let now = OffsetDateTime::now_utc();
        match inner
            .jobs
            .store()
            .retry_job(id, &inner.id, &message, now + delay, now)
            .await
        {
            Ok(true) => {
                tracing::warn!(
                    retry_in_s = delay.as_secs(),
                    failure,
                    "attempt failed; job requeued"
                );
                inner.executor.remove_attempt_containers(id, attempt).await;
            }
            Ok(false) => {
                tracing::warn!("the job was dismissed or its lease lost before it could be retried")
            }
            // The lease expires and the reaper requeues the job: a retry all the same.
            Err(err) => tracing::error!(error = %err, "cannot requeue the job for a retry"),
        }
    }

    /// Writes the job's end; `true` when its end is settled (recorded, or the job was
    /// dismissed meanwhile), so its containers may go.
    async fn write_completion(
        &self,
        id: &JobId,
        completion: Completion,
        ended: &EndedJob,
        ran_from: Instant,
    ) -> bool {
        let inner = &self.inner;
        let status = match &completion {
            Completion::Succeeded { .. } => "successful",
            Completion::Failed { .. } => "failed",
        };
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        for attempt in 1..=COMPLETION_TRIES {
            let result = inner
                .jobs
                .store()
                .complete_job(id, &inner.id, completion.clone(), OffsetDateTime::now_utc())
                .await;
            match result {
                Ok(true) => {
                    tracing::info!(status, "job finished");
                    inner.jobs.metrics().job_finished(
                        &ended.process,
                        status,
                        ended.queued,
                        ran_from.elapsed(),
                    );
                    return true;
                }
                Ok(false) => {
                    tracing::warn!(
                        status,
                        "the job was dismissed or its lease lost before it finished; its \
                         result is discarded"
                    );
                    // Lost lease: another attempt may be taking over the container now.
                    return self.is_final(id).await;
                }
                Err(err) if attempt < COMPLETION_TRIES => {
                    tracing::warn!(error = %err, "cannot record the job's end; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(err) => {
                    tracing::error!(
                        error = %err,
                        "cannot record the job's end; its lease will expire and a later \
                         attempt will take over its container"
                    );
                }
            }
        }
        false
    }

    async fn is_final(&self, id: &JobId) -> bool {
        match self.inner.jobs.store().get_job(id).await {
            Ok(Some(job)) => job.status.is_final(),
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

/// Renews the lease until `stop`; cancels the job when the lease is lost or `abort` fires.
#[allow(clippy::too_many_arguments)]
async fn keep_lease(
    store: Arc<dyn JobStore>,
    id: JobId,
    worker: WorkerId,
    lease: Duration,
    every: Duration,
    cancel: CancellationToken,
    abort: CancellationToken,
    stop: CancellationToken,
) {
    let mut last_renewed = Instant::now();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = abort.cancelled() => {
                tracing::info!("server stopping: cancelling the job; it runs again after the next start");
                cancel.cancel();
                return;
            }
            _ = tokio::time::sleep(wait) => {}
        }
        wait = every;
        let now = OffsetDateTime::now_utc();
        match store.renew_lease(&id, &worker, now + lease, now).await {
            Ok(true) => last_renewed = Instant::now(),
            Ok(false) => {
                if !stop.is_cancelled() {
                    tracing::info!("the job was dismissed or its lease lost: stopping it");
                    cancel.cancel();
                }
                return;
            }
            Err(err) => {
                if last_renewed.elapsed() >= lease {
                    tracing::warn!(error = %err, "cannot renew the lease for a whole lease period: stopping the job");
                    cancel.cancel();
                    return;
                }
                tracing::warn!(error = %err, "cannot renew the lease; retrying");
            }
        }
    }
}

/// Writes the executor's progress to the store (fenced) and tells waiters.
struct StoreProgress {
    jobs: JobService,
    job_id: JobId,
    worker: WorkerId,
}

#[async_trait]
impl ProgressReporter for StoreProgress {
    async fn report(&self, message: &str) {
        self.write(message, None).await;
    }

    async fn report_progress(&self, message: &str, percent: u8) {
        self.write(message, Some(percent)).await;
    }

    async fn record_provenance(&self, record: &crate::provenance::ProvRecord) {
        self.keep_provenance(record).await;
    }
}

impl StoreProgress {
    /// Keeps the provenance record (fenced: a worker that lost the job writes nothing). A
    /// record that cannot be kept is logged, and the job still ends: its results matter
    /// more than their record.
    async fn keep_provenance(&self, record: &crate::provenance::ProvRecord) {
        let result = self
            .jobs
            .store()
            .record_provenance(
                &self.job_id,
                &self.worker,
                record,
                OffsetDateTime::now_utc(),
            )
            .await;
        match result {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("the job was dismissed or its lease lost: no provenance record kept")
            }
            Err(err) => tracing::warn!(error = %err, "cannot keep the job's provenance record"),
        }
    }

    /// Writes the message and, when given, the percentage (fenced: only while this worker
    /// holds the job), and tells waiters.
    async fn write(&self, message: &str, percent: Option<u8>) {
        let result = self
            .jobs
            .store()
            .set_progress(
                &self.job_id,
                &self.worker,
                message,
                percent,
                OffsetDateTime::now_utc(),
            )
            .await;
        match result {
            Ok(_) => self.jobs.announce(&self.job_id),
            Err(err) => tracing::warn!(error = %err, "cannot record the job's progress"),
        }
    }
}

/// The message of a caught panic.
pub(crate) fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}
