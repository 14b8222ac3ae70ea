//! Memory bounded by design: with a small detail cap, a run keeps the first records of each
//! list and folds the rest, and every figure still counts every request and connection; the
//! table and the JSON say that the detail was capped.

use kalab::model::Source;
use kalab::report::ResultSet;

use crate::helpers::{capture_expected, kalab};

/// 300 connections, one request each: far beyond a cap of 50 for every list.
const CHURN: &str = r#"name = "churn"
[server]
keep_alive = false
[client]
keep_alive = false
[pattern]
kind = "concurrent"
workers = 3
requests_per_worker = 100
"#;

/// 3 connections carrying 300 requests: only the request list reaches a cap of 50.
const KEEP_ALIVE: &str = r#"name = "keep-alive"
[pattern]
kind = "concurrent"
workers = 3
requests_per_worker = 100
"#;

fn run_capped(dir: &std::path::Path, text: &str, cap: usize) -> (ResultSet, String) {
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, text).unwrap();
    let json = dir.join(format!("out-{cap}.json"));
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .args(["--detail-cap", &cap.to_string(), "--settle-ms", "200"])
        .arg("--export-json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: ResultSet = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (results, String::from_utf8(output.stdout).unwrap())
}

#[test]
fn a_capped_churn_run_counts_every_connection_and_says_it_was_capped() {
    let dir = tempfile::tempdir().unwrap();
    let (results, table) = run_capped(dir.path(), CHURN, 50);
    let run = &results.runs[0];
    assert_eq!((run.requests_sent, run.requests_ok), (300, 300), "{table}");
    assert_eq!(run.connections_opened.client, Some(300));
    assert_eq!(run.connections_opened.server, Some(300));
    assert_eq!(run.connections_without_requests.client, Some(0));
    assert_eq!(run.connections_without_requests.server, Some(0));
    let spread = run
        .requests_per_connection
        .expect("requests per connection");
    assert_eq!((spread.min, spread.median, spread.max), (1.0, 1.0, 1.0));
    let closes = &run.closes;
    assert_eq!(
        closes.by_client
            + closes.by_server
            + closes.reset
            + closes.open_at_end
            + closes.simultaneous,
        300,
        "{closes:?}"
    );
    assert!(run.latency_p50_ms.is_some() && run.latency_p99_ms >= run.latency_p50_ms);
    // The detail lists hold the first 50; the report says which lists were capped.
    assert_eq!(run.requests.len(), 50);
    assert_eq!(run.dials.len(), 50);
    assert_eq!(run.server_connections.len(), 50);
    let capped = |list: &str| run.detail_capped.iter().find(|c| c.list == list).cloned();
    let requests = capped("requests").expect("requests capped");
    assert_eq!(
        (requests.source, requests.kept, requests.seen),
        (Source::Client, 50, 300)
    );
    let server = capped("server_connections").expect("server connections capped");
    assert_eq!((server.kept, server.seen), (50, 300));
    assert_eq!(capped("dials").map(|c| (c.kept, c.seen)), Some((50, 300)));
    if capture_expected() {
        assert_eq!(run.connections_opened.capture, Some(300));
        let capture = run.capture.as_ref().unwrap();
        assert_eq!(capture.connections.len(), 50);
        assert_eq!(capture.summary.connections_opened, 300);
        assert_eq!(
            capped("capture_connections").map(|c| (c.kept, c.seen)),
            Some((50, 300))
        );
        assert_eq!(run.connections_without_requests.capture, Some(0));
        assert_eq!(run.reset_causes.map(|c| c.abortive + c.idle_race), Some(0));
        // Reconciled from every connection, not only the kept ones.
        let reconciled = run
            .time_wait_reconciled
            .expect("closes reconciled with TIME_WAIT");
        let closes = reconciled.client.closes + reconciled.server.closes;
        assert!(closes >= 300, "{reconciled:?}");
        for side in [reconciled.client, reconciled.server] {
            assert_eq!(side.unexplained, 0, "{reconciled:?}");
        }
    }
    assert!(table.contains("detail capped"), "{table}");
    let json = serde_json::to_string(&results).unwrap();
    assert!(json.contains("\"detail_capped\""));
    assert!(json.contains("detail capped (--detail-cap)"));
    // Markdown and CSV say it too, from the saved result.
    let saved = dir.path().join("out-50.json");
    let markdown = kalab()
        .arg("compare")
        .arg(&saved)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(markdown.contains("detail capped"), "{markdown}");
    let csv = kalab()
        .arg("compare")
        .arg(&saved)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert!(
        csv.lines().next().unwrap().contains(",detail_capped,"),
        "{csv}"
    );
    assert!(csv.contains("requests:50/300;"), "{csv}");
}

#[test]
fn under_the_cap_nothing_is_capped_and_only_the_request_list_of_a_keep_alive_run_is() {
    let dir = tempfile::tempdir().unwrap();
    let (results, table) = run_capped(dir.path(), KEEP_ALIVE, 50);
    let run = &results.runs[0];
    assert_eq!((run.requests_sent, run.requests_ok), (300, 300));
    // A few connections (the pool may dial one more than the workers when a request goes out
    // as another connection comes back), every source agreeing, far below the cap of 50.
    let opened = run.connections_opened.client.expect("client source");
    assert!((3..50).contains(&opened), "{table}");
    assert_eq!(run.connections_opened.server, Some(opened));
    assert_eq!(run.reuse_ratio, Some(300.0 / opened as f64));
    let lists: Vec<&str> = run.detail_capped.iter().map(|c| c.list.as_str()).collect();
    assert_eq!(lists, ["requests"], "{table}");
    assert_eq!(run.requests.len(), 50);
    // The connection view still covers every connection (fewer than 50).
    assert_eq!(run.connections.len() as u64, opened);

    let (uncapped, table) = run_capped(dir.path(), KEEP_ALIVE, 10_000);
    let run = &uncapped.runs[0];
    assert!(run.detail_capped.is_empty(), "{:?}", run.detail_capped);
    assert_eq!(run.requests.len(), 300);
    assert!(!table.contains("detail capped"), "{table}");
}
