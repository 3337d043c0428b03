//! The engine room: what ades needs from a container engine, in terms of no engine in
//! particular. [`ContainerRunner`] runs containers to completion, finds, takes over and
//! removes the ones an earlier process left, and tells the engine's facts (version, CPUs,
//! memory, whether it answers); [`ImageStore`] reads, lists, builds, tags, pushes, untags
//! and pulls images. [`Engine`] is one engine's pair, as start-up hands it to the rooms.
//!
//! The Docker Engine is one implementation ([`docker::DockerEngine`], the only code that
//! knows the Docker API). Another engine (Kubernetes) implements the same traits in a room
//! of its own beside `docker/`, and [`connect_engine`] is where it is chosen.

pub mod docker;
mod images;

pub use images::{BuildRequest, ImageError, ImageStore, SeedImage};

use crate::registry::RegistryCredentials;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Label put on every container ades starts, holding the run id, so a restarted process can
/// find, reattach to or remove what an earlier one left behind.
pub const RUN_ID_LABEL: &str = "org.ades.run-id";

/// One container to run to completion.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// Image reference (name:tag or id).
    pub image: String,
    /// Arguments after the image's ENTRYPOINT; `None` keeps the image's CMD.
    pub args: Option<Vec<String>>,
    /// Directory the process starts in; `None` keeps the image's.
    pub working_dir: Option<String>,
    pub env: Vec<(String, String)>,
    pub binds: Vec<BindMount>,
    pub limits: Limits,
    /// What the container is kept from doing besides its resource limits.
    pub confinement: Confinement,
    /// Labels to put on the container (ades adds [`RUN_ID_LABEL`]).
    pub labels: BTreeMap<String, String>,
    /// Identifies this run; becomes the [`RUN_ID_LABEL`] value and part of the container name.
    pub run_id: String,
    /// Hard limit measured from container start; the container is killed when it passes.
    pub timeout: Duration,
    /// `user[:group]` to run as; `None` keeps the image's user.
    pub user: Option<String>,
    /// Docker network to attach; `None` means no network at all.
    pub network: Option<String>,
    /// Leave the container in place once it exited by itself (exit, timeout, memory): its
    /// owner removes it with [`ContainerRunner::remove`] after recording the result, so a
    /// crash in between leaves it for the next attempt to take over instead of running the
    /// job again. Cancelled runs and errors are removed whatever this says.
    pub keep_after_exit: bool,
}

/// A container found by its labels ([`ContainerRunner::find_containers`],
/// [`ContainerRunner::list_containers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundContainer {
    /// Its name (or id when it has none): what [`ContainerRunner::remove`] takes.
    pub name: String,
    /// Its [`RUN_ID_LABEL`] value.
    pub run_id: Option<String>,
    pub state: FoundState,
    /// All its labels.
    pub labels: BTreeMap<String, String>,
}

/// What an engine says of itself ([`ContainerRunner::facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineFacts {
    /// The engine's own version (`27.3.1`), as it reports it.
    pub version: Option<String>,
    /// CPUs the engine's host offers its containers.
    pub cpus: Option<u64>,
    /// Memory the engine's host offers its containers, bytes.
    pub memory_bytes: Option<u64>,
}

/// Where a found container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundState {
    /// Created, never started: it has not run anything yet.
    Created,
    /// Its process runs (or is paused or restarting).
    Running,
    /// It ran and stopped; its exit code and output are still there.
    Exited,
    /// Being removed, or dead: nothing to take over.
    Gone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub host: PathBuf,
    pub container: String,
    pub read_only: bool,
}

/// Resource limits; `None` leaves the engine's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub nano_cpus: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub shm_bytes: Option<i64>,
    /// Number of GPUs to request from the engine's GPU driver.
    pub gpus: Option<u32>,
}

/// How a container is confined besides [`Limits`]. Whatever this says, every container also
/// gets `no-new-privileges`, no capabilities, the engine's default seccomp profile, never
/// `privileged`, and no network unless [`ContainerSpec::network`] names one.
#[derive(Debug, Clone, PartialEq)]
pub struct Confinement {
    /// Mount the image's filesystem read-only: the job writes only to its `OUTPUT_DIR`, its
    /// read-write mounts and `/tmp`.
    pub read_only_root: bool,
    /// Size of the tmpfs mounted at `/tmp`, bytes; `None` mounts none (the image's own `/tmp`,
    /// if any, stays).
    pub tmp_bytes: Option<i64>,
    /// Allow running programs from the `/tmp` tmpfs (mounted `noexec` otherwise).
    pub tmp_exec: bool,
    /// Most processes (threads included) the container may have at once.
    pub pids_limit: i64,
    /// Open files per process (`RLIMIT_NOFILE`, soft and hard); `None` keeps the engine's.
    pub nofile: Option<i64>,
}

/// The hardened defaults: see [`DEFAULT_PIDS_LIMIT`], [`DEFAULT_TMP_BYTES`] and
/// [`DEFAULT_NOFILE`].
impl Default for Confinement {
    fn default() -> Self {
        Confinement {
            read_only_root: true,
            tmp_bytes: Some(DEFAULT_TMP_BYTES),
            tmp_exec: false,
            pids_limit: DEFAULT_PIDS_LIMIT,
            nofile: Some(DEFAULT_NOFILE),
        }
    }
}

