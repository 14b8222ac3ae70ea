//! Streaming reader for capture files: pcap (micro- and nanosecond, either byte order) and pcapng
//! (several interfaces, any timestamp resolution).
//!
//! Classic pcap, the format tcpdump writes, is read by a small dedicated loop that parses records
//! in place: from a read-only mapping of the file (no copy out of the page cache; pages behind
//! the reader are dropped every few MiB so resident memory does not grow with the file), or from
//! a large read buffer when the file cannot be mapped. A file truncated by another process while
//! it is mapped and read raises SIGBUS, as with any mapped file. pcapng and
//! the rare "modified" pcap go through pcap-parser's circular buffer. Both deliver the same
//! [`RawPacket`]s. Memory is the buffer (grown only for a record larger than it, up to
//! [`MAX_BUFFER_BYTES`]) plus one entry per pcapng interface. A truncated or corrupt file ends the
//! stream with [`SourceError::Damaged`] after every packet before the damage was delivered.

use std::fs::File;
use std::io::{Read, Seek as _, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::decode::LinkType;
use super::source::{PacketSource, RawPacket, SourceError};

/// Initial read buffer of pcap-parser (pcapng).
const BUFFER_BYTES: usize = 1 << 18;
/// Read buffer of the classic pcap reader.
const LEGACY_BUFFER_BYTES: usize = 1 << 20;
/// Length of a classic pcap file header.
const LEGACY_HEADER_BYTES: usize = 24;
/// Length of a classic pcap record header.
const LEGACY_RECORD_BYTES: usize = 16;
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
    reader: Reader,
    format: FileFormat,
}

enum Reader {
    /// Classic pcap, read by [`LegacyReader`].
    Legacy(LegacyReader),
    /// pcapng (and modified pcap) through pcap-parser.
    Generic {
        reader: Box<dyn PcapReaderIterator + Send>,
        buffer_bytes: usize,
    },
}

/// A read-only mapping of a whole regular file (memmap2), or bytes already in memory. Pages
/// behind the reader are dropped as it goes ([`Mapping::release`]), so resident memory stays a
/// few MiB whatever the file size.
enum Mapping {
    File(memmap2::Mmap),
    Bytes(Arc<[u8]>),
}

/// Bytes consumed between two releases of mapped pages.
const RELEASE_BYTES: usize = 4 << 20;

impl Mapping {
    /// Maps `file`; None when it is not a non-empty regular file or mapping fails (then the
    /// caller reads it instead).
    fn new(file: &File) -> Option<Mapping> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        // SAFETY: what makes a file mapping unsafe is the file changing underneath it: another
        // process writing to it changes bytes behind a `&[u8]` (harmless here: records are
        // parsed as plain bytes, and any value is valid), and another process truncating it makes
        // the next read of a vanished page raise SIGBUS, which ends kalab. kalab itself never
        // writes the files it analyses; a capture still being written by tcpdump only grows,
        // and the mapping covers the length at open time. The risk left is a truncation during
        // the read, stated in the README's analyze section.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(Mapping::File(map))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Mapping::File(map) => map,
            Mapping::Bytes(bytes) => bytes,
        }
    }

    /// Maps the pages of `from..from + len` in one call (MADV_POPULATE_READ) instead of one
    /// page fault per few pages as the reader touches them; a hint only (older kernels refuse
    /// it, and the pages then fault in as usual).
    fn populate(&self, from: usize, len: usize) {
        const PAGE_BYTES: usize = 4096;
        let Mapping::File(map) = self else {
            return;
        };
        let start = from / PAGE_BYTES * PAGE_BYTES;
        let end = from.saturating_add(len).min(map.len());
        if end > start {
            let _ = map.advise_range(memmap2::Advice::PopulateRead, start, end - start);
        }
    }

    /// Drops the resident pages of `..upto` (rounded down to pages); reading them again would
    /// fault them back in from the file unchanged, since the mapping is read-only.
    fn release(&self, upto: usize) {
        const PAGE_BYTES: usize = 4096;
        let Mapping::File(map) = self else {
            return;
        };
        let len = upto.min(map.len()) / PAGE_BYTES * PAGE_BYTES;
        if len > 0 {
            // SAFETY: MADV_DONTNEED on a read-only file mapping only drops resident pages; their
            // contents are read again from the file if touched, so no slice sees a change.
            let _ =
                unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, 0, len) };
        }
    }
}

