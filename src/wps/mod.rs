//! The WPS façade: WPS 2.0 (OGC 14-065) and WPS 1.0.0 (OGC 05-007r7) at one endpoint,
//! `/wps`, with the KVP (GET) and XML (POST) bindings, over the same catalogue and job
//! service as the OGC API (a job started here is a job at `/jobs/{id}` and vice versa).
//!
//! `request.rs` reads a request (KVP parameters, case-insensitive names; or a POST XML
//! document, parsed safely by `xml.rs`) and tells which version and operation it is;
//! `v2/` and `v1/` answer; `exception.rs` writes `ows:ExceptionReport`s with the codes of
//! the error table (`crate::error`).
//!
//! WPS-T (`v2/transactional.rs`): `wps:DeployProcess` and `wps:UndeployProcess`, in the
//! Testbed-13 shape, deploy and undeploy processes through the same `deploy::Deployer` and
//! the same check as OGC API - Processes Part 2 (the admin token, or the admin role).
//!
//! Who is calling is `crate::auth`'s [`Caller`], resolved once per request and passed to
//! every operation; the job service checks job ownership for both versions.

pub mod exception;
pub mod request;
pub mod v1;
pub mod v2;
pub mod writer;
pub mod xml;

use crate::auth::Caller;
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use crate::limits::ReaderError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use exception::WpsException;
use request::{WpsRequest, WpsVersion};

/// The one output of a process whose manifest declares none, in both versions: its job log
/// (`/jobs/{jobId}/logs`). WPS 2.0 and 1.0.0 both require at least one output in a process
/// description (`wps:Output` / `ProcessOutputs/Output` have no `minOccurs="0"`), and a
/// WPS 2.0 `wps:Result` at least one `wps:Output`.
pub(crate) const LOG_OUTPUT: &str = "JOB_LOG";
/// The title of [`LOG_OUTPUT`], in descriptions and responses alike.
pub(crate) const LOG_TITLE: &str = "Job log";
/// The abstract of [`LOG_OUTPUT`], in descriptions and responses alike.
pub(crate) const LOG_ABSTRACT: &str = "This process declares no outputs: this is its job log \
    (the container's stdout and stderr), given by reference, or as itself when asked raw.";
/// The media type of [`LOG_OUTPUT`].
pub(crate) const LOG_MEDIA_TYPE: &str = "text/plain";

/// Whether `process` is answered with [`LOG_OUTPUT`] as its one output.
pub(crate) fn offers_log_only(process: &crate::domain::Process) -> bool {
    process.outputs.is_empty()
}

/// The job log as the answer to a raw request of [`LOG_OUTPUT`]: `text/plain`, streamed.
pub(crate) async fn log_response(
    app: &AppState,
    job: &crate::domain::Job,
) -> std::io::Result<Response> {
    use axum::http::{header, StatusCode};
    let file = tokio::fs::File::open(app.workspace.log_file(&job.id)).await?;
    let len = file.metadata().await?.len();
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            format!("{LOG_MEDIA_TYPE}; charset=utf-8"),
        )
        .header(header::CONTENT_LENGTH, len)
        .body(axum::body::Body::from_stream(
            tokio_util::io::ReaderStream::new(tokio::io::AsyncReadExt::take(file, len)),
        ))
        .map_err(std::io::Error::other)
}

/// The `/wps` routes (GET: KVP; POST: XML, its body capped by `body_limit`).
pub(crate) fn routes(body_limit: DefaultBodyLimit) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/wps", get(wps_get).post(wps_post).layer(body_limit))
        .route("/wps/status/{job_id}", get(v1::status_location))
}

async fn wps_get(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    RawQuery(query): RawQuery,
) -> Response {
    match WpsRequest::from_kvp(query.as_deref().unwrap_or("")) {
        Ok(request) => dispatch(app, base, &caller, request).await,
        Err(error) => error.into_response(),
    }
}

async fn wps_post(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let limits = app.settings.limits;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return WpsException::new(
                WpsVersion::V2,
                OwsCode::SizeExceeded,
                None,
                format!(
                    "The request body is larger than {} bytes, the most this server reads for \
                     a WPS request (limits.max_xml_body_bytes); pass large inputs by reference.",
                    app.settings.xml_body_limit()
                ),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response()
        }
        Err(rejection) => {
            return WpsException::new(
                WpsVersion::V2,
                OwsCode::OperationParsingFailed,
                None,
                format!(
                    "The request body could not be read: {}",
                    rejection.body_text()
                ),
            )
            .into_response()
        }
    };
    let xml_limits = xml::Limits {
        max_bytes: app.settings.xml_body_limit(),
        time_budget: Some(limits.xml_parse_budget),
        ..request::XML_LIMITS
    };
    // Parsing is CPU work: it runs on the blocking pool, so a slow document holds no
    // async worker (and with it `/health` and every other request).
    let parse_headers = headers.clone();
    let parsed = app
        .xml_readers()
        .parse(move || WpsRequest::from_xml_with(&parse_headers, &body, &xml_limits))
        .await;
    match parsed {
        Ok(Ok(request)) => dispatch(app, base, &caller, request).await,
        Ok(Err(error)) => error.into_response(),
        Err(ReaderError::Busy(budget)) => {
            let mut response = WpsException::new(
                WpsVersion::V2,
                OwsCode::ServerBusy,
                None,
                ReaderError::Busy(budget).to_string(),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
        Err(ReaderError::Failed) => {
            tracing::error!("a WPS XML parse panicked");
            WpsException::server(
                WpsVersion::V2,
                "The server failed to read this request. The failure was logged.",
            )
            .into_response()
        }
    }
}

/// A refusal of the caller (401, 403, 503) as an `ows:ExceptionReport` of the version the
/// request names (`/wps/status/...`: WPS 1.0.0; a POST without `version` in its query:
/// WPS 2.0), keeping the error table's HTTP status.
pub(crate) fn refusal(
    request: &axum::extract::Request,
    error: &crate::error::ApiError,
) -> Response {
    let version = if request.uri().path().starts_with("/wps/status/") {
        WpsVersion::V1
    } else {
        request::Kvp::parse(request.uri().query().unwrap_or(""))
            .get("version")
            .and_then(WpsVersion::parse)
            .unwrap_or(WpsVersion::V2)
    };
    let mut exception = WpsException::from_api(version, error, None);
    exception.http_status = Some(error.status());
    let mut response = exception.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The 429 of the per-client limit (`crate::http`) as an `ows:ExceptionReport`
/// `ServerBusy` of the version the query names (WPS 2.0 when none), with `Retry-After`.
pub(crate) fn client_busy(
    request: &axum::extract::Request,
    text: String,
    retry_after: HeaderValue,
) -> Response {
    let version = request::Kvp::parse(request.uri().query().unwrap_or(""))
        .get("version")
        .and_then(WpsVersion::parse)
        .unwrap_or(WpsVersion::V2);
    let mut response = WpsException::new(version, OwsCode::ServerBusy, None, text)
        .with_status(StatusCode::TOO_MANY_REQUESTS)
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after);
    response
}

async fn dispatch(app: AppState, base: BaseUrl, caller: &Caller, request: WpsRequest) -> Response {
    match request.version {
        WpsVersion::V2 => v2::handle(&app, &base, caller, request).await,
        WpsVersion::V1 => v1::handle(&app, &base, caller, request).await,
    }
}