/// Maximum number of processes (threads included) a container may have by default. Stops a
/// fork bomb from taking the host down while leaving room for heavily threaded scientific
/// code (a 2-core host rarely runs more than a few hundred threads per job). Counted by the
/// container's cgroup, so jobs never share it (unlike `RLIMIT_NPROC`, which counts every
/// process of the uid on the host and is therefore not set).
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;

/// Default size of the `/tmp` tmpfs: 64 MiB (it counts against the memory limit).
pub const DEFAULT_TMP_BYTES: i64 = 64 * 1024 * 1024;

/// Default open-file limit per process: enough for programs that keep many tiles or
/// chunks open, far below the engine's usual 1048576.
pub const DEFAULT_NOFILE: i64 = 4096;

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerExit {
    /// The process exited with this code.
    Exited(i64),
    /// It outlived [`ContainerSpec::timeout`] and was killed.
    TimedOut,
    /// The cancellation token fired and it was killed.
    Cancelled,
    /// The engine killed it for using more memory than its limit (exit code 137).
    OutOfMemory,
}

/// What the engine reports of one container's run once it has ended
/// ([`LogSink::ended`]): the image it really ran and the resources it used. Every field is
/// what the engine said; `None` (or empty) where it said nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFacts {
    /// The engine's id of the image the container ran (`sha256:...`).
    pub image_id: Option<String>,
    /// The image's repository digests (`name@sha256:...`), when it came from a registry.
    pub repo_digests: Vec<String>,
    /// The image's labels (the Seed manifest label among them).
    pub image_labels: BTreeMap<String, String>,
    pub usage: ResourceUsage,
}

/// The resources a container used, sampled from the engine's statistics while it ran.
///
/// Sampled, not measured at the end: the Docker engine reports nothing for a container
/// that has stopped (its cgroup is gone), and on cgroup v2 it reports no peak memory at
/// all, only the current use. So the runner keeps the highest memory use it saw (cgroup
/// v1's own peak when the engine gives it) and the last cumulative CPU time. A container
/// that ends before the engine's first sample (about a second) has neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    /// Highest memory use seen, bytes.
    pub peak_memory_bytes: Option<u64>,
    /// CPU time (user and system, all CPUs) as of the last sample, nanoseconds.
    pub cpu_time_ns: Option<u64>,
    /// How many samples the engine gave.
    pub samples: u32,
}

impl ResourceUsage {
    /// Takes in one sample: `memory` the current use, `memory_peak` the engine's own peak
    /// (cgroup v1), `cpu_ns` the cumulative CPU time. A sample with none of them (the
    /// engine's answer once the container stopped) counts for nothing.
    pub fn add_sample(
        &mut self,
        memory: Option<u64>,
        memory_peak: Option<u64>,
        cpu_ns: Option<u64>,
    ) {
        let seen = [memory, memory_peak]
            .into_iter()
            .flatten()
            .filter(|m| *m > 0)
            .max();
        let cpu_ns = cpu_ns.filter(|c| *c > 0);
        if seen.is_none() && cpu_ns.is_none() {
            return;
        }
        self.samples += 1;
        if let Some(seen) = seen {
            self.peak_memory_bytes = Some(self.peak_memory_bytes.unwrap_or(0).max(seen));
        }
        if let Some(cpu) = cpu_ns {
            // Cumulative: the latest is the largest (a counter never goes back).
            self.cpu_time_ns = Some(self.cpu_time_ns.unwrap_or(0).max(cpu));
        }
    }
}

/// Where container output goes while it runs (and what the engine reports of the run once
/// it has ended).
pub trait LogSink: Send {
    fn stdout(&mut self, chunk: &[u8]);
    fn stderr(&mut self, chunk: &[u8]);
    /// A short human message on what the runner is doing before the container runs
    /// ("pulling image X: 3 of 5 layers done"). Runners throttle these (a few a second at
    /// most), so a sink may show each one. Ignored unless a sink cares.
    fn status(&mut self, _message: &str) {}
    /// A step of the run as it happens ([`Milestone`]), so that the caller can time the
    /// steps in no engine's terms (the metrics). Ignored unless a sink cares.
    fn milestone(&mut self, _milestone: Milestone) {}
    /// Once the container has ended by itself (not when cancelled or on an engine error),
    /// what the engine reports of the run (the job's provenance record keeps it). Runners
    /// that know nothing never call it.
    fn ended(&mut self, _facts: &RunFacts) {}
}

/// The steps a runner reports to its [`LogSink`] during [`ContainerRunner::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// The image is absent from the engine: the runner begins to pull it (not reported
    /// when another run's pull of the same image brought it meanwhile).
    PullStarted,
    /// The pull that began ended: the image is there (`pulled`) or it failed. A pull
    /// cancelled with its run reports no end.
    PullEnded { pulled: bool },
    /// The engine started the container: it is running.
    ContainerRunning,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the container engine cannot be reached: {0}")]
    EngineUnavailable(String),
    #[error("image {0} is not present in the container engine")]
    ImageNotFound(String),
    /// The image was absent and pulling it failed. The message names the image, the
    /// registry's reason and what to do about it.
    #[error("{0}")]
    PullFailed(String),
    #[error("the container engine refused the container: {0}")]
    Rejected(String),
    #[error("container engine error: {0}")]
    Engine(String),
}

