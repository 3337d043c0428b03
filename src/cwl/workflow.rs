//! CWL Workflows and ExpressionTools, read: a [`Process`] is a CommandLineTool (the
//! [`Tool`] of [`super::document`]), a [`Workflow`] of [`Step`]s, or an [`ExpressionTool`].
//! A step's `run` is read here too: inline, a file next to the document (`run: tool.cwl`),
//! or a process of the same `$graph` (`run: "#tool"`), to any depth.
//!
//! Every connection is checked when the document is read (a `source` naming no input and
//! no step output, a `scatter` naming no step input, a cycle), listing every problem, and
//! JavaScript anywhere in the workflow is found up front, so that a workflow ades cannot
//! run is refused before any step runs. Running is [`super::workflow_run`]'s job.

use super::document::{
    as_class_list, as_id_list, build_tool, parameter, schema_definitions, short_id, Parameter,
};
use super::expression::scan_for_javascript;
use super::{CwlError, Tool};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Nesting bound of `run` references (a file that runs itself would loop forever).
const MAX_DEPTH: usize = 16;

/// One runnable CWL process.
#[derive(Debug, Clone)]
pub enum Process {
    Tool(Tool),
    Workflow(Workflow),
    Expression(ExpressionTool),
}

impl Process {
    /// Its input parameters.
    pub fn inputs(&self) -> &[Parameter] {
        match self {
            Process::Tool(tool) => &tool.inputs,
            Process::Workflow(workflow) => &workflow.inputs,
            Process::Expression(expression) => &expression.inputs,
        }
    }

    /// The first JavaScript expression anywhere in it (nested steps included) that no
    /// `InlineJavascriptRequirement` allows: the process's own, its step's or workflow's, or
    /// one above (`allowed`, when the levels above have one).
    pub fn javascript_without_requirement(&self, allowed: bool) -> Option<String> {
        let declares = |requirements: &[Value], hints: &[Value]| {
            super::javascript::library_in(requirements.iter().chain(hints)).is_some()
        };
        match self {
            Process::Tool(tool) => {
                let allowed = allowed || tool.javascript_library().is_some();
                (!allowed).then(|| tool.javascript.clone()).flatten()
            }
            Process::Expression(expression) => {
                let allowed = allowed || declares(&expression.requirements, &expression.hints);
                (!allowed).then(|| expression.javascript.clone()).flatten()
            }
            Process::Workflow(workflow) => {
                let allowed = allowed || declares(&workflow.requirements, &workflow.hints);
                workflow.steps.iter().find_map(|step| {
                    let allowed = allowed || declares(&step.requirements, &step.hints);
                    let own = step
                        .inputs
                        .iter()
                        .filter_map(|input| input.value_from.as_ref())
                        .chain(step.when.as_ref())
                        .find_map(|v| v.as_str().and_then(scan_for_javascript));
                    (!allowed)
                        .then_some(own)
                        .flatten()
                        .or_else(|| step.run.javascript_without_requirement(allowed))
                })
            }
        }
    }
}

/// A `Workflow`.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: Option<String>,
    pub label: Option<String>,
    pub doc: Option<String>,
    pub inputs: Vec<Parameter>,
    pub outputs: Vec<WorkflowOutput>,
    pub steps: Vec<Step>,
    pub requirements: Vec<Value>,
    pub hints: Vec<Value>,
    /// Where relative `location`s of the document (defaults) are read from.
    pub base_dir: PathBuf,
    pub namespaces: BTreeMap<String, String>,
}

/// Where a value comes from: a workflow input or an output of a step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Input(String),
    StepOutput { step: String, output: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Input(id) => write!(f, "{id}"),
            Source::StepOutput { step, output } => write!(f, "{step}/{output}"),
        }
    }
}

/// How the values of several sources become one (`linkMerge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMerge {
    /// A list with one item per source (the default).
    Nested,
    /// Lists are concatenated, single values appended.
    Flattened,
}

/// What is kept of several (possibly null) values (`pickValue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickValue {
    FirstNonNull,
    TheOnlyNonNull,
    AllNonNull,
}

/// A workflow output: its type and the sources it takes its value from.
#[derive(Debug, Clone)]
pub struct WorkflowOutput {
    pub parameter: Parameter,
    pub sources: Vec<Source>,
    /// Whether `outputSource` was a list (the value is then a list too).
    pub many: bool,
    pub link_merge: Option<LinkMerge>,
    pub pick_value: Option<PickValue>,
}

