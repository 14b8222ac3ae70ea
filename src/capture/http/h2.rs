//! HTTP/2 (h2c) message counting from one direction of a TCP byte stream, as seen by a capture.
//!
//! The stream is read frame by frame (RFC 9113 section 4.1): the 9-byte frame headers are read,
//! payloads are skipped by their length using the segments' wire lengths, so a snaplen that cuts
//! payloads does no harm as long as the frame headers themselves were captured.
//! - Requests: a HEADERS frame from the client on an odd stream above every stream it opened
//!   before opens a stream: one request. Trailers (HEADERS on an open stream) and PRIORITY frames
//!   that only name idle streams are not requests.
//! - Responses: a HEADERS frame from the server whose header block starts with a final
//!   `:status` (not 1xx). Only the first header field is decoded (HPACK static table, literal
//!   values, Huffman-coded first digit), gathered across segments and CONTINUATION frames; the
//!   PADDED and PRIORITY flags are honoured. A first field that refers to the dynamic table, or
//!   that the capture did not keep, is taken as a final status (servers index interim statuses
//!   rarely). Trailers are told apart by the stream already having its final response.
//!
//! Memory is bounded: a frame header, the first few bytes of one header block, and the streams
//! with a response in progress (at most [`MAX_TRACKED_STREAMS`]). When the frame headers are lost
//! (bytes the capture missed, a header cut by the snaplen) counting resumes at the next segment
//! whose captured bytes parse as a plausible chain of frames.

use super::MessageStarts;

/// The client connection preface (RFC 9113 section 3.4).
pub(super) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Streams with a response in progress kept at most (a peer's concurrent streams are bounded by
/// SETTINGS_MAX_CONCURRENT_STREAMS, typically 100 to 250).
pub const MAX_TRACKED_STREAMS: usize = 1024;
/// Bytes of a header block kept to decode its first field.
const FIRST_FIELD_BYTES: usize = 32;
/// Largest frame a resynchronisation accepts (the default SETTINGS_MAX_FRAME_SIZE).
const RESYNC_MAX_FRAME: u32 = 16_384;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;

/// One 9-byte frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    length: u32,
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    fn parse(bytes: &[u8; 9]) -> FrameHeader {
        FrameHeader {
            length: u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]),
            kind: bytes[3],
            flags: bytes[4],
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff,
        }
    }

    /// Whether a frame like this could stand here in a conversation: a known type, a default
    /// size, and the stream rules of its type.
    fn plausible(&self, raw: &[u8]) -> bool {
        let reserved_clear = raw[5] & 0x80 == 0;
        let stream_rule = match self.kind {
            0x4 | 0x6 | 0x7 => self.stream == 0, // SETTINGS, PING, GOAWAY
            0x0 | 0x1 | 0x2 | 0x3 | 0x5 | 0x9 => self.stream != 0, // stream frames
            0x8 => true,                         // WINDOW_UPDATE
            _ => false,
        };
        reserved_clear && stream_rule && self.length <= RESYNC_MAX_FRAME
    }
}

/// Whether `bytes` begin with what a server sends first on an h2c connection: a SETTINGS frame
/// (not an ACK) on stream 0 whose length is a whole number of settings.
pub(super) fn is_server_preface(bytes: &[u8]) -> bool {
    let Some(raw) = bytes.first_chunk::<9>() else {
        return false;
    };
    let header = FrameHeader::parse(raw);
    header.kind == SETTINGS
        && header.flags == 0
        && header.stream == 0
        && raw[5] == 0
        && header.length % 6 == 0
        && header.length <= RESYNC_MAX_FRAME
}

/// Whether `bytes` could be the start of the client preface (all of it, or a prefix of it).
pub(super) fn may_be_preface(bytes: &[u8]) -> bool {
    let n = bytes.len().min(PREFACE.len());
    n > 0 && bytes[..n] == PREFACE[..n]
}

/// What the first field of a response's header block says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FirstField {
    /// More bytes of the block are needed.
    NeedMore,
    /// `:status` with this first digit class.
    Status { interim: bool },
    /// Another field first: not a response head (trailers, or a malformed block).
    Other,
    /// Cannot be told without the dynamic table (or a Huffman-coded name).
    Unknown,
}

