//! [`JobStore`] on PostgreSQL (sqlx), for several ADES instances sharing one queue.
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

use super::common::{database, impl_job_store, impl_process_store};
use super::StoreError;
use crate::error::cause_chain;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The SQL statements, one named file each.
mod sql {
    pub const INSERT_JOB: &str = include_str!("postgres/insert_job.sql");
    pub const INSERT_EVENT: &str = include_str!("postgres/insert_event.sql");
    pub const GET_JOB: &str = include_str!("postgres/get_job.sql");
    pub const LIST_JOBS: &str = include_str!("postgres/list_jobs.sql");
    pub const JOB_EVENTS: &str = include_str!("postgres/job_events.sql");
    pub const RUNNING_JOB_IDS: &str = include_str!("postgres/running_job_ids.sql");
    pub const CLAIM_NEXT_JOB: &str = include_str!("postgres/claim_next_job.sql");
    pub const RENEW_LEASE: &str = include_str!("postgres/renew_lease.sql");
    pub const SET_PROGRESS: &str = include_str!("postgres/set_progress.sql");
    pub const COMPLETE_SUCCEEDED: &str = include_str!("postgres/complete_succeeded.sql");
    pub const COMPLETE_FAILED: &str = include_str!("postgres/complete_failed.sql");
    pub const DISMISS_JOB: &str = include_str!("postgres/dismiss_job.sql");
    pub const DISMISS_ACTIVE_JOB: &str = include_str!("postgres/dismiss_active_job.sql");
    pub const REQUEUE_EXPIRED: &str = include_str!("postgres/requeue_expired.sql");
    pub const FAIL_EXPIRED: &str = include_str!("postgres/fail_expired.sql");
    pub const RETRY_JOB: &str = include_str!("postgres/retry_job.sql");
    pub const REQUEUE_JOB: &str = include_str!("postgres/requeue_job.sql");
    pub const COUNT_QUEUED: &str = include_str!("postgres/count_queued.sql");
    pub const UPSERT_WORKER_HOST: &str = include_str!("postgres/upsert_worker_host.sql");
    pub const DELETE_WORKER_HOST: &str = include_str!("postgres/delete_worker_host.sql");
    pub const FORGET_WORKER_HOSTS: &str = include_str!("postgres/forget_worker_hosts.sql");
    pub const WORKER_HOSTS: &str = include_str!("postgres/worker_hosts.sql");
    pub const LOCK_LIMITED_CLAIMS: &str = include_str!("postgres/lock_limited_claims.sql");
    pub const NOTIFY: &str = include_str!("postgres/notify.sql");
    pub const INSERT_PROCESS: &str = include_str!("postgres/insert_process.sql");
    pub const REPLACE_PROCESS: &str = include_str!("postgres/replace_process.sql");
    pub const DELETE_PROCESS: &str = include_str!("postgres/delete_process.sql");
    pub const GET_PROCESS: &str = include_str!("postgres/get_process.sql");
    pub const LIST_PROCESSES: &str = include_str!("postgres/list_processes.sql");
    pub const ENQUEUE_CALLBACK: &str = include_str!("postgres/enqueue_callback.sql");
    pub const CLAIM_CALLBACK: &str = include_str!("postgres/claim_callback.sql");
    pub const FINISH_CALLBACK_TRY: &str = include_str!("postgres/finish_callback_try.sql");
    pub const INSERT_CALLBACK_ATTEMPT: &str = include_str!("postgres/insert_callback_attempt.sql");
    pub const JOB_CALLBACKS: &str = include_str!("postgres/job_callbacks.sql");
    pub const INSERT_API_KEY: &str = include_str!("postgres/insert_api_key.sql");
    pub const FIND_API_KEY: &str = include_str!("postgres/find_api_key.sql");
    pub const LIST_API_KEYS: &str = include_str!("postgres/list_api_keys.sql");
    pub const REVOKE_API_KEY: &str = include_str!("postgres/revoke_api_key.sql");
    pub const COUNT_ACTIVE_JOBS_OF: &str = include_str!("postgres/count_active_jobs_of.sql");
    pub const INSERT_AUDIT: &str = include_str!("postgres/insert_audit.sql");
    pub const LIST_AUDIT: &str = include_str!("postgres/list_audit.sql");
}

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per ADES instance (workers, API handlers and the reaper share them).
const MAX_CONNECTIONS: u32 = 10;
/// Signals buffered for a slow consumer before further ones are dropped.
const SIGNAL_BUFFER: usize = 4096;
/// How long a caller waits for a free connection before the call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL job store. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

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
        Ok(PostgresStore { pool })
    }

    /// Closes every connection (waiting for those in use to be returned).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a transaction (PostgreSQL needs no up-front write lock).
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin()
            .await
            .map_err(|e| database("begin a transaction", e))
    }

    /// Listens on [`NOTIFY_CHANNEL`] with a connection of its own and forwards what other
    /// replicas (and this one) announce. The listener reconnects by itself after a lost
    /// connection; signals sent meanwhile are lost, which the timed polls cover. Stops when
    /// the receiver is dropped.
    async fn listen_signals(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<crate::store::StoreSignal>>, StoreError> {
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
                            let Some(signal) =
                                crate::store::StoreSignal::parse(notification.payload())
                            else {
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

    /// The pool for reads.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The pool for single-statement writes.
    fn writer(&self) -> &PgPool {
        &self.pool
    }
}

/// A list filter of `list_jobs` travels as a `text[]` array (matched with `= ANY($n)`).
fn list_filter(values: Vec<&str>, _what: &str) -> Result<Vec<String>, StoreError> {
    Ok(values.into_iter().map(str::to_owned).collect())
}

/// The channel job changes are announced on (`LISTEN ades_jobs`).
pub const NOTIFY_CHANNEL: &str = "ades_jobs";

/// Serialises claims that count per-process limits: with READ COMMITTED, two claimers
/// could otherwise both see one free slot and both take it. Held until the claim commits;
/// claims without limits do not take it.
async fn lock_limited_claims(tx: &mut Transaction<'static, Postgres>) -> Result<(), StoreError> {
    sqlx::query(sql::LOCK_LIMITED_CLAIMS)
        .execute(&mut **tx)
        .await
        .map_err(|e| database("lock claims with process limits", e))?;
    Ok(())
}

/// Tells every listening replica of a change; PostgreSQL delivers it when (and only if)
/// the transaction commits.
async fn notify(
    tx: &mut Transaction<'static, Postgres>,
    signal: &crate::store::StoreSignal,
) -> Result<(), StoreError> {
    sqlx::query(sql::NOTIFY)
        .bind(NOTIFY_CHANNEL)
        .bind(signal.payload())
        .execute(&mut **tx)
        .await
        .map_err(|e| database("notify other replicas", e))?;
    Ok(())
}

impl_process_store! { store: PostgresStore, db: Postgres, row: PgRow }

super::users::impl_user_store! { store: PostgresStore, db: Postgres, row: PgRow }

impl_job_store! { store: PostgresStore, db: Postgres, row: PgRow, int: i32 }
