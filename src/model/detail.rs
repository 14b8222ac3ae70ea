//! Detail kept up to a cap, aggregates exact beyond it: how a run's memory stays bounded.
//!
//! Every source records one item per request or connection (the client's requests and dials,
//! the embedded server's connections, the wire's connection records). A run keeps the first
//! [`DETAIL_CAP`] items of each list as detail (for the per-connection view, the timeline and
//! the exports); every item beyond it is folded, as it arrives, into that source's fold (a
//! [`RequestFold`], a [`DialFold`], a [`ServerFold`], or the capture's own), which holds exactly
//! what the report's figures need: counts, sums, extremes, exact histograms of integer values,
//! and maps keyed by local address (bounded by the addresses a machine has, not by the run).
//! The report computes every figure from the kept detail folded the same way and merged with
//! these folds, so every count stays exact whatever the cap; what a capped list cannot give
//! (the view of each connection beyond the cap) is left out, and the report says so
//! ([`DetailCapped`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::connection::{Closes, EndState, FourTuple};
use super::records::{Dial, RequestOutcome, ServerConnection};
use super::source::Source;
use super::tls::{HandshakeKind, TlsHandshake};

/// How many items of each detail list a run keeps by default (requests, dials, server
/// connections, captured connections: each list apart). Beyond it, items are folded into exact
/// aggregates and dropped.
pub const DETAIL_CAP: usize = 10_000;

/// A list kept up to a cap: the first `cap` items pushed, and how many were pushed in all.
#[derive(Debug, Clone)]
pub struct Capped<T> {
    items: Vec<T>,
    seen: u64,
    cap: usize,
}

impl<T> Capped<T> {
    /// An empty list that keeps at most `cap` items.
    pub fn new(cap: usize) -> Self {
        Capped {
            items: Vec::new(),
            seen: 0,
            cap,
        }
    }

    /// Keeps `item` if there is room; gives it back otherwise, for the caller to fold.
    pub fn push(&mut self, item: T) -> Option<T> {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.push(item);
            None
        } else {
            Some(item)
        }
    }

    /// The items kept, in the order they were pushed.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The items kept, mutably (for sorting).
    pub fn items_mut(&mut self) -> &mut Vec<T> {
        &mut self.items
    }

    /// Items pushed in all, kept or not.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The kept items, taken out.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

/// What a fold needs to be combined with another fold of the same kind.
pub trait Merge: Default {
    /// Adds everything `other` counted.
    fn merge(&mut self, other: &Self);
}

/// An exact histogram of integer values (count per distinct value): exact percentiles and
/// medians in memory that grows with the distinct values, never with the count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram(BTreeMap<u64, u64>);

impl Histogram {
    /// Counts one value.
    pub fn add(&mut self, value: u64) {
        *self.0.entry(value).or_default() += 1;
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// The `k`-th smallest value (0-based), if there are that many.
    fn nth(&self, k: u64) -> Option<u64> {
        let mut seen = 0;
        for (&value, &count) in &self.0 {
            seen += count;
            if seen > k {
                return Some(value);
            }
        }
        None
    }

    /// Nearest-rank percentile `p` (0-100).
    pub fn percentile(&self, p: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as u64;
        self.nth(rank.clamp(1, n) - 1)
    }

    /// Smallest, median (the mean of the two middle values for an even count) and largest.
    pub fn min_median_max(&self) -> Option<(f64, f64, f64)> {
        let n = self.count();
        let min = *self.0.keys().next()?;
        let max = *self.0.keys().next_back()?;
        let (lo, hi) = (self.nth((n - 1) / 2)?, self.nth(n / 2)?);
        Some((min as f64, (lo as f64 + hi as f64) / 2.0, max as f64))
    }
}

impl Merge for Histogram {
    fn merge(&mut self, other: &Self) {
        for (&value, &count) in &other.0 {
            *self.0.entry(value).or_default() += count;
        }
    }
}

/// Full, full-after-HelloRetryRequest and resumed TLS handshakes, and connections that had any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeCounts {
    /// Full handshakes (HelloRetryRequest ones included).
    pub full: u64,
    /// Of `full`, those after a HelloRetryRequest.
    pub full_hrr: u64,
    /// Resumed handshakes.
    pub resumed: u64,
    /// Connections with a handshake of any kind.
    pub any: u64,
}

impl HandshakeCounts {
    /// Counts one connection's handshake, if it had one.
    pub fn add(&mut self, handshake: Option<&TlsHandshake>) {
        let Some(handshake) = handshake else { return };
        self.any += 1;
        match handshake.kind {
            HandshakeKind::Full => self.full += 1,
            HandshakeKind::FullHrr => {
                self.full += 1;
                self.full_hrr += 1;
            }
            HandshakeKind::Resumed => self.resumed += 1,
        }
    }
}

