//! Durable state behind one narrow interface. [`JobStore`], [`ProcessStore`] and
//! [`UserStore`] are implemented once, generically, by [`SqlStore`] over a SQL backend
//! (`backend.rs`: the sqlx database, statement texts, pools, how a write transaction
//! begins, PostgreSQL's claim lock and `NOTIFY`); `sqlite.rs` and `postgres.rs` are the two
//! backends, chosen by the database URL ([`connect_store`]); the same contract tests run
//! against each. `sql.rs` holds the sqlx plumbing with sqlx's trait bounds written once.
//!
//! Rules every implementation keeps:
//! - a job row is committed before `insert_job` returns (durable before acknowledged);
//! - every status change appends a row to `job_events` in the same transaction;
//! - status changes follow [`JobStatus::can_become`], the one transition rule (in
//!   `domain/job.rs`). Every status write is a [`Transition`](crate::domain::Transition)
//!   named in [`transitions`], whose source statuses are computed from that rule; the
//!   statement binds its target and sources (`SET status = ?` and `status IN ?`) rather
//!   than spelling statuses. A new status write adds its constant to [`transitions`] and
//!   binds it the same way; a transition the rule forbids cannot be built;
//! - a worker writes to a job only while it holds the lease (`lease_owner` = its id and the
//!   job is `running`): fenced writes return `false` instead of writing when it does not.

mod backend;
mod common;
mod group_commit;
pub mod ingests;
pub mod postgres;
pub mod processes;
mod sql;
mod sql_store;
pub mod sqlite;
pub mod transitions;
pub mod users;
pub mod workspaces;

pub use backend::SqlStore;

pub use ingests::{
    Ingest, IngestFilter, IngestPage, IngestStatus, IngestStore, IngestWriteError, NewIngest,
    SourceKind, StoredScan, StoredStrike,
};
pub use processes::{DeployedProcess, ProcessStore, ProcessWriteError};
pub use users::{ApiKeyRecord, AuditEntry, UserStore};
pub use workspaces::{StoredWorkspace, WorkspaceStore, WorkspaceWriteError};

use crate::domain::{
    ExecuteRequest, Job, JobEvent, JobId, JobResults, JobStatus, ProcessId, WorkerId,
};
use async_trait::async_trait;
use seed::errors::JobFailure;
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed: always a server-side problem (HTTP 500).
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached now (connection refused or lost, no connection free
    /// in time, shutting down): HTTP 503, worth trying again.
    #[error("the database cannot be reached: {0}")]
    Unavailable(String),
    /// A stored row could not be read back (corrupt or from an incompatible version).
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

/// Opens the job store the database URL names: `postgres://` or `postgresql://` is
/// PostgreSQL ([`postgres::PostgresStore`]); `sqlite:` or a plain file path is SQLite
/// ([`sqlite::SqliteStore`]). Any other URL scheme is refused.
pub async fn connect_store(url: &str) -> Result<Arc<dyn JobStore>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else if url.starts_with("sqlite:") || !has_url_scheme(url) {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        let scheme = url.split("://").next().unwrap_or_default();
        Err(StoreError::Database(format!(
            "unsupported database URL scheme {scheme:?}: use postgres://..., \
             postgresql://..., sqlite:... or a file path"
        )))
    }
}

/// Whether `text` starts like a URL (`scheme://`) rather than a file path.
fn has_url_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// A job to create, status `accepted`.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub process_id: ProcessId,
    pub request: ExecuteRequest,
    /// Higher runs first; equal priorities run in submission order.
    pub priority: i32,
    /// The user who submitted it; `None` with authentication off.
    pub owner: Option<String>,
    /// The workflow job this job is a step of, and the step's name.
    pub step_of: Option<StepOf>,
    /// A workflow job: never claimed by a worker, advanced by the workflow drivers.
    pub workflow: bool,
    /// Who the audit trail records as its submitter, written in the job's own transaction
    /// (one sync to disk for both); `None`: the submission is not audited.
    pub submitted_by: Option<String>,
}

/// Which workflow job a job is a step of.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOf {
    pub parent: JobId,
    pub step: String,
}

