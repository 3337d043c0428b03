//! The one execution path every façade calls (OGC API, WPS 2.0, WPS 1.0.0): find the
//! process while the engine can run it, type literal values, check the request, submit
//! it, wait for a synchronous job within the server's bound; then, for a final job, which
//! outputs to return and, for a job without results, one value saying why
//! ([`NoResults`]). The façades only read their wire format into an [`ExecuteRequest`] and
//! render what comes back.
//!
//! # Literal values
//!
//! A literal is text (WPS `LiteralData`, KVP values, and in the OGC API a JSON string given
//! to an `integer`, `number` or `boolean` input). [`typed_literal`] reads it by the input's
//! declared type, the same way for every façade, following the XML Schema types WPS
//! describes these inputs with (`xs:integer`, `xs:double`, `xs:boolean`):
//! - leading and trailing XML whitespace (space, tab, CR, LF) is dropped, as the
//!   `whiteSpace="collapse"` facet of these types says; a `string` keeps its text as sent
//!   (`xs:string` preserves whitespace);
//! - `boolean`: `true`, `false`, `1`, `0` (the `xs:boolean` lexical space), `true` and
//!   `false` in any letter case (Python clients write `True`);
//! - `integer`: an optional sign and digits (`xs:integer`): `-0` is 0, `+7` is 7; `1.0` is
//!   not an integer and is refused, as `xs:integer` refuses it;
//! - `number`: an integer text stays an integer (`1` is the JSON number 1, not 1.0; `-0`
//!   is 0), any other `xs:double` text is a double (`1.0`, `2.5e3`); `NaN` and `INF` have no
//!   JSON form and are refused;
//! - `array`, `object`: the text is parsed as JSON.
//!
//! Text that does not read as its type is kept as text, so [`check`](Execution::check)
//! refuses it with what was expected (OGC API `InvalidParameterValue`, WPS 2.0
//! `WrongInputData`, WPS 1.0.0 `InvalidParameterValue`).

use super::request::{ProblemKind, RequestProblem, MAX_PROBLEMS};
use super::{JobService, JobsError};
use crate::auth::Caller;
use crate::catalog::{Catalog, EngineState};
use crate::domain::{
    ExecuteRequest, Job, JobStatus, OutputKind, OutputValue, Process, ProcessId, TransmissionMode,
};
use crate::error::{ApiError, ErrorCode, ProblemView};
use axum::http::{header, HeaderValue};
use seed::manifest::JsonType;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// `Retry-After` (seconds) when the container engine cannot be reached.
const ENGINE_RETRY_AFTER: &str = "30";

/// Literal text as a JSON value of `kind` (the rule is in the module documentation);
/// text that is not one stays a string.
pub fn typed_literal(kind: JsonType, text: &str) -> Value {
    let collapsed = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    let typed = match kind {
        JsonType::String => None,
        JsonType::Integer => integer(collapsed),
        JsonType::Number => integer(collapsed).or_else(|| double(collapsed)),
        JsonType::Boolean => match collapsed {
            "1" => Some(Value::Bool(true)),
            "0" => Some(Value::Bool(false)),
            t if t.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
            t if t.eq_ignore_ascii_case("false") => Some(Value::Bool(false)),
            _ => None,
        },
        JsonType::Array | JsonType::Object => serde_json::from_str(collapsed).ok(),
    };
    typed.unwrap_or_else(|| Value::String(text.to_string()))
}

/// `xs:integer` text (sign and digits only) as a JSON integer.
fn integer(text: &str) -> Option<Value> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>()
        .map(Value::from)
        .or_else(|_| text.parse::<u64>().map(Value::from))
        .ok()
}

/// `xs:double` text as a JSON number (finite only: JSON has no NaN or infinity).
fn double(text: &str) -> Option<Value> {
    // Rust also reads `inf`, `infinity` and `nan`; none is finite, so all are refused.
    let parsed = text.parse::<f64>().ok()?;
    serde_json::Number::from_f64(parsed).map(Value::Number)
}

/// How to run a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer at once with the accepted job.
    Async,
    /// Wait until the job ends, at most `at_most` and never past the server's limit.
    Sync { at_most: Option<Duration> },
}

/// Why a request was not run.
#[derive(Debug)]
pub enum ExecuteError {
    /// The container engine cannot be reached: nothing can run now (the text says why).
    EngineUnavailable(String),
    /// No process has this id.
    NoSuchProcess(String),
    /// The request cannot be run as sent: every value to fix.
    Problems(Vec<RequestProblem>),
    /// The job service refused or failed (full queue, user limit, store, ...).
    Jobs(JobsError),
}

