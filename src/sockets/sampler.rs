//! The sampler: a named thread that snapshots the socket table during a run and sums it up after.
//!
//! [`Sampler::start`] takes the baseline snapshot synchronously, so every socket that exists
//! before the first request is known before the run begins; the thread `kalab-sockets` then
//! samples every interval until [`Sampler::stop`], which takes one final snapshot and attributes
//! everything (see [`super::attribution`]). Sampling adapts to the table's cost: it never takes
//! more than 1/[`MAX_DUTY_DIVISOR`] of a core. A table that cannot be read never stops the run: the
//! outcome says the source is unavailable and why.

use std::net::SocketAddr;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::attribution::{Attributor, EndpointSockets, SocketsSummary, TimeWaitSample};
use super::table::{SocketTable, SocketTableError};
use crate::model::{now_us, FourTuple, TimeWait};

/// The default time between two samples.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// The shortest interval accepted; shorter ones are raised to it so a typo cannot spin a core.
pub const MIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(1);

/// The sampling thread spends at most 1/this of its time taking snapshots: a snapshot that
/// costs more than interval/this pushes the next one back to this many times its cost.
pub const MAX_DUTY_DIVISOR: u32 = 20;

/// What the sampler watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplerSpec {
    /// The server's address and port this run talks to.
    pub server: SocketAddr,
    /// Time between two samples (default 50 ms).
    pub interval: Duration,
}

impl SamplerSpec {
    /// Watches `server` at the default interval.
    pub fn new(server: SocketAddr) -> SamplerSpec {
        SamplerSpec {
            server,
            interval: DEFAULT_SAMPLE_INTERVAL,
        }
    }
}

/// The `sockets` source's findings for one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SocketsOutcome {
    /// Whether the socket table could be read at the start of the run.
    pub available: bool,
    /// Why not, when it could not (e.g. `/proc/net/tcp is not available: ...`).
    pub unavailable_reason: Option<String>,
    /// TIME_WAIT peaks and ends per side (the end is the final snapshot), and the CLOSE_WAIT
    /// peak, of this run's sockets.
    #[serde(flatten)]
    pub time_wait: TimeWait,
    /// Distinct connections (4-tuples of this run seen in any state but LISTEN).
    pub distinct_connections: u64,
    /// Sockets to the server address present before the run and not known to be this run's.
    pub baseline_excluded: u64,
    /// Client sockets seen only in SYN_SENT, on tuples no other source knows: attempts whose
    /// SYN was never answered (a lower bound: the table is sampled). Not in
    /// `distinct_connections`.
    #[serde(default)]
    pub unanswered_attempts: u64,
    /// Snapshots that failed during the run (their samples are missing from `samples`).
    pub failed_snapshots: u64,
    /// Whether the final snapshot failed; then the `_end` values are from the last good sample.
    pub final_snapshot_failed: bool,
    /// Lines of the socket table that could not be parsed and were skipped.
    pub malformed_lines_skipped: u64,
    /// The interval the samples were taken at, in microseconds.
    pub interval_us: u64,
    /// Every sample, oldest first; the last one is the final snapshot.
    pub samples: Vec<TimeWaitSample>,
    /// TIME_WAIT figures and distinct connections per server endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_endpoint: Vec<EndpointSockets>,
}

impl SocketsOutcome {
    /// The outcome of a run whose socket table could not be read.
    pub fn unavailable(reason: impl Into<String>, interval: Duration) -> SocketsOutcome {
        SocketsOutcome::from_summary(SocketsSummary::default(), interval, Some(reason.into()))
    }

    fn from_summary(
        summary: SocketsSummary,
        interval: Duration,
        unavailable_reason: Option<String>,
    ) -> SocketsOutcome {
        SocketsOutcome {
            available: unavailable_reason.is_none(),
            unavailable_reason,
            time_wait: summary.time_wait,
            distinct_connections: summary.distinct_connections,
            baseline_excluded: summary.baseline_excluded,
            unanswered_attempts: summary.unanswered_attempts,
            failed_snapshots: 0,
            final_snapshot_failed: false,
            malformed_lines_skipped: 0,
            interval_us: u64::try_from(interval.as_micros()).unwrap_or(u64::MAX),
            samples: summary.samples,
            by_endpoint: summary.by_endpoint,
        }
    }
}

/// What the sampling thread hands back when it stops.
struct Collected {
    table: Box<dyn SocketTable>,
    attributor: Attributor,
    failed_snapshots: u64,
}

enum State {
    Running {
        stop_tx: mpsc::Sender<()>,
        thread: JoinHandle<Collected>,
    },
    Unavailable(String),
}

/// A running socket sampler; stop it with [`Sampler::stop`] (dropping it stops the thread too).
pub struct Sampler {
    spec: SamplerSpec,
    state: State,
}

