//! The watch driver (`kalab watch`): a port of a service that is already running, watched for a
//! duration or until Ctrl-C. Nothing is launched and no request is sent.
//!
//! The session's collectors do all the measuring (the capture on the port, the socket table);
//! this driver only waits. Connections that were already open when watching started have no
//! SYN in the capture: they are its `partial` records, reported as already open and never
//! counted as opened; the socket table's baseline excludes them the same way. On a terminal a
//! live line is rewritten every second: connections opened (and per second), requests, reuse
//! ratio and TIME_WAIT by side, from the capture's running tally and a glance at the socket
//! table. Ctrl-C ends the watch like the duration does, and the run is reported all the same
//! (the command then exits with 130).

use std::collections::HashSet;
use std::fmt;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Driven, Driver};
use crate::capture::route::LOOPBACK_INTERFACE;
use crate::capture::LiveTally;
use crate::model::{FourTuple, InputError, Side};
use crate::report::{DrivenBy, WatchedRun};
use crate::session::target::{Endpoint, TargetSpec};
use crate::session::{self, Instruments, RunOptions, SessionOutcome, SessionPlan};
use crate::sockets::{classify, ProcfsTable, SocketTable, TcpState};

/// How often the live line is rewritten.
pub const LIVE_INTERVAL: Duration = Duration::from_secs(1);

/// What to watch, free of command-line types.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// The server port (local or remote).
    pub port: u16,
    /// The server's address; `None`: any address on the port (captured on `lo` unless
    /// `options.interface` says otherwise).
    pub host: Option<IpAddr>,
    /// Stop after this long; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// Rewrite a live line on stderr every second (only meant for a terminal).
    pub live_line: bool,
    /// Capture, settle, sampling and interface options (`max_run` is not used).
    pub options: RunOptions,
}

/// Where the capture's running tally is handed from the session to the driver that shows it.
#[derive(Clone, Default)]
pub struct LiveBoard {
    capture: Arc<Mutex<Option<Arc<Mutex<LiveTally>>>>>,
}

impl fmt::Debug for LiveBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LiveBoard")
    }
}

impl LiveBoard {
    /// Shows this capture's tally (the session calls it once the capture has started).
    pub(crate) fn attach(&self, tally: Option<Arc<Mutex<LiveTally>>>) {
        if let Ok(mut slot) = self.capture.lock() {
            *slot = tally;
        }
    }

    /// The capture's tally now, when a capture runs.
    fn capture_tally(&self) -> Option<LiveTally> {
        let slot = self.capture.lock().ok()?;
        let tally = slot.as_ref()?.lock().ok()?;
        Some(*tally)
    }
}

/// Waits for the duration or for Ctrl-C, showing the live line when asked to.
pub struct WatchDriver {
    /// The watched run as the report will describe it (its duration is filled in at the end).
    pub watched: WatchedRun,
    /// Stop after this long; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// The board the live line reads the capture's tally from; `None`: no live line.
    pub live: Option<LiveBoard>,
    /// The stop signals (SIGINT, SIGTERM, SIGHUP), listened to from before the session starts:
    /// one that arrives while the collectors start ends the watch as soon as it begins, instead
    /// of killing the process before a capture file is complete.
    pub interrupt: crate::session::signals::StopFlag,
}

