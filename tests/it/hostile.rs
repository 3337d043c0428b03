//! Hostile input against a live server: the corpus in `tests/hostile/` (one file per case,
//! `index.json` saying method, path, content type, expected status and exception kind)
//! plus large cases generated here (namespace and attribute bombs, deep nesting, oversized
//! and value-heavy JSON). Every case must get a 4xx with an exception body (JSON for the OGC
//! API, an `ows:ExceptionReport` valid against the OWS XSD for WPS) within a time bound,
//! leave `/health` answering quickly, and lose no job submitted before it.

use crate::app::TestApp;
use crate::support::{example_image, shell_job_image, spawn_app_with};
use crate::xsd::{assert_valid_xml, Schema};
use std::time::{Duration, Instant};

/// A client that opens a connection per request: the server may close a connection on a
/// body it refuses unread, and a pooled client would then send the next request into it.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client")
}

/// Longest any hostile request may take to be answered.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// Longest `/health` may take while or after hostile requests are handled.
const HEALTH_WITHIN: Duration = Duration::from_secs(1);

#[derive(Debug, serde::Deserialize)]
struct Case {
    case: String,
    method: String,
    path: String,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    file: Option<String>,
    status: [u16; 2],
    answer: String,
}

fn corpus() -> Vec<(Case, Vec<u8>)> {
    let dir = crate::support::repo_root().join("tests/hostile");
    let index = std::fs::read_to_string(dir.join("index.json")).expect("tests/hostile/index.json");
    let cases: Vec<Case> = serde_json::from_str(&index).expect("the index is JSON");
    cases
        .into_iter()
        .map(|case| {
            let body = case.file.as_ref().map_or_else(Vec::new, |file| {
                std::fs::read(dir.join("cases").join(file)).expect("a case file")
            });
            (case, body)
        })
        .collect()
}

/// `levels` nested `wps:Input` elements inside a WPS 2.0 Execute, repeated until the
/// document is about `bytes` long, each element declaring `namespaces` namespaces.
pub fn namespace_bomb(bytes: usize, namespaces: usize, levels: usize) -> Vec<u8> {
    let declarations: String = (0..namespaces)
        .map(|i| format!(" xmlns:p{i}=\"urn:bomb:{i}\""))
        .collect();
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><wps:Execute \
         xmlns:wps=\"http://www.opengis.net/wps/2.0\" xmlns:ows=\"http://www.opengis.net/ows/2.0\" \
         service=\"WPS\" version=\"2.0.0\" response=\"document\" mode=\"sync\">\
         <ows:Identifier>echo</ows:Identifier>",
    );
    let open = format!("<wps:Input{declarations} wps:a=\"1\" ows:b=\"2\" id=\"x\">");
    while xml.len() < bytes {
        for _ in 0..levels {
            xml.push_str(&open);
        }
        for _ in 0..levels {
            xml.push_str("</wps:Input>");
        }
    }
    xml.push_str("</wps:Execute>");
    xml.into_bytes()
}

