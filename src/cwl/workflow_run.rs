//! Running a CWL [`Workflow`]: each step starts as soon as the values it reads are there,
//! so independent steps run at once; a step's inputs are its sources (merged by
//! `linkMerge`, filtered by `pickValue`), else its `default`, then `valueFrom`; `scatter`
//! runs the step once per item (dotproduct, nested or flat cross product) and gives lists;
//! `when` skips a step (its outputs are null); a step's `run` may be a tool, an
//! ExpressionTool without JavaScript, or a workflow (run here, recursively).
//! Requirements and hints of the workflow and the step are inherited by what the step runs
//! (the innermost wins).
//!
//! Who runs a CommandLineTool is a [`StepExecutor`]: `ades cwl run` runs it at once in a
//! container ([`super::run_tool`]); a server can run each one as a job of its own.

use super::document::Parameter;
use super::expression::{evaluate, evaluate_string, scan_for_javascript, Context};
use super::outputs::{file_location, load_file_contents, location_path};
use super::run::resolve_locations;
use super::types::{describe, matches};
use super::workflow::{
    ExpressionTool, LinkMerge, PickValue, Process, ScatterMethod, Source, Step, StepInput, Workflow,
};
use super::{CwlError, Tool};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How many jobs of one scattered step run at once (each is a container).
const SCATTER_PARALLELISM: usize = 4;

/// Runs the CommandLineTools of a workflow's steps.
#[async_trait::async_trait]
pub trait StepExecutor: Send + Sync {
    /// Runs `tool` (its inherited requirements already added) with `job_order`, whose
    /// File and Directory locations are absolute; `name` says which step (and which
    /// scatter job: `main/align/2`). Returns the tool's output object; its files must stay
    /// readable until the workflow ends.
    async fn run_tool(
        &self,
        name: &str,
        tool: &Tool,
        job_order: Map<String, Value>,
    ) -> Result<Value, CwlError>;

    /// A step failed: stop the steps still running (they then end with an error, which is
    /// ignored: the first failure is the workflow's).
    fn cancel(&self) {}
}

/// Requirements and hints that the processes of a step inherit from the levels above
/// (innermost first).
#[derive(Debug, Clone, Default)]
struct Inherited {
    requirements: Vec<Value>,
    hints: Vec<Value>,
}

impl Inherited {
    /// The JavaScript library of the `InlineJavascriptRequirement` in effect, if any.
    fn library(&self) -> Option<String> {
        super::javascript::library_in(self.requirements.iter().chain(&self.hints))
    }

    fn within(&self, requirements: &[Value], hints: &[Value]) -> Inherited {
        Inherited {
            requirements: requirements
                .iter()
                .chain(&self.requirements)
                .cloned()
                .collect(),
            hints: hints.iter().chain(&self.hints).cloned().collect(),
        }
    }
}

/// Runs `workflow` with `job_order` (relative locations against `job_dir`); returns its
/// output object. Files of the outputs are where the executor left them: see
/// [`relocate_outputs`].
pub async fn run_workflow(
    executor: &dyn StepExecutor,
    workflow: &Workflow,
    mut job_order: Map<String, Value>,
    job_dir: &Path,
) -> Result<Value, CwlError> {
    if let Some(expression) =
        Process::Workflow(workflow.clone()).javascript_without_requirement(false)
    {
        return Err(super::expression::ExpressionError::JavaScript(expression).into());
    }
    for value in job_order.values_mut() {
        resolve_locations(value, job_dir, &workflow.namespaces)?;
    }
    let name = workflow.id.clone().unwrap_or_else(|| "main".into());
    let outputs = run_inner(
        executor,
        workflow,
        job_order,
        Inherited::default(),
        format!("{name}/"),
    )
    .await?;
    Ok(Value::Object(outputs))
}

/// Runs an ExpressionTool on its own (`ades cwl run expr.cwl job.yml`).
pub fn run_expression_tool(
    tool: &ExpressionTool,
    mut job_order: Map<String, Value>,
    job_dir: &Path,
) -> Result<Value, CwlError> {
    if let Some(expression) =
        Process::Expression(tool.clone()).javascript_without_requirement(false)
    {
        return Err(super::expression::ExpressionError::JavaScript(expression).into());
    }
    for value in job_order.values_mut() {
        resolve_locations(value, job_dir, &tool.namespaces)?;
    }
    Ok(Value::Object(expression_outputs(
        tool,
        job_order,
        &Inherited::default(),
    )?))
}

