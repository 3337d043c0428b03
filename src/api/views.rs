//! The JSON documents of the OGC API (Part 1 1.0 shapes), built from the domain model.
//! Each is a `*View` with a `utoipa` schema so the OpenAPI document describes exactly what
//! is sent.

use crate::domain::{
    InputDescription, Job, JobControlOption, JobStatus, Metadata, OutputDescription, Process,
    ResponseMode,
};
use crate::http::BaseUrl;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Link relations of OGC API - Processes 1.0.
pub mod rel {
    pub const CONFORMANCE: &str = "http://www.opengis.net/def/rel/ogc/1.0/conformance";
    pub const PROCESSES: &str = "http://www.opengis.net/def/rel/ogc/1.0/processes";
    pub const JOB_LIST: &str = "http://www.opengis.net/def/rel/ogc/1.0/job-list";
    pub const EXECUTE: &str = "http://www.opengis.net/def/rel/ogc/1.0/execute";
    pub const RESULTS: &str = "http://www.opengis.net/def/rel/ogc/1.0/results";
    pub const EXCEPTIONS: &str = "http://www.opengis.net/def/rel/ogc/1.0/exceptions";
    /// Not registered by OGC yet: Part 2's `GET /processes/{id}/package`.
    pub const PACKAGE: &str = "http://www.opengis.net/def/rel/ogc/1.0/package";
    /// From a workflow step's job to its workflow job (ours).
    pub const WORKFLOW: &str = "urn:ades:rel:workflow";
    /// From a workflow job to the job of each of its steps (ours).
    pub const STEP: &str = "urn:ades:rel:step";
}

/// Media types the API uses.
pub mod media {
    pub const JSON: &str = "application/json";
    pub const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.0";
    pub const HTML: &str = "text/html";
    pub const TEXT: &str = "text/plain; charset=utf-8";
}

/// The conformance classes implemented (Part 1 and 2 1.0 URIs; Part 3 is a draft, `0.0`).
pub const CONFORMANCE_CLASSES: [&str; 14] = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/deploy-replace-undeploy",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/ogcapppkg",
    "http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/docker",
    "http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/nested-processes",
    "http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/remote-core-processes",
    "http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/deployable-workflows",
];

/// A link (`link.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Link)]
pub struct LinkView {
    pub href: String,
    pub rel: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub title: Option<String>,
}

impl LinkView {
    pub fn new(href: impl Into<String>, rel: impl Into<String>) -> Self {
        LinkView {
            href: href.into(),
            rel: rel.into(),
            media_type: None,
            title: None,
        }
    }

    pub fn typed(mut self, media_type: impl Into<String>) -> Self {
        self.media_type = Some(media_type.into());
        self
    }

    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

/// The landing page (`landingPage.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = LandingPage)]
pub struct LandingPageView {
    pub title: String,
    pub description: String,
    pub links: Vec<LinkView>,
}

/// The conformance declaration (`confClasses.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ConfClasses)]
pub struct ConfClassesView {
    #[serde(rename = "conformsTo")]
    pub conforms_to: Vec<String>,
}

/// How a process may be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[schema(as = JobControlOptions)]
pub enum JobControlOptionView {
    SyncExecute,
    AsyncExecute,
    Dismiss,
}

impl From<JobControlOption> for JobControlOptionView {
    fn from(option: JobControlOption) -> Self {
        match option {
            JobControlOption::SyncExecute => JobControlOptionView::SyncExecute,
            JobControlOption::AsyncExecute => JobControlOptionView::AsyncExecute,
            JobControlOption::Dismiss => JobControlOptionView::Dismiss,
        }
    }
}

/// How an output may be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = TransmissionMode)]
pub enum TransmissionModeView {
    Value,
    Reference,
}

/// A `metadata` entry.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Metadata)]
pub struct MetadataView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub href: Option<String>,
}

impl From<&Metadata> for MetadataView {
    fn from(m: &Metadata) -> Self {
        MetadataView {
            title: m.title.clone(),
            role: m.role.clone(),
            href: m.href.clone(),
        }
    }
}

