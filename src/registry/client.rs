//! The HTTP side of [`RegistryClient`]: authenticated GETs, bounded bodies, the registry's
//! errors mapped to [`RegistryError`], and the operations built on them.

use super::auth::{next_link, parse_challenges, Challenge};
use super::reference::{check_digest, check_registry, check_repository, DOCKER_HUB};
use super::sha256::digest_of;
use super::{ImageReference, RegistryClient, RegistryError, RemoteImage, SearchHit};
use futures_util::{stream, StreamExt};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, LINK, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::error::Error as _;
use std::net::Ipv4Addr;
use url::Url;

/// Body limits, so a hostile or broken registry cannot make us buffer without end.
const MANIFEST_LIMIT: usize = 4 << 20;
const CONFIG_LIMIT: usize = 16 << 20;
const LIST_LIMIT: usize = 4 << 20;
const TOKEN_LIMIT: usize = 1 << 20;
const ERROR_LIMIT: usize = 64 << 10;
/// Pages of `_catalog` or `tags/list` followed before giving up (a registry that keeps
/// sending `next` links would otherwise keep us busy forever).
const MAX_PAGES: usize = 10_000;
/// Registry requests in flight at once during a search.
const SEARCH_CONCURRENCY: usize = 8;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// How a request authenticates.
enum Auth {
    Basic { username: String, password: String },
    Bearer(String),
}

