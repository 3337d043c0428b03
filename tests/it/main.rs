//! The integration suite: one binary, real Docker engine, real files.
//! Each module owns one area; `support` holds what they share.

mod api;
mod app;
mod catalog;
mod cli;
mod conformance;
mod owslib;
mod queue;
mod run;
mod runner;
mod serve;
mod store;
mod support;
mod wps1;
mod wps2;
mod xsd;
