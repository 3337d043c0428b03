//! Group commit of submissions: jobs submitted at the same moment share one transaction
//! and so one sync to disk, each still committed before its `insert_job` returns.
//!
//! Why: a commit waits for the disk (`synchronous = FULL` on SQLite, the WAL flush on
//! PostgreSQL), and SQLite has one writer, so concurrent submissions used to queue for one
//! sync each. Here one committer task per store takes the submissions that are waiting
//! when it is free, all of them (up to [`MAX_BATCH`]), writes them in one transaction and
//! answers each. Nothing waits to fill a batch: a lone submission commits at once, and a
//! burst commits in as many transactions as the disk has time for.
//!
//! A batch that fails is retried one job per transaction, so one bad job fails alone. A
//! submitter that goes away after handing its job over (a client that hung up) still gets
//! its job committed: durable and unacknowledged, as after a crash between commit and
//! answer.

use super::{NewJob, StoreError};
use crate::domain::Job;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// The most jobs committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// Submissions handed over and not yet taken by the committer; a submitter beyond this
/// waits for room (back-pressure rather than unbounded memory).
const QUEUE: usize = 4096;

/// A job waiting for its commit, and where to say how it went.
struct Pending {
    job: NewJob,
    now: OffsetDateTime,
    reply: oneshot::Sender<Result<Job, StoreError>>,
}

/// How one batch is written (each backend, in `sql_store.rs`). The committer holds the
/// writer, so it must not hold the store (whose last clone stops the committer).
#[async_trait::async_trait]
pub(super) trait BatchWriter: Send + Sync + 'static {
    /// Inserts every job in one transaction, committed once; `Err` leaves none inserted.
    async fn insert_all(&self, jobs: &[(NewJob, OffsetDateTime)]) -> Result<Vec<Job>, StoreError>;
}

/// The committer of one store: started by the first submission (it needs the runtime),
/// shared by the store's clones, stopped when the last clone is dropped.
#[derive(Debug, Clone, Default)]
pub struct GroupCommit {
    sender: Arc<OnceLock<mpsc::Sender<Pending>>>,
}

impl GroupCommit {
    /// Commits `job` (with others waiting at the same moment) and returns it as stored.
    pub(super) async fn insert<W: BatchWriter + Clone>(
        &self,
        writer: &W,
        job: NewJob,
        now: OffsetDateTime,
    ) -> Result<Job, StoreError> {
        let sender = self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(run_committer(writer.clone(), receiver));
            sender
        });
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the job store's committer stopped".to_string());
        sender
            .send(Pending { job, now, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run_committer<W: BatchWriter>(writer: W, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        // A panic in one batch must not stop every later submission: its submitters see
        // their reply dropped (an error), the committer goes on.
        if AssertUnwindSafe(commit_batch(&writer, batch))
            .catch_unwind()
            .await
            .is_err()
        {
            tracing::error!("the job store's committer panicked in a batch; it goes on");
        }
    }
}

async fn commit_batch<W: BatchWriter>(writer: &W, batch: Vec<Pending>) {
    // The jobs move out of their submissions (a request may carry large inline inputs:
    // never copied), the replies stay beside them in the same order.
    let (jobs, replies): (Vec<(NewJob, OffsetDateTime)>, Vec<_>) = batch
        .into_iter()
        .map(|pending| ((pending.job, pending.now), pending.reply))
        .unzip();
    if jobs.len() > 1 {
        if let Ok(stored) = writer.insert_all(&jobs).await {
            for (reply, job) in replies.into_iter().zip(stored) {
                let _ = reply.send(Ok(job));
            }
            return;
        }
    }
    // One job, or a batch that failed: each in its own transaction, with its own answer.
    for (reply, job) in replies.into_iter().zip(&jobs) {
        let result = writer
            .insert_all(std::slice::from_ref(job))
            .await
            .and_then(|mut stored| {
                stored.pop().ok_or_else(|| {
                    StoreError::Database("a committed job was not returned".to_string())
                })
            });
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobId, ProcessId};
    use std::sync::Mutex;

    /// A writer that records the batches it was given, and refuses any batch holding a job
    /// of process `bad`.
    #[derive(Clone, Default)]
    struct Recorder {
        batches: Arc<Mutex<Vec<usize>>>,
    }

    #[async_trait::async_trait]
    impl BatchWriter for Recorder {
        async fn insert_all(
            &self,
            jobs: &[(NewJob, OffsetDateTime)],
        ) -> Result<Vec<Job>, StoreError> {
            // Slow enough that submissions pile up behind a batch.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.batches.lock().unwrap().push(jobs.len());
            if jobs.iter().any(|(job, _)| job.process_id.as_str() == "bad") {
                return Err(StoreError::Database("refused".to_string()));
            }
            Ok(jobs
                .iter()
                .map(|(job, now)| Job {
                    id: job.id.clone(),
                    process_id: job.process_id.clone(),
                    status: crate::domain::JobStatus::Accepted,
                    message: None,
                    progress: None,
                    created: *now,
                    started: None,
                    finished: None,
                    updated: *now,
                    request: job.request.clone(),
                    results: None,
                    failure: None,
                    attempt: 0,
                    owner: job.owner.clone(),
                    parent: job.step_of.as_ref().map(|s| s.parent.clone()),
                    step: job.step_of.as_ref().map(|s| s.step.clone()),
                })
                .collect())
        }
    }

    fn job(process: &str) -> NewJob {
        NewJob {
            id: JobId::new(),
            process_id: ProcessId::parse(process).unwrap(),
            request: Default::default(),
            priority: 0,
            owner: None,
            step_of: None,
            workflow: false,
            submitted_by: None,
        }
    }

    #[tokio::test]
    async fn concurrent_submissions_share_transactions_and_each_gets_its_own_job() {
        let commits = GroupCommit::default();
        let writer = Recorder::default();
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (commits, writer) = (commits.clone(), writer.clone());
            let job = job("echo");
            let id = job.id.clone();
            tasks.push(tokio::spawn(async move {
                let stored = commits
                    .insert(&writer, job, OffsetDateTime::now_utc())
                    .await;
                (id, stored)
            }));
        }
        for task in tasks {
            let (id, stored) = task.await.unwrap();
            assert_eq!(stored.unwrap().id, id);
        }
        let batches = writer.batches.lock().unwrap().clone();
        assert_eq!(batches.iter().sum::<usize>(), 40);
        assert!(
            batches.len() < 40,
            "no batch shared a transaction: {batches:?}"
        );
    }

    #[tokio::test]
    async fn a_bad_job_fails_alone() {
        let commits = GroupCommit::default();
        let writer = Recorder::default();
        let mut tasks = Vec::new();
        for process in ["echo", "bad", "echo", "echo"] {
            let (commits, writer) = (commits.clone(), writer.clone());
            let job = job(process);
            tasks.push(tokio::spawn(async move {
                commits
                    .insert(&writer, job, OffsetDateTime::now_utc())
                    .await
            }));
        }
        let results: Vec<bool> = futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .map(|r| r.unwrap().is_ok())
            .collect();
        assert_eq!(results, [true, false, true, true]);
    }
}
