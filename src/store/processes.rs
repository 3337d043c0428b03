//! Deployed processes (OGC API - Processes Part 2): what was deployed, kept verbatim so the
//! process can be rebuilt after a restart and its package served back. One row per process
//! id; replace overwrites it, undeploy deletes it (past jobs keep their own records).

use super::backend::{Backend, SqlStore};
use super::common::{database, decode_time, from_json, is_unique_violation, micros, to_json};
use super::sql::Statement;
use super::sql_store::{column, sql, Row};
use super::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// One deployed process as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedProcess {
    /// The process id (the Seed job name).
    pub id: String,
    /// Media type of the package as deployed (`application/ogcapppkg+json`, ...).
    pub package_media_type: String,
    /// The package exactly as deployed (served by `GET /processes/{id}/package`).
    pub package: Vec<u8>,
    /// The image reference as the package named it (`registry/repo:tag`).
    pub image: String,
    /// The reference jobs run: pinned to a digest (`registry/repo@sha256:...` or the local
    /// image id `sha256:...`).
    pub pinned_image: String,
    /// The validated Seed manifest (JSON) the process was built from.
    pub manifest: serde_json::Value,
    pub deployed: OffsetDateTime,
    /// Last replace (= `deployed` until the first one).
    pub updated: OffsetDateTime,
}

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum ProcessWriteError {
    /// `insert_process`: a process with this id is already deployed.
    #[error("process {0} is already deployed")]
    Duplicate(String),
    /// `replace_process` / `delete_process`: no process with this id is deployed.
    #[error("process {0} is not deployed")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait ProcessStore: Send + Sync + 'static {
    /// Stores a new process; committed on return. An existing id is
    /// [`ProcessWriteError::Duplicate`] (decided by the database's key, so two replicas
    /// deploying one id at once cannot both succeed).
    async fn insert_process(&self, process: &DeployedProcess) -> Result<(), ProcessWriteError>;

    /// Overwrites the stored process with this id (keeping its `deployed` time, setting
    /// everything else from `process`).
    async fn replace_process(&self, process: &DeployedProcess) -> Result<(), ProcessWriteError>;

    /// Removes the process.
    async fn delete_process(&self, id: &str) -> Result<(), ProcessWriteError>;

    async fn get_process(&self, id: &str) -> Result<Option<DeployedProcess>, StoreError>;

    /// Every deployed process, sorted by id.
    async fn list_processes(&self) -> Result<Vec<DeployedProcess>, StoreError>;
}

/// The one implementation, over any SQL backend. Every write is one statement on the
/// write pool (autocommit), so it is committed when the call returns.
#[async_trait]
impl<B: Backend> ProcessStore for SqlStore<B> {
    async fn insert_process(&self, process: &DeployedProcess) -> Result<(), ProcessWriteError> {
        let manifest = to_json(&process.manifest, "manifest")?;
        // No look-up first: the primary key alone decides, so of two deploys racing on one
        // id exactly one gets in.
        bind_process::<B>(sql::<B>(B::SQL.insert_process), process, manifest)
            .bind(micros(process.deployed))
            .bind(micros(process.updated))
            .try_execute(self.backend.writer())
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

    async fn replace_process(&self, process: &DeployedProcess) -> Result<(), ProcessWriteError> {
        let manifest = to_json(&process.manifest, "manifest")?;
        let done = bind_process::<B>(sql::<B>(B::SQL.replace_process), process, manifest)
            .bind(micros(process.updated))
            .execute(self.backend.writer(), "replace a process")
            .await?;
        if B::rows_affected(&done) == 0 {
            return Err(ProcessWriteError::NotFound(process.id.clone()));
        }
        Ok(())
    }

    async fn delete_process(&self, id: &str) -> Result<(), ProcessWriteError> {
        let done = sql::<B>(B::SQL.delete_process)
            .bind(id.to_owned())
            .execute(self.backend.writer(), "delete a process")
            .await?;
        if B::rows_affected(&done) == 0 {
            return Err(ProcessWriteError::NotFound(id.to_owned()));
        }
        Ok(())
    }

    async fn get_process(&self, id: &str) -> Result<Option<DeployedProcess>, StoreError> {
        let row = sql::<B>(B::SQL.get_process)
            .bind(id.to_owned())
            .fetch_optional(self.backend.reader(), "read a process")
            .await?;
        row.as_ref().map(decode_process::<B>).transpose()
    }

    async fn list_processes(&self) -> Result<Vec<DeployedProcess>, StoreError> {
        let rows = sql::<B>(B::SQL.list_processes)
            .fetch_all(self.backend.reader(), "list processes")
            .await?;
        rows.iter().map(decode_process::<B>).collect()
    }
}

/// Binds the columns insert and replace share, in their order: id, package media type,
/// package, image, pinned image, manifest.
fn bind_process<B: Backend>(
    statement: Statement<B::Db>,
    process: &DeployedProcess,
    manifest: String,
) -> Statement<B::Db> {
    statement
        .bind(process.id.clone())
        .bind(process.package_media_type.clone())
        .bind(process.package.clone())
        .bind(process.image.clone())
        .bind(process.pinned_image.clone())
        .bind(manifest)
}

fn decode_process<B: Backend>(row: &Row<B>) -> Result<DeployedProcess, StoreError> {
    Ok(DeployedProcess {
        id: column::<B, _>(row, "id")?,
        package_media_type: column::<B, _>(row, "package_media_type")?,
        package: column::<B, _>(row, "package")?,
        image: column::<B, _>(row, "image")?,
        pinned_image: column::<B, _>(row, "pinned_image")?,
        manifest: from_json(&column::<B, String>(row, "manifest")?, "manifest")?,
        deployed: decode_time(column::<B, _>(row, "deployed")?, "deployed")?,
        updated: decode_time(column::<B, _>(row, "updated")?, "updated")?,
    })
}
