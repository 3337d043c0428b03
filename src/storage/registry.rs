//! The named workspaces of a server: those of the configuration file (fixed, read-only
//! through the API) and those created through `/workspaces` (kept in the job store, so
//! every replica sees the same ones). Brokers are built when used, from the definition
//! read then, so an update on one replica takes effect on all of them at once.

use super::host::HostBroker;
use super::s3::S3Broker;
use super::spec::{BrokerSpec, WorkspaceSpec};
use super::{Broker, StorageError};
use crate::store::{StoreError, StoredWorkspace, WorkspaceStore, WorkspaceWriteError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

/// One workspace as the server knows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub spec: WorkspaceSpec,
    /// Whether it comes from the configuration file (then the API cannot change it).
    pub configured: bool,
    pub created: Option<OffsetDateTime>,
    pub updated: Option<OffsetDateTime>,
}

/// Why a workspace operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum WorkspacesError {
    #[error("there is no workspace named {0}; GET /workspaces lists them")]
    NotFound(String),
    #[error("a workspace named {0} already exists; update it with PUT /workspaces/{0}")]
    Duplicate(String),
    #[error(
        "the workspace {0} is defined in the configuration file ([workspaces.{0}]); change it \
         there"
    )]
    Configured(String),
    #[error("the workspace {0} is not active (is_active: false); activate it to use it")]
    Inactive(String),
    #[error(transparent)]
    Invalid(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<WorkspaceWriteError> for WorkspacesError {
    fn from(err: WorkspaceWriteError) -> Self {
        match err {
            WorkspaceWriteError::Duplicate(name) => WorkspacesError::Duplicate(name),
            WorkspaceWriteError::NotFound(name) => WorkspacesError::NotFound(name),
            WorkspaceWriteError::Store(err) => WorkspacesError::Store(err),
        }
    }
}

/// A product published to an output workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishedOutput {
    pub workspace: String,
    /// Inside the workspace: `<process>/<yyyy>/<mm>/<dd>/<job id>/<file>`.
    pub path: String,
    /// The file's path relative to the job's outputs.
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

/// The server's workspaces; cheap to clone.
#[derive(Clone, Default)]
pub struct Workspaces {
    configured: Arc<BTreeMap<String, WorkspaceSpec>>,
    store: Option<Arc<dyn WorkspaceStore>>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("configured", &self.configured.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Workspaces {
    /// The workspaces of the configuration (`[workspaces.<name>]`, the key is the name)
    /// and of `store`; the configured ones are checked now.
    pub fn new(
        configured: &BTreeMap<String, WorkspaceSpec>,
        store: Option<Arc<dyn WorkspaceStore>>,
    ) -> Result<Self, StorageError> {
        let mut checked = BTreeMap::new();
        for (name, spec) in configured {
            let mut spec = spec.clone();
            if spec.name.is_empty() {
                spec.name = name.clone();
            } else if &spec.name != name {
                return Err(StorageError::Invalid(format!(
                    "workspaces.{name}.name is {:?}: leave it out (the table's key is the name)",
                    spec.name
                )));
            }
            checked.insert(name.clone(), spec.normalise()?);
        }
        Ok(Workspaces {
            configured: Arc::new(checked),
            store,
        })
    }

    fn stored(row: StoredWorkspace) -> Result<Entry, WorkspacesError> {
        let spec: WorkspaceSpec = serde_json::from_value(row.definition).map_err(|e| {
            StorageError::Invalid(format!(
                "the stored workspace {} is unreadable: {e}",
                row.name
            ))
        })?;
        Ok(Entry {
            spec,
            configured: false,
            created: Some(row.created),
            updated: Some(row.updated),
        })
    }

    fn configured_entry(spec: &WorkspaceSpec) -> Entry {
        Entry {
            spec: spec.clone(),
            configured: true,
            created: None,
            updated: None,
        }
    }

    /// Every workspace, sorted by name (a configured one hides a stored one of its name).
    pub async fn list(&self) -> Result<Vec<Entry>, WorkspacesError> {
        let mut all: BTreeMap<String, Entry> = BTreeMap::new();
        if let Some(store) = &self.store {
            for row in store.list_workspaces().await? {
                let entry = Self::stored(row)?;
                all.insert(entry.spec.name.clone(), entry);
            }
        }
        for (name, spec) in self.configured.iter() {
            all.insert(name.clone(), Self::configured_entry(spec));
        }
        Ok(all.into_values().collect())
    }

    pub async fn get(&self, name: &str) -> Result<Entry, WorkspacesError> {
        if let Some(spec) = self.configured.get(name) {
            return Ok(Self::configured_entry(spec));
        }
        let row = match &self.store {
            Some(store) => store.get_workspace(name).await?,
            None => None,
        };
        row.map(Self::stored)
            .transpose()?
            .ok_or_else(|| WorkspacesError::NotFound(name.to_string()))
    }

    fn store(&self) -> Result<&Arc<dyn WorkspaceStore>, WorkspacesError> {
        self.store.as_ref().ok_or_else(|| {
            StorageError::Invalid(
                "this server keeps no workspaces of its own (no job store)".to_string(),
            )
            .into()
        })
    }

    /// Stores a new workspace (after checking it).
    pub async fn create(&self, spec: WorkspaceSpec) -> Result<Entry, WorkspacesError> {
        let spec = spec.normalise()?;
        if self.configured.contains_key(&spec.name) {
            return Err(WorkspacesError::Configured(spec.name));
        }
        let now = OffsetDateTime::now_utc();
        let row = StoredWorkspace {
            name: spec.name.clone(),
            definition: serde_json::to_value(&spec).expect("a workspace serialises"),
            created: now,
            updated: now,
        };
        self.store()?.insert_workspace(&row).await?;
        Self::stored(row)
    }

    /// Replaces the definition of `name` (a secret sent back as `<hidden>` is kept).
    pub async fn update(&self, name: &str, spec: WorkspaceSpec) -> Result<Entry, WorkspacesError> {
        if self.configured.contains_key(name) {
            return Err(WorkspacesError::Configured(name.to_string()));
        }
        let mut spec = spec;
        if spec.name.is_empty() {
            spec.name = name.to_string();
        } else if spec.name != name {
            return Err(StorageError::Invalid(format!(
                "the body names the workspace {:?} but the URL {name:?}; a workspace cannot be \
                 renamed (create the new name, then delete this one)",
                spec.name
            ))
            .into());
        }
        let stored = self.get(name).await?;
        let spec = spec.keep_hidden_secret_of(&stored.spec).normalise()?;
        let row = StoredWorkspace {
            name: name.to_string(),
            definition: serde_json::to_value(&spec).expect("a workspace serialises"),
            created: stored.created.unwrap_or_else(OffsetDateTime::now_utc),
            updated: OffsetDateTime::now_utc(),
        };
        self.store()?.replace_workspace(&row).await?;
        Self::stored(row)
    }

    /// Forgets the workspace (its files stay where they are).
    pub async fn delete(&self, name: &str) -> Result<(), WorkspacesError> {
        if self.configured.contains_key(name) {
            return Err(WorkspacesError::Configured(name.to_string()));
        }
        match &self.store {
            Some(store) => Ok(store.delete_workspace(name).await?),
            None => Err(WorkspacesError::NotFound(name.to_string())),
        }
    }

    /// The broker of the active workspace `name`.
    pub async fn broker(&self, name: &str) -> Result<Arc<dyn Broker>, WorkspacesError> {
        let entry = self.get(name).await?;
        broker_of(&entry.spec)
    }

    /// The workspace covering `s3://<bucket>/<key>`: an S3 workspace of that bucket whose
    /// prefix holds the key, with the key's path inside it (the longest prefix wins).
    pub async fn for_s3_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, WorkspacesError> {
        let mut best: Option<(usize, String, String)> = None;
        for entry in self.list().await? {
            let BrokerSpec::S3 {
                bucket_name,
                prefix,
                ..
            } = entry.spec.broker()
            else {
                continue;
            };
            if bucket_name != bucket {
                continue;
            }
            let prefix = prefix.trim_end_matches('/');
            let path = if prefix.is_empty() {
                Some(key)
            } else {
                key.strip_prefix(prefix).and_then(|k| k.strip_prefix('/'))
            };
            if let Some(path) = path {
                if best.as_ref().is_none_or(|(len, _, _)| prefix.len() > *len) {
                    best = Some((prefix.len(), entry.spec.name.clone(), path.to_string()));
                }
            }
        }
        Ok(best.map(|(_, name, path)| (name, path)))
    }

    /// The broker and path a `workspace://<name>/<path>` or `s3://<bucket>/<key>`
    /// reference names (percent-escapes decoded; the path checked with
    /// [`super::clean_path`]); `Ok(None)` for other schemes.
    pub async fn resolve_reference(
        &self,
        url: &url::Url,
    ) -> Result<Option<(Arc<dyn Broker>, String)>, WorkspacesError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let path = url.path().strip_prefix('/').unwrap_or(url.path());
        let path = percent_decode(path);
        let (name, path) = match url.scheme() {
            "workspace" => (host, path),
            "s3" => match self.for_s3_object(&host, &path).await? {
                Some(found) => found,
                None => {
                    return Err(StorageError::Invalid(format!(
                        "no workspace of this server covers the bucket {host:?} (and key                          prefix); an admin adds one (POST /workspaces with an s3 broker), or                          name the file as workspace://<name>/<path>"
                    ))
                    .into())
                }
            },
            _ => return Ok(None),
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(StorageError::BadPath(
                "a workspace reference has no query or fragment".to_string(),
            )
            .into());
        }
        super::clean_path(&path)?;
        let broker = self.broker(&name).await?;
        Ok(Some((broker, path)))
    }

    /// Publishes every regular file under `outputs_dir` (links are never followed) to the
    /// workspace `name` at `<process>/<yyyy>/<mm>/<dd>/<job id>/<file>`, streamed and
    /// checksummed; `day` is the job's creation time.
    pub async fn publish(
        &self,
        name: &str,
        process: &str,
        job_id: &str,
        day: OffsetDateTime,
        outputs_dir: &Path,
    ) -> Result<Vec<PublishedOutput>, WorkspacesError> {
        let broker = self.broker(name).await?;
        let base = published_dir(process, job_id, day);
        let source = HostBroker::new(outputs_dir.to_path_buf());
        let mut published = Vec::new();
        for file in source.list("").await? {
            let path = format!("{base}/{}", file.path);
            let mut content =
                tokio_util::io::StreamReader::new(source.read(&file.path, None).await?);
            let written = broker.write(&path, &mut content).await?;
            published.push(PublishedOutput {
                workspace: name.to_string(),
                path,
                file: file.path,
                size: written.size,
                sha256: written.sha256,
            });
        }
        Ok(published)
    }
}

/// `%xx` escapes decoded (invalid ones kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `<process>/<yyyy>/<mm>/<dd>/<job id>`, the directory of a job's products.
pub fn published_dir(process: &str, job_id: &str, day: OffsetDateTime) -> String {
    let day = day.to_offset(time::UtcOffset::UTC);
    format!(
        "{process}/{:04}/{:02}/{:02}/{job_id}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// The broker a definition describes, refusing an inactive workspace.
pub fn broker_of(spec: &WorkspaceSpec) -> Result<Arc<dyn Broker>, WorkspacesError> {
    if !spec.is_active {
        return Err(WorkspacesError::Inactive(spec.name.clone()));
    }
    Ok(match spec.broker() {
        BrokerSpec::Host { host_path } => Arc::new(HostBroker::new(host_path.clone())),
        s3 @ BrokerSpec::S3 { .. } => Arc::new(S3Broker::from_spec(s3)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn products_land_in_dated_directories() {
        assert_eq!(
            published_dir("echo", "j1", datetime!(2026-03-07 23:30 -02:00)),
            "echo/2026/03/08/j1"
        );
    }

    #[tokio::test]
    async fn configured_workspaces_are_read_only_and_s3_keys_find_their_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let mut configured = BTreeMap::new();
        configured.insert(
            "raw".to_string(),
            WorkspaceSpec::host("", dir.path().to_path_buf()),
        );
        configured.insert(
            "bucket-a".to_string(),
            WorkspaceSpec::with_broker(
                "",
                BrokerSpec::S3 {
                    bucket_name: "a".into(),
                    prefix: "in".into(),
                    region_name: String::new(),
                    endpoint: String::new(),
                    credentials: None,
                    credentials_file: String::new(),
                    host_path: None,
                },
            ),
        );
        let workspaces = Workspaces::new(&configured, None).unwrap();
        assert_eq!(workspaces.get("raw").await.unwrap().spec.name, "raw");
        assert!(matches!(
            workspaces.delete("raw").await,
            Err(WorkspacesError::Configured(_))
        ));
        assert!(matches!(
            workspaces.get("nope").await,
            Err(WorkspacesError::NotFound(_))
        ));
        assert_eq!(
            workspaces.for_s3_object("a", "in/x/y.tif").await.unwrap(),
            Some(("bucket-a".to_string(), "x/y.tif".to_string()))
        );
        assert_eq!(
            workspaces.for_s3_object("a", "other/y.tif").await.unwrap(),
            None
        );
        assert_eq!(
            workspaces.for_s3_object("b", "in/y.tif").await.unwrap(),
            None
        );
    }
}
