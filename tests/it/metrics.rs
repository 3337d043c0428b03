//! `GET /metrics` over real HTTP after a real job: the whole text parses with a real
//! parser (Python's `prometheus_client`, OpenMetrics and the classic Prometheus text
//! parsers), the job is counted once as submitted and once as successful for its process,
//! and requests are counted under their route template, never their raw path.

use crate::app::{spawn_app, spawn_app_with};
use crate::support::{example_image, submit_async, wait_final};
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