impl Sampler {
    /// Takes a baseline snapshot synchronously (4-tuples present before the run are excluded
    /// later), then samples every interval on the thread `kalab-sockets`.
    pub fn start(spec: SamplerSpec, mut table: Box<dyn SocketTable>) -> Sampler {
        let spec = SamplerSpec {
            interval: spec.interval.max(MIN_SAMPLE_INTERVAL),
            ..spec
        };
        table.restrict_to_port(spec.server.port());
        let baseline = match table.snapshot() {
            Ok(baseline) => baseline,
            Err(e) => return Sampler::unavailable(spec, &e),
        };
        let attributor = Attributor::new(spec.server, &baseline);
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let interval = spec.interval;
        let spawned = thread::Builder::new()
            .name("kalab-sockets".to_string())
            .spawn(move || sample_until_stopped(table, attributor, interval, &stop_rx));
        match spawned {
            Ok(thread) => Sampler {
                spec,
                state: State::Running { stop_tx, thread },
            },
            Err(e) => Sampler {
                spec,
                state: State::Unavailable(format!("cannot start the sampling thread: {e}")),
            },
        }
    }

    fn unavailable(spec: SamplerSpec, error: &SocketTableError) -> Sampler {
        Sampler {
            spec,
            state: State::Unavailable(error.to_string()),
        }
    }

    /// The spec this sampler runs with (the interval raised to [`MIN_SAMPLE_INTERVAL`] if needed).
    pub fn spec(&self) -> SamplerSpec {
        self.spec
    }

    /// Stops the thread, takes one final snapshot, attributes and summarises. `known`: this run's
    /// connections as known from other sources (client dials, server accepts, capture); a
    /// baseline tuple that is in `known` counts (Linux reuses 4-tuples).
    pub fn stop(mut self, known: &[FourTuple]) -> SocketsOutcome {
        let interval = self.spec.interval;
        let state = std::mem::replace(&mut self.state, State::Unavailable(String::new()));
        let (stop_tx, thread) = match state {
            State::Running { stop_tx, thread } => (stop_tx, thread),
            State::Unavailable(reason) => return SocketsOutcome::unavailable(reason, interval),
        };
        // A send error means the thread is gone already; join tells how.
        let _ = stop_tx.send(());
        let Collected {
            mut table,
            attributor,
            failed_snapshots,
        } = match thread.join() {
            Ok(collected) => collected,
            Err(_) => return SocketsOutcome::unavailable("the sampling thread panicked", interval),
        };
        let (summary, final_snapshot_failed) = match table.snapshot() {
            Ok(snapshot) => (attributor.finish(now_us(), &snapshot, known), false),
            Err(_) => (attributor.summarise(known), true),
        };
        let mut outcome = SocketsOutcome::from_summary(summary, interval, None);
        outcome.failed_snapshots = failed_snapshots;
        outcome.final_snapshot_failed = final_snapshot_failed;
        outcome.malformed_lines_skipped = table.malformed_lines_skipped();
        outcome
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Unavailable(String::new()));
        if let State::Running { stop_tx, thread } = state {
            let _ = stop_tx.send(());
            let _ = thread.join();
        }
    }
}

