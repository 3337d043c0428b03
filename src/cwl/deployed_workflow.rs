//! A CWL Workflow deployed as a process: what it becomes on the server's workflow engine.
//!
//! [`plan`] reads the entry Workflow of a deployed document and returns
//! - one standalone CWL document per CommandLineTool a step runs (from the `$graph` with
//!   `run: "#id"`, or inline), each deployed as its own CWL process with id
//!   `<workflow id>-<tool id>` (process ids allow letters, digits and '-' only);
//! - a [`crate::workflow::Draft`] whose steps run those processes, with CWL `source`s as
//!   workflow inputs or step outputs (a list of them merged, `linkMerge`), `default`s as
//!   literals and `valueFrom`s evaluated by the driver when it makes a step's job;
//! - the workflow's outputs: which step output each CWL `outputSource` names.
//!
//! What the workflow engine cannot do the same way is refused, naming the feature:
//! `pickValue`, scatter over several inputs, `when` with scatter, subworkflows,
//! ExpressionTools, a list of output sources, outputs read straight from inputs, and `run` references to files (a
//! deployed document is self-contained).

use super::document::short_id;
use super::workflow::{parse_process, LinkMerge, Process, Source as CwlSource};
use super::CwlError;
use crate::domain::InputKind;
use crate::workflow::{Draft, Interface, Source, Step};
use seed::manifest::{InputFile, JsonInput};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// One tool of the workflow, to deploy as its own process.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTool {
    /// Its process id: `<workflow id>-<tool id>`.
    pub id: String,
    /// A CWL document of the tool alone (`cwlVersion` and `$namespaces` of the deployed
    /// document, `id` set to the process id).
    pub document: Value,
}

/// One output of the workflow: its CWL id and the step output it is.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedOutput {
    pub id: String,
    pub step: String,
    pub output: String,
}

/// What a deployed CWL Workflow becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub draft: Draft,
    pub tools: Vec<PlannedTool>,
    pub outputs: Vec<PlannedOutput>,
}

fn refuse(feature: &str, why: String) -> CwlError {
    CwlError::Unsupported(format!(
        "{why}: a deployed CWL Workflow runs on the server's workflow engine, which does not \
         do {feature}"
    ))
}

/// The processes of a document: its `$graph` or itself.
fn graph(document: &Value) -> Vec<&Value> {
    match document.get("$graph") {
        Some(Value::Array(items)) => items.iter().collect(),
        _ => vec![document],
    }
}

fn id_of(process: &Value) -> Option<String> {
    process.get("id").and_then(Value::as_str).map(short_id)
}

/// `run` values that are not `#id` name files: a deployed document cannot read them.
fn check_runs(value: &Value) -> Result<(), CwlError> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(run)) = map.get("run") {
                if !run.starts_with('#') {
                    return Err(CwlError::Invalid(format!(
                        "run: {run} names a file: a deployed document is self-contained, so \
                         put the tool in its $graph (run: \"#id\") or inline"
                    )));
                }
            }
            map.values().try_for_each(check_runs)
        }
        Value::Array(items) => items.iter().try_for_each(check_runs),
        _ => Ok(()),
    }
}

