//! What authentication keeps (README, "Authentication and ownership"): API keys (hashed),
//! the audit trail of who changed what, and the per-user count of active jobs. Users are
//! not rows of their own: a user is the subject of a token or the user of a key.

use super::backend::{Backend, SqlStore};
use super::common::{corrupt, decode_time, micros};
use super::sql_store::{column, sql, Row};
use super::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// One API key as stored: everything but the key, of which only a hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Public id (`ades keys revoke ID`).
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// Its roles (`admin`, `user`, `reader`), as given.
    pub roles: Vec<String>,
    /// What it is for; may be empty.
    pub name: String,
    pub created: OffsetDateTime,
    /// When it was revoked; `None` while it works.
    pub revoked: Option<OffsetDateTime>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// A user, `admin-token` or `anonymous`.
    pub actor: String,
    /// `deploy`, `replace`, `undeploy`, `submit`, `dismiss`.
    pub action: String,
    /// A process id or a job id.
    pub target: String,
    /// More about it; may be empty.
    pub detail: String,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Stores a new key under the hash of its secret; committed on return.
    async fn insert_api_key(&self, key: &ApiKeyRecord, key_hash: &str) -> Result<(), StoreError>;

    /// The key whose secret hashes to `key_hash`, revoked or not.
    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Every key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes a working key; `false` when there is no such key or it was revoked already.
    async fn revoke_api_key(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// How many jobs of `owner` are `accepted` or `running`.
    async fn count_active_jobs_of(&self, owner: &str) -> Result<u64, StoreError>;

    /// Appends to the audit trail; committed on return.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest `limit` entries, newest first.
    async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The one implementation, over any SQL backend. Every write is one statement on the
/// write pool (committed on return).
#[async_trait]
impl<B: Backend> UserStore for SqlStore<B> {
    async fn insert_api_key(&self, key: &ApiKeyRecord, key_hash: &str) -> Result<(), StoreError> {
        sql::<B>(B::SQL.insert_api_key)
            .bind(key.id.clone())
            .bind(key_hash.to_owned())
            .bind(key.user.clone())
            .bind(key.roles.join(","))
            .bind(key.name.clone())
            .bind(micros(key.created))
            .execute(self.backend.writer(), "insert an API key")
            .await?;
        Ok(())
    }

    async fn find_api_key(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sql::<B>(B::SQL.find_api_key)
            .bind(key_hash.to_owned())
            .fetch_optional(self.backend.reader(), "read an API key")
            .await?;
        row.as_ref().map(decode_key::<B>).transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = sql::<B>(B::SQL.list_api_keys)
            .fetch_all(self.backend.reader(), "list API keys")
            .await?;
        rows.iter().map(decode_key::<B>).collect()
    }

    async fn revoke_api_key(&self, id: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let done = sql::<B>(B::SQL.revoke_api_key)
            .bind(id.to_owned())
            .bind(micros(now))
            .execute(self.backend.writer(), "revoke an API key")
            .await?;
        Ok(B::rows_affected(&done) > 0)
    }

    async fn count_active_jobs_of(&self, owner: &str) -> Result<u64, StoreError> {
        let row = sql::<B>(B::SQL.count_active_jobs_of)
            .bind(owner.to_owned())
            .fetch_one(self.backend.reader(), "count a user's jobs")
            .await?;
        let active: i64 = column::<B, _>(&row, "active")?;
        u64::try_from(active).map_err(|e| corrupt("active", e))
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit_row::<B>(entry)
            .execute(self.backend.writer(), "append to the audit trail")
            .await?;
        Ok(())
    }

    async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sql::<B>(B::SQL.list_audit)
            .bind(i64::from(limit))
            .fetch_all(self.backend.reader(), "read the audit trail")
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: decode_time(column::<B, _>(row, "at")?, "at")?,
                    actor: column::<B, _>(row, "actor")?,
                    action: column::<B, _>(row, "action")?,
                    target: column::<B, _>(row, "target")?,
                    detail: column::<B, _>(row, "detail")?,
                })
            })
            .collect()
    }
}

fn decode_key<B: Backend>(row: &Row<B>) -> Result<ApiKeyRecord, StoreError> {
    let roles: String = column::<B, _>(row, "roles")?;
    Ok(ApiKeyRecord {
        id: column::<B, _>(row, "id")?,
        user: column::<B, _>(row, "user_name")?,
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        name: column::<B, _>(row, "name")?,
        created: decode_time(column::<B, _>(row, "created")?, "created")?,
        revoked: column::<B, Option<i64>>(row, "revoked")?
            .map(|us| decode_time(us, "revoked"))
            .transpose()?,
    })
}
/// The statement appending `entry` to the audit trail, on the writer or inside another
/// write's transaction (a submission's, `sql_store::insert_in`).
pub(super) fn audit_row<B: Backend>(entry: &AuditEntry) -> super::sql::Statement<B::Db> {
    sql::<B>(B::SQL.insert_audit)
        .bind(micros(entry.at))
        .bind(entry.actor.clone())
        .bind(entry.action.clone())
        .bind(entry.target.clone())
        .bind(entry.detail.clone())
}
