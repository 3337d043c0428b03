//! Where a job's files live. Every job runs in a local directory, `<root>/<job id>/`:
//! `inputs/` (staged input files), `outputs/` (the job's `OUTPUT_DIR`) and `log.txt` (the
//! container's output), because the engine mounts local paths into the container.
//! [`JobWorkspace`] is what varies around that directory: how inputs are staged into it,
//! how a finished run's outputs are published, and how they are listed and opened for
//! serving. [`local::LocalWorkspace`] is the local directory itself (outputs are served
//! where the job wrote them); an object-store workspace would publish by copying
//! `outputs/` out and serve from the store. Staging inputs (inline, base64, http(s)
//! references) is in `staging.rs`.

pub mod local;
pub mod staging;

pub use local::{open_inside, remove_symlinks, LocalWorkspace};

use crate::domain::{ExecuteRequest, JobId, Process};
use async_trait::async_trait;
use seed::contract::Invocation;
use staging::{StagingError, StagingLimits};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The job directories' parent under the data directory, unless `workspace.root` says
/// otherwise.
pub const DEFAULT_DIR: &str = "jobs";

/// A job workspace: the local job directories (their layout is the same for every
/// workspace: the provided methods) and what is done with their files.
#[async_trait]
pub trait JobWorkspace: Send + Sync + std::fmt::Debug {
    /// The local directory holding the job directories.
    fn root(&self) -> &Path;

    fn job_dir(&self, id: &JobId) -> PathBuf {
        self.root().join(id.as_str())
    }

    fn inputs_dir(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("inputs")
    }

    fn outputs_dir(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("outputs")
    }

    fn log_file(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("log.txt")
    }

    /// Whether this process sees the job's directory at all. A replica that does not share
    /// the workspace of the one that ran the job does not.
    fn has_job_dir(&self, id: &JobId) -> bool {
        self.job_dir(id).is_dir()
    }

    /// What to tell a client asking this process for the files of a job it cannot see.
    fn unreachable_message(&self, id: &JobId) -> String;

    /// Empties the job's `inputs/` and `outputs/` and stages the file inputs of `request`
    /// under `inputs/` (references fetched with `client`); returns the Seed invocation's
    /// `files` and `json` parts.
    async fn stage_inputs(
        &self,
        id: &JobId,
        process: &Process,
        request: &ExecuteRequest,
        client: &reqwest::Client,
        limits: &StagingLimits,
    ) -> Result<Invocation, StagingError>;

    /// Makes what a finished run left in `outputs/` available to
    /// [`JobWorkspace::open_output`] and [`JobWorkspace::list_outputs`], before its end is
    /// recorded. The error says what could not be published.
    async fn publish_outputs(&self, id: &JobId) -> Result<(), String>;

    /// Opens the published file at `relative` (a path the job's results name) for reading,
    /// if it is a regular file inside the job's outputs reached without following any
    /// symbolic link; `None` for anything else (`..`, absolute paths, links at any depth,
    /// directories, missing files). This is the one way ades serves a job's file, so a URL
    /// can never reach outside the job's outputs, whatever the job left there.
    fn open_output(&self, id: &JobId, relative: &str) -> Option<std::fs::File>;

    /// The published output files of a job (paths relative to its outputs, `/`-separated,
    /// sorted; what [`JobWorkspace::open_output`] opens), links left out.
    fn list_outputs(&self, id: &JobId) -> Vec<String>;
}

/// The job workspace the workers, the job service and the façades share: cheap to clone,
/// and used as the [`JobWorkspace`] it points to.
#[derive(Debug, Clone)]
pub struct Workspace(Arc<dyn JobWorkspace>);

impl Workspace {
    /// The local workspace under `data_dir/jobs` (created on demand).
    pub fn new(data_dir: &Path) -> Self {
        Workspace::at(data_dir.join(DEFAULT_DIR))
    }

    /// The local workspace with job directories directly under `root` (created on
    /// demand): the configured `workspace.root`, which replicas sharing a database share.
    pub fn at(root: PathBuf) -> Self {
        Workspace::of(LocalWorkspace::new(root))
    }

    /// Any workspace.
    pub fn of(workspace: impl JobWorkspace + 'static) -> Self {
        Workspace(Arc::new(workspace))
    }
}

impl std::ops::Deref for Workspace {
    type Target = dyn JobWorkspace;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}
