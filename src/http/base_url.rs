//! The absolute base every link is built on.

use super::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use std::convert::Infallible;

/// The service's base URL without a trailing slash (`https://ades.example.org/ogc`):
/// `public_url` when configured, else the scheme and host the client used: `Host`, and
/// `X-Forwarded-Proto` and `X-Forwarded-Host` only from a trusted proxy
/// ([`crate::http::proxies`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    /// Builds the base from the configured public URL or the request headers, believing
    /// the forwarded ones only when `forwarded_trusted` (the peer is a trusted proxy).
    pub fn from_headers(
        public_url: Option<&str>,
        headers: &HeaderMap,
        forwarded_trusted: bool,
    ) -> BaseUrl {
        if let Some(url) = public_url {
            return BaseUrl(url.trim_end_matches('/').to_string());
        }
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let forwarded = |name: &str| first(name).filter(|_| forwarded_trusted);
        let scheme = match forwarded("x-forwarded-proto").as_deref() {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = forwarded("x-forwarded-host")
            .or_else(|| first(header::HOST.as_str()))
            .filter(|h| is_plausible_host(h))
            .unwrap_or_else(|| "localhost".to_string());
        BaseUrl(format!("{scheme}://{host}"))
    }

    /// `base` + `path` (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The URL of a job.
    pub fn job(&self, job_id: &str) -> String {
        self.join(&format!("/jobs/{job_id}"))
    }

    /// Where one produced value can be fetched: a file at its published URL, a json value
    /// at `/jobs/{id}/results/{output}`.
    pub fn value(
        &self,
        job_id: &str,
        output_id: &str,
        value: &crate::domain::OutputValue,
    ) -> String {
        match value {
            crate::domain::OutputValue::File {
                published: Some(published),
                ..
            } => self.workspace_file(&published.workspace, &published.path),
            crate::domain::OutputValue::File { path, .. } => self.output_file(job_id, path),
            crate::domain::OutputValue::Json { .. } => self.join(&format!(
                "/jobs/{job_id}/results/{}",
                encode_segment(output_id)
            )),
        }
    }

    /// The URL of a file of a named workspace (served through ades), each path segment
    /// percent-encoded.
    pub fn workspace_file(&self, workspace: &str, path: &str) -> String {
        let encoded: Vec<String> = path.split('/').map(encode_segment).collect();
        self.join(&format!(
            "/workspaces/{}/files/{}",
            encode_segment(workspace),
            encoded.join("/")
        ))
    }

    /// The URL of a published output file, each path segment percent-encoded.
    pub fn output_file(&self, job_id: &str, relative: &str) -> String {
        let encoded: Vec<String> = relative.split('/').map(encode_segment).collect();
        self.join(&format!("/jobs/{job_id}/outputs/{}", encoded.join("/")))
    }
}

/// Host names and ports only: anything else in `Host` is not put into links.
fn is_plausible_host(host: &str) -> bool {
    host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

/// Percent-encodes one URL path segment (RFC 3986 `pchar` minus sub-delims, to be safe).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(BaseUrl::from_headers(
            state.settings.public_url.as_deref(),
            &parts.headers,
            state.settings.trusted_proxies.believes(peer),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn the_public_url_wins() {
        let base = BaseUrl::from_headers(
            Some("https://ades.example.org/ogc/"),
            &headers(&[("host", "internal:8080")]),
            true,
        );
        assert_eq!(base.0, "https://ades.example.org/ogc");
        assert_eq!(base.job("x"), "https://ades.example.org/ogc/jobs/x");
    }

    #[test]
    fn forwarded_headers_are_honoured_from_trusted_proxies_only() {
        let forwarded = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "ades.example.org, proxy2"),
        ]);
        let base = BaseUrl::from_headers(None, &forwarded, true);
        assert_eq!(base.0, "https://ades.example.org");
        let base = BaseUrl::from_headers(None, &forwarded, false);
        assert_eq!(base.0, "http://internal:8080");
        let base = BaseUrl::from_headers(None, &headers(&[("host", "127.0.0.1:3000")]), false);
        assert_eq!(base.0, "http://127.0.0.1:3000");
        let base = BaseUrl::from_headers(None, &headers(&[("host", "evil\"><x")]), false);
        assert_eq!(base.0, "http://localhost");
    }

    #[test]
    fn output_paths_are_encoded_per_segment() {
        let base = BaseUrl("http://h".into());
        assert_eq!(
            base.output_file("j", "dir/a b#.txt"),
            "http://h/jobs/j/outputs/dir/a%20b%23.txt"
        );
    }
}
