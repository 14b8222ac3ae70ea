//! The result model: one documented serde structure that every exporter, comparison and check
//! reads. Figures have stable snake_case names (expectations refer to them) and units in their
//! names; every count says which source measured it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::connections::ConnectionView;
use crate::capture::CaptureOutcome;
pub use crate::model::{
    Closes, ObservedCommand, Source, TimeWait, TimeWaitReconciliation, Warning,
};
use crate::model::{Dial, RequestOutcome, ResetCauses, ServerConnection};
use crate::scenario::{PatternSettings, Scenario, ServerSettings};
use crate::sockets::{ListenCounters, PortForecast, SocketsOutcome};

/// The version of this model; `kalab compare` refuses results written with another one.
pub const FORMAT_VERSION: u32 = 1;

/// A saved set of runs: what `--format json` prints and `kalab compare` reads.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResultSet {
    /// The kalab version that measured these runs.
    pub kalab_version: String,
    /// [`FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// Every run, in the order they ran.
    pub runs: Vec<RunReport>,
    /// The verdicts, in what `kalab check` writes (absent elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<crate::model::CheckOutcome>,
    /// Explicit comparisons between runs of different scenarios (the demo's curated pairs):
    /// sentences compare only like things, and these pairs say which unlike ones to compare.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<Comparison>,
}

/// One explicit comparison: `variant` is compared with `baseline` (run labels, as in tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// The label of the variant compared.
    pub variant: String,
    /// The label of the variant it is compared with.
    pub baseline: String,
}

impl ResultSet {
    /// A result set of this kalab version.
    pub fn new(runs: Vec<RunReport>) -> Self {
        ResultSet {
            kalab_version: env!("CARGO_PKG_VERSION").to_string(),
            format_version: FORMAT_VERSION,
            runs,
            check: None,
            comparisons: Vec::new(),
        }
    }
}

/// One figure as measured by each source that could measure it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PerSource {
    /// As the client saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<u64>,
    /// As the embedded server saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<u64>,
    /// As the packet capture saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<u64>,
    /// As the socket table saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<u64>,
}

impl PerSource {
    /// The value from one source.
    pub fn get(&self, source: Source) -> Option<u64> {
        match source {
            Source::Client => self.client,
            Source::Server => self.server,
            Source::Capture => self.capture,
            Source::Sockets => self.sockets,
        }
    }

    /// Sets the value of one source.
    pub fn set(&mut self, source: Source, value: Option<u64>) {
        match source {
            Source::Client => self.client = value,
            Source::Server => self.server = value,
            Source::Capture => self.capture = value,
            Source::Sockets => self.sockets = value,
        }
    }

    /// The most trustworthy value present, with its source.
    pub fn best(&self) -> Option<(u64, Source)> {
        Source::PREFERENCE
            .iter()
            .find_map(|&s| self.get(s).map(|v| (v, s)))
    }

    /// Every (source, value) present, in preference order.
    pub fn present(&self) -> Vec<(Source, u64)> {
        Source::PREFERENCE
            .iter()
            .filter_map(|&s| self.get(s).map(|v| (s, v)))
            .collect()
    }
}

/// Minimum, median and maximum of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Spread {
    /// The smallest value.
    pub min: f64,
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The largest value.
    pub max: f64,
}

