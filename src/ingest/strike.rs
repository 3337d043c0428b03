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
use super::spec::{Monitor, MonitorKind, StrikeSpec};
use crate::storage::{Broker, BrokerSpec, ObjectInfo};
use crate::store::SourceKind;
use futures_util::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
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
    let cursor = ingester
        .jobs()
        .store()
        .get_strike(&spec.name)
        .await
        .ok()
        .flatten()
        .and_then(|s| s.cursor);
    let mut watch = Watch {
        source: Source {
            kind: SourceKind::Strike,
            name: spec.name.clone(),
        },
        rules: Rules::new(spec.rules()),
        landing: Rules::new(spec.rules()).landing_folders(&spec.configuration.workspace),
        prefix: spec
            .configuration
            .monitor
            .prefix
            .trim_end_matches('/')
            .to_string(),
        monitor: spec.configuration.monitor.clone(),
        workspace: spec.configuration.workspace.clone(),
        ingester,
        owner,
        parallel: settings.parallel.max(1),
        known: None,
        settling: HashMap::new(),
        failures: HashMap::new(),
        cursor,
    };
    let mut events: Option<monitor::HostEvents> = None;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let workspaces = watch.ingester.jobs().workspaces().clone();
        let broker = match workspaces.get(&watch.workspace).await {
            Ok(entry) => {
                if events.is_none() && watch.monitor.kind == MonitorKind::DirWatcher {
                    if let BrokerSpec::Host { host_path } = &entry.spec.configuration.broker {
                        events = monitor::HostEvents::watch(&host_path.join(&watch.prefix));
                    }
                }
                workspaces.broker(&watch.workspace).await
            }
            Err(err) => Err(err),
        };
        let wait = match broker {
            Ok(broker) => watch.look(&broker).await,
            Err(err) => {
                tracing::warn!(strike = %watch.source.name, workspace = %watch.workspace, error = %err, "the strike's workspace cannot be read");
                watch.monitor.rescan()
            }
        };
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

/// One strike's watcher and what it remembers between looks.
struct Watch {
    ingester: Ingester,
    source: Source,
    rules: Rules,
    /// Folders its own rules fill: never looked at.
    landing: Vec<String>,
    monitor: Monitor,
    workspace: String,
    prefix: String,
    /// This replica's name in the lease (fences the cursor).
    owner: String,
    parallel: usize,
    /// The files decided, as (path, version): read from the store at the first look, then
    /// kept up to date. `None` until read.
    known: Option<HashSet<(String, String)>>,
    /// Files seen but not yet complete: path -> (version, when first seen at it).
    settling: HashMap<String, (String, Instant)>,
    /// Files that could not be decided: path -> (version, tries so far).
    failures: HashMap<String, (String, u32)>,
    /// S3: the newest modification time decided (µs), as stored.
    cursor: Option<i64>,
}

/// What one listing found.
struct Listing {
    /// Complete and not yet decided.
    ready: Vec<ObjectInfo>,
    /// How soon the next look is due for files still settling.
    wait: Duration,
    /// The cursor this listing allows (S3).
    cursor: Option<i64>,
}

impl Watch {
    /// Lists the workspace and decides every complete new file; returns how long to wait
    /// before the next look (unless woken earlier).
    async fn look(&mut self, broker: &Arc<dyn Broker>) -> Duration {
        let store = self.ingester.jobs().store().clone();
        if self.known.is_none() {
            match store
                .ingest_keys(SourceKind::Strike, &self.source.name)
                .await
            {
                Ok(keys) => self.known = Some(keys.into_iter().collect()),
                Err(err) => {
                    tracing::warn!(strike = %self.source.name, error = %err, "cannot read the strike's ingests");
                    return self.monitor.rescan();
                }
            }
        }
        let objects = match broker.list(&self.prefix).await {
            Ok(objects) => objects,
            Err(err) => {
                tracing::warn!(strike = %self.source.name, error = %err, "cannot list the strike's workspace");
                return self.monitor.rescan();
            }
        };
        let listing = self.sort(objects);
        let mut wait = listing.wait;
        let decided: Vec<(ObjectInfo, Outcome)> = stream::iter(listing.ready)
            .map(|object| {
                let this = &*self;
                async move {
                    let outcome = this
                        .ingester
                        .ingest(&this.source, &this.rules, &this.workspace, broker, &object)
                        .await;
                    (object, outcome)
                }
            })
            .buffer_unordered(self.parallel)
            .collect()
            .await;
        for (object, outcome) in decided {
            if !self.settle_outcome(&object, outcome).await {
                wait = wait.min(Duration::from_secs(1));
            }
        }
        if self.monitor.kind == MonitorKind::S3 {
            if let Some(cursor) = listing.cursor.filter(|c| Some(*c) > self.cursor) {
                if let Ok(true) = store
                    .set_strike_cursor(&self.source.name, &self.owner, cursor)
                    .await
                {
                    self.cursor = Some(cursor);
                }
            }
        }
        wait
    }

