//! The image label `com.ngageoint.seed.manifest` that carries the manifest.
//!
//! Two writers exist in the wild and both must be read:
//!
//! * the Dockerfile route of the specification's examples,
//!   `LABEL com.ngageoint.seed.manifest="{\"seedVersion\":…,\"url\":\"http:\/\/…\"}"`: Docker
//!   removes the backslash before `"`, `$` and `\` inside double quotes, so the stored value is
//!   plain compact JSON that may still contain `\/` (a valid JSON escape);
//! * `seed build`, which JSON-encodes the compact manifest *as a string* and then escapes `$`
//!   as `\$` and `/` as `\/`, so the stored value starts with `"` and contains `\"`, `\$`, `\/`.
//!
//! [`decode_label`] accepts both; [`encode_label`] writes a value that both ades and
//! seed-cli/seed-common read back unchanged; [`dockerfile_label_line`] escapes that value for a
//! Dockerfile `LABEL` line.

use serde_json::Value;
use std::borrow::Cow;

/// Docker image label holding the manifest.
pub const LABEL_KEY: &str = "com.ngageoint.seed.manifest";

/// How many times a label value may be wrapped in JSON string quotes before it is refused
/// (`seed build` wraps once; a value that went through one more quoting layer is still read).
const MAX_QUOTING_LAYERS: usize = 3;

#[derive(Debug, thiserror::Error)]
#[error("the {LABEL_KEY} label is not a JSON manifest: {reason}")]
pub struct LabelError {
    pub reason: String,
}

impl LabelError {
    fn new(reason: impl Into<String>) -> Self {
        LabelError {
            reason: reason.into(),
        }
    }
}

/// Encodes a manifest document as a label value that both seed-cli/seed-common and ades read
/// back losslessly (compact JSON, as the Dockerfile `LABEL` route stores it).
///
/// Choice: the value is compact JSON (no whitespace outside strings, members in the order
/// `serde_json` keeps them, non-ASCII characters written as UTF-8), which is what the
/// Dockerfile route stores and what any JSON reader accepts. One refinement: inside strings,
/// `"` is written `\u0022` and `\` is written `\u005c` instead of `\"` and `\\`. seed-common's
/// reader (`UnescapeManifestLabel`) blindly replaces `\"` by `"`, `\$` by `$` and `\/` by `/`
/// before parsing, so plain compact JSON whose strings contain `"` (or a `\` next to `"`, `$`
/// or `/`) is mangled by seed-common. With the two `\u` escapes the value contains none of
/// those sequences, so seed-common's replacements are no-ops and it reads the manifest
/// exactly; the JSON is unchanged for every other reader. Labels written by other tools
/// with plain `\"` are still mangled by seed-common (ades itself reads them correctly).
pub fn encode_label(document: &Value) -> String {
    // `Value`'s Display is compact JSON; outside strings it never contains a backslash, so
    // each backslash met here starts an escape whose second character follows it.
    let compact = document.to_string();
    let mut out = String::with_capacity(compact.len());
    let mut chars = compact.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('"') => out.push_str("\\u0022"),
            Some('\\') => out.push_str("\\u005c"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Decodes a label value written either by a Dockerfile `LABEL` (plain JSON, `\/` escapes)
/// or by `seed build` (a JSON string holding the JSON, with `\$` and `\/` escapes).
///
/// Steps: trim surrounding whitespace; drop a surrounding pair of single quotes (seed-common
/// tolerates a value wrapped as `'"…"'`); while the value starts with `"`, decode it as a JSON
/// string, accepting `\$` as an escape for `$` (it is not a JSON escape); finally parse the
/// result as JSON, again accepting `\$` for `$`. `\/` is a valid JSON escape and needs no
/// special handling. The result must be a JSON object; whether it is a valid manifest is for
/// [`crate::validate`] to say.
pub fn decode_label(value: &str) -> Result<Value, LabelError> {
    let mut text: String = strip_single_quotes(value.trim()).to_owned();
    if text.is_empty() {
        return Err(LabelError::new("the label value is empty"));
    }

    let mut layers = 0;
    while text.starts_with('"') {
        if layers == MAX_QUOTING_LAYERS {
            return Err(LabelError::new(format!(
                "the value is wrapped in JSON string quotes more than {MAX_QUOTING_LAYERS} times"
            )));
        }
        let inner: String = serde_json::from_str(&unescape_dollar(&text)).map_err(|e| {
            LabelError::new(format!(
                "the value starts with `\"` (the quoted `seed build` form) but is not a valid \
                 JSON string{}: {}",
                if layers == 0 { "" } else { " after unquoting" },
                describe_json_error(&e)
            ))
        })?;
        text = inner.trim().to_owned();
        layers += 1;
    }

    let document: Value = serde_json::from_str(&unescape_dollar(&text)).map_err(|e| {
        LabelError::new(format!(
            "invalid JSON{}: {}",
            if layers == 0 {
                ""
            } else {
                " inside the quoted `seed build` form"
            },
            describe_json_error(&e)
        ))
    })?;
    match document {
        Value::Object(_) => Ok(document),
        other => Err(LabelError::new(format!(
            "it holds a JSON {}, not an object",
            json_kind(&other)
        ))),
    }
}

/// Escapes a manifest for a Dockerfile line `LABEL com.ngageoint.seed.manifest="<here>"`.
///
/// The text is [`encode_label`]'s output with a backslash put before every `\`, `"` and `$`:
/// inside double quotes Docker's Dockerfile lexer removes exactly those backslashes (any
/// other backslash is kept) and would otherwise substitute `$…` as a build variable. So the
/// label Docker stores equals [`encode_label`]'s output. `/` is not escaped (the
/// specification's `\/` survives Docker as a JSON escape, but is not needed). This assumes the
/// default escape character: a Dockerfile that changes it with the `escape` parser directive
/// must not use this text.
pub fn dockerfile_label_line(document: &Value) -> String {
    let encoded = encode_label(document);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 8);
    for ch in encoded.chars() {
        if matches!(ch, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Drops one surrounding pair of single quotes (and the whitespace just inside them).
fn strip_single_quotes(text: &str) -> &str {
    if text.len() >= 2 && text.starts_with('\'') && text.ends_with('\'') {
        text[1..text.len() - 1].trim()
    } else {
        text
    }
}

/// Replaces each `\$` escape by `$`, pairing backslashes left to right so that `\\$` (an
/// escaped backslash followed by a plain `$`) is left alone. On valid JSON this is the
/// identity, since JSON has no `\$` escape.
fn unescape_dollar(text: &str) -> Cow<'_, str> {
    if !text.contains("\\$") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('$') => out.push('$'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// "line L, column C: what" for a `serde_json` error.
fn describe_json_error(error: &serde_json::Error) -> String {
    let full = error.to_string();
    // serde_json appends the position to its message; it is reported in front instead.
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let what = full.strip_suffix(&suffix).unwrap_or(&full);
    format!(
        "at line {}, column {}: {what}",
        error.line(),
        error.column()
    )
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