/// Reads an HPACK integer with an `prefix_bits` prefix at `bytes[at]`: its value and the index
/// just past it; `None` when the bytes end first (or it overflows).
fn hpack_int(bytes: &[u8], at: usize, prefix_bits: u32) -> Option<(u64, usize)> {
    let mask = (1u64 << prefix_bits) - 1;
    let mut value = u64::from(*bytes.get(at)?) & mask;
    let mut i = at + 1;
    if value < mask {
        return Some((value, i));
    }
    let mut shift = 0;
    loop {
        let b = *bytes.get(i)?;
        i += 1;
        value = value.checked_add(u64::from(b & 0x7f).checked_shl(shift)?)?;
        if b & 0x80 == 0 {
            return Some((value, i));
        }
        shift += 7;
        if shift > 56 {
            return None;
        }
    }
}

/// Whether the string literal at `bytes[at]` (a `:status` value) starts with the digit 1.
fn status_value(bytes: &[u8], at: usize) -> FirstField {
    let (Some(&len_byte), Some(&first)) = (bytes.get(at), bytes.get(at + 1)) else {
        return FirstField::NeedMore;
    };
    if len_byte & 0x7f == 0 {
        return FirstField::Other;
    }
    let interim = if len_byte & 0x80 != 0 {
        // Huffman (RFC 7541 appendix B): '1' is the 5-bit code 00001.
        first >> 3 == 0b00001
    } else {
        first == b'1'
    };
    FirstField::Status { interim }
}

/// Decodes what the first field of a header block is.
fn first_field(block: &[u8]) -> FirstField {
    let mut i = 0;
    // Dynamic table size updates (001xxxxx) may open a block.
    while let Some(&b) = block.get(i) {
        if b & 0xe0 != 0x20 {
            break;
        }
        match hpack_int(block, i, 5) {
            Some((_, next)) => i = next,
            None => return FirstField::NeedMore,
        }
    }
    let Some(&b) = block.get(i) else {
        return FirstField::NeedMore;
    };
    if b & 0x80 != 0 {
        return match hpack_int(block, i, 7) {
            None => FirstField::NeedMore,
            Some((8..=14, _)) => FirstField::Status { interim: false }, // 200 .. 500
            Some((1..=61, _)) | Some((0, _)) => FirstField::Other,
            Some(_) => FirstField::Unknown,
        };
    }
    let prefix = if b & 0x40 != 0 { 6 } else { 4 };
    let Some((index, next)) = hpack_int(block, i, prefix) else {
        return FirstField::NeedMore;
    };
    match index {
        8..=14 => status_value(block, next),
        0 => {
            // A literal name.
            let Some(&len_byte) = block.get(next) else {
                return FirstField::NeedMore;
            };
            if len_byte & 0x80 != 0 {
                return FirstField::Unknown;
            }
            let len = usize::from(len_byte & 0x7f);
            let Some(name) = block.get(next + 1..next + 1 + len) else {
                return if len > FIRST_FIELD_BYTES - 2 {
                    FirstField::Other
                } else {
                    FirstField::NeedMore
                };
            };
            if name == b":status" {
                status_value(block, next + 1 + len)
            } else {
                FirstField::Other
            }
        }
        1..=61 => FirstField::Other,
        _ => FirstField::Unknown,
    }
}

/// A response header block being gathered until its first field is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingBlock {
    stream: u32,
    end_stream: bool,
    bytes: [u8; FIRST_FIELD_BYTES],
    len: usize,
    /// Some of the block's bytes were not captured: decide with what there is.
    truncated: bool,
}

/// What the current frame's payload is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Skipped by its length.
    Skip,
    /// A response HEADERS or CONTINUATION: `pad_len_next` when the pad length byte comes
    /// first, `skip_before` bytes (priority) before the block, then `block_left` bytes of block.
    Block {
        pad_len_next: bool,
        skip_before: u32,
        block_left: u32,
    },
}

/// Counts HTTP/2 requests (or responses) in one direction of one h2c connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct H2Counter {
    responses: bool,
    /// Bytes of the client preface still to come (requests only).
    preface_left: u8,
    header: [u8; 9],
    header_len: u8,
    /// Bytes left of the current frame's payload; the frame header comes next at 0.
    payload_left: u32,
    payload: Payload,
    /// The header of the frame being read (valid while `payload_left > 0`).
    frame: Option<FrameHeader>,
    /// Highest client stream opened (requests).
    max_stream: u32,
    /// Streams whose final response started and that have not ended (responses).
    answered: Vec<u32>,
    pending: Option<PendingBlock>,
    /// Frame headers were lost: wait for a segment that starts a plausible chain of frames.
    lost: bool,
    /// Set when the preface did not match: the stream is not HTTP/2 after all.
    failed: bool,
}

