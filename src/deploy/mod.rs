//! Deploy, replace and undeploy processes (OGC API - Processes Part 2; WPS-T shares it).
//!
//! A deploy reads the package (`package.rs`), finds the image — in the local engine first,
//! else in its registry without pulling (`resolve.rs`) — takes the Seed manifest from the
//! package or the image's label, validates it, pins the image to its digest, stores the
//! process ([`ProcessStore`]) and publishes it in the catalogue. Nothing is stored until
//! every check passed, so a refused package leaves nothing behind.
//!
//! Rules:
//! * a deployed id that exists is a conflict (409); an id of a built-in process (a scanned
//!   image) cannot be deployed, replaced or undeployed (403, immutable);
//! * jobs run the pinned digest: a tag moved in the registry never changes a deployed
//!   process; replace pins again, explicitly;
//! * undeploy withdraws the process: running jobs finish, past jobs keep their records and
//!   outputs; queued jobs that have not started fail when a worker picks them up.

pub mod cwl;
pub mod package;
pub mod resolve;

use crate::auth::Caller;
use crate::catalog::deployed::deployed_process;
use crate::catalog::Catalog;
use crate::domain::{Process, ProcessId};
use crate::engine::ImageStore;
use crate::error::{ApiError, ErrorCode};
use crate::registry::{RegistryClient, RegistryError};
use crate::store::{DeployedProcess, JobStore, ProcessWriteError, StoreError};
pub use package::Package;
use std::sync::Arc;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("deploy bodies of type {0:?} are not supported")]
    UnsupportedMediaType(String),
    /// The package is not usable; `pointer` locates the problem in the body (JSON pointer).
    #[error("{message}{}", located_at(pointer))]
    Invalid { pointer: String, message: String },
    #[error(
        "process {0} is already deployed: replace it with PUT /processes/{0}, or undeploy it first"
    )]
    Duplicate(String),
    #[error("process {0} is built in (an image of the local engine or the configuration) and cannot be deployed over, replaced or undeployed")]
    Immutable(String),
    #[error("process {0} is not deployed here")]
    NotFound(String),
    /// `?w=` names no process of the CWL document.
    #[error("the CWL document has no process {0:?} (the w parameter): name one of its ids")]
    EntryNotFound(String),
    /// The image could not be read (not found, registry unreachable or refusing).
    #[error("{0}")]
    Image(String),
    /// The caller may not change processes (no credential: 401; not an admin: 403).
    #[error(transparent)]
    Denied(#[from] crate::auth::Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeployError {
    /// This error as both façades answer it, from the one table in `crate::error`.
    pub fn into_api_error(self) -> ApiError {
        match self {
            DeployError::UnsupportedMediaType(media_type) => unsupported(&media_type),
            DeployError::Invalid { .. } => {
                ApiError::new(ErrorCode::InvalidPackage, self.to_string())
            }
            DeployError::Duplicate(_) => {
                ApiError::new(ErrorCode::DuplicatedProcess, self.to_string())
            }
            DeployError::Immutable(_) => {
                ApiError::new(ErrorCode::ImmutableProcess, self.to_string())
            }
            DeployError::NotFound(id) => ApiError::no_such_process(&id),
            DeployError::EntryNotFound(_) => ApiError::new(
                ErrorCode::InvalidPackage,
                self.to_string(),
            )
            .with_type(
                "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/workflow-not-found",
            ),
            DeployError::Image(message) => ApiError::new(ErrorCode::InvalidPackage, message),
            DeployError::Denied(denied) => denied.to_api_error(),
            DeployError::Store(err) => ApiError::internal("storing a deployed process", &err),
        }
    }
}

/// The 415 for a package of a type not deployed here, listing the accepted ones.
fn unsupported(media_type: &str) -> ApiError {
    let declared = if media_type.is_empty() {
        "The body has no Content-Type".to_string()
    } else {
        format!("Packages of type {media_type:?} are not deployed here")
    };
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!("{declared}; send one of: {}.", package::ACCEPTED.join(", ")),
    )
    .with_type(
        "http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/unsupported-media-type",
    )
}

/// ` (at /pointer)`, or nothing for the whole body.
fn located_at(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!(" (at {pointer})")
    }
}

