//! What an attacker tried, kept as tests: a job publishing links out of its outputs,
//! callbacks aimed at the server's own network.

use crate::app::{spawn_app, spawn_app_with, TestApp};
use crate::support::{shell_job_image, wait_final};
use serde_json::{json, Value};
use std::time::Duration;

/// Submits a shell job asynchronously and returns its status URL.
async fn submit_script(app: &TestApp, script: &str, extra: Value) -> String {
    let mut body = json!({"inputs": {"SCRIPT": script}});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let response = app
        .client
        .post(app.url("/processes/ades-it-shell/execution"))
        .header("Prefer", "respond-async")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The body of a GET of `url`, whatever its status.
async fn text_at(app: &TestApp, url: &str) -> String {
    let response = app.client.get(url).send().await.unwrap();
    response.text().await.unwrap()
}

/// The job of the security report: `ln -s / $OUTPUT_DIR/root` made every host file
/// readable at `/jobs/<id>/outputs/root/...`.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_cannot_publish_links_out_of_its_outputs() {
    shell_job_image();
    let app = spawn_app().await;
    let script = "cd $OUTPUT_DIR && ln -s / root && ln -s /etc/passwd one-passwd \
                  && mkdir sub && ln -s .. sub/up && echo real > one-real \
                  && echo '{\"COUNT\": 1}' > seed.outputs.json";
    let job = submit_script(&app, script, json!({})).await;
    let status = wait_final(&app.client, &job, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");

    for path in [
        "root/etc/passwd",
        "root/etc/hostname",
        "one-passwd",
        "sub/up/one-real",
    ] {
        let response = app
            .client
            .get(format!("{job}/outputs/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "outputs/{path} must not be served");
        let body: Value = response.json().await.unwrap();
        assert!(body["type"].is_string(), "an OGC exception: {body}");
    }
    let real = app
        .client
        .get(format!("{job}/outputs/one-real"))
        .send()
        .await
        .unwrap();
    assert_eq!(real.status(), 200);
    assert_eq!(real.text().await.unwrap(), "real\n");

    // The raw results (the default response): the file itself, never a link's target.
    let results = text_at(&app, &format!("{job}/results")).await;
    assert!(results.contains("real"), "{results}");
    assert!(
        !results.contains("root:"),
        "links are never results: {results}"
    );

    let log = text_at(&app, &format!("{job}/logs")).await;
    for removed in ["root -> /", "one-passwd -> /etc/passwd", "sub/up -> .."] {
        assert!(
            log.contains(&format!("removed the symbolic link {removed}")),
            "the log says which links were removed ({removed}):\n{log}"
        );
    }
    app.stop().await;
}

/// A receiver on loopback that counts what it gets.
struct Receiver {
    url: String,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn receiver() -> Receiver {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hook?token=s3cret",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    Receiver { url, hits }
}

/// The callback SSRF of the security report: a `successUri` on 127.0.0.1 received the
/// results document, and 169.254.169.254 was accepted.
#[tokio::test(flavor = "multi_thread")]
async fn callbacks_to_the_servers_own_network_are_refused() {
    shell_job_image();
    let app = spawn_app().await;
    let inside = receiver().await;
    for uri in [
        inside.url.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/x",
        "http://localhost:9/x",
        "http://[::ffff:127.0.0.1]:9/x",
        "http://0x7f000001:9/x",
    ] {
        let response = app
            .client
            .post(app.url("/processes/ades-it-shell/execution"))
            .header("Prefer", "respond-async")
            .json(&json!({
                "inputs": {"SCRIPT": "true"},
                "subscriber": {"successUri": uri}
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{uri} must be refused");
        let body: Value = response.json().await.unwrap();
        let text = body.to_string();
        assert!(text.contains("allow_private_urls"), "{uri}: {body:#}");
        assert!(
            !text.contains("s3cret"),
            "the query string stays secret: {body:#}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        inside.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing reached the receiver"
    );
    app.stop().await;
}

/// With `allow_private_urls` the operator accepts inward callbacks (how the other callback
/// tests run their receivers on loopback).
#[tokio::test(flavor = "multi_thread")]
async fn inward_callbacks_need_the_operators_consent() {
    shell_job_image();
    let app = spawn_app_with(|s| s.queue.allow_private_urls = true).await;
    let inside = receiver().await;
    let script = "touch $OUTPUT_DIR/one-a && echo '{\"COUNT\": 1}' > $OUTPUT_DIR/seed.outputs.json";
    let job = submit_script(
        &app,
        script,
        json!({"subscriber": {"successUri": inside.url}}),
    )
    .await;
    wait_final(&app.client, &job, Duration::from_secs(60)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while inside.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "no callback arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// `X-Forwarded-*` came from anyone: links and `Location` pointed where the client said.
#[tokio::test(flavor = "multi_thread")]
async fn forwarded_headers_are_believed_from_trusted_proxies_only() {
    let location_of = |app: &TestApp| {
        let client = app.client.clone();
        let url = app.url("/processes/ades-it-shell/execution");
        async move {
            let response = client
                .post(url)
                .header("Prefer", "respond-async")
                .header("X-Forwarded-Proto", "https")
                .header("X-Forwarded-Host", "evil.example")
                .json(&json!({"inputs": {"SCRIPT": "true"}}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            response.headers()["location"].to_str().unwrap().to_string()
        }
    };
    shell_job_image();
    let untrusting = spawn_app().await;
    let location = location_of(&untrusting).await;
    assert!(
        location.starts_with(&untrusting.address),
        "the test client is no trusted proxy: {location}"
    );
    untrusting.stop().await;

    let behind_proxy =
        spawn_app_with(|s| s.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let location = location_of(&behind_proxy).await;
    assert!(
        location.starts_with("https://evil.example/jobs/"),
        "a trusted proxy says where clients connected: {location}"
    );
    behind_proxy.stop().await;
}

/// With `HTTPS_PROXY` set the address guard checked nothing (the proxy resolves and
/// connects); the server now refuses to start so.
#[test]
fn a_proxy_that_would_bypass_the_guard_is_refused_at_start_up() {
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ades"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("HTTPS_PROXY", "http://127.0.0.1:3128")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTPS_PROXY") && stderr.contains("allow_private_urls"),
        "{stderr}"
    );
}
