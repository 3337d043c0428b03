//! Output capture after the container exits (seed-notes 4.12).
//!
//! Choices (details on [`capture_outputs`]): POSIX glob(7) relative to `OUTPUT_DIR`, `*` and
//! `?` do not match a leading `.`, no recursion (`**` is `*`), fixed sub-directories such as
//! `sub-*/x.tif` work; `*.metadata.json` and `seed.outputs.json` are never captured; a missing
//! `seed.outputs.json` fails the job when any declared json output is required; side-cars are
//! validated against the metadata schema and an invalid one is reported; symbolic links are
//! never captured; patterns that are absolute or use `..` are refused; every failure is
//! reported, not just the first.

use crate::contract::{describe_value, type_with_article};
use crate::errors::{builtin_failure, BuiltinError, JobFailure};
use crate::manifest::{JsonOutput, OutputFile};
use crate::validate::validate_metadata_value;
use crate::Manifest;
use glob::{MatchOptions, Pattern};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::FileType;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// File holding the json outputs, in `OUTPUT_DIR`.
pub const RESULTS_FILE: &str = "seed.outputs.json";
/// Suffix of a side-car metadata file (`F` -> `F.metadata.json`).
pub const METADATA_SUFFIX: &str = ".metadata.json";

/// One captured output file.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedFile {
    /// Absolute host path.
    pub path: PathBuf,
    /// Path relative to `OUTPUT_DIR`, `/`-separated.
    pub relative: String,
    /// The output's declared `mediaType`, if any.
    pub media_type: Option<String>,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Parsed `F.metadata.json`, when present and valid.
    pub metadata: Option<Value>,
}

/// The typed outputs of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapturedOutputs {
    /// Output file name -> matches, sorted by relative path (empty for an absent optional).
    pub files: BTreeMap<String, Vec<CapturedFile>>,
    /// Json output name -> value (absent optional outputs are not present).
    pub json: BTreeMap<String, Value>,
}

/// What capture found: the outputs, and the failures that make the run fail (empty = good).
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// What was captured (also when there are failures).
    pub outputs: CapturedOutputs,
    /// Every reason the run fails, in manifest order (file outputs first).
    pub failures: Vec<JobFailure>,
}

/// The largest `seed.outputs.json` or side-car ades reads, in bytes (16 MiB).
///
/// Choice: both files are read whole into memory, so a job cannot exhaust the server's
/// memory with a huge one; a larger file is reported as invalid.
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// Failure name for an output `pattern` that cannot be used: absolute, climbing out of
/// `OUTPUT_DIR` with `..`, empty, or not a valid glob.
///
/// It is [`BuiltinError::InvalidOutputPattern`]'s name, category `job`. Manifest validation
/// normally catches such patterns first.
pub const INVALID_OUTPUT_PATTERN: &str = "invalid-output-pattern";

