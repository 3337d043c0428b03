//! The Seed 1.0.0 manifest model.
//!
//! Field names follow the JSON members of `seed.manifest.schema.json`; absent optional
//! members take the defaults both reference executors apply (seed-common's Go decoding and
//! Scale's `_populate_default_values`). The model is only built from a document that has
//! passed [`crate::validate`], so it never has to reject anything itself.

use serde::{Deserialize, Serialize};

/// A whole `seed.manifest.json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always `"1.0.0"` for a valid manifest.
    pub seed_version: String,
    pub job: Job,
}

/// `job`: identity, description and interface of the packaged algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub name: String,
    pub job_version: String,
    pub package_version: String,
    pub title: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub maintainer: Maintainer,
    /// Hard limit on the run time of the container, in seconds.
    pub timeout: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<Interface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorMapping>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Maintainer {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    /// The official schema lets `"resources": {}` through (its `required` sits on the array
    /// schema), so an absent `scalar` is an empty list here.
    #[serde(default)]
    pub scalar: Vec<ScalarResource>,
}

/// One `resources.scalar[]` element. `mem`, `sharedMem` and `disk` are MiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalarResource {
    pub name: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_multiplier: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default)]
    pub inputs: Inputs,
    #[serde(default)]
    pub outputs: Outputs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<InputFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonInput>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OutputFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputFile {
    pub name: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
    #[serde(default)]
    pub multiple: bool,
    #[serde(default)]
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonInput {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: JsonType,
    #[serde(default = "yes")]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFile {
    pub name: String,
    /// Glob relative to `OUTPUT_DIR` (POSIX glob(7), no recursion).
    pub pattern: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub multiple: bool,
    #[serde(default = "yes")]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonOutput {
    pub name: String,
    /// Member of `seed.outputs.json` to read; the output's `name` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "type")]
    pub kind: JsonType,
    #[serde(default = "yes")]
    pub required: bool,
}

impl JsonOutput {
    /// The member of `seed.outputs.json` this output is read from.
    pub fn source_key(&self) -> &str {
        self.key.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub name: String,
    /// Absolute path inside the container.
    pub path: String,
    #[serde(default)]
    pub mode: MountMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountMode {
    #[default]
    Ro,
    Rw,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub name: String,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMapping {
    /// Process exit code this error is reported for.
    pub code: i64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub category: ErrorCategory,
}

/// The six JSON types a json input or output may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    Array,
    Boolean,
    Integer,
    Number,
    Object,
    String,
}

impl JsonType {
    /// The JSON Schema type name (`"integer"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::Array => "array",
            JsonType::Boolean => "boolean",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Object => "object",
            JsonType::String => "string",
        }
    }

    /// Whether `value` is of this type. Integers are numbers with no fractional part written
    /// as integers (`3`, not `3.0`), matching draft-04 validators.
    pub fn accepts(self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, value) {
            (JsonType::Array, Value::Array(_)) => true,
            (JsonType::Boolean, Value::Bool(_)) => true,
            (JsonType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (JsonType::Number, Value::Number(_)) => true,
            (JsonType::Object, Value::Object(_)) => true,
            (JsonType::String, Value::String(_)) => true,
            _ => false,
        }
    }
}

/// `errors[].category`: `job` (the algorithm failed) or `data` (its input was bad).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorCategory {
    #[default]
    Job,
    Data,
}

fn yes() -> bool {
    true
}

impl Manifest {
    /// The interface, or an empty one when the manifest declares none.
    pub fn interface(&self) -> std::borrow::Cow<'_, Interface> {
        match &self.job.interface {
            Some(interface) => std::borrow::Cow::Borrowed(interface),
            None => std::borrow::Cow::Owned(Interface::default()),
        }
    }

    /// The scalar resources, empty when none are declared.
    pub fn scalar_resources(&self) -> &[ScalarResource] {
        self.job
            .resources
            .as_ref()
            .map(|r| r.scalar.as_slice())
            .unwrap_or(&[])
    }
}
