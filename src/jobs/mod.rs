//! Jobs, protocol-neutral: submit, status, list, dismiss, wait for the end. Every façade
//! (OGC API, WPS 2.0, WPS 1.0.0) calls this; only the queue's workers run jobs.
//!
//! Ownership is checked here, once for every façade: each call names its
//! [`Caller`](crate::auth::Caller); a job of another user is answered like a job that does
//! not exist ([`JobsError::NoSuchJob`]), admins see every job.
//!
//! Durable before acknowledged: `submit` returns after the job row is committed, so the
//! first poll of an id always finds it. Sync execution is an ordinary job plus
//! [`JobService::wait_until_final`].

pub mod admission;
pub mod callbacks;
pub mod execute;
pub mod operator;
pub mod queue_length;
pub mod request;
pub mod status_cache;

use crate::auth::{Caller, Credential, Denied};
use crate::domain::{ExecuteRequest, Job, JobEvent, JobId, JobStatus, Process};
use crate::error::{ApiError, ErrorCode};
use crate::store::{
    AuditEntry, JobFilter, JobPage, JobStore, NewJob, StoreError, StoreSignal, WorkerHost,
};
use axum::http::{header, HeaderValue};
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

/// `Retry-After` (seconds) when the job database cannot be reached.
const STORAGE_RETRY_AFTER: &str = "5";

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
    /// The caller may not do this (no credential: 401; not the role: 403).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The user has as many jobs waiting or running as `auth.max_jobs_per_user` allows.
    #[error(
        "you have {active} jobs waiting or running, the most one user may have at once \
         (auth.max_jobs_per_user = {limit}); submit again when one has finished, in {} s or later",
        crate::auth::USER_LIMIT_RETRY_AFTER.as_secs()
    )]
    UserLimit { active: u64, limit: u64 },
    /// The job exists (and is the caller's) but has no provenance record; the message says
    /// why.
    #[error("{0}")]
    NoProvenance(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JobsError {
    /// This error as both façades answer it, from the one table in `crate::error`: an
    /// unknown job is a 404, a full queue a 503 with `Retry-After`, a job too large for
    /// every worker a 400, the store failing a 500 (logged with `context`).
    pub fn into_api_error(self, context: &str) -> ApiError {
        match self {
            JobsError::NoSuchJob(id) => ApiError::no_such_job(id.as_str()),
            JobsError::QueueFull { .. } => {
                let seconds = QUEUE_FULL_RETRY_AFTER.as_secs().to_string();
                ApiError::new(ErrorCode::QueueFull, self.to_string()).with_header(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&seconds).expect("digits are a valid header value"),
                )
            }
            JobsError::DoesNotFit(why) => ApiError::new(ErrorCode::InsufficientResources, why),
            JobsError::NoProvenance(why) => ApiError::new(ErrorCode::NotFound, why),
            JobsError::Denied(denied) => denied.to_api_error(),
            JobsError::UserLimit { .. } => {
                let seconds = crate::auth::USER_LIMIT_RETRY_AFTER.as_secs().to_string();
                ApiError::new(ErrorCode::TooManyJobs, self.to_string()).with_header(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&seconds).expect("digits are a valid header value"),
                )
            }
            JobsError::Store(StoreError::Unavailable(why)) => {
                tracing::warn!(context, cause = %why, "the job database cannot be reached");
                ApiError::new(
                    ErrorCode::StorageUnavailable,
                    "The job database cannot be reached right now; try again in a few seconds.",
                )
                .with_header(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(STORAGE_RETRY_AFTER),
                )
            }
            JobsError::Store(e) => ApiError::internal(context, &e),
        }
    }
}

