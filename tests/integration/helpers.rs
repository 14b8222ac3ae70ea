//! Helpers shared by the integration tests: running a scenario in-process, running the binary.

use std::sync::Arc;

use kalab::report::{RunReport, Source};
use kalab::scenario;
use kalab::session::{self, RunOptions, RunPlan};

/// Parses scenario text (panicking with the error if it is invalid) and runs it once.
pub fn run_scenario(text: &str) -> RunReport {
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
        .block_on(session::run_scenario(
            &plan,
            &RunOptions::default(),
            Arc::new(|| {}),
        ))
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
