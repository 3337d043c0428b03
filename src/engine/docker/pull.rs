//! Pulling an absent image: which registry a reference names, which credentials go with
//! it, turning the engine's progress events into a few readable status lines, what a failed
//! pull tells the user, and one pull per reference at a time ([`DockerEngine::pull`]).

use super::{engine_error, is_not_found, is_unreachable, DockerEngine};
use crate::engine::{LogSink, Milestone, RunnerError};
use crate::registry::RegistryCredentials;
use bollard::auth::DockerCredentials;
use bollard::errors::Error as DockerError;
use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The least time between two progress lines (layer completions are always reported).
pub const STATUS_INTERVAL: Duration = Duration::from_millis(500);

/// Docker Hub, where a reference without a registry points.
const DOCKER_HUB: &str = "docker.io";

/// The registry (`host[:port]`) an image reference names, as Docker reads it: the first
/// path component when it contains `.` or `:` or is `localhost`, else Docker Hub.
pub fn registry_of(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => DOCKER_HUB,
    }
}

/// Whether the reference names its registry (rather than meaning Docker Hub implicitly,
/// which is also what a mistyped local image name looks like).
fn names_registry(reference: &str) -> bool {
    registry_of(reference) != DOCKER_HUB || reference.starts_with("docker.io/")
}

// Docker Hub answers to several names; credentials may be written with any of them.
fn same_registry(configured: &str, registry: &str) -> bool {
    let hub = |name: &str| {
        matches!(
            name.trim_end_matches('/'),
            "docker.io" | "index.docker.io" | "registry-1.docker.io" | "https://index.docker.io/v1"
        )
    };
    configured == registry || (hub(configured) && hub(registry))
}

/// The engine credentials for pulling `reference`, if any are configured for its registry.
pub fn credentials_for(
    reference: &str,
    credentials: &[RegistryCredentials],
) -> Option<DockerCredentials> {
    let registry = registry_of(reference);
    credentials
        .iter()
        .find(|c| same_registry(&c.registry, registry))
        .map(|c| DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.clone()),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        })
}

/// The user-facing message of a failed pull: the image, the registry's reason, what to do.
/// `had_credentials` tells a refused login from a missing one.
pub fn pull_failure_message(image: &str, reason: &str, had_credentials: bool) -> String {
    let registry = registry_of(image);
    let lower = reason.to_lowercase();
    let mut hint = if [
        "unauthorized",
        "authentication required",
        "no basic auth",
        "denied",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        if had_credentials {
            format!(
                "the registry refused the credentials configured for {registry}: check their \
                 username and password, and that this user may read the repository"
            )
        } else {
            format!(
                "{registry} requires credentials: configure a username and password for it \
                 (registries.credentials in the configuration file that `ades serve`, \
                 `ades worker` and `ades run` read), or pull the image onto the engine \
                 yourself"
            )
        }
    } else if [
        "not found",
        "manifest unknown",
        "name unknown",
        "does not exist",
    ]
    .iter()
    .any(|word| lower.contains(word))
    {
        format!("check that the repository and the tag or digest exist in {registry}")
    } else {
        format!(
            "check that {registry} is reachable from the Docker engine's host (and, for a \
             plain-HTTP registry, listed in the engine's insecure-registries)"
        )
    };
    if !names_registry(image) {
        hint.push_str(
            "; if it is meant to be a local image, build it with `ades seed build DIR` or check \
             its name with `ades seed list`",
        );
    }
    format!("image {image} is not in the Docker engine and pulling it from {registry} failed: {reason} ({hint})")
}

/// Follows the engine's pull events (one per layer and step) and says when a status line is
/// worth showing: on each layer completion, else at most every [`STATUS_INTERVAL`].
pub struct PullProgress {
    image: String,
    /// Layer id -> done.
    layers: BTreeMap<String, bool>,
    last_sent: Instant,
}

impl PullProgress {
    /// Starts following the pull of `image`; the "pulling image" line counts as sent now.
    pub fn new(image: &str, now: Instant) -> Self {
        PullProgress {
            image: image.to_string(),
            layers: BTreeMap::new(),
            last_sent: now,
        }
    }