impl From<JobsError> for ExecuteError {
    fn from(error: JobsError) -> Self {
        ExecuteError::Jobs(error)
    }
}

impl ExecuteError {
    /// This error as the error table answers it; `context` names what failed in the log.
    /// An unknown process is the OGC API's `no-such-process`; the WPS façades, which name
    /// the parameter at fault, render that one themselves.
    pub fn into_api_error(self, context: &str) -> ApiError {
        match self {
            ExecuteError::EngineUnavailable(why) => ApiError::new(
                ErrorCode::EngineUnavailable,
                format!(
                    "No job can run now: the container engine cannot be reached ({why}). Try \
                     again later."
                ),
            )
            .with_header(
                header::RETRY_AFTER,
                HeaderValue::from_static(ENGINE_RETRY_AFTER),
            ),
            ExecuteError::NoSuchProcess(id) => ApiError::no_such_process(&id),
            ExecuteError::Problems(problems) => problems_error(&problems),
            ExecuteError::Jobs(error) => error.into_api_error(context),
        }
    }
}

/// One 400 listing every problem: `MissingParameterValue` when only required inputs are
/// missing, `InvalidParameterValue` otherwise.
fn problems_error(problems: &[RequestProblem]) -> ApiError {
    let code = if only_missing(problems) {
        ErrorCode::MissingParameterValue
    } else {
        ErrorCode::InvalidParameterValue
    };
    let problems = &problems[..problems.len().min(MAX_PROBLEMS)];
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let detail = if listed.len() == 1 {
        format!("Fix this and send the request again: {}", listed[0])
    } else {
        let count = if listed.len() == MAX_PROBLEMS {
            format!("first {MAX_PROBLEMS}")
        } else {
            listed.len().to_string()
        };
        format!(
            "Fix these {count} problems and send the request again: {}",
            listed.join("; ")
        )
    };
    let problems = problems
        .iter()
        .map(|p| ProblemView {
            location: p.location.clone(),
            message: p.message.clone(),
        })
        .collect();
    ApiError::new(code, detail).with_problems(problems)
}

/// Whether every problem is a missing required input (then the request is short of a
/// value, `MissingParameterValue`, rather than wrong).
pub fn only_missing(problems: &[RequestProblem]) -> bool {
    problems.iter().all(|p| p.kind == ProblemKind::MissingInput)
}

/// The execution service: borrowed from the server's state for one request.
#[derive(Clone, Copy)]
pub struct Execution<'a> {
    catalog: &'a Catalog,
    jobs: &'a JobService,
    /// The longest a synchronous job is waited for.
    sync_wait_limit: Duration,
}

impl<'a> Execution<'a> {
    pub fn new(catalog: &'a Catalog, jobs: &'a JobService, sync_wait_limit: Duration) -> Self {
        Execution {
            catalog,
            jobs,
            sync_wait_limit,
        }
    }

    /// The process to run: refused first when the engine cannot be reached (no process
    /// could run, and the catalogue may be stale), then when no process has this id.
    pub async fn process(&self, id: &str) -> Result<Arc<Process>, ExecuteError> {
        if let EngineState::Unreachable(why) = self.catalog.engine_state() {
            return Err(ExecuteError::EngineUnavailable(why));
        }
        let found = match ProcessId::parse(id) {
            Ok(id) => self.catalog.find(&id).await,
            Err(_) => None,
        };
        found.ok_or_else(|| ExecuteError::NoSuchProcess(id.to_string()))
    }

    /// Checks `request` against `process` and the server's reference policy; `read`
    /// holds what the façade found wrong while reading it (reported together).
    pub fn check(
        &self,
        process: &Process,
        request: &ExecuteRequest,
        read: Vec<RequestProblem>,
    ) -> Result<(), ExecuteError> {
        let mut problems = read;
        if let Err(more) = self.jobs.check_request(process, request) {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ExecuteError::Problems(problems))
        }
    }

    /// Submits a checked request and, in [`Mode::Sync`], waits for the job to end (at
    /// most the asked time and the server's limit). Returns the job as it is then: a
    /// synchronous job still running at the bound is returned unfinished.
    pub async fn start(
        &self,
        caller: &Caller,
        process: &Process,
        request: ExecuteRequest,
        priority: Option<i32>,
        mode: Mode,
    ) -> Result<Job, ExecuteError> {
        let problems = self.jobs.check_workspace_references(&request).await;
        if !problems.is_empty() {
            return Err(ExecuteError::Problems(problems));
        }
        let job = self
            .jobs
            .submit_with_priority(caller, process, request, priority)
            .await?;
        let Mode::Sync { at_most } = mode else {
            return Ok(job);
        };
        let wait = at_most.map_or(self.sync_wait_limit, |w| w.min(self.sync_wait_limit));
        let job = self.jobs.wait_until_final(caller, &job.id, wait).await?;
        if !job.status.is_final() {
            tracing::info!(job_id = %job.id, "synchronous job still running at the wait limit");
        }
        Ok(job)
    }
}

