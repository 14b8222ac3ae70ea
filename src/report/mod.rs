//! Reports: the result model, its computation from raw observations, and its renderings.

pub mod compute;
pub mod model;
pub mod sentences;
pub mod table;
pub mod timeline;
pub mod warning;

pub use model::{ResultSet, RunReport, Source};
pub use warning::Warning;
