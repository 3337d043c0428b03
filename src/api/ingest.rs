//! `/strikes`, `/ingests` and `/scans`: data-driven processing (`crate::ingest`) in Scale's
//! v6 JSON. Everybody who may read jobs lists and reads them; creating, changing, starting
//! and stopping strikes and scans, and running scans, need what deploying needs (the admin
//! token, or the admin role with authentication on): they read and write workspaces and
//! start jobs on the server's behalf.

use crate::auth::{Caller, Denied};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::ingest::spec::{trigger_of, MonitorKind};
use crate::ingest::{Ingester, ScanSpec, StrikeSpec};
use crate::jobs::JobsError;
use crate::storage::registry::WorkspacesError;
use crate::storage::BrokerSpec;
use crate::store::{
    Ingest, IngestFilter, IngestStatus, IngestWriteError, SourceKind, StoreError, StoredScan,
    StoredStrike,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn time_text(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map_or(Value::Null, Value::String)
}

fn store_error(err: StoreError) -> ApiError {
    JobsError::Store(err).into_api_error("data-driven processing")
}

fn write_error(err: IngestWriteError) -> ApiError {
    let message = err.to_string();
    match err {
        IngestWriteError::Duplicate(..) => ApiError::new(ErrorCode::DuplicatedProcess, message)
            .with_type("urn:ades:error:duplicated-name")
            .with_title("Name taken"),
        IngestWriteError::NotFound(..) => ApiError::new(ErrorCode::NotFound, message),
        IngestWriteError::Store(err) => store_error(err),
    }
}

fn not_found(what: &str, name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("there is no {what} named {name}; GET /{what}s lists them"),
    )
}

/// Changing strikes and scans needs what deploying needs.
fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    caller.require_deployer().map_err(|denied| {
        let reworded = |text: &str| {
            text.replace(
                "Deploy, replace and undeploy",
                "Creating, changing, starting and stopping strikes and scans",
            )
        };
        match denied {
            Denied::Unauthenticated(text) => Denied::Unauthenticated(reworded(&text)),
            Denied::Forbidden(text) => Denied::Forbidden(reworded(&text)),
        }
        .to_api_error()
    })
}

/// The body as JSON (a strike or scan definition, or the fields to change).
fn read_json(
    limit: usize,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    example: &str,
) -> Result<Value, ApiError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let essence = crate::jobs::request::media_type_essence(content_type);
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "The body is declared as {content_type:?}; send JSON with Content-Type: \
                     application/json."
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
            format!("The body is not a JSON document ({e:?}); send one such as {example}."),
        )
    })
}

const STRIKE_EXAMPLE: &str = "{\"title\": \"Landing\", \"configuration\": {\"workspace\": \
     \"incoming\", \"monitor\": {\"type\": \"dir-watcher\"}, \"files_to_ingest\": \
     [{\"filename_regex\": \".*\"}], \"recipe\": {\"name\": \"my-process\"}}}";
const SCAN_EXAMPLE: &str = "{\"title\": \"Backlog\", \"configuration\": {\"workspace\": \
     \"incoming\", \"files_to_ingest\": [{\"filename_regex\": \".*\"}], \"recipe\": {\"name\": \
     \"my-process\"}}}";

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestBody, message)
}

