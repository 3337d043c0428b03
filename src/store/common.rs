//! What the SQL backends share besides the generic store: the database-independent
//! helpers (microsecond times, JSON, error mapping) and the status messages the store
//! writes.

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
