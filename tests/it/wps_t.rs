//! WPS-T (`wps:DeployProcess`, `wps:UndeployProcess`) on the WPS 2.0 façade against the real
//! engine and a real registry: each way of naming the image deploys a process that WPS 2.0
//! describes and executes and the OGC API lists as mutable; undeploy withdraws it; every
//! refusal is a valid `ows:ExceptionReport` with the code, locator and status of the module
//! doc (`src/wps/v2/transactional.rs`).

use crate::app::TestApp;
use crate::deploy::{deploying_app, publish, unique, TOKEN};
use crate::support::{example_image, get_json, registry, spawn_app_with};
use crate::xsd::{assert_valid_xml, Schema};
use ades::wps::xml::{parse, Element, Limits, XLINK};
use reqwest::StatusCode;
use serde_json::Value;

const WPS: &str = "http://www.opengis.net/wps/2.0";
const OWS: &str = "http://www.opengis.net/ows/2.0";
const WPST: &str = "urn:ades:wps-t";
const OWC: &str = "http://www.opengis.net/owc/1.0";

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn document(&self) -> Element {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        parse(self.body.as_bytes(), &Limits::default()).expect("well-formed")
    }

    /// Code and locator of an exception report that validates, after checking its status.
    fn exception(&self, status: StatusCode) -> (String, Option<String>) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_valid_xml(&self.body, Schema::Ows2Exception);
        let root = parse(self.body.as_bytes(), &Limits::default()).unwrap();
        let exception = root.child(OWS, "Exception").expect("ows:Exception");
        assert!(!exception
            .child(OWS, "ExceptionText")
            .unwrap()
            .text()
            .is_empty());
        (
            exception.attr("exceptionCode").unwrap().to_string(),
            exception.attr("locator").map(str::to_string),
        )
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// POSTs a WPS document, with `token` as bearer token when given.
async fn post(app: &TestApp, xml: &str, token: Option<&str>) -> Answer {
    let mut request = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(xml.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.unwrap()).await
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

fn deploy_xml(content: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wps:DeployProcess service="WPS" version="2.0.0" xmlns:wps="{WPS}" xmlns:ows="{OWS}"
    xmlns:xlink="{XLINK}" xmlns:owc="{OWC}">{content}</wps:DeployProcess>"#
    )
}

fn undeploy_xml(id: &str) -> String {
    format!(
        r#"<wps:UndeployProcess service="WPS" version="2.0.0" xmlns:wps="{WPS}" xmlns:ows="{OWS}"><ows:Identifier>{id}</ows:Identifier></wps:UndeployProcess>"#
    )
}

/// A Testbed-13 request: a ProcessOffering whose OWS Context names the image.
fn tb13(id: &str, image: &str) -> String {
    deploy_xml(&format!(
        r#"<wps:ProcessOffering jobControlOptions="async-execute dismiss" outputTransmission="value reference">
  <wps:Process>
    <ows:Title>{id}</ows:Title>
    <ows:Identifier>{id}</ows:Identifier>
    <ows:Metadata xlink:role="http://www.opengis.net/tb13/eoc/applicationContext">
      <eoc:ApplicationContext xmlns:eoc="http://www.opengis.net/wps/2.0/profile/tb13/eoc">
        <feed xmlns="http://www.w3.org/2005/Atom"><entry>
          <owc:offering code="http://www.opengis.net/tb13/eoc/DockerImage">
            <owc:content type="text/plain">{image}</owc:content>
          </owc:offering>
        </entry></feed>
      </eoc:ApplicationContext>
    </ows:Metadata>
  </wps:Process>
</wps:ProcessOffering>"#
    ))
}

/// Our simpler form: the image as an ExecutionUnit reference.
fn by_reference(image: &str) -> String {
    deploy_xml(&format!(
        r#"<wps:ExecutionUnit><wps:Reference xlink:href="{image}"/></wps:ExecutionUnit>"#
    ))
}

/// Our simpler form: an application package as the ExecutionUnit's text.
fn by_app_package(id: &str, image: &str) -> String {
    deploy_xml(&format!(
        r#"<wps:ProcessOffering><wps:Process><ows:Title>t</ows:Title><ows:Identifier>{id}</ows:Identifier></wps:Process></wps:ProcessOffering>
<wps:ExecutionUnit><![CDATA[{{"executionUnit": {{"type": "docker", "image": "{image}"}}}}]]></wps:ExecutionUnit>"#
    ))
}

