//! The per-connection view of a run: one row per connection, as every source that saw it knows
//! it, with one id the requests refer to.
//!
//! Pure. A connection is named by its client address (the server address is the run's); Linux
//! hands a 4-tuple out again within one run, so on one client address each source's
//! connections are taken in start order and matched by rank. Each request belongs to the
//! connection of its client address that opened last before the request ended (a request is
//! sent before the connection it waits for is dialled).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::capture::CaptureOutcome;
use crate::model::{Dial, EndState, HandshakeKind, RequestOutcome, ServerConnection, Side, Source};

/// One connection of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnectionView {
    /// Its id in this run (1-based, in start order); requests carry it as `connection`.
    pub id: u32,
    /// The client's address (its local port names the connection).
    pub client: SocketAddr,
    /// The sources that saw it.
    pub seen_by: Vec<Source>,
    /// When it opened, in microseconds since the Unix epoch.
    pub opened_at_us: u64,
    /// Who said when it opened: the capture (its SYN), else the client (its dial), else the server.
    pub opened_source: Source,
    /// Requests it carried.
    pub requests: u64,
    /// Who counted them: the client (its own requests), else the server, else the capture.
    pub requests_source: Source,
    /// Before each reuse, how long it sat idle since the previous request ended, in ms (client
    /// source; empty without it).
    pub idle_before_reuse_ms: Vec<f64>,
    /// The side that sent the first FIN, when the wire saw one.
    pub closer: Option<Side>,
    /// How it ended.
    pub end: EndState,
    /// Who said how it ended: the capture, else the server.
    pub end_source: Option<Source>,
    /// Its TLS handshake as each source that saw one recorded it (HTTPS only), in the order
    /// capture, server, client: they agree when every kind is the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<(Source, HandshakeKind)>,
}

impl ConnectionView {
    /// Whether the sources that saw this connection's TLS handshake disagree on its kind.
    pub fn tls_disagrees(&self) -> bool {
        self.tls.windows(2).any(|w| w[0].1 != w[1].1)
    }
}

/// One source's record of a connection, reduced to what the view needs.
#[derive(Clone, Copy)]
struct Sighting {
    source: Source,
    started_at_us: u64,
    requests: Option<u64>,
    closer: Option<Side>,
    end: Option<EndState>,
    tls: Option<HandshakeKind>,
}

/// Builds the view and tags every request with its connection id (and whether it was a reuse).
pub fn connection_views(
    dials: &[Dial],
    requests: &mut [RequestOutcome],
    servers: Option<&[ServerConnection]>,
    capture: Option<&CaptureOutcome>,
) -> Vec<ConnectionView> {
    let mut by_client: BTreeMap<SocketAddr, Vec<Vec<Sighting>>> = BTreeMap::new();
    let mut add = |client: SocketAddr, sightings: Vec<Sighting>| {
        let ranks = by_client.entry(client).or_default();
        for (rank, sighting) in sightings.into_iter().enumerate() {
            if ranks.len() <= rank {
                ranks.resize(rank + 1, Vec::new());
            }
            ranks[rank].push(sighting);
        }
    };
    for (client, sightings) in group(capture_sightings(capture)) {
        add(client, sightings);
    }
    for (client, sightings) in group(server_sightings(servers)) {
        add(client, sightings);
    }
    for (client, sightings) in group(dial_sightings(dials)) {
        add(client, sightings);
    }
    let mut views: Vec<ConnectionView> = by_client
        .into_iter()
        .flat_map(|(client, ranks)| ranks.into_iter().map(move |seen| view(client, &seen)))
        .collect();
    views.sort_by_key(|v| (v.opened_at_us, v.client));
    for (index, view) in views.iter_mut().enumerate() {
        view.id = u32::try_from(index + 1).unwrap_or(u32::MAX);
    }
    tag_requests(&mut views, requests);
    views
}

/// Sightings grouped by client address, each group in start order.
fn group(sightings: Vec<(SocketAddr, Sighting)>) -> BTreeMap<SocketAddr, Vec<Sighting>> {
    let mut groups: BTreeMap<SocketAddr, Vec<Sighting>> = BTreeMap::new();
    for (client, sighting) in sightings {
        groups.entry(client).or_default().push(sighting);
    }
    for group in groups.values_mut() {
        group.sort_by_key(|s| s.started_at_us);
    }
    groups
}

fn capture_sightings(capture: Option<&CaptureOutcome>) -> Vec<(SocketAddr, Sighting)> {
    let connections = capture
        .map(|c| c.connections.as_slice())
        .unwrap_or_default();
    connections
        .iter()
        .filter(|c| c.opened())
        .map(|c| {
            let sighting = Sighting {
                source: Source::Capture,
                started_at_us: c.started_at_us(),
                requests: Some(c.requests),
                closer: c.active_closer,
                end: Some(c.end),
                tls: c.tls.as_ref().map(|t| t.kind),
            };
            (c.tuple.client, sighting)
        })
        .collect()
}

fn server_sightings(servers: Option<&[ServerConnection]>) -> Vec<(SocketAddr, Sighting)> {
    servers
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let sighting = Sighting {
                source: Source::Server,
                started_at_us: c.accepted_at_us,
                requests: Some(c.requests),
                closer: None,
                end: Some(c.end),
                tls: c.tls.as_ref().map(|t| t.kind),
            };
            (c.peer, sighting)
        })
        .collect()
}

fn dial_sightings(dials: &[Dial]) -> Vec<(SocketAddr, Sighting)> {
    dials
        .iter()
        .filter_map(|d| {
            let sighting = Sighting {
                source: Source::Client,
                started_at_us: d.at_us,
                requests: None,
                closer: None,
                end: None,
                tls: d.tls.as_ref().map(|t| t.kind),
            };
            Some((d.local?, sighting))
        })
        .collect()
}

