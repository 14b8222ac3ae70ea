//! Handshake classification, tested on crafted hellos: TLS 1.2 full, resumed by session id and
//! by ticket; TLS 1.3 full, resumed by PSK, and after a HelloRetryRequest; hellos split across
//! segments and records, segments out of order and retransmitted, and damaged hellos (truncated,
//! wrong lengths, seeded random mutations) that must never panic.

use super::*;
use crate::capture::decode::TcpFlags;

fn record(content: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut m = vec![kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    m.extend_from_slice(body);
    m
}

fn extensions(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (kind, data) in exts {
        body.extend_from_slice(&kind.to_be_bytes());
        body.extend_from_slice(&(data.len() as u16).to_be_bytes());
        body.extend_from_slice(data);
    }
    let mut out = (body.len() as u16).to_be_bytes().to_vec();
    out.extend(body);
    out
}

fn client_hello(session_id: &[u8], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0]);
    body.extend(extensions(exts));
    message(CLIENT_HELLO, &body)
}

fn server_hello(random: [u8; 32], session_id: &[u8], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&random);
    body.push(session_id.len() as u8);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    if !exts.is_empty() {
        body.extend(extensions(exts));
    }
    message(SERVER_HELLO, &body)
}

const RANDOM: [u8; 32] = [9; 32];
const SID: [u8; 32] = [0x5a; 32];

fn tls13() -> (u16, Vec<u8>) {
    (EXT_SUPPORTED_VERSIONS, vec![3, 4])
}
fn key_share() -> (u16, Vec<u8>) {
    (51, [vec![0, 0x1d, 0, 32], vec![1; 32]].concat())
}
fn psk() -> (u16, Vec<u8>) {
    (EXT_PRE_SHARED_KEY, vec![0, 0])
}
fn alpn(name: &str) -> (u16, Vec<u8>) {
    let mut data = ((name.len() + 1) as u16).to_be_bytes().to_vec();
    data.push(name.len() as u8);
    data.extend_from_slice(name.as_bytes());
    (EXT_ALPN, data)
}
fn ticket() -> (u16, Vec<u8>) {
    (35, vec![0xee; 100])
}

/// One crafted handshake: the client's and the server's first bytes, and the verdict.
struct Case {
    name: &'static str,
    client: Vec<u8>,
    server: Vec<u8>,
    expected: Verdict,
}

fn handshake(kind: HandshakeKind, version: TlsVersion, alpn: Option<&str>) -> Verdict {
    Verdict::Classified(TlsHandshake {
        kind,
        version: Some(version),
        alpn: alpn.map(str::to_owned),
    })
}

