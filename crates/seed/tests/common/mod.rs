//! Helpers shared by the crate's test files.

use seed::Manifest;
use serde_json::{json, Value};

/// The model of a minimal manifest with the given `job.interface` and `job.resources.scalar`
/// (either may be `Value::Null` to leave it out). Built without validation, so a test can
/// give the contract or capture code exactly the model it wants.
pub fn test_manifest(interface: Value, resources: Value) -> Manifest {
    let mut job = json!({
        "name": "test-job",
        "jobVersion": "1.0.0",
        "packageVersion": "1.0.0",
        "title": "Test",
        "description": "Test job",
        "maintainer": {"name": "T", "email": "t@example.com"},
        "timeout": 10
    });
    if !interface.is_null() {
        job["interface"] = interface;
    }
    if !resources.is_null() {
        job["resources"] = json!({ "scalar": resources });
    }
    serde_json::from_value(json!({"seedVersion": "1.0.0", "job": job})).expect("manifest model")
}
