//! Deployed processes (OGC API - Processes Part 2): what was deployed, kept verbatim so the
//! process can be rebuilt after a restart and its package served back. One row per process
//! id; replace overwrites it, undeploy deletes it (past jobs keep their own records).

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
