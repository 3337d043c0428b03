//! How many jobs this server runs at once. The pool has `queue.workers` workers (the
//! ceiling); each takes a [`Permit`] from the one [`Concurrency`] gate before it claims a
//! job and holds it until the job ends, so the gate's limit is the number of jobs in flight.
//!
//! With `queue.adaptive` (the default) the limit finds the engine's pace by itself: it
//! starts at `queue.start_workers` and, after each window of finished jobs, compares the
//! window's throughput (jobs ended per second) with the one before:
//!
//! - it rises by one while throughput rises (and every few steady windows it tries one
//!   more, since the pace of the jobs themselves may have changed);
//! - it falls by one when throughput fell after a rise (that rise did not pay);
//! - it halves when a job in the window failed in the engine (the engine is struggling);
//! - it never rises while the host's available memory is under a tenth of its total, and
//!   falls by one while it is under a twentieth;
//! - it changes only when the limit was what held jobs back (all permits busy while jobs
//!   waited): an idle queue teaches nothing about the engine.
//!
//! The Seed resource accounting (`capacity.rs`) still decides whether a job's CPUs and
//! memory fit; the gate only decides how many jobs are in flight. Without `adaptive`, the
//! limit is `queue.workers`, as before.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Windows shorter than this say more about chance than about the engine.
const MIN_WINDOW: Duration = Duration::from_secs(1);

/// Steady windows after which the limit tries one more job in flight.
const PROBE_AFTER: u32 = 5;

/// A change of throughput smaller than this share is noise.
const RISE: f64 = 1.05;
const FALL: f64 = 0.90;

/// The gate every worker of a pool passes before it claims a job.
#[derive(Debug)]
pub struct Concurrency {
    state: Mutex<State>,
    released: Notify,
    ceiling: usize,
    adaptive: bool,
    /// Where the host's available memory is read (a seam for the tests).
    memory: fn() -> Option<MemoryShare>,
    /// Where the limit is shown (`ades_jobs_concurrency_limit`), for a server's pool.
    metrics: Option<crate::metrics::Metrics>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_use: usize,
    window: Window,
    /// Throughput of the last complete window, jobs per second.
    previous: Option<f64>,
    last_step: Step,
    steady_windows: u32,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    ended_jobs: u32,
    engine_errors: u32,
    /// The limit held a claimed job back: every permit was busy right after a claim.
    saturated: bool,
}

impl Window {
    fn new(now: Instant) -> Self {
        Window {
            started: now,
            ended_jobs: 0,
            engine_errors: 0,
            saturated: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    None,
    Raised,
    Lowered,
}

/// How much of the host's memory is available, as a share of its total.
#[derive(Debug, Clone, Copy)]
pub struct MemoryShare(pub f64);

/// One job in flight; dropping it frees the place.
#[derive(Debug)]
pub struct Permit {
    gate: Arc<Concurrency>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.in_use = state.in_use.saturating_sub(1);
        drop(state);
        self.gate.released.notify_waiters();
    }
}

impl Concurrency {
    /// `workers` jobs at once, always.
    pub fn fixed(workers: usize) -> Arc<Self> {
        Arc::new(Concurrency::new(workers, workers, false, host_memory))
    }

    /// The gate of a server's pool: adaptive from `settings.start_workers` up to
    /// `settings.workers` with `settings.adaptive`, else fixed at `settings.workers`; its
    /// limit shown in `metrics`.
    pub fn for_pool(
        settings: &super::QueueSettings,
        metrics: crate::metrics::Metrics,
    ) -> Arc<Self> {
        let mut gate = if settings.adaptive {
            Concurrency::new(settings.start_workers, settings.workers, true, host_memory)
        } else {
            Concurrency::new(settings.workers, settings.workers, false, host_memory)
        };
        metrics.concurrency_limit(gate.lock().limit);
        gate.metrics = Some(metrics);
        Arc::new(gate)
    }

    fn new(
        start: usize,
        ceiling: usize,
        adaptive: bool,
        memory: fn() -> Option<MemoryShare>,
    ) -> Self {
        let ceiling = ceiling.max(1);
        Concurrency {
            state: Mutex::new(State {
                limit: start.clamp(1, ceiling),
                in_use: 0,
                window: Window::new(Instant::now()),
                previous: None,
                last_step: Step::None,
                steady_windows: 0,
            }),
            released: Notify::new(),
            ceiling,
            adaptive,
            memory,
            metrics: None,
        }
    }

