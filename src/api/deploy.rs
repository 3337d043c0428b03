//! OGC API - Processes Part 2: `POST /processes` (deploy), `PUT /processes/{id}` (replace),
//! `DELETE /processes/{id}` (undeploy), `GET /processes/{id}/package`. The writes need the
//! operator's bearer token (`auth.admin_token`) or, with authentication on, the admin role;
//! the work, and that check, are `deploy::Deployer`'s.

use super::views::ProcessSummaryView;
use crate::auth::Caller;
use crate::deploy::{DeployError, Package};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The optional query of a deploy or replace.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeployQuery {
    /// The image of a bare Seed manifest (`application/vnd.seed.manifest+json`); default:
    /// the manifest's Seed image name.
    image: Option<String>,
    /// The process of a CWL `$graph` to deploy (its id); default: the graph's only
    /// Workflow, else `main`, else its only process.
    w: Option<String>,
}

/// Deploys a process from a Seed image.
#[utoipa::path(
    post,
    path = "/processes",
    tag = "Deploy, Replace, Undeploy",
    operation_id = "deploy",
    params(DeployQuery),
    request_body(
        content(
            (serde_json::Value = "application/ogcapppkg+json"),
            (serde_json::Value = "application/vnd.seed.manifest+json"),
            (serde_json::Value = "application/vnd.ades.image+json"),
            (serde_json::Value = "application/vnd.ades.recipe+json"),
            (serde_json::Value = "application/json"),
            (String = "application/cwl"),
            (serde_json::Value = "application/cwl+json"),
            (String = "application/cwl+yaml"),
        ),
        description = "A CWL CommandLineTool (`application/cwl`, YAML or JSON; \
            `application/cwl+json`; `application/cwl+yaml`; `w` picks the entry of a `$graph`), \
            an OGC Application Package (`application/ogcapppkg+json`) with a Docker \
            execution unit or a CWL one (by value, or by `href`), a bare Seed manifest \
            (`application/vnd.seed.manifest+json`), \
            `{\"image\": \"registry/repository:tag\"}` (`application/vnd.ades.image+json`), \
            a Scale v6 recipe type (`application/vnd.ades.recipe+json`), deployed as a workflow, \
            or an OGC API - Processes Part 3 deployable workflow (`application/json`, or as the \
            execution unit of an application package): an execute request with a top-level \
            `process` URL and an `id`, `{\"$input\": \"<name>\"}` marking the workflow's inputs \
            and `{\"$output\": \"<name>\"}` selecting its outputs; nested `process` URLs may \
            name processes of the allowed remote servers (`[remotes.<name>]`)."
    ),
    responses(
        (status = 201, description = "Deployed; `Location` is the new process.", body = ProcessSummaryView),
        (status = 400, description = "The package cannot be used: the message says why.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Deploying is disabled, or the id is a built-in process (`immutable-process`).", body = crate::error::ExceptionView),
        (status = 409, description = "A process with this id is deployed (`duplicated-process`).", body = crate::error::ExceptionView),
        (status = 415, description = "Unsupported `Content-Type` (`unsupported-media-type`).", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn deploy_process(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    query: Result<Query<DeployQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Checked before the body is read, as the deployer checks it again.
    caller.require_deployer().map_err(|d| d.to_api_error())?;
    let mut package = read_package(app.settings.json_body_limit(), &headers, query, body)?;
    package.base_url = base.0.clone();
    let process = app
        .deployer
        .deploy(&caller, &package)
        .await
        .map_err(DeployError::into_api_error)?;
    let location = base.join(&format!("/processes/{}", process.id));
    let mut response = (
        StatusCode::CREATED,
        Json(ProcessSummaryView::new(&process, &base)),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Replaces a deployed process (same id) with a new package; its image is pinned again.
#[utoipa::path(
    put,
    path = "/processes/{processID}",
    tag = "Deploy, Replace, Undeploy",
    operation_id = "replace",
    params(("processID" = String, Path, description = "The process id"), DeployQuery),
    request_body(
        content(
            (serde_json::Value = "application/ogcapppkg+json"),
            (serde_json::Value = "application/vnd.seed.manifest+json"),
            (serde_json::Value = "application/vnd.ades.image+json"),
            (serde_json::Value = "application/vnd.ades.recipe+json"),
            (serde_json::Value = "application/json"),
            (String = "application/cwl"),
            (serde_json::Value = "application/cwl+json"),
            (String = "application/cwl+yaml"),
        ),
        description = "As for deploy."
    ),
    responses(
        (status = 200, description = "Replaced.", body = ProcessSummaryView),
        (status = 400, description = "The package cannot be used, or describes another id.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "A built-in process (`immutable-process`), or deploying is disabled.", body = crate::error::ExceptionView),
        (status = 404, description = "No such process (`no-such-process`).", body = crate::error::ExceptionView),
        (status = 415, description = "Unsupported `Content-Type`.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn replace_process(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    Path(process_id): Path<String>,
    query: Result<Query<DeployQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProcessSummaryView>, ApiError> {
    // Checked before the body is read, as the deployer checks it again.
    caller.require_deployer().map_err(|d| d.to_api_error())?;
    let mut package = read_package(app.settings.json_body_limit(), &headers, query, body)?;
    package.base_url = base.0.clone();
    let process = app
        .deployer
        .replace(&caller, &process_id, &package)
        .await
        .map_err(DeployError::into_api_error)?;
    Ok(Json(ProcessSummaryView::new(&process, &base)))
}

/// Undeploys a deployed process: running jobs finish, past jobs and their outputs stay.
#[utoipa::path(
    delete,
    path = "/processes/{processID}",
    tag = "Deploy, Replace, Undeploy",
    operation_id = "undeploy",
    params(("processID" = String, Path, description = "The process id")),
    responses(
        (status = 204, description = "Undeployed."),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "A built-in process (`immutable-process`), or deploying is disabled.", body = crate::error::ExceptionView),
        (status = 404, description = "No such process.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn undeploy_process(
    State(app): State<AppState>,
    caller: Caller,
    Path(process_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.deployer
        .undeploy(&caller, &process_id)
        .await
        .map_err(DeployError::into_api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of `GET /processes/{id}/package`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackageQuery {
    /// `cwl`: the process as a CWL CommandLineTool (a Seed process's equivalent tool, a
    /// CWL process's document), instead of the package it was deployed with.
    f: Option<String>,
}

/// The package a deployed process was deployed (or last replaced) with, as sent; or, with
/// `?f=cwl` (or `Accept: application/cwl+json` / `application/cwl+yaml`), the process as
/// CWL, for built-in processes too.
#[utoipa::path(
    get,
    path = "/processes/{processID}/package",
    tag = "Deploy, Replace, Undeploy",
    operation_id = "getPackage",
    params(("processID" = String, Path, description = "The process id"), PackageQuery),
    responses(
        (status = 200, description = "The package, in the media type it was deployed with; with `f=cwl` the CWL (`application/cwl+json`, or `application/cwl+yaml` when accepted).", content(
            (serde_json::Value = "application/ogcapppkg+json"),
            (serde_json::Value = "application/cwl+json"),
            (String = "application/cwl+yaml"),
            (String = "application/cwl"),
            (serde_json::Value = "application/vnd.seed.manifest+json"),
            (serde_json::Value = "application/vnd.ades.image+json"),
            (serde_json::Value = "application/vnd.ades.recipe+json"),
        )),
        (status = 400, description = "The process has no CWL form (`f=cwl` of a workflow), or an unknown `f`.", body = crate::error::ExceptionView),
        (status = 403, description = "A built-in process has no package (`immutable-process`); ask for `f=cwl`.", body = crate::error::ExceptionView),
        (status = 404, description = "No such process.", body = crate::error::ExceptionView),
    )
)]
pub async fn process_package(
    State(app): State<AppState>,
    Path(process_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<PackageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::query("f", e.body_text()))?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let yaml = accept.contains("application/cwl+yaml");
    let wants_cwl = match query.f.as_deref() {
        Some("cwl") => true,
        Some(other) => {
            return Err(ApiError::query(
                "f",
                format!("f={other} is not a form of the package: leave f out, or ask f=cwl"),
            ))
        }
        None => yaml || accept.contains("application/cwl+json"),
    };
    if wants_cwl {
        return cwl_form(&app, &process_id, yaml).await;
    }
    let (media_type, body) = app
        .deployer
        .package(&process_id)
        .await
        .map_err(DeployError::into_api_error)?;
    let content_type = HeaderValue::from_str(&media_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/json"));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// A process as CWL: a Seed process's equivalent tool, or a CWL process's document.
async fn cwl_form(app: &AppState, process_id: &str, yaml: bool) -> Result<Response, ApiError> {
    let process = crate::domain::ProcessId::parse(process_id)
        .ok()
        .and_then(|id| app.catalog.get(&id))
        .ok_or_else(|| ApiError::no_such_process(process_id))?;
    let document = match &process.binding {
        crate::domain::Binding::Seed(seed) => {
            crate::cwl::from_seed::seed_to_cwl(&seed.manifest, &seed.image).map_err(|why| {
                ApiError::new(
                    ErrorCode::InvalidParameterValue,
                    format!("Process {process_id} has no CWL form: {why}."),
                )
            })?
        }
        crate::domain::Binding::Cwl(cwl) => cwl.document.clone(),
        // A CWL Workflow: the document it was deployed from.
        crate::domain::Binding::Workflow(_) | crate::domain::Binding::Remote(_) => app
            .deployer
            .workflow_cwl(process_id)
            .await
            .map_err(DeployError::into_api_error)?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidParameterValue,
                    format!(
                        "Process {process_id} is a workflow of steps, which has no CWL form \
                         here: leave f out for the package it was deployed with."
                    ),
                )
            })?,
    };
    let (content_type, body) = if yaml {
        (
            "application/cwl+yaml",
            serde_yaml::to_string(&document)
                .unwrap_or_default()
                .into_bytes(),
        )
    } else {
        (
            "application/cwl+json",
            serde_json::to_vec_pretty(&document).unwrap_or_default(),
        )
    };
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response())
}

fn read_package(
    limit: usize,
    headers: &HeaderMap,
    query: Result<Query<DeployQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Package, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::query("image", e.body_text()))?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_string();
    if media_type.is_empty() {
        return Err(DeployError::UnsupportedMediaType(media_type).into_api_error());
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!(
                    "The package is larger than {limit} bytes, the most this server accepts \
                     (limits.max_json_body_bytes)."
                ),
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequestBody, rejection.body_text())
        }
    })?;
    Ok(Package {
        media_type,
        body: body.to_vec(),
        image_param: query.image,
        base_url: String::new(),
        entry_param: query.w,
    })
}
