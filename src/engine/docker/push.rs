//! Publishing local images: tagging, pushing to a registry through the engine, and
//! removing a tag.

use super::pull::credentials_for;
use super::{image_error, is_not_found};
use crate::engine::ImageError;
use crate::registry::RegistryCredentials;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{PushImageOptions, RemoveImageOptions, TagImageOptions};
use bollard::Docker;
use futures_util::StreamExt;

/// Gives the local image `source` the name `repository:tag`.
pub(super) async fn tag_image(
    docker: &Docker,
    source: &str,
    repository: &str,
    tag: &str,
) -> Result<(), ImageError> {
    let options = TagImageOptions {
        repo: Some(repository.to_string()),
        tag: Some(tag.to_string()),
    };
    docker
        .tag_image(source, Some(options))
        .await
        .map_err(|err| {
            if is_not_found(&err) {
                ImageError::NotFound(source.to_string())
            } else {
                image_error(err)
            }
        })
}

/// Pushes the local `repository:tag` to the registry its name starts with, feeding the
/// engine's progress lines to `progress`. Returns the pushed manifest's digest when the
/// engine reports it (`sha256:...`).
pub(super) async fn push_image(
    docker: &Docker,
    repository: &str,
    tag: &str,
    credentials: &[RegistryCredentials],
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Option<String>, ImageError> {
    let name = format!("{repository}:{tag}");
    let credentials = credentials_for(&name, credentials);
    let options = PushImageOptions {
        tag: Some(tag.to_string()),
        ..Default::default()
    };
    let mut events = docker.push_image(repository, Some(options), credentials);
    let mut digest = None;
    let failed = |reason: String| ImageError::PushFailed(name.clone(), reason);
    while let Some(event) = events.next().await {
        match event {
            Ok(info) => {
                if let Some(status) = info.status.as_deref() {
                    // The last status line reads "<tag>: digest: sha256:... size: N".
                    if let Some(found) = digest_in(status) {
                        digest = Some(found);
                    }
                    if info.progress.is_none() {
                        progress(&format!("{status}\n"));
                    }
                }
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(failed(detail));
                }
            }
            Err(DockerError::DockerStreamError { error }) => return Err(failed(error)),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Err(ImageError::NotFound(name)),
            Err(DockerError::DockerResponseServerError { message, .. }) => {
                return Err(failed(message))
            }
            Err(err) => return Err(image_error(err)),
        }
    }
    Ok(digest)
}

/// Removes the name `reference` from the local engine; the image itself stays while other
/// names point to it.
pub(super) async fn untag_image(docker: &Docker, reference: &str) -> Result<(), ImageError> {
    docker
        .remove_image(
            reference,
            Some(RemoveImageOptions {
                force: false,
                noprune: true,
            }),
            None,
        )
        .await
        .map(|_| ())
        .map_err(image_error)
}

fn digest_in(status: &str) -> Option<String> {
    let start = status.find("digest: sha256:")? + "digest: ".len();
    let digest: String = status[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    (digest.len() == "sha256:".len() + 64).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_read_from_the_last_status_line() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_in(&format!("1.0.0: digest: sha256:{hex} size: 527")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_in("Pushed"), None);
        assert_eq!(digest_in("digest: sha256:abc"), None);
    }
}
