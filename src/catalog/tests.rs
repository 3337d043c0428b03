//! Unit tests of the catalogue without an engine: choosing among images, skipping, parsing.

use super::*;
use serde_json::{json, Value};

fn manifest_document(name: &str, job_version: &str, package_version: &str) -> Value {
    json!({
        "seedVersion": "1.0.0",
        "job": {
            "name": name, "jobVersion": job_version, "packageVersion": package_version,
            "title": "T", "description": "D",
            "maintainer": {"name": "A", "email": "a@example.org"},
            "timeout": 10,
            "interface": {"inputs": {"json": [{"name": "X", "type": "string"}]}}
        }
    })
}

fn image(reference: &str, id: &str, created: &str, label: Option<String>) -> Candidate {
    Candidate {
        image: SeedImage {
            reference: reference.to_string(),
            id: id.to_string(),
            label,
            created: Some(created.to_string()),
            size_bytes: None,
            repo_digests: Vec::new(),
        },
        configured: false,
    }
}

fn seed_image(
    reference: &str,
    id: &str,
    created: &str,
    (name, job_version, package_version): (&str, &str, &str),
) -> Candidate {
    let label = seed::label::encode_label(&manifest_document(name, job_version, package_version));
    image(reference, id, created, Some(label))
}

const T0: &str = "2024-05-01T10:00:00Z";
const T1: &str = "2024-05-01T10:00:00.5Z";

fn select(candidates: Vec<Candidate>) -> (BTreeMap<ProcessId, Arc<Process>>, Vec<SkippedImage>) {
    let (processes, skips) = select_processes(candidates, read_label);
    (
        processes,
        skips.into_iter().map(|skip| skip.skipped).collect(),
    )
}

fn chosen(processes: &BTreeMap<ProcessId, Arc<Process>>, id: &str) -> String {
    processes[&ProcessId::parse(id).unwrap()]
        .seed()
        .unwrap()
        .image
        .clone()
}

#[test]
fn the_highest_package_version_wins_by_semver_not_by_text() {
    let (processes, skipped) = select(vec![
        seed_image(
            "job-1.0.0-seed:1.9.0",
            "sha256:a",
            T1,
            ("job", "1.0.0", "1.9.0"),
        ),
        seed_image(
            "job-1.0.0-seed:1.10.0",
            "sha256:b",
            T0,
            ("job", "1.0.0", "1.10.0"),
        ),
        seed_image(
            "job-1.0.0-seed:1.10.0-rc.1",
            "sha256:c",
            T1,
            ("job", "1.0.0", "1.10.0-rc.1"),
        ),
    ]);
    assert_eq!(processes.len(), 1);
    assert_eq!(chosen(&processes, "job"), "job-1.0.0-seed:1.10.0");
    let mut passed_over: Vec<&str> = skipped.iter().map(|s| s.image.as_str()).collect();
    passed_over.sort();
    assert_eq!(
        passed_over,
        vec!["job-1.0.0-seed:1.10.0-rc.1", "job-1.0.0-seed:1.9.0"]
    );
    assert!(skipped
        .iter()
        .all(|s| s.reason.contains("job-1.0.0-seed:1.10.0")));
}

#[test]
fn the_job_version_ranks_before_the_package_version() {
    let (processes, _) = select(vec![
        seed_image(
            "job-2.0.0-seed:1.0.0",
            "sha256:a",
            T0,
            ("job", "2.0.0", "1.0.0"),
        ),
        seed_image(
            "job-1.0.0-seed:3.0.0",
            "sha256:b",
            T1,
            ("job", "1.0.0", "3.0.0"),
        ),
    ]);
    assert_eq!(chosen(&processes, "job"), "job-2.0.0-seed:1.0.0");
    assert_eq!(
        processes[&ProcessId::parse("job").unwrap()].version,
        "2.0.0"
    );
}

