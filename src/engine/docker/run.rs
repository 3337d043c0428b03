//! [`ContainerRunner`] on the Docker Engine API.
//!
//! One run is: create (hardened, labelled, named after the run id) → attach to its output →
//! start → pump stdout/stderr into the [`LogSink`] while waiting for exit, the timeout or the
//! cancellation → drain the remaining output → force-remove. A [`RemovalGuard`] removes the
//! container when the future is dropped half-way, so no path leaves a container behind.
//!
//! When the engine lacks the image, it is pulled (with the credentials configured for its
//! registry) and the create is tried again; progress goes to [`LogSink::status`]. Runs
//! needing the same absent image share one pull.
//!
//! Output is read by attaching *before* start (as `docker run` does), not through the logs
//! endpoint: nothing written before we start reading can be missed and it works whatever log
//! driver the daemon is configured with.

use super::{engine_error, DockerEngine};
use crate::engine::{
    BindMount, Confinement, ContainerExit, ContainerRunner, ContainerSpec, EngineFacts,
    FoundContainer, FoundState, Limits, LogSink, Milestone, ResourceUsage, RunFacts, RunnerError,
    RUN_ID_LABEL,
};
use async_trait::async_trait;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerStatsResponse, ContainerSummary, DeviceRequest, HostConfig,
    Mount, MountTypeEnum, ResourcesUlimits,
};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, InspectContainerOptions, KillContainerOptions,
    ListContainersOptions, LogsOptions, RemoveContainerOptions, StartContainerOptions,
    StatsOptions, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

/// How long to wait for the container to die after SIGKILL before giving up on waiting (the
/// removal that follows is forced anyway). Kill plus removal must fit in the 10 s a
/// cancellation is allowed to take.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long to keep reading output after the process exited. The engine closes the attach
/// stream as soon as it has copied the last bytes, so this only bounds a misbehaving engine.
const LOG_DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Stands in for a timeout too large to add to the clock ("never", in practice).
const FAR_FUTURE: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The instant `left` from now (far in the future for a timeout too large to add).
fn deadline_in(left: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(left).unwrap_or(now + FAR_FUTURE)
}

/// The name a listed container goes by (its first name without the leading `/`, else its
/// id); `None` when the engine gave neither.
fn listed_name(container: &ContainerSummary) -> Option<String> {
    container
        .names
        .as_ref()
        .and_then(|names| names.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| container.id.clone())
}

/// A listed container as [`FoundContainer`]; `None` when it has neither name nor id.
fn found(container: ContainerSummary) -> Option<FoundContainer> {
    let name = listed_name(&container)?;
    let labels: std::collections::BTreeMap<String, String> =
        container.labels.unwrap_or_default().into_iter().collect();
    let state = match container.state.map(|s| s.to_string()).as_deref() {
        Some("created") => FoundState::Created,
        Some("running" | "paused" | "restarting") => FoundState::Running,
        Some("exited") => FoundState::Exited,
        _ => FoundState::Gone,
    };
    Some(FoundContainer {
        name,
        run_id: labels.get(RUN_ID_LABEL).cloned(),
        state,
        labels,
    })
}

/// A container's output as the engine streams it (attach or logs).
type OutputStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<LogOutput, DockerError>> + Send>>;

/// The container name for a run id: `ades-<run_id>` reduced to the characters Docker allows
/// (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`). When anything had to be replaced or cut, a hash of the
/// original run id is appended so two different run ids never share a name.
pub fn container_name(run_id: &str) -> String {
    const MAX_ID_CHARS: usize = 100;
    let mut cleaned: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_ID_CHARS)
        .collect();
    if cleaned != run_id || cleaned.is_empty() {
        cleaned.push_str(&format!("-{:016x}", fnv1a(run_id.as_bytes())));
    }
    format!("ades-{cleaned}")
}

