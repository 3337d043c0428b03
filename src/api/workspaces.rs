//! `/workspaces`: the named workspaces (`crate::storage`) in Scale's v6 JSON. Everybody who
//! may read jobs lists and reads them (secrets shown as `<hidden>`); creating, updating
//! and deleting need what deploying needs (the admin token, or the admin role with
//! authentication on), because a workspace names host directories and buckets the server
//! reads and writes. `GET /workspaces/{name}/files/{path}` serves a file of a workspace
//! (the published products results link), with `Range`.

use super::results::{parse_range, RangeRequest};
use crate::auth::{Caller, Denied};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::storage::registry::{Entry, WorkspacesError};
use crate::storage::{StorageError, WorkspaceSpec};
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

/// A workspace as answered: its definition without secrets, where it comes from, times.
fn view(entry: &Entry, base: &BaseUrl) -> Value {
    let mut shown = serde_json::to_value(entry.spec.redacted()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut shown {
        let time = |t: Option<time::OffsetDateTime>| {
            t.and_then(|t| t.format(&Rfc3339).ok())
                .map_or(Value::Null, Value::String)
        };
        map.insert(
            "source".into(),
            json!(if entry.configured {
                "configuration"
            } else {
                "api"
            }),
        );
        map.insert("created".into(), time(entry.created));
        map.insert("last_modified".into(), time(entry.updated));
        map.insert(
            "links".into(),
            json!([{
                "href": base.join(&format!("/workspaces/{}", entry.spec.name)),
                "rel": "self",
                "type": "application/json",
            }]),
        );
    }
    shown
}

fn api_error(err: WorkspacesError) -> ApiError {
    let message = err.to_string();
    match err {
        WorkspacesError::NotFound(_) => ApiError::new(ErrorCode::NotFound, message)
            .with_type("urn:ades:error:no-such-workspace")
            .with_title("No such workspace"),
        WorkspacesError::Duplicate(_) => ApiError::new(ErrorCode::DuplicatedProcess, message)
            .with_type("urn:ades:error:duplicated-workspace")
            .with_title("Duplicated workspace"),
        WorkspacesError::Configured(_) => ApiError::new(ErrorCode::Forbidden, message)
            .with_type("urn:ades:error:configured-workspace")
            .with_title("Workspace of the configuration file"),
        WorkspacesError::Inactive(_) => ApiError::new(ErrorCode::NotFound, message),
        WorkspacesError::Invalid(StorageError::NotFound(path)) => ApiError::new(
            ErrorCode::NotFound,
            format!("{path} does not exist in the workspace"),
        ),
        WorkspacesError::Invalid(StorageError::Backend(_)) => ApiError::new(
            ErrorCode::StorageUnavailable,
            format!("The workspace's store failed: {message}"),
        ),
        WorkspacesError::Invalid(_) => ApiError::new(ErrorCode::InvalidRequestBody, message),
        WorkspacesError::Store(err) => ApiError::internal("reading the workspaces", &err),
    }
}

/// Creating, updating and deleting workspaces need what deploying needs.
fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    caller.require_deployer().map_err(|denied| {
        let reworded = |text: &str| {
            text.replace(
                "Deploy, replace and undeploy",
                "Creating, updating and deleting workspaces",
            )
        };
        match denied {
            Denied::Unauthenticated(text) => Denied::Unauthenticated(reworded(&text)),
            Denied::Forbidden(text) => Denied::Forbidden(reworded(&text)),
        }
        .to_api_error()
    })
}

/// The body as a workspace definition (Scale's v6 JSON).
fn read_spec(
    limit: usize,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ApiError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let essence = crate::jobs::request::media_type_essence(content_type);
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "The body is declared as {content_type:?}; send the workspace as JSON with \
                     Content-Type: application/json."
                ),
            ));
        }
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The body is larger than {limit} bytes (limits.max_json_body_bytes)."),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequestBody, rejection.body_text())
        }
    })?;
    crate::limits::json::parse_bounded(&body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequestBody,
            format!(
                "The body is not a JSON document ({e:?}); send a workspace such as \
                 {{\"name\": \"raw\", \"configuration\": {{\"broker\": {{\"type\": \"host\", \
                 \"host_path\": \"/data/raw\"}}}}}}."
            ),
        )
    })
}

