//! The start-up sweep: containers of finished jobs that an earlier ades process left behind
//! (it crashed or was killed between recording a job's end and removing its container, or
//! the job was dismissed meanwhile) are removed.
//!
//! Containers of jobs that are still `accepted` or `running` are left alone: the job's
//! lease expires, the reaper requeues it, and the next attempt takes the container over
//! (`Executor::take_over`: followed to its end, never started twice). Several replicas
//! may share one engine, so a container may also belong to a job another replica runs.

use super::executor::JOB_ID_LABEL;
use crate::domain::JobId;
use crate::engine::{ContainerRunner, RunnerError, RUN_ID_LABEL};
use crate::jobs::JobService;
use crate::store::StoreError;

/// What the sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Names (or ids) of the containers removed.
    pub removed: Vec<String>,
    /// Labelled containers left alone: their job is unknown to this server's store (another
    /// ades with its own database shares the engine), not ended yet (a later attempt takes
    /// the container over), or runs in this process.
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

fn engine_error(err: RunnerError) -> SweepError {
    match err {
        RunnerError::EngineUnavailable(message) => SweepError::EngineUnavailable(message),
        other => SweepError::Engine(other.to_string()),
    }
}

/// Removes the containers of served jobs (labelled [`RUN_ID_LABEL`] and [`JOB_ID_LABEL`])
/// whose job has ended (successful, failed or dismissed) and that no worker of this process
/// runs.
///
/// Returns how many it removed.
///
/// Call it at start-up, before [`super::WorkerPool::start`]. Containers of `ades run` (no
/// job id label), of jobs this store does not know, and of jobs not yet ended are never
/// touched.
pub async fn sweep_orphaned_containers(
    engine: &dyn ContainerRunner,
    jobs: &JobService,
) -> Result<usize, SweepError> {
    Ok(sweep_containers(engine, jobs, |_| false)
        .await?
        .removed
        .len())
}

/// The sweep, with `runs_here` telling which jobs run in this process (kept).
pub async fn sweep_containers(
    engine: &dyn ContainerRunner,
    jobs: &JobService,
    runs_here: impl Fn(&JobId) -> bool,
) -> Result<SweepReport, SweepError> {
    let containers = engine
        .list_containers(&[RUN_ID_LABEL, JOB_ID_LABEL])
        .await
        .map_err(engine_error)?;

    let mut report = SweepReport::default();
    for container in containers {
        let job_id = container
            .labels
            .get(JOB_ID_LABEL)
            .and_then(|text| JobId::parse(text).ok());
        let Some(job_id) = job_id else {
            report.kept += 1;
            continue;
        };
        let ended = match jobs.store().get_job(&job_id).await? {
            Some(job) => job.status.is_final(),
            None => false,
        };
        if runs_here(&job_id) || !ended {
            report.kept += 1;
            continue;
        }
        // Gone already, or being removed, counts as removed.
        engine.remove(&container.name).await.map_err(engine_error)?;
        tracing::info!(
            container = %container.name,
            job_id = %job_id,
            "removed the container of an ended job left by an earlier run of the server"
        );
        report.removed.push(container.name);
    }
    Ok(report)
}
