//! What each source records about one run, before any figure is computed: the client's dials
//! and requests, the embedded server's connections. The wire's record is in [`super::wire`].
//!
//! Every timestamp is microseconds since the Unix epoch (see [`super::clock`]), so the sources'
//! events line up on one axis.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::connection::EndState;
use super::tls::TlsHandshake;

/// One connection attempt the client made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Dial {
    /// When the dial started, in microseconds since the Unix epoch.
    pub at_us: u64,
    /// How long connecting took, in microseconds.
    pub connect_us: u64,
    /// The client's local address (its port names the connection), if the dial succeeded.
    pub local: Option<SocketAddr>,
    /// Why it failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The TLS handshake on this connection, as the client's TLS library reported it (HTTPS
    /// targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHandshake>,
    /// The server address it connected to (its endpoint), if the dial succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SocketAddr>,
}

/// What one request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestOutcome {
    /// Which worker sent it (0-based).
    pub worker: u32,
    /// Its position in that worker's sequence (0-based).
    pub index: u32,
    /// When it was sent, in microseconds since the Unix epoch.
    pub started_at_us: u64,
    /// From sending to the end of the body policy, in microseconds.
    pub latency_us: u64,
    /// The response status, if a response arrived.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes_read: u64,
    /// Whether the body was drained or dropped (absent when no response arrived).
    pub body: Option<BodyFate>,
    /// The client's local address for the connection that carried it.
    pub local: Option<SocketAddr>,
    /// Why it failed, if it did.
    pub error: Option<RequestError>,
    /// The connection that carried it: its id in the run's per-connection view, shared by
    /// every source (set when the report is computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<u32>,
    /// Whether that connection had carried an earlier request (set with `connection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused: Option<bool>,
    /// The server address of the connection that carried it (its endpoint), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<SocketAddr>,
}

impl RequestOutcome {
    /// A request counts as ok when a 2xx response arrived and its body policy completed.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Why a request failed, by kind, with the error text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestError {
    /// A stable kind: `connect`, `timeout`, `connection-closed`, `body`, `status`, `other`.
    pub kind: String,
    /// The full error text.
    pub detail: String,
}

/// What happened to one response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyFate {
    /// Read to its end.
    Drained,
    /// Dropped with bytes possibly left unread.
    Dropped,
}

/// One connection the embedded server accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerConnection {
    /// The client's address (its local port names the connection).
    pub peer: SocketAddr,
    /// When it was accepted, in microseconds since the Unix epoch.
    pub accepted_at_us: u64,
    /// When it ended, if it did before the run ended.
    pub ended_at_us: Option<u64>,
    /// Requests (HTTP/1.1) or streams (HTTP/2) served on it.
    pub requests: u64,
    /// How it ended, as the server saw it.
    pub end: EndState,
    /// The error the server saw on it, if any (a reset, a malformed request, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `http1` or `h2`.
    pub protocol: String,
    /// The TLS handshake on this connection, from the server's side (TLS servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHandshake>,
    /// The server address that accepted it (its endpoint; set by the session, which knows
    /// which of its servers this is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
}
