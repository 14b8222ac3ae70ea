//! `kalab observe`: watch the connections of any program, one kalab did not write.
//!
//! The program runs directly (no shell), with stdin closed and stdout and stderr passed through.
//! The collectors start before it and stop after it has exited plus a settle, so every SYN, FIN
//! and TIME_WAIT of its life is seen: the capture and the socket table on the watched port, and
//! the embedded server's accepts with `--serve`. There is no client source: requests are counted
//! from the capture (or else the server). Ctrl-C stops the program (SIGTERM, then SIGKILL after
//! [`STOP_GRACE`]) and the run is still reported.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::capture::route::LOOPBACK_INTERFACE;
use crate::clock::now_us;
use crate::error::{EnvironmentError, InputError};
use crate::report::compute::{compute, RawRun};
use crate::report::RunReport;
use crate::runner::server::EmbeddedServer;
use crate::runner::{start_capture, RunOptions, RunPlan};
use crate::scenario::{
    BodySettings, ClientSettings, PatternKind, PatternSettings, Scenario, ServerSettings,
};
use crate::sockets::{ProcfsTable, Sampler, SamplerSpec};

/// The environment variable that tells the observed program the watched port.
pub const PORT_ENV: &str = "KALAB_PORT";
/// The text replaced by the watched port in the program's arguments.
pub const PORT_PLACEHOLDER: &str = "{port}";
/// How long a program stopped by Ctrl-C may take to exit after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// Longest command line kept in the run's name (the full one is in `observed.argv`).
const MAX_NAME_CHARS: usize = 48;

/// What to observe, free of command-line types.
#[derive(Debug, Clone)]
pub struct ObserveSpec {
    /// The program and its arguments (`{port}` not yet replaced).
    pub argv: Vec<String>,
    /// The watched port; with `serve` and `None`, a free port is picked.
    pub port: Option<u16>,
    /// The server's address; `None`: any address on the port (and `--serve` binds 127.0.0.1).
    pub host: Option<IpAddr>,
    /// Start the embedded server on the port with these settings (`--serve`).
    pub serve: Option<ServerSettings>,
    /// Capture, settle, sampling and interface options (`max_run` is not used).
    pub options: RunOptions,
}

/// The observed program and how it ended: the `observed` field of a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObservedCommand {
    /// The program and its arguments as run (after `{port}` was replaced).
    pub argv: Vec<String>,
    /// The watched port.
    pub port: u16,
    /// Whether kalab's embedded server answered on the port (`--serve`).
    pub served: bool,
    /// The program's exit code, when it exited by itself or on SIGTERM handling.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// Whether kalab stopped it (Ctrl-C).
    pub stopped_by_kalab: bool,
    /// From its start to its exit, in milliseconds.
    pub duration_ms: f64,
}

impl ObservedCommand {
    /// `exited with status 0`, `was ended by signal 9`.
    pub fn status_text(&self) -> String {
        let how = match (self.exit_code, self.signal) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was ended by signal {signal}"),
            (None, None) => "ended with an unknown status".to_string(),
        };
        if self.stopped_by_kalab {
            format!("{how} (stopped by kalab on Ctrl-C)")
        } else {
            how
        }
    }

    /// Whether the program exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.stopped_by_kalab
    }
}

/// One observation: the report, and whether the user interrupted it.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The run's report; `report.observed` is always set.
    pub report: RunReport,
    /// Ctrl-C stopped the program.
    pub interrupted: bool,
}

/// Replaces `{port}` in every argument (the program name included).
pub fn substitute_port(argv: &[String], port: u16) -> Vec<String> {
    argv.iter()
        .map(|arg| arg.replace(PORT_PLACEHOLDER, &port.to_string()))
        .collect()
}