    /// Jobs this server runs at once now.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// The most it may ever run at once (`queue.workers`).
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Waits for a place for one more job.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = self.lock();
                if state.in_use < state.limit {
                    state.in_use += 1;
                    return Permit { gate: self.clone() };
                }
            }
            released.await;
        }
    }

    /// The holder of a permit claimed a job: when that took the last place, the limit is
    /// what holds further jobs back.
    pub fn claimed(&self) {
        let mut state = self.lock();
        if state.in_use >= state.limit {
            state.window.saturated = true;
        }
    }

    /// A job ended; `engine_error` when the engine failed it (not the job's own failure).
    pub fn job_ended(&self, engine_error: bool) {
        self.job_ended_at(engine_error, Instant::now());
    }

    fn job_ended_at(&self, engine_error: bool, now: Instant) {
        if !self.adaptive {
            return;
        }
        let mut state = self.lock();
        state.window.ended_jobs += 1;
        if engine_error {
            state.window.engine_errors += 1;
        }
        let elapsed = now.duration_since(state.window.started);
        // A window holds at least as many ended jobs as are in flight, so that slow jobs are
        // judged on whole rounds, not on the one that happened to end first.
        let enough = state.window.ended_jobs as usize >= state.limit.max(2);
        if elapsed < MIN_WINDOW || !enough {
            return;
        }
        let before = state.limit;
        self.adjust(&mut state, elapsed);
        state.window = Window::new(now);
        let after = state.limit;
        drop(state);
        if after != before {
            tracing::info!(from = before, to = after, "jobs run at once adapted");
            if let Some(metrics) = &self.metrics {
                metrics.concurrency_limit(after);
            }
        }
        if after > before {
            self.released.notify_waiters();
        }
    }

    /// One decision at the end of a window.
    fn adjust(&self, state: &mut State, elapsed: Duration) {
        let throughput = f64::from(state.window.ended_jobs) / elapsed.as_secs_f64();
        let previous = state.previous.replace(throughput);
        let memory = (self.memory)();
        if state.window.engine_errors > 0 {
            state.limit = (state.limit / 2).max(1);
            state.last_step = Step::Lowered;
            state.steady_windows = 0;
            return;
        }
        if memory.is_some_and(|m| m.0 < 0.05) {
            self.step_down(state);
            return;
        }
        if !state.window.saturated {
            // The queue did not fill the places there are: nothing to learn.
            state.last_step = Step::None;
            return;
        }
        let memory_allows = memory.is_none_or(|m| m.0 >= 0.10);
        let rising = previous.is_none_or(|p| throughput > p * RISE);
        let falling = previous.is_some_and(|p| throughput < p * FALL);
        if falling && state.last_step == Step::Raised {
            self.step_down(state);
        } else if rising && state.last_step != Step::Lowered && memory_allows {
            self.step_up(state);
        } else {
            state.steady_windows += 1;
            state.last_step = Step::None;
            if state.steady_windows >= PROBE_AFTER && memory_allows {
                self.step_up(state);
            }
        }
    }

    fn step_up(&self, state: &mut State) {
        state.steady_windows = 0;
        if state.limit < self.ceiling {
            state.limit += 1;
            state.last_step = Step::Raised;
        } else {
            state.last_step = Step::None;
        }
    }

    fn step_down(&self, state: &mut State) {
        state.steady_windows = 0;
        state.limit = state.limit.saturating_sub(1).max(1);
        state.last_step = Step::Lowered;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The host's available memory as a share of its total (`/proc/meminfo`), where there is
/// one to read.
fn host_memory() -> Option<MemoryShare> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let total = field("MemTotal:")?;
    let available = field("MemAvailable:")?;
    (total > 0.0).then(|| MemoryShare(available / total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plenty() -> Option<MemoryShare> {
        Some(MemoryShare(0.5))
    }

    fn scarce() -> Option<MemoryShare> {
        Some(MemoryShare(0.08))
    }

    fn exhausted() -> Option<MemoryShare> {
        Some(MemoryShare(0.02))
    }

    /// One window of `jobs` ended jobs (at least the limit) over `secs` seconds (at least
    /// one) from `*clock`, with every place busy (saturated) or not: all but the last end
    /// at once, the last closes the window.
    fn window(gate: &Concurrency, clock: &mut Instant, jobs: u32, secs: f64, saturated: bool) {
        gate.lock().window.saturated = saturated;
        let start = *clock;
        for _ in 1..jobs {
            gate.job_ended_at(false, start);
        }
        *clock = start + Duration::from_secs_f64(secs);
        gate.job_ended_at(false, *clock);
    }

    fn gate(start: usize, ceiling: usize, memory: fn() -> Option<MemoryShare>) -> Concurrency {
        Concurrency::new(start, ceiling, true, memory)
    }

    fn start_clock(gate: &Concurrency) -> Instant {
        gate.lock().window.started
    }

    #[test]
    fn the_limit_rises_while_throughput_rises_and_stops_at_the_ceiling() {
        let gate = gate(2, 4, plenty);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 4, 2.0, true);
        assert_eq!(gate.limit(), 3, "a first saturated window raises");
        window(&gate, &mut clock, 6, 2.0, true);
        assert_eq!(gate.limit(), 4, "3 -> 2 jobs/s: still rising");
        window(&gate, &mut clock, 8, 2.0, true);
        assert_eq!(gate.limit(), 4, "never above the ceiling");
    }

    #[test]
    fn a_rise_that_lowers_throughput_is_taken_back() {
        let gate = gate(2, 8, plenty);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 10, 2.0, true);
        assert_eq!(gate.limit(), 3);
        window(&gate, &mut clock, 6, 2.0, true);
        assert_eq!(gate.limit(), 2, "5 -> 3 jobs/s after a rise: back down");
        window(&gate, &mut clock, 6, 2.0, true);
        assert_eq!(gate.limit(), 2, "steady after a fall: hold");
    }

    #[test]
    fn steady_throughput_holds_then_probes_one_more() {
        let gate = gate(3, 8, plenty);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 6, 2.0, true);
        assert_eq!(gate.limit(), 4);
        for _ in 0..PROBE_AFTER - 1 {
            window(&gate, &mut clock, 6, 2.0, true);
            assert_eq!(gate.limit(), 4, "flat throughput holds");
        }
        window(&gate, &mut clock, 6, 2.0, true);
        assert_eq!(
            gate.limit(),
            5,
            "after {PROBE_AFTER} steady windows it probes"
        );
    }

    #[test]
    fn an_engine_error_halves_the_limit() {
        let gate = gate(6, 8, plenty);
        let mut clock = start_clock(&gate);
        clock += Duration::from_secs(2);
        gate.job_ended_at(true, clock);
        for _ in 0..5 {
            clock += Duration::from_millis(10);
            gate.job_ended_at(false, clock);
        }
        assert_eq!(gate.limit(), 3);
    }

    #[test]
    fn an_idle_queue_changes_nothing() {
        let gate = gate(2, 8, plenty);
        let mut clock = start_clock(&gate);
        for _ in 0..10 {
            window(&gate, &mut clock, 4, 2.0, false);
        }
        assert_eq!(gate.limit(), 2);
    }

    #[test]
    fn scarce_memory_stops_rises_and_exhausted_memory_lowers() {
        let gate = gate(2, 8, scarce);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 4, 2.0, true);
        window(&gate, &mut clock, 8, 2.0, true);
        assert_eq!(gate.limit(), 2, "under a tenth available: no rise");
        let gate = Concurrency::new(4, 8, true, exhausted);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 4, 2.0, true);
        assert_eq!(gate.limit(), 3, "under a twentieth available: down");
    }

    #[test]
    fn a_fixed_gate_never_moves() {
        let gate = Concurrency::new(3, 3, false, plenty);
        let mut clock = start_clock(&gate);
        window(&gate, &mut clock, 10, 2.0, true);
        assert_eq!(gate.limit(), 3);
    }

    #[tokio::test]
    async fn permits_hold_places_and_free_them_when_dropped() {
        let gate = Arc::new(Concurrency::new(2, 2, false, plenty));
        let first = gate.acquire().await;
        let _second = gate.acquire().await;
        let third = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "a third waits while two are held");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), third)
            .await
            .expect("a dropped permit lets the waiting one in")
            .unwrap();
    }

    #[test]
    fn host_memory_reads_a_share() {
        if let Some(MemoryShare(share)) = host_memory() {
            assert!(share > 0.0 && share <= 1.0, "{share}");
        }
    }
}
