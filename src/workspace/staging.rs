//! Staging a job's inputs: json inputs pass through; file inputs given inline, as base64 or
//! by `href` become files under the job's `inputs/` directory, streamed (never held whole in
//! memory for references).
//!
//! Choices:
//! - A file input's values land in `inputs/<INPUT>/<n>-<name>` (`n` = the value's 0-based
//!   position, so the values of a `multiple` input never clash). `name` is the last segment
//!   of a reference's URL path (percent-decoded, reduced to `[A-Za-z0-9._-]`), else `input`;
//!   a name without an extension gets one from the media type (the value's, else the
//!   response's `Content-Type`, else the input's first declared type) when one is known.
//! - Inline text is written as is (UTF-8); any other inline JSON value is written as its
//!   compact JSON text. Base64 is accepted in the standard and URL-safe alphabets, padded or
//!   not, with whitespace (line breaks) anywhere.
//! - References: `http`/`https` are fetched with the given client, streamed to disk chunk by
//!   chunk and cut off at [`StagingLimits::max_input_bytes`]. Timeouts are the client's:
//!   [`http_client_for`] gives up connecting after [`CONNECT_TIMEOUT`] and when the server sends
//!   nothing (headers or body) for [`READ_TIMEOUT`]; there is no limit on the total time (a
//!   large file on a slow link is legitimate). Up to 10 redirects are followed. A non-2xx
//!   answer fails the input with its status. `file://` is refused
//!   unless [`StagingLimits::allow_file_urls`], and then only names a regular file by its
//!   real path (no symbolic link anywhere in it). Any other scheme is refused.
//! - Json inputs take their value as is; given by reference or as base64, the content is the
//!   value (for a `string` input the text itself, otherwise parsed as JSON, falling back to
//!   the text so the Seed contract reports the type mismatch), at most
//!   [`MAX_JSON_REFERENCE_BYTES`].
//! - Messages name a reference without its query string or credentials, which may be
//!   secrets (signed URLs).
//! - References may not reach the server's own network unless the operator allows it
//!   ([`StagingLimits::allow_private_urls`], the address guard of [`crate::outbound`]).
//! - `workspace://<name>/<path>` and `s3://<bucket>/<key>` (the latter when a named
//!   workspace covers that bucket and key prefix) are read through the workspace's broker
//!   ([`crate::storage`]), with the same size limit; the path must stay inside the
//!   workspace and may not go through a symbolic link. Who may read them: anyone who may
//!   execute (any signed-in user); workspaces have no per-user rights yet.
//! - A Seed input marked `partial` (the job reads only part of the file) whose reference
//!   names a file of a host workspace is not copied: its path in the workspace is given to
//!   the job, which the engine bind-mounts read-only in place.

use crate::domain::{ExecuteRequest, InputKind, InputValue, Process};
use crate::outbound::shown_url;
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::{alphabet, Engine};
use seed::contract::Invocation;
use seed::manifest::JsonType;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why inputs could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    /// The input cannot be used as given (bad base64, a reference that answers 404, a
    /// scheme ades does not fetch, too large): the job fails with a `data` error naming it.
    #[error("input {input}: {reason}")]
    BadInput { input: String, reason: String },
    /// The server could not write the files.
    #[error("cannot stage the inputs: {0}")]
    Io(String),
}

/// Limits on what staging fetches and writes.
#[derive(Debug, Clone)]
pub struct StagingLimits {
    /// Largest single input file, bytes.
    pub max_input_bytes: u64,
    /// Whether `file://` references (server-local paths) are allowed.
    pub allow_file_urls: bool,
    /// Whether http(s) references may reach loopback, private and link-local addresses
    /// (off: a client cannot make the server fetch from its own network, see `crate::outbound`).
    pub allow_private_urls: bool,
    /// The named workspaces `workspace://<name>/<path>` and `s3://<bucket>/<key>`
    /// references are read from (and output workspaces published to).
    pub workspaces: crate::storage::Workspaces,
}

impl Default for StagingLimits {
    fn default() -> Self {
        StagingLimits {
            max_input_bytes: 1024 * 1024 * 1024,
            allow_file_urls: false,
            allow_private_urls: false,
            workspaces: crate::storage::Workspaces::default(),
        }
    }
}

/// Longest wait for a connection to a referenced server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest a referenced server may send nothing (before the headers or within the body).
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The client staging fetches references with, for these limits: [`CONNECT_TIMEOUT`],
/// [`READ_TIMEOUT`], no bound on the total time, and the address guard unless private
/// addresses are allowed (see [`crate::outbound`]).
pub fn http_client_for(limits: &StagingLimits) -> reqwest::Client {
    crate::outbound::client(
        limits.allow_private_urls,
        crate::outbound::Timeouts {
            connect: CONNECT_TIMEOUT,
            read: READ_TIMEOUT,
            total: None,
        },
    )
}