impl H2Counter {
    /// A counter for the client's side, which starts with the connection preface.
    pub(super) fn requests() -> H2Counter {
        H2Counter::new(false, PREFACE.len() as u8)
    }

    /// A counter for the server's side, which starts with its SETTINGS frame.
    pub(super) fn responses() -> H2Counter {
        H2Counter::new(true, 0)
    }

    fn new(responses: bool, preface_left: u8) -> H2Counter {
        H2Counter {
            responses,
            preface_left,
            header: [0; 9],
            header_len: 0,
            payload_left: 0,
            payload: Payload::Skip,
            frame: None,
            max_stream: 0,
            answered: Vec::new(),
            pending: None,
            lost: false,
            failed: false,
        }
    }

    /// Whether the bytes turned out not to be HTTP/2 (a preface that did not match).
    pub(super) fn failed(&self) -> bool {
        self.failed
    }

    /// Bytes the capture never saw: harmless inside a skipped payload, fatal to framing
    /// elsewhere.
    pub(super) fn gap(&mut self, bytes: u64) {
        let skippable = self.header_len == 0
            && self.preface_left == 0
            && self.payload == Payload::Skip
            && u64::from(self.payload_left) >= bytes;
        if skippable {
            self.payload_left -= bytes as u32;
        } else {
            self.lose();
        }
    }

    fn lose(&mut self) {
        self.lost = true;
        self.header_len = 0;
        self.payload_left = 0;
        self.frame = None;
        self.pending = None;
    }

    /// Feeds the new bytes of one segment: `captured` of its `wire_len` bytes (the rest cut by
    /// the snaplen). `at_segment_start`: these bytes open the segment (a resynchronisation
    /// point after a loss). Each message that starts is reported to `starts` at `ts_us`.
    pub(super) fn push<S: MessageStarts + ?Sized>(
        &mut self,
        captured: &[u8],
        wire_len: usize,
        at_segment_start: bool,
        ts_us: u64,
        starts: &mut S,
    ) {
        let captured = &captured[..captured.len().min(wire_len)];
        if self.lost {
            if !(at_segment_start && plausible_chain(captured, wire_len)) {
                return;
            }
            self.lost = false;
        }
        let mut pos = 0;
        while pos < wire_len && !self.lost && !self.failed {
            pos = if self.preface_left > 0 {
                self.in_preface(captured, pos, wire_len)
            } else if self.payload_left > 0 {
                let next = self.in_payload(captured, pos, wire_len);
                if self.payload_left == 0 {
                    self.finish_frame(ts_us, starts);
                }
                next
            } else {
                self.in_header(captured, pos, ts_us, starts)
            };
        }
    }

    fn in_preface(&mut self, captured: &[u8], pos: usize, wire_len: usize) -> usize {
        let done = PREFACE.len() - usize::from(self.preface_left);
        let take = usize::from(self.preface_left).min(wire_len - pos);
        let expected = &PREFACE[done..done + take];
        match captured.get(pos..pos + take) {
            Some(bytes) if bytes == expected => {}
            Some(_) => {
                self.failed = true;
                return wire_len;
            }
            None => self.lose(),
        }
        self.preface_left -= take as u8;
        pos + take
    }

    fn in_header<S: MessageStarts + ?Sized>(
        &mut self,
        captured: &[u8],
        pos: usize,
        ts_us: u64,
        starts: &mut S,
    ) -> usize {
        let need = 9 - usize::from(self.header_len);
        let available = captured.get(pos..).unwrap_or(&[]);
        if available.is_empty() {
            self.lose(); // a frame header the capture did not keep
            return pos;
        }
        let take = need.min(available.len());
        let at = usize::from(self.header_len);
        self.header[at..at + take].copy_from_slice(&available[..take]);
        self.header_len += take as u8;
        if usize::from(self.header_len) < 9 {
            return pos + take;
        }
        self.header_len = 0;
        let header = FrameHeader::parse(&self.header);
        self.start_frame(header, ts_us, starts);
        pos + take
    }

