//! Running one Seed job end to end on a [`ContainerRunner`]: check the invocation against the
//! manifest, turn the launch plan into a container, run it, map its exit to the manifest's
//! errors and capture its outputs. The CLI's `ades run` uses this; so will the job workers.

use crate::runner::{
    BindMount, ContainerExit, ContainerRunner, ContainerSpec, Limits, LogSink, RunnerError,
};
use seed::contract::{plan_launch, Allocation, Invocation, LaunchPlan, Layout, Policy};
use seed::errors::{builtin_failure, failure_for_exit_code, BuiltinError, JobFailure};
use seed::outputs::{capture_outputs, CapturedOutputs};
use seed::{Manifest, Problem};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MIB: f64 = 1024.0 * 1024.0;

/// Docker refuses memory limits under 6 MiB; a smaller `mem` is raised to this, and
/// `ALLOCATED_MEM` still reports what the manifest asked for (the job gets at least that).
const DOCKER_MIN_MEMORY_MIB: f64 = 6.0;

/// One Seed job to run.
#[derive(Debug, Clone)]
pub struct SeedJob {
    /// Image reference to start.
    pub image: String,
    /// The manifest read from that image's label.
    pub manifest: Manifest,
    pub invocation: Invocation,
    /// Host directory that becomes `OUTPUT_DIR`; must exist and be empty.
    pub output_dir: PathBuf,
    /// Names the container and labels it, so it can be found after a crash.
    pub run_id: String,
    pub policy: Policy,
    /// `uid[:gid]` the container runs as; `None` keeps the image's user.
    pub user: Option<String>,
    /// Docker network to attach; `None` runs without network.
    pub network: Option<String>,
    /// Leave the exited container for the caller to remove (see
    /// [`ContainerSpec::keep_after_exit`]).
    pub keep_container: bool,
}

/// How the job went.
#[derive(Debug, Clone)]
pub struct SeedJobReport {
    pub exit: ContainerExit,
    /// Empty when the job succeeded. The first entry is the main cause (the declared error
    /// for a non-zero exit, the timeout, or the first output problem).
    pub failures: Vec<JobFailure>,
    pub outputs: CapturedOutputs,
    pub allocation: Allocation,
    /// Non-fatal findings (e.g. outputs larger than the declared disk).
    pub warnings: Vec<String>,
    pub duration: Duration,
}

