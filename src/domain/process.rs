//! A process as every façade sees it: its description (built once, from a Seed manifest by
//! catalog/) and its [`Binding`], what runs when it is executed.

use super::ProcessId;
use seed::manifest::JsonType;
use serde::{Deserialize, Serialize};

/// How a process may be executed (OGC `jobControlOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobControlOption {
    SyncExecute,
    AsyncExecute,
    Dismiss,
}

/// A `metadata` entry of a description (`{title, role, href}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// What an input becomes for the Seed job.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// A Seed input file: values arrive as base64 / text / `href` and are staged as files.
    File {
        /// Accepted media types (first = default); empty = any.
        media_types: Vec<String>,
    },
    /// A Seed json input.
    Json { kind: JsonType },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputDescription {
    /// The Seed input name, used as the OGC input id.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub min_occurs: u32,
    /// `None` = unbounded.
    pub max_occurs: Option<u32>,
    /// The OGC JSON schema of one value.
    pub schema: serde_json::Value,
    pub kind: InputKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutputKind {
    /// Files captured by a Seed output pattern.
    File {
        media_type: Option<String>,
        multiple: bool,
        required: bool,
    },
    /// A member of `seed.outputs.json`.
    Json { kind: JsonType, required: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputDescription {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub schema: serde_json::Value,
    pub kind: OutputKind,
}

/// Where the process runs: the Seed image and its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedBinding {
    /// The image reference jobs start (`name:tag`, or `name@sha256:...` when pinned).
    pub image: String,
    /// The engine's image id (`sha256:...`) when known.
    pub image_id: Option<String>,
    pub manifest: seed::Manifest,
}

/// What runs when a process is executed. Every place that runs, describes or accounts for
/// a process by what it runs matches on this, so a new kind of process (a workflow, a CWL
/// tool) is one new variant and the compiler lists every place that must decide for it.
// Processes live behind `Arc` in the catalogue, so the Seed variant's size costs nothing
// worth a `Box` at every place that builds or matches one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// One container of a Seed image, as its manifest says.
    Seed(SeedBinding),
    /// A graph of steps, each a job of its own (`crate::workflow`), run by the workflow
    /// driver rather than by a worker.
    Workflow(std::sync::Arc<crate::workflow::Workflow>),
    /// A process of a remote OGC API - Processes server (`crate::remote`), run there; it is
    /// never offered here, only read as a workflow step's description.
    Remote(RemoteBinding),
    /// One CWL CommandLineTool of a deployed CWL document, run on the same engine as Seed
    /// jobs (`crate::cwl::process`).
    Cwl(std::sync::Arc<crate::cwl::process::CwlBinding>),
}

/// Where a remote process runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteBinding {
    /// The `[remotes.<name>]` it is on.
    pub remote: String,
    /// Its id there (which may not be a process id of ours).
    pub process: String,
}

/// One process.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    pub id: ProcessId,
    pub version: String,
    pub title: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub metadata: Vec<Metadata>,
    pub job_control_options: Vec<JobControlOption>,
    /// Inputs as the description lists them: json inputs, then input files, each in manifest
    /// order (why: `catalog::seed_process`).
    pub inputs: Vec<InputDescription>,
    pub outputs: Vec<OutputDescription>,
    pub binding: Binding,
    /// Deployed through OGC API Part 2 (may be replaced and undeployed); `false` for the
    /// built-in processes found in the engine or configured.
    pub mutable: bool,
}

impl Process {
    /// The Seed image and manifest this process runs, if it runs one.
    pub fn seed(&self) -> Option<&SeedBinding> {
        match &self.binding {
            Binding::Seed(seed) => Some(seed),
            Binding::Workflow(_) | Binding::Remote(_) | Binding::Cwl(_) => None,
        }
    }

    /// The workflow this process runs, if it is one.
    pub fn workflow(&self) -> Option<&std::sync::Arc<crate::workflow::Workflow>> {
        match &self.binding {
            Binding::Workflow(workflow) => Some(workflow),
            Binding::Seed(_) | Binding::Remote(_) | Binding::Cwl(_) => None,
        }
    }

    /// The CWL tool this process runs, if it runs one.
    pub fn cwl(&self) -> Option<&std::sync::Arc<crate::cwl::process::CwlBinding>> {
        match &self.binding {
            Binding::Cwl(cwl) => Some(cwl),
            Binding::Seed(_) | Binding::Workflow(_) | Binding::Remote(_) => None,
        }
    }

    pub fn input(&self, id: &str) -> Option<&InputDescription> {
        self.inputs.iter().find(|i| i.id == id)
    }

    pub fn output(&self, id: &str) -> Option<&OutputDescription> {
        self.outputs.iter().find(|o| o.id == id)
    }

    /// Where output `id` stands in the description (for listing results in the process's
    /// order); unknown ids sort last.
    pub fn output_position(&self, id: &str) -> usize {
        self.outputs
            .iter()
            .position(|o| o.id == id)
            .unwrap_or(usize::MAX)
    }

    pub fn allows(&self, option: JobControlOption) -> bool {
        self.job_control_options.contains(&option)
    }
}
