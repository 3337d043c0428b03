//! What this process lets its jobs use at once: each job reserves the CPUs, memory (its
//! `mem` plus its `sharedMem`: `/dev/shm` pages count against the container's memory), disk
//! (its `disk`, with `inputMultiplier` times the staged inputs) and GPUs its Seed manifest
//! allocates before its container starts and gives them back when it ends, so the jobs
//! running together never ask for more than the host has.
//!
//! Choices:
//! - Amounts are counted in whole units (milli-CPUs, KiB, GPUs), so reserving and releasing
//!   add up exactly whatever the fractions a manifest declares.
//! - A job whose request exceeds the whole capacity is refused at once ([`ReserveError::TooLarge`]):
//!   waiting would never help.
//! - Waiters are served first come, first served: a large job at the head of the line is not
//!   overtaken by smaller ones behind it (no starvation). Jobs that request nothing (no
//!   declared resources, or only unlimited ones) never wait.
//! - A reservation is a guard ([`Reservation`]): dropping it (normal end, panic, cancelled
//!   task) releases it.
//! - A capacity of `None` is no limit. [`fill_from_engine`] replaces `None` with what the
//!   engine reports, at start-up.

use super::executor::ProgressReporter;
use super::QueueSettings;
use crate::engine::ContainerRunner;
use seed::contract::Allocation;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

const MIB: f64 = 1024.0 * 1024.0;

/// How long [`fill_from_engine`] waits for the engine.
const ENGINE_INFO_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the host offers to jobs (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub cpus: Option<f64>,
    pub mem_mib: Option<f64>,
    /// Disk (MiB) for the jobs' workspaces.
    pub disk_mib: Option<f64>,
    pub gpus: u32,
}

impl Capacity {
    /// The capacity configured in `settings`.
    pub fn of(settings: &QueueSettings) -> Capacity {
        Capacity {
            cpus: settings.capacity_cpus,
            mem_mib: settings.capacity_mem_mib,
            disk_mib: settings.capacity_disk_mib,
            gpus: settings.capacity_gpus,
        }
    }
}

/// Fills the capacity `settings` leave unset (`capacity_cpus`, `capacity_mem_mib`) with the
/// engine's CPUs and memory ([`ContainerRunner::facts`]). When the engine cannot be asked
/// (within 10 s), they stay unset (no limit) and a warning is logged.
pub async fn fill_from_engine(
    mut settings: QueueSettings,
    engine: &dyn ContainerRunner,
) -> QueueSettings {
    if settings.capacity_cpus.is_some() && settings.capacity_mem_mib.is_some() {
        return settings;
    }
    let info = match tokio::time::timeout(ENGINE_INFO_LIMIT, engine.facts()).await {
        Ok(answer) => answer.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s",
            ENGINE_INFO_LIMIT.as_secs()
        )),
    };
    match info {
        Ok(info) => {
            if settings.capacity_cpus.is_none() {
                settings.capacity_cpus = info.cpus.filter(|n| *n > 0).map(|n| n as f64);
            }
            if settings.capacity_mem_mib.is_none() {
                settings.capacity_mem_mib = info
                    .memory_bytes
                    .filter(|b| *b > 0)
                    .map(|b| (b as f64 / MIB).floor());
            }
            tracing::info!(
                cpus = ?settings.capacity_cpus,
                mem_mib = ?settings.capacity_mem_mib,
                gpus = settings.capacity_gpus,
                "job capacity"
            );
        }
        Err(err) => tracing::warn!(
            error = %err,
            "cannot ask the engine for its CPUs and memory: jobs are not limited by them \
             (configure the capacity to limit them)"
        ),
    }
    settings
}

/// An amount of resources in whole units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Amount {
    millicpus: u64,
    mem_kib: u64,
    disk_kib: u64,
    gpus: u64,
}

impl Amount {
    fn is_zero(&self) -> bool {
        *self == Amount::default()
    }
}

fn millicpus(cpus: f64) -> u64 {
    (cpus.max(0.0) * 1000.0).ceil() as u64
}

