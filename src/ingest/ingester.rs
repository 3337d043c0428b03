//! One file, decided: the first matching rule, the content's SHA-256, the rule's copy or
//! move, the trigger's job, and the ingest recorded with that job in one store transaction.
//! Strikes and scans both call [`Ingester::ingest`]; a scan's dry run calls
//! [`Ingester::plan`] only.

use super::spec::{trigger_of, Rule, RuleSet, Transfer, Trigger};
use crate::catalog::Catalog;
use crate::domain::{ExecuteRequest, InputKind, InputValue, Process, ProcessId};
use crate::jobs::{JobService, JobsError};
use crate::storage::{Broker, ObjectInfo, StorageError};
use crate::store::{Ingest, IngestStatus, NewIngest, SourceKind};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::OffsetDateTime;

/// Who finds files: a strike or a scan.
#[derive(Debug, Clone)]
pub struct Source {
    pub kind: SourceKind,
    pub name: String,
}

/// The version of a file the unique key holds: its size and modification time. A file
/// written again (another time) is a new version and ingested again; the same file seen
/// again, by any replica, is not.
pub fn version_of(object: &ObjectInfo) -> String {
    let modified = object
        .modified
        .map(|t| (t.unix_timestamp_nanos() / 1_000).to_string())
        .unwrap_or_else(|| "-".to_string());
    format!("{}:{modified}", object.size)
}

/// The file name of a path (its last segment).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The media type told by the file's name.
pub fn media_type_of(path: &str) -> String {
    mime_guess::from_path(path)
        .first()
        .map(|m| m.essence_str().to_string())
        .unwrap_or_else(|| "application/octet-stream".to_string())
}

/// A strike's or scan's rules with their regular expressions compiled once.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    regexes: Vec<regex::Regex>,
    trigger: Option<Trigger>,
    recipe: Option<super::spec::RecipeRef>,
}

impl Rules {
    /// The definitions were checked (`normalise`): a regex that does not compile here
    /// matches nothing.
    pub fn new(set: RuleSet<'_>) -> Rules {
        let regexes = set
            .rules
            .iter()
            .map(|rule| {
                // Anchored: Scale matches the whole name.
                regex::Regex::new(&format!("^(?:{})$", rule.filename_regex))
                    .unwrap_or_else(|_| regex::Regex::new("[^\\s\\S]").expect("empty regex"))
            })
            .collect();
        Rules {
            rules: set.rules.to_vec(),
            regexes,
            trigger: set.trigger.clone(),
            recipe: set.recipe.clone(),
        }
    }

    /// The folders of `workspace` its rules move or copy files into (`new_file_path` with
    /// no other workspace): a strike leaves what lands there alone, or it would take its
    /// own output for new files.
    pub fn landing_folders(&self, workspace: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|rule| rule.new_workspace.as_deref().is_none_or(|w| w == workspace))
            .filter_map(|rule| rule.new_file_path.as_deref())
            .map(|folder| folder.trim_matches('/').to_string())
            .filter(|folder| !folder.is_empty())
            .map(|folder| format!("{folder}/"))
            .collect()
    }

    /// The first rule whose conditions all hold: name, media type, size.
    pub fn first_match(&self, path: &str, size: u64) -> Option<(usize, &Rule)> {
        let name = file_name(path);
        let media_type = media_type_of(path);
        self.rules
            .iter()
            .zip(&self.regexes)
            .enumerate()
            .find(|(_, (rule, regex))| {
                regex.is_match(name)
                    && (rule.media_types.is_empty()
                        || rule
                            .media_types
                            .iter()
                            .any(|m| crate::jobs::request::same_media_type(m, &media_type)))
                    && rule.min_size.is_none_or(|min| size >= min)
                    && rule.max_size.is_none_or(|max| size <= max)
            })
            .map(|(index, (rule, _))| (index, rule))
    }
}

/// What would be done with a file (a scan's dry run answers a list of these).
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub workspace: String,
    pub path: String,
    pub size: u64,
    pub media_type: String,
    /// The index and regex of the rule that matched; none: the file would be `deferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename_regex: Option<String>,
    pub data_types: Vec<String>,
    /// Where the rule copies or moves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_workspace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// The process its trigger would start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
}

