//! Live jobs: `Accept: text/event-stream` on `/jobs/{jobID}` and `/jobs/{jobID}/logs` answers
//! Server-Sent Events instead of the document.
//!
//! - **Status** (`/jobs/{jobID}`): an `event: status` whose data is the status document
//!   (the JSON `GET` gives) each time it changes, heard from the job service's change
//!   signal (every replica's changes on PostgreSQL) with a look every second as a fallback;
//!   then `event: end` once the job is final. Event ids count the documents sent.
//! - **Log** (`/jobs/{jobID}/logs`): an `event: log` per line of the container's output
//!   (and ades' `[ades]` notes) as the log file grows, each with the byte offset after it as
//!   its id; `event: end` once the job is final and its log read to the end. A client that
//!   reconnects with `Last-Event-ID: <offset>` (browsers do) resumes after that line.
//!
//! - **Job list** (`/jobs`, with the list's filters): an `event: status` with a listed
//!   job's status document each time it changes, new jobs that enter the list included;
//!   first the documents of the jobs listed when the stream opens (oldest first, so a
//!   client that puts each new row on top keeps the list's newest-first order). The
//!   stream follows the page the same query lists as JSON (filters, `limit`, `offset`, and
//!   the owner rule of the job service), plus the jobs it has sent that are still going
//!   after they left the page; it never ends by itself. Each event's id is the newest `updated`
//!   instant (RFC 3339) of the documents sent so far: a client that reconnects with
//!   `Last-Event-ID: <instant>` gets only the listed jobs updated at or after it, less a
//!   second's margin (a write may commit a moment after its stamp): a job updated in that
//!   second may come twice, which is harmless as each document is whole.
//!
//! Keep-alive comments every 15 s keep proxies from closing a quiet stream. Every stream
//! ends when the server stops serving (`HttpState::stopping`).

use super::views::StatusInfoView;
use crate::auth::Caller;
use crate::domain::{Job, JobId};
use crate::http::{AppState, BaseUrl};
use crate::store::JobFilter;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How often a log is looked at for new lines (a line reaches a client within this).
const LOG_POLL: Duration = Duration::from_millis(200);
/// The longest a status stream waits for a change signal before looking anyway.
const STATUS_POLL: Duration = Duration::from_secs(1);
/// How long the job list gathers change signals before it lists again: a busy server's
/// burst of changes costs one listing per stream, not one per change.
const LIST_GATHER: Duration = Duration::from_millis(200);
/// How far before its `Last-Event-ID` a resumed job list starts: a write stamped before
/// the last document sent may commit after it was listed (and replicas' clocks differ a
/// little), so the last second is sent again rather than missed.
const RESUME_MARGIN: Duration = Duration::from_secs(1);
/// The most of a log read in one look (a huge log streams in pieces).
const READ_CHUNK: usize = 256 * 1024;

/// Whether the request asks for an event stream.
pub fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|range| range.trim().starts_with("text/event-stream"))
        })
}

/// The job's status as events (the caller may see the job: checked by the handler).
pub fn status_stream(app: AppState, caller: Caller, base: BaseUrl, job: Job) -> Response {
    let stopping = app.stopping.clone();
    struct State {
        app: AppState,
        caller: Caller,
        base: BaseUrl,
        id: JobId,
        changes: tokio::sync::broadcast::Receiver<JobId>,
        last: Option<String>,
        current: Option<Job>,
        sent: u64,
        ended: bool,
    }
    let state = State {
        changes: app.jobs.subscribe_changes(),
        app,
        caller,
        base,
        id: job.id.clone(),
        last: None,
        current: Some(job),
        sent: 0,
        ended: false,
    };
    let events = stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        loop {
            let job = match state.current.take() {
                Some(job) => job,
                None => match state.app.jobs.get(&state.caller, &state.id).await {
                    Ok(job) => job,
                    // Gone (dismissed and removed) or unreadable: the stream ends.
                    Err(_) => {
                        state.ended = true;
                        return Some((end_event(), state));
                    }
                },
            };
            let view = StatusInfoView::new(&job, &state.base);
            let text = serde_json::to_string(&view).unwrap_or_default();
            if state.last.as_deref() != Some(text.as_str()) {
                state.last = Some(text.clone());
                state.sent += 1;
                let event = Event::default()
                    .event("status")
                    .id(state.sent.to_string())
                    .data(text);
                if job.status.is_final() {
                    // The final document goes out now; `end` follows on the next poll.
                    state.current = Some(job);
                }
                return Some((event, state));
            }
            if job.status.is_final() {
                state.ended = true;
                return Some((end_event(), state));
            }
            let look = tokio::time::Instant::now() + STATUS_POLL;
            wait_for_change(&mut state.changes, &state.id, look).await;
        }
    });
    sse(stopping, events)
}