impl RegistryClient {
    /// Reads the image's digest and labels: the manifest (an index or manifest list picks
    /// linux/amd64, else the first entry) and its config blob. No layer is fetched.
    pub async fn inspect(&self, reference: &ImageReference) -> Result<RemoteImage, RegistryError> {
        let registry = reference.registry.as_str();
        let repository = reference.repository.as_str();
        let scope = format!("repository:{repository}:pull");
        let what = reference.to_string();
        let protocol = |message: String| RegistryError::Protocol(registry.to_string(), message);

        let target = match (&reference.digest, &reference.tag) {
            (Some(digest), _) => digest.clone(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        };
        let (body, headers) = self
            .fetch_manifest(registry, repository, &target, &scope, &what)
            .await?;
        let digest = content_digest(
            reference.digest.as_deref(),
            header(&headers, "docker-content-digest"),
            &body,
        )
        .map_err(protocol)?;
        let mut manifest = parse_manifest(&body, &headers, &what).map_err(protocol)?;

        if is_index(&manifest) {
            let chosen = choose_platform(&manifest)
                .map_err(|why| protocol(format!("the index of {what} {why}")))?;
            let (body, headers) = self
                .fetch_manifest(registry, repository, &chosen, &scope, &what)
                .await?;
            content_digest(
                Some(&chosen),
                header(&headers, "docker-content-digest"),
                &body,
            )
            .map_err(protocol)?;
            manifest = parse_manifest(&body, &headers, &what).map_err(protocol)?;
            if is_index(&manifest) {
                return Err(protocol(format!(
                    "the index of {what} points to another index; ades reads one level only"
                )));
            }
        }

        let config_digest = config_digest(&manifest, &what).map_err(protocol)?;
        let url = self.url(registry, &format!("/v2/{repository}/blobs/{config_digest}"))?;
        let response = self.get(registry, &url, None, &scope).await?;
        let response = check_status(response, registry, &url, &what).await?;
        let config = read_body(response, CONFIG_LIMIT, registry, "the image config").await?;
        // The blob is addressed by its digest: anything else is not the config we asked for.
        let actual = digest_of(&config);
        if actual != config_digest {
            return Err(protocol(format!(
                "the config blob of {what} has the digest {actual}, not {config_digest}"
            )));
        }
        let config: Value = serde_json::from_slice(&config)
            .map_err(|err| protocol(format!("the config blob of {what} is not JSON: {err}")))?;
        Ok(RemoteImage {
            reference: reference.clone(),
            digest,
            labels: labels_of(&config),
            created: config
                .get("created")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Every repository of `registry` (`/v2/_catalog`, following pagination).
    pub async fn repositories(&self, registry: &str) -> Result<Vec<String>, RegistryError> {
        check_registry(registry)
            .map_err(|why| RegistryError::InvalidReference(registry.to_string(), why))?;
        let url = self.url(registry, "/v2/_catalog")?;
        let what = format!("the repository list of {registry}");
        self.paginate(registry, url, "registry:catalog:*", &what, "repositories")
            .await
    }

    /// Every tag of `repository` (`/v2/<name>/tags/list`, following pagination).
    pub async fn tags(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Vec<String>, RegistryError> {
        check_registry(registry)
            .map_err(|why| RegistryError::InvalidReference(registry.to_string(), why))?;
        check_repository(repository).map_err(|why| {
            RegistryError::InvalidReference(format!("{registry}/{repository}"), why)
        })?;
        let url = self.url(registry, &format!("/v2/{repository}/tags/list"))?;
        let what = format!("the repository {registry}/{repository}");
        let scope = format!("repository:{repository}:pull");
        self.paginate(registry, url, &scope, &what, "tags").await
    }

    /// The Seed images of `registry`: every tag of every repository (under `org/` when
    /// given) whose labels hold a valid Seed manifest, keeping those whose reference, job
    /// name, title, description or tags contain `filter` (case-insensitive). Images without
    /// the label, or with an invalid one, are left out.
    pub async fn search(
        &self,
        registry: &str,
        org: Option<&str>,
        filter: Option<&str>,
    ) -> Result<Vec<SearchHit>, RegistryError> {
        let prefix = org
            .map(|org| org.trim_matches('/'))
            .filter(|org| !org.is_empty())
            .map(|org| format!("{org}/"));
        let repositories: Vec<String> = self
            .repositories(registry)
            .await?
            .into_iter()
            .filter(|repo| prefix.as_ref().is_none_or(|p| repo.starts_with(p)))
            .collect();

        let tagged: Vec<_> = stream::iter(repositories)
            .map(|repository| async move {
                let tags = self.tags(registry, &repository).await;
                (repository, tags)
            })
            .buffer_unordered(SEARCH_CONCURRENCY)
            .collect()
            .await;
        let mut references = Vec::new();
        for (repository, tags) in tagged {
            for tag in skip_vanished(tags, &repository)?.unwrap_or_default() {
                let text = format!("{registry}/{repository}:{tag}");
                match ImageReference::parse(&text) {
                    Ok(reference) => references.push(reference),
                    Err(err) => tracing::warn!("skipped in the search: {err}"),
                }
            }
        }

        let inspected: Vec<_> = stream::iter(references)
            .map(|reference| async move {
                let image = self.inspect(&reference).await;
                (reference, image)
            })
            .buffer_unordered(SEARCH_CONCURRENCY)
            .collect()
            .await;
        let needle = filter.map(str::to_lowercase).filter(|f| !f.is_empty());
        let mut hits = Vec::new();
        for (reference, image) in inspected {
            let Some(image) = skip_vanished(image, &reference.to_string())? else {
                continue;
            };
            let Some(manifest) = seed_manifest(&image) else {
                continue;
            };
            let hit = SearchHit {
                reference: reference.to_string(),
                digest: image.digest,
                manifest,
            };
            if needle
                .as_ref()
                .is_none_or(|needle| matches_filter(&hit, needle))
            {
                hits.push(hit);
            }
        }
        hits.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(hits)
    }

    // ---- requests ----------------------------------------------------------------------

    /// `http://` for loopback registries and the configured insecure ones, as the Docker
    /// engine does; `https://` otherwise.
    fn plain_http(&self, registry: &str) -> bool {
        let host = host_of(registry);
        self.settings
            .insecure
            .iter()
            .any(|insecure| insecure == registry || insecure == host)
            || host == "localhost"
            || host == "[::1]"
            || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn url(&self, registry: &str, path: &str) -> Result<Url, RegistryError> {
        let scheme = if self.plain_http(registry) {
            "http"
        } else {
            "https"
        };
        // Docker Hub's API is not served on the name references use.
        let host = if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        Url::parse(&format!("{scheme}://{host}{path}")).map_err(|err| {
            RegistryError::InvalidReference(
                registry.to_string(),
                format!("not a host[:port]: {err}"),
            )
        })
    }

    /// GETs `url`: anonymously (or with what earlier challenges taught us), then, on a 401,
    /// once more with the authentication the registry's challenge asks for.
    async fn get(
        &self,
        registry: &str,
        url: &Url,
        accept: Option<&str>,
        scope: &str,
    ) -> Result<Response, RegistryError> {
        let known = self.known_auth(registry, scope);
        let response = self.send(registry, url, accept, known.as_ref()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenges: Vec<Challenge> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let auth = self.answer(registry, scope, &challenges).await?;
        let response = self.send(registry, url, accept, Some(&auth)).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Unauthorized(
                registry.to_string(),
                match self.credentials_for(registry) {
                    Some(credentials) => format!(
                        "it refused user {:?} for {url}: check the username and password configured for {registry}",
                        credentials.username
                    ),
                    None => format!(
                        "it refused an anonymous token for {url}: configure a username and password for {registry}"
                    ),
                },
            ));
        }
        Ok(response)
    }

    /// The authentication already known to work for `registry` and `scope`, if any.
    fn known_auth(&self, registry: &str, scope: &str) -> Option<Auth> {
        let cache = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = cache.token(registry, scope) {
            return Some(Auth::Bearer(token));
        }
        if cache.uses_basic(registry) {
            return self.basic_auth(registry);
        }
        None
    }

    fn basic_auth(&self, registry: &str) -> Option<Auth> {
        self.credentials_for(registry).map(|c| Auth::Basic {
            username: c.username.clone(),
            password: c.password.clone(),
        })
    }

    /// Answers a 401's challenges: a bearer token from the token service, else basic
    /// authentication with the configured credentials.
    async fn answer(
        &self,
        registry: &str,
        scope: &str,
        challenges: &[Challenge],
    ) -> Result<Auth, RegistryError> {
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let token = self.fetch_token(registry, scope, bearer).await?;
            return Ok(Auth::Bearer(token));
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            let Some(auth) = self.basic_auth(registry) else {
                return Err(RegistryError::Unauthorized(
                    registry.to_string(),
                    format!(
                        "it asks for a username and password and none are configured for {registry}: configure credentials for it"
                    ),
                ));
            };
            self.auth
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remember_basic(registry);
            return Ok(auth);
        }
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        Err(RegistryError::Unauthorized(
            registry.to_string(),
            if schemes.is_empty() {
                "it answered 401 without a WWW-Authenticate challenge saying how to log in"
                    .to_string()
            } else {
                format!(
                    "it asks for authentication ades does not support ({}); only Basic and Bearer are",
                    schemes.join(", ")
                )
            },
        ))
    }

    /// Gets a token from the challenge's realm (with the configured credentials, if any)
    /// and caches it for `scope`.
    async fn fetch_token(
        &self,
        registry: &str,
        scope: &str,
        challenge: &Challenge,
    ) -> Result<String, RegistryError> {
        let protocol = |message: String| RegistryError::Protocol(registry.to_string(), message);
        let realm = challenge.params.get("realm").ok_or_else(|| {
            protocol("its Bearer challenge names no token service (realm)".into())
        })?;
        let mut url = Url::parse(realm)
            .map_err(|err| protocol(format!("its token service {realm:?} is not a URL: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(protocol(format!(
                "its token service {realm:?} is not an http(s) URL"
            )));
        }
        let wanted_scope = challenge
            .params
            .get("scope")
            .map(String::as_str)
            .unwrap_or(scope);
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.params.get("service") {
                query.append_pair("service", service);
            }
            if !wanted_scope.is_empty() {
                query.append_pair("scope", wanted_scope);
            }
        }
        let credentials = self.credentials_for(registry);
        let mut request = self.http.get(url.clone());
        if let Some(credentials) = credentials {
            request = request.basic_auth(&credentials.username, Some(&credentials.password));
        }
        let response = request
            .send()
            .await
            .map_err(|err| unreachable(registry, &url, &err))?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized(
                registry.to_string(),
                match credentials {
                    Some(c) => format!(
                        "its token service {realm} refused user {:?}: check the username and password configured for {registry}",
                        c.username
                    ),
                    None => format!(
                        "its token service {realm} wants a login: configure a username and password for {registry}"
                    ),
                },
            ));
        }
        if !status.is_success() {
            return Err(protocol(format!(
                "its token service {} answered HTTP {status}",
                without_query(&url)
            )));
        }
        let body = read_body(response, TOKEN_LIMIT, registry, "the token").await?;
        let answer: Value = serde_json::from_slice(&body).map_err(|err| {
            protocol(format!(
                "its token service {realm} did not send JSON: {err}"
            ))
        })?;
        let token = ["token", "access_token"]
            .iter()
            .find_map(|field| answer.get(field).and_then(Value::as_str))
            .filter(|token| !token.is_empty())
            .ok_or_else(|| protocol(format!("its token service {realm} sent no token")))?
            .to_string();
        let expires_in = answer.get("expires_in").and_then(Value::as_u64);
        self.auth
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .store_token(registry, scope, token.clone(), expires_in);
        Ok(token)
    }