/// What became of a file.
#[derive(Debug)]
pub enum Outcome {
    /// Recorded now (with its job, if it triggered one).
    Recorded(Box<Ingest>),
    /// This version of the file was recorded before (by this replica or another): nothing
    /// written.
    AlreadyDecided,
    /// Not decided now (the workspace could not be read, the file vanished): the next
    /// look tries again, a few times.
    Later(String),
    /// Not decided now because the server is busy (the queue is full, the database out of
    /// reach): the next look tries again, however often.
    Busy(String),
}

/// Decides files for strikes and scans.
#[derive(Clone)]
pub struct Ingester {
    jobs: JobService,
    catalog: Catalog,
}

impl Ingester {
    pub fn new(jobs: JobService, catalog: Catalog) -> Ingester {
        Ingester { jobs, catalog }
    }

    pub fn jobs(&self) -> &JobService {
        &self.jobs
    }

    /// What the rules do with `object` of `workspace`, without doing it.
    pub fn plan(&self, rules: &Rules, workspace: &str, object: &ObjectInfo) -> Plan {
        let media_type = media_type_of(&object.path);
        let mut plan = Plan {
            workspace: workspace.to_string(),
            path: object.path.clone(),
            size: object.size,
            media_type,
            rule: None,
            filename_regex: None,
            data_types: Vec::new(),
            new_workspace: None,
            new_path: None,
            transfer: None,
            process: None,
        };
        let Some((index, rule)) = rules.first_match(&object.path, object.size) else {
            return plan;
        };
        plan.rule = Some(index);
        plan.filename_regex = Some(rule.filename_regex.clone());
        plan.data_types = rule.data_types.clone();
        if let Some((to_workspace, to_path)) =
            destination(rule, workspace, &object.path, OffsetDateTime::now_utc())
        {
            plan.new_workspace = Some(to_workspace);
            plan.new_path = Some(to_path);
            plan.transfer = Some(rule.transfer.unwrap_or(Transfer::Move));
        }
        plan.process = trigger_of(rule, &rules.trigger, &rules.recipe).map(|t| t.process.clone());
        plan
    }

    /// Decides `object` of `workspace` (whose broker is `broker`) for `source`, once.
    pub async fn ingest(
        &self,
        source: &Source,
        rules: &Rules,
        workspace: &str,
        broker: &Arc<dyn Broker>,
        object: &ObjectInfo,
    ) -> Outcome {
        let plan = self.plan(rules, workspace, object);
        let mut ingest = NewIngest {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            source_kind: source.kind,
            source_name: source.name.clone(),
            workspace: workspace.to_string(),
            path: object.path.clone(),
            file_name: file_name(&object.path).to_string(),
            version: version_of(object),
            size: object.size,
            sha256: None,
            media_type: Some(plan.media_type.clone()),
            rule: plan.filename_regex.clone(),
            data_types: plan.data_types.clone(),
            status: IngestStatus::Deferred,
            message: None,
            new_workspace: plan.new_workspace.clone(),
            new_path: plan.new_path.clone(),
        };
        let Some(index) = plan.rule else {
            ingest.message = Some("no rule of files_to_ingest matched the file".to_string());
            return self.record(ingest, None, None).await;
        };
        let rule = &rules.rules[index];
        match sha256_of(broker, &object.path).await {
            Ok(sum) => ingest.sha256 = Some(sum),
            Err(err) => return later(err),
        }
        let sha256 = ingest.sha256.clone().unwrap_or_default();
        match self
            .jobs
            .store()
            .ingest_with_sha256(source.kind, &source.name, &sha256)
            .await
        {
            Ok(Some(earlier)) => {
                ingest.status = IngestStatus::Duplicate;
                ingest.message = Some(format!(
                    "the same content (sha256 {sha256}) was ingested before, as ingest {earlier}"
                ));
                ingest.new_workspace = None;
                ingest.new_path = None;
                return self.record(ingest, None, None).await;
            }
            Ok(None) => {}
            Err(err) => return Outcome::Busy(err.to_string()),
        }
        // The rule's copy or move: copied first; a move deletes the original only once the
        // ingest is recorded, so a crash in between leaves the original to be found again
        // (and the key then says it was decided).
        let (here_workspace, here_path) = match (&plan.new_workspace, &plan.new_path) {
            (Some(to_workspace), Some(to_path)) => {
                if let Err(err) = self.copy(broker, &object.path, to_workspace, to_path).await {
                    return match err {
                        CopyError::Later(why) => Outcome::Later(why),
                        CopyError::Refused(why) => {
                            ingest.status = IngestStatus::Errored;
                            ingest.message = Some(why);
                            self.record(ingest, None, None).await
                        }
                    };
                }
                (to_workspace.clone(), to_path.clone())
            }
            _ => (workspace.to_string(), object.path.clone()),
        };
        let moved = (plan.transfer == Some(Transfer::Move)).then_some((broker, &object.path));
        let Some(trigger) = trigger_of(rule, &rules.trigger, &rules.recipe) else {
            ingest.status = if plan.transfer.is_some() {
                IngestStatus::Transferred
            } else {
                IngestStatus::Ingested
            };
            return self.record(ingest, None, moved).await;
        };
        match self
            .request_for(&trigger, &here_workspace, &here_path, &plan.media_type)
            .await
        {
            Ok((process, mut request)) => {
                request.output_workspace = rule.output_workspace.clone();
                ingest.status = IngestStatus::Ingested;
                self.record(ingest, Some((&process, request)), moved).await
            }
            Err(why) => {
                ingest.status = IngestStatus::Errored;
                ingest.message = Some(why);
                self.record(ingest, None, moved).await
            }
        }
    }

