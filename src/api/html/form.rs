//! Execute from a browser: the process page's form (`multipart/form-data`, posted to
//! `/processes/{id}/execution?f=html`) turned into the JSON execute request the handler
//! reads.
//!
//! Each field's name carries the JSON type the page gave it from the process description,
//! `<kind>:<input id>`, so the conversion needs no second look at the process:
//!
//! | kind | field | becomes |
//! | --- | --- | --- |
//! | `string` | text | the string |
//! | `integer`, `number` | number | the number (a 400 when it is not one) |
//! | `boolean` | select | `true` / `false` |
//! | `json` | textarea | the JSON value written (arrays, objects) |
//! | `file` | upload | `{"value": <base64>, "encoding": "base64", "mediaType": ...}` |
//! | `href` | URL | `{"href": ...}` (fetched by the server through its address guard) |
//!
//! `output:<id>` = `reference` or `value` asks for that output and how (the page asks for
//! files by reference, so the results page links them).
//!
//! A field left empty leaves its input out (the process's default or a missing-input 400);
//! the same name given twice (several files) makes a list. `mode` picks `async` (the
//! default: the browser lands on the job page) or `sync` (the results page, when the job
//! ends within the server's synchronous wait).

use crate::error::{ApiError, ErrorCode};
use axum::extract::{FromRequest, Multipart, Request};
use base64::Engine;
use serde_json::{Map, Value};

/// The execute request a form makes, and whether it asked for a synchronous run.
#[derive(Debug)]
pub struct FormRequest {
    pub body: Value,
    pub sync: bool,
}

/// Reads the multipart form of `request` into an execute request.
pub async fn read_form(request: Request) -> Result<FormRequest, ApiError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| form_error(format!("the form cannot be read: {}", e.body_text())))?;
    let mut inputs: Map<String, Value> = Map::new();
    let mut outputs: Map<String, Value> = Map::new();
    let mut sync = false;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| form_error(format!("the form cannot be read: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "mode" {
            let text = field.text().await.map_err(|e| form_error(e.body_text()))?;
            sync = text.trim() == "sync";
            continue;
        }
        let Some((kind, id)) = name.split_once(':') else {
            return Err(form_error(format!(
                "the form field {name:?} is not one of this server's forms (kind:input)"
            )));
        };
        if kind == "output" {
            let mode = field.text().await.map_err(|e| form_error(e.body_text()))?;
            outputs.insert(
                id.to_string(),
                serde_json::json!({ "transmissionMode": mode.trim() }),
            );
            continue;
        }
        let value = if kind == "file" {
            let media_type = field
                .content_type()
                .map(str::to_string)
                .filter(|m| m != "application/octet-stream");
            let uploaded = field.file_name().is_some_and(|f| !f.is_empty());
            let bytes = field.bytes().await.map_err(|e| form_error(e.body_text()))?;
            if !uploaded && bytes.is_empty() {
                continue;
            }
            file_value(&bytes, media_type)
        } else {
            let text = field.text().await.map_err(|e| form_error(e.body_text()))?;
            match typed(kind, id, &text)? {
                Some(value) => value,
                None => continue,
            }
        };
        match inputs.remove(id) {
            None => {
                inputs.insert(id.to_string(), value);
            }
            Some(Value::Array(mut values)) if kind == "file" => {
                values.push(value);
                inputs.insert(id.to_string(), Value::Array(values));
            }
            Some(first) => {
                inputs.insert(id.to_string(), Value::Array(vec![first, value]));
            }
        }
    }
    let mut body = serde_json::json!({ "inputs": inputs, "response": "document" });
    if !outputs.is_empty() {
        body["outputs"] = Value::Object(outputs);
    }
    Ok(FormRequest { body, sync })
}

/// The JSON value of a text field of `kind` (`None`: left empty).
fn typed(kind: &str, id: &str, text: &str) -> Result<Option<Value>, ApiError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let invalid = |what: &str| {
        ApiError::new(
            ErrorCode::InvalidParameterValue,
            format!("input {id}: {trimmed:?} is not {what}"),
        )
    };
    Ok(Some(match kind {
        "string" => Value::String(text.to_string()),
        "integer" => Value::from(trimmed.parse::<i64>().map_err(|_| invalid("an integer"))?),
        "number" => {
            let number: f64 = trimmed.parse().map_err(|_| invalid("a number"))?;
            serde_json::Number::from_f64(number)
                .map(Value::Number)
                .ok_or_else(|| invalid("a finite number"))?
        }
        "boolean" => match trimmed {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid("true or false")),
        },
        "json" => serde_json::from_str(trimmed).map_err(|_| invalid("JSON"))?,
        "href" => serde_json::json!({ "href": trimmed }),
        other => {
            return Err(form_error(format!(
                "the form field kind {other:?} of input {id} is unknown"
            )))
        }
    }))
}

fn file_value(bytes: &[u8], media_type: Option<String>) -> Value {
    let mut value = serde_json::json!({
        "value": base64::engine::general_purpose::STANDARD.encode(bytes),
        "encoding": "base64",
    });
    if let Some(media_type) = media_type {
        value["mediaType"] = Value::String(media_type);
    }
    value
}

fn form_error(detail: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequestBody, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_typed_by_their_kind() {
        assert_eq!(typed("integer", "n", " 7 ").unwrap(), Some(Value::from(7)));
        assert_eq!(typed("number", "x", "1.5").unwrap(), Some(Value::from(1.5)));
        assert_eq!(
            typed("boolean", "b", "true").unwrap(),
            Some(Value::Bool(true))
        );
        assert_eq!(
            typed("json", "j", "[1, 2]").unwrap(),
            Some(serde_json::json!([1, 2]))
        );
        assert_eq!(
            typed("string", "s", " keep spaces ").unwrap(),
            Some(Value::from(" keep spaces "))
        );
        assert_eq!(typed("integer", "n", "  ").unwrap(), None);
        for (kind, text) in [
            ("integer", "1.5"),
            ("number", "abc"),
            ("boolean", "yes"),
            ("json", "{"),
        ] {
            let error = typed(kind, "i", text).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        }
        assert!(typed("other", "i", "1").is_err());
    }

    #[test]
    fn uploads_travel_as_base64() {
        let value = file_value(b"hi\n", Some("text/plain".into()));
        assert_eq!(value["value"], "aGkK");
        assert_eq!(value["encoding"], "base64");
        assert_eq!(value["mediaType"], "text/plain");
        assert!(file_value(b"", None).get("mediaType").is_none());
    }
}
