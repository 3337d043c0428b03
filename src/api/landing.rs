//! `/`, `/conformance`, `/api`, `/health` and `/metrics`.

use super::views::{
    media, rel, ConfClassesView, DatabaseHealthView, EngineHealthView, HealthView, LandingPageView,
    LinkView, SkippedImageView, WorkerHealthView, CONFORMANCE_CLASSES,
};
use crate::http::{AppState, BaseUrl};
use crate::store::JobFilter;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

/// The landing page.
#[utoipa::path(
    get,
    path = "/",
    tag = "Capabilities",
    operation_id = "getLandingPage",
    responses(
        (status = 200, description = "Links to the API definition, the conformance \
            declaration, the processes and the jobs.", body = LandingPageView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn landing_page(State(app): State<AppState>, base: BaseUrl) -> Json<LandingPageView> {
    Json(LandingPageView {
        title: app.settings.title.clone(),
        description: "OGC API - Processes server running NGA Seed images as processes".to_string(),
        links: vec![
            LinkView::new(base.join("/"), "self")
                .typed(media::JSON)
                .titled("This document"),
            LinkView::new(base.join("/api"), "service-desc")
                .typed(media::OPENAPI_JSON)
                .titled("The API definition (OpenAPI 3.0)"),
            LinkView::new(base.join("/api?f=html"), "service-doc")
                .typed(media::HTML)
                .titled("The API documentation"),
            LinkView::new(base.join("/conformance"), rel::CONFORMANCE)
                .typed(media::JSON)
                .titled("Conformance classes implemented"),
            LinkView::new(base.join("/processes"), rel::PROCESSES)
                .typed(media::JSON)
                .titled("The processes offered"),
            LinkView::new(base.join("/jobs"), rel::JOB_LIST)
                .typed(media::JSON)
                .titled("The jobs"),
        ],
    })
}

/// The conformance declaration.
#[utoipa::path(
    get,
    path = "/conformance",
    tag = "ConformanceDeclaration",
    operation_id = "getConformanceClasses",
    responses(
        (status = 200, description = "The conformance classes implemented.",
            body = ConfClassesView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn conformance() -> Json<ConfClassesView> {
    Json(ConfClassesView {
        conforms_to: CONFORMANCE_CLASSES.iter().map(|c| c.to_string()).collect(),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (default) or `html`.
    f: Option<String>,
}

/// The API definition: this OpenAPI 3.0 document (or, with `f=html` or `Accept: text/html`,
/// a page listing the operations).
#[utoipa::path(
    get,
    path = "/api",
    tag = "Capabilities",
    operation_id = "getAPI",
    params(FormatQuery),
    responses(
        (status = 200, description = "The API definition.", content(
            (Object = "application/vnd.oai.openapi+json;version=3.0"),
            (String = "text/html"),
        )),
        (status = 400, description = "Unknown `f`.", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn api_definition(
    query: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, crate::error::ApiError> {
    let f = query.ok().and_then(|Query(q)| q.f);
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let html = super::html::requested_format(f.as_deref(), accept)? == super::html::Format::Html;
    if html {
        let page = super::openapi::html_page(&super::openapi::openapi_document());
        return Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page,
        )
            .into_response());
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(media::OPENAPI_JSON),
        )],
        super::openapi::openapi_json(),
    )
        .into_response())
}

/// Health: whether the database answers and the engine is reachable.
#[utoipa::path(
    get,
    path = "/health",
    tag = "Capabilities",
    operation_id = "getHealth",
    responses(
        (status = 200, description = "The database answers (the engine may still be \
            unreachable: see `engine`).", body = HealthView),
        (status = 503, description = "The database does not answer.", body = HealthView),
    )
)]
pub async fn health(State(app): State<AppState>) -> Response {
    let probe = JobFilter {
        limit: 1,
        ..Default::default()
    };
    let database_ok = match app.jobs.list(&crate::auth::Caller::system(), &probe).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, "health: the database does not answer");
            false
        }
    };
    let (queued_jobs, workers) = if database_ok {
        let queued = app.jobs.store().count_queued().await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "health: cannot count queued jobs");
            0
        });
        let hosts = app.jobs.store().worker_hosts().await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "health: cannot list worker pools");
            Vec::new()
        });
        (queued, hosts)
    } else {
        (0, Vec::new())
    };
    let now = time::OffsetDateTime::now_utc();
    let workers = workers
        .into_iter()
        .map(|host| WorkerHealthView::of(host, now))
        .collect();
    let engine = EngineHealthView::of(app.catalog.engine_state());
    let view = HealthView {
        status: if database_ok { "ok" } else { "unavailable" }.to_string(),
        database: DatabaseHealthView { ok: database_ok },
        engine,
        processes: app.catalog.list().len(),
        skipped_images: app
            .catalog
            .skipped()
            .into_iter()
            .map(|s| SkippedImageView {
                image: s.image,
                reason: s.reason,
            })
            .collect(),
        queued_jobs,
        workers,
    };
    let status = if database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(view),
    )
        .into_response()
}

/// Metrics for Prometheus (`crate::metrics`): requests, jobs, queue depth.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Capabilities",
    operation_id = "getMetrics",
    responses(
        (status = 200, description = "This server's metrics in the OpenMetrics text format, \
            which Prometheus scrapes: HTTP requests by route template, method and status \
            and their latency, jobs submitted and finished by process (and final status), \
            queued and run durations, queue depth, jobs running in this process and jobs \
            waiting for resources, container start latency, image pulls and the database \
            pools' connections.",
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8",
            body = String),
        (status = 404, description = "Metrics are off (`metrics.enabled = false`).",
            body = crate::error::ExceptionView),
    )
)]
pub async fn metrics(State(app): State<AppState>) -> Response {
    if !app.settings.metrics_enabled {
        return crate::error::ApiError::new(
            crate::error::ErrorCode::NotFound,
            "Metrics are off on this server; the operator turns them on with \
             metrics.enabled = true (ADES__METRICS__ENABLED=true).",
        )
        .into_response();
    }
    // A store that does not answer leaves the depth at 0 rather than failing the scrape:
    // the counters still tell, and /health says what is wrong.
    let queued = app.jobs.store().count_queued().await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "metrics: cannot count queued jobs");
        0
    });
    let text = app.jobs.metrics().render(&crate::metrics::Readings {
        queue_depth: queued,
        running: app.jobs.running_here(),
        pools: app.jobs.store().pool_use(),
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}
