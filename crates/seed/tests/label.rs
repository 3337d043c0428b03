//! The manifest label codec (seed-notes section 3; checklist 15, 16, 17).

use seed::label::{decode_label, dockerfile_label_line, encode_label, LABEL_KEY};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/official/{name}/seed.manifest.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn official_manifests() -> Vec<Value> {
    ["complete", "random-number", "watermark"]
        .into_iter()
        .map(fixture)
        .collect()
}

/// A manifest whose strings hold every character that needs care in a label.
fn tricky_manifest() -> Value {
    let mut doc = fixture("complete");
    let job = &mut doc["job"];
    job["title"] = json!(r#"He said "hi" \o/ for $5 and ${HOME} or $(ls) `x`"#);
    job["description"] = json!(
        "back\\slash at the end \\, \\\" escaped quote, \\$ dollar, \\/ slash, \
         é ü 日本語 🚀, tab\there, line\nbreak, '\"single\"' and U+2028 \u{2028}"
    );
    job["tags"] = json!(["\\", "\"", "$", "/", "\\\\", "'\"", "\"'", "<&>", ""]);
    job["maintainer"]["url"] = json!("http://www.example.com/a/b?x=1&y=$Z");
    job["interface"]["command"] = json!("${INPUT_FILE/#/-d } $OUTPUT_DIR \\$literal \"q\"");
    doc
}

fn test_documents() -> Vec<Value> {
    let mut docs = official_manifests();
    docs.push(tricky_manifest());
    docs
}

/// What the Dockerfile route of the specification stores: compact JSON with `/` written
/// `\/` (Docker keeps that backslash).
fn dockerfile_form(doc: &Value) -> String {
    serde_json::to_string(doc).unwrap().replace('/', "\\/")
}

/// What `seed build` stores: the compact manifest encoded as a JSON string the way Go's
/// encoder does it (`<`, `>`, `&` as `\u00XX`), then `$` -> `\$` and `/` -> `\/`.
fn seed_cli_form(doc: &Value) -> String {
    let compact = serde_json::to_string(doc).unwrap();
    serde_json::to_string(&compact)
        .unwrap()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('$', "\\$")
        .replace('/', "\\/")
}

/// seed-common's reader as seed-notes section 3 describes it.
fn seed_common_read(label: &str) -> Value {
    let mut text = label
        .replace("\\\"", "\"")
        .replace("\\\"", "\"")
        .replace("\\$", "$")
        .replace("\\/", "/");
    text = text.trim().to_owned();
    if let Some(inner) = text.strip_prefix("'\"").and_then(|t| t.strip_suffix("\"'")) {
        text = inner.to_owned();
    }
    if text.starts_with('"') {
        text = text[1..text.len() - 1].to_owned();
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("seed-common cannot read {text}: {e}"))
}

/// Docker's Dockerfile lexer on `LABEL key="…"` (default escape character), per its
/// documented rules: inside double quotes a backslash is removed before `"`, `$` and `\`
/// and kept before anything else; an unescaped `$` would start a variable substitution.
fn docker_label_value(line: &str) -> String {
    let rest = line
        .strip_prefix(&format!("LABEL {LABEL_KEY}=\""))
        .expect("a LABEL line with a double-quoted value");
    let mut value = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next() {
            None => panic!("unterminated double quote in {line}"),
            Some('"') => break,
            Some('$') => panic!("unescaped `$` would be substituted by Docker: {line}"),
            Some('\n') => panic!("a raw line break inside the value: {line}"),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '$' | '\\')) => value.push(c),
                Some(c) => {
                    value.push('\\');
                    value.push(c);
                }
                None => panic!("backslash at end of line continues the line: {line}"),
            },
            Some(c) => value.push(c),
        }
    }
    assert_eq!(chars.as_str(), "", "text after the closing quote");
    value
}

