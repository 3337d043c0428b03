//! OGC API - Processes Part 3, nested processes: an execute request whose input value is
//! itself an execution, `{"process": "<this server>/processes/<id>", "inputs": {...},
//! "outputs": {"<one output>": {}}}`, to any depth, becomes a workflow of the same model:
//! one step per process (the outer one named `main`, each nested one after the input it
//! feeds), the nested execution's output feeding the outer input. Only processes of this
//! server are accepted for now.
//!
//! The plan is a [`Workflow`] and a flat execute document: every plain input of every step
//! becomes an input of the workflow (the outer process's under its own name, a nested
//! one's as `<step>.<input>`), so the ordinary request reading and checks apply.

use super::{compile, Draft, Interface, Problem, Source, Step, Workflow};
use crate::domain::{InputKind, Process, ProcessId};
use seed::manifest::{InputFile, JsonInput};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
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

/// The workflow and flat execute document of a request with nested processes; `None`
/// when no input is one (an ordinary execute request).
pub fn plan(
    target: &Arc<Process>,
    document: &Value,
    base_url: &str,
    lookup: &dyn Fn(&str) -> Option<Arc<Process>>,
) -> Result<Option<(Workflow, Value)>, Vec<Problem>> {
    let Some(inputs) = document.get("inputs").and_then(Value::as_object) else {
        return Ok(None);
    };
    if !inputs.values().any(is_nested) {
        return Ok(None);
    }
    let mut planner = Planner {
        base: base_url.trim_end_matches('/'),
        lookup,
        draft: Draft {
            id: target.id.to_string(),
            version: target.version.clone(),
            title: target.title.clone(),
            description: target.description.clone(),
            ..Draft::default()
        },
        flat: Map::new(),
        problems: Vec::new(),
    };
    planner.add_step(MAIN_STEP, target, inputs, "/inputs", 0);
    if !planner.problems.is_empty() {
        return Err(planner.problems);
    }
    let Planner { draft, flat, .. } = planner;
    let mut workflow = compile(draft, lookup)?;
    for exposed in &mut workflow.outputs {
        exposed.alias = Some(exposed.output.clone());
    }
    let mut flat_document = document.clone();
    flat_document["inputs"] = Value::Object(flat);
    Ok(Some((workflow, flat_document)))
}

struct Planner<'a> {
    base: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<Arc<Process>>,
    draft: Draft,
    /// The workflow's inputs as the flat document gives them.
    flat: Map<String, Value>,
    problems: Vec<Problem>,
}

impl Planner<'_> {
    fn problem(&mut self, pointer: &str, message: String) {
        self.problems.push(Problem {
            pointer: pointer.to_string(),
            message,
        });
    }

    fn add_step(
        &mut self,
        name: &str,
        process: &Arc<Process>,
        inputs: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) {
        let mut bound = BTreeMap::new();
        for (id, given) in inputs {
            let at_input = format!("{at}/{id}");
            if !is_nested(given) {
                let name_in_workflow = if name == MAIN_STEP {
                    id.clone()
                } else {
                    format!("{name}.{id}")
                };
                if let Some(description) = process.input(id) {
                    self.declare(&name_in_workflow, description);
                    bound.insert(
                        id.clone(),
                        Source::Input {
                            name: name_in_workflow.clone(),
                        },
                    );
                }
                // An unknown input is reported by the request checks of the flat document.
                self.flat.insert(name_in_workflow, given.clone());
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
            let Some(inner) = self.local_process(url, &at_input) else {
                continue;
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
            process: process.id.to_string(),
            version: None,
            after: Vec::new(),
            inputs: bound,
            scatter: None,
            when: None,
        });
    }

    /// The process a nested `process` URL names on this server.
    fn local_process(&mut self, url: &str, at: &str) -> Option<Arc<Process>> {
        let path = url
            .strip_prefix(self.base)
            .or_else(|| url.starts_with('/').then_some(url));
        let id = path
            .and_then(|path| path.strip_prefix("/processes/"))
            .map(|rest| rest.trim_end_matches("/execution").trim_end_matches('/'));
        let Some(id) = id else {
            self.problem(
                at,
                format!(
                    "{url:?} is not a process of this server ({}/processes/<id>): nested \
                     processes on other servers are not supported yet",
                    self.base
                ),
            );
            return None;
        };
        let found = ProcessId::parse(id).ok().and_then(|_| (self.lookup)(id));
        if found.is_none() {
            self.problem(at, format!("process {id:?} is not offered here"));
        }
        found
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
        let (workflow, flat) = plan(&join, &document, "http://h/", &lookup)
            .unwrap()
            .unwrap();
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
        assert!(plan(&join, &plain, "http://h", &lookup).unwrap().is_none());
    }

    #[test]
    fn remote_and_unknown_processes_are_refused() {
        let join = process("join", &["a:file", "b:file"], &["joined:file"]);
        let lookup = lookup_in(vec![join.clone()]);
        let document = json!({"inputs": {
            "a": {"process": "https://elsewhere.example/processes/work"},
            "b": {"process": "http://h/processes/nothing"}
        }});
        let problems = plan(&join, &document, "http://h", &lookup).unwrap_err();
        let text = super::super::describe_problems(&problems);
        assert!(text.contains("not a process of this server"), "{text}");
        assert!(text.contains("\"nothing\" is not offered here"), "{text}");
    }
}
