//! Integration tests of api/ (OGC API - Processes - Part 1 1.0), over real HTTP.
//!
//! Two harnesses:
//! - [`Server`]: `http::router` over a SQLite store, a fixed catalogue built from the example
//!   manifests and no workers; the test plays the worker (claims a job, writes its output
//!   files, completes it), so every response shape is checked without Docker.
//! - `spawn_app()` (support): the whole server with real containers, for the echo-style
//!   checks of the official test suite (ogc-notes §4.2) and real Seed failures.
//!
//! Tests are named after the checklist of ogc-notes §8 (`core_08_...` = §8.1 item 8).
//! Documents are validated against the official 1.0 schemas (conformance/schemas/).

use crate::support::{example_image, repo_root, spawn_app};
use crate::xsd::{assert_valid_xml, Schema};
use ades::catalog::seed_process::process_from_manifest;
use ades::catalog::{Catalog, CatalogSettings};
use ades::domain::{Job, JobId, JobResults, OutputValue, Process, WorkerId};
use ades::http::{HttpState, ServerSettings};
use ades::jobs::JobService;
use ades::store::sqlite::SqliteStore;
use ades::store::{Completion, JobStore};
use ades::workspace::Workspace;
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

// ---- official schemas -------------------------------------------------------------------

const OGC_EXCEPTION: &str = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0";

