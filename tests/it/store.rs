//! Integration tests of store/ (owned by the store work).
//!
//! `contract` holds the rules every [`JobStore`] keeps, written against `Arc<dyn JobStore>`
//! so each backend runs the same functions: `contract_tests!` turns them into tests for one
//! backend (SQLite and PostgreSQL below). Backend-specific tests (reopening a file, corrupt
//! rows) follow; the insert rate is measured by `benches/sqlite_insert.rs`.
//!
//! The PostgreSQL tests need a server: `ADES_TEST_POSTGRES_URL` names a database on it
//! (e.g. `postgres://ades:ades@127.0.0.1:5432/postgres`) as a role allowed to create
//! databases; each test creates its own and drops it at the end. `scripts/start-postgres.sh`
//! starts one and prints the URL. Without the variable these tests fail (never skip).

use crate::support::{with_database, PostgresTestDatabase};
use ades::domain::{JobStatus, ProcessId, WorkerId};
use ades::store::postgres::PostgresStore;
use ades::store::sqlite::SqliteStore;
use ades::store::{JobStore, ProcessStore, StoreError};
use sqlx::Connection;
use std::sync::Arc;
use tempfile::TempDir;

/// Runs each named `contract` function as a test against the store each backend's `open`
/// function returns, in a module per backend:
/// `contract_tests!([sqlite: open_sqlite, ...]; [name, ...])`.
macro_rules! contract_tests {
    ([$($backend:ident: $open:ident),* $(,)?]; $names:tt) => {
        $( contract_tests!(@backend $backend, $open; $names); )*
    };
    (@backend $backend:ident, $open:ident; [$($name:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (_guard, store) = super::$open().await;
                    super::contract::$name(store).await;
                }
            )*
        }
    };
}

contract_tests!([sqlite: open_sqlite, postgres: open_postgres]; [
    insert_and_get_round_trip,
    times_are_kept_to_the_microsecond,
    duplicate_ids_are_database_errors,
    concurrent_submissions_all_commit_and_a_bad_one_fails_alone,
    claim_order_is_priority_then_age,
    no_double_claim_under_concurrency,
    fenced_writes_need_the_lease,
    an_expired_lease_can_be_renewed_until_reaped,
    dismiss_accepted_running_final_and_unknown,
    dismiss_active_stops_waiting_and_running_jobs_only,
    reaping_requeues_then_fails_after_max_attempts,
    list_filters_order_and_pages,
    list_orders_equal_times_by_id,
    final_statuses_never_change,
    job_events_are_the_trail_oldest_first,
    running_job_ids_lists_held_jobs,
    process_insert_and_get_round_trip,
    process_duplicate_insert_keeps_the_first,
    process_replace_keeps_deployed_and_changes_the_rest,
    process_replace_and_delete_of_unknown_ids_are_not_found,
    processes_are_listed_by_id,
    process_delete_then_get_is_none,
    process_concurrent_inserts_of_one_id_have_one_winner,
    retried_jobs_wait_for_their_delay_and_keep_their_attempts,
    requeue_restarts_failed_and_dismissed_jobs_only,
    queued_jobs_are_counted,
    process_limits_cap_running_jobs,
    concurrent_claims_never_pass_a_process_limit,
    worker_hosts_register_refresh_and_go,
    status_changes_queue_the_callbacks_they_make_due,
    callbacks_are_claimed_once_retried_and_recorded,
    a_lapsed_callback_claim_is_taken_again,
    jobs_keep_their_owner_and_list_by_owner,
    api_keys_are_found_by_hash_listed_and_revoked_once,
    the_audit_trail_is_listed_newest_first,
    every_status_write_changes_exactly_the_sources_of_its_transition,
    provenance_is_kept_by_the_lease_holder_and_replaced_by_a_later_attempt,
    workspaces_are_created_updated_listed_and_deleted,
    an_ingest_and_its_job_are_recorded_together_and_once,
    ingests_are_listed_newest_first_with_filters_and_pages,
    a_strike_is_leased_to_one_owner_at_a_time,
    workflow_jobs_are_never_claimed_and_each_step_is_inserted_once,
    a_remote_job_is_recorded_by_compare_and_swap,
]);

/// A fresh SQLite store in a temporary directory (kept alive by the returned guard).
async fn open_sqlite() -> (TempDir, Arc<dyn JobStore>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::connect(dir.path().join("jobs.db").to_str().unwrap())
        .await
        .expect("open the SQLite store");
    (dir, Arc::new(store))
}

/// A fresh PostgreSQL store in a database of its own (dropped with the returned guard).
async fn open_postgres() -> (PostgresTestDatabase, Arc<dyn JobStore>) {
    let database = PostgresTestDatabase::create().await;
    let store = PostgresStore::connect(&database.url())
        .await
        .expect("open the PostgreSQL store");
    (database, Arc::new(store))
}

