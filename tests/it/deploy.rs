//! OGC API - Processes Part 2 against the real engine and a real registry: the three deploy
//! forms end to end (deploy, describe in JSON and WPS, execute from an image that is only in
//! the registry, replace, undeploy), pinning, persistence, the admin token, and refusals
//! that leave nothing behind.

use crate::app::TestApp;
use crate::support::{ades, busybox_image, docker, push_to_registry, registry, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const TOKEN: &str = "it-admin-token";
const PART2: &str = "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0";

/// A Seed job `name` (version `version`) whose image prints `$MARK` (baked into the image)
/// and its input `WORD` into its one output file `OUT`: executing it tells which image ran.
fn manifest(name: &str, version: &str) -> Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": version, "packageVersion": "1.0.0",
            "title": format!("Deploy test {version}"), "description": "Prints its mark",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 30,
            "interface": {
                "command": "-c ${SCRIPT}",
                "inputs": {"json": [{"name": "SCRIPT", "type": "string"}]},
                "outputs": {"files": [{"name": "OUT", "mediaType": "text/plain", "pattern": "out.txt"}]}
            }
        }
    })
}

/// Builds the job's image with `ades seed build` (label included unless `label` is false),
/// pushes it to the test registry as `<org>/<name>:<tag>` and removes it from the local
/// engine; returns the registry reference.
pub(crate) fn publish(name: &str, version: &str, mark: &str, tag: &str, label: bool) -> String {
    busybox_image();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM ades-busybox:latest\nENV MARK={mark}\nENTRYPOINT [\"/bin/sh\"]\n"),
    )
    .unwrap();
    let local = if label {
        std::fs::write(
            dir.path().join("seed.manifest.json"),
            serde_json::to_vec_pretty(&manifest(name, version)).unwrap(),
        )
        .unwrap();
        let ran = ades(&["seed", "build", "--json", dir.path().to_str().unwrap()]);
        assert_eq!(ran.code, 0, "seed build: {}", ran.stderr);
        let report: Value = serde_json::from_str(&ran.stdout).unwrap();
        report["image"].as_str().unwrap().to_string()
    } else {
        let local = format!("{name}-nolabel:{tag}");
        docker(&["build", "-q", "-t", &local, dir.path().to_str().unwrap()]);
        local
    };
    let remote = push_to_registry(&local, &registry(), &format!("it-deploy/{name}"), tag);
    docker(&["rmi", &local]);
    remote
}

pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

