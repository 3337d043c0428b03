//! Manifest validation: the official Seed 1.0.0 JSON schema (draft-04, embedded from
//! `schema/`) plus the semantic rules that the schema cannot express.
//!
//! - [`validate_manifest_value`] returns every problem at once (schema and semantic), each
//!   with a JSON pointer and a sentence saying what to change; an empty list means valid.
//! - [`parse_manifest`] = JSON parse (a clear message on malformed JSON with line/column) +
//!   validation + typed model; warnings travel with the success.
//! - [`validate_metadata_value`] checks a side-car `*.metadata.json` against the metadata
//!   schema (its one remote `$ref` to the GeoJSON bbox schema is resolved offline).
//!
//! Nothing here touches the network or the file system: both schemas and the bbox schema are
//! compiled into the crate, and the schema compiler is given a retriever that knows only them.

use crate::names::{self, normalize};
use crate::{Manifest, Problem, Severity};
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Retrieve, Uri, ValidationError, Validator};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

/// The official manifest schema, verbatim.
pub const MANIFEST_SCHEMA: &str = include_str!("../schema/seed.manifest.schema.json");
/// The official side-car metadata schema, verbatim.
pub const METADATA_SCHEMA: &str = include_str!("../schema/seed.metadata.schema.json");
/// Our own stand-in for the GeoJSON bounding-box schema that [`METADATA_SCHEMA`] refers to
/// (an array of at least 4 numbers), so metadata validation never goes to the network.
pub const GEOJSON_BBOX_SCHEMA: &str = include_str!("../schema/geojson-bbox.json");
/// The URI under which [`METADATA_SCHEMA`] refers to the bounding-box schema.
pub const GEOJSON_BBOX_SCHEMA_URI: &str = "http://json-schema.org/geojson/bbox.json";
/// The container directory under which ades binds inputs (`/seed/inputs`) and the output
/// directory (`/seed/outputs`); manifest mounts may not be placed at or under it.
pub const CONTAINER_SEED_ROOT: &str = "/seed";

/// A manifest that passed validation, with the exact document it came from.
#[derive(Debug, Clone)]
pub struct ValidManifest {
    pub manifest: Manifest,
    /// The document as given (kept so a label round trip is lossless).
    pub document: Value,
    /// Findings that do not make the manifest invalid (e.g. names that are not normalised).
    pub warnings: Vec<Problem>,
}

/// Validates a manifest document; returns every error and warning found.
///
/// Errors come first, then warnings, each listed top-down through the document. Semantic
/// checks look at every part of the document that is well-formed enough to check, so a
/// manifest with a schema error in one place still gets its name collisions reported; a
/// value the schema already rejected is not reported again.
///
/// Choice: `timeout` (and every other `integer`) must be a JSON integer in the source text:
/// `3600.0` and `3.6e3` are rejected like `1.5`. This is draft-04 semantics (Python's
/// `Draft4Validator`, which Scale uses), and it is what the `jsonschema` crate's draft-04
/// mode does; later drafts would accept integral floats.
///
/// Choice: `timeout` must be at least 1 second (the schema allows 0 and negative numbers, which
/// as a hard limit would kill the job at once, and which the model cannot hold).
///
/// Choice (seed-notes 8.9): a name collision among the names that become environment
/// variables is an error: input files, json inputs and settings compared after
/// [`normalize`], together with the reserved `OUTPUT_DIR` and `ALLOCATED_<NORM(resource)>`
/// (so two resources normalising alike, e.g. `sharedMem` and `sharedmem`, are an error
/// too). Collisions that only seed-cli's wider namespace sees (outputs, mounts, errors,
/// resources against inputs) are warnings, as are names seed-cli reserves outside the
/// environment and names that are not in normalised form.
///
/// Choice: exact duplicates are errors where ades addresses items by that name or value:
/// resource names, mount names, error names, error codes, output names (files and json
/// outputs share one namespace, because results are published by output name) and mount
/// paths (Docker cannot bind two directories at one path).
///
/// Choice: a mount `path` must be absolute, normalised (no `.`/`..` components, no `//`),
/// not `/` and not at or under [`CONTAINER_SEED_ROOT`], where ades binds inputs and outputs;
/// a trailing `/` is only a warning (seed-cli's own examples use `/tmp/`).
///
/// Choice (seed-notes 8.12): a manifest whose image name Docker would refuse (upper-case
/// letters in `job.name` or in a pre-release of `jobVersion`, `+build` metadata in either
/// version; see [`names::docker_name_problem`]) is rejected: ades could neither build nor
/// address that image, and renaming it would make it a different image from the one other
/// Seed tools build.
///
/// Choice: `gpus` must be a whole number (as Scale), no resource `value` or
/// `inputMultiplier` may be negative, and an error `code` that no Linux process can exit with
/// (0, negative, above 255) is a warning.
pub fn validate_manifest_value(document: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut schema_errors = BTreeSet::new();
    for error in MANIFEST.validator.iter_errors(document) {
        schema_errors.insert(error.instance_path().as_str().to_string());
        problems.extend(schema_problems(
            &error,
            Some(&MANIFEST.document),
            MANIFEST_ROOT,
            "",
        ));
    }
    let mut semantic = Semantic::new(document, schema_errors);
    semantic.check_all();
    problems.extend(semantic.problems);
    sort_problems(&mut problems);
    problems
}

/// Validates a manifest document against the official schema only (no semantic rules): what
/// seed-cli's and Scale's JSON-schema step alone would say.
pub fn validate_manifest_schema(document: &Value) -> Vec<Problem> {
    let mut problems: Vec<Problem> = MANIFEST
        .validator
        .iter_errors(document)
        .flat_map(|error| schema_problems(&error, Some(&MANIFEST.document), MANIFEST_ROOT, ""))
        .collect();
    sort_problems(&mut problems);
    problems
}

/// Parses and validates manifest text. On failure every error (and warning) is returned.
pub fn parse_manifest(text: &str) -> Result<ValidManifest, Vec<Problem>> {
    let document = parse_json(text, "manifest").map_err(|problem| vec![problem])?;
    manifest_from_value(document)
}

/// Validates a parsed manifest document and builds the model.
pub fn manifest_from_value(document: Value) -> Result<ValidManifest, Vec<Problem>> {
    let mut problems = validate_manifest_value(&document);
    if problems.iter().any(Problem::is_error) {
        return Err(problems);
    }
    match Manifest::deserialize(&document) {
        Ok(manifest) => Ok(ValidManifest {
            manifest,
            document,
            warnings: problems,
        }),
        Err(error) => {
            // Validation is meant to rule this out; say so rather than blame the user.
            problems.insert(
                0,
                Problem::error(
                    "/",
                    format!(
                        "the manifest passed validation but could not be read ({error}); \
                         this is a bug in ades, please report it with the manifest"
                    ),
                ),
            );
            Err(problems)
        }
    }
}