#[test]
fn test_database_urls_keep_server_and_options() {
    assert_eq!(
        with_database("postgres://a:b@h:5432/postgres", "x"),
        "postgres://a:b@h:5432/x"
    );
    assert_eq!(
        with_database("postgresql://h/postgres?sslmode=disable", "x"),
        "postgresql://h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
}

/// The backend-neutral contract.
mod contract {
    use ades::domain::{
        ExecuteRequest, InputValue, Job, JobEvent, JobId, JobResults, JobStatus, OutputRequest,
        OutputValue, ProcessId, ResponseMode, Subscriber, TransmissionMode, WorkerId,
    };
    use ades::store::{
        Completion, DeployedProcess, JobFilter, JobStore, NewJob, ProcessWriteError, ReapedJob,
        RunningLimits, StoreError, WorkerHost,
    };
    use seed::errors::{FailureCategory, JobFailure};
    use serde_json::json;
    use std::collections::{BTreeMap, HashSet};
    use std::sync::Arc;
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    type Store = Arc<dyn JobStore>;

    pub async fn jobs_keep_their_owner_and_list_by_owner(store: Store) {
        let owned = |owner: Option<&str>| NewJob {
            owner: owner.map(str::to_string),
            ..new_job("p", 0)
        };
        let alice = store.insert_job(owned(Some("alice")), at(1)).await.unwrap();
        let bob = store.insert_job(owned(Some("bob")), at(2)).await.unwrap();
        let nobody = store.insert_job(owned(None), at(3)).await.unwrap();
        assert_eq!(alice.owner.as_deref(), Some("alice"));
        assert_eq!(get(&store, &bob.id).await.owner.as_deref(), Some("bob"));
        assert_eq!(get(&store, &nobody.id).await.owner, None);
        let listed = |owner: Option<&str>| {
            let store = store.clone();
            let filter = JobFilter {
                limit: 10,
                owner: owner.map(str::to_string),
                ..Default::default()
            };
            async move {
                let page = store.list_jobs(&filter, at(10)).await.unwrap();
                page.jobs.into_iter().map(|j| j.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(listed(Some("alice")).await, vec![alice.id.clone()]);
        assert_eq!(listed(Some("carol")).await, Vec::<JobId>::new());
        assert_eq!(
            listed(None).await,
            vec![nobody.id, bob.id, alice.id.clone()]
        );
        // A claimed job keeps its owner; the count of a user's active jobs follows.
        assert_eq!(store.count_active_jobs_of("alice").await.unwrap(), 1);
        let worker = worker("w-owner");
        let claimed = loop {
            let job = store
                .claim_next_job(&worker, at(100), at(4))
                .await
                .unwrap()
                .unwrap();
            if job.id == alice.id {
                break job;
            }
        };
        assert_eq!(claimed.owner.as_deref(), Some("alice"));
        assert_eq!(store.count_active_jobs_of("alice").await.unwrap(), 1);
        store.dismiss_job(&alice.id, at(5)).await.unwrap();
        assert_eq!(store.count_active_jobs_of("alice").await.unwrap(), 0);
        assert_eq!(store.count_active_jobs_of("bob").await.unwrap(), 1);
    }

    pub async fn api_keys_are_found_by_hash_listed_and_revoked_once(store: Store) {
        let key = |id: &str, user: &str, seconds: i64| ades::store::ApiKeyRecord {
            id: id.to_string(),
            user: user.to_string(),
            roles: vec!["user".to_string(), "reader".to_string()],
            name: format!("{id} note"),
            created: at(seconds),
            revoked: None,
        };
        store
            .insert_api_key(&key("k1", "carol", 1), "hash-1")
            .await
            .unwrap();
        store
            .insert_api_key(&key("k2", "dave", 2), "hash-2")
            .await
            .unwrap();
        assert_eq!(
            store.find_api_key("hash-1").await.unwrap(),
            Some(key("k1", "carol", 1))
        );
        assert_eq!(store.find_api_key("hash-3").await.unwrap(), None);
        // A hash is one key's only.
        assert!(store
            .insert_api_key(&key("k3", "eve", 3), "hash-1")
            .await
            .is_err());
        let listed = store.list_api_keys().await.unwrap();
        assert_eq!(
            listed.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ["k1", "k2"]
        );
        assert!(store.revoke_api_key("k1", at(5)).await.unwrap());
        assert!(
            !store.revoke_api_key("k1", at(6)).await.unwrap(),
            "revoked already"
        );
        assert!(
            !store.revoke_api_key("k9", at(6)).await.unwrap(),
            "no such key"
        );
        let revoked = store.find_api_key("hash-1").await.unwrap().unwrap();
        assert_eq!(revoked.revoked, Some(at(5)));
    }

    pub async fn the_audit_trail_is_listed_newest_first(store: Store) {
        let entry = |seconds: i64, action: &str, target: &str| ades::store::AuditEntry {
            at: at(seconds),
            actor: "root".to_string(),
            action: action.to_string(),
            target: target.to_string(),
            detail: String::new(),
        };
        store
            .append_audit(&entry(1, "deploy", "echo"))
            .await
            .unwrap();
        store
            .append_audit(&entry(2, "submit", "job-1"))
            .await
            .unwrap();
        store
            .append_audit(&entry(2, "dismiss", "job-1"))
            .await
            .unwrap();
        let all = store.list_audit(10).await.unwrap();
        assert_eq!(
            all.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["dismiss", "submit", "deploy"]
        );
        assert_eq!(all[2], entry(1, "deploy", "echo"));
        assert_eq!(store.list_audit(1).await.unwrap().len(), 1);
    }

    /// `seconds` after a fixed instant (whole microseconds, so stored times compare equal).
    fn at(seconds: i64) -> OffsetDateTime {
        datetime!(2025-03-01 12:00:00 UTC) + Duration::seconds(seconds)
    }

    fn worker(name: &str) -> WorkerId {
        WorkerId(name.to_owned())
    }

    fn process(name: &str) -> ProcessId {
        ProcessId::parse(name).unwrap()
    }

    /// A request using every kind of input and option, to check JSON round trips.
    fn rich_request() -> ExecuteRequest {
        let mut inputs = BTreeMap::new();
        inputs.insert(
            "text".to_owned(),
            vec![InputValue::Inline {
                value: json!({"nested": [1, 2.5, "three", null, true]}),
                media_type: Some("application/json".to_owned()),
            }],
        );
        inputs.insert(
            "files".to_owned(),
            vec![
                InputValue::Base64 {
                    data: "aGVsbG8=".to_owned(),
                    media_type: None,
                },
                InputValue::Href {
                    href: "https://example.org/a.tif?x=1&y=é".to_owned(),
                    media_type: Some("image/tiff".to_owned()),
                },
            ],
        );
        let mut outputs = BTreeMap::new();
        outputs.insert(
            "result".to_owned(),
            OutputRequest {
                transmission_mode: TransmissionMode::Reference,
                media_type: Some("text/plain".to_owned()),
            },
        );
        ExecuteRequest {
            inputs,
            outputs,
            response: ResponseMode::Document,
            subscriber: Some(Subscriber {
                success_uri: Some("https://example.org/done".to_owned()),
                in_progress_uri: None,
                failed_uri: Some("https://example.org/failed".to_owned()),
                base_url: None,
            }),
            workflow: None,
            remote: None,
            output_workspace: None,
        }
    }

    fn subscribed(success: bool, running: bool, failed: bool) -> NewJob {
        let uri =
            |wanted: bool, name: &str| wanted.then(|| format!("https://example.org/{name}?t=1"));
        NewJob {
            request: ExecuteRequest {
                subscriber: Some(Subscriber {
                    success_uri: uri(success, "ok"),
                    in_progress_uri: uri(running, "running"),
                    failed_uri: uri(failed, "failed"),
                    base_url: Some("https://ades.example.org".to_owned()),
                }),
                ..ExecuteRequest::default()
            },
            ..new_job("p", 0)
        }
    }

    /// Claims every due callback at `now` (for `owner`), as (status, uri) pairs.
    async fn claim_all(
        store: &Store,
        owner: &str,
        now: OffsetDateTime,
    ) -> Vec<ades::domain::DueCallback> {
        let mut claimed = Vec::new();
        while let Some(due) = store
            .claim_callback(owner, now + Duration::seconds(30), now)
            .await
            .unwrap()
        {
            claimed.push(due);
        }
        claimed
    }

    pub async fn status_changes_queue_the_callbacks_they_make_due(store: Store) {
        // Running then successful: in progress, then success, each with the attempt.
        let job = store
            .insert_job(subscribed(true, true, true), at(0))
            .await
            .unwrap();
        claim(&store, "w", at(1)).await;
        assert!(store
            .complete_job(&job.id, &worker("w"), succeeded("done"), at(2))
            .await
            .unwrap());
        let due = claim_all(&store, "me", at(3)).await;
        let seen: Vec<(JobStatus, u32, &str)> = due
            .iter()
            .map(|d| (d.status, d.attempt, d.uri.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                (JobStatus::Running, 1, "https://example.org/running?t=1"),
                (JobStatus::Successful, 1, "https://example.org/ok?t=1"),
            ]
        );
        assert_eq!(due[1].idempotency_key(), format!("{}:successful:1", job.id));
        assert!(due.iter().all(|d| d.tries == 1 && d.job_id == job.id));

        // Withdrawing a finished job queues nothing more: its callback was its end.
        store.dismiss_job(&job.id, at(4)).await.unwrap();
        assert!(claim_all(&store, "me", at(5)).await.is_empty());

        // Dismissed while waiting: failedUri.
        let waiting = store
            .insert_job(subscribed(true, true, true), at(10))
            .await
            .unwrap();
        store.dismiss_job(&waiting.id, at(11)).await.unwrap();
        let due = claim_all(&store, "me", at(12)).await;
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].status, due[0].attempt), (JobStatus::Dismissed, 0));
        assert_eq!(due[0].uri, "https://example.org/failed?t=1");

        // Failed, with only successUri: nothing. Without a subscriber: nothing.
        let only_success = store
            .insert_job(subscribed(true, false, false), at(20))
            .await
            .unwrap();
        claim(&store, "w", at(21)).await;
        let failure = JobFailure {
            name: "boom".into(),
            title: "Boom".into(),
            description: "it broke".into(),
            category: FailureCategory::Job,
            exit_code: Some(1),
        };
        assert!(store
            .complete_job(
                &only_success.id,
                &worker("w"),
                Completion::Failed {
                    failure,
                    message: "boom".into()
                },
                at(22),
            )
            .await
            .unwrap());
        let plain = insert(&store, "p", 0, at(23)).await;
        store.dismiss_job(&plain.id, at(24)).await.unwrap();
        assert!(claim_all(&store, "me", at(25)).await.is_empty());
    }

    pub async fn callbacks_are_claimed_once_retried_and_recorded(store: Store) {
        use ades::domain::CallbackOutcome;
        let job = store
            .insert_job(subscribed(false, false, true), at(0))
            .await
            .unwrap();
        store.dismiss_job(&job.id, at(1)).await.unwrap();
        let first = claim_all(&store, "a", at(2)).await;
        assert_eq!(first.len(), 1);
        // Claimed: nobody else gets it while the claim holds.
        assert!(claim_all(&store, "b", at(3)).await.is_empty());
        // Only the holder records the try.
        let retry = CallbackOutcome::RetryAt(at(10));
        assert!(!store
            .finish_callback_try(&first[0], "b", &retry, "answered 503", at(4))
            .await
            .unwrap());
        assert!(store
            .finish_callback_try(&first[0], "a", &retry, "answered 503", at(4))
            .await
            .unwrap());
        // Not due again before its time; then the second try.
        assert!(claim_all(&store, "b", at(9)).await.is_empty());
        let second = claim_all(&store, "b", at(10)).await;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].tries, 2);
        assert!(store
            .finish_callback_try(
                &second[0],
                "b",
                &CallbackOutcome::Delivered,
                "answered 200 OK",
                at(11)
            )
            .await
            .unwrap());
        assert!(
            claim_all(&store, "c", at(1_000)).await.is_empty(),
            "delivered is done"
        );

        let records = store.job_callbacks(&job.id).await.unwrap();
        assert_eq!(records.len(), 1);
        let record = &records[0];
        assert_eq!(record.status, JobStatus::Dismissed);
        assert_eq!(record.uri, "https://example.org/failed?t=1");
        assert_eq!(record.delivered, Some(at(11)));
        assert_eq!(record.next_attempt, None);
        let tries: Vec<(u32, bool, &str)> = record
            .tries
            .iter()
            .map(|t| (t.number, t.delivered, t.outcome.as_str()))
            .collect();
        assert_eq!(
            tries,
            [(1, false, "answered 503"), (2, true, "answered 200 OK")]
        );

        // Given up: recorded, never claimed again.
        let other = store
            .insert_job(subscribed(false, false, true), at(20))
            .await
            .unwrap();
        store.dismiss_job(&other.id, at(21)).await.unwrap();
        let due = claim_all(&store, "a", at(22)).await;
        assert!(store
            .finish_callback_try(
                &due[0],
                "a",
                &CallbackOutcome::GivenUp,
                "connection refused",
                at(23)
            )
            .await
            .unwrap());
        assert!(claim_all(&store, "a", at(100_000)).await.is_empty());
        let records = store.job_callbacks(&other.id).await.unwrap();
        assert_eq!(records[0].given_up, Some(at(23)));
        assert_eq!(records[0].delivered, None);
        // A job without callbacks has none to show.
        let plain = insert(&store, "p", 0, at(30)).await;
        assert!(store.job_callbacks(&plain.id).await.unwrap().is_empty());
    }

    pub async fn a_lapsed_callback_claim_is_taken_again(store: Store) {
        let job = store
            .insert_job(subscribed(false, false, true), at(0))
            .await
            .unwrap();
        store.dismiss_job(&job.id, at(1)).await.unwrap();
        // "a" claims until at(2) + 30 s and dies without a word.
        assert_eq!(claim_all(&store, "a", at(2)).await.len(), 1);
        assert!(claim_all(&store, "b", at(31)).await.is_empty());
        let again = claim_all(&store, "b", at(33)).await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].tries, 2);
        // The dead claimer's late word is not taken.
        let late = ades::domain::CallbackOutcome::Delivered;
        assert!(!store
            .finish_callback_try(&again[0], "a", &late, "answered 200 OK", at(34))
            .await
            .unwrap());
    }

    fn rich_results() -> JobResults {
        let mut results = BTreeMap::new();
        results.insert(
            "count".to_owned(),
            vec![OutputValue::Json {
                value: json!({"n": 42, "items": ["a", "b"]}),
            }],
        );
        results.insert(
            "tiles".to_owned(),
            vec![
                OutputValue::File {
                    path: "outputs/tile 1.tif".to_owned(),
                    media_type: Some("image/tiff".to_owned()),
                    size_bytes: 1 << 40,
                    metadata: Some(json!({"type": "Feature", "geometry": null})),
                    published: None,
                },
                OutputValue::File {
                    path: "outputs/tile-2.tif".to_owned(),
                    media_type: None,
                    size_bytes: 0,
                    metadata: None,
                    published: None,
                },
            ],
        );
        results
    }

    fn a_failure() -> JobFailure {
        JobFailure {
            name: "bad-input".to_owned(),
            title: "Bad input".to_owned(),
            description: "The input \"x\" is not a raster.\nSecond line.".to_owned(),
            category: FailureCategory::Data,
            exit_code: Some(3),
        }
    }

    fn new_job(process_id: &str, priority: i32) -> NewJob {
        NewJob {
            id: JobId::new(),
            process_id: process(process_id),
            request: ExecuteRequest::default(),
            priority,
            owner: None,
            step_of: None,
            workflow: false,
            submitted_by: None,
        }
    }

    /// A remote step's record: one of two drivers claims it, only the claimer sets the URL.
    pub async fn a_remote_job_is_recorded_by_compare_and_swap(store: Store) {
        let now = OffsetDateTime::now_utc();
        let job = insert(&store, "remote-step", 0, now).await;
        assert_eq!(store.remote_job(&job.id).await.unwrap(), None);
        let (first, second) = tokio::join!(
            store.swap_remote_job(&job.id, None, "submitting:1"),
            store.swap_remote_job(&job.id, None, "submitting:2"),
        );
        assert!(first.unwrap() ^ second.unwrap(), "exactly one claim wins");
        let marker = store.remote_job(&job.id).await.unwrap().expect("claimed");
        assert!(!store
            .swap_remote_job(&job.id, Some("submitting:0"), "https://r/jobs/x")
            .await
            .unwrap());
        assert!(store
            .swap_remote_job(&job.id, Some(&marker), "https://r/jobs/1")
            .await
            .unwrap());
        assert_eq!(
            store.remote_job(&job.id).await.unwrap().as_deref(),
            Some("https://r/jobs/1")
        );
        let unknown = JobId::new();
        assert_eq!(store.remote_job(&unknown).await.unwrap(), None);
        assert!(!store.swap_remote_job(&unknown, None, "x").await.unwrap());
    }

    async fn insert(store: &Store, process_id: &str, priority: i32, now: OffsetDateTime) -> Job {
        store
            .insert_job(new_job(process_id, priority), now)
            .await
            .expect("insert a job")
    }

    async fn get(store: &Store, id: &JobId) -> Job {
        store.get_job(id).await.unwrap().expect("the job exists")
    }

    async fn claim(store: &Store, who: &str, now: OffsetDateTime) -> Job {
        store
            .claim_next_job(&worker(who), now + Duration::seconds(30), now)
            .await
            .unwrap()
            .expect("a job to claim")
    }

    fn succeeded(message: &str) -> Completion {
        Completion::Succeeded {
            results: rich_results(),
            message: message.to_owned(),
        }
    }

    fn statuses(events: &[JobEvent]) -> Vec<JobStatus> {
        events.iter().map(|e| e.status).collect()
    }

    /// A trail starts `accepted` and each step is a transition the state machine allows.
    fn assert_valid_trail(events: &[JobEvent]) {
        assert_eq!(events.first().map(|e| e.status), Some(JobStatus::Accepted));
        for pair in events.windows(2) {
            assert!(
                pair[0].status.can_become(pair[1].status),
                "{:?} -> {:?} is not a transition",
                pair[0].status,
                pair[1].status
            );
            assert!(pair[0].at <= pair[1].at, "events out of order: {events:?}");
        }
    }

    pub async fn insert_and_get_round_trip(store: Store) {
        let new = NewJob {
            id: JobId::new(),
            process_id: process("io-demo"),
            request: rich_request(),
            priority: 7,
            owner: None,
            step_of: None,
            workflow: false,
            submitted_by: None,
        };
        let inserted = store.insert_job(new.clone(), at(0)).await.unwrap();
        assert_eq!(inserted.id, new.id);
        assert_eq!(inserted.process_id, new.process_id);
        assert_eq!(inserted.status, JobStatus::Accepted);
        assert_eq!(inserted.request, rich_request());
        assert_eq!(inserted.created, at(0));
        assert_eq!(inserted.updated, at(0));
        assert_eq!(inserted.started, None);
        assert_eq!(inserted.finished, None);
        assert_eq!(inserted.attempt, 0);
        assert_eq!(inserted.progress, None);
        assert_eq!(inserted.results, None);
        assert_eq!(inserted.failure, None);
        assert_eq!(get(&store, &new.id).await, inserted);
        assert_eq!(store.get_job(&JobId::new()).await.unwrap(), None);

        let claimed = claim(&store, "w1", at(5)).await;
        assert_eq!(claimed.id, new.id);
        assert!(store
            .complete_job(&new.id, &worker("w1"), succeeded("all done"), at(9))
            .await
            .unwrap());
        let done = get(&store, &new.id).await;
        assert_eq!(done.status, JobStatus::Successful);
        assert_eq!(done.results, Some(rich_results()));
        assert_eq!(done.failure, None);
        assert_eq!(done.message.as_deref(), Some("all done"));
        assert_eq!(done.progress, Some(100));
        assert_eq!(done.started, Some(at(5)));
        assert_eq!(done.finished, Some(at(9)));
        assert_eq!(done.updated, at(9));
        assert_eq!(done.request, rich_request());

        let other = insert(&store, "io-demo", 0, at(10)).await;
        claim(&store, "w1", at(11)).await;
        let failed = Completion::Failed {
            failure: a_failure(),
            message: "exit code 3".to_owned(),
        };
        assert!(store
            .complete_job(&other.id, &worker("w1"), failed, at(12))
            .await
            .unwrap());
        let failed = get(&store, &other.id).await;
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.failure, Some(a_failure()));
        assert_eq!(failed.results, None);
        assert_eq!(failed.message.as_deref(), Some("exit code 3"));
        assert_eq!(failed.finished, Some(at(12)));
    }

    pub async fn times_are_kept_to_the_microsecond(store: Store) {
        let precise = datetime!(2025-03-01 12:00:00.123456789 UTC);
        let job = insert(&store, "io-demo", 0, precise).await;
        let stored = datetime!(2025-03-01 12:00:00.123456 UTC);
        assert_eq!(job.created, stored);
        assert_eq!(get(&store, &job.id).await.created, stored);
        // A time in another offset is the same instant.
        let elsewhere = datetime!(2025-03-01 14:00:01 +02:00);
        let job = insert(&store, "io-demo", 0, elsewhere).await;
        assert_eq!(job.created, at(1));
    }

    pub async fn duplicate_ids_are_database_errors(store: Store) {
        let new = new_job("io-demo", 0);
        store.insert_job(new.clone(), at(0)).await.unwrap();
        let error = store.insert_job(new.clone(), at(1)).await.unwrap_err();
        assert!(matches!(error, StoreError::Database(_)), "{error:?}");
        // The first job is untouched and has one event.
        assert_eq!(get(&store, &new.id).await.created, at(0));
        assert_eq!(store.job_events(&new.id).await.unwrap().len(), 1);
    }

    /// Submissions at one moment share transactions (`store::group_commit`): each is
    /// committed before its call returns, and a bad one (a duplicate id) fails alone.
    pub async fn concurrent_submissions_all_commit_and_a_bad_one_fails_alone(store: Store) {
        let first = insert(&store, "io-demo", 0, at(0)).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            let mut new = new_job("io-demo", 0);
            if i == 100 {
                new.id = first.id.clone();
            }
            tasks.push(tokio::spawn(async move {
                let id = new.id.clone();
                (id, store.insert_job(new, at(1)).await)
            }));
        }
        let mut committed = Vec::new();
        let mut refused = 0;
        for task in tasks {
            let (id, result) = task.await.unwrap();
            match result {
                Ok(job) => {
                    assert_eq!(job.id, id);
                    // Committed before the answer: readable at once.
                    assert_eq!(get(&store, &id).await.status, JobStatus::Accepted);
                    committed.push(id);
                }
                Err(error) => {
                    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
                    assert_eq!(id, first.id);
                    refused += 1;
                }
            }
        }
        assert_eq!((committed.len(), refused), (199, 1));
        assert_eq!(store.count_queued().await.unwrap(), 200);
        for id in &committed {
            assert_eq!(store.job_events(id).await.unwrap().len(), 1, "{id}");
        }
        assert_eq!(get(&store, &first.id).await.created, at(0));
    }

    pub async fn claim_order_is_priority_then_age(store: Store) {
        let low_old = insert(&store, "p", 0, at(1)).await;
        let high_old = insert(&store, "p", 5, at(2)).await;
        let low_new = insert(&store, "p", 0, at(3)).await;
        let high_new = insert(&store, "p", 5, at(4)).await;
        let negative_oldest = insert(&store, "p", -1, at(0)).await;
        let mut order = Vec::new();
        while let Some(job) = store
            .claim_next_job(&worker("w"), at(100), at(10))
            .await
            .unwrap()
        {
            assert_eq!(job.status, JobStatus::Running);
            assert_eq!(job.attempt, 1);
            assert_eq!(job.started, Some(at(10)));
            order.push(job.id);
        }
        let expected = [high_old, high_new, low_old, low_new, negative_oldest];
        assert_eq!(order, expected.map(|j| j.id).to_vec());
    }

    pub async fn no_double_claim_under_concurrency(store: Store) {
        const JOBS: usize = 200;
        const CLAIMERS: usize = 8;
        let mut ids = HashSet::new();
        for i in 0..JOBS {
            ids.insert(insert(&store, "p", (i % 3) as i32, at(i as i64)).await.id);
        }
        let mut tasks = Vec::new();
        for c in 0..CLAIMERS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let me = worker(&format!("claimer-{c}"));
                let mut mine = Vec::new();
                while let Some(job) = store
                    .claim_next_job(&me, at(10_000), at(1_000))
                    .await
                    .expect("claims never fail under concurrency")
                {
                    mine.push(job.id);
                }
                mine
            }));
        }
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.unwrap());
        }
        assert_eq!(claimed.len(), JOBS, "every job claimed exactly once");
        let unique: HashSet<_> = claimed.iter().cloned().collect();
        assert_eq!(unique, ids);
        for id in &ids {
            let job = get(&store, id).await;
            assert_eq!((job.status, job.attempt), (JobStatus::Running, 1));
            let trail = statuses(&store.job_events(id).await.unwrap());
            assert_eq!(trail, [JobStatus::Accepted, JobStatus::Running]);
        }
    }

    pub async fn fenced_writes_need_the_lease(store: Store) {
        let job = insert(&store, "p", 0, at(0)).await;
        let (w1, w2) = (worker("w1"), worker("w2"));
        store
            .claim_next_job(&w1, at(30), at(1))
            .await
            .unwrap()
            .unwrap();

        // Someone else cannot write.
        assert!(!store
            .renew_lease(&job.id, &w2, at(60), at(2))
            .await
            .unwrap());
        assert!(!store
            .set_progress(&job.id, &w2, "hijack", Some(50), at(2))
            .await
            .unwrap());
        assert!(!store
            .complete_job(&job.id, &w2, succeeded("hijack"), at(2))
            .await
            .unwrap());
        // Nor can anyone write to an unknown job.
        assert!(!store
            .renew_lease(&JobId::new(), &w1, at(60), at(2))
            .await
            .unwrap());

        // The holder can.
        assert!(store
            .renew_lease(&job.id, &w1, at(60), at(3))
            .await
            .unwrap());
        assert!(store
            .set_progress(&job.id, &w1, "staging", Some(20), at(4))
            .await
            .unwrap());
        let now = get(&store, &job.id).await;
        assert_eq!(now.message.as_deref(), Some("staging"));
        assert_eq!(now.progress, Some(20));
        assert_eq!(now.updated, at(4));
        // No progress keeps the last known one; more than 100 is 100.
        assert!(store
            .set_progress(&job.id, &w1, "running", None, at(5))
            .await
            .unwrap());
        assert_eq!(get(&store, &job.id).await.progress, Some(20));
        assert!(store
            .set_progress(&job.id, &w1, "almost", Some(250), at(5))
            .await
            .unwrap());
        assert_eq!(get(&store, &job.id).await.progress, Some(100));

        // The renewed lease (until 60) is not reaped at 59, but is at 61.
        assert_eq!(store.reap_expired_leases(at(59), 3).await.unwrap(), []);
        let reaped = store.reap_expired_leases(at(61), 3).await.unwrap();
        assert_eq!(
            reaped,
            [ReapedJob {
                job_id: job.id.clone(),
                now: JobStatus::Accepted
            }]
        );
        // The first worker lost it: every write is refused.
        assert!(!store
            .complete_job(&job.id, &w1, succeeded("late"), at(62))
            .await
            .unwrap());
        assert!(!store
            .renew_lease(&job.id, &w1, at(90), at(62))
            .await
            .unwrap());
        assert!(!store
            .set_progress(&job.id, &w1, "late", Some(90), at(62))
            .await
            .unwrap());

        // The second worker takes over; the first stays fenced out.
        let again = store
            .claim_next_job(&w2, at(100), at(63))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, job.id);
        assert_eq!(again.attempt, 2);
        assert_eq!(again.started, Some(at(1)), "started is the first start");
        assert_eq!((again.message.as_deref(), again.progress), (None, None));
        assert!(!store
            .complete_job(&job.id, &w1, succeeded("late"), at(64))
            .await
            .unwrap());
        assert!(store
            .complete_job(&job.id, &w2, succeeded("done"), at(65))
            .await
            .unwrap());
        let done = get(&store, &job.id).await;
        assert_eq!(done.status, JobStatus::Successful);
        assert_eq!(done.message.as_deref(), Some("done"));
        // Completing twice is refused too: the job is final and the lease is gone.
        assert!(!store
            .complete_job(&job.id, &w2, succeeded("again"), at(66))
            .await
            .unwrap());
    }

    /// A provenance record as a worker makes it (its content is the provenance room's:
    /// the store keeps it whole).
    fn prov_record(job: &Job, status: &str, sha256: &str) -> ades::provenance::ProvRecord {
        use ades::provenance::*;
        ProvRecord {
            version: RECORD_VERSION,
            job: JobFacts {
                id: job.id.to_string(),
                status: status.into(),
                attempt: job.attempt,
                started: Some("2025-03-01T12:00:01+00:00".into()),
                ended: "2025-03-01T12:00:09.000001+00:00".into(),
            },
            process: ProcessFacts {
                id: job.process_id.to_string(),
                version: "1.0.0".into(),
                image: Some("p-1.0.0-seed:1.0.0".into()),
                image_id: Some("sha256:0123".into()),
                repo_digests: vec!["r/p@sha256:4567".into()],
                manifest_sha256: Some("89ab".into()),
            },
            inputs: vec![InputFacts {
                input: "IN".into(),
                index: 0,
                href: Some("https://example.org/in.txt".into()),
                value_sha256: None,
                media_type: None,
                staged: Some(FileFacts {
                    path: "IN/in.txt".into(),
                    sha256: sha256.into(),
                    size_bytes: 12,
                }),
            }],
            outputs: vec![OutputFacts {
                output: "OUT".into(),
                index: 0,
                file: Some(FileFacts {
                    path: "out.txt".into(),
                    sha256: sha256.into(),
                    size_bytes: u64::MAX,
                }),
                value_sha256: None,
                media_type: Some("text/plain".into()),
            }],
            usage: UsageFacts {
                peak_memory_bytes: Some(5 << 30),
                cpu_time_ns: Some(123_456_789_012),
                samples: 3,
            },
            agent: AgentFacts {
                version: "0.1.0".into(),
                host: "h".into(),
            },
            owner: Some("alice".into()),
        }
    }

    pub async fn provenance_is_kept_by_the_lease_holder_and_replaced_by_a_later_attempt(
        store: Store,
    ) {
        let job = insert(&store, "p", 0, at(0)).await;
        let (w1, w2) = (worker("w1"), worker("w2"));
        // Nothing kept for a job that never ran, nor for an unknown job.
        assert_eq!(store.job_provenance(&job.id).await.unwrap(), None);
        assert_eq!(store.job_provenance(&JobId::new()).await.unwrap(), None);
        // Only a running job's lease holder keeps one.
        let record = prov_record(&job, "failed", "aa");
        assert!(!store
            .record_provenance(&job.id, &w1, &record, at(1))
            .await
            .unwrap());
        let held = store
            .claim_next_job(&w1, at(30), at(1))
            .await
            .unwrap()
            .unwrap();
        assert!(!store
            .record_provenance(&job.id, &w2, &record, at(2))
            .await
            .unwrap());
        assert!(!store
            .record_provenance(&JobId::new(), &w1, &record, at(2))
            .await
            .unwrap());
        let first = prov_record(&held, "failed", "aa");
        assert!(store
            .record_provenance(&job.id, &w1, &first, at(2))
            .await
            .unwrap());
        assert_eq!(
            store.job_provenance(&job.id).await.unwrap(),
            Some(first.clone())
        );

        // The first worker loses the job; the second's record replaces the first's, and
        // the first can no longer write.
        store.reap_expired_leases(at(31), 3).await.unwrap();
        let again = store
            .claim_next_job(&w2, at(100), at(32))
            .await
            .unwrap()
            .unwrap();
        let second = prov_record(&again, "successful", "bb");
        assert!(!store
            .record_provenance(&job.id, &w1, &second, at(33))
            .await
            .unwrap());
        assert!(store
            .record_provenance(&job.id, &w2, &second, at(33))
            .await
            .unwrap());
        assert!(store
            .complete_job(&job.id, &w2, succeeded("done"), at(34))
            .await
            .unwrap());
        let kept = store.job_provenance(&job.id).await.unwrap().unwrap();
        assert_eq!(kept, second, "whole, large numbers included");
        assert_eq!(kept.job.attempt, 2);
        // A finished job's record stays as it is.
        assert!(!store
            .record_provenance(&job.id, &w2, &first, at(35))
            .await
            .unwrap());
        assert_eq!(store.job_provenance(&job.id).await.unwrap(), Some(second));
    }

    pub async fn an_expired_lease_can_be_renewed_until_reaped(store: Store) {
        let job = insert(&store, "p", 0, at(0)).await;
        let w = worker("slow");
        store
            .claim_next_job(&w, at(10), at(1))
            .await
            .unwrap()
            .unwrap();
        // Past its lease, but the reaper has not run: the worker keeps the job.
        assert!(store
            .renew_lease(&job.id, &w, at(50), at(20))
            .await
            .unwrap());
        assert_eq!(store.reap_expired_leases(at(30), 1).await.unwrap(), []);
        assert_eq!(get(&store, &job.id).await.status, JobStatus::Running);
        // Renewing is not a status change.
        assert_eq!(get(&store, &job.id).await.updated, at(1));
    }

    pub async fn dismiss_accepted_running_final_and_unknown(store: Store) {
        // Accepted.
        let waiting = insert(&store, "p", -1, at(0)).await;
        let dismissed = store
            .dismiss_job(&waiting.id, at(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dismissed.status, JobStatus::Dismissed);
        assert_eq!(dismissed.finished, Some(at(5)));
        assert_eq!(dismissed.started, None);
        assert_eq!(dismissed, get(&store, &waiting.id).await);
        assert_eq!(
            statuses(&store.job_events(&waiting.id).await.unwrap()),
            [JobStatus::Accepted, JobStatus::Dismissed]
        );
        // A dismissed job is never claimed.
        assert!(store
            .claim_next_job(&worker("w"), at(60), at(6))
            .await
            .unwrap()
            .is_none());

        // Running: the worker is fenced out and the job no longer counts as running.
        let busy = insert(&store, "p", 0, at(10)).await;
        let w = worker("w");
        store
            .claim_next_job(&w, at(60), at(11))
            .await
            .unwrap()
            .unwrap();
        let dismissed = store.dismiss_job(&busy.id, at(12)).await.unwrap().unwrap();
        assert_eq!(dismissed.status, JobStatus::Dismissed);
        assert_eq!(dismissed.started, Some(at(11)));
        assert_eq!(dismissed.finished, Some(at(12)));
        assert!(!store
            .renew_lease(&busy.id, &w, at(90), at(13))
            .await
            .unwrap());
        assert!(!store
            .set_progress(&busy.id, &w, "still going", None, at(13))
            .await
            .unwrap());
        assert!(!store
            .complete_job(&busy.id, &w, succeeded("done"), at(13))
            .await
            .unwrap());
        assert!(store.running_job_ids().await.unwrap().is_empty());
        assert_eq!(store.reap_expired_leases(at(1_000), 3).await.unwrap(), []);
        assert_eq!(
            statuses(&store.job_events(&busy.id).await.unwrap()),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Dismissed
            ]
        );

        // Finished: withdrawn (dismissed, one more event), keeping when it finished;
        // dismissing a dismissed job changes nothing.
        let finished = insert(&store, "p", 0, at(20)).await;
        store
            .claim_next_job(&w, at(60), at(21))
            .await
            .unwrap()
            .unwrap();
        assert!(store
            .complete_job(&finished.id, &w, succeeded("ok"), at(22))
            .await
            .unwrap());
        let after = store
            .dismiss_job(&finished.id, at(23))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, JobStatus::Dismissed);
        assert_eq!(after.finished, Some(at(22)));
        assert_eq!(
            statuses(&store.job_events(&finished.id).await.unwrap()),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Successful,
                JobStatus::Dismissed
            ]
        );
        let twice = store.dismiss_job(&busy.id, at(30)).await.unwrap().unwrap();
        assert_eq!(twice.finished, Some(at(12)));
        assert_eq!(store.job_events(&busy.id).await.unwrap().len(), 3);

        // Unknown.
        assert_eq!(
            store.dismiss_job(&JobId::new(), at(40)).await.unwrap(),
            None
        );
    }

    pub async fn dismiss_active_stops_waiting_and_running_jobs_only(store: Store) {
        let w = worker("w");
        // Running, and accepted again waiting for a retry's delay: both dismissed.
        let running = insert(&store, "p", 0, at(0)).await;
        let retried = insert(&store, "p", 0, at(1)).await;
        assert_eq!(claim(&store, "w", at(2)).await.id, running.id);
        assert_eq!(claim(&store, "w", at(2)).await.id, retried.id);
        assert!(store
            .retry_job(&retried.id, &w, "retrying", at(100), at(3))
            .await
            .unwrap());
        let dismissed = store
            .dismiss_active_job(&retried.id, at(4))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dismissed.status, JobStatus::Dismissed);
        let dismissed = store
            .dismiss_active_job(&running.id, at(5))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dismissed.status, JobStatus::Dismissed);
        assert_eq!(dismissed.finished, Some(at(5)));
        assert_eq!(dismissed.message.as_deref(), Some("dismissed"));
        assert_eq!(dismissed, get(&store, &running.id).await);
        // The worker is fenced out.
        assert!(!store
            .renew_lease(&running.id, &w, at(90), at(6))
            .await
            .unwrap());
        assert!(!store
            .complete_job(&running.id, &w, succeeded("late"), at(6))
            .await
            .unwrap());
        assert_eq!(
            statuses(&store.job_events(&running.id).await.unwrap()),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Dismissed
            ]
        );
        // Accepted: dismissed, never claimed (nor the dismissed retry after its delay).
        let accepted = insert(&store, "p", 0, at(7)).await;
        let dismissed = store
            .dismiss_active_job(&accepted.id, at(8))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(dismissed.status, JobStatus::Dismissed);
        assert_eq!(dismissed.started, None);
        assert!(store
            .claim_next_job(&w, at(200), at(150))
            .await
            .unwrap()
            .is_none());

        // Finished (successful or failed) before the call: left as it is, no event, results
        // still there. This is what a bulk cancel relies on when a job ends between its
        // listing and its write.
        let ok = insert(&store, "p", 0, at(10)).await;
        claim(&store, "w", at(11)).await;
        assert!(store
            .complete_job(&ok.id, &w, succeeded("ok"), at(12))
            .await
            .unwrap());
        let bad = insert(&store, "p", 0, at(13)).await;
        claim(&store, "w", at(14)).await;
        assert!(store
            .complete_job(
                &bad.id,
                &w,
                Completion::Failed {
                    failure: a_failure(),
                    message: "broke".to_owned()
                },
                at(15)
            )
            .await
            .unwrap());
        for id in [&ok.id, &bad.id] {
            let before = get(&store, id).await;
            let events = store.job_events(id).await.unwrap().len();
            let after = store.dismiss_active_job(id, at(20)).await.unwrap().unwrap();
            assert_eq!(after, before);
            assert_ne!(after.status, JobStatus::Dismissed);
            assert_eq!(store.job_events(id).await.unwrap().len(), events);
        }
        assert!(get(&store, &ok.id).await.results.is_some());

        // Dismissed already: unchanged. Unknown: None.
        let again = store
            .dismiss_active_job(&accepted.id, at(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.finished, Some(at(8)));
        assert_eq!(store.job_events(&accepted.id).await.unwrap().len(), 2);
        assert_eq!(
            store
                .dismiss_active_job(&JobId::new(), at(40))
                .await
                .unwrap(),
            None
        );
    }

    pub async fn reaping_requeues_then_fails_after_max_attempts(store: Store) {
        let lost = insert(&store, "p", 0, at(0)).await;
        let healthy = insert(&store, "p", 0, at(1)).await;
        let (w1, w2) = (worker("w1"), worker("w2"));
        store
            .claim_next_job(&w1, at(10), at(2))
            .await
            .unwrap()
            .unwrap();
        store
            .claim_next_job(&w2, at(1_000), at(2))
            .await
            .unwrap()
            .unwrap();

        // Not expired yet.
        assert_eq!(store.reap_expired_leases(at(9), 2).await.unwrap(), []);
        // Expired: back in the queue (attempt 1 < 2); the healthy job is untouched.
        assert_eq!(
            store.reap_expired_leases(at(11), 2).await.unwrap(),
            [ReapedJob {
                job_id: lost.id.clone(),
                now: JobStatus::Accepted
            }]
        );
        let requeued = get(&store, &lost.id).await;
        assert_eq!(requeued.status, JobStatus::Accepted);
        assert_eq!(requeued.message.as_deref(), Some("requeued: worker lost"));
        assert_eq!(requeued.started, Some(at(2)));
        assert_eq!(requeued.finished, None);
        assert_eq!(requeued.updated, at(11));
        assert_eq!(get(&store, &healthy.id).await.status, JobStatus::Running);
        // A requeued job has no duration: duration filters leave it out.
        let with_duration = JobFilter {
            min_duration: Some(0.0),
            limit: 10,
            ..JobFilter::default()
        };
        let page = store.list_jobs(&with_duration, at(11)).await.unwrap();
        assert_eq!(
            page.jobs.iter().map(|j| &j.id).collect::<Vec<_>>(),
            [&healthy.id]
        );
        // Reaping again finds nothing.
        assert_eq!(store.reap_expired_leases(at(12), 2).await.unwrap(), []);

        // Second attempt, lost too: out of attempts, failed as a system failure.
        let again = store
            .claim_next_job(&w1, at(20), at(13))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id.clone(), again.attempt), (lost.id.clone(), 2));
        assert_eq!(
            store.reap_expired_leases(at(21), 2).await.unwrap(),
            [ReapedJob {
                job_id: lost.id.clone(),
                now: JobStatus::Failed
            }]
        );
        let failed = get(&store, &lost.id).await;
        assert_eq!(failed.status, JobStatus::Failed);
        assert_eq!(failed.finished, Some(at(21)));
        let failure = failed.failure.expect("a failure");
        assert_eq!(failure.name, "worker-lost");
        assert_eq!(failure.category, FailureCategory::System);
        assert_eq!(failure.exit_code, None);
        assert!(!store
            .complete_job(&lost.id, &w1, succeeded("late"), at(22))
            .await
            .unwrap());
        let events = store.job_events(&lost.id).await.unwrap();
        assert_eq!(
            statuses(&events),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Failed
            ]
        );
        assert_eq!(events[2].message.as_deref(), Some("requeued: worker lost"));
        assert_valid_trail(&events);
    }

    pub async fn list_filters_order_and_pages(store: Store) {
        // j0 alpha accepted (never started)      created 0
        // j1 beta  running since 10 (90 s at 100) created 1
        // j2 alpha successful 10..15 (5 s)        created 2
        // j3 gamma failed 10..40 (30 s)           created 3
        // j4 beta  dismissed before starting      created 4
        // j5 alpha dismissed 10..12 (2 s)         created 5
        let j0 = insert(&store, "alpha", -1, at(0)).await.id;
        let j1 = insert(&store, "beta", 0, at(1)).await.id;
        let j2 = insert(&store, "alpha", 0, at(2)).await.id;
        let j3 = insert(&store, "gamma", 0, at(3)).await.id;
        let j4 = insert(&store, "beta", 0, at(4)).await.id;
        let j5 = insert(&store, "alpha", 0, at(5)).await.id;
        store.dismiss_job(&j4, at(20)).await.unwrap();
        for (who, expected) in [("w1", &j1), ("w2", &j2), ("w3", &j3), ("w5", &j5)] {
            assert_eq!(&claim(&store, who, at(10)).await.id, expected);
        }
        assert!(store
            .complete_job(&j2, &worker("w2"), succeeded("ok"), at(15))
            .await
            .unwrap());
        let failed = Completion::Failed {
            failure: a_failure(),
            message: "no".to_owned(),
        };
        assert!(store
            .complete_job(&j3, &worker("w3"), failed, at(40))
            .await
            .unwrap());
        store.dismiss_job(&j5, at(12)).await.unwrap();

        let all = [&j5, &j4, &j3, &j2, &j1, &j0];
        let now = at(100);
        let list = |filter: JobFilter| {
            let store = store.clone();
            async move {
                let page = store.list_jobs(&filter, now).await.unwrap();
                (
                    page.jobs.into_iter().map(|j| j.id).collect::<Vec<_>>(),
                    page.has_more,
                )
            }
        };
        let page = |limit: u32| JobFilter {
            limit,
            ..JobFilter::default()
        };
        let ids = |jobs: &[&JobId]| jobs.iter().map(|&id| id.clone()).collect::<Vec<_>>();

        // Everything, newest first.
        assert_eq!(list(page(100)).await, (ids(&all), false));

        // Processes.
        let by_process = |names: &[&str]| JobFilter {
            process_ids: names.iter().map(|n| process(n)).collect(),
            ..page(100)
        };
        assert_eq!(list(by_process(&["alpha"])).await.0, ids(&[&j5, &j2, &j0]));
        assert_eq!(
            list(by_process(&["alpha", "gamma"])).await.0,
            ids(&[&j5, &j3, &j2, &j0])
        );
        assert_eq!(list(by_process(&["nobody"])).await.0, ids(&[]));

        // Statuses.
        let by_status = |wanted: &[JobStatus]| JobFilter {
            statuses: wanted.to_vec(),
            ..page(100)
        };
        use JobStatus::*;
        assert_eq!(list(by_status(&[Accepted])).await.0, ids(&[&j0]));
        assert_eq!(list(by_status(&[Running])).await.0, ids(&[&j1]));
        assert_eq!(
            list(by_status(&[Successful, Failed])).await.0,
            ids(&[&j3, &j2])
        );
        assert_eq!(list(by_status(&[Dismissed])).await.0, ids(&[&j5, &j4]));

        // Created interval, both ends inclusive, open or closed.
        let created = |from: Option<OffsetDateTime>, to: Option<OffsetDateTime>| JobFilter {
            created_from: from,
            created_to: to,
            ..page(100)
        };
        assert_eq!(
            list(created(Some(at(2)), None)).await.0,
            ids(&[&j5, &j4, &j3, &j2])
        );
        assert_eq!(
            list(created(None, Some(at(2)))).await.0,
            ids(&[&j2, &j1, &j0])
        );
        assert_eq!(
            list(created(Some(at(1)), Some(at(3)))).await.0,
            ids(&[&j3, &j2, &j1])
        );
        assert_eq!(list(created(Some(at(3)), Some(at(3)))).await.0, ids(&[&j3]));
        assert_eq!(list(created(Some(at(4)), Some(at(3)))).await.0, ids(&[]));
        // Bounds finer than a microsecond.
        let nano = Duration::nanoseconds(1);
        assert_eq!(
            list(created(Some(at(2) + nano), None)).await.0,
            ids(&[&j5, &j4, &j3])
        );
        assert_eq!(
            list(created(None, Some(at(2) - nano))).await.0,
            ids(&[&j1, &j0])
        );
        assert_eq!(
            list(created(None, Some(at(2) + Duration::nanoseconds(999))))
                .await
                .0,
            ids(&[&j2, &j1, &j0])
        );

        // Durations (j1 90 s running, j2 5 s, j3 30 s, j5 2 s; j0 and j4 never started).
        let lasting = |min: Option<f64>, max: Option<f64>| JobFilter {
            min_duration: min,
            max_duration: max,
            ..page(100)
        };
        assert_eq!(
            list(lasting(Some(0.0), None)).await.0,
            ids(&[&j5, &j3, &j2, &j1])
        );
        assert_eq!(
            list(lasting(Some(5.0), None)).await.0,
            ids(&[&j3, &j2, &j1])
        );
        assert_eq!(list(lasting(None, Some(5.0))).await.0, ids(&[&j5, &j2]));
        assert_eq!(
            list(lasting(Some(3.0), Some(40.0))).await.0,
            ids(&[&j3, &j2])
        );
        assert_eq!(list(lasting(Some(89.5), None)).await.0, ids(&[&j1]));
        assert_eq!(list(lasting(Some(90.5), None)).await.0, ids(&[]));
        // A running job's duration grows with `now`.
        let later = store
            .list_jobs(&lasting(Some(90.5), None), at(200))
            .await
            .unwrap();
        assert_eq!(later.jobs.len(), 1);

        // Filters combine.
        let combined = JobFilter {
            process_ids: vec![process("alpha"), process("beta")],
            statuses: vec![Successful, Dismissed, Running],
            max_duration: Some(10.0),
            ..page(100)
        };
        assert_eq!(list(combined.clone()).await.0, ids(&[&j5, &j2]));
        assert_eq!(
            list(JobFilter {
                limit: 1,
                ..combined
            })
            .await,
            (ids(&[&j5]), true)
        );

        // Pages.
        let at_offset = |limit: u32, offset: u32| JobFilter {
            offset,
            ..page(limit)
        };
        assert_eq!(list(at_offset(2, 0)).await, (ids(&all[0..2]), true));
        assert_eq!(list(at_offset(2, 2)).await, (ids(&all[2..4]), true));
        assert_eq!(list(at_offset(2, 4)).await, (ids(&all[4..6]), false));
        assert_eq!(list(at_offset(2, 6)).await, (ids(&[]), false));
        assert_eq!(list(at_offset(5, 0)).await, (ids(&all[0..5]), true));
        assert_eq!(list(at_offset(6, 0)).await, (ids(&all), false));
        assert_eq!(list(at_offset(4, 3)).await, (ids(&all[3..6]), false));
    }

    pub async fn list_orders_equal_times_by_id(store: Store) {
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(insert(&store, "p", 0, at(0)).await.id);
        }
        ids.push(insert(&store, "p", 0, at(-1)).await.id);
        let mut expected = ids[..5].to_vec();
        expected.sort();
        expected.reverse();
        expected.push(ids[5].clone());
        let mut seen = Vec::new();
        for offset in 0..6 {
            let filter = JobFilter {
                limit: 1,
                offset,
                ..JobFilter::default()
            };
            let page = store.list_jobs(&filter, at(10)).await.unwrap();
            assert_eq!(page.has_more, offset < 5);
            seen.extend(page.jobs.into_iter().map(|j| j.id));
        }
        assert_eq!(seen, expected, "created descending, then id descending");
    }

    pub async fn final_statuses_never_change(store: Store) {
        let w = worker("w");
        let successful = insert(&store, "p", 0, at(0)).await.id;
        claim(&store, "w", at(1)).await;
        store
            .complete_job(&successful, &w, succeeded("ok"), at(2))
            .await
            .unwrap();
        let failed = insert(&store, "p", 0, at(3)).await.id;
        claim(&store, "w", at(4)).await;
        let failure = Completion::Failed {
            failure: a_failure(),
            message: "no".to_owned(),
        };
        store
            .complete_job(&failed, &w, failure, at(5))
            .await
            .unwrap();
        let dismissed = insert(&store, "p", 0, at(6)).await.id;
        claim(&store, "w", at(7)).await;
        store.dismiss_job(&dismissed, at(8)).await.unwrap();
        let reaped = insert(&store, "p", 0, at(9)).await.id;
        store.claim_next_job(&w, at(11), at(10)).await.unwrap();
        store.reap_expired_leases(at(12), 1).await.unwrap();

        let finals = [
            (successful, JobStatus::Successful),
            (failed, JobStatus::Failed),
            (dismissed, JobStatus::Dismissed),
            (reaped, JobStatus::Failed),
        ];
        let mut before = Vec::new();
        for (id, status) in &finals {
            let job = get(&store, id).await;
            assert_eq!(job.status, *status);
            before.push((job, store.job_events(id).await.unwrap()));
        }

        // Every way of changing a job, by the worker that last held them.
        let later = at(100);
        assert!(store
            .claim_next_job(&w, later + Duration::seconds(30), later)
            .await
            .unwrap()
            .is_none());
        for (id, _) in &finals {
            assert!(!store.renew_lease(id, &w, later, later).await.unwrap());
            assert!(!store
                .set_progress(id, &w, "more", Some(1), later)
                .await
                .unwrap());
            assert!(!store
                .complete_job(id, &w, succeeded("again"), later)
                .await
                .unwrap());
            let failure = Completion::Failed {
                failure: a_failure(),
                message: "again".to_owned(),
            };
            assert!(!store.complete_job(id, &w, failure, later).await.unwrap());
        }
        // Dismissing a dismissed job changes nothing either.
        store.dismiss_job(&finals[2].0, later).await.unwrap();
        assert_eq!(store.reap_expired_leases(at(10_000), 0).await.unwrap(), []);

        for ((id, _), (job, events)) in finals.iter().zip(before) {
            assert_eq!(get(&store, id).await, job);
            let now = store.job_events(id).await.unwrap();
            assert_eq!(now, events);
            assert_valid_trail(&now);
        }
    }

    /// One job in each status, all held or last held by worker `w`, made at `t` seconds.
    async fn one_job_in_each_status(store: &Store, t: i64) -> Vec<(JobStatus, JobId)> {
        let w = worker("w");
        let mut jobs = Vec::new();
        // Claimed one at a time, so each claim takes the job just inserted.
        for status in [JobStatus::Running, JobStatus::Successful, JobStatus::Failed] {
            let id = insert(store, "p", 0, at(t)).await.id;
            assert_eq!(claim(store, "w", at(t + 1)).await.id, id);
            let completion = match status {
                JobStatus::Successful => Some(succeeded("done")),
                JobStatus::Failed => Some(Completion::Failed {
                    failure: a_failure(),
                    message: "no".to_owned(),
                }),
                _ => None,
            };
            if let Some(completion) = completion {
                assert!(store
                    .complete_job(&id, &w, completion, at(t + 2))
                    .await
                    .unwrap());
            }
            jobs.push((status, id));
        }
        let dismissed = insert(store, "p", 0, at(t)).await.id;
        store.dismiss_job(&dismissed, at(t + 2)).await.unwrap();
        jobs.push((JobStatus::Dismissed, dismissed));
        let accepted = insert(store, "p", 0, at(t)).await.id;
        jobs.push((JobStatus::Accepted, accepted));
        for (status, id) in &jobs {
            assert_eq!(get(store, id).await.status, *status);
        }
        jobs
    }

    /// Drives each status write of `store::transitions` from each status: the job changes
    /// (to the transition's target, with one event) exactly when its status is one of the
    /// transition's sources, and the operation's answer says so.
    pub async fn every_status_write_changes_exactly_the_sources_of_its_transition(store: Store) {
        let w = worker("w");
        for (round, (name, transition)) in ades::store::transitions::ALL.iter().enumerate() {
            let t = 1_000 * (round as i64 + 1);
            let jobs = one_job_in_each_status(&store, t).await;
            let mut events_before = Vec::new();
            for (_, id) in &jobs {
                events_before.push(store.job_events(id).await.unwrap().len());
            }
            let now = at(t + 10);
            // Which jobs the operation says it changed.
            let mut changed: Vec<JobId> = Vec::new();
            match *name {
                "claim" => {
                    while let Some(job) = store
                        .claim_next_job(&w, now + Duration::seconds(30), now)
                        .await
                        .unwrap()
                    {
                        changed.push(job.id);
                    }
                }
                "reap requeue" | "reap fail" => {
                    let max_attempts = if *name == "reap requeue" { 10 } else { 1 };
                    // Long after every lease ended.
                    let reaped = store
                        .reap_expired_leases(at(t + 500), max_attempts)
                        .await
                        .unwrap();
                    for job in reaped {
                        assert_eq!(job.now, transition.to(), "{name}");
                        changed.push(job.job_id);
                    }
                }
                _ => {
                    for (status, id) in &jobs {
                        let did = match *name {
                            "retry" => store.retry_job(id, &w, "again", now, now).await.unwrap(),
                            "complete succeeded" => store
                                .complete_job(id, &w, succeeded("ok"), now)
                                .await
                                .unwrap(),
                            "complete failed" => {
                                let failure = Completion::Failed {
                                    failure: a_failure(),
                                    message: "no".to_owned(),
                                };
                                store.complete_job(id, &w, failure, now).await.unwrap()
                            }
                            "dismiss" | "dismiss active" | "requeue" => {
                                let job = match *name {
                                    "dismiss" => store.dismiss_job(id, now).await,
                                    "dismiss active" => store.dismiss_active_job(id, now).await,
                                    _ => store.requeue_job(id, now).await,
                                };
                                let job = job.unwrap().expect("the job exists");
                                job.status != *status
                            }
                            other => panic!("{other}: add the new status write to this test"),
                        };
                        if did {
                            changed.push(id.clone());
                        }
                    }
                }
            }
            for ((status, id), before) in jobs.iter().zip(events_before) {
                let allowed = transition.from().contains(*status);
                let job = get(&store, id).await;
                let events = store.job_events(id).await.unwrap();
                assert_eq!(changed.contains(id), allowed, "{name} from {status:?}");
                if allowed {
                    assert!(status.can_become(transition.to()), "{name}");
                    assert_eq!(job.status, transition.to(), "{name} from {status:?}");
                    assert_eq!(events.len(), before + 1, "{name} from {status:?}");
                    assert_eq!(events.last().unwrap().status, transition.to());
                } else {
                    assert_eq!(job.status, *status, "{name} must not change {status:?}");
                    assert_eq!(events.len(), before, "{name} from {status:?}");
                }
            }
            // Out of the way of the next round's claim and reap: nothing stays waiting or
            // running.
            for (_, id) in &jobs {
                store.dismiss_job(id, at(t + 600)).await.unwrap();
            }
        }
    }

    pub async fn job_events_are_the_trail_oldest_first(store: Store) {
        let job = insert(&store, "p", 0, at(0)).await;
        let w = worker("w-7");
        claim(&store, "w-7", at(1)).await;
        // Progress and lease renewals are not status changes.
        store
            .set_progress(&job.id, &w, "half", Some(50), at(2))
            .await
            .unwrap();
        store.renew_lease(&job.id, &w, at(90), at(3)).await.unwrap();
        store
            .complete_job(&job.id, &w, succeeded("finished well"), at(4))
            .await
            .unwrap();
        let events = store.job_events(&job.id).await.unwrap();
        let summary: Vec<_> = events
            .iter()
            .map(|e| (e.job_id.clone(), e.at, e.status))
            .collect();
        assert_eq!(
            summary,
            [
                (job.id.clone(), at(0), JobStatus::Accepted),
                (job.id.clone(), at(1), JobStatus::Running),
                (job.id.clone(), at(4), JobStatus::Successful),
            ]
        );
        assert!(events[1].message.as_deref().unwrap().contains("w-7"));
        assert_eq!(events[2].message.as_deref(), Some("finished well"));
        assert_valid_trail(&events);
        // Events at the same instant keep their order.
        let quick = insert(&store, "p", 0, at(50)).await;
        claim(&store, "w", at(50)).await;
        store.dismiss_job(&quick.id, at(50)).await.unwrap();
        assert_eq!(
            statuses(&store.job_events(&quick.id).await.unwrap()),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Dismissed
            ]
        );
        assert!(store.job_events(&JobId::new()).await.unwrap().is_empty());
    }

    pub async fn running_job_ids_lists_held_jobs(store: Store) {
        assert!(store.running_job_ids().await.unwrap().is_empty());
        let a = insert(&store, "p", 0, at(0)).await.id;
        let b = insert(&store, "p", 0, at(1)).await.id;
        let c = insert(&store, "p", 0, at(2)).await.id;
        claim(&store, "w", at(3)).await;
        claim(&store, "w", at(3)).await;
        let mut running = store.running_job_ids().await.unwrap();
        running.sort();
        let mut expected = vec![a.clone(), b.clone()];
        expected.sort();
        assert_eq!(running, expected);
        store
            .complete_job(&a, &worker("w"), succeeded("ok"), at(4))
            .await
            .unwrap();
        assert_eq!(store.running_job_ids().await.unwrap(), [b]);
        assert!(!store.running_job_ids().await.unwrap().contains(&c));
    }

    // Deployed processes (`ProcessStore`, a supertrait of `JobStore`).

    /// A deployed process whose package holds every byte value (not UTF-8) and whose
    /// manifest exercises JSON that a lossy column would change: key order, large and
    /// negative integers, floats, escapes, a NUL character and non-ASCII text.
    pub async fn retried_jobs_wait_for_their_delay_and_keep_their_attempts(store: Store) {
        let job = insert(&store, "p", 0, at(0)).await;
        claim(&store, "w1", at(1)).await;
        let message = "retrying in 5 s: attempt 1 of 3 failed: engine-error";
        // Only the lease holder may put it back.
        let not_mine = store
            .retry_job(&job.id, &worker("w2"), message, at(6), at(1))
            .await
            .unwrap();
        assert!(!not_mine);
        assert!(store
            .retry_job(&job.id, &worker("w1"), message, at(6), at(1))
            .await
            .unwrap());
        let waiting = get(&store, &job.id).await;
        assert_eq!(waiting.status, JobStatus::Accepted);
        assert_eq!(waiting.message.as_deref(), Some(message));
        assert_eq!(waiting.attempt, 1);
        // Not before its delay has passed...
        let early = store
            .claim_next_job(&worker("w2"), at(40), at(5))
            .await
            .unwrap();
        assert!(early.is_none(), "{early:?}");
        // ...and then as its next attempt.
        let again = claim(&store, "w2", at(6)).await;
        assert_eq!((again.id.clone(), again.attempt), (job.id.clone(), 2));
        let events = store.job_events(&job.id).await.unwrap();
        assert_valid_trail(&events);
        assert_eq!(
            statuses(&events),
            [
                JobStatus::Accepted,
                JobStatus::Running,
                JobStatus::Accepted,
                JobStatus::Running
            ]
        );
        assert_eq!(events[2].message.as_deref(), Some(message));
    }

    pub async fn requeue_restarts_failed_and_dismissed_jobs_only(store: Store) {
        let failed = insert(&store, "p", 0, at(0)).await;
        let dismissed = insert(&store, "p", 0, at(1)).await;
        let running = insert(&store, "p", 0, at(2)).await;
        claim(&store, "w1", at(3)).await;
        let failure = Completion::Failed {
            failure: a_failure(),
            message: "bad".to_owned(),
        };
        assert!(store
            .complete_job(&failed.id, &worker("w1"), failure, at(4))
            .await
            .unwrap());
        store.dismiss_job(&dismissed.id, at(5)).await.unwrap();
        claim(&store, "w2", at(6)).await;
        assert_eq!(get(&store, &running.id).await.status, JobStatus::Running);

        for id in [&failed.id, &dismissed.id] {
            let again = store.requeue_job(id, at(7)).await.unwrap().unwrap();
            assert_eq!(again.status, JobStatus::Accepted, "{again:?}");
            assert_eq!(again.attempt, 0);
            assert_eq!(again.message.as_deref(), Some("requeued by an operator"));
            assert!(again.results.is_none() && again.failure.is_none());
            assert!(again.started.is_none() && again.finished.is_none());
            let events = store.job_events(id).await.unwrap();
            let last = events.last().unwrap();
            assert_eq!(last.status, JobStatus::Accepted);
            assert_eq!(last.message.as_deref(), Some("requeued by an operator"));
        }
        // A running job is left as it is; an unknown one is None.
        let unchanged = store
            .requeue_job(&running.id, at(8))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unchanged.status, JobStatus::Running);
        assert!(store
            .requeue_job(&JobId::new(), at(8))
            .await
            .unwrap()
            .is_none());
        // Requeued jobs are claimed again, from attempt 1.
        let next = claim(&store, "w4", at(9)).await;
        assert_eq!(next.attempt, 1);
    }

    pub async fn workflow_jobs_are_never_claimed_and_each_step_is_inserted_once(store: Store) {
        let workflow = store
            .insert_job(
                NewJob {
                    workflow: true,
                    submitted_by: None,
                    ..new_job("wf", 0)
                },
                at(0),
            )
            .await
            .unwrap();
        assert!(
            store
                .claim_next_job(&worker("w1"), at(30), at(1))
                .await
                .unwrap()
                .is_none(),
            "a worker never claims a workflow job"
        );
        assert_eq!(
            store.active_workflows().await.unwrap(),
            std::slice::from_ref(&workflow.id)
        );
        let driver = worker("workflow-driver");
        let started = store
            .start_workflow(&workflow.id, &driver, at(2))
            .await
            .unwrap()
            .expect("an accepted workflow starts");
        assert_eq!(started.status, JobStatus::Running);
        assert!(store
            .start_workflow(&workflow.id, &driver, at(3))
            .await
            .unwrap()
            .is_none());
        // The reaper leaves it alone: no worker holds it, its lease does not expire.
        assert!(store
            .reap_expired_leases(at(3_600), 3)
            .await
            .unwrap()
            .is_empty());

        let step = |name: &str| NewJob {
            step_of: Some(ades::store::StepOf {
                parent: workflow.id.clone(),
                step: name.to_owned(),
            }),
            ..new_job("p", 0)
        };
        let first = store
            .insert_step(step("a"), at(4))
            .await
            .unwrap()
            .expect("inserted");
        assert_eq!(first.parent.as_ref(), Some(&workflow.id));
        assert_eq!(first.step.as_deref(), Some("a"));
        assert!(
            store.insert_step(step("a"), at(5)).await.unwrap().is_none(),
            "a step is inserted once"
        );
        // Concurrent tries: one wins.
        let tries = (0..8).map(|_| {
            let store = store.clone();
            let job = step("b");
            async move { store.insert_step(job, at(6)).await.unwrap() }
        });
        let inserted = futures_util::future::join_all(tries)
            .await
            .into_iter()
            .flatten()
            .count();
        assert_eq!(inserted, 1);
        let children = store.job_children(&workflow.id).await.unwrap();
        let steps: Vec<_> = children.iter().map(|c| c.step.clone().unwrap()).collect();
        assert_eq!(steps, ["a", "b"]);
        // Steps are ordinary jobs: workers claim them.
        let claimed = claim(&store, "w1", at(7)).await;
        assert_eq!(claimed.parent.as_ref(), Some(&workflow.id));
        assert!(store.job_children(&first.id).await.unwrap().is_empty());
        assert!(store
            .complete_job(&workflow.id, &driver, succeeded("done"), at(8))
            .await
            .unwrap());
        assert!(store.active_workflows().await.unwrap().is_empty());
        // Its steps still active are orphans now, for the drivers to dismiss.
        let orphans: Vec<_> = store
            .orphaned_steps()
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.step.unwrap())
            .collect();
        assert_eq!(orphans, ["a", "b"]);
        store.dismiss_active_job(&first.id, at(9)).await.unwrap();
        assert_eq!(store.orphaned_steps().await.unwrap().len(), 1);
    }

    pub async fn queued_jobs_are_counted(store: Store) {
        assert_eq!(store.count_queued().await.unwrap(), 0);
        for n in 0..3 {
            insert(&store, "p", 0, at(n)).await;
        }
        assert_eq!(store.count_queued().await.unwrap(), 3);
        claim(&store, "w1", at(5)).await;
        assert_eq!(store.count_queued().await.unwrap(), 2);
    }

    pub async fn process_limits_cap_running_jobs(store: Store) {
        let limits: RunningLimits = [("capped".to_owned(), 2)].into();
        for n in 0..4 {
            insert(&store, "capped", 0, at(n)).await;
        }
        let free = insert(&store, "free", 0, at(10)).await;
        let claim_limited = |who: &'static str| {
            let store = store.clone();
            let limits = limits.clone();
            async move {
                store
                    .claim_next_job_within(&worker(who), at(100), at(20), &limits)
                    .await
                    .unwrap()
            }
        };
        let first = claim_limited("w1").await.unwrap();
        let second = claim_limited("w2").await.unwrap();
        assert_eq!(first.process_id.as_str(), "capped");
        assert_eq!(second.process_id.as_str(), "capped");
        // Two capped jobs run: the older capped ones wait, the free one goes ahead.
        let third = claim_limited("w3").await.unwrap();
        assert_eq!(third.id, free.id);
        assert!(claim_limited("w4").await.is_none());
        // One ends: a slot opens.
        assert!(store
            .complete_job(&first.id, &worker("w1"), succeeded("ok"), at(21))
            .await
            .unwrap());
        let fourth = claim_limited("w4").await.unwrap();
        assert_eq!(fourth.process_id.as_str(), "capped");
        // Without limits the rest is claimed as usual.
        assert!(claim(&store, "w5", at(22)).await.process_id.as_str() == "capped");
    }

    pub async fn concurrent_claims_never_pass_a_process_limit(store: Store) {
        const LIMIT: u32 = 3;
        for n in 0..20 {
            insert(&store, "capped", 0, at(n)).await;
        }
        let limits: RunningLimits = [("capped".to_owned(), LIMIT)].into();
        let mut tasks = Vec::new();
        for c in 0..8 {
            let store = store.clone();
            let limits = limits.clone();
            tasks.push(tokio::spawn(async move {
                let me = worker(&format!("claimer-{c}"));
                let mut mine = 0;
                while store
                    .claim_next_job_within(&me, at(1_000), at(30), &limits)
                    .await
                    .unwrap()
                    .is_some()
                {
                    mine += 1;
                }
                mine
            }));
        }
        let mut claimed = 0;
        for task in tasks {
            claimed += task.await.unwrap();
        }
        assert_eq!(claimed, LIMIT);
        assert_eq!(store.running_job_ids().await.unwrap().len(), LIMIT as usize);
    }

    pub async fn worker_hosts_register_refresh_and_go(store: Store) {
        let host = |id: &str, running: u32, seen: i64| WorkerHost {
            id: id.to_owned(),
            host: "node-1".to_owned(),
            workers: 4,
            cpus: Some(2.5),
            mem_mib: None,
            disk_mib: Some(10_240.0),
            gpus: 1,
            running,
            started: at(0),
            seen: at(seen),
            expires: at(seen + 30),
        };
        assert_eq!(store.worker_hosts().await.unwrap(), []);
        store.upsert_worker_host(&host("a", 0, 0)).await.unwrap();
        store.upsert_worker_host(&host("b", 0, 0)).await.unwrap();
        store.upsert_worker_host(&host("a", 3, 5)).await.unwrap();
        assert_eq!(
            store.worker_hosts().await.unwrap(),
            [host("a", 3, 5), host("b", 0, 0)]
        );
        store.delete_worker_host("b").await.unwrap();
        assert_eq!(store.worker_hosts().await.unwrap(), [host("a", 3, 5)]);
        // A pool gone for over an hour is forgotten at the next refresh of another one.
        store
            .upsert_worker_host(&host("c", 0, 7_200))
            .await
            .unwrap();
        assert_eq!(store.worker_hosts().await.unwrap(), [host("c", 0, 7_200)]);
    }

    pub fn deployed_process(id: &str, deployed: OffsetDateTime) -> DeployedProcess {
        DeployedProcess {
            id: id.to_owned(),
            package_media_type: "application/ogcapppkg+json".to_owned(),
            package: (0..=255u8).chain([0, 255, 10, 13]).collect(),
            image: format!("registry.example.org/algorithms/{id}:1.0.0"),
            pinned_image: format!(
                "registry.example.org/algorithms/{id}@sha256:{}",
                "ab".repeat(32)
            ),
            manifest: json!({
                "seedVersion": "1.0.0",
                "job": {
                    "name": id,
                    "jobVersion": "1.0.0",
                    "packageVersion": "1.0.0",
                    "title": "Démo \"quoted\" \u{0000} nul",
                    "maintainer": {"name": "Ω", "email": "a@example.org"},
                    "timeout": 3600,
                    "interface": {
                        "command": "run ${INPUT} ${OUTPUT_DIR}",
                        "inputs": {"json": [{"name": "N", "type": "integer"}]},
                    },
                    "resources": {"scalar": [
                        {"name": "cpus", "value": 1.5},
                        {"name": "mem", "value": 0.1},
                        {"name": "disk", "value": -2.25e-7},
                    ]},
                    "numbers": [u64::MAX, i64::MIN, 0, -1, 1e300],
                    "empty": {},
                    "nothing": null,
                },
            }),
            deployed,
            updated: deployed,
        }
    }

    async fn get_process(store: &Store, id: &str) -> DeployedProcess {
        store
            .get_process(id)
            .await
            .unwrap()
            .expect("the process exists")
    }

    pub async fn process_insert_and_get_round_trip(store: Store) {
        assert_eq!(store.get_process("io-demo").await.unwrap(), None);
        let precise = datetime!(2025-03-01 12:00:00.123456 UTC);
        let mut process = deployed_process("io-demo", precise);
        process.updated = precise + Duration::microseconds(1);
        store.insert_process(&process).await.unwrap();
        // Bytes, JSON and microsecond times all come back exactly.
        assert_eq!(get_process(&store, "io-demo").await, process);
        assert_eq!(store.list_processes().await.unwrap(), [process.clone()]);

        // Times are stored to the microsecond, like job times; an offset is the same instant.
        let mut coarse = deployed_process("coarse", datetime!(2025-03-01 14:00:00.1234567 +02:00));
        coarse.package = Vec::new();
        store.insert_process(&coarse).await.unwrap();
        let stored = get_process(&store, "coarse").await;
        assert_eq!(stored.deployed, datetime!(2025-03-01 12:00:00.123456 UTC));
        assert_eq!(stored.updated, stored.deployed);
        assert!(stored.package.is_empty());
    }

    pub async fn process_duplicate_insert_keeps_the_first(store: Store) {
        let first = deployed_process("io-demo", at(0));
        store.insert_process(&first).await.unwrap();
        let mut second = deployed_process("io-demo", at(5));
        second.image = "other:2".to_owned();
        second.package = b"{}".to_vec();
        second.manifest = json!({"other": true});
        let error = store.insert_process(&second).await.unwrap_err();
        assert!(
            matches!(&error, ProcessWriteError::Duplicate(id) if id == "io-demo"),
            "{error:?}"
        );
        assert_eq!(get_process(&store, "io-demo").await, first);
        assert_eq!(store.list_processes().await.unwrap().len(), 1);
    }

    pub async fn process_replace_keeps_deployed_and_changes_the_rest(store: Store) {
        let first = deployed_process("io-demo", at(0));
        store.insert_process(&first).await.unwrap();
        let replacement = DeployedProcess {
            id: "io-demo".to_owned(),
            package_media_type: "application/cwl+yaml".to_owned(),
            package: b"cwlVersion: v1.2\n".to_vec(),
            image: "registry.example.org/algorithms/io-demo:2.0.0".to_owned(),
            pinned_image: format!("sha256:{}", "cd".repeat(32)),
            manifest: json!({"seedVersion": "1.0.0", "job": {"name": "io-demo", "v": 2}}),
            // A replace never moves the first deployment time, whatever it is given.
            deployed: at(99),
            updated: datetime!(2025-03-01 12:01:00.000001 UTC),
        };
        store.replace_process(&replacement).await.unwrap();
        let stored = get_process(&store, "io-demo").await;
        assert_eq!(
            stored,
            DeployedProcess {
                deployed: first.deployed,
                ..replacement.clone()
            }
        );
        // Replacing again with the same content is fine (one row, still there).
        store.replace_process(&replacement).await.unwrap();
        assert_eq!(store.list_processes().await.unwrap(), [stored]);
    }

    pub async fn process_replace_and_delete_of_unknown_ids_are_not_found(store: Store) {
        let ghost = deployed_process("ghost", at(0));
        let error = store.replace_process(&ghost).await.unwrap_err();
        assert!(
            matches!(&error, ProcessWriteError::NotFound(id) if id == "ghost"),
            "{error:?}"
        );
        let error = store.delete_process("ghost").await.unwrap_err();
        assert!(
            matches!(&error, ProcessWriteError::NotFound(id) if id == "ghost"),
            "{error:?}"
        );
        // Neither created anything, and other processes are left alone.
        store
            .insert_process(&deployed_process("kept", at(0)))
            .await
            .unwrap();
        assert!(store.replace_process(&ghost).await.is_err());
        assert_eq!(store.get_process("ghost").await.unwrap(), None);
        let listed = store.list_processes().await.unwrap();
        assert_eq!(
            listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["kept"]
        );
    }

    /// Named workspaces through the registry the server uses, on this backend: one name
    /// once, updates keep the creation time and a secret sent back as `<hidden>`, listing
    /// in byte order, delete.
    pub async fn workspaces_are_created_updated_listed_and_deleted(store: Store) {
        use ades::storage::registry::WorkspacesError;
        use ades::storage::{WorkspaceSpec, Workspaces};
        let workspaces = Workspaces::new(&Default::default(), Some(store.clone())).unwrap();
        let s3 = |name: &str, secret: &str| -> WorkspaceSpec {
            serde_json::from_value(serde_json::json!({
                "name": name,
                "configuration": {"broker": {"type": "s3", "bucket_name": "b",
                    "credentials": {"access_key_id": "AK", "secret_access_key": secret}}}
            }))
            .unwrap()
        };
        for name in ["zeta", "a-c", "ab", "a"] {
            workspaces.create(s3(name, "first-secret")).await.unwrap();
        }
        assert!(matches!(
            workspaces.create(s3("ab", "x")).await,
            Err(WorkspacesError::Duplicate(_))
        ));
        let names: Vec<String> = workspaces
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.spec.name)
            .collect();
        assert_eq!(names, ["a", "a-c", "ab", "zeta"]);
        let created = workspaces.get("ab").await.unwrap().created;
        let mut changed = s3("ab", "<hidden>");
        changed.delete_on_dismiss = true;
        let updated = workspaces.update("ab", changed).await.unwrap();
        assert!(updated.spec.delete_on_dismiss);
        assert_eq!(updated.created, created);
        let stored = store.get_workspace("ab").await.unwrap().unwrap();
        assert_eq!(
            stored.definition["configuration"]["broker"]["credentials"]["secret_access_key"],
            "first-secret",
            "the hidden secret was kept"
        );
        workspaces.delete("ab").await.unwrap();
        assert!(matches!(
            workspaces.get("ab").await,
            Err(WorkspacesError::NotFound(_))
        ));
        assert!(matches!(
            workspaces.delete("ab").await,
            Err(WorkspacesError::NotFound(_))
        ));
        assert!(matches!(
            workspaces.update("nope", s3("nope", "x")).await,
            Err(WorkspacesError::NotFound(_))
        ));
    }

    fn new_ingest(source: &str, path: &str, version: &str) -> ades::store::NewIngest {
        ades::store::NewIngest {
            id: uuid::Uuid::new_v4().to_string(),
            source_kind: ades::store::SourceKind::Strike,
            source_name: source.to_string(),
            workspace: "in".to_string(),
            path: path.to_string(),
            file_name: path.rsplit('/').next().unwrap().to_string(),
            version: version.to_string(),
            size: 3,
            sha256: Some(format!("sum-of-{path}-{version}")),
            media_type: Some("text/plain".to_string()),
            rule: Some(".*".to_string()),
            data_types: vec!["raw".to_string()],
            status: ades::store::IngestStatus::Ingested,
            message: None,
            new_workspace: None,
            new_path: None,
        }
    }

    /// Exactly once, decided by the store: the ingest row and its job commit together; the
    /// same version of the same file (whoever finds it again, with whatever new ids) writes
    /// nothing, no job either; another version, another path or another strike is new.
    pub async fn an_ingest_and_its_job_are_recorded_together_and_once(store: Store) {
        let first = new_ingest("s", "a/x.txt", "3:1");
        let job = new_job("p", 0);
        let (recorded, created) = store
            .record_ingest(first.clone(), Some(job.clone()), at(1))
            .await
            .unwrap()
            .expect("recorded");
        assert_eq!(recorded.job_id.as_deref(), Some(job.id.as_str()));
        let created = created.expect("the job");
        assert_eq!(created.id, job.id);
        assert_eq!(
            store.get_job(&job.id).await.unwrap().unwrap().status,
            JobStatus::Accepted
        );
        let read = store.get_ingest(&first.id).await.unwrap().unwrap();
        assert_eq!(read.new, first);
        assert_eq!(read.job_id.as_deref(), Some(job.id.as_str()));
        assert_eq!(read.created, at(1));

        // Found again (a restart, another replica): nothing at all is written.
        let again = new_ingest("s", "a/x.txt", "3:1");
        let second_job = new_job("p", 0);
        assert!(store
            .record_ingest(again.clone(), Some(second_job.clone()), at(2))
            .await
            .unwrap()
            .is_none());
        assert!(store.get_job(&second_job.id).await.unwrap().is_none());
        assert!(store.get_ingest(&again.id).await.unwrap().is_none());
        assert_eq!(store.count_queued().await.unwrap(), 1);

        // Concurrent recorders of one file: exactly one wins.
        let racers = (0..8).map(|_| {
            let store = store.clone();
            async move {
                store
                    .record_ingest(
                        new_ingest("s", "race.txt", "1:1"),
                        Some(new_job("p", 0)),
                        at(3),
                    )
                    .await
                    .unwrap()
                    .is_some()
            }
        });
        let won = futures_util::future::join_all(racers).await;
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
        assert_eq!(store.count_queued().await.unwrap(), 2);

        for (source, path, version) in [
            ("s", "a/x.txt", "3:2"),
            ("s", "b/x.txt", "3:1"),
            ("t", "a/x.txt", "3:1"),
        ] {
            assert!(
                store
                    .record_ingest(new_ingest(source, path, version), None, at(4))
                    .await
                    .unwrap()
                    .is_some(),
                "{source} {path} {version} is new"
            );
        }
        let mut keys = store
            .ingest_keys(ades::store::SourceKind::Strike, "s")
            .await
            .unwrap();
        keys.sort();
        assert_eq!(
            keys,
            [
                ("a/x.txt", "3:1"),
                ("a/x.txt", "3:2"),
                ("b/x.txt", "3:1"),
                ("race.txt", "1:1")
            ]
            .map(|(p, v)| (p.to_string(), v.to_string()))
        );
        assert!(store
            .ingest_keys(ades::store::SourceKind::Scan, "s")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store
                .ingest_with_sha256(ades::store::SourceKind::Strike, "s", "sum-of-a/x.txt-3:1")
                .await
                .unwrap(),
            Some(first.id.clone())
        );
        assert_eq!(
            store
                .ingest_with_sha256(ades::store::SourceKind::Strike, "s", "nothing")
                .await
                .unwrap(),
            None
        );
    }

    pub async fn ingests_are_listed_newest_first_with_filters_and_pages(store: Store) {
        use ades::store::{IngestFilter, IngestStatus, SourceKind};
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut ingest = new_ingest(if i < 3 { "s" } else { "t" }, &format!("f{i}"), "1:1");
            if i == 1 {
                ingest.status = IngestStatus::Errored;
                ingest.message = Some("why".to_string());
            }
            ids.push(ingest.id.clone());
            store
                .record_ingest(ingest, None, at(10 + i))
                .await
                .unwrap()
                .unwrap();
        }
        let list = |filter: IngestFilter| {
            let store = store.clone();
            async move {
                let page = store.list_ingests(&filter).await.unwrap();
                (
                    page.ingests
                        .into_iter()
                        .map(|i| i.new.id)
                        .collect::<Vec<_>>(),
                    page.has_more,
                )
            }
        };
        let all = IngestFilter {
            limit: 10,
            ..Default::default()
        };
        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
        assert_eq!(list(all.clone()).await, (newest_first.clone(), false));
        assert_eq!(
            list(IngestFilter {
                limit: 2,
                offset: 1,
                ..all.clone()
            })
            .await,
            (newest_first[1..3].to_vec(), true)
        );
        assert_eq!(
            list(IngestFilter {
                statuses: vec![IngestStatus::Errored],
                ..all.clone()
            })
            .await
            .0,
            vec![ids[1].clone()]
        );
        assert_eq!(
            list(IngestFilter {
                source_kind: Some(SourceKind::Strike),
                source_name: Some("t".into()),
                ..all.clone()
            })
            .await
            .0,
            vec![ids[4].clone(), ids[3].clone()]
        );
        assert_eq!(
            list(IngestFilter {
                created_from: Some(at(11)),
                created_to: Some(at(12)),
                ..all.clone()
            })
            .await
            .0,
            vec![ids[2].clone(), ids[1].clone()]
        );
    }

    pub async fn a_strike_is_leased_to_one_owner_at_a_time(store: Store) {
        use ades::store::IngestWriteError;
        let definition = json!({"name": "s", "configuration": {}});
        store
            .insert_strike("s", &definition, true, at(0))
            .await
            .unwrap();
        assert!(matches!(
            store.insert_strike("s", &definition, true, at(0)).await,
            Err(IngestWriteError::Duplicate(..))
        ));
        let lease = |owner: &'static str, now: i64| {
            let store = store.clone();
            async move {
                store
                    .take_strike_lease("s", owner, at(now + 10), at(now))
                    .await
                    .unwrap()
            }
        };
        assert!(lease("a", 0).await);
        assert!(!lease("b", 5).await, "held by a until 10");
        assert!(lease("a", 5).await, "a renews");
        assert!(store.set_strike_cursor("s", "a", 42).await.unwrap());
        assert!(
            !store.set_strike_cursor("s", "b", 43).await.unwrap(),
            "fenced"
        );
        assert!(lease("b", 16).await, "a's lease lapsed at 15: b takes over");
        assert!(!lease("a", 17).await);
        let read = store.get_strike("s").await.unwrap().unwrap();
        assert_eq!(read.lease_owner.as_deref(), Some("b"));
        assert_eq!(read.cursor, Some(42));
        assert!(read.running);
        // Stopping lets the lease go and refuses new ones; starting allows them again.
        store.set_strike_running("s", false, at(18)).await.unwrap();
        let read = store.get_strike("s").await.unwrap().unwrap();
        assert!(!read.running && read.lease_owner.is_none());
        assert!(!lease("a", 19).await);
        store.set_strike_running("s", true, at(20)).await.unwrap();
        assert!(lease("a", 21).await);
        store.release_strike_lease("s", "a").await.unwrap();
        assert!(lease("b", 22).await);
        let changed = json!({"name": "s", "configuration": {"x": 1}});
        store.replace_strike("s", &changed, at(23)).await.unwrap();
        let read = store.get_strike("s").await.unwrap().unwrap();
        assert_eq!(read.definition, changed);
        assert_eq!((read.created, read.updated), (at(0), at(23)));
        assert!(matches!(
            store.replace_strike("nope", &changed, at(23)).await,
            Err(IngestWriteError::NotFound(..))
        ));
        assert_eq!(store.list_strikes().await.unwrap().len(), 1);
        // Scans.
        store.insert_scan("sc", &definition, at(1)).await.unwrap();
        store
            .record_scan_run("sc", &json!({"files": 3}), at(2))
            .await
            .unwrap();
        let scan = store.get_scan("sc").await.unwrap().unwrap();
        assert_eq!(scan.last_run, Some(json!({"files": 3})));
        assert_eq!(store.list_scans().await.unwrap().len(), 1);
    }

    pub async fn processes_are_listed_by_id(store: Store) {
        assert!(store.list_processes().await.unwrap().is_empty());
        // Hyphens and digits: a collation that skips punctuation would order these
        // differently from byte order.
        let ids = ["zeta", "a-c", "ab", "a", "b2", "b10", "a-b-c", "m"];
        for (i, id) in ids.iter().enumerate() {
            let process = deployed_process(id, at(i as i64));
            store.insert_process(&process).await.unwrap();
        }
        let listed = store.list_processes().await.unwrap();
        let mut expected: Vec<&str> = ids.to_vec();
        expected.sort();
        assert_eq!(
            listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            expected
        );
        for process in &listed {
            let i = ids.iter().position(|id| *id == process.id).unwrap();
            assert_eq!(process, &deployed_process(ids[i], at(i as i64)));
        }
    }

    pub async fn process_delete_then_get_is_none(store: Store) {
        store
            .insert_process(&deployed_process("gone", at(0)))
            .await
            .unwrap();
        store
            .insert_process(&deployed_process("stays", at(1)))
            .await
            .unwrap();
        store.delete_process("gone").await.unwrap();
        assert_eq!(store.get_process("gone").await.unwrap(), None);
        let error = store.delete_process("gone").await.unwrap_err();
        assert!(matches!(error, ProcessWriteError::NotFound(_)), "{error:?}");
        assert_eq!(
            store.list_processes().await.unwrap(),
            [deployed_process("stays", at(1))]
        );
        // The id is free again.
        let again = deployed_process("gone", at(2));
        store.insert_process(&again).await.unwrap();
        assert_eq!(get_process(&store, "gone").await, again);
    }

    pub async fn process_concurrent_inserts_of_one_id_have_one_winner(store: Store) {
        const DEPLOYERS: i64 = 8;
        let barrier = Arc::new(tokio::sync::Barrier::new(DEPLOYERS as usize));
        let mut tasks = Vec::new();
        for i in 0..DEPLOYERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let mut process = deployed_process("racy", at(i));
                process.image = format!("racy:{i}");
                barrier.wait().await;
                (process.clone(), store.insert_process(&process).await)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (process, Ok(())) => winners.push(process),
                (_, Err(ProcessWriteError::Duplicate(id))) => assert_eq!(id, "racy"),
                (_, Err(other)) => panic!("a losing deploy is a duplicate, not {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one deploy wins");
        assert_eq!(get_process(&store, "racy").await, winners[0]);
    }
}

