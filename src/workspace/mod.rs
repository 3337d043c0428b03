//! Where a job's files live: `<data dir>/jobs/<job id>/` holds `inputs/` (staged input
//! files), `outputs/` (the job's `OUTPUT_DIR`, published as its results) and `log.txt` (the
//! container's output). Staging inputs (inline, base64, http(s) references) is in
//! `staging.rs`.

pub mod staging;
pub mod url_guard;

use crate::domain::JobId;
use std::path::{Path, PathBuf};

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

    /// The published file at `relative` (a path the job's results name), if it lies inside
    /// the job's outputs and is a regular file; `None` for anything else (`..`, absolute
    /// paths, symlinks, missing files), so a URL can never reach outside the outputs.
    pub fn output_file(&self, id: &JobId, relative: &str) -> Option<PathBuf> {
        let relative = Path::new(relative);
        let clean = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !clean || relative.as_os_str().is_empty() {
            return None;
        }
        let path = self.outputs_dir(id).join(relative);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        meta.file_type().is_file().then_some(path)
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
        std::fs::create_dir_all(ws.outputs_dir(&id).join("sub")).unwrap();
        std::fs::write(ws.outputs_dir(&id).join("sub/a.txt"), "a").unwrap();
        std::fs::write(ws.job_dir(&id).join("secret.txt"), "s").unwrap();
        assert!(ws.output_file(&id, "sub/a.txt").is_some());
        assert!(ws.output_file(&id, "../secret.txt").is_none());
        assert!(ws.output_file(&id, "/etc/passwd").is_none());
        assert!(ws.output_file(&id, "sub").is_none());
        assert!(ws.output_file(&id, "").is_none());
        std::os::unix::fs::symlink("/etc/passwd", ws.outputs_dir(&id).join("link")).unwrap();
        assert!(ws.output_file(&id, "link").is_none());
    }
}