impl Merge for HandshakeCounts {
    fn merge(&mut self, other: &Self) {
        self.full += other.full;
        self.full_hrr += other.full_hrr;
        self.resumed += other.resumed;
        self.any += other.any;
    }
}

/// Adds one connection's end to `closes` (its source left as it is).
pub fn add_end(closes: &mut Closes, end: EndState) {
    match end {
        EndState::ClosedByClient => closes.by_client += 1,
        EndState::ClosedByServer => closes.by_server += 1,
        EndState::Reset => closes.reset += 1,
        EndState::OpenAtEnd => closes.open_at_end += 1,
        EndState::ClosedSimultaneously => closes.simultaneous += 1,
    }
}

/// Adds `other`'s counts to `closes`.
pub fn merge_closes(closes: &mut Closes, other: &Closes) {
    closes.by_client += other.by_client;
    closes.by_server += other.by_server;
    closes.reset += other.reset;
    closes.open_at_end += other.open_at_end;
    closes.simultaneous += other.simultaneous;
}

/// Folds kept apart per server endpoint (canonical address; `None`: no endpoint, e.g. a
/// request whose connect failed), so the per-endpoint breakdown stays exact too.
#[derive(Debug, Clone)]
pub struct ByEndpoint<F>(BTreeMap<Option<SocketAddr>, F>);

impl<F> Default for ByEndpoint<F> {
    fn default() -> Self {
        ByEndpoint(BTreeMap::new())
    }
}

impl<F: Merge> ByEndpoint<F> {
    /// The fold of one endpoint, created empty if needed.
    pub fn at(&mut self, endpoint: Option<SocketAddr>) -> &mut F {
        self.0.entry(endpoint.map(canonical)).or_default()
    }

    /// Only `fold`, at `endpoint`.
    pub fn single(endpoint: SocketAddr, fold: F) -> Self {
        ByEndpoint(BTreeMap::from([(Some(canonical(endpoint)), fold)]))
    }

    /// Every endpoint folded together.
    pub fn total(&self) -> F {
        let mut total = F::default();
        for fold in self.0.values() {
            total.merge(fold);
        }
        total
    }

    /// The fold of one endpoint (empty when it has none).
    pub fn of(&self, endpoint: SocketAddr) -> F {
        let mut fold = F::default();
        if let Some(mine) = self.0.get(&Some(canonical(endpoint))) {
            fold.merge(mine);
        }
        fold
    }

    /// The endpoints that have a fold.
    pub fn endpoints(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.0.keys().flatten().copied()
    }

    /// Whether nothing was folded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An address with IPv4-mapped IPv6 addresses written as IPv4, as endpoints are named.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// What the report needs of the client's requests.
#[derive(Debug, Clone, Default)]
pub struct RequestFold {
    /// Requests sent.
    pub sent: u64,
    /// Requests ok.
    pub ok: u64,
    /// Failed requests by kind.
    pub errors: BTreeMap<String, u64>,
    /// Latencies of the requests ok, in microseconds.
    pub latency_us: Histogram,
    /// The earliest start.
    pub first_start_us: Option<u64>,
    /// The latest end (start plus latency).
    pub last_end_us: Option<u64>,
    /// Requests ok per local address of the connection that carried them.
    pub ok_by_local: HashMap<SocketAddr, u64>,
    /// Local addresses that carried any request.
    pub used_locals: HashSet<SocketAddr>,
}

impl RequestFold {
    /// Folds one request.
    pub fn add(&mut self, r: &RequestOutcome) {
        self.sent += 1;
        if r.ok() {
            self.ok += 1;
            self.latency_us.add(r.latency_us);
            if let Some(local) = r.local {
                *self.ok_by_local.entry(local).or_default() += 1;
            }
        }
        if let Some(error) = &r.error {
            *self.errors.entry(error.kind.clone()).or_default() += 1;
        }
        if let Some(local) = r.local {
            self.used_locals.insert(local);
        }
        let end = r.started_at_us + r.latency_us;
        self.first_start_us = Some(
            self.first_start_us
                .map_or(r.started_at_us, |f| f.min(r.started_at_us)),
        );
        self.last_end_us = Some(self.last_end_us.map_or(end, |l| l.max(end)));
    }

    /// Folds every request of `requests`.
    pub fn of<'a>(requests: impl IntoIterator<Item = &'a RequestOutcome>) -> Self {
        let mut fold = Self::default();
        requests.into_iter().for_each(|r| fold.add(r));
        fold
    }
}