    /// The line announcing the pull.
    pub fn started(&self) -> String {
        format!("pulling image {}", self.image)
    }

    /// The line once the image is in the engine.
    pub fn finished(&self) -> String {
        format!("pulled image {}; starting the container", self.image)
    }

    /// Takes one event; returns a status line when one is due.
    pub fn observe(&mut self, event: &CreateImageInfo, now: Instant) -> Option<String> {
        let (Some(id), Some(status)) = (event.id.as_deref(), event.status.as_deref()) else {
            return None;
        };
        // "Pulling from org/repo" carries the tag as its id; every other event with an id
        // is about a layer.
        if status.starts_with("Pulling from") {
            return None;
        }
        let done = matches!(status, "Pull complete" | "Already exists");
        let was_done = self.layers.insert(id.to_string(), done).unwrap_or(false);
        // A layer never goes back to not done (the engine reports nothing after completion,
        // but keep the count monotonic whatever it sends).
        if was_done {
            self.layers.insert(id.to_string(), true);
        }
        let completed = done && !was_done;
        if completed || now.duration_since(self.last_sent) >= STATUS_INTERVAL {
            self.last_sent = now;
            Some(self.line())
        } else {
            None
        }
    }

    fn line(&self) -> String {
        let done = self.layers.values().filter(|done| **done).count();
        format!(
            "pulling image {}: {done} of {} layers done",
            self.image,
            self.layers.len()
        )
    }
}

impl DockerEngine {
    /// Makes sure `image` is in the engine, pulling it when it is not. Returns `Ok(false)`
    /// when `cancel` fired first. Concurrent calls for one reference share one pull: the
    /// later ones wait for it and then find the image present.
    pub(super) async fn pull(
        &self,
        image: &str,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<bool, RunnerError> {
        let lock = self.pulls.for_image(image);
        let _pulling = tokio::select! {
            held = lock.lock_owned() => held,
            _ = cancel.cancelled() => return Ok(false),
        };
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(true),
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(engine_error(err)),
        }
        logs.milestone(Milestone::PullStarted);
        let pulled = self.pull_absent(image, cancel, logs).await;
        match &pulled {
            Ok(true) => logs.milestone(Milestone::PullEnded { pulled: true }),
            Err(_) => logs.milestone(Milestone::PullEnded { pulled: false }),
            Ok(false) => {}
        }
        pulled
    }