/// Panics with every validation error when `instance` does not match the official schema
/// `name` (`statusInfo`, `processList`, ...), as the conformance suite reads it
/// (conformance/src/schemas.rs).
fn assert_valid(name: &str, instance: &Value) {
    let errors = conformance::schemas::Schemas::get().check(name, instance);
    assert!(
        errors.is_empty(),
        "not a valid {name}:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

#[test]
fn the_schema_conversion_rejects_what_it_should() {
    assert_valid(
        "statusInfo",
        &json!({"jobID": "x", "status": "running", "type": "process"}),
    );
    let missing_type = std::panic::catch_unwind(|| {
        assert_valid("statusInfo", &json!({"jobID": "x", "status": "running"}))
    });
    assert!(missing_type.is_err(), "statusInfo requires type");
    let bad_status = std::panic::catch_unwind(|| {
        assert_valid(
            "statusInfo",
            &json!({"jobID": "x", "status": "done", "type": "process"}),
        )
    });
    assert!(bad_status.is_err());
    assert_valid(
        "results",
        &json!({"a": "text", "b": 3, "c": {"href": "http://x/y"}}),
    );
    let example = |name: &str| -> Value {
        let path = repo_root()
            .join("conformance/schemas/ogcapi-processes-1.0/examples")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert_valid("execute", &example("Execute.json"));
    assert_valid("results", &example("Result.json"));
    assert_valid("processList", &example("ProcessList.json"));
    assert_valid("landingPage", &example("LandingPage.json"));
}

// ---- the in-process harness --------------------------------------------------------------

/// `http::router` on 127.0.0.1 over a SQLite store, no workers: the test completes jobs.
#[derive(Clone)]
struct Server {
    base: String,
    client: reqwest::Client,
    store: Arc<SqliteStore>,
    jobs: JobService,
    workspace: Workspace,
    _dir: Arc<tempfile::TempDir>,
}

fn manifest_process(manifest: Value) -> Process {
    let name = manifest["job"]["name"].as_str().unwrap().to_string();
    let valid = seed::validate::manifest_from_value(manifest).expect("a valid manifest");
    process_from_manifest(&valid.manifest, &format!("{name}-1.0.0-seed:1.0.0"), None)
}

fn example_process(name: &str) -> Process {
    let path = repo_root()
        .join("examples")
        .join(name)
        .join("seed.manifest.json");
    manifest_process(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

/// A test process with the shapes the examples lack: a `multiple` file input, object and
/// array json inputs, a `multiple` file output and a binary one.
fn multi_process() -> Process {
    manifest_process(json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": "multi", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "Many shapes", "description": "For the API tests.",
            "maintainer": {"name": "ades tests", "email": "tests@example.org"},
            "timeout": 30,
            "interface": {
                "inputs": {
                    "files": [
                        {"name": "TEXTS", "multiple": true, "required": false,
                         "mediaTypes": ["text/plain"]},
                        {"name": "PICTURE", "required": false, "mediaTypes": ["image/png"]},
                        {"name": "DOCUMENT", "required": false,
                         "mediaTypes": ["application/pdf", "text/plain"]}
                    ],
                    "json": [
                        {"name": "N", "type": "integer", "required": false},
                        {"name": "OPTIONS", "type": "object", "required": false},
                        {"name": "LIST", "type": "array", "required": false}
                    ]
                },
                "outputs": {
                    "files": [
                        {"name": "PARTS", "pattern": "part-*", "multiple": true,
                         "mediaType": "text/plain"},
                        {"name": "IMAGE", "pattern": "img.png", "mediaType": "image/png",
                         "required": false}
                    ],
                    "json": [{"name": "TOTAL", "type": "integer"}]
                }
            }
        }
    }))
}

fn test_processes() -> Vec<Process> {
    vec![
        example_process("echo"),
        example_process("io-demo"),
        example_process("errors"),
        multi_process(),
    ]
}

async fn server() -> Server {
    server_with(Catalog::from_processes(test_processes()), |_| {}).await
}

async fn server_with(catalog: Catalog, adjust: impl FnOnce(&mut ServerSettings)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::connect(dir.path().join("jobs.db").to_str().unwrap())
            .await
            .expect("the store opens"),
    );
    // The callback receivers of these tests listen on loopback.
    let jobs = JobService::new(store.clone()).with_admission(ades::jobs::Admission {
        references: ades::jobs::request::ReferencePolicy {
            allow_private_urls: true,
            ..Default::default()
        },
        ..Default::default()
    });
    let workspace = Workspace::new(dir.path());
    let mut settings = ServerSettings {
        max_body_bytes: 64 * 1024,
        sync_wait_limit: Duration::from_secs(20),
        ..ServerSettings::default()
    };
    adjust(&mut settings);
    let deliverer = ades::jobs::callbacks::CallbackDeliverer::new(
        jobs.clone(),
        Arc::new(ades::api::OgcCallbackRenderer {
            workspace: workspace.clone(),
            catalog: catalog.clone(),
        }),
        ades::jobs::callbacks::CallbackSettings {
            allow_private_urls: true,
            poll: Duration::from_millis(100),
            ..Default::default()
        },
    );
    tokio::spawn(deliverer.run(tokio_util::sync::CancellationToken::new()));
    let deployer = ades::deploy::Deployer::new(
        catalog.clone(),
        store.clone(),
        ades::registry::RegistryClient::new(Default::default()),
        None,
    );
    let router = ades::http::router(HttpState {
        catalog,
        jobs: jobs.clone(),
        workspace: workspace.clone(),
        deployer,
        settings: Arc::new(settings),
        stopping: tokio_util::sync::CancellationToken::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server {
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store,
        jobs,
        workspace,
        _dir: Arc::new(dir),
    }
}

/// A produced output value for [`Server::succeed`].
enum Produced<'a> {
    File {
        output: &'a str,
        path: &'a str,
        content: &'a [u8],
        media_type: Option<&'a str>,
    },
    Json {
        output: &'a str,
        value: Value,
    },
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn execute(&self, process: &str, body: Value, prefer: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/processes/{process}/execution")))
            .json(&body);
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        request.send().await.unwrap()
    }

    /// Submits asynchronously and returns the job id.
    async fn submit(&self, process: &str, body: Value) -> String {
        let response = self.execute(process, body, Some("respond-async")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let status: Value = response.json().await.unwrap();
        status["jobID"].as_str().unwrap().to_string()
    }

    /// Plays a worker: waits for the next accepted job and claims it (now `running`).
    async fn claim(&self) -> Job {
        let worker = WorkerId("api-tests".into());
        for _ in 0..500 {
            let now = OffsetDateTime::now_utc();
            let lease = now + time::Duration::minutes(5);
            if let Some(job) = self
                .store
                .claim_next_job(&worker, lease, now)
                .await
                .unwrap()
            {
                self.jobs.announce(&job.id);
                return job;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no job to claim");
    }

    /// Ends a claimed job successfully with `produced` (files written under its outputs).
    async fn succeed(&self, job: &Job, produced: Vec<Produced<'_>>) {
        let mut results = JobResults::new();
        for p in produced {
            let (output, value) = match p {
                Produced::File {
                    output,
                    path,
                    content,
                    media_type,
                } => {
                    let file = self.workspace.outputs_dir(&job.id).join(path);
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(&file, content).unwrap();
                    let value = OutputValue::File {
                        path: path.to_string(),
                        media_type: media_type.map(str::to_string),
                        size_bytes: content.len() as u64,
                        metadata: None,
                        published: None,
                    };
                    (output, value)
                }
                Produced::Json { output, value } => (output, OutputValue::Json { value }),
            };
            results.entry(output.to_string()).or_default().push(value);
        }
        let completion = Completion::Succeeded {
            results,
            message: "done".into(),
        };
        self.complete(job, completion).await;
    }

    async fn fail(&self, job: &Job, failure: seed::errors::JobFailure) {
        let message = format!("{}: {}", failure.title, failure.description);
        self.complete(job, Completion::Failed { failure, message })
            .await;
    }

    async fn complete(&self, job: &Job, completion: Completion) {
        let worker = WorkerId("api-tests".into());
        let done = self
            .store
            .complete_job(&job.id, &worker, completion, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(done, "the test worker holds the job");
        self.jobs.announce(&job.id);
    }

    /// The echo outputs for `message`.
    async fn succeed_echo(&self, job: &Job, message: &str) {
        let text = format!("{message}\n");
        self.succeed(
            job,
            vec![
                Produced::File {
                    output: "ECHO",
                    path: "echo.txt",
                    content: text.as_bytes(),
                    media_type: Some("text/plain"),
                },
                Produced::Json {
                    output: "ECHOED",
                    value: json!(message),
                },
            ],
        )
        .await;
    }

    /// Runs `body` synchronously while a task completes the job as `finish` says.
    async fn execute_sync<F, Fut>(&self, process: &str, body: Value, finish: F) -> reqwest::Response
    where
        F: FnOnce(Server, Job) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let worker = self.clone();
        let finisher = tokio::spawn(async move {
            let job = worker.claim().await;
            finish(worker, job).await;
        });
        let response = self.execute(process, body, None).await;
        finisher.await.unwrap();
        response
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn rels(document: &Value) -> Vec<String> {
    document["links"]
        .as_array()
        .map(|links| {
            links
                .iter()
                .map(|l| l["rel"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn link<'a>(document: &'a Value, rel: &str) -> Option<&'a Value> {
    document["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
}

/// Asserts a JSON exception: status, `application/json`, valid `exception.yaml`, its type.
async fn assert_exception(
    response: reqwest::Response,
    status: StatusCode,
    type_uri: &str,
) -> Value {
    assert_eq!(response.status(), status);
    let media = content_type(response.headers());
    assert!(
        media.starts_with("application/json"),
        "exception served as {media:?}"
    );
    let body: Value = response.json().await.unwrap();
    assert_valid("exception", &body);
    assert_eq!(body["type"], type_uri, "{body:#}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "an exception says what to change: {body:#}"
    );
    body
}

// ---- §8.1 Core ---------------------------------------------------------------------------

#[tokio::test]
async fn core_01_landing_page_links_and_schema() {
    let srv = server().await;
    let (status, page) = srv.get_json("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("landingPage", &page);
    let rels = rels(&page);
    for rel in [
        "self",
        "service-desc",
        "service-doc",
        "http://www.opengis.net/def/rel/ogc/1.0/conformance",
        "http://www.opengis.net/def/rel/ogc/1.0/processes",
        "http://www.opengis.net/def/rel/ogc/1.0/job-list",
    ] {
        assert!(rels.iter().any(|r| r == rel), "no {rel} link: {rels:?}");
    }
    for link in page["links"].as_array().unwrap() {
        assert!(
            link["href"].as_str().unwrap().starts_with(&srv.base),
            "absolute: {link}"
        );
    }
    assert_eq!(
        link(&page, "service-desc").unwrap()["type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
}

#[tokio::test]
async fn core_02_service_desc_and_service_doc_answer_200() {
    let srv = server().await;
    let (_, page) = srv.get_json("/").await;
    let desc = srv
        .client
        .get(
            link(&page, "service-desc").unwrap()["href"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(desc.status(), StatusCode::OK);
    assert_eq!(
        content_type(desc.headers()),
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let document: Value = desc.json().await.unwrap();
    assert_eq!(document["openapi"], "3.0.3");
    let doc = srv
        .client
        .get(
            link(&page, "service-doc").unwrap()["href"]
                .as_str()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
    assert!(content_type(doc.headers()).starts_with("text/html"));
    let html = doc.text().await.unwrap();
    assert!(html.contains("/processes/{processID}/execution"));
    // A browser asking /api gets the page too.
    let browser = srv
        .client
        .get(srv.url("/api"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(content_type(browser.headers()).starts_with("text/html"));
}

#[tokio::test]
async fn core_03_conformance_lists_the_classes() {
    let srv = server().await;
    let (status, conformance) = srv.get_json("/conformance").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("confClasses", &conformance);
    let classes: Vec<&str> = conformance["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for class in [
        "core",
        "ogc-process-description",
        "json",
        "oas30",
        "job-list",
        "dismiss",
        "callback",
    ] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/{class}");
        assert!(classes.contains(&uri.as_str()), "{uri} missing");
    }
    assert!(
        !classes.iter().any(|c| c.contains("/2.0/")),
        "only 1.0 classes"
    );
    // Part 3 (a draft, version 0.0): what the workflow room implements.
    for class in [
        "nested-processes",
        "remote-core-processes",
        "deployable-workflows",
    ] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-processes-3/0.0/conf/{class}");
        assert!(classes.contains(&uri.as_str()), "{uri} missing");
    }
}

#[tokio::test]
async fn core_04_responses_are_http_1_1() {
    let srv = server().await;
    let response = srv.get("/").await;
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
}

#[tokio::test]
async fn core_05_process_list_validates_and_has_self_link() {
    let srv = server().await;
    let (status, list) = srv.get_json("/processes?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("processList", &list);
    assert!(rels(&list).contains(&"self".to_string()));
    let ids: Vec<&str> = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["echo", "errors", "io-demo", "multi"]);
    for summary in list["processes"].as_array().unwrap() {
        assert!(summary["version"].is_string());
        assert_eq!(
            summary["jobControlOptions"],
            json!(["sync-execute", "async-execute", "dismiss"])
        );
        assert_eq!(summary["outputTransmission"], json!(["value", "reference"]));
        let href = link(summary, "self").unwrap()["href"].as_str().unwrap();
        assert_eq!(
            href,
            srv.url(&format!("/processes/{}", summary["id"].as_str().unwrap()))
        );
    }
}

#[tokio::test]
async fn core_06_limit_one_returns_one_and_next_pages_through() {
    let srv = server().await;
    let mut seen = Vec::new();
    let mut next = Some(srv.url("/processes?limit=1"));
    while let Some(url) = next {
        let page: Value = srv
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_valid("processList", &page);
        assert_eq!(page["processes"].as_array().unwrap().len(), 1);
        seen.push(page["processes"][0]["id"].as_str().unwrap().to_string());
        if seen.len() > 1 {
            assert!(
                link(&page, "prev").is_some(),
                "a prev link after the first page"
            );
        }
        next = link(&page, "next").map(|l| l["href"].as_str().unwrap().to_string());
    }
    assert_eq!(
        seen,
        vec!["echo", "errors", "io-demo", "multi"],
        "no duplicates, none lost"
    );
}

#[tokio::test]
async fn core_06_bad_limit_is_400_naming_the_parameter() {
    let srv = server().await;
    for query in ["limit=0", "limit=1001", "limit=ten", "offset=-2"] {
        let response = srv.get(&format!("/processes?{query}")).await;
        let body = assert_exception(
            response,
            StatusCode::BAD_REQUEST,
            &format!("{OGC_EXCEPTION}/invalid-query-parameter-value"),
        )
        .await;
        let name = query.split('=').next().unwrap();
        assert!(body["detail"].as_str().unwrap().contains(name), "{body}");
    }
}

#[tokio::test]
async fn core_07_process_description_and_unknown_process_404() {
    let srv = server().await;
    let (status, echo) = srv.get_json("/processes/echo").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("process", &echo);
    let execute = link(&echo, "http://www.opengis.net/def/rel/ogc/1.0/execute").unwrap();
    assert_eq!(execute["href"], srv.url("/processes/echo/execution"));
    for id in ["invalid-process-0b8c", "bad id!", "x%2F..%2Fy"] {
        let response = srv.get(&format!("/processes/{id}")).await;
        assert_exception(
            response,
            StatusCode::NOT_FOUND,
            &format!("{OGC_EXCEPTION}/no-such-process"),
        )
        .await;
    }
}

#[tokio::test]
async fn core_08_prefer_respond_async_gives_201() {
    let srv = server().await;
    let response = srv
        .execute(
            "echo",
            json!({"inputs": {"MESSAGE": "hi"}}),
            Some("respond-async"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["preference-applied"], "respond-async");
    assert!(response.headers().get("link").is_none());
}

#[tokio::test]
async fn core_08_no_prefer_runs_synchronously_and_answers_200() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "teststring"}, "outputs": {"ECHOED": {}}}),
            |srv, job| async move { srv.succeed_echo(&job, "teststring").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("preference-applied").is_none());
}

#[tokio::test]
async fn core_08_sync_run_not_over_in_time_answers_201_with_location() {
    let srv = server_with(Catalog::from_processes(test_processes()), |s| {
        s.sync_wait_limit = Duration::from_millis(300)
    })
    .await;
    let response = srv
        .execute("echo", json!({"inputs": {"MESSAGE": "slow"}}), None)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get(LOCATION).is_some());
    // `Prefer: wait=N` shortens the wait further.
    let started = std::time::Instant::now();
    let srv = server().await;
    let response = srv
        .execute(
            "echo",
            json!({"inputs": {"MESSAGE": "slow"}}),
            Some("wait=1"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn core_09_201_has_absolute_location_and_status_info() {
    let srv = server().await;
    let response = srv
        .execute(
            "echo",
            json!({"inputs": {"MESSAGE": "hi"}}),
            Some("respond-async"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let status: Value = response.json().await.unwrap();
    assert_valid("statusInfo", &status);
    assert_eq!(status["status"], "accepted");
    assert_eq!(status["type"], "process");
    assert_eq!(status["processID"], "echo");
    assert_eq!(
        location,
        srv.url(&format!("/jobs/{}", status["jobID"].as_str().unwrap()))
    );
    let (code, again) = srv
        .get_json(location.strip_prefix(&srv.base).unwrap())
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(again["jobID"], status["jobID"]);
}

#[tokio::test]
async fn core_09_links_ignore_forwarded_headers_from_an_untrusted_client() {
    // Believed only from server.trusted_proxies (security::forwarded_headers_are_believed_from_trusted_proxies_only
    // runs a server behind a trusted proxy); this server knows no peer, so it trusts none.
    let srv = server().await;
    let response = srv
        .client
        .post(srv.url("/processes/echo/execution"))
        .header("Prefer", "respond-async")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "ades.example.org")
        .json(&json!({"inputs": {"MESSAGE": "hi"}}))
        .send()
        .await
        .unwrap();
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(&srv.url("/jobs/")), "{location}");
}

#[tokio::test]
async fn core_10_omitted_outputs_return_all() {
    let srv = server().await;
    for outputs in [None, Some(json!({}))] {
        let mut body = json!({"inputs": {"MESSAGE": "all"}, "response": "document"});
        if let Some(outputs) = outputs {
            body["outputs"] = outputs;
        }
        let response = srv
            .execute_sync("echo", body, |srv, job| async move {
                srv.succeed_echo(&job, "all").await
            })
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let results: Value = response.json().await.unwrap();
        assert_valid("results", &results);
        let ids: BTreeSet<&str> = results
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            ids,
            BTreeSet::from(["ECHO", "ECHOED"]),
            "COMPLEX_ECHO was not produced"
        );
    }
}

#[tokio::test]
async fn core_11_max_occurs_input_accepts_an_array_also_of_one() {
    let srv = server().await;
    for texts in [json!(["one"]), json!(["one", "two"]), json!("one")] {
        let id = srv
            .submit("multi", json!({"inputs": {"TEXTS": texts}}))
            .await;
        let job = srv
            .jobs
            .get(
                &ades::auth::Caller::system(),
                &ades::domain::JobId::parse(&id).unwrap(),
            )
            .await
            .unwrap();
        let given = texts.as_array().map_or(1, Vec::len);
        assert_eq!(job.request.inputs["TEXTS"].len(), given);
    }
    // A json input of type array takes the array as one value.
    let id = srv
        .submit("multi", json!({"inputs": {"LIST": [1, 2, 3]}}))
        .await;
    let job = srv
        .jobs
        .get(
            &ades::auth::Caller::system(),
            &ades::domain::JobId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        job.request.inputs["LIST"],
        vec![ades::domain::InputValue::Inline {
            value: json!([1, 2, 3]),
            media_type: None
        }]
    );
}

#[tokio::test]
async fn core_12_bbox_binary_qualified_and_href_inputs_are_accepted() {
    use ades::domain::InputValue::*;
    let srv = server().await;
    let png = "iVBORw0KGgo=";
    let body = json!({"inputs": {
        "TEXTS": [
            {"value": "plain text", "mediaType": "text/plain"},
            {"href": "https://example.org/a.txt", "type": "text/plain"},
            {"value": "aGVsbG8=", "format": {"mediaType": "text/plain", "encoding": "base64"}}
        ],
        "PICTURE": png,
        "OPTIONS": {"value": {"bbox": [51.9, 7.0, 52.0, 7.1], "crs": "urn:ogc:def:crs:EPSG:6.6:4326"}},
        "N": {"value": 3}
    }});
    let id = srv.submit("multi", body).await;
    let job = srv
        .jobs
        .get(
            &ades::auth::Caller::system(),
            &ades::domain::JobId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    let inputs = &job.request.inputs;
    assert!(
        matches!(&inputs["TEXTS"][0], Inline { value, media_type: Some(_) } if value == "plain text")
    );
    assert!(
        matches!(&inputs["TEXTS"][1], Href { href, .. } if href == "https://example.org/a.txt")
    );
    assert!(matches!(&inputs["TEXTS"][2], Base64 { data, .. } if data == "aGVsbG8="));
    assert!(
        matches!(&inputs["PICTURE"][0], Base64 { data, .. } if data == png),
        "a bare string for a binary file input is base64: {:?}",
        inputs["PICTURE"]
    );
    assert!(matches!(&inputs["OPTIONS"][0], Inline { value, .. } if value["bbox"][0] == 51.9));
    assert!(matches!(&inputs["N"][0], Inline { value, .. } if *value == json!(3)));
    // A bare bounding box is accepted for an object input too.
    srv.submit(
        "multi",
        json!({"inputs": {"OPTIONS": {"bbox": [1, 2, 3, 4]}}}),
    )
    .await;
}

#[tokio::test]
async fn core_13_invalid_inputs_are_a_400_json_exception_listing_every_problem() {
    let srv = server().await;
    let response = srv
        .execute(
            "echo",
            json!({"inputs": {
                "REPEAT": "three",
                "NOPE": 1,
                "COMPLEX_INPUT": {"type": "wrong/type_1234"}
            }, "outputs": {"MISSING": {}}}),
            None,
        )
        .await;
    let body = assert_exception(
        response,
        StatusCode::BAD_REQUEST,
        "urn:ades:error:invalid-parameter-value",
    )
    .await;
    let locations: BTreeSet<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["location"].as_str().unwrap())
        .collect();
    assert_eq!(
        locations,
        BTreeSet::from([
            "/inputs/MESSAGE",
            "/inputs/REPEAT",
            "/inputs/NOPE",
            "/inputs/COMPLEX_INPUT",
            "/outputs/MISSING"
        ])
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("expected a JSON integer"), "{detail}");
    assert!(detail.contains("MESSAGE"), "{detail}");
    // Only a missing input: MissingParameterValue.
    let response = srv
        .execute("echo", json!({"invalid-execute-request": "true)"}), None)
        .await;
    assert_exception(
        response,
        StatusCode::BAD_REQUEST,
        "urn:ades:error:missing-parameter-value",
    )
    .await;
    // A bare object for a file input, too many values.
    let response = srv
        .execute(
            "io-demo",
            json!({"inputs": {"INPUT_FILE": [{"value": "a"}, {"value": "b"}]}}),
            None,
        )
        .await;
    let body = assert_exception(
        response,
        StatusCode::BAD_REQUEST,
        "urn:ades:error:invalid-parameter-value",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("at most 1"),
        "{body}"
    );
}

#[tokio::test]
async fn core_14_sync_raw_value_one_output_is_the_bare_value() {
    let srv = server().await;
    // A json output: JSON.
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "teststring"}, "outputs": {"ECHOED": {"transmissionMode": "value"}}, "response": "raw"}),
            |srv, job| async move { srv.succeed_echo(&job, "teststring").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "application/json");
    assert!(
        response.headers().get("link").is_none(),
        "no Link on sync answers"
    );
    assert_eq!(response.json::<Value>().await.unwrap(), json!("teststring"));
    // A file output: its media type and content.
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "file"}, "outputs": {"ECHO": {}}}),
            |srv, job| async move { srv.succeed_echo(&job, "file").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "text/plain");
    assert_eq!(response.headers()["content-length"], "5");
    assert_eq!(response.text().await.unwrap(), "file\n");
}

/// Splits a `multipart/related` body into (headers, body) parts.
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(BTreeMap<String, String>, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("a boundary")
        .trim_matches('"')
        .to_string();
    let text = String::from_utf8_lossy(body).to_string();
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in text.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap();
        let (head, rest) = chunk.split_once("\r\n\r\n").unwrap();
        let headers = head
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let content = rest
            .strip_suffix("\r\n")
            .unwrap_or(rest)
            .as_bytes()
            .to_vec();
        parts.push((headers, content));
    }
    parts
}

#[tokio::test]
async fn core_15_sync_raw_value_several_outputs_are_multipart_related() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "teststring"}}),
            |srv, job| async move { srv.succeed_echo(&job, "teststring").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let media = content_type(response.headers());
    assert!(media.starts_with("multipart/related"), "{media}");
    let body = response.bytes().await.unwrap();
    let parts = multipart_parts(&media, &body);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].0["content-id"], "<ECHO>");
    assert_eq!(parts[0].0["content-type"], "text/plain");
    assert_eq!(parts[0].1, b"teststring\n");
    assert_eq!(parts[1].0["content-id"], "<ECHOED>");
    assert_eq!(parts[1].1, b"\"teststring\"");
}

#[tokio::test]
async fn core_16_sync_raw_reference_is_204_with_one_link_per_output() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "ref"}, "outputs": {
                "ECHO": {"transmissionMode": "reference"},
                "ECHOED": {"transmissionMode": "reference"}
            }}),
            |srv, job| async move { srv.succeed_echo(&job, "ref").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let links: Vec<String> = response
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(links.len(), 2, "{links:?}");
    let echo = links.iter().find(|l| l.contains("title=\"ECHO\"")).unwrap();
    let href = echo.split('>').next().unwrap().trim_start_matches('<');
    assert!(
        href.starts_with(&srv.base) && href.ends_with("/outputs/echo.txt"),
        "{href}"
    );
    assert_eq!(
        srv.client
            .get(href)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ref\n"
    );
    let echoed = links
        .iter()
        .find(|l| l.contains("title=\"ECHOED\""))
        .unwrap();
    let href = echoed.split('>').next().unwrap().trim_start_matches('<');
    assert_eq!(
        srv.client
            .get(href)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!("ref")
    );
}

#[tokio::test]
async fn core_17_sync_raw_mixed_is_multipart_with_content_location() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "mixed"}, "outputs": {
                "ECHO": {"transmissionMode": "reference"},
                "ECHOED": {"transmissionMode": "value"}
            }}),
            |srv, job| async move { srv.succeed_echo(&job, "mixed").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let media = content_type(response.headers());
    let parts = multipart_parts(&media, &response.bytes().await.unwrap());
    assert_eq!(parts.len(), 2);
    assert!(parts[0].0["content-location"].ends_with("/outputs/echo.txt"));
    assert!(parts[0].1.is_empty(), "a reference part has no body");
    assert_eq!(parts[1].1, b"\"mixed\"");
}

