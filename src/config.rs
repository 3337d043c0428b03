//! Configuration, layered: embedded defaults < a TOML file (`--config FILE`) < `ADES__*`
//! environment variables (`ADES__SERVER__BIND=0.0.0.0:8080`, double underscore between
//! levels) < command-line flags. `ades config` prints the effective result, with secrets
//! hidden. `config/ades.example.toml` documents every key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Everything the server reads at start-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the database (SQLite) and the job workspaces live.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub catalog: CatalogSection,
    pub queue: QueueSection,
    pub workspace: WorkspaceSection,
    pub containers: ContainersSection,
    /// Per-process operator configuration: Seed settings and mounts, by process id.
    pub processes: BTreeMap<String, ProcessSection>,
    /// Named workspaces (Scale's v6 workspace JSON as TOML), by name; more can be created
    /// through `/workspaces`. See README, "Workspaces".
    pub workspaces: BTreeMap<String, crate::storage::WorkspaceSpec>,
    /// Other OGC API - Processes servers a workflow step may run on, by name (README,
    /// "Remote processes"); only these are ever called.
    pub remotes: BTreeMap<String, RemoteSection>,
    pub auth: AuthSection,
    pub registries: RegistriesSection,
    pub callbacks: CallbacksSection,
    pub log: LogSettings,
    pub limits: LimitsSection,
    pub metrics: MetricsSection,
    pub telemetry: TelemetrySection,
    pub ingest: IngestSection,
}

/// Strikes (README, "Data-driven processing").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSection {
    /// Watch the running strikes here (each on one replica at a time); false leaves them
    /// to other replicas.
    pub strikes: bool,
    /// How long a replica's lease on a strike lasts unless renewed (renewed every third of
    /// it); another replica takes a strike over this long after its replica died.
    pub lease_seconds: f64,
    /// Files one strike decides at once.
    pub parallel: usize,
}

impl Default for IngestSection {
    fn default() -> Self {
        IngestSection {
            strikes: true,
            lease_seconds: 15.0,
            parallel: 4,
        }
    }
}

/// Trace export over OTLP/HTTP (README, "Traces (OTLP)"); off while `otlp_endpoint` is empty.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySection {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`): spans are posted to
    /// `<otlp_endpoint>/v1/traces`. Empty: nothing is exported and no exporter is built.
    pub otlp_endpoint: String,
    /// The `service.name` the spans carry.
    pub service_name: String,
}

impl Default for TelemetrySection {
    fn default() -> Self {
        TelemetrySection {
            otlp_endpoint: String::new(),
            service_name: "ades".to_string(),
        }
    }
}

/// `GET /metrics` (README, "Metrics").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Whether `/metrics` answers; off, it is 404 (the counts are kept all the same).
    pub enabled: bool,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection { enabled: true }
    }
}

/// Bounds on what one request may cost the server (README, "Request limits").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest JSON body of an execute request or a deployed package, bytes (never more
    /// than `server.max_body_bytes`).
    pub max_json_body_bytes: usize,
    /// Largest WPS POST XML document, bytes (never more than `server.max_body_bytes`).
    pub max_xml_body_bytes: usize,
    /// Longest the server spends reading one WPS XML document, seconds; a document still
    /// being read then is refused (400).
    pub xml_parse_seconds: u64,
    /// Expensive requests (execute on both façades, WPS POST, deploy and replace) one client
    /// address may have in flight at once; beyond it 429 (0 = no limit).
    pub client_requests_in_flight: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_json_body_bytes: 16 * 1024 * 1024,
            max_xml_body_bytes: 16 * 1024 * 1024,
            xml_parse_seconds: 5,
            client_requests_in_flight: 8,
        }
    }
}

/// How callbacks (`subscriber` URIs of execute requests) are delivered.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallbacksSection {
    /// Longest one POST may take, seconds.
    pub timeout_seconds: u64,
    /// Pause after the first failed try, seconds; doubled after each further one.
    pub retry_seconds: u64,
    /// Longest pause between tries, seconds.
    pub retry_max_seconds: u64,
    /// A callback not delivered this long after it became due is given up, seconds.
    pub give_up_after_seconds: u64,
    /// How often each serving process looks for due callbacks when nothing wakes it.
    pub poll_seconds: u64,
}

impl Default for CallbacksSection {
    fn default() -> Self {
        CallbacksSection {
            timeout_seconds: 10,
            retry_seconds: 1,
            retry_max_seconds: 300,
            give_up_after_seconds: 24 * 3600,
            poll_seconds: 2,
        }
    }
}

