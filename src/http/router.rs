//! The whole HTTP application, assembled: the routes of every façade (`crate::api`, the
//! OGC API; `crate::wps`, WPS 2.0 and 1.0.0) merged on the one [`AppState`], under the
//! layers they share: request id, trace, CORS, body limits, the panic catcher, the JSON
//! error shape ([`super::errors`]), caller resolution (`crate::auth`) and the per-client
//! limit on expensive requests. This is the one module of `http` that knows the façades;
//! they know only `http`, never each other.

use super::errors::{json_exceptions, panic_response};
use super::{AppState, HttpState};
use crate::error::{ApiError, ErrorCode};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The whole HTTP application.
pub fn router(state: HttpState) -> axum::Router {
    let max_body_bytes = state.settings.max_body_bytes;
    let cors_origins = state.settings.cors_origins.clone();
    // Each kind of body has its own cap, never above the general one.
    let json_limit = DefaultBodyLimit::max(state.settings.json_body_limit());
    let xml_limit = DefaultBodyLimit::max(state.settings.xml_body_limit());
    let callers = crate::auth::CallerLayerState {
        authenticator: crate::auth::Authenticator::new(
            state.settings.auth.clone(),
            state.settings.admin_token.clone(),
            state.jobs.store().clone(),
        ),
        render: refuse,
    };
    let metrics = state.jobs.metrics().clone();
    let app = AppState::new(state);
    let routes = crate::api::routes(json_limit)
        .merge(crate::wps::routes(xml_limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limit_expensive_requests,
        ))
        .layer(axum::middleware::from_fn_with_state(
            callers,
            crate::auth::resolve_caller,
        ))
        .with_state(app);

    // The origins were checked when the settings loaded; an invalid list allows none.
    let cors = super::cors::layer(&cors_origins).unwrap_or(None);
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(metrics, count_request))
            .layer(axum::middleware::from_fn(close_after_refused_body))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                }),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(axum::middleware::from_fn(json_exceptions))
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(DefaultBodyLimit::max(max_body_bytes)),
    )
}

/// Counts the request under its route template (`/jobs/{job_id}`, never the raw path, so
/// label values stay few) and the time to its answer's headers; outermost, so what it
/// counts is the status the client got.
async fn count_request(
    State(metrics): State<crate::metrics::Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.http_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Closes the connection after a 413: the refused body was not read to its end, so what
/// follows on the connection is the rest of it, not a next request. Saying so lets a client
/// open a fresh connection for its next request instead of failing on the closed one.
async fn close_after_refused_body(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Whether a request is one of the expensive ones [`crate::limits::ClientLimiter`] counts: execute (OGC
/// API, WPS POST, WPS 1.0.0 KVP Execute), deploy and replace.
fn is_expensive(method: &Method, path: &str, query: Option<&str>) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["processes"]) | (&Method::PUT, ["processes", _]) => true,
        (&Method::POST, ["processes", _, "execution"]) => true,
        (&Method::POST, ["wps"]) => true,
        (&Method::GET, ["wps"]) => {
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(name, value)| {
                name.trim().eq_ignore_ascii_case("request")
                    && value.trim().eq_ignore_ascii_case("execute")
            })
        }
        _ => false,
    }
}

/// Answers 429 to a client that already has `limits.client_requests_in_flight` expensive
/// requests in flight, before its body is read; otherwise holds a slot until the answer.
async fn limit_expensive_requests(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // Behind a trusted proxy the client is the address it forwards, not the proxy.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| {
            app.settings
                .trusted_proxies
                .client_address(info.0.ip(), request.headers())
        });
    let (Some(client), true) = (
        client,
        is_expensive(
            request.method(),
            request.uri().path(),
            request.uri().query(),
        ),
    ) else {
        return next.run(request).await;
    };
    let Some(slot) = app.clients().try_acquire(client) else {
        let max = app.clients().max();
        let text = format!(
            "This client already has {max} expensive requests (execute, deploy, WPS POST) in \
             flight, the most one client address may have at once \
             (limits.client_requests_in_flight); wait for one to finish, or run jobs \
             asynchronously and poll them."
        );
        let retry_after = HeaderValue::from(crate::limits::CLIENT_BUSY_RETRY_AFTER);
        if request.uri().path().trim_matches('/') == "wps" {
            return crate::wps::client_busy(&request, text, retry_after);
        }
        return ApiError::new(ErrorCode::TooManyRequests, text)
            .with_header(header::RETRY_AFTER, retry_after)
            .into_response();
    };
    let response = next.run(request).await;
    drop(slot);
    response
}

/// A refusal of the caller (401, 403, 503) as the façade asked answers it: an
/// `ows:ExceptionReport` under `/wps`, else JSON.
fn refuse(request: &Request, error: &ApiError) -> Response {
    let path = request.uri().path();
    if path == "/wps" || path.starts_with("/wps/") {
        return crate::wps::refusal(request, error);
    }
    crate::auth::json_refusal(request, error)
}
