//! Error kinds that decide the exit code. Everything else is reported with its context chain.

use std::fmt;

/// The input is wrong (a scenario file, a flag value): exit code 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl InputError {
    /// An input error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        InputError(message.into())
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// The machine cannot do what was asked (no capture permission, target unreachable): exit 3.
#[derive(Debug)]
pub struct EnvironmentError(pub String);

impl EnvironmentError {
    /// An environment error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        EnvironmentError(message.into())
    }
}

impl fmt::Display for EnvironmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvironmentError {}
