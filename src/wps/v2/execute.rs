//! WPS 2.0 Execute (POST XML): `wps:Execute` -> the same [`ExecuteRequest`] the OGC API
//! builds, run by the execution service (`jobs::execute::Execution`).
//!
//! Reading inputs:
//! - `wps:Data` of a json input: `wps:LiteralValue` text or the plain text; converted to
//!   the input's JSON type by the rule every façade uses (`jobs::execute::typed_literal`);
//!   a value that does not convert is left as text for the checks to report.
//! - `wps:Data` of a file input: `encoding="base64"` -> base64 content; child elements ->
//!   their XML text (namespaces declared; whitespace around them dropped); else the text.
//! - `wps:Reference xlink:href` -> a reference the server fetches (`wps:Body`, i.e. POST
//!   references, is not supported: `InvalidParameterValue`).
//!
//! `mode`: `sync`, `async`, `auto` (sync when the process allows it); a mode the process
//! does not offer is `NoSuchMode`. `response`: `raw` (one output, its bytes with its media
//! type) or `document` (`wps:Result`). Both attributes are required by the schema; we
//! default them to `auto` and `document` when absent. A synchronous job still running at
//! the server's wait limit is answered with its `wps:StatusInfo`.

use super::status::{failure_exception, result_document, status_info};
use super::{href, ok, V};
use crate::domain::{
    ExecuteRequest, InputKind, InputValue, JobControlOption, OutputRequest, OutputValue, Process,
    ResponseMode, TransmissionMode,
};
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{
    results_of, select_outputs, typed_literal, ExecuteError, Execution, Mode, NoResults,
};
use crate::jobs::request::{ProblemKind, RequestProblem};
use crate::wps::exception::{WpsException, OWS2};
use crate::wps::request::WPS2;
use crate::wps::xml::Element;
use crate::wps::{offers_log_only, LOG_OUTPUT};
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub(super) async fn wps_execute(
    app: &AppState,
    base: &BaseUrl,
    caller: &crate::auth::Caller,
    root: &Element,
) -> Result<Response, WpsException> {
    let identifier = root
        .child(OWS2, "Identifier")
        .map(|e| e.text().trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            WpsException::missing(
                V,
                "Identifier",
                "Name the process to run: <ows:Identifier>process-id</ows:Identifier>.",
            )
        })?;
    let execution = Execution::new(&app.catalog, &app.jobs, app.settings.sync_wait_limit);
    let process = execution
        .process(&identifier)
        .await
        .map_err(|e| execute_exception(e, "finding a process"))?;
    let mode = choose_mode(&process, root.attr("mode"))?;
    let request = read_request(&process, root)?;
    execution
        .check(&process, &request, Vec::new())
        .map_err(|e| execute_exception(e, "checking a request"))?;
    if request.response == ResponseMode::Raw {
        let count = if offers_log_only(&process) {
            1
        } else if request.outputs.is_empty() {
            process.outputs.len()
        } else {
            request.outputs.len()
        };
        if count != 1 {
            return Err(WpsException::invalid(
                V,
                "response",
                "response=\"raw\" returns one output: name exactly one <wps:Output id=...>, \
                 or ask for response=\"document\".",
            ));
        }
    }

    let job = execution
        .start(caller, &process, request, None, mode)
        .await
        .map_err(|e| execute_exception(e, "running a job"))?;
    if mode == Mode::Async {
        return Ok(ok(status_info(&job)));
    }
    match results_of(&job) {
        Err(NoResults::NotReady(_)) => Ok(ok(status_info(&job))),
        Err(NoResults::Failed(failure)) => Err(failure_exception(&job, &failure)),
        Err(NoResults::Dismissed) => Err(WpsException::new(
            V,
            OwsCode::NoSuchJob,
            Some("jobId"),
            format!(
                "Job {} was dismissed while it ran: it has no results.",
                job.id
            ),
        )),
        Ok(()) => match job.request.response {
            ResponseMode::Document => {
                Ok(ok(result_document(app, base, &job, Some(&process)).await?))
            }
            ResponseMode::Raw if offers_log_only(&process) => {
                crate::wps::log_response(app, &job).await.map_err(|e| {
                    tracing::error!(error = %e, job_id = %job.id, "reading a job log");
                    WpsException::server(
                        V,
                        "The server failed to read the job log; try again later.",
                    )
                })
            }
            ResponseMode::Raw => raw_output(app, base, &job, &process).await,
        },
    }
}

