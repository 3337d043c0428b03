//! Loading a CWL v1.x document (YAML or JSON) into a [`Tool`]: `$import` and `$include`
//! resolved against the document's directory, `$graph` with `#id` selection, `$namespaces`
//! prefixes expanded in `format`, the map forms of `inputs`, `outputs`, `requirements` and
//! `hints` turned into lists, type shorthands (`File?`, `string[]`) expanded and
//! `SchemaDefRequirement` names replaced by their types.

use super::types::normalize_type;
use super::CwlError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The CWL versions whose CommandLineTools this loader reads.
pub(crate) const VERSIONS: [&str; 3] = ["v1.0", "v1.1", "v1.2"];

/// One input or output parameter of a tool.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Its short id (`reads`, not `#main/reads`).
    pub id: String,
    /// Its type, normalized (see [`super::types`]).
    pub ty: Value,
    pub label: Option<String>,
    pub doc: Option<String>,
    /// `inputBinding` (inputs) or `outputBinding` (outputs).
    pub binding: Option<Value>,
    pub default: Option<Value>,
    /// Its `format`, prefixes expanded (a string, a list or an expression).
    pub format: Option<Value>,
    pub secondary_files: Vec<Value>,
    pub load_contents: bool,
    /// Its `loadListing` (`no_listing`, `shallow_listing`, `deep_listing`), if given.
    pub load_listing: Option<String>,
}

/// A CommandLineTool as the runner needs it.
#[derive(Debug, Clone)]
pub struct Tool {
    pub id: Option<String>,
    pub label: Option<String>,
    pub doc: Option<String>,
    pub inputs: Vec<Parameter>,
    pub outputs: Vec<Parameter>,
    pub base_command: Vec<String>,
    pub arguments: Vec<Value>,
    pub stdin: Option<Value>,
    pub stdout: Option<Value>,
    pub stderr: Option<Value>,
    pub requirements: Vec<Value>,
    pub hints: Vec<Value>,
    pub success_codes: Vec<i64>,
    pub permanent_fail_codes: Vec<i64>,
    /// Where relative `location`s of the document (defaults) are read from.
    pub base_dir: PathBuf,
    /// `$namespaces` of the document: prefix -> URI.
    pub namespaces: BTreeMap<String, String>,
    /// The first JavaScript expression of the tool, if it has any (found when it is read,
    /// so that a tool without an `InlineJavascriptRequirement` is refused before anything
    /// runs).
    pub javascript: Option<String>,
}

impl Tool {
    /// A requirement of this class, from `requirements` first, then `hints`.
    pub fn requirement(&self, class: &str) -> Option<&Value> {
        self.requirements
            .iter()
            .chain(self.hints.iter())
            .find(|r| r.get("class").and_then(Value::as_str) == Some(class))
    }

    /// The `expressionLib` of its `InlineJavascriptRequirement` (inherited ones included,
    /// once a workflow has added them); `None` without one.
    pub fn javascript_library(&self) -> Option<String> {
        super::javascript::library_in(self.requirements.iter().chain(self.hints.iter()))
    }

    /// Its first JavaScript expression when no `InlineJavascriptRequirement` allows it.
    pub fn javascript_without_requirement(&self) -> Option<&str> {
        match self.javascript_library() {
            Some(_) => None,
            None => self.javascript.as_deref(),
        }
    }

    /// Whether a requirement (not a hint) of this class is declared.
    pub fn requires(&self, class: &str) -> bool {
        self.requirements
            .iter()
            .any(|r| r.get("class").and_then(Value::as_str) == Some(class))
    }
}

/// Reads `path` (`tool.cwl` or `tool.cwl#id`) into a tool.
pub fn load_tool(path: &str) -> Result<Tool, CwlError> {
    let (file, fragment) = match path.rsplit_once('#') {
        Some((file, fragment)) => (file, Some(fragment)),
        None => (path, None),
    };
    let file = Path::new(file);
    let text = std::fs::read_to_string(file)
        .map_err(|err| CwlError::Invalid(format!("cannot read {}: {err}", file.display())))?;
    let base_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = std::fs::canonicalize(&base_dir).unwrap_or(base_dir);
    parse_tool(&text, &base_dir, fragment)
}

