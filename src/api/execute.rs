//! `POST /processes/{processID}/execution`: the 1.0 execute document -> an
//! [`ExecuteRequest`], run by the execution service (`jobs::execute::Execution`), then
//! answered asynchronously (201 + `Location`) or synchronously (the results, shaped as
//! ogc-notes §1.6).
//!
//! Reading input values (liberal, ogc-notes §1.5):
//! - a bare value, a qualified value `{"value", "mediaType", "encoding", "schema"}` (also
//!   with a nested `"format": {"mediaType", "encoding"}`), a link `{"href", "type"}` or a
//!   bounding box `{"bbox", "crs"}`; any other object is an error (objects travel as
//!   `{"value": {...}}`);
//! - a JSON string for an `integer`, `number` or `boolean` input is a literal, read by the
//!   rule every façade uses (`jobs::execute::typed_literal`): `"7"` is 7, `"TRUE"` true;
//! - an array is a list of values when the input takes several (`maxOccurs > 1`), and one
//!   value otherwise (a json input of type array);
//! - file inputs: `"encoding": "base64"` makes the string base64; without an encoding a
//!   string is base64 when the media type (the value's, else the input's first) is not
//!   textual (OGC `binaryInputValue`), and the file's text otherwise; a qualified JSON value
//!   (`{"value": {...}, "mediaType": "application/geo+json"}`) is the file's JSON text; a
//!   bare number, boolean or object is not a file (400).

use super::results::{respond_with_results, status_created};
use super::views::{ExecuteView, StatusInfoView};
use crate::domain::{
    ExecuteRequest, InputDescription, InputKind, InputValue, JobControlOption, OutputRequest,
    Process, ResponseMode, Subscriber, TransmissionMode,
};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{typed_literal, Execution, Mode};
use crate::jobs::request::{is_textual_media_type, ProblemKind, RequestProblem, MAX_PROBLEMS};
use crate::limits::json::{parse_bounded, BoundedError};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use seed::manifest::JsonType;
use serde_json::{Map, Value};
use std::time::Duration;

/// What the client prefers (RFC 7240 `Prefer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preferences {
    pub respond_async: bool,
    /// `wait=N`, seconds.
    pub wait: Option<Duration>,
}

impl Preferences {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut prefs = Preferences::default();
        for value in headers.get_all("prefer") {
            let Ok(value) = value.to_str() else { continue };
            for token in value.split(',') {
                // Parameters after ';' do not change these two preferences.
                let token = token.split(';').next().unwrap_or("").trim();
                let (name, arg) = match token.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (token, None),
                };
                if name.eq_ignore_ascii_case("respond-async") {
                    prefs.respond_async = true;
                } else if name.eq_ignore_ascii_case("wait") {
                    if let Some(seconds) = arg.and_then(|a| a.parse::<u64>().ok()) {
                        prefs.wait = Some(Duration::from_secs(seconds));
                    }
                }
            }
        }
        prefs
    }
}

/// Whether to run asynchronously, from the process's job control options and `Prefer`
/// (ogc-notes §1.5): one mode offered -> that one; both -> async only when asked.
pub fn runs_async(process: &Process, prefs: Preferences) -> bool {
    let sync = process.allows(JobControlOption::SyncExecute);
    let async_ = process.allows(JobControlOption::AsyncExecute);
    match (sync, async_) {
        (true, false) => false,
        (false, _) => true,
        (true, true) => prefs.respond_async,
    }
}