/// Runs containers to completion. Implementations must remove the container whatever
/// happens (exit, timeout, cancellation, error) and must stop it within a bounded time once
/// `cancel` fires.
///
/// Runners that can find, take over and remove containers an earlier process started
/// implement the methods after `run`; the defaults find nothing and know no facts.
#[async_trait]
pub trait ContainerRunner: Send + Sync {
    async fn run(
        &self,
        spec: &ContainerSpec,
        cancel: CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError>;

    /// The containers carrying `label = value`, stopped ones included.
    async fn find_containers(
        &self,
        _label: &str,
        _value: &str,
    ) -> Result<Vec<FoundContainer>, RunnerError> {
        Ok(Vec::new())
    }

    /// The containers carrying a label for each of `keys` (whatever its value), stopped
    /// ones included.
    async fn list_containers(&self, _keys: &[&str]) -> Result<Vec<FoundContainer>, RunnerError> {
        Ok(Vec::new())
    }

    /// Follows a container another run started (running or exited) to its end, as
    /// [`ContainerRunner::run`] does: its output from the start goes to `logs`, it is killed
    /// once `timeout` has passed since it started or when `cancel` fires. Left in place when
    /// it exits by itself (like `keep_after_exit`), removed when cancelled.
    async fn reattach(
        &self,
        container: &FoundContainer,
        _timeout: Duration,
        _cancel: CancellationToken,
        _logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        Err(RunnerError::Engine(format!(
            "this runner cannot take over container {}",
            container.name
        )))
    }

    /// Force-removes a container (gone already, or being removed, is fine).
    async fn remove(&self, _name: &str) -> Result<(), RunnerError> {
        Ok(())
    }

    /// Force-removes the container [`ContainerRunner::run`] made for `run_id` (the spec's
    /// [`ContainerSpec::run_id`]) without looking for it first (gone already is fine).
    async fn remove_run(&self, _run_id: &str) -> Result<(), RunnerError> {
        Ok(())
    }

    /// What the engine says of itself; an error when it cannot be asked (the reachability
    /// check).
    async fn facts(&self) -> Result<EngineFacts, RunnerError> {
        Err(RunnerError::Engine(
            "this runner reports no engine facts".to_string(),
        ))
    }
}

/// One engine as the rooms use it: its containers (the workers, the start-up sweep, the
/// capacity) and its images (the catalogue, deploy, the command line). Both usually point
/// to one connection.
#[derive(Clone)]
pub struct Engine {
    pub containers: Arc<dyn ContainerRunner>,
    pub images: Arc<dyn ImageStore>,
}

impl Engine {
    /// Both halves from one implementation.
    pub fn of<E: ContainerRunner + ImageStore + 'static>(engine: E) -> Engine {
        let engine = Arc::new(engine);
        Engine {
            containers: engine.clone(),
            images: engine,
        }
    }
}

/// Connects to the engine ades runs on and checks that it answers: today the Docker
/// engine named by `DOCKER_HOST`, else the local socket. Absent images are pulled with
/// `credentials` (one entry per registry). The error says where it looked and what to do.
pub async fn connect_engine(credentials: Vec<RegistryCredentials>) -> Result<Engine, ImageError> {
    let docker = docker::DockerEngine::connect().await?;
    Ok(Engine::of(docker.with_registry_credentials(credentials)))
}

/// [`connect_engine`] without the check: a client that connects at its first request, so
/// a server whose engine is down at start-up still starts (jobs then fail cleanly, engine
/// unavailable, until it is back).
pub fn unchecked_engine(credentials: Vec<RegistryCredentials>) -> Result<Engine, ImageError> {
    let docker = docker::DockerEngine::connect_unchecked()?;
    Ok(Engine::of(docker.with_registry_credentials(credentials)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_keeps_the_highest_memory_and_the_latest_cpu_time() {
        let mut usage = ResourceUsage::default();
        // The engine's answer for a container that stopped: counts for nothing.
        usage.add_sample(Some(0), None, Some(0));
        usage.add_sample(None, None, None);
        assert_eq!(usage, ResourceUsage::default());
        // cgroup v2: only the current use; the peak is the highest seen.
        usage.add_sample(Some(300), None, Some(10));
        usage.add_sample(Some(100), None, Some(25));
        assert_eq!(
            usage,
            ResourceUsage {
                peak_memory_bytes: Some(300),
                cpu_time_ns: Some(25),
                samples: 2
            }
        );
        // cgroup v1: the engine's own peak wins over the current use.
        usage.add_sample(Some(200), Some(900), Some(30));
        assert_eq!(usage.peak_memory_bytes, Some(900));
        assert_eq!(usage.cpu_time_ns, Some(30));
        assert_eq!(usage.samples, 3);
    }
}