fn cases() -> Vec<Case> {
    let certificate = message(CERTIFICATE, &[0, 0, 3, 0, 0, 0]);
    let done = message(SERVER_HELLO_DONE, &[]);
    let encrypted_finished = record(CONTENT_HANDSHAKE, &[0xab; 40]);
    let ccs = record(CONTENT_CHANGE_CIPHER_SPEC, &[1]);
    let app_data = record(CONTENT_APPLICATION_DATA, &[0xcd; 60]);
    let ch13 = record(
        CONTENT_HANDSHAKE,
        &client_hello(&SID, &[tls13(), key_share(), alpn("h2")]),
    );
    vec![
        Case {
            name: "tls 1.2 full",
            client: record(CONTENT_HANDSHAKE, &client_hello(&[], &[alpn("h2")])),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &[1; 32], &[alpn("h2")]),
                ),
                record(CONTENT_HANDSHAKE, &certificate),
                record(CONTENT_HANDSHAKE, &done),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Full, TlsVersion::Tls12, Some("h2")),
        },
        Case {
            name: "tls 1.2 full, hello and certificate in one record",
            client: record(CONTENT_HANDSHAKE, &client_hello(&[], &[ticket()])),
            server: record(
                CONTENT_HANDSHAKE,
                &[server_hello(RANDOM, &[], &[]), certificate.clone()].concat(),
            ),
            expected: handshake(HandshakeKind::Full, TlsVersion::Tls12, None),
        },
        Case {
            name: "tls 1.2 full, a session id offered and not echoed",
            client: record(CONTENT_HANDSHAKE, &client_hello(&SID, &[])),
            server: record(CONTENT_HANDSHAKE, &server_hello(RANDOM, &[2; 32], &[])),
            expected: handshake(HandshakeKind::Full, TlsVersion::Tls12, None),
        },
        Case {
            name: "tls 1.2 resumed by session id",
            client: record(CONTENT_HANDSHAKE, &client_hello(&SID, &[])),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &SID, &[alpn("http/1.1")]),
                ),
                ccs.clone(),
                encrypted_finished.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls12, Some("http/1.1")),
        },
        Case {
            name: "tls 1.2 resumed by session id, client hello across two records",
            client: {
                let ch = client_hello(&SID, &[]);
                [
                    record(CONTENT_HANDSHAKE, &ch[..20]),
                    record(CONTENT_HANDSHAKE, &ch[20..]),
                ]
                .concat()
            },
            server: [
                record(CONTENT_HANDSHAKE, &server_hello(RANDOM, &SID, &[])),
                ccs.clone(),
                encrypted_finished.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls12, None),
        },
        Case {
            name: "tls 1.2 resumed by ticket, new ticket issued",
            client: record(CONTENT_HANDSHAKE, &client_hello(&[], &[ticket()])),
            server: [
                record(CONTENT_HANDSHAKE, &server_hello(RANDOM, &[], &[ticket()])),
                record(
                    CONTENT_HANDSHAKE,
                    &message(NEW_SESSION_TICKET, &[0, 0, 1, 0, 0, 2, 7, 7]),
                ),
                ccs.clone(),
                encrypted_finished.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls12, None),
        },
        Case {
            name: "tls 1.2 resumed by ticket, change cipher spec at once",
            client: record(CONTENT_HANDSHAKE, &client_hello(&[], &[ticket()])),
            server: [
                record(CONTENT_HANDSHAKE, &server_hello(RANDOM, &[], &[])),
                ccs.clone(),
                encrypted_finished.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls12, None),
        },
        Case {
            name: "tls 1.3 full (legacy session id echoed, as 1.3 always does)",
            client: ch13.clone(),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &SID, &[tls13(), key_share()]),
                ),
                ccs.clone(),
                app_data.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Full, TlsVersion::Tls13, None),
        },
        Case {
            name: "tls 1.3 resumed by pre-shared key",
            client: ch13.clone(),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &SID, &[tls13(), key_share(), psk()]),
                ),
                ccs.clone(),
                app_data.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls13, None),
        },
        Case {
            name: "tls 1.3 hello retry request, then full",
            client: ch13.clone(),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(
                        HELLO_RETRY_REQUEST_RANDOM,
                        &SID,
                        &[tls13(), (51, vec![0, 0x17])],
                    ),
                ),
                ccs.clone(),
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &SID, &[tls13(), key_share()]),
                ),
                app_data.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::FullHrr, TlsVersion::Tls13, None),
        },
        Case {
            name: "tls 1.3 hello retry request, then resumed",
            client: ch13.clone(),
            server: [
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(HELLO_RETRY_REQUEST_RANDOM, &SID, &[tls13()]),
                ),
                record(
                    CONTENT_HANDSHAKE,
                    &server_hello(RANDOM, &SID, &[tls13(), key_share(), psk()]),
                ),
                app_data.clone(),
            ]
            .concat(),
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls13, None),
        },
        Case {
            name: "tls 1.3 server hello fragmented across three records",
            client: ch13.clone(),
            server: {
                let sh = server_hello(RANDOM, &SID, &[tls13(), key_share(), psk()]);
                [
                    record(CONTENT_HANDSHAKE, &sh[..3]),
                    record(CONTENT_HANDSHAKE, &sh[3..50]),
                    record(CONTENT_HANDSHAKE, &sh[50..]),
                    app_data.clone(),
                ]
                .concat()
            },
            expected: handshake(HandshakeKind::Resumed, TlsVersion::Tls13, None),
        },
        Case {
            name: "server alert: tls, not classified",
            client: ch13.clone(),
            server: record(CONTENT_ALERT, &[2, 40]),
            expected: Verdict::Unclassified,
        },
        Case {
            name: "plain http",
            client: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            server: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
            expected: Verdict::NotTls,
        },
    ]
}

/// Feeds a whole client stream, then a whole server stream, in one piece each.
fn classify(client: &[u8], server: &[u8]) -> Verdict {
    let mut c = HelloClassifier::new();
    c.push(true, 0, client);
    c.push(false, 0, server);
    c.finish()
}

#[test]
fn crafted_hellos_are_classified() {
    for case in cases() {
        assert_eq!(
            classify(&case.client, &case.server),
            case.expected,
            "{}",
            case.name
        );
    }
}

