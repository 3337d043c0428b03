//! Which browser origins may call the server (`server.cors_origins`). None by default: a
//! page on another site cannot read the server's answers. `*` lets any page read them
//! without credentials (a public, anonymous server); listed origins may also send
//! credentials (cookies, `Authorization`).

use axum::http::{header, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// The CORS layer for `origins`; `None` when no origin is allowed (no CORS headers at all).
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    if origins.is_empty() {
        return Ok(None);
    }
    let exposed = [
        header::LOCATION,
        header::LINK,
        header::CONTENT_RANGE,
        header::RETRY_AFTER,
        header::ETAG,
        HeaderName::from_static("preference-applied"),
    ];
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
    ];
    if origins.iter().any(|o| o.trim() == "*") {
        return Ok(Some(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(methods)
                .allow_headers(Any)
                .expose_headers(exposed),
        ));
    }
    let listed = origins
        .iter()
        .map(|origin| {
            let origin = origin.trim().trim_end_matches('/');
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin["https://".len().min(origin.len())..].contains('/');
            HeaderValue::from_str(origin)
                .ok()
                .filter(|_| valid)
                .ok_or_else(|| {
                    format!(
                        "server.cors_origins: {origin:?} is not an origin like \
                         https://app.example.org (scheme, host and port only), nor \"*\""
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(listed))
            .allow_methods(methods)
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::RANGE,
                HeaderName::from_static("prefer"),
                HeaderName::from_static("x-api-key"),
            ])
            .allow_credentials(true)
            .expose_headers(exposed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(layer(&[]).unwrap().is_none());
        assert!(layer(&["*".into()]).unwrap().is_some());
        assert!(layer(&["https://app.example.org".into()])
            .unwrap()
            .is_some());
        assert!(layer(&["http://localhost:3000/".into()]).unwrap().is_some());
        let bad = layer(&["https://app.example.org/path".into()]).unwrap_err();
        assert!(bad.contains("cors_origins"), "{bad}");
        assert!(layer(&["app.example.org".into()]).is_err());
    }
}
