//! Running one Seed job end to end on a [`ContainerRunner`]: check the invocation against the
//! manifest, turn the launch plan into a container, run it, map its exit to the manifest's
//! errors and capture its outputs. The CLI's `ades run` (one job, end to end) and the
//! workers' executor (`queue::executor`, around staging, resources and take-over) use it.

use crate::engine::{
    BindMount, Confinement, ContainerExit, ContainerRunner, ContainerSpec, Limits, LogSink,
    RunnerError,
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
    /// Who the container runs as, how it is confined and its limits when the manifest
    /// declares none.
    pub hardening: Hardening,
    /// Docker network to attach; `None` runs without network.
    pub network: Option<String>,
    /// Leave the exited container for the caller to remove (see
    /// [`ContainerSpec::keep_after_exit`]).
    pub keep_container: bool,
}

/// The user job containers run as when ades runs as root and none is configured: a
/// dedicated high uid and gid that no distribution gives a system account (those are below
/// 1000) and that regular host accounts rarely reach, so the files a job writes belong to no
/// real user and nothing else on the host runs as it. Not 65534 (`nobody`): NFS maps
/// squashed users to it and many daemons run as it, so its files are everyone's.
pub const DEFAULT_CONTAINER_USER: &str = "10001:10001";

/// Default memory limit of a container whose manifest declares no `mem`: 2 GiB.
pub const DEFAULT_MEM_MIB: f64 = 2048.0;

/// Default CPU limit of a container whose manifest declares no `cpus`: one CPU.
pub const DEFAULT_CPUS: f64 = 1.0;

/// Who a job's container runs as, how it is confined and what it may use when its manifest
/// declares nothing; [`Hardening::default`] is the hardened default, [`OptOuts`] loosen it
/// for one process.
#[derive(Debug, Clone, PartialEq)]
pub struct Hardening {
    /// `uid:gid` the container runs as; `None` keeps the image's user.
    pub user: Option<String>,
    pub confinement: Confinement,
    /// Memory limit (MiB) when the manifest declares no `mem`; `None`: none.
    pub default_mem_mib: Option<f64>,
    /// CPU limit when the manifest declares no `cpus`; `None`: none.
    pub default_cpus: Option<f64>,
}

impl Default for Hardening {
    fn default() -> Self {
        Hardening {
            user: Some(container_user("")),
            confinement: Confinement::default(),
            default_mem_mib: Some(DEFAULT_MEM_MIB),
            default_cpus: Some(DEFAULT_CPUS),
        }
    }
}

/// What an operator allows one process beyond [`Hardening`] (`[processes.<id>]`), or a user
/// one `ades run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptOuts {
    /// Run as uid 0 (still without capabilities or new privileges).
    pub run_as_root: bool,
    /// Keep the image's filesystem writable (no `/tmp` tmpfs then: the image's own `/tmp`).
    pub writable_root: bool,
    /// A pids limit other than the default.
    pub pids_limit: Option<i64>,
}

impl Hardening {
    /// This hardening loosened as `opt_outs` allow.
    pub fn with_opt_outs(mut self, opt_outs: &OptOuts) -> Hardening {
        if opt_outs.run_as_root {
            self.user = Some("0:0".to_string());
        }
        if opt_outs.writable_root {
            self.confinement.read_only_root = false;
            self.confinement.tmp_bytes = None;
        }
        if let Some(pids) = opt_outs.pids_limit.filter(|p| *p > 0) {
            self.confinement.pids_limit = pids;
        }
        self
    }
}

/// The `uid:gid` containers run as: `configured` when it is not empty; else, when ades runs
/// as root, [`DEFAULT_CONTAINER_USER`]; else ades's own uid and gid (already not root, and
/// the only user a non-root ades can leave its outputs to and still remove them).
pub fn container_user(configured: &str) -> String {
    let configured = configured.trim();
    if !configured.is_empty() {
        return configured.to_string();
    }
    let uid = rustix::process::geteuid();
    if uid.is_root() {
        DEFAULT_CONTAINER_USER.to_string()
    } else {
        let gid = rustix::process::getegid();
        format!("{}:{}", uid.as_raw(), gid.as_raw())
    }
}

/// `uid[:gid]` as numbers (gid defaults to uid); `None` for names or anything else.
pub fn numeric_user(user: &str) -> Option<(u32, u32)> {
    match user.split_once(':') {
        Some((uid, gid)) => Some((uid.parse().ok()?, gid.parse().ok()?)),
        None => {
            let uid = user.parse().ok()?;
            Some((uid, uid))
        }
    }
}

