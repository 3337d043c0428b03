//! One way to report what is wrong, shared by manifest validation, invocation checks and
//! output capture, so every front end can list all problems at once.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A single finding: where it is and what the user should change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// JSON pointer into the document (`/job/interface/inputs/files/0/name`) for manifest
    /// problems; the invocation key (`INPUT_FILE`) for invocation problems; the output name
    /// for output problems.
    pub location: String,
    /// A sentence that says what is wrong and what to change.
    pub message: String,
}

impl Problem {
    pub fn error(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Error,
            location: location.into(),
            message: message.into(),
        }
    }

    pub fn warning(location: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            severity: Severity::Warning,
            location: location.into(),
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = if self.location.is_empty() {
            "/"
        } else {
            &self.location
        };
        write!(f, "{location}: {}", self.message)
    }
}