/// Largest content a json input may be given by reference or as base64: the value ends up
/// in an environment variable, which Linux caps at 128 KiB per string anyway.
pub const MAX_JSON_REFERENCE_BYTES: u64 = 1024 * 1024;

/// Longest file name kept from a URL (the `<n>-` prefix comes on top).
const MAX_NAME_CHARS: usize = 100;

// Decoding accepts padded and unpadded input alike: clients differ.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Writes the file inputs of `request` under `inputs_dir` and returns the Seed invocation's
/// `files` and `json` parts (settings and mounts are the caller's).
pub async fn stage_inputs(
    process: &Process,
    request: &ExecuteRequest,
    jobs_root: &Path,
    inputs_dir: &Path,
    client: &reqwest::Client,
    limits: &StagingLimits,
) -> Result<Invocation, StagingError> {
    let mut invocation = Invocation::default();
    for (id, values) in &request.inputs {
        let Some(description) = process.input(id) else {
            return Err(bad(id, format!("process {} has no such input", process.id)));
        };
        match &description.kind {
            InputKind::Json { kind } => {
                let value = match values.as_slice() {
                    [] => continue,
                    [one] => json_value(id, *kind, one, client, limits).await?,
                    more => return Err(bad(id, format!("takes one value, got {}", more.len()))),
                };
                invocation.json.insert(id.clone(), value);
            }
            InputKind::File { media_types } => {
                if values.is_empty() {
                    continue;
                }
                let dir = inputs_dir.join(input_dir_name(id)?);
                tokio::fs::create_dir_all(&dir)
                    .await
                    .map_err(|e| io_error(&dir, e))?;
                let default_type = media_types.first().map(String::as_str);
                let partial = process
                    .seed()
                    .and_then(|seed| seed.manifest.job.interface.as_ref())
                    .and_then(|interface| interface.inputs.files.iter().find(|f| f.name == *id))
                    .is_some_and(|file| file.partial);
                let mut paths = Vec::with_capacity(values.len());
                for (n, value) in values.iter().enumerate() {
                    let target = FileTarget {
                        input: id,
                        dir: &dir,
                        index: n,
                        default_type,
                        partial,
                    };
                    paths.push(stage_file(&target, value, jobs_root, client, limits).await?);
                }
                invocation.files.insert(id.clone(), paths);
            }
        }
    }
    Ok(invocation)
}

fn bad(input: &str, reason: impl Into<String>) -> StagingError {
    StagingError::BadInput {
        input: input.to_string(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path, err: std::io::Error) -> StagingError {
    StagingError::Io(format!("{}: {err}", path.display()))
}

// Seed input names are `[A-Za-z0-9_-]`; anything else would be a bug upstream, refused
// rather than allowed to shape a path.
pub(crate) fn input_dir_name(id: &str) -> Result<&str, StagingError> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(id)
    } else {
        Err(bad(id, "is not a valid Seed input name"))
    }
}

/// Where one file value goes.
struct FileTarget<'a> {
    input: &'a str,
    dir: &'a Path,
    index: usize,
    default_type: Option<&'a str>,
    /// The Seed input is `partial` (the job reads part of the file): a file of a host
    /// workspace is bind-mounted in place instead of copied.
    partial: bool,
}

impl FileTarget<'_> {
    /// `<dir>/<index>-<name>`, `name` from the URL when given, else `input`, with an
    /// extension from the first known media type when it has none.
    fn path(&self, from_url: Option<String>, media_types: &[Option<&str>]) -> PathBuf {
        let mut name = from_url.unwrap_or_else(|| "input".to_string());
        if !name.contains('.') {
            let extension = media_types
                .iter()
                .flatten()
                .copied()
                .chain(self.default_type)
                .find_map(extension_for);
            if let Some(extension) = extension {
                name.push('.');
                name.push_str(extension);
            }
        }
        self.dir.join(format!("{}-{name}", self.index))
    }
}

