//! Flow assembly: TCP segments in capture order to one [`ConnectionRecord`] per connection.
//!
//! Pure: no I/O, no clock. A connection is its 4-tuple plus the client's initial sequence number;
//! Linux reuses 4-tuples within one run, so a SYN whose sequence number differs from the known
//! ISN on the same 4-tuple starts a new connection. The server side is recognised by its port.
//! Memory grows with the connections still open: a finished connection (RST, or FINs from both
//! sides) is handed out once it has been quiet for [`LINGER_US`] of capture time, so its final
//! ACK is still attributed to it. For [`TOMBSTONE_US`] after that (for [`LATE_TOMBSTONE_US`]
//! when it saw retransmissions, or after its latest late segment), its 4-tuple is remembered in a small set so that a late
//! retransmission is counted as late instead of opening a spurious partial connection. (Keeping finished flows short-lived keeps the flow table in cache: a
//! one-second linger made the 1.2-million-packet benchmark 50% slower.)

mod fold;
mod summary;
mod table;

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

pub use self::fold::{summarize_with, CaptureFold, DroppedConnections, ReconcileTally};
pub use self::summary::{summarize, CaptureSummary, SummaryBuilder};
use self::table::{TableKey, Tables, V4Key, V6Key};
use super::decode::TcpSegment;
use super::http::{MessageCounter, MessageKind};
use super::tls::TlsWire;
use crate::model::{ConnectionRecord, EndState, FourTuple, Side};

/// How long (capture time) a finished connection is kept to collect its final ACK.
pub const LINGER_US: u64 = 100_000;
/// How long (capture time) the 4-tuple of a handed-out connection is remembered, so late
/// retransmissions are counted in [`PacketCounts::late`] instead of opening a partial connection.
pub const TOMBSTONE_US: u64 = 2_000_000;
/// How long (capture time) a handed-out connection's 4-tuple is remembered after each late
/// segment, and after the hand-out of a connection that saw retransmissions: a retransmitted
/// FIN comes again, with a backed-off timeout, until the other end's TIME_WAIT (60 s) is over.
pub const LATE_TOMBSTONE_US: u64 = 60_000_000;

struct Flow {
    record: ConnectionRecord,
    requests: MessageCounter,
    responses: MessageCounter,
    /// The sequence number just past each side's first FIN (client, server): what the other
    /// side acknowledges once it has received that FIN.
    fin_end: [Option<u32>; 2],
    /// Both FINs were sent before either was acknowledged.
    simultaneous_close: bool,
    /// Just past the highest sequence number each side (client, server) has sent.
    seq_end: [Option<u32>; 2],
    /// A SYN, FIN or data was seen again (retransmitted or duplicated): the link loses packets,
    /// so late segments may come long after the close.
    retransmitted: bool,
    tls: TlsWire,
}

impl Flow {
    fn open(tuple: FourTuple, seg: &TcpSegment<'_>, opening_syn: bool) -> Flow {
        let mut record = ConnectionRecord::new(tuple, seg.ts_us);
        if opening_syn {
            record.partial = false;
            record.client_isn = seg.seq;
            let mut requests = MessageCounter::new(MessageKind::Request);
            requests.set_first_seq(seg.seq.wrapping_add(1));
            Flow {
                record,
                requests,
                responses: MessageCounter::new(MessageKind::Response),
                fin_end: [None; 2],
                simultaneous_close: false,
                seq_end: [None; 2],
                retransmitted: false,
                tls: TlsWire::default(),
            }
        } else {
            Flow {
                record,
                requests: MessageCounter::new_mid_stream(MessageKind::Request),
                responses: MessageCounter::new_mid_stream(MessageKind::Response),
                fin_end: [None; 2],
                simultaneous_close: false,
                seq_end: [None; 2],
                retransmitted: false,
                tls: TlsWire::default(),
            }
        }
    }

