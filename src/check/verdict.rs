//! From expectations to an exit code: the expectations that apply to each run (its scenario's
//! `[expect]` table plus `--expect` expressions), and the verdict over their results.

use std::collections::HashMap;

use super::expect::{self, Expectation, Verdict};
use super::{evaluate_runs, expectations_of, CheckResult};
use crate::exit_code::ExitCode;
use crate::model::InputError;
use crate::report::RunReport;
use crate::scenario::LoadedScenario;

/// Expectations per scenario origin, plus those given on the command line.
pub struct Expectations {
    by_origin: HashMap<String, Vec<Expectation>>,
    everywhere: Vec<Expectation>,
}

impl Expectations {
    /// Parses the `[expect]` tables and the `--expect` expressions; any error is bad input.
    pub fn parse(loaded: &[LoadedScenario], cli: &[String]) -> anyhow::Result<Expectations> {
        let mut by_origin = HashMap::new();
        for scenario in loaded {
            by_origin.insert(scenario.origin.clone(), expectations_of(scenario)?);
        }
        let everywhere = cli
            .iter()
            .map(|text| {
                expect::parse(text)
                    .map_err(|why| InputError::new(format!("--expect '{text}': {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Expectations {
            by_origin,
            everywhere,
        })
    }

    /// Whether a scenario has anything to check.
    pub fn any_for(&self, origin: &str) -> bool {
        !self.everywhere.is_empty() || self.by_origin.get(origin).is_some_and(|e| !e.is_empty())
    }

    /// Evaluates every run's expectations.
    pub fn evaluate(&self, runs: &[RunReport]) -> Vec<CheckResult> {
        evaluate_runs(runs, |run| {
            let mut all = self.by_origin.get(&run.origin).cloned().unwrap_or_default();
            all.extend(self.everywhere.iter().cloned());
            all
        })
    }
}

/// The exit code for a set of results.
pub fn verdict(results: &[CheckResult], regressions: &[String], interrupted: bool) -> ExitCode {
    if interrupted {
        ExitCode::Interrupted
    } else if results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::NotMeasured { .. }))
    {
        ExitCode::Environment
    } else if !regressions.is_empty() || results.iter().any(|r| !r.passed()) {
        ExitCode::ExpectationFailed
    } else {
        ExitCode::Success
    }
}
