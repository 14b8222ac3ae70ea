//! The kernel's listen-queue counters: `ListenOverflows` and `ListenDrops` from the `TcpExt`
//! lines of `/proc/net/netstat`, read before and after a run, and `net.core.somaxconn`.
//!
//! When a listener's accept queue is full, Linux drops the client's SYN (or its handshake ACK)
//! and counts a listen overflow: the client sees a SYN that is never answered, and retries or
//! gives up. A run whose counters rose saw the server's backlog overflow. The counters belong to
//! the network namespace, not to one listener: another program's listener in the same namespace
//! counts too, so a rise is a finding about the machine during the run, not proof about kalab's
//! server. [`parse_netstat`] is pure (tested on canned text); [`read_listen_counters`] reads
//! `/proc`.

use serde::{Deserialize, Serialize};

/// The listen-queue counters of one read of `/proc/net/netstat` (since boot, per namespace).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ListenCounters {
    /// `TcpExt: ListenOverflows`: SYNs or handshake ACKs dropped because an accept queue was
    /// full.
    pub listen_overflows: u64,
    /// `TcpExt: ListenDrops`: every SYN dropped at a listener, overflows included.
    pub listen_drops: u64,
}

impl ListenCounters {
    /// What rose between `self` (before) and `after`; counters never go down, so a smaller
    /// value (a namespace change) counts as 0.
    pub fn delta(&self, after: &ListenCounters) -> ListenCounters {
        ListenCounters {
            listen_overflows: after.listen_overflows.saturating_sub(self.listen_overflows),
            listen_drops: after.listen_drops.saturating_sub(self.listen_drops),
        }
    }
}

/// Where the listen counters are read.
pub const NETSTAT_PATH: &str = "/proc/net/netstat";
/// Where the kernel's cap on a listen backlog is read.
pub const SOMAXCONN_PATH: &str = "/proc/sys/net/core/somaxconn";

/// Why the listen counters could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NetstatError {
    /// No `TcpExt` header and value lines.
    #[error("no TcpExt lines")]
    NoTcpExt,
    /// The `TcpExt` lines have no such counter.
    #[error("no TcpExt counter {0}")]
    Missing(&'static str),
    /// A value that is not a number.
    #[error("TcpExt counter {name} is not a number: {value:?}")]
    NotANumber {
        /// The counter.
        name: &'static str,
        /// What stood there.
        value: String,
    },
}

/// Reads `ListenOverflows` and `ListenDrops` from the text of `/proc/net/netstat`: pairs of
/// lines, a header (`TcpExt: Name Name ...`) and its values (`TcpExt: 1 2 ...`).
pub fn parse_netstat(text: &str) -> Result<ListenCounters, NetstatError> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return Err(NetstatError::NoTcpExt);
    };
    let names: Vec<&str> = names.split_whitespace().skip(1).collect();
    let values: Vec<&str> = values.split_whitespace().skip(1).collect();
    let get = |name: &'static str| -> Result<u64, NetstatError> {
        let index = names
            .iter()
            .position(|&n| n == name)
            .ok_or(NetstatError::Missing(name))?;
        let value = values.get(index).ok_or(NetstatError::Missing(name))?;
        value.parse().map_err(|_| NetstatError::NotANumber {
            name,
            value: (*value).to_string(),
        })
    };
    Ok(ListenCounters {
        listen_overflows: get("ListenOverflows")?,
        listen_drops: get("ListenDrops")?,
    })
}

/// Reads this namespace's listen counters from [`NETSTAT_PATH`]; `None` when it cannot (not
/// Linux, no procfs): the run then reports no listen-queue figures.
pub fn read_listen_counters() -> Option<ListenCounters> {
    let text = std::fs::read_to_string(NETSTAT_PATH).ok()?;
    parse_netstat(&text).ok()
}

/// `net.core.somaxconn`, the largest listen backlog the kernel grants; `None` when unreadable.
pub fn read_somaxconn() -> Option<u32> {
    std::fs::read_to_string(SOMAXCONN_PATH)
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANNED: &str =
        "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPHPHits\n\
TcpExt: 24131 0 54595 54600 28\n\
IpExt: InNoRoutes InTruncatedPkts\n\
IpExt: 0 0\n";

    #[test]
    fn reads_the_listen_counters_by_name() {
        assert_eq!(
            parse_netstat(CANNED),
            Ok(ListenCounters {
                listen_overflows: 54595,
                listen_drops: 54600
            })
        );
    }

    #[test]
    fn a_delta_never_goes_below_zero() {
        let before = ListenCounters {
            listen_overflows: 10,
            listen_drops: 12,
        };
        let after = ListenCounters {
            listen_overflows: 15,
            listen_drops: 11,
        };
        assert_eq!(
            before.delta(&after),
            ListenCounters {
                listen_overflows: 5,
                listen_drops: 0
            }
        );
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        assert_eq!(parse_netstat(""), Err(NetstatError::NoTcpExt));
        assert_eq!(
            parse_netstat("TcpExt: ListenDrops\nTcpExt: 3\n"),
            Err(NetstatError::Missing("ListenOverflows"))
        );
        assert_eq!(
            parse_netstat("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1\n"),
            Err(NetstatError::Missing("ListenDrops"))
        );
        assert!(matches!(
            parse_netstat("TcpExt: ListenOverflows ListenDrops\nTcpExt: x 1\n"),
            Err(NetstatError::NotANumber { .. })
        ));
    }

    #[test]
    fn this_machine_has_the_counters() {
        if std::path::Path::new(NETSTAT_PATH).exists() {
            assert!(read_listen_counters().is_some());
        }
    }
}
