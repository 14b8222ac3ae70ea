//! Running one scenario variant: target, collectors, client pattern, settle, report.
//!
//! Order matters and is fixed here: the target starts first, the collectors next, then the
//! client sends its pattern; after a settle (long enough to see the closing FINs) the collectors
//! stop before the client is dropped, so connections still pooled are seen `open-at-end`.

pub mod body;
pub mod client;
pub mod pattern;
pub mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::capture::{CaptureOutcome, CaptureSpec, LiveCapture};
use crate::clock::now_us;
use crate::connection::FourTuple;
use crate::error::EnvironmentError;
use crate::report::compute::{compute, RawRun};
use crate::report::{RunReport, Source, Warning};
use crate::scenario::Scenario;
use crate::sockets::{ProcfsTable, Sampler, SamplerSpec};

use self::client::DialLog;
use self::server::EmbeddedServer;

/// One execution to perform: a scenario variant and its repetition number.
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

/// Whether runs are captured with libpcap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// Capture when permitted; otherwise run on with the other sources and say how to grant it.
    #[default]
    Auto,
    /// Capture or stop with exit code 3 before any request is sent.
    Required,
    /// Never capture.
    Off,
}

/// How runs are measured, from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Packet capture: auto, required or off.
    pub capture: CaptureMode,
    /// Save each run's packets to a pcap file in this directory.
    pub save_capture: Option<PathBuf>,
    /// Capture on this interface instead of the one that carries the target.
    pub interface: Option<String>,
    /// Wait after the last request before the collectors stop.
    pub settle: Duration,
    /// Upper bound on one run's request pattern.
    pub max_run: Duration,
    /// How often the socket table is sampled.
    pub sample_interval: Duration,
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
        }
    }
}

/// Runs one plan and reports what every source measured.
pub async fn execute(
    plan: &RunPlan,
    options: &RunOptions,
    on_request: Arc<dyn Fn() + Send + Sync>,
) -> anyhow::Result<RunReport> {
    let scenario = &plan.scenario;
    let target = Target::start(scenario).await?;
    let sampler_spec = SamplerSpec {
        server: target.addr,
        interval: options.sample_interval,
    };
    let sampler = tokio::task::spawn_blocking(move || {
        Sampler::start(sampler_spec, Box::new(ProcfsTable::new()))
    })
    .await?;
    let mut notes = Vec::new();
    let capture = start_capture(plan, options, target.addr, &mut notes).await?;
    let log = DialLog::default();
    let client = client::build(&scenario.client, log.clone())
        .context("cannot build the HTTP client from [client]")?;

    let started_at_us = now_us();
    let clock = Instant::now();
    let requests = pattern::run(
        &client,
        &target.url,
        &scenario.pattern,
        scenario.body.policy,
        Instant::now() + options.max_run,
        on_request,
    )
    .await;
    tokio::time::sleep(options.settle).await;
    let wall_time_ms = clock.elapsed().as_secs_f64() * 1000.0;

    let server_connections = target.server.as_ref().map(EmbeddedServer::snapshot);
    let capture = match capture {
        Some(capture) => Some(tokio::task::spawn_blocking(move || capture.stop()).await?),
        None => None,
    };
    let dials = log.dials();
    let known = known_tuples(
        target.addr,
        &dials,
        server_connections.as_deref(),
        capture.as_ref(),
    );
    let sockets = tokio::task::spawn_blocking(move || sampler.stop(&known)).await?;
    drop(client);
    if let Some(server) = target.server {
        server.shutdown().await;
    }
    Ok(compute(RawRun {
        scenario: scenario.clone(),
        origin: plan.origin.clone(),
        variant: plan.variant.clone(),
        repetition: plan.repetition,
        started_at_us,
        wall_time_ms,
        target: target.url,
        requests,
        dials: Some(dials),
        server_connections,
        sockets: Some(sockets),
        capture,
        notes,
        observed: None,
    }))
}