/// Who may change the process set, and (with `mode = "on"`) who callers are.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// Bearer token that deploy, replace and undeploy (OGC API Part 2, WPS-T) require;
    /// empty = those operations are refused. A secret: never printed.
    pub admin_token: String,
    /// A file holding the admin token (read at start-up, trailing newline dropped): keeps it
    /// out of the process list and the environment.
    pub admin_token_file: String,
    // Users, roles and job ownership (crate::auth).
    /// `off` (default: everybody is the local operator) or `on` (every request but the
    /// landing page, conformance, api and health needs a token or an API key).
    pub mode: AuthMode,
    /// The OIDC issuer whose JWTs are accepted (`iss`); empty = API keys only.
    pub issuer: String,
    /// What a token's `aud` must hold (required with `issuer`).
    pub audience: String,
    /// Dotted path of the claim holding a token's roles (`roles`, `realm_access.roles`).
    pub roles_claim: String,
    /// Leeway on a token's `exp` and `nbf`, seconds.
    pub clock_skew_seconds: u64,
    /// The issuer's JWK set URL, instead of discovering it
    /// (`<issuer>/.well-known/openid-configuration`).
    pub jwks_url: String,
    /// Allow the issuer (discovery, keys) on a loopback or private address.
    pub allow_private_issuer: bool,
    /// Most jobs (accepted + running) one user may have at once; 0 = no limit.
    pub max_jobs_per_user: u64,
}

/// Whether callers are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    Off,
    On,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            admin_token: String::new(),
            admin_token_file: String::new(),
            mode: AuthMode::Off,
            issuer: String::new(),
            audience: String::new(),
            roles_claim: "roles".to_string(),
            clock_skew_seconds: 60,
            jwks_url: String::new(),
            allow_private_issuer: false,
            max_jobs_per_user: 0,
        }
    }
}

impl AuthSection {
    /// The settings the server runs with, or what to fix.
    pub fn to_auth_settings(&self) -> Result<crate::auth::AuthSettings, String> {
        let oidc = if self.issuer.trim().is_empty() {
            None
        } else {
            if self.audience.trim().is_empty() {
                return Err(
                    "auth.issuer is set but auth.audience is empty: set the audience (aud) the \
                     tokens of this server carry"
                        .to_string(),
                );
            }
            Some(crate::auth::oidc::OidcSettings {
                issuer: self.issuer.trim().to_string(),
                audience: self.audience.trim().to_string(),
                roles_claim: self.roles_claim.trim().to_string(),
                clock_skew: std::time::Duration::from_secs(self.clock_skew_seconds),
                jwks_url: Some(self.jwks_url.trim().to_string()).filter(|u| !u.is_empty()),
                allow_private: self.allow_private_issuer,
            })
        };
        Ok(crate::auth::AuthSettings {
            enabled: self.mode == AuthMode::On,
            oidc,
            max_jobs_per_user: self.max_jobs_per_user,
        })
    }
}

/// Image registries: credentials, plain-HTTP ones, and the ones watched for Seed images.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistriesSection {
    /// Registries (`host:port`) spoken to over plain HTTP besides loopback ones.
    pub insecure: Vec<String>,
    /// Credentials per registry, for reading manifests and for the engine's pulls.
    pub credentials: Vec<RegistryCredentialsSection>,
    /// Registries (`host:port` or `host:port/org`) whose Seed images are published
    /// automatically, like local ones (empty = none).
    pub watch: Vec<String>,
    /// Seconds between scans of the watched registries.
    pub watch_seconds: u64,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryCredentialsSection {
    /// `host:port` as written in image references.
    pub registry: String,
    pub username: String,
    /// A secret: never printed.
    pub password: String,
}

/// One remote OGC API - Processes server (`[remotes.<name>]`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteSection {
    /// Its landing page: `https://host/ogcapi` (processes are at `<url>/processes`).
    pub url: String,
    /// A bearer token sent with every call (a secret: never printed).
    pub token: String,
    /// A file holding the bearer token instead.
    pub token_file: String,
    /// HTTP basic credentials instead of a token (the password is a secret).
    pub username: String,
    pub password: String,
    /// A file holding the basic password instead.
    pub password_file: String,
    /// First wait between two looks at a remote job's status, seconds (doubles up to
    /// `max_poll_seconds`).
    pub poll_seconds: f64,
    pub max_poll_seconds: f64,
    /// Longest one call may take, seconds.
    pub timeout_seconds: u64,
}

impl Default for RemoteSection {
    fn default() -> Self {
        RemoteSection {
            url: String::new(),
            token: String::new(),
            token_file: String::new(),
            username: String::new(),
            password: String::new(),
            password_file: String::new(),
            poll_seconds: 1.0,
            max_poll_seconds: 10.0,
            timeout_seconds: 30,
        }
    }
}

