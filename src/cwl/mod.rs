//! The CWL room: Common Workflow Language v1.x CommandLineTools, read and run.
//!
//! - [`document`]: loading a document (YAML or JSON, `$graph`, `$import`, `$include`,
//!   `$namespaces`) into a [`Tool`];
//! - [`types`]: CWL types, normalized, and whether a value is of one;
//! - [`expression`]: parameter references (`$(inputs.x.path)`) and expressions;
//! - [`javascript`]: JavaScript expressions, on an embedded QuickJS engine;
//! - [`command`]: the command line from `baseCommand`, `arguments` and `inputBinding`s;
//! - [`outputs`]: collecting outputs (`glob`, `loadContents`, `outputEval`,
//!   `secondaryFiles`, `cwl.output.json`) as File and Directory objects;
//! - [`run`]: one tool run on the engine's [`crate::engine::ContainerRunner`], hardened as
//!   Seed jobs are;
//! - [`workflow`]: Workflows (steps, sources, scatter, `when`, subworkflows) and
//!   ExpressionTools, read and checked;
//! - [`workflow_run`]: a Workflow run, each tool step handed to a
//!   [`workflow_run::StepExecutor`].
//! - [`process`]: a deployed CommandLineTool as a process; [`deployed_workflow`]: a
//!   deployed Workflow as a `crate::workflow` draft over its tools.
//!
//! Paths inside the container follow cwltool's: the output directory (also the working
//! directory and `HOME`) is [`OUTDIR`], staged inputs are under `/var/lib/cwl/`, `TMPDIR`
//! is [`TMPDIR`].

pub mod command;
pub mod deployed_workflow;
pub mod document;
pub mod expression;
pub mod from_seed;
pub mod javascript;
pub mod outputs;
pub mod process;
pub mod run;
pub mod types;
pub mod workflow;
pub mod workflow_run;

pub use document::{load_tool, parse_tool, Tool};
pub use run::{run_tool, RunSettings, ToolJob};
pub use workflow::{load_process, Process, Workflow};
pub use workflow_run::{relocate_outputs, run_workflow, StepExecutor};

use crate::engine::RunnerError;

/// The output directory as the tool sees it.
pub const OUTDIR: &str = "/var/spool/cwl";
/// The temporary directory as the tool sees it.
pub const TMPDIR: &str = "/tmp";

/// Exit status of `ades cwl run` for a feature it does not support (what `cwltest`
/// counts as "unsupported" rather than failed).
pub const UNSUPPORTED_EXIT: u8 = 33;

/// Why a tool could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum CwlError {
    /// The document or the job order is wrong: the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// Something the document asks for that ades does not do (`Operation`s, network access
    /// the operator did not allow).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The tool ran and failed (its exit code, a missing output, a timeout).
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

impl From<expression::ExpressionError> for CwlError {
    fn from(err: expression::ExpressionError) -> Self {
        match err {
            expression::ExpressionError::JavaScript(_)
            | expression::ExpressionError::Reference { .. } => CwlError::Invalid(err.to_string()),
            expression::ExpressionError::Script { .. } => CwlError::Failed(err.to_string()),
        }
    }
}