fn run_inner<'a>(
    executor: &'a dyn StepExecutor,
    workflow: &'a Workflow,
    job_order: Map<String, Value>,
    inherited: Inherited,
    prefix: String,
) -> BoxFuture<'a, Result<Map<String, Value>, CwlError>> {
    async move {
        let inputs = complete_inputs(
            &workflow.inputs,
            job_order,
            &workflow.base_dir,
            &workflow.namespaces,
            "workflow input",
        )?;
        let inherited = inherited.within(&workflow.requirements, &workflow.hints);
        let mut values: BTreeMap<Source, Value> = inputs
            .into_iter()
            .map(|(id, value)| (Source::Input(id), value))
            .collect();
        let mut started: BTreeSet<usize> = BTreeSet::new();
        let mut running = FuturesUnordered::new();
        let mut failure: Option<CwlError> = None;
        loop {
            if failure.is_none() {
                for (index, step) in workflow.steps.iter().enumerate() {
                    if started.contains(&index) || !step.sources().all(|s| values.contains_key(s)) {
                        continue;
                    }
                    started.insert(index);
                    let step_inputs = match gather_inputs(step, &values, workflow) {
                        Ok(inputs) => inputs,
                        Err(err) => {
                            executor.cancel();
                            failure = Some(on_step(&format!("{prefix}{}", step.id), err));
                            break;
                        }
                    };
                    let name = format!("{prefix}{}", step.id);
                    let inherited = inherited.within(&step.requirements, &step.hints);
                    running.push(async move {
                        let result =
                            run_step(executor, step, step_inputs, inherited, name.clone()).await;
                        (index, result.map_err(|err| on_step(&name, err)))
                    });
                }
            }
            let Some((index, result)) = running.next().await else {
                break;
            };
            match result {
                Ok(outputs) => {
                    let step = &workflow.steps[index];
                    for id in &step.outputs {
                        let value = outputs.get(id).cloned().unwrap_or(Value::Null);
                        values.insert(
                            Source::StepOutput {
                                step: step.id.clone(),
                                output: id.clone(),
                            },
                            value,
                        );
                    }
                }
                Err(err) => {
                    if failure.is_none() {
                        executor.cancel();
                        failure = Some(err);
                    }
                }
            }
        }
        if let Some(err) = failure {
            return Err(err);
        }
        if started.len() < workflow.steps.len() {
            // Cannot happen for a document that was read (cycles are refused then).
            return Err(CwlError::Invalid(
                "some steps never got their inputs (a cycle?)".into(),
            ));
        }
        let mut outputs = Map::new();
        for output in &workflow.outputs {
            let raw: Vec<Value> = output
                .sources
                .iter()
                .map(|s| values.get(s).cloned().unwrap_or(Value::Null))
                .collect();
            let value = link_and_pick(
                raw,
                output.many,
                output.link_merge,
                output.pick_value,
                &format!("output {}", output.parameter.id),
            )?;
            outputs.insert(output.parameter.id.clone(), value);
        }
        Ok(outputs)
    }
    .boxed()
}

/// The error of a step, saying which step.
fn on_step(name: &str, err: CwlError) -> CwlError {
    match err {
        CwlError::Invalid(m) if !m.starts_with("step ") => {
            CwlError::Invalid(format!("step {name}: {m}"))
        }
        CwlError::Failed(m) if !m.starts_with("step ") => {
            CwlError::Failed(format!("step {name}: {m}"))
        }
        CwlError::Unsupported(m) if !m.starts_with("step ") => {
            CwlError::Unsupported(format!("step {name}: {m}"))
        }
        other => other,
    }
}