// SQLite-specific behaviour.

#[tokio::test]
async fn sqlite_jobs_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let store = SqliteStore::connect(path.to_str().unwrap()).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let mut jobs = Vec::new();
    for priority in 0..3 {
        let new = ades::store::NewJob {
            id: ades::domain::JobId::new(),
            process_id: ProcessId::parse("io-demo").unwrap(),
            request: Default::default(),
            priority,
            owner: None,
            step_of: None,
            workflow: false,
            submitted_by: None,
        };
        jobs.push(store.insert_job(new, now).await.unwrap());
    }
    let claimed = store
        .claim_next_job(&WorkerId("w".into()), now, now)
        .await
        .unwrap()
        .unwrap();
    store.close().await;

    // Reopen through the URL form; migrations are already applied.
    let url = format!("sqlite://{}", path.display());
    let reopened = SqliteStore::connect(&url).await.unwrap();
    for job in &jobs {
        let stored = reopened.get_job(&job.id).await.unwrap().unwrap();
        if job.id == claimed.id {
            assert_eq!(stored, claimed);
            assert_eq!(reopened.job_events(&job.id).await.unwrap().len(), 2);
        } else {
            assert_eq!(&stored, job);
            assert_eq!(stored.status, JobStatus::Accepted);
        }
    }
    assert_eq!(reopened.running_job_ids().await.unwrap(), [claimed.id]);
}

