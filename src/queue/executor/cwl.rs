//! One attempt of a job whose process is a deployed CWL CommandLineTool: the inputs staged
//! as a Seed job's are, then given to the tool as its job order (file inputs as File
//! objects, values as they are), the `ResourceRequirement` reserved from the same pool, the
//! tool run by `crate::cwl::run_tool` on the same runner (labelled, its pulls and
//! progress reported, hardened by the operator's settings), and its output object turned
//! into the job's results: Files (and the files in a Directory) as links, other values as
//! values.
//!
//! Choices:
//! - The tool runs in `<job>/cwl/` (its output directory and staged literals), emptied at
//!   every attempt; the outputs are moved into `outputs/` as the tool's output object
//!   names them, so they are served and published like Seed outputs.
//! - A lost worker's CWL container is not taken over: the next attempt runs the tool again
//!   (it is removed when its run ends, and the start-up sweep removes any left).
//! - Time limit: `ToolTimeLimit`, else [`DEFAULT_TIMEOUT`].
//! - A tool that fails (exit code, missing output) fails the job `job`; a job order the
//!   tool refuses (types) fails it `data`.

use super::*;
use crate::cwl::process::CwlBinding;
use crate::cwl::{run_tool, CwlError, RunSettings, ToolJob};
use crate::domain::OutputValue;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Time limit of a tool without `ToolTimeLimit` (and the most one may ask).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Failure name: the CWL tool ended without success (`job`).
pub const CWL_TOOL_FAILED: &str = "cwl-tool-failed";

impl Executor {
    /// Runs a CWL job's attempt to its end.
    pub(super) async fn run_cwl(
        &self,
        job: &Job,
        process: &Arc<Process>,
        cwl: &CwlBinding,
        cancel: CancellationToken,
        progress: &dyn ProgressReporter,
        trace: &mut RunTrace,
    ) -> Result<Outcome, Outcome> {
        let mut log = LogFile::open(&self.workspace.log_file(&job.id), MAX_LOG_BYTES)
            .map_err(|err| workspace_failure(&err))?;
        log.note(&format!(
            "attempt {} of job {}: {} (CWL CommandLineTool, {})",
            job.attempt, job.id, process.id, cwl.pinned
        ));
        let invocation = self
            .stage(job, process, &cancel, progress, &mut log)
            .await?;
        trace.invocation = Some(invocation.clone());
        let job_order = job_order(process, &invocation);

        let run_config = self
            .settings
            .processes
            .get(process.id.as_str())
            .cloned()
            .unwrap_or_default();
        let hardening = self
            .settings
            .hardening
            .clone()
            .with_opt_outs(&run_config.opt_outs);
        let inputs_dir = self.workspace.inputs_dir(&job.id);
        let outputs_dir = self.workspace.outputs_dir(&job.id);
        let scratch = self.workspace.job_dir(&job.id).join("cwl");
        for dir in [&inputs_dir, &outputs_dir] {
            std::fs::create_dir_all(dir)
                .map_err(|err| workspace_failure(&format!("{}: {err}", dir.display())))?;
        }
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .map_err(|err| workspace_failure(&format!("{}: {err}", scratch.display())))?;
        }
        let allocation = allocation(cwl);
        let reservation = match self.resources.reserve(&allocation, &cancel, progress).await {
            Ok(reservation) => reservation,
            Err(ReserveError::Cancelled) => return Err(Outcome::Abandoned),
            Err(ReserveError::TooLarge(description)) => {
                log.note(&description);
                log.finish();
                return Err(failed(ades_failure(
                    INSUFFICIENT_RESOURCES,
                    "Insufficient resources",
                    description,
                    FailureCategory::System,
                )));
            }
        };
        progress.report("running container").await;
        let runner = LabellingRunner {
            inner: self.runner.as_ref(),
            job_id: job.id.as_str(),
            process: process.id.as_str(),
            progress,
            metrics: &self.metrics,
        };
        let settings = RunSettings {
            default_image: cwl.pinned.clone(),
            hardening,
            network: self.settings.network.clone(),
            timeout: DEFAULT_TIMEOUT,
            run_id: run_id(job),
        };
        let started = std::time::Instant::now();
        let mut sink = FactsCatcher::new(&mut log);
        let result = run_tool(
            &runner,
            ToolJob {
                tool: &cwl.tool,
                job_order,
                job_dir: inputs_dir,
            },
            &scratch,
            &outputs_dir,
            &settings,
            cancel.clone(),
            &mut sink,
        )
        .await;
        trace.facts = sink.facts;
        drop(reservation);
        if let Err(err) = std::fs::remove_dir_all(&scratch) {
            if err.kind() != std::io::ErrorKind::NotFound {
                log.note(&format!("cannot remove {}: {err}", scratch.display()));
            }
        }
        if cancel.is_cancelled() {
            return Err(Outcome::Abandoned);
        }
        let outcome = match result {
            Ok(output) => {
                self.cwl_published(job, process, &output, &outputs_dir, started.elapsed())
                    .await
            }
            Err(CwlError::Runner(err)) => failed(engine_failure(&err)),
            Err(CwlError::Invalid(message)) => failed(ades_failure(
                INVALID_INPUT,
                "Invalid input",
                message,
                FailureCategory::Data,
            )),
            Err(CwlError::Unsupported(message)) => failed(ades_failure(
                INVALID_INPUT,
                "Invalid input",
                message,
                FailureCategory::Data,
            )),
            Err(CwlError::Failed(message)) => failed(ades_failure(
                CWL_TOOL_FAILED,
                "CWL tool failed",
                message,
                FailureCategory::Job,
            )),
        };
        match &outcome {
            Outcome::Complete(Completion::Failed { message, .. }) => log.note(message),
            Outcome::Complete(Completion::Succeeded { results, .. }) => {
                trace.outputs = Some(captured(results, &outputs_dir));
            }
            Outcome::Abandoned => {}
        }
        log.finish();
        Ok(outcome)
    }

    /// Publishes the outputs the tool left and makes its output object the job's results.
    async fn cwl_published(
        &self,
        job: &Job,
        process: &Process,
        output: &Value,
        outputs_dir: &Path,
        took: Duration,
    ) -> Outcome {
        if let Err(message) = self.workspace.publish_outputs(&job.id).await {
            return workspace_failure(&message);
        }
        let mut results = JobResults::new();
        if let Value::Object(members) = output {
            for (id, value) in members {
                let mut values = output_values(value, outputs_dir);
                // Files are served as the media type the description gives them (the
                // tool's `format`), else as their name suggests.
                let declared = process.output(id).and_then(|o| match &o.kind {
                    crate::domain::OutputKind::File { media_type, .. } => media_type.clone(),
                    crate::domain::OutputKind::Json { .. } => None,
                });
                for value in &mut values {
                    if let OutputValue::File { media_type, .. } = value {
                        media_type.clone_from(&declared);
                    }
                }
                if !values.is_empty() {
                    results.insert(id.clone(), values);
                }
            }
        }
        if let Err(message) = self.publish_to_output_workspace(job, &mut results).await {
            return workspace_failure(&message);
        }
        Outcome::Complete(Completion::Succeeded {
            results,
            message: format!("finished in {:.1} s", took.as_secs_f64()),
        })
    }
}

