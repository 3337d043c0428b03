//! `ades strikes`, `ades ingests` and `ades scans` for operators: data-driven processing
//! (`crate::ingest`) on the job store the servers share. A strike created or started here
//! is watched by whichever server replica takes its lease.

use super::{
    print, status, IngestsArgs, IngestsCommand, ScansArgs, ScansCommand, SettingsArgs, StrikesArgs,
    StrikesCommand,
};
use crate::config::{redact_url_password, Overrides};
use crate::ingest::{ScanSpec, StrikeSpec};
use crate::storage::Workspaces;
use crate::store::{
    connect_store, Ingest, IngestFilter, IngestStatus, IngestWriteError, JobStore, SourceKind,
    StoreError, StoredScan, StoredStrike,
};
use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

type Failure = (u8, String);

async fn open(args: &SettingsArgs) -> Result<(Arc<dyn JobStore>, Workspaces), Failure> {
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
    let workspaces = Workspaces::new(&settings.workspaces, Some(store.clone()))
        .map_err(|err| (status::USAGE, format!("workspaces: {err}")))?;
    Ok((store, workspaces))
}

fn store_failed(err: StoreError) -> Failure {
    (status::ERROR, err.to_string())
}

fn write_failed(err: IngestWriteError) -> Failure {
    match err {
        IngestWriteError::Store(err) => store_failed(err),
        other => (status::USAGE, other.to_string()),
    }
}

fn time_text(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn read_file(file: &Path) -> Result<Value, Failure> {
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|t| text = t)
    };
    read.map_err(|e| {
        (
            status::USAGE,
            format!("cannot read {}: {e}", file.display()),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        (
            status::USAGE,
            format!("{} is not JSON: {e}", file.display()),
        )
    })
}

fn strike_shown(strike: &StoredStrike) -> Value {
    let mut value = strike.definition.clone();
    if let Value::Object(map) = &mut value {
        let live = strike
            .lease_expires
            .is_some_and(|until| until > OffsetDateTime::now_utc());
        map.insert(
            "state".into(),
            json!(if strike.running { "running" } else { "stopped" }),
        );
        map.insert(
            "watched_by".into(),
            json!(strike.lease_owner.as_ref().filter(|_| live)),
        );
        map.insert("created".into(), json!(time_text(strike.created)));
        map.insert("last_modified".into(), json!(time_text(strike.updated)));
    }
    value
}

fn scan_shown(scan: &StoredScan) -> Value {
    let mut value = scan.definition.clone();
    if let Value::Object(map) = &mut value {
        map.insert(
            "last_run".into(),
            scan.last_run.clone().unwrap_or(Value::Null),
        );
        map.insert("created".into(), json!(time_text(scan.created)));
        map.insert("last_modified".into(), json!(time_text(scan.updated)));
    }
    value
}

fn ingest_shown(ingest: &Ingest) -> Value {
    let new = &ingest.new;
    json!({
        "id": new.id,
        "file_name": new.file_name,
        "file_size": new.size,
        "sha256": new.sha256,
        "media_type": new.media_type,
        "workspace": new.workspace,
        "file_path": new.path,
        "new_workspace": new.new_workspace,
        "new_file_path": new.new_path,
        "status": new.status.as_str(),
        "message": new.message,
        "data_types": new.data_types,
        "rule": new.rule,
        new.source_kind.as_str(): new.source_name,
        "job": ingest.job_id,
        "created": time_text(ingest.created),
    })
}

fn print_value(value: &Value, json: bool) {
    if json {
        print::json(value);
    } else {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    }
}

fn finish(result: Result<u8, Failure>) -> u8 {
    match result {
        Ok(code) => code,
        Err((code, message)) => {
            print::error(&message);
            code
        }
    }
}

pub async fn strikes(args: StrikesArgs) -> u8 {
    finish(run_strikes(args).await)
}