/// Validates a side-car metadata document (GeoJSON per `seed.metadata.schema.json`).
///
/// When the document is not one of the four GeoJSON shapes the schema allows, the problems
/// come from the shape its `type` names (a `Feature` missing `properties` is reported as
/// that, not as "matches none of the alternatives").
pub fn validate_metadata_value(document: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for error in METADATA.validator.iter_errors(document) {
        match error.kind() {
            ValidationErrorKind::OneOfNotValid { .. }
            | ValidationErrorKind::OneOfMultipleValid { .. } => {
                let at = error.instance_path().as_str().to_string();
                explain_geojson(error.instance(), &at, &mut problems);
            }
            _ => problems.extend(schema_problems(&error, None, METADATA_ROOT, "")),
        }
    }
    dedup(&mut problems);
    sort_problems(&mut problems);
    problems
}

/// Parses JSON text, or says where and how it is malformed (`what` names the document).
pub(crate) fn parse_json(text: &str, what: &str) -> Result<Value, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|error| malformed_json(text, what, &error))
}

// ---------------------------------------------------------------------------------------
// Compiled schemas

struct Compiled {
    validator: Validator,
    document: Value,
}

impl Compiled {
    fn new(text: &str) -> Self {
        let document: Value = serde_json::from_str(text).expect("embedded schema is JSON");
        Compiled {
            validator: compile(&document),
            document,
        }
    }
}

fn compile(schema: &Value) -> Validator {
    jsonschema::draft4::options()
        .with_retriever(OfflineRetriever)
        .build(schema)
        .expect("embedded schema compiles")
}

static MANIFEST: LazyLock<Compiled> = LazyLock::new(|| Compiled::new(MANIFEST_SCHEMA));
static METADATA: LazyLock<Compiled> = LazyLock::new(|| Compiled::new(METADATA_SCHEMA));

/// Serves the bounding-box schema from the crate and refuses everything else, so no schema
/// reference can ever reach the network even if a feature of `jsonschema` would allow it.
struct OfflineRetriever;

impl Retrieve for OfflineRetriever {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str().trim_end_matches('#');
        if wanted == GEOJSON_BBOX_SCHEMA_URI {
            Ok(serde_json::from_str(GEOJSON_BBOX_SCHEMA)?)
        } else {
            Err(format!("schemas are resolved offline and {wanted} is not bundled").into())
        }
    }
}

// ---------------------------------------------------------------------------------------
// JSON pointers and how they read in messages

/// How a document's root reads in a sentence.
const MANIFEST_ROOT: &str = "the manifest";
const METADATA_ROOT: &str = "the metadata document";

fn escape_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn unescape_segment(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

fn child(pointer: &str, segment: &str) -> String {
    format!("{pointer}/{}", escape_segment(segment))
}

/// The location to report: the pointer, or `/` for the root.
fn location(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".to_string()
    } else {
        pointer.to_string()
    }
}

/// `/job/interface/inputs/files/1/name` -> `job.interface.inputs.files[1].name`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = unescape_segment(segment);
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// The pointer as the subject of a sentence: `` `job.timeout` `` or "the manifest".
fn subject(pointer: &str, root: &str) -> String {
    if pointer.is_empty() || pointer == "/" {
        root.to_string()
    } else {
        format!("`{}`", dotted(pointer))
    }
}

/// The pointer with array indices replaced by `*`, to look up what a place in the
/// manifest means (`/job/interface/inputs/files/*`).
fn shape(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .fold(String::new(), |mut acc, s| {
            acc.push('/');
            acc.push_str(s);
            acc
        })
}

/// A value as it reads in a sentence: strings quoted (and cut when long), containers by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        let quoted = Value::String(cut).to_string();
        format!("{}…\"", &quoted[..quoted.len() - 1])
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn with_article(type_name: &str) -> String {
    match type_name {
        "null" => "null".to_string(),
        t if t.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {t}"),
        t => format!("a {t}"),
    }
}

/// Errors before warnings, each top-down through the document: members in the order the
/// spec and its examples write them, array elements by index. The sort is stable, so
/// problems at one location keep the order they were found in.
fn sort_problems(problems: &mut [Problem]) {
    problems.sort_by_cached_key(|p| (p.severity != Severity::Error, position(&p.location)));
}