impl fmt::Debug for RemoteSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |secret: &str| if secret.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("RemoteSection")
            .field("url", &redact_url_password(&self.url))
            .field("token", &hidden(&self.token))
            .field("token_file", &self.token_file)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("password_file", &self.password_file)
            .field("poll_seconds", &self.poll_seconds)
            .field("max_poll_seconds", &self.max_poll_seconds)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub bind: String,
    /// Base URL clients reach the server at, for absolute links behind a proxy; empty =
    /// derived from each request's Host header.
    pub public_url: String,
    /// Landing page title.
    pub title: String,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Longest a synchronous execute waits for its job, seconds.
    pub sync_wait_seconds: u64,
    /// Time running jobs get to finish on shutdown (SIGTERM), seconds.
    pub shutdown_grace_seconds: u64,
    /// Reverse proxies (addresses or networks, `10.0.0.0/8`) whose `X-Forwarded-Proto`,
    /// `X-Forwarded-Host` and `X-Forwarded-For` are believed; from anyone else they are
    /// ignored. Empty: no one's.
    pub trusted_proxies: Vec<String>,
    /// Browser origins (`https://app.example.org`) allowed to call the server, with
    /// credentials; `*` allows any origin without credentials; empty: none.
    pub cors_origins: Vec<String>,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path` (default: `<data_dir>/ades.db`).
    pub url: String,
    /// A file holding the password of `url`'s user (PostgreSQL), put into the URL at
    /// start-up, so the password is neither in the configuration nor in the environment.
    pub password_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSection {
    /// Publish every Seed image found in the local engine.
    pub discover_local_images: bool,
    /// Images always published, even without the `-seed` naming convention.
    pub images: Vec<String>,
    /// Seconds between re-scans of the engine (0 = only at start-up).
    pub rescan_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Jobs run at once by this process at most (0 = serve the API only); with `adaptive`,
    /// the ceiling of the limit that adapts. Default: four per CPU of this host, at least 2.
    pub workers: usize,
    /// Adapt the number of jobs run at once to the engine's pace (see the README).
    pub adaptive: bool,
    /// Where the adaptive limit starts (at most `workers`).
    pub start_workers: usize,
    pub lease_seconds: u64,
    pub heartbeat_seconds: u64,
    pub poll_seconds: u64,
    /// Attempts a job gets: a job whose worker vanished, or that failed for a system
    /// reason (engine unreachable, image pull failed), runs again until it has used them.
    pub max_attempts: u32,
    /// Delay before the first retry of a system failure, seconds; it doubles with each
    /// further attempt, up to `retry_backoff_max_seconds`.
    pub retry_backoff_seconds: u64,
    pub retry_backoff_max_seconds: u64,
    /// Jobs waiting to run (`accepted`) at most; a submission beyond it is answered 503
    /// with `Retry-After` (0 = no limit).
    pub max_queued: u64,
    /// Docker network job containers join (empty: none).
    pub network: String,
    pub allow_unknown_resources: bool,
    /// CPUs this process's jobs may use at once, by their Seed `cpus` (0 = the engine's).
    pub capacity_cpus: f64,
    /// Memory (MiB) this process's jobs may use at once, by their Seed `mem` (0 = the
    /// engine's).
    pub capacity_mem_mib: f64,
    /// Disk (MiB) this process's jobs may fill at once, by their Seed `disk` (0 = no limit).
    pub capacity_disk_mib: f64,
    /// GPUs jobs may be given (0: a job that declares `gpus` fails).
    pub capacity_gpus: u32,
    /// Largest input file a job may be given (inline or fetched), bytes (default 1 GiB).
    pub max_input_bytes: u64,
    /// Allow `file://` input references (server-local paths).
    pub allow_file_urls: bool,
    /// Allow input references and callbacks to reach loopback, private, link-local and
    /// other non-public addresses (see `outbound::guard`).
    pub allow_private_urls: bool,
}

/// Where job files (staged inputs, outputs, logs) live.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceSection {
    /// Directory holding one directory per job; empty = `<data_dir>/jobs`. Replicas that
    /// share a database must share this directory too (NFS or similar), so that any of
    /// them serves any job's outputs and can take over a job another one started.
    pub root: PathBuf,
}

/// How every job container is hardened (see README, "Hardened containers").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContainersSection {
    /// `uid:gid` job containers run as; empty: 10001:10001 when ades runs as root, else
    /// ades's own uid and gid.
    pub user: String,
    /// Memory limit (MiB) of a container whose manifest declares no `mem` (0 = none).
    pub memory_mib: f64,
    /// CPU limit of a container whose manifest declares no `cpus` (0 = none).
    pub cpus: f64,
    /// Most processes (threads included) a container may have.
    pub pids_limit: i64,
    /// Open files per process (`RLIMIT_NOFILE`; 0 = the engine's default).
    pub nofile: i64,
    /// Size of the tmpfs at `/tmp`, MiB (0 = none).
    pub tmp_size_mib: u64,
    /// Allow running programs from `/tmp` (mounted `noexec` otherwise).
    pub tmp_exec: bool,
}

impl Default for ContainersSection {
    fn default() -> Self {
        let confinement = crate::engine::Confinement::default();
        ContainersSection {
            user: String::new(),
            memory_mib: crate::execution::DEFAULT_MEM_MIB,
            cpus: crate::execution::DEFAULT_CPUS,
            pids_limit: confinement.pids_limit,
            nofile: confinement.nofile.unwrap_or(0),
            tmp_size_mib: crate::engine::DEFAULT_TMP_BYTES as u64 / (1024 * 1024),
            tmp_exec: confinement.tmp_exec,
        }
    }
}

