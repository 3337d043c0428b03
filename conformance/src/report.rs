//! Outcomes and their printing: one line per assertion, then a summary line.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// What was wrong.
    Fail(String),
    /// Why it was not checked.
    Skip(String),
}

/// One assertion's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Checklist id (`core-05`, `jobs-03`, ...).
    pub id: String,
    pub statement: String,
    pub verdict: Verdict,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.verdict {
            Verdict::Pass => write!(f, "PASS {:<10} {}", self.id, self.statement),
            Verdict::Fail(why) => {
                write!(f, "FAIL {:<10} {}\n     -> {why}", self.id, self.statement)
            }
            Verdict::Skip(why) => write!(f, "SKIP {:<10} {} ({why})", self.id, self.statement),
        }
    }
}

/// Counts of passed, failed and skipped assertions.
pub fn summary(outcomes: &[Outcome]) -> (usize, usize, usize) {
    let passed = outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Pass)
        .count();
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail(_)))
        .count();
    (passed, failed, outcomes.len() - passed - failed)
}

/// The closing line: `conformance: N passed, N failed, N skipped`.
pub fn summary_line(outcomes: &[Outcome]) -> String {
    let (passed, failed, skipped) = summary(outcomes);
    format!("conformance: {passed} passed, {failed} failed, {skipped} skipped")
}
