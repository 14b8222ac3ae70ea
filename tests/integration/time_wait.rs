//! TIME_WAIT per side from the socket table, through real runs: the side that closes first
//! keeps TIME_WAIT, a pooled connection leaves none, and earlier runs never count.

use std::process::Command;

use crate::helpers::{assert_opened, capture_expected, run_scenario, summary};

fn scenario(server_extra: &str, client_extra: &str, policy: &str, body_bytes: u64) -> String {
    format!(
        r#"name = "tw"
[server]
body_bytes = {body_bytes}
{server_extra}
[client]
{client_extra}
[pattern]
kind = "sequential"
requests_per_worker = 10
pause_ms = 5
[body]
policy = "{policy}"
"#
    )
}

#[test]
fn a_client_without_an_idle_pool_closes_every_connection_and_keeps_the_time_wait() {
    let report = run_scenario(&scenario("", "max_idle_per_host = 0", "drain", 11));
    assert_opened(&report, 10);
    let tw = report.time_wait.expect("sockets source");
    assert_eq!(report.closes.by_client, 10, "{:?}", report.closes);
    assert_eq!(tw.time_wait_client_end, 10);
    assert_eq!(tw.time_wait_server_end, 0);
}

#[test]
fn a_server_without_keep_alive_keeps_the_time_wait() {
    let report = run_scenario(&scenario("keep_alive = false", "", "drain", 11));
    assert_opened(&report, 10);
    let tw = report.time_wait.expect("sockets source");
    // After `Connection: close` both ends close; the server nearly always first. Under load the
    // client can win that race, and then it holds the TIME_WAIT: whoever closed first does.
    // When the FINs cross (a simultaneous close, seen on the wire), both sides hold one.
    let both = report.closes.simultaneous;
    assert_eq!(
        report.closes.by_server + report.closes.by_client + both,
        10,
        "{:?}",
        report.closes
    );
    assert!(report.closes.by_server >= 5, "{:?}", report.closes);
    assert_eq!(tw.time_wait_server_end, report.closes.by_server + both);
    assert_eq!(tw.time_wait_client_end, report.closes.by_client + both);
}

#[test]
fn a_pooled_connection_leaves_no_time_wait() {
    let report = run_scenario(&scenario("", "", "drain", 11));
    assert_opened(&report, 1);
    let tw = report.time_wait.expect("sockets source");
    assert_eq!(tw.time_wait_client_peak + tw.time_wait_server_peak, 0);
    assert_eq!(tw.time_wait_client_end + tw.time_wait_server_end, 0);
    assert_eq!(report.closes.open_at_end, 1);
}

#[test]
fn a_second_run_on_the_same_port_does_not_count_the_first_runs_time_wait() {
    // A fixed port, chosen per process so reruns within TIME_WAIT's 60 s do not collide, and
    // below the ephemeral range, so no other test's client socket can hold it.
    let ephemeral_low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768);
    let span = ephemeral_low.saturating_sub(10_000).max(1_000);
    let port = u16::try_from(10_000 + std::process::id() % span).unwrap();
    let text = scenario(
        &format!("port = {port}"),
        "max_idle_per_host = 0",
        "drain",
        11,
    );
    let first = run_scenario(&text);
    assert_eq!(first.time_wait.unwrap().time_wait_client_end, 10);
    let second = run_scenario(&text.replace("requests_per_worker = 10", "requests_per_worker = 4"));
    assert_eq!(second.connections_opened.server, Some(4));
    let tw = second.time_wait.unwrap();
    assert_eq!(
        tw.time_wait_client_end, 4,
        "the first run's 10 sockets leaked in"
    );
    assert!(second.sockets.unwrap().baseline_excluded >= 10);
}

