//! `kalab analyze FILE`: connection lifecycles from any pcap or pcapng file.
//!
//! Streaming in one pass (two when the port is guessed, the first pass stopping early): memory
//! grows with the connections open at once, not with the file. A damaged file yields the results
//! up to the damage inside the error ([`AnalyzeError::partial`]), and [`run_analyze`] prints them
//! before returning the error. JSON and CSV stream every connection; the table and Markdown
//! formats show the summary and the first [`TABLE_ROW_LIMIT`] connections.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use comfy_table::{presets, Table};
use serde::{Deserialize, Serialize};

use super::decode::{decode, LinkType};
use super::file::{FileFormat, FileSource};
use super::flows::{CaptureSummary, SummaryBuilder};
use super::source::{Ingest, PacketSource, SkipCounts, SourceError};
use crate::model::{ConnectionRecord, Side};

/// Packets read at most when guessing the server port from SYNs.
pub const GUESS_PACKETS: u64 = 200_000;
/// SYNs after which the guess is settled.
pub const GUESS_SYNS: u64 = 1_000;
/// Connection rows shown by the table and Markdown formats.
pub const TABLE_ROW_LIMIT: usize = 1_000;

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
    let mut source = FileSource::open(path).map_err(|e| source_error(path, e))?;
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
    let (port, port_guessed, guess_warning) = match port {
        Some(port) => (port, false, None),
        None => {
            let (port, warning) = guess_port(path)?;
            (port, true, warning)
        }
    };
    let mut source = FileSource::open(path).map_err(|e| source_error(path, e))?;
    let mut analysis = empty_analysis(path, source.format(), port, port_guessed);
    analysis.warnings.extend(guess_warning);
    let mut ingest = Ingest::new(port);
    let mut summary = SummaryBuilder::new();
    let mut last_link = None;
    let mut link_types: Vec<LinkType> = Vec::new();
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
            for record in ingest.assembler.take_finished() {
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
    let mut connections = Vec::new();
    let sort = |c: &mut Vec<ConnectionRecord>| c.sort_by_key(|r| (r.started_at_us(), r.tuple));
    match analyze_file_with(path, port, &mut |r| connections.push(r)) {
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

/// Output formats of `kalab analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalyzeFormat {
    /// Human-readable tables (comfy-table).
    #[default]
    Table,
    /// One JSON object shaped like [`Analysis`], connections streamed.
    Json,
    /// Markdown tables.
    Markdown,
    /// One CSV row per connection, streamed.
    Csv,
}

impl FromStr for AnalyzeFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(AnalyzeFormat::Table),
            "json" => Ok(AnalyzeFormat::Json),
            "markdown" | "md" => Ok(AnalyzeFormat::Markdown),
            "csv" => Ok(AnalyzeFormat::Csv),
            other => Err(format!(
                "unknown format `{other}` (expected table, json, markdown or csv)"
            )),
        }
    }
}

impl fmt::Display for AnalyzeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnalyzeFormat::Table => "table",
            AnalyzeFormat::Json => "json",
            AnalyzeFormat::Markdown => "markdown",
            AnalyzeFormat::Csv => "csv",
        })
    }
}

/// The CSV header; one row per connection follows (times in microseconds since the epoch).
pub const CSV_HEADER: &str = "client,server,client_isn,partial,syn_at_us,syn_ack_at_us,client_fin_at_us,server_fin_at_us,rst_at_us,rst_from,first_packet_at_us,last_packet_at_us,packets_to_server,packets_to_client,payload_bytes_to_server,payload_bytes_to_client,requests,responses,active_closer,end";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn side(s: Option<Side>) -> &'static str {
    s.map(Side::as_str).unwrap_or("")
}

/// One CSV row for a connection (addresses contain no commas or quotes).
pub fn csv_row(r: &ConnectionRecord) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.tuple.client,
        r.tuple.server,
        r.client_isn,
        r.partial,
        opt(r.syn_at_us),
        opt(r.syn_ack_at_us),
        opt(r.client_fin_at_us),
        opt(r.server_fin_at_us),
        opt(r.rst_at_us),
        side(r.rst_from),
        r.first_packet_at_us,
        r.last_packet_at_us,
        r.packets_to_server,
        r.packets_to_client,
        r.payload_bytes_to_server,
        r.payload_bytes_to_client,
        r.requests,
        r.responses,
        side(r.active_closer),
        r.end
    )
}

