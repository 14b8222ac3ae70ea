//! `kalab watch`: watch a port of a service already running, report its connections like a
//! run, and check `--expect` expressions (exit codes as for `kalab run`; 130 after Ctrl-C, with
//! the report, the exports and the capture file written all the same).

use std::io::IsTerminal as _;
use std::time::Duration;

use crate::check::{verdict, Expectations};
use crate::cli::WatchArgs;
use crate::exit_code::ExitCode;
use crate::session::{self, Instruments, RunOptions, WatchSpec};

use super::output::OutputConfig;

/// What `kalab watch` needs, free of command-line types.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// What to watch and how.
    pub spec: WatchSpec,
    /// Expectations on the run.
    pub expect: Vec<String>,
    /// Output options.
    pub output: OutputConfig,
}

impl From<WatchArgs> for WatchConfig {
    fn from(args: WatchArgs) -> Self {
        let options = RunOptions {
            capture: args.capture.into(),
            save_capture: args.save_capture,
            interface: args.interface,
            settle: Duration::from_millis(args.settle_ms),
            sample_interval: Duration::from_millis(args.sample_ms),
            detail_cap: args.detail_cap,
            ..RunOptions::default()
        };
        WatchConfig {
            spec: WatchSpec {
                port: args.port,
                host: args.host,
                duration: args.duration,
                // A live line is for a person at a terminal, never for a pipe or a log file.
                live_line: std::io::stderr().is_terminal() && !crate::model::verbosity::quiet(),
                options,
            },
            expect: args.expect,
            output: args.output.into(),
        }
    }
}

/// Watches one port and reports.
pub fn watch(config: WatchConfig) -> anyhow::Result<ExitCode> {
    // Bad expressions are bad usage: refuse them before watching.
    let expectations = Expectations::parse(&[], &config.expect)?;
    config.output.validate(&[])?;
    super::baseline_variant::refuse_for_one_run(
        config.output.baseline_variant.as_deref(),
        "watch",
    )?;
    super::stdout::check_options(&config.spec.options)?;
    let runtime = super::runtime()?;
    let outcome = runtime.block_on(async {
        // Listening before the session starts: a signal while the collectors start still counts.
        let mut spec = config.spec.clone();
        spec.options.stop = Some(session::signals::StopFlag::listen()?);
        session::watch(&spec, &Instruments::live()).await
    })?;
    let mut report = outcome.report;
    super::no_traffic::add_hint(&mut report, config.spec.port, config.spec.host, false);
    let runs = vec![report];
    config.output.write_final(&runs)?;
    if outcome.interrupted {
        eprintln!("kalab: interrupted; the watch so far is reported");
        return Ok(ExitCode::Interrupted);
    }
    let results = expectations.evaluate(&runs);
    for result in results.iter().filter(|r| !r.passed()) {
        eprintln!("kalab: {}", result.message());
    }
    Ok(verdict(&results, &[], false))
}
