//! Flow assembly: TCP segments in capture order to one [`ConnectionRecord`] per connection.
//!
//! Pure: no I/O, no clock. A connection is its 4-tuple plus the client's initial sequence number;
//! Linux reuses 4-tuples within one run, so a SYN whose sequence number differs from the known
//! ISN on the same 4-tuple starts a new connection. The server side is recognised by its port.
//! Memory grows with the connections still open: a finished connection (RST, or FINs from both
//! sides) is handed out once it has been quiet for [`LINGER_US`] of capture time, so its final
//! ACK is still attributed to it. For [`TOMBSTONE_US`] after that, its 4-tuple is remembered in a
//! small set so that a late retransmission is counted as late instead of opening a spurious
//! partial connection. (Keeping finished flows short-lived keeps the flow table in cache: a
//! one-second linger made the 1.2-million-packet benchmark 50% slower.)

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::decode::TcpSegment;
use super::http::{MessageCounter, MessageKind};
pub use crate::model::Side;
use crate::model::{EndState, FourTuple};

/// Everything the capture saw of one TCP connection. Times are microseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnectionRecord {
    /// Client and server addresses.
    pub tuple: FourTuple,
    /// The client's initial sequence number (from its SYN, or from the SYN-ACK's acknowledgment
    /// number minus one); 0 when neither was captured (`partial`).
    pub client_isn: u32,
    /// When the client's first SYN was seen.
    pub syn_at_us: Option<u64>,
    /// When the server's first SYN-ACK was seen.
    pub syn_ack_at_us: Option<u64>,
    /// When the client's first FIN was seen.
    pub client_fin_at_us: Option<u64>,
    /// When the server's first FIN was seen.
    pub server_fin_at_us: Option<u64>,
    /// When the first RST was seen.
    pub rst_at_us: Option<u64>,
    /// Who sent the first RST.
    pub rst_from: Option<Side>,
    /// When the first packet of this connection was seen.
    pub first_packet_at_us: u64,
    /// When the last packet of this connection was seen.
    pub last_packet_at_us: u64,
    /// Packets from client to server.
    pub packets_to_server: u64,
    /// Packets from server to client.
    pub packets_to_client: u64,
    /// TCP payload bytes on the wire from client to server (retransmissions included).
    pub payload_bytes_to_server: u64,
    /// TCP payload bytes on the wire from server to client (retransmissions included).
    pub payload_bytes_to_client: u64,
    /// HTTP/1.x requests started (request lines at message starts).
    pub requests: u64,
    /// HTTP/1.x final responses started (status lines at message starts, 1xx excluded).
    pub responses: u64,
    /// When each request started: the time of the segment carrying its first byte.
    pub request_times_us: Vec<u64>,
    /// Who sent the first FIN.
    pub active_closer: Option<Side>,
    /// How the connection ended: any RST makes it `reset`, else the first FIN's side, else open.
    pub end: EndState,
    /// True when the client's SYN was not captured (the connection started before the capture).
    pub partial: bool,
}

impl ConnectionRecord {
    fn new(tuple: FourTuple, ts_us: u64) -> Self {
        ConnectionRecord {
            tuple,
            client_isn: 0,
            syn_at_us: None,
            syn_ack_at_us: None,
            client_fin_at_us: None,
            server_fin_at_us: None,
            rst_at_us: None,
            rst_from: None,
            first_packet_at_us: ts_us,
            last_packet_at_us: ts_us,
            packets_to_server: 0,
            packets_to_client: 0,
            payload_bytes_to_server: 0,
            payload_bytes_to_client: 0,
            requests: 0,
            responses: 0,
            request_times_us: Vec::new(),
            active_closer: None,
            end: EndState::OpenAtEnd,
            partial: true,
        }
    }

    /// When the connection started as far as the capture knows: its SYN, else its first packet.
    pub fn started_at_us(&self) -> u64 {
        self.syn_at_us.unwrap_or(self.first_packet_at_us)
    }
}

/// How long (capture time) a finished connection is kept to collect its final ACK.
pub const LINGER_US: u64 = 100_000;
/// How long (capture time) the 4-tuple of a handed-out connection is remembered, so late
/// retransmissions are counted in [`PacketCounts::late`] instead of opening a partial connection.
pub const TOMBSTONE_US: u64 = 2_000_000;

