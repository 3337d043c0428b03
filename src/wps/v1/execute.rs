//! Execute: a KVP or XML request read into [`ExecuteForm`], turned into the protocol-neutral
//! [`ExecuteRequest`] (literals typed by `jobs::execute::typed_literal`), and run by the
//! execution service (`jobs::execute::Execution`) as an ordinary job; then answered at once
//! (stored, asynchronous) or after the job ends.
//!
//! KVP syntax (05-007r7 §10.2.2): `DataInputs=a=1;b=@xlink:href=<url>;c=<v>@mimeType=text/xml`
//! (`;` between inputs, `@` before each attribute; an input named twice has two values),
//! `ResponseDocument=out@asReference=true;out2`, `RawDataOutput=out@mimeType=...`,
//! `storeExecuteResponse`, `status`, `lineage`. Every piece is percent-decoded once more
//! after the query string itself, so a value may carry `;`, `=` and `@` as `%3B`, `%3D`
//! and `%40` encoded twice.

use super::describe::{attribute, child, children, text_of};
use super::response::{execute_response, raw_log, raw_output, ResponseOptions};
use super::{exception, is_true};
use crate::domain::{
    ExecuteRequest, InputDescription, InputKind, InputValue, OutputRequest, Process, ResponseMode,
    TransmissionMode,
};
use crate::error::OwsCode;
use crate::http::{AppState, BaseUrl};
use crate::jobs::execute::{only_missing, typed_literal, ExecuteError, Execution, Mode};
use crate::jobs::request::RequestProblem;
use crate::wps::request::{Kvp, RequestBody};
use crate::wps::xml::{Element, Node};
use axum::response::Response;
use serde_json::Value;

/// A value as the client sent it, before the process's input kinds give it a meaning.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SentValue {
    /// Literal text (`wps:LiteralData`, or a KVP value without format attributes).
    Literal(String),
    /// `wps:ComplexData` (or a KVP value with `mimeType` / `encoding` / `schema`).
    Complex {
        content: String,
        mime_type: Option<String>,
        encoding: Option<String>,
    },
    /// `wps:Reference` / `@xlink:href=`.
    Reference {
        href: String,
        mime_type: Option<String>,
    },
    /// `wps:BoundingBoxData`: corners and CRS.
    BoundingBox {
        lower: Vec<f64>,
        upper: Vec<f64>,
        crs: Option<String>,
    },
}

/// One output the client asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct OutputDefinition {
    pub id: String,
    pub as_reference: bool,
    pub mime_type: Option<String>,
}

/// `wps:ResponseForm`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResponseForm {
    Document {
        store: bool,
        status: bool,
        lineage: bool,
        outputs: Vec<OutputDefinition>,
    },
    Raw(OutputDefinition),
}

/// An Execute request as read, KVP or XML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExecuteForm {
    pub identifier: String,
    pub inputs: Vec<(String, SentValue)>,
    pub form: ResponseForm,
}

/// Why a request could not be read: an OWS code, a locator and what to change.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FormError {
    pub code: OwsCode,
    pub locator: String,
    pub text: String,
}

impl FormError {
    fn missing(locator: &str, text: impl Into<String>) -> Self {
        FormError {
            code: OwsCode::MissingParameterValue,
            locator: locator.to_string(),
            text: text.into(),
        }
    }

    fn invalid(locator: &str, text: impl Into<String>) -> Self {
        FormError {
            code: OwsCode::InvalidParameterValue,
            locator: locator.to_string(),
            text: text.into(),
        }
    }

    fn into_response(self) -> Response {
        exception(self.code, Some(&self.locator), self.text)
    }
}

