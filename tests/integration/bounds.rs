//! Hostile values: every bounded scenario value past its limit exits 2 at its file:line:col
//! before anything runs; a sweep too large is refused by its count; files kalab reads whole
//! are bounded and regular; the embedded server binds loopback only; captures come through
//! pipes and stdin.

use std::path::PathBuf;
use std::process::Stdio;

use crate::helpers::kalab;

fn scenario_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("hostile.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `kalab run FILE --capture off --max-run-secs 5` exits 2 at `position`, saying `mention`, with
/// nothing on stdout.
fn assert_refused(text: &str, position: &str, mention: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(&dir, text);
    let out = kalab()
        .args(["run", "--capture", "off", "--max-run-secs", "5"])
        .arg(&path)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}\n{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(&format!("{}:{position}", path.display())),
        "{text}\n{stderr}"
    );
    assert!(stderr.contains(mention), "{text}\n{stderr}");
}

const PATTERN: &str = "name = \"t\"\n[pattern]\nkind = \"concurrent\"\n";
/// What a scenario needs after a `[server]` or `[sweep]` table.
const TAIL: &str = "[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n";

#[test]
fn values_past_their_limits_are_refused_where_they_are_written() {
    assert_refused(
        &format!("name = \"t\"\n[server]\nbody_bytes = 18446744073709551615\n{TAIL}"),
        "3:1",
        "more than the limit of 1073741824 bytes",
    );
    assert_refused(
        &format!("name = \"t\"\n[server]\nbody_bytes = 99999999999999\n{TAIL}"),
        "3:1",
        "limit",
    );
    assert_refused(
        &format!("{PATTERN}workers = 4294967295\nrequests_per_worker = 2\n"),
        "4:1",
        "more than the limit of 10000",
    );
    assert_refused(
        &format!("{PATTERN}workers = 1000000\nrequests_per_worker = 1\n"),
        "4:1",
        "more than the limit of 10000",
    );
    assert_refused(
        &format!("{PATTERN}workers = 2\nrequests_per_worker = 4294967295\n"),
        "5:1",
        "more than the limit of 1000000 per run",
    );
    assert_refused(
        &format!("{PATTERN}workers = 2\npause_ms = 999999999999\nrequests_per_worker = 2\n"),
        "5:1",
        "more than the limit of 3600000 ms",
    );
    assert_refused(
        &format!("name = \"t\"\n[server]\ndelay_us = 999999999999\n{TAIL}"),
        "3:1",
        "limit",
    );
}

#[test]
fn a_sweep_too_large_is_refused_by_its_count_before_anything_is_built() {
    let values = |n: u32| {
        let list: Vec<String> = (1..=n).map(|v| v.to_string()).collect();
        format!("[{}]", list.join(", "))
    };
    let text = format!(
        "name = \"t\"\n[sweep]\n\"client.max_idle_per_host\" = {}\n\"server.body_bytes\" = {}\n\"server.delay_us\" = {}\n\"pattern.pause_ms\" = {}\n{TAIL}",
        values(300),
        values(300),
        values(300),
        values(300),
    );
    assert_refused(&text, "3:1", "more than 10000 variants");
}

#[test]
fn a_swept_value_past_its_limit_is_refused_at_the_sweep() {
    assert_refused(
        &format!("name = \"t\"\n[sweep]\n\"server.body_bytes\" = [10, 99999999999999]\n{TAIL}"),
        "3:1",
        "more than the limit",
    );
}

#[test]
fn the_embedded_server_binds_loopback_only() {
    for address in ["0.0.0.0", "::", "10.1.2.3"] {
        assert_refused(
            &format!("name = \"t\"\n[server]\naddress = \"{address}\"\n{TAIL}"),
            "3:1",
            "loopback only",
        );
    }
    let out = kalab()
        .args([
            "observe",
            "--serve",
            "--host",
            "0.0.0.0",
            "--capture",
            "off",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback only"));
    let out = kalab()
        .args([
            "observe",
            "--serve",
            "--body-bytes",
            "99999999999999",
            "--capture",
            "off",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--body-bytes"));
}

#[test]
fn compare_refuses_devices_at_once() {
    let out = kalab()
        .args(["compare", "/dev/zero"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/dev/zero: not a regular file"), "{stderr}");
    let out = kalab().args(["run", "/dev/zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/capture")
        .join(name)
}

#[test]
fn analyze_reads_pipes_and_stdin() {
    for name in ["lo-en10mb.pcap", "lo-en10mb.pcapng"] {
        let from_file = kalab()
            .args(["analyze", "--format", "json"])
            .arg(fixture(name))
            .output()
            .unwrap();
        assert!(from_file.status.success(), "{name}");
        let bytes = std::fs::read(fixture(name)).unwrap();
        for how in ["-", "/dev/stdin"] {
            let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kalab"))
                .args(["analyze", "--format", "json", how])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let feeder = std::thread::spawn({
                let bytes = bytes.clone();
                move || {
                    use std::io::Write as _;
                    let _ = stdin.write_all(&bytes);
                }
            });
            let out = child.wait_with_output().unwrap();
            feeder.join().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name} via {how}: {stderr}");
            let file: serde_json::Value = serde_json::from_slice(&from_file.stdout).unwrap();
            let piped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(
                file["packets_read"], piped["packets_read"],
                "{name} via {how}"
            );
            assert_eq!(
                file["connections"], piped["connections"],
                "{name} via {how}"
            );
            assert_eq!(
                file["port"], piped["port"],
                "{name} via {how}: the port is guessed"
            );
        }
    }
}

#[test]
fn max_run_secs_cuts_a_long_pause_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(
        &dir,
        "name = \"long-pause\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\npause_ms = 600000\n",
    );
    let out = kalab()
        .args([
            "run",
            "--capture",
            "off",
            "--format",
            "json",
            "--max-run-secs",
            "1",
        ])
        .arg(&path)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set: kalab::report::ResultSet = serde_json::from_slice(&out.stdout).unwrap();
    let run = &set.runs[0];
    assert_eq!(
        run.requests_sent, 1,
        "the pause after the first request ended the run"
    );
    assert!(
        run.wall_time_ms < 120_000.0,
        "the 10-minute pause was cut short"
    );
}

#[test]
fn flags_past_their_limits_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(&dir, &format!("name = \"t\"\n{TAIL}"));
    for (flag, value, mention) in [
        ("--repeat", "4294967295", "not in 1..=1000"),
        ("--sample-ms", "0", "--sample-ms"),
        ("--settle-ms", "18446744073709551615", "--settle-ms"),
        ("--max-run-secs", "999999999", "--max-run-secs"),
    ] {
        let out = kalab()
            .args(["run", "--capture", "off", flag, value])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(mention), "{flag} {value}: {stderr}");
    }
}
