//! `ades seed validate|init|build|list|search`.

use super::{print, status, BuildArgs, InitArgs, ListArgs, SearchArgs, ToCwlArgs, ValidateArgs};
use crate::engine::{connect_engine, BuildRequest, ImageError, ImageStore};
use crate::registry::{
    RegistryClient, RegistryCredentials, RegistryError, RegistrySettings, SearchHit,
};
use seed::label::{decode_label, encode_label, LABEL_KEY};
use seed::names::image_name;
use seed::validate::{manifest_from_value, parse_manifest, ValidManifest};
use seed::Problem;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Name of the manifest file in a Seed job directory.
pub const MANIFEST_FILE: &str = "seed.manifest.json";

/// Where a manifest came from, for messages.
enum ManifestSource {
    File(PathBuf),
    Image(String),
}

impl std::fmt::Display for ManifestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestSource::File(path) => write!(f, "{}", path.display()),
            ManifestSource::Image(image) => write!(f, "the {LABEL_KEY} label of image {image}"),
        }
    }
}

#[derive(Serialize)]
struct ValidationReport<'a> {
    source: String,
    valid: bool,
    problems: &'a [Problem],
}

pub async fn validate(args: ValidateArgs) -> u8 {
    let (source, result) = match load_for_validation(&args.target).await {
        Ok(loaded) => loaded,
        Err(message) => {
            print::error(&message);
            return status::ERROR;
        }
    };
    let problems = match &result {
        Ok(valid) => valid.warnings.clone(),
        Err(problems) => problems.clone(),
    };
    // With --strict a warning fails validation as an error would.
    let valid = if args.strict {
        problems.is_empty()
    } else {
        !problems.iter().any(Problem::is_error)
    };
    if args.json {
        print::json(&ValidationReport {
            source: source.to_string(),
            valid,
            problems: &problems,
        });
    } else if valid {
        print::success(&format!("{source} is a valid Seed 1.0.0 manifest"));
        print::problems(&problems);
    } else {
        let errors = problems.iter().filter(|p| p.is_error()).count();
        let warnings = problems.len() - errors;
        print::error(&format!(
            "{source} is not a valid Seed 1.0.0 manifest ({errors} error(s), {warnings} warning(s){}):",
            if args.strict { ", warnings count as errors" } else { "" }
        ));
        print::problems(&problems);
    }
    if valid {
        status::OK
    } else {
        status::ERROR
    }
}

/// Reads the manifest named by `target`: a directory holding seed.manifest.json, a file, or
/// (when no such path exists) a local image reference.
async fn load_for_validation(
    target: &str,
) -> Result<(ManifestSource, Result<ValidManifest, Vec<Problem>>), String> {
    let path = Path::new(target);
    if path.exists() {
        let file = if path.is_dir() {
            path.join(MANIFEST_FILE)
        } else {
            path.to_path_buf()
        };
        let text = read_manifest_file(&file)?;
        return Ok((ManifestSource::File(file), parse_manifest(&text)));
    }
    let engine = connect_engine(Vec::new())
        .await
        .map_err(|err| format!("{target} is not a file or directory, and {err}"))?;
    let label = image_label(engine.images.as_ref(), target).await?;
    let result = match decode_label(&label) {
        Ok(document) => manifest_from_value(document),
        Err(err) => Err(vec![Problem::error("/", err.to_string())]),
    };
    Ok((ManifestSource::Image(target.to_string()), result))
}

fn read_manifest_file(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{} does not exist: give a directory holding {MANIFEST_FILE}, a manifest file or an image",
                file.display()
            )
        } else {
            format!("cannot read {}: {err}", file.display())
        }
    })
}

/// The raw Seed label of a local image, or a message saying why there is none.
pub async fn image_label(images: &dyn ImageStore, image: &str) -> Result<String, String> {
    match images.inspect_image(image).await {
        Ok(found) => found.label.ok_or_else(|| {
            format!("image {image} has no {LABEL_KEY} label: it is not a Seed image (build it with `ades seed build`)")
        }),
        Err(ImageError::NotFound(_)) => Err(format!(
            "image {image} is not in the local Docker engine: build it with `ades seed build DIR` or check the name with `ades seed list`"
        )),
        Err(err) => Err(err.to_string()),
    }
}