#[test]
fn a_verdict_comes_as_soon_as_the_server_hello_tells() {
    let cases = cases();
    let resumed13 = cases
        .iter()
        .find(|c| c.name == "tls 1.3 resumed by pre-shared key")
        .unwrap();
    let mut c = HelloClassifier::new();
    assert_eq!(c.push(true, 0, &resumed13.client), Verdict::Pending);
    let hello_end = 5 + 4 + usize::from(resumed13.server[8]);
    assert_eq!(
        c.push(false, 0, &resumed13.server[..hello_end - 1]),
        Verdict::Pending
    );
    assert_eq!(
        c.push(
            false,
            hello_end as i64 - 1,
            &resumed13.server[hello_end - 1..hello_end]
        ),
        resumed13.expected
    );
    // The ClientHello alone: TLS, but nothing to classify.
    let mut c = HelloClassifier::new();
    c.push(true, 0, &resumed13.client);
    assert_eq!(c.finish(), Verdict::Unclassified);
}

#[test]
fn only_the_client_hello_prefix_is_needed() {
    // A snaplen that cuts the ClientHello right after its session id still tells an echo.
    let client = record(
        CONTENT_HANDSHAKE,
        &client_hello(&SID, &[ticket(), ticket()]),
    );
    let server = record(CONTENT_HANDSHAKE, &server_hello(RANDOM, &SID, &[]));
    let cut = 5 + 4 + 2 + 32 + 1 + 32;
    assert_eq!(
        classify(&client[..cut], &server),
        handshake(HandshakeKind::Resumed, TlsVersion::Tls12, None)
    );
}

/// A flow's segments for one case: (from client, seq, payload), client ISN 1000, server 9000.
fn segments(case: &Case, client_cuts: &[usize], server_cuts: &[usize]) -> Vec<Seg> {
    let mut out = vec![
        Seg::new(true, TcpFlags::SYN, 1000, 0, &[]),
        Seg::new(false, TcpFlags::SYN | TcpFlags::ACK, 9000, 1001, &[]),
    ];
    let split = |bytes: &[u8], cuts: &[usize], from_client: bool, base: u32, out: &mut Vec<Seg>| {
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|&c| c > 0 && c < bytes.len()));
        bounds.push(bytes.len());
        bounds.sort_unstable();
        bounds.dedup();
        for w in bounds.windows(2) {
            out.push(Seg::new(
                from_client,
                TcpFlags::ACK | TcpFlags::PSH,
                base + w[0] as u32,
                0,
                &bytes[w[0]..w[1]],
            ));
        }
    };
    split(&case.client, client_cuts, true, 1001, &mut out);
    split(&case.server, server_cuts, false, 9001, &mut out);
    out
}

struct Seg {
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: Vec<u8>,
}

