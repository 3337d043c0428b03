//! The WPS 2.0 façade over real HTTP with real containers: every document validates the
//! official schemas (`xsd`), errors are `ows:ExceptionReport`s with the right codes and
//! never 500, and a job is one job whichever façade started it.

use crate::app::TestApp;
use crate::support::{example_image, repo_root, spawn_app};
use crate::xsd::{assert_valid_xml, Schema};
use ades::wps::xml::{parse, Element, Limits, XLINK};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const WPS: &str = "http://www.opengis.net/wps/2.0";
const OWS: &str = "http://www.opengis.net/ows/2.0";

struct Answer {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Answer {
    /// The body as a validated WPS 2.0 document.
    fn document(&self) -> Element {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert!(self.content_type.contains("xml"), "{}", self.content_type);
        assert_valid_xml(&self.body, Schema::Wps2);
        parse(self.body.as_bytes(), &Limits::default()).expect("well-formed")
    }

    /// The exception code and locator of a validated OWS 2.0 exception report.
    fn exception(&self) -> (String, Option<String>) {
        assert!(
            self.status.is_client_error() || self.status == StatusCode::NOT_IMPLEMENTED,
            "{}: {}",
            self.status,
            self.body
        );
        assert!(self.content_type.starts_with("application/xml"));
        assert_valid_xml(&self.body, Schema::Ows2Exception);
        let root = parse(self.body.as_bytes(), &Limits::default()).unwrap();
        let exception = root.child(OWS, "Exception").expect("ows:Exception");
        let text = exception.child(OWS, "ExceptionText").unwrap().text();
        assert!(!text.is_empty());
        (
            exception.attr("exceptionCode").unwrap().to_string(),
            exception.attr("locator").map(str::to_string),
        )
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn get(app: &TestApp, query: &str) -> Answer {
    answer(
        app.client
            .get(app.url(&format!("/wps?{query}")))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn post(app: &TestApp, xml: &str) -> Answer {
    let response = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(xml.to_string())
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn execute_xml(process: &str, mode: &str, response: &str, inputs: &str, outputs: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" xmlns:xlink="{XLINK}"
    service="WPS" version="2.0.0" mode="{mode}" response="{response}">
  <ows:Identifier>{process}</ows:Identifier>
  {inputs}
  {outputs}
</wps:Execute>"#
    )
}

fn literal(id: &str, value: &str) -> String {
    format!(
        r#"<wps:Input id="{id}"><wps:Data><wps:LiteralValue>{value}</wps:LiteralValue></wps:Data></wps:Input>"#
    )
}

fn output(id: &str, transmission: &str) -> String {
    format!(r#"<wps:Output id="{id}" transmission="{transmission}"/>"#)
}

fn text_of(root: &Element, path: &[&str]) -> String {
    let mut element = root;
    for name in path {
        element = element
            .child(WPS, name)
            .unwrap_or_else(|| panic!("no wps:{name}"));
    }
    element.text()
}

/// The `wps:Data` of output `id` in a `wps:Result`.
fn result_data<'a>(result: &'a Element, id: &str) -> &'a Element {
    result
        .children_named(WPS, "Output")
        .find(|o| o.attr("id") == Some(id))
        .unwrap_or_else(|| panic!("no output {id}"))
        .child(WPS, "Data")
        .expect("wps:Data")
}

async fn poll_until_final(app: &TestApp, job_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = get(
            app,
            &format!("service=WPS&version=2.0.0&request=GetStatus&jobId={job_id}"),
        )
        .await
        .document();
        let value = text_of(&status, &["Status"]);
        if ["Succeeded", "Failed", "Dismissed"].contains(&value.as_str()) {
            return value;
        }
        assert!(Instant::now() < deadline, "job {job_id} still {value}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_and_descriptions_validate() {
    example_image("echo");
    example_image("io-demo");
    example_image("complete");
    let app = spawn_app().await;

    for query in [
        "service=WPS&request=GetCapabilities",
        "Service=WPS&Request=GetCapabilities&AcceptVersions=2.0.0",
        "SERVICE=WPS&REQUEST=GetCapabilities",
    ] {
        let caps = get(&app, query).await.document();
        assert!(caps.is(WPS, "Capabilities"));
        let summaries: Vec<String> = caps
            .child(WPS, "Contents")
            .unwrap()
            .children_named(WPS, "ProcessSummary")
            .map(|s| s.child(OWS, "Identifier").unwrap().text())
            .collect();
        assert!(summaries.contains(&"echo".to_string()), "{summaries:?}");
        let operations = caps.child(OWS, "OperationsMetadata").unwrap();
        let href = operations
            .child(OWS, "Operation")
            .unwrap()
            .child(OWS, "DCP")
            .unwrap()
            .child(OWS, "HTTP")
            .unwrap()
            .child(OWS, "Get")
            .unwrap()
            .attr_ns(XLINK, "href")
            .unwrap()
            .to_string();
        assert_eq!(href, app.url("/wps"));
    }
    let template =
        std::fs::read_to_string(repo_root().join("tests/fixtures/ets-wps20/GetCapabilities.xml"))
            .expect("the official GetCapabilities template");
    assert!(post(&app, &template)
        .await
        .document()
        .is(WPS, "Capabilities"));

    // The echo process, by KVP (mixed case) and by POST.
    let offerings = get(
        &app,
        "Service=WPS&Version=2.0.0&Request=DescribeProcess&Identifier=echo",
    )
    .await
    .document();
    let process = offerings
        .child(WPS, "ProcessOffering")
        .unwrap()
        .child(WPS, "Process")
        .unwrap();
    let input = |id: &str| {
        process
            .children_named(WPS, "Input")
            .find(|i| i.child(OWS, "Identifier").unwrap().text() == id)
            .unwrap_or_else(|| panic!("no input {id}"))
    };
    let message = input("MESSAGE");
    assert_eq!(message.attr("minOccurs"), Some("1"));
    let domain = message
        .child(WPS, "LiteralData")
        .unwrap()
        .elements()
        .find(|e| e.name == "LiteralDataDomain" && e.namespace.is_none())
        .expect("unqualified LiteralDataDomain");
    assert_eq!(domain.child(OWS, "DataType").unwrap().text(), "string");
    assert_eq!(input("REPEAT").attr("minOccurs"), Some("0"));
    assert!(input("COMPLEX_INPUT").child(WPS, "ComplexData").is_some());

    let described = post(
        &app,
        &format!(
            r#"<wps:DescribeProcess service="WPS" version="2.0.0" xmlns:ows="{OWS}" xmlns:wps="{WPS}">
                 <ows:Identifier>io-demo</ows:Identifier><ows:Identifier>complete</ows:Identifier>
               </wps:DescribeProcess>"#
        ),
    )
    .await
    .document();
    assert_eq!(described.children_named(WPS, "ProcessOffering").count(), 2);

    let unknown = get(
        &app,
        "service=WPS&version=2.0.0&request=DescribeProcess&identifier=nope",
    )
    .await;
    assert_eq!(unknown.exception().0, "NoSuchProcess");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_the_right_exception_codes() {
    let app = spawn_app().await;
    let cases: Vec<(Answer, &str, Option<&str>)> = vec![
        (get(&app, "service=WMS&request=GetCapabilities").await, "InvalidParameterValue", Some("service")),
        (get(&app, "request=GetCapabilities").await, "MissingParameterValue", Some("service")),
        (get(&app, "service=WPS").await, "MissingParameterValue", Some("request")),
        (get(&app, "service=WPS&version=3.0.0&request=DescribeProcess&identifier=echo").await, "InvalidParameterValue", Some("version")),
        (get(&app, "service=WPS&request=GetCapabilities&version=3.0.0").await, "InvalidParameterValue", Some("version")),
        (get(&app, "service=WPS&request=GetCapabilities&acceptversions=3.0.0").await, "VersionNegotiationFailed", Some("AcceptVersions")),
        (get(&app, "service=WPS&version=2.0.0&request=Frobnicate").await, "OperationNotSupported", Some("Frobnicate")),
        (get(&app, "service=WPS&version=2.0.0&request=DescribeProcess").await, "MissingParameterValue", Some("identifier")),
        (get(&app, "service=WPS&version=2.0.0&request=GetStatus").await, "MissingParameterValue", Some("jobId")),
        (get(&app, "service=WPS&version=2.0.0&request=GetStatus&jobId=not-a-job").await, "NoSuchJob", Some("jobId")),
        (get(&app, "service=WPS&version=2.0.0&request=GetResult&JOBID=8f1c4c3e-2a59-4a8e-9a53-0d3f8c1d2b7a").await, "NoSuchJob", Some("jobId")),
        (get(&app, "service=WPS&version=2.0.0&request=Dismiss&jobid=8f1c4c3e-2a59-4a8e-9a53-0d3f8c1d2b7a").await, "NoSuchJob", Some("jobId")),
        (post(&app, "<wps:Execute").await, "OperationParsingFailed", None),
        (post(&app, r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS">&c;</wps:GetCapabilities>"#).await, "OperationParsingFailed", None),
        (post(&app, r#"<wps:GetCapabilities xmlns:wps="http://www.opengis.net/wps/2.0" service="WMS"/>"#).await, "InvalidParameterValue", Some("service")),
        (post(&app, r#"<wps:Frobnicate xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS" version="2.0.0"/>"#).await, "OperationNotSupported", Some("Frobnicate")),
        (post(&app, r#"<wps:GetStatus xmlns:wps="http://www.opengis.net/wps/2.0" service="WPS"><wps:JobID>x</wps:JobID></wps:GetStatus>"#).await, "MissingParameterValue", Some("version")),
    ];
    for (answer, code, locator) in cases {
        assert_ne!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            answer.body
        );
        let (got_code, got_locator) = answer.exception();
        assert_eq!(got_code, code, "{}", answer.body);
        assert_eq!(got_locator.as_deref(), locator, "{}", answer.body);
    }
    let unsupported = get(&app, "service=WPS&version=2.0.0&request=Frobnicate").await;
    assert_eq!(unsupported.status, StatusCode::NOT_IMPLEMENTED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn echo_executes_sync_raw_document_and_async() {
    example_image("echo");
    let app = spawn_app().await;

    // Sync raw: one literal output, its bare value.
    let raw = post(
        &app,
        &execute_xml(
            "echo",
            "sync",
            "raw",
            &literal("MESSAGE", "hello_literal"),
            &output("ECHOED", "value"),
        ),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    assert!(raw.content_type.starts_with("text/plain"));
    assert_eq!(raw.body, "hello_literal");

    // Sync document: every asked output, ECHO inline as text, ECHOED literal.
    let document = post(
        &app,
        &execute_xml(
            "echo",
            "sync",
            "document",
            &literal("MESSAGE", "hi &amp; <bye>".replace('<', "&lt;").as_str()),
            &format!("{}{}", output("ECHO", "value"), output("ECHOED", "value")),
        ),
    )
    .await
    .document();
    assert!(document.is(WPS, "Result"));
    assert_eq!(result_data(&document, "ECHOED").text(), "hi & <bye>");
    assert_eq!(
        result_data(&document, "ECHO").text().trim_end(),
        "hi & <bye>"
    );

    // By reference: an absolute link to the output file.
    let by_reference = post(
        &app,
        &execute_xml(
            "echo",
            "auto",
            "document",
            &literal("MESSAGE", "linked"),
            &output("ECHO", "reference"),
        ),
    )
    .await
    .document();
    let reference = by_reference
        .child(WPS, "Output")
        .unwrap()
        .child(WPS, "Reference")
        .expect("wps:Reference");
    let href = reference.attr_ns(XLINK, "href").unwrap();
    assert!(href.starts_with(&app.url("/jobs/")), "{href}");
    let fetched = app
        .client
        .get(href)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(fetched.trim_end(), "linked");

    // Async: StatusInfo, GetStatus (KVP and POST) until Succeeded, GetResult.
    let accepted = post(
        &app,
        &execute_xml(
            "echo",
            "async",
            "document",
            &literal("MESSAGE", "later"),
            &output("ECHOED", "value"),
        ),
    )
    .await
    .document();
    assert!(accepted.is(WPS, "StatusInfo"));
    let job_id = text_of(&accepted, &["JobID"]);
    assert_eq!(poll_until_final(&app, &job_id).await, "Succeeded");
    let status = post(
        &app,
        &format!(r#"<wps:GetStatus xmlns:wps="{WPS}" service="WPS" version="2.0.0"><wps:JobID>{job_id}</wps:JobID></wps:GetStatus>"#),
    )
    .await
    .document();
    assert_eq!(text_of(&status, &["PercentCompleted"]), "100");
    let result = get(
        &app,
        &format!("service=WPS&version=2.0.0&request=GetResult&JobID={job_id}"),
    )
    .await
    .document();
    assert_eq!(result_data(&result, "ECHOED").text(), "later");
    let result = post(
        &app,
        &format!(r#"<wps:GetResult xmlns:wps="{WPS}" service="WPS" version="2.0.0"><wps:JobID>{job_id}</wps:JobID></wps:GetResult>"#),
    )
    .await
    .document();
    assert_eq!(text_of(&result, &["JobID"]), job_id);

    // The same job through the OGC API.
    let job: serde_json::Value = app
        .client
        .get(app.url(&format!("/jobs/{job_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "successful");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn complex_inputs_by_value_and_base64_and_input_errors() {
    example_image("echo");
    let app = spawn_app().await;
    let complex = r#"<wps:Input id="COMPLEX_INPUT"><wps:Data mimeType="text/xml">
                <testElement>hello_complex</testElement>
            </wps:Data></wps:Input>"#;
    let raw = post(
        &app,
        &execute_xml(
            "echo",
            "sync",
            "raw",
            &format!("{}{complex}", literal("MESSAGE", "m")),
            &output("COMPLEX_ECHO", "value"),
        ),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    assert_eq!(raw.body, "<testElement>hello_complex</testElement>");

    // base64: arbitrary bytes, echoed back base64 in a document.
    let bytes = [0u8, 159, 146, 150, 255, 10];
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let document = post(
        &app,
        &execute_xml(
            "echo",
            "sync",
            "document",
            &format!(
                r#"{}<wps:Input id="COMPLEX_INPUT"><wps:Data mimeType="application/octet-stream" encoding="base64">{encoded}</wps:Data></wps:Input>"#,
                literal("MESSAGE", "m")
            ),
            &output("COMPLEX_ECHO", "value"),
        ),
    )
    .await
    .document();
    let data = result_data(&document, "COMPLEX_ECHO");
    assert_eq!(data.attr("encoding"), Some("base64"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(data.text().trim())
            .unwrap(),
        bytes
    );

    let errors = [
        (
            execute_xml("echo", "sync", "document", "", &output("ECHOED", "value")),
            "MissingParameterValue",
            "MESSAGE",
        ),
        (
            execute_xml(
                "echo",
                "sync",
                "document",
                &format!("{}{}", literal("MESSAGE", "m"), literal("NOPE", "x")),
                "",
            ),
            "NoSuchInput",
            "NOPE",
        ),
        (
            execute_xml(
                "echo",
                "sync",
                "document",
                &literal("MESSAGE", "m"),
                &output("NOPE", "value"),
            ),
            "NoSuchOutput",
            "NOPE",
        ),
        (
            execute_xml(
                "echo",
                "sync",
                "document",
                &format!("{}{}", literal("MESSAGE", "m"), literal("REPEAT", "many")),
                "",
            ),
            "WrongInputData",
            "REPEAT",
        ),
        (
            execute_xml("echo", "sync", "raw", &literal("MESSAGE", "m"), ""),
            "InvalidParameterValue",
            "response",
        ),
        (
            execute_xml(
                "echo",
                "sometimes",
                "document",
                &literal("MESSAGE", "m"),
                "",
            ),
            "InvalidParameterValue",
            "mode",
        ),
        (
            execute_xml("nope", "sync", "document", "", ""),
            "NoSuchProcess",
            "identifier",
        ),
    ];
    for (request, code, locator) in errors {
        let answer = post(&app, &request).await;
        let (got_code, got_locator) = answer.exception();
        assert_eq!(
            (got_code.as_str(), got_locator.as_deref()),
            (code, Some(locator)),
            "{}",
            answer.body
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dismiss_stops_the_container_and_jobs_cross_facades() {
    example_image("timeout");
    example_image("echo");
    let app = spawn_app().await;

    let accepted = post(
        &app,
        &execute_xml(
            "timeout",
            "async",
            "document",
            &literal("SLEEP_SECONDS", "300"),
            "",
        ),
    )
    .await
    .document();
    let job_id = text_of(&accepted, &["JobID"]);
    // Wait for the container to exist, then dismiss before the 2 s Seed timeout.
    let container = |id: &str| {
        let out = std::process::Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=org.ades.job-id={id}"),
            ])
            .output()
            .expect("docker ps");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while container(&job_id).is_empty() {
        assert!(Instant::now() < deadline, "the container never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dismissed = get(
        &app,
        &format!("service=WPS&version=2.0.0&request=Dismiss&jobId={job_id}"),
    )
    .await
    .document();
    assert_eq!(text_of(&dismissed, &["Status"]), "Dismissed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !container(&job_id).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its dismissal by 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = get(
        &app,
        &format!("service=WPS&version=2.0.0&request=GetResult&jobId={job_id}"),
    )
    .await;
    assert_eq!(after.exception().0, "NoSuchJob");

    // A job started through the OGC API, read through WPS.
    let response = app
        .client
        .post(app.url("/processes/echo/execution"))
        .header("Prefer", "respond-async")
        .json(&serde_json::json!({"inputs": {"MESSAGE": "from ogc"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let ogc_id = location.rsplit('/').next().unwrap().to_string();
    assert_eq!(poll_until_final(&app, &ogc_id).await, "Succeeded");
    let result = get(
        &app,
        &format!("service=WPS&version=2.0.0&request=GetResult&jobid={ogc_id}"),
    )
    .await
    .document();
    assert_eq!(result_data(&result, "ECHOED").text(), "from ogc");
    app.stop().await;
}

/// The official suite's request templates, pointed at our echo process.
#[tokio::test(flavor = "multi_thread")]
async fn the_official_templates_adapted_to_echo_get_valid_answers() {
    example_image("echo");
    let app = spawn_app().await;
    // Copied unmodified from the official suite (ets-wps20, LICENSE.txt beside them).
    let dir = repo_root().join("tests/fixtures/ets-wps20");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let adapt = |xml: String| {
        xml.replace("org.n52.javaps.test.EchoProcess", "echo")
            .replace("org.n52.wps.server.algorithm.SimpleBufferAlgorithm", "echo")
            .replace("example.id", "echo")
            .replace("\"literalInput\"", "\"MESSAGE\"")
            .replace("\"literalOutput\"", "\"ECHOED\"")
            .replace("\"example.input.id\"", "\"MESSAGE\"")
            .replace("\"example.output.id\"", "\"ECHOED\"")
    };

    assert!(post(&app, &read("GetCapabilities.xml"))
        .await
        .document()
        .is(WPS, "Capabilities"));
    assert!(post(&app, &adapt(read("DescribeProcess.xml")))
        .await
        .document()
        .is(WPS, "ProcessOfferings"));

    let literal_raw = post(&app, &adapt(read("Echo_Process_Literal.xml"))).await;
    assert_eq!(literal_raw.body, "hello_literal");

    // The complex template: its data goes to COMPLEX_INPUT, echoed as COMPLEX_ECHO (MESSAGE
    // is required by our echo, so it is added).
    let complex = read("Echo_Process_Complex.xml")
        .replace("example.id", "echo")
        .replace("\"example.input.id\"", "\"COMPLEX_INPUT\"")
        .replace("\"example.output.id\"", "\"COMPLEX_ECHO\"")
        .replace(
            "<wps:Input",
            &format!("{}<wps:Input", literal("MESSAGE", "m")),
        );
    let complex_raw = post(&app, &complex).await;
    assert_eq!(complex_raw.body, "<testElement>hello_complex</testElement>");

    for name in ["ValidInputValue.xml", "ValidOutputValue.xml"] {
        let result = post(&app, &adapt(read(name))).await.document();
        assert_eq!(result_data(&result, "ECHOED").text(), "PASSED", "{name}");
    }
    for name in ["Execute_Sync.xml", "Execute_Auto.xml"] {
        // These name inputs `data` (a reference) and `width`: our echo has neither.
        let answer = post(&app, &adapt(read(name))).await;
        assert_eq!(answer.exception().0, "NoSuchInput", "{name}");
    }
    let async_answer = post(&app, &adapt(read("ValidUniqueJobIds.xml")))
        .await
        .document();
    let first = text_of(&async_answer, &["JobID"]);
    let second = text_of(
        &post(&app, &adapt(read("ValidUniqueJobIds.xml")))
            .await
            .document(),
        &["JobID"],
    );
    assert_ne!(first, second);
    assert_eq!(poll_until_final(&app, &first).await, "Succeeded");
    let status = post(
        &app,
        &read("ValidGetStatus.xml").replace("FB6DD4B0-A2BB-11E3-A5E2-0800200C9A66", &first),
    )
    .await
    .document();
    assert_eq!(text_of(&status, &["Status"]), "Succeeded");
    let result = post(
        &app,
        &read("ValidGetResult.xml").replace("FB6DD4B0-A2BB-11E3-A5E2-0800200C9A66", &first),
    )
    .await
    .document();
    assert_eq!(result_data(&result, "ECHOED").text(), "PASSED");
    let unknown = post(&app, &read("ValidGetStatus.xml")).await;
    assert_eq!(unknown.exception().0, "NoSuchJob");
    app.stop().await;
}

/// A server without processes: WPS 2.0 and 1.0.0 GetCapabilities still answer the service
/// metadata, with an empty `wps:Contents` / `wps:ProcessOfferings`. Both schemas require at
/// least one process there (`ProcessSummary`, `Process`: no `minOccurs="0"`), so that is
/// the one schema error these documents may have (README, WPS section).
#[tokio::test(flavor = "multi_thread")]
async fn capabilities_without_processes_deviate_only_by_the_empty_process_list() {
    use crate::xsd::schema_errors;
    let app = crate::app::spawn_app_with(|settings| {
        settings.catalog.discover_local_images = false;
        settings.catalog.images.clear();
    })
    .await;
    let (_, processes) = {
        let response = app.client.get(app.url("/processes")).send().await.unwrap();
        (
            response.status(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(processes["processes"], serde_json::json!([]));

    for query in [
        "service=WPS&request=GetCapabilities&version=2.0.0",
        "service=WPS&request=GetCapabilities&AcceptVersions=2.0.0",
    ] {
        let answer = get(&app, query).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.body.contains("<wps:Contents></wps:Contents>"),
            "{}",
            answer.body
        );
        assert_eq!(
            schema_errors(&answer.body, Schema::Wps2),
            [format!(
                "Element '{{{WPS}}}Contents': Missing child element(s). Expected is ( \
                 {{{WPS}}}ProcessSummary )."
            )],
            "{}",
            answer.body
        );
    }

    let wps1 = "http://www.opengis.net/wps/1.0.0";
    let answer = get(
        &app,
        "service=WPS&request=GetCapabilities&AcceptVersions=1.0.0",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        schema_errors(&answer.body, Schema::Wps1),
        [format!(
            "Element '{{{wps1}}}ProcessOfferings': Missing child element(s). Expected is ( \
             {{{wps1}}}Process )."
        )],
        "{}",
        answer.body
    );
    // DescribeProcess ALL has nothing to describe, and an empty `wps:ProcessDescriptions` is
    // invalid: it is a valid exception report instead.
    let answer = get(
        &app,
        "service=WPS&version=1.0.0&request=DescribeProcess&identifier=ALL",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_valid_xml(&answer.body, Schema::Ows11Exception);
    assert!(
        answer
            .body
            .contains("exceptionCode=\"InvalidParameterValue\"")
            && answer.body.contains("locator=\"identifier\"")
            && answer.body.contains("offers no processes"),
        "{}",
        answer.body
    );
    app.stop().await;
}

/// A process whose manifest declares no outputs (the `timeout` example): WPS 2.0 needs one
/// `wps:Output` in its description and one in a `wps:Result`, so it offers its job log as
/// `JOB_LOG`, alike in DescribeProcess, sync and async results, and a raw answer.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_without_outputs_offers_its_job_log_alike_everywhere() {
    example_image("timeout");
    let app = spawn_app().await;
    let offerings = get(
        &app,
        "service=WPS&version=2.0.0&request=DescribeProcess&identifier=timeout",
    )
    .await
    .document();
    let process = offerings
        .child(WPS, "ProcessOffering")
        .and_then(|o| o.child(WPS, "Process"))
        .expect("wps:Process");
    let outputs: Vec<&Element> = process.children_named(WPS, "Output").collect();
    assert_eq!(outputs.len(), 1);
    assert_eq!(
        outputs[0].child(OWS, "Identifier").unwrap().text(),
        "JOB_LOG"
    );
    let format = outputs[0]
        .child(WPS, "ComplexData")
        .and_then(|c| c.child(WPS, "Format"))
        .expect("wps:Format");
    let media_type = format.attr("mimeType").unwrap().to_string();
    assert_eq!(media_type, "text/plain");

    let sleep = literal("SLEEP_SECONDS", "0");
    let check_result = |result: &Element| {
        let outputs: Vec<&Element> = result.children_named(WPS, "Output").collect();
        assert_eq!(outputs.len(), 1, "{}", result.to_xml());
        assert_eq!(outputs[0].attr("id"), Some("JOB_LOG"));
        let reference = outputs[0].child(WPS, "Reference").expect("wps:Reference");
        assert_eq!(reference.attr("mimeType"), Some(media_type.as_str()));
        reference.attr_ns(XLINK, "href").unwrap().to_string()
    };
    // Sync documents, with and without naming the output.
    for outputs in ["", &output("JOB_LOG", "reference")] {
        let result = post(
            &app,
            &execute_xml("timeout", "sync", "document", &sleep, outputs),
        )
        .await
        .document();
        let href = check_result(&result);
        assert!(href.ends_with("/logs"), "{href}");
        let log = app.client.get(&href).send().await.unwrap();
        assert_eq!(log.status(), StatusCode::OK);
    }
    // Async, then GetResult.
    let accepted = post(
        &app,
        &execute_xml("timeout", "async", "document", &sleep, ""),
    )
    .await
    .document();
    let job_id = text_of(&accepted, &["JobID"]);
    assert_eq!(poll_until_final(&app, &job_id).await, "Succeeded");
    let result = get(
        &app,
        &format!("service=WPS&version=2.0.0&request=GetResult&jobId={job_id}"),
    )
    .await
    .document();
    assert!(check_result(&result).contains(&job_id));
    // Raw: the log itself.
    let raw = post(
        &app,
        &execute_xml(
            "timeout",
            "sync",
            "raw",
            &sleep,
            &output("JOB_LOG", "value"),
        ),
    )
    .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
    assert!(
        raw.content_type.starts_with(&media_type),
        "{}",
        raw.content_type
    );
    app.stop().await;
}
