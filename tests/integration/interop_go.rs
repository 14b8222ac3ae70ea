//! Go's net/http under `kalab observe --serve`: the classic experiments, reproduced with a Go
//! program (`tests/peers/go/main.go`, standard library only, built once per test run).
//! Requests pause 15 ms as the articles' programs do (shorter): with no pause the concurrent
//! default-transport count is anywhere from 10 to 27, a flaky test.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::helpers::{peer, summary};
use crate::observe::{assert_opened, observe};

/// The Go peer's source.
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/go/main.go");

/// The built Go peer, or `None` (with a visible skip) when Go is not installed. Built once,
/// offline, into cargo's temporary directory for integration tests, with its own build cache.
fn go_peer() -> Option<PathBuf> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let go = peer("go")?;
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-peer");
            let binary = dir.join("kalab-go-peer");
            let output = std::process::Command::new(go)
                .args(["build", "-o"])
                .arg(&binary)
                .arg(SOURCE)
                .env("GOCACHE", dir.join("cache"))
                .env("GOPATH", dir.join("gopath"))
                .env("GOPROXY", "off")
                .env("GOFLAGS", "")
                .env("CGO_ENABLED", "0")
                .output()
                .expect("go build runs");
            assert!(
                output.status.success(),
                "go build failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            Some(binary)
        })
        .clone()
}

/// Observes the Go peer in `mode` (plus flags) against the embedded server.
fn go(args: &[&str]) -> Option<kalab::report::RunReport> {
    let binary = go_peer()?.to_string_lossy().into_owned();
    let mut command = vec![binary.as_str()];
    command.extend_from_slice(args);
    // A 20 ms handler delay makes every worker's first request overlap the others', so "one
    // connection per worker" does not depend on how fast the workers get scheduled.
    let observed = observe(&["--serve", "--delay-us", "20000"], &command);
    let report = observed.report;
    assert_eq!(
        report.observed().unwrap().exit_code,
        Some(0),
        "{}",
        observed.stdout
    );
    Some(report)
}

#[test]
fn go_sequential_with_bodies_neither_read_nor_closed_opens_ten_connections() {
    let Some(report) = go(&["-mode", "leak", "-n", "10"]) else {
        return;
    };
    assert_opened(&report, true, 10);
    assert_eq!(report.requests_ok, 10, "{}", summary(&report));
}

#[test]
fn go_sequential_with_bodies_drained_and_closed_uses_one_connection() {
    let Some(report) = go(&["-mode", "drain", "-n", "10"]) else {
        return;
    };
    assert_opened(&report, true, 1);
    assert_eq!(report.requests_ok, 10, "{}", summary(&report));
    assert_eq!(report.reuse_ratio, Some(10.0));
}

#[test]
fn go_concurrent_with_the_default_transport_churns_connections() {
    let Some(report) = go(&["-mode", "concurrent", "-workers", "10", "-n", "10"]) else {
        return;
    };
    let opened = report.connections_opened.server.expect("server source");
    assert!(
        opened > 10,
        "MaxIdleConnsPerHost 2 keeps too few: {}",
        summary(&report)
    );
    if let Some(capture) = report.connections_opened.capture {
        assert_eq!(capture, opened, "{}", summary(&report));
    }
    let time_wait = report.time_wait.expect("sockets source");
    assert!(
        time_wait.time_wait_client_peak > 0,
        "the client closes the surplus: {}",
        summary(&report)
    );
    assert_eq!(report.requests_ok, 100, "{}", summary(&report));
}

#[test]
fn go_concurrent_with_ten_idle_connections_per_host_opens_exactly_ten() {
    let Some(report) = go(&[
        "-mode",
        "concurrent",
        "-workers",
        "10",
        "-n",
        "10",
        "-idle",
        "10",
    ]) else {
        return;
    };
    assert_opened(&report, true, 10);
    assert_eq!(report.requests_ok, 100, "{}", summary(&report));
}

/// The Go peer copying about 1 MB of bodies to its stdout under `--format json`: kalab's
/// stdout holds the JSON alone, and it shows the one reused connection.
#[test]
fn go_flooding_its_stdout_leaves_the_json_report_alone_on_stdout() {
    const BODY_BYTES: usize = 350_000;
    let Some(binary) = go_peer() else {
        return;
    };
    let output = crate::helpers::kalab()
        .args([
            "observe",
            "--serve",
            "--settle-ms",
            "100",
            "--format",
            "json",
        ])
        .args(["--body-bytes", &BODY_BYTES.to_string(), "--"])
        .arg(&binary)
        .args(["-mode", "drain", "-n", "3", "-print"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.len() >= 3 * BODY_BYTES,
        "the bodies go to stderr"
    );
    let set: kalab::report::ResultSet = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("JSON does not parse: {err}"));
    let report = &set.runs[0];
    assert_opened(report, true, 1);
    assert_eq!(report.requests_ok, 3, "{}", summary(report));
}
