//! The wire's record of one TCP connection: what the capture saw, from its SYN (when captured)
//! to its FINs or RST. Assembled by the capture, read by the report.

use serde::{Deserialize, Serialize};

use super::connection::{EndState, FourTuple, Side};

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
    /// Who sent the first FIN.
    pub active_closer: Option<Side>,
    /// How the connection ended: any RST makes it `reset`, else the first FIN's side, else open.
    pub end: EndState,
    /// True when the client's SYN was not captured (the connection started before the capture).
    pub partial: bool,
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
        }
    }

    /// A connection attempt the server refused: its SYN was answered by a RST, never by a
    /// SYN-ACK (nothing listened on the port). It was never opened.
    pub fn refused(&self) -> bool {
        !self.partial && self.syn_ack_at_us.is_none() && self.rst_from == Some(Side::Server)
    }

    /// A connection the capture saw open: its SYN captured, and answered by a SYN-ACK.
    pub fn opened(&self) -> bool {
        !self.partial && !self.refused()
    }

    /// When the connection started as far as the capture knows: its SYN, else its first packet.
    pub fn started_at_us(&self) -> u64 {
        self.syn_at_us.unwrap_or(self.first_packet_at_us)
    }
}
