//! OGC API - Processes Part 3, nested processes: an execute request whose input value is
//! itself an execution, `{"process": "<url>", "inputs": {...}, "outputs": {"<one output>":
//! {}}}`, to any depth, becomes a workflow of the same model: one step per process (the
//! outer one named `main`, each nested one after the input it feeds), the nested
//! execution's output feeding the outer input. A `process` URL names a process of this
//! server (`<this server>/processes/<id>`, or a path `/processes/<id>`) or of an allowed
//! remote server (`<remote url>/processes/<id>`: the step runs there, see
//! `remote_step.rs`).
//!
//! Two uses. Executing ([`plan`]): every plain input of every step becomes an input of the
//! workflow (the outer process's under its own name, a nested one's as `<step>.<input>`)
//! and the request is flattened, so the ordinary request reading and checks apply.
//! Deploying (Part 3 Deployable Workflows, [`deployable`]): `{"$input": "<name>"}` marks a
//! workflow input, any other plain value is a fixed literal, and the top-level `outputs`
//! may select and rename outputs with `{"$output": "<name>"}`.

use super::{compile, Draft, Interface, Problem, Source, Step, Workflow};
use crate::domain::{InputKind, Process, ProcessId};
use crate::remote::Remotes;
use seed::manifest::{InputFile, JsonInput};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The outer step's name.
pub const MAIN_STEP: &str = "main";

/// Deepest nesting accepted (a request is no place for a deep graph).
const MAX_DEPTH: usize = 8;

/// Whether an input value is a nested execution.
fn is_nested(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.get("process").is_some_and(Value::is_string))
}

/// The remote processes (`<remote>:<id>`) a document's `process` URLs name, at any depth
/// (the top-level one too), to describe them before planning.
pub fn remote_processes(document: &Value, remotes: &Remotes) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![document];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(object) => {
                if let Some(url) = object.get("process").and_then(Value::as_str) {
                    if let Some((remote, id)) = remotes.process_at(url) {
                        found.insert(format!("{}{}{id}", remote.name, crate::remote::SEPARATOR));
                    }
                }
                stack.extend(object.values());
            }
            Value::Array(values) => stack.extend(values),
            _ => {}
        }
    }
    found
}

/// Where the planner finds processes.
pub struct Resolver<'a> {
    /// This server's base URL.
    pub base: &'a str,
    pub remotes: &'a Remotes,
    /// Local process ids and `<remote>:<id>` names (described beforehand).
    pub lookup: &'a dyn Fn(&str) -> Option<Arc<Process>>,
}

