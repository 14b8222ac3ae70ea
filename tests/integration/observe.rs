//! `kalab observe`: exit status, a command that cannot start, expectations, Ctrl-C. The helpers
//! here run the binary on any program and read the report back from `--export-json` (stdout
//! carries the program's own output too).

use std::path::Path;
use std::time::Duration;

use kalab::report::{DrivenBy, ResultSet, RunReport, Source};
use predicates::prelude::*;

use crate::helpers::{assert_source, capture_expected, kalab, peer, summary};

/// Upper bound on one observation in these tests.
const TIME_LIMIT: Duration = Duration::from_secs(90);

/// What one `kalab observe` printed and reported.
pub struct Observed {
    /// The run, from `--export-json`.
    pub report: RunReport,
    /// stdout: the program's output, then kalab's table.
    pub stdout: String,
}

/// Runs `kalab observe FLAGS -- COMMAND`, asserts it exited 0, and reads the report back.
pub fn observe(flags: &[&str], command: &[&str]) -> Observed {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("observed.json");
    let output = kalab()
        .arg("observe")
        .args(flags)
        .arg("--export-json")
        .arg(&json)
        .arg("--")
        .args(command)
        .timeout(TIME_LIMIT)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "kalab observe {flags:?} -- {command:?} failed: {stderr}"
    );
    Observed {
        report: read_report(&json),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

/// The single run of a `--export-json` file.
pub fn read_report(path: &Path) -> RunReport {
    let text = std::fs::read_to_string(path).unwrap();
    let mut set: ResultSet = serde_json::from_str(&text).unwrap();
    assert_eq!(set.runs.len(), 1);
    set.runs.remove(0)
}

/// Asserts connections opened as counted by the server (with --serve) and the capture (when it
/// is expected to be present): both must be `expected`.
pub fn assert_opened(report: &RunReport, served: bool, expected: u64) {
    if served {
        assert_source(report, Source::Server, expected);
    }
    if capture_expected() {
        assert_source(report, Source::Capture, expected);
    }
    assert_eq!(report.connections_opened.client, None, "no client source");
}

#[test]
fn the_exit_status_is_reported_and_the_port_reaches_the_program() {
    let observed = observe(
        &["--serve", "--settle-ms", "50"],
        &[
            "sh",
            "-c",
            "echo \"port=$KALAB_PORT arg=$0\"; exit 3",
            "{port}",
        ],
    );
    let report = &observed.report;
    let run = report.observed().expect("observed command");
    assert_eq!(run.exit_code, Some(3));
    let DrivenBy::Observed(observed_run) = &report.driven_by else {
        panic!(
            "an observation is driven by its command: {:?}",
            report.driven_by
        )
    };
    assert_eq!(observed_run.serve.as_ref().map(|s| s.port), Some(run.port));
    assert!(
        report.settings().is_none(),
        "observe runs no scenario pattern"
    );
    assert!(!run.stopped_by_kalab);
    let port = run.port.to_string();
    assert!(
        observed.stdout.contains(&format!("port={port} arg={port}")),
        "{}",
        observed.stdout
    );
    assert!(
        report.scenario.starts_with("observe: sh -c"),
        "{}",
        report.scenario
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.to_string() == "the observed command exited with status 3"),
        "{}",
        summary(report)
    );
    assert_opened(report, true, 0);
    assert_eq!(report.requests_sent, 0);
}

#[test]
fn a_command_that_cannot_start_is_bad_input() {
    kalab()
        .args([
            "observe",
            "--serve",
            "--",
            "/nonexistent/kalab-no-such-program",
            "x",
        ])
        .timeout(TIME_LIMIT)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "cannot start `/nonexistent/kalab-no-such-program x`",
        ));
}

#[test]
fn without_serve_the_port_is_required() {
    kalab()
        .args(["observe", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--port"));
    kalab()
        .args(["observe", "--port", "80", "--body-bytes", "5", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--serve"));
}

#[test]
fn expectations_decide_the_exit_code() {
    let Some(curl) = peer("curl") else { return };
    let curl = curl.to_string_lossy().into_owned();
    let url = "http://127.0.0.1:{port}/";
    let run = |expect: &str, extra: &[&str]| {
        kalab()
            .args([
                "observe",
                "--serve",
                "--settle-ms",
                "50",
                "--expect",
                expect,
            ])
            .args(extra)
            .args(["--", &curl, "-s", "-o", "/dev/null", url])
            .timeout(TIME_LIMIT)
            .output()
            .unwrap()
    };
    let held = run("connections_opened.server == 1", &[]);
    assert_eq!(held.status.code(), Some(0), "{held:?}");
    let failed = run("connections_opened.server == 2", &[]);
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(String::from_utf8_lossy(&failed.stderr).contains("expected == 2"));
    let unmeasured = run("connections_opened.capture == 1", &["--capture", "off"]);
    assert_eq!(unmeasured.status.code(), Some(3), "{unmeasured:?}");
    let bad = run("connections_opened ~ 1", &[]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    // curl exits 0 here; with --fail against a closed port it would not: the command's own
    // status is a figure too.
    let status = run("command_exit_code == 0", &[]);
    assert_eq!(status.status.code(), Some(0), "{status:?}");
    let status = run("command_exit_code != 0", &[]);
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    assert!(String::from_utf8_lossy(&status.stderr).contains("command_exit_code = 0"));
}

#[test]
fn ctrl_c_stops_the_program_and_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("observed.json");
    let mut kalab = std::process::Command::new(assert_cmd::cargo::cargo_bin("kalab"))
        .args(["observe", "--serve", "--settle-ms", "50", "--export-json"])
        .arg(&json)
        .args(["--", "sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Give it time to start the collectors and the program.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = libc::pid_t::try_from(kalab.id()).unwrap();
    // SAFETY: kill(2) on the child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = kalab.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = kalab.kill();
            panic!("kalab observe did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let report = read_report(&json);
    let run = report.observed().expect("observed command");
    assert!(run.stopped_by_kalab);
    assert_eq!(run.signal, Some(libc::SIGTERM));
    assert!(run.duration_ms < 10_000.0, "{}", run.duration_ms);
}
