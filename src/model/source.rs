//! Where a number was measured: the four sources every report names beside its figures.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a figure was measured.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The client's connector: the connections it dialled.
    Client,
    /// The embedded server: the connections it accepted.
    Server,
    /// The packet capture: SYNs, FINs and RSTs on the wire.
    Capture,
    /// The kernel's socket table (`/proc/net/tcp`).
    Sockets,
}

impl Source {
    /// The name used in reports and expectations (`connections_opened.capture`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Server => "server",
            Source::Capture => "capture",
            Source::Sockets => "sockets",
        }
    }

    /// Every source, in order of preference for derived figures (the wire first).
    pub const PREFERENCE: [Source; 4] = [
        Source::Capture,
        Source::Server,
        Source::Client,
        Source::Sockets,
    ];
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
