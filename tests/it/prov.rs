//! Job provenance (README, "Provenance") over real HTTP, a real container and real SQLite:
//! a job with a file input and a file output runs; its record is fetched as PROV-JSON and
//! PROV-N, read with the Python `prov` library (the PROV-N must be what the library writes
//! for the PROV-JSON), and its digests and sizes checked against sha256 of the real input
//! and output bytes computed here; the resources the container used are there. With
//! authentication on, another user cannot read the record, the admin can; a job without a
//! record says why.

use crate::support::{ades, build_seed_image, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::Duration;

const ADMIN_TOKEN: &str = "prov-admin-token";

/// The Python that reads PROV (the test script installs `prov` into its venv).
fn python() -> String {
    let python = std::env::var("ADES_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", "import prov.model"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{python} cannot import prov: run the tests through scripts/test-all.sh, or pip \
         install prov into ADES_TEST_PYTHON"
    );
    python
}

/// Reads `prov_json` with the `prov` library: what it writes as PROV-N, and each record
/// as it understood it (elements by id with their attributes as Python type and text;
/// relation counts by PROV type).
fn read_with_prov_library(python: &str, prov_json: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    std::fs::write(&path, prov_json).unwrap();
    let script = r#"
import json, sys
import prov
doc = prov.read(sys.argv[1], format="json")
out = {"provn": doc.get_provn(), "elements": {}, "relations": {}}
for record in doc.get_records():
    kind = str(record.get_type())
    if record.is_element():
        attributes = {}
        for name, value in record.attributes:
            attributes.setdefault(str(name), []).append([type(value).__name__, str(value)])
        out["elements"][str(record.identifier)] = {"kind": kind, "attributes": attributes}
    else:
        out["relations"][kind] = out["relations"].get(kind, 0) + 1
print(json.dumps(out))
"#;
    let output = Command::new(python)
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "the prov library cannot read the record: {}\n{prov_json}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script's JSON")
}

/// A Seed image with a file input `INPUT` and a file output `RESULT` (`result-*`): it
/// burns some CPU, writes the input upper-cased as `result-upper.txt` and stays up long
/// enough for the engine to sample its resources (about once a second).
fn prov_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let manifest = json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "ades-it-prov", "jobVersion": "1.2.0", "packageVersion": "1.0.0",
                    "title": "Provenance", "description": "Upper-cases INPUT",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 60,
                    "interface": {
                        "command": "${INPUT} ${OUTPUT_DIR}",
                        "inputs": {"files": [{"name": "INPUT", "mediaTypes": ["text/plain"]}]},
                        "outputs": {"files": [{"name": "RESULT", "pattern": "result-*",
                            "mediaType": "text/plain"}]}
                    }
                }
            });
            let script = "i=0\nwhile [ $i -lt 200000 ]; do i=$((i+1)); done\n\
                 tr a-z A-Z < \"$1\" > \"$2/result-upper.txt\"\nsleep 3\n";
            build_seed_image(&manifest, Some(script))
        })
        .clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GET with `key` as the caller (`None`: anonymous) and `accept`.
async fn get(
    app: &crate::app::TestApp,
    path: &str,
    key: Option<&str>,
    accept: &str,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).header("accept", accept);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.expect("GET")
}

