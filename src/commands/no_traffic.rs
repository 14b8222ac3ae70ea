//! The hint for a watched port that saw nothing (`kalab observe`, `kalab watch`): an all-zero
//! report otherwise reads like a service that opened no connection, when the likelier cause is
//! the wrong `--port`, `--host` or `--interface`. The hint lists the ports that do listen on
//! this machine, the busiest first, from one read of the socket table after the run.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::{ListeningPort, Warning};
use crate::report::RunReport;
use crate::sockets::{KernelTable, SocketEntry, SocketTable as _, TcpState};

/// Most listening ports the hint names.
const LISTED_PORTS: usize = 6;

/// Adds the [`Warning::NoTraffic`] hint to `run` when every source that watched the port saw
/// nothing on it.
pub(crate) fn add_hint(run: &mut RunReport, port: u16, host: Option<IpAddr>, embedded: bool) {
    if !saw_nothing(run) {
        return;
    }
    let listening = KernelTable::new()
        .snapshot()
        .map(|entries| busiest_listening(&entries, LISTED_PORTS))
        .unwrap_or_default();
    run.warnings.push(Warning::NoTraffic {
        port,
        host,
        interface: run.capture.as_ref().map(|c| c.interface.clone()),
        embedded_server: embedded,
        listening,
    });
}

/// Whether a source watched the port (capture, socket table, embedded server) and none saw a
/// connection, an attempt or a connection already open.
fn saw_nothing(run: &RunReport) -> bool {
    let watched = run.capture.is_some()
        || run.connections_seen_lower_bound.is_some()
        || run.connections_opened.server.is_some();
    let zero = |v: Option<u64>| v.unwrap_or(0) == 0;
    watched
        && run.connections_opened.best().is_none_or(|(n, _)| n == 0)
        && zero(run.connections_seen_lower_bound)
        && zero(run.connections_already_open)
        && zero(run.connections_refused)
        && run
            .connections_unanswered
            .best()
            .is_none_or(|(n, _)| n == 0)
        && run.capture.as_ref().is_none_or(|c| c.packets_captured == 0)
}

/// The listening ports of a socket table, with how many other sockets use each, the busiest
/// first (then by port), at most `limit`.
pub(crate) fn busiest_listening(entries: &[SocketEntry], limit: usize) -> Vec<ListeningPort> {
    let mut ports: BTreeMap<u16, u64> = entries
        .iter()
        .filter(|e| e.state == TcpState::Listen)
        .map(|e| (e.local.port(), 0))
        .collect();
    for entry in entries.iter().filter(|e| e.state != TcpState::Listen) {
        if let Some(count) = ports.get_mut(&entry.local.port()) {
            *count += 1;
        }
    }
    let mut listed: Vec<ListeningPort> = ports
        .into_iter()
        .map(|(port, connections)| ListeningPort { port, connections })
        .collect();
    listed.sort_by_key(|p| (std::cmp::Reverse(p.connections), p.port));
    listed.truncate(limit);
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(local: &str, remote: &str, state: TcpState) -> SocketEntry {
        SocketEntry {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            tx_queue_bytes: 0,
            rx_queue_bytes: 0,
            inode: 1,
        }
    }

    #[test]
    fn listening_ports_are_ranked_by_their_connections() {
        let entries = [
            entry("0.0.0.0:22", "0.0.0.0:0", TcpState::Listen),
            entry("127.0.0.1:8080", "0.0.0.0:0", TcpState::Listen),
            // The same port listening on IPv6 too is one port.
            entry("[::]:8080", "[::]:0", TcpState::Listen),
            entry("127.0.0.1:8080", "127.0.0.1:50000", TcpState::Established),
            entry("127.0.0.1:8080", "127.0.0.1:50001", TcpState::TimeWait),
            entry("10.0.0.1:22", "10.0.0.9:40000", TcpState::Established),
            // The client's end of a connection to 8080 is not a socket on port 8080.
            entry("127.0.0.1:50000", "127.0.0.1:8080", TcpState::Established),
            entry("0.0.0.0:631", "0.0.0.0:0", TcpState::Listen),
        ];
        let listed = busiest_listening(&entries, 2);
        assert_eq!(
            listed,
            [
                ListeningPort {
                    port: 8080,
                    connections: 2
                },
                ListeningPort {
                    port: 22,
                    connections: 1
                },
            ]
        );
        assert_eq!(busiest_listening(&entries, 10).len(), 3);
    }

    #[test]
    fn the_hint_names_the_flags_and_the_ports() {
        let warning = Warning::NoTraffic {
            port: 9,
            host: None,
            interface: Some("lo".into()),
            embedded_server: false,
            listening: vec![ListeningPort {
                port: 8080,
                connections: 3,
            }],
        };
        let text = warning.to_string();
        assert!(
            text.contains("nothing was seen on port 9 (captured on lo)")
                && text.contains("check --port")
                && text.contains("--host")
                && text.contains("--interface")
                && text.contains("busiest first: 8080 (3 connection(s))"),
            "{text}"
        );
    }
}
