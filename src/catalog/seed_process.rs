//! Seed manifest -> [`Process`], by the mapping of ogc-notes §7.2.
//!
//! The translation is pure: the same manifest and image always give the same process, and
//! the façades (`api/` as OGC JSON, `wps/` as XML, later `ui/` as HTML) render only what is
//! built here.
//!
//! # Identity and description
//!
//! | Seed | Process |
//! |---|---|
//! | `job.name` | `id`, exactly as written (a [`ProcessId`]) |
//! | `job.jobVersion` | `version` |
//! | `job.title` / `job.description` / `job.tags` | `title` / `description` / `keywords` |
//!
//! # Metadata roles
//!
//! Everything else a client may want to know about the package goes into `metadata`, in this
//! order (entries whose value the manifest does not give are left out):
//!
//! | role | title | href |
//! |---|---|---|
//! | [`ROLE_MAINTAINER`] (`http://schema.org/maintainer`) | maintainer name | `mailto:` + email |
//! | [`ROLE_ORGANIZATION`] (`urn:ades:seed:maintainer:organization`) | organisation | |
//! | [`ROLE_URL`] (`urn:ades:seed:maintainer:url`) | the URL | the URL |
//! | [`ROLE_PHONE`] (`urn:ades:seed:maintainer:phone`) | phone number | |
//! | [`ROLE_PACKAGE_VERSION`] (`urn:ades:seed:packageVersion`) | `job.packageVersion` | |
//! | [`ROLE_SEED_VERSION`] (`urn:ades:seed:seedVersion`) | `seedVersion` | |
//! | [`ROLE_IMAGE`] (`urn:ades:seed:image`) | the image reference jobs start | |
//! | [`ROLE_IMAGE_ID`] (`urn:ades:seed:imageId`) | the engine's image id (`sha256:…`) | |
//! | [`ROLE_TIMEOUT`] (`urn:ades:seed:timeout`) | `job.timeout`, in seconds (`"3600"`) | |
//! | `urn:ades:seed:resource:<name>` ([`resource_role`]) | the amount (`"0.5"`, `"1024"`; `mem`, `sharedMem`, `disk` in MiB) | |
//! | `urn:ades:seed:resource:<name>:inputMultiplier` | the multiplier, when given | |
//!
//! The roles other than the maintainer's are ades' own URNs; values are plain decimal text
//! so that a program can read them back.
//!
//! # Execution
//!
//! Every Seed process offers `sync-execute`, `async-execute` and `dismiss`: ades runs a
//! synchronous request as an ordinary queued job plus a wait on its completion (DESIGN.md
//! rule 2), so both modes work whatever the job's `timeout`, and every job can be dismissed.
//! `async-execute` is also what the OGC test suite needs (ogc-notes §4.3).
//!
//! # Inputs
//!
//! Order: the json inputs first, then the input files, each group in manifest order.
//! Seed keeps the two groups in separate arrays, so there is no manifest order across them
//! to preserve; the OGC test suite uses the *first* input of a process as its echo string
//! (ogc-notes §4.3), and putting the plain values first makes the `echo` example (json
//! `MESSAGE`, file `COMPLEX_INPUT`) lead with its string. Ids are the Seed names, unchanged.
//!
//! * File input: `schema` = `{"type":"string","contentEncoding":"binary","contentMediaType":mt}`
//!   for one media type, a `oneOf` of those for several (the first is the default format, as
//!   OGC reads a `oneOf`), and no `contentMediaType` when the manifest lists none.
//!   `minOccurs` = `required ? 1 : 0`; `maxOccurs` = `multiple ? unbounded : 1`.
//!   `multiple` and `partial` are also explained in the input's description.
//! * Json input: `schema` = `{"type": <type>}`; arrays get `"items": {}` because OpenAPI 3.0
//!   schema objects (which OGC's `schema.yaml` is) require `items` with `type: array`.
//!   `minOccurs` = `required ? 1 : 0`; `maxOccurs` = 1.
//! * Settings and mounts are operator configuration, never inputs.
//!
//! # Outputs
//!
//! Files first, then json outputs, each group in manifest order (outputs are addressed by
//! id, so their order matters to no client).
//!
//! * File output: the binary string schema with the output's `mediaType` (none when the
//!   manifest gives none); `multiple` → `{"type":"array","items":{…}}`.
//! * Json output: `{"type": <type>}` (arrays with `"items": {}` as above).
//! * `required: false` is explained in the output's description.
//!
//! # Titles
//!
//! Seed inputs and outputs have no titles; the title is the name made readable by
//! [`humanize`] (`INPUT_FILE` → `Input file`), while the id stays the exact Seed name.