/// Where a pointer falls in a document written in the usual member order.
fn position(pointer: &str) -> Vec<(usize, u64, String)> {
    const ORDER: &[&str] = &[
        "seedVersion",
        "job",
        "name",
        "jobVersion",
        "packageVersion",
        "title",
        "description",
        "tags",
        "maintainer",
        "organization",
        "email",
        "url",
        "phone",
        "timeout",
        "resources",
        "scalar",
        "value",
        "inputMultiplier",
        "interface",
        "command",
        "inputs",
        "outputs",
        "files",
        "json",
        "key",
        "type",
        "pattern",
        "mediaType",
        "mediaTypes",
        "required",
        "multiple",
        "partial",
        "mounts",
        "path",
        "mode",
        "settings",
        "secret",
        "errors",
        "code",
        "category",
    ];
    pointer
        .split('/')
        .skip(1)
        .map(|segment| match segment.parse::<u64>() {
            Ok(index) => (0, index, String::new()),
            Err(_) => {
                let rank = ORDER
                    .iter()
                    .position(|m| *m == segment)
                    .unwrap_or(ORDER.len());
                (rank, 0, segment.to_string())
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Schema errors -> problems

/// Turns one schema error into problems (an unknown-members error gives one per member).
/// `schema` is the schema document the error's schema path points into, when known; `base`
/// is the pointer of the validated value inside the whole document.
fn schema_problems(
    error: &ValidationError<'_>,
    schema: Option<&Value>,
    root: &str,
    base: &str,
) -> Vec<Problem> {
    let at = format!("{base}{}", error.instance_path().as_str());
    let at = at.as_str();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = schema
                .map(|s| allowed_members(s, error.schema_path().as_str()))
                .unwrap_or_default();
            unexpected
                .iter()
                .map(|member| unknown_member(at, member, &allowed, root))
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default();
            vec![missing_member(at, property, root)]
        }
        ValidationErrorKind::Type { kind } => {
            let expected: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
            };
            vec![wrong_type(at, error.instance(), &expected, root)]
        }
        ValidationErrorKind::Pattern { pattern } => {
            vec![pattern_mismatch(at, error.instance(), pattern, root)]
        }
        ValidationErrorKind::Enum { options } => {
            vec![not_in_enum(at, error.instance(), options, root)]
        }
        ValidationErrorKind::MinItems { limit } => vec![Problem::error(
            location(at),
            format!(
                "{} must have at least {limit} item{}, it has {}",
                subject(at, root),
                if *limit == 1 { "" } else { "s" },
                error.instance().as_array().map_or(0, Vec::len)
            ),
        )],
        ValidationErrorKind::MaxItems { limit } => vec![Problem::error(
            location(at),
            format!(
                "{} may have at most {limit} item{}, it has {}: remove the extra ones",
                subject(at, root),
                if *limit == 1 { "" } else { "s" },
                error.instance().as_array().map_or(0, Vec::len)
            ),
        )],
        ValidationErrorKind::AdditionalItems { limit } => vec![Problem::error(
            location(at),
            format!(
                "{} may have at most {limit} items, it has {}: remove the extra ones",
                subject(at, root),
                error.instance().as_array().map_or(0, Vec::len)
            ),
        )],
        _ => vec![Problem::error(
            location(at),
            format!("{}: {error}", subject(at, root)),
        )],
    }
}

/// The members the schema allows beside an `additionalProperties: false`.
fn allowed_members(schema: &Value, schema_path: &str) -> Vec<String> {
    let Some(parent) = schema_path.strip_suffix("/additionalProperties") else {
        return Vec::new();
    };
    schema
        .pointer(&format!("{parent}/properties"))
        .and_then(Value::as_object)
        .map(|props| {
            let mut members: Vec<String> = props.keys().cloned().collect();
            members.sort_by_cached_key(|m| position(&format!("/{m}")));
            members
        })
        .unwrap_or_default()
}

fn unknown_member(at: &str, member: &str, allowed: &[String], root: &str) -> Problem {
    let place = if at.is_empty() {
        root.to_string()
    } else {
        subject(at, root)
    };
    let listing = if allowed.is_empty() {
        String::new()
    } else {
        format!(" (allowed here: {})", allowed.join(", "))
    };
    let message = if shape(at) == "/job/interface" && member == "resources" {
        "move `resources` from `job.interface` to `job` (it moved there in Seed 0.1.0)".to_string()
    } else if let Some(better) = suggest_member(member, allowed) {
        format!("rename the unknown member `{member}` of {place} to `{better}`{listing}")
    } else {
        format!("remove the unknown member `{member}` from {place}{listing}")
    };
    Problem::error(child(at, member), message)
}

/// A likely intended member: a pre-1.0 name, a different case, or a small typo.
fn suggest_member(member: &str, allowed: &[String]) -> Option<String> {
    const RENAMED: &[(&str, &str)] = &[
        ("inputData", "inputs"),
        ("outputData", "outputs"),
        ("errorMapping", "errors"),
        ("cmd", "command"),
        ("algorithmVersion", "jobVersion"),
        ("envVars", "settings"),
        ("count", "multiple"),
    ];
    let is_allowed = |name: &str| allowed.iter().any(|a| a == name);
    if let Some((_, new)) = RENAMED.iter().find(|(old, _)| *old == member) {
        if is_allowed(new) {
            return Some((*new).to_string());
        }
    }
    if let Some(same) = allowed.iter().find(|a| a.eq_ignore_ascii_case(member)) {
        return Some(same.clone());
    }
    if member.chars().count() < 4 {
        return None;
    }
    allowed
        .iter()
        .map(|a| {
            (
                edit_distance(&a.to_ascii_lowercase(), &member.to_ascii_lowercase()),
                a,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn missing_member(at: &str, property: &str, root: &str) -> Problem {
    let place = subject(at, root);
    let hint = member_hint(&shape(at), property)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    Problem::error(
        location(at),
        format!("add the required member `{property}` to {place}{hint}"),
    )
}

/// What a required member holds, for "add the required member" messages.
fn member_hint(shape: &str, property: &str) -> Option<&'static str> {
    let hint = match (shape, property) {
        ("", "seedVersion") => "the string \"1.0.0\"",
        ("", "job") => {
            "an object describing the job: name, versions, title, description, \
                        maintainer, timeout"
        }
        ("/job", "name") => "the job's name: letters, digits and '-', e.g. \"my-job\"",
        ("/job", "jobVersion") => "the algorithm's semantic version, e.g. \"1.0.0\"",
        ("/job", "packageVersion") => "the packaging's semantic version, e.g. \"1.0.0\"",
        ("/job", "title") => "a short human-readable title",
        ("/job", "description") => "a sentence or two on what the job does",
        ("/job", "maintainer") => "an object with at least `name` and `email`",
        ("/job", "timeout") => "an integer number of seconds",
        ("/job/maintainer", "name") => "the maintainer's name",
        ("/job/maintainer", "email") => "the maintainer's e-mail address",
        ("/job/resources/scalar/*", "name") => {
            "the resource's name, e.g. \"cpus\", \"mem\", \"sharedMem\", \"disk\" or \"gpus\""
        }
        ("/job/resources/scalar/*", "value") => "a number: cpus, or MiB for mem, sharedMem, disk",
        ("/job/interface/inputs/files/*", "name") => {
            "the input's name; the container gets the file's path in a variable of that name"
        }
        ("/job/interface/inputs/json/*", "name") => {
            "the input's name; the container gets the value in a variable of that name"
        }
        ("/job/interface/inputs/json/*" | "/job/interface/outputs/json/*", "type") => {
            "one of \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""
        }
        ("/job/interface/outputs/files/*", "name") => "the output's name",
        ("/job/interface/outputs/files/*", "pattern") => {
            "a glob relative to OUTPUT_DIR, e.g. \"*.png\""
        }
        ("/job/interface/outputs/json/*", "name") => {
            "the output's name, also the key read from seed.outputs.json unless `key` is given"
        }
        ("/job/interface/mounts/*", "name") => {
            "the mount's name, used to say which host directory to bind"
        }
        ("/job/interface/mounts/*", "path") => {
            "the absolute path inside the container, e.g. \"/data\""
        }
        ("/job/interface/settings/*", "name") => {
            "the setting's name; the container gets the value in a variable of that name"
        }
        ("/job/errors/*", "code") => "the process exit code this error stands for, e.g. 1",
        ("/job/errors/*", "name") => "a stable identifier, e.g. \"bad-input\"",
        (_, "type") => "the GeoJSON type, e.g. \"Feature\" or \"Polygon\"",
        (_, "coordinates") => "the geometry's positions",
        (_, "geometry") => "a GeoJSON geometry object, or null",
        (_, "properties") => "an object, or null",
        (_, "features") => "an array of GeoJSON Feature objects",
        (_, "geometries") => "an array of GeoJSON geometry objects",
        _ => return None,
    };
    Some(hint)
}

fn wrong_type(at: &str, instance: &Value, expected: &[String], root: &str) -> Problem {
    let what = expected
        .iter()
        .map(|t| with_article(t))
        .collect::<Vec<_>>()
        .join(" or ");
    let message = if at.is_empty() && expected == ["object"] {
        format!(
            "{root} must be a JSON object ({{ ... }}), not {}",
            describe_for_type(instance)
        )
    } else if expected == ["integer"] && instance.is_number() {
        format!(
            "{} must be an integer written without a decimal point or exponent (e.g. 3600), \
             not {instance}",
            subject(at, root)
        )
    } else if expected == ["boolean"] {
        format!(
            "{} must be a boolean (true or false, without quotes), not {}",
            subject(at, root),
            describe_for_type(instance)
        )
    } else {
        format!(
            "{} must be {what}, not {}",
            subject(at, root),
            describe_for_type(instance)
        )
    };
    Problem::error(location(at), message)
}

/// Like [`describe`], but says "the string ..." so a type mismatch is plain.
fn describe_for_type(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {}", quote(s)),
        other => describe(other),
    }
}

const JOB_NAME_PATTERN: &str = "^[a-zA-Z0-9-]+$";
const NAME_PATTERN: &str = "^[a-zA-Z0-9_-]+$";

fn pattern_mismatch(at: &str, instance: &Value, pattern: &str, root: &str) -> Problem {
    let text = instance.as_str().unwrap_or_default();
    let what = subject(at, root);
    let shown = describe(instance);
    let message = match shape(at).as_str() {
        "/seedVersion" => format!(
            "{what} is {shown} but must be exactly \"1.0.0\": ades runs Seed 1.0.0 manifests \
             (the only 1.x schema there is)"
        ),
        "/job/jobVersion" | "/job/packageVersion" => format!(
            "{what} {shown} is not a semantic version: {}; write MAJOR.MINOR.PATCH such as \
             \"1.0.0\", optionally followed by -prerelease and +build (\"1.0.0-rc.1+build.5\")",
            semver_trouble(text)
        ),
        _ if pattern == JOB_NAME_PATTERN => {
            let example = name_example(text, false);
            format!(
                "{what} {shown} must match {pattern}: use letters, digits and '-' only (no '_', \
                 '.' or spaces){example}"
            )
        }
        _ if pattern == NAME_PATTERN => {
            let example = name_example(text, true);
            format!(
                "{what} {shown} must match {pattern}: use letters, digits, '_' and '-' only{example}"
            )
        }
        _ => format!("{what} {shown} must match the pattern {pattern}"),
    };
    Problem::error(location(at), message)
}

/// ", e.g. \"my-job\"" built from a rejected name, or nothing when no letters survive.
fn name_example(name: &str, underscore_allowed: bool) -> String {
    let mut example = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || (underscore_allowed && c == '_') {
            example.push(c);
        } else if matches!(c, '_' | '.' | ' ') && !example.ends_with('-') {
            example.push('-');
        }
    }
    let example = example.trim_matches('-');
    if example.is_empty() {
        String::new()
    } else {
        format!(", e.g. \"{example}\"")
    }
}

/// What is wrong with a version that does not match the SemVer pattern.
fn semver_trouble(version: &str) -> &'static str {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        "it needs exactly three dot-separated numbers"
    } else if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        "MAJOR, MINOR and PATCH must be plain numbers"
    } else if parts.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
        "its numbers must not have leading zeros"
    } else {
        "its -prerelease or +build part is malformed (dot-separated letters, digits and '-', \
         numeric parts without leading zeros)"
    }
}