async fn stage_file(
    target: &FileTarget<'_>,
    value: &InputValue,
    jobs_root: &Path,
    client: &reqwest::Client,
    limits: &StagingLimits,
) -> Result<PathBuf, StagingError> {
    let input = target.input;
    match value {
        InputValue::Inline { value, media_type } => {
            let bytes = match value {
                Value::String(text) => text.as_bytes().to_vec(),
                other => serde_json::to_vec(other).expect("a JSON value serialises"),
            };
            check_size(input, bytes.len() as u64, limits.max_input_bytes)?;
            let path = target.path(None, &[media_type.as_deref()]);
            write_small(&path, &bytes).await?;
            Ok(path)
        }
        InputValue::Base64 { data, media_type } => {
            let bytes = decode_base64(input, data)?;
            check_size(input, bytes.len() as u64, limits.max_input_bytes)?;
            let path = target.path(None, &[media_type.as_deref()]);
            write_small(&path, &bytes).await?;
            Ok(path)
        }
        InputValue::Href { href, media_type } => {
            if target.partial {
                if let Some(in_place) = local_workspace_file(input, href, limits).await? {
                    return Ok(in_place);
                }
            }
            let mut source = open_reference(input, href, client, limits).await?;
            let path = target.path(
                source.name.take(),
                &[media_type.as_deref(), source.media_type.as_deref()],
            );
            let mut file = tokio::fs::File::create(&path)
                .await
                .map_err(|e| io_error(&path, e))?;
            let copied = source
                .copy_to(input, &mut file, limits.max_input_bytes)
                .await;
            let flushed = match copied {
                Ok(_) => file.flush().await.map_err(|e| io_error(&path, e)),
                Err(err) => Err(err),
            };
            drop(file);
            if let Err(err) = flushed {
                // A partial download must not look like an input.
                let _ = tokio::fs::remove_file(&path).await;
                return Err(err);
            }
            Ok(path)
        }
        InputValue::JobOutput {
            job,
            path: produced,
            media_type,
        } => stage_job_output(target, jobs_root, job, produced, media_type.as_deref()).await,
    }
}

/// The local path of a `workspace://` (or covered `s3://`) reference whose workspace is a
/// host directory, checked by its broker (inside the workspace, no link in the path, a
/// regular file); `None` for anything else, which is then copied as usual.
async fn local_workspace_file(
    input: &str,
    href: &str,
    limits: &StagingLimits,
) -> Result<Option<PathBuf>, StagingError> {
    let Ok(url) = reqwest::Url::parse(href.trim()) else {
        return Ok(None);
    };
    let shown = shown_url(&url);
    let unusable = |e: &dyn std::fmt::Display| bad(input, format!("cannot read {shown}: {e}"));
    let Some((broker, path)) = limits
        .workspaces
        .resolve_reference(&url)
        .await
        .map_err(|e| unusable(&e))?
    else {
        return Ok(None);
    };
    broker.local_file(&path).await.map_err(|e| unusable(&e))
}

/// Links a file another job produced into this job's inputs: a hard link (no copy) when
/// both are on one file system, else a copy. The file is taken as the server serves it:
/// a regular file inside that job's outputs, reached through no symbolic link.
async fn stage_job_output(
    target: &FileTarget<'_>,
    jobs_root: &Path,
    job: &crate::domain::JobId,
    produced: &str,
    media_type: Option<&str>,
) -> Result<PathBuf, StagingError> {
    let outputs = jobs_root.join(job.as_str()).join("outputs");
    if super::open_inside(&outputs, Path::new(produced)).is_none() {
        return Err(bad(
            target.input,
            format!("file {produced} of job {job} is gone; run the producing job again"),
        ));
    }
    let source = outputs.join(produced);
    let name = Path::new(produced)
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(sanitise_name);
    let path = target.path(name, &[media_type]);
    if tokio::fs::hard_link(&source, &path).await.is_err() {
        // Another file system (or one without links): a copy is the fallback.
        tokio::fs::copy(&source, &path)
            .await
            .map_err(|e| io_error(&path, e))?;
    }
    Ok(path)
}

async fn write_small(path: &Path, bytes: &[u8]) -> Result<(), StagingError> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| io_error(path, e))
}

fn check_size(input: &str, size: u64, max: u64) -> Result<(), StagingError> {
    if size > max {
        Err(bad(input, too_large(max)))
    } else {
        Ok(())
    }
}

fn too_large(max: u64) -> String {
    format!("the content is larger than the {max} bytes this server accepts for one input")
}

/// Decodes base64 in either alphabet, padded or not, ignoring whitespace.
pub fn decode_base64(input: &str, data: &str) -> Result<Vec<u8>, StagingError> {
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let url_safe = compact.contains(['-', '_']);
    let engine = if url_safe {
        &URL_SAFE_LENIENT
    } else {
        &STANDARD_LENIENT
    };
    engine.decode(compact.as_bytes()).map_err(|err| {
        bad(
            input,
            format!("the value is not valid base64 ({err}); send the file's bytes base64-encoded"),
        )
    })
}

