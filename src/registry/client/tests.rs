use super::*;
use crate::registry::{RegistryCredentials, RegistrySettings};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap as AxumHeaders, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn content_digests_are_checked() {
    let body = b"{\"schemaVersion\":2}";
    let actual = digest_of(body);
    // No header: the body's own digest.
    assert_eq!(content_digest(None, None, body).unwrap(), actual);
    // The header agrees.
    assert_eq!(content_digest(None, Some(&actual), body).unwrap(), actual);
    // A pinned reference must get exactly what it names.
    assert_eq!(content_digest(Some(&actual), None, body).unwrap(), actual);
    let err = content_digest(Some(DIGEST_A), Some(DIGEST_A), body).unwrap_err();
    assert!(err.contains("refusing"), "{err}");
    // A sha256 header that disagrees with the body is refused.
    let err = content_digest(None, Some(DIGEST_A), body).unwrap_err();
    assert!(err.contains("Docker-Content-Digest"), "{err}");
    // Another algorithm cannot be checked here and is taken as given.
    assert_eq!(
        content_digest(None, Some("sha512:abc"), body).unwrap(),
        "sha512:abc"
    );
}

#[test]
fn loopback_and_insecure_registries_use_plain_http() {
    let client = RegistryClient::new(RegistrySettings {
        insecure: vec!["registry.lan:5000".into(), "plain.example".into()],
        ..RegistrySettings::default()
    });
    for registry in [
        "localhost",
        "localhost:5000",
        "127.0.0.1:5000",
        "127.1.2.3",
        "[::1]:5000",
        "registry.lan:5000",
        "plain.example:8080",
    ] {
        assert!(client.plain_http(registry), "{registry}");
    }
    for registry in [
        "docker.io",
        "ghcr.io",
        "registry.lan:5001",
        "10.0.0.1:5000",
        "[::2]",
    ] {
        assert!(!client.plain_http(registry), "{registry}");
    }
    assert_eq!(
        client.url("docker.io", "/v2/").unwrap().as_str(),
        "https://registry-1.docker.io/v2/"
    );
    assert_eq!(
        client
            .url("127.0.0.1:5000", "/v2/_catalog")
            .unwrap()
            .as_str(),
        "http://127.0.0.1:5000/v2/_catalog"
    );
}

#[test]
fn indexes_choose_linux_amd64_else_the_first() {
    let entry = |digest: &str, os: &str, arch: &str| json!({"digest": digest, "platform": {"os": os, "architecture": arch}});
    let b = format!("sha256:{}", "b".repeat(64));
    let index = json!({"mediaType": OCI_INDEX, "manifests": [
        entry(DIGEST_A, "linux", "arm64"), entry(&b, "linux", "amd64")
    ]});
    assert!(is_index(&index));
    assert_eq!(choose_platform(&index).unwrap(), b);
    let index = json!({"manifests": [entry(DIGEST_A, "windows", "amd64")]});
    assert!(is_index(&index));
    assert_eq!(choose_platform(&index).unwrap(), DIGEST_A);
    assert!(choose_platform(&json!({"manifests": []})).is_err());
    assert!(!is_index(
        &json!({"mediaType": DOCKER_MANIFEST, "config": {}})
    ));
}

#[test]
fn labels_may_be_null() {
    assert!(labels_of(&json!({"config": {"Labels": null}})).is_empty());
    assert!(labels_of(&json!({})).is_empty());
    let labels = labels_of(&json!({"config": {"Labels": {"a": "1", "n": 2}}}));
    assert_eq!(labels.len(), 1);
    assert_eq!(labels["a"], "1");
}

#[test]
fn registry_error_bodies_are_read() {
    let (codes, message) = registry_errors(
        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
    );
    assert_eq!(codes, vec!["MANIFEST_UNKNOWN"]);
    assert_eq!(message, "MANIFEST_UNKNOWN: manifest unknown");
    let (codes, message) = registry_errors(b"  <html>oops</html> ");
    assert!(codes.is_empty());
    assert_eq!(message, "<html>oops</html>");
}

