//! kalab: a laboratory for HTTP connection reuse.
//!
//! Data flow: scenario files -> runner (client, embedded server) with the capture and sockets
//! collectors alongside -> connection records -> report -> exporters and checks.

pub mod capture;
pub mod connection;