use crate::domain::{
    Binding, IdError, InputDescription, InputKind, JobControlOption, Metadata, OutputDescription,
    OutputKind, Process, ProcessId, SeedBinding,
};
use seed::manifest::{InputFile, JsonInput, JsonOutput, JsonType, OutputFile};
use seed::Manifest;
use serde_json::{json, Value};

/// Role of the maintainer entry (title = name, href = `mailto:` email).
pub const ROLE_MAINTAINER: &str = "http://schema.org/maintainer";
/// Role of the maintainer's organisation (title).
pub const ROLE_ORGANIZATION: &str = "urn:ades:seed:maintainer:organization";
/// Role of the maintainer's web site (title and href).
pub const ROLE_URL: &str = "urn:ades:seed:maintainer:url";
/// Role of the maintainer's phone number (title).
pub const ROLE_PHONE: &str = "urn:ades:seed:maintainer:phone";
/// Role of `job.packageVersion` (title).
pub const ROLE_PACKAGE_VERSION: &str = "urn:ades:seed:packageVersion";
/// Role of `seedVersion` (title).
pub const ROLE_SEED_VERSION: &str = "urn:ades:seed:seedVersion";
/// Role of the image reference jobs start (title).
pub const ROLE_IMAGE: &str = "urn:ades:seed:image";
/// Role of the engine's image id (title).
pub const ROLE_IMAGE_ID: &str = "urn:ades:seed:imageId";
/// Role of `job.timeout` (title = seconds).
pub const ROLE_TIMEOUT: &str = "urn:ades:seed:timeout";

/// The metadata role of a scalar resource (`urn:ades:seed:resource:cpus`).
pub fn resource_role(name: &str) -> String {
    format!("urn:ades:seed:resource:{name}")
}

/// The metadata role of a scalar resource's `inputMultiplier`
/// (`urn:ades:seed:resource:disk:inputMultiplier`).
pub fn resource_multiplier_role(name: &str) -> String {
    format!("urn:ades:seed:resource:{name}:inputMultiplier")
}

/// Builds the process a Seed image offers.
///
/// `image` is the reference jobs start (`name:tag`), `image_id` the engine's id when known.
///
/// # Panics
///
/// When `job.name` is not a valid [`ProcessId`]: every schema-valid name is one unless it is
/// longer than 128 characters. Use [`try_process_from_manifest`] for manifests read from
/// images.
pub fn process_from_manifest(manifest: &Manifest, image: &str, image_id: Option<&str>) -> Process {
    match try_process_from_manifest(manifest, image, image_id) {
        Ok(process) => process,
        Err(err) => panic!("{err}"),
    }
}

/// Builds the process a Seed image offers; fails only when `job.name` is not a valid
/// [`ProcessId`] (longer than 128 characters).
pub fn try_process_from_manifest(
    manifest: &Manifest,
    image: &str,
    image_id: Option<&str>,
) -> Result<Process, IdError> {
    let job = &manifest.job;
    let id = ProcessId::parse(&job.name)?;
    let interface = manifest.interface();

    let inputs = interface
        .inputs
        .json
        .iter()
        .map(json_input)
        .chain(interface.inputs.files.iter().map(file_input))
        .collect();
    let outputs = interface
        .outputs
        .files
        .iter()
        .map(file_output)
        .chain(interface.outputs.json.iter().map(json_output))
        .collect();

    Ok(Process {
        id,
        version: job.job_version.clone(),
        title: job.title.clone(),
        description: job.description.clone(),
        keywords: job.tags.clone(),
        metadata: metadata(manifest, image, image_id),
        job_control_options: vec![
            JobControlOption::SyncExecute,
            JobControlOption::AsyncExecute,
            JobControlOption::Dismiss,
        ],
        inputs,
        outputs,
        binding: Binding::Seed(SeedBinding {
            image: image.to_string(),
            image_id: image_id.map(str::to_string),
            manifest: manifest.clone(),
        }),
        mutable: false,
    })
}

fn entry(role: &str, title: impl Into<String>, href: Option<String>) -> Metadata {
    Metadata {
        title: Some(title.into()),
        role: Some(role.to_string()),
        href,
    }
}

