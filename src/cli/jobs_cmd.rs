//! `ades jobs list|show|cancel|requeue`: an operator's hands on the job store. It works on
//! the database directly (the one the servers share, found through the same layered
//! configuration as `ades serve`), so it works whether or not a server runs.
//!
//! Bulk runs (filters instead of ids) only count the jobs they would change unless given
//! `--yes`, and only ever touch the jobs an operator means: `cancel` the accepted and running
//! ones, `requeue` the failed and dismissed ones.

use super::{
    print, status, JobFilterArgs, JobsActionArgs, JobsArgs, JobsCommand, JobsListArgs,
    JobsShowArgs, SettingsArgs,
};
use crate::config::{redact_url_password, Overrides};
use crate::domain::{Job, JobEvent, JobId, JobResults, JobStatus, OutputValue, ProcessId};
use crate::store::{connect_store, JobFilter, JobStore, StoreError};
use seed::errors::JobFailure;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Jobs read per `list_jobs` call while collecting the jobs a filter run matches.
const PAGE: u32 = 500;

/// Why a command stopped: a bad command line (exit 2, nothing touched) or an error (exit 1).
enum Failure {
    Usage(String),
    Error(String),
}

type Outcome = Result<u8, Failure>;

pub async fn jobs(args: JobsArgs) -> u8 {
    let JobsArgs { store, command } = args;
    let outcome = match command {
        JobsCommand::List(args) => list(&store, args).await,
        JobsCommand::Show(args) => show(&store, args).await,
        JobsCommand::Cancel(args) => act(&store, Action::Cancel, args).await,
        JobsCommand::Requeue(args) => act(&store, Action::Requeue, args).await,
    };
    match outcome {
        Ok(code) => code,
        Err(Failure::Usage(message)) => {
            print::error(&message);
            status::USAGE
        }
        Err(Failure::Error(message)) => {
            print::error(&message);
            status::ERROR
        }
    }
}

/// The job store the configuration names, and its URL as it may be shown (no password).
struct Store {
    jobs: Arc<dyn JobStore>,
    shown_url: String,
}

impl Store {
    /// A store that failed: what failed, and which database it was.
    fn failed(&self, doing: &str, err: StoreError) -> Failure {
        Failure::Error(self.failure_message(doing, err))
    }

    fn failure_message(&self, doing: &str, err: StoreError) -> String {
        format!(
            "cannot {doing}: the job store at {} failed: {err}",
            self.shown_url
        )
    }

    /// A job id the store does not know.
    fn unknown_message(&self, id: &JobId) -> String {
        format!(
            "there is no job {id} in the job store at {} (is it the database the server \
             uses? see --database-url, --data-dir, --config)",
            self.shown_url
        )
    }
}

async fn open_store(args: &SettingsArgs) -> Result<Store, Failure> {
    let settings = args
        .load(Overrides::default())
        .map_err(|err| Failure::Usage(err.to_string()))?;
    let url = settings.database_url();
    let shown_url = redact_url_password(&url);
    // Opening a SQLite store creates the file: a mistyped --data-dir would then show an
    // empty store instead of saying that it is the wrong place.
    if let Some(file) = sqlite_file(&url) {
        if !file.exists() {
            return Err(Failure::Error(format!(
                "there is no job store at {} (database URL {shown_url}): check --data-dir, \
                 --database-url, ADES__DATABASE__URL or the configuration file (`ades serve` \
                 creates the database when it first starts)",
                file.display()
            )));
        }
    }
    let jobs = connect_store(&url).await.map_err(|err| {
        Failure::Error(format!(
            "cannot open the job store at {shown_url}: {err} (check --database-url, \
             ADES__DATABASE__URL or the configuration file)"
        ))
    })?;
    Ok(Store { jobs, shown_url })
}

