//! The one [`JobStore`] implementation, generic over the SQL [`Backend`]: each operation
//! is one transaction (or one autocommit statement) whose statements, events, signals and
//! decoding are written here once for SQLite and PostgreSQL alike. Status writes bind the
//! [`Transition`] they make (`store::transitions`).

use super::backend::{Backend, SqlStore};
use super::common::{
    corrupt, decode_time, from_json, micros, micros_rounded_up, to_json, worker_lost_failure,
    DISMISSED_MESSAGE, REQUEUED_BY_OPERATOR_MESSAGE, REQUEUED_MESSAGE, WORKER_LOST_MESSAGE,
};
use super::group_commit::BatchWriter;
use super::sql::{Get, Statement};
use super::transitions;
use super::{
    Completion, JobFilter, JobPage, JobStore, NewJob, PoolUse, ReapedJob, RunningLimits,
    StoreError, StoreSignal, WorkerHost,
};
use crate::domain::{
    CallbackOutcome, CallbackRecord, CallbackTry, DueCallback, Job, JobEvent, JobId, JobStatus,
    ProcessId, Transition, WorkerId,
};
use async_trait::async_trait;
use sqlx::{Database, Transaction};
use time::OffsetDateTime;

/// A row of the backend's database.
pub(super) type Row<B> = <<B as Backend>::Db as Database>::Row;
/// A write transaction of the backend's database.
type Tx<B> = Transaction<'static, <B as Backend>::Db>;

/// Submissions of one moment, written by the store's committer (`store::group_commit`):
/// one transaction, one commit.
#[async_trait]
impl<B: Backend> BatchWriter for B {
    async fn insert_all(&self, jobs: &[(NewJob, OffsetDateTime)]) -> Result<Vec<Job>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut inserted = Vec::with_capacity(jobs.len());
        for (job, now) in jobs {
            // Only steps can meet their unique index, and steps do not come this way.
            let job = insert_in::<B>(&mut tx, job, *now).await?.ok_or_else(|| {
                StoreError::Database("a submitted job was not inserted".to_string())
            })?;
            inserted.push(job);
        }
        commit::<B>(tx).await?;
        Ok(inserted)
    }
}

/// Inserts `job`, `accepted`, with its first event and its signal, in `tx`; `None` when
/// it is a step its workflow job has already (nothing written).
pub(super) async fn insert_in<B: Backend>(
    tx: &mut Tx<B>,
    job: &NewJob,
    now: OffsetDateTime,
) -> Result<Option<Job>, StoreError> {
    let request = to_json(&job.request, "request")?;
    let at = now;
    let now = micros(now);
    let row = sql::<B>(B::SQL.insert_job)
        .bind(job.id.as_str().to_owned())
        .bind(job.process_id.as_str().to_owned())
        .bind(now)
        .bind(request)
        .bind(job.priority)
        .bind(job.owner.clone())
        .bind(JobStatus::INITIAL.as_str())
        .bind(if job.workflow {
            "workflow"
        } else {
            "container"
        })
        .bind(job.step_of.as_ref().map(|s| s.parent.as_str().to_owned()))
        .bind(job.step_of.as_ref().map(|s| s.step.clone()))
        .fetch_optional(&mut **tx, "insert a job")
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let inserted = decode_job::<B>(&row)?;
    append_event::<B>(tx, &inserted.id, now, JobStatus::INITIAL, None).await?;
    if let Some(actor) = &job.submitted_by {
        let entry = super::AuditEntry {
            at,
            actor: actor.clone(),
            action: "submit".to_string(),
            target: inserted.id.as_str().to_owned(),
            detail: inserted.process_id.as_str().to_owned(),
        };
        super::users::audit_row::<B>(&entry)
            .execute(&mut **tx, "append the submission to the audit trail")
            .await?;
    }
    B::notify(tx, &signal_of(&inserted.id, JobStatus::INITIAL)).await?;
    Ok(Some(inserted))
}

/// A statement of backend `B`, ready to bind.
pub(super) fn sql<B: Backend>(text: &'static str) -> Statement<B::Db> {
    Statement::new(text)
}