/// Checks what needs the server: the workspaces exist, the monitor suits the watched
/// workspace, the triggers name processes offered here.
async fn check_against_server(
    app: &AppState,
    workspace: &str,
    monitor: Option<MonitorKind>,
    rules: crate::ingest::spec::RuleSet<'_>,
) -> Result<(), ApiError> {
    let workspaces = app.jobs.workspaces();
    let entry = workspaces.get(workspace).await.map_err(|e| match e {
        WorkspacesError::Store(err) => store_error(err),
        other => bad(format!("configuration.workspace: {other}")),
    })?;
    if let Some(kind) = monitor {
        let fits = matches!(
            (kind, &entry.spec.configuration.broker),
            (MonitorKind::DirWatcher, BrokerSpec::Host { .. })
                | (MonitorKind::S3, BrokerSpec::S3 { .. })
        );
        if !fits {
            return Err(bad(format!(
                "configuration.monitor: the workspace {workspace} is a {} workspace; watch a \
                 host workspace with {{\"type\": \"dir-watcher\"}} and an S3 one with \
                 {{\"type\": \"s3\"}}",
                match entry.spec.configuration.broker {
                    BrokerSpec::Host { .. } => "host",
                    BrokerSpec::S3 { .. } => "S3",
                }
            )));
        }
    }
    for (index, rule) in rules.rules.iter().enumerate() {
        for (field, named) in [
            ("new_workspace", &rule.new_workspace),
            ("output_workspace", &rule.output_workspace),
        ] {
            if let Some(other) = named {
                workspaces.get(other).await.map_err(|e| match e {
                    WorkspacesError::Store(err) => store_error(err),
                    other => bad(format!("files_to_ingest[{index}].{field}: {other}")),
                })?;
            }
        }
        if let Some(trigger) = trigger_of(rule, rules.trigger, rules.recipe) {
            let found = match crate::domain::ProcessId::parse(&trigger.process) {
                Ok(id) => app.catalog.find(&id).await,
                Err(_) => None,
            };
            if found.is_none() {
                return Err(bad(format!(
                    "files_to_ingest[{index}]: the trigger names the process {:?}, which this \
                     server does not offer (GET /processes lists them)",
                    trigger.process
                )));
            }
        }
    }
    Ok(())
}

fn parse_strike(document: Value) -> Result<StrikeSpec, ApiError> {
    let spec: StrikeSpec = serde_json::from_value(document).map_err(|e| {
        bad(format!(
            "The body is not a strike: {e}. Send one such as {STRIKE_EXAMPLE} (README, \
             \"Data-driven processing\")."
        ))
    })?;
    spec.normalise().map_err(bad)
}

fn parse_scan(document: Value) -> Result<ScanSpec, ApiError> {
    let spec: ScanSpec = serde_json::from_value(document).map_err(|e| {
        bad(format!(
            "The body is not a scan: {e}. Send one such as {SCAN_EXAMPLE} (README, \
             \"Data-driven processing\")."
        ))
    })?;
    spec.normalise().map_err(bad)
}

fn self_link(base: &BaseUrl, path: &str) -> Value {
    json!([{"href": base.join(path), "rel": "self", "type": "application/json"}])
}