/// A classic pcap file after its header: records parsed in place, from a mapping of the whole
/// file when possible (no copy out of the page cache), else from one read buffer.
struct LegacyReader {
    map: Option<Mapping>,
    file: Box<dyn Read + Send>,
    /// Read buffer; `buf[start..end]` holds bytes not yet consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    big_endian: bool,
    link: Option<LinkType>,
    /// Timestamp fraction units per second.
    resolution: u64,
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
        Self::from_file(file)
    }

    /// Reads an open file from its start (mapped when it is a regular file, else read).
    pub fn from_file(file: File) -> Result<FileSource, SourceError> {
        let map = Mapping::new(&file);
        Self::from_parts(map, Box::new(file))
    }

    /// Reads a stream (a pipe, stdin) once, through a read buffer.
    pub fn from_reader(reader: Box<dyn Read + Send>) -> Result<FileSource, SourceError> {
        Self::from_parts(None, reader)
    }

    /// Reads bytes in memory, in place.
    pub fn from_bytes(bytes: Arc<[u8]>) -> Result<FileSource, SourceError> {
        let reader = Box::new(std::io::Cursor::new(Arc::clone(&bytes)));
        Self::from_parts(Some(Mapping::Bytes(bytes)), reader)
    }

    /// `reader` at the start of the capture, and the whole of it in place when there is one.
    /// Nothing is read twice or sought: the header bytes read to tell the format are handed
    /// on, so a pipe works as well as a file.
    fn from_parts(
        map: Option<Mapping>,
        reader: Box<dyn Read + Send>,
    ) -> Result<FileSource, SourceError> {
        let (header, file) = match LegacyReader::open(map, reader)? {
            Ok(legacy) => {
                return Ok(FileSource {
                    reader: Reader::Legacy(legacy),
                    format: FileFormat::Pcap,
                })
            }
            Err(back) => back,
        };
        // pcap-parser recognises the format from its first read: give it a full buffer.
        let mut header = header;
        let mut file = file;
        (&mut file)
            .take((BUFFER_BYTES - header.len().min(BUFFER_BYTES)) as u64)
            .read_to_end(&mut header)
            .map_err(|e| SourceError::Read(e.to_string()))?;
        let file = std::io::Cursor::new(header).chain(file);
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
            reader: Reader::Generic {
                reader,
                buffer_bytes: BUFFER_BYTES,
            },
            format,
        })
    }

    /// The container format.
    pub fn format(&self) -> FileFormat {
        self.format
    }
}

fn ts_from_units(seconds: i64, fraction: u64, resolution: u64) -> u64 {
    let us = if resolution == 1_000_000 {
        fraction
    } else {
        // u128 division is slow; the u64 one gives the same result when the product fits.
        match fraction.checked_mul(1_000_000) {
            Some(product) => product / resolution.max(1),
            None => (u128::from(fraction) * 1_000_000 / u128::from(resolution.max(1))) as u64,
        }
    };
    (seconds.max(0) as u64)
        .saturating_mul(1_000_000)
        .saturating_add(us)
}

fn read_u32(bytes: &[u8], big_endian: bool) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[..4]);
    if big_endian {
        u32::from_be_bytes(word)
    } else {
        u32::from_le_bytes(word)
    }
}

/// The packet a classic pcap record holds: its 16-byte header (`record`) and captured bytes.
#[inline]
fn legacy_packet<'a>(
    record: &[u8],
    data: &'a [u8],
    link: Option<LinkType>,
    big_endian: bool,
    resolution: u64,
) -> RawPacket<'a> {
    RawPacket {
        link,
        ts_us: ts_from_units(
            i64::from(read_u32(record, big_endian)),
            u64::from(read_u32(&record[4..], big_endian)),
            resolution,
        ),
        wire_len: read_u32(&record[12..], big_endian),
        data,
    }
}

