//! The workflow driver: runs workflow jobs without holding a worker slot.
//!
//! A workflow job is never claimed by a worker (the claim takes only container jobs).
//! Every server runs one driver, which advances each active workflow job whenever a job
//! changes (a step's end is such a change) and on a timed poll: it starts the workflow,
//! submits each step whose inputs are ready as a child job (the store inserts a step once
//! per workflow job, so two drivers, or a driver before and after a restart, never submit
//! it twice), fails the workflow on the first failed step and dismisses the others, and
//! completes it with the exposed outputs once every step succeeded. Everything it knows
//! is in the store: a driver that dies loses nothing, the next pass of any driver
//! continues where it stopped.

use super::{Source, Workflow};
use crate::catalog::Catalog;
use crate::domain::{
    ExecuteRequest, InputValue, Job, JobId, JobResults, JobStatus, OutputValue, WorkerId,
};
use crate::jobs::JobService;
use crate::queue::executor::{ades_failure, failure_message, PROCESS_UNAVAILABLE};
use crate::store::{Completion, NewJob, StepOf, StoreError};
use crate::workspace::Workspace;
use seed::errors::FailureCategory;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// The owner every driver writes a workflow job as (its fenced writes need one).
pub const DRIVER_OWNER: &str = "workflow-driver";

/// Failure name of a workflow whose step failed (the step's own error follows).
pub const STEP_FAILED: &str = "step-failed";

/// How often every active workflow is looked at even when no change was heard (changes
/// made by another replica on SQLite, lost signals).
const POLL: Duration = Duration::from_secs(1);

/// Advances workflow jobs. Cheap to clone.
#[derive(Clone)]
pub struct Driver {
    jobs: JobService,
    catalog: Catalog,
    workspace: Workspace,
    remote_steps: super::remote_step::RemoteSteps,
}

impl Driver {
    /// A driver; the remote servers steps may run on are the job service's.
    pub fn new(jobs: JobService, catalog: Catalog, workspace: Workspace) -> Self {
        let remote_steps = super::remote_step::RemoteSteps::new(
            jobs.clone(),
            workspace.clone(),
            jobs.remotes().clone(),
        );
        Driver {
            jobs,
            catalog,
            workspace,
            remote_steps,
        }
    }

    fn owner() -> WorkerId {
        WorkerId(DRIVER_OWNER.to_string())
    }