/// The thread body: one snapshot per tick, on a fixed schedule, until told to stop.
fn sample_until_stopped(
    mut table: Box<dyn SocketTable>,
    mut attributor: Attributor,
    interval: Duration,
    stop_rx: &mpsc::Receiver<()>,
) -> Collected {
    let mut failed_snapshots = 0;
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match stop_rx.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
        let began = Instant::now();
        match table.snapshot() {
            Ok(snapshot) => attributor.record(now_us(), &snapshot),
            Err(_) => failed_snapshots += 1,
        }
        // Adaptive: a table so large that one snapshot costs more than 1/MAX_DUTY_DIVISOR of
        // the interval stretches the interval, so sampling never takes more than that share of
        // a core from the run it measures (the final snapshot still gives exact end values).
        next += interval.max(began.elapsed() * MAX_DUTY_DIVISOR);
        // A slow snapshot skips ticks rather than firing a burst to catch up.
        let now = Instant::now();
        if next < now {
            next = now + interval;
        }
    }
    Collected {
        table,
        attributor,
        failed_snapshots,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::sockets::table::{ScriptedTable, SocketEntry, TcpState};

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            tx_queue_bytes: 0,
            rx_queue_bytes: 0,
            inode: 0,
        }
    }

    fn spec() -> SamplerSpec {
        SamplerSpec {
            server: "127.0.0.1:8080".parse().unwrap(),
            interval: Duration::from_millis(2),
        }
    }

    /// Replays a script on the sampling thread; any other thread (that is, `stop`) gets `last`.
    /// Counts the snapshots the sampling thread took, so tests wait for them instead of sleeping.
    struct WatchedTable {
        inner: ScriptedTable,
        last: Result<Vec<SocketEntry>, String>,
        baseline_taken: bool,
        thread_calls: Arc<AtomicU64>,
    }

    impl WatchedTable {
        fn new(
            script: Vec<Result<Vec<SocketEntry>, String>>,
            last: Result<Vec<SocketEntry>, String>,
        ) -> (WatchedTable, Arc<AtomicU64>) {
            let thread_calls = Arc::new(AtomicU64::new(0));
            let table = WatchedTable {
                inner: ScriptedTable::new(script),
                last,
                baseline_taken: false,
                thread_calls: Arc::clone(&thread_calls),
            };
            (table, thread_calls)
        }
    }

    impl SocketTable for WatchedTable {
        fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError> {
            if thread::current().name() == Some("kalab-sockets") {
                self.thread_calls.fetch_add(1, Ordering::SeqCst);
            } else if self.baseline_taken {
                return self.last.clone().map_err(SocketTableError::Scripted);
            }
            self.baseline_taken = true;
            self.inner.snapshot()
        }
    }

    /// Waits (at most 5 s) until the sampling thread has taken `n` snapshots.
    fn wait_for_thread_calls(calls: &AtomicU64, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while calls.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "the sampling thread took no snapshots"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn unreadable_table_makes_the_source_unavailable() {
        let table = ScriptedTable::new(vec![Err("no /proc here".into())]);
        let outcome = Sampler::start(spec(), Box::new(table)).stop(&[]);
        assert!(!outcome.available);
        let reason = outcome.unavailable_reason.unwrap();
        assert!(reason.contains("no /proc here"), "{reason}");
        assert!(outcome.samples.is_empty());
    }

    #[test]
    fn samples_on_its_thread_and_ends_with_the_final_snapshot() {
        let old = entry("127.0.0.1:40000", "127.0.0.1:8080", TcpState::TimeWait);
        let during = vec![
            old.clone(),
            entry("127.0.0.1:40001", "127.0.0.1:8080", TcpState::Established),
            entry("127.0.0.1:8080", "127.0.0.1:40001", TcpState::Established),
        ];
        let end = vec![
            old.clone(),
            entry("127.0.0.1:40001", "127.0.0.1:8080", TcpState::TimeWait),
            entry("127.0.0.1:8080", "127.0.0.1:40002", TcpState::TimeWait),
        ];
        let (table, calls) = WatchedTable::new(vec![Ok(vec![old]), Ok(during)], Ok(end));
        let sampler = Sampler::start(spec(), Box::new(table));
        wait_for_thread_calls(&calls, 3);
        let outcome = sampler.stop(&[]);
        assert!(outcome.available);
        let samples = &outcome.samples;
        assert!(samples.len() >= 4, "{}", samples.len());
        assert_eq!(samples[0].client.established(), 1);
        assert_eq!(samples[0].server.established(), 1);
        assert_eq!(
            samples[0].client.time_wait(),
            0,
            "the baseline TIME_WAIT is excluded"
        );
        assert!(samples.windows(2).all(|w| w[0].at_us <= w[1].at_us));
        assert_eq!(outcome.time_wait.time_wait_client_end, 1);
        assert_eq!(outcome.time_wait.time_wait_server_end, 1);
        assert_eq!(outcome.distinct_connections, 2);
        assert_eq!(outcome.baseline_excluded, 1);
        assert_eq!(outcome.failed_snapshots, 0);
        assert!(!outcome.final_snapshot_failed);
        assert_eq!(outcome.interval_us, 2000);
        let json = serde_json::to_string(&outcome).unwrap();
        let back: SocketsOutcome = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outcome);
    }

    #[test]
    fn failed_snapshots_are_counted_and_the_run_goes_on() {
        let tw = vec![entry(
            "127.0.0.1:40001",
            "127.0.0.1:8080",
            TcpState::TimeWait,
        )];
        let script = vec![Ok(vec![]), Ok(tw), Err("flaky".into())];
        let (table, calls) = WatchedTable::new(script, Err("gone at the end".into()));
        let sampler = Sampler::start(spec(), Box::new(table));
        wait_for_thread_calls(&calls, 3);
        let outcome = sampler.stop(&[]);
        assert!(outcome.available);
        assert!(
            outcome.failed_snapshots >= 2,
            "{}",
            outcome.failed_snapshots
        );
        assert!(outcome.final_snapshot_failed);
        assert_eq!(outcome.samples.len(), 1, "only the one good sample");
        assert_eq!(
            outcome.time_wait.time_wait_client_end, 1,
            "the end falls back to the last good sample"
        );
    }

    #[test]
    fn tiny_intervals_are_raised_to_the_minimum() {
        let table = ScriptedTable::new(vec![Ok(vec![])]);
        let spec = SamplerSpec {
            interval: Duration::ZERO,
            ..spec()
        };
        let sampler = Sampler::start(spec, Box::new(table));
        assert_eq!(sampler.spec().interval, MIN_SAMPLE_INTERVAL);
        let started = Instant::now();
        drop(sampler);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "drop stops the thread promptly"
        );
    }
}
