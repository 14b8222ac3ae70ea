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
use crate::session::target::Endpoint;

/// Sends a scenario's request pattern, bounded by its request count and by `max_run`.
pub struct PatternDriver {
    /// The scenario as run (with its variant's values applied).
    pub scenario: Scenario,
    /// Upper bound on the pattern's duration.
    pub max_run: Duration,
    /// Called after every request (progress bars).
    pub on_request: Arc<dyn Fn() + Send + Sync>,
}

impl Driver for PatternDriver {
    async fn drive(self, endpoint: &Endpoint) -> anyhow::Result<Driven> {
        let log = DialLog::default();
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
        let requests = pattern::run(
            &client,
            urls,
            &self.scenario.pattern,
            self.scenario.body.policy,
            Instant::now() + self.max_run,
            self.on_request,
        )
        .await;
        let mut notes = Vec::new();
        if trust.https && self.scenario.client.insecure {
            notes.push(Warning::Note {
                message: "INSECURE: [client] insecure = true, so the server's certificate was not checked; anyone on the path could have impersonated it".to_string(),
            });
        }
        Ok(Driven {
            driven_by: DrivenBy::Settings(Box::new(self.scenario)),
            requests,
            dials: Some(log),
            notes,
            interrupted: false,
            keep_until_stopped: Some(Box::new(client)),
        })
    }
}