    /// A frame header is complete: count what it opens, and plan how to read its payload.
    fn start_frame<S: MessageStarts + ?Sized>(
        &mut self,
        header: FrameHeader,
        ts_us: u64,
        starts: &mut S,
    ) {
        self.payload_left = header.length;
        self.payload = Payload::Skip;
        self.frame = Some(header);
        if !self.responses {
            if header.kind == HEADERS && header.stream % 2 == 1 && header.stream > self.max_stream {
                self.max_stream = header.stream;
                starts.start(ts_us);
            }
            return;
        }
        match header.kind {
            HEADERS => {
                self.pending = None;
                if let Some(i) = self.answered.iter().position(|&s| s == header.stream) {
                    // Trailers of a response already counted.
                    if header.flags & END_STREAM != 0 {
                        self.answered.swap_remove(i);
                    }
                    return;
                }
                let padded = header.flags & PADDED != 0;
                let skip_before = if header.flags & PRIORITY != 0 { 5 } else { 0 };
                let overhead = u32::from(padded) + skip_before;
                self.pending = Some(PendingBlock {
                    stream: header.stream,
                    end_stream: header.flags & END_STREAM != 0,
                    bytes: [0; FIRST_FIELD_BYTES],
                    len: 0,
                    truncated: false,
                });
                self.payload = Payload::Block {
                    pad_len_next: padded,
                    skip_before,
                    block_left: header.length.saturating_sub(overhead),
                };
                if header.length == 0 {
                    self.block_fragment_ended(header.flags, ts_us, starts);
                }
            }
            CONTINUATION
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.stream == header.stream) =>
            {
                self.payload = Payload::Block {
                    pad_len_next: false,
                    skip_before: 0,
                    block_left: header.length,
                };
                if header.length == 0 {
                    self.block_fragment_ended(header.flags, ts_us, starts);
                }
            }
            DATA if header.flags & END_STREAM != 0 => self.stream_ended(header.stream),
            RST_STREAM => self.stream_ended(header.stream),
            _ => {}
        }
    }

    fn stream_ended(&mut self, stream: u32) {
        if let Some(i) = self.answered.iter().position(|&s| s == stream) {
            self.answered.swap_remove(i);
        }
    }

    /// Reads (or skips) payload bytes of the current frame.
    fn in_payload(&mut self, captured: &[u8], pos: usize, wire_len: usize) -> usize {
        let take = (self.payload_left as usize).min(wire_len - pos);
        let bytes = captured.get(pos..(pos + take).min(captured.len()));
        let bytes = bytes.unwrap_or(&[]);
        let mut used = 0usize;
        if let Payload::Block {
            pad_len_next,
            skip_before,
            block_left,
        } = &mut self.payload
        {
            if *pad_len_next && used < take {
                match bytes.get(used) {
                    // The block ends where the padding starts.
                    Some(&pad) => *block_left = block_left.saturating_sub(u32::from(pad)),
                    None => {
                        if let Some(p) = self.pending.as_mut() {
                            p.truncated = true;
                        }
                    }
                }
                *pad_len_next = false;
                used += 1;
            }
            let skip = (*skip_before as usize).min(take - used);
            *skip_before -= skip as u32;
            used += skip;
            let block = (*block_left as usize).min(take - used);
            if block > 0 {
                if let Some(p) = self.pending.as_mut() {
                    let kept = bytes.get(used..(used + block).min(bytes.len()));
                    let kept = kept.unwrap_or(&[]);
                    let room = FIRST_FIELD_BYTES - p.len;
                    let n = room.min(kept.len());
                    p.bytes[p.len..p.len + n].copy_from_slice(&kept[..n]);
                    p.len += n;
                    if kept.len() < block && n == kept.len() {
                        p.truncated = true;
                    }
                }
                *block_left -= block as u32;
            }
        }
        self.payload_left -= take as u32;
        pos + take
    }

    /// Called once the current frame's payload is read, before the next header: a response
    /// header block whose fragment ended may be decided.
    fn finish_frame<S: MessageStarts + ?Sized>(&mut self, ts_us: u64, starts: &mut S) {
        if let (Some(frame), Payload::Block { .. }) = (self.frame, self.payload) {
            self.block_fragment_ended(frame.flags, ts_us, starts);
        }
        self.payload = Payload::Skip;
        self.frame = None;
    }

    /// A fragment of the pending header block ended: decide on its first field if the bytes
    /// allow, or at the block's end (END_HEADERS) with what there is.
    fn block_fragment_ended<S: MessageStarts + ?Sized>(
        &mut self,
        flags: u8,
        ts_us: u64,
        starts: &mut S,
    ) {
        self.payload = Payload::Skip;
        let Some(pending) = self.pending.as_ref() else {
            return;
        };
        let block_ended = flags & END_HEADERS != 0;
        let decided = match first_field(&pending.bytes[..pending.len]) {
            FirstField::NeedMore if pending.truncated => FirstField::Unknown,
            FirstField::NeedMore if block_ended && pending.len == 0 => FirstField::Other,
            FirstField::NeedMore if block_ended => FirstField::Unknown,
            FirstField::NeedMore if pending.len >= FIRST_FIELD_BYTES => FirstField::Unknown,
            decided => decided,
        };
        let final_response = match decided {
            FirstField::NeedMore => return, // wait for the CONTINUATION
            FirstField::Status { interim } => !interim,
            FirstField::Unknown => true,
            FirstField::Other => false,
        };
        let (stream, end_stream) = (pending.stream, pending.end_stream);
        self.pending = None;
        if final_response {
            starts.start(ts_us);
            if !end_stream && self.answered.len() < MAX_TRACKED_STREAMS {
                self.answered.push(stream);
            }
        }
    }
}

