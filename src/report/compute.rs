//! From what the collectors gathered to a [`RunReport`]: counting, statistics, cross-checks.
//!
//! Pure in fact: it takes the raw observations of one run (the port sysctls among them, read by
//! the session) and computes every figure, naming its source, and warns where sources disagree.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::connections::connection_views;
use super::model::{DrivenBy, PerSource, RunReport, Spread};
use super::reconcile::reconcile;
use crate::capture::{CaptureFold, CaptureOutcome};
use crate::model::detail::{DialFold, Histogram, Merge, RequestFold, ServerFold};
use crate::model::{
    Closes, Dial, RequestOutcome, ServerConnection, Side, Source, TimeWaitReconciliation, Warning,
};
use crate::sockets::forecast::TIME_WAIT_SECS;
use crate::sockets::{
    forecast_ports, ForecastInput, ListenCounters, PortForecast, PortSysctls, SocketsOutcome,
};

/// Everything one run observed, before any figure is computed.
#[derive(Debug, Clone)]
pub struct RawRun {
    /// The run's name: the scenario's, or `observe: COMMAND`.
    pub name: String,
    /// Where it came from (a scenario file, a built-in, `observe`).
    pub origin: String,
    /// What the run shows.
    pub about: String,
    /// The variant's label (empty without a sweep).
    pub variant: String,
    /// 1-based repetition.
    pub repetition: u32,
    /// When the driver was about to start (microseconds since the Unix epoch).
    pub started_at_us: u64,
    /// From start to the end of the settle, in milliseconds.
    pub wall_time_ms: f64,
    /// The URL requested, or the address watched.
    pub target: String,
    /// Whether the target is on this machine's loopback (for the port forecast).
    pub target_is_loopback: bool,
    /// What drove the traffic.
    pub driven_by: DrivenBy,
    /// Every request's outcome (kalab's client only).
    pub requests: Vec<RequestOutcome>,
    /// The connections the client dialled; `None` when there is no client source (`kalab
    /// observe` watches a program kalab did not write): then `connections_opened.client` is
    /// absent and the requests are counted from the capture, or else from the embedded server.
    pub dials: Option<Vec<Dial>>,
    /// The embedded server's connections (`None` without an embedded server).
    pub server_connections: Option<Vec<ServerConnection>>,
    /// The socket table's view (`None` when not sampled).
    pub sockets: Option<SocketsOutcome>,
    /// The packet capture's view (`None` without capture).
    pub capture: Option<CaptureOutcome>,
    /// The machine's port sysctls, for the port-exhaustion forecast.
    pub port_sysctls: PortSysctls,
    /// Warnings the collectors and the driver raised.
    pub notes: Vec<Warning>,
    /// How much the kernel's listen-queue counters rose during the run (`None`: unreadable).
    pub listen_queue: Option<ListenCounters>,
    /// The target's server endpoints, in order (several hosts: one each); any other server
    /// address the sources saw is added after them in the breakdown.
    pub endpoints: Vec<std::net::SocketAddr>,
    /// The client's and the server's items beyond the detail cap, folded (the capture's are in
    /// its outcome): every figure counts them.
    pub dropped: crate::model::detail::Dropped,
}

