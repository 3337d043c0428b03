//! `wps:ExecuteResponse` for a job in any state, the bare output of a `RawDataOutput`
//! request, and the statusLocation resource.
//!
//! Outputs by value: json outputs of a scalar type are `wps:LiteralData`, json arrays and
//! objects `wps:ComplexData` `application/json`; a file is `wps:ComplexData` holding its XML
//! (XML media types, when it parses), its text (textual types) or its base64
//! (`encoding="base64"`). Files larger than 16 MiB are referenced even when asked by value
//! (logged). An output with several files is one `wps:Output` per file.

use super::capabilities::write_brief;
use super::describe::literal_type;
use super::{exception, start_document, xml_response, LANGUAGE};
use crate::domain::{
    InputValue, Job, JobId, JobStatus, OutputKind, OutputValue, Process, TransmissionMode,
};
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{failure_of, select_outputs};
use crate::jobs::request::{is_textual_media_type, is_xml_media_type};
use crate::wps::writer::XmlWriter;
use crate::wps::xml::{parse, Limits};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt as _;
use tokio_util::io::ReaderStream;

/// Files up to this size are embedded when asked by value.
const MAX_INLINE_BYTES: u64 = 16 * 1024 * 1024;

/// How an `ExecuteResponse` is written besides the job's own request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ResponseOptions {
    /// Stored: the document has a `statusLocation`.
    pub store: bool,
    /// `lineage=true`: the document repeats the inputs and output definitions.
    pub lineage: bool,
    /// `RawDataOutput` names [`LOG_OUTPUT`](super::LOG_OUTPUT) of a process without
    /// outputs: the answer is the job log itself.
    pub raw_log: bool,
}

/// `<base>/wps/status/{jobId}` (with `?lineage=true` when asked).
pub(crate) fn status_location_url(base: &BaseUrl, job_id: &JobId, lineage: bool) -> String {
    let url = base.join(&format!("/wps/status/{job_id}"));
    if lineage {
        format!("{url}?lineage=true")
    } else {
        url
    }
}

/// The statusLocation resource: the job's current `ExecuteResponse`.
pub(crate) async fn status_document(
    app: &AppState,
    base: &BaseUrl,
    caller: &crate::auth::Caller,
    job_id: &str,
    lineage: bool,
) -> Response {
    let no_such_job = || {
        exception(
            OwsCode::InvalidParameterValue,
            Some("jobId"),
            format!("There is no job {job_id:?}: it never existed or was removed."),
        )
    };
    let Ok(id) = JobId::parse(job_id) else {
        return no_such_job();
    };
    let job = match app.jobs.get(caller, &id).await {
        Ok(job) => job,
        // Another user's job is no job at all.
        Err(crate::jobs::JobsError::NoSuchJob(_)) => return no_such_job(),
        Err(crate::jobs::JobsError::Denied(denied)) => {
            return crate::wps::exception::WpsException::from_api(
                crate::wps::WpsVersion::V1,
                &denied.to_api_error(),
                None,
            )
            .into_response()
        }
        Err(error) => return super::execute::internal("reading a job", &error),
    };
    let process = app.catalog.get(&job.process_id);
    let options = ResponseOptions {
        store: true,
        lineage,
        raw_log: false,
    };
    execute_response(app, base, &job, process.as_deref(), &options).await
}

/// The `ExecuteResponse` of a job as it is now.
pub(crate) async fn execute_response(
    app: &AppState,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
    options: &ResponseOptions,
) -> Response {
    match render(app, base, job, process, options).await {
        Ok(document) => xml_response(document),
        Err(response) => response,
    }
}

async fn render(
    app: &AppState,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
    options: &ResponseOptions,
) -> Result<String, Response> {
    let service_instance = base.join("/wps?service=WPS&request=GetCapabilities&version=1.0.0");
    let status_location = status_location_url(base, &job.id, options.lineage);
    let mut w = XmlWriter::new();
    let mut extra = vec![("serviceInstance", service_instance.as_str())];
    if options.store {
        extra.push(("statusLocation", status_location.as_str()));
    }
    start_document(
        &mut w,
        "wps:ExecuteResponse",
        "wpsExecute_response.xsd",
        &extra,
    );

    match process {
        Some(process) => write_brief(&mut w, "wps:Process", process, &[]),
        None => {
            // The process left the catalogue since: its id is all there is.
            w.start("wps:Process", &[("wps:processVersion", "unknown")]);
            w.text_element("ows:Identifier", &[], job.process_id.as_str());
            w.text_element("ows:Title", &[], job.process_id.as_str());
        }
    }
    w.end();

    write_status(&mut w, job);
    if options.lineage {
        write_lineage(&mut w, job, process);
    }
    if job.status == JobStatus::Successful {
        write_outputs(app, base, &mut w, job, process).await?;
    }
    Ok(w.finish())
}

