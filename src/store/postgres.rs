//! [`JobStore`](super::JobStore) on PostgreSQL (sqlx), for several ADES instances sharing one queue.
//!
//! It keeps every rule of the SQLite backend (see the module doc of `sqlite.rs`: claiming,
//! fencing, reaping, events, errors); the contract tests in `tests/it/store.rs` run against
//! both. What differs:
//! - **Connections.** One pool; PostgreSQL handles concurrent writers itself, so there is
//!   no single-writer pool and transactions are plain `BEGIN` (READ COMMITTED).
//! - **Schema.** `migrations/postgres/`, embedded and run on connect (sqlx holds an
//!   advisory lock while migrating, so instances starting together do not race). Times are
//!   BIGINT microseconds since the Unix epoch (UTC), exactly as in SQLite; request,
//!   results and failure are JSONB, sent and read back as text (`$n::jsonb`, `col::text`).
//! - **SQL.** One named file per statement in `src/store/postgres/`, bound parameters
//!   only; optional filters are `$n IS NULL OR ...` and lists travel as `text[]` arrays
//!   matched with `= ANY($n)`.
//! - **Claiming.** One `UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)
//!   AND status = 'accepted' RETURNING ...` plus its `job_events` row in one transaction:
//!   concurrent claimers lock different rows and never take the same job.
//! - **Processes.** `deployed_processes` as in SQLite, with the package as BYTEA and the
//!   manifest as TEXT (JSONB would refuse `\u0000` in strings; nothing queries inside
//!   it); the list is ordered with `COLLATE "C"` so ids sort by bytes, as in SQLite.
//! - **Events.** `seq` is an identity column; a job's status changes hold its row lock, so
//!   its events' `seq` values follow the order of the changes.

use super::backend::{Backend, SqlStore, Statements};
use super::common::database;
use super::{StoreError, StoreSignal};
use crate::error::cause_chain;
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The SQL statements, one named file each.
const SQL: Statements = Statements {
    insert_job: include_str!("postgres/insert_job.sql"),
    job_children: include_str!("postgres/job_children.sql"),
    orphaned_steps: include_str!("postgres/orphaned_steps.sql"),
    active_workflows: include_str!("postgres/active_workflows.sql"),
    start_workflow: include_str!("postgres/start_workflow.sql"),
    swap_remote_job: include_str!("postgres/swap_remote_job.sql"),
    get_remote_job: include_str!("postgres/get_remote_job.sql"),
    insert_event: include_str!("postgres/insert_event.sql"),
    get_job: include_str!("postgres/get_job.sql"),
    list_jobs: include_str!("postgres/list_jobs.sql"),
    job_events: include_str!("postgres/job_events.sql"),
    running_job_ids: include_str!("postgres/running_job_ids.sql"),
    claim_next_job: include_str!("postgres/claim_next_job.sql"),
    renew_lease: include_str!("postgres/renew_lease.sql"),
    set_progress: include_str!("postgres/set_progress.sql"),
    complete_succeeded: include_str!("postgres/complete_succeeded.sql"),
    complete_failed: include_str!("postgres/complete_failed.sql"),
    dismiss_job: include_str!("postgres/dismiss_job.sql"),
    dismiss_active_job: include_str!("postgres/dismiss_active_job.sql"),
    requeue_expired: include_str!("postgres/requeue_expired.sql"),
    fail_expired: include_str!("postgres/fail_expired.sql"),
    retry_job: include_str!("postgres/retry_job.sql"),
    requeue_job: include_str!("postgres/requeue_job.sql"),
    count_queued: include_str!("postgres/count_queued.sql"),
    upsert_worker_host: include_str!("postgres/upsert_worker_host.sql"),
    delete_worker_host: include_str!("postgres/delete_worker_host.sql"),
    forget_worker_hosts: include_str!("postgres/forget_worker_hosts.sql"),
    worker_hosts: include_str!("postgres/worker_hosts.sql"),
    insert_process: include_str!("postgres/insert_process.sql"),
    replace_process: include_str!("postgres/replace_process.sql"),
    delete_process: include_str!("postgres/delete_process.sql"),
    get_process: include_str!("postgres/get_process.sql"),
    list_processes: include_str!("postgres/list_processes.sql"),
    insert_workspace: include_str!("postgres/insert_workspace.sql"),
    replace_workspace: include_str!("postgres/replace_workspace.sql"),
    delete_workspace: include_str!("postgres/delete_workspace.sql"),
    get_workspace: include_str!("postgres/get_workspace.sql"),
    list_workspaces: include_str!("postgres/list_workspaces.sql"),
    enqueue_callback: include_str!("postgres/enqueue_callback.sql"),
    claim_callback: include_str!("postgres/claim_callback.sql"),
    finish_callback_try: include_str!("postgres/finish_callback_try.sql"),
    insert_callback_attempt: include_str!("postgres/insert_callback_attempt.sql"),
    job_callbacks: include_str!("postgres/job_callbacks.sql"),
    record_provenance: include_str!("postgres/record_provenance.sql"),
    job_provenance: include_str!("postgres/job_provenance.sql"),
    insert_api_key: include_str!("postgres/insert_api_key.sql"),
    find_api_key: include_str!("postgres/find_api_key.sql"),
    list_api_keys: include_str!("postgres/list_api_keys.sql"),
    revoke_api_key: include_str!("postgres/revoke_api_key.sql"),
    count_active_jobs_of: include_str!("postgres/count_active_jobs_of.sql"),
    insert_audit: include_str!("postgres/insert_audit.sql"),
    list_audit: include_str!("postgres/list_audit.sql"),
    insert_strike: include_str!("postgres/insert_strike.sql"),
    replace_strike: include_str!("postgres/replace_strike.sql"),
    set_strike_running: include_str!("postgres/set_strike_running.sql"),
    get_strike: include_str!("postgres/get_strike.sql"),
    list_strikes: include_str!("postgres/list_strikes.sql"),
    take_strike_lease: include_str!("postgres/take_strike_lease.sql"),
    release_strike_lease: include_str!("postgres/release_strike_lease.sql"),
    set_strike_cursor: include_str!("postgres/set_strike_cursor.sql"),
    insert_scan: include_str!("postgres/insert_scan.sql"),
    replace_scan: include_str!("postgres/replace_scan.sql"),
    record_scan_run: include_str!("postgres/record_scan_run.sql"),
    get_scan: include_str!("postgres/get_scan.sql"),
    list_scans: include_str!("postgres/list_scans.sql"),
    insert_ingest: include_str!("postgres/insert_ingest.sql"),
    get_ingest: include_str!("postgres/get_ingest.sql"),
    list_ingests: include_str!("postgres/list_ingests.sql"),
    ingest_keys: include_str!("postgres/ingest_keys.sql"),
    ingest_with_sha256: include_str!("postgres/ingest_with_sha256.sql"),
};

