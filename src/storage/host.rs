//! The `host` broker: a directory on the server's host (shared by replicas like the job
//! workspace, e.g. over NFS). The no-escape rule: a path is a clean relative path
//! ([`super::clean_path`]) and no part of it below the root may be a symbolic link, so
//! nothing outside the root is ever read, written or listed, whatever lies in it. Writes go
//! to a hidden temporary file beside the target and are renamed into place once complete,
//! so a reader never sees half a file.

use super::{clean_path, clean_prefix, Broker, ByteStream, ObjectInfo, StorageError, Written};
use async_trait::async_trait;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

#[derive(Debug, Clone)]
pub struct HostBroker {
    root: PathBuf,
}

impl HostBroker {
    /// A broker over the directory `root` (it must exist when used).
    pub fn new(root: PathBuf) -> Self {
        HostBroker { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of `path`, after checking that the root is a directory and that no
    /// existing part of `path` below it is a symbolic link (the last part may be missing).
    async fn resolve(&self, path: &str) -> Result<PathBuf, StorageError> {
        let path = clean_path(path)?;
        self.check_root().await?;
        let mut local = self.root.clone();
        for segment in path.split('/') {
            local.push(segment);
            match tokio::fs::symlink_metadata(&local).await {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(StorageError::BadPath(format!(
                        "{path} goes through a symbolic link, which this workspace never \
                         follows; name the file by its real path"
                    )))
                }
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
                Err(err) => return Err(io_error(path, err)),
            }
        }
        Ok(self.root.join(path))
    }

    async fn check_root(&self) -> Result<(), StorageError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            _ => Err(StorageError::Backend(format!(
                "the workspace directory {} does not exist or is not a directory; create it \
                 or correct host_path",
                self.root.display()
            ))),
        }
    }

    /// Opens the regular file at `path` without following a link at its last part.
    async fn open(&self, path: &str) -> Result<(tokio::fs::File, std::fs::Metadata), StorageError> {
        let local = self.resolve(path).await?;
        let mut options = tokio::fs::OpenOptions::new();
        options.read(true).custom_flags(libc::O_NOFOLLOW);
        let file = options.open(&local).await.map_err(|e| io_error(path, e))?;
        let meta = file.metadata().await.map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(StorageError::NotFound(path.to_string()));
        }
        Ok((file, meta))
    }

    /// Creates the directories above `path`, refusing links on the way.
    async fn make_parents(&self, path: &str) -> Result<PathBuf, StorageError> {
        let local = self.resolve(path).await?;
        let mut dir = self.root.clone();
        let segments: Vec<&str> = path.split('/').collect();
        for segment in &segments[..segments.len() - 1] {
            dir.push(segment);
            match tokio::fs::create_dir(&dir).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    let meta = tokio::fs::symlink_metadata(&dir)
                        .await
                        .map_err(|e| io_error(path, e))?;
                    if !meta.is_dir() {
                        return Err(StorageError::BadPath(format!(
                            "{path}: a part of it is a file or a link, not a directory"
                        )));
                    }
                }
                Err(err) => return Err(io_error(path, err)),
            }
        }
        Ok(local)
    }
}

fn io_error(path: &str, err: std::io::Error) -> StorageError {
    match err.raw_os_error() {
        _ if err.kind() == std::io::ErrorKind::NotFound => StorageError::NotFound(path.to_string()),
        Some(libc::ELOOP) => StorageError::BadPath(format!(
            "{path} is a symbolic link, which this workspace never follows"
        )),
        _ => StorageError::Backend(format!("{path}: {err}")),
    }
}

fn info(path: String, meta: &std::fs::Metadata) -> ObjectInfo {
    ObjectInfo {
        path,
        size: meta.len(),
        modified: meta.modified().ok().map(OffsetDateTime::from),
    }
}

/// Adds the regular files under `dir` (`relative` below the root) to `found`, never
/// following a link and leaving out our own temporary files.
fn walk(dir: &Path, relative: &str, found: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &path, found)?;
        } else if kind.is_file() && !name.starts_with(PARTIAL_PREFIX) {
            found.push(info(path, &entry.metadata()?));
        }
    }
    Ok(())
}

/// Names of files being written (renamed into place when complete).
const PARTIAL_PREFIX: &str = ".ades-partial-";

