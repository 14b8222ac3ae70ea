//! `-v` on the wire: one line per SYN, FIN and RST as the live capture sees it. Decoding again
//! only when the line will be written keeps the capture thread's usual work unchanged.

use super::decode::decode;
use super::source::RawPacket;
use crate::model::verbosity::{self, Verbosity};

/// Writes the packet's connection event (SYN, SYN-ACK, FIN, RST) with `-v`; data and pure ACKs
/// say nothing.
pub(crate) fn emit(packet: &RawPacket<'_>, server_port: u16) {
    if verbosity::get() != Verbosity::Verbose {
        return;
    }
    let Some(link) = packet.link else { return };
    let Ok(segment) = decode(link, packet.data, packet.wire_len, packet.ts_us) else {
        return;
    };
    let flags = segment.flags;
    let what = if flags.syn() && !flags.ack() {
        "SYN"
    } else if flags.syn() {
        "SYN-ACK"
    } else if flags.rst() {
        "RST"
    } else if flags.fin() {
        "FIN"
    } else {
        return;
    };
    let from = if segment.dst.port() == server_port {
        "client"
    } else {
        "server"
    };
    verbosity::event(|| {
        format!(
            "wire: {what} from the {from}, {} -> {}",
            segment.src, segment.dst
        )
    });
}
