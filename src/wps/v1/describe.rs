//! DescribeProcess: `wps:ProcessDescriptions` built from the same `domain::Process` the OGC
//! API renders (ogc-notes §7.4): json inputs of a scalar type are `LiteralData`, json
//! arrays and objects `ComplexData` `application/json`, input files `ComplexData` with
//! their media types; outputs likewise `LiteralOutput` / `ComplexOutput`.

use super::capabilities::write_brief;
use super::{
    exception, start_document, xml_response, LOG_ABSTRACT, LOG_MEDIA_TYPE, LOG_OUTPUT, LOG_TITLE,
    UNBOUNDED_MAX_OCCURS,
};
use crate::domain::{
    InputDescription, InputKind, OutputDescription, OutputKind, Process, ProcessId,
};
use crate::error::OwsCode;
use crate::http::AppState;
use crate::wps::request::RequestBody;
use crate::wps::writer::XmlWriter;
use crate::wps::xml::{Element, Node};
use axum::response::Response;
use seed::manifest::JsonType;
use serde_json::Value;
use std::sync::Arc;

/// Formats offered for a file input that accepts any media type (the first is the default).
const ANY_FILE_FORMATS: [&str; 4] = [
    "application/octet-stream",
    "text/plain",
    "application/xml",
    "application/json",
];

