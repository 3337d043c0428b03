//! Jobs: one execution of a process, from acceptance to a final status.

use super::{JobId, ProcessId};
use seed::errors::JobFailure;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The five OGC job statuses. Transitions (the one rule, [`JobStatus::can_become`]):
/// accepted -> running -> successful | failed | dismissed; accepted -> dismissed | failed;
/// running -> accepted (a lost lease requeued by the reaper, or a failure retried);
/// successful | failed -> dismissed (a client withdraws a finished job and its results);
/// failed | dismissed -> accepted (an operator's requeue). Nothing leaves successful but a
/// dismissal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Accepted,
    Running,
    Successful,
    Failed,
    Dismissed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Accepted,
        JobStatus::Running,
        JobStatus::Successful,
        JobStatus::Failed,
        JobStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Accepted => "accepted",
            JobStatus::Running => "running",
            JobStatus::Successful => "successful",
            JobStatus::Failed => "failed",
            JobStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A final status: the job will not run again (only a dismissal may still follow a
    /// successful or failed one).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Successful | JobStatus::Failed | JobStatus::Dismissed
        )
    }

    /// The status every job starts in (`insert_job`).
    pub const INITIAL: JobStatus = JobStatus::Accepted;

    /// The state machine: whether `self -> next` is allowed. Every status write of the
    /// store is a [`Transition`] computed from this rule.
    pub const fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Accepted, Running)
                | (Accepted, Dismissed)
                | (Accepted, Failed)
                | (Running, Successful)
                | (Running, Failed)
                | (Running, Dismissed)
                | (Running, Accepted)
                | (Successful, Dismissed)
                | (Failed, Dismissed)
                | (Failed, Accepted)
                | (Dismissed, Accepted)
        )
    }

    /// Its bit in a [`StatusSet`].
    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of job statuses, usable in `const` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSet(u8);

impl StatusSet {
    pub const EMPTY: StatusSet = StatusSet(0);
    pub const ALL: StatusSet = StatusSet::of(&JobStatus::ALL);

    pub const fn of(statuses: &[JobStatus]) -> StatusSet {
        let mut bits = 0;
        let mut i = 0;
        while i < statuses.len() {
            bits |= statuses[i].bit();
            i += 1;
        }
        StatusSet(bits)
    }