async fn run_strikes(args: StrikesArgs) -> Result<u8, Failure> {
    let (store, workspaces) = open(&args.store).await?;
    match args.command {
        StrikesCommand::List { json } => {
            let strikes = store.list_strikes().await.map_err(store_failed)?;
            if json {
                let shown: Vec<Value> = strikes.iter().map(strike_shown).collect();
                print::json(&shown);
            } else {
                println!(
                    "{:<24} {:<8} {:<20} WATCHED BY",
                    "NAME", "STATE", "WORKSPACE"
                );
                for strike in &strikes {
                    let shown = strike_shown(strike);
                    println!(
                        "{:<24} {:<8} {:<20} {}",
                        strike.name,
                        shown["state"].as_str().unwrap_or(""),
                        shown["configuration"]["workspace"].as_str().unwrap_or(""),
                        shown["watched_by"].as_str().unwrap_or("-"),
                    );
                }
            }
            Ok(status::OK)
        }
        StrikesCommand::Show { name, json } => {
            let strike = store
                .get_strike(name.trim())
                .await
                .map_err(store_failed)?
                .ok_or_else(|| (status::USAGE, format!("there is no strike named {name}")))?;
            print_value(&strike_shown(&strike), json);
            Ok(status::OK)
        }
        StrikesCommand::Create { file, json } => {
            let document = read_file(&file)?;
            let spec: StrikeSpec = serde_json::from_value(document).map_err(|e| {
                (
                    status::USAGE,
                    format!("{} is not a strike: {e}", file.display()),
                )
            })?;
            let spec = spec.normalise().map_err(|e| (status::USAGE, e))?;
            workspaces
                .get(&spec.configuration.workspace)
                .await
                .map_err(|e| (status::USAGE, format!("configuration.workspace: {e}")))?;
            let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
            store
                .insert_strike(&spec.name, &definition, true, OffsetDateTime::now_utc())
                .await
                .map_err(write_failed)?;
            let strike = store
                .get_strike(&spec.name)
                .await
                .map_err(store_failed)?
                .ok_or_else(|| (status::ERROR, "the strike vanished".to_string()))?;
            if json {
                print::json(&strike_shown(&strike));
            } else {
                print::success(&format!(
                    "strike {} created, watching {}",
                    spec.name, spec.configuration.workspace
                ));
            }
            Ok(status::OK)
        }
        StrikesCommand::Start { name } => start_or_stop(&store, &name, true).await,
        StrikesCommand::Stop { name } => start_or_stop(&store, &name, false).await,
    }
}

async fn start_or_stop(
    store: &Arc<dyn JobStore>,
    name: &str,
    running: bool,
) -> Result<u8, Failure> {
    store
        .set_strike_running(name.trim(), running, OffsetDateTime::now_utc())
        .await
        .map_err(write_failed)?;
    print::success(&format!(
        "strike {} {}",
        name.trim(),
        if running {
            "started: a server replica takes it within seconds"
        } else {
            "stopped"
        }
    ));
    Ok(status::OK)
}

pub async fn ingests(args: IngestsArgs) -> u8 {
    finish(run_ingests(args).await)
}

