//! Running one CommandLineTool on a [`ContainerRunner`], hardened as Seed jobs are
//! (`crate::execution`: the container user, read-only root, no capabilities, limits, no
//! network unless the operator allows it): the job order completed with defaults and
//! checked against the input types, File and Directory inputs staged read-only under
//! `/var/lib/cwl/stgN/`, the output directory mounted at `/var/spool/cwl` (the working
//! directory and `HOME`), `InitialWorkDirRequirement` written there, `stdout`/`stderr`
//! caught into files, the outputs collected and moved into the caller's output directory.

use super::command::{build_command_line, shell_quote};
use super::document::Tool;
use super::expression::{evaluate, to_text, Context};
use super::outputs::{
    collect_outputs, file_location, load_file_contents, location_path, secondary_name, split_name,
    Layout,
};
use super::types::{class_of, describe, matches};
use super::{CwlError, OUTDIR, TMPDIR};
use crate::engine::{BindMount, ContainerExit, ContainerRunner, ContainerSpec, Limits, LogSink};
use crate::execution::{hand_over_output_dir, open_inputs_to, take_back_output_dir, Hardening};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How tools run: what the operator decided, not the tool.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// Image of a tool without `DockerRequirement`.
    pub default_image: String,
    pub hardening: Hardening,
    /// Docker network given to a tool that asks for `NetworkAccess`; `None` refuses such
    /// tools (the default: jobs have no network).
    pub network: Option<String>,
    /// Timeout of a tool without `ToolTimeLimit` (and the most one may ask).
    pub timeout: Duration,
    /// Names the container and labels it.
    pub run_id: String,
}

/// A tool and its job order, ready to run.
pub struct ToolJob<'a> {
    pub tool: &'a Tool,
    /// The job order: input id -> value; relative locations are resolved against
    /// `job_dir`.
    pub job_order: Map<String, Value>,
    pub job_dir: PathBuf,
}

