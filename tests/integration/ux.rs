//! The tool as a person meets it: compare shows before and after side by side, sentences only
//! between like things, tables that fit 80 and 100 columns (`COLUMNS` and a real pty), a
//! pattern that runs for a duration at a rate, completions and a man page, `-q` and `-v`, and
//! the small things (missing files, empty port filters, what a baseline check compared).

use std::path::Path;

use kalab::report::ResultSet;

use crate::helpers::{capture_expected, kalab, peer};

/// The demo's idle-pool experiment with its expectations left out (the copy with a bigger pool
/// would fail them), with `max_idle_per_host` set to `idle`.
fn idle_scenario(idle: u32) -> String {
    let text = include_str!("../../scenarios/demo/04-concurrent-idle2.toml");
    let text = &text[..text
        .find("[expect]")
        .expect("the demo file has expectations")];
    text.replace(
        "max_idle_per_host = 2",
        &format!("max_idle_per_host = {idle}"),
    )
}

/// Runs `kalab ARGS` and returns (exit code, stdout, stderr).
fn run(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = kalab();
    command.current_dir(dir).args(args).env_remove("COLUMNS");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The widest line, in characters.
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// The table rows (lines between the vertical borders) whose first cell starts with `start`.
fn rows_starting<'t>(text: &'t str, start: &str) -> Vec<&'t str> {
    text.lines()
        .filter(|l| l.starts_with('│') && l.trim_start_matches('│').trim_start().starts_with(start))
        .collect()
}