#[async_trait]
impl<B: Backend> JobStore for SqlStore<B> {
    fn pool_use(&self) -> Vec<PoolUse> {
        self.backend
            .pools()
            .into_iter()
            .map(|(name, pool)| {
                let open = pool.size();
                let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
                PoolUse {
                    pool: name,
                    in_use: open - idle,
                    idle,
                    max: pool.options().get_max_connections(),
                }
            })
            .collect()
    }

    async fn insert_job(&self, job: NewJob, now: OffsetDateTime) -> Result<Job, StoreError> {
        self.submissions.insert(&self.backend, job, now).await
    }

    async fn insert_step(
        &self,
        job: NewJob,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.backend.begin_write().await?;
        match insert_in::<B>(&mut tx, &job, now).await? {
            Some(inserted) => {
                commit::<B>(tx).await?;
                Ok(Some(inserted))
            }
            None => {
                rollback::<B>(tx).await?;
                Ok(None)
            }
        }
    }

    async fn job_children(&self, parent: &JobId) -> Result<Vec<Job>, StoreError> {
        let rows = sql::<B>(B::SQL.job_children)
            .bind(parent.as_str().to_owned())
            .fetch_all(self.backend.reader(), "read a workflow's steps")
            .await?;
        rows.iter().map(decode_job::<B>).collect()
    }

    async fn orphaned_steps(&self) -> Result<Vec<Job>, StoreError> {
        let statuses = B::list(
            vec![JobStatus::Accepted.as_str(), JobStatus::Running.as_str()],
            "active statuses",
        )?;
        let rows = sql::<B>(B::SQL.orphaned_steps)
            .bind(statuses)
            .fetch_all(self.backend.reader(), "list orphaned workflow steps")
            .await?;
        rows.iter().map(decode_job::<B>).collect()
    }

    async fn active_workflows(&self) -> Result<Vec<JobId>, StoreError> {
        let statuses = B::list(
            vec![JobStatus::Accepted.as_str(), JobStatus::Running.as_str()],
            "active statuses",
        )?;
        let rows = sql::<B>(B::SQL.active_workflows)
            .bind(statuses)
            .fetch_all(self.backend.reader(), "list active workflows")
            .await?;
        rows.iter()
            .map(|row| decode_job_id::<B>(row, "id"))
            .collect()
    }

    async fn remote_job(&self, id: &JobId) -> Result<Option<String>, StoreError> {
        let row = sql::<B>(B::SQL.get_remote_job)
            .bind(id.as_str().to_owned())
            .fetch_optional(self.backend.writer(), "read a remote step's job")
            .await?;
        match row {
            Some(row) => column::<B, Option<String>>(&row, "remote_job"),
            None => Ok(None),
        }
    }

    async fn swap_remote_job(
        &self,
        id: &JobId,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.swap_remote_job)
            .bind(id.as_str().to_owned())
            .bind(expected.map(str::to_owned))
            .bind(value.to_owned())
            .execute(self.backend.writer(), "record a remote step's job")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn start_workflow(
        &self,
        id: &JobId,
        driver: &WorkerId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        // A century: the reaper never takes a workflow job back (no worker holds it).
        let lease_until = now + time::Duration::days(36_500);
        let now = micros(now);
        let transition = transitions::CLAIM;
        let mut tx = self.backend.begin_write().await?;
        let row = sql::<B>(B::SQL.start_workflow)
            .bind(id.as_str().to_owned())
            .bind(driver.0.clone())
            .bind(micros(lease_until))
            .bind(now)
            .bind(transition.to().as_str())
            .bind(transition.only_source().as_str())
            .fetch_optional(&mut *tx, "start a workflow job")
            .await?;
        let Some(row) = row else {
            rollback::<B>(tx).await?;
            return Ok(None);
        };
        let job = decode_job::<B>(&row)?;
        append_event::<B>(
            &mut tx,
            &job.id,
            now,
            transition.to(),
            Some("workflow started"),
        )
        .await?;
        B::notify(&mut tx, &signal_of(&job.id, transition.to())).await?;
        commit::<B>(tx).await?;
        Ok(Some(job))
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let row = sql::<B>(B::SQL.get_job)
            .bind(id.as_str().to_owned())
            .fetch_optional(self.backend.reader(), "read a job")
            .await?;
        row.as_ref().map(decode_job::<B>).transpose()
    }

