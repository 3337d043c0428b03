//! The OGC API - Processes - Part 1 1.0 façade (JSON): routes, views, exceptions, OpenAPI.
//!
//! Classes: core, ogc-process-description, json, oas30, job-list, dismiss, callback
//! (ogc-notes §1). Handlers only call [`Catalog`] and [`JobService`]; every body they send
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

mod base_url;
pub(crate) mod deploy;
mod execute;
mod jobs;
mod landing;
mod openapi;
mod processes;
mod results;
pub mod views;

pub use base_url::BaseUrl;
pub use execute::jobs_error;
pub use openapi::{openapi_document, openapi_json};
pub use results::OgcCallbackRenderer;

use crate::catalog::Catalog;
use crate::error::{exception_response, ApiError, ErrorCode, ExceptionView};
use crate::jobs::JobService;
use crate::limits::{ClientLimiter, RequestLimits, XmlReaders};
use crate::workspace::Workspace;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub catalog: Catalog,
    pub jobs: JobService,
    pub workspace: Workspace,
    pub deployer: crate::deploy::Deployer,
    pub settings: Arc<ApiSettings>,
}

/// How the OGC API façade behaves.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Base URL for absolute links (`https://ades.example.org/ogc`); `None` derives it from
    /// the request (`Host`, `X-Forwarded-Proto`, `X-Forwarded-Host`).
    pub public_url: Option<String>,
    /// Title of the landing page.
    pub title: String,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Longest a synchronous execution is waited for before answering with the job (and its
    /// `Location`) instead of the results.
    pub sync_wait_limit: Duration,
    /// Bearer token deploy, replace and undeploy require; `None` refuses them.
    pub admin_token: Option<String>,
    /// What one request may cost (body sizes, XML parsing, requests per client).
    pub limits: RequestLimits,
    /// Proxies whose `X-Forwarded-*` headers are believed (`server.trusted_proxies`).
    pub trusted_proxies: crate::http::proxies::TrustedProxies,
    /// Browser origins allowed to call the server (`server.cors_origins`; checked when the
    /// settings load).
    pub cors_origins: Vec<String>,
    /// Who callers are (off by default: everybody is the local operator).
    pub auth: crate::auth::AuthSettings,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            public_url: None,
            title: "ades".to_string(),
            max_body_bytes: 64 * 1024 * 1024,
            sync_wait_limit: Duration::from_secs(3600),
            admin_token: None,
            limits: RequestLimits::default(),
            trusted_proxies: Default::default(),
            cors_origins: Vec::new(),
            auth: crate::auth::AuthSettings::default(),
        }
    }
}

impl ApiSettings {
    /// The largest JSON body (execute, deploy, replace) read, bytes.
    pub fn json_body_limit(&self) -> usize {
        self.limits.max_json_body_bytes.min(self.max_body_bytes)
    }

    /// The largest WPS POST body read, bytes.
    pub fn xml_body_limit(&self) -> usize {
        self.limits.max_xml_body_bytes.min(self.max_body_bytes)
    }
}

/// The router's state: the public [`ApiState`] plus what the façade builds once.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    api: ApiState,
    clients: Arc<ClientLimiter>,
    xml_readers: XmlReaders,
}

impl std::ops::Deref for AppState {
    type Target = ApiState;
    fn deref(&self) -> &ApiState {
        &self.inner.api
    }
}

impl AppState {
    /// Where WPS XML documents are parsed (off the async runtime, within a time budget).
    pub(crate) fn xml_readers(&self) -> &XmlReaders {
        &self.inner.xml_readers
    }

    /// The per-client count of expensive requests in flight.
    pub(crate) fn clients(&self) -> &Arc<ClientLimiter> {
        &self.inner.clients
    }
}

