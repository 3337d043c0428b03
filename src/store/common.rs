//! What the SQLite and PostgreSQL backends share: the database-independent helpers
//! (microsecond times, JSON, error mapping), [`impl_job_store!`], which writes the one
//! [`JobStore`](super::JobStore) implementation both backends use, and
//! [`impl_process_store!`], the same for [`ProcessStore`](super::ProcessStore).
//!
//! The backends differ only in the sqlx database type, their SQL files, how a write
//! transaction begins and which pools serve reads and writes, and in a couple of column
//! types; everything else (the order of statements in each transaction, the events
//! appended, decoding, error mapping) is written once, here.

use super::StoreError;
use crate::error::cause_chain;
use seed::errors::{FailureCategory, JobFailure};
use time::OffsetDateTime;

/// Status message of a dismissed job (and of its event).
pub const DISMISSED_MESSAGE: &str = "dismissed";
/// Status message of a job the reaper put back in the queue (and of its event).
pub const REQUEUED_MESSAGE: &str = "requeued: worker lost";
/// Status message of a job an operator requeued (and of its event).
pub const REQUEUED_BY_OPERATOR_MESSAGE: &str = "requeued by an operator";
/// Status message of a job the reaper failed (and of its event).
pub const WORKER_LOST_MESSAGE: &str = "failed: worker lost";
/// [`JobFailure::name`] of a job whose worker vanished on its last attempt.
pub const WORKER_LOST_FAILURE: &str = "worker-lost";

/// The failure recorded for a job whose worker vanished on its last attempt.
pub(super) fn worker_lost_failure(max_attempts: u32) -> JobFailure {
    JobFailure {
        name: WORKER_LOST_FAILURE.to_owned(),
        title: "Worker lost".to_owned(),
        description: format!(
            "The worker running the job stopped renewing its lease on each of the \
             {max_attempts} attempts allowed."
        ),
        category: FailureCategory::System,
        exit_code: None,
    }
}

pub(super) fn to_json<T: serde::Serialize + ?Sized>(
    value: &T,
    what: &str,
) -> Result<String, StoreError> {
    // Not the database's fault, but a server-side problem all the same: never a 4xx.
    serde_json::to_string(value)
        .map_err(|e| StoreError::Database(format!("could not encode the {what} as JSON: {e}")))
}

/// Decodes the JSON text of column `name`.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    name: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(name, e))
}

/// Microseconds since the Unix epoch, rounded down (how every time is stored).
pub(super) fn micros(time: OffsetDateTime) -> i64 {
    saturate(time.unix_timestamp_nanos().div_euclid(1_000))
}

/// Microseconds since the Unix epoch, rounded up: a lower bound with sub-microsecond
/// precision excludes the stored (rounded down) microsecond below it.
pub(super) fn micros_rounded_up(time: OffsetDateTime) -> i64 {
    saturate(-(-time.unix_timestamp_nanos()).div_euclid(1_000))
}

fn saturate(micros: i128) -> i64 {
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

pub(super) fn from_micros(micros: i64) -> Result<OffsetDateTime, time::error::ComponentRange> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
}

/// The time stored in column `name` (microseconds since the Unix epoch).
pub(super) fn decode_time(micros: i64, name: &str) -> Result<OffsetDateTime, StoreError> {
    from_micros(micros).map_err(|e| corrupt(name, e))
}

pub(super) fn corrupt(column: &str, cause: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {cause}"))
}

/// A failed database call: rows that do not decode are corrupt data, a database that
/// cannot be reached is unavailable, everything else is a database failure, reported with
/// its cause chain.
pub(super) fn database(doing: &str, error: sqlx::Error) -> StoreError {
    if is_unreachable(&error) {
        return StoreError::Unavailable(format!("{doing}: {}", cause_chain(&error)));
    }
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => {
            StoreError::Corrupt(format!("{doing}: {}", cause_chain(&error)))
        }
        _ => StoreError::Database(format!("{doing}: {}", cause_chain(&error))),
    }
}

/// Whether `error` says the database is out of reach rather than that the statement failed:
/// the connection was refused or lost, no connection came free in time, or the server is
/// shutting down, restarting or full (SQLSTATE classes 08 and 57P, and 53300).
fn is_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