/// Watches a port: the session around a [`WatchDriver`].
pub async fn watch(spec: &WatchSpec, instruments: &Instruments) -> anyhow::Result<SessionOutcome> {
    if spec.port == 0 {
        return Err(InputError::new("--port must be a port number from 1 to 65535").into());
    }
    if spec.duration.is_some_and(|d| d.is_zero()) {
        return Err(InputError::new("--duration must be longer than 0 s (e.g. 30s, 2m)").into());
    }
    let mut options = spec.options.clone();
    if spec.host.is_none() && options.interface.is_none() {
        // Any address on the port: a local service, seen on the loopback interface.
        options.interface = Some(LOOPBACK_INTERFACE.to_string());
    }
    let live = spec.live_line.then(LiveBoard::default);
    options.live = live.clone();
    let addr = SocketAddr::new(
        spec.host.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        spec.port,
    );
    let plan = SessionPlan {
        name: format!("watch: {}", watched_name(spec.host, spec.port)),
        about: format!(
            "the connections to {} of a service already running, watched by kalab (nothing launched)",
            watched_name(spec.host, spec.port)
        ),
        origin: "watch".to_string(),
        variant: String::new(),
        repetition: 1,
        target: TargetSpec::Watch {
            addr,
            interface: options.interface.clone(),
        },
    };
    let interrupt = match &options.stop {
        Some(stop) => stop.clone(),
        None => crate::session::signals::StopFlag::listen()?,
    };
    let driver = WatchDriver {
        watched: WatchedRun {
            port: spec.port,
            host: spec.host,
            interface: options.interface.clone(),
            duration_ms: 0.0,
            planned_duration_ms: spec
                .duration
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            stopped_by_ctrl_c: false,
        },
        duration: spec.duration,
        live,
        interrupt,
    };
    session::run(&plan, &options, instruments, driver).await
}

/// `127.0.0.1:8080`, or `port 8080` for any address.
fn watched_name(host: Option<IpAddr>, port: u16) -> String {
    match host {
        Some(ip) => SocketAddr::new(ip, port).to_string(),
        None => format!("port {port}"),
    }
}

impl Driver for WatchDriver {
    async fn drive(self, endpoint: &Endpoint) -> anyhow::Result<Driven> {
        // The collectors are running from here on: say so, so a person (or a script) knows
        // when traffic starts to count.
        crate::model::verbosity::note(&format!(
            "watching {} {}",
            endpoint.url,
            match self.duration {
                Some(d) => format!("for {}", humantime::format_duration(d)),
                None => "until Ctrl-C".to_string(),
            }
        ));
        let started = Instant::now();
        let mut line = self
            .live
            .as_ref()
            .map(|board| LiveLine::new(board.clone(), endpoint.addr));
        let until = async {
            match self.duration {
                Some(duration) => tokio::time::sleep(duration).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(until);
        let mut tick =
            tokio::time::interval_at(tokio::time::Instant::now() + LIVE_INTERVAL, LIVE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let interrupted = loop {
            tokio::select! {
                _ = self.interrupt.stopped() => break true,
                () = &mut until => break false,
                _ = tick.tick() => {
                    if let Some(line) = line.as_mut() {
                        line.show(started.elapsed());
                    }
                }
            }
        };
        if line.is_some() {
            eprintln!();
        }
        let mut watched = self.watched;
        watched.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        watched.stopped_by_ctrl_c = interrupted;
        Ok(Driven {
            driven_by: DrivenBy::Watched(watched),
            requests: Vec::new(),
            dropped: Default::default(),
            dials: None,
            notes: Vec::new(),
            interrupted,
            keep_until_stopped: None,
        })
    }
}

/// The live line's state: the capture's board, and its own glance at the socket table.
struct LiveLine {
    board: LiveBoard,
    server: SocketAddr,
    table: ProcfsTable,
    /// Sockets on the port before watching started: never this watch's.
    baseline: HashSet<(FourTuple, Side)>,
    /// Connections seen in the socket table since (a lower bound: it is glanced at once a
    /// second).
    seen: HashSet<FourTuple>,
    last_opened: u64,
}

/// What one live line shows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LiveFigures {
    elapsed_secs: u64,
    /// From the capture, when it runs.
    capture: Option<LiveTally>,
    /// Opened during the last interval (capture).
    opened_per_sec: u64,
    /// Connections the socket table showed (lower bound), when it can be read.
    seen_lower_bound: Option<u64>,
    /// TIME_WAIT sockets now, client side and server side (socket table).
    time_wait: Option<(u64, u64)>,
}

impl LiveLine {
    fn new(board: LiveBoard, server: SocketAddr) -> LiveLine {
        let mut table = ProcfsTable::new();
        let baseline = table
            .snapshot()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| classify(e, server).map(|(side, tuple)| (tuple, side)))
                    .collect()
            })
            .unwrap_or_default();
        LiveLine {
            board,
            server,
            table,
            baseline,
            seen: HashSet::new(),
            last_opened: 0,
        }
    }

    fn show(&mut self, elapsed: Duration) {
        let figures = self.figures(elapsed);
        let mut stderr = std::io::stderr().lock();
        // Rewrite the line in place: carriage return, clear to the end of the line.
        let _ = write!(stderr, "\r\x1b[2K{}", live_text(&figures));
        let _ = stderr.flush();
    }

    fn figures(&mut self, elapsed: Duration) -> LiveFigures {
        let capture = self.board.capture_tally();
        let opened = capture.map_or(0, |t| t.opened);
        let opened_per_sec = opened.saturating_sub(self.last_opened);
        self.last_opened = opened;
        let (seen_lower_bound, time_wait) = match self.table.snapshot() {
            Ok(entries) => {
                let (mut client, mut server) = (0, 0);
                for entry in &entries {
                    let Some((side, tuple)) = classify(entry, self.server) else {
                        continue;
                    };
                    if self.baseline.contains(&(tuple, side)) {
                        continue;
                    }
                    self.seen.insert(tuple);
                    if entry.state == TcpState::TimeWait {
                        match side {
                            Side::Client => client += 1,
                            Side::Server => server += 1,
                        }
                    }
                }
                (Some(self.seen.len() as u64), Some((client, server)))
            }
            Err(_) => (None, None),
        };
        LiveFigures {
            elapsed_secs: elapsed.as_secs(),
            capture,
            opened_per_sec,
            seen_lower_bound,
            time_wait,
        }
    }
}

