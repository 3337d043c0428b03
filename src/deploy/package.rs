//! What a deploy request carries, read from its body by media type. Three forms:
//!
//! * `application/ogcapppkg+json` (also plain `application/json`): an OGC Application
//!   Package whose `executionUnit` is a Docker unit (`{"type": "docker", "image": ...}`,
//!   optionally with the Seed manifest embedded as `seed`), alone, in an array, or as a
//!   qualified value (`{"value": {...}}`); an optional `processDescription` must name the
//!   same id as the manifest;
//! * `application/vnd.seed.manifest+json` (ours): a bare Seed manifest; the image is the
//!   `image` query parameter, or the Seed image name of the job when absent;
//! * `application/vnd.ades.image+json` (ours): `{"image": "registry/repo:tag"}`; the
//!   manifest is read from the image's label.
//!
//! The Seed manifest is the description's source of truth; a `processDescription` is only
//! checked for its id.

use super::DeployError;
use serde_json::Value;

pub const APP_PACKAGE: &str = "application/ogcapppkg+json";
pub const SEED_MANIFEST: &str = "application/vnd.seed.manifest+json";
pub const IMAGE_REFERENCE: &str = "application/vnd.ades.image+json";
/// The OGC deployment profile of Docker execution units.
pub const DOCKER_PROFILE: &str = "http://www.opengis.net/profiles/eoc/dockerizedApplication";

/// The media types a deploy body may have (for the 415 message).
pub const ACCEPTED: [&str; 8] = [
    APP_PACKAGE,
    "application/json",
    SEED_MANIFEST,
    IMAGE_REFERENCE,
    crate::workflow::RECIPE_MEDIA_TYPE,
    super::cwl::CWL,
    super::cwl::CWL_JSON,
    super::cwl::CWL_YAML,
];

/// A deploy request as it arrived.
#[derive(Debug, Clone)]
pub struct Package {
    /// The `Content-Type` (parameters allowed).
    pub media_type: String,
    pub body: Vec<u8>,
    /// The `image` query parameter (bare-manifest form).
    pub image_param: Option<String>,
    /// This server's base URL as the request reached it (empty: `server.public_url`):
    /// a deployable workflow's `process` URLs under it are local processes.
    pub base_url: String,
    /// The `w` query parameter: which process of a CWL `$graph` to deploy.
    pub entry_param: Option<String>,
}

/// What the package asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageSpec {
    /// The image reference; `None` = the Seed image name of the embedded manifest.
    pub image: Option<String>,
    /// A manifest given in the package (else it is read from the image's label).
    pub manifest: Option<Value>,
    /// The id a `processDescription` names, to check against the manifest.
    pub described_id: Option<String>,
}

/// The process id and execute request of a Part 3 deployable workflow: a JSON body
/// (`application/json` or `application/ogcapppkg+json`) that is an execute request with a
/// top-level `process` (its id in an `id` member), or an application package whose
/// `executionUnit` is one (its id in `processDescription`). `None` for other packages.
pub fn deployable_workflow(package: &Package) -> Result<Option<(String, Value)>, DeployError> {
    let essence = crate::jobs::request::media_type_essence(&package.media_type);
    if essence != APP_PACKAGE && essence != "application/json" {
        return Ok(None);
    }
    let document = parse_json(&package.body)?;
    let is_request = |v: &Value| v.get("process").is_some_and(Value::is_string);
    let unit = document
        .get("executionUnit")
        .map(|u| u.get("value").unwrap_or(u));
    let (request, id) = if is_request(&document) {
        (document.clone(), document.get("id"))
    } else if let Some(unit) = unit.filter(|u| is_request(u)) {
        let description = document.get("processDescription");
        let id = description
            .and_then(|d| d.get("process").unwrap_or(d).get("id"))
            .or_else(|| description.and_then(|d| d.get("id")));
        let mut request = unit.clone();
        // The description's title and version become the workflow's.
        if let Some(description) = description.map(|d| d.get("process").unwrap_or(d)) {
            for key in ["title", "description", "version"] {
                if let Some(value) = description.get(key) {
                    request[key] = value.clone();
                }
            }
        }
        (request, id)
    } else {
        return Ok(None);
    };
    match id
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
    {
        Some(id) => Ok(Some((id.trim().to_string(), request))),
        None => Err(DeployError::invalid(
            "/id",
            "a deployable workflow needs its process id: an \"id\" member beside \"process\" \
             (or processDescription.id in an application package)",
        )),
    }
}