// ---- the bearer-token flow against a fake registry ---------------------------------------

const USER: &str = "robot";
const PASSWORD: &str = "very-secret-pw";
const TOKEN: &str = "tok-1";

/// A registry that wants bearer tokens from its own `/token` service, which wants basic
/// credentials. It serves `org/tool:v1` as an index over an arm64 and an amd64 image, two
/// catalog pages and the tags of `org/tool`.
struct Fake {
    address: String,
    token_calls: AtomicUsize,
    index: Vec<u8>,
    manifest: Vec<u8>,
    config: Vec<u8>,
}

fn seed_label() -> String {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": "tool", "jobVersion": "1.2.0", "packageVersion": "1.0.0",
            "title": "The Tool", "description": "Does things",
            "maintainer": {"name": "A", "email": "a@example.org"},
            "timeout": 10
        }
    })
    .to_string()
}

async fn spawn_fake() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = json!({
        "created": "2026-01-02T03:04:05Z",
        "config": {"Labels": {"com.ngageoint.seed.manifest": seed_label(), "other": "x"}}
    })
    .to_string()
    .into_bytes();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": digest_of(&config)},
        "layers": []
    })
    .to_string()
    .into_bytes();
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"digest": DIGEST_A, "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": digest_of(&manifest), "platform": {"os": "linux", "architecture": "amd64"}}
        ]
    })
    .to_string()
    .into_bytes();
    let fake = Arc::new(Fake {
        address,
        token_calls: AtomicUsize::new(0),
        index,
        manifest,
        config,
    });
    let app = Router::new()
        .route("/token", get(token))
        .route("/v2/{*rest}", get(v2))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

async fn token(
    State(fake): State<Arc<Fake>>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: AxumHeaders,
) -> AxumResponse {
    fake.token_calls.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return AxumStatus::UNAUTHORIZED.into_response();
    }
    if query.get("service").map(String::as_str) != Some("fake") || !query.contains_key("scope") {
        return AxumStatus::BAD_REQUEST.into_response();
    }
    axum::Json(json!({"access_token": TOKEN, "expires_in": 300})).into_response()
}

async fn v2(
    State(fake): State<Arc<Fake>>,
    Path(rest): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: AxumHeaders,
) -> AxumResponse {
    let bearer = format!("Bearer {TOKEN}");
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&bearer)
    {
        let scope = if rest == "_catalog" {
            "registry:catalog:*".to_string()
        } else {
            let repository = rest.split("/manifests/").next().unwrap_or("");
            let repository = repository.split("/blobs/").next().unwrap_or("");
            format!(
                "repository:{}:pull",
                repository.trim_end_matches("/tags/list")
            )
        };
        let challenge = format!(
            r#"Bearer realm="http://{}/token",service="fake",scope="{scope}""#,
            fake.address
        );
        return (
            AxumStatus::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
        )
            .into_response();
    }
    let manifest_digest = digest_of(&fake.manifest);
    let config_digest = digest_of(&fake.config);
    let document = |media_type: &str, body: &Vec<u8>| {
        (
            [
                (header::CONTENT_TYPE, media_type.to_string()),
                (
                    header::HeaderName::from_static("docker-content-digest"),
                    digest_of(body),
                ),
            ],
            body.clone(),
        )
            .into_response()
    };
    match rest.as_str() {
        "org/tool/manifests/v1" => document(OCI_INDEX, &fake.index),
        path if path == format!("org/tool/manifests/{manifest_digest}") => {
            document(DOCKER_MANIFEST, &fake.manifest)
        }
        path if path == format!("org/tool/blobs/{config_digest}") => {
            fake.config.clone().into_response()
        }
        "org/tool/tags/list" => {
            axum::Json(json!({"name": "org/tool", "tags": ["v1"]})).into_response()
        }
        "other/thing/tags/list" => {
            axum::Json(json!({"name": "other/thing", "tags": null})).into_response()
        }
        "_catalog" if !query.contains_key("last") => (
            [(
                header::LINK,
                r#"</v2/_catalog?last=org%2Ftool&n=1>; rel="next""#,
            )],
            axum::Json(json!({"repositories": ["org/tool"]})),
        )
            .into_response(),
        "_catalog" => axum::Json(json!({"repositories": ["other/thing"]})).into_response(),
        _ => (
            AxumStatus::NOT_FOUND,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
            .into_response(),
    }
}