    async fn list_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<JobPage, StoreError> {
        let process_ids = if filter.process_ids.is_empty() {
            None
        } else {
            let ids = filter.process_ids.iter().map(|p| p.as_str()).collect();
            Some(B::list(ids, "process id filter")?)
        };
        let statuses = if filter.statuses.is_empty() {
            None
        } else {
            let names = filter.statuses.iter().map(|s| s.as_str()).collect();
            Some(B::list(names, "status filter")?)
        };
        let limit = i64::from(filter.limit);
        let rows = sql::<B>(B::SQL.list_jobs)
            .bind(micros(now))
            .bind(process_ids)
            .bind(statuses)
            .bind(filter.created_from.map(micros_rounded_up))
            .bind(filter.created_to.map(micros))
            .bind(filter.min_duration)
            .bind(filter.max_duration)
            // One row more than asked tells whether another page follows.
            .bind(limit + 1)
            .bind(i64::from(filter.offset))
            .bind(filter.owner.clone())
            .fetch_all(self.backend.reader(), "list jobs")
            .await?;
        let has_more = rows.len() as i64 > limit;
        let jobs = rows
            .iter()
            .take(filter.limit as usize)
            .map(decode_job::<B>)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JobPage { jobs, has_more })
    }

    async fn job_events(&self, id: &JobId) -> Result<Vec<JobEvent>, StoreError> {
        let rows = sql::<B>(B::SQL.job_events)
            .bind(id.as_str().to_owned())
            .fetch_all(self.backend.reader(), "read job events")
            .await?;
        rows.iter().map(decode_event::<B>).collect()
    }

    async fn claim_next_job_within(
        &self,
        worker: &WorkerId,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
        limits: &RunningLimits,
    ) -> Result<Option<Job>, StoreError> {
        let now = micros(now);
        let limits_json = to_json(limits, "process limits")?;
        let mut tx = self.backend.begin_write().await?;
        if !limits.is_empty() {
            B::lock_limited_claims(&mut tx).await?;
        }
        let transition = transitions::CLAIM;
        let row = sql::<B>(B::SQL.claim_next_job)
            .bind(worker.0.clone())
            .bind(micros(lease_until))
            .bind(now)
            .bind(limits_json)
            .bind(transition.to().as_str())
            .bind(transition.only_source().as_str())
            .fetch_optional(&mut *tx, "claim a job")
            .await?;
        let Some(row) = row else {
            rollback::<B>(tx).await?;
            return Ok(None);
        };
        let job = decode_job::<B>(&row)?;
        let message = format!("claimed by {worker} (attempt {})", job.attempt);
        append_event::<B>(&mut tx, &job.id, now, transition.to(), Some(&message)).await?;
        B::notify(&mut tx, &signal_of(&job.id, transition.to())).await?;
        commit::<B>(tx).await?;
        Ok(Some(job))
    }

    async fn retry_job(
        &self,
        id: &JobId,
        worker: &WorkerId,
        message: &str,
        not_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = micros(now);
        let transition = transitions::RETRY;
        let mut tx = self.backend.begin_write().await?;
        let done = sql::<B>(B::SQL.retry_job)
            .bind(id.as_str().to_owned())
            .bind(worker.0.clone())
            .bind(message.to_owned())
            .bind(micros(not_before))
            .bind(now)
            .bind(transition.to().as_str())
            .bind(sources::<B>(transition)?)
            .execute(&mut *tx, "put a job back in the queue")
            .await?;
        finish_fenced_write::<B>(tx, &done, id, now, transition.to(), message).await
    }

    async fn requeue_job(
        &self,
        id: &JobId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        let change = OperatorChange {
            statement: B::SQL.requeue_job,
            transition: transitions::REQUEUE,
            message: REQUEUED_BY_OPERATOR_MESSAGE,
            doing: "requeue a job",
        };
        change_and_read(&self.backend, id, change, micros(now)).await
    }

    async fn count_queued(&self) -> Result<u64, StoreError> {
        let row = sql::<B>(B::SQL.count_queued)
            .fetch_one(self.backend.reader(), "count queued jobs")
            .await?;
        let queued: i64 = column::<B, _>(&row, "queued")?;
        u64::try_from(queued).map_err(|e| corrupt("queued", e))
    }

    async fn upsert_worker_host(&self, host: &WorkerHost) -> Result<(), StoreError> {
        let count = |n: u32, what: &str| {
            B::Int::try_from(n).map_err(|_| StoreError::Database(format!("{what} out of range")))
        };
        sql::<B>(B::SQL.upsert_worker_host)
            .bind(host.id.clone())
            .bind(host.host.clone())
            .bind(count(host.workers, "workers")?)
            .bind(host.cpus)
            .bind(host.mem_mib)
            .bind(count(host.gpus, "gpus")?)
            .bind(count(host.running, "running")?)
            .bind(micros(host.started))
            .bind(micros(host.seen))
            .bind(micros(host.expires))
            .bind(host.disk_mib)
            .execute(self.backend.writer(), "register a worker pool")
            .await?;
        let long_gone = host.seen - time::Duration::hours(1);
        sql::<B>(B::SQL.forget_worker_hosts)
            .bind(micros(long_gone))
            .execute(self.backend.writer(), "forget gone worker pools")
            .await?;
        Ok(())
    }

    async fn delete_worker_host(&self, id: &str) -> Result<(), StoreError> {
        sql::<B>(B::SQL.delete_worker_host)
            .bind(id.to_owned())
            .execute(self.backend.writer(), "forget a worker pool")
            .await?;
        Ok(())
    }

    async fn worker_hosts(&self) -> Result<Vec<WorkerHost>, StoreError> {
        let rows = sql::<B>(B::SQL.worker_hosts)
            .fetch_all(self.backend.reader(), "list worker pools")
            .await?;
        rows.iter().map(decode_worker_host::<B>).collect()
    }

    async fn listen(&self) -> Result<Option<tokio::sync::mpsc::Receiver<StoreSignal>>, StoreError> {
        self.backend.listen().await
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        worker: &WorkerId,
        lease_until: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.renew_lease)
            .bind(id.as_str().to_owned())
            .bind(worker.0.clone())
            .bind(micros(lease_until))
            .execute(self.backend.writer(), "renew a lease")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn set_progress(
        &self,
        id: &JobId,
        worker: &WorkerId,
        message: &str,
        progress: Option<u8>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.set_progress)
            .bind(id.as_str().to_owned())
            .bind(worker.0.clone())
            .bind(message.to_owned())
            .bind(progress.map(|p| B::Int::from(p.min(100))))
            .bind(micros(now))
            .execute(self.backend.writer(), "set a job's progress")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn complete_job(
        &self,
        id: &JobId,
        worker: &WorkerId,
        completion: Completion,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (statement, transition, outcome, message) = match completion {
            Completion::Succeeded { results, message } => (
                B::SQL.complete_succeeded,
                transitions::COMPLETE_SUCCEEDED,
                to_json(&results, "results")?,
                message,
            ),
            Completion::Failed { failure, message } => (
                B::SQL.complete_failed,
                transitions::COMPLETE_FAILED,
                to_json(&failure, "failure")?,
                message,
            ),
        };
        let now = micros(now);
        let mut tx = self.backend.begin_write().await?;
        let done = sql::<B>(statement)
            .bind(id.as_str().to_owned())
            .bind(worker.0.clone())
            .bind(outcome)
            .bind(message.clone())
            .bind(now)
            .bind(transition.to().as_str())
            .bind(sources::<B>(transition)?)
            .execute(&mut *tx, "complete a job")
            .await?;
        finish_fenced_write::<B>(tx, &done, id, now, transition.to(), &message).await
    }

    async fn dismiss_job(
        &self,
        id: &JobId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        let change = OperatorChange {
            statement: B::SQL.dismiss_job,
            transition: transitions::DISMISS,
            message: DISMISSED_MESSAGE,
            doing: "dismiss a job",
        };
        change_and_read(&self.backend, id, change, micros(now)).await
    }

    async fn dismiss_active_job(
        &self,
        id: &JobId,
        now: OffsetDateTime,
    ) -> Result<Option<Job>, StoreError> {
        let change = OperatorChange {
            statement: B::SQL.dismiss_active_job,
            transition: transitions::DISMISS_ACTIVE,
            message: DISMISSED_MESSAGE,
            doing: "dismiss an active job",
        };
        change_and_read(&self.backend, id, change, micros(now)).await
    }

    async fn reap_expired_leases(
        &self,
        now: OffsetDateTime,
        max_attempts: u32,
    ) -> Result<Vec<ReapedJob>, StoreError> {
        let now = micros(now);
        let failure = to_json(&worker_lost_failure(max_attempts), "failure")?;
        let mut reaped = Vec::new();
        let mut tx = self.backend.begin_write().await?;

        let requeue = transitions::REAP_REQUEUE;
        let requeued = sql::<B>(B::SQL.requeue_expired)
            .bind(now)
            .bind(i64::from(max_attempts))
            .bind(REQUEUED_MESSAGE)
            .bind(requeue.to().as_str())
            .bind(requeue.only_source().as_str())
            .fetch_all(&mut *tx, "requeue jobs with expired leases")
            .await?;
        for row in &requeued {
            let id = decode_job_id::<B>(row, "id")?;
            append_event::<B>(&mut tx, &id, now, requeue.to(), Some(REQUEUED_MESSAGE)).await?;
            B::notify(&mut tx, &signal_of(&id, requeue.to())).await?;
            reaped.push(ReapedJob {
                job_id: id,
                now: requeue.to(),
            });
        }

        let fail = transitions::REAP_FAIL;
        let failed = sql::<B>(B::SQL.fail_expired)
            .bind(now)
            .bind(i64::from(max_attempts))
            .bind(failure)
            .bind(WORKER_LOST_MESSAGE)
            .bind(fail.to().as_str())
            .bind(fail.only_source().as_str())
            .fetch_all(&mut *tx, "fail jobs with expired leases")
            .await?;
        for row in &failed {
            let id = decode_job_id::<B>(row, "id")?;
            append_event::<B>(&mut tx, &id, now, fail.to(), Some(WORKER_LOST_MESSAGE)).await?;
            B::notify(&mut tx, &signal_of(&id, fail.to())).await?;
            reaped.push(ReapedJob {
                job_id: id,
                now: fail.to(),
            });
        }

        commit::<B>(tx).await?;
        Ok(reaped)
    }

    async fn running_job_ids(&self) -> Result<Vec<JobId>, StoreError> {
        let rows = sql::<B>(B::SQL.running_job_ids)
            .fetch_all(self.backend.reader(), "list running jobs")
            .await?;
        rows.iter()
            .map(|row| decode_job_id::<B>(row, "id"))
            .collect()
    }

    async fn claim_callback(
        &self,
        owner: &str,
        lease_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<DueCallback>, StoreError> {
        let mut tx = self.backend.begin_write().await?;
        let row = sql::<B>(B::SQL.claim_callback)
            .bind(owner.to_owned())
            .bind(micros(lease_until))
            .bind(micros(now))
            .fetch_optional(&mut *tx, "claim a callback")
            .await?;
        let due = row.as_ref().map(decode_due_callback::<B>).transpose()?;
        commit::<B>(tx).await?;
        Ok(due)
    }

    async fn finish_callback_try(
        &self,
        callback: &DueCallback,
        owner: &str,
        outcome: &CallbackOutcome,
        detail: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = micros(now);
        let (delivered, next_attempt, given_up) = match outcome {
            CallbackOutcome::Delivered => (Some(now), now, None),
            CallbackOutcome::RetryAt(at) => (None, micros(*at), None),
            CallbackOutcome::GivenUp => (None, now, Some(now)),
        };
        let mut tx = self.backend.begin_write().await?;
        let done = sql::<B>(B::SQL.finish_callback_try)
            .bind(callback.id)
            .bind(owner.to_owned())
            .bind(delivered)
            .bind(next_attempt)
            .bind(given_up)
            .execute(&mut *tx, "record a callback try")
            .await?;
        if B::rows_affected(&done) != 1 {
            rollback::<B>(tx).await?;
            return Ok(false);
        }
        sql::<B>(B::SQL.insert_callback_attempt)
            .bind(callback.id)
            .bind(B::Int::from(callback.tries as i32))
            .bind(now)
            .bind(matches!(outcome, CallbackOutcome::Delivered))
            .bind(detail.to_owned())
            .execute(&mut *tx, "record a callback try")
            .await?;
        commit::<B>(tx).await?;
        Ok(true)
    }

    async fn job_callbacks(&self, id: &JobId) -> Result<Vec<CallbackRecord>, StoreError> {
        let rows = sql::<B>(B::SQL.job_callbacks)
            .bind(id.as_str().to_owned())
            .fetch_all(self.backend.reader(), "read a job's callbacks")
            .await?;
        let mut records: Vec<(i64, CallbackRecord)> = Vec::new();
        for row in &rows {
            let key: i64 = column::<B, _>(row, "id")?;
            if records.last().map(|(k, _)| *k) != Some(key) {
                records.push((key, decode_callback_record::<B>(row)?));
            }
            if let Some(number) = column::<B, Option<B::Int>>(row, "try")? {
                let record = &mut records.last_mut().expect("pushed above").1;
                record.tries.push(CallbackTry {
                    number: count_of::<B>(number, "try")?,
                    at: decode_time(column::<B, _>(row, "at")?, "at")?,
                    delivered: column::<B, _>(row, "try_delivered")?,
                    outcome: column::<B, _>(row, "outcome")?,
                });
            }
        }
        Ok(records.into_iter().map(|(_, record)| record).collect())
    }

    async fn record_provenance(
        &self,
        id: &JobId,
        worker: &WorkerId,
        record: &crate::provenance::ProvRecord,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.record_provenance)
            .bind(id.as_str().to_owned())
            .bind(worker.0.clone())
            .bind(to_json(record, "provenance record")?)
            .bind(micros(now))
            .execute(self.backend.writer(), "keep a job's provenance record")
            .await?;
        Ok(B::rows_affected(&done) == 1)
    }

    async fn job_provenance(
        &self,
        id: &JobId,
    ) -> Result<Option<crate::provenance::ProvRecord>, StoreError> {
        let row = sql::<B>(B::SQL.job_provenance)
            .bind(id.as_str().to_owned())
            .fetch_optional(self.backend.reader(), "read a job's provenance record")
            .await?;
        row.as_ref()
            .map(|row| {
                let text: String = column::<B, _>(row, "record")?;
                from_json(&text, "provenance record")
            })
            .transpose()
    }
}