/// A strike as answered: its definition, whether it runs and which replica watches it.
fn strike_view(strike: &StoredStrike, base: &BaseUrl) -> Value {
    let mut view = match &strike.definition {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let now = OffsetDateTime::now_utc();
    let watched_by = match (&strike.lease_owner, strike.lease_expires) {
        (Some(owner), Some(until)) if until > now => Value::String(owner.clone()),
        _ => Value::Null,
    };
    view.insert("is_active".into(), json!(strike.running));
    view.insert(
        "state".into(),
        json!(if strike.running { "running" } else { "stopped" }),
    );
    view.insert("watched_by".into(), watched_by);
    view.insert("created".into(), time_text(strike.created));
    view.insert("last_modified".into(), time_text(strike.updated));
    let path = format!("/strikes/{}", strike.name);
    view.insert(
        "links".into(),
        json!([
            {"href": base.join(&path), "rel": "self", "type": "application/json"},
            {"href": base.join(&format!("/ingests?strike={}", strike.name)), "rel": "related",
             "type": "application/json", "title": "its ingests"},
        ]),
    );
    Value::Object(view)
}

fn scan_view(scan: &StoredScan, base: &BaseUrl) -> Value {
    let mut view = match &scan.definition {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let files = scan
        .last_run
        .as_ref()
        .and_then(|r| r.get("files"))
        .cloned()
        .unwrap_or(Value::Null);
    view.insert("file_count".into(), files);
    view.insert(
        "last_run".into(),
        scan.last_run.clone().unwrap_or(Value::Null),
    );
    view.insert("created".into(), time_text(scan.created));
    view.insert("last_modified".into(), time_text(scan.updated));
    view.insert(
        "links".into(),
        self_link(base, &format!("/scans/{}", scan.name)),
    );
    Value::Object(view)
}

fn ingest_view(ingest: &Ingest, base: &BaseUrl) -> Value {
    let new = &ingest.new;
    let (strike, scan) = match new.source_kind {
        SourceKind::Strike => (Value::String(new.source_name.clone()), Value::Null),
        SourceKind::Scan => (Value::Null, Value::String(new.source_name.clone())),
    };
    let job = ingest.job_id.as_ref().map_or(
        Value::Null,
        |id| json!({"id": id, "href": base.join(&format!("/jobs/{id}"))}),
    );
    let mut links = vec![json!({
        "href": base.join(&format!("/ingests/{}", new.id)),
        "rel": "self", "type": "application/json",
    })];
    if let Some(id) = &ingest.job_id {
        links.push(json!({
            "href": base.join(&format!("/jobs/{id}")),
            "rel": "related", "type": "application/json", "title": "the job it triggered",
        }));
    }
    json!({
        "id": new.id,
        "file_name": new.file_name,
        "file_size": new.size,
        "sha256": new.sha256,
        "media_type": new.media_type,
        "workspace": new.workspace,
        "file_path": new.path,
        "new_workspace": new.new_workspace,
        "new_file_path": new.new_path,
        "status": new.status.as_str(),
        "message": new.message,
        "data_types": new.data_types,
        "rule": new.rule,
        "strike": strike,
        "scan": scan,
        "job": job,
        "created": time_text(ingest.created),
        "last_modified": time_text(ingest.updated),
        "links": links,
    })
}

fn created(view: Value, location: String) -> Response {
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The strikes, by name (Scale's list shape).
#[utoipa::path(
    get,
    path = "/strikes",
    tag = "Data-driven processing",
    operation_id = "listStrikes",
    responses(
        (status = 200, description = "`{count, next, previous, results}`.", body = serde_json::Value),
        (status = 401, description = "No or a wrong credential (authentication on).", body = crate::error::ExceptionView),
    )
)]
pub async fn list_strikes(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let strikes = app.jobs.store().list_strikes().await.map_err(store_error)?;
    let results: Vec<Value> = strikes.iter().map(|s| strike_view(s, &base)).collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

/// One strike.
#[utoipa::path(
    get,
    path = "/strikes/{name}",
    tag = "Data-driven processing",
    operation_id = "getStrike",
    params(("name" = String, Path, description = "The strike name")),
    responses(
        (status = 200, description = "The strike, its state and the replica watching it.", body = serde_json::Value),
        (status = 404, description = "No such strike.", body = crate::error::ExceptionView),
    )
)]
pub async fn get_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let strike = app
        .jobs
        .store()
        .get_strike(&name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("strike", &name))?;
    Ok(Json(strike_view(&strike, &base)))
}