/// A process summary (`processSummary.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ProcessSummary)]
pub struct ProcessSummaryView {
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<MetadataView>,
    pub job_control_options: Vec<JobControlOptionView>,
    pub output_transmission: Vec<TransmissionModeView>,
    /// Whether the process may be replaced and undeployed (OGC API Part 2): `true` for
    /// deployed processes, `false` for built-in ones.
    pub mutable: bool,
    pub links: Vec<LinkView>,
}

impl ProcessSummaryView {
    pub fn new(process: &Process, base: &BaseUrl) -> Self {
        let href = base.join(&format!("/processes/{}", process.id));
        ProcessSummaryView {
            id: process.id.to_string(),
            version: process.version.clone(),
            title: process.title.clone(),
            description: process.description.clone(),
            keywords: process.keywords.clone(),
            metadata: process.metadata.iter().map(MetadataView::from).collect(),
            job_control_options: process
                .job_control_options
                .iter()
                .map(|&o| o.into())
                .collect(),
            output_transmission: vec![TransmissionModeView::Value, TransmissionModeView::Reference],
            mutable: process.mutable,
            links: vec![LinkView::new(href, "self")
                .typed(media::JSON)
                .titled(format!("Description of {}", process.id))],
        }
    }
}

/// `maxOccurs`: a number or `"unbounded"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = MaxOccurs)]
pub enum MaxOccursView {
    Bounded(u32),
    #[schema(value_type = String, example = "unbounded")]
    Unbounded(Unbounded),
}

/// The literal `"unbounded"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
pub struct Unbounded;

impl Serialize for Unbounded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("unbounded")
    }
}

/// An input of a process description (`inputDescription.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = InputDescription)]
pub struct InputDescriptionView {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    pub min_occurs: u32,
    pub max_occurs: MaxOccursView,
    /// The JSON schema of one value (OpenAPI 3.0 flavour, `schema.yaml`).
    #[schema(value_type = Object)]
    pub schema: Value,
}

impl From<&InputDescription> for InputDescriptionView {
    fn from(input: &InputDescription) -> Self {
        InputDescriptionView {
            title: input.title.clone(),
            description: input.description.clone(),
            min_occurs: input.min_occurs,
            max_occurs: match input.max_occurs {
                Some(n) => MaxOccursView::Bounded(n),
                None => MaxOccursView::Unbounded(Unbounded),
            },
            schema: input.schema.clone(),
        }
    }
}

/// An output of a process description (`outputDescription.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OutputDescription)]
pub struct OutputDescriptionView {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    /// The JSON schema of the output's value.
    #[schema(value_type = Object)]
    pub schema: Value,
}

impl From<&OutputDescription> for OutputDescriptionView {
    fn from(output: &OutputDescription) -> Self {
        OutputDescriptionView {
            title: output.title.clone(),
            description: output.description.clone(),
            schema: output.schema.clone(),
        }
    }
}

/// A map that keeps its insertion order when serialized (inputs and outputs are listed in
/// the order the process declares them; clients such as the OGC test suite take the first
/// input in document order).
#[derive(Debug, Clone)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A process description (`process.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Process)]
pub struct ProcessView {
    #[serde(flatten)]
    pub summary: ProcessSummaryView,
    /// Input id -> description, in the process's order.
    #[schema(value_type = std::collections::BTreeMap<String, InputDescriptionView>)]
    pub inputs: OrderedMap<InputDescriptionView>,
    /// Output id -> description, in the process's order.
    #[schema(value_type = std::collections::BTreeMap<String, OutputDescriptionView>)]
    pub outputs: OrderedMap<OutputDescriptionView>,
}

