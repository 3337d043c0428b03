//! Workflows from Scale recipes, on real containers: deploy a recipe, run it with fan-out
//! and fan-in (two steps at once), its outputs; a scattered step (one job per file, at
//! once); a step skipped by its condition; validation listing every problem; a failing step failing the workflow and
//! dismissing the rest; dismissing mid-way.

use crate::app::{spawn_app_with, TestApp};
use crate::support::build_seed_image;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) const TOKEN: &str = "workflow-admin-token";
pub(crate) const RECIPE: &str = "application/vnd.ades.recipe+json";

pub(crate) fn manifest(name: &str, command: &str, inputs: Value, outputs: Value) -> Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": name, "description": "workflow test step",
            "maintainer": {"name": "ades", "email": "ades@example.org"},
            "timeout": 120,
            "interface": {"command": command, "inputs": inputs, "outputs": outputs}
        }
    })
}

/// The three step images (built once): `ades-it-wf-split` copies IMAGE to LEFT and
/// RIGHT; `ades-it-wf-work` sleeps DELAY seconds (2 by default), then fails (exit 3) when
/// its PART holds "boom", else upper-cases PART into RESULT; `ades-it-wf-join` concatenates
/// A and B into JOINED.
pub(crate) fn step_images() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        build_seed_image(
            &manifest(
                "ades-it-wf-split",
                "${IMAGE} ${OUTPUT_DIR}",
                json!({"files": [{"name": "IMAGE"}]}),
                json!({"files": [{"name": "LEFT", "pattern": "left-*", "mediaType": "text/plain"},
                                 {"name": "RIGHT", "pattern": "right-*", "mediaType": "text/plain"}]}),
            ),
            Some("cat \"$1\" > \"$2/left-part.txt\"\ncat \"$1\" > \"$2/right-part.txt\"\n"),
        );
        build_seed_image(
            &manifest(
                "ades-it-wf-work",
                "${PART} ${OUTPUT_DIR} ${DELAY}",
                json!({"files": [{"name": "PART"}],
                       "json": [{"name": "DELAY", "type": "integer", "required": false}]}),
                json!({"files": [{"name": "RESULT", "pattern": "result-*", "mediaType": "text/plain"}]}),
            ),
            Some(
                "sleep ${3:-2}\n\
                 if grep -q boom \"$1\"; then echo 'the part says boom' >&2; exit 3; fi\n\
                 tr a-z A-Z < \"$1\" > \"$2/result-up.txt\"\n",
            ),
        );
        build_seed_image(
            &manifest(
                "ades-it-wf-join",
                "${A} ${B} ${OUTPUT_DIR}",
                json!({"files": [{"name": "A"}, {"name": "B"}]}),
                json!({"files": [{"name": "JOINED", "pattern": "joined-*", "mediaType": "text/plain"}]}),
            ),
            Some("cat \"$1\" \"$2\" > \"$3/joined-all.txt\"\n"),
        );
    });
}

async fn workflow_app() -> TestApp {
    step_images();
    spawn_app_with(|settings| {
        settings.auth.admin_token = TOKEN.to_string();
        settings.queue.workers = 3;
        // A fixed number of workers: the overlap test needs two at once from the start.
        settings.queue.adaptive = false;
    })
    .await
}

pub(crate) fn job_node(job_type: &str, dependencies: &[&str], input: Value) -> Value {
    json!({
        "dependencies": dependencies.iter().map(|d| json!({"name": d})).collect::<Vec<_>>(),
        "input": input,
        "node_type": {"node_type": "job", "job_type_name": job_type,
                      "job_type_version": "1.0.0", "job_type_revision": 1}
    })
}

/// split → (left, right) → join; `left_delay` and `right_delay` are the work steps'
/// sleeps.
fn diamond(name: &str, left_delay: i64, right_delay: i64) -> Value {
    json!({
        "name": name,
        "title": "Split, work twice, join",
        "description": "A fan-out and fan-in recipe",
        "definition": {
            "input": {"files": [{"name": "IMAGE", "media_types": ["text/plain"], "required": true, "multiple": false}]},
            "nodes": {
                "split": job_node("ades-it-wf-split", &[], json!({"IMAGE": {"type": "recipe", "input": "IMAGE"}})),
                "left": job_node("ades-it-wf-work", &["split"], json!({
                    "PART": {"type": "dependency", "node": "split", "output": "LEFT"},
                    "DELAY": {"type": "literal", "value": left_delay}})),
                "right": job_node("ades-it-wf-work", &["split"], json!({
                    "PART": {"type": "dependency", "node": "split", "output": "RIGHT"},
                    "DELAY": {"type": "literal", "value": right_delay}})),
                "join": job_node("ades-it-wf-join", &["left", "right"], json!({
                    "A": {"type": "dependency", "node": "left", "output": "RESULT"},
                    "B": {"type": "dependency", "node": "right", "output": "RESULT"}})),
            }
        }
    })
}

