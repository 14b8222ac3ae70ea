//! The wire's record of one TCP connection: what the capture saw, from its SYN (when captured)
//! to its FINs or RST. Assembled by the capture, read by the report.

use serde::{Deserialize, Serialize};

use super::connection::{EndState, FourTuple, Side};
use super::tls::TlsHandshake;

/// Everything the capture saw of one TCP connection. Times are microseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnectionRecord {
    /// Client and server addresses.
    pub tuple: FourTuple,
    /// The client's initial sequence number (from its SYN, or from the SYN-ACK's acknowledgment
    /// number minus one); 0 when neither was captured (`partial`).
    pub client_isn: u32,
    /// When the client's first SYN was seen.
    pub syn_at_us: Option<u64>,
    /// When the server's first SYN-ACK was seen.
    pub syn_ack_at_us: Option<u64>,
    /// When the client's first FIN was seen.
    pub client_fin_at_us: Option<u64>,
    /// When the server's first FIN was seen.
    pub server_fin_at_us: Option<u64>,
    /// When the first RST was seen.
    pub rst_at_us: Option<u64>,
    /// Who sent the first RST.
    pub rst_from: Option<Side>,
    /// When the first packet of this connection was seen.
    pub first_packet_at_us: u64,
    /// When the last packet of this connection was seen.
    pub last_packet_at_us: u64,
    /// Packets from client to server.
    pub packets_to_server: u64,
    /// Packets from server to client.
    pub packets_to_client: u64,
    /// TCP payload bytes on the wire from client to server (retransmissions included).
    pub payload_bytes_to_server: u64,
    /// TCP payload bytes on the wire from server to client (retransmissions included).
    pub payload_bytes_to_client: u64,
    /// HTTP/1.x requests started (request lines at message starts).
    pub requests: u64,
    /// HTTP/1.x final responses started (status lines at message starts, 1xx excluded).
    pub responses: u64,
    /// When each request started: the time of the segment carrying its first byte.
    pub request_times_us: Vec<u64>,
    /// Who sent the first FIN (in a simultaneous close, the FIN captured first).
    pub active_closer: Option<Side>,
    /// How the connection ended: any RST makes it `reset`; else FINs from both sides, each
    /// sent before the other was acknowledged, make it `closed-simultaneously`; else the first
    /// FIN's side; else open.
    pub end: EndState,
    /// True when the client's SYN was not captured (the connection started before the capture).
    pub partial: bool,
    /// The TLS handshake, classified from the ClientHello and ServerHello on the wire (TLS
    /// connections only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHandshake>,
    /// True when the connection speaks TLS: the client's stream began with a TLS handshake
    /// record (or the server sent a ServerHello). Its HTTP messages are then encrypted and not
    /// counted; `tls` is None when the handshake could not be classified (no ServerHello seen).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_seen: bool,
}

impl ConnectionRecord {
    /// A connection first seen at `ts_us`, partial until its SYN says otherwise.
    pub(crate) fn new(tuple: FourTuple, ts_us: u64) -> Self {
        ConnectionRecord {
            tuple,
            client_isn: 0,
            syn_at_us: None,
            syn_ack_at_us: None,
            client_fin_at_us: None,
            server_fin_at_us: None,
            rst_at_us: None,
            rst_from: None,
            first_packet_at_us: ts_us,
            last_packet_at_us: ts_us,
            packets_to_server: 0,
            packets_to_client: 0,
            payload_bytes_to_server: 0,
            payload_bytes_to_client: 0,
            requests: 0,
            responses: 0,
            request_times_us: Vec::new(),
            active_closer: None,
            end: EndState::OpenAtEnd,
            partial: true,
            tls: None,
            tls_seen: false,
        }
    }

    /// A connection attempt the server refused: its SYN was answered by a RST, never by a
    /// SYN-ACK (nothing listened on the port). It was never opened.
    pub fn refused(&self) -> bool {
        !self.partial && self.syn_ack_at_us.is_none() && self.rst_from == Some(Side::Server)
    }

    /// A connection attempt nobody answered: its SYN captured (retransmissions of it are the
    /// same attempt), but no SYN-ACK and no other packet from the server ever was. Typically a
    /// SYN the kernel dropped because the listener's accept queue was full (a listen overflow),
    /// or a SYN lost on the way. It was never opened.
    pub fn unanswered(&self) -> bool {
        !self.partial && self.syn_ack_at_us.is_none() && self.packets_to_client == 0
    }

