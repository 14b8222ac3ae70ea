//! Vocabulary every source shares: how a TCP connection is named and how it ended.
//!
//! A connection is named by its [`FourTuple`] as seen from the client (client address, server
//! address). Sources that see the wire also keep the client's initial sequence number, because
//! Linux hands the same 4-tuple out again within one run.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::source::Source;

/// The two ends of one TCP connection, always written client first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct FourTuple {
    /// The end that sent the SYN.
    pub client: SocketAddr,
    /// The end that answered it (the server's listening address).
    pub server: SocketAddr,
}

impl FourTuple {
    /// Builds a tuple from the client's and the server's addresses.
    pub fn new(client: SocketAddr, server: SocketAddr) -> Self {
        FourTuple { client, server }
    }
}

impl fmt::Display for FourTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.client, self.server)
    }
}

/// One end of a connection: the client (it sent the SYN; its socket's remote address is the
/// server address) or the server (it listens on the server port).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The end that sent the SYN.
    Client,
    /// The end listening on the server port.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a connection ended, from the point of view of whoever observed it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EndState {
    /// The client sent the first FIN (the client holds TIME_WAIT).
    ClosedByClient,
    /// The server sent the first FIN (the server holds TIME_WAIT).
    ClosedByServer,
    /// A RST ended it (no TIME_WAIT on either side).
    Reset,
    /// Still open when the run ended (for example, idle in the client's pool).
    OpenAtEnd,
    /// Both sides sent a FIN before either FIN was acknowledged (the FINs crossed): both sides
    /// go through CLOSING and both hold TIME_WAIT. Only the wire can tell.
    ClosedSimultaneously,
}

impl EndState {
    /// The name used in reports and scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            EndState::ClosedByClient => "closed-by-client",
            EndState::ClosedByServer => "closed-by-server",
            EndState::Reset => "reset",
            EndState::OpenAtEnd => "open-at-end",
            EndState::ClosedSimultaneously => "closed-simultaneously",
        }
    }
}

impl fmt::Display for EndState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a set of connections ended, as one source counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Closes {
    /// Which source counted them (`None`: no source could).
    pub source: Option<Source>,
    /// The client sent the first FIN.
    pub by_client: u64,
    /// The server sent the first FIN.
    pub by_server: u64,
    /// A RST ended them.
    pub reset: u64,
    /// Still open when the run ended.
    pub open_at_end: u64,
    /// Both sides closed at once (their FINs crossed; both hold TIME_WAIT): the capture only.
    #[serde(default)]
    pub simultaneous: u64,
}

impl Closes {
    /// Counts how `ends` ended, as `source` saw them.
    pub fn count(source: Source, ends: impl IntoIterator<Item = EndState>) -> Closes {
        let mut closes = Closes {
            source: Some(source),
            ..Closes::default()
        };
        for end in ends {
            match end {
                EndState::ClosedByClient => closes.by_client += 1,
                EndState::ClosedByServer => closes.by_server += 1,
                EndState::Reset => closes.reset += 1,
                EndState::OpenAtEnd => closes.open_at_end += 1,
                EndState::ClosedSimultaneously => closes.simultaneous += 1,
            }
        }
        closes
    }
}
