//! The HTML encoding of the OGC API (Part 1's `html` conformance class): every resource a
//! browser asks for is the JSON document the handler wrote, rendered through a template.
//!
//! One handler, two encodings: [`negotiate`] sits on the OGC API routes. When the request
//! prefers HTML (`?f=html`, or an `Accept` that ranks `text/html` above JSON, as browsers
//! send) it asks the handler for JSON, then renders that document with the template of the
//! route (`templates/`, shipped in the binary). So the page shows exactly what a program
//! gets, links included, and no handler knows about HTML. `?f=json` forces JSON. Answers
//! that are not JSON (raw results, output files) pass through untouched; a plain-text log
//! becomes a `<pre>`. Errors keep their status and render the exception.
//!
//! Links in pages are relative (`../jobs`), so the pages work behind a proxy that serves
//! ades under a path prefix; a page's JSON twin is `?f=json` with the other parameters kept.

mod form;

use crate::error::{ApiError, ErrorCode};
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde_json::Value;
use std::sync::OnceLock;

/// The media type of every page.
const HTML: &str = "text/html; charset=utf-8";

/// The largest document rendered as a page; a larger one (a huge results document) is
/// answered as JSON rather than held twice in memory.
const MAX_RENDERED_BYTES: usize = 8 * 1024 * 1024;

/// The page template and title of each route that has a page. Other routes (`/api`, which
/// negotiates by itself, output files and single raw results, whose bytes are the answer)
/// are left alone.
fn page_of(route: &str) -> Option<(&'static str, &'static str)> {
    Some(match route {
        "/" => ("landing.html", "ades"),
        "/conformance" => ("conformance.html", "Conformance"),
        "/processes" => ("processes.html", "Processes"),
        "/processes/{process_id}" => ("process.html", "Process"),
        "/processes/{process_id}/package" => ("document.html", "Package"),
        "/jobs" => ("jobs.html", "Jobs"),
        "/jobs/{job_id}" => ("job.html", "Job"),
        "/jobs/{job_id}/results" => ("results.html", "Results"),
        "/jobs/{job_id}/logs" => ("text.html", "Job log"),
        "/jobs/{job_id}/callbacks" => ("document.html", "Callbacks"),
        "/health" => ("document.html", "Health"),
        "/admin" => ("admin.html", "Operator"),
        "/sign-in" => ("sign-in.html", "Sign in"),
        _ => return None,
    })
}

/// The OpenAPI paths of the routes that have a page (`page_of`, in the document's names).
const PAGE_PATHS: [&str; 13] = [
    "/",
    "/conformance",
    "/processes",
    "/processes/{processID}",
    "/processes/{processID}/package",
    "/jobs",
    "/jobs/{jobID}",
    "/jobs/{jobID}/results",
    "/jobs/{jobID}/logs",
    "/jobs/{jobID}/callbacks",
    "/health",
    "/admin",
    "/sign-in",
];

/// Documents the HTML encoding in the OpenAPI document: each page route's GET takes `f`
/// and each of its answers may be `text/html`.
pub fn describe_pages(document: &mut Value) {
    let parameter = serde_json::json!({
        "name": "f",
        "in": "query",
        "required": false,
        "description": "The encoding: `json` or `html` (a page for browsers). Without it, an \
            `Accept` that ranks `text/html` above JSON gets the page, anything else JSON.",
        "schema": { "type": "string", "enum": ["json", "html"] }
    });
    let html = serde_json::json!({ "schema": { "type": "string" } });
    for path in PAGE_PATHS {
        let Some(get) = document
            .pointer_mut(&format!(
                "/paths/{}/get",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let parameters = get
            .entry("parameters")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = parameters.as_array_mut() {
            list.push(parameter.clone());
        }
        let Some(responses) = get.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for response in responses.values_mut() {
            if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                content.entry("text/html").or_insert_with(|| html.clone());
            }
        }
    }
}

/// The templates, compiled once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Every page escapes by default: templates end in `.html`.
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("landing.html", include_str!("templates/landing.html")),
            (
                "conformance.html",
                include_str!("templates/conformance.html"),
            ),
            ("processes.html", include_str!("templates/processes.html")),
            ("process.html", include_str!("templates/process.html")),
            ("jobs.html", include_str!("templates/jobs.html")),
            ("job.html", include_str!("templates/job.html")),
            ("results.html", include_str!("templates/results.html")),
            ("document.html", include_str!("templates/document.html")),
            ("text.html", include_str!("templates/text.html")),
            ("error.html", include_str!("templates/error.html")),
            ("admin.html", include_str!("templates/admin.html")),
            ("sign-in.html", include_str!("templates/sign-in.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("the template {name} does not compile: {e}"));
        }
        env
    })
}

