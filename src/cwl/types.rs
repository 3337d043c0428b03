//! CWL types as JSON values, normalized: a primitive name (`"File"`, `"int"`, `"Any"`, ...),
//! a list for a union (`["null", "File"]`), or a mapping for `array` (`items`), `enum`
//! (`symbols`, shortened to their last part) and `record` (`fields`, each with `name`,
//! `type` and its own `inputBinding`). `T?` and `T[]` are expanded and
//! `SchemaDefRequirement` names replaced by their definitions.

use super::document::short_id;
use super::CwlError;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const PRIMITIVES: [&str; 11] = [
    "null",
    "boolean",
    "int",
    "long",
    "float",
    "double",
    "string",
    "File",
    "Directory",
    "Any",
    // A tool's `type: stdout` output is expanded by the loader; kept here for completeness.
    "stdin",
];

/// Expands one type as written in a document.
pub fn normalize_type(ty: &Value, defs: &BTreeMap<String, Value>) -> Result<Value, CwlError> {
    normalize_depth(ty, defs, 0)
}

fn normalize_depth(
    ty: &Value,
    defs: &BTreeMap<String, Value>,
    depth: usize,
) -> Result<Value, CwlError> {
    if depth > 32 {
        return Err(CwlError::Invalid(format!(
            "the type {ty} nests too deep (a type that names itself?)"
        )));
    }
    match ty {
        Value::String(name) => {
            if let Some(inner) = name.strip_suffix('?') {
                let inner = normalize_depth(&Value::String(inner.into()), defs, depth + 1)?;
                return Ok(json!(["null", inner]));
            }
            if let Some(inner) = name.strip_suffix("[]") {
                let inner = normalize_depth(&Value::String(inner.into()), defs, depth + 1)?;
                return Ok(json!({"type": "array", "items": inner}));
            }
            let short = short_id(name);
            // `https://w3id.org/cwl/cwl#File` style names and the salad `Any`.
            if PRIMITIVES.contains(&short.as_str()) {
                return Ok(Value::String(short));
            }
            match defs.get(&short) {
                Some(def) => normalize_depth(def, defs, depth + 1),
                None => Err(CwlError::Invalid(format!(
                    "unknown type {name}: use a CWL type (File, Directory, string, int, long, \
                     float, double, boolean, Any, null) or one named in SchemaDefRequirement"
                ))),
            }
        }
        Value::Array(union) => Ok(Value::Array(
            union
                .iter()
                .map(|t| normalize_depth(t, defs, depth + 1))
                .collect::<Result<_, _>>()?,
        )),
        Value::Object(map) => {
            let mut out = map.clone();
            match map.get("type").and_then(Value::as_str) {
                Some("array") => {
                    let items = map.get("items").ok_or_else(|| {
                        CwlError::Invalid(format!("the array type {ty} has no items"))
                    })?;
                    out.insert("items".into(), normalize_depth(items, defs, depth + 1)?);
                }
                Some("enum") => {
                    let symbols: Vec<Value> = map
                        .get("symbols")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(|s| Value::String(short_id(s)))
                        .collect();
                    out.insert("symbols".into(), Value::Array(symbols));
                }
                Some("record") => {
                    let fields = super::document::as_id_list(
                        map.get("fields").cloned(),
                        "record fields",
                        "type",
                    )?;
                    let mut normalized = Vec::new();
                    for mut field in fields {
                        let name = field
                            .get("name")
                            .or_else(|| field.get("id"))
                            .and_then(Value::as_str)
                            .map(short_id)
                            .ok_or_else(|| {
                                CwlError::Invalid(format!("a field of the record {ty} has no name"))
                            })?;
                        let field_type = field.remove("type").unwrap_or(json!("Any"));
                        field.insert("name".into(), Value::String(name));
                        field.remove("id");
                        field.insert(
                            "type".into(),
                            normalize_depth(&field_type, defs, depth + 1)?,
                        );
                        if let Some(sf) = field.remove("secondaryFiles") {
                            field.insert(
                                "secondaryFiles".into(),
                                Value::Array(super::document::secondary_file_patterns(Some(sf))),
                            );
                        }
                        normalized.push(Value::Object(field));
                    }
                    out.insert("fields".into(), Value::Array(normalized));
                }
                Some(_) | None => {
                    // `{type: File}` and the like: the inner type (keeping nothing else).
                    let inner = map.get("type").ok_or_else(|| {
                        CwlError::Invalid(format!("the type {ty} has no type field"))
                    })?;
                    return normalize_depth(inner, defs, depth + 1);
                }
            }
            Ok(Value::Object(out))
        }
        other => Err(CwlError::Invalid(format!("{other} is not a CWL type"))),
    }
}