/// The whole HTTP application.
pub fn router(state: ApiState) -> axum::Router {
    let max_body_bytes = state.settings.max_body_bytes;
    let cors_origins = state.settings.cors_origins.clone();
    let limits = state.settings.limits;
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
    let app = AppState {
        inner: Arc::new(AppInner {
            clients: ClientLimiter::new(limits.client_requests_in_flight),
            xml_readers: XmlReaders::new(limits.xml_parse_budget),
            api: state,
        }),
    };
    let routes = axum::Router::new()
        .route("/", get(landing::landing_page))
        .route("/conformance", get(landing::conformance))
        .route("/api", get(landing::api_definition))
        .route("/health", get(landing::health))
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
            axum::routing::post(execute::execute).layer(json_limit),
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
    let cors = crate::http::cors::layer(&cors_origins).unwrap_or(None);
    let routes = match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.layer(
        ServiceBuilder::new()
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

/// Whether a request is one of the expensive ones [`ClientLimiter`] counts: execute (OGC
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
            let version = crate::wps::request::Kvp::parse(request.uri().query().unwrap_or(""))
                .get("version")
                .and_then(crate::wps::request::WpsVersion::parse)
                .unwrap_or(crate::wps::request::WpsVersion::V2);
            let mut response =
                crate::wps::exception::WpsException::new(version, "ServerBusy", None, text)
                    .with_status(StatusCode::TOO_MANY_REQUESTS)
                    .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
            return response;
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

/// Makes every error response a JSON exception: fills `instance` in ours, and turns the
/// plain ones axum and tower produce (unknown route, wrong method, rejected body) into the
/// same shape.
async fn json_exceptions(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ours = response.extensions().get::<ExceptionView>().is_some();
    let xml = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/xml") || v.starts_with("text/xml"));
    if xml {
        // The WPS façade answers its errors as `ows:ExceptionReport` documents.
        return response;
    }
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json && !ours {
        // A JSON document of its own (`/health` when the database is down).
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut view = match parts.extensions.get::<ExceptionView>() {
        Some(view) => view.clone(),
        None => {
            let text = axum::body::to_bytes(body, 16 * 1024)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            plain_error_view(status, &method, &path, text, allow)
        }
    };
    if view.instance.is_none() {
        view.instance = Some(path);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.remove::<ExceptionView>();
    let fresh = exception_response(status, &view);
    let (fresh_parts, body) = fresh.into_parts();
    for (name, value) in fresh_parts.headers.iter() {
        parts.headers.insert(name.clone(), value.clone());
    }
    parts.extensions.insert(view);
    if method == Method::HEAD {
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

fn plain_error_view(
    status: StatusCode,
    method: &Method,
    path: &str,
    text: String,
    allow: Option<String>,
) -> ExceptionView {
    let code = ErrorCode::for_status(status);
    let detail = match code {
        ErrorCode::NotFound => format!(
            "There is nothing at {path}. GET / links to the resources of this API; \
             GET /api describes every path."
        ),
        ErrorCode::MethodNotAllowed => match allow.filter(|a| !a.is_empty()) {
            Some(allow) => format!("{method} is not allowed on {path}; use {allow}."),
            None => format!("{method} is not allowed on {path}."),
        },
        ErrorCode::PayloadTooLarge => {
            "The request body is larger than this server accepts; send a smaller body \
             (large inputs can be passed by reference with {\"href\": \"...\"})."
                .to_string()
        }
        ErrorCode::Internal => {
            "The server failed to answer this request. The failure was logged.".to_string()
        }
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string(),
    };
    let mut view = ApiError::new(code, detail).view();
    view.status = status.as_u16();
    view
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    let mut response = ApiError::new(
        ErrorCode::Internal,
        "The server failed to answer this request. The failure was logged.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_is_an_opaque_json_500() {
        async fn boom() -> &'static str {
            panic!("the secret is 42")
        }
        let app = axum::Router::new().route("/boom", get(boom)).layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(json_exceptions))
                .layer(CatchPanicLayer::custom(panic_response)),
        );
        let request = Request::builder().uri("/boom").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "urn:ades:error:internal");
        assert_eq!(body["instance"], "/boom");
        assert!(!body.to_string().contains("42"), "{body}");
    }
}
