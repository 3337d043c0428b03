//! `ades seed publish IMAGE -r REGISTRY [-O ORG] [--force] [version options]`: push a local
//! Seed image to a registry under its conventional name, like `seed publish`.

use super::seed_cmd::{login_credentials, registry_host};
use super::{print, status, PublishArgs};
use crate::config::Overrides;
use crate::engine::{connect_engine, ImageError};
use crate::registry::{ImageReference, RegistryClient, RegistryError};
use crate::startup::registry_settings;
use seed::label::{decode_label, encode_label, LABEL_KEY};
use seed::names::image_name;
use seed::validate::manifest_from_value;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Which part of a `MAJOR.MINOR.PATCH` version a bump raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Major,
    Minor,
    Patch,
}

/// What to do with a version: publish it under a given one, or bump it when the tag exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionChange {
    Set(String),
    Bump(Part),
}

/// The value `-P` / `-J` take when given without `=X.Y.Z` (seed-cli: bump the major part).
pub const MAJOR: &str = "major";

impl VersionChange {
    /// From the `-P[=X.Y.Z]` value and the bump flags (clap lets at most one through).
    pub fn from_flags(set: Option<&str>, major: bool, minor: bool, patch: bool) -> Option<Self> {
        match set {
            Some(MAJOR) => Some(VersionChange::Bump(Part::Major)),
            Some(version) => Some(VersionChange::Set(version.to_string())),
            None if major => Some(VersionChange::Bump(Part::Major)),
            None if minor => Some(VersionChange::Bump(Part::Minor)),
            None if patch => Some(VersionChange::Bump(Part::Patch)),
            None => None,
        }
    }
}

/// `version` with `part` raised by one and the parts after it reset to 0; pre-release and
/// build suffixes are dropped (the new version is a release). Errors when `version` does not
/// start with `MAJOR.MINOR.PATCH`.
pub fn bump(version: &str, part: Part) -> Result<String, String> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<u64> = core
        .split('.')
        .map(|n| n.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{version:?} is not a MAJOR.MINOR.PATCH version"))?;
    let [major, minor, patch] = numbers[..] else {
        return Err(format!("{version:?} is not a MAJOR.MINOR.PATCH version"));
    };
    Ok(match part {
        Part::Major => format!("{}.0.0", major + 1),
        Part::Minor => format!("{major}.{}.0", minor + 1),
        Part::Patch => format!("{major}.{minor}.{}", patch + 1),
    })
}

/// The `--json` report.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublishReport {
    /// The local image that was pushed (a new one when a version changed).
    image: String,
    /// `registry/[org/]name-jobVersion-seed:packageVersion`.
    published: String,
    digest: Option<String>,
    name: String,
    job_version: String,
    package_version: String,
    /// Whether the versions differ from the label of the image given (a new label was built).
    relabeled: bool,
    /// Whether the registry was asked if the tag exists (not with --force).
    checked: bool,
}

/// Why publishing stopped: the exit status and what to tell the user.
struct Stop(u8, String);

fn stop(message: impl Into<String>) -> Stop {
    Stop(status::ERROR, message.into())
}

pub async fn publish(args: PublishArgs) -> u8 {
    match publish_inner(&args).await {
        Ok(report) => {
            if args.json {
                print::json(&report);
            } else {
                print::success(&format!("published {}", report.published));
                if let Some(digest) = &report.digest {
                    print::note(&format!("digest {digest}"));
                }
            }
            status::OK
        }
        Err(Stop(code, message)) => {
            print::error(&message);
            code
        }
    }
}

