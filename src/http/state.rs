//! The application state every façade's handlers read: [`HttpState`] (what `startup`
//! hands over: catalogue, job service, workspace, deployer, [`ServerSettings`]) and
//! [`AppState`], the router's state, which adds what the server builds once (the
//! per-client limiter, the XML readers).

use crate::catalog::Catalog;
use crate::jobs::JobService;
use crate::limits::{ClientLimiter, RequestLimits, XmlReaders};
use crate::workspace::Workspace;
use std::sync::Arc;
use std::time::Duration;

/// What the handlers of every façade share: the core services and the settings.
#[derive(Clone)]
pub struct HttpState {
    pub catalog: Catalog,
    pub jobs: JobService,
    pub workspace: Workspace,
    pub deployer: crate::deploy::Deployer,
    pub settings: Arc<ServerSettings>,
    /// Cancelled when the server stops serving: open event streams end then, because the
    /// HTTP server's graceful stop waits for every response to finish and a live job list
    /// (or the status of a job no worker will take any more) never ends by itself.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// How the HTTP server behaves, for every façade.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Base URL for absolute links (`https://ades.example.org/ogc`); `None` derives it from
    /// the request (`Host`, `X-Forwarded-Proto`, `X-Forwarded-Host`).
    pub public_url: Option<String>,
    /// Title of the landing page.
    pub title: String,
    /// Largest request body accepted, bytes.
    pub max_body_bytes: usize,
    /// Longest a synchronous execution is waited for before answering with the job (and its
    /// `Location`) instead of the results.
    pub sync_wait_limit: Duration,
    /// Bearer token deploy, replace and undeploy require; `None` refuses them.
    pub admin_token: Option<String>,
    /// What one request may cost (body sizes, XML parsing, requests per client).
    pub limits: RequestLimits,
    /// Proxies whose `X-Forwarded-*` headers are believed (`server.trusted_proxies`).
    pub trusted_proxies: crate::http::proxies::TrustedProxies,
    /// Browser origins allowed to call the server (`server.cors_origins`; checked when the
    /// settings load).
    pub cors_origins: Vec<String>,
    /// Who callers are (off by default: everybody is the local operator).
    pub auth: crate::auth::AuthSettings,
    /// Whether `GET /metrics` answers (`metrics.enabled`).
    pub metrics_enabled: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            public_url: None,
            title: "ades".to_string(),
            max_body_bytes: 64 * 1024 * 1024,
            sync_wait_limit: Duration::from_secs(3600),
            admin_token: None,
            limits: RequestLimits::default(),
            trusted_proxies: Default::default(),
            cors_origins: Vec::new(),
            auth: crate::auth::AuthSettings::default(),
            metrics_enabled: true,
        }
    }
}

impl ServerSettings {
    /// The largest JSON body (execute, deploy, replace) read, bytes.
    pub fn json_body_limit(&self) -> usize {
        self.limits.max_json_body_bytes.min(self.max_body_bytes)
    }

    /// The largest WPS POST body read, bytes.
    pub fn xml_body_limit(&self) -> usize {
        self.limits.max_xml_body_bytes.min(self.max_body_bytes)
    }
}

/// The router's state: the public [`HttpState`] plus what the server builds once.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    shared: HttpState,
    clients: Arc<ClientLimiter>,
    xml_readers: XmlReaders,
}

impl std::ops::Deref for AppState {
    type Target = HttpState;
    fn deref(&self) -> &HttpState {
        &self.inner.shared
    }
}

impl AppState {
    /// Builds, once per server, the per-client limiter and the XML readers.
    pub(crate) fn new(state: HttpState) -> AppState {
        let limits = state.settings.limits;
        AppState {
            inner: Arc::new(AppInner {
                clients: ClientLimiter::new(limits.client_requests_in_flight),
                xml_readers: XmlReaders::new(limits.xml_parse_budget),
                shared: state,
            }),
        }
    }

    /// Where WPS XML documents are parsed (off the async runtime, within a time budget).
    pub(crate) fn xml_readers(&self) -> &XmlReaders {
        &self.inner.xml_readers
    }

    /// The per-client count of expensive requests in flight.
    pub(crate) fn clients(&self) -> &Arc<ClientLimiter> {
        &self.inner.clients
    }
}