fn not_in_enum(at: &str, instance: &Value, options: &Value, root: &str) -> Problem {
    let choices = options
        .as_array()
        .map(|values| {
            values
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| options.to_string());
    let given = instance.as_str().unwrap_or_default();
    let shape = shape(at);
    let hint = if shape.ends_with("/json/*/type") {
        match given.to_ascii_lowercase().as_str() {
            "float" | "double" | "decimal" | "real" => {
                ": use \"number\" for values that may have a fraction"
            }
            "int" | "long" => ": use \"integer\"",
            "bool" => ": use \"boolean\"",
            "str" | "text" => ": use \"string\"",
            "list" => ": use \"array\"",
            "dict" | "map" => ": use \"object\"",
            _ => "",
        }
    } else if shape == "/job/errors/*/category" {
        ": \"job\" means the algorithm failed, \"data\" that its input was bad (the pre-1.0 \
         categories \"algorithm\" and \"system\" no longer exist)"
    } else if shape == "/job/interface/mounts/*/mode" {
        ": \"ro\" mounts read-only, \"rw\" read-write"
    } else {
        ""
    };
    Problem::error(
        location(at),
        format!(
            "{} {} must be one of {choices}{hint}",
            subject(at, root),
            describe(instance)
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Semantic rules

/// A kind of named item in a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resource,
    InputFile,
    InputJson,
    OutputFile,
    OutputJson,
    Mount,
    Setting,
    Error,
}

impl Kind {
    /// seed-cli's order, which is also the order names are claimed in.
    const ALL: [Kind; 8] = [
        Kind::Resource,
        Kind::InputFile,
        Kind::InputJson,
        Kind::OutputFile,
        Kind::OutputJson,
        Kind::Mount,
        Kind::Setting,
        Kind::Error,
    ];

    fn label(self) -> &'static str {
        match self {
            Kind::Resource => "resource",
            Kind::InputFile => "input file",
            Kind::InputJson => "json input",
            Kind::OutputFile => "output file",
            Kind::OutputJson => "json output",
            Kind::Mount => "mount",
            Kind::Setting => "setting",
            Kind::Error => "error",
        }
    }

    fn path(self) -> &'static [&'static str] {
        match self {
            Kind::Resource => &["job", "resources", "scalar"],
            Kind::InputFile => &["job", "interface", "inputs", "files"],
            Kind::InputJson => &["job", "interface", "inputs", "json"],
            Kind::OutputFile => &["job", "interface", "outputs", "files"],
            Kind::OutputJson => &["job", "interface", "outputs", "json"],
            Kind::Mount => &["job", "interface", "mounts"],
            Kind::Setting => &["job", "interface", "settings"],
            Kind::Error => &["job", "errors"],
        }
    }

    /// Whether the item's normalised name becomes an environment variable of the container.
    fn sets_env(self) -> bool {
        matches!(self, Kind::InputFile | Kind::InputJson | Kind::Setting)
    }

    fn is_output(self) -> bool {
        matches!(self, Kind::OutputFile | Kind::OutputJson)
    }

    /// Whether seed-cli warns when the name is not in normalised form.
    fn normalised_by_convention(self) -> bool {
        !matches!(self, Kind::Resource | Kind::Error)
    }
}

/// One element of one of the manifest's arrays of named items.
struct Item<'a> {
    kind: Kind,
    /// Pointer to the element.
    pointer: String,
    /// The element's `name`, when it is a string the schema accepts.
    name: Option<&'a str>,
}