/// The command line as a person would type it: arguments with spaces or quotes are quoted.
pub fn display_command(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| {
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+{}".contains(c));
            if plain {
                arg.clone()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The run's name: `observe: COMMAND`, shortened to a table-friendly length.
fn run_name(argv: &[String]) -> String {
    let command = display_command(argv);
    let short: String = if command.chars().count() > MAX_NAME_CHARS {
        let mut cut: String = command.chars().take(MAX_NAME_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        command
    };
    format!("observe: {short}")
}

/// The scenario an observation is reported under. Only `name`, `about` and `server` describe
/// it; the client, pattern and body tables are placeholders (kalab sends no request).
fn scenario_for(argv: &[String], server: ServerSettings) -> Scenario {
    Scenario {
        name: run_name(argv),
        about: format!(
            "the connections of `{}`, observed by kalab",
            display_command(argv)
        ),
        server,
        client: ClientSettings::default(),
        pattern: PatternSettings {
            kind: PatternKind::Sequential,
            workers: NonZeroU32::MIN,
            requests_per_worker: NonZeroU32::MIN,
            pause_ms: 0,
        },
        body: BodySettings::default(),
        sweep: toml::Table::new(),
        expect: toml::Table::new(),
    }
}

/// How the target is named in the report.
fn target_text(addr: SocketAddr, interface: Option<&str>) -> String {
    if !addr.ip().is_unspecified() {
        return format!("http://{addr}/");
    }
    match interface {
        None | Some(LOOPBACK_INTERFACE) => format!("http://localhost:{}/", addr.port()),
        Some(other) => format!("port {} on {other}", addr.port()),
    }
}

/// Runs the program under observation and reports what every source saw.
pub async fn observe(spec: &ObserveSpec) -> anyhow::Result<Observation> {
    let Some(program) = spec.argv.first() else {
        return Err(InputError::new("no command to observe; put it after `--`").into());
    };
    if spec.serve.is_none() && spec.port.is_none_or(|p| p == 0) {
        return Err(InputError::new(
            "--port is required without --serve: give the port the program's server listens on",
        )
        .into());
    }
    let mut options = spec.options.clone();
    let (server, addr, settings) = match &spec.serve {
        Some(settings) => {
            let mut settings = settings.clone();
            settings.url = None;
            settings.port = spec.port.unwrap_or(0);
            if let Some(host) = spec.host {
                settings.address = host;
            }
            let server = EmbeddedServer::start(&settings).await.map_err(|err| {
                EnvironmentError::new(format!(
                    "--serve: cannot start the embedded server on {}:{}: {err}",
                    settings.address, settings.port
                ))
            })?;
            settings.port = server.addr().port();
            (Some(server), server_addr(&settings), settings)
        }
        None => {
            let port = spec.port.unwrap_or_default();
            let addr =
                SocketAddr::new(spec.host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
            if spec.host.is_none() && options.interface.is_none() {
                // Any address on the port: the program's own server, or a local one.
                options.interface = Some(LOOPBACK_INTERFACE.to_string());
            }
            let settings = ServerSettings {
                url: Some(target_text(addr, options.interface.as_deref())),
                port,
                ..ServerSettings::default()
            };
            (None, addr, settings)
        }
    };
    let argv = substitute_port(&spec.argv, addr.port());
    let target = settings
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/"));
    let plan = RunPlan {
        scenario: scenario_for(&argv, settings),
        origin: "observe".to_string(),
        variant: String::new(),
        repetition: 1,
    };

    let sampler_spec = SamplerSpec {
        server: addr,
        interval: options.sample_interval,
    };
    let sampler = tokio::task::spawn_blocking(move || {
        Sampler::start(sampler_spec, Box::new(ProcfsTable::new()))
    })
    .await?;
    let mut notes = Vec::new();
    let capture = start_capture(&plan, &options, addr, &mut notes).await?;

    let started_at_us = now_us();
    let clock = Instant::now();
    let spawned = tokio::process::Command::new(program)
        .args(&argv[1..])
        .env(PORT_ENV, addr.port().to_string())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            if let Some(capture) = capture {
                tokio::task::spawn_blocking(move || capture.stop()).await?;
            }
            drop(sampler);
            if let Some(server) = server {
                server.shutdown().await;
            }
            return Err(InputError::new(format!(
                "cannot start `{}`: {err}",
                display_command(&argv)
            ))
            .into());
        }
    };
    let (status, interrupted) = wait_or_interrupt(&mut child).await?;
    let duration_ms = clock.elapsed().as_secs_f64() * 1000.0;
    tokio::time::sleep(options.settle).await;
    let wall_time_ms = clock.elapsed().as_secs_f64() * 1000.0;

    let server_connections = server.as_ref().map(EmbeddedServer::snapshot);
    let capture = match capture {
        Some(capture) => Some(tokio::task::spawn_blocking(move || capture.stop()).await?),
        None => None,
    };
    let known =
        crate::runner::known_tuples(addr, &[], server_connections.as_deref(), capture.as_ref());
    let sockets = tokio::task::spawn_blocking(move || sampler.stop(&known)).await?;
    if let Some(server) = server {
        server.shutdown().await;
    }

    let observed = ObservedCommand {
        argv,
        port: addr.port(),
        served: server_connections.is_some(),
        exit_code: status.code(),
        signal: status.signal(),
        stopped_by_kalab: interrupted,
        duration_ms,
    };
    if !observed.succeeded() {
        notes.push(crate::report::Warning::Note {
            message: format!("the observed command {}", observed.status_text()),
        });
    }
    let report = compute(RawRun {
        scenario: plan.scenario,
        origin: plan.origin,
        variant: plan.variant,
        repetition: plan.repetition,
        started_at_us,
        wall_time_ms,
        target,
        requests: Vec::new(),
        dials: None,
        server_connections,
        sockets: Some(sockets),
        capture,
        notes,
        observed: Some(observed),
    });
    Ok(Observation {
        report,
        interrupted,
    })
}

/// The address the collectors watch for an embedded server: an unspecified bind address
/// (`0.0.0.0`) is watched as any address on the port.
fn server_addr(settings: &ServerSettings) -> SocketAddr {
    SocketAddr::new(settings.address, settings.port)
}

/// Waits for the program to exit; on Ctrl-C stops it (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]). Returns its status and whether it was interrupted.
async fn wait_or_interrupt(
    child: &mut tokio::process::Child,
) -> anyhow::Result<(ExitStatus, bool)> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let exited = tokio::select! {
        status = child.wait() => Some(status?),
        _ = &mut ctrl_c => None,
    };
    if let Some(status) = exited {
        return Ok((status, false));
    }
    if let Some(pid) = child.id().and_then(|id| libc::pid_t::try_from(id).ok()) {
        // SAFETY: kill(2) on our own child's pid, which `child` has not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let status = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            child.kill().await?;
            child.wait().await?
        }
    };
    Ok((status, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_port_replaces_every_placeholder() {
        let argv = args(&[
            "curl",
            "http://127.0.0.1:{port}/a",
            "-o",
            "{port}-{port}.txt",
        ]);
        assert_eq!(
            substitute_port(&argv, 8080),
            args(&["curl", "http://127.0.0.1:8080/a", "-o", "8080-8080.txt"])
        );
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let argv = args(&["curl", "-H", "Connection: close", "it's", "http://x/?a=1"]);
        assert_eq!(
            display_command(&argv),
            r"curl -H 'Connection: close' 'it'\''s' 'http://x/?a=1'"
        );
    }

    #[test]
    fn long_commands_are_shortened_in_the_name() {
        let long = "x".repeat(200);
        let name = run_name(&args(&["prog", &long]));
        assert!(name.starts_with("observe: prog x"), "{name}");
        assert_eq!(name.chars().count(), "observe: ".len() + MAX_NAME_CHARS);
        assert!(name.ends_with('…'));
    }

    #[test]
    fn targets_name_the_watched_address() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(target_text(any, Some("lo")), "http://localhost:8080/");
        assert_eq!(target_text(any, Some("eth0")), "port 8080 on eth0");
        let host: SocketAddr = "10.0.0.5:80".parse().unwrap();
        assert_eq!(target_text(host, None), "http://10.0.0.5:80/");
    }

    #[test]
    fn statuses_read_as_sentences() {
        let mut observed = ObservedCommand {
            argv: args(&["true"]),
            port: 1,
            served: false,
            exit_code: Some(0),
            signal: None,
            stopped_by_kalab: false,
            duration_ms: 1.0,
        };
        assert!(observed.succeeded());
        assert_eq!(observed.status_text(), "exited with status 0");
        observed.exit_code = None;
        observed.signal = Some(15);
        observed.stopped_by_kalab = true;
        assert!(!observed.succeeded());
        assert_eq!(
            observed.status_text(),
            "was ended by signal 15 (stopped by kalab on Ctrl-C)"
        );
    }
}
