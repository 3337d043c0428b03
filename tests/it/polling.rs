//! Cheap polling over real HTTP with real containers (README, "Following a job cheaply"):
//! job statuses and job lists carry an `ETag` and answer 304 to a client that holds the
//! document, and `Prefer: wait=N` on a job's status is a long poll that answers when the
//! job changes, or with 304 when the wait runs out.

use crate::support::{
    example_image, repo_root, shell_job_image, spawn_app, submit_async, wait_final,
};
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A script's ending that makes the shell job succeed (its required output and count).
const SUCCEED: &str =
    "touch $OUTPUT_DIR/one-x && echo '{\"COUNT\": 0}' > $OUTPUT_DIR/seed.outputs.json";

async fn submit(app: &crate::app::TestApp, script: &str) -> String {
    submit_async(
        &app.client,
        &app.url("/processes/ades-it-shell/execution"),
        &json!({"inputs": {"SCRIPT": script}}),
    )
    .await
}

fn etag(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(ETAG)
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_string()
}

/// Polls `job` until its status is `status`; returns the document's ETag.
async fn etag_when(client: &reqwest::Client, job: &str, status: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = client.get(job).send().await.unwrap();
        let tag = etag(&response);
        let document: Value = response.json().await.unwrap();
        if document["status"] == status {
            return tag;
        }
        assert!(Instant::now() < deadline, "never {status}: {document:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn statuses_and_lists_are_tagged_and_a_held_one_is_304() {
    shell_job_image();
    let app = spawn_app().await;
    let client = &app.client;
    let job = submit(&app, SUCCEED).await;
    wait_final(client, &job, Duration::from_secs(60)).await;

    let first = client.get(&job).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let tag = etag(&first);
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let again = client.get(&job).send().await.unwrap();
    assert_eq!(etag(&again), tag, "the same document, the same tag");

    let held = client
        .get(&job)
        .header(IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag(&held), tag);
    assert!(held.bytes().await.unwrap().is_empty());
    let weak = client
        .get(&job)
        .header(IF_NONE_MATCH, format!("\"other\", W/{tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::NOT_MODIFIED);
    let stale = client
        .get(&job)
        .header(IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    // A list: 304 while it is the same, 200 with another tag once a job joins it.
    let list = app.url("/jobs?processID=ades-it-shell");
    let page = client.get(&list).send().await.unwrap();
    let list_tag = etag(&page);
    let held = client
        .get(&list)
        .header(IF_NONE_MATCH, &list_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
    let second = submit(&app, SUCCEED).await;
    let changed = client
        .get(&list)
        .header(IF_NONE_MATCH, &list_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(etag(&changed), list_tag);
    wait_final(client, &second, Duration::from_secs(60)).await;

    // A page is not the JSON document: no tag, and a JSON tag does not make it 304.
    let page = client
        .get(format!("{job}?f=html"))
        .header(IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get(ETAG).is_none());

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_poll_answers_when_the_job_changes_or_304_when_the_wait_runs_out() {
    shell_job_image();
    let app = spawn_app().await;
    let client = &app.client;

    // Followed by long polls from the running document: each answer is a changed document
    // (a new message, then the end), a handful of requests for the whole run.
    let job = submit(&app, &format!("sleep 3 && {SUCCEED}")).await;
    let mut held = etag_when(client, &job, "running").await;
    let mut requests = 0;
    let document = loop {
        requests += 1;
        assert!(requests <= 10, "a long poll that does not hold");
        let answer = client
            .get(&job)
            .header(IF_NONE_MATCH, &held)
            .header("prefer", "wait=30")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()["preference-applied"], "wait=30");
        let tag = etag(&answer);
        assert_ne!(tag, held, "answered with the document the client holds");
        held = tag;
        let document: Value = answer.json().await.unwrap();
        if document["status"] != "running" {
            break document;
        }
    };
    assert_eq!(document["status"], "successful", "{document:#}");

    // A final job is not held: nothing will change it by itself.
    let asked = Instant::now();
    let final_tag = etag(&client.get(&job).send().await.unwrap());
    let answer = client
        .get(&job)
        .header(IF_NONE_MATCH, &final_tag)
        .header("prefer", "wait=30")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_MODIFIED);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );

    // The wait runs out while the job still runs: 304 after about the time asked. A running
    // job's document may still change once just after it starts (its message, when the
    // container is up later than the status says on a loaded machine): such a change is a
    // 200 with the new document, and the client waits again from that one.
    let long = submit(&app, "sleep 30").await;
    let mut running = etag_when(client, &long, "running").await;
    let (answer, took) = loop {
        let asked = Instant::now();
        let answer = client
            .get(&long)
            .header(IF_NONE_MATCH, &running)
            .header("prefer", "wait=2")
            .send()
            .await
            .unwrap();
        let took = asked.elapsed();
        if answer.status() == StatusCode::OK {
            let tag = etag(&answer);
            assert_ne!(tag, running, "answered with the document the client holds");
            let document: Value = answer.json().await.unwrap();
            assert_eq!(document["status"], "running", "{document:#}");
            running = tag;
            continue;
        }
        break (answer, took);
    };
    assert_eq!(answer.status(), StatusCode::NOT_MODIFIED);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
        "held {took:?}"
    );

    // Without If-None-Match the reference is the document of now: a dismissal ends the wait.
    let waiting = {
        let client = client.clone();
        let long = long.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let answer = client
                .get(&long)
                .header("prefer", "wait=30")
                .send()
                .await
                .unwrap();
            (
                answer.status(),
                answer.json::<Value>().await.unwrap(),
                asked.elapsed(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dismissed = client.delete(&long).send().await.unwrap();
    assert_eq!(dismissed.status(), StatusCode::OK);
    let (status, document, took) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["status"], "dismissed", "{document:#}");
    assert!(took < Duration::from_secs(20), "held {took:?}");

    app.stop().await;
}

/// `examples/clients/follow_job.sh` follows a real job by long polls and prints its results
/// and provenance.
#[tokio::test(flavor = "multi_thread")]
async fn the_follow_job_example_runs_against_the_server() {
    example_image("echo");
    let app = spawn_app().await;
    let script = repo_root().join("examples/clients/follow_job.sh");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg(&script)
            .arg(&address)
            .output()
            .expect("run the example")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "status: successful",
        "followed by long polls",
        "wasGeneratedBy(job:output-ECHO-0, job:run, -)",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in\n{stdout}\n{stderr}"
        );
    }
    // Long polls: a handful of documents, not one per poll interval.
    let statuses = stdout.lines().filter(|l| l.starts_with("status: ")).count();
    assert!((1..=6).contains(&statuses), "{stdout}");
    app.stop().await;
}

/// A job's status is read from the store once a second at most while clients poll, and a
/// change the server hears of shows at once; one it cannot hear of (another program's
/// write to the database) shows within the second.
#[tokio::test(flavor = "multi_thread")]
async fn a_polled_status_is_read_once_a_second_and_a_heard_change_shows_at_once() {
    example_image("echo");
    let app = crate::app::spawn_app_with(|s| s.queue.workers = 0).await;
    let url = app.url("/processes/echo/execution");
    let body = json!({"inputs": {"MESSAGE": "hi"}});
    let store = ades::store::connect_store(&format!(
        "sqlite://{}",
        app.data_dir().join("ades.db").display()
    ))
    .await
    .unwrap();
    let status = |location: String| {
        let client = app.client.clone();
        async move {
            let job: Value = client
                .get(&location)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            job["status"].as_str().unwrap().to_string()
        }
    };

    // Unheard: the other program's dismissal is not seen until the second has passed.
    let location = submit_async(&app.client, &url, &body).await;
    let id = ades::domain::JobId::parse(location.rsplit('/').next().unwrap()).unwrap();
    assert_eq!(status(location.clone()).await, "accepted");
    let read = Instant::now();
    store
        .dismiss_job(&id, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    let still = status(location.clone()).await;
    if read.elapsed() < Duration::from_millis(900) {
        assert_eq!(still, "accepted", "answered from memory within the second");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(location.clone()).await != "dismissed" {
        assert!(Instant::now() < deadline, "the store's change never showed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Heard: a dismissal through the server shows on the very next read.
    let location = submit_async(&app.client, &url, &body).await;
    assert_eq!(status(location.clone()).await, "accepted");
    let dismissed = app.client.delete(&location).send().await.unwrap();
    assert_eq!(dismissed.status(), StatusCode::OK);
    assert_eq!(status(location).await, "dismissed");
}
