//! Workflow steps that run on a remote OGC API - Processes server (`crate::remote`).
//!
//! A remote step is a child job like any step, of kind `workflow` (no worker claims it):
//! the workflow driver advances it. Each look submits it once or follows it: the store
//! records where its remote job is (`JobStore::swap_remote_job`, a compare-and-swap), first
//! a `submitting:<µs>` marker, then the job's URL, so neither two drivers nor a driver
//! restarted after a SIGKILL submit it twice; a driver that finds the URL follows that job.
//! One task per followed step looks at its remote job, backing off from the remote's
//! `poll_seconds` to its `max_poll_seconds`, beside the driver's pass, so a slow remote
//! holds up nothing.
//!
//! Inputs go to the remote as the request gave them (values, links); a file another step
//! produced here is sent as base64, or, when it came from a remote without credentials
//! (whose links anyone may read), by its link there. Outputs are asked for by reference
//! (files) and by value (json); each file is fetched through the guard into the step's
//! outputs, so later local steps and the workflow's results use it as any step's file.

use crate::domain::{
    InputValue, Job, JobId, JobResults, JobStatus, OutputValue, Process, RemoteCall, WorkerId,
};
use crate::jobs::JobService;
use crate::queue::executor::{ades_failure, failure_message};
use crate::remote::{split_step_process, Remote, RemoteError, Remotes};
use crate::store::{Completion, StoreError};
use crate::workspace::Workspace;
use base64::Engine;
use seed::errors::{FailureCategory, JobFailure};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

use super::Problem;

/// Failure name of a remote step whose remote job failed or could not be followed.
pub const REMOTE_FAILED: &str = "remote-step-failed";

/// Largest result file fetched from a remote.
const MAX_RESULT_BYTES: u64 = 1024 * 1024 * 1024;

/// How long a `submitting` marker may stand before the submission is taken as lost (the
/// driver died between marking and recording the job).
const SUBMISSION_LOST_AFTER: Duration = Duration::from_secs(120);

const SUBMITTING: &str = "submitting:";

/// How long a remote may fail to answer about a job before the step is given up.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(600);