#[tokio::test]
async fn sqlite_in_memory_databases_work() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let new = ades::store::NewJob {
        id: ades::domain::JobId::new(),
        process_id: ProcessId::parse("io-demo").unwrap(),
        request: Default::default(),
        priority: 0,
        owner: None,
        step_of: None,
        workflow: false,
        submitted_by: None,
    };
    let job = store
        .insert_job(new, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(store.get_job(&job.id).await.unwrap(), Some(job));
}

#[tokio::test]
async fn sqlite_unreadable_rows_are_corrupt_not_database_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::connect(path.to_str().unwrap()).await.unwrap();
    let new = ades::store::NewJob {
        id: ades::domain::JobId::new(),
        process_id: ProcessId::parse("io-demo").unwrap(),
        request: Default::default(),
        priority: 0,
        owner: None,
        step_of: None,
        workflow: false,
        submitted_by: None,
    };
    let job = store
        .insert_job(new, time::OffsetDateTime::now_utc())
        .await
        .unwrap();

    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("UPDATE jobs SET request = 'not json' WHERE id = ?1")
        .bind(job.id.as_str())
        .execute(&pool)
        .await
        .unwrap();
    let error = store.get_job(&job.id).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");

    // The schema itself refuses statuses the state machine does not know.
    let refused = sqlx::query("UPDATE jobs SET status = 'paused' WHERE id = ?1")
        .bind(job.id.as_str())
        .execute(&pool)
        .await;
    assert!(refused.is_err());
    pool.close().await;
}

