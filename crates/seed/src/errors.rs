//! How a run ends badly: declared errors (exit code -> `job.errors[]`) and the built-in
//! errors an executor reports itself (timeout, missing outputs, ...).
//!
//! The built-in names are Scale's (seed-notes 6.3), so a failure reads the same whichever
//! executor ran the image; `invalid-metadata` and `cancelled` are ours.

use crate::manifest::ErrorCategory;
use crate::Manifest;
use serde::{Deserialize, Serialize};

/// Who is to blame: the algorithm (`job`), its input (`data`) or the platform (`system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureCategory {
    Job,
    Data,
    System,
}

/// A failed run, described the way the manifest (or ades) names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFailure {
    /// Machine name: the manifest's `errors[].name`, or a built-in name such as `timeout`,
    /// `algorithm-unknown`, `missing-required-output`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: FailureCategory,
    /// The container's exit code, when it exited.
    pub exit_code: Option<i64>,
}

/// Errors ades reports itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinError {
    /// Non-zero exit code not declared in `errors[]`.
    AlgorithmUnknown,
    /// The container outlived `job.timeout`.
    Timeout,
    MissingRequiredOutput,
    UnexpectedMultipleOutputs,
    /// `seed.outputs.json` missing, unreadable, or with a value of the wrong type.
    InvalidResultsManifest,
    /// A `*.metadata.json` side-car that is not valid GeoJSON metadata.
    InvalidMetadata,
    /// An output `pattern` that cannot be used (absolute, climbing out with `..`, empty, not
    /// a glob).
    InvalidOutputPattern,
    /// The engine killed the container for using more memory than its `mem` resource.
    OutOfMemory,
    /// The run was cancelled by the user.
    Cancelled,
}

impl BuiltinError {
    /// Every built-in error, in declaration order.
    pub const ALL: [BuiltinError; 9] = [
        BuiltinError::AlgorithmUnknown,
        BuiltinError::Timeout,
        BuiltinError::MissingRequiredOutput,
        BuiltinError::UnexpectedMultipleOutputs,
        BuiltinError::InvalidResultsManifest,
        BuiltinError::InvalidMetadata,
        BuiltinError::InvalidOutputPattern,
        BuiltinError::OutOfMemory,
        BuiltinError::Cancelled,
    ];

