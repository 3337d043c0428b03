//! The HTML encoding of the OGC API (Part 1's `html` class) over real HTTP with a real job:
//! every resource a browser asks for is a page that parses as HTML5 without a single parse
//! error (html5lib, strict), shows what the JSON twin says and links every link of it, and
//! every link on it answers (same-origin ones, followed as a browser would: no 404, no 5xx);
//! `?f=json` and `?f=html` override `Accept`; answers whose bytes are the result are left
//! alone.

use crate::app::{spawn_app, TestApp};
use crate::support::{example_image, get_json, submit_async, wait_final};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What Firefox sends for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// The Python that has html5lib (the test script installs it with OWSLib).
pub(crate) fn python() -> String {
    let python = std::env::var("ADES_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = Command::new(&python)
        .args(["-c", "import html5lib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "{python} cannot import html5lib: run the tests through scripts/test-all.sh, or \
         pip install html5lib into ADES_TEST_PYTHON"
    );
    python
}

/// Parses `page` with the HTML5 algorithm in strict mode: any parse error fails.
pub(crate) fn assert_html5(python: &str, page: &str, what: &str) {
    let mut child = Command::new(python)
        .args([
            "-c",
            "import sys, html5lib\n\
             html5lib.HTMLParser(strict=True).parse(sys.stdin.buffer.read())",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{what} is not valid HTML5: {}\n{page}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn get(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn media_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Every `href` of the document's `links`, and of its list members' links.
fn hrefs(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![doc];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(href)) = map.get("href") {
                    found.push(href.clone());
                }
                pending.extend(map.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
}

/// The `href` of every `<a>` of `page`, unescaped as a browser reads it.
fn anchor_hrefs(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find("<a ") {
        rest = &rest[at + 3..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(start) = tag.find("href=\"") {
            let value = &tag[start + 6..];
            let value = &value[..value.find('"').unwrap_or(value.len())];
            found.push(unescaped(value));
        }
    }
    found
}

/// The text of an attribute value as minijinja escaped it.
fn unescaped(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Follows every same-origin link of `page` (at `page_url`) as a browser would: each
/// answers, none with 404 or a server error. `checked` holds the URLs already followed.
async fn assert_links_resolve(
    app: &TestApp,
    page_url: &str,
    page: &str,
    checked: &mut std::collections::HashSet<String>,
) {
    let base = url::Url::parse(page_url).unwrap();
    let links = anchor_hrefs(page);
    assert!(!links.is_empty(), "{page_url} has no links at all");
    for href in links {
        let target = base
            .join(&href)
            .unwrap_or_else(|e| panic!("{page_url}: the link {href:?} is not a URL: {e}"));
        if target.origin() != base.origin() || !checked.insert(target.to_string()) {
            continue;
        }
        let answer = app
            .client
            .get(target.as_str())
            .header("accept", BROWSER)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        let status = answer.status();
        assert!(
            status != StatusCode::NOT_FOUND && !status.is_server_error(),
            "{page_url} links {href:?} ({target}), which answers {status}"
        );
    }
}

/// How a value appears in a page (minijinja escapes `&`, `<`, `>`, `"`, `'`, `/`).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_gets_every_resource_as_a_valid_page_that_links_what_the_json_links() {
    let python = python();
    example_image("io-demo");
    let app = spawn_app().await;
    let client = &app.client;
    let body = json!({
        "inputs": { "INPUT_FILE": "Hello, <browser> & friends\n" },
        "outputs": { "OUTPUT_FILE": { "transmissionMode": "reference" } },
        "response": "document"
    });
    let location = submit_async(client, &app.url("/processes/io-demo/execution"), &body).await;
    let status = wait_final(client, &location, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let job = status["jobID"].as_str().unwrap().to_string();

    let mut followed = std::collections::HashSet::new();
    for path in [
        "/".to_string(),
        "/conformance".to_string(),
        "/processes".to_string(),
        "/processes/io-demo".to_string(),
        "/jobs".to_string(),
        format!("/jobs/{job}"),
        format!("/jobs/{job}/results"),
        "/health".to_string(),
    ] {
        let page = get(&app, &path, BROWSER).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(
            media_type(&page).starts_with("text/html"),
            "{path}: {}",
            media_type(&page)
        );
        let vary = page.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(vary.contains("accept"), "{path}: Vary {vary}");
        let page = page.text().await.unwrap();
        assert_html5(&python, &page, &path);
        assert_links_resolve(&app, &app.url(&path), &page, &mut followed).await;

        // The JSON twin, by ?f=json even with a browser's Accept, and by default.
        let twin = get(&app, &format!("{path}?f=json"), BROWSER).await;
        assert!(media_type(&twin).contains("json"), "{path}?f=json");
        let doc: Value = twin.json().await.unwrap();
        let plain = get(&app, &path, "application/json").await;
        assert!(media_type(&plain).contains("json"), "{path} as JSON");
        for href in hrefs(&doc) {
            assert!(
                page.contains(&format!("href=\"{}\"", escaped(&href))),
                "{path}: the page does not link {href}\n{page}"
            );
        }
        assert!(
            page.contains("href=\"?f=json\""),
            "{path}: no link to the JSON twin"
        );
    }

    // What each page shows.
    let page = get(&app, &format!("/jobs/{job}"), BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&job) && page.contains("successful"), "{page}");
    let page = get(&app, "/processes/io-demo", BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("INPUT_FILE") && page.contains("OUTPUT_FILE"),
        "{page}"
    );
    let page = get(&app, "/conformance", BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&escaped("conf/html")),
        "the class is advertised: {page}"
    );

    // ?f=html wins over a program's Accept; a format that does not exist is a 400.
    let page = get(&app, "/processes?f=html", "application/json").await;
    assert!(media_type(&page).starts_with("text/html"));
    let refused = get(&app, "/processes?f=xml", BROWSER).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let exception: Value = refused.json().await.unwrap();
    assert!(
        exception["detail"]
            .as_str()
            .unwrap()
            .contains("json or html"),
        "{exception:#}"
    );

    // An error keeps its status and says what went wrong, as a page.
    let missing = get(&app, "/jobs/no-such-job-here", BROWSER).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(media_type(&missing).starts_with("text/html"));
    let page = missing.text().await.unwrap();
    assert_html5(&python, &page, "the 404 page");
    assert!(page.contains("no-such-job"), "{page}");

    // The log is a page too, the container's output escaped in it.
    let log = get(&app, &format!("/jobs/{job}/logs"), BROWSER).await;
    assert_eq!(log.status(), StatusCode::OK);
    assert!(media_type(&log).starts_with("text/html"));
    let log_page = log.text().await.unwrap();
    assert_html5(&python, &log_page, "the log page");
    let log_url = app.url(&format!("/jobs/{job}/logs"));
    assert_links_resolve(&app, &log_url, &log_page, &mut followed).await;

    // Bytes that are the result are never wrapped: the output file is the file.
    let results = get(&app, &format!("/jobs/{job}/results?f=json"), BROWSER).await;
    let results: Value = results.json().await.unwrap();
    let href = results["OUTPUT_FILE"]["href"].as_str().expect("href");
    let file = client
        .get(href)
        .header("accept", BROWSER)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(
        !media_type(&file).starts_with("text/html"),
        "{}",
        media_type(&file)
    );
    assert_eq!(file.text().await.unwrap(), "Hello, <browser> & friends\n");

    // A program that asks for nothing in particular gets JSON, as before.
    let plain = get(&app, "/processes", "*/*").await;
    assert!(media_type(&plain).contains("json"));
}

/// Posts `form` as the io-demo page's form does.
async fn post_form(
    browser: &reqwest::Client,
    app: &TestApp,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    browser
        .post(app.url("/processes/io-demo/execution?f=html"))
        .header("accept", BROWSER)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_process_form_runs_a_job_from_an_upload_and_lands_on_its_page() {
    let python = python();
    example_image("io-demo");
    let app = spawn_app().await;
    // A browser does not follow the 303 for us here: the test looks at it.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = get(&app, "/processes/io-demo", BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert_html5(&python, &page, "the process page with its form");
    assert!(
        page.contains("action=\"../processes/io-demo/execution?f=html\""),
        "{page}"
    );
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(page.contains("name=\"file:INPUT_FILE\""), "{page}");
    assert!(page.contains("name=\"href:INPUT_FILE\""), "{page}");
    // Files come back as links: the form asks for them by reference.
    assert!(
        page.contains("name=\"output:OUTPUT_FILE\" value=\"reference\""),
        "{page}"
    );

    // Asynchronous: 303 to the job page, which refreshes itself until the job ends.
    let upload = "Uploaded from a browser form\n";
    let form = reqwest::multipart::Form::new()
        .part(
            "file:INPUT_FILE",
            reqwest::multipart::Part::bytes(upload.as_bytes().to_vec())
                .file_name("input.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .text("output:OUTPUT_FILE", "reference")
        .text("mode", "async");
    let response = post_form(&browser, &app, form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let job_url = response.headers()["location"].to_str().unwrap().to_string();
    assert!(job_url.starts_with(&app.address), "{job_url}");
    let status = wait_final(&app.client, &job_url, Duration::from_secs(60)).await;
    assert_eq!(status["status"], "successful", "{status:#}");
    let page = browser
        .get(&job_url)
        .header("accept", BROWSER)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("successful"), "{page}");
    assert!(
        !page.contains("http-equiv=\"refresh\""),
        "a final job stops refreshing"
    );
    let results = get_json(&app.client, &format!("{job_url}/results")).await;
    let href = results["OUTPUT_FILE"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("an output link: {results:#}"));
    let output = app.client.get(href).send().await.unwrap();
    assert_eq!(output.text().await.unwrap(), upload);

    // Synchronous: the results page, linking the output.
    let form = reqwest::multipart::Form::new()
        .part(
            "file:INPUT_FILE",
            reqwest::multipart::Part::bytes(b"sync\n".to_vec()).file_name("in.txt"),
        )
        .text("output:OUTPUT_FILE", "reference")
        .text("mode", "sync");
    let response = post_form(&browser, &app, form).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(media_type(&response).starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert_html5(&python, &page, "the results page of a synchronous run");
    assert!(
        page.contains("OUTPUT_FILE") && page.contains("&#x2f;outputs&#x2f;"),
        "{page}"
    );

    // A form without the input is the handler's missing-input 400, as a page.
    let form = reqwest::multipart::Form::new().text("mode", "async");
    let response = post_form(&browser, &app, form).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("INPUT_FILE"),
        "the page names the missing input: {page}"
    );

    // Without f=html a form body is still refused: the JSON API reads JSON.
    let form = reqwest::multipart::Form::new().text("string:INPUT_FILE", "x");
    let response = browser
        .post(app.url("/processes/io-demo/execution"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}