/// Streams one analysis to a writer in one format.
struct Emitter<'w> {
    format: AnalyzeFormat,
    out: &'w mut dyn Write,
    rows: Vec<ConnectionRecord>,
    omitted: u64,
    written: u64,
    error: Option<std::io::Error>,
}

impl Emitter<'_> {
    fn begin(&mut self) -> std::io::Result<()> {
        match self.format {
            AnalyzeFormat::Json => self.out.write_all(b"{\"connections\":["),
            AnalyzeFormat::Csv => writeln!(self.out, "{CSV_HEADER}"),
            AnalyzeFormat::Table | AnalyzeFormat::Markdown => Ok(()),
        }
    }

    fn connection(&mut self, r: ConnectionRecord) {
        if self.error.is_some() {
            return;
        }
        let result = match self.format {
            AnalyzeFormat::Json => {
                let sep: &[u8] = if self.written == 0 { b"\n" } else { b",\n" };
                self.out
                    .write_all(sep)
                    .and_then(|_| serde_json::to_writer(&mut *self.out, &r).map_err(Into::into))
            }
            AnalyzeFormat::Csv => writeln!(self.out, "{}", csv_row(&r)),
            AnalyzeFormat::Table | AnalyzeFormat::Markdown => {
                if self.rows.len() < TABLE_ROW_LIMIT {
                    self.rows.push(r);
                } else {
                    self.omitted += 1;
                }
                Ok(())
            }
        };
        self.written += 1;
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn end(&mut self, analysis: &Analysis, error: Option<&AnalyzeError>) -> anyhow::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e).context("writing the analysis");
        }
        match self.format {
            AnalyzeFormat::Json => {
                let mut rest = serde_json::to_value(analysis)?;
                if let Some(map) = rest.as_object_mut() {
                    map.remove("connections");
                    if let Some(e) = error {
                        map.insert("error".into(), e.to_string().into());
                    }
                    self.out.write_all(b"\n]")?;
                    for (key, value) in map.iter() {
                        write!(self.out, ",{}:", serde_json::to_string(key)?)?;
                        serde_json::to_writer(&mut *self.out, value)?;
                    }
                }
                self.out.write_all(b"}\n")?;
            }
            AnalyzeFormat::Csv => {}
            AnalyzeFormat::Table | AnalyzeFormat::Markdown => {
                self.rows.sort_by_key(|r| (r.started_at_us(), r.tuple));
                let markdown = self.format == AnalyzeFormat::Markdown;
                write_summary(&mut *self.out, analysis, markdown)?;
                writeln!(self.out)?;
                write_connections(&mut *self.out, analysis, &self.rows, markdown)?;
                if self.omitted > 0 {
                    writeln!(
                        self.out,
                        "... and {} more connections (use --format csv or json for every connection)",
                        self.omitted
                    )?;
                }
                for warning in &analysis.warnings {
                    writeln!(self.out, "warning: {warning}")?;
                }
            }
        }
        Ok(())
    }
}

fn new_table(markdown: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    table
}

