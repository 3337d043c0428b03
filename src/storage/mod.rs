//! Named workspaces: storage locations an operator names (Scale's "workspaces"), each behind
//! a [`Broker`]: `host` (a directory, [`host::HostBroker`]) or `s3` (a bucket and optional
//! prefix of an S3-compatible store, [`s3::S3Broker`]). Jobs read inputs from them
//! (`workspace://<name>/<path>` and `s3://<bucket>/<key>` hrefs) and publish products to
//! them (a process's `output_workspace`).
//!
//! Not to be confused with `crate::workspace`, the per-job local directory a container
//! mounts (`<root>/<job id>/inputs|outputs`): that one is a job's scratch space, this one
//! is long-lived data that outlives jobs.
//!
//! Where workspaces come from: the configuration (`[workspaces.<name>]`) and the job store
//! (`/workspaces`, created by admins, shared by replicas); [`registry::Workspaces`] reads
//! both. Paths inside a workspace are relative, `/`-separated, and never escape it
//! ([`clean_path`]).

pub mod host;
pub mod registry;
pub mod s3;
pub mod spec;

pub use registry::{PublishedOutput, Workspaces};
pub use spec::{BrokerSpec, WorkspaceSpec};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::ops::Range;
use time::OffsetDateTime;
use tokio::io::AsyncRead;

/// One file of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Relative to the workspace, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Last modification, when the broker knows it.
    pub modified: Option<OffsetDateTime>,
}

/// What a write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes written.
    pub sha256: String,
}

/// The bytes of a file (or of a range of it), streamed.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Why a workspace operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The path is not a clean relative path inside the workspace (`..`, absolute, empty
    /// segments) or goes through a symbolic link: the caller's mistake.
    #[error("{0}")]
    BadPath(String),
    /// A workspace definition that cannot work (bad name, relative host path...).
    #[error("{0}")]
    Invalid(String),
    #[error("{0} does not exist in the workspace")]
    NotFound(String),
    /// The store failed or refused (network, permissions, disk): said without secrets.
    #[error("{0}")]
    Backend(String),
}

/// One storage location's operations. Every path is relative to the workspace's root
/// (its directory, or its bucket and prefix) and is checked with [`clean_path`] first.
#[async_trait]
pub trait Broker: Send + Sync + std::fmt::Debug {
    /// The files under `prefix` (a directory-like prefix; "" = everything), sorted by path.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;

    /// The file at `path`.
    async fn stat(&self, path: &str) -> Result<ObjectInfo, StorageError>;

    /// The bytes of `path`, or of `range` of them (end exclusive, within the file's size).
    async fn read(&self, path: &str, range: Option<Range<u64>>)
        -> Result<ByteStream, StorageError>;

    /// Stores what `content` yields at `path` (replacing a file there), streamed and
    /// hashed on the way; large files go in parts where the store has them.
    async fn write(
        &self,
        path: &str,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<Written, StorageError>;

    /// Copies `from` to `to` inside the workspace.
    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError>;

    /// Moves `from` to `to` inside the workspace.
    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError>;

    /// Removes `path` (a missing file is not an error: the goal is reached).
    async fn delete(&self, path: &str) -> Result<(), StorageError>;

    /// The local path of the regular file `path`, where the workspace is a local
    /// directory (host), checked like a read (no link anywhere in it); `None` where it is
    /// not local (S3). Lets a `partial` input be bind-mounted in place instead of copied.
    async fn local_file(&self, _path: &str) -> Result<Option<std::path::PathBuf>, StorageError> {
        Ok(None)
    }

    /// A link that reads `path` directly from the store for `seconds`, where the store
    /// signs such links (S3); `None` where it does not (host).
    async fn presigned_url(&self, path: &str, seconds: u64)
        -> Result<Option<String>, StorageError>;
}

/// `path` as a clean relative path: `/`-separated segments, none empty, `.` or `..`, no
/// leading `/`, no backslash or NUL. The one check every broker applies first, so nothing
/// names a file outside its workspace.
pub fn clean_path(path: &str) -> Result<&str, StorageError> {
    let bad = |why: &str| {
        StorageError::BadPath(format!(
            "the path {path:?} {why}; give a relative path inside the workspace, like \
             scenes/2024/a.tif"
        ))
    };
    if path.is_empty() {
        return Err(bad("is empty"));
    }
    if path.starts_with('/') {
        return Err(bad("is absolute"));
    }
    if path.contains(['\\', '\0']) {
        return Err(bad("holds a backslash or a NUL character"));
    }
    for segment in path.split('/') {
        match segment {
            "" => return Err(bad("has an empty segment (//, or a trailing /)")),
            "." | ".." => return Err(bad("has a . or .. segment")),
            _ => {}
        }
    }
    Ok(path)
}

/// `prefix` for listing: "" or a clean path (a trailing `/` is allowed and dropped).
pub fn clean_prefix(prefix: &str) -> Result<&str, StorageError> {
    let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
    if trimmed.is_empty() {
        return Ok("");
    }
    clean_path(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_relative_paths_pass() {
        for good in ["a.txt", "dir/a.txt", "a/b/c.tif", "..a", "a..b/c"] {
            assert_eq!(clean_path(good).unwrap(), good);
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            ".",
        ] {
            assert!(
                matches!(clean_path(bad), Err(StorageError::BadPath(_))),
                "{bad:?} passed"
            );
        }
        assert_eq!(clean_prefix("").unwrap(), "");
        assert_eq!(clean_prefix("dir/").unwrap(), "dir");
        assert!(clean_prefix("../").is_err());
    }
}