fn write_status(w: &mut XmlWriter, job: &Job) {
    let now = format_time(OffsetDateTime::now_utc());
    w.start("wps:Status", &[("creationTime", &now)]);
    let message = job.message.clone();
    match job.status {
        JobStatus::Accepted => {
            w.text_element(
                "wps:ProcessAccepted",
                &[],
                &message.unwrap_or_else(|| "Accepted: waiting for a worker.".to_string()),
            );
        }
        JobStatus::Running => {
            let percent = job.progress.unwrap_or(0).min(99).to_string();
            w.text_element(
                "wps:ProcessStarted",
                &[("percentCompleted", &percent)],
                &message.unwrap_or_else(|| "Running.".to_string()),
            );
        }
        JobStatus::Successful => {
            w.text_element(
                "wps:ProcessSucceeded",
                &[],
                &message.unwrap_or_else(|| "Succeeded.".to_string()),
            );
        }
        JobStatus::Failed | JobStatus::Dismissed => {
            let (locator, text) = failure_text(job);
            w.start("wps:ProcessFailed", &[]);
            w.start(
                "ows:ExceptionReport",
                &[("version", "1.0.0"), ("xml:lang", LANGUAGE)],
            );
            let mut attributes = vec![("exceptionCode", OwsCode::NoApplicableCode.as_str())];
            if let Some(locator) = &locator {
                attributes.push(("locator", locator.as_str()));
            }
            w.start("ows:Exception", &attributes);
            w.text_element("ows:ExceptionText", &[], &text);
            w.end().end().end();
        }
    }
    w.end();
}

/// The Seed error name (as locator) and text of a failed or dismissed job.
pub(crate) fn failure_text(job: &Job) -> (Option<String>, String) {
    if job.status == JobStatus::Dismissed {
        return (
            None,
            format!("Job {} was dismissed: it has no results.", job.id),
        );
    }
    let failure = failure_of(job);
    match failure.seed {
        Some(seed) => {
            let mut text = if seed.title.is_empty() || seed.title == seed.description {
                seed.description.clone()
            } else {
                format!("{}: {}", seed.title, seed.description)
            };
            if let Some(code) = seed.exit_code {
                text.push_str(&format!(" (exit code {code})"));
            }
            (Some(seed.name.clone()), text)
        }
        None => (
            None,
            failure.message.unwrap_or("The job failed.").to_string(),
        ),
    }
}