/// The raw steps of a workflow (list or map form), by short id.
fn raw_steps(workflow: &Value) -> BTreeMap<String, Value> {
    match workflow.get("steps") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|s| Some((id_of(s)?, s.clone())))
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(id, s)| (short_id(id), s.clone()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Reads the Workflow `entry` of `document` (checked self-contained by
/// [`super::process::read_document`]) into what is deployed.
pub fn plan(document: &Value, entry: Option<&str>) -> Result<Plan, CwlError> {
    check_runs(document)?;
    let processes = graph(document);
    let raw_workflow = match entry {
        None => document,
        Some(entry) => processes
            .iter()
            .copied()
            .find(|p| id_of(p).as_deref() == Some(entry))
            .ok_or_else(|| CwlError::Invalid(format!("the document has no process {entry}")))?,
    };
    let text = serde_json::to_string(document)
        .map_err(|err| CwlError::Invalid(format!("the document cannot be written: {err}")))?;
    let parsed = parse_process(&text, Path::new("/nonexistent/ades-cwl"), entry, 0)?;
    let Process::Workflow(workflow) = parsed else {
        return Err(CwlError::Invalid("the entry is not a Workflow".into()));
    };
    // JavaScript under an InlineJavascriptRequirement runs: in its tools (deployed tools)
    // and in its steps' valueFrom (the driver evaluates them).
    if let Some(expression) =
        Process::Workflow(workflow.clone()).javascript_without_requirement(false)
    {
        return Err(super::expression::ExpressionError::JavaScript(expression).into());
    }
    let workflow_id = workflow
        .id
        .clone()
        .or_else(|| entry.map(str::to_string))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            CwlError::Invalid(
                "the Workflow has no id: give it one (it becomes the process id)".into(),
            )
        })?;

    // The interface: File inputs are file inputs, everything else a json value.
    let mut inputs = Interface::default();
    let mut defaults = BTreeMap::new();
    for input in &workflow.inputs {
        let description = super::process::input_description(input, &workflow.namespaces)
            .map_err(|why| CwlError::Invalid(format!("workflow {why}")))?;
        let required = description.min_occurs > 0;
        match description.kind {
            InputKind::File { media_types } => inputs.files.push(InputFile {
                name: input.id.clone(),
                required,
                media_types,
                multiple: description.max_occurs != Some(1),
                partial: false,
            }),
            InputKind::Json { kind } => {
                // Applied by the engine when the input is left out, as cwltool does.
                if let Some(default) = &input.default {
                    defaults.insert(input.id.clone(), default.clone());
                }
                inputs.json.push(JsonInput {
                    name: input.id.clone(),
                    kind,
                    required,
                })
            }
        }
    }

    let raw_steps = raw_steps(raw_workflow);
    let mut tools: Vec<PlannedTool> = Vec::new();
    let mut steps = Vec::new();
    let mut step_pointers = BTreeMap::new();
    for step in &workflow.steps {
        let whose = format!("step {}", step.id);
        match step.run.as_ref() {
            Process::Tool(_) => {}
            Process::Workflow(_) => {
                return Err(refuse("subworkflows", format!("{whose} runs a Workflow")))
            }
            Process::Expression(_) => {
                return Err(refuse(
                    "ExpressionTools",
                    format!("{whose} runs an ExpressionTool"),
                ))
            }
        }
        let condition = match &step.when {
            None => None,
            Some(_) if !step.scatter.is_empty() => {
                return Err(refuse(
                    "when with scatter",
                    format!("{whose} has a when condition and a scatter"),
                ))
            }
            Some(Value::String(expression)) => Some(expression.clone()),
            Some(other) => {
                return Err(CwlError::Invalid(format!(
                    "{whose}: its when is {other}, not an expression"
                )))
            }
        };
        let scatter = match step.scatter.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => {
                return Err(refuse(
                    "scatter over several inputs",
                    format!("{whose} scatters over {}", step.scatter.join(", ")),
                ))
            }
        };
        // The tool's raw text: the `$graph` entry it names, or inline.
        let raw_step = raw_steps.get(&step.id).cloned().unwrap_or(Value::Null);
        let (tool_id, raw_tool) = match raw_step.get("run") {
            Some(Value::String(reference)) => {
                let id = short_id(reference.trim_start_matches('#'));
                let found = processes
                    .iter()
                    .find(|p| id_of(p).as_deref() == Some(id.as_str()))
                    .map(|p| (*p).clone())
                    .ok_or_else(|| {
                        CwlError::Invalid(format!("{whose}: run {reference} names no process"))
                    })?;
                (id, found)
            }
            Some(inline @ Value::Object(_)) => (
                id_of(inline).unwrap_or_else(|| step.id.clone()),
                inline.clone(),
            ),
            _ => {
                return Err(CwlError::Invalid(format!(
                    "{whose}: its run is neither \"#id\" nor an inline tool"
                )))
            }
        };
        let process_id = format!("{workflow_id}-{tool_id}");
        if !tools.iter().any(|t| t.id == process_id) {
            // A tool without its own image takes the step's, else the workflow's.
            let inherited = step
                .requirements
                .iter()
                .chain(&step.hints)
                .chain(&workflow.requirements)
                .chain(&workflow.hints)
                .find(|r| r.get("class").and_then(Value::as_str) == Some(DOCKER));
            let mut document = standalone(document, raw_tool, &process_id);
            if let Some(docker) = inherited {
                inherit_docker(&mut document, docker);
            }
            tools.push(PlannedTool {
                id: process_id.clone(),
                document,
            });
        }
        let mut bound = BTreeMap::new();
        let mut value_from = BTreeMap::new();
        let mut local_inputs = std::collections::BTreeSet::new();
        let declared: Vec<&str> = step.run.inputs().iter().map(|p| p.id.as_str()).collect();
        for input in &step.inputs {
            if !declared.contains(&input.id.as_str()) {
                local_inputs.insert(input.id.clone());
            }
            let at = format!("{whose} input {}", input.id);
            if input.pick_value.is_some() {
                return Err(refuse("pickValue", format!("{at} has a pickValue")));
            }
            let one = |source: &CwlSource| match source {
                CwlSource::Input(name) => Source::Input { name: name.clone() },
                CwlSource::StepOutput { step, output } => Source::Output {
                    step: step.clone(),
                    output: output.clone(),
                },
            };
            let source = match (input.sources.as_slice(), &input.default) {
                ([only], _) if !input.many => one(only),
                ([], Some(default)) => Source::Literal {
                    value: default.clone(),
                },
                // valueFrom alone: its `self` is null.
                ([], None) if input.value_from.is_some() => Source::Literal { value: Value::Null },
                ([], None) => continue,
                // A list of sources (even of one) is a list (MultipleInputFeatureRequirement).
                (sources, _) => Source::Merge {
                    sources: sources.iter().map(one).collect(),
                    flatten: input.link_merge == Some(LinkMerge::Flattened),
                },
            };
            match &input.value_from {
                None => {}
                Some(Value::String(expression)) => {
                    value_from.insert(input.id.clone(), expression.clone());
                }
                Some(other) => {
                    return Err(CwlError::Invalid(format!(
                        "{at}: its valueFrom is {other}, not a string"
                    )))
                }
            }
            bound.insert(input.id.clone(), source);
        }
        // The JavaScript library the step's expressions see: the step's, else the workflow's.
        let expression_lib = super::javascript::library_in(
            step.requirements
                .iter()
                .chain(&step.hints)
                .chain(&workflow.requirements)
                .chain(&workflow.hints),
        );
        step_pointers.insert(step.id.clone(), format!("/steps/{}", step.id));
        steps.push(Step {
            name: step.id.clone(),
            process: process_id,
            inputs: bound,
            scatter,
            value_from,
            local_inputs,
            condition,
            expression_lib,
            ..Step::default()
        });
    }

    let mut outputs = Vec::new();
    for output in &workflow.outputs {
        let whose = format!("output {}", output.parameter.id);
        match output.sources.as_slice() {
            [CwlSource::StepOutput { step, output: out }] if !output.many => {
                outputs.push(PlannedOutput {
                    id: output.parameter.id.clone(),
                    step: step.clone(),
                    output: out.clone(),
                })
            }
            [CwlSource::Input(name)] => {
                return Err(refuse(
                    "outputs read from inputs",
                    format!("{whose} is the workflow input {name}"),
                ))
            }
            [] => {
                return Err(CwlError::Invalid(format!(
                    "{whose} has no outputSource: name the step output it is"
                )))
            }
            _ => {
                return Err(refuse(
                    "linkMerge of several sources",
                    format!("{whose} reads a list of sources"),
                ))
            }
        }
    }

    let text_of = |key: &str| {
        raw_workflow
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let version = ["s:softwareVersion", "https://schema.org/softwareVersion"]
        .iter()
        .find_map(|k| match raw_workflow.get(*k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "1.0.0".to_string());
    let draft = Draft {
        id: workflow_id.clone(),
        version,
        title: workflow
            .label
            .clone()
            .or_else(|| text_of("label"))
            .unwrap_or_else(|| workflow_id.clone()),
        description: workflow.doc.clone().unwrap_or_default(),
        inputs,
        steps,
        step_pointers,
        defaults,
    };
    Ok(Plan {
        draft,
        tools,
        outputs,
    })
}

const DOCKER: &str = "DockerRequirement";

/// Whether a `requirements`/`hints` value (list or map form) has a DockerRequirement.
fn has_docker(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .any(|r| r.get("class").and_then(Value::as_str) == Some(DOCKER)),
        Some(Value::Object(map)) => map.contains_key(DOCKER),
        _ => false,
    }
}