/// Parses a CWL document held in `text` (YAML or JSON); `fragment` picks a process of a
/// `$graph` by id (else `main`, else the only one).
pub fn parse_tool(text: &str, base_dir: &Path, fragment: Option<&str>) -> Result<Tool, CwlError> {
    let read = read_document(text, base_dir, fragment)?;
    let Value::Object(process) = read.process else {
        return Err(CwlError::Invalid("a process is a mapping".into()));
    };
    build_tool(process, base_dir.to_path_buf(), read.namespaces)
}

/// A CWL document read for one of its processes.
pub(crate) struct ReadDocument {
    /// The process: of the `$graph` (by fragment), else the document itself.
    pub process: Value,
    /// The document's `$graph`, empty without one.
    pub graph: Vec<Value>,
    /// `$namespaces`: prefix -> URI.
    pub namespaces: BTreeMap<String, String>,
}

/// Reads `text` (`$import`/`$include` resolved against `base_dir`), picks the process
/// `fragment` names, and checks its `cwlVersion` (the document's, else the process's).
pub(crate) fn read_document(
    text: &str,
    base_dir: &Path,
    fragment: Option<&str>,
) -> Result<ReadDocument, CwlError> {
    let document = resolve_imports(parse_yaml(text)?, base_dir, 0)?;
    let Value::Object(mut root) = document else {
        return Err(CwlError::Invalid(
            "a CWL document is a mapping with cwlVersion and class (or $graph)".into(),
        ));
    };
    let namespaces: BTreeMap<String, String> = root
        .get("$namespaces")
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let version = root
        .get("cwlVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let graph = match root.remove("$graph") {
        Some(Value::Array(graph)) => Some(graph),
        Some(_) => {
            return Err(CwlError::Invalid(
                "$graph must be a list of processes".into(),
            ))
        }
        None => None,
    };
    let process = match &graph {
        Some(graph) => select_from_graph(graph.clone(), fragment)?,
        None => Value::Object(root),
    };
    let version = version.or_else(|| {
        process
            .get("cwlVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    match version.as_deref() {
        Some(v) if VERSIONS.contains(&v) => {}
        Some(v) => {
            return Err(CwlError::Unsupported(format!(
                "cwlVersion {v} is not supported: ades reads {}",
                VERSIONS.join(", ")
            )))
        }
        None => return Err(CwlError::Invalid("the document has no cwlVersion".into())),
    }
    Ok(ReadDocument {
        process,
        graph: graph.unwrap_or_default(),
        namespaces,
    })
}

/// YAML (a superset of JSON) into JSON values.
pub fn parse_yaml(text: &str) -> Result<Value, CwlError> {
    let yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|err| {
        CwlError::Invalid(format!("the document is not valid YAML or JSON: {err}"))
    })?;
    yaml_to_json(yaml)
}

fn yaml_to_json(yaml: serde_yaml::Value) -> Result<Value, CwlError> {
    use serde_yaml::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(CwlError::Invalid(format!(
                            "a mapping key must be a string, not {other:?}"
                        )))
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Replaces `{"$import": file}` by the document in `file` and `{"$include": file}` by its
/// text, relative to `base_dir`.
pub(crate) fn resolve_imports(
    value: Value,
    base_dir: &Path,
    depth: usize,
) -> Result<Value, CwlError> {
    if depth > 16 {
        return Err(CwlError::Invalid(
            "$import nests more than 16 levels deep (a cycle?)".into(),
        ));
    }
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(file)) = map.get("$import") {
                    let path = base_dir.join(file.split('#').next().unwrap_or(file));
                    let text = read_referenced(&path, "$import")?;
                    let parent = path.parent().unwrap_or(base_dir).to_path_buf();
                    return resolve_imports(parse_yaml(&text)?, &parent, depth + 1);
                }
                if let Some(Value::String(file)) = map.get("$include") {
                    return Ok(Value::String(read_referenced(
                        &base_dir.join(file),
                        "$include",
                    )?));
                }
            }
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k, resolve_imports(v, base_dir, depth)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => Ok(Value::Array(
            items
                .into_iter()
                .map(|v| resolve_imports(v, base_dir, depth))
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(other),
    }
}

fn read_referenced(path: &Path, directive: &str) -> Result<String, CwlError> {
    std::fs::read_to_string(path).map_err(|err| {
        CwlError::Invalid(format!(
            "cannot read {} named by {directive}: {err}",
            path.display()
        ))
    })
}

pub(crate) fn select_from_graph(
    graph: Vec<Value>,
    fragment: Option<&str>,
) -> Result<Value, CwlError> {
    let ids: Vec<String> = graph
        .iter()
        .filter_map(|p| p.get("id").and_then(Value::as_str))
        .map(short_id)
        .collect();
    let wanted = fragment.unwrap_or("main");
    let position = graph
        .iter()
        .position(|p| p.get("id").and_then(Value::as_str).map(short_id).as_deref() == Some(wanted));
    match (position, fragment) {
        (Some(i), _) => Ok(graph.into_iter().nth(i).unwrap_or(Value::Null)),
        (None, None) if graph.len() == 1 => Ok(graph.into_iter().next().unwrap_or(Value::Null)),
        _ => Err(CwlError::Invalid(format!(
            "the $graph has no process {wanted}: name one of {} after # (tool.cwl#id)",
            ids.join(", ")
        ))),
    }
}

/// `#main/reads`, `file.cwl#reads` or `reads` -> `reads`.
pub fn short_id(id: &str) -> String {
    let after_hash = id.rsplit('#').next().unwrap_or(id);
    after_hash
        .rsplit('/')
        .next()
        .unwrap_or(after_hash)
        .to_string()
}

pub(crate) fn build_tool(
    mut process: Map<String, Value>,
    base_dir: PathBuf,
    namespaces: BTreeMap<String, String>,
) -> Result<Tool, CwlError> {
    let class = process
        .get("class")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if class != "CommandLineTool" {
        return Err(CwlError::Unsupported(format!(
            "the process is a {}: ades runs CommandLineTools only so far",
            if class.is_empty() {
                "document without class"
            } else {
                &class
            }
        )));
    }
    let javascript = find_javascript(&Value::Object(process.clone()));
    let requirements = as_class_list(process.remove("requirements"), "requirements")?;
    let hints = as_class_list(process.remove("hints"), "hints")?;
    let schema_defs = schema_definitions(&requirements)?;
    let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
    let stdout = process.remove("stdout");
    let stderr = process.remove("stderr");
    let mut tool = Tool {
        id: text(process.remove("id")).map(|id| short_id(&id)),
        label: text(process.remove("label")),
        doc: process.remove("doc").map(|d| match d {
            Value::Array(lines) => lines
                .iter()
                .map(|l| l.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.as_str().unwrap_or_default().to_string(),
        }),
        inputs: Vec::new(),
        outputs: Vec::new(),
        base_command: match process.remove("baseCommand") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    other => Err(CwlError::Invalid(format!(
                        "baseCommand holds {other}: it must be strings"
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(CwlError::Invalid(format!(
                    "baseCommand is {other}: it must be a string or a list of strings"
                )))
            }
        },
        arguments: match process.remove("arguments") {
            None => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => vec![other],
        },
        stdin: process.remove("stdin"),
        stdout: stdout.clone(),
        stderr: stderr.clone(),
        requirements,
        hints,
        success_codes: int_list(process.get("successCodes")),
        permanent_fail_codes: int_list(process.get("permanentFailCodes")),
        base_dir,
        namespaces,
        javascript,
    };
    let inputs = as_id_list(process.remove("inputs"), "inputs", "type")?;
    for input in inputs {
        let mut input = parameter(input, "inputBinding", &schema_defs, &tool.namespaces)?;
        // `type: stdin`: a File given to the tool as its standard input.
        if input.ty == Value::String("stdin".into()) {
            input.ty = Value::String("File".into());
            tool.stdin = Some(Value::String(format!("$(inputs.{}.path)", input.id)));
        }
        tool.inputs.push(input);
    }
    let outputs = as_id_list(process.remove("outputs"), "outputs", "type")?;
    let mut stream_names = 0;
    for output in outputs {
        let mut parameter = parameter(output, "outputBinding", &schema_defs, &tool.namespaces)?;
        // `type: stdout` / `stderr`: a File caught from that stream.
        for stream in ["stdout", "stderr"] {
            if parameter.ty == Value::String(stream.into()) {
                let field = if stream == "stdout" {
                    &mut tool.stdout
                } else {
                    &mut tool.stderr
                };
                if field.is_none() {
                    stream_names += 1;
                    *field = Some(Value::String(format!("{stream}-{stream_names}.txt")));
                }
                parameter.ty = Value::String("File".into());
                parameter.binding = Some(serde_json::json!({"glob": field.clone()}));
            }
        }
        tool.outputs.push(parameter);
    }
    Ok(tool)
}

const NOT_EVALUATED: [&str; 10] = [
    "baseCommand",
    "doc",
    "label",
    "default",
    "contents",
    "id",
    "symbols",
    "$namespaces",
    "$schemas",
    "successCodes",
];

/// The first string of the process that holds a JavaScript expression (`${...}`, or
/// `$(...)` holding more than a parameter reference); the fields CWL never evaluates
/// (`baseCommand`, `doc`, `label`, defaults, ids, enum symbols) are left out.
fn find_javascript(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => super::expression::scan_for_javascript(text),
        Value::Array(items) => items.iter().find_map(find_javascript),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !NOT_EVALUATED.contains(&k.as_str()))
            .find_map(|(_, v)| find_javascript(v)),
        _ => None,
    }
}

fn int_list(value: Option<&Value>) -> Vec<i64> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// `requirements`/`hints` as a list of mappings with `class` (the map form keyed by class
/// turned into that).
pub(crate) fn as_class_list(value: Option<Value>, what: &str) -> Result<Vec<Value>, CwlError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(Value::Object(map)) => Ok(map
            .into_iter()
            .map(|(class, body)| {
                let mut body = match body {
                    Value::Object(b) => b,
                    _ => Map::new(),
                };
                body.insert("class".into(), Value::String(class));
                Value::Object(body)
            })
            .collect()),
        Some(other) => Err(CwlError::Invalid(format!(
            "{what} is {other}: it must be a list or a mapping by class"
        ))),
    }
}

