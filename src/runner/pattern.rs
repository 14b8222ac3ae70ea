//! Request patterns: one loop, parameterised by workers, requests per worker and pause.
//!
//! `sequential` is the loop with one worker; `concurrent` runs several at once. Every loop is
//! bounded by its request count or its duration, and by a deadline, so a run always stops by
//! itself. With a rate, arrivals are open-loop (`runner::rate`). With
//! several hosts, each request goes to one of them as the pattern's `spread` says: round-robin
//! (request `i` of worker `w` to host `(w + i) mod N`) or random from a seeded generator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::request::{one_request, HostChoice, Target};
use crate::model::detail::RequestLog;
use crate::scenario::{BodyPolicy, PatternSettings};

/// Runs the pattern against `urls` (one per host, spread as the pattern says) and returns every
/// request's outcome, ordered by start time. `on_done` is called after each request (for
/// progress bars). The pattern ends at its request count, at the end of its `duration`, or at
/// `deadline`, whichever comes first; with a `rate`, arrivals are open-loop (see
/// [`super::rate`]). At `deadline` a pause or a request in flight is cut short, and `stop` (a
/// stop signal) ends it at once; the requests finished by then are returned, and whether it
/// was stopped. The closed loop's log grows as requests finish, never in proportion to the
/// request count. At most `detail_cap` outcomes are kept (the first to finish); the rest are
/// folded into the log's exact aggregates.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    policy: BodyPolicy,
    deadline: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
    stop: impl std::future::Future<Output = ()>,
    detail_cap: usize,
) -> (RequestLog, bool) {
    let started = Instant::now();
    let end = match pattern.duration {
        Some(duration) => deadline.min(started + duration.0),
        None => deadline,
    };
    tokio::pin!(stop);
    let (mut all, stopped) = match pattern.rate {
        // The open loop keeps its own time; a stop signal ends it with nothing reported.
        Some(rate) => {
            let log = Arc::new(std::sync::Mutex::new(RequestLog::new(detail_cap)));
            tokio::select! {
                () = super::rate::open_loop(client, urls, pattern, rate, policy, started, end, on_done, Arc::clone(&log)) => (take(&log, detail_cap), false),
                () = &mut stop => (RequestLog::new(detail_cap), true),
            }
        }
        None => {
            let log = Arc::new(std::sync::Mutex::new(RequestLog::new(detail_cap)));
            let stopped = tokio::select! {
                () = closed_loop(client, urls, pattern, policy, end, on_done, Arc::clone(&log)) => false,
                // A pause or a request in flight past the run's deadline is cut short.
                () = tokio::time::sleep_until(deadline.into()) => false,
                () = &mut stop => true,
            };
            (take(&log, detail_cap), stopped)
        }
    };
    all.kept_mut()
        .sort_by_key(|o| (o.started_at_us, o.worker, o.index));
    (all, stopped)
}

/// Every worker sends its next request when the previous one is done (and the pause is over),
/// adding its outcome to `log` as it finishes. Dropping the future aborts the workers; what
/// they finished stays in the log.
async fn closed_loop(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    policy: BodyPolicy,
    stop: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
    log: Arc<std::sync::Mutex<RequestLog>>,
) {
    let mut workers = tokio::task::JoinSet::new();
    // Workers start together: a worker spawned late could otherwise find an earlier worker's
    // connection already back in the pool, and the counts would depend on spawn timing.
    let start = Arc::new(tokio::sync::Barrier::new(pattern.workers.get() as usize));
    let targets: Arc<[Target]> = Target::all(urls).into();
    for worker in 0..pattern.workers.get() {
        let start = Arc::clone(&start);
        let client = client.clone();
        let urls = Arc::clone(&targets);
        let mut choice = HostChoice::new(pattern, worker, urls.len());
        // Without a count, the duration (or the deadline) ends the loop.
        let requests = pattern.requests_per_worker.map_or(u32::MAX, |n| n.get());
        let pause = Duration::from_millis(pattern.pause_ms);
        let on_done = Arc::clone(&on_done);
        let log = Arc::clone(&log);
        workers.spawn(async move {
            start.wait().await;
            for index in 0..requests {
                if Instant::now() >= stop {
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
    while workers.join_next().await.is_some() {}
}

/// The log's outcomes, taken out of the shared log.
fn take(log: &std::sync::Mutex<RequestLog>, detail_cap: usize) -> RequestLog {
    log.lock()
        .map(|mut log| std::mem::replace(&mut *log, RequestLog::new(detail_cap)))
        .unwrap_or_else(|_| RequestLog::new(detail_cap))
}
