//! Deploying a CWL document: as the body (`application/cwl`, `application/cwl+json`,
//! `application/cwl+yaml`), or as the execution unit of an application package, by value
//! (`{"value": {...}, "mediaType": "application/cwl+json"}`, a YAML text, or the document
//! itself) or by reference (`{"href": "https://.../app.cwl", "type": "application/cwl"}`,
//! fetched through the address guard, at most [`MAX_CWL_BYTES`]).
//!
//! The entry (`?w=<id>`, see `crate::cwl::process::pick_entry`) is a CommandLineTool, its
//! image found and pinned as a Seed image is (`resolve.rs`), or a Workflow: its tools are
//! deployed with it as CWL processes of their own (`<workflow id>-<tool id>`, marked
//! [`PART_OF`] the workflow) and it becomes a workflow process over them
//! (`crate::cwl::deployed_workflow` says what maps and what is refused). An optional `processDescription`
//! is checked against the description read from the CWL: every mismatch is listed.

use super::{package, resolve, DeployError, Deployer, Package, Prepared};
use crate::cwl::deployed_workflow;
use crate::cwl::process::{self as cwl_process, CwlBinding};
use crate::cwl::CwlError;
use crate::domain::Process;
use crate::store::DeployedProcess;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

pub const CWL: &str = "application/cwl";
pub const CWL_JSON: &str = "application/cwl+json";
pub const CWL_YAML: &str = "application/cwl+yaml";

/// The largest CWL document fetched by reference.
pub const MAX_CWL_BYTES: usize = 4 * 1024 * 1024;

/// Where the CWL of a package is.
#[derive(Debug, Clone, PartialEq)]
pub enum CwlSource {
    /// The document's text (YAML or JSON).
    Text(String),
    /// A link to fetch it from.
    Href(String),
}

/// A CWL deploy request.
#[derive(Debug, Clone, PartialEq)]
pub struct CwlPackage {
    pub source: CwlSource,
    /// Where in the body the CWL is (for messages).
    pub pointer: String,
    /// The package's `processDescription`, to check against the CWL.
    pub described: Option<Value>,
}

fn is_cwl_type(media_type: &str) -> bool {
    matches!(
        crate::jobs::request::media_type_essence(media_type).as_str(),
        CWL | CWL_JSON | CWL_YAML
    )
}

/// Whether a JSON value is a CWL document itself.
fn looks_like_cwl(value: &Value) -> bool {
    value.get("cwlVersion").is_some()
        || value.get("$graph").is_some()
        || matches!(
            value.get("class").and_then(Value::as_str),
            Some("CommandLineTool") | Some("Workflow")
        )
}

/// The CWL a deploy request carries, or `None` when it carries none (a Seed package).
pub fn read_cwl(package: &Package) -> Result<Option<CwlPackage>, DeployError> {
    let essence = crate::jobs::request::media_type_essence(&package.media_type);
    if is_cwl_type(&essence) {
        let text = String::from_utf8(package.body.clone())
            .map_err(|_| DeployError::invalid("", "the CWL document is not UTF-8 text"))?;
        return Ok(Some(CwlPackage {
            source: CwlSource::Text(text),
            pointer: String::new(),
            described: None,
        }));
    }
    if essence != package::APP_PACKAGE && essence != "application/json" {
        return Ok(None);
    }
    // Parsed within the same bounds as a Seed package; not JSON: the Seed reader says what
    // is wrong with it.
    let Ok(document) = package::parse_json(&package.body) else {
        return Ok(None);
    };
    let Some(unit) = document.get("executionUnit") else {
        return Ok(None);
    };
    let units: Vec<(String, &Value)> = match unit {
        Value::Array(units) => units
            .iter()
            .enumerate()
            .map(|(i, u)| (format!("/executionUnit/{i}"), u))
            .collect(),
        one => vec![("/executionUnit".to_string(), one)],
    };
    let is_docker = |u: &Value| {
        let inner = u.get("value").unwrap_or(u);
        matches!(
            inner.get("type").and_then(Value::as_str),
            Some("docker") | Some("oci")
        )
    };
    if units.iter().any(|(_, u)| is_docker(u)) {
        return Ok(None);
    }
    for (pointer, unit) in units {
        if let Some(source) = cwl_unit(unit, &pointer)? {
            return Ok(Some(CwlPackage {
                source,
                pointer,
                described: document.get("processDescription").cloned(),
            }));
        }
    }
    Ok(None)
}

