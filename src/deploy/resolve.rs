//! Where a deployed image is, what it carries and which digest pins it: the local engine
//! first (as `docker run` would), else the registry the reference names, read without
//! pulling (the engine pulls before the first run).

use super::DeployError;
use crate::engine::{ImageError, ImageStore};
use crate::registry::{ImageReference, RegistryClient};

/// An image found for a deploy.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The reference as the package gave it.
    pub requested: String,
    /// What jobs run: `repository@sha256:...` (a registry digest), or the local image id
    /// `sha256:...` for an image that exists only in the local engine.
    pub pinned: String,
    /// The raw Seed label, if the image has one.
    pub label: Option<String>,
}

pub async fn resolve(
    images: Option<&dyn ImageStore>,
    registry: &RegistryClient,
    reference: &str,
) -> Result<ResolvedImage, DeployError> {
    let parsed = ImageReference::parse(reference)
        .map_err(|err| DeployError::invalid("/executionUnit/image", err.to_string()))?;
    let mut local_problem = None;
    if let Some(images) = images {
        match images.inspect_image(reference).await {
            Ok(image) => {
                return Ok(ResolvedImage {
                    requested: reference.to_string(),
                    pinned: pin_local(&parsed, &image.repo_digests, &image.id),
                    label: image.label,
                })
            }
            Err(ImageError::NotFound(_)) => {}
            Err(err) => local_problem = Some(err.to_string()),
        }
    }
    match registry.inspect(&parsed).await {
        Ok(remote) => Ok(ResolvedImage {
            requested: reference.to_string(),
            pinned: parsed.with_digest(&remote.digest),
            label: remote.labels.get(seed::label::LABEL_KEY).cloned(),
        }),
        Err(err) => {
            let local = match local_problem {
                Some(problem) => format!("the local engine could not be asked ({problem})"),
                None => "it is not in the local Docker engine".to_string(),
            };
            Err(DeployError::Image(format!(
                "image {reference} cannot be deployed: {local}, and {err}. Push it to a \
                 registry ades can reach, or build it on this host"
            )))
        }
    }
}

/// The pinned form of a local image: its registry digest for the same repository when it
/// has one (pushed or pulled), else its image id.
fn pin_local(reference: &ImageReference, repo_digests: &[String], image_id: &str) -> String {
    for digest in repo_digests {
        let Some((repository, hash)) = digest.split_once('@') else {
            continue;
        };
        let same = ImageReference::parse(repository).is_ok_and(|listed| {
            listed.registry == reference.registry && listed.repository == reference.repository
        });
        if same {
            return reference.with_digest(hash);
        }
    }
    image_id.to_string()
}
