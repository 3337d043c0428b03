//! The local job workspace: job directories under one root directory (`workspace.root`,
//! shared by replicas through NFS or the like), served where the jobs wrote them.

use super::staging::{stage_inputs, StagingError, StagingLimits};
use super::JobWorkspace;
use crate::domain::{ExecuteRequest, JobId, Process};
use async_trait::async_trait;
use seed::contract::Invocation;
use std::path::{Component, Path, PathBuf};

/// Job directories directly under one root directory, created on demand.
#[derive(Debug, Clone)]
pub struct LocalWorkspace {
    root: PathBuf,
}

impl LocalWorkspace {
    pub fn new(root: PathBuf) -> Self {
        LocalWorkspace { root }
    }
}

#[async_trait]
impl JobWorkspace for LocalWorkspace {
    fn root(&self) -> &Path {
        &self.root
    }

    fn unreachable_message(&self, id: &JobId) -> String {
        format!(
            "The files of job {id} are not in this server's job workspace ({}): another \
             replica ran the job and this one does not share its workspace. Replicas sharing \
             a database must share one workspace directory (workspace.root, \
             ADES__WORKSPACE__ROOT, e.g. on NFS); until then, ask the replica that ran it.",
            self.root.display()
        )
    }

    async fn stage_inputs(
        &self,
        id: &JobId,
        process: &Process,
        request: &ExecuteRequest,
        client: &reqwest::Client,
        limits: &StagingLimits,
    ) -> Result<Invocation, StagingError> {
        let inputs = self.inputs_dir(id);
        let outputs = self.outputs_dir(id);
        for dir in [&inputs, &outputs] {
            recreate_dir(dir)
                .await
                .map_err(|e| StagingError::Io(format!("{}: {e}", dir.display())))?;
        }
        stage_inputs(process, request, self.root(), &inputs, client, limits).await
    }

    /// Nothing moves: outputs are served from where the job wrote them.
    async fn publish_outputs(&self, _id: &JobId) -> Result<(), String> {
        Ok(())
    }

    fn open_output(&self, id: &JobId, relative: &str) -> Option<std::fs::File> {
        open_inside(&self.outputs_dir(id), Path::new(relative))
    }

    fn list_outputs(&self, id: &JobId) -> Vec<String> {
        let root = self.outputs_dir(id);
        // The outputs directory itself must not be a link either (as for open_output).
        if !std::fs::symlink_metadata(&root).is_ok_and(|meta| meta.is_dir()) {
            return Vec::new();
        }
        let mut files = Vec::new();
        list_files_under(&root, &root, &mut files);
        files.sort();
        files
    }
}

/// An empty directory at `dir`, whatever was there.
async fn recreate_dir(dir: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_dir_all(dir).await {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    tokio::fs::create_dir_all(dir).await
}

/// Adds the regular files under `dir` to `files` as paths relative to `root`, never
/// following a symbolic link.
fn list_files_under(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => list_files_under(root, &path, files),
            Ok(kind) if kind.is_file() => {
                if let Ok(relative) = path.strip_prefix(root) {
                    files.push(relative.to_string_lossy().into_owned());
                }
            }
            _ => {}
        }
    }
}

/// Opens `relative` under `root` with the no-escape rule of [`JobWorkspace::open_output`].
pub fn open_inside(root: &Path, relative: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !std::fs::symlink_metadata(root).ok()?.is_dir() {
        return None;
    }
    let parts: Vec<_> = relative.components().collect();
    if parts.is_empty() {
        return None;
    }
    let mut path = root.to_path_buf();
    for (i, part) in parts.iter().enumerate() {
        let Component::Normal(name) = part else {
            return None;
        };
        path.push(name);
        // `symlink_metadata` looks at the component itself, not at what a link points to,
        // so a link anywhere in the path (not only at its end) stops the walk.
        let kind = std::fs::symlink_metadata(&path).ok()?.file_type();
        let wanted = if i + 1 == parts.len() {
            kind.is_file()
        } else {
            kind.is_dir()
        };
        if !wanted {
            return None;
        }
    }
    // O_NOFOLLOW refuses a last component swapped for a link since the walk; O_NONBLOCK
    // keeps a swapped-in FIFO from blocking the open (it changes nothing for a file).
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .ok()?;
    if !file.metadata().ok()?.is_file() || !opened_inside(&file, root) {
        return None;
    }
    Some(file)
}

/// Whether the kernel's name for what `file` opened lies under `root`. The walk and the
/// open are separate steps, and a job that still runs could swap a directory for a link
/// in between; `/proc/self/fd` tells what was really opened. Without `/proc` (not Linux)
/// the walk's checks stand alone.
fn opened_inside(file: &std::fs::File, root: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let fd_dir = Path::new("/proc/self/fd");
    match std::fs::read_link(fd_dir.join(file.as_raw_fd().to_string())) {
        Ok(real) => root
            .canonicalize()
            .map(|root| real.starts_with(root))
            .unwrap_or(false),
        Err(_) => !fd_dir.is_dir(),
    }
}