/// One step input (`in`).
#[derive(Debug, Clone)]
pub struct StepInput {
    pub id: String,
    pub sources: Vec<Source>,
    pub many: bool,
    pub link_merge: Option<LinkMerge>,
    pub pick_value: Option<PickValue>,
    pub default: Option<Value>,
    pub value_from: Option<Value>,
    pub load_contents: bool,
}

/// How several scattered inputs combine (`scatterMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScatterMethod {
    DotProduct,
    NestedCrossProduct,
    FlatCrossProduct,
}

/// A workflow step.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub inputs: Vec<StepInput>,
    /// The ids of the outputs the step gives the workflow (`out`).
    pub outputs: Vec<String>,
    pub run: Box<Process>,
    /// The step inputs scattered over (empty: no scatter).
    pub scatter: Vec<String>,
    pub scatter_method: ScatterMethod,
    /// `when`: the step runs only if this is true.
    pub when: Option<Value>,
    pub requirements: Vec<Value>,
    pub hints: Vec<Value>,
}

impl Step {
    /// The sources of all its inputs.
    pub fn sources(&self) -> impl Iterator<Item = &Source> {
        self.inputs.iter().flat_map(|input| input.sources.iter())
    }
}

/// An `ExpressionTool`: its `expression` is JavaScript (under an
/// `InlineJavascriptRequirement`), a parameter reference (`$(inputs.rec)`) or an object of
/// references and literals (`$({'out': inputs.x, 'n': null})`).
#[derive(Debug, Clone)]
pub struct ExpressionTool {
    pub id: Option<String>,
    pub inputs: Vec<Parameter>,
    pub outputs: Vec<Parameter>,
    pub expression: String,
    pub base_dir: PathBuf,
    pub namespaces: BTreeMap<String, String>,
    pub requirements: Vec<Value>,
    pub hints: Vec<Value>,
    /// Its expression when that is JavaScript.
    pub javascript: Option<String>,
}

/// Reads `path` (`file.cwl` or `file.cwl#id`) into a process of any class.
pub fn load_process(path: &str) -> Result<Process, CwlError> {
    load_file(path, 0)
}

fn load_file(path: &str, depth: usize) -> Result<Process, CwlError> {
    if depth > MAX_DEPTH {
        return Err(CwlError::Invalid(format!(
            "run references nest more than {MAX_DEPTH} levels deep at {path} (a process that \
             runs itself?)"
        )));
    }
    let (file, fragment) = match path.rsplit_once('#') {
        Some((file, fragment)) => (file, Some(fragment)),
        None => (path, None),
    };
    let file = Path::new(file.strip_prefix("file://").unwrap_or(file));
    let text = std::fs::read_to_string(file)
        .map_err(|err| CwlError::Invalid(format!("cannot read {}: {err}", file.display())))?;
    let base_dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base_dir = std::fs::canonicalize(&base_dir).unwrap_or(base_dir);
    parse_process(&text, &base_dir, fragment, depth)
}

/// Parses a CWL document of any class held in `text`; `fragment` picks a process of a
/// `$graph` (else `main`, else the only one).
pub fn parse_process(
    text: &str,
    base_dir: &Path,
    fragment: Option<&str>,
    depth: usize,
) -> Result<Process, CwlError> {
    let read = super::document::read_document(text, base_dir, fragment)?;
    let loader = Loader {
        base_dir: base_dir.to_path_buf(),
        namespaces: read.namespaces,
        graph: read.graph,
    };
    loader.build(read.process, depth)
}

/// What a process of a document needs to read its `run` references.
struct Loader {
    base_dir: PathBuf,
    namespaces: BTreeMap<String, String>,
    /// The document's `$graph` (empty without one), for `run: "#id"`.
    graph: Vec<Value>,
}

