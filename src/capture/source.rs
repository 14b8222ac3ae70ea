//! The seam between packet sources (a live pcap handle, a capture file) and the pure decoding and
//! flow assembly: a [`PacketSource`] pushes [`RawPacket`]s, an [`Ingest`] turns them into
//! connection records and counts what it skipped.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use super::decode::{decode_with, LinkType, SkipReason};
use super::flows::FlowAssembler;

/// One captured frame as a source delivers it.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// The frame's link type; None when the source's link type is not one kalab decodes.
    pub link: Option<LinkType>,
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: u64,
    /// The frame's length on the wire, in bytes.
    pub wire_len: u32,
    /// The captured bytes (at most the snaplen).
    pub data: &'a [u8],
}

/// Why a source stopped before its natural end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The data is not a pcap or pcapng capture.
    #[error("not a pcap or pcapng capture: {0}")]
    NotACapture(String),
    /// The data is damaged at this byte offset (truncated or corrupt).
    #[error("damaged at byte offset {offset}: {reason}")]
    Damaged {
        /// Bytes consumed before the damage.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// Reading failed.
    #[error("read error: {0}")]
    Read(String),
}

/// Something that delivers captured frames in capture order.
pub trait PacketSource {
    /// Calls `on_packet` for each frame until the source ends (end of file, or a live capture
    /// that was told to stop) or `on_packet` returns `Break`. An error ends the stream; frames
    /// delivered before it stand.
    fn for_each_packet(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError>;
}

/// Skipped frames by reason.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SkipCounts {
    /// Ended inside a header.
    pub truncated: u64,
    /// Invalid header.
    pub malformed: u64,
    /// Not IP.
    pub not_ip: u64,
    /// IP but not TCP.
    pub not_tcp: u64,
    /// Non-first IP fragments.
    pub fragments: u64,
    /// Link type kalab does not decode.
    pub unsupported_link: u64,
}

impl SkipCounts {
    /// All skipped frames.
    pub fn total(&self) -> u64 {
        self.truncated
            + self.malformed
            + self.not_ip
            + self.not_tcp
            + self.fragments
            + self.unsupported_link
    }

    fn add(&mut self, reason: SkipReason) {
        match reason {
            SkipReason::Truncated => self.truncated += 1,
            SkipReason::Malformed => self.malformed += 1,
            SkipReason::NotIp => self.not_ip += 1,
            SkipReason::NotTcp => self.not_tcp += 1,
            SkipReason::Fragment => self.fragments += 1,
        }
    }
}

/// Decodes frames and feeds a [`FlowAssembler`], counting frames and skips.
pub struct Ingest {
    /// The assembler fed with every decoded segment.
    pub assembler: FlowAssembler,
    /// Frames delivered by the source.
    pub packets_captured: u64,
    /// Frames that produced no TCP segment, by reason.
    pub skipped: SkipCounts,
    /// Time of the first frame.
    pub first_packet_at_us: Option<u64>,
    /// Time of the last frame.
    pub last_packet_at_us: Option<u64>,
}

impl Ingest {
    /// An ingest for connections to `server_port`.
    pub fn new(server_port: u16) -> Self {
        Ingest {
            assembler: FlowAssembler::new(server_port),
            packets_captured: 0,
            skipped: SkipCounts::default(),
            first_packet_at_us: None,
            last_packet_at_us: None,
        }
    }

    /// Decodes and assembles one frame.
    pub fn packet(&mut self, packet: &RawPacket<'_>) {
        self.packets_captured += 1;
        self.first_packet_at_us.get_or_insert(packet.ts_us);
        self.last_packet_at_us = Some(packet.ts_us);
        let Some(link) = packet.link else {
            self.skipped.unsupported_link += 1;
            return;
        };
        let assembler = &mut self.assembler;
        let decoded = decode_with(
            link,
            packet.data,
            packet.wire_len,
            packet.ts_us,
            |segment| {
                assembler.push(segment);
            },
        );
        if let Err(reason) = decoded {
            self.skipped.add(reason);
        }
    }
}
