//! What authentication keeps (README, "Authentication and ownership"): API keys (hashed),
//! the audit trail of who changed what, and the per-user count of active jobs. Users are
//! not rows of their own: a user is the subject of a token or the user of a key.

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

/// Writes `impl UserStore for $store` for one sqlx database, like
/// [`impl_process_store!`](super::common): the invoking module provides
/// `sql::INSERT_API_KEY`, `sql::FIND_API_KEY`, `sql::LIST_API_KEYS`, `sql::REVOKE_API_KEY`,
/// `sql::COUNT_ACTIVE_JOBS_OF`, `sql::INSERT_AUDIT`, `sql::LIST_AUDIT` and `reader()` /
/// `writer()` on the store. Every write is one statement (committed on return).
macro_rules! impl_user_store {
    (store: $store:ty, db: $db:ty, row: $row:ty $(,)?) => {
        /// The generated code, in a module of its own; it sees the backend module's items.
        mod user_store {
            use super::*;
            use $crate::store::common::{corrupt, database, decode_time, micros};
            use $crate::store::{ApiKeyRecord, AuditEntry, StoreError};

            #[::async_trait::async_trait]
            impl $crate::store::UserStore for $store {
                async fn insert_api_key(
                    &self,
                    key: &ApiKeyRecord,
                    key_hash: &str,
                ) -> Result<(), StoreError> {
                    ::sqlx::query(sql::INSERT_API_KEY)
                        .bind(key.id.as_str())
                        .bind(key_hash)
                        .bind(key.user.as_str())
                        .bind(key.roles.join(","))
                        .bind(key.name.as_str())
                        .bind(micros(key.created))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("insert an API key", e))?;
                    Ok(())
                }

                async fn find_api_key(
                    &self,
                    key_hash: &str,
                ) -> Result<Option<ApiKeyRecord>, StoreError> {
                    let row = ::sqlx::query(sql::FIND_API_KEY)
                        .bind(key_hash)
                        .fetch_optional(self.reader())
                        .await
                        .map_err(|e| database("read an API key", e))?;
                    row.as_ref().map(decode_key).transpose()
                }

                async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
                    let rows = ::sqlx::query(sql::LIST_API_KEYS)
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("list API keys", e))?;
                    rows.iter().map(decode_key).collect()
                }

                async fn revoke_api_key(
                    &self,
                    id: &str,
                    now: ::time::OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let done = ::sqlx::query(sql::REVOKE_API_KEY)
                        .bind(id)
                        .bind(micros(now))
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("revoke an API key", e))?;
                    Ok(done.rows_affected() > 0)
                }

                async fn count_active_jobs_of(&self, owner: &str) -> Result<u64, StoreError> {
                    let row = ::sqlx::query(sql::COUNT_ACTIVE_JOBS_OF)
                        .bind(owner)
                        .fetch_one(self.reader())
                        .await
                        .map_err(|e| database("count a user's jobs", e))?;
                    let active: i64 = column(&row, "active")?;
                    u64::try_from(active).map_err(|e| corrupt("active", e))
                }

                async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                    ::sqlx::query(sql::INSERT_AUDIT)
                        .bind(micros(entry.at))
                        .bind(entry.actor.as_str())
                        .bind(entry.action.as_str())
                        .bind(entry.target.as_str())
                        .bind(entry.detail.as_str())
                        .execute(self.writer())
                        .await
                        .map_err(|e| database("append to the audit trail", e))?;
                    Ok(())
                }

                async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
                    let rows = ::sqlx::query(sql::LIST_AUDIT)
                        .bind(i64::from(limit))
                        .fetch_all(self.reader())
                        .await
                        .map_err(|e| database("read the audit trail", e))?;
                    rows.iter()
                        .map(|row| {
                            Ok(AuditEntry {
                                at: decode_time(column(row, "at")?, "at")?,
                                actor: column(row, "actor")?,
                                action: column(row, "action")?,
                                target: column(row, "target")?,
                                detail: column(row, "detail")?,
                            })
                        })
                        .collect()
                }
            }

            fn decode_key(row: &$row) -> Result<ApiKeyRecord, StoreError> {
                let roles: String = column(row, "roles")?;
                Ok(ApiKeyRecord {
                    id: column(row, "id")?,
                    user: column(row, "user_name")?,
                    roles: roles
                        .split(',')
                        .filter(|r| !r.is_empty())
                        .map(str::to_string)
                        .collect(),
                    name: column(row, "name")?,
                    created: decode_time(column(row, "created")?, "created")?,
                    revoked: column::<Option<i64>>(row, "revoked")?
                        .map(|us| decode_time(us, "revoked"))
                        .transpose()?,
                })
            }

            fn column<'r, T>(row: &'r $row, name: &str) -> Result<T, StoreError>
            where
                T: ::sqlx::Decode<'r, $db> + ::sqlx::Type<$db>,
            {
                ::sqlx::Row::try_get(row, name).map_err(|e| corrupt(name, e))
            }
        }
    };
}

pub(super) use impl_user_store;