impl LegacyReader {
    /// Reads the file header. Gives the bytes read and the reader back (to be read by
    /// pcap-parser) when it is not a classic pcap with standard records.
    #[allow(clippy::type_complexity)]
    fn open(
        map: Option<Mapping>,
        mut file: Box<dyn Read + Send>,
    ) -> Result<Result<LegacyReader, (Vec<u8>, Box<dyn Read + Send>)>, SourceError> {
        let mut header = [0u8; LEGACY_HEADER_BYTES];
        let mut got = 0;
        while got < header.len() {
            match file.read(&mut header[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SourceError::Read(e.to_string())),
            }
        }
        if got < 4 {
            return Ok(Err((header[..got].to_vec(), file)));
        }
        let (big_endian, resolution) = match header[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, 1_000_000),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, 1_000_000_000),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, 1_000_000),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, 1_000_000_000),
            _ => return Ok(Err((header[..got].to_vec(), file))),
        };
        if got < LEGACY_HEADER_BYTES {
            return Err(SourceError::NotACapture(
                "the file is shorter than a capture file header".into(),
            ));
        }
        let network = read_u32(&header[20..], big_endian) as i32;
        Ok(Ok(LegacyReader {
            map,
            file,
            buf: vec![0; LEGACY_BUFFER_BYTES],
            start: 0,
            end: 0,
            offset: LEGACY_HEADER_BYTES as u64,
            big_endian,
            link: LinkType::from_dlt(network),
            resolution,
        }))
    }

    /// Walks the complete records at the start of `bytes`, up to about `budget` bytes,
    /// handing each packet to `on_packet`: the one record loop of both read paths.
    fn walk(
        &self,
        bytes: &[u8],
        budget: usize,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Walked {
        let mut walked = Walked::default();
        while walked.consumed < budget {
            let Some(record) = bytes.get(walked.consumed..).filter(|r| !r.is_empty()) else {
                return walked;
            };
            let len = match record.get(8..LEGACY_RECORD_BYTES) {
                Some(caplen) => {
                    LEGACY_RECORD_BYTES.saturating_add(read_u32(caplen, self.big_endian) as usize)
                }
                None => LEGACY_RECORD_BYTES,
            };
            let data = record
                .get(LEGACY_RECORD_BYTES..len)
                .filter(|_| len <= MAX_BUFFER_BYTES);
            let Some(data) = data else {
                walked.incomplete = Some(len);
                return walked;
            };
            let flow = on_packet(&legacy_packet(
                record,
                data,
                self.link,
                self.big_endian,
                self.resolution,
            ));
            walked.consumed += len;
            if flow.is_break() {
                walked.stopped = true;
                return walked;
            }
        }
        walked
    }

    fn for_each_packet(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        match self.map.take() {
            Some(map) => {
                let result = self.for_each_mapped(&map, on_packet);
                self.map = Some(map);
                result
            }
            None => self.for_each_read(on_packet),
        }
    }

    /// The records of the whole mapped file, releasing the pages behind every few MiB.
    fn for_each_mapped(
        &self,
        map: &Mapping,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        let bytes = map.bytes();
        let mut at = LEGACY_HEADER_BYTES;
        loop {
            map.populate(at, RELEASE_BYTES + (64 << 10));
            let walked = self.walk(&bytes[at..], RELEASE_BYTES, on_packet);
            at += walked.consumed;
            map.release(at);
            if walked.stopped {
                return Ok(());
            }
            if let Some(needed) = walked.incomplete {
                return Err(incomplete_record(at as u64, needed));
            }
            if at >= bytes.len() {
                return Ok(());
            }
        }
    }

    /// The records read through the buffer, which grows for a record larger than it.
    fn for_each_read(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        loop {
            let walked = self.walk(&self.buf[self.start..self.end], usize::MAX, on_packet);
            self.start += walked.consumed;
            self.offset += walked.consumed as u64;
            if walked.stopped {
                return Ok(());
            }
            let needed = walked.incomplete.unwrap_or(LEGACY_RECORD_BYTES);
            if needed > MAX_BUFFER_BYTES {
                return Err(incomplete_record(self.offset, needed));
            }
            // Keep the partial record, make room for the rest, read on.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if needed > self.buf.len() {
                self.buf
                    .resize(needed.next_power_of_two().min(MAX_BUFFER_BYTES), 0);
            }
            let n = loop {
                match self.file.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(SourceError::Read(e.to_string())),
                }
            };
            if n == 0 {
                return if self.end == 0 {
                    Ok(())
                } else {
                    Err(incomplete_record(self.offset, needed))
                };
            }
            self.end += n;
        }
    }
}

/// What one walk over a slice of records did.
#[derive(Debug, Default)]
struct Walked {
    /// Bytes of the complete records handed out.
    consumed: usize,
    /// The length of the record that did not fit (or exceeds [`MAX_BUFFER_BYTES`]).
    incomplete: Option<usize>,
    /// The callback asked to stop.
    stopped: bool,
}