    /// Advances every active workflow now, then whenever a job changes or [`POLL`]
    /// passes, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut changes = self.jobs.subscribe_changes();
        loop {
            if let Err(err) = self.advance_all().await {
                tracing::warn!(error = %err, "workflow driver: cannot read the active workflows");
            }
            let wake = tokio::time::sleep(POLL);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = changes.recv() => {
                    // Let the burst of changes of one moment come in, then look once.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    while changes.try_recv().is_ok() {}
                }
                _ = wake => {}
            }
        }
    }

    /// One pass over every active workflow job, then over the steps left active by a
    /// workflow that ended (dismissed while a step was being submitted, or a server that
    /// died between failing a workflow and dismissing its steps).
    pub async fn advance_all(&self) -> Result<(), StoreError> {
        let orphans = self.jobs.store().orphaned_steps().await?;
        if !orphans.is_empty() {
            self.jobs.dismiss_steps(&orphans).await;
        }
        for id in self.jobs.store().active_workflows().await? {
            if let Err(err) = self.advance(&id).await {
                tracing::warn!(job_id = %id, error = %err, "workflow driver: cannot advance the workflow");
            }
        }
        Ok(())
    }

    /// Moves one workflow job as far as its steps allow.
    pub async fn advance(&self, id: &JobId) -> Result<(), StoreError> {
        let store = self.jobs.store();
        let Some(mut job) = store.get_job(id).await? else {
            return Ok(());
        };
        let now = OffsetDateTime::now_utc();
        if job.status == JobStatus::Accepted {
            match store.start_workflow(id, &Self::owner(), now).await? {
                Some(started) => {
                    job = started;
                    self.jobs.announce(id);
                }
                None => return Ok(()),
            }
        }
        if job.status != JobStatus::Running {
            return Ok(());
        }
        // A step on a remote server: submitted there and followed, not a graph.
        if let Some(call) = job.request.remote.clone() {
            self.remote_steps.advance(job, call);
            return Ok(());
        }
        // The graph of a nested execute request travels with the job; a deployed
        // workflow's is the process's.
        let carried = job.request.workflow.as_deref().cloned().map(Arc::new);
        let deployed = || {
            self.catalog
                .get(&job.process_id)
                .as_deref()
                .and_then(|p| p.workflow().cloned())
        };
        let workflow = match carried.or_else(deployed) {
            Some(workflow) => workflow,
            None => {
                let failure = ades_failure(
                    PROCESS_UNAVAILABLE,
                    "Process unavailable",
                    format!(
                        "Workflow {} is no longer offered by this server (undeployed, or no \
                         longer a workflow); deploy it again and submit a new job.",
                        job.process_id
                    ),
                    FailureCategory::System,
                );
                return self.finish_failed(&job, failure, &[]).await;
            }
        };
        let steps = store.job_children(id).await?;
        let by_step: BTreeMap<&str, &Job> = steps
            .iter()
            .filter_map(|s| s.step.as_deref().map(|name| (name, s)))
            .collect();
        // The first step job that failed (or was dismissed on its own) ends the workflow.
        if let Some(ended) = workflow.steps.iter().find_map(|step| {
            by_step
                .iter()
                .filter(|(name, _)| job_of_step(name, step))
                .find(|(_, s)| matches!(s.status, JobStatus::Failed | JobStatus::Dismissed))
                .map(|(name, s)| (*name, *s))
        }) {
            let failure = step_failure(ended.0, ended.1);
            return self.finish_failed(&job, failure, &steps).await;
        }
        // Each step's state, in the workflow's order (every step after those it needs).
        let mut done: BTreeMap<&str, Vec<&Job>> = BTreeMap::new();
        let mut running = 0;
        let mut submitted = false;
        for step in &workflow.steps {
            let ready = Workflow::needs(step)
                .iter()
                .all(|need| done.contains_key(need));
            // A step whose condition is false is skipped: done, without a job.
            if ready && !by_step.keys().any(|name| job_of_step(name, step)) {
                if let Some(condition) = &step.condition {
                    let mut request = step_request(&job, &workflow.defaults, step, &done);
                    let holds = apply_value_from(step, &mut request)
                        .and_then(|()| evaluate_condition(step, condition, &request));
                    match holds {
                        Ok(true) => {}
                        Ok(false) => {
                            done.insert(step.name.as_str(), Vec::new());
                            continue;
                        }
                        Err(why) => {
                            let failure = ades_failure(
                                STEP_FAILED,
                                &format!("step {}: when failed", step.name),
                                format!("Step {} cannot start: {why}", step.name),
                                FailureCategory::Job,
                            );
                            return self.finish_failed(&job, failure, &steps).await;
                        }
                    }
                }
                if let Some(when) = &step.when {
                    let values = source_values(&job, &workflow.defaults, when, &done);
                    let holds = matches!(
                        values.as_slice(),
                        [InputValue::Inline {
                            value: serde_json::Value::Bool(true),
                            ..
                        }]
                    );
                    if !holds {
                        done.insert(step.name.as_str(), Vec::new());
                        continue;
                    }
                }
            }
            let plan = match (&step.scatter, ready) {
                (None, _) => match by_step.get(step.name.as_str()) {
                    Some(child) if child.status == JobStatus::Successful => {
                        done.insert(step.name.as_str(), vec![*child]);
                        continue;
                    }
                    Some(_) => {
                        running += 1;
                        continue;
                    }
                    None if ready => vec![(
                        step.name.clone(),
                        step_request(&job, &workflow.defaults, step, &done),
                    )],
                    None => continue,
                },
                (Some(_), false) => continue,
                (Some(over), true) => {
                    // One job per value of the scattered input: `<step>#<n>`.
                    let request = step_request(&job, &workflow.defaults, step, &done);
                    let values = request.inputs.get(over).cloned().unwrap_or_default();
                    let children: Vec<&Job> = (0..values.len())
                        .filter_map(|n| by_step.get(scatter_name(&step.name, n).as_str()))
                        .copied()
                        .collect();
                    if children.len() == values.len()
                        && children.iter().all(|c| c.status == JobStatus::Successful)
                    {
                        done.insert(step.name.as_str(), children);
                        continue;
                    }
                    if !children.is_empty() {
                        running += 1;
                    }
                    values
                        .into_iter()
                        .enumerate()
                        .filter(|(n, _)| {
                            !by_step.contains_key(scatter_name(&step.name, *n).as_str())
                        })
                        .map(|(n, value)| {
                            let mut one = request.clone();
                            one.inputs.insert(over.clone(), vec![value]);
                            (scatter_name(&step.name, n), one)
                        })
                        .collect()
                }
            };
            // A remote step's job is followed by the drivers (kind `workflow`), not run by
            // a worker.
            let remote = crate::remote::split_step_process(&step.process);
            let process_id = match remote {
                Some((_, process)) => crate::remote::describe::local_id(process),
                None => match crate::domain::ProcessId::parse(&step.process) {
                    Ok(id) => id,
                    Err(_) => continue, // compile checked it: a stored workflow cannot name a bad id
                },
            };
            for (name, mut request) in plan {
                let made = apply_value_from(step, &mut request);
                for local in &step.local_inputs {
                    request.inputs.remove(local);
                }
                if let Err(why) = made {
                    let failure = ades_failure(
                        STEP_FAILED,
                        &format!("step {name}: valueFrom failed"),
                        format!("Step {name} cannot start: {why}"),
                        FailureCategory::Job,
                    );
                    return self.finish_failed(&job, failure, &steps).await;
                }
                if let Some((remote, process)) = remote {
                    request.remote = Some(crate::domain::RemoteCall {
                        remote: remote.to_string(),
                        process: process.to_string(),
                        outputs: step.remote_outputs.clone().unwrap_or_default(),
                    });
                }
                let new = NewJob {
                    id: JobId::new(),
                    process_id: process_id.clone(),
                    request,
                    priority: 0,
                    owner: job.owner.clone(),
                    step_of: Some(StepOf {
                        parent: job.id.clone(),
                        step: name.clone(),
                    }),
                    workflow: remote.is_some(),
                    submitted_by: None,
                };
                if let Some(child) = store.insert_step(new, now).await? {
                    tracing::info!(job_id = %job.id, step = %name, step_job = %child.id, "workflow step submitted");
                    self.jobs.announce(&child.id);
                    submitted = true;
                }
            }
        }
        if submitted {
            self.jobs.wake_a_worker();
            // Several steps may be ready at once: wake a worker for each.
            for _ in 1..workflow.steps.len() {
                self.jobs.wake_a_worker();
            }
            return Ok(());
        }
        let done_count = done.len();
        if done_count == workflow.steps.len() {
            return self.finish_successful(&job, &workflow, &done).await;
        }
        let waiting = workflow.steps.len() - done_count - running;
        let message = format!(
            "{done_count} of {} steps done, {running} running, {waiting} waiting",
            workflow.steps.len()
        );
        if job.message.as_deref() != Some(message.as_str()) {
            let progress = (done_count * 100 / workflow.steps.len()) as u8;
            store
                .set_progress(id, &Self::owner(), &message, Some(progress), now)
                .await?;
            self.jobs.announce(id);
        }
        Ok(())
    }

    /// Fails the workflow with `failure` and dismisses its steps still waiting or running.
    async fn finish_failed(
        &self,
        job: &Job,
        failure: seed::errors::JobFailure,
        steps: &[Job],
    ) -> Result<(), StoreError> {
        let message = failure_message(&failure);
        let ended = self
            .jobs
            .store()
            .complete_job(
                &job.id,
                &Self::owner(),
                Completion::Failed { failure, message },
                OffsetDateTime::now_utc(),
            )
            .await?;
        if ended {
            tracing::info!(job_id = %job.id, "workflow failed");
            self.jobs.announce(&job.id);
            record_end(&self.jobs, job, "failed");
        }
        self.jobs.dismiss_steps(steps).await;
        Ok(())
    }

    /// Completes the workflow with its exposed outputs: each step file is hard-linked into
    /// the workflow job's outputs under `<step>/`, so it is served there like any output.
    async fn finish_successful(
        &self,
        job: &Job,
        workflow: &Workflow,
        done: &BTreeMap<&str, Vec<&Job>>,
    ) -> Result<(), StoreError> {
        let mut results = JobResults::new();
        let outputs_dir = self.workspace.outputs_dir(&job.id);
        for exposed in &workflow.outputs {
            let scattered = workflow
                .step(&exposed.step)
                .is_some_and(|s| s.scatter.is_some());
            let mut linked = Vec::new();
            let step_jobs = done.get(exposed.step.as_str()).cloned().unwrap_or_default();
            for (n, step_job) in step_jobs.iter().enumerate() {
                let Some(values) = step_job
                    .results
                    .as_ref()
                    .and_then(|r| r.get(&exposed.output))
                    .cloned()
                else {
                    continue;
                };
                // The jobs of a scattered step keep apart: `<step>/<n>/<file>`.
                let folder = if scattered {
                    format!("{}/{n}", exposed.step)
                } else {
                    exposed.step.clone()
                };
                let step_job = step_job.id.clone();
                for value in values {
                    linked.push(match value {
                        OutputValue::File {
                            path,
                            media_type,
                            size_bytes,
                            metadata,
                            published,
                        } => {
                            let relative = format!("{folder}/{path}");
                            let source = self.workspace.outputs_dir(&step_job).join(&path);
                            let target = outputs_dir.join(&relative);
                            if let Err(err) = link_file(&source, &target) {
                                let failure = ades_failure(
                                    "workspace-error",
                                    "Workspace error",
                                    format!(
                                    "The output {path} of step {} could not be linked into the \
                                     workflow's outputs: {err}",
                                    exposed.step
                                ),
                                    FailureCategory::System,
                                );
                                return self.finish_failed(job, failure, &[]).await;
                            }
                            // A product the step published to a workspace stays linked there.
                            OutputValue::File {
                                path: relative,
                                media_type,
                                size_bytes,
                                metadata,
                                published,
                            }
                        }
                        json => json,
                    });
                }
            }
            if !linked.is_empty() || scattered {
                results.insert(exposed.id(), linked);
            }
        }
        if let Err(err) = self.workspace.publish_outputs(&job.id).await {
            tracing::warn!(job_id = %job.id, error = %err, "cannot publish the workflow's outputs");
        }
        let ended = self
            .jobs
            .store()
            .complete_job(
                &job.id,
                &Self::owner(),
                Completion::Succeeded {
                    results,
                    message: format!(
                        "{} of {} steps done",
                        workflow.steps.len(),
                        workflow.steps.len()
                    ),
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        if ended {
            tracing::info!(job_id = %job.id, "workflow successful");
            self.jobs.announce(&job.id);
            record_end(&self.jobs, job, "successful");
        }
        Ok(())
    }
}

/// Counts the workflow's end in the server's metrics (time queued: until it started).
fn record_end(jobs: &JobService, job: &Job, status: &str) {
    let now = OffsetDateTime::now_utc();
    let started = job.started.unwrap_or(now);
    let duration = |d: time::Duration| Duration::try_from(d).unwrap_or_default();
    jobs.metrics().job_finished(
        job.process_id.as_str(),
        status,
        duration(started - job.created),
        duration(now - started),
    );
}

/// The store's step name of job `n` of a scattered step.
fn scatter_name(step: &str, n: usize) -> String {
    format!("{step}#{n}")
}

/// Whether the child job named `name` runs `step` (it, or one job of its scatter).
fn job_of_step(name: &str, step: &super::Step) -> bool {
    name == step.name
        || name
            .strip_prefix(step.name.as_str())
            .and_then(|rest| rest.strip_prefix('#'))
            .is_some_and(|n| n.parse::<usize>().is_ok())
}

/// A hard link of `source` at `target` (a copy across file systems); an existing target
/// (an earlier pass that did not finish) is kept.
fn link_file(source: &std::path::Path, target: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if target.exists() {
        return Ok(());
    }
    match std::fs::hard_link(source, target) {
        Ok(()) => Ok(()),
        Err(_) => std::fs::copy(source, target).map(|_| ()),
    }
}

/// The workflow's failure for a step that ended without success: the step's own error,
/// prefixed by its name.
fn step_failure(step: &str, job: &Job) -> seed::errors::JobFailure {
    match (&job.status, &job.failure) {
        (JobStatus::Failed, Some(failure)) => seed::errors::JobFailure {
            name: failure.name.clone(),
            title: format!("step {step}: {}", failure.title),
            description: failure.description.clone(),
            category: failure.category,
            exit_code: failure.exit_code,
        },
        (JobStatus::Dismissed, _) => ades_failure(
            STEP_FAILED,
            &format!("step {step}: dismissed"),
            format!(
                "Step {step} (job {}) was dismissed, so the workflow cannot go on.",
                job.id
            ),
            FailureCategory::System,
        ),
        _ => ades_failure(
            STEP_FAILED,
            &format!("step {step}: failed"),
            job.message
                .clone()
                .unwrap_or_else(|| format!("Step {step} (job {}) failed.", job.id)),
            FailureCategory::System,
        ),
    }
}

/// The execute request of `step`: workflow inputs as given, literals, and the outputs of
/// the steps it reads (files as links to the producer's outputs, json values inline).
fn step_request(
    workflow_job: &Job,
    defaults: &BTreeMap<String, serde_json::Value>,
    step: &super::Step,
    done: &BTreeMap<&str, Vec<&Job>>,
) -> ExecuteRequest {
    let mut inputs = BTreeMap::new();
    for (input, source) in &step.inputs {
        let values = source_values(workflow_job, defaults, source, done);
        if !values.is_empty() {
            inputs.insert(input.clone(), values);
        }
    }
    ExecuteRequest {
        inputs,
        ..ExecuteRequest::default()
    }
}

/// The values a source gives: a workflow input as given (else its default), a literal, or
/// the outputs of every job of the producing step (several for a scattered one; files as
/// links to the producer's outputs, json values inline), in order.
fn source_values(
    workflow_job: &Job,
    defaults: &BTreeMap<String, serde_json::Value>,
    source: &Source,
    done: &BTreeMap<&str, Vec<&Job>>,
) -> Vec<InputValue> {
    match source {
        Source::Input { name } => match workflow_job.request.inputs.get(name) {
            Some(values) => values.clone(),
            None => defaults
                .get(name)
                .map(|value| {
                    vec![InputValue::Inline {
                        value: value.clone(),
                        media_type: None,
                    }]
                })
                .unwrap_or_default(),
        },
        Source::Literal { value } => vec![InputValue::Inline {
            value: value.clone(),
            media_type: None,
        }],
        Source::Merge { sources, flatten } => {
            let parts: Vec<Vec<InputValue>> = sources
                .iter()
                .map(|member| source_values(workflow_job, defaults, member, done))
                .collect();
            let is_value = |v: &InputValue| matches!(v, InputValue::Inline { .. });
            if !parts.iter().flatten().all(is_value) {
                // Files: one list, each source's files in turn.
                return parts.concat();
            }
            // Json values: one list of each source's value (a list when it gave several),
            // or with every list spliced in.
            let mut items = Vec::new();
            for part in parts {
                match (value_of(&part), flatten) {
                    (serde_json::Value::Array(list), true) => items.extend(list),
                    (one, _) => items.push(one),
                }
            }
            vec![InputValue::Inline {
                value: serde_json::Value::Array(items),
                media_type: None,
            }]
        }
        // The outputs of every job of the producer (several for a scattered one), in
        // order.
        Source::Output { step, output } => done
            .get(step.as_str())
            .into_iter()
            .flatten()
            .flat_map(|producer| {
                producer
                    .results
                    .as_ref()
                    .and_then(|r| r.get(output))
                    .into_iter()
                    .flatten()
                    .map(|value| match value {
                        OutputValue::File {
                            path, media_type, ..
                        } => InputValue::JobOutput {
                            job: producer.id.clone(),
                            path: path.clone(),
                            media_type: media_type.clone(),
                        },
                        OutputValue::Json { value } => InputValue::Inline {
                            value: value.clone(),
                            media_type: None,
                        },
                    })
            })
            .collect(),
    }
}

/// The values of one input as one json value, as a CWL expression sees them: nothing is
/// null, one value is itself, several are a list; a file is a CWL File object with its
/// name (`basename`, `nameroot`, `nameext`) and where it is (`location`).
fn value_of(values: &[InputValue]) -> serde_json::Value {
    let one = |value: &InputValue| match value {
        InputValue::Inline { value, .. } => value.clone(),
        InputValue::Base64 { .. } => serde_json::json!({"class": "File"}),
        InputValue::Href { href, .. } => file_object(href),
        InputValue::JobOutput { path, .. } => file_object(path),
    };
    match values {
        [] => serde_json::Value::Null,
        [single] => one(single),
        many => serde_json::Value::Array(many.iter().map(one).collect()),
    }
}

fn file_object(location: &str) -> serde_json::Value {
    let basename = location.rsplit('/').next().unwrap_or(location);
    let (nameroot, nameext) = crate::cwl::outputs::split_name(basename);
    serde_json::json!({
        "class": "File",
        "location": location,
        "basename": basename,
        "nameroot": nameroot,
        "nameext": nameext,
    })
}

/// A request's inputs as a CWL expression's `inputs` object (see [`value_of`]).
fn inputs_as_cwl(request: &ExecuteRequest) -> serde_json::Value {
    serde_json::Value::Object(
        request
            .inputs
            .iter()
            .map(|(name, values)| (name.clone(), value_of(values)))
            .collect(),
    )
}

/// The step's CWL `when` over its inputs (as `valueFrom` left them): true or false, else
/// why not.
fn evaluate_condition(
    step: &super::Step,
    condition: &str,
    request: &ExecuteRequest,
) -> Result<bool, String> {
    let inputs = inputs_as_cwl(request);
    let runtime = serde_json::json!({});
    let context =
        crate::cwl::expression::Context::new(&inputs, &runtime, step.expression_lib.as_deref());
    match crate::cwl::expression::evaluate(
        &serde_json::Value::String(condition.to_string()),
        &context,
    ) {
        Ok(serde_json::Value::Bool(holds)) => Ok(holds),
        Ok(other) => Err(format!(
            "its when {condition} gives {other}, not true or false"
        )),
        Err(err) => Err(format!("its when: {err}")),
    }
}

/// Applies the step's `valueFrom`s to one job's request: each input's expression sees
/// `self` (its value) and `inputs` (every input before any valueFrom); a null result leaves
/// the input out. The error names the input and says why.
fn apply_value_from(step: &super::Step, request: &mut ExecuteRequest) -> Result<(), String> {
    if step.value_from.is_empty() {
        return Ok(());
    }
    let before = inputs_as_cwl(request);
    let runtime = serde_json::json!({});
    for (input, expression) in &step.value_from {
        let self_ = before
            .get(input)
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let context = crate::cwl::expression::Context {
            inputs: &before,
            self_: &self_,
            runtime: &runtime,
            library: step.expression_lib.as_deref(),
        };
        let value = crate::cwl::expression::evaluate(
            &serde_json::Value::String(expression.clone()),
            &context,
        )
        .map_err(|err| format!("the valueFrom of input {input}: {err}"))?;
        if value.is_null() {
            request.inputs.remove(input);
        } else {
            request.inputs.insert(
                input.clone(),
                vec![InputValue::Inline {
                    value,
                    media_type: None,
                }],
            );
        }
    }
    Ok(())
}