fn parse_spec(document: Value) -> Result<WorkspaceSpec, ApiError> {
    serde_json::from_value(document).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequestBody,
            format!(
                "The body is not a workspace: {e}. Give name (or title) and configuration: \
                 {{broker: {{type: host, host_path}}}} or {{broker: {{type: s3, bucket_name, \
                 ...}}}} (README, \"Workspaces\")."
            ),
        )
    })
}

/// The workspaces, sorted by name (Scale's list shape).
#[utoipa::path(
    get,
    path = "/workspaces",
    tag = "Workspaces",
    operation_id = "listWorkspaces",
    responses(
        (status = 200, description = "`{count, next, previous, results}`; secrets shown as `<hidden>`.", body = serde_json::Value),
        (status = 401, description = "No or a wrong credential (authentication on).", body = crate::error::ExceptionView),
    )
)]
pub async fn list_workspaces(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let entries = app.jobs.workspaces().list().await.map_err(api_error)?;
    let results: Vec<Value> = entries.iter().map(|e| view(e, &base)).collect();
    Ok(Json(json!({
        "count": results.len(),
        "next": null,
        "previous": null,
        "results": results,
    })))
}

/// One workspace.
#[utoipa::path(
    get,
    path = "/workspaces/{name}",
    tag = "Workspaces",
    operation_id = "getWorkspace",
    params(("name" = String, Path, description = "The workspace name")),
    responses(
        (status = 200, description = "The workspace; secrets shown as `<hidden>`.", body = serde_json::Value),
        (status = 404, description = "No such workspace.", body = crate::error::ExceptionView),
    )
)]
pub async fn get_workspace(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let entry = app.jobs.workspaces().get(&name).await.map_err(api_error)?;
    Ok(Json(view(&entry, &base)))
}

