//! `ades serve` under load: requests/s and latency of the landing page, the process list,
//! a process description, and WPS GetCapabilities and DescribeProcess; the rate of asynchronous submissions; resident memory idle
//! and under load; and the end-to-end latency of a synchronous execute of io-demo against a
//! plain `docker run` of the same image.
//!
//! Run: `cargo bench --bench serve` (needs Docker and busybox-static; builds what it needs).
//! `ADES_BENCH_SECONDS` sets the length of each throughput run (default 5), and
//! `ADES_BENCH_CONCURRENCY` the number of concurrent clients (default 16). The load comes
//! from this process, on the same machine as the server: the numbers are a floor.

mod common;

use common::{build_ades, must};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let seconds: u64 = env_or("ADES_BENCH_SECONDS", 5);
    let concurrency: usize = env_or("ADES_BENCH_CONCURRENCY", 16);
    let ades = build_ades(&root);
    must(Command::new("bash").arg(root.join("examples/base/build.sh")));
    for example in ["io-demo", "echo"] {
        must(
            Command::new(&ades)
                .args(["seed", "build"])
                .arg(root.join("examples").join(example)),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");

    println!("| measurement | result |");
    println!("| --- | --- |");

    // Reads and sync execution against a server with workers.
    let data = tempfile::tempdir().expect("a data dir");
    let (mut server, base) = start(&ades, data.path(), &[]);
    runtime.block_on(wait_up(&base));
    std::thread::sleep(Duration::from_secs(2));
    println!("| idle RSS | {:.1} MiB |", rss_mib(server.id()));
    let peak = Arc::new(PeakRss::new(server.id()));
    let sampler = peak.clone().spawn();
    for (name, path) in [
        ("GET /", "/"),
        ("GET /processes", "/processes"),
        ("GET /processes/io-demo", "/processes/io-demo"),
        (
            "WPS 2.0 GetCapabilities",
            "/wps?service=WPS&request=GetCapabilities&version=2.0.0",
        ),
        (
            "WPS 2.0 DescribeProcess",
            "/wps?service=WPS&version=2.0.0&request=DescribeProcess&identifier=io-demo",
        ),
        (
            "WPS 1.0.0 DescribeProcess",
            "/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=io-demo",
        ),
    ] {
        let stats = runtime.block_on(throughput(
            &format!("{base}{path}"),
            concurrency,
            Duration::from_secs(seconds),
        ));
        println!(
            "| {name} | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms |",
            stats.rate, stats.p50_ms, stats.p99_ms
        );
    }
    peak.stop();
    let _ = sampler.join();
    println!(
        "| RSS under read load (peak) | {:.1} MiB |",
        peak.peak_mib()
    );

    let (ades_ms, docker_ms) = runtime.block_on(sync_versus_docker(&base, &root, 20));
    println!("| sync execute of io-demo (median of 20) | {ades_ms:.1} ms |");
    println!("| `docker run --rm` of io-demo (median of 20) | {docker_ms:.1} ms |");
    println!(
        "| sync execute overhead over docker run | {:+.1} % |",
        (ades_ms / docker_ms - 1.0) * 100.0
    );
    stop(&mut server);

    // Submissions alone: no workers, so the store is what is measured.
    let data = tempfile::tempdir().expect("a data dir");
    let (mut server, base) = start(&ades, data.path(), &["--no-workers"]);
    runtime.block_on(wait_up(&base));
    let total = 2000;
    let rate = runtime.block_on(submit_rate(&base, 8, total));
    println!("| async submissions (8 clients, {total} jobs, SQLite) | {rate:.0} jobs/s |");
    println!(
        "| RSS after {total} submissions | {:.1} MiB |",
        rss_mib(server.id())
    );
    stop(&mut server);
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start(ades: &Path, data: &Path, extra: &[&str]) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(ades)
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .args(extra)
        .env("ADES__CATALOG__RESCAN_SECONDS", "0")
        .env("ADES__LOG__LEVEL", "warn")
        // One load generator stands for many clients: no per-address limit.
        .env("ADES__LIMITS__CLIENT_REQUESTS_IN_FLIGHT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ades serve");
    (child, format!("http://127.0.0.1:{port}"))
}

fn stop(server: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
}

async fn wait_up(base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resident memory of a process, MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Samples a process's RSS every 50 ms and keeps the peak.
struct PeakRss {
    pid: u32,
    peak_kib: std::sync::atomic::AtomicU64,
    done: AtomicBool,
}

impl PeakRss {
    fn new(pid: u32) -> Self {
        PeakRss {
            pid,
            peak_kib: 0.into(),
            done: AtomicBool::new(false),
        }
    }

    fn spawn(self: Arc<Self>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            while !self.done.load(Ordering::Relaxed) {
                let kib = (rss_mib(self.pid) * 1024.0) as u64;
                self.peak_kib.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    }

    fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    fn peak_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

struct Throughput {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `clients` concurrent keep-alive clients GET `url` for `length`.
async fn throughput(url: &str, clients: usize, length: Duration) -> Throughput {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .expect("a client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < length {
                let t = Instant::now();
                let response = client.get(&url).send().await.expect("GET");
                assert!(response.status().is_success());
                let _ = response.bytes().await.expect("body");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a load task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Throughput {
        rate: all.len() as f64 / elapsed,
        p50_ms: pick(0.50).as_secs_f64() * 1e3,
        p99_ms: pick(0.99).as_secs_f64() * 1e3,
    }
}

/// Medians (ms) of a synchronous execute of io-demo and of a plain `docker run` doing the
/// same work, alternating.
async fn sync_versus_docker(base: &str, root: &Path, runs: usize) -> (f64, f64) {
    let client = reqwest::Client::new();
    let input = root.join("examples/io-demo/sample/input.txt");
    let text = std::fs::read_to_string(&input).expect("the io-demo sample");
    let body = serde_json::json!({ "inputs": { "INPUT_FILE": text } });
    let url = format!("{base}/processes/io-demo/execution");
    let mut ades = Vec::new();
    let mut docker = Vec::new();
    for i in 0..=runs {
        let t = Instant::now();
        let response = client.post(&url).json(&body).send().await.expect("execute");
        assert!(response.status().is_success(), "{}", response.status());
        let _ = response.bytes().await;
        let ades_time = t.elapsed();

        let out = tempfile::tempdir().expect("an output dir");
        let t = Instant::now();
        must(
            Command::new("docker")
                .args(["run", "--rm", "--network", "none", "-v"])
                .arg(format!(
                    "{}:/seed/inputs/INPUT_FILE/input.txt:ro",
                    input.display()
                ))
                .arg("-v")
                .arg(format!("{}:/seed/outputs", out.path().display()))
                .args([
                    "io-demo-1.0.0-seed:1.0.0",
                    "/seed/inputs/INPUT_FILE/input.txt",
                    "/seed/outputs",
                ]),
        );
        let docker_time = t.elapsed();
        if i > 0 {
            ades.push(ades_time);
            docker.push(docker_time);
        }
    }
    (median_ms(&mut ades), median_ms(&mut docker))
}

fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

/// Jobs/s accepted (201) from `clients` concurrent clients submitting `total` echo jobs.
async fn submit_rate(base: &str, clients: usize, total: usize) -> f64 {
    let client = reqwest::Client::new();
    let url = format!("{base}/processes/echo/execution");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..total / clients {
                let body = serde_json::json!({ "inputs": { "MESSAGE": format!("{c}-{n}") } });
                let response = client
                    .post(&url)
                    .header("Prefer", "respond-async")
                    .json(&body)
                    .send()
                    .await
                    .expect("submit");
                assert_eq!(response.status().as_u16(), 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("a submit task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}
