//! Provenance: what exactly produced a job's outputs, recorded when the job ends and kept
//! with it (`GET /jobs/{id}/prov`).
//!
//! Two halves:
//! - [`ProvRecord`], the facts as the worker gathered them at the end of the run (the
//!   image the container really ran and its digests, the Seed manifest's digest, every
//!   input with the sha256 and size of the file the container saw, every output's sha256,
//!   size and media type, the resources the container used, who ran it). It is stored as
//!   JSON in the job store and knows no URLs, so a record reads the same through any
//!   public address.
//! - `document.rs`: the record as a W3C PROV document (one model), written as PROV-JSON
//!   or PROV-N.
//!
//! Choices:
//! - Files are hashed streaming (never loaded whole), off the async runtime.
//! - A fact the engine did not report (an image without repository digests, a container
//!   too short for one statistics sample) is left out of the record, never made up.
//! - The inline value of an input is identified by the sha256 of its bytes as the request
//!   carried them (a string's text, anything else its compact JSON); an `href` by itself.

mod document;

pub use document::{ProvDocument, PROVN_MEDIA_TYPE};

use crate::domain::{InputValue, Job, Process};
use crate::engine::RunFacts;
use seed::contract::Invocation;
use seed::outputs::CapturedOutputs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// The label of a Seed image holding its manifest.
const SEED_MANIFEST_LABEL: &str = "com.ngageoint.seed.manifest";

/// The version of the stored record's shape (a later shape can still read this one).
pub const RECORD_VERSION: u32 = 1;

/// What produced a job's outputs, as its worker found it at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvRecord {
    pub version: u32,
    pub job: JobFacts,
    pub process: ProcessFacts,
    pub inputs: Vec<InputFacts>,
    pub outputs: Vec<OutputFacts>,
    pub usage: UsageFacts,
    pub agent: AgentFacts,
    /// The job's owner (the user who submitted it); `None` with authentication off.
    pub owner: Option<String>,
}

/// The activity: the job's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFacts {
    pub id: String,
    /// `successful` or `failed`.
    pub status: String,
    pub attempt: u32,
    /// When it started (its first attempt), [`xsd_time`] form.
    pub started: Option<String>,
    /// When its run ended, [`xsd_time`] form.
    pub ended: String,
}

/// The plan: the process, its image and manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessFacts {
    pub id: String,
    pub version: String,
    /// The image reference jobs start (`name:tag` or `name@sha256:...`), for a process
    /// that runs one image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The engine's id of the image the container ran (`sha256:...`).
    pub image_id: Option<String>,
    /// The image's repository digests, as the engine reports them.
    pub repo_digests: Vec<String>,
    /// The sha256 of the Seed manifest as the image's label carries it (lower-case hex).
    pub manifest_sha256: Option<String>,
}

/// One value of one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFacts {
    /// The input's id.
    pub input: String,
    /// Which of its values (0 for single-valued inputs).
    pub index: usize,
    /// Where the server fetched it, for a reference.
    pub href: Option<String>,
    /// The sha256 of an inline value (see the module's choices).
    pub value_sha256: Option<String>,
    pub media_type: Option<String>,
    /// The file the container saw, for file inputs.
    pub staged: Option<FileFacts>,
}

/// One produced value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFacts {
    /// The output's id.
    pub output: String,
    pub index: usize,
    /// A file output's file (its path relative to the job's outputs).
    pub file: Option<FileFacts>,
    /// The sha256 of a json output's compact JSON.
    pub value_sha256: Option<String>,
    pub media_type: Option<String>,
}

/// A file's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Relative to the job's `inputs/` or `outputs/` directory, `/`-separated.
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub size_bytes: u64,
}

/// The resources the container used (see [`crate::engine::ResourceUsage`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageFacts {
    pub peak_memory_bytes: Option<u64>,
    pub cpu_time_ns: Option<u64>,
    pub samples: u32,
}

/// The software agent that ran the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentFacts {
    /// ades's version.
    pub version: String,
    /// The host name of the worker that ran it.
    pub host: String,
}

/// What the worker knows when a run has ended, from which the record is made.
#[derive(Debug, Clone)]
pub struct EndedRun {
    pub job: Job,
    pub process: Process,
    /// `successful` or `failed`.
    pub status: String,
    pub ended: OffsetDateTime,
    /// The staged invocation (`None` when staging never finished).
    pub invocation: Option<Invocation>,
    /// The job's `inputs/` directory (staged paths are given relative to it).
    pub inputs_dir: PathBuf,
    /// The captured outputs (`None` when no container ran).
    pub outputs: Option<CapturedOutputs>,
    /// What the engine reported of the container (`None` when it reported nothing).
    pub facts: Option<RunFacts>,
    /// The worker's host name.
    pub host: String,
}