impl Loader {
    fn build(&self, process: Value, depth: usize) -> Result<Process, CwlError> {
        let Value::Object(process) = process else {
            return Err(CwlError::Invalid(format!(
                "a process is a mapping with a class, not {process}"
            )));
        };
        match process.get("class").and_then(Value::as_str) {
            Some("CommandLineTool") => Ok(Process::Tool(build_tool(
                process,
                self.base_dir.clone(),
                self.namespaces.clone(),
            )?)),
            Some("Workflow") => Ok(Process::Workflow(self.workflow(process, depth)?)),
            Some("ExpressionTool") => Ok(Process::Expression(self.expression_tool(process)?)),
            Some(other) => Err(CwlError::Unsupported(format!(
                "the process is a {other}: ades runs CommandLineTools, Workflows and \
                 ExpressionTools"
            ))),
            None => Err(CwlError::Invalid(
                "a process has no class: give it CommandLineTool, Workflow or ExpressionTool"
                    .into(),
            )),
        }
    }

    /// A step's `run`: inline, `#id` of the `$graph`, or a file (`tool.cwl[#id]`).
    fn run(&self, run: Value, depth: usize) -> Result<Process, CwlError> {
        match run {
            Value::String(reference) => {
                if let Some(id) = reference.strip_prefix('#') {
                    let process = self
                        .graph
                        .iter()
                        .find(|p| {
                            p.get("id").and_then(Value::as_str).map(short_id).as_deref()
                                == Some(short_id(id).as_str())
                        })
                        .cloned()
                        .ok_or_else(|| {
                            CwlError::Invalid(format!(
                                "run: {reference} names no process of the $graph"
                            ))
                        })?;
                    return self.build(process, depth + 1);
                }
                let reference = reference.strip_prefix("file://").unwrap_or(&reference);
                let path = if Path::new(reference).is_absolute() {
                    PathBuf::from(reference)
                } else {
                    self.base_dir.join(reference)
                };
                load_file(&path.to_string_lossy(), depth + 1)
            }
            Value::Object(_) => self.build(run, depth + 1),
            other => Err(CwlError::Invalid(format!(
                "run is {other}: it must be a process or the name of one"
            ))),
        }
    }