/// Executes a process.
#[utoipa::path(
    post,
    path = "/processes/{processID}/execution",
    tag = "Processes",
    operation_id = "execute",
    params(
        ("processID" = String, Path, description = "The process id"),
        ("Prefer" = Option<String>, Header, description = "`respond-async` to run \
            asynchronously (honoured when the process offers `async-execute`); `wait=N` to \
            wait at most N seconds for a synchronous run (capped by the server's limit)."),
        ("priority" = Option<i32>, Query, description = "The job's priority, -1000 to 1000: \
            higher runs first (default: the process's configured priority, else 0). An ades \
            extension."),
    ),
    request_body(content = ExecuteView, content_type = "application/json",
        description = "The execute request (OGC API - Processes 1.0)."),
    responses(
        (status = 200, description = "Synchronous execution: with `response: raw` and one \
            output by value, that output as its media type; several by value, \
            `multipart/related` (one part per value, `Content-ID: <outputId>`, references \
            with `Content-Location` and an empty body); with `response: document`, the \
            results document.", content(
                (super::views::ResultsView = "application/json"),
                (String = "multipart/related"),
                (String = "*/*"),
            )),
        (status = 201, description = "Asynchronous execution (`Prefer: respond-async`), or a \
            synchronous one that did not end within the wait: the job's status, with its \
            URL in `Location`.", body = StatusInfoView, headers(
                ("Location" = String, description = "The job's absolute URL."),
                ("Preference-Applied" = String, description = "`respond-async` when honoured."),
            )),
        (status = 204, description = "Synchronous execution, `response: raw`, every output \
            by reference: no body, one `Link` header per output value.", headers(
                ("Link" = String, description = "`<url>; rel=\"http://www.opengis.net/def/rel/ogc/1.0/results\"; type=\"...\"; title=\"<outputId>\"`"),
            )),
        (status = 400, description = "The request cannot be run as sent (its `detail` and \
            `problems` list every value to fix), or a synchronous job failed because of its \
            input (Seed error category `data`; `type` `urn:ades:seed:error:<name>`).",
            body = crate::error::ExceptionView),
        (status = 404, description = "No such process (`no-such-process`), or the \
            synchronous job was dismissed while it ran (`no-such-job`).",
            body = crate::error::ExceptionView),
        (status = 413, description = "The body is larger than the server accepts.",
            body = crate::error::ExceptionView),
        (status = 415, description = "The body is not `application/json`.",
            body = crate::error::ExceptionView),
        (status = 500, description = "A synchronous job failed (Seed error category `job` \
            or `system`), or a server error.", body = crate::error::ExceptionView),
        (status = 503, description = "The container engine cannot be reached, or the queue \
            is full (`urn:ades:error:queue-full`); try again after `Retry-After` seconds.",
            body = crate::error::ExceptionView,
            headers(("Retry-After" = String, description = "Seconds to wait."))),
    )
)]
pub async fn post_execution(
    State(app): State<AppState>,
    caller: crate::auth::Caller,
    base: BaseUrl,
    Path(process_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let priority = priority_of(query.as_deref())?;
    let execution = Execution::new(&app.catalog, &app.jobs, app.settings.sync_wait_limit);
    let process = execution
        .process(&process_id)
        .await
        .map_err(|e| e.into_api_error("finding a process"))?;

    let document = read_json_body(&headers, body, app.settings.json_body_limit())?;
    // Nested processes (Part 3): the request runs as a workflow of its processes.
    let (process, document, workflow) = match nested_plan(&app, &base, &process, &document).await? {
        Some((process, workflow, flat)) => (process, flat, Some(workflow)),
        None => (process, document, None),
    };
    let (mut request, problems) = parse_execute(&process, &document);
    request.workflow = workflow;
    if let Some(subscriber) = &mut request.subscriber {
        subscriber.base_url = Some(base.0.clone());
    }
    execution
        .check(&process, &request, problems)
        .map_err(|e| e.into_api_error("checking a request"))?;

    let prefs = Preferences::from_headers(&headers);
    let mode = if runs_async(&process, prefs) {
        Mode::Async
    } else {
        Mode::Sync {
            at_most: prefs.wait,
        }
    };
    let job = execution
        .start(&caller, &process, request, priority, mode)
        .await
        .map_err(|e| e.into_api_error("running a job"))?;
    if mode == Mode::Async {
        let mut response = status_created(&job, &base);
        if prefs.respond_async {
            response.headers_mut().insert(
                "preference-applied",
                HeaderValue::from_static("respond-async"),
            );
        }
        return Ok(response);
    }
    if !job.status.is_final() {
        return Ok(status_created(&job, &base));
    }
    respond_with_results(&app, &base, &job, Some(&process)).await
}

/// What a request with nested processes runs: the process it is offered as, its workflow,
/// and the execute document with its inputs flattened.
type NestedPlan = (
    std::sync::Arc<crate::domain::Process>,
    Box<crate::workflow::Workflow>,
    Value,
);

/// The workflow a request with nested processes runs, offered as a process of the outer
/// process's id and outputs, and the request with its inputs flattened; `None` for an
/// ordinary request. Problems of the nesting are the request's 400.
async fn nested_plan(
    app: &AppState,
    base: &BaseUrl,
    process: &std::sync::Arc<crate::domain::Process>,
    document: &Value,
) -> Result<Option<NestedPlan>, ApiError> {
    let remotes = app.jobs.remotes();
    let problems_error = |problems: Vec<crate::workflow::Problem>| {
        let problems = problems
            .into_iter()
            .map(|p| RequestProblem::new(ProblemKind::WrongValue, &p.pointer, p.message))
            .collect();
        crate::jobs::execute::ExecuteError::Problems(problems).into_api_error("checking a request")
    };
    // The remote processes nested in the request are described first (Part 3 Remote
    // Core Processes): their descriptions check the graph like local ones.
    let names = crate::workflow::nested::remote_processes(document, remotes);
    let described = if names.is_empty() {
        Default::default()
    } else {
        crate::workflow::remote_step::describe_remote_processes(remotes, &names)
            .await
            .map_err(problems_error)?
    };
    let lookup = |id: &str| {
        described.get(id).cloned().or_else(|| {
            crate::domain::ProcessId::parse(id)
                .ok()
                .and_then(|id| app.catalog.get(&id))
        })
    };
    let resolver = crate::workflow::nested::Resolver {
        base: &base.0,
        remotes,
        lookup: &lookup,
    };
    match crate::workflow::nested::plan(process, document, &resolver) {
        Ok(None) => Ok(None),
        Ok(Some((workflow, flat))) => {
            let workflow = std::sync::Arc::new(workflow);
            let offered = workflow
                .to_process()
                .map_err(|reason| ApiError::new(ErrorCode::InvalidParameterValue, reason))?;
            Ok(Some((
                std::sync::Arc::new(offered),
                Box::new(workflow.as_ref().clone()),
                flat,
            )))
        }
        Err(problems) => Err(problems_error(problems)),
    }
}

/// The highest priority a request may ask for (and the negative, the lowest).
const MAX_PRIORITY: i32 = 1000;

/// The `priority` query parameter, if given: an integer from -1000 to 1000.
fn priority_of(query: Option<&str>) -> Result<Option<i32>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut priority = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name != "priority" {
            continue;
        }
        match value.trim().parse::<i32>() {
            Ok(p) if (-MAX_PRIORITY..=MAX_PRIORITY).contains(&p) => priority = Some(p),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidQueryParameterValue,
                    format!(
                        "priority={value:?} is not a priority: give an integer from \
                         -{MAX_PRIORITY} to {MAX_PRIORITY} (higher runs first)."
                    ),
                ))
            }
        }
    }
    Ok(priority)
}