// A stable, dependency-free hash: only used to keep sanitised names distinct.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The body of `POST /containers/create` for a spec: everything the engine needs, with the
/// hardening ades always applies (no new privileges, every capability dropped, the engine's
/// default seccomp profile, never privileged), the spec's [`Confinement`] (read-only root,
/// `/tmp` tmpfs, pids and open-file limits, no core dumps) and no network unless the spec
/// names one.
pub fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut labels: HashMap<String, String> = spec
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    labels.insert(RUN_ID_LABEL.to_string(), spec.run_id.clone());

    let Limits {
        nano_cpus,
        memory_bytes,
        shm_bytes,
        gpus,
    } = spec.limits;
    let Confinement {
        read_only_root,
        tmp_bytes,
        tmp_exec,
        pids_limit,
        nofile,
    } = spec.confinement;
    let tmpfs = tmp_bytes.filter(|bytes| *bytes > 0).map(|bytes| {
        let exec = if tmp_exec { "exec" } else { "noexec" };
        // mode 1777 like any /tmp: the job may run as any uid.
        HashMap::from([(
            "/tmp".to_string(),
            format!("rw,{exec},nosuid,nodev,size={bytes},mode=1777"),
        )])
    });
    let mut ulimits = vec![ResourcesUlimits {
        // A crashing job must not write a core file the size of its memory.
        name: Some("core".to_string()),
        soft: Some(0),
        hard: Some(0),
    }];
    if let Some(nofile) = nofile.filter(|n| *n > 0) {
        ulimits.push(ResourcesUlimits {
            name: Some("nofile".to_string()),
            soft: Some(nofile),
            hard: Some(nofile),
        });
    }

    let host_config = HostConfig {
        mounts: Some(spec.binds.iter().map(bind_mount).collect()),
        nano_cpus,
        memory: memory_bytes,
        // Swap equal to memory means "no swap on top": the limit is a real limit.
        memory_swap: memory_bytes,
        shm_size: shm_bytes,
        device_requests: gpus.filter(|n| *n > 0).map(|count| {
            vec![DeviceRequest {
                driver: Some("nvidia".to_string()),
                count: Some(i64::from(count)),
                capabilities: Some(vec![vec!["gpu".to_string()]]),
                ..Default::default()
            }]
        }),
        network_mode: Some(spec.network.clone().unwrap_or_else(|| "none".to_string())),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        cap_drop: Some(vec!["ALL".to_string()]),
        pids_limit: Some(pids_limit),
        readonly_rootfs: Some(read_only_root),
        tmpfs,
        ulimits: Some(ulimits),
        privileged: Some(false),
        ..Default::default()
    };

    ContainerCreateBody {
        image: Some(spec.image.clone()),
        // ENTRYPOINT is never touched: Seed's command is the argument list given to it, and
        // a CWL tool's command line is given to it as `docker run` (and cwltool) do.
        cmd: spec.args.clone(),
        working_dir: spec.working_dir.clone(),
        env: Some(
            spec.env
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect(),
        ),
        user: spec.user.clone(),
        labels: Some(labels),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(false),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    }
}

// Mounts rather than `Binds` strings: a missing host path is an error instead of a
// root-owned directory silently created by the engine, and paths containing `:` or `,`
// need no escaping.
fn bind_mount(bind: &BindMount) -> Mount {
    Mount {
        typ: Some(MountTypeEnum::BIND),
        source: Some(bind.host.to_string_lossy().into_owned()),
        target: Some(bind.container.clone()),
        read_only: Some(bind.read_only),
        ..Default::default()
    }
}

/// Force-removes a container (and its anonymous volumes) when dropped while still armed, so
/// a run abandoned half-way (its future dropped, a panic) does not leave it behind. The
/// normal path removes the container itself and disarms the guard.
struct RemovalGuard {
    docker: Docker,
    name: Option<String>,
}

impl RemovalGuard {
    fn new(docker: Docker, name: String) -> Self {
        RemovalGuard {
            docker,
            name: Some(name),
        }
    }

    fn disarm(&mut self) {
        self.name = None;
    }

    /// Removes the container now and disarms the guard. Stays armed while the removal is in
    /// flight, so dropping the future half-way through still gets the container removed.
    async fn remove(&mut self) {
        if let Some(name) = self.name.clone() {
            remove_or_warn(&self.docker, &name).await;
            self.name = None;
        }
    }
}

impl Drop for RemovalGuard {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let docker = self.docker.clone();
                runtime.spawn(async move { remove_or_warn(&docker, &name).await });
            }
            // Outside a runtime nothing can be awaited; the container carries the run id
            // label so the startup sweep finds it.
            Err(_) => tracing::warn!(
                container = %name,
                "container left behind: no async runtime to remove it from"
            ),
        }
    }
}

