//! One measuring session: the one orchestration every way of driving traffic plugs into.
//!
//! Order matters and is fixed here: the target starts first, the collectors next (socket
//! sampler, packet capture), then the driver makes its traffic; after a settle (long enough to
//! see the closing FINs) the collectors stop before whatever the driver keeps alive is dropped,
//! so connections still pooled are seen `open-at-end`; the target stops last. Then the sources
//! are reconciled (one connection identity: the 4-tuple, plus the ISN on the wire) and every
//! figure is computed.
//!
//! The collectors enter through [`Instruments`], so a test can run a whole session on a pcap
//! file and canned socket-table text.

pub mod drivers;
pub mod faults;
pub mod instruments;
pub mod signals;
pub mod target;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::{CaptureOutcome, CaptureSpec};
use crate::model::{
    Dial, EnvironmentError, FourTuple, InputError, ServerConnection, Source, Warning,
};
use crate::report::compute::RawRun;
use crate::report::endpoints::compute_run;
use crate::report::RunReport;
use crate::runner::client::DialLog;
use crate::scenario::Scenario;
use crate::sockets::{Sampler, SamplerSpec};

pub use drivers::command::{observe, CommandDriver, ObserveSpec};
pub use drivers::pattern::PatternDriver;
pub use drivers::watch::{watch, WatchDriver, WatchSpec};
pub use drivers::{Driven, Driver};
pub use instruments::{Instruments, PacketCapture, RecordedCapture};
pub use target::{Endpoint, TargetSpec};

/// Whether runs are captured with libpcap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// Capture when permitted; otherwise run on with the other sources and say how to grant it.
    #[default]
    Auto,
    /// Capture or stop with exit code 3 before any traffic is driven.
    Required,
    /// Never capture.
    Off,
}

/// How sessions are measured, from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Packet capture: auto, required or off.
    pub capture: CaptureMode,
    /// Save each run's packets to a pcap file in this directory.
    pub save_capture: Option<PathBuf>,
    /// Capture on this interface instead of the one that carries the target.
    pub interface: Option<String>,
    /// Wait after the traffic before the collectors stop.
    pub settle: Duration,
    /// Upper bound on one run's request pattern.
    pub max_run: Duration,
    /// How often the socket table is sampled.
    pub sample_interval: Duration,
    /// Where the capture's running tally is shown while the driver runs (`kalab watch`'s live
    /// line); `None`: nowhere.
    pub live: Option<drivers::watch::LiveBoard>,
    /// The process's stop signals (SIGINT, SIGTERM, SIGHUP), listened to from before the
    /// session starts; `None`: the driver listens from when it starts.
    pub stop: Option<signals::StopFlag>,
    /// How many items of each detail list (requests, dials, server connections, captured
    /// connections) a run keeps; beyond it they are folded into exact aggregates (see
    /// `model::detail`).
    pub detail_cap: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            capture: CaptureMode::Auto,
            save_capture: None,
            interface: None,
            settle: Duration::from_millis(300),
            max_run: Duration::from_secs(120),
            sample_interval: crate::sockets::DEFAULT_SAMPLE_INTERVAL,
            live: None,
            stop: None,
            detail_cap: crate::model::DETAIL_CAP,
        }
    }
}

/// One scenario variant to run: the scenario with the variant's values applied, and its
/// repetition number.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The scenario with the variant's values applied.
    pub scenario: Scenario,
    /// Where the scenario came from.
    pub origin: String,
    /// What the variant sets (`key=value, ...`), empty without a sweep.
    pub variant: String,
    /// 1-based repetition.
    pub repetition: u32,
}

/// What a session is called and where its traffic goes.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    /// The run's name in reports.
    pub name: String,
    /// What the run shows.
    pub about: String,
    /// Where it came from (a scenario file, a built-in, `observe`).
    pub origin: String,
    /// What the variant sets, empty without a sweep.
    pub variant: String,
    /// 1-based repetition.
    pub repetition: u32,
    /// The target the collectors watch and the driver talks to.
    pub target: TargetSpec,
}

/// One session's report, and whether the user interrupted it.
#[derive(Debug, Clone)]
pub struct SessionOutcome {
    /// The run's report.
    pub report: RunReport,
    /// Ctrl-C stopped the driver; the report holds what was measured until then.
    pub interrupted: bool,
}

/// Runs one scenario variant: the session around a [`PatternDriver`], on the live instruments.
/// A stop signal ends the pattern; the run is reported as far as it got, marked interrupted.
pub async fn run_scenario(
    plan: &RunPlan,
    options: &RunOptions,
    on_request: Arc<dyn Fn() + Send + Sync>,
) -> anyhow::Result<RunReport> {
    let (session, driver) = scenario_session(plan, options, on_request);
    Ok(run(&session, options, &Instruments::live(), driver)
        .await?
        .report)
}