async fn json_value(
    input: &str,
    kind: JsonType,
    value: &InputValue,
    client: &reqwest::Client,
    limits: &StagingLimits,
) -> Result<Value, StagingError> {
    let bytes = match value {
        InputValue::Inline { value, .. } => return Ok(value.clone()),
        InputValue::Base64 { data, .. } => {
            let bytes = decode_base64(input, data)?;
            check_size(input, bytes.len() as u64, MAX_JSON_REFERENCE_BYTES)?;
            bytes
        }
        InputValue::Href { href, .. } => {
            let mut source = open_reference(input, href, client, limits).await?;
            let mut bytes = Vec::new();
            let max = MAX_JSON_REFERENCE_BYTES.min(limits.max_input_bytes);
            source.copy_to(input, &mut bytes, max).await?;
            bytes
        }
        InputValue::JobOutput { .. } => {
            return Err(bad(
                input,
                "a json input cannot take a file another job produced",
            ))
        }
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| bad(input, "the referenced content is not UTF-8 text"))?;
    Ok(match kind {
        JsonType::String => Value::String(text),
        _ => serde_json::from_str(text.trim()).unwrap_or(Value::String(text)),
    })
}

/// An opened reference, before its content is copied.
struct Source {
    body: Body,
    /// A file name taken from the URL path, sanitised.
    name: Option<String>,
    /// The response's `Content-Type`.
    media_type: Option<String>,
}

enum Body {
    Http(reqwest::Response),
    /// A local file or a file of a named workspace.
    File(Box<dyn tokio::io::AsyncRead + Unpin + Send>),
}

async fn open_reference(
    input: &str,
    href: &str,
    client: &reqwest::Client,
    limits: &StagingLimits,
) -> Result<Source, StagingError> {
    let url = reqwest::Url::parse(href.trim())
        .map_err(|e| bad(input, format!("the reference {href:?} is not a URL ({e})")))?;
    let shown = shown_url(&url);
    let name = url
        .path_segments()
        .and_then(|mut segments| segments.next_back().map(str::to_string))
        .and_then(|segment| sanitise_name(&percent_decode(&segment)));
    match url.scheme() {
        "http" | "https" => {
            if !limits.allow_private_urls {
                if let Some(problem) = crate::outbound::guard::literal_host_problem(&url) {
                    return Err(bad(input, format!("cannot fetch {shown}: {problem}")));
                }
            }
            let response =
                client.get(url.clone()).send().await.map_err(|err| {
                    bad(input, format!("cannot fetch {shown}: {}", fetch_error(err)))
                })?;
            let status = response.status();
            if !status.is_success() {
                return Err(bad(
                    input,
                    format!(
                        "{shown} answered {status}; check the reference (it must be readable \
                         without credentials by this server)"
                    ),
                ));
            }
            if let Some(length) = response.content_length() {
                check_size(input, length, limits.max_input_bytes)?;
            }
            let media_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Ok(Source {
                body: Body::Http(response),
                name,
                media_type,
            })
        }
        "file" => {
            let file = open_local_file(input, &url, &shown, limits).await?;
            Ok(Source {
                body: Body::File(Box::new(file)),
                name,
                media_type: None,
            })
        }
        "workspace" | "s3" => {
            let unusable =
                |e: &dyn std::fmt::Display| bad(input, format!("cannot read {shown}: {e}"));
            let (broker, path) = limits
                .workspaces
                .resolve_reference(&url)
                .await
                .map_err(|e| unusable(&e))?
                .ok_or_else(|| bad(input, format!("{shown} names no workspace")))?;
            let found = broker.stat(&path).await.map_err(|e| unusable(&e))?;
            check_size(input, found.size, limits.max_input_bytes)?;
            let stream = broker.read(&path, None).await.map_err(|e| unusable(&e))?;
            Ok(Source {
                body: Body::File(Box::new(tokio_util::io::StreamReader::new(stream))),
                name,
                media_type: None,
            })
        }
        other => Err(bad(
            input,
            format!(
                "references with the scheme {other:?} are not fetched; use an http(s), \
                 workspace:// or s3:// URL or send the content inline (base64)"
            ),
        )),
    }
}

// reqwest's messages repeat the URL in full, query string included.
fn fetch_error(err: reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out: the server sent nothing for too long".to_string();
    }
    crate::error::cause_chain(&err.without_url())
}