/// The source statuses of `transition`, as the list bound for `status IN ...`.
fn sources<B: Backend>(transition: Transition) -> Result<B::List, StoreError> {
    let names = transition.from().iter().map(JobStatus::as_str).collect();
    B::list(names, "source statuses")
}

/// A status change a client or operator asks for (dismiss, requeue): a statement bound
/// with the job id, `message`, now and its transition, which changes the row only when
/// the job's status is one of the transition's sources.
struct OperatorChange {
    statement: &'static str,
    transition: Transition,
    message: &'static str,
    doing: &'static str,
}

/// Applies `change` in a write transaction of its own; when the row changed, appends its
/// event and tells other processes. Returns the job as it now is (`None`: no such job).
async fn change_and_read<B: Backend>(
    backend: &B,
    id: &JobId,
    change: OperatorChange,
    now: i64,
) -> Result<Option<Job>, StoreError> {
    let mut tx = backend.begin_write().await?;
    let done = sql::<B>(change.statement)
        .bind(id.as_str().to_owned())
        .bind(change.message)
        .bind(now)
        .bind(change.transition.to().as_str())
        .bind(sources::<B>(change.transition)?)
        .execute(&mut *tx, change.doing)
        .await?;
    if B::rows_affected(&done) == 1 {
        let status = change.transition.to();
        append_event::<B>(&mut tx, id, now, status, Some(change.message)).await?;
        B::notify(&mut tx, &signal_of(id, status)).await?;
    }
    let row = sql::<B>(B::SQL.get_job)
        .bind(id.as_str().to_owned())
        .fetch_optional(&mut *tx, change.doing)
        .await?;
    let job = row.as_ref().map(decode_job::<B>).transpose()?;
    commit::<B>(tx).await?;
    Ok(job)
}