/// The session plan and driver of one scenario variant.
fn scenario_session(
    plan: &RunPlan,
    options: &RunOptions,
    on_request: Arc<dyn Fn() + Send + Sync>,
) -> (SessionPlan, PatternDriver) {
    let session = SessionPlan {
        name: plan.scenario.name.clone(),
        about: plan.scenario.about.clone(),
        origin: plan.origin.clone(),
        variant: plan.variant.clone(),
        repetition: plan.repetition,
        target: TargetSpec::for_scenario(&plan.scenario.server),
    };
    let driver = PatternDriver {
        scenario: plan.scenario.clone(),
        max_run: options.max_run,
        on_request,
        stop: options.stop.clone(),
        detail_cap: options.detail_cap,
    };
    (session, driver)
}

/// The one orchestration: target, collectors, driver, settle, stop, reconcile, compute.
pub async fn run<D: Driver>(
    plan: &SessionPlan,
    options: &RunOptions,
    instruments: &Instruments,
    driver: D,
) -> anyhow::Result<SessionOutcome> {
    let listen_before = (instruments.listen_counters)();
    let target = target::Target::start(&plan.target).await?;
    target.set_detail_cap(options.detail_cap);
    let endpoint = target.endpoint.clone();
    let sampler_spec = SamplerSpec {
        server: endpoint.addr,
        interval: options.sample_interval,
    };
    let open_table = Arc::clone(&instruments.socket_table);
    let sampler =
        tokio::task::spawn_blocking(move || Sampler::start(sampler_spec, open_table())).await?;
    let mut notes = Vec::new();
    if !target.servers.is_empty() {
        notes.extend(backlog_note((instruments.somaxconn)()));
    }
    let capture = match start_capture(plan, options, instruments, &endpoint, &mut notes).await {
        Ok(capture) => capture,
        Err(err) => {
            target.stop().await;
            return Err(err);
        }
    };

    if let (Some(board), Some(capture)) = (&options.live, &capture) {
        board.attach(capture.tally());
    }
    let started_at_us = (instruments.clock)();
    let clock = Instant::now();
    let driven = driver.drive(&endpoint).await;
    let driven = match driven {
        Ok(driven) => driven,
        Err(err) => {
            // Stop the capture properly, so a saved capture file stays valid.
            if let Some(capture) = capture {
                tokio::task::spawn_blocking(move || capture.stop()).await?;
            }
            drop(sampler);
            target.stop().await;
            return Err(err);
        }
    };
    tokio::time::sleep(options.settle).await;
    let wall_time_ms = clock.elapsed().as_secs_f64() * 1000.0;
    let listen_queue = listen_before
        .zip((instruments.listen_counters)())
        .map(|(before, after)| before.delta(&after));

    let (server_connections, server_folds, server_capped) = target.snapshot_capped();
    let dials = driven.dials.as_ref().map(DialLog::dials);
    let mut dropped = driven.dropped;
    dropped.servers = server_folds;
    dropped.capped.extend(server_capped);
    if let Some((dial_folds, dials_capped)) = driven.dials.as_ref().map(DialLog::dropped) {
        dropped.dials = dial_folds;
        dropped.capped.extend(dials_capped);
    }
    let capture = match capture {
        Some(capture) => Some(tokio::task::spawn_blocking(move || capture.stop()).await?),
        None => None,
    };
    let known = known_tuples(
        endpoint.addr,
        dials.as_deref().unwrap_or_default(),
        server_connections.as_deref(),
        capture.as_ref(),
        &dropped,
    );
    let sockets = tokio::task::spawn_blocking(move || sampler.stop(&known)).await?;
    drop(driven.keep_until_stopped);
    target.stop().await;

    notes.extend(driven.notes);
    notes.extend(faults::sampling_warning(&sockets));
    let report = compute_run(RawRun {
        name: plan.name.clone(),
        origin: plan.origin.clone(),
        about: plan.about.clone(),
        variant: plan.variant.clone(),
        repetition: plan.repetition,
        started_at_us,
        wall_time_ms,
        target: endpoint.url,
        target_is_loopback: endpoint.loopback,
        endpoints: endpoint.hosts,
        driven_by: driven.driven_by,
        requests: driven.requests,
        dials,
        server_connections,
        sockets: Some(sockets),
        capture,
        port_sysctls: (instruments.port_sysctls)(),
        notes,
        listen_queue,
        dropped,
    });
    let mut report = report;
    report.interrupted = driven.interrupted;
    if report.interrupted {
        // A signal, not the time limit, stopped the pattern (its note says which).
        report
            .warnings
            .retain(|w| !matches!(w, Warning::DeadlineReached { .. }));
    }
    Ok(SessionOutcome {
        report,
        interrupted: driven.interrupted,
    })
}