    fn workflow(&self, mut map: Map<String, Value>, depth: usize) -> Result<Workflow, CwlError> {
        let requirements = as_class_list(map.remove("requirements"), "requirements")?;
        let hints = as_class_list(map.remove("hints"), "hints")?;
        let defs = schema_definitions(&requirements)?;
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
        let inputs = as_id_list(map.remove("inputs"), "inputs", "type")?
            .into_iter()
            .map(|input| parameter(input, "inputBinding", &defs, &self.namespaces))
            .collect::<Result<Vec<_>, _>>()?;
        let mut outputs = Vec::new();
        for mut output in as_id_list(map.remove("outputs"), "outputs", "type")? {
            let (sources, many) = source_list(output.remove("outputSource"));
            let link_merge = link_merge(output.remove("linkMerge"))?;
            let pick_value = pick_value(output.remove("pickValue"))?;
            outputs.push(WorkflowOutput {
                parameter: parameter(output, "outputBinding", &defs, &self.namespaces)?,
                sources,
                many,
                link_merge,
                pick_value,
            });
        }
        let steps = match map.remove("steps") {
            None | Some(Value::Null) => Vec::new(),
            steps => as_id_list(steps, "steps", "run")?,
        };
        let mut built = Vec::new();
        for step in steps {
            built.push(self.step(step, depth)?);
        }
        let mut workflow = Workflow {
            id: text(map.remove("id")).map(|id| short_id(&id)),
            label: text(map.remove("label")),
            doc: map.remove("doc").map(|d| match d {
                Value::Array(lines) => lines
                    .iter()
                    .map(|l| l.as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("\n"),
                other => other.as_str().unwrap_or_default().to_string(),
            }),
            inputs,
            outputs,
            steps: built,
            requirements,
            hints,
            base_dir: self.base_dir.clone(),
            namespaces: self.namespaces.clone(),
        };
        resolve_sources(&mut workflow)?;
        Ok(workflow)
    }

    fn step(&self, mut map: Map<String, Value>, depth: usize) -> Result<Step, CwlError> {
        let id = map
            .get("id")
            .and_then(Value::as_str)
            .map(short_id)
            .ok_or_else(|| CwlError::Invalid("a step has no id".into()))?;
        let run = map.remove("run").ok_or_else(|| {
            CwlError::Invalid(format!("step {id} has no run: name the process it runs"))
        })?;
        let run = self.run(run, depth).map_err(|err| match err {
            CwlError::Invalid(message) => CwlError::Invalid(format!("step {id}: {message}")),
            other => other,
        })?;
        let mut inputs = Vec::new();
        for mut input in as_id_list(map.remove("in"), "in", "source")? {
            let input_id = input
                .get("id")
                .and_then(Value::as_str)
                .map(short_id)
                .ok_or_else(|| CwlError::Invalid(format!("an input of step {id} has no id")))?;
            let (sources, many) = source_list(input.remove("source"));
            inputs.push(StepInput {
                id: input_id,
                sources,
                many,
                link_merge: link_merge(input.remove("linkMerge"))?,
                pick_value: pick_value(input.remove("pickValue"))?,
                default: input.remove("default"),
                value_from: input.remove("valueFrom"),
                load_contents: input
                    .get("loadContents")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            });
        }
        let outputs = match map.remove("out") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(short_id(s)),
                    other => other.get("id").and_then(Value::as_str).map(short_id),
                })
                .collect(),
            Some(other) => {
                return Err(CwlError::Invalid(format!(
                    "out of step {id} is {other}: it must be a list of output ids"
                )))
            }
        };
        let scatter: Vec<String> = match map.remove("scatter") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![short_id(&s)],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(short_id)
                .collect(),
            Some(other) => {
                return Err(CwlError::Invalid(format!(
                    "scatter of step {id} is {other}: it must name step inputs"
                )))
            }
        };
        let scatter_method = match map.get("scatterMethod").and_then(Value::as_str) {
            None | Some("dotproduct") => ScatterMethod::DotProduct,
            Some("nested_crossproduct") => ScatterMethod::NestedCrossProduct,
            Some("flat_crossproduct") => ScatterMethod::FlatCrossProduct,
            Some(other) => {
                return Err(CwlError::Invalid(format!(
                    "scatterMethod {other} of step {id} is none of dotproduct, \
                     nested_crossproduct, flat_crossproduct"
                )))
            }
        };
        Ok(Step {
            inputs,
            outputs,
            run: Box::new(run),
            scatter,
            scatter_method,
            when: map.remove("when"),
            requirements: as_class_list(map.remove("requirements"), "requirements")?,
            hints: as_class_list(map.remove("hints"), "hints")?,
            id,
        })
    }

    fn expression_tool(&self, mut map: Map<String, Value>) -> Result<ExpressionTool, CwlError> {
        let requirements = as_class_list(map.get("requirements").cloned(), "requirements")?;
        let defs = schema_definitions(&requirements)?;
        let expression = match map.remove("expression") {
            Some(Value::String(s)) => s,
            _ => {
                return Err(CwlError::Invalid(
                    "an ExpressionTool needs an expression (a string)".into(),
                ))
            }
        };
        let inputs = as_id_list(map.remove("inputs"), "inputs", "type")?
            .into_iter()
            .map(|p| parameter(p, "inputBinding", &defs, &self.namespaces))
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = as_id_list(map.remove("outputs"), "outputs", "type")?
            .into_iter()
            .map(|p| parameter(p, "outputBinding", &defs, &self.namespaces))
            .collect::<Result<Vec<_>, _>>()?;
        let javascript = match super::workflow_run::object_literal(&expression) {
            Some(_) => None,
            None => scan_for_javascript(&expression),
        };
        Ok(ExpressionTool {
            id: map.remove("id").and_then(|v| v.as_str().map(short_id)),
            inputs,
            outputs,
            expression,
            base_dir: self.base_dir.clone(),
            namespaces: self.namespaces.clone(),
            hints: as_class_list(map.remove("hints"), "hints")?,
            requirements,
            javascript,
        })
    }
}

/// `outputSource`/`source`: one name or a list; whether it was a list. The names are
/// kept as written (in `Source::Input`) until [`resolve_sources`] knows every step.
fn source_list(value: Option<Value>) -> (Vec<Source>, bool) {
    let (names, many) = match value {
        None | Some(Value::Null) => (Vec::new(), false),
        Some(Value::String(s)) => (vec![s], false),
        Some(Value::Array(items)) => (
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            true,
        ),
        Some(other) => (vec![other.to_string()], false),
    };
    (names.into_iter().map(Source::Input).collect(), many)
}

fn link_merge(value: Option<Value>) -> Result<Option<LinkMerge>, CwlError> {
    match value.as_ref().and_then(Value::as_str) {
        None => Ok(None),
        Some("merge_nested") => Ok(Some(LinkMerge::Nested)),
        Some("merge_flattened") => Ok(Some(LinkMerge::Flattened)),
        Some(other) => Err(CwlError::Invalid(format!(
            "linkMerge {other} is neither merge_nested nor merge_flattened"
        ))),
    }
}