/// The live line's text (pure, so it is tested without a terminal).
fn live_text(f: &LiveFigures) -> String {
    let mut parts = vec![format!("watching {:>4} s", f.elapsed_secs)];
    match f.capture {
        Some(tally) => {
            parts.push(format!("opened {} ({}/s)", tally.opened, f.opened_per_sec));
            parts.push(format!("requests {}", tally.requests));
            parts.push(match tally.opened {
                0 => "reuse -".to_string(),
                n => format!("reuse {:.2}", tally.requests as f64 / n as f64),
            });
            if tally.already_open > 0 {
                parts.push(format!("already open {}", tally.already_open));
            }
        }
        None => {
            if let Some(seen) = f.seen_lower_bound {
                parts.push(format!("connections seen >= {seen} (socket table)"));
            }
            parts.push("requests: no capture".to_string());
        }
    }
    if let Some((client, server)) = f.time_wait {
        parts.push(format!("TIME_WAIT client {client} / server {server}"));
    }
    parts.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_shows_rates_reuse_and_time_wait() {
        let figures = LiveFigures {
            elapsed_secs: 3,
            capture: Some(LiveTally {
                opened: 3,
                already_open: 1,
                requests: 5,
                open: 0,
            }),
            opened_per_sec: 2,
            seen_lower_bound: Some(2),
            time_wait: Some((3, 0)),
        };
        assert_eq!(
            live_text(&figures),
            "watching    3 s | opened 3 (2/s) | requests 5 | reuse 1.67 | already open 1 | TIME_WAIT client 3 / server 0"
        );
        let without_capture = LiveFigures {
            capture: None,
            ..figures
        };
        let text = live_text(&without_capture);
        assert!(
            text.contains("connections seen >= 2 (socket table)"),
            "{text}"
        );
        assert!(text.contains("requests: no capture"), "{text}");
    }

    #[test]
    fn watched_names_say_which_address() {
        assert_eq!(watched_name(None, 8080), "port 8080");
        assert_eq!(
            watched_name(Some("127.0.0.1".parse().unwrap()), 80),
            "127.0.0.1:80"
        );
    }
}
