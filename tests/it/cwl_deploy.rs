//! CWL CommandLineTools deployed as processes (OGC API Part 2 and WPS-T) against the real
//! engine: every CWL media type and the application package by value and by `href`, the
//! description read from the CWL, executions through the OGC API (sync and async) and WPS
//! 2.0 whose outputs equal `cwltool`'s for the same inputs, the image pinned, a restart
//! survived, undeploy, the package as deployed, and bad packages refused with a 400 saying
//! what to fix. And Seed → CWL: `ades seed to-cwl` and `?f=cwl`, the tool run by `cwltool`
//! and by `ades cwl run` giving the Seed job's outputs.
//!
//! The tools run `ades-busybox:latest` (built locally, no registry); `cwltool` comes from
//! `ADES_TEST_CWL_VENV` (see `cwl.rs`).

use crate::app::TestApp;
use crate::deploy::{unique, TOKEN};
use crate::support::{ades, busybox_image, get_json, spawn_app_with, submit_async, wait_final};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tool with id `id`: upper-cases its text file, echoes a value with a suffix, and
/// counts the bytes.
fn tool_yaml(id: &str) -> String {
    format!(
        r#"cwlVersion: v1.2
class: CommandLineTool
id: {id}
label: Shout
doc: Upper-cases a text and says how long it was.
$namespaces:
  s: https://schema.org/
  iana: https://www.iana.org/assignments/media-types/
s:softwareVersion: 2.1.0
s:keywords: [text, demo]
requirements:
  DockerRequirement: {{dockerPull: "ades-busybox:latest"}}
  ResourceRequirement: {{coresMin: 1, ramMin: 64}}
baseCommand: [sh, -c, 'tr a-z A-Z < "$0" > upper.txt; echo "$1$2" > said.txt; wc -c < "$0" | tr -d " " > count.txt']
inputs:
  text:
    type: File
    format: iana:text/plain
    inputBinding: {{position: 1}}
  word:
    type: string
    inputBinding: {{position: 2}}
  suffix:
    type: string
    default: "!"
    inputBinding: {{position: 3}}
  times:
    type: int?
outputs:
  upper:
    type: File
    format: iana:text/plain
    outputBinding: {{glob: upper.txt}}
  said:
    type: string
    outputBinding: {{glob: said.txt, loadContents: true, outputEval: "$(self[0].contents)"}}
  count:
    type: string
    outputBinding: {{glob: count.txt, loadContents: true, outputEval: "$(self[0].contents)"}}
"#
    )
}

const TEXT: &str = "hello cwl\n";