impl ContainersSection {
    /// The hardening these settings describe (the user resolved as
    /// [`crate::execution::container_user`] says).
    pub fn hardening(&self) -> crate::execution::Hardening {
        crate::execution::Hardening {
            user: Some(crate::execution::container_user(&self.user)),
            confinement: crate::engine::Confinement {
                read_only_root: true,
                tmp_bytes: (self.tmp_size_mib > 0)
                    .then(|| (self.tmp_size_mib * 1024 * 1024) as i64),
                tmp_exec: self.tmp_exec,
                pids_limit: self.pids_limit,
                nofile: (self.nofile > 0).then_some(self.nofile),
            },
            default_mem_mib: (self.memory_mib > 0.0).then_some(self.memory_mib),
            default_cpus: (self.cpus > 0.0).then_some(self.cpus),
        }
    }
}

/// Operator configuration of one process.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessSection {
    /// Seed settings (values may be secrets: never printed).
    pub settings: BTreeMap<String, String>,
    /// Seed mounts: name -> host directory.
    pub mounts: BTreeMap<String, PathBuf>,
    /// Jobs of this process running at once across all replicas (0 = no limit).
    pub max_running: u32,
    /// Priority of this process's jobs: higher runs first (default 0). A request's
    /// `priority` query parameter overrides it.
    pub priority: i32,
    /// Run this process's containers as root (uid 0; still no capabilities).
    pub run_as_root: bool,
    /// Leave the image's filesystem writable (and no `/tmp` tmpfs: the image's own).
    pub writable_root: bool,
    /// A pids limit for this process's containers (0 = `containers.pids_limit`).
    pub pids_limit: i64,
    /// The workspace a successful job's products are published to, at
    /// `<process>/<yyyy>/<mm>/<dd>/<job id>/<file>` (empty = none: they stay in the job's
    /// directory only).
    pub output_workspace: String,
}

impl ProcessSection {
    /// What this process may do beyond the hardened defaults.
    pub fn opt_outs(&self) -> crate::execution::OptOuts {
        crate::execution::OptOuts {
            run_as_root: self.run_as_root,
            writable_root: self.writable_root,
            pids_limit: (self.pids_limit > 0).then_some(self.pids_limit),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter (`info`, `ades=debug,tower_http=info`); `RUST_LOG` wins when set.
    pub level: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("ades-data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            catalog: CatalogSection::default(),
            queue: QueueSection::default(),
            workspace: WorkspaceSection::default(),
            containers: ContainersSection::default(),
            processes: BTreeMap::new(),
            workspaces: BTreeMap::new(),
            remotes: BTreeMap::new(),
            auth: AuthSection::default(),
            registries: RegistriesSection::default(),
            callbacks: CallbacksSection::default(),
            log: LogSettings::default(),
            limits: LimitsSection::default(),
            metrics: MetricsSection::default(),
            telemetry: TelemetrySection::default(),
            ingest: IngestSection::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".to_string(),
            public_url: String::new(),
            title: "ades: OGC API - Processes for Seed images".to_string(),
            max_body_bytes: 64 * 1024 * 1024,
            sync_wait_seconds: 3600,
            shutdown_grace_seconds: 30,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
        }
    }
}

impl Default for CatalogSection {
    fn default() -> Self {
        CatalogSection {
            discover_local_images: true,
            images: Vec::new(),
            rescan_seconds: 30,
        }
    }
}

/// The default ceiling of jobs run at once: four per CPU of this host (containers mostly
/// wait on the engine and their own I/O), at least 2. The adaptive limit decides how many
/// of them really run.
fn default_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (4 * cpus).max(2)
}

impl Default for QueueSection {
    fn default() -> Self {
        QueueSection {
            workers: default_workers(),
            adaptive: true,
            start_workers: 2,
            lease_seconds: 30,
            heartbeat_seconds: 5,
            poll_seconds: 2,
            max_attempts: 3,
            retry_backoff_seconds: 5,
            retry_backoff_max_seconds: 300,
            max_queued: 10_000,
            network: String::new(),
            allow_unknown_resources: false,
            capacity_cpus: 0.0,
            capacity_mem_mib: 0.0,
            capacity_disk_mib: 0.0,
            capacity_gpus: 0,
            max_input_bytes: 1024 * 1024 * 1024,
            allow_file_urls: false,
            allow_private_urls: false,
        }
    }
}

impl Default for RegistriesSection {
    fn default() -> Self {
        RegistriesSection {
            insecure: Vec::new(),
            credentials: Vec::new(),
            watch: Vec::new(),
            watch_seconds: 300,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".to_string(),
            level: "info".to_string(),
        }
    }
}

// Secrets never reach a log line or `ades config`: setting values and database URLs (which
// may carry a password) are hidden from Debug output.
impl fmt::Debug for ProcessSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden: BTreeMap<&String, &str> =
            self.settings.keys().map(|k| (k, "<hidden>")).collect();
        f.debug_struct("ProcessSection")
            .field("settings", &hidden)
            .field("mounts", &self.mounts)
            .field("max_running", &self.max_running)
            .field("priority", &self.priority)
            .field("run_as_root", &self.run_as_root)
            .field("writable_root", &self.writable_root)
            .field("pids_limit", &self.pids_limit)
            .finish()
    }
}