/// Waits for a change of job `id` (or any lag of the channel) or [`STATUS_POLL`], but not
/// past `deadline`: a change another replica made is heard through the store's
/// notifications on PostgreSQL, and the look every second bounds the delay where there are
/// none (SQLite shared by processes). The status stream and the long poll of
/// `GET /jobs/{jobID}` (`super::polling`) both wait here.
pub(super) async fn wait_for_change(
    changes: &mut tokio::sync::broadcast::Receiver<JobId>,
    id: &JobId,
    deadline: tokio::time::Instant,
) {
    let deadline = deadline.min(tokio::time::Instant::now() + STATUS_POLL);
    loop {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Ok(changed)) if changed != *id => continue,
            _ => return,
        }
    }
}

/// The job list as events (see the module documentation): `first` is the page the handler
/// listed (its errors were the handler's to answer); `since` a reconnecting client's
/// `Last-Event-ID`.
pub fn list_stream(
    app: AppState,
    caller: Caller,
    base: BaseUrl,
    filter: JobFilter,
    first: Vec<Job>,
    since: Option<OffsetDateTime>,
) -> Response {
    let stopping = app.stopping.clone();
    /// What was last sent of a job: its document, and whether it was final.
    struct Sent {
        text: String,
        is_final: bool,
    }
    struct State {
        app: AppState,
        caller: Caller,
        base: BaseUrl,
        filter: JobFilter,
        changes: tokio::sync::broadcast::Receiver<JobId>,
        /// The page to compare, when one was listed and not yet compared.
        page: Option<Vec<Job>>,
        since: Option<OffsetDateTime>,
        sent: HashMap<JobId, Sent>,
        /// The newest `updated` sent: the events' id.
        newest: Option<OffsetDateTime>,
        queued: VecDeque<Event>,
    }
    impl State {
        /// Queues `job`'s document when it differs from what was last sent of it.
        fn offer(&mut self, job: &Job) {
            let text =
                serde_json::to_string(&StatusInfoView::new(job, &self.base)).unwrap_or_default();
            if self.sent.get(&job.id).is_some_and(|sent| sent.text == text) {
                return;
            }
            let is_final = job.status.is_final();
            let known = self.sent.insert(
                job.id.clone(),
                Sent {
                    text: text.clone(),
                    is_final,
                },
            );
            // A resumed stream skips what the client had: jobs not updated since.
            if known.is_none() && self.since.is_some_and(|since| job.updated < since) {
                return;
            }
            let newest = self.newest.map_or(job.updated, |n| n.max(job.updated));
            self.newest = Some(newest);
            let id = newest.format(&Rfc3339).unwrap_or_default();
            self.queued
                .push_back(Event::default().event("status").id(id).data(text));
        }
    }
    let state = State {
        changes: app.jobs.subscribe_changes(),
        app,
        caller,
        base,
        filter,
        page: Some(first),
        since,
        sent: HashMap::new(),
        newest: None,
        queued: VecDeque::new(),
    };
    let events = stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.queued.pop_front() {
                return Some((event, state));
            }
            let (page, changed, missed) = match state.page.take() {
                Some(page) => (page, HashSet::new(), false),
                None => {
                    let (changed, missed) = wait_for_changes(&mut state.changes).await;
                    match state.app.jobs.list(&state.caller, &state.filter).await {
                        Ok(page) => (page.jobs, changed, missed),
                        Err(err) => {
                            // A passing store error: the next change or look tries again.
                            tracing::warn!(error = %err, "the live job list could not list the jobs");
                            continue;
                        }
                    }
                }
            };
            let listed: HashSet<JobId> = page.iter().map(|job| job.id.clone()).collect();
            for job in page.iter().rev() {
                state.offer(job);
            }
            // Jobs sent before that left the page (a status filter they no longer match,
            // newer jobs on top) are still followed while they go on, so a client's row
            // of them does not stop short of its end.
            let followed: Vec<JobId> = state
                .sent
                .keys()
                .filter(|id| !listed.contains(*id) && (missed || changed.contains(*id)))
                .cloned()
                .collect();
            for id in followed {
                match state.app.jobs.get(&state.caller, &id).await {
                    Ok(job) => state.offer(&job),
                    Err(_) => {
                        state.sent.remove(&id);
                    }
                }
            }
            // Finished jobs off the page will not change again (short of a dismissal):
            // forgetting them keeps what a long-lived stream holds to about a page.
            state
                .sent
                .retain(|id, sent| listed.contains(id) || !sent.is_final);
            state.since = None;
        }
    });
    sse(stopping, events)
}

