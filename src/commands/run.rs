//! `kalab run`: load every scenario and expand its sweep (all valid before anything runs), run
//! each variant `--repeat` times, and report. Results are written as runs finish, so Ctrl-C
//! keeps what was measured.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::check::{verdict, Expectations};
use crate::cli::{CaptureArg, MeasureArgs, RunArgs};
use crate::exit_code::ExitCode;
use crate::report::RunReport;
use crate::scenario::{self, sweep, LoadedScenario, PatternOverride};
use crate::session::signals::StopFlag;
use crate::session::{self, CaptureMode, RunOptions, RunPlan};

use super::output::OutputConfig;

/// What `kalab run` needs, free of command-line types.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Scenario files and directories.
    pub paths: Vec<PathBuf>,
    /// Repetitions of every variant.
    pub repeat: u32,
    /// Expectations from the command line.
    pub expect: Vec<String>,
    /// `--duration` and `--rate`, replacing the scenarios' own.
    pub pattern: PatternOverride,
    /// Measurement options.
    pub options: RunOptions,
    /// Output options.
    pub output: OutputConfig,
    /// Quick mode: the flags that describe one scenario instead of files.
    pub quick: super::quick::QuickRequest,
}

impl From<&MeasureArgs> for PatternOverride {
    fn from(args: &MeasureArgs) -> Self {
        PatternOverride {
            duration: args.duration,
            rate: args.rate,
        }
    }
}

