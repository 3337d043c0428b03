//! WPS-T: `DeployProcess` and `UndeployProcess` on the WPS 2.0 façade, in the shape OGC
//! Testbed-13 used (ADES ER 17-024; WPS-T is not a standard, see ogc-notes §5.6). The work
//! is `deploy::Deployer`'s and the credential is Part 2's (`Authorization: Bearer <admin
//! token>`), so a process deployed here is exactly what `POST /processes` would have
//! deployed: `mutable: true`, pinned to its digest, its package at `/processes/{id}/package`.
//!
//! # `wps:DeployProcess`
//!
//! WPS 2.0 namespace, `service="WPS" version="2.0.0"`. The image is taken from the first of
//! these found, in document order and at any depth (clients nest them differently):
//!
//! 1. Testbed-13: an `offering` element (any namespace; OWS Context's `owc:offering`) whose
//!    `code` ends in `DockerImage`. Its `content` element names the image reference in an
//!    `href` (`xlink:href` or plain) or, without one, as its text. Testbed-13 puts the OWS
//!    Context in `wps:Process/ows:Metadata[@xlink:role=".../applicationContext"]`; where it
//!    sits does not matter here.
//! 2. Ours: an `ExecutionUnit` element (`wps:ExecutionUnit`) holding either
//!    `<wps:Reference xlink:href="registry/repository:tag"/>`, or text (CDATA welcome): an
//!    `application/ogcapppkg+json` application package when it starts with `{`, else the
//!    image reference itself.
//!
//! An image reference is deployed as the application package
//! `{"executionUnit": {"type": "docker", "image": ...}, "deploymentProfile": ...}` (which
//! `/processes/{id}/package` then returns) and its Seed manifest is read from the image's
//! label, as for Part 2.
//!
//! The `wps:ProcessOffering` is optional. Only its `wps:Process/ows:Identifier` is used: it
//! must be the Seed job name, which is the process id (else `InvalidParameterValue`). The
//! description always comes from the Seed manifest, as for every process; a description in
//! the request would be a second source of truth.
//!
//! # `wps:UndeployProcess`
//!
//! Names the process in an `ows:Identifier` (the first found).
//!
//! # Answers
//!
//! WPS 2.0 has no result document for these operations and Testbed-13's `DeployResult` is
//! in no published schema, so the answers (200, `application/xml`) are in our namespace
//! `urn:ades:wps-t` (prefix `wpst`), around WPS 2.0 and OWS 2.0 elements that validate:
//!
//! ```xml
//! <wpst:DeployResult xmlns:wpst="urn:ades:wps-t" xmlns:wps="..." xmlns:ows="..." xmlns:xlink="...">
//!   <ows:Identifier>job-name</ows:Identifier>
//!   <wpst:Status>deployed</wpst:Status>
//!   <wps:ProcessOffering ...>(as DescribeProcess writes it)</wps:ProcessOffering>
//! </wpst:DeployResult>
//! <wpst:UndeployResult ...>
//!   <ows:Identifier>job-name</ows:Identifier>
//!   <wpst:Status>undeployed</wpst:Status>
//! </wpst:UndeployResult>
//! ```
//!
//! # Errors (`ows:ExceptionReport`, code / locator / HTTP status)
//!
//! * no or a wrong token: `AccessDenied` / `Authorization` / 401 (with `WWW-Authenticate`);
//!   deploying disabled (no admin token configured): `AccessDenied` / `Authorization` / 403;
//! * no image found: `MissingParameterValue` / `ExecutionUnit` / 400;
//! * the image or package cannot be used: `InvalidParameterValue` / `ExecutionUnit` / 400;
//!   a `ProcessOffering` naming another id: `InvalidParameterValue` / `ProcessOffering` / 400;
//! * already deployed: `InvalidParameterValue` / `Identifier` / 409; a built-in process:
//!   `InvalidParameterValue` / `Identifier` / 403;
//! * undeploying a process that does not exist: `NoSuchProcess` / `Identifier` / 400.
//!
//! The 401/403/409 are the error table's statuses for these rows rather than the OWS code's
//! 400/403: one OWS code stands there for answers an HTTP client must tell apart (send a
//! token, you may not, it exists already). `NoSuchProcess` keeps the 400 it has everywhere
//! in the WPS façade.

