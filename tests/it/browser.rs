//! The pages in a real browser: Debian's Chromium, headless, driven over WebDriver
//! (`chromedriver`, started here on a free loopback port) through fantoccini. A user opens
//! the landing page, follows links to a process, fills its form with a file and submits it,
//! lands on the job page and watches it reach `successful` and its log lines arrive without
//! a reload, follows the links to the output and reads it; the job list page takes in a new
//! job and its end as they happen; the header leads to the operator page.
//!
//! The test takes the README's screenshots, `docs/process-form.png`, `docs/job-page.png` and
//! `docs/operator-page.png`, with `ADES_UPDATE_SCREENSHOTS=1`, else the same names under
//! `target/browser-screenshots/`.
//!
//! Chromium and chromedriver come from apt (`chromium`, `chromium-driver`; the test script
//! installs them). Without them the test fails when `CI` is set and otherwise says loudly
//! that it did not run.

use crate::app::{spawn_app, TestApp};
use crate::support::{build_seed_image, free_port, repo_root, submit_async};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any one thing may take on a loaded machine (a page, a job, a row).
const WAIT: Duration = Duration::from_secs(90);
/// How often a condition is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(200);

/// What the user uploads, and what the job makes of it (upper case).
const UPLOAD: &str = "Hello from a browser form.\nSecond line, still quiet.\n";

/// The Seed image of this test: prints a line, waits, shouts its input file into
/// `shouted.txt` (upper case), prints more over a couple of seconds.
fn shout_image() -> String {
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let manifest = json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "ades-it-shout", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                    "title": "Shout", "description": "Upper-cases a text file, slowly",
                    "maintainer": {"name": "ades", "email": "ades@example.org"},
                    "timeout": 60,
                    "interface": {
                        "command": "${INPUT_FILE} ${OUTPUT_DIR}",
                        "inputs": {"files": [
                            {"name": "INPUT_FILE", "required": true, "mediaTypes": ["text/plain"]}
                        ]},
                        "outputs": {"files": [
                            {"name": "SHOUTED", "mediaType": "text/plain", "pattern": "shouted.txt"}
                        ]}
                    }
                }
            });
            let script = "set -eu\n\
                 echo \"shout: read $(wc -c < \"$1\") bytes\"\n\
                 sleep 3\n\
                 tr a-z A-Z < \"$1\" > \"$2/shouted.txt\"\n\
                 chmod a+r \"$2/shouted.txt\"\n\
                 echo 'shout: turned it up'\n\
                 sleep 1\n\
                 echo 'shout: done'\n";
            build_seed_image(&manifest, Some(script))
        })
        .clone()
}

/// Where `name` is on the PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// Chromium and chromedriver, or `None` (after saying so) when the test cannot run here.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium");
    let driver = on_path("chromedriver");
    if let (Some(chromium), Some(driver)) = (&chromium, &driver) {
        return Some((chromium.clone(), driver.clone()));
    }
    let missing = [("chromium", &chromium), ("chromedriver", &driver)]
        .iter()
        .filter(|(_, found)| found.is_none())
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(" and ");
    let why = format!(
        "{missing} not found on the PATH: install Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver; scripts/test-all.sh does)"
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "the browser test cannot run: {why}"
    );
    eprintln!("\n!!!!!!!! browser test NOT RUN: {why} !!!!!!!!\n");
    None
}

/// A chromedriver of this test, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(driver: &Path) -> Driver {
    let port = free_port();
    let log = repo_root().join("target/browser-chromedriver.log");
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let status = format!("{}/status", driver.url);
    let http = reqwest::Client::new();
    wait_until("chromedriver to answer", || async {
        let answer = http.get(&status).send().await.ok()?;
        let body: Value = answer.json().await.ok()?;
        body["value"]["ready"].as_bool().filter(|ready| *ready)
    })
    .await;
    driver
}