/// Everything measured in one run of one scenario variant.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The file (or built-in) it came from.
    pub origin: String,
    /// What the scenario shows.
    pub about: String,
    /// What this variant sets, as `key=value` pairs (empty without a sweep).
    pub variant: String,
    /// Which repetition this is (1-based).
    pub repetition: u32,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// The same instant, microseconds since the Unix epoch (origin of the run's timeline).
    pub started_at_us: u64,
    /// From the first request to the end of the settle, in milliseconds.
    pub wall_time_ms: f64,
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP) ended the run early: every figure covers the
    /// part that ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The URL requested, or the address watched.
    pub target: String,
    /// What drove the traffic: `settings` (a scenario's pattern) or `observed` (a program).
    #[serde(flatten)]
    pub driven_by: DrivenBy,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests that got a 2xx response and completed their body policy.
    pub requests_ok: u64,
    /// Requests that failed (see `errors`).
    pub requests_failed: u64,
    /// Failed requests by kind (`connect`, `timeout`, `connection-closed`, `body`, `status`).
    pub errors: BTreeMap<String, u64>,
    /// Connections opened (SYNs), per source that counts every connection: client, server,
    /// capture (never the socket table: see `connections_seen_lower_bound`).
    pub connections_opened: PerSource,
    /// Connections of this run the socket table showed in any sample (the `sockets` source). It
    /// samples, so it misses connections that open and close between two samples: a lower
    /// bound, never an exact count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_seen_lower_bound: Option<u64>,
    /// Connection attempts the server refused: SYN answered by a RST, never by a SYN-ACK (the
    /// capture source). Not counted as opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_refused: Option<u64>,
    /// Connection attempts whose SYN nobody answered (no SYN-ACK ever), per source that can
    /// tell: the capture (exact; retransmitted SYNs are one attempt) and the socket table
    /// (client sockets only ever seen in SYN_SENT, refused attempts included: a lower bound).
    /// Not counted as opened.
    #[serde(default)]
    pub connections_unanswered: PerSource,
    /// How much the kernel's listen-queue counters (`TcpExt` `ListenOverflows`, `ListenDrops`)
    /// rose from before the run to after its settle: every listener in this network namespace
    /// counts, so it is a finding about the machine during the run. `None`: unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_queue: Option<ListenCounters>,
    /// Resets by cause, from the wire (the capture source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_causes: Option<ResetCauses>,
    /// Connections that carried no request, per source that can tell: the client (a dial no
    /// request went out on), the server (no request arrived), the capture (no byte from the
    /// client).
    #[serde(default)]
    pub connections_without_requests: PerSource,
    /// Requests ok per connection opened (the best source's count).
    pub reuse_ratio: Option<f64>,
    /// Requests (or HTTP/2 streams) per connection: min, median, max.
    pub requests_per_connection: Option<Spread>,
    /// The source of `requests_per_connection`.
    pub requests_per_connection_source: Option<Source>,
    /// Median request latency (send to end of body policy), in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile request latency, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// How connections ended, from the best source.
    pub closes: Closes,
    /// TIME_WAIT and CLOSE_WAIT sockets of this run (the `sockets` source).
    pub time_wait: Option<TimeWait>,
    /// Each side's closes (capture) reconciled with its TIME_WAIT sockets at the end (sockets):
    /// present when both sources measured the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_wait_reconciled: Option<TimeWaitReconciliation>,
    /// How long a client could keep this run's churn before running out of ports.
    pub port_forecast: Option<PortForecast>,
    /// What a reader should know about these numbers.
    pub warnings: Vec<Warning>,
    /// Every request (with the id of the connection that carried it).
    pub requests: Vec<RequestOutcome>,
    /// Every connection, as every source that saw it knows it (see `report::connections`).
    #[serde(default)]
    pub connections: Vec<ConnectionView>,
    /// Every connection the client dialled (the `client` source).
    pub dials: Vec<Dial>,
    /// Every connection the embedded server accepted (the `server` source).
    pub server_connections: Vec<ServerConnection>,
    /// The socket table's samples and summary (the `sockets` source).
    pub sockets: Option<SocketsOutcome>,
    /// Every captured connection, with the capture's summary and statistics (the `capture`
    /// source).
    pub capture: Option<CaptureOutcome>,
    /// Connections already open when the run started: the capture saw them without their SYN
    /// (partial records). Reported apart, never counted as opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_already_open: Option<u64>,
    /// Every figure per server endpoint (address:port), in the target's order, then any other
    /// server address the sources saw. The figures above are the total.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointReport>,
    /// Set only on a per-endpoint view of a run (a breakdown row): the endpoint's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// How long traffic was driven, in milliseconds: from the first request's start to the last
    /// one's end (kalab's client), or the watch's or the observed command's duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_ms: Option<f64>,
    /// Requests sent per second of `drive_ms` (the achieved rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    /// Connections opened (best exact source) per second of `drive_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_per_s: Option<f64>,
    /// `kalab compare` only: the input (a `--label`, or the file's name) this run was read
    /// from. Runs of different inputs are never merged as repetitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// TLS handshakes, full and resumed, per source (HTTPS runs only; see `report::tls`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFigures>,
    /// No source counted the requests (no client, no embedded server, no capture that could
    /// read them): `requests_sent`, `requests_ok` and `requests_failed` are 0 because nothing
    /// measured them, and reports show them as unmeasured.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requests_unmeasured: bool,
    /// The detail lists that reached the detail cap (`--detail-cap`): how many items each kept
    /// of how many it saw. Every figure above counts them all (exact); `requests`,
    /// `connections`, `dials`, `server_connections` and `capture.connections` hold the first
    /// `kept` only. Empty when nothing was capped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail_capped: Vec<crate::model::DetailCapped>,
}

/// The TLS handshakes of one run, each counted once per connection by every source that saw
/// it: the client (rustls, inside each dial), the embedded server (rustls) and the capture
/// (ClientHello and ServerHello on the wire). Exact counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlsFigures {
    /// Full handshakes (certificate sent, new keys agreed), HelloRetryRequest ones included.
    pub handshakes_full: PerSource,
    /// Of those, full handshakes after a HelloRetryRequest (one more round trip).
    pub handshakes_full_hrr: PerSource,
    /// Resumed handshakes (an earlier session's keys accepted).
    pub handshakes_resumed: PerSource,
    /// Handshakes (full + resumed, best source) per request sent.
    pub handshakes_per_request: Option<f64>,
}

