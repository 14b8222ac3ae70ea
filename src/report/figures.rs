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
    /// The sources it can be qualified with (`connections_opened.capture`); empty: one value.
    pub sources: &'static [Source],
    /// Which direction is a regression.
    pub worse: Worse,
    /// The source it needs to be measured at all (`None`: any source will do).
    pub needs: Option<Source>,
    value: fn(&RunReport, Option<Source>) -> Option<f64>,
}

/// The sources that count every connection (the socket table samples: see
/// [`CONNECTIONS_SEEN_LOWER_BOUND`]), in order of preference.
const EXACT_SOURCES: [Source; 3] = [Source::Capture, Source::Server, Source::Client];

impl Figure {
    /// Whether it takes a source qualifier.
    pub fn per_source(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The figure's value in a run, from `source` (or the best source when `None`).
    pub fn value(&self, run: &RunReport, source: Option<Source>) -> Option<f64> {
        (self.value)(run, source)
    }
}

fn n(v: u64) -> Option<f64> {
    Some(v as f64)
}

/// A request count, unless no source counted the requests (then it is 0 for want of a
/// measure, not a measured 0).
fn measured_requests(run: &RunReport, count: u64) -> Option<f64> {
    (!run.requests_unmeasured).then_some(count as f64)
}

/// `requests_sent`: requests sent
pub const REQUESTS_SENT: Figure = Figure {
    name: "requests_sent",
    about: "requests sent",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| measured_requests(r, r.requests_sent),
};

/// `requests_ok`: requests with a 2xx response whose body policy completed
pub const REQUESTS_OK: Figure = Figure {
    name: "requests_ok",
    about: "requests with a 2xx response whose body policy completed",
    sources: &[],
    worse: Worse::Lower,
    needs: None,
    value: |r, _| measured_requests(r, r.requests_ok),
};

/// `requests_failed`: requests that failed
pub const REQUESTS_FAILED: Figure = Figure {
    name: "requests_failed",
    about: "requests that failed",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| measured_requests(r, r.requests_failed),
};

/// `connections_opened`: TCP connections opened (SYNs), exact; per source: client, server, capture
pub const CONNECTIONS_OPENED: Figure = Figure {
    name: "connections_opened",
    about: "TCP connections opened (SYNs), counted exactly; per source: client, server, capture",
    sources: &EXACT_SOURCES,
    worse: Worse::Higher,
    needs: None,
    value: |r, source| match source {
        Some(source) => r.connections_opened.get(source).map(|v| v as f64),
        None => r.connections_opened.best().map(|(v, _)| v as f64),
    },
};

/// `reuse_ratio`: requests ok per connection opened
pub const REUSE_RATIO: Figure = Figure {
    name: "reuse_ratio",
    about: "requests ok per connection opened",
    sources: &[],
    worse: Worse::Lower,
    needs: None,
    value: |r, _| r.reuse_ratio,
};

/// `requests_per_connection_min`: fewest requests on one connection
pub const REQUESTS_PER_CONNECTION_MIN: Figure = Figure {
    name: "requests_per_connection_min",
    about: "fewest requests on one connection",
    sources: &[],
    worse: Worse::Lower,
    needs: None,
    value: |r, _| r.requests_per_connection.map(|s| s.min),
};

/// `requests_per_connection_median`: median requests per connection
pub const REQUESTS_PER_CONNECTION_MEDIAN: Figure = Figure {
    name: "requests_per_connection_median",
    about: "median requests per connection",
    sources: &[],
    worse: Worse::Lower,
    needs: None,
    value: |r, _| r.requests_per_connection.map(|s| s.median),
};

/// `requests_per_connection_max`: most requests on one connection
pub const REQUESTS_PER_CONNECTION_MAX: Figure = Figure {
    name: "requests_per_connection_max",
    about: "most requests on one connection",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.requests_per_connection.map(|s| s.max),
};

/// `closes_by_client`: connections the client closed first (it holds TIME_WAIT)
pub const CLOSES_BY_CLIENT: Figure = Figure {
    name: "closes_by_client",
    about: "connections the client closed first (it holds TIME_WAIT)",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.closes.source.and(n(r.closes.by_client)),
};

/// `closes_by_server`: connections the server closed first (it holds TIME_WAIT)
pub const CLOSES_BY_SERVER: Figure = Figure {
    name: "closes_by_server",
    about: "connections the server closed first (it holds TIME_WAIT)",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.closes.source.and(n(r.closes.by_server)),
};

/// `resets`: connections that ended in a RST
pub const RESETS: Figure = Figure {
    name: "resets",
    about:
        "connections that ended in a RST (capture only: the server cannot see a RST after a FIN)",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| {
        r.closes
            .source
            .filter(|&s| s == Source::Capture)
            .and(n(r.closes.reset))
    },
};

/// `resets_abortive`: resets by a side closing with unread data (capture)
pub const RESETS_ABORTIVE: Figure = Figure {
    name: "resets_abortive",
    about: "resets by a side closing with unread data in its receive buffer (capture)",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| n(r.reset_causes?.abortive),
};

/// `resets_idle_race`: resets of an idle connection the server closed as a request arrived
pub const RESETS_IDLE_RACE: Figure = Figure {
    name: "resets_idle_race",
    about: "resets by the server closing an idle connection as a request arrived (capture)",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| n(r.reset_causes?.idle_race),
};

/// `open_at_end`: connections still open when the run ended (pooled)
pub const OPEN_AT_END: Figure = Figure {
    name: "open_at_end",
    about: "connections still open when the run ended (pooled)",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.closes.source.and(n(r.closes.open_at_end)),
};

/// `time_wait_client_peak`: most client-side TIME_WAIT sockets during the run
pub const TIME_WAIT_CLIENT_PEAK: Figure = Figure {
    name: "time_wait_client_peak",
    about: "most client-side TIME_WAIT sockets during the run",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.time_wait.map(|t| t.time_wait_client_peak as f64),
};

/// `time_wait_client_end`: client-side TIME_WAIT sockets after the settle
pub const TIME_WAIT_CLIENT_END: Figure = Figure {
    name: "time_wait_client_end",
    about: "client-side TIME_WAIT sockets after the settle",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.time_wait.map(|t| t.time_wait_client_end as f64),
};

/// `time_wait_server_peak`: most server-side TIME_WAIT sockets during the run
pub const TIME_WAIT_SERVER_PEAK: Figure = Figure {
    name: "time_wait_server_peak",
    about: "most server-side TIME_WAIT sockets during the run",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.time_wait.map(|t| t.time_wait_server_peak as f64),
};

/// `time_wait_server_end`: server-side TIME_WAIT sockets after the settle
pub const TIME_WAIT_SERVER_END: Figure = Figure {
    name: "time_wait_server_end",
    about: "server-side TIME_WAIT sockets after the settle",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.time_wait.map(|t| t.time_wait_server_end as f64),
};

/// `close_wait_peak`: most CLOSE_WAIT sockets during the run (a side that never closes)
pub const CLOSE_WAIT_PEAK: Figure = Figure {
    name: "close_wait_peak",
    about: "most CLOSE_WAIT sockets during the run (a side that never closes)",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.time_wait.map(|t| t.close_wait_peak as f64),
};

/// `connections_seen_lower_bound`: connections the sampled socket table saw, a lower bound
pub const CONNECTIONS_SEEN_LOWER_BOUND: Figure = Figure {
    name: "connections_seen_lower_bound",
    about: "connections the socket table saw in its samples (sockets source): a lower bound, since connections that open and close between two samples are missed",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.connections_seen_lower_bound.map(|v| v as f64),
};

/// `connections_refused`: connection attempts whose SYN was answered by a RST
pub const CONNECTIONS_REFUSED: Figure = Figure {
    name: "connections_refused",
    about: "connection attempts whose SYN was answered by a RST, nothing listening (capture); not opened",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| r.connections_refused.map(|v| v as f64),
};

/// `connections_unanswered`: connection attempts whose SYN nobody answered
pub const CONNECTIONS_UNANSWERED: Figure = Figure {
    name: "connections_unanswered",
    about: "connection attempts whose SYN got no SYN-ACK (capture: exact; sockets: client sockets only seen in SYN_SENT, a lower bound); not opened",
    sources: &[Source::Capture, Source::Sockets],
    worse: Worse::Higher,
    needs: None,
    value: |r, source| match source {
        Some(source) => r.connections_unanswered.get(source).map(|v| v as f64),
        None => r.connections_unanswered.best().map(|(v, _)| v as f64),
    },
};

/// `listen_overflows`: how much the kernel's `ListenOverflows` counter rose during the run
pub const LISTEN_OVERFLOWS: Figure = Figure {
    name: "listen_overflows",
    about: "listen-queue overflows the kernel counted during the run (TcpExt ListenOverflows, every listener in this network namespace)",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.listen_queue.map(|q| q.listen_overflows as f64),
};

/// `listen_drops`: how much the kernel's `ListenDrops` counter rose during the run
pub const LISTEN_DROPS: Figure = Figure {
    name: "listen_drops",
    about: "SYNs dropped at a listener during the run (TcpExt ListenDrops, overflows included, every listener in this network namespace)",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.listen_queue.map(|q| q.listen_drops as f64),
};

/// `closes_simultaneous`: connections whose FINs crossed (both sides hold TIME_WAIT)
pub const CLOSES_SIMULTANEOUS: Figure = Figure {
    name: "closes_simultaneous",
    about: "connections both sides closed at once, each FIN sent before the other arrived (capture; both sides hold TIME_WAIT)",
    sources: &[],
    worse: Worse::Neither,
    needs: Some(Source::Capture),
    value: |r, _| {
        r.closes
            .source
            .filter(|&s| s == Source::Capture)
            .and(n(r.closes.simultaneous))
    },
};

/// `connections_without_requests`: connections that carried no request
pub const CONNECTIONS_WITHOUT_REQUESTS: Figure = Figure {
    name: "connections_without_requests",
    about: "connections that carried no request; per source: client, server, capture",
    sources: &EXACT_SOURCES,
    worse: Worse::Higher,
    needs: None,
    value: |r, source| match source {
        Some(source) => r.connections_without_requests.get(source).map(|v| v as f64),
        None => r.connections_without_requests.best().map(|(v, _)| v as f64),
    },
};

/// `time_wait_recycled_client`: client closes whose TIME_WAIT a later SYN recycled
pub const TIME_WAIT_RECYCLED_CLIENT: Figure = Figure {
    name: "time_wait_recycled_client",
    about:
        "client closes whose TIME_WAIT socket a later SYN on the same 4-tuple recycled (capture)",
    sources: &[],
    worse: Worse::Neither,
    needs: Some(Source::Capture),
    value: |r, _| n(r.time_wait_reconciled?.client.recycled),
};

/// `time_wait_recycled_server`: server closes whose TIME_WAIT a later SYN recycled
pub const TIME_WAIT_RECYCLED_SERVER: Figure = Figure {
    name: "time_wait_recycled_server",
    about:
        "server closes whose TIME_WAIT socket a later SYN on the same 4-tuple recycled (capture)",
    sources: &[],
    worse: Worse::Neither,
    needs: Some(Source::Capture),
    value: |r, _| n(r.time_wait_reconciled?.server.recycled),
};

/// `closes_unexplained_client`: client closes that TIME_WAIT, resets, recycling and expiry do
/// not account for
pub const CLOSES_UNEXPLAINED_CLIENT: Figure = Figure {
    name: "closes_unexplained_client",
    about: "client closes not accounted for by TIME_WAIT at the end, resets, recycled or expired (0: it adds up)",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| Some(r.time_wait_reconciled?.client.unexplained as f64),
};

/// `closes_unexplained_server`: server closes that TIME_WAIT, resets, recycling and expiry do
/// not account for
pub const CLOSES_UNEXPLAINED_SERVER: Figure = Figure {
    name: "closes_unexplained_server",
    about: "server closes not accounted for by TIME_WAIT at the end, resets, recycled or expired (0: it adds up)",
    sources: &[],
    worse: Worse::Higher,
    needs: Some(Source::Capture),
    value: |r, _| Some(r.time_wait_reconciled?.server.unexplained as f64),
};

/// `latency_p50_ms`: median request latency, ms
pub const LATENCY_P50_MS: Figure = Figure {
    name: "latency_p50_ms",
    about: "median request latency, ms",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.latency_p50_ms,
};

/// `latency_p99_ms`: 99th percentile request latency, ms
pub const LATENCY_P99_MS: Figure = Figure {
    name: "latency_p99_ms",
    about: "99th percentile request latency, ms",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.latency_p99_ms,
};

/// `command_exit_code`: `kalab observe` only: the observed command's exit status
pub const COMMAND_EXIT_CODE: Figure = Figure {
    name: "command_exit_code",
    about: "`kalab observe` only: the observed command's exit status",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.observed()?.exit_code.map(f64::from),
};

/// `wall_time_ms`: run duration including the settle, ms
pub const WALL_TIME_MS: Figure = Figure {
    name: "wall_time_ms",
    about: "run duration including the settle, ms",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| Some(r.wall_time_ms),
};

/// `tls_handshakes_full`: full TLS handshakes, exact; per source: client, server, capture
pub const TLS_HANDSHAKES_FULL: Figure = Figure {
    name: "tls_handshakes_full",
    about: "full TLS handshakes (HelloRetryRequest ones included), counted exactly; per source: client, server, capture",
    sources: &EXACT_SOURCES,
    worse: Worse::Higher,
    needs: None,
    value: |r, source| {
        let tls = r.tls.as_ref()?;
        match source {
            Some(source) => tls.handshakes_full.get(source).map(|v| v as f64),
            None => tls.handshakes_full.best().map(|(v, _)| v as f64),
        }
    },
};

/// `tls_handshakes_resumed`: resumed TLS handshakes, exact; per source: client, server, capture
pub const TLS_HANDSHAKES_RESUMED: Figure = Figure {
    name: "tls_handshakes_resumed",
    about: "resumed TLS handshakes, counted exactly; per source: client, server, capture",
    sources: &EXACT_SOURCES,
    worse: Worse::Neither,
    needs: None,
    value: |r, source| {
        let tls = r.tls.as_ref()?;
        match source {
            Some(source) => tls.handshakes_resumed.get(source).map(|v| v as f64),
            None => tls.handshakes_resumed.best().map(|(v, _)| v as f64),
        }
    },
};

/// `tls_handshakes_per_request`: TLS handshakes (full + resumed) per request sent
pub const TLS_HANDSHAKES_PER_REQUEST: Figure = Figure {
    name: "tls_handshakes_per_request",
    about: "TLS handshakes (full + resumed, best source) per request sent",
    sources: &[],
    worse: Worse::Higher,
    needs: None,
    value: |r, _| r.tls.as_ref()?.handshakes_per_request,
};

/// Every figure, in report order.
pub const FIGURES: &[&Figure] = &[
    &REQUESTS_SENT,
    &REQUESTS_OK,
    &REQUESTS_FAILED,
    &CONNECTIONS_OPENED,
    &CONNECTIONS_SEEN_LOWER_BOUND,
    &CONNECTIONS_REFUSED,
    &CONNECTIONS_UNANSWERED,
    &LISTEN_OVERFLOWS,
    &LISTEN_DROPS,
    &REUSE_RATIO,
    &REQUESTS_PER_CONNECTION_MIN,
    &REQUESTS_PER_CONNECTION_MEDIAN,
    &REQUESTS_PER_CONNECTION_MAX,
    &CLOSES_BY_CLIENT,
    &CLOSES_BY_SERVER,
    &RESETS,
    &RESETS_ABORTIVE,
    &RESETS_IDLE_RACE,
    &OPEN_AT_END,
    &CLOSES_SIMULTANEOUS,
    &TIME_WAIT_CLIENT_PEAK,
    &TIME_WAIT_CLIENT_END,
    &TIME_WAIT_SERVER_PEAK,
    &TIME_WAIT_SERVER_END,
    &CLOSE_WAIT_PEAK,
    &CONNECTIONS_WITHOUT_REQUESTS,
    &TIME_WAIT_RECYCLED_CLIENT,
    &TIME_WAIT_RECYCLED_SERVER,
    &CLOSES_UNEXPLAINED_CLIENT,
    &CLOSES_UNEXPLAINED_SERVER,
    &LATENCY_P50_MS,
    &LATENCY_P99_MS,
    &COMMAND_EXIT_CODE,
    &WALL_TIME_MS,
    &CONNECTIONS_ALREADY_OPEN,
    &REQUESTS_PER_S,
    &CONNECTIONS_PER_S,
    &TLS_HANDSHAKES_FULL,
    &TLS_HANDSHAKES_RESUMED,
    &TLS_HANDSHAKES_PER_REQUEST,
];

/// `connections_already_open`: connections open before the run started (capture: no SYN seen)
pub const CONNECTIONS_ALREADY_OPEN: Figure = Figure {
    name: "connections_already_open",
    about: "connections already open when the run started: the capture saw them without their SYN (never counted as opened)",
    sources: &[],
    worse: Worse::Neither,
    needs: Some(Source::Capture),
    value: |r, _| r.connections_already_open.map(|v| v as f64),
};

/// `requests_per_s`: requests sent per second of driven traffic (the achieved rate)
pub const REQUESTS_PER_S: Figure = Figure {
    name: "requests_per_s",
    about: "requests sent per second, from the first request's start to the last one's end (the achieved rate)",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.requests_per_s.filter(|_| !r.requests_unmeasured),
};

/// `connections_per_s`: connections opened per second of driven traffic
pub const CONNECTIONS_PER_S: Figure = Figure {
    name: "connections_per_s",
    about: "connections opened (best exact source) per second of driven traffic",
    sources: &[],
    worse: Worse::Neither,
    needs: None,
    value: |r, _| r.connections_per_s,
};

/// The figure with this name.
pub fn lookup(name: &str) -> Option<&'static Figure> {
    FIGURES.iter().copied().find(|f| f.name == name)
}

/// Every figure's name, for error messages.
pub fn names() -> String {
    FIGURES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_has_a_unique_snake_case_name() {
        let mut seen = std::collections::HashSet::new();
        for figure in FIGURES {
            assert!(seen.insert(figure.name), "{} twice", figure.name);
            assert!(
                figure
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                figure.name
            );
            assert_eq!(lookup(figure.name).map(|f| f.name), Some(figure.name));
        }
        assert!(lookup("connections_opend").is_none());
    }
}
