//! Jobs, protocol-neutral: submit, status, list, dismiss, wait for the end. Every façade
//! (OGC API now, WPS later) calls this; only the queue's workers run jobs.
//!
//! Durable before acknowledged: `submit` returns after the job row is committed, so the
//! first poll of an id always finds it. Sync execution is an ordinary job plus
//! [`JobService::wait_until_final`].

pub mod callbacks;
pub mod request;

use crate::domain::{ExecuteRequest, Job, JobEvent, JobId, Process};
use crate::store::{JobFilter, JobPage, JobStore, NewJob, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

/// How often a waiter re-reads the store even without a change signal (another replica may
/// have finished the job).
const WAIT_POLL: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("there is no job {0}")]
    NoSuchJob(JobId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The job service. Cheap to clone.
#[derive(Clone)]
pub struct JobService {
    store: Arc<dyn JobStore>,
    /// Wakes idle workers when a job is submitted.
    work_available: Arc<Notify>,
    /// Announces that a job changed (status or progress), for waiters.
    changed: broadcast::Sender<JobId>,
    /// Cancellation of jobs running in this process, by job id.
    running: Arc<Mutex<HashMap<JobId, CancellationToken>>>,
}

impl JobService {
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        let (changed, _) = broadcast::channel(1024);
        JobService {
            store,
            work_available: Arc::new(Notify::new()),
            changed,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Creates an `accepted` job for an already checked request (see [`request`]) and wakes
    /// a worker. Returns once the job is durable.
    pub async fn submit(
        &self,
        process: &Process,
        request: ExecuteRequest,
    ) -> Result<Job, JobsError> {
        let job = self
            .store
            .insert_job(
                NewJob {
                    id: JobId::new(),
                    process_id: process.id.clone(),
                    request,
                    priority: 0,
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        tracing::info!(job_id = %job.id, process_id = %job.process_id, "job accepted");
        self.work_available.notify_one();
        Ok(job)
    }

    pub async fn get(&self, id: &JobId) -> Result<Job, JobsError> {
        self.store
            .get_job(id)
            .await?
            .ok_or_else(|| JobsError::NoSuchJob(id.clone()))
    }

    pub async fn list(&self, filter: &JobFilter) -> Result<JobPage, JobsError> {
        Ok(self
            .store
            .list_jobs(filter, OffsetDateTime::now_utc())
            .await?)
    }

    pub async fn events(&self, id: &JobId) -> Result<Vec<JobEvent>, JobsError> {
        self.get(id).await?;
        Ok(self.store.job_events(id).await?)
    }

    /// Dismisses a job: a waiting one never runs, a running one's container is killed (at
    /// once when it runs in this process, else at its worker's next heartbeat), a finished
    /// one is withdrawn (its results are no longer served).
    pub async fn dismiss(&self, id: &JobId) -> Result<Job, JobsError> {
        let job = self
            .store
            .dismiss_job(id, OffsetDateTime::now_utc())
            .await?
            .ok_or_else(|| JobsError::NoSuchJob(id.clone()))?;
        if let Some(token) = self.running.lock().expect("lock").get(id) {
            token.cancel();
        }
        self.announce(id);
        Ok(job)
    }

    /// Waits until the job reaches a final status or `timeout` passes; returns the job as
    /// it is then.
    pub async fn wait_until_final(&self, id: &JobId, timeout: Duration) -> Result<Job, JobsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before reading, so a change between the read and the wait is not lost.
        let mut changes = self.changed.subscribe();
        loop {
            let job = self.get(id).await?;
            if job.status.is_final() || tokio::time::Instant::now() >= deadline {
                return Ok(job);
            }
            let next_look = (tokio::time::Instant::now() + WAIT_POLL).min(deadline);
            loop {
                match tokio::time::timeout_at(next_look, changes.recv()).await {
                    Ok(Ok(changed)) if changed != *id => continue,
                    // Our job changed, we lagged behind the channel, or it is time to look.
                    _ => break,
                }
            }
        }
    }

    // ---- for the workers ----------------------------------------------------------------

    /// Waits until a job may be available or `timeout` passes (the poll fallback).
    pub async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.work_available.notified()).await;
    }

    /// Wakes one idle worker.
    pub fn wake_a_worker(&self) {
        self.work_available.notify_one();
    }

    /// Tells waiters that a job changed.
    pub fn announce(&self, id: &JobId) {
        let _ = self.changed.send(id.clone());
    }

    /// Registers a job this process is about to run; `dismiss` cancels the token.
    pub fn register_running(&self, id: &JobId) -> CancellationToken {
        let token = CancellationToken::new();
        self.running
            .lock()
            .expect("lock")
            .insert(id.clone(), token.clone());
        token
    }

    pub fn unregister_running(&self, id: &JobId) {
        self.running.lock().expect("lock").remove(id);
    }
}
