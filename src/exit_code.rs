//! Exit codes, documented in README.md: what a script or CI job can rely on.

use crate::model::error::{EnvironmentError, InputError};
use crate::scenario::ScenarioError;

/// How kalab ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran (and every expectation held).
    Success,
    /// An expectation failed.
    ExpectationFailed,
    /// Bad input or usage: a scenario file, a flag.
    Error,
    /// The environment cannot do what was asked (capture permission, unreachable target).
    Environment,
    /// Interrupted by Ctrl-C.
    Interrupted,
}

impl ExitCode {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::ExpectationFailed => 1,
            ExitCode::Error => 2,
            ExitCode::Environment => 3,
            ExitCode::Interrupted => 130,
        }
    }

    /// The exit code an error deserves.
    pub fn for_error(err: &anyhow::Error) -> ExitCode {
        for cause in err.chain() {
            if cause.is::<EnvironmentError>() {
                return ExitCode::Environment;
            }
            if cause.is::<InputError>() || cause.is::<ScenarioError>() {
                return ExitCode::Error;
            }
        }
        ExitCode::Error
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}