impl Merge for RequestFold {
    fn merge(&mut self, other: &Self) {
        self.sent += other.sent;
        self.ok += other.ok;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        self.latency_us.merge(&other.latency_us);
        self.first_start_us = match (self.first_start_us, other.first_start_us) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_end_us = self.last_end_us.max(other.last_end_us);
        for (&local, &n) in &other.ok_by_local {
            *self.ok_by_local.entry(local).or_default() += n;
        }
        self.used_locals.extend(other.used_locals.iter().copied());
    }
}

/// What the report needs of the client's dials.
#[derive(Debug, Clone, Default)]
pub struct DialFold {
    /// Dials that connected (they have a local address).
    pub connected: u64,
    /// Dials that failed.
    pub failed: u64,
    /// Connected dials per local address and server address.
    pub by_tuple: HashMap<(SocketAddr, Option<SocketAddr>), u64>,
    /// Their TLS handshakes.
    pub tls: HandshakeCounts,
}

impl DialFold {
    /// Folds one dial.
    pub fn add(&mut self, d: &Dial) {
        let Some(local) = d.local else {
            self.failed += 1;
            return;
        };
        self.connected += 1;
        *self.by_tuple.entry((local, d.remote)).or_default() += 1;
        self.tls.add(d.tls.as_ref());
    }

    /// Folds every dial of `dials`.
    pub fn of<'a>(dials: impl IntoIterator<Item = &'a Dial>) -> Self {
        let mut fold = Self::default();
        dials.into_iter().for_each(|d| fold.add(d));
        fold
    }

    /// Connected dials whose local address carried no request.
    pub fn without_requests(&self, requests: &RequestFold) -> u64 {
        self.by_tuple
            .iter()
            .filter(|((local, _), _)| !requests.used_locals.contains(local))
            .map(|(_, &n)| n)
            .sum()
    }
}

impl Merge for DialFold {
    fn merge(&mut self, other: &Self) {
        self.connected += other.connected;
        self.failed += other.failed;
        for (&tuple, &n) in &other.by_tuple {
            *self.by_tuple.entry(tuple).or_default() += n;
        }
        self.tls.merge(&other.tls);
    }
}

/// What the report needs of the embedded server's connections.
#[derive(Debug, Clone, Default)]
pub struct ServerFold {
    /// Connections accepted.
    pub accepted: u64,
    /// Of those, connections that served no request.
    pub without_requests: u64,
    /// Requests (or HTTP/2 streams) served, in all.
    pub served: u64,
    /// Requests served per connection.
    pub requests_per_connection: Histogram,
    /// How they ended.
    pub closes: Closes,
    /// Their TLS handshakes.
    pub tls: HandshakeCounts,
    /// The 4-tuples seen (client = the peer).
    pub tuples: HashSet<FourTuple>,
}

impl ServerFold {
    /// Folds one connection; `server` is the listening address when the record has none.
    pub fn add(&mut self, c: &ServerConnection, server: SocketAddr) {
        self.accepted += 1;
        self.without_requests += u64::from(c.requests == 0);
        self.served += c.requests;
        self.requests_per_connection.add(c.requests);
        add_end(&mut self.closes, c.end);
        self.tls.add(c.tls.as_ref());
        self.tuples
            .insert(FourTuple::new(c.peer, c.local.unwrap_or(server)));
    }

    /// Folds every connection of `connections`.
    pub fn of<'a>(
        connections: impl IntoIterator<Item = &'a ServerConnection>,
        server: SocketAddr,
    ) -> Self {
        let mut fold = Self::default();
        connections.into_iter().for_each(|c| fold.add(c, server));
        fold
    }
}

impl Merge for ServerFold {
    fn merge(&mut self, other: &Self) {
        self.accepted += other.accepted;
        self.without_requests += other.without_requests;
        self.served += other.served;
        self.requests_per_connection
            .merge(&other.requests_per_connection);
        merge_closes(&mut self.closes, &other.closes);
        self.tls.merge(&other.tls);
        self.tuples.extend(other.tuples.iter().copied());
    }
}

/// The client's request outcomes: the first ones (up to the cap) kept, the rest folded per
/// endpoint as they arrive.
#[derive(Debug, Clone)]
pub struct RequestLog {
    kept: Capped<RequestOutcome>,
    dropped: ByEndpoint<RequestFold>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog::new(DETAIL_CAP)
    }
}

impl RequestLog {
    /// An empty log that keeps at most `cap` outcomes.
    pub fn new(cap: usize) -> Self {
        RequestLog {
            kept: Capped::new(cap),
            dropped: ByEndpoint::default(),
        }
    }

    /// Records one outcome.
    pub fn push(&mut self, outcome: RequestOutcome) {
        if let Some(dropped) = self.kept.push(outcome) {
            self.dropped.at(dropped.remote).add(&dropped);
        }
    }

