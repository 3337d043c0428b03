//! Collecting a tool's outputs once it ran (CWL v1.2, "Output binding"): `cwl.output.json`
//! when the tool wrote one, else each output's `glob` matched in the output directory
//! (sorted), `loadContents`, `outputEval` with `self` the matched files, `secondaryFiles`
//! found beside them and `format`; File and Directory objects with `location`,
//! `basename`, `nameroot`, `nameext`, `size` and `checksum` (`sha1$...`).

use super::document::{Parameter, Tool};
use super::expression::{evaluate, Context};
use super::types::{class_of, matches, record_fields};
use super::CwlError;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Most bytes `loadContents` reads (CWL v1.2: 64 KiB).
pub const CONTENTS_LIMIT: usize = 64 * 1024;

/// Where the run's files are: the host directory `work` mounted at `outdir` (the tool's
/// output directory, [`super::OUTDIR`] unless `dockerOutputDirectory` says otherwise)
/// and the staged inputs (container path -> host path).
pub struct Layout<'a> {
    pub work: &'a Path,
    pub outdir: &'a str,
    pub mounts: &'a [(String, PathBuf)],
}

impl Layout<'_> {
    /// The host path of a path the tool sees (in its output directory or a staged input);
    /// relative paths are in the output directory.
    pub fn host_path(&self, path: &str) -> Option<PathBuf> {
        if let Some(rest) = path.strip_prefix(self.outdir) {
            let rest = rest.trim_start_matches('/');
            return Some(self.work.join(rest));
        }
        if !path.starts_with('/') {
            return Some(self.work.join(path));
        }
        self.mounts.iter().find_map(|(container, host)| {
            let rest = path.strip_prefix(container.as_str())?;
            if rest.is_empty() {
                Some(host.clone())
            } else {
                rest.strip_prefix('/').map(|r| host.join(r))
            }
        })
    }
}

/// The output object of a finished run.
pub fn collect_outputs(
    tool: &Tool,
    inputs: &Value,
    runtime: &Value,
    layout: &Layout,
) -> Result<Value, CwlError> {
    let custom = layout.work.join("cwl.output.json");
    if custom.is_file() {
        let text = std::fs::read_to_string(&custom).map_err(|err| {
            CwlError::Failed(format!("cannot read the tool's cwl.output.json: {err}"))
        })?;
        let mut value: Value = serde_json::from_str(&text).map_err(|err| {
            CwlError::Failed(format!("the tool's cwl.output.json is not JSON: {err}"))
        })?;
        complete_file_objects(&mut value, layout)?;
        return Ok(value);
    }
    let library = tool.javascript_library();
    let base = Context::new(inputs, runtime, library.as_deref());
    let mut out = Map::new();
    for output in &tool.outputs {
        let value = collect_one(output, &base, layout)?;
        out.insert(output.id.clone(), value);
    }
    Ok(Value::Object(out))
}

