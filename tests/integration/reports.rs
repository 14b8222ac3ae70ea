//! A real sweep's table, markdown and JSON agree; the timeline draws one lane per connection;
//! `kalab compare` reads saved results back.

use std::path::Path;

use kalab::report::ResultSet;

use crate::helpers::kalab;

const SWEEP: &str = r#"name = "sweep"
[server]
body_bytes = 262144
[pattern]
kind = "concurrent"
workers = 4
requests_per_worker = 4
pause_ms = 20
[sweep]
"client.max_idle_per_host" = [2, 10]
"body.policy" = ["drain", "drop"]
"#;

fn run_sweep(dir: &Path) -> (String, String, ResultSet) {
    let scenario = dir.join("sweep.toml");
    std::fs::write(&scenario, SWEEP).unwrap();
    let json = dir.join("out.json");
    let markdown = dir.join("out.md");
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .arg("--export-json")
        .arg(&json)
        .arg("--export-markdown")
        .arg(&markdown)
        .arg("--timeline")
        .arg(dir.join("out.svg"))
        // Every column, as in the markdown.
        .arg("--wide")
        .env("COLUMNS", "400")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: ResultSet = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    (
        String::from_utf8(output.stdout).unwrap(),
        std::fs::read_to_string(markdown).unwrap(),
        results,
    )
}

/// The cells of the table row labelled `label`, split on `split` (borders dropped).
fn row(text: &str, label: &str, split: char) -> Vec<String> {
    text.lines()
        .map(|line| {
            line.trim_matches(|c| c == '│' || c == '|' || c == ' ')
                .split(split)
                .map(|cell| cell.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().is_some_and(|c| c == label))
        .unwrap_or_else(|| panic!("no row {label} in\n{text}"))
}

#[test]
fn a_sweeps_table_markdown_and_json_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (table, markdown, results) = run_sweep(dir.path());
    assert_eq!(results.runs.len(), 4);
    for run in &results.runs {
        let label = run.label();
        let opened = [
            run.connections_opened.client,
            run.connections_opened.server,
            run.connections_opened.capture,
        ]
        .iter()
        .flatten()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" / ");
        let md = row(&markdown, &label, '|');
        let tty = row(&table, &label, '┆');
        assert_eq!(md, tty, "the markdown and terminal rows differ");
        assert_eq!(md[2], opened, "markdown row {md:?}");
        assert_eq!(
            md[1],
            format!("{} / {}", run.requests_ok, run.requests_failed)
        );
    }
    let drain2 = results
        .runs
        .iter()
        .find(|r| r.variant == "max_idle_per_host=2, policy=drain")
        .unwrap();
    let drop2 = results
        .runs
        .iter()
        .find(|r| r.variant == "max_idle_per_host=2, policy=drop")
        .unwrap();
    assert_eq!(
        drop2.connections_opened.server,
        Some(16),
        "a dropped 256 KiB body loses its connection"
    );
    assert!(drain2.connections_opened.server.unwrap() >= 4);
    for sentence in [
        "sweep [max_idle_per_host=2, policy=drop] opened",
        "sweep [max_idle_per_host=10, policy=drain] opened",
    ] {
        assert!(table.contains(sentence), "{table}");
        assert!(markdown.contains(sentence), "{markdown}");
    }
}

#[test]
fn the_timeline_has_one_lane_per_connection_opened() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, results) = run_sweep(dir.path());
    let svg = std::fs::read_to_string(dir.path().join("out.svg")).unwrap();
    let document = roxmltree::Document::parse(&svg).expect("the timeline is XML");
    let lanes = document
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|w| w == "lane"))
        })
        .count();
    let opened: u64 = results
        .runs
        .iter()
        .map(|r| r.connections_opened.best().unwrap().0)
        .sum();
    assert_eq!(lanes as u64, opened);
}

#[test]
fn compare_reads_saved_results_and_refuses_other_formats() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, results) = run_sweep(dir.path());
    let saved = dir.path().join("out.json");
    let output = kalab()
        .arg("compare")
        .arg(&saved)
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("| sweep [")).count(),
        results.runs.len()
    );

    let mut old: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    old["format_version"] = serde_json::json!(0);
    let older = dir.path().join("old.json");
    std::fs::write(&older, old.to_string()).unwrap();
    let output = kalab().arg("compare").arg(&older).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("result format 0"));

    std::fs::write(&older, "{\"runs\": 3}").unwrap();
    let output = kalab().arg("compare").arg(&older).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a kalab JSON result"));
}

/// Ten sequential requests whose 1 MiB bodies are dropped unread: each connection lives a few
/// milliseconds, between two samples of the socket table. Its count is a lower bound and says so
/// in every format; no exact-count column holds it.
#[test]
fn a_sampled_lower_bound_never_sits_among_the_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("drop.toml");
    std::fs::write(
        &scenario,
        "name = \"drop\"\n[server]\nbody_bytes = 1048576\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 10\n[body]\npolicy = \"drop\"\n",
    )
    .unwrap();
    let (json, csv, markdown) = (
        dir.path().join("r.json"),
        dir.path().join("r.csv"),
        dir.path().join("r.md"),
    );
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .arg("--export-json")
        .arg(&json)
        .arg("--export-csv")
        .arg(&csv)
        .arg("--export-markdown")
        .arg(&markdown)
        .env("COLUMNS", "400")
        .output()
        .unwrap();
    assert!(output.status.success());
    let results: ResultSet =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let run = &results.runs[0];
    assert_eq!(
        run.connections_opened.sockets, None,
        "{:?}",
        run.connections_opened
    );
    assert_eq!(run.connections_opened.server, Some(10));
    let seen = run.connections_seen_lower_bound.expect("sockets source");
    assert!(seen <= 10, "a lower bound: {seen}");
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(raw["runs"][0]["connections_opened"]
        .get("sockets")
        .is_none());

    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let header = csv_text.lines().next().unwrap();
    assert!(!header.contains("connections_opened_sockets"), "{header}");
    assert!(header.contains("connections_seen_lower_bound"), "{header}");

    let table = String::from_utf8(output.stdout).unwrap();
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    for text in [&table, &markdown] {
        assert!(text.contains("(lower bound)"), "{text}");
        assert!(text.contains(&format!(">= {seen}")), "{text}");
        assert!(
            text.contains("(client / server / capture)") || text.contains("(client / server)"),
            "{text}"
        );
    }
}
