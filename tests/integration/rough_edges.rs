//! What a new user meets in the first minutes: a misspelt flag value or expression is a usage
//! error (exit 2) that names the mistake and what would work, before anything runs.

use predicates::prelude::*;

use crate::helpers::kalab;

/// A two-variant sweep that would take seconds to run: the errors below come before it runs.
const SWEEP: &str = "name = \"pool\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n[sweep]\n\"client.max_idle_per_host\" = [1, 2]\n";

fn sweep_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("pool.toml");
    std::fs::write(&path, SWEEP).unwrap();
    path
}

#[test]
fn an_unknown_baseline_variant_is_refused_with_the_variants_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    for command in ["run", "check"] {
        let mut cmd = kalab();
        cmd.arg(command)
            .arg(&path)
            .args(["--capture", "off", "--baseline-variant", "nope"]);
        if command == "check" {
            cmd.args(["--expect", "requests_failed == 0"]);
        }
        cmd.assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("--baseline-variant `nope`"))
            .stderr(predicate::str::contains(
                "`pool [max_idle_per_host=1]` (or `max_idle_per_host=1`)",
            ))
            .stderr(predicate::str::contains("`pool [max_idle_per_host=2]`"));
    }
}

#[test]
fn a_baseline_variant_that_exists_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    kalab()
        .arg("run")
        .arg(&path)
        .args([
            "--capture",
            "off",
            "--baseline-variant",
            "max_idle_per_host=2",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "pool [max_idle_per_host=1] opened as many connections as pool [max_idle_per_host=2]",
        ));
}

#[test]
fn a_baseline_variant_for_one_observed_run_is_refused() {
    kalab()
        .args([
            "observe",
            "--port",
            "1",
            "--baseline-variant",
            "x",
            "--",
            "true",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("measures one run"));
}

#[test]
fn a_wrong_operator_is_named_not_taken_for_part_of_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    kalab()
        .arg("run")
        .arg(&path)
        .args(["--capture", "off", "--expect", "connections_opened =< 2"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unknown operator `=<`"))
        .stderr(predicate::str::contains("==, !=, <, <=, >, >="))
        .stderr(predicate::str::contains("did you mean `<=`"))
        .stderr(predicate::str::contains("unknown metric").not());
}

#[test]
fn a_program_given_to_observe_without_dashes_gets_the_command_line_with_them() {
    kalab()
        .args([
            "observe",
            "--port",
            "8080",
            "curl",
            "-s",
            "http://127.0.0.1:8080/",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument 'curl'"))
        .stderr(predicate::str::contains(
            "`kalab observe --port 8080 -- curl -s http://127.0.0.1:8080/`",
        ));
}

#[test]
fn observe_without_a_port_mentions_serve() {
    kalab()
        .args(["observe", "--", "curl", "-s", "http://127.0.0.1:8080/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--port <N>"))
        .stderr(predicate::str::contains(
            "--serve to start kalab's embedded server",
        ));
}