    async fn send(
        &self,
        registry: &str,
        url: &Url,
        accept: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.get(url.clone());
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        request = match auth {
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username, Some(password))
            }
            Some(Auth::Bearer(token)) => request.bearer_auth(token),
            None => request,
        };
        tracing::debug!(%url, "registry request");
        request
            .send()
            .await
            .map_err(|err| unreachable(registry, url, &err))
    }

    async fn fetch_manifest(
        &self,
        registry: &str,
        repository: &str,
        target: &str,
        scope: &str,
        what: &str,
    ) -> Result<(Vec<u8>, HeaderMap), RegistryError> {
        let url = self.url(registry, &format!("/v2/{repository}/manifests/{target}"))?;
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let response = self.get(registry, &url, Some(&accept), scope).await?;
        let response = check_status(response, registry, &url, what).await?;
        let headers = response.headers().clone();
        let body = read_body(response, MANIFEST_LIMIT, registry, "the manifest").await?;
        Ok((body, headers))
    }

    /// Collects `field` of every page, following `Link: <...>; rel="next"`.
    async fn paginate(
        &self,
        registry: &str,
        first: Url,
        scope: &str,
        what: &str,
        field: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let protocol = |message: String| RegistryError::Protocol(registry.to_string(), message);
        let mut url = first;
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.get(registry, &url, None, scope).await?;
            let response = check_status(response, registry, &url, what).await?;
            let next = header(response.headers(), LINK.as_str()).and_then(next_link);
            let body = read_body(response, LIST_LIMIT, registry, "the list").await?;
            let page: Value = serde_json::from_slice(&body)
                .map_err(|err| protocol(format!("{url} did not answer JSON: {err}")))?;
            match page.get(field) {
                Some(Value::Array(values)) => {
                    for value in values {
                        let text = value.as_str().ok_or_else(|| {
                            protocol(format!("{url} lists a {field} entry that is not a string"))
                        })?;
                        items.push(text.to_string());
                    }
                }
                // A repository whose tags were all deleted lists `"tags": null`.
                Some(Value::Null) | None => {}
                Some(_) => return Err(protocol(format!("{url}: `{field}` is not a list"))),
            }
            let Some(next) = next else {
                return Ok(items);
            };
            let next = url.join(&next).map_err(|err| {
                protocol(format!("its next-page link {next:?} is not a URL: {err}"))
            })?;
            // Our credentials go with every page: never to another server.
            if next.origin() != url.origin() {
                return Err(protocol(format!(
                    "its next-page link points to another server ({next})"
                )));
            }
            if !seen.insert(next.to_string()) {
                return Err(protocol(format!("its next-page links loop back to {next}")));
            }
            url = next;
        }
        Err(protocol(format!(
            "{what} has more than {MAX_PAGES} pages; giving up"
        )))
    }
}

