//! What an operator sees of the queue: how many jobs wait and run, the worker pools, and
//! the recent failures grouped by their error, so that one broken image or one full disk
//! shows as one line with a count rather than as a page of failed jobs.
//!
//! Admin only, checked here for every façade. Read from the shared store, so every replica
//! shows the same overview.

use super::{JobService, JobsError};
use crate::auth::Caller;
use crate::domain::{Job, JobId, JobStatus};
use crate::store::{JobFilter, WorkerHost};
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// How far back the failures are read.
pub const FAILURE_WINDOW: Duration = Duration::days(7);

/// The most failed jobs read for the grouping (the newest first): enough to see every
/// recurring error, bounded so that a flood of failures costs one bounded read.
pub const FAILURES_EXAMINED: u32 = 500;

/// The newest jobs named per group.
const EXAMPLES_PER_GROUP: usize = 5;

/// The queue as the store knows it.
#[derive(Debug, Clone)]
pub struct QueueOverview {
    /// Jobs accepted and waiting for a worker.
    pub queued: u64,
    /// Jobs running anywhere (every replica).
    pub running: u64,
    /// Jobs running in this server process.
    pub running_here: usize,
    /// Every registered worker pool, live or lost.
    pub pools: Vec<WorkerHost>,
    /// The recent failures, most frequent first.
    pub failures: Vec<FailureGroup>,
    /// Failed jobs read for the grouping (at most [`FAILURES_EXAMINED`]).
    pub failures_examined: usize,
    /// The oldest creation time read.
    pub failures_since: OffsetDateTime,
}

/// Failed jobs that share one error.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup {
    /// The error's machine name: the manifest's `errors[].name` or a built-in one
    /// (`algorithm-unknown`, `timeout`, ...); `unrecorded` for a job failed without one
    /// (e.g. by the lease reaper).
    pub error: String,
    /// The error's title, or the job's message when it has no recorded error.
    pub title: String,
    /// `job` or `data` (Seed's categories), `system` when unrecorded.
    pub category: String,
    pub count: usize,
    /// The processes that failed with it, by name.
    pub processes: Vec<String>,
    /// The containers' exit codes seen, in order.
    pub exit_codes: Vec<i64>,
    /// When the newest of them ended (or was last updated).
    pub last_seen: OffsetDateTime,
    /// The newest jobs of the group (at most five).
    pub jobs: Vec<JobId>,
}

impl JobService {
    /// The operator's overview of the queue. Admin only.
    pub async fn queue_overview(&self, caller: &Caller) -> Result<QueueOverview, JobsError> {
        caller.require_admin("The operator's overview of the queue")?;
        let now = OffsetDateTime::now_utc();
        // Whole seconds: the bound is shown to people.
        let since = now - FAILURE_WINDOW;
        let since = since.replace_nanosecond(0).unwrap_or(since);
        let queued = self.store.count_queued().await?;
        let running = self.store.running_job_ids().await?.len() as u64;
        let pools = self.store.worker_hosts().await?;
        let failed = self
            .store
            .list_jobs(
                &JobFilter {
                    statuses: vec![JobStatus::Failed],
                    created_from: Some(since),
                    limit: FAILURES_EXAMINED,
                    ..Default::default()
                },
                now,
            )
            .await?
            .jobs;
        Ok(QueueOverview {
            queued,
            running,
            running_here: self.running_here(),
            pools,
            failures_examined: failed.len(),
            failures: group_failures(&failed),
            failures_since: since,
        })
    }
}

fn category_name(category: seed::errors::FailureCategory) -> &'static str {
    match category {
        seed::errors::FailureCategory::Job => "job",
        seed::errors::FailureCategory::Data => "data",
        seed::errors::FailureCategory::System => "system",
    }
}