/// The file a SQLite database URL (or plain path) names; `None` for other databases and for
/// in-memory ones.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return None;
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// The filters as given, parsed; `limit` and `offset` are left for the caller.
fn parse_filter(args: &JobFilterArgs) -> Result<JobFilter, Failure> {
    let statuses = args
        .statuses
        .iter()
        .map(|text| {
            JobStatus::parse(text).ok_or_else(|| {
                Failure::Usage(format!(
                    "--status {text:?} is not a job status: use {}",
                    status_words(&JobStatus::ALL)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let process_ids = args
        .processes
        .iter()
        .map(|text| {
            ProcessId::parse(text).map_err(|err| Failure::Usage(format!("--process {err}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JobFilter {
        statuses,
        process_ids,
        created_from: parse_time("--created-after", args.created_after.as_deref())?,
        created_to: parse_time("--created-before", args.created_before.as_deref())?,
        ..JobFilter::default()
    })
}

fn parse_time(flag: &str, text: Option<&str>) -> Result<Option<OffsetDateTime>, Failure> {
    text.map(|text| {
        OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            Failure::Usage(format!(
                "{flag} {text:?} is not an RFC 3339 time: write e.g. 2024-05-01T00:00:00Z or \
                 2024-05-01T02:00:00+02:00"
            ))
        })
    })
    .transpose()
}

fn filter_given(args: &JobFilterArgs) -> bool {
    !args.statuses.is_empty()
        || !args.processes.is_empty()
        || args.created_after.is_some()
        || args.created_before.is_some()
}

/// `accepted, running or failed`.
fn status_words(statuses: &[JobStatus]) -> String {
    let words: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    match words.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        "job"
    } else {
        "jobs"
    }
}

// ---- list -------------------------------------------------------------------------------

async fn list(store_args: &SettingsArgs, args: JobsListArgs) -> Outcome {
    let filter = JobFilter {
        limit: args.limit,
        ..parse_filter(&args.filter)?
    };
    let store = open_store(store_args).await?;
    let page = store
        .jobs
        .list_jobs(&filter, OffsetDateTime::now_utc())
        .await
        .map_err(|err| store.failed("list the jobs", err))?;
    if args.json {
        let listed: Vec<ListedJob> = page.jobs.iter().map(ListedJob::from).collect();
        print::json(&listed);
        return Ok(status::OK);
    }
    if page.jobs.is_empty() {
        print::note("No job matches.");
        return Ok(status::OK);
    }
    let width = page
        .jobs
        .iter()
        .map(|job| job.process_id.as_str().len())
        .max()
        .unwrap_or(7)
        .max(7);
    println!(
        "{:<36}  {:<width$}  {:<10}  {:<20}  {:>7}  MESSAGE",
        "ID", "PROCESS", "STATUS", "CREATED", "ATTEMPT"
    );
    for job in &page.jobs {
        let line = format!(
            "{:<36}  {:<width$}  {:<10}  {:<20}  {:>7}  {}",
            job.id.as_str(),
            job.process_id.as_str(),
            job.status.as_str(),
            text_time(job.created),
            job.attempt,
            one_line(job.message.as_deref().unwrap_or_default()),
        );
        println!("{}", line.trim_end());
    }
    if page.has_more {
        print::note(&format!(
            "(the newest {} shown; more jobs match: raise --limit or narrow the filters)",
            page.jobs.len()
        ));
    }
    Ok(status::OK)
}

/// A job in `--json` output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedJob {
    id: String,
    process_id: String,
    status: JobStatus,
    message: Option<String>,
    progress: Option<u8>,
    created: String,
    started: Option<String>,
    finished: Option<String>,
    updated: String,
    attempt: u32,
}

impl From<&Job> for ListedJob {
    fn from(job: &Job) -> ListedJob {
        ListedJob {
            id: job.id.to_string(),
            process_id: job.process_id.to_string(),
            status: job.status,
            message: job.message.clone(),
            progress: job.progress,
            created: json_time(job.created),
            started: job.started.map(json_time),
            finished: job.finished.map(json_time),
            updated: json_time(job.updated),
            attempt: job.attempt,
        }
    }
}

// ---- show -------------------------------------------------------------------------------

async fn show(store_args: &SettingsArgs, args: JobsShowArgs) -> Outcome {
    let id = JobId::parse(&args.id).map_err(|err| Failure::Usage(err.to_string()))?;
    let store = open_store(store_args).await?;
    let Some(job) = store
        .jobs
        .get_job(&id)
        .await
        .map_err(|err| store.failed("read the job", err))?
    else {
        return Err(Failure::Error(store.unknown_message(&id)));
    };
    let events = store
        .jobs
        .job_events(&id)
        .await
        .map_err(|err| store.failed("read the job's events", err))?;
    let callbacks = store
        .jobs
        .job_callbacks(&id)
        .await
        .map_err(|err| store.failed("read the job's callbacks", err))?;
    let callbacks = crate::api::views::CallbackListView::new(&id, &callbacks).callbacks;
    if args.json {
        print::json(&ShownJob {
            job: ListedJob::from(&job),
            failure: job.failure.as_ref(),
            results: job.results.as_ref().map(|results| {
                results
                    .iter()
                    .map(|(output, values)| {
                        (
                            output.as_str(),
                            values.iter().map(ShownValue::from).collect(),
                        )
                    })
                    .collect()
            }),
            events: events.iter().map(ShownEvent::from).collect(),
            callbacks,
        });
        return Ok(status::OK);
    }
    let mut rows: Vec<(&str, String)> = vec![
        ("job", job.id.to_string()),
        ("process", job.process_id.to_string()),
        ("status", job.status.as_str().to_string()),
    ];
    if let Some(message) = &job.message {
        rows.push(("message", one_line(message)));
    }
    if let Some(progress) = job.progress {
        rows.push(("progress", format!("{progress}%")));
    }
    rows.push(("created", text_time(job.created)));
    if let Some(started) = job.started {
        rows.push(("started", text_time(started)));
    }
    if let Some(finished) = job.finished {
        rows.push(("finished", text_time(finished)));
    }
    rows.push(("updated", text_time(job.updated)));
    rows.push(("attempt", job.attempt.to_string()));
    if let Some(failure) = &job.failure {
        rows.push(("failure", failure_line(failure)));
    }
    for (key, value) in rows {
        println!("{key:<9} {value}");
    }
    if let Some(results) = &job.results {
        print_results(results);
    }
    println!("events:");
    for event in &events {
        let line = format!(
            "  {:<20}  {:<10}  {}",
            text_time(event.at),
            event.status.as_str(),
            one_line(event.message.as_deref().unwrap_or_default())
        );
        println!("{}", line.trim_end());
    }
    print_callbacks(&callbacks);
    Ok(status::OK)
}

/// `callbacks:` then each callback, how it stands, and its tries (nothing without any).
fn print_callbacks(callbacks: &[crate::api::views::CallbackView]) {
    if callbacks.is_empty() {
        return;
    }
    println!("callbacks:");
    for callback in callbacks {
        let state = match (
            &callback.delivered,
            &callback.given_up,
            &callback.next_attempt,
        ) {
            (Some(at), _, _) => format!("delivered {at}"),
            (_, Some(at), _) => format!("given up {at}"),
            (_, _, Some(at)) => format!("next try {at}"),
            _ => String::new(),
        };
        println!(
            "  {} (attempt {}) {}  {state}",
            callback.status, callback.attempt, callback.uri
        );
        for t in &callback.tries {
            println!("    try {:<3} {}  {}", t.number, t.at, one_line(&t.outcome));
        }
    }
}

fn failure_line(failure: &JobFailure) -> String {
    let category = serde_json::to_value(failure.category)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = format!("{} ({category}", failure.name);
    if let Some(code) = failure.exit_code {
        line.push_str(&format!(", exit code {code}"));
    }
    line.push_str(&format!("): {}", failure.title));
    if !failure.description.is_empty() {
        line.push_str(&format!(" - {}", one_line(&failure.description)));
    }
    line
}

/// `results:` then one line per output: its values, files by path and size.
fn print_results(results: &JobResults) {
    println!("results:");
    if results.is_empty() {
        println!("  (none)");
    }
    for (output, values) in results {
        let shown: Vec<String> = values
            .iter()
            .map(|value| match value {
                OutputValue::Json { value } => shorten(&value.to_string(), 60),
                OutputValue::File {
                    path, size_bytes, ..
                } => format!("{path} ({})", print::size(*size_bytes)),
            })
            .collect();
        println!("  {output}: {}", shown.join(", "));
    }
}

/// `ades jobs show --json`.
#[derive(Serialize)]
struct ShownJob<'a> {
    #[serde(flatten)]
    job: ListedJob,
    failure: Option<&'a JobFailure>,
    /// Output id -> its values.
    results: Option<BTreeMap<&'a str, Vec<ShownValue<'a>>>>,
    events: Vec<ShownEvent>,
    callbacks: Vec<crate::api::views::CallbackView>,
}

/// One output value: a json output's value, or a file's path, type and size.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum ShownValue<'a> {
    Json {
        value: &'a serde_json::Value,
    },
    #[serde(rename_all = "camelCase")]
    File {
        path: &'a str,
        media_type: String,
        size_bytes: u64,
    },
}

impl<'a> From<&'a OutputValue> for ShownValue<'a> {
    fn from(value: &'a OutputValue) -> ShownValue<'a> {
        match value {
            OutputValue::Json { value } => ShownValue::Json { value },
            OutputValue::File {
                path, size_bytes, ..
            } => ShownValue::File {
                path,
                media_type: value.media_type(),
                size_bytes: *size_bytes,
            },
        }
    }
}

#[derive(Serialize)]
struct ShownEvent {
    at: String,
    status: JobStatus,
    message: Option<String>,
}

impl From<&JobEvent> for ShownEvent {
    fn from(event: &JobEvent) -> ShownEvent {
        ShownEvent {
            at: json_time(event.at),
            status: event.status,
            message: event.message.clone(),
        }
    }
}

// ---- cancel and requeue -----------------------------------------------------------------

#[derive(Clone, Copy)]
enum Action {
    Cancel,
    Requeue,
}

impl Action {
    /// The statuses a filter run acts on.
    fn statuses(self) -> [JobStatus; 2] {
        match self {
            Action::Cancel => [JobStatus::Accepted, JobStatus::Running],
            Action::Requeue => [JobStatus::Failed, JobStatus::Dismissed],
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Requeue => "requeue",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Action::Cancel => "cancelled",
            Action::Requeue => "requeued",
        }
    }
}

/// What became of one job.
enum Done {
    /// Changed: the job's process, its status before and now.
    Changed(ProcessId, JobStatus, JobStatus),
    /// Left as it is, and why.
    Skipped(String),
    Unknown,
}

async fn act(store_args: &SettingsArgs, action: Action, args: JobsActionArgs) -> Outcome {
    let verb = action.verb();
    let by_filter = filter_given(&args.filter);
    if !args.ids.is_empty() && by_filter {
        return Err(Failure::Usage(format!(
            "give either job ids or filters, not both: `ades jobs {verb} ID...` or \
             `ades jobs {verb} --status S --process ID ... --yes`"
        )));
    }
    if args.ids.is_empty() && !by_filter {
        return Err(Failure::Usage(format!(
            "which jobs? Give their ids (`ades jobs {verb} ID...`) or filters \
             (--status, --process, --created-after, --created-before) and --yes to {verb} \
             every matching {} job",
            status_words(&action.statuses())
        )));
    }
    if by_filter {
        let filter = filter_for(action, &args.filter)?;
        let store = open_store(store_args).await?;
        by_filter_run(&store, action, filter, args.yes).await
    } else {
        let mut ids = Vec::new();
        for text in &args.ids {
            let id = JobId::parse(text).map_err(|err| Failure::Usage(err.to_string()))?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let store = open_store(store_args).await?;
        let mut tally = Tally::default();
        for id in &ids {
            let done = act_on(&store, action, id, true).await;
            if !tally.record(&store, action, id, done) {
                break;
            }
        }
        Ok(tally.finish(action))
    }
}

/// The filter of a bulk run: what was asked, within the statuses the action applies to.
fn filter_for(action: Action, args: &JobFilterArgs) -> Result<JobFilter, Failure> {
    let mut filter = parse_filter(args)?;
    let allowed = action.statuses();
    if let Some(other) = filter.statuses.iter().find(|s| !allowed.contains(s)) {
        let hint = match action {
            Action::Cancel => " (to withdraw a finished job, name it by id)",
            Action::Requeue => "",
        };
        return Err(Failure::Usage(format!(
            "--status {}: only {} jobs can be {} by filters{hint}",
            other.as_str(),
            status_words(&allowed),
            action.done()
        )));
    }
    if filter.statuses.is_empty() {
        filter.statuses = allowed.to_vec();
    }
    Ok(filter)
}

async fn by_filter_run(store: &Store, action: Action, filter: JobFilter, yes: bool) -> Outcome {
    // Jobs submitted while this runs are not part of it.
    let now = OffsetDateTime::now_utc();
    let filter = JobFilter {
        created_to: Some(filter.created_to.map_or(now, |to| to.min(now))),
        ..filter
    };
    let kinds = status_words(&filter.statuses);
    let mut seen = HashSet::new();
    let first = matching(store, &filter, &seen).await?;
    if first.is_empty() {
        print::note(&format!(
            "No {kinds} job matches the filters: nothing to {}.",
            action.verb()
        ));
        return Ok(status::OK);
    }
    if !yes {
        let count = first.len();
        print::note(&format!(
            "{count} {kinds} {} would be {}.",
            plural(count),
            action.done()
        ));
        print::error(&format!(
            "nothing was {}: add --yes to {} these {count} {} (`ades jobs list` with the same \
             filters shows them)",
            action.done(),
            action.verb(),
            plural(count)
        ));
        return Ok(status::ERROR);
    }
    let mut tally = Tally::default();
    let mut batch = first;
    // A job changing status while the pages are read can shift another past a page
    // boundary: read again until no match is new.
    while !batch.is_empty() {
        for id in &batch {
            seen.insert(id.clone());
            let done = act_on(store, action, id, false).await;
            if !tally.record(store, action, id, done) {
                return Ok(tally.finish(action));
            }
        }
        batch = matching(store, &filter, &seen).await?;
    }
    Ok(tally.finish(action))
}

/// Every job `filter` matches that is not in `seen`, newest first (all pages).
async fn matching(
    store: &Store,
    filter: &JobFilter,
    seen: &HashSet<JobId>,
) -> Result<Vec<JobId>, Failure> {
    let mut found = Vec::new();
    let mut listed = HashSet::new();
    let mut offset = 0;
    loop {
        let page_filter = JobFilter {
            limit: PAGE,
            offset,
            ..filter.clone()
        };
        let page = store
            .jobs
            .list_jobs(&page_filter, OffsetDateTime::now_utc())
            .await
            .map_err(|err| store.failed("list the matching jobs", err))?;
        for job in &page.jobs {
            if !seen.contains(&job.id) && listed.insert(job.id.clone()) {
                found.push(job.id.clone());
            }
        }
        if !page.has_more || page.jobs.is_empty() {
            return Ok(found);
        }
        offset += page.jobs.len() as u32;
    }
}

/// Cancels or requeues one job. `named`: the operator named it by id (a cancel then
/// withdraws a finished job, as the OGC API's dismiss does); otherwise a filter matched it
/// and only a job still in one of the action's statuses is changed.
async fn act_on(
    store: &Store,
    action: Action,
    id: &JobId,
    named: bool,
) -> Result<Done, StoreError> {
    let Some(before) = store.jobs.get_job(id).await? else {
        return Ok(Done::Unknown);
    };
    let now = OffsetDateTime::now_utc();
    let applies = action.statuses().contains(&before.status);
    let after = match action {
        Action::Cancel => {
            if before.status == JobStatus::Dismissed {
                return Ok(Done::Skipped(format!("job {id} is already dismissed")));
            }
            if named {
                store.jobs.dismiss_job(id, now).await?
            } else if !applies {
                return Ok(Done::Skipped(left_alone(id, before.status)));
            } else {
                // Conditional in the store: a job that finishes after the read above keeps
                // its results instead of being withdrawn.
                match store.jobs.dismiss_active_job(id, now).await? {
                    Some(after) if after.status != JobStatus::Dismissed => {
                        return Ok(Done::Skipped(left_alone(id, after.status)));
                    }
                    after => after,
                }
            }
        }
        Action::Requeue => {
            if !applies {
                return Ok(Done::Skipped(requeue_refusal(id, before.status)));
            }
            store.jobs.requeue_job(id, now).await?
        }
    };
    let wanted = match action {
        Action::Cancel => JobStatus::Dismissed,
        Action::Requeue => JobStatus::Accepted,
    };
    Ok(match after {
        None => Done::Unknown,
        Some(after) if after.status == wanted => {
            Done::Changed(before.process_id, before.status, after.status)
        }
        Some(after) => Done::Skipped(match action {
            Action::Cancel => format!("job {id} is {}: not cancelled", after.status.as_str()),
            Action::Requeue => requeue_refusal(id, after.status),
        }),
    })
}

/// Why a filter run's cancel left a job alone: it is no longer accepted or running.
fn left_alone(id: &JobId, status: JobStatus) -> String {
    format!("job {id} is {} now: left alone", status.as_str())
}

fn requeue_refusal(id: &JobId, status: JobStatus) -> String {
    format!(
        "job {id} is {}: only failed or dismissed jobs can be requeued",
        status.as_str()
    )
}

/// What a cancel or requeue run did so far.
#[derive(Default)]
struct Tally {
    changed: usize,
    skipped: usize,
    unknown: usize,
    failed: bool,
}

impl Tally {
    /// Reports one job (a line on stdout when it changed, a warning when skipped, an error
    /// when unknown); `false` when the store failed and the run must stop.
    fn record(
        &mut self,
        store: &Store,
        action: Action,
        id: &JobId,
        done: Result<Done, StoreError>,
    ) -> bool {
        match done {
            Ok(Done::Changed(process, from, to)) => {
                self.changed += 1;
                println!("{id}  {process}  {} -> {}", from.as_str(), to.as_str());
                true
            }
            Ok(Done::Skipped(reason)) => {
                self.skipped += 1;
                print::warning(&reason);
                true
            }
            Ok(Done::Unknown) => {
                self.unknown += 1;
                print::error(&store.unknown_message(id));
                true
            }
            Err(err) => {
                self.failed = true;
                let doing = format!("{} job {id}", action.verb());
                print::error(&format!(
                    "{}; stopped there",
                    store.failure_message(&doing, err)
                ));
                false
            }
        }
    }

    /// Prints the summary line and returns the exit status.
    fn finish(&self, action: Action) -> u8 {
        let mut line = format!(
            "{} {} {}",
            action.done(),
            self.changed,
            plural(self.changed)
        );
        if self.skipped > 0 {
            line.push_str(&format!(", skipped {}", self.skipped));
        }
        if self.unknown > 0 {
            line.push_str(&format!(", {} unknown", self.unknown));
        }
        if self.failed || self.unknown > 0 {
            print::note(&line);
            status::ERROR
        } else {
            print::success(&line);
            status::OK
        }
    }
}

// ---- formatting -------------------------------------------------------------------------

/// `2024-05-01T12:00:00Z`: UTC, to the second.
fn text_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_else(|_| at.to_string())
}

/// RFC 3339, UTC, as precise as stored.
fn json_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// A message on one line (line breaks become spaces).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, `...` marking a cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let kept: String = text.chars().take(max.saturating_sub(3)).collect();
        format!("{kept}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_files_are_found_in_urls_and_paths() {
        assert_eq!(
            sqlite_file("sqlite://data/ades.db"),
            Some(PathBuf::from("data/ades.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/srv/ades.db?mode=rwc"),
            Some(PathBuf::from("/srv/ades.db"))
        );
        assert_eq!(sqlite_file("jobs.db"), Some(PathBuf::from("jobs.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u:p@h/db"), None);
    }

    #[test]
    fn status_lists_read_naturally() {
        assert_eq!(
            status_words(&[JobStatus::Accepted, JobStatus::Running]),
            "accepted or running"
        );
        assert_eq!(
            status_words(&JobStatus::ALL),
            "accepted, running, successful, failed or dismissed"
        );
    }

    #[test]
    fn long_values_are_shortened() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdefgh", 5), "ab...");
        assert_eq!(one_line("a\n b\tc"), "a b c");
    }
}