impl Item<'_> {
    fn name_pointer(&self) -> String {
        child(&self.pointer, "name")
    }

    fn describe(&self) -> String {
        match self.name {
            Some(name) => format!("{} `{name}`", self.kind.label()),
            None => format!("the {} at {}", self.kind.label(), self.pointer),
        }
    }
}

/// Who holds an environment variable name.
enum Claimant<'i, 'a> {
    OutputDir,
    Resource(&'i Item<'a>),
    Item(&'i Item<'a>),
}

struct Semantic<'a> {
    document: &'a Value,
    /// Pointers that already have a schema error; their values are not checked again.
    schema_errors: BTreeSet<String>,
    items: Vec<Item<'a>>,
    problems: Vec<Problem>,
}

impl<'a> Semantic<'a> {
    fn new(document: &'a Value, schema_errors: BTreeSet<String>) -> Self {
        let mut items = Vec::new();
        for kind in Kind::ALL {
            let mut node = Some(document);
            for key in kind.path() {
                node = node.and_then(|n| n.get(*key));
            }
            let Some(Value::Array(elements)) = node else {
                continue;
            };
            let base = format!("/{}", kind.path().join("/"));
            for (index, element) in elements.iter().enumerate() {
                let Value::Object(fields) = element else {
                    continue;
                };
                let pointer = format!("{base}/{index}");
                let name = fields
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|_| !schema_errors.contains(&child(&pointer, "name")));
                items.push(Item {
                    kind,
                    pointer,
                    name,
                });
            }
        }
        Semantic {
            document,
            schema_errors,
            items,
            problems: Vec::new(),
        }
    }

    fn check_all(&mut self) {
        self.check_timeout();
        self.check_image_name();
        self.check_environment_names();
        self.check_duplicates();
        self.check_resources();
        self.check_mounts();
        self.check_output_patterns();
        self.check_error_codes();
        self.check_wider_namespace();
        self.check_normalised_names();
    }

    fn error(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::error(at, message));
    }

    fn warning(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::warning(at, message));
    }

    /// The value at `pointer`, unless the schema already complained about it.
    fn checked(&self, pointer: &str) -> Option<&'a Value> {
        if self.schema_errors.contains(pointer) {
            None
        } else {
            self.document.pointer(pointer)
        }
    }

    fn named(&self) -> impl Iterator<Item = (&Item<'a>, &'a str)> {
        self.items
            .iter()
            .filter_map(|item| item.name.map(|name| (item, name)))
    }

    fn check_timeout(&mut self) {
        let Some(Value::Number(timeout)) = self.checked("/job/timeout") else {
            return;
        };
        if let Some(seconds) = timeout.as_i64().filter(|s| *s < 1) {
            self.error(
                "/job/timeout",
                format!(
                    "`job.timeout` is {seconds}, but it is the hard limit on the run time in \
                     seconds: give a positive whole number, e.g. 3600"
                ),
            );
        }
    }

    fn check_image_name(&mut self) {
        // A member that is missing or already wrong is replaced by a harmless stand-in, so
        // the other members are still checked; findings about stand-ins are dropped.
        let member = |pointer: &str, stand_in: &'static str| -> (&'a str, bool) {
            match self.checked(pointer).and_then(Value::as_str) {
                Some(text) => (text, true),
                None => (stand_in, false),
            }
        };
        let (name, name_ok) = member("/job/name", "job");
        let (job_version, job_version_ok) = member("/job/jobVersion", "0.0.0");
        let (package_version, package_version_ok) = member("/job/packageVersion", "0.0.0");
        for (field, sentence) in names::docker_name_findings(name, job_version, package_version) {
            let real = match field {
                names::NameField::Name => name_ok,
                names::NameField::JobVersion => job_version_ok,
                names::NameField::PackageVersion => package_version_ok,
            };
            if real {
                self.error(field.pointer(), sentence);
            }
        }
    }

    /// Input files, json inputs and settings become environment variables named
    /// `NORM(name)`; `OUTPUT_DIR` and `ALLOCATED_<NORM(resource)>` are set by ades. Any two
    /// of these with the same variable name is an error, reported on the later one.
    fn check_environment_names(&mut self) {
        let mut found = Vec::new();
        {
            let mut claims: HashMap<String, Claimant<'_, 'a>> = HashMap::new();
            claims.insert("OUTPUT_DIR".to_string(), Claimant::OutputDir);
            let resources = self.items.iter().filter(|i| i.kind == Kind::Resource);
            let others = self.items.iter().filter(|i| i.kind.sets_env());
            for item in resources.chain(others) {
                let Some(name) = item.name else { continue };
                let (variable, claimant) = if item.kind == Kind::Resource {
                    (
                        format!("ALLOCATED_{}", normalize(name)),
                        Claimant::Resource(item),
                    )
                } else {
                    (normalize(name), Claimant::Item(item))
                };
                match claims.get(&variable) {
                    None => {
                        claims.insert(variable, claimant);
                    }
                    Some(earlier) => {
                        found.push((
                            item.name_pointer(),
                            environment_collision(item, name, &variable, earlier),
                        ));
                    }
                }
            }
        }
        for (at, message) in found {
            self.error(at, message);
        }
    }

    fn check_duplicates(&mut self) {
        let mut found = Vec::new();
        let mut seen: HashMap<(&'static str, String), (String, String)> = HashMap::new();
        for item in &self.items {
            let mut keys: Vec<(&'static str, String, String)> = Vec::new();
            if let Some(name) = item.name {
                match item.kind {
                    Kind::Mount => keys.push(("mount", name.to_string(), item.name_pointer())),
                    Kind::Error => keys.push(("error", name.to_string(), item.name_pointer())),
                    k if k.is_output() => {
                        keys.push(("output", name.to_string(), item.name_pointer()))
                    }
                    _ => {}
                }
            }
            if item.kind == Kind::Error {
                let at = child(&item.pointer, "code");
                if let Some(Value::Number(code)) = self.checked(&at) {
                    keys.push(("code", code.to_string(), at));
                }
            }
            for (space, key, at) in keys {
                let who = item.describe();
                match seen.get(&(space, key.clone())) {
                    None => {
                        seen.insert((space, key), (at, who));
                    }
                    Some((first_at, first_who)) => {
                        let message = match space {
                            "mount" => format!(
                                "duplicate mount name `{key}` (also at {first_at}): each mount \
                                 needs its own name, it says which host directory to bind"
                            ),
                            "error" => format!(
                                "duplicate error name `{key}` (also at {first_at}): each error \
                                 needs its own name"
                            ),
                            "output" => format!(
                                "{who} has the same name as {first_who} (at {first_at}): outputs \
                                 are published by name, so each output needs its own"
                            ),
                            _ => format!(
                                "exit code {key} is already mapped by {first_who} (at \
                                 {first_at}): map each exit code once"
                            ),
                        };
                        found.push((at, message));
                    }
                }
            }
        }
        for (at, message) in found {
            self.error(at, message);
        }
    }

    fn check_resources(&mut self) {
        let mut found = Vec::new();
        for item in self.items.iter().filter(|i| i.kind == Kind::Resource) {
            let label = item
                .name
                .map(|n| format!("resource `{n}`"))
                .unwrap_or_else(|| "this resource".to_string());
            for member in ["value", "inputMultiplier"] {
                let at = child(&item.pointer, member);
                let Some(number) = self.checked(&at).and_then(Value::as_f64) else {
                    continue;
                };
                if number < 0.0 {
                    found.push((
                        at,
                        format!(
                            "`{member}` of {label} is {number}, but resource amounts cannot be \
                             negative: use 0 or more"
                        ),
                    ));
                } else if member == "value"
                    && item.name.is_some_and(|n| normalize(n) == "GPUS")
                    && number.fract() != 0.0
                {
                    found.push((
                        at,
                        format!(
                            "{label} asks for {number} GPUs, but GPUs are only handed out \
                             whole: use a whole number such as {}",
                            number.ceil()
                        ),
                    ));
                }
            }
        }
        for (at, message) in found {
            self.error(at, message);
        }
    }

    fn check_mounts(&mut self) {
        let mut found = Vec::new();
        let mut seen_paths: HashMap<String, (String, String)> = HashMap::new();
        for item in self.items.iter().filter(|i| i.kind == Kind::Mount) {
            let at = child(&item.pointer, "path");
            let Some(path) = self.checked(&at).and_then(Value::as_str) else {
                continue;
            };
            let who = item.describe();
            if path.is_empty() {
                found.push((
                    Severity::Error,
                    at,
                    format!(
                        "{who} has an empty path: give the absolute path inside the container, \
                         e.g. \"/data\""
                    ),
                ));
                continue;
            }
            let Some(check) = check_mount_path(path) else {
                found.push((
                    Severity::Error,
                    at,
                    format!(
                        "{who} has the relative path {}: give the absolute path inside the \
                         container, e.g. \"/{}\"",
                        quote(path),
                        normalize_path(path).trim_start_matches('/')
                    ),
                ));
                continue;
            };
            for (severity, message) in check.findings(&who, path) {
                found.push((severity, at.clone(), message));
            }
            match seen_paths.get(&check.normalised) {
                None => {
                    seen_paths.insert(check.normalised, (at, who));
                }
                Some((first_at, first_who)) => found.push((
                    Severity::Error,
                    at,
                    format!(
                        "{who} uses the same container path {} as {first_who} (at {first_at}): \
                         Docker cannot bind two directories at one path",
                        quote(&check.normalised)
                    ),
                )),
            }
        }
        for (severity, at, message) in found {
            match severity {
                Severity::Error => self.error(at, message),
                Severity::Warning => self.warning(at, message),
            }
        }
    }

    /// Output patterns are globs relative to `OUTPUT_DIR`: one that is absolute, climbs out
    /// with `..`, is empty or is not a glob could never capture a file the job wrote.
    fn check_output_patterns(&mut self) {
        let mut found = Vec::new();
        for item in self.items.iter().filter(|i| i.kind == Kind::OutputFile) {
            let at = child(&item.pointer, "pattern");
            let Some(pattern) = self.checked(&at).and_then(Value::as_str) else {
                continue;
            };
            let who = item.describe();
            let trouble = if pattern.trim().is_empty() {
                Some("is empty".to_string())
            } else if pattern.starts_with('/') {
                Some("is absolute".to_string())
            } else if pattern.split('/').any(|part| part == "..") {
                Some("climbs out of the output directory with `..`".to_string())
            } else {
                glob::Pattern::new(pattern)
                    .err()
                    .map(|err| format!("is not a valid glob ({})", err.msg))
            };
            if let Some(trouble) = trouble {
                found.push((
                    at,
                    format!(
                        "the pattern {} of {who} {trouble}: give a glob relative to                          OUTPUT_DIR, e.g. \"*.tif\" or \"results/*.csv\"",
                        quote(pattern)
                    ),
                ));
            }
        }
        for (at, message) in found {
            self.error(at, message);
        }
    }

    fn check_error_codes(&mut self) {
        let mut found = Vec::new();
        for item in self.items.iter().filter(|i| i.kind == Kind::Error) {
            let at = child(&item.pointer, "code");
            let Some(Value::Number(code)) = self.checked(&at) else {
                continue;
            };
            let who = item.describe();
            match code.as_i64() {
                None => found.push((
                    Severity::Error,
                    at,
                    format!(
                        "{who} has the exit code {code}, which is too large to be an exit \
                         code: use 1 to 255"
                    ),
                )),
                Some(0) => found.push((
                    Severity::Warning,
                    at,
                    format!(
                        "{who} maps exit code 0, which means success, so it is never reported: \
                         use 1 to 255"
                    ),
                )),
                Some(c) if !(1..=255).contains(&c) => found.push((
                    Severity::Warning,
                    at,
                    format!(
                        "{who} maps exit code {c}, but a Linux process exits with 0 to 255 \
                         ({c} arrives as {}), so it is never reported: use 1 to 255",
                        c.rem_euclid(256)
                    ),
                )),
                Some(_) => {}
            }
        }
        for (severity, at, message) in found {
            match severity {
                Severity::Error => self.error(at, message),
                Severity::Warning => self.warning(at, message),
            }
        }
    }

    /// seed-cli keeps one namespace of normalised names for everything and reserves
    /// `OUTPUT_DIR` and `ALLOCATED_*` in all of it; ades only needs that for the names that
    /// become environment variables (errors above). The rest is a portability warning.
    fn check_wider_namespace(&mut self) {
        let mut found = Vec::new();
        let allocated: Vec<(String, String)> = self
            .named()
            .filter(|(item, _)| item.kind == Kind::Resource)
            .map(|(item, name)| (format!("ALLOCATED_{}", normalize(name)), item.describe()))
            .collect();
        let named: Vec<(&Item<'a>, &'a str)> = self.named().collect();
        for (index, (item, name)) in named.iter().enumerate() {
            let key = normalize(name);
            if !item.kind.sets_env() {
                if key == "OUTPUT_DIR" {
                    found.push((
                        item.name_pointer(),
                        format!(
                            "{} uses the name OUTPUT_DIR, which seed-cli reserves: ades accepts \
                             it, rename it to stay portable",
                            item.describe()
                        ),
                    ));
                } else if item.kind != Kind::Resource {
                    if let Some((_, owner)) = allocated.iter().find(|(v, _)| *v == key) {
                        found.push((
                            item.name_pointer(),
                            format!(
                                "{} uses the name {key}, which seed-cli reserves for {owner}: \
                                 ades accepts it, rename it to stay portable",
                                item.describe()
                            ),
                        ));
                    }
                }
            }
            let earlier = named[..index].iter().find(|(other, other_name)| {
                normalize(other_name) == key && !reported_as_error(other, other_name, item, name)
            });
            if let Some((other, _)) = earlier {
                found.push((
                    item.name_pointer(),
                    format!(
                        "{} and {} (at {}) share the normalised name {key}: ades accepts this, \
                         but seed-cli rejects it (one namespace for all names); rename one to \
                         stay portable",
                        item.describe(),
                        other.describe(),
                        other.name_pointer()
                    ),
                ));
            }
        }
        for (at, message) in found {
            self.warning(at, message);
        }
    }

    fn check_normalised_names(&mut self) {
        let mut found = Vec::new();
        for (item, name) in self.named() {
            if !item.kind.normalised_by_convention() {
                continue;
            }
            let normal = normalize(name);
            if normal == name {
                continue;
            }
            let message = if item.kind.sets_env() {
                format!(
                    "{} reaches the container as the environment variable {normal}: consider \
                     naming it `{normal}` so the manifest, the command and the variable agree \
                     (seed-cli warns about names that are not normalised)",
                    item.describe()
                )
            } else {
                format!(
                    "{} is not in normalised form (`{normal}`): ades accepts it, but seed-cli \
                     warns about names that are not upper case with '_'",
                    item.describe()
                )
            };
            found.push((item.name_pointer(), message));
        }
        for (at, message) in found {
            self.warning(at, message);
        }
    }
}

/// Whether a normalised-name clash between these two items is already an error.
fn reported_as_error(a: &Item<'_>, a_name: &str, b: &Item<'_>, b_name: &str) -> bool {
    let same_kind = a.kind == b.kind;
    (a.kind.sets_env() && b.kind.sets_env())
        || (a.kind == Kind::Resource && b.kind == Kind::Resource)
        || (a.kind.is_output() && b.kind.is_output() && a_name == b_name)
        || (same_kind && matches!(a.kind, Kind::Mount | Kind::Error) && a_name == b_name)
}

fn environment_collision(
    item: &Item<'_>,
    name: &str,
    variable: &str,
    earlier: &Claimant<'_, '_>,
) -> String {
    let who = item.describe();
    match earlier {
        Claimant::OutputDir => format!(
            "{who} would become the environment variable OUTPUT_DIR, which ades sets to the \
             output directory: rename it"
        ),
        Claimant::Resource(resource) if item.kind == Kind::Resource => {
            if resource.name == Some(name) {
                format!(
                    "duplicate resource `{name}` (also at {}): declare each resource once",
                    resource.name_pointer()
                )
            } else {
                format!(
                    "{who} and {} (at {}) both become {variable}: declare the resource once",
                    resource.describe(),
                    resource.name_pointer()
                )
            }
        }
        Claimant::Resource(resource) => format!(
            "{who} would become the environment variable {variable}, which ades sets to the \
             allocation of {} (at {}): rename it",
            resource.describe(),
            resource.name_pointer()
        ),
        Claimant::Item(other) if other.kind == item.kind && other.name == Some(name) => format!(
            "duplicate {} name `{name}` (also at {}): each name may appear once",
            item.kind.label(),
            other.name_pointer()
        ),
        Claimant::Item(other) => format!(
            "{who} and {} (at {}) both become the environment variable {variable}: rename one \
             of them",
            other.describe(),
            other.name_pointer()
        ),
    }
}

/// A mount path that is absolute, with what is wrong with it.
struct MountPath {
    normalised: String,
    has_odd_components: bool,
    trailing_slash: bool,
}

impl MountPath {
    fn findings(&self, who: &str, path: &str) -> Vec<(Severity, String)> {
        let mut findings = Vec::new();
        let shown = quote(path);
        let normal = quote(&self.normalised);
        if self.has_odd_components {
            findings.push((
                Severity::Error,
                format!(
                    "{who} has the path {shown}, which is not normalised ('//', '.' or '..'): \
                     write it as {normal}"
                ),
            ));
        } else if self.trailing_slash {
            findings.push((
                Severity::Warning,
                format!("{who} has the path {shown}: write it as {normal}, without the final '/'"),
            ));
        }
        if self.normalised == "/" {
            findings.push((
                Severity::Error,
                format!(
                    "{who} would be mounted over the container's root directory: choose a \
                     directory such as \"/data\""
                ),
            ));
        } else if self.normalised == CONTAINER_SEED_ROOT
            || self
                .normalised
                .starts_with(&format!("{CONTAINER_SEED_ROOT}/"))
        {
            findings.push((
                Severity::Error,
                format!(
                    "{who} is at {normal}, inside {CONTAINER_SEED_ROOT}, where ades binds the \
                     input files ({CONTAINER_SEED_ROOT}/inputs) and the output directory \
                     ({CONTAINER_SEED_ROOT}/outputs): choose a path outside \
                     {CONTAINER_SEED_ROOT}, e.g. \"/data\""
                ),
            ));
        }
        findings
    }
}

/// `None` for a relative (or empty) path.
fn check_mount_path(path: &str) -> Option<MountPath> {
    if !path.starts_with('/') {
        return None;
    }
    let inner = path.trim_end_matches('/');
    let has_odd_components = inner
        .split('/')
        .skip(1)
        .any(|c| c.is_empty() || c == "." || c == "..");
    Some(MountPath {
        normalised: normalize_path(path),
        has_odd_components,
        trailing_slash: path.len() > 1 && path.ends_with('/'),
    })
}

/// Lexical normalisation of a `/`-separated path, always absolute.
fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

// ---------------------------------------------------------------------------------------
// Metadata side-cars

/// Validators for the parts of the metadata schema, to explain a failed `oneOf`.
struct GeoJson {
    feature: Validator,
    feature_collection: Validator,
    geometry_collection: Validator,
    /// Geometry type (`Point`, ...) -> validator for that geometry.
    geometries: Vec<(String, Validator)>,
}

static GEOJSON: LazyLock<GeoJson> = LazyLock::new(|| {
    let definitions = METADATA.document["definitions"].clone();
    let part = |reference: &str, extra: Value| {
        compile(&json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "definitions": definitions,
            "allOf": [{ "$ref": reference }, extra]
        }))
    };
    let geometries = METADATA.document["definitions"]["geometry"]["oneOf"]
        .as_array()
        .map(|variants| {
            variants
                .iter()
                .enumerate()
                .filter_map(|(index, variant)| {
                    let title = variant["title"].as_str()?;
                    let reference = format!("#/definitions/geometry/oneOf/{index}");
                    let shape = json!({ "type": "object", "required": ["type", "coordinates"] });
                    Some((title.to_string(), part(&reference, shape)))
                })
                .collect()
        })
        .unwrap_or_default();
    GeoJson {
        feature: part("#/definitions/feature", json!({ "type": "object" })),
        feature_collection: part(
            "#/definitions/featureCollection",
            json!({ "type": "object" }),
        ),
        geometry_collection: part(
            "#/definitions/geometryCollection",
            json!({ "type": "object" }),
        ),
        geometries,
    }
});