/// A fast, non-cryptographic hasher for the flow table (FxHash-style multiply and rotate); the
/// keys come from one capture.
#[derive(Default, Clone, Copy)]
pub struct FlowHasher(u64);

impl Hasher for FlowHasher {
    fn finish(&self) -> u64 {
        // The multiply mixes upward: move the well-mixed high bits to where hashbrown takes the
        // bucket index from (as rustc-hash 2 does).
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A flow-table key: a 4-tuple packed for cheap hashing and comparison. IPv4 and IPv6 flows live
/// in separate tables so that the common IPv4 key stays 16 bytes: the tombstone table holds
/// thousands of entries in a high-churn capture and is probed at random, so its size decides
/// how often those probes miss the cache.
trait TableKey: Copy + Eq + Hash {
    /// The table of this key type.
    fn table(tables: &mut Tables) -> &mut Table<Self>;
}

type FlowMap<V, K> = HashMap<K, V, BuildHasherDefault<FlowHasher>>;

/// The live flows and tombstones of one address family.
struct Table<K> {
    /// Key to an index into the slab; flows stay put in the slab so the table stays small.
    flows: FlowMap<usize, K>,
    /// 4-tuples of handed-out connections and when they were handed out.
    tombstones: FlowMap<u64, K>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            flows: HashMap::default(),
            tombstones: HashMap::default(),
        }
    }
}

#[derive(Default)]
struct Tables {
    v4: Table<V4Key>,
    v6: Table<V6Key>,
}

/// An IPv4 4-tuple: both addresses in one word, both ports in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V4Key {
    ips: u64,
    ports: u32,
}

impl Hash for V4Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.ips);
        state.write_u32(self.ports);
    }
}

impl TableKey for V4Key {
    fn table(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v4
    }
}

/// Any other 4-tuple (IPv6; mixed families are keyed here too, never merged with IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct V6Key {
    client_ip: u128,
    server_ip: u128,
    ports: u32,
    v6: bool,
}

impl Hash for V6Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
        state.write_u64(fold(self.client_ip) ^ fold(self.server_ip).rotate_left(7));
        state.write_u64(u64::from(self.ports) | u64::from(self.v6) << 32);
    }
}

impl TableKey for V6Key {
    fn table(tables: &mut Tables) -> &mut Table<Self> {
        &mut tables.v6
    }
}