// Checklist 15.
#[test]
fn dockerfile_form_with_escaped_slashes_is_read() {
    let label = r#"{"seedVersion":"1.0.0","job":{"name":"my-job","maintainer":{"name":"John Doe","email":"jdoe@example.com","url":"http:\/\/www.example.com"}}}"#;
    let doc = decode_label(label).unwrap();
    assert_eq!(doc["seedVersion"], "1.0.0");
    assert_eq!(doc["job"]["maintainer"]["url"], "http://www.example.com");
}

#[test]
fn dockerfile_form_of_official_examples_is_read() {
    for doc in official_manifests() {
        let label = dockerfile_form(&doc);
        assert_eq!(decode_label(&label).unwrap(), doc);
    }
    let label = dockerfile_form(&fixture("complete"));
    assert!(
        label.contains(r#""url":"http:\/\/www.example.com""#),
        "{label}"
    );
    let complete = decode_label(&label).unwrap();
    assert_eq!(
        complete["job"]["maintainer"]["url"],
        "http://www.example.com"
    );
}

// Checklist 16.
#[test]
fn seed_cli_form_is_read() {
    let label = r#""{\"seedVersion\":\"1.0.0\",\"job\":{\"name\":\"my-job\",\"maintainer\":{\"url\":\"http:\/\/www.example.com\"},\"interface\":{\"command\":\"\${INPUT_FILE}\"}}}""#;
    let doc = decode_label(label).unwrap();
    assert_eq!(doc["job"]["interface"]["command"], "${INPUT_FILE}");
    assert_eq!(doc["job"]["maintainer"]["url"], "http://www.example.com");
    assert_eq!(doc["seedVersion"], "1.0.0");
}

#[test]
fn seed_cli_form_of_official_and_tricky_manifests_is_read() {
    for doc in test_documents() {
        let label = seed_cli_form(&doc);
        assert!(label.starts_with('"'));
        assert_eq!(decode_label(&label).unwrap(), doc, "label {label}");
    }
    let complete = decode_label(&seed_cli_form(&fixture("complete"))).unwrap();
    assert_eq!(
        complete["job"]["interface"]["command"],
        "${INPUT_FILE} ${OUTPUT_DIR} ${VERSION}"
    );
}

#[test]
fn seed_cli_form_escaped_before_quoting_is_read() {
    // `$` escaped before the string encoding instead of after: the inner JSON then holds
    // `\$`, which is accepted too.
    let doc = tricky_manifest();
    let compact = serde_json::to_string(&doc).unwrap().replace('$', "\\$");
    let label = serde_json::to_string(&compact).unwrap();
    assert_eq!(decode_label(&label).unwrap(), doc);
}

// Checklist 17.
#[test]
fn encode_then_decode_is_lossless() {
    for doc in test_documents() {
        let label = encode_label(&doc);
        assert_eq!(decode_label(&label).unwrap(), doc, "label {label}");
    }
}

#[test]
fn encoded_label_is_compact_json() {
    let doc = fixture("complete");
    let label = encode_label(&doc);
    assert!(label.starts_with('{') && label.ends_with('}'));
    assert!(!label.contains('\n'));
    let reparsed: Value = serde_json::from_str(&label).unwrap();
    assert_eq!(reparsed, doc);
    // Nothing to escape in the official example: plain compact serialisation.
    assert_eq!(label, serde_json::to_string(&doc).unwrap());
}

#[test]
fn encoded_label_keeps_non_ascii_as_utf8() {
    let doc = json!({"seedVersion": "1.0.0", "job": {"title": "Carte des forêts 🌲"}});
    let label = encode_label(&doc);
    assert!(label.contains("forêts 🌲"), "{label}");
}

#[test]
fn encoded_label_is_read_exactly_by_seed_common() {
    for doc in test_documents() {
        let label = encode_label(&doc);
        for bad in ["\\\"", "\\$", "\\/"] {
            assert!(!label.contains(bad), "{bad} in {label}");
        }
        assert_eq!(seed_common_read(&label), doc);
    }
}

#[test]
fn dockerfile_line_round_trips_through_docker_unescaping() {
    for doc in test_documents() {
        let escaped = dockerfile_label_line(&doc);
        let line = format!("LABEL {LABEL_KEY}=\"{escaped}\"");
        let stored = docker_label_value(&line);
        assert_eq!(stored, encode_label(&doc));
        assert_eq!(decode_label(&stored).unwrap(), doc);
    }
}

#[test]
fn dockerfile_line_escapes_quotes_and_dollars() {
    let escaped = dockerfile_label_line(&fixture("complete"));
    assert!(escaped.starts_with(r#"{\"job\":{\""#), "{escaped}");
    assert!(
        escaped.ends_with(r#"\"seedVersion\":\"1.0.0\"}"#),
        "{escaped}"
    );
    assert!(
        escaped.contains(r#"\"command\":\"\${INPUT_FILE} \${OUTPUT_DIR} \${VERSION}\""#),
        "{escaped}"
    );
}

#[test]
fn surrounding_whitespace_and_single_quotes_are_tolerated() {
    let doc = fixture("watermark");
    let plain = encode_label(&doc);
    let quoted = seed_cli_form(&doc);
    for label in [
        format!("  {plain}\n"),
        format!("\t{quoted} \n"),
        format!("'{quoted}'"),
        format!(" ' {quoted} ' "),
        format!("'{plain}'"),
    ] {
        assert_eq!(decode_label(&label).unwrap(), doc, "label {label}");
    }
}

#[test]
fn a_value_quoted_twice_is_read() {
    let doc = fixture("random-number");
    let once = seed_cli_form(&doc);
    let twice = serde_json::to_string(&once).unwrap();
    assert_eq!(decode_label(&twice).unwrap(), doc);
}

#[test]
fn empty_label_is_refused() {
    for label in ["", "   ", "''"] {
        let err = decode_label(label).unwrap_err();
        assert!(err.reason.contains("empty"), "{err}");
    }
}

#[test]
fn malformed_json_reports_line_and_column() {
    let err = decode_label(r#"{"seedVersion": "1.0.0", "job": }"#).unwrap_err();
    assert!(err.reason.contains("invalid JSON"), "{err}");
    assert!(err.reason.contains("line 1, column 33"), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("the {LABEL_KEY} label")),
        "{message}"
    );

    let err = decode_label("{\n  \"seedVersion\": \"1.0.0\",\n  \"job\": {,}\n}").unwrap_err();
    assert!(err.reason.contains("line 3"), "{err}");
}

#[test]
fn malformed_quoted_form_says_so() {
    let err = decode_label(r#""{\"seedVersion\":\"1.0.0\""#).unwrap_err();
    assert!(err.reason.contains("quoted `seed build` form"), "{err}");
    assert!(err.reason.contains("line 1, column"), "{err}");

    let err = decode_label(r#""{\"seedVersion\":\"1.0.0\",}""#).unwrap_err();
    assert!(
        err.reason.contains("inside the quoted `seed build` form"),
        "{err}"
    );

    let err = decode_label(r#""{\q}""#).unwrap_err();
    assert!(err.reason.contains("not a valid JSON string"), "{err}");
}

#[test]
fn trailing_text_is_refused() {
    let err = decode_label(r#"{"seedVersion":"1.0.0"} extra"#).unwrap_err();
    assert!(err.reason.contains("trailing characters"), "{err}");
}

#[test]
fn non_object_json_is_refused() {
    for (label, kind) in [("[1,2]", "array"), ("42", "number"), ("null", "null")] {
        let err = decode_label(label).unwrap_err();
        assert!(
            err.reason.contains(&format!("JSON {kind}, not an object")),
            "{err}"
        );
    }
    // A quoted value must still hold an object once unquoted.
    let err = decode_label(r#""[\"a\"]""#).unwrap_err();
    assert!(err.reason.contains("JSON array, not an object"), "{err}");
}

#[test]
fn too_many_quoting_layers_are_refused() {
    let mut label = "{}".to_owned();
    for _ in 0..4 {
        label = serde_json::to_string(&label).unwrap();
    }
    let err = decode_label(&label).unwrap_err();
    assert!(err.reason.contains("more than 3 times"), "{err}");
}