use super::{href, ok, process_offering, NAMESPACES, V};
use crate::auth::Caller;
use crate::deploy::package::{APP_PACKAGE, DOCKER_PROFILE};
use crate::deploy::{DeployError, Package};
use crate::error::OwsCode;
use crate::error::{ApiError, ErrorCode};
use crate::http::AppState;
use crate::wps::exception::{WpsException, OWS2};
use crate::wps::request::WPS2;
use crate::wps::xml::{escape_text, Element};
use axum::response::Response;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The namespace of our WPS-T answers.
pub const WPST: &str = "urn:ades:wps-t";

/// `wps:DeployProcess`.
pub(super) async fn deploy(
    app: &AppState,
    caller: &Caller,
    root: &Element,
) -> Result<Response, WpsException> {
    caller
        .require_deployer()
        .map_err(|denied| api_exception(&denied.to_api_error(), Some("Authorization")))?;
    let offered_id = offered_id(root);
    let package = package(root, offered_id.as_deref())?;
    let process = app
        .deployer
        .deploy(caller, &package)
        .await
        .map_err(deploy_exception)?;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<wpst:DeployResult xmlns:wpst=\"{WPST}\"{NAMESPACES}>\
         <ows:Identifier>{}</ows:Identifier><wpst:Status>deployed</wpst:Status>",
        escape_text(process.id.as_str())
    );
    process_offering(&mut out, &process);
    out.push_str("</wpst:DeployResult>");
    Ok(ok(out))
}

/// `wps:UndeployProcess`.
pub(super) async fn undeploy(
    app: &AppState,
    caller: &Caller,
    root: &Element,
) -> Result<Response, WpsException> {
    caller
        .require_deployer()
        .map_err(|denied| api_exception(&denied.to_api_error(), Some("Authorization")))?;
    let id = find(root, &|e| e.is(OWS2, "Identifier"))
        .map(|e| e.text().trim().to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            WpsException::missing(
                V,
                "Identifier",
                "Name the process to undeploy: <ows:Identifier>process-id</ows:Identifier>.",
            )
        })?;
    app.deployer
        .undeploy(caller, &id)
        .await
        .map_err(deploy_exception)?;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        out,
        "<wpst:UndeployResult xmlns:wpst=\"{WPST}\"{NAMESPACES}>\
         <ows:Identifier>{}</ows:Identifier><wpst:Status>undeployed</wpst:Status>\
         </wpst:UndeployResult>",
        escape_text(&id)
    );
    Ok(ok(out))
}

/// The first element, this one or a descendant in document order, that is `wanted`.
fn find<'a>(element: &'a Element, wanted: &dyn Fn(&Element) -> bool) -> Option<&'a Element> {
    if wanted(element) {
        return Some(element);
    }
    element.elements().find_map(|child| find(child, wanted))
}

/// The first child element with local name `name`, whatever its namespace.
fn child_named<'a>(element: &'a Element, name: &str) -> Option<&'a Element> {
    element.elements().find(|e| e.name == name)
}

/// The `ows:Identifier` of the offered `wps:Process`, if any.
fn offered_id(root: &Element) -> Option<String> {
    find(root, &|e| e.is(WPS2, "Process"))?
        .child(OWS2, "Identifier")
        .map(|e| e.text().trim().to_string())
        .filter(|id| !id.is_empty())
}

/// Whether `element` says where the image is (the two forms of the module doc).
fn is_image_source(element: &Element) -> bool {
    let docker_offering = element.name == "offering"
        && element
            .attr("code")
            .is_some_and(|code| code.trim_end().ends_with("DockerImage"));
    docker_offering || element.name == "ExecutionUnit"
}