    /// Adds one segment of this connection, sent by `side`: handshake times, payload and HTTP
    /// messages, TLS hellos, FINs and RSTs.
    #[inline]
    fn record_segment(&mut self, side: Side, seg: &TcpSegment<'_>, counts: &mut PacketCounts) {
        let r = &mut self.record;
        let flags = seg.flags;
        r.last_packet_at_us = r.last_packet_at_us.max(seg.ts_us);
        if flags.syn() && !flags.ack() && side == Side::Client {
            r.syn_at_us.get_or_insert(seg.ts_us);
        }
        if flags.syn() && flags.ack() && side == Side::Server && r.syn_ack_at_us.is_none() {
            r.syn_ack_at_us = Some(seg.ts_us);
            if r.partial && r.client_isn == 0 {
                r.client_isn = seg.ack.wrapping_sub(1);
            }
            // The server's stream starts right after its SYN.
            if !r.partial {
                self.responses.set_first_seq(seg.seq.wrapping_add(1));
            }
        }
        // Data in a SYN (TCP Fast Open) follows the ISN.
        let data_seq = if flags.syn() {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        // Most segments carry no data (handshakes, ACKs, FINs): no message counting for them.
        let data = seg.payload_len > 0;
        match side {
            Side::Client => {
                r.packets_to_server += 1;
                r.payload_bytes_to_server += u64::from(seg.payload_len);
                if data {
                    self.requests.push(
                        data_seq,
                        seg.payload,
                        seg.payload_len,
                        seg.ts_us,
                        &mut r.request_times_us,
                    );
                }
            }
            Side::Server => {
                r.packets_to_client += 1;
                r.payload_bytes_to_client += u64::from(seg.payload_len);
                if data {
                    self.responses.push(
                        data_seq,
                        seg.payload,
                        seg.payload_len,
                        seg.ts_us,
                        &mut r.responses,
                    );
                }
            }
        }
        if self.tls.wants_segments() {
            self.tls.segment(side == Side::Client, seg);
        }
        if flags.fin() {
            match side {
                Side::Client => {
                    counts.fin_packets_from_client += 1;
                    r.client_fin_at_us.get_or_insert(seg.ts_us);
                }
                Side::Server => {
                    counts.fin_packets_from_server += 1;
                    r.server_fin_at_us.get_or_insert(seg.ts_us);
                }
            }
            r.active_closer.get_or_insert(side);
        }
        if flags.rst() {
            counts.rst_packets += 1;
            if r.rst_at_us.is_none() {
                r.rst_at_us = Some(seg.ts_us);
                r.rst_from = Some(side);
            }
        }
        if flags.fin() {
            self.note_fin(side, data_seq, seg);
        }
        self.note_sequence(side, seg);
    }

    /// Notes a segment that carries nothing new (its SYN, data or FIN seen before).
    #[inline]
    fn note_sequence(&mut self, side: Side, seg: &TcpSegment<'_>) {
        let flags = seg.flags;
        let consumed = seg.payload_len + u32::from(flags.syn()) + u32::from(flags.fin());
        if consumed == 0 {
            return;
        }
        let end = seg.seq.wrapping_add(consumed);
        let high = &mut self.seq_end[side as usize];
        match *high {
            Some(h) if end.wrapping_sub(h) as i32 <= 0 => self.retransmitted = true,
            _ => *high = Some(end),
        }
    }

    /// Takes note of a FIN from `side`: where its sequence space ends and, for the second side's
    /// first FIN, whether it was sent before the first side's FIN had arrived (its ACK does not
    /// cover that FIN): then the FINs crossed, a simultaneous close. A FIN seen again (a
    /// retransmission or a duplicate) changes nothing.
    fn note_fin(&mut self, side: Side, data_seq: u32, seg: &TcpSegment<'_>) {
        let (mine, theirs) = match side {
            Side::Client => (0, 1),
            Side::Server => (1, 0),
        };
        if self.fin_end[mine].is_some() {
            return;
        }
        self.fin_end[mine] = Some(data_seq.wrapping_add(seg.payload_len).wrapping_add(1));
        if let Some(their_end) = self.fin_end[theirs] {
            let acknowledged = seg.flags.ack() && seg.ack.wrapping_sub(their_end) as i32 >= 0;
            self.simultaneous_close = !acknowledged;
        }
    }

    fn finished(&self) -> bool {
        self.record.rst_at_us.is_some()
            || (self.record.client_fin_at_us.is_some() && self.record.server_fin_at_us.is_some())
    }

    fn into_record(mut self) -> ConnectionRecord {
        let r = &mut self.record;
        (r.tls_seen, r.tls) = self.tls.finish();
        if r.tls_seen {
            // Encrypted bytes that happened to look like a message start are not messages.
            r.request_times_us.clear();
            r.responses = 0;
        }
        r.requests = r.request_times_us.len() as u64;
        r.end = if r.rst_at_us.is_some() {
            EndState::Reset
        } else if self.simultaneous_close {
            EndState::ClosedSimultaneously
        } else {
            match r.active_closer {
                Some(Side::Client) => EndState::ClosedByClient,
                Some(Side::Server) => EndState::ClosedByServer,
                None => EndState::OpenAtEnd,
            }
        };
        self.record
    }
}

/// Packet-level counts that do not belong to one connection record.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PacketCounts {
    /// TCP segments assembled (to or from the server port).
    pub segments: u64,
    /// Segments with FIN sent by clients (retransmissions included, as tshark's flag filters).
    pub fin_packets_from_client: u64,
    /// Segments with FIN sent by the server.
    pub fin_packets_from_server: u64,
    /// Segments with RST, either side.
    pub rst_packets: u64,
    /// TCP segments on neither side of the server port.
    pub other_port: u64,
    /// Segments (other than a SYN) for a connection already handed out: late retransmissions.
    pub late: u64,
}

