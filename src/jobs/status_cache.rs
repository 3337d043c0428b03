//! The jobs read lately, so that clients polling a job's status do not each cost a database
//! read. A job stays here for [`FRESH`] at most, and leaves at once when it is announced as
//! changed ([`super::JobService::announce`]: this server's workers and dismissals, and on
//! PostgreSQL every other replica's writes, heard through `LISTEN`). The freshness bounds
//! what no announcement reaches (a change made by `ades jobs` on SQLite, a notification
//! lost while the `LISTEN` connection reconnected).
//!
//! A read that began before a change must not put the older job back after the change's
//! announcement removed it: each job has a generation, counted up by every announcement,
//! and a read keeps what it read only when the generation it saw before reading is still
//! the job's.

use crate::domain::{Job, JobId};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a job read from the store is answered from memory when no change is heard.
pub const FRESH: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct StatusCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<JobId, Entry>,
    /// The next generation handed out. One sequence for every job, so an entry made anew
    /// (after an old one of the same job was dropped) never takes a generation an older
    /// read holds.
    next_generation: u64,
    /// When the entries nobody asked for lately were last dropped.
    pruned: Option<Instant>,
}

impl State {
    /// Drops the entries nobody asked for in [`FORGET_AFTER`], at most once per [`FRESH`]
    /// (not on every read: the walk is over every entry). Dropping one is always safe: a
    /// read whose entry is gone keeps nothing.
    fn prune(&mut self, now: Instant) {
        if self.pruned.is_some_and(|at| now.duration_since(at) < FRESH) {
            return;
        }
        self.entries
            .retain(|_, entry| now.duration_since(entry.asked) < FORGET_AFTER);
        self.pruned = Some(now);
    }
}

#[derive(Debug)]
struct Entry {
    generation: u64,
    job: Option<(Instant, Job)>,
    /// Last asked for: an entry nobody asked for lately is dropped.
    asked: Instant,
}

/// What a read must show to keep its result: the job's generation when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// Entries not asked for this long are dropped (with what they hold).
const FORGET_AFTER: Duration = Duration::from_secs(10);

