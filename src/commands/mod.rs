//! The commands, as functions over plain option structs. `dispatch` maps the parsed command
//! line onto them.

pub mod analyze;
pub(crate) mod baseline_variant;
pub mod check;
pub mod compare;
pub mod completions;
pub mod demo;
pub(crate) mod no_traffic;
pub mod observe;
pub mod output;
pub mod quick;
pub mod run;
pub mod scenario;
pub mod stdout;
pub mod watch;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::exit_code::ExitCode;
use crate::runner::tls;

/// Runs the command the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    use crate::model::verbosity::{self, Verbosity};
    verbosity::set(if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    });
    match cli.command {
        Command::Demo(args) => {
            tls::configure_key_log(args.measure.tls_keylog.as_deref())?;
            demo::demo(args.into())
        }
        Command::Run(args) => {
            tls::configure_key_log(args.measure.tls_keylog.as_deref())?;
            run::run(args.into())
        }
        Command::Compare(args) => compare::compare(args.into()),
        Command::Check(args) => {
            tls::configure_key_log(args.measure.tls_keylog.as_deref())?;
            check::check(args.into())
        }
        Command::Analyze(args) => analyze::analyze(args),
        Command::Observe(args) => {
            tls::configure_key_log(args.tls_keylog.as_deref())?;
            observe::observe(args.into())
        }
        Command::Watch(args) => watch::watch(args.into()),
        Command::Completions(args) => completions::completions(args.shell),
        Command::Man => completions::man(),
        Command::Scenario(args) => scenario::scenario(args),
    }
}

/// Writes to stdout; a closed pipe (`kalab ... | head`) is not an error.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A multi-threaded tokio runtime for the runs.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kalab-runtime")
        .build()?)
}