/// Executes `id` through WPS 2.0 (sync, raw): its one output, trimmed.
async fn execute(app: &TestApp, id: &str, word: &str) -> String {
    let xml = format!(
        r#"<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" mode="sync" response="raw">
  <ows:Identifier>{id}</ows:Identifier>
  <wps:Input id="SCRIPT"><wps:Data><wps:LiteralValue>echo $MARK-{word} &gt; $OUTPUT_DIR/out.txt</wps:LiteralValue></wps:Data></wps:Input>
  <wps:Output id="OUT" transmission="value"/>
</wps:Execute>"#
    );
    let answer = post(app, &xml, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body.trim().to_string()
}

fn describe_query(id: &str) -> String {
    format!("service=WPS&version=2.0.0&request=DescribeProcess&identifier={id}")
}

#[tokio::test]
async fn each_deploy_form_describes_executes_and_undeploys() {
    let app = deploying_app().await;
    for form in ["tb13", "reference", "apppkg"] {
        let name = unique(&format!("wpst-{form}"));
        let image = publish(&name, "1.0.0", "wpst", "v1", true);
        let request = match form {
            "tb13" => tb13(&name, &image),
            "reference" => by_reference(&image),
            _ => by_app_package(&name, &image),
        };

        let deployed = post(&app, &request, Some(TOKEN)).await;
        assert!(
            deployed.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/xml"),
            "{form}"
        );
        let result = deployed.document();
        assert!(result.is(WPST, "DeployResult"), "{form}: {}", deployed.body);
        assert_eq!(result.child(OWS, "Identifier").unwrap().text(), name);
        assert_eq!(result.child(WPST, "Status").unwrap().text(), "deployed");
        let offering = result.child(WPS, "ProcessOffering").expect("the offering");
        assert_valid_xml(&offering.to_xml(), Schema::Wps2);

        let described = get(&app, &describe_query(&name)).await;
        assert_eq!(described.status, StatusCode::OK, "{}", described.body);
        assert_valid_xml(&described.body, Schema::Wps2);
        assert!(described.body.contains(&format!(">{name}<")), "{form}");

        // The image is only in the registry: the run pulls it.
        assert_eq!(execute(&app, &name, "x").await, "wpst-x", "{form}");

        let description: Value =
            get_json(&app.client, &app.url(&format!("/processes/{name}"))).await;
        assert_eq!(description["mutable"], true, "{form}: {description:#}");

        let undeployed = post(&app, &undeploy_xml(&name), Some(TOKEN)).await;
        let result = undeployed.document();
        assert!(result.is(WPST, "UndeployResult"), "{}", undeployed.body);
        assert_eq!(result.child(OWS, "Identifier").unwrap().text(), name);
        assert_eq!(result.child(WPST, "Status").unwrap().text(), "undeployed");
        let gone = get(&app, &describe_query(&name)).await;
        assert_eq!(gone.exception(StatusCode::BAD_REQUEST).0, "NoSuchProcess");
    }
    app.stop().await;
}

#[tokio::test]
async fn refusals_are_exception_reports_with_the_right_codes_and_statuses() {
    // Deploying disabled: 403, and GetCapabilities does not offer the operations.
    let closed = spawn_app_with(|settings| settings.catalog.discover_local_images = false).await;
    let image = format!("{}/it-wpst/absent:1", registry());
    let refused = post(&closed, &by_reference(&image), Some(TOKEN)).await;
    assert_eq!(
        refused.exception(StatusCode::FORBIDDEN),
        ("AccessDenied".into(), Some("Authorization".into()))
    );
    // (No process here, so no valid wps:Contents: only the operations are looked at.)
    let caps = get(&closed, "service=WPS&request=GetCapabilities").await;
    assert_eq!(caps.status, StatusCode::OK);
    assert!(caps.body.contains("name=\"Execute\""), "{}", caps.body);
    assert!(!caps.body.contains("DeployProcess"));
    closed.stop().await;

    let echo = example_image("echo");
    let app = spawn_app_with(|settings| {
        settings.catalog.discover_local_images = false;
        settings.catalog.images = vec![echo.clone()];
        settings.auth.admin_token = TOKEN.to_string();
    })
    .await;
    let caps = get(&app, "service=WPS&request=GetCapabilities").await;
    assert_eq!(caps.status, StatusCode::OK);
    assert_valid_xml(&caps.body, Schema::Wps2);
    assert!(
        caps.body.contains("name=\"DeployProcess\""),
        "{}",
        caps.body
    );
    assert!(caps.body.contains("name=\"UndeployProcess\""));

    // No or a wrong token: 401 with the scheme to use.
    for token in [None, Some("wrong")] {
        let refused = post(&app, &by_reference(&image), token).await;
        assert_eq!(
            refused.exception(StatusCode::UNAUTHORIZED),
            ("AccessDenied".into(), Some("Authorization".into()))
        );
        assert!(refused.headers.contains_key("www-authenticate"));
        let refused = post(&app, &undeploy_xml("echo"), token).await;
        assert_eq!(
            refused.exception(StatusCode::UNAUTHORIZED).0,
            "AccessDenied"
        );
    }

    // Deployed once; the second time is a conflict.
    let name = unique("wpst-dup");
    let published = publish(&name, "1.0.0", "dup", "v1", true);
    let first = post(&app, &by_reference(&published), Some(TOKEN)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = post(&app, &by_reference(&published), Some(TOKEN)).await;
    assert_eq!(
        again.exception(StatusCode::CONFLICT),
        ("InvalidParameterValue".into(), Some("Identifier".into()))
    );

    // An offering naming another id than the Seed job.
    let other = post(&app, &tb13("not-the-job-name", &published), Some(TOKEN)).await;
    assert_eq!(
        other.exception(StatusCode::BAD_REQUEST),
        (
            "InvalidParameterValue".into(),
            Some("ProcessOffering".into())
        )
    );

    // An image the registry does not have; no image at all.
    let absent = post(&app, &by_reference(&image), Some(TOKEN)).await;
    assert_eq!(
        absent.exception(StatusCode::BAD_REQUEST),
        ("InvalidParameterValue".into(), Some("ExecutionUnit".into()))
    );
    let nothing = post(&app, &deploy_xml("<wps:ProcessOffering/>"), Some(TOKEN)).await;
    assert_eq!(
        nothing.exception(StatusCode::BAD_REQUEST),
        ("MissingParameterValue".into(), Some("ExecutionUnit".into()))
    );

    // The built-in echo can be neither deployed over nor undeployed.
    let over = post(&app, &by_reference(&echo), Some(TOKEN)).await;
    assert_eq!(
        over.exception(StatusCode::FORBIDDEN).0,
        "InvalidParameterValue"
    );
    let builtin = post(&app, &undeploy_xml("echo"), Some(TOKEN)).await;
    assert_eq!(
        builtin.exception(StatusCode::FORBIDDEN),
        ("InvalidParameterValue".into(), Some("Identifier".into()))
    );

    // Undeploying what is not there; a request without identifier.
    let unknown = post(&app, &undeploy_xml("no-such-process"), Some(TOKEN)).await;
    assert_eq!(
        unknown.exception(StatusCode::BAD_REQUEST),
        ("NoSuchProcess".into(), Some("Identifier".into()))
    );
    let unnamed = post(&app, &undeploy_xml(""), Some(TOKEN)).await;
    assert_eq!(
        unnamed.exception(StatusCode::BAD_REQUEST),
        ("MissingParameterValue".into(), Some("Identifier".into()))
    );

    // Malformed XML, and the operations by KVP.
    let malformed = post(&app, "<wps:DeployProcess service=\"WPS\"", Some(TOKEN)).await;
    assert_eq!(
        malformed.exception(StatusCode::BAD_REQUEST).0,
        "OperationParsingFailed"
    );
    let kvp = get(
        &app,
        "service=WPS&version=2.0.0&request=UndeployProcess&identifier=echo",
    )
    .await;
    assert_eq!(
        kvp.exception(StatusCode::NOT_IMPLEMENTED).0,
        "OperationNotSupported"
    );

    // The deployed process is still there and still undeployable.
    let undeployed = post(&app, &undeploy_xml(&name), Some(TOKEN)).await;
    assert_eq!(undeployed.status, StatusCode::OK, "{}", undeployed.body);
    app.stop().await;
}