/// Gives `tool` the `docker` requirement of its step or workflow unless it has its own.
fn inherit_docker(tool: &mut Value, docker: &Value) {
    if has_docker(tool.get("requirements")) || has_docker(tool.get("hints")) {
        return;
    }
    match tool.get_mut("requirements") {
        Some(Value::Array(items)) => items.push(docker.clone()),
        Some(Value::Object(map)) => {
            let mut body = docker.clone();
            if let Some(body) = body.as_object_mut() {
                body.remove("class");
            }
            map.insert(DOCKER.to_string(), body);
        }
        _ => tool["requirements"] = Value::Array(vec![docker.clone()]),
    }
}

/// The tool alone as a document: the deployed document's `cwlVersion` and `$namespaces`
/// (and `$schemas`), its id the process id, so it is read back the same after a restart.
fn standalone(document: &Value, tool: Value, process_id: &str) -> Value {
    let mut map = match tool {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    for key in ["cwlVersion", "$namespaces", "$schemas"] {
        if !map.contains_key(key) {
            if let Some(value) = document.get(key) {
                map.insert(key.to_string(), value.clone());
            }
        }
    }
    map.insert("id".to_string(), Value::String(process_id.to_string()));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(id: &str, input: &str, output: &str) -> Value {
        json!({
            "class": "CommandLineTool", "id": id,
            "requirements": {"DockerRequirement": {"dockerPull": "example/tool:1"}},
            "baseCommand": "cat",
            "inputs": {input: {"type": "File", "inputBinding": {"position": 1}}, "n": {"type": "int", "default": 1}},
            "outputs": {output: {"type": "File", "outputBinding": {"glob": "out"}}},
            "stdout": "out"
        })
    }

    fn document(workflow: Value) -> Value {
        json!({
            "cwlVersion": "v1.2",
            "$namespaces": {"s": "https://schema.org/"},
            "$graph": [workflow, tool("first", "text", "lines"), tool("second", "lines", "count")]
        })
    }

    fn chain() -> Value {
        json!({
            "class": "Workflow", "id": "chain", "label": "Chain", "s:softwareVersion": "2.1.0",
            "inputs": {"source": "File", "times": {"type": "int", "default": 2}},
            "outputs": {"result": {"type": "File", "outputSource": "two/count"}},
            "steps": {
                "one": {"run": "#first", "in": {"text": "source", "n": "times"}, "out": ["lines"]},
                "two": {"run": "#second", "in": {"lines": "one/lines", "n": {"default": 3}}, "out": ["count"]}
            }
        })
    }

    #[test]
    fn a_graph_workflow_becomes_tools_and_a_draft() {
        let plan = plan(&document(chain()), Some("chain")).unwrap();
        let ids: Vec<&str> = plan.tools.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["chain-first", "chain-second"]);
        assert_eq!(plan.tools[0].document["id"], "chain-first");
        assert_eq!(plan.tools[0].document["cwlVersion"], "v1.2");
        assert_eq!(plan.draft.id, "chain");
        assert_eq!(plan.draft.version, "2.1.0");
        assert_eq!(plan.draft.title, "Chain");
        assert_eq!(plan.draft.inputs.files[0].name, "source");
        assert_eq!(plan.draft.inputs.json[0].name, "times");
        assert!(!plan.draft.inputs.json[0].required, "it has a default");
        assert_eq!(plan.draft.defaults["times"], json!(2));
        let two = plan.draft.steps.iter().find(|s| s.name == "two").unwrap();
        assert_eq!(two.process, "chain-second");
        assert_eq!(
            two.inputs["lines"],
            Source::Output {
                step: "one".into(),
                output: "lines".into()
            }
        );
        assert_eq!(two.inputs["n"], Source::Literal { value: json!(3) });
        assert_eq!(
            plan.outputs,
            [PlannedOutput {
                id: "result".into(),
                step: "two".into(),
                output: "count".into()
            }]
        );
    }

    #[test]
    fn a_tool_without_an_image_takes_the_workflows() {
        let mut document = document(chain());
        document["$graph"][1]
            .as_object_mut()
            .unwrap()
            .remove("requirements");
        document["$graph"][0]["requirements"] =
            json!([{"class": "DockerRequirement", "dockerPull": "example/all:2"}]);
        let plan = plan(&document, Some("chain")).unwrap();
        let first = crate::cwl::process::load_entry(&plan.tools[0].document, None).unwrap();
        assert_eq!(
            crate::cwl::process::tool_image(&first).as_deref(),
            Some("example/all:2")
        );
        // A tool's own image wins.
        let second = crate::cwl::process::load_entry(&plan.tools[1].document, None).unwrap();
        assert_eq!(
            crate::cwl::process::tool_image(&second).as_deref(),
            Some("example/tool:1")
        );
    }

    #[test]
    fn value_from_and_lists_of_sources_map_onto_the_engine() {
        let mut workflow = chain();
        workflow["steps"]["two"]["in"]["lines"] =
            json!({"source": ["one/lines", "source"], "linkMerge": "merge_flattened"});
        workflow["steps"]["two"]["in"]["label"] = json!({"valueFrom": "$(inputs.lines.length)"});
        workflow["requirements"] = json!({
            "MultipleInputFeatureRequirement": {}, "StepInputExpressionRequirement": {},
            "InlineJavascriptRequirement": {"expressionLib": ["var x = 1;"]}
        });
        let plan = plan(&document(workflow), Some("chain")).unwrap();
        let two = &plan.draft.steps[1];
        assert_eq!(
            two.inputs["lines"],
            Source::Merge {
                sources: vec![
                    Source::Output {
                        step: "one".into(),
                        output: "lines".into()
                    },
                    Source::Input {
                        name: "source".into()
                    }
                ],
                flatten: true
            }
        );
        assert_eq!(two.inputs["label"], Source::Literal { value: Value::Null });
        assert_eq!(two.value_from["label"], "$(inputs.lines.length)");
        assert_eq!(two.expression_lib.as_deref(), Some("var x = 1;"));
    }

    #[test]
    fn what_the_engine_cannot_do_is_refused_by_name() {
        let cases: Vec<(Value, &str)> = vec![(
            json!({"source": ["one/lines", "source"], "pickValue": "first_non_null"}),
            "pickValue",
        )];
        for (input, feature) in cases {
            let mut workflow = chain();
            workflow["steps"]["two"]["in"]["lines"] = input;
            workflow["requirements"] = json!({"MultipleInputFeatureRequirement": {}, "StepInputExpressionRequirement": {}});
            let err = plan(&document(workflow), Some("chain")).unwrap_err();
            assert!(err.to_string().contains(feature), "{feature}: {err}");
        }
        let mut sub = chain();
        sub["steps"]["two"]["run"] =
            json!({"class": "Workflow", "inputs": {}, "outputs": {}, "steps": {}});
        sub["steps"]["two"]["in"] = json!({});
        sub["steps"]["two"]["out"] = json!([]);
        sub["outputs"] = json!({"result": {"type": "File", "outputSource": "one/lines"}});
        let err = plan(&document(sub), Some("chain")).unwrap_err();
        assert!(err.to_string().contains("subworkflows"), "{err}");
        let mut from_file = chain();
        from_file["steps"]["one"]["run"] = json!("/etc/tool.cwl");
        let err = plan(&document(from_file), Some("chain")).unwrap_err();
        assert!(err.to_string().contains("self-contained"), "{err}");
        let mut scatter = chain();
        scatter["steps"]["one"]["scatter"] = json!(["text", "n"]);
        let err = plan(&document(scatter), Some("chain")).unwrap_err();
        assert!(err.to_string().contains("several inputs"), "{err}");
    }
}