/// Why a job has no provenance record, for the 404 that says so.
fn no_provenance_reason(job: &Job) -> String {
    let id = &job.id;
    match job.status {
        JobStatus::Accepted | JobStatus::Running => format!(
            "Job {id} has no provenance record yet: it is recorded when the job's run ends \
             (the job is {}). Ask again once it is successful or failed.",
            job.status.as_str()
        ),
        JobStatus::Dismissed => format!(
            "Job {id} has no provenance record: it was dismissed before its run ended, so \
             nothing was produced to record."
        ),
        JobStatus::Successful | JobStatus::Failed => format!(
            "Job {id} has no provenance record: it ended without a run to record (its \
             process was gone, or its worker was lost), or before this server kept \
             provenance records. Run it again to get one."
        ),
    }
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
    /// Most jobs (accepted + running) one user may have at once; 0 = no limit.
    pub max_jobs_per_user: u64,
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
    /// The queue's length for the bound on queued jobs ([`queue_length`]).
    queue_length: Arc<queue_length::QueueLength>,
    /// Wakes idle workers when a job is submitted.
    work_available: Arc<Notify>,
    /// Announces that a job changed (status or progress), for waiters.
    changed: broadcast::Sender<JobId>,
    /// Cancellation of jobs running in this process, by job id.
    running: Arc<Mutex<HashMap<JobId, CancellationToken>>>,
    /// The jobs read lately, for clients that poll ([`status_cache`]).
    statuses: Arc<status_cache::StatusCache>,
    /// This server's metrics: the job service counts submissions, its workers ends.
    metrics: crate::metrics::Metrics,
    /// The named workspaces (`crate::storage`): dismiss deletes products published where
    /// the workspace allows it.
    workspaces: crate::storage::Workspaces,
    /// The remote servers workflow steps may run on: dismissing a remote step dismisses
    /// its job there.
    remotes: crate::remote::Remotes,
}

impl JobService {
    pub fn new(store: Arc<dyn JobStore>) -> Self {
        let (changed, _) = broadcast::channel(1024);
        JobService {
            store,
            admission: Arc::new(Admission::default()),
            hosts: Arc::new(Mutex::new(None)),
            queue_length: Arc::default(),
            work_available: Arc::new(Notify::new()),
            changed,
            running: Arc::new(Mutex::new(HashMap::new())),
            statuses: Arc::default(),
            metrics: crate::metrics::Metrics::new(),
            workspaces: crate::storage::Workspaces::default(),
            remotes: crate::remote::Remotes::default(),
        }
    }

    /// The same service, with the configured remote servers.
    pub fn with_remotes(mut self, remotes: crate::remote::Remotes) -> Self {
        self.remotes = remotes;
        self
    }

    /// The remote servers workflow steps may run on.
    pub fn remotes(&self) -> &crate::remote::Remotes {
        &self.remotes
    }

    /// The same service, with the server's named workspaces.
    pub fn with_workspaces(mut self, workspaces: crate::storage::Workspaces) -> Self {
        self.workspaces = workspaces;
        self
    }

    /// The server's named workspaces.
    pub fn workspaces(&self) -> &crate::storage::Workspaces {
        &self.workspaces
    }

    /// This server's metrics (`GET /metrics`).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
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

    /// Checks the `workspace://` and `s3://` references of `request` now, so a path that
    /// leaves its workspace, goes through a symbolic link, or names no file is a 400 at
    /// submission rather than a failed job. (A store that cannot be asked now is left to
    /// staging.)
    pub async fn check_workspace_references(
        &self,
        request: &ExecuteRequest,
    ) -> Vec<request::RequestProblem> {
        use crate::storage::registry::WorkspacesError;
        let mut problems = Vec::new();
        for (location, href, url) in request::href_inputs(request) {
            let found = match self.workspaces.resolve_reference(&url).await {
                Ok(Some((broker, path))) => broker
                    .stat(&path)
                    .await
                    .map(|_| ())
                    .map_err(WorkspacesError::from),
                Ok(None) => continue,
                Err(err) => Err(err),
            };
            let problem = match found {
                Ok(()) => continue,
                Err(WorkspacesError::Store(_))
                | Err(WorkspacesError::Invalid(crate::storage::StorageError::Backend(_))) => {
                    continue
                }
                Err(err) => err.to_string(),
            };
            problems.push(request::RequestProblem::new(
                request::ProblemKind::BadReference,
                location,
                format!("the reference {href:?} cannot be used: {problem}"),
            ));
        }
        problems
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
        caller: &Caller,
        process: &Process,
        request: ExecuteRequest,
    ) -> Result<Job, JobsError> {
        self.submit_with_priority(caller, process, request, None)
            .await
    }