    /// A connection the capture saw open: its SYN captured, and answered by a SYN-ACK (refused
    /// and unanswered attempts are not connections).
    pub fn opened(&self) -> bool {
        !self.partial && !self.refused() && !self.unanswered()
    }

    /// Whether both sides sent their FIN before either FIN was acknowledged (a simultaneous
    /// close: both sides go through CLOSING and both hold TIME_WAIT).
    pub fn closed_simultaneously(&self) -> bool {
        self.end == EndState::ClosedSimultaneously
    }

    /// Why a RST ended it, when one did (refused attempts aside: see [`Self::refused`]).
    pub fn reset_cause(&self) -> Option<ResetCause> {
        if self.rst_from.is_none() || self.refused() {
            return None;
        }
        if self.rst_from == Some(Side::Server) && self.requests > self.responses {
            Some(ResetCause::IdleRace)
        } else {
            Some(ResetCause::Abortive)
        }
    }

    /// When the connection started as far as the capture knows: its SYN, else its first packet.
    pub fn started_at_us(&self) -> u64 {
        self.syn_at_us.unwrap_or(self.first_packet_at_us)
    }
}

/// Why a RST ended a connection, as the wire shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ResetCause {
    /// A side closed with data still unread in its receive buffer (its FIN then a RST, or a RST
    /// alone): an abortive close, such as a client dropping a response body unread.
    Abortive,
    /// The server reset a connection on which a request went unanswered: it was closing the
    /// connection as idle when the request arrived (an idle timeout racing a request).
    IdleRace,
}

/// Resets counted by cause (the capture source).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ResetCauses {
    /// Abortive closes with unread data.
    pub abortive: u64,
    /// Idle connections closed by the server as a request arrived.
    pub idle_race: u64,
}

impl ResetCauses {
    /// Counts the causes of the resets among `connections`.
    pub fn count<'a>(connections: impl IntoIterator<Item = &'a ConnectionRecord>) -> ResetCauses {
        let mut causes = ResetCauses::default();
        for cause in connections
            .into_iter()
            .filter_map(ConnectionRecord::reset_cause)
        {
            match cause {
                ResetCause::Abortive => causes.abortive += 1,
                ResetCause::IdleRace => causes.idle_race += 1,
            }
        }
        causes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        rst_from: Option<Side>,
        syn_ack: bool,
        requests: u64,
        responses: u64,
    ) -> ConnectionRecord {
        let tuple = FourTuple::new(([127, 0, 0, 1], 40000).into(), ([127, 0, 0, 1], 80).into());
        let mut r = ConnectionRecord::new(tuple, 1);
        r.partial = false;
        r.syn_at_us = Some(1);
        r.syn_ack_at_us = syn_ack.then_some(2);
        r.rst_from = rst_from;
        r.rst_at_us = rst_from.map(|_| 9);
        r.packets_to_client = u64::from(syn_ack) + u64::from(rst_from == Some(Side::Server));
        r.requests = requests;
        r.responses = responses;
        r
    }

    #[test]
    fn resets_are_told_apart_by_cause() {
        let refused = record(Some(Side::Server), false, 0, 0);
        assert!(refused.refused() && !refused.opened() && !refused.unanswered());
        assert_eq!(refused.reset_cause(), None);
        let dropped_body = record(Some(Side::Client), true, 1, 1);
        assert_eq!(dropped_body.reset_cause(), Some(ResetCause::Abortive));
        let raced = record(Some(Side::Server), true, 3, 2);
        assert_eq!(raced.reset_cause(), Some(ResetCause::IdleRace));
        let answered = record(Some(Side::Server), true, 2, 2);
        assert_eq!(answered.reset_cause(), Some(ResetCause::Abortive));
        assert_eq!(record(None, true, 1, 1).reset_cause(), None);
        let causes = ResetCauses::count([&dropped_body, &raced, &refused, &answered]);
        assert_eq!((causes.abortive, causes.idle_race), (2, 1));
    }

    #[test]
    fn a_syn_nobody_answered_is_an_attempt_not_a_connection() {
        let unanswered = record(None, false, 0, 0);
        assert!(unanswered.unanswered() && !unanswered.opened() && !unanswered.refused());
        let mut answered = record(None, true, 1, 1);
        answered.packets_to_client = 3;
        assert!(answered.opened() && !answered.unanswered());
        // A SYN-ACK the capture missed, but the server's data it did not: answered.
        let mut missed_syn_ack = record(None, false, 1, 1);
        missed_syn_ack.packets_to_client = 2;
        assert!(missed_syn_ack.opened());
    }
}
