//! The scenario format in the binary: `kalab scenario --help` documents every key the loader
//! accepts (the list comes from the loader, not from a copy), `kalab scenario new` writes a
//! file that loads and runs, load errors point to the reference, and every subcommand's help
//! has examples and exit codes.

use std::collections::BTreeMap;

use predicates::prelude::*;

use crate::helpers::kalab;

const MINIMAL: &str = "name = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n";

/// The keys the loader accepts in `table` ("" for the top level), as the loader itself lists
/// them when it meets one it does not know (every table denies unknown fields).
fn accepted_keys(table: &str) -> Vec<String> {
    let probe = "zz_not_a_key = 1\n";
    let text = match table {
        "" => format!("{probe}{MINIMAL}"),
        "pattern" => format!("{MINIMAL}{probe}"),
        other => format!("{MINIMAL}[{other}]\n{probe}"),
    };
    let err = kalab::scenario::parse_str("probe.toml", &text).unwrap_err();
    assert!(
        err.message.contains("unknown field `zz_not_a_key`"),
        "{err}"
    );
    let list = err.message.split_once("`zz_not_a_key`").unwrap().1;
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The help text, table by table: each table's heading line (`[client]`, `Top level`) and the
/// lines up to the next heading.
fn sections(help: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        let heading = if line == "Top level" {
            Some(String::new())
        } else if line.starts_with('[') && line.ends_with(']') {
            Some(line.trim_matches(['[', ']']).to_string())
        } else if !line.starts_with(' ') && !line.is_empty() {
            current = None;
            None
        } else {
            None
        };
        if let Some(name) = heading {
            current = Some(name.clone());
            sections.insert(name, String::new());
        } else if let Some(name) = &current {
            let section = sections.get_mut(name).unwrap();
            section.push_str(line);
            section.push('\n');
        }
    }
    sections
}

fn help() -> String {
    let out = kalab().args(["scenario", "--help"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn scenario_help_documents_every_key_the_loader_accepts() {
    let help = help();
    let sections = sections(&help);
    let top = accepted_keys("");
    assert!(top.len() >= 8, "{top:?}");
    for key in &top {
        let documented = sections.contains_key(key)
            || sections[""]
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{key} ")));
        assert!(
            documented,
            "top-level `{key}` is accepted but not in `kalab scenario --help`"
        );
    }
    for table in ["server", "client", "pattern", "body"] {
        let section = sections
            .get(table)
            .unwrap_or_else(|| panic!("no [{table}] in the reference:\n{help}"));
        for key in accepted_keys(table) {
            // A key's own line: the key, its type and its default.
            let line = section
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{key} ")))
                .unwrap_or_else(|| {
                    panic!("[{table}] {key} is accepted by the loader but not in `kalab scenario --help`")
                });
            assert!(line.contains("default: "), "[{table}] {key}: {line}");
        }
        assert!(section.contains("Example:"), "[{table}] has no example");
    }
    for table in ["sweep", "expect"] {
        assert!(
            sections[table].contains("Example:"),
            "[{table}] has no example"
        );
    }
    for figure in kalab::report::figures::FIGURES {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{} ", figure.name))),
            "metric {} is not listed",
            figure.name
        );
    }
}

#[test]
fn the_reference_is_the_same_however_it_is_asked_for() {
    let help = help();
    kalab()
        .args(["help", "scenario"])
        .assert()
        .success()
        .stdout(help.clone());
    let printed = kalab().arg("scenario").output().unwrap();
    assert!(printed.status.success());
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert!(
        printed.starts_with("A scenario is a TOML file"),
        "{printed}"
    );
    for line in [
        "[server]",
        "[client]",
        "[pattern]",
        "[body]",
        "[sweep]",
        "[expect]",
    ] {
        assert!(printed.lines().any(|l| l == line), "{line}");
    }
    kalab()
        .args(["scenario", "-h"])
        .assert()
        .success()
        .stdout(predicate::str::contains("kalab scenario --help"));
}

#[test]
fn scenario_new_writes_a_file_that_loads_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool-test.toml");
    kalab()
        .current_dir(dir.path())
        .args(["scenario", "new", "pool-test"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrote pool-test.toml"))
        .stdout(predicate::str::contains("kalab run pool-test.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("name = \"pool-test\""), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 10
    );
    kalab::scenario::load_file(&path).unwrap();

    // Never over an existing file.
    std::fs::write(&path, "mine").unwrap();
    kalab()
        .current_dir(dir.path())
        .args(["scenario", "new", "pool-test.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
    std::fs::write(&path, &text).unwrap();

    // It runs as written, and its expectations hold.
    kalab()
        .current_dir(dir.path())
        .args(["check", "pool-test.toml", "-q", "--settle-ms", "100"])
        .assert()
        .success();
    let out = kalab()
        .current_dir(dir.path())
        .args([
            "run",
            "pool-test.toml",
            "-q",
            "--format",
            "json",
            "--settle-ms",
            "100",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let set: kalab::report::ResultSet = serde_json::from_slice(&out.stdout).unwrap();
    let run = &set.runs[0];
    assert_eq!((run.scenario.as_str(), run.requests_ok), ("pool-test", 100));
}

#[test]
fn load_errors_point_to_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, MINIMAL.replace("kind", "knid")).unwrap();
    kalab()
        .arg("run")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("kalab scenario --help"))
        .stderr(predicate::str::contains("README").not());
}

#[test]
fn every_subcommand_help_has_examples_and_exit_codes() {
    use clap::CommandFactory as _;
    let cli = kalab::cli::Cli::command();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
        paths.push(vec![sub.get_name().to_string()]);
        for inner in sub.get_subcommands().filter(|s| s.get_name() != "help") {
            paths.push(vec![
                sub.get_name().to_string(),
                inner.get_name().to_string(),
            ]);
        }
    }
    assert!(paths.len() >= 11, "{paths:?}");
    for path in paths {
        let out = kalab().args(&path).arg("--help").output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{path:?}");
        assert!(
            help.contains("Examples:"),
            "kalab {} --help has no examples",
            path.join(" ")
        );
        assert!(
            help.contains("Exit codes: 0 "),
            "kalab {} --help has no exit codes",
            path.join(" ")
        );
    }
}
