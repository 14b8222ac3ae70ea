//! kalab: a laboratory for HTTP connection reuse.
//!
//! Data flow: scenario files -> runner (client, embedded server) with the capture and sockets
//! collectors alongside -> connection records -> report -> exporters and checks.

#![warn(missing_docs)]

pub mod capture;
pub mod check;
pub mod cli;
pub mod commands;
pub mod exit_code;
pub mod model;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod sockets;
