//! `kalab run`: load every scenario (all valid before anything runs), run each variant, print
//! the report. Results are written as runs finish, so Ctrl-C keeps what was measured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::{Format, MeasureArgs, OutputArgs, RunArgs};
use crate::exit_code::ExitCode;
use crate::report::{table, ResultSet, RunReport};
use crate::runner::{self, RunOptions, RunPlan};
use crate::scenario::{self, LoadedScenario};

/// What `kalab run` needs, free of command-line types.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Scenario files and directories.
    pub paths: Vec<PathBuf>,
    /// Repetitions of every variant.
    pub repeat: u32,
    /// Measurement options.
    pub options: RunOptions,
    /// Output options.
    pub output: OutputConfig,
}

/// Where results go.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The stdout format.
    pub format: Format,
    /// A JSON file rewritten after every run.
    pub out: Option<PathBuf>,
}

impl From<RunArgs> for RunConfig {
    fn from(args: RunArgs) -> Self {
        RunConfig {
            paths: args.scenarios,
            repeat: args.repeat,
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

impl From<MeasureArgs> for RunOptions {
    fn from(args: MeasureArgs) -> Self {
        RunOptions {
            settle: Duration::from_millis(args.settle_ms),
            max_run: Duration::from_secs(args.max_run_secs),
            sample_interval: Duration::from_millis(args.sample_ms),
        }
    }
}

impl From<OutputArgs> for OutputConfig {
    fn from(args: OutputArgs) -> Self {
        OutputConfig {
            format: args.format,
            out: args.out,
        }
    }
}

/// Runs scenario files.
pub fn run(config: RunConfig) -> anyhow::Result<ExitCode> {
    let files = scenario::collect_files(&config.paths)?;
    let loaded = files
        .iter()
        .map(|path| scenario::load_file(path))
        .collect::<Result<Vec<_>, _>>()?;
    let plans = plans(&loaded, config.repeat);
    let (runs, interrupted) = execute_all(&plans, &config.options, &config.output)?;
    finish(&runs, &config.output, interrupted)
}

/// The runs to perform: every scenario, `repeat` times.
pub fn plans(loaded: &[LoadedScenario], repeat: u32) -> Vec<RunPlan> {
    loaded
        .iter()
        .flat_map(|l| {
            (1..=repeat).map(move |repetition| RunPlan {
                scenario: l.scenario.clone(),
                origin: l.origin.clone(),
                variant: String::new(),
                repetition,
            })
        })
        .collect()
}

/// Runs every plan in order, rewriting the JSON file after each; stops early on Ctrl-C.
/// Returns the reports and whether the user interrupted.
pub fn execute_all(
    plans: &[RunPlan],
    options: &RunOptions,
    output: &OutputConfig,
) -> anyhow::Result<(Vec<RunReport>, bool)> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mut runs = Vec::with_capacity(plans.len());
        for plan in plans {
            let run = runner::execute(plan, options, Arc::new(|| {}));
            tokio::select! {
                report = run => {
                    let report = report.with_context(|| format!("run of {} failed", plan.origin))?;
                    runs.push(report);
                    write_json_file(&runs, output)?;
                }
                _ = tokio::signal::ctrl_c() => return Ok((runs, true)),
            }
        }
        Ok((runs, false))
    })
}

fn write_json_file(runs: &[RunReport], output: &OutputConfig) -> anyhow::Result<()> {
    if let Some(path) = &output.out {
        let json = serde_json::to_string_pretty(&ResultSet::new(runs.to_vec()))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write results to {}", path.display()))?;
    }
    Ok(())
}

/// Prints the report in the chosen format and picks the exit code.
pub fn finish(
    runs: &[RunReport],
    output: &OutputConfig,
    interrupted: bool,
) -> anyhow::Result<ExitCode> {
    match output.format {
        Format::Table => super::print(&table::render(runs))?,
        Format::Json => {
            let json = serde_json::to_string_pretty(&ResultSet::new(runs.to_vec()))?;
            super::print(&(json + "\n"))?;
        }
    }
    if interrupted {
        eprintln!(
            "kalab: interrupted; {} finished run(s) reported",
            runs.len()
        );
        return Ok(ExitCode::Interrupted);
    }
    Ok(ExitCode::Success)
}