    pub const fn contains(self, status: JobStatus) -> bool {
        self.0 & status.bit() != 0
    }

    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Its statuses, in [`JobStatus::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = JobStatus> {
        JobStatus::ALL
            .into_iter()
            .filter(move |s| self.contains(*s))
    }
}

/// One status write: a job in any status of [`from`](Transition::from) enters
/// [`to`](Transition::to). The only constructor, [`Transition::within`], takes the
/// sources from [`JobStatus::can_become`], so a transition the rule forbids cannot be
/// written down; the store binds `from` and `to` into its statements instead of spelling
/// statuses in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    from: StatusSet,
    to: JobStatus,
}

impl Transition {
    /// Entering `to` from every status of `scope` that may become `to`. `scope` is what
    /// the operation can see (a worker's writes only reach the job it holds, `running`;
    /// an operator's requeue only final jobs); the rule decides within it. Panics when no
    /// status of `scope` may become `to` (in a `const`, the build fails).
    pub const fn within(scope: StatusSet, to: JobStatus) -> Transition {
        let mut bits = 0;
        let mut i = 0;
        while i < JobStatus::ALL.len() {
            let from = JobStatus::ALL[i];
            if scope.contains(from) && from.can_become(to) {
                bits |= from.bit();
            }
            i += 1;
        }
        assert!(bits != 0, "no status of the scope may become the target");
        Transition {
            from: StatusSet(bits),
            to,
        }
    }

    /// The statuses the write changes.
    pub const fn from(self) -> StatusSet {
        self.from
    }

    /// The status it writes.
    pub const fn to(self) -> JobStatus {
        self.to
    }

    /// The one status it changes, for statements that scan by status (a claim, the
    /// reaper) and so bind a single value an index can use. Panics when there are several
    /// (in a `const`, the build fails).
    pub const fn only_source(self) -> JobStatus {
        assert!(self.from.len() == 1, "the transition has several sources");
        let mut i = 0;
        while !self.from.contains(JobStatus::ALL[i]) {
            i += 1;
        }
        JobStatus::ALL[i]
    }
}

/// How results are returned (OGC 1.0 `response`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseMode {
    #[default]
    Raw,
    Document,
}

/// How one output is returned (OGC 1.0 `transmissionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransmissionMode {
    #[default]
    Value,
    Reference,
}

/// One input value as the client sent it, already checked against the process description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum InputValue {
    /// A JSON value (json inputs; for file inputs, text content to write as the file).
    Inline {
        value: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// Base64 content of a file input.
    Base64 {
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// A reference the server fetches.
    Href {
        href: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// A file another job of this server produced (a workflow step's output feeding a
    /// later step): hard-linked into the job's inputs, not copied. Only the workflow
    /// driver writes these; no façade reads one from a client.
    JobOutput {
        job: JobId,
        /// The file's path under that job's outputs (as its results name it).
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
}

/// What the client asked for one output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputRequest {
    #[serde(default)]
    pub transmission_mode: TransmissionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// Callback URIs (OGC callback class).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscriber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_uri: Option<String>,
    /// The server's base URL as the submitting client saw it: callback bodies and their
    /// `monitor` link are written against it, whichever replica delivers them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// A validated execute request, stored with the job (protocol-neutral: the WPS façade builds
/// the same thing).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteRequest {
    /// Input id -> values (several only where `maxOccurs > 1`).
    pub inputs: BTreeMap<String, Vec<InputValue>>,
    /// Output id -> request; empty = every output, by value.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputRequest>,
    #[serde(default)]
    pub response: ResponseMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<Subscriber>,
    /// The graph an execute request with nested processes (OGC API Part 3) runs: the job
    /// is a workflow job of this graph rather than of a deployed workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Box<crate::workflow::Workflow>>,
    /// Set on the job of a workflow step that runs on a remote server: the workflow driver
    /// submits it there and follows it, no worker runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteCall>,
    /// The named workspace a successful job's files are published to instead of its
    /// process's `output_workspace` (a strike or scan rule's `output_workspace`). Only the
    /// server sets it: no façade reads one from a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_workspace: Option<String>,
}

/// What a remote step runs: which process, where, and which of its outputs are files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteCall {
    /// The `[remotes.<name>]` it runs on.
    pub remote: String,
    /// The process id there.
    pub process: String,
    /// Its outputs, `true` for a file (asked for by reference and fetched into the
    /// step's outputs), `false` for a json value.
    #[serde(default)]
    pub outputs: BTreeMap<String, bool>,
}

/// One produced output value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum OutputValue {
    /// A json output's value.
    Json { value: Value },
    /// A file published under the job, path relative to the job's output directory.
    File {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
        size_bytes: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Value>,
        /// Where the file was published too, when the process has an output workspace:
        /// results link it there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        published: Option<PublishedFile>,
    },
}

/// A job's output file as published to a named workspace (`crate::storage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedFile {
    pub workspace: String,
    /// Inside the workspace: `<process>/<yyyy>/<mm>/<dd>/<job id>/<file>`.
    pub path: String,
    pub sha256: String,
}

impl OutputValue {
    /// The media type the value is served with: JSON for json outputs; a file's declared
    /// type, else one guessed from its name, else `application/octet-stream`.
    pub fn media_type(&self) -> String {
        match self {
            OutputValue::Json { .. } => "application/json".to_string(),
            OutputValue::File {
                media_type: Some(m),
                ..
            } => m.clone(),
            OutputValue::File { path, .. } => mime_guess::from_path(path)
                .first()
                .map(|m| m.essence_str().to_string())
                .unwrap_or_else(|| "application/octet-stream".to_string()),
        }
    }
}

/// Output id -> values (a `multiple` file output has several; absent optional outputs are
/// missing from the map).
pub type JobResults = BTreeMap<String, Vec<OutputValue>>;

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub process_id: ProcessId,
    pub status: JobStatus,
    /// Human-readable status message (progress, the declared error, ...).
    pub message: Option<String>,
    pub progress: Option<u8>,
    pub created: OffsetDateTime,
    pub started: Option<OffsetDateTime>,
    pub finished: Option<OffsetDateTime>,
    pub updated: OffsetDateTime,
    pub request: ExecuteRequest,
    pub results: Option<JobResults>,
    pub failure: Option<JobFailure>,
    /// How many times a worker has claimed it (1 on the first run).
    pub attempt: u32,
    /// The user who submitted it; `None` for jobs submitted with authentication off.
    pub owner: Option<String>,
    /// The workflow job this job is a step of (`None`: submitted by a client).
    pub parent: Option<JobId>,
    /// Its step name in that workflow.
    pub step: Option<String>,
}

/// One entry of a job's audit trail (`job_events`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub job_id: JobId,
    pub at: OffsetDateTime,
    pub status: JobStatus,
    pub message: Option<String>,
}

