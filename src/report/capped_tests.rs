//! The detail cap changes no figure: one set of observations, computed with every record kept
//! and with all but the first few folded as the collectors fold them, gives the same figures
//! (total and per endpoint).

use std::net::SocketAddr;

use super::compute::RawRun;
use super::endpoints::compute_run;
use crate::capture::{summarize_with, CaptureOutcome, DroppedConnections, PacketCounts};
use crate::model::detail::{ByEndpoint, DialRecords, Dropped, Merge, RequestLog, ServerFold};
use crate::model::{
    ConnectionRecord, Dial, EndState, FourTuple, HandshakeKind, RequestError, RequestOutcome,
    ServerConnection, Side, TlsHandshake,
};
use crate::sockets::PortSysctls;

const CONNECTIONS: u16 = 300;
const CAP: usize = 50;

fn server(i: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1 + (i % 2) as u8], 8080))
}

/// 120 client ports for the first half, 120 others for the second: some 4-tuples carry two
/// connections in turn (recycled), the first half's last ones expire before the end.
fn client(i: u16) -> SocketAddr {
    let half = if i < CONNECTIONS / 2 { 0 } else { 1000 };
    SocketAddr::from(([127, 0, 0, 1], 30000 + half + i % 120))
}

/// Varied observations: two endpoints, 0 to 3 requests per connection, failures, every kind of
/// end, TLS on some.
fn observations() -> (
    Vec<RequestOutcome>,
    Vec<Dial>,
    Vec<ServerConnection>,
    Vec<ConnectionRecord>,
) {
    let (mut requests, mut dials, mut servers, mut wire) = (vec![], vec![], vec![], vec![]);
    let ends = [
        EndState::ClosedByClient,
        EndState::ClosedByServer,
        EndState::Reset,
        EndState::OpenAtEnd,
        EndState::ClosedSimultaneously,
    ];
    for i in 0..CONNECTIONS {
        // Spread over 120 s: a port comes back 48 s later, within the TIME_WAIT period.
        let at = 1_000_000 + u64::from(i) * 400_000;
        let n = u64::from(i % 4);
        let tls = (i % 7 == 0).then_some(TlsHandshake {
            kind: if i % 3 == 0 {
                HandshakeKind::Resumed
            } else {
                HandshakeKind::Full
            },
            version: None,
            alpn: None,
        });
        let failed = i % 11 == 0;
        dials.push(Dial {
            at_us: at,
            connect_us: 40,
            local: (!failed).then(|| client(i)),
            error: failed.then(|| "refused".to_string()),
            tls: tls.clone(),
            remote: (!failed).then(|| server(i)),
        });
        for k in 0..n {
            let error = (k == 2).then(|| RequestError {
                kind: "timeout".into(),
                detail: "timed out".into(),
            });
            requests.push(RequestOutcome {
                worker: u32::from(i % 3),
                index: k as u32,
                started_at_us: at + k * 100,
                latency_us: 100 + u64::from(i) * 7 % 900 + k,
                status: error.is_none().then_some(200),
                bytes_read: 11,
                body: None,
                local: (!failed).then(|| client(i)),
                error,
                connection: None,
                reused: None,
                remote: (!failed).then(|| server(i)),
            });
        }
        if failed {
            continue;
        }
        let end = ends[usize::from(i) % ends.len()];
        servers.push(ServerConnection {
            peer: client(i),
            accepted_at_us: at,
            ended_at_us: Some(at + 900),
            requests: n,
            end,
            error: None,
            protocol: "http1".into(),
            tls: tls.clone(),
            local: Some(server(i)),
        });
        let mut r = ConnectionRecord::new(FourTuple::new(client(i), server(i)), at);
        r.partial = i % 13 == 5;
        r.syn_at_us = Some(at);
        r.syn_ack_at_us = (i % 17 != 3).then_some(at + 10);
        r.packets_to_client = u64::from(i % 17 != 3) * 4;
        r.payload_bytes_to_server = n * 80;
        r.requests = n;
        r.request_times_us = vec![at; n as usize];
        r.responses = n.saturating_sub(u64::from(i % 5 == 0));
        r.end = end;
        r.active_closer = Some(if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        });
        r.rst_at_us = (end == EndState::Reset).then_some(at + 500);
        r.rst_from = r.rst_at_us.map(|_| Side::Client);
        r.tls_seen = tls.is_some();
        r.tls = tls;
        wire.push(r);
    }
    (requests, dials, servers, wire)
}

