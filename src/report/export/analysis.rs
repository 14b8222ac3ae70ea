//! `kalab analyze` output: a capture's analysis streamed to a writer in any [`Format`]. JSON and
//! CSV stream one connection at a time (memory stays flat on captures of millions of packets);
//! the table and Markdown keep the first [`TABLE_ROW_LIMIT`] connections for their table.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use comfy_table::{presets, Table};

use super::Format;
use crate::capture::{analyze_file_with, Analysis, AnalyzeError, CaptureSummary};
use crate::model::{ConnectionRecord, Side, TlsVersion};

/// Connection rows shown by the table and Markdown formats.
pub const TABLE_ROW_LIMIT: usize = 1_000;

/// The CSV header; one row per connection follows (times in microseconds since the epoch). On a
/// TLS connection `requests` and `responses` say `encrypted`; `tls` is its handshake (`full`,
/// `full-hrr`, `resumed`, or `unclassified`), empty on a plain connection.
pub const CSV_HEADER: &str = "client,server,client_isn,partial,syn_at_us,syn_ack_at_us,client_fin_at_us,server_fin_at_us,rst_at_us,rst_from,first_packet_at_us,last_packet_at_us,packets_to_server,packets_to_client,payload_bytes_to_server,payload_bytes_to_client,requests,responses,active_closer,end,tls,tls_version,tls_alpn";

/// What the request and response columns say on a TLS connection: the wire cannot count
/// encrypted HTTP messages.
pub const ENCRYPTED: &str = "encrypted";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn side(s: Option<Side>) -> &'static str {
    s.map(Side::as_str).unwrap_or("")
}

/// A message count, or [`ENCRYPTED`] on a TLS connection.
fn messages(r: &ConnectionRecord, count: u64) -> String {
    if r.tls_seen {
        ENCRYPTED.to_string()
    } else {
        count.to_string()
    }
}

/// The handshake word of a TLS connection: its kind, or `unclassified`; None when plain.
fn handshake_word(r: &ConnectionRecord) -> Option<&'static str> {
    match &r.tls {
        Some(tls) => Some(tls.kind.as_str()),
        None => r.tls_seen.then_some("unclassified"),
    }
}

/// The TLS column of the connection table: `resumed 1.3 h2`, `full 1.2`, `unclassified`, `-`.
fn handshake_cell(r: &ConnectionRecord) -> String {
    let Some(word) = handshake_word(r) else {
        return "-".into();
    };
    let mut cell = word.to_string();
    if let Some(tls) = &r.tls {
        if let Some(version) = tls.version {
            cell += &format!(" {}", version_number(version));
        }
        if let Some(alpn) = &tls.alpn {
            cell += &format!(" {alpn}");
        }
    }
    cell
}

fn version_number(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Tls12 => "1.2",
        TlsVersion::Tls13 => "1.3",
    }
}

/// One CSV row for a connection (addresses contain no commas or quotes; an ALPN name with one
/// is quoted).
pub fn csv_row(r: &ConnectionRecord) -> String {
    let tls = r.tls.as_ref();
    let alpn = tls.and_then(|t| t.alpn.as_deref()).unwrap_or("");
    let alpn = if alpn.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", alpn.replace('"', "\"\""))
    } else {
        alpn.to_string()
    };
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
        messages(r, r.requests),
        messages(r, r.responses),
        side(r.active_closer),
        r.end,
        handshake_word(r).unwrap_or(""),
        tls.and_then(|t| t.version).map_or("", version_number),
        alpn
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
    /// JSON rows are serialised here and written in large pieces: serde_json writes every
    /// token separately, and each write through `out` is a dynamic call.
    pending: Vec<u8>,
}

/// JSON rows are handed to the writer once this many bytes are pending (large writes cost the
/// kernel less per byte when the output is a file).
const JSON_FLUSH_BYTES: usize = 1 << 20;

