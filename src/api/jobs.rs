//! `/jobs`, `/jobs/{jobID}` (status, dismiss), `/jobs/{jobID}/logs` and
//! `/jobs/{jobID}/callbacks`.

use super::polling::{self, Tagged};
use super::processes::{paging_links, parse_paging, query_pairs};
use super::results::find_job;
use super::views::{JobListView, StatusInfoView};
use crate::auth::Caller;
use crate::domain::{JobId, JobStatus, ProcessId};
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::store::JobFilter;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the query is parsed by `parse_job_filter`
pub struct JobListQuery {
    /// Only jobs of these processes (comma-separated ids).
    #[param(rename = "processID")]
    process_id: Option<String>,
    /// Only jobs in these statuses (comma-separated: accepted, running, successful, failed,
    /// dismissed).
    status: Option<String>,
    /// Only jobs of this type: `process` (every job here is one).
    #[param(rename = "type")]
    job_type: Option<String>,
    /// Only jobs created at this RFC 3339 instant or in this interval (`a/b`, `../b`,
    /// `a/..`).
    datetime: Option<String>,
    /// Only jobs that ran at least this many seconds (running: so far); jobs never started
    /// are left out.
    #[param(rename = "minDuration", minimum = 0)]
    min_duration: Option<f64>,
    /// Only jobs that ran at most this many seconds; jobs never started are left out.
    #[param(rename = "maxDuration", minimum = 0)]
    max_duration: Option<f64>,
    /// Jobs per page, 1 to 1000 (default 10).
    #[param(minimum = 1, maximum = 1000, default = 10)]
    limit: Option<u32>,
    /// Jobs to skip (the `next` and `prev` links carry it).
    #[param(minimum = 0, default = 0)]
    offset: Option<u32>,
    /// Only the jobs of this user (admins; everybody else sees only their own jobs).
    user: Option<String>,
}

fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_instant(parameter: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        ApiError::query(
            parameter,
            format!("{text:?} is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z"),
        )
    })
}

fn parse_duration(parameter: &str, text: &str) -> Result<f64, ApiError> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or_else(|| {
            ApiError::query(
                parameter,
                format!("{text:?} is not a number of seconds >= 0"),
            )
        })
}

/// The job-list filters from the query, or a 400 naming the first bad parameter.
pub fn parse_job_filter(pairs: &[(String, String)]) -> Result<JobFilter, ApiError> {
    let (limit, offset) = parse_paging(pairs)?;
    let mut filter = JobFilter {
        limit,
        offset,
        ..Default::default()
    };
    for (name, value) in pairs {
        match name.as_str() {
            "processID" | "processId" => {
                for id in split_list(value) {
                    let id = ProcessId::parse(id).map_err(|e| ApiError::query("processID", e))?;
                    filter.process_ids.push(id);
                }
            }
            "status" => {
                for status in split_list(value) {
                    let status = JobStatus::parse(status).ok_or_else(|| {
                        ApiError::query(
                            "status",
                            format!(
                                "{status:?} is not a job status; use accepted, running, \
                                 successful, failed or dismissed"
                            ),
                        )
                    })?;
                    filter.statuses.push(status);
                }
            }
            "type" => {
                for kind in split_list(value) {
                    if kind != "process" {
                        return Err(ApiError::query(
                            "type",
                            format!("{kind:?} is not a job type here; the only type is process"),
                        ));
                    }
                }
            }
            "datetime" => {
                let value = value.trim();
                let open = |s: &str| s.is_empty() || s == "..";
                match value.split_once('/') {
                    Some((from, to)) => {
                        if !open(from) {
                            filter.created_from = Some(parse_instant("datetime", from)?);
                        }
                        if !open(to) {
                            filter.created_to = Some(parse_instant("datetime", to)?);
                        }
                        if let (Some(a), Some(b)) = (filter.created_from, filter.created_to) {
                            if a > b {
                                return Err(ApiError::query(
                                    "datetime",
                                    "the interval ends before it starts; give start/end",
                                ));
                            }
                        }
                    }
                    None => {
                        let at = parse_instant("datetime", value)?;
                        filter.created_from = Some(at);
                        filter.created_to = Some(at);
                    }
                }
            }
            "user" if !value.trim().is_empty() => filter.owner = Some(value.trim().to_string()),
            "minDuration" => filter.min_duration = Some(parse_duration("minDuration", value)?),
            "maxDuration" => filter.max_duration = Some(parse_duration("maxDuration", value)?),
            _ => {}
        }
    }
    if let (Some(min), Some(max)) = (filter.min_duration, filter.max_duration) {
        if min > max {
            return Err(ApiError::query(
                "minDuration",
                format!("{min} is more than maxDuration {max}"),
            ));
        }
    }
    Ok(filter)
}