fn client_for(fake: &Fake, password: Option<&str>) -> RegistryClient {
    RegistryClient::new(RegistrySettings {
        credentials: password
            .map(|password| RegistryCredentials {
                registry: fake.address.clone(),
                username: USER.into(),
                password: password.into(),
            })
            .into_iter()
            .collect(),
        ..RegistrySettings::default()
    })
}

#[tokio::test]
async fn bearer_tokens_are_fetched_with_credentials_and_cached() {
    let fake = spawn_fake().await;
    let reference = ImageReference::parse(&format!("{}/org/tool:v1", fake.address)).unwrap();

    let client = client_for(&fake, Some(PASSWORD));
    let image = client
        .inspect(&reference)
        .await
        .expect("inspect with a token");
    assert_eq!(
        image.digest,
        digest_of(&fake.index),
        "the index's digest is the image's"
    );
    assert_eq!(image.labels["other"], "x");
    assert!(image.labels.contains_key(seed::label::LABEL_KEY));
    assert_eq!(image.created.as_deref(), Some("2026-01-02T03:04:05Z"));
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 1);

    // The token is reused by this client and its clones.
    client.clone().inspect(&reference).await.unwrap();
    assert_eq!(fake.token_calls.load(Ordering::SeqCst), 1);

    let missing = ImageReference::parse(&format!("{}/org/tool:v2", fake.address)).unwrap();
    match client.inspect(&missing).await {
        Err(RegistryError::NotFound(what)) => assert!(what.ends_with("org/tool:v2"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_service_that_refuses_is_unauthorized() {
    let fake = spawn_fake().await;
    let reference = ImageReference::parse(&format!("{}/org/tool:v1", fake.address)).unwrap();
    for password in [None, Some("wrong-password")] {
        let err = client_for(&fake, password)
            .inspect(&reference)
            .await
            .expect_err("the token service refuses");
        let message = err.to_string();
        assert!(matches!(err, RegistryError::Unauthorized(..)), "{message}");
        assert!(message.contains(&fake.address), "{message}");
        assert!(
            message.contains("configure") || message.contains("check"),
            "{message}"
        );
        assert!(!message.contains("wrong-password"), "{message}");
    }
}

#[tokio::test]
async fn catalog_pages_are_followed_and_search_finds_seed_images() {
    let fake = spawn_fake().await;
    let client = client_for(&fake, Some(PASSWORD));
    assert_eq!(
        client.repositories(&fake.address).await.unwrap(),
        vec!["org/tool", "other/thing"]
    );
    assert!(client
        .tags(&fake.address, "other/thing")
        .await
        .unwrap()
        .is_empty());

    let hits = client
        .search(&fake.address, Some("org"), None)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].reference, format!("{}/org/tool:v1", fake.address));
    assert_eq!(hits[0].digest, digest_of(&fake.index));
    assert_eq!(hits[0].manifest.job.title, "The Tool");

    assert_eq!(
        client
            .search(&fake.address, None, Some("THE TOOL"))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(client
        .search(&fake.address, None, Some("nothing"))
        .await
        .unwrap()
        .is_empty());
    assert!(client
        .search(&fake.address, Some("other"), None)
        .await
        .unwrap()
        .is_empty());
}
