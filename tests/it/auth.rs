//! Users, roles and job ownership (README, "Authentication and ownership"), over real HTTP
//! with real SQLite and real containers: a token issuer of the test's own on loopback
//! (discovery document + JWK set, an EC P-256 and an RSA key), two users who cannot see,
//! read or dismiss each other's jobs through the OGC API, WPS 2.0 and WPS 1.0.0, an admin
//! who can, a reader who cannot execute, tokens that do not hold (401), API keys made and
//! revoked with the CLI, the per-user job limit and the audit trail.

use crate::support::{ades, example_image, spawn_app_with};
use crate::xsd::{assert_valid_xml, Schema};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const AUDIENCE: &str = "ades-test";
const ADMIN_TOKEN: &str = "break-glass-token";
const WPS2: &str = "http://www.opengis.net/wps/2.0";
const OWS2: &str = "http://www.opengis.net/ows/2.0";
const WPS1: &str = "http://www.opengis.net/wps/1.0.0";
const OWS11: &str = "http://www.opengis.net/ows/1.1";

/// A test-only RSA key (PKCS#1 DER, base64) and its modulus (base64url): RSA keys are
/// slow to generate in a debug build, so this one was made once with openssl.
const RSA_PKCS1_DER_B64: &str = "MIIEpQIBAAKCAQEAmqQ8l9aNBKv10msPspcjCcMWcFYY4zVjfnAb369D6ZT5D8liqthX1lqY4lYKK7onfB5B5BrR9uvJuhsYiA2leK/vpXruH7Q+KNigG0iJQqdnXxCm4mi4zGtor01FQjs8VouWqjvxfK2wxY7LS8En9VACvWKID710H6PUKwqy8N0w5mW1HA1j2ez2G71wOkh1gwz8Fh1oWKiTHezl9M73RWnLEWCZjrzlVWRNhQfZSL4i8bu13q5L9029E7ItCdpQ0BjcVvWJf57ouXjnJTgu8vwD0H0ROO8fZJ+7W5k5JFJICOFDSgZGiBRaJSlip8CNcYwcAqw3Vg52ZD/4VJdrFwIDAQABAoIBAEmrViZrkpCYLyqH0FmfAJUk+CqaCY8sHvLcC5tbTnoXezNXGAcVu3qlfFHO9Vdxfl/1tiQp1r7QAzECuYQPJDZDcmIeFxTJdBdXY6a7vpAfWfKC503S376aqKtin0z3FT6RjzwYBGoGAMGMzjKPmS6XaEa6iuEcuxZboLbEiQyPRTgaYfTZfE1n9S7UqpYhTMGSEYfIjq6sl3CWHXxRbKqNFVfH1aUlqwH844SoX0o4MxdDS5fImvtRLX/2QtQbzBFTFrk2sQc5xNlfKU1jOCIrcQOlXoEEf6C8GcUkv/YzfZWSfw6HUIEHMjB2upwf31ZQlAJrknbAFV/oa5Z8i8ECgYEA1RjNLMW3P9JnpUHLE+KPFQhlkG/kE/c9Aa8EHWfiYlWyO7wBzpZr5Ws4fAeuaLaI+j/QvqB9jHs7yi5D95k2Zu+AtUQ1LY/IfQnhvxenQjmp5LV2qGdnzlbByWrB0DkErXSlk5EwQb86V2xYDzqjqxepZzVXAhJQ94TyMhcyiTcCgYEAucaYvLCaNFbbqTyW2YLpkzpBdSEYKIslUBsBoKwXcxBi5llN/QVC0j7oInTQgbYu+2vQ8xn6tM80Y4ATvGkmHzb78QTZg3fFucLsz+98VMpH89XkF8U2dpLb0TbSIvoVVOgMhGDw/Kfsp55umAJK5Yfxh0tU2z8k2cPYUbD7nSECgYEA0qiA8/jEzeffJCQlcJPwpHc3iBDEpOQtwANXCwbOai2TU6/pDWPwZ8yV+y7QwJ1qThFV94zKcFzG33jbIeKpQBsV3pv+Aft40/s32mO0qig9BmZJVfNbUES9r7LExGYJdLuyj23hCa3UK+ZkKzHp6FIs2mWFjPu0ZOxdTR1XjQMCgYEAsbg6D3CG5IEfPGQ5DzX8ixrU2d9iBA8xD9P2F6Xp/Op1IlXWlLG+vfDuE2Baw2vswBrhVl7JBsWeIX2546lXjc8E8Aoqp2kiH1ZJQ5agA2FLugkpXlAMjRxq61cdadaCJ6qhptYyVBG1BJk8xXCUA8asGTjIocFjWGvRejzsR+ECgYEAsK4h9AYGKYYYnk6d4A5GNmQfUfUm9lGDn2/pnptc+5UiVd+IQBTt4PxPuQsJMv2ZzWT0ZvLkwMgCuqj/7htyuX3NRvNXxswIKHQQNuF0+waOsxTvMIUzHTXMs3ZLxKSC0Dw6kwyHO/Q2WAj3UKBu+gRmRWJ42EAX1OAU6hbyUR0=";
const RSA_N: &str = "mqQ8l9aNBKv10msPspcjCcMWcFYY4zVjfnAb369D6ZT5D8liqthX1lqY4lYKK7onfB5B5BrR9uvJuhsYiA2leK_vpXruH7Q-KNigG0iJQqdnXxCm4mi4zGtor01FQjs8VouWqjvxfK2wxY7LS8En9VACvWKID710H6PUKwqy8N0w5mW1HA1j2ez2G71wOkh1gwz8Fh1oWKiTHezl9M73RWnLEWCZjrzlVWRNhQfZSL4i8bu13q5L9029E7ItCdpQ0BjcVvWJf57ouXjnJTgu8vwD0H0ROO8fZJ-7W5k5JFJICOFDSgZGiBRaJSlip8CNcYwcAqw3Vg52ZD_4VJdrFw";

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An EC P-256 key made for this test: its PKCS#8 document and its public JWK.
fn ec_key(kid: &str) -> (Vec<u8>, Value) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // Uncompressed point: 0x04 || x || y.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": b64url(&point[1..33]), "y": b64url(&point[33..65]),
    });
    (pkcs8.as_ref().to_vec(), jwk)
}