fn kib(mib: f64) -> u64 {
    (mib.max(0.0) * 1024.0).ceil() as u64
}

/// Limits in whole units (`None`: no limit); also what is free of them.
#[derive(Debug, Clone, Copy)]
struct Limits {
    millicpus: Option<u64>,
    mem_kib: Option<u64>,
    disk_kib: Option<u64>,
    gpus: u64,
}

/// What a job's allocation asks for, in whole units: memory is its `mem` plus its
/// `sharedMem`.
fn amount_of(allocation: &Allocation) -> Amount {
    let mem = match (allocation.mem_mib, allocation.shared_mem_mib) {
        (None, None) => 0,
        (mem, shared) => kib(mem.unwrap_or(0.0) + shared.unwrap_or(0.0)),
    };
    Amount {
        millicpus: allocation.cpus.map(millicpus).unwrap_or(0),
        mem_kib: mem,
        disk_kib: allocation.disk_mib.map(kib).unwrap_or(0),
        gpus: u64::from(allocation.gpus.unwrap_or(0)),
    }
}

/// A job's request: only what is both declared and limited counts (an unlimited resource
/// never makes a job wait).
fn request_of(allocation: &Allocation, limits: &Limits) -> Amount {
    let asked = amount_of(allocation);
    let limited = |amount: u64, limit: Option<u64>| if limit.is_some() { amount } else { 0 };
    Amount {
        millicpus: limited(asked.millicpus, limits.millicpus),
        mem_kib: limited(asked.mem_kib, limits.mem_kib),
        disk_kib: limited(asked.disk_kib, limits.disk_kib),
        gpus: asked.gpus,
    }
}

fn fits(amount: u64, limit: Option<u64>) -> bool {
    limit.is_none_or(|limit| amount <= limit)
}

/// Why no reservation was made.
#[derive(Debug, Clone, PartialEq)]
pub enum ReserveError {
    /// The request exceeds the whole capacity; the text says what was asked, what there is
    /// and what to change.
    TooLarge(String),
    /// Cancelled while waiting.
    Cancelled,
}

/// The reservation pool of one process, shared by its workers.
#[derive(Clone)]
pub struct ResourcePool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    limits: Limits,
    /// Counts the jobs in the line (`ades_jobs_waiting_for_resources`).
    metrics: crate::metrics::Metrics,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
    used: Amount,
    /// Tickets of the waiting jobs, first come first.
    line: VecDeque<u64>,
    next_ticket: u64,
}

impl State {
    fn free(&self, limits: &Limits) -> Limits {
        let left = |limit: Option<u64>, used: u64| limit.map(|l| l.saturating_sub(used));
        Limits {
            millicpus: left(limits.millicpus, self.used.millicpus),
            mem_kib: left(limits.mem_kib, self.used.mem_kib),
            disk_kib: left(limits.disk_kib, self.used.disk_kib),
            gpus: limits.gpus.saturating_sub(self.used.gpus),
        }
    }

    fn fits(&self, request: &Amount, limits: &Limits) -> bool {
        let free = self.free(limits);
        fits(request.millicpus, free.millicpus)
            && fits(request.mem_kib, free.mem_kib)
            && fits(request.disk_kib, free.disk_kib)
            && request.gpus <= free.gpus
    }

    fn take(&mut self, request: &Amount) {
        self.used.millicpus += request.millicpus;
        self.used.mem_kib += request.mem_kib;
        self.used.disk_kib += request.disk_kib;
        self.used.gpus += request.gpus;
    }
}

/// Resources held by a running job; released when dropped.
#[must_use = "the resources are released when the reservation is dropped"]
pub struct Reservation {
    pool: Option<Arc<PoolInner>>,
    amount: Amount,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        {
            let mut state = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            state.used.millicpus -= self.amount.millicpus;
            state.used.mem_kib -= self.amount.mem_kib;
            state.used.disk_kib -= self.amount.disk_kib;
            state.used.gpus -= self.amount.gpus;
        }
        pool.changed.notify_waiters();
    }
}