    /// Records `object` as `errored` with `message` (a file that could not be decided
    /// after several tries: unreadable, say), so it is not tried forever; a new version of
    /// it is tried again.
    pub async fn give_up(
        &self,
        source: &Source,
        workspace: &str,
        object: &ObjectInfo,
        message: String,
    ) -> Outcome {
        let ingest = NewIngest {
            id: uuid::Uuid::new_v4().hyphenated().to_string(),
            source_kind: source.kind,
            source_name: source.name.clone(),
            workspace: workspace.to_string(),
            path: object.path.clone(),
            file_name: file_name(&object.path).to_string(),
            version: version_of(object),
            size: object.size,
            sha256: None,
            media_type: Some(media_type_of(&object.path)),
            rule: None,
            data_types: Vec::new(),
            status: IngestStatus::Errored,
            message: Some(message),
            new_workspace: None,
            new_path: None,
        };
        self.record(ingest, None, None).await
    }

    /// Records the ingest (and its job); then finishes a move.
    async fn record(
        &self,
        ingest: NewIngest,
        run: Option<(&Process, ExecuteRequest)>,
        moved: Option<(&Arc<dyn Broker>, &String)>,
    ) -> Outcome {
        let outcome = match self.jobs.record_ingest(ingest, run).await {
            Ok(Some((ingest, _job))) => Outcome::Recorded(Box::new(ingest)),
            Ok(None) => Outcome::AlreadyDecided,
            Err(err @ (JobsError::QueueFull { .. } | JobsError::Store(_))) => {
                return Outcome::Busy(err.to_string())
            }
            Err(err) => return Outcome::Later(err.to_string()),
        };
        if let Some((broker, path)) = moved {
            if let Err(err) = broker.delete(path).await {
                tracing::warn!(path = %path, error = %err, "an ingested file was copied but its original could not be deleted");
            }
        }
        outcome
    }