    /// Outcomes recorded in all, kept or not.
    pub fn seen(&self) -> u64 {
        self.kept.seen()
    }

    /// The outcomes kept, mutably (for sorting).
    pub fn kept_mut(&mut self) -> &mut Vec<RequestOutcome> {
        self.kept.items_mut()
    }

    /// The outcomes kept, the rest folded per endpoint, and the cap's entry when it dropped any.
    pub fn into_parts(
        self,
    ) -> (
        Vec<RequestOutcome>,
        ByEndpoint<RequestFold>,
        Option<DetailCapped>,
    ) {
        let seen = self.kept.seen();
        let kept = self.kept.into_items();
        let capped = DetailCapped::of("requests", Source::Client, kept.len() as u64, seen);
        (kept, self.dropped, capped)
    }
}

/// The client's dials: the first ones (up to the cap) kept, the rest folded per endpoint.
#[derive(Debug, Clone)]
pub struct DialRecords {
    kept: Capped<Dial>,
    dropped: ByEndpoint<DialFold>,
}

impl DialRecords {
    /// An empty log that keeps at most `cap` dials.
    pub fn new(cap: usize) -> Self {
        DialRecords {
            kept: Capped::new(cap),
            dropped: ByEndpoint::default(),
        }
    }

    /// Records one dial.
    pub fn push(&mut self, dial: Dial) {
        if let Some(dropped) = self.kept.push(dial) {
            self.dropped.at(dropped.remote).add(&dropped);
        }
    }

    /// The dials kept.
    pub fn kept(&self) -> &[Dial] {
        self.kept.items()
    }

    /// The dials beyond the cap, folded per endpoint.
    pub fn dropped(&self) -> &ByEndpoint<DialFold> {
        &self.dropped
    }

    /// The cap's entry, when it dropped any.
    pub fn capped(&self) -> Option<DetailCapped> {
        DetailCapped::of(
            "dials",
            Source::Client,
            self.kept.items().len() as u64,
            self.kept.seen(),
        )
    }
}

/// The items of the client's and the server's lists beyond the cap, folded per endpoint (the
/// capture's are in its outcome).
#[derive(Debug, Clone, Default)]
pub struct Dropped {
    /// Requests not kept.
    pub requests: ByEndpoint<RequestFold>,
    /// Dials not kept.
    pub dials: ByEndpoint<DialFold>,
    /// Server connections not kept.
    pub servers: ByEndpoint<ServerFold>,
    /// How many of each list were seen, and kept.
    pub capped: Vec<DetailCapped>,
}

/// One detail list that reached its cap: how many items were kept of how many seen. Every
/// figure still counts all of them; only the per-item detail (the connection view, the
/// timeline, the exported lists) stops at `kept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DetailCapped {
    /// The list: `requests`, `dials`, `server_connections` or `capture_connections`.
    pub list: String,
    /// The source that recorded it.
    pub source: Source,
    /// Items kept as detail (the first ones recorded).
    pub kept: u64,
    /// Items seen in all (every figure counts them all).
    pub seen: u64,
}

impl DetailCapped {
    /// The entry for a list, when it dropped anything.
    pub fn of(list: &str, source: Source, kept: u64, seen: u64) -> Option<DetailCapped> {
        (seen > kept).then(|| DetailCapped {
            list: list.to_string(),
            source,
            kept,
            seen,
        })
    }
}

impl std::fmt::Display for DetailCapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) {} of {}",
            self.list, self.source, self.kept, self.seen
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_list_keeps_the_first_items_and_counts_all() {
        let mut list = Capped::new(2);
        assert_eq!(list.push(1), None);
        assert_eq!(list.push(2), None);
        assert_eq!(list.push(3), Some(3));
        assert_eq!((list.items(), list.seen()), (&[1, 2][..], 3));
    }

    #[test]
    fn histograms_give_exact_nearest_rank_percentiles_and_medians() {
        let mut h = Histogram::default();
        (1..=100).for_each(|v| h.add(v));
        assert_eq!(h.percentile(50.0), Some(50));
        assert_eq!(h.percentile(99.0), Some(99));
        let mut even = Histogram::default();
        [4, 1, 3, 2].into_iter().for_each(|v| even.add(v));
        assert_eq!(even.min_median_max(), Some((1.0, 2.5, 4.0)));
        let mut halves = Histogram::default();
        [1, 2].into_iter().for_each(|v| halves.add(v));
        let mut other = Histogram::default();
        [3, 4].into_iter().for_each(|v| other.add(v));
        halves.merge(&other);
        assert_eq!(halves, even);
        assert_eq!(Histogram::default().percentile(50.0), None);
    }
}
