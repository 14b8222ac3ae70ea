//! The scenario model: what one TOML file under `scenarios/` says to run.
//!
//! Every impossible value is rejected while deserializing (zero workers, an unknown body policy,
//! a negative pause cannot be written as `u64`), so the loader can point at the file, line and
//! column of the offending value. Defaults match the classic Go keep-alive experiments (an 11-byte "Hello world" body, a 50 us handler).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One scenario: a target, client settings, a request pattern and a body policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name used in reports (`sequential-drop`).
    pub name: String,
    /// One sentence saying what the scenario shows.
    #[serde(default)]
    pub about: String,
    /// The target: the embedded server's settings, or an external `url`.
    #[serde(default)]
    pub server: ServerSettings,
    /// How the HTTP client is built.
    #[serde(default)]
    pub client: ClientSettings,
    /// Which requests are sent, and when.
    pub pattern: PatternSettings,
    /// What the client does with each response body.
    #[serde(default)]
    pub body: BodySettings,
    /// Optional sweep: dotted field path -> list of values; one run per combination.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub sweep: toml::Table,
    /// Optional expectations for `kalab check`: metric -> "OP VALUE".
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub expect: toml::Table,
}

/// The embedded server's behaviour, or the address of an external server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// An external server to target instead of the embedded one (`http://HOST:PORT/PATH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The IP address the embedded server binds to (`127.0.0.1` or `::1`).
    pub address: std::net::IpAddr,
    /// The port the embedded server binds to; 0 picks a fresh ephemeral port for every run.
    pub port: u16,
    /// Size of every response body, in bytes.
    pub body_bytes: u64,
    /// Time the handler waits before answering, in microseconds.
    pub delay_us: u64,
    /// `Transfer-Encoding: chunked` framing instead of `Content-Length`.
    pub chunked: bool,
    /// false: every response carries `Connection: close`.
    pub keep_alive: bool,
    /// 0: never; N: `Connection: close` on the Nth response of each connection.
    pub close_after_requests: u64,
    /// 0: never; T: close keep-alive connections that were idle for T milliseconds.
    pub idle_timeout_ms: u64,
    /// Serve HTTPS (HTTP/1.1 and h2 by ALPN) with a certificate made for the run.
    pub tls: bool,
    /// With `tls`: let clients resume earlier sessions (a session cache and tickets); false:
    /// every TLS connection costs a full handshake.
    pub tls_resumption: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            url: None,
            address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            port: 0,
            body_bytes: 11,
            delay_us: 50,
            chunked: false,
            keep_alive: true,
            close_after_requests: 0,
            idle_timeout_ms: 0,
            tls: false,
            tls_resumption: true,
        }
    }
}

/// How the reqwest client is configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClientSettings {
    /// Idle connections kept per host; omitted: the library default (unlimited for reqwest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle_per_host: Option<u32>,
    /// How long an idle pooled connection is kept, in milliseconds; 0: forever.
    pub idle_timeout_ms: u64,
    /// false: every request says `Connection: close` and nothing is pooled.
    pub keep_alive: bool,
    /// HTTP/1.1, or HTTP/2 over cleartext with prior knowledge.
    pub protocol: Protocol,
    /// Per-request timeout, in milliseconds (bounds every request).
    pub request_timeout_ms: NonZeroU32,
    /// HTTPS: offer to resume earlier TLS sessions (session ids, tickets, pre-shared keys).
    pub tls_resumption: bool,
    /// HTTPS: how many TLS sessions the client remembers for resumption.
    pub tls_session_cache: u32,
    /// HTTPS: the TLS versions the client offers (`["1.2", "1.3"]`).
    pub tls_versions: Vec<crate::model::TlsVersion>,
    /// HTTPS: a PEM file of CA certificates to trust for an external target (the embedded
    /// server's own CA is always trusted); omitted: the system's trusted roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// HTTPS: accept any certificate without checking it. Unsafe outside a laboratory: the
    /// report warns about it.
    pub insecure: bool,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            max_idle_per_host: None,
            idle_timeout_ms: 90_000,
            keep_alive: true,
            protocol: Protocol::Http1,
            request_timeout_ms: NonZeroU32::new(10_000).expect("non-zero"),
            tls_resumption: true,
            tls_session_cache: 256,
            tls_versions: vec![
                crate::model::TlsVersion::Tls12,
                crate::model::TlsVersion::Tls13,
            ],
            ca_file: None,
            insecure: false,
        }
    }
}