/// The jobs, newest first.
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "Jobs",
    operation_id = "getJobs",
    params(
        JobListQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the page \
            the client holds: 304 while it is unchanged."),
    ),
    responses(
        (status = 200, description = "One page of job statuses, newest first, with `next` / \
            `prev` links; `ETag` tags it.", body = JobListView),
        (status = 304, description = "The page named by `If-None-Match` is unchanged."),
        (status = 400, description = "A query parameter that cannot be used; `detail` names \
            it.", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn list_jobs(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query)?;
    let filter = parse_job_filter(&pairs)?;
    let page = app
        .jobs
        .list(&caller, &filter)
        .await
        .map_err(|e| e.into_api_error("listing jobs"))?;
    if super::events::wants_events(&headers) {
        let since = super::events::resume_instant(&headers);
        return Ok(super::events::list_stream(
            app, caller, base, filter, page.jobs, since,
        ));
    }
    let list = JobListView {
        jobs: page
            .jobs
            .iter()
            .map(|j| StatusInfoView::new(j, &base))
            .collect(),
        links: paging_links(
            &base,
            "/jobs",
            &pairs,
            (filter.limit, filter.offset),
            page.has_more,
        ),
    };
    Ok(polling::answer(&headers, Tagged::of(&list)))
}

/// The status of a job.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}",
    tag = "Jobs",
    operation_id = "getStatus",
    params(
        ("jobID" = String, Path, description = "The job id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of the status \
            document the client holds: 304 while it is still the job's."),
        ("Prefer" = Option<String>, Header, description = "`wait=N`: a long poll, answered \
            as soon as the document differs from the one the client holds (`If-None-Match`, \
            else the one of the moment the request arrived) or the job is final, at the \
            latest after N seconds (at most 60); the answer says `Preference-Applied`."),
    ),
    responses(
        (status = 200, description = "The job's status, with links to its results (when \
            successful) or its exception (when failed); `ETag` tags it.", body = StatusInfoView),
        (status = 304, description = "The document named by `If-None-Match` is still the \
            job's (after the long poll, if one was asked)."),
        (status = 404, description = "No such job (`no-such-job`).",
            body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn job_status(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    // Subscribed before the first read, so no change after it goes unheard.
    let mut changes = app.jobs.subscribe_changes();
    let mut job = find_job(&app, &caller, &job_id).await?;
    if super::events::wants_events(&headers) {
        return Ok(super::events::status_stream(app, caller, base, job));
    }
    let status = |job: &crate::domain::Job, steps: &[crate::domain::Job]| {
        Tagged::of(&StatusInfoView::new(job, &base).with_steps(steps, &base))
    };
    let steps = app
        .jobs
        .steps(&job)
        .await
        .map_err(|e| e.into_api_error("reading a job"))?;
    let mut document = status(&job, &steps);
    let Some(wait) = polling::long_poll(&headers) else {
        return Ok(polling::answer(&headers, document));
    };
    // A long poll: held while the client's document (or, without If-None-Match, the one
    // of now) is still the job's, the job can still change, and the wait lasts.
    let held = polling::if_none_match(&headers).unwrap_or_else(|| vec![document.etag.clone()]);
    let deadline = tokio::time::Instant::now() + wait;
    while polling::holds(&held, &document.etag)
        && !job.status.is_final()
        && tokio::time::Instant::now() < deadline
    {
        super::events::wait_for_change(&mut changes, &job.id, deadline).await;
        job = find_job(&app, &caller, &job_id).await?;
        let steps = app
            .jobs
            .steps(&job)
            .await
            .map_err(|e| e.into_api_error("reading a job"))?;
        document = status(&job, &steps);
    }
    let mut response = polling::answer(&headers, document);
    polling::applied(&mut response, wait);
    Ok(response)
}

/// Dismisses a job: one waiting never runs, a running one is stopped.
#[utoipa::path(
    delete,
    path = "/jobs/{jobID}",
    tag = "Jobs",
    operation_id = "dismiss",
    params(("jobID" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job, now `dismissed`: a waiting job never runs, a \
            running one is stopped, a finished one is withdrawn and its results are no longer \
            served.",
            body = StatusInfoView),
        (status = 404, description = "No such job (`no-such-job`).",
            body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn dismiss_job(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    Path(job_id): Path<String>,
) -> Result<Json<StatusInfoView>, ApiError> {
    let id = JobId::parse(&job_id).map_err(|_| ApiError::no_such_job(&job_id))?;
    let job = app
        .jobs
        .dismiss(&caller, &id)
        .await
        .map_err(|e| e.into_api_error("dismissing a job"))?;
    Ok(Json(StatusInfoView::new(&job, &base)))
}

/// The callbacks of a job (its execute request's `subscriber`) and every try to deliver
/// them.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/callbacks",
    tag = "Jobs",
    operation_id = "getJobCallbacks",
    params(("jobID" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Each callback due (oldest first) with its tries.",
            body = super::views::CallbackListView),
        (status = 404, description = "No such job.", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn job_callbacks(
    State(app): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<super::views::CallbackListView>, ApiError> {
    let job = find_job(&app, &caller, &job_id).await?;
    let records = app
        .jobs
        .callbacks(&caller, &job.id)
        .await
        .map_err(|e| e.into_api_error("reading a job's callbacks"))?;
    Ok(Json(super::views::CallbackListView::new(&job.id, &records)))
}

/// The container's output (stdout and stderr) of a job.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/logs",
    tag = "Jobs",
    operation_id = "getJobLog",
    params(("jobID" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The log so far.", content((String = "text/plain"))),
        (status = 404, description = "No such job, or no log yet (the container has not \
            started).", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn job_log(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let job = find_job(&app, &caller, &job_id).await?;
    let path = app.workspace.log_file(&job.id);
    if super::events::wants_events(&headers) {
        let offset = super::events::resume_offset(&headers);
        return Ok(super::events::log_stream(app, caller, job, path, offset));
    }
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A started job has a log somewhere: on another replica if not here.
            if job.started.is_some() {
                if let Some(unreachable) =
                    super::results::unreachable_job_files(&app.workspace, &job.id)
                {
                    return Err(unreachable);
                }
            }
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!(
                    "Job {} has no log yet: it is written once its container starts (the job \
                     is {}).",
                    job.id,
                    job.status.as_str()
                ),
            ));
        }
        Err(e) => return Err(ApiError::internal("opening a job log", &e)),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::internal("reading a job log's size", &e))?
        .len();
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        // At most the length measured, so `Content-Length` holds while the log grows.
        Body::from_stream(ReaderStream::new(file.take(len))),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_are_parsed() {
        let filter = parse_job_filter(&pairs(&[
            ("processID", "echo,io-demo"),
            ("status", "running,successful"),
            ("type", "process"),
            ("datetime", "2024-01-01T00:00:00Z/.."),
            ("minDuration", "1.5"),
            ("limit", "5"),
            ("offset", "10"),
        ]))
        .unwrap();
        assert_eq!(filter.process_ids.len(), 2);
        assert_eq!(
            filter.statuses,
            vec![JobStatus::Running, JobStatus::Successful]
        );
        assert!(filter.created_from.is_some() && filter.created_to.is_none());
        assert_eq!(filter.min_duration, Some(1.5));
        assert_eq!((filter.limit, filter.offset), (5, 10));
        let filter =
            parse_job_filter(&pairs(&[("datetime", "../2024-01-01T00:00:00+02:00")])).unwrap();
        assert!(filter.created_from.is_none() && filter.created_to.is_some());
        let filter = parse_job_filter(&pairs(&[("datetime", "2024-01-01T00:00:00Z")])).unwrap();
        assert_eq!(filter.created_from, filter.created_to);
    }

    #[test]
    fn bad_filters_name_their_parameter() {
        for (name, value) in [
            ("status", "done"),
            ("type", "wps"),
            ("datetime", "yesterday"),
            ("datetime", "2024-02-01T00:00:00Z/2024-01-01T00:00:00Z"),
            ("minDuration", "-1"),
            ("maxDuration", "soon"),
            ("limit", "0"),
            ("limit", "1001"),
            ("offset", "-1"),
            ("processID", "a/b"),
        ] {
            let error = parse_job_filter(&pairs(&[(name, value)])).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidQueryParameterValue);
            let expected = if name == "datetime" { "datetime" } else { name };
            assert!(
                error.detail.contains(expected),
                "{name}={value}: {}",
                error.detail
            );
        }
    }
}
