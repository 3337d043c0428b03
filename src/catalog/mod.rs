//! The processes ades offers: every Seed image found in the local engine (re-scanned on
//! demand and periodically) plus pinned images from the configuration, each translated once
//! into a [`Process`] (`seed_process.rs`, ogc-notes §7.2).
//!
//! # Scanning
//!
//! A scan ([`Catalog::rescan`]) collects candidate images:
//!
//! * with `discover_local_images`, every local image whose reference contains `-seed`
//!   ([`ImageStore::list_seed_images`]);
//! * every configured image ([`CatalogSettings::images`]), inspected by the reference given,
//!   whatever its name.
//!
//! Each candidate's `com.ngageoint.seed.manifest` label is decoded and validated (the same
//! rules as `ades seed validate`); an image with no label or an invalid one is not published
//! and is listed by [`Catalog::skipped`] with the reason, as is a configured image the engine
//! does not have. Each such image is logged with `tracing::warn!` once, not at every scan
//! (again only if its reason changes or it disappears and comes back). A label is validated
//! once for as long as images carry it, not at every scan.
//!
//! With [`CatalogSettings::watch`], the Seed images of those registries (`host:port` or
//! `host:port/org`) are candidates too, like SILO publishing what it finds: each is offered
//! pinned to its digest (`host:port/repo@sha256:...`, pulled before its first run). A
//! registry is searched again only when its last search is older than
//! [`CatalogSettings::watch_interval`], not at every scan; an unreachable one keeps its last
//! images and is logged.
//!
//! # Two images, one process id
//!
//! Several images can offer the same `job.name` (two `packageVersion`s of a job, or one image
//! under two tags). The process is published from the preferred image, chosen by, in order:
//!
//! 1. the highest `jobVersion` (semantic-version precedence: the version the process
//!    advertises),
//! 2. the highest `packageVersion` (semantic-version precedence),
//! 3. the newest image (engine creation time),
//! 4. a configured image before a discovered one,
//! 5. the reference following the Seed naming convention (`<name>-<jobVersion>-seed:<packageVersion>`),
//! 6. the alphabetically first reference.
//!
//! Every passed-over image that is a *different* image (another image id) is listed by
//! [`Catalog::skipped`] with the reference it lost to (and logged once at `info`); other tags of
//! the chosen image are not.
//!
//! # Deployed processes
//!
//! Processes deployed through OGC API Part 2 (`deploy/`) live in the store
//! ([`ProcessStore`]); the catalogue keeps them beside the scanned ones, reloads them at
//! every scan (so a process another replica deployed appears here too) and prefers them: a
//! scanned image offering the id of a deployed process is not published (it is listed by
//! [`Catalog::skipped`]). Deployed processes are `mutable`; scanned ones are not.
//!
//! # Engine outages
//!
//! Reads never wait for a scan: the process set is an immutable snapshot behind an `Arc`,
//! swapped in whole when a scan ends. A scan that cannot reach the engine keeps the previous
//! snapshot and sets [`EngineState::Unreachable`]; the next scan that reaches it sets
//! [`EngineState::Reachable`] again. A catalogue created without a client (the engine was
//! down at start-up) tries to connect at every scan ([`crate::engine::connect_engine`]).

pub mod deployed;
pub mod seed_process;

use crate::domain::{Process, ProcessId};
use crate::engine::{ImageError, ImageStore, SeedImage};
use crate::store::ProcessStore;
use futures_util::FutureExt;
use seed::label::LABEL_KEY;
use seed::Manifest;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

/// Whether the engine could be asked for images at the last scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineState {
    Reachable,
    /// Not reachable: the message says what was tried and what to do.
    Unreachable(String),
}

/// How old the last scan may be before a lookup that misses, or a listing, rescans.
pub const ON_DEMAND_SCAN_AGE: std::time::Duration = std::time::Duration::from_secs(2);

/// The process catalogue. Cheap to clone; reads never wait for a scan.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<CatalogInner>,
}

