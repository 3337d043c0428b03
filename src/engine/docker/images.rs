//! [`ImageStore`] on the Docker engine: inspect, list, build (the context streamed as a tar
//! archive) and, in `push.rs`, tag, push and untag.

use super::{image_error, is_not_found, DockerEngine};
use crate::engine::{BuildRequest, ImageError, ImageStore, LogSink, RunnerError, SeedImage};
use crate::registry::RegistryCredentials;
use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion, ListImagesOptions};
use bollard::Docker;
use futures_util::StreamExt;
use seed::label::LABEL_KEY;
use std::io::Write;
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[async_trait]
impl ImageStore for DockerEngine {
    async fn inspect_image(&self, reference: &str) -> Result<SeedImage, ImageError> {
        inspect_image(&self.docker, reference).await
    }

    async fn list_seed_images(&self) -> Result<Vec<SeedImage>, ImageError> {
        list_seed_images(&self.docker).await
    }

    async fn build_image(
        &self,
        request: &BuildRequest,
        progress: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<String, ImageError> {
        build_image(&self.docker, request, progress).await
    }

    async fn tag_image(&self, source: &str, repository: &str, tag: &str) -> Result<(), ImageError> {
        super::push::tag_image(&self.docker, source, repository, tag).await
    }

    async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        credentials: &[RegistryCredentials],
        progress: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<Option<String>, ImageError> {
        super::push::push_image(&self.docker, repository, tag, credentials, progress).await
    }

    async fn untag_image(&self, reference: &str) -> Result<(), ImageError> {
        super::push::untag_image(&self.docker, reference).await
    }

    async fn pull_image(
        &self,
        image: &str,
        cancel: &CancellationToken,
        logs: &mut dyn LogSink,
    ) -> Result<bool, RunnerError> {
        self.pull(image, cancel, logs).await
    }
}

/// Inspects one local image.
async fn inspect_image(docker: &Docker, reference: &str) -> Result<SeedImage, ImageError> {
    let inspected = docker.inspect_image(reference).await.map_err(|err| {
        if is_not_found(&err) {
            ImageError::NotFound(reference.to_string())
        } else {
            image_error(err)
        }
    })?;
    let label = inspected
        .config
        .and_then(|config| config.labels)
        .and_then(|mut labels| labels.remove(LABEL_KEY));
    Ok(SeedImage {
        reference: reference.to_string(),
        id: inspected.id.unwrap_or_default(),
        label,
        created: inspected.created,
        size_bytes: inspected.size,
        repo_digests: inspected.repo_digests.unwrap_or_default(),
    })
}

/// Local images with a reference containing `-seed` (one entry per repo:tag).
///
/// Sorted by reference. Untagged images (`<none>:<none>`) are never listed.
async fn list_seed_images(docker: &Docker) -> Result<Vec<SeedImage>, ImageError> {
    let summaries = docker
        .list_images(Some(ListImagesOptions::default()))
        .await
        .map_err(image_error)?;
    let mut found: Vec<SeedImage> = summaries
        .into_iter()
        .flat_map(|summary| {
            let created = OffsetDateTime::from_unix_timestamp(summary.created)
                .ok()
                .and_then(|time| time.format(&Rfc3339).ok());
            let label = summary.labels.get(LABEL_KEY).cloned();
            summary
                .repo_tags
                .into_iter()
                .filter(|reference| reference.contains("-seed") && reference != "<none>:<none>")
                .map(move |reference| SeedImage {
                    reference,
                    id: summary.id.clone(),
                    label: label.clone(),
                    created: created.clone(),
                    size_bytes: Some(summary.size),
                    repo_digests: Vec::new(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    found.sort_by(|a, b| a.reference.cmp(&b.reference));
    found.dedup_by(|a, b| a.reference == b.reference);
    Ok(found)
}

/// Builds an image, feeding each line of build output to `progress`; returns the image id.
///
/// Each call to `progress` gets one line of engine output with its trailing newline. The
/// context directory is streamed to the engine as a tar archive, leaving out `.git`
/// directories (at any depth) and the top-level `target/` (Rust build output); a
/// `.dockerignore` is not read. The classic builder is used (BuildKit is not needed for
/// Seed images), with intermediate containers always removed.
async fn build_image(
    docker: &Docker,
    request: &BuildRequest,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<String, ImageError> {
    let context = request.context_dir.clone();
    if !context.is_dir() {
        return Err(ImageError::BuildFailed(format!(
            "the build context {} is not a directory",
            context.display()
        )));
    }
    if !context.join(&request.dockerfile).is_file() {
        return Err(ImageError::BuildFailed(format!(
            "there is no {} in {}: give the Dockerfile's path relative to the context",
            request.dockerfile,
            context.display()
        )));
    }

    // The archive is written on a blocking thread into a bounded channel that the request
    // body drains, so a large context never sits in memory whole.
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(8);
    let writer = tokio::task::spawn_blocking(move || write_context_tar(&context, sender));
    let body = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)).map(Into::into);

    let options = BuildImageOptions {
        dockerfile: request.dockerfile.clone(),
        t: Some(request.tag.clone()),
        labels: Some(
            request
                .labels
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        rm: true,
        forcerm: true,
        version: BuilderVersion::BuilderV1,
        ..Default::default()
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_stream(body)));

    let mut image_id: Option<String> = None;
    let mut failure: Option<ImageError> = None;
    let mut pending = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                    pending.push_str(text);
                    if info.stream.is_none() && !text.ends_with('\n') {
                        pending.push('\n');
                    }
                    emit_lines(&mut pending, progress);
                }
                if let Some(id) = info.aux.and_then(|aux| aux.id) {
                    image_id = Some(id);
                }
            }
            Err(DockerError::DockerStreamError { error }) => {
                failure = Some(ImageError::BuildFailed(error));
                break;
            }
            Err(DockerError::DockerResponseServerError { message, .. }) => {
                failure = Some(ImageError::BuildFailed(message));
                break;
            }
            Err(err) => {
                failure = Some(image_error(err));
                break;
            }
        }
    }
    drop(stream);
    if !pending.is_empty() {
        pending.push('\n');
        emit_lines(&mut pending, progress);
    }

    // A context that could not be read explains a failed build better than whatever the
    // engine made of the truncated archive.
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            return Err(ImageError::BuildFailed(format!(
                "cannot read the build context {}: {err}",
                request.context_dir.display()
            )))
        }
        Err(err) => {
            return Err(ImageError::BuildFailed(format!(
                "archiving the build context failed: {err}"
            )))
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    match image_id {
        Some(id) => Ok(id),
        // Older engines only print "Successfully built …": ask for the id by tag.
        None => Ok(inspect_image(docker, &request.tag).await?.id),
    }
}

fn emit_lines(pending: &mut String, progress: &mut (dyn FnMut(&str) + Send)) {
    while let Some(end) = pending.find('\n') {
        let line: String = pending.drain(..=end).collect();
        progress(&line);
    }
}

/// An [`std::io::Write`] that hands what it is given to an async receiver in chunks.
struct ChannelWriter {
    sender: mpsc::Sender<Vec<u8>>,
    buffer: Vec<u8>,
}

const CHUNK_BYTES: usize = 64 * 1024;

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buffer);
        self.sender.blocking_send(chunk).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the engine stopped reading the build context",
            )
        })
    }
}

