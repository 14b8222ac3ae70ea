//! Counts over a capture's connections: the summary `analyze` and the capture source report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PacketCounts;
use crate::model::{ConnectionRecord, EndState, HandshakeKind};

/// Counts over a capture's connections. Connection-level counts cover full connections (SYN
/// captured); partial connections are counted apart. Times are not part of the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureSummary {
    /// Connections whose opening SYN (without ACK) was captured (refused and unanswered
    /// attempts included: see `refused` and `unanswered`).
    pub connections_opened: u64,
    /// Connections whose SYN was not captured.
    pub partial_connections: u64,
    /// Of `connections_opened`, the attempts whose SYN was answered by a RST (nothing
    /// listened): a run's report does not count them as opened.
    #[serde(default)]
    pub refused: u64,
    /// Of `connections_opened`, the attempts whose SYN nobody answered (no SYN-ACK, no packet
    /// from the server; retransmitted SYNs are the same attempt): a run's report does not
    /// count them as opened.
    #[serde(default)]
    pub unanswered: u64,
    /// Full connections in which the client sent a FIN.
    pub fins_from_client: u64,
    /// Full connections in which the server sent a FIN.
    pub fins_from_server: u64,
    /// Full connections in which an RST was seen.
    pub resets: u64,
    /// Full connections ended `closed-by-client`.
    pub closes_by_client: u64,
    /// Full connections ended `closed-by-server`.
    pub closes_by_server: u64,
    /// Full connections ended `reset`.
    pub closes_by_reset: u64,
    /// Full connections still open at the end of the capture.
    pub open_at_end: u64,
    /// Full connections ended `closed-simultaneously` (the FINs crossed).
    #[serde(default)]
    pub closes_simultaneous: u64,
    /// HTTP/1.x requests started on full connections (TLS connections' requests are encrypted
    /// and not counted: see `tls_connections`).
    pub requests: u64,
    /// Requests seen on partial connections.
    pub partial_requests: u64,
    /// `requests / connections_opened`, over plain (not TLS) connections; None without any.
    pub reuse_ratio: Option<f64>,
    /// Fewest requests on one full connection.
    pub requests_per_connection_min: Option<u64>,
    /// Median requests per full connection (plain connections only, as min and max).
    pub requests_per_connection_median: Option<f64>,
    /// Most requests on one full connection.
    pub requests_per_connection_max: Option<u64>,
    /// FIN segments sent by clients (retransmissions included: comparable with tshark filters).
    pub fin_packets_from_client: u64,
    /// FIN segments sent by the server.
    pub fin_packets_from_server: u64,
    /// RST segments, either side.
    pub rst_packets: u64,
    /// Connections that speak TLS (a TLS handshake record opened the client's stream), partial
    /// connections included. Their HTTP requests are encrypted: not in `requests`.
    #[serde(default)]
    pub tls_connections: u64,
    /// Of `tls_connections`, full handshakes (without a HelloRetryRequest).
    #[serde(default)]
    pub tls_handshakes_full: u64,
    /// Of `tls_connections`, full handshakes after a HelloRetryRequest (TLS 1.3).
    #[serde(default)]
    pub tls_handshakes_full_hrr: u64,
    /// Of `tls_connections`, resumed handshakes (TLS 1.3 pre-shared key, TLS 1.2 session id or
    /// ticket).
    #[serde(default)]
    pub tls_handshakes_resumed: u64,
    /// Of `tls_connections`, handshakes that could not be classified (no ServerHello captured,
    /// or the server answered with an alert).
    #[serde(default)]
    pub tls_unclassified: u64,
}

/// Builds a [`CaptureSummary`] from records one at a time, in constant memory per distinct
/// request count (for the median).
#[derive(Debug, Default, Clone)]
pub struct SummaryBuilder {
    summary: CaptureSummary,
    /// Full connections that are not TLS: the ones whose requests are counted.
    plain_connections: u64,
    requests_histogram: BTreeMap<u64, u64>,
}

