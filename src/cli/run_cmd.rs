//! `ades run IMAGE -i NAME=path … -j NAME=value … -e NAME=value … -m NAME=dir … -o DIR`.

use super::{print, seed_cmd, status, ConfigFileArgs, ContainerArgs, RunArgs};
use crate::config::Overrides;
use crate::engine::{connect_engine, ContainerRunner, Engine, ImageError};
use crate::engine::{ContainerExit, LogSink, RunnerError};
use crate::execution::{
    container_user, plan_job, run_seed_job, ExecutionError, Hardening, OptOuts, SeedJob,
    SeedJobReport,
};
use crate::startup::registry_settings;
use seed::contract::{format_allocation, json_arg, Invocation, Policy};
use seed::label::decode_label;
use seed::validate::manifest_from_value;
use seed::{Manifest, Problem};
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub async fn run(args: RunArgs) -> u8 {
    finish(run_inner(args).await, "the job was not started", "the job")
}

/// The exit status of `ades run` or `ades seed batch`, saying why when it failed: `refused`
/// heads the list of command-line problems, `what` names what an interrupt came before.
pub(super) fn finish(outcome: Result<u8, Failure>, refused: &str, what: &str) -> u8 {
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(problems)) => {
            print::error(&format!("{refused}:"));
            print::problems(&problems);
            status::USAGE
        }
        Err(Failure::Other(message)) => {
            print::error(&message);
            status::ERROR
        }
        Err(Failure::Interrupted) => {
            print::error(&format!("interrupted before {what} started"));
            status::INTERRUPTED
        }
    }
}

/// Why `ades run` stopped before or around the container.
pub(super) enum Failure {
    /// The command line does not fit the manifest; nothing started.
    Usage(Vec<Problem>),
    Other(String),
    /// Ctrl-C before the container existed (while pulling its image).
    Interrupted,
}

/// What every run of one image shares: the engine, the runner (with the configuration's
/// registry credentials), the interrupt token and the manifest from the image's label.
pub(super) struct Prepared {
    pub runner: Arc<dyn ContainerRunner>,
    pub cancel: CancellationToken,
    pub manifest: Manifest,
}

/// Loads the configuration, connects to the engine, pulls `image` when absent and reads its
/// manifest. Ctrl-C from here on fires the returned token.
pub(super) async fn prepare(
    config: &ConfigFileArgs,
    image: &str,
    sink: &mut TerminalSink,
) -> Result<Prepared, Failure> {
    // The same configuration as `ades serve`: an absent image is pulled with the registry
    // credentials the servers use.
    let settings = config
        .load(Overrides::default())
        .map_err(|err| Failure::Other(err.to_string()))?;
    let credentials = registry_settings(&settings).credentials;
    let engine = connect_engine(credentials)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    pull_if_absent(&engine, image, &cancel, sink).await?;
    let label = seed_cmd::image_label(engine.images.as_ref(), image)
        .await
        .map_err(Failure::Other)?;
    let manifest = manifest_from_label(image, &label)?;
    Ok(Prepared {
        runner: engine.containers,
        cancel,
        manifest,
    })
}

/// The job for one run of `image`, confined as the container flags say.
pub(super) fn seed_job(
    image: &str,
    manifest: Manifest,
    invocation: Invocation,
    output_dir: PathBuf,
    container: &ContainerArgs,
) -> SeedJob {
    let hardening = Hardening {
        user: Some(container_user(
            container.user.as_deref().unwrap_or_default(),
        )),
        ..Hardening::default()
    }
    .with_opt_outs(&OptOuts {
        run_as_root: container.run_as_root,
        writable_root: container.writable_root,
        pids_limit: container.pids_limit,
    });
    SeedJob {
        image: image.to_string(),
        manifest,
        invocation,
        output_dir,
        run_id: uuid::Uuid::new_v4().simple().to_string(),
        policy: Policy {
            allow_unknown_resources: container.allow_unknown_resources,
        },
        hardening,
        network: container.network.clone(),
        keep_container: false,
    }
}