/// The job order of a process completed with its defaults (relative locations against
/// `base_dir`), checked against the input types, with `loadContents` done.
fn complete_inputs(
    parameters: &[Parameter],
    mut job_order: Map<String, Value>,
    base_dir: &Path,
    namespaces: &BTreeMap<String, String>,
    what: &str,
) -> Result<Map<String, Value>, CwlError> {
    let mut inputs = Map::new();
    for parameter in parameters {
        let mut value = match job_order.remove(&parameter.id).filter(|v| !v.is_null()) {
            Some(value) => value,
            None => {
                let mut default = parameter.default.clone().unwrap_or(Value::Null);
                resolve_locations(&mut default, base_dir, namespaces)?;
                default
            }
        };
        if !matches(&parameter.ty, &value) {
            return Err(CwlError::Invalid(format!(
                "{what} {} must be {} but the job gives {}",
                parameter.id,
                describe(&parameter.ty),
                if value.is_null() {
                    "nothing".to_string()
                } else {
                    value.to_string()
                }
            )));
        }
        fill_names(&mut value);
        if parameter.load_contents && value.is_object() {
            load_file_contents(&mut value)?;
        }
        inputs.insert(parameter.id.clone(), value);
    }
    Ok(inputs)
}

/// Gives the File and Directory objects of a value their `basename` (and Files their
/// `nameroot` and `nameext`) from their location, so that `valueFrom` and `when` can read
/// them before any tool has staged the file.
fn fill_names(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(fill_names),
        Value::Object(map) => {
            let class = map.get("class").and_then(Value::as_str).map(str::to_string);
            if !matches!(class.as_deref(), Some("File") | Some("Directory")) {
                map.values_mut().for_each(fill_names);
                return;
            }
            if !map.contains_key("basename") {
                let name = map
                    .get("location")
                    .and_then(Value::as_str)
                    .map(location_path)
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()));
                if let Some(name) = name {
                    map.insert("basename".into(), Value::String(name));
                }
            }
            if class.as_deref() == Some("File") {
                if let Some(basename) = map.get("basename").and_then(Value::as_str) {
                    let (root, ext) = super::outputs::split_name(basename);
                    map.entry("nameroot").or_insert(Value::String(root));
                    map.entry("nameext").or_insert(Value::String(ext));
                }
            }
            for key in ["secondaryFiles", "listing"] {
                if let Some(inner) = map.get_mut(key) {
                    fill_names(inner);
                }
            }
        }
        _ => {}
    }
}

/// The values of a step's inputs before scatter and `valueFrom`: its sources merged and
/// picked, else its default.
fn gather_inputs(
    step: &Step,
    values: &BTreeMap<Source, Value>,
    workflow: &Workflow,
) -> Result<Map<String, Value>, CwlError> {
    let mut inputs = Map::new();
    for input in &step.inputs {
        let value = input_value(
            input,
            values,
            &format!("step {} input {}", step.id, input.id),
        )?;
        let mut value = match (value, &input.default) {
            (Value::Null, Some(default)) => {
                let mut default = default.clone();
                resolve_locations(&mut default, &workflow.base_dir, &workflow.namespaces)?;
                default
            }
            (value, _) => value,
        };
        if input.load_contents && value.is_object() {
            load_file_contents(&mut value)?;
        }
        inputs.insert(input.id.clone(), value);
    }
    Ok(inputs)
}

fn input_value(
    input: &StepInput,
    values: &BTreeMap<Source, Value>,
    whose: &str,
) -> Result<Value, CwlError> {
    let raw: Vec<Value> = input
        .sources
        .iter()
        .map(|s| values.get(s).cloned().unwrap_or(Value::Null))
        .collect();
    link_and_pick(raw, input.many, input.link_merge, input.pick_value, whose)
}

/// Several sources into one value (`linkMerge`, default `merge_nested` when there are
/// several), then `pickValue`.
fn link_and_pick(
    mut raw: Vec<Value>,
    many: bool,
    link_merge: Option<LinkMerge>,
    pick_value: Option<PickValue>,
    whose: &str,
) -> Result<Value, CwlError> {
    let merged = if raw.is_empty() {
        Value::Null
    } else if raw.len() == 1 && link_merge.is_none() && !many {
        raw.remove(0)
    } else {
        match link_merge.unwrap_or(LinkMerge::Nested) {
            LinkMerge::Nested => Value::Array(raw),
            LinkMerge::Flattened => Value::Array(
                raw.into_iter()
                    .flat_map(|v| match v {
                        Value::Array(items) => items,
                        other => vec![other],
                    })
                    .collect(),
            ),
        }
    };
    let Some(pick) = pick_value else {
        return Ok(merged);
    };
    let items = match merged {
        Value::Array(items) => items,
        other => vec![other],
    };
    let non_null: Vec<Value> = items.into_iter().filter(|v| !v.is_null()).collect();
    match pick {
        PickValue::FirstNonNull => non_null.into_iter().next().ok_or_else(|| {
            CwlError::Failed(format!(
                "{whose}: pickValue first_non_null found only null values"
            ))
        }),
        PickValue::TheOnlyNonNull => {
            if non_null.len() == 1 {
                Ok(non_null.into_iter().next().unwrap_or(Value::Null))
            } else {
                Err(CwlError::Failed(format!(
                    "{whose}: pickValue the_only_non_null found {} non-null values",
                    non_null.len()
                )))
            }
        }
        PickValue::AllNonNull => Ok(Value::Array(non_null)),
    }
}

