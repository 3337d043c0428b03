//! Checking an execute request against a process, protocol-neutral (the OGC API and WPS
//! façades both build an [`ExecuteRequest`] and call [`check_request`]).
//!
//! Every problem is reported at once, each with where it is (`/inputs/REPEAT`) and what to
//! change, so a client fixes its request in one round trip. What is checked: unknown inputs
//! and outputs, missing required inputs, the number of values against `minOccurs` /
//! `maxOccurs`, the JSON type of inline json inputs against their Seed type, the form of
//! file inputs (text, base64 or a link — a bare number, boolean or object is not a file —
//! with an accepted media type), that references are absolute URLs, the requested output
//! media types and the callback URIs. What is not: the content of base64 values and of
//! references (staging decodes and fetches them; a bad one fails the job with a `data`
//! error).

use crate::domain::{ExecuteRequest, InputDescription, InputKind, InputValue, OutputKind, Process};
use std::fmt;

/// What kind of problem, so each façade can pick its own error code (OGC: missing ones are
/// `MissingParameterValue`, the rest `InvalidParameterValue`; WPS 2.0: `NoSuchInput`,
/// `TooManyInputs`, `NoSuchOutput`, `WrongInputData`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The request names an input the process does not have.
    UnknownInput,
    /// A required input is absent.
    MissingInput,
    /// Fewer values than `minOccurs` (but some).
    TooFewValues,
    /// More values than `maxOccurs`.
    TooManyValues,
    /// A value of the wrong JSON type or form.
    WrongValue,
    /// A media type the input or output does not accept.
    WrongMediaType,
    /// A reference (`href`, callback URI) that is not an absolute URL ades can use.
    BadReference,
    /// The request names an output the process does not have.
    UnknownOutput,
    /// The request document itself is malformed (found by a façade while parsing it).
    Malformed,
}

/// One thing to fix in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestProblem {
    pub kind: ProblemKind,
    /// Where: `/inputs/<id>`, `/inputs/<id>/<index>`, `/outputs/<id>`, `/subscriber/<name>`,
    /// `/response`.
    pub location: String,
    /// A sentence saying what is wrong and what to change.
    pub message: String,
}

