//! ades: an OGC Application Deployment and Execution Service for Seed images.
//!
//! Layout (see ARCHITECTURE.md and DESIGN.md): `domain` is the model every façade renders;
//! `catalog` turns Seed images into processes; `jobs` is the protocol-neutral job service;
//! `deploy` deploys processes; `store` keeps jobs durably; `queue` runs them on `engine`
//! (containers and images; Docker in `engine::docker`) with `workspace` (files);
//! `execution` runs one Seed job end to end; `api` (OGC API) and `wps` (WPS 2.0 / 1.0.0)
//! are the façades, which never use each other;
//! `http` is what every façade shares (state, links, trusted proxies, CORS, the router
//! that assembles them) and `auth` who calls;
//! `outbound` is the one way out (the address guard every URL the server fetches or calls
//! goes through); `provenance` is the record of what produced a job's outputs;
//! `limits` bounds what one request may cost; `metrics` is what `/metrics`
//! counts; `cli` is the command line; `config` and `startup` build the server.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod cwl;
pub mod deploy;
pub mod domain;
pub mod engine;
pub mod error;
pub mod execution;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod outbound;
pub mod provenance;
pub mod queue;
pub mod registry;
pub mod remote;
pub mod startup;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod workflow;
pub mod workspace;
pub mod wps;