async fn run_ingests(args: IngestsArgs) -> Result<u8, Failure> {
    let (store, _) = open(&args.store).await?;
    match args.command {
        IngestsCommand::List {
            strike,
            scan,
            status: statuses,
            limit,
            json,
        } => {
            let mut filter = IngestFilter {
                limit: limit.clamp(1, 10_000),
                ..IngestFilter::default()
            };
            for text in statuses.iter().filter(|s| !s.is_empty()) {
                filter
                    .statuses
                    .push(IngestStatus::parse(text).ok_or_else(|| {
                        (
                            status::USAGE,
                            format!(
                                "--status {text}: use transferring, transferred, ingested, \
                             deferred, duplicate or errored"
                            ),
                        )
                    })?);
            }
            if let Some(name) = strike {
                filter.source_kind = Some(SourceKind::Strike);
                filter.source_name = Some(name);
            } else if let Some(name) = scan {
                filter.source_kind = Some(SourceKind::Scan);
                filter.source_name = Some(name);
            }
            let page = store.list_ingests(&filter).await.map_err(store_failed)?;
            if json {
                let shown: Vec<Value> = page.ingests.iter().map(ingest_shown).collect();
                print::json(&shown);
            } else {
                println!(
                    "{:<36} {:<12} {:<20} {:<36} FILE",
                    "ID", "STATUS", "SOURCE", "JOB"
                );
                for ingest in &page.ingests {
                    println!(
                        "{:<36} {:<12} {:<20} {:<36} {}/{}",
                        ingest.new.id,
                        ingest.new.status.as_str(),
                        format!(
                            "{} {}",
                            ingest.new.source_kind.as_str(),
                            ingest.new.source_name
                        ),
                        ingest.job_id.as_deref().unwrap_or("-"),
                        ingest.new.workspace,
                        ingest.new.path
                    );
                }
            }
            Ok(status::OK)
        }
        IngestsCommand::Show { id, json } => {
            let ingest = store
                .get_ingest(id.trim())
                .await
                .map_err(store_failed)?
                .ok_or_else(|| (status::USAGE, format!("there is no ingest {id}")))?;
            print_value(&ingest_shown(&ingest), json);
            Ok(status::OK)
        }
    }
}

pub async fn scans(args: ScansArgs) -> u8 {
    finish(run_scans(args).await)
}

async fn run_scans(args: ScansArgs) -> Result<u8, Failure> {
    let (store, workspaces) = open(&args.store).await?;
    match args.command {
        ScansCommand::List { json } => {
            let scans = store.list_scans().await.map_err(store_failed)?;
            if json {
                let shown: Vec<Value> = scans.iter().map(scan_shown).collect();
                print::json(&shown);
            } else {
                println!("{:<24} {:<20} LAST RUN", "NAME", "WORKSPACE");
                for scan in &scans {
                    let finished = scan
                        .last_run
                        .as_ref()
                        .and_then(|r| r.get("finished"))
                        .and_then(Value::as_str)
                        .unwrap_or("never");
                    println!(
                        "{:<24} {:<20} {}",
                        scan.name,
                        scan.definition["configuration"]["workspace"]
                            .as_str()
                            .unwrap_or(""),
                        finished
                    );
                }
            }
            Ok(status::OK)
        }
        ScansCommand::Show { name, json } => {
            let scan = store
                .get_scan(name.trim())
                .await
                .map_err(store_failed)?
                .ok_or_else(|| (status::USAGE, format!("there is no scan named {name}")))?;
            print_value(&scan_shown(&scan), json);
            Ok(status::OK)
        }
        ScansCommand::Create { file, json } => {
            let document = read_file(&file)?;
            let spec: ScanSpec = serde_json::from_value(document).map_err(|e| {
                (
                    status::USAGE,
                    format!("{} is not a scan: {e}", file.display()),
                )
            })?;
            let spec = spec.normalise().map_err(|e| (status::USAGE, e))?;
            workspaces
                .get(&spec.configuration.workspace)
                .await
                .map_err(|e| (status::USAGE, format!("configuration.workspace: {e}")))?;
            let definition = serde_json::to_value(&spec).unwrap_or(Value::Null);
            store
                .insert_scan(&spec.name, &definition, OffsetDateTime::now_utc())
                .await
                .map_err(write_failed)?;
            let scan = store
                .get_scan(&spec.name)
                .await
                .map_err(store_failed)?
                .ok_or_else(|| (status::ERROR, "the scan vanished".to_string()))?;
            if json {
                print::json(&scan_shown(&scan));
            } else {
                print::success(&format!("scan {} created", spec.name));
            }
            Ok(status::OK)
        }
    }
}