fn raw(
    requests: Vec<RequestOutcome>,
    dials: Vec<Dial>,
    servers: Vec<ServerConnection>,
    capture: CaptureOutcome,
    dropped: Dropped,
) -> RawRun {
    let text =
        "name = \"t\"\n[pattern]\nkind = \"concurrent\"\nworkers = 3\nrequests_per_worker = 150\n";
    let scenario = crate::scenario::parse_str("t.toml", text).unwrap().scenario;
    RawRun {
        name: "t".into(),
        origin: "t.toml".into(),
        about: String::new(),
        variant: String::new(),
        repetition: 1,
        started_at_us: 1_000_000,
        wall_time_ms: 400.0,
        target: "http://127.0.0.1:8080/".into(),
        target_is_loopback: true,
        driven_by: super::DrivenBy::Settings(Box::new(scenario)),
        requests,
        dials: Some(dials),
        server_connections: Some(servers),
        sockets: Some(sockets()),
        capture: Some(capture),
        port_sysctls: PortSysctls::default(),
        notes: Vec::new(),
        listen_queue: None,
        endpoints: vec![server(0), server(1)],
        dropped,
    }
}

/// A final snapshot of the socket table at the end, with a few TIME_WAIT sockets.
fn sockets() -> crate::sockets::SocketsOutcome {
    let mut sockets = crate::sockets::SocketsOutcome::unavailable("", std::time::Duration::ZERO);
    sockets.available = true;
    sockets.unavailable_reason = None;
    sockets.time_wait.time_wait_client_end = 7;
    sockets.time_wait.time_wait_server_end = 5;
    sockets.samples = vec![crate::sockets::TimeWaitSample {
        at_us: 1_000_000 + u64::from(CONNECTIONS) * 400_000 + 1_000_000,
        client: Default::default(),
        server: Default::default(),
    }];
    sockets
}

fn capture(connections: Vec<ConnectionRecord>, dropped: DroppedConnections) -> CaptureOutcome {
    let counts = PacketCounts::default();
    CaptureOutcome {
        interface: "lo".into(),
        filter: String::new(),
        link_type: None,
        summary: summarize_with(&connections, &dropped, &counts),
        connections,
        kernel: Default::default(),
        packets_captured: 0,
        packets_skipped: 0,
        skipped: Default::default(),
        saved_file: None,
        warnings: Vec::new(),
        dropped,
    }
}

/// The figures of a report: everything but the detail lists and what describes them.
fn figures(report: &super::RunReport) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap();
    let map = value.as_object_mut().unwrap();
    for detail in [
        "requests",
        "connections",
        "dials",
        "server_connections",
        "capture",
        "warnings",
        "detail_capped",
    ] {
        map.remove(detail);
    }
    value
}

#[test]
fn every_figure_is_the_same_with_a_detail_cap() {
    let (requests, dials, servers, wire) = observations();
    let whole = compute_run(raw(
        requests.clone(),
        dials.clone(),
        servers.clone(),
        capture(wire.clone(), DroppedConnections::default()),
        Dropped::default(),
    ));
    assert!(whole.detail_capped.is_empty());

    // As the collectors record them: each list keeps its first CAP items, folds the rest.
    let mut request_log = RequestLog::new(CAP);
    requests.into_iter().for_each(|r| request_log.push(r));
    let (requests, request_folds, requests_capped) = request_log.into_parts();
    let mut dial_log = DialRecords::new(CAP);
    dials.into_iter().for_each(|d| dial_log.push(d));
    let mut server_folds: ByEndpoint<ServerFold> = ByEndpoint::default();
    for c in &servers[CAP..] {
        server_folds
            .at(c.local)
            .merge(&ServerFold::of([c], server(0)));
    }
    let mut wire_dropped = DroppedConnections {
        kept: CAP as u64,
        seen: wire.len() as u64,
        ..Default::default()
    };
    wire[CAP..].iter().for_each(|r| wire_dropped.add(r));
    // The assembler reconciles every record it hands out, kept or not, when capped.
    for r in &wire {
        let at = wire_dropped.reconcile.at(Some(r.tuple.server));
        at.add(r, crate::sockets::forecast::TIME_WAIT_SECS);
    }
    let dropped = Dropped {
        requests: request_folds,
        dials: dial_log.dropped().clone(),
        servers: server_folds,
        capped: requests_capped
            .into_iter()
            .chain(dial_log.capped())
            .collect(),
    };
    let capped = compute_run(raw(
        requests,
        dial_log.kept().to_vec(),
        servers[..CAP].to_vec(),
        capture(wire[..CAP].to_vec(), wire_dropped),
        dropped,
    ));

    assert_eq!(figures(&capped), figures(&whole));
    let reconciled = whole.time_wait_reconciled.expect("reconciled");
    assert!(reconciled.client.recycled > 0 && reconciled.client.expired > 0);
    assert_eq!(capped.endpoints.len(), 2);
    assert_eq!(capped.connections_opened, whole.connections_opened);
    assert_eq!(capped.requests.len(), CAP);
    let lists: Vec<&str> = capped
        .detail_capped
        .iter()
        .map(|c| c.list.as_str())
        .collect();
    assert_eq!(lists, ["requests", "dials", "capture_connections"]);
    assert!(capped
        .warnings
        .iter()
        .any(|w| w.to_string().starts_with("detail capped")));
}