impl ProcessView {
    pub fn new(process: &Process, base: &BaseUrl) -> Self {
        let mut summary = ProcessSummaryView::new(process, base);
        let href = base.join(&format!("/processes/{}", process.id));
        summary.links = vec![
            LinkView::new(href.clone(), "self")
                .typed(media::JSON)
                .titled("This description"),
            LinkView::new(format!("{href}/execution"), rel::EXECUTE)
                .titled(format!("Execute {}", process.id)),
            LinkView::new(base.join("/processes"), "up")
                .typed(media::JSON)
                .titled("The process list"),
        ];
        if process.mutable {
            summary.links.push(
                LinkView::new(format!("{href}/package"), rel::PACKAGE)
                    .titled("The package this process was deployed with"),
            );
        }
        ProcessView {
            summary,
            inputs: OrderedMap(
                process
                    .inputs
                    .iter()
                    .map(|i| (i.id.clone(), InputDescriptionView::from(i)))
                    .collect(),
            ),
            outputs: OrderedMap(
                process
                    .outputs
                    .iter()
                    .map(|o| (o.id.clone(), OutputDescriptionView::from(o)))
                    .collect(),
            ),
        }
    }
}

/// The process list (`processList.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ProcessList)]
pub struct ProcessListView {
    pub processes: Vec<ProcessSummaryView>,
    pub links: Vec<LinkView>,
}

/// A job status (`statusCode.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = StatusCode)]
pub enum StatusCodeView {
    Accepted,
    Running,
    Successful,
    Failed,
    Dismissed,
}

impl From<JobStatus> for StatusCodeView {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Accepted => StatusCodeView::Accepted,
            JobStatus::Running => StatusCodeView::Running,
            JobStatus::Successful => StatusCodeView::Successful,
            JobStatus::Failed => StatusCodeView::Failed,
            JobStatus::Dismissed => StatusCodeView::Dismissed,
        }
    }
}

/// The kind of job: always `process` (jobs created through OGC API - Processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobType)]
pub enum JobTypeView {
    Process,
}

/// The status of a job (`statusInfo.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = StatusInfo)]
pub struct StatusInfoView {
    #[serde(rename = "processID")]
    pub process_id: String,
    #[serde(rename = "type")]
    pub job_type: JobTypeView,
    #[serde(rename = "jobID")]
    pub job_id: String,
    pub status: StatusCodeView,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub finished: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub updated: Option<String>,
    /// Percent done, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    pub progress: Option<u8>,
    pub links: Vec<LinkView>,
}

impl StatusInfoView {
    /// The same document with a link to the job of each step of a workflow job.
    pub fn with_steps(mut self, steps: &[Job], base: &BaseUrl) -> Self {
        for step in steps {
            self.links.push(
                LinkView::new(base.job(step.id.as_str()), rel::STEP)
                    .typed(media::JSON)
                    .titled(format!(
                        "Step {} ({})",
                        step.step.as_deref().unwrap_or("?"),
                        step.status.as_str()
                    )),
            );
        }
        self
    }
}

/// RFC 3339 with the precision the store keeps.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

impl StatusInfoView {
    pub fn new(job: &Job, base: &BaseUrl) -> Self {
        let href = base.job(job.id.as_str());
        let mut links = vec![
            LinkView::new(href.clone(), "self")
                .typed(media::JSON)
                .titled("This status"),
            LinkView::new(base.join("/jobs"), "up")
                .typed(media::JSON)
                .titled("The job list"),
        ];
        if !job.status.is_final() {
            // The OGC test suite polls only documents that carry a status or results link.
            links.push(
                LinkView::new(href.clone(), "status")
                    .typed(media::JSON)
                    .titled("Poll this document for the job's status"),
            );
        }
        match job.status {
            JobStatus::Successful => links.push(
                LinkView::new(format!("{href}/results"), rel::RESULTS)
                    .typed(results_media_type(job))
                    .titled("The results"),
            ),
            JobStatus::Failed => links.push(
                LinkView::new(format!("{href}/results"), rel::EXCEPTIONS)
                    .typed(media::JSON)
                    .titled("Why the job failed"),
            ),
            _ => {}
        }
        let ended = matches!(job.status, JobStatus::Successful | JobStatus::Failed);
        if ended && job.started.is_some() {
            // Recorded when the run ends. (A job dismissed after it ended keeps its record,
            // but the status cannot tell it from one dismissed mid-run, which has none.)
            links.push(
                LinkView::new(format!("{href}/prov"), super::prov::HAS_PROVENANCE)
                    .typed(media::JSON)
                    .titled("What produced the job's outputs (W3C PROV-JSON; PROV-N: ?f=provn)"),
            );
        }
        if job.started.is_some() {
            links.push(
                LinkView::new(format!("{href}/logs"), "related")
                    .typed(media::TEXT)
                    .titled("The container's log"),
            );
        }
        links.push(
            LinkView::new(
                base.join(&format!("/processes/{}", job.process_id)),
                "process",
            )
            .typed(media::JSON)
            .titled("The process"),
        );
        if let Some(parent) = &job.parent {
            links.push(
                LinkView::new(base.job(parent.as_str()), rel::WORKFLOW)
                    .typed(media::JSON)
                    .titled(format!(
                        "The workflow job this is step {} of",
                        job.step.as_deref().unwrap_or("?")
                    )),
            );
        }
        StatusInfoView {
            process_id: job.process_id.to_string(),
            job_type: JobTypeView::Process,
            job_id: job.id.to_string(),
            status: job.status.into(),
            message: job.message.clone(),
            created: Some(rfc3339(job.created)),
            started: job.started.map(rfc3339),
            finished: job.finished.map(rfc3339),
            updated: Some(rfc3339(job.updated)),
            progress: job.progress.map(|p| p.min(100)),
            links,
        }
    }
}