/// Lets the container's user write into `output_dir` before the run: when ades runs as root
/// the directory is given to that user; when ades runs as another user than the container,
/// it cannot give it away, so it is made writable for everyone (`0777`). Nothing to do when
/// the container runs as ades itself or as a user named other than by numbers.
pub fn hand_over_output_dir(output_dir: &Path, user: Option<&str>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Some((uid, gid)) = user.and_then(numeric_user) else {
        return Ok(());
    };
    let ours = rustix::process::geteuid();
    if ours.as_raw() == uid {
        return Ok(());
    }
    if ours.is_root() {
        std::os::unix::fs::lchown(output_dir, Some(uid), Some(gid))
    } else {
        std::fs::set_permissions(output_dir, std::fs::Permissions::from_mode(0o777))
    }
}

/// Makes the files under `dir` readable (and its directories listable) by everyone when the
/// container runs as another user than ades: staged inputs must be readable by the job
/// whatever the server's umask. Nothing changes when the container runs as ades itself.
pub fn open_inputs_to(dir: &Path, user: Option<&str>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let ours = rustix::process::geteuid().as_raw();
    if user
        .and_then(numeric_user)
        .is_some_and(|(uid, _)| uid == ours)
    {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        let mode = meta.permissions().mode() | 0o555;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
        for entry in std::fs::read_dir(dir)? {
            open_inputs_to(&entry?.path(), user)?;
        }
    } else if meta.is_file() {
        let mode = meta.permissions().mode() | 0o444;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// After the run, when ades runs as root: gives everything under `output_dir` (itself
/// included, symlinks not followed) back to ades, so the outputs are served, copied and
/// removed as ades's own files and nothing stays owned by the container's uid.
pub fn take_back_output_dir(output_dir: &Path) -> std::io::Result<()> {
    let ours = rustix::process::geteuid();
    if !ours.is_root() {
        return Ok(());
    }
    let gid = rustix::process::getegid().as_raw();
    chown_tree(output_dir, ours.as_raw(), gid)
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
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
    /// The output directory could not be prepared for the container's user.
    #[error("{0}")]
    Workspace(String),
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
        working_dir: None,
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
        limits: limits_for(&plan.allocation, &job.hardening),
        confinement: job.hardening.confinement.clone(),
        labels,
        run_id: job.run_id.clone(),
        timeout: Duration::from_secs(job.manifest.job.timeout),
        user: job.hardening.user.clone(),
        network: job.network.clone(),
        keep_after_exit: job.keep_container,
    }
}

/// Engine limits for an allocation: `cpus` as CPU quota, `mem` as memory (and swap) limit,
/// `sharedMem` as `/dev/shm` size, `gpus` as a device request. Without `cpus` or `mem` the
/// hardening's defaults apply. `disk` has no engine limit on overlay storage; it is checked
/// after the run (see [`run_seed_job`]).
pub fn limits_for(allocation: &Allocation, hardening: &Hardening) -> Limits {
    let cpus = allocation.cpus.or(hardening.default_cpus);
    let mem_mib = allocation.mem_mib.or(hardening.default_mem_mib);
    Limits {
        nano_cpus: cpus.filter(|c| *c > 0.0).map(|c| (c * 1e9).round() as i64),
        memory_bytes: mem_mib
            .filter(|m| *m > 0.0)
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
    hand_over_output_dir(&job.output_dir, spec.user.as_deref()).map_err(|err| {
        ExecutionError::Workspace(format!(
            "cannot let the container's user {} write into {}: {err}",
            spec.user.as_deref().unwrap_or_default(),
            job.output_dir.display()
        ))
    })?;
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
    if let Err(err) = take_back_output_dir(&job.output_dir) {
        tracing::warn!(dir = %job.output_dir.display(), error = %err, "cannot take back the outputs from the container's user");
    }
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
            hardening: Hardening::default(),
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
        let limits = limits_for(&allocation, &Hardening::default());
        assert_eq!(limits.nano_cpus, Some(500_000_000));
        assert_eq!(limits.memory_bytes, Some(1024 * 1024 * 1024));
        assert_eq!(limits.shm_bytes, Some(64 * 1024 * 1024));
        assert_eq!(limits.gpus, Some(2));
    }

    #[test]
    fn without_declared_cpus_or_mem_the_default_limits_apply() {
        let limits = limits_for(&Allocation::default(), &Hardening::default());
        assert_eq!(limits.nano_cpus, Some(1_000_000_000));
        assert_eq!(limits.memory_bytes, Some(2048 * 1024 * 1024));
        // The manifest's values win, smaller or larger.
        let declared = Allocation {
            cpus: Some(4.0),
            mem_mib: Some(64.0),
            ..Allocation::default()
        };
        let limits = limits_for(&declared, &Hardening::default());
        assert_eq!(limits.nano_cpus, Some(4_000_000_000));
        assert_eq!(limits.memory_bytes, Some(64 * 1024 * 1024));
        // Defaults switched off leave the engine's (none).
        let none = Hardening {
            default_mem_mib: None,
            default_cpus: None,
            ..Hardening::default()
        };
        let limits = limits_for(&Allocation::default(), &none);
        assert_eq!((limits.nano_cpus, limits.memory_bytes), (None, None));
    }

    #[test]
    fn opt_outs_loosen_only_what_they_name() {
        let base = Hardening {
            user: Some("10001:10001".into()),
            ..Hardening::default()
        };
        assert_eq!(base.clone().with_opt_outs(&OptOuts::default()), base);
        let root = base.clone().with_opt_outs(&OptOuts {
            run_as_root: true,
            ..OptOuts::default()
        });
        assert_eq!(root.user.as_deref(), Some("0:0"));
        assert_eq!(root.confinement, base.confinement);
        let writable = base.clone().with_opt_outs(&OptOuts {
            writable_root: true,
            pids_limit: Some(10_000),
            ..OptOuts::default()
        });
        assert_eq!(writable.user, base.user);
        assert!(!writable.confinement.read_only_root);
        assert_eq!(writable.confinement.tmp_bytes, None);
        assert_eq!(writable.confinement.pids_limit, 10_000);
        assert_eq!(writable.confinement.nofile, base.confinement.nofile);
        assert_eq!(writable.default_mem_mib, base.default_mem_mib);
    }

    #[test]
    fn the_default_user_is_never_root() {
        let user = container_user("");
        let (uid, _) = numeric_user(&user).unwrap();
        assert_ne!(uid, 0, "{user}");
        if rustix::process::geteuid().is_root() {
            assert_eq!(user, DEFAULT_CONTAINER_USER);
        }
        assert_eq!(container_user(" 2000:3000 "), "2000:3000");
        assert_eq!(numeric_user("2000"), Some((2000, 2000)));
        assert_eq!(numeric_user("nobody"), None);
        assert_eq!(numeric_user("1:x"), None);
    }

    #[test]
    fn the_output_dir_goes_to_the_container_user_and_comes_back() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        hand_over_output_dir(&out, Some("10001:10002")).unwrap();
        let meta = std::fs::metadata(&out).unwrap();
        if rustix::process::geteuid().is_root() {
            assert_eq!((meta.uid(), meta.gid()), (10001, 10002));
            std::fs::create_dir(out.join("sub")).unwrap();
            std::fs::write(out.join("sub/a.txt"), "a").unwrap();
            std::os::unix::fs::lchown(out.join("sub/a.txt"), Some(10001), Some(10002)).unwrap();
            take_back_output_dir(&out).unwrap();
            for path in [&out, &out.join("sub"), &out.join("sub/a.txt")] {
                assert_eq!(std::fs::metadata(path).unwrap().uid(), 0, "{path:?}");
            }
        } else {
            assert_eq!(meta.mode() & 0o777, 0o777);
        }
    }

    #[test]
    fn staged_inputs_become_readable_for_another_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let inputs = dir.path().join("inputs");
        std::fs::create_dir_all(inputs.join("A")).unwrap();
        std::fs::write(inputs.join("A/x.txt"), "x").unwrap();
        std::fs::set_permissions(inputs.join("A/x.txt"), PermissionsExt::from_mode(0o600)).unwrap();
        std::fs::set_permissions(inputs.join("A"), PermissionsExt::from_mode(0o700)).unwrap();
        open_inputs_to(&inputs, Some("10001:10001")).unwrap();
        let mode = |p: &str| {
            std::fs::metadata(inputs.join(p))
                .unwrap()
                .permissions()
                .mode()
        };
        assert_eq!(mode("A") & 0o777, 0o755);
        assert_eq!(mode("A/x.txt") & 0o777, 0o644);
    }

    #[test]
    fn tiny_memory_is_raised_to_the_engine_minimum() {
        let allocation = Allocation {
            mem_mib: Some(1.0),
            ..Allocation::default()
        };
        assert_eq!(
            limits_for(&allocation, &Hardening::default()).memory_bytes,
            Some(6 * 1024 * 1024)
        );
    }

    #[test]
    fn zero_shared_memory_and_gpus_leave_engine_defaults() {
        let allocation = Allocation {
            shared_mem_mib: Some(0.0),
            gpus: Some(0),
            ..Allocation::default()
        };
        let limits = limits_for(&allocation, &Hardening::default());
        assert_eq!(limits.shm_bytes, None);
        assert_eq!(limits.gpus, None);
    }
}
