//! Offline analysis (`kalab analyze FILE`): connection lifecycles from any pcap or pcapng file.
//!
//! Streaming in one pass (two when the port is guessed, the first pass stopping early): memory
//! grows with the connections open at once, not with the file. A damaged file yields the results
//! up to the damage inside the error ([`AnalyzeError::partial`]). Each connection is handed to a
//! callback as it finishes; the output layer (`report::export::analysis`) writes them out.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::decode::{decode, LinkType};
use super::file::{CaptureInput, FileFormat};
use super::flows::{CaptureSummary, SummaryBuilder};
use super::source::{Ingest, PacketSource, SkipCounts, SourceError};
use crate::model::ConnectionRecord;

/// Packets read at most when guessing the server port from SYNs.
pub const GUESS_PACKETS: u64 = 200_000;
/// SYNs after which the guess is settled.
pub const GUESS_SYNS: u64 = 1_000;

/// The result of analysing one file.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Analysis {
    /// The file analysed.
    pub file: PathBuf,
    /// Its container format.
    pub format: FileFormat,
    /// The server port connections were oriented by.
    pub port: u16,
    /// True when the port was guessed from the SYNs.
    pub port_guessed: bool,
    /// Link types of the packets, in order of first appearance.
    pub link_types: Vec<LinkType>,
    /// Time of the first packet, microseconds since the Unix epoch.
    pub first_packet_at_us: Option<u64>,
    /// Time of the last packet.
    pub last_packet_at_us: Option<u64>,
    /// Packets read.
    pub packets_read: u64,
    /// Packets that were truncated, malformed or not TCP.
    pub packets_skipped: u64,
    /// `packets_skipped` by reason.
    pub skipped: SkipCounts,
    /// TCP packets to and from other ports.
    pub packets_other_port: u64,
    /// Every connection (empty when they were streamed through [`analyze_file_with`]).
    pub connections: Vec<ConnectionRecord>,
    /// Counts over all connections.
    pub summary: CaptureSummary,
    /// Notes for the reader (other ports seen, skipped packets).
    pub warnings: Vec<String>,
}

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The file cannot be read.
    #[error("cannot read {}: {message}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The reason.
        message: String,
    },
    /// The file is not a pcap or pcapng capture.
    #[error("{} is not a pcap or pcapng capture: {reason}", path.display())]
    NotACapture {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// No SYN to guess the server port from.
    #[error("{}: no TCP SYN found to guess the server port from; pass --port", path.display())]
    NoPort {
        /// The file.
        path: PathBuf,
    },
    /// The file is damaged; `partial` holds the results up to the damage.
    #[error("{} is damaged after {packets} packets (byte offset {offset}): {reason}; results up to the damage were kept", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Packets read before the damage.
        packets: u64,
        /// Byte offset of the damage.
        offset: u64,
        /// What was wrong.
        reason: String,
        /// The results up to the damage.
        partial: Box<Analysis>,
    },
}

impl AnalyzeError {
    /// The results up to the damage, for a damaged file.
    pub fn partial(&self) -> Option<&Analysis> {
        match self {
            AnalyzeError::Damaged { partial, .. } => Some(partial),
            _ => None,
        }
    }
}

fn source_error(path: &Path, e: SourceError) -> AnalyzeError {
    match e {
        SourceError::NotACapture(reason) => AnalyzeError::NotACapture {
            path: path.to_path_buf(),
            reason,
        },
        SourceError::Read(message) => AnalyzeError::Open {
            path: path.to_path_buf(),
            message,
        },
        SourceError::Damaged { offset, reason } => AnalyzeError::Damaged {
            path: path.to_path_buf(),
            packets: 0,
            offset,
            reason,
            partial: Box::new(empty_analysis(path, FileFormat::Pcap, 0, false)),
        },
    }
}

