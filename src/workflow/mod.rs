//! Workflows: one model of a graph of steps, whatever front door it came through.
//!
//! A [`Workflow`] is a DAG of [`Step`]s; each step runs a local process, and each of its
//! inputs is bound ([`Source`]) to an input of the workflow, a literal, or a named output
//! of another step. The workflow's own interface is its inputs (Seed-shaped: files and
//! json) and the outputs it exposes, `<step>.<output>` (by default every output of the
//! steps no other step consumes). [`compile`] checks a [`Draft`] against the processes it
//! names and lists every problem at once; the front doors (Scale recipes in `recipe.rs`;
//! later Part 3 execute requests and CWL) only parse into a draft.
//!
//! A compiled workflow is stored as JSON with its deployed process (the `manifest` column
//! of the deployed-process row), so it is rebuilt after a restart without looking at the
//! step processes again; `driver.rs` executes it, one child job per step.

pub mod driver;
pub mod nested;
pub mod recipe;
pub mod remote_step;

use crate::catalog::seed_process::{file_input, file_output, json_input, json_output};
use crate::domain::{Binding, InputKind, JobControlOption, OutputKind, Process, ProcessId};
use seed::manifest::{InputFile, JsonInput, JsonOutput, JsonType, OutputFile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Media type of a Scale recipe type deployed as a process (ours).
pub const RECIPE_MEDIA_TYPE: &str = "application/vnd.ades.recipe+json";

/// A workflow as a front door read it, before it is checked against the processes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Draft {
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub inputs: Interface,
    pub steps: Vec<Step>,
    /// Where each step came from in the body (JSON pointer), for the problems.
    pub step_pointers: BTreeMap<String, String>,
    /// Values of json workflow inputs left out of a request (CWL input `default`s).
    pub defaults: BTreeMap<String, Value>,
}

/// The workflow's inputs, in Seed's shape (a recipe's `input` is exactly this).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interface {
    #[serde(default)]
    pub files: Vec<InputFile>,
    #[serde(default)]
    pub json: Vec<JsonInput>,
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the workflow (`[A-Za-z0-9_-]`).
    pub name: String,
    /// The process it runs: a process id of this server, or `<remote>:<process id>` for a
    /// process of an allowed remote server (`crate::remote`).
    pub process: String,
    /// The process version it expects; `None` = whichever is deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Steps that must succeed first although none of their outputs is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// Input of the process -> where its value comes from.
    pub inputs: BTreeMap<String, Source>,
    /// For a step on a remote server: its outputs, `true` for a file (asked for by
    /// reference and fetched), `false` for a json value, as its description said when the
    /// workflow was compiled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_outputs: Option<BTreeMap<String, bool>>,
    /// Runs the step once per value of this (file) input, a fan-out as CWL's `scatter`:
    /// each value is a child job of its own, `<step>#<n>`, and the step's outputs are
    /// theirs, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scatter: Option<String>,
    /// Runs the step only when this value is `true` (a json boolean: a workflow input, a
    /// literal or another step's output), as CWL's `when`; a skipped step gives no
    /// outputs and counts as done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Source>,
    /// CWL `valueFrom` of step inputs (input -> expression): evaluated when the step's job
    /// is made (for a scatter, once per job), with `self` the input's value and `inputs`
    /// every input before any valueFrom; the input gets the (json) result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub value_from: BTreeMap<String, String>,
    /// Inputs of the step that its process does not declare (CWL step inputs that only
    /// its `value_from` and `condition` read): evaluated like the others, never passed on.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub local_inputs: BTreeSet<String>,
    /// A CWL `when`: an expression over the step's inputs (after `value_from`), evaluated
    /// when the step is ready; `false` skips it as `when` does, anything but a boolean
    /// fails the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The JavaScript library of the CWL `InlineJavascriptRequirement` in effect for
    /// `value_from` and `condition`; `None`: parameter references only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression_lib: Option<String>,
}