async fn publish_inner(args: &PublishArgs) -> Result<PublishReport, Stop> {
    let settings = args
        .config
        .load(Overrides::default())
        .map_err(|err| stop(err.to_string()))?;
    let (registry, plain_http) =
        registry_host(&args.registry).map_err(|m| Stop(status::USAGE, m))?;
    let package_change = VersionChange::from_flags(
        args.package.package_version.as_deref(),
        args.package.major,
        args.package.minor,
        args.package.patch,
    );
    let job_change = VersionChange::from_flags(
        args.job.job_version.as_deref(),
        args.job.major,
        args.job.minor,
        args.job.patch,
    );

    let mut registry_settings = registry_settings(&settings);
    let from_command_line =
        login_credentials(&registry, args.username.as_deref(), args.password_stdin)
            .map_err(|m| Stop(status::USAGE, m))?;
    let had_login = from_command_line.is_some()
        || registry_settings
            .credentials
            .iter()
            .any(|c| c.registry == registry);
    // Credentials given on the command line win over the configuration's.
    if let Some(credentials) = from_command_line {
        registry_settings.credentials.insert(0, credentials);
    }
    if plain_http {
        registry_settings.insecure.push(registry.clone());
    }
    let credentials = registry_settings.credentials.clone();
    let client = RegistryClient::new(registry_settings);

    let engine = connect_engine(Vec::new())
        .await
        .map_err(|e| stop(e.to_string()))?;
    let images = engine.images.as_ref();
    let local = match images.inspect_image(&args.image).await {
        Ok(found) => found,
        Err(ImageError::NotFound(_)) => {
            return Err(stop(format!(
                "image {} is not in the local Docker engine: build it with `ades seed build DIR` or check the name with `ades seed list`",
                args.image
            )))
        }
        Err(err) => return Err(stop(err.to_string())),
    };
    let label = local.label.as_deref().ok_or_else(|| {
        stop(format!(
            "image {} has no {LABEL_KEY} label: it is not a Seed image (build it with `ades seed build`)",
            args.image
        ))
    })?;
    let mut document =
        decode_label(label).map_err(|e| stop(format!("image {}: {e}", args.image)))?;
    let valid = manifest_from_value(document.clone()).map_err(|problems| {
        print::problems(&problems);
        stop(format!(
            "image {} carries an invalid Seed manifest: fix it and rebuild the image with `ades seed build`",
            args.image
        ))
    })?;
    let job = &valid.manifest.job;
    let mut job_version = job.job_version.clone();
    let mut package_version = job.package_version.clone();
    if let Some(VersionChange::Set(version)) = &job_change {
        job_version = version.clone();
    }
    if let Some(VersionChange::Set(version)) = &package_change {
        package_version = version.clone();
    }

    let prefix = match &args.org {
        Some(org) => format!("{registry}/{}/", org.trim_matches('/')),
        None => format!("{registry}/"),
    };
    let target = |job_version: &str, package_version: &str| {
        format!("{prefix}{}-{job_version}-seed:{package_version}", job.name)
    };
    let mut remote = target(&job_version, &package_version);

    if !args.force && exists(&client, &remote, had_login).await? {
        let bumps = [
            (&package_change, &mut package_version),
            (&job_change, &mut job_version),
        ];
        let mut bumped = false;
        for (change, version) in bumps {
            if let Some(VersionChange::Bump(part)) = change {
                *version = bump(version, *part).map_err(|m| Stop(status::USAGE, m))?;
                bumped = true;
            }
        }
        if !bumped {
            return Err(stop(format!(
                "{remote} already exists in the registry: publish with --force to replace it, \
                 or bump a version (-pp, -pm, -pM for the package version, -jp, -jm, -jM \
                 for the job version; -P=X.Y.Z or -J=X.Y.Z to choose one)"
            )));
        }
        let previous = remote;
        remote = target(&job_version, &package_version);
        print::note(&format!("{previous} exists; publishing as {remote}"));
        if exists(&client, &remote, had_login).await? {
            return Err(stop(format!(
                "{remote} already exists in the registry too: bump the version further \
                 (or choose one with -P=X.Y.Z / -J=X.Y.Z), or publish with --force"
            )));
        }
    }

    let relabeled = job_version != job.job_version || package_version != job.package_version;
    let source = if relabeled {
        let job = document
            .get_mut("job")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| stop("the manifest label has no job object"))?;
        job.insert("jobVersion".into(), Value::String(job_version.clone()));
        job.insert(
            "packageVersion".into(),
            Value::String(package_version.clone()),
        );
        let changed = manifest_from_value(document.clone()).map_err(|problems| {
            print::problems(&problems);
            Stop(
                status::USAGE,
                "the new versions do not make a valid Seed manifest: choose MAJOR.MINOR.PATCH versions"
                    .to_string(),
            )
        })?;
        let local_name = image_name(&changed.manifest.job);
        print::note(&format!(
            "labelling {local_name} (jobVersion {job_version}, packageVersion {package_version})"
        ));
        let labels = BTreeMap::from([(LABEL_KEY.to_string(), encode_label(&document))]);
        let mut progress = |_: &str| {};
        images
            .relabel_image(&local.id, &local_name, labels, &mut progress)
            .await
            .map_err(|e| stop(e.to_string()))?;
        local_name
    } else {
        args.image.clone()
    };

    let (repository, tag) = remote
        .rsplit_once(':')
        .map(|(r, t)| (r.to_string(), t.to_string()))
        .ok_or_else(|| stop(format!("{remote} has no tag")))?;
    ImageReference::parse(&remote).map_err(|e| Stop(status::USAGE, e.to_string()))?;
    images
        .tag_image(&source, &repository, &tag)
        .await
        .map_err(|e| stop(e.to_string()))?;
    print::note(&format!("pushing {remote}"));
    let mut progress = |line: &str| {
        if !line.starts_with("Preparing") && !line.starts_with("Waiting") {
            eprint!("  {line}");
        }
    };
    let pushed = images
        .push_image(&repository, &tag, &credentials, &mut progress)
        .await;
    // Like seed-cli, the registry-prefixed name is not kept in the local engine.
    if let Err(err) = images.untag_image(&remote).await {
        print::warning(&format!("could not remove the local name {remote}: {err}"));
    }
    let digest = pushed.map_err(|err| stop(push_message(err, &registry, had_login)))?;
    Ok(PublishReport {
        image: source,
        published: remote,
        digest,
        name: job.name.clone(),
        job_version,
        package_version,
        relabeled,
        checked: !args.force,
    })
}