/// Computes every figure of a run.
///
/// The per-endpoint breakdown (`endpoints`) is left empty: [`super::endpoints::compute_run`]
/// computes it, by computing each endpoint's share of `raw` with this function.
pub fn compute(mut raw: RawRun) -> RunReport {
    let mut warnings = std::mem::take(&mut raw.notes);
    if let Some(already) = raw
        .capture
        .as_ref()
        .map(|c| c.summary.partial_connections)
        .filter(|&n| n > 0)
    {
        warnings.push(Warning::Info {
            message: format!(
                "{already} connection(s) were already open when the run started (the capture saw no SYN): reported as already open, never counted as opened"
            ),
        });
    }
    let server_connections = raw.server_connections.take();
    let embedded = server_connections.is_some();
    let servers = server_connections.unwrap_or_default();
    let folds = Folds::of(&raw, embedded.then_some(servers.as_slice()));
    let counted = request_count(&raw, &folds, &mut warnings);
    let requests_failed = counted.sent.saturating_sub(counted.ok);

    let sockets = available_sockets(raw.sockets.take(), &mut warnings);
    let sources = Sources {
        dials: folds.dials.as_ref(),
        requests: &folds.requests,
        servers: folds.servers.as_ref(),
        sockets: sockets.as_ref(),
        capture: raw.capture.as_ref(),
        wire: folds.capture.as_ref(),
    };
    let (connections_opened, connections_without_requests) =
        connection_counts(&sources, &mut warnings);
    let connections_unanswered = connections_unanswered(&sources);
    warnings.extend(unanswered_warning(
        &connections_unanswered,
        raw.listen_queue.as_ref(),
    ));
    let reuse_ratio = connections_opened
        .best()
        .filter(|&(opened, _)| opened > 0 && counted.source.is_some())
        .map(|(opened, _)| counted.ok as f64 / opened as f64);
    let (requests_per_connection, requests_per_connection_source) =
        requests_per_connection(&sources);
    let latency_ms = |p: f64| {
        folds
            .requests
            .latency_us
            .percentile(p)
            .map(|us| us as f64 / 1000.0)
    };
    let closes = closes(sources.wire, sources.servers, &mut warnings);
    if closes.simultaneous > 0 {
        warnings.push(Warning::ClosedSimultaneously {
            count: closes.simultaneous,
        });
    }
    let time_wait_reconciled = time_wait_reconciled(raw.capture.as_ref(), sockets.as_ref());
    if let Some(reconciled) = &time_wait_reconciled {
        warnings.extend(reconciliation_warnings(reconciled, raw.target_is_loopback));
    }
    let port_forecast = port_forecast(
        &closes,
        raw.wall_time_ms,
        &raw.port_sysctls,
        raw.target_is_loopback,
    );
    if let Some(forecast) = port_forecast.as_ref().filter(|f| f.warning) {
        warnings.push(Warning::Note {
            message: format!("port exhaustion: {forecast}"),
        });
    }
    let drive_ms = drive_ms(&raw, &folds.requests, counted.sent);
    let tls = super::tls::figures(
        folds.dials.as_ref().map(|d| d.tls),
        folds.servers.as_ref().map(|s| s.tls),
        folds.capture.as_ref().map(|c| c.tls),
        counted.sent,
    );
    if let Some(tls) = &tls {
        warnings.extend(disagreements("tls_handshakes_full", &tls.handshakes_full));
        warnings.extend(disagreements(
            "tls_handshakes_resumed",
            &tls.handshakes_resumed,
        ));
    }
    let connections = connection_views(
        raw.dials.as_deref().unwrap_or_default(),
        &mut raw.requests,
        embedded.then_some(servers.as_slice()),
        raw.capture.as_ref(),
    );
    warnings.extend(super::tls::connection_disagreements(&connections));
    let mut detail_capped = std::mem::take(&mut raw.dropped.capped);
    if let Some(capture) = &raw.capture {
        detail_capped.extend(crate::model::DetailCapped::of(
            "capture_connections",
            Source::Capture,
            capture.dropped.kept,
            capture.dropped.seen,
        ));
    }
    warnings.extend(capped_warning(&detail_capped));

    RunReport {
        scenario: raw.name,
        origin: raw.origin,
        about: raw.about,
        variant: raw.variant,
        repetition: raw.repetition,
        started_at: Utc
            .timestamp_micros(raw.started_at_us as i64)
            .single()
            .unwrap_or_default(),
        started_at_us: raw.started_at_us,
        wall_time_ms: raw.wall_time_ms,
        interrupted: false,
        target: raw.target,
        driven_by: raw.driven_by,
        requests_sent: counted.sent,
        requests_ok: counted.ok,
        requests_failed,
        requests_unmeasured: counted.source.is_none(),
        errors: counted.errors,
        connections_opened,
        connections_seen_lower_bound: sockets.as_ref().map(|s| s.distinct_connections),
        connections_refused: raw.capture.as_ref().map(|c| c.summary.refused),
        connections_unanswered,
        listen_queue: raw.listen_queue,
        reset_causes: folds.capture.as_ref().map(|c| c.reset_causes),
        connections_without_requests,
        reuse_ratio,
        requests_per_connection,
        requests_per_connection_source: requests_per_connection_source
            .filter(|_| requests_per_connection.is_some()),
        latency_p50_ms: latency_ms(50.0),
        latency_p99_ms: latency_ms(99.0),
        closes,
        time_wait: sockets.as_ref().map(|s| s.time_wait),
        time_wait_reconciled,
        port_forecast,
        warnings,
        requests: raw.requests,
        connections,
        dials: raw.dials.unwrap_or_default(),
        server_connections: servers,
        sockets,
        connections_already_open: raw.capture.as_ref().map(|c| c.summary.partial_connections),
        capture: raw.capture,
        endpoints: Vec::new(),
        endpoint: None,
        drive_ms,
        requests_per_s: per_second(Some(counted.sent), drive_ms),
        connections_per_s: per_second(connections_opened.best().map(|(n, _)| n), drive_ms),
        input: None,
        tls,
        detail_capped,
    }
}