fn cwl_unit(unit: &Value, pointer: &str) -> Result<Option<CwlSource>, DeployError> {
    if looks_like_cwl(unit) {
        return Ok(Some(CwlSource::Text(unit.to_string())));
    }
    let declared = ["type", "mediaType"]
        .iter()
        .filter_map(|k| unit.get(*k).and_then(Value::as_str))
        .any(is_cwl_type);
    if let Some(href) = unit.get("href") {
        let href = href.as_str().map(str::trim).filter(|h| !h.is_empty());
        return match href {
            Some(href) => Ok(Some(CwlSource::Href(href.to_string()))),
            None => Err(DeployError::invalid(
                format!("{pointer}/href"),
                "the link to the CWL must be a URL (a string)",
            )),
        };
    }
    for key in ["value", "unit"] {
        match unit.get(key) {
            Some(value) if looks_like_cwl(value) => {
                return Ok(Some(CwlSource::Text(value.to_string())))
            }
            Some(Value::String(text)) if declared || text.contains("cwlVersion") => {
                return Ok(Some(CwlSource::Text(text.clone())))
            }
            _ => {}
        }
    }
    if declared {
        return Err(DeployError::invalid(
            pointer,
            "the execution unit says it is CWL but holds none: give the document as \
             \"value\" or link it with \"href\"",
        ));
    }
    Ok(None)
}

/// A CWL problem found while deploying, as a 400 pointing at the CWL in the body.
fn refused(pointer: &str, err: CwlError) -> DeployError {
    let message = match err {
        CwlError::Unsupported(message) => format!("the CWL cannot be deployed here: {message}"),
        other => format!("the CWL cannot be deployed: {other}"),
    };
    DeployError::invalid(pointer, message)
}

impl Deployer {
    /// Everything a CWL deploy or replace needs, checked, before anything is written.
    pub(super) async fn prepare_cwl(
        &self,
        package: &Package,
        cwl: CwlPackage,
    ) -> Result<Prepared, DeployError> {
        let pointer = cwl.pointer.clone();
        let text = match &cwl.source {
            CwlSource::Text(text) => text.clone(),
            CwlSource::Href(href) => self.fetch_cwl(href, &pointer).await?,
        };
        let document = cwl_process::read_document(&text).map_err(|e| refused(&pointer, e))?;
        if let Some(wanted) = package.entry_param.as_deref() {
            if !cwl_process::has_process(&document, wanted) {
                return Err(DeployError::EntryNotFound(wanted.to_string()));
            }
        }
        let (entry, class) = cwl_process::pick_entry(&document, package.entry_param.as_deref())
            .map_err(|e| refused(&pointer, e))?;
        match class.as_str() {
            "CommandLineTool" => {}
            "Workflow" => {
                return self
                    .prepare_cwl_workflow(package, &cwl, &document, entry.as_deref())
                    .await
            }
            other => {
                return Err(DeployError::invalid(
                    pointer,
                    format!(
                        "the entry is a {}: a deployed CWL process is a CommandLineTool",
                        if other.is_empty() {
                            "process without class"
                        } else {
                            other
                        }
                    ),
                ))
            }
        }
        let tool = cwl_process::load_entry(&document, entry.as_deref())
            .map_err(|e| refused(&pointer, e))?;
        let image = cwl_process::tool_image(&tool).ok_or_else(|| {
            DeployError::invalid(
                pointer.clone(),
                "the tool names no image: add a DockerRequirement with dockerPull (the image \
                 is pinned by digest when deployed)",
            )
        })?;
        let resolved = resolve::resolve(self.images.as_deref(), &self.registry, &image).await?;
        let binding = cwl_process::binding(
            document.clone(),
            entry.clone(),
            resolved.requested.clone(),
            resolved.pinned.clone(),
        )
        .map_err(|e| refused(&pointer, e))?;
        let process = cwl_process::to_process(binding)
            .map_err(|reason| DeployError::invalid(pointer.clone(), reason))?;
        if let Some(described) = &cwl.described {
            check_description(described, &process)?;
        }
        let now = OffsetDateTime::now_utc();
        let record = DeployedProcess {
            id: process.id.to_string(),
            package_media_type: crate::jobs::request::media_type_essence(&package.media_type),
            package: package.body.clone(),
            image: resolved.requested,
            pinned_image: resolved.pinned,
            manifest: stored(&document, entry.as_deref()),
            deployed: now,
            updated: now,
        };
        Ok((record, process, Vec::new()))
    }

