//! The per-endpoint breakdown: every figure of a run, once per server endpoint (one server
//! address:port) as well as in total.
//!
//! A run has several endpoints when a scenario spreads its requests over several hosts, or when
//! a watched or observed port carries traffic to several servers. Each source's records are
//! split by the server address they name (the client's dial, the embedded server that accepted,
//! the wire's 4-tuple, the socket's remote or local address), and each share goes through the
//! same computation as the whole run, so an endpoint's figures mean exactly what the run's do.
//! Requests that never reached a server (a failed connect) belong to no endpoint: they are in
//! the total only.
//!
//! [`views`] turns a run into its total followed by one [`RunReport`] per endpoint (label
//! `RUN @ ENDPOINT`), which is how the grid, the CSV rows, the comparison sentences and
//! host-qualified expectations (`connections_opened[127.0.0.2] <= 3`) read them.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::compute::{compute, RawRun};
use super::model::{EndpointReport, RunReport};
use crate::capture::{summarize_with, CaptureOutcome, DroppedConnections};
use crate::model::detail::ByEndpoint;
use crate::sockets::SocketsOutcome;

/// Every figure of `raw`, and of each of its server endpoints: what a session reports.
pub fn compute_run(raw: RawRun) -> RunReport {
    let endpoints = per_endpoint(&raw);
    let mut report = compute(raw);
    report.endpoints = endpoints;
    report
}

/// The endpoints of a run: the target's own (in order), then any other server address a source
/// saw, in address order.
pub(crate) fn endpoints_of(raw: &RawRun) -> Vec<SocketAddr> {
    let mut seen: BTreeSet<SocketAddr> = BTreeSet::new();
    let dials = raw.dials.as_deref().unwrap_or_default();
    seen.extend(dials.iter().filter_map(|d| d.remote).map(canonical));
    seen.extend(raw.requests.iter().filter_map(|r| r.remote).map(canonical));
    let servers = raw.server_connections.as_deref().unwrap_or_default();
    seen.extend(servers.iter().filter_map(|c| c.local).map(canonical));
    if let Some(capture) = &raw.capture {
        seen.extend(
            capture
                .connections
                .iter()
                .map(|c| canonical(c.tuple.server)),
        );
    }
    seen.extend(raw.dropped.requests.endpoints());
    seen.extend(raw.dropped.dials.endpoints());
    seen.extend(raw.dropped.servers.endpoints());
    if let Some(capture) = &raw.capture {
        seen.extend(capture.dropped.folds.endpoints());
    }
    if let Some(sockets) = &raw.sockets {
        seen.extend(sockets.by_endpoint.iter().map(|e| canonical(e.server)));
    }
    let mut endpoints: Vec<SocketAddr> = raw.endpoints.iter().copied().map(canonical).collect();
    for addr in seen {
        if !endpoints.contains(&addr) {
            endpoints.push(addr);
        }
    }
    endpoints
}

/// Every endpoint's figures, computed from its share of each source's records.
pub(crate) fn per_endpoint(raw: &RawRun) -> Vec<EndpointReport> {
    let endpoints = endpoints_of(raw);
    let one_port = endpoints.windows(2).all(|w| w[0].port() == w[1].port());
    endpoints
        .iter()
        .map(|&endpoint| {
            let name = if one_port && endpoints.len() > 1 {
                endpoint.ip().to_string()
            } else {
                endpoint.to_string()
            };
            let report = compute(share(raw, endpoint));
            EndpointReport {
                endpoint,
                name,
                requests_sent: report.requests_sent,
                requests_ok: report.requests_ok,
                requests_failed: report.requests_failed,
                errors: report.errors,
                connections_opened: report.connections_opened,
                connections_seen_lower_bound: report.connections_seen_lower_bound,
                connections_refused: report.connections_refused,
                connections_already_open: report.connections_already_open,
                reset_causes: report.reset_causes,
                connections_without_requests: report.connections_without_requests,
                reuse_ratio: report.reuse_ratio,
                requests_per_connection: report.requests_per_connection,
                requests_per_connection_source: report.requests_per_connection_source,
                latency_p50_ms: report.latency_p50_ms,
                latency_p99_ms: report.latency_p99_ms,
                closes: report.closes,
                time_wait: report.time_wait,
                time_wait_reconciled: report.time_wait_reconciled,
                tls: report.tls,
            }
        })
        .collect()
}