/// The format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Json,
    /// Neither said: the handler negotiates as it always did.
    Unsaid,
}

/// The format asked for by `f` (`html`, `json`; anything else is a 400), else by `accept`:
/// the one rule of every page, `/api`'s included.
pub(crate) fn requested_format(f: Option<&str>, accept: &str) -> Result<Format, ApiError> {
    match f {
        Some("html") => Ok(Format::Html),
        Some("json") => Ok(Format::Json),
        Some(other) => Err(ApiError::query(
            "f",
            format!("{other:?} is not a format of this resource; use json or html"),
        )),
        None if prefers_html(accept) => Ok(Format::Html),
        None => Ok(Format::Unsaid),
    }
}

fn accept_of(request: &Request) -> &str {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether `accept` ranks `text/html` above every JSON type (a browser: `text/html,
/// application/xhtml+xml,...,*/*;q=0.8`). A tie goes to JSON, the machine default.
fn prefers_html(accept: &str) -> bool {
    let mut html = None::<f32>;
    let mut json = None::<f32>;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let slot = if media == "text/html" || media == "application/xhtml+xml" {
            &mut html
        } else if media == "application/json" || media.ends_with("+json") {
            &mut json
        } else {
            continue;
        };
        *slot = Some(slot.map_or(quality, |q| q.max(quality)));
    }
    match (html, json) {
        (Some(h), Some(j)) => h > j,
        (Some(h), None) => h > 0.0,
        _ => false,
    }
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    let query = request.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// The query's `f` and the other parameters, kept in their order.
fn split_f(request: &Request) -> (Option<String>, Vec<(String, String)>) {
    let (f, kept): (Vec<_>, Vec<_>) = query_pairs(request)
        .into_iter()
        .partition(|(name, _)| name == "f");
    (f.into_iter().next().map(|(_, value)| value), kept)
}

/// `request` with its query reduced to `kept` (no `f`) and `Accept: application/json`, as
/// the JSON handler expects it.
fn as_json_request(mut request: Request, kept: &[(String, String)]) -> Request {
    let mut uri = request.uri().path().to_string();
    if !kept.is_empty() {
        uri.push('?');
        uri.push_str(&encode_query(kept));
    }
    if let Ok(uri) = uri.parse() {
        *request.uri_mut() = uri;
    }
    let headers = request.headers_mut();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    // A page is not the JSON document: the document's tag says nothing of the page.
    headers.remove(header::IF_NONE_MATCH);
    request
}

fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `.` or `..` repeated: the way from the page at `path` back to the API root.
fn root_of(path: &str) -> String {
    let depth = path.trim_start_matches('/').matches('/').count();
    if depth == 0 {
        ".".to_string()
    } else {
        vec![".."; depth].join("/")
    }
}

/// The page's JSON twin: the same query (`kept`, without `f`) with `f=json`.
fn json_href(kept: &[(String, String)]) -> String {
    let mut pairs = kept.to_vec();
    pairs.push(("f".to_string(), "json".to_string()));
    format!("?{}", encode_query(&pairs))
}

/// The route a process page's form posts to (with `?f=html`).
const EXECUTION_ROUTE: &str = "/processes/{process_id}/execution";

/// The routes that only pages' forms post to (they answer 303 on success): a browser that
/// posted one sees a refusal as an error page.
const FORM_ROUTES: [&str; 4] = ["/admin/deploy", "/admin/undeploy", "/sign-in", "/sign-out"];

/// The middleware: renders the route's JSON answer as HTML when the request prefers it,
/// and turns a process page's form into the JSON execute request.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|route| route.as_str().to_string())
        .unwrap_or_default();
    if route == EXECUTION_ROUTE && request.method() == Method::POST && is_form_post(&request) {
        return execute_form(request, next).await;
    }
    if request.method() == Method::POST && FORM_ROUTES.contains(&route.as_str()) {
        return form_answer(request, next).await;
    }
    let page = page_of(&route);
    let Some((template, title)) = page.filter(|_| request.method() == Method::GET) else {
        return next.run(request).await;
    };
    let (f, kept) = split_f(&request);
    // A package's CWL form is a format of its own, answered by the handler.
    if route == "/processes/{process_id}/package" && f.as_deref() == Some("cwl") {
        return next.run(request).await;
    }
    let format = match requested_format(f.as_deref(), accept_of(&request)) {
        Ok(format) => format,
        Err(error) => return error.into_response(),
    };
    if format == Format::Unsaid {
        let mut response = next.run(request).await;
        vary_on_accept(&mut response);
        return response;
    }
    let page = Page {
        template,
        title,
        root: root_of(request.uri().path()),
        json_href: json_href(&kept),
    };
    let mut response = next.run(as_json_request(request, &kept)).await;
    vary_on_accept(&mut response);
    if format == Format::Json {
        return response;
    }
    render(&page, response).await
}

