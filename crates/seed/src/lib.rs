//! Seed 1.0.0, pure: the manifest model, validation (the official JSON schema plus the
//! semantic rules the reference executors enforce), the image label codec, image naming,
//! the runtime contract (environment, command, resources) and output capture.
//!
//! This crate does no networking and starts no containers; it has no async runtime. The
//! `ades` crate uses it to turn a manifest and a user's invocation into a container launch
//! plan, and to turn what the container left behind into typed outputs.
//!
//! Where NGA's two reference executors (seed-cli and Scale) disagree, the choice made here is
//! written on the item that implements it, under a "Choice:" paragraph.

pub mod command;
pub mod contract;
pub mod errors;
pub mod label;
pub mod manifest;
pub mod names;
pub mod outputs;
pub mod problem;
pub mod validate;

pub use manifest::Manifest;
pub use problem::{Problem, Severity};
