//! A workspace's definition, in Scale's v6 workspace JSON (`name`, `title`, `description`,
//! `base_url`, `is_active`, `configuration: {broker: {type, ...}}`) with our additions:
//! `configuration.broker.prefix`, `.endpoint` and `.credentials_file` for S3, and
//! `delete_on_dismiss` and `presigned_url_seconds` at the top. The same shape is a
//! `[workspaces.<name>]` table of the configuration file and the body of `/workspaces`.
//! Scale's read-only fields (`id`, `created`, `last_modified`, `deprecated`) are accepted
//! and ignored, so a workspace read from Scale can be posted as is.

use super::StorageError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a secret is shown as.
pub const HIDDEN: &str = "<hidden>";

/// One workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSpec {
    /// The name used in `workspace://<name>/...` and in the URL; lower-case letters,
    /// digits, `-` and `_`. Derived from `title` when absent (as Scale does).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Where the workspace's files are published on the web, if they are (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// An inactive workspace keeps its definition but serves no reads or writes.
    #[serde(default = "active")]
    pub is_active: bool,
    pub configuration: Configuration,
    /// Ours: dismissing a job deletes the products it published here (off by default:
    /// published products usually outlive the job).
    #[serde(default)]
    pub delete_on_dismiss: bool,
    /// Ours: results link products of an S3 workspace as presigned URLs valid this long
    /// (seconds); 0 (default) serves them through ades, with its access checks.
    #[serde(default)]
    pub presigned_url_seconds: u64,
    // Scale's read-only fields: accepted, ignored, never written.
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    id: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    created: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    last_modified: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    deprecated: Option<serde_json::Value>,
}

fn active() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    pub broker: BrokerSpec,
}

/// Where the files are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BrokerSpec {
    /// A directory of the server's host (absolute path).
    Host {
        #[schema(value_type = String)]
        host_path: PathBuf,
    },
    /// A bucket of S3 or an S3-compatible store.
    S3 {
        bucket_name: String,
        /// Ours: only keys under this prefix belong to the workspace.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        prefix: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        region_name: String,
        /// Ours: the store's URL for S3-compatible stores (MinIO, SeaweedFS, Ceph...);
        /// empty = AWS.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        endpoint: String,
        /// Keys; without them (and without `credentials_file`) the server's environment
        /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, ...) is used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credentials: Option<S3Credentials>,
        /// Ours: a file holding the keys (AWS shared credentials format,
        /// `aws_access_key_id = ...` / `aws_secret_access_key = ...`), read when used.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        credentials_file: String,
        /// Scale's local mount of the bucket (for `partial` inputs); recorded, not yet used.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<String>)]
        host_path: Option<PathBuf>,
    },
}

#[derive(Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Credentials {
    pub access_key_id: String,
    /// A secret: shown as `<hidden>`; an update that sends `<hidden>` keeps the stored one.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &HIDDEN)
            .finish()
    }
}

impl WorkspaceSpec {
    /// A host workspace named `name` over `root` (for tests and examples).
    pub fn host(name: &str, root: PathBuf) -> Self {
        WorkspaceSpec::with_broker(name, BrokerSpec::Host { host_path: root })
    }

    pub fn with_broker(name: &str, broker: BrokerSpec) -> Self {
        WorkspaceSpec {
            name: name.to_string(),
            title: String::new(),
            description: String::new(),
            base_url: None,
            is_active: true,
            configuration: Configuration { broker },
            delete_on_dismiss: false,
            presigned_url_seconds: 0,
            id: None,
            created: None,
            last_modified: None,
            deprecated: None,
        }
    }

    pub fn broker(&self) -> &BrokerSpec {
        &self.configuration.broker
    }