pub fn init(args: InitArgs) -> u8 {
    let file = args.dir.join(MANIFEST_FILE);
    if file.exists() {
        print::note(&format!(
            "{} already exists; it was left unmodified",
            file.display()
        ));
        return status::OK;
    }
    if let Err(err) = std::fs::create_dir_all(&args.dir) {
        print::error(&format!("cannot create {}: {err}", args.dir.display()));
        return status::ERROR;
    }
    let manifest = starter_manifest(&job_name_for(&args.dir));
    let text = serde_json::to_string_pretty(&manifest).expect("a JSON value serialises") + "\n";
    if let Err(err) = std::fs::write(&file, text) {
        print::error(&format!("cannot write {}: {err}", file.display()));
        return status::ERROR;
    }
    print::success(&format!("wrote {}", file.display()));
    print::note(
        "edit it, add a Dockerfile beside it, then run `ades seed build` in that directory",
    );
    status::OK
}

/// A job name Docker accepts, from the directory's name (`My Tool` -> `my-tool`).
fn job_name_for(dir: &Path) -> String {
    let base = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut name = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "my-job".to_string()
    } else {
        name
    }
}

/// The manifest `ades seed init` writes: one input file, one output, the resources and an
/// error a real job would declare, so every section has an example to edit.
fn starter_manifest(name: &str) -> serde_json::Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name,
            "jobVersion": "0.1.0",
            "packageVersion": "0.1.0",
            "title": "A short title for the algorithm",
            "description": "What the algorithm does, what it reads and what it writes.",
            "maintainer": { "name": "Your Name", "email": "you@example.org" },
            "timeout": 300,
            "interface": {
                "command": "${INPUT_FILE} ${OUTPUT_DIR}",
                "inputs": {
                    "files": [{ "name": "INPUT_FILE", "mediaTypes": ["text/plain"] }]
                },
                "outputs": {
                    "files": [{ "name": "OUTPUT_FILE", "pattern": "*.txt", "mediaType": "text/plain" }]
                }
            },
            "resources": {
                "scalar": [
                    { "name": "cpus", "value": 1 },
                    { "name": "mem", "value": 256 },
                    { "name": "disk", "value": 64, "inputMultiplier": 1 }
                ]
            },
            "errors": [{
                "code": 1,
                "name": "unreadable-input",
                "title": "Unreadable input",
                "description": "The input file could not be read.",
                "category": "data"
            }]
        }
    })
}

pub async fn build(args: BuildArgs) -> u8 {
    let manifest_file = args
        .manifest
        .clone()
        .unwrap_or_else(|| args.dir.join(MANIFEST_FILE));
    let text = match read_manifest_file(&manifest_file) {
        Ok(text) => text,
        Err(message) => {
            print::error(&message);
            return status::ERROR;
        }
    };
    let valid = match parse_manifest(&text) {
        Ok(valid) => valid,
        Err(problems) => {
            print::error(&format!(
                "{} is not a valid Seed 1.0.0 manifest; nothing was built:",
                manifest_file.display()
            ));
            print::problems(&problems);
            return status::ERROR;
        }
    };
    print::problems(&valid.warnings);
    let image = image_name(&valid.manifest.job);
    let engine = match connect_engine(Vec::new()).await {
        Ok(engine) => engine,
        Err(err) => {
            print::error(&err.to_string());
            return status::ERROR;
        }
    };
    let request = BuildRequest {
        context_dir: args.dir.clone(),
        dockerfile: args.dockerfile.clone(),
        tag: image.clone(),
        labels: BTreeMap::from([(LABEL_KEY.to_string(), encode_label(&valid.document))]),
    };
    print::note(&format!("building {image} from {}", args.dir.display()));
    let mut progress = |line: &str| eprint!("{line}");
    match engine.images.build_image(&request, &mut progress).await {
        Ok(id) => {
            if args.json {
                print::json(&json!({ "image": image, "id": id }));
            } else {
                print::success(&format!("built {image}"));
                print::note(&format!(
                    "run it with:\n  {}",
                    suggested_run_line(&valid, &image)
                ));
            }
            status::OK
        }
        Err(err) => {
            print::error(&err.to_string());
            status::ERROR
        }
    }
}

