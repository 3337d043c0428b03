//! Seed images in OCI registries (the Docker Registry HTTP API v2 / OCI distribution API)
//! over reqwest: parse image references, read an image's labels (its Seed manifest) from the
//! manifest and config blob without pulling layers, list repositories and tags, and search a
//! registry for Seed images. Anonymous, basic and bearer-token (challenge) authentication.
//!
//! Files: `reference` parses image references; `client` speaks HTTP (requests, limits, error
//! mapping) and implements the operations; `auth` reads challenges and caches tokens;
//! `sha256` computes content digests.

mod auth;
mod client;
mod reference;
mod sha256;

pub use reference::DOCKER_HUB;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Credentials for one registry (`host[:port]`, as written in image references). The password
/// is a secret: never logged, never shown in `Debug`.
#[derive(Clone)]
pub struct RegistryCredentials {
    pub registry: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// How the client reaches registries.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    pub credentials: Vec<RegistryCredentials>,
    /// Registries spoken to over plain HTTP (besides `localhost` and `127.0.0.0/8`, which
    /// always are, as the Docker engine does).
    pub insecure: Vec<String>,
    /// Per-request timeout (default 30 s when zero).
    pub timeout: std::time::Duration,
}

/// A parsed image reference: `[registry/]repository[:tag][@digest]`, normalised as Docker
/// does (`busybox` = `docker.io/library/busybox:latest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// `host[:port]`; `docker.io` when the reference names none.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
    /// Whether the text named a registry explicitly (a first component with `.` or `:`, or
    /// `localhost`).
    pub explicit_registry: bool,
}

/// An image as a registry describes it.
#[derive(Debug, Clone)]
pub struct RemoteImage {
    pub reference: ImageReference,
    /// Digest of the manifest (or index) the tag points to: `sha256:...`; pulling
    /// `registry/repository@digest` gets exactly this image.
    pub digest: String,
    /// The image config's labels (`config.Labels`).
    pub labels: BTreeMap<String, String>,
    /// The image config's `created`, when present.
    pub created: Option<String>,
}

/// A Seed image found by [`RegistryClient::search`].
#[derive(Debug, Clone)]
pub struct SearchHit {
    /// `registry/repository:tag`.
    pub reference: String,
    pub digest: String,
    /// The decoded, validated manifest.
    pub manifest: seed::Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0} is not a valid image reference: {1}")]
    InvalidReference(String, String),
    #[error("the registry {0} cannot be reached: {1}")]
    Unreachable(String, String),
    #[error("the registry {0} refused the credentials or needs some: {1}")]
    Unauthorized(String, String),
    #[error("{0} is not in the registry")]
    NotFound(String),
    #[error("the registry {0} answered something unexpected: {1}")]
    Protocol(String, String),
}

/// A registry client. Cheap to clone: clones share the HTTP connection pool and the tokens.
#[derive(Clone)]
pub struct RegistryClient {
    settings: RegistrySettings,
    http: reqwest::Client,
    auth: Arc<Mutex<auth::AuthCache>>,
}

/// Used when the settings leave the timeout at zero.
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl RegistryClient {
    pub fn new(settings: RegistrySettings) -> RegistryClient {
        let timeout = if settings.timeout.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            settings.timeout
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("ades/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building fails only when the TLS backend cannot start; the default client then
            // reports the same problem on first use.
            .unwrap_or_else(|_| reqwest::Client::new());
        RegistryClient {
            settings,
            http,
            auth: Arc::default(),
        }
    }

    /// The credentials configured for `registry`, if any (for the engine's pulls too).
    pub fn credentials_for(&self, registry: &str) -> Option<&RegistryCredentials> {
        self.settings
            .credentials
            .iter()
            .find(|c| c.registry == registry)
    }
}