impl Resolver<'_> {
    /// The step process name (`<id>` or `<remote>:<id>`) and process a `process` URL
    /// names, or what is wrong with it.
    pub fn resolve(&self, url: &str) -> Result<(String, Arc<Process>), String> {
        let base = self.base.trim_end_matches('/');
        let path = url
            .strip_prefix(base)
            .or_else(|| url.starts_with('/').then_some(url));
        let local = path
            .and_then(|path| path.strip_prefix("/processes/"))
            .map(|rest| rest.trim_end_matches("/execution").trim_end_matches('/'));
        let name = match (local, self.remotes.process_at(url)) {
            (Some(id), _) => id.to_string(),
            (None, Some((remote, id))) => {
                format!("{}{}{id}", remote.name, crate::remote::SEPARATOR)
            }
            (None, None) => {
                let names = self.remotes.names();
                return Err(format!(
                    "{url:?} is neither a process of this server ({base}/processes/<id>) nor \
                     of an allowed remote server ({}): add the server to [remotes] in the \
                     configuration",
                    if names.is_empty() {
                        "none is configured".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
            }
        };
        let local_ok = name.contains(crate::remote::SEPARATOR) || ProcessId::parse(&name).is_ok();
        match local_ok.then(|| (self.lookup)(&name)).flatten() {
            Some(process) => Ok((name, process)),
            None => Err(format!("process {name:?} is not offered here")),
        }
    }
}

/// How plain input values are read.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// An execute request: plain values are the workflow's inputs (flattened).
    Execute,
    /// A deployed workflow: `{"$input": name}` is a workflow input, others are literals.
    Deploy,
}

/// The workflow and flat execute document of a request with nested processes; `None`
/// when no input is one (an ordinary execute request).
pub fn plan(
    target: &Arc<Process>,
    document: &Value,
    resolver: &Resolver<'_>,
) -> Result<Option<(Workflow, Value)>, Vec<Problem>> {
    let Some(inputs) = document.get("inputs").and_then(Value::as_object) else {
        return Ok(None);
    };
    if !inputs.values().any(is_nested) {
        return Ok(None);
    }
    let mut planner = Planner::new(resolver, Mode::Execute);
    planner.draft = Draft {
        id: target.id.to_string(),
        version: target.version.clone(),
        title: target.title.clone(),
        description: target.description.clone(),
        ..Draft::default()
    };
    planner.add_step(
        MAIN_STEP,
        &target.id.to_string(),
        target,
        inputs,
        "/inputs",
        0,
    );
    if !planner.problems.is_empty() {
        return Err(planner.problems);
    }
    let Planner { draft, flat, .. } = planner;
    let mut workflow = compile(draft, resolver.lookup)?;
    for exposed in &mut workflow.outputs {
        exposed.alias = Some(exposed.output.clone());
    }
    let mut flat_document = document.clone();
    flat_document["inputs"] = Value::Object(flat);
    Ok(Some((workflow, flat_document)))
}

/// A Part 3 deployable workflow: the execute request `document` (its top-level `process`
/// the outer process) as workflow `id`.
pub fn deployable(
    id: &str,
    document: &Value,
    resolver: &Resolver<'_>,
) -> Result<Workflow, Vec<Problem>> {
    let problem = |pointer: &str, message: &str| {
        vec![Problem {
            pointer: pointer.to_string(),
            message: message.to_string(),
        }]
    };
    let Some(url) = document.get("process").and_then(Value::as_str) else {
        return Err(problem(
            "/process",
            "a deployable workflow is an execute request with a top-level \"process\" URL",
        ));
    };
    let (name, target) = resolver
        .resolve(url)
        .map_err(|message| problem("/process", &message))?;
    let text = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut planner = Planner::new(resolver, Mode::Deploy);
    planner.draft = Draft {
        id: id.to_string(),
        version: text("version").unwrap_or_else(|| "1.0.0".to_string()),
        title: text("title").unwrap_or_else(|| id.to_string()),
        description: text("description").unwrap_or_default(),
        ..Draft::default()
    };
    let empty = Map::new();
    let inputs = document
        .get("inputs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    planner.add_step(MAIN_STEP, &name, &target, inputs, "/inputs", 0);
    if !planner.problems.is_empty() {
        return Err(planner.problems);
    }
    let draft = planner.draft;
    let mut workflow = compile(draft, resolver.lookup)?;
    // `outputs` of the top level: `{"<output>": {"$output": "<name>"}}` selects (and
    // names) what the workflow exposes; without it, the outer process's outputs.
    let selections: Vec<(String, Option<String>)> = document
        .get("outputs")
        .and_then(Value::as_object)
        .map(|outputs| {
            outputs
                .iter()
                .map(|(output, selection)| {
                    let alias = selection
                        .get("$output")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    (output.clone(), alias)
                })
                .collect()
        })
        .unwrap_or_default();
    if selections.is_empty() {
        for exposed in &mut workflow.outputs {
            exposed.alias = Some(exposed.output.clone());
        }
        return Ok(workflow);
    }
    let mut chosen = Vec::new();
    let mut problems = Vec::new();
    for (output, alias) in selections {
        match workflow
            .outputs
            .iter()
            .find(|e| e.step == MAIN_STEP && e.output == output)
        {
            Some(exposed) => {
                let mut exposed = exposed.clone();
                exposed.alias = Some(alias.unwrap_or(output));
                chosen.push(exposed);
            }
            None => problems.push(Problem {
                pointer: format!("/outputs/{output}"),
                message: format!("process {name:?} has no output {output:?}"),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    workflow.outputs = chosen;
    Ok(workflow)
}

struct Planner<'a> {
    resolver: &'a Resolver<'a>,
    mode: Mode,
    draft: Draft,
    /// The workflow's inputs as the flat document gives them (execute mode).
    flat: Map<String, Value>,
    problems: Vec<Problem>,
}

impl<'a> Planner<'a> {
    fn new(resolver: &'a Resolver<'a>, mode: Mode) -> Self {
        Planner {
            resolver,
            mode,
            draft: Draft::default(),
            flat: Map::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, pointer: &str, message: String) {
        self.problems.push(Problem {
            pointer: pointer.to_string(),
            message,
        });
    }

    fn add_step(
        &mut self,
        name: &str,
        process_name: &str,
        process: &Arc<Process>,
        inputs: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        let mut bound = BTreeMap::new();
        for (id, given) in inputs {
            let at_input = format!("{at}/{id}");
            if !is_nested(given) {
                if let Some(source) = self.plain_input(name, process, id, given, &at_input) {
                    bound.insert(id.clone(), source);
                }
                continue;
            }
            if depth >= MAX_DEPTH {
                self.problem(
                    &at_input,
                    format!("processes are nested more than {MAX_DEPTH} deep: flatten the request"),
                );
                continue;
            }
            let url = given["process"].as_str().unwrap_or_default();
            let (inner_name, inner) = match self.resolver.resolve(url) {
                Ok(found) => found,
                Err(message) => {
                    self.problem(&at_input, message);
                    continue;
                }
            };
            let output = match self.chosen_output(&inner, given, &at_input) {
                Some(output) => output,
                None => continue,
            };
            let child = format!("{name}-{id}");
            let empty = Map::new();
            let child_inputs = given
                .get("inputs")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            self.add_step(
                &child,
                &inner_name,
                &inner,
                child_inputs,
                &format!("{at_input}/inputs"),
                depth + 1,
            );
            bound.insert(
                id.clone(),
                Source::Output {
                    step: child.clone(),
                    output,
                },
            );
        }
        self.draft
            .step_pointers
            .insert(name.to_string(), at.trim_end_matches("/inputs").to_string());
        self.draft.steps.push(Step {
            name: name.to_string(),
            process: process_name.to_string(),
            version: None,
            after: Vec::new(),
            inputs: bound,
            remote_outputs: None,
            scatter: None,
            when: None,
            ..Step::default()
        });
    }

    /// The source of an input given a plain value.
    fn plain_input(
        &mut self,
        step: &str,
        process: &Process,
        id: &str,
        given: &Value,
        at: &str,
    ) -> Option<Source> {
        if self.mode == Mode::Deploy {
            if let Some(name) = given.get("$input") {
                let Some(name) = name.as_str().filter(|n| !n.is_empty()) else {
                    self.problem(
                        at,
                        "\"$input\" names a workflow input: give a string".into(),
                    );
                    return None;
                };
                let description = process.input(id)?; // unknown: reported by compile
                if !self.declared(name) {
                    self.declare(name, description);
                }
                return Some(Source::Input {
                    name: name.to_string(),
                });
            }
            // A fixed value of the workflow; `{"value": ...}` is the qualified form.
            let value = match given {
                Value::Object(o) if o.len() <= 2 && o.contains_key("value") => o["value"].clone(),
                other => other.clone(),
            };
            return Some(Source::Literal { value });
        }
        let name_in_workflow = if step == MAIN_STEP {
            id.to_string()
        } else {
            format!("{step}.{id}")
        };
        let source = process.input(id).map(|description| {
            self.declare(&name_in_workflow, description);
            Source::Input {
                name: name_in_workflow.clone(),
            }
        });
        // An unknown input is reported by the request checks of the flat document.
        self.flat.insert(name_in_workflow, given.clone());
        source
    }

    fn declared(&self, name: &str) -> bool {
        let inputs = &self.draft.inputs;
        inputs.files.iter().any(|f| f.name == name) || inputs.json.iter().any(|j| j.name == name)
    }

    /// The output of a nested execution that feeds its input: the one its `outputs`
    /// names, or the process's only output.
    fn chosen_output(&mut self, inner: &Process, given: &Value, at: &str) -> Option<String> {
        let named: Vec<&String> = given
            .get("outputs")
            .and_then(Value::as_object)
            .map(|outputs| outputs.keys().collect())
            .unwrap_or_default();
        let chosen = match (named.as_slice(), inner.outputs.as_slice()) {
            ([one], _) => Some((*one).clone()),
            ([], [only]) => Some(only.id.clone()),
            _ => None,
        };
        match chosen {
            Some(output) if inner.output(&output).is_some() => Some(output),
            Some(output) => {
                self.problem(
                    &format!("{at}/outputs"),
                    format!("process {:?} has no output {output:?}", inner.id.as_str()),
                );
                None
            }
            None => {
                self.problem(
                    &format!("{at}/outputs"),
                    format!(
                        "name the one output of process {:?} that feeds this input: \
                         \"outputs\": {{\"<output>\": {{}}}}",
                        inner.id.as_str()
                    ),
                );
                None
            }
        }
    }

    /// Declares a workflow input shaped like `description`.
    fn declare(&mut self, name: &str, description: &crate::domain::InputDescription) {
        let interface: &mut Interface = &mut self.draft.inputs;
        match &description.kind {
            InputKind::File { media_types } => interface.files.push(InputFile {
                name: name.to_string(),
                required: description.min_occurs > 0,
                media_types: media_types.clone(),
                multiple: description.max_occurs != Some(1),
                partial: false,
            }),
            InputKind::Json { kind } => interface.json.push(JsonInput {
                name: name.to_string(),
                kind: *kind,
                required: description.min_occurs > 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{lookup_in, process};
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nested_execution_becomes_a_step_feeding_the_outer_one() {
        let work = process("work", &["part:file", "level?:int"], &["result:file"]);
        let join = process("join", &["a:file", "b:file"], &["joined:file"]);
        let lookup = lookup_in(vec![work, join.clone()]);
        let document = json!({
            "inputs": {
                "a": {"process": "http://h/processes/work", "inputs": {"part": "x", "level": 2}},
                "b": "plain"
            },
            "response": "document"
        });
        let remotes = Remotes::default();
        let resolver = Resolver {
            base: "http://h/",
            remotes: &remotes,
            lookup: &lookup,
        };
        let (workflow, flat) = plan(&join, &document, &resolver).unwrap().unwrap();
        let names: Vec<&str> = workflow.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["main-a", "main"]);
        assert_eq!(workflow.outputs[0].id(), "joined");
        assert_eq!(flat["inputs"]["b"], "plain");
        assert_eq!(flat["inputs"]["main-a.part"], "x");
        assert_eq!(flat["response"], "document");
        // The plan travels with the job's stored request.
        let request = crate::domain::ExecuteRequest {
            workflow: Some(Box::new(workflow.clone())),
            ..Default::default()
        };
        let stored = serde_json::to_string(&request).unwrap();
        let read: crate::domain::ExecuteRequest = serde_json::from_str(&stored).unwrap();
        assert_eq!(read.workflow.as_deref(), Some(&workflow), "{stored}");
        let plain = json!({"inputs": {"a": "x", "b": "y"}});
        assert!(plan(&join, &plain, &resolver).unwrap().is_none());
    }

    #[test]
    fn remote_and_unknown_processes_are_refused() {
        let join = process("join", &["a:file", "b:file"], &["joined:file"]);
        let lookup = lookup_in(vec![join.clone()]);
        let document = json!({"inputs": {
            "a": {"process": "https://elsewhere.example/processes/work"},
            "b": {"process": "http://h/processes/nothing"}
        }});
        let remotes = Remotes::default();
        let resolver = Resolver {
            base: "http://h",
            remotes: &remotes,
            lookup: &lookup,
        };
        let problems = plan(&join, &document, &resolver).unwrap_err();
        let text = super::super::describe_problems(&problems);
        assert!(text.contains("neither a process of this server"), "{text}");
        assert!(text.contains("\"nothing\" is not offered here"), "{text}");
    }
}