/// Creates a strike (admin); it starts watching at once, as Scale's do.
#[utoipa::path(
    post,
    path = "/strikes",
    tag = "Data-driven processing",
    operation_id = "createStrike",
    request_body(content = crate::ingest::StrikeSpec, description = "Scale's v6 strike JSON, with our additions (README, \"Data-driven processing\")."),
    responses(
        (status = 201, description = "Created and running; `Location` is the strike.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work: the message says why.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 409, description = "A strike with this name exists.", body = crate::error::ExceptionView),
        (status = 415, description = "Not JSON.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn create_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let document = read_json(
        app.settings.json_body_limit(),
        &headers,
        body,
        STRIKE_EXAMPLE,
    )?;
    let spec = parse_strike(document)?;
    let configuration = &spec.configuration;
    check_against_server(
        &app,
        &configuration.workspace,
        Some(configuration.monitor.kind),
        spec.rules(),
    )
    .await?;
    let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let store = app.jobs.store();
    store
        .insert_strike(&spec.name, &definition, true, OffsetDateTime::now_utc())
        .await
        .map_err(write_error)?;
    tracing::info!(strike = %spec.name, by = %caller.actor(), "strike created");
    let strike = store
        .get_strike(&spec.name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("strike", &spec.name))?;
    Ok(created(
        strike_view(&strike, &base),
        base.join(&format!("/strikes/{}", spec.name)),
    ))
}

/// Replaces a strike's definition (admin); its watcher restarts with it.
#[utoipa::path(
    put,
    path = "/strikes/{name}",
    tag = "Data-driven processing",
    operation_id = "replaceStrike",
    params(("name" = String, Path, description = "The strike name")),
    request_body(content = crate::ingest::StrikeSpec, description = "The whole definition."),
    responses(
        (status = 200, description = "Updated.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such strike.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn replace_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    let mut document = read_json(
        app.settings.json_body_limit(),
        &headers,
        body,
        STRIKE_EXAMPLE,
    )?;
    if let Value::Object(map) = &mut document {
        map.insert("name".into(), Value::String(name.clone()));
    }
    update_strike(&app, &caller, &base, &name, document).await
}

/// Changes some fields of a strike (admin), as Scale's PATCH does: the top-level fields
/// given replace the stored ones (`configuration` whole).
#[utoipa::path(
    patch,
    path = "/strikes/{name}",
    tag = "Data-driven processing",
    operation_id = "updateStrike",
    params(("name" = String, Path, description = "The strike name")),
    request_body(content = serde_json::Value, description = "The fields to change."),
    responses(
        (status = 200, description = "Updated.", body = serde_json::Value),
        (status = 400, description = "The result cannot work.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such strike.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn patch_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    let changes = read_json(
        app.settings.json_body_limit(),
        &headers,
        body,
        STRIKE_EXAMPLE,
    )?;
    let Value::Object(changes) = changes else {
        return Err(bad(
            "Send the fields to change as a JSON object, such as {\"description\": \"...\"}.",
        ));
    };
    let stored = app
        .jobs
        .store()
        .get_strike(&name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("strike", &name))?;
    let mut merged = stored.definition;
    if let Value::Object(map) = &mut merged {
        map.extend(changes);
        map.insert("name".into(), Value::String(name.clone()));
    }
    update_strike(&app, &caller, &base, &name, merged).await
}

async fn update_strike(
    app: &AppState,
    caller: &Caller,
    base: &BaseUrl,
    name: &str,
    document: Value,
) -> Result<Json<Value>, ApiError> {
    let spec = parse_strike(document)?;
    let configuration = &spec.configuration;
    check_against_server(
        app,
        &configuration.workspace,
        Some(configuration.monitor.kind),
        spec.rules(),
    )
    .await?;
    let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let store = app.jobs.store();
    store
        .replace_strike(name, &definition, OffsetDateTime::now_utc())
        .await
        .map_err(write_error)?;
    tracing::info!(strike = %name, by = %caller.actor(), "strike updated");
    let strike = store
        .get_strike(name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("strike", name))?;
    Ok(Json(strike_view(&strike, base)))
}

async fn start_or_stop(
    app: &AppState,
    caller: &Caller,
    base: &BaseUrl,
    name: &str,
    running: bool,
) -> Result<Json<Value>, ApiError> {
    require_admin(caller)?;
    let store = app.jobs.store();
    store
        .set_strike_running(name, running, OffsetDateTime::now_utc())
        .await
        .map_err(|e| match e {
            IngestWriteError::NotFound(..) => not_found("strike", name),
            other => write_error(other),
        })?;
    tracing::info!(strike = %name, running, by = %caller.actor(), "strike started or stopped");
    let strike = store
        .get_strike(name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("strike", name))?;
    Ok(Json(strike_view(&strike, base)))
}

/// Starts a stopped strike (admin): a replica takes its lease within a few seconds.
#[utoipa::path(
    post,
    path = "/strikes/{name}/start",
    tag = "Data-driven processing",
    operation_id = "startStrike",
    params(("name" = String, Path, description = "The strike name")),
    responses(
        (status = 200, description = "Running.", body = serde_json::Value),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such strike.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn start_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    start_or_stop(&app, &caller, &base, &name, true).await
}

/// Stops a strike (admin): its watcher stops at its replica's next lease renewal; files
/// arriving meanwhile are ingested once it starts again.
#[utoipa::path(
    post,
    path = "/strikes/{name}/stop",
    tag = "Data-driven processing",
    operation_id = "stopStrike",
    params(("name" = String, Path, description = "The strike name")),
    responses(
        (status = 200, description = "Stopped.", body = serde_json::Value),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such strike.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn stop_strike(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    start_or_stop(&app, &caller, &base, &name, false).await
}

/// Most ingests one page holds.
const MAX_INGEST_PAGE: u32 = 1000;
const DEFAULT_INGEST_PAGE: u32 = 100;

fn query_error(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQueryParameterValue, message)
}

fn parse_filter(query: Option<&str>) -> Result<IngestFilter, ApiError> {
    let mut filter = IngestFilter {
        limit: DEFAULT_INGEST_PAGE,
        ..IngestFilter::default()
    };
    let time = |key: &str, value: &str| {
        OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
            query_error(format!(
                "{key}={value:?} is not an RFC 3339 time, such as 2026-01-31T12:00:00Z"
            ))
        })
    };
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "status" => {
                for one in value.split(',').filter(|s| !s.is_empty()) {
                    let status = IngestStatus::parse(one).ok_or_else(|| {
                        query_error(format!(
                            "status={one:?} is not an ingest status; use transferring, \
                             transferred, ingested, deferred, duplicate or errored"
                        ))
                    })?;
                    filter.statuses.push(status);
                }
            }
            "strike" | "strike_id" | "strike_name" => {
                filter.source_kind = Some(SourceKind::Strike);
                filter.source_name = Some(value.into_owned());
            }
            "scan" | "scan_id" | "scan_name" => {
                filter.source_kind = Some(SourceKind::Scan);
                filter.source_name = Some(value.into_owned());
            }
            "started" => filter.created_from = Some(time("started", &value)?),
            "ended" => filter.created_to = Some(time("ended", &value)?),
            "limit" | "page_size" => {
                let limit: u32 = value.parse().ok().filter(|l| *l >= 1).ok_or_else(|| {
                    query_error(format!("limit={value:?} must be a whole number from 1"))
                })?;
                filter.limit = limit.min(MAX_INGEST_PAGE);
            }
            "offset" => {
                filter.offset = value.parse().map_err(|_| {
                    query_error(format!("offset={value:?} must be a whole number from 0"))
                })?;
            }
            _ => {}
        }
    }
    Ok(filter)
}

