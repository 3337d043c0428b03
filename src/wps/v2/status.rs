//! GetStatus, GetResult, Dismiss and the documents they answer: `wps:StatusInfo` and
//! `wps:Result`.
//!
//! - Statuses: accepted -> `Accepted`, running -> `Running`, successful -> `Succeeded`,
//!   failed -> `Failed`, dismissed -> `Dismissed`; `PercentCompleted` is the job's progress
//!   (100 once it succeeded); `NextPoll` (5 s ahead) while it is not final.
//! - GetResult of an unfinished job is `ResultNotReady`; of a failed one, an exception
//!   carrying the Seed error (`WrongInputData` for Seed category `data`, else
//!   `NoApplicableCode`; text = the error's title and description); of a dismissed one,
//!   `NoSuchJob`.
//! - `wps:Result` outputs: a json value is literal text (`application/json` for arrays and
//!   objects); a file is embedded as XML when its media type is XML and it is well-formed,
//!   as text when textual, else base64 (`encoding="base64"`); files over 16 MiB, and
//!   outputs asked by reference, are `wps:Reference xlink:href` to `/jobs/{id}/outputs/...`
//!   (json values: `/jobs/{id}/results/{output}`). An output with several files has one
//!   `wps:Output` per file.

use super::execute::jobs_exception;
use super::{ok, V};
use crate::auth::Caller;
use crate::domain::{Job, JobId, JobStatus, OutputValue, Process, TransmissionMode};
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{results_of, select_outputs, JobFailed, NoResults};
use crate::jobs::request::is_textual_media_type;
use crate::wps::exception::WpsException;
use crate::wps::xml::{self, escape_attr, escape_text, Limits};
use crate::wps::{offers_log_only, LOG_MEDIA_TYPE, LOG_OUTPUT};
use axum::response::Response;
use base64::Engine;
use serde_json::Value;
use std::fmt::Write as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt as _;

/// Files up to this size are embedded when asked by value.
const MAX_INLINE_BYTES: u64 = 16 * 1024 * 1024;

pub(super) fn no_such_job(id: &str) -> WpsException {
    WpsException::new(
        V,
        OwsCode::NoSuchJob,
        Some("jobId"),
        format!("There is no job {id:?}. Use the JobID an asynchronous Execute returned."),
    )
}

async fn find_job(app: &AppState, caller: &Caller, id: &str) -> Result<Job, WpsException> {
    let job_id = JobId::parse(id).map_err(|_| no_such_job(id))?;
    app.jobs
        .get(caller, &job_id)
        .await
        .map_err(|e| jobs_exception(e, "reading a job"))
}

pub(super) async fn get_status(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Response, WpsException> {
    let job = find_job(app, caller, id).await?;
    Ok(ok(status_info(&job)))
}

pub(super) async fn get_result(
    app: &AppState,
    base: &BaseUrl,
    caller: &Caller,
    id: &str,
) -> Result<Response, WpsException> {
    let job = find_job(app, caller, id).await?;
    match results_of(&job) {
        Ok(()) => {
            let process = app.catalog.get(&job.process_id);
            Ok(ok(
                result_document(app, base, &job, process.as_deref()).await?
            ))
        }
        Err(NoResults::Failed(failure)) => Err(failure_exception(&job, &failure)),
        Err(NoResults::Dismissed) => Err(WpsException::new(
            V,
            OwsCode::NoSuchJob,
            Some("jobId"),
            format!("Job {} was dismissed: it has no results.", job.id),
        )),
        Err(NoResults::NotReady(status)) => Err(WpsException::new(
            V,
            OwsCode::ResultNotReady,
            Some("jobId"),
            format!(
                "Job {} is {}: its results are not ready. Poll GetStatus until the status \
                 is Succeeded.",
                job.id,
                wps_status(status)
            ),
        )),
    }
}

pub(super) async fn dismiss(
    app: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Response, WpsException> {
    let job_id = JobId::parse(id).map_err(|_| no_such_job(id))?;
    let job = app
        .jobs
        .dismiss(caller, &job_id)
        .await
        .map_err(|e| jobs_exception(e, "dismissing a job"))?;
    Ok(ok(status_info(&job)))
}

/// The WPS 2.0 status name.
pub(super) fn wps_status(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Accepted => "Accepted",
        JobStatus::Running => "Running",
        JobStatus::Successful => "Succeeded",
        JobStatus::Failed => "Failed",
        JobStatus::Dismissed => "Dismissed",
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The `wps:StatusInfo` document of a job.
pub(super) fn status_info(job: &Job) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<wps:StatusInfo{}><wps:JobID>{}</wps:JobID><wps:Status>{}</wps:Status>",
        super::NAMESPACES,
        escape_text(job.id.as_str()),
        wps_status(job.status)
    );
    if !job.status.is_final() {
        let next = OffsetDateTime::now_utc() + time::Duration::seconds(5);
        let _ = write!(out, "<wps:NextPoll>{}</wps:NextPoll>", rfc3339(next));
    }
    let percent = match job.status {
        JobStatus::Successful => Some(100),
        JobStatus::Accepted => Some(job.progress.unwrap_or(0)),
        _ => job.progress,
    };
    if let Some(percent) = percent {
        let _ = write!(
            out,
            "<wps:PercentCompleted>{}</wps:PercentCompleted>",
            percent.min(100)
        );
    }
    out.push_str("</wps:StatusInfo>");
    out
}

/// The exception a failed job answers with: its Seed error (`WrongInputData` for a `data`
/// error, else `NoApplicableCode`: the error table's code of the failure).
pub(super) fn failure_exception(job: &Job, failure: &JobFailed<'_>) -> WpsException {
    let code = failure.code.row().ows_code;
    match failure.seed {
        Some(seed) => WpsException::new(
            V,
            code,
            Some(&seed.name),
            format!(
                "Job {} failed: {}: {}",
                job.id, seed.title, seed.description
            ),
        ),
        None => WpsException::new(
            V,
            code,
            None,
            format!(
                "Job {} failed: {}",
                job.id,
                failure.message.unwrap_or("no reason was recorded")
            ),
        ),
    }
}

/// The `wps:Result` document of a successful job.
pub(super) async fn result_document(
    app: &AppState,
    base: &BaseUrl,
    job: &Job,
    process: Option<&Process>,
) -> Result<String, WpsException> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<wps:Result{}><wps:JobID>{}</wps:JobID>",
        super::NAMESPACES,
        escape_text(job.id.as_str())
    );
    if process.is_some_and(offers_log_only) {
        let href = base.join(&format!("/jobs/{}/logs", job.id));
        let _ = write!(
            out,
            "<wps:Output id=\"{LOG_OUTPUT}\"><wps:Reference xlink:href=\"{}\" \
             mimeType=\"{LOG_MEDIA_TYPE}\"/></wps:Output></wps:Result>",
            escape_attr(&href)
        );
        return Ok(out);
    }
    let selected = select_outputs(job, process);
    if selected.is_empty() {
        return Err(WpsException::new(
            V,
            OwsCode::NoSuchOutput,
            None,
            format!("Job {} produced none of the requested outputs.", job.id),
        ));
    }
    for output in selected {
        for value in output.values {
            let _ = write!(out, "<wps:Output id=\"{}\">", escape_attr(output.id));
            output_value(app, base, job, output.id, output.mode, value, &mut out).await?;
            out.push_str("</wps:Output>");
        }
    }
    out.push_str("</wps:Result>");
    Ok(out)
}

