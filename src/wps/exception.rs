//! `ows:ExceptionReport` documents: OWS 2.0 for WPS 2.0, OWS 1.1 for WPS 1.0.0, with the
//! exception codes and HTTP statuses of the error table (`crate::error`, [`OwsCode`]:
//! client errors 400, `OperationNotSupported` 501, `NoApplicableCode` 500). The WPS-T
//! operations set the status of the error table's row instead ([`WpsException::with_status`]):
//! one OWS code there stands for several answers an HTTP client must tell apart (401 send a
//! token, 403 not allowed, 409 already deployed).
//!
//! The document is served as `application/xml; charset=utf-8`. Its `version` attribute is
//! the OWS ExceptionReport version the schema fixes for that OWS version: `2.0.0` (OWS 2.0)
//! and `1.0.0` (OWS 1.1, which is what WPS 1.0.0 uses).

use super::request::WpsVersion;
use super::xml::{escape_attr, escape_text};
use crate::error::{ApiError, ErrorCode, OwsCode};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The OWS 2.0 namespace (WPS 2.0).
pub const OWS2: &str = "http://www.opengis.net/ows/2.0";
/// The OWS 1.1 namespace (WPS 1.0.0).
pub const OWS11: &str = "http://www.opengis.net/ows/1.1";

/// A WPS exception to answer.
#[derive(Debug, Clone)]
pub struct WpsException {
    /// Which OWS version to write (2.0 for WPS 2.0, 1.1 for WPS 1.0.0).
    pub version: WpsVersion,
    /// The OWS/WPS exception code (`MissingParameterValue`, `NoSuchProcess`, ...).
    pub code: OwsCode,
    /// The parameter or element at fault, when there is one.
    pub locator: Option<String>,
    /// What is wrong and what to change.
    pub text: String,
    /// The HTTP status when it is not the code's ([`OwsCode::status`]).
    pub http_status: Option<StatusCode>,
    /// `Retry-After` of the answer (a user over their job limit).
    pub retry_after: Option<HeaderValue>,
}

impl WpsException {
    /// An exception with a code, an optional locator and a text.
    pub fn new(
        version: WpsVersion,
        code: OwsCode,
        locator: Option<&str>,
        text: impl Into<String>,
    ) -> Self {
        WpsException {
            version,
            code,
            locator: locator.map(str::to_string),
            text: text.into(),
            http_status: None,
            retry_after: None,
        }
    }

    /// The same exception answered with `status` instead of the code's.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.http_status = Some(status);
        self
    }

    /// `MissingParameterValue` for `parameter`.
    pub fn missing(version: WpsVersion, parameter: &str, text: impl Into<String>) -> Self {
        WpsException::new(
            version,
            OwsCode::MissingParameterValue,
            Some(parameter),
            text,
        )
    }

    /// `InvalidParameterValue` for `parameter`.
    pub fn invalid(version: WpsVersion, parameter: &str, text: impl Into<String>) -> Self {
        WpsException::new(
            version,
            OwsCode::InvalidParameterValue,
            Some(parameter),
            text,
        )
    }

    /// `NoApplicableCode` without a locator (a server-side fault: 500).
    pub fn server(version: WpsVersion, text: impl Into<String>) -> Self {
        WpsException::new(version, OwsCode::NoApplicableCode, None, text)
    }

    /// The WPS rendering of an error of the OGC API/job layer: the table's `ows_code`,
    /// its detail as text. Refusals for who the caller is (401, 403) and a user over their
    /// job limit (429, with `Retry-After`) keep the table's HTTP status: their OWS codes
    /// (`AccessDenied`, `ServerBusy`) stand for several answers a client must tell apart.
    pub fn from_api(version: WpsVersion, error: &ApiError, locator: Option<&str>) -> Self {
        let mut exception = WpsException::new(
            version,
            error.code.row().ows_code,
            locator,
            error.detail.clone(),
        );
        if matches!(
            error.code,
            ErrorCode::Unauthorized | ErrorCode::Forbidden | ErrorCode::TooManyJobs
        ) {
            exception.http_status = Some(error.code.row().status);
            exception.retry_after = error.header(header::RETRY_AFTER).cloned();
        }
        exception
    }

    /// The HTTP status for this exception.
    pub fn status(&self) -> StatusCode {
        self.http_status.unwrap_or_else(|| self.code.status())
    }

    /// The `ows:ExceptionReport` document.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&self.report_element(true));
        out
    }

    /// The `ows:ExceptionReport` element alone (with its namespace declaration when
    /// `declare_namespace`), for embedding, e.g. in a WPS 1.0.0 `wps:ProcessFailed`.
    pub fn report_element(&self, declare_namespace: bool) -> String {
        let (namespace, report_version) = match self.version {
            WpsVersion::V2 => (OWS2, "2.0.0"),
            WpsVersion::V1 => (OWS11, "1.0.0"),
        };
        let xmlns = if declare_namespace {
            format!(" xmlns:ows=\"{namespace}\"")
        } else {
            String::new()
        };
        let locator = self
            .locator
            .as_deref()
            .map(|l| format!(" locator=\"{}\"", escape_attr(l)))
            .unwrap_or_default();
        format!(
            "<ows:ExceptionReport{xmlns} version=\"{report_version}\" xml:lang=\"en\">\
             <ows:Exception exceptionCode=\"{code}\"{locator}>\
             <ows:ExceptionText>{text}</ows:ExceptionText>\
             </ows:Exception></ows:ExceptionReport>",
            code = self.code.as_str(),
            text = escape_text(&self.text),
        )
    }

    /// The response: status by code, the report as `application/xml; charset=utf-8`.
    pub fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(code = %self.code, text = %self.text, "WPS exception");
        }
        let status = self.status();
        let mut response = xml_response(status, self.to_xml());
        if let Some(retry_after) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110: a 401 names the scheme to authenticate with.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ades\""),
            );
        }
        response
    }
}

impl IntoResponse for WpsException {
    fn into_response(self) -> Response {
        WpsException::into_response(self)
    }
}

impl std::fmt::Display for WpsException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.text)
    }
}

/// An XML document response (`application/xml; charset=utf-8`).
pub fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_carries_code_locator_and_escaped_text() {
        let e = WpsException::invalid(WpsVersion::V2, "service", "use <WPS> & retry");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let xml = e.to_xml();
        assert!(xml.contains("xmlns:ows=\"http://www.opengis.net/ows/2.0\""));
        assert!(xml.contains("version=\"2.0.0\""));
        assert!(xml.contains("exceptionCode=\"InvalidParameterValue\" locator=\"service\""));
        assert!(xml.contains("use &lt;WPS&gt; &amp; retry"));
        let v1 = WpsException::new(WpsVersion::V1, OwsCode::OperationNotSupported, None, "x");
        assert_eq!(v1.status(), StatusCode::NOT_IMPLEMENTED);
        assert!(v1.to_xml().contains(OWS11));
        assert!(v1.to_xml().contains("version=\"1.0.0\""));
        let response = v1.into_response();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/xml; charset=utf-8"
        );
    }
}
