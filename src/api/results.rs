//! Results: the synchronous execute answer and `GET /jobs/{id}/results` share one renderer
//! (ogc-notes §1.6), plus single outputs and the published files (with `Range`).
//!
//! Choices:
//! - Omitted (or empty) `outputs` = every output produced, by value; an optional output
//!   that was not produced is left out.
//! - Raw, by value, several values: `multipart/related`, one part per value with
//!   `Content-ID: <outputId>` (`<outputId.N>`, N from 1, for the files of an output with
//!   several); references are parts with `Content-Location` and an empty body.
//! - Raw, every output by reference: 204 with one `Link` header per value
//!   (`rel="http://www.opengis.net/def/rel/ogc/1.0/results"`, `title` = the output id).
//! - Document: output id -> a bare JSON value (objects as `{"value": {...}, "mediaType":
//!   "application/json"}`), a file's content as `{"value", "mediaType"}` (text) or with
//!   `"encoding": "base64"`, or a link `{"href", "type"}`; arrays for outputs with several
//!   files. Files larger than 16 MiB are linked even when asked by value (logged).
//! - A failed job answers its Seed error: 400 for category `data`, else 500, `type`
//!   `urn:ades:seed:error:<name>`, `title` and `detail` from the manifest.
//! - A dismissed job has no results: 404 `no-such-job`.

use super::views::{media, rel, StatusInfoView};
use crate::auth::Caller;
use crate::domain::{
    Job, JobId, JobStatus, OutputKind, OutputValue, Process, ResponseMode, TransmissionMode,
};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{failure_of, results_of, select_outputs, NoResults, SelectedOutput};
use crate::jobs::request::is_textual_media_type;
use crate::workspace::Workspace;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Files up to this size are embedded in results documents when asked by value.
const MAX_INLINE_BYTES: u64 = 16 * 1024 * 1024;