pub(crate) async fn deploying_app() -> TestApp {
    spawn_app_with(|settings| {
        settings.catalog.discover_local_images = false;
        settings.auth.admin_token = TOKEN.to_string();
    })
    .await
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Executes `id` synchronously; the body of its one output.
pub(crate) async fn run(app: &TestApp, id: &str, word: &str) -> String {
    let response = app
        .client
        .post(app.url(&format!("/processes/{id}/execution")))
        .json(&json!({"inputs": {"SCRIPT": format!("echo $MARK-{word} > $OUTPUT_DIR/out.txt")}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    text.trim().to_string()
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn metadata<'a>(description: &'a Value, role: &str) -> Option<&'a str> {
    description["metadata"]
        .as_array()?
        .iter()
        .find(|m| m["role"] == role)?["title"]
        .as_str()
}

/// The body of each form for `image` (with `manifest` for the bare-manifest form).
fn form(kind: &str, image: &str, manifest: &Value) -> (String, String, Vec<u8>) {
    match kind {
        "apppkg" => (
            String::new(),
            "application/ogcapppkg+json".into(),
            serde_json::to_vec(&json!({
                "executionUnit": {"type": "docker", "image": image},
                "deploymentProfile": "http://www.opengis.net/profiles/eoc/dockerizedApplication"
            }))
            .unwrap(),
        ),
        "manifest" => (
            format!("?image={}", url_escape(image)),
            "application/vnd.seed.manifest+json".into(),
            serde_json::to_vec(manifest).unwrap(),
        ),
        _ => (
            String::new(),
            "application/vnd.ades.image+json".into(),
            serde_json::to_vec(&json!({"image": image})).unwrap(),
        ),
    }
}

fn url_escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn each_deploy_form_deploys_describes_runs_replaces_and_undeploys() {
    let app = deploying_app().await;
    for kind in ["apppkg", "manifest", "image"] {
        let name = unique(&format!("dep-{kind}"));
        let v1 = publish(&name, "1.0.0", "first", "v1", true);
        let v2 = publish(&name, "2.0.0", "second", "v2", true);

        let (query, media_type, body) = form(kind, &v1, &manifest(&name, "1.0.0"));
        let response = send(
            &app,
            reqwest::Method::POST,
            &format!("/processes{query}"),
            &media_type,
            body.clone(),
        )
        .await;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let summary: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{kind}: {summary:#}");
        assert_eq!(
            location.as_deref(),
            Some(app.url(&format!("/processes/{name}")).as_str())
        );
        assert_eq!(summary["id"], name.as_str());
        assert_eq!(summary["mutable"], true);

        let (status, description) = get_json(&app, &format!("/processes/{name}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(description["version"], "1.0.0");
        let pinned = metadata(&description, "urn:ades:seed:image")
            .unwrap()
            .to_string();
        assert!(pinned.contains("@sha256:"), "{kind}: pinned {pinned}");
        assert_eq!(
            metadata(&description, "urn:ades:seed:deployedImage"),
            Some(v1.as_str())
        );
        assert!(description["inputs"]["SCRIPT"].is_object());

        let wps = app
            .client
            .get(app.url(&format!(
                "/wps?service=WPS&version=2.0.0&request=DescribeProcess&identifier={name}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(wps.status(), StatusCode::OK);
        let xml = wps.text().await.unwrap();
        assert!(xml.contains(&format!(">{name}<")), "{xml}");
        crate::xsd::assert_valid_xml(&xml, crate::xsd::Schema::Wps2);

        // The image is only in the registry: the first run pulls it.
        assert_eq!(run(&app, &name, "a").await, "first-a", "{kind}");

        let (status, package) = {
            let response = app
                .client
                .get(app.url(&format!("/processes/{name}/package")))
                .send()
                .await
                .unwrap();
            (response.status(), response.bytes().await.unwrap().to_vec())
        };
        assert_eq!(status, StatusCode::OK);
        assert_eq!(package, body, "{kind}: the package as deployed");

        // Replace with version 2.
        let (query, media_type, body) = form(kind, &v2, &manifest(&name, "2.0.0"));
        let response = send(
            &app,
            reqwest::Method::PUT,
            &format!("/processes/{name}{query}"),
            &media_type,
            body,
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{kind}: {}",
            response.text().await.unwrap()
        );
        let (_, description) = get_json(&app, &format!("/processes/{name}")).await;
        assert_eq!(description["version"], "2.0.0");
        assert_ne!(
            metadata(&description, "urn:ades:seed:image"),
            Some(pinned.as_str())
        );
        assert_eq!(run(&app, &name, "b").await, "second-b", "{kind}");

        // Undeploy: gone from the API, past jobs stay.
        let response = send(
            &app,
            reqwest::Method::DELETE,
            &format!("/processes/{name}"),
            "application/json",
            Vec::new(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let (status, _) = get_json(&app, &format!("/processes/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, jobs) = get_json(&app, &format!("/jobs?processID={name}")).await;
        assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(2), "{jobs:#}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_deployed_process_is_pinned_and_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let start = |dir: std::path::PathBuf| {
        spawn_app_with(move |settings| {
            settings.data_dir = dir;
            settings.catalog.discover_local_images = false;
            settings.auth.admin_token = TOKEN.to_string();
        })
    };
    let app = start(dir.clone()).await;
    let name = unique("dep-pin");
    let image = publish(&name, "1.0.0", "original", "latest", true);
    let (_, media_type, body) = form("image", &image, &Value::Null);
    let response = send(&app, reqwest::Method::POST, "/processes", &media_type, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The tag moves to another image: the deployed process still runs the one it pinned.
    let moved = publish(&name, "1.0.0", "moved", "latest", true);
    assert_eq!(moved, image);
    assert_eq!(run(&app, &name, "x").await, "original-x");
    app.stop().await;

    let app = start(dir).await;
    let (status, description) = get_json(&app, &format!("/processes/{name}")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "deployed processes persist: {description:#}"
    );
    assert_eq!(description["mutable"], true);
    assert_eq!(run(&app, &name, "y").await, "original-y");
    app.stop().await;
}

#[tokio::test]
async fn writes_need_the_admin_token() {
    let name = unique("dep-auth");
    let body = serde_json::to_vec(&json!({"image": "127.0.0.1:5000/x/y:1"})).unwrap();

    let closed = spawn_app_with(|settings| settings.catalog.discover_local_images = false).await;
    let response = closed
        .client
        .post(closed.url("/processes"))
        .header("content-type", "application/vnd.ades.image+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let text = response.text().await.unwrap();
    assert!(text.contains("--admin-token"), "{text}");
    closed.stop().await;

    let app = deploying_app().await;
    for token in [None, Some("wrong")] {
        let mut request = app.client.delete(app.url(&format!("/processes/{name}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));
    }
    // Reads stay open.
    let (status, _) = get_json(&app, "/processes").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn conflicts_builtins_and_media_types_get_the_part_2_exceptions() {
    let echo = crate::support::example_image("echo");
    let app = spawn_app_with(|settings| {
        settings.catalog.discover_local_images = false;
        settings.catalog.images = vec![echo.clone()];
        settings.auth.admin_token = TOKEN.to_string();
    })
    .await;
    let name = unique("dep-dup");
    let image = publish(&name, "1.0.0", "m", "v1", true);
    let (_, media_type, body) = form("image", &image, &Value::Null);
    let first = send(
        &app,
        reqwest::Method::POST,
        "/processes",
        &media_type,
        body.clone(),
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = send(&app, reqwest::Method::POST, "/processes", &media_type, body).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let exception: Value = again.json().await.unwrap();
    assert_eq!(exception["type"], format!("{PART2}/duplicated-process"));

    // The built-in echo process cannot be deployed over, replaced or undeployed.
    let (_, list) = get_json(&app, "/processes").await;
    let echo_summary = list["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "echo")
        .unwrap();
    assert_eq!(echo_summary["mutable"], false);
    let (_, media_type, body) = form("image", &echo, &Value::Null);
    for (method, path) in [
        (reqwest::Method::POST, "/processes"),
        (reqwest::Method::PUT, "/processes/echo"),
        (reqwest::Method::DELETE, "/processes/echo"),
    ] {
        let response = send(&app, method.clone(), path, &media_type, body.clone()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let exception: Value = response.json().await.unwrap();
        assert_eq!(exception["type"], format!("{PART2}/immutable-process"));
    }

    let response = send(
        &app,
        reqwest::Method::POST,
        "/processes",
        "application/x-netcdf",
        b"class: Workflow".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let exception: Value = response.json().await.unwrap();
    assert_eq!(exception["type"], format!("{PART2}/unsupported-media-type"));
    assert!(exception["detail"]
        .as_str()
        .unwrap()
        .contains("application/ogcapppkg+json"));
    // CWL is deployed: a bad document is a 400, not a 415.
    let response = send(
        &app,
        reqwest::Method::POST,
        "/processes",
        "application/cwl+yaml",
        b"class: Workflow".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = send(
        &app,
        reqwest::Method::PUT,
        "/processes/no-such-thing",
        &media_type,
        Vec::new(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn unusable_packages_are_refused_and_leave_nothing_behind() {
    let app = deploying_app().await;
    let name = unique("dep-bad");
    let unlabelled = publish(&name, "1.0.0", "m", "nolabel", false);
    let mut invalid = manifest(&name, "1.0.0");
    invalid["job"]["interface"]["outputs"]["files"][0]["pattern"] = json!("/etc/passwd");
    invalid["job"]["timeout"] = json!("soon");
    let bad_label = {
        // An image whose Seed label is not a valid manifest (no job interface, no title).
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM ades-busybox:latest\nLABEL com.ngageoint.seed.manifest=\"{\\\"seedVersion\\\": \\\"1.0.0\\\", \\\"job\\\": {\\\"name\\\": \\\"half\\\"}}\"\n",
        )
        .unwrap();
        let local = format!("{name}-badlabel:1");
        docker(&["build", "-q", "-t", &local, dir.path().to_str().unwrap()]);
        let remote = push_to_registry(
            &local,
            &registry(),
            &format!("it-deploy/{name}-badlabel"),
            "1",
        );
        docker(&["rmi", &local]);
        remote
    };
    let cases: Vec<(&str, String, Vec<u8>, &str)> = vec![
        (
            "invalid manifest in the label",
            "application/vnd.ades.image+json".into(),
            serde_json::to_vec(&json!({"image": bad_label})).unwrap(),
            "is not a valid Seed 1.0.0 manifest",
        ),
        (
            "no Seed label",
            "application/vnd.ades.image+json".into(),
            serde_json::to_vec(&json!({"image": unlabelled})).unwrap(),
            "label",
        ),
        (
            "unreachable registry",
            "application/vnd.ades.image+json".into(),
            serde_json::to_vec(&json!({"image": "127.0.0.1:1/nowhere/job:1"})).unwrap(),
            "127.0.0.1:1",
        ),
        (
            "unknown image",
            "application/vnd.ades.image+json".into(),
            serde_json::to_vec(
                &json!({"image": format!("{}/it-deploy/{name}:missing", registry())}),
            )
            .unwrap(),
            "missing",
        ),
        (
            "invalid manifest",
            "application/vnd.seed.manifest+json".to_string(),
            serde_json::to_vec(&invalid).unwrap(),
            "timeout",
        ),
        (
            "not JSON",
            "application/ogcapppkg+json".into(),
            b"{\"executionUnit\": ".to_vec(),
            "line 1",
        ),
        (
            "no execution unit",
            "application/ogcapppkg+json".into(),
            serde_json::to_vec(&json!({"processDescription": {"process": {"id": name}}})).unwrap(),
            "executionUnit",
        ),
    ];
    for (case, media_type, body, hint) in cases {
        let query = if media_type.contains("seed.manifest") {
            format!("?image={}", url_escape(&unlabelled))
        } else {
            String::new()
        };
        let response = send(
            &app,
            reqwest::Method::POST,
            &format!("/processes{query}"),
            &media_type,
            body,
        )
        .await;
        let status = response.status();
        let exception: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {exception:#}");
        let detail = exception["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(hint), "{case}: {detail}");
    }
    let (status, _) = get_json(&app, &format!("/processes/{name}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing half-deployed");
    let (_, list) = get_json(&app, "/processes").await;
    assert!(
        list["processes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["mutable"] == false),
        "{list:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_deploy_example_script_runs() {
    // examples/deploy/app-package.json names the echo example in the test registry.
    assert_eq!(
        registry(),
        "127.0.0.1:5000",
        "the example's package names this registry"
    );
    let echo = crate::support::example_image("echo");
    push_to_registry(&echo, &registry(), "acme/echo-1.0.0-seed", "1.0.0");
    let app = spawn_app_with(|settings| {
        settings.catalog.discover_local_images = false;
        settings.auth.admin_token = "secret".to_string();
    })
    .await;
    let script = crate::support::repo_root().join("examples/deploy/deploy.sh");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("B", address)
            .env("TOKEN", "secret")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("hello from a deployed process"), "{stdout}");
    assert!(stdout.contains("undeploy: 204"), "{stdout}");
    app.stop().await;
}