    /// Fills the name (from the title when empty), then checks every field, saying what to
    /// change.
    pub fn normalise(mut self) -> Result<Self, StorageError> {
        if self.name.is_empty() {
            self.name = name_from_title(&self.title);
        }
        check_name(&self.name)?;
        if self.title.is_empty() {
            self.title = self.name.clone();
        }
        let bad = |message: String| Err(StorageError::Invalid(message));
        match &self.configuration.broker {
            BrokerSpec::Host { host_path } => {
                if !host_path.is_absolute() {
                    return bad(format!(
                        "workspace {}: configuration.broker.host_path {} must be an absolute \
                         directory path",
                        self.name,
                        host_path.display()
                    ));
                }
            }
            BrokerSpec::S3 {
                bucket_name,
                prefix,
                endpoint,
                credentials,
                ..
            } => {
                if bucket_name.is_empty() || bucket_name.contains('/') {
                    return bad(format!(
                        "workspace {}: configuration.broker.bucket_name must name a bucket \
                         (no /; put a key prefix in configuration.broker.prefix)",
                        self.name
                    ));
                }
                super::clean_prefix(prefix).map_err(|e| {
                    StorageError::Invalid(format!(
                        "workspace {}: configuration.broker.prefix: {e}",
                        self.name
                    ))
                })?;
                if !endpoint.is_empty()
                    && !endpoint.starts_with("http://")
                    && !endpoint.starts_with("https://")
                {
                    return bad(format!(
                        "workspace {}: configuration.broker.endpoint {endpoint:?} must be the \
                         store's http(s) URL, like https://s3.example.org (empty for AWS)",
                        self.name
                    ));
                }
                if let Some(c) = credentials {
                    if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                        return bad(format!(
                            "workspace {}: configuration.broker.credentials needs both \
                             access_key_id and secret_access_key (or leave credentials out to \
                             use the server's environment)",
                            self.name
                        ));
                    }
                }
            }
        }
        Ok(self)
    }

    /// The definition with its secrets replaced by `<hidden>`: what any answer or log shows.
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        if let BrokerSpec::S3 {
            credentials: Some(credentials),
            ..
        } = &mut shown.configuration.broker
        {
            credentials.secret_access_key = HIDDEN.to_string();
        }
        shown
    }

    /// An update that sends the secret back as `<hidden>` (as it was shown) keeps the
    /// stored one.
    pub fn keep_hidden_secret_of(mut self, stored: &WorkspaceSpec) -> Self {
        if let (
            BrokerSpec::S3 {
                credentials: Some(new),
                ..
            },
            BrokerSpec::S3 {
                credentials: Some(old),
                ..
            },
        ) = (&mut self.configuration.broker, &stored.configuration.broker)
        {
            if new.secret_access_key == HIDDEN {
                new.secret_access_key = old.secret_access_key.clone();
            }
        }
        self
    }
}

/// Scale's rule: the title lower-cased, runs of other characters made one `-`.
pub(crate) fn name_from_title(title: &str) -> String {
    let mut name = String::new();
    for c in title.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    name.trim_end_matches('-').to_string()
}

/// A workspace name: 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), StorageError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "the workspace name {name:?} must be 1 to 64 lower-case letters, digits, - or _, \
             starting with a letter or digit (give name, or a title to derive it from)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scale_v6_bodies_are_accepted_and_secrets_hidden() {
        let body = json!({
            "id": 1, "created": "2015-10-05T21:26:04.855Z", "deprecated": null,
            "last_modified": "2015-10-05T21:26:04.855Z",
            "title": "Raw Source", "description": "Raw Source Workspace",
            "base_url": "http://host.com/rs", "is_active": true,
            "configuration": {"broker": {
                "type": "s3", "bucket_name": "my_bucket.domain.com",
                "credentials": {"access_key_id": "AKIAIOSFODNN7EXAMPLE",
                                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                "host_path": "/my_bucket", "region_name": "us-east-1"}}
        });
        let spec: WorkspaceSpec = serde_json::from_value(body).unwrap();
        let spec = spec.normalise().unwrap();
        assert_eq!(spec.name, "raw-source");
        let shown = serde_json::to_string(&spec.redacted()).unwrap();
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(shown.contains(HIDDEN));
        assert!(!format!("{spec:?}").contains("wJalrXUtnFEMI"));
        let resent = spec.redacted().keep_hidden_secret_of(&spec);
        assert_eq!(resent, spec);
    }

    #[test]
    fn mistakes_say_what_to_change() {
        let host: WorkspaceSpec = serde_json::from_value(json!({
            "name": "in", "configuration": {"broker": {"type": "host", "host_path": "rel/dir"}}
        }))
        .unwrap();
        assert!(host
            .normalise()
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let named: WorkspaceSpec = serde_json::from_value(json!({
            "name": "Bad Name", "configuration": {"broker": {"type": "host", "host_path": "/d"}}
        }))
        .unwrap();
        assert!(named.normalise().is_err());
        let unknown = serde_json::from_value::<WorkspaceSpec>(json!({
            "name": "x", "configuration": {"broker": {"type": "nfs", "nfs_path": "h:/p"}}
        }));
        assert!(unknown.is_err());
    }
}
