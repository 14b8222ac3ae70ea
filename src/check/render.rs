//! How check results read: the pass/fail table for a terminal, the Markdown of a CI step
//! summary, the verdicts a JSON report carries and the verdict CSV. Pure: results in, text out.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::expect::{self, Verdict};
use super::CheckResult;
use crate::model::{CheckOutcome, CheckVerdict, CheckedExpectation, Source};

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

/// The verdicts as the JSON report carries them.
pub fn outcome(results: &[CheckResult], regressions: &[String]) -> CheckOutcome {
    let expectations = results
        .iter()
        .map(|result| {
            let (verdict, measured, source) = match &result.verdict {
                Verdict::Pass { actual, source } => (CheckVerdict::Pass, Some(*actual), *source),
                Verdict::Fail { actual, source } => (CheckVerdict::Fail, Some(*actual), *source),
                Verdict::NotMeasured { .. } => (CheckVerdict::NotMeasured, None, None),
            };
            CheckedExpectation {
                run: result.variant.clone(),
                repetition: result.run.0,
                repetitions: result.run.1,
                expectation: result.expectation.clone(),
                verdict,
                measured,
                source,
                message: result.message(),
            }
        })
        .collect::<Vec<_>>();
    CheckOutcome {
        passed: regressions.is_empty()
            && expectations.iter().all(|e| e.verdict == CheckVerdict::Pass),
        expectations,
        baseline_regressions: regressions.to_vec(),
    }
}

/// The verdict CSV: one row per expectation and run (`run,repetition,repetitions,expectation,
/// verdict,measured,source,message`), then one `baseline` row per regression.
pub fn csv(outcome: &CheckOutcome) -> anyhow::Result<Vec<u8>> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "run",
        "repetition",
        "repetitions",
        "expectation",
        "verdict",
        "measured",
        "source",
        "message",
    ])?;
    for e in &outcome.expectations {
        writer.write_record([
            e.run.clone(),
            e.repetition.to_string(),
            e.repetitions.to_string(),
            e.expectation.clone(),
            e.verdict.as_str().to_string(),
            e.measured.map_or(String::new(), expect::number),
            e.source.map_or(String::new(), |s| s.to_string()),
            e.message.clone(),
        ])?;
    }
    for regression in &outcome.baseline_regressions {
        writer.write_record(["baseline", "", "", "", "fail", "", "", regression])?;
    }
    Ok(writer.into_inner()?)
}