fn metadata(manifest: &Manifest, image: &str, image_id: Option<&str>) -> Vec<Metadata> {
    let job = &manifest.job;
    let maintainer = &job.maintainer;
    let mut entries = vec![entry(
        ROLE_MAINTAINER,
        &maintainer.name,
        Some(format!("mailto:{}", maintainer.email)),
    )];
    if let Some(organization) = &maintainer.organization {
        entries.push(entry(ROLE_ORGANIZATION, organization, None));
    }
    if let Some(url) = &maintainer.url {
        entries.push(entry(ROLE_URL, url, Some(url.clone())));
    }
    if let Some(phone) = &maintainer.phone {
        entries.push(entry(ROLE_PHONE, phone, None));
    }
    entries.push(entry(ROLE_PACKAGE_VERSION, &job.package_version, None));
    entries.push(entry(ROLE_SEED_VERSION, &manifest.seed_version, None));
    entries.push(entry(ROLE_IMAGE, image, None));
    if let Some(image_id) = image_id {
        entries.push(entry(ROLE_IMAGE_ID, image_id, None));
    }
    entries.push(entry(ROLE_TIMEOUT, job.timeout.to_string(), None));
    for resource in manifest.scalar_resources() {
        entries.push(entry(
            &resource_role(&resource.name),
            format_amount(resource.value),
            None,
        ));
        if let Some(multiplier) = resource.input_multiplier {
            entries.push(entry(
                &resource_multiplier_role(&resource.name),
                format_amount(multiplier),
                None,
            ));
        }
    }
    entries
}

/// A resource amount as plain decimal text: whole numbers without a fraction (`1024`),
/// others in Rust's shortest round-trip form (`0.25`).
fn format_amount(value: f64) -> String {
    // Beyond 2^53 not every integer is representable, and `as i64` would saturate.
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Makes a Seed name readable as a title: `_` and `-` become spaces, a camelCase boundary
/// becomes a space, everything is lower-cased and the first letter capitalised
/// (`INPUT_FILE` → `Input file`, `cellCount` → `Cell count`, `output_file_pngs` →
/// `Output file pngs`).
pub fn humanize(name: &str) -> String {
    let mut words = String::with_capacity(name.len() + 4);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        match c {
            '_' | '-' => {
                if !words.is_empty() && !words.ends_with(' ') {
                    words.push(' ');
                }
            }
            _ => {
                let camel_boundary = c.is_ascii_uppercase()
                    && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
                if camel_boundary && !words.ends_with(' ') {
                    words.push(' ');
                }
                words.push(c.to_ascii_lowercase());
            }
        }
        previous = Some(c);
    }
    let words = words.trim_end();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        // A name made only of separators: keep it rather than give an empty title.
        None => name.to_string(),
    }
}

/// The schema of one binary value, with its media type when there is one.
fn binary_schema(media_type: Option<&str>) -> Value {
    match media_type {
        Some(media_type) => json!({
            "type": "string",
            "contentEncoding": "binary",
            "contentMediaType": media_type,
        }),
        None => json!({"type": "string", "contentEncoding": "binary"}),
    }
}

/// The schema of a json input or output value.
fn json_schema(kind: JsonType) -> Value {
    match kind {
        JsonType::Array => json!({"type": "array", "items": {}}),
        other => json!({"type": other.as_str()}),
    }
}

pub fn file_input(file: &InputFile) -> InputDescription {
    let schema = match file.media_types.as_slice() {
        [] => binary_schema(None),
        [only] => binary_schema(Some(only)),
        several => json!({
            "oneOf": several.iter().map(|mt| binary_schema(Some(mt))).collect::<Vec<_>>()
        }),
    };
    let mut notes = Vec::new();
    if file.multiple {
        notes.push("Several files may be given; the job receives them together in one directory.");
    }
    if file.partial {
        notes.push("The job reads only part of this file (Seed `partial`).");
    }
    InputDescription {
        id: file.name.clone(),
        title: humanize(&file.name),
        description: (!notes.is_empty()).then(|| notes.join(" ")),
        min_occurs: u32::from(file.required),
        max_occurs: if file.multiple { None } else { Some(1) },
        schema,
        kind: InputKind::File {
            media_types: file.media_types.clone(),
        },
    }
}

pub fn json_input(input: &JsonInput) -> InputDescription {
    InputDescription {
        id: input.name.clone(),
        title: humanize(&input.name),
        description: None,
        min_occurs: u32::from(input.required),
        max_occurs: Some(1),
        schema: json_schema(input.kind),
        kind: InputKind::Json { kind: input.kind },
    }
}

/// The description sentence of an output the job may leave out.
const OPTIONAL_OUTPUT: &str = "Optional: the job may finish successfully without producing it.";