/// Ends a fenced write (a worker's, on the job it holds): when its statement changed the
/// row, appends the event, tells other processes and commits (`true`); when it did not
/// (the worker no longer holds the lease), rolls back (`false`).
async fn finish_fenced_write<B: Backend>(
    mut tx: Tx<B>,
    done: &<B::Db as Database>::QueryResult,
    id: &JobId,
    now: i64,
    status: JobStatus,
    message: &str,
) -> Result<bool, StoreError> {
    if B::rows_affected(done) != 1 {
        rollback::<B>(tx).await?;
        return Ok(false);
    }
    append_event::<B>(&mut tx, id, now, status, Some(message)).await?;
    B::notify(&mut tx, &signal_of(id, status)).await?;
    commit::<B>(tx).await?;
    Ok(true)
}

/// What other processes hear of a job entering `status`: entering `accepted` (submitted,
/// retried, requeued) makes it claimable; anything else is a change.
fn signal_of(id: &JobId, status: JobStatus) -> StoreSignal {
    if status == JobStatus::Accepted {
        StoreSignal::WorkAvailable(id.clone())
    } else {
        StoreSignal::JobChanged(id.clone())
    }
}

/// Appends one `job_events` row inside the transaction that changed the status.
async fn append_event<B: Backend>(
    tx: &mut Tx<B>,
    id: &JobId,
    at: i64,
    status: JobStatus,
    message: Option<&str>,
) -> Result<(), StoreError> {
    sql::<B>(B::SQL.insert_event)
        .bind(id.as_str().to_owned())
        .bind(at)
        .bind(status.as_str())
        .bind(message.map(str::to_owned))
        .execute(&mut **tx, "append a job event")
        .await?;
    // The outbox: the callback this change makes due is written with it, so a crash after
    // the commit cannot lose it (see jobs::callbacks). Entering `accepted` (submission,
    // retry, requeue) is news to no subscriber: no statement on the submit path.
    if status == JobStatus::Accepted {
        return Ok(());
    }
    sql::<B>(B::SQL.enqueue_callback)
        .bind(id.as_str().to_owned())
        .bind(status.as_str())
        .bind(at)
        .execute(&mut **tx, "queue a callback")
        .await?;
    Ok(())
}

