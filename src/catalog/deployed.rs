//! A deployed process (OGC API Part 2) rebuilt from its stored row: the same Seed → OGC
//! translation as a scanned image, run on the pinned image, marked `mutable`, with the
//! reference it was deployed from in its metadata.

use super::seed_process::{self, ROLE_IMAGE};
use crate::domain::{Metadata, Process};
use crate::store::DeployedProcess;

/// Metadata role of the image reference a process was deployed from (the tag, before
/// pinning); [`ROLE_IMAGE`] holds the pinned reference jobs run.
pub const ROLE_DEPLOYED_IMAGE: &str = "urn:ades:seed:deployedImage";

/// The process a stored row describes, or why the row no longer makes one.
pub fn process_from_row(row: &DeployedProcess) -> Result<Process, String> {
    // A recipe, or a Part 3 deployable workflow: the row keeps the compiled workflow.
    let is_workflow = row.package_media_type == crate::workflow::RECIPE_MEDIA_TYPE
        || (row.manifest.get("steps").is_some() && row.manifest.get("seedVersion").is_none());
    if is_workflow {
        let workflow: crate::workflow::Workflow = serde_json::from_value(row.manifest.clone())
            .map_err(|err| format!("its stored workflow is not readable: {err}"))?;
        return std::sync::Arc::new(workflow).to_process();
    }
    if let Some(binding) = crate::deploy::cwl::binding_from_row(row) {
        return crate::cwl::process::to_process(binding?);
    }
    let manifest = seed::validate::manifest_from_value(row.manifest.clone())
        .map_err(|problems| {
            format!(
                "its stored manifest is not valid: {}",
                super::manifest_errors(&problems)
            )
        })?
        .manifest;
    deployed_process(&manifest, &row.image, &row.pinned_image)
}

/// The process for `manifest` deployed from `image`, running `pinned`.
pub fn deployed_process(
    manifest: &seed::Manifest,
    image: &str,
    pinned: &str,
) -> Result<Process, String> {
    let mut process = seed_process::try_process_from_manifest(manifest, pinned, None)
        .map_err(|err| format!("its job name cannot be a process id: {err}"))?;
    process.mutable = true;
    let at = process
        .metadata
        .iter()
        .position(|m| m.role.as_deref() == Some(ROLE_IMAGE))
        .map_or(process.metadata.len(), |i| i + 1);
    process.metadata.insert(
        at,
        Metadata {
            title: Some(image.to_string()),
            role: Some(ROLE_DEPLOYED_IMAGE.to_string()),
            href: None,
        },
    );
    Ok(process)
}