fn collect_one(output: &Parameter, base: &Context, layout: &Layout) -> Result<Value, CwlError> {
    let binding = output.binding.clone().unwrap_or(Value::Null);
    // A record whose fields are each collected by their own binding (a record output
    // with a binding of its own is collected by it, as any other output).
    let per_field = record_type(&output.ty).filter(|_| output.binding.is_none());
    let value = if let Some(fields) = per_field {
        // A record output: each field collected by its own binding.
        let mut record = Map::new();
        for field in fields {
            let name = field
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let parameter = Parameter {
                id: name.clone(),
                ty: field.get("type").cloned().unwrap_or(json!("Any")),
                label: None,
                doc: None,
                binding: field.get("outputBinding").cloned(),
                default: None,
                format: field.get("format").cloned(),
                secondary_files: field
                    .get("secondaryFiles")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                load_contents: false,
                load_listing: None,
            };
            record.insert(name, collect_one(&parameter, base, layout)?);
        }
        Value::Object(record)
    } else {
        let context = *base;
        let mut files = Vec::new();
        if let Some(glob) = binding.get("glob") {
            let patterns = match evaluate(glob, &context)? {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                one => vec![one],
            };
            for pattern in patterns {
                let Value::String(pattern) = pattern else {
                    return Err(CwlError::Failed(format!(
                        "the glob of output {} gives {pattern}, not a string",
                        output.id
                    )));
                };
                for path in glob_paths(&pattern, layout)? {
                    files.push(file_object(&path, layout.work)?);
                }
            }
        }
        let load_contents = output.load_contents
            || binding
                .get("loadContents")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        if load_contents {
            for file in &mut files {
                load_file_contents(file)?;
            }
        }
        let mut value = Value::Array(files);
        if let Some(expression) = binding.get("outputEval") {
            let self_ = value.clone();
            value = evaluate(
                expression,
                &Context {
                    self_: &self_,
                    ..*base
                },
            )?;
            // Files the expression names by their path in the container are the files
            // the tool left there.
            complete_file_objects(&mut value, layout)?;
        } else if is_single_file(&output.ty) {
            value = match value {
                Value::Array(mut items) if items.len() == 1 => items.remove(0),
                Value::Array(items) if items.is_empty() => Value::Null,
                Value::Array(items) => {
                    return Err(CwlError::Failed(format!(
                        "output {} is one {} but its glob matched {} paths",
                        output.id,
                        super::types::describe(&output.ty),
                        items.len()
                    )))
                }
                other => other,
            };
        }
        value
    };
    let mut value = value;
    let context = *base;
    add_secondary_and_format(&mut value, output, &context, layout)?;
    if !matches(&output.ty, &value) {
        return Err(CwlError::Failed(format!(
            "output {} should be {} but the tool left {}",
            output.id,
            super::types::describe(&output.ty),
            if value.is_null() {
                "nothing (was the file written to the output directory?)".to_string()
            } else {
                value.to_string()
            }
        )));
    }
    Ok(value)
}

fn record_type(ty: &Value) -> Option<Vec<Map<String, Value>>> {
    (ty.get("type").and_then(Value::as_str) == Some("record")).then(|| record_fields(ty))
}

/// A File or Directory (possibly optional), not a list of them.
fn is_single_file(ty: &Value) -> bool {
    match ty {
        Value::String(s) => s == "File" || s == "Directory",
        Value::Array(union) => union.iter().any(is_single_file),
        _ => false,
    }
}

