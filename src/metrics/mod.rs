//! What an operator scrapes at `GET /metrics`: the one registry of this server and every
//! metric's name, in the OpenMetrics text format (which Prometheus scrapes).
//!
//! Other rooms never name a metric: they call the small methods of [`Metrics`]
//! (`job_submitted`, `job_finished`, `http_request`, ...), so a name lives here once. The
//! registry belongs to one server (held by [`crate::jobs::JobService`]), not to the process,
//! so two servers in one process (the tests) count apart. Label values are bounded: a
//! route is its template (`/jobs/{job_id}`), never the raw path; a process is a deployed
//! process id.
//!
//! Built on `prometheus-client`: a handful of small dependencies, no HTTP server of its own.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The media type [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProcessLabels {
    process: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PullLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    process: String,
    status: String,
}

/// Seconds from 5 ms to ~20 s: what an HTTP answer takes.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Seconds from 10 ms to ~40 s: how long an engine takes to start a container.
fn start_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

/// Seconds from 0.1 s to ~1.8 h: how long a job waits or runs, or an image pull takes.
fn job_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 3.0, 12))
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    submitted: Family<ProcessLabels, Counter>,
    finished: Family<EndLabels, Counter>,
    queued_seconds: Family<ProcessLabels, Histogram, fn() -> Histogram>,
    run_seconds: Family<ProcessLabels, Histogram, fn() -> Histogram>,
    queue_depth: Gauge,
    running: Gauge,
    waiting_for_resources: Gauge,
    concurrency_limit: Gauge,
    container_start_seconds: Family<ProcessLabels, Histogram, fn() -> Histogram>,
    image_pulls: Family<PullLabels, Counter>,
    image_pull_seconds: Histogram,
    db_in_use: Family<PoolLabels, Gauge>,
    db_idle: Family<PoolLabels, Gauge>,
    db_max: Family<PoolLabels, Gauge>,
}

/// What a scrape reads at the moment it is answered (the rest is counted as it happens).
#[derive(Debug, Clone, Default)]
pub struct Readings {
    /// Jobs accepted and waiting for a worker, in the store.
    pub queue_depth: u64,
    /// Jobs running in this process.
    pub running: usize,
    /// The store's connection pools ([`crate::store::JobStore::pool_use`]).
    pub pools: Vec<crate::store::PoolUse>,
}

/// How an image pull ended (the `outcome` label of `ades_image_pulls_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullOutcome {
    Pulled,
    Failed,
}

/// One job waiting in the resource pool: counted in `ades_jobs_waiting_for_resources`
/// from [`Metrics::resource_wait`] until dropped, so a wait that ends any way (served,
/// cancelled, its task dropped) is uncounted exactly once.
#[must_use = "the wait is uncounted when this is dropped"]
pub struct ResourceWait {
    gauge: Gauge,
}