/// A place in the line; leaving it (served, cancelled, dropped) removes it, and uncounts
/// it from the metrics.
struct Ticket<'a> {
    pool: &'a PoolInner,
    number: u64,
    _counted: crate::metrics::ResourceWait,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
            state.line.retain(|t| *t != self.number);
        }
        // The head of the line may have changed.
        self.pool.changed.notify_waiters();
    }
}

impl ResourcePool {
    /// A pool of `capacity` whose waiting jobs `metrics` counts.
    pub fn new(capacity: Capacity, metrics: crate::metrics::Metrics) -> ResourcePool {
        ResourcePool {
            inner: Arc::new(PoolInner {
                metrics,
                limits: Limits {
                    millicpus: capacity.cpus.map(millicpus),
                    mem_kib: capacity.mem_mib.map(kib),
                    disk_kib: capacity.disk_mib.map(kib),
                    gpus: u64::from(capacity.gpus),
                },
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    /// Reserves what `allocation` asks for, waiting (first come, first served) until it fits;
    /// reports "waiting for resources: ..." to `progress` while it waits. Refuses at once a
    /// request larger than the whole capacity; gives up when `cancel` fires.
    pub async fn reserve(
        &self,
        allocation: &Allocation,
        cancel: &CancellationToken,
        progress: &dyn ProgressReporter,
    ) -> Result<Reservation, ReserveError> {
        let inner = &*self.inner;
        let limits = inner.limits;
        let request = request_of(allocation, &limits);
        if request.is_zero() {
            return Ok(Reservation {
                pool: None,
                amount: request,
            });
        }
        let whole = State::default();
        if !whole.fits(&request, &limits) {
            return Err(ReserveError::TooLarge(too_large(&request, &limits)));
        }
        let ticket = {
            let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.line.is_empty() && state.fits(&request, &limits) {
                state.take(&request);
                return Ok(self.reservation(request));
            }
            let number = state.next_ticket;
            state.next_ticket += 1;
            state.line.push_back(number);
            Ticket {
                pool: inner,
                number,
                _counted: inner.metrics.resource_wait(),
            }
        };
        let mut reported = String::new();
        loop {
            let changed = inner.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a release between the look and the wait is seen.
            changed.as_mut().enable();
            let waiting = {
                let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.line.front() == Some(&ticket.number) && state.fits(&request, &limits) {
                    state.take(&request);
                    state.line.pop_front();
                    None
                } else {
                    Some(waiting_message(&request, state.free(&limits)))
                }
            };
            let Some(message) = waiting else {
                // The next in line may fit too (dropping the ticket tells it).
                drop(ticket);
                return Ok(self.reservation(request));
            };
            if message != reported {
                progress.report(&message).await;
                reported = message;
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(ReserveError::Cancelled),
                _ = &mut changed => {}
            }
        }
    }

    fn reservation(&self, amount: Amount) -> Reservation {
        Reservation {
            pool: Some(self.inner.clone()),
            amount,
        }
    }
}

/// `1 cpu`, `0.5 cpus`, `2 cpus`.
fn cpus_text(millicpus: u64) -> String {
    let cpus = millicpus as f64 / 1000.0;
    if millicpus == 1000 {
        "1 cpu".to_string()
    } else {
        format!("{cpus} cpus")
    }
}

fn mem_text(kib: u64) -> String {
    let mib = (kib as f64 / 1024.0 * 10.0).round() / 10.0;
    format!("{mib} MiB")
}

fn gpus_text(gpus: u64) -> String {
    if gpus == 1 {
        "1 gpu".to_string()
    } else {
        format!("{gpus} gpus")
    }
}

fn disk_text(kib: u64) -> String {
    format!("{} disk", mem_text(kib))
}

/// The resources of `request` that `keep` selects, as (asked, available) texts: CPUs,
/// memory, disk and GPUs, in that order.
fn compare(
    request: &Amount,
    available: &Limits,
    keep: impl Fn(u64, Option<u64>) -> bool,
) -> (Vec<String>, Vec<String>) {
    let rows = [
        (
            request.millicpus,
            available.millicpus,
            cpus_text as fn(u64) -> String,
        ),
        (request.mem_kib, available.mem_kib, mem_text),
        (request.disk_kib, available.disk_kib, disk_text),
        (request.gpus, Some(available.gpus), gpus_text),
    ];
    let mut asked = Vec::new();
    let mut has = Vec::new();
    for (amount, limit, text) in rows {
        if let Some(limit) = limit.filter(|_| keep(amount, limit)) {
            asked.push(text(amount));
            has.push(text(limit));
        }
    }
    (asked, has)
}

/// "waiting for resources: needs 2 cpus, 1024 MiB; free 1 cpu, 3000 MiB" (only what the job
/// asks for and is limited).
fn waiting_message(request: &Amount, free: Limits) -> String {
    let (needs, have) = compare(request, &free, |amount, _| amount > 0);
    format!(
        "waiting for resources: needs {}; free {}",
        needs.join(", "),
        have.join(", ")
    )
}

/// What a job asked for beyond the whole capacity, and what to change.
fn too_large(request: &Amount, limits: &Limits) -> String {
    let (asked, has) = compare(request, limits, |amount, limit| {
        limit.is_some_and(|limit| amount > limit)
    });
    format!(
        "The job asks for {} but this server gives its jobs at most {} in all, so it can \
         never run here. Lower the resources in the process's Seed manifest, or raise the \
         server's configured job capacity (queue.capacity_cpus, capacity_mem_mib, \
         capacity_disk_mib, capacity_gpus).",
        asked.join(", "),
        has.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::time::Duration;

    #[derive(Default)]
    struct Messages(Mutex<Vec<String>>);

    #[async_trait]
    impl ProgressReporter for Messages {
        async fn report(&self, message: &str) {
            self.0.lock().unwrap().push(message.to_string());
        }
    }

    fn pool(cpus: f64, mem_mib: f64, gpus: u32) -> ResourcePool {
        ResourcePool::new(
            Capacity {
                cpus: Some(cpus),
                mem_mib: Some(mem_mib),
                disk_mib: None,
                gpus,
            },
            crate::metrics::Metrics::new(),
        )
    }

    fn ask(cpus: f64, mem_mib: f64) -> Allocation {
        Allocation {
            cpus: Some(cpus),
            mem_mib: Some(mem_mib),
            ..Allocation::default()
        }
    }

    async fn reserve(pool: &ResourcePool, allocation: &Allocation) -> Reservation {
        tokio::time::timeout(
            Duration::from_secs(5),
            pool.reserve(allocation, &CancellationToken::new(), &Messages::default()),
        )
        .await
        .expect("no wait")
        .expect("reserved")
    }

    fn used(pool: &ResourcePool) -> Amount {
        pool.inner.state.lock().unwrap().used
    }

    /// `ades_jobs_waiting_for_resources` as `metrics` renders it.
    fn waiting(metrics: &crate::metrics::Metrics) -> String {
        let text = metrics.render(&crate::metrics::Readings::default());
        text.lines()
            .find_map(|l| l.strip_prefix("ades_jobs_waiting_for_resources "))
            .unwrap_or_else(|| panic!("no waiting gauge in\n{text}"))
            .to_string()
    }

    #[tokio::test]
    async fn the_jobs_in_the_line_are_counted_until_served_or_cancelled() {
        let metrics = crate::metrics::Metrics::new();
        let pool = ResourcePool::new(
            Capacity {
                cpus: Some(1.0),
                mem_mib: None,
                disk_mib: None,
                gpus: 0,
            },
            metrics.clone(),
        );
        let first = reserve(&pool, &ask(1.0, 0.0)).await;
        assert_eq!(waiting(&metrics), "0", "a job served at once never waits");
        let cancel = CancellationToken::new();
        let spawn_waiter = |cancel: CancellationToken| {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.reserve(&ask(1.0, 0.0), &cancel, &Messages::default())
                    .await
                    .map(drop)
            })
        };
        let served = spawn_waiter(CancellationToken::new());
        let cancelled = spawn_waiter(cancel.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while waiting(&metrics) != "2" {
            assert!(
                std::time::Instant::now() < deadline,
                "{}",
                waiting(&metrics)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.cancel();
        assert_eq!(
            cancelled.await.unwrap().err(),
            Some(ReserveError::Cancelled)
        );
        assert_eq!(waiting(&metrics), "1");
        drop(first);
        served.await.unwrap().unwrap();
        assert_eq!(waiting(&metrics), "0");
    }

    #[tokio::test]
    async fn requests_that_fit_are_reserved_at_once() {
        let pool = pool(2.0, 1024.0, 0);
        let a = reserve(&pool, &ask(0.5, 512.0)).await;
        let b = reserve(&pool, &ask(1.5, 512.0)).await;
        assert_eq!(
            used(&pool),
            Amount {
                millicpus: 2000,
                mem_kib: 1024 * 1024,
                disk_kib: 0,
                gpus: 0
            }
        );
        drop((a, b));
        assert!(used(&pool).is_zero());
    }

    #[tokio::test]
    async fn shared_memory_counts_as_memory_and_disk_is_reserved_too() {
        let pool = ResourcePool::new(
            Capacity {
                cpus: None,
                mem_mib: Some(1024.0),
                disk_mib: Some(100.0),
                gpus: 0,
            },
            crate::metrics::Metrics::new(),
        );
        let job = Allocation {
            mem_mib: Some(256.0),
            shared_mem_mib: Some(256.0),
            disk_mib: Some(60.0),
            ..Allocation::default()
        };
        let first = reserve(&pool, &job).await;
        assert_eq!(
            used(&pool),
            Amount {
                millicpus: 0,
                mem_kib: 512 * 1024,
                disk_kib: 60 * 1024,
                gpus: 0
            }
        );
        // Memory is left for a second one, disk is not: it waits, saying so.
        let messages = Messages::default();
        let cancel = CancellationToken::new();
        let waiting = pool.reserve(&job, &cancel, &messages);
        let timed_out = tokio::time::timeout(Duration::from_millis(100), waiting).await;
        assert!(timed_out.is_err());
        assert_eq!(
            messages.0.lock().unwrap().as_slice(),
            ["waiting for resources: needs 512 MiB, 60 MiB disk; free 512 MiB, 40 MiB disk"]
        );
        drop(first);
        // More disk than there is at all is refused at once, naming the setting.
        let huge = Allocation {
            disk_mib: Some(200.0),
            ..Allocation::default()
        };
        let refused = pool
            .reserve(&huge, &CancellationToken::new(), &Messages::default())
            .await
            .err()
            .unwrap();
        let ReserveError::TooLarge(text) = refused else {
            panic!("{refused:?}")
        };
        assert!(
            text.contains("200 MiB disk") && text.contains("100 MiB disk"),
            "{text}"
        );
        assert!(text.contains("capacity_disk_mib"), "{text}");
    }

    #[tokio::test]
    async fn jobs_without_resources_or_with_unlimited_ones_reserve_nothing() {
        let pool = pool(1.0, 100.0, 0);
        let _all = reserve(&pool, &ask(1.0, 100.0)).await;
        let _free = reserve(&pool, &Allocation::default()).await;
        let unlimited = ResourcePool::new(
            Capacity {
                cpus: None,
                mem_mib: None,
                disk_mib: None,
                gpus: 0,
            },
            crate::metrics::Metrics::new(),
        );
        let _big = reserve(&unlimited, &ask(1000.0, 1e9)).await;
        assert!(used(&unlimited).is_zero());
    }

    #[tokio::test]
    async fn a_request_waits_until_enough_is_released_and_says_why() {
        let pool = pool(2.0, 4096.0, 0);
        let first = reserve(&pool, &ask(1.0, 1096.0)).await;
        let messages = Arc::new(Messages::default());
        let waiting = tokio::spawn({
            let pool = pool.clone();
            let messages = messages.clone();
            async move {
                pool.reserve(
                    &ask(2.0, 1024.0),
                    &CancellationToken::new(),
                    messages.as_ref(),
                )
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        assert_eq!(
            messages.0.lock().unwrap().as_slice(),
            ["waiting for resources: needs 2 cpus, 1024 MiB; free 1 cpu, 3000 MiB"]
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("served once released")
            .unwrap()
            .unwrap();
        assert_eq!(used(&pool).millicpus, 2000);
        drop(second);
        assert!(used(&pool).is_zero());
    }

    #[tokio::test]
    async fn waiters_are_served_first_come_first_served() {
        let pool = pool(1.0, 1000.0, 0);
        let holder = reserve(&pool, &ask(1.0, 10.0)).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // A large request first, then small ones that would fit earlier: they wait behind it.
        for (n, cpus) in [(0, 1.0), (1, 0.25), (2, 0.25)] {
            let pool = pool.clone();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                let held = pool
                    .reserve(
                        &ask(cpus, 10.0),
                        &CancellationToken::new(),
                        &Messages::default(),
                    )
                    .await
                    .unwrap();
                order.lock().unwrap().push(n);
                tokio::time::sleep(Duration::from_millis(30)).await;
                drop(held);
            }));
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert!(order.lock().unwrap().is_empty());
        drop(holder);
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert!(used(&pool).is_zero());
    }

    #[tokio::test]
    async fn a_request_larger_than_the_capacity_is_refused_at_once() {
        let pool = pool(2.0, 1024.0, 0);
        let refused = pool
            .reserve(
                &ask(4.0, 512.0),
                &CancellationToken::new(),
                &Messages::default(),
            )
            .await
            .err()
            .unwrap();
        let ReserveError::TooLarge(text) = refused else {
            panic!("{refused:?}")
        };
        assert!(text.contains("asks for 4 cpus"), "{text}");
        assert!(text.contains("at most 2 cpus"), "{text}");
        assert!(text.contains("Seed manifest"), "{text}");
        assert!(text.contains("capacity"), "{text}");
        let gpus = Allocation {
            gpus: Some(1),
            ..Allocation::default()
        };
        let refused = pool
            .reserve(&gpus, &CancellationToken::new(), &Messages::default())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&refused, ReserveError::TooLarge(t) if t.contains("1 gpu but") && t.contains("at most 0 gpus")),
            "no GPUs unless configured: {refused:?}"
        );
    }

    #[tokio::test]
    async fn a_dropped_reservation_is_released_even_after_a_panic() {
        let pool = pool(1.0, 100.0, 1);
        let task = tokio::spawn({
            let pool = pool.clone();
            async move {
                let _held = pool
                    .reserve(
                        &Allocation {
                            gpus: Some(1),
                            ..ask(1.0, 100.0)
                        },
                        &CancellationToken::new(),
                        &Messages::default(),
                    )
                    .await
                    .unwrap();
                panic!("the job panics");
            }
        });
        assert!(task.await.unwrap_err().is_panic());
        assert!(used(&pool).is_zero());
        let _again = reserve(&pool, &ask(1.0, 100.0)).await;
    }

    #[tokio::test]
    async fn cancelling_a_waiter_gives_up_its_place() {
        let pool = pool(1.0, 100.0, 0);
        let holder = reserve(&pool, &ask(1.0, 10.0)).await;
        let cancel = CancellationToken::new();
        let waiting = tokio::spawn({
            let pool = pool.clone();
            let cancel = cancel.clone();
            async move {
                pool.reserve(&ask(1.0, 10.0), &cancel, &Messages::default())
                    .await
                    .err()
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
        let refused = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("cancellation ends the wait")
            .unwrap();
        assert_eq!(refused, Some(ReserveError::Cancelled));
        assert!(pool.inner.state.lock().unwrap().line.is_empty());
        drop(holder);
        // The line is free: the next request is served at once.
        let _next = reserve(&pool, &ask(1.0, 10.0)).await;
    }
}
