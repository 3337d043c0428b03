//! What the benchmarks share: building the release binary, running a command that must
//! succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds `target/release/ades` and returns its path.
pub fn build_ades(root: &Path) -> PathBuf {
    must(
        Command::new(env!("CARGO"))
            .args(["build", "--release", "--bin", "ades"])
            .current_dir(root),
    );
    root.join("target/release/ades")
}

/// Runs `cmd`, its stdout discarded; panics with its stderr when it fails.
pub fn must(cmd: &mut Command) {
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("start a benchmark command");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