    /// The trigger's process and request: the file as a `workspace://` reference on the
    /// trigger's input, the fixed values on the others; checked as a submission is.
    async fn request_for(
        &self,
        trigger: &Trigger,
        workspace: &str,
        path: &str,
        media_type: &str,
    ) -> Result<(Arc<Process>, ExecuteRequest), String> {
        let process = match ProcessId::parse(&trigger.process) {
            Ok(id) => self.catalog.find(&id).await,
            Err(_) => None,
        }
        .ok_or_else(|| {
            format!(
                "the trigger names the process {:?}, which this server does not offer \
                 (GET /processes lists them)",
                trigger.process
            )
        })?;
        let input = match &trigger.input {
            Some(input) => input.clone(),
            None => {
                let files: Vec<&str> = process
                    .inputs
                    .iter()
                    .filter(|i| matches!(i.kind, InputKind::File { .. }))
                    .map(|i| i.id.as_str())
                    .collect();
                match files.as_slice() {
                    [one] => one.to_string(),
                    _ => {
                        return Err(format!(
                            "the process {} has {} file inputs: name the one that receives \
                             the file in trigger.input",
                            process.id,
                            files.len()
                        ))
                    }
                }
            }
        };
        let mut request = ExecuteRequest {
            inputs: Default::default(),
            outputs: Default::default(),
            response: Default::default(),
            subscriber: None,
            workflow: None,
            remote: None,
            output_workspace: None,
        };
        for (id, value) in &trigger.values {
            let values = match value {
                Value::Array(items) => items.iter().map(|v| input_value(&process, id, v)).collect(),
                single => vec![input_value(&process, id, single)],
            };
            request.inputs.insert(id.clone(), values);
        }
        let accepted = process
            .inputs
            .iter()
            .find(|i| i.id == input)
            .and_then(|i| match &i.kind {
                InputKind::File { media_types } if !media_types.is_empty() => {
                    Some(media_types.clone())
                }
                _ => None,
            });
        // The file's media type when the input accepts it; else the input's own (the name
        // of a file tells its type only roughly).
        let media_type = match accepted {
            Some(types)
                if !types
                    .iter()
                    .any(|t| crate::jobs::request::same_media_type(t, media_type)) =>
            {
                types[0].clone()
            }
            _ => media_type.to_string(),
        };
        request.inputs.insert(
            input,
            vec![InputValue::Href {
                href: format!("workspace://{workspace}/{path}"),
                media_type: Some(media_type),
            }],
        );
        if let Err(problems) = self.jobs.check_request(&process, &request) {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(format!(
                "the trigger's request to {} was refused: {}",
                process.id,
                text.join("; ")
            ));
        }
        Ok((process, request))
    }

    /// Copies `path` of `from` to `to_path` of the workspace `to_workspace`, streamed.
    async fn copy(
        &self,
        from: &Arc<dyn Broker>,
        path: &str,
        to_workspace: &str,
        to_path: &str,
    ) -> Result<(), CopyError> {
        let target = self
            .jobs
            .workspaces()
            .broker(to_workspace)
            .await
            .map_err(|e| CopyError::Refused(format!("new_workspace {to_workspace}: {e}")))?;
        let stream = from.read(path, None).await.map_err(copy_error)?;
        let mut reader = tokio_util::io::StreamReader::new(stream);
        target
            .write(to_path, &mut reader)
            .await
            .map_err(copy_error)?;
        Ok(())
    }
}

enum CopyError {
    /// Worth another try later.
    Later(String),
    /// Will not work (bad path, no such workspace).
    Refused(String),
}

fn copy_error(err: StorageError) -> CopyError {
    match err {
        StorageError::BadPath(why) | StorageError::Invalid(why) => CopyError::Refused(why),
        other => CopyError::Later(other.to_string()),
    }
}

fn later(err: StorageError) -> Outcome {
    Outcome::Later(err.to_string())
}