async fn commit<B: Backend>(tx: Tx<B>) -> Result<(), StoreError> {
    tx.commit()
        .await
        .map_err(|e| super::common::database("commit", e))
}

async fn rollback<B: Backend>(tx: Tx<B>) -> Result<(), StoreError> {
    tx.rollback()
        .await
        .map_err(|e| super::common::database("roll back", e))
}

/// Column `name` of `row`; a value that does not decode is corrupt data.
pub(super) fn column<B: Backend, T>(row: &Row<B>, name: &str) -> Result<T, StoreError>
where
    B::Db: Get<T>,
{
    <B::Db as Get<T>>::get(row, name).map_err(|e| corrupt(name, e))
}

/// An INTEGER column holding a count (attempts, tries, workers).
fn count_of<B: Backend>(value: B::Int, name: &str) -> Result<u32, StoreError> {
    TryInto::<u32>::try_into(value).map_err(|e| corrupt(name, e))
}

fn optional_time<B: Backend>(
    row: &Row<B>,
    name: &str,
) -> Result<Option<OffsetDateTime>, StoreError> {
    column::<B, Option<i64>>(row, name)?
        .map(|us| decode_time(us, name))
        .transpose()
}

fn time_of<B: Backend>(row: &Row<B>, name: &str) -> Result<OffsetDateTime, StoreError> {
    decode_time(column::<B, i64>(row, name)?, name)
}