/// The body as JSON: 415 for another declared content type, 413 when too large, 400 when
/// it is not JSON.
fn read_json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Value, ApiError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let essence = crate::jobs::request::media_type_essence(content_type);
        let json = essence == "application/json" || essence.ends_with("+json");
        if !json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "The body is declared as {content_type:?}; send the execute request as \
                     JSON with Content-Type: application/json."
                ),
            ));
        }
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "The request body is larger than {limit} bytes, the most this server \
                     accepts for an execute request (limits.max_json_body_bytes); pass large \
                     inputs by reference ({{\"href\": \"https://...\"}})."
                ),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequestBody, rejection.body_text())
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequestBody,
            "The body is empty; send an execute request such as {\"inputs\": {...}}.",
        ));
    }
    parse_bounded(&body).map_err(|e| match e {
        BoundedError::Syntax(e) => ApiError::new(
            ErrorCode::InvalidRequestBody,
            format!("The body is not valid JSON: {e}. Send an execute request such as {{\"inputs\": {{...}}}}."),
        ),
        BoundedError::TooManyValues { budget } => ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "The body holds more JSON values than this server parses for its size (about \
                 {budget} bytes once parsed); pass large arrays by reference \
                 ({{\"href\": \"https://...\"}})."
            ),
        ),
    })
}