struct CatalogInner {
    /// What the last scan published; replaced whole, never edited in place.
    snapshot: RwLock<Arc<Snapshot>>,
    /// `None` for a fixed catalogue ([`Catalog::from_processes`]): nothing to scan.
    scanner: Option<tokio::sync::Mutex<Scanner>>,
    /// When the last scan finished (for on-demand scans, see [`Catalog::find`]).
    last_scan: std::sync::Mutex<Option<std::time::Instant>>,
    /// Taken by an on-demand scan: requests that find the catalogue stale at the same
    /// moment share one scan instead of each scanning in turn.
    on_demand: tokio::sync::Mutex<()>,
    /// Processes deployed through Part 2, by id; replaced whole at each reload.
    deployed: RwLock<Arc<BTreeMap<ProcessId, Arc<Process>>>>,
    /// Where deployed processes are kept (`None`: none are, as in tests of other modules).
    process_store: Option<Arc<dyn ProcessStore>>,
}

struct Snapshot {
    processes: BTreeMap<ProcessId, Arc<Process>>,
    skipped: Vec<SkippedImage>,
    engine: EngineState,
}

/// What scans keep between runs; the mutex around it also keeps two scans from interleaving.
struct Scanner {
    settings: CatalogSettings,
    images: Option<Arc<dyn ImageStore>>,
    /// Label value -> its manifest or why it is not one.
    labels: HashMap<String, Result<Manifest, String>>,
    /// Skip notices already logged (image reference + reason).
    logged: HashSet<String>,
    /// Watched registry -> when it was last searched and the Seed images found.
    watched: HashMap<String, (std::time::Instant, Vec<SeedImage>)>,
}

/// Images that could not be offered, with why (an invalid manifest, ...), for `/health` and
/// the log.
#[derive(Debug, Clone)]
pub struct SkippedImage {
    pub image: String,
    pub reason: String,
}

/// What the catalogue publishes.
#[derive(Clone, Default)]
pub struct CatalogSettings {
    /// Publish every Seed image found in the local engine (default true).
    pub discover_local_images: bool,
    /// Images always published (references as given: `name:tag`), whether or not their
    /// name follows the `-seed` convention.
    pub images: Vec<String>,
    /// Registries (`host:port` or `host:port/org`) whose Seed images are published.
    pub watch: Vec<String>,
    /// How old a registry's last search may be before a scan searches it again.
    pub watch_interval: std::time::Duration,
    /// How registries are reached (needed when `watch` is not empty).
    pub registry: Option<crate::registry::RegistryClient>,
}

