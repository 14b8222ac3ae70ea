//! Request patterns: one loop, parameterised by workers, requests per worker and pause.
//!
//! `sequential` is the loop with one worker; `concurrent` runs several at once. Every loop is
//! bounded by its request count and by a deadline, so a run always stops by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::HttpInfo;

use super::body;
use crate::model::{now_us, RequestError, RequestOutcome};
use crate::scenario::{BodyPolicy, PatternSettings};

/// Runs the pattern against `url` and returns every request's outcome, ordered by start time.
/// `on_done` is called after each request (for progress bars).
pub async fn run(
    client: &reqwest::Client,
    url: &str,
    pattern: &PatternSettings,
    policy: BodyPolicy,
    deadline: Instant,
    on_done: Arc<dyn Fn() + Send + Sync>,
) -> Vec<RequestOutcome> {
    let mut workers = tokio::task::JoinSet::new();
    // Workers start together: a worker spawned late could otherwise find an earlier worker's
    // connection already back in the pool, and the counts would depend on spawn timing.
    let start = Arc::new(tokio::sync::Barrier::new(pattern.workers.get() as usize));
    for worker in 0..pattern.workers.get() {
        let start = Arc::clone(&start);
        let client = client.clone();
        let url = url.to_string();
        let requests = pattern.requests_per_worker.get();
        let pause = Duration::from_millis(pattern.pause_ms);
        let on_done = Arc::clone(&on_done);
        workers.spawn(async move {
            start.wait().await;
            let mut outcomes = Vec::with_capacity(requests as usize);
            for index in 0..requests {
                if Instant::now() >= deadline {
                    break;
                }
                outcomes.push(one_request(&client, &url, policy, worker, index).await);
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
    all.sort_by_key(|o| (o.started_at_us, o.worker, o.index));
    all
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
    };
    match client.get(url).send().await {
        Ok(response) => {
            outcome.status = Some(response.status().as_u16());
            outcome.local = response
                .extensions()
                .get::<HttpInfo>()
                .map(|info| info.local_addr());
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