async fn open_browser(driver: &Driver, chromium: &Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": chromium,
            // Root in a container: no sandbox; no GPU; /dev/shm may be small.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1100,1300"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "start headless Chromium through chromedriver ({e}); see \
                 target/browser-chromedriver.log"
            )
        })
}

/// Polls `check` every [`POLL`] until it gives a value; fails naming `what` after [`WAIT`].
async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for {what} in vain"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The text of the element at `css`, or `None` while there is none.
async fn text_of(browser: &Client, css: &str) -> Option<String> {
    browser
        .find(Locator::Css(css))
        .await
        .ok()?
        .text()
        .await
        .ok()
}

/// Follows the first link matching `css` on the current page, once there is one.
async fn follow_link(browser: &Client, css: &str) {
    let link = wait_until(&format!("a link {css}"), || async {
        browser.find(Locator::Css(css)).await.ok()
    })
    .await;
    link.click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Sets a mark on the page's `window`: it survives only as long as the page is not loaded
/// again.
async fn mark_page(browser: &Client) {
    browser
        .execute("window.adesMark = 'not reloaded'; return true;", vec![])
        .await
        .expect("set the mark");
}

async fn still_marked(browser: &Client) -> bool {
    browser
        .execute("return window.adesMark || null;", vec![])
        .await
        .expect("read the mark")
        == json!("not reloaded")
}

/// Saves a screenshot of the page from its top as `name` under docs/
/// (ADES_UPDATE_SCREENSHOTS=1) or target/.
async fn screenshot(browser: &Client, name: &str) {
    browser
        .execute("window.scrollTo(0, 0); return true;", vec![])
        .await
        .expect("scroll to the top");
    let png = browser.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    let dir = if std::env::var("ADES_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        repo_root().join("docs")
    } else {
        repo_root().join("target/browser-screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_runs_a_job_from_the_browser_and_watches_it_live() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    shout_image();
    let app = spawn_app().await;
    let driver = start_driver(&driver).await;
    let browser = open_browser(&driver, &chromium).await;
    let outcome = run_in_browser(&app, &browser).await;
    let _ = browser.close().await;
    drop(driver);
    outcome.expect("the browser session");
}

/// The user's path; errors of the WebDriver session end it (the caller closes it).
async fn run_in_browser(
    app: &TestApp,
    browser: &Client,
) -> Result<(), fantoccini::error::CmdError> {
    // The landing page, then the process list, then the process, all by their links.
    browser.goto(&app.url("/")).await?;
    follow_link(browser, "main a[href$='/processes']").await;
    follow_link(browser, "main a[href$='/processes/ades-it-shout']").await;
    let form = wait_until("the execute form", || async {
        browser.find(Locator::Css("form[method='post']")).await.ok()
    })
    .await;

    // Fill the form: the upload is a real file the browser reads.
    let upload_dir = tempfile::tempdir().unwrap();
    let upload = upload_dir.path().join("greeting.txt");
    std::fs::write(&upload, UPLOAD).unwrap();
    let file_input = form
        .find(Locator::Css("input[type='file'][name='file:INPUT_FILE']"))
        .await?;
    file_input.send_keys(upload.to_str().unwrap()).await?;
    form.find(Locator::Css("select[name='mode']"))
        .await?
        .select_by_value("async")
        .await?;
    screenshot(browser, "process-form.png").await;
    form.find(Locator::Css("button[type='submit']"))
        .await?
        .click()
        .await?;

    // The job page, while the job still goes on.
    let job_url = wait_until("the job page after submitting", || async {
        let url = browser.current_url().await.ok()?;
        url.path().starts_with("/jobs/").then_some(url)
    })
    .await;
    let job_id = job_url.path().trim_start_matches("/jobs/").to_string();
    wait_until("the job page's status", || async {
        text_of(browser, "#job-status").await
    })
    .await;
    mark_page(browser).await;
    let first = text_of(browser, "#job-status").await.unwrap_or_default();
    assert!(
        first == "accepted" || first == "running",
        "the job page opened on a job still going, not {first:?}"
    );

    // Status and log arrive as they happen: a log line while the job still runs, then
    // `successful`, all on the page as it was first loaded.
    let line_while_running = std::cell::Cell::new(false);
    wait_until("the job page to show successful", || async {
        let status = text_of(browser, "#job-status").await?;
        let log = text_of(browser, "#job-log").await.unwrap_or_default();
        if status == "running" && log.contains("shout: read") {
            line_while_running.set(true);
        }
        assert!(
            !["failed", "dismissed"].contains(&status.as_str()),
            "the job ended {status}: {log}"
        );
        (status == "successful").then_some(())
    })
    .await;
    assert!(
        still_marked(browser).await,
        "the job page was loaded again: the status must arrive live"
    );
    let log = wait_until("the whole log on the job page", || async {
        let log = text_of(browser, "#job-log").await?;
        log.contains("shout: done").then_some(log)
    })
    .await;
    let read = format!("shout: read {} bytes", UPLOAD.len());
    for line in [read.as_str(), "shout: turned it up", "shout: done"] {
        assert!(log.contains(line), "the log shows {line:?}: {log}");
    }
    assert!(
        line_while_running.get(),
        "a log line appeared while the job was running: {log}"
    );
    assert!(
        still_marked(browser).await,
        "the log arrived without a reload"
    );
    screenshot(browser, "job-page.png").await;

    // The links the final status brought: the results, then the output file.
    follow_link(browser, "#job-links a[href$='/results']").await;
    follow_link(browser, "main a[href*='/outputs/']").await;
    let output_url = wait_until("the output file", || async {
        let url = browser.current_url().await.ok()?;
        url.path().contains("/outputs/").then_some(url)
    })
    .await;
    let shown = wait_until("the output's text", || async {
        text_of(browser, "body").await
    })
    .await;
    assert_eq!(shown.trim_end(), UPLOAD.to_uppercase().trim_end());
    let bytes = app
        .client
        .get(output_url.as_str())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        bytes.as_ref(),
        UPLOAD.to_uppercase().as_bytes(),
        "the output at {output_url}"
    );

    // The job list: a job submitted now gets a row, which goes to successful, live.
    browser.goto(&app.url("/jobs")).await?;
    wait_until("the job list with the first job", || async {
        text_of(browser, &format!("#job-{job_id} .job-status")).await
    })
    .await;
    mark_page(browser).await;
    let second = submit_async(
        &app.client,
        &app.url("/processes/ades-it-shout/execution"),
        &json!({ "inputs": { "INPUT_FILE": UPLOAD } }),
    )
    .await;
    let second_id = second.rsplit('/').next().unwrap().to_string();
    let row = format!("#job-{second_id} .job-status");
    wait_until("the new job's row", || async {
        text_of(browser, &row).await
    })
    .await;
    wait_until("the new job's row to show successful", || async {
        let status = text_of(browser, &row).await?;
        assert!(
            !["failed", "dismissed"].contains(&status.as_str()),
            "the second job ended {status}"
        );
        (status == "successful").then_some(())
    })
    .await;
    assert!(
        still_marked(browser).await,
        "the job list was loaded again: its rows must change live"
    );
    // Newest first: the new row is on top.
    let first_row = browser
        .find(Locator::Css("#job-rows tr"))
        .await?
        .attr("id")
        .await?;
    assert_eq!(
        first_row.as_deref(),
        Some(format!("job-{second_id}").as_str())
    );

    // The operator page, by the header's link: the queue, the pools, the processes.
    follow_link(browser, "header a[href$='/admin']").await;
    wait_until("the operator page's process table", || async {
        let processes = text_of(browser, "#processes + table").await?;
        processes.contains("ades-it-shout").then_some(())
    })
    .await;
    let queue = text_of(browser, "#queue + dl").await.unwrap_or_default();
    assert!(queue.contains("Waiting"), "the queue section: {queue}");
    screenshot(browser, "operator-page.png").await;
    Ok(())
}