/// Serialises claims that count per-process limits.
const LOCK_LIMITED_CLAIMS: &str = include_str!("postgres/lock_limited_claims.sql");
/// Announces a change to listening replicas.
const NOTIFY: &str = include_str!("postgres/notify.sql");

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per ADES instance (workers, API handlers and the reaper share them).
const MAX_CONNECTIONS: u32 = 10;
/// Signals buffered for a slow consumer before further ones are dropped.
const SIGNAL_BUFFER: usize = 4096;
/// How long a caller waits for a free connection before the call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL's connections: the `Backend` of [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
}

/// The PostgreSQL job store. Cheap to clone (the pool is shared).
pub type PostgresStore = SqlStore<PostgresBackend>;

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`) and brings its
    /// schema up to date. The database itself must exist.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let shown = crate::config::redact_url_password(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| database(&format!("parse the database URL {shown:?}"), e))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| database(&format!("connect to {shown:?}"), e))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrate {shown:?}: {}", cause_chain(&e))))?;
        Ok(SqlStore::new(PostgresBackend { pool }))
    }

    /// Closes every connection (waiting for those in use to be returned).
    pub async fn close(&self) {
        self.backend.pool.close().await;
    }
}

/// The channel job changes are announced on (`LISTEN ades_jobs`).
pub const NOTIFY_CHANNEL: &str = "ades_jobs";

#[async_trait]
impl Backend for PostgresBackend {
    type Db = Postgres;
    type Int = i32;
    type List = Vec<String>;

    const SQL: Statements = SQL;

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The same pool: PostgreSQL handles concurrent writers itself.
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// One pool, named `shared`: it serves reads and writes.
    fn pools(&self) -> Vec<(&'static str, &PgPool)> {
        vec![("shared", &self.pool)]
    }

    /// A plain `BEGIN` (PostgreSQL needs no up-front write lock).
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| database("begin a transaction", e))
    }

    /// A `text[]` array (matched with `= ANY($n)`).
    fn list(values: Vec<&str>, _what: &str) -> Result<Vec<String>, StoreError> {
        Ok(values.into_iter().map(str::to_owned).collect())
    }

    /// Serialises claims that count per-process limits: with READ COMMITTED, two claimers
    /// could otherwise both see one free slot and both take it. Held until the claim
    /// commits; claims without limits do not take it.
    async fn lock_limited_claims(
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<(), StoreError> {
        sqlx::query(LOCK_LIMITED_CLAIMS)
            .execute(&mut **tx)
            .await
            .map_err(|e| database("lock claims with process limits", e))?;
        Ok(())
    }

    /// Tells every listening replica of a change; PostgreSQL delivers it when (and only
    /// if) the transaction commits.
    async fn notify(
        tx: &mut Transaction<'static, Postgres>,
        signal: &StoreSignal,
    ) -> Result<(), StoreError> {
        sqlx::query(NOTIFY)
            .bind(NOTIFY_CHANNEL)
            .bind(signal.payload())
            .execute(&mut **tx)
            .await
            .map_err(|e| database("notify other replicas", e))?;
        Ok(())
    }

    /// Listens on [`NOTIFY_CHANNEL`] with a connection of its own and forwards what other
    /// replicas (and this one) announce. The listener reconnects by itself after a lost
    /// connection; signals sent meanwhile are lost, which the timed polls cover. Stops when
    /// the receiver is dropped.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<StoreSignal>>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(|e| database("open a LISTEN connection", e))?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .map_err(|e| database("LISTEN for job changes", e))?;
        let (sender, receiver) = tokio::sync::mpsc::channel(SIGNAL_BUFFER);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = sender.closed() => return,
                    received = listener.recv() => match received {
                        Ok(notification) => {
                            let Some(signal) = StoreSignal::parse(notification.payload()) else {
                                continue;
                            };
                            // A full buffer means the consumer lags: dropping is safe, the
                            // polls catch up.
                            let _ = sender.try_send(signal);
                        }
                        Err(err) => {
                            tracing::warn!(
                                error = %cause_chain(&err),
                                "lost the LISTEN connection; reconnecting (polling meanwhile)"
                            );
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        });
        Ok(Some(receiver))
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}
