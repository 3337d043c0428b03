//! The assertions, numbered after the checklist of ogc-notes §8 (`core-05` is §8.1 item 5,
//! `pd-` §8.2, `json-` §8.3, `jobs-` §8.4, `dismiss-` §8.5, `callback-` §8.6) and covering what
//! the official TeamEngine suite (ets-ogcapi-processes10) asserts. Every assertion speaks
//! only HTTP to the server under test, so the suite runs against any implementation.

use crate::html;
use crate::report::{Outcome, Verdict};
use crate::schemas::Schemas;
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CORE: &str = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core";
const HTML: &str = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/html";
const REL_CONFORMANCE: &str = "http://www.opengis.net/def/rel/ogc/1.0/conformance";
const REL_PROCESSES: &str = "http://www.opengis.net/def/rel/ogc/1.0/processes";
const REL_RESULTS: &str = "http://www.opengis.net/def/rel/ogc/1.0/results";
const NO_SUCH_PROCESS: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-process";
const NO_SUCH_JOB: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job";
const RESULT_NOT_READY: &str =
    "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/result-not-ready";

/// The process the execution checks use: it must take a string input and return it
/// unchanged in an output (like the ETS "echo" process).
#[derive(Debug, Clone)]
pub struct EchoProcess {
    pub process: String,
    /// Id of the required string input.
    pub input: String,
    /// Id of the output that returns the input.
    pub output: String,
}

/// A process and inputs whose job runs long enough (a few seconds) to be seen unfinished.
#[derive(Debug, Clone)]
pub struct SlowProcess {
    pub process: String,
    pub inputs: Value,
}

#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The landing page URL (no trailing slash).
    pub base: String,
    pub echo: Option<EchoProcess>,
    pub slow: Option<SlowProcess>,
    /// Longest wait for an asynchronous job.
    pub job_timeout: Duration,
}

/// Runs every check and returns the outcomes in order.
pub async fn run_suite(config: &SuiteConfig) -> Vec<Outcome> {
    let mut suite = Suite {
        config: config.clone(),
        client: Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client"),
        schemas: Schemas::get(),
        outcomes: Vec::new(),
    };
    suite.landing_and_conformance().await;
    suite.process_list().await;
    suite.process_description().await;
    if let Some(echo) = config.echo.clone() {
        suite.execution(&echo).await;
        suite.dismiss(&echo).await;
    } else {
        suite.skip(
            "core-08",
            "execution modes",
            "no echo process given (--echo-process)",
        );
    }
    suite.results_not_ready().await;
    suite.job_list().await;
    suite.html_encoding().await;
    suite.outcomes
}

struct Suite {
    config: SuiteConfig,
    client: Client,
    schemas: &'static Schemas,
    outcomes: Vec<Outcome>,
}