impl std::fmt::Debug for CatalogSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogSettings")
            .field("discover_local_images", &self.discover_local_images)
            .field("images", &self.images)
            .field("watch", &self.watch)
            .field("watch_interval", &self.watch_interval)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// A catalogue over the engine's `images` (`Err` with the reason when the engine could
    /// not be reached at start-up: the catalogue is then empty, [`Catalog::engine_state`]
    /// says why, and each [`Catalog::rescan`] tries to connect again). Call [`Catalog::rescan`] to fill it.
    pub fn new(settings: CatalogSettings, images: Result<Arc<dyn ImageStore>, String>) -> Self {
        let (images, engine) = match images {
            Ok(images) => (Some(images), EngineState::Reachable),
            Err(reason) => (None, EngineState::Unreachable(reason)),
        };
        Catalog {
            inner: Arc::new(CatalogInner {
                snapshot: RwLock::new(Arc::new(Snapshot {
                    processes: BTreeMap::new(),
                    skipped: Vec::new(),
                    engine,
                })),
                scanner: Some(tokio::sync::Mutex::new(Scanner {
                    settings,
                    images,
                    labels: HashMap::new(),
                    logged: HashSet::new(),
                    watched: HashMap::new(),
                })),
                last_scan: std::sync::Mutex::new(None),
                on_demand: tokio::sync::Mutex::new(()),
                deployed: RwLock::new(Arc::new(BTreeMap::new())),
                process_store: None,
            }),
        }
    }

    /// A catalogue with a fixed set of processes and no engine (for tests of other modules):
    /// [`Catalog::rescan`] leaves it as it is and [`Catalog::engine_state`] is
    /// [`EngineState::Reachable`]. A later process with an id already given replaces the
    /// earlier one.
    pub fn from_processes(processes: Vec<Process>) -> Catalog {
        let processes = processes
            .into_iter()
            .map(|process| (process.id.clone(), Arc::new(process)))
            .collect();
        Catalog {
            inner: Arc::new(CatalogInner {
                snapshot: RwLock::new(Arc::new(Snapshot {
                    processes,
                    skipped: Vec::new(),
                    engine: EngineState::Reachable,
                })),
                scanner: None,
                last_scan: std::sync::Mutex::new(None),
                on_demand: tokio::sync::Mutex::new(()),
                deployed: RwLock::new(Arc::new(BTreeMap::new())),
                process_store: None,
            }),
        }
    }

    /// The catalogue with deployed processes kept in `store` (loaded at each scan). Call
    /// before the catalogue is cloned.
    pub fn with_process_store(mut self, store: Arc<dyn ProcessStore>) -> Catalog {
        Arc::get_mut(&mut self.inner)
            .expect("with_process_store is called before the catalogue is shared")
            .process_store = Some(store);
        self
    }

    /// Re-scans every `interval` (the first time one `interval` after the call) until
    /// `shutdown` fires; a scan under way when it fires is abandoned, leaving the last
    /// published set. A zero `interval` means no periodic scans: the task ends at once.
    pub fn spawn_rescan_loop(
        &self,
        interval: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let catalog = self.clone();
        tokio::spawn(async move {
            if interval.is_zero() {
                return;
            }
            let start = tokio::time::Instant::now() + interval;
            let mut ticker = tokio::time::interval_at(start, interval);
            // A slow scan delays the next one rather than causing a burst of catch-up scans.
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                // A bug in one scan must not end periodic scanning for the server's lifetime.
                let scan = std::panic::AssertUnwindSafe(catalog.rescan()).catch_unwind();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    result = scan => {
                        if result.is_err() {
                            tracing::error!("a catalogue scan panicked; the next scan runs as planned");
                        }
                    }
                }
            }
        })
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn publish(&self, snapshot: Snapshot) {
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
    }

    fn deployed(&self) -> Arc<BTreeMap<ProcessId, Arc<Process>>> {
        self.inner
            .deployed
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn edit_deployed(&self, edit: impl FnOnce(&mut BTreeMap<ProcessId, Arc<Process>>)) {
        let mut slot = self
            .inner
            .deployed
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut map = (**slot).clone();
        edit(&mut map);
        *slot = Arc::new(map);
    }

    /// All processes (deployed and scanned), sorted by id.
    pub fn list(&self) -> Vec<Arc<Process>> {
        let mut all = self.snapshot().processes.clone();
        all.extend(
            self.deployed()
                .iter()
                .map(|(id, process)| (id.clone(), process.clone())),
        );
        all.into_values().collect()
    }

    /// The process with this id, if published (a deployed one first).
    pub fn get(&self, id: &ProcessId) -> Option<Arc<Process>> {
        if let Some(process) = self.deployed().get(id) {
            return Some(process.clone());
        }
        self.snapshot().processes.get(id).cloned()
    }

    /// The scanned (built-in, immutable) process with this id, if any.
    pub fn get_builtin(&self, id: &ProcessId) -> Option<Arc<Process>> {
        self.snapshot().processes.get(id).cloned()
    }

    /// Publishes a process just deployed or replaced (already in the store).
    pub fn put_deployed(&self, process: Arc<Process>) {
        self.edit_deployed(|map| {
            map.insert(process.id.clone(), process);
        });
    }

    /// Withdraws a process just undeployed (already gone from the store).
    pub fn remove_deployed(&self, id: &ProcessId) {
        self.edit_deployed(|map| {
            map.remove(id);
        });
    }

    /// Reloads the deployed processes from the store. A row that no longer makes a process
    /// (a manifest a newer rule rejects) is logged and left out; a store error keeps the
    /// current set.
    pub async fn reload_deployed(&self) {
        let Some(store) = &self.inner.process_store else {
            return;
        };
        match store.list_processes().await {
            Ok(rows) => {
                let mut map = BTreeMap::new();
                for row in rows {
                    match deployed::process_from_row(&row) {
                        Ok(process) => {
                            map.insert(process.id.clone(), Arc::new(process));
                        }
                        Err(reason) => {
                            tracing::warn!(process = %row.id, "deployed process not offered: {reason}")
                        }
                    }
                }
                *self
                    .inner
                    .deployed
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
            }
            Err(err) => tracing::warn!("cannot reload the deployed processes: {err}"),
        }
    }

    /// Like [`Catalog::get`], but a miss rescans the engine first when the last scan is
    /// older than [`ON_DEMAND_SCAN_AGE`]: an image built a moment ago is found at once, and a
    /// flood of unknown ids costs at most one scan per that interval.
    pub async fn find(&self, id: &ProcessId) -> Option<Arc<Process>> {
        if let Some(found) = self.get(id) {
            return Some(found);
        }
        self.rescan_if_older_than(ON_DEMAND_SCAN_AGE).await;
        self.get(id)
    }

    /// Rescans when the last scan finished longer than `age` ago (or never ran).
    /// Requests that find it stale together wait for one scan (a busy listing would
    /// otherwise ask the engine once per waiting request).
    pub async fn rescan_if_older_than(&self, age: std::time::Duration) {
        if self.scanned_within(age) {
            return;
        }
        let _turn = self.inner.on_demand.lock().await;
        if !self.scanned_within(age) {
            self.rescan().await;
        }
    }

    fn scanned_within(&self, age: std::time::Duration) -> bool {
        self.inner
            .last_scan
            .lock()
            .expect("lock")
            .is_some_and(|at| at.elapsed() < age)
    }

    /// Whether the engine answered at the last scan.
    pub fn engine_state(&self) -> EngineState {
        self.snapshot().engine.clone()
    }

    /// The images the last successful scan did not publish, sorted by image reference.
    pub fn skipped(&self) -> Vec<SkippedImage> {
        self.snapshot().skipped.clone()
    }

    /// Scans the engine now and replaces the process set (images that vanished are dropped,
    /// new ones added). Never fails: an unreachable engine keeps the previous set and is
    /// reported by [`Catalog::engine_state`].
    pub async fn rescan(&self) {
        self.reload_deployed().await;
        let Some(scanner) = &self.inner.scanner else {
            *self.inner.last_scan.lock().expect("lock") = Some(std::time::Instant::now());
            return;
        };
        let mut scanner = scanner.lock().await;
        let result = scanner.scan().await;
        *self.inner.last_scan.lock().expect("lock") = Some(std::time::Instant::now());
        match result {
            Ok((processes, skipped)) => {
                if let EngineState::Unreachable(_) = self.engine_state() {
                    tracing::info!("the Docker engine answers again");
                }
                tracing::debug!(processes = processes.len(), "catalogue scanned");
                self.publish(Snapshot {
                    processes,
                    skipped,
                    engine: EngineState::Reachable,
                });
            }
            Err(reason) => {
                let previous = self.snapshot();
                if previous.engine == EngineState::Reachable {
                    tracing::warn!(
                        "{reason}; the catalogue keeps its {} processes until the engine answers",
                        previous.processes.len()
                    );
                }
                self.publish(Snapshot {
                    processes: previous.processes.clone(),
                    skipped: previous.skipped.clone(),
                    engine: EngineState::Unreachable(reason),
                });
            }
        }
    }
}