/// Force-removes a container and its anonymous volumes; gone already (404) or being
/// removed (409) is fine.
async fn remove_container(docker: &Docker, name: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker.remove_container(name, Some(options)).await {
        // 404: already gone (never created, or removed by someone else); 409: a removal
        // is already under way. Either way nothing is left to do here.
        Ok(())
        | Err(DockerError::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// [`remove_container`] where nobody can be told of a failure but the log.
async fn remove_or_warn(docker: &Docker, name: &str) {
    if let Err(err) = remove_container(docker, name).await {
        tracing::warn!(
            container = %name,
            error = %err,
            "could not remove container; remove it with `docker rm -f {name}`"
        );
    }
}

/// Whether a create failed only because the engine lacks the image.
fn is_no_such_image(err: &DockerError) -> bool {
    matches!(
        err,
        DockerError::DockerResponseServerError { status_code: 404, message }
            if message.contains("No such image")
    )
}

// A create or start refusal: the engine answered and said no.
fn refusal(err: DockerError, image: &str) -> RunnerError {
    match err {
        DockerError::DockerResponseServerError {
            status_code: 404,
            message,
        } if message.contains("No such image") => RunnerError::ImageNotFound(image.to_string()),
        DockerError::DockerResponseServerError { message, .. } => RunnerError::Rejected(message),
        other => engine_error(other),
    }
}

#[async_trait]
impl ContainerRunner for DockerEngine {
    async fn run(
        &self,
        spec: &ContainerSpec,
        cancel: CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        if cancel.is_cancelled() {
            return Ok(ContainerExit::Cancelled);
        }
        let name = container_name(&spec.run_id);
        // Armed before the create request: if this future is dropped while the request is
        // in flight, the container may exist without us ever learning its id.
        let mut guard = RemovalGuard::new(self.docker.clone(), name.clone());
        let result = self.run_named(spec, &name, &cancel, logs, &mut guard).await;
        keep_or_remove(&mut guard, &result, spec.keep_after_exit).await;
        result
    }

    async fn find_containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<FoundContainer>, RunnerError> {
        let mut filters = HashMap::new();
        filters.insert("label".to_string(), vec![format!("{label}={value}")]);
        self.list_with(filters).await
    }

    async fn list_containers(&self, keys: &[&str]) -> Result<Vec<FoundContainer>, RunnerError> {
        let mut filters = HashMap::new();
        filters.insert(
            "label".to_string(),
            keys.iter().map(ToString::to_string).collect(),
        );
        self.list_with(filters).await
    }

    async fn reattach(
        &self,
        container: &FoundContainer,
        timeout: Duration,
        cancel: CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        let name = container.name.as_str();
        let mut guard = RemovalGuard::new(self.docker.clone(), name.to_string());
        let result = self.reattach_named(name, timeout, &cancel, logs).await;
        keep_or_remove(&mut guard, &result, true).await;
        result
    }

    async fn remove(&self, name: &str) -> Result<(), RunnerError> {
        remove_container(&self.docker, name)
            .await
            .map_err(engine_error)
    }

    async fn remove_run(&self, run_id: &str) -> Result<(), RunnerError> {
        self.remove(&container_name(run_id)).await
    }

    async fn facts(&self) -> Result<EngineFacts, RunnerError> {
        self.read_facts().await
    }
}

impl DockerEngine {
    /// The containers (stopped ones included) matching the engine's list `filters`.
    async fn list_with(
        &self,
        filters: HashMap<String, Vec<String>>,
    ) -> Result<Vec<FoundContainer>, RunnerError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(engine_error)?;
        Ok(listed.into_iter().filter_map(found).collect())
    }
}

/// After a run: a container that exited by itself stays when `keep` says so (its owner
/// removes it once the result is recorded); a cancelled one, or one whose run failed, goes.
async fn keep_or_remove(
    guard: &mut RemovalGuard,
    result: &Result<ContainerExit, RunnerError>,
    keep: bool,
) {
    let exited_by_itself = matches!(result, Ok(exit) if *exit != ContainerExit::Cancelled);
    if keep && exited_by_itself {
        guard.disarm();
    } else {
        guard.remove().await;
    }
}

impl DockerEngine {
    /// Follows an existing container: its whole output through the logs endpoint (the
    /// attach stream would miss what it wrote before we came), its deadline counted from
    /// when the engine started it.
    async fn reattach_named(
        &self,
        name: &str,
        timeout: Duration,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        let inspected = self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
            .map_err(engine_error)?;
        let started_at = inspected
            .state
            .and_then(|state| state.started_at)
            .and_then(|text| {
                time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                    .ok()
            });
        let left = match started_at {
            Some(started) => {
                let ran = (time::OffsetDateTime::now_utc() - started).max(time::Duration::ZERO);
                timeout.saturating_sub(ran.unsigned_abs())
            }
            None => timeout,
        };
        let deadline = deadline_in(left);
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let output: OutputStream = Box::pin(self.docker.logs(name, Some(options)));
        self.follow(name, output, deadline, cancel, logs).await
    }
}

impl DockerEngine {
    async fn run_named(
        &self,
        spec: &ContainerSpec,
        name: &str,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
        guard: &mut RemovalGuard,
    ) -> Result<ContainerExit, RunnerError> {
        let docker = &self.docker;
        let mut created = self.create(spec, name).await;
        if matches!(&created, Err(err) if is_no_such_image(err)) {
            // Nothing was created; pull the image and try once more.
            match self.pull(&spec.image, cancel, logs).await {
                Ok(true) => created = self.create(spec, name).await,
                Ok(false) => {
                    guard.disarm();
                    return Ok(ContainerExit::Cancelled);
                }
                Err(err) => {
                    guard.disarm();
                    return Err(err);
                }
            }
        }
        if let Err(err) = created {
            // Nothing was created, or the name belongs to an existing container that is not
            // ours to remove (same run id started twice).
            guard.disarm();
            return Err(match err {
                DockerError::DockerResponseServerError {
                    status_code: 409,
                    message,
                } => RunnerError::Rejected(format!(
                    "{message} (a container for run {} already exists; remove it with `docker rm -f {name}`)",
                    spec.run_id
                )),
                other => refusal(other, &spec.image),
            });
        }

        let attach = AttachContainerOptions {
            stream: true,
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let output = docker
            .attach_container(name, Some(attach))
            .await
            .map_err(engine_error)?
            .output;

        docker
            .start_container(name, None::<StartContainerOptions>)
            .await
            .map_err(|err| refusal(err, &spec.image))?;
        logs.milestone(Milestone::ContainerRunning);
        // Seed's timeout runs from container start (image pull and staging excluded).
        self.follow(name, output, deadline_in(spec.timeout), cancel, logs)
            .await
    }

    /// Pumps `output` into `logs` until the container exits and its output ends, killing it
    /// at `deadline` or when `cancel` fires; tells how it ended.
    async fn follow(
        &self,
        name: &str,
        mut output: OutputStream,
        deadline: Instant,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        let docker = &self.docker;
        let mut wait = Box::pin(docker.wait_container(
            name,
            Some(WaitContainerOptions {
                condition: "not-running".to_string(),
            }),
        ));

        // Sampled while it runs: once stopped, the engine reports nothing of it (see
        // `ResourceUsage`). The stream ends when the container stops.
        let mut stats = Box::pin(docker.stats(
            name,
            Some(StatsOptions {
                stream: true,
                one_shot: false,
            }),
        ));
        let mut usage = ResourceUsage::default();
        let mut stats_open = true;

        let mut exit_code: Option<i64> = None;
        let mut killed: Option<ContainerExit> = None;
        let mut kill_deadline: Option<Instant> = None;
        let mut drain_deadline: Option<Instant> = None;
        let mut output_open = true;

        // Not `biased`: a container flooding its output must not starve the timeout and the
        // cancellation branches.
        while output_open || exit_code.is_none() {
            let running = exit_code.is_none();
            tokio::select! {
                chunk = output.next(), if output_open => match chunk {
                    Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                        logs.stdout(&message)
                    }
                    Some(Ok(LogOutput::StdErr { message })) => logs.stderr(&message),
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                    Some(Err(err)) => {
                        tracing::warn!(container = %name, error = %err, "reading container output failed");
                        output_open = false;
                    }
                    None => output_open = false,
                },
                sample = stats.next(), if stats_open && running => match sample {
                    Some(Ok(sample)) => add_sample(&mut usage, &sample),
                    Some(Err(err)) => {
                        tracing::debug!(container = %name, error = %err, "the engine's statistics stopped");
                        stats_open = false;
                    }
                    None => stats_open = false,
                },
                status = wait.next(), if running => {
                    exit_code = Some(match status {
                        Some(Ok(response)) => response.status_code,
                        // bollard turns a non-zero exit into an error carrying the code.
                        Some(Err(DockerError::DockerContainerWaitError { code, .. })) => code,
                        Some(Err(err)) => return Err(engine_error(err)),
                        None => return Err(RunnerError::Engine(format!(
                            "the engine stopped reporting on container {name} before it exited"
                        ))),
                    });
                    drain_deadline = Some(Instant::now() + LOG_DRAIN_GRACE);
                },
                _ = sleep_until(deadline), if running && killed.is_none() => {
                    kill(docker, name).await?;
                    killed = Some(ContainerExit::TimedOut);
                    kill_deadline = Some(Instant::now() + KILL_GRACE);
                },
                _ = cancel.cancelled(), if running && killed.is_none() => {
                    kill(docker, name).await?;
                    killed = Some(ContainerExit::Cancelled);
                    kill_deadline = Some(Instant::now() + KILL_GRACE);
                },
                _ = sleep_until(kill_deadline.unwrap_or(deadline)), if running && kill_deadline.is_some() => {
                    tracing::warn!(container = %name, "container still running {KILL_GRACE:?} after SIGKILL; removing it by force");
                    break;
                },
                _ = sleep_until(drain_deadline.unwrap_or(deadline)), if drain_deadline.is_some() => {
                    tracing::warn!(container = %name, "output still open {LOG_DRAIN_GRACE:?} after exit; not reading the rest");
                    break;
                },
            }
        }

        // A killed container exits 137; report why it was killed instead: by us (timeout,
        // cancellation) or by the engine for going over its memory limit.
        let (mut oom_killed, image_id) = match killed {
            Some(_) => (false, None),
            None => ended_state(docker, name).await,
        };
        // The engine marks an OOM kill from an event of its own, which can land after the
        // exit on a busy host: a SIGKILL nobody here sent is looked at again for up to a
        // second before it counts as a plain exit.
        if killed.is_none() && exit_code == Some(137) {
            for _ in 0..OOM_RECHECKS {
                if oom_killed {
                    break;
                }
                tokio::time::sleep(OOM_RECHECK_PAUSE).await;
                oom_killed = ended_state(docker, name).await.0;
            }
        }
        let exit = match (killed, exit_code) {
            (Some(reason), _) => reason,
            (None, Some(code)) if code != 0 && oom_killed => ContainerExit::OutOfMemory,
            (None, Some(code)) => ContainerExit::Exited(code),
            (None, None) => unreachable!("the loop ends only after an exit or a kill"),
        };
        if exit != ContainerExit::Cancelled {
            let mut facts = self.image_facts(image_id).await;
            facts.usage = usage;
            logs.ended(&facts);
        }
        Ok(exit)
    }

    /// What the engine says of the image a container ran (by its id): repository digests
    /// and labels. Nothing when it cannot be read (removed meanwhile): the facts are a
    /// record, never a reason to fail the run.
    async fn image_facts(&self, image_id: Option<String>) -> RunFacts {
        let Some(id) = image_id else {
            return RunFacts::default();
        };
        let now = Instant::now();
        if let Some(facts) = self.image_facts.get(&id, now) {
            return facts;
        }
        match self.docker.inspect_image(&id).await {
            Ok(image) => self.image_facts.keep(
                RunFacts {
                    repo_digests: image.repo_digests.unwrap_or_default(),
                    image_labels: image
                        .config
                        .and_then(|config| config.labels)
                        .map(|labels| labels.into_iter().collect())
                        .unwrap_or_default(),
                    image_id: Some(id),
                    usage: ResourceUsage::default(),
                },
                now,
            ),
            Err(err) => {
                tracing::warn!(image = %id, error = %err, "cannot inspect the image a container ran");
                RunFacts {
                    image_id: Some(id),
                    ..RunFacts::default()
                }
            }
        }
    }
}

/// How long the facts of an image that ran stay fresh. An image id names the image's
/// content, so its labels never change; only its repository digests may grow (a push or
/// pull under another name), and a record made within this long after may miss that one.
const IMAGE_FACTS_FRESH: Duration = Duration::from_secs(30);

/// The facts of the images containers ran, by image id, for [`IMAGE_FACTS_FRESH`]: jobs of
/// one process run one image, and each of them would otherwise ask the engine about it
/// once more when its container ends (one engine call fewer per job).
/// Clones share one cache.
#[derive(Debug, Default, Clone)]
pub(super) struct ImageFactsCache(
    std::sync::Arc<std::sync::Mutex<HashMap<String, (Instant, RunFacts)>>>,
);

impl ImageFactsCache {
    fn get(&self, id: &str, now: Instant) -> Option<RunFacts> {
        let cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(id)
            .filter(|(at, _)| now.duration_since(*at) < IMAGE_FACTS_FRESH)
            .map(|(_, facts)| facts.clone())
    }

    /// Keeps `facts` (read at `now`) and drops the stale ones, so the cache holds no more
    /// than the images that ran lately.
    fn keep(&self, facts: RunFacts, now: Instant) -> RunFacts {
        let mut cache = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|_, (at, _)| now.duration_since(*at) < IMAGE_FACTS_FRESH);
        if let Some(id) = &facts.image_id {
            cache.insert(id.clone(), (now, facts.clone()));
        }
        facts
    }
}

/// One statistics sample into `usage`: memory now and (cgroup v1 only) its peak, and the
/// cumulative CPU time.
fn add_sample(usage: &mut ResourceUsage, sample: &ContainerStatsResponse) {
    let memory = sample.memory_stats.as_ref();
    let cpu = sample
        .cpu_stats
        .as_ref()
        .and_then(|cpu| cpu.cpu_usage.as_ref())
        .and_then(|cpu| cpu.total_usage);
    usage.add_sample(
        memory.and_then(|m| m.usage),
        memory.and_then(|m| m.max_usage),
        cpu,
    );
}

impl DockerEngine {
    async fn create(&self, spec: &ContainerSpec, name: &str) -> Result<(), DockerError> {
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(options), create_body(spec))
            .await
            .map(|_| ())
    }
}