/// One step: scatter into jobs, `valueFrom` and `when` per job, run each, gather.
async fn run_step(
    executor: &dyn StepExecutor,
    step: &Step,
    inputs: Map<String, Value>,
    inherited: Inherited,
    name: String,
) -> Result<Map<String, Value>, CwlError> {
    let (jobs, dims) = scatter_jobs(step, inputs)?;
    if step.scatter.is_empty() {
        let job = jobs.into_iter().next().unwrap_or_default();
        return run_one(executor, step, job, &inherited, name).await;
    }
    let runs = futures_util::stream::iter(jobs.into_iter().enumerate().map(|(i, job)| {
        let name = format!("{name}/{i}");
        let inherited = &inherited;
        async move { run_one(executor, step, job, inherited, name).await }
    }))
    .buffered(SCATTER_PARALLELISM)
    .collect::<Vec<_>>()
    .await;
    let results = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut outputs = Map::new();
    for id in &step.outputs {
        let flat: Vec<Value> = results
            .iter()
            .map(|r| r.get(id).cloned().unwrap_or(Value::Null))
            .collect();
        outputs.insert(id.clone(), reshape(&flat, &dims));
    }
    Ok(outputs)
}

/// The jobs of a step and the shape of their outputs (the lengths of the nested lists).
type ScatterJobs = (Vec<Map<String, Value>>, Vec<usize>);