#[test]
fn time_wait_counts_match_ss_at_the_same_moment() {
    let Some(ss) = crate::helpers::peer("ss") else {
        return;
    };
    let report = run_scenario(&scenario("keep_alive = false", "", "drain", 11));
    let port = report
        .target
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/');
    let output = Command::new(ss)
        .args(["-Htan", "state", "time-wait"])
        .arg(format!("( sport = :{port} or dport = :{port} )"))
        .output()
        .unwrap();
    // Only this run's connections: a TIME_WAIT socket left by an earlier test (or run) whose
    // local port happens to be this run's server port must not count.
    let server = report
        .target
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let clients: std::collections::HashSet<String> = report
        .server_connections
        .iter()
        .map(|c| c.peer.to_string())
        .collect();
    let listed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            let mut fields = line.split_whitespace().rev();
            let (Some(peer), Some(local)) = (fields.next(), fields.next()) else {
                return false;
            };
            (local == server && clients.contains(peer))
                || (peer == server && clients.contains(local))
        })
        .count() as u64;
    let tw = report.time_wait.unwrap();
    assert_eq!(tw.time_wait_client_end + tw.time_wait_server_end, listed);
    // One TIME_WAIT socket per connection, two for a simultaneous close (the FINs crossed).
    assert_eq!(
        listed,
        10 + report.closes.simultaneous,
        "{:?}",
        report.closes
    );
}

#[test]
fn a_dropped_large_body_ends_in_a_reset_and_the_report_says_why_there_is_no_time_wait() {
    let report = run_scenario(&scenario("", "", "drop", 256 * 1024));
    assert_opened(&report, 10);
    let tw = report.time_wait.expect("sockets source");
    assert_eq!(tw.time_wait_client_end + tw.time_wait_server_end, 0);
    assert_eq!(tw.time_wait_client_peak + tw.time_wait_server_peak, 0);
    if crate::helpers::capture_of(&report).is_some() {
        assert_eq!(report.closes.reset, 10, "{:?}", report.closes);
        let explained = report.warnings.iter().any(|w| {
            matches!(
                w,
                kalab::report::Warning::ResetsLeaveNoTimeWait { resets: 10, .. }
            ) && w.to_string().contains("not a sign of reuse")
        });
        assert!(explained, "{:?}", report.warnings);
    }
}

/// 20 workers x 1000 requests with server keep-alive off: 20,000 connections on loopback share
/// far fewer 4-tuples, so a later SYN on a tuple recycles the TIME_WAIT socket its previous
/// connection left. Per side, the closes on the wire are exactly the TIME_WAIT sockets at the
/// end plus the resets, the recycled and the expired, and the report says so.
#[test]
fn closes_reconcile_exactly_with_time_wait_per_side_under_churn() {
    let text = r#"name = "churn"
[server]
keep_alive = false
[pattern]
kind = "concurrent"
workers = 20
requests_per_worker = 1000
[body]
policy = "drain"
"#;
    // Every captured connection kept as detail: the test counts the closes record by record.
    let options = kalab::session::RunOptions {
        detail_cap: 20_000,
        ..Default::default()
    };
    let report = crate::helpers::run_scenario_with(text, &options);
    assert_eq!(report.requests_ok, 20_000, "{}", summary(&report));
    if !capture_expected() {
        return;
    }
    let reconciled = report
        .time_wait_reconciled
        .expect("capture and sockets both measured the run");
    let kernel = report.capture.as_ref().map(|c| c.kernel);
    for side in [reconciled.client, reconciled.server] {
        assert_eq!(side.unexplained, 0, "{reconciled:?}, capture {kernel:?}");
        assert_eq!(
            side.closes,
            side.time_wait_end + side.reset + side.recycled + side.expired
        );
    }
    let capture = report.capture.as_ref().expect("capture source");
    let closed_on_the_wire = capture
        .connections
        .iter()
        .filter(|c| !c.partial && c.active_closer.is_some())
        .count() as u64;
    // A simultaneous close (the FINs crossed) is a close of both sides.
    assert_eq!(
        reconciled.client.simultaneous,
        reconciled.server.simultaneous
    );
    assert_eq!(
        reconciled.client.closes + reconciled.server.closes - reconciled.server.simultaneous,
        closed_on_the_wire
    );
    assert!(
        reconciled.server.recycled > 0,
        "4-tuples are reused under this churn: {reconciled:?}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.to_string().starts_with("server side: ")),
        "{:?}",
        report.warnings
    );
}