/// Runs the tool in a scratch directory under `scratch` and moves its outputs into
/// `outdir`; returns the output object.
pub async fn run_tool(
    runner: &dyn ContainerRunner,
    job: ToolJob<'_>,
    scratch: &Path,
    outdir: &Path,
    settings: &RunSettings,
    cancel: CancellationToken,
    logs: &mut dyn LogSink,
) -> Result<Value, CwlError> {
    let tool = job.tool;
    if let Some(expression) = tool.javascript_without_requirement() {
        return Err(super::expression::ExpressionError::JavaScript(expression.into()).into());
    }
    let library = tool.javascript_library();
    let work = scratch.join("work");
    let staging = scratch.join("stage");
    for dir in [&work, &staging] {
        std::fs::create_dir_all(dir).map_err(|err| io_error(dir, err))?;
    }
    let mut stager = Stager {
        staging: staging.clone(),
        mounts: Vec::new(),
        count: 0,
        library: library.clone(),
        inputs: Value::Null,
        listing: Listing::None,
    };

    // Inputs: the job order completed with defaults and checked, then staged (a
    // secondaryFiles expression sees every input, as given).
    let mut given = Map::new();
    for input in &tool.inputs {
        let (value, base) = match job.job_order.get(&input.id).filter(|v| !v.is_null()) {
            Some(v) => (v.clone(), job.job_dir.as_path()),
            None => (
                input.default.clone().unwrap_or(Value::Null),
                tool.base_dir.as_path(),
            ),
        };
        let mut value = value;
        resolve_locations(&mut value, base, &tool.namespaces)?;
        if !matches(&input.ty, &value) {
            return Err(CwlError::Invalid(format!(
                "input {} must be {} but the job gives {}",
                input.id,
                describe(&input.ty),
                if value.is_null() {
                    "nothing".to_string()
                } else {
                    value.to_string()
                }
            )));
        }
        given.insert(input.id.clone(), value);
    }
    stager.inputs = Value::Object(given.clone());
    let mut inputs = Map::new();
    // `loadListing`: the input's own, else the tool's LoadListingRequirement, else none.
    let tool_listing = tool
        .requirement("LoadListingRequirement")
        .and_then(|r| r.get("loadListing"))
        .and_then(Value::as_str)
        .map(str::to_string);
    for input in &tool.inputs {
        let mut value = given.remove(&input.id).unwrap_or(Value::Null);
        stager.listing = Listing::of(input.load_listing.as_ref().or(tool_listing.as_ref()));
        stager.stage(&mut value, &input.ty, &input.secondary_files)?;
        if input.load_contents {
            if let Value::Object(_) = value {
                load_file_contents(&mut value)?;
            }
        }
        inputs.insert(input.id.clone(), value);
    }
    let mut inputs = Value::Object(inputs);

    // The output directory as the tool sees it: `dockerOutputDirectory`, else cwltool's.
    let outdir_in: String = tool
        .requirement("DockerRequirement")
        .and_then(|d| d.get("dockerOutputDirectory"))
        .and_then(Value::as_str)
        .map(|d| d.trim_end_matches('/').to_string())
        .filter(|d| d.starts_with('/') && d.len() > 1)
        .unwrap_or_else(|| OUTDIR.to_string());
    let resources = tool.requirement("ResourceRequirement").cloned();
    let number = |key: &str, default: f64| -> Result<f64, CwlError> {
        match resources.as_ref().and_then(|r| r.get(key)) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => {
                let context = Context {
                    inputs: &inputs,
                    self_: &Value::Null,
                    runtime: &Value::Null,
                    library: library.as_deref(),
                };
                evaluate(v, &context)?.as_f64().ok_or_else(|| {
                    CwlError::Invalid(format!("ResourceRequirement {key} is {v}, not a number"))
                })
            }
        }
    };
    let cores = number("coresMin", 1.0)?.ceil().max(1.0);
    let ram = number("ramMin", 1024.0)?;
    let ram_max = number("ramMax", ram)?.max(ram);
    let runtime = json!({
        "outdir": outdir_in,
        "tmpdir": TMPDIR,
        "cores": cores as i64,
        "ram": ram.ceil() as i64,
        "outdirSize": number("outdirMin", 1024.0)?.ceil() as i64,
        "tmpdirSize": number("tmpdirMin", 1024.0)?.ceil() as i64,
    });

    // InitialWorkDirRequirement: files and directories put into the output directory.
    if let Some(iwd) = tool.requirement("InitialWorkDirRequirement").cloned() {
        initial_work_dir(tool, &iwd, &mut inputs, &runtime, &work, &outdir_in)?;
    }

    let eval = |v: &Value, inputs: &Value| {
        evaluate(
            v,
            &Context {
                inputs,
                self_: &Value::Null,
                runtime: &runtime,
                library: library.as_deref(),
            },
        )
    };
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), outdir_in.clone()),
        ("TMPDIR".into(), TMPDIR.into()),
    ];
    if let Some(requirement) = tool.requirement("EnvVarRequirement") {
        let defs = match requirement.get("envDef") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|d| {
                    Some((
                        d.get("envName")?.as_str()?.to_string(),
                        d.get("envValue")?.clone(),
                    ))
                })
                .collect::<Vec<_>>(),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        for (name, value) in defs {
            env.push((name, to_text(&eval(&value, &inputs)?)));
        }
    }

    let words = build_command_line(tool, &inputs, &runtime)?;
    if words.is_empty() {
        return Err(CwlError::Invalid(
            "the tool has no command line: give it a baseCommand or arguments".into(),
        ));
    }
    let stream_name = |v: &Option<Value>, what: &str| -> Result<Option<String>, CwlError> {
        let Some(v) = v else { return Ok(None) };
        let name = to_text(&eval(v, &inputs)?);
        if what != "stdin" && (name.contains('/') || name.is_empty()) {
            return Err(CwlError::Invalid(format!(
                "{what} must name a file in the output directory, not {name:?}"
            )));
        }
        Ok(Some(name))
    };
    let stdin = stream_name(&tool.stdin, "stdin")?;
    let stdout = stream_name(&tool.stdout, "stdout")?;
    let stderr = stream_name(&tool.stderr, "stderr")?;

    let shell = tool.requires("ShellCommandRequirement");
    let argv: Vec<String> = if shell {
        let line = words
            .iter()
            .map(|w| {
                if w.quote {
                    shell_quote(&w.text)
                } else {
                    w.text.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let line = match &stdin {
            Some(path) => format!("{line} < {}", shell_quote(path)),
            None => line,
        };
        vec!["/bin/sh".into(), "-c".into(), line]
    } else if let Some(path) = &stdin {
        // The engine gives no stdin to a container: a shell redirects it.
        let mut argv = vec![
            "/bin/sh".into(),
            "-c".into(),
            format!("exec \"$@\" < {}", shell_quote(path)),
            "sh".into(),
        ];
        argv.extend(words.iter().map(|w| w.text.clone()));
        argv
    } else {
        words.iter().map(|w| w.text.clone()).collect()
    };

    let image = tool
        .requirement("DockerRequirement")
        .and_then(|d| {
            d.get("dockerImageId")
                .or_else(|| d.get("dockerPull"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .unwrap_or_else(|| settings.default_image.clone());

    let wants_network = tool
        .requirement("NetworkAccess")
        .and_then(|n| n.get("networkAccess"))
        .map(|v| eval(v, &inputs))
        .transpose()?
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let network = match (wants_network, &settings.network) {
        (false, _) => None,
        (true, Some(network)) => Some(network.clone()),
        (true, None) => {
            return Err(CwlError::Unsupported(
                "the tool asks for NetworkAccess, which this runner does not allow: an \
                 operator allows it with --allow-network (ades cwl run)"
                    .into(),
            ))
        }
    };

    let timeout = match tool
        .requirement("ToolTimeLimit")
        .and_then(|t| t.get("timelimit"))
    {
        Some(v) => match eval(v, &inputs)?.as_u64() {
            Some(0) | None => settings.timeout,
            Some(seconds) => Duration::from_secs(seconds).min(settings.timeout),
        },
        None => settings.timeout,
    };

    let host_cpus = std::thread::available_parallelism()
        .map(|n| n.get() as f64)
        .unwrap_or(1.0);
    let memory_mib = ram_max.max(settings.hardening.default_mem_mib.unwrap_or(0.0));
    let limits = Limits {
        nano_cpus: Some((cores.min(host_cpus) * 1e9) as i64),
        memory_bytes: Some((memory_mib.max(6.0) * 1024.0 * 1024.0) as i64),
        shm_bytes: None,
        gpus: None,
    };

    let mut binds: Vec<BindMount> = stager
        .mounts
        .iter()
        .map(|(container, host)| BindMount {
            host: host.clone(),
            container: container.clone(),
            read_only: true,
        })
        .collect();
    binds.push(BindMount {
        host: work.clone(),
        container: outdir_in.clone(),
        read_only: false,
    });
    let user = settings.hardening.user.clone();
    // The whole output directory, InitialWorkDir files included (a `writable` entry is
    // changed in place by the tool), goes to the container's user.
    hand_over_tree(&work, user.as_deref()).map_err(|err| io_error(&work, err))?;
    open_inputs_to(&staging, user.as_deref()).map_err(|err| io_error(&staging, err))?;
    let spec = ContainerSpec {
        image,
        // The image's ENTRYPOINT, if any, is kept (as cwltool and `docker run` keep it).
        args: Some(argv),
        working_dir: Some(outdir_in.clone()),
        env,
        binds,
        limits,
        confinement: settings.hardening.confinement.clone(),
        labels: BTreeMap::from([(
            "org.ades.cwl.tool".to_string(),
            tool.id.clone().unwrap_or_default(),
        )]),
        run_id: settings.run_id.clone(),
        timeout,
        user: user.clone(),
        network,
        keep_after_exit: false,
    };

    let mut capture = Capture {
        stdout: open_capture(&work, stdout.as_deref())?,
        stderr: open_capture(&work, stderr.as_deref())?,
        inner: logs,
    };
    let exit = runner.run(&spec, cancel, &mut capture).await?;
    drop(capture);
    if let Err(err) = take_back_output_dir(&work) {
        tracing::warn!(dir = %work.display(), error = %err, "cannot take back the outputs from the container's user");
    }
    let code = match exit {
        ContainerExit::Exited(code) => code,
        ContainerExit::TimedOut => {
            return Err(CwlError::Failed(format!(
                "the tool ran longer than its time limit of {} s and was killed",
                timeout.as_secs()
            )))
        }
        ContainerExit::OutOfMemory => {
            return Err(CwlError::Failed(format!(
                "the engine killed the tool at its memory limit of {memory_mib} MiB: raise \
                 ResourceRequirement ramMax"
            )))
        }
        ContainerExit::Cancelled => return Err(CwlError::Failed("the run was cancelled".into())),
    };
    let success = if tool.success_codes.is_empty() {
        code == 0
    } else {
        tool.success_codes.contains(&code)
    };
    if !success || tool.permanent_fail_codes.contains(&code) {
        return Err(CwlError::Failed(format!(
            "the tool exited with code {code}, not a success code"
        )));
    }

    let mut runtime = runtime;
    runtime["exitCode"] = json!(code);
    let layout = Layout {
        work: &work,
        outdir: &outdir_in,
        mounts: &stager.mounts,
    };
    let mut outputs = collect_outputs(tool, &inputs, &runtime, &layout)?;
    relocate(&mut outputs, &work, outdir)?;
    Ok(outputs)
}

/// [`hand_over_output_dir`] on `dir` and everything under it (symbolic links not followed).
fn hand_over_tree(dir: &Path, user: Option<&str>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    hand_over_output_dir(dir, user)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_file() {
        // A copied input keeps its source's mode, read-only perhaps: its owner may write.
        let mode = meta.permissions().mode() | 0o200;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if !std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
                hand_over_tree(&path, user)?;
            }
        }
    }
    Ok(())
}

fn io_error(path: &Path, err: std::io::Error) -> CwlError {
    CwlError::Failed(format!("{}: {err}", path.display()))
}

fn open_capture(work: &Path, name: Option<&str>) -> Result<Option<std::fs::File>, CwlError> {
    let Some(name) = name else { return Ok(None) };
    let path = work.join(name);
    std::fs::File::create(&path)
        .map(Some)
        .map_err(|err| io_error(&path, err))
}

/// The container's stdout and stderr, into files when the tool names them.
struct Capture<'a> {
    stdout: Option<std::fs::File>,
    stderr: Option<std::fs::File>,
    inner: &'a mut dyn LogSink,
}

impl LogSink for Capture<'_> {
    fn stdout(&mut self, chunk: &[u8]) {
        match &mut self.stdout {
            Some(file) => {
                if let Err(err) = file.write_all(chunk) {
                    tracing::warn!(error = %err, "cannot write the tool's stdout");
                }
            }
            None => self.inner.stdout(chunk),
        }
    }
    fn stderr(&mut self, chunk: &[u8]) {
        match &mut self.stderr {
            Some(file) => {
                if let Err(err) = file.write_all(chunk) {
                    tracing::warn!(error = %err, "cannot write the tool's stderr");
                }
            }
            None => self.inner.stderr(chunk),
        }
    }
    fn status(&mut self, message: &str) {
        self.inner.status(message);
    }
    fn ended(&mut self, facts: &crate::engine::RunFacts) {
        self.inner.ended(facts);
    }
}

/// Makes `location`/`path` of File and Directory objects absolute `file://` locations,
/// relative ones against `base`.
/// `format`s written with a prefix of the tool's `$namespaces` are expanded.
pub(crate) fn resolve_locations(
    value: &mut Value,
    base: &Path,
    namespaces: &BTreeMap<String, String>,
) -> Result<(), CwlError> {
    match value {
        Value::Array(items) => {
            for item in items {
                resolve_locations(item, base, namespaces)?;
            }
        }
        Value::Object(map) => {
            let is_file = matches!(
                map.get("class").and_then(Value::as_str),
                Some("File") | Some("Directory")
            );
            if is_file {
                let named = map
                    .get("location")
                    .or_else(|| map.get("path"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Some(named) = named {
                    if named.contains("://") && !named.starts_with("file://") {
                        return Err(CwlError::Unsupported(format!(
                            "the input location {named} is not a local file: ades cwl run \
                             reads local files only"
                        )));
                    }
                    let path = location_path(&named);
                    let path = if path.is_absolute() {
                        path
                    } else {
                        base.join(path)
                    };
                    map.insert("location".into(), Value::String(file_location(&path)));
                    map.remove("path");
                }
                if let Some(format) = map.remove("format") {
                    map.insert(
                        "format".into(),
                        super::document::expand_prefixes(format, namespaces),
                    );
                }
                for key in ["secondaryFiles", "listing"] {
                    if let Some(inner) = map.get_mut(key) {
                        resolve_locations(inner, base, namespaces)?;
                    }
                }
            } else {
                for inner in map.values_mut() {
                    resolve_locations(inner, base, namespaces)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Puts input files where the container sees them.
struct Stager {
    staging: PathBuf,
    /// container path -> host path, mounted read-only.
    mounts: Vec<(String, PathBuf)>,
    count: usize,
    /// For secondaryFiles patterns that are expressions: the library and the inputs.
    library: Option<String>,
    inputs: Value,
    /// The `listing` a staged Directory of the input being staged gets.
    listing: Listing,
}

/// How much of a Directory input's content its object lists (CWL `loadListing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listing {
    None,
    Shallow,
    Deep,
}

impl Listing {
    fn of(mode: Option<&String>) -> Listing {
        match mode.map(String::as_str) {
            Some("shallow_listing") => Listing::Shallow,
            Some("deep_listing") => Listing::Deep,
            _ => Listing::None,
        }
    }
}

/// The listing of the host directory `host`, seen in the container at `container`: its
/// entries by name, Files with their size, Directories with their own listing when `deep`.
fn list_directory(host: &Path, container: &str, deep: bool) -> Result<Vec<Value>, CwlError> {
    let mut entries: Vec<_> = std::fs::read_dir(host)
        .map_err(|err| io_error(host, err))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    let mut listing = Vec::new();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let inside = format!("{container}/{name}");
        let mut object = json!({
            "location": file_location(&path),
            "path": inside,
            "basename": name,
        });
        if path.is_dir() {
            object["class"] = json!("Directory");
            if deep {
                object["listing"] = Value::Array(list_directory(&path, &inside, true)?);
            }
        } else {
            let (nameroot, nameext) = split_name(&name);
            object["class"] = json!("File");
            object["nameroot"] = json!(nameroot);
            object["nameext"] = json!(nameext);
            object["size"] = json!(entry.metadata().map(|m| m.len()).unwrap_or(0));
        }
        listing.push(object);
    }
    Ok(listing)
}

impl Stager {
    fn next_dir(&mut self) -> String {
        self.count += 1;
        format!("/var/lib/cwl/stg{}", self.count)
    }

    /// Stages every File and Directory in `value` of type `ty` (with `patterns`, the
    /// parameter's or record field's secondaryFiles, found beside files that lack them).
    fn stage(&mut self, value: &mut Value, ty: &Value, patterns: &[Value]) -> Result<(), CwlError> {
        // A union: the member the value is of.
        if let Value::Array(union) = ty {
            let member = union.iter().find(|t| matches(t, value)).cloned();
            return match member {
                Some(member) => self.stage(value, &member, patterns),
                None => self.stage(value, &json!("Any"), patterns),
            };
        }
        let items_type = ty.get("items").cloned().unwrap_or(json!("Any"));
        match value {
            Value::Array(items) => {
                for item in items {
                    self.stage(item, &items_type, patterns)?;
                }
                Ok(())
            }
            Value::Object(_) if class_of(value).is_some() => {
                let dir = self.next_dir();
                if class_of(value) == Some("File") && !patterns.is_empty() {
                    self.discover_secondary(value, patterns)?;
                }
                self.stage_in(value, &dir)?;
                if let Some(Value::Array(secondary)) = value.get_mut("secondaryFiles") {
                    for item in secondary {
                        self.stage_in(item, &dir)?;
                    }
                }
                Ok(())
            }
            Value::Object(map) => {
                let fields = super::types::record_fields(ty);
                for (name, inner) in map.iter_mut() {
                    let field = fields
                        .iter()
                        .find(|f| f.get("name").and_then(Value::as_str) == Some(name));
                    let field_type = field
                        .and_then(|f| f.get("type").cloned())
                        .unwrap_or(json!("Any"));
                    let field_patterns = field
                        .and_then(|f| f.get("secondaryFiles"))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    self.stage(inner, &field_type, &field_patterns)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn discover_secondary(&mut self, file: &mut Value, patterns: &[Value]) -> Result<(), CwlError> {
        if file.get("secondaryFiles").is_some() {
            return Ok(());
        }
        let Some(location) = file.get("location").and_then(Value::as_str) else {
            return Ok(());
        };
        let primary = location_path(location);
        let mut found = Vec::new();
        for pattern in patterns {
            let text = pattern
                .get("pattern")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let context = Context {
                inputs: &self.inputs,
                self_: file,
                runtime: &Value::Null,
                library: self.library.as_deref(),
            };
            // `required` may be an expression too; a pattern ending in `?` is optional.
            let required = match pattern.get("required") {
                Some(expression @ Value::String(_)) => {
                    evaluate(expression, &context)?.as_bool().unwrap_or(false)
                }
                Some(value) => value.as_bool().unwrap_or(true),
                None => true,
            };
            let named = if super::expression::has_expression(text) {
                match evaluate(&Value::String(text.to_string()), &context)? {
                    Value::Null => continue,
                    other => to_text(&other),
                }
            } else {
                text.to_string()
            };
            let candidate = secondary_name(&primary, &named);
            if candidate.exists() {
                let class = if candidate.is_dir() {
                    "Directory"
                } else {
                    "File"
                };
                found.push(json!({"class": class, "location": file_location(&candidate)}));
            } else if required {
                return Err(CwlError::Invalid(format!(
                    "the input {} needs its secondary file {}: put it beside it",
                    primary.display(),
                    candidate.display()
                )));
            }
        }
        file["secondaryFiles"] = Value::Array(found);
        Ok(())
    }

    /// One File or Directory object into the container directory `dir`.
    fn stage_in(&mut self, value: &mut Value, dir: &str) -> Result<(), CwlError> {
        let class = class_of(value).unwrap_or("File").to_string();
        let location = value
            .get("location")
            .and_then(Value::as_str)
            .map(location_path);
        let basename = value
            .get("basename")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                location
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| format!("literal-{}", self.count));
        let host = match location {
            Some(path) => {
                if !path.exists() {
                    return Err(CwlError::Invalid(format!(
                        "the input {} does not exist",
                        path.display()
                    )));
                }
                path
            }
            None => {
                // A literal: a File with `contents`, a Directory with `listing`.
                let literal_dir = self.staging.join(format!("literal{}", self.count));
                std::fs::create_dir_all(&literal_dir).map_err(|e| io_error(&literal_dir, e))?;
                let path = literal_dir.join(&basename);
                write_literal(value, &path)?;
                path
            }
        };
        let container = format!("{dir}/{basename}");
        self.mounts.push((container.clone(), host.clone()));
        let (nameroot, nameext) = split_name(&basename);
        value["location"] = Value::String(file_location(&host));
        value["path"] = Value::String(container.clone());
        value["basename"] = Value::String(basename);
        if class == "File" {
            value["nameroot"] = Value::String(nameroot);
            value["nameext"] = Value::String(nameext);
            if let Ok(meta) = std::fs::metadata(&host) {
                value["size"] = json!(meta.len());
            }
            value["dirname"] = Value::String(dir.to_string());
        } else if let Some(Value::Array(listing)) = value.get_mut("listing") {
            // Entries of a staged directory are inside its mount.
            for entry in listing {
                set_paths_under(entry, &container);
            }
        } else if self.listing != Listing::None && host.is_dir() {
            let deep = self.listing == Listing::Deep;
            value["listing"] = Value::Array(list_directory(&host, &container, deep)?);
        }
        Ok(())
    }
}

fn set_paths_under(entry: &mut Value, parent: &str) {
    let basename = entry
        .get("basename")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            entry.get("location").and_then(Value::as_str).and_then(|l| {
                location_path(l)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
        });
    if let Some(basename) = basename {
        let path = format!("{parent}/{basename}");
        if let Some(Value::Array(listing)) = entry.get_mut("listing") {
            for inner in listing {
                set_paths_under(inner, &path);
            }
        }
        entry["path"] = Value::String(path);
        entry["basename"] = Value::String(basename);
    }
}

/// Writes a literal File (`contents`) or Directory (`listing`) at `path`.
/// Writes the File and Directory literals of an output object (`contents`, `listing`
/// without a `location`, as an ExpressionTool makes them) into `outdir`, each replaced by
/// the object of the file written.
pub fn realize_literals(value: &mut Value, outdir: &Path) -> Result<(), CwlError> {
    if class_of(value).is_some() {
        let located = value.get("location").is_some() || value.get("path").is_some();
        let Some(name) = value.get("basename").and_then(Value::as_str) else {
            return Ok(());
        };
        if located {
            return Ok(());
        }
        let path = outdir.join(name);
        write_literal(value, &path)?;
        *value = super::outputs::file_object(&path, outdir)?;
        return Ok(());
    }
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|item| realize_literals(item, outdir)),
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|item| realize_literals(item, outdir)),
        _ => Ok(()),
    }
}

fn write_literal(value: &Value, path: &Path) -> Result<(), CwlError> {
    if class_of(value) == Some("Directory") {
        std::fs::create_dir_all(path).map_err(|e| io_error(path, e))?;
        for entry in value
            .get("listing")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = entry
                .get("basename")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    entry.get("location").and_then(Value::as_str).and_then(|l| {
                        location_path(l)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                })
                .ok_or_else(|| {
                    CwlError::Invalid(format!("a listing entry {entry} has no basename"))
                })?;
            copy_or_write(entry, &path.join(name))?;
        }
        return Ok(());
    }
    let contents = value
        .get("contents")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            CwlError::Invalid(format!(
                "the File {value} has neither location, path nor contents"
            ))
        })?;
    std::fs::write(path, contents).map_err(|e| io_error(path, e))
}

/// Puts a File or Directory object at `target`: copied from its location, or written from
/// its literal contents or listing.
fn copy_or_write(value: &Value, target: &Path) -> Result<(), CwlError> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    match value.get("location").and_then(Value::as_str) {
        Some(location) => copy_tree(&location_path(location), target),
        None => write_literal(value, target),
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), CwlError> {
    let meta = std::fs::metadata(from).map_err(|e| io_error(from, e))?;
    if meta.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| io_error(to, e))?;
        for entry in std::fs::read_dir(from)
            .map_err(|e| io_error(from, e))?
            .flatten()
        {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| io_error(from, e))
    }
}

/// `InitialWorkDirRequirement`: each `listing` entry (an expression, a File or Directory,
/// or a Dirent with `entryname` and `entry`) written into the output directory; inputs
/// placed there are then seen at their new path.
fn initial_work_dir(
    tool: &Tool,
    requirement: &Value,
    inputs: &mut Value,
    runtime: &Value,
    work: &Path,
    outdir: &str,
) -> Result<(), CwlError> {
    let context_inputs = inputs.clone();
    let library = tool.javascript_library();
    let context = Context {
        inputs: &context_inputs,
        self_: &Value::Null,
        runtime,
        library: library.as_deref(),
    };
    let listing = match requirement.get("listing") {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => match evaluate(other, &context)? {
            Value::Array(items) => items,
            one => vec![one],
        },
        None => Vec::new(),
    };
    let mut moved: Vec<(String, String)> = Vec::new();
    for mut entry in listing {
        if class_of(&entry).is_some() {
            resolve_document_file(&mut entry, tool)?;
        }
        let entry = evaluate(&entry, &context)?;
        let items = match entry {
            Value::Array(items) => items,
            Value::Null => continue,
            one => vec![one],
        };
        for mut item in items {
            if class_of(&item).is_some() {
                resolve_document_file(&mut item, tool)?;
                let name = item
                    .get("basename")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .or_else(|| {
                        item.get("location").and_then(Value::as_str).and_then(|l| {
                            location_path(l)
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                        })
                    })
                    .unwrap_or_default();
                place(&item, &work.join(&name), &mut moved, &name)?;
                continue;
            }
            let Some(dirent) = item.as_object() else {
                return Err(CwlError::Invalid(format!(
                    "InitialWorkDirRequirement lists {item}: give a File, a Directory or \
                     a Dirent (entryname, entry)"
                )));
            };
            let entry = dirent.get("entry").unwrap_or(&Value::Null);
            let mut value = super::expression::evaluate_keeping_whitespace(entry, &context)?;
            if class_of(&value).is_some() {
                resolve_document_file(&mut value, tool)?;
            }
            if value.is_null() {
                continue;
            }
            if let (None, Value::Array(list)) = (dirent.get("entryname"), &value) {
                // Files and Directories without an entryname: each under its basename.
                for v in list.iter().filter(|v| class_of(v).is_some()) {
                    let base = v
                        .get("basename")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    place(v, &work.join(base), &mut moved, base)?;
                }
                continue;
            }
            let name = match dirent.get("entryname") {
                Some(n) => to_text(&evaluate(n, &context)?),
                None => value
                    .get("basename")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            };
            let name = name
                .strip_prefix(outdir)
                .map(|r| r.trim_start_matches('/').to_string())
                .unwrap_or(name);
            if name.is_empty() || name.starts_with('/') || name.split('/').any(|c| c == "..") {
                return Err(CwlError::Invalid(format!(
                    "InitialWorkDirRequirement entryname {name:?} must be a relative path \
                     inside the output directory"
                )));
            }
            let target = work.join(&name);
            if class_of(&value).is_some() {
                place(&value, &target, &mut moved, &name)?;
            } else if let Value::Array(list) =
                // A list of Files and Directories goes in a folder; any other list is data,
                // written as JSON like any other non-string value.
                Some(&value)
                    .filter(|v| {
                        v.as_array().is_some_and(|l| {
                            !l.is_empty() && l.iter().all(|x| class_of(x).is_some())
                        })
                    })
                    .unwrap_or(&Value::Null)
            {
                for v in list {
                    if class_of(v).is_some() {
                        let base = v
                            .get("basename")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        place(v, &target.join(base), &mut moved, &format!("{name}/{base}"))?;
                    }
                }
            } else {
                let text = match &value {
                    Value::String(s) => s.clone(),
                    other => super::expression::to_text(other),
                };
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                }
                std::fs::write(&target, text).map_err(|e| io_error(&target, e))?;
            }
        }
    }
    // Inputs copied into the output directory are used from there.
    if !moved.is_empty() {
        let moved: Vec<(String, String)> = moved
            .into_iter()
            .map(|(from, name)| (from, format!("{outdir}/{name}")))
            .collect();
        repoint(inputs, &moved);
    }
    Ok(())
}

/// A File or Directory written in the document has a location relative to it; a staged
/// input (it has a `path` in the container) is left as it is.
fn resolve_document_file(value: &mut Value, tool: &Tool) -> Result<(), CwlError> {
    if value.get("path").is_some() {
        return Ok(());
    }
    resolve_locations(value, &tool.base_dir, &tool.namespaces)
}

fn place(
    value: &Value,
    target: &Path,
    moved: &mut Vec<(String, String)>,
    name: &str,
) -> Result<(), CwlError> {
    copy_or_write(value, target)?;
    if let Some(path) = value.get("path").and_then(Value::as_str) {
        // Its path relative to the output directory (made absolute by the caller).
        moved.push((path.to_string(), name.to_string()));
    }
    Ok(())
}

fn repoint(value: &mut Value, moved: &[(String, String)]) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| repoint(v, moved)),
        Value::Object(map) => {
            if let Some(Value::String(path)) = map.get("path") {
                if let Some((_, to)) = moved.iter().find(|(from, _)| from == path) {
                    map.insert("path".into(), Value::String(to.clone()));
                }
            }
            map.values_mut().for_each(|v| repoint(v, moved));
        }
        _ => {}
    }
}