/// The part of `raw` that talks to `endpoint`.
fn share(raw: &RawRun, endpoint: SocketAddr) -> RawRun {
    let at = |addr: Option<SocketAddr>| addr.map(canonical) == Some(endpoint);
    RawRun {
        name: raw.name.clone(),
        origin: raw.origin.clone(),
        about: raw.about.clone(),
        variant: raw.variant.clone(),
        repetition: raw.repetition,
        started_at_us: raw.started_at_us,
        wall_time_ms: raw.wall_time_ms,
        target: endpoint.to_string(),
        target_is_loopback: raw.target_is_loopback,
        driven_by: raw.driven_by.clone(),
        requests: raw
            .requests
            .iter()
            .filter(|r| at(r.remote))
            .cloned()
            .collect(),
        dials: raw
            .dials
            .as_ref()
            .map(|dials| dials.iter().filter(|d| at(d.remote)).cloned().collect()),
        server_connections: raw
            .server_connections
            .as_ref()
            .map(|servers| servers.iter().filter(|c| at(c.local)).cloned().collect()),
        sockets: raw.sockets.as_ref().map(|s| sockets_share(s, endpoint)),
        capture: raw.capture.as_ref().map(|c| capture_share(c, endpoint)),
        port_sysctls: raw.port_sysctls,
        notes: Vec::new(),
        endpoints: Vec::new(),
        // The kernel's listen counters belong to the machine, not to one endpoint.
        listen_queue: None,
        dropped: crate::model::detail::Dropped {
            requests: ByEndpoint::single(endpoint, raw.dropped.requests.of(endpoint)),
            dials: ByEndpoint::single(endpoint, raw.dropped.dials.of(endpoint)),
            servers: ByEndpoint::single(endpoint, raw.dropped.servers.of(endpoint)),
            capped: Vec::new(),
        },
    }
}

/// The socket table's figures for one endpoint (samples kept: they date the final snapshot).
fn sockets_share(sockets: &SocketsOutcome, endpoint: SocketAddr) -> SocketsOutcome {
    let mine = sockets
        .by_endpoint
        .iter()
        .find(|e| canonical(e.server) == endpoint);
    SocketsOutcome {
        time_wait: mine.map(|e| e.time_wait).unwrap_or_default(),
        distinct_connections: mine.map_or(0, |e| e.distinct_connections),
        unanswered_attempts: mine.map_or(0, |e| e.unanswered_attempts),
        by_endpoint: mine.into_iter().copied().collect(),
        ..sockets.clone()
    }
}

