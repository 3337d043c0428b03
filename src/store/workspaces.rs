//! Named workspaces created through `/workspaces` (see `crate::storage`): one row per name,
//! the definition kept as JSON, shared by every replica of the database. Those of the
//! configuration file are not stored.

use super::backend::{Backend, SqlStore};
use super::common::{database, decode_time, from_json, is_unique_violation, micros, to_json};
use super::sql_store::{column, sql, Row};
use super::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// One stored workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWorkspace {
    pub name: String,
    /// The definition (`crate::storage::WorkspaceSpec` as JSON, secrets included).
    pub definition: serde_json::Value,
    pub created: OffsetDateTime,
    /// Last update (= `created` until the first one).
    pub updated: OffsetDateTime,
}

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceWriteError {
    #[error("a workspace named {0} already exists")]
    Duplicate(String),
    #[error("there is no workspace named {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
    /// Stores a new workspace; an existing name is [`WorkspaceWriteError::Duplicate`]
    /// (decided by the database's key).
    async fn insert_workspace(
        &self,
        workspace: &StoredWorkspace,
    ) -> Result<(), WorkspaceWriteError>;

    /// Overwrites the definition of the workspace with this name (keeping `created`).
    async fn replace_workspace(
        &self,
        workspace: &StoredWorkspace,
    ) -> Result<(), WorkspaceWriteError>;

    async fn delete_workspace(&self, name: &str) -> Result<(), WorkspaceWriteError>;

    async fn get_workspace(&self, name: &str) -> Result<Option<StoredWorkspace>, StoreError>;

    /// Every stored workspace, sorted by name.
    async fn list_workspaces(&self) -> Result<Vec<StoredWorkspace>, StoreError>;
}

#[async_trait]
impl<B: Backend> WorkspaceStore for SqlStore<B> {
    async fn insert_workspace(
        &self,
        workspace: &StoredWorkspace,
    ) -> Result<(), WorkspaceWriteError> {
        let definition = to_json(&workspace.definition, "definition")?;
        sql::<B>(B::SQL.insert_workspace)
            .bind(workspace.name.clone())
            .bind(definition)
            .bind(micros(workspace.created))
            .bind(micros(workspace.updated))
            .try_execute(self.backend.writer())
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    WorkspaceWriteError::Duplicate(workspace.name.clone())
                } else {
                    database("insert a workspace", e).into()
                }
            })?;
        Ok(())
    }

    async fn replace_workspace(
        &self,
        workspace: &StoredWorkspace,
    ) -> Result<(), WorkspaceWriteError> {
        let definition = to_json(&workspace.definition, "definition")?;
        let done = sql::<B>(B::SQL.replace_workspace)
            .bind(workspace.name.clone())
            .bind(definition)
            .bind(micros(workspace.updated))
            .execute(self.backend.writer(), "replace a workspace")
            .await?;
        if B::rows_affected(&done) == 0 {
            return Err(WorkspaceWriteError::NotFound(workspace.name.clone()));
        }
        Ok(())
    }

    async fn delete_workspace(&self, name: &str) -> Result<(), WorkspaceWriteError> {
        let done = sql::<B>(B::SQL.delete_workspace)
            .bind(name.to_owned())
            .execute(self.backend.writer(), "delete a workspace")
            .await?;
        if B::rows_affected(&done) == 0 {
            return Err(WorkspaceWriteError::NotFound(name.to_owned()));
        }
        Ok(())
    }

    async fn get_workspace(&self, name: &str) -> Result<Option<StoredWorkspace>, StoreError> {
        let row = sql::<B>(B::SQL.get_workspace)
            .bind(name.to_owned())
            .fetch_optional(self.backend.reader(), "read a workspace")
            .await?;
        row.as_ref().map(decode_workspace::<B>).transpose()
    }

    async fn list_workspaces(&self) -> Result<Vec<StoredWorkspace>, StoreError> {
        let rows = sql::<B>(B::SQL.list_workspaces)
            .fetch_all(self.backend.reader(), "list workspaces")
            .await?;
        rows.iter().map(decode_workspace::<B>).collect()
    }
}

fn decode_workspace<B: Backend>(row: &Row<B>) -> Result<StoredWorkspace, StoreError> {
    Ok(StoredWorkspace {
        name: column::<B, _>(row, "name")?,
        definition: from_json(&column::<B, String>(row, "definition")?, "definition")?,
        created: decode_time(column::<B, _>(row, "created")?, "created")?,
        updated: decode_time(column::<B, _>(row, "updated")?, "updated")?,
    })
}
