//! `kalab observe`: run a program under the collectors, report its connections like a run,
//! print its exit status, and check `--expect` expressions (exit codes as for `kalab run`).

use std::time::Duration;

use crate::check::{verdict, Expectations};
use crate::cli::ObserveArgs;
use crate::exit_code::ExitCode;
use crate::scenario::ServerSettings;
use crate::session::{self, Instruments, ObserveSpec, RunOptions};

use super::output::OutputConfig;

/// What `kalab observe` needs, free of command-line types.
#[derive(Debug, Clone)]
pub struct ObserveConfig {
    /// What to run and watch.
    pub spec: ObserveSpec,
    /// Expectations on the run.
    pub expect: Vec<String>,
    /// Output options.
    pub output: OutputConfig,
}

impl From<ObserveArgs> for ObserveConfig {
    fn from(args: ObserveArgs) -> Self {
        let serve = args.serve.then(|| ServerSettings {
            body_bytes: args.body_bytes,
            delay_us: args.delay_us,
            chunked: args.chunked,
            keep_alive: !args.no_keep_alive,
            close_after_requests: args.close_after_requests,
            idle_timeout_ms: args.server_idle_timeout_ms,
            tls: args.tls,
            tls_resumption: !args.no_tls_resumption,
            ..ServerSettings::default()
        });
        let options = RunOptions {
            capture: args.capture.into(),
            save_capture: args.save_capture,
            interface: args.interface,
            settle: Duration::from_millis(args.settle_ms),
            sample_interval: Duration::from_millis(args.sample_ms),
            detail_cap: args.detail_cap,
            ..RunOptions::default()
        };
        let output: OutputConfig = args.output.into();
        ObserveConfig {
            spec: ObserveSpec {
                argv: args.command,
                port: args.port,
                host: args.host,
                serve,
                options,
                // A machine-readable report on stdout must stand alone there.
                pass_stdout: !output.machine_readable_on_stdout(),
            },
            expect: args.expect,
            output,
        }
    }
}

/// Observes one program and reports.
pub fn observe(config: ObserveConfig) -> anyhow::Result<ExitCode> {
    // Bad expressions are bad usage: refuse them before the program runs.
    let expectations = Expectations::parse(&[], &config.expect)?;
    config.output.validate(&[])?;
    super::baseline_variant::refuse_for_one_run(
        config.output.baseline_variant.as_deref(),
        "observe",
    )?;
    super::stdout::check_options(&config.spec.options)?;
    super::stdout::check_serve(&config.spec)?;
    let runtime = super::runtime()?;
    let observation = runtime.block_on(async {
        // Listening before the session starts: a signal while the collectors start still counts.
        let mut spec = config.spec.clone();
        spec.options.stop = Some(session::signals::StopFlag::listen()?);
        session::observe(&spec, &Instruments::live()).await
    })?;
    let mut report = observation.report;
    if let Some(port) = report.observed().map(|o| o.port) {
        let embedded = config.spec.serve.is_some();
        super::no_traffic::add_hint(&mut report, port, config.spec.host, embedded);
    }
    let runs = vec![report];
    if let Some(observed) = runs[0].observed() {
        crate::model::verbosity::note(&format!(
            "`{}` {} after {:.0} ms",
            session::drivers::command::display_command(&observed.argv),
            observed.status_text(),
            observed.duration_ms
        ));
    }
    config.output.write_final(&runs)?;
    if observation.interrupted {
        eprintln!("kalab: interrupted; the observation so far is reported");
        return Ok(ExitCode::Interrupted);
    }
    let results = expectations.evaluate(&runs);
    for result in results.iter().filter(|r| !r.passed()) {
        eprintln!("kalab: {}", result.message());
    }
    Ok(verdict(&results, &[], false))
}
