//! What a SQL backend provides to the one generic store, [`SqlStore`]: its sqlx database,
//! its statement texts, how a write transaction begins, its pools, and the few steps only
//! one backend needs (PostgreSQL's claim lock and `NOTIFY`). Everything else (the order of
//! statements in each transaction, the events appended, decoding, error mapping) is the
//! generic code of `sql_store.rs`, `processes.rs` and `users.rs`.

use super::sql::{Bind, Get, SqlDb};
use super::{StoreError, StoreSignal};
use async_trait::async_trait;
use sqlx::{Database, Pool, Transaction};
use std::num::TryFromIntError;

/// The statement texts of one backend, one named file each in `src/store/<backend>/`.
#[derive(Debug)]
pub struct Statements {
    pub insert_job: &'static str,
    pub job_children: &'static str,
    pub orphaned_steps: &'static str,
    pub active_workflows: &'static str,
    pub start_workflow: &'static str,
    pub swap_remote_job: &'static str,
    pub get_remote_job: &'static str,
    pub insert_event: &'static str,
    pub get_job: &'static str,
    pub list_jobs: &'static str,
    pub job_events: &'static str,
    pub running_job_ids: &'static str,
    pub claim_next_job: &'static str,
    pub renew_lease: &'static str,
    pub set_progress: &'static str,
    pub complete_succeeded: &'static str,
    pub complete_failed: &'static str,
    pub dismiss_job: &'static str,
    pub dismiss_active_job: &'static str,
    pub requeue_expired: &'static str,
    pub fail_expired: &'static str,
    pub retry_job: &'static str,
    pub requeue_job: &'static str,
    pub count_queued: &'static str,
    pub upsert_worker_host: &'static str,
    pub delete_worker_host: &'static str,
    pub forget_worker_hosts: &'static str,
    pub worker_hosts: &'static str,
    pub insert_process: &'static str,
    pub replace_process: &'static str,
    pub delete_process: &'static str,
    pub get_process: &'static str,
    pub list_processes: &'static str,
    pub insert_workspace: &'static str,
    pub replace_workspace: &'static str,
    pub delete_workspace: &'static str,
    pub get_workspace: &'static str,
    pub list_workspaces: &'static str,
    pub enqueue_callback: &'static str,
    pub claim_callback: &'static str,
    pub finish_callback_try: &'static str,
    pub insert_callback_attempt: &'static str,
    pub job_callbacks: &'static str,
    pub record_provenance: &'static str,
    pub job_provenance: &'static str,
    pub insert_api_key: &'static str,
    pub find_api_key: &'static str,
    pub list_api_keys: &'static str,
    pub revoke_api_key: &'static str,
    pub count_active_jobs_of: &'static str,
    pub insert_audit: &'static str,
    pub list_audit: &'static str,
    pub insert_strike: &'static str,
    pub replace_strike: &'static str,
    pub set_strike_running: &'static str,
    pub get_strike: &'static str,
    pub list_strikes: &'static str,
    pub take_strike_lease: &'static str,
    pub release_strike_lease: &'static str,
    pub set_strike_cursor: &'static str,
    pub insert_scan: &'static str,
    pub replace_scan: &'static str,
    pub record_scan_run: &'static str,
    pub get_scan: &'static str,
    pub list_scans: &'static str,
    pub insert_ingest: &'static str,
    pub get_ingest: &'static str,
    pub list_ingests: &'static str,
    pub ingest_keys: &'static str,
    pub ingest_with_sha256: &'static str,
}

/// One SQL backend (SQLite, PostgreSQL): its connections and what differs between them.
#[async_trait]
pub trait Backend: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// The sqlx database, able to bind and read the backend's own integer and list types.
    type Db: SqlDb
        + Bind<Self::Int>
        + Bind<Option<Self::Int>>
        + Get<Self::Int>
        + Get<Option<Self::Int>>
        + Bind<Option<Self::List>>
        + Bind<Self::List>;

    /// The Rust type of INTEGER columns (progress, attempt, counts): `i64` on SQLite,
    /// `i32` on PostgreSQL.
    type Int: Copy
        + Send
        + Sync
        + 'static
        + From<u8>
        + From<i32>
        + TryFrom<u32>
        + TryInto<u8, Error = TryFromIntError>
        + TryInto<u32, Error = TryFromIntError>;

    /// How a list of texts travels as one parameter: a JSON array on SQLite (read with
    /// `json_each`), a `text[]` on PostgreSQL (matched with `= ANY($n)`).
    type List: Send + 'static;

    /// Its statements.
    const SQL: Statements;

    /// The pool for reads.
    fn reader(&self) -> &Pool<Self::Db>;

    /// The pool for single-statement writes.
    fn writer(&self) -> &Pool<Self::Db>;

    /// Its distinct pools, named for the metrics: `read` and `write` unless a backend
    /// uses one pool for both.
    fn pools(&self) -> Vec<(&'static str, &Pool<Self::Db>)> {
        vec![("read", self.reader()), ("write", self.writer())]
    }

    /// Starts a write transaction (SQLite: `BEGIN IMMEDIATE`, holding the write lock from
    /// the start).
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, StoreError>;

    /// A list of texts as the value bound for it.
    fn list(values: Vec<&str>, what: &str) -> Result<Self::List, StoreError>;

    /// Runs before a claim that counts per-process limits, in its transaction
    /// (PostgreSQL: a transaction advisory lock; SQLite: nothing, its writes are serial).
    async fn lock_limited_claims(tx: &mut Transaction<'static, Self::Db>)
        -> Result<(), StoreError>;

    /// Tells other processes sharing the database of a change as `tx` commits
    /// (PostgreSQL: `pg_notify`; SQLite: nothing, one process owns the database).
    async fn notify(
        tx: &mut Transaction<'static, Self::Db>,
        signal: &StoreSignal,
    ) -> Result<(), StoreError>;

    /// For [`JobStore::listen`](super::JobStore::listen).
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<StoreSignal>>, StoreError>;

    /// How many rows a statement changed.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;
}

/// The job, process and user store over one SQL backend: [`JobStore`](super::JobStore),
/// [`ProcessStore`](super::ProcessStore) and [`UserStore`](super::UserStore) are written
/// once for every `B`. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct SqlStore<B> {
    pub(super) backend: B,
    /// Submissions committed together (`store::group_commit`).
    pub(super) submissions: super::group_commit::GroupCommit,
}

impl<B> SqlStore<B> {
    pub(super) fn new(backend: B) -> Self {
        SqlStore {
            backend,
            submissions: Default::default(),
        }
    }
}
