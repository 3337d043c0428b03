//! `ades workspaces list|show|create` for operators: the named workspaces (`crate::storage`)
//! of the configuration file and of the job store the servers share, secrets never printed.

use super::{print, status, SettingsArgs, WorkspacesArgs, WorkspacesCommand};
use crate::config::{redact_url_password, Overrides};
use crate::storage::registry::{Entry, WorkspacesError};
use crate::storage::{BrokerSpec, WorkspaceSpec, Workspaces};
use crate::store::connect_store;
use std::io::Read;
use time::format_description::well_known::Rfc3339;

type Failure = (u8, String);

async fn open(args: &SettingsArgs) -> Result<Workspaces, Failure> {
    let settings = args
        .load(Overrides::default())
        .map_err(|err| (status::USAGE, err.to_string()))?;
    if settings.database.url.is_empty() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|err| {
            (
                status::ERROR,
                format!("cannot create {}: {err}", settings.data_dir.display()),
            )
        })?;
    }
    let url = settings.database_url();
    let store = connect_store(&url).await.map_err(|err| {
        (
            status::ERROR,
            format!(
                "cannot open the job store at {}: {err} (check --database-url, \
                 ADES__DATABASE__URL or the configuration file)",
                redact_url_password(&url)
            ),
        )
    })?;
    Workspaces::new(&settings.workspaces, Some(store))
        .map_err(|err| (status::USAGE, format!("workspaces: {err}")))
}

fn failed(err: WorkspacesError) -> Failure {
    let code = match err {
        WorkspacesError::Store(_) => status::ERROR,
        _ => status::USAGE,
    };
    (code, err.to_string())
}

/// The entry as printed: its definition without secrets, where it comes from, times.
fn shown(entry: &Entry) -> serde_json::Value {
    let mut value = serde_json::to_value(entry.spec.redacted()).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        let source = if entry.configured {
            "configuration"
        } else {
            "api"
        };
        map.insert("source".into(), source.into());
        let time = |t: Option<time::OffsetDateTime>| {
            t.and_then(|t| t.format(&Rfc3339).ok())
                .map_or(serde_json::Value::Null, serde_json::Value::String)
        };
        map.insert("created".into(), time(entry.created));
        map.insert("last_modified".into(), time(entry.updated));
    }
    value
}

/// `host /srv/raw` or `s3 bucket/prefix (endpoint)`.
fn location(spec: &WorkspaceSpec) -> String {
    match spec.broker() {
        BrokerSpec::Host { host_path } => format!("host {}", host_path.display()),
        BrokerSpec::S3 {
            bucket_name,
            prefix,
            endpoint,
            ..
        } => {
            let mut shown = format!("s3 {bucket_name}");
            if !prefix.is_empty() {
                shown.push('/');
                shown.push_str(prefix);
            }
            if !endpoint.is_empty() {
                shown.push_str(&format!(" ({endpoint})"));
            }
            shown
        }
    }
}

pub async fn workspaces(args: WorkspacesArgs) -> u8 {
    match run(args).await {
        Ok(code) => code,
        Err((code, message)) => {
            print::error(&message);
            code
        }
    }
}

async fn run(args: WorkspacesArgs) -> Result<u8, Failure> {
    let workspaces = open(&args.store).await?;
    match args.command {
        WorkspacesCommand::List { json } => {
            let entries = workspaces.list().await.map_err(failed)?;
            if json {
                let views: Vec<serde_json::Value> = entries.iter().map(shown).collect();
                print::json(&views);
            } else {
                println!("{:<24} {:<14} {:<7} LOCATION", "NAME", "SOURCE", "ACTIVE");
                for entry in &entries {
                    println!(
                        "{:<24} {:<14} {:<7} {}",
                        entry.spec.name,
                        if entry.configured {
                            "configuration"
                        } else {
                            "api"
                        },
                        if entry.spec.is_active { "yes" } else { "no" },
                        location(&entry.spec)
                    );
                }
            }
            Ok(status::OK)
        }
        WorkspacesCommand::Show { name, json } => {
            let entry = workspaces.get(name.trim()).await.map_err(failed)?;
            if json {
                print::json(&shown(&entry));
            } else {
                let text = serde_json::to_string_pretty(&shown(&entry)).unwrap_or_default();
                println!("{text}");
            }
            Ok(status::OK)
        }
        WorkspacesCommand::Create { file, json } => {
            let mut text = String::new();
            let read = if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text).map(|_| ())
            } else {
                std::fs::read_to_string(&file).map(|t| text = t)
            };
            read.map_err(|e| {
                (
                    status::USAGE,
                    format!("cannot read {}: {e}", file.display()),
                )
            })?;
            let spec: WorkspaceSpec = serde_json::from_str(&text).map_err(|e| {
                (
                    status::USAGE,
                    format!(
                        "{} is not a workspace ({e}); give name (or title) and configuration: \
                         {{broker: {{type: host, host_path}}}} or {{broker: {{type: s3, \
                         bucket_name, ...}}}} (README, \"Workspaces\")",
                        file.display()
                    ),
                )
            })?;
            let entry = workspaces.create(spec).await.map_err(failed)?;
            if json {
                print::json(&shown(&entry));
            } else {
                print::success(&format!(
                    "workspace {} created: {}",
                    entry.spec.name,
                    location(&entry.spec)
                ));
            }
            Ok(status::OK)
        }
    }
}
