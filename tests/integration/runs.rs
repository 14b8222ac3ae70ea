//! Exact connection counts for the core scenarios, from the client and the server sources.

use kalab::model::EndState;

use crate::helpers::{assert_opened, capture_of, run_scenario, summary};

/// Every captured connection ended as `end`.
fn assert_wire_ends(report: &kalab::report::RunReport, end: EndState) {
    if let Some(capture) = capture_of(report) {
        let ends: Vec<EndState> = capture.connections.iter().map(|c| c.end).collect();
        assert!(
            ends.iter().all(|&e| e == end),
            "wanted every connection {end}, got {ends:?}"
        );
        assert_eq!(capture.summary.partial_connections, 0);
    }
}

fn sequential(requests: u32, body_bytes: u64, policy: &str, server_extra: &str) -> String {
    format!(
        r#"name = "t"
[server]
body_bytes = {body_bytes}
{server_extra}
[pattern]
kind = "sequential"
requests_per_worker = {requests}
pause_ms = 5
[body]
policy = "{policy}"
"#
    )
}

fn concurrent(max_idle_per_host: u32) -> String {
    format!(
        r#"name = "t"
[server]
body_bytes = 65536
delay_us = 20000
[client]
max_idle_per_host = {max_idle_per_host}
[pattern]
kind = "concurrent"
workers = 10
requests_per_worker = 10
pause_ms = 20
[body]
policy = "drain"
"#
    )
}

#[test]
fn sequential_drain_reuses_one_connection() {
    let report = run_scenario(&sequential(10, 65536, "drain", ""));
    assert_opened(&report, 1);
    assert_eq!(report.requests_ok, 10);
    assert_wire_ends(&report, EndState::OpenAtEnd);
    assert_eq!(report.reuse_ratio, Some(10.0));
}

#[test]
fn sequential_drop_of_a_large_body_opens_one_connection_per_request() {
    let report = run_scenario(&sequential(10, 256 * 1024, "drop", ""));
    assert_opened(&report, 10);
    assert_eq!(report.reuse_ratio, Some(1.0));
    // The client closes first: its FIN, then a RST for the data it never read.
    if let Some(capture) = capture_of(&report) {
        assert_eq!(capture.summary.fins_from_client, 10);
        assert!(capture
            .connections
            .iter()
            .all(|c| c.active_closer == Some(kalab::model::Side::Client)));
    }
}

#[test]
fn sequential_drop_of_a_small_body_is_reused_because_hyper_already_read_it() {
    let report = run_scenario(&sequential(10, 11, "drop", ""));
    assert_opened(&report, 1);
}

#[test]
fn concurrent_workers_with_ten_idle_slots_need_ten_connections() {
    let report = run_scenario(&concurrent(10));
    assert_opened(&report, 10);
    assert_eq!(report.requests_ok, 100);
}

#[test]
fn concurrent_workers_with_two_idle_slots_open_more_than_ten() {
    let report = run_scenario(&concurrent(2));
    assert_eq!(report.requests_failed, 0);
    let client = report.connections_opened.client.unwrap();
    assert!(client > 10, "only {client} connections");
    assert_eq!(report.connections_opened.server, Some(client));
}

/// With two idle slots, a worker whose request finds no idle connection dials a new one; when
/// a busy connection comes back to the pool first, the request goes there and the new
/// connection carries nothing. Every source that can tell counts the same such connections, and
/// the report explains them.
#[test]
fn connections_that_carried_no_request_are_counted_alike_and_explained() {
    let report = run_scenario(&concurrent(2));
    let unused = report.connections_without_requests;
    let client = unused.client.expect("client source");
    assert_eq!(unused.server, Some(client), "{}", summary(&report));
    if let Some(capture) = capture_of(&report) {
        assert_eq!(unused.capture, Some(client), "{capture:?}");
    }
    let per_connection_zero = report
        .server_connections
        .iter()
        .filter(|c| c.requests == 0)
        .count() as u64;
    assert_eq!(per_connection_zero, client);
    let explained = report
        .warnings
        .iter()
        .any(|w| w.to_string().contains("carried no request"));
    assert_eq!(explained, client > 0, "{:?}", report.warnings);
}