fn fmt_ratio(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

fn write_summary(out: &mut dyn Write, a: &Analysis, markdown: bool) -> std::io::Result<()> {
    let s = &a.summary;
    let mut table = new_table(markdown);
    table.set_header(vec!["capture (source: packets)", "value"]);
    let port = if a.port_guessed {
        format!("{} (guessed from SYNs)", a.port)
    } else {
        a.port.to_string()
    };
    let links: Vec<&str> = a.link_types.iter().map(|l| l.name()).collect();
    let dash = |v: Option<u64>| opt(v).chars().next().map_or("-".to_string(), |_| opt(v));
    let rows: Vec<(&str, String)> = vec![
        ("file", a.file.display().to_string()),
        (
            "format / link type",
            format!("{:?} / {}", a.format, links.join(", ")).to_lowercase(),
        ),
        ("server port", port),
        (
            "packets read / skipped / other ports",
            format!(
                "{} / {} / {}",
                a.packets_read, a.packets_skipped, a.packets_other_port
            ),
        ),
        ("connections opened (SYN)", s.connections_opened.to_string()),
        (
            "partial connections (SYN not captured)",
            s.partial_connections.to_string(),
        ),
        ("requests", s.requests.to_string()),
        (
            "reuse ratio (requests / connection)",
            fmt_ratio(s.reuse_ratio),
        ),
        (
            "requests per connection min / median / max",
            format!(
                "{} / {} / {}",
                dash(s.requests_per_connection_min),
                fmt_ratio(s.requests_per_connection_median),
                dash(s.requests_per_connection_max)
            ),
        ),
        (
            "closed by client / server / reset / open at end",
            format!(
                "{} / {} / {} / {}",
                s.closes_by_client, s.closes_by_server, s.closes_by_reset, s.open_at_end
            ),
        ),
        (
            "connections with FIN from client / server",
            format!("{} / {}", s.fins_from_client, s.fins_from_server),
        ),
        (
            "FIN packets from client / server, RST packets",
            format!(
                "{} / {}, {}",
                s.fin_packets_from_client, s.fin_packets_from_server, s.rst_packets
            ),
        ),
    ];
    for (k, v) in rows {
        table.add_row(vec![k.to_string(), v]);
    }
    writeln!(out, "{table}")
}

fn write_connections(
    out: &mut dyn Write,
    a: &Analysis,
    rows: &[ConnectionRecord],
    markdown: bool,
) -> std::io::Result<()> {
    let origin = a.first_packet_at_us.unwrap_or(0);
    let ms = |t: u64| format!("{:.3}", t.saturating_sub(origin) as f64 / 1000.0);
    let mut table = new_table(markdown);
    table.set_header(vec![
        "#",
        "client",
        "server",
        "start ms",
        "handshake us",
        "duration ms",
        "requests",
        "responses",
        "packets c>s / s>c",
        "bytes c>s / s>c",
        "closer",
        "end",
    ]);
    for (i, r) in rows.iter().enumerate() {
        let handshake = match (r.syn_at_us, r.syn_ack_at_us) {
            (Some(syn), Some(ack)) => ack.saturating_sub(syn).to_string(),
            _ => "-".into(),
        };
        let duration = r.last_packet_at_us.saturating_sub(r.started_at_us());
        table.add_row(vec![
            (i + 1).to_string(),
            r.tuple.client.to_string(),
            r.tuple.server.to_string(),
            ms(r.started_at_us()) + if r.partial { " (partial)" } else { "" },
            handshake,
            format!("{:.3}", duration as f64 / 1000.0),
            r.requests.to_string(),
            r.responses.to_string(),
            format!("{} / {}", r.packets_to_server, r.packets_to_client),
            format!(
                "{} / {}",
                r.payload_bytes_to_server, r.payload_bytes_to_client
            ),
            side(r.active_closer).to_string(),
            r.end.to_string(),
        ]);
    }
    writeln!(out, "{table}")
}

/// The `kalab analyze FILE [--port N] [--format F]` command: analyses `path` and writes the
/// summary and per-connection results to `out`. `port`: the server port, None guesses it.
/// For a damaged file the results up to the damage are written, then the error is returned.
pub fn run_analyze(
    path: &Path,
    port: Option<u16>,
    format: AnalyzeFormat,
    out: &mut dyn Write,
) -> anyhow::Result<Analysis> {
    let mut emitter = Emitter {
        format,
        out,
        rows: Vec::new(),
        omitted: 0,
        written: 0,
        error: None,
    };
    // Errors before the first packet are reported without writing anything.
    let mut started = false;
    let result = analyze_file_with(path, port, &mut |r| {
        if !started {
            started = true;
            if let Err(e) = emitter.begin() {
                emitter.error = Some(e);
            }
        }
        emitter.connection(r);
    });
    match result {
        Ok(analysis) => {
            if !started {
                emitter.begin()?;
            }
            emitter.end(&analysis, None)?;
            Ok(analysis)
        }
        Err(e) => {
            if let Some(partial) = e.partial() {
                if !started {
                    emitter.begin()?;
                }
                emitter.end(partial, Some(&e))?;
            }
            Err(e.into())
        }
    }
}
