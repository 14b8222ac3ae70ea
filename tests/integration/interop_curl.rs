//! curl under `kalab observe --serve`: several URLs on one command line share one connection,
//! and kalab agrees with curl's own `%{num_connects}`; HTTP/1.0 or `Connection: close` opens
//! one connection per request.

use crate::helpers::free_port;
use crate::helpers::{capture_expected, peer, summary};
use crate::observe::{assert_opened, observe};

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
        // Both ends close after the response; which FIN comes first is a race, and when they
        // cross the close is simultaneous.
        let closes = report.closes;
        assert_eq!(
            (
                closes.by_client + closes.by_server + closes.simultaneous,
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

/// `kalab observe --format FORMAT` while curl prints about 1 MB of bodies: kalab's stdout holds
/// the report alone, in every machine-readable format; curl's bodies go to kalab's stderr.
#[test]
fn a_machine_readable_report_stands_alone_on_stdout_whatever_the_program_prints() {
    const BODY_BYTES: usize = 350_000;
    let Some(curl) = peer("curl") else {
        return;
    };
    let curl = curl.to_string_lossy().into_owned();
    for format in ["json", "csv", "markdown"] {
        let port = free_port().to_string();
        let url = format!("http://127.0.0.1:{port}/");
        let output = crate::helpers::kalab()
            .args(["observe", "--serve", "--port", &port, "--settle-ms", "100"])
            .args(["--body-bytes", &BODY_BYTES.to_string(), "--format", format])
            .args(["--", &curl, "-s", &url, &url, &url])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{format}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            stdout.len() < BODY_BYTES,
            "{format}: curl's bodies reached stdout"
        );
        assert!(
            output.stderr.len() >= 3 * BODY_BYTES,
            "{format}: curl's bodies go to stderr ({} bytes)",
            output.stderr.len()
        );
        match format {
            "json" => {
                let set: kalab::report::ResultSet = serde_json::from_str(&stdout)
                    .unwrap_or_else(|err| panic!("JSON does not parse: {err}"));
                let report = &set.runs[0];
                assert_opened(report, true, 1);
                assert_eq!(report.requests_ok, 3, "{}", summary(report));
            }
            "csv" => {
                let mut rows = csv::Reader::from_reader(stdout.as_bytes());
                let headers = rows.headers().unwrap().clone();
                let row = rows.records().next().expect("one row").unwrap();
                let opened = headers
                    .iter()
                    .position(|h| h == "connections_opened_server")
                    .expect("connections_opened_server column");
                assert_eq!(&row[opened], "1", "{stdout}");
            }
            _ => assert!(
                stdout.starts_with('|') || stdout.starts_with('#'),
                "{stdout}"
            ),
        }
    }
}

/// curl to a port nothing listens on: its SYN is answered by a RST. That attempt is refused, not
/// an opened connection that was reset, and the report says so.
#[test]
fn a_refused_connection_is_reported_as_refused_not_opened() {
    let Some(curl) = peer("curl") else {
        return;
    };
    if !capture_expected() {
        return; // only the wire sees a refused SYN
    }
    let curl = curl.to_string_lossy().into_owned();
    let port = free_port().to_string();
    let url = format!("http://127.0.0.1:{port}/");
    let observed = observe(
        &["--port", &port, "--settle-ms", "100"],
        &[&curl, "-s", &url],
    );
    let report = observed.report;
    assert_eq!(
        report.observed().unwrap().exit_code,
        Some(7),
        "curl: couldn't connect"
    );
    assert_eq!(
        report.connections_opened.capture,
        Some(0),
        "{}",
        summary(&report)
    );
    assert_eq!(report.connections_refused, Some(1), "{}", summary(&report));
    assert_eq!(report.closes.reset, 0, "{:?}", report.closes);
    let text: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    assert!(text.iter().any(|w| w.contains("refused")), "{text:?}");
    assert!(!text.iter().any(|w| w.contains("unread data")), "{text:?}");
}
