//! Strike and scan definitions: Scale's v6 JSON (`name`, `title`, `description`,
//! `configuration` with `workspace`, `monitor` or `scanner`, `files_to_ingest` and `recipe`)
//! with our additions: per-rule media types and size bounds, a `trigger` (a process, the
//! input that receives the file, fixed values for the others) at the top or per rule, the
//! copy-or-move choice, and the monitor's completeness settings. Unknown fields are ignored,
//! so a body Scale answered (with `id`, `job`, `created`...) reads back.

use crate::storage::spec::{check_name, name_from_title};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A strike: watches one workspace and ingests each new file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StrikeSpec {
    /// `a-z 0-9 - _`; derived from `title` when absent (as Scale does).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub configuration: StrikeConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StrikeConfiguration {
    /// The workspace watched.
    pub workspace: String,
    pub monitor: Monitor,
    /// The rules, in order: the first whose conditions all hold decides.
    pub files_to_ingest: Vec<Rule>,
    /// Scale's trigger: the recipe (here: any process, a recipe deployed as a process
    /// included) started for each ingested file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeRef>,
    /// Ours: the trigger with its input and fixed values (wins over `recipe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

/// How new files are noticed and when one counts as complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Monitor {
    /// `dir-watcher` (a host workspace: inotify plus a periodic rescan) or `s3` (an S3
    /// workspace: listing from a stored cursor).
    #[serde(rename = "type")]
    pub kind: MonitorKind,
    /// Files whose name ends with this are still being written and are left alone until it
    /// is gone (Scale's default: `_tmp`).
    #[serde(default = "default_suffix")]
    pub transfer_suffix: String,
    /// Ours: a file is taken once its size and modification time have not changed for
    /// this long (seconds; default 2 for dir-watcher, 0 for s3, whose objects appear whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle_seconds: Option<f64>,
    /// Ours: the longest between two listings (seconds; default 10 for dir-watcher, whose
    /// inotify events come first, 2 for s3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescan_seconds: Option<f64>,
    /// Ours: only files under this folder of the workspace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    /// Scale's SQS queue: not used (ades lists the bucket instead); accepted so Scale
    /// bodies read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs_name: Option<String>,
}

fn default_suffix() -> String {
    "_tmp".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MonitorKind {
    #[serde(rename = "dir-watcher")]
    DirWatcher,
    #[serde(rename = "s3")]
    S3,
}

impl Monitor {
    pub fn settle(&self) -> std::time::Duration {
        let default = match self.kind {
            MonitorKind::DirWatcher => 2.0,
            MonitorKind::S3 => 0.0,
        };
        seconds(self.settle_seconds.unwrap_or(default))
    }

    pub fn rescan(&self) -> std::time::Duration {
        let default = match self.kind {
            MonitorKind::DirWatcher => 10.0,
            MonitorKind::S3 => 2.0,
        };
        seconds(self.rescan_seconds.unwrap_or(default).max(0.05))
    }
}

fn seconds(value: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(value.clamp(0.0, 86_400.0))
}

/// Scale's `recipe`: its name (a process id here); `revision_num` is accepted and ignored
/// (a process has one current version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecipeRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_num: Option<u32>,
}

/// Ours: what an ingested file starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trigger {
    /// The process (or recipe) id.
    pub process: String,
    /// The input that receives the file as a `workspace://` reference; may be left out when
    /// the process has exactly one file input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Fixed values of the other inputs (OGC execute values, as in `inputs` of a request).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
}

/// One rule of `files_to_ingest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    /// Matched against the whole file name (not its folder).
    pub filename_regex: String,
    /// Tags recorded with the ingest.
    #[serde(default)]
    pub data_types: Vec<String>,
    /// Copy or move the file to this workspace (at `new_file_path/yyyy/mm/dd/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_file_path: Option<String>,
    /// Ours: `move` (Scale's behaviour, the default) or `copy` (the original stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// Ours: the file's media type (from its name) must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
    /// Ours: size bounds in bytes, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Ours: this rule's trigger instead of the strike's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
    /// Ours: the workspace the triggered job's products are published to, instead of its
    /// process's `output_workspace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_workspace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transfer {
    Move,
    Copy,
}

/// A scan: the rules of a strike over the files already in a workspace, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub configuration: ScanConfiguration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanConfiguration {
    pub workspace: String,
    /// Scale's scanner (`{"type": "dir"}` or `{"type": "s3"}`); only its `prefix` (ours)
    /// matters: the workspace's broker says how to list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub scanner: Option<Value>,
    /// Scale's `recursive` (default true): false looks at the top folder only.
    #[serde(default = "yes")]
    pub recursive: bool,
    pub files_to_ingest: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Trigger>,
}

fn yes() -> bool {
    true
}

