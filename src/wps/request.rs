//! Reading a WPS request: KVP (GET) or XML (POST), which version and which operation.
//!
//! Tolerant where clients are sloppy:
//! - KVP parameter names are case-insensitive (`Request`, `request`, `REQUEST`); values
//!   are trimmed of surrounding whitespace; the `service` value and the operation name are
//!   compared case-insensitively (`wps`, `getcapabilities`);
//! - a POST body may come without `Content-Type`, or with `text/plain`,
//!   `application/octet-stream` or `application/x-www-form-urlencoded` (curl's default for
//!   `-d`), besides any XML type; a UTF-8 BOM and an XML declaration are fine;
//! - GetCapabilities without a version answers 2.0.0; with `version=1.0.0` (what OWSLib
//!   sends) it answers 1.0.0; `AcceptVersions` is negotiated (first supported listed
//!   version wins).
//!
//! Strict where the standards are:
//! - `service` is required and must be WPS; `version` is required for every operation but
//!   GetCapabilities and must be 2.0.0 or 1.0.0;
//! - POST XML: the root element must be in the WPS 2.0 or WPS 1.0.0 namespace with a
//!   known operation name; its `service` attribute is required, and its `version`
//!   attribute (all but GetCapabilities) must match the namespace; namespaces are resolved
//!   properly (no prefix guessing); no DTDs, size and depth limits ([`super::xml`]);
//! - GetStatus, GetResult and Dismiss exist only in WPS 2.0; Execute via KVP only in
//!   WPS 1.0.0 (WPS 2.0 defines Execute for POST XML only);
//! - the WPS-T operations DeployProcess and UndeployProcess (Testbed-13,
//!   `v2/transactional.rs`) are WPS 2.0 POST XML only.
//!
//! The exception codes: a missing parameter is `MissingParameterValue`, a wrong value
//! `InvalidParameterValue` (both with the parameter as locator), an unknown operation
//! `OperationNotSupported`, a version none of ours `VersionNegotiationFailed` (from
//! `AcceptVersions`) or `InvalidParameterValue` (from `version`), a body that is not
//! well-formed XML `OperationParsingFailed` (400) with the parser's message.

use super::exception::WpsException;
use super::xml::{self, Element, Limits};
use crate::error::OwsCode;
use axum::http::{header, HeaderMap};
use std::collections::BTreeMap;

/// The WPS 2.0 namespace.
pub const WPS2: &str = "http://www.opengis.net/wps/2.0";
/// The WPS 1.0.0 namespace.
pub const WPS1: &str = "http://www.opengis.net/wps/1.0.0";

/// A WPS version this server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WpsVersion {
    /// 2.0.0
    V2,
    /// 1.0.0
    V1,
}

impl WpsVersion {
    /// The version string (`2.0.0`, `1.0.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            WpsVersion::V2 => "2.0.0",
            WpsVersion::V1 => "1.0.0",
        }
    }

    /// The version a string names (exactly `2.0.0` or `1.0.0`, surrounding spaces allowed).
    pub fn parse(text: &str) -> Option<WpsVersion> {
        match text.trim() {
            "2.0.0" => Some(WpsVersion::V2),
            "1.0.0" => Some(WpsVersion::V1),
            _ => None,
        }
    }

    /// The WPS namespace of this version.
    pub fn namespace(self) -> &'static str {
        match self {
            WpsVersion::V2 => WPS2,
            WpsVersion::V1 => WPS1,
        }
    }
}

/// A WPS operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetCapabilities,
    DescribeProcess,
    Execute,
    GetStatus,
    GetResult,
    Dismiss,
    /// WPS-T (Testbed-13, not a standard): deploy a process from a container image.
    DeployProcess,
    /// WPS-T: undeploy a deployed process.
    UndeployProcess,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 8] = [
        Operation::GetCapabilities,
        Operation::DescribeProcess,
        Operation::Execute,
        Operation::GetStatus,
        Operation::GetResult,
        Operation::Dismiss,
        Operation::DeployProcess,
        Operation::UndeployProcess,
    ];

    /// The operation's name as the standards spell it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetCapabilities => "GetCapabilities",
            Operation::DescribeProcess => "DescribeProcess",
            Operation::Execute => "Execute",
            Operation::GetStatus => "GetStatus",
            Operation::GetResult => "GetResult",
            Operation::Dismiss => "Dismiss",
            Operation::DeployProcess => "DeployProcess",
            Operation::UndeployProcess => "UndeployProcess",
        }
    }

    /// The operation a name names, case-insensitively.
    pub fn parse(name: &str) -> Option<Operation> {
        let name = name.trim();
        Operation::ALL
            .into_iter()
            .find(|op| op.name().eq_ignore_ascii_case(name))
    }

    /// Whether this operation has a POST XML binding only (no KVP) in `version`.
    pub fn xml_only(self, version: WpsVersion) -> bool {
        match self {
            Operation::Execute => version == WpsVersion::V2,
            Operation::DeployProcess | Operation::UndeployProcess => true,
            _ => false,
        }
    }

    /// Whether `version` has this operation.
    pub fn exists_in(self, version: WpsVersion) -> bool {
        match version {
            WpsVersion::V2 => true,
            WpsVersion::V1 => matches!(
                self,
                Operation::GetCapabilities | Operation::DescribeProcess | Operation::Execute
            ),
        }
    }
}

