//! The command driver (`kalab observe`): run any program, one kalab did not write, and watch
//! its connections.
//!
//! The program runs directly (no shell), with stdin closed; its stderr passes through, and so
//! does its stdout unless [`ObserveSpec::pass_stdout`] is off (a machine-readable report on
//! kalab's stdout): then it goes to kalab's stderr, so `--format json | jq` works whatever the
//! program prints.
//! The session starts the collectors before it and stops them after it has exited plus a
//! settle, so every SYN, FIN and TIME_WAIT of its life is seen: the capture and the socket table
//! on the watched port, and the embedded server's accepts with `--serve`. There is no client
//! source: requests are counted from the capture (or else the server). With `--serve --tls` the
//! embedded server speaks HTTPS, and the path of its CA file replaces `{ca}` in the arguments and
//! is exported as `KALAB_CA`, so the program can trust it. Ctrl-C stops the program
//! (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and the run is still reported.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsFd as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Driven, Driver};
use crate::capture::route::LOOPBACK_INTERFACE;
use crate::model::{InputError, ObservedCommand, Warning};
use crate::report::{DrivenBy, ObservedRun};
use crate::scenario::ServerSettings;
use crate::session::signals::ProcessGroup;
use crate::session::target::{Endpoint, TargetSpec};
use crate::session::{self, Instruments, RunOptions, SessionOutcome, SessionPlan};

/// The environment variable that tells the observed program the watched port.
pub const PORT_ENV: &str = "KALAB_PORT";
/// The text replaced by the watched port in the program's arguments.
pub const PORT_PLACEHOLDER: &str = "{port}";
/// The environment variable that names the embedded HTTPS server's CA file (`--serve --tls`).
pub const CA_ENV: &str = "KALAB_CA";
/// The text replaced by the path of the embedded HTTPS server's CA file in the arguments.
pub const CA_PLACEHOLDER: &str = "{ca}";
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
    /// Let the program's stdout through to kalab's stdout; off, it goes to kalab's stderr
    /// (for a machine-readable report on stdout).
    pub pass_stdout: bool,
}

/// Runs a program and reports what it did on the watched port.
pub struct CommandDriver {
    /// The program and its arguments (`{port}` not yet replaced).
    pub argv: Vec<String>,
    /// The embedded server's settings, when kalab serves the program (`--serve`).
    pub serve: Option<ServerSettings>,
    /// Let the program's stdout through instead of sending it to kalab's stderr.
    pub pass_stdout: bool,
    /// The process's stop signals; `None`: listened to from when the program starts.
    pub stop: Option<crate::session::signals::StopFlag>,
}

/// Observes the program `spec` names: the session around a [`CommandDriver`].
pub async fn observe(
    spec: &ObserveSpec,
    instruments: &Instruments,
) -> anyhow::Result<SessionOutcome> {
    if spec.argv.is_empty() {
        return Err(InputError::new("no command to observe; put it after `--`").into());
    }
    if spec.serve.is_none() && spec.port.is_none_or(|p| p == 0) {
        return Err(InputError::new(
            "--port is required without --serve: give the port the program's server listens on",
        )
        .into());
    }
    let mut options = spec.options.clone();
    let target = match &spec.serve {
        Some(settings) => {
            let mut settings = settings.clone();
            settings.url = None;
            settings.port = spec.port.unwrap_or(0);
            if let Some(host) = spec.host {
                settings.address = host;
            }
            TargetSpec::Embedded(settings)
        }
        None => {
            if spec.host.is_none() && options.interface.is_none() {
                // Any address on the port: the program's own server, or a local one.
                options.interface = Some(LOOPBACK_INTERFACE.to_string());
            }
            TargetSpec::Watch {
                addr: SocketAddr::new(
                    spec.host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    spec.port.unwrap_or_default(),
                ),
                interface: options.interface.clone(),
            }
        }
    };
    let plan = SessionPlan {
        name: run_name(&spec.argv),
        about: format!(
            "the connections of `{}`, observed by kalab",
            display_command(&spec.argv)
        ),
        origin: "observe".to_string(),
        variant: String::new(),
        repetition: 1,
        target,
    };
    let driver = CommandDriver {
        argv: spec.argv.clone(),
        serve: match &plan.target {
            TargetSpec::Embedded(settings) => Some(settings.clone()),
            _ => None,
        },
        pass_stdout: spec.pass_stdout,
        stop: options.stop.clone(),
    };
    session::run(&plan, &options, instruments, driver).await
}