/// An image that may offer a process.
#[derive(Debug, Clone)]
struct Candidate {
    image: SeedImage,
    /// Named in [`CatalogSettings::images`].
    configured: bool,
}

/// Why an image is not published, and how loudly to say so.
struct Skip {
    skipped: SkippedImage,
    /// Passed over for a preferred image of the same process (logged at `info`, not `warn`).
    shadowed: bool,
}

type ScanResult = (BTreeMap<ProcessId, Arc<Process>>, Vec<SkippedImage>);

impl Scanner {
    /// One scan: the new process set and skipped images, or why the engine could not be asked.
    async fn scan(&mut self) -> Result<ScanResult, String> {
        let images = match &self.images {
            Some(images) => images.clone(),
            None => {
                // Credentials are for pulls; a scan only reads images.
                let engine = crate::engine::connect_engine(Vec::new())
                    .await
                    .map_err(|err| err.to_string())?;
                self.images = Some(engine.images.clone());
                engine.images
            }
        };
        self.search_watched_registries().await;
        let (candidates, missing) = self.find_candidates(images.as_ref()).await?;

        let labels = &mut self.labels;
        let mut seen_labels = HashSet::new();
        let (processes, mut skips) = select_processes(candidates, |label| {
            seen_labels.insert(label.to_string());
            labels
                .entry(label.to_string())
                .or_insert_with(|| read_label(label))
                .clone()
        });
        labels.retain(|label, _| seen_labels.contains(label));
        skips.extend(missing);
        skips.sort_by(|a, b| a.skipped.image.cmp(&b.skipped.image));

        for skip in not_yet_logged(&mut self.logged, &skips) {
            let (image, reason) = (&skip.skipped.image, &skip.skipped.reason);
            if skip.shadowed {
                tracing::info!(image = %image, "not published: {reason}");
            } else {
                tracing::warn!(image = %image, "not published: {reason}");
            }
        }

        Ok((
            processes,
            skips.into_iter().map(|skip| skip.skipped).collect(),
        ))
    }

