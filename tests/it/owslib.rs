//! OWSLib, the Python WPS client most GIS scripts use, against a live server: runs
//! `examples/clients/owslib_demo.py` (GetCapabilities, DescribeProcess, a synchronous and an
//! asynchronous Execute with statusLocation polling and a downloaded reference).
//!
//! The Python comes from `ADES_TEST_PYTHON` (the test script makes a venv with OWSLib), else
//! `python3` when it can import `owslib`. Without either the test fails and says how to
//! install OWSLib: a skipped client test would hide a broken façade.

use crate::support::{example_image, repo_root, spawn_app};
use std::process::Command;

const INSTALL: &str = "OWSLib is needed for this test: python3 -m venv /tmp/owslib-venv && \
     /tmp/owslib-venv/bin/pip install OWSLib, then run the tests with \
     ADES_TEST_PYTHON=/tmp/owslib-venv/bin/python";

/// The Python interpreter with OWSLib, or the reason there is none.
fn python_with_owslib() -> Result<String, String> {
    let imports = |python: &str| {
        Command::new(python)
            .args(["-c", "import owslib.wps"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if let Ok(python) = std::env::var("ADES_TEST_PYTHON") {
        return if imports(&python) {
            Ok(python)
        } else {
            Err(format!(
                "ADES_TEST_PYTHON={python} cannot import owslib.wps. {INSTALL}"
            ))
        };
    }
    if imports("python3") {
        return Ok("python3".to_string());
    }
    Err(format!(
        "ADES_TEST_PYTHON is not set and python3 cannot import owslib. {INSTALL}"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owslib_demo_runs_against_the_server() {
    let python = python_with_owslib().unwrap_or_else(|why| panic!("{why}"));
    example_image("echo");
    example_image("io-demo");
    let app = spawn_app().await;
    let script = repo_root().join("examples/clients/owslib_demo.py");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python)
            .arg(&script)
            .arg(&address)
            .output()
            .expect("run the OWSLib demo")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "owslib_demo.py failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("echo said: ['hello from OWSLib']"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    app.stop().await;
}
