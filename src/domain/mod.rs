//! The domain model shared by every façade: processes (built once from a Seed manifest) and
//! jobs. `api/` renders these as OGC API JSON, later `wps/` as XML; neither talks to the
//! store or Docker directly.

mod ids;
mod job;
mod process;

pub use ids::{IdError, JobId, ProcessId, WorkerId};
pub use job::{
    callback_idempotency_key, CallbackOutcome, CallbackRecord, CallbackTry, DueCallback,
    ExecuteRequest, InputValue, Job, JobEvent, JobResults, JobStatus, OutputRequest, OutputValue,
    PublishedFile, RemoteCall, ResponseMode, StatusSet, Subscriber, Transition, TransmissionMode,
};
pub use process::{
    Binding, InputDescription, InputKind, JobControlOption, Metadata, OutputDescription,
    OutputKind, Process, RemoteBinding, SeedBinding,
};