impl SeedJobReport {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The invocation does not fit the manifest; nothing was started.
    #[error("the job cannot start: {}", problems_sentence(.0))]
    Invocation(Vec<Problem>),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

fn problems_sentence(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks the invocation and computes what the container gets, without starting anything.
pub fn plan_job(job: &SeedJob) -> Result<LaunchPlan, ExecutionError> {
    let layout = Layout::new(job.output_dir.clone());
    plan_launch(&job.manifest, &job.invocation, &layout, &job.policy)
        .map_err(ExecutionError::Invocation)
}

/// Builds the container for a planned job.
pub fn container_spec(job: &SeedJob, plan: &LaunchPlan) -> ContainerSpec {
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.ades.seed.job".to_string(),
        job.manifest.job.name.clone(),
    );
    labels.insert(
        "org.ades.seed.job-version".to_string(),
        job.manifest.job.job_version.clone(),
    );
    ContainerSpec {
        image: job.image.clone(),
        args: plan.args.clone(),
        env: plan
            .env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect(),
        binds: plan
            .binds
            .iter()
            .map(|b| BindMount {
                host: b.host.clone(),
                container: b.container.clone(),
                read_only: b.read_only,
            })
            .collect(),
        limits: limits_for(&plan.allocation),
        labels,
        run_id: job.run_id.clone(),
        timeout: Duration::from_secs(job.manifest.job.timeout),
        user: job.user.clone(),
        network: job.network.clone(),
        keep_after_exit: job.keep_container,
    }
}

/// Engine limits for an allocation: `cpus` as CPU quota, `mem` as memory (and swap) limit,
/// `sharedMem` as `/dev/shm` size, `gpus` as a device request. `disk` has no engine limit on
/// overlay storage; it is checked after the run (see [`run_seed_job`]).
pub fn limits_for(allocation: &Allocation) -> Limits {
    Limits {
        nano_cpus: allocation.cpus.map(|c| (c * 1e9).round() as i64),
        memory_bytes: allocation
            .mem_mib
            .map(|m| (m.max(DOCKER_MIN_MEMORY_MIB).ceil() * MIB) as i64),
        shm_bytes: allocation
            .shared_mem_mib
            .filter(|m| *m > 0.0)
            .map(|m| (m.ceil() * MIB) as i64),
        gpus: allocation.gpus.filter(|g| *g > 0),
    }
}

/// Runs the job to its end and reports how it went. Returns an error only when the job could
/// not be run at all (bad invocation, engine problems); a job that ran and failed is an `Ok`
/// report with failures.
pub async fn run_seed_job(
    runner: &dyn ContainerRunner,
    job: &SeedJob,
    cancel: CancellationToken,
    logs: &mut dyn LogSink,
) -> Result<SeedJobReport, ExecutionError> {
    let plan = plan_job(job)?;
    let spec = container_spec(job, &plan);
    let started = Instant::now();
    let exit = runner.run(&spec, cancel, logs).await?;
    Ok(judge_run(job, plan.allocation, exit, started.elapsed()))
}

/// What a container's end means for the job: its outputs captured and checked (after a
/// clean exit), or the failure its exit stands for; plus warnings (disk use over the
/// declared `disk`, symbolic links removed from the outputs). Used after [`run_seed_job`]'s run and after taking over a container
/// an earlier attempt started.
pub fn judge_run(
    job: &SeedJob,
    allocation: Allocation,
    exit: ContainerExit,
    duration: Duration,
) -> SeedJobReport {
    // Outputs are captured whatever the exit, so a failed job still shows what it left; only
    // a clean exit is judged by them (as seed-cli and Scale do).
    let capture = capture_outputs(&job.manifest, &job.output_dir);
    let mut failures = Vec::new();
    match &exit {
        ContainerExit::Exited(0) => failures.extend(capture.failures),
        ContainerExit::Exited(code) => {
            failures.extend(failure_for_exit_code(&job.manifest, *code));
        }
        ContainerExit::TimedOut => failures.push(builtin_failure(
            BuiltinError::Timeout,
            format!(
                "the container ran longer than the manifest's timeout of {} s and was killed",
                job.manifest.job.timeout
            ),
        )),
        ContainerExit::OutOfMemory => {
            let limit = allocation
                .mem_mib
                .map(|m| format!(" of {m} MiB"))
                .unwrap_or_default();
            let mut failure = builtin_failure(
                BuiltinError::OutOfMemory,
                format!(
                    "The engine killed it at its memory limit{limit}: raise the manifest's mem \
                     resource, or make the algorithm use less."
                ),
            );
            failure.exit_code = Some(137);
            failures.push(failure);
        }
        ContainerExit::Cancelled => failures.push(builtin_failure(
            BuiltinError::Cancelled,
            "the run was cancelled and its container killed",
        )),
    }

    let mut warnings: Vec<String> = crate::workspace::remove_symlinks(&job.output_dir)
        .into_iter()
        .map(|link| {
            format!(
                "removed the symbolic link {link} from the outputs: links are never published \
                 (write the file itself into OUTPUT_DIR)"
            )
        })
        .collect();
    if let Some(disk) = allocation.disk_mib {
        let used = directory_size(&job.output_dir) as f64 / MIB;
        if used > disk {
            warnings.push(format!(
                "the outputs take {used:.1} MiB, more than the {disk:.1} MiB of disk the manifest declares"
            ));
        }
    }

    SeedJobReport {
        exit,
        failures,
        outputs: capture.outputs,
        allocation,
        warnings,
        duration,
    }
}

/// Total size of the regular files under `dir` (symlinks not followed).
fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => directory_size(&entry.path()),
            Ok(t) if t.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runner whose container always ends the same way (the real one is tested against
    /// the engine in tests/it/runner.rs; this checks the mapping of each ending).
    struct Ends(ContainerExit);

    #[async_trait::async_trait]
    impl ContainerRunner for Ends {
        async fn run(
            &self,
            _: &ContainerSpec,
            _: CancellationToken,
            _: &mut dyn LogSink,
        ) -> Result<ContainerExit, RunnerError> {
            Ok(self.0.clone())
        }
    }

    struct NoLogs;

    impl LogSink for NoLogs {
        fn stdout(&mut self, _: &[u8]) {}
        fn stderr(&mut self, _: &[u8]) {}
    }

    #[tokio::test]
    async fn a_container_killed_for_memory_fails_out_of_memory() {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "seedVersion": "1.0.0",
            "job": {"name": "hungry", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": "t", "description": "d", "timeout": 10,
                "maintainer": {"name": "n", "email": "e"},
                "resources": {"scalar": [{"name": "mem", "value": 16}]}}
        }))
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let job = SeedJob {
            image: "hungry-1.0.0-seed:1.0.0".into(),
            manifest,
            invocation: Invocation::default(),
            output_dir: out.path().to_path_buf(),
            run_id: "r".into(),
            policy: Policy::default(),
            user: None,
            network: None,
            keep_container: false,
        };
        let report = run_seed_job(
            &Ends(ContainerExit::OutOfMemory),
            &job,
            CancellationToken::new(),
            &mut NoLogs,
        )
        .await
        .unwrap();
        let failure = &report.failures[0];
        assert_eq!(failure.name, "out-of-memory");
        assert_eq!(failure.exit_code, Some(137));
        assert!(
            failure.description.contains("16 MiB"),
            "{}",
            failure.description
        );
    }

    #[test]
    fn limits_follow_the_allocation() {
        let allocation = Allocation {
            cpus: Some(0.5),
            mem_mib: Some(1024.0),
            shared_mem_mib: Some(64.0),
            disk_mib: Some(10.0),
            gpus: Some(2),
            all: vec![],
        };
        let limits = limits_for(&allocation);
        assert_eq!(limits.nano_cpus, Some(500_000_000));
        assert_eq!(limits.memory_bytes, Some(1024 * 1024 * 1024));
        assert_eq!(limits.shm_bytes, Some(64 * 1024 * 1024));
        assert_eq!(limits.gpus, Some(2));
    }

    #[test]
    fn tiny_memory_is_raised_to_the_engine_minimum() {
        let allocation = Allocation {
            mem_mib: Some(1.0),
            ..Allocation::default()
        };
        assert_eq!(limits_for(&allocation).memory_bytes, Some(6 * 1024 * 1024));
    }

    #[test]
    fn zero_shared_memory_and_gpus_leave_engine_defaults() {
        let allocation = Allocation {
            shared_mem_mib: Some(0.0),
            gpus: Some(0),
            ..Allocation::default()
        };
        let limits = limits_for(&allocation);
        assert_eq!(limits.shm_bytes, None);
        assert_eq!(limits.gpus, None);
    }
}
