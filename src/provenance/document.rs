//! A [`ProvRecord`] as a W3C PROV document: one model ([`ProvDocument`]: elements and
//! relations in a fixed order), two writers over it, PROV-JSON (the W3C member
//! submission's shape) and PROV-N.
//!
//! Choices:
//! - Identifiers of a job's entities, activity and agents live in a namespace of its own,
//!   the job's provenance URL (`job:`), so two jobs' records merge without clashing; the
//!   terms ades adds (`ades:sha256`, ...) live in one fixed namespace, [`ADES_TERMS`].
//!   Local names are letters, digits, `-` and `_` only, which every PROV-N reader accepts
//!   unescaped; URLs go in `prov:location` attributes.
//! - Relations have no identifiers in PROV-N (PROV-JSON needs keys: `_:u1`, ... blank
//!   nodes).
//! - Both writers put records and attributes in the same order and write literals as the
//!   PROV library of Python writes them (integers up to 2^31-1 bare, larger ones typed
//!   `xsd:long`; times to the microsecond with `+00:00`), so a PROV-JSON record read by a
//!   PROV library and written out as PROV-N gives this PROV-N back.

use super::{OutputFacts, ProvRecord};

/// The media type of PROV-N.
pub const PROVN_MEDIA_TYPE: &str = "text/provenance-notation";

/// The namespace of the terms ades adds to PROV (attribute names and types).
pub const ADES_TERMS: &str = "urn:ades:prov:";

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Text(String),
    /// A qualified name (`prov:SoftwareAgent`).
    Name(String),
    Int(u64),
    Uri(String),
}

/// An entity, activity or agent.
#[derive(Debug, Clone, PartialEq)]
struct Element {
    id: String,
    /// Activities only.
    start: Option<String>,
    end: Option<String>,
    attributes: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelationKind {
    Used,
    WasGeneratedBy,
    WasAssociatedWith,
    WasAttributedTo,
    WasDerivedFrom,
    ActedOnBehalfOf,
}

impl RelationKind {
    const ALL: [RelationKind; 6] = [
        RelationKind::Used,
        RelationKind::WasGeneratedBy,
        RelationKind::WasAssociatedWith,
        RelationKind::WasAttributedTo,
        RelationKind::WasDerivedFrom,
        RelationKind::ActedOnBehalfOf,
    ];

    fn name(self) -> &'static str {
        match self {
            RelationKind::Used => "used",
            RelationKind::WasGeneratedBy => "wasGeneratedBy",
            RelationKind::WasAssociatedWith => "wasAssociatedWith",
            RelationKind::WasAttributedTo => "wasAttributedTo",
            RelationKind::WasDerivedFrom => "wasDerivedFrom",
            RelationKind::ActedOnBehalfOf => "actedOnBehalfOf",
        }
    }

    /// Its formal attributes in PROV-N's order, as PROV-JSON names them.
    fn formal(self) -> &'static [&'static str] {
        match self {
            RelationKind::Used => &["prov:activity", "prov:entity", "prov:time"],
            RelationKind::WasGeneratedBy => &["prov:entity", "prov:activity", "prov:time"],
            RelationKind::WasAssociatedWith => &["prov:activity", "prov:agent", "prov:plan"],
            RelationKind::WasAttributedTo => &["prov:entity", "prov:agent"],
            RelationKind::WasDerivedFrom => &[
                "prov:generatedEntity",
                "prov:usedEntity",
                "prov:activity",
                "prov:generation",
                "prov:usage",
            ],
            RelationKind::ActedOnBehalfOf => {
                &["prov:delegate", "prov:responsible", "prov:activity"]
            }
        }
    }
}

/// A relation: its formal attributes in order (`None` = not given, `-` in PROV-N).
#[derive(Debug, Clone, PartialEq)]
struct Relation {
    kind: RelationKind,
    args: Vec<Option<String>>,
}

/// One job's record as a PROV document.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvDocument {
    /// `job` -> the job's namespace, `ades` -> [`ADES_TERMS`].
    prefixes: Vec<(&'static str, String)>,
    entities: Vec<Element>,
    activities: Vec<Element>,
    agents: Vec<Element>,
    relations: Vec<Relation>,
}