/// Starts the packet capture as the options say. Without permission, `auto` notes why and runs
/// on (printing the remedy once per process); `required` fails before any traffic is driven.
async fn start_capture(
    plan: &SessionPlan,
    options: &RunOptions,
    instruments: &Instruments,
    endpoint: &Endpoint,
    notes: &mut Vec<Warning>,
) -> anyhow::Result<Option<Box<dyn PacketCapture>>> {
    if options.capture == CaptureMode::Off {
        return Ok(None);
    }
    let spec = CaptureSpec {
        server: endpoint.addr,
        interface: options
            .interface
            .clone()
            .or_else(|| endpoint.interface.clone()),
        save_to: options
            .save_capture
            .as_ref()
            .map(|dir| dir.join(capture_file_name(plan))),
        detail_cap: Some(options.detail_cap),
    };
    let start = Arc::clone(&instruments.capture);
    match tokio::task::spawn_blocking(move || start(spec)).await? {
        Ok(capture) => Ok(Some(capture)),
        Err(err) if err.is_bad_interface() => Err(InputError::new(err.to_string()).into()),
        Err(err) if options.capture == CaptureMode::Required => Err(EnvironmentError::new(
            format!("--capture required, but the capture cannot start: {err}"),
        )
        .into()),
        Err(err) => {
            static TOLD: AtomicBool = AtomicBool::new(false);
            if !TOLD.swap(true, Ordering::SeqCst) {
                crate::model::verbosity::note(&format!(
                    "running without the capture source: {err}"
                ));
            }
            notes.push(Warning::SourceUnavailable {
                source: Source::Capture,
                reason: err.to_string(),
            });
            Ok(None)
        }
    }
}

/// A note when `net.core.somaxconn` caps the embedded server's listen backlog below what it
/// asked for: more dials at once than the cap overflow the accept queue.
fn backlog_note(somaxconn: Option<u32>) -> Option<Warning> {
    use crate::runner::listen::{effective_backlog, LISTEN_BACKLOG};
    let granted = effective_backlog(somaxconn);
    (granted < LISTEN_BACKLOG).then(|| Warning::Note {
        message: format!(
            "the embedded server asked for a listen backlog of {LISTEN_BACKLOG}, but net.core.somaxconn caps it at {granted}: more than {granted} dials at once overflow its accept queue (raise it with `sysctl -w net.core.somaxconn={LISTEN_BACKLOG}`)"
        ),
    })
}

/// `name[_variant]_rN_UTC.pcap`, with anything but letters, digits, `.` and `-` replaced.
fn capture_file_name(plan: &SessionPlan) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let mut name = clean(&plan.name);
    if !plan.variant.is_empty() {
        name.push('_');
        name.push_str(&clean(&plan.variant));
    }
    format!(
        "{name}_r{}_{}.pcap",
        plan.repetition,
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    )
}

/// This run's connections as the client, the server and the capture know them: the 4-tuples
/// whose sockets count even if the socket table held them before the run (Linux reuses them).
fn known_tuples(
    server: SocketAddr,
    dials: &[Dial],
    accepted: Option<&[ServerConnection]>,
    capture: Option<&CaptureOutcome>,
    dropped: &crate::model::detail::Dropped,
) -> Vec<FourTuple> {
    let from_dials = dials
        .iter()
        .filter_map(|d| d.local.map(|local| (local, d.remote)))
        .map(|(local, remote)| FourTuple::new(local, remote.unwrap_or(server)));
    let from_server = accepted
        .unwrap_or_default()
        .iter()
        .map(|c| FourTuple::new(c.peer, c.local.unwrap_or(server)));
    // Only connections whose SYN this run saw: a partial one (someone else's connection closing
    // as the run starts) must not pull an older socket into this run. Nor an attempt nobody
    // answered: the socket table tells those apart by themselves (SYN_SENT only).
    let from_capture = capture
        .map(|c| c.connections.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| c.opened())
        .map(|c| c.tuple);
    // The connections beyond the detail cap: their distinct 4-tuples were kept in the folds.
    let dialled = dropped.dials.total();
    let accepted = dropped.servers.total();
    let captured = capture.map(|c| c.dropped.folds.total()).unwrap_or_default();
    let from_folds = dialled
        .by_tuple
        .into_keys()
        .map(|(local, remote)| FourTuple::new(local, remote.unwrap_or(server)))
        .chain(accepted.tuples)
        .chain(captured.opened_tuples);
    from_dials
        .chain(from_server)
        .chain(from_capture)
        .chain(from_folds)
        .collect()
}