/// `inputs`/`outputs`/record `fields` as a list of mappings with `id` (the map form keyed by
/// id turned into that; a bare value is the `shorthand` field, i.e. the type).
pub(crate) fn as_id_list(
    value: Option<Value>,
    what: &str,
    shorthand: &str,
) -> Result<Vec<Map<String, Value>>, CwlError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                other => Err(CwlError::Invalid(format!(
                    "{what} holds {other}: each entry is a mapping with an id"
                ))),
            })
            .collect(),
        Some(Value::Object(map)) => Ok(map
            .into_iter()
            .map(|(id, body)| {
                let mut body = match body {
                    Value::Object(b) => b,
                    other => {
                        let mut b = Map::new();
                        b.insert(shorthand.to_string(), other);
                        b
                    }
                };
                body.insert("id".into(), Value::String(id));
                body
            })
            .collect()),
        Some(other) => Err(CwlError::Invalid(format!(
            "{what} is {other}: it must be a list or a mapping by id"
        ))),
    }
}

/// The named types of a `SchemaDefRequirement`, by short name.
pub(crate) fn schema_definitions(
    requirements: &[Value],
) -> Result<BTreeMap<String, Value>, CwlError> {
    let mut defs = BTreeMap::new();
    for requirement in requirements {
        if requirement.get("class").and_then(Value::as_str) != Some("SchemaDefRequirement") {
            continue;
        }
        // An `$import`ed file of types is a list inside the list.
        for ty in requirement
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|ty| match ty {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
        {
            if let Some(name) = ty.get("name").and_then(Value::as_str) {
                defs.insert(short_id(name), ty.clone());
            }
        }
    }
    // Types may name each other: normalize each against the raw set.
    let raw = defs.clone();
    for value in defs.values_mut() {
        *value = normalize_type(value, &raw)?;
    }
    Ok(defs)
}

pub(crate) fn parameter(
    mut map: Map<String, Value>,
    binding_key: &str,
    defs: &BTreeMap<String, Value>,
    namespaces: &BTreeMap<String, String>,
) -> Result<Parameter, CwlError> {
    let id = map
        .get("id")
        .and_then(Value::as_str)
        .map(short_id)
        .ok_or_else(|| CwlError::Invalid("a parameter has no id".into()))?;
    let raw_type = map.remove("type").unwrap_or(Value::String("Any".into()));
    let ty = match raw_type.as_str() {
        Some("stdout") | Some("stderr") => raw_type.clone(),
        _ => normalize_type(&raw_type, defs)?,
    };
    let binding = map.remove(binding_key);
    let load_contents = map
        .get("loadContents")
        .and_then(Value::as_bool)
        .or_else(|| {
            binding
                .as_ref()
                .and_then(|b| b.get("loadContents"))
                .and_then(Value::as_bool)
        })
        .unwrap_or(false);
    Ok(Parameter {
        id,
        ty,
        label: map.get("label").and_then(Value::as_str).map(str::to_string),
        doc: map.get("doc").and_then(Value::as_str).map(str::to_string),
        binding,
        default: map.remove("default"),
        format: map.remove("format").map(|f| expand_prefixes(f, namespaces)),
        secondary_files: secondary_file_patterns(map.remove("secondaryFiles")),
        load_contents,
        load_listing: map
            .get("loadListing")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// `secondaryFiles` as a list of `{pattern, required}` (strings and lists of strings are
/// the short forms).
pub(crate) fn secondary_file_patterns(value: Option<Value>) -> Vec<Value> {
    let items = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(pattern) => {
                // A trailing `?` marks an optional one.
                match pattern.strip_suffix('?') {
                    Some(p) => serde_json::json!({"pattern": p, "required": false}),
                    None => serde_json::json!({"pattern": pattern}),
                }
            }
            other => other,
        })
        .collect()
}

/// `edam:format_2330` -> `http://edamontology.org/format_2330` with the document's
/// `$namespaces`; lists element by element; anything else unchanged.
pub fn expand_prefixes(value: Value, namespaces: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(expand_prefix(&s, namespaces)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| expand_prefixes(v, namespaces))
                .collect(),
        ),
        other => other,
    }
}

