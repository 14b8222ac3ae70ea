//! The program a command driver ran (`kalab observe`), and how it ended.

use serde::{Deserialize, Serialize};

/// The observed program and how it ended (reported under a run's `observed` key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObservedCommand {
    /// The program and its arguments as run (after `{port}` was replaced).
    pub argv: Vec<String>,
    /// The watched port.
    pub port: u16,
    /// The program's exit code, when it exited by itself or on SIGTERM handling.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Whether kalab stopped it (Ctrl-C).
    pub stopped_by_kalab: bool,
    /// From its start to its exit, in milliseconds.
    pub duration_ms: f64,
}

impl ObservedCommand {
    /// `exited with status 0`, `was ended by signal 9`.
    pub fn status_text(&self) -> String {
        let how = match (self.exit_code, self.signal) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was ended by signal {signal}"),
            (None, None) => "ended with an unknown status".to_string(),
        };
        if self.stopped_by_kalab {
            format!("{how} (stopped by kalab on Ctrl-C)")
        } else {
            how
        }
    }

    /// Whether the program exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.stopped_by_kalab
    }
}