/// The warning that per-item detail was capped, naming each list capped.
fn capped_warning(capped: &[crate::model::DetailCapped]) -> Option<Warning> {
    if capped.is_empty() {
        return None;
    }
    let lists: Vec<String> = capped.iter().map(ToString::to_string).collect();
    Some(Warning::Note {
        message: format!(
            "detail capped (--detail-cap): kept {}; every count and statistic above covers them all (exact), but the per-connection view, the timeline and the exported lists hold the first ones only",
            lists.join(", "),
        ),
    })
}

/// How long the traffic was driven, in milliseconds: from the pattern's start to the end of
/// its last request (at least the whole `duration` of a rate that sent all it planned: its
/// arrivals spread over that window), or the watch's or the observed command's duration.
fn drive_ms(raw: &RawRun, requests: &RequestFold, sent: u64) -> Option<f64> {
    let (first, last) = (requests.first_start_us, requests.last_end_us);
    match (first, last, &raw.driven_by) {
        (Some(first), Some(last), DrivenBy::Settings(scenario)) if last > first => {
            let start = raw.started_at_us.min(first);
            let span_ms = (last - start) as f64 / 1000.0;
            let pattern = &scenario.pattern;
            let window_ms = match (pattern.rate, pattern.duration) {
                (Some(_), Some(duration)) if Some(sent) >= pattern.total_requests() => {
                    duration.0.as_secs_f64() * 1000.0
                }
                _ => 0.0,
            };
            Some(span_ms.max(window_ms))
        }
        (_, _, DrivenBy::Watched(watched)) => Some(watched.duration_ms),
        (_, _, DrivenBy::Observed(observed)) => Some(observed.command.duration_ms),
        _ => None,
    }
}

/// `count` per second of `drive_ms` (none without a duration).
pub fn per_second(count: Option<u64>, drive_ms: Option<f64>) -> Option<f64> {
    let drive_ms = drive_ms.filter(|&ms| ms > 0.0)?;
    Some(count? as f64 * 1000.0 / drive_ms)
}

/// Counts the requests from the best source there is, and warns about what that means: a
/// pattern cut short by its deadline, counts without a client source, failures.
fn request_count(raw: &RawRun, folds: &Folds, warnings: &mut Vec<Warning>) -> RequestCount {
    let (wire, servers) = (folds.capture.as_ref(), folds.servers.as_ref());
    let counted = match &raw.dials {
        Some(_) => RequestCount::from_client(&folds.requests),
        None => RequestCount::without_client(wire, servers),
    };
    let planned = match &raw.driven_by {
        DrivenBy::Settings(scenario) => scenario.pattern.total_requests(),
        DrivenBy::Observed(_) | DrivenBy::Watched(_) => None,
    };
    if let (Some(planned), Some(_)) = (planned, &raw.dials) {
        if counted.sent < planned {
            warnings.push(Warning::DeadlineReached {
                planned,
                sent: counted.sent,
            });
        }
    }
    if raw.dials.is_none() {
        // Which source counted the requests is how to read them: a note. Requests nobody
        // counted are a gap in the report: a warning.
        let note = counted.source.is_some();
        let message = match counted.source {
                Some(Source::Capture) => "requests counted by the capture (no client source): HTTP/1 request heads and HTTP/2 streams opened, ok = answered".to_string(),
                Some(source) => format!("requests counted by the {source} (no client source): those it served"),
                None if encrypted(wire, servers) => "requests not counted: the connections are encrypted (TLS), and there is no client or server source".to_string(),
                None => "requests not counted: no client, capture or server source".to_string(),
            };
        warnings.push(if note {
            Warning::Info { message }
        } else {
            Warning::Note { message }
        });
    }
    let failed = counted.sent.saturating_sub(counted.ok);
    if failed > 0 {
        let kinds = counted
            .errors
            .iter()
            .map(|(kind, n)| format!("{kind}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        warnings.push(Warning::RequestsFailed {
            count: failed,
            kinds,
        });
    }
    counted
}