/// Whether the statement failed on a unique key (the primary key, for the tables that have
/// no other): how a duplicate insert shows, on either backend.
pub(super) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Writes `impl JobStore for $store` and the row-decoding functions it needs, for one
/// sqlx database, in a private module `job_store` of the invoking backend module.
/// Invoked once in each backend module:
///
/// ```text
/// impl_job_store! { store: SqliteStore, db: Sqlite, row: SqliteRow, int: i64 }
/// ```
///
/// - `db` / `row`: the sqlx database and row types;
/// - `int`: the Rust type of the `progress` and `attempt` columns (and of the bound
///   progress).
///
/// The invoking module must provide (the macro refers to them by name):
/// - a module `sql` with the statement texts (`sql::INSERT_JOB`, `sql::GET_JOB`, ...);
/// - `async fn lock_limited_claims(tx)`, run before a claim that counts per-process limits
///   (PostgreSQL: a transaction advisory lock; SQLite: nothing, its writes are serial);
/// - `async fn notify(tx, signal)`, telling other processes of a change as the
///   transaction commits (PostgreSQL: `pg_notify`; SQLite: nothing);
/// - `async fn listen_signals(&self)` on the store, for [`JobStore::listen`](super::JobStore::listen);
/// - `async fn begin_write(&self) -> Result<Transaction<'static, $db>, StoreError>` on the
///   store, starting a write transaction;
/// - `fn reader(&self) -> &Pool<$db>` and `fn writer(&self) -> &Pool<$db>` on the store,
///   the pools for reads and for single-statement writes;
/// - `fn list_filter(values: Vec<&str>, what: &str) -> Result<T, StoreError>`, turning a
///   non-empty list filter of `list_jobs` into the value bound for it.
macro_rules! impl_job_store {
    (store: $store:ty, db: $db:ty, row: $row:ty, int: $int:ty $(,)?) => {
        /// The generated code, in a module of its own; it sees the backend module's items.
        mod job_store {
            use super::*;
            use $crate::store::common::{
                corrupt, database, decode_time, from_json, micros, micros_rounded_up, to_json,
                worker_lost_failure, DISMISSED_MESSAGE, REQUEUED_BY_OPERATOR_MESSAGE,
                REQUEUED_MESSAGE, WORKER_LOST_MESSAGE,
            };

            #[::async_trait::async_trait]
            impl $crate::store::JobStore for $store {
                async fn insert_job(
                    &self,
                    job: $crate::store::NewJob,
                    now: ::time::OffsetDateTime,
                ) -> Result<$crate::domain::Job, $crate::store::StoreError> {
                    let request = to_json(&job.request, "request")?;
                    let now = micros(now);
                    let mut tx = self.begin_write().await?;
                    let row = ::sqlx::query(sql::INSERT_JOB)
                        .bind(job.id.as_str())
                        .bind(job.process_id.as_str())
                        .bind(now)
                        .bind(request)
                        .bind(job.priority)
                        .bind(job.owner.as_deref())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| database("insert a job", e))?;
                    let inserted = decode_job(&row)?;
                    let status = $crate::domain::JobStatus::Accepted;
                    append_event(&mut tx, &inserted.id, now, status, None).await?;
                    let signal = $crate::store::StoreSignal::WorkAvailable(inserted.id.clone());
                    notify(&mut tx, &signal).await?;
                    commit(tx).await?;
                    Ok(inserted)
                }

                async fn get_job(
                    &self,
                    id: &$crate::domain::JobId,
                ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                    let row = ::sqlx::query(sql::GET_JOB)
                        .bind(id.as_str())
                        .fetch_optional(self.reader())
                        .await
                        .map_err(|e| database("read a job", e))?;
                    row.as_ref().map(decode_job).transpose()
                }

                async fn list_jobs(
                    &self,
                    filter: &$crate::store::JobFilter,
                    now: ::time::OffsetDateTime,
                ) -> Result<$crate::store::JobPage, $crate::store::StoreError> {
                    let process_ids = if filter.process_ids.is_empty() {
                        None
                    } else {
                        let ids = filter.process_ids.iter().map(|p| p.as_str()).collect();
                        Some(list_filter(ids, "process id filter")?)
                    };
                    let statuses = if filter.statuses.is_empty() {
                        None
                    } else {
                        let names = filter.statuses.iter().map(|s| s.as_str()).collect();
                        Some(list_filter(names, "status filter")?)
                    };
                    let limit = i64::from(filter.limit);
                    let rows = ::sqlx::query(sql::LIST_JOBS)
                        .bind(micros(now))
                        .bind(process_ids)
                        .bind(statuses)
                        .bind(filter.created_from.map(micros_rounded_up))
                        .bind(filter.created_to.map(micros))
                        .bind(filter.min_duration)
                        .bind(filter.max_duration)
                        // One row more than asked tells whether another page follows.
                        .bind(limit + 1)
                        .bind(i64::from(filter.offset))
                        .bind(filter.owner.as_deref())
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("list jobs", e))?;
                    let has_more = rows.len() as i64 > limit;
                    let jobs = rows
                        .iter()
                        .take(filter.limit as usize)
                        .map(decode_job)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok($crate::store::JobPage { jobs, has_more })
                }

                async fn job_events(
                    &self,
                    id: &$crate::domain::JobId,
                ) -> Result<Vec<$crate::domain::JobEvent>, $crate::store::StoreError> {
                    let rows = ::sqlx::query(sql::JOB_EVENTS)
                        .bind(id.as_str())
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("read job events", e))?;
                    rows.iter().map(decode_event).collect()
                }

                async fn claim_next_job_within(
                    &self,
                    worker: &$crate::domain::WorkerId,
                    lease_until: ::time::OffsetDateTime,
                    now: ::time::OffsetDateTime,
                    limits: &$crate::store::RunningLimits,
                ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                    let now = micros(now);
                    let limits_json = to_json(limits, "process limits")?;
                    let mut tx = self.begin_write().await?;
                    if !limits.is_empty() {
                        lock_limited_claims(&mut tx).await?;
                    }
                    let row = ::sqlx::query(sql::CLAIM_NEXT_JOB)
                        .bind(&worker.0)
                        .bind(micros(lease_until))
                        .bind(now)
                        .bind(limits_json)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| database("claim a job", e))?;
                    let Some(row) = row else {
                        rollback(tx).await?;
                        return Ok(None);
                    };
                    let job = decode_job(&row)?;
                    let message = format!("claimed by {worker} (attempt {})", job.attempt);
                    let status = $crate::domain::JobStatus::Running;
                    append_event(&mut tx, &job.id, now, status, Some(&message)).await?;
                    notify(
                        &mut tx,
                        &$crate::store::StoreSignal::JobChanged(job.id.clone()),
                    )
                    .await?;
                    commit(tx).await?;
                    Ok(Some(job))
                }

                async fn retry_job(
                    &self,
                    id: &$crate::domain::JobId,
                    worker: &$crate::domain::WorkerId,
                    message: &str,
                    not_before: ::time::OffsetDateTime,
                    now: ::time::OffsetDateTime,
                ) -> Result<bool, $crate::store::StoreError> {
                    let now = micros(now);
                    let mut tx = self.begin_write().await?;
                    let done = ::sqlx::query(sql::RETRY_JOB)
                        .bind(id.as_str())
                        .bind(&worker.0)
                        .bind(message)
                        .bind(micros(not_before))
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| database("put a job back in the queue", e))?;
                    if done.rows_affected() != 1 {
                        rollback(tx).await?;
                        return Ok(false);
                    }
                    let status = $crate::domain::JobStatus::Accepted;
                    append_event(&mut tx, id, now, status, Some(message)).await?;
                    notify(
                        &mut tx,
                        &$crate::store::StoreSignal::WorkAvailable(id.clone()),
                    )
                    .await?;
                    commit(tx).await?;
                    Ok(true)
                }

                async fn requeue_job(
                    &self,
                    id: &$crate::domain::JobId,
                    now: ::time::OffsetDateTime,
                ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                    let tx = self.begin_write().await?;
                    let change = OperatorChange {
                        statement: sql::REQUEUE_JOB,
                        status: $crate::domain::JobStatus::Accepted,
                        message: REQUEUED_BY_OPERATOR_MESSAGE,
                        signal: $crate::store::StoreSignal::WorkAvailable(id.clone()),
                        doing: "requeue a job",
                    };
                    change_and_read(tx, id, change, micros(now)).await
                }

                async fn count_queued(&self) -> Result<u64, $crate::store::StoreError> {
                    let row = ::sqlx::query(sql::COUNT_QUEUED)
                        .fetch_one(self.reader())
                        .await
                        .map_err(|e| database("count queued jobs", e))?;
                    let queued: i64 = column(&row, "queued")?;
                    u64::try_from(queued).map_err(|e| corrupt("queued", e))
                }

                async fn upsert_worker_host(
                    &self,
                    host: &$crate::store::WorkerHost,
                ) -> Result<(), $crate::store::StoreError> {
                    let count = |n: u32, what: &str| {
                        <$int>::try_from(n).map_err(|_| {
                            $crate::store::StoreError::Database(format!("{what} out of range"))
                        })
                    };
                    ::sqlx::query(sql::UPSERT_WORKER_HOST)
                        .bind(&host.id)
                        .bind(&host.host)
                        .bind(count(host.workers, "workers")?)
                        .bind(host.cpus)
                        .bind(host.mem_mib)
                        .bind(count(host.gpus, "gpus")?)
                        .bind(count(host.running, "running")?)
                        .bind(micros(host.started))
                        .bind(micros(host.seen))
                        .bind(micros(host.expires))
                        .bind(host.disk_mib)
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("register a worker pool", e))?;
                    let long_gone = host.seen - ::time::Duration::hours(1);
                    ::sqlx::query(sql::FORGET_WORKER_HOSTS)
                        .bind(micros(long_gone))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("forget gone worker pools", e))?;
                    Ok(())
                }

                async fn delete_worker_host(
                    &self,
                    id: &str,
                ) -> Result<(), $crate::store::StoreError> {
                    ::sqlx::query(sql::DELETE_WORKER_HOST)
                        .bind(id)
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("forget a worker pool", e))?;
                    Ok(())
                }

                async fn worker_hosts(
                    &self,
                ) -> Result<Vec<$crate::store::WorkerHost>, $crate::store::StoreError> {
                    let rows = ::sqlx::query(sql::WORKER_HOSTS)
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("list worker pools", e))?;
                    rows.iter().map(decode_worker_host).collect()
                }

                async fn listen(
                    &self,
                ) -> Result<
                    Option<::tokio::sync::mpsc::Receiver<$crate::store::StoreSignal>>,
                    $crate::store::StoreError,
                > {
                    self.listen_signals().await
                }

                async fn renew_lease(
                    &self,
                    id: &$crate::domain::JobId,
                    worker: &$crate::domain::WorkerId,
                    lease_until: ::time::OffsetDateTime,
                    _now: ::time::OffsetDateTime,
                ) -> Result<bool, $crate::store::StoreError> {
                    let done = ::sqlx::query(sql::RENEW_LEASE)
                        .bind(id.as_str())
                        .bind(&worker.0)
                        .bind(micros(lease_until))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("renew a lease", e))?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_progress(
                    &self,
                    id: &$crate::domain::JobId,
                    worker: &$crate::domain::WorkerId,
                    message: &str,
                    progress: Option<u8>,
                    now: ::time::OffsetDateTime,
                ) -> Result<bool, $crate::store::StoreError> {
                    let done = ::sqlx::query(sql::SET_PROGRESS)
                        .bind(id.as_str())
                        .bind(&worker.0)
                        .bind(message)
                        .bind(progress.map(|p| <$int>::from(p.min(100))))
                        .bind(micros(now))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("set a job's progress", e))?;
                    Ok(done.rows_affected() == 1)
                }

                async fn complete_job(
                    &self,
                    id: &$crate::domain::JobId,
                    worker: &$crate::domain::WorkerId,
                    completion: $crate::store::Completion,
                    now: ::time::OffsetDateTime,
                ) -> Result<bool, $crate::store::StoreError> {
                    use $crate::store::Completion;
                    let (statement, status, outcome, message) = match &completion {
                        Completion::Succeeded { results, message } => (
                            sql::COMPLETE_SUCCEEDED,
                            $crate::domain::JobStatus::Successful,
                            to_json(results, "results")?,
                            message,
                        ),
                        Completion::Failed { failure, message } => (
                            sql::COMPLETE_FAILED,
                            $crate::domain::JobStatus::Failed,
                            to_json(failure, "failure")?,
                            message,
                        ),
                    };
                    let now = micros(now);
                    let mut tx = self.begin_write().await?;
                    let done = ::sqlx::query(statement)
                        .bind(id.as_str())
                        .bind(&worker.0)
                        .bind(outcome)
                        .bind(message.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| database("complete a job", e))?;
                    if done.rows_affected() != 1 {
                        rollback(tx).await?;
                        return Ok(false);
                    }
                    append_event(&mut tx, id, now, status, Some(message.as_str())).await?;
                    notify(&mut tx, &$crate::store::StoreSignal::JobChanged(id.clone())).await?;
                    commit(tx).await?;
                    Ok(true)
                }

                async fn dismiss_job(
                    &self,
                    id: &$crate::domain::JobId,
                    now: ::time::OffsetDateTime,
                ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                    let tx = self.begin_write().await?;
                    let change = OperatorChange {
                        statement: sql::DISMISS_JOB,
                        status: $crate::domain::JobStatus::Dismissed,
                        message: DISMISSED_MESSAGE,
                        signal: $crate::store::StoreSignal::JobChanged(id.clone()),
                        doing: "dismiss a job",
                    };
                    change_and_read(tx, id, change, micros(now)).await
                }

                async fn dismiss_active_job(
                    &self,
                    id: &$crate::domain::JobId,
                    now: ::time::OffsetDateTime,
                ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                    let tx = self.begin_write().await?;
                    let change = OperatorChange {
                        statement: sql::DISMISS_ACTIVE_JOB,
                        status: $crate::domain::JobStatus::Dismissed,
                        message: DISMISSED_MESSAGE,
                        signal: $crate::store::StoreSignal::JobChanged(id.clone()),
                        doing: "dismiss an active job",
                    };
                    change_and_read(tx, id, change, micros(now)).await
                }

                async fn reap_expired_leases(
                    &self,
                    now: ::time::OffsetDateTime,
                    max_attempts: u32,
                ) -> Result<Vec<$crate::store::ReapedJob>, $crate::store::StoreError> {
                    use $crate::domain::JobStatus;
                    use $crate::store::ReapedJob;
                    let now = micros(now);
                    let failure = to_json(&worker_lost_failure(max_attempts), "failure")?;
                    let mut reaped = Vec::new();
                    let mut tx = self.begin_write().await?;

                    let requeued = ::sqlx::query(sql::REQUEUE_EXPIRED)
                        .bind(now)
                        .bind(i64::from(max_attempts))
                        .bind(REQUEUED_MESSAGE)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| database("requeue jobs with expired leases", e))?;
                    for row in &requeued {
                        let id = decode_job_id(row, "id")?;
                        let status = JobStatus::Accepted;
                        append_event(&mut tx, &id, now, status, Some(REQUEUED_MESSAGE)).await?;
                        let signal = $crate::store::StoreSignal::WorkAvailable(id.clone());
                        notify(&mut tx, &signal).await?;
                        reaped.push(ReapedJob {
                            job_id: id,
                            now: status,
                        });
                    }

                    let failed = ::sqlx::query(sql::FAIL_EXPIRED)
                        .bind(now)
                        .bind(i64::from(max_attempts))
                        .bind(failure)
                        .bind(WORKER_LOST_MESSAGE)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| database("fail jobs with expired leases", e))?;
                    for row in &failed {
                        let id = decode_job_id(row, "id")?;
                        let status = JobStatus::Failed;
                        append_event(&mut tx, &id, now, status, Some(WORKER_LOST_MESSAGE)).await?;
                        let signal = $crate::store::StoreSignal::JobChanged(id.clone());
                        notify(&mut tx, &signal).await?;
                        reaped.push(ReapedJob {
                            job_id: id,
                            now: status,
                        });
                    }

                    commit(tx).await?;
                    Ok(reaped)
                }

                async fn running_job_ids(
                    &self,
                ) -> Result<Vec<$crate::domain::JobId>, $crate::store::StoreError> {
                    let rows = ::sqlx::query(sql::RUNNING_JOB_IDS)
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("list running jobs", e))?;
                    rows.iter().map(|row| decode_job_id(row, "id")).collect()
                }

                async fn claim_callback(
                    &self,
                    owner: &str,
                    lease_until: ::time::OffsetDateTime,
                    now: ::time::OffsetDateTime,
                ) -> Result<Option<$crate::domain::DueCallback>, $crate::store::StoreError>
                {
                    let mut tx = self.begin_write().await?;
                    let row = ::sqlx::query(sql::CLAIM_CALLBACK)
                        .bind(owner)
                        .bind(micros(lease_until))
                        .bind(micros(now))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| database("claim a callback", e))?;
                    let due = row.as_ref().map(decode_due_callback).transpose()?;
                    commit(tx).await?;
                    Ok(due)
                }

                async fn finish_callback_try(
                    &self,
                    callback: &$crate::domain::DueCallback,
                    owner: &str,
                    outcome: &$crate::domain::CallbackOutcome,
                    detail: &str,
                    now: ::time::OffsetDateTime,
                ) -> Result<bool, $crate::store::StoreError> {
                    use $crate::domain::CallbackOutcome;
                    let now = micros(now);
                    let (delivered, next_attempt, given_up) = match outcome {
                        CallbackOutcome::Delivered => (Some(now), now, None),
                        CallbackOutcome::RetryAt(at) => (None, micros(*at), None),
                        CallbackOutcome::GivenUp => (None, now, Some(now)),
                    };
                    let mut tx = self.begin_write().await?;
                    let done = ::sqlx::query(sql::FINISH_CALLBACK_TRY)
                        .bind(callback.id)
                        .bind(owner)
                        .bind(delivered)
                        .bind(next_attempt)
                        .bind(given_up)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| database("record a callback try", e))?;
                    if done.rows_affected() != 1 {
                        rollback(tx).await?;
                        return Ok(false);
                    }
                    ::sqlx::query(sql::INSERT_CALLBACK_ATTEMPT)
                        .bind(callback.id)
                        .bind(<$int>::from(callback.tries as i32))
                        .bind(now)
                        .bind(matches!(outcome, CallbackOutcome::Delivered))
                        .bind(detail)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| database("record a callback try", e))?;
                    commit(tx).await?;
                    Ok(true)
                }

                async fn job_callbacks(
                    &self,
                    id: &$crate::domain::JobId,
                ) -> Result<Vec<$crate::domain::CallbackRecord>, $crate::store::StoreError>
                {
                    let rows = ::sqlx::query(sql::JOB_CALLBACKS)
                        .bind(id.as_str())
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("read a job's callbacks", e))?;
                    let mut records: Vec<(i64, $crate::domain::CallbackRecord)> = Vec::new();
                    for row in &rows {
                        let key: i64 = column(row, "id")?;
                        if records.last().map(|(k, _)| *k) != Some(key) {
                            records.push((key, decode_callback_record(row)?));
                        }
                        if let Some(number) = column::<Option<$int>>(row, "try")? {
                            let record = &mut records.last_mut().expect("pushed above").1;
                            record.tries.push($crate::domain::CallbackTry {
                                number: u32::try_from(number).map_err(|e| corrupt("try", e))?,
                                at: decode_time(column(row, "at")?, "at")?,
                                delivered: column(row, "try_delivered")?,
                                outcome: column(row, "outcome")?,
                            });
                        }
                    }
                    Ok(records.into_iter().map(|(_, record)| record).collect())
                }
            }

            /// A status change a client or operator asks for (dismiss, requeue): a statement bound
            /// with the job id, `message` and now, which changes the row only when the job's
            /// status allows it.
            struct OperatorChange {
                statement: &'static str,
                status: $crate::domain::JobStatus,
                message: &'static str,
                signal: $crate::store::StoreSignal,
                doing: &'static str,
            }

            /// Applies `change` in `tx`; when the row changed, appends its event and tells
            /// other processes. Returns the job as it now is (`None`: no such job).
            async fn change_and_read(
                mut tx: ::sqlx::Transaction<'static, $db>,
                id: &$crate::domain::JobId,
                change: OperatorChange,
                now: i64,
            ) -> Result<Option<$crate::domain::Job>, $crate::store::StoreError> {
                let done = ::sqlx::query(change.statement)
                    .bind(id.as_str())
                    .bind(change.message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| database(change.doing, e))?;
                if done.rows_affected() == 1 {
                    append_event(&mut tx, id, now, change.status, Some(change.message)).await?;
                    notify(&mut tx, &change.signal).await?;
                }
                let row = ::sqlx::query(sql::GET_JOB)
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| database(change.doing, e))?;
                let job = row.as_ref().map(decode_job).transpose()?;
                commit(tx).await?;
                Ok(job)
            }

            /// Appends one `job_events` row inside the transaction that changed the status.
            async fn append_event(
                tx: &mut ::sqlx::Transaction<'static, $db>,
                id: &$crate::domain::JobId,
                at: i64,
                status: $crate::domain::JobStatus,
                message: Option<&str>,
            ) -> Result<(), $crate::store::StoreError> {
                ::sqlx::query(sql::INSERT_EVENT)
                    .bind(id.as_str())
                    .bind(at)
                    .bind(status.as_str())
                    .bind(message)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| database("append a job event", e))?;
                // The outbox: the callback this change makes due is written with it, so a
                // crash after the commit cannot lose it (see jobs::callbacks). Entering
                // `accepted` (submission, retry, requeue) is news to no subscriber: no
                // statement on the submit path.
                if status == $crate::domain::JobStatus::Accepted {
                    return Ok(());
                }
                ::sqlx::query(sql::ENQUEUE_CALLBACK)
                    .bind(id.as_str())
                    .bind(status.as_str())
                    .bind(at)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| database("queue a callback", e))?;
                Ok(())
            }

            async fn commit(
                tx: ::sqlx::Transaction<'static, $db>,
            ) -> Result<(), $crate::store::StoreError> {
                tx.commit().await.map_err(|e| database("commit", e))
            }

            async fn rollback(
                tx: ::sqlx::Transaction<'static, $db>,
            ) -> Result<(), $crate::store::StoreError> {
                tx.rollback().await.map_err(|e| database("roll back", e))
            }

            fn decode_job(row: &$row) -> Result<$crate::domain::Job, $crate::store::StoreError> {
                let process_id: String = column(row, "process_id")?;
                let optional_time = |name: &str| {
                    column::<Option<i64>>(row, name)?
                        .map(|us| decode_time(us, name))
                        .transpose()
                };
                Ok($crate::domain::Job {
                    id: decode_job_id(row, "id")?,
                    process_id: $crate::domain::ProcessId::parse(&process_id)
                        .map_err(|e| corrupt("process_id", e))?,
                    status: decode_status(row, "status")?,
                    message: column(row, "message")?,
                    progress: column::<Option<$int>>(row, "progress")?
                        .map(|p| u8::try_from(p).map_err(|e| corrupt("progress", e)))
                        .transpose()?,
                    created: decode_time(column(row, "created")?, "created")?,
                    started: optional_time("started")?,
                    finished: optional_time("finished")?,
                    updated: decode_time(column(row, "updated")?, "updated")?,
                    request: from_json(&column::<String>(row, "request")?, "request")?,
                    results: decode_optional_json(row, "results")?,
                    failure: decode_optional_json(row, "failure")?,
                    attempt: u32::try_from(column::<$int>(row, "attempt")?)
                        .map_err(|e| corrupt("attempt", e))?,
                    owner: column(row, "owner")?,
                })
            }

            fn decode_due_callback(
                row: &$row,
            ) -> Result<$crate::domain::DueCallback, $crate::store::StoreError> {
                let count = |name: &str| {
                    u32::try_from(column::<$int>(row, name)?).map_err(|e| corrupt(name, e))
                };
                Ok($crate::domain::DueCallback {
                    id: column(row, "id")?,
                    job_id: decode_job_id(row, "job_id")?,
                    status: decode_status(row, "status")?,
                    attempt: count("attempt")?,
                    uri: column(row, "uri")?,
                    created: decode_time(column(row, "created")?, "created")?,
                    tries: count("tries")?,
                })
            }

            fn decode_callback_record(
                row: &$row,
            ) -> Result<$crate::domain::CallbackRecord, $crate::store::StoreError> {
                let optional_time = |name: &str| {
                    column::<Option<i64>>(row, name)?
                        .map(|us| decode_time(us, name))
                        .transpose()
                };
                let delivered = optional_time("delivered")?;
                let given_up = optional_time("given_up")?;
                let next_attempt = if delivered.is_none() && given_up.is_none() {
                    Some(decode_time(column(row, "next_attempt")?, "next_attempt")?)
                } else {
                    None
                };
                Ok($crate::domain::CallbackRecord {
                    status: decode_status(row, "status")?,
                    attempt: u32::try_from(column::<$int>(row, "attempt")?)
                        .map_err(|e| corrupt("attempt", e))?,
                    uri: column(row, "uri")?,
                    created: decode_time(column(row, "created")?, "created")?,
                    next_attempt,
                    delivered,
                    given_up,
                    tries: Vec::new(),
                })
            }

            fn decode_worker_host(
                row: &$row,
            ) -> Result<$crate::store::WorkerHost, $crate::store::StoreError> {
                let count = |name: &str| {
                    u32::try_from(column::<$int>(row, name)?).map_err(|e| corrupt(name, e))
                };
                Ok($crate::store::WorkerHost {
                    id: column(row, "id")?,
                    host: column(row, "host")?,
                    workers: count("workers")?,
                    cpus: column(row, "cpus")?,
                    mem_mib: column(row, "mem_mib")?,
                    disk_mib: column(row, "disk_mib")?,
                    gpus: count("gpus")?,
                    running: count("running")?,
                    started: decode_time(column(row, "started")?, "started")?,
                    seen: decode_time(column(row, "seen")?, "seen")?,
                    expires: decode_time(column(row, "expires")?, "expires")?,
                })
            }

            fn decode_event(
                row: &$row,
            ) -> Result<$crate::domain::JobEvent, $crate::store::StoreError> {
                Ok($crate::domain::JobEvent {
                    job_id: decode_job_id(row, "job_id")?,
                    at: decode_time(column(row, "at")?, "at")?,
                    status: decode_status(row, "status")?,
                    message: column(row, "message")?,
                })
            }

            fn column<'r, T>(row: &'r $row, name: &str) -> Result<T, $crate::store::StoreError>
            where
                T: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
            {
                ::sqlx::Row::try_get(row, name).map_err(|e| corrupt(name, e))
            }

            fn decode_job_id(
                row: &$row,
                name: &str,
            ) -> Result<$crate::domain::JobId, $crate::store::StoreError> {
                let text: String = column(row, name)?;
                $crate::domain::JobId::parse(&text).map_err(|e| corrupt(name, e))
            }

            fn decode_status(
                row: &$row,
                name: &str,
            ) -> Result<$crate::domain::JobStatus, $crate::store::StoreError> {
                let text: String = column(row, name)?;
                $crate::domain::JobStatus::parse(&text)
                    .ok_or_else(|| corrupt(name, format!("unknown status {text:?}")))
            }

            fn decode_optional_json<T: ::serde::de::DeserializeOwned>(
                row: &$row,
                name: &str,
            ) -> Result<Option<T>, $crate::store::StoreError> {
                column::<Option<String>>(row, name)?
                    .map(|text| from_json(&text, name))
                    .transpose()
            }
        }
    };
}
pub(super) use impl_job_store;