/// An execution refused or failed: an unknown process is `NoSuchProcess`, the request's
/// problems one exception, the rest as the error table gives them.
fn execute_exception(error: ExecuteError, context: &str) -> WpsException {
    match error {
        ExecuteError::NoSuchProcess(id) => super::no_such_process(&id),
        ExecuteError::Problems(problems) => problems_exception(&problems),
        ExecuteError::Jobs(error) => jobs_exception(error, context),
        other @ ExecuteError::EngineUnavailable(_) => {
            WpsException::from_api(V, &other.into_api_error(context), None)
        }
    }
}

/// How to run the job (a synchronous one waits at most the server's limit).
fn choose_mode(process: &Process, mode: Option<&str>) -> Result<Mode, WpsException> {
    let sync = process.allows(JobControlOption::SyncExecute);
    let async_ = process.allows(JobControlOption::AsyncExecute);
    let no_such_mode = |asked: &str| {
        WpsException::new(
            V,
            OwsCode::NoSuchMode,
            Some("mode"),
            format!(
                "Process {} does not offer mode=\"{asked}\"; its jobControlOptions are {}.",
                process.id,
                super::job_control_options(process)
            ),
        )
    };
    let sync_mode = Mode::Sync { at_most: None };
    match mode.map(str::trim).unwrap_or("auto") {
        "sync" if sync => Ok(sync_mode),
        "sync" => Err(no_such_mode("sync")),
        "async" if async_ => Ok(Mode::Async),
        "async" => Err(no_such_mode("async")),
        "auto" if sync => Ok(sync_mode),
        "auto" => Ok(Mode::Async),
        other => Err(WpsException::invalid(
            V,
            "mode",
            format!("mode=\"{other}\" is not a WPS 2.0 mode: use sync, async or auto."),
        )),
    }
}

fn read_request(process: &Process, root: &Element) -> Result<ExecuteRequest, WpsException> {
    let mut request = ExecuteRequest {
        response: match root.attr("response").map(str::trim).unwrap_or("document") {
            "raw" => ResponseMode::Raw,
            "document" => ResponseMode::Document,
            other => {
                return Err(WpsException::invalid(
                    V,
                    "response",
                    format!("response=\"{other}\" is not accepted: use raw or document."),
                ))
            }
        },
        ..ExecuteRequest::default()
    };
    for input in root.children_named(WPS2, "Input") {
        let id = required_id(input, "Input")?;
        let value = read_input(process, &id, input)?;
        request.inputs.entry(id).or_default().push(value);
    }
    for output in root.children_named(WPS2, "Output") {
        let id = required_id(output, "Output")?;
        // The log output of a process without outputs is not an output of the job itself.
        if offers_log_only(process) && id == LOG_OUTPUT {
            continue;
        }
        let transmission_mode = match output.attr("transmission").map(str::trim) {
            None | Some("value") => TransmissionMode::Value,
            Some("reference") => TransmissionMode::Reference,
            Some(other) => {
                return Err(WpsException::invalid(
                    V,
                    "transmission",
                    format!(
                        "transmission=\"{other}\" on output {id:?} is not accepted: use value \
                         or reference."
                    ),
                ))
            }
        };
        request.outputs.insert(
            id,
            OutputRequest {
                transmission_mode,
                media_type: output.attr("mimeType").map(str::to_string),
            },
        );
    }
    Ok(request)
}

fn required_id(element: &Element, what: &str) -> Result<String, WpsException> {
    element
        .attr("id")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            WpsException::missing(
                V,
                "id",
                format!(
                    "Every <wps:{what}> needs an id attribute naming the process's {}.",
                    what.to_lowercase()
                ),
            )
        })
}

fn read_input(process: &Process, id: &str, input: &Element) -> Result<InputValue, WpsException> {
    if let Some(reference) = input.child(WPS2, "Reference") {
        if reference.child(WPS2, "Body").is_some()
            || reference.child(WPS2, "BodyReference").is_some()
        {
            return Err(WpsException::invalid(
                V,
                id,
                format!("Input {id:?}: references with a POST body are not supported; give a plain xlink:href."),
            ));
        }
        let href = href(reference).map(str::trim).unwrap_or("");
        if href.is_empty() {
            return Err(WpsException::missing(
                V,
                id,
                format!("Input {id:?}: <wps:Reference> needs an xlink:href."),
            ));
        }
        return Ok(InputValue::Href {
            href: href.to_string(),
            media_type: reference.attr("mimeType").map(str::to_string),
        });
    }
    let Some(data) = input.child(WPS2, "Data") else {
        let nested = input.child(WPS2, "Input").is_some();
        return Err(WpsException::invalid(
            V,
            id,
            if nested {
                format!("Input {id:?}: nested inputs are not supported by this server.")
            } else {
                format!("Input {id:?} has neither <wps:Data> nor <wps:Reference>; give one.")
            },
        ));
    };
    let media_type = data.attr("mimeType").map(str::to_string);
    let base64 = data
        .attr("encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    match process.input(id).map(|i| &i.kind) {
        Some(InputKind::Json { kind }) => {
            let text = match data.child(WPS2, "LiteralValue") {
                Some(literal) => literal.text(),
                None if data.has_elements() => data.inner_xml().trim().to_string(),
                None => data.text(),
            };
            Ok(InputValue::Inline {
                value: typed_literal(*kind, &text),
                media_type: None,
            })
        }
        // A file input (or an unknown one, which the checks report).
        _ => {
            if base64 {
                let data_text: String = data.text().split_whitespace().collect();
                return Ok(InputValue::Base64 {
                    data: data_text,
                    media_type,
                });
            }
            let text = if let Some(literal) = data.child(WPS2, "LiteralValue") {
                literal.text()
            } else if data.has_elements() {
                data.inner_xml().trim().to_string()
            } else {
                data.text()
            };
            Ok(InputValue::Inline {
                value: Value::String(text),
                media_type,
            })
        }
    }
}

