//! Offline analysis of capture files: committed fixtures written by tcpdump (EN10MB, LINUX_SLL,
//! LINUX_SLL2, IPv6, pcapng) and files this test writes itself (NULL, LOOP, RAW, nanosecond and
//! big-endian pcap, pcapng with two interfaces), plus truncated, corrupt and garbage files.

use std::io::Write;
use std::path::{Path, PathBuf};

use etherparse::PacketBuilder;
use kalab::capture::{analyze_file, Analysis, AnalyzeError, LinkType};
use kalab::model::{EndState, Side};
use kalab::report::export::analysis::write_analysis;
use kalab::report::export::Format;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/capture")
        .join(name)
}

/// One scripted IPv4 connection to 10.0.0.2:80: two requests, closed by the client.
fn scripted_ip_packets(client_port: u16) -> Vec<Vec<u8>> {
    const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let (mut cseq, mut sseq) = (1000u32, 9000u32);
    let mut out = Vec::new();
    let mut packet = |from_client: bool, syn: bool, ack: bool, fin: bool, payload: &[u8]| {
        let (src, dst, sp, dp, seq, ackn) = if from_client {
            (c, s, client_port, 80, &mut cseq, sseq)
        } else {
            (s, c, 80, client_port, &mut sseq, cseq)
        };
        let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, *seq, 1000);
        if syn {
            b = b.syn();
        }
        if ack {
            b = b.ack(ackn);
        }
        if fin {
            b = b.fin();
        }
        let mut bytes = Vec::new();
        b.write(&mut bytes, payload).unwrap();
        *seq = seq.wrapping_add(payload.len() as u32 + u32::from(syn || fin));
        out.push(bytes);
    };
    packet(true, true, false, false, b"");
    packet(false, true, true, false, b"");
    packet(true, false, true, false, b"");
    for _ in 0..2 {
        packet(true, false, true, false, REQ);
        packet(false, false, true, false, RESP);
    }
    packet(true, false, true, true, b"");
    packet(false, false, true, true, b"");
    packet(true, false, true, false, b"");
    out
}

fn with_link(link: LinkType, ip: &[u8]) -> Vec<u8> {
    let mut frame = match link {
        LinkType::Ethernet => vec![2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0x08, 0x00],
        LinkType::LinuxSll => vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00],
        LinkType::LinuxSll2 => vec![8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0],
        LinkType::Null => 2u32.to_le_bytes().to_vec(),
        LinkType::Loop => 2u32.to_be_bytes().to_vec(),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => Vec::new(),
    };
    frame.extend_from_slice(ip);
    frame
}

#[derive(Clone, Copy)]
enum PcapFlavour {
    Micro,
    Nano,
    BigEndian,
}

/// Writes a classic pcap file; `snaplen` truncates the stored frames.
fn write_pcap(path: &Path, dlt: u32, frames: &[Vec<u8>], snaplen: usize, flavour: PcapFlavour) {
    let mut out = Vec::new();
    let (magic, be) = match flavour {
        PcapFlavour::Micro => (0xa1b2_c3d4u32, false),
        PcapFlavour::Nano => (0xa1b2_3c4d, false),
        PcapFlavour::BigEndian => (0xa1b2_c3d4, true),
    };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    out.extend(u32b(magic));
    out.extend(u16b(2));
    out.extend(u16b(4));
    out.extend(u32b(0));
    out.extend(u32b(0));
    out.extend(u32b(snaplen as u32));
    out.extend(u32b(dlt));
    for (i, frame) in frames.iter().enumerate() {
        let caplen = frame.len().min(snaplen);
        let frac = match flavour {
            PcapFlavour::Nano => i as u32 * 1000,
            _ => i as u32,
        };
        out.extend(u32b(1_700_000_000));
        out.extend(u32b(frac));
        out.extend(u32b(caplen as u32));
        out.extend(u32b(frame.len() as u32));
        out.extend_from_slice(&frame[..caplen]);
    }
    std::fs::write(path, out).unwrap();
}

