//! Scheduling as clients and operators see it: a bounded queue answering 503 with
//! `Retry-After` on every façade, jobs too large for every worker refused at submission,
//! priorities, the worker pools in `/health`, and an API-only server with an `ades worker`
//! on one PostgreSQL database.

use crate::app::{spawn_app_with, TestApp};
use crate::support::{
    example_image, free_port, get_json, shell_job_image, wait_final, PostgresTestDatabase,
};
use crate::xsd::{assert_valid_xml, Schema};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a job gets to become final.
const FINAL_WITHIN: Duration = Duration::from_secs(90);

const QUICK: &str =
    "echo q > $OUTPUT_DIR/one-q.txt && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";

async fn execute(app: &TestApp, process: &str, query: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/processes/{process}/execution{query}")))
        .header("Prefer", "respond-async")
        .json(body)
        .send()
        .await
        .expect("POST execute")
}

/// Waits until `/health` lists `count` live worker pools; returns the health document.
async fn wait_for_live_workers(client: &reqwest::Client, base: &str, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = get_json(client, &format!("{base}/health")).await;
        let live = health["workers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["state"] == "live")
            .count();
        if live == count {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "workers never registered: {health:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after_on_every_facade() {
    shell_job_image();
    let app = spawn_app_with(|s| {
        s.queue.workers = 0;
        s.queue.max_queued = 2;
    })
    .await;
    let body = json!({"inputs": {"SCRIPT": QUICK}});
    for _ in 0..2 {
        let accepted = execute(&app, "ades-it-shell", "", &body).await;
        assert_eq!(accepted.status(), StatusCode::CREATED);
    }

    let refused = execute(&app, "ades-it-shell", "", &body).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "10");
    let exception: Value = refused.json().await.unwrap();
    assert_eq!(exception["type"], "urn:ades:error:queue-full");
    let detail = exception["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 jobs are waiting") && detail.contains("queue.max_queued"),
        "{detail}"
    );

    // WPS 2.0 (POST XML) and WPS 1.0.0 (KVP) answer ServerBusy with the same status.
    let wps2 = format!(
        r#"<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0" service="WPS" version="2.0.0" mode="async" response="document">
  <ows:Identifier>ades-it-shell</ows:Identifier>
  <wps:Input id="SCRIPT"><wps:Data><wps:LiteralValue>{}</wps:LiteralValue></wps:Data></wps:Input>
</wps:Execute>"#,
        QUICK.replace('&', "&amp;").replace('>', "&gt;")
    );
    let answer = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(wps2)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    let xml = answer.text().await.unwrap();
    assert!(xml.contains(r#"exceptionCode="ServerBusy""#), "{xml}");
    assert_valid_xml(&xml, Schema::Ows2Exception);

    let kvp = app
        .client
        .get(app.url("/wps"))
        .query(&[
            ("service", "WPS"),
            ("version", "1.0.0"),
            ("request", "Execute"),
            ("identifier", "ades-it-shell"),
            ("DataInputs", "SCRIPT=true"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(kvp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let xml = kvp.text().await.unwrap();
    assert!(xml.contains(r#"exceptionCode="ServerBusy""#), "{xml}");
    assert_valid_xml(&xml, Schema::Ows11Exception);

    // The health document counts the queue.
    let health = get_json(&app.client, &app.url("/health")).await;
    assert_eq!(health["queuedJobs"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_job_larger_than_every_worker_is_refused_at_submission() {
    let echo = example_image("echo");
    shell_job_image();
    let app = spawn_app_with(|s| {
        s.queue.workers = 1;
        // echo declares mem 16 (MiB).
        s.queue.capacity_mem_mib = 8.0;
        s.queue.capacity_cpus = 2.0;
    })
    .await;
    let health = wait_for_live_workers(&app.client, &app.address, 1).await;
    let worker = &health["workers"][0];
    assert_eq!(worker["memMib"], 8.0, "{worker:#}");
    assert_eq!(worker["workers"], 1);

    let refused = execute(&app, "echo", "", &json!({"inputs": {"MESSAGE": "hi"}})).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{echo}");
    let exception: Value = refused.json().await.unwrap();
    assert_eq!(exception["type"], "urn:ades:error:insufficient-resources");
    let detail = exception["detail"].as_str().unwrap();
    assert!(
        detail.contains("16 MiB")
            && detail.contains("8 MiB")
            && detail.contains("queue.capacity_mem_mib"),
        "{detail}"
    );
    let jobs = get_json(&app.client, &app.url("/jobs")).await;
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        0,
        "nothing was queued"
    );

    // A process that fits is accepted and runs.
    let accepted = execute(
        &app,
        "ades-it-shell",
        "",
        &json!({"inputs": {"SCRIPT": QUICK}}),
    )
    .await;
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let location = accepted.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        wait_final(&app.client, &location, FINAL_WITHIN).await["status"],
        "successful"
    );
    app.stop().await;
}

#[tokio::test]
async fn higher_priority_jobs_run_first() {
    shell_job_image();
    let app = spawn_app_with(|s| s.queue.workers = 1).await;
    let bad = execute(&app, "ades-it-shell", "?priority=high", &json!({})).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let exception: Value = bad.json().await.unwrap();
    assert!(
        exception["detail"]
            .as_str()
            .unwrap()
            .contains("-1000 to 1000"),
        "{exception:#}"
    );

    // One worker, busy with a slow job while two more are queued.
    let slow = "sleep 2 && ".to_string() + QUICK;
    let submit = |query: &'static str, script: String| {
        let app = &app;
        async move {
            let response = execute(
                app,
                "ades-it-shell",
                query,
                &json!({"inputs": {"SCRIPT": script}}),
            )
            .await;
            assert_eq!(response.status(), StatusCode::CREATED);
            response.headers()["location"].to_str().unwrap().to_string()
        }
    };
    let first = submit("", slow).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_json(&app.client, &first).await["status"] != "running" {
        assert!(Instant::now() < deadline, "the slow job never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let low = submit("", QUICK.to_string()).await;
    let high = submit("?priority=10", QUICK.to_string()).await;
    let low = wait_final(&app.client, &low, FINAL_WITHIN).await;
    let high = wait_final(&app.client, &high, FINAL_WITHIN).await;
    let started = |status: &Value| {
        time::OffsetDateTime::parse(
            status["started"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(
        started(&high) < started(&low),
        "high: {high:#}\nlow: {low:#}"
    );
    app.stop().await;
}

/// A child process of the `ades` binary, killed when dropped; its stderr in a file.
struct Replica {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Replica {
    fn start(args: &[&str], env: &[(&str, String)]) -> Replica {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ades"));
        command
            .args(args)
            .env("ADES__CATALOG__RESCAN_SECONDS", "0")
            .env("ADES__QUEUE__HEARTBEAT_SECONDS", "1")
            .env("ADES__QUEUE__LEASE_SECONDS", "5")
            // A long poll: only LISTEN/NOTIFY makes the worker start at once.
            .env("ADES__QUEUE__POLL_SECONDS", "30")
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap());
        for (name, value) in env {
            command.env(name, value);
        }
        Replica {
            child: command.spawn().expect("start ades"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ades serve --no-workers` and `ades worker` on one fresh PostgreSQL database, each
/// with its own data directory; with `shared`, both use one workspace root.
struct Split {
    server: Replica,
    worker: Replica,
    base: String,
    client: reqwest::Client,
    _database: PostgresTestDatabase,
    _dirs: Vec<tempfile::TempDir>,
}

impl Split {
    async fn start(shared: bool) -> Split {
        shell_job_image();
        let database = PostgresTestDatabase::create().await;
        let data = tempfile::tempdir().unwrap();
        let workspace = tempfile::tempdir().unwrap();
        let mut env = vec![("ADES__DATABASE__URL", database.url())];
        if shared {
            env.push((
                "ADES__WORKSPACE__ROOT",
                workspace.path().display().to_string(),
            ));
        }
        let port = free_port();
        let server_dir = data.path().join("server");
        let worker_dir = data.path().join("worker");
        let bind = format!("127.0.0.1:{port}");
        let server = Replica::start(
            &[
                "serve",
                "--no-workers",
                "--bind",
                &bind,
                "--data-dir",
                server_dir.to_str().unwrap(),
            ],
            &env,
        );
        let worker = Replica::start(
            &[
                "worker",
                "--workers",
                "2",
                "--data-dir",
                worker_dir.to_str().unwrap(),
            ],
            &env,
        );
        let base = format!("http://{bind}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{base}/health")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the server never came up:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_for_live_workers(&client, &base, 1).await;
        Split {
            server,
            worker,
            base,
            client,
            _database: database,
            _dirs: vec![data, workspace],
        }
    }

    /// Runs the quick script synchronously through the server; the results document, its
    /// file output by reference.
    async fn run_quick(&self) -> Value {
        let response = self
            .client
            .post(format!("{}/processes/ades-it-shell/execution", self.base))
            .json(&json!({
                "inputs": {"SCRIPT": QUICK},
                "outputs": {"ONE": {"transmissionMode": "reference"}, "COUNT": {}},
                "response": "document"
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{body:#}\nserver:\n{}\nworker:\n{}",
            self.server.log(),
            self.worker.log()
        );
        body
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_only_server_and_a_worker_share_a_postgres_queue() {
    let split = Split::start(true).await;
    let health = get_json(&split.client, &format!("{}/health", split.base)).await;
    assert_eq!(health["workers"][0]["workers"], 2, "{health:#}");

    // Synchronous: the server waits while the worker (another process) runs the job.
    let started = Instant::now();
    let body = split.run_quick().await;
    assert_eq!(body["COUNT"], 1, "{body:#}");
    // Woken by NOTIFY, not by the 30 s poll.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );

    // The output file is served by the API server from the shared workspace.
    let one = body["ONE"]["href"]
        .as_str()
        .expect("a link to the output file");
    let content = split.client.get(one).send().await.unwrap();
    assert_eq!(content.status(), StatusCode::OK);
    assert_eq!(content.text().await.unwrap(), "q\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_without_the_shared_workspace_says_so() {
    let split = Split::start(false).await;
    let body = split.run_quick().await;
    let one = body["ONE"]["href"]
        .as_str()
        .expect("a link to the output file");
    let job = one
        .split("/jobs/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    for url in [one.to_string(), format!("{}/jobs/{job}/logs", split.base)] {
        let answer = split.client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE, "{url}");
        let exception: Value = answer.json().await.unwrap();
        assert_eq!(exception["type"], "urn:ades:error:outputs-unreachable");
        let detail = exception["detail"].as_str().unwrap();
        assert!(
            detail.contains("workspace.root") && detail.contains(job),
            "{detail}"
        );
    }
}