/// Answers an Execute request.
pub(crate) async fn wps_execute(
    app: &AppState,
    base: &BaseUrl,
    caller: &crate::auth::Caller,
    body: &RequestBody,
) -> Response {
    let form = match body {
        RequestBody::Kvp(kvp) => read_kvp(kvp),
        RequestBody::Xml(root) => read_xml(root),
    };
    let form = match form {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let execution = Execution::new(&app.catalog, &app.jobs, app.settings.sync_wait_limit);
    let process = match execution.process(&form.identifier).await {
        Ok(process) => process,
        Err(error) => return execute_exception(error, "finding a process"),
    };
    let (request, options) = match to_execute_request(&process, &form) {
        Ok(built) => built,
        Err(error) => return error.into_response(),
    };
    let mode = if options.store {
        Mode::Async
    } else {
        Mode::Sync { at_most: None }
    };
    if let Err(error) = execution.check(&process, &request, Vec::new()) {
        return execute_exception(error, "checking a request");
    }
    let job = match execution.start(caller, &process, request, None, mode).await {
        Ok(job) => job,
        Err(error) => return execute_exception(error, "running a job"),
    };
    if options.store {
        return execute_response(app, base, &job, Some(&process), &options).await;
    }
    if !job.status.is_final() {
        let options = ResponseOptions {
            store: true,
            ..options
        };
        return execute_response(app, base, &job, Some(&process), &options).await;
    }
    if options.raw_log {
        return raw_log(app, &job).await;
    }
    if job.request.response == ResponseMode::Raw {
        return raw_output(app, &job, &process).await;
    }
    execute_response(app, base, &job, Some(&process), &options).await
}

/// An execution refused or failed: an unknown process is `InvalidParameterValue` of the
/// `identifier` (WPS 1.0.0 has no `NoSuchProcess`), the request's problems one exception,
/// the rest as the error table gives them.
fn execute_exception(error: ExecuteError, context: &str) -> Response {
    match error {
        ExecuteError::NoSuchProcess(id) => exception(
            OwsCode::InvalidParameterValue,
            Some("identifier"),
            format!(
                "There is no process {id:?}. GetCapabilities lists the processes of this server."
            ),
        ),
        ExecuteError::Problems(problems) => problems_error(&problems).into_response(),
        other => crate::wps::exception::WpsException::from_api(
            crate::wps::WpsVersion::V1,
            &other.into_api_error(context),
            None,
        )
        .into_response(),
    }
}

/// An unexpected failure: logged in full, opaque to the client.
pub(crate) fn internal(context: &str, error: &(dyn std::error::Error + 'static)) -> Response {
    tracing::error!(
        error = %crate::error::cause_chain(error),
        "WPS 1.0.0: {context} failed"
    );
    exception(
        OwsCode::NoApplicableCode,
        None,
        "The server failed to answer this request. The failure was logged.",
    )
}

/// One exception for every problem `check_request` found: `MissingParameterValue` when only
/// required inputs are missing, else `InvalidParameterValue`; the locator is the input or
/// output of the first problem.
pub(crate) fn problems_error(problems: &[RequestProblem]) -> FormError {
    let locator = problems
        .first()
        .map(|p| locator_of(&p.location))
        .unwrap_or_else(|| "DataInputs".to_string());
    let listed: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", locator_of(&p.location), p.message))
        .collect();
    let text = format!(
        "Fix {} and send the request again: {}",
        if listed.len() == 1 {
            "this".to_string()
        } else {
            format!("these {} problems", listed.len())
        },
        listed.join("; ")
    );
    if only_missing(problems) {
        FormError::missing(&locator, text)
    } else {
        FormError::invalid(&locator, text)
    }
}

/// `/inputs/A/1` -> `A`, `/outputs/B` -> `B`.
fn locator_of(location: &str) -> String {
    let mut parts = location.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some("inputs" | "outputs"), Some(id)) => id.to_string(),
        (Some(other), _) => other.to_string(),
        _ => location.to_string(),
    }
}

// ---- KVP ----------------------------------------------------------------------------------