impl From<RunArgs> for RunConfig {
    fn from(args: RunArgs) -> Self {
        let quick = super::quick::QuickRequest::from_args(&args.quick, &args.measure);
        RunConfig {
            quick,
            paths: args.scenarios,
            repeat: args.repeat,
            expect: args.expect,
            pattern: (&args.measure).into(),
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

impl From<MeasureArgs> for RunOptions {
    fn from(args: MeasureArgs) -> Self {
        RunOptions {
            capture: args.capture.into(),
            save_capture: args.save_capture,
            interface: args.interface,
            settle: Duration::from_millis(args.settle_ms),
            max_run: Duration::from_secs(args.max_run_secs),
            sample_interval: Duration::from_millis(args.sample_ms),
            live: None,
            stop: None,
            detail_cap: args.detail_cap,
        }
    }
}

impl From<CaptureArg> for CaptureMode {
    fn from(arg: CaptureArg) -> Self {
        match arg {
            CaptureArg::Auto => CaptureMode::Auto,
            CaptureArg::Required => CaptureMode::Required,
            CaptureArg::Off => CaptureMode::Off,
        }
    }
}

/// Runs scenario files (or, with quick-mode flags, the scenario they describe).
pub fn run(config: RunConfig) -> anyhow::Result<ExitCode> {
    if config.quick.any() {
        use super::quick::QuickOutcome;
        return match super::quick::scenario(&config.quick, &config.paths, &config.expect)? {
            QuickOutcome::Print(text) => super::print(&text).map(|()| ExitCode::Success),
            QuickOutcome::Run(loaded) => {
                run_loaded(&[*loaded], &[], &PatternOverride::default(), &config)
            }
        };
    }
    if config.paths.is_empty() {
        return Err(crate::model::InputError::new(
            "nothing to run: give scenario files (`kalab run FILE.toml...`), or describe one scenario with flags (`kalab run --serve -c 10 -n 100`, `kalab run --url http://HOST:PORT/`)",
        )
        .into());
    }
    let loaded = scenario::load_all(&config.paths)?;
    run_loaded(&loaded, &config.expect, &config.pattern, &config)
}

/// Runs loaded scenarios: every variant `--repeat` times, reported and checked.
pub fn run_loaded(
    loaded: &[LoadedScenario],
    expect: &[String],
    pattern: &PatternOverride,
    config: &RunConfig,
) -> anyhow::Result<ExitCode> {
    config.output.validate(&[])?;
    super::stdout::check_options(&config.options)?;
    let expectations = Expectations::parse(loaded, expect)?;
    let plans = plans(loaded, config.repeat, pattern)?;
    let baseline = config.output.baseline_variant.as_deref();
    super::baseline_variant::check(baseline, &super::baseline_variant::of_plans(&plans))?;
    let (runs, interrupted) = execute_all(&plans, &config.options, &config.output)?;
    let code = finish(&runs, &config.output, interrupted)?;
    let results = expectations.evaluate(&runs);
    if results.is_empty() || code != ExitCode::Success {
        return Ok(code);
    }
    for result in results.iter().filter(|r| !r.passed()) {
        eprintln!("kalab: {}", result.message());
    }
    Ok(verdict(&results, &[], false))
}

/// The runs to perform: every variant of every scenario, `repeat` times, variant by variant,
/// with `--duration` and `--rate` applied.
pub fn plans(
    loaded: &[LoadedScenario],
    repeat: u32,
    pattern: &PatternOverride,
) -> anyhow::Result<Vec<RunPlan>> {
    /// Most repetitions of one variant, and most runs of one session.
    const MAX_REPEAT: u32 = 1000;
    const MAX_RUNS: usize = 100_000;
    if repeat == 0 || repeat > MAX_REPEAT {
        return Err(crate::model::InputError::new(format!(
            "--repeat {repeat}: give 1 to {MAX_REPEAT}"
        ))
        .into());
    }
    let mut plans = Vec::new();
    for scenario in loaded {
        for mut variant in sweep::expand(scenario)? {
            pattern.apply(&mut variant.scenario.pattern);
            for repetition in 1..=repeat {
                if plans.len() >= MAX_RUNS {
                    return Err(crate::model::InputError::new(format!(
                        "more than {MAX_RUNS} runs (variants x --repeat): split the session"
                    ))
                    .into());
                }
                plans.push(RunPlan {
                    scenario: variant.scenario.clone(),
                    origin: scenario.origin.clone(),
                    variant: variant.label.clone(),
                    repetition,
                });
            }
        }
    }
    Ok(plans)
}

/// Runs every plan in order, rewriting the export files after each; stops early on Ctrl-C.
/// Returns the reports and whether the user interrupted.
pub fn execute_all(
    plans: &[RunPlan],
    options: &RunOptions,
    output: &OutputConfig,
) -> anyhow::Result<(Vec<RunReport>, bool)> {
    let runtime = super::runtime()?;
    let progress = Progress::new(plans);
    let result = runtime.block_on(async {
        // Listening before the first run: a signal while the collectors start still counts.
        let stop = StopFlag::listen()?;
        let mut options = options.clone();
        options.stop = Some(stop.clone());
        let mut runs = Vec::with_capacity(plans.len());
        let mut export_failed = false;
        for (index, plan) in plans.iter().enumerate() {
            if stop.get().is_some() {
                return Ok((runs, true));
            }
            progress.start(index, plan);
            let report = session::run_scenario(plan, &options, progress.on_request())
                .await
                .with_context(|| format!("run of {} failed", plan.origin))?;
            let interrupted = report.interrupted;
            runs.push(report);
            if let Err(err) = output.write_files(&runs) {
                // Measuring goes on; the final write reports the failure again.
                if !export_failed {
                    eprintln!("kalab: {err:#}");
                    export_failed = true;
                }
            }
            if interrupted {
                return Ok((runs, true));
            }
        }
        Ok((runs, stop.get().is_some()))
    });
    progress.finish();
    result
}

/// Prints the report and picks the exit code.
pub fn finish(
    runs: &[RunReport],
    output: &OutputConfig,
    interrupted: bool,
) -> anyhow::Result<ExitCode> {
    output.write_final(runs)?;
    let mut local_fault = false;
    for run in runs {
        if let Some((cause, failed)) = session::faults::dominant_local_cause(&run.requests) {
            eprintln!(
                "kalab: {}: {failed} of {} requests failed: {}",
                run.label(),
                run.requests_sent,
                cause.advice()
            );
            local_fault = true;
        }
    }
    if interrupted {
        let last = if runs.last().is_some_and(|r| r.interrupted) {
            ", the last one as far as it got"
        } else {
            ""
        };
        eprintln!("kalab: interrupted; {} run(s) reported{last}", runs.len());
        return Ok(ExitCode::Interrupted);
    }
    if local_fault {
        return Ok(ExitCode::Environment);
    }
    Ok(ExitCode::Success)
}

/// The progress bar on stderr: shown only once a session has lasted about two seconds, never
/// when stderr is not a terminal, and never with `-q`. It shows the requests done, their rate,
/// the time elapsed and, when the session's request count is known, the time left.
struct Progress {
    bar: ProgressBar,
    total_variants: usize,
    shown_after: Option<std::time::Instant>,
}

impl Progress {
    fn new(plans: &[RunPlan]) -> Self {
        let requests: Option<u64> = plans
            .iter()
            .map(|p| p.scenario.pattern.total_requests())
            .sum();
        let bar = ProgressBar::with_draw_target(requests, ProgressDrawTarget::hidden());
        let template = match requests {
            Some(_) => "{prefix} {wide_msg} [{bar:24}] {pos}/{len} requests  {per_sec:.0}  {elapsed} elapsed  ETA {eta}",
            None => "{prefix} {wide_msg} {pos} requests  {per_sec:.0}  {elapsed} elapsed",
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> "),
        );
        let shown_after = (!crate::model::verbosity::quiet())
            .then(|| std::time::Instant::now() + Duration::from_secs(2));
        Progress {
            bar,
            total_variants: plans.len(),
            shown_after,
        }
    }

    fn start(&self, index: usize, plan: &RunPlan) {
        self.bar
            .set_prefix(format!("run {}/{}", index + 1, self.total_variants));
        let label = if plan.variant.is_empty() {
            plan.scenario.name.clone()
        } else {
            format!("{} [{}]", plan.scenario.name, plan.variant)
        };
        self.bar.set_message(label);
    }

    fn on_request(&self) -> Arc<dyn Fn() + Send + Sync> {
        let bar = self.bar.clone();
        let shown_after = self.shown_after;
        // `is_hidden` locks the bar's state: once shown, each request only bumps an atomic.
        let shown = std::sync::atomic::AtomicBool::new(false);
        Arc::new(move || {
            if !shown.load(std::sync::atomic::Ordering::Relaxed)
                && shown_after.is_some_and(|at| std::time::Instant::now() >= at)
            {
                shown.store(true, std::sync::atomic::Ordering::Relaxed);
                if bar.is_hidden() {
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            }
            bar.inc(1);
        })
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
