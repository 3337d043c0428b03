//! Validating our XML documents against the official schemas, offline: `xmllint` with the
//! XML catalog in `xsd/catalog.xml` (which maps the schemas' absolute locations to the
//! local copies).

use crate::support::repo_root;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// Which schema a document must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // Each test module uses the variants of its WPS version.
pub enum Schema {
    /// Every WPS 2.0 document (`wps:Capabilities`, `wps:ProcessOfferings`, `wps:Result`,
    /// `wps:StatusInfo`, requests).
    Wps2,
    /// Every WPS 1.0.0 document (`wps:Capabilities`, `wps:ProcessDescriptions`,
    /// `wps:ExecuteResponse`, requests).
    Wps1,
    /// An OWS 2.0 `ows:ExceptionReport` (WPS 2.0 errors).
    Ows2Exception,
    /// An OWS 1.1 `ows:ExceptionReport` (WPS 1.0.0 errors).
    Ows11Exception,
}

impl Schema {
    fn path(self) -> PathBuf {
        let relative = match self {
            Schema::Wps2 => "xsd/wps/2.0/wps.xsd",
            Schema::Wps1 => "xsd/wps/1.0.0/wpsAll.xsd",
            Schema::Ows2Exception => "xsd/ows/2.0/owsExceptionReport.xsd",
            Schema::Ows11Exception => "xsd/ows/1.1.0/owsExceptionReport.xsd",
        };
        repo_root().join(relative)
    }
}

/// Fails the test with xmllint's message when `xml` does not validate against `schema`.
pub fn assert_valid_xml(xml: &str, schema: Schema) {
    let errors = schema_errors(xml, schema);
    assert!(
        errors.is_empty(),
        "the document does not validate against {:?}:\n{}\n--- document ---\n{xml}",
        schema,
        errors.join("\n")
    );
}

/// The validity errors xmllint reports for `xml` against `schema` (empty: valid), each
/// without the temporary file's name and line.
pub fn schema_errors(xml: &str, schema: Schema) -> Vec<String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml.as_bytes()).expect("write document");
    file.flush().expect("flush document");
    let output = Command::new("xmllint")
        .args(["--noout", "--nonet", "--catalogs", "--schema"])
        .arg(schema.path())
        .arg(file.path())
        .env("XML_CATALOG_FILES", repo_root().join("xsd/catalog.xml"))
        .output()
        .expect("run xmllint (is libxml2-utils installed?)");
    if output.status.success() {
        return Vec::new();
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<String> = stderr
        .lines()
        .filter(|line| line.contains("error"))
        .map(|line| match line.split_once(" : ") {
            Some((_, message)) => message.trim().to_string(),
            None => line.trim().to_string(),
        })
        .collect();
    // A failure without an error line (a broken schema, a crash) is still a failure.
    if errors.is_empty() {
        vec![stderr.trim().to_string()]
    } else {
        errors
    }
}

/// A job's failure text may hold characters XML 1.0 cannot carry (a stray control byte of
/// a container's output, a Seed error description): every WPS document about the job must
/// still be well-formed and valid. The job fails with a declared error whose title and
/// description hold such characters.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_a_job_message_keep_every_wps_document_valid() {
    let image = garbled_error_image();
    let app = crate::app::spawn_app().await;
    let response = app
        .client
        .post(app.url("/processes/ades-it-garbled/execution"))
        .header("Prefer", "respond-async")
        .json(&serde_json::json!({"inputs": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        201,
        "{image}: {}",
        response.text().await.unwrap()
    );
    let job = response.headers()["location"].to_str().unwrap().to_string();
    let status =
        crate::support::wait_final(&app.client, &job, std::time::Duration::from_secs(60)).await;
    assert_eq!(status["status"], "failed", "{status:#}");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains('\u{1}'),
        "the message keeps the character in JSON: {status:#}"
    );
    let id = job.rsplit('/').next().unwrap();
    let text = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let status_v2 = text(app.url(&format!(
        "/wps?service=WPS&version=2.0.0&request=GetStatus&jobId={id}"
    )))
    .await;
    assert_valid_xml(&status_v2, Schema::Wps2);
    let result_v2 = text(app.url(&format!(
        "/wps?service=WPS&version=2.0.0&request=GetResult&jobId={id}"
    )))
    .await;
    assert!(result_v2.contains("Garbled"), "{result_v2}");
    assert_valid_xml(&result_v2, Schema::Ows2Exception);
    let status_v1 = text(app.url(&format!("/wps/status/{id}"))).await;
    assert!(status_v1.contains("ProcessFailed"), "{status_v1}");
    assert!(
        status_v1.contains('\u{FFFD}'),
        "replaced, not dropped: {status_v1}"
    );
    assert_valid_xml(&status_v1, Schema::Wps1);
    app.stop().await;
}

/// A Seed image whose job exits 3, a declared error with control characters in its title
/// and description.
fn garbled_error_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            crate::support::busybox_image();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("Dockerfile"),
                "FROM ades-busybox:latest\nENTRYPOINT [\"/bin/sh\", \"-c\", \"exit 3\"]\n",
            )
            .unwrap();
            let manifest = serde_json::json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "ades-it-garbled", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                    "title": "Garbled", "description": "Fails with a garbled message",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 30,
                    "errors": [{
                        "code": 3, "name": "garbled", "category": "data",
                        "title": "Garbled \u{1} title",
                        "description": "bytes \u{0}\u{8}\u{1b}[31m red \u{1b}[0m, \u{FFFF} and \u{1}"
                    }]
                }
            });
            std::fs::write(dir.path().join("seed.manifest.json"), manifest.to_string()).unwrap();
            let built = crate::support::ades(&["seed", "build", "--json", dir.path().to_str().unwrap()]);
            assert_eq!(built.code, 0, "{}", built.stderr);
            "ades-it-garbled-1.0.0-seed:1.0.0".to_string()
        })
        .clone()
}