/// Whether the captured bytes of a segment parse as a chain of plausible frames that ends at
/// the segment's end (or runs past what was captured).
fn plausible_chain(captured: &[u8], wire_len: usize) -> bool {
    let mut off = 0usize;
    let mut frames = 0;
    while off < wire_len {
        let Some(raw) = captured.get(off..).and_then(|rest| rest.first_chunk::<9>()) else {
            // The rest was not captured (or a header straddles the capture's end).
            return frames > 0;
        };
        let header = FrameHeader::parse(raw);
        if !header.plausible(raw) {
            return false;
        }
        frames += 1;
        off += 9 + header.length as usize;
    }
    off == wire_len && frames > 0
}

#[cfg(test)]
mod tests {
    use super::super::{MessageCounter, MessageKind};
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend([kind, flags]);
        f.extend(stream.to_be_bytes());
        f.extend(payload);
        f
    }

    const WINDOW_UPDATE: u8 = 0x8;
    const PRIORITY_FRAME: u8 = 0x2;
    /// `:status: 200` from the static table.
    const STATUS_200: &[u8] = &[0x88];
    /// `:status: 103` as a literal with incremental indexing, plain and Huffman-coded.
    const STATUS_103: &[u8] = &[0x48, 0x03, b'1', b'0', b'3'];
    const STATUS_103_HUFFMAN: &[u8] = &[0x48, 0x82, 0x08, 0x19];
    /// `:status: 200` Huffman-coded, without indexing.
    const STATUS_200_HUFFMAN: &[u8] = &[0x08, 0x82, 0x10, 0x01];
    /// A trailer block: a literal new name `grpc-status: 0`.
    const TRAILER: &[u8] = &[
        0x00, 0x0b, b'g', b'r', b'p', b'c', b'-', b's', b't', b'a', b't', b'u', b's', 0x01, b'0',
    ];

    /// Feeds `segments` (as captured, whole) in sequence; returns the start times.
    fn count(kind: MessageKind, segments: &[Vec<u8>]) -> Vec<u64> {
        let mut counter = MessageCounter::new(kind);
        counter.set_first_seq(0);
        let mut starts = Vec::new();
        let mut seq = 0u32;
        for (i, s) in segments.iter().enumerate() {
            counter.push(seq, s, s.len() as u32, i as u64, &mut starts);
            seq += s.len() as u32;
        }
        starts
    }

    fn client_start() -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        v.extend(frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
        v.extend(frame(WINDOW_UPDATE, 0, 0, &[0, 0, 0xff, 0xff]));
        v
    }

    fn server_start() -> Vec<u8> {
        frame(SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100])
    }

    #[test]
    fn headers_that_open_client_streams_are_requests() {
        let mut first = client_start();
        // PRIORITY frames naming idle streams (as nghttp sends) open nothing.
        first.extend(frame(PRIORITY_FRAME, 0, 3, &[0, 0, 0, 0, 200]));
        first.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            1,
            &[0x82, 0x86, 0x84],
        ));
        first.extend(frame(
            HEADERS,
            END_HEADERS | PRIORITY,
            5,
            &[0, 0, 0, 3, 15, 0x82],
        ));
        let mut second = frame(DATA, END_STREAM, 5, b"body");
        // Trailers on stream 5 are not a new request; stream 7 is.
        second.extend(frame(HEADERS, END_HEADERS | END_STREAM, 5, TRAILER));
        second.extend(frame(HEADERS, END_HEADERS | END_STREAM, 7, &[0x82]));
        assert_eq!(count(MessageKind::Request, &[first, second]), vec![0, 0, 1]);
    }

    #[test]
    fn a_frame_split_across_segments_counts_once_and_retransmissions_not_again() {
        let mut bytes = client_start();
        bytes.extend(frame(HEADERS, END_HEADERS, 1, &[0x82, 0x86]));
        bytes.extend(frame(HEADERS, END_HEADERS, 3, &[0x82, 0x86]));
        let cut = PREFACE.len() + 2; // inside the SETTINGS frame header
        let cut2 = bytes.len() - 12; // inside the second HEADERS frame header
        let mut counter = MessageCounter::new(MessageKind::Request);
        counter.set_first_seq(0);
        let mut starts = Vec::new();
        let pieces = [
            (0, &bytes[..cut]),
            (cut, &bytes[cut..cut2]),
            (0, &bytes[..cut2]), // a retransmission of all so far
            (cut2, &bytes[cut2..]),
        ];
        for (i, (seq, piece)) in pieces.iter().enumerate() {
            counter.push(
                *seq as u32,
                piece,
                piece.len() as u32,
                i as u64,
                &mut starts,
            );
        }
        assert_eq!(starts, vec![1, 3]);
    }

    #[test]
    fn final_statuses_are_responses_interim_ones_and_trailers_are_not() {
        let mut a = server_start();
        a.extend(frame(SETTINGS, 0x1, 0, &[])); // SETTINGS ACK
        a.extend(frame(HEADERS, END_HEADERS, 1, STATUS_200));
        a.extend(frame(DATA, END_STREAM, 1, b"hello"));
        a.extend(frame(HEADERS, END_HEADERS, 3, STATUS_103));
        a.extend(frame(HEADERS, END_HEADERS, 3, STATUS_103_HUFFMAN));
        a.extend(frame(HEADERS, END_HEADERS, 3, STATUS_200_HUFFMAN));
        a.extend(frame(DATA, 0, 3, b"x"));
        a.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, TRAILER));
        // Stream 5: a block too short to read its status (a literal cut short): taken as final.
        a.extend(frame(HEADERS, END_HEADERS, 5, &[0x0b]));
        assert_eq!(count(MessageKind::Response, &[a]).len(), 3);
    }

    #[test]
    fn continuation_padding_and_priority_are_read_through() {
        let mut a = server_start();
        // An empty fragment: the first field is in the CONTINUATION.
        a.extend(frame(HEADERS, 0, 1, &[]));
        a.extend(frame(CONTINUATION, END_HEADERS, 1, STATUS_200));
        // Padded, with priority: pad length 3, 5 priority bytes, the block, 3 pad bytes that
        // look like an interim status.
        let mut padded = vec![3, 0, 0, 0, 1, 16];
        padded.extend(STATUS_103);
        padded.extend([b'1', b'1', b'1']);
        a.extend(frame(HEADERS, END_HEADERS | PADDED | PRIORITY, 3, &padded));
        let mut padded_final = vec![2];
        padded_final.extend(STATUS_200);
        padded_final.extend([0, 0]);
        a.extend(frame(HEADERS, END_HEADERS | PADDED, 3, &padded_final));
        // The block's first bytes arrive in a second segment.
        let mut b = frame(HEADERS, 0, 5, &[0x48]);
        let c = frame(CONTINUATION, END_HEADERS, 5, &[0x03, b'2', b'0', b'4']);
        b.extend(&c[..10]);
        let rest = c[10..].to_vec();
        assert_eq!(count(MessageKind::Response, &[a, b, rest]).len(), 3);
    }

    #[test]
    fn payloads_cut_by_the_snaplen_are_skipped_by_their_wire_length() {
        let mut counter = MessageCounter::new(MessageKind::Response);
        counter.set_first_seq(0);
        let mut n = 0u64;
        let mut head = server_start();
        head.extend(frame(HEADERS, END_HEADERS, 1, STATUS_200));
        let big = frame(DATA, 0, 1, &vec![b'x'; 10_000]);
        let mut seg = head.clone();
        seg.extend(&big);
        seg.extend(frame(DATA, END_STREAM, 1, b""));
        seg.extend(frame(HEADERS, END_HEADERS, 3, STATUS_200));
        let wire = seg.len() as u32;
        // Only the first 100 bytes were captured: the HEADERS of stream 3 is past them.
        counter.push(0, &seg[..100], wire, 1, &mut n);
        assert_eq!(n, 1, "the frame header of stream 3 was not captured");
        // The next segment starts at a frame boundary: counting resumes.
        let next = frame(HEADERS, END_HEADERS, 5, STATUS_200);
        counter.push(wire, &next, next.len() as u32, 2, &mut n);
        assert_eq!(n, 2);

        // A DATA payload cut by the snaplen, the next frame header in the next segment.
        let mut counter = MessageCounter::new(MessageKind::Response);
        counter.set_first_seq(0);
        let mut n = 0u64;
        let mut seg = head;
        let data_at = seg.len();
        seg.extend(frame(DATA, 0, 1, &vec![b'x'; 5_000]));
        counter.push(0, &seg[..data_at + 20], seg.len() as u32, 1, &mut n);
        let next = frame(HEADERS, END_HEADERS, 3, STATUS_200);
        counter.push(seg.len() as u32, &next, next.len() as u32, 2, &mut n);
        assert_eq!(n, 2);
    }

    #[test]
    fn an_upgrade_switches_the_response_side_to_http2() {
        let mut a =
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                .to_vec();
        a.extend(server_start());
        a.extend(frame(HEADERS, END_HEADERS, 1, STATUS_200));
        assert_eq!(count(MessageKind::Response, &[a]).len(), 1);
        // A websocket upgrade is not HTTP/2: nothing more is counted.
        let mut ws = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        ws.extend(b"\x81\x05hello HTTP/1.1 200 OK\r\n\r\n");
        assert!(count(MessageKind::Response, &[ws]).is_empty());
    }

    #[test]
    fn a_client_that_is_not_http2_after_all_falls_back() {
        // "PRI " but not the preface: not counted, and a later HTTP/1 request start resyncs.
        let segs = [
            b"PRI * HTTP/1.1\r\n\r\n".to_vec(),
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        ];
        assert_eq!(count(MessageKind::Request, &segs), vec![1]);
    }

    #[test]
    fn lost_framing_resumes_at_a_plausible_chain_of_frames() {
        let mut counter = MessageCounter::new(MessageKind::Request);
        counter.set_first_seq(0);
        let mut starts = Vec::new();
        let mut a = client_start();
        a.extend(frame(HEADERS, END_HEADERS, 1, &[0x82]));
        counter.push(0, &a, a.len() as u32, 1, &mut starts);
        // 50 bytes the capture lost, in the middle of frames.
        let gap_end = a.len() as u32 + 50;
        // Garbage that does not parse as frames is ignored...
        counter.push(gap_end, b"\xff\xff\xff\xffjunk....", 13, 2, &mut starts);
        // ...and a segment that does resumes counting.
        let b = frame(HEADERS, END_HEADERS, 9, &[0x82]);
        counter.push(gap_end + 13, &b, b.len() as u32, 3, &mut starts);
        assert_eq!(starts, vec![1, 3]);
    }

    #[test]
    fn the_first_field_decoder_needs_no_more_than_it_has() {
        assert_eq!(first_field(&[]), FirstField::NeedMore);
        assert_eq!(first_field(&[0x48]), FirstField::NeedMore);
        assert_eq!(first_field(&[0x3f]), FirstField::NeedMore);
        // A table size update, then :status 200.
        assert_eq!(
            first_field(&[0x3f, 0xe1, 0x1f, 0x88]),
            FirstField::Status { interim: false }
        );
        assert_eq!(first_field(&[0xbe]), FirstField::Unknown); // dynamic table entry 62
        assert_eq!(first_field(&[0x82]), FirstField::Other); // :method GET
        assert_eq!(
            first_field(STATUS_103_HUFFMAN),
            FirstField::Status { interim: true }
        );
        assert_eq!(
            first_field(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            FirstField::NeedMore
        );
    }
}
