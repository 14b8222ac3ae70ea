//! The catalogue of figures: every number a report carries, under the stable snake_case name
//! that CSV columns, expectations and baselines use, with which direction is worse.

use super::model::{RunReport, Source};

/// Which direction of change is a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worse {
    /// More is worse (connections, TIME_WAIT, failures, latency).
    Higher,
    /// Less is worse (reuse ratio, requests ok).
    Lower,
    /// Neither: informative only.
    Neither,
}

/// One figure of the catalogue.
pub struct Figure {
    /// The stable name (`connections_opened`).
    pub name: &'static str,
    /// What it measures, with its unit.
    pub about: &'static str,
    /// Whether it takes a source qualifier (`connections_opened.capture`).
    pub per_source: bool,
    /// Which direction is a regression.
    pub worse: Worse,
    value: fn(&RunReport, Option<Source>) -> Option<f64>,
}

impl Figure {
    /// The figure's value in a run, from `source` (or the best source when `None`).
    pub fn value(&self, run: &RunReport, source: Option<Source>) -> Option<f64> {
        (self.value)(run, source)
    }
}

fn n(v: u64) -> Option<f64> {
    Some(v as f64)
}

/// Every figure, in report order.
pub const FIGURES: &[Figure] = &[
    Figure {
        name: "requests_sent",
        about: "requests sent",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| n(r.requests_sent),
    },
    Figure {
        name: "requests_ok",
        about: "requests with a 2xx response whose body policy completed",
        per_source: false,
        worse: Worse::Lower,
        value: |r, _| n(r.requests_ok),
    },
    Figure {
        name: "requests_failed",
        about: "requests that failed",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| n(r.requests_failed),
    },
    Figure {
        name: "connections_opened",
        about: "TCP connections opened (SYNs); per source: client, server, capture, sockets",
        per_source: true,
        worse: Worse::Higher,
        value: |r, source| match source {
            Some(source) => r.connections_opened.get(source).map(|v| v as f64),
            None => r.connections_opened.best().map(|(v, _)| v as f64),
        },
    },
    Figure {
        name: "reuse_ratio",
        about: "requests ok per connection opened",
        per_source: false,
        worse: Worse::Lower,
        value: |r, _| r.reuse_ratio,
    },
    Figure {
        name: "requests_per_connection_min",
        about: "fewest requests on one connection",
        per_source: false,
        worse: Worse::Lower,
        value: |r, _| r.requests_per_connection.map(|s| s.min),
    },
    Figure {
        name: "requests_per_connection_median",
        about: "median requests per connection",
        per_source: false,
        worse: Worse::Lower,
        value: |r, _| r.requests_per_connection.map(|s| s.median),
    },
    Figure {
        name: "requests_per_connection_max",
        about: "most requests on one connection",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| r.requests_per_connection.map(|s| s.max),
    },
    Figure {
        name: "closes_by_client",
        about: "connections the client closed first (it holds TIME_WAIT)",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| r.closes.source.and(n(r.closes.by_client)),
    },
    Figure {
        name: "closes_by_server",
        about: "connections the server closed first (it holds TIME_WAIT)",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| r.closes.source.and(n(r.closes.by_server)),
    },
    Figure {
        name: "resets",
        about: "connections that ended in a RST",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.closes.source.and(n(r.closes.reset)),
    },
    Figure {
        name: "open_at_end",
        about: "connections still open when the run ended (pooled)",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| r.closes.source.and(n(r.closes.open_at_end)),
    },
    Figure {
        name: "time_wait_client_peak",
        about: "most client-side TIME_WAIT sockets during the run",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.time_wait.map(|t| t.time_wait_client_peak as f64),
    },
    Figure {
        name: "time_wait_client_end",
        about: "client-side TIME_WAIT sockets after the settle",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.time_wait.map(|t| t.time_wait_client_end as f64),
    },
    Figure {
        name: "time_wait_server_peak",
        about: "most server-side TIME_WAIT sockets during the run",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.time_wait.map(|t| t.time_wait_server_peak as f64),
    },
    Figure {
        name: "time_wait_server_end",
        about: "server-side TIME_WAIT sockets after the settle",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.time_wait.map(|t| t.time_wait_server_end as f64),
    },
    Figure {
        name: "close_wait_peak",
        about: "most CLOSE_WAIT sockets during the run (a side that never closes)",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.time_wait.map(|t| t.close_wait_peak as f64),
    },
    Figure {
        name: "latency_p50_ms",
        about: "median request latency, ms",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.latency_p50_ms,
    },
    Figure {
        name: "latency_p99_ms",
        about: "99th percentile request latency, ms",
        per_source: false,
        worse: Worse::Higher,
        value: |r, _| r.latency_p99_ms,
    },
    Figure {
        name: "command_exit_code",
        about: "`kalab observe` only: the observed command's exit status",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| r.observed()?.exit_code.map(f64::from),
    },
    Figure {
        name: "wall_time_ms",
        about: "run duration including the settle, ms",
        per_source: false,
        worse: Worse::Neither,
        value: |r, _| Some(r.wall_time_ms),
    },
];

/// The figure with this name.
pub fn lookup(name: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.name == name)
}

/// Every figure's name, for error messages.
pub fn names() -> String {
    FIGURES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}
