//! HTTPS runs against the embedded TLS server: connections and TLS handshakes counted exactly,
//! per connection, by the client (rustls callbacks inside each dial), the server (rustls'
//! `handshake_kind()`) and the wire (ClientHello/ServerHello in the capture), for TLS 1.2 and
//! TLS 1.3.

use kalab::model::{HandshakeKind, TlsHandshake, TlsVersion};
use kalab::report::{RunReport, Source};

use crate::helpers::{assert_opened, capture_of, run_scenario, summary};

fn https(version: &str, server: &str, client: &str, pattern: &str) -> String {
    format!(
        r#"name = "https"
[server]
tls = true
{server}
[client]
tls_versions = ["{version}"]
{client}
[pattern]
{pattern}
"#
    )
}

const SEQUENTIAL_10: &str = "kind = \"sequential\"\nrequests_per_worker = 10";

/// The handshakes one source saw, in connection order (by the client's port).
fn kinds(mut handshakes: Vec<(u16, Option<TlsHandshake>)>) -> Vec<HandshakeKind> {
    handshakes.sort_by_key(|(port, _)| *port);
    handshakes
        .into_iter()
        .map(|(port, tls)| {
            tls.unwrap_or_else(|| panic!("connection from port {port} has no TLS handshake"))
                .kind
        })
        .collect()
}

/// Whether the wire is a source of this run (capture permission): then it must agree too.
fn wire_classifies(report: &RunReport) -> bool {
    capture_of(report).is_some()
}

/// Asserts that client, server and (when captured) the wire saw exactly these handshakes, one
/// per connection, with the version `version`, and that each connection's kind agrees.
fn assert_handshakes(report: &RunReport, version: TlsVersion, full: usize, resumed: usize) {
    let client: Vec<(u16, Option<TlsHandshake>)> = report
        .dials
        .iter()
        .filter_map(|d| Some((d.local?.port(), d.tls.clone())))
        .collect();
    let server: Vec<(u16, Option<TlsHandshake>)> = report
        .server_connections
        .iter()
        .map(|c| (c.peer.port(), c.tls.clone()))
        .collect();
    for (source, seen) in [("client", &client), ("server", &server)] {
        for (port, tls) in seen.iter() {
            assert_eq!(
                tls.as_ref().and_then(|t| t.version),
                Some(version),
                "{source}, port {port}: {}",
                summary(report)
            );
        }
    }
    let client_kinds = kinds(client);
    let server_kinds = kinds(server);
    assert_eq!(
        client_kinds, server_kinds,
        "client vs server, per connection"
    );
    let count = |kinds: &[HandshakeKind], full_ones: bool| {
        kinds.iter().filter(|k| k.is_full() == full_ones).count()
    };
    assert_eq!(
        (count(&client_kinds, true), count(&client_kinds, false)),
        (full, resumed),
        "client: (full, resumed); {}",
        summary(report)
    );
    // The per-connection view holds each connection's handshake from every source, agreeing.
    let sources_per_connection = if wire_classifies(report) { 3 } else { 2 };
    for view in &report.connections {
        assert_eq!(
            view.tls.len(),
            sources_per_connection,
            "connection {view:?}"
        );
        assert!(!view.tls_disagrees(), "connection {view:?}");
    }
    if wire_classifies(report) || capture_of(report).is_none() {
        assert!(
            !report
                .warnings
                .iter()
                .any(|w| w.to_string().contains("disagree")),
            "{}",
            summary(report)
        );
    }
    // The report's figures say the same, per source.
    let figures = report.tls.expect("an HTTPS run has TLS figures");
    for source in [Source::Client, Source::Server] {
        assert_eq!(figures.handshakes_full.get(source), Some(full as u64));
        assert_eq!(figures.handshakes_resumed.get(source), Some(resumed as u64));
    }
    if wire_classifies(report) {
        assert_eq!(
            figures.handshakes_per_request,
            Some((full + resumed) as f64 / report.requests_sent as f64)
        );
    }
    if let Some(capture) =
        capture_of(report).filter(|c| c.connections.iter().any(|c| c.tls.is_some()))
    {
        let wire: Vec<(u16, Option<TlsHandshake>)> = capture
            .connections
            .iter()
            .filter(|c| c.opened())
            .map(|c| (c.tuple.client.port(), c.tls.clone()))
            .collect();
        assert_eq!(kinds(wire), client_kinds, "wire vs client, per connection");
    }
}