/// Writes a pcapng file: one interface per link type, packets spread over them in turn.
fn write_pcapng(path: &Path, links: &[u16], frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        out.extend(kind.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend(len.to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    for link in links {
        let mut idb = Vec::new();
        idb.extend(link.to_le_bytes());
        idb.extend(0u16.to_le_bytes());
        idb.extend(65535u32.to_le_bytes());
        block(&mut out, 1, &idb);
    }
    for (i, frame) in frames.iter().enumerate() {
        let ts = 1_700_000_000_000_000u64 + i as u64;
        let mut epb = Vec::new();
        epb.extend(((i % links.len()) as u32).to_le_bytes());
        epb.extend(((ts >> 32) as u32).to_le_bytes());
        epb.extend((ts as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend((frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(frame);
        block(&mut out, 6, &epb);
    }
    std::fs::write(path, out).unwrap();
}

fn assert_one_scripted_connection(a: &Analysis) {
    assert_eq!(a.port, 80);
    assert_eq!(a.packets_read, 10);
    assert_eq!(a.packets_skipped, 0);
    assert_eq!(a.summary.connections_opened, 1);
    assert_eq!(a.summary.requests, 2);
    assert_eq!(a.summary.closes_by_client, 1);
    let r = &a.connections[0];
    assert_eq!(r.client_isn, 1000);
    assert_eq!((r.requests, r.responses), (2, 2));
    assert_eq!(r.active_closer, Some(Side::Client));
    assert_eq!(r.end, EndState::ClosedByClient);
    assert_eq!((r.packets_to_server, r.packets_to_client), (6, 4));
}

#[test]
fn crafted_pcap_per_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let ip = scripted_ip_packets(50000);
    for link in [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
    ] {
        let frames: Vec<Vec<u8>> = ip.iter().map(|p| with_link(link, p)).collect();
        let path = dir.path().join(format!("{}.pcap", link.name()));
        write_pcap(&path, link.dlt() as u32, &frames, 65535, PcapFlavour::Micro);
        let a = analyze_file(&path, None).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(a.link_types, vec![link]);
        assert_one_scripted_connection(&a);
        assert_eq!(a.first_packet_at_us, Some(1_700_000_000_000_000));
        assert_eq!(a.connections[0].syn_ack_at_us, Some(1_700_000_000_000_001));
    }
}

#[test]
fn nanosecond_big_endian_and_snaplen_truncated_pcap() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<u8>> = scripted_ip_packets(50001)
        .iter()
        .map(|p| with_link(LinkType::Ethernet, p))
        .collect();
    let nano = dir.path().join("nano.pcap");
    write_pcap(&nano, 1, &frames, 65535, PcapFlavour::Nano);
    let a = analyze_file(&nano, Some(80)).unwrap();
    assert_one_scripted_connection(&a);
    assert_eq!(a.connections[0].syn_ack_at_us, Some(1_700_000_000_000_001));
    let be = dir.path().join("be.pcap");
    write_pcap(&be, 1, &frames, 65535, PcapFlavour::BigEndian);
    assert_one_scripted_connection(&analyze_file(&be, Some(80)).unwrap());
    // 70 bytes: headers plus 16 bytes of each HTTP head; bytes are counted from the headers.
    let cut = dir.path().join("cut.pcap");
    write_pcap(&cut, 1, &frames, 70, PcapFlavour::Micro);
    let a = analyze_file(&cut, Some(80)).unwrap();
    assert_eq!(a.summary.connections_opened, 1);
    assert_eq!(a.connections[0].payload_bytes_to_server, 2 * 27);
    assert_eq!(
        a.connections[0].requests, 2,
        "request lines fit in the snaplen"
    );
}

#[test]
fn crafted_pcapng_with_two_interfaces() {
    let dir = tempfile::tempdir().unwrap();
    let ip = scripted_ip_packets(50002);
    // Even packets on an Ethernet interface, odd ones on a RAW interface.
    let frames: Vec<Vec<u8>> = ip
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let link = if i % 2 == 0 {
                LinkType::Ethernet
            } else {
                LinkType::Raw
            };
            with_link(link, p)
        })
        .collect();
    let path = dir.path().join("two.pcapng");
    write_pcapng(&path, &[1, 101], &frames);
    let a = analyze_file(&path, None).unwrap();
    assert_eq!(a.link_types, vec![LinkType::Ethernet, LinkType::Raw]);
    assert_one_scripted_connection(&a);
}

/// Expected counts for the tcpdump fixtures, checked against tshark when they were recorded.
struct Expect {
    file: &'static str,
    link: LinkType,
    port: u16,
    connections: u64,
    requests: u64,
    by_client: u64,
    by_server: u64,
    resets: u64,
}

#[test]
fn tcpdump_fixtures() {
    let cases = [
        Expect {
            file: "lo-en10mb.pcap",
            link: LinkType::Ethernet,
            port: 18931,
            connections: 2,
            requests: 2,
            by_client: 1,
            by_server: 1,
            resets: 0,
        },
        Expect {
            file: "lo-en10mb.pcapng",
            link: LinkType::Ethernet,
            port: 18931,
            connections: 2,
            requests: 2,
            by_client: 1,
            by_server: 1,
            resets: 0,
        },
        Expect {
            file: "any-sll2.pcap",
            link: LinkType::LinuxSll2,
            port: 18931,
            connections: 2,
            requests: 2,
            by_client: 0,
            by_server: 2,
            resets: 0,
        },
        Expect {
            file: "any-sll.pcap",
            link: LinkType::LinuxSll,
            port: 18931,
            connections: 2,
            requests: 0,
            by_client: 0,
            by_server: 0,
            resets: 2,
        },
        Expect {
            file: "lo-en10mb-ipv6.pcap",
            link: LinkType::Ethernet,
            port: 18932,
            connections: 1,
            requests: 1,
            by_client: 0,
            // Its FINs crossed (see below): a simultaneous close, neither side's alone.
            by_server: 0,
            resets: 0,
        },
    ];
    for e in cases {
        let a = analyze_file(&fixture(e.file), None).unwrap_or_else(|err| panic!("{err}"));
        let s = &a.summary;
        assert_eq!(a.port, e.port, "{}", e.file);
        assert!(a.port_guessed);
        assert_eq!(a.link_types, vec![e.link], "{}", e.file);
        assert_eq!(s.connections_opened, e.connections, "{}", e.file);
        assert_eq!(s.partial_connections, 0, "{}", e.file);
        assert_eq!(s.requests, e.requests, "{}", e.file);
        let responses: u64 = a.connections.iter().map(|c| c.responses).sum();
        assert_eq!(responses, e.requests, "{}", e.file);
        assert_eq!(s.closes_by_client, e.by_client, "{}", e.file);
        assert_eq!(s.closes_by_server, e.by_server, "{}", e.file);
        assert_eq!(s.closes_by_reset, e.resets, "{}", e.file);
        assert_eq!(a.packets_skipped, 0, "{}", e.file);
    }
    let v6 = analyze_file(&fixture("lo-en10mb-ipv6.pcap"), None).unwrap();
    assert_eq!(
        v6.connections[0].tuple.server,
        "[::1]:18932".parse().unwrap()
    );
    // The server's FIN and the client's FIN were sent 1 us apart, the client's acknowledging
    // only the server's data: both sides closed at once.
    assert_eq!(v6.summary.closes_simultaneous, 1);
    assert_eq!(
        v6.connections[0].end,
        kalab::model::EndState::ClosedSimultaneously
    );
}

#[test]
fn truncated_file_keeps_results_up_to_the_damage() {
    let bytes = std::fs::read(fixture("lo-en10mb.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.pcap");
    // Cut in the middle of the second connection's records.
    std::fs::write(&path, &bytes[..bytes.len() - 500]).unwrap();
    let err = analyze_file(&path, Some(18931)).unwrap_err();
    assert!(matches!(err, AnalyzeError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    let partial = err.partial().unwrap();
    assert!(partial.packets_read > 12 && partial.packets_read < 24);
    assert_eq!(partial.summary.connections_opened, 2);
    assert_eq!(partial.summary.closes_by_client, 1);
    assert_eq!(partial.summary.open_at_end, 1);
    assert_eq!(partial.connections.len(), 2);

    // run_analyze prints the partial results, then reports the error.
    let mut out = Vec::new();
    let result = write_analysis(&path, Some(18931), Format::Json, &mut out);
    assert!(result.is_err());
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["connections"].as_array().unwrap().len(), 2);
    assert!(json["error"].as_str().unwrap().contains("damaged"));
}

#[test]
fn corrupt_record_length_is_an_error_not_a_panic() {
    let mut bytes = std::fs::read(fixture("lo-en10mb.pcap")).unwrap();
    // The first record's caplen (offset 24 + 8) claims 2 GiB.
    bytes[32..36].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let err = analyze_file(&path, Some(18931)).unwrap_err();
    assert!(
        matches!(err, AnalyzeError::Damaged { packets: 0, .. }),
        "{err}"
    );
}

#[test]
fn garbage_and_empty_files_are_rejected_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pcap");
    let mut f = std::fs::File::create(&garbage).unwrap();
    for i in 0..4096u32 {
        f.write_all(&i.wrapping_mul(2_654_435_761).to_le_bytes())
            .unwrap();
    }
    drop(f);
    let err = analyze_file(&garbage, Some(80)).unwrap_err();
    assert!(matches!(err, AnalyzeError::NotACapture { .. }), "{err}");
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        analyze_file(&empty, None).unwrap_err(),
        AnalyzeError::NotACapture { .. }
    ));
    let missing = dir.path().join("missing.pcap");
    let err = analyze_file(&missing, None).unwrap_err();
    assert!(matches!(err, AnalyzeError::Open { .. }), "{err}");
}

#[test]
fn garbage_frames_are_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut frames: Vec<Vec<u8>> = scripted_ip_packets(50003)
        .iter()
        .map(|p| with_link(LinkType::Ethernet, p))
        .collect();
    frames.insert(3, vec![0xff; 10]); // truncated Ethernet header
    frames.insert(5, vec![0x45; 80]); // Ethernet with a bogus EtherType
    let path = dir.path().join("noisy.pcap");
    write_pcap(&path, 1, &frames, 65535, PcapFlavour::Micro);
    let a = analyze_file(&path, Some(80)).unwrap();
    assert_eq!(a.packets_read, 12);
    assert_eq!(a.packets_skipped, 2);
    assert_eq!(a.summary.connections_opened, 1);
    assert!(a.warnings.iter().any(|w| w.contains("2 packets skipped")));
}

