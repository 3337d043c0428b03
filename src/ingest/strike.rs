//! Running strikes: each running strike is watched by ONE replica at a time, the one
//! holding its lease in the store ([`Supervisor`]); another replica takes it over once
//! the lease lapses (its holder died). The watcher ([`watch`]) lists the workspace, takes
//! each new file once it is complete, and hands it to the [`Ingester`].
//!
//! Exactly once does not rest on the lease: two replicas watching at once (a lease lost
//! mid-pass) still record each file once, because the store's unique key decides
//! (`IngestStore::record_ingest`). The lease keeps the work (reading, hashing) from being
//! done twice.

use super::ingester::{version_of, Ingester, Outcome, Rules, Source};
use super::monitor;
use super::spec::{MonitorKind, StrikeSpec};
use crate::storage::{BrokerSpec, ObjectInfo};
use crate::store::SourceKind;
use futures_util::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// How strikes are run by this replica.
#[derive(Debug, Clone)]
pub struct StrikeSettings {
    /// How long a lease lasts unless renewed; another replica takes a strike over this long
    /// after its watcher's replica died.
    pub lease: Duration,
    /// Files decided at once by one strike.
    pub parallel: usize,
}

impl Default for StrikeSettings {
    fn default() -> Self {
        StrikeSettings {
            lease: Duration::from_secs(15),
            parallel: 4,
        }
    }
}

/// Keeps this replica's share of the running strikes watched: takes and renews leases,
/// starts and stops watchers.
pub struct Supervisor {
    ingester: Ingester,
    settings: StrikeSettings,
    /// This replica's name in the leases.
    owner: String,
}

impl Supervisor {
    pub fn new(ingester: Ingester, settings: StrikeSettings) -> Supervisor {
        let host = hostname();
        let owner = format!("{host}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        Supervisor {
            ingester,
            settings,
            owner,
        }
    }