impl Seg {
    fn new(from_client: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Seg {
        Seg {
            from_client,
            flags,
            seq,
            ack,
            payload: payload.to_vec(),
        }
    }
}

fn feed(wire: &mut TlsWire, seg: &Seg, captured: usize) {
    let client: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let server: std::net::SocketAddr = "127.0.0.1:443".parse().unwrap();
    let (src, dst) = if seg.from_client {
        (client, server)
    } else {
        (server, client)
    };
    if wire.wants_segments() {
        wire.segment(
            seg.from_client,
            &TcpSegment {
                ts_us: 1,
                src,
                dst,
                seq: seg.seq,
                ack: seg.ack,
                flags: TcpFlags(seg.flags),
                payload_len: seg.payload.len() as u32,
                payload: &seg.payload[..captured.min(seg.payload.len())],
            },
        );
    }
}

fn wire_verdict(segs: &[Seg]) -> (bool, Option<TlsHandshake>) {
    let mut wire = TlsWire::default();
    for seg in segs {
        feed(&mut wire, seg, usize::MAX);
    }
    wire.finish()
}

fn expected_wire(v: &Verdict) -> (bool, Option<TlsHandshake>) {
    match v {
        Verdict::Classified(h) => (true, Some(h.clone())),
        Verdict::Unclassified => (true, None),
        Verdict::NotTls | Verdict::Pending => (false, None),
    }
}

#[test]
fn hellos_split_across_segments_are_reassembled() {
    for case in cases() {
        let segs = segments(&case, &[1, 4, 7, 40, 77], &[2, 5, 9, 30, 60, 90, 130]);
        assert_eq!(
            wire_verdict(&segs),
            expected_wire(&case.expected),
            "{}",
            case.name
        );
    }
}

#[test]
fn out_of_order_and_retransmitted_segments_land_by_sequence_number() {
    for case in cases() {
        let mut segs = segments(&case, &[10, 20, 45], &[3, 11, 33, 70, 100]);
        // Each direction's data segments reversed, each sent twice, plus an overlapping
        // retransmission (the client's first segment still comes before the server's).
        let data = segs.split_off(2);
        let (client, server): (Vec<&Seg>, Vec<&Seg>) = data.iter().partition(|s| s.from_client);
        for seg in client.iter().rev().chain(server.iter().rev()) {
            segs.push(Seg::new(
                seg.from_client,
                seg.flags,
                seg.seq,
                0,
                &seg.payload,
            ));
            segs.push(Seg::new(
                seg.from_client,
                seg.flags,
                seg.seq,
                0,
                &seg.payload,
            ));
        }
        let first_server = data.iter().find(|s| !s.from_client).unwrap();
        let mut overlap = first_server.payload.clone();
        overlap.truncate(2);
        segs.push(Seg::new(
            false,
            TcpFlags::ACK,
            first_server.seq + 1,
            0,
            &overlap,
        ));
        assert_eq!(
            wire_verdict(&segs),
            expected_wire(&case.expected),
            "{}",
            case.name
        );
    }
}

#[test]
fn a_bogus_copy_of_placed_bytes_does_not_overwrite_them() {
    let cases = cases();
    let case = cases
        .iter()
        .find(|c| c.name.starts_with("tls 1.3 full"))
        .unwrap();
    let mut segs = segments(case, &[], &[20]);
    // A later copy of the server's first 20 bytes with other contents: the bytes placed first
    // stand.
    segs.insert(4, Seg::new(false, TcpFlags::ACK, 9001, 0, &[0xff; 20]));
    assert_eq!(wire_verdict(&segs), expected_wire(&case.expected));
}

#[test]
fn a_plain_connection_is_decided_by_its_first_byte() {
    let cases = cases();
    let http = cases.iter().find(|c| c.name == "plain http").unwrap();
    let segs = segments(http, &[], &[]);
    let mut wire = TlsWire::default();
    for seg in &segs[..3] {
        feed(&mut wire, seg, usize::MAX);
    }
    assert!(!wire.wants_segments());
    assert!(matches!(wire.state, WireState::NotTls));
    // A connection that started before the capture cannot be placed: not classified.
    let mut wire = TlsWire::default();
    feed(&mut wire, &segs[2], usize::MAX);
    assert!(!wire.wants_segments());
    assert_eq!(wire.finish(), (false, None));
}

#[test]
fn memory_is_released_once_classified_and_bounded_before() {
    let cases = cases();
    let case = cases.iter().find(|c| c.name == "tls 1.2 full").unwrap();
    let mut wire = TlsWire::default();
    for seg in &segments(case, &[], &[]) {
        feed(&mut wire, seg, usize::MAX);
    }
    assert!(matches!(wire.state, WireState::Done(Some(_))));
    assert!(!wire.wants_segments());
    // Out-of-order bytes far ahead of a hole: kept up to the cap, then ignored.
    let mut c = HelloClassifier::new();
    c.push(true, 0, &case.client[..3]);
    for i in 0..100 {
        c.push(true, 10 + i * 1000, &[0u8; 1000]);
    }
    assert!(c.client.pending_bytes <= MAX_STREAM_BYTES);
    assert!(c.client.pending.iter().all(|(o, _)| *o < MAX_STREAM_BYTES));
}

#[test]
fn a_snaplen_cut_payload_is_a_hole_not_garbage() {
    let cases = cases();
    let case = cases
        .iter()
        .find(|c| c.name == "tls 1.2 resumed by session id")
        .unwrap();
    let mut wire = TlsWire::default();
    for seg in &segments(case, &[], &[]) {
        // 100 captured bytes: the ClientHello up to its session id, the whole ServerHello.
        feed(&mut wire, seg, 100);
    }
    assert_eq!(wire.finish(), expected_wire(&case.expected));
}

#[test]
fn truncated_hellos_never_panic_and_are_never_misread() {
    for case in cases() {
        for cut in 0..case.server.len() {
            let v = classify(&case.client, &case.server[..cut]);
            assert_ne!(v, Verdict::Pending, "{} cut at {cut}", case.name);
            // A truncated server flight never claims another kind than the whole one.
            if let (Verdict::Classified(got), Verdict::Classified(want)) = (&v, &case.expected) {
                assert_eq!(got.kind, want.kind, "{} cut at {cut}", case.name);
            }
        }
        for cut in 0..case.client.len() {
            classify(&case.client[..cut], &case.server);
        }
    }
}

#[test]
fn wrong_lengths_never_panic() {
    for case in cases() {
        for (stream, from_client) in [(&case.server, false), (&case.client, true)] {
            // Every length field candidate: each byte pair set to small, large and off-by-one.
            for at in 0..stream.len().saturating_sub(1) {
                for value in [0u16, 1, 0xffff, 0x4000, 0x0020] {
                    let mut damaged = stream.clone();
                    damaged[at..at + 2].copy_from_slice(&value.to_be_bytes());
                    let v = if from_client {
                        classify(&damaged, &case.server)
                    } else {
                        classify(&case.client, &damaged)
                    };
                    assert_ne!(v, Verdict::Pending);
                }
            }
        }
    }
}

/// xorshift64*: a small seeded generator, so a failing mutation can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for case in cases() {
        for _ in 0..300 {
            let mut client = case.client.clone();
            let mut server = case.server.clone();
            for _ in 0..1 + rng.below(6) {
                let target = if rng.below(2) == 0 {
                    &mut client
                } else {
                    &mut server
                };
                if target.is_empty() {
                    continue;
                }
                let at = rng.below(target.len());
                match rng.below(4) {
                    0 => target[at] = rng.next() as u8,
                    1 => target[at] ^= 1 << rng.below(8),
                    2 => target.truncate(at),
                    _ => {
                        let n = rng.below(8);
                        target.splice(at..at, (0..n).map(|_| rng.next() as u8));
                    }
                }
            }
            let mutated = Case {
                name: case.name,
                client,
                server,
                expected: Verdict::Pending,
            };
            let cuts = |rng: &mut Rng, len: usize| -> Vec<usize> {
                (0..rng.below(6)).map(|_| rng.below(len + 1)).collect()
            };
            let client_cuts = cuts(&mut rng, mutated.client.len());
            let server_cuts = cuts(&mut rng, mutated.server.len());
            let mut segs = segments(&mutated, &client_cuts, &server_cuts);
            // Shuffle the data segments, and jitter some sequence numbers.
            for i in (3..segs.len()).rev() {
                let j = 2 + rng.below(i - 1);
                segs.swap(i, j);
            }
            for seg in segs.iter_mut().skip(2) {
                if rng.below(10) == 0 {
                    seg.seq = seg.seq.wrapping_add(rng.next() as u32);
                }
            }
            let mut wire = TlsWire::default();
            for seg in &segs {
                feed(&mut wire, seg, usize::MAX);
            }
            let _ = wire.finish();
            assert_ne!(classify(&mutated.client, &mutated.server), Verdict::Pending);
        }
    }
}