/// The jobs of a step (one without scatter) and the shape of their outputs.
fn scatter_jobs(step: &Step, inputs: Map<String, Value>) -> Result<ScatterJobs, CwlError> {
    if step.scatter.is_empty() {
        return Ok((vec![inputs], vec![1]));
    }
    let mut lists = Vec::new();
    for name in &step.scatter {
        match inputs.get(name) {
            Some(Value::Array(items)) => lists.push(items.clone()),
            other => {
                return Err(CwlError::Invalid(format!(
                    "step {} scatters over {name}, whose value {} is not a list",
                    step.id,
                    other.cloned().unwrap_or(Value::Null)
                )))
            }
        }
    }
    let with = |picks: &[usize]| {
        let mut job = inputs.clone();
        for ((name, list), &i) in step.scatter.iter().zip(&lists).zip(picks) {
            job.insert(name.clone(), list[i].clone());
        }
        job
    };
    if step.scatter.len() == 1 || step.scatter_method == ScatterMethod::DotProduct {
        let n = lists[0].len();
        if lists.iter().any(|l| l.len() != n) {
            return Err(CwlError::Invalid(format!(
                "step {} scatters by dotproduct over lists of different lengths ({})",
                step.id,
                lists
                    .iter()
                    .map(|l| l.len().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let jobs = (0..n).map(|i| with(&vec![i; lists.len()])).collect();
        return Ok((jobs, vec![n]));
    }
    // Cross products: every combination, the first list varying slowest.
    let dims: Vec<usize> = lists.iter().map(Vec::len).collect();
    let total: usize = dims.iter().product();
    let mut jobs = Vec::with_capacity(total);
    for mut flat in 0..total {
        let mut picks = vec![0; dims.len()];
        for (d, &len) in dims.iter().enumerate().rev() {
            picks[d] = flat % len;
            flat /= len;
        }
        jobs.push(with(&picks));
    }
    let shape = match step.scatter_method {
        ScatterMethod::NestedCrossProduct => dims,
        _ => vec![total],
    };
    Ok((jobs, shape))
}

/// Flat results into nested lists of the given dimensions.
fn reshape(items: &[Value], dims: &[usize]) -> Value {
    if dims.len() <= 1 {
        return Value::Array(items.to_vec());
    }
    let chunk: usize = dims[1..].iter().product();
    Value::Array(
        (0..dims[0])
            .map(|i| reshape(&items[i * chunk..(i + 1) * chunk], &dims[1..]))
            .collect(),
    )
}

/// One job of a step: `valueFrom`, `when`, then the process.
async fn run_one(
    executor: &dyn StepExecutor,
    step: &Step,
    job: Map<String, Value>,
    inherited: &Inherited,
    name: String,
) -> Result<Map<String, Value>, CwlError> {
    // valueFrom sees every input as it was before any valueFrom.
    let before = Value::Object(job.clone());
    let runtime = json!({});
    let library = inherited.library();
    let mut inputs = job;
    for input in &step.inputs {
        if let Some(expression) = &input.value_from {
            let self_ = before.get(&input.id).cloned().unwrap_or(Value::Null);
            let context = Context {
                inputs: &before,
                self_: &self_,
                runtime: &runtime,
                library: library.as_deref(),
            };
            inputs.insert(input.id.clone(), evaluate(expression, &context)?);
        }
    }
    let inputs_value = Value::Object(inputs.clone());
    if let Some(when) = &step.when {
        let context = Context {
            inputs: &inputs_value,
            self_: &Value::Null,
            runtime: &runtime,
            library: library.as_deref(),
        };
        match evaluate(when, &context)? {
            Value::Bool(true) => {}
            Value::Bool(false) => {
                return Ok(step
                    .outputs
                    .iter()
                    .map(|id| (id.clone(), Value::Null))
                    .collect())
            }
            other => {
                return Err(CwlError::Failed(format!(
                    "the when of step {} gives {other}, not true or false",
                    step.id
                )))
            }
        }
    }
    // The process gets only the inputs it declares.
    let declared: BTreeSet<&str> = step.run.inputs().iter().map(|p| p.id.as_str()).collect();
    let job_order: Map<String, Value> = inputs
        .into_iter()
        .filter(|(id, _)| declared.contains(id.as_str()))
        .collect();
    let outputs = match step.run.as_ref() {
        Process::Tool(tool) => {
            let mut tool = tool.clone();
            tool.requirements
                .extend(inherited.requirements.iter().cloned());
            tool.hints.extend(inherited.hints.iter().cloned());
            match executor.run_tool(&name, &tool, job_order).await? {
                Value::Object(map) => map,
                other => {
                    return Err(CwlError::Failed(format!(
                        "the tool gave {other}, not an output object"
                    )))
                }
            }
        }
        Process::Workflow(inner) => {
            run_inner(
                executor,
                inner,
                job_order,
                inherited.clone(),
                format!("{name}/"),
            )
            .await?
        }
        Process::Expression(tool) => expression_outputs(tool, job_order, inherited)?,
    };
    Ok(outputs)
}

/// An ExpressionTool's outputs: its expression evaluated against its inputs.
fn expression_outputs(
    tool: &ExpressionTool,
    job_order: Map<String, Value>,
    inherited: &Inherited,
) -> Result<Map<String, Value>, CwlError> {
    // The tool's own requirement first, then what its step and workflows give.
    let library = inherited.within(&tool.requirements, &tool.hints).library();
    let inputs = Value::Object(complete_inputs(
        &tool.inputs,
        job_order,
        &tool.base_dir,
        &tool.namespaces,
        "input",
    )?);
    let runtime = json!({});
    let context = Context {
        inputs: &inputs,
        self_: &Value::Null,
        runtime: &runtime,
        library: library.as_deref(),
    };
    // With an engine the expression is JavaScript whatever its shape; without one, an
    // object of references and literals is still read.
    let literal_object = match library {
        Some(_) => None,
        None => object_literal(&tool.expression),
    };
    let result = match literal_object {
        Some(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                out.insert(key, literal_or_reference(&value, &context)?);
            }
            Value::Object(out)
        }
        None => evaluate_string(&tool.expression, &context)?,
    };
    let Value::Object(result) = result else {
        return Err(CwlError::Failed(format!(
            "the expression {} gives {result}, not an object of outputs",
            tool.expression
        )));
    };
    let mut outputs = Map::new();
    for output in &tool.outputs {
        let value = result.get(&output.id).cloned().unwrap_or(Value::Null);
        // `Any` takes null here, as the reference runner lets it.
        let any_null = value.is_null() && output.ty == json!("Any");
        if !any_null && !matches(&output.ty, &value) {
            return Err(CwlError::Failed(format!(
                "output {} must be {} but the expression gives {value}",
                output.id,
                describe(&output.ty)
            )));
        }
        outputs.insert(output.id.clone(), value);
    }
    Ok(outputs)
}

/// `$({'a': inputs.x, "b": null, c: 3})`: an object whose values are each a JSON literal
/// or a parameter reference, as (key, value text) pairs; `None` for anything else (which
/// is then JavaScript, or one reference).
pub fn object_literal(expression: &str) -> Option<Vec<(String, String)>> {
    let inner = expression
        .trim()
        .strip_prefix("$(")?
        .strip_suffix(')')?
        .trim();
    let body = inner.strip_prefix('{')?.strip_suffix('}')?;
    let mut fields = Vec::new();
    for entry in split_top_level(body)? {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (key, value) = entry.split_once(':')?;
        let key = key.trim();
        let key = if (key.starts_with('\'') && key.ends_with('\''))
            || (key.starts_with('"') && key.ends_with('"'))
        {
            key.get(1..key.len() - 1)?.to_string()
        } else if key.chars().all(|c| c.is_alphanumeric() || c == '_') && !key.is_empty() {
            key.to_string()
        } else {
            return None;
        };
        let value = value.trim().to_string();
        let is_literal = json_literal(&value).is_some();
        let is_reference = scan_for_javascript(&format!("$({value})")).is_none();
        if !is_literal && !is_reference {
            return None;
        }
        fields.push((key, value));
    }
    Some(fields)
}

/// Splits at commas outside quotes and brackets; `None` when quotes do not close.
fn split_top_level(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                current.push(c);
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    current.push(c);
                }
                ')' | ']' | '}' => {
                    depth -= 1;
                    current.push(c);
                }
                ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            },
        }
    }
    if quote.is_some() {
        return None;
    }
    parts.push(current);
    Some(parts)
}

