//! OTLP trace export, end to end: a real `ades serve` process pointed at a small OTLP/HTTP
//! receiver on loopback (an axum route taking the JSON protocol) runs a real job; what
//! arrives holds the request span of the execute request and the job span with its
//! `job_id`, under the configured service name. The batch delay is made far longer than
//! the test, so spans arriving at all prove that stopping the server (SIGTERM) flushes
//! them. Without the setting nothing arrives, even with the SDK's own environment
//! variable pointing at the receiver: no exporter is built.

use crate::support::{example_image, submit_async, wait_final};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The export requests a receiver got, as JSON documents.
type Received = Arc<Mutex<Vec<Value>>>;

/// Starts an OTLP/HTTP receiver taking JSON at `/v1/traces`; its base URL and what it got.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    let media = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let document: Value = serde_json::from_slice(&body).unwrap_or_else(
                        |e| json!({ "undecodable": e.to_string(), "media": media }),
                    );
                    keep.lock().unwrap().push(document);
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        "{}",
                    )
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{address}"), received)
}

/// A running `ades serve` with `env` added; killed when dropped.
struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(env: &[(&str, String)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = crate::support::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ades"))
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data.path())
            .env("ADES__CATALOG__RESCAN_SECONDS", "0")
            .env("ADES__QUEUE__POLL_SECONDS", "1")
            // Longer than the test: only the flush at shutdown sends the spans.
            .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ades serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _data: data,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("{}/processes/io-demo", server.base);
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "ades serve did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server
    }

    /// Runs one io-demo job to its end; its id.
    async fn run_job(&self) -> String {
        let client = reqwest::Client::new();
        let body = json!({
            "inputs": { "INPUT_FILE": "traced\n" },
            "outputs": { "OUTPUT_FILE": { "transmissionMode": "reference" } },
            "response": "document"
        });
        let url = format!("{}/processes/io-demo/execution", self.base);
        let location = submit_async(&client, &url, &body).await;
        let status = wait_final(&client, &location, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
        status["jobID"].as_str().unwrap().to_string()
    }

    /// Stops the server as an operator does (SIGTERM) and waits for it to exit.
    fn stop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "ades serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "ades serve did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An attribute's value as text (`stringValue`, or an `intValue` written as a string).
fn attribute<'a>(attributes: &'a Value, key: &str) -> Option<&'a str> {
    attributes.as_array()?.iter().find_map(|a| {
        (a["key"] == key).then(|| {
            let value = &a["value"];
            value["stringValue"]
                .as_str()
                .or_else(|| value["intValue"].as_str())
        })?
    })
}

/// Every span received, with the service name of its resource.
fn spans(received: &[Value]) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for document in received {
        assert!(document["undecodable"].is_null(), "{document}");
        for resource in document["resourceSpans"].as_array().into_iter().flatten() {
            let service = attribute(&resource["resource"]["attributes"], "service.name")
                .unwrap_or("")
                .to_string();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    all.push((service.clone(), span.clone()));
                }
            }
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_and_job_spans_reach_an_otlp_collector_and_stopping_flushes_them() {
    example_image("io-demo");
    let (collector, received) = start_receiver().await;
    let mut server = Server::start(&[
        ("ADES__TELEMETRY__OTLP_ENDPOINT", collector.clone()),
        (
            "ADES__TELEMETRY__SERVICE_NAME",
            "ades-it-traces".to_string(),
        ),
    ])
    .await;
    let job = server.run_job().await;
    assert!(
        received.lock().unwrap().is_empty(),
        "spans left before the batch delay or the shutdown"
    );
    server.stop();

    let received = received.lock().unwrap().clone();
    let spans = spans(&received);
    assert!(!spans.is_empty(), "nothing arrived: {received:?}");
    assert!(
        spans.iter().all(|(service, _)| service == "ades-it-traces"),
        "{received:#?}"
    );
    let job_span = spans
        .iter()
        .map(|(_, span)| span)
        .find(|span| {
            span["name"] == "job" && attribute(&span["attributes"], "job_id") == Some(&job)
        })
        .unwrap_or_else(|| panic!("no job span with job_id {job}: {received:#?}"));
    assert_eq!(
        attribute(&job_span["attributes"], "process_id"),
        Some("io-demo")
    );
    assert!(
        job_span["traceId"].as_str().is_some_and(|t| !t.is_empty()),
        "{job_span:#}"
    );
    let execute = spans.iter().map(|(_, span)| span).find(|span| {
        span["name"] == "request"
            && attribute(&span["attributes"], "method") == Some("POST")
            && attribute(&span["attributes"], "path") == Some("/processes/io-demo/execution")
    });
    assert!(
        execute.is_some(),
        "no request span of the execute request: {received:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_setting_nothing_is_exported() {
    example_image("io-demo");
    let (collector, received) = start_receiver().await;
    // The SDK's own variable would point an exporter at the receiver, if one were built.
    let mut server = Server::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", collector)]).await;
    server.run_job().await;
    server.stop();
    // Give a late export a moment to arrive, were there one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        received.lock().unwrap().is_empty(),
        "{:?}",
        received.lock().unwrap()
    );
}