/// What the sources recorded of one run, borrowed for the counting functions: each list's
/// records folded (the kept detail and the items beyond the cap alike), the socket table's
/// view and the capture's summary.
struct Sources<'a> {
    dials: Option<&'a DialFold>,
    requests: &'a RequestFold,
    servers: Option<&'a ServerFold>,
    sockets: Option<&'a SocketsOutcome>,
    capture: Option<&'a CaptureOutcome>,
    wire: Option<&'a CaptureFold>,
}

/// Every list of a run folded: its kept records, merged with the items the collectors folded
/// beyond the detail cap. Every figure is computed from these, so it is exact whatever the cap.
struct Folds {
    requests: RequestFold,
    /// `None` without a client source.
    dials: Option<DialFold>,
    /// `None` without an embedded server.
    servers: Option<ServerFold>,
    /// `None` without a capture.
    capture: Option<CaptureFold>,
}

impl Folds {
    fn of(raw: &RawRun, servers: Option<&[ServerConnection]>) -> Folds {
        let mut requests = RequestFold::of(&raw.requests);
        requests.merge(&raw.dropped.requests.total());
        let dials = raw.dials.as_deref().map(|dials| {
            let mut fold = DialFold::of(dials);
            fold.merge(&raw.dropped.dials.total());
            fold
        });
        // The 4-tuples of a server fold are not figures: any address does for the listener.
        let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let servers = servers.map(|servers| {
            let mut fold = ServerFold::of(servers, unspecified);
            fold.merge(&raw.dropped.servers.total());
            fold
        });
        let capture = raw.capture.as_ref().map(|capture| {
            let mut fold = CaptureFold::of(&capture.connections);
            fold.merge(&capture.dropped.folds.total());
            fold
        });
        Folds {
            requests,
            dials,
            servers,
            capture,
        }
    }
}

/// Whether the run's connections were encrypted, so the capture cannot read their requests:
/// the wire or the embedded server saw a TLS handshake.
fn encrypted(wire: Option<&CaptureFold>, servers: Option<&ServerFold>) -> bool {
    wire.is_some_and(|c| c.any_tls) || servers.is_some_and(|s| s.tls.any > 0)
}

/// Connections opened and connections that carried no request, per source, with the warnings
/// they call for (the capture's own, sources that disagree, unused connections explained).
fn connection_counts(sources: &Sources<'_>, warnings: &mut Vec<Warning>) -> (PerSource, PerSource) {
    let opened = connections_opened(sources);
    if let Some(capture) = sources.capture {
        warnings.extend(capture.warnings.iter().map(|message| Warning::Note {
            message: format!("capture: {message}"),
        }));
    }
    warnings.extend(disagreements("connections_opened", &opened));
    // A lower bound above an exact count is still a disagreement.
    if let (Some(seen), Some((exact, source))) = (
        sources.sockets.map(|s| s.distinct_connections),
        opened.best(),
    ) {
        if seen > exact {
            warnings.push(Warning::SourcesDisagree {
                figure: "connections_opened".to_string(),
                first: source,
                first_value: exact,
                second: Source::Sockets,
                second_value: seen,
            });
        }
    }
    if let Some(refused) = sources
        .capture
        .map(|c| c.summary.refused)
        .filter(|&n| n > 0)
    {
        warnings.push(Warning::ConnectionsRefused { count: refused });
    }
    let unused = connections_without_requests(sources);
    warnings.extend(unused_connections_warning(&unused, &opened));
    (opened, unused)
}