impl EndedRun {
    /// The record, hashing the staged inputs and the outputs off the async runtime.
    pub async fn into_record(self) -> ProvRecord {
        match tokio::task::spawn_blocking(move || self.record()).await {
            Ok(record) => record,
            // Only a panic in hashing gets here: a bug, not the user's doing.
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }

    /// The record (blocking: reads the files).
    pub fn record(&self) -> ProvRecord {
        let facts = self.facts.clone().unwrap_or_default();
        let manifest_sha256 = facts
            .image_labels
            .get(SEED_MANIFEST_LABEL)
            .map(|label| hex_sha256(label.as_bytes()));
        ProvRecord {
            version: RECORD_VERSION,
            job: JobFacts {
                id: self.job.id.to_string(),
                status: self.status.clone(),
                attempt: self.job.attempt,
                started: self.job.started.map(xsd_time),
                ended: xsd_time(self.ended),
            },
            process: ProcessFacts {
                id: self.process.id.to_string(),
                version: self.process.version.clone(),
                image: self
                    .process
                    .seed()
                    .map(|seed| seed.image.clone())
                    .or_else(|| self.process.cwl().map(|cwl| cwl.pinned.clone())),
                image_id: facts
                    .image_id
                    .clone()
                    .or_else(|| self.process.seed().and_then(|seed| seed.image_id.clone())),
                repo_digests: facts.repo_digests.clone(),
                manifest_sha256,
            },
            inputs: self.inputs(),
            outputs: self.outputs(),
            usage: UsageFacts {
                peak_memory_bytes: facts.usage.peak_memory_bytes,
                cpu_time_ns: facts.usage.cpu_time_ns,
                samples: facts.usage.samples,
            },
            agent: AgentFacts {
                version: env!("CARGO_PKG_VERSION").to_string(),
                host: self.host.clone(),
            },
            owner: self.job.owner.clone(),
        }
    }

    fn inputs(&self) -> Vec<InputFacts> {
        let mut inputs = Vec::new();
        for (id, values) in &self.job.request.inputs {
            // Staging writes one file per value, in the request's order.
            let staged: Vec<&PathBuf> = self
                .invocation
                .as_ref()
                .and_then(|invocation| invocation.files.get(id))
                .map(|paths| paths.iter().collect())
                .unwrap_or_default();
            for (index, value) in values.iter().enumerate() {
                let (href, value_sha256, media_type) = match value {
                    InputValue::Href { href, media_type } => {
                        (Some(href.clone()), None, media_type.clone())
                    }
                    InputValue::Inline { value, media_type } => {
                        let bytes = match value {
                            serde_json::Value::String(text) => text.as_bytes().to_vec(),
                            other => other.to_string().into_bytes(),
                        };
                        (None, Some(hex_sha256(&bytes)), media_type.clone())
                    }
                    InputValue::Base64 { data, media_type } => {
                        (None, Some(hex_sha256(data.as_bytes())), media_type.clone())
                    }
                    InputValue::JobOutput {
                        job,
                        path,
                        media_type,
                    } => (Some(job_output_urn(job, path)), None, media_type.clone()),
                };
                inputs.push(InputFacts {
                    input: id.clone(),
                    index,
                    href,
                    value_sha256,
                    media_type,
                    staged: staged
                        .get(index)
                        .and_then(|path| file_facts(path, &self.inputs_dir)),
                });
            }
        }
        inputs
    }

    fn outputs(&self) -> Vec<OutputFacts> {
        let Some(captured) = &self.outputs else {
            return Vec::new();
        };
        let mut outputs = Vec::new();
        for (id, files) in &captured.files {
            for (index, file) in files.iter().enumerate() {
                let Some(facts) = hash_file(&file.path).map(|(sha256, size_bytes)| FileFacts {
                    path: file.relative.clone(),
                    sha256,
                    size_bytes,
                }) else {
                    continue;
                };
                outputs.push(OutputFacts {
                    output: id.clone(),
                    index,
                    file: Some(facts),
                    value_sha256: None,
                    media_type: file.media_type.clone(),
                });
            }
        }
        for (id, value) in &captured.json {
            outputs.push(OutputFacts {
                output: id.clone(),
                index: 0,
                file: None,
                value_sha256: Some(hex_sha256(value.to_string().as_bytes())),
                media_type: Some("application/json".to_string()),
            });
        }
        outputs
    }
}

/// A staged file's facts, its path relative to `root`; `None` when it cannot be read (the
/// record then says nothing of it rather than something wrong).
fn file_facts(path: &Path, root: &Path) -> Option<FileFacts> {
    let (sha256, size_bytes) = hash_file(path)?;
    let relative = path.strip_prefix(root).unwrap_or(path);
    Some(FileFacts {
        path: relative.to_string_lossy().replace('\\', "/"),
        sha256,
        size_bytes,
    })
}

/// The sha256 (lower-case hex) and size of a regular file, read in pieces. Anything else
/// (a symbolic link a job left, a directory) is not read: the record never describes a
/// file outside the job's own.
pub fn hash_file(path: &Path) -> Option<(String, u64)> {
    let read = || -> std::io::Result<(String, u64)> {
        if !std::fs::symlink_metadata(path)?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut file = std::fs::File::open(path)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            size += n as u64;
        }
        Ok((hex(&hasher.finalize()), size))
    };
    match read() {
        Ok(found) => Some(found),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot hash a file for the provenance record");
            None
        }
    }
}

/// The sha256 of `bytes`, lower-case hex.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A time as `xsd:dateTime` in UTC, to the microsecond, in the one form PROV tools write
/// back (`2026-01-02T03:04:05.123456+00:00`, no fraction when it is zero): a record read
/// and written again by a PROV library keeps its text.
pub fn xsd_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let micros = at.microsecond();
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}+00:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// How a file another job produced is named where a URI is wanted (provenance, WPS echo).
pub fn job_output_urn(job: &crate::domain::JobId, path: &str) -> String {
    format!("urn:ades:job:{job}:output:{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_to_the_microsecond() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.123456789 +02:00);
        assert_eq!(xsd_time(at), "2026-01-02T01:04:05.123456+00:00");
        let whole = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(xsd_time(whole), "2026-01-02T03:04:05+00:00");
    }

    #[test]
    fn files_are_hashed_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let (sha, size) = hash_file(&path).unwrap();
        assert_eq!(size, 200_000);
        assert_eq!(sha, hex_sha256(&bytes));
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(hash_file(&dir.path().join("missing")).is_none());
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(hash_file(&link).is_none(), "links are not followed");
        assert!(hash_file(dir.path()).is_none());
    }
}
