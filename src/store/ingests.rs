//! Data-driven processing's durable state (`crate::ingest`): strikes (their definition,
//! whether they run, the lease of the one replica watching for each, the monitor's cursor),
//! scans, and the ingests both record.
//!
//! Exactly once: an ingest row is keyed by (strike or scan, workspace, path, version of the
//! file), and [`IngestStore::record_ingest`] inserts the row and the job it triggers in ONE
//! transaction. A replica killed before the commit leaves neither; one killed after it
//! leaves both, and whoever finds the file again meets the key and writes nothing.

use super::backend::{Backend, SqlStore};
use super::common::{database, decode_time, from_json, is_unique_violation, micros, to_json};
use super::sql_store::{column, insert_in, sql, Row};
use super::{NewJob, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One stored strike.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStrike {
    pub name: String,
    /// The definition (`crate::ingest::StrikeSpec` as JSON).
    pub definition: serde_json::Value,
    /// Started (watching) or stopped.
    pub running: bool,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    /// The replica watching for it now, while its lease lasts.
    pub lease_owner: Option<String>,
    pub lease_expires: Option<OffsetDateTime>,
    /// The monitor's cursor (S3: the newest modification time decided, µs).
    pub cursor: Option<i64>,
}

/// One stored scan.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScan {
    pub name: String,
    pub definition: serde_json::Value,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
    /// What its last run did.
    pub last_run: Option<serde_json::Value>,
}

/// What found a file: a strike or a scan, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Strike,
    Scan,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Strike => "strike",
            SourceKind::Scan => "scan",
        }
    }

    fn parse(text: &str) -> Result<SourceKind, StoreError> {
        match text {
            "strike" => Ok(SourceKind::Strike),
            "scan" => Ok(SourceKind::Scan),
            other => Err(super::common::corrupt("source_kind", other)),
        }
    }
}

/// Where an ingest stands (Scale's statuses, in lower case; Scale's `INGESTING` is not
/// one: the row is written once the job exists, in the same transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestStatus {
    /// Being copied or moved by its rule (never stored: the row is written after).
    Transferring,
    /// Copied or moved by its rule; no trigger to start.
    Transferred,
    /// Matched a rule and its trigger's job was created.
    Ingested,
    /// Matched no rule: recorded so it is not looked at again, nothing run.
    Deferred,
    /// The same content (sha256) was ingested before by this strike or scan: not run again.
    Duplicate,
    /// Could not be ingested (unreadable, the trigger refused the request): the message
    /// says why.
    Errored,
}

impl IngestStatus {
    pub const ALL: [IngestStatus; 6] = [
        IngestStatus::Transferring,
        IngestStatus::Transferred,
        IngestStatus::Ingested,
        IngestStatus::Deferred,
        IngestStatus::Duplicate,
        IngestStatus::Errored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IngestStatus::Transferring => "transferring",
            IngestStatus::Transferred => "transferred",
            IngestStatus::Ingested => "ingested",
            IngestStatus::Deferred => "deferred",
            IngestStatus::Duplicate => "duplicate",
            IngestStatus::Errored => "errored",
        }
    }

    /// Case-insensitive, so Scale's `INGESTED` reads too.
    pub fn parse(text: &str) -> Option<IngestStatus> {
        IngestStatus::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// An ingest to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIngest {
    /// A lower-case hyphenated UUID.
    pub id: String,
    pub source_kind: SourceKind,
    pub source_name: String,
    pub workspace: String,
    pub path: String,
    pub file_name: String,
    /// The file's version: size and modification time (or ETag).
    pub version: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub media_type: Option<String>,
    pub rule: Option<String>,
    pub data_types: Vec<String>,
    pub status: IngestStatus,
    pub message: Option<String>,
    pub new_workspace: Option<String>,
    pub new_path: Option<String>,
}

/// A recorded ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingest {
    pub new: NewIngest,
    /// The job its trigger created (same transaction as the row).
    pub job_id: Option<String>,
    pub created: OffsetDateTime,
    pub updated: OffsetDateTime,
}

