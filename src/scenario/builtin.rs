//! The demo scenarios, built into the binary so an installed `kalab demo` works anywhere.
//!
//! They are the files under `scenarios/demo/`, included at compile time: editing a file there
//! changes the demo.

use super::load::{parse_str, LoadedScenario, ScenarioError};

/// The demo's scenario files: (path in the repository, text).
pub const DEMO: &[(&str, &str)] = &[
    (
        "scenarios/demo/01-sequential-drop.toml",
        include_str!("../../scenarios/demo/01-sequential-drop.toml"),
    ),
    (
        "scenarios/demo/02-sequential-drain.toml",
        include_str!("../../scenarios/demo/02-sequential-drain.toml"),
    ),
    (
        "scenarios/demo/03-sequential-drop-small.toml",
        include_str!("../../scenarios/demo/03-sequential-drop-small.toml"),
    ),
    (
        "scenarios/demo/04-concurrent-idle2.toml",
        include_str!("../../scenarios/demo/04-concurrent-idle2.toml"),
    ),
    (
        "scenarios/demo/05-concurrent-idle10.toml",
        include_str!("../../scenarios/demo/05-concurrent-idle10.toml"),
    ),
    (
        "scenarios/demo/06-https-resumption-off.toml",
        include_str!("../../scenarios/demo/06-https-resumption-off.toml"),
    ),
    (
        "scenarios/demo/07-https-resumption-on.toml",
        include_str!("../../scenarios/demo/07-https-resumption-on.toml"),
    ),
];

/// Parses the built-in demo scenarios.
pub fn demo_scenarios() -> Result<Vec<LoadedScenario>, ScenarioError> {
    DEMO.iter()
        .map(|(origin, text)| parse_str(&format!("built-in:{origin}"), text))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_demo_scenario_is_valid() {
        assert_eq!(super::demo_scenarios().unwrap().len(), super::DEMO.len());
    }
}
