//! `ades serve` as a whole: the README's newcomer flow over real HTTP with real containers,
//! surviving SIGKILL, and many concurrent submissions.

use crate::support::{
    example_image, free_port, get_json, shell_job_image, spawn_app, spawn_app_with, submit_async,
    wait_final,
};
use reqwest::StatusCode;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FINAL: [&str; 3] = ["successful", "failed", "dismissed"];

#[tokio::test(flavor = "multi_thread")]
async fn a_newcomer_lists_runs_sync_and_async_and_downloads_the_output() {
    let image = example_image("io-demo");
    let app = spawn_app().await;
    let client = &app.client;

    let processes = get_json(client, &app.url("/processes?limit=100")).await;
    let ids: Vec<&str> = processes["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"io-demo"), "{ids:?} ({image})");
    let description = get_json(client, &app.url("/processes/io-demo")).await;
    assert!(
        description["inputs"]["INPUT_FILE"].is_object(),
        "{description:#}"
    );

    // Synchronous, raw, one output: the body is the file.
    let text = "Hello from a newcomer\n";
    let body = json!({ "inputs": { "INPUT_FILE": text } });
    let response = client
        .post(app.url("/processes/io-demo/execution"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), text);

    // Asynchronous, results as a document with a link to the file.
    let body = json!({
        "inputs": { "INPUT_FILE": text },
        "outputs": { "OUTPUT_FILE": { "transmissionMode": "reference" } },
        "response": "document"
    });
    let location = submit_async(client, &app.url("/processes/io-demo/execution"), &body).await;
    assert!(location.starts_with(&app.address), "absolute: {location}");
    let status = wait_final(client, &location, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let results = get_json(client, &format!("{location}/results")).await;
    let href = results["OUTPUT_FILE"]["href"].as_str().expect("href");
    let download = client.get(href).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.text().await.unwrap(), text);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_async_submissions_from_eight_clients_all_finish() {
    example_image("echo");
    let app = spawn_app_with(|s| s.queue.workers = 2).await;
    let url = app.url("/processes/echo/execution");
    let mut clients = Vec::new();
    for client_no in 0..8 {
        let client = app.client.clone();
        let url = url.clone();
        clients.push(tokio::spawn(async move {
            let mut locations = Vec::new();
            for n in 0..25 {
                let body =
                    json!({ "inputs": { "MESSAGE": format!("client {client_no} job {n}") } });
                let location = submit_async(&client, &url, &body).await;
                // The first poll always finds the job: it was durable before the 201.
                let first = client.get(&location).send().await.unwrap();
                assert_eq!(first.status(), StatusCode::OK, "{location}");
                locations.push(location);
            }
            locations
        }));
    }
    let mut locations = Vec::new();
    for client in clients {
        locations.extend(client.await.unwrap());
    }
    assert_eq!(locations.len(), 200);
    for location in &locations {
        let status = wait_final(&app.client, location, Duration::from_secs(300)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
    }
    app.stop().await;
}

fn start_server(port: u16, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ades"))
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("ADES__QUEUE__LEASE_SECONDS", "4")
        .env("ADES__QUEUE__HEARTBEAT_SECONDS", "1")
        .env("ADES__QUEUE__POLL_SECONDS", "1")
        .env("ADES__CATALOG__RESCAN_SECONDS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ades serve")
}

async fn wait_until_up(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_and_restart_leave_every_job_in_a_truthful_state() {
    let image = shell_job_image();
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start_server(port, data.path());
    wait_until_up(&client, &base).await;
    let url = format!("{base}/processes/ades-it-shell/execution");
    let quick =
        "echo q > $OUTPUT_DIR/one-q.txt && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    let slow = "sleep 6 && echo s > $OUTPUT_DIR/one-s.txt && echo '{\"COUNT\": 2}' > $OUTPUT_DIR/seed.outputs.json";

    let quick_job = submit_async(&client, &url, &json!({"inputs": {"SCRIPT": quick}})).await;
    let quick_status = wait_final(&client, &quick_job, Duration::from_secs(60)).await;
    assert_eq!(quick_status["status"], "successful");
    let slow_jobs = [
        submit_async(&client, &url, &json!({"inputs": {"SCRIPT": slow}})).await,
        submit_async(&client, &url, &json!({"inputs": {"SCRIPT": slow}})).await,
    ];
    // Wait until both slow jobs run, then kill the server without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut running = 0;
        for job in &slow_jobs {
            if get_json(&client, job).await["status"] == "running" {
                running += 1;
            }
        }
        if running == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "slow jobs never ran ({image})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().unwrap();

    let mut server = start_server(port, data.path());
    wait_until_up(&client, &base).await;
    // The finished job is untouched; the interrupted ones are taken over to success.
    let again = get_json(&client, &quick_job).await;
    assert_eq!(again["status"], "successful");
    for job in &slow_jobs {
        let status = wait_final(&client, job, Duration::from_secs(90)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
    }
    let jobs = get_json(&client, &format!("{base}/jobs?limit=100")).await;
    for job in jobs["jobs"].as_array().unwrap() {
        assert!(FINAL.contains(&job["status"].as_str().unwrap()), "{job:#}");
    }
    // No container of the interrupted runs survives: the attempts that took them over
    // remove them once the jobs' ends are recorded.
    for job in &slow_jobs {
        let id = job.rsplit('/').next().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("label=org.ades.job-id={id}"))
                .output()
                .unwrap();
            if String::from_utf8_lossy(&left.stdout).trim().is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "containers of {id} remain");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_complete_example_runs_hardened_behind_the_api() {
    // The complete example checks its contract from inside (exit 10 if any item fails, the
    // non-root user and the read-only root among them) and writes what it found into
    // summary.txt, downloaded here over HTTP.
    example_image("complete");
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o777)).unwrap();
    let reference = crate::support::repo_root().join("examples/complete/sample/reference");
    let scratch_dir = scratch.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        let process = s.processes.entry("complete".to_string()).or_default();
        process.settings.insert("MODE".into(), "plain".into());
        process
            .settings
            .insert("API_TOKEN".into(), "not-a-real-token".into());
        process.mounts.insert("REFERENCE".into(), reference);
        process.mounts.insert("SCRATCH".into(), scratch_dir);
    })
    .await;
    let body = json!({
        "inputs": {
            "INPUT_FILES": ["first line\nsecond line\n", "another file\n"],
            "LABEL": "served",
            "FACTOR": 2,
            "UPPERCASE": false
        },
        "outputs": { "SUMMARY": { "transmissionMode": "reference" } },
        "response": "document"
    });
    let location = submit_async(
        &app.client,
        &app.url("/processes/complete/execution"),
        &body,
    )
    .await;
    let status = wait_final(&app.client, &location, Duration::from_secs(120)).await;
    let log = app
        .client
        .get(format!("{location}/logs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap_or_default();
    assert_eq!(status["status"], "successful", "{status:#}\n{log}");
    let results = get_json(&app.client, &format!("{location}/results")).await;
    let href = results["SUMMARY"]["href"].as_str().expect("href");
    let summary = app.client.get(href).send().await.unwrap();
    assert_eq!(summary.status(), StatusCode::OK);
    let summary = summary.text().await.unwrap();
    assert!(summary.contains("total lines: 3"), "{summary}");
    crate::run::assert_hardened_summary(&summary);
    assert!(scratch.path().join("complete-last-run.txt").exists());
    app.stop().await;
}