impl ProvDocument {
    /// The document of `record`. `prov_url` is the record's own URL (the job's namespace
    /// is it followed by `#`); `output_url` gives the URL of an output file from its path
    /// relative to the job's outputs.
    pub fn of(record: &ProvRecord, prov_url: &str, output_url: &dyn Fn(&str) -> String) -> Self {
        let mut doc = ProvDocument {
            prefixes: vec![
                ("job", format!("{prov_url}#")),
                ("ades", ADES_TERMS.to_string()),
            ],
            entities: Vec::new(),
            activities: Vec::new(),
            agents: Vec::new(),
            relations: Vec::new(),
        };
        let run = "job:run".to_string();
        let plan = "job:process".to_string();
        let ades = "job:ades".to_string();
        let user = record.owner.as_ref().map(|_| "job:user".to_string());

        // The activity: the job's run.
        let mut activity = vec![
            ("prov:type", Value::Name("ades:Job".into())),
            ("ades:jobId", Value::Text(record.job.id.clone())),
            ("ades:processId", Value::Text(record.process.id.clone())),
            (
                "ades:processVersion",
                Value::Text(record.process.version.clone()),
            ),
            ("ades:status", Value::Text(record.job.status.clone())),
            ("ades:attempt", Value::Int(u64::from(record.job.attempt))),
        ];
        if let Some(peak) = record.usage.peak_memory_bytes {
            activity.push(("ades:peakMemoryBytes", Value::Int(peak)));
        }
        if let Some(cpu) = record.usage.cpu_time_ns {
            activity.push(("ades:cpuTimeNanoseconds", Value::Int(cpu)));
        }
        activity.push((
            "ades:usageSamples",
            Value::Int(u64::from(record.usage.samples)),
        ));
        doc.activities.push(Element {
            id: run.clone(),
            start: record.job.started.clone(),
            end: Some(record.job.ended.clone()),
            attributes: activity,
        });

        // The plan: the process as its image and manifest.
        let process = &record.process;
        let mut attributes = vec![
            ("prov:type", Value::Name("prov:Plan".into())),
            ("ades:processId", Value::Text(process.id.clone())),
            ("ades:processVersion", Value::Text(process.version.clone())),
        ];
        if let Some(image) = &process.image {
            attributes.push(("ades:image", Value::Text(image.clone())));
        }
        if let Some(id) = &process.image_id {
            attributes.push(("ades:imageId", Value::Text(id.clone())));
        }
        if !process.repo_digests.is_empty() {
            attributes.push((
                "ades:repoDigests",
                Value::Text(process.repo_digests.join(" ")),
            ));
        }
        if let Some(sha) = &process.manifest_sha256 {
            attributes.push(("ades:manifestSha256", Value::Text(sha.clone())));
        }
        doc.entity(&plan, attributes);

        // The inputs: each value as the request gave it and the file the container saw.
        for input in &record.inputs {
            let value_id = format!("job:input-{}-{}", local_name(&input.input), input.index);
            let mut attributes = vec![
                ("prov:type", Value::Name("ades:InputValue".into())),
                ("ades:input", Value::Text(input.input.clone())),
            ];
            if let Some(href) = &input.href {
                attributes.push(("prov:location", Value::Uri(href.clone())));
            }
            if let Some(sha) = &input.value_sha256 {
                attributes.push(("ades:valueSha256", Value::Text(sha.clone())));
            }
            if let Some(media_type) = &input.media_type {
                attributes.push(("ades:mediaType", Value::Text(media_type.clone())));
            }
            doc.entity(&value_id, attributes);
            match &input.staged {
                Some(file) => {
                    let staged_id =
                        format!("job:staged-{}-{}", local_name(&input.input), input.index);
                    doc.entity(
                        &staged_id,
                        vec![
                            ("prov:type", Value::Name("ades:StagedFile".into())),
                            ("ades:input", Value::Text(input.input.clone())),
                            ("ades:path", Value::Text(file.path.clone())),
                            ("ades:sha256", Value::Text(file.sha256.clone())),
                            ("ades:sizeBytes", Value::Int(file.size_bytes)),
                        ],
                    );
                    doc.relate(RelationKind::Used, [Some(&run), Some(&staged_id), None]);
                    doc.relate(
                        RelationKind::WasDerivedFrom,
                        [Some(&staged_id), Some(&value_id), None, None, None],
                    );
                }
                None => doc.relate(RelationKind::Used, [Some(&run), Some(&value_id), None]),
            }
        }

        // The outputs.
        for output in &record.outputs {
            let id = format!("job:output-{}-{}", local_name(&output.output), output.index);
            doc.entity(&id, output_attributes(output, output_url));
            doc.relate(RelationKind::WasGeneratedBy, [Some(&id), Some(&run), None]);
            let attributed = user.as_ref().unwrap_or(&ades);
            doc.relate(RelationKind::WasAttributedTo, [Some(&id), Some(attributed)]);
        }

        // The agents: ades ran the plan, on behalf of the user when there is one.
        doc.agents.push(Element {
            id: ades.clone(),
            start: None,
            end: None,
            attributes: vec![
                ("prov:type", Value::Name("prov:SoftwareAgent".into())),
                ("prov:label", Value::Text("ades".into())),
                ("ades:version", Value::Text(record.agent.version.clone())),
                ("ades:host", Value::Text(record.agent.host.clone())),
            ],
        });
        doc.relate(
            RelationKind::WasAssociatedWith,
            [Some(&run), Some(&ades), Some(&plan)],
        );
        if let (Some(user), Some(name)) = (&user, &record.owner) {
            doc.agents.push(Element {
                id: user.clone(),
                start: None,
                end: None,
                attributes: vec![
                    ("prov:type", Value::Name("prov:Person".into())),
                    ("ades:user", Value::Text(name.clone())),
                ],
            });
            doc.relate(
                RelationKind::WasAssociatedWith,
                [Some(&run), Some(user), None],
            );
            doc.relate(
                RelationKind::ActedOnBehalfOf,
                [Some(&ades), Some(user), Some(&run)],
            );
        }
        doc
    }

