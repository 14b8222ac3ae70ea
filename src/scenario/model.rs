//! The scenario model: what one TOML file under `scenarios/` says to run.
//!
//! Every impossible value is rejected while deserializing (zero workers, an unknown body policy,
//! a negative pause cannot be written as `u64`), so the loader can point at the file, line and
//! column of the offending value. Defaults match the classic Go keep-alive experiments (an 11-byte body, `kkkkkkkkkkk`, a
//! 50 us handler).

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
    /// Embedded servers to start, one per loopback address from `address` up (127.0.0.1,
    /// 127.0.0.2, ...), all on one port: each is a distinct host (a distinct pool key) and the
    /// pattern spreads its requests across them. IPv4 only: `::1` is a single address.
    #[serde(skip_serializing_if = "is_one")]
    #[schemars(with = "u32")]
    pub hosts: NonZeroU32,
    /// Several external servers instead of one `url`: the pattern spreads its requests across
    /// them. They must share one port (the collectors watch one port).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Serve HTTPS (HTTP/1.1 and h2 by ALPN) with a certificate made for the run.
    pub tls: bool,
    /// With `tls`: let clients resume earlier sessions (a session cache and tickets); false:
    /// every TLS connection costs a full handshake.
    pub tls_resumption: bool,
}

fn is_one(n: &NonZeroU32) -> bool {
    n.get() == 1
}

impl ServerSettings {
    /// The address of embedded host `index` (0-based): `address` plus `index`, IPv4 only.
    pub fn host_address(&self, index: u32) -> Option<std::net::IpAddr> {
        use std::net::{IpAddr, Ipv4Addr};
        match self.address {
            IpAddr::V4(v4) if index == 0 => Some(IpAddr::V4(v4)),
            IpAddr::V4(v4) => u32::from(v4)
                .checked_add(index)
                .map(|n| IpAddr::V4(Ipv4Addr::from(n))),
            IpAddr::V6(_) => (index == 0).then_some(self.address),
        }
    }

    /// Why `hosts` embedded servers cannot start from `address`, if they cannot: several hosts
    /// need consecutive IPv4 loopback addresses (`::1` is one address; 127.0.0.0/8 is all
    /// loopback on Linux).
    pub fn check_hosts(&self) -> Result<(), String> {
        let (base, hosts) = (self.address, self.hosts.get());
        if hosts <= 1 {
            return Ok(());
        }
        match (base, self.host_address(hosts - 1)) {
            (std::net::IpAddr::V6(_), _) => Err(format!(
                "hosts = {hosts} needs IPv4: `{base}` is one address, and IPv6 has no loopback range; use address = \"127.0.0.1\" (hosts take 127.0.0.1, 127.0.0.2, ...)"
            )),
            (std::net::IpAddr::V4(first), Some(std::net::IpAddr::V4(last)))
                if first.is_loopback() && last.is_loopback() =>
            {
                Ok(())
            }
            _ => Err(format!(
                "hosts = {hosts} from `{base}` needs {hosts} consecutive loopback addresses (127.x.y.z); use address = \"127.0.0.1\""
            )),
        }
    }
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
            hosts: NonZeroU32::MIN,
            urls: Vec::new(),
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
    /// Requests each worker sends, one after the other; omitted with a `duration`, which then
    /// alone ends the pattern (with both, whichever comes first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<u32>")]
    pub requests_per_worker: Option<NonZeroU32>,
    /// Pause between two requests of one worker, in milliseconds (without a `rate`: with one,
    /// the clock sets when requests start).
    #[serde(default)]
    pub pause_ms: u64,
    /// With several hosts: how requests are spread across them.
    #[serde(default, skip_serializing_if = "HostSpread::is_default")]
    pub spread: HostSpread,
    /// With `spread = "random"`: the seed, so a run can be repeated exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Send for this long (`30s`, `2m`) instead of (or as well as) a request count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub duration: Option<super::rate::PatternDuration>,
    /// Open-loop arrivals at this rate (`200/s`, `20 connections/s per worker`): requests
    /// start on the clock, whether or not earlier ones have finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub rate: Option<super::rate::Rate>,
}

/// How a pattern spreads its requests across several hosts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum HostSpread {
    /// Request `i` of worker `w` goes to host `(w + i) mod N`: every host gets the same share
    /// and workers start on different hosts.
    #[default]
    RoundRobin,
    /// Each request picks a host at random from a generator seeded with `seed` (0 when
    /// omitted) and the worker's number, so a run is repeatable.
    Random,
}

impl HostSpread {
    fn is_default(&self) -> bool {
        *self == HostSpread::RoundRobin
    }
}

fn one() -> NonZeroU32 {
    NonZeroU32::MIN
}

impl PatternSettings {
    /// Total requests the pattern plans to send: its request count, or what its rate sends
    /// in its duration (whichever is smaller); `None` when only a duration bounds it.
    pub fn total_requests(&self) -> Option<u64> {
        let workers = u64::from(self.workers.get());
        let counted = self
            .requests_per_worker
            .map(|n| workers * u64::from(n.get()));
        let timed = match (self.rate, self.duration) {
            (Some(rate), Some(duration)) => Some(
                (0..self.workers.get())
                    .map(|w| super::rate::arrivals(&rate, self.workers.get(), w, duration.0))
                    .sum::<u64>(),
            ),
            _ => None,
        };
        match (counted, timed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
    fn hosts_take_consecutive_loopback_addresses() {
        let settings = |address: &str, hosts: u32| ServerSettings {
            address: address.parse().unwrap(),
            hosts: NonZeroU32::new(hosts).unwrap(),
            ..ServerSettings::default()
        };
        assert_eq!(
            settings("127.0.0.1", 3).host_address(2),
            Some("127.0.0.3".parse().unwrap())
        );
        assert!(settings("127.0.0.1", 3).check_hosts().is_ok());
        let err = settings("::1", 2).check_hosts().unwrap_err();
        assert!(
            err.contains("needs IPv4") && err.contains("127.0.0.1"),
            "{err}"
        );
        assert!(settings("::1", 1).check_hosts().is_ok());
        let err = settings("10.0.0.5", 2).check_hosts().unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        assert!(settings("127.255.255.255", 2).check_hosts().is_err());
    }

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
