//! Error kinds that decide the exit code. Everything else is reported with its context chain.

/// The input is wrong (a scenario file, a flag value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

impl InputError {
    /// An input error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        InputError(message.into())
    }
}

/// The machine cannot do what was asked (no capture permission, target unreachable): exit 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvironmentError(pub String);

impl EnvironmentError {
    /// An environment error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        EnvironmentError(message.into())
    }
}