impl fmt::Debug for AuthSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = if self.admin_token.is_empty() {
            ""
        } else {
            "<hidden>"
        };
        f.debug_struct("AuthSection")
            .field("admin_token", &shown)
            .field("admin_token_file", &self.admin_token_file)
            .field("mode", &self.mode)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("roles_claim", &self.roles_claim)
            .field("clock_skew_seconds", &self.clock_skew_seconds)
            .field("jwks_url", &self.jwks_url)
            .field("allow_private_issuer", &self.allow_private_issuer)
            .field("max_jobs_per_user", &self.max_jobs_per_user)
            .finish()
    }
}

impl fmt::Debug for RegistryCredentialsSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentialsSection")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl fmt::Debug for TelemetrySection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetrySection")
            .field("otlp_endpoint", &redact_url_password(&self.otlp_endpoint))
            .field("service_name", &self.service_name)
            .finish()
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url_password(&self.url))
            .field("password_file", &self.password_file)
            .finish()
    }
}

/// The content of the secret file at `path` (setting `key`), without trailing line breaks.
fn read_secret(path: &str, key: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{key}: cannot read {path}: {e}")))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        return Err(ConfigError(format!("{key}: {path} is empty")));
    }
    Ok(secret)
}

/// `url` with its user's password set to `password` (percent-encoded as needed).
fn with_password(url: &str, password: &str) -> Result<String, ConfigError> {
    let refused = |why: &str| {
        ConfigError(format!(
            "database.password_file needs database.url to be a postgres:// URL with a user \
             (postgres://ades@db:5432/ades); {why}"
        ))
    };
    let mut parsed = url::Url::parse(url).map_err(|_| refused("it is not a URL"))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || parsed.username().is_empty() {
        return Err(refused("it names no user"));
    }
    parsed
        .set_password(Some(password))
        .map_err(|_| refused("it cannot take a password"))?;
    Ok(parsed.to_string())
}

/// `postgres://user:secret@host/db` -> `postgres://user:<hidden>@host/db`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:<hidden>@{host}"),
        None => url.to_string(),
    }
}