/// Whether `reference` is in its registry; a refusal says how to give credentials.
async fn exists(client: &RegistryClient, reference: &str, had_login: bool) -> Result<bool, Stop> {
    let parsed =
        ImageReference::parse(reference).map_err(|e| Stop(status::USAGE, e.to_string()))?;
    match client.inspect(&parsed).await {
        Ok(_) => Ok(true),
        Err(RegistryError::NotFound(_)) => Ok(false),
        Err(err @ RegistryError::Unauthorized(..)) => Err(stop(format!(
            "{err}; {}",
            login_hint(&parsed.registry, had_login)
        ))),
        Err(err) => Err(stop(err.to_string())),
    }
}

fn login_hint(registry: &str, had_login: bool) -> String {
    if had_login {
        format!(
            "check the username and password given for {registry}, and that this user may push to the repository"
        )
    } else {
        format!(
            "give credentials for {registry} in the configuration's [registries] credentials \
             (--config FILE), or with --username USER and the password on stdin (--password-stdin) \
             or in ADES_REGISTRY_PASSWORD"
        )
    }
}

fn push_message(err: ImageError, registry: &str, had_login: bool) -> String {
    let text = err.to_string();
    let lower = text.to_lowercase();
    let refused = [
        "unauthorized",
        "authentication required",
        "no basic auth",
        "denied",
    ]
    .iter()
    .any(|word| lower.contains(word));
    if refused {
        format!(
            "{text}: the registry {registry} refused the push; {}",
            login_hint(registry, had_login)
        )
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_reset_the_lower_parts() {
        assert_eq!(bump("1.2.3", Part::Patch).unwrap(), "1.2.4");
        assert_eq!(bump("1.2.3", Part::Minor).unwrap(), "1.3.0");
        assert_eq!(bump("1.2.3", Part::Major).unwrap(), "2.0.0");
        assert_eq!(bump("1.2.3-rc.1", Part::Patch).unwrap(), "1.2.4");
        assert!(bump("1.2", Part::Patch)
            .unwrap_err()
            .contains("MAJOR.MINOR.PATCH"));
        assert!(bump("x.2.3", Part::Major).is_err());
    }

    #[test]
    fn flags_become_changes() {
        let from = VersionChange::from_flags;
        assert_eq!(from(None, false, false, false), None);
        assert_eq!(
            from(Some(MAJOR), false, false, false),
            Some(VersionChange::Bump(Part::Major))
        );
        assert_eq!(
            from(Some("2.0.0"), false, false, false),
            Some(VersionChange::Set("2.0.0".into()))
        );
        assert_eq!(
            from(None, false, false, true),
            Some(VersionChange::Bump(Part::Patch))
        );
    }
}