const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// Captures the declared outputs from the host directory that was `OUTPUT_DIR`.
///
/// Every declared file output gets an entry in [`CapturedOutputs::files`] (empty when
/// nothing was captured); every problem becomes one [`JobFailure`] (all are collected):
/// `missing-required-output`, `unexpected-multiple-outputs`, `invalid-results-manifest`,
/// `invalid-metadata`, or [`INVALID_OUTPUT_PATTERN`]. Files are still listed when their
/// output fails (e.g. all matches of a single output that matched twice).
///
/// Choice: patterns follow POSIX glob(7) relative to `OUTPUT_DIR`: `*`, `?` and `[...]` do
/// not match `/` or a leading `.` (`.*.tif` does match `.hidden.tif`); `**` is just `*` (no
/// recursion); fixed sub-directories (`sub-*/x.tif`) work; matching is case-sensitive;
/// empty and `.` components are ignored. An absolute pattern or one with a `..` component
/// is refused. Each component is matched with [`glob::Pattern`] while ades walks the
/// directories itself, never entering a symlinked directory.
///
/// Choice: a match is captured only when it is a regular file that is not a symbolic link
/// and whose real path lies inside `OUTPUT_DIR` (so a symlinked sub-directory leading out
/// is not followed). Symlinks are never captured, even to files inside `OUTPUT_DIR`: a job
/// must not be able to publish host files through a link. Symlinks found are named in the
/// failure when the output then misses its file. Directories and special files are skipped.
///
/// Choice: `seed.outputs.json` and any `*.metadata.json` are never captured, at any depth.
///
/// Choice: a `multiple` output is satisfied by one file (the spec; seed-cli wants two), and
/// an optional one by none.
///
/// Choice: the side-car of a captured file `F` is the regular file `F.metadata.json` next
/// to it (a symlink is ignored, like any symlink); it must be JSON that passes
/// [`crate::validate::validate_metadata_value`], else `invalid-metadata` (and
/// [`CapturedFile::metadata`] stays `None`).
///
/// Choice: `seed.outputs.json` is read only when the manifest declares json outputs. It
/// must be a regular file holding a JSON object; when it is missing (or is a symlink or not
/// a regular file) the run fails if any declared json output is required (as seed-cli and
/// the spec; Scale only warns), and optional outputs are simply absent. Members are looked
/// up by [`crate::manifest::JsonOutput::source_key`], case-sensitively, and published under
/// the output's `name`; undeclared members are ignored; a value of the wrong type (`null`
/// included) is a failure even for an optional output.
pub fn capture_outputs(manifest: &Manifest, output_dir: &Path) -> CaptureReport {
    let interface = manifest.interface();
    let root = output_dir
        .canonicalize()
        .unwrap_or_else(|_| output_dir.to_path_buf());
    let mut report = CaptureReport::default();
    for output in &interface.outputs.files {
        let files = capture_files(output, &root, &mut report.failures);
        report.outputs.files.insert(output.name.clone(), files);
    }
    capture_json(&interface.outputs.json, &root, &mut report);
    report
}

fn capture_files(
    output: &OutputFile,
    root: &Path,
    failures: &mut Vec<JobFailure>,
) -> Vec<CapturedFile> {
    let shown = format!("output {} (pattern {:?})", output.name, output.pattern);
    let components = match parse_pattern(&output.pattern) {
        Ok(components) => components,
        Err(reason) => {
            failures.push(invalid_pattern(format!("The {shown} {reason}")));
            return Vec::new();
        }
    };

    let mut files = Vec::new();
    let mut skipped_links = Vec::new();
    for (path, file_type) in walk(root, &components) {
        let Some(relative) = relative_path(root, &path) else {
            continue;
        };
        if file_type.is_symlink() {
            skipped_links.push(relative);
            continue;
        }
        if !file_type.is_file() || is_never_captured(&path) {
            continue;
        }
        // Defence in depth: `walk` never leaves `root`, but a path is only published when
        // its real location is inside it.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || !lies_inside(root, &path) {
            continue;
        }
        files.push(CapturedFile {
            path,
            relative,
            media_type: output.media_type.clone(),
            size_bytes: meta.len(),
            metadata: None,
        });
    }
    files.sort_by(|a, b| a.relative.cmp(&b.relative));

    for file in &mut files {
        match read_side_car(&file.path) {
            Ok(metadata) => file.metadata = metadata,
            Err(reason) => failures.push(builtin_failure(
                BuiltinError::InvalidMetadata,
                sentence(format!(
                    "The side-car {}{METADATA_SUFFIX} of the {shown} {reason}",
                    file.relative
                )),
            )),
        }
    }

    skipped_links.sort();
    if files.is_empty() && output.required {
        let links = if skipped_links.is_empty() {
            String::new()
        } else {
            format!(
                " (symbolic links, and files reached through them, are never captured: {})",
                skipped_links.join(", ")
            )
        };
        failures.push(builtin_failure(
            BuiltinError::MissingRequiredOutput,
            sentence(format!(
                "The required {shown} matched no file in OUTPUT_DIR{links}"
            )),
        ));
    }
    if files.len() > 1 && !output.multiple {
        let names: Vec<&str> = files.iter().map(|f| f.relative.as_str()).collect();
        failures.push(builtin_failure(
            BuiltinError::UnexpectedMultipleOutputs,
            sentence(format!(
                "The {shown} takes one file (it is not `multiple`), but {} matched: {}",
                files.len(),
                names.join(", ")
            )),
        ));
    }
    files
}