fn empty_analysis(path: &Path, format: FileFormat, port: u16, port_guessed: bool) -> Analysis {
    Analysis {
        file: path.to_path_buf(),
        format,
        port,
        port_guessed,
        link_types: Vec::new(),
        first_packet_at_us: None,
        last_packet_at_us: None,
        packets_read: 0,
        packets_skipped: 0,
        skipped: SkipCounts::default(),
        packets_other_port: 0,
        connections: Vec::new(),
        summary: CaptureSummary::default(),
        warnings: Vec::new(),
    }
}

/// Guesses the server port: the most frequent destination port of SYNs (without ACK) in the
/// first [`GUESS_PACKETS`] packets, else the most frequent source port of SYN-ACKs.
/// Returns the port and a warning when SYNs went to several ports.
pub fn guess_port(path: &Path) -> Result<(u16, Option<String>), AnalyzeError> {
    let input = CaptureInput::open(path).map_err(|e| source_error(path, e))?;
    guess_port_in(&input, path)
}

/// [`guess_port`] on an opened input (`path` names it in errors).
fn guess_port_in(input: &CaptureInput, path: &Path) -> Result<(u16, Option<String>), AnalyzeError> {
    let mut source = input.source().map_err(|e| source_error(path, e))?;
    let mut syn_ports: BTreeMap<u16, u64> = BTreeMap::new();
    let mut syn_ack_ports: BTreeMap<u16, u64> = BTreeMap::new();
    let (mut read, mut syns) = (0u64, 0u64);
    let result = source.for_each_packet(&mut |p| {
        read += 1;
        if let Some(Ok(seg)) = p.link.map(|l| decode(l, p.data, p.wire_len, p.ts_us)) {
            if seg.flags.syn() && !seg.flags.ack() {
                *syn_ports.entry(seg.dst.port()).or_default() += 1;
                syns += 1;
            } else if seg.flags.syn() && seg.flags.ack() {
                *syn_ack_ports.entry(seg.src.port()).or_default() += 1;
            }
        }
        if read >= GUESS_PACKETS || syns >= GUESS_SYNS {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    // Damage is reported by the analysis pass itself; a guess from what was read still stands.
    if let Err(e @ (SourceError::NotACapture(_) | SourceError::Read(_))) = result {
        return Err(source_error(path, e));
    }
    let tally = if syn_ports.is_empty() {
        &syn_ack_ports
    } else {
        &syn_ports
    };
    let best = tally
        .iter()
        .max_by_key(|(port, count)| (**count, std::cmp::Reverse(**port)))
        .map(|(port, _)| *port)
        .ok_or_else(|| AnalyzeError::NoPort {
            path: path.to_path_buf(),
        })?;
    let warning = (tally.len() > 1).then(|| {
        let others: Vec<String> = tally
            .iter()
            .filter(|(p, _)| **p != best)
            .take(5)
            .map(|(p, c)| format!("{p} ({c})"))
            .collect();
        format!(
            "guessed server port {best}; SYNs also went to {}; pass --port to choose",
            others.join(", ")
        )
    });
    Ok((best, warning))
}

/// Analyses `path`, handing each connection to `on_connection` as soon as it is finished (and the
/// open ones at the end). The returned [`Analysis`] has an empty `connections` list.
/// `port`: the server port; None guesses it with [`guess_port`].
pub fn analyze_file_with(
    path: &Path,
    port: Option<u16>,
    on_connection: &mut dyn FnMut(ConnectionRecord),
) -> Result<Analysis, AnalyzeError> {
    let input = CaptureInput::open(path).map_err(|e| source_error(path, e))?;
    analyze_input_with(&input, path, port, on_connection)
}

/// Analyses a capture in memory, keeping every connection (`<memory>` in messages).
pub fn analyze_bytes(bytes: &[u8], port: Option<u16>) -> Result<Analysis, AnalyzeError> {
    let input = CaptureInput::Bytes(bytes.into());
    analyze_input(&input, Path::new("<memory>"), port)
}

/// Analyses a stream read through a buffer (never mapped), keeping every connection; without
/// a port it is spooled first, since guessing the port reads it twice.
pub fn analyze_reader(
    reader: impl std::io::Read + Send + 'static,
    port: Option<u16>,
) -> Result<Analysis, AnalyzeError> {
    let path = Path::new("<stream>");
    let input = match port {
        Some(_) => CaptureInput::Once(std::sync::Mutex::new(Some(Box::new(reader)))),
        None => {
            let mut reader = reader;
            CaptureInput::spool(&mut reader).map_err(|e| source_error(path, e))?
        }
    };
    analyze_input(&input, path, port)
}

/// [`analyze_file_with`] on an opened input (`path` names it in errors).
pub fn analyze_input_with(
    input: &CaptureInput,
    path: &Path,
    port: Option<u16>,
    on_connection: &mut dyn FnMut(ConnectionRecord),
) -> Result<Analysis, AnalyzeError> {
    let (port, port_guessed, guess_warning) = match port {
        Some(port) => (port, false, None),
        None if !input.rereadable() => {
            return Err(AnalyzeError::Open {
                path: path.to_path_buf(),
                message: "a stream read once needs --port".into(),
            })
        }
        None => {
            let (port, warning) = guess_port_in(input, path)?;
            (port, true, warning)
        }
    };
    let mut source = input.source().map_err(|e| source_error(path, e))?;
    let mut analysis = empty_analysis(path, source.format(), port, port_guessed);
    analysis.warnings.extend(guess_warning);
    let mut ingest = Ingest::new(port);
    let mut summary = SummaryBuilder::new();
    let mut last_link = None;
    let mut link_types: Vec<LinkType> = Vec::new();
    let mut finished: Vec<ConnectionRecord> = Vec::new();
    let mut emit = |record: ConnectionRecord, summary: &mut SummaryBuilder| {
        summary.add(&record);
        on_connection(record);
    };
    let result = source.for_each_packet(&mut |p| {
        if p.link != last_link {
            last_link = p.link;
            if let Some(link) = p.link.filter(|l| !link_types.contains(l)) {
                link_types.push(link);
            }
        }
        ingest.packet(p);
        if ingest.packets_captured % 4096 == 0 {
            ingest.assembler.swap_finished(&mut finished);
            for record in finished.drain(..) {
                emit(record, &mut summary);
            }
        }
        ControlFlow::Continue(())
    });
    let counts = ingest.assembler.counts();
    analysis.link_types = link_types;
    analysis.packets_read = ingest.packets_captured;
    analysis.skipped = ingest.skipped;
    analysis.packets_skipped = ingest.skipped.total();
    analysis.packets_other_port = counts.other_port;
    analysis.first_packet_at_us = ingest.first_packet_at_us;
    analysis.last_packet_at_us = ingest.last_packet_at_us;
    for record in ingest.assembler.finish() {
        emit(record, &mut summary);
    }
    analysis.summary = summary.finish(&counts);
    if analysis.packets_skipped > 0 {
        analysis.warnings.push(format!(
            "{} packets skipped: {} truncated, {} malformed, {} not IP, {} not TCP, {} fragments, {} unsupported link type",
            analysis.packets_skipped,
            analysis.skipped.truncated,
            analysis.skipped.malformed,
            analysis.skipped.not_ip,
            analysis.skipped.not_tcp,
            analysis.skipped.fragments,
            analysis.skipped.unsupported_link
        ));
    }
    match result {
        Ok(()) => Ok(analysis),
        Err(SourceError::Damaged { offset, reason }) => Err(AnalyzeError::Damaged {
            path: path.to_path_buf(),
            packets: analysis.packets_read,
            offset,
            reason,
            partial: Box::new(analysis),
        }),
        Err(e) => Err(source_error(path, e)),
    }
}

/// Analyses `path` and keeps every connection, sorted by start time. `port`: the server port;
/// None guesses it from the SYNs. A damaged file returns [`AnalyzeError::Damaged`] carrying the
/// results up to the damage.
pub fn analyze_file(path: &Path, port: Option<u16>) -> Result<Analysis, AnalyzeError> {
    let input = CaptureInput::open(path).map_err(|e| source_error(path, e))?;
    analyze_input(&input, path, port)
}

/// [`analyze_file`] on an opened input.
fn analyze_input(
    input: &CaptureInput,
    path: &Path,
    port: Option<u16>,
) -> Result<Analysis, AnalyzeError> {
    let mut connections = Vec::new();
    let sort = |c: &mut Vec<ConnectionRecord>| c.sort_by_key(|r| (r.started_at_us(), r.tuple));
    match analyze_input_with(input, path, port, &mut |r| connections.push(r)) {
        Ok(mut analysis) => {
            sort(&mut connections);
            analysis.connections = connections;
            Ok(analysis)
        }
        Err(AnalyzeError::Damaged {
            path,
            packets,
            offset,
            reason,
            mut partial,
        }) => {
            sort(&mut connections);
            partial.connections = connections;
            Err(AnalyzeError::Damaged {
                path,
                packets,
                offset,
                reason,
                partial,
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HandshakeKind, TlsVersion};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/capture")
            .join(name)
    }

    fn kinds(a: &Analysis) -> Vec<Option<HandshakeKind>> {
        a.connections
            .iter()
            .map(|c| c.tls.as_ref().map(|t| t.kind))
            .collect()
    }

    /// nginx (TLS 1.2 only, shared session cache) and curl fetching two URLs with
    /// `Connection: close`: the second connection resumes the first's session by its id. The
    /// capture's snaplen (256) cuts the ClientHellos.
    #[test]
    fn tls12_session_id_resumption_from_a_real_capture() {
        let a = analyze_file(&fixture("tls12-nginx-curl.pcap"), None).unwrap();
        assert_eq!(
            kinds(&a),
            [Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)]
        );
        for c in &a.connections {
            let tls = c.tls.as_ref().unwrap();
            assert_eq!(tls.version, Some(TlsVersion::Tls12));
            assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
            assert!(c.tls_seen);
        }
        let s = &a.summary;
        assert_eq!(
            (
                s.tls_connections,
                s.tls_handshakes_full,
                s.tls_handshakes_full_hrr,
                s.tls_handshakes_resumed,
                s.tls_unclassified
            ),
            (2, 1, 0, 1, 0)
        );
        // Encrypted requests are not counted, and no reuse ratio is made of them.
        assert_eq!((s.requests, s.reuse_ratio), (0, None));
    }

    /// nginx (TLS 1.3, P-256 only) and curl offering an X25519 key share first: the server asks
    /// again with a HelloRetryRequest on the first connection; the second resumes by PSK.
    #[test]
    fn tls13_hello_retry_and_psk_resumption_from_a_real_capture() {
        let a = analyze_file(&fixture("tls13-hrr-nginx-curl.pcap"), None).unwrap();
        assert_eq!(
            kinds(&a),
            [Some(HandshakeKind::FullHrr), Some(HandshakeKind::Resumed)]
        );
        assert!(a
            .connections
            .iter()
            .all(|c| c.tls.as_ref().unwrap().version == Some(TlsVersion::Tls13)));
        let s = &a.summary;
        assert_eq!(
            (
                s.tls_connections,
                s.tls_handshakes_full_hrr,
                s.tls_handshakes_resumed
            ),
            (2, 1, 1)
        );
    }

    #[test]
    fn plain_http_captures_have_no_tls() {
        let a = analyze_file(&fixture("lo-en10mb.pcap"), None).unwrap();
        assert!(a.connections.iter().all(|c| !c.tls_seen && c.tls.is_none()));
        assert_eq!(a.summary.tls_connections, 0);
        assert_eq!(a.summary.reuse_ratio, Some(1.0));
    }
}