/// What `GET /jobs/{id}/results` answers with for this job (best effort, for the link's
/// `type`): JSON for a results document, `multipart/related` for several raw values.
fn results_media_type(job: &Job) -> String {
    if job.request.response == ResponseMode::Document {
        return media::JSON.to_string();
    }
    super::results::raw_media_type(job).unwrap_or_else(|| media::JSON.to_string())
}

/// The job list (`jobList.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = JobList)]
pub struct JobListView {
    pub jobs: Vec<StatusInfoView>,
    pub links: Vec<LinkView>,
}

/// The health of the server (`GET /health`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Health)]
pub struct HealthView {
    /// `ok` when the database answers, else `unavailable`.
    pub status: String,
    pub database: DatabaseHealthView,
    pub engine: EngineHealthView,
    /// Processes offered.
    pub processes: usize,
    /// Seed images found but not offered, with why.
    pub skipped_images: Vec<SkippedImageView>,
    /// Jobs waiting to run (`accepted`), over every replica.
    pub queued_jobs: u64,
    /// The worker pools sharing the database (`ades serve` with workers, `ades worker`),
    /// live or lately gone.
    pub workers: Vec<WorkerHealthView>,
}

/// A worker pool as it last reported itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = WorkerHealth)]
pub struct WorkerHealthView {
    /// The pool's id (the prefix of its workers' lease ids).
    pub id: String,
    pub host: String,
    /// `live`, or `lost` once it missed its heartbeats for a lease period (its running
    /// jobs are requeued and taken over).
    pub state: String,
    /// Jobs it runs at once, and ran at its last heartbeat.
    pub workers: u32,
    pub running: u32,
    /// CPUs, memory (MiB), disk (MiB) and GPUs its jobs may use at once (absent: no
    /// limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub mem_mib: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub disk_mib: Option<f64>,
    pub gpus: u32,
    /// RFC 3339 times it started and was last seen.
    pub started: String,
    pub last_seen: String,
}

/// Whether the database answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DatabaseHealth)]
pub struct DatabaseHealthView {
    pub ok: bool,
}

/// Whether the container engine could be reached at the last scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = EngineHealth)]
pub struct EngineHealthView {
    pub reachable: bool,
    /// Why it is not reachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
}

/// A Seed image that is not offered.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SkippedImage)]
pub struct SkippedImageView {
    pub image: String,
    pub reason: String,
}

// ---- documentation-only schemas (the execute body is parsed by hand, execute.rs) ----------

