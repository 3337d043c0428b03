//! Jobs, protocol-neutral: submit, status, list, dismiss, wait for the end. Every façade
//! (OGC API now, WPS later) calls this; only the queue's workers run jobs.
//!
//! Durable before acknowledged: `submit` returns after the job row is committed, so the
//! first poll of an id always finds it. Sync execution is an ordinary job plus
//! [`JobService::wait_until_final`].

pub mod admission;
pub mod callbacks;
pub mod request;

use crate::domain::{ExecuteRequest, Job, JobEvent, JobId, Process};
use crate::store::{JobFilter, JobPage, JobStore, NewJob, StoreError, StoreSignal, WorkerHost};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;
use time::OffsetDateTime;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

/// How often a waiter re-reads the store even without a change signal (another replica may
/// have finished the job).
const WAIT_POLL: Duration = Duration::from_millis(500);

/// How long a client is told to wait when the queue is full.
pub const QUEUE_FULL_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long the list of worker pools is reused before it is read again (submissions check
/// each job against it).
const WORKER_HOSTS_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error("there is no job {0}")]
    NoSuchJob(JobId),
    /// As many jobs wait as the queue holds; the client should come back later.
    #[error(
        "the queue is full: {queued} jobs are waiting to run and the server holds at most \
         {limit} (queue.max_queued); submit again in {} s",
        QUEUE_FULL_RETRY_AFTER.as_secs()
    )]
    QueueFull { queued: u64, limit: u64 },
    /// No live worker could ever run the job: it asks for more than the largest offers.
    #[error("{0}")]
    DoesNotFit(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a submission must pass before it is queued.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Most jobs waiting to run (`accepted`); 0 = no limit.
    pub max_queued: u64,
    /// Process id -> priority of its jobs when the request names none (default 0).
    pub priorities: BTreeMap<String, i32>,
    /// Which input references are accepted (checked at submission, again when staging).
    pub references: request::ReferencePolicy,
}

/// The worker pools as read from the store, and when.
type HostsRead = (Instant, Vec<WorkerHost>);

/// The job service. Cheap to clone.
#[derive(Clone)]
pub struct JobService {
    store: Arc<dyn JobStore>,
    admission: Arc<Admission>,
    /// The worker pools as last read, and when.
    hosts: Arc<Mutex<Option<HostsRead>>>,
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
            admission: Arc::new(Admission::default()),
            hosts: Arc::new(Mutex::new(None)),
            work_available: Arc::new(Notify::new()),
            changed,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same service, checking submissions against `admission`.
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = Arc::new(admission);
        self
    }

    /// Checks `request` against `process` ([`request::check_request`]) and against the
    /// reference policy: an `href` this server would refuse to fetch (a private or local
    /// address, `file://` when not allowed) is refused now, not when the job stages it;
    /// so is a subscriber URI the address guard refuses.
    pub fn check_request(
        &self,
        process: &Process,
        request: &ExecuteRequest,
    ) -> Result<(), Vec<request::RequestProblem>> {
        let mut problems = match request::check_request(process, request) {
            Ok(()) => Vec::new(),
            Err(problems) => problems,
        };
        request::check_reference_policy(request, self.admission.references, &mut problems);
        problems.extend(request::check_subscriber_addresses(
            request,
            self.admission.references.allow_private_urls,
        ));
        problems.truncate(request::MAX_PROBLEMS);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Hears of job changes in this process (and, on PostgreSQL, in the others).
    pub fn subscribe_changes(&self) -> broadcast::Receiver<JobId> {
        self.changed.subscribe()
    }

    /// [`JobService::submit_with_priority`] at the process's configured priority.
    pub async fn submit(
        &self,
        process: &Process,
        request: ExecuteRequest,
    ) -> Result<Job, JobsError> {
        self.submit_with_priority(process, request, None).await
    }

    /// Creates an `accepted` job for an already checked request (see [`request`]) and wakes
    /// a worker. Returns once the job is durable. Refused when the queue is full
    /// ([`JobsError::QueueFull`]) or when no live worker could ever run it
    /// ([`JobsError::DoesNotFit`]). `priority` (higher runs first) overrides the process's
    /// configured one.
    pub async fn submit_with_priority(
        &self,
        process: &Process,
        request: ExecuteRequest,
        priority: Option<i32>,
    ) -> Result<Job, JobsError> {
        self.admit(process).await?;
        let priority = priority
            .or_else(|| self.admission.priorities.get(process.id.as_str()).copied())
            .unwrap_or(0);
        let job = self
            .store
            .insert_job(
                NewJob {
                    id: JobId::new(),
                    process_id: process.id.clone(),
                    request,
                    priority,
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        tracing::info!(job_id = %job.id, process_id = %job.process_id, "job accepted");
        self.work_available.notify_one();
        Ok(job)
    }

    /// The checks a submission passes before its job is created.
    async fn admit(&self, process: &Process) -> Result<(), JobsError> {
        let limit = self.admission.max_queued;
        if limit > 0 {
            let queued = self.store.count_queued().await?;
            if queued >= limit {
                return Err(JobsError::QueueFull { queued, limit });
            }
        }
        let now = OffsetDateTime::now_utc();
        let live: Vec<WorkerHost> = self
            .worker_hosts()
            .await?
            .into_iter()
            .filter(|host| host.expires > now)
            .collect();
        match admission::misfit(process, &live) {
            Some(why) => Err(JobsError::DoesNotFit(why)),
            None => Ok(()),
        }
    }

    /// The worker pools, read at most every [`WORKER_HOSTS_TTL`].
    async fn worker_hosts(&self) -> Result<Vec<WorkerHost>, StoreError> {
        if let Some((read, hosts)) = self.hosts.lock().expect("lock").as_ref() {
            if read.elapsed() < WORKER_HOSTS_TTL {
                return Ok(hosts.clone());
            }
        }
        let hosts = self.store.worker_hosts().await?;
        *self.hosts.lock().expect("lock") = Some((Instant::now(), hosts.clone()));
        Ok(hosts)
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

    /// The callbacks of a job and each delivery try, oldest first.
    pub async fn callbacks(
        &self,
        id: &JobId,
    ) -> Result<Vec<crate::domain::CallbackRecord>, JobsError> {
        self.get(id).await?;
        Ok(self.store.job_callbacks(id).await?)
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

    /// How many jobs run in this process now.
    pub fn running_here(&self) -> usize {
        self.running.lock().expect("lock").len()
    }

    /// Turns what other processes sharing the store announce (PostgreSQL `LISTEN/NOTIFY`)
    /// into wake-ups of this process's workers and waiters, until `stop`. Does nothing
    /// for a store that cannot tell (SQLite); the timed polls remain the fallback anyway.
    pub async fn forward_store_signals(&self, stop: CancellationToken) {
        let mut signals = match self.store.listen().await {
            Ok(Some(signals)) => signals,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for other replicas' job changes; polling only");
                return;
            }
        };
        tracing::info!("listening for job changes of other replicas");
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                signal = signals.recv() => match signal {
                    Some(StoreSignal::WorkAvailable(id)) => {
                        self.work_available.notify_one();
                        self.announce(&id);
                    }
                    Some(StoreSignal::JobChanged(id)) => self.announce(&id),
                    None => return,
                },
            }
        }
    }
}