/// The socket table's view when it could be read; a warning saying why not otherwise.
fn available_sockets(
    sockets: Option<SocketsOutcome>,
    warnings: &mut Vec<Warning>,
) -> Option<SocketsOutcome> {
    sockets.filter(|s| {
        if !s.available {
            warnings.push(Warning::SourceUnavailable {
                source: Source::Sockets,
                reason: s.unavailable_reason.clone().unwrap_or_default(),
            });
        }
        s.available
    })
}

/// How connections ended, from the wire when it was captured, else from the embedded server;
/// resets get a warning (they leave no TIME_WAIT).
fn closes(
    capture: Option<&CaptureFold>,
    servers: Option<&ServerFold>,
    warnings: &mut Vec<Warning>,
) -> Closes {
    let (closes, source) = match (capture, servers) {
        (Some(capture), _) => (capture.closes, Some(Source::Capture)),
        (None, Some(servers)) => (servers.closes, Some(Source::Server)),
        (None, None) => (Closes::default(), None),
    };
    let closes = Closes { source, ..closes };
    if closes.reset > 0 {
        warnings.push(Warning::ResetsLeaveNoTimeWait {
            resets: closes.reset,
            source: closes.source.unwrap_or(Source::Server),
            causes: capture.map(|c| c.reset_causes),
        });
    }
    closes
}

/// The sentence explaining connections that carried no request, when there are any.
fn unused_connections_warning(unused: &PerSource, opened: &PerSource) -> Option<Warning> {
    let (count, source) = unused.best().filter(|&(n, _)| n > 0)?;
    Some(Warning::ConnectionsWithoutRequests {
        count,
        opened: opened.get(source).unwrap_or(count),
        source,
    })
}

/// One sentence per side whose TIME_WAIT sockets at the end differ from its closes for a
/// reason other than resets (which have their own warning). A server that is not on this
/// machine's loopback keeps its sockets in another socket table: its side is not reconciled,
/// and a note says so.
fn reconciliation_warnings(reconciled: &TimeWaitReconciliation, local: bool) -> Vec<Warning> {
    let remote_closes = reconciled.server.closes;
    let remote = (!local && remote_closes > 0).then(|| Warning::Info {
        message: format!(
            "server side: {remote_closes} close(s) (capture) not reconciled with TIME_WAIT: the server is not on this machine's loopback, so its sockets are in another socket table"
        ),
    });
    [Side::Client, Side::Server]
        .into_iter()
        .filter(|&side| local || side == Side::Client)
        .map(|side| (side, *reconciled.side(side)))
        .filter(|(_, terms)| {
            terms.recycled + terms.expired + terms.simultaneous > 0 || !terms.adds_up()
        })
        .map(|(side, terms)| Warning::TimeWaitReconciled {
            side,
            terms,
            time_wait_secs: reconciled.time_wait_secs,
        })
        .chain(remote)
        .collect()
}

/// The wire's closes reconciled with the final snapshot's TIME_WAIT sockets, when both the
/// capture and a final snapshot of the socket table are there.
fn time_wait_reconciled(
    capture: Option<&CaptureOutcome>,
    sockets: Option<&SocketsOutcome>,
) -> Option<TimeWaitReconciliation> {
    let (capture, sockets) = (capture?, sockets?);
    if sockets.final_snapshot_failed {
        return None;
    }
    let end_at_us = sockets.samples.last()?.at_us;
    if capture.dropped.seen > capture.dropped.kept {
        // Capped: the capture reconciled every connection as it handed it out.
        let tally = capture.dropped.reconcile.total();
        return Some(tally.finish(&sockets.time_wait, end_at_us, TIME_WAIT_SECS));
    }
    Some(reconcile(
        &capture.connections,
        &sockets.time_wait,
        end_at_us,
        TIME_WAIT_SECS,
    ))
}

/// Connections opened, as each source that measured the run counted them.
fn connections_opened(sources: &Sources<'_>) -> PerSource {
    PerSource {
        client: sources.dials.map(|dials| dials.connected),
        server: sources.servers.map(|servers| servers.accepted),
        capture: sources.capture.map(|c| {
            c.summary
                .connections_opened
                .saturating_sub(c.summary.refused)
                .saturating_sub(c.summary.unanswered)
        }),
        // The socket table samples: its count is a lower bound, reported apart.
        sockets: None,
    }
}