fn pick_value(value: Option<Value>) -> Result<Option<PickValue>, CwlError> {
    match value.as_ref().and_then(Value::as_str) {
        None => Ok(None),
        Some("first_non_null") => Ok(Some(PickValue::FirstNonNull)),
        Some("the_only_non_null") => Ok(Some(PickValue::TheOnlyNonNull)),
        Some("all_non_null") => Ok(Some(PickValue::AllNonNull)),
        Some(other) => Err(CwlError::Invalid(format!(
            "pickValue {other} is none of first_non_null, the_only_non_null, all_non_null"
        ))),
    }
}

/// Sources are written as names (`input`, `step/output`, `#main/step/output`,
/// `file.cwl#step/output`); this resolves each against the workflow's inputs and steps,
/// and checks scatter names and that the steps form no cycle. Every problem is listed.
fn resolve_sources(workflow: &mut Workflow) -> Result<(), CwlError> {
    let input_ids: BTreeSet<String> = workflow.inputs.iter().map(|i| i.id.clone()).collect();
    let step_outputs: BTreeMap<String, Vec<String>> = workflow
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.outputs.clone()))
        .collect();
    let mut problems = Vec::new();
    let resolve = |name: &str, problems: &mut Vec<String>, whose: &str| -> Option<Source> {
        let after_hash = name.rsplit_once('#').map(|(_, f)| f).unwrap_or(name);
        let segments: Vec<&str> = after_hash.split('/').collect();
        let n = segments.len();
        if n >= 2 {
            if let Some(outputs) = step_outputs.get(segments[n - 2]) {
                let output = segments[n - 1];
                if outputs.iter().any(|o| o == output) {
                    return Some(Source::StepOutput {
                        step: segments[n - 2].to_string(),
                        output: output.to_string(),
                    });
                }
                problems.push(format!(
                    "{whose} reads {name}, but step {} has no output {output} in its out list",
                    segments[n - 2]
                ));
                return None;
            }
        }
        let last = segments[n - 1];
        if input_ids.contains(last) {
            return Some(Source::Input(last.to_string()));
        }
        problems.push(format!(
            "{whose} reads {name}, which is no workflow input and no step output"
        ));
        None
    };
    for output in workflow.outputs.iter_mut() {
        let whose = format!("output {}", output.parameter.id);
        output.sources = output
            .sources
            .iter()
            .filter_map(|s| resolve(&raw_name(s), &mut problems, &whose))
            .collect();
    }
    for step in workflow.steps.iter_mut() {
        for input in step.inputs.iter_mut() {
            let whose = format!("step {} input {}", step.id, input.id);
            input.sources = input
                .sources
                .iter()
                .filter_map(|s| resolve(&raw_name(s), &mut problems, &whose))
                .collect();
        }
        for name in &step.scatter {
            if !step.inputs.iter().any(|i| &i.id == name) {
                problems.push(format!(
                    "step {} scatters over {name}, which is none of its inputs",
                    step.id
                ));
            }
        }
    }
    if problems.is_empty() {
        if let Some(step) = first_in_cycle(workflow) {
            problems.push(format!(
                "step {step} depends on itself through its sources (a cycle)"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CwlError::Invalid(problems.join("; ")))
    }
}

/// The name a source was written with, before resolution.
fn raw_name(source: &Source) -> String {
    match source {
        Source::Input(raw) => raw.clone(),
        Source::StepOutput { step, output } => format!("{step}/{output}"),
    }
}

/// A step on a cycle, if the steps have one.
fn first_in_cycle(workflow: &Workflow) -> Option<String> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = done.len();
        for step in &workflow.steps {
            let ready = step.sources().all(|s| match s {
                Source::Input(_) => true,
                Source::StepOutput { step, .. } => done.contains(step.as_str()),
            });
            if ready {
                done.insert(step.id.as_str());
            }
        }
        if done.len() == workflow.steps.len() {
            return None;
        }
        if done.len() == before {
            return workflow
                .steps
                .iter()
                .find(|s| !done.contains(s.id.as_str()))
                .map(|s| s.id.clone());
        }
    }
}