/// One output to return.
#[derive(Debug, Clone, Copy)]
pub struct SelectedOutput<'a> {
    pub id: &'a str,
    pub mode: TransmissionMode,
    pub values: &'a [OutputValue],
    /// The output may have several values (declared so, or it has): documents write it
    /// as an array.
    pub multiple: bool,
}

/// The outputs of a job to return: the ones its request named (every produced one, by
/// value, when it named none), leaving out those not produced (an optional output), in
/// the process's order when the process is known.
pub fn select_outputs<'a>(job: &'a Job, process: Option<&Process>) -> Vec<SelectedOutput<'a>> {
    let Some(results) = job.results.as_ref() else {
        return Vec::new();
    };
    let mut selected: Vec<SelectedOutput<'a>> = if job.request.outputs.is_empty() {
        results
            .iter()
            .map(|(id, values)| (id, TransmissionMode::Value, values))
            .map(|(id, mode, values)| selected(id, mode, values, process))
            .collect()
    } else {
        job.request
            .outputs
            .iter()
            .filter_map(|(id, wanted)| {
                let (id, values) = results.get_key_value(id)?;
                Some(selected(id, wanted.transmission_mode, values, process))
            })
            .collect()
    };
    if let Some(process) = process {
        selected.sort_by_key(|s| process.output_position(s.id));
    }
    selected
}

fn selected<'a>(
    id: &'a str,
    mode: TransmissionMode,
    values: &'a [OutputValue],
    process: Option<&Process>,
) -> SelectedOutput<'a> {
    let declared_multiple = process
        .and_then(|p| p.output(id))
        .is_some_and(|o| matches!(o.kind, OutputKind::File { multiple: true, .. }));
    SelectedOutput {
        id,
        mode,
        values,
        multiple: declared_multiple || values.len() > 1,
    }
}

/// Why a job has no results to give.
#[derive(Debug, Clone, PartialEq)]
pub enum NoResults<'a> {
    /// It is still `accepted` or `running`.
    NotReady(JobStatus),
    /// It was dismissed: it never will.
    Dismissed,
    /// It failed.
    Failed(JobFailed<'a>),
}

/// A failed job as one error value: its code in the error table (`JobFailedData` for a
/// Seed `data` error, its input's fault; `JobFailed` otherwise) and what the job recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailed<'a> {
    pub code: ErrorCode,
    /// The Seed error, when the job recorded one.
    pub seed: Option<&'a seed::errors::JobFailure>,
    /// The job's last status message.
    pub message: Option<&'a str>,
}

impl JobFailed<'_> {
    /// The OGC API exception: the Seed error's own type (`urn:ades:seed:error:<name>`),
    /// title and description, else the job's message.
    pub fn api_error(&self) -> ApiError {
        match self.seed {
            Some(failure) => ApiError::new(self.code, failure.description.clone())
                .with_type(format!("urn:ades:seed:error:{}", failure.name))
                .with_title(failure.title.clone()),
            None => ApiError::new(
                self.code,
                self.message.unwrap_or("The job failed.").to_string(),
            ),
        }
    }
}

/// `Ok` when the job succeeded (its results can be given), else why not.
pub fn results_of(job: &Job) -> Result<(), NoResults<'_>> {
    match job.status {
        JobStatus::Successful => Ok(()),
        JobStatus::Accepted | JobStatus::Running => Err(NoResults::NotReady(job.status)),
        JobStatus::Dismissed => Err(NoResults::Dismissed),
        JobStatus::Failed => Err(NoResults::Failed(failure_of(job))),
    }
}