async fn run_inner(args: RunArgs) -> Result<u8, Failure> {
    let mut sink = TerminalSink {
        stdout_to_stderr: args.json,
    };
    let Prepared {
        runner,
        cancel,
        manifest,
    } = prepare(&args.config, &args.image, &mut sink).await?;
    let flags = Flags {
        inputs: &args.inputs,
        json_inputs: &args.json_inputs,
        settings: &args.settings,
        mounts: &args.mounts,
    };
    let invocation = invocation_from_flags(&manifest, &flags)?;
    let (output_dir, created_output_dir) = prepare_output_dir(args.output.as_deref(), &manifest)?;
    let job = seed_job(
        &args.image,
        manifest,
        invocation,
        output_dir.clone(),
        &args.container,
    );
    // Check before announcing anything, so a bad invocation leaves no output directory.
    if let Err(ExecutionError::Invocation(problems)) = plan_job(&job) {
        if created_output_dir {
            let _ = std::fs::remove_dir(&output_dir);
        }
        return Err(Failure::Usage(problems));
    }

    if !args.json {
        print::note(&format!(
            "running {} (outputs in {})",
            args.image,
            output_dir.display()
        ));
    }
    let report = match run_seed_job(runner.as_ref(), &job, cancel, &mut sink).await {
        Ok(report) => report,
        Err(ExecutionError::Invocation(problems)) => return Err(Failure::Usage(problems)),
        Err(ExecutionError::Runner(err)) => return Err(Failure::Other(runner_message(err))),
        Err(ExecutionError::Workspace(message)) => return Err(Failure::Other(message)),
    };
    if args.json {
        print::json(&JsonReport::new(&job, &report));
    } else {
        print_report(&job, &report);
    }
    Ok(exit_status(&report))
}

pub(super) fn runner_message(err: RunnerError) -> String {
    err.to_string()
}

/// Pulls the image when the local engine lacks it: the manifest is read from the local
/// image's label, so a registry-only image must arrive before anything else can be checked.
/// Progress goes to stderr through the sink's status lines.
async fn pull_if_absent(
    engine: &Engine,
    image: &str,
    cancel: &CancellationToken,
    sink: &mut TerminalSink,
) -> Result<(), Failure> {
    match engine.images.inspect_image(image).await {
        Err(ImageError::NotFound(_)) => {}
        // Present, or an engine error that reading the label reports next.
        _ => return Ok(()),
    }
    match engine.images.pull_image(image, cancel, sink).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Interrupted),
        Err(err) => Err(Failure::Other(runner_message(err))),
    }
}

fn manifest_from_label(image: &str, label: &str) -> Result<Manifest, Failure> {
    let document =
        decode_label(label).map_err(|e| Failure::Other(format!("image {image}: {e}")))?;
    match manifest_from_value(document) {
        Ok(valid) => Ok(valid.manifest),
        Err(problems) => {
            print::error(&format!(
                "image {image} carries an invalid Seed manifest; it cannot be run:"
            ));
            print::problems(&problems);
            Err(Failure::Other(
                "fix the manifest and rebuild the image with `ades seed build`".to_string(),
            ))
        }
    }
}

/// Splits `NAME=VALUE`, reporting a malformed flag against its option.
pub(super) fn split_pair<'a>(flag: &str, raw: &'a str) -> Result<(&'a str, &'a str), Problem> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => Err(Problem::error(
            flag,
            format!("`{flag} {raw}` must be written NAME=VALUE"),
        )),
    }
}

/// The `-i`, `-j`, `-e` and `-m` flags of a run, as written.
pub(super) struct Flags<'a> {
    pub inputs: &'a [String],
    pub json_inputs: &'a [String],
    pub settings: &'a [String],
    pub mounts: &'a [String],
}