/// Filters of `GET /jobs` (OGC job-list class), already parsed.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// Empty = any process.
    pub process_ids: Vec<ProcessId>,
    /// Empty = any status.
    pub statuses: Vec<JobStatus>,
    /// `created` >= this.
    pub created_from: Option<OffsetDateTime>,
    /// `created` <= this.
    pub created_to: Option<OffsetDateTime>,
    /// Seconds; running jobs count now - started, finished ones finished - started; jobs
    /// never started are left out when either duration bound is set.
    pub min_duration: Option<f64>,
    pub max_duration: Option<f64>,
    /// Page size (>= 1).
    pub limit: u32,
    /// Jobs to skip (newest first order: `created` descending, then id).
    pub offset: u32,
    /// Only the jobs of this user (`None` = anybody's, those without an owner included).
    pub owner: Option<String>,
}

/// One page of jobs.
#[derive(Debug, Clone, Default)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Whether jobs remain after this page.
    pub has_more: bool,
}

/// How a worker ends a job it holds.
#[derive(Debug, Clone)]
pub enum Completion {
    Succeeded {
        results: JobResults,
        message: String,
    },
    Failed {
        failure: JobFailure,
        message: String,
    },
}

/// A running worker pool (an `ades serve` with workers, or an `ades worker`), as it last
/// registered itself: what it offers and when it counts as gone.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerHost {
    /// The pool's instance id, the prefix of its workers' ids.
    pub id: String,
    /// The host name it runs on.
    pub host: String,
    /// Jobs it runs at once.
    pub workers: u32,
    /// CPUs its jobs may use at once (`None`: no limit).
    pub cpus: Option<f64>,
    /// Memory (MiB) its jobs may use at once (`None`: no limit).
    pub mem_mib: Option<f64>,
    /// Disk (MiB) its jobs may fill at once (`None`: no limit).
    pub disk_mib: Option<f64>,
    pub gpus: u32,
    /// Jobs running there at its last heartbeat.
    pub running: u32,
    pub started: OffsetDateTime,
    pub seen: OffsetDateTime,
    /// Gone unless seen again before this.
    pub expires: OffsetDateTime,
}

/// Something another process sharing the database did, learned as it commits (PostgreSQL
/// `LISTEN/NOTIFY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSignal {
    /// A job became claimable (submitted, retried, requeued).
    WorkAvailable(JobId),
    /// A job's status changed.
    JobChanged(JobId),
}

impl StoreSignal {
    /// The notification payload: `w <job id>` or `c <job id>`.
    pub fn payload(&self) -> String {
        match self {
            StoreSignal::WorkAvailable(id) => format!("w {id}"),
            StoreSignal::JobChanged(id) => format!("c {id}"),
        }
    }

    /// Reads a payload back; `None` for anything else.
    pub fn parse(payload: &str) -> Option<StoreSignal> {
        let (kind, id) = payload.split_once(' ')?;
        let id = JobId::parse(id).ok()?;
        match kind {
            "w" => Some(StoreSignal::WorkAvailable(id)),
            "c" => Some(StoreSignal::JobChanged(id)),
            _ => None,
        }
    }
}

/// Per-process limits on running jobs: process id -> most running at once, across every
/// worker sharing the store.
pub type RunningLimits = std::collections::BTreeMap<String, u32>;

/// What the reaper did with a job whose lease expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapedJob {
    pub job_id: JobId,
    /// `accepted` (requeued for another attempt) or `failed` (out of attempts).
    pub now: JobStatus,
}

/// How one of the store's connection pools is used at a moment (the metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    /// Which pool: `read` and `write` (SQLite), `shared` (PostgreSQL: one pool serves both).
    pub pool: &'static str,
    /// Connections lent out now.
    pub in_use: u32,
    /// Connections open and idle.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