    /// A CWL Workflow entry: each tool it runs becomes a CWL process of its own
    /// (`<workflow id>-<tool id>`, its image pinned), and the workflow a workflow process
    /// over them (see `crate::cwl::deployed_workflow` for what maps and what is refused).
    async fn prepare_cwl_workflow(
        &self,
        package: &Package,
        cwl: &CwlPackage,
        document: &Value,
        entry: Option<&str>,
    ) -> Result<Prepared, DeployError> {
        let pointer = cwl.pointer.clone();
        let plan = deployed_workflow::plan(document, entry).map_err(|e| refused(&pointer, e))?;
        let media_type = crate::jobs::request::media_type_essence(&package.media_type);
        let now = OffsetDateTime::now_utc();
        let mut parts = Vec::new();
        for planned in &plan.tools {
            let tool = cwl_process::load_entry(&planned.document, None)
                .map_err(|e| refused(&pointer, e))?;
            let image = cwl_process::tool_image(&tool).ok_or_else(|| {
                DeployError::invalid(
                    pointer.clone(),
                    format!(
                        "the tool of process {} names no image: add a DockerRequirement with \
                         dockerPull to it or to the Workflow (the image is pinned by digest \
                         when deployed)",
                        planned.id
                    ),
                )
            })?;
            let resolved = resolve::resolve(self.images.as_deref(), &self.registry, &image).await?;
            let binding = cwl_process::binding(
                planned.document.clone(),
                None,
                resolved.requested.clone(),
                resolved.pinned.clone(),
            )
            .map_err(|e| refused(&pointer, e))?;
            let process = cwl_process::to_process(binding)
                .map_err(|reason| DeployError::invalid(pointer.clone(), reason))?;
            let mut manifest = stored(&planned.document, None);
            manifest[cwl_process::STORED_KEY][PART_OF] = json!(plan.draft.id);
            let record = DeployedProcess {
                id: process.id.to_string(),
                package_media_type: media_type.clone(),
                package: package.body.clone(),
                image: resolved.requested,
                pinned_image: resolved.pinned,
                manifest,
                deployed: now,
                updated: now,
            };
            parts.push((record, process));
        }
        let tools: Vec<Arc<Process>> = parts.iter().map(|(_, p)| Arc::new(p.clone())).collect();
        let lookup = |id: &str| tools.iter().find(|p| p.id.as_str() == id).cloned();
        let refuse = |problems: Vec<crate::workflow::Problem>| {
            DeployError::invalid(
                pointer.clone(),
                format!(
                    "the CWL Workflow cannot be deployed: {}",
                    crate::workflow::describe_problems(&problems)
                ),
            )
        };
        let mut workflow = crate::workflow::compile(plan.draft.clone(), &lookup).map_err(refuse)?;
        // The workflow's outputs are the CWL outputs, named by their CWL ids.
        let mut outputs = Vec::new();
        for planned in &plan.outputs {
            let step = workflow.step(&planned.step);
            let process = step.and_then(|s| lookup(&s.process));
            let kind = process
                .as_deref()
                .and_then(|p| crate::workflow::exposed_kind(p, &planned.output));
            let Some(mut kind) = kind else {
                return Err(DeployError::invalid(
                    pointer.clone(),
                    format!(
                        "output {} reads {}/{}, which the step's tool does not have",
                        planned.id, planned.step, planned.output
                    ),
                ));
            };
            if let (crate::workflow::ExposedKind::File { file }, Some(true)) =
                (&mut kind, step.map(|s| s.scatter.is_some()))
            {
                file.multiple = true;
            }
            outputs.push(crate::workflow::Exposed {
                step: planned.step.clone(),
                output: planned.output.clone(),
                alias: Some(planned.id.clone()),
                kind,
            });
        }
        workflow.outputs = outputs;
        let workflow = Arc::new(workflow);
        let process = workflow
            .to_process()
            .map_err(|reason| DeployError::invalid(pointer.clone(), reason))?;
        if let Some(described) = &cwl.described {
            check_description(described, &process)?;
        }
        // The compiled workflow, and the CWL as deployed beside it (for `?f=cwl`).
        let mut manifest = serde_json::to_value(workflow.as_ref()).map_err(|err| {
            DeployError::invalid("", format!("the workflow cannot be stored: {err}"))
        })?;
        manifest[WORKFLOW_DOCUMENT] = document.clone();
        let record = DeployedProcess {
            id: workflow.id.clone(),
            package_media_type: media_type,
            package: package.body.clone(),
            image: String::new(),
            pinned_image: String::new(),
            manifest,
            deployed: now,
            updated: now,
        };
        Ok((record, process, parts))
    }

