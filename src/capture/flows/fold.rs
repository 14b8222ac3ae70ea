//! The wire's connection records beyond the detail cap, folded into exact aggregates as the
//! assembler hands them out (see `model::detail`): the capture's part of bounded memory.

use std::collections::HashSet;

use super::summary::{CaptureSummary, SummaryBuilder};
use super::PacketCounts;
use crate::model::detail::{add_end, merge_closes, ByEndpoint, HandshakeCounts, Histogram, Merge};
use crate::model::{Closes, ConnectionRecord, FourTuple, ResetCauses};

/// What the report needs of a set of captured connections (opened = [`ConnectionRecord::opened`]).
#[derive(Debug, Clone, Default)]
pub struct CaptureFold {
    /// The capture summary's counts over these records.
    pub summary: SummaryBuilder,
    /// How the opened connections ended.
    pub closes: Closes,
    /// Resets among the opened connections, by cause.
    pub reset_causes: ResetCauses,
    /// Opened connections that carried no byte from the client.
    pub without_payload: u64,
    /// Requests per opened connection.
    pub requests_per_connection: Histogram,
    /// Requests on opened connections.
    pub requests: u64,
    /// Of those, requests answered (per connection, the fewer of requests and responses).
    pub answered: u64,
    /// TLS handshakes of the opened connections.
    pub tls: HandshakeCounts,
    /// Some connection (opened or not) had a TLS handshake on the wire.
    pub any_tls: bool,
    /// The 4-tuples of the opened connections.
    pub opened_tuples: HashSet<FourTuple>,
}

impl CaptureFold {
    /// Folds one record.
    pub fn add(&mut self, r: &ConnectionRecord) {
        self.summary.add(r);
        self.any_tls |= r.tls.is_some();
        if !r.opened() {
            return;
        }
        add_end(&mut self.closes, r.end);
        let causes = ResetCauses::count([r]);
        self.reset_causes.abortive += causes.abortive;
        self.reset_causes.idle_race += causes.idle_race;
        self.without_payload += u64::from(r.payload_bytes_to_server == 0);
        self.requests_per_connection.add(r.requests);
        self.requests += r.requests;
        self.answered += r.requests.min(r.responses);
        self.tls.add(r.tls.as_ref());
        self.opened_tuples.insert(r.tuple);
    }

    /// Folds every record of `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a ConnectionRecord>) -> Self {
        let mut fold = Self::default();
        records.into_iter().for_each(|r| fold.add(r));
        fold
    }
}

impl Merge for CaptureFold {
    fn merge(&mut self, other: &Self) {
        self.summary.merge(&other.summary);
        merge_closes(&mut self.closes, &other.closes);
        self.reset_causes.abortive += other.reset_causes.abortive;
        self.reset_causes.idle_race += other.reset_causes.idle_race;
        self.without_payload += other.without_payload;
        self.requests_per_connection
            .merge(&other.requests_per_connection);
        self.requests += other.requests;
        self.answered += other.answered;
        self.tls.merge(&other.tls);
        self.any_tls |= other.any_tls;
        self.opened_tuples
            .extend(other.opened_tuples.iter().copied());
    }
}

/// The records a capture did not keep, folded per server endpoint, with how many it kept.
#[derive(Debug, Clone, Default)]
pub struct DroppedConnections {
    /// The folds, per server address.
    pub folds: ByEndpoint<CaptureFold>,
    /// Records kept as detail.
    pub kept: u64,
    /// Records handed out in all.
    pub seen: u64,
}

impl DroppedConnections {
    /// Folds one record not kept.
    pub fn add(&mut self, r: &ConnectionRecord) {
        self.folds.at(Some(r.tuple.server)).add(r);
    }
}

/// Summarises the kept `records` and the ones folded in `dropped`, with the packet counts.
pub fn summarize_with(
    records: &[ConnectionRecord],
    dropped: &DroppedConnections,
    counts: &PacketCounts,
) -> CaptureSummary {
    let mut builder = SummaryBuilder::new();
    for r in records {
        builder.add(r);
    }
    builder.merge(&dropped.folds.total().summary);
    builder.finish(counts)
}