/// Removes every symbolic link under `dir` (at any depth, never following one) and returns
/// each as `relative path -> target`, so the caller can say so in the job's log. Outputs are
/// never published through links (the Seed capture skips them, [`open_inside`] refuses
/// them); removing them too means no later reader of the directory can be led outside it.
pub fn remove_symlinks(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    remove_symlinks_under(dir, dir, &mut removed);
    removed.sort();
    removed
}

fn remove_symlinks_under(root: &Path, dir: &Path, removed: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            if std::fs::remove_file(&path).is_ok() {
                let shown = path.strip_prefix(root).unwrap_or(&path).display();
                removed.push(format!("{shown} -> {target}"));
            }
        } else if kind.is_dir() {
            remove_symlinks_under(root, &path, removed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::Workspace;

    #[test]
    fn output_files_cannot_escape_the_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let id = JobId::new();
        let outputs = ws.outputs_dir(&id);
        std::fs::create_dir_all(outputs.join("sub")).unwrap();
        std::fs::write(outputs.join("sub/a.txt"), "a").unwrap();
        std::fs::write(ws.job_dir(&id).join("secret.txt"), "s").unwrap();
        assert!(ws.open_output(&id, "sub/a.txt").is_some());
        assert!(ws.open_output(&id, "../secret.txt").is_none());
        assert!(ws.open_output(&id, "sub/../../secret.txt").is_none());
        assert!(ws.open_output(&id, "/etc/passwd").is_none());
        assert!(ws.open_output(&id, "sub").is_none());
        assert!(ws.open_output(&id, "").is_none());
        std::os::unix::fs::symlink("/etc/passwd", outputs.join("link")).unwrap();
        assert!(ws.open_output(&id, "link").is_none());
        // A link to a directory in the middle of the path: the escape of the security
        // report (`ln -s / $OUTPUT_DIR/root`, then `.../outputs/root/etc/passwd`).
        std::os::unix::fs::symlink("/", outputs.join("root")).unwrap();
        assert!(ws.open_output(&id, "root/etc/passwd").is_none());
        std::os::unix::fs::symlink(ws.job_dir(&id), outputs.join("up")).unwrap();
        assert!(ws.open_output(&id, "up/secret.txt").is_none());
        // A link inside the outputs to a file inside them is refused too: links are never
        // published.
        std::os::unix::fs::symlink(outputs.join("sub"), outputs.join("alias")).unwrap();
        assert!(ws.open_output(&id, "alias/a.txt").is_none());
    }

    #[test]
    fn listed_outputs_are_the_files_open_output_opens() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let id = JobId::new();
        assert!(ws.list_outputs(&id).is_empty(), "no outputs directory yet");
        let outputs = ws.outputs_dir(&id);
        std::fs::create_dir_all(outputs.join("sub/deeper")).unwrap();
        std::fs::write(outputs.join("b.txt"), "b").unwrap();
        std::fs::write(outputs.join("sub/deeper/a.txt"), "a").unwrap();
        std::fs::create_dir_all(outputs.join("empty")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", outputs.join("link")).unwrap();
        std::os::unix::fs::symlink("/", outputs.join("root")).unwrap();
        let listed = ws.list_outputs(&id);
        assert_eq!(listed, ["b.txt", "sub/deeper/a.txt"]);
        for file in &listed {
            assert!(ws.open_output(&id, file).is_some(), "{file}");
        }
    }

    #[test]
    fn the_outputs_directory_itself_must_not_be_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let id = JobId::new();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("a.txt"), "a").unwrap();
        std::fs::create_dir_all(ws.job_dir(&id)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, ws.outputs_dir(&id)).unwrap();
        assert!(ws.open_output(&id, "a.txt").is_none());
    }

    #[test]
    fn symlinks_are_removed_at_any_depth_without_following_them() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.txt"), "k").unwrap();
        let out = dir.path();
        std::fs::create_dir_all(out.join("a/b")).unwrap();
        std::fs::write(out.join("a/b/file.txt"), "f").unwrap();
        std::os::unix::fs::symlink("/", out.join("root")).unwrap();
        std::os::unix::fs::symlink(outside.path(), out.join("a/b/dir")).unwrap();
        std::os::unix::fs::symlink("file.txt", out.join("a/b/same")).unwrap();
        let removed = remove_symlinks(out);
        assert_eq!(
            removed,
            vec![
                "a/b/dir -> ".to_string() + &outside.path().display().to_string(),
                "a/b/same -> file.txt".to_string(),
                "root -> /".to_string(),
            ]
        );
        assert!(out.join("a/b/file.txt").is_file());
        assert!(
            outside.path().join("keep.txt").is_file(),
            "a link's target is untouched"
        );
        assert!(std::fs::symlink_metadata(out.join("root")).is_err());
    }
}
