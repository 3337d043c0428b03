//! The operator's pages over real HTTP (README, "Operator pages"): the overview counts real
//! failed containers by their error, a browser signs in with the admin token through the
//! sign-in cookie and deploys a real registry image from the page's form and undeploys it,
//! forms from another site are refused, and with authentication on only admins see the
//! page while a revoked key's cookie is dropped with the reason shown.

use crate::deploy::{publish, unique, TOKEN};
use crate::html::{assert_html5, python};
use crate::support::{ades, shell_job_image, spawn_app_with, submit_async, wait_final};
use reqwest::header::{HeaderMap, ACCEPT, CONNECTION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// What Firefox sends for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const FORM: &str = "application/x-www-form-urlencoded";

/// A client that shows redirects instead of following them, as the tests check them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The `name=value` of the answer's `Set-Cookie` (without its attributes), and the whole
/// header for checking them.
fn set_cookie(headers: &HeaderMap) -> (String, String) {
    let whole = headers
        .get(SET_COOKIE)
        .expect("a Set-Cookie")
        .to_str()
        .unwrap()
        .to_string();
    let pair = whole.split(';').next().unwrap().to_string();
    (pair, whole)
}

/// Posts a page's form (`pairs`), with the sign-in `cookie` when given.
async fn post_form(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, FORM)
        .body(form(pairs));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

/// What `GET /sign-in` says of a request carrying `cookie`.
async fn who_is(client: &reqwest::Client, app: &crate::app::TestApp, cookie: &str) -> Value {
    let answer = client
        .get(app.url("/sign-in"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    answer.json().await.unwrap()
}

fn location(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .expect("a Location")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_page_groups_failures_and_deploys_and_undeploys_from_its_forms() {
    let shell = shell_job_image();
    let image = publish(&unique("op-deploy"), "1.0.0", "operator", "1.0.0", true);
    let app = spawn_app_with(|settings| {
        settings.catalog.discover_local_images = true;
        settings.auth.admin_token = TOKEN.to_string();
    })
    .await;
    let client = browser();
    let python = python();

    // Two containers that exit 3 and one that exits 4: one error, two exit codes.
    let mut failed = Vec::new();
    for code in [3, 3, 4] {
        let job = submit_async(
            &app.client,
            &app.url("/processes/ades-it-shell/execution"),
            &json!({"inputs": {"SCRIPT": format!("exit {code}")}}),
        )
        .await;
        failed.push(job);
    }
    for job in &failed {
        let status = wait_final(&app.client, job, Duration::from_secs(60)).await;
        assert_eq!(status["status"], "failed", "{status:#}");
    }
    let overview: Value = client
        .get(app.url("/admin"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups = overview["failures"]["groups"].as_array().unwrap();
    let group = groups
        .iter()
        .find(|g| g["processes"] == json!(["ades-it-shell"]))
        .unwrap_or_else(|| panic!("no group of the shell's failures: {overview:#}"));
    assert_eq!(group["count"], 3, "{group:#}");
    let mut codes: Vec<i64> = group["exitCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_i64().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, [3, 4], "{group:#}");
    assert_eq!(group["jobs"].as_array().unwrap().len(), 3);
    assert_eq!(overview["queue"]["queued"], 0, "{overview:#}");
    assert!(
        overview["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["state"] == "live"),
        "{overview:#}"
    );
    assert!(
        overview["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "ades-it-shell" && p["deployed"] == false),
        "{overview:#}"
    );
    assert!(shell.starts_with("ades-it-shell"));

    // The page: valid HTML naming the error, its count and links to the jobs.
    let page = client
        .get(app.url("/admin"))
        .header(ACCEPT, BROWSER)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert_html5(&python, &page, "the operator page");
    let error = group["error"].as_str().unwrap();
    assert!(page.contains(error), "{page}");
    let first_job = failed[2].rsplit('/').next().unwrap();
    assert!(page.contains(&format!("/jobs/{first_job}\"")), "{page}");

    // Deploying without the admin token: refused, as an error page for a browser.
    let body = form(&[("image", &image)]);
    let refused = client
        .post(app.url("/admin/deploy"))
        .header(ACCEPT, BROWSER)
        .header(CONTENT_TYPE, FORM)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let text = refused.text().await.unwrap();
    assert_html5(&python, &text, "the refusal page");
    assert!(text.contains("admin token"), "{text}");

    // A wrong token signs in, and the sign-in page says deploying is still refused.
    let signed = post_form(
        &client,
        &app.url("/sign-in"),
        None,
        &[("token", "not-the-token")],
    )
    .await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let (wrong, _) = set_cookie(signed.headers());
    let who: Value = who_is(&client, &app, &wrong).await;
    assert_eq!(who["mayDeploy"], false, "{who:#}");
    assert!(
        who["deployRefusal"]
            .as_str()
            .unwrap()
            .contains("not the admin token"),
        "{who:#}"
    );

    // The admin token signs in: an HttpOnly, SameSite=Strict cookie.
    let signed = post_form(&client, &app.url("/sign-in"), None, &[("token", TOKEN)]).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(signed.headers()), "sign-in");
    let (cookie, whole) = set_cookie(signed.headers());
    assert!(
        whole.contains("HttpOnly") && whole.contains("SameSite=Strict"),
        "{whole}"
    );
    let who: Value = who_is(&client, &app, &cookie).await;
    assert_eq!(who["signedIn"], true, "{who:#}");
    assert_eq!(who["mayDeploy"], true, "{who:#}");

    // A form posted from another site's page is refused, cookie or not.
    let foreign = client
        .post(app.url("/admin/deploy"))
        .header(COOKIE, &cookie)
        .header("origin", "http://evil.example.net")
        .header(CONTENT_TYPE, FORM)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);

    // Deploy from the form: 303 back to the page, which says so and lists the process.
    let deployed = client
        .post(app.url("/admin/deploy"))
        .header(COOKIE, &cookie)
        .header("origin", app.url("").trim_end_matches('/'))
        .header(CONTENT_TYPE, FORM)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deployed.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        deployed.text().await
    );
    let back = location(deployed.headers());
    assert!(back.starts_with("../admin?done=deployed+"), "{back}");
    let id = back
        .trim_start_matches("../admin?done=deployed+")
        .to_string();
    let overview: Value = client
        .get(app.url(&format!("/admin?done=deployed+{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overview["done"], format!("deployed {id}"));
    let process = overview["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {overview:#}"))
        .clone();
    assert_eq!(process["deployed"], true);
    let described = app
        .client
        .get(app.url(&format!("/processes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(described.status(), StatusCode::OK);
    let page = client
        .get(app.url("/admin?f=html"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "<input type=\"hidden\" name=\"id\" value=\"{id}\">"
        )),
        "no undeploy form for {id}: {page}"
    );

    // Undeploy from the form; the engine's own image cannot be undeployed.
    let undeployed = post_form(
        &client,
        &app.url("/admin/undeploy"),
        Some(&cookie),
        &[("id", &id)],
    )
    .await;
    assert_eq!(undeployed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(undeployed.headers()),
        format!("../admin?done=undeployed+{id}")
    );
    let gone = app
        .client
        .get(app.url(&format!("/processes/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let builtin = post_form(
        &client,
        &app.url("/admin/undeploy"),
        Some(&cookie),
        &[("id", "ades-it-shell")],
    )
    .await;
    assert_eq!(builtin.status(), StatusCode::FORBIDDEN);
    let missing = post_form(
        &client,
        &app.url("/admin/undeploy"),
        Some(&cookie),
        &[("id", " ")],
    )
    .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    // A form over the JSON body limit (16 MiB by default) is 413, not a 400.
    let huge = "x".repeat(17 * 1024 * 1024);
    let too_large = post_form(
        &client,
        &app.url("/admin/deploy"),
        Some(&cookie),
        &[("package", &huge)],
    )
    .await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The refused body was not read: the server closes that connection and says so.
    assert_eq!(too_large.headers()[CONNECTION], "close");
    let json_body = client
        .post(app.url("/admin/deploy"))
        .header(COOKIE, &cookie)
        .json(&json!({"image": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Signing out clears the cookie.
    let out = client
        .post(app.url("/sign-out"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let (cleared, whole) = set_cookie(out.headers());
    assert_eq!(cleared, "ades_token=");
    assert!(whole.contains("Max-Age=0"), "{whole}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_authentication_on_only_admins_see_the_page_and_a_revoked_cookie_is_dropped() {
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db_dir.path().join("ades.db").display());
    let app = spawn_app_with(|s| {
        s.auth.mode = ades::config::AuthMode::On;
        s.database.url = url.clone();
        s.catalog.discover_local_images = false;
    })
    .await;
    let client = browser();
    let key = |user: &str, role: &str| {
        let made = ades(&[
            "keys",
            "create",
            "--database-url",
            &url,
            "--user",
            user,
            "--role",
            role,
        ]);
        assert_eq!(made.code, 0, "{made:?}");
        made.stdout.lines().next().unwrap().trim().to_string()
    };
    let admin = key("olga", "admin");
    let user = key("uma", "user");

    // Without a credential: 401; the sign-in page itself answers.
    let anonymous = client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let page = client.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    // A user's cookie: 403 naming the role; an admin's: the overview.
    let cookie_of = |token: &str| {
        format!(
            "ades_token={}",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        )
    };
    let as_user = client
        .get(app.url("/admin"))
        .header(COOKIE, cookie_of(&user))
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), StatusCode::FORBIDDEN);
    let text = as_user.text().await.unwrap();
    assert!(text.contains("admin"), "{text}");
    let as_admin = client
        .get(app.url("/admin"))
        .header(COOKIE, cookie_of(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(as_admin.status(), StatusCode::OK);
    let who: Value = who_is(&client, &app, &cookie_of(&admin)).await;
    assert_eq!(who["user"], "olga");
    assert_eq!(who["roles"], json!(["admin"]));
    assert_eq!(who["authentication"], "on");

    // A header credential wins over the cookie.
    let header_wins = client
        .get(app.url("/admin"))
        .header(COOKIE, cookie_of(&admin))
        .header("x-api-key", &user)
        .send()
        .await
        .unwrap();
    assert_eq!(header_wins.status(), StatusCode::FORBIDDEN);

    // Revoked: the cookie no longer opens anything, and the sign-in page drops it, saying why.
    let listed = ades(&["keys", "list", "--json", "--database-url", &url]);
    let keys: Value = serde_json::from_str(&listed.stdout).unwrap();
    let id = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["user"] == "olga")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = ades(&["keys", "revoke", "--database-url", &url, &id]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        // The server may remember a key for a moment; it must let go of a revoked one.
        let answer = client
            .get(app.url("/admin"))
            .header(COOKIE, cookie_of(&admin))
            .send()
            .await
            .unwrap();
        if answer.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", answer.status());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let page = client
        .get(app.url("/sign-in"))
        .header(COOKIE, cookie_of(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (cleared, _) = set_cookie(page.headers());
    assert_eq!(cleared, "ades_token=");
    let who: Value = page.json().await.unwrap();
    assert_eq!(who["signedIn"], false, "{who:#}");
    assert!(
        who["rejected"].as_str().unwrap().contains("revoked"),
        "{who:#}"
    );

    app.stop().await;
}