pub(crate) async fn deploy(app: &TestApp, recipe: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/processes"))
        .bearer_auth(TOKEN)
        .header("content-type", RECIPE)
        .body(recipe.to_string())
        .send()
        .await
        .unwrap()
}

pub(crate) async fn submit(app: &TestApp, process: &str, content: &str) -> String {
    let response = app
        .client
        .post(app.url(&format!("/processes/{process}/execution")))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"IMAGE": content}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let document: Value = serde_json::from_str(&body).unwrap();
    document["jobID"].as_str().unwrap().to_string()
}

pub(crate) async fn job(app: &TestApp, id: &str) -> Value {
    app.client
        .get(app.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(crate) async fn wait_final(app: &TestApp, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let status = job(app, id).await;
        if ["successful", "failed", "dismissed"].contains(&status["status"].as_str().unwrap_or(""))
        {
            return status;
        }
        assert!(Instant::now() < deadline, "not final in time: {status:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The step jobs a workflow job's status links to: step name -> job id.
pub(crate) fn step_jobs(status: &Value) -> Vec<(String, String)> {
    status["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rel"] == "urn:ades:rel:step")
        .map(|l| {
            let title = l["title"].as_str().unwrap();
            let name = title.trim_start_matches("Step ").split(' ').next().unwrap();
            let id = l["href"].as_str().unwrap().rsplit('/').next().unwrap();
            (name.to_string(), id.to_string())
        })
        .collect()
}

fn seconds(text: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        text.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

#[tokio::test]
async fn a_recipe_fans_out_and_in_with_two_steps_at_once() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-diamond");
    let response = deploy(&app, &diamond(&name, 2, 2)).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let description: Value = app
        .client
        .get(app.url(&format!("/processes/{name}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        description["inputs"]["IMAGE"].is_object(),
        "{description:#}"
    );
    assert!(
        description["outputs"]["join.JOINED"].is_object(),
        "the outputs of the last step are exposed: {description:#}"
    );

    let id = submit(&app, &name, "hello\n").await;
    let done = wait_final(&app, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    assert!(
        done["message"].as_str().unwrap().contains("4 of 4 steps"),
        "{done:#}"
    );

    let steps = step_jobs(&done);
    let mut names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["join", "left", "right", "split"], "{done:#}");
    let mut times = std::collections::BTreeMap::new();
    for (step, step_id) in &steps {
        let status = job(&app, step_id).await;
        assert_eq!(status["status"], "successful", "{status:#}");
        let parent = status["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "urn:ades:rel:workflow")
            .expect("a link to the workflow job");
        assert!(
            parent["href"].as_str().unwrap().ends_with(&id),
            "{status:#}"
        );
        times.insert(
            step.clone(),
            (seconds(&status["started"]), seconds(&status["finished"])),
        );
    }
    let (left, right) = (times["left"], times["right"]);
    assert!(
        left.0 < right.1 && right.0 < left.1,
        "left {left:?} and right {right:?} ran at once"
    );
    assert!(times["split"].1 <= left.0 && left.1 <= times["join"].0);

    let results: Value = app
        .client
        .get(app.url(&format!("/jobs/{id}/results")))
        .header("Prefer", "return=representation")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null);
    let joined = app
        .client
        .get(app.url(&format!("/jobs/{id}/outputs/join/joined-all.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), StatusCode::OK, "results: {results:#}");
    assert_eq!(joined.text().await.unwrap(), "HELLO\nHELLO\n");

    // The job list links each step to its workflow.
    let list: Value = app
        .client
        .get(app.url("/jobs?limit=20"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let linked = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| {
            j["links"].as_array().unwrap().iter().any(|l| {
                l["rel"] == "urn:ades:rel:workflow" && l["href"].as_str().unwrap().ends_with(&id)
            })
        })
        .count();
    assert_eq!(linked, 4, "{list:#}");
    app.stop().await;
}

#[tokio::test]
async fn a_scattered_step_runs_once_per_file_at_once() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-scatter");
    let mut work = job_node(
        "ades-it-wf-work",
        &[],
        json!({"PART": {"type": "recipe", "input": "FILES"},
               "DELAY": {"type": "literal", "value": 2}}),
    );
    work["scatter"] = json!("PART");
    let recipe = json!({
        "name": name,
        "title": "Upper-case each file",
        "definition": {
            "input": {"files": [{"name": "FILES", "media_types": ["text/plain"],
                                 "required": true, "multiple": true}]},
            "nodes": {"work": work}
        }
    });
    let response = deploy(&app, &recipe).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .client
        .post(app.url(&format!("/processes/{name}/execution")))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"FILES": ["one\n", "two\n", "three\n"]}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_final(&app, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    // One child job per file, named after the step and the file's place.
    let steps = step_jobs(&done);
    let mut names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["work#0", "work#1", "work#2"], "{done:#}");
    let mut times = Vec::new();
    for (_, step_id) in &steps {
        let status = job(&app, step_id).await;
        assert_eq!(status["status"], "successful", "{status:#}");
        times.push((seconds(&status["started"]), seconds(&status["finished"])));
    }
    // Three workers, three jobs of 2 s each: they overlap.
    let (a, b) = (times[0], times[1]);
    assert!(a.0 < b.1 && b.0 < a.1, "{times:?}");
    // Each job's result, in the order of the files.
    for (n, expected) in ["ONE\n", "TWO\n", "THREE\n"].iter().enumerate() {
        let response = app
            .client
            .get(app.url(&format!("/jobs/{id}/outputs/work/{n}/result-up.txt")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "work/{n}");
        assert_eq!(response.text().await.unwrap(), *expected);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_step_whose_condition_is_false_is_skipped() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-when");
    let mut second = job_node(
        "ades-it-wf-work",
        &["first"],
        json!({"PART": {"type": "dependency", "node": "first", "output": "RESULT"},
               "DELAY": {"type": "literal", "value": 0}}),
    );
    second["when"] = json!({"type": "recipe", "input": "AGAIN"});
    let recipe = json!({
        "name": name,
        "title": "Upper-case, and again when asked",
        "definition": {
            "input": {"files": [{"name": "IMAGE", "media_types": ["text/plain"],
                                 "required": true, "multiple": false}],
                      "json": [{"name": "AGAIN", "type": "boolean", "required": true}]},
            "nodes": {
                "first": job_node("ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"},
                    "DELAY": {"type": "literal", "value": 0}})),
                "second": second,
            }
        }
    });
    let response = deploy(&app, &recipe).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for again in [false, true] {
        let response = app
            .client
            .post(app.url(&format!("/processes/{name}/execution")))
            .header("Prefer", "respond-async")
            .json(&json!({"inputs": {"IMAGE": "abc\n", "AGAIN": again}}))
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        let id = serde_json::from_str::<Value>(&body).unwrap()["jobID"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_string();
        let done = wait_final(&app, &id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "successful", "{done:#}");
        assert!(
            done["message"].as_str().unwrap().contains("2 of 2 steps"),
            "{done:#}"
        );
        let mut names: Vec<String> = step_jobs(&done).into_iter().map(|(n, _)| n).collect();
        names.sort();
        let expected: &[&str] = if again {
            &["first", "second"]
        } else {
            &["first"]
        };
        assert_eq!(names, expected, "AGAIN={again}: {done:#}");
        let second = app
            .client
            .get(app.url(&format!("/jobs/{id}/outputs/second/result-up.txt")))
            .send()
            .await
            .unwrap();
        assert_eq!(second.status().is_success(), again, "AGAIN={again}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_bad_recipe_is_refused_with_every_problem() {
    let app = workflow_app().await;
    let recipe = json!({
        "name": crate::deploy::unique("wf-bad"),
        "title": "Bad",
        "definition": {
            "input": {"files": [{"name": "IMAGE", "multiple": true}],
                      "json": [{"name": "N", "type": "integer"}]},
            "nodes": {
                "a": job_node("ades-it-wf-work", &["b"], json!({
                    "PART": {"type": "dependency", "node": "b", "output": "RESULT"}})),
                "b": job_node("ades-it-wf-work", &["a"], json!({
                    "PART": {"type": "dependency", "node": "a", "output": "RESULT"}})),
                "c": job_node("no-such-process", &[], json!({})),
                "d": job_node("ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "N"}})),
                "e": job_node("ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"}})),
                "f": job_node("ades-it-wf-join", &[], json!({
                    "A": {"type": "recipe", "input": "NOPE"}})),
            }
        }
    });
    let response = deploy(&app, &recipe).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let exception: Value = response.json().await.unwrap();
    let detail = exception["detail"].as_str().unwrap();
    for expected in [
        "cycle",
        "\"no-such-process\", which is not offered here",
        "a json integer cannot feed an input taking one file",
        "several files (multiple) cannot feed an input taking one file",
        "workflow input \"NOPE\"",
        "required input \"B\" of process \"ades-it-wf-join\" is not connected",
    ] {
        assert!(
            detail.contains(expected),
            "{expected:?} missing: {exception:#}"
        );
    }
    assert!(exception["type"].as_str().is_some(), "{exception:#}");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_step_fails_the_workflow_and_dismisses_the_rest() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-fail");
    // Both branches get "boom", but the right one sleeps first: the left fails at once
    // while the right is still running.
    let recipe = diamond(&name, 0, 60);
    assert_eq!(deploy(&app, &recipe).await.status(), StatusCode::CREATED);
    let id = submit(&app, &name, "boom\n").await;
    // The right branch sleeps before it checks; the left one fails at once.
    let done = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "failed", "{done:#}");
    let message = done["message"].as_str().unwrap();
    assert!(message.contains("step left"), "{message}");
    let steps = step_jobs(&done);
    let status_of = |step: &str| {
        steps
            .iter()
            .find(|(n, _)| n == step)
            .map(|(_, id)| id.clone())
    };
    let left = job(&app, &status_of("left").unwrap()).await;
    assert_eq!(left["status"], "failed");
    // Right was running (or waiting) when left failed: dismissed, not left to run.
    let right = wait_final(&app, &status_of("right").unwrap(), Duration::from_secs(15)).await;
    assert_eq!(right["status"], "dismissed", "{right:#}");
    assert!(status_of("join").is_none(), "join never started: {done:#}");
    app.stop().await;
}

#[tokio::test]
async fn dismissing_a_workflow_dismisses_every_step_and_stops_their_containers() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-dismiss");
    assert_eq!(
        deploy(&app, &diamond(&name, 60, 60)).await.status(),
        StatusCode::CREATED
    );
    let id = submit(&app, &name, "slow\n").await;
    // Wait until both work steps run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = job(&app, &id).await;
        if status["message"]
            .as_str()
            .unwrap_or("")
            .contains("2 running")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the branches never ran: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = app
        .client
        .delete(app.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let dismissed_at = Instant::now();
    let status = job(&app, &id).await;
    assert_eq!(status["status"], "dismissed");
    let steps = step_jobs(&status);
    assert_eq!(
        steps.len(),
        3,
        "split, left and right were submitted: {status:#}"
    );
    for (step, step_id) in &steps {
        let step_status = job(&app, step_id).await;
        let expected = if step == "split" {
            "successful"
        } else {
            "dismissed"
        };
        assert_eq!(step_status["status"], expected, "{step}: {step_status:#}");
    }
    // Every container of the workflow's steps is gone within 10 s.
    loop {
        let running: Vec<String> = steps
            .iter()
            .filter(|(step, id)| {
                step != "split"
                    && !crate::support::docker(&[
                        "ps",
                        "-a",
                        "-q",
                        "--filter",
                        &format!("label=org.ades.job-id={id}"),
                    ])
                    .trim()
                    .is_empty()
            })
            .map(|(step, _)| step.clone())
            .collect();
        if running.is_empty() {
            break;
        }
        assert!(
            dismissed_at.elapsed() < Duration::from_secs(10),
            "containers of steps {running:?} still there 10 s after the dismissal"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.stop().await;
}

/// A Seed image for the kill test: appends "started" to `/markers/$NAME` (mount
/// `MARKERS`) each time its container starts, sleeps 2 s, then copies IN to OUT.
pub(crate) fn marker_step_image() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let mut manifest = manifest(
            "ades-it-wf-mark",
            "${IN} ${OUTPUT_DIR} ${NAME}",
            json!({"files": [{"name": "IN"}], "json": [{"name": "NAME", "type": "string"}]}),
            json!({"files": [{"name": "OUT", "pattern": "out-*", "mediaType": "text/plain"}]}),
        );
        manifest["job"]["interface"]["mounts"] =
            json!([{"name": "MARKERS", "path": "/markers", "mode": "rw"}]);
        build_seed_image(
            &manifest,
            Some(
                "echo started >> \"/markers/$3\"\nsleep 2\n\
                 cat \"$1\" > \"$2/out-$3.txt\"\necho \"$3\" >> \"$2/out-$3.txt\"\n",
            ),
        );
    });
}

/// `ades serve` as a child process (so it can be SIGKILLed) on a fixed port and data
/// directory.
pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) port: u16,
    pub(crate) data_dir: std::path::PathBuf,
    pub(crate) config: std::path::PathBuf,
    pub(crate) log: std::path::PathBuf,
    pub(crate) child: Option<std::process::Child>,
}

impl Server {
    pub(crate) fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_ades"))
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .env("ADES__QUEUE__WORKERS", "2")
            .env("ADES__QUEUE__LEASE_SECONDS", "4")
            .env("ADES__QUEUE__HEARTBEAT_SECONDS", "1")
            .env("ADES__QUEUE__POLL_SECONDS", "1")
            .env("ADES__CATALOG__RESCAN_SECONDS", "0")
            .env("ADES__AUTH__ADMIN_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ades serve");
        self.child = Some(child);
    }

    pub(crate) async fn wait_until_up(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{}/", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sigkill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_survives_a_sigkill_of_its_server_and_runs_each_step_once() {
    marker_step_image();
    let root = tempfile::tempdir().unwrap();
    let markers = root.path().join("markers");
    std::fs::create_dir(&markers).unwrap();
    std::fs::set_permissions(
        &markers,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let config = root.path().join("ades.toml");
    std::fs::write(
        &config,
        format!(
            "[processes.ades-it-wf-mark.mounts]\nMARKERS = {:?}\n",
            markers.to_str().unwrap()
        ),
    )
    .unwrap();
    let port = crate::support::free_port();
    let mut server = Server {
        base: format!("http://127.0.0.1:{port}"),
        port,
        data_dir: root.path().join("data"),
        config,
        log: root.path().join("serve.log"),
        child: None,
    };
    std::fs::create_dir(&server.data_dir).unwrap();
    let client = reqwest::Client::new();
    server.start();
    server.wait_until_up(&client).await;

    // s1 -> s2 -> s3 -> s4, each a container of 2 s.
    let mut nodes = serde_json::Map::new();
    for n in 1..=4 {
        let input = if n == 1 {
            json!({"type": "recipe", "input": "IMAGE"})
        } else {
            json!({"type": "dependency", "node": format!("s{}", n - 1), "output": "OUT"})
        };
        let before = format!("s{}", n - 1);
        let dependencies: Vec<&str> = if n == 1 {
            vec![]
        } else {
            vec![before.as_str()]
        };
        nodes.insert(
            format!("s{n}"),
            job_node(
                "ades-it-wf-mark",
                &dependencies,
                json!({"IN": input, "NAME": {"type": "literal", "value": format!("s{n}")}}),
            ),
        );
    }
    let name = crate::deploy::unique("wf-chain");
    let recipe = json!({
        "name": name,
        "title": "A chain of four",
        "definition": {"input": {"files": [{"name": "IMAGE"}]}, "nodes": nodes}
    });
    let deployed = client
        .post(format!("{}/processes", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", RECIPE)
        .body(recipe.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed.status(),
        StatusCode::CREATED,
        "{}",
        deployed.text().await.unwrap()
    );
    let submitted: Value = client
        .post(format!("{}/processes/{name}/execution", server.base))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"IMAGE": "chain\n"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = submitted["jobID"].as_str().expect("a job id").to_string();
    let status_url = format!("{}/jobs/{id}", server.base);

    // Kill the server while the second step runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = client
            .get(&status_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let message = status["message"].as_str().unwrap_or("");
        if message.starts_with("1 of 4 steps done, 1 running") {
            break;
        }
        assert!(Instant::now() < deadline, "s2 never ran: {status:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.sigkill();
    server.start();
    server.wait_until_up(&client).await;

    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let status: Value = client
            .get(&status_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ["successful", "failed", "dismissed"].contains(&status["status"].as_str().unwrap_or(""))
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the workflow did not end after the restart: {status:#}\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        done["status"],
        "successful",
        "{done:#}\n{}",
        server.log_text()
    );
    for n in 1..=4 {
        let marks = std::fs::read_to_string(markers.join(format!("s{n}"))).unwrap_or_default();
        assert_eq!(
            marks.lines().count(),
            1,
            "step s{n}'s container started {} times",
            marks.lines().count()
        );
    }
    let output = client
        .get(format!("{}/jobs/{id}/outputs/s4/out-s4.txt", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(output, "chain\ns1\ns2\ns3\ns4\n");
}

#[tokio::test]
async fn the_example_recipe_deploys_runs_and_undeploys() {
    crate::support::example_image("io-demo");
    let app = spawn_app_with(|settings| {
        settings.auth.admin_token = "secret".to_string();
    })
    .await;
    let script = crate::support::repo_root().join("examples/workflows/run.sh");
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
    println!("{stdout}");
    for expected in [
        "deploy: 201",
        "inputs: INPUT_FILE | outputs: left.OUTPUT_FILE, right.OUTPUT_FILE",
        "3 of 3 steps done",
        "Step first (successful)",
        "hello, recipe",
        "undeploy: 204",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing from:\n{stdout}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_recipe_deploys_through_wps_t_and_runs_through_wps_2() {
    let app = workflow_app().await;
    let name = crate::deploy::unique("wf-wps");
    let mut recipe = diamond(&name, 0, 0);
    recipe.as_object_mut().unwrap().remove("name");
    let deploy = format!(
        r#"<wps:DeployProcess service="WPS" version="2.0.0" xmlns:wps="http://www.opengis.net/wps/2.0"
             xmlns:ows="http://www.opengis.net/ows/2.0">
           <wps:ProcessOffering><wps:Process><ows:Identifier>{name}</ows:Identifier></wps:Process></wps:ProcessOffering>
           <wps:ExecutionUnit><![CDATA[{recipe}]]></wps:ExecutionUnit></wps:DeployProcess>"#
    );
    let wps = |body: String| {
        app.client
            .post(app.url("/wps"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/xml")
            .body(body)
            .send()
    };
    let answer = wps(deploy).await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    let execute = format!(
        r#"<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" xmlns:ows="http://www.opengis.net/ows/2.0"
             service="WPS" version="2.0.0" mode="sync" response="document">
           <ows:Identifier>{name}</ows:Identifier>
           <wps:Input id="IMAGE"><wps:Data mimeType="text/plain">wps</wps:Data></wps:Input>
           <wps:Output id="join.JOINED" transmission="value"/>
         </wps:Execute>"#
    );
    let answer = wps(execute).await.unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains("WPSWPS"),
        "the joined output of both branches: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_nested_execute_request_runs_its_inner_process_first() {
    let app = workflow_app().await;
    let inner = app.url("/processes/ades-it-wf-work");
    let response = app
        .client
        .post(app.url("/processes/ades-it-wf-join/execution"))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {
            "A": {"process": inner, "inputs": {"PART": "abc", "DELAY": 0},
                  "outputs": {"RESULT": {}}},
            "B": "xyz"
        }}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body:#}");
    let id = body["jobID"].as_str().unwrap().to_string();
    let done = wait_final(&app, &id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let mut steps: Vec<String> = step_jobs(&done).into_iter().map(|(n, _)| n).collect();
    steps.sort();
    assert_eq!(steps, ["main", "main-A"], "{done:#}");
    // Its one output, JOINED (the outer process's own id), is the raw result.
    let results = app
        .client
        .get(app.url(&format!("/jobs/{id}/results")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(results, "ABCxyz");
    let joined = app
        .client
        .get(app.url(&format!("/jobs/{id}/outputs/main/joined-all.txt")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(joined, "ABCxyz");

    // A process of a server that is not an allowed remote is refused, saying so.
    let response = app
        .client
        .post(app.url("/processes/ades-it-wf-join/execution"))
        .json(&json!({"inputs": {
            "A": {"process": "https://elsewhere.example/processes/x", "inputs": {}},
            "B": "xyz"
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("nor of an allowed remote server"), "{text}");
    app.stop().await;
}
