//! Where a job's files live: `<data dir>/jobs/<job id>/` holds `inputs/` (staged input
//! files), `outputs/` (the job's `OUTPUT_DIR`, published as its results) and `log.txt` (the
//! container's output). Staging inputs (inline, base64, http(s) references) is in
//! `staging.rs`.

pub mod staging;

use crate::domain::JobId;
use std::path::{Component, Path, PathBuf};

/// The job directories' parent under the data directory, unless `workspace.root` says
/// otherwise.
pub const DEFAULT_DIR: &str = "jobs";

/// The directory layout under the data directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// `data_dir/jobs` is created on demand.
    pub fn new(data_dir: &Path) -> Self {
        Workspace::at(data_dir.join(DEFAULT_DIR))
    }

    /// Job directories directly under `root` (created on demand): the configured
    /// `workspace.root`, which replicas sharing a database share.
    pub fn at(root: PathBuf) -> Self {
        Workspace { root }
    }

    /// The directory holding the job directories.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn job_dir(&self, id: &JobId) -> PathBuf {
        self.root.join(id.as_str())
    }

    pub fn inputs_dir(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("inputs")
    }

    pub fn outputs_dir(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("outputs")
    }

    pub fn log_file(&self, id: &JobId) -> PathBuf {
        self.job_dir(id).join("log.txt")
    }

    /// Whether this process sees the job's directory at all. A replica that does not share
    /// the workspace of the one that ran the job does not.
    pub fn has_job_dir(&self, id: &JobId) -> bool {
        self.job_dir(id).is_dir()
    }

    /// What to tell a client asking this process for the files of a job it cannot see.
    pub fn unreachable_message(&self, id: &JobId) -> String {
        format!(
            "The files of job {id} are not in this server's job workspace ({}): another \
             replica ran the job and this one does not share its workspace. Replicas sharing \
             a database must share one workspace directory (workspace.root, \
             ADES__WORKSPACE__ROOT, e.g. on NFS); until then, ask the replica that ran it.",
            self.root.display()
        )
    }

    /// Opens the published file at `relative` (a path the job's results name) for reading,
    /// if it is a regular file inside the job's outputs reached without following any
    /// symbolic link; `None` for anything else (`..`, absolute paths, links at any depth,
    /// directories, missing files). This is the one way ades serves a job's file, so a URL
    /// can never reach outside the job's outputs, whatever the job left there.
    pub fn open_output(&self, id: &JobId, relative: &str) -> Option<std::fs::File> {
        open_inside(&self.outputs_dir(id), Path::new(relative))
    }
}

/// Opens `relative` under `root` with the no-escape rule of [`Workspace::open_output`].
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
