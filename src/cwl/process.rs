//! A CWL CommandLineTool deployed as a process: the document as deployed, which entry of it
//! runs, the image pinned by digest, and the OGC description read from the tool.
//!
//! Choices:
//! - The binding keeps the whole document (a `$graph` with all its processes) and the id
//!   of its entry, so that a CWL Workflow deployed later can take the graph's tools as its
//!   steps from the same stored document.
//! - A deployed document is self-contained: `$import`, `$include` and File or Directory
//!   `location`/`path` values are refused, since they would make the server read its own
//!   files (a literal File with `contents` is fine).
//! - Every tool names its image (`DockerRequirement`): the deploy pins it by digest and
//!   jobs run the pinned image (written over `dockerImageId` when the tool is loaded).
//! - Inputs: `File` and `File[]` are file inputs (staged as Seed file inputs are); every
//!   other type is a JSON value checked against the CWL type when the job runs.
//!   `Directory` inputs, `Any` and unions of several types are refused at deploy: OGC
//!   has no way to send a directory, and a value needs one JSON type to be described.
//! - `format` IRIs under `https://www.iana.org/assignments/media-types/` are media types;
//!   other formats (EDAM, ...) stay in the description only.

use super::document::{parse_tool, parse_yaml, short_id, Parameter, Tool};
use super::types::describe;
use super::CwlError;
use crate::domain::{
    Binding, InputDescription, InputKind, JobControlOption, Metadata, OutputDescription,
    OutputKind, Process, ProcessId,
};
use seed::manifest::{JsonType, ScalarResource};
use serde_json::{json, Value};
use std::path::Path;

/// The key of a stored row's manifest column that marks a CWL process.
pub const STORED_KEY: &str = "cwl";
/// Metadata role of the image reference as the tool names it (before pinning).
pub const ROLE_TOOL_IMAGE: &str = "urn:ades:cwl:dockerPull";
/// Metadata role of the entry's class and id in the deployed document.
pub const ROLE_ENTRY: &str = "urn:ades:cwl:entry";
/// The prefix of format IRIs that name a media type.
const IANA_MEDIA_TYPES: [&str; 2] = [
    "https://www.iana.org/assignments/media-types/",
    "http://www.iana.org/assignments/media-types/",
];

/// What a CWL process runs.
#[derive(Debug, Clone)]
pub struct CwlBinding {
    /// The whole document as deployed, as JSON (`$graph` kept).
    pub document: Value,
    /// The short id of the entry in the document's `$graph` (`None`: the document is one
    /// process).
    pub entry: Option<String>,
    /// The image as the tool names it.
    pub image: String,
    /// What jobs run: `repository@sha256:...`, or a local image id.
    pub pinned: String,
    /// The entry, read, its image replaced by `pinned`.
    pub tool: Tool,
    /// `ResourceRequirement` as Seed resource names (`cpus`, `mem`, `disk`), for the same
    /// admission and accounting as Seed jobs; only literal numbers count.
    pub resources: Vec<ScalarResource>,
}

impl PartialEq for CwlBinding {
    fn eq(&self, other: &Self) -> bool {
        self.document == other.document && self.entry == other.entry && self.pinned == other.pinned
    }
}

/// Reads a deployed CWL text (YAML or JSON) and checks it is self-contained.
pub fn read_document(text: &str) -> Result<Value, CwlError> {
    let document = parse_yaml(text)?;
    if !document.is_object() {
        return Err(CwlError::Invalid(
            "a CWL document is a mapping with cwlVersion and class (or $graph)".into(),
        ));
    }
    check_self_contained(&document, "")?;
    Ok(document)
}

