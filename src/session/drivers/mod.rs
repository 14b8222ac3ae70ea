//! Drivers: the ways traffic is driven through a session, one file each.
//!
//! A driver gets the started target's [`Endpoint`] and makes (or waits for) traffic to it; the
//! session around it owns the target and the collectors. To add a way of driving traffic, add a
//! file here with a type that implements [`Driver`] and call [`super::run`] with it.

pub mod command;
pub mod pattern;
pub mod watch;

use std::any::Any;
use std::future::Future;

use super::target::Endpoint;
use crate::model::{RequestOutcome, Warning};
use crate::report::DrivenBy;
use crate::runner::client::DialLog;

/// One way of driving traffic through a session.
pub trait Driver {
    /// Drives the traffic to `endpoint` and says what it did. The collectors run throughout.
    fn drive(self, endpoint: &Endpoint) -> impl Future<Output = anyhow::Result<Driven>> + Send;
}

/// What a driver did: the part of a run's observations that only the driver knows.
pub struct Driven {
    /// What drove the traffic, as the report will say.
    pub driven_by: DrivenBy,
    /// Every request kalab's own client sent (empty when kalab sent none), up to the detail
    /// cap: the rest are folded in `dropped`.
    pub requests: Vec<RequestOutcome>,
    /// The requests beyond the detail cap, folded (the dials' and the server's folds are added
    /// by the session).
    pub dropped: crate::model::detail::Dropped,
    /// The connections kalab's own client dialled: the `client` source (`None`: no client
    /// source). A log, not a copy: a dial the client's pool started in the background may
    /// complete after the last request, so the session reads it after the settle, when it
    /// reads the server's connections.
    pub dials: Option<DialLog>,
    /// What the reader of the report should know about how the traffic was driven.
    pub notes: Vec<Warning>,
    /// The user interrupted the driver (Ctrl-C); the run is reported all the same.
    pub interrupted: bool,
    /// Dropped only after the collectors stopped: a client whose pooled connections must be
    /// seen `open-at-end`, not closing.
    pub keep_until_stopped: Option<Box<dyn Any + Send>>,
}