/// The jobs heard of as changed within [`STATUS_POLL`], gathered for [`LIST_GATHER`] after
/// the first (none when the time passed quietly), and whether some were missed (the
/// channel lagged: then any job may have changed).
async fn wait_for_changes(
    changes: &mut tokio::sync::broadcast::Receiver<JobId>,
) -> (HashSet<JobId>, bool) {
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};
    let mut changed = HashSet::new();
    let mut missed = false;
    match tokio::time::timeout(STATUS_POLL, changes.recv()).await {
        Ok(Ok(id)) => {
            changed.insert(id);
            // A burst (a job's end writes several times, many jobs move at once) is looked
            // at once.
            tokio::time::sleep(LIST_GATHER).await;
            loop {
                match changes.try_recv() {
                    Ok(id) => {
                        changed.insert(id);
                    }
                    Err(TryRecvError::Lagged(_)) => missed = true,
                    Err(_) => break,
                }
            }
        }
        Ok(Err(RecvError::Lagged(_))) => missed = true,
        // No signal will come again (the server is stopping): look at the poll's pace,
        // not in a busy loop.
        Ok(Err(RecvError::Closed)) => tokio::time::sleep(STATUS_POLL).await,
        Err(_) => {}
    }
    (changed, missed)
}

/// The instant a reconnecting client of the job list last had (`Last-Event-ID`), less
/// [`RESUME_MARGIN`].
pub fn resume_instant(headers: &HeaderMap) -> Option<OffsetDateTime> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| OffsetDateTime::parse(v.trim(), &Rfc3339).ok())
        .map(|at| at - RESUME_MARGIN)
}

/// The job's log as events, from byte `offset` (a `Last-Event-ID`, else the start).
pub fn log_stream(app: AppState, caller: Caller, job: Job, path: PathBuf, offset: u64) -> Response {
    let stopping = app.stopping.clone();
    struct State {
        app: AppState,
        caller: Caller,
        id: JobId,
        path: PathBuf,
        /// Bytes of the file consumed (lines sent, and the partial line held).
        read: u64,
        /// Offset after the last line sent.
        sent: u64,
        partial: Vec<u8>,
        queued: VecDeque<Event>,
        final_seen: bool,
        ended: bool,
    }
    let state = State {
        app,
        caller,
        id: job.id.clone(),
        path,
        read: offset,
        sent: offset,
        partial: Vec::new(),
        queued: VecDeque::new(),
        final_seen: job.status.is_final(),
        ended: false,
    };
    let events = stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.queued.pop_front() {
                return Some((event, state));
            }
            if state.ended {
                return None;
            }
            let fresh = read_from(&state.path, state.read).await;
            state.read += fresh.len() as u64;
            state.partial.extend_from_slice(&fresh);
            while let Some(at) = state.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = state.partial.drain(..=at).collect();
                state.sent += line.len() as u64;
                state
                    .queued
                    .push_back(log_event(&line[..line.len() - 1], state.sent));
            }
            if !state.queued.is_empty() {
                continue;
            }
            if !fresh.is_empty() {
                continue;
            }
            if state.final_seen {
                // Final before this read came up empty: the log is whole.
                if !state.partial.is_empty() {
                    let line = std::mem::take(&mut state.partial);
                    state.sent += line.len() as u64;
                    state.queued.push_back(log_event(&line, state.sent));
                }
                state.queued.push_back(end_event());
                state.ended = true;
                continue;
            }
            // The status is looked at only when the log is quiet (not once per piece of a
            // flowing log). A job found final is read once more, so lines written just
            // before its end still come before `end`.
            state.final_seen = match state.app.jobs.get(&state.caller, &state.id).await {
                Ok(job) => job.status.is_final(),
                Err(_) => true,
            };
            if !state.final_seen {
                tokio::time::sleep(LOG_POLL).await;
            }
        }
    });
    sse(stopping, events)
}

