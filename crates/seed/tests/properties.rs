//! Property tests: the manifest validator never panics, whatever it is given, and a valid
//! manifest with generated names and types stays valid.

use proptest::prelude::*;
use serde_json::{json, Value};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        "[a-zA-Z0-9 ${}._-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        let key = prop_oneof![
            Just("seedVersion".to_string()),
            Just("job".to_string()),
            Just("name".to_string()),
            Just("interface".to_string()),
            Just("inputs".to_string()),
            Just("outputs".to_string()),
            Just("files".to_string()),
            Just("json".to_string()),
            Just("command".to_string()),
            Just("resources".to_string()),
            Just("errors".to_string()),
            "[a-zA-Z]{1,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn manifest(name: &str, input: &str, kind: &str) -> Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": "1.0.0", "packageVersion": "1.0.0",
            "title": "T", "description": "D",
            "maintainer": {"name": "m", "email": "m@example.org"},
            "timeout": 10,
            "interface": {
                "command": format!("${{{input}}}"),
                "inputs": {"json": [{"name": input, "type": kind}]}
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_document_is_validated_without_panicking(document in any_json()) {
        let _ = seed::validate::validate_manifest_value(&document);
        let _ = seed::validate::manifest_from_value(document);
    }

    #[test]
    fn any_text_is_parsed_without_panicking(text in "[{}\\[\\]\",:a-zA-Z0-9 .$-]{0,96}") {
        let _ = seed::validate::parse_manifest(&text);
    }

    #[test]
    fn generated_valid_manifests_stay_valid(
        name in "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        input in "[A-Z][A-Z0-9_]{0,10}",
        kind in prop::sample::select(vec!["string", "integer", "number", "boolean", "object", "array"]),
    ) {
        let document = manifest(&name, &input, kind);
        let problems = seed::validate::validate_manifest_value(&document);
        prop_assert!(problems.is_empty(), "{problems:?}");
        let text = document.to_string();
        let parsed = seed::validate::parse_manifest(&text);
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
    }
}