/// A form's answer: a refusal becomes an error page when the poster is a browser.
async fn form_answer(request: Request, next: Next) -> Response {
    let browser = prefers_html(accept_of(&request));
    let page = Page {
        template: "error.html",
        title: "Error",
        root: root_of(request.uri().path()),
        json_href: String::new(),
    };
    let response = next.run(request).await;
    let refused = response.status().is_client_error() || response.status().is_server_error();
    if browser && refused {
        return render(&page, response).await;
    }
    response
}

/// A browser's form: `?f=html` and a multipart body. Without `f=html` a form body stays the
/// 415 it always was (the JSON API reads JSON only).
fn is_form_post(request: &Request) -> bool {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    multipart && split_f(request).0.as_deref() == Some("html")
}

/// Runs the form's execute request through the JSON handler: an asynchronous job sends the
/// browser to its page (303 See Other), a synchronous one shows its results page.
async fn execute_form(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let page = Page {
        template: "results.html",
        title: "Results",
        root: root_of(parts.uri.path()),
        json_href: String::new(),
    };
    let form = match form::read_form(Request::from_parts(parts.clone(), body)).await {
        Ok(form) => form,
        Err(error) => return render(&page, error.into_response()).await,
    };
    let forwarded = Request::from_parts(parts, Body::from(form.body.to_string()));
    let (_, kept) = split_f(&forwarded);
    let mut forwarded = as_json_request(forwarded, &kept);
    let headers = forwarded.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.remove(header::CONTENT_LENGTH);
    if !form.sync {
        headers.insert("prefer", HeaderValue::from_static("respond-async"));
    }
    let response = next.run(forwarded).await;
    if response.status() == StatusCode::CREATED {
        if let Some(location) = response.headers().get(header::LOCATION).cloned() {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
        }
    }
    render(&page, response).await
}

/// Answers that depend on `Accept` say so, so a cache never serves a page to a program.
fn vary_on_accept(response: &mut Response) {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
}

/// The page being made: its template and title, the way back to the root, its JSON twin.
struct Page {
    template: &'static str,
    title: &'static str,
    root: String,
    json_href: String,
}