#[async_trait]
impl Broker for HostBroker {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let prefix = clean_prefix(prefix)?.to_string();
        self.check_root().await?;
        let start = if prefix.is_empty() {
            self.root.clone()
        } else {
            self.resolve(&prefix).await?
        };
        match tokio::fs::symlink_metadata(&start).await {
            Ok(meta) if meta.is_dir() => {}
            _ => return Ok(Vec::new()),
        }
        let mut found = tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk(&start, &prefix, &mut found).map(|()| found)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("listing failed: {e}")))?
        .map_err(|e| StorageError::Backend(format!("cannot list the workspace: {e}")))?;
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    async fn stat(&self, path: &str) -> Result<ObjectInfo, StorageError> {
        let (_, meta) = self.open(path).await?;
        Ok(info(path.to_string(), &meta))
    }

    async fn read(
        &self,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let (mut file, meta) = self.open(path).await?;
        let range = range.unwrap_or(0..meta.len());
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|e| io_error(path, e))?;
        let limited = file.take(range.end.saturating_sub(range.start));
        Ok(tokio_util::io::ReaderStream::new(limited).boxed())
    }

    async fn write(
        &self,
        path: &str,
        content: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<Written, StorageError> {
        let target = self.make_parents(path).await?;
        let name = path.rsplit('/').next().unwrap_or(path);
        let partial = target.with_file_name(format!(
            "{PARTIAL_PREFIX}{}-{name}",
            uuid::Uuid::new_v4().simple()
        ));
        let result = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&partial)
                .await?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                let read = content.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                hasher.update(&buffer[..read]);
                file.write_all(&buffer[..read]).await?;
                size += read as u64;
            }
            file.sync_all().await?;
            tokio::fs::rename(&partial, &target).await?;
            Ok::<_, std::io::Error>(Written {
                size,
                sha256: hex(&hasher.finalize()),
            })
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        result.map_err(|e| io_error(path, e))
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StorageError> {
        let (mut file, _) = self.open(from).await?;
        self.write(to, &mut file).await.map(|_| ())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StorageError> {
        self.open(from).await?;
        let source = self.resolve(from).await?;
        let target = self.make_parents(to).await?;
        tokio::fs::rename(&source, &target)
            .await
            .map_err(|e| io_error(from, e))
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        let local = self.resolve(path).await?;
        match tokio::fs::symlink_metadata(&local).await {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => {
                return Err(StorageError::BadPath(format!(
                    "{path} is not a regular file; only files are deleted"
                )))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_error(path, err)),
        }
        match tokio::fs::remove_file(&local).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_error(path, err)),
            _ => Ok(()),
        }
    }

    async fn local_file(&self, path: &str) -> Result<Option<PathBuf>, StorageError> {
        self.open(path).await?;
        Ok(Some(self.resolve(path).await?))
    }

    async fn presigned_url(
        &self,
        _path: &str,
        _seconds: u64,
    ) -> Result<Option<String>, StorageError> {
        Ok(None)
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    async fn read_all(broker: &HostBroker, path: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let chunks: Vec<bytes::Bytes> = broker
            .read(path, range)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        chunks.concat()
    }

    #[tokio::test]
    async fn writes_lists_reads_ranges_copies_moves_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let broker = HostBroker::new(dir.path().to_path_buf());
        let written = broker
            .write("a/b/hello.txt", &mut &b"hello, world"[..])
            .await
            .unwrap();
        assert_eq!(written.size, 12);
        assert_eq!(
            written.sha256,
            "09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b"
        );
        assert_eq!(
            read_all(&broker, "a/b/hello.txt", None).await,
            b"hello, world"
        );
        assert_eq!(
            read_all(&broker, "a/b/hello.txt", Some(7..12)).await,
            b"world"
        );
        broker.copy("a/b/hello.txt", "c/copy.txt").await.unwrap();
        broker.rename("c/copy.txt", "d/moved.txt").await.unwrap();
        let listed: Vec<String> = broker
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.path)
            .collect();
        assert_eq!(listed, ["a/b/hello.txt", "d/moved.txt"]);
        assert_eq!(broker.list("a/").await.unwrap().len(), 1);
        assert_eq!(broker.stat("d/moved.txt").await.unwrap().size, 12);
        broker.delete("d/moved.txt").await.unwrap();
        broker.delete("d/moved.txt").await.unwrap();
        assert!(matches!(
            broker.stat("d/moved.txt").await,
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(
            broker.presigned_url("a/b/hello.txt", 60).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn nothing_outside_the_root_is_reached() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked-dir")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            dir.path().join("linked.txt"),
        )
        .unwrap();
        let broker = HostBroker::new(dir.path().to_path_buf());
        for path in [
            "../secret.txt",
            "/etc/passwd",
            "linked-dir/secret.txt",
            "linked.txt",
        ] {
            assert!(
                matches!(broker.stat(path).await, Err(StorageError::BadPath(_))),
                "{path} was reached"
            );
            assert!(broker.read(path, None).await.is_err(), "{path} was read");
        }
        assert!(matches!(
            broker.write("linked-dir/new.txt", &mut &b"x"[..]).await,
            Err(StorageError::BadPath(_))
        ));
        assert!(!outside.path().join("new.txt").exists());
        assert!(broker.delete("linked.txt").await.is_err());
        assert!(outside.path().join("secret.txt").exists());
        assert!(
            broker.list("").await.unwrap().is_empty(),
            "links are listed"
        );
        assert!(broker.list("linked-dir").await.is_err());
    }
}