    /// Creates an `accepted` job for an already checked request (see [`request`]) and wakes
    /// a worker. Returns once the job is durable. Refused when the queue is full
    /// ([`JobsError::QueueFull`]) or when no live worker could ever run it
    /// ([`JobsError::DoesNotFit`]). `priority` (higher runs first) overrides the process's
    /// configured one. The caller needs the `user` or `admin` role and becomes the job's
    /// owner; a user at `max_jobs_per_user` is refused ([`JobsError::UserLimit`]).
    pub async fn submit_with_priority(
        &self,
        caller: &Caller,
        process: &Process,
        request: ExecuteRequest,
        priority: Option<i32>,
    ) -> Result<Job, JobsError> {
        caller.require_execute()?;
        if let (Some(owner), limit @ 1..) = (caller.owner(), self.admission.max_jobs_per_user) {
            let active = self.store.count_active_jobs_of(owner).await?;
            if active >= limit {
                return Err(JobsError::UserLimit { active, limit });
            }
        }
        self.admit(process).await?;
        // A workflow job runs the graph of its submission: a recipe replaced or undeployed
        // meanwhile leaves it as it was (as a running container job keeps its image).
        let mut request = request;
        if let (Some(workflow), None) = (process.workflow(), &request.workflow) {
            request.workflow = Some(Box::new(workflow.as_ref().clone()));
        }
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
                    owner: caller.owner().map(str::to_string),
                    step_of: None,
                    workflow: process.workflow().is_some(),
                    submitted_by: audited(caller, "submit").then(|| caller.actor()),
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        tracing::info!(job_id = %job.id, process_id = %job.process_id, owner = caller.owner(), "job accepted");
        self.metrics.job_submitted(job.process_id.as_str());
        self.queue_length.submitted();
        self.work_available.notify_one();
        Ok(job)
    }

    /// Records an ingest (`crate::ingest`) and, with a process, creates the job its trigger
    /// starts, in ONE store transaction (`IngestStore::record_ingest`): the same admission
    /// checks as a submission, no owner (the server's own job, seen by admins). `None` when
    /// this version of the file was recorded before: nothing was written.
    pub async fn record_ingest(
        &self,
        ingest: crate::store::NewIngest,
        run: Option<(&Process, ExecuteRequest)>,
    ) -> Result<Option<(crate::store::Ingest, Option<Job>)>, JobsError> {
        let job = match run {
            None => None,
            Some((process, mut request)) => {
                self.admit(process).await?;
                if let (Some(workflow), None) = (process.workflow(), &request.workflow) {
                    request.workflow = Some(Box::new(workflow.as_ref().clone()));
                }
                let priority = self
                    .admission
                    .priorities
                    .get(process.id.as_str())
                    .copied()
                    .unwrap_or(0);
                Some(NewJob {
                    id: JobId::new(),
                    process_id: process.id.clone(),
                    request,
                    priority,
                    owner: None,
                    step_of: None,
                    workflow: process.workflow().is_some(),
                    submitted_by: None,
                })
            }
        };
        let recorded = self
            .store
            .record_ingest(ingest, job, OffsetDateTime::now_utc())
            .await?;
        if let Some((ingest, Some(job))) = &recorded {
            tracing::info!(job_id = %job.id, process_id = %job.process_id, ingest = %ingest.new.id, "job accepted for an ingest");
            self.metrics.job_submitted(job.process_id.as_str());
            self.queue_length.submitted();
            self.work_available.notify_one();
        }
        Ok(recorded)
    }

