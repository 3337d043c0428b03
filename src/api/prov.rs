//! `GET /jobs/{jobID}/prov`: the job's provenance record (`crate::provenance`) as
//! PROV-JSON (the default) or PROV-N (`?f=provn`, or an `Accept` ranking
//! `text/provenance-notation` above JSON). The job service checks ownership and says why a
//! job has none; this handler only picks the encoding.

use crate::auth::Caller;
use crate::domain::JobId;
use crate::error::{ApiError, ErrorCode};
use crate::http::{AppState, BaseUrl};
use crate::provenance::{ProvDocument, PROVN_MEDIA_TYPE};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

/// The link relation of a job's provenance record (W3C PROV-AQ's `has_provenance`).
pub const HAS_PROVENANCE: &str = "http://www.w3.org/ns/prov#has_provenance";

#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: the query is read by `requested_encoding`
pub struct ProvQuery {
    /// The encoding: `json` (PROV-JSON) or `provn` (PROV-N). Without it, an `Accept` that
    /// ranks `text/provenance-notation` above `application/json` gets PROV-N.
    #[param(inline)]
    f: Option<ProvEncoding>,
}

/// An encoding of the record: PROV-JSON or PROV-N.
// Documentation only, like `ProvQuery`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum ProvEncoding {
    Json,
    Provn,
}

/// The provenance of a job: what exactly produced its outputs.
#[utoipa::path(
    get,
    path = "/jobs/{jobID}/prov",
    tag = "Jobs",
    operation_id = "getJobProvenance",
    params(("jobID" = String, Path, description = "The job id"), ProvQuery),
    responses(
        (status = 200, description = "The job's W3C PROV record, made when its run ended: \
            the job (activity) with its times, status, peak memory and CPU time; the process \
            (plan) with its image reference, image id, repository digests and Seed manifest \
            digest; each input value (its href, or the sha256 of an inline value) and the \
            file the container saw (sha256, size); each output (sha256, size, media type, \
            URL); the agents (ades, its version and host; the job's owner).",
            content(
                (serde_json::Value = "application/json"),
                (String = "text/provenance-notation"),
            )),
        (status = 400, description = "An `f` other than `json` or `provn`.",
            body = crate::error::ExceptionView),
        (status = 404, description = "No such job, or it has no record: not ended yet, \
            dismissed before its run ended, or ended before records were kept (the message \
            says which).", body = crate::error::ExceptionView),
        (status = 500, description = "Server error", body = crate::error::ExceptionView),
    )
)]
pub async fn job_provenance(
    State(app): State<AppState>,
    caller: Caller,
    base: BaseUrl,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    Path(job_id): Path<String>,
) -> Result<Response, ApiError> {
    let encoding = requested_encoding(query.as_deref(), &headers)?;
    let id = JobId::parse(&job_id).map_err(|_| ApiError::no_such_job(&job_id))?;
    let (job, record) = app
        .jobs
        .provenance(&caller, &id)
        .await
        .map_err(|e| e.into_api_error("reading a job's provenance"))?;
    let prov_url = format!("{}/prov", base.job(job.id.as_str()));
    let output_url = |path: &str| base.output_file(job.id.as_str(), path);
    let document = ProvDocument::of(&record, &prov_url, &output_url);
    Ok(match encoding {
        Encoding::Json => (
            [(header::CONTENT_TYPE, "application/json")],
            document.to_json(),
        )
            .into_response(),
        Encoding::Provn => (
            [(
                header::CONTENT_TYPE,
                "text/provenance-notation; charset=utf-8",
            )],
            document.to_provn(),
        )
            .into_response(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Provn,
}

/// `f` when given (anything but `json` or `provn` is a 400 saying so), else the `Accept`
/// header's choice between PROV-N and JSON (JSON when it ranks them equal or names
/// neither).
fn requested_encoding(query: Option<&str>, headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let f = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "f")
        .map(|(_, value)| value.into_owned());
    if let Some(f) = f {
        return match f.as_str() {
            "json" => Ok(Encoding::Json),
            "provn" => Ok(Encoding::Provn),
            other => Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "f={other:?} is not an encoding of the provenance record: use f=json \
                     (PROV-JSON) or f=provn (PROV-N)"
                ),
            )),
        };
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let provn = quality_of(accept, &[PROVN_MEDIA_TYPE]);
    let json = quality_of(accept, &["application/json"]);
    Ok(if provn > 0.0 && provn > json {
        Encoding::Provn
    } else {
        Encoding::Json
    })
}

/// The quality an `Accept` header gives the first of `media_types` it names exactly
/// (0 when it names none).
fn quality_of(accept: &str, media_types: &[&str]) -> f32 {
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            if !media_types.contains(&media.as_str()) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_encoding_follows_f_then_accept() {
        let none = HeaderMap::new();
        assert_eq!(requested_encoding(None, &none).unwrap(), Encoding::Json);
        assert_eq!(
            requested_encoding(Some("f=provn"), &accept("application/json")).unwrap(),
            Encoding::Provn
        );
        assert_eq!(
            requested_encoding(None, &accept("text/provenance-notation")).unwrap(),
            Encoding::Provn
        );
        assert_eq!(
            requested_encoding(
                None,
                &accept("application/json, text/provenance-notation;q=0.5")
            )
            .unwrap(),
            Encoding::Json
        );
        assert_eq!(
            requested_encoding(None, &accept("*/*")).unwrap(),
            Encoding::Json
        );
        assert!(requested_encoding(Some("f=xml"), &none).is_err());
    }
}
