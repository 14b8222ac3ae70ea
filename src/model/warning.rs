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
    /// Connection attempts whose SYN nobody answered (no SYN-ACK): not opened connections.
    ConnectionsUnanswered {
        /// How many attempts.
        count: u64,
        /// Who counted them (the capture, or the socket table: client sockets only ever seen in
        /// SYN_SENT).
        source: Source,
        /// How much `ListenOverflows` rose during the run, when it could be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        listen_overflows: Option<u64>,
    },
    /// The kernel's listen-queue counters rose during the run: an accept queue was full, so
    /// SYNs (or handshake ACKs) were dropped.
    ListenQueueOverflowed {
        /// `ListenOverflows` during the run.
        overflows: u64,
        /// `ListenDrops` during the run.
        drops: u64,
    },
    /// Connections whose FINs crossed: both sides hold TIME_WAIT.
    ClosedSimultaneously {
        /// How many connections.
        count: u64,
    },
    /// Free text from a collector (kernel drops, undecodable packets, ...).
    Note {
        /// The message.
        message: String,
    },
    /// Nothing at all was seen on the watched port (`kalab observe`, `kalab watch`): no
    /// connection, no attempt, no connection already open. Usually the wrong port, host or
    /// interface.
    NoTraffic {
        /// The port watched.
        port: u16,
        /// The server address watched, if one was given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<std::net::IpAddr>,
        /// The interface the capture listened on, when there was a capture.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interface: Option<String>,
        /// The port was kalab's embedded server's (`observe --serve`).
        embedded_server: bool,
        /// The TCP ports listening on this machine (this network namespace), the busiest
        /// first, from one read of the socket table after the run; empty when it could not be
        /// read.
        listening: Vec<ListeningPort>,
    },
    /// Not a problem: how to read the numbers (which source counted the requests, connections
    /// that were open before the run). Printed as a `note:`, where the other kinds are
    /// `warning:`s.
    Info {
        /// The message.
        message: String,
    },
}

/// A listening TCP port and how many of the machine's sockets were connected to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListeningPort {
    /// The port.
    pub port: u16,
    /// Sockets on this port that are not listening (established, TIME_WAIT, ...), at the one
    /// read of the socket table.
    pub connections: u64,
}

impl Warning {
    /// Whether this is a note on how to read the report rather than a warning about its
    /// numbers.
    pub fn is_note(&self) -> bool {
        matches!(self, Warning::Info { .. })
    }
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
                if terms.simultaneous > 0 {
                    write!(
                        f,
                        " ({} of the closes simultaneous: the FINs crossed, both sides hold TIME_WAIT)",
                        terms.simultaneous
                    )?;
                }
                if terms.unexplained != 0 {
                    write!(f, "; {} unexplained", terms.unexplained)?;
                }
                Ok(())
            }
            Warning::ConnectionsRefused { count } => write!(
                f,
                "{count} connection attempt(s) refused (capture source): the SYN was answered by a RST, so nothing listened on the port; refused attempts are not counted as opened connections, closes or resets"
            ),
            Warning::ConnectionsUnanswered {
                count,
                source,
                listen_overflows,
            } => {
                write!(
                    f,
                    "{count} connection attempt(s) never answered ({source} source): the SYN got no SYN-ACK, so they are attempts, not opened connections"
                )?;
                match listen_overflows {
                    Some(0) => f.write_str("; the kernel counted no listen-queue overflow during the run (TcpExt ListenOverflows), so the SYNs were lost on the way or the client gave up before an answer"),
                    Some(n) => write!(f, "; cause: the kernel counted {n} listen-queue overflow(s) during the run (TcpExt ListenOverflows): a server's accept queue was full and the kernel dropped the SYNs"),
                    None => Ok(()),
                }
            }
            Warning::ListenQueueOverflowed { overflows, drops } => write!(
                f,
                "the kernel counted {overflows} listen-queue overflow(s) and {drops} listen drop(s) during the run (TcpExt ListenOverflows / ListenDrops, every listener in this network namespace): an accept queue was full, so SYNs went unanswered and clients had to retry"
            ),
            Warning::ClosedSimultaneously { count } => write!(
                f,
                "{count} connection(s) closed simultaneously (capture source): both sides sent their FIN before the other's arrived, so both sides hold TIME_WAIT for each of them"
            ),
            Warning::NoTraffic {
                port,
                host,
                interface,
                embedded_server,
                listening,
            } => {
                let at = match host {
                    Some(host) => format!("{host} port {port}"),
                    None => format!("port {port}"),
                };
                let on = match interface {
                    Some(interface) => format!(" (captured on {interface})"),
                    None if !*embedded_server => " (by the socket table alone, which samples: a connection that opened and closed between two samples is missed)".to_string(),
                    None => String::new(),
                };
                write!(
                    f,
                    "nothing was seen on {at}{on}: no connection, no attempt, none already open"
                )?;
                if *embedded_server {
                    write!(f, "; the command never reached kalab's embedded server: write `{{port}}` where it takes the port (kalab replaces it) or read $KALAB_PORT")?;
                } else {
                    f.write_str("; check --port (the port the server listens on), --host (omit it to watch every address) and --interface (the one that carries the traffic; loopback is `lo`)")?;
                }
                if !listening.is_empty() {
                    let ports: Vec<String> = listening
                        .iter()
                        .map(|l| format!("{} ({} connection(s))", l.port, l.connections))
                        .collect();
                    write!(
                        f,
                        "; TCP ports listening on this machine, the busiest first: {}",
                        ports.join(", ")
                    )?;
                }
                Ok(())
            }
            Warning::Note { message } | Warning::Info { message } => f.write_str(message),
        }
    }
}