fn expand_prefix(s: &str, namespaces: &BTreeMap<String, String>) -> String {
    if let Some((prefix, rest)) = s.split_once(':') {
        if let Some(uri) = namespaces.get(prefix) {
            return format!("{uri}{rest}");
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn map_forms_and_shorthands_are_normalized() {
        let tool = parse_tool(
            r#"
cwlVersion: v1.2
class: CommandLineTool
$namespaces: {edam: "http://edamontology.org/"}
requirements:
  EnvVarRequirement: {envDef: {A: b}}
inputs:
  reads: File[]
  opt:
    type: int?
    inputBinding: {prefix: -n}
  fmt:
    type: File
    format: edam:format_1
outputs:
  out: stdout
baseCommand: cat
"#,
            Path::new("/tmp"),
            None,
        )
        .unwrap();
        let input = |id: &str| tool.inputs.iter().find(|i| i.id == id).unwrap();
        assert_eq!(input("reads").ty, json!({"type": "array", "items": "File"}));
        assert_eq!(input("opt").ty, json!(["null", "int"]));
        assert_eq!(
            input("fmt").format,
            Some(json!("http://edamontology.org/format_1"))
        );
        assert!(tool.requirement("EnvVarRequirement").is_some());
        assert_eq!(tool.outputs[0].ty, json!("File"));
        assert_eq!(tool.stdout, Some(json!("stdout-1.txt")));
        assert_eq!(tool.base_command, vec!["cat"]);
    }

    #[test]
    fn a_graph_gives_main_or_the_named_process() {
        let text = r##"
cwlVersion: v1.2
$graph:
- {class: CommandLineTool, id: "#first", inputs: [], outputs: [], baseCommand: one}
- {class: CommandLineTool, id: "#main", inputs: [], outputs: [], baseCommand: two}
"##;
        let main = parse_tool(text, Path::new("/tmp"), None).unwrap();
        assert_eq!(main.base_command, vec!["two"]);
        let first = parse_tool(text, Path::new("/tmp"), Some("first")).unwrap();
        assert_eq!(first.base_command, vec!["one"]);
        let err = parse_tool(text, Path::new("/tmp"), Some("nope")).unwrap_err();
        assert!(err.to_string().contains("first, main"), "{err}");
    }

    #[test]
    fn javascript_is_found_when_the_tool_is_read() {
        let tool = parse_tool(
            "cwlVersion: v1.2\nclass: CommandLineTool\ndoc: 'costs ${ 1 }'\ninputs: []\n\
             outputs: {n: {type: int, outputBinding: {outputEval: '$(self.length + 1)'}}}",
            Path::new("/tmp"),
            None,
        )
        .unwrap();
        assert_eq!(tool.javascript.as_deref(), Some("$(self.length + 1)"));
        let plain = parse_tool(
            "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: []\noutputs: []\n\
             arguments: ['$(runtime.outdir)']",
            Path::new("/tmp"),
            None,
        )
        .unwrap();
        assert_eq!(plain.javascript, None);
    }

    #[test]
    fn workflows_and_unknown_versions_are_unsupported() {
        let err = parse_tool(
            "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps: []",
            Path::new("/tmp"),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, CwlError::Unsupported(_)), "{err}");
        let err = parse_tool(
            "cwlVersion: draft-3\nclass: CommandLineTool",
            Path::new("/tmp"),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, CwlError::Unsupported(_)), "{err}");
    }
}