/// The descriptions of the processes named by `identifier` (comma-separated, or `ALL`).
pub(crate) async fn describe_process(app: &AppState, body: &RequestBody) -> Response {
    let identifiers: Vec<String> = match body {
        RequestBody::Kvp(kvp) => kvp
            .get("identifier")
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        RequestBody::Xml(root) => children(root, "Identifier")
            .map(|e| text_of(e).trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    if identifiers.is_empty() {
        return exception(
            OwsCode::MissingParameterValue,
            Some("identifier"),
            "Name the processes to describe: identifier=<id>[,<id>...], or identifier=ALL. \
             GetCapabilities lists them.",
        );
    }
    let processes: Vec<Arc<Process>> = if identifiers.iter().any(|i| i == "ALL") {
        let mut all = app.catalog.list();
        if all.is_empty() {
            // `wps:ProcessDescriptions` must hold at least one description.
            return exception(
                OwsCode::InvalidParameterValue,
                Some("identifier"),
                "This server offers no processes yet: there is nothing to describe. Publish \
                 a Seed image (or deploy one), then ask again.",
            );
        }
        all.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        all
    } else {
        let mut found = Vec::with_capacity(identifiers.len());
        for identifier in &identifiers {
            match find_process(app, identifier).await {
                Some(process) => found.push(process),
                None => {
                    return exception(
                        OwsCode::InvalidParameterValue,
                        Some("identifier"),
                        format!(
                            "There is no process {identifier:?}. GetCapabilities lists the \
                             processes of this server."
                        ),
                    )
                }
            }
        }
        found
    };
    xml_response(process_descriptions(
        &processes,
        app.settings.max_body_bytes,
    ))
}

/// The process with this identifier, if any.
pub(crate) async fn find_process(app: &AppState, identifier: &str) -> Option<Arc<Process>> {
    let id = ProcessId::parse(identifier).ok()?;
    app.catalog.find(&id).await
}

/// The `wps:ProcessDescriptions` document.
pub(crate) fn process_descriptions(processes: &[Arc<Process>], max_body_bytes: usize) -> String {
    let mut w = XmlWriter::new();
    start_document(
        &mut w,
        "wps:ProcessDescriptions",
        "wpsDescribeProcess_response.xsd",
        &[],
    );
    let megabytes = (max_body_bytes / (1024 * 1024)).max(1).to_string();
    for process in processes {
        // The local elements of this schema are unqualified (no elementFormDefault).
        write_brief(
            &mut w,
            "ProcessDescription",
            process,
            &[("storeSupported", "true"), ("statusSupported", "true")],
        );
        if !process.inputs.is_empty() {
            w.start("DataInputs", &[]);
            for input in &process.inputs {
                write_input(&mut w, input, &megabytes);
            }
            w.end();
        }
        w.start("ProcessOutputs", &[]);
        for output in &process.outputs {
            write_output(&mut w, output);
        }
        if process.outputs.is_empty() {
            w.start("Output", &[]);
            write_description(&mut w, LOG_OUTPUT, LOG_TITLE, Some(LOG_ABSTRACT));
            w.start("ComplexOutput", &[]);
            write_formats(&mut w, &[LOG_MEDIA_TYPE]);
            w.end().end();
        }
        w.end();
        w.end();
    }
    w.finish()
}

fn write_description(w: &mut XmlWriter, id: &str, title: &str, description: Option<&str>) {
    w.text_element("ows:Identifier", &[], id);
    w.text_element("ows:Title", &[], if title.is_empty() { id } else { title });
    if let Some(description) = description.filter(|d| !d.is_empty()) {
        w.text_element("ows:Abstract", &[], description);
    }
}

fn write_input(w: &mut XmlWriter, input: &InputDescription, megabytes: &str) {
    let min = input.min_occurs.to_string();
    let max = input
        .max_occurs
        .unwrap_or(UNBOUNDED_MAX_OCCURS)
        .max(1)
        .to_string();
    w.start("Input", &[("minOccurs", &min), ("maxOccurs", &max)]);
    write_description(w, &input.id, &input.title, input.description.as_deref());
    match &input.kind {
        InputKind::Json { kind } => match literal_type(*kind) {
            Some((name, uri)) => {
                w.start("LiteralData", &[]);
                w.text_element("ows:DataType", &[("ows:reference", uri)], name);
                write_allowed_values(w, &input.schema);
                if let Some(default) = input.schema.get("default").and_then(literal_text) {
                    w.text_element("DefaultValue", &[], &default);
                }
                w.end();
            }
            None => {
                w.start("ComplexData", &[("maximumMegabytes", megabytes)]);
                write_formats(w, &["application/json"]);
                w.end();
            }
        },
        InputKind::File { media_types } => {
            w.start("ComplexData", &[("maximumMegabytes", megabytes)]);
            if media_types.is_empty() {
                write_formats(w, &ANY_FILE_FORMATS);
            } else {
                let types: Vec<&str> = media_types.iter().map(String::as_str).collect();
                write_formats(w, &types);
            }
            w.end();
        }
    }
    w.end();
}

fn write_output(w: &mut XmlWriter, output: &OutputDescription) {
    w.start("Output", &[]);
    write_description(w, &output.id, &output.title, output.description.as_deref());
    match &output.kind {
        OutputKind::Json { kind, .. } => match literal_type(*kind) {
            Some((name, uri)) => {
                w.start("LiteralOutput", &[]);
                w.text_element("ows:DataType", &[("ows:reference", uri)], name);
                w.end();
            }
            None => {
                w.start("ComplexOutput", &[]);
                write_formats(w, &["application/json"]);
                w.end();
            }
        },
        OutputKind::File { media_type, .. } => {
            w.start("ComplexOutput", &[]);
            write_formats(
                w,
                &[media_type.as_deref().unwrap_or("application/octet-stream")],
            );
            w.end();
        }
    }
    w.end();
}

/// `Default/Format` (the first type) and `Supported/Format` (all of them).
fn write_formats(w: &mut XmlWriter, media_types: &[&str]) {
    let Some(first) = media_types.first() else {
        return;
    };
    w.start("Default", &[]).start("Format", &[]);
    w.text_element("MimeType", &[], first);
    w.end().end();
    w.start("Supported", &[]);
    for media_type in media_types {
        w.start("Format", &[]);
        w.text_element("MimeType", &[], media_type);
        w.end();
    }
    w.end();
}

/// `ows:AllowedValues` from the schema's `enum`, else `ows:AnyValue`.
fn write_allowed_values(w: &mut XmlWriter, schema: &Value) {
    let values: Vec<String> = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(literal_text).collect())
        .unwrap_or_default();
    if values.is_empty() {
        w.empty("ows:AnyValue", &[]);
        return;
    }
    w.start("ows:AllowedValues", &[]);
    for value in &values {
        w.text_element("ows:Value", &[], value);
    }
    w.end();
}

/// The XML Schema type of a scalar json type (`None` for arrays and objects).
pub(crate) fn literal_type(kind: JsonType) -> Option<(&'static str, &'static str)> {
    match kind {
        JsonType::String => Some(("string", "http://www.w3.org/2001/XMLSchema#string")),
        JsonType::Integer => Some(("integer", "http://www.w3.org/2001/XMLSchema#integer")),
        JsonType::Number => Some(("double", "http://www.w3.org/2001/XMLSchema#double")),
        JsonType::Boolean => Some(("boolean", "http://www.w3.org/2001/XMLSchema#boolean")),
        JsonType::Array | JsonType::Object => None,
    }
}

/// A scalar JSON value as literal text (`None` for arrays, objects and null).
pub(crate) fn literal_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The child elements of `parent` with this local name (any namespace).
pub(crate) fn children<'a>(
    parent: &'a Element,
    name: &'a str,
) -> impl Iterator<Item = &'a Element> + 'a {
    parent.children.iter().filter_map(move |node| match node {
        Node::Element(e) if e.name == name => Some(e),
        _ => None,
    })
}