/// Reads a KVP Execute request.
pub(crate) fn read_kvp(kvp: &Kvp) -> Result<ExecuteForm, FormError> {
    let identifier = kvp
        .get("identifier")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FormError::missing(
                "identifier",
                "Name the process to run: identifier=<id>. GetCapabilities lists them.",
            )
        })?
        .to_string();

    let mut inputs = Vec::new();
    for entry in split_entries(kvp.get("DataInputs").unwrap_or("")) {
        let (id, rest) = match entry.split_once('=') {
            Some((id, rest)) => (percent_decode(id.trim()), rest),
            None => {
                return Err(FormError::invalid(
                    "DataInputs",
                    format!(
                        "{entry:?} is not an input: write DataInputs=<id>=<value>[;...], \
                         attributes after @ (e.g. <id>=@xlink:href=<url>)"
                    ),
                ))
            }
        };
        if id.is_empty() {
            return Err(FormError::invalid(
                "DataInputs",
                format!("{entry:?} has no input identifier before '='"),
            ));
        }
        let (value, attributes) = split_attributes(rest, INPUT_ATTRIBUTES);
        inputs.push((id, kvp_value(value, &attributes)));
    }

    let raw = kvp.get("RawDataOutput").filter(|s| !s.trim().is_empty());
    let document = kvp.get("ResponseDocument").filter(|s| !s.trim().is_empty());
    let store = is_true(kvp.get("storeExecuteResponse"));
    let status = is_true(kvp.get("status"));
    let lineage = is_true(kvp.get("lineage"));
    let form = match (raw, document) {
        (Some(_), Some(_)) => {
            return Err(FormError::invalid(
                "RawDataOutput",
                "Give either RawDataOutput or ResponseDocument, not both.",
            ))
        }
        (Some(raw), None) => {
            let mut outputs = read_kvp_outputs(raw, "RawDataOutput")?;
            if outputs.len() != 1 {
                return Err(FormError::invalid(
                    "RawDataOutput",
                    "RawDataOutput names exactly one output: RawDataOutput=<id>[@mimeType=...]",
                ));
            }
            if store {
                return Err(FormError::invalid(
                    "storeExecuteResponse",
                    "A raw output cannot be stored: use ResponseDocument=<id> with \
                     storeExecuteResponse=true, or leave storeExecuteResponse out.",
                ));
            }
            ResponseForm::Raw(outputs.remove(0))
        }
        (None, document) => ResponseForm::Document {
            store,
            status,
            lineage,
            outputs: match document {
                Some(d) => read_kvp_outputs(d, "ResponseDocument")?,
                None => Vec::new(),
            },
        },
    };
    Ok(ExecuteForm {
        identifier,
        inputs,
        form,
    })
}

const INPUT_ATTRIBUTES: &[&str] = &[
    "xlink:href",
    "href",
    "mimeType",
    "encoding",
    "schema",
    "uom",
    "dataType",
    "method",
];
const OUTPUT_ATTRIBUTES: &[&str] = &["asReference", "mimeType", "encoding", "schema", "uom"];

fn read_kvp_outputs(value: &str, locator: &str) -> Result<Vec<OutputDefinition>, FormError> {
    let mut outputs = Vec::new();
    for entry in split_entries(value) {
        let (id, attributes) = split_attributes(entry, OUTPUT_ATTRIBUTES);
        let id = id.trim().to_string();
        if id.is_empty() {
            return Err(FormError::invalid(
                locator,
                format!("{entry:?} names no output: write {locator}=<id>[@asReference=true]"),
            ));
        }
        outputs.push(OutputDefinition {
            id,
            as_reference: is_true(lookup(&attributes, "asReference")),
            mime_type: lookup(&attributes, "mimeType").map(str::to_string),
        });
    }
    Ok(outputs)
}

/// The non-empty `;`-separated entries.
fn split_entries(value: &str) -> impl Iterator<Item = &str> {
    value.split(';').filter(|s| !s.trim().is_empty())
}

/// `value@name=v@name2=v2` -> the value and the attributes (names as in `known`), each
/// percent-decoded. An `@` not followed by a known attribute name belongs to the value.
fn split_attributes(entry: &str, known: &[&str]) -> (String, Vec<(String, String)>) {
    let mut pieces = entry.split('@');
    let mut value = pieces.next().unwrap_or("").to_string();
    let mut attributes: Vec<(String, String)> = Vec::new();
    for piece in pieces {
        let name = piece.split_once('=').and_then(|(name, v)| {
            known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name.trim()))
                .map(|k| (k.to_string(), v))
        });
        match name {
            Some((name, v)) => attributes.push((name, percent_decode(v))),
            None if attributes.is_empty() => {
                value.push('@');
                value.push_str(piece);
            }
            None => {
                // An unknown attribute after known ones: kept, so the value stays intact.
                if let Some(last) = attributes.last_mut() {
                    last.1.push('@');
                    last.1.push_str(&percent_decode(piece));
                }
            }
        }
    }
    (percent_decode(&value), attributes)
}

fn lookup<'a>(attributes: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn kvp_value(value: String, attributes: &[(String, String)]) -> SentValue {
    let mime_type = lookup(attributes, "mimeType").map(str::to_string);
    if let Some(href) = lookup(attributes, "xlink:href").or_else(|| lookup(attributes, "href")) {
        return SentValue::Reference {
            href: href.to_string(),
            mime_type,
        };
    }
    let encoding = lookup(attributes, "encoding").map(str::to_string);
    if mime_type.is_some() || encoding.is_some() || lookup(attributes, "schema").is_some() {
        SentValue::Complex {
            content: value,
            mime_type,
            encoding,
        }
    } else {
        SentValue::Literal(value)
    }
}