impl ScanConfiguration {
    pub fn prefix(&self) -> String {
        self.scanner
            .as_ref()
            .and_then(|s| s.get("prefix"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// The trigger a rule uses: its own, else the strike's `trigger`, else its `recipe`.
pub fn trigger_of<'a>(
    rule: &'a Rule,
    trigger: &'a Option<Trigger>,
    recipe: &'a Option<RecipeRef>,
) -> Option<std::borrow::Cow<'a, Trigger>> {
    use std::borrow::Cow;
    if let Some(own) = &rule.trigger {
        return Some(Cow::Borrowed(own));
    }
    if let Some(top) = trigger {
        return Some(Cow::Borrowed(top));
    }
    recipe.as_ref().map(|r| {
        Cow::Owned(Trigger {
            process: r.name.clone(),
            input: None,
            values: BTreeMap::new(),
        })
    })
}

/// The name given, or the one derived from the title; checked.
fn settle_name(name: &mut String, title: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        *name = name_from_title(title);
    }
    check_name(name).map_err(|e| {
        e.to_string()
            .replace("workspace name", &format!("{what} name"))
    })
}

/// Every rule's regular expression compiles and its paths are clean.
fn check_rules(rules: &[Rule]) -> Result<(), String> {
    if rules.is_empty() {
        return Err("files_to_ingest needs at least one rule, such as \
                    {\"filename_regex\": \".*\"}"
            .to_string());
    }
    for (index, rule) in rules.iter().enumerate() {
        regex::Regex::new(&rule.filename_regex).map_err(|e| {
            format!(
                "files_to_ingest[{index}].filename_regex {:?} is not a regular expression: {e}",
                rule.filename_regex
            )
        })?;
        if let Some(path) = &rule.new_file_path {
            let trimmed = path.trim_matches('/');
            if !trimmed.is_empty() {
                crate::storage::clean_path(trimmed)
                    .map_err(|e| format!("files_to_ingest[{index}].new_file_path: {e}"))?;
            }
        }
        if let (Some(min), Some(max)) = (rule.min_size, rule.max_size) {
            if min > max {
                return Err(format!(
                    "files_to_ingest[{index}]: min_size {min} is above max_size {max}"
                ));
            }
        }
    }
    Ok(())
}

impl StrikeSpec {
    /// Fills the name from the title and checks what can be checked without the server:
    /// the name, the regular expressions, the paths.
    pub fn normalise(mut self) -> Result<StrikeSpec, String> {
        settle_name(&mut self.name, &self.title, "strike")?;
        if self.title.is_empty() {
            self.title = self.name.clone();
        }
        check_rules(&self.configuration.files_to_ingest)?;
        if !self.configuration.monitor.prefix.is_empty() {
            crate::storage::clean_prefix(&self.configuration.monitor.prefix)
                .map_err(|e| format!("monitor.prefix: {e}"))?;
        }
        Ok(self)
    }

    pub fn rules(&self) -> RuleSet<'_> {
        RuleSet {
            rules: &self.configuration.files_to_ingest,
            trigger: &self.configuration.trigger,
            recipe: &self.configuration.recipe,
        }
    }
}

impl ScanSpec {
    pub fn normalise(mut self) -> Result<ScanSpec, String> {
        settle_name(&mut self.name, &self.title, "scan")?;
        if self.title.is_empty() {
            self.title = self.name.clone();
        }
        check_rules(&self.configuration.files_to_ingest)?;
        Ok(self)
    }

    pub fn rules(&self) -> RuleSet<'_> {
        RuleSet {
            rules: &self.configuration.files_to_ingest,
            trigger: &self.configuration.trigger,
            recipe: &self.configuration.recipe,
        }
    }
}

/// The rules and triggers of a strike or scan, as the ingester reads them.
#[derive(Debug, Clone, Copy)]
pub struct RuleSet<'a> {
    pub rules: &'a [Rule],
    pub trigger: &'a Option<Trigger>,
    pub recipe: &'a Option<RecipeRef>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scale_v6_strike_bodies_read() {
        let body = json!({
            "id": 1, "title": "My Strike Process", "description": "d",
            "job": {"id": 7},
            "configuration": {
                "workspace": "workspace_name",
                "monitor": {"type": "dir-watcher", "transfer_suffix": "_tmp"},
                "files_to_ingest": [{
                    "filename_regex": ".*txt", "data_types": ["type1", "type2"],
                    "new_workspace": "workspace_name", "new_file_path": "wksp/path"
                }],
                "recipe": {"name": "my-recipe", "revision_num": 1}
            }
        });
        let spec: StrikeSpec = serde_json::from_value(body).unwrap();
        let spec = spec.normalise().unwrap();
        assert_eq!(spec.name, "my-strike-process");
        let rules = spec.rules();
        let trigger = trigger_of(&rules.rules[0], rules.trigger, rules.recipe).unwrap();
        assert_eq!(trigger.process, "my-recipe");
        let s3: Monitor =
            serde_json::from_value(json!({"type": "s3", "sqs_name": "my-sqs"})).unwrap();
        assert_eq!(s3.kind, MonitorKind::S3);
        assert_eq!(s3.settle(), std::time::Duration::ZERO);
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        let spec = |regex: &str, path: &str| StrikeSpec {
            name: "s".into(),
            title: String::new(),
            description: String::new(),
            configuration: StrikeConfiguration {
                workspace: "in".into(),
                monitor: serde_json::from_value(json!({"type": "dir-watcher"})).unwrap(),
                files_to_ingest: vec![Rule {
                    filename_regex: regex.into(),
                    data_types: vec![],
                    new_workspace: None,
                    new_file_path: Some(path.into()),
                    transfer: None,
                    media_types: vec![],
                    min_size: None,
                    max_size: None,
                    trigger: None,
                    output_workspace: None,
                }],
                recipe: None,
                trigger: None,
            },
        };
        let error = spec("*.h5", "ok").normalise().unwrap_err();
        assert!(error.contains("filename_regex"), "{error}");
        let error = spec(".*", "a/../b").normalise().unwrap_err();
        assert!(error.contains("new_file_path"), "{error}");
        assert!(spec(".*", "/new/file/path").normalise().is_ok());
    }
}
