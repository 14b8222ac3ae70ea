//! HTTP/2 from real clients under `kalab observe --serve`: h2load and nghttp (Debian's
//! nghttp2-client) speak h2c with prior knowledge to the embedded server; the wire counts the
//! HEADERS frames that open streams and the server counts the streams it served.

use kalab::report::{RunReport, Source};

use crate::helpers::{capture_of, peer, summary};
use crate::observe::{assert_opened, observe};

/// Requests the embedded server served, over all its connections.
fn served(report: &RunReport) -> u64 {
    report.server_connections.iter().map(|c| c.requests).sum()
}

/// Asserts `connections` connections and `requests` requests on the wire (when captured) and
/// at the server, every one answered.
fn assert_h2(report: &RunReport, connections: u64, requests: u64) {
    assert_opened(report, true, connections);
    assert_eq!(served(report), requests, "server, {}", summary(report));
    assert!(
        report.server_connections.iter().all(|c| c.protocol == "h2"),
        "every connection spoke HTTP/2: {:?}",
        report.server_connections
    );
    if let Some(capture) = capture_of(report) {
        let opened = || capture.connections.iter().filter(|c| c.opened());
        let on_wire: u64 = opened().map(|c| c.requests).sum();
        let answered: u64 = opened().map(|c| c.responses).sum();
        assert_eq!((on_wire, answered), (requests, requests), "capture");
        // Without a client source, the report's requests come from the wire.
        assert_eq!(
            (report.requests_sent, report.requests_ok),
            (requests, requests),
            "{}",
            summary(report)
        );
        assert_eq!(report.requests_per_connection_source, Some(Source::Server));
    } else {
        assert_eq!(report.requests_ok, requests, "{}", summary(report));
    }
}

#[test]
fn h2load_streams_are_counted_on_the_wire_and_at_the_server() {
    let Some(h2load) = peer("h2load") else {
        return;
    };
    let h2load = h2load.to_string_lossy().into_owned();
    let observed = observe(
        &["--serve"],
        &[
            &h2load,
            "-n",
            "100",
            "-c",
            "2",
            "-m",
            "10",
            "http://127.0.0.1:{port}/",
        ],
    );
    assert!(
        observed.stdout.contains("100 succeeded"),
        "h2load: {}",
        observed.stdout
    );
    assert_h2(&observed.report, 2, 100);
}

#[test]
fn nghttp_sends_three_urls_on_one_connection() {
    let Some(nghttp) = peer("nghttp") else {
        return;
    };
    let nghttp = nghttp.to_string_lossy().into_owned();
    let observed = observe(
        &["--serve"],
        &[
            &nghttp,
            "-n",
            "http://127.0.0.1:{port}/a",
            "http://127.0.0.1:{port}/b",
            "http://127.0.0.1:{port}/c",
        ],
    );
    assert_h2(&observed.report, 1, 3);
}
