//! Request patterns: one loop, parameterised by workers, requests per worker and pause.
//!
//! `sequential` is the loop with one worker; `concurrent` runs several at once. Every loop is
//! bounded by its request count and by a deadline, so a run always stops by itself. With
//! several hosts, each request goes to one of them as the pattern's `spread` says: round-robin
//! (request `i` of worker `w` to host `(w + i) mod N`) or random from a seeded generator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::HttpInfo;

use super::body;
use crate::model::{now_us, RequestError, RequestOutcome};
use crate::scenario::{BodyPolicy, HostSpread, PatternSettings};

/// Which host each request of one worker goes to.
enum HostChoice {
    /// `(worker + index) mod hosts`.
    RoundRobin { worker: u32, hosts: usize },
    /// A generator seeded with the pattern's seed and the worker's number.
    Random(fastrand::Rng, usize),
}

impl HostChoice {
    fn new(pattern: &PatternSettings, worker: u32, hosts: usize) -> HostChoice {
        match pattern.spread {
            HostSpread::RoundRobin => HostChoice::RoundRobin { worker, hosts },
            HostSpread::Random => {
                // Distinct, repeatable streams per worker (splitmix64's increment).
                let seed = pattern
                    .seed
                    .unwrap_or(0)
                    .wrapping_add(u64::from(worker).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                HostChoice::Random(fastrand::Rng::with_seed(seed), hosts)
            }
        }
    }

    /// The host of request `index`.
    fn host(&mut self, index: u32) -> usize {
        match self {
            HostChoice::RoundRobin { worker, hosts } => {
                (*worker as usize + index as usize) % (*hosts).max(1)
            }
            HostChoice::Random(rng, hosts) => rng.usize(..(*hosts).max(1)),
        }
    }
}

/// Runs the pattern against `urls` (one per host, spread as the pattern says) and returns every
/// request's outcome, ordered by start time. `on_done` is called after each request (for
/// progress bars). The pattern ends early at `deadline` (a pause or a request in flight is cut
/// short) or when `stop` resolves; the requests finished by then are returned, and whether it
/// was stopped. The log grows as requests finish, never in proportion to the request count.
pub async fn run(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    policy: BodyPolicy,
    deadline: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
    stop: impl std::future::Future<Output = ()>,
) -> (Vec<RequestOutcome>, bool) {
    let log: Arc<std::sync::Mutex<Vec<RequestOutcome>>> = Arc::default();
    let mut workers = tokio::task::JoinSet::new();
    // Workers start together: a worker spawned late could otherwise find an earlier worker's
    // connection already back in the pool, and the counts would depend on spawn timing.
    let start = Arc::new(tokio::sync::Barrier::new(pattern.workers.get() as usize));
    for worker in 0..pattern.workers.get() {
        let start = Arc::clone(&start);
        let client = client.clone();
        let urls = urls.to_vec();
        let mut choice = HostChoice::new(pattern, worker, urls.len());
        let requests = pattern.requests_per_worker.get();
        let pause = Duration::from_millis(pattern.pause_ms);
        let on_done = Arc::clone(&on_done);
        let log = Arc::clone(&log);
        workers.spawn(async move {
            start.wait().await;
            for index in 0..requests {
                if Instant::now() >= deadline {
                    break;
                }
                let url = &urls[choice.host(index)];
                let outcome = one_request(&client, url, policy, worker, index).await;
                if let Ok(mut log) = log.lock() {
                    log.push(outcome);
                }
                on_done();
                if index + 1 < requests && !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        });
    }
    let all_done = async { while workers.join_next().await.is_some() {} };
    let stopped = tokio::select! {
        () = all_done => false,
        () = tokio::time::sleep_until(deadline.into()) => false,
        () = stop => true,
    };
    // Whatever is still in flight (past the deadline, or stopped) is not reported.
    workers.shutdown().await;
    let mut all = log
        .lock()
        .map(|mut log| std::mem::take(&mut *log))
        .unwrap_or_default();
    all.sort_by_key(|o| (o.started_at_us, o.worker, o.index));
    (all, stopped)
}

async fn one_request(
    client: &reqwest::Client,
    url: &str,
    policy: BodyPolicy,
    worker: u32,
    index: u32,
) -> RequestOutcome {
    let started_at_us = now_us();
    let clock = Instant::now();
    let mut outcome = RequestOutcome {
        worker,
        index,
        started_at_us,
        latency_us: 0,
        status: None,
        bytes_read: 0,
        body: None,
        local: None,
        error: None,
        connection: None,
        reused: None,
        remote: None,
    };
    match client.get(url).send().await {
        Ok(response) => {
            outcome.status = Some(response.status().as_u16());
            let info = response.extensions().get::<HttpInfo>();
            outcome.local = info.map(|info| info.local_addr());
            outcome.remote = info.map(|info| info.remote_addr());
            let success = response.status().is_success();
            match body::apply(policy, response).await {
                Ok(result) => {
                    outcome.bytes_read = result.bytes_read;
                    outcome.body = Some(result.fate);
                    if !success {
                        outcome.error = Some(RequestError {
                            kind: "status".into(),
                            detail: format!("status {}", outcome.status.unwrap_or_default()),
                        });
                    }
                }
                Err(err) => outcome.error = Some(classify(&err)),
            }
        }
        Err(err) => outcome.error = Some(classify(&err)),
    }
    outcome.latency_us = clock.elapsed().as_micros() as u64;
    outcome
}

/// Sorts a reqwest error into a stable kind. `connection-closed` is the keep-alive race: the
/// server closed a pooled connection just as the client reused it.
fn classify(err: &reqwest::Error) -> RequestError {
    let detail = super::server::error_chain(err);
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connect"
    } else if detail.contains("connection closed before message completed")
        || detail.contains("connection reset")
        || detail.contains("IncompleteMessage")
    {
        "connection-closed"
    } else if err.is_body() || err.is_decode() {
        "body"
    } else {
        "other"
    };
    RequestError {
        kind: kind.into(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(spread: HostSpread, seed: Option<u64>) -> PatternSettings {
        PatternSettings {
            kind: crate::scenario::PatternKind::Concurrent,
            workers: std::num::NonZeroU32::new(3).unwrap(),
            requests_per_worker: std::num::NonZeroU32::new(6).unwrap(),
            pause_ms: 0,
            spread,
            seed,
        }
    }

    #[test]
    fn round_robin_gives_every_host_the_same_share() {
        let p = pattern(HostSpread::RoundRobin, None);
        let mut per_host = [0; 3];
        for worker in 0..3 {
            let mut choice = HostChoice::new(&p, worker, 3);
            let hosts: Vec<usize> = (0..6).map(|i| choice.host(i)).collect();
            assert_eq!(
                hosts[0], worker as usize,
                "workers start on different hosts"
            );
            for host in hosts {
                per_host[host] += 1;
            }
        }
        assert_eq!(per_host, [6, 6, 6]);
    }

    #[test]
    fn random_spread_repeats_with_its_seed() {
        let picks = |seed| {
            let p = pattern(HostSpread::Random, Some(seed));
            let mut choice = HostChoice::new(&p, 1, 3);
            (0..20).map(|i| choice.host(i)).collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        assert_ne!(picks(7), picks(8));
        assert!(picks(7).iter().all(|&h| h < 3));
    }
}