impl Emitter<'_> {
    fn begin(&mut self) -> std::io::Result<()> {
        match self.format {
            Format::Json => self.out.write_all(b"{\"connections\":["),
            Format::Csv => writeln!(self.out, "{CSV_HEADER}"),
            Format::Table | Format::Markdown => Ok(()),
        }
    }

    fn connection(&mut self, r: ConnectionRecord) {
        // `-v`: each connection as the file's packets complete it.
        crate::model::verbosity::event(|| {
            format!(
                "wire: connection {} -> {} ended {} after {} request(s)",
                r.tuple.client, r.tuple.server, r.end, r.requests
            )
        });
        if self.error.is_some() {
            return;
        }
        let result = match self.format {
            Format::Json => {
                let sep: &[u8] = if self.written == 0 { b"\n" } else { b",\n" };
                self.pending.extend_from_slice(sep);
                super::record_json::write_record(&mut self.pending, &r);
                if self.pending.len() >= JSON_FLUSH_BYTES {
                    let written = self.out.write_all(&self.pending);
                    self.pending.clear();
                    written
                } else {
                    Ok(())
                }
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
                self.out.write_all(&self.pending)?;
                self.pending.clear();
                // Only the summary: the connections were streamed, so `analysis` holds none.
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
    let mut rows: Vec<(&str, String)> = vec![
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
        ("requests", requests_cell(s)),
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
    if s.tls_connections > 0 {
        rows.push((
            "TLS connections (source: hellos)",
            s.tls_connections.to_string(),
        ));
        rows.push((
            "TLS handshakes full / full-hrr / resumed / unclassified",
            format!(
                "{} / {} / {} / {}",
                s.tls_handshakes_full,
                s.tls_handshakes_full_hrr,
                s.tls_handshakes_resumed,
                s.tls_unclassified
            ),
        ));
    }
    for (k, v) in rows {
        table.add_row(vec![k.to_string(), v]);
    }
    writeln!(out, "{table}")
}

/// The requests row: a count over plain connections, and what TLS hid.
fn requests_cell(s: &CaptureSummary) -> String {
    let connections = s.connections_opened + s.partial_connections;
    if s.tls_connections == 0 {
        s.requests.to_string()
    } else if s.tls_connections >= connections {
        format!("{ENCRYPTED} (TLS on every connection)")
    } else {
        format!(
            "{} on plain connections; {ENCRYPTED} on {} TLS connections",
            s.requests, s.tls_connections
        )
    }
}

fn write_connections(
    out: &mut dyn Write,
    a: &Analysis,
    rows: &[ConnectionRecord],
    markdown: bool,
) -> std::io::Result<()> {
    let origin = a.first_packet_at_us.unwrap_or(0);
    let ms = |t: u64| format!("{:.3}", t.saturating_sub(origin) as f64 / 1000.0);
    // The TLS column only for captures with TLS in them.
    let tls = a.summary.tls_connections > 0;
    let mut table = new_table(markdown);
    let mut header = vec![
        "#",
        "client",
        "server",
        "start ms",
        "tcp handshake us",
        "duration ms",
        "requests",
        "responses",
        "packets c>s / s>c",
        "bytes c>s / s>c",
        "closer",
        "end",
    ];
    if tls {
        header.push("tls (source: hellos)");
    }
    table.set_header(header);
    for (i, r) in rows.iter().enumerate() {
        let handshake = match (r.syn_at_us, r.syn_ack_at_us) {
            (Some(syn), Some(ack)) => ack.saturating_sub(syn).to_string(),
            _ => "-".into(),
        };
        let duration = r.last_packet_at_us.saturating_sub(r.started_at_us());
        let mut row = vec![
            (i + 1).to_string(),
            r.tuple.client.to_string(),
            r.tuple.server.to_string(),
            ms(r.started_at_us()) + if r.partial { " (partial)" } else { "" },
            handshake,
            format!("{:.3}", duration as f64 / 1000.0),
            messages(r, r.requests),
            messages(r, r.responses),
            format!("{} / {}", r.packets_to_server, r.packets_to_client),
            format!(
                "{} / {}",
                r.payload_bytes_to_server, r.payload_bytes_to_client
            ),
            side(r.active_closer).to_string(),
            r.end.to_string(),
        ];
        if tls {
            row.push(handshake_cell(r));
        }
        table.add_row(row);
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
        pending: Vec::with_capacity(JSON_FLUSH_BYTES + 4096),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn output(file: &str, format: Format) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/capture")
            .join(file);
        let mut out = Vec::new();
        write_analysis(&path, None, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tls_connections_show_their_handshake_and_encrypted_requests() {
        let table = output("tls13-hrr-nginx-curl.pcap", Format::Markdown);
        assert!(
            table.contains("| encrypted (TLS on every connection)"),
            "{table}"
        );
        assert!(table.contains("| 0 / 1 / 1 / 0 "), "{table}");
        assert!(table.contains("| full-hrr 1.3 "), "{table}");
        assert!(table.contains("| resumed 1.3 "), "{table}");
        let csv = output("tls12-nginx-curl.pcap", Format::Csv);
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert_eq!(rows.len(), 2, "{csv}");
        assert!(rows[0].ends_with(",encrypted,encrypted,server,reset,full,1.2,http/1.1"));
        assert!(rows[1].ends_with(",resumed,1.2,http/1.1"), "{csv}");
        assert_eq!(
            csv.lines().next().unwrap().split(',').count(),
            rows[0].split(',').count()
        );
    }

    #[test]
    fn plain_captures_keep_their_counts_and_no_tls_column() {
        let table = output("lo-en10mb.pcap", Format::Markdown);
        assert!(
            !table.contains("tls (source") && !table.contains("TLS"),
            "{table}"
        );
        assert!(!table.contains(ENCRYPTED), "{table}");
        let csv = output("lo-en10mb.pcap", Format::Csv);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with(",closed-by-client,,,"),
            "{csv}"
        );
    }
}
