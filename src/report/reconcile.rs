//! Closes reconciled with TIME_WAIT, per side: every connection a side closed first (on the
//! wire) is in TIME_WAIT at the end, or ended in a reset, or had its TIME_WAIT socket recycled by
//! a later connection on the same 4-tuple, or expired before the end. A simultaneous close (the
//! FINs crossed) leaves TIME_WAIT on both sides, so it is a close of each side.
//!
//! Pure: it reads the capture's connection records and the socket table's final counts. The
//! terms come from the wire (closes, resets, recycled, expired) and from the final snapshot of
//! the socket table (TIME_WAIT at the end, exact at that instant); whatever the terms do not
//! explain is reported as such, never hidden.

use crate::capture::ReconcileTally;
use crate::model::{ConnectionRecord, TimeWait, TimeWaitReconciliation};

/// Reconciles the wire's closes with the TIME_WAIT sockets of the final snapshot, taken at
/// `end_at_us`.
pub fn reconcile(
    connections: &[ConnectionRecord],
    time_wait: &TimeWait,
    end_at_us: u64,
    time_wait_secs: u64,
) -> TimeWaitReconciliation {
    let mut full: Vec<&ConnectionRecord> = connections.iter().filter(|c| c.opened()).collect();
    full.sort_by_key(|c| c.started_at_us());
    let mut tally = ReconcileTally::default();
    for connection in full {
        tally.add(connection, time_wait_secs);
    }
    tally.finish(time_wait, end_at_us, time_wait_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndState, FourTuple, Side, SideReconciliation};

    const SECOND: u64 = 1_000_000;

    fn closed(client_port: u16, syn_at: u64, closer: Side, end: EndState) -> ConnectionRecord {
        let tuple = FourTuple::new(
            ([127, 0, 0, 1], client_port).into(),
            ([127, 0, 0, 1], 8080).into(),
        );
        let mut record: ConnectionRecord = serde_json::from_value(serde_json::json!({
            "tuple": tuple, "client_isn": 1, "syn_at_us": syn_at, "syn_ack_at_us": syn_at,
            "client_fin_at_us": null, "server_fin_at_us": null, "rst_at_us": null,
            "rst_from": null, "first_packet_at_us": syn_at, "last_packet_at_us": syn_at + 10,
            "packets_to_server": 3, "packets_to_client": 3, "payload_bytes_to_server": 10,
            "payload_bytes_to_client": 10, "requests": 1, "responses": 1,
            "request_times_us": [syn_at], "active_closer": closer, "end": end, "partial": false
        }))
        .unwrap();
        match closer {
            Side::Client => record.client_fin_at_us = Some(syn_at + 5),
            Side::Server => record.server_fin_at_us = Some(syn_at + 5),
        }
        record
    }

    #[test]
    fn every_close_is_in_time_wait_reset_recycled_or_expired() {
        let connections = [
            // Port 1: closed by the server, then reused 1 s later (recycled), closed again.
            closed(1, 50 * SECOND, Side::Server, EndState::ClosedByServer),
            closed(1, 51 * SECOND, Side::Server, EndState::ClosedByServer),
            // Port 2: closed by the client, then a RST.
            closed(2, 0, Side::Client, EndState::Reset),
            // Port 3: closed by the client 70 s before the end: expired.
            closed(3, 0, Side::Client, EndState::ClosedByClient),
            // Port 4: closed by the client just before the end: still in TIME_WAIT.
            closed(4, 69 * SECOND, Side::Client, EndState::ClosedByClient),
        ];
        let time_wait = TimeWait {
            time_wait_client_end: 1,
            time_wait_server_end: 1,
            ..TimeWait::default()
        };
        let r = reconcile(&connections, &time_wait, 70 * SECOND, 60);
        assert_eq!(
            r.server,
            SideReconciliation {
                closes: 2,
                time_wait_end: 1,
                reset: 0,
                recycled: 1,
                expired: 0,
                unexplained: 0,
                simultaneous: 0
            }
        );
        assert_eq!(
            r.client,
            SideReconciliation {
                closes: 3,
                time_wait_end: 1,
                reset: 1,
                recycled: 0,
                expired: 1,
                unexplained: 0,
                simultaneous: 0
            }
        );
    }

    #[test]
    fn a_simultaneous_close_expects_time_wait_on_both_sides() {
        let mut both = closed(1, 0, Side::Server, EndState::ClosedSimultaneously);
        both.client_fin_at_us = Some(6);
        let connections = [both, closed(2, 0, Side::Client, EndState::ClosedByClient)];
        let time_wait = TimeWait {
            time_wait_client_end: 2,
            time_wait_server_end: 1,
            ..TimeWait::default()
        };
        let r = reconcile(&connections, &time_wait, SECOND, 60);
        assert_eq!((r.client.closes, r.client.simultaneous), (2, 1));
        assert_eq!((r.server.closes, r.server.simultaneous), (1, 1));
        assert!(r.client.adds_up() && r.server.adds_up(), "{r:?}");
        // Had it been counted for its first closer only, the client's second socket would be
        // unexplained.
    }

    #[test]
    fn what_the_terms_do_not_explain_is_reported() {
        let connections = [closed(1, 0, Side::Server, EndState::ClosedByServer)];
        let r = reconcile(&connections, &TimeWait::default(), SECOND, 60);
        assert_eq!(r.server.unexplained, 1);
        assert!(!r.server.adds_up());
        assert!(r.client.adds_up());
    }
}
