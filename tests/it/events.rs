//! Live jobs over real HTTP with real containers: the status and the log of a job as
//! Server-Sent Events (`Accept: text/event-stream`), a line reaching the client while the
//! container still runs, and a reconnect with `Last-Event-ID` resuming after its line;
//! the live job list of one user on a server with authentication on.

use crate::app::{spawn_app, TestApp};
use crate::support::{get_json, shell_job_image, submit_async};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One event as received.
#[derive(Debug, Clone)]
struct Received {
    event: String,
    id: Option<String>,
    data: String,
}

/// Reads the event stream at `url` until `end` (or `limit`), calling `seen` on each event
/// as it arrives.
async fn follow(
    app: &TestApp,
    url: &str,
    last_event_id: Option<&str>,
    limit: Duration,
    mut seen: impl FnMut(&Received),
) -> Vec<Received> {
    follow_until(&app.client, url, last_event_id, limit, |event| {
        seen(event);
        event.event == "end"
    })
    .await
}

/// Reads the event stream at `url` until `done` says so of an event (failing after
/// `limit`): for streams that never end by themselves.
async fn follow_until(
    client: &reqwest::Client,
    url: &str,
    last_event_id: Option<&str>,
    limit: Duration,
    done: impl FnMut(&Received) -> bool,
) -> Vec<Received> {
    let response = open_stream(client, url, last_event_id, limit).await;
    read_until(response, url, limit, done).await
}

/// Opens the event stream at `url`: once this returns, the server follows changes for it.
async fn open_stream(
    client: &reqwest::Client,
    url: &str,
    last_event_id: Option<&str>,
    limit: Duration,
) -> reqwest::Response {
    let mut request = client
        .get(url)
        .header("accept", "text/event-stream")
        .timeout(limit);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.expect("open the event stream");
    assert_eq!(response.status(), StatusCode::OK);
    let media = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(media.starts_with("text/event-stream"), "{media}");
    response
}

/// Reads an opened stream until `done` says so of an event (failing after `limit`).
async fn read_until(
    response: reqwest::Response,
    url: &str,
    limit: Duration,
    mut done: impl FnMut(&Received) -> bool,
) -> Vec<Received> {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), body.next()).await else {
            break;
        };
        text.push_str(&String::from_utf8_lossy(&chunk.expect("a chunk")));
        while let Some(at) = text.find("\n\n") {
            let block: String = text.drain(..at + 2).collect();
            let mut received = Received {
                event: "message".into(),
                id: None,
                data: String::new(),
            };
            let mut lines = 0;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    received.event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    received.id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    if lines > 0 {
                        received.data.push('\n');
                    }
                    received.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    lines += 1;
                }
            }
            if block.starts_with(':') {
                continue; // keep-alive comment
            }
            let end = done(&received);
            events.push(received);
            if end {
                return events;
            }
        }
    }
    panic!("the stream at {url} did not come to its end within {limit:?}: {events:?}");
}