/// The error for a record of `needed` bytes at `offset` that the file cannot complete: larger
/// than any sane record, or cut short by the end of the file.
fn incomplete_record(offset: u64, needed: usize) -> SourceError {
    let error = if needed > MAX_BUFFER_BYTES {
        PcapError::BufferTooSmall
    } else {
        PcapError::UnexpectedEof
    };
    SourceError::Damaged {
        offset,
        reason: describe(&error),
    }
}

impl PacketSource for FileSource {
    fn for_each_packet(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        let (reader, buffer_bytes) = match &mut self.reader {
            Reader::Legacy(legacy) => return legacy.for_each_packet(on_packet),
            Reader::Generic {
                reader,
                buffer_bytes,
            } => (reader, buffer_bytes),
        };
        let mut blocks = Blocks::default();
        loop {
            let damaged = |reader: &dyn PcapReaderIterator, reason: String| SourceError::Damaged {
                offset: reader.consumed() as u64,
                reason,
            };
            match reader.next() {
                Ok((used, block)) => {
                    let flow = match blocks.packet(&block) {
                        Ok(Some(packet)) => on_packet(&packet),
                        Ok(None) => ControlFlow::Continue(()),
                        Err(reason) => return Err(damaged(&**reader, reason)),
                    };
                    reader.consume(used);
                    if flow.is_break() {
                        return Ok(());
                    }
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    reader
                        .refill()
                        .map_err(|e| SourceError::Read(describe(&e)))?;
                }
                Err(PcapError::BufferTooSmall) if *buffer_bytes < MAX_BUFFER_BYTES => {
                    *buffer_bytes *= 2;
                    reader.grow(*buffer_bytes);
                    reader
                        .refill()
                        .map_err(|e| SourceError::Read(describe(&e)))?;
                }
                Err(e) => {
                    let reason = describe(&e);
                    return Err(damaged(&**reader, reason));
                }
            }
        }
    }
}

/// What a pcapng stream (or a pcap one read by pcap-parser) declares before its packets: the
/// classic header's link type and resolution, the pcapng interfaces of the current section.
#[derive(Default)]
struct Blocks {
    legacy: Option<(Option<LinkType>, u64)>,
    interfaces: Vec<Interface>,
}

impl Blocks {
    /// The packet `block` carries, if any, after taking note of headers and interfaces. Err: a
    /// packet for an interface the file never declared.
    fn packet<'a>(
        &mut self,
        block: &'a PcapBlockOwned<'_>,
    ) -> Result<Option<RawPacket<'a>>, String> {
        let packet = match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let resolution = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                self.legacy = Some((LinkType::from_dlt(h.network.0), resolution));
                None
            }
            PcapBlockOwned::Legacy(b) => {
                let (link, resolution) = self.legacy.unwrap_or((None, 1_000_000));
                Some(RawPacket {
                    link,
                    ts_us: ts_from_units(i64::from(b.ts_sec), u64::from(b.ts_usec), resolution),
                    wire_len: b.origlen,
                    data: b.data,
                })
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.interfaces.clear();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    link: LinkType::from_dlt(idb.linktype.0),
                    resolution: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_s: idb.ts_offset(),
                });
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(ifc) = self.interfaces.get(epb.if_id as usize) else {
                    return Err(format!("packet for undeclared interface {}", epb.if_id));
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                // Any offset a file declares: saturate instead of overflowing.
                let whole_s = i64::try_from(units / ifc.resolution.max(1)).unwrap_or(i64::MAX);
                let seconds = ifc.offset_s.saturating_add(whole_s);
                Some(RawPacket {
                    link: ifc.link,
                    ts_us: ts_from_units(seconds, units % ifc.resolution.max(1), ifc.resolution),
                    wire_len: epb.origlen,
                    data: &epb.data[..(epb.caplen as usize).min(epb.data.len())],
                })
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => Some(RawPacket {
                link: self.interfaces.first().and_then(|i| i.link),
                ts_us: 0,
                wire_len: spb.origlen,
                data: spb.data,
            }),
            PcapBlockOwned::NG(_) => None,
        };
        Ok(packet)
    }
}