/// The ingests, newest first, filtered like `/jobs`.
#[utoipa::path(
    get,
    path = "/ingests",
    tag = "Data-driven processing",
    operation_id = "listIngests",
    params(
        ("status" = Option<String>, Query, description = "Only these statuses (repeat, or separate with commas)."),
        ("strike" = Option<String>, Query, description = "Only the ingests of this strike."),
        ("scan" = Option<String>, Query, description = "Only the ingests of this scan."),
        ("started" = Option<String>, Query, description = "Recorded at or after this time (RFC 3339)."),
        ("ended" = Option<String>, Query, description = "Recorded at or before this time (RFC 3339)."),
        ("limit" = Option<u32>, Query, description = "Page size (default 100, at most 1000)."),
        ("offset" = Option<u32>, Query, description = "Ingests to skip."),
    ),
    responses(
        (status = 200, description = "`{count, next, previous, results, links}`; `next` and `previous` are links to the neighbouring pages.", body = serde_json::Value),
        (status = 400, description = "A filter does not read.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong credential (authentication on).", body = crate::error::ExceptionView),
    )
)]
pub async fn list_ingests(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let filter = parse_filter(query.as_deref())?;
    let page = app
        .jobs
        .store()
        .list_ingests(&filter)
        .await
        .map_err(store_error)?;
    let results: Vec<Value> = page.ingests.iter().map(|i| ingest_view(i, &base)).collect();
    let page_link = |offset: u32| {
        let kept: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                .filter(|(k, _)| k != "offset" && k != "limit")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        serializer.extend_pairs(kept);
        serializer.append_pair("limit", &filter.limit.to_string());
        serializer.append_pair("offset", &offset.to_string());
        base.join(&format!("/ingests?{}", serializer.finish()))
    };
    let next = page
        .has_more
        .then(|| page_link(filter.offset + filter.limit));
    let previous =
        (filter.offset > 0).then(|| page_link(filter.offset.saturating_sub(filter.limit)));
    let mut links =
        vec![json!({"href": base.join("/ingests"), "rel": "self", "type": "application/json"})];
    if let Some(next) = &next {
        links.push(json!({"href": next, "rel": "next", "type": "application/json"}));
    }
    if let Some(previous) = &previous {
        links.push(json!({"href": previous, "rel": "prev", "type": "application/json"}));
    }
    Ok(Json(json!({
        "count": results.len(),
        "next": next,
        "previous": previous,
        "results": results,
        "links": links,
    })))
}

