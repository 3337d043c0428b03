//! `ades seed batch IMAGE -d DIR [-o OUTDIR] [-i NAME] [-i NAME=PATH] [-j ...]`: `ades run`
//! once per file of a directory, like `seed batch`, with a summary at the end.

use super::run_cmd::{
    invocation_from_flags, prepare, prepare_output_dir, runner_message, seed_job, Failure, Flags,
    JsonReport, Prepared, TerminalSink,
};
use super::{print, status, BatchArgs};
use crate::engine::ContainerExit;
use crate::execution::{plan_job, run_seed_job, ExecutionError};
use seed::{Manifest, Problem};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub async fn batch(args: BatchArgs) -> u8 {
    super::run_cmd::finish(batch_inner(args).await, "nothing was run", "the first run")
}

/// One file's run in the `--json` summary.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchRun {
    file: String,
    output_dir: String,
    /// `successful` or `failed`.
    status: &'static str,
    /// Why the run failed before or without a container report, if it did.
    message: Option<String>,
    /// The run's `ades run --json` report, when its container ran.
    report: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchSummary {
    image: String,
    /// The file input the files were bound to.
    input: String,
    output_dir: String,
    succeeded: usize,
    failed: usize,
    runs: Vec<BatchRun>,
}

async fn batch_inner(args: BatchArgs) -> Result<u8, Failure> {
    let files = files_in(&args.dir)?;
    let (named, fixed): (Vec<&String>, Vec<&String>) =
        args.inputs.iter().partition(|raw| !raw.contains('='));
    if named.len() > 1 {
        return Err(Failure::Usage(vec![Problem::error(
            "-i",
            "name only one input to bind the files to (`-i NAME`); give the others a file with -i NAME=PATH",
        )]));
    }
    let fixed: Vec<String> = fixed.into_iter().cloned().collect();
    // The containers' output goes to stderr: stdout is kept for the --json summary.
    let mut sink = TerminalSink {
        stdout_to_stderr: true,
    };
    let Prepared {
        runner,
        cancel,
        manifest,
    } = prepare(&args.config, &args.image, &mut sink).await?;
    let input = batch_input(&manifest, named.first().map(|s| s.as_str()), &fixed)?;
    let flags = Flags {
        inputs: &fixed,
        json_inputs: &args.json_inputs,
        settings: &args.settings,
        mounts: &args.mounts,
    };
    let base = invocation_from_flags(&manifest, &flags)?;
    let root = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_root(&manifest)));
    std::fs::create_dir_all(&root)
        .map_err(|e| Failure::Other(format!("cannot create {}: {e}", root.display())))?;

    print::note(&format!(
        "running {} on the {} file(s) of {} as {input} (outputs in {})",
        args.image,
        files.len(),
        args.dir.display(),
        root.display()
    ));
    let mut runs = Vec::new();
    let mut interrupted = false;
    for (index, file) in files.iter().enumerate() {
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output = root.join(&file_name);
        let mut run = BatchRun {
            file: file.display().to_string(),
            output_dir: output.display().to_string(),
            status: "failed",
            message: None,
            report: None,
        };
        let (output_dir, created) = match prepare_output_dir(Some(&output), &manifest) {
            Ok(prepared) => prepared,
            Err(failure) => {
                run.message = Some(failure_text(failure));
                print::error(&format!(
                    "FAIL {file_name}: {}",
                    run.message.as_deref().unwrap_or("")
                ));
                runs.push(run);
                continue;
            }
        };
        let mut invocation = base.clone();
        invocation.files.insert(input.clone(), vec![file.clone()]);
        let job = seed_job(
            &args.image,
            manifest.clone(),
            invocation,
            output_dir.clone(),
            &args.container,
        );
        if let Err(ExecutionError::Invocation(problems)) = plan_job(&job) {
            if created {
                let _ = std::fs::remove_dir(&output_dir);
            }
            // A command line that does not fit the manifest fails every file alike: stop
            // before anything ran.
            if index == 0 {
                return Err(Failure::Usage(problems));
            }
            run.message = Some(
                problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            print::error(&format!(
                "FAIL {file_name}: {}",
                run.message.as_deref().unwrap_or("")
            ));
            runs.push(run);
            continue;
        }
        match run_seed_job(runner.as_ref(), &job, cancel.clone(), &mut sink).await {
            Ok(report) => {
                if report.succeeded() {
                    run.status = "successful";
                    print::success(&format!(
                        "OK   {file_name} ({:.1} s)",
                        report.duration.as_secs_f64()
                    ));
                } else {
                    let why = failure_summary(
                        &report.exit,
                        report.failures.first().map(|f| f.title.as_str()),
                    );
                    print::error(&format!("FAIL {file_name}: {why}"));
                    run.message = Some(why);
                }
                if report.exit == ContainerExit::Cancelled {
                    interrupted = true;
                }
                run.report = serde_json::to_value(JsonReport::new(&job, &report)).ok();
            }
            Err(ExecutionError::Invocation(problems)) => {
                let text = problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                print::error(&format!("FAIL {file_name}: {text}"));
                run.message = Some(text);
            }
            Err(ExecutionError::Runner(err)) => {
                let text = runner_message(err);
                print::error(&format!("FAIL {file_name}: {text}"));
                run.message = Some(text);
            }
            Err(ExecutionError::Workspace(text)) => {
                print::error(&format!("FAIL {file_name}: {text}"));
                run.message = Some(text);
            }
        }
        runs.push(run);
        if interrupted || cancel.is_cancelled() {
            interrupted = true;
            break;
        }
    }

    let succeeded = runs.iter().filter(|r| r.status == "successful").count();
    let failed = runs.len() - succeeded;
    let not_run = files.len() - runs.len();
    let mut line = format!(
        "{} file(s): {succeeded} succeeded, {failed} failed",
        files.len()
    );
    if not_run > 0 {
        line.push_str(&format!(", {not_run} not run (interrupted)"));
    }
    if failed == 0 && not_run == 0 {
        print::success(&line);
    } else {
        print::error(&line);
    }
    if args.json {
        print::json(&BatchSummary {
            image: args.image.clone(),
            input,
            output_dir: root.display().to_string(),
            succeeded,
            failed,
            runs,
        });
    }
    Ok(if interrupted {
        status::INTERRUPTED
    } else if failed > 0 {
        status::ERROR
    } else {
        status::OK
    })
}

