//! How long a line a container writes takes to reach a client of the log's event stream
//! (`GET /jobs/{id}/logs` with `Accept: text/event-stream`).
//!
//! The container and this process share one kernel, so both read the same clock: the job
//! prints `/proc/uptime` (10 ms resolution) every 300 ms, and each line's delay is this
//! process's uptime when the event arrives minus the one printed. Reports the median, the
//! 95th percentile and the worst over all lines of `ADES_BENCH_JOBS` jobs (default 3).
//!
//! Run: `cargo bench --bench sse_latency` (needs Docker and busybox-static; builds what it
//! needs).

mod common;

use common::{build_ades, env_or, must, Server};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LINES: usize = 20;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let jobs: usize = env_or("ADES_BENCH_JOBS", 3);
    let ades = build_ades(&root);
    must(Command::new("bash").arg(root.join("examples/base/build.sh")));
    let image_dir = tempfile::tempdir().expect("a build dir");
    write_clock_image(image_dir.path());
    must(
        Command::new(&ades)
            .args(["seed", "build"])
            .arg(image_dir.path()),
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let data = tempfile::tempdir().expect("a data dir");
    let server = Server::start(&ades, data.path(), &[], &[]);
    let delays = runtime.block_on(async {
        server.wait_up().await;
        let mut delays = Vec::new();
        for _ in 0..jobs {
            delays.extend(one_job(&server.base).await);
        }
        delays
    });
    let mut sorted = delays.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!("| measurement | result |");
    println!("| --- | --- |");
    println!(
        "| container line → SSE client ({} lines, {jobs} jobs) | median {:.0} ms, p95 {:.0} ms, worst {:.0} ms |",
        sorted.len(),
        at(0.5) * 1000.0,
        at(0.95) * 1000.0,
        sorted.last().copied().unwrap_or(f64::NAN) * 1000.0
    );
}

/// A Seed image that runs the shell script it is given (`SCRIPT`).
fn write_clock_image(dir: &Path) {
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM ades-busybox:latest\nENTRYPOINT [\"/bin/sh\"]\n",
    )
    .expect("write the Dockerfile");
    let manifest = serde_json::json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": "ades-bench-clock", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "Clock", "description": "Prints the kernel's uptime every 300 ms",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 60,
            "interface": {
                "command": "-c ${SCRIPT}",
                "inputs": {"json": [{"name": "SCRIPT", "type": "string"}]}
            }
        }
    });
    std::fs::write(dir.join("seed.manifest.json"), manifest.to_string())
        .expect("write the manifest");
}

/// Prints the kernel's uptime `LINES` times, 300 ms apart.
fn clock_script() -> String {
    format!(
        "for i in $(seq {LINES}); do echo \"clock $(cut -d ' ' -f1 /proc/uptime)\"; sleep 0.3; done"
    )
}

fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .expect("read /proc/uptime")
}

/// Runs one clock job and returns each line's delay in seconds.
async fn one_job(base: &str) -> Vec<f64> {
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/processes/ades-bench-clock/execution"))
        .header("prefer", "respond-async")
        .json(&serde_json::json!({ "inputs": { "SCRIPT": clock_script() } }))
        .send()
        .await
        .expect("submit");
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );
    let job = created.headers()["location"]
        .to_str()
        .expect("a Location")
        .to_string();
    let response = client
        .get(format!("{job}/logs"))
        .header("accept", "text/event-stream")
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("open the stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut delays = Vec::new();
    while let Some(chunk) = body.next().await {
        let arrived = uptime();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("a chunk")));
        while let Some(at) = text.find("\n\n") {
            let block: String = text.drain(..at + 2).collect();
            if block.contains("event: end") {
                return delays;
            }
            if let Some(printed) = block
                .lines()
                .find_map(|l| l.strip_prefix("data: clock "))
                .and_then(|v| v.trim().parse::<f64>().ok())
            {
                delays.push(arrived - printed);
            }
        }
    }
    delays
}