    /// Searches the watched registries whose last search is older than the interval.
    async fn search_watched_registries(&mut self) {
        let Some(client) = self.settings.registry.clone() else {
            return;
        };
        for watched in self.settings.watch.clone() {
            let fresh = self
                .watched
                .get(&watched)
                .is_some_and(|(at, _)| at.elapsed() < self.settings.watch_interval);
            if fresh {
                continue;
            }
            let (registry, org) = match watched.split_once('/') {
                Some((registry, org)) => (registry, Some(org)),
                None => (watched.as_str(), None),
            };
            match client.search(registry, org, None).await {
                Ok(hits) => {
                    let images = hits
                        .into_iter()
                        .filter_map(|hit| {
                            let repository = hit.reference.rsplit_once(':').map_or(
                                hit.reference.as_str(),
                                |(repository, tag)| {
                                    if tag.contains('/') {
                                        hit.reference.as_str()
                                    } else {
                                        repository
                                    }
                                },
                            );
                            let label = serde_json::to_value(&hit.manifest).ok()?;
                            Some(SeedImage {
                                reference: format!("{repository}@{}", hit.digest),
                                id: hit.digest.clone(),
                                label: Some(label.to_string()),
                                created: None,
                                size_bytes: None,
                                repo_digests: Vec::new(),
                            })
                        })
                        .collect();
                    self.watched
                        .insert(watched.clone(), (std::time::Instant::now(), images));
                }
                Err(err) => {
                    tracing::warn!(registry = %watched, "watched registry not searched: {err}");
                    // Keep what it offered; try again after the interval.
                    let images = self
                        .watched
                        .remove(&watched)
                        .map(|(_, images)| images)
                        .unwrap_or_default();
                    self.watched
                        .insert(watched.clone(), (std::time::Instant::now(), images));
                }
            }
        }
    }

    /// The images to consider, and the configured ones the engine does not have.
    async fn find_candidates(
        &self,
        images: &dyn ImageStore,
    ) -> Result<(Vec<Candidate>, Vec<Skip>), String> {
        let mut candidates = Vec::new();
        if self.settings.discover_local_images {
            let found = images
                .list_seed_images()
                .await
                .map_err(|err| err.to_string())?;
            candidates.extend(found.into_iter().map(|image| Candidate {
                image,
                configured: false,
            }));
        }
        candidates.extend(
            self.watched
                .values()
                .flat_map(|(_, images)| images.iter().cloned())
                .map(|image| Candidate {
                    image,
                    configured: false,
                }),
        );
        let mut missing = Vec::new();
        for reference in &self.settings.images {
            if let Some(listed) = candidates
                .iter_mut()
                .find(|candidate| &candidate.image.reference == reference)
            {
                listed.configured = true;
                continue;
            }
            match images.inspect_image(reference).await {
                Ok(image) => candidates.push(Candidate {
                    image,
                    configured: true,
                }),
                Err(err @ ImageError::EngineUnavailable(_)) => return Err(err.to_string()),
                Err(ImageError::NotFound(_)) => missing.push(Skip {
                    skipped: SkippedImage {
                        image: reference.clone(),
                        reason: "the configured image is not in the local Docker engine: pull \
                                 or build it (it is published at the next scan)"
                            .to_string(),
                    },
                    shadowed: false,
                }),
                Err(err) => missing.push(Skip {
                    skipped: SkippedImage {
                        image: reference.clone(),
                        reason: format!("the configured image cannot be inspected: {err}"),
                    },
                    shadowed: false,
                }),
            }
        }
        Ok((candidates, missing))
    }
}