/// After `Connection: close` both ends close, the server nearly always first; under load the
/// client can win that race now and then. Every connection is closed cleanly, mostly by the
/// server, on the wire and as the server saw it.
fn assert_server_closes(report: &kalab::report::RunReport) {
    let server_first = report
        .server_connections
        .iter()
        .filter(|c| c.end == EndState::ClosedByServer)
        .count();
    assert!(report
        .server_connections
        .iter()
        .all(|c| matches!(c.end, EndState::ClosedByServer | EndState::ClosedByClient)));
    assert!(
        server_first * 2 >= report.server_connections.len(),
        "{:?}",
        report.closes
    );
    if let Some(capture) = capture_of(report) {
        let ends: Vec<EndState> = capture.connections.iter().map(|c| c.end).collect();
        assert!(ends
            .iter()
            .all(|e| matches!(e, EndState::ClosedByServer | EndState::ClosedByClient)));
        let by_server = ends
            .iter()
            .filter(|&&e| e == EndState::ClosedByServer)
            .count();
        assert!(by_server * 2 >= ends.len(), "{ends:?}");
    }
}

#[test]
fn server_keep_alive_off_closes_every_connection() {
    let report = run_scenario(&sequential(7, 11, "drain", "keep_alive = false"));
    assert_opened(&report, 7);
    assert_server_closes(&report);
    assert!(report.server_connections.iter().all(|c| c.requests == 1));
}

#[test]
fn server_close_after_three_requests_needs_three_connections_for_nine() {
    let report = run_scenario(&sequential(9, 11, "drain", "close_after_requests = 3"));
    assert_opened(&report, 3);
    assert_server_closes(&report);
    if let Some(capture) = capture_of(&report) {
        assert!(capture.connections.iter().all(|c| c.requests == 3));
    }
    assert!(report.server_connections.iter().all(|c| c.requests == 3));
    let spread = report.requests_per_connection.unwrap();
    assert_eq!((spread.min, spread.max), (3.0, 3.0));
}

#[test]
fn chunked_bodies_are_drained_and_reused_too() {
    let report = run_scenario(&sequential(5, 100_000, "drain", "chunked = true"));
    assert_opened(&report, 1);
    assert!(report.requests.iter().all(|r| r.bytes_read == 100_000));
}

#[test]
fn partial_reads_of_a_large_body_lose_the_connection() {
    let report = run_scenario(&sequential(5, 256 * 1024, "partial:1000", ""));
    assert_opened(&report, 5);
    assert!(report.requests.iter().all(|r| r.bytes_read >= 1000));
}

#[test]
fn drain_limit_above_the_body_size_drains_it() {
    let report = run_scenario(&sequential(5, 65536, "drain-limit:1000000", ""));
    assert_opened(&report, 1);
}

#[test]
fn server_idle_timeout_shorter_than_the_pause_forces_new_connections() {
    let text = r#"name = "t"
[server]
idle_timeout_ms = 30
[pattern]
kind = "sequential"
requests_per_worker = 4
pause_ms = 150
"#;
    let report = run_scenario(text);
    let server = report.connections_opened.server.unwrap();
    assert!(
        server >= 3,
        "the server's idle timeout closed only {server} connections"
    );
    assert!(report
        .server_connections
        .iter()
        .filter(|c| c.end != EndState::OpenAtEnd)
        .all(|c| c.end == EndState::ClosedByServer));
}

#[test]
fn a_client_without_an_idle_pool_is_the_active_closer_on_the_wire() {
    let report = run_scenario(
        &sequential(6, 11, "drain", "")
            .replace("[pattern]", "[client]\nmax_idle_per_host = 0\n[pattern]"),
    );
    assert_opened(&report, 6);
    assert_wire_ends(&report, EndState::ClosedByClient);
}