/// Builds the invocation from the flags; the contract checks it against the manifest.
pub(super) fn invocation_from_flags(
    manifest: &Manifest,
    args: &Flags<'_>,
) -> Result<Invocation, Failure> {
    let mut invocation = Invocation::default();
    let mut problems = Vec::new();
    for raw in args.inputs {
        match split_pair("-i", raw) {
            Ok((name, path)) => invocation
                .files
                .entry(name.to_string())
                .or_default()
                .push(PathBuf::from(path)),
            Err(problem) => problems.push(problem),
        }
    }
    for raw in args.json_inputs {
        match split_pair("-j", raw) {
            Ok((name, text)) => match json_text(text) {
                Ok(text) => {
                    invocation
                        .json
                        .insert(name.to_string(), json_arg(manifest, name, &text));
                }
                Err(message) => problems.push(Problem::error(name, message)),
            },
            Err(problem) => problems.push(problem),
        }
    }
    for raw in args.settings {
        match split_pair("-e", raw) {
            Ok((name, value)) => {
                invocation
                    .settings
                    .insert(name.to_string(), value.to_string());
            }
            Err(problem) => problems.push(problem),
        }
    }
    for raw in args.mounts {
        match split_pair("-m", raw) {
            Ok((name, dir)) => {
                invocation
                    .mounts
                    .insert(name.to_string(), PathBuf::from(dir));
            }
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(invocation)
    } else {
        Err(Failure::Usage(problems))
    }
}

/// The text of a json input: `@path` reads a file, anything else is taken as written.
fn json_text(text: &str) -> Result<String, String> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim_end().to_string())
            .map_err(|e| format!("cannot read the value file {path}: {e}")),
        None => Ok(text.to_string()),
    }
}

/// Creates the output directory (default `./output-<job>-<time>`); it must end up empty so
/// the job starts with an empty `OUTPUT_DIR`. Also says whether this call created it.
pub(super) fn prepare_output_dir(
    requested: Option<&Path>,
    manifest: &Manifest,
) -> Result<(PathBuf, bool), Failure> {
    let dir = match requested {
        Some(dir) => dir.to_path_buf(),
        None => {
            let now = time::OffsetDateTime::now_utc();
            let stamp = now
                .format(time::macros::format_description!(
                    "[year][month][day]T[hour][minute][second]Z"
                ))
                .unwrap_or_default();
            PathBuf::from(format!("output-{}-{stamp}", manifest.job.name))
        }
    };
    let created = !dir.exists();
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", dir.display())))?;
    let mut entries = std::fs::read_dir(&dir)
        .map_err(|e| Failure::Other(format!("cannot read {}: {e}", dir.display())))?;
    if entries.next().is_some() {
        return Err(Failure::Other(format!(
            "the output directory {} is not empty: give a new or empty directory with -o",
            dir.display()
        )));
    }
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| Failure::Other(format!("cannot resolve {}: {e}", dir.display())))?;
    Ok((dir, created))
}

/// Streams container output to the terminal as it arrives.
pub(super) struct TerminalSink {
    /// In `--json` mode stdout carries the report, so the container's stdout goes to stderr.
    pub stdout_to_stderr: bool,
}

impl LogSink for TerminalSink {
    fn stdout(&mut self, chunk: &[u8]) {
        if self.stdout_to_stderr {
            let _ = std::io::stderr().write_all(chunk);
        } else {
            let mut out = std::io::stdout();
            let _ = out.write_all(chunk);
            let _ = out.flush();
        }
    }

    fn stderr(&mut self, chunk: &[u8]) {
        let _ = std::io::stderr().write_all(chunk);
    }

    fn status(&mut self, message: &str) {
        print::note(message);
    }
}

pub(super) fn exit_status(report: &SeedJobReport) -> u8 {
    match &report.exit {
        ContainerExit::Exited(0) if report.succeeded() => status::OK,
        ContainerExit::Exited(0) => status::ERROR,
        // Exit codes are 0..=255 on Linux; anything else still reports failure.
        ContainerExit::Exited(code) => u8::try_from(*code).unwrap_or(status::ERROR),
        ContainerExit::TimedOut => status::TIMEOUT,
        ContainerExit::Cancelled => status::INTERRUPTED,
        // What the container itself exited with when the engine killed it.
        ContainerExit::OutOfMemory => 137,
    }
}