fn write_context_tar(context: &Path, sender: mpsc::Sender<Vec<u8>>) -> std::io::Result<()> {
    let mut archive = tar::Builder::new(ChannelWriter {
        sender,
        buffer: Vec::with_capacity(CHUNK_BYTES),
    });
    // Like the docker CLI: symlinks go in as links, and metadata that only defeats the
    // build cache (owners, times) is normalised.
    archive.follow_symlinks(false);
    archive.mode(tar::HeaderMode::Deterministic);
    append_dir_contents(&mut archive, context, Path::new(""))?;
    let mut writer = archive.into_inner()?;
    writer.flush()
}

fn append_dir_contents<W: Write>(
    archive: &mut tar::Builder<W>,
    dir: &Path,
    relative: &Path,
) -> std::io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name();
        let path = entry.path();
        let inside = relative.join(&name);
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if name == ".git" || (relative.as_os_str().is_empty() && name == "target") {
                continue;
            }
            archive.append_dir(&inside, &path)?;
            append_dir_contents(archive, &path, &inside)?;
        } else {
            archive.append_path_with_name(&path, &inside)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_tar_skips_git_and_top_level_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/HEAD"), "ref").unwrap();
        std::fs::create_dir_all(root.join("target/debug")).unwrap();
        std::fs::write(root.join("target/debug/big"), "x").unwrap();
        std::fs::create_dir_all(root.join("app/target")).unwrap();
        std::fs::write(root.join("app/target/keep.txt"), "keep").unwrap();
        std::fs::create_dir_all(root.join("app/.git")).unwrap();
        std::fs::write(root.join("app/.git/x"), "x").unwrap();

        let (sender, mut receiver) = mpsc::channel(1024);
        write_context_tar(root, sender).unwrap();
        let mut bytes = Vec::new();
        while let Ok(chunk) = receiver.try_recv() {
            bytes.extend(chunk);
        }
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            vec!["Dockerfile", "app", "app/target", "app/target/keep.txt"]
        );
    }

    #[test]
    fn progress_gets_whole_lines() {
        let mut seen = Vec::new();
        let mut progress = |line: &str| seen.push(line.to_string());
        let mut pending = "Step 1/2 : FROM scratch\n ---> ab".to_string();
        emit_lines(&mut pending, &mut progress);
        pending.push_str("c\n");
        emit_lines(&mut pending, &mut progress);
        assert_eq!(seen, vec!["Step 1/2 : FROM scratch\n", " ---> abc\n"]);
        assert!(pending.is_empty());
    }
}
