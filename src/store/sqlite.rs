//! [`JobStore`](super::JobStore) on SQLite (sqlx), the zero-set-up default.
//!
//! Choices this backend makes (the contract tests in `tests/it/store.rs` hold them):
//! - **Connections.** One file, WAL journal, `synchronous = FULL` (a job acknowledged to a
//!   client survives a crash of the process and a power cut alike: each commit is synced to
//!   disk before `insert_job` returns), a busy timeout and foreign
//!   keys on. SQLite allows one writer at a time, so every write goes through a pool of
//!   exactly one connection (writers queue in-process instead of failing with
//!   `SQLITE_BUSY`) and write transactions start with `BEGIN IMMEDIATE` (another process on
//!   the same file waits on the busy timeout at the start instead of failing halfway).
//!   Reads use a separate small pool: under WAL they never wait for the writer. An
//!   in-memory database (`sqlite::memory:`) uses the single connection for everything.
//! - **Schema.** `migrations/sqlite/`, embedded and run on connect. Times are INTEGER
//!   microseconds since the Unix epoch (UTC), so ordering, intervals and durations are plain
//!   SQL arithmetic; values read back are truncated to the microsecond.
//! - **SQL.** One named file per statement in `src/store/sqlite/`, bound parameters only;
//!   optional filters are `?n IS NULL OR ...` and lists travel as JSON arrays read with
//!   `json_each`, so each statement is fixed text.
//! - **Claiming.** One conditional `UPDATE ... WHERE id = (SELECT ... LIMIT 1) AND status =
//!   'accepted' RETURNING ...` plus its `job_events` row in one transaction. `started` is
//!   the first claim's time and is kept on later attempts (OGC `started` = first start, so
//!   a job's duration includes attempts lost with their worker); message and progress
//!   restart with each attempt.
//! - **Fencing.** `renew_lease`, `set_progress` and `complete_job` write only when the job
//!   is `running` and `lease_owner` is the caller. A worker whose lease expired but that
//!   the reaper has not reached yet may still renew: the reaper alone takes leases away, so
//!   a slow heartbeat never leaves a job that is neither renewed nor reaped. Renewing is not
//!   a status change and leaves `updated` alone. `set_progress` with no progress keeps the
//!   last known one; progress above 100 is stored as 100.
//! - **Reaping.** Running jobs whose lease ended before `now` (or that have none) go back
//!   to `accepted` while `attempt < max_attempts` (event "requeued: worker lost"), else to
//!   `failed` with a `worker-lost` system failure; all in one transaction.
//! - **Events.** Every status change appends to `job_events` in the transaction that made
//!   it; `seq` (the row id) orders a job's events oldest first even within one microsecond.
//! - **Processes.** [`ProcessStore`](super::ProcessStore) keeps one `deployed_processes`
//!   row per process id: the package as a BLOB, the manifest as JSON text, times in
//!   microseconds like the jobs. Each write is one statement on the writer (committed, and
//!   synced, on return); a duplicate id is the primary key's unique violation.
//! - **Errors.** Failures of the database are [`StoreError::Database`] with their cause;
//!   rows that do not decode (bad status, bad JSON, out-of-range numbers) are
//!   [`StoreError::Corrupt`].

use super::backend::{Backend, SqlStore, Statements};
use super::common::{database, to_json};
use super::{StoreError, StoreSignal};
use crate::error::cause_chain;
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;

pub use super::common::{
    DISMISSED_MESSAGE, REQUEUED_MESSAGE, WORKER_LOST_FAILURE, WORKER_LOST_MESSAGE,
};