/// Where a capture comes from, reopenable for each pass (the port guess reads the start of it,
/// the analysis all of it): a regular file by its path, bytes in memory, or a stream (a pipe,
/// stdin `-`) spooled once into an unlinked temporary file, so every pass reads the same bytes.
pub enum CaptureInput {
    /// A regular file, opened again for each pass.
    Path(PathBuf),
    /// A stream's bytes, in an unlinked temporary file (the handle is cloned per pass).
    Spooled(File),
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// A stream read in the one pass it allows.
    Once(Mutex<Option<Box<dyn Read + Send>>>),
}

impl CaptureInput {
    /// `path` (`-`: stdin); a FIFO, a character device or stdin is spooled first.
    pub fn open(path: &Path) -> Result<CaptureInput, SourceError> {
        if path.as_os_str() == "-" {
            return Self::spool(&mut std::io::stdin().lock());
        }
        let meta = std::fs::metadata(path).map_err(|e| SourceError::Read(e.to_string()))?;
        if meta.is_file() {
            return Ok(CaptureInput::Path(path.to_path_buf()));
        }
        if meta.is_dir() {
            return Err(SourceError::Read("is a directory".into()));
        }
        let mut file = File::open(path).map_err(|e| SourceError::Read(e.to_string()))?;
        Self::spool(&mut file)
    }

    /// Copies a stream into an unlinked temporary file (in `$TMPDIR`): disk, not memory,
    /// grows with it.
    pub fn spool(reader: &mut dyn Read) -> Result<CaptureInput, SourceError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let failed = |e: std::io::Error| SourceError::Read(format!("cannot spool the stream: {e}"));
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(".kalab-spool-{}-{n}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(failed)?;
        let _ = std::fs::remove_file(&path);
        std::io::copy(reader, &mut file).map_err(failed)?;
        Ok(CaptureInput::Spooled(file))
    }

    /// Whether the input can be read more than once.
    pub fn rereadable(&self) -> bool {
        !matches!(self, CaptureInput::Once(_))
    }