impl Drop for ResourceWait {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// This server's metrics; cheap to clone (one shared registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ades");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                request_buckets,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its headers), by route template and method",
            request_seconds.clone(),
        );
        let submitted = Family::<ProcessLabels, Counter>::default();
        registry.register(
            "jobs_submitted",
            "Jobs accepted into the queue, by process",
            submitted.clone(),
        );
        let finished = Family::<EndLabels, Counter>::default();
        registry.register(
            "jobs_finished",
            "Jobs whose end a worker of this server recorded, by process and final status",
            finished.clone(),
        );
        let queued_seconds =
            Family::<ProcessLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                job_buckets,
            );
        registry.register(
            "job_queued_seconds",
            "Time a finished job waited in the queue before its run, by process",
            queued_seconds.clone(),
        );
        let run_seconds =
            Family::<ProcessLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                job_buckets,
            );
        registry.register(
            "job_run_seconds",
            "Time a finished job ran (claim to recorded end), by process",
            run_seconds.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "queue_depth",
            "Jobs accepted and waiting for a worker (in the shared store), when scraped",
            queue_depth.clone(),
        );
        let running = Gauge::default();
        registry.register(
            "jobs_running",
            "Jobs running in this server process, when scraped",
            running.clone(),
        );
        let waiting_for_resources = Gauge::default();
        registry.register(
            "jobs_waiting_for_resources",
            "Jobs of this server process claimed by a worker and waiting in the resource \
             pool for the CPUs, memory, disk or GPUs they allocate",
            waiting_for_resources.clone(),
        );
        let concurrency_limit = Gauge::default();
        registry.register(
            "jobs_concurrency_limit",
            "Jobs this server process runs at once now: queue.workers, or with queue.adaptive \
             the limit it adapted to the engine's pace",
            concurrency_limit.clone(),
        );
        let container_start_seconds =
            Family::<ProcessLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                start_buckets,
            );
        registry.register(
            "container_start_seconds",
            "Time from asking the engine for a job's container to the container running \
             (a pull the job made left out), by process",
            container_start_seconds.clone(),
        );
        let image_pulls = Family::<PullLabels, Counter>::default();
        registry.register(
            "image_pulls",
            "Images the engine lacked and pulled for a job, by outcome (pulled, failed)",
            image_pulls.clone(),
        );
        let image_pull_seconds = job_buckets();
        registry.register(
            "image_pull_seconds",
            "Time an image pull for a job took, whatever its outcome",
            image_pull_seconds.clone(),
        );
        let db_in_use = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections_in_use",
            "Database connections lent out of the store's pool, by pool, when scraped",
            db_in_use.clone(),
        );
        let db_idle = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections_idle",
            "Database connections open and idle in the store's pool, by pool, when scraped",
            db_idle.clone(),
        );
        let db_max = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections_max",
            "The most connections the store's pool opens, by pool",
            db_max.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_seconds,
                submitted,
                finished,
                queued_seconds,
                run_seconds,
                queue_depth,
                running,
                waiting_for_resources,
                concurrency_limit,
                container_start_seconds,
                image_pulls,
                image_pull_seconds,
                db_in_use,
                db_idle,
                db_max,
            }),
        }
    }

    /// One HTTP request answered: `route` is the matched template, or a fixed word for
    /// an unmatched path, so label values stay few.
    pub fn http_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.inner
            .request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_string(),
                method: method.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A job accepted into the queue.
    pub fn job_submitted(&self, process: &str) {
        self.inner
            .submitted
            .get_or_create(&ProcessLabels {
                process: process.to_string(),
            })
            .inc();
    }

    /// A job's end recorded: its final `status`, how long it waited and how long it ran.
    pub fn job_finished(&self, process: &str, status: &str, queued: Duration, ran: Duration) {
        self.inner
            .finished
            .get_or_create(&EndLabels {
                process: process.to_string(),
                status: status.to_string(),
            })
            .inc();
        let labels = ProcessLabels {
            process: process.to_string(),
        };
        self.inner
            .queued_seconds
            .get_or_create(&labels)
            .observe(queued.as_secs_f64());
        self.inner
            .run_seconds
            .get_or_create(&labels)
            .observe(ran.as_secs_f64());
    }

    /// A job begins to wait in the resource pool; it stops counting when the returned
    /// guard is dropped.
    pub fn resource_wait(&self) -> ResourceWait {
        let gauge = self.inner.waiting_for_resources.clone();
        gauge.inc();
        ResourceWait { gauge }
    }

    /// The number of jobs this process runs at once changed to `limit`.
    pub fn concurrency_limit(&self, limit: usize) {
        self.inner
            .concurrency_limit
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
    }

    /// A job's container is running, `took` after the engine was asked for it.
    pub fn container_started(&self, process: &str, took: Duration) {
        self.inner
            .container_start_seconds
            .get_or_create(&ProcessLabels {
                process: process.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// An image pull for a job ended, after `took`.
    pub fn image_pulled(&self, outcome: PullOutcome, took: Duration) {
        let outcome = match outcome {
            PullOutcome::Pulled => "pulled",
            PullOutcome::Failed => "failed",
        };
        self.inner
            .image_pulls
            .get_or_create(&PullLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.inner.image_pull_seconds.observe(took.as_secs_f64());
    }

    /// The text a scrape answers, with the gauges set to what was just read.
    pub fn render(&self, now: &Readings) -> String {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.inner.queue_depth.set(gauge(now.queue_depth));
        self.inner.running.set(gauge(now.running as u64));
        for pool in &now.pools {
            let labels = PoolLabels {
                pool: pool.pool.to_string(),
            };
            let inner = &self.inner;
            inner
                .db_in_use
                .get_or_create(&labels)
                .set(pool.in_use.into());
            inner.db_idle.get_or_create(&labels).set(pool.idle.into());
            inner.db_max.get_or_create(&labels).set(pool.max.into());
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_under_their_names_and_labels() {
        let metrics = Metrics::new();
        metrics.job_submitted("io-demo");
        metrics.job_finished(
            "io-demo",
            "successful",
            Duration::from_millis(300),
            Duration::from_secs(2),
        );
        metrics.http_request("/jobs/{job_id}", "GET", 200, Duration::from_millis(7));
        let text = metrics.render(&Readings {
            queue_depth: 3,
            running: 1,
            pools: Vec::new(),
        });
        for line in [
            "ades_jobs_submitted_total{process=\"io-demo\"} 1",
            "ades_jobs_finished_total{process=\"io-demo\",status=\"successful\"} 1",
            "ades_http_requests_total{route=\"/jobs/{job_id}\",method=\"GET\",status=\"200\"} 1",
            "ades_job_run_seconds_count{process=\"io-demo\"} 1",
            "ades_queue_depth 3",
            "ades_jobs_running 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn a_resource_wait_counts_until_dropped() {
        let metrics = Metrics::new();
        let waiting = |m: &Metrics| {
            let text = m.render(&Readings::default());
            text.lines()
                .find_map(|l| l.strip_prefix("ades_jobs_waiting_for_resources "))
                .map(str::to_string)
        };
        assert_eq!(waiting(&metrics).as_deref(), Some("0"));
        let first = metrics.resource_wait();
        let second = metrics.resource_wait();
        assert_eq!(waiting(&metrics).as_deref(), Some("2"));
        drop(first);
        assert_eq!(waiting(&metrics).as_deref(), Some("1"));
        drop(second);
        assert_eq!(waiting(&metrics).as_deref(), Some("0"));
    }

    #[test]
    fn starts_pulls_and_pools_appear_under_their_names_and_labels() {
        let metrics = Metrics::new();
        metrics.container_started("io-demo", Duration::from_millis(250));
        metrics.image_pulled(PullOutcome::Pulled, Duration::from_secs(3));
        metrics.image_pulled(PullOutcome::Failed, Duration::from_secs(1));
        metrics.image_pulled(PullOutcome::Failed, Duration::from_secs(1));
        let text = metrics.render(&Readings {
            queue_depth: 0,
            running: 0,
            pools: vec![crate::store::PoolUse {
                pool: "read",
                in_use: 2,
                idle: 3,
                max: 8,
            }],
        });
        for line in [
            "ades_container_start_seconds_count{process=\"io-demo\"} 1",
            "ades_container_start_seconds_sum{process=\"io-demo\"} 0.25",
            "ades_image_pulls_total{outcome=\"pulled\"} 1",
            "ades_image_pulls_total{outcome=\"failed\"} 2",
            "ades_image_pull_seconds_count 3",
            "ades_image_pull_seconds_sum 5.0",
            "ades_db_pool_connections_in_use{pool=\"read\"} 2",
            "ades_db_pool_connections_idle{pool=\"read\"} 3",
            "ades_db_pool_connections_max{pool=\"read\"} 8",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