/// One ingest.
#[utoipa::path(
    get,
    path = "/ingests/{id}",
    tag = "Data-driven processing",
    operation_id = "getIngest",
    params(("id" = String, Path, description = "The ingest id")),
    responses(
        (status = 200, description = "The ingest and the job it triggered.", body = serde_json::Value),
        (status = 404, description = "No such ingest.", body = crate::error::ExceptionView),
    )
)]
pub async fn get_ingest(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let ingest = app
        .jobs
        .store()
        .get_ingest(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("there is no ingest {id}")))?;
    Ok(Json(ingest_view(&ingest, &base)))
}

/// The scans, by name.
#[utoipa::path(
    get,
    path = "/scans",
    tag = "Data-driven processing",
    operation_id = "listScans",
    responses(
        (status = 200, description = "`{count, next, previous, results}`.", body = serde_json::Value),
        (status = 401, description = "No or a wrong credential (authentication on).", body = crate::error::ExceptionView),
    )
)]
pub async fn list_scans(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let scans = app.jobs.store().list_scans().await.map_err(store_error)?;
    let results: Vec<Value> = scans.iter().map(|s| scan_view(s, &base)).collect();
    Ok(Json(
        json!({"count": results.len(), "next": null, "previous": null, "results": results}),
    ))
}

/// One scan, with what its last run did.
#[utoipa::path(
    get,
    path = "/scans/{name}",
    tag = "Data-driven processing",
    operation_id = "getScan",
    params(("name" = String, Path, description = "The scan name")),
    responses(
        (status = 200, description = "The scan and its last run.", body = serde_json::Value),
        (status = 404, description = "No such scan.", body = crate::error::ExceptionView),
    )
)]
pub async fn get_scan(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require_jobs().map_err(|d| d.to_api_error())?;
    let scan = app
        .jobs
        .store()
        .get_scan(&name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("scan", &name))?;
    Ok(Json(scan_view(&scan, &base)))
}

