//! Callbacks (OGC callback class), protocol-neutral: when a job carries a
//! [`Subscriber`](crate::domain::Subscriber), a task started at submission watches it and
//! POSTs to the subscriber's URIs — once to `inProgressUri` when it is first seen running,
//! once to `successUri` when it succeeds, once to `failedUri` when it fails or is
//! dismissed. The façade that accepted the job says what the bodies are
//! ([`CallbackRenderer`]); each POST also carries `Link: <job URL>; rel="monitor"` so the
//! receiver knows which job it is about.
//!
//! Delivery is best effort: each POST has a timeout and a few attempts with a growing
//! pause; failures are logged, never raised. The watch lives in the process that accepted
//! the job: a restart loses the callbacks of jobs still running.

use super::{JobService, JobsError};
use crate::domain::{Job, JobId, JobStatus};
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What to POST, written by the façade that accepted the job.
#[async_trait]
pub trait CallbackRenderer: Send + Sync + 'static {
    /// For `inProgressUri`: the job's status.
    async fn in_progress(&self, job: &Job) -> Value;
    /// For `successUri`: the results.
    async fn succeeded(&self, job: &Job) -> Value;
    /// For `failedUri`: the job's status (failed or dismissed) and why.
    async fn failed(&self, job: &Job) -> Value;
    /// The job's URL, sent as the `monitor` link.
    fn job_url(&self, job: &Job) -> String;
}

/// How callbacks are delivered.
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    /// Longest one POST may take.
    pub timeout: Duration,
    /// POSTs tried per callback.
    pub attempts: u32,
    /// Pause before the second attempt; doubled before each further one.
    pub retry_pause: Duration,
    /// How often the watcher looks at the job while it waits (it also wakes when the job
    /// changes in this process).
    pub poll: Duration,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        CallbackSettings {
            timeout: Duration::from_secs(10),
            attempts: 3,
            retry_pause: Duration::from_secs(1),
            poll: Duration::from_secs(2),
        }
    }
}

/// Starts the watchers. Cheap to clone.
#[derive(Clone)]
pub struct Callbacks {
    jobs: JobService,
    client: reqwest::Client,
    settings: Arc<CallbackSettings>,
}

impl Callbacks {
    pub fn new(jobs: JobService) -> Self {
        Self::with_settings(jobs, CallbackSettings::default())
    }

    pub fn with_settings(jobs: JobService, settings: CallbackSettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("ades/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Callbacks {
            jobs,
            client,
            settings: Arc::new(settings),
        }
    }

    /// Watches `job` and POSTs to its subscriber's URIs; `None` when it has no subscriber.
    pub fn watch(
        &self,
        job: &Job,
        renderer: Arc<dyn CallbackRenderer>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let subscriber = job.request.subscriber.clone()?;
        let this = self.clone();
        let id = job.id.clone();
        Some(tokio::spawn(async move {
            this.follow(id, subscriber, renderer).await;
        }))
    }

    async fn follow(
        &self,
        id: JobId,
        subscriber: crate::domain::Subscriber,
        renderer: Arc<dyn CallbackRenderer>,
    ) {
        let mut told_running = false;
        let mut read_failures = 0u32;
        loop {
            let job = match self.jobs.wait_until_final(&id, self.settings.poll).await {
                Ok(job) => job,
                Err(JobsError::NoSuchJob(_)) => {
                    tracing::warn!(job_id = %id, "callbacks: the job vanished; no callback sent");
                    return;
                }
                Err(e) => {
                    read_failures += 1;
                    tracing::warn!(job_id = %id, error = %e, "callbacks: cannot read the job");
                    if read_failures >= 10 {
                        tracing::error!(job_id = %id, "callbacks: giving up on this job");
                        return;
                    }
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
            };
            read_failures = 0;
            match job.status {
                JobStatus::Successful => {
                    if let Some(uri) = &subscriber.success_uri {
                        let body = renderer.succeeded(&job).await;
                        self.post(&job, uri, &body, renderer.as_ref()).await;
                    }
                    return;
                }
                JobStatus::Failed | JobStatus::Dismissed => {
                    if let Some(uri) = &subscriber.failed_uri {
                        let body = renderer.failed(&job).await;
                        self.post(&job, uri, &body, renderer.as_ref()).await;
                    }
                    return;
                }
                JobStatus::Running if !told_running => {
                    told_running = true;
                    if let Some(uri) = &subscriber.in_progress_uri {
                        let body = renderer.in_progress(&job).await;
                        self.post(&job, uri, &body, renderer.as_ref()).await;
                    }
                }
                _ => {}
            }
        }
    }

    /// POSTs `body` to `uri`, retrying; logs the outcome.
    async fn post(&self, job: &Job, uri: &str, body: &Value, renderer: &dyn CallbackRenderer) {
        let monitor = format!("<{}>; rel=\"monitor\"", renderer.job_url(job));
        let mut pause = self.settings.retry_pause;
        for attempt in 1..=self.settings.attempts.max(1) {
            let sent = self
                .client
                .post(uri)
                .header(reqwest::header::LINK, monitor.as_str())
                .json(body)
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(job_id = %job.id, uri, status = job.status.as_str(), "callback delivered");
                    return;
                }
                Ok(response) => format!("answered {}", response.status()),
                Err(e) => e.to_string(),
            };
            tracing::warn!(job_id = %job.id, uri, attempt, failure, "callback not delivered");
            if attempt < self.settings.attempts {
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
        }
        tracing::error!(job_id = %job.id, uri, "callback given up after every attempt");
    }
}