/// Where one step input's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "camelCase")]
pub enum Source {
    /// An input of the workflow.
    Input { name: String },
    /// A fixed value (json inputs).
    Literal { value: Value },
    /// An output of an earlier step.
    Output { step: String, output: String },
    /// Several workflow inputs or step outputs as one list (CWL's
    /// `MultipleInputFeatureRequirement`): files one after the other; json values as a
    /// list of each source's value (`merge_nested`), or with lists spliced in
    /// (`flatten`, `merge_flattened`).
    Merge {
        sources: Vec<Source>,
        #[serde(default)]
        flatten: bool,
    },
}

impl Source {
    /// The sources it reads: itself, or a merge's members.
    pub fn members(&self) -> Vec<&Source> {
        match self {
            Source::Merge { sources, .. } => sources.iter().flat_map(Source::members).collect(),
            one => vec![one],
        }
    }
}

/// An output the workflow exposes: `<step>.<output>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposed {
    pub step: String,
    pub output: String,
    /// The workflow's id for it when not `<step>.<output>` (a nested execute request
    /// answers with its outer process's own output ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The step output's description, renamed `<step>.<output>`.
    pub kind: ExposedKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ExposedKind {
    File { file: OutputFile },
    Json { json: JsonOutput },
}

impl Exposed {
    /// The output id of the workflow: `<step>.<output>`.
    pub fn id(&self) -> String {
        match &self.alias {
            Some(alias) => alias.clone(),
            None => format!("{}.{}", self.step, self.output),
        }
    }
}

/// A checked workflow: what a deployed workflow process runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub inputs: Interface,
    /// In an order where every step comes after the steps it needs.
    pub steps: Vec<Step>,
    pub outputs: Vec<Exposed>,
    /// Values of json workflow inputs left out of a request (CWL input `default`s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, Value>,
}

impl Workflow {
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The steps `step` waits for: those named in `after` and those whose outputs it reads.
    pub fn needs(step: &Step) -> BTreeSet<&str> {
        let mut needs: BTreeSet<&str> = step.after.iter().map(String::as_str).collect();
        for source in step.inputs.values().chain(step.when.as_ref()) {
            for member in source.members() {
                if let Source::Output { step, .. } = member {
                    needs.insert(step);
                }
            }
        }
        needs
    }

    /// The process a deployed workflow is offered as.
    pub fn to_process(self: &Arc<Self>) -> Result<Process, String> {
        let id = ProcessId::parse(&self.id).map_err(|e| e.to_string())?;
        let mut inputs: Vec<_> = self
            .inputs
            .json
            .iter()
            .map(|json| {
                let mut description = json_input(json);
                if let Some(default) = self.defaults.get(&json.name) {
                    description.schema["default"] = default.clone();
                }
                description
            })
            .collect();
        inputs.extend(self.inputs.files.iter().map(file_input));
        let outputs = self
            .outputs
            .iter()
            .map(|exposed| {
                let mut description = match &exposed.kind {
                    ExposedKind::File { file } => file_output(file),
                    ExposedKind::Json { json } => json_output(json),
                };
                description.id = exposed.id();
                description.title = format!("{} of step {}", description.title, exposed.step);
                description
            })
            .collect();
        let mut description = self.description.clone();
        if description.is_empty() {
            description = format!("A workflow of {} steps.", self.steps.len());
        }
        Ok(Process {
            id,
            version: self.version.clone(),
            title: self.title.clone(),
            description,
            keywords: vec!["workflow".to_string()],
            metadata: Vec::new(),
            job_control_options: vec![
                JobControlOption::SyncExecute,
                JobControlOption::AsyncExecute,
                JobControlOption::Dismiss,
            ],
            inputs,
            outputs,
            binding: Binding::Workflow(self.clone()),
            mutable: true,
        })
    }
}

/// One thing wrong with a draft: where (JSON pointer into the body) and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} (at {})", self.message, self.pointer)
        }
    }
}

/// All problems as one sentence list, for an exception's detail.
pub fn describe_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a step input or a workflow input carries, to compare the two ends of a binding.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Carried {
    /// Files; `multiple` = possibly several.
    Files {
        multiple: bool,
    },
    Json(JsonType),
}

fn describe(carried: Carried) -> String {
    match carried {
        Carried::Files { multiple: true } => "several files".to_string(),
        Carried::Files { multiple: false } => "one file".to_string(),
        Carried::Json(kind) => format!("a json {}", kind.as_str()),
    }
}