/// Reads the package; the error says what to fix.
pub fn read_package(package: &Package) -> Result<PackageSpec, DeployError> {
    let essence = crate::jobs::request::media_type_essence(&package.media_type);
    let document = || parse_json(&package.body);
    match essence.as_str() {
        APP_PACKAGE | "application/json" => app_package(document()?),
        SEED_MANIFEST => Ok(PackageSpec {
            image: package.image_param.clone().filter(|i| !i.trim().is_empty()),
            manifest: Some(document()?),
            described_id: None,
        }),
        IMAGE_REFERENCE => {
            let document = document()?;
            let image = document
                .get("image")
                .and_then(Value::as_str)
                .filter(|image| !image.trim().is_empty())
                .ok_or_else(|| {
                    DeployError::invalid(
                        "/image",
                        "the body must be {\"image\": \"registry/repository:tag\"}",
                    )
                })?;
            Ok(PackageSpec {
                image: Some(image.trim().to_string()),
                manifest: None,
                described_id: None,
            })
        }
        _ => Err(DeployError::UnsupportedMediaType(
            package.media_type.clone(),
        )),
    }
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, DeployError> {
    use crate::limits::json::{parse_bounded, BoundedError};
    parse_bounded(body).map_err(|err| match err {
        BoundedError::Syntax(err) => DeployError::invalid(
            "",
            format!(
                "the body is not JSON: {err} (line {}, column {})",
                err.line(),
                err.column()
            ),
        ),
        BoundedError::TooManyValues { budget } => DeployError::invalid(
            "",
            format!(
                "the body holds more JSON values than this server parses for its size \
                 (about {budget} bytes once parsed); send a smaller package"
            ),
        ),
    })
}

fn app_package(document: Value) -> Result<PackageSpec, DeployError> {
    let Value::Object(package) = &document else {
        return Err(DeployError::invalid(
            "",
            "an application package is a JSON object with an executionUnit",
        ));
    };
    if let Some(profile) = package
        .get("deploymentProfile")
        .or_else(|| package.get("deploymentProfileName"))
    {
        if profile.as_str() != Some(DOCKER_PROFILE) {
            return Err(DeployError::invalid(
                "/deploymentProfile",
                format!("only Docker execution units are deployed here: use {DOCKER_PROFILE}"),
            ));
        }
    }
    let unit = package.get("executionUnit").ok_or_else(|| {
        DeployError::invalid(
            "/executionUnit",
            "the package has no executionUnit: add {\"type\": \"docker\", \"image\": \"...\"}",
        )
    })?;
    let (pointer, unit) = docker_unit(unit)?;
    let image = unit
        .get("image")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|image| !image.is_empty())
        .ok_or_else(|| {
            DeployError::invalid(
                format!("{pointer}/image"),
                "the Docker execution unit must name its image (a string)",
            )
        })?;
    let manifest = match unit.get("seed") {
        None | Some(Value::Null) => None,
        Some(manifest @ Value::Object(_)) => Some(manifest.clone()),
        Some(_) => {
            return Err(DeployError::invalid(
                format!("{pointer}/seed"),
                "the embedded Seed manifest must be a JSON object",
            ))
        }
    };
    let described_id = package.get("processDescription").and_then(|description| {
        description
            .pointer("/process/id")
            .or_else(|| description.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Ok(PackageSpec {
        image: Some(image.to_string()),
        manifest,
        described_id,
    })
}

/// The Docker unit of an `executionUnit` (object, qualified value or array), with its JSON
/// pointer.
fn docker_unit(unit: &Value) -> Result<(String, &serde_json::Map<String, Value>), DeployError> {
    let mut candidates: Vec<(String, &Value)> = match unit {
        Value::Array(units) => units
            .iter()
            .enumerate()
            .map(|(i, unit)| (format!("/executionUnit/{i}"), unit))
            .collect(),
        other => vec![("/executionUnit".to_string(), other)],
    };
    let mut refusals = Vec::new();
    for (pointer, unit) in candidates.drain(..) {
        let (pointer, unit) = match unit.get("value") {
            Some(value) => (format!("{pointer}/value"), value),
            None => (pointer, unit),
        };
        let Value::Object(object) = unit else {
            refusals.push(format!("{pointer} is not an object"));
            continue;
        };
        if object.contains_key("href") {
            refusals.push(format!(
                "{pointer} is a link (CWL or remote package): only Docker execution units \
                 are deployed here"
            ));
            continue;
        }
        match object.get("type").and_then(Value::as_str) {
            Some("docker") | Some("oci") => return Ok((pointer, object)),
            Some(other) => refusals.push(format!(
                "{pointer}/type is {other:?}: only \"docker\" (or \"oci\") units are deployed"
            )),
            None => refusals.push(format!("{pointer}/type is missing: set it to \"docker\"")),
        }
    }
    Err(DeployError::invalid(
        "/executionUnit",
        format!("no Docker execution unit found: {}", refusals.join("; ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(media_type: &str, body: Value) -> Result<PackageSpec, DeployError> {
        read_package(&Package {
            media_type: media_type.to_string(),
            body: serde_json::to_vec(&body).unwrap(),
            image_param: None,
            base_url: String::new(),
            entry_param: None,
        })
    }

    #[test]
    fn app_packages_name_their_image_and_may_embed_the_manifest() {
        let spec = read(
            "application/ogcapppkg+json; charset=utf-8",
            json!({
                "processDescription": {"process": {"id": "echo"}},
                "executionUnit": {"type": "docker", "image": "r:5000/echo:1", "seed": {"a": 1}},
                "deploymentProfile": DOCKER_PROFILE
            }),
        )
        .unwrap();
        assert_eq!(spec.image.as_deref(), Some("r:5000/echo:1"));
        assert_eq!(spec.manifest, Some(json!({"a": 1})));
        assert_eq!(spec.described_id.as_deref(), Some("echo"));

        let spec = read(
            APP_PACKAGE,
            json!({"executionUnit": [{"href": "https://x/app.cwl"}, {"value": {"type": "docker", "image": "e"}}]}),
        )
        .unwrap();
        assert_eq!(spec.image.as_deref(), Some("e"));
    }

    #[test]
    fn unusable_packages_say_what_to_fix() {
        let error = read(
            APP_PACKAGE,
            json!({"executionUnit": {"href": "https://x/app.cwl"}}),
        )
        .unwrap_err();
        assert!(error.to_string().contains("only Docker"), "{error}");
        let error = read(APP_PACKAGE, json!({"executionUnit": {"type": "docker"}})).unwrap_err();
        assert!(
            error.to_string().contains("/executionUnit/image"),
            "{error}"
        );
        let error = read(APP_PACKAGE, json!({})).unwrap_err();
        assert!(error.to_string().contains("executionUnit"), "{error}");
        let error = read(
            APP_PACKAGE,
            json!({"executionUnit": {"type": "docker", "image": "e"}, "deploymentProfile": "x"}),
        )
        .unwrap_err();
        assert!(error.to_string().contains(DOCKER_PROFILE), "{error}");
        let error = read(IMAGE_REFERENCE, json!({"image": 3})).unwrap_err();
        assert!(error.to_string().contains("/image"), "{error}");
        let error = read("application/x-nope", json!({})).unwrap_err();
        assert!(matches!(error, DeployError::UnsupportedMediaType(_)));
        let error = read_package(&Package {
            media_type: APP_PACKAGE.into(),
            body: b"{not json".to_vec(),
            image_param: None,
            base_url: String::new(),
            entry_param: None,
        })
        .unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }
}
