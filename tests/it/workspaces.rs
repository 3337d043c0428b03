//! Named workspaces (`src/storage/`): the `/workspaces` resource (admin writes, secrets
//! never shown), jobs reading `workspace://` and `s3://` inputs from a host directory and a
//! real S3 store (SeaweedFS, started by scripts/start-s3.sh: `ADES_TEST_S3_ENDPOINT`), and
//! products published to an S3 output workspace at the dated path, read back through the
//! results link with a Range request. Hostile paths are refused with 4xx.

use crate::support::{build_seed_image, get_json, spawn_app_with, wait_final};
use ades::storage::{Broker, BrokerSpec, WorkspaceSpec};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const ADMIN: &str = "workspaces-admin-token";
const SECRET: &str = "sup3r-s3cret-key-value";

/// The S3 store of the tests, or `None` (the test is skipped) when
/// `ADES_TEST_S3_ENDPOINT` is not set; scripts/test-all.sh always sets it.
fn s3_endpoint() -> Option<String> {
    let endpoint = std::env::var("ADES_TEST_S3_ENDPOINT").ok();
    if endpoint.is_none() {
        eprintln!(
            "skipped: ADES_TEST_S3_ENDPOINT is not set (run scripts/start-s3.sh, as \
             scripts/test-all.sh does)"
        );
    }
    endpoint
}

fn s3_broker(endpoint: &str, bucket: &str, prefix: &str) -> BrokerSpec {
    serde_json::from_value(json!({
        "type": "s3",
        "bucket_name": bucket,
        "prefix": prefix,
        "region_name": "us-east-1",
        "endpoint": endpoint,
        "credentials": {"access_key_id": "ades-test", "secret_access_key": "ades-test-secret"},
    }))
    .unwrap()
}