#[test]
fn https_keep_alive_sends_ten_requests_over_one_full_handshake() {
    for (text, version) in [("1.2", TlsVersion::Tls12), ("1.3", TlsVersion::Tls13)] {
        let report = run_scenario(&https(text, "", "", SEQUENTIAL_10));
        assert_opened(&report, 1);
        assert_eq!(report.requests_ok, 10);
        assert_handshakes(&report, version, 1, 0);
    }
}

#[test]
fn server_keep_alive_off_with_resumption_costs_one_full_and_nine_resumed_handshakes() {
    for (text, version) in [("1.2", TlsVersion::Tls12), ("1.3", TlsVersion::Tls13)] {
        let report = run_scenario(&https(text, "keep_alive = false", "", SEQUENTIAL_10));
        assert_opened(&report, 10);
        assert_eq!(report.requests_ok, 10);
        assert_handshakes(&report, version, 1, 9);
    }
}

#[test]
fn resumption_off_costs_a_full_handshake_per_connection() {
    for (text, version) in [("1.2", TlsVersion::Tls12), ("1.3", TlsVersion::Tls13)] {
        // Off on the server side...
        let report = run_scenario(&https(
            text,
            "keep_alive = false\ntls_resumption = false",
            "",
            SEQUENTIAL_10,
        ));
        assert_opened(&report, 10);
        assert_handshakes(&report, version, 10, 0);
        // ... and on the client side.
        let report = run_scenario(&https(
            text,
            "keep_alive = false",
            "tls_resumption = false",
            SEQUENTIAL_10,
        ));
        assert_opened(&report, 10);
        assert_handshakes(&report, version, 10, 0);
    }
}

#[test]
fn h2_over_tls_multiplexes_ten_workers_on_one_connection() {
    for (text, version) in [("1.2", TlsVersion::Tls12), ("1.3", TlsVersion::Tls13)] {
        let report = run_scenario(&https(
            text,
            "",
            "protocol = \"h2\"",
            "kind = \"concurrent\"\nworkers = 10\nrequests_per_worker = 10",
        ));
        assert_opened(&report, 1);
        assert_eq!(report.requests_ok, 100);
        assert_handshakes(&report, version, 1, 0);
        let alpn = |tls: &Option<TlsHandshake>| tls.as_ref().and_then(|t| t.alpn.clone());
        assert_eq!(alpn(&report.dials[0].tls).as_deref(), Some("h2"));
        assert_eq!(
            alpn(&report.server_connections[0].tls).as_deref(),
            Some("h2")
        );
        assert_eq!(report.server_connections[0].protocol, "h2");
    }
}

#[test]
fn the_server_knobs_still_work_over_tls() {
    // Close after 3 requests, chunked bodies: 10 requests on 4 connections, resumed after the
    // first.
    let report = run_scenario(&https(
        "1.3",
        "close_after_requests = 3\nchunked = true\nbody_bytes = 100000",
        "",
        SEQUENTIAL_10,
    ));
    assert_opened(&report, 4);
    assert_eq!(report.requests_ok, 10);
    assert!(report.requests.iter().all(|r| r.bytes_read == 100000));
    assert_handshakes(&report, TlsVersion::Tls13, 1, 3);
}

#[test]
fn expectations_and_baselines_read_the_handshake_figures() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |resumption: bool| {
        format!(
            "name = \"https-guarded\"\n[server]\ntls = true\nkeep_alive = false\ntls_resumption = {resumption}\n\
             [pattern]\nkind = \"sequential\"\nrequests_per_worker = 5\n\
             [expect]\n\"tls_handshakes_full.server\" = \"== {}\"\n\"tls_handshakes_resumed.client\" = \"== {}\"\n",
            if resumption { 1 } else { 5 },
            if resumption { 4 } else { 0 },
        )
    };
    let on = dir.path().join("on.toml");
    let off = dir.path().join("off.toml");
    std::fs::write(&on, scenario(true)).unwrap();
    std::fs::write(&off, scenario(false)).unwrap();
    let baseline = dir.path().join("baseline.json");
    let saved = crate::helpers::kalab()
        .args(["check", "--capture", "off", "--save-baseline"])
        .arg(&baseline)
        .arg(&on)
        .output()
        .unwrap();
    assert_eq!(
        saved.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&saved.stderr)
    );
    // Resumption turned off: its own expectations hold, but the baseline sees 5 full
    // handshakes where there was 1.
    let checked = crate::helpers::kalab()
        .args(["check", "--capture", "off", "--baseline"])
        .arg(&baseline)
        .arg(&off)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(checked.status.code(), Some(1), "{text}");
    assert!(
        text.contains("tls_handshakes_full got worse: 5 now, 1 in the baseline"),
        "{text}"
    );
}
