//! Warnings and advice: one enum, so every message a report can carry is written in one place.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::connection::Side;
use super::source::Source;
use super::time_wait::SideReconciliation;
use super::wire::ResetCauses;

/// Something a reader of a report should know about its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Warning {
    /// Two sources counted the same figure differently.
    SourcesDisagree {
        /// The figure (`connections_opened`).
        figure: String,
        /// One source and its value.
        first: Source,
        /// That source's value.
        first_value: u64,
        /// The other source.
        second: Source,
        /// Its value.
        second_value: u64,
    },
    /// Some requests failed.
    RequestsFailed {
        /// How many.
        count: u64,
        /// Their kinds, `kind: count` joined by commas.
        kinds: String,
    },
    /// The run's deadline cut the pattern short.
    DeadlineReached {
        /// Requests planned.
        planned: u64,
        /// Requests sent before the deadline.
        sent: u64,
    },
    /// A source could not measure this run.
    SourceUnavailable {
        /// Which.
        source: Source,
        /// Why, and how to fix it.
        reason: String,
    },
    /// Connections ended in a RST, which leaves no TIME_WAIT: a low TIME_WAIT count is then no
    /// sign of reuse.
    ResetsLeaveNoTimeWait {
        /// How many connections ended in a reset.
        resets: u64,
        /// Who saw them.
        source: Source,
        /// Their causes, when the wire was captured.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        causes: Option<ResetCauses>,
    },
    /// Connections that carried no request: the client dialled them for a request that then
    /// went out on a pooled connection that came back first.
    ConnectionsWithoutRequests {
        /// How many.
        count: u64,
        /// Of how many opened.
        opened: u64,
        /// Who counted them.
        source: Source,
    },
    /// One side's closes and its TIME_WAIT sockets at the end differ: the terms that reconcile
    /// them (and whatever they leave unexplained).
    TimeWaitReconciled {
        /// Which side's sockets.
        side: Side,
        /// The closes and the terms.
        terms: SideReconciliation,
        /// The TIME_WAIT period assumed, in seconds.
        time_wait_secs: u64,
    },
    /// Connection attempts answered by a RST instead of a SYN-ACK: nothing listened.
    ConnectionsRefused {
        /// How many SYNs were refused.
        count: u64,
    },
    /// Free text from a collector (kernel drops, undecodable packets, ...).
    Note {
        /// The message.
        message: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SourcesDisagree {
                figure,
                first,
                first_value,
                second,
                second_value,
            } => {
                write!(
                    f,
                    "sources disagree on {figure}: {first} counted {first_value}, {second} counted {second_value}"
                )?;
                if *second == Source::Sockets && second_value < first_value {
                    f.write_str(
                        " (the socket table is sampled, so it misses connections that open and close \
                         between two samples, and connections that ended in a reset vanish at once)",
                    )?;
                }
                Ok(())
            }
            Warning::RequestsFailed { count, kinds } => {
                write!(f, "{count} request(s) failed ({kinds})")
            }
            Warning::DeadlineReached { planned, sent } => write!(
                f,
                "the run's time limit stopped the pattern after {sent} of {planned} requests"
            ),
            Warning::SourceUnavailable { source, reason } => {
                write!(f, "no {source} source: {reason}")
            }
            Warning::ResetsLeaveNoTimeWait {
                resets,
                source,
                causes,
            } => {
                write!(f, "{resets} connection(s) ended in a reset ({source} source)")?;
                match causes {
                    Some(causes) => {
                        let mut seen = Vec::new();
                        if causes.abortive > 0 {
                            seen.push(format!(
                                "{} by a side closing with unread data in its receive buffer",
                                causes.abortive
                            ));
                        }
                        if causes.idle_race > 0 {
                            seen.push(format!(
                                "{} by the server closing an idle connection as a request arrived (an idle timeout racing a request)",
                                causes.idle_race
                            ));
                        }
                        write!(f, ": {}", seen.join("; "))?;
                    }
                    None => f.write_str(": their cause only the wire shows")?,
                }
                f.write_str("; a reset skips TIME_WAIT, so these closes leave no TIME_WAIT socket: 0 TIME_WAIT here is not a sign of reuse")
            }
            Warning::ConnectionsWithoutRequests {
                count,
                opened,
                source,
            } => write!(
                f,
                "{count} of {opened} connection(s) carried no request ({source} source): the client dialled them for a request that was then sent on a pooled connection that came back first, so they sat idle until they were closed or the run ended"
            ),
            Warning::TimeWaitReconciled {
                side,
                terms,
                time_wait_secs,
            } => {
                write!(
                    f,
                    "{side} side: {} close(s) (capture) = {} in TIME_WAIT at the end (sockets) + {} ended by a reset + {} recycled by a later SYN on the same 4-tuple within {time_wait_secs} s + {} expired",
                    terms.closes, terms.time_wait_end, terms.reset, terms.recycled, terms.expired
                )?;
                if terms.unexplained != 0 {
                    write!(f, "; {} unexplained", terms.unexplained)?;
                }
                Ok(())
            }
            Warning::ConnectionsRefused { count } => write!(
                f,
                "{count} connection attempt(s) refused (capture source): the SYN was answered by a RST, so nothing listened on the port; refused attempts are not counted as opened connections, closes or resets"
            ),
            Warning::Note { message } => f.write_str(message),
        }
    }
}