impl SummaryBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one connection.
    pub fn add(&mut self, r: &ConnectionRecord) {
        let s = &mut self.summary;
        if r.tls_seen {
            s.tls_connections += 1;
            match r.tls.as_ref().map(|t| t.kind) {
                Some(HandshakeKind::Full) => s.tls_handshakes_full += 1,
                Some(HandshakeKind::FullHrr) => s.tls_handshakes_full_hrr += 1,
                Some(HandshakeKind::Resumed) => s.tls_handshakes_resumed += 1,
                None => s.tls_unclassified += 1,
            }
        }
        if r.partial {
            s.partial_connections += 1;
            s.partial_requests += r.requests;
            return;
        }
        s.refused += u64::from(r.refused());
        s.unanswered += u64::from(r.unanswered());
        s.connections_opened += 1;
        s.fins_from_client += u64::from(r.client_fin_at_us.is_some());
        s.fins_from_server += u64::from(r.server_fin_at_us.is_some());
        s.resets += u64::from(r.rst_at_us.is_some());
        match r.end {
            EndState::ClosedByClient => s.closes_by_client += 1,
            EndState::ClosedByServer => s.closes_by_server += 1,
            EndState::Reset => s.closes_by_reset += 1,
            EndState::OpenAtEnd => s.open_at_end += 1,
            EndState::ClosedSimultaneously => s.closes_simultaneous += 1,
        }
        if !r.tls_seen {
            s.requests += r.requests;
            self.plain_connections += 1;
            *self.requests_histogram.entry(r.requests).or_default() += 1;
        }
    }

    /// Adds everything `other` counted (its packet-level counts are not its own: see
    /// [`SummaryBuilder::finish`]).
    pub fn merge(&mut self, other: &SummaryBuilder) {
        let (s, o) = (&mut self.summary, &other.summary);
        s.connections_opened += o.connections_opened;
        s.partial_connections += o.partial_connections;
        s.refused += o.refused;
        s.unanswered += o.unanswered;
        s.fins_from_client += o.fins_from_client;
        s.fins_from_server += o.fins_from_server;
        s.resets += o.resets;
        s.closes_by_client += o.closes_by_client;
        s.closes_by_server += o.closes_by_server;
        s.closes_by_reset += o.closes_by_reset;
        s.open_at_end += o.open_at_end;
        s.closes_simultaneous += o.closes_simultaneous;
        s.requests += o.requests;
        s.partial_requests += o.partial_requests;
        s.tls_connections += o.tls_connections;
        s.tls_handshakes_full += o.tls_handshakes_full;
        s.tls_handshakes_full_hrr += o.tls_handshakes_full_hrr;
        s.tls_handshakes_resumed += o.tls_handshakes_resumed;
        s.tls_unclassified += o.tls_unclassified;
        self.plain_connections += other.plain_connections;
        for (&requests, &n) in &other.requests_histogram {
            *self.requests_histogram.entry(requests).or_default() += n;
        }
    }

    /// The summary, with the packet-level counts copied in.
    pub fn finish(&self, counts: &PacketCounts) -> CaptureSummary {
        let mut s = self.summary.clone();
        s.fin_packets_from_client = counts.fin_packets_from_client;
        s.fin_packets_from_server = counts.fin_packets_from_server;
        s.rst_packets = counts.rst_packets;
        if self.plain_connections > 0 {
            s.reuse_ratio = Some(s.requests as f64 / self.plain_connections as f64);
        }
        s.requests_per_connection_min = self.requests_histogram.keys().next().copied();
        s.requests_per_connection_max = self.requests_histogram.keys().next_back().copied();
        s.requests_per_connection_median = median(&self.requests_histogram, self.plain_connections);
        s
    }
}

/// Median of a histogram holding `n` values.
fn median(histogram: &BTreeMap<u64, u64>, n: u64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let nth = |k: u64| {
        let mut seen = 0;
        for (&value, &count) in histogram {
            seen += count;
            if seen > k {
                return value;
            }
        }
        0
    };
    let (lo, hi) = (nth((n - 1) / 2), nth(n / 2));
    Some((lo as f64 + hi as f64) / 2.0)
}

/// Summarises a set of records with the given packet counts.
pub fn summarize(records: &[ConnectionRecord], counts: &PacketCounts) -> CaptureSummary {
    let mut builder = SummaryBuilder::new();
    for r in records {
        builder.add(r);
    }
    builder.finish(counts)
}