#[test]
fn compare_shows_before_and_after_as_two_rows_and_a_sentence() {
    let dir = tempfile::tempdir().unwrap();
    for (name, idle) in [("idle2", 2), ("idle10", 10)] {
        std::fs::write(dir.path().join(format!("{name}.toml")), idle_scenario(idle)).unwrap();
        let (code, _, stderr) = run(
            &[
                "run",
                "-q",
                &format!("{name}.toml"),
                "--export-json",
                &format!("{name}.json"),
            ],
            dir.path(),
            &[],
        );
        assert_eq!(code, Some(0), "{stderr}");
    }
    let (code, table, stderr) = run(&["compare", "idle2.json", "idle10.json"], dir.path(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        rows_starting(&table, "idle2.json: concurrent-idle2").len(),
        1,
        "{table}"
    );
    assert_eq!(
        rows_starting(&table, "idle10.json: concurrent-idle2").len(),
        1,
        "{table}"
    );
    assert!(!table.contains("runs"), "no merged repetitions:\n{table}");
    let sentence = table
        .lines()
        .find(|l| {
            l.trim_start()
                .starts_with("idle10.json: concurrent-idle2 opened")
        })
        .unwrap_or_else(|| panic!("no sentence:\n{table}"));
    assert!(
        sentence.contains("x fewer connections than idle2.json: concurrent-idle2"),
        "{sentence}"
    );
    assert!(!table.contains("not deterministic"), "{table}");

    // Named inputs, in every format: the JSON says which input each run came from.
    let (code, json, _) = run(
        &[
            "compare",
            "--label",
            "before=idle2.json",
            "--label",
            "after=idle10.json",
            "--format",
            "json",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0));
    let results: ResultSet = serde_json::from_str(&json).unwrap();
    let inputs: Vec<_> = results.runs.iter().map(|r| r.input.as_deref()).collect();
    assert_eq!(inputs, [Some("before"), Some("after")]);
    let (_, markdown, _) = run(
        &[
            "compare",
            "--label",
            "before=idle2.json",
            "--label",
            "after=idle10.json",
            "--format",
            "markdown",
        ],
        dir.path(),
        &[],
    );
    let sentence = markdown
        .lines()
        .find(|l| l.starts_with("- after: concurrent-idle2 opened"))
        .unwrap_or_else(|| panic!("{markdown}"));
    assert!(
        sentence.contains("fewer connections than before: concurrent-idle2"),
        "{sentence}"
    );

    let (code, _, stderr) = run(&["compare", "--label", "idle2.json"], dir.path(), &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("NAME=FILE"), "{stderr}");
}

/// `scenarios/` holds unrelated files and one sweep per file: only a sweep's variants are
/// compared, each with a variant of its own scenario.
#[test]
fn check_compares_no_two_scenario_files() {
    let dir = tempfile::tempdir().unwrap();
    let markdown = dir.path().join("check.md");
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, table, stderr) = run(
        &[
            "check",
            &format!("{root}/scenarios"),
            "--export-markdown",
            markdown.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    // What is asserted here is which runs are compared; whether every scenario's own
    // expectations held on a loaded machine (exit 1) is `kalab check`'s own business.
    assert!(matches!(code, Some(0 | 1)), "{code:?}: {stderr}\n{table}");
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    let scenario_of = |label: &str| -> String {
        label
            .split([' ', '[', ','])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let sentences: Vec<&str> = markdown.lines().filter(|l| l.starts_with("- ")).collect();
    assert!(
        !sentences.is_empty(),
        "the sweeps are compared:\n{markdown}"
    );
    for sentence in &sentences {
        let text = &sentence[2..];
        // TLS: "with A, its cost; with B, its cost", or one variant's cost alone.
        let (left, right) = match text.strip_prefix("with ") {
            Some(tls) => match tls.split_once("; with ") {
                Some((a, b)) => (a, b),
                None => continue,
            },
            None => text
                .split_once(" than ")
                .or_else(|| text.split_once(" opened as many connections as "))
                .unwrap_or_else(|| panic!("{sentence}")),
        };
        let (left, right) = (left.trim_end_matches(','), right.trim_end_matches(','));
        assert_eq!(
            scenario_of(left),
            scenario_of(right),
            "a sentence between two scenario files: {sentence}"
        );
    }
    for unrelated in ["h2c-multiplexing", "sequential-drop", "client-no-idle-pool"] {
        assert!(
            !sentences.iter().any(|s| s.contains(unrelated)),
            "{unrelated} has no sweep: {sentences:#?}"
        );
    }
}

const SWEEP4: &str = r#"name = "pool-and-body"
[server]
body_bytes = 65536
[pattern]
kind = "concurrent"
workers = 3
requests_per_worker = 3
pause_ms = 5
[sweep]
"client.max_idle_per_host" = [2, 10]
"body.policy" = ["drain", "drop"]
"#;

/// Everything `script` wrote, with escape sequences gone, split at line ends and carriage
/// returns (a progress bar redraws its line).
fn screen_lines(raw: &str) -> Vec<String> {
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte; other escapes: ESC and one byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else {
            text.push(c);
        }
    }
    text.split(['\n', '\r']).map(str::to_string).collect()
}

/// Runs `kalab ARGS` on a pseudo-terminal of `columns` columns (util-linux `script`).
fn in_pty(args: &str, dir: &Path, columns: u16) -> Option<Vec<String>> {
    let script = peer("script")?;
    let kalab = assert_cmd::cargo::cargo_bin("kalab");
    let inner = format!(
        "stty cols {columns} rows 50; exec {} {args}",
        kalab.display()
    );
    let output = std::process::Command::new(script)
        .current_dir(dir)
        .env_remove("COLUMNS")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Some(screen_lines(&String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn the_demo_and_a_four_variant_sweep_fit_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.toml"), SWEEP4).unwrap();
    for args in [&["demo"][..], &["run", "sweep.toml"][..]] {
        for columns in ["100", "80"] {
            let (code, text, stderr) = run(args, dir.path(), &[("COLUMNS", columns)]);
            assert_eq!(code, Some(0), "{stderr}");
            assert!(text.contains('┆'), "{text}");
            assert!(
                widest(&text) <= columns.parse().unwrap(),
                "{args:?} at COLUMNS={columns}:\n{text}"
            );
        }
    }
    for args in ["demo", "run sweep.toml"] {
        let Some(lines) = in_pty(args, dir.path(), 100) else {
            return;
        };
        let table: Vec<&String> = lines.iter().filter(|l| l.contains('┆')).collect();
        assert!(table.len() >= 5, "{lines:#?}");
        let wide: Vec<&String> = lines.iter().filter(|l| l.chars().count() > 100).collect();
        assert!(wide.is_empty(), "{args} in a pty of 100 columns: {wide:#?}");
    }

    // --wide shows every figure and source, whatever the width.
    let (code, text, _) = run(
        &["run", "sweep.toml", "--wide"],
        dir.path(),
        &[("COLUMNS", "100")],
    );
    assert_eq!(code, Some(0));
    for header in [
        "socket table saw",
        "requests per conn",
        "latency ms",
        "wall",
    ] {
        assert!(text.contains(header), "{header}:\n{text}");
    }
    assert!(widest(&text) > 100, "{text}");
    // On a pipe without COLUMNS: the compact columns, unwrapped, the same every time.
    let (_, piped, _) = run(&["run", "sweep.toml"], dir.path(), &[]);
    assert!(
        piped.contains("req/s") && piped.contains("conn/s"),
        "{piped}"
    );
    assert!(!piped.contains("socket table saw"), "{piped}");
}

#[test]
fn a_duration_and_a_rate_send_that_many_requests_and_report_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rate.toml"),
        "name = \"rate\"\n[pattern]\nkind = \"concurrent\"\nworkers = 4\nrequests_per_worker = 1\n",
    )
    .unwrap();
    let (code, json, stderr) = run(
        &[
            "run",
            "rate.toml",
            "--duration",
            "2s",
            "--rate",
            "100/s",
            "--format",
            "json",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let results: ResultSet = serde_json::from_str(&json).unwrap();
    let run_report = &results.runs[0];
    let sent = run_report.requests_sent;
    assert!((180..=220).contains(&sent), "200 +- 10%: {sent}");
    assert_eq!(run_report.requests_failed, 0, "{:?}", run_report.errors);
    let pattern = run_report.pattern().unwrap();
    assert_eq!(
        pattern.rate.map(|r| r.to_string()).as_deref(),
        Some("100/s")
    );
    assert_eq!(
        pattern.requests_per_worker, None,
        "--duration replaces the count"
    );
    let rate = run_report.requests_per_s.expect("the achieved rate");
    let drive_ms = run_report.drive_ms.unwrap();
    assert!(drive_ms >= 2000.0, "{drive_ms}");
    assert!((rate - sent as f64 * 1000.0 / drive_ms).abs() < 1e-6);
    assert!(run_report.connections_per_s.is_some());

    // The table and the CSV say it too.
    let (_, table, _) = run(
        &["run", "rate.toml", "--duration", "500ms", "--rate", "20/s"],
        dir.path(),
        &[],
    );
    assert!(table.contains("requests per s"), "{table}");
    let csv = dir.path().join("r.csv");
    run(
        &[
            "run",
            "-q",
            "rate.toml",
            "--duration",
            "500ms",
            "--rate",
            "20/s",
            "--export-csv",
            "r.csv",
        ],
        dir.path(),
        &[],
    );
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(
        csv.lines().next().unwrap().contains("requests_per_s"),
        "{csv}"
    );

    // Bounded: --max-run-secs still ends a longer pattern, and says so.
    let (code, json, _) = run(
        &[
            "run",
            "rate.toml",
            "--duration",
            "1h",
            "--rate",
            "20/s",
            "--max-run-secs",
            "1",
            "--format",
            "json",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0));
    let results: ResultSet = serde_json::from_str(&json).unwrap();
    let cut = &results.runs[0];
    assert!(cut.requests_sent <= 25, "{}", cut.requests_sent);
    assert!(
        cut.warnings
            .iter()
            .any(|w| w.to_string().contains("time limit stopped the pattern")),
        "{:?}",
        cut.warnings
    );
}

#[test]
fn scenario_files_take_a_duration_and_a_rate_of_new_connections() {
    let report = crate::helpers::run_scenario(
        "name = \"churn\"\n[pattern]\nkind = \"concurrent\"\nworkers = 2\nduration = \"1s\"\nrate = \"20 connections/s\"\n",
    );
    assert!(
        (18..=22).contains(&report.requests_sent),
        "{}",
        report.requests_sent
    );
    assert_eq!(
        report.connections_opened.client,
        Some(report.requests_sent),
        "every arrival on a new connection"
    );
}

#[test]
fn completions_load_in_bash_and_the_man_page_renders() {
    let dir = tempfile::tempdir().unwrap();
    let (code, script, _) = run(&["completions", "bash"], dir.path(), &[]);
    assert_eq!(code, Some(0));
    let file = dir.path().join("kalab.bash");
    std::fs::write(&file, script).unwrap();
    if let Some(bash) = peer("bash") {
        let output = std::process::Command::new(bash)
            .arg("-c")
            .arg(format!("source {} && complete -p kalab", file.display()))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            said.contains("_kalab") && said.trim_end().ends_with("kalab"),
            "{said}"
        );
    }
    let (_, zsh, _) = run(&["completions", "zsh"], dir.path(), &[]);
    assert!(zsh.starts_with("#compdef kalab"), "{zsh}");
    let (_, fish, _) = run(&["completions", "fish"], dir.path(), &[]);
    assert!(
        fish.contains("complete -c kalab") && fish.contains("duration"),
        "{fish}"
    );

    let (code, page, _) = run(&["man"], dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(
        page.starts_with(".ie") || page.contains(".TH kalab"),
        "{page}"
    );
    let Some(man) = peer("man") else { return };
    let manual = dir.path().join("kalab.1");
    std::fs::write(&manual, page).unwrap();
    let output = std::process::Command::new(man)
        .args(["-l", "-"])
        .stdin(std::fs::File::open(&manual).unwrap())
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "NAME",
        "KALAB RUN",
        "KALAB COMPARE",
        "--duration",
        "--label",
    ] {
        assert!(text.contains(expected), "{expected} not in\n{text}");
    }
}

#[test]
fn quiet_prints_the_report_only_and_verbose_every_connection_event() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("two.toml"),
        "name = \"two\"\n[server]\nkeep_alive = false\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n",
    )
    .unwrap();
    let (code, out, stderr) = run(&["run", "-q", "two.toml"], dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr, "", "-q: nothing but the report");
    assert!(out.contains("two"), "{out}");
    let (code, _, stderr) = run(&["run", "two.toml", "-v"], dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(stderr.matches("client: dialled").count(), 2, "{stderr}");
    assert_eq!(
        stderr.matches("server: accepted a connection").count(),
        2,
        "{stderr}"
    );
    assert!(stderr.contains("ended closed-by-server"), "{stderr}");
    if capture_expected() {
        assert_eq!(
            stderr.matches("wire: SYN from the client").count(),
            2,
            "{stderr}"
        );
        assert!(stderr.contains("wire: FIN from the server"), "{stderr}");
    }
    // Every command takes them.
    for command in ["compare", "analyze", "check", "observe", "watch", "demo"] {
        let (code, _, stderr) = run(&[command, "-q", "--help"], dir.path(), &[]);
        assert_eq!(code, Some(0), "{command}: {stderr}");
    }
}

#[test]
fn a_missing_scenario_file_is_not_called_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(&["run", "nope.toml"], dir.path(), &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no scenario file nope.toml"), "{stderr}");
    assert!(
        !stderr.contains("invalid") && !stderr.contains("Fix the file"),
        "{stderr}"
    );
}

#[test]
fn analyze_with_a_port_no_connection_used_names_the_busiest_port() {
    let dir = tempfile::tempdir().unwrap();
    let file = format!(
        "{}/tests/fixtures/capture/lo-en10mb.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, _, stderr) = run(&["analyze", "-v", &file], dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("wire: connection 127.0.0.1:"),
        "-v: {stderr}"
    );
    let (code, _, stderr) = run(&["analyze", &file, "--port", "9"], dir.path(), &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("no connection to or from port 9"),
        "{stderr}"
    );
    assert!(stderr.contains("the busiest server port is"), "{stderr}");
    let (_, help, _) = run(&["analyze", "--help"], dir.path(), &[]);
    assert!(help.contains("one row per connection"), "{help}");
    assert!(
        !help.contains("comparison sentences") && !help.contains("per variant"),
        "{help}"
    );
}

#[test]
fn a_baseline_check_says_what_it_compared_when_all_is_well() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "name = \"s\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 3\n[expect]\nrequests_failed = 0\n",
    )
    .unwrap();
    let (code, _, stderr) = run(
        &["check", "-q", "s.toml", "--save-baseline", "b.json"],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let (code, out, stderr) = run(
        &["check", "-q", "s.toml", "--baseline", "b.json"],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        out.contains("baseline b.json: 1 of 1 variant(s) compared on connections_opened"),
        "{out}"
    );
    assert!(out.contains("none got worse"), "{out}");
}

#[test]
fn saved_captures_are_named_whatever_the_format() {
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "name = \"s\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n",
    )
    .unwrap();
    let (code, _, stderr) = run(
        &[
            "run",
            "s.toml",
            "--save-capture",
            "caps",
            "--format",
            "json",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("packets saved to caps/"))
        .unwrap_or_else(|| panic!("{stderr}"));
    let path = line.rsplit("saved to ").next().unwrap();
    assert!(dir.path().join(path).is_file(), "{line}");
}

#[test]
fn the_readme_names_the_body_the_server_sends() {
    let Some(curl) = peer("curl") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (code, out, stderr) = run(
        &[
            "observe",
            "-q",
            "--serve",
            "--format",
            "json",
            "--",
            curl.to_str().unwrap(),
            "-s",
            "-o",
            "body.txt",
            "http://127.0.0.1:{port}/",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}{out}");
    let body = std::fs::read_to_string(dir.path().join("body.txt")).unwrap();
    assert_eq!(body.len(), 11, "{body:?}");
    let readme = include_str!("../../README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("body_bytes ="))
        .expect("the README shows body_bytes");
    assert!(line.contains(&format!("\"{body}\"")), "{line} vs {body:?}");
    assert!(!readme.contains("Hello world"));
}