/// 201 with the job's status and its absolute URL in `Location`.
pub fn status_created(job: &Job, base: &BaseUrl) -> Response {
    let location = base.job(job.id.as_str());
    let mut response = (StatusCode::CREATED, Json(StatusInfoView::new(job, base))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The media type `GET /jobs/{id}/results` answers a raw request with (`None`: no body).
pub fn raw_media_type(job: &Job) -> Option<String> {
    let selected = select_outputs(job, None);
    if selected.is_empty()
        || selected
            .iter()
            .all(|s| s.mode == TransmissionMode::Reference)
    {
        return None;
    }
    match selected.as_slice() {
        [one] if one.values.len() == 1 && one.mode == TransmissionMode::Value => {
            Some(OutputValue::media_type(&one.values[0]))
        }
        _ => Some("multipart/related".to_string()),
    }
}

/// The exception a failed job answers with.
pub fn failure_error(job: &Job) -> ApiError {
    failure_of(job).api_error()
}

/// The answer for a job that has no results to give, or `None` when it succeeded.
fn unavailable(job: &Job) -> Option<ApiError> {
    let why = results_of(job).err()?;
    Some(match why {
        NoResults::Failed(failure) => failure.api_error(),
        NoResults::Dismissed => ApiError::new(
            ErrorCode::NoSuchJob,
            format!(
                "Job {} was dismissed: it has no results. Submit the execute request again \
                 to run it.",
                job.id
            ),
        ),
        NoResults::NotReady(status) => ApiError::new(
            ErrorCode::ResultNotReady,
            format!(
                "Job {} is {}: its results are not ready. Poll GET /jobs/{} until its status \
                 is successful.",
                job.id,
                status.as_str(),
                job.id
            ),
        ),
    })
}

/// The results of a final job, shaped as its request asked (or the exception).
pub async fn respond_with_results(
    app: &AppState,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
) -> Result<Response, ApiError> {
    if let Some(error) = unavailable(job) {
        return Err(error);
    }
    match job.request.response {
        ResponseMode::Document => {
            let document = document_results(
                &app.workspace,
                Some(app.jobs.workspaces()),
                base,
                job,
                process,
            )
            .await?;
            Ok(Json(Value::Object(document)).into_response())
        }
        ResponseMode::Raw => raw_results(&app.workspace, base, job, process).await,
    }
}

/// The results document (`results.yaml`).
pub async fn document_results(
    workspace: &Workspace,
    presign: Option<&crate::storage::Workspaces>,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
) -> Result<Map<String, Value>, ApiError> {
    let mut document = Map::new();
    for selected in select_outputs(job, process) {
        let mut rendered = Vec::with_capacity(selected.values.len());
        for value in selected.values {
            let href = match presign {
                Some(workspaces) => presigned_link(workspaces, value).await,
                None => None,
            }
            .unwrap_or_else(|| base.value(job.id.as_str(), selected.id, value));
            rendered.push(document_value(workspace, &href, job, &selected, value).await?);
        }
        let entry = if selected.multiple {
            Value::Array(rendered)
        } else {
            rendered.into_iter().next().unwrap_or(Value::Null)
        };
        document.insert(selected.id.to_string(), entry);
    }
    Ok(document)
}

/// A short-lived presigned link to a file published to a workspace that asks for them
/// (`presigned_url_seconds`); `None` to link through ades.
async fn presigned_link(
    workspaces: &crate::storage::Workspaces,
    value: &OutputValue,
) -> Option<String> {
    let OutputValue::File {
        published: Some(published),
        ..
    } = value
    else {
        return None;
    };
    let entry = workspaces.get(&published.workspace).await.ok()?;
    let seconds = entry.spec.presigned_url_seconds;
    if seconds == 0 {
        return None;
    }
    let signed = async {
        crate::storage::registry::broker_of(&entry.spec)?
            .presigned_url(&published.path, seconds)
            .await
            .map_err(crate::storage::registry::WorkspacesError::from)
    };
    match signed.await {
        Ok(url) => url,
        Err(err) => {
            tracing::warn!(workspace = %published.workspace, "cannot presign a product link: {err}; linking through ades");
            None
        }
    }
}

async fn document_value(
    workspace: &Workspace,
    href: &str,
    job: &Job,
    selected: &SelectedOutput<'_>,
    value: &OutputValue,
) -> Result<Value, ApiError> {
    let media_type = OutputValue::media_type(value);
    let link = || json!({"href": href, "type": media_type});
    if selected.mode == TransmissionMode::Reference {
        return Ok(link());
    }
    match value {
        OutputValue::Json {
            value: v @ Value::Object(_),
        } => Ok(json!({"value": v, "mediaType": media::JSON})),
        OutputValue::Json { value } => Ok(value.clone()),
        OutputValue::File {
            path, size_bytes, ..
        } => {
            if *size_bytes > MAX_INLINE_BYTES {
                tracing::warn!(
                    job_id = %job.id,
                    output = selected.id,
                    size_bytes,
                    "output file too large to embed in a results document: linked instead"
                );
                return Ok(link());
            }
            let mut file = published_file(workspace, &job.id, path)?;
            let mut content = Vec::new();
            file.read_to_end(&mut content)
                .await
                .map_err(|e| ApiError::internal("reading an output file", &e))?;
            if is_textual_media_type(&media_type) {
                if let Ok(text) = String::from_utf8(content.clone()) {
                    return Ok(json!({"value": text, "mediaType": media_type}));
                }
            }
            Ok(json!({
                "value": base64::engine::general_purpose::STANDARD.encode(content),
                "mediaType": media_type,
                "encoding": "base64",
            }))
        }
    }
}

/// The answer when this replica cannot see the job's directory: it ran on a replica that
/// does not share the workspace (503, naming the setting to share); `None` when it can.
pub(super) fn unreachable_job_files(workspace: &Workspace, job_id: &JobId) -> Option<ApiError> {
    (!workspace.has_job_dir(job_id)).then(|| {
        ApiError::new(
            ErrorCode::OutputsUnreachable,
            workspace.unreachable_message(job_id),
        )
    })
}

/// A file a job's results name, opened; a missing one is the server's problem.
fn published_file(
    workspace: &Workspace,
    job_id: &JobId,
    relative: &str,
) -> Result<tokio::fs::File, ApiError> {
    let opened = workspace.open_output(job_id, relative).ok_or_else(|| {
        if let Some(unreachable) = unreachable_job_files(workspace, job_id) {
            return unreachable;
        }
        let cause = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("job {job_id}: published output {relative:?} is missing"),
        );
        ApiError::internal("reading the results of a job", &cause)
    })?;
    Ok(tokio::fs::File::from_std(opened))
}

type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

async fn file_stream(file: tokio::fs::File) -> Result<(ByteStream, u64), ApiError> {
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal("reading an output file's size", &e))?
        .len();
    Ok((ReaderStream::new(file).boxed(), len))
}