/// A response read whole.
struct Got {
    status: StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "the body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )
        })
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn content_type(&self) -> String {
        self.header("content-type").unwrap_or_default()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` and reads its answer whole.
async fn read_whole(request: reqwest::RequestBuilder, url: &str) -> Result<Got, String> {
    let response: Response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{url}: reading the body: {e}"))?
        .to_vec();
    Ok(Got {
        status,
        version,
        headers,
        body,
    })
}

fn links(document: &Value) -> Vec<&Value> {
    document["links"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

fn link_with<'a>(document: &'a Value, rel: &str) -> Option<&'a Value> {
    links(document).into_iter().find(|l| l["rel"] == rel)
}

/// Every `href` of `links` arrays anywhere in the document (the document's own and those of
/// its list members).
fn json_links(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![document];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(items)) = map.get("links") {
                    found.extend(
                        items
                            .iter()
                            .filter_map(|l| l["href"].as_str())
                            .map(str::to_string),
                    );
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

fn has_rel(document: &Value, rels: &[&str]) -> bool {
    rels.iter().any(|r| link_with(document, r).is_some())
}

impl Suite {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base)
    }

    fn record(&mut self, id: &str, statement: &str, verdict: Verdict) {
        self.outcomes.push(Outcome {
            id: id.to_string(),
            statement: statement.to_string(),
            verdict,
        });
    }

    fn check(&mut self, id: &str, statement: &str, problems: Vec<String>) {
        let verdict = if problems.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail(problems.join("; "))
        };
        self.record(id, statement, verdict);
    }

    fn skip(&mut self, id: &str, statement: &str, why: &str) {
        self.record(id, statement, Verdict::Skip(why.to_string()));
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        prefer: Option<&str>,
    ) -> Result<Got, String> {
        let mut request = self
            .client
            .request(method, url)
            .header("Accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        read_whole(request, url).await
    }

    async fn get(&self, url: &str) -> Result<Got, String> {
        self.send(Method::GET, url, None, None).await
    }

    /// GET with an `Accept` of our choosing (the HTML class).
    async fn get_as(&self, url: &str, accept: &str) -> Result<Got, String> {
        read_whole(self.client.get(url).header("Accept", accept), url).await
    }

    /// Problems of a JSON body against an official schema.
    fn validate(&self, schema: &str, got: &Got) -> Vec<String> {
        match got.json() {
            Ok(document) => self
                .schemas
                .check(schema, &document)
                .into_iter()
                .map(|p| format!("not valid against {schema}.yaml: {p}"))
                .collect(),
            Err(e) => vec![e],
        }
    }

    /// An OGC exception with this HTTP status (and `type`, when given).
    fn expect_exception(&self, got: &Got, status: StatusCode, kind: Option<&str>) -> Vec<String> {
        let mut problems = Vec::new();
        if got.status != status {
            problems.push(format!("status {} instead of {status}", got.status));
        }
        if !got.content_type().starts_with("application/json")
            && !got.content_type().starts_with("application/problem+json")
        {
            problems.push(format!("exception content type {:?}", got.content_type()));
        }
        problems.extend(self.validate("exception", got));
        if let (Some(kind), Ok(document)) = (kind, got.json()) {
            if document["type"] != kind {
                problems.push(format!("type {} instead of {kind}", document["type"]));
            }
        }
        problems
    }

    async fn landing_and_conformance(&mut self) {
        let landing = match self.get(&self.url("/")).await {
            Ok(got) => got,
            Err(e) => {
                self.check("core-01", "the landing page answers", vec![e]);
                return;
            }
        };
        let mut problems = Vec::new();
        if landing.status != StatusCode::OK {
            problems.push(format!("status {}", landing.status));
        }
        problems.extend(self.validate("landingPage", &landing));
        let document = landing.json().unwrap_or(Value::Null);
        if !has_rel(&document, &["service-desc", "service-doc"]) {
            problems.push("no service-desc or service-doc link".into());
        }
        if !has_rel(&document, &[REL_CONFORMANCE, "conformance"]) {
            problems.push("no conformance link".into());
        }
        if !has_rel(&document, &[REL_PROCESSES, "processes"]) {
            problems.push("no processes link".into());
        }
        self.check(
            "core-01",
            "GET / is a valid landing page with the required links",
            problems,
        );

        let mut problems = Vec::new();
        for link in links(&document) {
            if link["rel"] == "service-desc" || link["rel"] == "service-doc" {
                let href = link["href"].as_str().unwrap_or_default().to_string();
                match self.get(&href).await {
                    Ok(got) if got.status == StatusCode::OK => {}
                    Ok(got) => problems.push(format!("{href}: status {}", got.status)),
                    Err(e) => problems.push(e),
                }
            }
        }
        self.check("core-02", "the API definition links answer 200", problems);

        let mut problems = Vec::new();
        match self.get(&self.url("/conformance")).await {
            Ok(got) => {
                problems.extend(self.validate("confClasses", &got));
                let classes = got.json().unwrap_or(Value::Null);
                if !classes["conformsTo"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|u| u == CORE))
                {
                    problems.push(format!("conformsTo lacks {CORE}"));
                }
            }
            Err(e) => problems.push(e),
        }
        self.check(
            "core-03",
            "GET /conformance declares the core class",
            problems,
        );

        let problems = if landing.version == reqwest::Version::HTTP_11 {
            vec![]
        } else {
            vec![format!("answered with {:?}", landing.version)]
        };
        self.check("core-04", "responses are HTTP/1.1", problems);
    }

    async fn process_list(&mut self) {
        let mut problems = Vec::new();
        let all = match self.get(&self.url("/processes?limit=1000")).await {
            Ok(got) => got,
            Err(e) => {
                self.check("core-05", "GET /processes", vec![e]);
                return;
            }
        };
        problems.extend(self.validate("processList", &all));
        let document = all.json().unwrap_or(Value::Null);
        if link_with(&document, "self").is_none() {
            problems.push("no self link".into());
        }
        let ids: Vec<String> = document["processes"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if ids.is_empty() {
            problems.push("no process is offered".into());
        }
        self.check(
            "core-05",
            "GET /processes is a valid, non-empty process list with a self link",
            problems,
        );

        // Paging: limit=1 gives one process; following `next` visits every process once.
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        let mut next = Some(self.url("/processes?limit=1"));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > ids.len() + 2 {
                problems.push("following next links does not end".into());
                break;
            }
            match self.get(&url).await.and_then(|g| g.json()) {
                Ok(page) => {
                    let count = page["processes"].as_array().map_or(0, Vec::len);
                    if count > 1 {
                        problems.push(format!("{url} returned {count} processes"));
                    }
                    for p in page["processes"].as_array().into_iter().flatten() {
                        seen.push(p["id"].as_str().unwrap_or_default().to_string());
                    }
                    next = link_with(&page, "next")
                        .and_then(|l| l["href"].as_str())
                        .map(str::to_string);
                }
                Err(e) => problems.push(e),
            }
        }
        let mut sorted_seen = seen.clone();
        sorted_seen.sort();
        let mut sorted_ids = ids.clone();
        sorted_ids.sort();
        if problems.is_empty() && sorted_seen != sorted_ids {
            problems.push(format!(
                "paging with limit=1 visited {seen:?}, the full list has {ids:?}"
            ));
        }
        self.check(
            "core-06",
            "limit=1 returns one process and next links visit each once",
            problems,
        );

        let mut problems = Vec::new();
        for bad in ["0", "abc", "-1"] {
            match self
                .get(&self.url(&format!("/processes?limit={bad}")))
                .await
            {
                Ok(got) => problems.extend(
                    self.expect_exception(&got, StatusCode::BAD_REQUEST, None)
                        .into_iter()
                        .map(|p| format!("limit={bad}: {p}")),
                ),
                Err(e) => problems.push(e),
            }
        }
        self.check("core-06b", "an invalid limit is a 400 exception", problems);
    }

    async fn process_description(&mut self) {
        let ids: Vec<String> = match self
            .get(&self.url("/processes?limit=1000"))
            .await
            .and_then(|g| g.json())
        {
            Ok(list) => list["processes"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|p| p["id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let mut problems = Vec::new();
        let mut schema_problems = Vec::new();
        for id in ids.iter().take(10) {
            match self.get(&self.url(&format!("/processes/{id}"))).await {
                Ok(got) if got.status == StatusCode::OK => {
                    problems.extend(
                        self.validate("process", &got)
                            .into_iter()
                            .map(|p| format!("{id}: {p}")),
                    );
                    let document = got.json().unwrap_or(Value::Null);
                    for side in ["inputs", "outputs"] {
                        match document[side].as_object() {
                            Some(members) => {
                                for (name, description) in members {
                                    if !description["schema"].is_object() {
                                        schema_problems
                                            .push(format!("{id} {side}.{name} has no schema"));
                                    }
                                }
                            }
                            None if side == "outputs" => {
                                schema_problems.push(format!("{id} has no outputs object"))
                            }
                            None => {}
                        }
                    }
                }
                Ok(got) => problems.push(format!("{id}: status {}", got.status)),
                Err(e) => problems.push(e),
            }
        }
        self.check(
            "core-07",
            "every process description is valid (process.yaml)",
            problems,
        );
        self.check(
            "pd-02",
            "inputs and outputs are maps whose entries have a schema",
            schema_problems,
        );

        let unknown = format!("/processes/invalid-process-{}", uuid::Uuid::new_v4());
        let problems = match self.get(&self.url(&unknown)).await {
            Ok(got) => self.expect_exception(&got, StatusCode::NOT_FOUND, Some(NO_SUCH_PROCESS)),
            Err(e) => vec![e],
        };
        self.check(
            "core-07b",
            "an unknown process is a 404 no-such-process",
            problems,
        );
    }

    fn echo_body(echo: &EchoProcess, text: &str) -> Value {
        json!({ "inputs": { echo.input.clone(): text } })
    }

    /// Waits for a job to be final, following its status document.
    async fn wait_final(&self, status_url: &str) -> Result<Value, String> {
        let deadline = Instant::now() + self.config.job_timeout;
        loop {
            let got = self.get(status_url).await?;
            let status = got.json()?;
            match status["status"].as_str() {
                Some("successful" | "failed" | "dismissed") => return Ok(status),
                _ if Instant::now() > deadline => {
                    return Err(format!(
                        "{status_url} still {} after {:?}",
                        status["status"], self.config.job_timeout
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    async fn execution(&mut self, echo: &EchoProcess) {
        let execute_url = self.url(&format!("/processes/{}/execution", echo.process));
        let text = format!("teststring-{}", uuid::Uuid::new_v4().simple());

        // Sync, default: 200 with the raw value.
        let problems = match self
            .send(
                Method::POST,
                &execute_url,
                Some(&Self::echo_body(echo, &text)),
                None,
            )
            .await
        {
            Ok(got) => {
                let mut p = Vec::new();
                if got.status != StatusCode::OK {
                    p.push(format!("status {} (body {})", got.status, got.text()));
                }
                if !got.text().contains(&text) {
                    p.push(format!(
                        "the raw result does not contain the input: {}",
                        got.text()
                    ));
                }
                if let Some(link) = got.header("link") {
                    if !link.contains("rel=monitor") && !link.contains("rel=\"monitor\"") {
                        p.push(format!("a Link header without rel=monitor: {link}"));
                    }
                }
                p
            }
            Err(e) => vec![e],
        };
        self.check(
            "core-08",
            "a sync-capable process without Prefer answers 200 (raw value echoed)",
            problems,
        );

        // Async.
        let async_got = self
            .send(
                Method::POST,
                &execute_url,
                Some(&Self::echo_body(echo, &text)),
                Some("respond-async"),
            )
            .await;
        let mut problems = Vec::new();
        let mut status_url = None;
        match &async_got {
            Ok(got) => {
                if got.status != StatusCode::CREATED {
                    problems.push(format!("status {} instead of 201", got.status));
                }
                if !got
                    .header("preference-applied")
                    .is_some_and(|v| v.contains("respond-async"))
                {
                    problems.push("no Preference-Applied: respond-async".into());
                }
                match got.header("location") {
                    Some(l) if l.starts_with("http://") || l.starts_with("https://") => {
                        status_url = Some(l)
                    }
                    Some(l) => problems.push(format!("Location {l} is not absolute")),
                    None => problems.push("no Location header".into()),
                }
                problems.extend(self.validate("statusInfo", got));
            }
            Err(e) => problems.push(e.clone()),
        }
        self.check("core-09", "Prefer: respond-async gives 201, Preference-Applied, an absolute Location and a statusInfo", problems);

        let Some(status_url) = status_url else {
            self.skip(
                "core-23",
                "status documents of a finished job",
                "no job was created",
            );
            return;
        };
        let mut problems = Vec::new();
        match self.wait_final(&status_url).await {
            Ok(status) => {
                problems.extend(
                    self.schemas
                        .check("statusInfo", &status)
                        .into_iter()
                        .map(|p| format!("statusInfo: {p}")),
                );
                if status["status"] != "successful" {
                    problems.push(format!("the echo job ended {}", status["status"]));
                }
                if link_with(&status, REL_RESULTS).is_none()
                    && link_with(&status, "results").is_none()
                {
                    problems.push("no results link on a successful job".into());
                }
                let created = status["created"].as_str().unwrap_or_default();
                let started = status["started"].as_str().unwrap_or_default();
                let finished = status["finished"].as_str().unwrap_or_default();
                if !(created <= started && started <= finished) || finished.is_empty() {
                    problems.push(format!("timestamps out of order: created {created}, started {started}, finished {finished}"));
                }
            }
            Err(e) => problems.push(e),
        }
        self.check(
            "core-23",
            "a finished job's status has a results link and ordered timestamps",
            problems,
        );

        let results_url = format!("{status_url}/results");
        let problems = match self.get(&results_url).await {
            Ok(got) if got.status == StatusCode::OK => {
                if got.text().contains(&text) {
                    vec![]
                } else {
                    vec![format!("results do not contain the input: {}", got.text())]
                }
            }
            Ok(got) => vec![format!("status {}", got.status)],
            Err(e) => vec![e],
        };
        self.check(
            "core-21",
            "GET /jobs/{id}/results of a finished job returns the echo",
            problems,
        );

        let problems = match self.get(&format!("{results_url}/{}", echo.output)).await {
            Ok(got) if got.status == StatusCode::OK && got.text().contains(&text) => vec![],
            Ok(got) => vec![format!("status {}: {}", got.status, got.text())],
            Err(e) => vec![e],
        };
        self.check(
            "core-22",
            "GET /jobs/{id}/results/{outputID} returns the one output",
            problems,
        );

        // Document response.
        let body = json!({ "inputs": { echo.input.clone(): text }, "response": "document" });
        let problems = match self
            .send(Method::POST, &execute_url, Some(&body), None)
            .await
        {
            Ok(got) => {
                let mut p = self.validate("results", &got);
                if got.status != StatusCode::OK {
                    p.push(format!("status {}", got.status));
                }
                if !got.text().contains(&text) {
                    p.push("the document does not contain the echo".into());
                }
                if !got.content_type().starts_with("application/json") {
                    p.push(format!("content type {}", got.content_type()));
                }
                p
            }
            Err(e) => vec![e],
        };
        self.check("core-18", "sync + response=document is a results document (results.yaml) with every output (outputs omitted)", problems);

        // By reference: 204 with Link headers.
        let body = json!({ "inputs": { echo.input.clone(): text },
            "outputs": { echo.output.clone(): { "transmissionMode": "reference" } } });
        let problems = match self
            .send(Method::POST, &execute_url, Some(&body), None)
            .await
        {
            Ok(got) => {
                let mut p = Vec::new();
                if got.status != StatusCode::NO_CONTENT {
                    p.push(format!("status {} instead of 204", got.status));
                }
                match got.header("link") {
                    Some(link) => {
                        let href = link
                            .trim()
                            .trim_start_matches('<')
                            .split('>')
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        match self.get(&href).await {
                            Ok(r) if r.text().contains(&text) => {}
                            Ok(r) => p.push(format!(
                                "the linked output {href} answers {}: {}",
                                r.status,
                                r.text()
                            )),
                            Err(e) => p.push(e),
                        }
                    }
                    None => p.push("no Link header".into()),
                }
                p
            }
            Err(e) => vec![e],
        };
        self.check(
            "core-16",
            "sync + raw + reference is a 204 with a Link per output",
            problems,
        );

        // Invalid requests.
        let mut problems = Vec::new();
        let cases = [
            ("a missing required input", json!({ "inputs": {} })),
            (
                "an unknown input structure",
                json!({ "inputs": { echo.input.clone(): { "type": format!("wrong/type_{}", uuid::Uuid::new_v4()) } } }),
            ),
            (
                "an unknown input",
                json!({ "inputs": { echo.input.clone(): text, "no-such-input-x": 1 } }),
            ),
            (
                "a body that is not an execute request",
                json!({ "invalid-execute-request": "true)" }),
            ),
        ];
        for (what, body) in cases {
            match self
                .send(Method::POST, &execute_url, Some(&body), None)
                .await
            {
                Ok(got) => problems.extend(
                    self.expect_exception(&got, StatusCode::BAD_REQUEST, None)
                        .into_iter()
                        .map(|p| format!("{what}: {p}")),
                ),
                Err(e) => problems.push(e),
            }
        }
        match self
            .client
            .post(&execute_url)
            .header("Content-Type", "application/json")
            .body("{ not json")
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::BAD_REQUEST => {}
            Ok(r) => problems.push(format!("malformed JSON: status {}", r.status())),
            Err(e) => problems.push(e.to_string()),
        }
        self.check(
            "core-13",
            "invalid execute requests are 400 JSON exceptions",
            problems,
        );

        // Unknown jobs.
        let unknown = format!("/jobs/invalid-job-{}", uuid::Uuid::new_v4());
        let mut problems = Vec::new();
        for path in [unknown.clone(), format!("{unknown}/results")] {
            match self.get(&self.url(&path)).await {
                Ok(got) => problems.extend(
                    self.expect_exception(&got, StatusCode::NOT_FOUND, Some(NO_SUCH_JOB))
                        .into_iter()
                        .map(|p| format!("{path}: {p}")),
                ),
                Err(e) => problems.push(e),
            }
        }
        self.check(
            "core-20",
            "unknown jobs and their results are 404 no-such-job",
            problems,
        );
    }

    async fn results_not_ready(&mut self) {
        let Some(slow) = self.config.slow.clone() else {
            self.skip(
                "core-21b",
                "results of an unfinished job are 404 result-not-ready",
                "no slow process given (--slow-process)",
            );
            return;
        };
        let url = self.url(&format!("/processes/{}/execution", slow.process));
        let body = json!({ "inputs": slow.inputs });
        let problems = match self
            .send(Method::POST, &url, Some(&body), Some("respond-async"))
            .await
        {
            Ok(got) => match got.header("location") {
                Some(location) => match self.get(&format!("{location}/results")).await {
                    Ok(results) => self.expect_exception(
                        &results,
                        StatusCode::NOT_FOUND,
                        Some(RESULT_NOT_READY),
                    ),
                    Err(e) => vec![e],
                },
                None => vec![format!("no Location (status {})", got.status)],
            },
            Err(e) => vec![e],
        };
        self.check(
            "core-21b",
            "results of an unfinished job are 404 result-not-ready",
            problems,
        );
    }

    async fn dismiss(&mut self, echo: &EchoProcess) {
        let target = self
            .config
            .slow
            .clone()
            .map(|s| (s.process, json!({ "inputs": s.inputs })))
            .unwrap_or_else(|| (echo.process.clone(), Self::echo_body(echo, "dismiss me")));
        let url = self.url(&format!("/processes/{}/execution", target.0));
        let mut problems = Vec::new();
        match self
            .send(Method::POST, &url, Some(&target.1), Some("respond-async"))
            .await
        {
            Ok(got) => match got.header("location") {
                Some(location) => match self.send(Method::DELETE, &location, None, None).await {
                    Ok(deleted) => {
                        if deleted.status != StatusCode::OK {
                            problems.push(format!("DELETE: status {}", deleted.status));
                        }
                        problems.extend(self.validate("statusInfo", &deleted));
                        let document = deleted.json().unwrap_or(Value::Null);
                        // A job that already finished keeps its status; one still going is dismissed.
                        if !matches!(
                            document["status"].as_str(),
                            Some("dismissed" | "successful" | "failed")
                        ) {
                            problems.push(format!("status after DELETE: {}", document["status"]));
                        }
                    }
                    Err(e) => problems.push(e),
                },
                None => problems.push(format!("no Location (status {})", got.status)),
            },
            Err(e) => problems.push(e),
        }
        let unknown = self.url(&format!("/jobs/invalid-job-{}", uuid::Uuid::new_v4()));
        match self.send(Method::DELETE, &unknown, None, None).await {
            Ok(got) => problems.extend(self.expect_exception(
                &got,
                StatusCode::NOT_FOUND,
                Some(NO_SUCH_JOB),
            )),
            Err(e) => problems.push(e),
        }
        self.check(
            "dismiss-01",
            "DELETE /jobs/{id} answers a dismissed statusInfo; unknown jobs 404",
            problems,
        );
    }

    /// The HTML class: every Part 1 resource as `text/html`, by `Accept` and by `?f=html`,
    /// each page an HTML5 document that links its JSON alternate and every link of the JSON
    /// document as an `<a>`. Skipped when `/conformance` does not declare the class.
    async fn html_encoding(&mut self) {
        let declared = match self
            .get(&self.url("/conformance"))
            .await
            .and_then(|g| g.json())
        {
            Ok(classes) => classes["conformsTo"]
                .as_array()
                .is_some_and(|c| c.iter().any(|u| u == HTML)),
            Err(_) => false,
        };
        if !declared {
            for id in ["html-01", "html-02", "html-03"] {
                self.skip(
                    id,
                    "the HTML encoding",
                    "the server does not declare the html class",
                );
            }
            return;
        }
        let mut resources = vec![
            self.url("/"),
            self.url("/conformance"),
            self.url("/api"),
            self.url("/processes"),
            self.url("/jobs"),
        ];
        if let Ok(list) = self
            .get(&self.url("/processes"))
            .await
            .and_then(|g| g.json())
        {
            if let Some(id) = list["processes"][0]["id"].as_str() {
                resources.push(self.url(&format!("/processes/{id}")));
            }
        }
        if let Ok(list) = self
            .get(&self.url("/jobs?status=successful&limit=1"))
            .await
            .and_then(|g| g.json())
        {
            if let Some(id) = list["jobs"][0]["jobID"].as_str() {
                resources.push(self.url(&format!("/jobs/{id}")));
                resources.push(self.url(&format!("/jobs/{id}/results")));
            }
        }

        let mut by_accept = Vec::new();
        let mut by_f = Vec::new();
        let mut linked = Vec::new();
        for url in &resources {
            // The class is about 200 answers: a resource without a body (results of a job
            // that has none: 204) has no page either.
            let twin = match self.get(url).await {
                Ok(twin) if twin.status == StatusCode::OK => twin,
                Ok(_) => continue,
                Err(e) => {
                    by_accept.push(e);
                    continue;
                }
            };
            match self.get_as(url, "text/html").await {
                Ok(page) => by_accept.extend(
                    html::page_problems(&page.status, &page.content_type(), &page.text())
                        .into_iter()
                        .map(|p| format!("{url}: {p}")),
                ),
                Err(e) => by_accept.push(e),
            }
            let separator = if url.contains('?') { '&' } else { '?' };
            let html_url = format!("{url}{separator}f=html");
            let page = match self.get_as(&html_url, "application/json").await {
                Ok(page) => page,
                Err(e) => {
                    by_f.push(e);
                    continue;
                }
            };
            let text = page.text();
            by_f.extend(
                html::page_problems(&page.status, &page.content_type(), &text)
                    .into_iter()
                    .map(|p| format!("{html_url}: {p}")),
            );
            // The API definition is not a JSON document of links: its page is checked above.
            if url.ends_with("/api") {
                continue;
            }
            if let Ok(document) = twin.json() {
                let hrefs = html::hrefs(&text);
                for link in json_links(&document) {
                    if !hrefs.contains(&link) {
                        linked.push(format!("{url}: the page has no <a href> to {link}"));
                    }
                }
            }
        }
        self.check(
            "html-01",
            "Accept: text/html on every Part 1 resource gives an HTML5 page with a JSON alternate",
            by_accept,
        );
        self.check(
            "html-02",
            "?f=html gives the page even when Accept asks for JSON",
            by_f,
        );
        self.check(
            "html-03",
            "every link of the JSON document is an <a> of the page",
            linked,
        );
    }

    async fn job_list(&mut self) {
        let mut problems = Vec::new();
        let list = match self.get(&self.url("/jobs")).await {
            Ok(got) => got,
            Err(e) => {
                self.check("jobs-01", "GET /jobs", vec![e]);
                return;
            }
        };
        problems.extend(self.validate("jobList", &list));
        let document = list.json().unwrap_or(Value::Null);
        let jobs = document["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.is_empty() {
            problems.push("the job list is empty after the jobs this suite created".into());
        }
        if jobs.iter().any(|j| !j["processID"].is_string()) {
            problems.push("a job without processID".into());
        }
        if link_with(&document, "self").is_none() {
            problems.push("no self link".into());
        }
        self.check(
            "jobs-01",
            "GET /jobs is a valid, non-empty job list; every job has a processID",
            problems,
        );

        let mut problems = Vec::new();
        match self
            .get(&self.url("/jobs?limit=1"))
            .await
            .and_then(|g| g.json())
        {
            Ok(page) => {
                if page["jobs"].as_array().map_or(0, Vec::len) != 1 {
                    problems.push("limit=1 did not return exactly one job".into());
                }
                if jobs.len() > 1 && link_with(&page, "next").is_none() {
                    problems.push("no next link although more jobs exist".into());
                }
            }
            Err(e) => problems.push(e),
        }
        self.check(
            "jobs-02",
            "limit is respected and next links are given",
            problems,
        );

        let mut problems = Vec::new();
        if let Some(process) = jobs
            .first()
            .and_then(|j| j["processID"].as_str())
            .map(str::to_string)
        {
            for (query, keep) in [
                (
                    format!("processID={process}"),
                    Box::new(move |j: &Value| j["processID"] == process.as_str())
                        as Box<dyn Fn(&Value) -> bool>,
                ),
                (
                    "status=successful".to_string(),
                    Box::new(|j: &Value| j["status"] == "successful"),
                ),
                (
                    "status=successful,failed".to_string(),
                    Box::new(|j: &Value| j["status"] == "successful" || j["status"] == "failed"),
                ),
                ("type=process".to_string(), Box::new(|_: &Value| true)),
                (
                    "datetime=2000-01-01T00:00:00Z/..".to_string(),
                    Box::new(|_: &Value| true),
                ),
                (
                    "datetime=../2000-01-01T00:00:00Z".to_string(),
                    Box::new(|_: &Value| false),
                ),
                (
                    "minDuration=0".to_string(),
                    Box::new(|j: &Value| j["status"] != "accepted"),
                ),
                (
                    "maxDuration=100000".to_string(),
                    Box::new(|j: &Value| j["status"] != "accepted"),
                ),
            ] {
                match self
                    .get(&self.url(&format!("/jobs?limit=1000&{query}")))
                    .await
                {
                    Ok(got) if got.status == StatusCode::OK => {
                        let filtered = got.json().unwrap_or(Value::Null);
                        for job in filtered["jobs"].as_array().into_iter().flatten() {
                            if !keep(job) {
                                problems.push(format!(
                                    "{query} listed job {} ({})",
                                    job["jobID"], job["status"]
                                ));
                                break;
                            }
                        }
                    }
                    Ok(got) => problems.push(format!("{query}: status {}", got.status)),
                    Err(e) => problems.push(e),
                }
            }
            for bad in [
                "status=sleeping",
                "datetime=yesterday",
                "minDuration=abc",
                "limit=0",
            ] {
                match self.get(&self.url(&format!("/jobs?{bad}"))).await {
                    Ok(got) => problems.extend(
                        self.expect_exception(&got, StatusCode::BAD_REQUEST, None)
                            .into_iter()
                            .map(|p| format!("{bad}: {p}")),
                    ),
                    Err(e) => problems.push(e),
                }
            }
        } else {
            problems.push("no job to filter".into());
        }
        self.check(
            "jobs-03",
            "the job-list filters select what they say; bad values are 400",
            problems,
        );
    }
}