/// Through flow assembly: the record of a TLS connection carries its handshake, and encrypted
/// bytes that look like a request line are not counted; a plain connection beside it is not
/// TLS and keeps its counts.
#[test]
fn flow_records_carry_the_handshake() {
    use crate::capture::flows::FlowAssembler;
    let cases = cases();
    let tls = cases
        .iter()
        .find(|c| c.name == "tls 1.3 resumed by pre-shared key")
        .unwrap();
    let http = cases.iter().find(|c| c.name == "plain http").unwrap();
    let mut assembler = FlowAssembler::new(443);
    for (client_port, case) in [(40000u16, tls), (40001, http)] {
        let mut segs = segments(case, &[30], &[40]);
        let client_end = 1001 + case.client.len() as u32;
        // Encrypted application data that starts like a request line.
        segs.push(Seg::new(
            true,
            TcpFlags::ACK | TcpFlags::PSH,
            client_end,
            0,
            b"GET / HTTP/1.1\r\n\r\n",
        ));
        let client: std::net::SocketAddr = ([127, 0, 0, 1], client_port).into();
        let server: std::net::SocketAddr = ([127, 0, 0, 1], 443).into();
        for (i, seg) in segs.iter().enumerate() {
            let (src, dst) = if seg.from_client {
                (client, server)
            } else {
                (server, client)
            };
            assembler.push(&TcpSegment {
                ts_us: 1_000 + i as u64,
                src,
                dst,
                seq: seg.seq,
                ack: seg.ack,
                flags: TcpFlags(seg.flags),
                payload_len: seg.payload.len() as u32,
                payload: &seg.payload,
            });
        }
    }
    let mut records = assembler.finish();
    records.sort_by_key(|r| r.tuple.client.port());
    let expected = expected_wire(&tls.expected);
    assert_eq!((records[0].tls_seen, records[0].tls.clone()), expected);
    assert_eq!((records[0].requests, records[0].responses), (0, 0));
    assert!(!records[1].tls_seen && records[1].tls.is_none());
    assert_eq!(records[1].requests, 2);
}