/// Reads the execute document; structural problems are returned with the request built
/// from everything that could be read (so the checks can report the rest too).
pub fn parse_execute(process: &Process, document: &Value) -> (ExecuteRequest, Vec<RequestProblem>) {
    let mut problems = Vec::new();
    let mut request = ExecuteRequest::default();
    let Some(document) = document.as_object() else {
        problems.push(RequestProblem::new(
            ProblemKind::Malformed,
            "/",
            "the execute request must be a JSON object such as {\"inputs\": {...}}",
        ));
        return (request, problems);
    };

    match document.get("inputs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(inputs)) => {
            for (id, given) in inputs {
                let location = format!("/inputs/{id}");
                let values = parse_input(process.input(id), given, &location, &mut problems);
                request.inputs.insert(id.clone(), values);
            }
        }
        Some(_) => problems.push(RequestProblem::new(
            ProblemKind::Malformed,
            "/inputs",
            "\"inputs\" must be an object mapping input ids to values",
        )),
    }

    match document.get("outputs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(outputs)) => {
            for (id, wanted) in outputs {
                if let Some(output) = parse_output(wanted, &format!("/outputs/{id}"), &mut problems)
                {
                    request.outputs.insert(id.clone(), output);
                }
            }
        }
        Some(_) => problems.push(RequestProblem::new(
            ProblemKind::Malformed,
            "/outputs",
            "\"outputs\" must be an object mapping output ids to {\"transmissionMode\": ...}",
        )),
    }

    request.response = match document.get("response") {
        None | Some(Value::Null) => ResponseMode::Raw,
        Some(Value::String(s)) if s == "raw" => ResponseMode::Raw,
        Some(Value::String(s)) if s == "document" => ResponseMode::Document,
        Some(other) => {
            problems.push(RequestProblem::new(
                ProblemKind::Malformed,
                "/response",
                format!("\"response\" must be \"raw\" or \"document\", got {other}"),
            ));
            ResponseMode::Raw
        }
    };

    match document.get("subscriber") {
        None | Some(Value::Null) => {}
        Some(Value::Object(subscriber)) => {
            let uri = |name: &str, problems: &mut Vec<RequestProblem>| match subscriber.get(name) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    problems.push(RequestProblem::new(
                        ProblemKind::Malformed,
                        format!("/subscriber/{name}"),
                        format!("must be a URL string, got {other}"),
                    ));
                    None
                }
            };
            let parsed = Subscriber {
                success_uri: uri("successUri", &mut problems),
                in_progress_uri: uri("inProgressUri", &mut problems),
                failed_uri: uri("failedUri", &mut problems),
                base_url: None,
            };
            if parsed != Subscriber::default() {
                request.subscriber = Some(parsed);
            }
        }
        Some(_) => problems.push(RequestProblem::new(
            ProblemKind::Malformed,
            "/subscriber",
            "\"subscriber\" must be an object {\"successUri\", \"inProgressUri\", \"failedUri\"}",
        )),
    }
    (request, problems)
}

/// The values of one input: an array is several values when the input takes several, else
/// one value.
fn parse_input(
    input: Option<&InputDescription>,
    given: &Value,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) -> Vec<InputValue> {
    let takes_one_array = matches!(
        input,
        Some(InputDescription {
            kind: InputKind::Json {
                kind: JsonType::Array
            },
            max_occurs: Some(1),
            ..
        })
    );
    match given {
        Value::Array(items) if !takes_one_array => {
            let several = items.len() > 1;
            let mut values = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                // Past the cap the request is refused anyway: stop collecting messages.
                if problems.len() >= MAX_PROBLEMS {
                    break;
                }
                let location = if several {
                    format!("{location}/{index}")
                } else {
                    location.to_string()
                };
                values.extend(parse_value(input, item, &location, problems));
            }
            values
        }
        single => parse_value(input, single, location, problems)
            .into_iter()
            .collect(),
    }
}

