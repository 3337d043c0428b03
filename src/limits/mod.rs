//! What one request may cost the server (README, "Request limits"): body sizes, the time
//! and the threads WPS XML parsing may take, and how many expensive requests one client
//! address may have in flight.
//!
//! - XML is parsed on the blocking pool ([`XmlReaders::parse`]), never on the async worker
//!   threads, at most as many documents at once as the machine has cores, each within a time
//!   budget: a slow document cannot hold `/health` or any other request.
//! - [`ClientLimiter`] counts the expensive requests (execute on both façades, WPS POST and
//!   WPS 1.0.0 KVP Execute, deploy and replace) each client address has in flight. A
//!   synchronous execute holds its slot while it waits for its job, so a client running jobs
//!   one after another never meets the limit; one that opens more than N at once gets 429.
//!   The address is the TCP peer: behind a reverse proxy every client shares the proxy's.

pub mod json;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The configured bounds (`[limits]`), as the façades use them.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Largest JSON body (execute, deploy, replace), bytes.
    pub max_json_body_bytes: usize,
    /// Largest WPS POST XML document, bytes.
    pub max_xml_body_bytes: usize,
    /// Longest one XML document may take to read.
    pub xml_parse_budget: Duration,
    /// Expensive requests in flight per client address (0 = no limit).
    pub client_requests_in_flight: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_json_body_bytes: 16 * 1024 * 1024,
            max_xml_body_bytes: 16 * 1024 * 1024,
            xml_parse_budget: Duration::from_secs(5),
            client_requests_in_flight: 8,
        }
    }
}

/// Seconds a client told 429 is asked to wait (`Retry-After`).
pub const CLIENT_BUSY_RETRY_AFTER: u64 = 2;

/// Counts expensive requests in flight per client address.
#[derive(Debug)]
pub struct ClientLimiter {
    max: usize,
    in_flight: Mutex<HashMap<IpAddr, usize>>,
}

/// One request's place in [`ClientLimiter`]; dropping it (the request answered, or the
/// client gone) frees the place.
#[derive(Debug)]
pub struct ClientSlot {
    limiter: Arc<ClientLimiter>,
    client: IpAddr,
}

impl ClientLimiter {
    /// At most `max` requests per address (0 = no limit).
    pub fn new(max: usize) -> Arc<ClientLimiter> {
        Arc::new(ClientLimiter {
            max,
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// The most requests in flight per address (0 = no limit).
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for one more request from `client`; `None` when it has `max` in flight.
    pub fn try_acquire(self: &Arc<Self>, client: IpAddr) -> Option<ClientSlot> {
        if self.max == 0 {
            return Some(ClientSlot {
                limiter: self.clone(),
                client,
            });
        }
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let count = in_flight.entry(client).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            limiter: self.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if self.limiter.max == 0 {
            return;
        }
        let mut in_flight = self
            .limiter
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = in_flight.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(&self.client);
            }
        }
    }
}

/// Why [`XmlReaders::parse`] gave no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// Every reader stayed busy for the whole time budget.
    #[error(
        "The server is busy reading other XML requests; none could start on this one within \
         {} s. Try again in a moment.", .0.as_secs_f64()
    )]
    Busy(Duration),
    /// The parse panicked (a bug).
    #[error("the XML reader failed")]
    Failed,
}

/// Runs XML parses on the blocking thread pool, a bounded number at once.
#[derive(Debug, Clone)]
pub struct XmlReaders {
    slots: Arc<Semaphore>,
    budget: Duration,
}

impl XmlReaders {
    /// As many readers as cores (at least 2); waiting for one counts against `budget`.
    pub fn new(budget: Duration) -> XmlReaders {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        XmlReaders {
            slots: Arc::new(Semaphore::new(cores.max(2))),
            budget,
        }
    }

    /// Runs `parse` on the blocking pool once a reader is free.
    pub async fn parse<T: Send + 'static>(
        &self,
        parse: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ReaderError> {
        let permit = tokio::time::timeout(self.budget, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ReaderError::Busy(self.budget))?
            .map_err(|_| ReaderError::Failed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            parse()
        })
        .await
        .map_err(|_| ReaderError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_at_most_max_slots_and_they_come_back() {
        let limiter = ClientLimiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        let first = limiter.try_acquire(a).unwrap();
        let _second = limiter.try_acquire(a).unwrap();
        assert!(limiter.try_acquire(a).is_none());
        assert!(
            limiter.try_acquire(b).is_some(),
            "other clients are not affected"
        );
        drop(first);
        assert!(limiter.try_acquire(a).is_some());
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = ClientLimiter::new(0);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..100).map(|_| limiter.try_acquire(a).unwrap()).collect();
        assert_eq!(slots.len(), 100);
    }

    #[tokio::test]
    async fn a_parse_answers_from_the_blocking_pool() {
        let readers = XmlReaders::new(Duration::from_secs(1));
        let name = readers
            .parse(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_ne!(name, std::thread::current().name().map(str::to_string));
    }
}