/// Decodes `%XX` escapes (and `+` as a space is left alone: the query string's own decoding
/// already did that). Invalid escapes stay as written.
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

// ---- XML ----------------------------------------------------------------------------------

/// Reads a `wps:Execute` document.
pub(crate) fn read_xml(root: &Element) -> Result<ExecuteForm, FormError> {
    let identifier = child(root, "Identifier")
        .map(|e| text_of(e).trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FormError::missing(
                "Identifier",
                "wps:Execute needs an ows:Identifier naming the process to run.",
            )
        })?;

    let mut inputs = Vec::new();
    if let Some(data_inputs) = child(root, "DataInputs") {
        for input in children(data_inputs, "Input") {
            let id = child(input, "Identifier")
                .map(|e| text_of(e).trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    FormError::missing(
                        "Input",
                        "Every wps:Input needs an ows:Identifier naming the input.",
                    )
                })?;
            let value = xml_value(input, &id)?;
            inputs.push((id, value));
        }
    }

    let form = match child(root, "ResponseForm") {
        None => ResponseForm::Document {
            store: false,
            status: false,
            lineage: false,
            outputs: Vec::new(),
        },
        Some(form) => {
            if let Some(raw) = child(form, "RawDataOutput") {
                ResponseForm::Raw(xml_output(raw, "RawDataOutput")?)
            } else if let Some(document) = child(form, "ResponseDocument") {
                let outputs = children(document, "Output")
                    .map(|o| xml_output(o, "ResponseDocument"))
                    .collect::<Result<Vec<_>, _>>()?;
                ResponseForm::Document {
                    store: is_true(attribute(document, "storeExecuteResponse")),
                    status: is_true(attribute(document, "status")),
                    lineage: is_true(attribute(document, "lineage")),
                    outputs,
                }
            } else {
                return Err(FormError::invalid(
                    "ResponseForm",
                    "wps:ResponseForm holds a wps:ResponseDocument or a wps:RawDataOutput.",
                ));
            }
        }
    };
    Ok(ExecuteForm {
        identifier,
        inputs,
        form,
    })
}

fn xml_output(element: &Element, locator: &str) -> Result<OutputDefinition, FormError> {
    let id = child(element, "Identifier")
        .map(|e| text_of(e).trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FormError::missing(
                locator,
                format!("wps:{locator} needs an ows:Identifier naming the output."),
            )
        })?;
    Ok(OutputDefinition {
        id,
        as_reference: is_true(attribute(element, "asReference")),
        mime_type: attribute(element, "mimeType").map(str::to_string),
    })
}