#[test]
fn with_equal_versions_the_newest_image_wins_then_a_configured_one() {
    let (processes, skipped) = select(vec![
        seed_image(
            "old/job-1.0.0-seed:1.0.0",
            "sha256:a",
            T0,
            ("job", "1.0.0", "1.0.0"),
        ),
        seed_image(
            "new/job-1.0.0-seed:1.0.0",
            "sha256:b",
            T1,
            ("job", "1.0.0", "1.0.0"),
        ),
    ]);
    assert_eq!(chosen(&processes, "job"), "new/job-1.0.0-seed:1.0.0");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].image, "old/job-1.0.0-seed:1.0.0");

    let mut configured = seed_image("z-pinned:1", "sha256:a", T0, ("job", "1.0.0", "1.0.0"));
    configured.configured = true;
    let (processes, _) = select(vec![
        seed_image(
            "a/job-1.0.0-seed:1.0.0",
            "sha256:b",
            T0,
            ("job", "1.0.0", "1.0.0"),
        ),
        configured,
    ]);
    assert_eq!(chosen(&processes, "job"), "z-pinned:1");
}

#[test]
fn tags_of_one_image_prefer_the_seed_name_and_are_not_reported() {
    let (processes, skipped) = select(vec![
        seed_image("a-alias:latest", "sha256:a", T0, ("job", "1.0.0", "1.0.0")),
        seed_image(
            "job-1.0.0-seed:1.0.0",
            "sha256:a",
            T0,
            ("job", "1.0.0", "1.0.0"),
        ),
        seed_image("b-alias:latest", "sha256:a", T0, ("job", "1.0.0", "1.0.0")),
    ]);
    let process = &processes[&ProcessId::parse("job").unwrap()];
    assert_eq!(process.seed().unwrap().image, "job-1.0.0-seed:1.0.0");
    assert_eq!(
        process.seed().unwrap().image_id.as_deref(),
        Some("sha256:a")
    );
    assert!(skipped.is_empty(), "{skipped:?}");

    // Without the conventional name, the alphabetically first reference.
    let (processes, _) = select(vec![
        seed_image("b-alias:latest", "sha256:a", T0, ("job", "1.0.0", "1.0.0")),
        seed_image("a-alias:latest", "sha256:a", T0, ("job", "1.0.0", "1.0.0")),
    ]);
    assert_eq!(chosen(&processes, "job"), "a-alias:latest");
}

#[test]
fn the_choice_does_not_depend_on_listing_order() {
    let images = vec![
        seed_image(
            "job-1.0.0-seed:1.0.0",
            "sha256:a",
            T0,
            ("job", "1.0.0", "1.0.0"),
        ),
        seed_image(
            "job-1.0.0-seed:1.0.1",
            "sha256:b",
            T0,
            ("job", "1.0.0", "1.0.1"),
        ),
        seed_image(
            "other-1.0.0-seed:1.0.0",
            "sha256:c",
            T0,
            ("other", "1.0.0", "1.0.0"),
        ),
    ];
    let (forward, _) = select(images.clone());
    let (backward, _) = select(images.into_iter().rev().collect());
    assert_eq!(chosen(&forward, "job"), "job-1.0.0-seed:1.0.1");
    assert_eq!(chosen(&backward, "job"), "job-1.0.0-seed:1.0.1");
    let ids: Vec<&str> = forward.keys().map(ProcessId::as_str).collect();
    assert_eq!(ids, vec!["job", "other"]);
}

#[test]
fn images_without_a_valid_label_are_skipped_with_a_reason() {
    let mut invalid = manifest_document("bad", "1.0.0", "1.0.0");
    invalid["job"]["timeout"] = json!("soon");
    let (processes, skipped) = select(vec![
        image("plain-seed:1", "sha256:a", T0, None),
        image(
            "garbage-seed:1",
            "sha256:b",
            T0,
            Some("{not json".to_string()),
        ),
        image(
            "bad-1.0.0-seed:1.0.0",
            "sha256:c",
            T0,
            Some(seed::label::encode_label(&invalid)),
        ),
        seed_image(
            "good-1.0.0-seed:1.0.0",
            "sha256:d",
            T0,
            ("good", "1.0.0", "1.0.0"),
        ),
    ]);
    assert_eq!(processes.len(), 1);
    let reason = |reference: &str| {
        skipped
            .iter()
            .find(|s| s.image == reference)
            .unwrap_or_else(|| panic!("{reference} not skipped: {skipped:?}"))
            .reason
            .clone()
    };
    assert!(reason("plain-seed:1").contains("has no com.ngageoint.seed.manifest label"));
    assert!(reason("garbage-seed:1").contains("not a JSON manifest"));
    let bad = reason("bad-1.0.0-seed:1.0.0");
    assert!(bad.contains("not a valid Seed manifest"), "{bad}");
    assert!(bad.contains("/job/timeout"), "{bad}");
}

