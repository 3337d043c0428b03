//! WPS 1.0.0 (OGC 05-007r7): GetCapabilities, DescribeProcess and Execute over KVP and POST
//! XML, what OWSLib's `WebProcessingService` speaks (ogc-notes §5.4, §8.13).
//!
//! Choices a client can see:
//! - Documents are `application/xml; charset=utf-8`; errors are OWS 1.1 `ows:ExceptionReport`s
//!   (`exception.rs`).
//! - One language, `en-US`; a `language` parameter is accepted and ignored.
//! - Inputs that take any number of values are described with `maxOccurs="1000"`: 1.0.0
//!   has no "unbounded" (`maxOccurs` is a required positive integer).
//! - `maximumMegabytes` of file inputs is the largest request body the server accepts
//!   (inline content); larger files can be passed by reference.
//! - Execute with `storeExecuteResponse=true` runs asynchronously (with or without
//!   `status=true`: the stored document is always kept current): the answer is at once an
//!   `ExecuteResponse` with `ProcessAccepted` and a `statusLocation`,
//!   `<base>/wps/status/{jobId}`, which answers the current `ExecuteResponse`. Otherwise the
//!   job is waited for (at most the server's synchronous wait limit; past it the answer is
//!   the current status with a `statusLocation`, as if asked asynchronously).
//! - WPS 1.0.0 requires at least one output per process (`ProcessOutputs/Output` has no
//!   `minOccurs="0"`). A process that declares none is described with one `ComplexOutput`
//!   [`LOG_OUTPUT`] (`text/plain`): its job log. Every answer treats it as that output: a
//!   successful `ExecuteResponse` lists it with the same identifier, title and abstract as
//!   a `wps:Reference` to `/jobs/{jobId}/logs` (always by reference: the log is not a file
//!   of the job's outputs, and a stored response does not keep an output's transmission
//!   choice), `lineage` lists its definition, and `RawDataOutput=JOB_LOG` answers the log
//!   itself.
//! - Every Execute is an ordinary job, visible at `/jobs/{jobId}`.
//! - A failed job is `ProcessFailed` with an `ows:ExceptionReport` carrying the Seed error
//!   (title and description); with `RawDataOutput` the failure is the exception report
//!   itself (`NoApplicableCode`).

mod capabilities;
mod describe;
mod execute;
mod response;
use super::writer;
use crate::error::OwsCode;

use super::exception::WpsException;
use super::request::{Operation, WpsRequest, WpsVersion};
use crate::auth::Caller;
use crate::http::{AppState, BaseUrl};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::HashMap;

pub(crate) const WPS_NS: &str = "http://www.opengis.net/wps/1.0.0";
pub(crate) const OWS_NS: &str = "http://www.opengis.net/ows/1.1";
pub(crate) const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
pub(crate) const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub(crate) use super::{LOG_ABSTRACT, LOG_MEDIA_TYPE, LOG_OUTPUT, LOG_TITLE};
/// The one language the service speaks.
pub(crate) const LANGUAGE: &str = "en-US";
/// `maxOccurs` written for inputs without an upper bound (1.0.0 has no "unbounded").
pub(crate) const UNBOUNDED_MAX_OCCURS: u32 = 1000;

/// Answers one WPS 1.0.0 request.
pub(crate) async fn handle(
    app: &AppState,
    base: &BaseUrl,
    caller: &Caller,
    request: WpsRequest,
) -> Response {
    match request.operation {
        Operation::GetCapabilities => capabilities::get_capabilities(app, base),
        Operation::DescribeProcess => describe::describe_process(app, &request.body).await,
        Operation::Execute => execute::wps_execute(app, base, caller, &request.body).await,
        Operation::GetStatus | Operation::GetResult | Operation::Dismiss => exception(
            OwsCode::OperationNotSupported,
            Some("request"),
            "WPS 1.0.0 has GetCapabilities, DescribeProcess and Execute; GetStatus, \
             GetResult and Dismiss are WPS 2.0 operations (send version=2.0.0), and the \
             status of a 1.0.0 execution is at its statusLocation.",
        ),
        Operation::DeployProcess | Operation::UndeployProcess => exception(
            OwsCode::OperationNotSupported,
            Some("request"),
            "DeployProcess and UndeployProcess (WPS-T) are WPS 2.0 operations: POST them in \
             the WPS 2.0 namespace with version=\"2.0.0\".",
        ),
    }
}

/// `GET /wps/status/{job_id}`: the current `ExecuteResponse` of a job (its
/// `statusLocation`). `?lineage=true` adds the inputs and output definitions.
pub(crate) async fn status_location(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(job_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let lineage = query
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("lineage") && v.eq_ignore_ascii_case("true"));
    response::status_document(&app, &base, &caller, &job_id, lineage).await
}

/// A 200 XML answer.
pub(crate) fn xml_response(document: String) -> Response {
    super::exception::xml_response(StatusCode::OK, document)
}

/// An OWS 1.1 exception report.
pub(crate) fn exception(code: OwsCode, locator: Option<&str>, text: impl Into<String>) -> Response {
    WpsException::new(WpsVersion::V1, code, locator, text).into_response()
}

/// The `xmlns` attributes every document declares on its root.
pub(crate) fn namespaces() -> [(&'static str, &'static str); 4] {
    [
        ("xmlns:wps", WPS_NS),
        ("xmlns:ows", OWS_NS),
        ("xmlns:xlink", XLINK_NS),
        ("xmlns:xsi", XSI_NS),
    ]
}

/// `xsi:schemaLocation` for a WPS 1.0.0 response schema file.
pub(crate) fn schema_location(file: &str) -> String {
    format!("{WPS_NS} http://schemas.opengis.net/wps/1.0.0/{file}")
}

/// Opens a response document's root element: the namespaces, the schema location of `xsd`,
/// `service`, `version`, `xml:lang`, then `extra` attributes.
pub(crate) fn start_document(
    w: &mut writer::XmlWriter,
    element: &str,
    xsd: &str,
    extra: &[(&str, &str)],
) {
    let location = schema_location(xsd);
    let mut root = namespaces().to_vec();
    root.extend([
        ("xsi:schemaLocation", location.as_str()),
        ("service", "WPS"),
        ("version", "1.0.0"),
        ("xml:lang", LANGUAGE),
    ]);
    root.extend_from_slice(extra);
    w.start(element, &root);
}

/// Whether a boolean parameter or attribute is true (`true` / `1`, any case).
pub(crate) fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true") || v.trim() == "1")
}
