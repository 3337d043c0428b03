//! The project's own OGC API - Processes conformance suite (conformance/) run against a live
//! `ades serve` with real Seed containers: every assertion must pass, none may be skipped.

use crate::support::{example_image, shell_job_image, spawn_app};
use conformance::{run_suite, summary_line, EchoProcess, SlowProcess, SuiteConfig, Verdict};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn ades_passes_the_ogc_api_processes_conformance_suite() {
    example_image("echo");
    shell_job_image();
    let app = spawn_app().await;
    let outcomes = run_suite(&SuiteConfig {
        base: app.address.clone(),
        echo: Some(EchoProcess {
            process: "echo".into(),
            input: "MESSAGE".into(),
            output: "ECHOED".into(),
        }),
        slow: Some(SlowProcess {
            process: "ades-it-shell".into(),
            inputs: serde_json::json!({
                "SCRIPT": "sleep 4 && touch $OUTPUT_DIR/one-x && echo '{\"COUNT\": 0}' > $OUTPUT_DIR/seed.outputs.json"
            }),
        }),
        job_timeout: Duration::from_secs(120),
    })
    .await;
    for outcome in &outcomes {
        println!("{outcome}");
    }
    println!("{}", summary_line(&outcomes));
    let not_passed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .map(|o| o.to_string())
        .collect();
    assert!(not_passed.is_empty(), "{}", not_passed.join("\n"));
    app.stop().await;
}