/// Writes `impl ProcessStore for $store` for one sqlx database, in a private module
/// `process_store` of the invoking backend module. Invoked once in each backend module:
///
/// ```text
/// impl_process_store! { store: SqliteStore, db: Sqlite, row: SqliteRow }
/// ```
///
/// Every write is one statement on the write pool (autocommit), so it is committed when
/// the call returns. The invoking module must provide `sql::INSERT_PROCESS`,
/// `sql::REPLACE_PROCESS`, `sql::DELETE_PROCESS`, `sql::GET_PROCESS`,
/// `sql::LIST_PROCESSES`, and `reader()` / `writer()` on the store (as for
/// [`impl_job_store!`]).
macro_rules! impl_process_store {
    (store: $store:ty, db: $db:ty, row: $row:ty $(,)?) => {
        /// The generated code, in a module of its own; it sees the backend module's items.
        mod process_store {
            use super::*;
            use $crate::store::common::{
                corrupt, database, decode_time, from_json, is_unique_violation, micros, to_json,
            };
            use $crate::store::{DeployedProcess, ProcessWriteError, StoreError};

            #[::async_trait::async_trait]
            impl $crate::store::ProcessStore for $store {
                async fn insert_process(
                    &self,
                    process: &DeployedProcess,
                ) -> Result<(), ProcessWriteError> {
                    let manifest = to_json(&process.manifest, "manifest")?;
                    // No look-up first: the primary key alone decides, so of two deploys
                    // racing on one id exactly one gets in.
                    ::sqlx::query(sql::INSERT_PROCESS)
                        .bind(process.id.as_str())
                        .bind(process.package_media_type.as_str())
                        .bind(process.package.as_slice())
                        .bind(process.image.as_str())
                        .bind(process.pinned_image.as_str())
                        .bind(manifest)
                        .bind(micros(process.deployed))
                        .bind(micros(process.updated))
                        .execute(self.writer())
                        .await
                        .map_err(|e| {
                            if is_unique_violation(&e) {
                                ProcessWriteError::Duplicate(process.id.clone())
                            } else {
                                database("insert a process", e).into()
                            }
                        })?;
                    Ok(())
                }

                async fn replace_process(
                    &self,
                    process: &DeployedProcess,
                ) -> Result<(), ProcessWriteError> {
                    let manifest = to_json(&process.manifest, "manifest")?;
                    let done = ::sqlx::query(sql::REPLACE_PROCESS)
                        .bind(process.id.as_str())
                        .bind(process.package_media_type.as_str())
                        .bind(process.package.as_slice())
                        .bind(process.image.as_str())
                        .bind(process.pinned_image.as_str())
                        .bind(manifest)
                        .bind(micros(process.updated))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("replace a process", e))?;
                    if done.rows_affected() == 0 {
                        return Err(ProcessWriteError::NotFound(process.id.clone()));
                    }
                    Ok(())
                }

                async fn delete_process(&self, id: &str) -> Result<(), ProcessWriteError> {
                    let done = ::sqlx::query(sql::DELETE_PROCESS)
                        .bind(id)
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("delete a process", e))?;
                    if done.rows_affected() == 0 {
                        return Err(ProcessWriteError::NotFound(id.to_owned()));
                    }
                    Ok(())
                }

                async fn get_process(
                    &self,
                    id: &str,
                ) -> Result<Option<DeployedProcess>, StoreError> {
                    let row = ::sqlx::query(sql::GET_PROCESS)
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await
                        .map_err(|e| database("read a process", e))?;
                    row.as_ref().map(decode_process).transpose()
                }

                async fn list_processes(&self) -> Result<Vec<DeployedProcess>, StoreError> {
                    let rows = ::sqlx::query(sql::LIST_PROCESSES)
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("list processes", e))?;
                    rows.iter().map(decode_process).collect()
                }
            }

            fn decode_process(row: &$row) -> Result<DeployedProcess, StoreError> {
                Ok(DeployedProcess {
                    id: column(row, "id")?,
                    package_media_type: column(row, "package_media_type")?,
                    package: column(row, "package")?,
                    image: column(row, "image")?,
                    pinned_image: column(row, "pinned_image")?,
                    manifest: from_json(&column::<String>(row, "manifest")?, "manifest")?,
                    deployed: decode_time(column(row, "deployed")?, "deployed")?,
                    updated: decode_time(column(row, "updated")?, "updated")?,
                })
            }

            fn column<'r, T>(row: &'r $row, name: &str) -> Result<T, StoreError>
            where
                T: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
            {
                ::sqlx::Row::try_get(row, name).map_err(|e| corrupt(name, e))
            }
        }
    };
}
pub(super) use impl_process_store;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_at_microsecond_precision() {
        let t = datetime!(2024-05-06 07:08:09.123456789 UTC);
        assert_eq!(micros(t), 1_714_979_289_123_456);
        assert_eq!(micros_rounded_up(t), 1_714_979_289_123_457);
        assert_eq!(
            from_micros(micros(t)).unwrap(),
            datetime!(2024-05-06 07:08:09.123456 UTC)
        );
        let before_epoch = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(micros(before_epoch), -1);
        assert_eq!(micros_rounded_up(before_epoch), 0);
    }
}