/// Creates a workspace (admin).
#[utoipa::path(
    post,
    path = "/workspaces",
    tag = "Workspaces",
    operation_id = "createWorkspace",
    request_body(content = crate::storage::WorkspaceSpec, description = "Scale's v6 workspace JSON, with our additions (README, \"Workspaces\")."),
    responses(
        (status = 201, description = "Created; `Location` is the workspace.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work: the message says why.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin, or the name is one of the configuration file's.", body = crate::error::ExceptionView),
        (status = 409, description = "A workspace with this name exists.", body = crate::error::ExceptionView),
        (status = 415, description = "Not JSON.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn create_workspace(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let limit = app.settings.json_body_limit();
    let spec = parse_spec(read_spec(limit, &headers, body)?)?;
    let entry = app
        .jobs
        .workspaces()
        .create(spec)
        .await
        .map_err(api_error)?;
    tracing::info!(workspace = %entry.spec.name, by = %caller.actor(), "workspace created");
    let location = base.join(&format!("/workspaces/{}", entry.spec.name));
    let mut response = (StatusCode::CREATED, Json(view(&entry, &base))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Replaces a workspace's definition (admin); PATCH merges the given top-level fields
/// into the stored definition first. A secret sent back as `<hidden>` is kept.
#[utoipa::path(
    put,
    path = "/workspaces/{name}",
    tag = "Workspaces",
    operation_id = "replaceWorkspace",
    params(("name" = String, Path, description = "The workspace name")),
    request_body(content = crate::storage::WorkspaceSpec, description = "The whole definition."),
    responses(
        (status = 200, description = "Updated.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin, or a workspace of the configuration file.", body = crate::error::ExceptionView),
        (status = 404, description = "No such workspace.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn replace_workspace(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    let spec = parse_spec(read_spec(app.settings.json_body_limit(), &headers, body)?)?;
    update(&app, &caller, &base, &name, spec).await
}

/// Updates some fields of a workspace (admin), as Scale's PATCH does.
#[utoipa::path(
    patch,
    path = "/workspaces/{name}",
    tag = "Workspaces",
    operation_id = "updateWorkspace",
    params(("name" = String, Path, description = "The workspace name")),
    request_body(content = serde_json::Value, description = "The fields to change (top level; `configuration` is replaced whole)."),
    responses(
        (status = 200, description = "Updated.", body = serde_json::Value),
        (status = 400, description = "The result cannot work.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin, or a workspace of the configuration file.", body = crate::error::ExceptionView),
        (status = 404, description = "No such workspace.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn patch_workspace(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    let changes = read_spec(app.settings.json_body_limit(), &headers, body)?;
    let Value::Object(changes) = changes else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequestBody,
            "Send the fields to change as a JSON object, such as {\"is_active\": false}.",
        ));
    };
    let stored = app.jobs.workspaces().get(&name).await.map_err(api_error)?;
    let mut merged = serde_json::to_value(stored.spec.redacted()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut merged {
        map.extend(changes);
    }
    let spec = parse_spec(merged)?;
    update(&app, &caller, &base, &name, spec).await
}

async fn update(
    app: &AppState,
    caller: &Caller,
    base: &BaseUrl,
    name: &str,
    spec: WorkspaceSpec,
) -> Result<Json<Value>, ApiError> {
    let entry = app
        .jobs
        .workspaces()
        .update(name, spec)
        .await
        .map_err(api_error)?;
    tracing::info!(workspace = %name, by = %caller.actor(), "workspace updated");
    Ok(Json(view(&entry, base)))
}

/// Deletes a workspace's definition (admin); its files stay where they are.
#[utoipa::path(
    delete,
    path = "/workspaces/{name}",
    tag = "Workspaces",
    operation_id = "deleteWorkspace",
    params(("name" = String, Path, description = "The workspace name")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin, or a workspace of the configuration file.", body = crate::error::ExceptionView),
        (status = 404, description = "No such workspace.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn delete_workspace(
    State(app): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&caller)?;
    app.jobs
        .workspaces()
        .delete(&name)
        .await
        .map_err(api_error)?;
    tracing::info!(workspace = %name, by = %caller.actor(), "workspace deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A file of a workspace, through ades (any signed-in user; `Range` supported).
#[utoipa::path(
    get,
    path = "/workspaces/{name}/files/{path}",
    tag = "Workspaces",
    operation_id = "getWorkspaceFile",
    params(
        ("name" = String, Path, description = "The workspace name"),
        ("path" = String, Path, description = "The file's path inside the workspace"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
    ),
    responses(
        (status = 200, description = "The file, with `Content-Length` and `Accept-Ranges: bytes`.", content((String = "*/*"))),
        (status = 206, description = "The range asked for, with `Content-Range`.", content((String = "*/*")), headers(("Content-Range" = String))),
        (status = 400, description = "The path leaves the workspace or goes through a symbolic link.", body = crate::error::ExceptionView),
        (status = 404, description = "No such workspace or file.", body = crate::error::ExceptionView),
        (status = 416, description = "The range lies outside the file.", body = crate::error::ExceptionView),
    )
)]
pub async fn workspace_file(
    State(app): State<AppState>,
    caller: Caller,
    Path((name, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let file_error = |e: StorageError| match e {
        StorageError::BadPath(message) => ApiError::new(ErrorCode::InvalidParameterValue, message),
        other => api_error(WorkspacesError::Invalid(other)),
    };
    let broker = app
        .jobs
        .workspaces()
        .broker(&name)
        .await
        .map_err(|e| match e {
            WorkspacesError::Invalid(e) => file_error(e),
            other => api_error(other),
        })?;
    let found = broker.stat(&path).await.map_err(file_error)?;
    let len = found.size;
    let media_type = mime_guess::from_path(&path)
        .first()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, media_type)
        .header(header::ACCEPT_RANGES, "bytes");
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let response = match parse_range(range, len) {
        RangeRequest::Whole => {
            let stream = broker.read(&path, None).await.map_err(file_error)?;
            builder
                .status(StatusCode::OK)
                .header(header::CONTENT_LENGTH, len)
                .body(Body::from_stream(stream))
        }
        RangeRequest::Part { start, end } => {
            let stream = broker
                .read(&path, Some(start..end + 1))
                .await
                .map_err(file_error)?;
            builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, end - start + 1)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))
                .body(Body::from_stream(stream))
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
            ));
        }
    };
    response.map_err(|e| ApiError::internal("building a file response", &e))
}
