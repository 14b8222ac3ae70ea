//! TLS handshakes in the words every source uses: the client (what rustls told it), the embedded
//! server (likewise, from its side) and the wire (ClientHello and ServerHello in the capture).
//!
//! One handshake per TLS connection: it is `full`, `full-hrr` (a full handshake in which the
//! server first asked for another key share with a HelloRetryRequest) or `resumed` (an earlier
//! session's keys were accepted: a TLS 1.3 pre-shared key, or a TLS 1.2 session id or ticket).

use serde::{Deserialize, Serialize};

/// How one TLS connection's handshake went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HandshakeKind {
    /// A full handshake: new keys agreed, certificate sent.
    Full,
    /// A full handshake after a HelloRetryRequest (TLS 1.3 only): one more round trip.
    FullHrr,
    /// An abbreviated handshake: an earlier session was resumed.
    Resumed,
}

impl HandshakeKind {
    /// Whether this handshake was a full one (with or without a HelloRetryRequest).
    pub fn is_full(self) -> bool {
        matches!(self, HandshakeKind::Full | HandshakeKind::FullHrr)
    }

    /// The word reports use: `full`, `full-hrr`, `resumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandshakeKind::Full => "full",
            HandshakeKind::FullHrr => "full-hrr",
            HandshakeKind::Resumed => "resumed",
        }
    }
}

impl std::fmt::Display for HandshakeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS protocol version a handshake settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246).
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 (RFC 8446).
    #[serde(rename = "1.3")]
    Tls13,
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        })
    }
}

/// One connection's TLS handshake, as one source saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlsHandshake {
    /// Full, full after a HelloRetryRequest, or resumed.
    pub kind: HandshakeKind,
    /// The version agreed, when the source can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<TlsVersion>,
    /// The application protocol agreed by ALPN (`h2`, `http/1.1`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
}