fn xml_value(input: &Element, id: &str) -> Result<SentValue, FormError> {
    if let Some(reference) = child(input, "Reference") {
        let href = attribute(reference, "href")
            .map(str::to_string)
            .ok_or_else(|| {
                FormError::missing(
                    id,
                    format!("The wps:Reference of input {id:?} has no xlink:href."),
                )
            })?;
        if attribute(reference, "method").is_some_and(|m| m.eq_ignore_ascii_case("POST")) {
            return Err(FormError::invalid(
                id,
                format!(
                    "Input {id:?}: references are fetched with GET; POST references are not \
                     supported. Send the content inline in wps:Data/wps:ComplexData."
                ),
            ));
        }
        return Ok(SentValue::Reference {
            href,
            mime_type: attribute(reference, "mimeType").map(str::to_string),
        });
    }
    let data = child(input, "Data").ok_or_else(|| {
        FormError::missing(
            id,
            format!("Input {id:?} needs a wps:Data or a wps:Reference."),
        )
    })?;
    if let Some(literal) = child(data, "LiteralData") {
        return Ok(SentValue::Literal(text_of(literal)));
    }
    if let Some(complex) = child(data, "ComplexData") {
        let elements: Vec<&Element> = complex
            .children
            .iter()
            .filter_map(|n| match n {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
            .collect();
        let content = match elements.as_slice() {
            [] => text_of(complex),
            // XML content: the elements, serialised again (text between them is layout).
            several => several.iter().map(|e| e.to_xml()).collect(),
        };
        let content = if is_json_like(&content) || !elements.is_empty() {
            content.trim().to_string()
        } else {
            content
        };
        return Ok(SentValue::Complex {
            content,
            mime_type: attribute(complex, "mimeType").map(str::to_string),
            encoding: attribute(complex, "encoding").map(str::to_string),
        });
    }
    if let Some(bbox) = child(data, "BoundingBoxData") {
        let corner = |name: &str| -> Result<Vec<f64>, FormError> {
            let text = child(bbox, name).map(text_of).unwrap_or_default();
            text.split_whitespace()
                .map(|n| n.parse::<f64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    FormError::invalid(
                        id,
                        format!("Input {id:?}: ows:{name} must be numbers separated by spaces."),
                    )
                })
        };
        return Ok(SentValue::BoundingBox {
            lower: corner("LowerCorner")?,
            upper: corner("UpperCorner")?,
            crs: attribute(bbox, "crs").map(str::to_string),
        });
    }
    Err(FormError::invalid(
        id,
        format!(
            "Input {id:?}: wps:Data holds wps:LiteralData, wps:ComplexData or \
             wps:BoundingBoxData."
        ),
    ))
}

fn is_json_like(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

// ---- to the neutral request ---------------------------------------------------------------

/// The neutral request and the answer options of a read form.
pub(crate) fn to_execute_request(
    process: &Process,
    form: &ExecuteForm,
) -> Result<(ExecuteRequest, ResponseOptions), FormError> {
    let mut request = ExecuteRequest::default();
    // The log output of a process without outputs is not an output of the job itself.
    let described = |output: &&OutputDefinition| {
        !(process.outputs.is_empty() && output.id == super::LOG_OUTPUT)
    };
    for (id, sent) in &form.inputs {
        let value = input_value(process.input(id), sent);
        request.inputs.entry(id.clone()).or_default().push(value);
    }
    let options = match &form.form {
        // The job itself has no outputs to select: the answer is its log.
        ResponseForm::Raw(output) if !described(&output) => {
            request.response = ResponseMode::Document;
            ResponseOptions {
                raw_log: true,
                ..ResponseOptions::default()
            }
        }
        ResponseForm::Raw(output) => {
            request.response = ResponseMode::Raw;
            request
                .outputs
                .insert(output.id.clone(), output_request(output));
            ResponseOptions::default()
        }
        ResponseForm::Document {
            store,
            status,
            lineage,
            outputs,
        } => {
            if *status && !*store {
                return Err(FormError::invalid(
                    "status",
                    "status=true needs storeExecuteResponse=true (the status is kept at the \
                     statusLocation of a stored response).",
                ));
            }
            request.response = ResponseMode::Document;
            for output in outputs.iter().filter(described) {
                if request
                    .outputs
                    .insert(output.id.clone(), output_request(output))
                    .is_some()
                {
                    return Err(FormError::invalid(
                        &output.id,
                        format!("Output {:?} is asked for twice; name it once.", output.id),
                    ));
                }
            }
            ResponseOptions {
                store: *store,
                lineage: *lineage,
                raw_log: false,
            }
        }
    };
    Ok((request, options))
}

fn output_request(output: &OutputDefinition) -> OutputRequest {
    OutputRequest {
        transmission_mode: if output.as_reference {
            TransmissionMode::Reference
        } else {
            TransmissionMode::Value
        },
        media_type: output.mime_type.clone(),
    }
}

/// A sent value as the input's kind reads it. What cannot be read is passed on as text for
/// `check_request` to report with the expected type.
pub(crate) fn input_value(input: Option<&InputDescription>, sent: &SentValue) -> InputValue {
    let json_kind = match input.map(|i| &i.kind) {
        Some(InputKind::Json { kind }) => Some(*kind),
        _ => None,
    };
    match sent {
        SentValue::Reference { href, mime_type } => InputValue::Href {
            href: href.clone(),
            media_type: mime_type.clone(),
        },
        SentValue::Complex {
            content,
            mime_type,
            encoding: Some(encoding),
        } if encoding.eq_ignore_ascii_case("base64") => InputValue::Base64 {
            data: content.split_whitespace().collect(),
            media_type: mime_type.clone(),
        },
        SentValue::Literal(text) => match json_kind {
            Some(kind) => InputValue::Inline {
                value: typed_literal(kind, text),
                media_type: None,
            },
            None => InputValue::Inline {
                value: Value::String(text.clone()),
                media_type: None,
            },
        },
        SentValue::Complex {
            content, mime_type, ..
        } => match json_kind {
            Some(kind) => InputValue::Inline {
                value: typed_literal(kind, content),
                media_type: None,
            },
            None => InputValue::Inline {
                value: Value::String(content.clone()),
                media_type: mime_type.clone(),
            },
        },
        SentValue::BoundingBox { lower, upper, crs } => {
            let mut bbox: Vec<Value> = lower.iter().map(|n| Value::from(*n)).collect();
            bbox.extend(upper.iter().map(|n| Value::from(*n)));
            let mut object = serde_json::Map::new();
            object.insert("bbox".to_string(), Value::Array(bbox));
            if let Some(crs) = crs {
                object.insert("crs".to_string(), Value::String(crs.clone()));
            }
            InputValue::Inline {
                value: Value::Object(object),
                media_type: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn kvp(pairs: &[(&str, &str)]) -> Kvp {
        Kvp(pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect::<BTreeMap<_, _>>())
    }

    #[test]
    fn kvp_data_inputs_with_attributes_and_encoded_separators() {
        let form = read_kvp(&kvp(&[
            ("identifier", "echo"),
            (
                "DataInputs",
                "MESSAGE=hi%3Bthere%40x;REPEAT=2;F=@xlink:href=http%3A%2F%2Fa.b%2Fc%3Fd%3D1;\
                 X=<a>v</a>@mimeType=text/xml;M=a@b.org",
            ),
            ("ResponseDocument", "ECHO@asReference=true;ECHOED"),
            ("storeExecuteResponse", "true"),
            ("status", "TRUE"),
        ]))
        .unwrap();
        assert_eq!(form.identifier, "echo");
        assert_eq!(
            form.inputs,
            vec![
                ("MESSAGE".into(), SentValue::Literal("hi;there@x".into())),
                ("REPEAT".into(), SentValue::Literal("2".into())),
                (
                    "F".into(),
                    SentValue::Reference {
                        href: "http://a.b/c?d=1".into(),
                        mime_type: None
                    }
                ),
                (
                    "X".into(),
                    SentValue::Complex {
                        content: "<a>v</a>".into(),
                        mime_type: Some("text/xml".into()),
                        encoding: None
                    }
                ),
                ("M".into(), SentValue::Literal("a@b.org".into())),
            ]
        );
        assert_eq!(
            form.form,
            ResponseForm::Document {
                store: true,
                status: true,
                lineage: false,
                outputs: vec![
                    OutputDefinition {
                        id: "ECHO".into(),
                        as_reference: true,
                        mime_type: None
                    },
                    OutputDefinition {
                        id: "ECHOED".into(),
                        ..Default::default()
                    },
                ]
            }
        );
    }

    #[test]
    fn kvp_raw_output_and_errors() {
        let form = read_kvp(&kvp(&[
            ("identifier", "echo"),
            ("RawDataOutput", "ECHO@mimeType=text/plain"),
        ]))
        .unwrap();
        assert_eq!(
            form.form,
            ResponseForm::Raw(OutputDefinition {
                id: "ECHO".into(),
                as_reference: false,
                mime_type: Some("text/plain".into())
            })
        );
        let missing = read_kvp(&kvp(&[("DataInputs", "a=1")])).unwrap_err();
        assert_eq!(
            (missing.code.as_str(), missing.locator.as_str()),
            ("MissingParameterValue", "identifier")
        );
        let bad = read_kvp(&kvp(&[("identifier", "x"), ("DataInputs", "novalue")])).unwrap_err();
        assert_eq!(
            (bad.code.as_str(), bad.locator.as_str()),
            ("InvalidParameterValue", "DataInputs")
        );
        let stored_raw = read_kvp(&kvp(&[
            ("identifier", "x"),
            ("RawDataOutput", "A"),
            ("storeExecuteResponse", "true"),
        ]))
        .unwrap_err();
        assert_eq!(stored_raw.locator, "storeExecuteResponse");
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn problem_locations_become_locators() {
        assert_eq!(locator_of("/inputs/A/1"), "A");
        assert_eq!(locator_of("/outputs/B"), "B");
        assert_eq!(locator_of("/subscriber/x"), "subscriber");
    }
}
