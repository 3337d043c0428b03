//! An executable conformance suite for OGC API - Processes - Part 1: Core 1.0, runnable
//! against any server URL (`ogc-conformance URL`). It checks the statements of the project's
//! conformance checklist and what the official TeamEngine suite asserts, validating
//! responses against the official schemas, offline.

pub mod checks;
pub mod html;
pub mod report;
pub mod schemas;

pub use checks::{run_suite, EchoProcess, SlowProcess, SuiteConfig};
pub use report::{summary_line, Outcome, Verdict};