/// KVP parameters with lower-cased names (names are case-insensitive, values are not);
/// a repeated name keeps its first value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kvp(pub BTreeMap<String, String>);

impl Kvp {
    /// Parses a query string (percent-decoded, `+` as space).
    pub fn parse(query: &str) -> Kvp {
        let mut map = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            map.entry(name.trim().to_ascii_lowercase())
                .or_insert_with(|| value.into_owned());
        }
        Kvp(map)
    }

    /// The value of a parameter, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The trimmed value of a parameter; `MissingParameterValue` (locator `name`) when
    /// absent or empty.
    pub fn require(&self, version: WpsVersion, name: &str) -> Result<&str, WpsException> {
        match self.get(name).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(WpsException::missing(
                version,
                name,
                format!("The parameter {name} is required; add {name}=... to the request."),
            )),
        }
    }
}

/// What the request carries besides its version and operation.
#[derive(Debug, Clone)]
pub enum RequestBody {
    Kvp(Kvp),
    Xml(Element),
}

/// One WPS request, version and operation decided.
#[derive(Debug, Clone)]
pub struct WpsRequest {
    pub version: WpsVersion,
    pub operation: Operation,
    pub body: RequestBody,
}

/// Limits for POST bodies (the server sets `max_bytes` and the time budget from its
/// configuration).
pub const XML_LIMITS: Limits = Limits {
    max_bytes: 16 * 1024 * 1024,
    max_depth: 64,
    max_namespaces_per_element: xml::MAX_NAMESPACES_PER_ELEMENT,
    max_namespaces: xml::MAX_NAMESPACES,
    max_attributes_per_element: xml::MAX_ATTRIBUTES_PER_ELEMENT,
    time_budget: None,
};

impl WpsRequest {
    /// From a query string. `service=WPS` is required; `request` names the operation;
    /// the version comes from `version` (or, for GetCapabilities, `AcceptVersions`; 2.0.0
    /// when none is given).
    pub fn from_kvp(query: &str) -> Result<WpsRequest, WpsException> {
        let kvp = Kvp::parse(query);
        // Exceptions are written in the version the client asked for, when it is one of ours.
        let reply = kvp
            .get("version")
            .and_then(WpsVersion::parse)
            .unwrap_or(WpsVersion::V2);
        let service = kvp.require(reply, "service")?;
        check_service(reply, service)?;
        let name = kvp.require(reply, "request")?;
        let operation = Operation::parse(name).ok_or_else(|| unknown_operation(reply, name))?;
        let version = if operation == Operation::GetCapabilities {
            negotiate(&kvp)?
        } else {
            let text = kvp.require(reply, "version")?;
            WpsVersion::parse(text).ok_or_else(|| bad_version(reply, text))?
        };
        if !operation.exists_in(version) {
            return Err(not_in_version(version, operation));
        }
        if operation.xml_only(version) {
            return Err(WpsException::new(
                version,
                OwsCode::OperationNotSupported,
                Some("request"),
                format!(
                    "WPS 2.0 {name} has no KVP binding: POST a wps:{name} XML document to this \
                     endpoint.",
                    name = operation.name()
                ),
            ));
        }
        Ok(WpsRequest {
            version,
            operation,
            body: RequestBody::Kvp(kvp),
        })
    }

    /// From a POST body: the root element's namespace gives the version, its name the
    /// operation.
    pub fn from_xml(headers: &HeaderMap, body: &[u8]) -> Result<WpsRequest, WpsException> {
        WpsRequest::from_xml_with(headers, body, &XML_LIMITS)
    }

