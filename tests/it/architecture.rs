//! Guards of the rooms of `src/` (ARCHITECTURE.md): the façades share `crate::http`, the
//! core and `crate::auth`, and never each other; only the Docker room
//! (`src/engine/docker/`) uses the Docker client (bollard), everything else goes through
//! the engine room's traits. The tests read the source tree and name every file and line
//! that crosses a line.

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
    crossings_in_code(root, dir, &[], forbidden, |line| line)
}

/// [`crossings`] outside the folders `except` (relative to `root`), looking only at what
/// `code` keeps of each line.
fn crossings_in_code(
    root: &Path,
    dir: &str,
    except: &[&str],
    forbidden: &[&str],
    code: impl Fn(&str) -> &str,
) -> Vec<String> {
    let excepted: Vec<PathBuf> = except.iter().map(|dir| root.join(dir)).collect();
    let files: Vec<PathBuf> = rust_files(&root.join(dir))
        .into_iter()
        .filter(|file| !excepted.iter().any(|dir| file.starts_with(dir)))
        .collect();
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
                if code(line).contains(needle) {
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

/// A line without its `//` comment (doc comments included): prose may name the Docker
/// client, code may not.
fn without_comment(line: &str) -> &str {
    line.split_once("//").map_or(line, |(code, _)| code)
}

/// Where the Docker client may be used.
const DOCKER_ROOM: &str = "src/engine/docker";

/// Every use of the Docker client outside the Docker room.
fn docker_client_crossings(root: &Path) -> Vec<String> {
    crossings_in_code(root, "src", &[DOCKER_ROOM], &["bollard"], without_comment)
}

#[test]
fn only_the_docker_room_uses_the_docker_client() {
    let found = docker_client_crossings(&repo_root());
    assert!(
        found.is_empty(),
        "only {DOCKER_ROOM}/ may use bollard (go through crate::engine's ContainerRunner and \
         ImageStore instead, or add what is missing to them and implement it there):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_docker_guard_names_the_file_and_line_of_a_crossing() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let room = root.path().join(DOCKER_ROOM);
    std::fs::create_dir_all(&room).unwrap();
    std::fs::write(room.join("run.rs"), "use bollard::Docker;\n").unwrap();
    let queue = root.path().join("src/queue");
    std::fs::create_dir_all(&queue).unwrap();
    std::fs::write(
        queue.join("sweep.rs"),
        "//! Not bollard itself.\nuse crate::engine::ContainerRunner; // unlike bollard\n\
         async fn f(d: &bollard::Docker) {}\n",
    )
    .unwrap();
    assert_eq!(
        docker_client_crossings(root.path()),
        vec!["src/queue/sweep.rs:3: async fn f(d: &bollard::Docker) {} (bollard)".to_string()]
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
