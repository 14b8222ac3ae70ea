//! Bad input: every broken scenario file gives one paragraph naming file:line:col and exit 2.

use std::path::PathBuf;

use predicates::prelude::*;

use crate::helpers::kalab;

fn scenario_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD: &str =
    "name = \"t\"\n[pattern]\nkind = \"concurrent\"\nworkers = 2\nrequests_per_worker = 3\n";

fn assert_rejected(text: &str, position: &str, mention: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(&dir, text);
    let expected = format!("{}:{position}", path.display());
    kalab()
        .arg("run")
        .arg(&path)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(expected))
        .stderr(predicate::str::contains(mention))
        .stderr(predicate::str::contains("\n").count(1));
}

#[test]
fn unknown_keys_are_rejected_with_the_allowed_ones() {
    assert_rejected(
        &format!("{GOOD}pace_ms = 3\n"),
        "6:1",
        "unknown field `pace_ms`",
    );
}

#[test]
fn wrong_types_are_rejected() {
    assert_rejected(
        &GOOD.replace("= 3", "= \"three\""),
        "5:23",
        "pattern.requests_per_worker",
    );
}

#[test]
fn zero_workers_are_rejected() {
    assert_rejected(
        &GOOD.replace("workers = 2", "workers = 0"),
        "4:11",
        "pattern.workers",
    );
}

#[test]
fn unknown_body_policies_are_rejected() {
    assert_rejected(
        &format!("{GOOD}[body]\npolicy = \"slurp\"\n"),
        "7:10",
        "drain-limit:N",
    );
}

#[test]
fn text_that_is_not_toml_is_rejected() {
    assert_rejected("this is not toml\n", "1:", "invalid scenario file");
}

#[test]
fn missing_files_are_rejected() {
    kalab()
        .args(["run", "/nonexistent/scenario.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "/nonexistent/scenario.toml: no such file",
        ));
}

#[test]
fn nothing_runs_when_any_file_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a-good.toml");
    std::fs::write(&good, GOOD).unwrap();
    let bad = dir.path().join("b-bad.toml");
    std::fs::write(&bad, format!("{GOOD}bogus = 1\n")).unwrap();
    kalab()
        .arg("run")
        .arg(dir.path())
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn a_mistyped_interface_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(&dir, GOOD);
    kalab()
        .arg("run")
        .arg(&path)
        .args(["--interface", "no-such-if0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "there is no interface no-such-if0",
        ))
        .stderr(predicate::str::contains("fix --interface"));
}

#[test]
fn a_missing_capture_file_is_named_once() {
    let output = kalab()
        .args(["analyze", "/nonexistent/missing.pcap"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(output).unwrap();
    assert_eq!(
        stderr.matches("/nonexistent/missing.pcap").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("cannot read"), "{stderr}");
}