/// The token issuer: discovery document and JWK set on loopback, counting key-set reads
/// (the event stream tests use it too).
pub(crate) struct Issuer {
    url: String,
    ec: EncodingKey,
    rsa: EncodingKey,
    /// Same kid as the published EC key, another key: a signature that does not verify.
    impostor: EncodingKey,
    jwks_reads: Arc<AtomicUsize>,
}

impl Issuer {
    pub(crate) async fn start() -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (ec_der, ec_jwk) = ec_key("ec-1");
        let (impostor_der, _) = ec_key("ec-1");
        let rsa_der = base64::engine::general_purpose::STANDARD
            .decode(RSA_PKCS1_DER_B64)
            .unwrap();
        let rsa_jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "rsa-1",
            "n": RSA_N, "e": "AQAB"});
        // A key kind the server does not read is skipped, not fatal.
        let odd = json!({"kty": "oct", "kid": "odd", "k": "c2VjcmV0"});
        let jwks = json!({"keys": [odd, ec_jwk, rsa_jwk]});
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
        let reads = Arc::new(AtomicUsize::new(0));
        let counted = reads.clone();
        let router = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || {
                    let discovery = discovery.clone();
                    async move { axum::Json(discovery) }
                }),
            )
            .route(
                "/keys",
                axum::routing::get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let jwks = jwks.clone();
                    async move { axum::Json(jwks) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Issuer {
            url,
            ec: EncodingKey::from_ec_der(&ec_der),
            rsa: EncodingKey::from_rsa_der(&rsa_der),
            impostor: EncodingKey::from_ec_der(&impostor_der),
            jwks_reads: reads,
        }
    }

    fn claims(&self, sub: &str, roles: &[&str]) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({"iss": self.url, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now - 5,
            "exp": now + 600, "roles": roles})
    }

    /// An ES256 token of `sub` with `roles`.
    pub(crate) fn token(&self, sub: &str, roles: &[&str]) -> String {
        self.sign(&self.claims(sub, roles), "ec-1", Algorithm::ES256)
    }

    fn sign(&self, claims: &Value, kid: &str, alg: Algorithm) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_string());
        let key = match alg {
            Algorithm::RS256 => &self.rsa,
            _ => &self.ec,
        };
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }
}

