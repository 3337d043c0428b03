//! The Docker room: [`DockerEngine`], the engine room's traits on the Docker Engine API
//! (bollard). Nothing outside this folder names bollard (`tests/it/architecture.rs`).
//!
//! - `run.rs`: the containers ([`ContainerRunner`](super::ContainerRunner)): run, find,
//!   list, take over, remove, and the engine's facts.
//! - `images.rs` and `push.rs`: the images ([`ImageStore`](super::ImageStore)): inspect,
//!   list, build, tag, push, untag.
//! - `pull.rs`: pulling an absent image (with the registry's credentials, one pull per
//!   reference at a time, progress as status lines).

mod images;
mod pull;
mod push;
mod run;

pub use run::{container_name, create_body};

use super::{EngineFacts, ImageError, RunnerError};
use crate::error::cause_chain;
use crate::registry::RegistryCredentials;
use bollard::errors::Error as DockerError;
use bollard::Docker;
use pull::PullLocks;

/// One Docker engine: runs containers and keeps images.
#[derive(Clone)]
pub struct DockerEngine {
    docker: Docker,
    /// Used to pull absent images, matched by registry (see [`pull::credentials_for`]).
    credentials: Vec<RegistryCredentials>,
    pulls: PullLocks,
    /// The facts of images that ran lately (see [`run::ImageFactsCache`]).
    image_facts: run::ImageFactsCache,
}

impl DockerEngine {
    /// An engine on a client connection (see [`DockerEngine::connect`], which also
    /// negotiates the API version: a 20.10 engine only speaks API 1.41). Absent images are
    /// pulled anonymously unless [`Self::with_registry_credentials`] gives credentials.
    pub fn new(docker: Docker) -> Self {
        DockerEngine {
            docker,
            credentials: Vec::new(),
            pulls: PullLocks::default(),
            image_facts: run::ImageFactsCache::default(),
        }
    }

    /// Connects to the local engine (DOCKER_HOST or the default socket), negotiates the API
    /// version and so checks that it answers.
    ///
    /// `DOCKER_HOST` may be `unix://…` or `tcp://…` (plain HTTP: TLS is not built in). The
    /// client speaks the newest API both sides know, so engines from 20.10 (API 1.41) on
    /// work.
    pub async fn connect() -> Result<DockerEngine, ImageError> {
        // The hint names DOCKER_HOST or the default socket, whichever was used.
        let unavailable = |err: DockerError| {
            ImageError::EngineUnavailable(format!("{} ({})", cause_chain(&err), unreachable_hint()))
        };
        let docker = Docker::connect_with_defaults().map_err(unavailable)?;
        // Negotiation asks the engine for its version, so it is also the reachability check
        // (a separate ping would cost every command one more round trip).
        let docker = docker.negotiate_version().await.map_err(unavailable)?;
        Ok(DockerEngine::new(docker))
    }

    /// A client of the local engine that connects at its first request (bollard connects
    /// lazily) and speaks the client's own API version.
    pub fn connect_unchecked() -> Result<DockerEngine, ImageError> {
        Docker::connect_with_defaults()
            .or_else(|_| Docker::connect_with_local_defaults())
            .map(DockerEngine::new)
            .map_err(|err| ImageError::EngineUnavailable(cause_chain(&err)))
    }

    /// Pull absent images from these registries with these credentials (one entry per
    /// registry; the first matching entry wins).
    pub fn with_registry_credentials(mut self, credentials: Vec<RegistryCredentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// The engine's version, CPUs and memory (`GET /info`).
    async fn read_facts(&self) -> Result<EngineFacts, RunnerError> {
        let info = self.docker.info().await.map_err(engine_error)?;
        Ok(EngineFacts {
            version: info.server_version,
            cpus: info.ncpu.and_then(|n| u64::try_from(n).ok()),
            memory_bytes: info.mem_total.and_then(|b| u64::try_from(b).ok()),
        })
    }
}

/// Is this error the engine being unreachable (as opposed to the engine answering "no")?
fn is_unreachable(err: &DockerError) -> bool {
    matches!(
        err,
        DockerError::SocketNotFoundError(_)
            | DockerError::HyperLegacyError { .. }
            | DockerError::HyperResponseError { .. }
            | DockerError::IOError { .. }
            | DockerError::RequestTimeoutError
            | DockerError::UnsupportedURISchemeError { .. }
    )
}

/// The hint appended to every "engine unreachable" message.
fn unreachable_hint() -> String {
    let host = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty());
    match host {
        Some(host) => format!(
            "DOCKER_HOST is {host}: is dockerd running there? Unset DOCKER_HOST to use the local socket"
        ),
        None => "is dockerd running, and may this user use /var/run/docker.sock? \
                 Set DOCKER_HOST to reach another engine"
            .to_string(),
    }
}

/// A container or engine error as [`RunnerError`]: unreachable (with the hint) or not.
fn engine_error(err: DockerError) -> RunnerError {
    if is_unreachable(&err) {
        RunnerError::EngineUnavailable(format!("{} ({})", cause_chain(&err), unreachable_hint()))
    } else {
        RunnerError::Engine(err.to_string())
    }
}

/// An image error as [`ImageError`]: unreachable (with the hint) or not.
fn image_error(err: DockerError) -> ImageError {
    if is_unreachable(&err) {
        ImageError::EngineUnavailable(format!("{} ({})", cause_chain(&err), unreachable_hint()))
    } else {
        ImageError::Engine(err.to_string())
    }
}

/// Whether the engine answered 404 (no such image or container).
fn is_not_found(err: &DockerError) -> bool {
    matches!(
        err,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