/// One `/`-separated component of an output pattern.
enum Step {
    /// No wildcard: the entry of that name.
    Literal(String),
    /// A glob(7) pattern for one name.
    Glob(Pattern),
}

/// Splits `pattern` into components, or says why the pattern cannot be used.
fn parse_pattern(pattern: &str) -> Result<Vec<Step>, String> {
    if pattern.starts_with('/') {
        return Err("is absolute; output patterns are relative to OUTPUT_DIR".to_string());
    }
    let mut steps = Vec::new();
    // Empty and `.` components (`a//b`, `./a`) change nothing.
    for component in pattern.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if component == ".." {
            return Err("climbs out of OUTPUT_DIR with `..`".to_string());
        }
        let mut component = component.to_string();
        while component.contains("**") {
            component = component.replace("**", "*");
        }
        if component.contains(['*', '?', '[']) {
            let glob =
                Pattern::new(&component).map_err(|e| format!("is not a valid glob: {}", e.msg))?;
            steps.push(Step::Glob(glob));
        } else {
            steps.push(Step::Literal(component));
        }
    }
    if steps.is_empty() {
        return Err("names no file".to_string());
    }
    Ok(steps)
}

/// The entries under `root` that `steps` match, with their own type (symlinks not
/// followed). Only real directories are descended into, so the walk never leaves `root`.
///
/// Choice: names that are not UTF-8 never match (they cannot be published as a relative
/// path).
// Not `glob::glob_with`: with `require_literal_leading_dot` it drops every dot-entry of a
// listed directory (so `.*.tif` matches nothing) and unwraps `to_str()` on each name (a job
// writing a non-UTF-8 file name would panic the capture); it also follows symlinked
// directories.
fn walk(root: &Path, steps: &[Step]) -> Vec<(PathBuf, FileType)> {
    let mut current = vec![root.to_path_buf()];
    let mut found = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let last = index + 1 == steps.len();
        let mut next = Vec::new();
        for dir in &current {
            let mut matches = Vec::new();
            match step {
                Step::Literal(name) => {
                    let path = dir.join(name);
                    if let Ok(meta) = std::fs::symlink_metadata(&path) {
                        matches.push((path, meta.file_type()));
                    }
                }
                Step::Glob(glob) => {
                    // An unreadable directory holds nothing that could be captured.
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let name = entry.file_name();
                        let Some(name) = name.to_str() else {
                            continue;
                        };
                        if !glob.matches_with(name, GLOB_OPTIONS) {
                            continue;
                        }
                        if let Ok(file_type) = entry.file_type() {
                            matches.push((entry.path(), file_type));
                        }
                    }
                }
            }
            for (path, file_type) in matches {
                if last {
                    found.push((path, file_type));
                } else if file_type.is_dir() {
                    next.push(path);
                } else if file_type.is_symlink() {
                    // A symlinked directory is not entered; reported like a symlinked file.
                    found.push((path, file_type));
                }
            }
        }
        current = next;
    }
    found
}