/// Whether a value of `from` may feed an input taking `into`; `None` = yes, else why not.
fn value_from_into_files(step: &str, input: &str) -> String {
    format!(
        "step {step:?} input {input:?} takes files, but its valueFrom makes a json value: \
         give it a source without valueFrom"
    )
}

fn mismatch(from: Carried, into: Carried) -> Option<String> {
    match (from, into) {
        (Carried::Files { multiple: true }, Carried::Files { multiple: false }) => {
            Some("several files (multiple) cannot feed an input taking one file".to_string())
        }
        (Carried::Files { .. }, Carried::Files { .. }) => None,
        (Carried::Json(a), Carried::Json(b)) if a == b => None,
        // Numbers accept integers; anything else must match exactly.
        (Carried::Json(JsonType::Integer), Carried::Json(JsonType::Number)) => None,
        (a, b) => Some(format!(
            "{} cannot feed an input taking {}",
            describe(a),
            describe(b)
        )),
    }
}

fn input_carries(process: &Process, input: &str) -> Option<(Carried, bool)> {
    let description = process.input(input)?;
    let carried = match &description.kind {
        InputKind::File { .. } => Carried::Files {
            multiple: description.max_occurs != Some(1),
        },
        InputKind::Json { kind } => Carried::Json(*kind),
    };
    Some((carried, description.min_occurs > 0))
}

fn output_carries(process: &Process, output: &str) -> Option<Carried> {
    Some(match &process.output(output)?.kind {
        OutputKind::File { multiple, .. } => Carried::Files {
            multiple: *multiple,
        },
        OutputKind::Json { kind, .. } => Carried::Json(*kind),
    })
}

/// A Seed-shaped output of a process, for exposing it.
pub fn exposed_kind(process: &Process, output: &str) -> Option<ExposedKind> {
    let description = process.output(output)?;
    Some(match &description.kind {
        OutputKind::File {
            media_type,
            multiple,
            required,
        } => ExposedKind::File {
            file: OutputFile {
                name: output.to_string(),
                pattern: "*".to_string(),
                media_type: media_type.clone(),
                multiple: *multiple,
                required: *required,
            },
        },
        OutputKind::Json { kind, required } => ExposedKind::Json {
            json: JsonOutput {
                name: output.to_string(),
                key: None,
                kind: *kind,
                required: *required,
            },
        },
    })
}