/// A running count of what a capture has seen so far (see [`FlowAssembler::tally`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveTally {
    /// Connections whose SYN was seen.
    pub opened: u64,
    /// Connections seen without their SYN (open before the capture started).
    pub already_open: u64,
    /// HTTP/1.x request heads on the opened connections.
    pub requests: u64,
    /// Opened connections neither side has begun to close.
    pub open: u64,
}

/// Assembles segments into connections. Feed segments in capture order with [`push`].
///
/// [`push`]: FlowAssembler::push
pub struct FlowAssembler {
    server_port: u16,
    tables: Tables,
    slab: Vec<Option<Flow>>,
    free: Vec<usize>,
    /// Scratch list of (start time, slot) released by one sweep.
    expired: Vec<(u64, usize)>,
    last_tombstone_prune_us: u64,
    done: Vec<ConnectionRecord>,
    counts: PacketCounts,
    last_sweep_us: u64,
    /// Records kept as detail at most (see [`FlowAssembler::set_detail_cap`]).
    detail_cap: usize,
    /// Records beyond the cap, folded.
    dropped: DroppedConnections,
}

impl FlowAssembler {
    /// An assembler for connections to `server_port`.
    pub fn new(server_port: u16) -> Self {
        FlowAssembler {
            server_port,
            tables: Tables::default(),
            slab: Vec::new(),
            free: Vec::new(),
            expired: Vec::new(),
            last_tombstone_prune_us: 0,
            done: Vec::new(),
            counts: PacketCounts::default(),
            last_sweep_us: 0,
            detail_cap: usize::MAX,
            dropped: DroppedConnections::default(),
        }
    }

    /// The server port this assembler orients connections by.
    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    /// Packet-level counts so far.
    pub fn counts(&self) -> PacketCounts {
        self.counts
    }

    /// Connections currently held (open, or finished and lingering).
    pub fn open_connections(&self) -> usize {
        self.tables.v4.flows.len() + self.tables.v6.flows.len()
    }

    /// Adds one segment. Returns false when it is on neither side of the server port.
    pub fn push(&mut self, seg: &TcpSegment<'_>) -> bool {
        let side = if seg.dst.port() == self.server_port {
            Side::Client
        } else if seg.src.port() == self.server_port {
            Side::Server
        } else {
            self.counts.other_port += 1;
            return false;
        };
        self.counts.segments += 1;
        if seg.ts_us >= self.last_sweep_us.saturating_add(LINGER_US) {
            self.sweep(seg.ts_us);
        }
        let opening_syn = side == Side::Client && seg.flags.syn() && !seg.flags.ack();
        let Some(index) = self.locate_tuple(side, seg, opening_syn) else {
            self.counts.late += 1;
            return true;
        };
        if let Some(flow) = self.slab[index].as_mut() {
            flow.record_segment(side, seg, &mut self.counts);
        }
        true
    }