/// Starts the packet capture as the options say. Without permission, `auto` notes why and runs
/// on (printing the remedy once per process); `required` fails before any request is sent.
pub(crate) async fn start_capture(
    plan: &RunPlan,
    options: &RunOptions,
    server: SocketAddr,
    notes: &mut Vec<Warning>,
) -> anyhow::Result<Option<LiveCapture>> {
    if options.capture == CaptureMode::Off {
        return Ok(None);
    }
    let save_to = options
        .save_capture
        .as_ref()
        .map(|dir| dir.join(capture_file_name(plan)));
    let spec = CaptureSpec {
        server,
        interface: options.interface.clone(),
        save_to,
    };
    match tokio::task::spawn_blocking(move || LiveCapture::start(spec)).await? {
        Ok(capture) => Ok(Some(capture)),
        Err(err) if options.capture == CaptureMode::Required => Err(EnvironmentError::new(
            format!("--capture required, but the capture cannot start: {err}"),
        )
        .into()),
        Err(err) => {
            static TOLD: AtomicBool = AtomicBool::new(false);
            if !TOLD.swap(true, Ordering::SeqCst) {
                eprintln!("kalab: running without the capture source: {err}");
            }
            notes.push(Warning::SourceUnavailable {
                source: Source::Capture,
                reason: err.to_string(),
            });
            Ok(None)
        }
    }
}

/// `scenario[_variant]_rN_UTC.pcap`, with anything but letters, digits, `.` and `-` replaced.
fn capture_file_name(plan: &RunPlan) -> String {
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
    let mut name = clean(&plan.scenario.name);
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
pub(crate) fn known_tuples(
    server: SocketAddr,
    dials: &[client::Dial],
    accepted: Option<&[server::ServerConnection]>,
    capture: Option<&CaptureOutcome>,
) -> Vec<FourTuple> {
    let from_dials = dials
        .iter()
        .filter_map(|d| d.local)
        .map(|local| FourTuple::new(local, server));
    let from_server = accepted
        .unwrap_or_default()
        .iter()
        .map(|c| FourTuple::new(c.peer, server));
    // Only connections whose SYN this run saw: a partial one (someone else's connection closing
    // as the run starts) must not pull an older socket into this run.
    let from_capture = capture
        .map(|c| c.connections.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|c| !c.partial)
        .map(|c| c.tuple);
    from_dials.chain(from_server).chain(from_capture).collect()
}

/// Where the requests go: the embedded server, or an external URL.
struct Target {
    url: String,
    addr: SocketAddr,
    server: Option<EmbeddedServer>,
}

impl Target {
    async fn start(scenario: &Scenario) -> anyhow::Result<Target> {
        if let Some(url) = &scenario.server.url {
            let addr = resolve(url).await?;
            return Ok(Target {
                url: url.clone(),
                addr,
                server: None,
            });
        }
        let settings = &scenario.server;
        let server = EmbeddedServer::start(settings).await.map_err(|err| {
            EnvironmentError::new(format!(
                "cannot start the embedded server on {}:{}: {err}",
                settings.address, settings.port
            ))
        })?;
        let addr = server.addr();
        Ok(Target {
            url: format!("http://{addr}/"),
            addr,
            server: Some(server),
        })
    }
}

/// Resolves an external target and checks, quickly, that something listens there.
async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let uri: http::Uri = url.parse().context("invalid target URL")?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| EnvironmentError::new(format!("cannot resolve the target host in {url}")))?;
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_probe)) => Ok(addr),
        Ok(Err(err)) => Err(EnvironmentError::new(format!(
            "the target {url} is unreachable ({addr}: {err}); start the server or fix [server] url"
        ))
        .into()),
        Err(_) => Err(EnvironmentError::new(format!(
            "the target {url} did not accept a connection within 2 s; start the server or fix [server] url"
        ))
        .into()),
    }
}