// ---- helpers ---------------------------------------------------------------------------

/// `host` of `host[:port]` (`[v6]` kept in brackets).
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.find(']').map_or(registry, |end| &registry[..=end]);
    }
    registry.split_once(':').map_or(registry, |(host, _)| host)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A connection failure, with the URL tried and what to check.
fn unreachable(registry: &str, url: &Url, err: &reqwest::Error) -> RegistryError {
    // reqwest's own text repeats the URL; its causes say what went wrong.
    let cause = err
        .source()
        .map_or_else(|| err.to_string(), crate::error::cause_chain);
    let mut text = format!("GET {} failed: {cause}", without_query(url));
    if err.is_timeout() {
        text.push_str(" (it did not answer in time)");
    }
    text.push_str(". Check the address and that the registry is running");
    if url.scheme() == "https" {
        text.push_str("; if it serves plain HTTP, add it to the insecure registries");
    }
    RegistryError::Unreachable(registry.to_string(), text)
}

/// The URL without its query (token-service queries are long and say nothing useful).
fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// Turns an unsuccessful answer into the matching error; `what` names the thing asked for.
async fn check_status(
    response: Response,
    registry: &str,
    url: &Url,
    what: &str,
) -> Result<Response, RegistryError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_body(response, ERROR_LIMIT, registry, "the error")
        .await
        .unwrap_or_default();
    let (codes, message) = registry_errors(&body);
    let not_found = ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"];
    if status == StatusCode::NOT_FOUND || codes.iter().any(|c| not_found.contains(&c.as_str())) {
        return Err(RegistryError::NotFound(what.to_string()));
    }
    let detail = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    if status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || codes.iter().any(|c| c == "UNAUTHORIZED" || c == "DENIED")
    {
        return Err(RegistryError::Unauthorized(
            registry.to_string(),
            format!(
                "it denied access to {what} (HTTP {status}{detail}): configure credentials for {registry} that may read it"
            ),
        ));
    }
    Err(RegistryError::Protocol(
        registry.to_string(),
        format!("HTTP {status} for {}{detail}", without_query(url)),
    ))
}