#[tokio::test]
async fn core_18_sync_document_is_a_results_json() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "multi",
            json!({"inputs": {}, "response": "document", "outputs": {
                "PARTS": {"transmissionMode": "value"},
                "IMAGE": {"transmissionMode": "value"},
                "TOTAL": {}
            }}),
            |srv, job| async move {
                srv.succeed(
                    &job,
                    vec![
                        Produced::File {
                            output: "PARTS",
                            path: "part-1",
                            content: b"a",
                            media_type: Some("text/plain"),
                        },
                        Produced::File {
                            output: "PARTS",
                            path: "part-2",
                            content: b"b",
                            media_type: Some("text/plain"),
                        },
                        Produced::File {
                            output: "IMAGE",
                            path: "img.png",
                            content: &[0x89, b'P', b'N', b'G'],
                            media_type: Some("image/png"),
                        },
                        Produced::Json {
                            output: "TOTAL",
                            value: json!(2),
                        },
                    ],
                )
                .await
            },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "application/json");
    let results: Value = response.json().await.unwrap();
    assert_valid("results", &results);
    assert_eq!(
        results["PARTS"],
        json!([{"value": "a", "mediaType": "text/plain"}, {"value": "b", "mediaType": "text/plain"}])
    );
    assert_eq!(
        results["IMAGE"],
        json!({"value": "iVBORw==", "mediaType": "image/png", "encoding": "base64"})
    );
    assert_eq!(results["TOTAL"], json!(2));
}