fn media_type_of(object: &Map<String, Value>, key: &str) -> Option<String> {
    let flat = object.get(key).and_then(Value::as_str);
    let nested = object
        .get("format")
        .and_then(Value::as_object)
        .and_then(|f| f.get("mediaType"))
        .and_then(Value::as_str);
    flat.or(nested).map(str::to_string)
}

fn encoding_of(object: &Map<String, Value>) -> Option<String> {
    let flat = object.get("encoding").and_then(Value::as_str);
    let nested = object
        .get("format")
        .and_then(Value::as_object)
        .and_then(|f| f.get("encoding"))
        .and_then(Value::as_str);
    flat.or(nested).map(str::to_string)
}

fn parse_value(
    input: Option<&InputDescription>,
    given: &Value,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) -> Option<InputValue> {
    let value = read_value(input, given, location, problems)?;
    Some(typed_string(input, value))
}

/// A JSON string given to an `integer`, `number` or `boolean` input is a literal, read by
/// the one rule every façade uses ([`typed_literal`]): `"7"` is 7, `"TRUE"` true.
fn typed_string(input: Option<&InputDescription>, value: InputValue) -> InputValue {
    let Some(InputKind::Json { kind }) = input.map(|i| &i.kind) else {
        return value;
    };
    let scalar = matches!(
        kind,
        JsonType::Integer | JsonType::Number | JsonType::Boolean
    );
    match value {
        InputValue::Inline {
            value: Value::String(text),
            media_type,
        } if scalar => InputValue::Inline {
            value: typed_literal(*kind, &text),
            media_type,
        },
        other => other,
    }
}

fn read_value(
    input: Option<&InputDescription>,
    given: &Value,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) -> Option<InputValue> {
    let file_types = match input.map(|i| &i.kind) {
        Some(InputKind::File { media_types }) => Some(media_types.as_slice()),
        _ => None,
    };
    match given {
        Value::Null => {
            problems.push(RequestProblem::new(
                ProblemKind::WrongValue,
                location,
                "null is not a value; leave the input out instead",
            ));
            None
        }
        Value::Object(object) if object.contains_key("href") => match object.get("href") {
            Some(Value::String(href)) => Some(InputValue::Href {
                href: href.clone(),
                media_type: media_type_of(object, "type"),
            }),
            _ => {
                problems.push(RequestProblem::new(
                    ProblemKind::Malformed,
                    location,
                    "\"href\" must be a URL string",
                ));
                None
            }
        },
        Value::Object(object) if object.contains_key("value") => {
            let value = object.get("value").cloned().unwrap_or(Value::Null);
            let media_type = media_type_of(object, "mediaType");
            let encoding = encoding_of(object);
            file_or_inline(
                file_types, value, media_type, encoding, true, location, problems,
            )
        }
        Value::Object(object) if object.contains_key("bbox") => Some(InputValue::Inline {
            value: given.clone(),
            media_type: None,
        }),
        Value::Object(_) => {
            problems.push(RequestProblem::new(
                ProblemKind::Malformed,
                location,
                "this object is neither a qualified value {\"value\": ...}, a link \
                 {\"href\": ...} nor a bounding box {\"bbox\": [...]}; wrap object values as \
                 {\"value\": {...}}",
            ));
            None
        }
        bare => file_or_inline(
            file_types,
            bare.clone(),
            None,
            None,
            false,
            location,
            problems,
        ),
    }
}

