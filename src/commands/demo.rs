//! `kalab demo`: the seed experiments re-done with reqwest and hyper, side by side, with an
//! honest account of where reqwest behaves like Go's net/http and where it does not. Every
//! number in the explanation is the one measured in this very run.

use crate::cli::{DemoArgs, Format};
use crate::exit_code::ExitCode;
use crate::report::RunReport;
use crate::runner::RunOptions;
use crate::scenario::builtin;

use super::output::OutputConfig;
use super::run::{execute_all, finish, plans};

/// What `kalab demo` needs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Measurement options.
    pub options: RunOptions,
    /// Output options.
    pub output: OutputConfig,
}

impl From<DemoArgs> for DemoConfig {
    fn from(args: DemoArgs) -> Self {
        DemoConfig {
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

/// Runs the built-in demo scenarios and explains them.
pub fn demo(config: DemoConfig) -> anyhow::Result<ExitCode> {
    let loaded = builtin::demo_scenarios()?;
    if config.output.format == Format::Table {
        super::print(
            "kalab demo: the seed experiments (Go net/http, netstat, tcpdump) re-done with reqwest + hyper on loopback.\n\
             Each scenario runs against a fresh embedded server; connections are counted by the client (dials) and the server (accepts).\n\n",
        )?;
    }
    let (runs, interrupted) = execute_all(&plans(&loaded, 1)?, &config.options, &config.output)?;
    let code = finish(&runs, &config.output, interrupted)?;
    if config.output.format == Format::Table && !interrupted {
        super::print(&explain(&runs))?;
    }
    Ok(code)
}

/// The demo's closing explanation, built from the measured runs.
pub fn explain(runs: &[RunReport]) -> String {
    let opened = |name: &str| -> String {
        runs.iter()
            .find(|r| r.scenario == name)
            .and_then(|r| r.connections_opened.best())
            .map_or("?".into(), |(n, _)| n.to_string())
    };
    let sent = |name: &str| -> String {
        runs.iter()
            .find(|r| r.scenario == name)
            .map_or("?".into(), |r| r.requests_sent.to_string())
    };
    let forecast = runs
        .iter()
        .find(|r| r.scenario == "concurrent-idle2")
        .and_then(|r| r.port_forecast.as_ref())
        .map_or(String::new(), |f| {
            format!("\n  5. Port exhaustion, for the churn of concurrent-idle2: {f}\n")
        });
    let text = format!(
        "\nWhat this shows (numbers measured just now):\n\
         \n  1. Body dropped unread (256 KiB): {drop_n} requests opened {drop} connection(s). Go's net/http does the same when a\n     \
              body is neither read to EOF nor closed: one SYN per request, a TIME_WAIT socket per request on the closing side.\n\
         \n  2. Body drained (256 KiB): {drain_n} requests opened {drain} connection(s). Same in Go: io.Copy(io.Discard, body)\n     \
              followed by body.Close() keeps the connection.\n\
         \n  3. Body dropped unread (the seed's 11 bytes): {small_n} requests opened {small} connection(s). Unlike Go: hyper reads\n     \
              the whole of a small response (headers + body up to about 8 KiB) with the headers, so a dropped body costs nothing\n     \
              and the connection goes back to the pool; the same program in Go opens one connection per request. From about\n     \
              24 KiB on, reqwest too loses the connection, and its close ends in a RST (unread data), so no TIME_WAIT is left.\n\
         \n  4. 10 workers x 10 requests: with max_idle_per_host = 2 the client opened {idle2} connection(s); with 10, {idle10}.\n     \
              Go's default MaxIdleConnsPerHost is 2, and that is where Go piles up connections and TIME_WAIT. reqwest's default\n     \
              is unlimited, so it only behaves like Go when the limit is set as here. The pause of 20 ms between requests\n     \
              keeps the counts deterministic: without it a worker's next request can beat its connection back into the pool.\n",
        drop = opened("sequential-drop"),
        drop_n = sent("sequential-drop"),
        drain = opened("sequential-drain"),
        drain_n = sent("sequential-drain"),
        small = opened("sequential-drop-small"),
        small_n = sent("sequential-drop-small"),
        idle2 = opened("concurrent-idle2"),
        idle10 = opened("concurrent-idle10"),
    );
    text + &forecast
}
