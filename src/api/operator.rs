//! The operator's pages: `GET /admin` (the queue, the worker pools, the recent failures
//! grouped by error, the processes), and the two forms of that page, `POST /admin/deploy`
//! and `POST /admin/undeploy`, which a browser posts (`application/x-www-form-urlencoded`)
//! and which answer `303 See Other` back to `/admin`.
//!
//! The overview is a JSON document like every other (the page is its HTML rendering); the
//! forms are for browsers, since a program deploys with `POST /processes` and undeploys
//! with `DELETE /processes/{id}`. Who may do what is the core's to say: the overview is
//! admin only (`jobs::operator`), deploying needs what `deploy::Deployer` needs.

use super::views::{
    EngineHealthView, FailureGroupView, FailuresView, LinkView, OperatorProcessView, OperatorView,
    QueueView, SignInView, WorkerHealthView,
};
use crate::auth::{Caller, Credential, RejectedSignIn};
use crate::deploy::{DeployError, Package};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use time::format_description::well_known::Rfc3339;

/// The query of `GET /admin`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperatorQuery {
    /// What the page's last form did (set by the forms' redirect), shown on the page.
    done: Option<String>,
}

/// The operator's overview of the server.
#[utoipa::path(
    get,
    path = "/admin",
    tag = "Operator",
    operation_id = "getOperatorOverview",
    params(OperatorQuery),
    responses(
        (status = 200, description = "The queue (waiting and running jobs), the engine, \
            the worker pools, the failures of the last 7 days grouped by error (the newest \
            500 failed jobs read), and the processes (which of them may be undeployed).",
            body = OperatorView),
        (status = 401, description = "No credential (authentication on).", body = crate::error::ExceptionView),
        (status = 403, description = "The caller is not an admin.", body = crate::error::ExceptionView),
    )
)]
pub async fn operator_overview(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    query: Result<Query<OperatorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::query("done", e.body_text()))?;
    let overview = app
        .jobs
        .queue_overview(&caller)
        .await
        .map_err(|e| e.into_api_error("the operator's overview"))?;
    let now = time::OffsetDateTime::now_utc();
    let processes = app
        .catalog
        .list()
        .iter()
        .map(|process| OperatorProcessView {
            id: process.id.to_string(),
            version: process.version.clone(),
            title: process.title.clone(),
            image: process.seed().map(|seed| seed.image.clone()),
            deployed: process.mutable,
            links: vec![
                LinkView::new(base.join(&format!("/processes/{}", process.id)), "self")
                    .typed("application/json")
                    .titled(process.title.clone()),
            ],
        })
        .collect();
    let view = OperatorView {
        title: "Operator".to_string(),
        queue: QueueView {
            queued: overview.queued,
            running: overview.running,
            running_here: overview.running_here,
        },
        engine: EngineHealthView::of(app.catalog.engine_state()),
        workers: overview
            .pools
            .into_iter()
            .map(|pool| WorkerHealthView::of(pool, now))
            .collect(),
        failures: FailuresView {
            since: overview.failures_since.format(&Rfc3339).unwrap_or_default(),
            examined: overview.failures_examined,
            groups: overview
                .failures
                .into_iter()
                .map(|group| FailureGroupView::new(group, &base))
                .collect(),
        },
        processes,
        done: query.done,
        links: vec![
            LinkView::new(base.join("/admin"), "self").typed("application/json"),
            LinkView::new(base.join("/admin?f=html"), "alternate").typed("text/html"),
            LinkView::new(base.join("/health"), "related")
                .typed("application/json")
                .titled("Health"),
            LinkView::new(base.join("/metrics"), "related")
                .typed(crate::metrics::CONTENT_TYPE)
                .titled("Metrics"),
        ],
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(view),
    )
        .into_response())
}

