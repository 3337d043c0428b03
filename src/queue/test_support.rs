//! Test helpers for the queue: processes from manifests, a scripted container runner, a
//! store and a worker wired together.

use super::{concurrency::Concurrency, Executor, QueueSettings, Worker};
use crate::catalog::seed_process::process_from_manifest;
use crate::catalog::Catalog;
use crate::domain::{Process, WorkerId};
use crate::engine::{ContainerExit, ContainerRunner, ContainerSpec, LogSink, RunnerError};
use crate::jobs::JobService;
use crate::store::sqlite::SqliteStore;
use crate::workspace::Workspace;
use async_trait::async_trait;
use serde_json::Value;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A process for a manifest document (validated), on image `<name>:test`.
pub fn process(manifest: Value) -> Process {
    let valid = seed::validate::manifest_from_value(manifest).expect("a valid test manifest");
    let image = format!("{}:test", valid.manifest.job.name);
    process_from_manifest(&valid.manifest, &image, None)
}

/// A minimal manifest with the given `interface` (and optional `errors`).
pub fn manifest(name: &str, interface: Value, errors: Value) -> Value {
    serde_json::json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name,
            "jobVersion": "1.0.0",
            "packageVersion": "1.0.0",
            "title": "Test job",
            "description": "A job for the queue's tests.",
            "maintainer": { "name": "ades tests", "email": "tests@example.org" },
            "timeout": 30,
            "interface": interface,
            "errors": errors,
        }
    })
}

/// What the scripted runner does for one run.
#[derive(Debug, Clone)]
pub enum Act {
    /// Writes `files` (relative path, content) into `OUTPUT_DIR`, prints `stdout`, exits.
    Exit {
        code: i64,
        files: Vec<(String, Vec<u8>)>,
        stdout: Vec<u8>,
    },
    /// Runs until cancelled.
    UntilCancelled,
    /// Panics.
    Panic,
    /// Fails like an engine would.
    EngineDown,
}

impl Act {
    pub fn exit(code: i64) -> Act {
        Act::Exit {
            code,
            files: Vec::new(),
            stdout: Vec::new(),
        }
    }
}

/// A [`ContainerRunner`] that follows a script (the last act repeats) and records the specs
/// it got.
#[derive(Default)]
pub struct ScriptedRunner {
    script: Mutex<VecDeque<Act>>,
    pub specs: Mutex<Vec<ContainerSpec>>,
    /// Notified when a run starts.
    pub started: Notify,
    /// Runs under way.
    pub running: Mutex<usize>,
    /// The most runs ever under way at once.
    pub max_running: Mutex<usize>,
    /// How long each `Exit` act takes.
    pub delay: Mutex<Duration>,
    /// Set when a run was cancelled.
    pub cancelled: Mutex<usize>,
}

impl ScriptedRunner {
    pub fn new(acts: Vec<Act>) -> Arc<Self> {
        Arc::new(ScriptedRunner {
            script: Mutex::new(acts.into()),
            ..Default::default()
        })
    }

    fn next_act(&self) -> Act {
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap_or(Act::exit(0))
        }
    }

    pub fn runs(&self) -> usize {
        self.specs.lock().unwrap().len()
    }
}

struct Running<'a>(&'a ScriptedRunner);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *self.0.running.lock().unwrap() -= 1;
    }
}

#[async_trait]
impl ContainerRunner for ScriptedRunner {
    async fn run(
        &self,
        spec: &ContainerSpec,
        cancel: CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<ContainerExit, RunnerError> {
        self.specs.lock().unwrap().push(spec.clone());
        {
            let mut running = self.running.lock().unwrap();
            *running += 1;
            let mut max = self.max_running.lock().unwrap();
            *max = (*max).max(*running);
        }
        let _running = Running(self);
        self.started.notify_waiters();
        let output_dir: PathBuf = spec
            .binds
            .iter()
            .find(|b| b.container == "/seed/outputs")
            .map(|b| b.host.clone())
            .expect("OUTPUT_DIR is bound");
        match self.next_act() {
            Act::Exit {
                code,
                files,
                stdout,
            } => {
                let delay = *self.delay.lock().unwrap();
                tokio::select! {
                    _ = cancel.cancelled() => {
                        *self.cancelled.lock().unwrap() += 1;
                        return Ok(ContainerExit::Cancelled);
                    }
                    _ = tokio::time::sleep(delay) => {}
                }
                for (path, content) in files {
                    let path = output_dir.join(path);
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(path, content).unwrap();
                }
                logs.stdout(&stdout);
                logs.stderr(b"a line on stderr\n");
                Ok(ContainerExit::Exited(code))
            }
            Act::UntilCancelled => {
                cancel.cancelled().await;
                *self.cancelled.lock().unwrap() += 1;
                Ok(ContainerExit::Cancelled)
            }
            Act::Panic => panic!("the scripted runner panics"),
            Act::EngineDown => Err(RunnerError::EngineUnavailable(
                "the test engine is down".to_string(),
            )),
        }
    }
}

/// A store, job service, workspace and executor around a scripted runner.
pub struct Rig {
    pub jobs: JobService,
    pub workspace: Workspace,
    pub executor: Arc<Executor>,
    pub settings: QueueSettings,
    pub abort: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub async fn new(processes: Vec<Process>, runner: Arc<ScriptedRunner>) -> Rig {
        Rig::with_settings(processes, runner, test_settings()).await
    }

    pub async fn with_settings(
        processes: Vec<Process>,
        runner: Arc<ScriptedRunner>,
        settings: QueueSettings,
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::connect(dir.path().join("jobs.db").to_str().unwrap())
            .await
            .expect("open the test database");
        let jobs = JobService::new(Arc::new(store));
        let workspace = Workspace::new(dir.path());
        let executor = Arc::new(Executor::new(
            Catalog::from_processes(processes),
            runner.clone(),
            workspace.clone(),
            settings.clone(),
        ));
        Rig {
            jobs,
            workspace,
            executor,
            settings,
            abort: CancellationToken::new(),
            _dir: dir,
        }
    }

    pub fn worker(&self, name: &str) -> Worker {
        Worker::new(
            WorkerId(name.to_string()),
            self.jobs.clone(),
            self.executor.clone(),
            &self.settings,
            self.abort.clone(),
            Concurrency::fixed(self.settings.workers.max(1)),
        )
    }
}

/// Short leases and heartbeats, so lease paths run in milliseconds.
pub fn test_settings() -> QueueSettings {
    QueueSettings {
        workers: 2,
        lease: Duration::from_millis(600),
        heartbeat: Duration::from_millis(50),
        poll: Duration::from_millis(50),
        max_attempts: 3,
        ..QueueSettings::default()
    }
}
