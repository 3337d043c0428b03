//! The pool's entry in the store's worker list: what this host offers (workers, CPUs,
//! memory, GPUs), refreshed at every heartbeat and removed on an orderly stop. Submissions
//! are refused when no live pool could ever run the job, and `/health` lists the pools.
//!
//! A pool killed without warning leaves its entry, which stops counting once its
//! `expires` passes (one lease after the last heartbeat) and is forgotten an hour later.

use super::capacity::Capacity;
use crate::jobs::JobService;
use crate::store::WorkerHost;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Keeps one pool's entry fresh.
#[derive(Clone)]
pub struct HostRegistration {
    jobs: JobService,
    entry: WorkerHost,
    heartbeat: Duration,
    lease: Duration,
}

impl HostRegistration {
    /// The entry of pool `id`, running `workers` jobs at once within `capacity`.
    pub fn new(
        jobs: JobService,
        id: String,
        workers: usize,
        capacity: Capacity,
        heartbeat: Duration,
        lease: Duration,
    ) -> Self {
        let now = OffsetDateTime::now_utc();
        HostRegistration {
            jobs,
            entry: WorkerHost {
                id,
                host: host_name(),
                workers: u32::try_from(workers).unwrap_or(u32::MAX),
                cpus: capacity.cpus,
                mem_mib: capacity.mem_mib,
                disk_mib: capacity.disk_mib,
                gpus: capacity.gpus,
                running: 0,
                started: now,
                seen: now,
                expires: now,
            },
            heartbeat,
            lease,
        }
    }

    /// Writes the entry once, now.
    pub async fn refresh(&self) -> Result<(), crate::store::StoreError> {
        let now = OffsetDateTime::now_utc();
        let entry = WorkerHost {
            running: u32::try_from(self.jobs.running_here()).unwrap_or(u32::MAX),
            seen: now,
            expires: now + self.lease,
            ..self.entry.clone()
        };
        self.jobs.store().upsert_worker_host(&entry).await
    }

    /// Refreshes every heartbeat until `stop`, then removes the entry.
    pub async fn run(&self, stop: CancellationToken) {
        loop {
            if let Err(err) = self.refresh().await {
                tracing::warn!(error = %err, "cannot refresh this worker pool's entry");
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.heartbeat) => {}
            }
        }
        if let Err(err) = self.jobs.store().delete_worker_host(&self.entry.id).await {
            tracing::warn!(error = %err, "cannot remove this worker pool's entry; it expires by itself");
        }
    }
}

/// This machine's host name (`unknown` when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
