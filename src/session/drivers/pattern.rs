//! The scenario driver: kalab's own client (reqwest) sends a scenario's request pattern.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{Driven, Driver};
use crate::model::Warning;
use crate::report::DrivenBy;
use crate::runner::client::{self, DialLog};
use crate::runner::pattern;
use crate::scenario::Scenario;
use crate::session::signals::StopFlag;
use crate::session::target::Endpoint;

/// Sends a scenario's request pattern, bounded by its request count and by `max_run`.
pub struct PatternDriver {
    /// The scenario as run (with its variant's values applied).
    pub scenario: Scenario,
    /// Upper bound on the pattern's duration.
    pub max_run: Duration,
    /// Called after every request (progress bars).
    pub on_request: Arc<dyn Fn() + Send + Sync>,
    /// Stops the pattern early (a stop signal); the requests so far are reported.
    pub stop: Option<StopFlag>,
    /// How many requests and dials are kept as records (see `model::detail`).
    pub detail_cap: usize,
}

impl Driver for PatternDriver {
    async fn drive(self, endpoint: &Endpoint) -> anyhow::Result<Driven> {
        let log = DialLog::with_cap(self.detail_cap);
        let mut settings = self.scenario.client.clone();
        if self.scenario.pattern.rate.map(|r| r.of) == Some(crate::scenario::RateOf::Connections) {
            // A rate of new connections: every arrival dials; nothing waits idle in the pool.
            settings.max_idle_per_host = Some(0);
        }
        let trust = client::TargetTrust {
            https: endpoint.url.starts_with("https://"),
            embedded_cas: &endpoint.ca_files,
        };
        let client = client::build(&settings, trust, log.clone())
            .context("cannot build the HTTP client from [client]")?;
        let single = [endpoint.url.clone()];
        let urls = if endpoint.urls.is_empty() {
            &single[..]
        } else {
            &endpoint.urls[..]
        };
        let stop = self.stop.clone();
        let stopped = async move {
            match stop {
                Some(flag) => {
                    flag.stopped().await;
                }
                None => std::future::pending().await,
            }
        };
        let (requests, interrupted) = pattern::run(
            &client,
            urls,
            &self.scenario.pattern,
            self.scenario.body.policy,
            Instant::now() + self.max_run,
            self.on_request,
            stopped,
            self.detail_cap,
        )
        .await;
        let (requests, folded, capped) = requests.into_parts();
        let dropped = crate::model::detail::Dropped {
            requests: folded,
            capped: capped.into_iter().collect(),
            ..Default::default()
        };
        let mut notes = Vec::new();
        if let Some(signal) = self
            .stop
            .as_ref()
            .and_then(StopFlag::get)
            .filter(|_| interrupted)
        {
            notes.push(Warning::Note {
                message: format!(
                    "interrupted by {signal}: the run is reported as far as it got ({} requests finished)",
                    dropped.requests.total().sent + requests.len() as u64
                ),
            });
        }
        if trust.https && self.scenario.client.insecure {
            notes.push(Warning::Note {
                message: "INSECURE: [client] insecure = true, so the server's certificate was not checked; anyone on the path could have impersonated it".to_string(),
            });
        }
        Ok(Driven {
            driven_by: DrivenBy::Settings(Box::new(self.scenario)),
            requests,
            dropped,
            dials: Some(log),
            notes,
            interrupted,
            keep_until_stopped: Some(Box::new(client)),
        })
    }
}
