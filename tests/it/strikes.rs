//! Data-driven processing: strikes watching a host folder and an S3 prefix, their ingests
//! and the jobs they trigger, scans and their dry runs, through the real server (HTTP, the
//! Docker engine running the triggered jobs, SQLite and PostgreSQL, SeaweedFS for S3).
//!
//! The done-when tests (`..._once_across_a_sigkill_...`) run `ades serve` processes: files
//! are dropped into a host folder and an S3 prefix while the replica watching them is
//! SIGKILLed and started again; every file must end as exactly one ingest with exactly one
//! job, none missed. The replicas run no workers (`queue.workers = 0`): what is checked is
//! that each file starts one job, not the engine (the in-process test runs a triggered job
//! to its end).

use crate::app::spawn_app_with;
use crate::support::{build_seed_image, free_port, get_json, wait_final, PostgresTestDatabase};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ADMIN: &str = "strike-admin-token";
/// Files per strike in the done-when tests.
const FILES: usize = 200;

/// A Seed image whose job copies its one file input `INPUT` to `out-copy.txt`.
fn copy_image() -> (String, String) {
    static IMAGE: OnceLock<(String, String)> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let name = "ades-it-strike-copy".to_string();
            let manifest = json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                    "title": "Copy", "description": "Copies INPUT to out-copy.txt",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 30,
                    "interface": {
                        "command": "${INPUT} ${OUTPUT_DIR}",
                        "inputs": {"files": [{"name": "INPUT"}]},
                        "outputs": {"files": [{"name": "OUT", "pattern": "out-*", "mediaType": "text/plain"}]}
                    }
                }
            });
            let image = build_seed_image(
                &manifest,
                Some("cat \"$1\" > \"$2/out-copy.txt\"\n"),
            );
            (image, name)
        })
        .clone()
}

fn s3_endpoint() -> Option<String> {
    let endpoint = std::env::var("ADES_TEST_S3_ENDPOINT").ok();
    if endpoint.is_none() {
        eprintln!("skipped: ADES_TEST_S3_ENDPOINT is not set (run scripts/start-s3.sh)");
    }
    endpoint
}

fn s3_broker_json(endpoint: &str, prefix: &str) -> Value {
    json!({
        "type": "s3", "bucket_name": "ades-test-in", "prefix": prefix,
        "region_name": "us-east-1", "endpoint": endpoint,
        "credentials": {"access_key_id": "ades-test", "secret_access_key": "ades-test-secret"},
    })
}