#[tokio::test]
async fn sqlite_processes_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("processes.db");
    let store = SqliteStore::connect(path.to_str().unwrap()).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let kept = contract::deployed_process("kept", now);
    store.insert_process(&kept).await.unwrap();
    let deleted = contract::deployed_process("deleted", now);
    store.insert_process(&deleted).await.unwrap();
    store.delete_process("deleted").await.unwrap();
    store.close().await;

    let url = format!("sqlite://{}", path.display());
    let reopened = SqliteStore::connect(&url).await.unwrap();
    let mut expected = kept.clone();
    // Stored to the microsecond.
    expected.deployed = expected
        .deployed
        .replace_nanosecond(now.microsecond() * 1_000)
        .unwrap();
    expected.updated = expected.deployed;
    assert_eq!(reopened.list_processes().await.unwrap(), [expected]);
    assert_eq!(reopened.get_process("deleted").await.unwrap(), None);
    reopened.close().await;
}

#[tokio::test]
async fn sqlite_unreadable_process_rows_are_corrupt_not_database_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::connect(path.to_str().unwrap()).await.unwrap();
    let at = time::OffsetDateTime::UNIX_EPOCH;
    for id in ["bad-json", "bad-time"] {
        let process = contract::deployed_process(id, at);
        store.insert_process(&process).await.unwrap();
    }

    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("UPDATE deployed_processes SET manifest = 'not json' WHERE id = 'bad-json'")
        .execute(&pool)
        .await
        .unwrap();
    // Far beyond the year 9999: no OffsetDateTime holds it.
    sqlx::query("UPDATE deployed_processes SET updated = ?1 WHERE id = 'bad-time'")
        .bind(i64::MAX)
        .execute(&pool)
        .await
        .unwrap();
    for id in ["bad-json", "bad-time"] {
        let error = store.get_process(id).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{id}: {error:?}");
    }
    let error = store.list_processes().await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");

    // The STRICT table refuses a package that is not bytes.
    let refused = sqlx::query("UPDATE deployed_processes SET package = 12 WHERE id = 'bad-json'")
        .execute(&pool)
        .await;
    assert!(refused.is_err());
    pool.close().await;
}