fn cwl_venv() -> PathBuf {
    let venv = std::env::var("ADES_TEST_CWL_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate::support::repo_root().join("target/py-cwl"));
    assert!(
        venv.join("bin/cwltool").exists(),
        "cwltool is missing from {}: run scripts/test-all.sh, or python3 -m venv {0} && \
         {0}/bin/pip install cwltool",
        venv.display()
    );
    venv
}

/// `cwltool`'s output object for `tool` (a file) and `job` (a file).
fn cwltool(tool: &Path, job: &Path, outdir: &Path) -> Value {
    let ran = Command::new(cwl_venv().join("bin/cwltool"))
        .args(["--quiet", "--outdir"])
        .arg(outdir)
        .arg(tool)
        .arg(job)
        .output()
        .expect("run cwltool");
    assert!(
        ran.status.success(),
        "cwltool failed: {}",
        String::from_utf8_lossy(&ran.stderr)
    );
    serde_json::from_slice(&ran.stdout).expect("cwltool's output object")
}

/// What cwltool makes of the tool for `word`: (upper.txt's content, said, count).
fn reference_outputs(word: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("shout.cwl");
    std::fs::write(&tool, tool_yaml("shout")).unwrap();
    std::fs::write(dir.path().join("text.txt"), TEXT).unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        format!(
            "text: {{class: File, location: text.txt, format: \
             'https://www.iana.org/assignments/media-types/text/plain'}}\nword: {word}\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let outputs = cwltool(&tool, &job, &out);
    let upper = std::fs::read_to_string(outputs["upper"]["path"].as_str().unwrap()).unwrap();
    (
        upper,
        outputs["said"].as_str().unwrap().to_string(),
        outputs["count"].as_str().unwrap().to_string(),
    )
}

async fn cwl_app(dir: PathBuf) -> TestApp {
    busybox_image();
    spawn_app_with(move |settings| {
        settings.data_dir = dir;
        settings.catalog.discover_local_images = false;
        settings.auth.admin_token = TOKEN.to_string();
        // The package served by reference below is on 127.0.0.1.
        settings.queue.allow_private_urls = true;
    })
    .await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Deploys a package (`POST /processes`) and checks it was created.
async fn deploy_ok(app: &TestApp, content_type: &str, body: Vec<u8>) {
    let (status, answer) = send(app, reqwest::Method::POST, "/processes", content_type, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer:#}");
}

/// Serves `body` at `/<name>` on 127.0.0.1; returns the URL.
async fn serve(name: &str, body: String) -> String {
    let app = axum::Router::new().route(
        &format!("/{name}"),
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("{base}/{name}")
}

fn execute_body(word: &str) -> Value {
    json!({
        "inputs": {
            "text": {"value": TEXT, "mediaType": "text/plain"},
            "word": word,
        },
        "outputs": {"upper": {"transmissionMode": "reference"}, "said": {}, "count": {}},
        "response": "document"
    })
}

/// Runs `id` asynchronously and returns (upper's content, said, count) from its results.
async fn run_async(app: &TestApp, id: &str, word: &str) -> (String, String, String) {
    let job = submit_async(
        &app.client,
        &app.url(&format!("/processes/{id}/execution")),
        &execute_body(word),
    )
    .await;
    let status = wait_final(&app.client, &job, Duration::from_secs(120)).await;
    if status["status"] != "successful" {
        let log = app
            .client
            .get(format!("{job}/log"))
            .send()
            .await
            .unwrap()
            .text()
            .await;
        panic!("{status:#}\n{log:?}");
    }
    let results = get_json(&app.client, &format!("{job}/results")).await;
    outputs_of(app, &results).await
}

async fn outputs_of(app: &TestApp, results: &Value) -> (String, String, String) {
    let href = results["upper"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("upper is a link: {results:#}"));
    assert_eq!(results["upper"]["type"], "text/plain", "its format");
    let upper = app
        .client
        .get(href)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |id: &str| {
        let v = &results[id];
        v.get("value")
            .unwrap_or(v)
            .as_str()
            .unwrap_or_else(|| panic!("{id} is a string: {results:#}"))
            .to_string()
    };
    (upper, value("said"), value("count"))
}

#[tokio::test]
async fn a_cwl_tool_deploys_in_every_form_and_runs_like_cwltool() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let reference = reference_outputs("hi");
    assert_eq!(reference.0, TEXT.to_uppercase());

    let yaml_id = unique("cwl-yaml");
    let json_id = unique("cwl-json");
    let yaml2_id = unique("cwl-yaml2");
    let value_id = unique("cwl-value");
    let href_id = unique("cwl-href");
    let as_json = |id: &str| {
        let text = tool_yaml(id);
        let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        serde_json::to_value(value).unwrap()
    };
    let href = serve("shout.cwl", tool_yaml(&href_id)).await;
    let forms: Vec<(&str, &str, Vec<u8>)> =
        vec![
        (&yaml_id, "application/cwl", tool_yaml(&yaml_id).into_bytes()),
        (
            &json_id,
            "application/cwl+json",
            serde_json::to_vec(&as_json(&json_id)).unwrap(),
        ),
        (&yaml2_id, "application/cwl+yaml", tool_yaml(&yaml2_id).into_bytes()),
        (
            &value_id,
            "application/ogcapppkg+json",
            serde_json::to_vec(&json!({
                "processDescription": {"process": {"id": value_id}},
                "executionUnit": {"value": as_json(&value_id), "mediaType": "application/cwl+json"}
            }))
            .unwrap(),
        ),
        (
            &href_id,
            "application/ogcapppkg+json",
            serde_json::to_vec(&json!({
                "executionUnit": {"href": href, "type": "application/cwl"}
            }))
            .unwrap(),
        ),
    ];
    for (id, media_type, body) in &forms {
        let (status, summary) = send(
            &app,
            reqwest::Method::POST,
            "/processes",
            media_type,
            body.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{media_type}: {summary:#}");
        assert_eq!(summary["id"], *id);

        // The description comes from the CWL.
        let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
        assert_eq!(description["title"], "Shout");
        assert_eq!(description["version"], "2.1.0");
        assert_eq!(description["mutable"], true);
        assert_eq!(
            description["description"],
            "Upper-cases a text and says how long it was."
        );
        assert_eq!(description["keywords"], json!(["text", "demo"]));
        let inputs = &description["inputs"];
        assert_eq!(
            inputs["text"]["schema"]["contentMediaType"], "text/plain",
            "{inputs:#}"
        );
        assert_eq!(inputs["word"]["schema"]["type"], "string");
        assert_eq!(inputs["word"]["minOccurs"], 1);
        assert_eq!(inputs["suffix"]["minOccurs"], 0);
        assert_eq!(inputs["suffix"]["schema"]["default"], "!");
        assert_eq!(inputs["times"]["schema"]["type"], "integer");
        assert_eq!(inputs["times"]["minOccurs"], 0);
        assert_eq!(
            description["outputs"]["upper"]["schema"]["contentMediaType"],
            "text/plain"
        );

        // Its page renders too.
        let page = app
            .client
            .get(app.url(&format!("/processes/{id}?f=html")))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("Shout"));

        // The package as deployed.
        let package = app
            .client
            .get(app.url(&format!("/processes/{id}/package")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            package.headers()["content-type"].to_str().unwrap(),
            *media_type
        );
        assert_eq!(package.bytes().await.unwrap().to_vec(), *body);
    }

    // Executed asynchronously, every form gives cwltool's outputs.
    for (id, _, _) in &forms {
        assert_eq!(run_async(&app, id, "hi").await, reference, "{id}");
    }

    // Synchronously too, with the results in a document.
    let response = app
        .client
        .post(app.url(&format!("/processes/{yaml_id}/execution")))
        .json(&execute_body("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    let results = document.get("outputs").unwrap_or(&document).clone();
    assert_eq!(outputs_of(&app, &results).await, reference);

    // Replace: the new CWL is described and pinned again.
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/processes/{yaml_id}"),
        "application/cwl",
        tool_yaml(&yaml_id)
            .replace("label: Shout", "label: Shout louder")
            .into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let description = get_json(&app.client, &app.url(&format!("/processes/{yaml_id}"))).await;
    assert_eq!(description["title"], "Shout louder");
    assert_eq!(
        run_async(&app, &yaml_id, "again").await,
        reference_outputs("again")
    );

    // Undeploy.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/processes/{json_id}"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = app
        .client
        .get(app.url(&format!("/processes/{json_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn a_deployed_cwl_tool_is_pinned_survives_a_restart_and_runs_through_wps() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-pin");
    deploy_ok(&app, "application/cwl", tool_yaml(&id).into_bytes()).await;
    let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
    let pinned = description["metadata"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "urn:ades:seed:image")
        .and_then(|m| m["title"].as_str())
        .unwrap_or_else(|| panic!("the pinned image: {description:#}"))
        .to_string();
    let image_id = crate::support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "ades-busybox:latest",
    ]);
    assert_eq!(pinned, image_id.trim(), "a local image is pinned by its id");

    // WPS-T deploys CWL too: as the ExecutionUnit's text, and by reference.
    let by_text = unique("cwl-wpst");
    let by_link = unique("cwl-wpst-href");
    let href = serve("wpst.cwl", tool_yaml(&by_link)).await;
    for unit in [
        format!("<![CDATA[{}]]>", tool_yaml(&by_text)),
        format!(r#"<wps:Reference xlink:href="{href}" mimeType="application/cwl"/>"#),
    ] {
        let xml = format!(
            r#"<wps:DeployProcess service="WPS" version="2.0.0" xmlns:wps="http://www.opengis.net/wps/2.0"
    xmlns:ows="http://www.opengis.net/ows/2.0" xmlns:xlink="http://www.w3.org/1999/xlink"><wps:ExecutionUnit>{unit}</wps:ExecutionUnit></wps:DeployProcess>"#
        );
        let response = app
            .client
            .post(app.url("/wps"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/xml")
            .body(xml)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("deployed"), "{body}");
    }
    for id in [&by_text, &by_link] {
        let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
        assert_eq!(description["title"], "Shout", "{description:#}");
    }
    app.stop().await;

    let app = cwl_app(data.path().to_path_buf()).await;
    let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
    assert_eq!(description["title"], "Shout", "deployed CWL persists");
    let reference = reference_outputs("wps");

    // WPS 2.0 Execute, synchronous, outputs by reference and by value.
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, TEXT);
    let execute = format!(
        r#"<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"
  service="WPS" version="2.0.0" response="document" mode="sync">
  <ows:Identifier>{id}</ows:Identifier>
  <wps:Input id="text"><wps:Data mimeType="text/plain" encoding="base64">{encoded}</wps:Data></wps:Input>
  <wps:Input id="word"><wps:Data><wps:LiteralValue>wps</wps:LiteralValue></wps:Data></wps:Input>
  <wps:Output id="upper" transmission="value"/>
  <wps:Output id="said" transmission="value"/>
  <wps:Output id="count" transmission="value"/>
</wps:Execute>"#
    );
    let response = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(execute)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let xml = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{xml}");
    let root = ades::wps::xml::parse(xml.as_bytes(), &ades::wps::xml::Limits::default()).unwrap();
    let data = |output: &str| -> String {
        let found = find(&root, &|e| {
            e.name == "Output" && e.attr("id") == Some(output)
        })
        .unwrap_or_else(|| panic!("output {output} in {xml}"));
        let data = find(found, &|e| e.name == "Data").unwrap();
        let text = data.text();
        if data.attr("encoding") == Some("base64") {
            String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
                    .unwrap(),
            )
            .unwrap()
        } else {
            find(data, &|e| e.name == "LiteralValue")
                .map(|l| l.text().to_string())
                .unwrap_or_else(|| text.to_string())
        }
    };
    assert_eq!(
        (data("upper"), data("said"), data("count")),
        reference,
        "{xml}"
    );
    app.stop().await;
}

fn find<'a>(
    element: &'a ades::wps::xml::Element,
    wanted: &dyn Fn(&ades::wps::xml::Element) -> bool,
) -> Option<&'a ades::wps::xml::Element> {
    if wanted(element) {
        return Some(element);
    }
    element.elements().find_map(|child| find(child, wanted))
}

#[tokio::test]
async fn bad_cwl_packages_get_400s_saying_what_to_fix() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-bad");
    let good = tool_yaml(&id);
    let cases: Vec<(&str, String, &str)> = vec![
        ("not yaml", "{ [".to_string(), "not valid YAML"),
        (
            "javascript without InlineJavascriptRequirement",
            good.replace(
                "outputEval: \"$(self[0].contents)\"}",
                "outputEval: '${return self[0].contents;}'}",
            ),
            "${return self[0].contents;}",
        ),
        (
            "no image",
            good.replace(
                "  DockerRequirement: {dockerPull: \"ades-busybox:latest\"}\n",
                "",
            ),
            "DockerRequirement",
        ),
        (
            "unknown image",
            good.replace("ades-busybox:latest", "127.0.0.1:9/none/such:1"),
            "cannot be deployed",
        ),
        (
            "a server file",
            good.replace(
                "    default: \"!\"\n",
                "    default: \"!\"\n  extra:\n    type: File\n    default: {class: File, location: /etc/passwd}\n",
            ),
            "/etc/passwd",
        ),
        (
            "an import",
            good.replace("doc: Upper", "doc: {$include: /etc/hostname}\nx: Upper"),
            "$include",
        ),
        (
            "a directory input",
            good.replace("  times:\n    type: int?\n", "  dir:\n    type: Directory\n"),
            "Directory",
        ),
        (
            "a workflow step with pickValue",
            "cwlVersion: v1.2\n$graph:\n- class: Workflow\n  id: main\n  \
             requirements: {MultipleInputFeatureRequirement: {}}\n  inputs: {w: string?, v: string?}\n  \
             outputs: []\n  steps:\n    s: {run: '#t', in: {x: {source: [w, v], pickValue: \
             first_non_null}}, out: []}\n- {class: CommandLineTool, id: t, inputs: {x: string}, \
             outputs: [], baseCommand: 'true'}\n"
                .to_string(),
            "pickValue",
        ),
    ];
    for (what, body, expected) in cases {
        let (status, error) = send(
            &app,
            reqwest::Method::POST,
            "/processes",
            "application/cwl",
            body.into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {error:#}");
        let detail = error["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(expected), "{what}: {error:#}");
    }
    // A process description that disagrees with the CWL: every mismatch listed.
    let (status, error) = send(
        &app,
        reqwest::Method::POST,
        "/processes",
        "application/ogcapppkg+json",
        serde_json::to_vec(&json!({
            "processDescription": {"process": {"id": "other", "inputs": {"text": {}, "nope": {}}}},
            "executionUnit": {"value": good, "mediaType": "application/cwl+yaml"}
        }))
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error:#}");
    let detail = error["detail"].as_str().unwrap_or_default();
    for expected in ["\"other\"", "\"nope\"", "lacks \"word\""] {
        assert!(detail.contains(expected), "{expected}: {detail}");
    }
    // `w` names a process the graph lacks.
    let (status, error) = send(
        &app,
        reqwest::Method::POST,
        "/processes?w=missing",
        "application/cwl",
        good.into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error:#}");
    assert_eq!(
        error["type"],
        "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/workflow-not-found"
    );
    // Nothing was deployed.
    let list = get_json(&app.client, &app.url("/processes")).await;
    assert_eq!(list["processes"], json!([]), "{list:#}");
    app.stop().await;
}

#[tokio::test]
async fn a_graph_entry_is_picked_with_w() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-graph");
    let tool: serde_yaml::Value = serde_yaml::from_str(&tool_yaml(&id)).unwrap();
    let mut tool = serde_json::to_value(tool).unwrap();
    let namespaces = tool.as_object_mut().unwrap().remove("$namespaces").unwrap();
    tool.as_object_mut().unwrap().remove("cwlVersion");
    let other = json!({"class": "CommandLineTool", "id": "other", "inputs": [], "outputs": [],
        "baseCommand": "true", "requirements": {"DockerRequirement": {"dockerPull": "ades-busybox:latest"}}});
    let graph = json!({"cwlVersion": "v1.2", "$namespaces": namespaces, "$graph": [other, tool]});
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &format!("/processes?w={id}"),
        "application/cwl+json",
        serde_json::to_vec(&graph).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body:#}");
    assert_eq!(run_async(&app, &id, "g").await, reference_outputs("g"));
    // The job's provenance names the pinned image and hashes the tool's outputs.
    let job = submit_async(
        &app.client,
        &app.url(&format!("/processes/{id}/execution")),
        &execute_body("p"),
    )
    .await;
    let status = wait_final(&app.client, &job, Duration::from_secs(120)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let prov = app
        .client
        .get(format!("{job}/prov"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, TEXT.to_uppercase().as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert!(prov.contains(&hex), "the output's sha256 {hex}: {prov}");
    let image_id = crate::support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        "ades-busybox:latest",
    ]);
    assert!(prov.contains(image_id.trim()), "the image: {prov}");
    // ?f=cwl gives the whole document as deployed.
    let cwl = package_as_cwl(&app, &id).await;
    assert_eq!(cwl["$graph"].as_array().map(Vec::len), Some(2));
    app.stop().await;
}

/// `GET /processes/{id}/package?f=cwl`, which must succeed with JSON.
async fn package_as_cwl(app: &TestApp, id: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/processes/{id}/package?f=cwl")))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The script of the Seed image below: its arguments are the command's words.
const SEED_SCRIPT: &str = "tr a-z A-Z < \"$1\" > \"$2/up.txt\"; echo \"$3\" > \"$2/word.txt\"\n";

/// A Seed job that upper-cases its input file into `OUTPUT_DIR`, with its word.
fn seed_manifest(name: &str) -> Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": "1.2.0", "packageVersion": "1.0.0",
            "title": "Seed shout", "description": "Upper-cases a file",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 60,
            "resources": {"scalar": [{"name": "cpus", "value": 1}, {"name": "mem", "value": 64}]},
            "interface": {
                "command": "${TEXT} ${OUTPUT_DIR} ${WORD}",
                "inputs": {
                    "files": [{"name": "TEXT", "mediaTypes": ["text/plain"]}],
                    "json": [{"name": "WORD", "type": "string"}]
                },
                "outputs": {"files": [
                    {"name": "UP", "mediaType": "text/plain", "pattern": "up.txt"},
                    {"name": "WORD_FILE", "pattern": "word.txt"}
                ]}
            }
        }
    })
}

#[tokio::test]
async fn a_seed_image_as_cwl_runs_under_cwltool_and_ades_like_the_seed_job() {
    let name = unique("seed-to-cwl");
    let image = crate::support::build_seed_image(&seed_manifest(&name), Some(SEED_SCRIPT));
    let dir = tempfile::tempdir().unwrap();

    // `ades seed to-cwl` writes the tool.
    let ran = ades(&["seed", "to-cwl", &image]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let tool = dir.path().join("tool.cwl");
    std::fs::write(&tool, &ran.stdout).unwrap();
    std::fs::write(dir.path().join("text.txt"), TEXT).unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        "TEXT: {class: File, location: text.txt}\nWORD: seedling\n",
    )
    .unwrap();

    // The Seed job itself, through the server.
    let app = spawn_app_with(|settings| {
        settings.catalog.discover_local_images = true;
    })
    .await;
    let location = submit_async(
        &app.client,
        &app.url(&format!("/processes/{name}/execution")),
        &json!({
            "inputs": {"TEXT": {"value": TEXT, "mediaType": "text/plain"}, "WORD": "seedling"},
            "outputs": {"UP": {"transmissionMode": "reference"}, "WORD_FILE": {"transmissionMode": "reference"}},
            "response": "document"
        }),
    )
    .await;
    let status = wait_final(&app.client, &location, Duration::from_secs(120)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let response = app
        .client
        .get(format!("{location}/results"))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let results: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("results {e}: {text}"));
    let fetch = |href: String| {
        let client = app.client.clone();
        async move { client.get(href).send().await.unwrap().text().await.unwrap() }
    };
    let seed_up = fetch(results["UP"]["href"].as_str().unwrap().to_string()).await;
    let seed_word = fetch(results["WORD_FILE"]["href"].as_str().unwrap().to_string()).await;
    assert_eq!(seed_up, TEXT.to_uppercase());
    assert_eq!(seed_word, "seedling\n");

    // ?f=cwl (and Accept) of the Seed process give the same tool.
    let served = package_as_cwl(&app, &name).await;
    let written: serde_yaml::Value = serde_yaml::from_str(&ran.stdout).unwrap();
    assert_eq!(served, serde_json::to_value(written).unwrap());
    let yaml = app
        .client
        .get(app.url(&format!("/processes/{name}/package")))
        .header("accept", "application/cwl+yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.status(), StatusCode::OK);
    assert_eq!(
        yaml.headers()["content-type"].to_str().unwrap(),
        "application/cwl+yaml"
    );
    app.stop().await;

    // cwltool and `ades cwl run` give the Seed job's outputs.
    let theirs = cwltool(&tool, &job, &dir.path().join("theirs"));
    let ours = ades(&[
        "cwl",
        "run",
        "--outdir",
        dir.path().join("ours").to_str().unwrap(),
        tool.to_str().unwrap(),
        job.to_str().unwrap(),
    ]);
    assert_eq!(ours.code, 0, "{ours:?}");
    let ours: Value = serde_json::from_str(&ours.stdout).unwrap();
    for outputs in [&theirs, &ours] {
        let read =
            |id: &str| std::fs::read_to_string(outputs[id]["path"].as_str().unwrap()).unwrap();
        assert_eq!(read("UP"), seed_up, "{outputs:#}");
        assert_eq!(read("WORD_FILE"), seed_word, "{outputs:#}");
    }
}

/// A deployed tool's JavaScript (an `expressionLib` function, `${...}` bodies and `$(...)`
/// expressions in arguments, `valueFrom` and `outputEval`) runs in the server's engine, and
/// an expression that throws fails the job naming it.
#[tokio::test]
async fn a_deployed_tool_with_javascript_runs_it() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-js");
    let tool = format!(
        r#"cwlVersion: v1.2
class: CommandLineTool
id: {id}
requirements:
  DockerRequirement: {{dockerPull: "ades-busybox:latest"}}
  InlineJavascriptRequirement:
    expressionLib: ["function shout(s) {{ if (s === 'boom') throw new Error('no booms'); return s.toUpperCase() + '!'; }}"]
baseCommand: echo
arguments: ["$(shout(inputs.word))", {{valueFrom: "${{ return inputs.n * 6; }}"}}]
inputs:
  word: string
  n: int
stdout: out.txt
outputs:
  said:
    type: string
    outputBinding:
      glob: out.txt
      loadContents: true
      outputEval: "$(self[0].contents.trim().split(' ').reverse().join(' '))"
"#
    );
    deploy_ok(&app, "application/cwl", tool.into_bytes()).await;
    let run = |inputs: Value| {
        let url = app.url(&format!("/processes/{id}/execution"));
        let client = app.client.clone();
        async move {
            let body = json!({ "inputs": inputs, "response": "document" });
            let job = submit_async(&client, &url, &body).await;
            let status = wait_final(&client, &job, Duration::from_secs(120)).await;
            (job, status)
        }
    };
    let (job, status) = run(json!({"word": "hello", "n": 7})).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let results = get_json(&app.client, &format!("{job}/results")).await;
    let said = results["said"].get("value").unwrap_or(&results["said"]);
    assert_eq!(said, "42 HELLO!", "{results:#}");
    // shout() throws on "boom": the job fails, and its message names the expression and
    // the error.
    let (_, status) = run(json!({"word": "boom", "n": 1})).await;
    assert_eq!(status["status"], "failed", "{status:#}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("$(shout(inputs.word))") && message.contains("no booms"),
        "{status:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failing_tool_fails_its_job_saying_why() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-fail");
    let tool = format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: {id}\n\
         requirements: {{DockerRequirement: {{dockerPull: 'ades-busybox:latest'}}}}\n\
         inputs: {{code: {{type: int, inputBinding: {{position: 1}}}}}}\n\
         baseCommand: [sh, -c, 'echo failing; exit $0']\noutputs: []\n"
    );
    deploy_ok(&app, "application/cwl", tool.into_bytes()).await;
    // A value of the wrong type is refused at submission.
    let response = app
        .client
        .post(app.url(&format!("/processes/{id}/execution")))
        .json(&json!({"inputs": {"code": "three"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let job = submit_async(
        &app.client,
        &app.url(&format!("/processes/{id}/execution")),
        &json!({"inputs": {"code": 3}}),
    )
    .await;
    let status = wait_final(&app.client, &job, Duration::from_secs(120)).await;
    assert_eq!(status["status"], "failed", "{status:#}");
    let message = status["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cwl-tool-failed") && message.contains("exited with code 3"),
        "{status:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_deployed_cwl_tool_survives_a_restart_on_postgresql() {
    busybox_image();
    let database = crate::support::PostgresTestDatabase::create().await;
    let start = |url: String| {
        spawn_app_with(move |settings| {
            settings.database.url = url;
            settings.catalog.discover_local_images = false;
            settings.auth.admin_token = TOKEN.to_string();
        })
    };
    let app = start(database.url()).await;
    let id = unique("cwl-pg");
    deploy_ok(&app, "application/cwl", tool_yaml(&id).into_bytes()).await;
    app.stop().await;

    let app = start(database.url()).await;
    assert_eq!(run_async(&app, &id, "pg").await, reference_outputs("pg"));
    let package = app
        .client
        .get(app.url(&format!("/processes/{id}/package")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(package, tool_yaml(&id));
    app.stop().await;
}

#[tokio::test]
async fn several_files_in_and_a_directory_out() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-dir");
    let tool = format!(
        r#"cwlVersion: v1.2
class: CommandLineTool
id: {id}
requirements: {{DockerRequirement: {{dockerPull: "ades-busybox:latest"}}}}
baseCommand: [sh, -c, 'mkdir d; cat "$0" "$1" > d/all.txt; cp "$0" d/first.txt']
inputs:
  parts: {{type: "File[]", inputBinding: {{position: 1}}}}
outputs:
  d: {{type: Directory, outputBinding: {{glob: d}}}}
  txts: {{type: "File[]", outputBinding: {{glob: "d/*.txt"}}}}
"#
    );
    deploy_ok(&app, "application/cwl", tool.into_bytes()).await;
    let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
    assert_eq!(description["inputs"]["parts"]["maxOccurs"], "unbounded");
    let job = submit_async(
        &app.client,
        &app.url(&format!("/processes/{id}/execution")),
        &json!({
            "inputs": {"parts": [{"value": "a\n"}, {"value": "b\n"}]},
            "outputs": {"d": {"transmissionMode": "reference"}, "txts": {"transmissionMode": "reference"}},
            "response": "document"
        }),
    )
    .await;
    let status = wait_final(&app.client, &job, Duration::from_secs(120)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let results = get_json(&app.client, &format!("{job}/results")).await;
    let contents = |output: &str| {
        let links: Vec<String> = results[output]
            .as_array()
            .unwrap_or_else(|| panic!("{output} has several files: {results:#}"))
            .iter()
            .map(|l| l["href"].as_str().unwrap().to_string())
            .collect();
        let client = app.client.clone();
        async move {
            let mut texts = Vec::new();
            for link in links {
                texts.push(
                    client
                        .get(&link)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap(),
                );
            }
            texts
        }
    };
    // A Directory is the files in it; both outputs name the same two files.
    assert_eq!(contents("d").await, ["a\nb\n", "a\n"]);
    assert_eq!(contents("txts").await, ["a\nb\n", "a\n"]);
    app.stop().await;
}

/// A second tool: frames each line of its text file with "> ", and counts the bytes.
fn frame_tool() -> Value {
    json!({
        "class": "CommandLineTool", "id": "frame",
        "requirements": {"DockerRequirement": {"dockerPull": "ades-busybox:latest"}},
        "baseCommand": ["sh", "-c", "sed 's/^/> /' \"$0\" > framed.txt; wc -c < framed.txt | tr -d ' ' > count.txt"],
        "inputs": {"text": {"type": "File", "inputBinding": {"position": 1}}},
        "outputs": {
            "framed": {"type": "File", "format": "iana:text/plain", "outputBinding": {"glob": "framed.txt"}},
            "count": {"type": "string", "outputBinding": {"glob": "count.txt", "loadContents": true, "outputEval": "$(self[0].contents)"}}
        }
    })
}

/// An EOEPCA-style `$graph`: Workflow `id` chaining `shout` (its upper-cased file) into
/// `frame`; its outputs `upper` (frame's file), `said` (shout's) and `count` (frame's). Its
/// `suffix` input has a default, which the tool's differs from.
fn app_graph(id: &str) -> Value {
    let shout: serde_yaml::Value = serde_yaml::from_str(&tool_yaml("shout")).unwrap();
    let mut shout = serde_json::to_value(shout).unwrap();
    let namespaces = shout
        .as_object_mut()
        .unwrap()
        .remove("$namespaces")
        .unwrap();
    shout.as_object_mut().unwrap().remove("cwlVersion");
    let workflow = json!({
        "class": "Workflow", "id": id, "label": "Shout and frame",
        "doc": "Upper-cases a text, then frames it.",
        "inputs": {
            "text": {"type": "File", "format": "iana:text/plain"},
            "word": "string",
            "suffix": {"type": "string", "default": "?"}
        },
        "outputs": {
            "upper": {"type": "File", "outputSource": "framing/framed"},
            "said": {"type": "string", "outputSource": "shouting/said"},
            "count": {"type": "string", "outputSource": "framing/count"}
        },
        "steps": {
            "shouting": {"run": "#shout", "in": {"text": "text", "word": "word", "suffix": "suffix"},
                "out": ["upper", "said"]},
            "framing": {"run": "#frame", "in": {"text": "shouting/upper"}, "out": ["framed", "count"]}
        }
    });
    json!({"cwlVersion": "v1.2", "$namespaces": namespaces, "$graph": [workflow, shout, frame_tool()]})
}

#[tokio::test]
async fn an_application_package_workflow_deploys_and_runs_like_cwltool() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-wf");
    let graph = app_graph(&id);

    // cwltool's outputs for the same inputs.
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("app.cwl");
    std::fs::write(&document, serde_json::to_vec_pretty(&graph).unwrap()).unwrap();
    std::fs::write(dir.path().join("text.txt"), TEXT).unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        "text: {class: File, location: text.txt, format: \
         'https://www.iana.org/assignments/media-types/text/plain'}\nword: wf\n",
    )
    .unwrap();
    let theirs = cwltool(
        Path::new(&format!("{}#{id}", document.display())),
        &job,
        &dir.path().join("out"),
    );
    let reference = (
        std::fs::read_to_string(theirs["upper"]["path"].as_str().unwrap()).unwrap(),
        theirs["said"].as_str().unwrap().to_string(),
        theirs["count"].as_str().unwrap().to_string(),
    );
    assert_eq!(reference.0, "> HELLO CWL\n", "{theirs:#}");
    assert_eq!(reference.1, "wf?\n", "the workflow input's default");

    // Deployed as an application package with the CWL by value.
    let package = json!({"executionUnit": {"value": graph, "mediaType": "application/cwl+json"}});
    deploy_ok(
        &app,
        "application/ogcapppkg+json",
        serde_json::to_vec(&package).unwrap(),
    )
    .await;
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/processes",
        "application/ogcapppkg+json",
        serde_json::to_vec(&package).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "deployed twice: {body:#}");
    assert!(
        body["detail"].as_str().unwrap_or_default().contains(&id),
        "{body:#}"
    );
    let description = get_json(&app.client, &app.url(&format!("/processes/{id}"))).await;
    assert_eq!(description["title"], "Shout and frame", "{description:#}");
    for input in ["text", "word"] {
        assert!(
            description["inputs"].get(input).is_some(),
            "{description:#}"
        );
    }
    for output in ["upper", "said", "count"] {
        assert!(
            description["outputs"].get(output).is_some(),
            "{description:#}"
        );
    }
    // Each tool is a CWL process of its own, its image pinned.
    for tool in ["shout", "frame"] {
        let tool = get_json(&app.client, &app.url(&format!("/processes/{id}-{tool}"))).await;
        assert!(
            tool["metadata"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["role"] == "urn:ades:seed:image"),
            "{tool:#}"
        );
    }

    // OGC API, asynchronous.
    assert_eq!(run_async(&app, &id, "wf").await, reference);

    // WPS 2.0, synchronous, outputs by value.
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, TEXT);
    let execute = format!(
        r#"<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"
  service="WPS" version="2.0.0" response="document" mode="sync">
  <ows:Identifier>{id}</ows:Identifier>
  <wps:Input id="text"><wps:Data mimeType="text/plain" encoding="base64">{encoded}</wps:Data></wps:Input>
  <wps:Input id="word"><wps:Data><wps:LiteralValue>wf</wps:LiteralValue></wps:Data></wps:Input>
  <wps:Output id="upper" transmission="value"/>
  <wps:Output id="said" transmission="value"/>
  <wps:Output id="count" transmission="value"/>
</wps:Execute>"#
    );
    let response = app
        .client
        .post(app.url("/wps"))
        .header("content-type", "application/xml")
        .body(execute)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let xml = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{xml}");
    let root = ades::wps::xml::parse(xml.as_bytes(), &ades::wps::xml::Limits::default()).unwrap();
    let value_of = |output: &str| -> String {
        let found = find(&root, &|e| {
            e.name == "Output" && e.attr("id") == Some(output)
        })
        .unwrap_or_else(|| panic!("output {output} in {xml}"));
        let data = find(found, &|e| e.name == "Data").unwrap();
        let text = data.text();
        if data.attr("encoding") == Some("base64") {
            String::from_utf8(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text.trim())
                    .unwrap(),
            )
            .unwrap()
        } else {
            find(data, &|e| e.name == "LiteralValue")
                .map(|l| l.text().to_string())
                .unwrap_or_else(|| text.to_string())
        }
    };
    assert_eq!(
        (value_of("upper"), value_of("said"), value_of("count")),
        reference,
        "{xml}"
    );

    // The package as deployed: the whole $graph.
    let cwl = package_as_cwl(&app, &id).await;
    assert_eq!(cwl["$graph"].as_array().map(Vec::len), Some(3), "{cwl:#}");

    // Survives a restart; undeploying the workflow undeploys its tools.
    app.stop().await;
    let app = cwl_app(data.path().to_path_buf()).await;
    assert_eq!(run_async(&app, &id, "wf").await, reference);
    let response = app
        .client
        .delete(app.url(&format!("/processes/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
    for gone in [id.clone(), format!("{id}-shout"), format!("{id}-frame")] {
        let response = app
            .client
            .get(app.url(&format!("/processes/{gone}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{gone}");
    }
    app.stop().await;
}

/// A deployed Workflow whose steps use `valueFrom` (StepInputExpressionRequirement), a
/// list of sources (MultipleInputFeatureRequirement, `merge_flattened`) and `when` over a
/// step input its tool does not declare runs on the workflow engine and gives cwltool's
/// outputs for the same inputs; with the condition false the step is skipped.
#[tokio::test]
async fn a_workflow_with_value_from_merged_sources_and_when_runs_like_cwltool() {
    let data = tempfile::tempdir().unwrap();
    let app = cwl_app(data.path().to_path_buf()).await;
    let id = unique("cwl-vf");
    let mut graph = app_graph(&id);
    let join = json!({
        "class": "CommandLineTool", "id": "join",
        "requirements": {"DockerRequirement": {"dockerPull": "ades-busybox:latest"}},
        "baseCommand": "echo",
        "inputs": {"words": {"type": "string[]", "inputBinding": {"position": 1}}},
        "stdout": "joined.txt",
        "outputs": {"joined": {"type": "string", "outputBinding": {
            "glob": "joined.txt", "loadContents": true, "outputEval": "$(self[0].contents)"}}}
    });
    let workflow = json!({
        "class": "Workflow", "id": id,
        "requirements": {"MultipleInputFeatureRequirement": {}, "StepInputExpressionRequirement": {}},
        "inputs": {"text": "File", "word": "string", "extra": "string", "go": "boolean"},
        "outputs": {
            "said": {"type": "string", "outputSource": "shouting/said"},
            "joined": {"type": "string", "outputSource": "joining/joined"}
        },
        "steps": {
            "shouting": {"run": "#shout", "out": ["upper", "said"], "in": {
                "text": "text",
                "word": {"source": "word", "valueFrom": "<$(self)>"},
                // The second of a merged list, picked by reference.
                "suffix": {"source": ["word", "extra"], "valueFrom": "$(self[1])"}
            }},
            "joining": {"run": "#join", "out": ["joined"], "when": "$(inputs.go)", "in": {
                "words": {"source": ["word", "extra", "shouting/said"], "linkMerge": "merge_flattened"},
                "go": "go"
            }}
        }
    });
    graph["$graph"][0] = workflow;
    graph["$graph"][2] = join;

    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("app.cwl");
    std::fs::write(&document, serde_json::to_vec_pretty(&graph).unwrap()).unwrap();
    std::fs::write(dir.path().join("text.txt"), TEXT).unwrap();
    let job = dir.path().join("job.yml");
    std::fs::write(
        &job,
        "text: {class: File, location: text.txt, format: \
         'https://www.iana.org/assignments/media-types/text/plain'}\nword: vf\nextra: more\n\
         go: true\n",
    )
    .unwrap();
    let theirs = cwltool(
        Path::new(&format!("{}#{id}", document.display())),
        &job,
        &dir.path().join("out"),
    );
    assert_eq!(theirs["said"], "<vf>more\n", "{theirs:#}");

    deploy_ok(
        &app,
        "application/cwl+json",
        serde_json::to_vec(&graph).unwrap(),
    )
    .await;
    let run = |go: bool| {
        let url = app.url(&format!("/processes/{id}/execution"));
        let client = app.client.clone();
        async move {
            let body = json!({
                "inputs": {"text": {"value": TEXT, "mediaType": "text/plain"}, "word": "vf",
                    "extra": "more", "go": go},
                "response": "document"
            });
            let job = submit_async(&client, &url, &body).await;
            let status = wait_final(&client, &job, Duration::from_secs(120)).await;
            assert_eq!(status["status"], "successful", "{status:#}");
            get_json(&client, &format!("{job}/results")).await
        }
    };
    let results = run(true).await;
    for output in ["said", "joined"] {
        let ours = results[output].get("value").unwrap_or(&results[output]);
        assert_eq!(ours, &theirs[output], "{output}: {results:#}");
    }
    // With go false the joining step is skipped: no joined (cwltool: null), said as before.
    let results = run(false).await;
    assert!(results.get("joined").is_none(), "{results:#}");
    let said = results["said"].get("value").unwrap_or(&results["said"]);
    assert_eq!(said, &theirs["said"], "{results:#}");
    app.stop().await;
}
