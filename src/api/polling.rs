//! Cheap polling of jobs: every job status and job list answer carries an `ETag` (a
//! digest of the exact bytes of the document), a request whose `If-None-Match` names it is
//! answered `304 Not Modified` with no body, and `GET /jobs/{jobID}` with `Prefer: wait=N`
//! is a long poll: it answers as soon as the job's document differs from the one the
//! client holds (its `If-None-Match`, or without one the document as it was when the
//! request arrived), or after N seconds (at most [`MAX_WAIT`]) with what it is then.
//!
//! A client that follows a job this way makes one request per change instead of one per
//! second, and each unchanged answer is a few bytes.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The longest a long poll is held, whatever `Prefer: wait` asks (a proxy between the
/// client and the server would cut a longer one anyway).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A JSON document with its entity tag.
pub struct Tagged {
    pub bytes: Vec<u8>,
    pub etag: String,
}

impl Tagged {
    /// The document's bytes, tagged with the first 128 bits of their SHA-256: equal bytes,
    /// equal tags, on every replica.
    pub fn of(document: &impl serde::Serialize) -> Tagged {
        let bytes = serde_json::to_vec(document).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        let etag = format!("\"{}\"", hex_of(&digest[..16]));
        Tagged { bytes, etag }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entity tags of `If-None-Match` (`W/` prefixes dropped: a GET compares weakly), or
/// `None` when the request has none.
pub fn if_none_match(headers: &HeaderMap) -> Option<Vec<String>> {
    let tags: Vec<String> = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").to_string())
        .filter(|tag| !tag.is_empty())
        .collect();
    (!tags.is_empty()).then_some(tags)
}

/// Whether `etag` is one of the tags the client holds (`*` holds any).
pub fn holds(tags: &[String], etag: &str) -> bool {
    tags.iter().any(|tag| tag == "*" || tag == etag)
}

/// The answer to a GET of `document`: 304 when the client holds it already, else 200 with
/// the JSON; both with its `ETag`. `Cache-Control: no-cache` lets a cache keep the body
/// but makes it ask again each time, as a job changes at any moment.
pub fn answer(headers: &HeaderMap, document: Tagged) -> Response {
    let not_modified = if_none_match(headers).is_some_and(|tags| holds(&tags, &document.etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            Body::from(document.bytes),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&document.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// How long a long poll may be held: `Prefer: wait=N`, capped by [`MAX_WAIT`]; `None`
/// without the preference.
pub fn long_poll(headers: &HeaderMap) -> Option<Duration> {
    super::execute::Preferences::from_headers(headers)
        .wait
        .map(|wait| wait.min(MAX_WAIT))
}

/// `Preference-Applied: wait=N` for a long poll that was held.
pub fn applied(response: &mut Response, wait: Duration) {
    if let Ok(value) = HeaderValue::from_str(&format!("wait={}", wait.as_secs())) {
        response.headers_mut().insert("preference-applied", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_documents_have_equal_tags_and_others_not() {
        let a = Tagged::of(&serde_json::json!({"status": "running", "progress": 10}));
        let b = Tagged::of(&serde_json::json!({"status": "running", "progress": 10}));
        let c = Tagged::of(&serde_json::json!({"status": "running", "progress": 11}));
        assert_eq!(a.etag, b.etag);
        assert_ne!(a.etag, c.etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"') && a.etag.len() == 34);
    }

    #[test]
    fn if_none_match_is_read_weakly_and_star_holds_anything() {
        let mut headers = HeaderMap::new();
        assert!(if_none_match(&headers).is_none());
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"abc\", \"def\""),
        );
        let tags = if_none_match(&headers).unwrap();
        assert!(holds(&tags, "\"abc\""));
        assert!(holds(&tags, "\"def\""));
        assert!(!holds(&tags, "\"xyz\""));
        assert!(holds(&["*".to_string()], "\"xyz\""));
    }

    #[test]
    fn a_held_document_is_304_without_a_body() {
        let document = Tagged::of(&serde_json::json!({"jobs": []}));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&document.etag).unwrap(),
        );
        let etag = document.etag.clone();
        let response = answer(&headers, document);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag.as_str());
        let fresh = answer(
            &HeaderMap::new(),
            Tagged::of(&serde_json::json!({"jobs": []})),
        );
        assert_eq!(fresh.status(), StatusCode::OK);
        assert_eq!(fresh.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn a_long_poll_is_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(long_poll(&headers), None);
        headers.insert("prefer", HeaderValue::from_static("wait=5"));
        assert_eq!(long_poll(&headers), Some(Duration::from_secs(5)));
        headers.insert("prefer", HeaderValue::from_static("wait=86400"));
        assert_eq!(long_poll(&headers), Some(MAX_WAIT));
    }
}