/// The WPS exception for the problems of a request: the code of the first (unknown inputs
/// and outputs first: they are usually why the rest is wrong), every problem in the text.
fn problems_exception(problems: &[RequestProblem]) -> WpsException {
    let first = problems
        .iter()
        .find(|p| {
            matches!(
                p.kind,
                ProblemKind::UnknownInput | ProblemKind::UnknownOutput
            )
        })
        .unwrap_or(&problems[0]);
    let code = match first.kind {
        ProblemKind::UnknownInput => OwsCode::NoSuchInput,
        ProblemKind::MissingInput | ProblemKind::TooFewValues => OwsCode::MissingParameterValue,
        ProblemKind::TooManyValues => OwsCode::TooManyInputs,
        ProblemKind::WrongValue => OwsCode::WrongInputData,
        ProblemKind::WrongMediaType => OwsCode::NoSuchFormat,
        ProblemKind::UnknownOutput => OwsCode::NoSuchOutput,
        ProblemKind::BadReference | ProblemKind::Malformed => OwsCode::InvalidParameterValue,
    };
    let locator = first
        .location
        .trim_start_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or(first.location.as_str())
        .to_string();
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    WpsException::new(
        V,
        code,
        Some(&locator),
        format!("Fix and send again: {}", listed.join("; ")),
    )
}

/// A job service error: an unknown job is `NoSuchJob`; the rest as the OGC API answers
/// them (a full queue `ServerBusy`, a store failure an opaque `NoApplicableCode`, logged).
pub(super) fn jobs_exception(error: crate::jobs::JobsError, context: &str) -> WpsException {
    match error {
        crate::jobs::JobsError::NoSuchJob(id) => super::status::no_such_job(id.as_str()),
        other => WpsException::from_api(V, &other.into_api_error(context), None),
    }
}

/// The one output of a raw synchronous answer: its bytes with its media type (a literal
/// as text/plain); by reference, the `wps:Result` document.
async fn raw_output(
    app: &AppState,
    base: &BaseUrl,
    job: &crate::domain::Job,
    process: &Process,
) -> Result<Response, WpsException> {
    let selected = select_outputs(job, Some(process));
    let Some(first) = selected.into_iter().next() else {
        return Err(WpsException::new(
            V,
            OwsCode::NoSuchOutput,
            None,
            format!("Job {} produced none of the requested outputs.", job.id),
        ));
    };
    if first.mode == TransmissionMode::Reference || first.values.len() != 1 {
        return Ok(ok(result_document(app, base, job, Some(process)).await?));
    }
    match &first.values[0] {
        OutputValue::Json { value } => {
            let (body, media_type) = match value {
                Value::String(s) => (s.clone(), "text/plain; charset=utf-8"),
                Value::Array(_) | Value::Object(_) => (value.to_string(), "application/json"),
                other => (other.to_string(), "text/plain; charset=utf-8"),
            };
            Ok(([(header::CONTENT_TYPE, media_type)], body).into_response())
        }
        file @ OutputValue::File { path, .. } => {
            let media_type = file.media_type();
            let opened = app.workspace.open_output(&job.id, path).ok_or_else(|| {
                WpsException::server(V, format!("The output file of job {} is missing.", job.id))
            })?;
            let handle = tokio::fs::File::from_std(opened);
            let stream = tokio_util::io::ReaderStream::new(handle);
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, media_type)
                .body(Body::from_stream(stream))
                .map_err(|_| WpsException::server(V, "The server failed to build the answer."))
        }
    }
}