#[test]
fn the_seed_cli_label_form_is_read() {
    // `seed build` stores the manifest as a JSON string with `\/` and `\$` escapes.
    let document = manifest_document("quoted", "1.0.0", "1.0.0");
    let quoted = serde_json::to_string(&document.to_string())
        .unwrap()
        .replace('/', "\\/");
    let (processes, skipped) = select(vec![image("quoted-seed:1", "sha256:a", T0, Some(quoted))]);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(chosen(&processes, "quoted"), "quoted-seed:1");
}

#[test]
fn a_fixed_catalogue_lists_gets_and_survives_a_rescan() {
    let make = |name: &str| {
        let manifest =
            seed::validate::manifest_from_value(manifest_document(name, "1.0.0", "1.0.0"))
                .unwrap()
                .manifest;
        seed_process::process_from_manifest(&manifest, &format!("{name}:1"), None)
    };
    let catalog = Catalog::from_processes(vec![make("zeta"), make("alpha"), make("mid")]);
    let ids: Vec<String> = catalog.list().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, vec!["alpha", "mid", "zeta"]);
    assert_eq!(
        catalog
            .get(&ProcessId::parse("mid").unwrap())
            .unwrap()
            .seed()
            .unwrap()
            .image,
        "mid:1"
    );
    assert!(catalog.get(&ProcessId::parse("nope").unwrap()).is_none());
    assert_eq!(catalog.engine_state(), EngineState::Reachable);
    assert!(catalog.skipped().is_empty());

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(catalog.rescan());
    assert_eq!(catalog.list().len(), 3);
}

#[test]
fn a_catalogue_without_an_engine_starts_empty_and_says_why() {
    let catalog = Catalog::new(
        CatalogSettings::default(),
        Err("no engine here".to_string()),
    );
    assert!(catalog.list().is_empty());
    assert_eq!(
        catalog.engine_state(),
        EngineState::Unreachable("no engine here".to_string())
    );
}

#[test]
fn the_rescan_loop_stops_on_shutdown() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let catalog = Catalog::from_processes(Vec::new());
        let shutdown = tokio_util::sync::CancellationToken::new();
        let task =
            catalog.spawn_rescan_loop(std::time::Duration::from_millis(10), shutdown.clone());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        shutdown.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("the loop ends")
            .unwrap();

        let zero = catalog.spawn_rescan_loop(
            std::time::Duration::ZERO,
            tokio_util::sync::CancellationToken::new(),
        );
        tokio::time::timeout(std::time::Duration::from_secs(5), zero)
            .await
            .expect("a zero interval ends at once")
            .unwrap();
    });
}

#[test]
fn semantic_versions_compare_by_precedence() {
    use Ordering::*;
    let cases = [
        ("1.0.0", "1.0.0", Equal),
        ("1.10.0", "1.9.0", Greater),
        ("2.0.0", "10.0.0", Less),
        ("1.0.0", "1.0.0-rc.1", Greater),
        ("1.0.0-alpha", "1.0.0-alpha.1", Less),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta", Less),
        ("1.0.0-beta.2", "1.0.0-beta.11", Less),
        ("1.0.0-rc.1", "1.0.0-beta.11", Greater),
        ("1.0.0+build.5", "1.0.0", Equal),
        ("1.0.0", "not-a-version", Greater),
    ];
    for (a, b, expected) in cases {
        assert_eq!(compare_semver(a, b), expected, "{a} vs {b}");
        assert_eq!(compare_semver(b, a), expected.reverse(), "{b} vs {a}");
    }
}