/// The skips not reported at an earlier scan; `logged` becomes the skips of this scan, so an
/// image that stops being skipped is reported again if it ever is again.
fn not_yet_logged<'a>(logged: &mut HashSet<String>, skips: &'a [Skip]) -> Vec<&'a Skip> {
    let key = |skip: &Skip| format!("{}\n{}", skip.skipped.image, skip.skipped.reason);
    let fresh = skips
        .iter()
        .filter(|skip| !logged.contains(&key(skip)))
        .collect();
    *logged = skips.iter().map(key).collect();
    fresh
}

/// The errors (not the warnings) of a manifest's validation, `; `-separated, each with its
/// JSON pointer: the one wording of "this manifest is invalid" for labels, stored rows and
/// deploy packages.
pub fn manifest_errors(problems: &[seed::Problem]) -> String {
    let errors: Vec<String> = problems
        .iter()
        .filter(|problem| problem.is_error())
        .map(ToString::to_string)
        .collect();
    errors.join("; ")
}

/// Decodes and validates a label value; the error says what is wrong and what to do.
fn read_label(label: &str) -> Result<Manifest, String> {
    let document = seed::label::decode_label(label).map_err(|err| err.to_string())?;
    match seed::validate::manifest_from_value(document) {
        Ok(valid) => Ok(valid.manifest),
        Err(problems) => Err(format!(
            "the {LABEL_KEY} label is not a valid Seed manifest: {} (fix the manifest, \
                 check it with `ades seed validate`, and rebuild the image)",
            manifest_errors(&problems)
        )),
    }
}

/// Turns candidates into processes, one per id (see the module documentation for the
/// preference), and says why every other candidate is not published.
fn select_processes(
    candidates: Vec<Candidate>,
    mut read_label: impl FnMut(&str) -> Result<Manifest, String>,
) -> (BTreeMap<ProcessId, Arc<Process>>, Vec<Skip>) {
    let mut skips = Vec::new();
    let mut by_id: BTreeMap<ProcessId, Vec<(Candidate, Manifest, Process)>> = BTreeMap::new();
    for candidate in candidates {
        let skip = |reason: String| Skip {
            skipped: SkippedImage {
                image: candidate.image.reference.clone(),
                reason,
            },
            shadowed: false,
        };
        let Some(label) = candidate.image.label.as_deref() else {
            skips.push(skip(format!(
                "it has no {LABEL_KEY} label, so it is not a Seed image"
            )));
            continue;
        };
        let manifest = match read_label(label) {
            Ok(manifest) => manifest,
            Err(reason) => {
                skips.push(skip(reason));
                continue;
            }
        };
        let image_id = Some(candidate.image.id.as_str()).filter(|id| !id.is_empty());
        match seed_process::try_process_from_manifest(
            &manifest,
            &candidate.image.reference,
            image_id,
        ) {
            Ok(process) => by_id
                .entry(process.id.clone())
                .or_default()
                .push((candidate, manifest, process)),
            Err(err) => skips.push(skip(format!("its job name cannot be a process id: {err}"))),
        }
    }

    let mut processes = BTreeMap::new();
    for (id, mut offers) in by_id {
        offers.sort_by(|a, b| preference((&b.0, &b.1), (&a.0, &a.1)));
        let mut offers = offers.into_iter();
        let Some((chosen, _, process)) = offers.next() else {
            continue;
        };
        for (other, _, _) in offers {
            if other.image.id == chosen.image.id && !other.image.id.is_empty() {
                continue;
            }
            skips.push(Skip {
                skipped: SkippedImage {
                    image: other.image.reference.clone(),
                    reason: format!(
                        "process `{id}` is published from the preferred image {} (higher \
                         jobVersion, packageVersion or newer; see the catalogue's rules)",
                        chosen.image.reference
                    ),
                },
                shadowed: true,
            });
        }
        processes.insert(id, Arc::new(process));
    }
    (processes, skips)
}

