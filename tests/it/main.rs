//! The integration suite: one binary, real Docker engine, real files.
//! Each module owns one area; `support` holds what they share.

mod api;
mod app;
mod architecture;
mod auth;
mod catalog;
mod cli;
mod conformance;
mod deploy;
mod events;
mod fault;
mod hostile;
mod html;
mod jobs_cli;
mod literals;
mod metrics;
mod owslib;
mod prov;
mod publish;
mod queue;
mod registry;
mod run;
mod runner;
mod scheduling;
mod security;
mod serve;
mod store;
mod support;
mod watch;
mod wps1;
mod wps2;
mod wps_t;
mod xsd;
