//! Every status write the store makes, each named with its [`Transition`]: from which
//! statuses to which. The sources are computed from the one rule,
//! [`JobStatus::can_become`](crate::domain::JobStatus::can_become), within what the
//! operation can reach (its scope); the store binds them and the target into the
//! statement (`SET status = <to>` and `status IN <from>`), so no SQL file spells the
//! statuses of a transition. A new status write adds a constant here and binds it the
//! same way.

use crate::domain::JobStatus::{Accepted, Dismissed, Failed, Running, Successful};
use crate::domain::{StatusSet, Transition};

/// What a worker's fenced writes reach: the job it holds, which is `running`.
const HELD: StatusSet = StatusSet::of(&[Running]);
/// Jobs still waiting or working.
const ACTIVE: StatusSet = StatusSet::of(&[Accepted, Running]);
/// Jobs that will not run again unless requeued.
const FINAL: StatusSet = StatusSet::of(&[Successful, Failed, Dismissed]);

/// `claim_next_job`: a waiting job starts.
pub const CLAIM: Transition = Transition::within(StatusSet::ALL, Running);
/// `retry_job`: the job's worker puts it back in the queue.
pub const RETRY: Transition = Transition::within(HELD, Accepted);
/// `complete_job`, succeeded.
pub const COMPLETE_SUCCEEDED: Transition = Transition::within(HELD, Successful);
/// `complete_job`, failed.
pub const COMPLETE_FAILED: Transition = Transition::within(HELD, Failed);
/// `dismiss_job`: whatever the job is doing, it is dismissed (a dismissed one is no change).
pub const DISMISS: Transition = Transition::within(StatusSet::ALL, Dismissed);
/// `dismiss_active_job`: only a waiting or running job is dismissed.
pub const DISMISS_ACTIVE: Transition = Transition::within(ACTIVE, Dismissed);
/// `requeue_job`: an operator starts a final job over (the rule leaves successful ones).
pub const REQUEUE: Transition = Transition::within(FINAL, Accepted);
/// `reap_expired_leases` with attempts left: back in the queue.
pub const REAP_REQUEUE: Transition = Transition::within(HELD, Accepted);
/// `reap_expired_leases` out of attempts: failed.
pub const REAP_FAIL: Transition = Transition::within(HELD, Failed);

/// The scans (a claim, the reaper) bind one status, which an index on `status` can use.
const _: () = {
    CLAIM.only_source();
    REAP_REQUEUE.only_source();
    REAP_FAIL.only_source();
};

/// Every status write, by name (for tests that go through each).
pub const ALL: [(&str, Transition); 9] = [
    ("claim", CLAIM),
    ("retry", RETRY),
    ("complete succeeded", COMPLETE_SUCCEEDED),
    ("complete failed", COMPLETE_FAILED),
    ("dismiss", DISMISS),
    ("dismiss active", DISMISS_ACTIVE),
    ("requeue", REQUEUE),
    ("reap requeue", REAP_REQUEUE),
    ("reap fail", REAP_FAIL),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::JobStatus;

    /// The sources of each write, written out: a change of the rule that changes what a
    /// store operation does shows here.
    #[test]
    fn each_write_changes_the_statuses_it_always_did() {
        let expected: [(&str, &[JobStatus], JobStatus); 9] = [
            ("claim", &[Accepted], Running),
            ("retry", &[Running], Accepted),
            ("complete succeeded", &[Running], Successful),
            ("complete failed", &[Running], Failed),
            (
                "dismiss",
                &[Accepted, Running, Successful, Failed],
                Dismissed,
            ),
            ("dismiss active", &[Accepted, Running], Dismissed),
            ("requeue", &[Failed, Dismissed], Accepted),
            ("reap requeue", &[Running], Accepted),
            ("reap fail", &[Running], Failed),
        ];
        for ((name, transition), (expected_name, from, to)) in ALL.iter().zip(expected) {
            assert_eq!(*name, expected_name);
            assert_eq!(transition.from().iter().collect::<Vec<_>>(), from, "{name}");
            assert_eq!(transition.to(), to, "{name}");
            for source in transition.from().iter() {
                assert!(source.can_become(to), "{name}: {source:?} -> {to:?}");
            }
        }
    }
}
