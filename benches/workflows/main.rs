//! Workflow overheads, on the real Docker engine:
//!
//! 1. Per step: a recipe of 20 no-op steps in a chain (each node the echo example, after
//!    the previous one) against the same 20 echo jobs submitted one after another by a
//!    client that waits for each; the difference divided by 20 is what a step costs over a
//!    job (the driver's pass, the step's insert, the hand-over to a worker).
//! 2. Per remote step: on instance A, a recipe whose one node runs the echo example on
//!    instance B (`[remotes.b]`), against the same echo job executed directly on B by a
//!    client; the difference is what going through A costs (description already fetched
//!    at deploy: the submission, the polls with back-off from `poll_seconds`, the results
//!    and their file fetched into A).
//!
//! Run: `cargo bench --bench workflows` (needs Docker and busybox-static; builds the
//! release binary). `ADES_BENCH_BIN=target/debug/ades` uses another binary, `ADES_BENCH_RUNS`
//! sets the runs per measure (default 5, the median is shown), `ADES_BENCH_POLL` the
//! remote's `poll_seconds` (default 0.25).

#[path = "../common/mod.rs"]
mod common;

use common::{build_ades, env_or, get_json, must, Server};

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-workflows-token";
const STEPS: usize = 20;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let ades = match std::env::var("ADES_BENCH_BIN") {
        Ok(bin) => root.join(bin),
        Err(_) => build_ades(&root),
    };
    let runs: usize = env_or("ADES_BENCH_RUNS", 5);
    let poll: f64 = env_or("ADES_BENCH_POLL", 0.25);
    must(Command::new("bash").arg(root.join("examples/base/build.sh")));
    must(
        Command::new(&ades)
            .args(["seed", "build"])
            .arg(root.join("examples/echo")),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(&ades, runs, poll));
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn run(ades: &Path, runs: usize, poll: f64) {
    let client = reqwest::Client::new();
    let dir_b = tempfile::tempdir().expect("a data directory");
    let b = Server::start(ades, dir_b.path(), &[], &[("ADES__QUEUE__WORKERS", "4")]);
    b.wait_up().await;
    let dir_a = tempfile::tempdir().expect("a data directory");
    let config = dir_a.path().join("ades.toml");
    std::fs::write(
        &config,
        format!(
            "[queue]\nallow_private_urls = true\nworkers = 4\n\
             [remotes.b]\nurl = {:?}\npoll_seconds = {poll}\n",
            b.base
        ),
    )
    .expect("write the configuration");
    let data_a = dir_a.path().join("data");
    std::fs::create_dir(&data_a).expect("a data directory");
    let a = Server::start(
        ades,
        &data_a,
        &["--config", config.to_str().unwrap()],
        &[("ADES__AUTH__ADMIN_TOKEN", TOKEN)],
    );
    a.wait_up().await;

    // 1. Per step.
    let mut nodes = serde_json::Map::new();
    for n in 1..=STEPS {
        let dependencies: Vec<Value> = if n == 1 {
            vec![]
        } else {
            vec![json!({"name": format!("s{}", n - 1)})]
        };
        nodes.insert(
            format!("s{n}"),
            json!({"dependencies": dependencies,
                   "input": {"MESSAGE": {"type": "literal", "value": format!("step {n}")}},
                   "node_type": {"node_type": "job", "job_type_name": "echo"}}),
        );
    }
    deploy(
        &client,
        &a.base,
        &json!({"name": "bench-chain", "title": "Twenty echoes",
        "definition": {"input": {}, "nodes": nodes}}),
    )
    .await;
    let mut chain = Vec::new();
    let mut jobs = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        run_job(&client, &a.base, "bench-chain", &json!({"inputs": {}})).await;
        chain.push(started.elapsed());
        let started = Instant::now();
        for n in 1..=STEPS {
            let body = json!({"inputs": {"MESSAGE": format!("step {n}")}});
            run_job(&client, &a.base, "echo", &body).await;
        }
        jobs.push(started.elapsed());
    }
    let (chain, jobs) = (median(chain), median(jobs));
    println!("| {STEPS} no-op steps | median of {runs} |");
    println!("| --- | --- |");
    println!(
        "| a recipe of {STEPS} chained steps | {:.2} s |",
        chain.as_secs_f64()
    );
    println!(
        "| {STEPS} jobs, one after another | {:.2} s |",
        jobs.as_secs_f64()
    );
    println!(
        "| overhead per step | {:.0} ms |",
        (chain.as_secs_f64() - jobs.as_secs_f64()) * 1e3 / STEPS as f64
    );

    // 2. Per remote step.
    deploy(
        &client,
        &a.base,
        &json!({"name": "bench-remote", "title": "Echo on B",
        "definition": {"input": {"json": [{"name": "MESSAGE", "type": "string"}]}, "nodes": {
            "there": {"dependencies": [],
                      "input": {"MESSAGE": {"type": "recipe", "input": "MESSAGE"}},
                      "node_type": {"node_type": "job", "job_type_name": "b:echo"}}}}}),
    )
    .await;
    let body = json!({"inputs": {"MESSAGE": "hello"}});
    let mut direct = Vec::new();
    let mut through = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        run_job(&client, &b.base, "echo", &body).await;
        direct.push(started.elapsed());
        let started = Instant::now();
        run_job(&client, &a.base, "bench-remote", &body).await;
        through.push(started.elapsed());
    }
    let (direct, through) = (median(direct), median(through));
    println!();
    println!("| one echo job on B (poll_seconds {poll}) | median of {runs} |");
    println!("| --- | --- |");
    println!(
        "| executed directly on B | {:.0} ms |",
        direct.as_secs_f64() * 1e3
    );
    println!(
        "| as a remote step of a recipe on A | {:.0} ms |",
        through.as_secs_f64() * 1e3
    );
    println!(
        "| remote-step overhead | {:.0} ms |",
        (through.as_secs_f64() - direct.as_secs_f64()) * 1e3
    );
}

async fn deploy(client: &reqwest::Client, base: &str, recipe: &Value) {
    let response = client
        .post(format!("{base}/processes"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/vnd.ades.recipe+json")
        .body(recipe.to_string())
        .send()
        .await
        .expect("deploy");
    let status = response.status();
    assert!(
        status.is_success(),
        "deploy: {status} {}",
        response.text().await.unwrap_or_default()
    );
}

/// Submits asynchronously and polls every 20 ms until the job succeeded.
async fn run_job(client: &reqwest::Client, base: &str, process: &str, body: &Value) {
    let response = client
        .post(format!("{base}/processes/{process}/execution"))
        .header("Prefer", "respond-async")
        .json(body)
        .send()
        .await
        .expect("submit");
    let submitted: Value = response.json().await.expect("a status document");
    let id = submitted["jobID"].as_str().expect("a job id").to_string();
    loop {
        let status = get_json(client, &format!("{base}/jobs/{id}")).await;
        match status["status"].as_str().unwrap_or("") {
            "successful" => return,
            "failed" | "dismissed" => panic!("job {id} of {process}: {status}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