    /// [`WpsRequest::from_xml`] within `limits`.
    pub fn from_xml_with(
        headers: &HeaderMap,
        body: &[u8],
        limits: &Limits,
    ) -> Result<WpsRequest, WpsException> {
        let reply = WpsVersion::V2;
        if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
            let media =
                crate::jobs::request::media_type_essence(content_type.to_str().unwrap_or(""));
            let accepted = media.is_empty()
                || media.contains("xml")
                || matches!(
                    media.as_str(),
                    "text/plain" | "application/octet-stream" | "application/x-www-form-urlencoded"
                );
            if !accepted {
                return Err(WpsException::new(
                    reply,
                    OwsCode::OperationParsingFailed,
                    None,
                    format!(
                        "A POST to /wps must be an XML document (Content-Type application/xml), \
                         not {media}."
                    ),
                ));
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(WpsException::new(
                reply,
                OwsCode::OperationParsingFailed,
                None,
                "The POST body is empty: send a WPS request document (wps:GetCapabilities, \
                 wps:DescribeProcess, wps:Execute, ...), or use GET with KVP parameters.",
            ));
        }
        let root = xml::parse(body, limits).map_err(|e| {
            WpsException::new(
                reply,
                OwsCode::OperationParsingFailed,
                None,
                format!("The request is not a readable XML document: {e}"),
            )
        })?;
        let version = match root.namespace.as_deref() {
            Some(WPS2) => WpsVersion::V2,
            Some(WPS1) => WpsVersion::V1,
            other => {
                return Err(WpsException::new(
                    reply,
                    OwsCode::OperationNotSupported,
                    Some(&root.name),
                    format!(
                        "The root element <{}> is in namespace {}; a WPS request is in \
                         {WPS2} (WPS 2.0) or {WPS1} (WPS 1.0.0).",
                        root.name,
                        other.map_or("(none)".to_string(), |ns| format!("{ns:?}"))
                    ),
                ))
            }
        };
        let operation = Operation::ALL
            .into_iter()
            .find(|op| op.name() == root.name)
            .ok_or_else(|| unknown_operation(version, &root.name))?;
        if !operation.exists_in(version) {
            return Err(not_in_version(version, operation));
        }
        match root.attr("service").map(str::trim) {
            None | Some("") => {
                return Err(WpsException::missing(
                    version,
                    "service",
                    format!(
                        "The attribute service=\"WPS\" is required on <{}>.",
                        root.name
                    ),
                ))
            }
            Some(service) => check_service(version, service)?,
        }
        if operation == Operation::GetCapabilities {
            negotiate_xml(version, &root)?;
        } else {
            match root.attr("version").map(str::trim) {
                None | Some("") => {
                    return Err(WpsException::missing(
                        version,
                        "version",
                        format!(
                            "The attribute version=\"{}\" is required on <{}>.",
                            version.as_str(),
                            root.name
                        ),
                    ))
                }
                Some(text) if text != version.as_str() => {
                    return Err(WpsException::invalid(
                        version,
                        "version",
                        format!(
                            "version=\"{text}\" does not match the namespace of <{}>, which \
                             is WPS {}; write version=\"{}\".",
                            root.name,
                            version.as_str(),
                            version.as_str()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(WpsRequest {
            version,
            operation,
            body: RequestBody::Xml(root),
        })
    }
}

fn check_service(version: WpsVersion, service: &str) -> Result<(), WpsException> {
    if service.trim().eq_ignore_ascii_case("WPS") {
        Ok(())
    } else {
        Err(WpsException::invalid(
            version,
            "service",
            format!("This is a WPS server: service must be WPS, not {service:?}."),
        ))
    }
}

fn unknown_operation(version: WpsVersion, name: &str) -> WpsException {
    WpsException::new(
        version,
        OwsCode::OperationNotSupported,
        Some(name),
        format!(
            "There is no operation {name:?}; WPS 2.0 offers GetCapabilities, DescribeProcess, \
             Execute, GetStatus, GetResult and Dismiss (and the WPS-T DeployProcess and \
             UndeployProcess, by POST XML); WPS 1.0.0 GetCapabilities, DescribeProcess and \
             Execute."
        ),
    )
}

fn not_in_version(version: WpsVersion, operation: Operation) -> WpsException {
    WpsException::new(
        version,
        OwsCode::OperationNotSupported,
        Some(operation.name()),
        format!(
            "WPS {} has no {} operation; use WPS 2.0.0 (version=2.0.0) for it.",
            version.as_str(),
            operation.name()
        ),
    )
}

fn bad_version(reply: WpsVersion, text: &str) -> WpsException {
    WpsException::invalid(
        reply,
        "version",
        format!("Version {text:?} is not offered: use version=2.0.0 or version=1.0.0."),
    )
}

/// GetCapabilities' version by KVP: `AcceptVersions` (first supported), else `version`,
/// else 2.0.0.
fn negotiate(kvp: &Kvp) -> Result<WpsVersion, WpsException> {
    if let Some(list) = kvp.get("acceptversions").filter(|l| !l.trim().is_empty()) {
        return list
            .split(',')
            .find_map(WpsVersion::parse)
            .ok_or_else(|| negotiation_failed(list));
    }
    match kvp.get("version").map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(WpsVersion::V2),
        Some(text) => WpsVersion::parse(text).ok_or_else(|| bad_version(WpsVersion::V2, text)),
    }
}

/// GetCapabilities' version by XML: the namespace's, which `ows:AcceptVersions` must list
/// when given.
fn negotiate_xml(version: WpsVersion, root: &Element) -> Result<(), WpsException> {
    let Some(accept) = root.elements().find(|e| e.name == "AcceptVersions") else {
        return Ok(());
    };
    let listed: Vec<String> = accept
        .elements()
        .filter(|e| e.name == "Version")
        .map(|e| e.text().trim().to_string())
        .collect();
    if listed.is_empty() || listed.iter().any(|v| v == version.as_str()) {
        Ok(())
    } else {
        Err(WpsException::new(
            version,
            OwsCode::VersionNegotiationFailed,
            Some("AcceptVersions"),
            format!(
                "AcceptVersions lists {}, but a <{}> in this namespace is answered in WPS {}.",
                listed.join(", "),
                root.name,
                version.as_str()
            ),
        ))
    }
}

fn negotiation_failed(list: &str) -> WpsException {
    WpsException::new(
        WpsVersion::V2,
        OwsCode::VersionNegotiationFailed,
        Some("AcceptVersions"),
        format!("None of AcceptVersions={list:?} is offered: list 2.0.0 or 1.0.0."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvp(query: &str) -> Result<WpsRequest, WpsException> {
        WpsRequest::from_kvp(query)
    }

    fn code(result: Result<WpsRequest, WpsException>) -> (String, Option<String>) {
        let e = result.unwrap_err();
        (e.code.as_str().to_string(), e.locator)
    }

    #[test]
    fn kvp_names_are_case_insensitive() {
        let r = kvp("Service=WPS&Request=GetCapabilities").unwrap();
        assert_eq!(
            (r.version, r.operation),
            (WpsVersion::V2, Operation::GetCapabilities)
        );
        let r = kvp("SERVICE=WPS&request=DescribeProcess&VERSION=2.0.0&Identifier=echo").unwrap();
        assert_eq!(r.operation, Operation::DescribeProcess);
        let RequestBody::Kvp(params) = r.body else {
            panic!()
        };
        assert_eq!(params.get("identifier"), Some("echo"));
        let r = kvp("service=WPS&request=GetCapabilities&version=1.0.0").unwrap();
        assert_eq!(r.version, WpsVersion::V1);
        let r = kvp("service=WPS&request=GetCapabilities&AcceptVersions=3.0.0,1.0.0").unwrap();
        assert_eq!(r.version, WpsVersion::V1);
    }

    #[test]
    fn kvp_errors_have_the_ows_codes() {
        let missing = |p: &str| ("MissingParameterValue".to_string(), Some(p.to_string()));
        let invalid = |p: &str| ("InvalidParameterValue".to_string(), Some(p.to_string()));
        assert_eq!(code(kvp("request=GetCapabilities")), missing("service"));
        assert_eq!(
            code(kvp("service=WMS&request=GetCapabilities")),
            invalid("service")
        );
        assert_eq!(code(kvp("service=WPS")), missing("request"));
        assert_eq!(
            code(kvp("service=WPS&request=Frobnicate&version=2.0.0")).0,
            "OperationNotSupported"
        );
        assert_eq!(
            code(kvp("service=WPS&request=DescribeProcess&identifier=x")),
            missing("version")
        );
        assert_eq!(
            code(kvp("service=WPS&request=DescribeProcess&version=3.0.0")),
            invalid("version")
        );
        assert_eq!(
            code(kvp("service=WPS&request=GetCapabilities&version=3.0.0")),
            invalid("version")
        );
        assert_eq!(
            code(kvp(
                "service=WPS&request=GetCapabilities&acceptversions=3.0.0"
            ))
            .0,
            "VersionNegotiationFailed"
        );
        assert_eq!(
            code(kvp("service=WPS&request=GetStatus&version=1.0.0&jobid=x")).0,
            "OperationNotSupported"
        );
        assert_eq!(
            code(kvp("service=WPS&request=Execute&version=2.0.0")).0,
            "OperationNotSupported"
        );
    }

    #[test]
    fn xml_requests_are_recognised() {
        let headers = HeaderMap::new();
        let body =
            br#"<wps:GetCapabilities service="WPS" xmlns:wps="http://www.opengis.net/wps/2.0"/>"#;
        let r = WpsRequest::from_xml(&headers, body).unwrap();
        assert_eq!(
            (r.version, r.operation),
            (WpsVersion::V2, Operation::GetCapabilities)
        );
        let body = br#"<GetStatus xmlns="http://www.opengis.net/wps/2.0" service="WPS" version="2.0.0"><JobID>x</JobID></GetStatus>"#;
        assert_eq!(
            WpsRequest::from_xml(&headers, body).unwrap().operation,
            Operation::GetStatus
        );
        let body = br#"<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"/>"#;
        assert_eq!(
            WpsRequest::from_xml(&headers, body).unwrap().version,
            WpsVersion::V1
        );
    }

    #[test]
    fn xml_errors_have_the_ows_codes() {
        let headers = HeaderMap::new();
        let err = |body: &[u8]| {
            let e = WpsRequest::from_xml(&headers, body).unwrap_err();
            (e.code.as_str().to_string(), e.locator)
        };
        assert_eq!(err(b"<a").0, "OperationParsingFailed");
        assert_eq!(err(b"").0, "OperationParsingFailed");
        assert_eq!(
            err(br#"<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>"#).0,
            "OperationParsingFailed"
        );
        assert_eq!(
            err(br#"<Execute service="WPS" version="2.0.0"/>"#).0,
            "OperationNotSupported"
        );
        assert_eq!(
            err(br#"<w:Frob xmlns:w="http://www.opengis.net/wps/2.0" service="WPS" version="2.0.0"/>"#).0,
            "OperationNotSupported"
        );
        assert_eq!(
            err(br#"<w:Execute xmlns:w="http://www.opengis.net/wps/2.0" version="2.0.0"/>"#),
            ("MissingParameterValue".into(), Some("service".into()))
        );
        assert_eq!(
            err(br#"<w:Execute xmlns:w="http://www.opengis.net/wps/2.0" service="WMS" version="2.0.0"/>"#),
            ("InvalidParameterValue".into(), Some("service".into()))
        );
        assert_eq!(
            err(br#"<w:Execute xmlns:w="http://www.opengis.net/wps/2.0" service="WPS"/>"#),
            ("MissingParameterValue".into(), Some("version".into()))
        );
        assert_eq!(
            err(br#"<w:Execute xmlns:w="http://www.opengis.net/wps/2.0" service="WPS" version="3.0.0"/>"#),
            ("InvalidParameterValue".into(), Some("version".into()))
        );
        let mut json = HeaderMap::new();
        json.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(WpsRequest::from_xml(&json, b"{}").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn any_query_string_is_answered_without_panicking(query in "[a-zA-Z0-9=&%;:@._/ -]{0,96}") {
            let _ = WpsRequest::from_kvp(&query);
        }

        #[test]
        fn any_post_body_is_answered_without_panicking(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = WpsRequest::from_xml(&HeaderMap::new(), &body);
        }

        #[test]
        fn well_formed_kvp_requests_are_read_back(
            operation in proptest::sample::select(vec!["GetCapabilities", "DescribeProcess", "GetStatus", "GetResult", "Dismiss"]),
            identifier in "[a-z][a-z0-9-]{0,10}",
        ) {
            let query = format!("service=WPS&version=2.0.0&request={operation}&identifier={identifier}&jobId={identifier}");
            let request = WpsRequest::from_kvp(&query).unwrap();
            proptest::prop_assert_eq!(request.operation.name(), operation);
            proptest::prop_assert_eq!(request.version, WpsVersion::V2);
            let RequestBody::Kvp(kvp) = request.body else { panic!("a KVP request") };
            proptest::prop_assert_eq!(kvp.get("IDENTIFIER"), Some(identifier.as_str()));
        }
    }
}