/// The first child element with this local name.
pub(crate) fn child<'a>(parent: &'a Element, name: &str) -> Option<&'a Element> {
    parent.children.iter().find_map(|node| match node {
        Node::Element(e) if e.name == name => Some(e),
        _ => None,
    })
}

/// The text content of an element (its text nodes, concatenated).
pub(crate) fn text_of(element: &Element) -> String {
    element
        .children
        .iter()
        .filter_map(|node| match node {
            Node::Text(t) => Some(t.as_str()),
            Node::Element(_) => None,
        })
        .collect()
}

/// An attribute's value by local name (any namespace).
pub(crate) fn attribute<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attributes
        .iter()
        .find(|a| a.name == name)
        .map(|a| a.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::seed_process::process_from_manifest;

    fn process(interface: serde_json::Value) -> Arc<Process> {
        let manifest: seed::Manifest = serde_json::from_value(serde_json::json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": "demo", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": "Demo", "description": "A <demo> & more",
                "maintainer": {"name": "n", "email": "e@example.org"},
                "timeout": 10,
                "interface": interface
            }
        }))
        .unwrap();
        Arc::new(process_from_manifest(
            &manifest,
            "demo-1.0.0-seed:1.0.0",
            None,
        ))
    }

    #[test]
    fn inputs_and_outputs_get_their_wps_1_forms() {
        let process = process(serde_json::json!({
            "inputs": {
                "files": [{"name": "MANY", "multiple": true, "mediaTypes": ["image/png", "image/tiff"]}],
                "json": [
                    {"name": "COUNT", "type": "integer", "required": false},
                    {"name": "OPTIONS", "type": "object"}
                ]
            },
            "outputs": {
                "files": [{"name": "OUT", "mediaType": "image/png", "pattern": "*.png"}],
                "json": [{"name": "TOTAL", "type": "number"}]
            }
        }));
        let xml = process_descriptions(&[process], 8 * 1024 * 1024);
        assert!(xml.contains("<ows:Abstract>A &lt;demo&gt; &amp; more</ows:Abstract>"));
        assert!(xml.contains(
            "<Input minOccurs=\"0\" maxOccurs=\"1\"><ows:Identifier>COUNT</ows:Identifier>"
        ));
        assert!(xml.contains("XMLSchema#integer\">integer</ows:DataType><ows:AnyValue/>"));
        assert!(xml.contains(
            "<ows:Identifier>OPTIONS</ows:Identifier><ows:Title>Options</ows:Title>\
             <ComplexData maximumMegabytes=\"8\"><Default><Format><MimeType>application/json"
        ));
        assert!(xml.contains("maxOccurs=\"1000\"><ows:Identifier>MANY</ows:Identifier>"));
        assert!(xml.contains(
            "<Default><Format><MimeType>image/png</MimeType></Format></Default><Supported>\
             <Format><MimeType>image/png</MimeType></Format><Format><MimeType>image/tiff"
        ));
        assert!(xml.contains("<ComplexOutput><Default><Format><MimeType>image/png"));
        assert!(xml.contains("<LiteralOutput><ows:DataType ows:reference=\"http://www.w3.org/2001/XMLSchema#double\">double"));
        assert!(!xml.contains("JOB_LOG"));
    }

    #[test]
    fn a_process_without_outputs_describes_its_log() {
        let xml = process_descriptions(&[process(serde_json::json!({}))], 1024);
        assert!(
            xml.contains("<ows:Identifier>JOB_LOG</ows:Identifier><ows:Title>Job log</ows:Title>")
        );
        assert!(
            !xml.contains("<DataInputs>"),
            "no inputs, no DataInputs: {xml}"
        );
    }
}
