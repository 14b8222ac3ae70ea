//! Without the capture capability: `--capture required` exits 3 with the remedy before any
//! request is sent, and `auto` runs on with the other sources. The capability is dropped with
//! capsh, so the test runs the real binary without CAP_NET_RAW even as root.

use std::process::Command;

use crate::helpers::peer;

fn without_capture(args: &[&str]) -> std::process::Output {
    let capsh = peer("capsh").expect("capsh");
    Command::new(capsh)
        .args([
            "--drop=cap_net_raw,cap_net_admin",
            "--",
            "-c",
            "exec \"$@\"",
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_kalab"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn capture_required_without_the_capability_exits_3_before_any_request() {
    if peer("capsh").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"s\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 3\n",
    )
    .unwrap();
    let json = dir.path().join("out.json");
    let output = without_capture(&[
        "run",
        scenario.to_str().unwrap(),
        "--capture",
        "required",
        "--export-json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("sudo setcap cap_net_raw,cap_net_admin=eip"),
        "{stderr}"
    );
    assert!(!json.exists(), "a run was reported, so requests were sent");

    let output = without_capture(&["run", scenario.to_str().unwrap(), "--format", "json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("running without the capture source").count(),
        1,
        "{stderr}"
    );
    let results: kalab::report::ResultSet = serde_json::from_slice(&output.stdout).unwrap();
    let run = &results.runs[0];
    assert_eq!(run.connections_opened.capture, None);
    assert_eq!(run.connections_opened.server, Some(1));
}

/// Without the capture, a figure only the wire can measure is unmeasured everywhere: an
/// expectation on it exits 3 naming the capture source and its remedy, and the demo's lesson on
/// dropped bodies says what it cannot tell instead of quoting a number it did not measure.
#[test]
fn a_figure_only_the_wire_sees_is_unmeasured_without_the_capture() {
    if peer("capsh").is_none() {
        return;
    }
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/demo/01-sequential-drop.toml"
    );
    let output = without_capture(&["check", scenario, "--expect", "resets >= 10"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("NOT MEASURED"), "{stdout}");
    assert!(
        stdout.contains("the capture source did not measure this run"),
        "{stdout}"
    );

    let output = without_capture(&["demo"]);
    assert_eq!(output.status.code(), Some(0));
    let demo = String::from_utf8_lossy(&output.stdout);
    assert!(!demo.contains("ended in a RST"), "{demo}");
    assert!(demo.contains("only the\n     wire can tell"), "{demo}");
}
