//! `GET /metrics` over real HTTP after a real job: the whole text parses with a real
//! parser (Python's `prometheus_client`, OpenMetrics and the classic Prometheus text
//! parsers), the job is counted once as submitted and once as successful for its process,
//! and requests are counted under their route template, never their raw path.

use crate::app::{spawn_app, spawn_app_with, TestApp};
use crate::support::{build_seed_image, example_image, get_json, submit_async, wait_final};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Parses `text` with both parsers of `prometheus_client`; any error fails. Returns the
/// samples of the OpenMetrics parse as `{family, type, name, labels, value}`.
fn parse(text: &str) -> Vec<Value> {
    let python = std::env::var("ADES_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = "import sys, json\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om\n\
        from prometheus_client.parser import text_string_to_metric_families as classic\n\
        text = sys.stdin.read()\n\
        list(classic(text))\n\
        print(json.dumps([{'family': f.name, 'type': f.type, 'name': s.name,\n\
            'labels': s.labels, 'value': s.value} for f in om(text) for s in f.samples]))";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "{python} cannot import prometheus_client: run the tests through \
         scripts/test-all.sh, or pip install prometheus_client into ADES_TEST_PYTHON"
    );
    assert!(
        output.status.success(),
        "the metrics do not parse: {stderr}\n{text}"
    );
    serde_json::from_slice(&output.stdout).expect("the parser's JSON")
}