async fn value_body(
    workspace: &Workspace,
    job: &Job,
    value: &OutputValue,
) -> Result<(ByteStream, u64), ApiError> {
    match value {
        OutputValue::Json { value } => {
            let bytes = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
            let len = bytes.len() as u64;
            Ok((stream::once(async move { Ok(bytes) }).boxed(), len))
        }
        OutputValue::File { path, .. } => {
            file_stream(published_file(workspace, &job.id, path)?).await
        }
    }
}

async fn raw_results(
    workspace: &Workspace,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
) -> Result<Response, ApiError> {
    let selected = select_outputs(job, process);
    if selected
        .iter()
        .all(|s| s.mode == TransmissionMode::Reference)
    {
        let mut response = StatusCode::NO_CONTENT.into_response();
        for s in &selected {
            for value in s.values {
                let link = format!(
                    "<{}>; rel=\"{}\"; type=\"{}\"; title=\"{}\"",
                    base.value(job.id.as_str(), s.id, value),
                    rel::RESULTS,
                    OutputValue::media_type(value),
                    s.id
                );
                if let Ok(link) = HeaderValue::from_str(&link) {
                    response.headers_mut().append(header::LINK, link);
                }
            }
        }
        return Ok(response);
    }
    if let [one] = selected.as_slice() {
        if let ([value], TransmissionMode::Value) = (one.values, one.mode) {
            let (body, len) = value_body(workspace, job, value).await?;
            return Ok(Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, OutputValue::media_type(value))
                .header(header::CONTENT_LENGTH, len)
                .body(Body::from_stream(body))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()));
        }
    }
    multipart(workspace, base, job, &selected).await
}

/// `multipart/related` (RFC 2387), streamed: files are read as the body is sent.
async fn multipart(
    workspace: &Workspace,
    base: &BaseUrl,
    job: &Job,
    selected: &[SelectedOutput<'_>],
) -> Result<Response, ApiError> {
    let boundary = format!("ades-{}", uuid::Uuid::new_v4().simple());
    let mut parts: Vec<ByteStream> = Vec::new();
    let mut first_type = None;
    for s in selected {
        for (index, value) in s.values.iter().enumerate() {
            let content_id = if s.values.len() == 1 {
                s.id.to_string()
            } else {
                format!("{}.{}", s.id, index + 1)
            };
            let media_type = OutputValue::media_type(value);
            first_type.get_or_insert_with(|| media_type.clone());
            let mut head = format!(
                "--{boundary}\r\nContent-ID: <{content_id}>\r\nContent-Type: {media_type}\r\n"
            );
            let body = if s.mode == TransmissionMode::Reference {
                head.push_str(&format!(
                    "Content-Location: {}\r\n",
                    base.value(job.id.as_str(), s.id, value)
                ));
                None
            } else {
                Some(value_body(workspace, job, value).await?)
            };
            if let Some((_, len)) = &body {
                head.push_str(&format!("Content-Length: {len}\r\n"));
            }
            head.push_str("\r\n");
            parts.push(stream::once(async move { Ok(Bytes::from(head)) }).boxed());
            if let Some((body, _)) = body {
                parts.push(body);
            }
            parts.push(stream::once(async { Ok(Bytes::from_static(b"\r\n")) }).boxed());
        }
    }
    let end = format!("--{boundary}--\r\n");
    parts.push(stream::once(async move { Ok(Bytes::from(end)) }).boxed());
    let content_type = format!(
        "multipart/related; boundary=\"{boundary}\"; type=\"{}\"",
        first_type.unwrap_or_else(|| media::JSON.to_string())
    );
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream::iter(parts).flatten()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// The job, or 404 `no-such-job` (also for a string that is not a job id).
pub async fn find_job(app: &AppState, caller: &Caller, job_id: &str) -> Result<Job, ApiError> {
    let id = JobId::parse(job_id).map_err(|_| ApiError::no_such_job(job_id))?;
    app.jobs
        .get(caller, &id)
        .await
        .map_err(|e| e.into_api_error("reading a job"))
}

/// The results of a job.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/results",
    tag = "Jobs",
    operation_id = "getResult",
    params(("jobID" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The results, shaped as the execute request asked \
            (like the synchronous answer): the results document (`response: document`), \
            one raw value, or `multipart/related`.", content(
                (super::views::ResultsView = "application/json"),
                (String = "multipart/related"),
                (String = "*/*"),
            )),
        (status = 204, description = "`response: raw`, every output by reference: one \
            `Link` header per output value.", headers(("Link" = String))),
        (status = 400, description = "The job failed because of its input (Seed error \
            category `data`): its Seed error.", body = crate::error::ExceptionView),
        (status = 404, description = "No such job (`no-such-job`, also when it was \
            dismissed), or not finished yet (`result-not-ready`).",
            body = crate::error::ExceptionView),
        (status = 500, description = "The job failed (Seed error category `job` or \
            `system`), or a server error.", body = crate::error::ExceptionView),
    )
)]
pub async fn job_results(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let job = find_job(&app, &caller, &job_id).await?;
    let process = app.catalog.get(&job.process_id);
    respond_with_results(&app, &base, &job, process.as_deref()).await
}

