//! Checks: expectations from scenario files and the command line, evaluated over every run,
//! and baselines, turned into a pass/fail verdict, a JUnit file and an exit code.

pub mod baseline;
pub mod expect;
pub mod junit;
pub mod render;
pub mod verdict;

pub use verdict::{verdict, Expectations};

use crate::report::RunReport;
use crate::scenario::load::locate;
use crate::scenario::{LoadedScenario, ScenarioError};

use self::expect::{evaluate, number, Expectation, Verdict};

/// The expectations a scenario file declares in `[expect]`, parsed; errors point at the entry.
pub fn expectations_of(loaded: &LoadedScenario) -> Result<Vec<Expectation>, ScenarioError> {
    loaded
        .scenario
        .expect
        .iter()
        .map(|(metric, rule)| {
            expect::parse_entry(metric, rule).map_err(|message| ScenarioError {
                origin: loaded.origin.clone(),
                position: locate(&loaded.text, "expect", metric),
                field: Some(format!("expect.{metric}")),
                message,
            })
        })
        .collect()
}

/// One expectation evaluated on one run.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// `scenario [variant]`.
    pub variant: String,
    /// 1-based repetition and the number of repetitions of that variant.
    pub run: (u32, u32),
    /// The expectation, as written.
    pub expectation: String,
    /// What it found.
    pub verdict: Verdict,
}

impl CheckResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Pass { .. })
    }

    /// The line a person can act on, for failures: `concurrent-idle2 [max_idle_per_host=2]
    /// run 2/3: connections_opened = 31 (capture), expected <= 10`.
    pub fn message(&self) -> String {
        let (metric, expected) = self
            .expectation
            .split_once(' ')
            .unwrap_or((&self.expectation, ""));
        let run = format!("{} run {}/{}", self.variant, self.run.0, self.run.1);
        match &self.verdict {
            Verdict::Pass { actual, source } | Verdict::Fail { actual, source } => {
                let source = source.map_or(String::new(), |s| format!(" ({s})"));
                let outcome = if self.passed() {
                    "as expected"
                } else {
                    "expected"
                };
                format!(
                    "{run}: {metric} = {}{source}, {outcome} {expected}",
                    number(*actual)
                )
            }
            Verdict::NotMeasured { reason } => {
                format!("{run}: {metric} cannot be checked: {reason}")
            }
        }
    }
}

/// Evaluates each run's expectations. `expectations_for` gives the expectations of a run.
pub fn evaluate_runs<'a>(
    runs: &'a [RunReport],
    expectations_for: impl Fn(&'a RunReport) -> Vec<Expectation>,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for run in runs {
        let label = run.label();
        let repetitions = runs.iter().filter(|r| r.label() == label).count() as u32;
        for expectation in expectations_for(run) {
            results.push(CheckResult {
                variant: label.clone(),
                run: (run.repetition, repetitions),
                expectation: expectation.to_string(),
                verdict: evaluate(&expectation, run),
            });
        }
    }
    results
}
