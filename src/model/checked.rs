//! What `kalab check` found, as its machine-readable reports carry it: every expectation's
//! verdict on every run, and the baseline regressions. Written into the JSON next to the runs, so
//! one document holds what was measured and what was concluded from it.

use serde::{Deserialize, Serialize};

use super::Source;

/// The verdicts of one `kalab check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckOutcome {
    /// Whether every expectation held and no baseline regressed.
    pub passed: bool,
    /// Every expectation evaluated on every run, in run order.
    pub expectations: Vec<CheckedExpectation>,
    /// One sentence per figure that worsened beyond the tolerance against the baseline.
    pub baseline_regressions: Vec<String>,
}

/// How an expectation came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckVerdict {
    /// The figure was measured and the comparison holds.
    Pass,
    /// The figure was measured and the comparison does not hold.
    Fail,
    /// No source measured the figure: never a pass.
    NotMeasured,
}

impl CheckVerdict {
    /// `pass`, `fail`, `not-measured`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckVerdict::Pass => "pass",
            CheckVerdict::Fail => "fail",
            CheckVerdict::NotMeasured => "not-measured",
        }
    }
}

/// One expectation evaluated on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckedExpectation {
    /// The run: `scenario [variant]`.
    pub run: String,
    /// 1-based repetition of that run.
    pub repetition: u32,
    /// How many repetitions of that run were checked.
    pub repetitions: u32,
    /// The expectation as written (`connections_opened <= 10`).
    pub expectation: String,
    /// The verdict.
    pub verdict: CheckVerdict,
    /// The value measured, when a source measured it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The source the measured value came from, when the figure has per-source values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// The sentence a person can act on.
    pub message: String,
}