/// One output of a job, raw.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/results/{outputID}",
    tag = "Jobs",
    operation_id = "getResultOutput",
    params(
        ("jobID" = String, Path, description = "The job id"),
        ("outputID" = String, Path, description = "The output id"),
    ),
    responses(
        (status = 200, description = "The output's value: a json output as JSON, a file as \
            its media type, an output with several files as a JSON array of links.",
            content((Object = "application/json"), (String = "*/*"))),
        (status = 400, description = "The job failed because of its input.",
            body = crate::error::ExceptionView),
        (status = 404, description = "No such job, not finished yet (`result-not-ready`), or \
            no such output (`no-such-output`, also for an optional output not produced).",
            body = crate::error::ExceptionView),
        (status = 500, description = "The job failed, or a server error.",
            body = crate::error::ExceptionView),
    )
)]
pub async fn job_output(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path((job_id, output_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let job = find_job(&app, &caller, &job_id).await?;
    if let Some(error) = unavailable(&job) {
        return Err(error);
    }
    let process = app.catalog.get(&job.process_id);
    let values = job
        .results
        .as_ref()
        .and_then(|r| r.get(&output_id))
        .ok_or_else(|| {
            let declared = process
                .as_ref()
                .and_then(|p| p.output(&output_id))
                .is_some();
            let detail = if declared {
                format!(
                    "Job {} did not produce the optional output {output_id:?}.",
                    job.id
                )
            } else {
                format!(
                    "Job {} has no output {output_id:?}; GET /jobs/{}/results lists its outputs.",
                    job.id, job.id
                )
            };
            ApiError::new(ErrorCode::NoSuchOutput, detail)
        })?;
    let multiple = values.len() > 1
        || process
            .as_ref()
            .and_then(|p| p.output(&output_id))
            .is_some_and(|o| matches!(o.kind, OutputKind::File { multiple: true, .. }));
    if multiple {
        let links: Vec<Value> = values
            .iter()
            .map(|v| json!({"href": base.value(job.id.as_str(), &output_id, v), "type": OutputValue::media_type(v)}))
            .collect();
        return Ok(Json(Value::Array(links)).into_response());
    }
    let Some(value) = values.first() else {
        return Err(ApiError::new(
            ErrorCode::NoSuchOutput,
            format!("Job {} produced no value for {output_id:?}.", job.id),
        ));
    };
    let (body, len) = value_body(&app.workspace, &job, value).await?;
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, OutputValue::media_type(value))
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable single range: send the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// Reads a single `bytes=` range (several ranges, other units and bad syntax are ignored:
/// the whole file is sent, as RFC 9110 allows).
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => RangeRequest::Whole,
        (true, false) => match parse(last) {
            None => RangeRequest::Whole,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return RangeRequest::Whole;
            };
            let end = if last.is_empty() {
                None
            } else {
                match parse(last) {
                    Some(e) if e >= start => Some(e),
                    _ => return RangeRequest::Whole,
                }
            };
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Part {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            }
        }
    }
}

