//! The start-up sweep: containers an earlier ades process left behind (it crashed or was
//! killed while jobs ran) are killed and removed.
//!
//! Their jobs are still `running` in the store under a worker that no longer exists; their
//! leases expire and the reaper requeues them, so a restarted server re-runs interrupted
//! jobs from the start (each attempt starts with empty `inputs/` and `outputs/`).
//!
//! Not done yet: reattaching to a container that is still running. That would need the
//! output stream re-attached without losing what was written meanwhile, the Seed timeout
//! re-based on the container's start time, and the lease taken over from a worker id that
//! belonged to the earlier process; re-running is simpler and correct for Seed jobs, which
//! are defined by their inputs. Worth it only for long jobs; the container's labels
//! (run id `<job id>-<attempt>`, [`JOB_ID_LABEL`]) carry what reattaching would need.

use super::executor::JOB_ID_LABEL;
use crate::domain::JobId;
use crate::error::cause_chain;
use crate::jobs::JobService;
use crate::runner::docker::{is_unreachable, unreachable_hint};
use crate::runner::RUN_ID_LABEL;
use crate::store::StoreError;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use bollard::Docker;
use std::collections::HashMap;

/// What the sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Names (or ids) of the containers removed.
    pub removed: Vec<String>,
    /// Labelled containers left alone: their job is unknown to this server's store (another
    /// ades with its own database shares the engine) or runs in this process.
    pub kept: usize,
}

/// Why the sweep could not finish (the server starts anyway; orphans stay until the next
/// start).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The engine did not answer; the message says what to check.
    #[error("the container engine cannot be reached: {0}")]
    EngineUnavailable(String),
    /// The engine answered with an error.
    #[error("container engine error: {0}")]
    Engine(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn engine_error(err: DockerError) -> SweepError {
    if is_unreachable(&err) {
        SweepError::EngineUnavailable(format!("{} ({})", cause_chain(&err), unreachable_hint()))
    } else {
        SweepError::Engine(err.to_string())
    }
}

/// Kills and removes the containers of served jobs (labelled [`RUN_ID_LABEL`] and
/// [`JOB_ID_LABEL`]) that no worker of this process runs.
///
/// Returns how many it removed.
///
/// Call it at start-up, before [`super::WorkerPool::start`]: nothing runs in this process
/// yet then, so every such container of a job known to the store is an orphan (the job
/// service does not tell which jobs run in this process; [`sweep_containers`] takes that
/// as a predicate). Containers of `ades run` (no job id label) and of jobs this store does
/// not know are never touched.
pub async fn sweep_orphaned_containers(
    docker: &Docker,
    jobs: &JobService,
) -> Result<usize, SweepError> {
    Ok(sweep_containers(docker, jobs, |_| false)
        .await?
        .removed
        .len())
}

/// The sweep, with `runs_here` telling which jobs run in this process (kept).
pub async fn sweep_containers(
    docker: &Docker,
    jobs: &JobService,
    runs_here: impl Fn(&JobId) -> bool,
) -> Result<SweepReport, SweepError> {
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![RUN_ID_LABEL.to_string(), JOB_ID_LABEL.to_string()],
    );
    let options = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let containers = docker
        .list_containers(Some(options))
        .await
        .map_err(engine_error)?;

    let mut report = SweepReport::default();
    for container in containers {
        let Some(container_id) = container.id.clone() else {
            continue;
        };
        let name = container
            .names
            .as_ref()
            .and_then(|names| names.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| container_id.clone());
        let job_id = container
            .labels
            .as_ref()
            .and_then(|labels| labels.get(JOB_ID_LABEL))
            .and_then(|text| JobId::parse(text).ok());
        let Some(job_id) = job_id else {
            report.kept += 1;
            continue;
        };
        if runs_here(&job_id) || jobs.store().get_job(&job_id).await?.is_none() {
            report.kept += 1;
            continue;
        }
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&container_id, Some(options)).await {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => {
                tracing::warn!(
                    container = %name,
                    job_id = %job_id,
                    "removed a container left by an earlier run of the server; its job runs again once its lease expires"
                );
                report.removed.push(name);
            }
            Err(err) => return Err(engine_error(err)),
        }
    }
    Ok(report)
}