fn add_secondary_and_format(
    value: &mut Value,
    output: &Parameter,
    context: &Context,
    layout: &Layout,
) -> Result<(), CwlError> {
    match value {
        Value::Array(items) => {
            for item in items {
                add_secondary_and_format(item, output, context, layout)?;
            }
        }
        Value::Object(_) if class_of(value) == Some("File") => {
            if let Some(format) = &output.format {
                let format = evaluate(
                    format,
                    &Context {
                        self_: value,
                        ..*context
                    },
                )?;
                value["format"] = format;
            }
            let mut found = Vec::new();
            for pattern in &output.secondary_files {
                let text = pattern.get("pattern").cloned().unwrap_or(pattern.clone());
                // Secondary files of outputs are optional unless said required (CWL v1.2).
                let required = pattern
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let path = value
                    .get("location")
                    .and_then(Value::as_str)
                    .map(location_path);
                let Some(path) = path else { continue };
                let name = evaluate(
                    &text,
                    &Context {
                        self_: value,
                        ..*context
                    },
                )?;
                let Some(name) = name.as_str() else { continue };
                let candidate = secondary_name(&path, name);
                if candidate.exists() {
                    found.push(file_object(&candidate, layout.work)?);
                } else if required {
                    return Err(CwlError::Failed(format!(
                        "output {} lacks its secondary file {}",
                        output.id,
                        candidate.display()
                    )));
                }
            }
            if !found.is_empty() {
                value["secondaryFiles"] = Value::Array(found);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The path a secondary-file pattern names beside `primary`: each leading `^` strips one
/// extension, the rest is appended; a pattern with neither is a name of its own.
pub fn secondary_name(primary: &Path, pattern: &str) -> PathBuf {
    let mut name = primary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rest = pattern;
    while let Some(r) = rest.strip_prefix('^') {
        if let Some(dot) = name.rfind('.') {
            name.truncate(dot);
        }
        rest = r;
    }
    name.push_str(rest);
    primary.with_file_name(name)
}

/// The filesystem path of a `file://` location (or a bare path).
pub fn location_path(location: &str) -> PathBuf {
    let path = location.strip_prefix("file://").unwrap_or(location);
    PathBuf::from(percent_decode(path))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `file://` URI for a path, with the characters URIs reserve escaped.
pub fn file_location(path: &Path) -> String {
    let mut out = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A File or Directory object for a host path (a Directory with its listing).
pub fn file_object(path: &Path, work: &Path) -> Result<Value, CwlError> {
    let basename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| {
            // `glob: .` names the output directory itself.
            work.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let meta = std::fs::metadata(path).map_err(|err| {
        CwlError::Failed(format!("cannot read the output {}: {err}", path.display()))
    })?;
    if meta.is_dir() {
        let mut listing = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|err| CwlError::Failed(format!("cannot list {}: {err}", path.display())))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            listing.push(file_object(&entry, work)?);
        }
        return Ok(json!({
            "class": "Directory",
            "location": file_location(path),
            "basename": basename,
            "listing": listing,
        }));
    }
    let (nameroot, nameext) = split_name(&basename);
    Ok(json!({
        "class": "File",
        "location": file_location(path),
        "basename": basename,
        "nameroot": nameroot,
        "nameext": nameext,
        "size": meta.len(),
        "checksum": sha1_of(path)?,
    }))
}

/// `a.tar.gz` -> (`a.tar`, `.gz`); a leading dot is part of the root.
pub fn split_name(basename: &str) -> (String, String) {
    match basename.rfind('.') {
        Some(i) if i > 0 => (basename[..i].to_string(), basename[i..].to_string()),
        _ => (basename.to_string(), String::new()),
    }
}

/// `sha1$<hex>` of a file.
pub fn sha1_of(path: &Path) -> Result<String, CwlError> {
    let mut file = std::fs::File::open(path)
        .map_err(|err| CwlError::Failed(format!("cannot read {}: {err}", path.display())))?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|err| CwlError::Failed(format!("cannot read {}: {err}", path.display())))?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
    }
    let digest = context.finish();
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha1${hex}"))
}

/// Sets `contents` of a File object to its first 64 KiB.
pub fn load_file_contents(file: &mut Value) -> Result<(), CwlError> {
    let Some(location) = file.get("location").and_then(Value::as_str) else {
        return Ok(());
    };
    let path = location_path(location);
    let mut handle = std::fs::File::open(&path)
        .map_err(|err| CwlError::Failed(format!("cannot read {}: {err}", path.display())))?;
    let mut bytes = Vec::new();
    handle
        .by_ref()
        .take(CONTENTS_LIMIT as u64)
        .read_to_end(&mut bytes)
        .map_err(|err| CwlError::Failed(format!("cannot read {}: {err}", path.display())))?;
    file["contents"] = Value::String(String::from_utf8_lossy(&bytes).into_owned());
    Ok(())
}

/// Fills File and Directory objects of a `cwl.output.json`: paths made host locations,
/// with size, checksum and names.
fn complete_file_objects(value: &mut Value, layout: &Layout) -> Result<(), CwlError> {
    match value {
        Value::Array(items) => {
            for item in items {
                complete_file_objects(item, layout)?;
            }
        }
        Value::Object(map) => {
            if class_of(&Value::Object(map.clone())).is_some() {
                let named = map
                    .get("path")
                    .or_else(|| map.get("location"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                if let Some(named) = named {
                    let named = named.strip_prefix("file://").unwrap_or(&named).to_string();
                    if let Some(host) = layout.host_path(&named) {
                        if host.exists() {
                            let mut complete = file_object(&host, layout.work)?;
                            if let Some(extra) = complete.as_object_mut() {
                                for (k, v) in map.iter() {
                                    if !["path", "location", "listing"].contains(&k.as_str()) {
                                        extra.entry(k.clone()).or_insert(v.clone());
                                    }
                                }
                            }
                            *value = complete;
                            return Ok(());
                        }
                    }
                }
            }
            for item in map.values_mut() {
                complete_file_objects(item, layout)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The paths a glob pattern matches, sorted; the pattern is relative to the output
/// directory or an absolute path the tool sees.
pub fn glob_paths(pattern: &str, layout: &Layout) -> Result<Vec<PathBuf>, CwlError> {
    if pattern == "." || pattern == layout.outdir || pattern == "./" {
        return Ok(vec![layout.work.to_path_buf()]);
    }
    let (root, relative) = if pattern.starts_with('/') {
        if let Some(rest) = pattern.strip_prefix(layout.outdir) {
            (
                layout.work.to_path_buf(),
                rest.trim_start_matches('/').to_string(),
            )
        } else {
            // An absolute path into a staged input: no wildcards there.
            return Ok(layout
                .host_path(pattern)
                .filter(|p| p.exists())
                .into_iter()
                .collect());
        }
    } else {
        (layout.work.to_path_buf(), pattern.to_string())
    };
    let mut current = vec![root];
    for component in relative.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let mut next = Vec::new();
        for dir in &current {
            if component == ".." {
                return Err(CwlError::Failed(format!(
                    "the glob {pattern} leaves the output directory"
                )));
            }
            if !component.contains(['*', '?', '[']) {
                let candidate = dir.join(component);
                if candidate.symlink_metadata().is_ok() {
                    next.push(candidate);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.') || component.starts_with('.'))
                .filter(|name| wildcard_match(component, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        current = next;
    }
    Ok(current)
}

/// Shell-style matching of one path component: `*`, `?` and `[...]` (with `!` or `^`).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(c) = n.first() else { return false };
                let mut set = &p[1..end];
                let negate = matches!(set.first(), Some('!') | Some('^'));
                if negate {
                    set = &set[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= *c && *c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == *c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[end + 1..], &n[1..])
            }
            Some(x) => n.first() == Some(x) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(!wildcard_match("*.txt", "a.txt.gz"));
        assert!(wildcard_match("[ab]?.c", "bx.c"));
        assert!(!wildcard_match("[!ab]x", "ax"));
        assert!(wildcard_match("file[0-9]", "file7"));
    }

    #[test]
    fn secondary_names_and_splits() {
        let p = Path::new("/d/reads.bam");
        assert_eq!(secondary_name(p, ".bai"), PathBuf::from("/d/reads.bam.bai"));
        assert_eq!(secondary_name(p, "^.bai"), PathBuf::from("/d/reads.bai"));
        assert_eq!(split_name("a.tar.gz"), ("a.tar".into(), ".gz".into()));
        assert_eq!(split_name(".hidden"), (".hidden".into(), "".into()));
    }

    #[test]
    fn locations_round_trip() {
        let p = Path::new("/tmp/a b#c.txt");
        let location = file_location(p);
        assert_eq!(location, "file:///tmp/a%20b%23c.txt");
        assert_eq!(location_path(&location), p);
    }

    #[test]
    fn globs_are_sorted_and_skip_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "a.txt", ".c.txt", "d.dat"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        let layout = Layout {
            work: dir.path(),
            outdir: crate::cwl::OUTDIR,
            mounts: &[],
        };
        let found = glob_paths("*.txt", &layout).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.txt", "b.txt"]);
        assert_eq!(
            glob_paths("/var/spool/cwl/d.dat", &layout).unwrap(),
            vec![dir.path().join("d.dat")]
        );
        let file = file_object(&dir.path().join("a.txt"), dir.path()).unwrap();
        assert_eq!(file["size"], 5);
        assert_eq!(
            file["checksum"],
            "sha1$cfc7b4885384957ae445bc14914d4588f607651c"
        );
    }
}