/// The codes and messages of a distribution error body: `{"errors":[{"code","message"}]}`;
/// the start of the body as the message when it is something else.
fn registry_errors(body: &[u8]) -> (Vec<String>, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let errors = parsed
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array);
    match errors {
        Some(errors) => {
            let codes = errors
                .iter()
                .filter_map(|e| e.get("code").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            let messages: Vec<String> = errors
                .iter()
                .map(|e| {
                    let code = e.get("code").and_then(Value::as_str).unwrap_or("error");
                    match e.get("message").and_then(Value::as_str) {
                        Some(message) => format!("{code}: {message}"),
                        None => code.to_string(),
                    }
                })
                .collect();
            (codes, messages.join("; "))
        }
        None => {
            let text = String::from_utf8_lossy(body);
            (Vec::new(), text.trim().chars().take(300).collect())
        }
    }
}

/// Reads the whole body, refusing one larger than `limit` bytes.
async fn read_body(
    mut response: Response,
    limit: usize,
    registry: &str,
    what: &str,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || {
        RegistryError::Protocol(
            registry.to_string(),
            format!("{what} is larger than {limit} bytes; refusing to read it"),
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|err| {
            RegistryError::Unreachable(
                registry.to_string(),
                format!(
                    "the connection broke while reading {what}: {}",
                    crate::error::cause_chain(&err)
                ),
            )
        })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
}

/// The digest of a manifest body. The body's sha256 must equal the digest asked for (a
/// pinned reference) and the `Docker-Content-Digest` header (when it is a sha256), so a
/// registry cannot pass off other content; the header's digest is used when it names
/// another algorithm.
fn content_digest(
    expected: Option<&str>,
    header: Option<&str>,
    body: &[u8],
) -> Result<String, String> {
    let actual = digest_of(body);
    if let Some(expected) = expected {
        if expected != actual {
            return Err(format!(
                "it sent a manifest whose digest is {actual} when {expected} was asked for; refusing it"
            ));
        }
        return Ok(actual);
    }
    match header.map(str::trim) {
        Some(header) if header.starts_with("sha256:") && header != actual => Err(format!(
            "its Docker-Content-Digest header says {header} but the manifest's digest is {actual}"
        )),
        Some(header) if !header.is_empty() => Ok(header.to_string()),
        _ => Ok(actual),
    }
}

fn parse_manifest(body: &[u8], headers: &HeaderMap, what: &str) -> Result<Value, String> {
    let manifest: Value = serde_json::from_slice(body)
        .map_err(|err| format!("the manifest of {what} is not JSON: {err}"))?;
    if !manifest.is_object() {
        return Err(format!("the manifest of {what} is not a JSON object"));
    }
    if manifest.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
        return Err(format!(
            "{what} has a Docker schema 1 manifest, which ades does not read: push the image again with a current Docker"
        ));
    }
    // The media type is in the body for current manifests; older ones only send the header.
    let mut manifest = manifest;
    if manifest.get("mediaType").is_none() {
        if let Some(content_type) = header(headers, CONTENT_TYPE.as_str()) {
            let media_type = content_type.split(';').next().unwrap_or("").trim();
            manifest["mediaType"] = Value::String(media_type.to_string());
        }
    }
    Ok(manifest)
}