/// Command-line values that override everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub workers: Option<usize>,
    pub images: Vec<String>,
    pub admin_token: Option<String>,
    pub admin_token_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Defaults < `file` < `ADES__*` environment < `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env, overrides)
    }

    /// [`Settings::load`] with the environment given explicitly (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let defaults = config::Config::try_from(&Settings::default())
            .map_err(|e| ConfigError(format!("embedded defaults: {e}")))?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "the configuration file {} does not exist (see config/ades.example.toml)",
                    file.display()
                )));
            }
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        let ades_env: config::Map<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("ADES__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("ADES")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("catalog.images")
                .with_list_parse_key("registries.insecure")
                .with_list_parse_key("registries.watch")
                .with_list_parse_key("server.trusted_proxies")
                .with_list_parse_key("server.cors_origins")
                .source(Some(ades_env)),
        );
        let mut settings: Settings =
            builder
                .build()
                .and_then(|c| c.try_deserialize())
                .map_err(|e| {
                    ConfigError(format!("{e} (see config/ades.example.toml for every key)"))
                })?;
        if let Some(bind) = &overrides.bind {
            settings.server.bind = bind.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            settings.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            settings.database.url = url.clone();
        }
        if let Some(workers) = overrides.workers {
            settings.queue.workers = workers;
        }
        if let Some(token) = &overrides.admin_token {
            settings.auth.admin_token = token.clone();
        }
        if let Some(file) = &overrides.admin_token_file {
            settings.auth.admin_token_file = file.display().to_string();
        }
        settings.read_secret_files()?;
        settings
            .catalog
            .images
            .extend(overrides.images.iter().cloned());
        settings.check()?;
        Ok(settings)
    }

    /// Rejects values that cannot work, saying which key to change.
    /// Reads the secrets kept in files (`auth.admin_token_file`, `database.password_file`).
    fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        if !self.auth.admin_token_file.is_empty() {
            if !self.auth.admin_token.is_empty() {
                return Err(ConfigError(
                    "both an admin token and auth.admin_token_file (--admin-token-file) are \
                     given; keep one"
                        .to_string(),
                ));
            }
            self.auth.admin_token =
                read_secret(&self.auth.admin_token_file, "auth.admin_token_file")?;
        }
        for (name, remote) in &mut self.remotes {
            if !remote.token_file.is_empty() {
                remote.token =
                    read_secret(&remote.token_file, &format!("remotes.{name}.token_file"))?;
            }
            if !remote.password_file.is_empty() {
                remote.password = read_secret(
                    &remote.password_file,
                    &format!("remotes.{name}.password_file"),
                )?;
            }
        }
        if !self.database.password_file.is_empty() {
            let password = read_secret(&self.database.password_file, "database.password_file")?;
            self.database.url = with_password(&self.database.url, &password)?;
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        crate::http::proxies::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(ConfigError)?;
        crate::http::cors::layer(&self.server.cors_origins).map_err(ConfigError)?;
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError(format!(
                "server.bind {:?} is not an address and port like 127.0.0.1:8080",
                self.server.bind
            )));
        }
        let url = &self.server.public_url;
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ConfigError(format!(
                "server.public_url {:?} must start with http:// or https://",
                self.server.public_url
            )));
        }
        if self.queue.heartbeat_seconds == 0
            || self.queue.heartbeat_seconds >= self.queue.lease_seconds
        {
            return Err(ConfigError(format!(
                "queue.heartbeat_seconds ({}) must be at least 1 and less than queue.lease_seconds ({})",
                self.queue.heartbeat_seconds, self.queue.lease_seconds
            )));
        }
        self.check_containers()?;
        self.check_workspaces()?;
        self.check_remotes()?;
        let otlp = &self.telemetry.otlp_endpoint;
        if !otlp.is_empty() && !otlp.starts_with("http://") && !otlp.starts_with("https://") {
            return Err(ConfigError(format!(
                "telemetry.otlp_endpoint {otlp:?} must be the collector's OTLP/HTTP URL, like \
                 http://127.0.0.1:4318 (or empty to export no traces)"
            )));
        }
        if !otlp.is_empty() && self.telemetry.service_name.trim().is_empty() {
            return Err(ConfigError(
                "telemetry.service_name is empty: name the service the traces come from \
                 (default \"ades\")"
                    .to_string(),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError(format!(
                "log.format {:?} must be \"text\" or \"json\"",
                self.log.format
            )));
        }
        Ok(())
    }

    fn check_containers(&self) -> Result<(), ConfigError> {
        let c = &self.containers;
        let user = c.user.trim();
        if !user.is_empty() && crate::execution::numeric_user(user).is_none() {
            return Err(ConfigError(format!(
                "containers.user {:?} must be numbers, uid:gid like 10001:10001 (ades gives the \
                 job's output directory to that uid), or empty for the default",
                c.user
            )));
        }
        let limit_ok = |v: f64| v.is_finite() && v >= 0.0;
        if !limit_ok(c.memory_mib) || !limit_ok(c.cpus) {
            return Err(ConfigError(format!(
                "containers.memory_mib ({}) and containers.cpus ({}) must be 0 (no limit) or more",
                c.memory_mib, c.cpus
            )));
        }
        if c.pids_limit < 1 {
            return Err(ConfigError(format!(
                "containers.pids_limit ({}) must be at least 1; give one process more with \
                 processes.<id>.pids_limit",
                c.pids_limit
            )));
        }
        if c.nofile < 0 {
            return Err(ConfigError(format!(
                "containers.nofile ({}) must be 0 (the engine's default) or more",
                c.nofile
            )));
        }
        for (id, process) in &self.processes {
            if process.pids_limit < 0 {
                return Err(ConfigError(format!(
                    "processes.{id}.pids_limit ({}) must be 0 (containers.pids_limit) or more",
                    process.pids_limit
                )));
            }
        }
        Ok(())
    }

    /// Every workspace definition can work and every `output_workspace` names one of them
    /// or is left to the job store (checked when a job publishes).
    fn check_remotes(&self) -> Result<(), ConfigError> {
        for (name, remote) in &self.remotes {
            crate::remote::Remote::from_section(name, remote, false)
                .map_err(|e| ConfigError(format!("remotes.{name}: {e}")))?;
        }
        Ok(())
    }

    fn check_workspaces(&self) -> Result<(), ConfigError> {
        crate::storage::Workspaces::new(&self.workspaces, None)
            .map_err(|e| ConfigError(format!("workspaces: {e}")))?;
        for (id, process) in &self.processes {
            let name = &process.output_workspace;
            if !name.is_empty() {
                crate::storage::spec::check_name(name)
                    .map_err(|e| ConfigError(format!("processes.{id}.output_workspace: {e}")))?;
            }
        }
        Ok(())
    }

    /// The database URL: the configured one, or SQLite in the data directory.
    /// The job workspace directory: `workspace.root`, else `<data_dir>/jobs`.
    pub fn workspace_root(&self) -> PathBuf {
        if self.workspace.root.as_os_str().is_empty() {
            self.data_dir.join(crate::workspace::DEFAULT_DIR)
        } else {
            self.workspace.root.clone()
        }
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("ades.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The settings as TOML, secrets hidden (for `ades config`).
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = redact_url_password(&shown.database.url);
        shown.telemetry.otlp_endpoint = redact_url_password(&shown.telemetry.otlp_endpoint);
        if !shown.auth.admin_token.is_empty() {
            shown.auth.admin_token = "<hidden>".to_string();
        }
        for credentials in &mut shown.registries.credentials {
            credentials.password = "<hidden>".to_string();
        }
        for process in shown.processes.values_mut() {
            for value in process.settings.values_mut() {
                *value = "<hidden>".to_string();
            }
        }
        for remote in shown.remotes.values_mut() {
            remote.url = redact_url_password(&remote.url);
            if !remote.token.is_empty() {
                remote.token = "<hidden>".to_string();
            }
            if !remote.password.is_empty() {
                remote.password = "<hidden>".to_string();
            }
        }
        for workspace in shown.workspaces.values_mut() {
            *workspace = workspace.redacted();
        }
        toml_text(&shown)
    }
}

fn toml_text(settings: &Settings) -> String {
    match toml::to_string_pretty(settings) {
        Ok(text) => text,
        Err(err) => format!("# cannot render the settings: {err}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let s = Settings::load_from(None, &[], &Overrides::default()).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite://ades-data/ades.db");
        assert!(s.catalog.discover_local_images);
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ades.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/ades\"\n[server]\nbind = \"0.0.0.0:9000\"\n[queue]\nworkers = 4\n[processes.io-demo.settings]\nTOKEN = \"s3cret\"\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            &env(&[
                ("ADES__QUEUE__WORKERS", "6"),
                ("ADES__CATALOG__IMAGES", "a:1,b:2"),
            ]),
            &Overrides {
                bind: Some("127.0.0.1:0".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/ades"));
        assert_eq!(s.server.bind, "127.0.0.1:0", "the flag wins");
        assert_eq!(s.queue.workers, 6, "the environment beats the file");
        assert_eq!(s.catalog.images, ["a:1", "b:2"]);
        assert_eq!(s.processes["io-demo"].settings["TOKEN"], "s3cret");
        let shown = s.to_redacted_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        let s = Settings::load_from(
            None,
            &env(&[("ADES__AUTH__ADMIN_TOKEN", "t0ken-value")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.auth.admin_token, "t0ken-value");
        assert!(!s.to_redacted_toml().contains("t0ken-value"));
        assert!(!format!("{s:?}").contains("t0ken-value"));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn remotes_come_from_the_file_and_environment_with_their_secrets_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ades.toml");
        let token = dir.path().join("token");
        std::fs::write(&token, "t0ken-from-file\n").unwrap();
        std::fs::write(
            &file,
            format!(
                "[remotes.eo]\nurl = \"https://eo.example.org/ogcapi\"\ntoken_file = {:?}\n\
                 [remotes.other]\nurl = \"https://o.example.org\"\nusername = \"u\"\n",
                token.to_str().unwrap()
            ),
        )
        .unwrap();
        let env = env(&[("ADES__REMOTES__OTHER__PASSWORD", "pa55-from-env")]);
        let s = Settings::load_from(Some(&file), &env, &Overrides::default()).unwrap();
        assert_eq!(s.remotes["eo"].token, "t0ken-from-file");
        assert_eq!(s.remotes["other"].password, "pa55-from-env");
        for shown in [s.to_redacted_toml(), format!("{s:?}")] {
            assert!(!shown.contains("t0ken-from-file"), "{shown}");
            assert!(!shown.contains("pa55-from-env"), "{shown}");
        }
        std::fs::write(&file, "[remotes.eo]\nurl = \"ftp://x\"\n").unwrap();
        let err = Settings::load_from(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("remotes.eo"), "{err}");
    }

    #[test]
    fn workspaces_come_from_the_file_with_their_secrets_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ades.toml");
        std::fs::write(
            &file,
            "[workspaces.raw.configuration.broker]\ntype = \"host\"\nhost_path = \"/srv/raw\"\n\
             [workspaces.out]\ndelete_on_dismiss = true\n\
             [workspaces.out.configuration.broker]\ntype = \"s3\"\nbucket_name = \"b\"\n\
             [workspaces.out.configuration.broker.credentials]\naccess_key_id = \"AK\"\n\
             secret_access_key = \"s3cr3t-key\"\n[processes.x]\noutput_workspace = \"out\"\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), &[], &Overrides::default()).unwrap();
        assert_eq!(s.workspaces.len(), 2);
        assert!(s.workspaces["out"].delete_on_dismiss);
        assert_eq!(s.processes["x"].output_workspace, "out");
        assert!(!s.to_redacted_toml().contains("s3cr3t-key"));
        assert!(!format!("{s:?}").contains("s3cr3t-key"));

        std::fs::write(
            &file,
            "[workspaces.raw.configuration.broker]\ntype = \"host\"\nhost_path = \"srv/raw\"\n",
        )
        .unwrap();
        let err = Settings::load_from(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("workspaces"), "{err}");
        assert!(err.to_string().contains("absolute"), "{err}");
    }

    #[test]
    fn secrets_can_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "from-a-file\n").unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, "p@ss/word\n").unwrap();
        let s = Settings::load_from(
            None,
            &env(&[
                ("ADES__DATABASE__URL", "postgres://ades@db:5432/ades"),
                ("ADES__DATABASE__PASSWORD_FILE", password.to_str().unwrap()),
            ]),
            &Overrides {
                admin_token_file: Some(token.clone()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.auth.admin_token, "from-a-file");
        assert_eq!(s.database.url, "postgres://ades:p%40ss%2Fword@db:5432/ades");
        assert!(!s.to_redacted_toml().contains("from-a-file"));
        assert!(!format!("{s:?}").contains("ss%2Fword"));

        let both = Settings::load_from(
            None,
            &env(&[("ADES__AUTH__ADMIN_TOKEN", "x")]),
            &Overrides {
                admin_token_file: Some(token),
                ..Overrides::default()
            },
        )
        .unwrap_err();
        assert!(both.to_string().contains("keep one"), "{both}");
        let missing = Settings::load_from(
            None,
            &env(&[("ADES__AUTH__ADMIN_TOKEN_FILE", "/nonexistent/token")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/token"),
            "{missing}"
        );
        let sqlite = Settings::load_from(
            None,
            &env(&[("ADES__DATABASE__PASSWORD_FILE", password.to_str().unwrap())]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(sqlite.to_string().contains("postgres://"), "{sqlite}");
    }

    #[test]
    fn proxies_and_origins_are_checked() {
        let bad = Settings::load_from(
            None,
            &env(&[("ADES__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(bad.to_string().contains("proxy.local"), "{bad}");
        let s = Settings::load_from(
            None,
            &env(&[
                ("ADES__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
                ("ADES__SERVER__CORS_ORIGINS", "https://a.example.org"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.server.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        assert_eq!(s.server.cors_origins, ["https://a.example.org"]);
    }

    #[test]
    fn mistakes_name_the_key() {
        let err = Settings::load_from(
            None,
            &env(&[("ADES__SERVER__BIND", "not-an-address")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("server.bind"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ades.toml");
        std::fs::write(&file, "[server]\nbnd = \"x\"\n").unwrap();
        let err = Settings::load_from(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("bnd"), "{err}");

        let err = Settings::load_from(
            Some(Path::new("/no/such/ades.toml")),
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn container_settings_are_checked_and_become_the_hardening() {
        let s = Settings::load_from(
            None,
            &env(&[
                ("ADES__CONTAINERS__USER", "2000:2000"),
                ("ADES__CONTAINERS__MEMORY_MIB", "0"),
                ("ADES__CONTAINERS__TMP_SIZE_MIB", "16"),
                ("ADES__PROCESSES__X__RUN_AS_ROOT", "true"),
                ("ADES__PROCESSES__X__PIDS_LIMIT", "9000"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let hardening = s.containers.hardening();
        assert_eq!(hardening.user.as_deref(), Some("2000:2000"));
        assert_eq!(hardening.default_mem_mib, None);
        assert_eq!(hardening.default_cpus, Some(1.0));
        assert_eq!(hardening.confinement.tmp_bytes, Some(16 * 1024 * 1024));
        assert!(hardening.confinement.read_only_root);
        let opt_outs = s.processes["x"].opt_outs();
        assert!(opt_outs.run_as_root && !opt_outs.writable_root);
        assert_eq!(opt_outs.pids_limit, Some(9000));

        for (key, value, named) in [
            ("ADES__CONTAINERS__USER", "nobody", "containers.user"),
            ("ADES__CONTAINERS__PIDS_LIMIT", "0", "containers.pids_limit"),
            ("ADES__CONTAINERS__CPUS", "-1", "containers.cpus"),
            (
                "ADES__PROCESSES__X__PIDS_LIMIT",
                "-5",
                "processes.x.pids_limit",
            ),
        ] {
            let err = Settings::load_from(None, &env(&[(key, value)]), &Overrides::default())
                .unwrap_err();
            assert!(err.to_string().contains(named), "{key}: {err}");
        }
    }

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(
            redact_url_password("postgres://ades:pw@db:5432/ades"),
            "postgres://ades:<hidden>@db:5432/ades"
        );
        assert_eq!(redact_url_password("sqlite://x.db"), "sqlite://x.db");
    }
}

#[cfg(test)]
mod telemetry_settings {
    use super::*;

    #[test]
    fn an_endpoint_password_is_hidden_in_debug_and_the_printed_configuration() {
        let mut settings = Settings::default();
        settings.telemetry.otlp_endpoint = "https://ades:s3cret@otel.example.org:4318".into();
        assert!(!format!("{settings:?}").contains("s3cret"));
        assert!(!settings.to_redacted_toml().contains("s3cret"));
        assert!(settings.check().is_ok());
    }

    #[test]
    fn an_endpoint_without_a_scheme_is_refused_naming_the_key() {
        let mut settings = Settings::default();
        settings.telemetry.otlp_endpoint = "127.0.0.1:4318".into();
        let err = settings.check().unwrap_err().to_string();
        assert!(err.contains("telemetry.otlp_endpoint"), "{err}");
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The committed example documents every key with its default value.
    #[test]
    fn example_config_is_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/ades.example.toml");
        let loaded = Settings::load_from(Some(&file), &[], &Overrides::default()).unwrap();
        assert_eq!(
            toml_text(&loaded),
            toml_text(&Settings::default()),
            "config/ades.example.toml no longer matches the defaults in src/config.rs"
        );
    }
}