/// The capture's connections to one endpoint, summarised alone.
fn capture_share(capture: &CaptureOutcome, endpoint: SocketAddr) -> CaptureOutcome {
    let connections: Vec<_> = capture
        .connections
        .iter()
        .filter(|c| canonical(c.tuple.server) == endpoint)
        .cloned()
        .collect();
    let dropped = DroppedConnections {
        folds: ByEndpoint::single(endpoint, capture.dropped.folds.of(endpoint)),
        reconcile: ByEndpoint::single(endpoint, capture.dropped.reconcile.of(endpoint)),
        // Whether the whole capture was capped (it decides what can be reconciled).
        kept: capture.dropped.kept,
        seen: capture.dropped.seen,
    };
    let summary = summarize_with(&connections, &dropped, &Default::default());
    CaptureOutcome {
        connections,
        summary,
        warnings: Vec::new(),
        dropped,
        ..capture.clone()
    }
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Whether the run's breakdown is worth showing beside its total: more than one endpoint.
pub fn has_breakdown(run: &RunReport) -> bool {
    run.endpoints.len() > 1
}

/// The run restricted to one endpoint: every figure replaced by the endpoint's, labelled
/// `RUN @ NAME`, with the record lists left out (they belong to the total).
pub fn view(run: &RunReport, endpoint: &EndpointReport) -> RunReport {
    RunReport {
        target: endpoint.endpoint.to_string(),
        requests_sent: endpoint.requests_sent,
        requests_ok: endpoint.requests_ok,
        requests_failed: endpoint.requests_failed,
        errors: endpoint.errors.clone(),
        connections_opened: endpoint.connections_opened,
        connections_seen_lower_bound: endpoint.connections_seen_lower_bound,
        connections_refused: endpoint.connections_refused,
        connections_already_open: endpoint.connections_already_open,
        reset_causes: endpoint.reset_causes,
        connections_without_requests: endpoint.connections_without_requests,
        reuse_ratio: endpoint.reuse_ratio,
        requests_per_connection: endpoint.requests_per_connection,
        requests_per_connection_source: endpoint.requests_per_connection_source,
        latency_p50_ms: endpoint.latency_p50_ms,
        latency_p99_ms: endpoint.latency_p99_ms,
        closes: endpoint.closes,
        time_wait: endpoint.time_wait,
        time_wait_reconciled: endpoint.time_wait_reconciled,
        tls: endpoint.tls,
        port_forecast: None,
        warnings: Vec::new(),
        requests: Vec::new(),
        connections: Vec::new(),
        dials: Vec::new(),
        server_connections: Vec::new(),
        sockets: None,
        capture: None,
        endpoints: Vec::new(),
        endpoint: Some(endpoint.name.clone()),
        requests_per_s: super::compute::per_second(Some(endpoint.requests_sent), run.drive_ms),
        connections_per_s: super::compute::per_second(
            endpoint.connections_opened.best().map(|(n, _)| n),
            run.drive_ms,
        ),
        ..run.clone()
    }
}

/// Every run followed by its per-endpoint views, when it has more than one endpoint.
pub fn views(runs: &[RunReport]) -> Vec<RunReport> {
    let mut all = Vec::with_capacity(runs.len());
    for run in runs {
        all.push(run.clone());
        if has_breakdown(run) {
            all.extend(run.endpoints.iter().map(|e| view(run, e)));
        }
    }
    all
}

/// The endpoint of `run` that `name` names, if any.
pub fn find<'r>(run: &'r RunReport, name: &str) -> Option<&'r EndpointReport> {
    run.endpoints.iter().find(|e| e.is_named(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Closes;
    use crate::report::export::tests::sample_run;
    use crate::report::model::PerSource;
    use std::collections::BTreeMap;

    #[test]
    fn endpoints_are_named_by_name_ip_or_address() {
        let report = EndpointReport {
            endpoint: "127.0.0.2:9000".parse().unwrap(),
            name: "127.0.0.2".into(),
            requests_sent: 0,
            requests_ok: 0,
            requests_failed: 0,
            errors: BTreeMap::new(),
            connections_opened: PerSource::default(),
            connections_seen_lower_bound: None,
            connections_refused: None,
            connections_already_open: None,
            reset_causes: None,
            connections_without_requests: PerSource::default(),
            reuse_ratio: None,
            requests_per_connection: None,
            requests_per_connection_source: None,
            latency_p50_ms: None,
            latency_p99_ms: None,
            closes: Closes::default(),
            time_wait: None,
            time_wait_reconciled: None,
            tls: None,
        };
        assert!(report.is_named("127.0.0.2"));
        assert!(report.is_named("127.0.0.2:9000"));
        assert!(!report.is_named("127.0.0.3"));
        let mut run = sample_run("s", "", 2);
        run.endpoints = vec![report.clone(), report];
        run.endpoints[1].name = "127.0.0.3".into();
        run.endpoints[1].endpoint = "127.0.0.3:9000".parse().unwrap();
        run.endpoints[1].connections_opened.client = Some(7);
        let all = views(&[run]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].endpoint.as_deref(), Some("127.0.0.3"));
        assert_eq!(all[2].connections_opened.client, Some(7));
        assert!(
            all[2].label().ends_with("@ 127.0.0.3"),
            "{}",
            all[2].label()
        );
    }
}