fn valid_step_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks `draft` against the processes `lookup` finds and returns the workflow, or every
/// problem found: unknown processes and versions, unknown inputs and outputs, type
/// mismatches (a file into a json input, several files into one), unbound required inputs,
/// unknown steps and cycles.
pub fn compile(
    draft: Draft,
    lookup: &dyn Fn(&str) -> Option<Arc<Process>>,
) -> Result<Workflow, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut problem =
        |pointer: String, message: String| problems.push(Problem { pointer, message });
    if ProcessId::parse(&draft.id).is_err() {
        problem(
            "/name".to_string(),
            format!(
                "{:?} cannot be a process id: give a `name` of 1 to 128 letters, digits and '-'",
                draft.id
            ),
        );
    }
    if draft.steps.is_empty() {
        problem(
            "/definition/nodes".to_string(),
            "the workflow has no steps: add at least one node".to_string(),
        );
    }
    let pointer_of = |step: &str| {
        draft
            .step_pointers
            .get(step)
            .cloned()
            .unwrap_or_else(|| format!("/steps/{step}"))
    };
    let mut workflow_inputs: BTreeMap<&str, Carried> = BTreeMap::new();
    for file in &draft.inputs.files {
        workflow_inputs.insert(
            &file.name,
            Carried::Files {
                multiple: file.multiple,
            },
        );
    }
    for json in &draft.inputs.json {
        if workflow_inputs
            .insert(&json.name, Carried::Json(json.kind))
            .is_some()
        {
            problem(
                "/definition/input".to_string(),
                format!(
                    "input {:?} is declared twice: give each input its own name",
                    json.name
                ),
            );
        }
    }
    for (name, value) in &draft.defaults {
        match workflow_inputs.get(name.as_str()) {
            Some(Carried::Json(kind)) if kind.accepts(value) => {}
            _ => problem(
                "/inputs".to_string(),
                format!(
                    "the default {value} of input {name:?} is not a value of a json input of \
                     the workflow"
                ),
            ),
        }
    }
    let names: BTreeSet<&str> = draft.steps.iter().map(|s| s.name.as_str()).collect();
    let processes: BTreeMap<&str, Arc<Process>> = draft
        .steps
        .iter()
        .filter_map(|s| lookup(&s.process).map(|p| (s.name.as_str(), p)))
        .collect();
    for step in &draft.steps {
        let at = pointer_of(&step.name);
        if !valid_step_name(&step.name) {
            problem(
                at.clone(),
                format!(
                    "step name {:?} is not usable: use 1 to 64 letters, digits, '_' and '-'",
                    step.name
                ),
            );
        }
        for before in &step.after {
            if !names.contains(before.as_str()) {
                problem(
                    format!("{at}/dependencies"),
                    format!(
                        "step {:?} depends on {before:?}, which is not a step of the workflow",
                        step.name
                    ),
                );
            }
        }
        let Some(process) = processes.get(step.name.as_str()) else {
            problem(
                format!("{at}/node_type"),
                format!(
                    "step {:?} runs process {:?}, which is not offered here: deploy it first",
                    step.name, step.process
                ),
            );
            continue;
        };
        if let Some(version) = &step.version {
            if version != &process.version {
                problem(
                    format!("{at}/node_type/job_type_version"),
                    format!(
                        "step {:?} wants version {version} of process {:?}, but version {} is offered",
                        step.name, step.process, process.version
                    ),
                );
            }
        }
        if matches!(process.binding, Binding::Workflow(_)) {
            problem(
                format!("{at}/node_type"),
                format!(
                    "step {:?} runs workflow {:?}: nested workflows are not supported yet; run its steps in this workflow",
                    step.name, step.process
                ),
            );
            continue;
        }
        for (input, source) in &step.inputs {
            let at_input = format!("{at}/input/{input}");
            if step.local_inputs.contains(input) {
                continue;
            }
            let Some((into, _)) = input_carries(process, input) else {
                problem(
                    at_input,
                    format!(
                        "process {:?} has no input {input:?} (step {:?})",
                        step.process, step.name
                    ),
                );
                continue;
            };
            let from = match source {
                Source::Input { name } => match workflow_inputs.get(name.as_str()) {
                    Some(carried) => *carried,
                    None => {
                        problem(
                            at_input,
                            format!(
                                "step {:?} input {input:?} reads workflow input {name:?}, which the workflow does not declare",
                                step.name
                            ),
                        );
                        continue;
                    }
                },
                // A valueFrom makes the value: its literal is only its `self`.
                Source::Literal { .. } if step.value_from.contains_key(input) => {
                    if !matches!(into, Carried::Json(_)) {
                        problem(at_input, value_from_into_files(&step.name, input));
                    }
                    continue;
                }
                Source::Literal { value } => {
                    match into {
                        Carried::Files { .. } => problem(
                            at_input,
                            format!(
                                "step {:?} input {input:?} takes files: a literal cannot feed it",
                                step.name
                            ),
                        ),
                        Carried::Json(kind) if !kind.accepts(value) => problem(
                            at_input,
                            format!(
                                "step {:?} input {input:?} takes a json {}, not the literal {value}",
                                step.name,
                                kind.as_str()
                            ),
                        ),
                        Carried::Json(_) => {}
                    }
                    continue;
                }
                Source::Merge { sources, .. } => {
                    let mut carried = Vec::new();
                    for member in sources {
                        let found = match member {
                            Source::Input { name } => workflow_inputs.get(name.as_str()).copied(),
                            Source::Output {
                                step: producer,
                                output,
                            } if producer != &step.name => processes
                                .get(producer.as_str())
                                .and_then(|p| output_carries(p, output)),
                            _ => None,
                        };
                        match found {
                            Some(one) => carried.push(one),
                            None => problem(
                                at_input.clone(),
                                format!(
                                    "step {:?} input {input:?} reads {member:?}, which is no workflow input and no output of another step",
                                    step.name
                                ),
                            ),
                        }
                    }
                    if carried.len() != sources.len() {
                        continue;
                    }
                    if carried.iter().all(|c| matches!(c, Carried::Files { .. })) {
                        Carried::Files { multiple: true }
                    } else if carried.iter().all(|c| matches!(c, Carried::Json(_))) {
                        Carried::Json(JsonType::Array)
                    } else {
                        problem(
                            at_input,
                            format!(
                                "step {:?} input {input:?} reads a list of sources that mixes files and json values: read one kind",
                                step.name
                            ),
                        );
                        continue;
                    }
                }
                Source::Output {
                    step: producer,
                    output,
                } => {
                    if producer == &step.name {
                        problem(
                            at_input,
                            format!("step {:?} reads its own output {output:?}", step.name),
                        );
                        continue;
                    }
                    if !names.contains(producer.as_str()) {
                        problem(
                            at_input,
                            format!(
                                "step {:?} input {input:?} reads step {producer:?}, which is not a step of the workflow",
                                step.name
                            ),
                        );
                        continue;
                    }
                    let Some(produced) = processes.get(producer.as_str()) else {
                        continue; // its unknown process is reported already
                    };
                    let scattered = draft
                        .steps
                        .iter()
                        .any(|s| &s.name == producer && s.scatter.is_some());
                    match output_carries(produced, output) {
                        // A scattered step gives each output once per job.
                        Some(Carried::Files { .. }) if scattered => {
                            Carried::Files { multiple: true }
                        }
                        Some(carried) => carried,
                        None => {
                            problem(
                                at_input,
                                format!(
                                    "step {producer:?} (process {:?}) has no output {output:?}",
                                    produced.id.as_str()
                                ),
                            );
                            continue;
                        }
                    }
                }
            };
            if step.value_from.contains_key(input) {
                if !matches!(into, Carried::Json(_)) {
                    problem(at_input, value_from_into_files(&step.name, input));
                }
                continue;
            }
            // A scattered input takes its source's files one at a time.
            let from = match (from, step.scatter.as_deref() == Some(input.as_str())) {
                (Carried::Files { .. }, true) => Carried::Files { multiple: false },
                (from, _) => from,
            };
            if let Some(why) = mismatch(from, into) {
                problem(
                    at_input,
                    format!("step {:?} input {input:?}: {why}", step.name),
                );
            }
        }
        if let Some(when) = &step.when {
            let carried = match when {
                Source::Input { name } => workflow_inputs.get(name.as_str()).copied(),
                Source::Literal { value } => {
                    value.as_bool().map(|_| Carried::Json(JsonType::Boolean))
                }
                Source::Output {
                    step: producer,
                    output,
                } => processes
                    .get(producer.as_str())
                    .and_then(|p| output_carries(p, output)),
                Source::Merge { .. } => None,
            };
            if carried != Some(Carried::Json(JsonType::Boolean)) {
                problem(
                    format!("{at}/when"),
                    format!(
                        "step {:?} runs when {when:?}, which is no json boolean of the workflow: name a boolean input, a boolean output of another step, or a literal true or false",
                        step.name
                    ),
                );
            }
        }
        if let Some(scatter) = &step.scatter {
            let takes_files = matches!(
                input_carries(process, scatter),
                Some((Carried::Files { .. }, _))
            );
            if !step.inputs.contains_key(scatter) || !takes_files {
                problem(
                    format!("{at}/scatter"),
                    format!(
                        "step {:?} scatters over {scatter:?}, which is not a connected file input of process {:?}: name one",
                        step.name, step.process
                    ),
                );
            }
        }
        for description in &process.inputs {
            if description.min_occurs > 0 && !step.inputs.contains_key(&description.id) {
                problem(
                    format!("{at}/input"),
                    format!(
                        "step {:?}: required input {:?} of process {:?} is not connected: connect it to a recipe input or a dependency's output",
                        step.name, description.id, step.process
                    ),
                );
            }
        }
    }
    let order = match topological_order(&draft.steps) {
        Ok(order) => order,
        Err(cycle) => {
            problem(
                "/definition/nodes".to_string(),
                format!(
                    "the steps form a cycle ({}): a workflow must be acyclic",
                    cycle.join(" -> ")
                ),
            );
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let consumed: BTreeSet<&str> = draft
        .steps
        .iter()
        .flat_map(|s| Workflow::needs(s).into_iter().collect::<Vec<_>>())
        .collect();
    let mut outputs = Vec::new();
    for name in &order {
        if consumed.contains(name.as_str()) {
            continue;
        }
        let process = &processes[name.as_str()];
        let scattered = draft
            .steps
            .iter()
            .any(|s| &s.name == name && s.scatter.is_some());
        for description in &process.outputs {
            if let Some(mut kind) = exposed_kind(process, &description.id) {
                if let (ExposedKind::File { file }, true) = (&mut kind, scattered) {
                    file.multiple = true;
                }
                outputs.push(Exposed {
                    step: name.clone(),
                    output: description.id.clone(),
                    alias: None,
                    kind,
                });
            }
        }
    }
    // A remote step remembers which of its outputs are files: it asks for them by
    // reference and fetches them, its json outputs by value.
    let remote_outputs: BTreeMap<String, BTreeMap<String, bool>> = processes
        .iter()
        .filter(|(_, p)| matches!(p.binding, Binding::Remote(_)))
        .map(|(name, process)| {
            let outputs = process
                .outputs
                .iter()
                .map(|o| (o.id.clone(), matches!(o.kind, OutputKind::File { .. })))
                .collect();
            (name.to_string(), outputs)
        })
        .collect();
    drop(processes);
    let mut steps = draft.steps;
    steps.sort_by_key(|s| order.iter().position(|n| n == &s.name));
    for step in &mut steps {
        step.remote_outputs = remote_outputs.get(&step.name).cloned();
    }
    Ok(Workflow {
        id: draft.id,
        version: draft.version,
        title: draft.title,
        description: draft.description,
        inputs: draft.inputs,
        steps,
        outputs,
        defaults: draft.defaults,
    })
}

/// The step names in an order where each comes after what it needs, or one cycle.
fn topological_order(steps: &[Step]) -> Result<Vec<String>, Vec<String>> {
    let known: BTreeSet<&str> = steps.iter().map(|s| s.name.as_str()).collect();
    let needs: BTreeMap<&str, BTreeSet<&str>> = steps
        .iter()
        .map(|s| {
            let needs = Workflow::needs(s)
                .into_iter()
                .filter(|n| known.contains(n))
                .collect();
            (s.name.as_str(), needs)
        })
        .collect();
    let mut done: Vec<String> = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    loop {
        let ready: Vec<&str> = steps
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !placed.contains(n) && needs[n].iter().all(|d| placed.contains(d)))
            .collect();
        if ready.is_empty() {
            break;
        }
        for name in ready {
            placed.insert(name);
            done.push(name.to_string());
        }
    }
    if done.len() == known.len() {
        return Ok(done);
    }
    // Walk from any unplaced step along unplaced needs until a step repeats: a cycle.
    let start = steps
        .iter()
        .map(|s| s.name.as_str())
        .find(|n| !placed.contains(n))
        .expect("an unplaced step");
    let mut path = vec![start];
    let mut at = start;
    loop {
        let next = needs[at]
            .iter()
            .copied()
            .find(|n| !placed.contains(n))
            .expect("an unplaced step needs an unplaced step");
        if let Some(from) = path.iter().position(|n| *n == next) {
            let mut cycle: Vec<String> = path[from..].iter().rev().map(|s| s.to_string()).collect();
            cycle.push(cycle[0].clone());
            return Err(cycle);
        }
        path.push(next);
        at = next;
    }
}