/// The execute request (`execute.yaml`, 1.0).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Execute)]
pub struct ExecuteView {
    /// Input id -> a value, a qualified value `{"value", "mediaType", "encoding"}` (also
    /// with a nested `"format": {"mediaType", "encoding"}`), a link `{"href", "type"}`, a
    /// bounding box `{"bbox", "crs"}`, or an array of these where `maxOccurs > 1`. File
    /// inputs take text, base64 (`"encoding": "base64"`, or a bare string when the media
    /// type is not textual) or a link; objects must be wrapped as `{"value": {...}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Object)]
    pub inputs: Option<Value>,
    /// Output id -> `{"transmissionMode": "value"|"reference", "format": {"mediaType"}}`;
    /// absent or empty = every output, by value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = std::collections::BTreeMap<String, OutputView>)]
    pub outputs: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub response: Option<ResponseModeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub subscriber: Option<SubscriberView>,
}

/// `raw` (default) or `document`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ResponseMode)]
pub enum ResponseModeView {
    Raw,
    Document,
}

/// One requested output (`output.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Output)]
pub struct OutputView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub format: Option<FormatView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transmission_mode: Option<TransmissionModeView>,
}

/// A format (`format.yaml`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Format)]
pub struct FormatView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub encoding: Option<String>,
}

/// Callback URIs (`subscriber.yaml`): the server POSTs the results document to
/// `successUri`, the status to `inProgressUri` once the job runs, and the exception to
/// `failedUri` when it fails or is dismissed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Subscriber)]
pub struct SubscriberView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub success_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub in_progress_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failed_uri: Option<String>,
}

/// Results (`results.yaml`): output id -> a value, a qualified value `{"value",
/// "mediaType", "encoding"}` or a link `{"href", "type"}` (arrays for outputs with several
/// files).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Results, value_type = Object)]
pub struct ResultsView(pub serde_json::Map<String, Value>);

/// The callbacks of a job (`GET /jobs/{jobID}/callbacks`): each one due, and every try to
/// deliver it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CallbackList)]
pub struct CallbackListView {
    pub callbacks: Vec<CallbackView>,
}

/// One callback: the news (the status the job entered, on which attempt), where it goes
/// (without its query string, which may hold the receiver's token) and how delivery went.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Callback)]
pub struct CallbackView {
    /// The status the job entered: `running` (inProgressUri), `successful` (successUri),
    /// `failed` or `dismissed` (failedUri).
    pub status: String,
    /// The job's attempt then.
    pub attempt: u32,
    /// The value of the `Idempotency-Key` header every try carried.
    pub idempotency_key: String,
    pub uri: String,
    /// When it became due.
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_up: Option<String>,
    pub tries: Vec<CallbackTryView>,
}

/// One delivery try.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CallbackTry)]
pub struct CallbackTryView {
    #[serde(rename = "try")]
    pub number: u32,
    pub at: String,
    pub delivered: bool,
    /// "answered 204 No Content", "answered 503 Service Unavailable", "connection refused", ...
    pub outcome: String,
}

impl CallbackListView {
    pub fn new(job: &crate::domain::JobId, records: &[crate::domain::CallbackRecord]) -> Self {
        let callbacks = records
            .iter()
            .map(|r| CallbackView {
                status: r.status.as_str().to_string(),
                attempt: r.attempt,
                idempotency_key: crate::domain::callback_idempotency_key(job, r.status, r.attempt),
                uri: crate::outbound::shown(&r.uri),
                created: rfc3339(r.created),
                next_attempt: r.next_attempt.map(rfc3339),
                delivered: r.delivered.map(rfc3339),
                given_up: r.given_up.map(rfc3339),
                tries: r
                    .tries
                    .iter()
                    .map(|t| CallbackTryView {
                        number: t.number,
                        at: rfc3339(t.at),
                        delivered: t.delivered,
                        outcome: t.outcome.clone(),
                    })
                    .collect(),
            })
            .collect();
        CallbackListView { callbacks }
    }
}

impl WorkerHealthView {
    /// A pool as it last reported itself: `live` while its heartbeats hold at `now`.
    pub fn of(host: crate::store::WorkerHost, now: OffsetDateTime) -> Self {
        WorkerHealthView {
            state: if host.expires > now { "live" } else { "lost" }.to_string(),
            started: rfc3339(host.started),
            last_seen: rfc3339(host.seen),
            id: host.id,
            host: host.host,
            workers: host.workers,
            running: host.running,
            cpus: host.cpus,
            mem_mib: host.mem_mib,
            disk_mib: host.disk_mib,
            gpus: host.gpus,
        }
    }
}