    fn entity(&mut self, id: &str, attributes: Vec<(&'static str, Value)>) {
        self.entities.push(Element {
            id: id.to_string(),
            start: None,
            end: None,
            attributes,
        });
    }

    fn relate<const N: usize>(&mut self, kind: RelationKind, args: [Option<&String>; N]) {
        self.relations.push(Relation {
            kind,
            args: args.into_iter().map(|a| a.cloned()).collect(),
        });
    }

    /// The relations of one kind, in the order they were made.
    fn relations_of(&self, kind: RelationKind) -> impl Iterator<Item = &Relation> {
        self.relations.iter().filter(move |r| r.kind == kind)
    }

    /// The document as PROV-JSON.
    pub fn to_json(&self) -> String {
        let mut out = JsonWriter::default();
        out.open();
        out.key("prefix");
        out.open();
        for (prefix, uri) in &self.prefixes {
            out.key(prefix);
            out.string(uri);
        }
        out.close();
        for (section, elements) in [
            ("entity", &self.entities),
            ("activity", &self.activities),
            ("agent", &self.agents),
        ] {
            if elements.is_empty() {
                continue;
            }
            out.key(section);
            out.open();
            for element in elements {
                out.key(&element.id);
                out.open();
                if let Some(start) = &element.start {
                    out.key("prov:startTime");
                    out.string(start);
                }
                if let Some(end) = &element.end {
                    out.key("prov:endTime");
                    out.string(end);
                }
                for (name, value) in &element.attributes {
                    out.key(name);
                    json_value(&mut out, value);
                }
                out.close();
            }
            out.close();
        }
        // Blank-node keys, numbered across the document.
        let mut number = 0;
        for kind in RelationKind::ALL {
            let mut relations = self.relations_of(kind).peekable();
            if relations.peek().is_none() {
                continue;
            }
            out.key(kind.name());
            out.open();
            for relation in relations {
                number += 1;
                out.key(&format!("_:r{number}"));
                out.open();
                for (name, arg) in kind.formal().iter().zip(&relation.args) {
                    if let Some(arg) = arg {
                        out.key(name);
                        out.string(arg);
                    }
                }
                out.close();
            }
            out.close();
        }
        out.close();
        out.text.push('\n');
        out.text
    }

    /// The document as PROV-N.
    pub fn to_provn(&self) -> String {
        let mut lines = vec!["document".to_string()];
        for (prefix, uri) in &self.prefixes {
            lines.push(format!("  prefix {prefix} <{uri}>"));
        }
        lines.push("  ".to_string());
        for (keyword, elements) in [
            ("entity", &self.entities),
            ("activity", &self.activities),
            ("agent", &self.agents),
        ] {
            for element in elements {
                let mut items = vec![element.id.clone()];
                if keyword == "activity" {
                    items.push(element.start.clone().unwrap_or_else(|| "-".into()));
                    items.push(element.end.clone().unwrap_or_else(|| "-".into()));
                }
                if !element.attributes.is_empty() {
                    let attributes: Vec<String> = element
                        .attributes
                        .iter()
                        .map(|(name, value)| format!("{name}={}", provn_value(value)))
                        .collect();
                    items.push(format!("[{}]", attributes.join(", ")));
                }
                lines.push(format!("  {keyword}({})", items.join(", ")));
            }
        }
        for kind in RelationKind::ALL {
            for relation in self.relations_of(kind) {
                let items: Vec<&str> = relation
                    .args
                    .iter()
                    .map(|a| a.as_deref().unwrap_or("-"))
                    .collect();
                lines.push(format!("  {}({})", kind.name(), items.join(", ")));
            }
        }
        lines.push("endDocument".to_string());
        lines.join("\n") + "\n"
    }
}

fn output_attributes(
    output: &OutputFacts,
    output_url: &dyn Fn(&str) -> String,
) -> Vec<(&'static str, Value)> {
    let mut attributes = vec![
        ("prov:type", Value::Name("ades:Output".into())),
        ("ades:output", Value::Text(output.output.clone())),
    ];
    if let Some(file) = &output.file {
        attributes.push(("prov:location", Value::Uri(output_url(&file.path))));
        attributes.push(("ades:path", Value::Text(file.path.clone())));
        attributes.push(("ades:sha256", Value::Text(file.sha256.clone())));
        attributes.push(("ades:sizeBytes", Value::Int(file.size_bytes)));
    }
    if let Some(sha) = &output.value_sha256 {
        attributes.push(("ades:valueSha256", Value::Text(sha.clone())));
    }
    if let Some(media_type) = &output.media_type {
        attributes.push(("ades:mediaType", Value::Text(media_type.clone())));
    }
    attributes
}

/// An input or output id as a local name: letters, digits, `-` and `_` kept, anything
/// else `_` (the index after it keeps two values apart; two ids differing only there are
/// told apart by their `ades:input` / `ades:output` attribute).
fn local_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The largest integer PROV-N writes bare (`xsd:int`); larger ones are typed `xsd:long`.
const XSD_INT_MAX: u64 = i32::MAX as u64;

fn json_value(out: &mut JsonWriter, value: &Value) {
    let typed = |out: &mut JsonWriter, text: &str, datatype: &str| {
        out.open();
        out.key("$");
        out.string(text);
        out.key("type");
        out.string(datatype);
        out.close();
    };
    match value {
        Value::Text(text) => out.string(text),
        Value::Name(name) => typed(out, name, "prov:QUALIFIED_NAME"),
        Value::Int(n) if *n <= XSD_INT_MAX => typed(out, &n.to_string(), "xsd:int"),
        Value::Int(n) => typed(out, &n.to_string(), "xsd:long"),
        Value::Uri(uri) => typed(out, uri, "xsd:anyURI"),
    }
}

fn provn_value(value: &Value) -> String {
    match value {
        Value::Text(text) => provn_string(text),
        Value::Name(name) => format!("'{name}'"),
        Value::Int(n) if *n <= XSD_INT_MAX => n.to_string(),
        Value::Int(n) => format!("\"{n}\" %% xsd:long"),
        Value::Uri(uri) => format!("{} %% xsd:anyURI", provn_string(uri)),
    }
}

/// A PROV-N string literal: `\` and `"` escaped; long-quoted (`"""`) when it spans lines,
/// else a carriage return escaped.
fn provn_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    if escaped.contains('\n') {
        format!("\"\"\"{escaped}\"\"\"")
    } else {
        format!("\"{}\"", escaped.replace('\r', "\\r"))
    }
}

