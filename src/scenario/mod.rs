//! Scenario files: the model, loading with positioned errors, and the built-in demo set.

pub mod bounds;
pub mod builtin;
pub mod load;
pub mod model;
pub mod quick;
pub mod rate;
pub mod reference;
pub mod sweep;
pub mod write;

pub use load::{collect_files, load_all, load_file, parse_str, LoadedScenario, ScenarioError};
pub use model::{
    BodyPolicy, BodySettings, ClientSettings, HostSpread, PatternKind, PatternSettings, Protocol,
    Scenario, ServerSettings,
};
pub use rate::{PatternDuration, PatternOverride, Rate, RateOf};