pub(super) fn print_report(job: &SeedJob, report: &SeedJobReport) {
    let secs = report.duration.as_secs_f64();
    for warning in &report.warnings {
        print::warning(warning);
    }
    match report.failures.first() {
        None => print::success(&format!(
            "{} {} succeeded in {secs:.1} s",
            job.manifest.job.name, job.manifest.job.job_version
        )),
        Some(main) => {
            let exit = match &report.exit {
                ContainerExit::Exited(code) => format!("exit code {code}"),
                ContainerExit::TimedOut => "killed at its timeout".to_string(),
                ContainerExit::Cancelled => "cancelled".to_string(),
                ContainerExit::OutOfMemory => "killed at its memory limit".to_string(),
            };
            print::error(&format!(
                "{} {} failed after {secs:.1} s ({exit})",
                job.manifest.job.name, job.manifest.job.job_version
            ));
            for failure in &report.failures {
                let category = serde_json::to_value(failure.category)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                print::note(&format!(
                    "  {}: {} [{category} error]",
                    failure.name, failure.title
                ));
                if !failure.description.is_empty() {
                    print::note(&format!("    {}", failure.description));
                }
            }
            let _ = main;
        }
    }
    let files: Vec<_> = report.outputs.files.iter().collect();
    if !files.is_empty() {
        print::note("output files:");
        for (name, captured) in files {
            if captured.is_empty() {
                print::note(&format!("  {name}: (none)"));
            }
            for file in captured {
                let media = file.media_type.as_deref().unwrap_or("");
                let meta = if file.metadata.is_some() {
                    ", with metadata"
                } else {
                    ""
                };
                print::note(&format!(
                    "  {name}: {} ({}{}{media}{meta})",
                    file.path.display(),
                    print::size(file.size_bytes),
                    if media.is_empty() { "" } else { ", " },
                ));
            }
        }
    }
    if !report.outputs.json.is_empty() {
        print::note("json outputs:");
        for (name, value) in &report.outputs.json {
            print::note(&format!("  {name} = {value}"));
        }
    }
}

/// The `--json` report of `ades run`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsonReport {
    image: String,
    run_id: String,
    /// `successful` or `failed` (the OGC job status words).
    status: &'static str,
    exit_code: Option<i64>,
    timed_out: bool,
    cancelled: bool,
    failures: Value,
    outputs: Value,
    allocated: Value,
    output_dir: String,
    duration_seconds: f64,
    warnings: Vec<String>,
}

impl JsonReport {
    pub(super) fn new(job: &SeedJob, report: &SeedJobReport) -> Self {
        let files: serde_json::Map<String, Value> = report
            .outputs
            .files
            .iter()
            .map(|(name, captured)| {
                let list: Vec<Value> = captured
                    .iter()
                    .map(|f| {
                        json!({
                            "path": f.path,
                            "relativePath": f.relative,
                            "mediaType": f.media_type,
                            "sizeBytes": f.size_bytes,
                            "metadata": f.metadata,
                        })
                    })
                    .collect();
                (name.clone(), Value::Array(list))
            })
            .collect();
        let allocated: serde_json::Map<String, Value> = report
            .allocation
            .all
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(format_allocation(*value))))
            .collect();
        JsonReport {
            image: job.image.clone(),
            run_id: job.run_id.clone(),
            status: if report.succeeded() {
                "successful"
            } else {
                "failed"
            },
            exit_code: match report.exit {
                ContainerExit::Exited(code) => Some(code),
                ContainerExit::OutOfMemory => Some(137),
                _ => None,
            },
            timed_out: report.exit == ContainerExit::TimedOut,
            cancelled: report.exit == ContainerExit::Cancelled,
            failures: serde_json::to_value(&report.failures).unwrap_or(Value::Null),
            outputs: json!({ "files": files, "json": report.outputs.json }),
            allocated: Value::Object(allocated),
            output_dir: job.output_dir.display().to_string(),
            duration_seconds: report.duration.as_secs_f64(),
            warnings: report.warnings.clone(),
        }
    }
}