struct Flow {
    record: ConnectionRecord,
    requests: MessageCounter,
    responses: MessageCounter,
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
            }
        } else {
            Flow {
                record,
                requests: MessageCounter::new_mid_stream(MessageKind::Request),
                responses: MessageCounter::new_mid_stream(MessageKind::Response),
            }
        }
    }

    fn finished(&self) -> bool {
        self.record.rst_at_us.is_some()
            || (self.record.client_fin_at_us.is_some() && self.record.server_fin_at_us.is_some())
    }

    fn into_record(mut self) -> ConnectionRecord {
        let r = &mut self.record;
        r.requests = r.request_times_us.len() as u64;
        r.end = if r.rst_at_us.is_some() {
            EndState::Reset
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
        let (side, tuple) = if seg.dst.port() == self.server_port {
            (Side::Client, FourTuple::new(seg.src, seg.dst))
        } else if seg.src.port() == self.server_port {
            (Side::Server, FourTuple::new(seg.dst, seg.src))
        } else {
            self.counts.other_port += 1;
            return false;
        };
        self.counts.segments += 1;
        if seg.ts_us >= self.last_sweep_us.saturating_add(LINGER_US) {
            self.sweep(seg.ts_us);
        }
        let flags = seg.flags;
        let opening_syn = side == Side::Client && flags.syn() && !flags.ack();
        let located = match (tuple.client.ip(), tuple.server.ip()) {
            (IpAddr::V4(client), IpAddr::V4(server)) => {
                let key = V4Key {
                    ips: u64::from(u32::from(client)) << 32 | u64::from(u32::from(server)),
                    ports: u32::from(tuple.server.port()) << 16 | u32::from(tuple.client.port()),
                };
                self.locate(key, tuple, seg, opening_syn)
            }
            (client, server) => {
                let bits = |ip: IpAddr| match ip {
                    IpAddr::V4(v4) => u128::from(u32::from(v4)),
                    IpAddr::V6(v6) => u128::from(v6),
                };
                let key = V6Key {
                    client_ip: bits(client),
                    server_ip: bits(server),
                    ports: u32::from(tuple.server.port()) << 16 | u32::from(tuple.client.port()),
                    v6: client.is_ipv6(),
                };
                self.locate(key, tuple, seg, opening_syn)
            }
        };
        let Some(index) = located else {
            self.counts.late += 1;
            return true;
        };
        let Some(flow) = self.slab[index].as_mut() else {
            return true; // unreachable: the table only points at occupied slots
        };
        let r = &mut flow.record;
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
                flow.responses.set_first_seq(seg.seq.wrapping_add(1));
            }
        }
        // Data in a SYN (TCP Fast Open) follows the ISN.
        let data_seq = if flags.syn() {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        match side {
            Side::Client => {
                r.packets_to_server += 1;
                r.payload_bytes_to_server += u64::from(seg.payload_len);
                flow.requests.push(
                    data_seq,
                    seg.payload,
                    seg.payload_len,
                    seg.ts_us,
                    &mut r.request_times_us,
                );
            }
            Side::Server => {
                r.packets_to_client += 1;
                r.payload_bytes_to_client += u64::from(seg.payload_len);
                flow.responses.push(
                    data_seq,
                    seg.payload,
                    seg.payload_len,
                    seg.ts_us,
                    &mut r.responses,
                );
            }
        }
        if flags.fin() {
            match side {
                Side::Client => {
                    self.counts.fin_packets_from_client += 1;
                    r.client_fin_at_us.get_or_insert(seg.ts_us);
                }
                Side::Server => {
                    self.counts.fin_packets_from_server += 1;
                    r.server_fin_at_us.get_or_insert(seg.ts_us);
                }
            }
            r.active_closer.get_or_insert(side);
        }
        if flags.rst() {
            self.counts.rst_packets += 1;
            if r.rst_at_us.is_none() {
                r.rst_at_us = Some(seg.ts_us);
                r.rst_from = Some(side);
            }
        }
        true
    }

    /// The slab index of the connection `seg` belongs to, opening one if needed; None for a late
    /// segment of a connection already handed out.
    fn locate<K: TableKey>(
        &mut self,
        key: K,
        tuple: FourTuple,
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
        if !opening_syn && table.tombstones.contains_key(&key) {
            return None;
        }
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
            self.done.push(flow.into_record());
            self.free.push(index);
        }
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
            let keep = slab[*index]
                .as_ref()
                .is_some_and(|f| !f.finished() || f.record.last_packet_at_us >= cutoff);
            if !keep {
                tombstones.insert(*key, now_us);
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

    /// Ends assembly: every connection, finished ones first, then the rest sorted by start time.
    pub fn finish(mut self) -> Vec<ConnectionRecord> {
        let mut rest: Vec<ConnectionRecord> = self
            .slab
            .drain(..)
            .flatten()
            .map(Flow::into_record)
            .collect();
        rest.sort_by_key(|r| (r.started_at_us(), r.tuple));
        let mut all = std::mem::take(&mut self.done);
        all.extend(rest);
        all
    }
}

/// Counts over a capture's connections. Connection-level counts cover full connections (SYN
/// captured); partial connections are counted apart. Times are not part of the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureSummary {
    /// Connections whose opening SYN (without ACK) was captured.
    pub connections_opened: u64,
    /// Connections whose SYN was not captured.
    pub partial_connections: u64,
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
    /// HTTP/1.x requests started on full connections.
    pub requests: u64,
    /// Requests seen on partial connections.
    pub partial_requests: u64,
    /// `requests / connections_opened`; None without connections.
    pub reuse_ratio: Option<f64>,
    /// Fewest requests on one full connection.
    pub requests_per_connection_min: Option<u64>,
    /// Median requests per full connection.
    pub requests_per_connection_median: Option<f64>,
    /// Most requests on one full connection.
    pub requests_per_connection_max: Option<u64>,
    /// FIN segments sent by clients (retransmissions included: comparable with tshark filters).
    pub fin_packets_from_client: u64,
    /// FIN segments sent by the server.
    pub fin_packets_from_server: u64,
    /// RST segments, either side.
    pub rst_packets: u64,
}