pub fn file_output(file: &OutputFile) -> OutputDescription {
    let one = binary_schema(file.media_type.as_deref());
    let schema = if file.multiple {
        json!({"type": "array", "items": one})
    } else {
        one
    };
    let mut notes = Vec::new();
    if file.multiple {
        notes.push("Every file the job produces for this output.");
    }
    if !file.required {
        notes.push(OPTIONAL_OUTPUT);
    }
    OutputDescription {
        id: file.name.clone(),
        title: humanize(&file.name),
        description: (!notes.is_empty()).then(|| notes.join(" ")),
        schema,
        kind: OutputKind::File {
            media_type: file.media_type.clone(),
            multiple: file.multiple,
            required: file.required,
        },
    }
}

pub fn json_output(output: &JsonOutput) -> OutputDescription {
    OutputDescription {
        id: output.name.clone(),
        title: humanize(&output.name),
        description: (!output.required).then(|| OPTIONAL_OUTPUT.to_string()),
        schema: json_schema(output.kind),
        kind: OutputKind::Json {
            kind: output.kind,
            required: output.required,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    const OFFICIAL_COMPLETE: &str =
        include_str!("../../crates/seed/tests/fixtures/official/complete/seed.manifest.json");
    const EXAMPLES: [(&str, &str); 5] = [
        (
            "complete",
            include_str!("../../examples/complete/seed.manifest.json"),
        ),
        (
            "echo",
            include_str!("../../examples/echo/seed.manifest.json"),
        ),
        (
            "errors",
            include_str!("../../examples/errors/seed.manifest.json"),
        ),
        (
            "io-demo",
            include_str!("../../examples/io-demo/seed.manifest.json"),
        ),
        (
            "timeout",
            include_str!("../../examples/timeout/seed.manifest.json"),
        ),
    ];

    /// The members OGC's `schema.yaml` (Part 1 1.0) allows in a schema object.
    const OGC_SCHEMA_KEYS: &[&str] = &[
        "title",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
        "enum",
        "type",
        "not",
        "allOf",
        "oneOf",
        "anyOf",
        "items",
        "properties",
        "additionalProperties",
        "description",
        "format",
        "default",
        "nullable",
        "readOnly",
        "writeOnly",
        "example",
        "deprecated",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
    ];
    const OGC_TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

    fn manifest(text: &str) -> Manifest {
        seed::validate::parse_manifest(text)
            .expect("a valid manifest")
            .manifest
    }

    fn example(name: &str) -> Process {
        let (_, text) = EXAMPLES
            .iter()
            .find(|(example, _)| *example == name)
            .unwrap();
        let manifest = manifest(text);
        let image = seed::names::image_name(&manifest.job);
        process_from_manifest(&manifest, &image, Some("sha256:abc"))
    }

    fn input_ids(process: &Process) -> Vec<&str> {
        process.inputs.iter().map(|i| i.id.as_str()).collect()
    }

    fn output_ids(process: &Process) -> Vec<&str> {
        process.outputs.iter().map(|o| o.id.as_str()).collect()
    }

    fn meta(role: &str, title: &str, href: Option<&str>) -> Metadata {
        Metadata {
            title: Some(title.to_string()),
            role: Some(role.to_string()),
            href: href.map(str::to_string),
        }
    }

    /// Every schema object in `schema` (itself and nested ones) uses only OGC's keys and
    /// types; returns the problems found.
    fn ogc_schema_problems(schema: &Value, at: &str, problems: &mut Vec<String>) {
        let Some(object) = schema.as_object() else {
            problems.push(format!("{at}: not an object"));
            return;
        };
        for (key, value) in object {
            if !OGC_SCHEMA_KEYS.contains(&key.as_str()) {
                problems.push(format!("{at}: key {key} is not in OGC's schema.yaml"));
            }
            match key.as_str() {
                "type" if !value.as_str().is_some_and(|t| OGC_TYPES.contains(&t)) => {
                    problems.push(format!("{at}/type: {value} is not an OGC type"));
                }
                "items" | "not" | "additionalProperties" if value.is_object() => {
                    ogc_schema_problems(value, &format!("{at}/{key}"), problems)
                }
                "oneOf" | "anyOf" | "allOf" => match value.as_array() {
                    Some(members) if !members.is_empty() => {
                        for (i, member) in members.iter().enumerate() {
                            ogc_schema_problems(member, &format!("{at}/{key}/{i}"), problems);
                        }
                    }
                    _ => problems.push(format!("{at}/{key}: not a non-empty array")),
                },
                "properties" => {
                    for (name, member) in value.as_object().unwrap_or(&Map::new()) {
                        ogc_schema_problems(member, &format!("{at}/properties/{name}"), problems);
                    }
                }
                "contentMediaType" | "contentEncoding" | "format" | "title" | "description"
                    if !value.is_string() =>
                {
                    problems.push(format!("{at}/{key}: not a string"));
                }
                _ => {}
            }
        }
    }

    fn assert_ogc_schema(schema: &Value, what: &str) {
        let mut problems = Vec::new();
        ogc_schema_problems(schema, what, &mut problems);
        assert!(problems.is_empty(), "{problems:#?}");
        if let Err(err) = jsonschema::meta::validate(schema) {
            panic!("{what}: {schema} is not a valid JSON Schema: {err}");
        }
    }

    #[test]
    fn official_complete_example_maps_identity_and_metadata() {
        let manifest = manifest(OFFICIAL_COMPLETE);
        let process =
            process_from_manifest(&manifest, "my-job-1.0.0-seed:1.0.0", Some("sha256:0123"));
        assert_eq!(process.id.as_str(), "my-job");
        assert_eq!(process.version, "1.0.0");
        assert_eq!(process.title, "My first job");
        assert_eq!(
            process.description,
            "Reads an HDF5 file and outputs two png images, a CSV and manifest containing cell_count"
        );
        assert_eq!(
            process.keywords,
            vec!["hdf5", "png", "csv", "image processing"]
        );
        assert_eq!(
            process.job_control_options,
            vec![
                JobControlOption::SyncExecute,
                JobControlOption::AsyncExecute,
                JobControlOption::Dismiss
            ]
        );
        assert_eq!(
            process.metadata,
            vec![
                meta(ROLE_MAINTAINER, "John Doe", Some("mailto:jdoe@example.com")),
                meta(ROLE_ORGANIZATION, "E-corp", None),
                meta(
                    ROLE_URL,
                    "http://www.example.com",
                    Some("http://www.example.com")
                ),
                meta(ROLE_PHONE, "666-555-4321", None),
                meta(ROLE_PACKAGE_VERSION, "1.0.0", None),
                meta(ROLE_SEED_VERSION, "1.0.0", None),
                meta(ROLE_IMAGE, "my-job-1.0.0-seed:1.0.0", None),
                meta(ROLE_IMAGE_ID, "sha256:0123", None),
                meta(ROLE_TIMEOUT, "3600", None),
                meta("urn:ades:seed:resource:cpus", "1", None),
                meta("urn:ades:seed:resource:mem", "1024", None),
                meta("urn:ades:seed:resource:sharedMem", "1024", None),
                meta("urn:ades:seed:resource:disk", "1000", None),
                meta("urn:ades:seed:resource:disk:inputMultiplier", "4", None),
            ]
        );
        assert_eq!(process.seed().unwrap().image, "my-job-1.0.0-seed:1.0.0");
        assert_eq!(
            process.seed().unwrap().image_id.as_deref(),
            Some("sha256:0123")
        );
        assert_eq!(process.seed().unwrap().manifest, manifest);
    }

    #[test]
    fn official_complete_example_maps_inputs_and_outputs() {
        let process = process_from_manifest(&manifest(OFFICIAL_COMPLETE), "my-job:1", None);
        // json inputs first; settings (VERSION, DB_HOST, DB_PASS) and mounts are not inputs.
        assert_eq!(input_ids(&process), vec!["INPUT_JSON", "INPUT_FILE"]);

        let text = process.input("INPUT_JSON").unwrap();
        assert_eq!(text.title, "Input json");
        assert_eq!(text.schema, json!({"type": "string"}));
        assert_eq!((text.min_occurs, text.max_occurs), (1, Some(1)));
        assert_eq!(
            text.kind,
            InputKind::Json {
                kind: JsonType::String
            }
        );
        assert_eq!(text.description, None);

        let file = process.input("INPUT_FILE").unwrap();
        assert_eq!(file.title, "Input file");
        assert_eq!(
            file.schema,
            json!({"type": "string", "contentEncoding": "binary",
                   "contentMediaType": "image/x-hdf5-image"})
        );
        assert_eq!((file.min_occurs, file.max_occurs), (1, Some(1)));
        assert_eq!(
            file.kind,
            InputKind::File {
                media_types: vec!["image/x-hdf5-image".to_string()]
            }
        );
        assert!(file.description.as_deref().unwrap().contains("partial"));

        assert_eq!(
            output_ids(&process),
            vec!["output_file_pngs", "output_file_csv", "cell_count", "dummy"]
        );
        let pngs = process.output("output_file_pngs").unwrap();
        assert_eq!(pngs.title, "Output file pngs");
        assert_eq!(
            pngs.schema,
            json!({"type": "array", "items": {"type": "string", "contentEncoding": "binary",
                                              "contentMediaType": "image/png"}})
        );
        assert_eq!(
            pngs.kind,
            OutputKind::File {
                media_type: Some("image/png".to_string()),
                multiple: true,
                required: true
            }
        );
        assert!(!pngs
            .description
            .as_deref()
            .unwrap_or("")
            .contains("Optional"));

        let csv = process.output("output_file_csv").unwrap();
        assert_eq!(
            csv.schema,
            json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "text/csv"})
        );
        assert_eq!(csv.description.as_deref(), Some(OPTIONAL_OUTPUT));

        let count = process.output("cell_count").unwrap();
        assert_eq!(count.title, "Cell count");
        assert_eq!(count.schema, json!({"type": "integer"}));
        assert_eq!(count.description, None);
        assert_eq!(
            count.kind,
            OutputKind::Json {
                kind: JsonType::Integer,
                required: true
            }
        );
        let dummy = process.output("dummy").unwrap();
        assert_eq!(dummy.description.as_deref(), Some(OPTIONAL_OUTPUT));
        assert_eq!(
            dummy.kind,
            OutputKind::Json {
                kind: JsonType::Integer,
                required: false
            }
        );
    }

    #[test]
    fn echo_leads_with_its_plain_string_input() {
        let process = example("echo");
        assert_eq!(process.id.as_str(), "echo");
        assert_eq!(process.version, "1.0.0");
        // The OGC test suite echoes the first input: it must be a plain string.
        assert_eq!(
            input_ids(&process),
            vec!["MESSAGE", "REPEAT", "COMPLEX_INPUT"]
        );
        assert_eq!(process.inputs[0].schema, json!({"type": "string"}));
        assert_eq!(process.inputs[0].min_occurs, 1);

        let repeat = process.input("REPEAT").unwrap();
        assert_eq!(repeat.schema, json!({"type": "integer"}));
        assert_eq!((repeat.min_occurs, repeat.max_occurs), (0, Some(1)));

        let complex = process.input("COMPLEX_INPUT").unwrap();
        assert_eq!(
            complex.schema,
            json!({"type": "string", "contentEncoding": "binary"})
        );
        assert_eq!((complex.min_occurs, complex.max_occurs), (0, Some(1)));
        assert_eq!(complex.title, "Complex input");

        assert_eq!(output_ids(&process), vec!["ECHO", "COMPLEX_ECHO", "ECHOED"]);
        assert_eq!(
            process.output("COMPLEX_ECHO").unwrap().schema,
            json!({"type": "string", "contentEncoding": "binary",
                   "contentMediaType": "application/octet-stream"})
        );
        assert_eq!(
            process.output("ECHOED").unwrap().schema,
            json!({"type": "string"})
        );
        assert!(process.allows(JobControlOption::SyncExecute));
        assert!(process.allows(JobControlOption::AsyncExecute));
        assert!(process.allows(JobControlOption::Dismiss));
        // No organisation, URL or phone: those entries are left out.
        let roles: Vec<&str> = process
            .metadata
            .iter()
            .filter_map(|m| m.role.as_deref())
            .collect();
        assert_eq!(
            roles,
            vec![
                ROLE_MAINTAINER,
                ROLE_PACKAGE_VERSION,
                ROLE_SEED_VERSION,
                ROLE_IMAGE,
                ROLE_IMAGE_ID,
                ROLE_TIMEOUT,
                "urn:ades:seed:resource:cpus",
                "urn:ades:seed:resource:mem",
            ]
        );
        assert_eq!(
            process.metadata[4..],
            [
                meta(ROLE_IMAGE_ID, "sha256:abc", None),
                meta(ROLE_TIMEOUT, "30", None),
                meta("urn:ades:seed:resource:cpus", "0.25", None),
                meta("urn:ades:seed:resource:mem", "16", None),
            ]
        );
    }

    #[test]
    fn complete_example_maps_every_kind_of_input_and_output() {
        let process = example("complete");
        assert_eq!(process.id.as_str(), "complete");
        assert_eq!(
            input_ids(&process),
            vec![
                "LABEL",
                "FACTOR",
                "UPPERCASE",
                "MAX_LINES",
                "TAGS",
                "OPTIONS",
                "INPUT_FILES",
                "SUPPLEMENT"
            ]
        );
        let expect = [
            ("LABEL", json!({"type": "string"}), 1, Some(1)),
            ("FACTOR", json!({"type": "number"}), 1, Some(1)),
            ("UPPERCASE", json!({"type": "boolean"}), 1, Some(1)),
            ("MAX_LINES", json!({"type": "integer"}), 0, Some(1)),
            ("TAGS", json!({"type": "array", "items": {}}), 0, Some(1)),
            ("OPTIONS", json!({"type": "object"}), 0, Some(1)),
            (
                "INPUT_FILES",
                json!({"type": "string", "contentEncoding": "binary",
                       "contentMediaType": "text/plain"}),
                1,
                None,
            ),
            (
                "SUPPLEMENT",
                json!({"type": "string", "contentEncoding": "binary",
                       "contentMediaType": "text/plain"}),
                0,
                Some(1),
            ),
        ];
        for (id, schema, min, max) in expect {
            let input = process.input(id).unwrap();
            assert_eq!(input.schema, schema, "{id}");
            assert_eq!((input.min_occurs, input.max_occurs), (min, max), "{id}");
        }
        assert!(process
            .input("INPUT_FILES")
            .unwrap()
            .description
            .as_deref()
            .unwrap()
            .contains("Several files"));
        assert!(process
            .input("SUPPLEMENT")
            .unwrap()
            .description
            .as_deref()
            .unwrap()
            .contains("partial"));
        // Settings and mounts are operator configuration.
        for name in ["MODE", "API_TOKEN", "REFERENCE", "SCRATCH"] {
            assert!(process.input(name).is_none(), "{name}");
        }

        assert_eq!(
            output_ids(&process),
            vec![
                "PARTS",
                "SUMMARY",
                "REJECTS",
                "TOTAL_LINES",
                "SCALED_TOTAL",
                "LABEL_ECHO",
                "UPPERCASED",
                "FILE_NAMES",
                "OPTIONS_ECHO",
                "SUPPLEMENT_FIRST_LINE",
                "UNUSED"
            ]
        );
        let text = json!({"type": "string", "contentEncoding": "binary",
                          "contentMediaType": "text/plain"});
        assert_eq!(
            process.output("PARTS").unwrap().schema,
            json!({"type": "array", "items": text})
        );
        assert_eq!(process.output("SUMMARY").unwrap().schema, text);
        assert_eq!(
            process.output("REJECTS").unwrap().description.as_deref(),
            Some(OPTIONAL_OUTPUT)
        );
        assert_eq!(
            process.output("FILE_NAMES").unwrap().schema,
            json!({"type": "array", "items": {}})
        );
        assert_eq!(
            process.output("OPTIONS_ECHO").unwrap().schema,
            json!({"type": "object"})
        );
        assert_eq!(
            process.output("SCALED_TOTAL").unwrap().schema,
            json!({"type": "number"})
        );
        assert_eq!(
            process.output("UPPERCASED").unwrap().schema,
            json!({"type": "boolean"})
        );
        assert_eq!(
            process
                .output("SUPPLEMENT_FIRST_LINE")
                .unwrap()
                .description
                .as_deref(),
            Some(OPTIONAL_OUTPUT)
        );
        assert!(process.metadata.contains(&meta(
            "urn:ades:seed:resource:disk:inputMultiplier",
            "2",
            None
        )));
        assert!(process
            .metadata
            .contains(&meta("urn:ades:seed:resource:cpus", "0.5", None)));
    }

    #[test]
    fn small_examples_map_their_ids_and_interfaces() {
        let io = example("io-demo");
        assert_eq!(io.id.as_str(), "io-demo");
        assert_eq!(io.title, "Input/Output Demonstration");
        assert_eq!(io.keywords, vec!["demo", "text"]);
        assert_eq!(input_ids(&io), vec!["INPUT_FILE"]);
        assert_eq!(output_ids(&io), vec!["OUTPUT_FILE"]);
        assert_eq!(io.seed().unwrap().image, "io-demo-1.0.0-seed:1.0.0");

        let errors = example("errors");
        assert_eq!(errors.id.as_str(), "errors");
        assert_eq!(input_ids(&errors), vec!["CODE"]);
        assert_eq!(errors.inputs[0].schema, json!({"type": "integer"}));
        assert_eq!(output_ids(&errors), vec!["RESULT"]);

        let timeout = example("timeout");
        assert_eq!(timeout.id.as_str(), "timeout");
        assert_eq!(input_ids(&timeout), vec!["SLEEP_SECONDS"]);
        assert!(timeout.outputs.is_empty());
        assert!(timeout.metadata.contains(&meta(ROLE_TIMEOUT, "2", None)));
        // A short timeout does not take sync execution away.
        assert!(timeout.allows(JobControlOption::SyncExecute));
    }

    #[test]
    fn every_schema_is_an_ogc_schema_and_valid_json_schema() {
        let mut manifests = vec![("official complete", manifest(OFFICIAL_COMPLETE))];
        manifests.extend(EXAMPLES.iter().map(|(name, text)| (*name, manifest(text))));
        manifests.push(("several media types", several_media_types()));
        for (name, manifest) in manifests {
            let process = process_from_manifest(&manifest, "x:1", None);
            for input in &process.inputs {
                assert_ogc_schema(&input.schema, &format!("{name} input {}", input.id));
            }
            for output in &process.outputs {
                assert_ogc_schema(&output.schema, &format!("{name} output {}", output.id));
            }
        }
    }

    #[test]
    fn the_checker_catches_what_ogc_does_not_allow() {
        let mut problems = Vec::new();
        ogc_schema_problems(
            &json!({"type": "file", "$schema": "x", "items": {"const": 1}}),
            "",
            &mut problems,
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn schemas_accept_the_values_they_describe() {
        let process = example("complete");
        let accepts = |id: &str, value: Value| {
            let schema = &process.input(id).unwrap().schema;
            jsonschema::is_valid(schema, &value)
        };
        assert!(accepts("LABEL", json!("hello")));
        assert!(!accepts("LABEL", json!(1)));
        assert!(accepts("MAX_LINES", json!(3)));
        assert!(!accepts("MAX_LINES", json!(3.5)));
        assert!(accepts("TAGS", json!(["a", 1])));
        assert!(accepts("OPTIONS", json!({"a": 1})));
        assert!(accepts("INPUT_FILES", json!("aGVsbG8=")));
    }

    fn several_media_types() -> Manifest {
        manifest(
            &json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": "formats", "jobVersion": "2.1.0", "packageVersion": "0.3.0",
                    "title": "Formats", "description": "Several media types",
                    "maintainer": {"name": "A", "email": "a@example.org"},
                    "timeout": 10,
                    "interface": {
                        "inputs": {"files": [
                            {"name": "raster", "mediaTypes": ["image/tiff", "image/png"],
                             "multiple": true, "required": false}
                        ]},
                        "outputs": {"files": [
                            {"name": "anything", "pattern": "*", "multiple": true}
                        ]}
                    }
                }
            })
            .to_string(),
        )
    }

    #[test]
    fn several_media_types_become_a_one_of_with_the_first_as_default() {
        let process = process_from_manifest(&several_media_types(), "formats:0.3.0", None);
        assert_eq!(process.version, "2.1.0");
        assert!(process.keywords.is_empty());
        let raster = process.input("raster").unwrap();
        assert_eq!(raster.title, "Raster");
        assert_eq!(
            raster.schema,
            json!({"oneOf": [
                {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"},
                {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/png"},
            ]})
        );
        assert_eq!((raster.min_occurs, raster.max_occurs), (0, None));
        assert_eq!(
            process.output("anything").unwrap().schema,
            json!({"type": "array", "items": {"type": "string", "contentEncoding": "binary"}})
        );
        // No resources, no image id: no such metadata.
        assert!(process.metadata.iter().all(|m| {
            let role = m.role.as_deref().unwrap();
            role != ROLE_IMAGE_ID && !role.starts_with("urn:ades:seed:resource:")
        }));
    }

    #[test]
    fn a_job_name_too_long_for_a_process_id_is_an_error_not_a_panic() {
        let mut manifest = manifest(OFFICIAL_COMPLETE);
        manifest.job.name = "a".repeat(129);
        assert!(try_process_from_manifest(&manifest, "x:1", None).is_err());
    }

    #[test]
    fn names_become_readable_titles() {
        assert_eq!(humanize("INPUT_FILE"), "Input file");
        assert_eq!(humanize("output_file_pngs"), "Output file pngs");
        assert_eq!(humanize("cellCount"), "Cell count");
        assert_eq!(humanize("MESSAGE"), "Message");
        assert_eq!(humanize("my-input-2"), "My input 2");
        assert_eq!(humanize("x"), "X");
        assert_eq!(humanize("a__b"), "A b");
        assert_eq!(humanize("_"), "_");
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(format_amount(1.0), "1");
        assert_eq!(format_amount(1024.0), "1024");
        assert_eq!(format_amount(0.25), "0.25");
        assert_eq!(format_amount(1e20), "100000000000000000000");
    }
}
