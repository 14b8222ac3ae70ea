//! `kalab check`: exit codes, failure messages, baselines, JUnit, unmeasurable expectations.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::helpers::kalab;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn concurrent_idle2(expect: &str) -> String {
    format!(
        r#"name = "concurrent-idle2"
[server]
body_bytes = 65536
[client]
max_idle_per_host = 2
[pattern]
kind = "concurrent"
workers = 10
requests_per_worker = 10
pause_ms = 20
[sweep]
"client.max_idle_per_host" = [2]
[expect]
{expect}
"#
    )
}

const DRAIN: &str = "name = \"drain\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 5\n[expect]\nconnections_opened = \"== 1\"\nrequests_failed = 0\n";

#[test]
fn a_passing_check_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    kalab()
        .arg("check")
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("2 of 2 expectation(s) held"));
}

#[test]
fn a_failing_expectation_exits_1_with_an_actionable_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "idle2.toml",
        &concurrent_idle2("connections_opened = \"<= 10\""),
    );
    kalab()
        .args(["check", "--repeat", "2"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(
            r"concurrent-idle2 \[max_idle_per_host=2\] run 2/2: connections_opened = \d+ \((capture|server)\), expected <= 10",
        ).unwrap());
}

#[test]
fn command_line_expectations_apply_and_bad_ones_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    kalab()
        .args(["check", "--expect", "reuse_ratio < 2"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "drain run 1/1: reuse_ratio = 5, expected < 2",
        ));
    kalab()
        .args(["check", "--expect", "conns < 2"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown metric `conns`"))
        .stderr(predicate::str::contains("time_wait_client_peak"));
}

#[test]
fn unknown_metrics_in_scenario_files_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        &DRAIN.replace("requests_failed", "requests_lost"),
    );
    kalab()
        .arg("check")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!("{}:7:1", path.display())))
        .stderr(predicate::str::contains("unknown metric `requests_lost`"));
}

#[test]
fn a_baseline_regression_exits_1_and_names_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let before = write(dir.path(), "s.toml", DRAIN);
    let baseline = dir.path().join("baseline.json");
    kalab()
        .arg("check")
        .arg(&before)
        .arg("--save-baseline")
        .arg(&baseline)
        .assert()
        .code(0);
    // The same scenario, now with a client that keeps no idle connection.
    let worse = DRAIN.replace(
        "[expect]\nconnections_opened = \"== 1\"\n",
        "[client]\nmax_idle_per_host = 0\n[expect]\n",
    );
    write(dir.path(), "s.toml", &worse);
    kalab()
        .arg("check")
        .arg(&before)
        .arg("--baseline")
        .arg(&baseline)
        .args(["--tolerance", "10"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "baseline: drain: connections_opened got worse: 5 now, 1 in the baseline (tolerance 10%)",
        ));
}

#[test]
fn the_junit_file_counts_tests_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.toml", DRAIN);
    write(
        dir.path(),
        "b.toml",
        &DRAIN.replace("drain", "strict").replace("== 1", "== 0"),
    );
    let junit = dir.path().join("junit.xml");
    kalab()
        .arg("check")
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (0, 0);
    let mut suite_counts = None;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    b"testsuite" => {
                        let attr = |name: &[u8]| {
                            e.attributes()
                                .map(Result::unwrap)
                                .find(|a| a.key.as_ref() == name)
                                .map(|a| String::from_utf8(a.value.to_vec()).unwrap())
                        };
                        suite_counts = Some((attr(b"tests"), attr(b"failures")));
                    }
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!((cases, failures), (2, 1), "{xml}");
    assert_eq!(suite_counts, Some((Some("2".into()), Some("1".into()))));
    let line = regex_lite(
        &xml,
        "strict run 1/1: connections_opened = 1 (",
        "), expected == 0",
    );
    assert!(line, "{xml}");
}

#[test]
fn an_expectation_on_the_capture_source_without_capture_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "s.toml",
        &DRAIN.replace("connections_opened =", "\"connections_opened.capture\" ="),
    );
    kalab()
        .args(["check", "--capture", "off"])
        .arg(&path)
        .assert()
        .code(3)
        .stdout(predicate::str::contains("cannot be checked"));
}

#[test]
fn run_honours_expectations_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", &DRAIN.replace("== 1", "== 2"));
    kalab().arg("run").arg(&path).assert().code(1).stderr(
        predicate::str::is_match(
            r"drain run 1/1: connections_opened = 1 \((capture|server)\), expected == 2",
        )
        .unwrap(),
    );
}

/// Whether `text` holds `before`, then `capture` or `server`, then `after`.
fn regex_lite(text: &str, before: &str, after: &str) -> bool {
    ["capture", "server"]
        .iter()
        .any(|source| text.contains(&format!("{before}{source}{after}")))
}