/// Creates a scan (admin); `POST /scans/{name}/process` runs it.
#[utoipa::path(
    post,
    path = "/scans",
    tag = "Data-driven processing",
    operation_id = "createScan",
    request_body(content = crate::ingest::ScanSpec, description = "Scale's v6 scan JSON, with our additions."),
    responses(
        (status = 201, description = "Created; `Location` is the scan.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work: the message says why.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 409, description = "A scan with this name exists.", body = crate::error::ExceptionView),
        (status = 415, description = "Not JSON.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn create_scan(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let document = read_json(app.settings.json_body_limit(), &headers, body, SCAN_EXAMPLE)?;
    let spec = parse_scan(document)?;
    check_against_server(&app, &spec.configuration.workspace, None, spec.rules()).await?;
    let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let store = app.jobs.store();
    store
        .insert_scan(&spec.name, &definition, OffsetDateTime::now_utc())
        .await
        .map_err(write_error)?;
    tracing::info!(scan = %spec.name, by = %caller.actor(), "scan created");
    let scan = store
        .get_scan(&spec.name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("scan", &spec.name))?;
    Ok(created(
        scan_view(&scan, &base),
        base.join(&format!("/scans/{}", spec.name)),
    ))
}

/// Replaces a scan's definition (admin).
#[utoipa::path(
    put,
    path = "/scans/{name}",
    tag = "Data-driven processing",
    operation_id = "replaceScan",
    params(("name" = String, Path, description = "The scan name")),
    request_body(content = crate::ingest::ScanSpec, description = "The whole definition."),
    responses(
        (status = 200, description = "Updated.", body = serde_json::Value),
        (status = 400, description = "The definition cannot work.", body = crate::error::ExceptionView),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such scan.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn replace_scan(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&caller)?;
    let mut document = read_json(app.settings.json_body_limit(), &headers, body, SCAN_EXAMPLE)?;
    if let Value::Object(map) = &mut document {
        map.insert("name".into(), Value::String(name.clone()));
    }
    let spec = parse_scan(document)?;
    check_against_server(&app, &spec.configuration.workspace, None, spec.rules()).await?;
    let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
    let store = app.jobs.store();
    store
        .replace_scan(&name, &definition, OffsetDateTime::now_utc())
        .await
        .map_err(write_error)?;
    let scan = store
        .get_scan(&name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("scan", &name))?;
    Ok(Json(scan_view(&scan, &base)))
}

/// Runs a scan (admin), as Scale's `POST /scans/{id}/process/`: `{"ingest": false}` (the
/// default) is a dry run answered at once with what each file would become; `{"ingest":
/// true}` ingests and triggers, in the background (the scan's `last_run` tells the outcome).
#[utoipa::path(
    post,
    path = "/scans/{name}/process",
    tag = "Data-driven processing",
    operation_id = "processScan",
    params(("name" = String, Path, description = "The scan name")),
    request_body(content = serde_json::Value, description = "`{\"ingest\": true}` to ingest; anything else is a dry run."),
    responses(
        (status = 200, description = "Dry run: the scan with `last_run.plans`.", body = serde_json::Value),
        (status = 202, description = "Ingesting in the background; the scan as it is.", body = serde_json::Value),
        (status = 401, description = "No or a wrong bearer token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not an admin.", body = crate::error::ExceptionView),
        (status = 404, description = "No such scan.", body = crate::error::ExceptionView),
        (status = 503, description = "The workspace's store cannot be read now.", body = crate::error::ExceptionView),
    ),
    security(("admin_token" = []))
)]
pub async fn process_scan(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_admin(&caller)?;
    let ingest = match body {
        Ok(bytes) if bytes.is_empty() => false,
        other => read_json(
            app.settings.json_body_limit(),
            &headers,
            other,
            "{\"ingest\": true}",
        )?
        .get("ingest")
        .and_then(Value::as_bool)
        .unwrap_or(false),
    };
    let store = app.jobs.store().clone();
    let stored = store
        .get_scan(&name)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("scan", &name))?;
    let spec: ScanSpec = serde_json::from_value(stored.definition.clone())
        .map_err(|e| ApiError::internal("reading a stored scan", &e))?;
    let ingester = Ingester::new(app.jobs.clone(), app.catalog.clone());
    if !ingest {
        let run = crate::ingest::scan::run(&ingester, &spec, true)
            .await
            .map_err(|e| match e {
                WorkspacesError::Store(err) => store_error(err),
                WorkspacesError::Invalid(crate::storage::StorageError::Backend(why)) => {
                    ApiError::new(ErrorCode::StorageUnavailable, why)
                }
                other => bad(other.to_string()),
            })?;
        let run = serde_json::to_value(&run).unwrap_or(Value::Null);
        store
            .record_scan_run(&name, &run, OffsetDateTime::now_utc())
            .await
            .map_err(write_error)?;
        let scan = store
            .get_scan(&name)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found("scan", &name))?;
        return Ok(Json(scan_view(&scan, &base)).into_response());
    }
    tracing::info!(scan = %name, by = %caller.actor(), "scan started");
    let background_name = name.clone();
    tokio::spawn(async move {
        let run = match crate::ingest::scan::run(&ingester, &spec, false).await {
            Ok(run) => serde_json::to_value(&run).unwrap_or(Value::Null),
            Err(err) => json!({"dry_run": false, "error": err.to_string()}),
        };
        if let Err(err) = store
            .record_scan_run(&background_name, &run, OffsetDateTime::now_utc())
            .await
        {
            tracing::warn!(scan = %background_name, error = %err, "could not record a scan's run");
        }
        tracing::info!(scan = %background_name, "scan finished");
    });
    Ok((StatusCode::ACCEPTED, Json(scan_view(&stored, &base))).into_response())
}
