//! Remote processes (the EMS side), with two ades instances on loopback: instance A runs
//! the workflows and calls instance B, configured as `[remotes.b]`. A recipe with a branch
//! on B, a nested execute whose inner process runs on B, a deployed Part 3 workflow with a
//! step on B, a remote failure reaching the user, dismissing mid-way (the remote job is
//! dismissed too), and a SIGKILL of A while its remote step runs (each container once).

use crate::app::{spawn_app_with, TestApp};
use crate::workflows::{
    deploy, job, job_node, marker_step_image, step_images, step_jobs, submit, wait_final, Server,
    RECIPE, TOKEN,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Instance B: the remote, plain.
async fn remote_app() -> TestApp {
    step_images();
    spawn_app_with(|settings| {
        settings.queue.workers = 3;
        settings.queue.adaptive = false;
    })
    .await
}

/// Instance A, calling `remote` as `[remotes.b]` (loopback: allow_private_urls).
async fn orchestrator(remote: &TestApp) -> TestApp {
    let url = remote.address.clone();
    spawn_app_with(move |settings| {
        settings.auth.admin_token = TOKEN.to_string();
        settings.queue.workers = 3;
        settings.queue.adaptive = false;
        settings.queue.allow_private_urls = true;
        settings.remotes.insert(
            "b".to_string(),
            ades::config::RemoteSection {
                url,
                poll_seconds: 0.2,
                max_poll_seconds: 1.0,
                ..Default::default()
            },
        );
    })
    .await
}

/// Instance A calling `remote` as `[remotes.b]` with bearer `token`.
async fn orchestrator_with_token(remote: &TestApp, token: &str) -> TestApp {
    let (url, token) = (remote.address.clone(), token.to_string());
    spawn_app_with(move |settings| {
        settings.auth.admin_token = TOKEN.to_string();
        settings.queue.workers = 2;
        settings.queue.allow_private_urls = true;
        settings.remotes.insert(
            "b".to_string(),
            ades::config::RemoteSection {
                url,
                token,
                poll_seconds: 0.2,
                max_poll_seconds: 1.0,
                ..Default::default()
            },
        );
    })
    .await
}

/// B's jobs of `process`: (job id, status).
async fn remote_jobs(app: &TestApp, process: &str) -> Vec<(String, String)> {
    let list: Value = app
        .client
        .get(app.url("/jobs?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["processID"] == process)
        .map(|j| {
            (
                j["jobID"].as_str().unwrap().to_string(),
                j["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn output_text(app: &TestApp, job_id: &str, path: &str) -> String {
    let response = app
        .client
        .get(app.url(&format!("/jobs/{job_id}/outputs/{path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recipe_runs_one_branch_on_another_instance() {
    let b = remote_app().await;
    let a = orchestrator(&b).await;
    let name = crate::deploy::unique("wf-remote-diamond");
    let recipe = json!({
        "name": name,
        "title": "Split here, work here and there, join here",
        "definition": {
            "input": {"files": [{"name": "IMAGE", "required": true}]},
            "nodes": {
                "split": job_node("ades-it-wf-split", &[], json!({"IMAGE": {"type": "recipe", "input": "IMAGE"}})),
                "left": job_node("b:ades-it-wf-work", &["split"], json!({
                    "PART": {"type": "dependency", "node": "split", "output": "LEFT"},
                    "DELAY": {"type": "literal", "value": 2}})),
                "right": job_node("ades-it-wf-work", &["split"], json!({
                    "PART": {"type": "dependency", "node": "split", "output": "RIGHT"},
                    "DELAY": {"type": "literal", "value": 2}})),
                "join": job_node("ades-it-wf-join", &["left", "right"], json!({
                    "A": {"type": "dependency", "node": "left", "output": "RESULT"},
                    "B": {"type": "dependency", "node": "right", "output": "RESULT"}})),
            }
        }
    });
    let response = deploy(&a, &recipe).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let id = submit(&a, &name, "both ways\n").await;
    let done = wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    // One output, raw: the joined file itself.
    let results = a
        .client
        .get(a.url(&format!("/jobs/{id}/results")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(results, "BOTH WAYS\nBOTH WAYS\n");
    // The left branch ran on B (one job there), not here.
    let on_b = remote_jobs(&b, "ades-it-wf-work").await;
    assert_eq!(on_b.len(), 1, "{on_b:?}");
    assert_eq!(on_b[0].1, "successful");
    let steps = step_jobs(&done);
    let left = &steps.iter().find(|(s, _)| s == "left").unwrap().1;
    let left_job = job(&a, left).await;
    assert_eq!(left_job["status"], "successful", "{left_job:#}");
    assert!(
        left_job["message"].as_str().unwrap().contains("remote b"),
        "{left_job:#}"
    );
    // No container of the left step ran here.
    assert!(crate::support::docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=org.ades.job-id={left}")
    ])
    .trim()
    .is_empty());

    // A node on a remote that is not configured is refused, saying so.
    let mut bad = recipe.clone();
    bad["name"] = json!(crate::deploy::unique("wf-remote-bad"));
    bad["definition"]["nodes"]["left"]["node_type"]["job_type_name"] = json!("c:ades-it-wf-work");
    let response = deploy(&a, &bad).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("[remotes.c]"), "{text}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_goes_from_remote_step_to_remote_step_by_reference() {
    step_images();
    // B reads its own result links (loopback): it must be allowed to.
    let b = spawn_app_with(|settings| {
        settings.queue.workers = 2;
        settings.queue.allow_private_urls = true;
    })
    .await;
    let a = orchestrator(&b).await;
    let name = crate::deploy::unique("wf-remote-ref");
    let recipe = json!({
        "name": name,
        "title": "Twice there",
        "definition": {
            "input": {"files": [{"name": "IMAGE"}]},
            "nodes": {
                "one": job_node("b:ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"},
                    "DELAY": {"type": "literal", "value": 0}})),
                "two": job_node("b:ades-it-wf-work", &["one"], json!({
                    "PART": {"type": "dependency", "node": "one", "output": "RESULT"},
                    "DELAY": {"type": "literal", "value": 0}})),
            }
        }
    });
    let response = deploy(&a, &recipe).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = submit(&a, &name, "by reference\n").await;
    let done = wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let on_b = remote_jobs(&b, "ades-it-wf-work").await;
    assert_eq!(on_b.len(), 2, "{on_b:?}");
    // The newest first: the second step's input was the first step's link on B.
    let (second, first) = (&on_b[0].0, &on_b[1].0);
    let prov = b
        .client
        .get(b.url(&format!("/jobs/{second}/prov")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(prov.contains(&format!("/jobs/{first}/")), "{prov}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_that_needs_a_token_is_called_with_it() {
    step_images();
    const B_TOKEN: &str = "remote-b-s3cret";
    let b = spawn_app_with(|settings| {
        settings.queue.workers = 2;
        settings.auth.mode = ades::config::AuthMode::On;
        settings.auth.admin_token = B_TOKEN.to_string();
    })
    .await;
    let a = orchestrator_with_token(&b, B_TOKEN).await;
    let name = crate::deploy::unique("wf-remote-token");
    let recipe = json!({
        "name": name,
        "title": "Behind a token",
        "definition": {
            "input": {"files": [{"name": "IMAGE"}]},
            "nodes": {
                "there": job_node("b:ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"},
                    "DELAY": {"type": "literal", "value": 0}})),
            }
        }
    });
    let response = deploy(&a, &recipe).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = submit(&a, &name, "secret\n").await;
    let done = wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    // Its result link on B needs the token too: it was fetched with it.
    let text = output_text(&a, &id, "there/RESULT/0/result-up.txt").await;
    assert_eq!(text, "SECRET\n");

    // A wrong token: B's refusal reaches the deployer, and the token is in no answer.
    let wrong = orchestrator_with_token(&b, "not-the-token").await;
    let mut other = recipe.clone();
    other["name"] = json!(crate::deploy::unique("wf-remote-token-bad"));
    let response = deploy(&wrong, &other).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("remote b"), "{text}");
    assert!(!text.contains("not-the-token"), "{text}");
    wrong.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nested_execute_runs_its_inner_process_on_another_instance() {
    let b = remote_app().await;
    let a = orchestrator(&b).await;
    let inner = format!("{}/processes/ades-it-wf-work", b.address);
    let execute = |part: &str| {
        json!({"inputs": {
            "A": {"process": inner, "inputs": {"PART": part}, "outputs": {"RESULT": {}}},
            "B": "and here\n"
        }})
    };
    let submit_nested = |body: Value| {
        let a = &a;
        async move {
            let response = a
                .client
                .post(a.url("/processes/ades-it-wf-join/execution"))
                .header("Prefer", "respond-async")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{text}");
            serde_json::from_str::<Value>(&text).unwrap()["jobID"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let id = submit_nested(execute("there\n")).await;
    let done = wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let joined = output_text(&a, &id, "main/joined-all.txt").await;
    assert_eq!(joined, "THERE\nand here\n");
    assert_eq!(remote_jobs(&b, "ades-it-wf-work").await.len(), 1);

    // The remote's failure reaches the user, prefixed by the step.
    let id = submit_nested(execute("boom\n")).await;
    let failed = wait_final(&a, &id, Duration::from_secs(90)).await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("step main-A: remote b:"), "{message}");

    // A process URL on a server that is not allowed is refused before anything runs.
    let response = a
        .client
        .post(a.url("/processes/ades-it-wf-join/execution"))
        .json(&json!({"inputs": {
            "A": {"process": "http://127.0.0.1:9/processes/ades-it-wf-work", "inputs": {"PART": "x"}},
            "B": "y"
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains("allowed remote server"), "{text}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployed_part3_workflow_runs_a_step_on_another_instance() {
    let b = remote_app().await;
    let a = orchestrator(&b).await;
    let id = crate::deploy::unique("wf-part3");
    let workflow = json!({
        "id": id,
        "title": "Upper-case there, join here",
        "process": a.url("/processes/ades-it-wf-join"),
        "inputs": {
            "A": {"process": format!("{}/processes/ades-it-wf-work", b.address),
                  "inputs": {"PART": {"$input": "text"}, "DELAY": 1},
                  "outputs": {"RESULT": {}}},
            "B": {"$input": "suffix"}
        },
        "outputs": {"JOINED": {"$output": "joined"}}
    });
    let response = a
        .client
        .post(a.url("/processes"))
        .bearer_auth(TOKEN)
        .json(&workflow)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let description: Value = a
        .client
        .get(a.url(&format!("/processes/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inputs: Vec<&String> = description["inputs"].as_object().unwrap().keys().collect();
    assert_eq!(inputs, ["suffix", "text"], "{description:#}");
    let outputs: Vec<&String> = description["outputs"].as_object().unwrap().keys().collect();
    assert_eq!(outputs, ["joined"], "{description:#}");

    let response = a
        .client
        .post(a.url(&format!("/processes/{id}/execution")))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"text": "deployed\n", "suffix": "workflow\n"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let job_id = response.json::<Value>().await.unwrap()["jobID"]
        .as_str()
        .unwrap()
        .to_string();
    let done = wait_final(&a, &job_id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "successful", "{done:#}");
    let results = a
        .client
        .get(a.url(&format!("/jobs/{job_id}/results/joined")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(results, "DEPLOYED\nworkflow\n");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dismissing_a_workflow_mid_way_dismisses_its_remote_job() {
    let b = remote_app().await;
    let a = orchestrator(&b).await;
    let name = crate::deploy::unique("wf-remote-dismiss");
    let recipe = json!({
        "name": name,
        "title": "Slow there, slow here",
        "definition": {
            "input": {"files": [{"name": "IMAGE"}]},
            "nodes": {
                "there": job_node("b:ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"},
                    "DELAY": {"type": "literal", "value": 60}})),
                "here": job_node("ades-it-wf-work", &[], json!({
                    "PART": {"type": "recipe", "input": "IMAGE"},
                    "DELAY": {"type": "literal", "value": 60}})),
                "join": job_node("ades-it-wf-join", &["there", "here"], json!({
                    "A": {"type": "dependency", "node": "there", "output": "RESULT"},
                    "B": {"type": "dependency", "node": "here", "output": "RESULT"}})),
            }
        }
    });
    let response = deploy(&a, &recipe).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = submit(&a, &name, "slow\n").await;
    // Wait until the remote job runs on B and the local step runs here.
    let deadline = Instant::now() + Duration::from_secs(60);
    let remote_job = loop {
        let on_b = remote_jobs(&b, "ades-it-wf-work").await;
        let status = job(&a, &id).await;
        let here_running = status["message"]
            .as_str()
            .unwrap_or("")
            .contains("2 running");
        if let Some((remote_id, _)) = on_b.iter().find(|(_, s)| s == "running") {
            if here_running {
                break remote_id.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "never running: {status:#} {on_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let response = a
        .client
        .delete(a.url(&format!("/jobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let dismissed_at = Instant::now();
    loop {
        let status = job(&a, &id).await;
        let steps = step_jobs(&status);
        let mut states = Vec::new();
        for (step, step_id) in &steps {
            states.push((step.clone(), job(&a, step_id).await["status"].clone()));
        }
        let remote_status = job(&b, &remote_job).await["status"].clone();
        let containers: String = steps
            .iter()
            .map(|(_, step_id)| step_id.as_str())
            .chain([remote_job.as_str()])
            .map(|job_id| {
                crate::support::docker(&[
                    "ps",
                    "-a",
                    "-q",
                    "--filter",
                    &format!("label=org.ades.job-id={job_id}"),
                ])
            })
            .collect();
        let all_dismissed = status["status"] == "dismissed"
            && steps.len() == 2
            && states.iter().all(|(_, s)| s == "dismissed")
            && remote_status == "dismissed";
        if all_dismissed && containers.trim().is_empty() {
            break;
        }
        assert!(
            dismissed_at.elapsed() < Duration::from_secs(10),
            "10 s after the dismissal: workflow {}, steps {states:?}, remote job {remote_status}, containers {containers:?}",
            status["status"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_of_the_orchestrator_while_its_remote_step_runs_loses_nothing() {
    marker_step_image();
    let root = tempfile::tempdir().unwrap();
    let markers = root.path().join("markers");
    std::fs::create_dir(&markers).unwrap();
    std::fs::set_permissions(
        &markers,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let b_markers = markers.clone();
    let b = spawn_app_with(move |settings| {
        settings.queue.workers = 2;
        settings.processes.insert(
            "ades-it-wf-mark".to_string(),
            ades::config::ProcessSection {
                mounts: [("MARKERS".to_string(), b_markers)].into_iter().collect(),
                ..Default::default()
            },
        );
    })
    .await;
    let config = root.path().join("ades.toml");
    std::fs::write(
        &config,
        format!(
            "[queue]\nallow_private_urls = true\n\
             [remotes.b]\nurl = {:?}\npoll_seconds = 0.2\nmax_poll_seconds = 1.0\n\
             [processes.ades-it-wf-mark.mounts]\nMARKERS = {:?}\n",
            b.address,
            markers.to_str().unwrap()
        ),
    )
    .unwrap();
    let port = crate::support::free_port();
    let mut a = Server {
        base: format!("http://127.0.0.1:{port}"),
        port,
        data_dir: root.path().join("data"),
        config,
        log: root.path().join("serve.log"),
        child: None,
    };
    std::fs::create_dir(&a.data_dir).unwrap();
    let client = reqwest::Client::new();
    a.start();
    a.wait_until_up(&client).await;

    // s1 here -> s2 on B -> s3 here, each a container of 2 s.
    let node = |n: u32, process: &str| {
        let input = if n == 1 {
            json!({"type": "recipe", "input": "IMAGE"})
        } else {
            json!({"type": "dependency", "node": format!("s{}", n - 1), "output": "OUT"})
        };
        let before = format!("s{}", n - 1);
        let dependencies: Vec<&str> = if n == 1 { vec![] } else { vec![&before] };
        job_node(
            process,
            &dependencies,
            json!({"IN": input, "NAME": {"type": "literal", "value": format!("s{n}")}}),
        )
    };
    let name = crate::deploy::unique("wf-remote-chain");
    let recipe = json!({
        "name": name,
        "title": "Here, there, here",
        "definition": {"input": {"files": [{"name": "IMAGE"}]}, "nodes": {
            "s1": node(1, "ades-it-wf-mark"),
            "s2": node(2, "b:ades-it-wf-mark"),
            "s3": node(3, "ades-it-wf-mark"),
        }}
    });
    let deployed = client
        .post(format!("{}/processes", a.base))
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
        .post(format!("{}/processes/{name}/execution", a.base))
        .header("Prefer", "respond-async")
        .json(&json!({"inputs": {"IMAGE": "chain\n"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = submitted["jobID"].as_str().expect("a job id").to_string();
    let status_url = format!("{}/jobs/{id}", a.base);

    // Kill A while s2 runs on B.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let on_b = remote_jobs(&b, "ades-it-wf-mark").await;
        if on_b.iter().any(|(_, s)| s == "running") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "s2 never ran on B: {on_b:?}\n{}",
            a.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.sigkill();
    a.start();
    a.wait_until_up(&client).await;

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
            a.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(done["status"], "successful", "{done:#}\n{}", a.log_text());
    for n in 1..=3 {
        let marks = std::fs::read_to_string(markers.join(format!("s{n}"))).unwrap_or_default();
        assert_eq!(
            marks.lines().count(),
            1,
            "step s{n}'s container started {} times",
            marks.lines().count()
        );
    }
    assert_eq!(remote_jobs(&b, "ades-it-wf-mark").await.len(), 1);
    let output = client
        .get(format!("{}/jobs/{id}/outputs/s3/out-s3.txt", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(output, "chain\ns1\ns2\ns3\n");
    a.sigkill();
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_remote_example_deploys_and_runs_on_two_instances() {
    crate::support::example_image("io-demo");
    let b = spawn_app_with(|_| {}).await;
    let url = b.address.clone();
    let a = spawn_app_with(move |settings| {
        settings.auth.admin_token = "secret".to_string();
        settings.queue.allow_private_urls = true;
        settings.remotes.insert(
            "b".to_string(),
            ades::config::RemoteSection {
                url,
                poll_seconds: 0.25,
                ..Default::default()
            },
        );
    })
    .await;
    let script = crate::support::repo_root().join("examples/workflows/remote/run.sh");
    let (a_address, b_address) = (a.address.clone(), b.address.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg(script)
            .env("A", a_address)
            .env("REMOTE", b_address)
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
        "recipe deploy: 201",
        "workflow successful - 3 of 3 steps done",
        "remote b: successful",
        "part 3 deploy: 201",
        "inputs: text | outputs: copied",
        "jobs on the remote: 2",
        "undeploy io-demo-here-and-there: 204",
        "undeploy io-demo-there-then-here: 204",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing:\n{stdout}");
    }
    a.stop().await;
    b.stop().await;
}