/// The SQL statements, one named file each.
const SQL: Statements = Statements {
    insert_job: include_str!("sqlite/insert_job.sql"),
    job_children: include_str!("sqlite/job_children.sql"),
    orphaned_steps: include_str!("sqlite/orphaned_steps.sql"),
    active_workflows: include_str!("sqlite/active_workflows.sql"),
    start_workflow: include_str!("sqlite/start_workflow.sql"),
    swap_remote_job: include_str!("sqlite/swap_remote_job.sql"),
    get_remote_job: include_str!("sqlite/get_remote_job.sql"),
    insert_event: include_str!("sqlite/insert_event.sql"),
    get_job: include_str!("sqlite/get_job.sql"),
    list_jobs: include_str!("sqlite/list_jobs.sql"),
    job_events: include_str!("sqlite/job_events.sql"),
    running_job_ids: include_str!("sqlite/running_job_ids.sql"),
    claim_next_job: include_str!("sqlite/claim_next_job.sql"),
    renew_lease: include_str!("sqlite/renew_lease.sql"),
    set_progress: include_str!("sqlite/set_progress.sql"),
    complete_succeeded: include_str!("sqlite/complete_succeeded.sql"),
    complete_failed: include_str!("sqlite/complete_failed.sql"),
    dismiss_job: include_str!("sqlite/dismiss_job.sql"),
    dismiss_active_job: include_str!("sqlite/dismiss_active_job.sql"),
    requeue_expired: include_str!("sqlite/requeue_expired.sql"),
    fail_expired: include_str!("sqlite/fail_expired.sql"),
    retry_job: include_str!("sqlite/retry_job.sql"),
    requeue_job: include_str!("sqlite/requeue_job.sql"),
    count_queued: include_str!("sqlite/count_queued.sql"),
    upsert_worker_host: include_str!("sqlite/upsert_worker_host.sql"),
    delete_worker_host: include_str!("sqlite/delete_worker_host.sql"),
    forget_worker_hosts: include_str!("sqlite/forget_worker_hosts.sql"),
    worker_hosts: include_str!("sqlite/worker_hosts.sql"),
    insert_process: include_str!("sqlite/insert_process.sql"),
    replace_process: include_str!("sqlite/replace_process.sql"),
    delete_process: include_str!("sqlite/delete_process.sql"),
    get_process: include_str!("sqlite/get_process.sql"),
    list_processes: include_str!("sqlite/list_processes.sql"),
    insert_workspace: include_str!("sqlite/insert_workspace.sql"),
    replace_workspace: include_str!("sqlite/replace_workspace.sql"),
    delete_workspace: include_str!("sqlite/delete_workspace.sql"),
    get_workspace: include_str!("sqlite/get_workspace.sql"),
    list_workspaces: include_str!("sqlite/list_workspaces.sql"),
    enqueue_callback: include_str!("sqlite/enqueue_callback.sql"),
    claim_callback: include_str!("sqlite/claim_callback.sql"),
    finish_callback_try: include_str!("sqlite/finish_callback_try.sql"),
    insert_callback_attempt: include_str!("sqlite/insert_callback_attempt.sql"),
    job_callbacks: include_str!("sqlite/job_callbacks.sql"),
    record_provenance: include_str!("sqlite/record_provenance.sql"),
    job_provenance: include_str!("sqlite/job_provenance.sql"),
    insert_api_key: include_str!("sqlite/insert_api_key.sql"),
    find_api_key: include_str!("sqlite/find_api_key.sql"),
    list_api_keys: include_str!("sqlite/list_api_keys.sql"),
    revoke_api_key: include_str!("sqlite/revoke_api_key.sql"),
    count_active_jobs_of: include_str!("sqlite/count_active_jobs_of.sql"),
    insert_audit: include_str!("sqlite/insert_audit.sql"),
    list_audit: include_str!("sqlite/list_audit.sql"),
    insert_strike: include_str!("sqlite/insert_strike.sql"),
    replace_strike: include_str!("sqlite/replace_strike.sql"),
    set_strike_running: include_str!("sqlite/set_strike_running.sql"),
    get_strike: include_str!("sqlite/get_strike.sql"),
    list_strikes: include_str!("sqlite/list_strikes.sql"),
    take_strike_lease: include_str!("sqlite/take_strike_lease.sql"),
    release_strike_lease: include_str!("sqlite/release_strike_lease.sql"),
    set_strike_cursor: include_str!("sqlite/set_strike_cursor.sql"),
    insert_scan: include_str!("sqlite/insert_scan.sql"),
    replace_scan: include_str!("sqlite/replace_scan.sql"),
    record_scan_run: include_str!("sqlite/record_scan_run.sql"),
    get_scan: include_str!("sqlite/get_scan.sql"),
    list_scans: include_str!("sqlite/list_scans.sql"),
    insert_ingest: include_str!("sqlite/insert_ingest.sql"),
    get_ingest: include_str!("sqlite/get_ingest.sql"),
    list_ingests: include_str!("sqlite/list_ingests.sql"),
    ingest_keys: include_str!("sqlite/ingest_keys.sql"),
    ingest_with_sha256: include_str!("sqlite/ingest_with_sha256.sql"),
};

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read connections; WAL lets them all read while the one writer writes.
const READ_CONNECTIONS: u32 = 4;