/// A value for a file input (text, base64 or JSON text) or a json input (as is).
/// `qualified`: given as `{"value": ...}` (a JSON value there is a file's JSON text; a bare
/// one is not a file and left for the checks to report).
fn file_or_inline(
    file_types: Option<&[String]>,
    value: Value,
    media_type: Option<String>,
    encoding: Option<String>,
    qualified: bool,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) -> Option<InputValue> {
    let Some(accepted) = file_types else {
        return Some(InputValue::Inline { value, media_type });
    };
    let effective_type = media_type.clone().or_else(|| accepted.first().cloned());
    match (&value, encoding.as_deref()) {
        (Value::String(data), Some(e)) if e.eq_ignore_ascii_case("base64") => {
            Some(InputValue::Base64 {
                data: data.clone(),
                media_type,
            })
        }
        (_, Some(e)) if e.eq_ignore_ascii_case("base64") => {
            problems.push(RequestProblem::new(
                ProblemKind::WrongValue,
                location,
                "a base64 value must be a string",
            ));
            None
        }
        (Value::String(data), None)
            if effective_type
                .as_deref()
                .is_some_and(|t| !is_textual_media_type(t)) =>
        {
            Some(InputValue::Base64 {
                data: data.clone(),
                media_type,
            })
        }
        (Value::String(_), _) => Some(InputValue::Inline { value, media_type }),
        (Value::Null, _) => {
            problems.push(RequestProblem::new(
                ProblemKind::WrongValue,
                location,
                "null is not a value; leave the input out instead",
            ));
            None
        }
        (_, _) if qualified => Some(InputValue::Inline {
            value: Value::String(value.to_string()),
            media_type,
        }),
        _ => Some(InputValue::Inline { value, media_type }),
    }
}

fn parse_output(
    wanted: &Value,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) -> Option<OutputRequest> {
    let object = match wanted {
        Value::Object(object) => object,
        Value::Null => {
            return Some(OutputRequest {
                transmission_mode: TransmissionMode::Value,
                media_type: None,
            })
        }
        _ => {
            problems.push(RequestProblem::new(
                ProblemKind::Malformed,
                location,
                "must be an object such as {\"transmissionMode\": \"reference\"}",
            ));
            return None;
        }
    };
    let transmission_mode = match object.get("transmissionMode") {
        None | Some(Value::Null) => TransmissionMode::Value,
        Some(Value::String(s)) if s == "value" => TransmissionMode::Value,
        Some(Value::String(s)) if s == "reference" => TransmissionMode::Reference,
        Some(other) => {
            problems.push(RequestProblem::new(
                ProblemKind::Malformed,
                format!("{location}/transmissionMode"),
                format!("must be \"value\" or \"reference\", got {other}"),
            ));
            TransmissionMode::Value
        }
    };
    Some(OutputRequest {
        transmission_mode,
        media_type: media_type_of(object, "mediaType"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn prefer_headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.append("prefer", HeaderValue::from_static("respond-async, wait=10"));
        let prefs = Preferences::from_headers(&headers);
        assert!(prefs.respond_async);
        assert_eq!(prefs.wait, Some(Duration::from_secs(10)));
        let mut headers = HeaderMap::new();
        headers.append("prefer", HeaderValue::from_static("handling=lenient"));
        headers.append("prefer", HeaderValue::from_static("Respond-Async"));
        assert!(Preferences::from_headers(&headers).respond_async);
        assert_eq!(
            Preferences::from_headers(&HeaderMap::new()),
            Preferences::default()
        );
    }

    /// Arbitrary JSON, as a proptest strategy (small: a few levels, a few members).
    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            "[a-zA-Z0-9 :/.]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            let key = prop_oneof![
                Just("inputs".to_string()),
                Just("outputs".to_string()),
                Just("response".to_string()),
                Just("subscriber".to_string()),
                Just("value".to_string()),
                Just("href".to_string()),
                Just("COUNT".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn any_execute_document_is_read_without_panicking(document in any_json()) {
            let process = crate::jobs::request::tests::process();
            let (request, _) = parse_execute(&process, &document);
            let _ = crate::jobs::request::check_request(&process, &request);
        }

        #[test]
        fn any_body_is_read_without_panicking(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = read_json_body(&HeaderMap::new(), Ok(Bytes::from(body)), 1024);
        }
    }
}