    /// The CWL document a deployed CWL Workflow was deployed from; `None` for other
    /// processes.
    pub async fn workflow_cwl(&self, id: &str) -> Result<Option<Value>, DeployError> {
        Ok(self
            .store
            .get_process(id)
            .await?
            .and_then(|row| row.manifest.get(WORKFLOW_DOCUMENT).cloned()))
    }

    /// The CWL at `href`, fetched through the address guard.
    async fn fetch_cwl(&self, href: &str, pointer: &str) -> Result<String, DeployError> {
        let at = format!("{pointer}/href");
        let url = reqwest::Url::parse(href)
            .map_err(|err| DeployError::invalid(at.clone(), format!("not a URL: {err}")))?;
        let shown = crate::outbound::shown_url(&url);
        crate::outbound::check_url(&url, self.allow_private_urls)
            .map_err(|problem| DeployError::invalid(at.clone(), problem))?;
        let cannot = |why: String| {
            DeployError::invalid(
                at.clone(),
                format!("cannot fetch the CWL from {shown}: {why}"),
            )
        };
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(|err| cannot(crate::outbound::shown(&err.to_string())))?;
        if !response.status().is_success() {
            return Err(cannot(format!("it answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| cannot(err.without_url().to_string()))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_CWL_BYTES {
                return Err(cannot(format!(
                    "it is larger than the {MAX_CWL_BYTES} bytes a CWL document may be"
                )));
            }
        }
        String::from_utf8(body).map_err(|_| cannot("it is not UTF-8 text".to_string()))
    }
}

/// The key, in a stored tool's CWL, of the workflow it was deployed with (undeploying
/// that workflow undeploys the tool).
pub const PART_OF: &str = "partOf";

/// The key, in a stored CWL Workflow's row, of the CWL document it was deployed from.
pub const WORKFLOW_DOCUMENT: &str = "cwlDocument";

/// The workflow a stored row's tool was deployed with, if any.
pub fn part_of(row: &DeployedProcess) -> Option<&str> {
    row.manifest
        .get(cwl_process::STORED_KEY)?
        .get(PART_OF)?
        .as_str()
}

/// What a stored row keeps of a CWL process (its manifest column).
pub fn stored(document: &Value, entry: Option<&str>) -> Value {
    json!({cwl_process::STORED_KEY: {"document": document, "entry": entry}})
}

/// The binding a stored row describes, if it is a CWL process.
pub fn binding_from_row(row: &DeployedProcess) -> Option<Result<CwlBinding, String>> {
    let stored = row.manifest.get(cwl_process::STORED_KEY)?;
    let document = stored.get("document").cloned().unwrap_or(Value::Null);
    let entry = stored
        .get("entry")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(
        cwl_process::binding(document, entry, row.image.clone(), row.pinned_image.clone())
            .map_err(|err| format!("its stored CWL cannot be read: {err}")),
    )
}

/// Checks a supplied `processDescription` against the one read from the CWL: the id,
/// and the ids of inputs and outputs. Every mismatch is listed.
fn check_description(described: &Value, process: &Process) -> Result<(), DeployError> {
    let description = described.get("process").unwrap_or(described);
    let mut mismatches = Vec::new();
    if let Some(id) = description.get("id").and_then(Value::as_str) {
        if id != process.id.as_str() {
            mismatches.push(format!(
                "id is {id:?} but the CWL tool's id is {:?}",
                process.id.as_str()
            ));
        }
    }
    let ids = |member: &str| -> Option<Vec<String>> {
        match description.get(member)? {
            Value::Object(map) => Some(map.keys().cloned().collect()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.get("id").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect(),
            ),
            _ => None,
        }
    };
    let mut compare = |member: &str, ours: Vec<&str>| {
        let Some(theirs) = ids(member) else { return };
        for id in &theirs {
            if !ours.contains(&id.as_str()) {
                mismatches.push(format!(
                    "{member} lists {id:?}, which the CWL tool does not have"
                ));
            }
        }
        for id in ours {
            if !theirs.iter().any(|t| t == id) {
                mismatches.push(format!("{member} lacks {id:?}, which the CWL tool has"));
            }
        }
    };
    compare(
        "inputs",
        process.inputs.iter().map(|i| i.id.as_str()).collect(),
    );
    compare(
        "outputs",
        process.outputs.iter().map(|o| o.id.as_str()).collect(),
    );
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(DeployError::invalid(
            "/processDescription",
            format!(
                "the process description does not match the CWL: {} (the description is \
                 read from the CWL; leave processDescription out, or make it agree)",
                mismatches.join("; ")
            ),
        ))
    }
}
