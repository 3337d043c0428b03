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
struct EndLabels {
    process: String,
    status: String,
}

/// Seconds from 5 ms to ~20 s: what an HTTP answer takes.
fn request_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Seconds from 0.1 s to ~1.8 h: how long a job waits or runs.
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

    /// The text a scrape answers, with the gauges set to what was just read.
    pub fn render(&self, queue_depth: u64, running: usize) -> String {
        self.inner
            .queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        self.inner
            .running
            .set(i64::try_from(running).unwrap_or(i64::MAX));
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
        let text = metrics.render(3, 1);
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
}