impl EngineHealthView {
    pub fn of(state: crate::catalog::EngineState) -> Self {
        match state {
            crate::catalog::EngineState::Reachable => EngineHealthView {
                reachable: true,
                message: None,
            },
            crate::catalog::EngineState::Unreachable(message) => EngineHealthView {
                reachable: false,
                message: Some(message),
            },
        }
    }
}

/// The operator's overview (`GET /admin`, admin only): the queue, the worker pools, the
/// recent failures grouped by error, and the processes with what may be undeployed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OperatorOverview)]
pub struct OperatorView {
    pub title: String,
    pub queue: QueueView,
    pub engine: EngineHealthView,
    /// The worker pools sharing the database, live or lately lost.
    pub workers: Vec<WorkerHealthView>,
    pub failures: FailuresView,
    pub processes: Vec<OperatorProcessView>,
    /// Set after a deploy or undeploy from the page's forms: what was done.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub done: Option<String>,
    pub links: Vec<LinkView>,
}

/// How many jobs wait and run.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = QueueOverview)]
pub struct QueueView {
    /// Jobs accepted and waiting for a worker, over every replica.
    pub queued: u64,
    /// Jobs running, over every replica.
    pub running: u64,
    /// Jobs running in the server that answered.
    pub running_here: usize,
}

/// The failed jobs of the last days, grouped by their error.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RecentFailures)]
pub struct FailuresView {
    /// RFC 3339: the oldest creation time read.
    pub since: String,
    /// Failed jobs read (the newest, at most 500).
    pub examined: usize,
    /// Most frequent first.
    pub groups: Vec<FailureGroupView>,
}

/// Failed jobs that share one error.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FailureGroup)]
pub struct FailureGroupView {
    /// The error's name: the manifest's `errors[].name`, a built-in one
    /// (`algorithm-unknown`, `timeout`, `out-of-memory`, ...), or `unrecorded`.
    pub error: String,
    pub title: String,
    /// `job`, `data` or `system`.
    pub category: String,
    pub count: usize,
    pub processes: Vec<String>,
    pub exit_codes: Vec<i64>,
    /// RFC 3339: when the newest of them ended.
    pub last_seen: String,
    /// The newest jobs of the group (at most five), as links to their status.
    pub jobs: Vec<LinkView>,
}

impl FailureGroupView {
    pub fn new(group: crate::jobs::operator::FailureGroup, base: &BaseUrl) -> Self {
        FailureGroupView {
            jobs: group
                .jobs
                .iter()
                .map(|id| {
                    LinkView::new(base.job(id.as_str()), "related")
                        .typed("application/json")
                        .titled(id.as_str())
                })
                .collect(),
            error: group.error,
            title: group.title,
            category: group.category,
            count: group.count,
            processes: group.processes,
            exit_codes: group.exit_codes,
            last_seen: rfc3339(group.last_seen),
        }
    }
}

/// A process as the operator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OperatorProcess)]
pub struct OperatorProcessView {
    pub id: String,
    pub version: String,
    pub title: String,
    /// The image it runs, for a process that runs one image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Deployed through Part 2 / WPS-T (may be replaced and undeployed), rather than found
    /// in the engine or pinned in the configuration.
    pub deployed: bool,
    pub links: Vec<LinkView>,
}

/// Who the caller is, as the sign-in page shows it (`GET /sign-in`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SignIn)]
pub struct SignInView {
    pub title: String,
    /// Whether this server tells callers apart (`auth.mode`): `on` or `off`.
    pub authentication: String,
    /// Whether the request carried the sign-in cookie and it was accepted.
    pub signed_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub user: Option<String>,
    pub roles: Vec<String>,
    /// Whether this caller may deploy, replace and undeploy processes, and why not.
    pub may_deploy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub deploy_refusal: Option<String>,
    /// Why the sign-in cookie was not accepted (it has been cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rejected: Option<String>,
    pub links: Vec<LinkView>,
}