/// Submits `script` to the shell image, followed by the outputs its manifest requires.
async fn submit(app: &TestApp, script: &str) -> String {
    shell_job_image();
    let script = format!(
        "{script}; echo x > $OUTPUT_DIR/one-x.txt; echo '{{\"COUNT\": 1}}' > $OUTPUT_DIR/seed.outputs.json"
    );
    submit_async(
        &app.client,
        &app.url("/processes/ades-it-shell/execution"),
        &json!({ "inputs": { "SCRIPT": script } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_line_reaches_the_client_while_the_container_runs_and_a_reconnect_resumes() {
    let app = spawn_app().await;
    let job = submit(&app, "echo first; sleep 3; echo second; echo third").await;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let events = follow(
        &app,
        &format!("{job}/logs"),
        None,
        Duration::from_secs(90),
        |event| {
            if event.event == "log" && event.data == "first" {
                let _ = tx.send(Instant::now());
            }
        },
    )
    .await;
    let lines: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "log")
        .map(|e| e.data.as_str())
        .collect();
    let container: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("[ades]"))
        .collect();
    assert_eq!(container, ["first", "second", "third"], "{lines:?}");
    assert_eq!(events.last().unwrap().event, "end");

    // "first" came while the container slept: more than two seconds before the job ended.
    let first_at = rx.recv().await.expect("the first line was seen");
    let status = get_json(&app.client, &job).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let ended_at = Instant::now();
    assert!(
        ended_at.duration_since(first_at) >= Duration::from_secs(2),
        "the first line arrived only {:?} before the end",
        ended_at.duration_since(first_at)
    );

    // Ids are offsets: resuming after "first" gives the rest, without "first".
    let first_id = events
        .iter()
        .find(|e| e.data == "first")
        .and_then(|e| e.id.clone())
        .expect("the first line has an id");
    let resumed = follow(
        &app,
        &format!("{job}/logs"),
        Some(&first_id),
        Duration::from_secs(30),
        |_| {},
    )
    .await;
    let rest: Vec<&str> = resumed
        .iter()
        .filter(|e| e.event == "log" && !e.data.starts_with("[ades]"))
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(rest, ["second", "third"], "{resumed:?}");

    // The plain log is unchanged for a program that does not ask for events.
    let plain = app.client.get(format!("{job}/logs")).send().await.unwrap();
    assert!(plain.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(plain
        .text()
        .await
        .unwrap()
        .contains("first\nsecond\nthird\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_stream_sends_each_change_and_ends_with_the_final_document() {
    let app = spawn_app().await;
    let job = submit(
        &app,
        "sleep 1; echo 'ADES_PROGRESS 40 halfway'; sleep 2; echo done",
    )
    .await;
    let events = follow(&app, &job, None, Duration::from_secs(90), |_| {}).await;
    let statuses: Vec<Value> = events
        .iter()
        .filter(|e| e.event == "status")
        .map(|e| serde_json::from_str(&e.data).expect("a status document"))
        .collect();
    assert!(!statuses.is_empty(), "{events:?}");
    let names: Vec<&str> = statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"successful"), "{names:?}");
    assert!(
        names.contains(&"running"),
        "the running status was pushed: {names:?}"
    );
    // The container's ADES_PROGRESS line moved the job's progress and message.
    assert!(
        statuses
            .iter()
            .any(|s| s["progress"] == 40 && s["message"] == "halfway"),
        "{statuses:#?}"
    );
    // Each document is the one GET gives: the final one equals it.
    let now = get_json(&app.client, &job).await;
    assert_eq!(statuses.last().unwrap(), &now);
    // Ids count the documents.
    let ids: Vec<String> = events
        .iter()
        .filter(|e| e.event == "status")
        .filter_map(|e| e.id.clone())
        .collect();
    let expected: Vec<String> = (1..=ids.len()).map(|n| n.to_string()).collect();
    assert_eq!(ids, expected);
    assert_eq!(events.last().unwrap().event, "end");
}

/// A client that sends `token` as its bearer token on every request.
fn client_of(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The status documents among `events`.
fn documents(events: &[Received]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.event == "status")
        .map(|e| serde_json::from_str(&e.data).expect("a status document"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_job_list_brings_a_users_new_jobs_and_their_changes_and_nobody_elses() {
    shell_job_image();
    let issuer = crate::auth::Issuer::start().await;
    let app = crate::app::spawn_app_with(|s| crate::auth::auth_on(s, &issuer)).await;
    let alice = client_of(&issuer.token("alice", &["user"]));
    let bob = client_of(&issuer.token("bob", &["user"]));
    let admin = client_of(&issuer.token("root", &["admin"]));
    let execute = app.url("/processes/ades-it-shell/execution");
    let body = |script: &str| {
        json!({ "inputs": { "SCRIPT": format!(
            "{script}; echo x > $OUTPUT_DIR/one-x.txt; echo '{{\"COUNT\": 1}}' > $OUTPUT_DIR/seed.outputs.json"
        ) } })
    };

    // Alice opens her live list before she has any job, and one of her jobs still going
    // (`status=accepted,running`); their readers run beside the jobs until her job's
    // `successful` comes.
    let list = app.url("/jobs");
    let going = app.url("/jobs?status=accepted,running");
    let limit = Duration::from_secs(120);
    let (tell_readers, hers) = tokio::sync::watch::channel(String::new());
    let mut readers = Vec::new();
    for url in [&list, &going] {
        let opened = open_stream(&alice, url, None, limit).await;
        let url = url.clone();
        let mut hers = hers.clone();
        readers.push(tokio::spawn(async move {
            let mine = hers
                .wait_for(|id| !id.is_empty())
                .await
                .expect("alice's job id")
                .clone();
            read_until(opened, &url, limit, |event| {
                event.event == "status"
                    && serde_json::from_str::<Value>(&event.data).is_ok_and(|doc| {
                        doc["jobID"] == mine.as_str() && doc["status"] == "successful"
                    })
            })
            .await
        }));
    }

    // Bob's job runs to its end first; then Alice's. Every change of Bob's job happened
    // before Alice's job existed, so had the stream let any through it came before hers.
    let bobs = submit_async(&bob, &execute, &body("echo bob")).await;
    let status = crate::support::wait_final(&bob, &bobs, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let bobs_id = status["jobID"].as_str().unwrap().to_string();
    let hers = submit_async(&alice, &execute, &body("sleep 1; echo alice; sleep 1")).await;
    let hers_id = hers.rsplit('/').next().unwrap().to_string();
    tell_readers.send_replace(hers_id.clone());
    let going_events = readers
        .pop()
        .unwrap()
        .await
        .expect("the filtered list's reader");
    let events = readers.pop().unwrap().await.expect("the list's reader");
    // A job that leaves a filtered list (successful is not `accepted,running`) is still
    // followed to its end: the reader above stopped only at its `successful`.
    assert!(
        documents(&going_events)
            .iter()
            .all(|doc| doc["jobID"] == hers_id.as_str()),
        "{going_events:?}"
    );

    let docs = documents(&events);
    let ids: Vec<&str> = docs.iter().map(|d| d["jobID"].as_str().unwrap()).collect();
    assert!(
        ids.iter().all(|id| *id == hers_id),
        "only Alice's job is in Alice's list (Bob's is {bobs_id}): {ids:?}"
    );
    let statuses: Vec<&str> = docs.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"running"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"successful"), "{statuses:?}");
    // Each document is the one GET gives: the last equals the job's status now.
    let now = get_json(&alice, &hers).await;
    assert_eq!(docs.last().unwrap(), &now);
    // Ids are the newest `updated` sent: RFC 3339 instants that never go back.
    let stamps: Vec<time::OffsetDateTime> = events
        .iter()
        .filter(|e| e.event == "status")
        .map(|e| {
            let id = e.id.as_deref().expect("an id");
            time::OffsetDateTime::parse(id, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| panic!("{id} is an RFC 3339 instant"))
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");

    // An admin's list starts with both users' jobs, oldest first.
    let admins = follow_until(&admin, &list, None, Duration::from_secs(30), |e| {
        e.event == "status" && e.data.contains(&hers_id)
    })
    .await;
    let ids: Vec<String> = documents(&admins)
        .iter()
        .map(|d| d["jobID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [bobs_id.clone(), hers_id.clone()], "{admins:?}");

    // A reconnect with the id of Alice's last document gets what was updated since (less
    // the stream's one-second margin): her job, not Bob's, which ended two seconds and
    // more before hers (her script sleeps that long).
    let last_id = events.last().and_then(|e| e.id.clone()).unwrap();
    let resumed = follow_until(
        &admin,
        &list,
        Some(&last_id),
        Duration::from_secs(30),
        |e| e.event == "status" && e.data.contains(&hers_id),
    )
    .await;
    let resumed = documents(&resumed);
    assert_eq!(resumed.len(), 1, "{resumed:#?}");
    assert_eq!(resumed[0]["jobID"], hers_id.as_str());
    assert_eq!(resumed[0]["status"], "successful");

    // A filter that is wrong is the list's 400, not a stream.
    let refused = alice
        .get(app.url("/jobs?status=sleeping"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);

    // A live list never ends by itself; a server that stops ends it rather than wait for
    // it forever (the graceful stop waits for every open response).
    let open = open_stream(&alice, &list, None, Duration::from_secs(120)).await;
    tokio::time::timeout(Duration::from_secs(60), app.stop())
        .await
        .expect("the server stops with a live job list open");
    let _ = tokio::time::timeout(Duration::from_secs(30), open.bytes())
        .await
        .expect("the live job list ends when the server stops");
}