    /// Runs until `stop`; then stops the watchers and lets their leases go.
    pub async fn run(self, stop: CancellationToken) {
        let store = self.ingester.jobs().store().clone();
        // Strike name -> (its definition as watched, the watcher's stop).
        let mut watching: HashMap<String, (serde_json::Value, CancellationToken)> = HashMap::new();
        let renew_every = (self.settings.lease / 3).max(Duration::from_millis(200));
        loop {
            let now = OffsetDateTime::now_utc();
            match store.list_strikes().await {
                Ok(strikes) => {
                    let mut seen = HashSet::new();
                    for strike in strikes {
                        seen.insert(strike.name.clone());
                        let held = strike.running
                            && store
                                .take_strike_lease(
                                    &strike.name,
                                    &self.owner,
                                    now + self.settings.lease,
                                    now,
                                )
                                .await
                                .unwrap_or_else(|err| {
                                    tracing::warn!(strike = %strike.name, error = %err, "could not renew a strike's lease");
                                    false
                                });
                        let current = watching.get(&strike.name);
                        let changed = current.is_some_and(|(def, _)| *def != strike.definition);
                        if !held || changed {
                            if let Some((_, token)) = watching.remove(&strike.name) {
                                token.cancel();
                                tracing::info!(strike = %strike.name, "strike no longer watched here");
                            }
                        }
                        if held && !watching.contains_key(&strike.name) {
                            match serde_json::from_value::<StrikeSpec>(strike.definition.clone()) {
                                Ok(spec) => {
                                    let token = stop.child_token();
                                    tracing::info!(strike = %strike.name, owner = %self.owner, "watching a strike");
                                    tokio::spawn(watch(
                                        self.ingester.clone(),
                                        spec,
                                        self.owner.clone(),
                                        self.settings.clone(),
                                        token.clone(),
                                    ));
                                    watching
                                        .insert(strike.name.clone(), (strike.definition, token));
                                }
                                Err(err) => {
                                    tracing::error!(strike = %strike.name, error = %err, "a stored strike does not read");
                                }
                            }
                        }
                    }
                    watching.retain(|name, (_, token)| {
                        let keep = seen.contains(name);
                        if !keep {
                            token.cancel();
                        }
                        keep
                    });
                }
                Err(err) => tracing::warn!(error = %err, "could not read the strikes"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(renew_every) => {}
            }
        }
        for (name, (_, token)) in watching {
            token.cancel();
            let _ = store.release_strike_lease(&name, &self.owner).await;
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ades".to_string())
}

/// How far behind the stored cursor an S3 listing still looks: objects can become visible
/// in a listing a little after others written later (clocks, replication).
const CURSOR_GRACE_MICROS: i64 = 5 * 60 * 1_000_000;

/// Tries (about a second apart) before a file that cannot be read is recorded as
/// `errored` (a full queue or the database out of reach do not count: those are waited
/// out).
const MAX_TRIES: u32 = 30;

/// Watches one strike until `stop`.
pub async fn watch(
    ingester: Ingester,
    spec: StrikeSpec,
    owner: String,
    settings: StrikeSettings,
    stop: CancellationToken,
) {
    let store = ingester.jobs().store().clone();
    let source = Source {
        kind: SourceKind::Strike,
        name: spec.name.clone(),
    };
    let rules = Rules::new(spec.rules());
    let landing = rules.landing_folders(&spec.configuration.workspace);
    let monitor_spec = spec.configuration.monitor.clone();
    let workspace = spec.configuration.workspace.clone();
    let prefix = monitor_spec.prefix.trim_end_matches('/').to_string();
    let settle = monitor_spec.settle();
    let rescan = monitor_spec.rescan();
    // The files decided, as (path, version): read once, then kept up to date.
    let mut known: HashSet<(String, String)> = HashSet::new();
    let mut loaded = false;
    // Files seen but not yet complete: path -> (version, when first seen at it).
    let mut settling: HashMap<String, (String, Instant)> = HashMap::new();
    let mut cursor = store
        .get_strike(&spec.name)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.cursor);
    let mut events: Option<monitor::HostEvents> = None;
    // Files that could not be decided: path -> (version, tries so far).
    let mut failures: HashMap<String, (String, u32)> = HashMap::new();
    loop {
        if stop.is_cancelled() {
            return;
        }
        let broker = match ingester.jobs().workspaces().get(&workspace).await {
            Ok(entry) => {
                if events.is_none() && monitor_spec.kind == MonitorKind::DirWatcher {
                    if let BrokerSpec::Host { host_path } = &entry.spec.configuration.broker {
                        events = monitor::HostEvents::watch(&host_path.join(&prefix));
                    }
                }
                ingester.jobs().workspaces().broker(&workspace).await
            }
            Err(err) => Err(err),
        };
        let mut wait = rescan;
        match broker {
            Err(err) => {
                tracing::warn!(strike = %spec.name, workspace = %workspace, error = %err, "the strike's workspace cannot be read");
            }
            Ok(broker) => {
                if !loaded {
                    match store.ingest_keys(SourceKind::Strike, &spec.name).await {
                        Ok(keys) => {
                            known.extend(keys);
                            loaded = true;
                        }
                        Err(err) => {
                            tracing::warn!(strike = %spec.name, error = %err, "cannot read the strike's ingests");
                        }
                    }
                }
                if loaded {
                    match broker.list(&prefix).await {
                        Err(err) => {
                            tracing::warn!(strike = %spec.name, error = %err, "cannot list the strike's workspace")
                        }
                        Ok(listing) => {
                            let now = Instant::now();
                            let skip_before = match monitor_spec.kind {
                                MonitorKind::S3 => cursor.map(|c| c - CURSOR_GRACE_MICROS),
                                MonitorKind::DirWatcher => None,
                            };
                            let mut ready: Vec<ObjectInfo> = Vec::new();
                            let mut listed_paths = HashSet::new();
                            let mut newest_decided = cursor;
                            let mut oldest_undecided: Option<i64> = None;
                            for object in listing {
                                listed_paths.insert(object.path.clone());
                                let modified = object.modified.map(micros);
                                if let (Some(before), Some(at)) = (skip_before, modified) {
                                    if at < before {
                                        continue;
                                    }
                                }
                                if landing.iter().any(|folder| object.path.starts_with(folder)) {
                                    continue;
                                }
                                if super::ingester::file_name(&object.path)
                                    .ends_with(&monitor_spec.transfer_suffix)
                                    && !monitor_spec.transfer_suffix.is_empty()
                                {
                                    continue;
                                }
                                let version = version_of(&object);
                                if known.contains(&(object.path.clone(), version.clone())) {
                                    if let Some(at) = modified {
                                        newest_decided =
                                            Some(newest_decided.map_or(at, |n| n.max(at)));
                                    }
                                    continue;
                                }
                                if let Some(at) = modified {
                                    oldest_undecided =
                                        Some(oldest_undecided.map_or(at, |o| o.min(at)));
                                }
                                let entry = settling
                                    .entry(object.path.clone())
                                    .or_insert_with(|| (version.clone(), now));
                                if entry.0 != version {
                                    *entry = (version.clone(), now);
                                }
                                let waited = now.duration_since(entry.1);
                                if waited >= settle {
                                    ready.push(object);
                                } else {
                                    wait = wait.min(settle - waited);
                                }
                            }
                            settling.retain(|path, _| listed_paths.contains(path));
                            failures.retain(|path, _| listed_paths.contains(path));
                            let decided: Vec<(ObjectInfo, Outcome)> = stream::iter(ready)
                                .map(|object| {
                                    let ingester = &ingester;
                                    let source = &source;
                                    let rules = &rules;
                                    let workspace = &workspace;
                                    let broker = &broker;
                                    async move {
                                        let outcome = ingester
                                            .ingest(source, rules, workspace, broker, &object)
                                            .await;
                                        (object, outcome)
                                    }
                                })
                                .buffer_unordered(settings.parallel.max(1))
                                .collect()
                                .await;
                            let mut retry_soon = false;
                            for (object, outcome) in decided {
                                match outcome {
                                    Outcome::Recorded(_) | Outcome::AlreadyDecided => {
                                        settling.remove(&object.path);
                                        known.insert((object.path.clone(), version_of(&object)));
                                    }
                                    Outcome::Busy(why) => {
                                        retry_soon = true;
                                        tracing::info!(strike = %spec.name, path = %object.path, why = %why, "file left for a later look");
                                    }
                                    Outcome::Later(why) => {
                                        let version = version_of(&object);
                                        let tries = match failures.get_mut(&object.path) {
                                            Some((v, n)) if *v == version => {
                                                *n += 1;
                                                *n
                                            }
                                            _ => {
                                                failures.insert(
                                                    object.path.clone(),
                                                    (version.clone(), 1),
                                                );
                                                1
                                            }
                                        };
                                        tracing::info!(strike = %spec.name, path = %object.path, why = %why, tries, "file left for a later look");
                                        if tries >= MAX_TRIES {
                                            let message =
                                                format!("not ingested after {tries} tries: {why}");
                                            if let Outcome::Recorded(_) | Outcome::AlreadyDecided =
                                                ingester
                                                    .give_up(&source, &workspace, &object, message)
                                                    .await
                                            {
                                                failures.remove(&object.path);
                                                settling.remove(&object.path);
                                                known.insert((object.path.clone(), version));
                                            }
                                        } else {
                                            retry_soon = true;
                                        }
                                    }
                                }
                            }
                            if retry_soon {
                                wait = wait.min(Duration::from_secs(1));
                            }
                            if monitor_spec.kind == MonitorKind::S3 {
                                let new_cursor = match (newest_decided, oldest_undecided) {
                                    (Some(n), Some(o)) => Some(n.min(o - 1)),
                                    (n, None) => n,
                                    (None, Some(_)) => None,
                                };
                                if let Some(c) = new_cursor.filter(|c| Some(*c) > cursor) {
                                    if let Ok(true) =
                                        store.set_strike_cursor(&spec.name, &owner, c).await
                                    {
                                        cursor = Some(c);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let woken = async {
            match events.as_mut() {
                Some(events) => events.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = woken => {
                // A burst of events is one look: let the burst end first.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(events) = events.as_mut() {
                    events.drain();
                }
            }
        }
    }
}

fn micros(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}
