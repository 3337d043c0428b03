//! `/processes` and `/processes/{processID}`.

use super::views::{media, LinkView, ProcessListView, ProcessSummaryView, ProcessView};
use crate::domain::ProcessId;
use crate::error::ApiError;
use crate::http::{AppState, BaseUrl};
use axum::extract::{Path, Query, State};
use axum::Json;

/// Largest `limit` of the process and job lists.
pub const MAX_LIMIT: u32 = 1000;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: u32 = 10;

#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the query is parsed by `parse_paging`
pub struct PagingQuery {
    /// Items per page, 1 to 1000 (default 10).
    #[param(minimum = 1, maximum = 1000, default = 10)]
    limit: Option<u32>,
    /// Items to skip (the `next` and `prev` links carry it).
    #[param(minimum = 0, default = 0)]
    offset: Option<u32>,
}

/// `limit` and `offset` from the query pairs, or a 400 naming the parameter.
pub fn parse_paging(pairs: &[(String, String)]) -> Result<(u32, u32), ApiError> {
    let mut limit = DEFAULT_LIMIT;
    let mut offset = 0;
    for (name, value) in pairs {
        match name.as_str() {
            "limit" => {
                limit = value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        ApiError::query(
                            "limit",
                            format!("{value:?} is not an integer from 1 to {MAX_LIMIT}"),
                        )
                    })?;
            }
            "offset" => {
                offset = value.trim().parse::<u32>().map_err(|_| {
                    ApiError::query("offset", format!("{value:?} is not an integer >= 0"))
                })?;
            }
            _ => {}
        }
    }
    Ok((limit, offset))
}

/// The query pairs, or a 400 when the query string cannot be decoded.
pub fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|e| ApiError::query("(query string)", e.body_text()))
}

/// `path?query` with `offset` and `limit` replaced and the other parameters kept.
pub fn page_link(
    base: &BaseUrl,
    path: &str,
    pairs: &[(String, String)],
    limit: u32,
    offset: u32,
) -> String {
    let mut url = reqwest::Url::parse(&base.join(path))
        .unwrap_or_else(|_| reqwest::Url::parse("http://localhost/").expect("a valid URL"));
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (name, value) in pairs {
            if name != "limit" && name != "offset" {
                query.append_pair(name, value);
            }
        }
        query.append_pair("limit", &limit.to_string());
        if offset > 0 {
            query.append_pair("offset", &offset.to_string());
        }
    }
    url.to_string()
}

/// `self`, and `next` / `prev` around one page.
pub fn paging_links(
    base: &BaseUrl,
    path: &str,
    pairs: &[(String, String)],
    (limit, offset): (u32, u32),
    has_more: bool,
) -> Vec<LinkView> {
    let mut links = vec![
        LinkView::new(page_link(base, path, pairs, limit, offset), "self")
            .typed(media::JSON)
            .titled("This page"),
    ];
    if has_more {
        links.push(
            LinkView::new(
                page_link(base, path, pairs, limit, offset.saturating_add(limit)),
                "next",
            )
            .typed(media::JSON)
            .titled("The next page"),
        );
    }
    if offset > 0 {
        links.push(
            LinkView::new(
                page_link(base, path, pairs, limit, offset.saturating_sub(limit)),
                "prev",
            )
            .typed(media::JSON)
            .titled("The previous page"),
        );
    }
    links
}

/// The processes offered, sorted by id.
#[utoipa::path(
    get,
    path = "/processes",
    tag = "Processes",
    operation_id = "getProcesses",
    params(PagingQuery),
    responses(
        (status = 200, description = "One page of process summaries, with `next` / `prev` \
            links.", body = ProcessListView),
        (status = 400, description = "A `limit` or `offset` that is not an integer in range.",
            body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn list_processes(
    State(app): State<AppState>,
    base: BaseUrl,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProcessListView>, ApiError> {
    let pairs = query_pairs(query)?;
    let (limit, offset) = parse_paging(&pairs)?;
    // A listing shows images built a moment ago (one scan at most every couple of seconds).
    app.catalog
        .rescan_if_older_than(crate::catalog::ON_DEMAND_SCAN_AGE)
        .await;
    let all = app.catalog.list();
    let page: Vec<ProcessSummaryView> = all
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|p| ProcessSummaryView::new(p, &base))
        .collect();
    let has_more = (offset as usize).saturating_add(limit as usize) < all.len();
    Ok(Json(ProcessListView {
        processes: page,
        links: paging_links(&base, "/processes", &pairs, (limit, offset), has_more),
    }))
}

/// The description of one process.
#[utoipa::path(
    get,
    path = "/processes/{processID}",
    tag = "Processes",
    operation_id = "getProcessDescription",
    params(("processID" = String, Path, description = "The process id")),
    responses(
        (status = 200, description = "The process description: inputs and outputs in the \
            order the Seed manifest declares them.", body = ProcessView),
        (status = 404, description = "No such process (`no-such-process`).",
            body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn describe_process(
    State(app): State<AppState>,
    base: BaseUrl,
    Path(process_id): Path<String>,
) -> Result<Json<ProcessView>, ApiError> {
    let process = match ProcessId::parse(&process_id) {
        Ok(id) => app.catalog.find(&id).await,
        Err(_) => None,
    }
    .ok_or_else(|| ApiError::no_such_process(&process_id))?;
    Ok(Json(ProcessView::new(&process, &base)))
}