/// A file a job published.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/outputs/{path}",
    tag = "Jobs",
    operation_id = "getOutputFile",
    params(
        ("jobID" = String, Path, description = "The job id"),
        ("path" = String, Path, description = "The file's path under the job's outputs \
            (as the results link it)"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=a-b`, \
            `bytes=a-` or `bytes=-n`"),
    ),
    responses(
        (status = 200, description = "The file, with its media type, `Content-Length` and \
            `Accept-Ranges: bytes`.", content((String = "*/*"))),
        (status = 206, description = "The range asked for, with `Content-Range`.",
            content((String = "*/*")), headers(("Content-Range" = String))),
        (status = 404, description = "No such job (also when dismissed), or no such file.",
            body = crate::error::ExceptionView),
        (status = 416, description = "The range lies outside the file (`Content-Range: \
            bytes */<size>`).", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn output_file(
    State(app): State<AppState>,
    caller: Caller,
    Path((job_id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = find_job(&app, &caller, &job_id).await?;
    if job.status == JobStatus::Dismissed {
        return Err(unavailable(&job).unwrap_or_else(|| ApiError::no_such_job(&job_id)));
    }
    let file = app.workspace.open_output(&job.id, &path).ok_or_else(|| {
        if job.status == JobStatus::Successful {
            if let Some(unreachable) = unreachable_job_files(&app.workspace, &job.id) {
                return unreachable;
            }
        }
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "Job {} has no published file {path:?}; the links in its results name its files.",
                job.id
            ),
        )
    })?;
    let listed = job
        .results
        .iter()
        .flat_map(|r| r.values())
        .flatten()
        .find_map(|v| match v {
            OutputValue::File {
                path: p,
                media_type: Some(m),
                ..
            } if *p == path => Some(m.clone()),
            _ => None,
        });
    let media_type = listed.unwrap_or_else(|| {
        mime_guess::from_path(&path)
            .first()
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".to_string())
    });
    let mut opened = tokio::fs::File::from_std(file);
    let len = opened
        .metadata()
        .await
        .map_err(|e| ApiError::internal("reading an output file's size", &e))?
        .len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, media_type)
        .header(header::ACCEPT_RANGES, "bytes");
    let response = match parse_range(range, len) {
        RangeRequest::Whole => builder
            .status(StatusCode::OK)
            .header(header::CONTENT_LENGTH, len)
            .body(Body::from_stream(ReaderStream::new(opened))),
        RangeRequest::Part { start, end } => {
            opened
                .seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| ApiError::internal("seeking in an output file", &e))?;
            let count = end - start + 1;
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, count)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                .body(Body::from_stream(ReaderStream::new(opened.take(count))))
        }
        RangeRequest::Unsatisfiable => {
            return Err(ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                format!("The file has {len} bytes; ask for a range inside it, or leave Range out."),
            )
            .with_header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{len}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            ))
        }
    };
    Ok(response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// The OGC API bodies of callbacks: the status document for `inProgressUri` and
/// `failedUri` (with the exception as `exception` when the job failed), the results
/// document for `successUri`.
pub struct OgcCallbackRenderer {
    pub workspace: Workspace,
    pub catalog: crate::catalog::Catalog,
}

#[async_trait::async_trait]
impl crate::jobs::callbacks::CallbackRenderer for OgcCallbackRenderer {
    async fn body(&self, job: &Job, status: JobStatus, base: &str) -> Value {
        let base = BaseUrl(base.trim_end_matches('/').to_string());
        // The news is the status the job entered then, even if it has moved on.
        let mut then = job.clone();
        then.status = status;
        let status_document = |job: &Job| {
            serde_json::to_value(StatusInfoView::new(job, &base)).unwrap_or(Value::Null)
        };
        match status {
            JobStatus::Successful => {
                let process = self.catalog.get(&job.process_id);
                // Links through ades, never presigned: a callback may be read long after.
                let document =
                    document_results(&self.workspace, None, &base, &then, process.as_deref());
                match document.await {
                    Ok(document) => Value::Object(document),
                    // Logged by `document_results`; the receiver still learns the job ended.
                    Err(_) => status_document(&then),
                }
            }
            JobStatus::Failed => {
                let mut document = status_document(&then);
                if let (Some(object), Ok(exception)) = (
                    document.as_object_mut(),
                    serde_json::to_value(failure_error(&then).view()),
                ) {
                    object.insert("exception".to_string(), exception);
                }
                document
            }
            _ => status_document(&then),
        }
    }

    fn job_url(&self, job: &Job, base: &str) -> String {
        BaseUrl(base.trim_end_matches('/').to_string()).job(job.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(
            parse_range(Some("bytes=0-3"), 10),
            Part { start: 0, end: 3 }
        );
        assert_eq!(parse_range(Some("bytes=4-"), 10), Part { start: 4, end: 9 });
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part { start: 7, end: 9 });
        assert_eq!(
            parse_range(Some("bytes=-30"), 10),
            Part { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range(Some("bytes=5-100"), 10),
            Part { start: 5, end: 9 }
        );
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Whole);
        assert_eq!(parse_range(Some("bytes=x-1"), 10), Whole);
    }
}