#[tokio::test]
async fn core_18_document_by_reference_links_each_value() {
    let srv = server().await;
    let id = srv
        .submit(
            "multi",
            json!({"response": "document", "outputs": {
                "PARTS": {"transmissionMode": "reference"},
                "TOTAL": {"transmissionMode": "reference"}
            }}),
        )
        .await;
    let job = srv.claim().await;
    srv.succeed(
        &job,
        vec![
            Produced::File {
                output: "PARTS",
                path: "sub dir/part 1.txt",
                content: b"a",
                media_type: None,
            },
            Produced::Json {
                output: "TOTAL",
                value: json!({"n": 1}),
            },
        ],
    )
    .await;
    let (status, results) = srv.get_json(&format!("/jobs/{id}/results")).await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("results", &results);
    let href = results["PARTS"][0]["href"].as_str().unwrap();
    assert!(href.ends_with("/outputs/sub%20dir/part%201.txt"), "{href}");
    assert_eq!(
        results["PARTS"][0]["type"], "text/plain",
        "guessed from the name"
    );
    assert_eq!(
        srv.client
            .get(href)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "a"
    );
    let total = results["TOTAL"]["href"].as_str().unwrap();
    assert_eq!(
        srv.client
            .get(total)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        json!({"n": 1})
    );
}

#[tokio::test]
async fn core_19_sync_answers_carry_no_link_header_to_a_job() {
    let srv = server().await;
    let response = srv
        .execute_sync(
            "echo",
            json!({"inputs": {"MESSAGE": "x"}, "response": "document"}),
            |srv, job| async move { srv.succeed_echo(&job, "x").await },
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("link").is_none());
}

