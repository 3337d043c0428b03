//! The one error-code table every façade answers from: each [`ErrorCode`] has an HTTP status,
//! an exception `type` URI (the official OGC API - Processes URI where one exists, else one
//! of ours under `urn:ades:error:`) and the OWS `exceptionCode` ([`OwsCode`]) the WPS
//! façade reports. [`OwsCode`] is the second half of the table: each OWS/WPS exception code
//! with the HTTP status a WPS answer carries.
//!
//! Expected errors are 4xx with a `detail` that says what to change. Unexpected ones are an
//! opaque 500 for the client while the whole cause chain goes to the log
//! ([`ApiError::internal`]). A database error is never a 4xx; bad input is never a 500.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error a client can get, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No process with that id.
    NoSuchProcess,
    /// No job with that id (or not a job id at all).
    NoSuchJob,
    /// The job has not finished yet: its results are not there to fetch.
    ResultNotReady,
    /// The job has no output with that id, or that output was not produced.
    NoSuchOutput,
    /// Any other path or file that does not exist (unknown route, output file, log).
    NotFound,
    /// A value of the execute request is wrong (type, structure, occurrences, unknown id).
    InvalidParameterValue,
    /// A required input is missing.
    MissingParameterValue,
    /// A query parameter has a value the server cannot use (`limit=0`, `status=done`).
    InvalidQueryParameterValue,
    /// The request body is not the JSON document expected (syntax, shape).
    InvalidRequestBody,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// The body has a content type the server does not read.
    UnsupportedMediaType,
    /// A `Range` request that does not overlap the file.
    RangeNotSatisfiable,
    /// The job failed because of its input (Seed error category `data`).
    JobFailedData,
    /// The job failed for another reason (Seed categories `job` and `system`).
    JobFailed,
    /// The container engine cannot be reached: nothing can run now.
    EngineUnavailable,
    /// The database cannot be reached.
    StorageUnavailable,
    /// Deploy: a process with this id is already deployed (OGC API Part 2).
    DuplicatedProcess,
    /// Replace/undeploy (or deploy over) a built-in process (OGC API Part 2).
    ImmutableProcess,
    /// The package to deploy cannot be used: invalid body, image not found, no or an invalid
    /// Seed label, registry unreachable or refusing.
    InvalidPackage,
    /// The operation needs a credential and none (or a wrong one) was given.
    Unauthorized,
    /// The operation is not allowed on this server (e.g. deploying without an admin token
    /// configured).
    Forbidden,
    /// The queue holds as many jobs as it may: submit again after `Retry-After`.
    QueueFull,
    /// The client has as many expensive requests in flight as it may (429).
    TooManyRequests,
    /// The user has as many jobs queued or running as `auth.max_jobs_per_user` allows (429).
    TooManyJobs,
    /// The token issuer's keys cannot be read, so no token can be checked now (503).
    IssuerUnavailable,
    /// The job's files are not in this replica's workspace (it is not shared).
    OutputsUnreachable,
    /// The job asks for more CPUs, memory or GPUs than any worker offers.
    InsufficientResources,
    /// A bug or an unexpected failure: opaque to the client, detailed in the log.
    Internal,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow {
    pub status: StatusCode,
    /// The exception `type` URI.
    pub type_uri: &'static str,
    /// The WPS 2.0 / OWS `exceptionCode`.
    pub ows_code: OwsCode,
    /// Short human title of the exception.
    pub title: &'static str,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::NoSuchProcess,
        ErrorCode::NoSuchJob,
        ErrorCode::ResultNotReady,
        ErrorCode::NoSuchOutput,
        ErrorCode::NotFound,
        ErrorCode::InvalidParameterValue,
        ErrorCode::MissingParameterValue,
        ErrorCode::InvalidQueryParameterValue,
        ErrorCode::InvalidRequestBody,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::JobFailedData,
        ErrorCode::JobFailed,
        ErrorCode::EngineUnavailable,
        ErrorCode::StorageUnavailable,
        ErrorCode::DuplicatedProcess,
        ErrorCode::ImmutableProcess,
        ErrorCode::InvalidPackage,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::QueueFull,
        ErrorCode::TooManyRequests,
        ErrorCode::TooManyJobs,
        ErrorCode::IssuerUnavailable,
        ErrorCode::OutputsUnreachable,
        ErrorCode::InsufficientResources,
        ErrorCode::Internal,
    ];

    /// The table.
    pub fn row(self) -> ErrorRow {
        use ErrorCode::*;
        let (status, type_uri, ows_code, title) = match self {
            NoSuchProcess => (
                StatusCode::NOT_FOUND,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0",
                    "/no-such-process"
                ),
                OwsCode::NoSuchProcess,
                "No such process",
            ),
            NoSuchJob => (
                StatusCode::NOT_FOUND,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0",
                    "/no-such-job"
                ),
                OwsCode::NoSuchJob,
                "No such job",
            ),
            ResultNotReady => (
                StatusCode::NOT_FOUND,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0",
                    "/result-not-ready"
                ),
                OwsCode::ResultNotReady,
                "Result not ready",
            ),
            // The URI is the one the Part 1 2.0 draft defines (under the 1.0 path).
            NoSuchOutput => (
                StatusCode::NOT_FOUND,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0",
                    "/no-such-output"
                ),
                OwsCode::NoSuchOutput,
                "No such output",
            ),
            NotFound => (
                StatusCode::NOT_FOUND,
                "urn:ades:error:not-found",
                OwsCode::NoApplicableCode,
                "Not found",
            ),
            InvalidParameterValue => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:invalid-parameter-value",
                OwsCode::InvalidParameterValue,
                "Invalid parameter value",
            ),
            MissingParameterValue => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:missing-parameter-value",
                OwsCode::MissingParameterValue,
                "Missing parameter value",
            ),
            // The URI is the one the Part 1 2.0 draft defines (under the 1.0 path).
            InvalidQueryParameterValue => (
                StatusCode::BAD_REQUEST,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0",
                    "/invalid-query-parameter-value"
                ),
                OwsCode::InvalidParameterValue,
                "Invalid query parameter value",
            ),
            InvalidRequestBody => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:invalid-request-body",
                OwsCode::OperationParsingFailed,
                "Invalid request body",
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "urn:ades:error:method-not-allowed",
                OwsCode::OperationNotSupported,
                "Method not allowed",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "urn:ades:error:payload-too-large",
                OwsCode::SizeExceeded,
                "Request body too large",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "urn:ades:error:unsupported-media-type",
                OwsCode::OperationParsingFailed,
                "Unsupported media type",
            ),
            RangeNotSatisfiable => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "urn:ades:error:range-not-satisfiable",
                OwsCode::InvalidParameterValue,
                "Range not satisfiable",
            ),
            JobFailedData => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:job-failed",
                OwsCode::WrongInputData,
                "Job failed",
            ),
            JobFailed => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "urn:ades:error:job-failed",
                OwsCode::NoApplicableCode,
                "Job failed",
            ),
            EngineUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "urn:ades:error:engine-unavailable",
                OwsCode::ServerBusy,
                "Container engine unavailable",
            ),
            StorageUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "urn:ades:error:storage-unavailable",
                OwsCode::ServerBusy,
                "Storage unavailable",
            ),
            DuplicatedProcess => (
                StatusCode::CONFLICT,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0",
                    "/duplicated-process"
                ),
                OwsCode::InvalidParameterValue,
                "Duplicated process",
            ),
            ImmutableProcess => (
                StatusCode::FORBIDDEN,
                concat!(
                    "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0",
                    "/immutable-process"
                ),
                OwsCode::InvalidParameterValue,
                "Immutable process",
            ),
            QueueFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "urn:ades:error:queue-full",
                OwsCode::ServerBusy,
                "Queue full",
            ),
            TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "urn:ades:error:too-many-requests",
                OwsCode::ServerBusy,
                "Too many requests in flight",
            ),
            TooManyJobs => (
                StatusCode::TOO_MANY_REQUESTS,
                "urn:ades:error:too-many-jobs",
                OwsCode::ServerBusy,
                "Too many jobs of this user",
            ),
            IssuerUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "urn:ades:error:issuer-unavailable",
                OwsCode::ServerBusy,
                "Token issuer unavailable",
            ),
            OutputsUnreachable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "urn:ades:error:outputs-unreachable",
                OwsCode::NoApplicableCode,
                "Outputs unreachable from this replica",
            ),
            InsufficientResources => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:insufficient-resources",
                OwsCode::InvalidParameterValue,
                "Insufficient resources",
            ),
            InvalidPackage => (
                StatusCode::BAD_REQUEST,
                "urn:ades:error:invalid-package",
                OwsCode::InvalidParameterValue,
                "Invalid application package",
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "urn:ades:error:unauthorized",
                OwsCode::AccessDenied,
                "Unauthorized",
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "urn:ades:error:forbidden",
                OwsCode::AccessDenied,
                "Forbidden",
            ),
            Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "urn:ades:error:internal",
                OwsCode::NoApplicableCode,
                "Internal server error",
            ),
        };
        ErrorRow {
            status,
            type_uri,
            ows_code,
            title,
        }
    }

    /// The code a plain HTTP status stands for, for error responses produced outside our
    /// handlers (rejections, unknown routes).
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::RANGE_NOT_SATISFIABLE => ErrorCode::RangeNotSatisfiable,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::EngineUnavailable,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::TooManyRequests,
            s if s.is_client_error() => ErrorCode::InvalidRequestBody,
            _ => ErrorCode::Internal,
        }
    }
}

