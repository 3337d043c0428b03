//! Callbacks (OGC callback class), durable and protocol-neutral.
//!
//! Every status change that a job's [`Subscriber`](crate::domain::Subscriber) asks to hear
//! of is queued in the store in the same transaction as the change (the outbox, see
//! `enqueue_callback.sql`): `inProgressUri` when the job starts running (once per attempt),
//! `successUri` when it succeeds, `failedUri` when it fails or is dismissed before it ended.
//! A [`CallbackDeliverer`] in every ades process (serve and worker) claims due callbacks under a lease,
//! renders the body as the façade that accepted the job would ([`CallbackRenderer`]) and
//! POSTs it through the address guard ([`crate::outbound`]). A try that fails is retried
//! after a capped, doubling pause until it is [`CallbackSettings::give_up_after`] old;
//! every try is recorded with its outcome. A process that dies mid-delivery leaves its
//! claim to lapse and another (or itself, restarted) delivers: at least once, never lost.
//!
//! Each POST carries `Link: <job URL>; rel="monitor"` and `Idempotency-Key: <job id>:<status>:<attempt>`,
//! the same for every try of the same news, so receivers can drop duplicates.

use super::JobService;
use crate::domain::{CallbackOutcome, DueCallback, Job, JobStatus};
use crate::store::StoreError;
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// The header that tells receivers which news a POST brings.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// What to POST, written by the façade that accepted the job.
#[async_trait]
pub trait CallbackRenderer: Send + Sync + 'static {
    /// The body telling that `job` entered `status` (the job may have moved on since;
    /// the body speaks of `status`), with links under `base`.
    async fn body(&self, job: &Job, status: JobStatus, base: &str) -> Value;
    /// The job's URL under `base`, sent as the `monitor` link.
    fn job_url(&self, job: &Job, base: &str) -> String;
}

/// How callbacks are delivered.
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    /// Longest one POST may take, connection included.
    pub timeout: Duration,
    /// Pause after the first failed try; doubled after each further one.
    pub retry_pause: Duration,
    /// Longest pause between tries.
    pub retry_pause_max: Duration,
    /// A callback not delivered this long after it became due is given up.
    pub give_up_after: Duration,
    /// How often the deliverer looks for due callbacks when nothing wakes it.
    pub poll: Duration,
    /// Whether receivers may be on the server's own network (`queue.allow_private_urls`).
    pub allow_private_urls: bool,
    /// The base URL of links when the job's subscriber does not carry the one its client
    /// used (jobs submitted before it was recorded).
    pub default_base: String,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        CallbackSettings {
            timeout: Duration::from_secs(10),
            retry_pause: Duration::from_secs(1),
            retry_pause_max: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(2),
            allow_private_urls: false,
            default_base: "http://localhost:8080".to_string(),
        }
    }
}

/// Delivers the callbacks of the store's outbox. Cheap to clone.
#[derive(Clone)]
pub struct CallbackDeliverer {
    jobs: JobService,
    client: reqwest::Client,
    renderer: Arc<dyn CallbackRenderer>,
    settings: Arc<CallbackSettings>,
    /// Who holds a claim (this process).
    owner: String,
}

impl CallbackDeliverer {
    pub fn new(
        jobs: JobService,
        renderer: Arc<dyn CallbackRenderer>,
        settings: CallbackSettings,
    ) -> Self {
        let client = crate::outbound::client(
            settings.allow_private_urls,
            crate::outbound::Timeouts {
                connect: settings.timeout,
                read: settings.timeout,
                total: Some(settings.timeout),
            },
        );
        CallbackDeliverer {
            jobs,
            client,
            renderer,
            settings: Arc::new(settings),
            owner: format!("callbacks-{}-{}", std::process::id(), uuid::Uuid::new_v4()),
        }
    }

    /// Delivers what is due, then waits for a job change (or the poll interval), until
    /// `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        let mut changes = self.jobs.subscribe_changes();
        loop {
            loop {
                match self.try_next().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "callbacks: cannot read the outbox");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = changes.recv() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// Makes one try of the callback due soonest; `Ok(false)` when none is due.
    pub async fn try_next(&self) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        // The claim outlives one POST with room to record it; a claim that lapses because
        // this process died is taken by another.
        let lease_until = now + self.settings.timeout * 3;
        let store = self.jobs.store();
        let Some(due) = store.claim_callback(&self.owner, lease_until, now).await? else {
            return Ok(false);
        };
        let shown = crate::outbound::shown(&due.uri);
        let result = self.post(&due).await;
        let now = OffsetDateTime::now_utc();
        let (outcome, detail) = match result {
            Ok(detail) => (CallbackOutcome::Delivered, detail),
            Err(detail) => (self.after_failure(&due, now), detail),
        };
        match &outcome {
            CallbackOutcome::Delivered => {
                tracing::info!(job_id = %due.job_id, uri = %shown, status = due.status.as_str(), tries = due.tries, "callback delivered")
            }
            CallbackOutcome::RetryAt(at) => {
                tracing::warn!(job_id = %due.job_id, uri = %shown, tries = due.tries, failure = %detail, retry_at = %at, "callback not delivered; will try again")
            }
            CallbackOutcome::GivenUp => {
                tracing::error!(job_id = %due.job_id, uri = %shown, tries = due.tries, failure = %detail, "callback given up")
            }
        }
        store
            .finish_callback_try(&due, &self.owner, &outcome, &detail, now)
            .await?;
        Ok(true)
    }

    /// When to try again after a failed try, or give up.
    fn after_failure(&self, due: &DueCallback, now: OffsetDateTime) -> CallbackOutcome {
        let pause = crate::queue::Backoff::delay_after(
            self.settings.retry_pause,
            self.settings.retry_pause_max,
            due.tries,
        );
        let next = now + pause;
        if next - due.created > self.settings.give_up_after {
            CallbackOutcome::GivenUp
        } else {
            CallbackOutcome::RetryAt(next)
        }
    }

    /// POSTs the callback once; the outcome in words either way.
    async fn post(&self, due: &DueCallback) -> Result<String, String> {
        let url = reqwest::Url::parse(due.uri.trim()).map_err(|e| format!("not a URL ({e})"))?;
        crate::outbound::check_url(&url, self.settings.allow_private_urls)?;
        let job = match self
            .jobs
            .get(&crate::auth::Caller::system(), &due.job_id)
            .await
        {
            Ok(job) => job,
            Err(super::JobsError::NoSuchJob(_)) => return Err("the job is gone".to_string()),
            Err(err) => return Err(format!("cannot read the job: {err}")),
        };
        let base = job
            .request
            .subscriber
            .as_ref()
            .and_then(|s| s.base_url.clone())
            .unwrap_or_else(|| self.settings.default_base.clone());
        let body = self.renderer.body(&job, due.status, &base).await;
        let monitor = format!("<{}>; rel=\"monitor\"", self.renderer.job_url(&job, &base));
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::LINK, monitor)
            .header(IDEMPOTENCY_KEY, due.idempotency_key())
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                Ok(format!("answered {}", response.status()))
            }
            Ok(response) => Err(format!("answered {}", response.status())),
            // Without the URL: it may hold the receiver's token.
            Err(err) => Err(crate::error::cause_chain(&err.without_url())),
        }
    }
}