#[async_trait]
pub trait JobStore:
    ProcessStore + UserStore + WorkspaceStore + IngestStore + Send + Sync + 'static
{
    /// How its connection pools are used now; cheap (no query), for a metrics scrape.
    fn pool_use(&self) -> Vec<PoolUse>;

    /// Inserts an `accepted` job (and its first event); committed on return.
    async fn insert_job(&self, job: NewJob, now: OffsetDateTime) -> Result<Job, StoreError>;

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError>;

    /// Inserts a step of a workflow job (`job.step_of` set), `accepted`, unless that
    /// workflow job has that step already: then nothing is written and `None` returned,
    /// so a step is submitted once whoever tries (decided by the database's unique index).
    async fn insert_step(
        &self,
        job: NewJob,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError>;

    /// The steps of workflow job `parent`, oldest first.
    async fn job_children(&self, parent: &JobId) -> Result<Vec<Job>, StoreError>;

    /// Steps waiting or running whose workflow job has ended, oldest first.
    async fn orphaned_steps(&self) -> Result<Vec<Job>, StoreError>;

    /// Ids of the workflow jobs waiting or running, oldest first.
    async fn active_workflows(&self) -> Result<Vec<JobId>, StoreError>;

    /// Starts an `accepted` workflow job: `running`, held by `driver` with a lease that
    /// does not expire (fenced writes of the drivers, `set_progress` and `complete_job`
    /// with `driver`, then reach it). `None` when it was not `accepted`.
    async fn start_workflow(
        &self,
        id: &JobId,
        driver: &WorkerId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError>;

    /// Where a remote step's job is ([`JobStore::swap_remote_job`]); `None` until set.
    async fn remote_job(&self, id: &JobId) -> Result<Option<String>, StoreError>;

    /// Sets the remote job record of step job `id` to `value` if it is still `expected`
    /// (`None`: never set); `false` when it was not (another driver got there first).
    async fn swap_remote_job(
        &self,
        id: &JobId,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError>;

    /// Newest first.
    async fn list_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<JobPage, StoreError>;

    /// The audit trail of one job, oldest first.
    async fn job_events(&self, id: &JobId) -> Result<Vec<JobEvent>, StoreError>;

    /// Atomically takes the next `accepted` job (highest priority, then oldest): sets it
    /// `running`, `started` (first attempt), `attempt + 1`, `lease_owner = worker`,
    /// `lease_expires = lease_until`. One conditional update; two workers never get the same
    /// job.
    async fn claim_next_job(
        &self,
        worker: &WorkerId,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        self.claim_next_job_within(worker, lease_until, now, &RunningLimits::new())
            .await
    }

    /// [`JobStore::claim_next_job`], skipping the jobs of processes that already run as
    /// many jobs as `limits` allows them (counted over the whole store, exactly: two
    /// claimers never both take the last free slot) and jobs whose retry delay has not
    /// passed.
    async fn claim_next_job_within(
        &self,
        worker: &WorkerId,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
        limits: &RunningLimits,
    ) -> Result<Option<Job>, StoreError>;

    /// Puts a running job back in the queue after a failure worth another attempt
    /// (fenced: `false` when `worker` no longer holds its lease). It may be claimed again
    /// from `not_before`; `message` becomes its status message and event.
    async fn retry_job(
        &self,
        id: &JobId,
        worker: &WorkerId,
        message: &str,
        not_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// An operator's requeue: a `failed` or `dismissed` job goes back to `accepted` with its
    /// attempts, times, results and failure cleared. Returns the job as it now is (its
    /// status tells whether it was requeued); `None` when there is no such job.
    async fn requeue_job(&self, id: &JobId, now: OffsetDateTime)
        -> Result<Option<Job>, StoreError>;

    /// How many jobs wait to run (`accepted`).
    async fn count_queued(&self) -> Result<u64, StoreError>;

    /// Registers a worker pool or refreshes it (its heartbeat); forgets pools gone for
    /// more than an hour.
    async fn upsert_worker_host(&self, host: &WorkerHost) -> Result<(), StoreError>;

    /// Forgets a worker pool (stopped in order).
    async fn delete_worker_host(&self, id: &str) -> Result<(), StoreError>;

    /// Every registered worker pool (live or not: compare `expires` with now).
    async fn worker_hosts(&self) -> Result<Vec<WorkerHost>, StoreError>;

    /// What other processes sharing the database do, as they commit; `None` when the
    /// backend cannot tell (SQLite: one process owns the database). Lost signals are
    /// covered by the workers' and waiters' timed polls.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<StoreSignal>>, StoreError>;

    /// Extends the lease; `false` when the worker no longer holds it (expired and reaped,
    /// or the job was dismissed): the worker must stop the job.
    async fn renew_lease(
        &self,
        id: &JobId,
        worker: &WorkerId,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Updates the status message/progress of a running job (fenced).
    async fn set_progress(
        &self,
        id: &JobId,
        worker: &WorkerId,
        message: &str,
        progress: Option<u8>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Ends a running job (fenced): `successful` or `failed`, `finished = now`.
    async fn complete_job(
        &self,
        id: &JobId,
        worker: &WorkerId,
        completion: Completion,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Dismisses a job: accepted or running ones stop, successful or failed ones are
    /// withdrawn (their results are no longer served); a dismissed job stays as it is.
    /// Returns the job as it now is, `None` when there is no such job.
    async fn dismiss_job(&self, id: &JobId, now: OffsetDateTime)
        -> Result<Option<Job>, StoreError>;

    /// Dismisses a job only while it is active (`accepted`, a retry waiting for its delay
    /// included, or `running`): a job that finished meanwhile is not withdrawn, and a
    /// dismissed one stays as it is. One conditional write, so a job finishing between a
    /// caller's read and this call keeps its results. Returns the job as it now is (its
    /// status tells whether it was dismissed), `None` when there is no such job.
    async fn dismiss_active_job(
        &self,
        id: &JobId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError>;

    /// Jobs `running` whose lease expired before `now`: back to `accepted` while
    /// `attempt < max_attempts`, else `failed` with a system failure. Returns what it did.
    async fn reap_expired_leases(
        &self,
        now: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<Vec<ReapedJob>, StoreError>;

    /// Ids of the jobs currently `running` (for the start-up sweep of containers).
    async fn running_job_ids(&self) -> Result<Vec<JobId>, StoreError>;

    /// Claims the callback due soonest (every status change queues the callbacks it makes
    /// due in its own transaction) for `owner` until `lease_until`; `None` when none is due.
    /// A claim that lapses (its process died) is claimed again: delivery is at least once.
    async fn claim_callback(
        &self,
        owner: &str,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<crate::domain::DueCallback>, StoreError>;

    /// Records how a claimed callback's try went (fenced by `owner`): its try is appended
    /// to the callback's record and the callback is delivered, due again or given up.
    /// `false` when the claim had lapsed and nothing was written.
    async fn finish_callback_try(
        &self,
        callback: &crate::domain::DueCallback,
        owner: &str,
        outcome: &crate::domain::CallbackOutcome,
        detail: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// A job's callbacks and their tries, oldest first.
    async fn job_callbacks(
        &self,
        id: &JobId,
    ) -> Result<Vec<crate::domain::CallbackRecord>, StoreError>;

    /// Keeps the provenance record of a running job (fenced: `false` when `worker` no
    /// longer holds its lease, and nothing is written). A later attempt's record replaces
    /// an earlier one's.
    async fn record_provenance(
        &self,
        id: &JobId,
        worker: &WorkerId,
        record: &crate::provenance::ProvRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// A job's provenance record; `None` when none was kept (the job has not ended, ended
    /// before records were kept, or never ran).
    async fn job_provenance(
        &self,
        id: &JobId,
    ) -> Result<Option<crate::provenance::ProvRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_are_told_from_paths() {
        assert!(has_url_scheme("mysql://localhost/ades"));
        assert!(has_url_scheme("postgres://localhost/ades"));
        assert!(!has_url_scheme("/var/lib/ades/jobs.db"));
        assert!(!has_url_scheme("jobs.db"));
        assert!(!has_url_scheme("./odd://name.db"));
    }

    #[tokio::test]
    async fn unknown_schemes_are_refused_with_the_accepted_forms() {
        let error = connect_store("mysql://localhost/ades").await.err().unwrap();
        let text = error.to_string();
        assert!(text.contains("\"mysql\""), "{text}");
        assert!(
            text.contains("postgres://") && text.contains("sqlite:"),
            "{text}"
        );
    }
}