impl DeployError {
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> DeployError {
        DeployError::Invalid {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl From<ProcessWriteError> for DeployError {
    fn from(err: ProcessWriteError) -> Self {
        match err {
            ProcessWriteError::Duplicate(id) => DeployError::Duplicate(id),
            ProcessWriteError::NotFound(id) => DeployError::NotFound(id),
            ProcessWriteError::Store(err) => DeployError::Store(err),
        }
    }
}

/// Deploys, replaces and undeploys. Cheap to clone.
#[derive(Clone)]
pub struct Deployer {
    catalog: Catalog,
    store: Arc<dyn JobStore>,
    registry: RegistryClient,
    /// The engine's images (`None`: deploys read registries only).
    images: Option<Arc<dyn ImageStore>>,
    /// The remote servers workflow steps may run on (described at deploy).
    remotes: crate::remote::Remotes,
    /// This server's base URL as configured (`server.public_url`), for the `process` URLs
    /// of a deployable workflow; empty: only `/processes/<id>` paths name local ones.
    public_url: String,
    /// Fetches packages given by reference (CWL `href`), through the address guard.
    http: reqwest::Client,
    /// Whether those references may reach the server's own network.
    allow_private_urls: bool,
}

/// A checked deploy: the row and process, and the processes deployed with it (the tools
/// of a CWL Workflow), written before it.
pub(super) type Prepared = (DeployedProcess, Process, Vec<(DeployedProcess, Process)>);

impl Deployer {
    pub fn new(
        catalog: Catalog,
        store: Arc<dyn JobStore>,
        registry: RegistryClient,
        images: Option<Arc<dyn ImageStore>>,
    ) -> Deployer {
        Deployer {
            catalog,
            store,
            registry,
            images,
            remotes: crate::remote::Remotes::default(),
            public_url: String::new(),
            http: outbound_client(false),
            allow_private_urls: false,
        }
    }

    /// The same deployer, knowing the remote servers and this server's public URL.
    pub fn with_remotes(mut self, remotes: crate::remote::Remotes, public_url: &str) -> Self {
        self.remotes = remotes;
        self.public_url = public_url.trim_end_matches('/').to_string();
        self
    }

    /// The same deployer, fetching packages given by reference from private addresses too
    /// when `allow_private_urls` (the operator's `queue.allow_private_urls`).
    pub fn with_private_urls(mut self, allow_private_urls: bool) -> Deployer {
        self.http = outbound_client(allow_private_urls);
        self.allow_private_urls = allow_private_urls;
        self
    }

    /// Appends a change of the process set to the audit trail (logged when that fails:
    /// the change itself is done).
    async fn audit(&self, caller: &Caller, action: &str, id: &str, detail: &str) {
        let entry = crate::store::AuditEntry {
            at: time::OffsetDateTime::now_utc(),
            actor: caller.actor(),
            action: action.to_string(),
            target: id.to_string(),
            detail: detail.to_string(),
        };
        if let Err(err) = self.store.append_audit(&entry).await {
            tracing::error!(error = %err, action, process = id, "cannot append to the audit trail");
        }
    }

    /// Deploys a new process (the caller must be allowed to: the admin token, or the admin
    /// role with authentication on).
    pub async fn deploy(
        &self,
        caller: &Caller,
        package: &Package,
    ) -> Result<Arc<Process>, DeployError> {
        caller.require_deployer()?;
        let (record, process, parts) = self.prepare(package).await?;
        // The process itself first: a package deployed twice names its own id.
        if !parts.is_empty() && self.store.get_process(&record.id).await?.is_some() {
            return Err(DeployError::Duplicate(record.id));
        }
        for (part, part_process) in &parts {
            if self.catalog.get_builtin(&part_process.id).is_some() {
                return Err(DeployError::Immutable(part.id.clone()));
            }
            if self.store.get_process(&part.id).await?.is_some() {
                return Err(DeployError::Duplicate(part.id.clone()));
            }
        }
        if self.catalog.get_builtin(&process.id).is_some() {
            return Err(DeployError::Immutable(record.id));
        }
        self.insert_parts(caller, &parts).await?;
        if let Err(err) = self.store.insert_process(&record).await {
            self.withdraw_parts(&parts).await;
            return Err(err.into());
        }
        let process = Arc::new(process);
        self.catalog.put_deployed(process.clone());
        tracing::info!(process = %record.id, image = %record.pinned_image, actor = %caller.actor(), "process deployed");
        self.audit(caller, "deploy", &record.id, &record.pinned_image)
            .await;
        Ok(process)
    }

    /// Replaces deployed process `id` with the package (which must describe the same id).
    pub async fn replace(
        &self,
        caller: &Caller,
        id: &str,
        package: &Package,
    ) -> Result<Arc<Process>, DeployError> {
        caller.require_deployer()?;
        self.check_mutable(id).await?;
        let (record, process, parts) = self.prepare(package).await?;
        if record.id != id {
            return Err(DeployError::invalid(
                "",
                format!(
                    "the package describes process {:?}, not {id:?}: a replacement keeps the id",
                    record.id
                ),
            ));
        }
        for (part, part_process) in &parts {
            if self.catalog.get_builtin(&part_process.id).is_some() {
                return Err(DeployError::Immutable(part.id.clone()));
            }
            match self.store.get_process(&part.id).await? {
                Some(existing) if cwl::part_of(&existing) != Some(id) => {
                    return Err(DeployError::Duplicate(part.id.clone()))
                }
                Some(_) => self.store.replace_process(part).await?,
                None => self.store.insert_process(part).await?,
            }
            self.catalog.put_deployed(Arc::new(part_process.clone()));
        }
        self.store.replace_process(&record).await?;
        let process = Arc::new(process);
        self.catalog.put_deployed(process.clone());
        tracing::info!(process = %record.id, image = %record.pinned_image, actor = %caller.actor(), "process replaced");
        self.audit(caller, "replace", &record.id, &record.pinned_image)
            .await;
        Ok(process)
    }

    /// Undeploys process `id`.
    pub async fn undeploy(&self, caller: &Caller, id: &str) -> Result<(), DeployError> {
        caller.require_deployer()?;
        let process_id = self.check_mutable(id).await?;
        let row = self.store.get_process(id).await?;
        self.store.delete_process(id).await?;
        self.catalog.remove_deployed(&process_id);
        tracing::info!(process = %id, actor = %caller.actor(), "process undeployed");
        self.audit(caller, "undeploy", id, "").await;
        // A CWL Workflow takes the tools deployed with it along.
        let steps: Vec<String> = row
            .and_then(|row| serde_json::from_value::<crate::workflow::Workflow>(row.manifest).ok())
            .map(|w| w.steps.into_iter().map(|s| s.process).collect())
            .unwrap_or_default();
        for step in steps {
            let Some(part) = self.store.get_process(&step).await? else {
                continue;
            };
            if cwl::part_of(&part) != Some(id) {
                continue;
            }
            self.store.delete_process(&step).await?;
            if let Ok(step_id) = ProcessId::parse(&step) {
                self.catalog.remove_deployed(&step_id);
            }
            self.audit(caller, "undeploy", &step, &format!("part of {id}"))
                .await;
        }
        Ok(())
    }

    /// Stores and publishes the processes deployed with another (the tools of a CWL
    /// Workflow); on a failure, those already stored are withdrawn.
    async fn insert_parts(
        &self,
        caller: &Caller,
        parts: &[(DeployedProcess, Process)],
    ) -> Result<(), DeployError> {
        for (i, (part, process)) in parts.iter().enumerate() {
            if let Err(err) = self.store.insert_process(part).await {
                self.withdraw_parts(&parts[..i]).await;
                return Err(err.into());
            }
            self.catalog.put_deployed(Arc::new(process.clone()));
            self.audit(caller, "deploy", &part.id, &part.pinned_image)
                .await;
        }
        Ok(())
    }

    /// Withdraws processes stored by [`Self::insert_parts`] when the deploy failed after.
    async fn withdraw_parts(&self, parts: &[(DeployedProcess, Process)]) {
        for (part, process) in parts {
            if let Err(err) = self.store.delete_process(&part.id).await {
                tracing::error!(error = %err, process = %part.id, "cannot withdraw a part of a failed deploy");
            }
            self.catalog.remove_deployed(&process.id);
        }
    }

    /// The package process `id` was deployed (or last replaced) with: media type and body.
    pub async fn package(&self, id: &str) -> Result<(String, Vec<u8>), DeployError> {
        match self.store.get_process(id).await? {
            Some(row) => Ok((row.package_media_type, row.package)),
            None => {
                let builtin = ProcessId::parse(id)
                    .ok()
                    .and_then(|pid| self.catalog.get_builtin(&pid));
                match builtin {
                    Some(_) => Err(DeployError::Immutable(id.to_string())),
                    None => Err(DeployError::NotFound(id.to_string())),
                }
            }
        }
    }

    /// `id` as a process id when it is deployed here; built-in → immutable, else not found.
    async fn check_mutable(&self, id: &str) -> Result<ProcessId, DeployError> {
        let process_id = ProcessId::parse(id).map_err(|_| DeployError::NotFound(id.to_string()))?;
        if self.store.get_process(id).await?.is_some() {
            return Ok(process_id);
        }
        if self.catalog.get_builtin(&process_id).is_some() {
            return Err(DeployError::Immutable(id.to_string()));
        }
        Err(DeployError::NotFound(id.to_string()))
    }

    /// Everything a deploy or replace needs, checked, before anything is written.
    async fn prepare(&self, package: &Package) -> Result<Prepared, DeployError> {
        let essence = crate::jobs::request::media_type_essence(&package.media_type);
        if essence == crate::workflow::RECIPE_MEDIA_TYPE {
            let (record, process) = self.prepare_recipe(package, essence).await?;
            return Ok((record, process, Vec::new()));
        }
        if let Some((id, request)) = package::deployable_workflow(package)? {
            let (record, process) = self.prepare_deployable(package, &id, &request).await?;
            return Ok((record, process, Vec::new()));
        }
        if let Some(cwl) = cwl::read_cwl(package)? {
            return self.prepare_cwl(package, cwl).await;
        }
        let spec = package::read_package(package)?;
        let embedded = match &spec.manifest {
            Some(document) => Some(valid_manifest(
                document.clone(),
                "the package's Seed manifest",
            )?),
            None => None,
        };
        let image = match (&spec.image, &embedded) {
            (Some(image), _) => image.clone(),
            (None, Some(manifest)) => seed::names::image_name(&manifest.job),
            (None, None) => {
                return Err(DeployError::invalid("", "the package names no image"));
            }
        };
        let resolved = resolve::resolve(self.images.as_deref(), &self.registry, &image).await?;
        let manifest = match embedded {
            Some(manifest) => manifest,
            None => {
                let label = resolved.label.as_deref().ok_or_else(|| {
                    DeployError::Image(format!(
                        "image {image} has no {} label, so it is not a Seed image: build it \
                         with `ades seed build`, or send its manifest with the package",
                        seed::label::LABEL_KEY
                    ))
                })?;
                let document = seed::label::decode_label(label).map_err(|err| {
                    DeployError::Image(format!(
                        "the Seed label of image {image} cannot be read: {err}"
                    ))
                })?;
                valid_manifest(document, &format!("the Seed label of image {image}"))?
            }
        };
        if let Some(described) = &spec.described_id {
            if described != &manifest.job.name {
                return Err(DeployError::invalid(
                    "/processDescription/process/id",
                    format!(
                        "the process description names {described:?} but the Seed manifest's job \
                         is {:?}: the process id is the job name",
                        manifest.job.name
                    ),
                ));
            }
        }
        let process = deployed_process(&manifest, &resolved.requested, &resolved.pinned)
            .map_err(|reason| DeployError::invalid("/job/name", reason))?;
        let now = OffsetDateTime::now_utc();
        let record = DeployedProcess {
            id: manifest.job.name.clone(),
            package_media_type: crate::jobs::request::media_type_essence(&package.media_type),
            package: package.body.clone(),
            image: resolved.requested,
            pinned_image: resolved.pinned,
            manifest: serde_json::to_value(&manifest).map_err(|err| {
                DeployError::invalid("", format!("the manifest cannot be stored: {err}"))
            })?,
            deployed: now,
            updated: now,
        };
        Ok((record, process, Vec::new()))
    }
}

impl Deployer {
    /// A Scale recipe type, checked against the processes offered now (every problem
    /// listed at once). The compiled workflow is stored in the row's manifest column, so
    /// it is rebuilt after a restart as it was checked.
    async fn prepare_recipe(
        &self,
        package: &Package,
        media_type: String,
    ) -> Result<(DeployedProcess, Process), DeployError> {
        let document = package::parse_json(&package.body)?;
        let refuse = |problems: Vec<crate::workflow::Problem>| {
            DeployError::invalid(
                "",
                format!(
                    "the recipe cannot be deployed: {}",
                    crate::workflow::describe_problems(&problems)
                ),
            )
        };
        let draft = crate::workflow::recipe::read_recipe(&document).map_err(refuse)?;
        // Nodes on remote servers (`<remote>:<process id>`) are described there now.
        let names = draft
            .steps
            .iter()
            .filter(|s| crate::remote::split_step_process(&s.process).is_some())
            .map(|s| s.process.clone())
            .collect();
        let described =
            crate::workflow::remote_step::describe_remote_processes(&self.remotes, &names)
                .await
                .map_err(refuse)?;
        let lookup = |id: &str| {
            described.get(id).cloned().or_else(|| {
                ProcessId::parse(id)
                    .ok()
                    .and_then(|id| self.catalog.get(&id))
            })
        };
        let workflow = Arc::new(crate::workflow::compile(draft, &lookup).map_err(refuse)?);
        self.workflow_record(package, media_type, workflow)
    }

    /// A Part 3 deployable workflow: an execute request with `{"$input": ...}` inputs,
    /// checked like a recipe, its remote processes described now.
    async fn prepare_deployable(
        &self,
        package: &Package,
        id: &str,
        request: &serde_json::Value,
    ) -> Result<(DeployedProcess, Process), DeployError> {
        let refuse = |problems: Vec<crate::workflow::Problem>| {
            DeployError::invalid(
                "",
                format!(
                    "the workflow cannot be deployed: {}",
                    crate::workflow::describe_problems(&problems)
                ),
            )
        };
        let names = crate::workflow::nested::remote_processes(request, &self.remotes);
        let described =
            crate::workflow::remote_step::describe_remote_processes(&self.remotes, &names)
                .await
                .map_err(refuse)?;
        let lookup = |id: &str| {
            described.get(id).cloned().or_else(|| {
                ProcessId::parse(id)
                    .ok()
                    .and_then(|id| self.catalog.get(&id))
            })
        };
        let base = if package.base_url.is_empty() {
            &self.public_url
        } else {
            &package.base_url
        };
        let resolver = crate::workflow::nested::Resolver {
            base,
            remotes: &self.remotes,
            lookup: &lookup,
        };
        let workflow =
            crate::workflow::nested::deployable(id, request, &resolver).map_err(refuse)?;
        let media_type = crate::jobs::request::media_type_essence(&package.media_type);
        self.workflow_record(package, media_type, Arc::new(workflow))
    }

    /// The row and process of a checked workflow. The compiled workflow is stored in the
    /// row's manifest column, so it is rebuilt after a restart as it was checked.
    fn workflow_record(
        &self,
        package: &Package,
        media_type: String,
        workflow: Arc<crate::workflow::Workflow>,
    ) -> Result<(DeployedProcess, Process), DeployError> {
        let process = workflow
            .to_process()
            .map_err(|reason| DeployError::invalid("/name", reason))?;
        let now = OffsetDateTime::now_utc();
        let record = DeployedProcess {
            id: workflow.id.clone(),
            package_media_type: media_type,
            package: package.body.clone(),
            image: String::new(),
            pinned_image: String::new(),
            manifest: serde_json::to_value(workflow.as_ref()).map_err(|err| {
                DeployError::invalid("", format!("the workflow cannot be stored: {err}"))
            })?,
            deployed: now,
            updated: now,
        };
        Ok((record, process))
    }
}

/// The client packages given by reference are fetched with: 30 s to connect, 60 s of
/// silence, 5 minutes in all (a document, not a data file).
fn outbound_client(allow_private_urls: bool) -> reqwest::Client {
    crate::outbound::client(
        allow_private_urls,
        crate::outbound::Timeouts {
            connect: std::time::Duration::from_secs(30),
            read: std::time::Duration::from_secs(60),
            total: Some(std::time::Duration::from_secs(300)),
        },
    )
}

/// A validated manifest, or every problem with its pointer.
fn valid_manifest(document: serde_json::Value, what: &str) -> Result<seed::Manifest, DeployError> {
    seed::validate::manifest_from_value(document)
        .map(|valid| valid.manifest)
        .map_err(|problems| {
            DeployError::invalid(
                "",
                format!(
                    "{what} is not a valid Seed 1.0.0 manifest: {} (check it with `ades seed validate`)",
                    crate::catalog::manifest_errors(&problems)
                ),
            )
        })
}

impl From<RegistryError> for DeployError {
    fn from(err: RegistryError) -> Self {
        DeployError::Image(err.to_string())
    }
}