/// A JSON literal written in an expression (`null`, `3`, `"a"`, `'a'`).
fn json_literal(text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        if !inner.contains('\'') && !inner.contains('\\') {
            return Some(Value::String(inner.to_string()));
        }
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_))) => Some(v),
        _ => None,
    }
}

fn literal_or_reference(text: &str, context: &Context) -> Result<Value, CwlError> {
    match json_literal(text) {
        Some(value) => Ok(value),
        None => Ok(evaluate_string(&format!("$({text})"), context)?),
    }
}

/// Copies the Files and Directories of a workflow's output object into `outdir` (they are
/// in the steps' directories, or are the job's own inputs) and points the object at the
/// copies. Two different files of one basename get `name_2`, `name_3`, ...
pub fn relocate_outputs(value: &mut Value, outdir: &Path) -> Result<(), CwlError> {
    let mut placed: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    relocate(value, outdir, &mut placed)
}

fn relocate(
    value: &mut Value,
    outdir: &Path,
    placed: &mut BTreeMap<PathBuf, PathBuf>,
) -> Result<(), CwlError> {
    match value {
        Value::Array(items) => {
            for item in items {
                relocate(item, outdir, placed)?;
            }
        }
        Value::Object(map) => {
            let class = map.get("class").and_then(Value::as_str).map(str::to_string);
            let location = map
                .get("location")
                .and_then(Value::as_str)
                .filter(|l| l.starts_with("file://") || l.starts_with('/'))
                .map(location_path);
            match (class.as_deref(), location) {
                (Some("File") | Some("Directory"), Some(from)) => {
                    let to = match placed.get(&from) {
                        Some(to) => to.clone(),
                        None => {
                            let to = free_name(outdir, &from, placed);
                            copy_entry(&from, &to)?;
                            placed.insert(from.clone(), to.clone());
                            to
                        }
                    };
                    let mut entry = Value::Object(std::mem::take(map));
                    rebase(&mut entry, &from, &to);
                    if let Some(Value::Array(secondary)) = entry.get_mut("secondaryFiles") {
                        for file in secondary {
                            relocate(file, outdir, placed)?;
                        }
                    }
                    *value = entry;
                }
                _ => {
                    for inner in map.values_mut() {
                        relocate(inner, outdir, placed)?;
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `outdir/<basename>`, or `<nameroot>_2<nameext>`, ... when that name is taken.
fn free_name(outdir: &Path, from: &Path, placed: &BTreeMap<PathBuf, PathBuf>) -> PathBuf {
    let basename = from
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "output".into());
    let taken = |p: &Path| p.exists() || placed.values().any(|q| q == p);
    let first = outdir.join(&basename);
    if !taken(&first) {
        return first;
    }
    let (root, ext) = super::outputs::split_name(&basename);
    (2..)
        .map(|n| outdir.join(format!("{root}_{n}{ext}")))
        .find(|p| !taken(p))
        .unwrap_or(first)
}

fn copy_entry(from: &Path, to: &Path) -> Result<(), CwlError> {
    let failed = |err: std::io::Error| {
        CwlError::Failed(format!(
            "cannot copy {} to {}: {err}",
            from.display(),
            to.display()
        ))
    };
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(failed)?;
        for entry in std::fs::read_dir(from).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            copy_entry(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to).map(|_| ()).map_err(failed)
    }
}

/// Points `location`/`path` of an entry (and of its `listing`) from `from` to `to`.
fn rebase(entry: &mut Value, from: &Path, to: &Path) {
    let Value::Object(map) = entry else { return };
    if let Some(path) = map
        .get("location")
        .and_then(Value::as_str)
        .map(location_path)
    {
        if let Ok(rest) = path.strip_prefix(from) {
            let moved = if rest.as_os_str().is_empty() {
                to.to_path_buf()
            } else {
                to.join(rest)
            };
            map.insert("location".into(), Value::String(file_location(&moved)));
            map.insert(
                "path".into(),
                Value::String(moved.to_string_lossy().to_string()),
            );
            if let Some(name) = moved.file_name() {
                map.insert(
                    "basename".into(),
                    Value::String(name.to_string_lossy().to_string()),
                );
            }
        }
    }
    if let Some(Value::Array(listing)) = map.get_mut("listing") {
        for item in listing {
            rebase(item, from, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_sources_merge_nested_or_flattened_and_pick() {
        let raw = vec![json!([1, 2]), json!(3)];
        assert_eq!(
            link_and_pick(raw.clone(), true, None, None, "x").unwrap(),
            json!([[1, 2], 3])
        );
        assert_eq!(
            link_and_pick(raw, true, Some(LinkMerge::Flattened), None, "x").unwrap(),
            json!([1, 2, 3])
        );
        let with_nulls = vec![Value::Null, json!("a"), Value::Null];
        assert_eq!(
            link_and_pick(
                with_nulls.clone(),
                true,
                None,
                Some(PickValue::FirstNonNull),
                "x"
            )
            .unwrap(),
            json!("a")
        );
        assert_eq!(
            link_and_pick(
                with_nulls.clone(),
                true,
                None,
                Some(PickValue::AllNonNull),
                "x"
            )
            .unwrap(),
            json!(["a"])
        );
        let two = vec![json!(1), json!(2)];
        let err =
            link_and_pick(two, true, None, Some(PickValue::TheOnlyNonNull), "out").unwrap_err();
        assert!(err.to_string().contains("found 2 non-null"), "{err}");
        // One source, not a list: the value as it is.
        assert_eq!(
            link_and_pick(vec![json!([1])], false, None, None, "x").unwrap(),
            json!([1])
        );
    }

    #[test]
    fn nested_results_take_the_shape_of_the_cross_product() {
        let flat: Vec<Value> = (0..6).map(|i| json!(i)).collect();
        assert_eq!(reshape(&flat, &[2, 3]), json!([[0, 1, 2], [3, 4, 5]]));
        assert_eq!(reshape(&[], &[2, 0]), json!([[], []]));
        assert_eq!(reshape(&flat, &[6]), json!([0, 1, 2, 3, 4, 5]));
    }

    #[test]
    fn object_literals_of_references_are_not_javascript() {
        let fields = object_literal("$({'out': inputs.x, \"n\": null, k: 'a,b'})").unwrap();
        assert_eq!(
            fields,
            vec![
                ("out".to_string(), "inputs.x".to_string()),
                ("n".to_string(), "null".to_string()),
                ("k".to_string(), "'a,b'".to_string())
            ]
        );
        assert!(object_literal("$({'out': inputs.x + 1})").is_none());
        assert!(object_literal("$(inputs.x)").is_none());
    }
}