    /// The stable machine name (`timeout`, `algorithm-unknown`, ...).
    pub fn name(self) -> &'static str {
        match self {
            BuiltinError::AlgorithmUnknown => "algorithm-unknown",
            BuiltinError::Timeout => "timeout",
            BuiltinError::MissingRequiredOutput => "missing-required-output",
            BuiltinError::UnexpectedMultipleOutputs => "unexpected-multiple-outputs",
            BuiltinError::InvalidResultsManifest => "invalid-results-manifest",
            BuiltinError::InvalidMetadata => "invalid-metadata",
            BuiltinError::InvalidOutputPattern => crate::outputs::INVALID_OUTPUT_PATTERN,
            BuiltinError::OutOfMemory => "out-of-memory",
            BuiltinError::Cancelled => "cancelled",
        }
    }

    /// A short human title (`Timed out`, ...).
    pub fn title(self) -> &'static str {
        match self {
            BuiltinError::AlgorithmUnknown => "Algorithm failed",
            BuiltinError::Timeout => "Timed out",
            BuiltinError::MissingRequiredOutput => "Missing required output",
            BuiltinError::UnexpectedMultipleOutputs => "Unexpected multiple outputs",
            BuiltinError::InvalidResultsManifest => "Invalid results manifest",
            BuiltinError::InvalidMetadata => "Invalid output metadata",
            BuiltinError::InvalidOutputPattern => "Invalid output pattern",
            BuiltinError::OutOfMemory => "Out of memory",
            BuiltinError::Cancelled => "Cancelled",
        }
    }

    /// Who is to blame. Everything the algorithm's container did wrong is `job` (Scale's
    /// `ALGORITHM`); a cancellation is neither the algorithm's nor its data's doing, so it is
    /// `system`.
    pub fn category(self) -> FailureCategory {
        match self {
            BuiltinError::Cancelled => FailureCategory::System,
            BuiltinError::AlgorithmUnknown
            | BuiltinError::Timeout
            | BuiltinError::MissingRequiredOutput
            | BuiltinError::UnexpectedMultipleOutputs
            | BuiltinError::InvalidResultsManifest
            | BuiltinError::InvalidMetadata
            | BuiltinError::InvalidOutputPattern
            | BuiltinError::OutOfMemory => FailureCategory::Job,
        }
    }

    /// The fixed sentence that starts the description of this failure.
    pub fn sentence(self) -> &'static str {
        match self {
            BuiltinError::AlgorithmUnknown => {
                "The algorithm failed with an error its manifest does not describe."
            }
            BuiltinError::Timeout => {
                "The container ran longer than the job's timeout and was stopped."
            }
            BuiltinError::MissingRequiredOutput => "A required output was not produced.",
            BuiltinError::UnexpectedMultipleOutputs => {
                "An output declared with `multiple: false` matched more than one file."
            }
            BuiltinError::InvalidResultsManifest => {
                "The results manifest seed.outputs.json is missing, unreadable or holds a \
                 value of the wrong type."
            }
            BuiltinError::InvalidMetadata => {
                "A *.metadata.json side-car file is not valid GeoJSON metadata."
            }
            BuiltinError::InvalidOutputPattern => {
                "An output pattern of the manifest cannot be used."
            }
            BuiltinError::OutOfMemory => {
                "The container used more memory than the job's mem resource allows and was \
                 killed."
            }
            BuiltinError::Cancelled => "The job was cancelled before it finished.",
        }
    }
}

/// The failure for a non-zero exit code: the declared error when `errors[]` maps the code
/// (title defaults to the name, description to empty), else `algorithm-unknown`.
/// Returns `None` for exit code 0.
///
/// The first `errors[]` entry with that code wins, and an empty `title` counts as absent. An
/// undeclared code gives [`BuiltinError::AlgorithmUnknown`] (category `job`, as in Scale)
/// whose description ends with "Its exit code N is not declared in the manifest's errors.".
pub fn failure_for_exit_code(manifest: &Manifest, exit_code: i64) -> Option<JobFailure> {
    if exit_code == 0 {
        return None;
    }
    let declared = manifest.job.errors.iter().find(|e| e.code == exit_code);
    let failure = match declared {
        Some(error) => JobFailure {
            name: error.name.clone(),
            title: error
                .title
                .as_deref()
                .filter(|title| !title.is_empty())
                .unwrap_or(&error.name)
                .to_owned(),
            description: error.description.clone().unwrap_or_default(),
            category: match error.category {
                ErrorCategory::Job => FailureCategory::Job,
                ErrorCategory::Data => FailureCategory::Data,
            },
            exit_code: Some(exit_code),
        },
        None => JobFailure {
            exit_code: Some(exit_code),
            ..builtin_failure(
                BuiltinError::AlgorithmUnknown,
                format!("Its exit code {exit_code} is not declared in the manifest's errors."),
            )
        },
    };
    Some(failure)
}

/// A built-in failure with a sentence of detail.
///
/// The description is [`BuiltinError::sentence`], a space and `detail` (trimmed; the
/// sentence alone when `detail` is empty). `exit_code` is `None`: a caller that knows the
/// container's exit code sets it.
pub fn builtin_failure(error: BuiltinError, detail: impl Into<String>) -> JobFailure {
    let detail = detail.into();
    let detail = detail.trim();
    let description = if detail.is_empty() {
        error.sentence().to_owned()
    } else {
        format!("{} {detail}", error.sentence())
    };
    JobFailure {
        name: error.name().to_owned(),
        title: error.title().to_owned(),
        description,
        category: error.category(),
        exit_code: None,
    }
}
