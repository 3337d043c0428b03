//! The official OGC API - Processes - Part 1 1.0 schemas (copied unmodified into
//! `schemas/ogcapi-processes-1.0/`, embedded here), turned into JSON Schema and compiled, so
//! responses can be validated offline.
//!
//! The files are OpenAPI 3.0 schema objects with relative `$ref`s between files. They are
//! read as draft-04 JSON Schema (which shares OpenAPI 3.0's boolean `exclusiveMinimum`),
//! formats checked, after three changes: each file gets an absolute id and every `$ref` is
//! made absolute; `nullable: true` becomes a `null` alternative; and the `oneOf`s of
//! `inputValueNoObject.yaml`, `additionalParameter.yaml` and `execute.yaml` are read as
//! `anyOf`, because their branches overlap (a plain string or integer matches two branches;
//! an array of values matches both an array value and a list of values), so a strict
//! `oneOf` rejects ordinary, valid documents (ogc-notes §1.11). Every other `oneOf` stays
//! strict.
//!
//! `schemas/ogcapi-processes-1.0/` holds unmodified copies of `core/openapi/schemas/*.yaml`
//! of github.com/opengeospatial/ogcapi-processes at commit `7a6bad0` (2022-01-07, the state
//! at the approval of OGC 18-062r2), under the OGC licence (`LICENSE` there), and the
//! official example documents of that commit in `examples/`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../schemas/ogcapi-processes-1.0/", $name)))),*]
    };
}

const FILES: &[(&str, &str)] = schema_files!(
    "additionalParameter.yaml",
    "bbox.yaml",
    "binaryInputValue.yaml",
    "confClasses.yaml",
    "descriptionType.yaml",
    "exception.yaml",
    "execute.yaml",
    "format.yaml",
    "inlineOrRefData.yaml",
    "inputDescription.yaml",
    "inputValue.yaml",
    "inputValueNoObject.yaml",
    "jobControlOptions.yaml",
    "jobList.yaml",
    "landingPage.yaml",
    "link.yaml",
    "metadata.yaml",
    "output.yaml",
    "outputDescription.yaml",
    "process.yaml",
    "processList.yaml",
    "processSummary.yaml",
    "qualifiedInputValue.yaml",
    "reference.yaml",
    "results.yaml",
    "schema.yaml",
    "statusCode.yaml",
    "statusInfo.yaml",
    "subscriber.yaml",
    "transmissionMode.yaml",
);

const BASE: &str = "urn:ogc:ogcapi-processes-1.0:schemas:";

/// The official schemas, compiled.
pub struct Schemas {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Schemas {
    /// The compiled set (built once).
    pub fn get() -> &'static Schemas {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| Schemas::build().expect("the embedded official schemas compile"))
    }

    fn build() -> Result<Schemas, String> {
        let mut documents = Vec::new();
        for (name, text) in FILES {
            let yaml: Value =
                serde_yaml::from_str(text).map_err(|e| format!("{name}: not YAML: {e}"))?;
            let ambiguous = matches!(
                *name,
                "inputValueNoObject.yaml" | "additionalParameter.yaml" | "execute.yaml"
            );
            let mut schema = convert(yaml, ambiguous);
            if let Value::Object(map) = &mut schema {
                map.insert("id".into(), Value::String(format!("{BASE}{name}")));
                map.insert(
                    "$schema".into(),
                    Value::String("http://json-schema.org/draft-04/schema#".into()),
                );
            }
            documents.push((name.to_string(), schema));
        }
        let mut validators = BTreeMap::new();
        for (name, schema) in &documents {
            let mut options = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .should_validate_formats(true);
            for (other, document) in &documents {
                let resource = jsonschema::Draft::Draft4.create_resource(document.clone());
                options = options.with_resource(format!("{BASE}{other}"), resource);
            }
            let validator = options
                .build(schema)
                .map_err(|e| format!("{name}: does not compile: {e}"))?;
            validators.insert(name.trim_end_matches(".yaml").to_string(), validator);
        }
        Ok(Schemas { validators })
    }

    /// Validates `document` against the official schema `name` (`statusInfo`,
    /// `processList`, ...): every violation as `"<pointer>: <message>"`, empty when valid.
    pub fn check(&self, name: &str, document: &Value) -> Vec<String> {
        let Some(validator) = self.validators.get(name) else {
            return vec![format!("no official schema named {name}")];
        };
        validator
            .iter_errors(document)
            .map(|e| {
                let at = e.instance_path.to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect()
    }
}

/// OpenAPI 3.0 schema object -> draft-04 JSON Schema (see the module docs); `one_of_as_any_of`
/// for the files whose `oneOf` branches overlap.
fn convert(value: Value, one_of_as_any_of: bool) -> Value {
    let convert = |v| convert(v, one_of_as_any_of);
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            let nullable = map.get("nullable") == Some(&Value::Bool(true));
            for (key, inner) in map {
                match key.as_str() {
                    "$ref" => {
                        let target = inner.as_str().unwrap_or_default();
                        let file = target.rsplit('/').next().unwrap_or(target);
                        out.insert(key, Value::String(format!("{BASE}{file}")));
                    }
                    "oneOf" if one_of_as_any_of => {
                        out.insert("anyOf".into(), convert(inner));
                    }
                    "nullable" => {}
                    // Member names here are property names, not keywords (reference.yaml
                    // has a property called `$ref`).
                    "properties" | "patternProperties" | "definitions" => {
                        let named = match inner {
                            Value::Object(members) => Value::Object(
                                members.into_iter().map(|(k, v)| (k, convert(v))).collect(),
                            ),
                            other => other,
                        };
                        out.insert(key, named);
                    }
                    _ => {
                        out.insert(key, convert(inner));
                    }
                }
            }
            if nullable {
                Value::Object(Map::from_iter([(
                    "anyOf".to_string(),
                    Value::Array(vec![
                        Value::Object(out),
                        serde_json::json!({"type": "null"}),
                    ]),
                )]))
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_official_schema_compiles() {
        let schemas = Schemas::get();
        assert_eq!(schemas.validators.len(), FILES.len());
    }

    #[test]
    fn status_info_needs_its_required_members() {
        let schemas = Schemas::get();
        let good = json!({"jobID": "1", "status": "running", "type": "process"});
        assert!(schemas.check("statusInfo", &good).is_empty());
        let bad = json!({"jobID": "1", "status": "sleeping"});
        let problems = schemas.check("statusInfo", &bad);
        assert!(problems.len() >= 2, "{problems:?}");
    }

    #[test]
    fn references_across_files_resolve() {
        let schemas = Schemas::get();
        let list = json!({"processes": [{"id": "echo", "version": "1.0.0",
            "jobControlOptions": ["sync-execute"], "links": [{"href": "http://x/processes/echo"}]}],
            "links": [{"href": "http://x/processes", "rel": "self"}]});
        assert!(schemas.check("processList", &list).is_empty());
        let bad = json!({"processes": [{"id": "echo", "version": "1.0.0", "jobControlOptions": ["run-now"]}], "links": []});
        assert!(!schemas.check("processList", &bad).is_empty());
    }

    #[test]
    fn plain_values_are_valid_execute_inputs() {
        // A strict oneOf would reject this official-style request (ogc-notes §1.11).
        let schemas = Schemas::get();
        let request = json!({"inputs": {"a": "text", "b": 3, "c": {"value": {"x": 1}}, "d": {"href": "http://x/y"}}});
        assert!(
            schemas.check("execute", &request).is_empty(),
            "{:?}",
            schemas.check("execute", &request)
        );
    }
}