fn write_lineage(w: &mut XmlWriter, job: &Job, process: Option<&Process>) {
    if !job.request.inputs.is_empty() {
        w.start("wps:DataInputs", &[]);
        for (id, values) in &job.request.inputs {
            for value in values {
                w.start("wps:Input", &[]);
                w.text_element("ows:Identifier", &[], id);
                match value {
                    InputValue::Href { href, media_type } => {
                        let mut attributes = vec![("xlink:href", href.as_str())];
                        if let Some(m) = media_type {
                            attributes.push(("mimeType", m.as_str()));
                        }
                        w.empty("wps:Reference", &attributes);
                    }
                    InputValue::JobOutput {
                        job,
                        path,
                        media_type,
                    } => {
                        let href = crate::provenance::job_output_urn(job, path);
                        let mut attributes = vec![("xlink:href", href.as_str())];
                        if let Some(m) = media_type {
                            attributes.push(("mimeType", m.as_str()));
                        }
                        w.empty("wps:Reference", &attributes);
                    }
                    InputValue::Base64 { data, media_type } => {
                        w.start("wps:Data", &[]);
                        let mut attributes = vec![("encoding", "base64")];
                        if let Some(m) = media_type {
                            attributes.push(("mimeType", m.as_str()));
                        }
                        w.text_element("wps:ComplexData", &attributes, data);
                        w.end();
                    }
                    InputValue::Inline { value, media_type } => {
                        w.start("wps:Data", &[]);
                        let is_file = process.and_then(|p| p.input(id)).is_some_and(|i| {
                            matches!(i.kind, crate::domain::InputKind::File { .. })
                        });
                        match (value, is_file) {
                            (Value::String(s), false) => {
                                w.text_element("wps:LiteralData", &[], s);
                            }
                            (Value::Number(_) | Value::Bool(_), _) => {
                                w.text_element("wps:LiteralData", &[], &value.to_string());
                            }
                            (Value::String(s), true) => {
                                let mut attributes = Vec::new();
                                if let Some(m) = media_type {
                                    attributes.push(("mimeType", m.as_str()));
                                }
                                w.text_element("wps:ComplexData", &attributes, s);
                            }
                            (other, _) => {
                                w.text_element(
                                    "wps:ComplexData",
                                    &[("mimeType", "application/json")],
                                    &other.to_string(),
                                );
                            }
                        }
                        w.end();
                    }
                }
                w.end();
            }
        }
        w.end();
    }
    let log_only = process.is_some_and(|p| p.outputs.is_empty());
    let definitions: Vec<(String, bool, Option<String>)> = if log_only {
        let media_type = Some(super::LOG_MEDIA_TYPE.to_string());
        vec![(super::LOG_OUTPUT.to_string(), true, media_type)]
    } else if job.request.outputs.is_empty() {
        process
            .map(|p| {
                p.outputs
                    .iter()
                    .map(|o| (o.id.clone(), false, None))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        job.request
            .outputs
            .iter()
            .map(|(id, o)| {
                (
                    id.clone(),
                    o.transmission_mode == TransmissionMode::Reference,
                    o.media_type.clone(),
                )
            })
            .collect()
    };
    if definitions.is_empty() {
        return;
    }
    w.start("wps:OutputDefinitions", &[]);
    for (id, as_reference, media_type) in &definitions {
        let mut attributes = Vec::new();
        if let Some(m) = media_type {
            attributes.push(("mimeType", m.as_str()));
        }
        attributes.push(("asReference", if *as_reference { "true" } else { "false" }));
        w.start("wps:Output", &attributes);
        w.text_element("ows:Identifier", &[], id);
        w.end();
    }
    w.end();
}

async fn write_outputs(
    app: &AppState,
    base: &BaseUrl,
    w: &mut XmlWriter,
    job: &Job,
    process: Option<&Process>,
) -> Result<(), Response> {
    if process.is_some_and(|p| p.outputs.is_empty()) {
        let href = base.join(&format!("/jobs/{}/logs", job.id));
        w.start("wps:ProcessOutputs", &[]).start("wps:Output", &[]);
        w.text_element("ows:Identifier", &[], super::LOG_OUTPUT);
        w.text_element("ows:Title", &[], super::LOG_TITLE);
        w.text_element("ows:Abstract", &[], super::LOG_ABSTRACT);
        w.empty(
            "wps:Reference",
            &[("href", href.as_str()), ("mimeType", super::LOG_MEDIA_TYPE)],
        );
        w.end().end();
        return Ok(());
    }
    let selected = select_outputs(job, process);
    if selected.is_empty() {
        return Ok(());
    }
    w.start("wps:ProcessOutputs", &[]);
    for output in selected {
        let id = output.id;
        let by_reference = output.mode == TransmissionMode::Reference;
        let description = process.and_then(|p| p.output(id));
        let title = description
            .map(|d| d.title.as_str())
            .filter(|t| !t.is_empty())
            .unwrap_or(id);
        for value in output.values {
            w.start("wps:Output", &[]);
            w.text_element("ows:Identifier", &[], id);
            w.text_element("ows:Title", &[], title);
            if let Some(abstract_) = description.and_then(|d| d.description.as_deref()) {
                if !abstract_.is_empty() {
                    w.text_element("ows:Abstract", &[], abstract_);
                }
            }
            write_output_value(app, base, w, job, id, value, by_reference).await?;
            w.end();
        }
    }
    w.end();
    Ok(())
}

async fn write_output_value(
    app: &AppState,
    base: &BaseUrl,
    w: &mut XmlWriter,
    job: &Job,
    output_id: &str,
    value: &OutputValue,
    by_reference: bool,
) -> Result<(), Response> {
    let media_type = OutputValue::media_type(value);
    let reference = |w: &mut XmlWriter| {
        let href = base.value(job.id.as_str(), output_id, value);
        w.empty(
            "wps:Reference",
            &[("href", href.as_str()), ("mimeType", media_type.as_str())],
        );
    };
    if by_reference {
        reference(w);
        return Ok(());
    }
    match value {
        OutputValue::Json { value: json } => {
            w.start("wps:Data", &[]);
            let scalar = match json {
                Value::String(s) => Some((s.clone(), "string")),
                Value::Bool(b) => Some((b.to_string(), "boolean")),
                Value::Number(n) if n.is_f64() => Some((n.to_string(), "double")),
                Value::Number(n) => Some((n.to_string(), "integer")),
                _ => None,
            };
            match scalar {
                Some((text, data_type)) => {
                    w.text_element("wps:LiteralData", &[("dataType", data_type)], &text);
                }
                None => {
                    w.text_element(
                        "wps:ComplexData",
                        &[("mimeType", "application/json")],
                        &json.to_string(),
                    );
                }
            }
            w.end();
        }
        OutputValue::File {
            path, size_bytes, ..
        } => {
            if *size_bytes > MAX_INLINE_BYTES {
                tracing::warn!(
                    job_id = %job.id,
                    output = output_id,
                    size_bytes,
                    "output file too large to embed in an ExecuteResponse: referenced instead"
                );
                reference(w);
                return Ok(());
            }
            let content = read_output(app, job, path).await?;
            w.start("wps:Data", &[]);
            if is_xml_media_type(&media_type) {
                if let Ok(element) = parse(&content, &Limits::default()) {
                    w.start("wps:ComplexData", &[("mimeType", media_type.as_str())]);
                    w.raw(&element.to_xml());
                    w.end().end();
                    return Ok(());
                }
            }
            if is_textual_media_type(&media_type) {
                if let Ok(text) = std::str::from_utf8(&content) {
                    w.text_element(
                        "wps:ComplexData",
                        &[("mimeType", media_type.as_str())],
                        text,
                    );
                    w.end();
                    return Ok(());
                }
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
            w.text_element(
                "wps:ComplexData",
                &[("mimeType", media_type.as_str()), ("encoding", "base64")],
                &encoded,
            );
            w.end();
        }
    }
    Ok(())
}

async fn read_output(app: &AppState, job: &Job, relative: &str) -> Result<Vec<u8>, Response> {
    let missing = || {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("job {}: published output {relative:?} is missing", job.id),
        )
    };
    let file = app
        .workspace
        .open_output(&job.id, relative)
        .ok_or_else(|| super::execute::internal("reading an output file", &missing()))?;
    let mut content = Vec::new();
    tokio::fs::File::from_std(file)
        .read_to_end(&mut content)
        .await
        .map_err(|e| super::execute::internal("reading an output file", &e))?;
    Ok(content)
}

/// The answer to a `RawDataOutput` request of a final job: the output alone, with its media
/// type (a string json output as `text/plain`), or the exception report of a failure.
pub(crate) async fn raw_output(app: &AppState, job: &Job, process: &Process) -> Response {
    if job.status != JobStatus::Successful {
        let (locator, text) = failure_text(job);
        return exception(OwsCode::NoApplicableCode, locator.as_deref(), text);
    }
    let Some(output_id) = job.request.outputs.keys().next() else {
        return exception(
            OwsCode::MissingParameterValue,
            Some("RawDataOutput"),
            "RawDataOutput names no output.",
        );
    };
    let values = job
        .results
        .as_ref()
        .and_then(|r| r.get(output_id))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let value = match values {
        [one] => one,
        [] => {
            return exception(
                OwsCode::InvalidParameterValue,
                Some(output_id),
                format!("The job did not produce the optional output {output_id:?}."),
            )
        }
        _ => {
            return exception(
                OwsCode::InvalidParameterValue,
                Some(output_id),
                format!(
                    "Output {output_id:?} has {} files; RawDataOutput returns one. Ask for it \
                     in a ResponseDocument (optionally asReference=true) instead.",
                    values.len()
                ),
            )
        }
    };
    match value {
        OutputValue::Json { value: json } => {
            let (body, media_type) = match (json, literal_kind(process, output_id)) {
                (Value::String(s), _) => (s.clone(), "text/plain; charset=utf-8"),
                (other, true) => (other.to_string(), "text/plain; charset=utf-8"),
                (other, false) => (other.to_string(), "application/json"),
            };
            ([(header::CONTENT_TYPE, media_type)], body).into_response()
        }
        OutputValue::File { path, .. } => {
            let Some(file) = app.workspace.open_output(&job.id, path) else {
                let missing = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("job {}: published output {path:?} is missing", job.id),
                );
                return super::execute::internal("reading an output file", &missing);
            };
            let file = tokio::fs::File::from_std(file);
            let len = file.metadata().await.map(|m| m.len()).ok();
            let mut builder = Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, OutputValue::media_type(value));
            if let Some(len) = len {
                builder = builder.header(header::CONTENT_LENGTH, len);
            }
            builder
                .body(Body::from_stream(ReaderStream::new(file)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// The answer to `RawDataOutput=JOB_LOG` of a final job: its log (`text/plain`), or the
/// exception report of a failure.
pub(crate) async fn raw_log(app: &AppState, job: &Job) -> Response {
    if job.status != JobStatus::Successful {
        let (locator, text) = failure_text(job);
        return exception(OwsCode::NoApplicableCode, locator.as_deref(), text);
    }
    match crate::wps::log_response(app, job).await {
        Ok(response) => response,
        Err(e) => super::execute::internal("reading a job log", &e),
    }
}

/// Whether an output is described as a literal (a scalar json output).
fn literal_kind(process: &Process, output_id: &str) -> bool {
    process.output(output_id).is_some_and(
        |o| matches!(&o.kind, OutputKind::Json { kind, .. } if literal_type(*kind).is_some()),
    )
}

/// `xs:dateTime` in UTC, whole seconds.
pub(crate) fn format_time(at: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