/// A small writer of indented JSON that keeps keys in the order they are written (the
/// order is part of the document: see the module's choices).
#[derive(Default)]
struct JsonWriter {
    text: String,
    /// Per open object: whether it has a member yet.
    open: Vec<bool>,
}

impl JsonWriter {
    fn indent(&mut self) {
        self.text.push('\n');
        for _ in 0..self.open.len() {
            self.text.push_str("  ");
        }
    }

    fn open(&mut self) {
        self.text.push('{');
        self.open.push(false);
    }

    fn close(&mut self) {
        let had_members = self.open.pop().unwrap_or(false);
        if had_members {
            self.indent();
        }
        self.text.push('}');
    }

    fn key(&mut self, key: &str) {
        if let Some(has_member) = self.open.last_mut() {
            if *has_member {
                self.text.push(',');
            }
            *has_member = true;
        }
        self.indent();
        self.text
            .push_str(&serde_json::to_string(key).expect("a string serialises"));
        self.text.push_str(": ");
    }

    fn string(&mut self, value: &str) {
        self.text
            .push_str(&serde_json::to_string(value).expect("a string serialises"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn record() -> ProvRecord {
        ProvRecord {
            version: RECORD_VERSION,
            job: JobFacts {
                id: "j".into(),
                status: "successful".into(),
                attempt: 1,
                started: Some("2026-01-02T03:04:05.5+00:00".into()),
                ended: "2026-01-02T03:04:09+00:00".into(),
            },
            process: ProcessFacts {
                id: "p".into(),
                version: "1.0.0".into(),
                image: Some("p-1.0.0-seed:1.0.0".into()),
                image_id: Some("sha256:ab".into()),
                repo_digests: vec![],
                manifest_sha256: Some("cd".into()),
            },
            inputs: vec![InputFacts {
                input: "IN FILE".into(),
                index: 0,
                href: None,
                value_sha256: Some("ef".into()),
                media_type: Some("text/plain".into()),
                staged: Some(FileFacts {
                    path: "IN/a \"b\".txt".into(),
                    sha256: "ef".into(),
                    size_bytes: 3,
                }),
            }],
            outputs: vec![OutputFacts {
                output: "OUT".into(),
                index: 0,
                file: Some(FileFacts {
                    path: "out.txt".into(),
                    sha256: "01".into(),
                    size_bytes: 5_000_000_000,
                }),
                value_sha256: None,
                media_type: Some("text/plain".into()),
            }],
            usage: UsageFacts {
                peak_memory_bytes: Some(1024),
                cpu_time_ns: None,
                samples: 1,
            },
            agent: AgentFacts {
                version: "0.1.0".into(),
                host: "h".into(),
            },
            owner: Some("alice".into()),
        }
    }

    fn document() -> ProvDocument {
        ProvDocument::of(&record(), "http://x/jobs/j/prov", &|path| {
            format!("http://x/jobs/j/outputs/{path}")
        })
    }

    #[test]
    fn json_is_the_member_submission_shape_in_order() {
        let text = document().to_json();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["prefix"]["job"], "http://x/jobs/j/prov#");
        let run = &json["activity"]["job:run"];
        assert_eq!(run["prov:startTime"], "2026-01-02T03:04:05.5+00:00");
        assert_eq!(run["ades:peakMemoryBytes"]["type"], "xsd:int");
        assert!(
            run.get("ades:cpuTimeNanoseconds").is_none(),
            "unreported: absent"
        );
        let output = &json["entity"]["job:output-OUT-0"];
        assert_eq!(output["ades:sizeBytes"]["$"], "5000000000");
        assert_eq!(output["ades:sizeBytes"]["type"], "xsd:long");
        assert_eq!(output["prov:location"]["type"], "xsd:anyURI");
        assert!(json["entity"].get("job:staged-IN_FILE-0").is_some());
        let attributed = json["wasAttributedTo"].as_object().unwrap();
        assert_eq!(attributed.len(), 1);
        assert_eq!(
            attributed.values().next().unwrap()["prov:agent"],
            "job:user"
        );
        // Sections in the order written: elements, then relations.
        let sections: Vec<&str> = [
            "\"prefix\"",
            "\"entity\"",
            "\"activity\"",
            "\"agent\"",
            "\"used\"",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = sections.iter().map(|s| text.find(s).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn provn_writes_the_same_records_with_escaped_literals() {
        let text = document().to_provn();
        assert!(text.starts_with("document\n  prefix job <http://x/jobs/j/prov#>\n"));
        assert!(text.ends_with("endDocument\n"));
        assert!(text.contains(r#"ades:path="IN/a \"b\".txt""#), "{text}");
        assert!(
            text.contains(r#"ades:sizeBytes="5000000000" %% xsd:long"#),
            "{text}"
        );
        assert!(text.contains("  activity(job:run, 2026-01-02T03:04:05.5+00:00, 2026-01-02T03:04:09+00:00, [prov:type='ades:Job'"), "{text}");
        assert!(
            text.contains("  wasDerivedFrom(job:staged-IN_FILE-0, job:input-IN_FILE-0, -, -, -)")
        );
        assert!(text.contains("  actedOnBehalfOf(job:ades, job:user, job:run)"));
        assert_eq!(provn_string("a\nb"), "\"\"\"a\nb\"\"\"");
        assert_eq!(provn_string("a\rb\\"), "\"a\\rb\\\\\"");
    }

    #[test]
    fn without_an_owner_ades_is_the_only_agent() {
        let mut record = record();
        record.owner = None;
        let doc = ProvDocument::of(&record, "http://x/p", &|p| p.to_string());
        let text = doc.to_provn();
        assert!(!text.contains("job:user"), "{text}");
        assert!(text.contains("  wasAttributedTo(job:output-OUT-0, job:ades)"));
    }
}
