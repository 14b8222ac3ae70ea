//! Reports: the result model, its computation from raw observations, the figure catalogue, the
//! side-by-side grid, and its renderings (terminal table, exporters).

pub mod compute;
pub mod connections;
pub mod endpoints;
pub mod export;
pub mod figures;
pub mod grid;
pub mod lanes;
pub mod model;
pub mod number;
pub mod reconcile;
pub mod schema;
pub mod sentences;
pub mod summary;
pub mod timeline;
pub mod tls;
pub mod tls_text;

#[cfg(test)]
mod capped_tests;

pub use model::{DrivenBy, ObservedRun, ResultSet, RunReport, Source, Warning, WatchedRun};