/// Moves the output files out of the scratch output directory into `outdir` (files from
/// elsewhere, inputs passed through, are copied) and points the output object at them.
fn relocate(value: &mut Value, work: &Path, outdir: &Path) -> Result<(), CwlError> {
    match value {
        Value::Array(items) => {
            for item in items {
                relocate(item, work, outdir)?;
            }
        }
        Value::Object(map) => {
            let is_file = matches!(
                map.get("class").and_then(Value::as_str),
                Some("File") | Some("Directory")
            );
            if let (true, Some(location)) = (is_file, map.get("location").and_then(Value::as_str)) {
                let from = location_path(location);
                let target = match from.strip_prefix(work) {
                    Ok(rel) if rel.as_os_str().is_empty() => outdir.to_path_buf(),
                    Ok(rel) => outdir.join(rel),
                    Err(_) => outdir.join(from.file_name().unwrap_or_default()),
                };
                // The output directory itself (`glob: .`) already exists: its contents
                // are copied into it.
                if from != target && (!target.exists() || (target.is_dir() && from.is_dir())) {
                    if let Some(parent) = target.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
                    }
                    if from.starts_with(work) {
                        if target.exists() {
                            copy_tree(&from, &target)?;
                        } else {
                            std::fs::rename(&from, &target)
                                .or_else(|_| copy_tree(&from, &target).map_err(|_| ()))
                                .map_err(|_| {
                                    CwlError::Failed(format!(
                                        "cannot move {} to {}",
                                        from.display(),
                                        target.display()
                                    ))
                                })?;
                        }
                    } else {
                        copy_tree(&from, &target)?;
                    }
                }
                map.insert("location".into(), Value::String(file_location(&target)));
                map.insert(
                    "path".into(),
                    Value::String(target.to_string_lossy().into_owned()),
                );
                map.remove("dirname");
                if let Some(Value::Array(listing)) = map.get_mut("listing") {
                    // Entries moved with their directory: rewrite their locations only.
                    for entry in listing {
                        rebase(entry, &from, &target);
                    }
                }
                if let Some(secondary) = map.get_mut("secondaryFiles") {
                    relocate(secondary, work, outdir)?;
                }
            } else {
                for inner in map.values_mut() {
                    relocate(inner, work, outdir)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn rebase(entry: &mut Value, from: &Path, to: &Path) {
    if let Some(location) = entry.get("location").and_then(Value::as_str) {
        let path = location_path(location);
        if let Ok(rel) = path.strip_prefix(from) {
            let new = to.join(rel);
            entry["location"] = Value::String(file_location(&new));
            entry["path"] = Value::String(new.to_string_lossy().into_owned());
        }
    }
    if let Some(Value::Array(listing)) = entry.get_mut("listing") {
        for inner in listing {
            rebase(inner, from, to);
        }
    }
}
