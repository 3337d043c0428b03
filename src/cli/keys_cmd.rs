//! `ades keys create|list|revoke` (API keys for scripts) and `ades audit` (who deployed,
//! replaced, undeployed, submitted and dismissed what). Like `ades jobs`, they work on the
//! database the servers share, found through the same layered configuration.

use super::{print, status, AuditArgs, KeysArgs, KeysCommand, SettingsArgs};
use crate::auth::{keys, Role};
use crate::config::{redact_url_password, Overrides};
use crate::store::{connect_store, ApiKeyRecord, JobStore, StoreError};
use serde::Serialize;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

/// Why a command stopped: its exit status and what to print.
type Failure = (u8, String);

async fn open(args: &SettingsArgs) -> Result<Arc<dyn JobStore>, Failure> {
    let settings = args
        .load(Overrides::default())
        .map_err(|err| (status::USAGE, err.to_string()))?;
    // A key may be made before the server first starts: the database is created then.
    if settings.database.url.is_empty() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|err| {
            (
                status::ERROR,
                format!("cannot create {}: {err}", settings.data_dir.display()),
            )
        })?;
    }
    let url = settings.database_url();
    connect_store(&url).await.map_err(|err| {
        (
            status::ERROR,
            format!(
                "cannot open the job store at {}: {err} (check --database-url, \
                 ADES__DATABASE__URL or the configuration file)",
                redact_url_password(&url)
            ),
        )
    })
}

fn finish(outcome: Result<u8, Failure>) -> u8 {
    match outcome {
        Ok(code) => code,
        Err((code, message)) => {
            print::error(&message);
            code
        }
    }
}

fn failed(doing: &str, err: StoreError) -> Failure {
    (status::ERROR, format!("cannot {doing}: {err}"))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

#[derive(Serialize)]
struct KeyView {
    id: String,
    user: String,
    roles: Vec<String>,
    name: String,
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<String>,
    /// Only when just made: the key itself, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl KeyView {
    fn new(record: &ApiKeyRecord, key: Option<String>) -> KeyView {
        KeyView {
            id: record.id.clone(),
            user: record.user.clone(),
            roles: record.roles.clone(),
            name: record.name.clone(),
            created: rfc3339(record.created),
            revoked: record.revoked.map(rfc3339),
            key,
        }
    }
}

pub async fn keys(args: KeysArgs) -> u8 {
    finish(run_keys(args).await)
}

async fn run_keys(args: KeysArgs) -> Result<u8, Failure> {
    match args.command {
        KeysCommand::Create {
            user,
            roles,
            name,
            json,
        } => {
            let user = user.trim().to_string();
            if user.is_empty() {
                return Err((status::USAGE, "--user must not be empty".to_string()));
            }
            let mut checked = Vec::new();
            for role in &roles {
                let Some(role) = Role::parse(role) else {
                    return Err((
                        status::USAGE,
                        format!("--role {role:?} is not a role: use admin, user or reader"),
                    ));
                };
                checked.push(role.as_str().to_string());
            }
            checked.sort();
            checked.dedup();
            let store = open(&args.store).await?;
            let (record, key) = keys::create(store.as_ref(), &user, &checked, name.trim())
                .await
                .map_err(|e| failed("store the key", e))?;
            if json {
                print::json(&KeyView::new(&record, Some(key)));
            } else {
                println!("{key}");
                print::note(&format!(
                    "key {} for user {} ({}); it is shown only now: send it as \
                     Authorization: Bearer <key> or X-API-Key: <key>",
                    record.id,
                    record.user,
                    record.roles.join(", ")
                ));
            }
            Ok(status::OK)
        }
        KeysCommand::List { json } => {
            let store = open(&args.store).await?;
            let records = store
                .list_api_keys()
                .await
                .map_err(|e| failed("list the keys", e))?;
            if json {
                let views: Vec<KeyView> = records.iter().map(|r| KeyView::new(r, None)).collect();
                print::json(&views);
            } else {
                println!(
                    "{:<14} {:<20} {:<18} {:<26} {:<8} NAME",
                    "ID", "USER", "ROLES", "CREATED", "STATE"
                );
                for r in &records {
                    println!(
                        "{:<14} {:<20} {:<18} {:<26} {:<8} {}",
                        r.id,
                        r.user,
                        r.roles.join(","),
                        rfc3339(r.created),
                        if r.revoked.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        r.name
                    );
                }
            }
            Ok(status::OK)
        }
        KeysCommand::Revoke { id } => {
            let store = open(&args.store).await?;
            let id = id.trim();
            let revoked = store
                .revoke_api_key(id, time::OffsetDateTime::now_utc())
                .await
                .map_err(|e| failed("revoke the key", e))?;
            if !revoked {
                return Err((
                    status::ERROR,
                    format!("there is no working key {id:?} (ades keys list shows the keys)"),
                ));
            }
            print::success(&format!("key {id} revoked"));
            Ok(status::OK)
        }
    }
}

#[derive(Serialize)]
struct AuditView {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

pub async fn audit(args: AuditArgs) -> u8 {
    finish(run_audit(args).await)
}

async fn run_audit(args: AuditArgs) -> Result<u8, Failure> {
    let store = open(&args.store).await?;
    let entries = store
        .list_audit(args.limit.clamp(1, 100_000))
        .await
        .map_err(|e| failed("read the audit trail", e))?;
    let views: Vec<AuditView> = entries
        .iter()
        .map(|e| AuditView {
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            detail: e.detail.clone(),
        })
        .collect();
    if args.json {
        print::json(&views);
    } else {
        println!(
            "{:<32} {:<20} {:<9} {:<38} DETAIL",
            "AT", "ACTOR", "ACTION", "TARGET"
        );
        for v in &views {
            println!(
                "{:<32} {:<20} {:<9} {:<38} {}",
                v.at, v.actor, v.action, v.target, v.detail
            );
        }
    }
    Ok(status::OK)
}