/// Every figure of one server endpoint (see `report::endpoints`). Field names and meanings are
/// those of [`RunReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointReport {
    /// The server address and port.
    pub endpoint: SocketAddr,
    /// How reports name it: the IP alone when every endpoint of the run shares one port (the
    /// hosts of a scenario), else `IP:PORT`. Expectations name an endpoint by this, by its IP
    /// or by `IP:PORT`.
    pub name: String,
    /// Requests sent to it.
    pub requests_sent: u64,
    /// Requests to it that got a 2xx response and completed their body policy.
    pub requests_ok: u64,
    /// Requests to it that failed.
    pub requests_failed: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Connections opened to it, per exact source.
    pub connections_opened: PerSource,
    /// Its connections the socket table saw (a lower bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_seen_lower_bound: Option<u64>,
    /// Connection attempts it refused (capture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_refused: Option<u64>,
    /// Its connections already open when the run started (capture: no SYN seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections_already_open: Option<u64>,
    /// Resets by cause (capture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_causes: Option<ResetCauses>,
    /// Its connections that carried no request, per source.
    pub connections_without_requests: PerSource,
    /// Requests ok per connection opened.
    pub reuse_ratio: Option<f64>,
    /// Requests per connection: min, median, max.
    pub requests_per_connection: Option<Spread>,
    /// The source of `requests_per_connection`.
    pub requests_per_connection_source: Option<Source>,
    /// Median request latency, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile request latency, in milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// How its connections ended.
    pub closes: Closes,
    /// Its TIME_WAIT and CLOSE_WAIT sockets (sockets source).
    pub time_wait: Option<TimeWait>,
    /// Its closes reconciled with its TIME_WAIT sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_wait_reconciled: Option<TimeWaitReconciliation>,
    /// Its TLS handshakes, per source (HTTPS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFigures>,
}

impl EndpointReport {
    /// Whether `text` names this endpoint: its report name, its IP, or its `IP:PORT`.
    pub fn is_named(&self, text: &str) -> bool {
        let text = text.trim().trim_start_matches('[').trim_end_matches(']');
        text == self.name
            || text == self.endpoint.to_string()
            || text == self.endpoint.ip().to_string()
            || text.parse::<SocketAddr>().ok() == Some(self.endpoint)
    }
}

/// What drove a run's traffic. In JSON it is one key of the run: `settings` or `observed`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrivenBy {
    /// kalab's client sent a scenario's request pattern: the scenario as run (with the
    /// variant's values applied).
    Settings(Box<Scenario>),
    /// `kalab observe`: a program kalab launched and watched.
    Observed(ObservedRun),
    /// `kalab watch`: a port of a service already running; nothing launched.
    Watched(WatchedRun),
}

/// The port `kalab watch` watched, and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WatchedRun {
    /// The watched server port.
    pub port: u16,
    /// The server address watched; absent: any address on the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<std::net::IpAddr>,
    /// The interface captured on, when one was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// How long the watch lasted, in milliseconds (the settle not included).
    pub duration_ms: f64,
    /// The duration asked for (`--duration`), in milliseconds; absent: until Ctrl-C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_duration_ms: Option<u64>,
    /// Ctrl-C ended the watch.
    pub stopped_by_ctrl_c: bool,
}

/// The program `kalab observe` ran, how it ended, and the server it talked to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObservedRun {
    /// The program, its watched port, and how it ended.
    #[serde(flatten)]
    pub command: ObservedCommand,
    /// The embedded server's settings (`--serve` and its flags); absent when the program
    /// talked to a server of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve: Option<ServerSettings>,
}

impl RunReport {
    /// The scenario as run, when a scenario's pattern drove the run.
    pub fn settings(&self) -> Option<&Scenario> {
        match &self.driven_by {
            DrivenBy::Settings(scenario) => Some(scenario),
            DrivenBy::Observed(_) | DrivenBy::Watched(_) => None,
        }
    }

    /// The request pattern kalab sent, when it sent one.
    pub fn pattern(&self) -> Option<&PatternSettings> {
        self.settings().map(|scenario| &scenario.pattern)
    }

    /// The observed program, when `kalab observe` drove the run.
    pub fn observed(&self) -> Option<&ObservedCommand> {
        match &self.driven_by {
            DrivenBy::Observed(run) => Some(&run.command),
            DrivenBy::Settings(_) | DrivenBy::Watched(_) => None,
        }
    }

    /// The watched port, when `kalab watch` measured the run.
    pub fn watched(&self) -> Option<&WatchedRun> {
        match &self.driven_by {
            DrivenBy::Watched(run) => Some(run),
            DrivenBy::Settings(_) | DrivenBy::Observed(_) => None,
        }
    }

    /// The name of this run in tables and sentences: the scenario, plus the variant if any.
    pub fn label(&self) -> String {
        let label = if self.variant.is_empty() {
            self.scenario.clone()
        } else {
            format!("{} [{}]", self.scenario, self.variant)
        };
        match &self.endpoint {
            Some(endpoint) => format!("{label} @ {endpoint}"),
            None => label,
        }
    }
}