fn check_self_contained(value: &Value, pointer: &str) -> Result<(), CwlError> {
    match value {
        Value::Object(map) => {
            for key in ["$import", "$include"] {
                if map.contains_key(key) {
                    return Err(CwlError::Invalid(format!(
                        "{key} at {} reads another file: a deployed document must be \
                         self-contained (put the imported text in place)",
                        shown(pointer)
                    )));
                }
            }
            let is_file = matches!(
                map.get("class").and_then(Value::as_str),
                Some("File") | Some("Directory")
            );
            if is_file {
                for key in ["location", "path"] {
                    if let Some(named) = map.get(key) {
                        return Err(CwlError::Invalid(format!(
                            "the {} at {} names the file {named}: a deployed document cannot \
                             refer to the server's files; give it literal contents, or make \
                             it an input",
                            map.get("class").and_then(Value::as_str).unwrap_or("File"),
                            shown(pointer)
                        )));
                    }
                }
            }
            for (key, inner) in map {
                check_self_contained(inner, &format!("{pointer}/{key}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                check_self_contained(inner, &format!("{pointer}/{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn shown(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

/// The processes of a document: each `$graph` entry, or the document itself.
fn processes(document: &Value) -> Vec<&Value> {
    match document.get("$graph") {
        Some(Value::Array(graph)) => graph.iter().collect(),
        _ => vec![document],
    }
}

fn class_of(process: &Value) -> &str {
    process
        .get("class")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The entry to deploy: `wanted` (`?w=`), else the graph's only Workflow, else `main`,
/// else its only process; `None` for a document that is one process. Returns the entry's
/// short id and its class.
pub fn pick_entry(
    document: &Value,
    wanted: Option<&str>,
) -> Result<(Option<String>, String), CwlError> {
    let Some(Value::Array(graph)) = document.get("$graph") else {
        if let Some(wanted) = wanted {
            let id = document.get("id").and_then(Value::as_str).map(short_id);
            if id.as_deref() != Some(wanted) {
                return Err(CwlError::Invalid(format!(
                    "the document has no process {wanted:?} (w={wanted}): it is one process{}",
                    id.map(|id| format!(" with id {id:?}")).unwrap_or_default()
                )));
            }
        }
        return Ok((None, class_of(document).to_string()));
    };
    let id_of = |p: &Value| p.get("id").and_then(Value::as_str).map(short_id);
    let ids: Vec<String> = graph.iter().filter_map(id_of).collect();
    let found = match wanted {
        Some(wanted) => graph.iter().find(|p| id_of(p).as_deref() == Some(wanted)),
        None => {
            let workflows: Vec<&Value> =
                graph.iter().filter(|p| class_of(p) == "Workflow").collect();
            match workflows.as_slice() {
                [one] => Some(*one),
                _ => graph
                    .iter()
                    .find(|p| id_of(p).as_deref() == Some("main"))
                    .or_else(|| (graph.len() == 1).then(|| &graph[0])),
            }
        }
    };
    let Some(process) = found else {
        return Err(CwlError::Invalid(format!(
            "the $graph has no process {}: name one of {} with ?w=<id>",
            wanted.unwrap_or("main"),
            ids.join(", ")
        )));
    };
    let id = id_of(process).ok_or_else(|| {
        CwlError::Invalid("the $graph entry to deploy has no id: give it one".into())
    })?;
    Ok((Some(id), class_of(process).to_string()))
}

/// Whether the document has a process with short id `id`.
pub fn has_process(document: &Value, id: &str) -> bool {
    raw_entry(document, Some(id)).is_some()
}

/// The raw entry of the document.
fn raw_entry<'a>(document: &'a Value, entry: Option<&str>) -> Option<&'a Value> {
    match entry {
        None => Some(document),
        Some(entry) => processes(document)
            .into_iter()
            .find(|p| p.get("id").and_then(Value::as_str).map(short_id).as_deref() == Some(entry)),
    }
}

/// Reads the entry of `document` as a tool (no file is ever read: the document is
/// self-contained).
pub fn load_entry(document: &Value, entry: Option<&str>) -> Result<Tool, CwlError> {
    let text = serde_json::to_string(document)
        .map_err(|err| CwlError::Invalid(format!("the document cannot be written: {err}")))?;
    // A directory that holds nothing: relative locations could only name nothing there.
    parse_tool(&text, Path::new("/nonexistent/ades-cwl"), entry)
}

/// The image a tool names: `dockerPull`, else `dockerImageId`.
pub fn tool_image(tool: &Tool) -> Option<String> {
    let docker = tool.requirement("DockerRequirement")?;
    docker
        .get("dockerPull")
        .or_else(|| docker.get("dockerImageId"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|image| !image.is_empty())
        .map(str::to_string)
}

/// Points the tool's `DockerRequirement` at the pinned image (the runner takes
/// `dockerImageId` first).
fn pin(tool: &mut Tool, pinned: &str) {
    for requirement in tool.requirements.iter_mut().chain(tool.hints.iter_mut()) {
        if requirement.get("class").and_then(Value::as_str) == Some("DockerRequirement") {
            requirement["dockerImageId"] = Value::String(pinned.to_string());
        }
    }
}

/// Checks what a deployed tool may not do (JavaScript without an
/// `InlineJavascriptRequirement`, Directory inputs, no image) and returns the binding.
pub fn binding(
    document: Value,
    entry: Option<String>,
    image: String,
    pinned: String,
) -> Result<CwlBinding, CwlError> {
    let mut tool = load_entry(&document, entry.as_deref())?;
    if let Some(expression) = tool.javascript_without_requirement() {
        return Err(super::expression::ExpressionError::JavaScript(expression.into()).into());
    }
    pin(&mut tool, &pinned);
    let resources = resources_of(&tool);
    Ok(CwlBinding {
        document,
        entry,
        image,
        pinned,
        tool,
        resources,
    })
}

fn resources_of(tool: &Tool) -> Vec<ScalarResource> {
    let Some(requirement) = tool.requirement("ResourceRequirement") else {
        return Vec::new();
    };
    let literal = |key: &str| requirement.get(key).and_then(Value::as_f64);
    [
        ("cpus", literal("coresMin")),
        ("mem", literal("ramMin")),
        ("disk", literal("outdirMin")),
    ]
    .into_iter()
    .filter_map(|(name, value)| {
        value.map(|value| ScalarResource {
            name: name.to_string(),
            value,
            input_multiplier: None,
        })
    })
    .collect()
}

/// The process a binding offers; the error says what in the tool to change.
pub fn to_process(binding: CwlBinding) -> Result<Process, String> {
    let tool = &binding.tool;
    let raw = raw_entry(&binding.document, binding.entry.as_deref()).unwrap_or(&Value::Null);
    let id_text = tool
        .id
        .as_deref()
        .map(short_id)
        .or_else(|| binding.entry.clone())
        .filter(|id| !id.is_empty())
        .ok_or("the tool has no id: give it one (it becomes the process id)")?;
    let id = ProcessId::parse(&id_text)
        .map_err(|err| format!("the tool id {id_text:?} cannot be a process id: {err}"))?;
    let inputs = tool
        .inputs
        .iter()
        .map(|p| input_description(p, &tool.namespaces))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = tool
        .outputs
        .iter()
        .map(|p| output_description(p, &tool.namespaces))
        .collect::<Result<Vec<_>, _>>()?;
    let schema_org = |name: &str| {
        raw.get(format!("s:{name}"))
            .or_else(|| raw.get(format!("https://schema.org/{name}")))
            .or_else(|| raw.get(format!("http://schema.org/{name}")))
    };
    let version = schema_org("softwareVersion")
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "1.0.0".to_string());
    let keywords = match schema_org("keywords") {
        Some(Value::String(words)) => words
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(words)) => words
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let metadata = vec![
        Metadata {
            title: Some(binding.pinned.clone()),
            role: Some(crate::catalog::seed_process::ROLE_IMAGE.to_string()),
            href: None,
        },
        Metadata {
            title: Some(binding.image.clone()),
            role: Some(ROLE_TOOL_IMAGE.to_string()),
            href: None,
        },
        Metadata {
            title: Some(format!(
                "CommandLineTool {}",
                binding.entry.as_deref().unwrap_or(&id_text)
            )),
            role: Some(ROLE_ENTRY.to_string()),
            href: None,
        },
    ];
    Ok(Process {
        id,
        version,
        title: tool
            .label
            .clone()
            .unwrap_or_else(|| crate::catalog::seed_process::humanize(&id_text)),
        description: tool.doc.clone().unwrap_or_default(),
        keywords,
        metadata,
        job_control_options: vec![
            JobControlOption::SyncExecute,
            JobControlOption::AsyncExecute,
            JobControlOption::Dismiss,
        ],
        inputs,
        outputs,
        binding: Binding::Cwl(std::sync::Arc::new(binding)),
        mutable: true,
    })
}

/// The type without `null`, and whether `null` was in it.
fn strip_null(ty: &Value) -> (Value, bool) {
    match ty {
        Value::Array(union) => {
            let optional = union.iter().any(|t| t == "null");
            let rest: Vec<Value> = union.iter().filter(|t| *t != "null").cloned().collect();
            match rest.as_slice() {
                [one] => (one.clone(), optional),
                _ => (Value::Array(rest), optional),
            }
        }
        other => (other.clone(), false),
    }
}

fn items_of(ty: &Value) -> Option<&Value> {
    (ty.get("type").and_then(Value::as_str) == Some("array"))
        .then(|| ty.get("items"))
        .flatten()
}

/// Media types of a `format` (IANA IRIs only).
fn media_types(
    format: Option<&Value>,
    namespaces: &std::collections::BTreeMap<String, String>,
) -> Vec<String> {
    let formats: Vec<&str> = match format {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    formats
        .into_iter()
        .filter_map(|f| {
            let expanded = match f.split_once(':') {
                Some((prefix, rest)) if namespaces.contains_key(prefix) => {
                    format!("{}{rest}", namespaces[prefix])
                }
                _ => f.to_string(),
            };
            IANA_MEDIA_TYPES
                .iter()
                .find_map(|prefix| expanded.strip_prefix(prefix))
                .filter(|mt| mt.contains('/'))
                .map(str::to_string)
        })
        .collect()
}

fn binary_schema(media_type: Option<&str>) -> Value {
    match media_type {
        Some(mt) => json!({"type": "string", "contentEncoding": "binary", "contentMediaType": mt}),
        None => json!({"type": "string", "contentEncoding": "binary"}),
    }
}

/// The JSON type and OGC schema of a value type (not File or Directory).
fn value_schema(ty: &Value, what: &str) -> Result<(JsonType, Value), String> {
    let refuse = |why: &str| Err(format!("{what} is of type {}: {why}", describe(ty)));
    match ty {
        Value::String(name) => match name.as_str() {
            "int" | "long" => Ok((JsonType::Integer, json!({"type": "integer"}))),
            "float" | "double" => Ok((
                JsonType::Number,
                json!({"type": "number", "format": name}),
            )),
            "string" => Ok((JsonType::String, json!({"type": "string"}))),
            "boolean" => Ok((JsonType::Boolean, json!({"type": "boolean"}))),
            "File" | "Directory" => refuse("files are allowed only as inputs of their own, not inside arrays of values or records"),
            _ => refuse("give it one concrete type (string, int, long, float, double, boolean, an enum, an array or a record)"),
        },
        Value::Array(_) => refuse("a union of several types cannot be described as one OGC input; give it one type"),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("enum") => Ok((
                JsonType::String,
                json!({"type": "string", "enum": map.get("symbols").cloned().unwrap_or(json!([]))}),
            )),
            Some("array") => {
                let (_, items) = value_schema(map.get("items").unwrap_or(&Value::Null), what)?;
                Ok((JsonType::Array, json!({"type": "array", "items": items})))
            }
            Some("record") => {
                let mut properties = serde_json::Map::new();
                let mut required = Vec::new();
                for field in super::types::record_fields(ty) {
                    let name = field.get("name").and_then(Value::as_str).unwrap_or_default();
                    let (field_ty, optional) = strip_null(field.get("type").unwrap_or(&Value::Null));
                    let (_, schema) = value_schema(&field_ty, &format!("{what} field {name}"))?;
                    properties.insert(name.to_string(), schema);
                    if !optional {
                        required.push(Value::String(name.to_string()));
                    }
                }
                Ok((
                    JsonType::Object,
                    json!({"type": "object", "properties": properties, "required": required}),
                ))
            }
            _ => refuse("this type is not described here"),
        },
        _ => refuse("not a type"),
    }
}

pub(crate) fn input_description(
    input: &Parameter,
    namespaces: &std::collections::BTreeMap<String, String>,
) -> Result<InputDescription, String> {
    let what = format!("input {}", input.id);
    crate::workspace::staging::input_dir_name(&input.id).map_err(|_| {
        format!(
            "{what}: an input id of a deployed tool is made of letters, digits, _ and - only \
             (it names the input's staging directory)"
        )
    })?;
    let (ty, nullable) = strip_null(&input.ty);
    let optional = nullable || input.default.is_some();
    let min_occurs = u32::from(!optional);
    let file_media = media_types(input.format.as_ref(), namespaces);
    let file_schema = || match file_media.as_slice() {
        [] => binary_schema(None),
        [one] => binary_schema(Some(one)),
        several => {
            json!({"oneOf": several.iter().map(|mt| binary_schema(Some(mt))).collect::<Vec<_>>()})
        }
    };
    let is_class = |t: &Value, class: &str| t.as_str() == Some(class);
    let (max_occurs, schema, kind) = if is_class(&ty, "File") {
        (
            Some(1),
            file_schema(),
            InputKind::File {
                media_types: file_media.clone(),
            },
        )
    } else if items_of(&ty).is_some_and(|items| is_class(items, "File")) {
        (
            None,
            file_schema(),
            InputKind::File {
                media_types: file_media.clone(),
            },
        )
    } else if is_class(&ty, "Directory") || items_of(&ty).is_some_and(|i| is_class(i, "Directory"))
    {
        return Err(format!(
            "{what} is a Directory: OGC clients send files and values, not directories, so \
             a deployed tool takes File inputs (or File[]) instead"
        ));
    } else {
        let (kind, mut schema) = value_schema(&ty, &what)?;
        if let Some(default) = &input.default {
            schema["default"] = default.clone();
        }
        if nullable {
            schema["nullable"] = json!(true);
        }
        (Some(1), schema, InputKind::Json { kind })
    };
    Ok(InputDescription {
        id: input.id.clone(),
        title: input
            .label
            .clone()
            .unwrap_or_else(|| crate::catalog::seed_process::humanize(&input.id)),
        description: input.doc.clone(),
        min_occurs,
        max_occurs,
        schema,
        kind,
    })
}

fn output_description(
    output: &Parameter,
    namespaces: &std::collections::BTreeMap<String, String>,
) -> Result<OutputDescription, String> {
    let what = format!("output {}", output.id);
    let (ty, optional) = strip_null(&output.ty);
    let media_type = media_types(output.format.as_ref(), namespaces)
        .into_iter()
        .next();
    let file_like = |t: &Value| matches!(t.as_str(), Some("File") | Some("Directory"));
    let (schema, kind) = if file_like(&ty) || items_of(&ty).is_some_and(file_like) {
        // A Directory is given as the files in it, each a link.
        let multiple = ty != "File";
        let one = binary_schema(media_type.as_deref());
        let schema = if multiple {
            json!({"type": "array", "items": one})
        } else {
            one
        };
        (
            schema,
            OutputKind::File {
                media_type,
                multiple,
                required: !optional,
            },
        )
    } else {
        let (kind, schema) = value_schema(&ty, &what)?;
        (
            schema,
            OutputKind::Json {
                kind,
                required: !optional,
            },
        )
    };
    Ok(OutputDescription {
        id: output.id.clone(),
        title: output
            .label
            .clone()
            .unwrap_or_else(|| crate::catalog::seed_process::humanize(&output.id)),
        description: output.doc.clone(),
        schema,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOL: &str = "cwlVersion: v1.2
class: CommandLineTool
id: shout
label: Shout
$namespaces: {iana: 'https://www.iana.org/assignments/media-types/', s: 'https://schema.org/'}
s:softwareVersion: 3.0.1
requirements: {DockerRequirement: {dockerPull: 'busybox:1'}, ResourceRequirement: {coresMin: 2, ramMin: '$(inputs.n)'}}
inputs:
  text: {type: File, format: 'iana:text/plain'}
  texts: 'File[]?'
  n: {type: int, default: 3}
  mode: {type: {type: enum, symbols: [a, b]}}
outputs:
  out: {type: File, format: 'iana:image/png', outputBinding: {glob: o.png}}
  all: {type: Directory, outputBinding: {glob: .}}
  said: {type: 'string?', outputBinding: {outputEval: '$(inputs.n)'}}
baseCommand: 'true'
";

    fn process_of(text: &str) -> Result<Process, String> {
        let document = read_document(text).map_err(|e| e.to_string())?;
        let (entry, _) = pick_entry(&document, None).map_err(|e| e.to_string())?;
        let binding = binding(document, entry, "busybox:1".into(), "sha256:abc".into())
            .map_err(|e| e.to_string())?;
        to_process(binding)
    }

    #[test]
    fn a_tool_becomes_a_described_process_running_the_pinned_image() {
        let process = process_of(TOOL).unwrap();
        assert_eq!(process.id.as_str(), "shout");
        assert_eq!(process.version, "3.0.1");
        assert_eq!(process.title, "Shout");
        let text = process.input("text").unwrap();
        assert_eq!(
            text.kind,
            InputKind::File {
                media_types: vec!["text/plain".into()]
            }
        );
        assert_eq!((text.min_occurs, text.max_occurs), (1, Some(1)));
        let texts = process.input("texts").unwrap();
        assert_eq!((texts.min_occurs, texts.max_occurs), (0, None));
        let n = process.input("n").unwrap();
        assert_eq!(n.schema, json!({"type": "integer", "default": 3}));
        assert_eq!(n.min_occurs, 0);
        assert_eq!(
            process.input("mode").unwrap().schema,
            json!({"type": "string", "enum": ["a", "b"]})
        );
        assert!(matches!(
            process.output("out").unwrap().kind,
            OutputKind::File { ref media_type, multiple: false, required: true }
                if media_type.as_deref() == Some("image/png")
        ));
        assert!(matches!(
            process.output("all").unwrap().kind,
            OutputKind::File { multiple: true, .. }
        ));
        assert!(matches!(
            process.output("said").unwrap().kind,
            OutputKind::Json {
                kind: JsonType::String,
                required: false
            }
        ));
        let cwl = process.cwl().unwrap();
        // Jobs run the pinned image; only literal resources are accounted.
        assert_eq!(tool_image_id(&cwl.tool), Some("sha256:abc".to_string()));
        assert_eq!(cwl.resources.len(), 1);
        assert_eq!(cwl.resources[0].name, "cpus");
    }

    fn tool_image_id(tool: &Tool) -> Option<String> {
        tool.requirement("DockerRequirement")?
            .get("dockerImageId")?
            .as_str()
            .map(str::to_string)
    }

    #[test]
    fn documents_that_reach_for_server_files_or_cannot_be_described_are_refused() {
        let refused = |text: &str, expected: &str| {
            let error = process_of(text).unwrap_err();
            assert!(error.contains(expected), "{expected}: {error}");
        };
        refused(
            &TOOL.replace("label: Shout", "label: {$include: /etc/hostname}"),
            "$include",
        );
        refused(
            &TOOL.replace(
                "n: {type: int, default: 3}",
                "n: {type: File, default: {class: File, path: /etc/shadow}}",
            ),
            "/etc/shadow",
        );
        refused(
            &TOOL.replace("texts: 'File[]?'", "texts: Directory"),
            "Directory",
        );
        refused(
            &TOOL.replace("texts: 'File[]?'", "texts: [int, string]"),
            "union",
        );
        refused(
            &TOOL.replace("texts: 'File[]?'", "texts: Any"),
            "one concrete type",
        );
        refused(
            &TOOL.replace("texts: 'File[]?'", "te.xts: int"),
            "letters, digits",
        );
        refused(
            &TOOL.replace(
                "baseCommand: 'true'",
                "baseCommand: 'true'\narguments: ['${return 1;}']",
            ),
            "${return 1;}",
        );
    }

    #[test]
    fn the_entry_of_a_graph_is_picked() {
        let graph = json!({"cwlVersion": "v1.2", "$graph": [
            {"class": "CommandLineTool", "id": "#a"},
            {"class": "Workflow", "id": "#wf"},
            {"class": "CommandLineTool", "id": "#b"}
        ]});
        assert_eq!(
            pick_entry(&graph, None).unwrap(),
            (Some("wf".to_string()), "Workflow".to_string())
        );
        assert_eq!(
            pick_entry(&graph, Some("b")).unwrap(),
            (Some("b".to_string()), "CommandLineTool".to_string())
        );
        let error = pick_entry(&graph, Some("c")).unwrap_err().to_string();
        assert!(error.contains("a, wf, b"), "{error}");
        let single = json!({"class": "CommandLineTool", "id": "t"});
        assert_eq!(pick_entry(&single, Some("t")).unwrap().0, None);
        assert!(pick_entry(&single, Some("u")).is_err());
    }
}