/// Deploys a process from the operator page's form.
#[utoipa::path(
    post,
    path = "/admin/deploy",
    tag = "Operator",
    operation_id = "deployFromForm",
    request_body(
        content = String,
        description = "The operator page's form: `image` (a registry reference such as \
            `registry.example.org/acme/io-demo-1.0.0-seed:1.0.0`), or `package` (an OGC \
            Application Package or a Seed manifest, as JSON) with `packageType` \
            (`application/ogcapppkg+json` or `application/vnd.seed.manifest+json`) and an \
            optional `image` for a manifest. A program deploys with `POST /processes`.",
        content_type = "application/x-www-form-urlencoded"
    ),
    responses(
        (status = 303, description = "Deployed: `Location` is the operator page, saying so."),
        (status = 400, description = "The form or the package cannot be used: the message says why.", body = crate::error::ExceptionView),
        (status = 401, description = "No credential, or not the admin token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not allowed to deploy, or a form posted from another site.", body = crate::error::ExceptionView),
        (status = 409, description = "A process with this id is deployed.", body = crate::error::ExceptionView),
        (status = 413, description = "The form is larger than `limits.max_json_body_bytes`.", body = crate::error::ExceptionView),
        (status = 415, description = "Not `application/x-www-form-urlencoded`.", body = crate::error::ExceptionView),
    )
)]
pub async fn deploy_form(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_same_site(&headers, &base)?;
    let form = read_form(&headers, body)?;
    let image = field(&form, "image");
    let package = match field(&form, "package") {
        Some(package) => Package {
            media_type: field(&form, "packageType")
                .unwrap_or("application/ogcapppkg+json")
                .to_string(),
            body: package.as_bytes().to_vec(),
            image_param: image.map(str::to_string),
            base_url: String::new(),
            entry_param: None,
        },
        None => {
            let image = image.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::MissingParameterValue,
                    "The form names no image and carries no package: fill in the image \
                     reference (registry/repository:tag), or paste a package.",
                )
            })?;
            Package {
                media_type: "application/vnd.ades.image+json".to_string(),
                body: serde_json::json!({ "image": image })
                    .to_string()
                    .into_bytes(),
                image_param: None,
                base_url: String::new(),
                entry_param: None,
            }
        }
    };
    let process = app
        .deployer
        .deploy(&caller, &package)
        .await
        .map_err(DeployError::into_api_error)?;
    Ok(back_to_the_page(&format!("deployed {}", process.id)))
}

/// Undeploys a process from the operator page's form.
#[utoipa::path(
    post,
    path = "/admin/undeploy",
    tag = "Operator",
    operation_id = "undeployFromForm",
    request_body(
        content = String,
        description = "The operator page's form: `id`, the process to undeploy. A program \
            undeploys with `DELETE /processes/{processID}`.",
        content_type = "application/x-www-form-urlencoded"
    ),
    responses(
        (status = 303, description = "Undeployed: `Location` is the operator page, saying so."),
        (status = 400, description = "The form names no process.", body = crate::error::ExceptionView),
        (status = 401, description = "No credential, or not the admin token.", body = crate::error::ExceptionView),
        (status = 403, description = "Not allowed to undeploy, a built-in process, or a form posted from another site.", body = crate::error::ExceptionView),
        (status = 404, description = "No such process.", body = crate::error::ExceptionView),
    )
)]
pub async fn undeploy_form(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_same_site(&headers, &base)?;
    let form = read_form(&headers, body)?;
    let id = field(&form, "id").ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingParameterValue,
            "The form names no process: send id=<process id>.",
        )
    })?;
    app.deployer
        .undeploy(&caller, id)
        .await
        .map_err(DeployError::into_api_error)?;
    Ok(back_to_the_page(&format!("undeployed {id}")))
}

/// Who the caller is: the sign-in page.
#[utoipa::path(
    get,
    path = "/sign-in",
    tag = "Operator",
    operation_id = "getSignIn",
    responses(
        (status = 200, description = "Who the request is from (user, roles, whether it may \
            deploy), whether it carried an accepted sign-in cookie, and why a cookie was not \
            accepted. A browser's page has the sign-in and sign-out forms.",
            body = SignInView),
    )
)]
pub async fn sign_in_page(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    rejected: Option<Extension<RejectedSignIn>>,
) -> Response {
    let rejected = rejected.map(|Extension(RejectedSignIn(why))| why);
    let cookie = crate::auth::sign_in_cookie(&headers).is_some();
    let deploy_refusal = caller.deploy_refusal();
    let view = SignInView {
        title: "Sign in".to_string(),
        authentication: if app.settings.auth.enabled {
            "on"
        } else {
            "off"
        }
        .to_string(),
        signed_in: cookie && rejected.is_none(),
        user: caller.user.clone(),
        roles: match caller.credential {
            Credential::Anonymous => Vec::new(),
            _ => caller
                .roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
        },
        may_deploy: deploy_refusal.is_none(),
        deploy_refusal,
        rejected: rejected.clone(),
        links: vec![
            LinkView::new(base.join("/sign-in"), "self").typed("application/json"),
            LinkView::new(base.join("/admin"), "related")
                .typed("application/json")
                .titled("Operator"),
        ],
    };
    let mut response = (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(view),
    )
        .into_response();
    if rejected.is_some() {
        // The cookie holds no longer (a revoked key): drop it, so the browser stops sending it.
        set_cookie(&mut response, None, &base);
    }
    response
}