fn decode_job<B: Backend>(row: &Row<B>) -> Result<Job, StoreError> {
    let process_id: String = column::<B, _>(row, "process_id")?;
    Ok(Job {
        id: decode_job_id::<B>(row, "id")?,
        process_id: ProcessId::parse(&process_id).map_err(|e| corrupt("process_id", e))?,
        status: decode_status::<B>(row, "status")?,
        message: column::<B, _>(row, "message")?,
        progress: column::<B, Option<B::Int>>(row, "progress")?
            .map(|p| TryInto::<u8>::try_into(p).map_err(|e| corrupt("progress", e)))
            .transpose()?,
        created: time_of::<B>(row, "created")?,
        started: optional_time::<B>(row, "started")?,
        finished: optional_time::<B>(row, "finished")?,
        updated: time_of::<B>(row, "updated")?,
        request: from_json(&column::<B, String>(row, "request")?, "request")?,
        results: decode_optional_json::<B, _>(row, "results")?,
        failure: decode_optional_json::<B, _>(row, "failure")?,
        attempt: count_of::<B>(column::<B, B::Int>(row, "attempt")?, "attempt")?,
        owner: column::<B, _>(row, "owner")?,
        parent: column::<B, Option<String>>(row, "parent_id")?
            .map(|id| JobId::parse(&id).map_err(|e| corrupt("parent_id", e)))
            .transpose()?,
        step: column::<B, _>(row, "step")?,
    })
}