/// What kind of body the handler answered.
fn body_kind(response: &Response) -> Option<&'static str> {
    let media = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let essence = media.split(';').next().unwrap_or("").trim().to_string();
    if essence == "application/json" || essence.ends_with("+json") {
        Some("json")
    } else if essence == "text/plain" {
        Some("text")
    } else {
        None
    }
}

async fn render(page: &Page, response: Response) -> Response {
    // Bytes that are not a document (a raw result in its own media type) pass as they
    // are; plain text becomes a page only where the page is the text (the log).
    let kind = body_kind(&response);
    if kind.is_none() || (kind == Some("text") && page.template != "text.html") {
        return response;
    }
    let kind = kind.unwrap_or_default();
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_RENDERED_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            // Too large to render, and the body is spent: say so rather than send half.
            return ApiError::new(
                ErrorCode::Internal,
                "the document is too large to show as a page; ask for it with ?f=json",
            )
            .into_response();
        }
    };
    let (template, title) = if parts.status.is_client_error() || parts.status.is_server_error() {
        ("error.html", "Error")
    } else {
        (page.template, page.title)
    };
    let (doc, text) = if kind == "json" {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(doc) => (doc, String::new()),
            Err(_) => return Response::from_parts(parts, Body::from(bytes)),
        }
    } else {
        (Value::Null, String::from_utf8_lossy(&bytes).into_owned())
    };
    let context = minijinja::context! {
        doc => minijinja::Value::from(minijinja::value::Serde(&doc)),
        text => text,
        title => title,
        status => parts.status.as_u16(),
        root => page.root.as_str(),
        json_href => page.json_href.as_str(),
    };
    let rendered = templates()
        .get_template(template)
        .and_then(|t| t.render(context));
    match rendered {
        Ok(html) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::ETAG);
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
            Response::from_parts(parts, Body::from(html))
        }
        Err(error) => {
            tracing::error!(template, error = %error, "a page did not render");
            ApiError::new(
                ErrorCode::Internal,
                "the page could not be rendered; ask for it with ?f=json",
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_get_html_and_programs_json() {
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(firefox));
        assert!(prefers_html("text/html"));
        assert!(!prefers_html("*/*"));
        assert!(!prefers_html(""));
        assert!(!prefers_html("application/json"));
        assert!(!prefers_html("application/json, text/html"));
        assert!(prefers_html("application/json;q=0.5, text/html"));
        assert!(!prefers_html("text/html;q=0.4, application/json;q=0.9"));
        assert!(!prefers_html("text/html;q=0"));
    }

    #[test]
    fn pages_find_the_root_relatively() {
        assert_eq!(root_of("/"), ".");
        assert_eq!(root_of("/processes"), ".");
        assert_eq!(root_of("/processes/echo"), "..");
        assert_eq!(root_of("/jobs/1/results"), "../..");
    }

    #[test]
    fn every_template_compiles_and_renders_an_empty_document() {
        for (template, _) in [
            "/",
            "/conformance",
            "/processes",
            "/processes/{process_id}",
            "/jobs",
            "/jobs/{job_id}",
            "/jobs/{job_id}/results",
            "/jobs/{job_id}/logs",
            "/health",
            "/admin",
            "/sign-in",
        ]
        .map(|route| page_of(route).expect("a page"))
        .into_iter()
        .chain([("error.html", "")])
        {
            let html = templates()
                .get_template(template)
                .unwrap()
                .render(minijinja::context! { doc => minijinja::Value::from(minijinja::value::Serde(serde_json::json!({}))), root => ".", json_href => "?f=json", title => "t", status => 200, text => "" })
                .unwrap_or_else(|e| panic!("{template}: {e}"));
            assert!(html.starts_with("<!DOCTYPE html>"), "{template}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let doc = serde_json::json!({"title": "<script>alert(1)</script>", "links": []});
        let html = templates()
            .get_template("landing.html")
            .unwrap()
            .render(minijinja::context! { doc => minijinja::Value::from(minijinja::value::Serde(&doc)), root => ".", json_href => "?f=json", title => "t" })
            .unwrap();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