async fn send(
    client: &Client,
    method: &str,
    url: &str,
    body: Option<&Value>,
    token: bool,
) -> (StatusCode, Value) {
    let mut request = match method {
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "PATCH" => client.patch(url),
        _ => client.get(url),
    };
    if token {
        request = request.bearer_auth(ADMIN);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls `url` (a list of ingests) until `done` holds for its results; fails after `within`.
async fn wait_for_ingests(
    client: &Client,
    url: &str,
    within: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + within;
    loop {
        let list = get_json(client, url).await;
        let results = list["results"].as_array().cloned().unwrap_or_default();
        if done(&results) {
            return results;
        }
        assert!(Instant::now() < deadline, "not reached in time: {list:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn by_file(results: &[Value]) -> HashMap<String, Value> {
    results
        .iter()
        .map(|i| (i["file_path"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

#[tokio::test]
async fn a_strike_ingests_each_complete_file_once_and_runs_its_trigger() {
    let (image, process) = copy_image();
    let incoming = tempfile::tempdir().unwrap();
    let landed = tempfile::tempdir().unwrap();
    let (incoming_path, landed_path) = (incoming.path().to_path_buf(), landed.path().to_path_buf());
    let app = spawn_app_with(move |s| {
        s.auth.admin_token = ADMIN.to_string();
        s.catalog.images = vec![image];
        s.ingest.lease_seconds = 2.0;
        s.workspaces.insert(
            "strike-in".into(),
            ades::storage::WorkspaceSpec::host("", incoming_path),
        );
        s.workspaces.insert(
            "strike-landed".into(),
            ades::storage::WorkspaceSpec::host("", landed_path),
        );
    })
    .await;
    let client = &app.client;
    let strike = json!({
        "title": "Landing Zone",
        "configuration": {
            "workspace": "strike-in",
            "monitor": {"type": "dir-watcher", "transfer_suffix": "_tmp", "settle_seconds": 0.3},
            "files_to_ingest": [
                {"filename_regex": "moved-.*", "data_types": ["moved"],
                 "new_workspace": "strike-landed", "new_file_path": "landed",
                 "output_workspace": "strike-landed"},
                {"filename_regex": ".*\\.txt", "data_types": ["text", "raw"]}
            ],
            "recipe": {"name": process, "revision_num": 1}
        }
    });

    // Admins only; mistakes are 400s that say what to fix.
    let url = app.url("/strikes");
    assert_eq!(
        send(client, "POST", &url, Some(&strike), false).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut bad = strike.clone();
    bad["configuration"]["files_to_ingest"][1]["filename_regex"] = json!("*.txt");
    let (status, body) = send(client, "POST", &url, Some(&bad), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("filename_regex"), "{body}");
    let mut bad = strike.clone();
    bad["configuration"]["monitor"]["type"] = json!("s3");
    let (status, body) = send(client, "POST", &url, Some(&bad), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("dir-watcher"), "{body}");
    let mut bad = strike.clone();
    bad["configuration"]["recipe"]["name"] = json!("no-such-process");
    let (status, body) = send(client, "POST", &url, Some(&bad), true).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("no-such-process"), "{body}");

    let (status, created) = send(client, "POST", &url, Some(&strike), true).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "landing-zone");
    assert_eq!(created["state"], "running");
    assert_eq!(
        send(client, "POST", &url, Some(&strike), true).await.0,
        StatusCode::CONFLICT
    );

    std::fs::create_dir(incoming.path().join("day1")).unwrap();
    std::fs::write(incoming.path().join("a.txt"), "alpha\n").unwrap();
    std::fs::write(incoming.path().join("day1/b.txt"), "bravo\n").unwrap();
    std::fs::write(incoming.path().join("c.dat"), "no rule for me\n").unwrap();
    std::fs::write(incoming.path().join("d.txt_tmp"), "still coming\n").unwrap();
    std::fs::write(incoming.path().join("moved-e.txt"), "echo\n").unwrap();
    let ingests_url = app.url("/ingests?strike=landing-zone");
    let results = wait_for_ingests(client, &ingests_url, Duration::from_secs(30), |r| {
        r.len() == 4
    })
    .await;
    let found = by_file(&results);
    assert_eq!(found["a.txt"]["status"], "ingested", "{results:#?}");
    assert_eq!(found["a.txt"]["data_types"], json!(["text", "raw"]));
    assert_eq!(found["a.txt"]["rule"], ".*\\.txt");
    assert_eq!(found["a.txt"]["file_size"], 6);
    let expected: String = {
        use sha2::Digest;
        sha2::Sha256::digest(b"alpha\n")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(found["a.txt"]["sha256"], expected.as_str());
    assert_eq!(found["day1/b.txt"]["status"], "ingested");
    assert_eq!(found["c.dat"]["status"], "deferred");
    assert!(found["c.dat"]["job"].is_null());
    // The move: copied to the landed workspace at new_file_path/yyyy/mm/dd/, the original
    // gone, and the job reads the copy.
    let moved = &found["moved-e.txt"];
    assert_eq!(moved["status"], "ingested", "{moved:#}");
    assert_eq!(moved["new_workspace"], "strike-landed");
    let new_path = moved["new_file_path"].as_str().unwrap();
    assert!(
        new_path.starts_with("landed/") && new_path.ends_with("/moved-e.txt"),
        "{new_path}"
    );
    assert_eq!(
        std::fs::read_to_string(landed.path().join(new_path)).unwrap(),
        "echo\n"
    );
    assert!(!incoming.path().join("moved-e.txt").exists());

    // Each triggered job runs, reading the file from the workspace.
    for file in ["a.txt", "day1/b.txt", "moved-e.txt"] {
        let job = found[file]["job"]["href"].as_str().unwrap().to_string();
        let status = wait_final(client, &job, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "successful", "{file}: {status:#}");
    }
    // The moved file's rule publishes its job's products to its own output workspace:
    // <process>/<yyyy>/<mm>/<dd>/<job id>/<file> there.
    let moved_job = found["moved-e.txt"]["job"]["id"].as_str().unwrap();
    let published: Vec<PathBuf> = walk(&landed.path().join(&process));
    assert!(
        published
            .iter()
            .any(|p| p.ends_with(format!("{moved_job}/out-copy.txt"))),
        "{published:?}"
    );
    assert_eq!(
        std::fs::read_to_string(
            published
                .iter()
                .find(|p| p.ends_with("out-copy.txt"))
                .unwrap()
        )
        .unwrap(),
        "echo\n"
    );
    let job_id = found["a.txt"]["job"]["id"].as_str().unwrap();
    // The product holds the file's content (a single output comes back as it is).
    let product = client
        .get(app.url(&format!("/jobs/{job_id}/results")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(product.contains("alpha"), "{product}");

    // The temporary suffix gone, the file is taken; the same content again is a duplicate,
    // which runs nothing.
    std::fs::rename(
        incoming.path().join("d.txt_tmp"),
        incoming.path().join("d.txt"),
    )
    .unwrap();
    std::fs::write(incoming.path().join("again.txt"), "alpha\n").unwrap();
    let results = wait_for_ingests(client, &ingests_url, Duration::from_secs(30), |r| {
        r.len() == 6
    })
    .await;
    let found = by_file(&results);
    assert_eq!(found["d.txt"]["status"], "ingested");
    assert_eq!(found["again.txt"]["status"], "duplicate");
    assert!(found["again.txt"]["job"].is_null());
    assert!(found["again.txt"]["message"]
        .as_str()
        .unwrap()
        .contains(found["a.txt"]["id"].as_str().unwrap()));

    // Filters and paging.
    let deferred = get_json(client, &app.url("/ingests?status=DEFERRED")).await;
    assert_eq!(deferred["count"], 1, "{deferred:#}");
    let page = get_json(client, &app.url("/ingests?strike=landing-zone&limit=4")).await;
    assert_eq!(page["count"], 4);
    let next = page["next"].as_str().expect("a next page").to_string();
    let rest = get_json(client, &next).await;
    assert_eq!(rest["count"], 2, "{rest:#}");
    assert!(rest["previous"].is_string());
    let (status, body) = send(client, "GET", &app.url("/ingests?status=lost"), None, false).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let one = get_json(
        client,
        &app.url(&format!(
            "/ingests/{}",
            found["d.txt"]["id"].as_str().unwrap()
        )),
    )
    .await;
    assert_eq!(one["file_name"], "d.txt");
    assert_eq!(one["strike"], "landing-zone");

    // Stopped, it ingests nothing; started again, it catches up.
    let (status, stopped) = send(
        client,
        "POST",
        &app.url("/strikes/landing-zone/stop"),
        None,
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["state"], "stopped");
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::write(incoming.path().join("while-stopped.txt"), "later\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = get_json(client, &ingests_url).await;
    assert_eq!(now["count"], 6, "a stopped strike ingested: {now:#}");
    send(
        client,
        "POST",
        &app.url("/strikes/landing-zone/start"),
        None,
        true,
    )
    .await;
    let results = wait_for_ingests(client, &ingests_url, Duration::from_secs(30), |r| {
        r.len() == 7
    })
    .await;
    assert_eq!(by_file(&results)["while-stopped.txt"]["status"], "ingested");

    // PATCH changes a field, keeps the rest.
    let (status, patched) = send(
        client,
        "PATCH",
        &app.url("/strikes/landing-zone"),
        Some(&json!({"description": "changed"})),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "changed");
    assert_eq!(patched["configuration"]["workspace"], "strike-in");
    let listed = get_json(client, &app.url("/strikes")).await;
    assert_eq!(listed["count"], 1);

    // A scan over the same folder: the dry run says what would happen and records nothing.
    let scan = json!({
        "title": "Backlog",
        "configuration": {
            "workspace": "strike-in",
            "files_to_ingest": [{"filename_regex": ".*\\.txt", "data_types": ["backlog"]}],
            "trigger": {"process": process, "input": "INPUT"}
        }
    });
    let (status, body) = send(client, "POST", &app.url("/scans"), Some(&scan), true).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, dry) = send(
        client,
        "POST",
        &app.url("/scans/backlog/process"),
        Some(&json!({"ingest": false})),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{dry}");
    let plans = dry["last_run"]["plans"].as_array().unwrap();
    let txt: Vec<&Value> = plans.iter().filter(|p| p["process"] == process).collect();
    // a, b, d, again, while-stopped (moved-e.txt is gone, c.dat matches nothing).
    assert_eq!(txt.len(), 5, "{dry:#}");
    assert!(plans
        .iter()
        .any(|p| p["path"] == "c.dat" && p["rule"].is_null()));
    assert_eq!(
        get_json(client, &app.url("/ingests?scan=backlog")).await["count"],
        0
    );
    let (status, _) = send(
        client,
        "POST",
        &app.url("/scans/backlog/process"),
        Some(&json!({"ingest": true})),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let scanned = wait_for_ingests(
        client,
        &app.url("/ingests?scan=backlog"),
        Duration::from_secs(30),
        |r| r.len() == 6,
    )
    .await;
    let by_status = |status: &str| scanned.iter().filter(|i| i["status"] == status).count();
    // "again.txt" holds the content of a.txt: the scan ingests one, calls the other a duplicate.
    assert_eq!(
        (
            by_status("ingested"),
            by_status("duplicate"),
            by_status("deferred")
        ),
        (4, 1, 1),
        "{scanned:#?}"
    );
    app.stop().await;
}

// ----- The done-when tests: 200 files per strike across a SIGKILL -----

#[tokio::test(flavor = "multi_thread")]
async fn host_and_s3_strikes_ingest_each_file_once_across_a_sigkill_on_sqlite() {
    let _alone = ONE_AT_A_TIME.lock().await;
    across_a_sigkill(&["solo"], None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_and_s3_strikes_ingest_each_file_once_across_a_sigkill_on_two_postgres_replicas() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let database = PostgresTestDatabase::create().await;
    across_a_sigkill(&["a", "b"], Some(database.url())).await;
}

/// The two cluster tests share the machine badly: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn across_a_sigkill(names: &[&str], postgres: Option<String>) {
    let (_image, process) = copy_image();
    let root = tempfile::tempdir().unwrap();
    let incoming = root.path().join("incoming");
    std::fs::create_dir(&incoming).unwrap();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let s3 = s3_endpoint().map(|endpoint| (endpoint.clone(), format!("strike-{run}")));
    let mut toml = format!(
        "[workspaces.strike-host.configuration.broker]\ntype = \"host\"\nhost_path = {:?}\n",
        incoming.display().to_string()
    );
    if let Some((endpoint, prefix)) = &s3 {
        toml.push_str(&format!(
            "\n[workspaces.strike-s3.configuration.broker]\ntype = \"s3\"\nbucket_name = \"ades-test-in\"\n\
             prefix = {prefix:?}\nregion_name = \"us-east-1\"\nendpoint = {endpoint:?}\n\
             [workspaces.strike-s3.configuration.broker.credentials]\n\
             access_key_id = \"ades-test\"\nsecret_access_key = \"ades-test-secret\"\n"
        ));
    }
    let config = root.path().join("ades.toml");
    std::fs::write(&config, toml).unwrap();
    let mut env = vec![
        ("ADES__QUEUE__WORKERS", "0".to_string()),
        ("ADES__INGEST__LEASE_SECONDS", "3".to_string()),
        ("ADES__CATALOG__RESCAN_SECONDS", "0".to_string()),
        ("ADES__AUTH__ADMIN_TOKEN", ADMIN.to_string()),
        ("ADES__LIMITS__CLIENT_REQUESTS_IN_FLIGHT", "0".to_string()),
    ];
    if let Some(url) = &postgres {
        let workspace = root.path().join("workspace");
        std::fs::create_dir(&workspace).unwrap();
        env.push(("ADES__DATABASE__URL", url.clone()));
        env.push(("ADES__WORKSPACE__ROOT", workspace.display().to_string()));
    }
    let mut replicas: Vec<Replica> = names
        .iter()
        .map(|name| Replica::new(name, root.path(), &config, &env))
        .collect();
    for replica in &mut replicas {
        replica.start();
    }
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    for replica in &mut replicas {
        replica.wait_until_up(&client).await;
    }
    let base = replicas[0].base.clone();
    let rule = json!([{"filename_regex": "f-.*\\.txt"}]);
    let mut strikes = vec![("host-strike", "strike-host", "dir-watcher")];
    if s3.is_some() {
        strikes.push(("s3-strike", "strike-s3", "s3"));
    }
    for (name, workspace, monitor) in &strikes {
        let body = json!({
            "name": name,
            "configuration": {
                "workspace": workspace,
                "monitor": {"type": monitor, "settle_seconds": 0.5, "rescan_seconds": 1},
                "files_to_ingest": rule,
                "recipe": {"name": process}
            }
        });
        let (status, created) = send(
            &client,
            "POST",
            &format!("{base}/strikes"),
            Some(&body),
            true,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
    }
    let s3_broker = s3.as_ref().map(|(endpoint, prefix)| {
        let spec: ades::storage::BrokerSpec =
            serde_json::from_value(s3_broker_json(endpoint, prefix)).unwrap();
        ades::storage::s3::S3Broker::from_spec(&spec).unwrap()
    });
    // The files arrive steadily (one every 30 ms, about 6 s for all) while each replica in
    // turn is SIGKILLed mid-run and started again: whichever watches a strike dies while
    // it ingests, and files keep arriving while it is down.
    let dropper = {
        let incoming = incoming.clone();
        let s3_broker = s3_broker.clone();
        tokio::spawn(async move {
            for i in 0..FILES {
                let name = format!("f-{i:03}.txt");
                // Written under a temporary name, then renamed: complete when it appears.
                let tmp = incoming.join(format!("{name}_tmp"));
                std::fs::write(&tmp, format!("file {i}\n")).unwrap();
                std::fs::rename(&tmp, incoming.join(&name)).unwrap();
                if let Some(broker) = &s3_broker {
                    use ades::storage::Broker;
                    broker
                        .write(&name, &mut format!("file {i}\n").as_bytes())
                        .await
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let count = |strike: &'static str, base: String| {
        let client = client.clone();
        async move {
            let list = get_json(
                &client,
                &format!("{base}/ingests?strike={strike}&limit=1000"),
            )
            .await;
            list["count"].as_u64().unwrap_or(0)
        }
    };
    let mut kills = Vec::new();
    for victim in 0..replicas.len() {
        let at_least = 20 + 40 * victim as u64;
        let deadline = Instant::now() + Duration::from_secs(60);
        while count("host-strike", base.clone()).await < at_least {
            assert!(
                Instant::now() < deadline,
                "ingests stalled:\n{}",
                logs(&replicas)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let watcher =
            get_json(&client, &format!("{base}/strikes/host-strike")).await["watched_by"].clone();
        let before = count("host-strike", base.clone()).await;
        replicas[victim].sigkill();
        kills.push(format!(
            "killed {} at {before} host ingests (host-strike watched by {watcher})",
            replicas[victim].name,
        ));
        tokio::time::sleep(Duration::from_millis(700)).await;
        replicas[victim].start();
        replicas[victim].wait_until_up(&client).await;
    }
    dropper.await.unwrap();
    eprintln!("{}", kills.join("\n"));

    // Every file: one ingest, one job; none missed, none twice.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut all_job_ids = HashSet::new();
    for (strike, _, _) in &strikes {
        let results = loop {
            let list = get_json(
                &client,
                &format!("{base}/ingests?strike={strike}&limit=1000"),
            )
            .await;
            let results = list["results"].as_array().cloned().unwrap_or_default();
            if results.len() >= FILES {
                break results;
            }
            assert!(
                Instant::now() < deadline,
                "{strike}: {} of {FILES} ingested in time\n{}",
                results.len(),
                logs(&replicas)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(results.len(), FILES, "{strike}: more ingests than files");
        let paths: HashSet<&str> = results
            .iter()
            .map(|i| i["file_path"].as_str().unwrap())
            .collect();
        assert_eq!(paths.len(), FILES, "{strike}: a file ingested twice");
        let expected: HashSet<String> = (0..FILES).map(|i| format!("f-{i:03}.txt")).collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|p| !paths.contains(p.as_str()))
            .collect();
        assert!(missing.is_empty(), "{strike}: missed {missing:?}");
        for ingest in &results {
            assert_eq!(ingest["status"], "ingested", "{ingest:#}");
            let id = ingest["job"]["id"].as_str().expect("a job").to_string();
            assert!(
                all_job_ids.insert(id),
                "one job for two ingests: {ingest:#}"
            );
        }
    }
    // And the jobs exist, exactly those: as many of the process as files ingested.
    let jobs = get_json(
        &client,
        &format!("{base}/jobs?processID={process}&limit=1000"),
    )
    .await;
    let listed: HashSet<String> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        listed, all_job_ids,
        "jobs without an ingest, or ingests without their job"
    );
    assert_eq!(listed.len(), FILES * strikes.len());
    if let Some(broker) = &s3_broker {
        use ades::storage::Broker;
        for i in 0..FILES {
            let _ = broker.delete(&format!("f-{i:03}.txt")).await;
        }
    }
}

/// A replica: `ades serve` with the shared configuration and environment, its own port and
/// data directory, its stderr in a file.
struct Replica {
    name: String,
    base: String,
    port: u16,
    data_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    env: Vec<(&'static str, String)>,
    child: Option<Child>,
}

impl Replica {
    fn new(name: &str, root: &Path, config: &Path, env: &[(&'static str, String)]) -> Replica {
        let data_dir = root.join(format!("replica-{name}"));
        std::fs::create_dir(&data_dir).unwrap();
        let port = free_port();
        Replica {
            name: name.to_string(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir,
            config: config.to_path_buf(),
            log: root.join(format!("replica-{name}.log")),
            env: env.to_vec(),
            child: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ades"))
            .arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ades serve");
        self.child = Some(child);
    }

    async fn wait_until_up(&mut self, client: &Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(exit) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "replica {} exited ({exit}):\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if client.get(format!("{}/", self.base)).send().await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not up:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().unwrap();
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.sigkill();
    }
}

fn logs(replicas: &[Replica]) -> String {
    replicas
        .iter()
        .map(Replica::log_tail)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `examples/scale-tutorial/run.sh`, the Scale tutorial end to end (init, build, run,
/// publish to the loopback registry, deploy, two workspaces, the default output workspace,
/// a strike with the rule `.*`, input.txt dropped, the product found in the output
/// workspace; then a recipe of two io-demo steps triggered by a second strike, its product
/// found too), against the ades built for the tests.
#[tokio::test]
async fn the_scale_tutorial_example_runs_end_to_end() {
    crate::support::busybox_image();
    let script = crate::support::repo_root().join("examples/scale-tutorial/run.sh");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(script)
            .env("ADES", env!("CARGO_BIN_EXE_ades"))
            .env("REGISTRY", crate::support::registry())
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
    assert!(stdout.contains("deploy: 201"), "{stdout}");
    assert!(stdout.contains("\"status\":\"ingested\""), "{stdout}");
    let product = stdout
        .lines()
        .find_map(|l| l.strip_prefix("product: "))
        .unwrap_or_else(|| panic!("no product line: {stdout}"));
    // Several folders deep: <process>/<yyyy>/<mm>/<dd>/<job id>/<file>.
    assert_eq!(product.split('/').count(), 6, "{product}");
    assert!(product.starts_with("io-demo/"), "{product}");
    // The recipe step: a second strike triggers a recipe of two io-demo steps; its last
    // step's product lands in the output workspace under that step's job id.
    for expected in [
        "recipe deploy: 201",
        "recipe strike: 201",
        "recipe job: tutorial-recipe",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing: {stdout}");
    }
    let step = stdout
        .lines()
        .find_map(|l| l.strip_prefix("recipe job: tutorial-recipe, step again: "))
        .unwrap_or_else(|| panic!("no recipe job line: {stdout}"));
    let recipe_product = stdout
        .lines()
        .find_map(|l| l.strip_prefix("recipe product: "))
        .unwrap_or_else(|| panic!("no recipe product line: {stdout}"));
    assert_eq!(recipe_product.split('/').count(), 6, "{recipe_product}");
    assert!(
        recipe_product.starts_with("io-demo/")
            && recipe_product.ends_with(&format!("/{step}/new-output.txt")),
        "{recipe_product}"
    );
    assert!(stdout.contains("tutorial complete"), "{stdout}");
}

/// The operators' commands on the job store: a strike created from a file (into a workspace
/// created from a file), listed, stopped and started; a scan created; ingests listed (none
/// yet: no server watches here) and a bad status refused with the accepted ones.
#[test]
fn the_cli_creates_lists_stops_and_starts_strikes_and_scans() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_dir = data.to_str().unwrap();
    let folder = dir.path().join("incoming");
    std::fs::create_dir(&folder).unwrap();
    let file = |name: &str, body: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, body.to_string()).unwrap();
        path.to_str().unwrap().to_string()
    };
    let workspace = file(
        "ws.json",
        json!({"name": "cli-in", "configuration": {"broker": {"type": "host", "host_path": folder}}}),
    );
    let cli = |args: &[&str]| {
        let mut all = vec![args[0], "--data-dir", data_dir];
        all.extend_from_slice(&args[1..]);
        crate::support::ades(&all)
    };
    assert_eq!(cli(&["workspaces", "create", &workspace]).code, 0);
    let strike = file(
        "strike.json",
        json!({"title": "CLI Strike", "configuration": {
            "workspace": "cli-in", "monitor": {"type": "dir-watcher"},
            "files_to_ingest": [{"filename_regex": ".*"}], "recipe": {"name": "x"}}}),
    );
    let created = cli(&["strikes", "create", &strike, "--json"]);
    assert_eq!(created.code, 0, "{}", created.stderr);
    let created: Value = serde_json::from_str(&created.stdout).unwrap();
    assert_eq!(
        (created["name"].as_str(), created["state"].as_str()),
        (Some("cli-strike"), Some("running"))
    );
    let again = cli(&["strikes", "create", &strike]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let bad = file(
        "bad.json",
        json!({"title": "Bad", "configuration": {
            "workspace": "nowhere", "monitor": {"type": "dir-watcher"},
            "files_to_ingest": [{"filename_regex": ".*"}]}}),
    );
    let refused = cli(&["strikes", "create", &bad]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("nowhere"), "{}", refused.stderr);

    assert_eq!(cli(&["strikes", "stop", "cli-strike"]).code, 0);
    let shown = cli(&["strikes", "show", "cli-strike", "--json"]);
    let shown: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(shown["state"], "stopped");
    assert_eq!(cli(&["strikes", "start", "cli-strike"]).code, 0);
    let listed = cli(&["strikes", "list"]);
    assert!(
        listed.stdout.contains("cli-strike") && listed.stdout.contains("running"),
        "{}",
        listed.stdout
    );
    assert_ne!(cli(&["strikes", "stop", "nope"]).code, 0);

    let scan = file(
        "scan.json",
        json!({"title": "CLI Scan", "configuration": {
            "workspace": "cli-in", "files_to_ingest": [{"filename_regex": ".*"}]}}),
    );
    assert_eq!(cli(&["scans", "create", &scan]).code, 0);
    let scans = cli(&["scans", "list", "--json"]);
    let scans: Value = serde_json::from_str(&scans.stdout).unwrap();
    assert_eq!(scans[0]["name"], "cli-scan");

    let ingests = cli(&["ingests", "list", "--strike", "cli-strike", "--json"]);
    assert_eq!(ingests.code, 0, "{}", ingests.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&ingests.stdout).unwrap(),
        json!([])
    );
    let wrong = cli(&["ingests", "list", "--status", "lost"]);
    assert_ne!(wrong.code, 0);
    assert!(wrong.stderr.contains("deferred"), "{}", wrong.stderr);
}

/// A strike's `recipe` names a deployed Scale recipe: each file starts one workflow job,
/// which runs its step on the file.
#[tokio::test]
async fn a_strike_can_start_a_recipe() {
    let (image, process) = copy_image();
    let incoming = tempfile::tempdir().unwrap();
    let incoming_path = incoming.path().to_path_buf();
    let app = spawn_app_with(move |s| {
        s.auth.admin_token = ADMIN.to_string();
        s.catalog.images = vec![image];
        s.ingest.lease_seconds = 1.5;
        s.workspaces.insert(
            "recipe-in".into(),
            ades::storage::WorkspaceSpec::host("", incoming_path),
        );
    })
    .await;
    let client = &app.client;
    let recipe = json!({
        "name": "strike-recipe", "title": "One copy", "description": "Copies the file",
        "definition": {
            "input": {"files": [{"name": "IMAGE", "required": true, "multiple": false}]},
            "nodes": {"copy": {
                "dependencies": [],
                "input": {"INPUT": {"type": "recipe", "input": "IMAGE"}},
                "node_type": {"node_type": "job", "job_type_name": process,
                              "job_type_version": "1.0.0", "job_type_revision": 1}
            }}
        }
    });
    let response = client
        .post(app.url("/processes"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/vnd.ades.recipe+json")
        .body(recipe.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );
    let strike = json!({"name": "recipe-strike", "configuration": {
        "workspace": "recipe-in", "monitor": {"type": "dir-watcher", "settle_seconds": 0.2},
        "files_to_ingest": [{"filename_regex": ".*"}],
        "recipe": {"name": "strike-recipe", "revision_num": 1}}});
    let (status, body) = send(client, "POST", &app.url("/strikes"), Some(&strike), true).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    std::fs::write(incoming.path().join("scene.txt"), "through a recipe\n").unwrap();
    let results = wait_for_ingests(
        client,
        &app.url("/ingests?strike=recipe-strike"),
        Duration::from_secs(30),
        |r| r.len() == 1,
    )
    .await;
    assert_eq!(results[0]["status"], "ingested", "{results:#?}");
    let job = results[0]["job"]["href"].as_str().unwrap().to_string();
    let status = wait_final(client, &job, Duration::from_secs(90)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    assert_eq!(status["processID"], "strike-recipe", "{status:#}");
    app.stop().await;
}
