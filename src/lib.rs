//! kalab: a laboratory for HTTP connection reuse.
//!
//! Floors, bottom up (each imports only floors below it):
//! - `model`: the shared vocabulary (sources, connection identity and ends, per-source records,
//!   TIME_WAIT figures, warnings, clock, error kinds);
//! - `scenario`: scenario files; `capture`, `sockets`, `runner`: the producers (the wire, the
//!   socket table, kalab's own client and server);
//! - `report`: pure computation of a run's figures, and the exporters;
//! - `session`: the one measuring session (target, collectors, a driver, settle, stop,
//!   reconcile), with its drivers (a scenario's pattern, a command);
//! - `check`: expectations, baselines, verdicts; `cli` and `commands`: the command line.

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
pub mod usage_hints;