impl RequestProblem {
    pub fn new(kind: ProblemKind, location: impl Into<String>, message: impl Into<String>) -> Self {
        RequestProblem {
            kind,
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for RequestProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// The most problems one request is told about: a request with a million wrong values
/// gets the first ones (and no million messages in memory).
pub const MAX_PROBLEMS: usize = 50;

/// Checks `request` against `process`; `Err` lists every problem found (up to
/// [`MAX_PROBLEMS`]).
pub fn check_request(
    process: &Process,
    request: &ExecuteRequest,
) -> Result<(), Vec<RequestProblem>> {
    let mut problems = Vec::new();
    check_inputs(process, request, &mut problems);
    check_outputs(process, request, &mut problems);
    check_subscriber(request, &mut problems);
    problems.truncate(MAX_PROBLEMS);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_inputs(process: &Process, request: &ExecuteRequest, problems: &mut Vec<RequestProblem>) {
    // In the process's order, so the list reads like its description.
    for input in &process.inputs {
        let location = format!("/inputs/{}", input.id);
        let values = request.inputs.get(&input.id).map_or(&[][..], Vec::as_slice);
        if values.is_empty() {
            if input.min_occurs > 0 {
                problems.push(RequestProblem::new(
                    ProblemKind::MissingInput,
                    location,
                    format!(
                        "the input {:?} is required; add it to \"inputs\" ({})",
                        input.id,
                        describe_expected(input)
                    ),
                ));
            }
            continue;
        }
        check_occurrences(input, values.len(), &location, problems);
        let several = values.len() > 1;
        for (index, value) in values.iter().enumerate() {
            if problems.len() >= MAX_PROBLEMS {
                break;
            }
            let location = if several {
                format!("{location}/{index}")
            } else {
                location.clone()
            };
            check_value(input, value, &location, problems);
        }
    }
    for id in request.inputs.keys() {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        if process.input(id).is_none() {
            problems.push(RequestProblem::new(
                ProblemKind::UnknownInput,
                format!("/inputs/{id}"),
                format!(
                    "process {} has no input {id:?}; its inputs are {}",
                    process.id,
                    list_ids(process.inputs.iter().map(|i| i.id.as_str()))
                ),
            ));
        }
    }
}

fn check_occurrences(
    input: &InputDescription,
    count: usize,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    if count > 0 && count < input.min_occurs {
        problems.push(RequestProblem::new(
            ProblemKind::TooFewValues,
            location,
            format!(
                "{count} value(s) given, at least {} needed; send an array of {} or more values",
                input.min_occurs, input.min_occurs
            ),
        ));
    }
    if let Some(max) = input.max_occurs {
        if count > max {
            let advice = if max == 1 {
                "send a single value, not an array".to_string()
            } else {
                format!("send at most {max} values")
            };
            problems.push(RequestProblem::new(
                ProblemKind::TooManyValues,
                location,
                format!("{count} values given, at most {max} allowed; {advice}"),
            ));
        }
    }
}

fn check_value(
    input: &InputDescription,
    value: &InputValue,
    location: &str,
    problems: &mut Vec<RequestProblem>,
) {
    match (&input.kind, value) {
        (InputKind::Json { kind }, InputValue::Inline { value, .. }) => {
            if !kind.accepts(value) {
                problems.push(RequestProblem::new(
                    ProblemKind::WrongValue,
                    location,
                    format!(
                        "expected a JSON {}, got {}",
                        kind.as_str(),
                        describe_json(value)
                    ),
                ));
            }
        }
        // Staging fetches or decodes these; the Seed contract then checks the type.
        (InputKind::Json { .. }, InputValue::Href { href, .. }) => {
            check_reference(href, location, problems)
        }
        (InputKind::Json { .. }, InputValue::Base64 { .. }) => {}
        (InputKind::Json { .. }, InputValue::JobOutput { .. }) => {
            problems.push(RequestProblem::new(
                ProblemKind::WrongValue,
                location,
                "this input is a json value, not a file another job produced".to_string(),
            ))
        }
        (InputKind::File { media_types }, value) => {
            match value {
                InputValue::Inline { value, .. } if !value.is_string() => {
                    problems.push(RequestProblem::new(
                        ProblemKind::WrongValue,
                        location,
                        format!(
                            "this input is a file, got {}: give its content as a string \
                             ({{\"value\": \"...\"}}), as base64 ({{\"value\": \"...\", \
                             \"encoding\": \"base64\"}}) or as a link ({{\"href\": \"...\"}})",
                            describe_json(value)
                        ),
                    ));
                }
                InputValue::Href { href, .. } => check_reference(href, location, problems),
                _ => {}
            }
            let given = match value {
                InputValue::Inline { media_type, .. }
                | InputValue::Base64 { media_type, .. }
                | InputValue::Href { media_type, .. }
                | InputValue::JobOutput { media_type, .. } => media_type.as_deref(),
            };
            if let Some(given) = given {
                if !media_types.is_empty() && !media_types.iter().any(|m| same_media_type(m, given))
                {
                    problems.push(RequestProblem::new(
                        ProblemKind::WrongMediaType,
                        location,
                        format!(
                            "media type {given:?} is not accepted; use one of {}",
                            list_ids(media_types.iter().map(String::as_str))
                        ),
                    ));
                }
            }
        }
    }
}

fn check_reference(href: &str, location: &str, problems: &mut Vec<RequestProblem>) {
    match reqwest::Url::parse(href) {
        Ok(url) if matches!(url.scheme(), "http" | "https" | "file" | "workspace" | "s3") => {}
        Ok(url) => problems.push(RequestProblem::new(
            ProblemKind::BadReference,
            location,
            format!(
                "the scheme {:?} of {href:?} is not supported; use an http(s), \
                 workspace://<name>/<path> or s3://<bucket>/<key> URL",
                url.scheme()
            ),
        )),
        Err(e) => problems.push(RequestProblem::new(
            ProblemKind::BadReference,
            location,
            format!("{href:?} is not an absolute URL ({e}); give a full http(s) URL"),
        )),
    }
}

/// Which input references a server fetches (`queue.allow_file_urls`,
/// `queue.allow_private_urls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReferencePolicy {
    pub allow_file_urls: bool,
    pub allow_private_urls: bool,
}

/// Adds a problem for every `href` input `policy` refuses: `file://` unless allowed, an
/// http(s) URL whose host is a literal private or local address (or `localhost`) unless
/// allowed. Names are checked when they resolve, at staging.
pub fn check_reference_policy(
    request: &ExecuteRequest,
    policy: ReferencePolicy,
    problems: &mut Vec<RequestProblem>,
) {
    for (location, _, url) in href_inputs(request) {
        if problems.len() >= MAX_PROBLEMS {
            return;
        }
        let problem = match url.scheme() {
            "file" if !policy.allow_file_urls => Some(
                "file:// references are not accepted by this server (the operator can \
                 allow them with queue.allow_file_urls); give an http(s) URL"
                    .to_string(),
            ),
            "http" | "https" => crate::outbound::check_url(&url, policy.allow_private_urls).err(),
            _ => None,
        };
        if let Some(problem) = problem {
            problems.push(RequestProblem::new(
                ProblemKind::BadReference,
                location,
                format!("the reference cannot be used: {problem}"),
            ));
        }
    }
}

/// Every `href` input value of `request` that parses as a URL (one that does not is
/// `check_request`'s to report), as given and parsed, with where it stands in the request:
/// `/inputs/<id>`, or `/inputs/<id>/<index>` for an input given several values.
pub fn href_inputs(request: &ExecuteRequest) -> Vec<(String, &str, reqwest::Url)> {
    let mut found = Vec::new();
    for (id, values) in &request.inputs {
        let several = values.len() > 1;
        for (index, value) in values.iter().enumerate() {
            let InputValue::Href { href, .. } = value else {
                continue;
            };
            let Ok(url) = reqwest::Url::parse(href) else {
                continue;
            };
            let location = if several {
                format!("/inputs/{id}/{index}")
            } else {
                format!("/inputs/{id}")
            };
            found.push((location, href.as_str(), url));
        }
    }
    found
}

fn check_outputs(process: &Process, request: &ExecuteRequest, problems: &mut Vec<RequestProblem>) {
    for (id, wanted) in &request.outputs {
        let location = format!("/outputs/{id}");
        let Some(output) = process.output(id) else {
            problems.push(RequestProblem::new(
                ProblemKind::UnknownOutput,
                location,
                format!(
                    "process {} has no output {id:?}; its outputs are {}",
                    process.id,
                    list_ids(process.outputs.iter().map(|o| o.id.as_str()))
                ),
            ));
            continue;
        };
        let Some(asked) = wanted.media_type.as_deref() else {
            continue;
        };
        let offered = match &output.kind {
            OutputKind::File { media_type, .. } => media_type.clone(),
            OutputKind::Json { .. } => Some("application/json".to_string()),
        };
        if let Some(offered) = offered {
            if !same_media_type(&offered, asked) {
                problems.push(RequestProblem::new(
                    ProblemKind::WrongMediaType,
                    location,
                    format!(
                        "this output is only available as {offered:?}; ask for that media \
                         type or leave \"format\" out"
                    ),
                ));
            }
        }
    }
}

fn check_subscriber(request: &ExecuteRequest, problems: &mut Vec<RequestProblem>) {
    let Some(subscriber) = &request.subscriber else {
        return;
    };
    for (name, uri) in [
        ("successUri", &subscriber.success_uri),
        ("inProgressUri", &subscriber.in_progress_uri),
        ("failedUri", &subscriber.failed_uri),
    ] {
        let Some(uri) = uri else { continue };
        let ok = reqwest::Url::parse(uri)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false);
        if !ok {
            problems.push(RequestProblem::new(
                ProblemKind::BadReference,
                format!("/subscriber/{name}"),
                format!(
                    "{} is not an absolute http(s) URL the server can POST to",
                    crate::outbound::shown(uri)
                ),
            ));
        }
    }
}

/// The subscriber URIs of `request` that the address guard refuses (a literal address on
/// the server's own network, unless `allow_private_urls`): told at submission, rather than
/// found out when the job ends. Names resolving inward are refused when the callback is
/// sent, and the try recorded.
pub fn check_subscriber_addresses(
    request: &ExecuteRequest,
    allow_private_urls: bool,
) -> Vec<RequestProblem> {
    let Some(subscriber) = &request.subscriber else {
        return Vec::new();
    };
    [
        ("successUri", &subscriber.success_uri),
        ("inProgressUri", &subscriber.in_progress_uri),
        ("failedUri", &subscriber.failed_uri),
    ]
    .into_iter()
    .filter_map(|(name, uri)| {
        let url = reqwest::Url::parse(uri.as_deref()?.trim()).ok()?;
        let problem = crate::outbound::check_url(&url, allow_private_urls).err()?;
        Some(RequestProblem::new(
            ProblemKind::BadReference,
            format!("/subscriber/{name}"),
            problem,
        ))
    })
    .collect()
}

/// Whether two media types name the same thing (parameters and case ignored, so
/// `text/plain; charset=utf-8` matches `text/plain`).
pub fn same_media_type(a: &str, b: &str) -> bool {
    media_type_essence(a) == media_type_essence(b) || a.trim().eq_ignore_ascii_case(b.trim())
}

/// A media type without its parameters, lower-cased (`Text/XML; charset=utf-8` → `text/xml`).
pub fn media_type_essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether content of this media type is XML (`*/xml`, `*+xml`).
pub fn is_xml_media_type(media_type: &str) -> bool {
    let essence = media_type_essence(media_type);
    essence.ends_with("/xml") || essence.ends_with("+xml")
}

/// Whether content of this media type is text (sent and embedded as a JSON string rather
/// than base64): `text/*`, JSON, XML, YAML, CSV and their `+json` / `+xml` kinds.
pub fn is_textual_media_type(media_type: &str) -> bool {
    let essence = media_type_essence(media_type);
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/csv"
                | "application/javascript"
                | "application/x-ndjson"
        )
}

fn describe_expected(input: &InputDescription) -> String {
    match &input.kind {
        InputKind::Json { kind } => format!("a JSON {}", kind.as_str()),
        InputKind::File { media_types } if media_types.is_empty() => "a file".to_string(),
        InputKind::File { media_types } => format!(
            "a file of type {}",
            list_ids(media_types.iter().map(String::as_str))
        ),
    }
}

fn describe_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(_) => "a boolean".to_string(),
        Value::Number(n) if n.is_f64() => "a number with a fraction".to_string(),
        Value::Number(_) => "an integer".to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn list_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<String> = ids.map(|i| format!("{i:?}")).collect();
    if ids.is_empty() {
        "(none)".to_string()
    } else {
        ids.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{
        Binding, JobControlOption, OutputDescription, OutputRequest, ProcessId, SeedBinding,
        Subscriber,
    };
    use seed::manifest::JsonType;
    use serde_json::json;
    use std::collections::BTreeMap;

    pub(crate) fn process() -> Process {
        let manifest: seed::Manifest = serde_json::from_value(json!({
            "seedVersion": "1.0.0",
            "job": {
                "name": "demo", "jobVersion": "1.0.0", "packageVersion": "1.0.0",
                "title": "Demo", "description": "d",
                "maintainer": {"name": "n", "email": "e@example.org"},
                "timeout": 10
            }
        }))
        .unwrap();
        let input = |id: &str, min, max, kind| InputDescription {
            id: id.to_string(),
            title: id.to_string(),
            description: None,
            min_occurs: min,
            max_occurs: max,
            schema: json!({}),
            kind,
        };
        Process {
            id: ProcessId::parse("demo").unwrap(),
            version: "1.0.0".into(),
            title: "Demo".into(),
            description: "d".into(),
            keywords: vec![],
            metadata: vec![],
            job_control_options: vec![JobControlOption::SyncExecute],
            mutable: false,
            inputs: vec![
                input(
                    "TEXT",
                    1,
                    Some(1),
                    InputKind::File {
                        media_types: vec!["text/plain".into()],
                    },
                ),
                input(
                    "MANY",
                    0,
                    None,
                    InputKind::File {
                        media_types: vec![],
                    },
                ),
                input(
                    "COUNT",
                    1,
                    Some(1),
                    InputKind::Json {
                        kind: JsonType::Integer,
                    },
                ),
                input(
                    "FLAG",
                    0,
                    Some(1),
                    InputKind::Json {
                        kind: JsonType::Boolean,
                    },
                ),
            ],
            outputs: vec![OutputDescription {
                id: "OUT".into(),
                title: "Out".into(),
                description: None,
                schema: json!({}),
                kind: OutputKind::File {
                    media_type: Some("text/plain".into()),
                    multiple: false,
                    required: true,
                },
            }],
            binding: Binding::Seed(SeedBinding {
                image: "demo-1.0.0-seed:1.0.0".into(),
                image_id: None,
                manifest,
            }),
        }
    }

    fn inline(value: serde_json::Value) -> InputValue {
        InputValue::Inline {
            value,
            media_type: None,
        }
    }

    fn request(inputs: Vec<(&str, Vec<InputValue>)>) -> ExecuteRequest {
        ExecuteRequest {
            inputs: inputs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            ..Default::default()
        }
    }

    fn kinds(result: Result<(), Vec<RequestProblem>>) -> Vec<(ProblemKind, String)> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.kind, p.location))
            .collect()
    }

    #[test]
    fn a_complete_request_passes() {
        let request = request(vec![
            ("TEXT", vec![inline(json!("hello"))]),
            ("COUNT", vec![inline(json!(3))]),
            (
                "MANY",
                vec![
                    InputValue::Href {
                        href: "https://example.org/a.bin".into(),
                        media_type: None,
                    },
                    InputValue::Base64 {
                        data: "aGk=".into(),
                        media_type: Some("application/octet-stream".into()),
                    },
                ],
            ),
        ]);
        assert_eq!(check_request(&process(), &request), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut request = request(vec![
            ("NOPE", vec![inline(json!(1))]),
            ("COUNT", vec![inline(json!("three"))]),
            ("FLAG", vec![inline(json!(true)), inline(json!(false))]),
        ]);
        request.outputs.insert(
            "MISSING".into(),
            OutputRequest {
                transmission_mode: Default::default(),
                media_type: None,
            },
        );
        request.subscriber = Some(Subscriber {
            success_uri: Some("not a url".into()),
            ..Default::default()
        });
        let found = kinds(check_request(&process(), &request));
        assert!(found.contains(&(ProblemKind::UnknownInput, "/inputs/NOPE".into())));
        assert!(found.contains(&(ProblemKind::WrongValue, "/inputs/COUNT".into())));
        assert!(found.contains(&(ProblemKind::TooManyValues, "/inputs/FLAG".into())));
        assert!(found.contains(&(ProblemKind::MissingInput, "/inputs/TEXT".into())));
        assert!(found.contains(&(ProblemKind::UnknownOutput, "/outputs/MISSING".into())));
        assert!(found.contains(&(ProblemKind::BadReference, "/subscriber/successUri".into())));
        assert_eq!(found.len(), 6, "{found:?}");
    }

    #[test]
    fn file_inputs_take_text_base64_or_links_of_an_accepted_type() {
        let request = request(vec![
            (
                "TEXT",
                vec![InputValue::Inline {
                    value: json!("x"),
                    media_type: Some("image/png".into()),
                }],
            ),
            ("MANY", vec![inline(json!({"bbox": [1, 2, 3, 4]}))]),
            ("COUNT", vec![inline(json!(1))]),
        ]);
        let found = kinds(check_request(&process(), &request));
        assert_eq!(
            found,
            vec![
                (ProblemKind::WrongMediaType, "/inputs/TEXT".into()),
                (ProblemKind::WrongValue, "/inputs/MANY".into()),
            ]
        );
        let with_params = InputValue::Inline {
            value: json!("x"),
            media_type: Some("Text/Plain; charset=utf-8".into()),
        };
        let ok = super::tests::request(vec![
            ("TEXT", vec![with_params]),
            ("COUNT", vec![inline(json!(1))]),
        ]);
        assert_eq!(check_request(&process(), &ok), Ok(()));
    }

    #[test]
    fn json_inputs_are_type_checked_when_inline() {
        let request = request(vec![
            ("TEXT", vec![inline(json!("t"))]),
            (
                "COUNT",
                vec![InputValue::Href {
                    href: "https://example.org/n".into(),
                    media_type: None,
                }],
            ),
            ("FLAG", vec![inline(json!(1.5))]),
        ]);
        let found = check_request(&process(), &request).unwrap_err();
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("expected a JSON boolean"));
    }

    #[test]
    fn references_must_be_absolute_urls() {
        let request = request(vec![
            ("TEXT", vec![inline(json!("t"))]),
            ("COUNT", vec![inline(json!(1))]),
            (
                "MANY",
                vec![
                    InputValue::Href {
                        href: "relative/path".into(),
                        media_type: None,
                    },
                    InputValue::Href {
                        href: "ftp://example.org/x".into(),
                        media_type: None,
                    },
                ],
            ),
        ]);
        let found = kinds(check_request(&process(), &request));
        assert_eq!(
            found,
            vec![
                (ProblemKind::BadReference, "/inputs/MANY/0".into()),
                (ProblemKind::BadReference, "/inputs/MANY/1".into()),
            ]
        );
    }

    #[test]
    fn textual_media_types() {
        assert!(is_textual_media_type("text/plain; charset=utf-8"));
        assert!(is_textual_media_type("application/geo+json"));
        assert!(is_textual_media_type("application/json"));
        assert!(!is_textual_media_type("image/tiff; application=geotiff"));
        assert!(!is_textual_media_type("application/octet-stream"));
    }
}
