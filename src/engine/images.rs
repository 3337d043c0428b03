//! Images as ades needs them from an engine: read one (with its Seed label), list the Seed
//! images, build, relabel, tag, push, untag and pull. [`ImageStore`] is the trait; the
//! Docker engine implements it in `docker/images.rs`.

use super::{LogSink, RunnerError};
use crate::registry::RegistryCredentials;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The engine is not reachable; the message says where we looked and what to do.
    #[error("the Docker engine cannot be reached: {0}")]
    EngineUnavailable(String),
    #[error("image {0} is not present in the local Docker engine")]
    NotFound(String),
    #[error("building the image failed: {0}")]
    BuildFailed(String),
    /// The engine could not push; the message says what the registry answered.
    #[error("pushing {0} failed: {1}")]
    PushFailed(String, String),
    #[error("Docker engine error: {0}")]
    Engine(String),
}

/// An image as the engine reports it, with its raw Seed label if it has one.
#[derive(Debug, Clone)]
pub struct SeedImage {
    /// The reference it was asked for or listed under (`repo:tag`).
    pub reference: String,
    /// `sha256:...` image id.
    pub id: String,
    /// Raw value of the `com.ngageoint.seed.manifest` label, if present.
    pub label: Option<String>,
    /// RFC 3339 creation time, as the engine reports it.
    pub created: Option<String>,
    pub size_bytes: Option<i64>,
    /// `repo@sha256:...` digests the image is known under in registries (pushed or pulled
    /// images have one; images only built locally have none). Empty when not asked for.
    pub repo_digests: Vec<String>,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// Directory sent as the build context.
    pub context_dir: PathBuf,
    /// Dockerfile path relative to the context (usually `Dockerfile`).
    pub dockerfile: String,
    /// `name:tag` to give the image.
    pub tag: String,
    /// Labels to set on the image (the Seed manifest label among them).
    pub labels: BTreeMap<String, String>,
}

/// The images of one engine. Progress callbacks get one line at a time, each with its
/// trailing newline (their `for<'line>` is spelt out: `async_trait` would otherwise tie the
/// line's lifetime to the call's).
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Inspects one image ([`ImageError::NotFound`] when the engine lacks it).
    async fn inspect_image(&self, reference: &str) -> Result<SeedImage, ImageError>;

    /// The images with a reference containing `-seed` (one entry per repo:tag), sorted by
    /// reference. Untagged images are never listed.
    async fn list_seed_images(&self) -> Result<Vec<SeedImage>, ImageError>;

    /// Builds an image, feeding each line of build output to `progress`; returns the image
    /// id.
    async fn build_image(
        &self,
        request: &BuildRequest,
        progress: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<String, ImageError>;

    /// Gives the image `source` the name `repository:tag`.
    async fn tag_image(&self, source: &str, repository: &str, tag: &str) -> Result<(), ImageError>;

    /// Pushes `repository:tag` to the registry its name starts with, logged in with the
    /// first of `credentials` configured for that registry (anonymously when none is).
    /// Returns the pushed manifest's digest when the engine reports it (`sha256:...`).
    async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        credentials: &[RegistryCredentials],
        progress: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<Option<String>, ImageError>;

    /// Removes the name `reference`; the image itself stays while other names point to it.
    async fn untag_image(&self, reference: &str) -> Result<(), ImageError>;

    /// Makes sure `image` is in the engine, pulling it when it is not (with the registry
    /// credentials the engine was given); status lines go to [`LogSink::status`]. Returns
    /// `Ok(false)` when `cancel` fired first.
    async fn pull_image(
        &self,
        image: &str,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<bool, RunnerError>;

    /// Builds `tag` from the image `image_id` with `labels` set on it (replacing labels of
    /// the same key) and nothing else changed: the Dockerfile is `FROM <image_id>`, so no
    /// layer is added and nothing is pulled. Returns the new image's id.
    async fn relabel_image(
        &self,
        image_id: &str,
        tag: &str,
        labels: BTreeMap<String, String>,
        progress: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<String, ImageError> {
        let context = tempfile::tempdir().map_err(|err| {
            ImageError::BuildFailed(format!("cannot create a build context: {err}"))
        })?;
        std::fs::write(
            context.path().join("Dockerfile"),
            format!("FROM {image_id}\n"),
        )
        .map_err(|err| ImageError::BuildFailed(format!("cannot write the Dockerfile: {err}")))?;
        let request = BuildRequest {
            context_dir: context.path().to_path_buf(),
            dockerfile: "Dockerfile".to_string(),
            tag: tag.to_string(),
            labels,
        };
        self.build_image(&request, progress).await
    }
}