/// The descriptions of the remote processes `names` (`<remote>:<process id>`), fetched
/// now, as processes `workflow::compile` can check steps against; or every problem (an
/// unknown remote, an unreachable one, a process it does not offer).
pub async fn describe_remote_processes(
    remotes: &Remotes,
    names: &BTreeSet<String>,
) -> Result<BTreeMap<String, Arc<Process>>, Vec<Problem>> {
    let mut found = BTreeMap::new();
    let mut problems = Vec::new();
    for name in names {
        let Some((remote_name, id)) = split_step_process(name) else {
            continue;
        };
        let Some(remote) = remotes.get(remote_name) else {
            let configured = remotes.names();
            problems.push(Problem {
                pointer: String::new(),
                message: format!(
                    "process {name:?} is on remote {remote_name:?}, which is not configured \
                     (configured: {}); add [remotes.{remote_name}] to the configuration",
                    if configured.is_empty() {
                        "none".to_string()
                    } else {
                        configured.join(", ")
                    }
                ),
            });
            continue;
        };
        let described = remote.describe(id).await.and_then(|document| {
            crate::remote::describe::process_from_description(remote_name, id, &document).map_err(
                |detail| RemoteError {
                    title: format!("remote {remote_name}: unreadable description"),
                    detail,
                    status: None,
                },
            )
        });
        match described {
            Ok(process) => {
                found.insert(name.clone(), Arc::new(process));
            }
            Err(err) => problems.push(Problem {
                pointer: String::new(),
                message: format!("process {name:?} cannot be described: {err}"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// Submits and follows remote steps. Cheap to clone.
#[derive(Clone)]
pub struct RemoteSteps {
    jobs: JobService,
    workspace: Workspace,
    remotes: Remotes,
    /// The steps a task of this server follows.
    following: Arc<Mutex<HashSet<JobId>>>,
}

/// What one look found.
enum Look {
    /// The remote did not answer about its job (network, or the remote failing).
    Unreachable(RemoteError),
    /// Still going (or another driver has it).
    Going,
    /// The step ended.
    Ended,
}

impl RemoteSteps {
    pub fn new(jobs: JobService, workspace: Workspace, remotes: Remotes) -> Self {
        RemoteSteps {
            jobs,
            workspace,
            remotes,
            following: Arc::default(),
        }
    }

    fn owner() -> WorkerId {
        WorkerId(super::driver::DRIVER_OWNER.to_string())
    }

    /// Follows running remote step `job` in a task of its own (unless one of this server
    /// does already), so the driver's pass goes on.
    pub fn advance(&self, job: Job, call: RemoteCall) {
        let Some(remote) = self.remotes.get(&call.remote) else {
            let this = self.clone();
            tokio::spawn(async move {
                let failure = ades_failure(
                    REMOTE_FAILED,
                    &format!("remote {}: not configured", call.remote),
                    format!(
                        "The step runs on remote {:?}, which this server's configuration no \
                         longer lists: add [remotes.{}] back and submit the workflow again.",
                        call.remote, call.remote
                    ),
                    FailureCategory::System,
                );
                let _ = this.fail(&job, failure).await;
            });
            return;
        };
        if !self.following.lock().expect("lock").insert(job.id.clone()) {
            return; // followed already by a task of this server
        }
        let this = self.clone();
        tokio::spawn(async move {
            let id = job.id.clone();
            this.follow(job, &call, &remote).await;
            this.following.lock().expect("lock").remove(&id);
        });
    }

    /// Looks at the step until it ends (or is no longer running here: dismissed), waiting
    /// `poll_seconds` between looks, doubling up to `max_poll_seconds`.
    async fn follow(&self, mut job: Job, call: &RemoteCall, remote: &Remote) {
        let mut wait = remote.poll;
        let mut unreachable_since: Option<std::time::Instant> = None;
        loop {
            match self.look(&job, call, remote).await {
                Ok(Look::Ended) => return,
                Ok(Look::Going) => unreachable_since = None,
                Ok(Look::Unreachable(err)) => {
                    let since = *unreachable_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= UNREACHABLE_LIMIT {
                        let failure = ades_failure(
                            REMOTE_FAILED,
                            &format!("remote {}: unreachable", remote.name),
                            format!(
                                "Remote {} has not answered about its job for {} minutes \
                                 (last: {err}); the step is given up.",
                                remote.name,
                                UNREACHABLE_LIMIT.as_secs() / 60
                            ),
                            FailureCategory::System,
                        );
                        if let Err(err) = self.fail(&job, failure).await {
                            tracing::warn!(job_id = %job.id, error = %err, "remote step: cannot fail the step");
                        }
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(job_id = %job.id, error = %err, "remote step: cannot read or write the store");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(remote.max_poll);
            match self.jobs.store().get_job(&job.id).await {
                Ok(Some(current)) if current.status == JobStatus::Running => job = current,
                Ok(_) => return,
                Err(err) => {
                    tracing::warn!(job_id = %job.id, error = %err, "remote step: cannot read the step");
                }
            }
        }
    }

    /// One look: submit the step if nobody has, else follow its remote job.
    async fn look(
        &self,
        job: &Job,
        call: &RemoteCall,
        remote: &Remote,
    ) -> Result<Look, StoreError> {
        let store = self.jobs.store();
        let record = store.remote_job(&job.id).await?;
        let url = match record.as_deref() {
            None => return self.submit(job, call, remote).await,
            Some(marker) if marker.starts_with(SUBMITTING) => {
                let since = marker[SUBMITTING.len()..].parse::<i128>().unwrap_or(0);
                let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
                let lost = SUBMISSION_LOST_AFTER.as_micros() as i128;
                if now - since < lost {
                    return Ok(Look::Going); // another driver is submitting it right now
                }
                let failure = ades_failure(
                    REMOTE_FAILED,
                    &format!("remote {}: submission interrupted", remote.name),
                    format!(
                        "The server stopped while submitting this step to remote {}, so \
                         whether a job was created there is unknown; it is not submitted \
                         again (it might run twice). Submit the workflow again.",
                        remote.name
                    ),
                    FailureCategory::System,
                );
                self.fail(job, failure).await?;
                return Ok(Look::Ended);
            }
            Some(url) => url.to_string(),
        };
        let Ok(url) = reqwest::Url::parse(&url) else {
            return Ok(Look::Going);
        };
        let status = match remote.status(&url).await {
            Ok(status) => status,
            Err(err) if err.status == Some(404) => {
                self.fail(job, remote_failure(&err)).await?;
                return Ok(Look::Ended);
            }
            Err(err) => {
                // A blip of the network or of the remote: look again later.
                tracing::warn!(job_id = %job.id, remote = %remote.name, error = %err, "cannot read a remote job's status");
                return Ok(Look::Unreachable(err));
            }
        };
        let text = status.get("status").and_then(Value::as_str).unwrap_or("");
        match text {
            "successful" => {
                match self.collect(job, call, remote, &url).await {
                    Ok(results) => self.succeed(job, results, remote).await?,
                    Err(err) => self.fail(job, remote_failure(&err)).await?,
                }
                Ok(Look::Ended)
            }
            "failed" => {
                let err = match remote.results(&url).await {
                    Err(err) => err,
                    Ok(_) => RemoteError {
                        title: format!("remote {}: the job failed", remote.name),
                        detail: status
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("no message")
                            .to_string(),
                        status: None,
                    },
                };
                self.fail(job, remote_failure(&err)).await?;
                Ok(Look::Ended)
            }
            "dismissed" => {
                let err = RemoteError {
                    title: format!("remote {}: the job was dismissed there", remote.name),
                    detail: format!("Job {} was dismissed on the remote server.", url),
                    status: None,
                };
                self.fail(job, remote_failure(&err)).await?;
                Ok(Look::Ended)
            }
            _ => {
                let message = format!(
                    "remote {}: {}{}",
                    remote.name,
                    if text.is_empty() { "unknown" } else { text },
                    status
                        .get("message")
                        .and_then(Value::as_str)
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
                let progress = status
                    .get("progress")
                    .and_then(Value::as_u64)
                    .map(|p| p.min(100) as u8);
                if job.message.as_deref() != Some(message.as_str()) {
                    store
                        .set_progress(
                            &job.id,
                            &Self::owner(),
                            &message,
                            progress,
                            OffsetDateTime::now_utc(),
                        )
                        .await?;
                    self.jobs.announce(&job.id);
                }
                Ok(Look::Going)
            }
        }
    }

    /// Submits the step once: the marker first, then the job's URL.
    async fn submit(
        &self,
        job: &Job,
        call: &RemoteCall,
        remote: &Remote,
    ) -> Result<Look, StoreError> {
        let store = self.jobs.store();
        let now = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
        let marker = format!("{SUBMITTING}{now}");
        if !store.swap_remote_job(&job.id, None, &marker).await? {
            return Ok(Look::Going);
        }
        let document = match self.execute_document(job, call, remote).await {
            Ok(document) => document,
            Err(failure) => {
                self.fail(job, failure).await?;
                return Ok(Look::Ended);
            }
        };
        match remote.execute(&call.process, &document).await {
            Ok(url) => {
                store
                    .swap_remote_job(&job.id, Some(&marker), url.as_str())
                    .await?;
                tracing::info!(job_id = %job.id, remote = %remote.name, remote_job = %crate::outbound::shown_url(&url), "remote step submitted");
                let message = format!(
                    "remote {}: submitted as {}",
                    remote.name,
                    crate::outbound::shown_url(&url)
                );
                store
                    .set_progress(
                        &job.id,
                        &Self::owner(),
                        &message,
                        None,
                        OffsetDateTime::now_utc(),
                    )
                    .await?;
                self.jobs.announce(&job.id);
                // Dismissed while it was being submitted: the dismissal found no job to
                // dismiss there, so it is done now.
                if let Some(now) = store.get_job(&job.id).await? {
                    if now.status == JobStatus::Dismissed {
                        let _ = remote.dismiss(&url).await;
                        return Ok(Look::Ended);
                    }
                }
                Ok(Look::Going)
            }
            Err(err) => {
                // Nothing was created there (the remote refused or was not reached).
                self.fail(job, remote_failure(&err)).await?;
                Ok(Look::Ended)
            }
        }
    }

    /// The OGC execute request the remote gets.
    async fn execute_document(
        &self,
        job: &Job,
        call: &RemoteCall,
        remote: &Remote,
    ) -> Result<Value, JobFailure> {
        let mut inputs = Map::new();
        for (id, values) in &job.request.inputs {
            let mut rendered = Vec::with_capacity(values.len());
            for value in values {
                rendered.push(self.input_value(value, remote).await?);
            }
            let entry = if rendered.len() == 1 {
                rendered.pop().expect("one value")
            } else {
                Value::Array(rendered)
            };
            inputs.insert(id.clone(), entry);
        }
        let outputs: Map<String, Value> = call
            .outputs
            .iter()
            .map(|(id, file)| {
                let mode = if *file { "reference" } else { "value" };
                (id.clone(), json!({"transmissionMode": mode}))
            })
            .collect();
        Ok(json!({"inputs": inputs, "outputs": outputs, "response": "document"}))
    }

    async fn input_value(&self, value: &InputValue, remote: &Remote) -> Result<Value, JobFailure> {
        Ok(match value {
            InputValue::Inline {
                value,
                media_type: Some(media_type),
            } => json!({"value": value, "mediaType": media_type}),
            InputValue::Inline { value, .. } => value.clone(),
            InputValue::Base64 { data, media_type } => {
                let mut v = json!({"value": data, "encoding": "base64"});
                if let Some(media_type) = media_type {
                    v["mediaType"] = json!(media_type);
                }
                v
            }
            InputValue::Href { href, media_type } => {
                let mut v = json!({"href": href});
                if let Some(media_type) = media_type {
                    v["type"] = json!(media_type);
                }
                v
            }
            InputValue::JobOutput {
                job,
                path,
                media_type,
            } => {
                if let Some(href) = self.link_of(job, path, remote).await {
                    let mut v = json!({"href": href});
                    if let Some(media_type) = media_type {
                        v["type"] = json!(media_type);
                    }
                    return Ok(v);
                }
                let file = self.workspace.outputs_dir(job).join(path);
                let content = tokio::fs::read(&file).await.map_err(|err| {
                    ades_failure(
                        "workspace-error",
                        "Workspace error",
                        format!("The file {path} of step job {job} cannot be read to send it to remote {}: {err}", remote.name),
                        FailureCategory::System,
                    )
                })?;
                let mut v = json!({
                    "value": base64::engine::general_purpose::STANDARD.encode(content),
                    "encoding": "base64",
                });
                if let Some(media_type) = media_type {
                    v["mediaType"] = json!(media_type);
                }
                v
            }
        })
    }

    /// The link of a file a remote step fetched, when it may be handed on by reference:
    /// the producing step ran on a remote without credentials (its links need none), and
    /// the file is `<output>/<n>/<name>` of its results.
    async fn link_of(&self, producer: &JobId, path: &str, consumer: &Remote) -> Option<String> {
        let store = self.jobs.store();
        let producer_job = store.get_job(producer).await.ok()??;
        let call = producer_job.request.remote.as_ref()?;
        let remote = self.remotes.get(&call.remote)?;
        if remote.has_credentials() {
            return None;
        }
        let url = store.remote_job(producer).await.ok()??;
        let url = reqwest::Url::parse(&url).ok()?;
        let mut parts = path.splitn(3, '/');
        let (output, index) = (parts.next()?, parts.next()?.parse::<usize>().ok()?);
        let results = remote.results(&url).await.ok()?;
        let entry = results.get(output)?;
        let one = match entry {
            Value::Array(values) => values.get(index)?,
            single if index == 0 => single,
            _ => return None,
        };
        let href = one.get("href")?.as_str()?.to_string();
        tracing::debug!(consumer = %consumer.name, "a remote step's file goes on by reference");
        Some(href)
    }

    /// The step's results from the remote's results document: files fetched into the
    /// step's outputs as `<output>/<n>/<name>`, json values as they are.
    async fn collect(
        &self,
        job: &Job,
        call: &RemoteCall,
        remote: &Remote,
        url: &reqwest::Url,
    ) -> Result<JobResults, RemoteError> {
        let document = remote.results(url).await?;
        let Some(document) = document.as_object() else {
            return Err(RemoteError {
                title: format!("remote {}: unreadable results", remote.name),
                detail: "the results document is not a JSON object".to_string(),
                status: None,
            });
        };
        let outputs_dir = self.workspace.outputs_dir(&job.id);
        let mut results = JobResults::new();
        for (output, entry) in document {
            let file = call.outputs.get(output).copied().unwrap_or(false);
            if !file {
                let value = match entry {
                    Value::Object(o) if o.contains_key("value") && !o.contains_key("href") => {
                        o["value"].clone()
                    }
                    other => other.clone(),
                };
                results.insert(output.clone(), vec![OutputValue::Json { value }]);
                continue;
            }
            let values: Vec<&Value> = match entry {
                Value::Array(values) => values.iter().collect(),
                one => vec![one],
            };
            let mut files = Vec::with_capacity(values.len());
            for (n, value) in values.into_iter().enumerate() {
                let (content, name, media_type) = self.file_content(value, output, remote).await?;
                let relative = format!("{output}/{n}/{name}");
                let target = outputs_dir.join(&relative);
                let written = async {
                    if let Some(dir) = target.parent() {
                        tokio::fs::create_dir_all(dir).await?;
                    }
                    tokio::fs::write(&target, &content).await
                };
                written.await.map_err(|err| RemoteError {
                    title: "Workspace error".to_string(),
                    detail: format!("result {relative} cannot be written: {err}"),
                    status: None,
                })?;
                files.push(OutputValue::File {
                    path: relative,
                    media_type,
                    size_bytes: content.len() as u64,
                    metadata: None,
                    published: None,
                });
            }
            results.insert(output.clone(), files);
        }
        Ok(results)
    }

    /// One result file's content, name and media type: fetched from its link, or decoded
    /// from the value the remote sent instead.
    async fn file_content(
        &self,
        value: &Value,
        output: &str,
        remote: &Remote,
    ) -> Result<(Vec<u8>, String, Option<String>), RemoteError> {
        let declared = value
            .get("type")
            .or_else(|| value.get("mediaType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(href) = value.get("href").and_then(Value::as_str) {
            let (content, served) = remote.fetch(href, MAX_RESULT_BYTES).await?;
            let name = href
                .split(['?', '#'])
                .next()
                .and_then(|p| p.rsplit('/').next())
                .filter(|n| !n.is_empty() && *n != "." && *n != "..")
                .unwrap_or(output)
                .to_string();
            return Ok((content, name, declared.or(served)));
        }
        let content = match (
            value.get("value"),
            value.get("encoding").and_then(Value::as_str),
        ) {
            (Some(Value::String(data)), Some("base64")) => {
                base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| RemoteError {
                        title: format!("remote {}: unreadable result", remote.name),
                        detail: format!("output {output} is not valid base64: {e}"),
                        status: None,
                    })?
            }
            (Some(Value::String(text)), _) => text.clone().into_bytes(),
            (Some(other), _) => other.to_string().into_bytes(),
            (None, _) => match value {
                Value::String(text) => text.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            },
        };
        Ok((content, output.to_string(), declared))
    }

    async fn succeed(
        &self,
        job: &Job,
        results: JobResults,
        remote: &Remote,
    ) -> Result<(), StoreError> {
        if let Err(err) = self.workspace.publish_outputs(&job.id).await {
            tracing::warn!(job_id = %job.id, error = %err, "cannot publish a remote step's outputs");
        }
        let ended = self
            .jobs
            .store()
            .complete_job(
                &job.id,
                &Self::owner(),
                Completion::Succeeded {
                    results,
                    message: format!("remote {}: successful", remote.name),
                },
                OffsetDateTime::now_utc(),
            )
            .await?;
        if ended {
            tracing::info!(job_id = %job.id, remote = %remote.name, "remote step successful");
            self.jobs.announce(&job.id);
        }
        Ok(())
    }

    async fn fail(&self, job: &Job, failure: JobFailure) -> Result<(), StoreError> {
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
            tracing::info!(job_id = %job.id, "remote step failed");
            self.jobs.announce(&job.id);
        }
        Ok(())
    }
}

/// A remote's error as the step's failure (the workflow prefixes it with the step name).
fn remote_failure(err: &RemoteError) -> JobFailure {
    ades_failure(
        REMOTE_FAILED,
        &err.title,
        err.detail.clone(),
        FailureCategory::Job,
    )
}
