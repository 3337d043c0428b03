//! The OGC API - Processes - Part 1 1.0 façade (JSON, and HTML pages of the same documents):
//! routes, views, exceptions, OpenAPI.
//!
//! Classes: core, ogc-process-description, json, html (`html/`), oas30, job-list, dismiss, callback
//! (ogc-notes §1). Handlers only call [`crate::catalog::Catalog`] and
//! [`crate::jobs::JobService`]; every body they send
//! is a `*View` (views.rs) and every error an [`ApiError`] from the one table in
//! `crate::error`. Choices a client can see, documented in the OpenAPI document too:
//!
//! - Exceptions are `application/json` (not `application/problem+json`, ogc-notes §1.2),
//!   also for unknown routes (404), wrong methods (405), oversized bodies (413), wrong
//!   content types (415) and panics (500).
//! - A process offering both modes runs synchronously unless `Prefer: respond-async`; a
//!   synchronous run is an ordinary job waited for at most `Prefer: wait=N` seconds (capped
//!   by `sync_wait_limit`), answered like an asynchronous one (201 + `Location`) when it
//!   is not over in time. Synchronous answers carry no `Link: rel=monitor` header
//!   (ogc-notes §4.3).
//! - The results of a dismissed job are gone: 404 `no-such-job`.
//! - Links are absolute: `public_url` when configured, else built from `Host` /
//!   `X-Forwarded-Proto` / `X-Forwarded-Host`.

mod deploy;
mod events;
mod execute;
pub mod html;
mod ingest;
mod jobs;
mod landing;
mod openapi;
mod operator;
mod polling;
mod processes;
mod prov;
mod results;
pub mod views;
mod workspaces;

pub use openapi::{openapi_document, openapi_json};
pub use results::OgcCallbackRenderer;

use crate::http::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

/// The OGC API routes, on the state every façade shares; JSON bodies are capped by
/// `json_limit`. `crate::http::router` merges them with the WPS routes and adds the layers
/// every façade shares.
pub(crate) fn routes(json_limit: DefaultBodyLimit) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(landing::landing_page))
        .route("/conformance", get(landing::conformance))
        .route("/api", get(landing::api_definition))
        .route("/health", get(landing::health))
        .route("/metrics", get(landing::metrics))
        .route(
            "/processes",
            get(processes::list_processes)
                .post(deploy::deploy_process)
                .layer(json_limit),
        )
        .route(
            "/processes/{process_id}",
            get(processes::describe_process)
                .put(deploy::replace_process)
                .delete(deploy::undeploy_process)
                .layer(json_limit),
        )
        .route(
            "/processes/{process_id}/package",
            get(deploy::process_package),
        )
        .route(
            "/processes/{process_id}/execution",
            axum::routing::post(execute::post_execution).layer(json_limit),
        )
        .route("/jobs", get(jobs::list_jobs))
        .route(
            "/jobs/{job_id}",
            get(jobs::job_status).delete(jobs::dismiss_job),
        )
        .route("/jobs/{job_id}/results", get(results::job_results))
        .route(
            "/jobs/{job_id}/results/{output_id}",
            get(results::job_output),
        )
        .route("/jobs/{job_id}/outputs/{*path}", get(results::output_file))
        .route("/jobs/{job_id}/logs", get(jobs::job_log))
        .route("/jobs/{job_id}/callbacks", get(jobs::job_callbacks))
        .route("/admin", get(operator::operator_overview))
        .route(
            "/admin/deploy",
            axum::routing::post(operator::deploy_form).layer(json_limit),
        )
        .route(
            "/admin/undeploy",
            axum::routing::post(operator::undeploy_form),
        )
        .route(
            "/sign-in",
            get(operator::sign_in_page).post(operator::sign_in),
        )
        .route("/sign-out", axum::routing::post(operator::sign_out))
        .route("/jobs/{job_id}/prov", get(prov::job_provenance))
        .route(
            "/workspaces",
            get(workspaces::list_workspaces)
                .post(workspaces::create_workspace)
                .layer(json_limit),
        )
        .route(
            "/workspaces/{name}",
            get(workspaces::get_workspace)
                .put(workspaces::replace_workspace)
                .patch(workspaces::patch_workspace)
                .delete(workspaces::delete_workspace)
                .layer(json_limit),
        )
        .route(
            "/workspaces/{name}/files/{*path}",
            get(workspaces::workspace_file),
        )
        .route(
            "/strikes",
            get(ingest::list_strikes)
                .post(ingest::create_strike)
                .layer(json_limit),
        )
        .route(
            "/strikes/{name}",
            get(ingest::get_strike)
                .put(ingest::replace_strike)
                .patch(ingest::patch_strike)
                .layer(json_limit),
        )
        .route(
            "/strikes/{name}/start",
            axum::routing::post(ingest::start_strike),
        )
        .route(
            "/strikes/{name}/stop",
            axum::routing::post(ingest::stop_strike),
        )
        .route("/ingests", get(ingest::list_ingests))
        .route("/ingests/{id}", get(ingest::get_ingest))
        .route(
            "/scans",
            get(ingest::list_scans)
                .post(ingest::create_scan)
                .layer(json_limit),
        )
        .route(
            "/scans/{name}",
            get(ingest::get_scan)
                .put(ingest::replace_scan)
                .layer(json_limit),
        )
        .route(
            "/scans/{name}/process",
            axum::routing::post(ingest::process_scan).layer(json_limit),
        )
        // After routing, so the page knows its route (`/api` negotiates by itself).
        .route_layer(axum::middleware::from_fn(html::negotiate))
}
