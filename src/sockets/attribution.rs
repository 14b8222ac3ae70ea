//! Attribution: which sockets in a table belong to this run, on which side, and what they add up to.
//!
//! Pure logic over snapshots, fed by the sampler. A socket counts only if it talks to the run's
//! server address and its 4-tuple belongs to this run: it was not in the baseline snapshot taken
//! before the run, or another source (client dials, server accepts, capture) knows it as one of
//! this run's connections. Linux hands a 4-tuple out again once its TIME_WAIT may be reused, so a
//! baseline tuple that this run dialled again is counted from the first sample in which it has
//! visibly changed (gone, or in another state), and always in the final snapshot, taken after
//! every dial. Listening sockets never count.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::table::{SocketEntry, TcpState};
use crate::model::{FourTuple, Side, TimeWait};

/// Socket counts per TCP state; serialized as a map of the non-zero ones, e.g. `{"TIME_WAIT": 3}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct StateCounts(BTreeMap<TcpState, u64>);

impl StateCounts {
    /// No sockets.
    pub fn new() -> StateCounts {
        StateCounts::default()
    }

    /// Adds `count` sockets in `state`.
    pub fn add(&mut self, state: TcpState, count: u64) {
        if count > 0 {
            *self.0.entry(state).or_insert(0) += count;
        }
    }

    /// Sockets in `state`.
    pub fn get(&self, state: TcpState) -> u64 {
        self.0.get(&state).copied().unwrap_or(0)
    }

    /// Sockets in TIME_WAIT.
    pub fn time_wait(&self) -> u64 {
        self.get(TcpState::TimeWait)
    }

    /// Sockets in CLOSE_WAIT.
    pub fn close_wait(&self) -> u64 {
        self.get(TcpState::CloseWait)
    }

    /// Sockets in ESTABLISHED.
    pub fn established(&self) -> u64 {
        self.get(TcpState::Established)
    }

    /// Sockets in any state.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The non-zero counts, in kernel state order.
    pub fn iter(&self) -> impl Iterator<Item = (TcpState, u64)> + '_ {
        self.0.iter().map(|(state, count)| (*state, *count))
    }
}

/// Counts of the run's sockets at one moment, split by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeWaitSample {
    /// When the snapshot was taken, in microseconds since the Unix epoch.
    pub at_us: u64,
    /// The run's client-side sockets by state.
    pub client: StateCounts,
    /// The run's server-side sockets by state.
    pub server: StateCounts,
}

/// What the run's samples add up to (the part of `SocketsOutcome` attribution computes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocketsSummary {
    /// TIME_WAIT peaks and ends per side, and the CLOSE_WAIT peak.
    pub time_wait: TimeWait,
    /// Distinct 4-tuples of this run seen in any state but LISTEN.
    pub distinct_connections: u64,
    /// Distinct 4-tuples talking to the server that were excluded as leftovers of earlier runs.
    pub baseline_excluded: u64,
    /// Client sockets only ever seen in SYN_SENT, on tuples no other source knows: attempts
    /// whose SYN was never answered (not in `distinct_connections`).
    pub unanswered_attempts: u64,
    /// Every sample, in order; the last one is the final snapshot.
    pub samples: Vec<TimeWaitSample>,
    /// The same figures per server endpoint (the server address each socket talks to), in
    /// address order: what a run with several hosts, or a watched port with several servers,
    /// left on each.
    pub by_endpoint: Vec<EndpointSockets>,
}

/// One server endpoint's share of the run's sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointSockets {
    /// The server address.
    pub server: SocketAddr,
    /// TIME_WAIT peaks and ends per side, and the CLOSE_WAIT peak, of this endpoint's sockets.
    #[serde(flatten)]
    pub time_wait: TimeWait,
    /// Distinct 4-tuples of this run to this endpoint seen in any state but LISTEN.
    pub distinct_connections: u64,
    /// Client sockets to this endpoint only ever seen in SYN_SENT (see
    /// `SocketsSummary::unanswered_attempts`).
    #[serde(default)]
    pub unanswered_attempts: u64,
}

/// A sample's TIME_WAIT (client side, server side) and CLOSE_WAIT counts for one endpoint.
#[derive(Debug, Clone, Copy, Default)]
struct EndpointCounts {
    time_wait_client: u64,
    time_wait_server: u64,
    close_wait: u64,
}

