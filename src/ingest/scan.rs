//! Scans: a strike's rules over the files already in a workspace, once. A dry run answers
//! what would be ingested and triggered, touching nothing; a real run decides each file as
//! a strike would (recorded with the scan's name: the same file is ingested once per scan,
//! however often the scan runs).

use super::ingester::{Ingester, Outcome, Plan, Rules, Source};
use super::spec::ScanSpec;
use crate::storage::registry::WorkspacesError;
use crate::store::{IngestStatus, SourceKind};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a run did (kept as the scan's `last_run`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanRun {
    pub dry_run: bool,
    /// Files listed.
    pub files: usize,
    /// Ingests recorded by this run, by status.
    pub recorded: BTreeMap<&'static str, usize>,
    /// Files recorded by an earlier run (left alone).
    pub already_decided: usize,
    /// Files left undecided (the message of the first says why).
    pub left: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<String>,
    /// Dry run: what each file would become (the first 1000).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<Plan>,
    /// RFC 3339.
    pub started: String,
    pub finished: String,
}

/// Most plans a dry run answers.
const MAX_PLANS: usize = 1000;

/// Runs `spec` once (`dry_run`: only says what would happen).
pub async fn run(
    ingester: &Ingester,
    spec: &ScanSpec,
    dry_run: bool,
) -> Result<ScanRun, WorkspacesError> {
    let started = now_text();
    let workspace = &spec.configuration.workspace;
    let broker = ingester.jobs().workspaces().broker(workspace).await?;
    let prefix = spec.configuration.prefix();
    let prefix = prefix.trim_end_matches('/');
    let mut listing = broker.list(prefix).await?;
    if !spec.configuration.recursive {
        let depth = if prefix.is_empty() {
            0
        } else {
            prefix.matches('/').count() + 1
        };
        listing.retain(|o| o.path.matches('/').count() == depth);
    }
    let rules = Rules::new(spec.rules());
    let mut run = ScanRun {
        dry_run,
        files: listing.len(),
        ..ScanRun::default()
    };
    let source = Source {
        kind: SourceKind::Scan,
        name: spec.name.clone(),
    };
    for object in &listing {
        if dry_run {
            if run.plans.len() < MAX_PLANS {
                run.plans.push(ingester.plan(&rules, workspace, object));
            }
            continue;
        }
        match ingester
            .ingest(&source, &rules, workspace, &broker, object)
            .await
        {
            Outcome::Recorded(ingest) => {
                *run.recorded
                    .entry(status_name(ingest.new.status))
                    .or_default() += 1;
            }
            Outcome::AlreadyDecided => run.already_decided += 1,
            Outcome::Later(why) | Outcome::Busy(why) => {
                run.left += 1;
                run.first_problem.get_or_insert(why);
            }
        }
    }
    run.started = started;
    run.finished = now_text();
    Ok(run)
}

fn status_name(status: IngestStatus) -> &'static str {
    status.as_str()
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
