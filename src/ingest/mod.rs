//! Data-driven processing (Scale's Strike, Scan and ingests): files arriving in a named
//! workspace (`crate::storage`) start jobs.
//!
//! - `spec`: strike and scan definitions (Scale's v6 JSON with our additions);
//! - `ingester`: one file decided: the first matching rule, its SHA-256, the rule's copy or
//!   move, the trigger's job, the ingest recorded with that job in ONE store transaction;
//! - `strike`: the watchers, one replica per strike under a lease in the store;
//! - `monitor`: inotify wake-ups for host folders (S3 prefixes are listed from a cursor);
//! - `scan`: the rules over a workspace's files, once, or as a dry run.
//!
//! Each file is ingested once, across restarts and replicas: the store's unique key on
//! (strike or scan, workspace, path, size and modification time) decides, and the job is
//! inserted in the transaction that records the ingest (`store::ingests`).

pub mod ingester;
pub mod monitor;
pub mod scan;
pub mod spec;
pub mod strike;

pub use ingester::Ingester;
pub use spec::{ScanSpec, StrikeSpec};
pub use strike::{StrikeSettings, Supervisor};
