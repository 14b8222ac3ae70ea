//! The result model: one documented serde structure that every exporter, comparison and check
//! reads. Figures have stable snake_case names (expectations refer to them) and units in their
//! names; every count says which source measured it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::capture::CaptureOutcome;
use crate::observe::ObservedCommand;
use crate::runner::client::Dial;
use crate::runner::pattern::RequestOutcome;
use crate::runner::server::ServerConnection;
use crate::scenario::Scenario;
use crate::sockets::{PortForecast, SocketsOutcome};

use super::warning::Warning;

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
}

impl ResultSet {
    /// A result set of this kalab version.
    pub fn new(runs: Vec<RunReport>) -> Self {
        ResultSet {
            kalab_version: env!("CARGO_PKG_VERSION").to_string(),
            format_version: FORMAT_VERSION,
            runs,
        }
    }
}

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

/// How the run's connections ended, from one source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Closes {
    /// Which source counted them.
    pub source: Option<Source>,
    /// The client sent the first FIN.
    pub by_client: u64,
    /// The server sent the first FIN.
    pub by_server: u64,
    /// A RST ended them.
    pub reset: u64,
    /// Still open when the run ended.
    pub open_at_end: u64,
}

/// TIME_WAIT sockets of this run per side (client side: the client's local sockets), sampled
/// during the run (peak) and after the settle (end), and the CLOSE_WAIT peak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeWait {
    /// Most client-side TIME_WAIT sockets in any sample.
    pub time_wait_client_peak: u64,
    /// Client-side TIME_WAIT sockets after the settle.
    pub time_wait_client_end: u64,
    /// Most server-side TIME_WAIT sockets in any sample.
    pub time_wait_server_peak: u64,
    /// Server-side TIME_WAIT sockets after the settle.
    pub time_wait_server_end: u64,
    /// Most CLOSE_WAIT sockets in any sample (a side that never closes is a leak).
    pub close_wait_peak: u64,
}

impl From<&SocketsOutcome> for TimeWait {
    fn from(s: &SocketsOutcome) -> Self {
        TimeWait {
            time_wait_client_peak: s.time_wait_client_peak,
            time_wait_client_end: s.time_wait_client_end,
            time_wait_server_peak: s.time_wait_server_peak,
            time_wait_server_end: s.time_wait_server_end,
            close_wait_peak: s.close_wait_peak,
        }
    }
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
    /// The URL requested.
    pub target: String,
    /// The scenario as run (with the variant's values applied).
    pub settings: Scenario,
    /// Requests sent.
    pub requests_sent: u64,
    /// Requests that got a 2xx response and completed their body policy.
    pub requests_ok: u64,
    /// Requests that failed (see `errors`).
    pub requests_failed: u64,
    /// Failed requests by kind (`connect`, `timeout`, `connection-closed`, `body`, `status`).
    pub errors: BTreeMap<String, u64>,
    /// Connections opened (SYNs), per source.
    pub connections_opened: PerSource,
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
    /// How long a client could keep this run's churn before running out of ports.
    pub port_forecast: Option<PortForecast>,
    /// What a reader should know about these numbers.
    pub warnings: Vec<Warning>,
    /// Every request.
    pub requests: Vec<RequestOutcome>,
    /// Every connection the client dialled (the `client` source).
    pub dials: Vec<Dial>,
    /// Every connection the embedded server accepted (the `server` source).
    pub server_connections: Vec<ServerConnection>,
    /// The socket table's samples and summary (the `sockets` source).
    pub sockets: Option<SocketsOutcome>,
    /// Every captured connection, with the capture's summary and statistics (the `capture`
    /// source).
    pub capture: Option<CaptureOutcome>,
    /// `kalab observe` only: the program watched and how it ended. Absent from scenario runs
    /// (and from results written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<ObservedCommand>,
}

impl RunReport {
    /// The name of this run in tables and sentences: the scenario, plus the variant if any.
    pub fn label(&self) -> String {
        if self.variant.is_empty() {
            self.scenario.clone()
        } else {
            format!("{} [{}]", self.scenario, self.variant)
        }
    }
}