    /// Finds (or opens) the flow of `seg`, sent by `side`, in the table of its address family.
    #[inline]
    fn locate_tuple(
        &mut self,
        side: Side,
        seg: &TcpSegment<'_>,
        opening_syn: bool,
    ) -> Option<usize> {
        let (client, server) = match side {
            Side::Client => (&seg.src, &seg.dst),
            Side::Server => (&seg.dst, &seg.src),
        };
        let ports = u32::from(server.port()) << 16 | u32::from(client.port());
        match (client, server) {
            (SocketAddr::V4(client), SocketAddr::V4(server)) => {
                let key = V4Key {
                    ips: u64::from(client.ip().to_bits()) << 32 | u64::from(server.ip().to_bits()),
                    ports,
                };
                self.locate(key, side, seg, opening_syn)
            }
            (client, server) => {
                let bits = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => u128::from(u32::from(v4)),
                    IpAddr::V6(v6) => u128::from(v6),
                };
                let key = V6Key {
                    client_ip: bits(client.ip()),
                    server_ip: bits(server.ip()),
                    ports,
                    v6: client.is_ipv6(),
                };
                self.locate(key, side, seg, opening_syn)
            }
        }
    }

    /// The slab index of the connection `seg` belongs to, opening one if needed; None for a late
    /// segment of a connection already handed out.
    fn locate<K: TableKey>(
        &mut self,
        key: K,
        side: Side,
        seg: &TcpSegment<'_>,
        opening_syn: bool,
    ) -> Option<usize> {
        let mut slot = K::table(&mut self.tables).flows.get(&key).copied();
        if let (true, Some(index)) = (opening_syn, slot) {
            let reused = self.slab[index]
                .as_ref()
                .is_some_and(|f| f.record.partial || f.record.client_isn != seg.seq);
            if reused {
                K::table(&mut self.tables).flows.remove(&key);
                self.release(index);
                slot = None;
            }
        }
        if let Some(index) = slot {
            return Some(index);
        }
        let table = K::table(&mut self.tables);
        if !opening_syn {
            if let Some(kept_at_us) = table.tombstones.get_mut(&key) {
                // A late segment keeps the tuple remembered for LATE_TOMBSTONE_US more: a FIN
                // whose ACK was lost is retransmitted with a doubling timeout, for as long as
                // the other end holds TIME_WAIT. (Pruning keeps entries for TOMBSTONE_US after
                // their time, hence the offset.) Few tuples ever get here.
                let until_us = seg.ts_us.saturating_add(LATE_TOMBSTONE_US - TOMBSTONE_US);
                *kept_at_us = (*kept_at_us).max(until_us);
                return None;
            }
        }
        let tuple = match side {
            Side::Client => FourTuple::new(seg.src, seg.dst),
            Side::Server => FourTuple::new(seg.dst, seg.src),
        };
        let flow = Flow::open(tuple, seg, opening_syn);
        let index = match self.free.pop() {
            Some(index) => {
                self.slab[index] = Some(flow);
                index
            }
            None => {
                self.slab.push(Some(flow));
                self.slab.len() - 1
            }
        };
        // A tombstone for this key may stay: it is only consulted while the key has no live
        // flow, and handing this flow out overwrites it with a new time. (Removing it here cost
        // one cache-missing probe per connection.)
        table.flows.insert(key, index);
        Some(index)
    }

    /// Frees a slab slot, handing its connection to the finished list.
    fn release(&mut self, index: usize) {
        if let Some(flow) = self.slab[index].take() {
            let record = flow.into_record();
            self.hand_out(record);
            self.free.push(index);
        }
    }

    /// Keeps a finished record as detail while under the cap, folds it otherwise.
    fn hand_out(&mut self, record: ConnectionRecord) {
        self.dropped.seen += 1;
        if self.detail_cap != usize::MAX {
            self.dropped
                .reconcile
                .at(Some(record.tuple.server))
                .add(&record, crate::sockets::forecast::TIME_WAIT_SECS);
        }
        if self.dropped.kept < self.detail_cap as u64 {
            self.dropped.kept += 1;
            self.done.push(record);
        } else {
            self.dropped.add(&record);
        }
    }

    /// Keeps at most `cap` records as detail (the first ones handed out); every record beyond
    /// it is folded into exact aggregates ([`FlowAssembler::finish_capped`]) and dropped, so
    /// memory holds the open connections and the cap, not the run. Without a call: no cap.
    pub fn set_detail_cap(&mut self, cap: usize) {
        self.detail_cap = cap;
    }

    /// Moves finished connections quiet for [`LINGER_US`] to the finished list, in order of
    /// start time within one sweep rather than the hash table's order.
    fn sweep(&mut self, now_us: u64) {
        self.last_sweep_us = now_us;
        let prune = now_us
            >= self
                .last_tombstone_prune_us
                .saturating_add(TOMBSTONE_US / 2);
        if prune {
            self.last_tombstone_prune_us = now_us;
        }
        let mut expired = std::mem::take(&mut self.expired);
        self.sweep_table::<V4Key>(now_us, prune, &mut expired);
        self.sweep_table::<V6Key>(now_us, prune, &mut expired);
        let slab = &self.slab;
        for (start, index) in expired.iter_mut() {
            *start = slab[*index]
                .as_ref()
                .map_or(0, |f| f.record.started_at_us());
        }
        expired.sort_unstable();
        for (_, index) in expired.drain(..) {
            self.release(index);
        }
        self.expired = expired;
    }

    /// Drops finished, quiet flows of one table, leaving tombstones; their slots go to `expired`.
    fn sweep_table<K: TableKey>(
        &mut self,
        now_us: u64,
        prune: bool,
        expired: &mut Vec<(u64, usize)>,
    ) {
        let cutoff = now_us.saturating_sub(LINGER_US);
        let slab = &self.slab;
        let table = K::table(&mut self.tables);
        let tombstones = &mut table.tombstones;
        table.flows.retain(|key, index| {
            let flow = slab[*index].as_ref();
            let keep = flow.is_some_and(|f| !f.finished() || f.record.last_packet_at_us >= cutoff);
            if !keep {
                // On a link that loses packets the last FIN may come again seconds later.
                let lossy = flow.is_some_and(|f| f.retransmitted);
                let kept_at_us = if lossy {
                    now_us.saturating_add(LATE_TOMBSTONE_US - TOMBSTONE_US)
                } else {
                    now_us
                };
                tombstones.insert(*key, kept_at_us);
                expired.push((0, *index));
            }
            keep
        });
        if prune {
            let cutoff = now_us.saturating_sub(TOMBSTONE_US);
            tombstones.retain(|_, at| *at >= cutoff);
        }
    }

    /// Takes the connections finished so far (in the order they were handed out).
    pub fn take_finished(&mut self) -> Vec<ConnectionRecord> {
        std::mem::take(&mut self.done)
    }

    /// Like [`FlowAssembler::take_finished`], into `spare` (emptied first) by swapping lists:
    /// neither list's allocation is given up, so a caller draining `spare` each time does not
    /// grow a new list for every batch.
    pub fn swap_finished(&mut self, spare: &mut Vec<ConnectionRecord>) {
        spare.clear();
        std::mem::swap(&mut self.done, spare);
    }

    /// What the connections assembled so far add up to, for a live display while capturing:
    /// costs one pass over the connections held, so call it now and then, not per packet.
    pub fn tally(&self) -> LiveTally {
        let mut tally = LiveTally::default();
        let live = self.slab.iter().flatten().map(|flow| {
            (
                &flow.record,
                flow.record.request_times_us.len() as u64,
                flow.finished(),
            )
        });
        let done = self.done.iter().map(|r| (r, r.requests, true));
        let dropped = self
            .dropped
            .folds
            .total()
            .summary
            .finish(&PacketCounts::default());
        tally.opened += dropped.connections_opened;
        tally.already_open += dropped.partial_connections;
        tally.requests += dropped.requests;
        for (record, requests, finished) in live.chain(done) {
            if record.partial {
                tally.already_open += 1;
                continue;
            }
            tally.opened += 1;
            tally.requests += requests;
            if !finished && record.active_closer.is_none() {
                tally.open += 1;
            }
        }
        tally
    }

    /// Ends assembly: every connection, finished ones first, then the rest sorted by start time.
    /// (Without a detail cap; with one, see [`FlowAssembler::finish_capped`].)
    pub fn finish(mut self) -> Vec<ConnectionRecord> {
        let (mut all, rest) = self.finish_parts();
        all.extend(rest);
        all
    }

    /// [`finish`](FlowAssembler::finish) in its two parts: the finished connections not yet
    /// taken, in the order they were handed out, and the rest sorted by start time.
    pub fn finish_parts(&mut self) -> (Vec<ConnectionRecord>, Vec<ConnectionRecord>) {
        let mut rest: Vec<ConnectionRecord> = self
            .slab
            .drain(..)
            .flatten()
            .map(Flow::into_record)
            .collect();
        self.free.clear();
        self.tables = Tables::default();
        rest.sort_by_key(|r| (r.started_at_us(), r.tuple));
        (std::mem::take(&mut self.done), rest)
    }

    /// Like [`FlowAssembler::finish`], with the detail cap applied to the connections still
    /// open too: the records kept, and the ones folded beyond the cap.
    pub fn finish_capped(mut self) -> (Vec<ConnectionRecord>, DroppedConnections) {
        let (done, rest) = self.finish_parts();
        self.done = done;
        for record in rest {
            self.hand_out(record);
        }
        (std::mem::take(&mut self.done), self.dropped)
    }
}

#[cfg(test)]
mod tests;