async fn open_local_file(
    input: &str,
    url: &reqwest::Url,
    shown: &str,
    limits: &StagingLimits,
) -> Result<tokio::fs::File, StagingError> {
    use std::os::unix::fs::MetadataExt;
    if !limits.allow_file_urls {
        return Err(bad(
            input,
            "file:// references are not allowed on this server; send the content inline \
             (base64) or as an http(s) reference",
        ));
    }
    let path = url
        .to_file_path()
        .map_err(|_| bad(input, format!("{shown} does not name a local file")))?;
    let unreadable = |e: std::io::Error| bad(input, format!("cannot read {shown}: {e}"));
    let real = tokio::fs::canonicalize(&path).await.map_err(unreadable)?;
    if real != path {
        return Err(bad(
            input,
            format!("{shown} goes through a symbolic link; name the file by its real path"),
        ));
    }
    let before = tokio::fs::symlink_metadata(&real)
        .await
        .map_err(unreadable)?;
    if !before.file_type().is_file() {
        return Err(bad(input, format!("{shown} is not a regular file")));
    }
    check_size(input, before.len(), limits.max_input_bytes)?;
    let file = tokio::fs::File::open(&real).await.map_err(unreadable)?;
    let opened = file.metadata().await.map_err(unreadable)?;
    // The path was swapped between the check and the open.
    if opened.dev() != before.dev() || opened.ino() != before.ino() {
        return Err(bad(input, format!("{shown} changed while it was opened")));
    }
    Ok(file)
}

