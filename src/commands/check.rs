//! `kalab check`: run the scenarios that carry expectations and turn the verdicts into an exit
//! code CI can rely on, with a JUnit file, a GitHub step summary and baselines. `kalab run`
//! uses the same verification for the `[expect]` tables of the scenarios it runs.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::check::expect::{self, Verdict};
use crate::check::{baseline, junit, verdict, CheckResult, Expectations};
use crate::cli::CheckArgs;
use crate::exit_code::ExitCode;
use crate::model::error::InputError;
use crate::report::export::Format;
use crate::report::{ResultSet, RunReport};
use crate::scenario;
use crate::session::RunOptions;

use super::output::OutputConfig;
use super::run::{execute_all, plans};

/// What `kalab check` needs.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Scenario files and directories.
    pub paths: Vec<PathBuf>,
    /// Repetitions; all must pass.
    pub repeat: u32,
    /// Expectations from the command line, applied to every run.
    pub expect: Vec<String>,
    /// JUnit output.
    pub junit: Option<PathBuf>,
    /// Where to save these results as a baseline.
    pub save_baseline: Option<PathBuf>,
    /// A baseline to compare with.
    pub baseline: Option<PathBuf>,
    /// Allowed worsening against the baseline, in percent.
    pub tolerance_pct: f64,
    /// Measurement options.
    pub options: RunOptions,
    /// Output options.
    pub output: OutputConfig,
}

impl From<CheckArgs> for CheckConfig {
    fn from(args: CheckArgs) -> Self {
        CheckConfig {
            paths: args.scenarios,
            repeat: args.repeat,
            expect: args.expect,
            junit: args.junit,
            save_baseline: args.save_baseline,
            baseline: args.baseline,
            tolerance_pct: args.tolerance,
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

/// Runs the checks.
pub fn check(config: CheckConfig) -> anyhow::Result<ExitCode> {
    let loaded = scenario::load_all(&config.paths)?;
    let expectations = Expectations::parse(&loaded, &config.expect)?;
    let baseline_runs = match &config.baseline {
        Some(path) => Some(super::compare::load(path)?.runs),
        None => None,
    };
    let (checked, skipped): (Vec<_>, Vec<_>) = loaded
        .into_iter()
        .partition(|l| expectations.any_for(&l.origin));
    for scenario in &skipped {
        eprintln!(
            "kalab: {} has no [expect] table: not checked",
            scenario.origin
        );
    }
    if checked.is_empty() {
        return Err(InputError::new(
            "none of the given scenarios has expectations; add an [expect] table or pass --expect 'METRIC OP VALUE'",
        )
        .into());
    }
    let (runs, interrupted) = execute_all(
        &plans(&checked, config.repeat)?,
        &config.options,
        &config.output,
    )?;
    config.output.write_final(&runs)?;
    let results = expectations.evaluate(&runs);
    let regressions = baseline_runs
        .map(|before| baseline::regressions(&before, &runs, config.tolerance_pct))
        .unwrap_or_default();

    super::print(&render_results(&results, &regressions))?;
    if let Some(path) = &config.junit {
        std::fs::write(path, junit::render(&results, &regressions)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &config.save_baseline {
        let json = Format::Json
            .exporter()
            .export(&ResultSet::new(runs.clone()), None)?;
        std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    write_step_summary(
        &runs,
        &results,
        &regressions,
        config.output.baseline_variant.as_deref(),
    )?;
    Ok(verdict(&results, &regressions, interrupted))
}

/// The pass/fail table, then one actionable line per failure and regression.
pub fn render_results(results: &[CheckResult], regressions: &[String]) -> String {
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

fn measured(actual: f64, source: Option<crate::report::Source>) -> String {
    match source {
        Some(source) => format!("{} ({source})", expect::number(actual)),
        None => expect::number(actual),
    }
}

/// Appends the markdown report and the check results to `$GITHUB_STEP_SUMMARY`, when set.
fn write_step_summary(
    runs: &[RunReport],
    results: &[CheckResult],
    regressions: &[String],
    baseline: Option<&str>,
) -> anyhow::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    let markdown = Format::Markdown
        .exporter()
        .export(&ResultSet::new(runs.to_vec()), baseline)?;
    let mut text = format!("## kalab check\n\n{}\n", String::from_utf8_lossy(&markdown));
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
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot append to GITHUB_STEP_SUMMARY ({})",
                path.to_string_lossy()
            )
        })?;
    writeln!(file, "{text}\n")?;
    Ok(())
}
