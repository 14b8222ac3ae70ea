//! Helpers shared by the integration tests: running a scenario in-process, running the binary.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use kalab::report::{RunReport, Source};
use kalab::scenario;
use kalab::session::{self, RunOptions, RunPlan};

/// Parses scenario text (panicking with the error if it is invalid) and runs it once.
pub fn run_scenario(text: &str) -> RunReport {
    run_scenario_with(text, &RunOptions::default())
}

/// [`run_scenario`] with these options.
pub fn run_scenario_with(text: &str, options: &RunOptions) -> RunReport {
    let loaded = scenario::parse_str("test.toml", text).unwrap_or_else(|err| panic!("{err}"));
    let plan = RunPlan {
        scenario: loaded.scenario,
        origin: loaded.origin,
        variant: String::new(),
        repetition: 1,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(session::run_scenario(&plan, options, Arc::new(|| {})))
        .unwrap_or_else(|err| panic!("run failed: {err:#}"))
}

/// Asserts that the client and the server counted `expected` connections, and that every
/// request succeeded.
pub fn assert_opened(report: &RunReport, expected: u64) {
    assert_eq!(
        report.requests_failed, 0,
        "failed requests: {:?}",
        report.errors
    );
    assert_source(report, Source::Client, expected);
    assert_source(report, Source::Server, expected);
    if capture_expected() {
        assert_source(report, Source::Capture, expected);
    }
}

/// Asserts that `source` counted `expected` connections.
pub fn assert_source(report: &RunReport, source: Source, expected: u64) {
    assert_eq!(
        report.connections_opened.get(source),
        Some(expected),
        "{source} source, {}",
        summary(report)
    );
}

/// Whether the capture source must be present: it is when this process may capture (root, as
/// in CI); under `CI=true` it always must.
pub fn capture_expected() -> bool {
    static PROBED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBED.get_or_init(|| {
        let can = pcap::Capture::from_device("lo")
            .and_then(|c| c.immediate_mode(true).open())
            .is_ok();
        can || skip(
            "no capture permission (run the tests as root): the capture source is not checked",
        )
    })
}

/// The capture's view of a run, when the capture source is expected.
pub fn capture_of(report: &RunReport) -> Option<&kalab::capture::CaptureOutcome> {
    if capture_expected() {
        Some(report.capture.as_ref().expect("capture source present"))
    } else {
        None
    }
}

/// A one-line summary for assertion messages.
pub fn summary(report: &RunReport) -> String {
    format!(
        "{}: opened {:?}, warnings {:?}",
        report.label(),
        report.connections_opened,
        report
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
    )
}

/// The kalab binary, ready to run.
pub fn kalab() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("kalab").unwrap()
}

/// Whether the tests run under `CI=true`, where every peer and permission must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Prints a visible skip and returns `false`, or fails under `CI=true`, where the environment
/// must be complete.
pub fn skip(reason: &str) -> bool {
    assert!(!in_ci(), "CI=true, but the test cannot run: {reason}");
    eprintln!("SKIP: {reason}");
    false
}

/// The path of a peer program the tests use, or `None` with a visible skip message. Under
/// `CI=true` a missing peer fails the test: CI must exercise the real thing.
pub fn peer(program: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        skip(&format!(
            "{program} is not installed (scripts/setup installs it)"
        ));
    }
    found
}

/// A loopback port nothing listens on, for a peer (nginx, python, a command under `observe`)
/// that must be told its port before it starts.
///
/// The port lies below the kernel's ephemeral range, so no `bind(0)` or `connect()` of another
/// test can be handed it between this pick and the peer's bind (a port picked from the
/// ephemeral range and released can be taken by any socket in that gap). Each call moves on
/// from a start that differs per process.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768);
    let low = 10_000;
    let span = ephemeral_low.saturating_sub(low).max(1_000);
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(low + offset).expect("ports below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below the ephemeral range");
}
