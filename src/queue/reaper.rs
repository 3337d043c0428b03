//! The reaper: jobs whose worker stopped renewing its lease (crashed, hung, its server
//! killed) go back to `accepted` for another attempt, or fail once they used up
//! `max_attempts`. Nothing stays `running` forever.

use super::Backoff;
use crate::domain::JobStatus;
use crate::jobs::JobService;
use crate::store::{ReapedJob, StoreError};
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Requeues or fails jobs with expired leases.
#[derive(Clone)]
pub struct Reaper {
    jobs: JobService,
    max_attempts: u32,
    interval: Duration,
}

impl Reaper {
    /// A reaper looking every `interval`.
    pub fn new(jobs: JobService, max_attempts: u32, interval: Duration) -> Self {
        Reaper {
            jobs,
            max_attempts,
            interval,
        }
    }

    /// How often to look for a given lease: a third of it (so an expired lease is found
    /// soon after it expires), between 100 ms and 5 s.
    pub fn interval_for(lease: Duration) -> Duration {
        (lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// One pass: reaps what expired by now, tells waiters and wakes a worker per requeued
    /// job.
    pub async fn reap_once(&self) -> Result<Vec<ReapedJob>, StoreError> {
        let reaped = self
            .jobs
            .store()
            .reap_expired_leases(OffsetDateTime::now_utc(), self.max_attempts)
            .await?;
        for job in &reaped {
            self.jobs.announce(&job.job_id);
            if job.now == JobStatus::Accepted {
                tracing::warn!(job_id = %job.job_id, "the job's worker stopped renewing its lease: requeued");
                self.jobs.wake_a_worker();
            } else {
                tracing::warn!(
                    job_id = %job.job_id,
                    status = job.now.as_str(),
                    "the job's worker stopped renewing its lease and it has no attempts left"
                );
            }
        }
        Ok(reaped)
    }

    /// Reaps every `interval` until `stop` fires; backs off (capped) while the store fails.
    pub async fn run(&self, stop: CancellationToken) {
        let mut backoff = Backoff::new(self.interval, Duration::from_secs(60));
        let mut wait = self.interval;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            match self.reap_once().await {
                Ok(_) => {
                    backoff.reset();
                    wait = self.interval;
                }
                Err(err) => {
                    wait = backoff.next_delay();
                    tracing::warn!(
                        error = %err,
                        retry_in_ms = wait.as_millis() as u64,
                        "cannot reap expired leases; retrying"
                    );
                }
            }
        }
    }
}
