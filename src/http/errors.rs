//! How errors look at the HTTP level, whichever façade answered: every error response
//! that is not already a façade's own document becomes the JSON exception of the one
//! table in `crate::error` ([`json_exceptions`]), and a panicking handler an opaque JSON
//! 500 ([`panic_response`]).

use crate::error::{exception_response, ApiError, ErrorCode, ExceptionView};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Makes every error response a JSON exception: fills `instance` in ours, and turns the
/// plain ones axum and tower produce (unknown route, wrong method, rejected body) into the
/// same shape.
///
/// It wraps the whole server, not the OGC API routes only: the plain answers it rewrites
/// come from the router itself (404 for a path no façade has, 405 for a wrong method on
/// any route, `/wps` included, 413 from the body limit), outside every façade's routes,
/// and clients of both façades have always had them as JSON. A façade that answers its
/// own errors as XML documents (WPS `ows:ExceptionReport`) is left alone.
pub(crate) async fn json_exceptions(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ours = response.extensions().get::<ExceptionView>().is_some();
    let xml = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/xml")
                || v.starts_with("text/xml")
                || v.starts_with("text/html")
        });
    if xml {
        // A façade's own XML exception document (WPS `ows:ExceptionReport`) or the error
        // page of the OGC API's HTML encoding.
        return response;
    }
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json && !ours {
        // A JSON document of its own (`/health` when the database is down).
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut view = match parts.extensions.get::<ExceptionView>() {
        Some(view) => view.clone(),
        None => {
            let text = axum::body::to_bytes(body, 16 * 1024)
                .await
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            plain_error_view(status, &method, &path, text, allow)
        }
    };
    if view.instance.is_none() {
        view.instance = Some(path);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.extensions.remove::<ExceptionView>();
    let fresh = exception_response(status, &view);
    let (fresh_parts, body) = fresh.into_parts();
    for (name, value) in fresh_parts.headers.iter() {
        parts.headers.insert(name.clone(), value.clone());
    }
    parts.extensions.insert(view);
    if method == Method::HEAD {
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

fn plain_error_view(
    status: StatusCode,
    method: &Method,
    path: &str,
    text: String,
    allow: Option<String>,
) -> ExceptionView {
    let code = ErrorCode::for_status(status);
    let detail = match code {
        ErrorCode::NotFound => format!(
            "There is nothing at {path}. GET / links to the resources of this API; \
             GET /api describes every path."
        ),
        ErrorCode::MethodNotAllowed => match allow.filter(|a| !a.is_empty()) {
            Some(allow) => format!("{method} is not allowed on {path}; use {allow}."),
            None => format!("{method} is not allowed on {path}."),
        },
        ErrorCode::PayloadTooLarge => {
            "The request body is larger than this server accepts; send a smaller body \
             (large inputs can be passed by reference with {\"href\": \"...\"})."
                .to_string()
        }
        ErrorCode::Internal => {
            "The server failed to answer this request. The failure was logged.".to_string()
        }
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string(),
    };
    let mut view = ApiError::new(code, detail).view();
    view.status = status.as_u16();
    view
}

pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    let mut response = ApiError::new(
        ErrorCode::Internal,
        "The server failed to answer this request. The failure was logged.",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceBuilder;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    #[tokio::test]
    async fn a_panic_is_an_opaque_json_500() {
        async fn boom() -> &'static str {
            panic!("the secret is 42")
        }
        let app = axum::Router::new().route("/boom", get(boom)).layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(json_exceptions))
                .layer(CatchPanicLayer::custom(panic_response)),
        );
        let request = Request::builder().uri("/boom").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "urn:ades:error:internal");
        assert_eq!(body["instance"], "/boom");
        assert!(!body.to_string().contains("42"), "{body}");
    }
}