/// An OWS exception code, as `ows:Exception/@exceptionCode` writes it: those of OWS Common
/// (06-121r9 / 06-121r3), of WPS 2.0 (14-065 §9, §10) and WPS 1.0.0 (05-007r7 §8.2), and
/// one of ours (`AccessDenied`). The WPS façades answer only with these: no code is a
/// string literal there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwsCode {
    // OWS Common.
    OperationNotSupported,
    MissingParameterValue,
    InvalidParameterValue,
    VersionNegotiationFailed,
    InvalidUpdateSequence,
    OptionNotSupported,
    NoApplicableCode,
    OperationParsingFailed,
    OperationProcessingFailed,
    // WPS 1.0.0.
    NotEnoughStorage,
    ServerBusy,
    FileSizeExceeded,
    StorageNotSupported,
    // WPS 2.0.
    NoSuchProcess,
    NoSuchMode,
    NoSuchInput,
    NoSuchOutput,
    NoSuchFormat,
    DataNotAccessible,
    SizeExceeded,
    TooManyInputs,
    TooManyOutputs,
    WrongInputData,
    NoSuchJob,
    ResultNotReady,
    /// Not an OWS code: ours, for operations the caller may not do (401/403 by the error
    /// table's row, 403 alone).
    AccessDenied,
}

