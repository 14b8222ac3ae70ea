//! How check results read: the pass/fail table for a terminal, and the Markdown of a CI step
//! summary. Pure: results in, text out.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::expect::{self, Verdict};
use super::CheckResult;
use crate::model::Source;

/// The pass/fail table, then one actionable line per failure and regression.
pub fn terminal(results: &[CheckResult], regressions: &[String]) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["run", "expectation", "measured", "result"]);
    for result in results {
        let (measured, outcome) = match &result.verdict {
            Verdict::Pass { actual, source } => (measured(*actual, *source), "pass"),
            Verdict::Fail { actual, source } => (measured(*actual, *source), "FAIL"),
            Verdict::NotMeasured { .. } => ("-".to_string(), "NOT MEASURED"),
        };
        table.add_row(vec![
            format!("{} {}/{}", result.variant, result.run.0, result.run.1),
            result.expectation.clone(),
            measured,
            outcome.to_string(),
        ]);
    }
    let mut out = format!("\n{table}\n");
    let failed: Vec<_> = results.iter().filter(|r| !r.passed()).collect();
    for result in &failed {
        out.push_str(&format!("{}\n", result.message()));
    }
    for regression in regressions {
        out.push_str(&format!("baseline: {regression}\n"));
    }
    let passed = results.len() - failed.len();
    out.push_str(&format!(
        "\n{passed} of {} expectation(s) held{}\n",
        results.len(),
        if regressions.is_empty() {
            String::new()
        } else {
            format!("; {} baseline regression(s)", regressions.len())
        }
    ));
    out
}

fn measured(actual: f64, source: Option<Source>) -> String {
    match source {
        Some(source) => format!("{} ({source})", expect::number(actual)),
        None => expect::number(actual),
    }
}

/// The Markdown a CI step summary gets: the runs' Markdown report, then every expectation's
/// result and one line per failure and regression.
pub fn step_summary(
    runs_markdown: &str,
    results: &[CheckResult],
    regressions: &[String],
) -> String {
    let mut text = format!("## kalab check\n\n{}\n", runs_markdown);
    text.push_str("\n| run | expectation | result |\n|:---|:---|:---|\n");
    for result in results {
        let outcome = if result.passed() { "pass" } else { "**FAIL**" };
        text.push_str(&format!(
            "| {} {}/{} | `{}` | {outcome} |\n",
            result.variant, result.run.0, result.run.1, result.expectation
        ));
    }
    for line in results
        .iter()
        .filter(|r| !r.passed())
        .map(CheckResult::message)
    {
        text.push_str(&format!("\n- {line}"));
    }
    for regression in regressions {
        text.push_str(&format!("\n- baseline: {regression}"));
    }
    text
}
