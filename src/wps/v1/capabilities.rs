//! GetCapabilities: `wps:Capabilities` with the service sections and one
//! `wps:ProcessOfferings/wps:Process` per catalogue process.

use super::{start_document, xml_response, LANGUAGE};
use crate::domain::Process;
use crate::http::{AppState, BaseUrl};
use crate::wps::writer::XmlWriter;
use axum::response::Response;

/// The capabilities document.
pub(crate) fn get_capabilities(app: &AppState, base: &BaseUrl) -> Response {
    let mut processes = app.catalog.list();
    processes.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let endpoint = base.join("/wps");
    let mut w = XmlWriter::new();
    start_document(
        &mut w,
        "wps:Capabilities",
        "wpsGetCapabilities_response.xsd",
        &[],
    );

    w.start("ows:ServiceIdentification", &[]);
    w.text_element("ows:Title", &[], &app.settings.title);
    w.text_element(
        "ows:Abstract",
        &[],
        "Runs Seed container images as processes (WPS 1.0.0 and 2.0, OGC API - Processes).",
    );
    w.text_element("ows:ServiceType", &[], "WPS");
    w.text_element("ows:ServiceTypeVersion", &[], "1.0.0");
    w.text_element("ows:Fees", &[], "NONE");
    w.text_element("ows:AccessConstraints", &[], "NONE");
    w.end();

    w.start("ows:ServiceProvider", &[]);
    w.text_element("ows:ProviderName", &[], &app.settings.title);
    w.empty(
        "ows:ProviderSite",
        &[("xlink:href", base.join("/").as_str())],
    );
    w.empty("ows:ServiceContact", &[]);
    w.end();

    w.start("ows:OperationsMetadata", &[]);
    for operation in ["GetCapabilities", "DescribeProcess", "Execute"] {
        w.start("ows:Operation", &[("name", operation)]);
        w.start("ows:DCP", &[]).start("ows:HTTP", &[]);
        w.empty("ows:Get", &[("xlink:href", endpoint.as_str())]);
        w.empty("ows:Post", &[("xlink:href", endpoint.as_str())]);
        w.end().end().end();
    }
    w.end();

    w.start("wps:ProcessOfferings", &[]);
    for process in &processes {
        write_brief(&mut w, "wps:Process", process, &[]);
        w.end();
    }
    w.end();

    w.start("wps:Languages", &[]);
    w.start("wps:Default", &[]);
    w.text_element("ows:Language", &[], LANGUAGE);
    w.end();
    w.start("wps:Supported", &[]);
    w.text_element("ows:Language", &[], LANGUAGE);
    w.end();
    w.end();

    xml_response(w.finish())
}

/// Opens `name` (a `wps:ProcessBriefType`) and writes its identification: identifier,
/// title, abstract and metadata. The caller adds what follows and closes it.
pub(crate) fn write_brief(
    w: &mut XmlWriter,
    name: &str,
    process: &Process,
    extra_attributes: &[(&str, &str)],
) {
    let mut attributes = vec![("wps:processVersion", process.version.as_str())];
    attributes.extend_from_slice(extra_attributes);
    w.start(name, &attributes);
    w.text_element("ows:Identifier", &[], process.id.as_str());
    w.text_element("ows:Title", &[], &process.title);
    if !process.description.is_empty() {
        w.text_element("ows:Abstract", &[], &process.description);
    }
    for metadata in &process.metadata {
        let mut attributes = Vec::new();
        if let Some(title) = &metadata.title {
            attributes.push(("xlink:title", title.as_str()));
        }
        if let Some(role) = &metadata.role {
            attributes.push(("xlink:role", role.as_str()));
        }
        if let Some(href) = &metadata.href {
            attributes.push(("xlink:href", href.as_str()));
        }
        w.empty("ows:Metadata", &attributes);
    }
}
