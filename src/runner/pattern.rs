//! Request patterns: one loop, parameterised by workers, requests per worker and pause.
//!
//! `sequential` is the loop with one worker; `concurrent` runs several at once. Every loop is
//! bounded by its request count or its duration, and by a deadline, so a run always stops by
//! itself. With a rate, arrivals are open-loop (`runner::rate`). With
//! several hosts, each request goes to one of them as the pattern's `spread` says: round-robin
//! (request `i` of worker `w` to host `(w + i) mod N`) or random from a seeded generator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::request::{one_request, HostChoice};
use crate::model::RequestOutcome;
use crate::scenario::{BodyPolicy, PatternSettings};

/// Runs the pattern against `urls` (one per host, spread as the pattern says) and returns every
/// request's outcome, ordered by start time. `on_done` is called after each request (for
/// progress bars). The pattern ends at its request count, at the end of its `duration`, or at
/// `deadline`, whichever comes first; with a `rate`, arrivals are open-loop (see
/// [`super::rate`]).
pub async fn run(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    policy: BodyPolicy,
    deadline: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
) -> Vec<RequestOutcome> {
    let started = Instant::now();
    let stop = match pattern.duration {
        Some(duration) => deadline.min(started + duration.0),
        None => deadline,
    };
    let mut all = match pattern.rate {
        Some(rate) => {
            super::rate::open_loop(client, urls, pattern, rate, policy, started, stop, on_done)
                .await
        }
        None => closed_loop(client, urls, pattern, policy, stop, on_done).await,
    };
    all.sort_by_key(|o| (o.started_at_us, o.worker, o.index));
    all
}

/// Every worker sends its next request when the previous one is done (and the pause is over).
async fn closed_loop(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    policy: BodyPolicy,
    stop: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
) -> Vec<RequestOutcome> {
    let mut workers = tokio::task::JoinSet::new();
    // Workers start together: a worker spawned late could otherwise find an earlier worker's
    // connection already back in the pool, and the counts would depend on spawn timing.
    let start = Arc::new(tokio::sync::Barrier::new(pattern.workers.get() as usize));
    for worker in 0..pattern.workers.get() {
        let start = Arc::clone(&start);
        let client = client.clone();
        let urls = urls.to_vec();
        let mut choice = HostChoice::new(pattern, worker, urls.len());
        // Without a count, the duration (or the deadline) ends the loop.
        let requests = pattern.requests_per_worker.map_or(u32::MAX, |n| n.get());
        let pause = Duration::from_millis(pattern.pause_ms);
        let on_done = Arc::clone(&on_done);
        workers.spawn(async move {
            start.wait().await;
            let mut outcomes = Vec::with_capacity(requests.min(1024) as usize);
            for index in 0..requests {
                if Instant::now() >= stop {
                    break;
                }
                let url = &urls[choice.host(index)];
                outcomes.push(one_request(&client, url, policy, worker, index).await);
                on_done();
                if index + 1 < requests && !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            outcomes
        });
    }
    let mut all = Vec::new();
    while let Some(done) = workers.join_next().await {
        if let Ok(outcomes) = done {
            all.extend(outcomes);
        }
    }
    all
}