/// How `a` compares with `b` as the source of one process: `Greater` = `a` is preferred.
fn preference((a, ma): (&Candidate, &Manifest), (b, mb): (&Candidate, &Manifest)) -> Ordering {
    let (ja, jb) = (&ma.job, &mb.job);
    compare_semver(&ja.job_version, &jb.job_version)
        .then_with(|| compare_semver(&ja.package_version, &jb.package_version))
        .then_with(|| created_nanos(a).cmp(&created_nanos(b)))
        .then_with(|| a.configured.cmp(&b.configured))
        .then_with(|| conventional(a, ma).cmp(&conventional(b, mb)))
        .then_with(|| b.image.reference.cmp(&a.image.reference))
}

fn created_nanos(candidate: &Candidate) -> Option<i128> {
    candidate.image.created.as_deref().and_then(parse_rfc3339)
}

/// Whether the reference is the Seed image name of its job (perhaps under a registry).
fn conventional(candidate: &Candidate, manifest: &Manifest) -> bool {
    let name = seed::names::image_name(&manifest.job);
    let reference = &candidate.image.reference;
    reference == &name || reference.ends_with(&format!("/{name}"))
}

/// Semantic-version precedence (semver.org §11); build metadata is ignored. A version that
/// is not semantic (validation rules that out) sorts below every one that is, and two such
/// versions compare as text.
fn compare_semver(a: &str, b: &str) -> Ordering {
    match (parse_semver(a), parse_semver(b)) {
        (Some(va), Some(vb)) => va
            .core
            .cmp(&vb.core)
            .then_with(|| compare_prerelease(&va.pre, &vb.pre)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

struct Semver<'a> {
    core: (u64, u64, u64),
    pre: Vec<&'a str>,
}

fn parse_semver(text: &str) -> Option<Semver<'_>> {
    let text = text.split_once('+').map_or(text, |(version, _)| version);
    let (core, pre) = match text.split_once('-') {
        Some((core, pre)) => (core, pre.split('.').collect()),
        None => (text, Vec::new()),
    };
    let mut numbers = core.split('.').map(|part| part.parse::<u64>().ok());
    let version = (numbers.next()??, numbers.next()??, numbers.next()??);
    if numbers.next().is_some() {
        return None;
    }
    Some(Semver { core: version, pre })
}

fn compare_prerelease(a: &[&str], b: &[&str]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        // A release ranks above any of its pre-releases.
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.iter().zip(b) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// Nanoseconds since the Unix epoch of an RFC 3339 time as engines write it
/// (`2024-05-01T12:00:00.123456789Z`, or with a `±hh:mm` offset).
fn parse_rfc3339(text: &str) -> Option<i128> {
    use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};
    let number = |part: &str| part.parse::<i32>().ok();
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year = number(date_parts.next()?)?;
    let month = Month::try_from(u8::try_from(number(date_parts.next()?)?).ok()?).ok()?;
    let day = u8::try_from(number(date_parts.next()?)?).ok()?;

    let offset_at = rest.find(['Z', 'z', '+', '-'])?;
    let (clock, zone) = rest.split_at(offset_at);
    let offset = match zone {
        "Z" | "z" => UtcOffset::UTC,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = zone[1..].split_once(':')?;
            UtcOffset::from_hms(
                (sign * number(hours)?) as i8,
                (sign * number(minutes)?) as i8,
                0,
            )
            .ok()?
        }
    };
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut clock_parts = whole.split(':');
    let hour = u8::try_from(number(clock_parts.next()?)?).ok()?;
    let minute = u8::try_from(number(clock_parts.next()?)?).ok()?;
    let second = u8::try_from(number(clock_parts.next()?)?).ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        format!("{digits:0<9}").parse::<u32>().ok()?
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(
        PrimitiveDateTime::new(date, time)
            .assume_offset(offset)
            .unix_timestamp_nanos(),
    )
}

#[cfg(test)]
mod tests;
