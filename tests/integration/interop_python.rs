//! Python's standard library client (`http.client`) under `kalab observe`: one connection
//! reused for every request, or one per request; and a program that starts its own server
//! (observed without `--serve`).

use crate::helpers::free_port;
use crate::helpers::{capture_expected, peer, summary};
use crate::observe::{assert_opened, observe};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/python/http_client.py"
);
const REQUESTS: u64 = 5;

fn python(mode: &str, flags: &[&str]) -> Option<kalab::report::RunReport> {
    let python = peer("python3")?.to_string_lossy().into_owned();
    let count = REQUESTS.to_string();
    let observed = observe(flags, &[&python, SCRIPT, mode, &count]);
    assert!(
        observed
            .stdout
            .starts_with(&format!("mode={mode} ok={REQUESTS}\n")),
        "{}",
        observed.stdout
    );
    let report = observed.report;
    assert_eq!(report.observed().unwrap().exit_code, Some(0));
    assert_eq!(report.requests_ok, REQUESTS, "{}", summary(&report));
    Some(report)
}

#[test]
fn python_with_a_session_uses_one_connection() {
    let Some(report) = python("session", &["--serve"]) else {
        return;
    };
    assert_opened(&report, true, 1);
    assert_eq!(report.reuse_ratio, Some(REQUESTS as f64));
}

#[test]
fn python_without_a_session_opens_one_connection_per_request() {
    let Some(report) = python("fresh", &["--serve"]) else {
        return;
    };
    assert_opened(&report, true, REQUESTS);
    if capture_expected() {
        // http.client closes first: the TIME_WAIT sockets are the client's.
        assert_eq!(report.closes.by_client, REQUESTS, "{}", summary(&report));
    }
    let time_wait = report.time_wait.expect("sockets source");
    assert_eq!(
        time_wait.time_wait_client_end,
        REQUESTS,
        "{}",
        summary(&report)
    );
    assert_eq!(time_wait.time_wait_server_end, 0);
}

#[test]
fn a_program_with_its_own_server_is_observed_on_its_port() {
    let port = free_port().to_string();
    let Some(report) = python("own-server", &["--port", &port]) else {
        return;
    };
    assert_eq!(report.connections_opened.server, None, "no embedded server");
    assert_opened(&report, false, 1);
    assert!(
        report.connections_seen_lower_bound >= Some(1),
        "{}",
        summary(&report)
    );
    if capture_expected() {
        assert_eq!(report.requests_sent, REQUESTS, "{}", summary(&report));
    }
}