/// Helpers for tests of this room and of `recipe.rs`.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A process with the given inputs (`name:file`, `name:files`, `name:int`,
    /// `name?:file` optional) and outputs (`name:file`, `name:files`, `name:int`).
    pub fn process(id: &str, inputs: &[&str], outputs: &[&str]) -> Arc<Process> {
        let mut manifest = serde_json::json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": id, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": id, "description": "test", "maintainer": {"name": "t", "email": "t@example.com"},
                "timeout": 60,
                "interface": {"command": "run", "inputs": {"files": [], "json": []}, "outputs": {"files": [], "json": []}}
            }
        });
        let interface = &mut manifest["job"]["interface"];
        for spec in inputs {
            let (name, kind) = spec.split_once(':').unwrap();
            let (name, required) = match name.strip_suffix('?') {
                Some(name) => (name, false),
                None => (name, true),
            };
            match kind {
                "file" | "files" => interface["inputs"]["files"].as_array_mut().unwrap().push(
                    serde_json::json!({"name": name, "required": required, "multiple": kind == "files"}),
                ),
                other => interface["inputs"]["json"].as_array_mut().unwrap().push(
                    serde_json::json!({"name": name, "type": if other == "int" {"integer"} else {other}, "required": required}),
                ),
            }
        }
        for spec in outputs {
            let (name, kind) = spec.split_once(':').unwrap();
            match kind {
                "file" | "files" => interface["outputs"]["files"].as_array_mut().unwrap().push(
                    serde_json::json!({"name": name, "pattern": format!("{name}*"), "multiple": kind == "files"}),
                ),
                other => interface["outputs"]["json"].as_array_mut().unwrap().push(
                    serde_json::json!({"name": name, "type": if other == "int" {"integer"} else {other}}),
                ),
            }
        }
        let manifest: seed::Manifest = serde_json::from_value(manifest).unwrap();
        Arc::new(crate::catalog::seed_process::process_from_manifest(
            &manifest,
            &format!("{id}:1.0.0"),
            None,
        ))
    }

    pub fn lookup_in(processes: Vec<Arc<Process>>) -> impl Fn(&str) -> Option<Arc<Process>> {
        move |id| processes.iter().find(|p| p.id.as_str() == id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn step(name: &str, process: &str, inputs: &[(&str, Source)]) -> Step {
        Step {
            name: name.to_string(),
            process: process.to_string(),
            version: None,
            after: Vec::new(),
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            remote_outputs: None,
            scatter: None,
            when: None,
            ..Step::default()
        }
    }

    fn out(step: &str, output: &str) -> Source {
        Source::Output {
            step: step.to_string(),
            output: output.to_string(),
        }
    }

    fn input(name: &str) -> Source {
        Source::Input {
            name: name.to_string(),
        }
    }

    fn draft(steps: Vec<Step>) -> Draft {
        Draft {
            id: "wf".to_string(),
            version: "1.0.0".to_string(),
            title: "WF".to_string(),
            inputs: Interface {
                files: vec![InputFile {
                    name: "image".to_string(),
                    required: true,
                    media_types: vec![],
                    multiple: false,
                    partial: false,
                }],
                json: vec![JsonInput {
                    name: "level".to_string(),
                    kind: JsonType::Integer,
                    required: true,
                }],
            },
            steps,
            ..Draft::default()
        }
    }

    fn catalog() -> impl Fn(&str) -> Option<Arc<Process>> {
        lookup_in(vec![
            process("split", &["image:file"], &["left:file", "right:file"]),
            process(
                "work",
                &["part:file", "level?:int"],
                &["result:file", "count:int"],
            ),
            process("join", &["a:file", "b:file"], &["joined:file"]),
            process("many", &["image:file"], &["tiles:files"]),
        ])
    }

    #[test]
    fn a_diamond_compiles_in_order_and_exposes_the_last_steps_outputs() {
        let workflow = compile(
            draft(vec![
                step(
                    "join",
                    "join",
                    &[("a", out("l", "result")), ("b", out("r", "result"))],
                ),
                step(
                    "l",
                    "work",
                    &[("part", out("split", "left")), ("level", input("level"))],
                ),
                step("r", "work", &[("part", out("split", "right"))]),
                step("split", "split", &[("image", input("image"))]),
            ]),
            &catalog(),
        )
        .unwrap();
        let order: Vec<&str> = workflow.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["split", "l", "r", "join"]);
        let outputs: Vec<String> = workflow.outputs.iter().map(Exposed::id).collect();
        assert_eq!(outputs, ["join.joined"]);
        let process = Arc::new(workflow).to_process().unwrap();
        assert_eq!(process.input("image").unwrap().min_occurs, 1);
        assert!(process.output("join.joined").is_some());
    }

    #[test]
    fn a_scattered_step_takes_several_files_one_at_a_time_and_gives_several() {
        let mut work = step("work", "work", &[("part", out("tile", "tiles"))]);
        work.scatter = Some("part".to_string());
        let tile = step("tile", "many", &[("image", input("image"))]);
        let workflow = compile(draft(vec![tile.clone(), work.clone()]), &catalog()).unwrap();
        let result = workflow
            .outputs
            .iter()
            .find(|o| o.output == "result")
            .unwrap();
        assert!(
            matches!(&result.kind, ExposedKind::File { file } if file.multiple),
            "{result:?}"
        );
        // Without the scatter, several tiles cannot feed one part; a scattered step's
        // several results cannot feed one file; a scatter must name a connected file input.
        let mut plain = work.clone();
        plain.scatter = None;
        let problems = compile(draft(vec![tile.clone(), plain]), &catalog()).unwrap_err();
        assert!(
            describe_problems(&problems).contains("several files"),
            "{problems:?}"
        );
        let join = step(
            "join",
            "join",
            &[("a", out("work", "result")), ("b", input("image"))],
        );
        let problems =
            compile(draft(vec![tile.clone(), work.clone(), join]), &catalog()).unwrap_err();
        assert!(
            describe_problems(&problems).contains("\"join\" input \"a\""),
            "{problems:?}"
        );
        let mut wrong = work;
        wrong.scatter = Some("level".to_string());
        let problems = compile(draft(vec![tile, wrong]), &catalog()).unwrap_err();
        assert!(
            describe_problems(&problems).contains("scatters over \"level\""),
            "{problems:?}"
        );
    }

    #[test]
    fn a_condition_is_a_json_boolean_and_waits_for_its_step() {
        let mut draft_ok = draft(vec![
            step("split", "split", &[("image", input("image"))]),
            step("left", "work", &[("part", out("split", "left"))]),
        ]);
        draft_ok.inputs.json.push(JsonInput {
            name: "run".to_string(),
            kind: JsonType::Boolean,
            required: false,
        });
        draft_ok.steps[1].when = Some(input("run"));
        let workflow = compile(draft_ok.clone(), &catalog()).unwrap();
        assert!(workflow.step("left").unwrap().when.is_some());
        let mut literal = draft_ok.clone();
        literal.steps[1].when = Some(Source::Literal {
            value: serde_json::json!(false),
        });
        assert!(compile(literal, &catalog()).is_ok());
        // An integer is no condition; nor is a file.
        let mut wrong = draft_ok.clone();
        wrong.steps[1].when = Some(input("level"));
        let problems = compile(wrong, &catalog()).unwrap_err();
        assert!(
            describe_problems(&problems).contains("no json boolean"),
            "{problems:?}"
        );
        let mut file = draft_ok;
        file.steps[1].when = Some(out("split", "right"));
        assert!(compile(file, &catalog()).is_err());
    }

    #[test]
    fn every_problem_is_listed() {
        let mut cyclic_a = step("a", "work", &[("part", out("b", "result"))]);
        cyclic_a.after = vec!["ghost".to_string()];
        let problems = compile(
            draft(vec![
                cyclic_a,
                step("b", "work", &[("part", out("a", "result"))]),
                step("c", "nowhere", &[]),
                step("d", "work", &[("part", input("level"))]),
                step(
                    "e",
                    "join",
                    &[("a", out("m", "tiles")), ("b", input("missing"))],
                ),
                step(
                    "m",
                    "many",
                    &[("image", input("image")), ("extra", input("image"))],
                ),
                step("f", "work", &[]),
                step("g", "work", &[("part", out("split", "left"))]),
                step(
                    "h",
                    "work",
                    &[
                        ("part", input("image")),
                        (
                            "level",
                            Source::Literal {
                                value: serde_json::json!("high"),
                            },
                        ),
                    ],
                ),
            ]),
            &catalog(),
        )
        .unwrap_err();
        let text = describe_problems(&problems);
        for expected in [
            "depends on \"ghost\"",
            "process \"nowhere\", which is not offered here",
            "a json integer cannot feed an input taking one file",
            "several files (multiple) cannot feed an input taking one file",
            "workflow input \"missing\", which the workflow does not declare",
            "process \"many\" has no input \"extra\"",
            "required input \"part\" of process \"work\" is not connected",
            "reads step \"split\", which is not a step",
            "cycle (b -> a -> b)",
            "takes a json integer, not the literal \"high\"",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from: {text}");
        }
        assert_eq!(problems.len(), 10, "{text}");
    }
}