/// The regular files directly in `dir`, sorted by name, as absolute paths.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::Other(format!(
            "cannot read the input directory {}: {e} (give a directory of input files with -d)",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::Other(format!("cannot read {}: {e}", dir.display())))?
            .path();
        if path.is_file() {
            let path = std::fs::canonicalize(&path)
                .map_err(|e| Failure::Other(format!("cannot resolve {}: {e}", path.display())))?;
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Failure::Other(format!(
            "{} holds no files: nothing to run",
            dir.display()
        )));
    }
    Ok(files)
}

/// The file input the batch binds its files to: the one named with `-i NAME`; else, of the
/// inputs not given with `-i NAME=PATH`, the only required one, or the first when none is
/// required (as seed-cli picks).
fn batch_input(
    manifest: &Manifest,
    named: Option<&str>,
    fixed: &[String],
) -> Result<String, Failure> {
    let interface = manifest.interface();
    let inputs = &interface.inputs.files;
    let usage = |message: String| Failure::Usage(vec![Problem::error("-i", message)]);
    let names = || {
        inputs
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if inputs.is_empty() {
        return Err(usage(format!(
            "image {} declares no file input to bind the files to",
            manifest.job.name
        )));
    }
    if let Some(name) = named {
        return match inputs.iter().find(|f| f.name == name) {
            Some(found) => Ok(found.name.clone()),
            None => Err(usage(format!(
                "{name} is not a file input of {}: choose one of {}",
                manifest.job.name,
                names()
            ))),
        };
    }
    let given = |name: &str| {
        fixed
            .iter()
            .any(|raw| raw.split_once('=').map(|(n, _)| n) == Some(name))
    };
    let open: Vec<_> = inputs.iter().filter(|f| !given(&f.name)).collect();
    let required: Vec<_> = open.iter().filter(|f| f.required).collect();
    match (required.as_slice(), open.first()) {
        ([only], _) => Ok(only.name.clone()),
        ([], Some(first)) => Ok(first.name.clone()),
        ([], None) => Err(usage(format!(
            "every file input of {} is given with -i NAME=PATH: leave one for the files, or name it with -i NAME",
            manifest.job.name
        ))),
        (several, _) => Err(usage(format!(
            "{} has several required file inputs ({}): name the one the files go to with -i NAME and give the others with -i NAME=PATH",
            manifest.job.name,
            several
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn default_root(manifest: &Manifest) -> String {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    format!("batch-{}-{stamp}", manifest.job.name)
}

fn failure_summary(exit: &ContainerExit, title: Option<&str>) -> String {
    let exit = match exit {
        ContainerExit::Exited(code) => format!("exit code {code}"),
        ContainerExit::TimedOut => "killed at its timeout".to_string(),
        ContainerExit::Cancelled => "cancelled".to_string(),
        ContainerExit::OutOfMemory => "killed at its memory limit".to_string(),
    };
    match title {
        Some(title) => format!("{exit} ({title})"),
        None => exit,
    }
}

fn failure_text(failure: Failure) -> String {
    match failure {
        Failure::Usage(problems) => problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; "),
        Failure::Other(message) => message,
        Failure::Interrupted => "interrupted".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seed::validate::parse_manifest;

    fn manifest(files: &str) -> Manifest {
        let text = format!(
            r#"{{"seedVersion":"1.0.0","job":{{"name":"t","jobVersion":"1.0.0","packageVersion":"1.0.0",
            "title":"T","description":"D","maintainer":{{"name":"M","email":"m@example.org"}},"timeout":10,
            "interface":{{"command":"x","inputs":{{"files":{files}}}}}}}}}"#
        );
        parse_manifest(&text).expect("valid").manifest
    }

    fn chosen(manifest: &Manifest, named: Option<&str>, fixed: &[&str]) -> Result<String, String> {
        let fixed: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        batch_input(manifest, named, &fixed).map_err(failure_text)
    }

    #[test]
    fn the_batched_input_is_the_only_required_one_or_the_named_one() {
        let m = manifest(r#"[{"name":"A","required":false},{"name":"B"}]"#);
        assert_eq!(chosen(&m, None, &[]).unwrap(), "B");
        assert_eq!(chosen(&m, Some("A"), &[]).unwrap(), "A");
        assert!(chosen(&m, Some("C"), &[]).unwrap_err().contains("A, B"));
        let two = manifest(r#"[{"name":"A"},{"name":"B"}]"#);
        assert!(chosen(&two, None, &[]).unwrap_err().contains("-i NAME"));
        assert_eq!(chosen(&two, None, &["A=/x"]).unwrap(), "B");
        let optional = manifest(r#"[{"name":"A","required":false},{"name":"B","required":false}]"#);
        assert_eq!(chosen(&optional, None, &[]).unwrap(), "A");
    }
}
