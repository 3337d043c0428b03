//! `ades cwl run [--outdir DIR] PROCESS.cwl [JOB.yml]`: runs one CWL CommandLineTool in a
//! container, or a Workflow (each tool step in a container of its own, independent steps
//! at once), or an ExpressionTool without JavaScript, and prints its output object as JSON
//! (the command line `cwltest --tool` expects). Exit status 0 on success, 33 for a feature
//! ades does not support (JavaScript), 1 when a tool failed or the document is wrong.

use super::print;
use crate::cwl::{self, CwlError, Process, RunSettings, StepExecutor, Tool, ToolJob};
use crate::engine::{connect_engine, ContainerRunner, LogSink};
use crate::execution::Hardening;
use clap::Args;
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Image a tool without DockerRequirement runs in.
pub const DEFAULT_CWL_IMAGE: &str = "ades-cwl-base:latest";

#[derive(Debug, Args)]
pub struct CwlRunArgs {
    /// Directory the outputs are moved into (created if needed).
    #[arg(long, default_value = ".")]
    outdir: PathBuf,
    /// Print only the output object (the tool's own output still goes to stderr).
    #[arg(long)]
    quiet: bool,
    /// Image of a tool without DockerRequirement.
    #[arg(long, value_name = "IMAGE", default_value = DEFAULT_CWL_IMAGE)]
    default_container: String,
    /// Let a tool that asks for NetworkAccess use this Docker network (else it is refused).
    #[arg(long, value_name = "NETWORK", num_args = 0..=1, default_missing_value = "bridge")]
    allow_network: Option<String>,
    /// Most seconds a tool may run (its ToolTimeLimit, when smaller, wins).
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// The process (tool or workflow): a CWL file, `file.cwl#id` for one process of a
    /// $graph.
    tool: String,
    /// The job order (YAML or JSON): input id -> value.
    job: Option<PathBuf>,
}

pub async fn run(args: CwlRunArgs) -> u8 {
    match run_inner(&args).await {
        Ok(outputs) => {
            // Compact, with big whole numbers written out (see cwl::expression::to_json).
            println!("{}", cwl::expression::to_json(&outputs));
            0
        }
        Err(err) => {
            print::error(&err.to_string());
            match err {
                CwlError::Unsupported(_) => cwl::UNSUPPORTED_EXIT,
                _ => 1,
            }
        }
    }
}

async fn run_inner(args: &CwlRunArgs) -> Result<Value, CwlError> {
    let process = cwl::load_process(&args.tool)?;
    if let Some(expression) = process.javascript_without_requirement(false) {
        return Err(cwl::expression::ExpressionError::JavaScript(expression).into());
    }
    let (job_order, job_dir) = match &args.job {
        Some(path) => read_job(path)?,
        None => (Map::new(), std::env::current_dir().unwrap_or_default()),
    };
    std::fs::create_dir_all(&args.outdir).map_err(|err| {
        CwlError::Invalid(format!("cannot create {}: {err}", args.outdir.display()))
    })?;
    let outdir = std::fs::canonicalize(&args.outdir).unwrap_or(args.outdir.clone());
    if let Process::Expression(tool) = &process {
        let mut outputs = cwl::workflow_run::run_expression_tool(tool, job_order, &job_dir)?;
        cwl::run::realize_literals(&mut outputs, &outdir)?;
        return Ok(outputs);
    }
    let engine = connect_engine(Vec::new())
        .await
        .map_err(|err| CwlError::Failed(err.to_string()))?;
    let scratch = tempfile::Builder::new()
        .prefix("ades-cwl-")
        .tempdir()
        .map_err(|err| CwlError::Failed(format!("cannot make a scratch directory: {err}")))?;
    let settings = RunSettings {
        default_image: args.default_container.clone(),
        hardening: Hardening::default(),
        network: args.allow_network.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
        run_id: format!("cwl-{}", uuid::Uuid::new_v4().simple()),
    };
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    match &process {
        Process::Tool(tool) => {
            let job = ToolJob {
                tool,
                job_order,
                job_dir,
            };
            cwl::run_tool(
                engine.containers.as_ref(),
                job,
                scratch.path(),
                &outdir,
                &settings,
                cancel,
                &mut StderrSink,
            )
            .await
        }
        Process::Workflow(workflow) => {
            let steps = ContainerSteps {
                runner: engine.containers.clone(),
                scratch: scratch.path().to_path_buf(),
                settings,
                cancel,
                count: AtomicUsize::new(0),
            };
            let mut outputs = cwl::run_workflow(&steps, workflow, job_order, &job_dir).await?;
            cwl::relocate_outputs(&mut outputs, &outdir)?;
            Ok(outputs)
        }
        Process::Expression(tool) => {
            cwl::workflow_run::run_expression_tool(tool, job_order, &job_dir)
        }
    }
}

/// Runs each tool step of a workflow at once in a container of its own, in a directory of
/// its own under the run's scratch directory (kept until the workflow ends: later steps
/// read the files).
struct ContainerSteps {
    runner: Arc<dyn ContainerRunner>,
    scratch: PathBuf,
    settings: RunSettings,
    cancel: CancellationToken,
    count: AtomicUsize,
}

#[async_trait::async_trait]
impl StepExecutor for ContainerSteps {
    async fn run_tool(
        &self,
        name: &str,
        tool: &Tool,
        job_order: Map<String, Value>,
    ) -> Result<Value, CwlError> {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let dir = self.scratch.join(format!("step-{n}"));
        let outdir = dir.join("out");
        std::fs::create_dir_all(&outdir)
            .map_err(|err| CwlError::Failed(format!("cannot make {}: {err}", outdir.display())))?;
        let mut settings = self.settings.clone();
        settings.run_id = format!("{}-{n}", settings.run_id);
        if !self.cancel.is_cancelled() {
            eprintln!("[step {name}] starting");
        }
        let job = ToolJob {
            tool,
            job_order,
            job_dir: dir.clone(),
        };
        cwl::run_tool(
            self.runner.as_ref(),
            job,
            &dir.join("scratch"),
            &outdir,
            &settings,
            self.cancel.child_token(),
            &mut StderrSink,
        )
        .await
    }

    fn cancel(&self) {
        self.cancel.cancel();
    }
}

/// The job order in `path` and the directory its relative locations are read from.
fn read_job(path: &Path) -> Result<(Map<String, Value>, PathBuf), CwlError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| CwlError::Invalid(format!("cannot read {}: {err}", path.display())))?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    match cwl::document::parse_yaml(&text)? {
        Value::Object(map) => Ok((map, dir)),
        Value::Null => Ok((Map::new(), dir)),
        other => Err(CwlError::Invalid(format!(
            "the job order {} is {other}: it must be a mapping of input ids to values",
            path.display()
        ))),
    }
}

/// The tool's output that it does not catch in files goes to stderr: stdout is for the
/// output object.
struct StderrSink;

impl LogSink for StderrSink {
    fn stdout(&mut self, chunk: &[u8]) {
        let _ = std::io::stderr().write_all(chunk);
    }
    fn stderr(&mut self, chunk: &[u8]) {
        let _ = std::io::stderr().write_all(chunk);
    }
}