/// A fixed value of a trigger as an input value: `{"href": ...}` is a reference, anything
/// else the value itself (text given to a number or boolean input is read as one).
fn input_value(process: &Process, id: &str, value: &Value) -> InputValue {
    if let Some(href) = value.get("href").and_then(Value::as_str) {
        return InputValue::Href {
            href: href.to_string(),
            media_type: value
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
    }
    let kind = process.inputs.iter().find(|i| i.id == id).map(|i| &i.kind);
    let value = match (kind, value) {
        (Some(InputKind::Json { kind }), Value::String(text)) => {
            crate::jobs::execute::typed_literal(*kind, text)
        }
        _ => value.clone(),
    };
    InputValue::Inline {
        value,
        media_type: None,
    }
}

/// Where the rule puts the file: `new_file_path/yyyy/mm/dd/<name>` (Scale's layout) in
/// `new_workspace` (default: the same one); `None` when the rule leaves it where it is.
pub fn destination(
    rule: &Rule,
    workspace: &str,
    path: &str,
    now: OffsetDateTime,
) -> Option<(String, String)> {
    if rule.new_workspace.is_none() && rule.new_file_path.is_none() {
        return None;
    }
    let to_workspace = rule
        .new_workspace
        .clone()
        .unwrap_or_else(|| workspace.to_string());
    let to_path = match &rule.new_file_path {
        Some(folder) => {
            let folder = folder.trim_matches('/');
            let dated = format!(
                "{:04}/{:02}/{:02}/{}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                file_name(path)
            );
            if folder.is_empty() {
                dated
            } else {
                format!("{folder}/{dated}")
            }
        }
        None => path.to_string(),
    };
    if to_workspace == workspace && to_path == path {
        return None;
    }
    Some((to_workspace, to_path))
}

/// The lower-case hex SHA-256 of a file, streamed.
async fn sha256_of(broker: &Arc<dyn Broker>, path: &str) -> Result<String, StorageError> {
    let mut stream = broker.read(path, None).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StorageError::Backend(format!("reading {path}: {e}")))?;
        hasher.update(&chunk);
    }
    Ok(hex_of(&hasher.finalize()))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(list: Value) -> Rules {
        let rules: Vec<Rule> = serde_json::from_value(list).unwrap();
        Rules::new(RuleSet {
            rules: &rules,
            trigger: &None,
            recipe: &None,
        })
    }

    #[test]
    fn the_first_rule_whose_conditions_hold_decides() {
        let rules = rules(json!([
            {"filename_regex": ".*\\.txt", "max_size": 10, "data_types": ["small"]},
            {"filename_regex": ".*\\.txt", "media_types": ["text/plain"], "data_types": ["text"]},
            {"filename_regex": "scene_.*", "min_size": 100}
        ]));
        assert_eq!(rules.first_match("a/b.txt", 5).unwrap().0, 0);
        assert_eq!(rules.first_match("a/b.txt", 50).unwrap().0, 1);
        assert_eq!(rules.first_match("scene_1.tif", 100).unwrap().0, 2);
        assert!(rules.first_match("scene_1.tif", 99).is_none());
        // The whole name must match, not a part of it (Scale's rule).
        assert!(rules.first_match("b.txt.bak", 5).is_none());
        // The folder is not part of the name.
        assert!(rules.first_match("scene_dir/x.tif", 500).is_none());
    }

    #[test]
    fn a_rule_with_a_new_path_files_by_date() {
        let rule: Rule = serde_json::from_value(
            json!({"filename_regex": ".*", "new_workspace": "out", "new_file_path": "/landed/"}),
        )
        .unwrap();
        let now = time::macros::datetime!(2026-03-04 05:06:07 UTC);
        assert_eq!(
            destination(&rule, "in", "x/a.txt", now),
            Some(("out".to_string(), "landed/2026/03/04/a.txt".to_string()))
        );
        let stay: Rule = serde_json::from_value(json!({"filename_regex": ".*"})).unwrap();
        assert_eq!(destination(&stay, "in", "a.txt", now), None);
        // A strike leaves alone the folders its own rules fill in its workspace.
        let here: Rule =
            serde_json::from_value(json!({"filename_regex": ".*", "new_file_path": "/done/"}))
                .unwrap();
        let rules = [rule, stay, here];
        let set = Rules::new(RuleSet {
            rules: &rules,
            trigger: &None,
            recipe: &None,
        });
        assert_eq!(set.landing_folders("in"), ["done/"]);
        assert_eq!(set.landing_folders("out"), ["landed/", "done/"]);
    }

    #[test]
    fn versions_tell_a_rewritten_file_apart() {
        let object = |size, second| ObjectInfo {
            path: "a".into(),
            size,
            modified: Some(OffsetDateTime::from_unix_timestamp(second).unwrap()),
        };
        assert_eq!(version_of(&object(3, 1)), version_of(&object(3, 1)));
        assert_ne!(version_of(&object(3, 1)), version_of(&object(3, 2)));
        assert_ne!(version_of(&object(3, 1)), version_of(&object(4, 1)));
    }
}