fn is_index(manifest: &Value) -> bool {
    let media_type = manifest.get("mediaType").and_then(Value::as_str);
    matches!(media_type, Some(OCI_INDEX | DOCKER_LIST))
        || (manifest.get("manifests").is_some_and(Value::is_array)
            && manifest.get("config").is_none())
}

/// The digest of the index entry for linux/amd64, else of the first entry.
fn choose_platform(index: &Value) -> Result<String, String> {
    let entries = index
        .get("manifests")
        .and_then(Value::as_array)
        .filter(|entries| !entries.is_empty())
        .ok_or("lists no manifests")?;
    let platform = |entry: &Value, field: &str| {
        entry
            .get("platform")
            .and_then(|p| p.get(field))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let chosen = entries
        .iter()
        .find(|entry| {
            platform(entry, "os").as_deref() == Some("linux")
                && platform(entry, "architecture").as_deref() == Some("amd64")
        })
        .unwrap_or(&entries[0]);
    let digest = chosen
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("has an entry without a digest")?;
    check_digest(digest)?;
    Ok(digest.to_string())
}

fn config_digest(manifest: &Value, what: &str) -> Result<String, String> {
    let digest = manifest
        .get("config")
        .and_then(|config| config.get("digest"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the manifest of {what} names no config blob"))?;
    check_digest(digest).map_err(|why| format!("the manifest of {what}: {why}"))?;
    Ok(digest.to_string())
}

/// `config.Labels` of an image config; `null` or absent is no labels, non-string values are
/// skipped.
fn labels_of(config: &Value) -> BTreeMap<String, String> {
    config
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The image's Seed manifest, when its label holds a valid one.
fn seed_manifest(image: &RemoteImage) -> Option<seed::Manifest> {
    let label = image.labels.get(seed::label::LABEL_KEY)?;
    let reference = &image.reference;
    let document = match seed::label::decode_label(label) {
        Ok(document) => document,
        Err(err) => {
            tracing::info!(image = %reference, "not a Seed image: {err}");
            return None;
        }
    };
    match seed::validate::manifest_from_value(document) {
        Ok(valid) => Some(valid.manifest),
        Err(problems) => {
            let first = problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::info!(image = %reference, "invalid Seed manifest: {first}");
            None
        }
    }
}

fn matches_filter(hit: &SearchHit, needle: &str) -> bool {
    let job = &hit.manifest.job;
    [&hit.reference, &job.name, &job.title, &job.description]
        .into_iter()
        .chain(&job.tags)
        .any(|text| text.to_lowercase().contains(needle))
}

/// During a search, a repository or tag that disappeared meanwhile, or one the registry
/// describes in a way ades cannot read, is skipped (with a log line); failures that would
/// hit every image (unreachable, unauthorized) end the search.
fn skip_vanished<T>(
    result: Result<T, RegistryError>,
    what: &str,
) -> Result<Option<T>, RegistryError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err @ (RegistryError::NotFound(_) | RegistryError::Protocol(..))) => {
            tracing::warn!("skipped {what} in the search: {err}");
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests;