/// `path` relative to `root`, `/`-separated.
fn relative_path(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn is_never_captured(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name == RESULTS_FILE || name.ends_with(METADATA_SUFFIX)
}

/// Whether the real path of `path` (all symlinks resolved) is inside `root`.
fn lies_inside(root: &Path, path: &Path) -> bool {
    path.canonicalize()
        .map(|real| real.starts_with(root))
        .unwrap_or(false)
}

/// The validated side-car of `file`, `None` when there is none, or why it is invalid.
fn read_side_car(file: &Path) -> Result<Option<Value>, String> {
    let mut name = file.as_os_str().to_owned();
    name.push(METADATA_SUFFIX);
    let path = PathBuf::from(name);
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
        Ok(meta) if meta.file_type().is_symlink() => return Ok(None),
        Ok(meta) if !meta.is_file() => return Err("is not a regular file".to_string()),
        Ok(_) => {}
    }
    let document = read_json(&path)?;
    let errors: Vec<String> = validate_metadata_value(&document)
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();
    if errors.is_empty() {
        Ok(Some(document))
    } else {
        Err(format!(
            "is not valid GeoJSON metadata: {}",
            errors.join("; ")
        ))
    }
}

/// Reads a JSON document of at most [`MAX_JSON_BYTES`]; the error completes a sentence
/// whose subject is the file.
fn read_json(path: &Path) -> Result<Value, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(format!(
            "is larger than the {} MiB ades reads",
            MAX_JSON_BYTES / (1024 * 1024)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("is not valid JSON: {e}"))
}

fn capture_json(outputs: &[JsonOutput], root: &Path, report: &mut CaptureReport) {
    if outputs.is_empty() {
        return;
    }
    let fail =
        |detail: String| builtin_failure(BuiltinError::InvalidResultsManifest, sentence(detail));
    let required: Vec<&str> = outputs
        .iter()
        .filter(|o| o.required)
        .map(|o| o.name.as_str())
        .collect();
    let path = root.join(RESULTS_FILE);
    let absent = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was not found".to_string()),
        Err(e) => Some(format!("cannot be read ({e})")),
        Ok(meta) if meta.file_type().is_symlink() => {
            Some("is a symbolic link, which ades does not follow".to_string())
        }
        Ok(meta) if !meta.is_file() => Some("is not a regular file".to_string()),
        Ok(_) => None,
    };
    if let Some(reason) = absent {
        if !required.is_empty() {
            report.failures.push(fail(format!(
                "The results file {RESULTS_FILE} {reason} in OUTPUT_DIR, but the job declares the required json \
                 outputs {}",
                required.join(", ")
            )));
        }
        return;
    }
    let document = match read_json(&path) {
        Ok(document) => document,
        Err(reason) => {
            report
                .failures
                .push(fail(format!("The results file {RESULTS_FILE} {reason}")));
            return;
        }
    };
    let Value::Object(members) = document else {
        report.failures.push(fail(format!(
            "The results file {RESULTS_FILE} must hold a JSON object, but holds {}",
            describe_value(&document)
        )));
        return;
    };
    for output in outputs {
        let key = output.source_key();
        let shown = if key == output.name {
            format!("json output {}", output.name)
        } else {
            format!("json output {} (read from {key:?})", output.name)
        };
        match members.get(key) {
            None if output.required => {
                let near = members
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(key))
                    .map(|k| format!(" ({k:?} is there, but keys are case-sensitive)"))
                    .unwrap_or_default();
                report.failures.push(fail(format!(
                    "The results file {RESULTS_FILE} has no member {key:?}, which the required {shown} needs{near}"
                )));
            }
            None => {}
            Some(value) if !output.kind.accepts(value) => {
                report.failures.push(fail(format!(
                    "The member {key:?} of {RESULTS_FILE} ({shown}) must be {}, but is {}",
                    type_with_article(output.kind),
                    describe_value(value)
                )));
            }
            Some(value) => {
                report
                    .outputs
                    .json
                    .insert(output.name.clone(), value.clone());
            }
        }
    }
}

fn invalid_pattern(detail: String) -> JobFailure {
    builtin_failure(BuiltinError::InvalidOutputPattern, sentence(detail))
}

/// `detail` ending with a full stop (the built-in failures append it to their own
/// sentence).
fn sentence(detail: String) -> String {
    let mut text = detail;
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}