/// The job order of a staged invocation: each file input a File (a list of them for an
/// input that takes several), each value as given.
fn job_order(process: &Process, invocation: &seed::contract::Invocation) -> Map<String, Value> {
    let mut order = Map::new();
    for (id, value) in &invocation.json {
        order.insert(id.clone(), value.clone());
    }
    for (id, paths) in &invocation.files {
        let files: Vec<Value> = paths
            .iter()
            .map(|path| json!({"class": "File", "location": crate::cwl::outputs::file_location(path)}))
            .collect();
        let several = process
            .input(id)
            .is_some_and(|input| input.max_occurs != Some(1));
        let value = match (several, files.len()) {
            (false, 1) => files.into_iter().next().unwrap_or(Value::Null),
            _ => Value::Array(files),
        };
        order.insert(id.clone(), value);
    }
    order
}

/// What the tool asks for, as the pool counts Seed jobs: `coresMin` CPUs, `ramMin` MiB,
/// `outdirMin` MiB of disk (literal numbers only).
fn allocation(cwl: &CwlBinding) -> Allocation {
    let mut allocation = Allocation::default();
    for resource in &cwl.resources {
        match resource.name.as_str() {
            "cpus" => allocation.cpus = Some(resource.value),
            "mem" => allocation.mem_mib = Some(resource.value),
            "disk" => allocation.disk_mib = Some(resource.value),
            _ => {}
        }
        allocation.all.push((resource.name.clone(), resource.value));
    }
    allocation
}

/// One output's values: a File as a link, a Directory as the files in it, a list as its
/// items, anything else as one JSON value. Paths are relative to `outputs_dir` (the tool's
/// outputs were moved there); a file elsewhere is not served.
fn output_values(value: &Value, outputs_dir: &Path) -> Vec<OutputValue> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) if items.iter().any(is_file_object) => items
            .iter()
            .flat_map(|item| output_values(item, outputs_dir))
            .collect(),
        object if is_file_object(object) => {
            let path = object
                .get("location")
                .and_then(Value::as_str)
                .map(crate::cwl::outputs::location_path)
                .unwrap_or_default();
            if object.get("class").and_then(Value::as_str) == Some("Directory") {
                return files_under(&path, outputs_dir);
            }
            file_value(&path, outputs_dir).into_iter().collect()
        }
        other => vec![OutputValue::Json {
            value: other.clone(),
        }],
    }
}

fn is_file_object(value: &Value) -> bool {
    matches!(
        value.get("class").and_then(Value::as_str),
        Some("File") | Some("Directory")
    )
}

fn file_value(path: &Path, outputs_dir: &Path) -> Option<OutputValue> {
    let relative = path.strip_prefix(outputs_dir).ok()?;
    let size = std::fs::symlink_metadata(path).ok()?.len();
    Some(OutputValue::File {
        path: relative.to_string_lossy().into_owned(),
        media_type: None,
        size_bytes: size,
        metadata: None,
        published: None,
    })
}

/// The regular files under a directory output, sorted (links are never followed).
fn files_under(dir: &Path, outputs_dir: &Path) -> Vec<OutputValue> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
        .iter()
        .filter_map(|path| file_value(path, outputs_dir))
        .collect()
}

/// The results as the provenance record takes a Seed job's captured outputs.
fn captured(results: &JobResults, outputs_dir: &Path) -> seed::outputs::CapturedOutputs {
    let mut captured = seed::outputs::CapturedOutputs::default();
    for (id, values) in results {
        for value in values {
            match value {
                OutputValue::File {
                    path,
                    media_type,
                    size_bytes,
                    ..
                } => captured.files.entry(id.clone()).or_default().push(
                    seed::outputs::CapturedFile {
                        path: outputs_dir.join(path),
                        relative: path.clone(),
                        media_type: media_type.clone(),
                        size_bytes: *size_bytes,
                        metadata: None,
                    },
                ),
                OutputValue::Json { value } => {
                    captured.json.insert(id.clone(), value.clone());
                }
            }
        }
    }
    captured
}