/// Builds a [`CaptureSummary`] from records one at a time, in constant memory per distinct
/// request count (for the median).
#[derive(Debug, Default, Clone)]
pub struct SummaryBuilder {
    summary: CaptureSummary,
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
        if r.partial {
            s.partial_connections += 1;
            s.partial_requests += r.requests;
            return;
        }
        s.connections_opened += 1;
        s.fins_from_client += u64::from(r.client_fin_at_us.is_some());
        s.fins_from_server += u64::from(r.server_fin_at_us.is_some());
        s.resets += u64::from(r.rst_at_us.is_some());
        match r.end {
            EndState::ClosedByClient => s.closes_by_client += 1,
            EndState::ClosedByServer => s.closes_by_server += 1,
            EndState::Reset => s.closes_by_reset += 1,
            EndState::OpenAtEnd => s.open_at_end += 1,
        }
        s.requests += r.requests;
        *self.requests_histogram.entry(r.requests).or_default() += 1;
    }

    /// The summary, with the packet-level counts copied in.
    pub fn finish(&self, counts: &PacketCounts) -> CaptureSummary {
        let mut s = self.summary.clone();
        s.fin_packets_from_client = counts.fin_packets_from_client;
        s.fin_packets_from_server = counts.fin_packets_from_server;
        s.rst_packets = counts.rst_packets;
        if s.connections_opened > 0 {
            s.reuse_ratio = Some(s.requests as f64 / s.connections_opened as f64);
        }
        s.requests_per_connection_min = self.requests_histogram.keys().next().copied();
        s.requests_per_connection_max = self.requests_histogram.keys().next_back().copied();
        s.requests_per_connection_median = median(&self.requests_histogram, s.connections_opened);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::decode::TcpFlags;

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
    const RST: u8 = TcpFlags::RST;
    const PSH: u8 = TcpFlags::PSH | TcpFlags::ACK;
    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

    /// A scripted connection: tracks both sides' sequence numbers like a TCP stack would.
    struct Conn {
        client_port: u16,
        client_seq: u32,
        server_seq: u32,
        segments: Vec<(u64, bool, u8, u32, Vec<u8>)>,
        ts_us: u64,
    }

    impl Conn {
        fn new(client_port: u16, isn: u32, start_us: u64) -> Self {
            Conn {
                client_port,
                client_seq: isn,
                server_seq: 5_000_000,
                segments: Vec::new(),
                ts_us: start_us,
            }
        }
        fn send(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> &mut Self {
            self.ts_us += 10;
            let seq = if from_client {
                &mut self.client_seq
            } else {
                &mut self.server_seq
            };
            let at = *seq;
            let consumed =
                payload.len() as u32 + u32::from(flags & (TcpFlags::SYN | TcpFlags::FIN) != 0);
            *seq = seq.wrapping_add(consumed);
            self.segments
                .push((self.ts_us, from_client, flags, at, payload.to_vec()));
            self
        }
        fn handshake(&mut self) -> &mut Self {
            self.send(true, SYN, b"")
                .send(false, SYN | ACK, b"")
                .send(true, ACK, b"")
        }
        fn exchange(&mut self) -> &mut Self {
            self.send(true, PSH, REQ).send(false, PSH, RESP)
        }
        fn feed(&self, assembler: &mut FlowAssembler) {
            let client: std::net::SocketAddr =
                format!("127.0.0.1:{}", self.client_port).parse().unwrap();
            let server: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
            for (ts_us, from_client, flags, seq, payload) in &self.segments {
                let (src, dst) = if *from_client {
                    (client, server)
                } else {
                    (server, client)
                };
                assembler.push(&TcpSegment {
                    ts_us: *ts_us,
                    src,
                    dst,
                    seq: *seq,
                    ack: 0,
                    flags: TcpFlags(*flags),
                    payload_len: payload.len() as u32,
                    payload,
                });
            }
        }
    }

    fn assemble(conns: &[&Conn]) -> (Vec<ConnectionRecord>, PacketCounts) {
        let mut a = FlowAssembler::new(8080);
        for c in conns {
            c.feed(&mut a);
        }
        let counts = a.counts();
        (a.finish(), counts)
    }

    #[test]
    fn closed_by_client() {
        let mut c = Conn::new(40000, 100, 1_000);
        c.handshake()
            .exchange()
            .exchange()
            .send(true, FIN, b"")
            .send(false, FIN, b"")
            .send(true, ACK, b"");
        let (records, counts) = assemble(&[&c]);
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert!(!r.partial);
        assert_eq!(r.client_isn, 100);
        assert_eq!(r.syn_at_us, Some(1_010));
        assert_eq!(r.syn_ack_at_us, Some(1_020));
        assert_eq!(r.client_fin_at_us, Some(1_080));
        assert_eq!(r.server_fin_at_us, Some(1_090));
        assert_eq!(r.last_packet_at_us, 1_100);
        assert_eq!((r.packets_to_server, r.packets_to_client), (6, 4));
        assert_eq!(r.payload_bytes_to_server, 2 * REQ.len() as u64);
        assert_eq!(r.payload_bytes_to_client, 2 * RESP.len() as u64);
        assert_eq!((r.requests, r.responses), (2, 2));
        assert_eq!(r.request_times_us, vec![1_040, 1_060]);
        assert_eq!(r.active_closer, Some(Side::Client));
        assert_eq!(r.end, EndState::ClosedByClient);
        assert_eq!(counts.fin_packets_from_client, 1);
        assert_eq!(counts.fin_packets_from_server, 1);
    }

    #[test]
    fn closed_by_server() {
        let mut c = Conn::new(40000, 7, 0);
        c.handshake()
            .exchange()
            .send(false, FIN, b"")
            .send(true, FIN, b"")
            .send(false, ACK, b"");
        let (records, _) = assemble(&[&c]);
        assert_eq!(records[0].active_closer, Some(Side::Server));
        assert_eq!(records[0].end, EndState::ClosedByServer);
    }

    #[test]
    fn reset_wins_over_fin() {
        let mut c = Conn::new(40000, 7, 0);
        c.handshake()
            .send(true, PSH, REQ)
            .send(false, FIN, b"")
            .send(true, RST, b"");
        let (records, counts) = assemble(&[&c]);
        let r = &records[0];
        assert_eq!(r.end, EndState::Reset);
        assert_eq!(r.rst_from, Some(Side::Client));
        assert_eq!(r.active_closer, Some(Side::Server));
        assert_eq!(counts.rst_packets, 1);
    }

    #[test]
    fn open_at_end() {
        let mut c = Conn::new(40000, 7, 0);
        c.handshake().exchange();
        let (records, _) = assemble(&[&c]);
        assert_eq!(records[0].end, EndState::OpenAtEnd);
        assert_eq!(records[0].active_closer, None);
    }

    #[test]
    fn partial_connection_without_syn() {
        let mut c = Conn::new(40000, 7, 0);
        c.handshake().exchange().exchange().send(true, FIN, b"");
        let mut late = Conn::new(40000, 7, 0);
        late.segments = c.segments[3..].to_vec();
        let (records, _) = assemble(&[&late]);
        let r = &records[0];
        assert!(r.partial);
        assert_eq!(r.client_isn, 0);
        assert_eq!(r.syn_at_us, None);
        assert_eq!(r.requests, 2, "request starts are found mid-stream");
        assert_eq!(r.end, EndState::ClosedByClient);
        let summary = summarize(&records, &PacketCounts::default());
        assert_eq!(summary.connections_opened, 0);
        assert_eq!(summary.partial_connections, 1);
        assert_eq!(summary.partial_requests, 2);
        assert_eq!(summary.reuse_ratio, None);
    }

    #[test]
    fn reused_four_tuple_with_new_isn_is_a_new_connection() {
        let mut first = Conn::new(40000, 1_000, 0);
        first
            .handshake()
            .exchange()
            .send(true, FIN, b"")
            .send(false, FIN, b"")
            .send(true, ACK, b"");
        let mut second = Conn::new(40000, 9_000_000, 500);
        second.handshake().exchange().exchange();
        let (records, _) = assemble(&[&first, &second]);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].client_isn, 1_000);
        assert_eq!(records[0].end, EndState::ClosedByClient);
        assert_eq!(records[0].requests, 1);
        assert_eq!(records[1].client_isn, 9_000_000);
        assert_eq!(records[1].requests, 2);
        assert_eq!(records[1].end, EndState::OpenAtEnd);
    }

    #[test]
    fn retransmitted_syn_is_the_same_connection() {
        let mut c = Conn::new(40000, 55, 0);
        c.send(true, SYN, b"");
        c.client_seq = 55; // the retransmission carries the same ISN
        c.handshake().exchange();
        let (records, _) = assemble(&[&c]);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].syn_at_us, Some(10));
        assert_eq!(records[0].requests, 1);
    }

    #[test]
    fn split_and_pipelined_requests_are_counted() {
        let mut c = Conn::new(40000, 1, 0);
        c.handshake()
            .send(true, PSH, &REQ[..5])
            .send(true, PSH, &REQ[5..])
            .send(false, PSH, RESP);
        let mut pipelined = REQ.to_vec();
        pipelined.extend_from_slice(REQ);
        pipelined.extend_from_slice(&REQ[..3]);
        c.send(true, PSH, &pipelined).send(true, PSH, &REQ[3..]);
        let mut responses = RESP.to_vec();
        responses.extend_from_slice(RESP);
        responses.extend_from_slice(RESP);
        c.send(false, PSH, &responses);
        let (records, _) = assemble(&[&c]);
        assert_eq!(records[0].requests, 4);
        assert_eq!(records[0].responses, 4);
        assert_eq!(records[0].request_times_us, vec![40, 70, 70, 70]);
    }

    #[test]
    fn finished_connections_are_handed_out_after_lingering() {
        let mut a = FlowAssembler::new(8080);
        let mut c = Conn::new(40000, 1, 0);
        c.handshake()
            .exchange()
            .send(true, FIN, b"")
            .send(false, FIN, b"");
        c.feed(&mut a);
        let mut final_ack = Conn::new(40000, 1, 100);
        final_ack.client_seq = c.client_seq;
        final_ack.send(true, ACK, b"");
        final_ack.feed(&mut a);
        assert!(a.take_finished().is_empty(), "still lingering");
        let mut later = Conn::new(40001, 1, 3 * LINGER_US);
        later.handshake();
        later.feed(&mut a);
        let done = a.take_finished();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].packets_to_server, 5, "the final ACK is attributed");
        assert_eq!(a.open_connections(), 1);
        assert_eq!(a.finish().len(), 1);
    }

    #[test]
    fn late_retransmission_after_hand_out_is_not_a_partial_connection() {
        let mut a = FlowAssembler::new(8080);
        let mut c = Conn::new(40000, 1, 0);
        c.handshake()
            .exchange()
            .send(true, FIN, b"")
            .send(false, FIN, b"")
            .send(true, ACK, b"");
        c.feed(&mut a);
        let mut other = Conn::new(40001, 1, 2 * LINGER_US);
        other.handshake();
        other.feed(&mut a);
        assert_eq!(a.take_finished().len(), 1);
        // The server retransmits its FIN after the connection was handed out.
        let mut late = Conn::new(40000, 1, 3 * LINGER_US);
        late.server_seq = c.server_seq.wrapping_sub(1);
        late.send(false, FIN, b"");
        late.feed(&mut a);
        assert_eq!(a.counts().late, 1);
        let rest = a.finish();
        assert_eq!(rest.len(), 1, "only the other connection remains");
        assert!(!rest[0].partial);
    }

    #[test]
    fn other_ports_are_counted_not_assembled() {
        let mut a = FlowAssembler::new(9999);
        let mut c = Conn::new(40000, 1, 0);
        c.handshake();
        c.feed(&mut a);
        assert_eq!(a.counts().other_port, 3);
        assert!(a.finish().is_empty());
    }

    #[test]
    fn summary_counts_and_median() {
        let mut conns = Vec::new();
        for (i, requests) in [1usize, 3, 2, 10].iter().enumerate() {
            let mut c = Conn::new(40000 + i as u16, 1, 0);
            c.handshake();
            for _ in 0..*requests {
                c.exchange();
            }
            if i % 2 == 0 {
                c.send(true, FIN, b"").send(false, FIN, b"");
            } else {
                c.send(false, FIN, b"");
            }
            conns.push(c);
        }
        let refs: Vec<&Conn> = conns.iter().collect();
        let (records, counts) = assemble(&refs);
        let s = summarize(&records, &counts);
        assert_eq!(s.connections_opened, 4);
        assert_eq!(s.requests, 16);
        assert_eq!(s.reuse_ratio, Some(4.0));
        assert_eq!(s.requests_per_connection_min, Some(1));
        assert_eq!(s.requests_per_connection_median, Some(2.5));
        assert_eq!(s.requests_per_connection_max, Some(10));
        assert_eq!((s.closes_by_client, s.closes_by_server), (2, 2));
        assert_eq!((s.fins_from_client, s.fins_from_server), (2, 4));
        assert_eq!(s.open_at_end, 0);
        assert_eq!(s.fin_packets_from_server, 4);
    }
}