#[test]
fn runs_over_ipv6_loopback_agree_on_every_source() {
    let report = run_scenario(&sequential(
        9,
        11,
        "drain",
        "address = \"::1\"\nclose_after_requests = 3",
    ));
    assert!(
        report.target.starts_with("http://[::1]:"),
        "{}",
        report.target
    );
    assert_opened(&report, 3);
    assert_server_closes(&report);
}

#[test]
fn h2c_multiplexes_ten_workers_onto_one_connection() {
    let text = r#"name = "h2c"
[server]
body_bytes = 65536
[client]
protocol = "h2c"
[pattern]
kind = "concurrent"
workers = 10
requests_per_worker = 10
pause_ms = 5
"#;
    let report = run_scenario(text);
    assert_opened(&report, 1);
    assert_eq!(report.requests_ok, 100);
    let connection = &report.server_connections[0];
    assert_eq!(
        (connection.protocol.as_str(), connection.requests),
        ("h2", 100)
    );
    assert_eq!(report.requests_per_connection.map(|s| s.max), Some(100.0));
}

#[test]
fn a_server_idle_timeout_as_long_as_the_pause_races_and_every_failure_is_counted() {
    let text = r#"name = "mismatch"
[server]
idle_timeout_ms = 60
[pattern]
kind = "concurrent"
workers = 4
requests_per_worker = 8
pause_ms = 60
"#;
    let report = run_scenario(text);
    assert_eq!(report.requests_sent, 32);
    assert_eq!(report.requests_ok + report.requests_failed, 32);
    let counted: u64 = report.errors.values().sum();
    assert_eq!(counted, report.requests_failed, "every failure has a kind");
    // A close whose FINs crossed the client's is the server's idle close too.
    assert!(
        report.closes.by_server + report.closes.simultaneous >= 4,
        "{:?}",
        report.closes
    );
    assert!(
        report.connections_opened.server.unwrap() > 4,
        "the server's idle closes forced new connections"
    );
}

/// The per-connection view lists every connection once, with an id every request refers to;
/// the connections it lists without requests are exactly the ones the report counts and
/// explains.
#[test]
fn the_per_connection_view_lists_the_connections_that_carried_no_request() {
    let report = run_scenario(&concurrent(2));
    let views = &report.connections;
    let (opened, _) = report.connections_opened.best().expect("an exact source");
    assert_eq!(views.len() as u64, opened, "{}", summary(&report));
    let ids: std::collections::BTreeSet<u32> = views.iter().map(|v| v.id).collect();
    assert_eq!(ids.len(), views.len());
    let listed = views.iter().filter(|v| v.requests == 0).count() as u64;
    let (counted, _) = report
        .connections_without_requests
        .best()
        .expect("counted by a source");
    assert_eq!(listed, counted, "{}", summary(&report));
    let used: std::collections::BTreeSet<u32> = report
        .requests
        .iter()
        .map(|r| r.connection.expect("every request names its connection"))
        .collect();
    assert!(used.is_subset(&ids));
    assert_eq!(used.len() as u64, opened - listed);
    let first_uses = report
        .requests
        .iter()
        .filter(|r| r.reused == Some(false))
        .count();
    assert_eq!(
        first_uses,
        used.len(),
        "one first use per connection that carried requests"
    );
    let explained = report
        .warnings
        .iter()
        .any(|w| w.to_string().contains("carried no request"));
    assert_eq!(explained, listed > 0, "{:?}", report.warnings);
}

/// Dropping a large body unread: the client closes with unread data, and the wire tells every
/// reset's cause as such.
#[test]
fn resets_of_dropped_bodies_are_abortive_closes() {
    let report = run_scenario(&sequential(10, 256 * 1024, "drop", ""));
    let Some(_) = capture_of(&report) else {
        return;
    };
    let causes = report.reset_causes.expect("capture source");
    assert_eq!(
        (causes.abortive, causes.idle_race),
        (10, 0),
        "{}",
        summary(&report)
    );
    assert!(
        report.warnings.iter().any(|w| w
            .to_string()
            .contains("10 by a side closing with unread data")),
        "{:?}",
        report.warnings
    );
}
