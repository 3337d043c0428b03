//! The integration suite: one binary, real Docker engine, real files.
//! Each module owns one area; `support` holds what they share.

mod api;
mod app;
mod architecture;
mod auth;
mod browser;
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
mod operator;
mod owslib;
mod polling;
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
mod traces;
mod watch;
mod wps1;
mod wps2;
mod wps_t;
mod xsd;