/// The failure of a failed job.
pub fn failure_of(job: &Job) -> JobFailed<'_> {
    let data = job
        .failure
        .as_ref()
        .is_some_and(|f| f.category == seed::errors::FailureCategory::Data);
    JobFailed {
        code: if data {
            ErrorCode::JobFailedData
        } else {
            ErrorCode::JobFailed
        },
        seed: job.failure.as_ref(),
        message: job.message.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each text is not a `kind`: it stays text, for the checks to refuse.
    fn assert_kept_as_text(kind: JsonType, texts: &[&str]) {
        for text in texts {
            assert_eq!(typed_literal(kind, text), json!(text), "{kind:?} {text:?}");
        }
    }

    /// Moved with `typed_literal` from the WPS 1.0.0 façade.
    #[test]
    fn literals_take_the_json_type_of_the_input() {
        assert_eq!(typed_literal(JsonType::Integer, " 42 "), Value::from(42));
        assert_eq!(typed_literal(JsonType::Integer, "4.5"), Value::from("4.5"));
        assert_eq!(typed_literal(JsonType::Number, "4.5"), Value::from(4.5));
        assert_eq!(typed_literal(JsonType::Boolean, "True"), Value::Bool(true));
        assert_eq!(typed_literal(JsonType::String, " x "), Value::from(" x "));
        assert_eq!(
            typed_literal(JsonType::Object, "{\"a\": 1}"),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn booleans_are_the_xsd_lexical_space_in_any_case() {
        for (text, value) in [
            ("true", true),
            ("TRUE", true),
            ("True", true),
            ("1", true),
            (" false\n", false),
            ("0", false),
        ] {
            assert_eq!(
                typed_literal(JsonType::Boolean, text),
                json!(value),
                "{text:?}"
            );
        }
        assert_kept_as_text(JsonType::Boolean, &["yes", "-0", "1.0", "", "t"]);
    }

    #[test]
    fn integers_are_sign_and_digits() {
        assert_eq!(typed_literal(JsonType::Integer, " 7 "), json!(7));
        assert_eq!(typed_literal(JsonType::Integer, "-0"), json!(0));
        assert_eq!(typed_literal(JsonType::Integer, "+7"), json!(7));
        assert_eq!(
            typed_literal(JsonType::Integer, "18446744073709551615"),
            json!(u64::MAX)
        );
        assert_kept_as_text(
            JsonType::Integer,
            &["1.0", "1e3", "TRUE", "", "+", "0x10", "1 000"],
        );
    }

    #[test]
    fn numbers_keep_integers_and_refuse_what_json_cannot_hold() {
        assert_eq!(typed_literal(JsonType::Number, "1"), json!(1));
        assert!(typed_literal(JsonType::Number, "1").is_i64());
        assert_eq!(typed_literal(JsonType::Number, "-0"), json!(0));
        assert_eq!(typed_literal(JsonType::Number, "1.0"), json!(1.0));
        assert!(typed_literal(JsonType::Number, "1.0").is_f64());
        assert_eq!(typed_literal(JsonType::Number, "\t2.5e3 "), json!(2500.0));
        assert_kept_as_text(
            JsonType::Number,
            &["NaN", "INF", "inf", "-infinity", "TRUE", "1e400"],
        );
    }

    #[test]
    fn strings_are_kept_as_sent_and_json_is_parsed() {
        assert_eq!(typed_literal(JsonType::String, " 7 "), json!(" 7 "));
        assert_eq!(
            typed_literal(JsonType::Object, " {\"a\": 1} "),
            json!({"a": 1})
        );
        assert_eq!(typed_literal(JsonType::Array, "[1, 2]"), json!([1, 2]));
        assert_eq!(typed_literal(JsonType::Array, "[1,"), json!("[1,"));
        // Non-breaking space is not XML whitespace: not collapsed.
        assert_eq!(
            typed_literal(JsonType::Integer, "\u{a0}7"),
            json!("\u{a0}7")
        );
    }

    #[test]
    fn only_missing_inputs_make_a_missing_parameter() {
        let missing = RequestProblem::new(ProblemKind::MissingInput, "/inputs/A", "add A");
        let wrong = RequestProblem::new(ProblemKind::WrongValue, "/inputs/B", "fix B");
        let error = ExecuteError::Problems(vec![missing.clone()]).into_api_error("test");
        assert_eq!(error.code, ErrorCode::MissingParameterValue);
        let error = ExecuteError::Problems(vec![missing, wrong]).into_api_error("test");
        assert_eq!(error.code, ErrorCode::InvalidParameterValue);
        assert_eq!(error.view().problems.len(), 2);
    }
}