/// Attempts whose SYN nobody answered, as each source that can tell counted them: the capture
/// exactly, the socket table as a lower bound (a client socket only ever seen in SYN_SENT).
fn connections_unanswered(sources: &Sources<'_>) -> PerSource {
    PerSource {
        capture: sources.capture.map(|c| c.summary.unanswered),
        sockets: sources.sockets.map(|s| s.unanswered_attempts),
        ..PerSource::default()
    }
}

/// The finding about unanswered SYNs and their cause (the listen-queue counters), or about the
/// counters alone when they rose and no source saw an unanswered SYN.
fn unanswered_warning(
    unanswered: &PerSource,
    listen_queue: Option<&ListenCounters>,
) -> Option<Warning> {
    let seen = unanswered.present().into_iter().find(|&(_, n)| n > 0);
    match (seen, listen_queue) {
        (Some((source, count)), _) => Some(Warning::ConnectionsUnanswered {
            count,
            source,
            listen_overflows: listen_queue.map(|q| q.listen_overflows),
        }),
        (None, Some(q)) if q.listen_overflows > 0 || q.listen_drops > 0 => {
            Some(Warning::ListenQueueOverflowed {
                overflows: q.listen_overflows,
                drops: q.listen_drops,
            })
        }
        _ => None,
    }
}

/// Connections that carried no request, as each source that can tell counted them.
fn connections_without_requests(sources: &Sources<'_>) -> PerSource {
    let Sources {
        dials,
        requests,
        servers,
        wire,
        ..
    } = *sources;
    PerSource {
        client: dials.map(|dials| dials.without_requests(requests)),
        server: servers.map(|s| s.without_requests),
        capture: wire.map(|c| c.without_payload),
        sockets: None,
    }
}

/// Requests per connection, from the server when there is one (it counts HTTP/2 streams too),
/// else from the wire, else from the client's requests grouped by local address.
fn requests_per_connection(sources: &Sources<'_>) -> (Option<Spread>, Option<Source>) {
    let Sources {
        requests,
        servers,
        wire,
        ..
    } = *sources;
    if let Some(servers) = servers {
        return (
            histogram_spread(&servers.requests_per_connection),
            Some(Source::Server),
        );
    }
    if let Some(wire) = wire {
        return (
            histogram_spread(&wire.requests_per_connection),
            Some(Source::Capture),
        );
    }
    let mut by_local = Histogram::default();
    for &n in requests.ok_by_local.values() {
        by_local.add(n);
    }
    (histogram_spread(&by_local), Some(Source::Client))
}

/// Min, median and max of the values a histogram counted.
fn histogram_spread(histogram: &Histogram) -> Option<Spread> {
    let (min, median, max) = histogram.min_median_max()?;
    Some(Spread { min, median, max })
}

/// Requests counted for a run, and by which source.
#[derive(Debug, Default, PartialEq)]
struct RequestCount {
    sent: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    /// `None` when nothing could count them.
    source: Option<Source>,
}

impl RequestCount {
    /// From the client's own outcomes.
    fn from_client(requests: &RequestFold) -> RequestCount {
        RequestCount {
            sent: requests.sent,
            ok: requests.ok,
            errors: requests.errors.clone(),
            source: Some(Source::Client),
        }
    }

    /// Without a client source: requests on the wire (HTTP/1 request heads and HTTP/2 HEADERS
    /// opening a stream; ok: those answered by a final response) on the run's full
    /// connections, or else what the embedded server served. Where the wire cannot see the
    /// requests (TLS encrypts them) and the embedded server served the run, the server counts.
    fn without_client(capture: Option<&CaptureFold>, servers: Option<&ServerFold>) -> RequestCount {
        // The capture cannot read the requests of encrypted connections.
        let capture = capture.filter(|_| !encrypted(capture, servers));
        if let Some(capture) = capture {
            let (sent, ok) = (capture.requests, capture.answered);
            let mut errors = BTreeMap::new();
            if sent > ok {
                errors.insert("no-response".to_string(), sent - ok);
            }
            return RequestCount {
                sent,
                ok,
                errors,
                source: Some(Source::Capture),
            };
        }
        match servers {
            Some(servers) => {
                let served = servers.served;
                RequestCount {
                    sent: served,
                    ok: served,
                    errors: BTreeMap::new(),
                    source: Some(Source::Server),
                }
            }
            None => RequestCount::default(),
        }
    }
}

