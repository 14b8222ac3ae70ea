//! Stdout holds the report alone: `check`'s verdicts inside its JSON and CSV (the pass/fail
//! table on stderr), one claim on stdout at most, and every output path checked before anything
//! runs. An export that cannot be written (a full disk) loses no other output.

use std::path::{Path, PathBuf};

use crate::helpers::kalab;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const DRAIN: &str = "name = \"drain\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 5\n[expect]\nconnections_opened = \"== 1\"\nrequests_failed = 0\nrequests_ok = \">= 9\"\n";

#[test]
fn check_json_is_one_document_with_every_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let out = kalab()
        .args(["check", "--capture", "off", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "requests_ok >= 9 fails");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let check = &json["check"];
    assert_eq!(check["passed"], false);
    let verdicts: Vec<(&str, &str)> = check["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["expectation"].as_str().unwrap(),
                e["verdict"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("connections_opened == 1", "pass"),
            ("requests_failed == 0", "pass"),
            ("requests_ok >= 9", "fail")
        ]
    );
    assert_eq!(check["expectations"][2]["measured"], 5.0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 of 3 expectation(s) held"), "{stderr}");
    // The same document goes through python's parser too, when python is there.
    if let Some(python) = crate::helpers::peer("python3") {
        let mut child = std::process::Command::new(python)
            .args(["-m", "json.tool"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
        assert!(child.wait().unwrap().success(), "json.tool reads it");
    }
}

#[test]
fn check_csv_has_one_row_per_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let out = kalab()
        .args(["check", "--capture", "off", "--format", "csv"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[3], "expectation");
    assert_eq!(&headers[4], "verdict");
    let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[2][4], "fail");
    assert_eq!(&rows[2][5], "5");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expectation(s) held"));
}

#[test]
fn two_exports_to_stdout_are_a_usage_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let out = kalab()
        .args([
            "run",
            "--capture",
            "off",
            "--export-json",
            "-",
            "--export-csv",
            "-",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--export-json - and --export-csv - both want stdout"),
        "{stderr}"
    );
}

#[test]
fn one_export_to_stdout_is_all_that_stdout_holds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let out = kalab()
        .args(["run", "--capture", "off", "--export-json", "-"])
        .arg(&path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only the JSON");
    assert_eq!(json["runs"][0]["scenario"], "drain");
}

#[test]
fn an_unwritable_export_path_fails_before_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let out = kalab()
        .args([
            "run",
            "--capture",
            "off",
            "--export-json",
            "/nonexistent/x.json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "--export-json /nonexistent/x.json: the directory /nonexistent does not exist"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("requests"), "nothing ran: {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_export_to_a_full_disk_fails_clearly_and_loses_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "drain.toml", DRAIN);
    let csv = dir.path().join("runs.csv");
    let out = kalab()
        .args([
            "run",
            "--capture",
            "off",
            "--format",
            "json",
            "--export-markdown",
            "/dev/full",
        ])
        .arg("--export-csv")
        .arg(&csv)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the environment failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write /dev/full: No space left on device"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the report is out");
    assert_eq!(json["runs"][0]["scenario"], "drain");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 2, "the CSV export is whole: {text}");
    assert!(Path::new("/dev/full").exists());
}
