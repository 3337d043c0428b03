//! Building and running the server: [`Application::build`] wires the store, the engine, the
//! catalogue, the workers and the HTTP API from [`Settings`], binds the listener (port 0 is
//! fine: [`Application::port`] tells which) and [`Application::run_until_stopped`] serves
//! until the given shutdown future completes. `main` owns the signals.

use crate::api;
use crate::catalog::{Catalog, CatalogSettings};
use crate::config::Settings;
use crate::deploy::Deployer;
use crate::engine::{connect_engine, unchecked_engine, Engine};
use crate::http::{HttpState, ServerSettings};
use crate::jobs::callbacks::{CallbackDeliverer, CallbackSettings};
use crate::jobs::{Admission, JobService};
use crate::limits::RequestLimits;
use crate::queue::{self, ProcessRunConfig, QueueSettings, WorkerPool};
use crate::registry::{RegistryClient, RegistryCredentials, RegistrySettings};
use crate::store::{connect_store, JobStore};
use crate::workspace::staging::StagingLimits;
use crate::workspace::Workspace;
use anyhow::Context;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a process runs: the API and (unless `queue.workers` is 0) workers, or workers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ades serve`.
    Server,
    /// `ades worker`: claims and runs jobs, serves no HTTP.
    Worker,
}

/// A built server, listening but not yet serving.
pub struct Application {
    /// The listener and what it serves; `None` for a worker (no HTTP).
    http: Option<(tokio::net::TcpListener, axum::Router)>,
    address: SocketAddr,
    workers: WorkerPool,
    catalog_loop: Option<tokio::task::JoinHandle<()>>,
    /// Delivers the callbacks of the outbox (every role: any replica may deliver).
    callback_loop: tokio::task::JoinHandle<()>,
    background: CancellationToken,
    /// Ends the open event streams as HTTP stops (see `HttpState::stopping`).
    streams: CancellationToken,
    shutdown_grace: Duration,
}

impl Application {
    /// Opens the database (creating it and the data directory if needed), connects to the
    /// Docker engine (an unreachable engine is reported, not fatal), scans it for Seed
    /// images, removes containers an earlier run left behind, starts the workers and binds
    /// the HTTP listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_as(settings, Role::Server).await
    }

    /// [`Application::build`] for either role: a [`Role::Worker`] binds no listener, builds
    /// no HTTP router and needs at least one worker.
    pub async fn build_as(settings: Settings, role: Role) -> anyhow::Result<Application> {
        check_role(&settings, role)?;
        // Read before anything starts, so a server with a bad HTTP configuration fails
        // without having started workers.
        let server_settings = match role {
            Role::Server => Some(server_settings(&settings)?),
            Role::Worker => None,
        };
        let store = open_store(&settings).await?;
        let workspaces = crate::storage::Workspaces::new(&settings.workspaces, Some(store.clone()))
            .context("the [workspaces] of the configuration")?;
        let remotes =
            crate::remote::Remotes::new(&settings.remotes, settings.queue.allow_private_urls)
                .map_err(|e| anyhow::anyhow!(e))?;
        let jobs = JobService::new(store.clone())
            .with_admission(admission(&settings))
            .with_workspaces(workspaces)
            .with_remotes(remotes.clone());
        let registry = RegistryClient::new(registry_settings(&settings));
        let workspace = open_workspace(&settings)?;
        let credentials = registry_settings(&settings).credentials;

        let engine = connect_reporting(credentials.clone()).await;
        let catalog = scan_catalog(&settings, &registry, &store, &engine).await;
        // A client that works without an engine too: it connects lazily, so jobs fail
        // cleanly (engine unavailable) instead of the server refusing to start.
        let engine = match engine {
            Ok(engine) => engine,
            Err(_) => unchecked_engine(credentials).context("cannot create a Docker client")?,
        };
        let workers = start_workers(&settings, &jobs, &catalog, &engine, &workspace).await;

        let background = CancellationToken::new();
        let signals = jobs.clone();
        let stop_signals = background.clone();
        tokio::spawn(async move { signals.forward_store_signals(stop_signals).await });
        let catalog_loop = (settings.catalog.rescan_seconds > 0).then(|| {
            catalog.spawn_rescan_loop(
                Duration::from_secs(settings.catalog.rescan_seconds),
                background.clone(),
            )
        });
        let callback_loop = spawn_callbacks(&settings, &jobs, &catalog, &workspace, &background);
        // Workflow jobs hold no worker slot: this driver advances them as their steps end.
        let driver =
            crate::workflow::driver::Driver::new(jobs.clone(), catalog.clone(), workspace.clone());
        let driver_stop = background.clone();
        tokio::spawn(queue::supervise(
            "workflows",
            background.clone(),
            move || driver.clone().run(driver_stop.clone()),
        ));

        // Strikes: this replica watches its share of the running ones (leases in the store).
        if settings.ingest.strikes {
            let supervisor = crate::ingest::Supervisor::new(
                crate::ingest::Ingester::new(jobs.clone(), catalog.clone()),
                crate::ingest::StrikeSettings {
                    lease: Duration::from_secs_f64(
                        settings.ingest.lease_seconds.clamp(0.5, 3600.0),
                    ),
                    parallel: settings.ingest.parallel.max(1),
                },
            );
            tokio::spawn(supervisor.run(background.clone()));
        }

        let streams = CancellationToken::new();
        let (http, address) = match server_settings {
            None => (None, SocketAddr::from(([0, 0, 0, 0], 0))),
            Some(server_settings) => {
                let router = crate::http::router(HttpState {
                    deployer: Deployer::new(
                        catalog.clone(),
                        store,
                        registry,
                        Some(engine.images.clone()),
                    )
                    .with_remotes(remotes, &settings.server.public_url)
                    .with_private_urls(settings.queue.allow_private_urls),
                    catalog,
                    jobs,
                    workspace,
                    settings: Arc::new(server_settings),
                    stopping: streams.clone(),
                });
                let (listener, address) = bind(&settings).await?;
                (Some((listener, router)), address)
            }
        };
        Ok(Application {
            http,
            address,
            workers,
            catalog_loop,
            callback_loop,
            background,
            streams,
            shutdown_grace: Duration::from_secs(settings.server.shutdown_grace_seconds),
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then stops in order: the workers stop claiming
    /// and running jobs get the grace period to finish, background loops stop, and HTTP
    /// stops last (so clients can still poll while jobs drain).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let http_stop = CancellationToken::new();
        let http_stopped = http_stop.clone();
        let server = self.http.map(|(listener, router)| {
            tracing::info!("listening on http://{}", self.address);
            tokio::spawn(
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move { http_stopped.cancelled().await })
                .into_future(),
            )
        });
        if server.is_none() {
            tracing::info!("running jobs only (no HTTP)");
        }
        shutdown.await;
        tracing::info!("shutting down: draining jobs, then stopping HTTP");
        self.workers.shutdown(self.shutdown_grace).await;
        self.background.cancel();
        if let Some(handle) = self.catalog_loop {
            let _ = handle.await;
        }
        let _ = self.callback_loop.await;
        self.streams.cancel();
        http_stop.cancel();
        if let Some(server) = server {
            server.await.context("the HTTP server task failed")??;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Refuses what the role cannot do: a worker with no workers, references that the proxy
/// settings would send around the address guard.
fn check_role(settings: &Settings, role: Role) -> anyhow::Result<()> {
    if role == Role::Worker && settings.queue.workers == 0 {
        anyhow::bail!(
            "ades worker runs jobs only, but queue.workers is 0: set --workers N (N >= 1)"
        );
    }
    if let Some(problem) = crate::outbound::proxy_problem(settings.queue.allow_private_urls) {
        anyhow::bail!("{problem}");
    }
    Ok(())
}

/// Creates the data directory if needed and opens (or creates) the database.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn JobStore>> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {} (set data_dir, --data-dir or ADES__DATA_DIR)",
            settings.data_dir.display()
        )
    })?;
    let database_url = settings.database_url();
    connect_store(&database_url).await.with_context(|| {
        format!(
            "cannot open the database {}",
            crate::config::redact_url_password(&database_url)
        )
    })
}

/// The job workspace, its directory created.
fn open_workspace(settings: &Settings) -> anyhow::Result<Workspace> {
    let workspace = Workspace::at(settings.workspace_root());
    std::fs::create_dir_all(workspace.root()).with_context(|| {
        format!(
            "cannot create the job workspace {} (set workspace.root or ADES__WORKSPACE__ROOT)",
            workspace.root().display()
        )
    })?;
    Ok(workspace)
}

/// Connects to the engine; an unreachable one is logged (and why), not fatal.
async fn connect_reporting(credentials: Vec<RegistryCredentials>) -> Result<Engine, String> {
    let engine = connect_engine(credentials).await.map_err(|e| e.to_string());
    match &engine {
        Ok(_) => tracing::info!("connected to the Docker engine"),
        Err(reason) => tracing::warn!(
            "{reason}; serving anyway: executions answer 503 until the engine is back"
        ),
    }
    engine
}

/// The process catalogue over the engine's images (empty while the engine is down) and the
/// deployed processes of `store`, scanned once.
async fn scan_catalog(
    settings: &Settings,
    registry: &RegistryClient,
    store: &Arc<dyn JobStore>,
    engine: &Result<Engine, String>,
) -> Catalog {
    let catalog = Catalog::new(
        CatalogSettings {
            discover_local_images: settings.catalog.discover_local_images,
            images: settings.catalog.images.clone(),
            watch: settings.registries.watch.clone(),
            watch_interval: Duration::from_secs(settings.registries.watch_seconds.max(1)),
            registry: Some(registry.clone()),
        },
        engine
            .as_ref()
            .map(|engine| engine.images.clone())
            .map_err(Clone::clone),
    )
    .with_process_store(store.clone());
    catalog.rescan().await;
    tracing::info!(processes = catalog.list().len(), "process catalogue ready");
    catalog
}

/// Removes the containers an earlier run left behind (when this process runs jobs), reads
/// the capacity the configuration leaves unset from the engine and starts the workers.
async fn start_workers(
    settings: &Settings,
    jobs: &JobService,
    catalog: &Catalog,
    engine: &Engine,
    workspace: &Workspace,
) -> WorkerPool {
    if settings.queue.workers > 0 {
        match queue::sweep::sweep_orphaned_containers(engine.containers.as_ref(), jobs).await {
            Ok(removed) if removed > 0 => {
                tracing::info!(removed, "removed containers left by an earlier run")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("start-up container sweep failed: {err}"),
        }
    }
    let mut queue_settings = queue_settings(settings);
    queue_settings.staging.workspaces = jobs.workspaces().clone();
    let queue_settings =
        queue::capacity::fill_from_engine(queue_settings, engine.containers.as_ref()).await;
    WorkerPool::start(
        jobs.clone(),
        catalog.clone(),
        engine.containers.clone(),
        workspace.clone(),
        queue_settings,
    )
}

/// Starts delivering the callbacks of the outbox until `background` is cancelled.
fn spawn_callbacks(
    settings: &Settings,
    jobs: &JobService,
    catalog: &Catalog,
    workspace: &Workspace,
    background: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let renderer = api::OgcCallbackRenderer {
        workspace: workspace.clone(),
        catalog: catalog.clone(),
    };
    let deliverer = CallbackDeliverer::new(
        jobs.clone(),
        Arc::new(renderer),
        callback_settings(settings),
    );
    let callback_stop = background.clone();
    tokio::spawn(queue::supervise(
        "callbacks",
        background.clone(),
        move || deliverer.clone().run(callback_stop.clone()),
    ))
}

/// What the HTTP side is configured with (`[server]`, `[auth]`, `[limits]`).
fn server_settings(settings: &Settings) -> anyhow::Result<ServerSettings> {
    Ok(ServerSettings {
        public_url: (!settings.server.public_url.is_empty())
            .then(|| settings.server.public_url.trim_end_matches('/').to_string()),
        title: settings.server.title.clone(),
        max_body_bytes: settings.server.max_body_bytes,
        sync_wait_limit: Duration::from_secs(settings.server.sync_wait_seconds),
        admin_token: (!settings.auth.admin_token.is_empty())
            .then(|| settings.auth.admin_token.clone()),
        limits: request_limits(settings),
        trusted_proxies: crate::http::proxies::TrustedProxies::parse(
            &settings.server.trusted_proxies,
        )
        .map_err(anyhow::Error::msg)?,
        cors_origins: settings.server.cors_origins.clone(),
        metrics_enabled: settings.metrics.enabled,
        auth: settings
            .auth
            .to_auth_settings()
            .map_err(|why| anyhow::anyhow!("{why}"))?,
    })
}

/// Binds the HTTP listener (`server.bind`; port 0 picks a free port).
async fn bind(settings: &Settings) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(&settings.server.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another server using it? choose another with --bind)",
                settings.server.bind
            )
        })?;
    let address = listener.local_addr()?;
    Ok((listener, address))
}

/// How callbacks are delivered: `[callbacks]`, and the address guard of the queue's.
fn callback_settings(settings: &Settings) -> CallbackSettings {
    let c = &settings.callbacks;
    let base = if settings.server.public_url.is_empty() {
        format!("http://{}", settings.server.bind)
    } else {
        settings.server.public_url.trim_end_matches('/').to_string()
    };
    CallbackSettings {
        timeout: Duration::from_secs(c.timeout_seconds.max(1)),
        retry_pause: Duration::from_secs(c.retry_seconds.max(1)),
        retry_pause_max: Duration::from_secs(c.retry_max_seconds.max(c.retry_seconds.max(1))),
        give_up_after: Duration::from_secs(c.give_up_after_seconds),
        poll: Duration::from_secs(c.poll_seconds.max(1)),
        allow_private_urls: settings.queue.allow_private_urls,
        default_base: base,
    }
}

/// How ades reaches registries (deploy, discovery, the engine's pulls; `ades run`'s pulls
/// too).
pub(crate) fn registry_settings(settings: &Settings) -> RegistrySettings {
    let r = &settings.registries;
    RegistrySettings {
        credentials: r
            .credentials
            .iter()
            .map(|c| RegistryCredentials {
                registry: c.registry.clone(),
                username: c.username.clone(),
                password: c.password.clone(),
            })
            .collect(),
        insecure: r.insecure.clone(),
        timeout: Duration::from_secs(30),
    }
}

fn queue_settings(settings: &Settings) -> QueueSettings {
    let q = &settings.queue;
    let non_empty = |s: &String| (!s.is_empty()).then(|| s.clone());
    QueueSettings {
        workers: q.workers,
        adaptive: q.adaptive,
        start_workers: q.start_workers.max(1),
        lease: Duration::from_secs(q.lease_seconds),
        heartbeat: Duration::from_secs(q.heartbeat_seconds),
        poll: Duration::from_secs(q.poll_seconds.max(1)),
        max_attempts: q.max_attempts.max(1),
        retry_backoff: Duration::from_secs(q.retry_backoff_seconds),
        retry_backoff_max: Duration::from_secs(
            q.retry_backoff_max_seconds.max(q.retry_backoff_seconds),
        ),
        max_running: settings
            .processes
            .iter()
            .filter(|(_, p)| p.max_running > 0)
            .map(|(id, p)| (id.clone(), p.max_running))
            .collect(),
        hardening: settings.containers.hardening(),
        network: non_empty(&q.network),
        allow_unknown_resources: q.allow_unknown_resources,
        capacity_cpus: (q.capacity_cpus > 0.0).then_some(q.capacity_cpus),
        capacity_mem_mib: (q.capacity_mem_mib > 0.0).then_some(q.capacity_mem_mib),
        capacity_disk_mib: (q.capacity_disk_mib > 0.0).then_some(q.capacity_disk_mib),
        capacity_gpus: q.capacity_gpus,
        processes: settings
            .processes
            .iter()
            .map(|(id, p)| {
                (
                    id.clone(),
                    ProcessRunConfig {
                        settings: p.settings.clone(),
                        mounts: p.mounts.clone(),
                        opt_outs: p.opt_outs(),
                        output_workspace: p.output_workspace.clone(),
                    },
                )
            })
            .collect(),
        staging: StagingLimits {
            max_input_bytes: q.max_input_bytes,
            allow_file_urls: q.allow_file_urls,
            allow_private_urls: q.allow_private_urls,
            // Set once the job store is open (start_workers).
            workspaces: crate::storage::Workspaces::default(),
        },
    }
}

/// What one request may cost (`[limits]`).
fn request_limits(settings: &Settings) -> RequestLimits {
    let l = &settings.limits;
    RequestLimits {
        max_json_body_bytes: l.max_json_body_bytes,
        max_xml_body_bytes: l.max_xml_body_bytes,
        xml_parse_budget: Duration::from_secs(l.xml_parse_seconds.max(1)),
        client_requests_in_flight: l.client_requests_in_flight,
    }
}

/// What submissions must pass: the queue bound and the processes' priorities.
fn admission(settings: &Settings) -> Admission {
    Admission {
        max_queued: settings.queue.max_queued,
        priorities: settings
            .processes
            .iter()
            .filter(|(_, p)| p.priority != 0)
            .map(|(id, p)| (id.clone(), p.priority))
            .collect(),
        references: crate::jobs::request::ReferencePolicy {
            allow_file_urls: settings.queue.allow_file_urls,
            allow_private_urls: settings.queue.allow_private_urls,
        },
        max_jobs_per_user: settings.auth.max_jobs_per_user,
    }
}

/// Logs for the server: text or JSON lines on stderr, filtered by `RUST_LOG` or the
/// configured level; and, when `[telemetry] otlp_endpoint` is set, this crate's spans
/// exported over OTLP (`crate::telemetry`), whose returned export the caller shuts down
/// last, to send what is left. An error says which setting stops the export.
pub fn init_server_tracing(
    settings: &Settings,
) -> Result<Option<crate::telemetry::TraceExport>, String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let log = if settings.log.format == "json" {
        log.json().boxed()
    } else {
        log.boxed()
    };
    let (export, traces) = match crate::telemetry::TraceExport::start(&settings.telemetry)? {
        Some((export, tracer)) => {
            // The spans of ades at info and above, whatever the log's filter lets through.
            let ours = tracing_subscriber::filter::Targets::new()
                .with_target("ades", tracing::Level::INFO);
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(ours);
            (Some(export), Some(layer))
        }
        None => (None, None),
    };
    // Already set (a test process that started a server before): keep that one.
    let _ = tracing_subscriber::registry()
        .with(log.with_filter(filter))
        .with(traces)
        .try_init();
    Ok(export)
}