impl Source {
    /// Copies the content to `out`, failing the input once it passes `max` bytes.
    async fn copy_to<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        input: &str,
        out: &mut W,
        max: u64,
    ) -> Result<u64, StagingError> {
        let mut total: u64 = 0;
        match &mut self.body {
            Body::Http(response) => loop {
                let chunk = match response.chunk().await {
                    Ok(None) => return Ok(total),
                    Ok(Some(chunk)) => chunk,
                    Err(err) => {
                        return Err(bad(
                            input,
                            format!(
                                "the download broke off after {total} bytes: {}",
                                fetch_error(err)
                            ),
                        ))
                    }
                };
                total += chunk.len() as u64;
                check_size(input, total, max)?;
                out.write_all(&chunk)
                    .await
                    .map_err(|e| StagingError::Io(e.to_string()))?;
            },
            Body::File(file) => {
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let read = file
                        .read(&mut buffer)
                        .await
                        .map_err(|e| bad(input, format!("cannot read the file: {e}")))?;
                    if read == 0 {
                        return Ok(total);
                    }
                    total += read as u64;
                    check_size(input, total, max)?;
                    out.write_all(&buffer[..read])
                        .await
                        .map_err(|e| StagingError::Io(e.to_string()))?;
                }
            }
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file name made safe: only `[A-Za-z0-9._-]` (others become `_`), no leading dot, at
/// most [`MAX_NAME_CHARS`] characters (the end kept, for the extension); `None` when
/// nothing useful is left.
fn sanitise_name(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    let skip = cleaned.chars().count().saturating_sub(MAX_NAME_CHARS);
    let cleaned: String = cleaned.chars().skip(skip).collect();
    let useful = cleaned.chars().any(|c| c.is_ascii_alphanumeric());
    useful.then_some(cleaned)
}

/// A file extension for a media type (`text/plain` → `txt`), parameters ignored.
fn extension_for(media_type: &str) -> Option<&'static str> {
    let essence = crate::jobs::request::media_type_essence(media_type);
    // mime_guess lists extensions alphabetically (`text/plain` starts with `asm`): the usual
    // ones first.
    let preferred = match essence.as_str() {
        "text/plain" => Some("txt"),
        "application/json" => Some("json"),
        "application/geo+json" => Some("geojson"),
        "text/csv" => Some("csv"),
        "image/tiff" => Some("tif"),
        "image/jpeg" => Some("jpg"),
        "application/xml" | "text/xml" => Some("xml"),
        "text/html" => Some("html"),
        "application/x-netcdf" | "application/netcdf" => Some("nc"),
        "application/x-hdf5" => Some("h5"),
        "application/octet-stream" => None,
        _ => mime_guess::get_mime_extensions_str(&essence).and_then(|list| list.first().copied()),
    };
    preferred
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_in_both_alphabets_with_whitespace() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        let standard = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(standard.contains('+') || standard.contains('/'));
        assert!(url_safe.contains('-') || url_safe.contains('_'));
        let wrapped: String = standard
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\r\n", std::str::from_utf8(line).unwrap()))
            .collect();
        assert_eq!(decode_base64("IN", &standard).unwrap(), bytes);
        assert_eq!(decode_base64("IN", &url_safe).unwrap(), bytes);
        assert_eq!(decode_base64("IN", &wrapped).unwrap(), bytes);
        assert_eq!(decode_base64("IN", "aGVsbG8").unwrap(), b"hello");
        let err = decode_base64("IN", "not base64!").unwrap_err();
        assert!(err.to_string().starts_with("input IN: "), "{err}");
        assert!(err.to_string().contains("base64"), "{err}");
    }

    #[test]
    fn names_from_urls_are_sanitised() {
        assert_eq!(sanitise_name("scene.tif").as_deref(), Some("scene.tif"));
        assert_eq!(
            sanitise_name(&percent_decode("my%20file%2F..%2Fx.txt")).as_deref(),
            Some("my_file_.._x.txt")
        );
        assert_eq!(sanitise_name("..").as_deref(), None);
        assert_eq!(sanitise_name("").as_deref(), None);
        assert_eq!(sanitise_name(".hidden").as_deref(), Some("hidden"));
        let long = format!("{}.tif", "a".repeat(300));
        let kept = sanitise_name(&long).unwrap();
        assert_eq!(kept.len(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".tif"));
        assert_eq!(percent_decode("a%"), "a%");
        assert_eq!(percent_decode("a%4"), "a%4");
        assert_eq!(percent_decode("a%41"), "aA");
    }

    #[test]
    fn extensions_come_from_media_types() {
        assert_eq!(extension_for("text/plain; charset=utf-8"), Some("txt"));
        assert_eq!(extension_for("image/tiff"), Some("tif"));
        assert_eq!(extension_for("image/png"), Some("png"));
        assert_eq!(extension_for("application/octet-stream"), None);
        assert_eq!(extension_for("nonsense"), None);
    }

    // ---- stage_inputs end to end, with a real HTTP server on 127.0.0.1 ------------------

    use crate::domain::Process;
    use crate::queue::test_support::{manifest, process};
    use axum::body::Body;
    use axum::http::{header, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use futures_util::stream;
    use serde_json::json;
    use std::collections::BTreeMap;

    const BIG: usize = 2000;
    const LIMIT: u64 = 1000;

    async fn serve() -> String {
        async fn slow() -> &'static str {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
        fn chunks(count: usize, pause: Duration) -> Body {
            let parts = stream::unfold(0usize, move |n| async move {
                if n == count {
                    return None;
                }
                if n > 0 {
                    tokio::time::sleep(pause).await;
                }
                Some((Ok::<_, std::io::Error>(vec![b'x'; 500]), n + 1))
            });
            Body::from_stream(parts)
        }
        let app = axum::Router::new()
            .route(
                "/data/{name}",
                get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "hello") }),
            )
            .route(
                "/download",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], "png bytes") }),
            )
            .route(
                "/missing",
                get(|| async { (StatusCode::NOT_FOUND, "no such file") }),
            )
            .route("/big", get(|| async { vec![b'x'; BIG] }))
            .route(
                "/big-stream",
                get(|| async { chunks(BIG / 500, Duration::ZERO).into_response() }),
            )
            .route("/slow", get(slow))
            .route(
                "/stall",
                get(|| async { Response::new(chunks(2, Duration::from_secs(5))) }),
            )
            .route("/answer", get(|| async { "42" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    fn test_process() -> Process {
        process(manifest(
            "stager",
            json!({
                "inputs": {
                    "files": [
                        { "name": "IMAGE", "mediaTypes": ["image/tiff"], "required": false },
                        { "name": "TILES", "multiple": true, "required": false }
                    ],
                    "json": [
                        { "name": "COUNT", "type": "integer", "required": false },
                        { "name": "LABEL", "type": "string", "required": false }
                    ]
                }
            }),
            json!([]),
        ))
    }

    fn href(url: String) -> InputValue {
        InputValue::Href {
            href: url,
            media_type: None,
        }
    }

    async fn stage(
        inputs: Vec<(&str, Vec<InputValue>)>,
        limits: StagingLimits,
    ) -> (Result<Invocation, StagingError>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let request = ExecuteRequest {
            inputs: inputs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        };
        let client = crate::outbound::client(
            true,
            crate::outbound::Timeouts {
                connect: Duration::from_secs(2),
                read: Duration::from_millis(300),
                total: None,
            },
        );
        let result = stage_inputs(
            &test_process(),
            &request,
            dir.path(),
            &dir.path().join("inputs"),
            &client,
            &limits,
        )
        .await;
        (result, dir)
    }

    fn small() -> StagingLimits {
        StagingLimits {
            max_input_bytes: LIMIT,
            // The test servers listen on 127.0.0.1.
            allow_private_urls: true,
            ..StagingLimits::default()
        }
    }

    fn reason(result: Result<Invocation, StagingError>, input: &str) -> String {
        match result {
            Err(StagingError::BadInput { input: got, reason }) => {
                assert_eq!(got, input);
                reason
            }
            other => panic!("expected a bad input, got {other:?}"),
        }
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[tokio::test]
    async fn references_are_fetched_into_named_files() {
        let base = serve().await;
        let (result, dir) = stage(
            vec![
                (
                    "IMAGE",
                    vec![href(format!("{base}/data/scene%20one.txt?sig=x"))],
                ),
                (
                    "TILES",
                    vec![
                        href(format!("{base}/download")),
                        InputValue::Inline {
                            value: json!("inline text"),
                            media_type: Some("text/plain".into()),
                        },
                        InputValue::Inline {
                            value: json!({"a": 1}),
                            media_type: None,
                        },
                        InputValue::Base64 {
                            data: "AAEC".into(),
                            media_type: None,
                        },
                    ],
                ),
                (
                    "COUNT",
                    vec![InputValue::Inline {
                        value: json!(3),
                        media_type: None,
                    }],
                ),
            ],
            small(),
        )
        .await;
        let invocation = result.unwrap();
        let inputs = dir.path().join("inputs");
        assert_eq!(
            invocation.files["IMAGE"],
            vec![inputs.join("IMAGE/0-scene_one.txt")]
        );
        assert_eq!(
            std::fs::read(inputs.join("IMAGE/0-scene_one.txt")).unwrap(),
            b"hello"
        );
        assert_eq!(
            file_names(&inputs.join("TILES")),
            ["0-download.png", "1-input.txt", "2-input", "3-input"]
        );
        assert_eq!(invocation.files["TILES"].len(), 4);
        assert_eq!(
            std::fs::read_to_string(inputs.join("TILES/2-input")).unwrap(),
            r#"{"a":1}"#
        );
        assert_eq!(
            std::fs::read(inputs.join("TILES/3-input")).unwrap(),
            [0, 1, 2]
        );
        assert_eq!(invocation.json["COUNT"], json!(3));
    }

    #[tokio::test]
    async fn inline_values_without_a_type_take_the_inputs_first_media_type() {
        let (result, dir) = stage(
            vec![(
                "IMAGE",
                vec![InputValue::Base64 {
                    data: "SUkqAA==".into(),
                    media_type: None,
                }],
            )],
            small(),
        )
        .await;
        result.unwrap();
        assert_eq!(
            file_names(&dir.path().join("inputs/IMAGE")),
            ["0-input.tif"]
        );
    }

    #[tokio::test]
    async fn a_404_fails_the_input_with_the_status_and_no_secrets() {
        let base = serve().await;
        let (result, _dir) = stage(
            vec![("IMAGE", vec![href(format!("{base}/missing?token=secret"))])],
            small(),
        )
        .await;
        let reason = reason(result, "IMAGE");
        assert!(reason.contains("404"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
    }

    #[tokio::test]
    async fn the_servers_own_network_is_refused_unless_allowed() {
        // The test server listens on 127.0.0.1: by default, neither the literal address
        // nor the name `localhost` may be fetched, with the server's own client either.
        let base = serve().await;
        let port = base.rsplit(':').next().unwrap().to_string();
        let guarded = StagingLimits {
            max_input_bytes: LIMIT,
            ..StagingLimits::default()
        };
        for url in [
            format!("{base}/data.txt"),
            format!("http://localhost:{port}/data.txt"),
        ] {
            let (result, _dir) =
                stage(vec![("IMAGE", vec![href(url.clone())])], guarded.clone()).await;
            let reason = reason(result, "IMAGE");
            assert!(reason.contains("allow_private_urls"), "{url}: {reason}");
        }
        // A name that resolves inward is refused by the resolver of the guarded client.
        let client = http_client_for(&guarded);
        let error = client
            .get(format!("http://localhost:{port}/data.txt"))
            .send()
            .await
            .expect_err("refused");
        assert!(
            crate::error::cause_chain(&error).contains("private or local"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn oversized_references_are_refused_and_leave_nothing() {
        let base = serve().await;
        for path in ["big", "big-stream"] {
            let (result, dir) = stage(
                vec![("IMAGE", vec![href(format!("{base}/{path}"))])],
                small(),
            )
            .await;
            let reason = reason(result, "IMAGE");
            assert!(
                reason.contains("larger than the 1000 bytes"),
                "{path}: {reason}"
            );
            assert!(
                file_names(&dir.path().join("inputs/IMAGE")).is_empty(),
                "{path}: a partial download was left"
            );
        }
    }

    #[tokio::test]
    async fn slow_and_stalling_servers_time_out() {
        let base = serve().await;
        for path in ["slow", "stall"] {
            let started = std::time::Instant::now();
            let (result, dir) = stage(
                vec![("IMAGE", vec![href(format!("{base}/{path}"))])],
                StagingLimits {
                    allow_private_urls: true,
                    ..StagingLimits::default()
                },
            )
            .await;
            let reason = reason(result, "IMAGE");
            assert!(reason.contains("timed out"), "{path}: {reason}");
            assert!(started.elapsed() < Duration::from_secs(3), "{path}");
            assert!(file_names(&dir.path().join("inputs/IMAGE")).is_empty());
        }
    }

    #[tokio::test]
    async fn json_inputs_may_be_given_by_reference() {
        let base = serve().await;
        let (result, _dir) = stage(
            vec![
                ("COUNT", vec![href(format!("{base}/answer"))]),
                ("LABEL", vec![href(format!("{base}/answer"))]),
            ],
            small(),
        )
        .await;
        let invocation = result.unwrap();
        assert_eq!(invocation.json["COUNT"], json!(42));
        assert_eq!(invocation.json["LABEL"], json!("42"));
    }

    #[tokio::test]
    async fn file_urls_are_refused_unless_allowed() {
        let source = tempfile::tempdir().unwrap();
        let real = source.path().canonicalize().unwrap().join("data.txt");
        std::fs::write(&real, "local").unwrap();
        let url = reqwest::Url::from_file_path(&real).unwrap().to_string();

        let (result, _dir) = stage(vec![("IMAGE", vec![href(url.clone())])], small()).await;
        assert!(reason(result, "IMAGE").contains("not allowed"));

        let allowed = StagingLimits {
            allow_file_urls: true,
            ..small()
        };
        let (result, dir) = stage(vec![("IMAGE", vec![href(url)])], allowed.clone()).await;
        result.unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("inputs/IMAGE/0-data.txt")).unwrap(),
            b"local"
        );

        let link = source.path().canonicalize().unwrap().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let url = reqwest::Url::from_file_path(&link).unwrap().to_string();
        let (result, _dir) = stage(vec![("IMAGE", vec![href(url)])], allowed.clone()).await;
        assert!(reason(result, "IMAGE").contains("symbolic link"));

        let url = reqwest::Url::from_file_path(source.path().canonicalize().unwrap())
            .unwrap()
            .to_string();
        let (result, _dir) = stage(vec![("IMAGE", vec![href(url)])], allowed).await;
        assert!(reason(result, "IMAGE").contains("not a regular file"));
    }

    #[tokio::test]
    async fn workspace_references_are_read_through_their_broker_and_stay_inside() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir(data.path().join("scenes")).unwrap();
        std::fs::write(data.path().join("scenes/a b.txt"), "from a workspace").unwrap();
        std::fs::write(data.path().join("big.bin"), vec![0u8; LIMIT as usize + 1]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", data.path().join("link.txt")).unwrap();
        let mut configured = BTreeMap::new();
        configured.insert(
            "raw".to_string(),
            crate::storage::WorkspaceSpec::host("", data.path().to_path_buf()),
        );
        let limits = StagingLimits {
            workspaces: crate::storage::Workspaces::new(&configured, None).unwrap(),
            ..small()
        };
        let (result, dir) = stage(
            vec![(
                "IMAGE",
                vec![href("workspace://raw/scenes/a%20b.txt".into())],
            )],
            limits.clone(),
        )
        .await;
        let invocation = result.unwrap();
        assert_eq!(
            std::fs::read_to_string(&invocation.files["IMAGE"][0]).unwrap(),
            "from a workspace"
        );
        assert_eq!(file_names(&dir.path().join("inputs/IMAGE")), ["0-a_b.txt"]);
        for (url, expected) in [
            ("workspace://raw/link.txt", "symbolic link"),
            (
                "workspace://raw/scenes%2F..%2F..%2Fetc%2Fpasswd",
                ".. segment",
            ),
            ("workspace://raw/scenes/missing.txt", "does not exist"),
            ("workspace://nope/a.txt", "no workspace named nope"),
            ("workspace://raw/big.bin", "larger than"),
            (
                "s3://some-bucket/a.txt",
                "no workspace of this server covers",
            ),
        ] {
            let (result, _dir) =
                stage(vec![("IMAGE", vec![href(url.into())])], limits.clone()).await;
            let reason = reason(result, "IMAGE");
            assert!(reason.contains(expected), "{url}: {reason}");
        }
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let (result, _dir) = stage(
            vec![("IMAGE", vec![href("ftp://example.org/a.tif".into())])],
            small(),
        )
        .await;
        assert!(reason(result, "IMAGE").contains("\"ftp\""));
        let (result, _dir) = stage(vec![("IMAGE", vec![href("not a url".into())])], small()).await;
        assert!(reason(result, "IMAGE").contains("not a URL"));
    }

    #[tokio::test]
    async fn inline_content_over_the_limit_is_refused() {
        let (result, _dir) = stage(
            vec![(
                "IMAGE",
                vec![InputValue::Inline {
                    value: json!("x".repeat(LIMIT as usize + 1)),
                    media_type: None,
                }],
            )],
            small(),
        )
        .await;
        assert!(reason(result, "IMAGE").contains("larger than"));
    }
}
