//! Identifiers, parsed at the boundary so the rest of the code never re-checks them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

/// A process id: the Seed `job.name` (`^[a-zA-Z0-9-]+$`), at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProcessId(String);

impl ProcessId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let ok = !text.is_empty()
            && text.len() <= 128
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if ok {
            Ok(ProcessId(text.to_string()))
        } else {
            Err(IdError(format!(
                "{text:?} is not a process id: use 1 to 128 letters, digits and '-'"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A job id: a UUID (hyphenated, lower case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    pub fn new() -> Self {
        JobId(uuid::Uuid::new_v4().hyphenated().to_string())
    }

    pub fn parse(text: &str) -> Result<Self, IdError> {
        uuid::Uuid::try_parse(text)
            .map(|u| JobId(u.hyphenated().to_string()))
            .map_err(|_| IdError(format!("{text:?} is not a job id (a UUID)")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

/// Identifies one worker (process + pool slot) for leases and fencing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkerId(pub String);

macro_rules! string_id {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $t {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(&value)
            }
        }
        impl From<$t> for String {
            fn from(value: $t) -> String {
                value.0
            }
        }
    };
}
string_id!(ProcessId);
string_id!(JobId);

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_ids_follow_seed_job_names() {
        assert!(ProcessId::parse("io-demo").is_ok());
        assert!(ProcessId::parse("my_job").is_err());
        assert!(ProcessId::parse("").is_err());
        assert!(ProcessId::parse("../etc").is_err());
    }

    #[test]
    fn job_ids_are_uuids() {
        let id = JobId::new();
        assert_eq!(JobId::parse(id.as_str()).unwrap(), id);
        assert!(JobId::parse("invalid-job-1").is_err());
        assert_eq!(
            JobId::parse("8D6E1C2A-55B4-4E1A-9B7C-1234567890AB")
                .unwrap()
                .as_str(),
            "8d6e1c2a-55b4-4e1a-9b7c-1234567890ab"
        );
    }
}