/// Signs a browser in: keeps the token in the sign-in cookie.
#[utoipa::path(
    post,
    path = "/sign-in",
    tag = "Operator",
    operation_id = "signIn",
    request_body(
        content = String,
        description = "`token`: an API key (`ades_...`), the admin token, or a token of the \
            configured issuer. It is kept in an `HttpOnly`, `SameSite=Strict` cookie and sent \
            with the browser's requests as `Authorization: Bearer` would be.",
        content_type = "application/x-www-form-urlencoded"
    ),
    responses(
        (status = 303, description = "The cookie is set; `Location` is the sign-in page, \
            which says who the token stands for (or why it was not accepted)."),
        (status = 400, description = "The form carries no token.", body = crate::error::ExceptionView),
        (status = 403, description = "A form posted from another site.", body = crate::error::ExceptionView),
    )
)]
pub async fn sign_in(
    base: BaseUrl,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_same_site(&headers, &base)?;
    let form = read_form(&headers, body)?;
    let token = field(&form, "token").ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingParameterValue,
            "The form carries no token: paste an API key (ades_...) or the admin token.",
        )
    })?;
    let mut response = see_other("sign-in");
    set_cookie(&mut response, Some(token), &base);
    Ok(response)
}

/// Signs a browser out: clears the sign-in cookie.
#[utoipa::path(
    post,
    path = "/sign-out",
    tag = "Operator",
    operation_id = "signOut",
    responses(
        (status = 303, description = "The cookie is cleared; `Location` is the sign-in page."),
        (status = 403, description = "A form posted from another site.", body = crate::error::ExceptionView),
    )
)]
pub async fn sign_out(base: BaseUrl, headers: HeaderMap) -> Result<Response, ApiError> {
    require_same_site(&headers, &base)?;
    let mut response = see_other("sign-in");
    set_cookie(&mut response, None, &base);
    Ok(response)
}

fn set_cookie(response: &mut Response, token: Option<&str>, base: &BaseUrl) {
    let secure = base.0.starts_with("https://");
    if let Ok(value) = HeaderValue::from_str(&crate::auth::sign_in_cookie_header(token, secure)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}

/// `303 See Other` to `location`, relative to the form's URL (so a path prefix holds).
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Back to the operator page (from `/admin/deploy`, `../admin` is `/admin`), saying `done`.
fn back_to_the_page(done: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("done", done)
        .finish();
    see_other(&format!("../admin?{query}"))
}

/// A form another site's page posted is refused: the browser says where a form comes from
/// (`Sec-Fetch-Site`, `Origin`), and an origin must be this server's as its links name it
/// (`base`: `public_url`, or the request's host as the trusted proxies forward it). The
/// sign-in cookie is `SameSite=Strict` already; this also covers the admin token and
/// sign-in forms themselves.
fn require_same_site(headers: &HeaderMap, base: &BaseUrl) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let cross_site = text("sec-fetch-site").is_some_and(|site| site == "cross-site");
    let foreign_origin = match text("origin") {
        Some(origin) if origin != "null" => !origin_of(&base.0).eq_ignore_ascii_case(origin),
        _ => false,
    };
    if cross_site || foreign_origin {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "This form was posted from another site's page; open this server's own page \
             and submit it there.",
        ));
    }
    Ok(())
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// The pairs of an `application/x-www-form-urlencoded` body.
fn read_form(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !media
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "This form takes application/x-www-form-urlencoded, not {media:?}: post it \
                 from the server's page."
            ),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "The form is larger than this server accepts (limits.max_json_body_bytes); \
                 deploy a large package with POST /processes, or from a registry image.",
            )
        } else {
            ApiError::new(ErrorCode::InvalidRequestBody, rejection.body_text())
        }
    })?;
    Ok(url::form_urlencoded::parse(&body).into_owned().collect())
}

/// A field's value, trimmed; an empty field counts as absent.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let base = BaseUrl("https://ades.example.org/ogc".to_string());
        assert_eq!(origin_of(&base.0), "https://ades.example.org");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(require_same_site(&headers(&[]), &base).is_ok());
        assert!(require_same_site(
            &headers(&[
                ("origin", "https://ades.example.org"),
                ("sec-fetch-site", "same-origin"),
            ]),
            &base
        )
        .is_ok());
        for refused in [
            headers(&[("origin", "https://evil.example.net")]),
            headers(&[("origin", "http://ades.example.org")]),
            headers(&[("sec-fetch-site", "cross-site")]),
        ] {
            assert!(require_same_site(&refused, &base).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn empty_fields_count_as_absent() {
        let form = vec![
            ("image".to_string(), "  ".to_string()),
            ("id".to_string(), " echo ".to_string()),
        ];
        assert_eq!(field(&form, "image"), None);
        assert_eq!(field(&form, "id"), Some("echo"));
        assert_eq!(field(&form, "package"), None);
    }
}