/// An `href`, `xlink:` or plain.
fn any_href(element: &Element) -> Option<String> {
    href(element)
        .or_else(|| element.attr("href"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

/// The package to deploy, from the first image source of the request.
fn package(root: &Element, offered_id: Option<&str>) -> Result<Package, WpsException> {
    let source = find(root, &is_image_source).ok_or_else(|| {
        WpsException::missing(
            V,
            "ExecutionUnit",
            "The request names no image: add <wps:ExecutionUnit><wps:Reference \
             xlink:href=\"registry/repository:tag\"/></wps:ExecutionUnit> (or an \
             application/ogcapppkg+json package as the ExecutionUnit's text), or an OWS \
             Context owc:offering with code \".../DockerImage\" whose owc:content has \
             href=\"registry/repository:tag\".",
        )
    })?;
    if source.name == "offering" {
        let image = child_named(source, "content")
            .and_then(|content| any_href(content).or_else(|| non_empty(content.text())))
            .ok_or_else(|| {
                unusable(
                    "The DockerImage offering names no image: give its owc:content an \
                     href=\"registry/repository:tag\" (or the reference as its text).",
                )
            })?;
        return Ok(image_package(&image, offered_id));
    }
    if let Some(reference) = child_named(source, "Reference") {
        let cwl_link = ["mimeType", "mediaType"]
            .iter()
            .filter_map(|name| reference.attr(name))
            .any(|mt| mt.trim().starts_with("application/cwl"));
        if let (true, Some(href)) = (cwl_link, any_href(reference)) {
            return Ok(cwl_link_package(&href, offered_id));
        }
        let image = any_href(reference).ok_or_else(|| {
            unusable(
                "The ExecutionUnit's Reference has no image: write \
                 <wps:Reference xlink:href=\"registry/repository:tag\"/>.",
            )
        })?;
        return Ok(image_package(&image, offered_id));
    }
    match non_empty(source.text()) {
        Some(text) if is_cwl(&text) => Ok(Package {
            media_type: crate::deploy::cwl::CWL.to_string(),
            body: text.into_bytes(),
            image_param: None,
            entry_param: offered_id.map(str::to_string),
            base_url: String::new(),
        }),
        Some(text) if is_recipe(&text) => recipe_package(text, offered_id),
        Some(text) if text.starts_with('{') => app_package(text, offered_id),
        Some(image) => Ok(image_package(&image, offered_id)),
        None => Err(unusable(
            "The ExecutionUnit is empty: put a <wps:Reference xlink:href=\"registry/\
             repository:tag\"/> in it, or an application/ogcapppkg+json package as its text.",
        )),
    }
}

/// Whether an ExecutionUnit's text is a CWL document (YAML or JSON) rather than a package.
fn is_cwl(text: &str) -> bool {
    crate::cwl::document::parse_yaml(text).is_ok_and(|document| {
        document.get("cwlVersion").is_some() || document.get("$graph").is_some()
    })
}

/// A CWL document given by link (`<wps:Reference xlink:href="..." mimeType="application/cwl"/>`)
/// as the application package Part 2 would receive.
fn cwl_link_package(href: &str, offered_id: Option<&str>) -> Package {
    let mut document = json!({"executionUnit": {"href": href, "type": "application/cwl"}});
    if let Some(id) = offered_id {
        document["processDescription"] = json!({"process": {"id": id}});
    }
    Package {
        media_type: APP_PACKAGE.to_string(),
        body: document.to_string().into_bytes(),
        image_param: None,
        entry_param: None,
        base_url: String::new(),
    }
}

/// Whether an ExecutionUnit's text is a Scale recipe type (a `definition` with `nodes`)
/// rather than an application package.
fn is_recipe(text: &str) -> bool {
    text.starts_with('{')
        && serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|document| document.pointer("/definition/nodes").cloned())
            .is_some_and(|nodes| nodes.is_object())
}

/// A recipe given as the ExecutionUnit's text, deployed as with
/// `Content-Type: application/vnd.ades.recipe+json`; the offered id becomes its `name`
/// when it has none, and must agree with it otherwise.
fn recipe_package(text: String, offered_id: Option<&str>) -> Result<Package, WpsException> {
    let mut document: Value = serde_json::from_str(&text).unwrap_or_default();
    if let Some(id) = offered_id {
        match document.get("name").and_then(Value::as_str) {
            Some(name) if name != id => {
                return Err(WpsException::invalid(
                    V,
                    "ProcessOffering",
                    format!(
                        "The ProcessOffering names process {id:?} but the recipe's name is                          {name:?}: make them agree (or leave one out)."
                    ),
                ))
            }
            Some(_) => {}
            None => document["name"] = json!(id),
        }
    }
    Ok(Package {
        media_type: crate::workflow::RECIPE_MEDIA_TYPE.to_string(),
        body: document.to_string().into_bytes(),
        image_param: None,
        base_url: String::new(),
        entry_param: None,
    })
}

fn non_empty(text: String) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn unusable(text: &str) -> WpsException {
    WpsException::invalid(V, "ExecutionUnit", text)
}

/// An image reference as the application package Part 2 would receive; the offered id, when
/// given, as its process description's id, so the deployer checks it against the manifest.
fn image_package(image: &str, offered_id: Option<&str>) -> Package {
    let mut document = json!({
        "executionUnit": {"type": "docker", "image": image},
        "deploymentProfile": DOCKER_PROFILE,
    });
    if let Some(id) = offered_id {
        document["processDescription"] = json!({"process": {"id": id}});
    }
    Package {
        media_type: APP_PACKAGE.to_string(),
        body: document.to_string().into_bytes(),
        image_param: None,
        base_url: String::new(),
        entry_param: None,
    }
}

/// An application package given as text. The offered id must agree with the package's own
/// description, or becomes it; a body that is not a JSON object is passed on as is, for the
/// deployer to say what is wrong with it.
fn app_package(text: String, offered_id: Option<&str>) -> Result<Package, WpsException> {
    let mut body = text.into_bytes();
    if let (Some(id), Ok(mut document @ Value::Object(_))) =
        (offered_id, serde_json::from_slice::<Value>(&body))
    {
        let described = document
            .pointer("/processDescription/process/id")
            .or_else(|| document.pointer("/processDescription/id"))
            .and_then(Value::as_str);
        match described {
            Some(described) if described != id => {
                return Err(WpsException::invalid(
                    V,
                    "ProcessOffering",
                    format!(
                        "The ProcessOffering names process {id:?} but the application \
                         package's processDescription names {described:?}: both are the Seed \
                         job name, make them agree (or leave one out)."
                    ),
                ))
            }
            Some(_) => {}
            None => {
                document["processDescription"] = json!({"process": {"id": id}});
                body = document.to_string().into_bytes();
            }
        }
    }
    Ok(Package {
        media_type: APP_PACKAGE.to_string(),
        body,
        image_param: None,
        base_url: String::new(),
        entry_param: None,
    })
}

/// A [`DeployError`] as a WPS exception, located in the request.
fn deploy_exception(error: DeployError) -> WpsException {
    let locator = match &error {
        DeployError::Invalid { pointer, .. } if pointer.starts_with("/processDescription") => {
            Some("ProcessOffering")
        }
        // The offered identifier picks the process of a CWL document.
        DeployError::EntryNotFound(_) => Some("ProcessOffering"),
        DeployError::Duplicate(_) | DeployError::Immutable(_) | DeployError::NotFound(_) => {
            Some("Identifier")
        }
        DeployError::Store(_) => None,
        _ => Some("ExecutionUnit"),
    };
    // The shared messages point to the OGC API; these two say what to do in WPS terms.
    match &error {
        DeployError::NotFound(id) => WpsException::new(
            V,
            OwsCode::NoSuchProcess,
            locator,
            format!(
                "There is no deployed process {id:?}. GetCapabilities (service=WPS&request=\
                 GetCapabilities) lists the processes offered."
            ),
        ),
        DeployError::Duplicate(id) => api_exception(
            &ApiError::new(
                ErrorCode::DuplicatedProcess,
                format!(
                    "Process {id:?} is already deployed: undeploy it first (wps:UndeployProcess), \
                     or replace it with PUT /processes/{id}."
                ),
            ),
            locator,
        ),
        _ => api_exception(&error.into_api_error(), locator),
    }
}

/// An error of the shared deploy code as a WPS exception: the row's WPS code, and the row's
/// HTTP status where the code alone would blur it (see the module doc).
fn api_exception(error: &ApiError, locator: Option<&str>) -> WpsException {
    let exception = WpsException::from_api(V, error, locator);
    match error.code {
        ErrorCode::Unauthorized
        | ErrorCode::Forbidden
        | ErrorCode::DuplicatedProcess
        | ErrorCode::ImmutableProcess => exception.with_status(error.code.row().status),
        _ => exception,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wps::xml::{parse, Limits};

    fn request(body: &str) -> Element {
        let document = format!(
            r#"<wps:DeployProcess service="WPS" version="2.0.0"
                 xmlns:wps="http://www.opengis.net/wps/2.0"
                 xmlns:ows="http://www.opengis.net/ows/2.0"
                 xmlns:owc="http://www.opengis.net/owc/1.0"
                 xmlns:xlink="http://www.w3.org/1999/xlink">{body}</wps:DeployProcess>"#
        );
        parse(document.as_bytes(), &Limits::default()).unwrap()
    }

    fn body(root: &Element) -> Value {
        let package = package(root, offered_id(root).as_deref()).unwrap();
        assert_eq!(package.media_type, APP_PACKAGE);
        serde_json::from_slice(&package.body).unwrap()
    }

    #[test]
    fn every_form_names_the_image() {
        let tb13 = request(
            r#"<wps:ProcessOffering><wps:Process><ows:Title>t</ows:Title>
                 <ows:Identifier> echo </ows:Identifier>
                 <ows:Metadata xlink:role="http://www.opengis.net/tb13/eoc/applicationContext">
                   <x:ApplicationContext xmlns:x="urn:x"><owc:OWSContext><owc:Resource>
                     <owc:offering code="http://www.opengis.net/tb13/eoc/DockerImage">
                       <owc:content type="text/plain" href="reg:5000/echo:1"/>
                     </owc:offering></owc:Resource></owc:OWSContext></x:ApplicationContext>
                 </ows:Metadata></wps:Process></wps:ProcessOffering>"#,
        );
        let document = body(&tb13);
        assert_eq!(document["executionUnit"]["image"], "reg:5000/echo:1");
        assert_eq!(document["processDescription"]["process"]["id"], "echo");

        let text = request(
            r#"<owc:offering code="urn:DockerImage"><owc:content> reg/a:2 </owc:content></owc:offering>"#,
        );
        assert_eq!(body(&text)["executionUnit"]["image"], "reg/a:2");
        assert!(body(&text).get("processDescription").is_none());

        let reference = request(
            r#"<wps:ExecutionUnit><wps:Reference xlink:href="reg/b:3"/></wps:ExecutionUnit>"#,
        );
        assert_eq!(body(&reference)["executionUnit"]["image"], "reg/b:3");

        let json = request(
            r#"<wps:ProcessOffering><wps:Process><ows:Identifier>c</ows:Identifier></wps:Process></wps:ProcessOffering>
               <wps:ExecutionUnit><![CDATA[{"executionUnit": {"type": "docker", "image": "reg/c:4"}}]]></wps:ExecutionUnit>"#,
        );
        let document = body(&json);
        assert_eq!(document["executionUnit"]["image"], "reg/c:4");
        assert_eq!(document["processDescription"]["process"]["id"], "c");
    }

    #[test]
    fn a_recipe_as_the_execution_unit_deploys_as_a_recipe() {
        let root = request(
            r#"<wps:ProcessOffering><wps:Process><ows:Identifier>chain</ows:Identifier></wps:Process></wps:ProcessOffering>
               <wps:ExecutionUnit><![CDATA[{"title": "A chain", "definition": {"nodes": {}}}]]></wps:ExecutionUnit>"#,
        );
        let recipe = package(&root, offered_id(&root).as_deref()).unwrap();
        assert_eq!(recipe.media_type, crate::workflow::RECIPE_MEDIA_TYPE);
        let document: Value = serde_json::from_slice(&recipe.body).unwrap();
        assert_eq!(document["name"], "chain");
        let other = request(
            r#"<wps:Process><ows:Identifier>a</ows:Identifier></wps:Process>
               <wps:ExecutionUnit>{"name": "b", "definition": {"nodes": {}}}</wps:ExecutionUnit>"#,
        );
        let error = package(&other, offered_id(&other).as_deref()).unwrap_err();
        assert_eq!(error.locator.as_deref(), Some("ProcessOffering"));
    }

    #[test]
    fn requests_without_a_usable_image_say_what_to_add() {
        let error = |root: Element| package(&root, offered_id(&root).as_deref()).unwrap_err();
        let none = error(request("<wps:ProcessOffering/>"));
        assert_eq!(
            (none.code.as_str(), none.locator.as_deref()),
            ("MissingParameterValue", Some("ExecutionUnit"))
        );
        let empty = error(request("<wps:ExecutionUnit> </wps:ExecutionUnit>"));
        assert_eq!(empty.code.as_str(), "InvalidParameterValue");
        let no_href = error(request(
            "<wps:ExecutionUnit><wps:Reference/></wps:ExecutionUnit>",
        ));
        assert!(no_href.text.contains("xlink:href"), "{}", no_href.text);
        let disagree = error(request(
            r#"<wps:Process><ows:Identifier>a</ows:Identifier></wps:Process>
               <wps:ExecutionUnit>{"processDescription": {"process": {"id": "b"}}}</wps:ExecutionUnit>"#,
        ));
        assert_eq!(disagree.locator.as_deref(), Some("ProcessOffering"));
    }
}