/// Settings of a server with authentication on, trusting `issuer`.
pub(crate) fn auth_on(settings: &mut ades::config::Settings, issuer: &Issuer) {
    settings.auth.mode = ades::config::AuthMode::On;
    settings.auth.issuer = issuer.url.clone();
    settings.auth.audience = AUDIENCE.to_string();
    settings.auth.allow_private_issuer = true;
    settings.auth.clock_skew_seconds = 5;
    settings.auth.admin_token = ADMIN_TOKEN.to_string();
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn send(request: reqwest::RequestBuilder, token: Option<&str>) -> Answer {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.unwrap();
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

fn execute_body(message: &str) -> String {
    json!({"inputs": {"MESSAGE": message}}).to_string()
}

/// Submits echo asynchronously through the OGC API; the job id.
async fn submit_ogc(app: &crate::app::TestApp, token: &str, message: &str) -> String {
    let answer = send(
        app.client
            .post(app.url("/processes/echo/execution"))
            .header("content-type", "application/json")
            .header("prefer", "respond-async")
            .body(execute_body(message)),
        Some(token),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    body["jobID"].as_str().unwrap().to_string()
}

fn wps2_execute(message: &str) -> String {
    format!(
        r#"<wps:Execute xmlns:wps="{WPS2}" xmlns:ows="{OWS2}" service="WPS" version="2.0.0"
    mode="async" response="document"><ows:Identifier>echo</ows:Identifier>
  <wps:Input id="MESSAGE"><wps:Data>{message}</wps:Data></wps:Input></wps:Execute>"#
    )
}

fn wps1_execute(message: &str) -> String {
    format!(
        r#"<wps:Execute service="WPS" version="1.0.0" xmlns:wps="{WPS1}" xmlns:ows="{OWS11}">
  <ows:Identifier>echo</ows:Identifier>
  <wps:DataInputs><wps:Input><ows:Identifier>MESSAGE</ows:Identifier>
    <wps:Data><wps:LiteralData>{message}</wps:LiteralData></wps:Data></wps:Input></wps:DataInputs>
  <wps:ResponseForm><wps:ResponseDocument storeExecuteResponse="true" status="true"/></wps:ResponseForm>
</wps:Execute>"#
    )
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

fn wps2_kvp(operation: &str, job_id: &str) -> String {
    format!("/wps?service=WPS&version=2.0.0&request={operation}&jobId={job_id}")
}

/// A WPS answer that refuses: the status, a valid exception report, the code.
fn assert_wps_exception(answer: &Answer, status: StatusCode, code: &str, schema: Schema) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_valid_xml(&answer.body, schema);
    assert!(
        answer.body.contains(&format!("exceptionCode=\"{code}\"")),
        "{code}: {}",
        answer.body
    );
}

fn job_ids(body: &str) -> Vec<String> {
    let body: Value = serde_json::from_str(body).unwrap();
    body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobID"].as_str().unwrap().to_string())
        .collect()
}

async fn wait_successful(app: &crate::app::TestApp, token: &str, id: &str) {
    for _ in 0..300 {
        let answer = send(app.client.get(app.url(&format!("/jobs/{id}"))), Some(token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        match body["status"].as_str().unwrap() {
            "successful" => return,
            "failed" | "dismissed" => panic!("job {id}: {body}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("job {id} did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn users_see_only_their_own_jobs_through_every_facade_and_admins_see_all() {
    example_image("echo");
    let issuer = Issuer::start().await;
    let app = spawn_app_with(|s| auth_on(s, &issuer)).await;
    let client = &app.client;
    let alice = issuer.token("alice", &["user"]);
    let bob = issuer.token("bob", &["user"]);
    let admin = issuer.token("root", &["admin"]);
    let reader = issuer.token("rita", &["reader"]);
    let nobody = issuer.token("nora", &["guest"]);

    // Anonymous: only the landing page, conformance, api and health.
    for path in ["/", "/conformance", "/api", "/health"] {
        let answer = send(client.get(app.url(path)), None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    }
    for path in ["/processes", "/jobs", "/processes/echo"] {
        let answer = send(client.get(app.url(path)), None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(answer.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["type"], "urn:ades:error:unauthorized", "{body}");
    }
    let answer = send(
        client.get(app.url("/wps?service=WPS&request=GetCapabilities")),
        None,
    )
    .await;
    assert_wps_exception(
        &answer,
        StatusCode::UNAUTHORIZED,
        "AccessDenied",
        Schema::Ows2Exception,
    );
    assert!(answer.headers.contains_key("www-authenticate"));
    // A known user with no role of this server: 403.
    let answer = send(client.get(app.url("/processes")), Some(&nobody)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);

    // A reader describes and lists processes, and does nothing else.
    let answer = send(client.get(app.url("/processes/echo")), Some(&reader)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = send(
        client
            .get(app.url("/wps?service=WPS&version=2.0.0&request=DescribeProcess&identifier=echo")),
        Some(&reader),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = send(
        client
            .post(app.url("/processes/echo/execution"))
            .header("content-type", "application/json")
            .body(execute_body("no")),
        Some(&reader),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["type"], "urn:ades:error:forbidden");
    let answer = send(
        client.post(app.url("/wps")).body(wps2_execute("no")),
        Some(&reader),
    )
    .await;
    assert_wps_exception(
        &answer,
        StatusCode::FORBIDDEN,
        "AccessDenied",
        Schema::Ows2Exception,
    );
    let answer = send(client.get(app.url("/jobs")), Some(&reader)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);

    // Alice submits through the OGC API and WPS 1.0.0, Bob through WPS 2.0.
    let a = submit_ogc(&app, &alice, "from_alice").await;
    let answer = send(
        client.post(app.url("/wps")).body(wps1_execute("alice_v1")),
        Some(&alice),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let location = between(&answer.body, "statusLocation=\"", "\"").to_string();
    let c = location.rsplit('/').next().unwrap().to_string();
    let answer = send(
        client.post(app.url("/wps")).body(wps2_execute("from_bob")),
        Some(&bob),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let b = between(&answer.body, "<wps:JobID>", "</wps:JobID>").to_string();
    wait_successful(&app, &alice, &a).await;
    wait_successful(&app, &bob, &b).await;

    // Bob cannot see, read or dismiss Alice's job: it does not exist for him.
    for path in [
        format!("/jobs/{a}"),
        format!("/jobs/{a}/results"),
        format!("/jobs/{a}/results/ECHOED"),
        format!("/jobs/{a}/outputs/ECHO/echo.txt"),
        format!("/jobs/{a}/logs"),
        format!("/jobs/{a}/callbacks"),
    ] {
        let answer = send(client.get(app.url(&path)), Some(&bob)).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.body
        );
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert!(
            body["type"].as_str().unwrap().ends_with("/no-such-job"),
            "{path}: {body}"
        );
    }
    let answer = send(client.delete(app.url(&format!("/jobs/{a}"))), Some(&bob)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    for operation in ["GetStatus", "GetResult", "Dismiss"] {
        let answer = send(client.get(app.url(&wps2_kvp(operation, &a))), Some(&bob)).await;
        assert_wps_exception(
            &answer,
            StatusCode::BAD_REQUEST,
            "NoSuchJob",
            Schema::Ows2Exception,
        );
    }
    let answer = send(client.get(&location), Some(&bob)).await;
    assert_wps_exception(
        &answer,
        StatusCode::BAD_REQUEST,
        "InvalidParameterValue",
        Schema::Ows11Exception,
    );
    // ... and Alice cannot see Bob's.
    let answer = send(
        client.get(app.url(&wps2_kvp("GetStatus", &b))),
        Some(&alice),
    )
    .await;
    assert_wps_exception(
        &answer,
        StatusCode::BAD_REQUEST,
        "NoSuchJob",
        Schema::Ows2Exception,
    );
    let answer = send(client.get(app.url(&format!("/jobs/{b}"))), Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    // Each lists only their own jobs.
    let answer = send(client.get(app.url("/jobs")), Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let listed = job_ids(&answer.body);
    assert!(
        listed.contains(&a) && listed.contains(&c) && !listed.contains(&b),
        "{listed:?}"
    );
    let answer = send(client.get(app.url("/jobs?user=alice")), Some(&bob)).await;
    assert_eq!(
        job_ids(&answer.body),
        vec![b.clone()],
        "a user's user= names only them"
    );

    // The owners read their jobs through every façade.
    let answer = send(client.get(app.url(&wps2_kvp("GetResult", &b))), Some(&bob)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains("from_bob"), "{}", answer.body);
    let answer = send(
        client.get(app.url(&format!("/jobs/{a}/results"))),
        Some(&alice),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = send(client.get(&location), Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_valid_xml(&answer.body, Schema::Wps1);

    // An admin sees every job, or one user's.
    let answer = send(client.get(app.url("/jobs")), Some(&admin)).await;
    let listed = job_ids(&answer.body);
    for id in [&a, &b, &c] {
        assert!(listed.contains(id), "{listed:?}");
    }
    let answer = send(client.get(app.url("/jobs?user=bob")), Some(&admin)).await;
    assert_eq!(job_ids(&answer.body), vec![b.clone()]);
    let answer = send(
        client.get(app.url(&wps2_kvp("GetStatus", &a))),
        Some(&admin),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The operator's admin token acts as admin.
    let answer = send(
        client.get(app.url(&format!("/jobs/{b}"))),
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // Dismissing: the owner may (OGC API, WPS 2.0), the admin may.
    let answer = send(client.delete(app.url(&format!("/jobs/{a}"))), Some(&alice)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = send(client.get(app.url(&wps2_kvp("Dismiss", &b))), Some(&bob)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = send(client.delete(app.url(&format!("/jobs/{c}"))), Some(&admin)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_do_not_hold_are_401_and_the_keys_are_read_sparingly() {
    let issuer = Issuer::start().await;
    let app = spawn_app_with(|s| auth_on(s, &issuer)).await;
    let get_jobs = |token: String| {
        let request = app.client.get(app.url("/jobs"));
        async move { send(request, Some(&token)).await }
    };

    // Both key kinds verify.
    let answer = get_jobs(issuer.token("alice", &["user"])).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let rsa = issuer.sign(
        &issuer.claims("alice", &["user"]),
        "rsa-1",
        Algorithm::RS256,
    );
    let answer = get_jobs(rsa).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Roles at a nested claim path are another server's setting; here `roles` as a string.
    let mut claims = issuer.claims("alice", &[]);
    claims["roles"] = json!("user reader");
    assert_eq!(
        get_jobs(issuer.sign(&claims, "ec-1", Algorithm::ES256))
            .await
            .status,
        StatusCode::OK
    );

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut expired = issuer.claims("alice", &["user"]);
    expired["exp"] = json!(now - 60);
    let mut early = issuer.claims("alice", &["user"]);
    early["nbf"] = json!(now + 600);
    let mut audience = issuer.claims("alice", &["user"]);
    audience["aud"] = json!("another-service");
    let mut other_issuer = issuer.claims("alice", &["user"]);
    other_issuer["iss"] = json!("http://127.0.0.1:1/elsewhere");
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".to_string());
    let forged = jsonwebtoken::encode(
        &header,
        &issuer.claims("alice", &["user"]),
        &issuer.impostor,
    )
    .unwrap();
    let shared_secret = {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("ec-1".to_string());
        jsonwebtoken::encode(
            &header,
            &issuer.claims("alice", &["admin"]),
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap()
    };
    let reads_before = issuer.jwks_reads.load(Ordering::SeqCst);
    for (what, token, says) in [
        (
            "expired",
            issuer.sign(&expired, "ec-1", Algorithm::ES256),
            "expired",
        ),
        (
            "not yet valid",
            issuer.sign(&early, "ec-1", Algorithm::ES256),
            "not valid yet",
        ),
        (
            "wrong audience",
            issuer.sign(&audience, "ec-1", Algorithm::ES256),
            "audience",
        ),
        (
            "wrong issuer",
            issuer.sign(&other_issuer, "ec-1", Algorithm::ES256),
            "issuer",
        ),
        ("wrong signature", forged, "signature"),
        (
            "unknown kid",
            issuer.sign(&issuer.claims("alice", &["user"]), "ec-9", Algorithm::ES256),
            "kid",
        ),
        (
            "again an unknown kid",
            issuer.sign(&issuer.claims("alice", &["user"]), "ec-8", Algorithm::ES256),
            "kid",
        ),
        ("HS256", shared_secret, "algorithm"),
        ("not a JWT", "not.a.jwt".to_string(), "not a JWT"),
        ("unknown API key", "ades_nosuchkey".to_string(), "API key"),
    ] {
        let answer = get_jobs(token).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            answer.body
        );
        assert!(answer.headers.contains_key("www-authenticate"), "{what}");
        assert!(answer.body.contains(says), "{what}: {}", answer.body);
    }
    // The unknown kids made at most one more read of the key set (rate-limited).
    let reads = issuer.jwks_reads.load(Ordering::SeqCst) - reads_before;
    assert!(reads <= 1, "{reads} reads");
    assert!(issuer.jwks_reads.load(Ordering::SeqCst) >= 1);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_keys_act_as_their_user_until_revoked_and_the_audit_trail_tells_who() {
    example_image("echo");
    let issuer = Issuer::start().await;
    let db_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", db_dir.path().join("ades.db").display());
    let app = spawn_app_with(|s| {
        auth_on(s, &issuer);
        s.database.url = url.clone();
        s.auth.max_jobs_per_user = 1;
        // Jobs stay queued: the per-user limit counts them.
        s.queue.workers = 0;
    })
    .await;
    let client = &app.client;

    let made = ades(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--user",
        "carol",
        "--role",
        "user",
        "--name",
        "nightly",
    ]);
    assert_eq!(made.code, 0, "{made:?}");
    let key = made.stdout.lines().next().unwrap().trim().to_string();
    assert!(key.starts_with("ades_"), "{key}");
    let listed = ades(&["keys", "list", "--json", "--database-url", &url]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let keys: Value = serde_json::from_str(&listed.stdout).unwrap();
    let id = keys[0]["id"].as_str().unwrap().to_string();
    assert_eq!(keys[0]["user"], "carol");
    assert!(
        !listed.stdout.contains(&key),
        "the key is never shown again"
    );
    let bad = ades(&[
        "keys",
        "create",
        "--database-url",
        &url,
        "--user",
        "x",
        "--role",
        "boss",
    ]);
    assert_eq!(bad.code, 2, "{bad:?}");

    // The key works as a bearer token and as X-API-Key.
    let job = submit_ogc(&app, &key, "from_carol").await;
    let answer = send(client.get(app.url("/jobs")).header("x-api-key", &key), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(job_ids(&answer.body), vec![job.clone()]);
    let answer = send(client.get(app.url("/jobs?user=carol")), Some(ADMIN_TOKEN)).await;
    assert_eq!(job_ids(&answer.body), vec![job.clone()]);

    // Over the per-user limit: 429 with Retry-After, on both façades.
    let answer = send(
        client
            .post(app.url("/processes/echo/execution"))
            .header("content-type", "application/json")
            .header("prefer", "respond-async")
            .body(execute_body("second")),
        Some(&key),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    assert!(answer.headers.contains_key("retry-after"));
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["type"], "urn:ades:error:too-many-jobs");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("max_jobs_per_user"),
        "{body}"
    );
    let answer = send(
        client.post(app.url("/wps")).body(wps2_execute("second")),
        Some(&key),
    )
    .await;
    assert_wps_exception(
        &answer,
        StatusCode::TOO_MANY_REQUESTS,
        "ServerBusy",
        Schema::Ows2Exception,
    );
    assert!(answer.headers.contains_key("retry-after"));
    // Another user is not held back by Carol's jobs.
    submit_ogc(&app, &issuer.token("dave", &["user"]), "from_dave").await;

    // Dismissed, the job no longer counts.
    let answer = send(client.delete(app.url(&format!("/jobs/{job}"))), Some(&key)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    submit_ogc(&app, &key, "third").await;

    // Revoked, the key is refused.
    let revoked = ades(&["keys", "revoke", &id, "--database-url", &url]);
    assert_eq!(revoked.code, 0, "{revoked:?}");
    let answer = send(client.get(app.url("/jobs")), Some(&key)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let again = ades(&["keys", "revoke", &id, "--database-url", &url]);
    assert_eq!(again.code, 1, "{again:?}");

    // The audit trail: who submitted and dismissed what.
    let audit = ades(&["audit", "--json", "--database-url", &url]);
    assert_eq!(audit.code, 0, "{audit:?}");
    let entries: Value = serde_json::from_str(&audit.stdout).unwrap();
    let has = |actor: &str, action: &str, target: &str| {
        entries.as_array().unwrap().iter().any(|e| {
            e["actor"] == actor
                && e["action"] == action
                && (target.is_empty() || e["target"] == target)
        })
    };
    assert!(has("carol", "submit", &job), "{entries}");
    assert!(has("carol", "dismiss", &job), "{entries}");
    assert!(has("dave", "submit", ""), "{entries}");

    app.stop().await;
}