/// The wire protocol the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 with keep-alive.
    Http1,
    /// HTTP/2 over cleartext, prior knowledge (no upgrade).
    H2c,
    /// HTTP/2 over TLS, agreed by ALPN (`https://` targets).
    H2,
}

/// Which requests are sent: one loop, parameterised by workers and requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternSettings {
    /// `sequential` (one worker) or `concurrent` (several).
    pub kind: PatternKind,
    /// Concurrent workers; must be 1 (or omitted) for `sequential`.
    #[serde(default = "one")]
    pub workers: NonZeroU32,
    /// Requests each worker sends, one after the other.
    pub requests_per_worker: NonZeroU32,
    /// Pause between two requests of one worker, in milliseconds.
    #[serde(default)]
    pub pause_ms: u64,
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

impl PatternSettings {
    /// Total requests the pattern sends.
    pub fn total_requests(&self) -> u64 {
        u64::from(self.workers.get()) * u64::from(self.requests_per_worker.get())
    }
}

/// The request pattern's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatternKind {
    /// One worker, requests one after the other.
    Sequential,
    /// Several workers at once, each sequential.
    Concurrent,
}

/// What the client does with each response body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BodySettings {
    /// `drain`, `drop`, `partial:N` or `drain-limit:N`.
    #[serde(default)]
    #[schemars(with = "String")]
    pub policy: BodyPolicy,
}

/// A body policy, written in scenario files as `drain`, `drop`, `partial:N` or `drain-limit:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyPolicy {
    /// Read the body to its end.
    #[default]
    Drain,
    /// Drop the response without reading its body.
    Drop,
    /// Read N bytes, then drop the rest unread.
    Partial(u64),
    /// Read up to N bytes; drop the response if more remain.
    DrainLimit(u64),
}

/// The values a body policy may take, for error messages.
pub const BODY_POLICY_HELP: &str = "`drain`, `drop`, `partial:N` or `drain-limit:N` (N in bytes)";

impl FromStr for BodyPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = |n: &str| {
            n.trim().parse::<u64>().map_err(|_| {
                format!("`{s}`: N must be a whole number of bytes; allowed: {BODY_POLICY_HELP}")
            })
        };
        match s.trim() {
            "drain" => Ok(BodyPolicy::Drain),
            "drop" => Ok(BodyPolicy::Drop),
            other => match other.split_once(':') {
                Some(("partial", n)) => bytes(n).map(BodyPolicy::Partial),
                Some(("drain-limit", n)) => bytes(n).map(BodyPolicy::DrainLimit),
                _ => Err(format!(
                    "unknown body policy `{s}`; allowed: {BODY_POLICY_HELP}"
                )),
            },
        }
    }
}

impl fmt::Display for BodyPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyPolicy::Drain => f.write_str("drain"),
            BodyPolicy::Drop => f.write_str("drop"),
            BodyPolicy::Partial(n) => write!(f, "partial:{n}"),
            BodyPolicy::DrainLimit(n) => write!(f, "drain-limit:{n}"),
        }
    }
}

impl Serialize for BodyPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BodyPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_policies_round_trip_through_text() {
        for text in ["drain", "drop", "partial:100", "drain-limit:65536"] {
            let policy: BodyPolicy = text.parse().unwrap();
            assert_eq!(policy.to_string(), text);
        }
    }

    #[test]
    fn unknown_body_policies_list_what_is_allowed() {
        let err = "slurp".parse::<BodyPolicy>().unwrap_err();
        assert!(err.contains("unknown body policy `slurp`"), "{err}");
        assert!(err.contains("drain-limit:N"), "{err}");
        let err = "partial:lots".parse::<BodyPolicy>().unwrap_err();
        assert!(err.contains("whole number"), "{err}");
    }
}
