//! Guards of the rooms of `src/` (ARCHITECTURE.md): the façades share `crate::http`, the
//! core and `crate::auth`, and never each other. The test reads the source tree and names
//! every file and line that crosses the line.
//!
//! Not asserted yet (a later step moves the Docker engine behind `crate::runner`): the
//! modules outside `src/runner/` that still use `bollard` are `src/catalog/mod.rs`,
//! `src/deploy/mod.rs`, `src/deploy/resolve.rs`, `src/images/mod.rs`,
//! `src/images/push.rs`, `src/queue/capacity.rs`, `src/queue/sweep.rs`,
//! `src/cli/run_cmd.rs`, `src/cli/seed_cmd.rs`, `src/error.rs` and `src/startup.rs`.

use crate::support::repo_root;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `file:line: text` for every line of a file under `dir` that mentions one of `forbidden`,
/// paths relative to `root`.
fn crossings(root: &Path, dir: &str, forbidden: &[&str]) -> Vec<String> {
    let files = rust_files(&root.join(dir));
    assert!(
        !files.is_empty(),
        "{dir} holds no Rust file: was it moved? Update this guard."
    );
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (number, line) in text.lines().enumerate() {
            for needle in forbidden {
                if line.contains(needle) {
                    found.push(format!(
                        "{shown}:{}: {} ({needle})",
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn the_wps_facade_does_not_use_the_ogc_api_facade() {
    let found = crossings(
        &repo_root(),
        "src/wps",
        &["crate::api", "super::super::api"],
    );
    assert!(
        found.is_empty(),
        "src/wps/ must not use the OGC API façade (share crate::http, the core or \
         crate::auth instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_ogc_api_facade_does_not_use_the_wps_facade() {
    let found = crossings(&repo_root(), "src/api", &["crate::wps"]);
    assert!(
        found.is_empty(),
        "src/api/ must not use the WPS façade (share crate::http, the core or crate::auth \
         instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_guard_names_the_file_and_line_of_a_crossing() {
    // The scan itself, on a tree that crosses the line: it must not pass by accident.
    let root = tempfile::tempdir().expect("a temporary directory");
    let dir = root.path().join("src/wps/v2");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.rs"),
        "//! fine\nuse crate::http::AppState;\nuse crate::api::BaseUrl;\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "crate::api is not Rust\n").unwrap();
    let found = crossings(root.path(), "src/wps", &["crate::api", "super::super::api"]);
    assert_eq!(
        found,
        vec!["src/wps/v2/bad.rs:3: use crate::api::BaseUrl; (crate::api)".to_string()]
    );
}
