//! curl under `kalab observe --serve`: several URLs on one command line share one connection,
//! and kalab agrees with curl's own `%{num_connects}`; HTTP/1.0 or `Connection: close` opens
//! one connection per request.

use crate::helpers::{capture_expected, peer, summary};
use crate::observe::{assert_opened, free_port, observe};

/// `curl -s` fetching the embedded server's root `REQUESTS` times in one invocation, printing
/// `%{num_connects}` per URL; returns the report and the sum of curl's counts.
fn curl_three(extra: &[&str]) -> Option<(kalab::report::RunReport, u64)> {
    const REQUESTS: usize = 3;
    let curl = peer("curl")?.to_string_lossy().into_owned();
    let port = free_port().to_string();
    let url = format!("http://127.0.0.1:{port}/");
    let mut command = vec![curl.as_str(), "-s", "-w", "%{num_connects}\n"];
    command.extend_from_slice(extra);
    for _ in 0..REQUESTS {
        command.extend_from_slice(&["-o", "/dev/null", url.as_str()]);
    }
    let observed = observe(&["--serve", "--port", &port], &command);
    // curl exits before kalab prints: its lines come first.
    let counts: Vec<u64> = observed
        .stdout
        .lines()
        .take(REQUESTS)
        .map(|line| line.trim().parse().unwrap_or_else(|_| panic!("{line:?}")))
        .collect();
    assert_eq!(counts.len(), REQUESTS);
    let report = observed.report;
    assert_eq!(report.observed().unwrap().exit_code, Some(0));
    assert_eq!(report.requests_sent, 3, "{}", summary(&report));
    assert_eq!(report.requests_ok, 3, "{}", summary(&report));
    Some((report, counts.iter().sum()))
}

#[test]
fn curl_reuses_one_connection_for_three_urls() {
    let Some((report, curl_connects)) = curl_three(&[]) else {
        return;
    };
    assert_opened(&report, true, 1);
    assert_eq!(curl_connects, 1, "curl's own num_connects");
    assert_eq!(report.connections_opened.server, Some(curl_connects));
    let per_connection = report
        .requests_per_connection
        .expect("requests per connection");
    assert_eq!((per_connection.min, per_connection.max), (3.0, 3.0));
    if capture_expected() {
        assert_eq!(report.capture.as_ref().unwrap().summary.requests, 3);
    }
}

#[test]
fn curl_http10_opens_a_connection_per_request() {
    let Some((report, curl_connects)) = curl_three(&["--http1.0"]) else {
        return;
    };
    assert_opened(&report, true, 3);
    assert_eq!(curl_connects, 3, "curl's own num_connects");
    if capture_expected() {
        // Both ends close after the response; which FIN comes first is a race.
        let closes = report.closes;
        assert_eq!(
            (
                closes.by_client + closes.by_server,
                closes.reset,
                closes.open_at_end
            ),
            (3, 0, 0),
            "{}",
            summary(&report)
        );
    }
}

#[test]
fn curl_connection_close_opens_a_connection_per_request() {
    let Some((report, curl_connects)) = curl_three(&["-H", "Connection: close"]) else {
        return;
    };
    assert_opened(&report, true, 3);
    assert_eq!(curl_connects, 3, "curl's own num_connects");
}