/// A callback due for delivery, as claimed from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct DueCallback {
    /// Its key in the outbox.
    pub id: i64,
    pub job_id: JobId,
    /// The status the job entered, which made it due.
    pub status: JobStatus,
    /// The job's attempt then.
    pub attempt: u32,
    pub uri: String,
    /// When it became due.
    pub created: OffsetDateTime,
    /// This try's number (1 for the first).
    pub tries: u32,
}

impl DueCallback {
    /// The `Idempotency-Key` of its POSTs ([`callback_idempotency_key`]).
    pub fn idempotency_key(&self) -> String {
        callback_idempotency_key(&self.job_id, self.status, self.attempt)
    }
}

/// What a callback receiver uses to drop a duplicate: the same job, status and attempt is
/// the same news, whichever try or replica brings it.
pub fn callback_idempotency_key(job: &JobId, status: JobStatus, attempt: u32) -> String {
    format!("{job}:{}:{attempt}", status.as_str())
}

/// How one delivery try ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The receiver took it (2xx).
    Delivered,
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Too old to try again.
    GivenUp,
}

/// One try of a callback, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackTry {
    pub number: u32,
    pub at: OffsetDateTime,
    pub delivered: bool,
    /// What happened ("answered 200 OK", "connection refused", ...).
    pub outcome: String,
}

/// A job's callback and its tries, for the job's owner and operators.
#[derive(Debug, Clone, PartialEq)]
pub struct CallbackRecord {
    pub status: JobStatus,
    pub attempt: u32,
    pub uri: String,
    pub created: OffsetDateTime,
    /// When the next try is due; `None` once delivered or given up.
    pub next_attempt: Option<OffsetDateTime>,
    pub delivered: Option<OffsetDateTime>,
    pub given_up: Option<OffsetDateTime>,
    pub tries: Vec<CallbackTry>,
}

#[cfg(test)]
mod tests {
    use super::JobStatus::*;
    use super::{JobStatus, StatusSet, Transition};

    #[test]
    fn the_state_machine_only_moves_forward() {
        assert!(Accepted.can_become(Running));
        assert!(Running.can_become(Successful));
        assert!(Running.can_become(Accepted), "a lost lease requeues");
        assert!(!Successful.can_become(Running));
        assert!(!Failed.can_become(Successful));
        assert!(!Dismissed.can_become(Running));
        assert!(
            Successful.can_become(Dismissed),
            "a finished job can be withdrawn"
        );
        assert!(!Dismissed.can_become(Successful));
        assert!(!Accepted.can_become(Successful));
        for s in super::JobStatus::ALL {
            assert_eq!(super::JobStatus::parse(s.as_str()), Some(s));
        }
    }

    /// Every (from, to) pair, against the table written out by hand: a change of the
    /// rule must change this table too.
    #[test]
    fn the_rule_over_every_pair() {
        let allowed = [
            (Accepted, Running),
            (Accepted, Failed),
            (Accepted, Dismissed),
            (Running, Accepted),
            (Running, Successful),
            (Running, Failed),
            (Running, Dismissed),
            (Successful, Dismissed),
            (Failed, Accepted),
            (Failed, Dismissed),
            (Dismissed, Accepted),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        for status in JobStatus::ALL {
            assert!(!status.can_become(status), "{status:?} is no change");
        }
        assert_eq!(JobStatus::INITIAL, Accepted);
    }

    #[test]
    fn transitions_take_their_sources_from_the_rule_within_the_scope() {
        for to in JobStatus::ALL {
            for bits in 0..32u8 {
                let scope = StatusSet::of(
                    &JobStatus::ALL
                        .into_iter()
                        .filter(|s| bits & (1 << *s as u8) != 0)
                        .collect::<Vec<_>>(),
                );
                let sources: Vec<JobStatus> = scope.iter().filter(|s| s.can_become(to)).collect();
                let built = std::panic::catch_unwind(|| Transition::within(scope, to));
                match built {
                    Ok(transition) => {
                        assert_eq!(transition.to(), to);
                        assert_eq!(transition.from().iter().collect::<Vec<_>>(), sources);
                    }
                    Err(_) => assert!(sources.is_empty(), "{scope:?} -> {to:?}"),
                }
            }
        }
    }

    #[test]
    fn a_single_source_is_told_and_several_are_refused() {
        let claim = Transition::within(StatusSet::ALL, Running);
        assert_eq!(claim.only_source(), Accepted);
        let dismiss = Transition::within(StatusSet::ALL, Dismissed);
        assert_eq!(dismiss.from().len(), 4);
        assert!(std::panic::catch_unwind(|| dismiss.only_source()).is_err());
        assert!(StatusSet::EMPTY.is_empty());
        assert_eq!(StatusSet::ALL.iter().collect::<Vec<_>>(), JobStatus::ALL);
    }
}