fn generated() -> Vec<(Case, Vec<u8>)> {
    let case = |name: &str,
                method: &str,
                path: &str,
                content_type: &str,
                status: [u16; 2],
                answer: &str| Case {
        case: name.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        content_type: Some(content_type.to_string()),
        file: None,
        status,
        answer: answer.to_string(),
    };
    let execute = "/processes/echo/execution";
    let many_attributes: String = (0..5000).map(|i| format!(" a{i}=\"\"")).collect();
    let deep_xml = format!(
        "<wps:GetCapabilities xmlns:wps=\"http://www.opengis.net/wps/2.0\" service=\"WPS\">{}{}</wps:GetCapabilities>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    let many_values = format!(
        "{{\"inputs\": {{\"MESSAGE\": [{}0]}}}}",
        "0,".repeat(400_000)
    );
    vec![
        (
            case("namespace-bomb", "POST", "/wps", "application/xml", [400, 400], "ows2"),
            namespace_bomb(13_600 * 1024, 255, 60),
        ),
        (
            case("namespace-bomb-wide", "POST", "/wps", "application/xml", [400, 400], "ows2"),
            namespace_bomb(4 * 1024 * 1024, 60, 60),
        ),
        (
            case("attribute-bomb", "POST", "/wps", "application/xml", [400, 400], "ows2"),
            format!(
                "<wps:GetCapabilities xmlns:wps=\"http://www.opengis.net/wps/2.0\" service=\"WPS\"{many_attributes}/>"
            )
            .into_bytes(),
        ),
        (
            case("xml-deep", "POST", "/wps", "application/xml", [400, 400], "ows2"),
            deep_xml.into_bytes(),
        ),
        (
            case("json-deep", "POST", execute, "application/json", [400, 400], "json"),
            format!("{{\"inputs\": {{\"MESSAGE\": {}{}}}}}", "[".repeat(100_000), "]".repeat(100_000))
                .into_bytes(),
        ),
        (
            case("json-oversized", "POST", execute, "application/json", [413, 413], "json"),
            format!("{{\"inputs\": {{\"MESSAGE\": \"{}\"}}}}", "A".repeat(2 * 1024 * 1024))
                .into_bytes(),
        ),
        (
            case("json-many-values", "POST", execute, "application/json", [400, 413], "json"),
            many_values.into_bytes(),
        ),
        (
            case("deploy-oversized", "POST", "/processes", "application/ogcapppkg+json", [401, 413], "json"),
            format!("{{\"executionUnit\": \"{}\"}}", "A".repeat(2 * 1024 * 1024)).into_bytes(),
        ),
    ]
}

async fn health_is_quick(app: &TestApp) {
    let started = Instant::now();
    let response = unpooled()
        .get(app.url("/health"))
        .timeout(HEALTH_WITHIN)
        .send()
        .await
        .expect("/health answers within a second");
    assert!(response.status().is_success());
    assert!(started.elapsed() <= HEALTH_WITHIN);
}

async fn send(app: &TestApp, case: &Case, body: Vec<u8>) -> (u16, String, String) {
    send_as(app, case, body, None).await
}