#[tokio::test]
async fn workspaces_are_listed_for_all_written_by_admins_and_never_show_secrets() {
    let configured_dir = tempfile::tempdir().unwrap();
    let configured_path = configured_dir.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.auth.admin_token = ADMIN.to_string();
        s.workspaces.insert(
            "configured".to_string(),
            WorkspaceSpec::host("", configured_path),
        );
    })
    .await;
    let client = &app.client;
    let list = get_json(client, &app.url("/workspaces")).await;
    assert_eq!(list["count"], 1, "{list:#}");
    assert_eq!(list["results"][0]["name"], "configured");
    assert_eq!(list["results"][0]["source"], "configuration");

    // Scale's v6 body, as its documentation gives it (name derived from the title).
    let body = json!({
        "title": "Raw Source",
        "description": "Raw Source Workspace",
        "base_url": "http://host.com/rs",
        "is_active": true,
        "configuration": {"broker": {
            "type": "s3", "bucket_name": "my-bucket",
            "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRET},
            "region_name": "us-east-1"
        }}
    });
    let anonymous = client
        .post(app.url("/workspaces"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        anonymous.status()
    );
    let exception: Value = anonymous.json().await.unwrap();
    assert!(
        exception["detail"].as_str().unwrap().contains("workspaces"),
        "{exception:#}"
    );

    let created = client
        .post(app.url("/workspaces"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with("/workspaces/raw-source"), "{location}");
    let text = created.text().await.unwrap();
    assert!(!text.contains(SECRET), "the secret was answered: {text}");
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        shown["configuration"]["broker"]["credentials"]["secret_access_key"],
        "<hidden>"
    );
    assert_eq!(shown["source"], "api");

    let again = client
        .post(app.url("/workspaces"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    for path in ["/workspaces", "/workspaces/raw-source"] {
        let text = client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains(SECRET),
            "GET {path} shows the secret: {text}"
        );
        assert!(text.contains("raw-source"), "{text}");
    }

    let patched: Value = client
        .patch(app.url("/workspaces/raw-source"))
        .bearer_auth(ADMIN)
        .json(&json!({"is_active": false, "delete_on_dismiss": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["is_active"], false, "{patched:#}");
    assert_eq!(patched["delete_on_dismiss"], true);
    assert!(!patched.to_string().contains(SECRET));

    let relative = client
        .put(app.url("/workspaces/raw-source"))
        .bearer_auth(ADMIN)
        .json(&json!({"configuration": {"broker": {"type": "host", "host_path": "rel/dir"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(relative.status(), StatusCode::BAD_REQUEST);
    let exception: Value = relative.json().await.unwrap();
    assert!(
        exception["detail"].as_str().unwrap().contains("absolute"),
        "{exception:#}"
    );

    let configured = client
        .delete(app.url("/workspaces/configured"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(configured.status(), StatusCode::FORBIDDEN);

    let deleted = client
        .delete(app.url("/workspaces/raw-source"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = client
        .get(app.url("/workspaces/raw-source"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A Seed job copying its file input `INPUT` to `out-copy.txt`, with a line added.
fn copy_image() -> (String, String) {
    let name = "ades-it-workspace-copy".to_string();
    let manifest = json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "Copy", "description": "Copies INPUT to out-copy.txt",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 30,
            "interface": {
                "command": "${INPUT} ${OUTPUT_DIR}",
                "inputs": {"files": [{"name": "INPUT", "mediaTypes": ["text/plain"]}]},
                "outputs": {"files": [{"name": "OUT", "pattern": "out-*", "mediaType": "text/plain"}]}
            }
        }
    });
    let image = build_seed_image(
        &manifest,
        Some("cat \"$1\" > \"$2/out-copy.txt\"\necho copied >> \"$2/out-copy.txt\"\n"),
    );
    (image, name)
}

#[tokio::test]
async fn a_job_reads_host_and_s3_workspace_inputs_and_publishes_to_an_s3_output_workspace() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let (image, process) = copy_image();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(host_dir.path().join("scenes")).unwrap();
    std::fs::write(host_dir.path().join("scenes/in.txt"), "from the host\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", host_dir.path().join("link.txt")).unwrap();
    let input_s3 = s3_broker(&endpoint, "ades-test-in", &format!("it-{run}"));
    let output_s3 = s3_broker(&endpoint, "ades-test-out", &format!("it-{run}"));
    let s3_in = ades::storage::s3::S3Broker::from_spec(&input_s3).unwrap();
    s3_in
        .write("in.txt", &mut &b"from the bucket\n"[..])
        .await
        .unwrap();

    let (host_path, process_id) = (host_dir.path().to_path_buf(), process.clone());
    let (input_spec, output_spec) = (input_s3.clone(), output_s3.clone());
    let app = spawn_app_with(move |s| {
        s.catalog.images = vec![image];
        s.workspaces
            .insert("in-host".into(), WorkspaceSpec::host("", host_path));
        s.workspaces
            .insert("in-s3".into(), WorkspaceSpec::with_broker("", input_spec));
        s.workspaces
            .insert("out-s3".into(), WorkspaceSpec::with_broker("", output_spec));
        s.processes.entry(process_id).or_default().output_workspace = "out-s3".into();
    })
    .await;
    let client = &app.client;
    let execute = app.url(&format!("/processes/{process}/execution"));

    for (href, expected) in [
        (
            "workspace://in-host/scenes/in.txt".to_string(),
            "from the host\ncopied\n",
        ),
        (
            format!("s3://ades-test-in/it-{run}/in.txt"),
            "from the bucket\ncopied\n",
        ),
        (
            "workspace://in-s3/in.txt".to_string(),
            "from the bucket\ncopied\n",
        ),
    ] {
        let request = json!({
            "inputs": {"INPUT": {"href": href}},
            "outputs": {"OUT": {"transmissionMode": "reference"}},
            "response": "document",
        });
        let job_url = crate::support::submit_async(client, &execute, &request).await;
        let status = wait_final(client, &job_url, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{href}: {status:#}");
        let job_id = status["jobID"].as_str().unwrap().to_string();
        let created = time::OffsetDateTime::parse(
            status["created"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let dated = format!(
            "{process}/{:04}/{:02}/{:02}/{job_id}/out-copy.txt",
            created.year(),
            u8::from(created.month()),
            created.day()
        );
        let results = get_json(client, &format!("{job_url}/results")).await;
        let link = results["OUT"]["href"].as_str().unwrap().to_string();
        assert_eq!(
            link,
            app.url(&format!("/workspaces/out-s3/files/{dated}")),
            "{results:#}"
        );
        // The product is in the bucket at the dated path...
        let s3_out = ades::storage::s3::S3Broker::from_spec(&output_s3).unwrap();
        assert_eq!(
            s3_out.stat(&dated).await.unwrap().size,
            expected.len() as u64
        );
        // ...and the link reads it back through ades, whole and in part.
        let whole = client.get(&link).send().await.unwrap();
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.headers()["accept-ranges"], "bytes");
        assert_eq!(whole.text().await.unwrap(), expected);
        let part = client
            .get(&link)
            .header("Range", "bytes=5-8")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes 5-8/{}", expected.len()).as_str()
        );
        assert_eq!(part.text().await.unwrap(), &expected[5..9]);
    }

    // Hostile references are refused at submission, naming what is wrong.
    for (href, expected) in [
        ("workspace://in-host/link.txt", "symbolic link"),
        (
            "workspace://in-host/scenes%2F..%2F..%2Fetc%2Fpasswd",
            ".. segment",
        ),
        ("workspace://in-host/missing.txt", "does not exist"),
        ("workspace://nowhere/in.txt", "no workspace named nowhere"),
        (
            "s3://unknown-bucket/in.txt",
            "no workspace of this server covers",
        ),
    ] {
        let response = client
            .post(&execute)
            .header("Prefer", "respond-async")
            .json(&json!({"inputs": {"INPUT": {"href": href}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{href}");
        let exception: Value = response.json().await.unwrap();
        assert!(
            exception.to_string().contains(expected),
            "{href}: {exception:#}"
        );
    }
    // And so are hostile file paths.
    for path in [
        "/workspaces/in-host/files/link.txt",
        "/workspaces/in-host/files/scenes%2F..%2F..%2Fetc%2Fpasswd",
        "/workspaces/in-host/files/%2Fetc%2Fpasswd",
    ] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
        assert!(!response.text().await.unwrap().contains("root:"), "{path}");
    }
    let whole = client
        .get(app.url("/workspaces/in-host/files/scenes/in.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(whole.text().await.unwrap(), "from the host\n");
    app.stop().await;
}

#[tokio::test]
async fn products_are_presigned_where_asked_and_deleted_on_dismiss_only_where_allowed() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let (image, process) = copy_image();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("in.txt"), "presign me\n").unwrap();
    let (host_path, process_id) = (host_dir.path().to_path_buf(), process.clone());
    // The output workspace is not in the configuration: an admin creates it through the
    // API, and the workers find it in the job store.
    let app = spawn_app_with(move |s| {
        s.auth.admin_token = ADMIN.to_string();
        s.catalog.images = vec![image];
        s.workspaces
            .insert("in-host".into(), WorkspaceSpec::host("", host_path));
        s.processes.entry(process_id).or_default().output_workspace = "products".into();
    })
    .await;
    let client = &app.client;
    let output = s3_broker(&endpoint, "ades-test-out", &format!("presign-{run}"));
    let mut products =
        serde_json::to_value(WorkspaceSpec::with_broker("products", output.clone())).unwrap();
    products["presigned_url_seconds"] = json!(60);
    let created = client
        .post(app.url("/workspaces"))
        .bearer_auth(ADMIN)
        .json(&products)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let bucket = ades::storage::s3::S3Broker::from_spec(&output).unwrap();

    let execute = app.url(&format!("/processes/{process}/execution"));
    let request = json!({
        "inputs": {"INPUT": {"href": "workspace://in-host/in.txt"}},
        "outputs": {"OUT": {"transmissionMode": "reference"}},
        "response": "document",
    });
    let run_job = || async {
        let job_url = crate::support::submit_async(client, &execute, &request).await;
        let status = wait_final(client, &job_url, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{status:#}");
        let results = get_json(client, &format!("{job_url}/results")).await;
        let link = results["OUT"]["href"].as_str().unwrap().to_string();
        let job_id = status["jobID"].as_str().unwrap().to_string();
        let stored = bucket.list("").await.unwrap();
        let product = stored
            .iter()
            .find(|o| o.path.contains(&job_id))
            .expect("the product is in the bucket")
            .path
            .clone();
        (job_url, link, product)
    };

    let (job_url, link, product) = run_job().await;
    assert!(link.starts_with(&endpoint), "not presigned: {link}");
    assert!(link.contains("X-Amz-Signature"), "{link}");
    let direct = reqwest::get(&link).await.unwrap();
    assert_eq!(direct.status(), StatusCode::OK);
    assert_eq!(direct.text().await.unwrap(), "presign me\ncopied\n");
    let dismissed = client.delete(&job_url).send().await.unwrap();
    assert_eq!(dismissed.status(), StatusCode::OK);
    assert!(
        bucket.stat(&product).await.is_ok(),
        "deleted without delete_on_dismiss"
    );

    let patched = client
        .patch(app.url("/workspaces/products"))
        .bearer_auth(ADMIN)
        .json(&json!({"delete_on_dismiss": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let (job_url, _, product) = run_job().await;
    let dismissed = client.delete(&job_url).send().await.unwrap();
    assert_eq!(dismissed.status(), StatusCode::OK);
    assert!(
        matches!(
            bucket.stat(&product).await,
            Err(ades::storage::StorageError::NotFound(_))
        ),
        "kept despite delete_on_dismiss"
    );
    app.stop().await;
}

#[test]
fn the_cli_creates_lists_and_shows_workspaces_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("raw.json");
    std::fs::write(
        &file,
        json!({
            "title": "Raw Source",
            "configuration": {"broker": {"type": "s3", "bucket_name": "raw",
                "credentials": {"access_key_id": "AKIAEXAMPLE", "secret_access_key": SECRET}}}
        })
        .to_string(),
    )
    .unwrap();
    let data_dir = data.to_str().unwrap();
    let created = crate::support::ades(&[
        "workspaces",
        "--data-dir",
        data_dir,
        "create",
        file.to_str().unwrap(),
    ]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(created.stderr.contains("raw-source"), "{}", created.stderr);
    let again = crate::support::ades(&[
        "workspaces",
        "--data-dir",
        data_dir,
        "create",
        file.to_str().unwrap(),
    ]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let listed = crate::support::ades(&["workspaces", "--data-dir", data_dir, "list", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let list: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(list[0]["name"], "raw-source");
    let shown = crate::support::ades(&["workspaces", "--data-dir", data_dir, "show", "raw-source"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for output in [
        &created.stdout,
        &created.stderr,
        &listed.stdout,
        &shown.stdout,
    ] {
        assert!(!output.contains(SECRET), "a secret was printed: {output}");
    }
    assert!(shown.stdout.contains("<hidden>"), "{}", shown.stdout);
}

#[tokio::test]
async fn a_partial_input_of_a_host_workspace_is_mounted_in_place_not_copied() {
    use std::os::unix::fs::MetadataExt;
    let process = "ades-it-workspace-partial";
    let manifest = json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": process, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "Partial", "description": "Reads the first bytes of INPUT",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 30,
            "interface": {
                "command": "${INPUT} ${OUTPUT_DIR}",
                "inputs": {"files": [{"name": "INPUT", "partial": true}]},
                "outputs": {"files": [{"name": "OUT", "pattern": "out-*", "mediaType": "text/plain"}]}
            }
        }
    });
    // The job writes the inode of the file it was given and its first 5 bytes.
    let image = build_seed_image(
        &manifest,
        Some("stat -c %i \"$1\" > \"$2/out-read.txt\"\nhead -c 5 \"$1\" >> \"$2/out-read.txt\"\n"),
    );
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(host_dir.path().join("scenes")).unwrap();
    let scene = host_dir.path().join("scenes/scene.bin");
    std::fs::write(&scene, "HEAD-and-a-long-tail").unwrap();
    // Readable by the container's user (10001 when the tests run as root).
    std::fs::set_permissions(
        host_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let inode = std::fs::metadata(&scene).unwrap().ino();
    let jobs_root = tempfile::tempdir().unwrap();
    let (host_path, root) = (
        host_dir.path().to_path_buf(),
        jobs_root.path().to_path_buf(),
    );
    let app = spawn_app_with(move |s| {
        s.catalog.images = vec![image];
        s.workspace.root = root;
        s.workspaces
            .insert("in-host".into(), WorkspaceSpec::host("", host_path));
    })
    .await;
    let client = &app.client;
    let request = json!({
        "inputs": {"INPUT": {"href": "workspace://in-host/scenes/scene.bin"}},
        "outputs": {"OUT": {"transmissionMode": "value"}},
        "response": "document",
    });
    let job_url = crate::support::submit_async(
        client,
        &app.url(&format!("/processes/{process}/execution")),
        &request,
    )
    .await;
    let status = wait_final(client, &job_url, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let results = get_json(client, &format!("{job_url}/results")).await;
    let read = results["OUT"]["value"].as_str().unwrap().to_string();
    assert_eq!(read, format!("{inode}\nHEAD-"), "the job saw another file");
    let job_id = status["jobID"].as_str().unwrap();
    let staged = jobs_root.path().join(job_id).join("inputs");
    let copies: Vec<_> = walk(&staged);
    assert!(copies.is_empty(), "the input was copied: {copies:?}");
    app.stop().await;
}

/// The regular files under `dir` (none when it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