/// Up to [`READ_CHUNK`] bytes of the file from `offset` (none when it is not there yet).
async fn read_from(path: &PathBuf, offset: u64) -> Vec<u8> {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return Vec::new();
    };
    if file.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return Vec::new();
    }
    let mut buffer = Vec::new();
    let _ = (&mut file)
        .take(READ_CHUNK as u64)
        .read_to_end(&mut buffer)
        .await;
    buffer
}

fn log_event(line: &[u8], offset: u64) -> Event {
    let text = String::from_utf8_lossy(line);
    // SSE data cannot hold a bare CR: a progress bar's carriage returns become line ends.
    let text = text.trim_end_matches('\r').replace('\r', "\n");
    Event::default()
        .event("log")
        .id(offset.to_string())
        .data(text)
}

fn end_event() -> Event {
    Event::default().event("end").data("")
}

/// The answer of a stream: its events until they end or the server stops, with keep-alives.
fn sse(
    stopping: tokio_util::sync::CancellationToken,
    events: impl Stream<Item = Event> + Send + 'static,
) -> Response {
    use futures_util::StreamExt;
    let events = events
        .take_until(stopping.cancelled_owned())
        .map(Ok::<Event, Infallible>);
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))),
    )
        .into_response()
}

/// The offset a reconnecting client last had (`Last-Event-ID`), else 0.
pub fn resume_offset(headers: &HeaderMap) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Documents the event streams in the OpenAPI document: the 200 of the job status and of
/// the log may be `text/event-stream`.
pub fn describe_streams(document: &mut serde_json::Value) {
    for (path, what) in [
        (
            "/jobs",
            "With Accept: text/event-stream: a `status` event with a listed job's status \
             document each time one changes, new jobs entering the list included (first \
             the jobs listed now); the same filters and paging as the JSON list. It never \
             ends (keep-alive comments every 15 s). Id: the newest `updated` instant sent \
             (RFC 3339); Last-Event-ID resumes with the jobs updated at or after it, less a \
             second.",
        ),
        (
            "/jobs/{jobID}",
            "With Accept: text/event-stream: `status` events (the status document, each \
             time it changes), then `end`.",
        ),
        (
            "/jobs/{jobID}/logs",
            "With Accept: text/event-stream: a `log` event per line as the container writes \
             it (id: the byte offset after the line; Last-Event-ID resumes), then `end`.",
        ),
    ] {
        let pointer = format!(
            "/paths/{}/get/responses/200/content",
            path.replace('/', "~1")
        );
        if let Some(content) = document
            .pointer_mut(&pointer)
            .and_then(serde_json::Value::as_object_mut)
        {
            content.insert(
                "text/event-stream".to_string(),
                serde_json::json!({ "schema": { "type": "string", "description": what } }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn event_streams_are_asked_for_by_accept() {
        let mut headers = HeaderMap::new();
        assert!(!wants_events(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        assert!(wants_events(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream;q=0.5"),
        );
        assert!(wants_events(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_events(&headers));
    }

    #[test]
    fn a_reconnect_resumes_after_its_last_id() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_offset(&headers), 0);
        headers.insert("last-event-id", HeaderValue::from_static("42"));
        assert_eq!(resume_offset(&headers), 42);
        headers.insert("last-event-id", HeaderValue::from_static("x"));
        assert_eq!(resume_offset(&headers), 0);
    }

    #[test]
    fn a_job_list_resumes_a_second_before_its_last_id() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_instant(&headers), None);
        headers.insert(
            "last-event-id",
            HeaderValue::from_static("2026-05-01T12:00:00.250Z"),
        );
        assert_eq!(
            resume_instant(&headers),
            Some(time::macros::datetime!(2026-05-01 11:59:59.250 UTC))
        );
        headers.insert("last-event-id", HeaderValue::from_static("42"));
        assert_eq!(resume_instant(&headers), None);
    }
}