/// An `ades run` line with a placeholder for every input, setting and mount.
fn suggested_run_line(valid: &ValidManifest, image: &str) -> String {
    let interface = valid.manifest.interface();
    let mut line = format!("ades run {image}");
    for file in &interface.inputs.files {
        line.push_str(&format!(" -i {}=<file>", file.name));
    }
    for input in &interface.inputs.json {
        line.push_str(&format!(" -j {}=<{}>", input.name, input.kind.as_str()));
    }
    for setting in &interface.settings {
        line.push_str(&format!(" -e {}=<value>", setting.name));
    }
    for mount in &interface.mounts {
        line.push_str(&format!(" -m {}=<directory>", mount.name));
    }
    line.push_str(" -o <output directory>");
    line
}

#[derive(Serialize)]
struct ListedImage {
    image: String,
    id: String,
    title: Option<String>,
    #[serde(rename = "jobVersion")]
    job_version: Option<String>,
    created: Option<String>,
    #[serde(rename = "sizeBytes")]
    size_bytes: Option<i64>,
    /// Why the label could not be read as a valid manifest, if it could not.
    problem: Option<String>,
}

pub async fn list(args: ListArgs) -> u8 {
    let engine = match connect_engine(Vec::new()).await {
        Ok(engine) => engine,
        Err(err) => {
            print::error(&err.to_string());
            return status::ERROR;
        }
    };
    let found = match engine.images.list_seed_images().await {
        Ok(found) => found,
        Err(err) => {
            print::error(&err.to_string());
            return status::ERROR;
        }
    };
    let listed: Vec<ListedImage> = found
        .into_iter()
        .map(|image| {
            let parsed = match image.label.as_deref().map(decode_label) {
                None => Err(format!("no {LABEL_KEY} label")),
                Some(Err(err)) => Err(err.to_string()),
                Some(Ok(document)) => manifest_from_value(document).map_err(|problems| {
                    format!(
                        "invalid manifest: {}",
                        problems.first().map(|p| p.to_string()).unwrap_or_default()
                    )
                }),
            };
            let (title, job_version, problem) = match parsed {
                Ok(valid) => (
                    Some(valid.manifest.job.title),
                    Some(valid.manifest.job.job_version),
                    None,
                ),
                Err(problem) => (None, None, Some(problem)),
            };
            ListedImage {
                image: image.reference,
                id: image.id,
                title,
                job_version,
                created: image.created,
                size_bytes: image.size_bytes,
                problem,
            }
        })
        .collect();
    if args.json {
        print::json(&listed);
        return status::OK;
    }
    if listed.is_empty() {
        print::note("No Seed images found. Build one with `ades seed build DIR`.");
        return status::OK;
    }
    let width = listed
        .iter()
        .map(|i| i.image.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<width$}  {:<10}  {:<9}  TITLE",
        "IMAGE", "CREATED", "SIZE"
    );
    for image in &listed {
        let created = image
            .created
            .as_deref()
            .map(|c| c.chars().take(10).collect::<String>())
            .unwrap_or_default();
        let size = image
            .size_bytes
            .map(|s| print::size(s.max(0) as u64))
            .unwrap_or_default();
        let title = match (&image.title, &image.problem) {
            (Some(title), _) => title.clone(),
            (None, Some(problem)) => format!("(not usable: {problem})"),
            (None, None) => String::new(),
        };
        println!("{:<width$}  {created:<10}  {size:<9}  {title}", image.image);
    }
    status::OK
}