/// `request` with `Authorization: Bearer <token>` when a token is given.
fn with_token(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// The request of `case` with `body`, on its own connection, bounded by [`ANSWER_WITHIN`].
fn case_request(
    app: &TestApp,
    case: &Case,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request =
        with_token(unpooled().request(method, app.url(&case.path)), token).timeout(ANSWER_WITHIN);
    if let Some(content_type) = &case.content_type {
        request = request.header("content-type", content_type);
    }
    if !body.is_empty() {
        request = request.body(body);
    }
    request
}

/// [`send`] with `Authorization: Bearer <token>` when a token is given.
async fn send_as(
    app: &TestApp,
    case: &Case,
    body: Vec<u8>,
    token: Option<&str>,
) -> (u16, String, String) {
    let response = case_request(app, case, body, token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no answer within {ANSWER_WITHIN:?}: {e}", case.case));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.unwrap_or_default();
    (status, content_type, text)
}

fn check_answer(case: &Case, status: u16, content_type: &str, text: &str) {
    let [low, high] = case.status;
    assert!(
        (low..=high).contains(&status),
        "{}: expected {low}..={high}, got {status}: {text}",
        case.case
    );
    match case.answer.as_str() {
        "json" => {
            assert!(
                content_type.starts_with("application/json"),
                "{}: {content_type}",
                case.case
            );
            let body: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {text}", case.case));
            assert_eq!(body["status"], status, "{}: {body}", case.case);
            assert!(
                body["type"].is_string() && body["detail"].is_string(),
                "{}: {body}",
                case.case
            );
        }
        "ows2" | "ows11" => {
            assert!(
                content_type.starts_with("application/xml"),
                "{}: {content_type}",
                case.case
            );
            let schema = if case.answer == "ows2" {
                Schema::Ows2Exception
            } else {
                Schema::Ows11Exception
            };
            assert_valid_xml(text, schema);
        }
        other => panic!("{}: unknown answer kind {other}", case.case),
    }
}

async fn submit_async_echo(app: &TestApp) -> String {
    submit_async_echo_as(app, None).await
}

async fn submit_async_echo_as(app: &TestApp, token: Option<&str>) -> String {
    let response = with_token(unpooled().post(app.url("/processes/echo/execution")), token)
        .header("prefer", "respond-async")
        .json(&serde_json::json!({"inputs": {"MESSAGE": "before the corpus"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    body["jobID"].as_str().unwrap().to_string()
}

async fn wait_successful(app: &TestApp, job: &str) {
    wait_successful_as(app, job, None).await
}

async fn wait_successful_as(app: &TestApp, job: &str, token: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let request = with_token(unpooled().get(app.url(&format!("/jobs/{job}"))), token);
        let status: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
        match status["status"].as_str() {
            Some("successful") => return,
            Some("failed" | "dismissed") => panic!("job {job} ended {status}"),
            _ if Instant::now() > deadline => panic!("job {job} did not end: {status}"),
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_case_gets_a_quick_4xx_and_loses_no_job() {
    example_image("echo");
    let app = spawn_app_with(|s| {
        s.limits.max_json_body_bytes = 1024 * 1024;
        s.auth.admin_token = "hostile-suite-token".to_string();
    })
    .await;
    let jobs = [submit_async_echo(&app).await, submit_async_echo(&app).await];
    for (case, body) in corpus().into_iter().chain(generated()) {
        let started = Instant::now();
        let (status, content_type, text) = send(&app, &case, body).await;
        let took = started.elapsed();
        check_answer(&case, status, &content_type, &text);
        assert!(took <= ANSWER_WITHIN, "{}: took {took:?}", case.case);
        health_is_quick(&app).await;
    }
    for job in &jobs {
        wait_successful(&app, job).await;
    }
    app.stop().await;
}

/// The same corpus with authentication on: without a credential every case is a quick 401
/// with an exception body; with one it gets the answer it gets without authentication (a
/// deploy that was refused for want of the admin token is then judged on its body).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authentication_on_every_hostile_case_is_refused_quickly_and_loses_no_job() {
    example_image("echo");
    const TOKEN: &str = "hostile-suite-token";
    let app = spawn_app_with(|s| {
        s.limits.max_json_body_bytes = 1024 * 1024;
        s.auth.admin_token = TOKEN.to_string();
        s.auth.mode = ades::config::AuthMode::On;
    })
    .await;
    let jobs = [
        submit_async_echo_as(&app, Some(TOKEN)).await,
        submit_async_echo_as(&app, Some(TOKEN)).await,
    ];
    for (mut case, body) in corpus().into_iter().chain(generated()) {
        if body.len() > ANONYMOUS_BODY_READ {
            // Refused before its body is read: the server may answer 401 and close while
            // the client still sends, which the client sees as a reset. Either is right;
            // a hang is not.
            refused_unread(&app, &case, body.clone(), None, 401).await;
            health_is_quick(&app).await;
        } else {
            refused_without_credential(&app, &case, body.clone()).await;
        }
        if case.status == [401, 403] {
            case.status = [400, 499];
        }
        if case.status == [413, 413] {
            refused_unread(&app, &case, body, Some(TOKEN), 413).await;
            health_is_quick(&app).await;
            continue;
        }
        let started = Instant::now();
        let (status, content_type, text) = send_as(&app, &case, body, Some(TOKEN)).await;
        assert!(
            started.elapsed() <= ANSWER_WITHIN,
            "{}: too slow",
            case.case
        );
        check_answer(&case, status, &content_type, &text);
        health_is_quick(&app).await;
    }
    for job in &jobs {
        wait_successful_as(&app, job, Some(TOKEN)).await;
    }
    app.stop().await;
}

/// Bodies larger than this are sent unauthenticated with [`refused_unread`].
const ANONYMOUS_BODY_READ: usize = 256 * 1024;

/// A large body refused before it is read: answered `expected` (or the connection closed
/// on it while the client still sent), within the time bound.
async fn refused_unread(
    app: &TestApp,
    case: &Case,
    body: Vec<u8>,
    token: Option<&str>,
    expected: u16,
) {
    match case_request(app, case, body, token).send().await {
        Ok(response) => assert_eq!(response.status(), expected, "{}", case.case),
        Err(e) => assert!(!e.is_timeout(), "{}: no answer in time: {e}", case.case),
    }
}

/// Without a credential: a quick 401 with an exception body of the façade's kind.
async fn refused_without_credential(app: &TestApp, case: &Case, body: Vec<u8>) {
    let started = Instant::now();
    let (status, content_type, text) = send_as(app, case, body, None).await;
    assert!(
        started.elapsed() <= ANSWER_WITHIN,
        "{}: too slow",
        case.case
    );
    assert_eq!(status, 401, "{} without a credential: {text}", case.case);
    if case.path.starts_with("/wps") {
        assert!(content_type.starts_with("application/xml"), "{}", case.case);
        let schema = if text.contains("http://www.opengis.net/ows/2.0") {
            Schema::Ows2Exception
        } else {
            Schema::Ows11Exception
        };
        assert_valid_xml(&text, schema);
    } else {
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {text}", case.case));
        assert_eq!(body["status"], 401, "{}: {body}", case.case);
    }
    health_is_quick(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_quickly_while_two_namespace_bombs_are_read() {
    let app = spawn_app_with(|s| s.queue.workers = 0).await;
    let bomb = namespace_bomb(13_600 * 1024, 255, 60);
    let started = Instant::now();
    let bombs: Vec<_> = (0..2)
        .map(|_| {
            let request = unpooled()
                .post(app.url("/wps"))
                .header("content-type", "application/xml")
                .body(bomb.clone())
                .timeout(Duration::from_secs(120));
            tokio::spawn(async move {
                let response = request.send().await.expect("the bomb is answered");
                (response.status().as_u16(), response.text().await.unwrap())
            })
        })
        .collect();
    while !bombs.iter().all(|b| b.is_finished()) {
        health_is_quick(&app).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for bomb in bombs {
        let (status, text) = bomb.await.unwrap();
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("namespaces"), "{text}");
        assert_valid_xml(&text, Schema::Ows2Exception);
    }
    assert!(
        started.elapsed() < ANSWER_WITHIN,
        "the bombs took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_body_over_the_limit_is_a_413_naming_it() {
    example_image("echo");
    let app = spawn_app_with(|s| {
        s.queue.workers = 0;
        s.limits.max_json_body_bytes = 64 * 1024;
    })
    .await;
    let body = format!(
        "{{\"inputs\": {{\"MESSAGE\": \"{}\"}}}}",
        "A".repeat(100 * 1024)
    );
    let response = unpooled()
        .post(app.url("/processes/echo/execution"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:ades:error:payload-too-large");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("65536 bytes") && detail.contains("limits.max_json_body_bytes"),
        "{detail}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_over_its_in_flight_limit_gets_429_and_sequential_clients_do_not() {
    let image = shell_job_image();
    let app = spawn_app_with(|s| {
        s.limits.client_requests_in_flight = 1;
        s.catalog.images = vec![image.clone()];
    })
    .await;
    let execute = |script: &str| {
        app.client
            .post(app.url("/processes/ades-it-shell/execution"))
            .json(&serde_json::json!({"inputs": {"SCRIPT": script}}))
    };
    // Sequential synchronous executes never meet the limit.
    for _ in 0..2 {
        let response = execute("echo x > one-1; echo '{\"COUNT\": 1}' > seed.outputs.json")
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 429);
    }
    let slow = tokio::spawn(execute("sleep 4").send());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let busy = execute("true").send().await.unwrap();
    assert_eq!(busy.status(), 429);
    assert!(busy.headers().contains_key("retry-after"));
    let body: serde_json::Value = busy.json().await.unwrap();
    assert_eq!(body["type"], "urn:ades:error:too-many-requests");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("limits.client_requests_in_flight"));
    let wps = app
        .client
        .post(app.url("/wps"))
        .body("<wps:GetCapabilities xmlns:wps=\"http://www.opengis.net/wps/2.0\" service=\"WPS\"/>")
        .send()
        .await
        .unwrap();
    assert_eq!(wps.status(), 429);
    assert!(wps.headers().contains_key("retry-after"));
    let text = wps.text().await.unwrap();
    assert!(text.contains("ServerBusy"), "{text}");
    assert_valid_xml(&text, Schema::Ows2Exception);
    // Cheap requests are not counted.
    health_is_quick(&app).await;
    let _ = slow.await.unwrap().unwrap();
    let after = execute("true").send().await.unwrap();
    assert_ne!(after.status(), 429);
    app.stop().await;
}