#[tokio::test]
async fn core_20_status_info_and_unknown_job_404() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "hi"}}))
        .await;
    let (status, info) = srv.get_json(&format!("/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("statusInfo", &info);
    for path in [
        "/jobs/invalid-job-0b8c".to_string(),
        format!("/jobs/{}", uuid_like()),
        "/jobs/invalid-job-0b8c/results".to_string(),
        format!("/jobs/{}/results", uuid_like()),
    ] {
        let response = srv.get(&path).await;
        assert_exception(
            response,
            StatusCode::NOT_FOUND,
            &format!("{OGC_EXCEPTION}/no-such-job"),
        )
        .await;
    }
}

fn uuid_like() -> String {
    "0b8c7d0e-1111-4222-8333-944455556666".to_string()
}

#[tokio::test]
async fn core_21_results_not_ready_then_the_shape_of_the_request() {
    let srv = server().await;
    let id = srv
        .submit(
            "echo",
            json!({"inputs": {"MESSAGE": "teststring"}, "outputs": {"ECHOED": {}}}),
        )
        .await;
    let body = assert_exception(
        srv.get(&format!("/jobs/{id}/results")).await,
        StatusCode::NOT_FOUND,
        &format!("{OGC_EXCEPTION}/result-not-ready"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("accepted"));
    let job = srv.claim().await;
    assert_exception(
        srv.get(&format!("/jobs/{id}/results")).await,
        StatusCode::NOT_FOUND,
        &format!("{OGC_EXCEPTION}/result-not-ready"),
    )
    .await;
    srv.succeed_echo(&job, "teststring").await;
    let response = srv.get(&format!("/jobs/{id}/results")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "\"teststring\"");
}

#[tokio::test]
async fn core_21_a_failed_job_answers_its_seed_error() {
    let srv = server().await;
    let process = example_process("errors");
    for (code, status, name) in [
        (2, StatusCode::BAD_REQUEST, "invalid-data"),
        (3, StatusCode::INTERNAL_SERVER_ERROR, "job-failed"),
    ] {
        let id = srv
            .submit("errors", json!({"inputs": {"CODE": code}}))
            .await;
        let job = srv.claim().await;
        let failure =
            seed::errors::failure_for_exit_code(&process.seed().unwrap().manifest, code).unwrap();
        srv.fail(&job, failure.clone()).await;
        let body = assert_exception(
            srv.get(&format!("/jobs/{id}/results")).await,
            status,
            &format!("urn:ades:seed:error:{name}"),
        )
        .await;
        assert_eq!(body["title"], failure.title);
        assert_eq!(body["detail"], failure.description);
        let (_, info) = srv.get_json(&format!("/jobs/{id}")).await;
        assert_eq!(info["status"], "failed");
        let exceptions = link(&info, "http://www.opengis.net/def/rel/ogc/1.0/exceptions").unwrap();
        assert_eq!(exceptions["href"], srv.url(&format!("/jobs/{id}/results")));
    }
}

#[tokio::test]
async fn core_22_a_single_output_is_served_raw() {
    let srv = server().await;
    let id = srv.submit("multi", json!({})).await;
    let job = srv.claim().await;
    srv.succeed(
        &job,
        vec![
            Produced::File {
                output: "PARTS",
                path: "part-1",
                content: b"one",
                media_type: Some("text/plain"),
            },
            Produced::File {
                output: "IMAGE",
                path: "img.png",
                content: b"PNG",
                media_type: Some("image/png"),
            },
            Produced::Json {
                output: "TOTAL",
                value: json!(7),
            },
        ],
    )
    .await;
    let response = srv.get(&format!("/jobs/{id}/results/IMAGE")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "image/png");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"PNG");
    let (_, total) = srv.get_json(&format!("/jobs/{id}/results/TOTAL")).await;
    assert_eq!(total, json!(7));
    let (status, parts) = srv.get_json(&format!("/jobs/{id}/results/PARTS")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        parts[0]["href"]
            .as_str()
            .unwrap()
            .ends_with("/outputs/part-1"),
        "a multiple output lists links"
    );
    assert_exception(
        srv.get(&format!("/jobs/{id}/results/NOPE")).await,
        StatusCode::NOT_FOUND,
        &format!("{OGC_EXCEPTION}/no-such-output"),
    )
    .await;
}

#[tokio::test]
async fn core_23_status_links_and_timestamps_follow_the_job() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "hi"}}))
        .await;
    let (_, accepted) = srv.get_json(&format!("/jobs/{id}")).await;
    assert!(
        link(&accepted, "status").is_some(),
        "a status link while not final"
    );
    assert!(link(&accepted, "self").unwrap()["href"]
        .as_str()
        .unwrap()
        .starts_with(&srv.base));
    assert_eq!(link(&accepted, "up").unwrap()["href"], srv.url("/jobs"));
    assert!(accepted.get("started").is_none());
    let job = srv.claim().await;
    let (_, running) = srv.get_json(&format!("/jobs/{id}")).await;
    assert_valid("statusInfo", &running);
    assert_eq!(running["status"], "running");
    assert!(link(&running, "status").is_some());
    srv.succeed_echo(&job, "hi").await;
    let (_, done) = srv.get_json(&format!("/jobs/{id}")).await;
    assert_valid("statusInfo", &done);
    assert!(link(&done, "status").is_none());
    let results = link(&done, "http://www.opengis.net/def/rel/ogc/1.0/results").unwrap();
    assert_eq!(results["type"], "multipart/related");
    let at = |v: &Value, k: &str| {
        OffsetDateTime::parse(
            v[k].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(at(&done, "created") <= at(&done, "started"));
    assert!(at(&done, "started") <= at(&done, "finished"));
    assert!(at(&done, "updated") >= at(&accepted, "updated"));
}

// ---- §8.2 OGC Process Description --------------------------------------------------------

#[tokio::test]
async fn process_description_01_every_description_validates() {
    let srv = server().await;
    for id in ["echo", "io-demo", "errors", "multi"] {
        let (status, description) = srv.get_json(&format!("/processes/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_valid("process", &description);
        for (_, input) in description["inputs"].as_object().unwrap() {
            assert_valid("inputDescription", input);
            assert_valid("schema", &input["schema"]);
        }
        for (_, output) in description["outputs"].as_object().unwrap() {
            assert_valid("outputDescription", output);
            assert_valid("schema", &output["schema"]);
        }
    }
}

#[tokio::test]
async fn process_description_02_inputs_and_outputs_keep_the_process_order() {
    let srv = server().await;
    let text = srv.get("/processes/echo").await.text().await.unwrap();
    let position = |key: &str| text.find(&format!("\"{key}\":")).unwrap_or(usize::MAX);
    assert!(position("MESSAGE") < position("REPEAT"));
    assert!(
        position("REPEAT") < position("COMPLEX_INPUT"),
        "json inputs first, then files"
    );
    assert!(position("ECHO") < position("COMPLEX_ECHO"));
    assert!(position("COMPLEX_ECHO") < position("ECHOED"));
    let description: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        description["inputs"]["MESSAGE"]["schema"],
        json!({"type": "string"})
    );
    assert_eq!(description["inputs"]["MESSAGE"]["minOccurs"], 1);
    assert_eq!(description["inputs"]["REPEAT"]["minOccurs"], 0);
    let multi: Value = srv.get_json("/processes/multi").await.1;
    assert_eq!(multi["inputs"]["TEXTS"]["maxOccurs"], "unbounded");
}

#[tokio::test]
async fn process_description_03_mixed_types_use_one_of_with_the_default_first() {
    let srv = server().await;
    let (_, multi) = srv.get_json("/processes/multi").await;
    let schema = &multi["inputs"]["DOCUMENT"]["schema"];
    let types: Vec<&str> = schema["oneOf"]
        .as_array()
        .expect("several media types are a oneOf")
        .iter()
        .map(|s| s["contentMediaType"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["application/pdf", "text/plain"]);
    assert_valid("schema", schema);
    // Without a media type, a bare string is base64 of the first (default) type.
    let id = srv
        .submit("multi", json!({"inputs": {"DOCUMENT": "JVBERi0="}}))
        .await;
    let job = srv
        .jobs
        .get(
            &ades::auth::Caller::system(),
            &ades::domain::JobId::parse(&id).unwrap(),
        )
        .await
        .unwrap();
    assert!(matches!(
        &job.request.inputs["DOCUMENT"][0],
        ades::domain::InputValue::Base64 { .. }
    ));
}

#[tokio::test]
async fn process_description_04_binary_values_declare_their_encoding_and_media_type() {
    let srv = server().await;
    let (_, multi) = srv.get_json("/processes/multi").await;
    assert_eq!(
        multi["inputs"]["PICTURE"]["schema"],
        json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/png"})
    );
    assert_eq!(
        multi["outputs"]["IMAGE"]["schema"],
        json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/png"})
    );
}

// ---- §8.3 JSON / OAS30 -------------------------------------------------------------------

#[tokio::test]
async fn json_01_the_core_resources_answer_application_json() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "hi"}}))
        .await;
    for path in [
        "/",
        "/conformance",
        "/processes",
        "/processes/echo",
        "/jobs",
        &format!("/jobs/{id}"),
    ] {
        let response = srv.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            content_type(response.headers()),
            "application/json",
            "{path}"
        );
    }
}