/// The value of the sample `name` whose labels include all of `labels`, if any.
fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][k].as_str() == Some(v))
        })
        .map(|s| s["value"].as_f64().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_a_real_job_and_the_requests_by_route_and_parse_as_prometheus_text() {
    example_image("io-demo");
    let app = spawn_app().await;
    let client = &app.client;
    let body = json!({
        "inputs": { "INPUT_FILE": "counted\n" },
        "outputs": { "OUTPUT_FILE": { "transmissionMode": "reference" } },
        "response": "document"
    });
    let location = submit_async(client, &app.url("/processes/io-demo/execution"), &body).await;
    let status = wait_final(client, &location, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let job = status["jobID"].as_str().unwrap().to_string();

    // The worker counts the end right after recording it, and lets the job go (the running
    // gauge) only after removing its container, so a client may see the final status a
    // moment before either: scrape until both are there.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, samples) = loop {
        let response = client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let media = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(media.starts_with("application/openmetrics-text"), "{media}");
        let text = response.text().await.unwrap();
        let samples = parse(&text);
        let finished = [("process", "io-demo"), ("status", "successful")];
        let counted = value(&samples, "ades_jobs_finished_total", &finished).is_some();
        let let_go = value(&samples, "ades_jobs_running", &[]) == Some(0.0);
        if counted && let_go {
            break (text, samples);
        }
        assert!(
            Instant::now() < deadline,
            "the job's end is not counted, or the worker still holds it:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let io_demo = [("process", "io-demo")];
    assert_eq!(
        value(&samples, "ades_jobs_submitted_total", &io_demo),
        Some(1.0),
        "{text}"
    );
    let successful = [("process", "io-demo"), ("status", "successful")];
    assert_eq!(
        value(&samples, "ades_jobs_finished_total", &successful),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "ades_job_run_seconds_count", &io_demo),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "ades_job_queued_seconds_count", &io_demo),
        Some(1.0),
        "{text}"
    );
    let run_seconds = value(&samples, "ades_job_run_seconds_sum", &io_demo).unwrap();
    assert!(run_seconds > 0.0, "{text}");
    assert_eq!(
        value(&samples, "ades_queue_depth", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "ades_jobs_running", &[]),
        Some(0.0),
        "{text}"
    );

    // The execute request, once, under its template; the polls of the job under theirs.
    let execute = [
        ("route", "/processes/{process_id}/execution"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(
        value(&samples, "ades_http_requests_total", &execute),
        Some(1.0),
        "{text}"
    );
    let polls = [
        ("route", "/jobs/{job_id}"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert!(
        value(&samples, "ades_http_requests_total", &polls).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    let latency = [("route", "/jobs/{job_id}"), ("method", "GET")];
    assert!(
        value(
            &samples,
            "ades_http_request_duration_seconds_count",
            &latency
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    // No label value is a raw path: the job id appears nowhere.
    assert!(
        !text.contains(&job),
        "a raw path leaked into a label:\n{text}"
    );

    // A path no route matches is counted under one fixed word.
    let missing = client
        .get(app.url(&format!("/no/such/{job}")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let text = client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = parse(&text);
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(
        value(&samples, "ades_http_requests_total", &unmatched),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(&job),
        "a raw path leaked into a label:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_switched_off_answer_404_and_say_how_to_turn_them_on() {
    let app = spawn_app_with(|settings| settings.metrics.enabled = false).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("metrics.enabled = true"),
        "{body:#}"
    );
}

/// A Seed image whose job runs `sh -c "$SCRIPT"` and allocates 32 MiB of memory, so a
/// queue whose memory capacity is 32 MiB runs one at a time and makes the next wait.
fn memory_job_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let manifest = json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "ades-it-memory", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                    "title": "Memory", "description": "Runs SCRIPT in 32 MiB",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 60,
                    "resources": {"scalar": [{"name": "mem", "value": 32}]},
                    "interface": {
                        "command": "-c ${SCRIPT}",
                        "inputs": {"json": [{"name": "SCRIPT", "type": "string"}]}
                    }
                }
            });
            build_seed_image(&manifest, None)
        })
        .clone()
}

/// Scrapes `/metrics` of `app` and parses it.
async fn scrape(app: &TestApp) -> (String, Vec<Value>) {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// The store's pool gauges are there for each of `pools`, each plausible: none negative,
/// no more in use than the pool's most, that most being `max`.
fn assert_pools(text: &str, samples: &[Value], pools: &[(&str, f64)]) {
    for (pool, max) in pools {
        let labels = [("pool", *pool)];
        let in_use = value(samples, "ades_db_pool_connections_in_use", &labels);
        let idle = value(samples, "ades_db_pool_connections_idle", &labels);
        let most = value(samples, "ades_db_pool_connections_max", &labels);
        let (Some(in_use), Some(idle), Some(most)) = (in_use, idle, most) else {
            panic!("pool {pool} lacks a gauge:\n{text}");
        };
        assert_eq!(most, *max, "{text}");
        assert!(in_use >= 0.0 && idle >= 0.0, "{text}");
        assert!(in_use + idle <= most, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_waiting_for_memory_is_counted_while_it_waits_and_the_starts_and_pools_are_measured()
{
    memory_job_image();
    let app = spawn_app_with(|settings| {
        settings.queue.workers = 2;
        settings.queue.capacity_mem_mib = 32.0;
    })
    .await;
    let client = &app.client;
    let (_, samples) = scrape(&app).await;
    assert_eq!(
        value(&samples, "ades_jobs_waiting_for_resources", &[]),
        Some(0.0)
    );
    let process = "ades-it-memory";
    let body = json!({"inputs": {"SCRIPT": "sleep 3"}});
    let url = app.url(&format!("/processes/{process}/execution"));
    let first = submit_async(client, &url, &body).await;
    let second = submit_async(client, &url, &body).await;

    // Both workers claim one; the one that comes second waits for the first's 32 MiB.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (text, samples) = scrape(&app).await;
        if value(&samples, "ades_jobs_waiting_for_resources", &[]) == Some(1.0) {
            assert_eq!(
                value(&samples, "ades_jobs_running", &[]),
                Some(2.0),
                "both jobs are claimed, one waits:\n{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no job was seen waiting for resources:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for location in [&first, &second] {
        let status = wait_final(client, location, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, samples) = loop {
        let (text, samples) = scrape(&app).await;
        if value(&samples, "ades_jobs_running", &[]) == Some(0.0) {
            break (text, samples);
        }
        assert!(
            Instant::now() < deadline,
            "the jobs are still held:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        value(&samples, "ades_jobs_waiting_for_resources", &[]),
        Some(0.0),
        "{text}"
    );
    // Each job's container was started once, in a plausible time.
    let labels = [("process", process)];
    assert_eq!(
        value(&samples, "ades_container_start_seconds_count", &labels),
        Some(2.0),
        "{text}"
    );
    let started = value(&samples, "ades_container_start_seconds_sum", &labels).unwrap();
    assert!(started > 0.0 && started < 60.0, "{text}");
    // The image was there: nothing was pulled.
    assert_eq!(
        value(&samples, "ades_image_pull_seconds_count", &[]),
        Some(0.0),
        "{text}"
    );
    // SQLite: a read pool of 4 and a write pool of 1.
    assert_pools(&text, &samples, &[("read", 4.0), ("write", 1.0)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_pulled_for_a_job_is_counted_and_timed() {
    let app = crate::deploy::deploying_app().await;
    let name = crate::deploy::unique("metrics-pull");
    let remote = crate::deploy::publish(&name, "1.0.0", "pulled", "v1", true);
    let deployed = app
        .client
        .post(app.url("/processes"))
        .bearer_auth(crate::deploy::TOKEN)
        .header("content-type", "application/vnd.ades.image+json")
        .body(json!({ "image": remote }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed.status(),
        StatusCode::CREATED,
        "{}",
        deployed.text().await.unwrap()
    );
    // The image is only in the registry: the run pulls it.
    assert_eq!(crate::deploy::run(&app, &name, "a").await, "pulled-a");
    let (text, samples) = scrape(&app).await;
    assert_eq!(
        value(&samples, "ades_image_pulls_total", &[("outcome", "pulled")]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "ades_image_pull_seconds_count", &[]),
        Some(1.0),
        "{text}"
    );
    assert!(
        value(&samples, "ades_image_pull_seconds_sum", &[]).unwrap() > 0.0,
        "{text}"
    );
    assert_eq!(
        value(
            &samples,
            "ades_container_start_seconds_count",
            &[("process", name.as_str())]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&samples, "ades_image_pulls_total", &[("outcome", "failed")]),
        None,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_postgresql_store_reports_its_one_shared_pool() {
    let database = crate::support::PostgresTestDatabase::create().await;
    let app = spawn_app_with(|settings| settings.database.url = database.url()).await;
    // A request or two so the pool has lent connections. Right after start-up the server's
    // own tasks (workers, registration, reaper, workflow driver, LISTEN) may hold every
    // open connection at the moment of a scrape: the pool shows idle ones once they settle.
    let _ = get_json(&app.client, &app.url("/jobs")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (text, samples) = loop {
        let (text, samples) = scrape(&app).await;
        assert_pools(&text, &samples, &[("shared", 10.0)]);
        let idle = value(
            &samples,
            "ades_db_pool_connections_idle",
            &[("pool", "shared")],
        )
        .unwrap();
        if idle >= 1.0 {
            break (text, samples);
        }
        assert!(
            Instant::now() < deadline,
            "no idle connection ever:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        value(
            &samples,
            "ades_db_pool_connections_in_use",
            &[("pool", "read")]
        ),
        None,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_adaptive_limit_rises_while_jobs_wait_and_never_passes_the_ceiling() {
    memory_job_image();
    let app = spawn_app_with(|settings| {
        settings.queue.workers = 3;
        settings.queue.adaptive = true;
        settings.queue.start_workers = 1;
    })
    .await;
    let client = &app.client;
    let (text, samples) = scrape(&app).await;
    assert_eq!(
        value(&samples, "ades_jobs_concurrency_limit", &[]),
        Some(1.0),
        "the limit starts at start_workers:\n{text}"
    );
    let url = app.url("/processes/ades-it-memory/execution");
    let body = json!({"inputs": {"SCRIPT": "sleep 1"}});
    let mut locations = Vec::new();
    for _ in 0..12 {
        locations.push(submit_async(client, &url, &body).await);
    }

    // While the backlog drains, the limit adapts: one job at a time ends at most one per
    // second, two at once twice as fast, so the first windows raise it; the three workers
    // are its ceiling, and no more jobs than the limit are ever claimed at once.
    let (mut highest_limit, mut most_running) = (0.0_f64, 0.0_f64);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (text, samples) = scrape(&app).await;
        let limit = value(&samples, "ades_jobs_concurrency_limit", &[]).unwrap();
        let running = value(&samples, "ades_jobs_running", &[]).unwrap();
        assert!(limit <= 3.0, "the limit passed the ceiling:\n{text}");
        assert!(running <= 3.0, "more jobs than workers ran:\n{text}");
        highest_limit = highest_limit.max(limit);
        most_running = most_running.max(running);
        let status = get_json(client, locations.last().unwrap()).await;
        if status["status"] == "successful" || status["status"] == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the jobs did not end:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for location in &locations {
        let status = wait_final(client, location, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
    }
    assert!(
        highest_limit >= 2.0,
        "the limit never rose above 1 with 12 jobs waiting"
    );
    assert!(most_running >= 2.0, "never more than one job ran at once");
}
