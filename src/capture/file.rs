//! Streaming reader for capture files: pcap (micro- and nanosecond, either byte order) and pcapng
//! (several interfaces, any timestamp resolution), through pcap-parser's circular buffer.
//!
//! Memory is the buffer (grown only for a block larger than it, up to [`MAX_BUFFER_BYTES`]) plus
//! one entry per pcapng interface. A truncated or corrupt file ends the stream with
//! [`SourceError::Damaged`] after every packet before the damage was delivered.

use std::fs::File;
use std::ops::ControlFlow;
use std::path::Path;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::decode::LinkType;
use super::source::{PacketSource, RawPacket, SourceError};

/// Initial read buffer.
const BUFFER_BYTES: usize = 1 << 18;
/// Largest buffer grown for one oversized block; larger blocks mean a corrupt file.
pub const MAX_BUFFER_BYTES: usize = 16 << 20;

/// Which container format a file uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap,
    /// pcap next generation.
    Pcapng,
}

struct Interface {
    link: Option<LinkType>,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_s: i64,
}

/// A capture file opened for one streaming pass.
pub struct FileSource {
    reader: Box<dyn PcapReaderIterator + Send>,
    format: FileFormat,
    buffer_bytes: usize,
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
            "the file ends in the middle of a packet record (truncated)".into()
        }
        PcapError::BufferTooSmall => format!(
            "a record claims more than {} MiB (corrupt length field)",
            MAX_BUFFER_BYTES >> 20
        ),
        PcapError::ReadError => "read error".into(),
        PcapError::HeaderNotRecognized => "unrecognised file header".into(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid record ({kind:?})")
        }
    }
}

impl FileSource {
    /// Opens `path` and reads its file header.
    pub fn open(path: &Path) -> Result<FileSource, SourceError> {
        let file = File::open(path).map_err(|e| SourceError::Read(e.to_string()))?;
        let reader = pcap_parser::create_reader(BUFFER_BYTES, file).map_err(|e| match e {
            PcapError::Eof => SourceError::NotACapture("the file is empty".into()),
            PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                SourceError::NotACapture("the file is shorter than a capture file header".into())
            }
            e => SourceError::NotACapture(describe(&e)),
        })?;
        let mut head = [0u8; 4];
        head.copy_from_slice(reader.data().get(..4).unwrap_or(&[0; 4]));
        let format = if u32::from_le_bytes(head) == 0x0A0D_0D0A {
            FileFormat::Pcapng
        } else {
            FileFormat::Pcap
        };
        Ok(FileSource {
            reader,
            format,
            buffer_bytes: BUFFER_BYTES,
        })
    }

    /// The container format.
    pub fn format(&self) -> FileFormat {
        self.format
    }
}

fn ts_from_units(seconds: i64, fraction: u64, resolution: u64) -> u64 {
    let us = u128::from(fraction) * 1_000_000 / u128::from(resolution.max(1));
    (seconds.max(0) as u64)
        .saturating_mul(1_000_000)
        .saturating_add(us as u64)
}

impl PacketSource for FileSource {
    fn for_each_packet(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        let mut legacy: Option<(Option<LinkType>, u64)> = None;
        let mut interfaces: Vec<Interface> = Vec::new();
        loop {
            let damaged = |reader: &dyn PcapReaderIterator, reason: String| SourceError::Damaged {
                offset: reader.consumed() as u64,
                reason,
            };
            match self.reader.next() {
                Ok((used, block)) => {
                    let mut flow = ControlFlow::Continue(());
                    match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            let resolution = if h.is_nanosecond_precision() {
                                1_000_000_000
                            } else {
                                1_000_000
                            };
                            legacy = Some((LinkType::from_dlt(h.network.0), resolution));
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (link, resolution) = legacy.unwrap_or((None, 1_000_000));
                            flow = on_packet(&RawPacket {
                                link,
                                ts_us: ts_from_units(
                                    i64::from(b.ts_sec),
                                    u64::from(b.ts_usec),
                                    resolution,
                                ),
                                wire_len: b.origlen,
                                data: b.data,
                            });
                        }
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => interfaces.clear(),
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            interfaces.push(Interface {
                                link: LinkType::from_dlt(idb.linktype.0),
                                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                                offset_s: idb.ts_offset(),
                            });
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                            let Some(ifc) = interfaces.get(epb.if_id as usize) else {
                                let reason =
                                    format!("packet for undeclared interface {}", epb.if_id);
                                return Err(damaged(&*self.reader, reason));
                            };
                            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                            let seconds = ifc.offset_s + (units / ifc.resolution.max(1)) as i64;
                            let data = &epb.data[..(epb.caplen as usize).min(epb.data.len())];
                            flow = on_packet(&RawPacket {
                                link: ifc.link,
                                ts_us: ts_from_units(
                                    seconds,
                                    units % ifc.resolution.max(1),
                                    ifc.resolution,
                                ),
                                wire_len: epb.origlen,
                                data,
                            });
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                            flow = on_packet(&RawPacket {
                                link: interfaces.first().and_then(|i| i.link),
                                ts_us: 0,
                                wire_len: spb.origlen,
                                data: spb.data,
                            });
                        }
                        PcapBlockOwned::NG(_) => {}
                    }
                    self.reader.consume(used);
                    if flow.is_break() {
                        return Ok(());
                    }
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    self.reader
                        .refill()
                        .map_err(|e| SourceError::Read(describe(&e)))?;
                }
                Err(PcapError::BufferTooSmall) if self.buffer_bytes < MAX_BUFFER_BYTES => {
                    self.buffer_bytes *= 2;
                    self.reader.grow(self.buffer_bytes);
                    self.reader
                        .refill()
                        .map_err(|e| SourceError::Read(describe(&e)))?;
                }
                Err(e) => {
                    let reason = describe(&e);
                    return Err(damaged(&*self.reader, reason));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_convert_from_any_resolution() {
        assert_eq!(ts_from_units(2, 500_000, 1_000_000), 2_500_000);
        assert_eq!(ts_from_units(2, 500_000_000, 1_000_000_000), 2_500_000);
        assert_eq!(ts_from_units(1, 1 << 31, 1 << 32), 1_500_000);
        assert_eq!(ts_from_units(-5, 0, 1_000_000), 0);
    }
}