const ROUTES: [(&str, &str); 48] = [
    ("get", "/"),
    ("get", "/conformance"),
    ("get", "/api"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/processes"),
    ("post", "/processes"),
    ("get", "/processes/{processID}"),
    ("put", "/processes/{processID}"),
    ("delete", "/processes/{processID}"),
    ("get", "/processes/{processID}/package"),
    ("post", "/processes/{processID}/execution"),
    ("get", "/jobs"),
    ("get", "/jobs/{jobID}"),
    ("delete", "/jobs/{jobID}"),
    ("get", "/jobs/{jobID}/results"),
    ("get", "/jobs/{jobID}/results/{outputID}"),
    ("get", "/jobs/{jobID}/outputs/{path}"),
    ("get", "/jobs/{jobID}/logs"),
    ("get", "/jobs/{jobID}/callbacks"),
    ("get", "/admin"),
    ("post", "/admin/deploy"),
    ("post", "/admin/undeploy"),
    ("get", "/sign-in"),
    ("post", "/sign-in"),
    ("post", "/sign-out"),
    ("get", "/jobs/{jobID}/prov"),
    ("get", "/workspaces"),
    ("post", "/workspaces"),
    ("get", "/workspaces/{name}"),
    ("put", "/workspaces/{name}"),
    ("patch", "/workspaces/{name}"),
    ("delete", "/workspaces/{name}"),
    ("get", "/workspaces/{name}/files/{path}"),
    ("get", "/strikes"),
    ("post", "/strikes"),
    ("get", "/strikes/{name}"),
    ("put", "/strikes/{name}"),
    ("patch", "/strikes/{name}"),
    ("post", "/strikes/{name}/start"),
    ("post", "/strikes/{name}/stop"),
    ("get", "/ingests"),
    ("get", "/ingests/{id}"),
    ("get", "/scans"),
    ("post", "/scans"),
    ("get", "/scans/{name}"),
    ("put", "/scans/{name}"),
    ("post", "/scans/{name}/process"),
];

#[tokio::test]
async fn oas30_01_the_api_definition_documents_every_route_and_status() {
    let srv = server().await;
    let (_, document) = srv.get_json("/api").await;
    assert_eq!(document["openapi"], "3.0.3");
    let paths = document["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len(), "every route and only those");
    for (method, path) in ROUTES {
        let operation = &paths[path][method];
        assert!(operation.is_object(), "{method} {path} undocumented");
        assert!(
            operation["responses"]["200"].is_object()
                || operation["responses"]["204"].is_object()
                || operation["responses"]["201"].is_object()
                // The pages' forms answer a browser with a redirect.
                || operation["responses"]["303"].is_object(),
            "{method} {path} has no success response"
        );
    }
    let execute = &paths["/processes/{processID}/execution"]["post"]["responses"];
    for status in [
        "200", "201", "204", "400", "404", "413", "415", "500", "503",
    ] {
        assert!(
            execute[status].is_object(),
            "execute does not document {status}"
        );
    }
    for (path, status) in [
        ("/processes", "400"),
        ("/processes/{processID}", "404"),
        ("/jobs", "400"),
        ("/jobs/{jobID}/results", "404"),
        ("/jobs/{jobID}/outputs/{path}", "206"),
        ("/jobs/{jobID}/outputs/{path}", "416"),
        ("/health", "503"),
    ] {
        assert!(
            paths[path]["get"]["responses"][status].is_object(),
            "{path} lacks {status}"
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "StatusInfo",
        "Exception",
        "Process",
        "ProcessList",
        "JobList",
        "LandingPage",
        "ConfClasses",
        "Execute",
        "Results",
    ] {
        assert!(schemas.contains_key(schema), "no {schema} schema");
    }
}

#[tokio::test]
async fn oas30_02_the_served_document_matches_openapi_json() {
    let srv = server().await;
    let served = srv.get("/api").await.text().await.unwrap();
    let path = repo_root().join("openapi/openapi.json");
    if std::env::var("ADES_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &served).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let same = serde_json::from_str::<Value>(&committed).ok()
        == serde_json::from_str::<Value>(&served).ok();
    assert!(
        same,
        "openapi/openapi.json differs from the document the server serves. If the API change \
         is intended, regenerate it with\n    ADES_UPDATE_OPENAPI=1 cargo test --test it \
         api::oas30_02\nand commit the file."
    );
}

// ---- §8.4 Job list -----------------------------------------------------------------------

#[tokio::test]
async fn job_list_01_validates_and_every_job_has_a_process_id() {
    let srv = server().await;
    srv.submit("echo", json!({"inputs": {"MESSAGE": "a"}}))
        .await;
    srv.submit("errors", json!({"inputs": {"CODE": 0}})).await;
    let (status, list) = srv.get_json("/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid("jobList", &list);
    assert_eq!(list["jobs"].as_array().unwrap().len(), 2);
    for job in list["jobs"].as_array().unwrap() {
        assert_valid("statusInfo", job);
        assert!(job["processID"].is_string());
    }
    assert!(rels(&list).contains(&"self".to_string()));
}

#[tokio::test]
async fn job_list_02_limit_and_next_page_through_newest_first() {
    let srv = server().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            srv.submit("echo", json!({"inputs": {"MESSAGE": format!("{i}")}}))
                .await,
        );
    }
    let mut seen = Vec::new();
    let mut next = Some(srv.url("/jobs?limit=2&processID=echo"));
    while let Some(url) = next {
        let page: Value = srv
            .client
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_valid("jobList", &page);
        assert!(page["jobs"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["jobID"].as_str().unwrap().to_string()),
        );
        next = link(&page, "next").map(|l| l["href"].as_str().unwrap().to_string());
        if let Some(next) = &next {
            assert!(next.contains("processID=echo"), "filters are kept: {next}");
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
}

#[tokio::test]
async fn job_list_03_filters_by_process_status_type_datetime_and_duration() {
    let srv = server().await;
    let before = OffsetDateTime::now_utc();
    let echo = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "a"}}))
        .await;
    let errors = srv.submit("errors", json!({"inputs": {"CODE": 0}})).await;
    let job = srv.claim().await;
    assert_eq!(job.id.as_str(), echo);
    srv.succeed_echo(&job, "a").await;
    let ids = |list: &Value| -> BTreeSet<String> {
        list["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobID"].as_str().unwrap().to_string())
            .collect()
    };
    let fmt = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("processID=errors".into(), BTreeSet::from([errors.clone()])),
        (
            "processID=echo,errors".into(),
            BTreeSet::from([echo.clone(), errors.clone()]),
        ),
        ("status=successful".into(), BTreeSet::from([echo.clone()])),
        (
            "status=accepted,successful".into(),
            BTreeSet::from([echo.clone(), errors.clone()]),
        ),
        (
            "type=process".into(),
            BTreeSet::from([echo.clone(), errors.clone()]),
        ),
        (
            format!("datetime={}/..", fmt(before)),
            BTreeSet::from([echo.clone(), errors.clone()]),
        ),
        (format!("datetime=../{}", fmt(before)), BTreeSet::new()),
        ("minDuration=0".into(), BTreeSet::from([echo.clone()])),
        ("maxDuration=3600".into(), BTreeSet::from([echo.clone()])),
        ("minDuration=3600".into(), BTreeSet::new()),
    ];
    for (query, expected) in cases {
        let url = reqwest::Url::parse_with_params(&srv.url("/jobs"), url_pairs(&query)).unwrap();
        let response = srv.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        let list: Value = response.json().await.unwrap();
        assert_eq!(ids(&list), expected, "{query}");
    }
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn job_list_03_bad_filters_are_400_naming_the_parameter() {
    let srv = server().await;
    for (name, value) in [
        ("status", "done"),
        ("type", "wps"),
        ("datetime", "yesterday"),
        ("minDuration", "-1"),
        ("maxDuration", "x"),
        ("limit", "0"),
        ("processID", "no/such"),
    ] {
        let url = reqwest::Url::parse_with_params(&srv.url("/jobs"), [(name, value)]).unwrap();
        let response = srv.client.get(url).send().await.unwrap();
        let body = assert_exception(
            response,
            StatusCode::BAD_REQUEST,
            &format!("{OGC_EXCEPTION}/invalid-query-parameter-value"),
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains(name),
            "{name}: {body}"
        );
    }
}

#[tokio::test]
async fn job_list_04_the_landing_page_links_the_jobs() {
    let srv = server().await;
    let (_, page) = srv.get_json("/").await;
    let jobs = link(&page, "http://www.opengis.net/def/rel/ogc/1.0/job-list").unwrap();
    assert_eq!(jobs["href"], srv.url("/jobs"));
}

// ---- §8.5 Dismiss ------------------------------------------------------------------------

#[tokio::test]
async fn dismiss_01_a_waiting_job_is_dismissed_and_has_no_results() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "bye"}}))
        .await;
    let response = srv
        .client
        .delete(srv.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status: Value = response.json().await.unwrap();
    assert_valid("statusInfo", &status);
    assert_eq!(status["status"], "dismissed");
    let (_, again) = srv.get_json(&format!("/jobs/{id}")).await;
    assert_eq!(again["status"], "dismissed");
    let body = assert_exception(
        srv.get(&format!("/jobs/{id}/results")).await,
        StatusCode::NOT_FOUND,
        &format!("{OGC_EXCEPTION}/no-such-job"),
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("dismissed"));
}

#[tokio::test]
async fn dismiss_01_a_running_job_is_dismissed() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "bye"}}))
        .await;
    srv.claim().await;
    let response = srv
        .client
        .delete(srv.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "dismissed"
    );
}