#[derive(Serialize)]
struct FoundImage {
    image: String,
    digest: String,
    name: String,
    title: String,
    #[serde(rename = "jobVersion")]
    job_version: String,
    #[serde(rename = "packageVersion")]
    package_version: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl From<SearchHit> for FoundImage {
    fn from(hit: SearchHit) -> FoundImage {
        let interface = hit.manifest.interface().into_owned();
        let job = hit.manifest.job;
        FoundImage {
            image: hit.reference,
            digest: hit.digest,
            name: job.name,
            title: job.title,
            job_version: job.job_version,
            package_version: job.package_version,
            inputs: interface
                .inputs
                .files
                .iter()
                .map(|f| f.name.clone())
                .chain(interface.inputs.json.iter().map(|j| j.name.clone()))
                .collect(),
            outputs: interface
                .outputs
                .files
                .iter()
                .map(|f| f.name.clone())
                .chain(interface.outputs.json.iter().map(|j| j.name.clone()))
                .collect(),
        }
    }
}

pub async fn search(args: SearchArgs) -> u8 {
    let (registry, plain_http) = match registry_host(&args.registry) {
        Ok(found) => found,
        Err(message) => {
            print::error(&message);
            return status::USAGE;
        }
    };
    let credentials = match search_credentials(&registry, &args) {
        Ok(credentials) => credentials,
        Err(message) => {
            print::error(&message);
            return status::USAGE;
        }
    };
    let client = RegistryClient::new(RegistrySettings {
        credentials: credentials.into_iter().collect(),
        insecure: if plain_http {
            vec![registry.clone()]
        } else {
            Vec::new()
        },
        timeout: std::time::Duration::ZERO,
    });
    let hits = match client
        .search(&registry, args.org.as_deref(), args.filter.as_deref())
        .await
    {
        Ok(hits) => hits,
        Err(err) => {
            print::error(&err.to_string());
            if matches!(err, RegistryError::Unauthorized(..)) && args.username.is_none() {
                print::note(
                    "log in with --username USER and the password on stdin (--password-stdin) \
                     or in ADES_REGISTRY_PASSWORD",
                );
            }
            return status::ERROR;
        }
    };
    let found: Vec<FoundImage> = hits.into_iter().map(FoundImage::from).collect();
    if args.json {
        print::json(&found);
        return status::OK;
    }
    if found.is_empty() {
        let mut where_ = registry.clone();
        if let Some(org) = &args.org {
            where_.push_str(&format!(" under {org}/"));
        }
        if let Some(filter) = &args.filter {
            where_.push_str(&format!(" matching {filter:?}"));
        }
        print::note(&format!("No Seed images found in {where_}."));
        return status::OK;
    }
    let width = |column: fn(&FoundImage) -> &str, header: &str| {
        found
            .iter()
            .map(|image| column(image).chars().count())
            .max()
            .unwrap_or(0)
            .max(header.len())
    };
    let image_width = width(|i| &i.image, "IMAGE");
    let title_width = width(|i| &i.title, "TITLE");
    let version_width = width(|i| &i.job_version, "VERSION");
    let names = |names: &[String]| {
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(",")
        }
    };
    let inputs: Vec<String> = found.iter().map(|i| names(&i.inputs)).collect();
    let inputs_width = inputs
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("INPUTS".len());
    println!(
        "{:<image_width$}  {:<title_width$}  {:<version_width$}  {:<inputs_width$}  OUTPUTS",
        "IMAGE", "TITLE", "VERSION", "INPUTS"
    );
    for (image, inputs) in found.iter().zip(&inputs) {
        println!(
            "{:<image_width$}  {:<title_width$}  {:<version_width$}  {inputs:<inputs_width$}  {}",
            image.image,
            image.title,
            image.job_version,
            names(&image.outputs)
        );
    }
    status::OK
}