/// Whether `value` is of type `ty` (normalized).
pub fn matches(ty: &Value, value: &Value) -> bool {
    match ty {
        Value::String(name) => match name.as_str() {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "int" | "long" => value.is_i64() || value.is_u64(),
            "float" | "double" => value.is_number(),
            "string" => value.is_string(),
            "File" => class_of(value) == Some("File"),
            "Directory" => class_of(value) == Some("Directory"),
            "Any" => !value.is_null(),
            _ => false,
        },
        Value::Array(union) => union.iter().any(|t| matches(t, value)),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("array") => match (value, map.get("items")) {
                (Value::Array(items), Some(item_type)) => {
                    items.iter().all(|item| matches(item_type, item))
                }
                _ => false,
            },
            Some("enum") => value.as_str().is_some_and(|s| {
                map.get("symbols")
                    .and_then(Value::as_array)
                    .is_some_and(|symbols| symbols.iter().any(|sym| sym.as_str() == Some(s)))
            }),
            Some("record") => match value {
                Value::Object(fields) if class_of(value).is_none() => {
                    record_fields(ty).iter().all(|field| {
                        let name = field
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        let field_type = field.get("type").unwrap_or(&Value::Null);
                        matches(field_type, fields.get(name).unwrap_or(&Value::Null))
                    })
                }
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

/// Whether `null` is a value of `ty`.
pub fn is_optional(ty: &Value) -> bool {
    matches(ty, &Value::Null)
}

/// The fields of a record type (empty for anything else).
pub fn record_fields(ty: &Value) -> Vec<Map<String, Value>> {
    ty.get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| f.as_object().cloned())
                .collect()
        })
        .unwrap_or_default()
}

/// `File` or `Directory` for such objects.
pub fn class_of(value: &Value) -> Option<&str> {
    value.get("class").and_then(Value::as_str)
}

/// A readable name of a type for messages (`File`, `int[]`, `null | File`).
pub fn describe(ty: &Value) -> String {
    match ty {
        Value::String(s) => s.clone(),
        Value::Array(union) => union.iter().map(describe).collect::<Vec<_>>().join(" | "),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("array") => format!("{}[]", describe(map.get("items").unwrap_or(&Value::Null))),
            Some("enum") => format!(
                "enum of {}",
                map.get("symbols")
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
            Some(other) => other.to_string(),
            None => ty.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_expand_and_values_match() {
        let defs = BTreeMap::new();
        let ty = normalize_type(&json!("string[]?"), &defs).unwrap();
        assert_eq!(ty, json!(["null", {"type": "array", "items": "string"}]));
        assert!(matches(&ty, &json!(["a", "b"])));
        assert!(matches(&ty, &Value::Null));
        assert!(!matches(&ty, &json!([1])));
        let file = normalize_type(&json!({"type": "File"}), &defs).unwrap();
        assert!(matches(&file, &json!({"class": "File", "location": "a"})));
        assert!(!is_optional(&file));
    }

    #[test]
    fn enums_records_and_named_types() {
        let defs = BTreeMap::from([(
            "Pair".to_string(),
            json!({"type": "record", "name": "Pair",
                   "fields": {"a": "int", "b": {"type": {"type": "enum", "symbols": ["#Pair/b/x", "y"]}}}}),
        )]);
        let ty = normalize_type(&json!("#Pair"), &defs).unwrap();
        assert!(matches(&ty, &json!({"a": 1, "b": "x"})));
        assert!(!matches(&ty, &json!({"a": 1, "b": "z"})));
        assert!(!matches(&ty, &json!({"b": "x"})));
        let err = normalize_type(&json!("Nope"), &defs).unwrap_err();
        assert!(err.to_string().contains("unknown type Nope"), "{err}");
    }
}