/// The port-exhaustion forecast for this run's rate of client-closed connections.
fn port_forecast(
    closes: &Closes,
    wall_time_ms: f64,
    sysctls: &PortSysctls,
    target_is_loopback: bool,
) -> Option<PortForecast> {
    if closes.source.is_none() || wall_time_ms <= 0.0 {
        return None;
    }
    let rate = closes.by_client as f64 / (wall_time_ms / 1000.0);
    Some(forecast_ports(&ForecastInput::from_sysctls(
        sysctls,
        rate,
        target_is_loopback,
    )))
}

/// One warning for every source whose count differs from the most trustworthy one.
pub fn disagreements(figure: &str, values: &PerSource) -> Vec<Warning> {
    let present = values.present();
    let Some(&(first, first_value)) = present.first() else {
        return Vec::new();
    };
    present[1..]
        .iter()
        .filter(|&&(_, value)| value != first_value)
        // The socket table is sampled: counting fewer is its nature, not a disagreement.
        .filter(|&&(source, value)| !(source == Source::Sockets && value < first_value))
        .map(|&(second, second_value)| Warning::SourcesDisagree {
            figure: figure.to_string(),
            first,
            first_value,
            second,
            second_value,
        })
        .collect()
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Min, median and max of unsorted values.
pub fn spread(values: &[f64]) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Spread {
        min: sorted[0],
        median,
        max: sorted[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn spreads_take_the_middle_pair_for_even_counts() {
        let s = spread(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
        assert!(spread(&[]).is_none());
    }

    #[test]
    fn without_a_client_the_requests_come_from_the_server() {
        let text = "name = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n";
        let scenario = crate::scenario::parse_str("t.toml", text).unwrap().scenario;
        let connection = |port: u16, requests: u64| ServerConnection {
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            accepted_at_us: 1,
            ended_at_us: Some(2),
            requests,
            end: crate::model::EndState::ClosedByClient,
            error: None,
            protocol: "http1".into(),
            tls: None,
            local: None,
        };
        let report = compute(RawRun {
            name: scenario.name.clone(),
            origin: "observe".into(),
            about: scenario.about.clone(),
            variant: String::new(),
            repetition: 1,
            started_at_us: 1,
            wall_time_ms: 10.0,
            target: "http://127.0.0.1:8080/".into(),
            target_is_loopback: true,
            driven_by: DrivenBy::Observed(crate::report::ObservedRun {
                command: crate::model::ObservedCommand {
                    argv: vec!["client".into()],
                    port: 8080,
                    exit_code: Some(0),
                    signal: None,
                    stopped_by_kalab: false,
                    duration_ms: 9.0,
                },
                serve: Some(scenario.server.clone()),
            }),
            requests: Vec::new(),
            dials: None,
            server_connections: Some(vec![connection(40000, 3), connection(40001, 1)]),
            sockets: None,
            capture: None,
            port_sysctls: PortSysctls::default(),
            notes: Vec::new(),
            listen_queue: None,
            endpoints: Vec::new(),
            dropped: Default::default(),
        });
        assert_eq!(report.connections_opened.client, None);
        assert_eq!(report.connections_opened.server, Some(2));
        assert_eq!((report.requests_sent, report.requests_ok), (4, 4));
        assert_eq!(report.reuse_ratio, Some(2.0));
        assert_eq!(report.closes.by_client, 2);
        assert!(
            !report
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::DeadlineReached { .. })),
            "no pattern was planned: {:?}",
            report.warnings
        );
        assert!(report
            .warnings
            .iter()
            .any(|w| w.to_string().starts_with("requests counted by the server")));
    }

    fn capture_of(connections: Vec<crate::model::ConnectionRecord>) -> CaptureOutcome {
        let counts = crate::capture::PacketCounts::default();
        CaptureOutcome {
            interface: "lo".into(),
            filter: String::new(),
            link_type: None,
            summary: crate::capture::summarize(&connections, &counts),
            connections,
            kernel: Default::default(),
            packets_captured: 0,
            packets_skipped: 0,
            skipped: Default::default(),
            saved_file: None,
            warnings: Vec::new(),
            dropped: Default::default(),
        }
    }

    fn answered(port: u16, requests: u64, tls: bool) -> crate::model::ConnectionRecord {
        let tuple = crate::model::FourTuple::new(
            ([127, 0, 0, 1], port).into(),
            ([127, 0, 0, 1], 8443).into(),
        );
        let mut r = crate::model::ConnectionRecord::new(tuple, 1);
        r.partial = false;
        r.syn_at_us = Some(1);
        r.syn_ack_at_us = Some(2);
        r.packets_to_client = 4;
        r.request_times_us = vec![3; requests as usize];
        r.requests = requests;
        r.responses = requests;
        r.tls_seen = tls;
        r.tls = tls.then_some(crate::model::TlsHandshake {
            kind: crate::model::HandshakeKind::Full,
            version: None,
            alpn: Some("h2".into()),
        });
        r
    }

    fn served(requests: u64) -> ServerConnection {
        ServerConnection {
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
            accepted_at_us: 1,
            ended_at_us: None,
            requests,
            end: crate::model::EndState::OpenAtEnd,
            error: None,
            protocol: "h2".into(),
            tls: None,
            local: None,
        }
    }

    #[test]
    fn where_the_wire_cannot_read_the_requests_the_server_counts_them() {
        let unspecified = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let servers = ServerFold::of(&[served(5)], unspecified);
        let fold = |c: CaptureOutcome| CaptureFold::of(&c.connections);
        let encrypted = fold(capture_of(vec![answered(40000, 0, true)]));
        let counted = RequestCount::without_client(Some(&encrypted), Some(&servers));
        assert_eq!((counted.sent, counted.source), (5, Some(Source::Server)));
        // Without the embedded server nothing can count them: the wire sees only ciphertext.
        let counted = RequestCount::without_client(Some(&encrypted), None);
        assert_eq!((counted.sent, counted.source), (0, None));
        let clear = fold(capture_of(vec![answered(40000, 5, false)]));
        let counted = RequestCount::without_client(Some(&clear), Some(&servers));
        assert_eq!((counted.sent, counted.source), (5, Some(Source::Capture)));
    }

    #[test]
    fn unanswered_syns_are_reported_with_the_listen_queue_as_their_cause() {
        let mut attempt = answered(40001, 0, false);
        attempt.syn_ack_at_us = None;
        attempt.packets_to_client = 0;
        let capture = capture_of(vec![answered(40000, 1, false), attempt]);
        let sources = Sources {
            dials: None,
            requests: &RequestFold::default(),
            servers: None,
            sockets: None,
            capture: Some(&capture),
            wire: Some(&CaptureFold::of(&capture.connections)),
        };
        assert_eq!(connections_opened(&sources).capture, Some(1));
        let unanswered = connections_unanswered(&sources);
        assert_eq!(unanswered.capture, Some(1));
        let overflowed = ListenCounters {
            listen_overflows: 3,
            listen_drops: 3,
        };
        let warning = unanswered_warning(&unanswered, Some(&overflowed)).unwrap();
        assert!(
            warning.to_string().contains("3 listen-queue overflow(s)"),
            "{warning}"
        );
        let none = PerSource {
            capture: Some(0),
            ..PerSource::default()
        };
        assert!(matches!(
            unanswered_warning(&none, Some(&overflowed)),
            Some(Warning::ListenQueueOverflowed { overflows: 3, .. })
        ));
        assert_eq!(
            unanswered_warning(&none, Some(&ListenCounters::default())),
            None
        );
    }

    #[test]
    fn disagreements_name_both_numbers() {
        let values = PerSource {
            client: Some(10),
            server: Some(10),
            capture: Some(11),
            sockets: Some(3),
        };
        let warnings = disagreements("connections_opened", &values);
        assert_eq!(
            warnings.len(),
            2,
            "a sampled socket table counting fewer is no disagreement"
        );
        let text = warnings[0].to_string();
        assert!(
            text.contains("capture counted 11") && text.contains("server counted 10"),
            "{text}"
        );
    }
}