#[tokio::test]
async fn sqlite_a_bad_location_is_a_database_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/jobs.db");
    let error = SqliteStore::connect(missing.to_str().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Database(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_instances_sharing_a_database_never_claim_twice() {
    // Two ADES instances (two pools, migrating at the same time) on one queue.
    let database = PostgresTestDatabase::create().await;
    let url = database.url();
    let (a, b) = tokio::join!(PostgresStore::connect(&url), PostgresStore::connect(&url));
    let stores: [Arc<dyn JobStore>; 2] = [Arc::new(a.unwrap()), Arc::new(b.unwrap())];
    const JOBS: usize = 100;
    let now = time::OffsetDateTime::now_utc();
    for i in 0..JOBS {
        stores[i % 2].insert_job(new_job(), now).await.unwrap();
    }
    let mut tasks = Vec::new();
    for c in 0..8 {
        let store = stores[c % 2].clone();
        tasks.push(tokio::spawn(async move {
            let me = WorkerId(format!("instance-{}-claimer-{c}", c % 2));
            let lease = now + time::Duration::seconds(30);
            let mut mine = Vec::new();
            while let Some(job) = store.claim_next_job(&me, lease, now).await.unwrap() {
                mine.push(job.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = claimed.iter().cloned().collect();
    assert_eq!((claimed.len(), unique.len()), (JOBS, JOBS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_changes_reach_the_other_instances_as_they_commit() {
    use ades::store::StoreSignal;
    let database = PostgresTestDatabase::create().await;
    let url = database.url();
    let listening = PostgresStore::connect(&url).await.unwrap();
    let writing = PostgresStore::connect(&url).await.unwrap();
    let mut signals = listening
        .listen()
        .await
        .unwrap()
        .expect("PostgreSQL tells of changes");
    let now = time::OffsetDateTime::now_utc();
    let job = writing.insert_job(new_job(), now).await.unwrap();

    assert_eq!(
        next_signal(&mut signals).await,
        StoreSignal::WorkAvailable(job.id.clone())
    );
    let me = WorkerId("w".into());
    writing
        .claim_next_job(&me, now + time::Duration::seconds(30), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next_signal(&mut signals).await,
        StoreSignal::JobChanged(job.id.clone())
    );
    writing.dismiss_job(&job.id, now).await.unwrap();
    assert_eq!(
        next_signal(&mut signals).await,
        StoreSignal::JobChanged(job.id.clone())
    );
}

async fn next_signal(
    signals: &mut tokio::sync::mpsc::Receiver<ades::store::StoreSignal>,
) -> ades::store::StoreSignal {
    tokio::time::timeout(std::time::Duration::from_secs(5), signals.recv())
        .await
        .expect("a signal within 5 s")
        .expect("an open channel")
}

#[tokio::test]
async fn sqlite_has_no_other_instances_to_hear_from() {
    let (_dir, store) = open_sqlite().await;
    assert!(store.listen().await.unwrap().is_none());
}

#[tokio::test]
async fn postgres_unreadable_rows_are_corrupt_not_database_errors() {
    let database = PostgresTestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    let job = store
        .insert_job(new_job(), time::OffsetDateTime::now_utc())
        .await
        .unwrap();

    let mut raw = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::query("UPDATE jobs SET request = '[1, 2]'::jsonb WHERE id = $1")
        .bind(job.id.as_str())
        .execute(&mut raw)
        .await
        .unwrap();
    let error = store.get_job(&job.id).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");

    // The schema itself refuses statuses the state machine does not know.
    let refused = sqlx::query("UPDATE jobs SET status = 'paused' WHERE id = $1")
        .bind(job.id.as_str())
        .execute(&mut raw)
        .await;
    assert!(refused.is_err());
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_processes_survive_closing_and_reopening_the_store() {
    let database = PostgresTestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    let at = time::macros::datetime!(2025-03-01 12:00:00.654321 UTC);
    let kept = contract::deployed_process("kept", at);
    store.insert_process(&kept).await.unwrap();
    store.close().await;

    // A new pool on the same database (migrations already applied) sees it unchanged.
    let reopened = PostgresStore::connect(&database.url()).await.unwrap();
    assert_eq!(
        reopened.list_processes().await.unwrap(),
        std::slice::from_ref(&kept)
    );
    let error = reopened.insert_process(&kept).await.unwrap_err();
    assert!(
        matches!(error, ades::store::ProcessWriteError::Duplicate(_)),
        "{error:?}"
    );
    reopened.close().await;
}

#[tokio::test]
async fn postgres_unreadable_process_rows_are_corrupt_not_database_errors() {
    let database = PostgresTestDatabase::create().await;
    let store = PostgresStore::connect(&database.url()).await.unwrap();
    let at = time::OffsetDateTime::UNIX_EPOCH;
    for id in ["bad-json", "bad-time"] {
        let process = contract::deployed_process(id, at);
        store.insert_process(&process).await.unwrap();
    }

    let mut raw = sqlx::PgConnection::connect(&database.url()).await.unwrap();
    sqlx::query("UPDATE deployed_processes SET manifest = 'not json' WHERE id = 'bad-json'")
        .execute(&mut raw)
        .await
        .unwrap();
    // Far beyond the year 9999: no OffsetDateTime holds it.
    sqlx::query("UPDATE deployed_processes SET updated = $1 WHERE id = 'bad-time'")
        .bind(i64::MAX)
        .execute(&mut raw)
        .await
        .unwrap();
    for id in ["bad-json", "bad-time"] {
        let error = store.get_process(id).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{id}: {error:?}");
    }
    let error = store.list_processes().await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    raw.close().await.unwrap();
    store.close().await;
}

#[tokio::test]
async fn postgres_an_unreachable_server_is_unavailable() {
    // Port 1 on the loopback: nothing listens there.
    let error = PostgresStore::connect("postgres://ades:secret@127.0.0.1:1/ades")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[tokio::test]
async fn connect_store_chooses_the_backend_by_url() {
    let database = PostgresTestDatabase::create().await;
    for url in [
        database.url(),
        database.url().replacen("postgres://", "postgresql://", 1),
    ] {
        let store = ades::store::connect_store(&url).await.unwrap();
        let job = store
            .insert_job(new_job(), time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert_eq!(store.get_job(&job.id).await.unwrap(), Some(job));
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    for url in [
        path.to_str().unwrap().to_owned(),
        format!("sqlite://{}", path.display()),
    ] {
        let store = ades::store::connect_store(&url).await.unwrap();
        store
            .insert_job(new_job(), time::OffsetDateTime::now_utc())
            .await
            .unwrap();
    }

    let error = ades::store::connect_store("mysql://localhost/ades")
        .await
        .err()
        .expect("an unknown scheme is refused");
    assert!(error.to_string().contains("postgres://"), "{error}");
}

fn new_job() -> ades::store::NewJob {
    ades::store::NewJob {
        id: ades::domain::JobId::new(),
        process_id: ProcessId::parse("io-demo").unwrap(),
        request: Default::default(),
        priority: 0,
        owner: None,
        step_of: None,
        workflow: false,
        submitted_by: None,
    }
}

/// A TCP forwarder from a loopback port to `target`, standing between a server and its
/// database; dropping it closes its listener and every connection through it (a database
/// outage, as the server sees it).
struct Forwarder {
    port: u16,
    _tasks: tokio::task::JoinSet<()>,
}

impl Forwarder {
    async fn start(port: u16, target: std::net::SocketAddr) -> Forwarder {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the forwarder");
        let port = listener.local_addr().unwrap().port();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Forwarder {
            port,
            _tasks: tasks,
        }
    }
}

/// A database outage answers 503 `storage-unavailable` with `Retry-After` (OGC API and
/// WPS alike), not 500, and the server answers again once the database is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_is_a_503_and_the_server_recovers() {
    let database = PostgresTestDatabase::create().await;
    let mut url = reqwest::Url::parse(&database.url()).unwrap();
    let target = tokio::net::lookup_host(format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port().unwrap_or(5432)
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let forwarder = Forwarder::start(0, target).await;
    let port = forwarder.port;
    url.set_port(Some(port)).unwrap();
    let app = crate::app::spawn_app_with(|s| {
        s.database.url = url.to_string();
        s.queue.workers = 0;
    })
    .await;
    let jobs = app.url("/jobs");
    assert_eq!(app.client.get(&jobs).send().await.unwrap().status(), 200);

    drop(forwarder);
    let response = app.client.get(&jobs).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:ades:error:storage-unavailable", "{body}");
    let wps = app
        .client
        .get(app.url(
            "/wps?service=WPS&version=2.0.0&request=GetStatus&jobId=00000000-0000-4000-8000-000000000000",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wps.status(), 503);
    let report = wps.text().await.unwrap();
    assert!(report.contains("ServerBusy"), "{report}");
    crate::xsd::assert_valid_xml(&report, crate::xsd::Schema::Ows2Exception);

    let _back = Forwarder::start(port, target).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.client.get(&jobs).send().await.unwrap().status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not recover"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await;
}