#[tokio::test]
async fn dismiss_01_a_finished_job_is_withdrawn() {
    // ogc-notes §8.5.1: DELETE on a finished job answers a dismissed statusInfo, and its
    // results are no longer served.
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "done"}}))
        .await;
    let job = srv.claim().await;
    srv.succeed_echo(&job, "done").await;
    let response = srv
        .client
        .delete(srv.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status: Value = response.json().await.unwrap();
    assert_valid("statusInfo", &status);
    assert_eq!(status["status"], "dismissed");
    let results = srv
        .client
        .get(srv.url(&format!("/jobs/{id}/results")))
        .send()
        .await
        .unwrap();
    assert_eq!(results.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn dismiss_02_unknown_job_is_404_and_dismiss_is_advertised() {
    let srv = server().await;
    for id in ["invalid-job-1".to_string(), uuid_like()] {
        let response = srv
            .client
            .delete(srv.url(&format!("/jobs/{id}")))
            .send()
            .await
            .unwrap();
        assert_exception(
            response,
            StatusCode::NOT_FOUND,
            &format!("{OGC_EXCEPTION}/no-such-job"),
        )
        .await;
    }
    let (_, echo) = srv.get_json("/processes/echo").await;
    assert!(echo["jobControlOptions"]
        .as_array()
        .unwrap()
        .contains(&json!("dismiss")));
}

#[tokio::test]
async fn dismiss_03_dismissing_a_dismissed_job_again_answers_its_status_unchanged() {
    // ogc-notes §1.2 and §8.5: DELETE answers 200 with a `dismissed` statusInfo, 404
    // `no-such-job` only for an unknown id; the official 1.0 OpenAPI lists no other answer
    // (no 410), so a repeated dismissal is answered like the first and changes nothing.
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "twice"}}))
        .await;
    let delete = || async {
        let response = srv
            .client
            .delete(srv.url(&format!("/jobs/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let status: Value = response.json().await.unwrap();
        assert_valid("statusInfo", &status);
        assert_eq!(status["status"], "dismissed");
        status
    };
    let first = delete().await;
    let events = srv
        .store
        .job_events(&JobId::parse(&id).unwrap())
        .await
        .unwrap()
        .len();
    let second = delete().await;
    assert_eq!(second, first);
    assert_eq!(
        srv.store
            .job_events(&JobId::parse(&id).unwrap())
            .await
            .unwrap()
            .len(),
        events
    );
    let (status, again) = srv.get_json(&format!("/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);

    // WPS 2.0 Dismiss of the dismissed job: the same valid StatusInfo, twice.
    for _ in 0..2 {
        let response = srv
            .get(&format!(
                "/wps?service=WPS&version=2.0.0&request=Dismiss&jobId={id}"
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let xml = response.text().await.unwrap();
        assert_valid_xml(&xml, Schema::Wps2);
        assert!(
            xml.contains(&format!("<wps:JobID>{id}</wps:JobID>")),
            "{xml}"
        );
        assert!(xml.contains("<wps:Status>Dismissed</wps:Status>"), "{xml}");
    }
    assert_eq!(
        srv.store
            .job_events(&JobId::parse(&id).unwrap())
            .await
            .unwrap()
            .len(),
        events
    );
}

// ---- §8.6 Callback -----------------------------------------------------------------------

/// A server that records the callbacks it receives: (path, Link header, body).
async fn callback_receiver() -> (String, Arc<Mutex<Vec<(String, String, Value)>>>) {
    let received: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/{kind}",
        axum::routing::post(
            move |axum::extract::Path(kind): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  axum::Json(body): axum::Json<Value>| {
                let store = store.clone();
                async move {
                    let link = headers
                        .get("link")
                        .map(|l| l.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    store.lock().unwrap().push((kind, link, body));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

async fn wait_for_callbacks(received: &Mutex<Vec<(String, String, Value)>>, count: usize) {
    for _ in 0..200 {
        if received.lock().unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "expected {count} callbacks, got {:?}",
        received.lock().unwrap()
    );
}

#[tokio::test]
async fn callback_01_in_progress_then_success_are_posted() {
    let srv = server().await;
    let (receiver, received) = callback_receiver().await;
    let id = srv
        .submit(
            "echo",
            json!({"inputs": {"MESSAGE": "cb"}, "outputs": {"ECHOED": {}}, "subscriber": {
                "successUri": format!("{receiver}/success"),
                "inProgressUri": format!("{receiver}/progress"),
                "failedUri": format!("{receiver}/failed"),
            }}),
        )
        .await;
    let job = srv.claim().await;
    wait_for_callbacks(&received, 1).await;
    srv.succeed_echo(&job, "cb").await;
    wait_for_callbacks(&received, 2).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received[0].0, "progress");
    assert_valid("statusInfo", &received[0].2);
    assert_eq!(received[0].2["status"], "running");
    assert_eq!(received[1].0, "success");
    assert_valid("results", &received[1].2);
    assert_eq!(received[1].2, json!({"ECHOED": "cb"}));
    assert_eq!(
        received[1].1,
        format!("<{}>; rel=\"monitor\"", srv.url(&format!("/jobs/{id}")))
    );
}

#[tokio::test]
async fn callback_01_failure_is_posted_to_failed_uri() {
    let srv = server().await;
    let (receiver, received) = callback_receiver().await;
    srv.submit(
        "errors",
        json!({"inputs": {"CODE": 2}, "subscriber": {
            "successUri": format!("{receiver}/success"),
            "failedUri": format!("{receiver}/failed"),
        }}),
    )
    .await;
    let job = srv.claim().await;
    let failure =
        seed::errors::failure_for_exit_code(&example_process("errors").seed().unwrap().manifest, 2)
            .unwrap();
    srv.fail(&job, failure).await;
    wait_for_callbacks(&received, 1).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0, "failed");
    assert_eq!(received[0].2["status"], "failed");
    assert_eq!(
        received[0].2["exception"]["type"],
        "urn:ades:seed:error:invalid-data"
    );
}

#[tokio::test]
async fn callback_01_a_subscriber_uri_must_be_an_http_url() {
    let srv = server().await;
    let response = srv
        .execute(
            "echo",
            json!({"inputs": {"MESSAGE": "x"}, "subscriber": {"successUri": "mailto:x@example.org"}}),
            Some("respond-async"),
        )
        .await;
    let body = assert_exception(
        response,
        StatusCode::BAD_REQUEST,
        "urn:ades:error:invalid-parameter-value",
    )
    .await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("/subscriber/successUri"));
}

// ---- exceptions for bad requests ---------------------------------------------------------

#[tokio::test]
async fn exceptions_malformed_json_is_400() {
    let srv = server().await;
    for body in [
        "{\"inputs\": ",
        "[1, 2]",
        "",
        "{\"inputs\": 3}",
        "{\"response\": \"full\"}",
    ] {
        let response = srv
            .client
            .post(srv.url("/processes/echo/execution"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let exception: Value = response.json().await.unwrap();
        assert_valid("exception", &exception);
    }
}

#[tokio::test]
async fn exceptions_a_wrong_content_type_is_415() {
    let srv = server().await;
    let response = srv
        .client
        .post(srv.url("/processes/echo/execution"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("inputs=1")
        .send()
        .await
        .unwrap();
    let body = assert_exception(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "urn:ades:error:unsupported-media-type",
    )
    .await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("application/json"));
}

#[tokio::test]
async fn exceptions_an_oversized_body_is_413() {
    let srv = server().await;
    let big = "x".repeat(100 * 1024);
    let response = srv
        .execute("echo", json!({"inputs": {"MESSAGE": big}}), None)
        .await;
    assert_exception(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "urn:ades:error:payload-too-large",
    )
    .await;
}

#[tokio::test]
async fn exceptions_unknown_routes_and_wrong_methods_are_json() {
    let srv = server().await;
    let body = assert_exception(
        srv.get("/nothing/here").await,
        StatusCode::NOT_FOUND,
        "urn:ades:error:not-found",
    )
    .await;
    assert_eq!(body["instance"], "/nothing/here");
    let response = srv.client.put(srv.url("/processes")).send().await.unwrap();
    assert!(response.headers()["allow"]
        .to_str()
        .unwrap()
        .contains("GET"));
    let body = assert_exception(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "urn:ades:error:method-not-allowed",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("PUT"));
    let response = srv
        .client
        .get(srv.url("/processes/echo/execution"))
        .send()
        .await
        .unwrap();
    assert_exception(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "urn:ades:error:method-not-allowed",
    )
    .await;
}

#[tokio::test]
async fn exceptions_an_unreachable_engine_is_503_with_retry_after() {
    // An engine client whose socket nobody listens on: every scan (on-demand ones
    // included) finds the engine unreachable.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    // The file stays when the listener is dropped; connecting to it is then refused.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let docker = bollard::Docker::connect_with_unix(
        socket.to_str().unwrap(),
        5,
        bollard::API_DEFAULT_VERSION,
    )
    .unwrap();
    let settings = CatalogSettings {
        discover_local_images: true,
        images: vec![],
        ..Default::default()
    };
    let images = ades::engine::docker::DockerEngine::new(docker);
    let catalog = Catalog::new(settings, Ok(Arc::new(images)));
    catalog.rescan().await;
    assert!(
        matches!(
            catalog.engine_state(),
            ades::catalog::EngineState::Unreachable(_)
        ),
        "{:?}",
        catalog.engine_state()
    );
    let srv = server_with(catalog, |_| {}).await;
    let response = srv
        .execute("echo", json!({"inputs": {"MESSAGE": "x"}}), None)
        .await;
    assert!(response.headers().get("retry-after").is_some());
    let body = assert_exception(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "urn:ades:error:engine-unavailable",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("docker.sock"),
        "{body:#}"
    );
    let (status, health) = srv.get_json("/health").await;
    assert_eq!(status, StatusCode::OK, "the database answers");
    assert_eq!(health["engine"]["reachable"], false);
}

// ---- outputs, logs, health, HTTP niceties ------------------------------------------------

#[tokio::test]
async fn outputs_are_served_with_ranges() {
    let srv = server().await;
    let id = srv.submit("multi", json!({})).await;
    let job = srv.claim().await;
    srv.succeed(
        &job,
        vec![
            Produced::File {
                output: "PARTS",
                path: "part-1",
                content: b"0123456789",
                media_type: Some("text/plain"),
            },
            Produced::Json {
                output: "TOTAL",
                value: json!(1),
            },
        ],
    )
    .await;
    std::fs::write(srv.workspace.job_dir(&job.id).join("secret.txt"), "s").unwrap();
    let url = srv.url(&format!("/jobs/{id}/outputs/part-1"));
    let whole = srv.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], "10");
    assert_eq!(content_type(whole.headers()), "text/plain");
    let part = srv
        .client
        .get(&url)
        .header("Range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], "bytes 2-5/10");
    assert_eq!(part.headers()["content-length"], "4");
    assert_eq!(part.text().await.unwrap(), "2345");
    let tail = srv
        .client
        .get(&url)
        .header("Range", "bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(tail.text().await.unwrap(), "789");
    let outside = srv
        .client
        .get(&url)
        .header("Range", "bytes=10-")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.headers()["content-range"], "bytes */10");
    assert_exception(
        outside,
        StatusCode::RANGE_NOT_SATISFIABLE,
        "urn:ades:error:range-not-satisfiable",
    )
    .await;
    let head = srv.client.head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], "10");
    for escape in ["..%2Fsecret.txt", "%2E%2E/secret.txt", "nope"] {
        let response = srv.get(&format!("/jobs/{id}/outputs/{escape}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{escape}");
    }
}

#[tokio::test]
async fn logs_are_404_until_written_then_text() {
    let srv = server().await;
    let id = srv
        .submit("echo", json!({"inputs": {"MESSAGE": "x"}}))
        .await;
    let body = assert_exception(
        srv.get(&format!("/jobs/{id}/logs")).await,
        StatusCode::NOT_FOUND,
        "urn:ades:error:not-found",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("no log yet"));
    let job = srv.claim().await;
    std::fs::create_dir_all(srv.workspace.job_dir(&job.id)).unwrap();
    std::fs::write(srv.workspace.log_file(&job.id), "echo: wrote the message\n").unwrap();
    let response = srv.get(&format!("/jobs/{id}/logs")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(content_type(response.headers()).starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "echo: wrote the message\n");
}

#[tokio::test]
async fn health_reports_the_database_engine_and_processes() {
    let srv = server().await;
    let (status, health) = srv.get_json("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"]["ok"], true);
    assert_eq!(health["engine"]["reachable"], true);
    assert_eq!(health["processes"], 4);
    assert_eq!(health["skippedImages"], json!([]));
    srv.store.close().await;
    let (status, health) = srv.get_json("/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["database"]["ok"], false);
    // A database out of reach elsewhere is a 503 to retry (never a 4xx), and tells no
    // internals.
    let response = srv.get(&format!("/jobs/{}", uuid_like())).await;
    assert_eq!(response.headers()["retry-after"], "5");
    let body = assert_exception(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "urn:ades:error:storage-unavailable",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("pool") && !detail.contains("closed"),
        "{body}"
    );
}

#[tokio::test]
async fn http_cors_exposes_location_and_head_works() {
    let allowed = "https://app.example.org";
    let srv = server_with(Catalog::from_processes(test_processes()), |s| {
        s.cors_origins = vec![allowed.to_string()]
    })
    .await;
    let response = srv
        .client
        .get(srv.url("/processes"))
        .header("Origin", allowed)
        .send()
        .await
        .unwrap();
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("location"), "{exposed}");
    assert_eq!(response.headers()["access-control-allow-origin"], allowed);
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    // Another origin gets no CORS answer; nor does any by default.
    let other = srv
        .client
        .get(srv.url("/processes"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let default = server().await;
    let response = default
        .client
        .get(default.url("/processes"))
        .header("Origin", allowed)
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let head = srv
        .client
        .head(srv.url("/processes/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(content_type(head.headers()), "application/json");
    assert!(head.headers().get("x-request-id").is_some());
}

// ---- the whole server with real containers (ogc-notes §4.2, echo-style) ------------------

#[tokio::test(flavor = "multi_thread")]
async fn core_24_echo_runs_synchronously_and_echoes_teststring() {
    example_image("echo");
    let app = spawn_app().await;
    let client = &app.client;
    let response = client
        .post(app.url("/processes/echo/execution"))
        .json(&json!({"inputs": {"MESSAGE": "teststring"}, "outputs": {"ECHOED": {}}, "response": "raw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("link").is_none());
    assert_eq!(response.text().await.unwrap(), "\"teststring\"");
    // The default request (every output, raw): multipart with both echoes.
    let response = client
        .post(app.url("/processes/echo/execution"))
        .json(&json!({"inputs": {"MESSAGE": "teststring"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().matches("teststring").count() >= 2);
    // The job stays listed.
    let list: Value = client
        .get(app.url("/jobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_valid("jobList", &list);
    assert!(!list["jobs"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ets_async_job_results_contain_teststring() {
    example_image("echo");
    let app = spawn_app().await;
    let client = &app.client;
    let response = client
        .post(app.url("/processes/echo/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"MESSAGE": "teststring"}, "outputs": {"ECHOED": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..120 {
        status = client
            .get(&location)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_valid("statusInfo", &status);
        if status["status"] == "successful" || status["status"] == "failed" {
            break;
        }
        assert!(link(&status, "status").is_some() || link(&status, "monitor").is_some());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status["status"], "successful", "{status:#}");
    let results = link(&status, "http://www.opengis.net/def/rel/ogc/1.0/results").unwrap();
    let body = client
        .get(results["href"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("teststring"), "{body}");
    let log = client.get(format!("{location}/logs")).send().await.unwrap();
    assert_eq!(log.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ets_input_validation_rejects_a_structurally_wrong_value() {
    example_image("echo");
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/processes/echo/execution"))
        .json(&json!({"inputs": {"MESSAGE": "teststring", "COMPLEX_INPUT": {"type": "wrong/type_0b8c"}}}))
        .send()
        .await
        .unwrap();
    assert_exception(
        response,
        StatusCode::BAD_REQUEST,
        "urn:ades:error:invalid-parameter-value",
    )
    .await;
    let response = app
        .client
        .post(app.url("/processes/echo/execution"))
        .json(&json!({"invalid-execute-request": "true)"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().as_u16() > 200);
    assert_valid("exception", &response.json::<Value>().await.unwrap());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn real_seed_failures_answer_their_category() {
    example_image("errors");
    let app = spawn_app().await;
    for (code, status, name) in [
        (2, StatusCode::BAD_REQUEST, "invalid-data"),
        (3, StatusCode::INTERNAL_SERVER_ERROR, "job-failed"),
    ] {
        let response = app
            .client
            .post(app.url("/processes/errors/execution"))
            .json(&json!({"inputs": {"CODE": code}}))
            .send()
            .await
            .unwrap();
        assert_exception(response, status, &format!("urn:ades:seed:error:{name}")).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn io_demo_copies_an_inline_text_file() {
    example_image("io-demo");
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/processes/io-demo/execution"))
        .json(
            &json!({"inputs": {"INPUT_FILE": {"value": "hello file\n", "mediaType": "text/plain"}},
                      "response": "document",
                      "outputs": {"OUTPUT_FILE": {"transmissionMode": "reference"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let results: Value = response.json().await.unwrap();
    assert_valid("results", &results);
    let href = results["OUTPUT_FILE"]["href"].as_str().unwrap();
    assert!(href.starts_with(&app.address));
    let file = app.client.get(href).send().await.unwrap();
    assert_eq!(content_type(file.headers()), "text/plain");
    assert_eq!(file.text().await.unwrap(), "hello file\n");
    app.stop().await;
}