const GEOJSON_TYPES: &str = "Point, MultiPoint, LineString, MultiLineString, Polygon, \
                             MultiPolygon, GeometryCollection, Feature or FeatureCollection";

/// Reports why `value` (at `at`) is not the GeoJSON object its `type` says it is.
fn explain_geojson(value: &Value, at: &str, problems: &mut Vec<Problem>) {
    let what = subject(at, METADATA_ROOT);
    let Some(object) = value.as_object() else {
        problems.push(Problem::error(
            location(at),
            format!(
                "{what} must be a GeoJSON object ({GEOJSON_TYPES}), not {}",
                describe_for_type(value)
            ),
        ));
        return;
    };
    let Some(kind) = object.get("type") else {
        problems.push(missing_member(at, "type", METADATA_ROOT));
        return;
    };
    let kind_at = child(at, "type");
    let geojson = &*GEOJSON;
    let validator = match kind.as_str() {
        Some("Feature") => &geojson.feature,
        Some("FeatureCollection") => &geojson.feature_collection,
        Some("GeometryCollection") => &geojson.geometry_collection,
        Some(name) => match geojson.geometries.iter().find(|(title, _)| title == name) {
            Some((_, validator)) => validator,
            None => {
                problems.push(Problem::error(
                    kind_at.clone(),
                    format!(
                        "{} {} is not a GeoJSON type: use one of {GEOJSON_TYPES}",
                        subject(&kind_at, METADATA_ROOT),
                        describe(kind)
                    ),
                ));
                return;
            }
        },
        None => {
            problems.push(Problem::error(
                kind_at.clone(),
                format!(
                    "{} must be a string naming the GeoJSON type ({GEOJSON_TYPES}), not {}",
                    subject(&kind_at, METADATA_ROOT),
                    describe_for_type(kind)
                ),
            ));
            return;
        }
    };
    let before = problems.len();
    for error in validator.iter_errors(value) {
        let inner_at = format!("{at}{}", error.instance_path().as_str());
        match error.kind() {
            ValidationErrorKind::OneOfNotValid { .. }
            | ValidationErrorKind::OneOfMultipleValid { .. } => {
                if error.instance().is_object() {
                    explain_geojson(error.instance(), &inner_at, problems);
                } else {
                    problems.push(Problem::error(
                        location(&inner_at),
                        format!(
                            "{} must be a GeoJSON geometry object (or null where allowed), not {}",
                            subject(&inner_at, METADATA_ROOT),
                            describe_for_type(error.instance())
                        ),
                    ));
                }
            }
            _ => problems.extend(schema_problems(&error, None, METADATA_ROOT, at)),
        }
    }
    if problems.len() == before {
        problems.push(Problem::error(
            location(at),
            format!("{what} is not valid GeoJSON (it must be exactly one of {GEOJSON_TYPES})"),
        ));
    }
}