/// Of the exited (not yet removed) container: whether the engine killed it for memory, and
/// the id of the image it ran.
/// How often, and how far apart, an unexplained SIGKILL is checked for an OOM kill.
const OOM_RECHECKS: usize = 10;
const OOM_RECHECK_PAUSE: Duration = Duration::from_millis(100);

async fn ended_state(docker: &Docker, name: &str) -> (bool, Option<String>) {
    let options = None::<bollard::query_parameters::InspectContainerOptions>;
    match docker.inspect_container(name, options).await {
        Ok(inspected) => (
            inspected
                .state
                .and_then(|state| state.oom_killed)
                .unwrap_or(false),
            inspected.image,
        ),
        Err(err) => {
            tracing::warn!(container = %name, "cannot inspect the exited container: {err}");
            (false, None)
        }
    }
}

async fn kill(docker: &Docker, name: &str) -> Result<(), RunnerError> {
    let options = KillContainerOptions {
        signal: "SIGKILL".to_string(),
    };
    match docker.kill_container(name, Some(options)).await {
        Ok(()) => Ok(()),
        // 409: it exited on its own meanwhile; the wait reports that.
        Err(DockerError::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(err) => Err(engine_error(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{DEFAULT_NOFILE, DEFAULT_PIDS_LIMIT, DEFAULT_TMP_BYTES};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            working_dir: None,
            image: "example-seed:1.0.0".to_string(),
            args: Some(vec!["-i".to_string(), "/in/a.txt".to_string()]),
            env: vec![("OUTPUT_DIR".to_string(), "/out".to_string())],
            binds: vec![
                BindMount {
                    host: PathBuf::from("/data/in"),
                    container: "/in".to_string(),
                    read_only: true,
                },
                BindMount {
                    host: PathBuf::from("/data/out"),
                    container: "/out".to_string(),
                    read_only: false,
                },
            ],
            limits: Limits {
                nano_cpus: Some(1_500_000_000),
                memory_bytes: Some(512 * 1024 * 1024),
                shm_bytes: Some(64 * 1024 * 1024),
                gpus: Some(2),
            },
            confinement: Confinement::default(),
            labels: BTreeMap::from([("org.example".to_string(), "x".to_string())]),
            run_id: "run-1".to_string(),
            timeout: Duration::from_secs(60),
            user: Some("1000:1000".to_string()),
            network: None,
            keep_after_exit: false,
        }
    }

    #[test]
    fn body_requests_gpus_from_the_nvidia_driver() {
        let body = create_body(&spec());
        let host = body.host_config.unwrap();
        let requests = host.device_requests.unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].driver.as_deref(), Some("nvidia"));
        assert_eq!(requests[0].count, Some(2));
        assert_eq!(
            requests[0].capabilities,
            Some(vec![vec!["gpu".to_string()]])
        );
    }

    #[test]
    fn body_without_gpus_has_no_device_request() {
        let mut spec = spec();
        spec.limits.gpus = None;
        assert!(create_body(&spec)
            .host_config
            .unwrap()
            .device_requests
            .is_none());
        spec.limits.gpus = Some(0);
        assert!(create_body(&spec)
            .host_config
            .unwrap()
            .device_requests
            .is_none());
    }

    #[test]
    fn body_is_hardened_and_offline_by_default() {
        let host = create_body(&spec()).host_config.unwrap();
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.pids_limit, Some(DEFAULT_PIDS_LIMIT));
        assert_eq!(host.privileged, Some(false));
        assert!(host.cap_add.is_none());
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        // The engine's default seccomp profile stays: nothing touches it.
        assert!(!host
            .security_opt
            .unwrap()
            .iter()
            .any(|o| o.starts_with("seccomp")));
        assert_eq!(host.readonly_rootfs, Some(true));
        let tmpfs = host.tmpfs.unwrap();
        assert_eq!(
            tmpfs.get("/tmp").map(String::as_str),
            Some(format!("rw,noexec,nosuid,nodev,size={DEFAULT_TMP_BYTES},mode=1777").as_str())
        );
        let ulimits: Vec<(String, i64, i64)> = host
            .ulimits
            .unwrap()
            .into_iter()
            .map(|u| (u.name.unwrap(), u.soft.unwrap(), u.hard.unwrap()))
            .collect();
        assert_eq!(
            ulimits,
            [
                ("core".to_string(), 0, 0),
                ("nofile".to_string(), DEFAULT_NOFILE, DEFAULT_NOFILE)
            ]
        );
    }

    #[test]
    fn body_follows_a_loosened_confinement() {
        let mut spec = spec();
        spec.confinement = Confinement {
            read_only_root: false,
            tmp_bytes: None,
            tmp_exec: false,
            pids_limit: 20_000,
            nofile: None,
        };
        let host = create_body(&spec).host_config.unwrap();
        assert_eq!(host.readonly_rootfs, Some(false));
        assert!(host.tmpfs.is_none());
        assert_eq!(host.pids_limit, Some(20_000));
        let names: Vec<String> = host
            .ulimits
            .unwrap()
            .into_iter()
            .map(|u| u.name.unwrap())
            .collect();
        assert_eq!(names, ["core"], "no nofile limit: the engine's");
        // The rest of the hardening never loosens.
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_string()])
        );

        spec.confinement = Confinement {
            tmp_exec: true,
            tmp_bytes: Some(MIB_8),
            ..Confinement::default()
        };
        let host = create_body(&spec).host_config.unwrap();
        assert_eq!(
            host.tmpfs.unwrap()["/tmp"],
            format!("rw,exec,nosuid,nodev,size={MIB_8},mode=1777")
        );
    }

    const MIB_8: i64 = 8 * 1024 * 1024;

    #[test]
    fn body_attaches_the_named_network() {
        let mut spec = spec();
        spec.network = Some("bridge".to_string());
        let host = create_body(&spec).host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
    }

    #[test]
    fn body_carries_limits_with_swap_equal_to_memory() {
        let host = create_body(&spec()).host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.memory, Some(512 * 1024 * 1024));
        assert_eq!(host.memory_swap, Some(512 * 1024 * 1024));
        assert_eq!(host.shm_size, Some(64 * 1024 * 1024));
    }

    #[test]
    fn body_keeps_entrypoint_and_sets_cmd_env_user_labels_mounts() {
        let body = create_body(&spec());
        assert!(body.entrypoint.is_none());
        assert_eq!(
            body.cmd,
            Some(vec!["-i".to_string(), "/in/a.txt".to_string()])
        );
        assert_eq!(body.env, Some(vec!["OUTPUT_DIR=/out".to_string()]));
        assert_eq!(body.user.as_deref(), Some("1000:1000"));
        let labels = body.labels.unwrap();
        assert_eq!(labels.get(RUN_ID_LABEL).map(String::as_str), Some("run-1"));
        assert_eq!(labels.get("org.example").map(String::as_str), Some("x"));
        let mounts = body.host_config.unwrap().mounts.unwrap();
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].source.as_deref(), Some("/data/in"));
        assert_eq!(mounts[0].target.as_deref(), Some("/in"));
        assert_eq!(mounts[0].read_only, Some(true));
        assert_eq!(mounts[0].typ, Some(MountTypeEnum::BIND));
        assert_eq!(mounts[1].read_only, Some(false));
    }

    #[test]
    fn no_args_keeps_the_image_cmd() {
        let mut spec = spec();
        spec.args = None;
        assert!(create_body(&spec).cmd.is_none());
    }

    #[test]
    fn listed_containers_keep_their_name_labels_and_state() {
        use bollard::models::ContainerSummaryStateEnum as State;
        let summary = |names: Option<Vec<&str>>, id: Option<&str>, state: State| ContainerSummary {
            names: names.map(|names| names.into_iter().map(String::from).collect()),
            id: id.map(String::from),
            state: Some(state),
            labels: Some(HashMap::from([
                (RUN_ID_LABEL.to_string(), "job-2".to_string()),
                ("org.ades.job-id".to_string(), "job".to_string()),
            ])),
            ..Default::default()
        };
        let listed = found(summary(
            Some(vec!["/ades-job-2"]),
            Some("abc"),
            State::EXITED,
        ))
        .expect("a container with a name");
        assert_eq!(listed.name, "ades-job-2");
        assert_eq!(listed.run_id.as_deref(), Some("job-2"));
        assert_eq!(listed.state, FoundState::Exited);
        assert_eq!(listed.labels["org.ades.job-id"], "job");
        let unnamed = found(summary(None, Some("abc"), State::PAUSED)).unwrap();
        assert_eq!(
            (unnamed.name.as_str(), unnamed.state),
            ("abc", FoundState::Running)
        );
        for (state, expected) in [
            (State::CREATED, FoundState::Created),
            (State::RESTARTING, FoundState::Running),
            (State::REMOVING, FoundState::Gone),
            (State::DEAD, FoundState::Gone),
        ] {
            assert_eq!(
                found(summary(None, Some("abc"), state)).unwrap().state,
                expected
            );
        }
        assert!(found(summary(None, None, State::RUNNING)).is_none());
    }

    #[test]
    fn container_names_follow_docker_rules_and_stay_distinct() {
        assert_eq!(container_name("job-42_a.b"), "ades-job-42_a.b");
        let slash = container_name("a/b");
        let colon = container_name("a:b");
        assert!(slash.starts_with("ades-a-b-"));
        assert_ne!(slash, colon);
        for name in [
            slash,
            colon,
            container_name(""),
            container_name(&"é".repeat(300)),
        ] {
            assert!(name.len() <= 5 + 100 + 17, "{name}");
            assert!(name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
        }
    }
}