fn decode_due_callback<B: Backend>(row: &Row<B>) -> Result<DueCallback, StoreError> {
    let count = |name: &str| count_of::<B>(column::<B, B::Int>(row, name)?, name);
    Ok(DueCallback {
        id: column::<B, _>(row, "id")?,
        job_id: decode_job_id::<B>(row, "job_id")?,
        status: decode_status::<B>(row, "status")?,
        attempt: count("attempt")?,
        uri: column::<B, _>(row, "uri")?,
        created: time_of::<B>(row, "created")?,
        tries: count("tries")?,
    })
}

fn decode_callback_record<B: Backend>(row: &Row<B>) -> Result<CallbackRecord, StoreError> {
    let delivered = optional_time::<B>(row, "delivered")?;
    let given_up = optional_time::<B>(row, "given_up")?;
    let next_attempt = if delivered.is_none() && given_up.is_none() {
        Some(time_of::<B>(row, "next_attempt")?)
    } else {
        None
    };
    Ok(CallbackRecord {
        status: decode_status::<B>(row, "status")?,
        attempt: count_of::<B>(column::<B, B::Int>(row, "attempt")?, "attempt")?,
        uri: column::<B, _>(row, "uri")?,
        created: time_of::<B>(row, "created")?,
        next_attempt,
        delivered,
        given_up,
        tries: Vec::new(),
    })
}

fn decode_worker_host<B: Backend>(row: &Row<B>) -> Result<WorkerHost, StoreError> {
    let count = |name: &str| count_of::<B>(column::<B, B::Int>(row, name)?, name);
    Ok(WorkerHost {
        id: column::<B, _>(row, "id")?,
        host: column::<B, _>(row, "host")?,
        workers: count("workers")?,
        cpus: column::<B, _>(row, "cpus")?,
        mem_mib: column::<B, _>(row, "mem_mib")?,
        disk_mib: column::<B, _>(row, "disk_mib")?,
        gpus: count("gpus")?,
        running: count("running")?,
        started: time_of::<B>(row, "started")?,
        seen: time_of::<B>(row, "seen")?,
        expires: time_of::<B>(row, "expires")?,
    })
}

fn decode_event<B: Backend>(row: &Row<B>) -> Result<JobEvent, StoreError> {
    Ok(JobEvent {
        job_id: decode_job_id::<B>(row, "job_id")?,
        at: time_of::<B>(row, "at")?,
        status: decode_status::<B>(row, "status")?,
        message: column::<B, _>(row, "message")?,
    })
}

fn decode_job_id<B: Backend>(row: &Row<B>, name: &str) -> Result<JobId, StoreError> {
    let text: String = column::<B, _>(row, name)?;
    JobId::parse(&text).map_err(|e| corrupt(name, e))
}

fn decode_status<B: Backend>(row: &Row<B>, name: &str) -> Result<JobStatus, StoreError> {
    let text: String = column::<B, _>(row, name)?;
    JobStatus::parse(&text).ok_or_else(|| corrupt(name, format!("unknown status {text:?}")))
}

fn decode_optional_json<B: Backend, T: serde::de::DeserializeOwned>(
    row: &Row<B>,
    name: &str,
) -> Result<Option<T>, StoreError> {
    column::<B, Option<String>>(row, name)?
        .map(|text| from_json(&text, name))
        .transpose()
}
