//! Flow assembly, tested on scripted TCP conversations: who closed, resets, partial and
//! reused 4-tuples, pipelined requests, lingering and late retransmissions, the summary.

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
    /// (time, from client, flags, seq, ack, payload)
    segments: Vec<(u64, bool, u8, u32, u32, Vec<u8>)>,
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
    /// Sends a segment acknowledging everything the other side sent so far.
    fn send(&mut self, from_client: bool, flags: u8, payload: &[u8]) -> &mut Self {
        let ack = if from_client {
            self.server_seq
        } else {
            self.client_seq
        };
        self.send_acking(from_client, flags, payload, ack)
    }
    /// Sends a segment that acknowledges the other side only up to `ack`.
    fn send_acking(&mut self, from_client: bool, flags: u8, payload: &[u8], ack: u32) -> &mut Self {
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
            .push((self.ts_us, from_client, flags, at, ack, payload.to_vec()));
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
        for (ts_us, from_client, flags, seq, ack, payload) in &self.segments {
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
                ack: *ack,
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
fn fins_that_cross_are_a_simultaneous_close() {
    let mut c = Conn::new(40000, 7, 0);
    c.handshake().exchange();
    // Each side sends its FIN before the other's has arrived: neither acknowledges the other.
    let (client_seq, server_seq) = (c.client_seq, c.server_seq);
    c.send_acking(false, FIN, b"", client_seq)
        .send_acking(true, FIN, b"", server_seq)
        .send(false, ACK, b"")
        .send(true, ACK, b"");
    // The server's FIN retransmitted, now acknowledging the client's: still the same close.
    let server_fin = c.server_seq.wrapping_sub(1);
    let ack = c.client_seq;
    c.segments
        .push((c.ts_us + 10, false, FIN, server_fin, ack, Vec::new()));
    let (records, counts) = assemble(&[&c]);
    let r = &records[0];
    assert_eq!(r.end, EndState::ClosedSimultaneously);
    assert!(r.closed_simultaneously());
    assert_eq!(
        r.active_closer,
        Some(Side::Server),
        "the FIN captured first"
    );
    assert_eq!(counts.fin_packets_from_server, 2);
    let s = summarize(&records, &counts);
    assert_eq!(s.closes_simultaneous, 1);
    assert_eq!((s.closes_by_client, s.closes_by_server), (0, 0));
}

#[test]
fn a_fin_sent_after_the_other_arrived_is_no_simultaneous_close() {
    let mut c = Conn::new(40000, 7, 0);
    c.handshake().exchange();
    let server_seq = c.server_seq;
    // The client's FIN with data still in flight from the server: it acknowledges an older
    // byte, but the server's FIN comes after the client's arrived.
    c.send_acking(true, FIN, b"", server_seq)
        .send(false, PSH, b"late")
        .send(false, FIN, b"")
        .send(true, ACK, b"");
    let (records, _) = assemble(&[&c]);
    assert_eq!(records[0].end, EndState::ClosedByClient);
}

#[test]
fn a_syn_nobody_answers_is_an_unanswered_attempt() {
    let mut c = Conn::new(40000, 7, 0);
    // The SYN and its retransmission (same ISN): one attempt, never answered.
    c.send(true, SYN, b"");
    c.client_seq = 7;
    c.send(true, SYN, b"");
    let mut ok = Conn::new(40001, 9, 100);
    ok.handshake().exchange();
    let (records, counts) = assemble(&[&c, &ok]);
    assert_eq!(records.len(), 2);
    let attempt = records
        .iter()
        .find(|r| r.tuple.client.port() == 40000)
        .unwrap();
    assert!(attempt.unanswered() && !attempt.opened());
    let s = summarize(&records, &counts);
    assert_eq!((s.connections_opened, s.unanswered), (2, 1));
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
fn a_fin_retransmitted_again_and_again_stays_late() {
    let mut a = FlowAssembler::new(8080);
    let mut c = Conn::new(40000, 1, 0);
    c.handshake()
        .exchange()
        .send(false, FIN, b"")
        .send(true, FIN, b"")
        .send(false, ACK, b"");
    c.feed(&mut a);
    // The client's FIN is acknowledged on the wire, but the ACK is lost after the capture: the
    // client retransmits with a doubling timeout (backed off further by an earlier loss), its
    // gaps soon longer than TOMBSTONE_US.
    let fin_seq = c.client_seq.wrapping_sub(1);
    let mut at_us = 0;
    for gap_us in [
        200_000, 1_000_000, 2_000_000, 3_300_000, 6_500_000, 13_000_000,
    ] {
        at_us += gap_us;
        let mut late = Conn::new(40000, 1, at_us);
        late.client_seq = fin_seq;
        late.server_seq = c.server_seq;
        late.send(true, FIN, b"");
        late.feed(&mut a);
    }
    assert!(at_us > 10 * TOMBSTONE_US);
    assert!(a.counts().late >= 5, "{:?}", a.counts());
    let all = a.finish();
    assert_eq!(all.len(), 1, "no partial connection: {all:?}");
    assert!(!all[0].partial);
}

#[test]
fn after_retransmissions_a_fin_seconds_late_is_still_late() {
    let mut a = FlowAssembler::new(8080);
    let mut c = Conn::new(40000, 1, 0);
    c.send(true, SYN, b"");
    c.client_seq = 1; // the SYN again: a lossy link
    c.handshake()
        .exchange()
        .send(false, FIN, b"")
        .send(true, FIN, b"")
        .send(false, ACK, b"");
    c.feed(&mut a);
    // The client's FIN again, with a backed-off timeout of 3.5 s: its ACK was lost after the
    // capture point. No late segment came in between to renew the tombstone.
    let mut late = Conn::new(40000, 1, 3_500_000);
    late.client_seq = c.client_seq.wrapping_sub(1);
    late.server_seq = c.server_seq;
    late.send(true, FIN, b"");
    let mut other = Conn::new(40001, 1, 1_000_000);
    other.handshake();
    other.feed(&mut a);
    late.feed(&mut a);
    assert_eq!(a.counts().late, 1, "{:?}", a.counts());
    let all = a.finish();
    assert_eq!(all.len(), 2, "no partial connection: {all:?}");
    assert!(all.iter().all(|r| !r.partial));
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

/// With a detail cap, the assembler keeps the first records handed out and folds the rest:
/// the summary of kept and folded is the summary of all, and finished and open connections
/// alike count.
#[test]
fn a_detail_cap_keeps_the_first_records_and_folds_the_rest_exactly() {
    let conns: Vec<Conn> = (0..12u16)
        .map(|i| {
            let mut c = Conn::new(40000 + i, 100 + u32::from(i), u64::from(i) * 300_000);
            c.handshake();
            for _ in 0..(i % 3) {
                c.exchange();
            }
            if i % 4 != 3 {
                c.send(i % 2 == 0, FIN, b"")
                    .send(i % 2 == 1, FIN, b"")
                    .send(i % 2 == 0, ACK, b"");
            }
            c
        })
        .collect();
    let all: Vec<&Conn> = conns.iter().collect();
    let (whole, counts) = assemble(&all);
    let mut capped = FlowAssembler::new(8080);
    capped.set_detail_cap(5);
    for c in &all {
        c.feed(&mut capped);
    }
    let (kept, dropped) = capped.finish_capped();
    assert_eq!(kept.len(), 5);
    assert_eq!((dropped.kept, dropped.seen), (5, 12));
    assert_eq!(kept[..], whole[..5]);
    assert_eq!(
        summarize_with(&kept, &dropped, &counts),
        summarize(&whole, &counts)
    );
    assert_eq!(summarize(&whole, &counts).open_at_end, 3);
}
