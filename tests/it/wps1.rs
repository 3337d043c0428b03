//! The WPS 1.0.0 façade over real HTTP with real containers: GetCapabilities,
//! DescribeProcess, Execute (KVP and POST XML; raw, document, by reference, stored with a
//! statusLocation), failures and bad requests. Every document is validated against the
//! official 1.0.0 schemas (errors against OWS 1.1 `owsExceptionReport.xsd`).

use crate::support::{example_image, spawn_app};
use crate::xsd::{assert_valid_xml, Schema};
use ades::wps::xml::{parse, Element, Limits};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const WPS1: &str = "http://www.opengis.net/wps/1.0.0";
const OWS11: &str = "http://www.opengis.net/ows/1.1";

/// GET `/wps?<query>`: status, content type and body.
async fn get(client: &reqwest::Client, url: &str) -> (StatusCode, String, String) {
    let response = client.get(url).send().await.expect("GET");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// POST an XML document to `/wps`.
async fn post(client: &reqwest::Client, url: &str, xml: &str) -> (StatusCode, String, String) {
    let response = client
        .post(url)
        .header("content-type", "text/xml")
        .body(xml.to_string())
        .send()
        .await
        .expect("POST");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The value of the first `name="..."` attribute in `xml`, entities decoded.
fn attribute(xml: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = xml.find(&needle)? + needle.len();
    let end = xml[start..].find('"')? + start;
    Some(
        xml[start..end]
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// Asserts `body` is a valid OWS 1.1 exception report with this code (and locator).
fn assert_exception(status: StatusCode, body: &str, code: &str, locator: Option<&str>) {
    assert!(
        status.is_client_error(),
        "expected a 4xx, got {status}: {body}"
    );
    assert_valid_xml(body, Schema::Ows11Exception);
    assert!(body.contains(OWS11), "{body}");
    assert_eq!(
        attribute(body, "exceptionCode").as_deref(),
        Some(code),
        "{body}"
    );
    if let Some(locator) = locator {
        assert_eq!(
            attribute(body, "locator").as_deref(),
            Some(locator),
            "{body}"
        );
    }
}

fn execute_xml(identifier: &str, inputs: &str, response_form: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="{WPS1}" xmlns:ows="{OWS11}"
    xmlns:xlink="http://www.w3.org/1999/xlink">
  <ows:Identifier>{identifier}</ows:Identifier>
  <wps:DataInputs>{inputs}</wps:DataInputs>
  <wps:ResponseForm>{response_form}</wps:ResponseForm>
</wps:Execute>"#
    )
}

/// Polls a statusLocation until its document is final; every document must validate.
async fn poll_until_final(client: &reqwest::Client, status_location: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, _, body) = get(client, status_location).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_valid_xml(&body, Schema::Wps1);
        if body.contains("wps:ProcessSucceeded") || body.contains("wps:ProcessFailed") {
            return body;
        }
        assert!(
            body.contains("wps:ProcessAccepted") || body.contains("wps:ProcessStarted"),
            "{body}"
        );
        assert!(Instant::now() < deadline, "not final in time: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_and_descriptions_validate_and_list_the_processes() {
    example_image("echo");
    example_image("io-demo");
    let app = spawn_app().await;
    let client = &app.client;

    let (status, content_type, caps) = get(
        client,
        &app.url("/wps?SERVICE=WPS&Request=GetCapabilities&AcceptVersions=1.0.0"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{caps}");
    assert!(content_type.contains("xml"), "{content_type}");
    assert_valid_xml(&caps, Schema::Wps1);
    assert!(caps.contains("<wps:Capabilities"), "{caps}");
    assert!(caps.contains(" version=\"1.0.0\""), "{caps}");
    assert!(
        caps.contains("<ows:Identifier>echo</ows:Identifier>"),
        "{caps}"
    );
    assert!(
        caps.contains("<ows:Identifier>io-demo</ows:Identifier>"),
        "{caps}"
    );
    let endpoint = app.url("/wps");
    assert!(
        caps.contains(&format!("<ows:Post xlink:href=\"{endpoint}\"/>")),
        "absolute DCP hrefs: {caps}"
    );

    let (status, _, posted) = post(
        client,
        &app.url("/wps"),
        &format!(
            r#"<wps:GetCapabilities service="WPS" language="en-US" xmlns:wps="{WPS1}" xmlns:ows="{OWS11}">
  <wps:AcceptVersions><ows:Version>1.0.0</ows:Version></wps:AcceptVersions>
</wps:GetCapabilities>"#
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_valid_xml(&posted, Schema::Wps1);
    assert!(posted.contains("<wps:Capabilities"), "{posted}");

    // One process.
    let (status, _, echo) = get(
        client,
        &app.url("/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=echo"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{echo}");
    assert_valid_xml(&echo, Schema::Wps1);
    assert_eq!(echo.matches("<ProcessDescription ").count(), 1, "{echo}");
    assert!(echo.contains("storeSupported=\"true\""), "{echo}");
    assert!(echo.contains("statusSupported=\"true\""), "{echo}");
    assert!(
        echo.contains(
            "<Input minOccurs=\"1\" maxOccurs=\"1\"><ows:Identifier>MESSAGE</ows:Identifier>"
        ),
        "{echo}"
    );
    assert!(
        echo.contains("ows:reference=\"http://www.w3.org/2001/XMLSchema#string\""),
        "{echo}"
    );
    assert!(echo.contains("<ows:AnyValue/>"), "{echo}");
    assert!(
        echo.contains("<Input minOccurs=\"0\" maxOccurs=\"1\"><ows:Identifier>COMPLEX_INPUT"),
        "{echo}"
    );
    assert!(echo.contains("<ComplexData maximumMegabytes=\""), "{echo}");
    assert!(echo.contains("<LiteralOutput>"), "{echo}");
    assert!(
        echo.contains("<ComplexOutput><Default><Format><MimeType>text/plain"),
        "{echo}"
    );

    // Several, ALL.
    let (status, _, both) = get(
        client,
        &app.url("/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=echo,io-demo"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{both}");
    assert_valid_xml(&both, Schema::Wps1);
    assert_eq!(both.matches("<ProcessDescription ").count(), 2, "{both}");
    let (status, _, all) = get(
        client,
        &app.url("/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=ALL"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_valid_xml(&all, Schema::Wps1);
    assert!(all.matches("<ProcessDescription ").count() >= 2, "{all}");

    // POST DescribeProcess.
    let (status, _, posted) = post(
        client,
        &app.url("/wps"),
        &format!(
            r#"<wps:DescribeProcess service="WPS" version="1.0.0" xmlns:wps="{WPS1}" xmlns:ows="{OWS11}">
  <ows:Identifier>io-demo</ows:Identifier>
</wps:DescribeProcess>"#
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_valid_xml(&posted, Schema::Wps1);
    assert!(
        posted.contains("<MimeType>text/plain</MimeType>"),
        "{posted}"
    );

    // Unknown.
    let (status, _, unknown) = get(
        client,
        &app.url("/wps?service=WPS&version=1.0.0&request=DescribeProcess&identifier=echo,nope"),
    )
    .await;
    assert_exception(
        status,
        &unknown,
        "InvalidParameterValue",
        Some("identifier"),
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kvp_execute_answers_raw_outputs_and_response_documents() {
    example_image("echo");
    let app = spawn_app().await;
    let client = &app.client;
    let base = "/wps?service=WPS&version=1.0.0&request=Execute&identifier=echo";

    // Raw literal output: the bare value. `;` inside the value is encoded twice.
    let (status, content_type, body) = get(
        client,
        &app.url(&format!(
            "{base}&DataInputs=MESSAGE%3Dhello%253B%2520world&RawDataOutput=ECHOED"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, "hello; world");

    // Raw file output, with its media type.
    let (status, content_type, body) = get(
        client,
        &app.url(&format!(
            "{base}&DataInputs=MESSAGE=hi;REPEAT=2&RawDataOutput=ECHO@mimeType=text/plain"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body.matches("hi").count(), 2, "{body:?}");

    // Response document: the literal inline, the file by reference; with lineage.
    let (status, _, document) = get(
        client,
        &app.url(&format!(
            "{base}&DataInputs=MESSAGE=doc&ResponseDocument=ECHOED;ECHO@asReference=true\
             &lineage=true"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_valid_xml(&document, Schema::Wps1);
    assert!(document.contains("<wps:ProcessSucceeded>"), "{document}");
    assert!(
        attribute(&document, "serviceInstance")
            .unwrap()
            .starts_with(&app.address),
        "{document}"
    );
    assert!(
        document.contains("<wps:LiteralData dataType=\"string\">doc</wps:LiteralData>"),
        "{document}"
    );
    assert!(document.contains("<wps:DataInputs>"), "lineage: {document}");
    assert!(
        document.contains("<wps:OutputDefinitions>"),
        "lineage: {document}"
    );
    let href = attribute(&document, "href").expect("a wps:Reference href");
    assert!(href.starts_with(&app.address), "{href}");
    let file = client.get(&href).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(file.text().await.unwrap().contains("doc"));

    // Without ResponseForm: a document with every output by value.
    let (status, _, every) = get(client, &app.url(&format!("{base}&DataInputs=MESSAGE=all"))).await;
    assert_eq!(status, StatusCode::OK, "{every}");
    assert_valid_xml(&every, Schema::Wps1);
    assert!(
        every.contains("<ows:Identifier>ECHO</ows:Identifier>"),
        "{every}"
    );
    assert!(
        every.contains("<ows:Identifier>ECHOED</ows:Identifier>"),
        "{every}"
    );
    assert!(
        every.contains("<wps:ComplexData mimeType=\"text/plain\">all"),
        "{every}"
    );
    assert!(!every.contains("statusLocation"), "sync: {every}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_execute_takes_literal_xml_and_base64_complex_data() {
    example_image("echo");
    let app = spawn_app().await;
    let client = &app.client;

    let inputs = r#"
    <wps:Input><ows:Identifier>MESSAGE</ows:Identifier>
      <wps:Data><wps:LiteralData>hello_literal</wps:LiteralData></wps:Data></wps:Input>
    <wps:Input><ows:Identifier>COMPLEX_INPUT</ows:Identifier>
      <wps:Data><wps:ComplexData mimeType="text/xml"><testElement>hello_complex</testElement></wps:ComplexData></wps:Data></wps:Input>"#;
    let form = r#"<wps:ResponseDocument lineage="true">
      <wps:Output><ows:Identifier>ECHOED</ows:Identifier></wps:Output>
      <wps:Output><ows:Identifier>COMPLEX_ECHO</ows:Identifier></wps:Output>
    </wps:ResponseDocument>"#;
    let (status, _, document) =
        post(client, &app.url("/wps"), &execute_xml("echo", inputs, form)).await;
    assert_eq!(status, StatusCode::OK, "{document}");
    assert_valid_xml(&document, Schema::Wps1);
    assert!(document.contains("<wps:ProcessSucceeded>"), "{document}");
    assert!(
        document.contains(">hello_literal</wps:LiteralData>"),
        "{document}"
    );
    // COMPLEX_ECHO is application/octet-stream: base64 of the XML sent.
    let start = document
        .find("encoding=\"base64\">")
        .expect("base64 complex data")
        + "encoding=\"base64\">".len();
    let end = document[start..].find('<').unwrap() + start;
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&document[start..end])
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "<testElement>hello_complex</testElement>"
    );

    // Base64 in, raw out.
    let inputs = r#"
    <wps:Input><ows:Identifier>MESSAGE</ows:Identifier>
      <wps:Data><wps:LiteralData>x</wps:LiteralData></wps:Data></wps:Input>
    <wps:Input><ows:Identifier>COMPLEX_INPUT</ows:Identifier>
      <wps:Data><wps:ComplexData mimeType="application/octet-stream" encoding="base64">AAEC/w==</wps:ComplexData></wps:Data></wps:Input>"#;
    let form = r#"<wps:RawDataOutput mimeType="application/octet-stream"><ows:Identifier>COMPLEX_ECHO</ows:Identifier></wps:RawDataOutput>"#;
    let response = client
        .post(app.url("/wps"))
        .body(execute_xml("echo", inputs, form))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), &[0u8, 1, 2, 255]);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_execution_is_polled_at_its_status_location_until_it_succeeds() {
    example_image("io-demo");
    let app = spawn_app().await;
    let client = &app.client;
    let text = "Hello from WPS 1.0.0\n";

    let inputs = format!(
        r#"<wps:Input><ows:Identifier>INPUT_FILE</ows:Identifier>
      <wps:Data><wps:ComplexData mimeType="text/plain">{text}</wps:ComplexData></wps:Data></wps:Input>"#
    );
    let form = r#"<wps:ResponseDocument storeExecuteResponse="true" status="true">
      <wps:Output asReference="true"><ows:Identifier>OUTPUT_FILE</ows:Identifier></wps:Output>
    </wps:ResponseDocument>"#;
    let (status, _, accepted) = post(
        client,
        &app.url("/wps"),
        &execute_xml("io-demo", &inputs, form),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_valid_xml(&accepted, Schema::Wps1);
    assert!(
        accepted.contains("<wps:ProcessAccepted>") || accepted.contains("<wps:ProcessStarted"),
        "{accepted}"
    );
    let location = attribute(&accepted, "statusLocation").expect("statusLocation");
    assert!(location.starts_with(&app.url("/wps/status/")), "{location}");

    // An ordinary job: visible in the OGC API too.
    let job_id = location.rsplit('/').next().unwrap();
    let job = client
        .get(app.url(&format!("/jobs/{job_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(job.status(), StatusCode::OK);

    let done = poll_until_final(client, &location).await;
    assert!(done.contains("<wps:ProcessSucceeded>"), "{done}");
    assert_eq!(
        attribute(&done, "statusLocation").as_deref(),
        Some(location.as_str())
    );
    let href = attribute(&done, "href").expect("reference");
    let file = client.get(&href).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.text().await.unwrap(), text);

    // KVP: stored, by value.
    let (status, _, accepted) = get(
        client,
        &app.url(
            "/wps?service=WPS&version=1.0.0&request=Execute&identifier=io-demo\
             &DataInputs=INPUT_FILE=kvp%2520text@mimeType=text/plain\
             &ResponseDocument=OUTPUT_FILE&storeExecuteResponse=true&status=true",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_valid_xml(&accepted, Schema::Wps1);
    let location = attribute(&accepted, "statusLocation").expect("statusLocation");
    let done = poll_until_final(client, &location).await;
    assert!(
        done.contains("<wps:ComplexData mimeType=\"text/plain\">kvp text</wps:ComplexData>"),
        "{done}"
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_is_process_failed_with_the_seed_error() {
    example_image("errors");
    let app = spawn_app().await;
    let client = &app.client;

    let (status, _, accepted) = get(
        client,
        &app.url(
            "/wps?service=WPS&version=1.0.0&request=Execute&identifier=errors\
             &DataInputs=CODE=2&ResponseDocument=RESULT&storeExecuteResponse=true&status=true",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    let location = attribute(&accepted, "statusLocation").expect("statusLocation");
    let failed = poll_until_final(client, &location).await;
    assert!(failed.contains("<wps:ProcessFailed>"), "{failed}");
    assert!(failed.contains("<ows:ExceptionReport"), "{failed}");
    assert!(failed.contains("Invalid data"), "{failed}");
    assert!(
        failed.contains("The job was asked to fail with a data error"),
        "{failed}"
    );

    // Synchronous document: the same failure, answered at once.
    let (status, _, failed) = get(
        client,
        &app.url(
            "/wps?service=WPS&version=1.0.0&request=Execute&identifier=errors\
             &DataInputs=CODE=3&ResponseDocument=RESULT",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_valid_xml(&failed, Schema::Wps1);
    assert!(failed.contains("<wps:ProcessFailed>"), "{failed}");
    assert!(failed.contains("Job failed"), "{failed}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_exception_reports_never_500() {
    example_image("echo");
    let app = spawn_app().await;
    let client = &app.client;
    let execute = "/wps?service=WPS&version=1.0.0&request=Execute";

    let cases: Vec<(String, &str, Option<&str>)> = vec![
        (format!("{execute}&DataInputs=MESSAGE=x"), "MissingParameterValue", Some("identifier")),
        (
            format!("{execute}&identifier=nope&DataInputs=MESSAGE=x"),
            "InvalidParameterValue",
            Some("identifier"),
        ),
        (format!("{execute}&identifier=echo"), "MissingParameterValue", Some("MESSAGE")),
        (
            format!("{execute}&identifier=echo&DataInputs=MESSAGE=x;REPEAT=many"),
            "InvalidParameterValue",
            Some("REPEAT"),
        ),
        (
            format!("{execute}&identifier=echo&DataInputs=MESSAGE=x;NOPE=1"),
            "InvalidParameterValue",
            Some("NOPE"),
        ),
        (
            format!("{execute}&identifier=echo&DataInputs=MESSAGE=x&ResponseDocument=MISSING"),
            "InvalidParameterValue",
            Some("MISSING"),
        ),
        (
            format!("{execute}&identifier=echo&DataInputs=MESSAGE=x&status=true"),
            "InvalidParameterValue",
            Some("status"),
        ),
        (
            format!("{execute}&identifier=echo&DataInputs=justtext"),
            "InvalidParameterValue",
            Some("DataInputs"),
        ),
        (
            format!(
                "{execute}&identifier=echo&DataInputs=MESSAGE=x\
                 &RawDataOutput=ECHO&storeExecuteResponse=true"
            ),
            "InvalidParameterValue",
            Some("storeExecuteResponse"),
        ),
        (
            format!(
                "{execute}&identifier=echo&DataInputs=MESSAGE=x;COMPLEX_INPUT=@xlink:href=ftp%3A%2F%2Fh%2Ff"
            ),
            "InvalidParameterValue",
            Some("COMPLEX_INPUT"),
        ),
        (
            "/wps?service=WPS&version=1.0.0&request=DescribeProcess".to_string(),
            "MissingParameterValue",
            Some("identifier"),
        ),
        (
            "/wps/status/not-a-job".to_string(),
            "InvalidParameterValue",
            Some("jobId"),
        ),
    ];
    for (path, code, locator) in cases {
        let (status, _, body) = get(client, &app.url(&path)).await;
        assert!(
            status != StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {body}"
        );
        assert_exception(status, &body, code, locator);
    }

    // POST: no identifier; an input without a value.
    let no_identifier = format!(
        r#"<wps:Execute service="WPS" version="1.0.0" xmlns:wps="{WPS1}" xmlns:ows="{OWS11}"/>"#
    );
    let (status, _, body) = post(client, &app.url("/wps"), &no_identifier).await;
    assert_exception(status, &body, "MissingParameterValue", Some("Identifier"));
    let no_value = execute_xml(
        "echo",
        "<wps:Input><ows:Identifier>MESSAGE</ows:Identifier></wps:Input>",
        "<wps:RawDataOutput><ows:Identifier>ECHOED</ows:Identifier></wps:RawDataOutput>",
    );
    let (status, _, body) = post(client, &app.url("/wps"), &no_value).await;
    assert_exception(status, &body, "MissingParameterValue", Some("MESSAGE"));

    app.stop().await;
}

/// The first child element named `name`, whatever its namespace (the local elements of the
/// 1.0.0 description schema are unqualified).
fn local<'a>(element: &'a Element, name: &str) -> &'a Element {
    element
        .elements()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} in {}", element.to_xml()))
}

/// Identifier, title and abstract of an output (description or response).
fn identification(output: &Element) -> [String; 3] {
    ["Identifier", "Title", "Abstract"].map(|name| local(output, name).text())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_without_outputs_offers_its_job_log_alike_everywhere() {
    // WPS 1.0.0 needs one output per process (ProcessOutputs/Output has no minOccurs="0"):
    // the synthetic JOB_LOG is the same output in the description and in every answer.
    example_image("timeout");
    let app = spawn_app().await;
    let client = &app.client;
    let wps = |query: &str| app.url(&format!("/wps?service=WPS&version=1.0.0&{query}"));
    let (status, _, description) =
        get(client, &wps("request=DescribeProcess&identifier=timeout")).await;
    assert_eq!(status, StatusCode::OK, "{description}");
    assert_valid_xml(&description, Schema::Wps1);
    let description = parse(description.as_bytes(), &Limits::default()).unwrap();
    let outputs = local(local(&description, "ProcessDescription"), "ProcessOutputs");
    assert_eq!(outputs.elements().count(), 1);
    let described = local(outputs, "Output");
    let [id, title, abstract_] = identification(described);
    assert_eq!(id, "JOB_LOG");
    let complex = local(described, "ComplexOutput");
    let media_type = local(local(local(complex, "Default"), "Format"), "MimeType").text();
    assert_eq!(media_type, "text/plain");

    // A ResponseDocument by reference with lineage, one with no outputs named (all of
    // them), and a stored (asynchronous) one: the same output, the same reference.
    let mut log_href = None;
    for query in [
        "ResponseDocument=JOB_LOG@asReference=true&lineage=true",
        "ResponseDocument=JOB_LOG",
        "",
        "storeExecuteResponse=true&status=true",
    ] {
        let url = wps(&format!(
            "request=Execute&identifier=timeout&DataInputs=SLEEP_SECONDS=0&{query}"
        ));
        let (status, _, mut document) = get(client, &url).await;
        assert_eq!(status, StatusCode::OK, "{document}");
        if query.starts_with("store") {
            let location = attribute(&document, "statusLocation").expect("statusLocation");
            let deadline = Instant::now() + Duration::from_secs(60);
            while !document.contains("<wps:ProcessSucceeded") {
                assert!(Instant::now() < deadline, "{document}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                document = get(client, &location).await.2;
            }
        }
        assert_valid_xml(&document, Schema::Wps1);
        assert!(document.contains("<wps:ProcessSucceeded>"), "{document}");
        let root = parse(document.as_bytes(), &Limits::default()).unwrap();
        let outputs = root
            .child(WPS1, "ProcessOutputs")
            .expect("wps:ProcessOutputs");
        let output = outputs.child(WPS1, "Output").expect("wps:Output");
        assert_eq!(outputs.elements().count(), 1, "{document}");
        assert_eq!(
            identification(output),
            [id.clone(), title.clone(), abstract_.clone()],
            "{document}"
        );
        let reference = output.child(WPS1, "Reference").expect("wps:Reference");
        assert_eq!(reference.attr("mimeType"), Some(media_type.as_str()));
        let href = reference.attr("href").unwrap().to_string();
        assert!(href.ends_with("/logs"), "{href}");
        if query.contains("lineage") {
            let definitions = root.child(WPS1, "OutputDefinitions").expect("lineage");
            let definition = definitions.child(WPS1, "Output").unwrap();
            assert_eq!(local(definition, "Identifier").text(), id);
            assert_eq!(definition.attr("asReference"), Some("true"));
            assert_eq!(definition.attr("mimeType"), Some(media_type.as_str()));
        }
        log_href.get_or_insert(href);
    }
    let log = client.get(log_href.unwrap()).send().await.unwrap();
    assert_eq!(log.status(), StatusCode::OK);
    assert!(log.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with(&media_type));

    // RawDataOutput of the described output: the log itself, in its media type.
    let (status, content_type, body) = get(
        client,
        &wps("request=Execute&identifier=timeout&DataInputs=SLEEP_SECONDS=0&RawDataOutput=JOB_LOG"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(content_type.starts_with(&media_type), "{content_type}");
    assert!(!body.contains("ExceptionReport"), "{body}");
    app.stop().await;
}