/// `host[:port]` from the command line, and whether plain HTTP was asked for with
/// `http://` (HTTPS otherwise, except for loopback registries, which always use HTTP).
pub(super) fn registry_host(text: &str) -> Result<(String, bool), String> {
    let text = text.trim();
    let (rest, plain_http) = match (text.strip_prefix("http://"), text.strip_prefix("https://")) {
        (Some(rest), _) => (rest, true),
        (_, Some(rest)) => (rest, false),
        _ => (text, false),
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        return Err(format!(
            "{text:?} is not a registry: give it as host[:port], e.g. 127.0.0.1:5000 (use --org to look under an organisation)"
        ));
    }
    Ok((host.to_string(), plain_http))
}

/// The credentials for `registry`: the username from --username, the password from stdin
/// (--password-stdin) or ADES_REGISTRY_PASSWORD, so it never appears in the process list.
fn search_credentials(
    registry: &str,
    args: &SearchArgs,
) -> Result<Option<RegistryCredentials>, String> {
    login_credentials(registry, args.username.as_deref(), args.password_stdin)
}

/// Credentials for `registry` from the command line: `username` (--username), the password
/// from the first line of stdin when `password_stdin`, else from ADES_REGISTRY_PASSWORD.
/// `None` without a username.
pub(super) fn login_credentials(
    registry: &str,
    username: Option<&str>,
    password_stdin: bool,
) -> Result<Option<RegistryCredentials>, String> {
    let from_env = std::env::var("ADES_REGISTRY_PASSWORD").ok();
    let Some(username) = username else {
        if from_env.is_some() {
            print::warning(
                "ADES_REGISTRY_PASSWORD is set but no --username is given; it is not used",
            );
        }
        return Ok(None);
    };
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|err| format!("cannot read the password from stdin: {err}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        from_env.ok_or_else(|| {
            format!(
                "no password for {username}: pipe it to --password-stdin or set ADES_REGISTRY_PASSWORD"
            )
        })?
    };
    if password.is_empty() {
        return Err(format!("the password for {username} is empty"));
    }
    Ok(Some(RegistryCredentials {
        registry: registry.to_string(),
        username: username.to_string(),
        password,
    }))
}

/// `ades seed to-cwl IMAGE`: the CWL CommandLineTool equivalent to the image's manifest.
pub async fn to_cwl(args: ToCwlArgs) -> u8 {
    let tool = async {
        let engine = connect_engine(Vec::new())
            .await
            .map_err(|err| err.to_string())?;
        let label = image_label(engine.images.as_ref(), &args.image).await?;
        let document = decode_label(&label).map_err(|err| err.to_string())?;
        let manifest = manifest_from_value(document)
            .map_err(|problems| {
                format!(
                    "the manifest of image {} is not valid: {} (see `ades seed validate {0}`)",
                    args.image,
                    crate::catalog::manifest_errors(&problems)
                )
            })?
            .manifest;
        crate::cwl::from_seed::seed_to_cwl(&manifest, &args.image)
    };
    match tool.await {
        Ok(tool) if args.json => {
            print::json(&tool);
            0
        }
        Ok(tool) => match serde_yaml::to_string(&tool) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(err) => {
                print::error(&format!("cannot write the tool as YAML: {err}"));
                1
            }
        },
        Err(message) => {
            print::error(&message);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_manifest_is_valid() {
        let text = starter_manifest("my-tool").to_string();
        let valid = parse_manifest(&text).expect("the starter manifest validates");
        assert_eq!(image_name(&valid.manifest.job), "my-tool-0.1.0-seed:0.1.0");
    }

    #[test]
    fn job_names_come_from_directory_names() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("My Cool_Tool");
        std::fs::create_dir(&named).unwrap();
        assert_eq!(job_name_for(&named), "my-cool-tool");
    }

    #[test]
    fn registry_arguments_are_hosts() {
        let host = registry_host;
        assert_eq!(host("127.0.0.1:5000"), Ok(("127.0.0.1:5000".into(), false)));
        assert_eq!(
            host("http://reg.lan:5000/"),
            Ok(("reg.lan:5000".into(), true))
        );
        assert_eq!(host("https://ghcr.io"), Ok(("ghcr.io".into(), false)));
        assert!(host("ghcr.io/org").unwrap_err().contains("--org"));
        assert!(host("").is_err());
    }
}