async fn output_value(
    app: &AppState,
    base: &BaseUrl,
    job: &Job,
    output_id: &str,
    mode: TransmissionMode,
    value: &OutputValue,
    out: &mut String,
) -> Result<(), WpsException> {
    let media_type = OutputValue::media_type(value);
    let reference = |out: &mut String| {
        let _ = write!(
            out,
            "<wps:Reference xlink:href=\"{}\" mimeType=\"{}\"/>",
            escape_attr(&base.value(job.id.as_str(), output_id, value)),
            escape_attr(&media_type)
        );
    };
    if mode == TransmissionMode::Reference {
        reference(out);
        return Ok(());
    }
    match value {
        OutputValue::Json { value } => {
            let (text, mime) = match value {
                Value::String(s) => (s.clone(), "text/plain"),
                Value::Array(_) | Value::Object(_) => (value.to_string(), "application/json"),
                other => (other.to_string(), "text/plain"),
            };
            let _ = write!(
                out,
                "<wps:Data mimeType=\"{mime}\">{}</wps:Data>",
                escape_text(&text)
            );
        }
        OutputValue::File {
            path, size_bytes, ..
        } => {
            if *size_bytes > MAX_INLINE_BYTES {
                reference(out);
                return Ok(());
            }
            let file = app.workspace.open_output(&job.id, path).ok_or_else(|| {
                tracing::error!(job_id = %job.id, path, "published output is missing");
                WpsException::server(V, "The server failed to read an output; try again later.")
            })?;
            let mut content = Vec::new();
            let read = tokio::fs::File::from_std(file)
                .read_to_end(&mut content)
                .await;
            read.map_err(|e| {
                tracing::error!(error = %e, job_id = %job.id, "reading an output file");
                WpsException::server(V, "The server failed to read an output; try again later.")
            })?;
            let mime = escape_attr(&media_type);
            if crate::jobs::request::is_xml_media_type(&media_type) {
                if let Ok(element) = xml::parse(&content, &Limits::default()) {
                    let _ = write!(
                        out,
                        "<wps:Data mimeType=\"{mime}\">{}</wps:Data>",
                        element.to_xml()
                    );
                    return Ok(());
                }
            }
            if is_textual_media_type(&media_type) {
                if let Ok(text) = String::from_utf8(content.clone()) {
                    let _ = write!(
                        out,
                        "<wps:Data mimeType=\"{mime}\">{}</wps:Data>",
                        escape_text(&text)
                    );
                    return Ok(());
                }
            }
            let _ = write!(
                out,
                "<wps:Data mimeType=\"{mime}\" encoding=\"base64\">{}</wps:Data>",
                base64::engine::general_purpose::STANDARD.encode(content)
            );
        }
    }
    Ok(())
}