#[test]
fn engine_times_are_parsed_to_nanoseconds() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
    assert_eq!(
        parse_rfc3339("2024-05-01T10:00:00.123456789Z"),
        Some(1_714_557_600_123_456_789)
    );
    assert_eq!(
        parse_rfc3339("2024-05-01T12:00:00+02:00"),
        parse_rfc3339("2024-05-01T10:00:00Z")
    );
    assert_eq!(
        parse_rfc3339("2024-05-01T08:30:00-01:30"),
        parse_rfc3339("2024-05-01T10:00:00Z")
    );
    assert!(parse_rfc3339(T1) > parse_rfc3339(T0));
    assert_eq!(parse_rfc3339("yesterday"), None);
    assert_eq!(parse_rfc3339(""), None);
}

#[test]
fn each_skipped_image_is_reported_once_until_its_reason_changes() {
    let skip = |image: &str, reason: &str| Skip {
        skipped: SkippedImage {
            image: image.to_string(),
            reason: reason.to_string(),
        },
        shadowed: false,
    };
    let names = |fresh: Vec<&Skip>| -> Vec<String> {
        fresh.iter().map(|s| s.skipped.image.clone()).collect()
    };
    let mut logged = HashSet::new();
    let first = [skip("a", "no label"), skip("b", "invalid")];
    assert_eq!(names(not_yet_logged(&mut logged, &first)), vec!["a", "b"]);
    assert!(not_yet_logged(&mut logged, &first).is_empty());
    let changed = [skip("a", "no label"), skip("b", "invalid in another way")];
    assert_eq!(names(not_yet_logged(&mut logged, &changed)), vec!["b"]);
    // `a` was fixed, then broke again: reported again.
    assert!(not_yet_logged(&mut logged, &changed[1..]).is_empty());
    assert_eq!(names(not_yet_logged(&mut logged, &changed)), vec!["a"]);
}

/// An engine that only lists (no images), counting how often it is asked.
struct CountingImages {
    lists: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::engine::ImageStore for CountingImages {
    async fn inspect_image(&self, reference: &str) -> Result<SeedImage, ImageError> {
        Err(ImageError::NotFound(reference.to_string()))
    }
    async fn list_seed_images(&self) -> Result<Vec<SeedImage>, ImageError> {
        self.lists.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Long enough for every request below to find the catalogue stale meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Ok(Vec::new())
    }
    async fn build_image(
        &self,
        _: &crate::engine::BuildRequest,
        _: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<String, ImageError> {
        unreachable!("not built in this test")
    }
    async fn tag_image(&self, _: &str, _: &str, _: &str) -> Result<(), ImageError> {
        unreachable!("not tagged in this test")
    }
    async fn push_image(
        &self,
        _: &str,
        _: &str,
        _: &[crate::registry::RegistryCredentials],
        _: &mut (dyn for<'line> FnMut(&'line str) + Send),
    ) -> Result<Option<String>, ImageError> {
        unreachable!("not pushed in this test")
    }
    async fn untag_image(&self, _: &str) -> Result<(), ImageError> {
        unreachable!("not untagged in this test")
    }
    async fn pull_image(
        &self,
        _: &str,
        _: &tokio_util::sync::CancellationToken,
        _: &mut dyn crate::engine::LogSink,
    ) -> Result<bool, crate::engine::RunnerError> {
        unreachable!("not pulled in this test")
    }
}

#[test]
fn listings_that_find_the_catalogue_stale_together_share_one_scan() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let images = Arc::new(CountingImages {
        lists: std::sync::atomic::AtomicUsize::new(0),
    });
    let settings = CatalogSettings {
        discover_local_images: true,
        ..CatalogSettings::default()
    };
    let catalog = Catalog::new(settings, Ok(images.clone()));
    runtime.block_on(async {
        let asks: Vec<_> = (0..8)
            .map(|_| {
                let catalog = catalog.clone();
                tokio::spawn(async move { catalog.rescan_if_older_than(ON_DEMAND_SCAN_AGE).await })
            })
            .collect();
        for ask in asks {
            ask.await.unwrap();
        }
    });
    assert_eq!(images.lists.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Once the scan is old enough, the next listing scans again.
    runtime.block_on(catalog.rescan_if_older_than(std::time::Duration::ZERO));
    assert_eq!(images.lists.load(std::sync::atomic::Ordering::SeqCst), 2);
}