    /// A source reading the capture from its start.
    pub fn source(&self) -> Result<FileSource, SourceError> {
        match self {
            CaptureInput::Path(path) => FileSource::open(path),
            CaptureInput::Spooled(file) => {
                let mut file = file
                    .try_clone()
                    .map_err(|e| SourceError::Read(e.to_string()))?;
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| SourceError::Read(e.to_string()))?;
                FileSource::from_file(file)
            }
            CaptureInput::Bytes(bytes) => FileSource::from_bytes(Arc::clone(bytes)),
            CaptureInput::Once(stream) => {
                let stream = stream
                    .lock()
                    .ok()
                    .and_then(|mut s| s.take())
                    .ok_or_else(|| SourceError::Read("the stream was read already".into()))?;
                FileSource::from_reader(stream)
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
        assert_eq!(ts_from_units(0, u64::MAX, 1 << 63), 1_999_999);
    }

    fn pcap_bytes(records: &[(u32, usize)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 1 << 30, 1] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        for &(ts, len) in records {
            for word in [ts, 7, len as u32, len as u32] {
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            bytes.extend(std::iter::repeat_n(0xab, len));
        }
        bytes
    }

    /// Reads a file through the mapping and through the read buffer; both must agree.
    fn read_all(bytes: &[u8]) -> (Vec<(u64, usize)>, Result<(), SourceError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        std::fs::write(&path, bytes).unwrap();
        let mut outcomes = Vec::new();
        for mapped in [true, false] {
            let mut source = FileSource::open(&path).unwrap();
            let Reader::Legacy(legacy) = &mut source.reader else {
                panic!("not read as classic pcap");
            };
            assert!(legacy.map.is_some());
            if !mapped {
                legacy.map = None;
            }
            let mut seen = Vec::new();
            let result = source.for_each_packet(&mut |p| {
                seen.push((p.ts_us, p.data.len()));
                ControlFlow::Continue(())
            });
            outcomes.push((seen, result));
        }
        assert_eq!(outcomes[0], outcomes[1]);
        outcomes.swap_remove(0)
    }

    fn packets(mut source: FileSource) -> (Vec<(u64, usize)>, Result<(), SourceError>) {
        let mut seen = Vec::new();
        let result = source.for_each_packet(&mut |p| {
            seen.push((p.ts_us, p.data.len()));
            ControlFlow::Continue(())
        });
        (seen, result)
    }

    /// A pcapng file: a section header, one Ethernet interface with `if_tsoffset` (and the
    /// default microsecond resolution), one packet at `units`.
    fn pcapng_with_offset(offset_s: i64, units: u64) -> Vec<u8> {
        let block = |kind: u32, body: &[u8]| {
            let len = (12 + body.len()) as u32;
            let mut b = kind.to_le_bytes().to_vec();
            b.extend_from_slice(&len.to_le_bytes());
            b.extend_from_slice(body);
            b.extend_from_slice(&len.to_le_bytes());
            b
        };
        let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let mut idb = vec![1, 0, 0, 0];
        idb.extend_from_slice(&65535u32.to_le_bytes());
        idb.extend_from_slice(&14u16.to_le_bytes());
        idb.extend_from_slice(&8u16.to_le_bytes());
        idb.extend_from_slice(&offset_s.to_le_bytes());
        idb.extend_from_slice(&[0; 4]);
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(units as u32).to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&4u32.to_le_bytes());
        epb.extend_from_slice(&[0xab; 4]);
        let mut bytes = block(0x0A0D_0D0A, &shb);
        bytes.extend(block(1, &idb));
        bytes.extend(block(6, &epb));
        bytes
    }

    #[test]
    fn extreme_timestamp_offsets_saturate_instead_of_overflowing() {
        for (offset, units) in [
            (i64::MAX, u64::MAX),
            (i64::MIN, 5),
            (i64::MAX, 0),
            (3, 2_000_000),
        ] {
            let bytes: Arc<[u8]> = pcapng_with_offset(offset, units).into();
            let (seen, result) = packets(FileSource::from_bytes(bytes).unwrap());
            assert_eq!(result, Ok(()), "offset {offset}");
            assert_eq!(seen.len(), 1, "offset {offset}");
            if offset == 3 {
                assert_eq!(seen[0].0, 5_000_000);
            }
            if offset == i64::MIN {
                assert_eq!(seen[0].0, 5, "whole seconds before the epoch clamp to 0");
            }
        }
    }

    #[test]
    fn streams_read_without_seeking_give_the_same_packets() {
        let classic = pcap_bytes(&[(1, 60), (2, 3 << 20), (3, 60)]);
        let ng = pcapng_with_offset(3, 2_000_000);
        for bytes in [classic, ng] {
            let shared: Arc<[u8]> = bytes.clone().into();
            let in_place = packets(FileSource::from_bytes(shared).unwrap());
            let stream = Box::new(std::io::Cursor::new(bytes.clone()));
            let streamed = packets(FileSource::from_reader(stream).unwrap());
            assert_eq!(in_place, streamed);
            let spooled = CaptureInput::spool(&mut bytes.as_slice()).unwrap();
            assert_eq!(packets(spooled.source().unwrap()), in_place);
            assert_eq!(packets(spooled.source().unwrap()), in_place, "read twice");
            assert_eq!(in_place.1, Ok(()));
        }
    }

    #[test]
    fn legacy_reader_grows_for_records_larger_than_its_buffer() {
        let records = [
            (1, 60),
            (2, 3 << 20),
            (3, 60),
            (4, LEGACY_BUFFER_BYTES - 10),
        ];
        let (seen, result) = read_all(&pcap_bytes(&records));
        assert_eq!(result, Ok(()));
        let expected: Vec<(u64, usize)> = records
            .iter()
            .map(|&(ts, len)| (u64::from(ts) * 1_000_000 + 7, len))
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn legacy_reader_reports_truncation_and_oversized_records() {
        let bytes = pcap_bytes(&[(1, 60), (2, 60)]);
        let (seen, result) = read_all(&bytes[..bytes.len() - 30]);
        assert_eq!(seen.len(), 1);
        assert!(
            matches!(result, Err(SourceError::Damaged { offset: 100, ref reason }) if reason.contains("truncated")),
            "{result:?}"
        );
        let mut bytes = pcap_bytes(&[(1, 60), (2, 60)]);
        bytes[24 + 16 + 60 + 8..][..4].copy_from_slice(&(MAX_BUFFER_BYTES as u32).to_le_bytes());
        let (seen, result) = read_all(&bytes);
        assert_eq!(seen.len(), 1);
        assert!(matches!(
            result,
            Err(SourceError::Damaged { offset: 100, .. })
        ));
    }

    #[test]
    fn short_legacy_header_is_not_a_capture() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.pcap");
        std::fs::write(&path, &pcap_bytes(&[])[..10]).unwrap();
        assert!(matches!(
            FileSource::open(&path),
            Err(SourceError::NotACapture(_))
        ));
    }
}