impl StatusCache {
    /// The job as read less than [`FRESH`] ago and not changed since, or a ticket to keep
    /// what the caller is about to read.
    pub fn get(&self, id: &JobId) -> Result<Job, Ticket> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &JobId, now: Instant) -> Result<Job, Ticket> {
        let mut state = self.lock();
        // Here too, not only when a read is kept: asking for jobs that do not exist makes
        // entries that no keep would ever prune.
        state.prune(now);
        let State {
            entries,
            next_generation,
            ..
        } = &mut *state;
        let entry = entries.entry(id.clone()).or_insert_with(|| {
            *next_generation += 1;
            Entry {
                generation: *next_generation,
                job: None,
                asked: now,
            }
        });
        entry.asked = now;
        match &entry.job {
            Some((read, job)) if now.duration_since(*read) < FRESH => Ok(job.clone()),
            _ => Err(Ticket(entry.generation)),
        }
    }

    /// Keeps `job`, read with `ticket`, unless it was announced as changed meanwhile; drops
    /// the entries nobody asked for lately.
    pub fn keep(&self, ticket: Ticket, job: &Job) {
        self.keep_at(ticket, job, Instant::now());
    }

    fn keep_at(&self, ticket: Ticket, job: &Job, now: Instant) {
        let mut state = self.lock();
        state.prune(now);
        if let Some(entry) = state.entries.get_mut(&job.id) {
            if entry.generation == ticket.0 {
                entry.job = Some((now, job.clone()));
            }
        }
    }

    /// The store has no job `id`: nothing to keep of it.
    pub fn forget(&self, id: &JobId) {
        self.lock().entries.remove(id);
    }

    /// The job changed: forget what was read of it, and refuse what reads that began
    /// before now would keep.
    pub fn changed(&self, id: &JobId) {
        let mut state = self.lock();
        let State {
            entries,
            next_generation,
            ..
        } = &mut *state;
        if let Some(entry) = entries.get_mut(id) {
            *next_generation += 1;
            entry.generation = *next_generation;
            entry.job = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ExecuteRequest, JobStatus, ProcessId};

    fn job(id: &JobId, status: JobStatus) -> Job {
        let at = time::OffsetDateTime::UNIX_EPOCH;
        Job {
            id: id.clone(),
            process_id: ProcessId::parse("p").unwrap(),
            status,
            message: None,
            progress: None,
            created: at,
            started: None,
            finished: None,
            updated: at,
            request: ExecuteRequest::default(),
            results: None,
            failure: None,
            attempt: 0,
            owner: None,
            parent: None,
            step: None,
        }
    }

    #[test]
    fn a_job_read_is_answered_from_memory_until_stale() {
        let cache = StatusCache::default();
        let id = JobId::new();
        let start = Instant::now();
        let ticket = cache.get_at(&id, start).unwrap_err();
        cache.keep_at(ticket, &job(&id, JobStatus::Running), start);
        let cached = cache.get_at(&id, start + FRESH / 2).unwrap();
        assert_eq!(cached.status, JobStatus::Running);
        assert!(
            cache.get_at(&id, start + FRESH).is_err(),
            "stale: read again"
        );
    }

    #[test]
    fn a_change_forgets_the_job_and_refuses_a_read_that_began_before_it() {
        let cache = StatusCache::default();
        let id = JobId::new();
        let start = Instant::now();
        let ticket = cache.get_at(&id, start).unwrap_err();
        cache.keep_at(ticket, &job(&id, JobStatus::Running), start);
        cache.changed(&id);
        let before = cache.get_at(&id, start).unwrap_err();
        // The read that began before the next change ends after it: it keeps nothing.
        cache.changed(&id);
        cache.keep_at(before, &job(&id, JobStatus::Running), start);
        assert!(cache.get_at(&id, start).is_err());
        // A read that began after the change keeps what it read.
        let after = cache.get_at(&id, start).unwrap_err();
        cache.keep_at(after, &job(&id, JobStatus::Successful), start);
        assert_eq!(
            cache.get_at(&id, start).unwrap().status,
            JobStatus::Successful
        );
    }

    #[test]
    fn a_forgotten_entry_made_anew_refuses_an_older_read() {
        let cache = StatusCache::default();
        let id = JobId::new();
        let other = JobId::new();
        let start = Instant::now();
        let old = cache.get_at(&id, start).unwrap_err();
        // Nobody asks for `id` for a while: a keep of another job drops its entry.
        let later = start + FORGET_AFTER;
        let ticket = cache.get_at(&other, later).unwrap_err();
        cache.keep_at(ticket, &job(&other, JobStatus::Running), later);
        let fresh = cache.get_at(&id, later).unwrap_err();
        assert_ne!(old, fresh, "the new entry has a generation of its own");
        cache.keep_at(old, &job(&id, JobStatus::Running), later);
        assert!(
            cache.get_at(&id, later).is_err(),
            "the older read kept nothing"
        );
    }

    #[test]
    fn asking_for_jobs_that_do_not_exist_leaves_nothing_behind() {
        let cache = StatusCache::default();
        let start = Instant::now();
        let absent = JobId::new();
        let _ = cache.get_at(&absent, start);
        cache.forget(&absent);
        assert!(
            cache.lock().entries.is_empty(),
            "a job the store lacks is forgotten"
        );
        for _ in 0..100 {
            let _ = cache.get_at(&JobId::new(), start);
        }
        let _ = cache.get_at(&JobId::new(), start + FORGET_AFTER);
        assert_eq!(
            cache.lock().entries.len(),
            1,
            "unkept entries are pruned too"
        );
    }

    #[test]
    fn entries_nobody_asks_for_are_dropped() {
        let cache = StatusCache::default();
        let start = Instant::now();
        for _ in 0..100 {
            let id = JobId::new();
            let ticket = cache.get_at(&id, start).unwrap_err();
            cache.keep_at(ticket, &job(&id, JobStatus::Running), start);
        }
        let id = JobId::new();
        let later = start + FORGET_AFTER;
        let ticket = cache.get_at(&id, later).unwrap_err();
        cache.keep_at(ticket, &job(&id, JobStatus::Running), later);
        assert_eq!(cache.lock().entries.len(), 1);
    }
}
