//! `kalab check`: run the scenarios that carry expectations and turn the verdicts into an exit
//! code CI can rely on, with a JUnit file, a GitHub step summary and baselines. `kalab run`
//! uses the same verification for the `[expect]` tables of the scenarios it runs.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::report::export::file::write_whole;

use crate::check::{baseline, junit, render, verdict, CheckResult, Expectations};
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
    /// `--duration` and `--rate`, replacing the scenarios' own.
    pub pattern: crate::scenario::PatternOverride,
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
            pattern: (&args.measure).into(),
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

/// Runs the checks.
pub fn check(config: CheckConfig) -> anyhow::Result<ExitCode> {
    let mut extra = Vec::new();
    if let Some(path) = &config.junit {
        extra.push(("--junit", path.as_path()));
    }
    if let Some(path) = &config.save_baseline {
        extra.push(("--save-baseline", path.as_path()));
    }
    config.output.validate(&extra)?;
    super::stdout::check_options(&config.options)?;
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
        crate::model::verbosity::note(&format!(
            "{} has no [expect] table: not checked",
            scenario.origin
        ));
    }
    if checked.is_empty() {
        return Err(InputError::new(
            "none of the given scenarios has expectations; add an [expect] table or pass --expect 'METRIC OP VALUE'",
        )
        .into());
    }
    let plans = plans(&checked, config.repeat, &config.pattern)?;
    let baseline = config.output.baseline_variant.as_deref();
    super::baseline_variant::check(baseline, &super::baseline_variant::of_plans(&plans))?;
    let (runs, interrupted) = execute_all(&plans, &config.options, &config.output)?;
    let results = expectations.evaluate(&runs);
    let regressions = baseline_runs
        .as_ref()
        .map(|before| baseline::regressions(before, &runs, config.tolerance_pct))
        .unwrap_or_default();
    let written = write_report(&config.output, &runs, &results, &regressions);

    if let (Some(path), Some(before)) = (&config.baseline, &baseline_runs) {
        let text = baseline_summary(path, before, &runs, regressions.len(), config.tolerance_pct);
        // Only the report on stdout: beside a machine-readable one, the summary is for a person.
        if config.output.stdout_format()? == Format::Table {
            super::print(&text)?;
        } else {
            eprint!("{text}");
        }
    }
    if let Some(path) = &config.junit {
        write_whole(path, junit::render(&results, &regressions)?.as_bytes())?;
    }
    if let Some(path) = &config.save_baseline {
        let json = Format::Json
            .exporter()
            .export(&ResultSet::new(runs.clone()), None)?;
        write_whole(path, &json)?;
    }
    write_step_summary(
        &runs,
        &results,
        &regressions,
        config.output.baseline_variant.as_deref(),
    )?;
    written?;
    Ok(verdict(&results, &regressions, interrupted))
}

/// The report with the verdicts: on stdout in the one format that claims it (the runs and the
/// verdicts in one JSON document; the verdict CSV; the Markdown report and its verdict table;
/// or the table and the pass/fail table), and in the export files (JSON ones with the
/// verdicts). Under a machine-readable format the pass/fail table goes to stderr.
fn write_report(
    output: &OutputConfig,
    runs: &[RunReport],
    results: &[CheckResult],
    regressions: &[String],
) -> anyhow::Result<()> {
    let mut set = output.result_set(runs);
    let outcome = render::outcome(results, regressions);
    set.check = Some(outcome.clone());
    let format = output.stdout_format()?;
    let baseline = output.baseline_variant.as_deref();
    let table = render::terminal(results, regressions);
    if format == Format::Table {
        let written = output.write_final_set(&set);
        super::print(&table)?;
        return written;
    }
    let files = output.write_files_set(&set);
    let bytes = match format {
        Format::Csv => render::csv(&outcome)?,
        Format::Markdown => {
            let markdown = Format::Markdown.exporter().export(&set, baseline)?;
            render::step_summary(&String::from_utf8_lossy(&markdown), results, regressions)
                .into_bytes()
        }
        _ => format.exporter().export(&set, baseline)?,
    };
    super::print(&String::from_utf8_lossy(&bytes))?;
    eprint!("{table}");
    files
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
    let text = render::step_summary(&String::from_utf8_lossy(&markdown), results, regressions);
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

/// What the baseline check did, said even when all is well: how many variants it matched, what
/// it guarded, and which variants the baseline does not have.
fn baseline_summary(
    path: &std::path::Path,
    before: &[RunReport],
    runs: &[RunReport],
    regressions: usize,
    tolerance_pct: f64,
) -> String {
    use crate::report::summary::group;
    let known: Vec<String> = group(before).into_iter().map(|v| v.label).collect();
    let (matched, missing): (Vec<_>, Vec<_>) = group(runs)
        .into_iter()
        .map(|v| v.label)
        .partition(|label| known.contains(label));
    let guarded: Vec<&str> = baseline::GUARDED.iter().map(|f| f.name).collect();
    let verdict = match regressions {
        0 => "none got worse".to_string(),
        n => format!("{n} regression(s)"),
    };
    let mut text = format!(
        "baseline {}: {} of {} variant(s) compared on {} (tolerance {}%): {verdict}\n",
        path.display(),
        matched.len(),
        matched.len() + missing.len(),
        guarded.join(", "),
        tolerance_pct
    );
    if !missing.is_empty() {
        text.push_str(&format!(
            "baseline {}: not in it, so not compared: {}\n",
            path.display(),
            missing.join(", ")
        ));
    }
    text
}