#[test]
fn no_syn_means_no_port_guess() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<Vec<u8>> = scripted_ip_packets(50004)[2..]
        .iter()
        .map(|p| with_link(LinkType::Raw, p))
        .collect();
    let path = dir.path().join("nosyn.pcap");
    write_pcap(&path, 101, &frames, 65535, PcapFlavour::Micro);
    assert!(matches!(
        analyze_file(&path, None).unwrap_err(),
        AnalyzeError::NoPort { .. }
    ));
    let a = analyze_file(&path, Some(80)).unwrap();
    assert_eq!(a.summary.connections_opened, 0);
    assert_eq!(a.summary.partial_connections, 1);
    assert_eq!(a.summary.partial_requests, 2);
}

#[test]
fn output_formats() {
    let path = fixture("lo-en10mb.pcap");
    let render = |format| {
        let mut out = Vec::new();
        write_analysis(&path, None, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let json = render(Format::Json);
    let parsed: Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.connections.len(), 2);
    assert_eq!(parsed.summary.connections_opened, 2);
    let csv = render(Format::Csv);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("client,server,client_isn"));
    // The TLS columns come last, empty on plain connections.
    assert!(csv.contains(",client,closed-by-client,,,\n"), "{csv}");
    assert!(csv.contains(",server,closed-by-server,,,\n"), "{csv}");
    let table = render(Format::Table);
    assert!(table.contains("connections opened (SYN)"), "{table}");
    assert!(table.contains("closed-by-client"), "{table}");
    let md = render(Format::Markdown);
    assert!(md.contains("| connections opened (SYN)"), "{md}");
    assert_eq!("md".parse::<Format>(), Ok(Format::Markdown));
    assert!("xml".parse::<Format>().is_err());
}