fn dedup(problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    problems.retain(|p| seen.insert((p.location.clone(), p.message.clone())));
}

// ---------------------------------------------------------------------------------------
// Malformed JSON

fn malformed_json(text: &str, what: &str, error: &serde_json::Error) -> Problem {
    if text.trim().is_empty() {
        return Problem::error(
            "/",
            format!(
                "the {what} is empty: it must be a JSON object such as \
                 {{\"seedVersion\": \"1.0.0\", \"job\": {{...}}}}"
            ),
        );
    }
    let (line, column) = (error.line(), error.column());
    let full = error.to_string();
    let reason = full
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&full);
    let hint = if error.classify() == serde_json::error::Category::Eof {
        "the text ends too early: a closing '}', ']' or '\"' is probably missing"
    } else if reason.contains("trailing comma") {
        "remove the ',' before the closing bracket"
    } else if reason.contains("trailing characters") {
        "there is text after the end of the JSON value: remove it (or an extra closing bracket)"
    } else if reason.contains("key must be a string") {
        "member names must be in double quotes; a trailing ',' before '}' also causes this"
    } else if reason.contains("expected `:`") {
        "put a ':' between the member name and its value"
    } else if reason.contains("expected `,` or") {
        "a ',' is missing between two members or items, or a bracket is unmatched"
    } else if reason.contains("control character") {
        "a string holds a raw line break or tab: write it as \\n or \\t"
    } else {
        "usually this is caused by a trailing comma or an unmatched bracket"
    };
    let near = text
        .lines()
        .nth(line.saturating_sub(1))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let cut: String = l.chars().take(60).collect();
            let ellipsis = if l.chars().count() > 60 { "…" } else { "" };
            format!(" (near `{cut}{ellipsis}`)")
        })
        .unwrap_or_default();
    Problem::error(
        "/",
        format!(
            "the {what} is not valid JSON: {reason} at line {line}, column {column}{near}: {hint}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_read_as_fields() {
        assert_eq!(
            dotted("/job/interface/inputs/files/1/name"),
            "job.interface.inputs.files[1].name"
        );
        assert_eq!(dotted("/a~1b/c~0d"), "a/b.c~d");
        assert_eq!(shape("/job/errors/3/code"), "/job/errors/*/code");
        assert_eq!(shape(""), "");
        assert_eq!(child("/job", "a/b"), "/job/a~1b");
    }

    #[test]
    fn paths_normalise_lexically() {
        assert_eq!(normalize_path("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normalize_path("/.."), "/");
        let check = check_mount_path("/tmp/").unwrap();
        assert!(check.trailing_slash && !check.has_odd_components);
        assert!(check_mount_path("/a/../b").unwrap().has_odd_components);
        assert!(check_mount_path("data").is_none());
    }

    #[test]
    fn typos_get_suggestions() {
        let allowed: Vec<String> = ["name", "mediaTypes", "multiple", "partial", "required"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            suggest_member("mediaType", &allowed).as_deref(),
            Some("mediaTypes")
        );
        assert_eq!(
            suggest_member("count", &allowed).as_deref(),
            Some("multiple")
        );
        assert_eq!(suggest_member("NAME", &allowed).as_deref(), Some("name"));
        assert_eq!(suggest_member("foo", &allowed), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn semver_troubles() {
        assert!(semver_trouble("1.0").contains("three"));
        assert!(semver_trouble("01.0.0").contains("leading zeros"));
        assert!(semver_trouble("a.b.c").contains("plain numbers"));
        assert!(semver_trouble("1.0.0-").contains("prerelease"));
    }
}