/// Groups failed jobs (newest first, as the store lists them) by their error, most
/// frequent first; ties go to the most recent.
pub fn group_failures(jobs: &[Job]) -> Vec<FailureGroup> {
    let mut groups: BTreeMap<String, FailureGroup> = BTreeMap::new();
    for job in jobs {
        let (error, title, category, exit_code) = match &job.failure {
            Some(failure) => (
                failure.name.clone(),
                failure.title.clone(),
                category_name(failure.category).to_string(),
                failure.exit_code,
            ),
            None => (
                "unrecorded".to_string(),
                job.message.clone().unwrap_or_else(|| "failed".to_string()),
                "system".to_string(),
                None,
            ),
        };
        let ended = job.finished.unwrap_or(job.updated);
        let group = groups.entry(error.clone()).or_insert_with(|| FailureGroup {
            error,
            title,
            category,
            count: 0,
            processes: Vec::new(),
            exit_codes: Vec::new(),
            last_seen: ended,
            jobs: Vec::new(),
        });
        group.count += 1;
        group.last_seen = group.last_seen.max(ended);
        let process = job.process_id.to_string();
        if !group.processes.contains(&process) {
            group.processes.push(process);
        }
        if let Some(code) = exit_code {
            if !group.exit_codes.contains(&code) {
                group.exit_codes.push(code);
            }
        }
        if group.jobs.len() < EXAMPLES_PER_GROUP {
            group.jobs.push(job.id.clone());
        }
    }
    let mut groups: Vec<FailureGroup> = groups.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ExecuteRequest, ProcessId};
    use seed::errors::{FailureCategory, JobFailure};

    fn failed(id: &str, process: &str, error: Option<(&str, i64)>, minute: i64) -> Job {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::minutes(minute);
        Job {
            id: JobId::parse(id).expect("an id"),
            process_id: ProcessId::parse(process).expect("a process id"),
            status: JobStatus::Failed,
            message: Some("lease expired twice".to_string()),
            progress: None,
            created: at,
            started: Some(at),
            finished: Some(at),
            updated: at,
            request: ExecuteRequest::default(),
            results: None,
            failure: error.map(|(name, code)| JobFailure {
                name: name.to_string(),
                title: format!("{name} title"),
                description: String::new(),
                category: FailureCategory::Job,
                exit_code: Some(code),
            }),
            attempt: 1,
            owner: None,
            parent: None,
            step: None,
        }
    }

    #[test]
    fn failures_group_by_error_most_frequent_first() {
        // Newest first, as the store lists them.
        let jobs = [
            failed(
                "00000000-0000-4000-8000-000000000005",
                "b",
                Some(("disk-full", 3)),
                5,
            ),
            failed(
                "00000000-0000-4000-8000-000000000004",
                "a",
                Some(("algorithm-unknown", 1)),
                4,
            ),
            failed(
                "00000000-0000-4000-8000-000000000003",
                "a",
                Some(("algorithm-unknown", 2)),
                3,
            ),
            failed(
                "00000000-0000-4000-8000-000000000002",
                "c",
                Some(("algorithm-unknown", 1)),
                2,
            ),
            failed("00000000-0000-4000-8000-000000000001", "a", None, 1),
        ];
        let groups = group_failures(&jobs);
        let summary: Vec<(&str, usize)> =
            groups.iter().map(|g| (g.error.as_str(), g.count)).collect();
        assert_eq!(
            summary,
            [
                ("algorithm-unknown", 3),
                ("disk-full", 1),
                ("unrecorded", 1)
            ]
        );
        let unknown = &groups[0];
        assert_eq!(unknown.processes, ["a", "c"]);
        assert_eq!(unknown.exit_codes, [1, 2]);
        assert_eq!(unknown.jobs[0], jobs[1].id, "the newest job comes first");
        assert_eq!(
            unknown.last_seen,
            OffsetDateTime::UNIX_EPOCH + Duration::minutes(4)
        );
        assert_eq!(groups[2].title, "lease expired twice");
        assert_eq!(groups[2].category, "system");
    }

    #[test]
    fn a_group_names_at_most_five_jobs() {
        let jobs: Vec<Job> = (0..8)
            .map(|i| {
                failed(
                    &format!("00000000-0000-4000-8000-00000000000{i}"),
                    "a",
                    Some(("timeout", 124)),
                    10 - i,
                )
            })
            .collect();
        let groups = group_failures(&jobs);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].count, 8);
        assert_eq!(groups[0].jobs.len(), 5);
    }
}
