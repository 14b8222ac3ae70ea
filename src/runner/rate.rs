//! Open-loop arrivals: with a `rate`, every worker starts its requests on the clock (evenly
//! spaced at its share of the rate), each on its own task, whether or not earlier requests
//! have finished, as wrk2, vegeta and k6's arrival-rate executors do. The number of requests in
//! flight is bounded by the rate times the request timeout.
//!
//! A schedule ends at the pattern's request count, at its duration or at the run's deadline,
//! whichever comes first; requests in flight then finish (each bounded by its timeout).

use std::sync::Arc;
use std::time::Instant;

use super::request::{one_request, HostChoice, Target};
use crate::model::detail::RequestLog;
use crate::model::RequestOutcome;
use crate::scenario::rate::arrival_offset;
use crate::scenario::{BodyPolicy, PatternSettings, Rate};

/// Sends the pattern's arrivals from `started` until `stop`, recording every outcome in `log`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn open_loop(
    client: &reqwest::Client,
    urls: &[String],
    pattern: &PatternSettings,
    rate: Rate,
    policy: BodyPolicy,
    started: Instant,
    stop: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
    log: Arc<std::sync::Mutex<RequestLog>>,
) {
    let workers = pattern.workers.get();
    let limit = pattern
        .requests_per_worker
        .map_or(u64::from(u32::MAX), |n| u64::from(n.get()));
    let mut schedules = tokio::task::JoinSet::new();
    let targets: Arc<[Target]> = Target::all(urls).into();
    for worker in 0..workers {
        let client = client.clone();
        let urls = Arc::clone(&targets);
        let mut choice = HostChoice::new(pattern, worker, urls.len());
        let on_done = Arc::clone(&on_done);
        let log = Arc::clone(&log);
        schedules.spawn(async move {
            let mut in_flight = tokio::task::JoinSet::new();
            let record = |done: Result<RequestOutcome, _>| {
                if let (Ok(outcome), Ok(mut log)) = (done, log.lock()) {
                    log.push(outcome);
                }
            };
            let mut k: u64 = 0;
            while k < limit {
                let due = started + arrival_offset(&rate, workers, worker, k);
                if due >= stop {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let index = k as u32;
                let url = urls[choice.host(index)].clone();
                let client = client.clone();
                let on_done = Arc::clone(&on_done);
                in_flight.spawn(async move {
                    let outcome = one_request(&client, &url, policy, worker, index).await;
                    on_done();
                    outcome
                });
                k += 1;
                while let Some(done) = in_flight.try_join_next() {
                    record(done);
                }
            }
            while let Some(done) = in_flight.join_next().await {
                record(done);
            }
        });
    }
    while schedules.join_next().await.is_some() {}
}