impl Driver for CommandDriver {
    async fn drive(self, endpoint: &Endpoint) -> anyhow::Result<Driven> {
        let port = endpoint.addr.port();
        let argv = substitute_ca(&substitute_port(&self.argv, port), endpoint)?;
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&argv[0]);
        if let Some(ca) = endpoint.ca_files.first() {
            command.env(CA_ENV, ca);
        }
        let mut child = command
            .args(&argv[1..])
            .env(PORT_ENV, port.to_string())
            .stdin(Stdio::null())
            .stdout(self.stdout()?)
            .kill_on_drop(true)
            // Its own process group: stopping it reaches whatever it started too.
            .process_group(0)
            .spawn()
            .map_err(|err| {
                InputError::new(format!("cannot start `{}`: {err}", display_command(&argv)))
            })?;
        let group = ProcessGroup::of(&child);
        let stop = match self.stop.clone() {
            Some(stop) => stop,
            None => crate::session::signals::StopFlag::listen()?,
        };
        let waited = wait_or_interrupt(&mut child, group, &stop).await;
        if let Some(group) = group {
            // Nothing it started outlives the observation.
            group.end_within(STOP_GRACE).await;
        }
        let (status, interrupted) = waited?;
        let mut serve = self.serve;
        if let Some(settings) = &mut serve {
            settings.port = port;
        }
        let command = ObservedCommand {
            argv,
            port,
            exit_code: status.code(),
            signal: status.signal(),
            stopped_by_kalab: interrupted,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        };
        let mut notes = Vec::new();
        if !command.succeeded() {
            notes.push(Warning::Note {
                message: format!("the observed command {}", command.status_text()),
            });
        }
        Ok(Driven {
            driven_by: DrivenBy::Observed(ObservedRun { command, serve }),
            requests: Vec::new(),
            dropped: Default::default(),
            dials: None,
            notes,
            interrupted,
            keep_until_stopped: None,
        })
    }
}

impl CommandDriver {
    /// Where the program's stdout goes: kalab's stdout when passed through, else its stderr.
    fn stdout(&self) -> anyhow::Result<Stdio> {
        if self.pass_stdout {
            return Ok(Stdio::inherit());
        }
        let stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|err| {
                anyhow::anyhow!("cannot hand kalab's stderr to the observed program: {err}")
            })?;
        Ok(Stdio::from(stderr))
    }
}

/// Replaces `{port}` in every argument (the program name included).
pub fn substitute_port(argv: &[String], port: u16) -> Vec<String> {
    argv.iter()
        .map(|arg| arg.replace(PORT_PLACEHOLDER, &port.to_string()))
        .collect()
}

/// Replaces `{ca}` in every argument with the embedded HTTPS server's CA file; without one
/// (no `--serve --tls`) a `{ca}` is a usage error.
fn substitute_ca(argv: &[String], endpoint: &Endpoint) -> anyhow::Result<Vec<String>> {
    let uses_ca = argv.iter().any(|arg| arg.contains(CA_PLACEHOLDER));
    match endpoint.ca_files.first() {
        Some(ca) => Ok(argv
            .iter()
            .map(|arg| arg.replace(CA_PLACEHOLDER, &ca.display().to_string()))
            .collect()),
        None if uses_ca => Err(InputError::new(
            "the command uses {ca}, the embedded HTTPS server's CA file, but there is none: add --serve --tls",
        )
        .into()),
        None => Ok(argv.to_vec()),
    }
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

/// The run's name: `observe: COMMAND` (with `{port}` as typed, so repeated observations share
/// a name), shortened to a table-friendly length.
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

/// Waits for the program to exit; on a stop signal (SIGINT, SIGTERM, SIGHUP) stops its whole
/// process group (SIGTERM, then SIGKILL after [`STOP_GRACE`]). Returns its status and whether
/// it was interrupted.
async fn wait_or_interrupt(
    child: &mut tokio::process::Child,
    group: Option<ProcessGroup>,
    stop: &crate::session::signals::StopFlag,
) -> anyhow::Result<(ExitStatus, bool)> {
    let exited = tokio::select! {
        status = child.wait() => Some(status?),
        _ = stop.stopped() => None,
    };
    if let Some(status) = exited {
        return Ok((status, false));
    }
    if let Some(group) = group {
        group.signal(libc::SIGTERM);
    }
    let status = match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            if let Some(group) = group {
                group.signal(libc::SIGKILL);
            }
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
    fn the_ca_file_replaces_its_placeholder_and_is_required_for_it() {
        let mut endpoint = Endpoint {
            url: "https://127.0.0.1:1/".into(),
            addr: "127.0.0.1:1".parse().unwrap(),
            loopback: true,
            ca_files: Vec::new(),
            urls: Vec::new(),
            hosts: Vec::new(),
            interface: None,
        };
        let argv = args(&["curl", "--cacert", "{ca}", "https://127.0.0.1:1/"]);
        let err = substitute_ca(&argv, &endpoint).unwrap_err().to_string();
        assert!(err.contains("--serve --tls"), "{err}");
        assert_eq!(
            substitute_ca(&args(&["curl"]), &endpoint).unwrap(),
            args(&["curl"])
        );
        endpoint.ca_files = vec!["/tmp/kalab-ca-x.pem".into()];
        assert_eq!(
            substitute_ca(&argv, &endpoint).unwrap()[2],
            "/tmp/kalab-ca-x.pem"
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
    fn statuses_read_as_sentences() {
        let mut observed = ObservedCommand {
            argv: args(&["true"]),
            port: 1,
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