    /// Sorts a listing: what is complete and new, what still settles, what was decided.
    fn sort(&mut self, objects: Vec<ObjectInfo>) -> Listing {
        let now = Instant::now();
        let settle = self.monitor.settle();
        let mut wait = self.monitor.rescan();
        let skip_before = match self.monitor.kind {
            MonitorKind::S3 => self.cursor.map(|c| c - CURSOR_GRACE_MICROS),
            MonitorKind::DirWatcher => None,
        };
        let suffix = &self.monitor.transfer_suffix;
        let known = self.known.get_or_insert_with(HashSet::new);
        let mut ready = Vec::new();
        let mut listed = HashSet::new();
        let mut newest_decided = self.cursor;
        let mut oldest_undecided: Option<i64> = None;
        for object in objects {
            listed.insert(object.path.clone());
            let modified = object.modified.map(micros);
            if let (Some(before), Some(at)) = (skip_before, modified) {
                if at < before {
                    continue;
                }
            }
            let still_written =
                !suffix.is_empty() && super::ingester::file_name(&object.path).ends_with(suffix);
            if still_written || self.landing.iter().any(|f| object.path.starts_with(f)) {
                continue;
            }
            let version = version_of(&object);
            if known.contains(&(object.path.clone(), version.clone())) {
                if let Some(at) = modified {
                    newest_decided = Some(newest_decided.map_or(at, |n| n.max(at)));
                }
                continue;
            }
            if let Some(at) = modified {
                oldest_undecided = Some(oldest_undecided.map_or(at, |o| o.min(at)));
            }
            let entry = self
                .settling
                .entry(object.path.clone())
                .or_insert_with(|| (version.clone(), now));
            if entry.0 != version {
                *entry = (version, now);
            }
            let waited = now.duration_since(entry.1);
            if waited >= settle {
                ready.push(object);
            } else {
                wait = wait.min(settle - waited);
            }
        }
        self.settling.retain(|path, _| listed.contains(path));
        self.failures.retain(|path, _| listed.contains(path));
        // The cursor may pass what was decided, never a file still undecided.
        let cursor = match (newest_decided, oldest_undecided) {
            (Some(newest), Some(oldest)) => Some(newest.min(oldest - 1)),
            (newest, None) => newest,
            (None, Some(_)) => None,
        };
        Listing {
            ready,
            wait,
            cursor,
        }
    }

    /// Remembers what became of a file; `false` when it is to be tried again soon.
    async fn settle_outcome(&mut self, object: &ObjectInfo, outcome: Outcome) -> bool {
        let version = version_of(object);
        match outcome {
            Outcome::Recorded(_) | Outcome::AlreadyDecided => {
                self.decided(object, version);
                true
            }
            Outcome::Busy(why) => {
                tracing::info!(strike = %self.source.name, path = %object.path, why = %why, "file left for a later look");
                false
            }
            Outcome::Later(why) => {
                let tries = match self.failures.get_mut(&object.path) {
                    Some((v, n)) if *v == version => {
                        *n += 1;
                        *n
                    }
                    _ => {
                        self.failures
                            .insert(object.path.clone(), (version.clone(), 1));
                        1
                    }
                };
                tracing::info!(strike = %self.source.name, path = %object.path, why = %why, tries, "file left for a later look");
                if tries < MAX_TRIES {
                    return false;
                }
                let message = format!("not ingested after {tries} tries: {why}");
                match self
                    .ingester
                    .give_up(&self.source, &self.workspace, object, message)
                    .await
                {
                    Outcome::Recorded(_) | Outcome::AlreadyDecided => {
                        self.decided(object, version);
                        true
                    }
                    _ => false,
                }
            }
        }
    }

    fn decided(&mut self, object: &ObjectInfo, version: String) {
        self.settling.remove(&object.path);
        self.failures.remove(&object.path);
        if let Some(known) = &mut self.known {
            known.insert((object.path.clone(), version));
        }
    }
}

fn micros(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}
