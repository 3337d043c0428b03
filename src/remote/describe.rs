//! A remote process description (OGC API - Processes Part 1 JSON) read into our
//! [`Process`], so a remote step is checked by the same `workflow::compile` as a local
//! one. Each input and output is a file or a json value of one of the six JSON types: a
//! schema with `contentMediaType`, `contentEncoding` or format `binary`/`byte` (or a
//! `oneOf`/`anyOf` of such, or an array of such) is a file; any other schema is a json
//! value of its `type` (`object` when it names none, which accepts any object).

use crate::domain::{
    Binding, InputDescription, InputKind, JobControlOption, OutputDescription, OutputKind, Process,
    ProcessId, RemoteBinding,
};
use seed::manifest::JsonType;
use serde_json::Value;

/// A process id of ours standing for a remote id (which may hold other characters).
pub fn local_id(remote_id: &str) -> ProcessId {
    let cleaned: String = remote_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(128)
        .collect();
    ProcessId::parse(&cleaned).unwrap_or_else(|_| ProcessId::parse("remote").expect("an id"))
}

/// The media types of a file schema, or `None` when the schema is no file.
fn file_media_types(schema: &Value) -> Option<Vec<String>> {
    let object = schema.as_object()?;
    for key in ["oneOf", "anyOf"] {
        if let Some(choices) = object.get(key).and_then(Value::as_array) {
            let mut types = Vec::new();
            let mut any_file = false;
            for choice in choices {
                if let Some(more) = file_media_types(choice) {
                    any_file = true;
                    types.extend(more);
                }
            }
            return any_file.then_some(types);
        }
    }
    let format = object.get("format").and_then(Value::as_str);
    let file = object.contains_key("contentMediaType")
        || object.contains_key("contentEncoding")
        || matches!(format, Some("binary" | "byte"));
    file.then(|| {
        object
            .get("contentMediaType")
            .and_then(Value::as_str)
            .map(|t| vec![t.to_string()])
            .unwrap_or_default()
    })
}

/// The json type of a schema that is no file.
fn json_type(schema: &Value) -> JsonType {
    let named = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object");
    serde_json::from_value(Value::String(named.to_string())).unwrap_or(JsonType::Object)
}

/// An array schema's item schema.
fn items(schema: &Value) -> Option<&Value> {
    (schema.get("type").and_then(Value::as_str) == Some("array"))
        .then(|| schema.get("items"))
        .flatten()
}

/// Remote process `id` of remote `remote` as its description `document` says.
pub fn process_from_description(
    remote: &str,
    id: &str,
    document: &Value,
) -> Result<Process, String> {
    let text = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let entries = |key: &str| -> Vec<(String, Value)> {
        match document.get(key) {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            // OGC API - Processes 1.0 drafts listed them as arrays with an `id`.
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|v| Some((v.get("id")?.as_str()?.to_string(), v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    };
    if document.get("inputs").is_none() && document.get("outputs").is_none() {
        return Err(format!(
            "the description of {id} on remote {remote} lists neither inputs nor outputs"
        ));
    }
    let mut inputs = Vec::new();
    for (input, description) in entries("inputs") {
        let schema = description.get("schema").cloned().unwrap_or(Value::Null);
        let min_occurs = description
            .get("minOccurs")
            .and_then(Value::as_u64)
            .unwrap_or(1) as u32;
        let max_occurs = match description.get("maxOccurs") {
            Some(Value::Number(n)) => n.as_u64().map(|n| n as u32),
            Some(Value::String(s)) if s == "unbounded" => None,
            _ => Some(1),
        };
        let kind =
            match file_media_types(&schema).or_else(|| items(&schema).and_then(file_media_types)) {
                Some(media_types) => InputKind::File { media_types },
                None => InputKind::Json {
                    kind: json_type(&schema),
                },
            };
        inputs.push(InputDescription {
            title: description
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(&input)
                .to_string(),
            id: input,
            description: None,
            min_occurs,
            max_occurs,
            schema,
            kind,
        });
    }
    let mut outputs = Vec::new();
    for (output, description) in entries("outputs") {
        let schema = description.get("schema").cloned().unwrap_or(Value::Null);
        let (single, multiple) = match items(&schema) {
            Some(item) if file_media_types(item).is_some() => (item.clone(), true),
            _ => (schema.clone(), false),
        };
        let kind = match file_media_types(&single) {
            Some(media_types) => OutputKind::File {
                media_type: media_types.into_iter().next(),
                multiple,
                required: false,
            },
            None => OutputKind::Json {
                kind: json_type(&schema),
                required: false,
            },
        };
        outputs.push(OutputDescription {
            title: description
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(&output)
                .to_string(),
            id: output,
            description: None,
            schema,
            kind,
        });
    }
    Ok(Process {
        id: local_id(id),
        version: text("version"),
        title: text("title"),
        description: text("description"),
        keywords: Vec::new(),
        metadata: Vec::new(),
        job_control_options: vec![JobControlOption::AsyncExecute],
        inputs,
        outputs,
        binding: Binding::Remote(RemoteBinding {
            remote: remote.to_string(),
            process: id.to_string(),
        }),
        mutable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_and_json_values_are_told_apart() {
        let document = json!({
            "id": "ndvi", "version": "1.0.0", "title": "NDVI",
            "inputs": {
                "red": {"schema": {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"}},
                "bands": {"schema": {"oneOf": [
                    {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"},
                    {"type": "string", "contentEncoding": "binary", "contentMediaType": "image/png"}]},
                    "minOccurs": 0, "maxOccurs": "unbounded"},
                "level": {"schema": {"type": "integer"}},
                "any": {"schema": {}}
            },
            "outputs": {
                "index": {"schema": {"type": "string", "contentEncoding": "binary"}},
                "tiles": {"schema": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                "mean": {"schema": {"type": "number"}}
            }
        });
        let process = process_from_description("eo", "ndvi", &document).unwrap();
        assert_eq!(
            process.input("red").unwrap().kind,
            InputKind::File {
                media_types: vec!["image/tiff".into()]
            }
        );
        let bands = process.input("bands").unwrap();
        assert_eq!(bands.min_occurs, 0);
        assert_eq!(bands.max_occurs, None);
        assert!(matches!(&bands.kind, InputKind::File { media_types } if media_types.len() == 2));
        assert_eq!(
            process.input("level").unwrap().kind,
            InputKind::Json {
                kind: JsonType::Integer
            }
        );
        assert!(matches!(
            process.output("tiles").unwrap().kind,
            OutputKind::File { multiple: true, .. }
        ));
        assert!(matches!(
            process.output("mean").unwrap().kind,
            OutputKind::Json {
                kind: JsonType::Number,
                ..
            }
        ));
        assert!(process_from_description("eo", "x", &json!({"id": "x"})).is_err());
        assert_eq!(local_id("a_b.c").as_str(), "a-b-c");
    }
}