impl OwsCode {
    /// Every code, in declaration order.
    pub const ALL: [OwsCode; 26] = [
        OwsCode::OperationNotSupported,
        OwsCode::MissingParameterValue,
        OwsCode::InvalidParameterValue,
        OwsCode::VersionNegotiationFailed,
        OwsCode::InvalidUpdateSequence,
        OwsCode::OptionNotSupported,
        OwsCode::NoApplicableCode,
        OwsCode::OperationParsingFailed,
        OwsCode::OperationProcessingFailed,
        OwsCode::NotEnoughStorage,
        OwsCode::ServerBusy,
        OwsCode::FileSizeExceeded,
        OwsCode::StorageNotSupported,
        OwsCode::NoSuchProcess,
        OwsCode::NoSuchMode,
        OwsCode::NoSuchInput,
        OwsCode::NoSuchOutput,
        OwsCode::NoSuchFormat,
        OwsCode::DataNotAccessible,
        OwsCode::SizeExceeded,
        OwsCode::TooManyInputs,
        OwsCode::TooManyOutputs,
        OwsCode::WrongInputData,
        OwsCode::NoSuchJob,
        OwsCode::ResultNotReady,
        OwsCode::AccessDenied,
    ];

    /// The code and the HTTP status of a WPS answer carrying it.
    ///
    /// OWS Common: client errors are 400, `OperationNotSupported`/`OptionNotSupported` 501,
    /// `NoApplicableCode` 500. WPS 2.0 gives its own codes (`NoSuchProcess`, `NoSuchJob`,
    /// `ResultNotReady`, `NoSuchInput`, ...) 400, so the WPS façade answers an unknown
    /// process or job with 400 where the OGC API answers 404: each façade follows its
    /// standard.
    fn row(self) -> (&'static str, StatusCode) {
        use OwsCode::*;
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        match self {
            OperationNotSupported => ("OperationNotSupported", StatusCode::NOT_IMPLEMENTED),
            OptionNotSupported => ("OptionNotSupported", StatusCode::NOT_IMPLEMENTED),
            NoApplicableCode => ("NoApplicableCode", StatusCode::INTERNAL_SERVER_ERROR),
            OperationProcessingFailed => (
                "OperationProcessingFailed",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            ServerBusy => ("ServerBusy", StatusCode::SERVICE_UNAVAILABLE),
            NotEnoughStorage => ("NotEnoughStorage", StatusCode::SERVICE_UNAVAILABLE),
            AccessDenied => ("AccessDenied", StatusCode::FORBIDDEN),
            MissingParameterValue => ("MissingParameterValue", BAD),
            InvalidParameterValue => ("InvalidParameterValue", BAD),
            VersionNegotiationFailed => ("VersionNegotiationFailed", BAD),
            InvalidUpdateSequence => ("InvalidUpdateSequence", BAD),
            OperationParsingFailed => ("OperationParsingFailed", BAD),
            FileSizeExceeded => ("FileSizeExceeded", BAD),
            StorageNotSupported => ("StorageNotSupported", BAD),
            NoSuchProcess => ("NoSuchProcess", BAD),
            NoSuchMode => ("NoSuchMode", BAD),
            NoSuchInput => ("NoSuchInput", BAD),
            NoSuchOutput => ("NoSuchOutput", BAD),
            NoSuchFormat => ("NoSuchFormat", BAD),
            DataNotAccessible => ("DataNotAccessible", BAD),
            SizeExceeded => ("SizeExceeded", BAD),
            TooManyInputs => ("TooManyInputs", BAD),
            TooManyOutputs => ("TooManyOutputs", BAD),
            WrongInputData => ("WrongInputData", BAD),
            NoSuchJob => ("NoSuchJob", BAD),
            ResultNotReady => ("ResultNotReady", BAD),
        }
    }

    /// The code as `exceptionCode` writes it.
    pub fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status of a WPS answer carrying this code.
    pub fn status(self) -> StatusCode {
        self.row().1
    }
}

impl std::fmt::Display for OwsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OGC API exception document (RFC 7807 shape, served as `application/json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Exception)]
pub struct ExceptionView {
    /// A URI naming the kind of error.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and what to change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
    /// The path of the request that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub instance: Option<String>,
    /// For a request that cannot be run: every value to fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemView>,
}

/// One thing to fix in a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemView {
    /// Where: `/inputs/<id>`, `/inputs/<id>/<index>`, `/outputs/<id>`, `/subscriber/<name>`.
    pub location: String,
    /// What is wrong and what to change.
    pub message: String,
}

/// An error on its way to the client: a code from the table, a detail, and optionally a more
/// specific type and title (a Seed job failure names its own error).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    /// The rarely used rest, boxed so handlers' `Result`s stay small.
    extras: Option<Box<Extras>>,
}

#[derive(Debug, Clone, Default)]
struct Extras {
    /// Replaces the table's type URI (Seed errors: `urn:ades:seed:error:<name>`).
    type_uri: Option<String>,
    /// Replaces the table's title.
    title: Option<String>,
    /// Extra response headers (`Retry-After`, `Content-Range`).
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Every value to fix, for a request that cannot be run.
    problems: Vec<ProblemView>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: detail.into(),
            extras: None,
        }
    }

    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// An unexpected failure: logs `cause` with its whole chain and answers an opaque 500.
    pub fn internal(context: &str, cause: &(dyn std::error::Error + 'static)) -> Self {
        let chain = cause_chain(cause);
        tracing::error!(error = %chain, "{context}");
        ApiError::new(
            ErrorCode::Internal,
            "The server failed to answer this request. The failure was logged; try again \
             later or tell the operator.",
        )
    }

    pub fn no_such_process(id: &str) -> Self {
        ApiError::new(
            ErrorCode::NoSuchProcess,
            format!("There is no process {id:?}. GET /processes lists the processes offered."),
        )
    }

    pub fn no_such_job(id: &str) -> Self {
        ApiError::new(
            ErrorCode::NoSuchJob,
            format!("There is no job {id:?}. GET /jobs lists the jobs."),
        )
    }

    /// A query parameter that cannot be used: names it and says what is accepted.
    pub fn query(parameter: &str, message: impl std::fmt::Display) -> Self {
        ApiError::new(
            ErrorCode::InvalidQueryParameterValue,
            format!("Query parameter {parameter}: {message}"),
        )
    }

    /// Replaces the table's type URI.
    pub fn with_type(mut self, type_uri: impl Into<String>) -> Self {
        self.extras().type_uri = Some(type_uri.into());
        self
    }

    /// Replaces the table's title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.extras().title = Some(title.into());
        self
    }

    /// Adds a response header (`Retry-After`, `Content-Range`).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.extras().headers.push((name, value));
        self
    }

    /// Attaches every value to fix (the `problems` member of the exception).
    pub fn with_problems(mut self, problems: Vec<ProblemView>) -> Self {
        self.extras().problems = problems;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.row().status
    }

    /// The value of an extra response header this error carries (`Retry-After`).
    pub fn header(&self, name: HeaderName) -> Option<&HeaderValue> {
        self.extras
            .as_deref()?
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The exception document.
    pub fn view(&self) -> ExceptionView {
        let row = self.code.row();
        let extras = self.extras.as_deref();
        ExceptionView {
            type_uri: extras
                .and_then(|e| e.type_uri.clone())
                .unwrap_or_else(|| row.type_uri.to_string()),
            title: extras
                .and_then(|e| e.title.clone())
                .unwrap_or_else(|| row.title.to_string()),
            status: row.status.as_u16(),
            detail: Some(self.detail.clone()).filter(|d| !d.is_empty()),
            instance: None,
            problems: extras.map(|e| e.problems.clone()).unwrap_or_default(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.row().title, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// Renders an exception document as the response body (`application/json`, never
/// `application/problem+json`: the OGC test suite insists, ogc-notes §1.2).
pub fn exception_response(status: StatusCode, view: &ExceptionView) -> Response {
    let body = serde_json::to_vec(view).unwrap_or_else(|_| b"{\"type\":\"about:blank\"}".to_vec());
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.extensions_mut().insert(view.clone());
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = exception_response(status, &self.view());
        for (name, value) in self.extras.map(|e| e.headers).unwrap_or_default() {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// An error with its causes, `outer: inner: innermost`. A cause whose text the message
/// already holds is left out (sqlx and bollard often repeat their source; bollard's own
/// message for a failed connection is only "client error (Connect)").
pub fn cause_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_types_are_the_part_1_uris() {
        assert_eq!(
            ErrorCode::NoSuchProcess.row().type_uri,
            "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-process"
        );
        assert_eq!(
            ErrorCode::NoSuchJob.row().type_uri,
            "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job"
        );
        assert_eq!(
            ErrorCode::ResultNotReady.row().type_uri,
            "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready"
        );
    }

    #[test]
    fn client_errors_are_4xx_and_server_errors_5xx() {
        use ErrorCode::*;
        for code in ErrorCode::ALL {
            let status = code.row().status;
            let server_side = matches!(
                code,
                JobFailed
                    | EngineUnavailable
                    | StorageUnavailable
                    | QueueFull
                    | IssuerUnavailable
                    | OutputsUnreachable
                    | Internal
            );
            assert_eq!(status.is_server_error(), server_side, "{code:?}");
            assert!(status.is_client_error() || status.is_server_error());
            assert!(!code.row().ows_code.as_str().is_empty());
        }
    }

    #[test]
    fn wps_statuses_follow_ows_common() {
        assert_eq!(
            OwsCode::OperationNotSupported.status(),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            OwsCode::NoApplicableCode.status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(OwsCode::NoSuchProcess.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            OwsCode::MissingParameterValue.status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            OwsCode::ServerBusy.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn every_ows_code_is_written_as_its_name() {
        let mut seen = std::collections::HashSet::new();
        for code in OwsCode::ALL {
            assert_eq!(code.as_str(), format!("{code:?}"));
            assert!(seen.insert(code.as_str()), "{code:?} twice");
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn internal_errors_are_opaque() {
        let cause = std::io::Error::other("disk /var/lib/secret is full");
        let error = ApiError::internal("reading a job", &cause);
        let view = error.view();
        assert_eq!(view.status, 500);
        assert!(!view.detail.unwrap().contains("secret"));
    }
}