async fn wait_final(app: &crate::app::TestApp, path: &str, key: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let status: Value = get(app, path, Some(key), "application/json")
            .await
            .json()
            .await
            .unwrap();
        if ["successful", "failed", "dismissed"].contains(&status["status"].as_str().unwrap()) {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "{status:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An API key for `user` made with the CLI.
fn key_for(database_url: &str, user: &str) -> String {
    let made = ades(&[
        "keys",
        "create",
        "--database-url",
        database_url,
        "--user",
        user,
        "--role",
        "user",
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    made.stdout.lines().next().unwrap().trim().to_string()
}

/// The one attribute `name` of element `id` as the library read it: (Python type, text).
fn attribute(read: &Value, id: &str, name: &str) -> (String, String) {
    let values = &read["elements"][id]["attributes"][name];
    assert_eq!(
        values.as_array().map(Vec::len),
        Some(1),
        "{id} {name}: {values}\n{read:#}"
    );
    (
        values[0][0].as_str().unwrap().to_string(),
        values[0][1].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_records_what_produced_its_outputs_and_only_its_owner_reads_it() {
    let python = python();
    let image = prov_image();
    let db_dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", db_dir.path().join("ades.db").display());
    let app = spawn_app_with(|s| {
        s.auth.mode = ades::config::AuthMode::On;
        s.auth.admin_token = ADMIN_TOKEN.to_string();
        s.database.url = database_url.clone();
    })
    .await;
    let alice = key_for(&database_url, "alice");
    let bob = key_for(&database_url, "bob");

    let input = "Provenance, please: où sont les neiges d'antan?\n";
    let response = app
        .client
        .post(app.url("/processes/ades-it-prov/execution"))
        .bearer_auth(&alice)
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"INPUT": {"value": input, "mediaType": "text/plain"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    let job_url = response.headers()["location"].to_str().unwrap().to_string();
    let job = job_url.rsplit('/').next().unwrap().to_string();
    let prov_path = format!("/jobs/{job}/prov");

    // Before its run ends there is no record, and the answer says why.
    let early = get(&app, &prov_path, Some(&alice), "application/json").await;
    assert_eq!(early.status(), StatusCode::NOT_FOUND);
    let early: Value = early.json().await.unwrap();
    assert!(
        early["detail"].as_str().unwrap().contains(
            "no provenance record yet: it is recorded when the job's run ends (the job is"
        ),
        "{early:#}"
    );

    // Nor a link to one.
    let running: Value = get(
        &app,
        &format!("/jobs/{job}"),
        Some(&alice),
        "application/json",
    )
    .await
    .json()
    .await
    .unwrap();
    if ["accepted", "running"].contains(&running["status"].as_str().unwrap()) {
        assert!(
            !running.to_string().contains("prov#has_provenance"),
            "{running:#}"
        );
    }

    let status = wait_final(&app, &format!("/jobs/{job}"), &alice).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let link = status["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.w3.org/ns/prov#has_provenance")
        .unwrap_or_else(|| panic!("no provenance link: {status:#}"));
    assert_eq!(link["href"], app.url(&prov_path));
    let page = get(&app, &format!("/jobs/{job}"), Some(&alice), "text/html").await;
    assert!(page
        .text()
        .await
        .unwrap()
        .contains(&format!("href=\"../jobs/{job}/prov\"")));

    // PROV-JSON by default.
    let response = get(&app, &prov_path, Some(&alice), "*/*").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let prov_json = response.text().await.unwrap();
    let record: Value = serde_json::from_str(&prov_json).unwrap();

    // PROV-N, by ?f=provn and by Accept alike: exactly what the library writes for the
    // PROV-JSON it read.
    let read = read_with_prov_library(&python, &prov_json);
    for (query, accept) in [
        ("?f=provn", "application/json"),
        ("", "text/provenance-notation"),
    ] {
        let response = get(&app, &format!("{prov_path}{query}"), Some(&alice), accept).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/provenance-notation"));
        let provn = response.text().await.unwrap();
        assert_eq!(
            provn.trim_end(),
            read["provn"].as_str().unwrap().trim_end(),
            "our PROV-N differs from the library's for our PROV-JSON"
        );
    }

    // The input: its inline value's digest, and the file the container saw.
    let input_sha = sha256_hex(input.as_bytes());
    assert_eq!(
        attribute(&read, "job:input-INPUT-0", "ades:valueSha256").1,
        input_sha
    );
    let staged = "job:staged-INPUT-0";
    assert_eq!(attribute(&read, staged, "ades:sha256").1, input_sha);
    assert_eq!(
        attribute(&read, staged, "ades:sizeBytes"),
        ("int".to_string(), input.len().to_string())
    );
    assert_eq!(read["relations"]["prov:Usage"], 1, "{read:#}");
    assert_eq!(read["relations"]["prov:Derivation"], 1, "{read:#}");

    // The output: digest and size of the bytes served at its URL, media type, generated
    // by the job, attributed to alice.
    let output = "job:output-RESULT-0";
    let (_, url) = attribute(&read, output, "prov:location");
    assert_eq!(
        url,
        app.url(&format!("/jobs/{job}/outputs/result-upper.txt"))
    );
    let served = app
        .client
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), input.to_ascii_uppercase().as_bytes());
    assert_eq!(
        attribute(&read, output, "ades:sha256").1,
        sha256_hex(&served)
    );
    assert_eq!(
        attribute(&read, output, "ades:sizeBytes"),
        ("int".to_string(), served.len().to_string())
    );
    assert_eq!(attribute(&read, output, "ades:mediaType").1, "text/plain");
    assert_eq!(read["relations"]["prov:Generation"], 1, "{read:#}");
    assert_eq!(
        record["wasAttributedTo"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["prov:agent"],
        "job:user"
    );

    // The plan: the image the engine ran and the manifest its label carries.
    let plan = "job:process";
    let image_id = crate::support::docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    assert_eq!(attribute(&read, plan, "ades:imageId").1, image_id);
    assert_eq!(attribute(&read, plan, "ades:image").1, image);
    let label = crate::support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"com.ngageoint.seed.manifest\"}}",
        &image,
    ]);
    assert_eq!(
        attribute(&read, plan, "ades:manifestSha256").1,
        sha256_hex(label.as_bytes())
    );
    assert_eq!(attribute(&read, plan, "ades:processVersion").1, "1.2.0");
    // Repository digests as the engine has them: none for an image built here, and then
    // none in the record.
    let digests = crate::support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{join .RepoDigests \" \"}}",
        &image,
    ]);
    if digests.is_empty() {
        assert!(read["elements"][plan]["attributes"]["ades:repoDigests"].is_null());
    } else {
        assert_eq!(attribute(&read, plan, "ades:repoDigests").1, digests);
    }

    // The activity: times, status and the resources the container used.
    let run = &record["activity"]["job:run"];
    assert_eq!(run["ades:status"], "successful");
    assert!(run["prov:startTime"].as_str().unwrap() <= run["prov:endTime"].as_str().unwrap());
    let (kind, peak) = attribute(&read, "job:run", "ades:peakMemoryBytes");
    assert_eq!(kind, "int");
    let peak: u64 = peak.parse().unwrap();
    // More than nothing, less than the 2 GiB default limit.
    assert!(peak > 0 && peak < 2 << 30, "peak memory {peak}");
    let (_, cpu) = attribute(&read, "job:run", "ades:cpuTimeNanoseconds");
    let cpu: u64 = cpu.parse().unwrap();
    // The loop takes some CPU; the job lived a few seconds on at most one CPU.
    assert!(cpu > 1_000_000 && cpu < 60_000_000_000, "cpu time {cpu} ns");

    // The agents: ades (version, host) on behalf of alice.
    assert_eq!(
        attribute(&read, "job:ades", "ades:version").1,
        env!("CARGO_PKG_VERSION")
    );
    assert!(!attribute(&read, "job:ades", "ades:host").1.is_empty());
    assert_eq!(attribute(&read, "job:user", "ades:user").1, "alice");
    assert_eq!(read["relations"]["prov:Delegation"], 1, "{read:#}");

    // Another user cannot read it (nor learn it exists); the admin can; nobody without a
    // credential.
    let answer = get(&app, &prov_path, Some(&bob), "application/json").await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let answer: Value = answer.json().await.unwrap();
    assert!(
        !answer.to_string().contains("provenance record"),
        "{answer:#}"
    );
    let answer = get(&app, &prov_path, Some(ADMIN_TOKEN), "application/json").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.text().await.unwrap(), prov_json);
    let answer = get(&app, &prov_path, None, "application/json").await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    // A bad encoding is a 400 that names the good ones.
    let answer = get(&app, &format!("{prov_path}?f=xml"), Some(&alice), "*/*").await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.unwrap().contains("f=provn"));

    // A job dismissed before its run ended has none, and says so.
    let response = app
        .client
        .post(app.url("/processes/ades-it-prov/execution"))
        .bearer_auth(&alice)
        .header("prefer", "respond-async")
        .json(&json!({"inputs": {"INPUT": {"value": "x", "mediaType": "text/plain"}}}))
        .send()
        .await
        .unwrap();
    let dismissed_url = response.headers()["location"].to_str().unwrap().to_string();
    let dismissed = dismissed_url.rsplit('/').next().unwrap().to_string();
    let answer = app
        .client
        .delete(&dismissed_url)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = get(
        &app,
        &format!("/jobs/{dismissed}/prov"),
        Some(&alice),
        "*/*",
    )
    .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let answer: Value = answer.json().await.unwrap();
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("dismissed before its run ended, so nothing was produced to record"),
        "{answer:#}"
    );

    // A job that ended before records were kept (its row is gone, as it never was then).
    let pool = sqlx::SqlitePool::connect(&database_url).await.unwrap();
    sqlx::query("DELETE FROM job_provenance WHERE job_id = ?1")
        .bind(&job)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let answer = get(&app, &prov_path, Some(&alice), "*/*").await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let answer: Value = answer.json().await.unwrap();
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("or before this server kept provenance records. Run it again"),
        "{answer:#}"
    );

    app.stop().await;
}