    /// The checks a submission passes before its job is created.
    async fn admit(&self, process: &Process) -> Result<(), JobsError> {
        let limit = self.admission.max_queued;
        if limit > 0 {
            let queued = match self.queue_length.estimate(limit, Instant::now()) {
                Some(estimate) => estimate,
                None => {
                    let counted = self.store.count_queued().await?;
                    self.queue_length.counted(counted, Instant::now());
                    counted
                }
            };
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

    /// The job, when the caller may see it (admins: any; users: their own); another
    /// user's job is [`JobsError::NoSuchJob`], as if it did not exist.
    pub async fn get(&self, caller: &Caller, id: &JobId) -> Result<Job, JobsError> {
        caller.require_jobs()?;
        let job = match self.statuses.get(id) {
            Ok(job) => Some(job),
            Err(ticket) => {
                let read = self.store.get_job(id).await?;
                match &read {
                    Some(job) => self.statuses.keep(ticket, job),
                    None => self.statuses.forget(id),
                }
                read
            }
        };
        match job {
            Some(job) if caller.may_see(job.owner.as_deref()) => Ok(job),
            _ => Err(JobsError::NoSuchJob(id.clone())),
        }
    }

    /// One page of the jobs the caller may see: a user's own; an admin's every job, or one
    /// user's with `filter.owner`.
    pub async fn list(&self, caller: &Caller, filter: &JobFilter) -> Result<JobPage, JobsError> {
        caller.require_jobs()?;
        let mut filter = filter.clone();
        if !caller.is_admin() {
            filter.owner = Some(caller.owner().unwrap_or_default().to_string());
        }
        Ok(self
            .store
            .list_jobs(&filter, OffsetDateTime::now_utc())
            .await?)
    }

    pub async fn events(&self, caller: &Caller, id: &JobId) -> Result<Vec<JobEvent>, JobsError> {
        self.get(caller, id).await?;
        Ok(self.store.job_events(id).await?)
    }

    /// Appends to the audit trail what a caller did (when [`audited`]); a write that fails is logged (the
    /// deed itself is done and durable already). The local operator (authentication off)
    /// and the server itself leave job submissions and dismissals to `job_events`.
    pub async fn audit(&self, caller: &Caller, action: &str, target: &str, detail: &str) {
        if !audited(caller, action) {
            return;
        }
        let entry = AuditEntry {
            at: OffsetDateTime::now_utc(),
            actor: caller.actor(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
        };
        if let Err(err) = self.store.append_audit(&entry).await {
            tracing::error!(error = %err, action, target, "cannot append to the audit trail");
        }
    }

    /// The callbacks of a job and each delivery try, oldest first.
    pub async fn callbacks(
        &self,
        caller: &Caller,
        id: &JobId,
    ) -> Result<Vec<crate::domain::CallbackRecord>, JobsError> {
        self.get(caller, id).await?;
        Ok(self.store.job_callbacks(id).await?)
    }

    /// The provenance record of a job the caller may see (the same owner check as its
    /// status and results), with the job. A job without one is
    /// [`JobsError::NoProvenance`], saying why: it has not ended yet, it was dismissed
    /// before its run ended, or it ended before this server kept records.
    pub async fn provenance(
        &self,
        caller: &Caller,
        id: &JobId,
    ) -> Result<(Job, crate::provenance::ProvRecord), JobsError> {
        let job = self.get(caller, id).await?;
        // A record is served only for a job whose run has ended: a job requeued for
        // another attempt still holds the record of the last one, which is not yet its
        // whole story.
        let record = match job.status {
            JobStatus::Accepted | JobStatus::Running => None,
            _ => self.store.job_provenance(id).await?,
        };
        match record {
            Some(record) => Ok((job, record)),
            None => Err(JobsError::NoProvenance(no_provenance_reason(&job))),
        }
    }

    /// Dismisses a job: a waiting one never runs, a running one's container is killed (at
    /// once when it runs in this process, else at its worker's next heartbeat), a finished
    /// one is withdrawn (its results are no longer served). Only a job the caller may see.
    pub async fn dismiss(&self, caller: &Caller, id: &JobId) -> Result<Job, JobsError> {
        let before = self.get(caller, id).await?;
        let job = self
            .store
            .dismiss_job(id, OffsetDateTime::now_utc())
            .await?
            .ok_or_else(|| JobsError::NoSuchJob(id.clone()))?;
        self.dismissed(id);
        // A workflow's steps go with it.
        let steps = self.store.job_children(id).await?;
        self.dismiss_steps(&steps).await;
        self.audit(caller, "dismiss", id.as_str(), job.process_id.as_str())
            .await;
        self.delete_published(&before).await;
        Ok(job)
    }

    /// Deletes the products `job` published to workspaces that allow it
    /// (`delete_on_dismiss`); a failure is logged, the dismissal stands.
    async fn delete_published(&self, job: &Job) {
        // Collected first: an iterator over the results must not live across the awaits.
        let mut published = Vec::new();
        for values in job.results.iter().flat_map(|results| results.values()) {
            for value in values {
                if let crate::domain::OutputValue::File {
                    published: Some(file),
                    ..
                } = value
                {
                    published.push(file.clone());
                }
            }
        }
        for file in &published {
            let deleted = async {
                let entry = self.workspaces.get(&file.workspace).await?;
                if !entry.spec.delete_on_dismiss {
                    return Ok(false);
                }
                let broker = crate::storage::registry::broker_of(&entry.spec)?;
                broker.delete(&file.path).await?;
                Ok::<_, crate::storage::registry::WorkspacesError>(true)
            }
            .await;
            match deleted {
                Ok(true) => {
                    tracing::info!(workspace = %file.workspace, path = %file.path, "deleted a dismissed job's product")
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(workspace = %file.workspace, path = %file.path, "cannot delete a dismissed job's product: {err}")
                }
            }
        }
    }

    /// The jobs of the steps of workflow job `job` (already read with its owner check),
    /// oldest first; none for a job that is no workflow.
    pub async fn steps(&self, job: &Job) -> Result<Vec<Job>, JobsError> {
        Ok(self.store.job_children(&job.id).await?)
    }

    /// Dismisses the steps of a workflow that are still waiting or running (the workflow
    /// was dismissed, or failed on another step); finished ones keep their results. A
    /// store error is logged: the workflow driver dismisses them again on its next pass.
    pub async fn dismiss_steps(&self, steps: &[Job]) {
        for step in steps.iter().filter(|s| !s.status.is_final()) {
            match self
                .store
                .dismiss_active_job(&step.id, OffsetDateTime::now_utc())
                .await
            {
                Ok(_) => self.dismissed(&step.id),
                Err(err) => {
                    tracing::warn!(job_id = %step.id, error = %err, "cannot dismiss a workflow step")
                }
            }
        }
    }

    /// After the store recorded a dismissal: stops the job if it runs in this process (else
    /// its worker stops it at its next heartbeat) and tells waiters.
    fn dismissed(&self, id: &JobId) {
        if let Some(token) = self.running.lock().expect("lock").get(id) {
            token.cancel();
        }
        self.announce(id);
        if !self.remotes.is_empty() {
            let (store, remotes, id) = (self.store.clone(), self.remotes.clone(), id.clone());
            tokio::spawn(async move { dismiss_remote_job(store.as_ref(), &remotes, &id).await });
        }
    }

    /// Waits until the job reaches a final status or `timeout` passes; returns the job as
    /// it is then (if the caller may see it).
    pub async fn wait_until_final(
        &self,
        caller: &Caller,
        id: &JobId,
        timeout: Duration,
    ) -> Result<Job, JobsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribe before reading, so a change between the read and the wait is not lost.
        let mut changes = self.changed.subscribe();
        loop {
            let job = self.get(caller, id).await?;
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

    /// Tells waiters that a job changed (and forgets what was read of it).
    pub fn announce(&self, id: &JobId) {
        self.statuses.changed(id);
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

/// Whether what `caller` did goes into the audit trail: process changes always; the
/// local operator (authentication off) and the server itself leave job submissions and
/// dismissals to `job_events`.
fn audited(caller: &Caller, action: &str) -> bool {
    let process_change = matches!(action, "deploy" | "replace" | "undeploy");
    process_change || !matches!(caller.credential, Credential::Local | Credential::System)
}

/// Dismisses the job a remote workflow step has on its remote server, if it has one (after
/// the store recorded the step's dismissal). A step still being submitted has none yet:
/// its submitter dismisses it once it knows it (`workflow::remote_step`).
async fn dismiss_remote_job(store: &dyn JobStore, remotes: &crate::remote::Remotes, id: &JobId) {
    let Ok(Some(url)) = store.remote_job(id).await else {
        return;
    };
    let Ok(url) = reqwest::Url::parse(&url) else {
        return;
    };
    let Some(remote) = remotes.owner_of(&url) else {
        return;
    };
    match remote.dismiss(&url).await {
        Ok(()) => tracing::info!(job_id = %id, remote = %remote.name, "remote job dismissed"),
        Err(err) => {
            tracing::warn!(job_id = %id, remote = %remote.name, error = %err, "cannot dismiss a remote job")
        }
    }
}
