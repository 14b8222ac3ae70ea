//! `kalab run` in quick mode: the command line's quick-mode flags become a
//! [`QuickSpec`](crate::scenario::quick::QuickSpec), one flag one scenario key, and
//! `--expect` becomes the scenario's `[expect]` table. `run` prints it or runs it
//! like a loaded file.

use crate::check::expect;
use crate::cli::{MeasureArgs, QuickArgs};
use std::path::PathBuf;

use crate::model::InputError;
use crate::scenario::quick::{self, Knob, QuickSpec, QuickTarget};
use crate::scenario::LoadedScenario;

/// Quick mode as the command line gave it, free of command-line types.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickRequest {
    /// The scenario the flags describe; `None` without `--serve` or `--url`.
    pub spec: Option<QuickSpec>,
    /// Every quick-mode flag given, as written (for the error when files are given too).
    pub flags: Vec<String>,
    /// `--print-scenario`: write the scenario, run nothing.
    pub print: bool,
}

impl QuickRequest {
    /// The quick-mode flags of `kalab run`, with `--duration` and `--rate`.
    pub fn from_args(args: &QuickArgs, measure: &MeasureArgs) -> QuickRequest {
        let knobs = knobs(args);
        let target = if args.serve {
            Some(QuickTarget::Serve)
        } else if !args.url.is_empty() {
            Some(QuickTarget::Urls(args.url.clone()))
        } else {
            None
        };
        let mut flags: Vec<String> = Vec::new();
        if args.serve {
            flags.push("--serve".into());
        }
        flags.extend(args.url.iter().map(|u| format!("--url {u}")));
        if let Some(n) = args.workers {
            flags.push(format!("-c {n}"));
        }
        if let Some(n) = args.requests {
            flags.push(format!("-n {n}"));
        }
        flags.extend(knobs.iter().map(|k| k.shown.clone()));
        if let Some(name) = &args.name {
            flags.push(format!("--name {name}"));
        }
        if args.print_scenario {
            flags.push("--print-scenario".into());
        }
        let spec = target.map(|target| QuickSpec {
            target,
            name: args.name.clone(),
            workers: args.workers,
            requests: args.requests,
            duration: measure.duration,
            rate: measure.rate,
            knobs,
            expect: Vec::new(),
        });
        QuickRequest {
            spec,
            flags,
            print: args.print_scenario,
        }
    }

    /// Whether any quick-mode flag was given.
    pub fn any(&self) -> bool {
        !self.flags.is_empty()
    }
}

/// What quick-mode flags ask for.
#[derive(Debug)]
pub enum QuickOutcome {
    /// `--print-scenario`: the scenario file to print; nothing runs.
    Print(String),
    /// The scenario to run, like a loaded file.
    Run(Box<LoadedScenario>),
}

/// `kalab run` with quick-mode flags: the scenario they describe, to print or to run.
/// `--expect` (`expect`) becomes its `[expect]` table; `--duration` and `--rate` are already
/// in its `[pattern]`. Scenario files (`paths`) cannot be given as well.
pub fn scenario(
    quick: &QuickRequest,
    paths: &[PathBuf],
    expect: &[String],
) -> Result<QuickOutcome, InputError> {
    if !paths.is_empty() {
        return Err(InputError::new(format!(
            "scenario files and quick-mode flags do not mix: the flags `{}` describe a scenario of their own. Either run files (`kalab run {}`) or describe one scenario with flags (`kalab run --serve -c 10 -n 100 ...`); `--print-scenario` turns flags into a file",
            quick.flags.join(" "),
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")
        )));
    }
    let Some(mut spec) = quick.spec.clone() else {
        return Err(InputError::new(format!(
            "{}: quick mode needs a target: --serve (kalab's embedded server) or --url URL (an external one)",
            quick.flags.join(" ")
        )));
    };
    spec.expect = expect_entries(expect)?;
    let built = quick::build(&spec)?;
    if quick.print {
        return Ok(QuickOutcome::Print(built.file_text()));
    }
    Ok(QuickOutcome::Run(Box::new(built.loaded)))
}