impl EndpointCounts {
    fn add(&mut self, side: Side, state: TcpState) {
        match (state, side) {
            (TcpState::TimeWait, Side::Client) => self.time_wait_client += 1,
            (TcpState::TimeWait, Side::Server) => self.time_wait_server += 1,
            (TcpState::CloseWait, _) => self.close_wait += 1,
            _ => {}
        }
    }
}

/// Which side `entry` is for a run talking to `server`, and its 4-tuple written client first.
///
/// `None` for listening sockets and sockets that do not talk to `server`. An unspecified server
/// IP (`0.0.0.0`, `::`) matches any IP on the server port.
pub fn classify(entry: &SocketEntry, server: SocketAddr) -> Option<(Side, FourTuple)> {
    if entry.state == TcpState::Listen {
        return None;
    }
    let matches = |addr: SocketAddr| {
        addr.port() == server.port()
            && (server.ip().is_unspecified() || canonical(addr.ip()) == canonical(server.ip()))
    };
    let local = canonical_addr(entry.local);
    let remote = canonical_addr(entry.remote);
    if matches(local) {
        Some((Side::Server, FourTuple::new(remote, local)))
    } else if matches(remote) {
        Some((Side::Client, FourTuple::new(local, remote)))
    } else {
        None
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn canonical_addr(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(addr.ip()), addr.port())
}

/// A socket of a baseline tuple, kept per sample until `known` tells whether it counts.
#[derive(Debug, Clone)]
struct BaselineSocket {
    tuple: FourTuple,
    side: Side,
    state: TcpState,
}

/// One sample before `known` is available: counts of fresh tuples plus changed baseline sockets.
#[derive(Debug, Clone)]
struct PendingSample {
    at_us: u64,
    client: StateCounts,
    server: StateCounts,
    changed_baseline: Vec<BaselineSocket>,
    /// Fresh sockets' TIME_WAIT and CLOSE_WAIT per server endpoint (bounded by endpoints).
    by_server: HashMap<SocketAddr, EndpointCounts>,
}

/// Accumulates samples of one run; memory grows with the run's connections, not with its samples.
#[derive(Debug, Clone)]
pub struct Attributor {
    server: SocketAddr,
    /// Baseline sockets and their state in the baseline snapshot.
    baseline: HashMap<(FourTuple, Side), TcpState>,
    /// Baseline sockets seen gone or in another state since the baseline.
    changed: HashSet<(FourTuple, Side)>,
    /// Tuples not in the baseline seen in any sample, and whether any sample showed them
    /// answered (anything but a client socket in SYN_SENT).
    fresh_tuples: HashMap<FourTuple, bool>,
    /// Baseline tuples seen after they changed (they count if `known` has them).
    changed_tuples_seen: HashSet<FourTuple>,
    samples: Vec<PendingSample>,
}

impl Attributor {
    /// Starts a run against `server` with the snapshot taken before it began.
    pub fn new(server: SocketAddr, baseline: &[SocketEntry]) -> Attributor {
        let server = canonical_addr(server);
        let baseline = baseline
            .iter()
            .filter_map(|entry| {
                classify(entry, server).map(|(side, tuple)| ((tuple, side), entry.state))
            })
            .collect();
        Attributor {
            server,
            baseline,
            changed: HashSet::new(),
            fresh_tuples: HashMap::new(),
            changed_tuples_seen: HashSet::new(),
            samples: Vec::new(),
        }
    }

    /// Adds one snapshot taken at `at_us` (microseconds since the Unix epoch).
    pub fn record(&mut self, at_us: u64, snapshot: &[SocketEntry]) {
        let mut sample = PendingSample {
            at_us,
            client: StateCounts::new(),
            server: StateCounts::new(),
            changed_baseline: Vec::new(),
            by_server: HashMap::new(),
        };
        let mut present = HashSet::new();
        for entry in snapshot {
            let Some((side, tuple)) = classify(entry, self.server) else {
                continue;
            };
            let key = (tuple, side);
            match self.baseline.get(&key) {
                None if self.baseline_has_tuple(tuple) => {
                    // The other end of a baseline tuple appeared: the tuple was dialled again.
                    self.changed.insert(key);
                    self.push_changed(&mut sample, tuple, side, entry.state);
                }
                None => {
                    let answered = side == Side::Server || entry.state != TcpState::SynSent;
                    *self.fresh_tuples.entry(tuple).or_default() |= answered;
                    sample
                        .by_server
                        .entry(tuple.server)
                        .or_default()
                        .add(side, entry.state);
                    match side {
                        Side::Client => sample.client.add(entry.state, 1),
                        Side::Server => sample.server.add(entry.state, 1),
                    }
                }
                Some(baseline_state) => {
                    present.insert(key);
                    if *baseline_state != entry.state {
                        self.changed.insert(key);
                    }
                    if self.changed.contains(&key) {
                        self.push_changed(&mut sample, tuple, side, entry.state);
                    }
                }
            }
        }
        for key in self.baseline.keys() {
            if !present.contains(key) {
                self.changed.insert(*key);
            }
        }
        self.samples.push(sample);
    }

    fn baseline_has_tuple(&self, tuple: FourTuple) -> bool {
        self.baseline.contains_key(&(tuple, Side::Client))
            || self.baseline.contains_key(&(tuple, Side::Server))
    }

    fn push_changed(
        &mut self,
        sample: &mut PendingSample,
        tuple: FourTuple,
        side: Side,
        state: TcpState,
    ) {
        self.changed_tuples_seen.insert(tuple);
        sample
            .changed_baseline
            .push(BaselineSocket { tuple, side, state });
    }

    /// Adds the final snapshot and sums up. `known` lists this run's connections as other sources
    /// know them; in the final snapshot every baseline tuple in `known` counts, since every dial
    /// is over by then.
    pub fn finish(
        mut self,
        at_us: u64,
        final_snapshot: &[SocketEntry],
        known: &[FourTuple],
    ) -> SocketsSummary {
        for entry in final_snapshot {
            if let Some((side, tuple)) = classify(entry, self.server) {
                self.changed.insert((tuple, side));
            }
        }
        self.record(at_us, final_snapshot);
        self.summarise(known)
    }

    /// Sums up the samples recorded so far, without a final snapshot (when it could not be taken).
    pub fn summarise(self, known: &[FourTuple]) -> SocketsSummary {
        let known: HashSet<FourTuple> = known
            .iter()
            .map(|t| FourTuple::new(canonical_addr(t.client), canonical_addr(t.server)))
            .collect();
        let mut summary = SocketsSummary::default();
        // A client socket only ever seen in SYN_SENT, on a tuple no other source knows, is an
        // attempt whose SYN was never answered: not a connection.
        let unanswered = |tuple: &FourTuple, answered: bool| !answered && !known.contains(tuple);
        let mut by_endpoint: BTreeMap<SocketAddr, EndpointSockets> = BTreeMap::new();
        for (tuple, &answered) in &self.fresh_tuples {
            let entry = endpoint_entry(&mut by_endpoint, tuple.server);
            if unanswered(tuple, answered) {
                entry.unanswered_attempts += 1;
            } else {
                entry.distinct_connections += 1;
            }
        }
        let unanswered_attempts = self
            .fresh_tuples
            .iter()
            .filter(|(tuple, &answered)| unanswered(tuple, answered))
            .count();
        for tuple in self
            .changed_tuples_seen
            .iter()
            .filter(|tuple| known.contains(tuple))
        {
            endpoint_entry(&mut by_endpoint, tuple.server).distinct_connections += 1;
        }
        for pending in self.samples {
            let mut per_server = pending.by_server;
            for socket in pending
                .changed_baseline
                .iter()
                .filter(|s| known.contains(&s.tuple))
            {
                per_server
                    .entry(socket.tuple.server)
                    .or_default()
                    .add(socket.side, socket.state);
            }
            for endpoint in by_endpoint.values_mut() {
                let counts = per_server.remove(&endpoint.server).unwrap_or_default();
                absorb(&mut endpoint.time_wait, counts);
            }
            for (server, counts) in per_server {
                absorb(
                    &mut endpoint_entry(&mut by_endpoint, server).time_wait,
                    counts,
                );
            }
            let mut sample = TimeWaitSample {
                at_us: pending.at_us,
                client: pending.client,
                server: pending.server,
            };
            for socket in pending.changed_baseline {
                if known.contains(&socket.tuple) {
                    match socket.side {
                        Side::Client => sample.client.add(socket.state, 1),
                        Side::Server => sample.server.add(socket.state, 1),
                    }
                }
            }
            summary.time_wait.time_wait_client_peak = summary
                .time_wait
                .time_wait_client_peak
                .max(sample.client.time_wait());
            summary.time_wait.time_wait_server_peak = summary
                .time_wait
                .time_wait_server_peak
                .max(sample.server.time_wait());
            summary.time_wait.close_wait_peak = summary
                .time_wait
                .close_wait_peak
                .max(sample.client.close_wait() + sample.server.close_wait());
            summary.time_wait.time_wait_client_end = sample.client.time_wait();
            summary.time_wait.time_wait_server_end = sample.server.time_wait();
            summary.samples.push(sample);
        }
        let reused = self
            .changed_tuples_seen
            .iter()
            .filter(|tuple| known.contains(tuple))
            .count();
        summary.unanswered_attempts = unanswered_attempts as u64;
        summary.distinct_connections =
            (self.fresh_tuples.len() - unanswered_attempts + reused) as u64;
        let baseline_tuples: HashSet<FourTuple> = self.baseline.keys().map(|(t, _)| *t).collect();
        summary.baseline_excluded = baseline_tuples
            .iter()
            .filter(|t| !known.contains(t))
            .count() as u64;
        summary.by_endpoint = by_endpoint.into_values().collect();
        summary
    }
}

/// The entry of `server`, created empty.
fn endpoint_entry(
    by_endpoint: &mut BTreeMap<SocketAddr, EndpointSockets>,
    server: SocketAddr,
) -> &mut EndpointSockets {
    by_endpoint.entry(server).or_insert(EndpointSockets {
        server,
        time_wait: TimeWait::default(),
        distinct_connections: 0,
        unanswered_attempts: 0,
    })
}

/// Folds one sample's counts into an endpoint's peaks and ends (samples come in order).
fn absorb(figures: &mut TimeWait, counts: EndpointCounts) {
    figures.time_wait_client_peak = figures.time_wait_client_peak.max(counts.time_wait_client);
    figures.time_wait_server_peak = figures.time_wait_server_peak.max(counts.time_wait_server);
    figures.close_wait_peak = figures.close_wait_peak.max(counts.close_wait);
    figures.time_wait_client_end = counts.time_wait_client;
    figures.time_wait_server_end = counts.time_wait_server;
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "127.0.0.1:8080";

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            local: addr(local),
            remote: addr(remote),
            state,
            tx_queue_bytes: 0,
            rx_queue_bytes: 0,
            inode: 0,
        }
    }

    /// Both ends of a loopback connection from client port `port` to the server.
    fn pair(port: u16, client: TcpState, server: TcpState) -> Vec<SocketEntry> {
        let c = format!("127.0.0.1:{port}");
        vec![entry(&c, SERVER, client), entry(SERVER, &c, server)]
    }

    fn tuple(port: u16) -> FourTuple {
        FourTuple::new(addr(&format!("127.0.0.1:{port}")), addr(SERVER))
    }

    fn listener() -> SocketEntry {
        entry(SERVER, "0.0.0.0:0", TcpState::Listen)
    }

    #[test]
    fn classify_splits_sides_and_ignores_listen_and_other_ports() {
        let server = addr(SERVER);
        let c = entry("127.0.0.1:40000", SERVER, TcpState::TimeWait);
        let s = entry(SERVER, "127.0.0.1:40000", TcpState::Established);
        assert_eq!(classify(&c, server), Some((Side::Client, tuple(40000))));
        assert_eq!(classify(&s, server), Some((Side::Server, tuple(40000))));
        assert_eq!(classify(&listener(), server), None);
        let other = entry("127.0.0.1:40000", "127.0.0.1:9090", TcpState::TimeWait);
        assert_eq!(classify(&other, server), None);
        let other_ip = entry("127.0.0.1:40000", "127.0.0.2:8080", TcpState::TimeWait);
        assert_eq!(classify(&other_ip, server), None);
    }

    #[test]
    fn classify_matches_unspecified_server_ip_and_ipv4_mapped() {
        let any = addr("0.0.0.0:8080");
        let s = entry("127.0.0.2:8080", "127.0.0.1:40000", TcpState::Established);
        assert_eq!(classify(&s, any).map(|(side, _)| side), Some(Side::Server));
        let mapped = entry(
            "[::ffff:127.0.0.1]:8080",
            "[::ffff:127.0.0.1]:40000",
            TcpState::TimeWait,
        );
        assert_eq!(
            classify(&mapped, addr(SERVER)),
            Some((Side::Server, tuple(40000)))
        );
        let v6 = entry("[::1]:40000", "[::1]:8080", TcpState::TimeWait);
        assert_eq!(
            classify(&v6, addr("[::1]:8080")).map(|(side, _)| side),
            Some(Side::Client)
        );
        assert_eq!(classify(&v6, addr(SERVER)), None);
    }

    #[test]
    fn counts_fresh_sockets_per_side_with_peak_and_end() {
        let mut a = Attributor::new(addr(SERVER), &[listener()]);
        let mut s1 = vec![listener()];
        s1.extend(pair(40001, TcpState::Established, TcpState::Established));
        a.record(1, &s1);
        let mut s2 = vec![listener()];
        s2.extend(pair(40001, TcpState::TimeWait, TcpState::Established));
        s2.extend(pair(40002, TcpState::Established, TcpState::CloseWait));
        a.record(2, &s2);
        let mut s3 = vec![listener()];
        s3.extend(pair(40001, TcpState::TimeWait, TcpState::LastAck));
        s3.push(entry("127.0.0.1:40002", SERVER, TcpState::TimeWait));
        let summary = a.finish(3, &s3, &[]);
        assert_eq!(summary.samples.len(), 3);
        assert_eq!(summary.time_wait.time_wait_client_peak, 2);
        assert_eq!(summary.time_wait.time_wait_client_end, 2);
        assert_eq!(summary.time_wait.time_wait_server_peak, 0);
        assert_eq!(summary.time_wait.time_wait_server_end, 0);
        assert_eq!(summary.time_wait.close_wait_peak, 1);
        assert_eq!(summary.distinct_connections, 2);
        assert_eq!(summary.baseline_excluded, 0);
        assert_eq!(summary.samples[1].server.established(), 1);
        assert_eq!(summary.samples[1].server.close_wait(), 1);
        assert_eq!(summary.samples[2].server.get(TcpState::LastAck), 1);
    }

    #[test]
    fn a_client_socket_only_seen_in_syn_sent_is_an_unanswered_attempt() {
        let mut a = Attributor::new(addr(SERVER), &[listener()]);
        // 40001 waits in SYN_SENT, then is answered; 40002 never is; 40003 never is either, but
        // another source knows it opened (the samples just missed its later states).
        let s1 = vec![
            listener(),
            entry("127.0.0.1:40001", SERVER, TcpState::SynSent),
            entry("127.0.0.1:40002", SERVER, TcpState::SynSent),
            entry("127.0.0.1:40003", SERVER, TcpState::SynSent),
        ];
        a.record(1, &s1);
        let mut s2 = vec![listener()];
        s2.extend(pair(40001, TcpState::Established, TcpState::Established));
        s2.push(entry("127.0.0.1:40002", SERVER, TcpState::SynSent));
        let summary = a.finish(2, &s2, &[tuple(40003)]);
        assert_eq!(summary.unanswered_attempts, 1);
        assert_eq!(summary.distinct_connections, 2);
    }

    #[test]
    fn peak_can_exceed_end() {
        let mut a = Attributor::new(addr(SERVER), &[]);
        a.record(1, &pair(40001, TcpState::Established, TcpState::TimeWait));
        let summary = a.finish(2, &[], &[]);
        assert_eq!(summary.time_wait.time_wait_server_peak, 1);
        assert_eq!(summary.time_wait.time_wait_server_end, 0);
        assert_eq!(summary.distinct_connections, 1);
    }

    #[test]
    fn baseline_leftovers_never_count() {
        let mut baseline = vec![listener()];
        baseline.extend(
            pair(40001, TcpState::TimeWait, TcpState::Close)
                .into_iter()
                .take(1),
        );
        baseline.push(entry(SERVER, "127.0.0.1:40002", TcpState::TimeWait));
        let mut a = Attributor::new(addr(SERVER), &baseline);
        let mut s1 = baseline.clone();
        s1.extend(
            pair(40003, TcpState::TimeWait, TcpState::Close)
                .into_iter()
                .take(1),
        );
        a.record(1, &s1);
        // 40002's leftover expires during the run.
        let s2: Vec<SocketEntry> = s1
            .iter()
            .filter(|e| e.remote.port() != 40002)
            .cloned()
            .collect();
        let summary = a.finish(2, &s2, &[tuple(40003)]);
        assert_eq!(summary.time_wait.time_wait_client_end, 1);
        assert_eq!(summary.time_wait.time_wait_server_end, 0);
        assert_eq!(summary.time_wait.time_wait_server_peak, 0);
        assert_eq!(summary.distinct_connections, 1);
        assert_eq!(summary.baseline_excluded, 2);
    }

    #[test]
    fn a_known_baseline_tuple_counts_once_it_was_dialled_again() {
        // 40001 is in TIME_WAIT from an earlier run; this run's client reuses the 4-tuple.
        let old = entry("127.0.0.1:40001", SERVER, TcpState::TimeWait);
        let mut a = Attributor::new(addr(SERVER), &[listener(), old.clone()]);
        a.record(1, &[listener(), old.clone()]); // not redialled yet: the old socket
        let mut s2 = vec![listener()];
        s2.extend(pair(40001, TcpState::Established, TcpState::Established));
        a.record(2, &s2);
        let mut s3 = vec![listener()];
        s3.extend(
            pair(40001, TcpState::TimeWait, TcpState::Close)
                .into_iter()
                .take(1),
        );
        a.record(3, &s3);
        let summary = a.finish(4, &s3, &[tuple(40001)]);
        let client_tw: Vec<u64> = summary
            .samples
            .iter()
            .map(|s| s.client.time_wait())
            .collect();
        assert_eq!(client_tw, vec![0, 0, 1, 1]);
        assert_eq!(summary.samples[1].client.established(), 1);
        assert_eq!(summary.samples[1].server.established(), 1);
        assert_eq!(summary.time_wait.time_wait_client_end, 1);
        assert_eq!(summary.distinct_connections, 1);
        assert_eq!(summary.baseline_excluded, 0);
    }

    #[test]
    fn an_unknown_redialled_baseline_tuple_does_not_count() {
        let old = entry("127.0.0.1:40001", SERVER, TcpState::TimeWait);
        let mut a = Attributor::new(addr(SERVER), &[old]);
        let summary = a.clone().finish(
            2,
            &pair(40001, TcpState::Established, TcpState::Established),
            &[],
        );
        assert_eq!(summary.distinct_connections, 0);
        assert_eq!(summary.samples[0].client.total(), 0);
        a.record(1, &[]);
        let summary = a.finish(2, &[], &[tuple(40001)]);
        assert_eq!(summary.distinct_connections, 0);
        assert_eq!(summary.baseline_excluded, 0);
    }

    #[test]
    fn a_known_baseline_tuple_counts_in_the_final_snapshot_even_if_unchanged() {
        // TIME_WAIT -> new connection -> TIME_WAIT again, all between two samples.
        let old = entry("127.0.0.1:40001", SERVER, TcpState::TimeWait);
        let mut a = Attributor::new(addr(SERVER), std::slice::from_ref(&old));
        a.record(1, std::slice::from_ref(&old));
        let summary = a.finish(2, std::slice::from_ref(&old), &[tuple(40001)]);
        assert_eq!(summary.samples[0].client.time_wait(), 0);
        assert_eq!(summary.time_wait.time_wait_client_end, 1);
        assert_eq!(summary.distinct_connections, 1);
    }

    #[test]
    fn summarise_without_final_snapshot_ends_at_the_last_sample() {
        let mut a = Attributor::new(addr(SERVER), &[]);
        a.record(1, &pair(40001, TcpState::TimeWait, TcpState::Close)[..1]);
        let summary = a.summarise(&[]);
        assert_eq!(summary.time_wait.time_wait_client_end, 1);
        assert_eq!(summary.samples.len(), 1);
    }

    #[test]
    fn state_counts_serialize_compactly() {
        let mut counts = StateCounts::new();
        counts.add(TcpState::TimeWait, 3);
        counts.add(TcpState::Established, 0);
        counts.add(TcpState::CloseWait, 1);
        let json = serde_json::to_string(&counts).unwrap();
        assert_eq!(json, r#"{"TIME_WAIT":3,"CLOSE_WAIT":1}"#);
        let back: StateCounts = serde_json::from_str(&json).unwrap();
        assert_eq!(back, counts);
        assert_eq!(back.total(), 4);
        assert_eq!(back.iter().count(), 2);
    }
}
