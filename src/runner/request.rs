//! One request and where it goes: the host a worker's request is sent to (round-robin or
//! seeded random), and the request itself with its body policy, timed and classified. Both
//! loops (closed, in `runner::pattern`, and open, in `runner::rate`) send through here.

use std::time::Instant;

use hyper_util::client::legacy::connect::HttpInfo;

use super::body;
use crate::model::{now_us, RequestError, RequestOutcome};
use crate::scenario::{BodyPolicy, HostSpread, PatternSettings};

/// A request's URL, parsed once per run: reqwest would otherwise parse (and check for
/// international names) the same string on every request.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A URL that parses: handed to reqwest as it is.
    Parsed(reqwest::Url),
    /// A string that does not: reqwest reports it on each request, as it always did.
    Unparsed(String),
}

impl Target {
    /// Every URL of a run, parsed.
    pub(super) fn all(urls: &[String]) -> Vec<Target> {
        urls.iter()
            .map(|url| match reqwest::Url::parse(url) {
                Ok(parsed) => Target::Parsed(parsed),
                Err(_) => Target::Unparsed(url.clone()),
            })
            .collect()
    }

    fn get(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        match self {
            Target::Parsed(url) => client.get(url.clone()),
            Target::Unparsed(url) => client.get(url.as_str()),
        }
    }
}

/// Which host each request of one worker goes to.
pub(super) enum HostChoice {
    /// `(worker + index) mod hosts`.
    RoundRobin { worker: u32, hosts: usize },
    /// A generator seeded with the pattern's seed and the worker's number.
    Random(fastrand::Rng, usize),
}

impl HostChoice {
    pub(super) fn new(pattern: &PatternSettings, worker: u32, hosts: usize) -> HostChoice {
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
    pub(super) fn host(&mut self, index: u32) -> usize {
        match self {
            HostChoice::RoundRobin { worker, hosts } => {
                (*worker as usize + index as usize) % (*hosts).max(1)
            }
            HostChoice::Random(rng, hosts) => rng.usize(..(*hosts).max(1)),
        }
    }
}

pub(super) async fn one_request(
    client: &reqwest::Client,
    url: &Target,
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
    let (sent, dialled) = super::client::noting_dial(url.get(client).send()).await;
    match sent {
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
        Err(err) => {
            outcome.error = Some(classify(&err));
            // Failed after a connection was chosen (closed or reset before the response):
            // which connection it was, so the failure is counted against it.
            if let Some(info) = connection_of(&err) {
                outcome.local = Some(info.local_addr());
                outcome.remote = Some(info.remote_addr());
            } else if let Some((local, remote)) = dialled {
                // No connection in the error (a timeout of reqwest's own), but the request
                // dialled its connection itself.
                outcome.local = Some(local);
                outcome.remote = Some(remote);
            }
        }
    }
    outcome.latency_us = clock.elapsed().as_micros() as u64;
    outcome
}

/// The connection a failed request was sent on, when the client got that far: hyper's error
/// carries the connection's info (the dial recorder's `HttpInfo`). `None` when the request
/// failed before a connection was chosen (a failed dial) or on a timeout of reqwest's own.
fn connection_of(err: &reqwest::Error) -> Option<HttpInfo> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(connected) = cause
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .and_then(hyper_util::client::legacy::Error::connect_info)
        {
            let mut extensions = http::Extensions::new();
            connected.get_extras(&mut extensions);
            return extensions.get::<HttpInfo>().cloned();
        }
        source = cause.source();
    }
    None
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
            requests_per_worker: std::num::NonZeroU32::new(6),
            pause_ms: 0,
            spread,
            seed,
            duration: None,
            rate: None,
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