/// `--expect` expressions as `[expect]` entries (metric, "OP VALUE"), each checked first so
/// that an error names the flag.
pub fn expect_entries(expressions: &[String]) -> Result<Vec<(String, String)>, InputError> {
    expressions
        .iter()
        .map(|text| {
            let parsed = expect::parse(text)
                .map_err(|why| InputError::new(format!("--expect '{text}': {why}")))?;
            // `{}` of an f64 is the shortest text that reads back as the same number.
            Ok((
                parsed.metric(),
                format!("{} {}", parsed.op.as_str(), parsed.value),
            ))
        })
        .collect()
}

/// One knob per quick-mode flag given, each setting its scenario key.
fn knobs(args: &QuickArgs) -> Vec<Knob> {
    let ms = |ms: u64| format!("{ms}ms");
    let mut knobs = Vec::new();
    let mut push = |knob: Option<Knob>| knobs.extend(knob);
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    push(
        args.pause_ms
            .map(|v| Knob::new("--pause", ms(v), "pattern", "pause_ms", int(v))),
    );
    push(
        args.spread
            .as_ref()
            .map(|v| Knob::new("--spread", v, "pattern", "spread", v.as_str())),
    );
    push(
        args.seed
            .map(|v| Knob::new("--seed", v, "pattern", "seed", int(v))),
    );
    push(
        args.body
            .map(|v| Knob::new("--body", v, "body", "policy", v.to_string())),
    );
    push(args.max_idle_per_host.map(|v| {
        Knob::new(
            "--max-idle-per-host",
            v,
            "client",
            "max_idle_per_host",
            i64::from(v),
        )
    }));
    push(
        args.idle_timeout_ms
            .map(|v| Knob::new("--idle-timeout", ms(v), "client", "idle_timeout_ms", int(v))),
    );
    push(
        args.no_keep_alive
            .then(|| Knob::switch("--no-keep-alive", "client", "keep_alive", false)),
    );
    push(
        args.protocol
            .as_ref()
            .map(|v| Knob::new("--protocol", v, "client", "protocol", v.as_str())),
    );
    push(args.request_timeout_ms.map(|v| {
        Knob::new(
            "--request-timeout",
            ms(v),
            "client",
            "request_timeout_ms",
            int(v),
        )
    }));
    if !args.tls_versions.is_empty() {
        let versions: Vec<toml::Value> = args
            .tls_versions
            .iter()
            .map(|v| v.as_str().into())
            .collect();
        push(Some(Knob::new(
            "--tls-versions",
            args.tls_versions.join(","),
            "client",
            "tls_versions",
            versions,
        )));
    }
    push(
        args.no_tls_resumption
            .then(|| Knob::switch("--no-tls-resumption", "client", "tls_resumption", false)),
    );
    push(args.tls_session_cache.map(|v| {
        Knob::new(
            "--tls-session-cache",
            v,
            "client",
            "tls_session_cache",
            i64::from(v),
        )
    }));
    push(args.ca_file.as_ref().map(|v| {
        let path = v.display().to_string();
        Knob::new("--ca-file", &path, "client", "ca_file", path.as_str())
    }));
    push(
        args.insecure
            .then(|| Knob::switch("--insecure", "client", "insecure", true)),
    );
    push(
        args.server_address
            .map(|v| Knob::new("--server-address", v, "server", "address", v.to_string())),
    );
    push(
        args.server_port
            .map(|v| Knob::new("--server-port", v, "server", "port", i64::from(v))),
    );
    push(
        args.hosts
            .map(|v| Knob::new("--hosts", v, "server", "hosts", i64::from(v))),
    );
    push(
        args.body_bytes
            .map(|v| Knob::new("--body-bytes", v, "server", "body_bytes", int(v))),
    );
    push(
        args.delay_us
            .map(|v| Knob::new("--delay-us", v, "server", "delay_us", int(v))),
    );
    push(
        args.chunked
            .then(|| Knob::switch("--chunked", "server", "chunked", true)),
    );
    push(args.server_keep_alive.map(|v| {
        Knob::new(
            "--server-keep-alive",
            on_off(v.on()),
            "server",
            "keep_alive",
            v.on(),
        )
    }));
    push(args.close_after_requests.map(|v| {
        Knob::new(
            "--close-after-requests",
            v,
            "server",
            "close_after_requests",
            int(v),
        )
    }));
    push(args.server_idle_timeout_ms.map(|v| {
        Knob::new(
            "--server-idle-timeout",
            ms(v),
            "server",
            "idle_timeout_ms",
            int(v),
        )
    }));
    push(
        args.tls
            .then(|| Knob::switch("--tls", "server", "tls", true)),
    );
    push(args.server_tls_resumption.map(|v| {
        Knob::new(
            "--server-tls-resumption",
            on_off(v.on()),
            "server",
            "tls_resumption",
            v.on(),
        )
    }));
    knobs
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn request(args: &[&str]) -> QuickRequest {
        let cli = crate::cli::Cli::try_parse_from(args).unwrap();
        match cli.command {
            crate::cli::Command::Run(run) => QuickRequest::from_args(&run.quick, &run.measure),
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_flag_sets_a_key_the_reference_documents() {
        let all = [
            "kalab",
            "run",
            "--serve",
            "-c",
            "2",
            "-n",
            "4",
            "--pause",
            "20ms",
            "--spread",
            "random",
            "--seed",
            "7",
            "--body",
            "drop",
            "--max-idle-per-host",
            "2",
            "--idle-timeout",
            "0",
            "--no-keep-alive",
            "--protocol",
            "http1",
            "--request-timeout",
            "5s",
            "--tls-versions",
            "1.2,1.3",
            "--no-tls-resumption",
            "--tls-session-cache",
            "8",
            "--ca-file",
            "Cargo.toml",
            "--insecure",
            "--server-address",
            "127.0.0.1",
            "--server-port",
            "0",
            "--hosts",
            "2",
            "--body-bytes",
            "5",
            "--delay-us",
            "0",
            "--chunked",
            "--server-keep-alive",
            "off",
            "--close-after-requests",
            "3",
            "--server-idle-timeout",
            "1s",
            "--tls",
            "--server-tls-resumption",
            "off",
        ];
        // Every quick-mode flag of the command line is in the list above.
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let run = cli.find_subcommand("run").unwrap();
        let structural = [
            "url",
            "serve",
            "workers",
            "requests",
            "name",
            "print-scenario",
        ];
        let quick_flags: Vec<&str> = run
            .get_arguments()
            .filter(|a| {
                a.get_help_heading()
                    .is_some_and(|h| h.starts_with("Quick mode"))
            })
            .filter_map(|a| a.get_long())
            .filter(|long| !structural.contains(long))
            .collect();
        for long in &quick_flags {
            assert!(
                all.contains(&format!("--{long}").as_str()),
                "--{long} is not tested"
            );
        }
        let quick = request(&all);
        let spec = quick.spec.unwrap();
        assert_eq!(spec.knobs.len(), quick_flags.len());
        for knob in &spec.knobs {
            assert!(
                crate::scenario::reference::lookup(knob.table, knob.key).is_some(),
                "{}",
                knob.flag
            );
        }
        let built = crate::scenario::quick::build(&spec).unwrap();
        let scenario = &built.loaded.scenario;
        assert_eq!(scenario.pattern.pause_ms, 20);
        assert_eq!(scenario.client.idle_timeout_ms, 0);
        assert_eq!(scenario.server.idle_timeout_ms, 1000);
        assert!(!scenario.server.keep_alive && !scenario.client.keep_alive);
        assert_eq!(scenario.server.hosts.get(), 2);
        assert!(
            built
                .command_line
                .starts_with("kalab run --serve -c 2 -n 4 --pause 20ms --spread random"),
            "{}",
            built.command_line
        );
    }

    #[test]
    fn expectations_are_written_exactly() {
        let entries = expect_entries(&["connections_opened.capture<=10".into()]).unwrap();
        assert_eq!(
            entries,
            [("connections_opened.capture".into(), "<= 10".into())]
        );
        let err = expect_entries(&["nope <= 1".into()])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--expect 'nope <= 1': "), "{err}");
    }

    #[test]
    fn sub_millisecond_durations_are_refused_by_the_flag() {
        let err = crate::cli::Cli::try_parse_from(["kalab", "run", "--serve", "--pause", "500us"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole milliseconds"), "{err}");
    }
}
