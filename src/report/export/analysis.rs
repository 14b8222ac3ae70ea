//! `kalab analyze` output: a capture's analysis streamed to a writer in any [`Format`]. JSON and
//! CSV stream one connection at a time (memory stays flat on captures of millions of packets);
//! the table and Markdown keep the first [`TABLE_ROW_LIMIT`] connections for their table.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use comfy_table::{presets, Table};

use super::Format;
use crate::capture::{analyze_file_with, Analysis, AnalyzeError};
use crate::model::{ConnectionRecord, Side};

/// Connection rows shown by the table and Markdown formats.
pub const TABLE_ROW_LIMIT: usize = 1_000;

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
    format: Format,
    out: &'w mut dyn Write,
    rows: Vec<ConnectionRecord>,
    omitted: u64,
    written: u64,
    error: Option<std::io::Error>,
}

impl Emitter<'_> {
    fn begin(&mut self) -> std::io::Result<()> {
        match self.format {
            Format::Json => self.out.write_all(b"{\"connections\":["),
            Format::Csv => writeln!(self.out, "{CSV_HEADER}"),
            Format::Table | Format::Markdown => Ok(()),
        }
    }

    fn connection(&mut self, r: ConnectionRecord) {
        if self.error.is_some() {
            return;
        }
        let result = match self.format {
            Format::Json => {
                let sep: &[u8] = if self.written == 0 { b"\n" } else { b",\n" };
                self.out
                    .write_all(sep)
                    .and_then(|_| serde_json::to_writer(&mut *self.out, &r).map_err(Into::into))
            }
            Format::Csv => writeln!(self.out, "{}", csv_row(&r)),
            Format::Table | Format::Markdown => {
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
            Format::Json => {
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
            Format::Csv => {}
            Format::Table | Format::Markdown => {
                self.rows.sort_by_key(|r| (r.started_at_us(), r.tuple));
                let markdown = self.format == Format::Markdown;
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
    crate::report::number::fixed_or_dash(v, 2)
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
            "closed simultaneously (the FINs crossed)",
            s.closes_simultaneous.to_string(),
        ),
        (
            "attempts refused / never answered",
            format!("{} / {}", s.refused, s.unanswered),
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
pub fn write_analysis(
    path: &Path,
    port: Option<u16>,
    format: Format,
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