    /// Pulls `image`, known to be absent, reporting its progress to `logs`; `Ok(false)`
    /// when cancelled.
    async fn pull_absent(
        &self,
        image: &str,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<bool, RunnerError> {
        let mut progress = PullProgress::new(image, std::time::Instant::now());
        logs.status(&progress.started());
        let credentials = credentials_for(image, &self.credentials);
        let had_credentials = credentials.is_some();
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        let mut events = self.docker.create_image(Some(options), None, credentials);
        let failed = |reason: &str| {
            RunnerError::PullFailed(pull_failure_message(image, reason, had_credentials))
        };
        loop {
            // Dropping the stream closes the request, which makes the engine stop the pull.
            let event = tokio::select! {
                event = events.next() => event,
                _ = cancel.cancelled() => return Ok(false),
            };
            match event {
                Some(Ok(info)) => {
                    if let Some(line) = progress.observe(&info, std::time::Instant::now()) {
                        logs.status(&line);
                    }
                }
                Some(Err(DockerError::DockerResponseServerError { message, .. })) => {
                    return Err(failed(&message))
                }
                Some(Err(DockerError::DockerStreamError { error })) => return Err(failed(&error)),
                Some(Err(err)) if is_unreachable(&err) => return Err(engine_error(err)),
                Some(Err(err)) => return Err(failed(&err.to_string())),
                None => break,
            }
        }
        tracing::info!(image = %image, "pulled image");
        logs.status(&progress.finished());
        Ok(true)
    }
}

/// One lock per image reference, so runs needing the same absent image share one pull: the
/// first pulls, the others wait and then find the image present. Entries are never removed:
/// there is one per distinct reference ever pulled, a few bytes each.
#[derive(Clone, Default)]
pub struct PullLocks(Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>);

impl PullLocks {
    pub fn for_image(&self, image: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(image.to_string()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(registry: &str) -> RegistryCredentials {
        RegistryCredentials {
            registry: registry.to_string(),
            username: "u".to_string(),
            password: "p".to_string(),
        }
    }

    fn event(id: &str, status: &str) -> CreateImageInfo {
        CreateImageInfo {
            id: Some(id.to_string()),
            status: Some(status.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_registry_is_the_first_component_only_when_it_looks_like_a_host() {
        assert_eq!(
            registry_of("127.0.0.1:5000/org/echo:1.0.0"),
            "127.0.0.1:5000"
        );
        assert_eq!(registry_of("ghcr.io/org/echo@sha256:abc"), "ghcr.io");
        assert_eq!(registry_of("localhost/echo"), "localhost");
        assert_eq!(registry_of("org/echo:1.0.0"), "docker.io");
        assert_eq!(registry_of("echo-1.0.0-seed:1.0.0"), "docker.io");
        assert!(names_registry("docker.io/library/busybox"));
        assert!(!names_registry("busybox:latest"));
    }

    #[test]
    fn credentials_follow_the_reference_registry() {
        let all = [creds("127.0.0.1:5001"), creds("index.docker.io")];
        let found = credentials_for("127.0.0.1:5001/org/x:1", &all).unwrap();
        assert_eq!(found.username.as_deref(), Some("u"));
        assert_eq!(found.serveraddress.as_deref(), Some("127.0.0.1:5001"));
        assert!(credentials_for("127.0.0.1:5000/org/x:1", &all).is_none());
        let hub = credentials_for("org/x:1", &all).unwrap();
        assert_eq!(hub.serveraddress.as_deref(), Some("docker.io"));
    }

    #[test]
    fn failure_messages_name_the_image_and_say_what_to_do() {
        let image = "127.0.0.1:5001/org/x:1";
        let message = pull_failure_message(image, "no basic auth credentials", false);
        assert!(message.contains(image) && message.contains("requires credentials"));
        let message = pull_failure_message(image, "unauthorized: authentication required", true);
        assert!(message.contains("refused the credentials"), "{message}");
        let message = pull_failure_message(image, "manifest unknown", false);
        assert!(message.contains("exist in 127.0.0.1:5001"), "{message}");
        assert!(!message.contains("ades seed build"));
        let message = pull_failure_message("x:1", "dial tcp: no such host", false);
        assert!(message.contains("reachable") && message.contains("ades seed build"));
    }

    #[test]
    fn progress_is_throttled_but_reports_each_completed_layer() {
        let start = Instant::now();
        let mut progress = PullProgress::new("r/x:1", start);
        assert_eq!(
            progress.observe(&event("1", "Pulling from r/x"), start),
            None
        );
        assert_eq!(
            progress.observe(&event("a", "Pulling fs layer"), start),
            None
        );
        assert_eq!(
            progress.observe(&event("b", "Pulling fs layer"), start),
            None
        );
        assert_eq!(progress.observe(&event("a", "Downloading"), start), None);
        let later = start + STATUS_INTERVAL;
        assert_eq!(
            progress
                .observe(&event("a", "Downloading"), later)
                .as_deref(),
            Some("pulling image r/x:1: 0 of 2 layers done")
        );
        assert_eq!(
            progress
                .observe(&event("a", "Pull complete"), later)
                .as_deref(),
            Some("pulling image r/x:1: 1 of 2 layers done")
        );
        assert_eq!(progress.observe(&event("b", "Extracting"), later), None);
        assert_eq!(
            progress
                .observe(&event("b", "Pull complete"), later)
                .as_deref(),
            Some("pulling image r/x:1: 2 of 2 layers done")
        );
        let no_id = CreateImageInfo {
            status: Some("Digest: sha256:abc".to_string()),
            ..Default::default()
        };
        assert_eq!(progress.observe(&no_id, later + STATUS_INTERVAL), None);
    }
}
