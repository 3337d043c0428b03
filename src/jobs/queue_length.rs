//! The queue's length as the bound on queued jobs (`queue.max_queued`) sees it, without
//! counting the queue at every submission.
//!
//! Counting the waiting jobs is a scan of the queue's index: at thousands of submissions a
//! second, with tens of thousands waiting, that scan was most of a submission's cost. Far
//! from the bound an estimate serves as well: the count as last read (at most
//! [`FRESH`] old) plus this server's own submissions since. Near the bound (within
//! [`NEAR`] of it) every submission counts again, so the bound holds as exactly as
//! before where it matters; other replicas' submissions of the last [`FRESH`] are the
//! only thing the estimate can miss, and only far from the bound.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How old a count may be before it is read again.
pub const FRESH: Duration = Duration::from_millis(250);

/// Within this fraction of the bound, the queue is counted at every submission.
const NEAR: f64 = 0.1;

#[derive(Debug, Default)]
pub struct QueueLength {
    last: Mutex<Option<(Instant, u64)>>,
}

impl QueueLength {
    /// The estimate, when there is one fresh enough and far enough below `limit`; `None`
    /// means: count the queue now and [`QueueLength::counted`] the result.
    pub fn estimate(&self, limit: u64, now: Instant) -> Option<u64> {
        let (read, count) = (*self.last.lock().expect("lock"))?;
        let margin = ((limit as f64) * NEAR).ceil() as u64;
        let fresh = now.saturating_duration_since(read) < FRESH;
        (fresh && count.saturating_add(margin) < limit).then_some(count)
    }

    /// Records a count just read.
    pub fn counted(&self, count: u64, now: Instant) {
        *self.last.lock().expect("lock") = Some((now, count));
    }

    /// One more job queued by this server since the count.
    pub fn submitted(&self) {
        if let Some((_, count)) = self.last.lock().expect("lock").as_mut() {
            *count = count.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_estimated_before_a_count() {
        assert_eq!(QueueLength::default().estimate(100, Instant::now()), None);
    }

    #[test]
    fn a_fresh_count_far_from_the_bound_is_reused_with_this_servers_submissions() {
        let length = QueueLength::default();
        let t0 = Instant::now();
        length.counted(10, t0);
        length.submitted();
        length.submitted();
        assert_eq!(
            length.estimate(100, t0 + Duration::from_millis(100)),
            Some(12)
        );
    }

    #[test]
    fn an_old_count_is_read_again() {
        let length = QueueLength::default();
        let t0 = Instant::now();
        length.counted(10, t0);
        assert_eq!(length.estimate(100, t0 + FRESH), None);
    }

    #[test]
    fn near_the_bound_the_queue_is_counted_every_time() {
        let length = QueueLength::default();
        let t0 = Instant::now();
        length.counted(89, t0);
        assert_eq!(length.estimate(100, t0), Some(89));
        length.submitted();
        // 90 + a margin of 10 reaches the bound of 100.
        assert_eq!(length.estimate(100, t0), None);
        // A small bound is always counted: its margin is at least one job.
        length.counted(0, t0);
        assert_eq!(length.estimate(1, t0), None);
    }
}