/// One connection from what each source saw of it (the capture first, then the server, then
/// the client, for every column some of them know).
fn view(client: SocketAddr, seen: &[Sighting]) -> ConnectionView {
    let from = |source: Source| seen.iter().find(|s| s.source == source);
    let opened = [Source::Capture, Source::Client, Source::Server]
        .into_iter()
        .find_map(from)
        .unwrap_or(&seen[0]);
    let ended = [Source::Capture, Source::Server]
        .into_iter()
        .find_map(|source| from(source).filter(|s| s.end.is_some()));
    let counted = [Source::Server, Source::Capture]
        .into_iter()
        .find_map(|source| from(source).filter(|s| s.requests.is_some()));
    ConnectionView {
        id: 0,
        client,
        seen_by: seen.iter().map(|s| s.source).collect(),
        opened_at_us: opened.started_at_us,
        opened_source: opened.source,
        requests: counted.and_then(|s| s.requests).unwrap_or(0),
        requests_source: counted.map_or(Source::Client, |s| s.source),
        idle_before_reuse_ms: Vec::new(),
        closer: from(Source::Capture).and_then(|s| s.closer),
        end: ended.and_then(|s| s.end).unwrap_or(EndState::OpenAtEnd),
        end_source: ended.map(|s| s.source),
        tls: [Source::Capture, Source::Server, Source::Client]
            .into_iter()
            .filter_map(|source| Some((source, from(source)?.tls?)))
            .collect(),
    }
}

/// Tags each request with the connection of its client address that opened last before it ended,
/// and fills the client's own counts and idle gaps where it is the only source.
fn tag_requests(views: &mut [ConnectionView], requests: &mut [RequestOutcome]) {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| requests[i].started_at_us);
    // Each client address's views, in the views' order (opening order): a request's lookup is
    // then a binary search among its own address's few views, not a scan of them all.
    let mut by_client: HashMap<SocketAddr, Vec<usize>> = HashMap::new();
    for (index, view) in views.iter().enumerate() {
        by_client.entry(view.client).or_default().push(index);
    }
    let mut last_end_us: BTreeMap<u32, u64> = BTreeMap::new();
    for i in order {
        let request = &mut requests[i];
        let Some(local) = request.local else {
            continue;
        };
        // A request sent before its connection was dialled still ends on it.
        let ended_at_us = request.started_at_us.saturating_add(request.latency_us);
        // The latest view of that address opened by the request's end.
        let Some(&index) = by_client.get(&local).and_then(|indices| {
            let opened = indices.partition_point(|&v| views[v].opened_at_us <= ended_at_us);
            opened.checked_sub(1).map(|last| &indices[last])
        }) else {
            continue;
        };
        let view = &mut views[index];
        let previous_end = last_end_us.insert(
            view.id,
            request.started_at_us.saturating_add(request.latency_us),
        );
        request.connection = Some(view.id);
        request.reused = Some(previous_end.is_some());
        if let Some(end) = previous_end {
            view.idle_before_reuse_ms
                .push(request.started_at_us.saturating_sub(end) as f64 / 1000.0);
        }
        if view.requests_source == Source::Client {
            view.requests += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dial(at_us: u64, port: u16) -> Dial {
        Dial {
            at_us,
            connect_us: 10,
            local: Some(SocketAddr::from(([127, 0, 0, 1], port))),
            error: None,
            tls: None,
            remote: None,
        }
    }

    fn request(started_at_us: u64, port: Option<u16>) -> RequestOutcome {
        RequestOutcome {
            worker: 0,
            index: 0,
            started_at_us,
            latency_us: 100,
            status: Some(200),
            bytes_read: 0,
            body: None,
            local: port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            error: None,
            connection: None,
            reused: None,
            remote: None,
        }
    }

    #[test]
    fn requests_go_to_the_latest_connection_of_their_address_opened_by_their_end() {
        // Port 5000 is used twice (a reused 4-tuple), port 6000 once.
        let dials = [dial(1_000, 5000), dial(2_000, 6000), dial(10_000, 5000)];
        let mut requests = [
            request(1_100, Some(5000)),
            request(1_500, Some(5000)),
            request(2_100, Some(6000)),
            // Sent just before the second 5000 connection opened, ending after: on it.
            request(9_950, Some(5000)),
            request(10_500, Some(5000)),
            // Before any connection of its address: untagged.
            request(500, Some(6000)),
            // No address (a failed dial): untagged.
            request(3_000, None),
            // An address no source saw.
            request(3_000, Some(7000)),
        ];
        let views = connection_views(&dials, &mut requests, None, None);
        let ids: Vec<u32> = views.iter().map(|v| v.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let tags: Vec<(Option<u32>, Option<bool>)> =
            requests.iter().map(|r| (r.connection, r.reused)).collect();
        assert_eq!(
            tags,
            [
                (Some(1), Some(false)),
                (Some(1), Some(true)),
                (Some(2), Some(false)),
                (Some(3), Some(false)),
                (Some(3), Some(true)),
                (None, None),
                (None, None),
                (None, None),
            ]
        );
        let counts: Vec<u64> = views.iter().map(|v| v.requests).collect();
        assert_eq!(
            counts,
            [2, 1, 2],
            "the client counts where it is the only source"
        );
        assert_eq!(
            views[0].idle_before_reuse_ms,
            [(1_500.0 - 1_200.0) / 1000.0]
        );
    }
}