/// Filters of `GET /ingests`.
#[derive(Debug, Clone, Default)]
pub struct IngestFilter {
    /// Empty = any.
    pub statuses: Vec<IngestStatus>,
    pub source_kind: Option<SourceKind>,
    pub source_name: Option<String>,
    pub created_from: Option<OffsetDateTime>,
    pub created_to: Option<OffsetDateTime>,
    pub limit: u32,
    pub offset: u32,
}

/// One page of ingests, newest first.
#[derive(Debug, Clone, Default)]
pub struct IngestPage {
    pub ingests: Vec<Ingest>,
    pub has_more: bool,
}

/// Why a write of a strike or scan was not done.
#[derive(Debug, thiserror::Error)]
pub enum IngestWriteError {
    #[error("a {0} named {1} already exists")]
    Duplicate(&'static str, String),
    #[error("there is no {0} named {1}")]
    NotFound(&'static str, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait IngestStore: Send + Sync + 'static {
    /// Stores a new strike (decided by the database's key: a name is taken once).
    async fn insert_strike(
        &self,
        name: &str,
        definition: &serde_json::Value,
        running: bool,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    /// Overwrites a strike's definition (state and lease kept).
    async fn replace_strike(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    /// Starts or stops a strike; stopping lets its lease go.
    async fn set_strike_running(
        &self,
        name: &str,
        running: bool,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    async fn get_strike(&self, name: &str) -> Result<Option<StoredStrike>, StoreError>;

    /// Every strike, by name.
    async fn list_strikes(&self) -> Result<Vec<StoredStrike>, StoreError>;

    /// Takes or renews the lease of a running strike for `owner` until `until`: `true`
    /// when `owner` holds it now (nobody held it, `owner` did, or the holder's lapsed).
    async fn take_strike_lease(
        &self,
        name: &str,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Lets go of a lease `owner` holds.
    async fn release_strike_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// Stores the monitor's cursor while `owner` holds the lease (`false`: it does not).
    async fn set_strike_cursor(
        &self,
        name: &str,
        owner: &str,
        cursor: i64,
    ) -> Result<bool, StoreError>;

    async fn insert_scan(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    async fn replace_scan(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    /// Keeps what a scan's run did.
    async fn record_scan_run(
        &self,
        name: &str,
        run: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError>;

    async fn get_scan(&self, name: &str) -> Result<Option<StoredScan>, StoreError>;

    async fn list_scans(&self) -> Result<Vec<StoredScan>, StoreError>;

    /// Records `ingest` and inserts `job` (the job its trigger starts, if any) in one
    /// transaction. `None` when this version of this file was recorded by the same strike
    /// or scan before: then nothing at all is written (no job either).
    async fn record_ingest(
        &self,
        ingest: NewIngest,
        job: Option<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Option<(Ingest, Option<crate::domain::Job>)>, StoreError>;

    async fn get_ingest(&self, id: &str) -> Result<Option<Ingest>, StoreError>;

    /// Newest first.
    async fn list_ingests(&self, filter: &IngestFilter) -> Result<IngestPage, StoreError>;

    /// The (path, version) of every file a strike or scan recorded.
    async fn ingest_keys(
        &self,
        kind: SourceKind,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The id of an `ingested` ingest of the same content by this strike or scan.
    async fn ingest_with_sha256(
        &self,
        kind: SourceKind,
        name: &str,
        sha256: &str,
    ) -> Result<Option<String>, StoreError>;
}

fn not_found_if_none<B: Backend>(
    done: &<B::Db as sqlx::Database>::QueryResult,
    what: &'static str,
    name: &str,
) -> Result<(), IngestWriteError> {
    if B::rows_affected(done) == 0 {
        return Err(IngestWriteError::NotFound(what, name.to_owned()));
    }
    Ok(())
}

#[async_trait]
impl<B: Backend> IngestStore for SqlStore<B> {
    async fn insert_strike(
        &self,
        name: &str,
        definition: &serde_json::Value,
        running: bool,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        sql::<B>(B::SQL.insert_strike)
            .bind(name.to_owned())
            .bind(to_json(definition, "definition")?)
            .bind(running)
            .bind(micros(now))
            .try_execute(self.backend.writer())
            .await
            .map_err(|e| taken_or_failed(e, "strike", name))?;
        Ok(())
    }

    async fn replace_strike(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        let done = sql::<B>(B::SQL.replace_strike)
            .bind(name.to_owned())
            .bind(to_json(definition, "definition")?)
            .bind(micros(now))
            .execute(self.backend.writer(), "replace a strike")
            .await?;
        not_found_if_none::<B>(&done, "strike", name)
    }

    async fn set_strike_running(
        &self,
        name: &str,
        running: bool,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        let done = sql::<B>(B::SQL.set_strike_running)
            .bind(name.to_owned())
            .bind(running)
            .bind(micros(now))
            .execute(self.backend.writer(), "start or stop a strike")
            .await?;
        not_found_if_none::<B>(&done, "strike", name)
    }

    async fn get_strike(&self, name: &str) -> Result<Option<StoredStrike>, StoreError> {
        let row = sql::<B>(B::SQL.get_strike)
            .bind(name.to_owned())
            .fetch_optional(self.backend.reader(), "read a strike")
            .await?;
        row.as_ref().map(decode_strike::<B>).transpose()
    }

    async fn list_strikes(&self) -> Result<Vec<StoredStrike>, StoreError> {
        let rows = sql::<B>(B::SQL.list_strikes)
            .fetch_all(self.backend.reader(), "list strikes")
            .await?;
        rows.iter().map(decode_strike::<B>).collect()
    }

    async fn take_strike_lease(
        &self,
        name: &str,
        owner: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.take_strike_lease)
            .bind(name.to_owned())
            .bind(owner.to_owned())
            .bind(micros(until))
            .bind(micros(now))
            .execute(self.backend.writer(), "take a strike's lease")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn release_strike_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        sql::<B>(B::SQL.release_strike_lease)
            .bind(name.to_owned())
            .bind(owner.to_owned())
            .execute(self.backend.writer(), "let go of a strike's lease")
            .await?;
        Ok(())
    }

    async fn set_strike_cursor(
        &self,
        name: &str,
        owner: &str,
        cursor: i64,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.set_strike_cursor)
            .bind(name.to_owned())
            .bind(owner.to_owned())
            .bind(cursor)
            .execute(self.backend.writer(), "store a strike's cursor")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn insert_scan(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        sql::<B>(B::SQL.insert_scan)
            .bind(name.to_owned())
            .bind(to_json(definition, "definition")?)
            .bind(micros(now))
            .try_execute(self.backend.writer())
            .await
            .map_err(|e| taken_or_failed(e, "scan", name))?;
        Ok(())
    }

    async fn replace_scan(
        &self,
        name: &str,
        definition: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        let done = sql::<B>(B::SQL.replace_scan)
            .bind(name.to_owned())
            .bind(to_json(definition, "definition")?)
            .bind(micros(now))
            .execute(self.backend.writer(), "replace a scan")
            .await?;
        not_found_if_none::<B>(&done, "scan", name)
    }

    async fn record_scan_run(
        &self,
        name: &str,
        run: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), IngestWriteError> {
        let done = sql::<B>(B::SQL.record_scan_run)
            .bind(name.to_owned())
            .bind(to_json(run, "last_run")?)
            .bind(micros(now))
            .execute(self.backend.writer(), "record a scan's run")
            .await?;
        not_found_if_none::<B>(&done, "scan", name)
    }

    async fn get_scan(&self, name: &str) -> Result<Option<StoredScan>, StoreError> {
        let row = sql::<B>(B::SQL.get_scan)
            .bind(name.to_owned())
            .fetch_optional(self.backend.reader(), "read a scan")
            .await?;
        row.as_ref().map(decode_scan::<B>).transpose()
    }

    async fn list_scans(&self) -> Result<Vec<StoredScan>, StoreError> {
        let rows = sql::<B>(B::SQL.list_scans)
            .fetch_all(self.backend.reader(), "list scans")
            .await?;
        rows.iter().map(decode_scan::<B>).collect()
    }

    async fn record_ingest(
        &self,
        ingest: NewIngest,
        job: Option<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Option<(Ingest, Option<crate::domain::Job>)>, StoreError> {
        let at = micros(now);
        let size = i64::try_from(ingest.size)
            .map_err(|_| StoreError::Database("a file size beyond i64".to_string()))?;
        let mut tx = self.backend.begin_write().await?;
        let row = sql::<B>(B::SQL.insert_ingest)
            .bind(ingest.id.clone())
            .bind(ingest.source_kind.as_str())
            .bind(ingest.source_name.clone())
            .bind(ingest.workspace.clone())
            .bind(ingest.path.clone())
            .bind(ingest.file_name.clone())
            .bind(ingest.version.clone())
            .bind(size)
            .bind(ingest.sha256.clone())
            .bind(ingest.media_type.clone())
            .bind(ingest.rule.clone())
            .bind(to_json(&ingest.data_types, "data_types")?)
            .bind(ingest.status.as_str())
            .bind(ingest.message.clone())
            .bind(ingest.new_workspace.clone())
            .bind(ingest.new_path.clone())
            .bind(job.as_ref().map(|j| j.id.as_str().to_owned()))
            .bind(at)
            .fetch_optional(&mut *tx, "record an ingest")
            .await?;
        if row.is_none() {
            tx.rollback().await.map_err(|e| database("roll back", e))?;
            return Ok(None);
        }
        let inserted = match &job {
            Some(job) => insert_in::<B>(&mut tx, job, now).await?,
            None => None,
        };
        tx.commit().await.map_err(|e| database("commit", e))?;
        let job_id = inserted.as_ref().map(|j| j.id.as_str().to_owned());
        Ok(Some((
            Ingest {
                new: ingest,
                job_id,
                created: super::common::from_micros(at).unwrap_or(now),
                updated: super::common::from_micros(at).unwrap_or(now),
            },
            inserted,
        )))
    }

    async fn get_ingest(&self, id: &str) -> Result<Option<Ingest>, StoreError> {
        let row = sql::<B>(B::SQL.get_ingest)
            .bind(id.to_owned())
            .fetch_optional(self.backend.reader(), "read an ingest")
            .await?;
        row.as_ref().map(decode_ingest::<B>).transpose()
    }

    async fn list_ingests(&self, filter: &IngestFilter) -> Result<IngestPage, StoreError> {
        let statuses = if filter.statuses.is_empty() {
            None
        } else {
            Some(B::list(
                filter.statuses.iter().map(|s| s.as_str()).collect(),
                "statuses",
            )?)
        };
        let rows = sql::<B>(B::SQL.list_ingests)
            .bind(statuses)
            .bind(filter.source_kind.map(|k| k.as_str().to_owned()))
            .bind(filter.source_name.clone())
            .bind(filter.created_from.map(micros))
            .bind(filter.created_to.map(micros))
            .bind(i64::from(filter.limit) + 1)
            .bind(i64::from(filter.offset))
            .fetch_all(self.backend.reader(), "list ingests")
            .await?;
        let mut ingests = rows
            .iter()
            .map(decode_ingest::<B>)
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = ingests.len() > filter.limit as usize;
        ingests.truncate(filter.limit as usize);
        Ok(IngestPage { ingests, has_more })
    }

    async fn ingest_keys(
        &self,
        kind: SourceKind,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sql::<B>(B::SQL.ingest_keys)
            .bind(kind.as_str())
            .bind(name.to_owned())
            .fetch_all(self.backend.reader(), "read a strike's decided files")
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    column::<B, _>(row, "path")?,
                    column::<B, _>(row, "version")?,
                ))
            })
            .collect()
    }

    async fn ingest_with_sha256(
        &self,
        kind: SourceKind,
        name: &str,
        sha256: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sql::<B>(B::SQL.ingest_with_sha256)
            .bind(kind.as_str())
            .bind(name.to_owned())
            .bind(sha256.to_owned())
            .fetch_optional(self.backend.reader(), "look for the same content")
            .await?;
        row.as_ref()
            .map(|r| column::<B, String>(r, "id"))
            .transpose()
    }
}

fn optional_time<B: Backend>(
    row: &Row<B>,
    name: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    column::<B, Option<i64>>(row, name)?
        .map(|us| decode_time(us, name))
        .transpose()
}

fn decode_strike<B: Backend>(row: &Row<B>) -> Result<StoredStrike, StoreError> {
    Ok(StoredStrike {
        name: column::<B, _>(row, "name")?,
        definition: from_json(&column::<B, String>(row, "definition")?, "definition")?,
        running: column::<B, bool>(row, "running")?,
        created: decode_time(column::<B, _>(row, "created")?, "created")?,
        updated: decode_time(column::<B, _>(row, "updated")?, "updated")?,
        lease_owner: column::<B, _>(row, "lease_owner")?,
        lease_expires: optional_time::<B>(row, "lease_expires")?,
        cursor: column::<B, _>(row, "scan_cursor")?,
    })
}

fn decode_scan<B: Backend>(row: &Row<B>) -> Result<StoredScan, StoreError> {
    let last_run: Option<String> = column::<B, _>(row, "last_run")?;
    Ok(StoredScan {
        name: column::<B, _>(row, "name")?,
        definition: from_json(&column::<B, String>(row, "definition")?, "definition")?,
        created: decode_time(column::<B, _>(row, "created")?, "created")?,
        updated: decode_time(column::<B, _>(row, "updated")?, "updated")?,
        last_run: last_run
            .map(|text| from_json(&text, "last_run"))
            .transpose()?,
    })
}

fn decode_ingest<B: Backend>(row: &Row<B>) -> Result<Ingest, StoreError> {
    let status: String = column::<B, _>(row, "status")?;
    let size: i64 = column::<B, _>(row, "size")?;
    Ok(Ingest {
        new: NewIngest {
            id: column::<B, _>(row, "id")?,
            source_kind: SourceKind::parse(&column::<B, String>(row, "source_kind")?)?,
            source_name: column::<B, _>(row, "source_name")?,
            workspace: column::<B, _>(row, "workspace")?,
            path: column::<B, _>(row, "path")?,
            file_name: column::<B, _>(row, "file_name")?,
            version: column::<B, _>(row, "version")?,
            size: u64::try_from(size).map_err(|e| super::common::corrupt("size", e))?,
            sha256: column::<B, _>(row, "sha256")?,
            media_type: column::<B, _>(row, "media_type")?,
            rule: column::<B, _>(row, "rule")?,
            data_types: from_json(&column::<B, String>(row, "data_types")?, "data_types")?,
            status: IngestStatus::parse(&status)
                .ok_or_else(|| super::common::corrupt("status", &status))?,
            message: column::<B, _>(row, "message")?,
            new_workspace: column::<B, _>(row, "new_workspace")?,
            new_path: column::<B, _>(row, "new_path")?,
        },
        job_id: column::<B, _>(row, "job_id")?,
        created: decode_time(column::<B, _>(row, "created")?, "created")?,
        updated: decode_time(column::<B, _>(row, "updated")?, "updated")?,
    })
}

/// A failed insert of a named strike or scan: the name taken already (a unique key), or
/// the database's own failure.
fn taken_or_failed(error: sqlx::Error, what: &'static str, name: &str) -> IngestWriteError {
    if is_unique_violation(&error) {
        IngestWriteError::Duplicate(what, name.to_owned())
    } else {
        database(&format!("insert a {what}"), error).into()
    }
}