/// SQLite's connections: the `Backend` of [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    /// Exactly one connection: SQLite has one writer at a time.
    writer: SqlitePool,
    /// Connections for reads (the writer itself for an in-memory database).
    reader: SqlitePool,
}

/// The SQLite job store. Cheap to clone (the pools are shared).
pub type SqliteStore = SqlStore<SqliteBackend>;

impl SqliteStore {
    /// Opens (creating if missing) the database at `url_or_path`, either a `sqlite:` URL
    /// (`sqlite://jobs.db`, `sqlite::memory:`) or a plain file path, and brings its schema
    /// up to date.
    pub async fn connect(url_or_path: &str) -> Result<SqliteStore, StoreError> {
        let options = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path)
                .map_err(|e| database(&format!("parse the database URL {url_or_path:?}"), e))?
        } else {
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = is_in_memory(url_or_path);

        let mut writer_options = SqlitePoolOptions::new().max_connections(1);
        if in_memory {
            // The database lives as long as its connection: never let the pool close it.
            writer_options = writer_options
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let writer = writer_options
            .connect_with(options.clone())
            .await
            .map_err(|e| database(&format!("open {url_or_path:?}"), e))?;
        MIGRATOR.run(&writer).await.map_err(|e| {
            StoreError::Database(format!("migrate {url_or_path:?}: {}", cause_chain(&e)))
        })?;

        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(READ_CONNECTIONS)
                .connect_with(options)
                .await
                .map_err(|e| database(&format!("open {url_or_path:?} for reading"), e))?
        };
        Ok(SqlStore::new(SqliteBackend { writer, reader }))
    }

    /// Closes every connection (waiting for those in use to be returned).
    pub async fn close(&self) {
        self.backend.reader.close().await;
        self.backend.writer.close().await;
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Db = Sqlite;
    type Int = i64;
    type List = String;

    const SQL: Statements = SQL;

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The one writer connection.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Holds the write lock from the transaction's first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| database("begin a write transaction", e))
    }

    /// A JSON array (read with `json_each`).
    fn list(values: Vec<&str>, what: &str) -> Result<String, StoreError> {
        to_json(&values, what)
    }

    /// Nothing to lock: SQLite runs one write transaction at a time, so a claim's count of
    /// running jobs cannot race with another claim.
    async fn lock_limited_claims(_tx: &mut Transaction<'static, Sqlite>) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing to tell: one process owns a SQLite database and signals its own workers and
    /// waiters in memory.
    async fn notify(
        _tx: &mut Transaction<'static, Sqlite>,
        _signal: &StoreSignal,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// No signals from other processes: one process owns a SQLite database.
    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<StoreSignal>>, StoreError> {
        Ok(None)
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

fn is_in_memory(url_or_path: &str) -> bool {
    url_or_path.starts_with("sqlite:")
        && (url_or_path.contains(":memory:") || url_or_path.contains("mode=memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://?mode=memory"));
        assert!(!is_in_memory("sqlite://jobs.db"));
        assert!(!is_in_memory("/var/lib/ades/jobs.db"));
    }
}
