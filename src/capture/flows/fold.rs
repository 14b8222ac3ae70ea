//! The wire's connection records beyond the detail cap, folded into exact aggregates as the
//! assembler hands them out (see `model::detail`): the capture's part of bounded memory.

use std::collections::{HashMap, HashSet};

use super::summary::{CaptureSummary, SummaryBuilder};
use super::PacketCounts;
use crate::model::detail::{add_end, merge_closes, ByEndpoint, HandshakeCounts, Histogram, Merge};
use crate::model::{
    Closes, ConnectionRecord, EndState, FourTuple, ResetCauses, Side, SideReconciliation, TimeWait,
    TimeWaitReconciliation,
};

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

/// Closes reconciled with TIME_WAIT (see `report::reconcile`), one connection at a time: the
/// terms decided so far, and each 4-tuple's closes still waiting for a later SYN on it (one or
/// two per 4-tuple: memory bounded by the 4-tuples, not the connections). Feed it the opened
/// connections of each 4-tuple in the order they started.
#[derive(Debug, Clone, Default)]
pub struct ReconcileTally {
    client: SideReconciliation,
    server: SideReconciliation,
    /// Per 4-tuple, the closes (side, closed at) no later SYN has followed yet.
    pending: HashMap<FourTuple, Vec<(Side, u64)>>,
}

impl ReconcileTally {
    fn side(&mut self, side: Side) -> &mut SideReconciliation {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// Adds one connection; `time_wait_secs` is the TIME_WAIT period.
    pub fn add(&mut self, c: &ConnectionRecord, time_wait_secs: u64) {
        if !c.opened() {
            return;
        }
        let period_us = time_wait_secs.saturating_mul(1_000_000);
        let syn = c.started_at_us();
        // This SYN recycles (or follows long after) the earlier closes on its 4-tuple.
        if let Some(mut waiting) = self.pending.remove(&c.tuple) {
            waiting.retain(|&(side, closed_at)| {
                if syn <= closed_at {
                    return true;
                }
                let terms = self.side(side);
                if syn - closed_at < period_us {
                    terms.recycled += 1;
                } else {
                    // Expired before this SYN, so before the end too.
                    terms.expired += 1;
                }
                false
            });
            if !waiting.is_empty() {
                self.pending.insert(c.tuple, waiting);
            }
        }
        // The sides that hold TIME_WAIT: the first closer, or both when the FINs crossed.
        let closers: &[Side] = match (c.end, c.active_closer) {
            (EndState::ClosedSimultaneously, _) => &[Side::Client, Side::Server],
            (_, Some(Side::Client)) => &[Side::Client],
            (_, Some(Side::Server)) => &[Side::Server],
            (_, None) => &[],
        };
        for &closer in closers {
            let closed_at = match closer {
                Side::Client => c.client_fin_at_us,
                Side::Server => c.server_fin_at_us,
            }
            .unwrap_or(c.last_packet_at_us);
            let terms = self.side(closer);
            terms.closes += 1;
            terms.simultaneous += u64::from(c.closed_simultaneously());
            if c.end == EndState::Reset {
                terms.reset += 1;
                continue;
            }
            self.pending
                .entry(c.tuple)
                .or_default()
                .push((closer, closed_at));
        }
    }

    /// The reconciliation with the final snapshot's TIME_WAIT sockets, taken at `end_at_us`.
    pub fn finish(
        &self,
        time_wait: &TimeWait,
        end_at_us: u64,
        time_wait_secs: u64,
    ) -> TimeWaitReconciliation {
        let period_us = time_wait_secs.saturating_mul(1_000_000);
        let mut result = TimeWaitReconciliation {
            client: SideReconciliation {
                time_wait_end: time_wait.time_wait_client_end,
                ..self.client
            },
            server: SideReconciliation {
                time_wait_end: time_wait.time_wait_server_end,
                ..self.server
            },
            time_wait_secs,
        };
        for &(side, closed_at) in self.pending.values().flatten() {
            if end_at_us.saturating_sub(closed_at) >= period_us {
                match side {
                    Side::Client => result.client.expired += 1,
                    Side::Server => result.server.expired += 1,
                }
            }
        }
        for side in [&mut result.client, &mut result.server] {
            let explained = side.time_wait_end + side.reset + side.recycled + side.expired;
            side.unexplained = side.closes as i64 - explained as i64;
        }
        result
    }
}

impl Merge for ReconcileTally {
    fn merge(&mut self, other: &Self) {
        for (mine, theirs) in [
            (&mut self.client, &other.client),
            (&mut self.server, &other.server),
        ] {
            mine.closes += theirs.closes;
            mine.reset += theirs.reset;
            mine.recycled += theirs.recycled;
            mine.expired += theirs.expired;
            mine.simultaneous += theirs.simultaneous;
        }
        for (tuple, waiting) in &other.pending {
            self.pending
                .entry(*tuple)
                .or_default()
                .extend(waiting.iter().copied());
        }
    }
}

/// The records a capture did not keep, folded per server endpoint, with how many it kept.
#[derive(Debug, Clone, Default)]
pub struct DroppedConnections {
    /// The folds, per server address.
    pub folds: ByEndpoint<CaptureFold>,
    /// Every record handed out (kept or not) reconciled as it came, per server address, when a
    /// detail cap is set: the TIME_WAIT reconciliation of a capped capture.
    pub reconcile: ByEndpoint<ReconcileTally>,
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