#[cfg(test)]
mod image_facts_tests {
    use super::*;

    fn facts(id: &str, digest: &str) -> RunFacts {
        RunFacts {
            image_id: Some(id.to_string()),
            repo_digests: vec![digest.to_string()],
            ..RunFacts::default()
        }
    }

    #[test]
    fn facts_are_reused_while_fresh_and_read_again_after() {
        let cache = ImageFactsCache::default();
        let start = Instant::now();
        assert_eq!(cache.get("sha256:a", start), None);
        cache.keep(facts("sha256:a", "r@sha256:1"), start);
        let soon = start + Duration::from_secs(5);
        assert_eq!(
            cache.get("sha256:a", soon),
            Some(facts("sha256:a", "r@sha256:1"))
        );
        assert_eq!(
            cache.get("sha256:b", soon),
            None,
            "another image is not known"
        );
        let later = start + IMAGE_FACTS_FRESH;
        assert_eq!(
            cache.get("sha256:a", later),
            None,
            "stale facts are read again"
        );
    }

    #[test]
    fn keeping_drops_the_stale_ones() {
        let cache = ImageFactsCache::default();
        let start = Instant::now();
        cache.keep(facts("sha256:a", "r@sha256:1"), start);
        cache.keep(facts("sha256:b", "r@sha256:2"), start + IMAGE_FACTS_FRESH);
        assert_eq!(cache.0.lock().unwrap().len(), 1);
    }
}
