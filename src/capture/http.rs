//! HTTP message counting from one direction of a TCP byte stream, as seen by a capture: HTTP/1.x
//! here, HTTP/2 over cleartext (h2c) in [`h2`] once the stream shows it (the client's
//! connection preface; the server's SETTINGS frame first, or after a `101` upgrade).
//!
//! The counter follows message boundaries: it reads each message head (request line or status
//! line plus headers, which may arrive split across segments), then skips the body by its
//! `Content-Length` using the segments' wire lengths, so bodies need not be captured (snaplen).
//! This makes it exact for split heads and for pipelined messages. When framing cannot be followed
//! (chunked or close-delimited bodies, a head cut by the snaplen, bytes the capture lost) it
//! re-synchronises at the next segment whose data begins with a request method (or `HTTP/1.`),
//! which is where HTTP/1 clients and servers start a new message in practice.
//! Sequence numbers are tracked so retransmitted bytes are not counted twice.
//! Limitations, by design: responses to HEAD requests that carry a `Content-Length` are not
//! framed (the counter re-synchronises at the next segment); encrypted streams are not counted.

mod h2;

/// Which kind of message one direction carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Client to server: requests.
    Request,
    /// Server to client: responses (interim 1xx responses are not counted).
    Response,
}

/// Longest message head kept while waiting for its end; longer heads are not framed.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Request methods recognised at a message start (each followed by a space).
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];
const RESPONSE_START: &[u8] = b"HTTP/1.";

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// At a message boundary: the next byte starts a message.
    Boundary,
    /// Inside a message head; `head` holds its bytes so far, `counted` whether it was counted.
    Head {
        head: Vec<u8>,
        counted: bool,
        start_ts_us: u64,
    },
    /// Inside a body with this many bytes left.
    Body { remaining: u64 },
    /// Framing lost: wait for a segment that starts a message.
    Lost,
    /// The stream switched protocols (101): HTTP/2 if the server's SETTINGS frame comes next.
    Switched,
    /// HTTP/2 frames.
    H2(Box<h2::H2Counter>),
    /// The stream switched to a protocol that is not counted: stop counting.
    Done,
}

/// What a prefix of a stream says about a message start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Yes,
    No,
    NeedMore,
}

/// Where a [`MessageCounter`] reports message starts: a `Vec<u64>` keeps each start time, a
/// `u64` only counts them.
pub trait MessageStarts {
    /// One message started in a segment captured at `ts_us`.
    fn start(&mut self, ts_us: u64);
}

impl MessageStarts for Vec<u64> {
    fn start(&mut self, ts_us: u64) {
        self.push(ts_us);
    }
}

impl MessageStarts for u64 {
    fn start(&mut self, _ts_us: u64) {
        *self += 1;
    }
}

/// Counts HTTP/1.x messages in one direction of one connection.
#[derive(Debug, Clone)]
pub struct MessageCounter {
    kind: MessageKind,
    next_seq: Option<u32>,
    state: State,
}

impl MessageCounter {
    /// A counter for a stream whose first data byte is a message start (the SYN was seen).
    pub fn new(kind: MessageKind) -> Self {
        MessageCounter {
            kind,
            next_seq: None,
            state: State::Boundary,
        }
    }

    /// A counter joining a stream in the middle (SYN not captured): waits for a message start.
    pub fn new_mid_stream(kind: MessageKind) -> Self {
        MessageCounter {
            kind,
            next_seq: None,
            state: State::Lost,
        }
    }

    /// Sets the sequence number of the first data byte (ISN + 1) once the SYN is known.
    pub fn set_first_seq(&mut self, seq: u32) {
        self.next_seq = Some(seq);
    }

    /// Feeds one segment's data: `seq` its sequence number, `captured` the captured payload,
    /// `wire_len` the payload length on the wire. Reports each message that starts here to
    /// `starts_us` with the time of the segment holding its first byte.
    pub fn push<S: MessageStarts + ?Sized>(
        &mut self,
        seq: u32,
        captured: &[u8],
        wire_len: u32,
        ts_us: u64,
        starts_us: &mut S,
    ) {
        if wire_len == 0 || matches!(self.state, State::Done) {
            return;
        }
        let wire_len = wire_len as usize;
        let captured = &captured[..captured.len().min(wire_len)];
        let Some(mut pos) = self.align(seq, wire_len) else {
            return; // a pure retransmission
        };
        if matches!(self.state, State::Lost)
            && captured.get(pos..).map(|rest| self.starts(rest)) == Some(Start::Yes)
        {
            self.state = State::Boundary;
        }
        while pos < wire_len {
            let step = match self.state {
                State::Done | State::Lost => Step::Stop,
                State::Switched => self.after_switch(captured, pos),
                State::H2(_) => self.in_h2(captured, pos, wire_len, ts_us, starts_us),
                State::Body { .. } => self.in_body(pos, wire_len),
                State::Boundary => self.at_boundary(captured, pos, wire_len, ts_us, starts_us),
                State::Head { .. } => self.in_head(captured, pos, wire_len, starts_us),
            };
            match step {
                Step::At(next) => pos = next,
                Step::Stop => return,
            }
        }
    }

    /// Where this segment's new bytes start (`None`: it is all retransmitted), after taking note
    /// of bytes the capture never saw: skippable inside a body, fatal to framing elsewhere.
    fn align(&mut self, seq: u32, wire_len: usize) -> Option<usize> {
        let mut pos = 0;
        if let Some(next) = self.next_seq {
            let delta = seq.wrapping_sub(next) as i32;
            if delta < 0 {
                let already = delta.unsigned_abs() as usize;
                if already >= wire_len {
                    return None;
                }
                pos = already;
            } else if delta > 0 {
                self.state = match std::mem::replace(&mut self.state, State::Lost) {
                    State::H2(mut h2) => {
                        h2.gap(delta as u64);
                        State::H2(h2)
                    }
                    State::Body { remaining } if remaining >= delta as u64 => {
                        let remaining = remaining - delta as u64;
                        if remaining == 0 {
                            State::Boundary
                        } else {
                            State::Body { remaining }
                        }
                    }
                    _ => State::Lost,
                };
            }
        }
        self.next_seq = Some(seq.wrapping_add(wire_len as u32));
        Some(pos)
    }

    /// After a `101`: HTTP/2 when the server's SETTINGS frame follows, else nothing to count.
    fn after_switch(&mut self, captured: &[u8], pos: usize) -> Step {
        let rest = captured.get(pos..).unwrap_or(&[]);
        if h2::is_server_preface(rest) {
            self.state = State::H2(Box::new(h2::H2Counter::responses()));
            Step::At(pos)
        } else {
            self.state = State::Done;
            Step::Stop
        }
    }

    /// HTTP/2: the frame reader takes the rest of the segment.
    fn in_h2<S: MessageStarts + ?Sized>(
        &mut self,
        captured: &[u8],
        pos: usize,
        wire_len: usize,
        ts_us: u64,
        starts_us: &mut S,
    ) -> Step {
        let State::H2(h2) = &mut self.state else {
            return Step::Stop;
        };
        let rest = captured.get(pos..).unwrap_or(&[]);
        h2.push(rest, wire_len - pos, pos == 0, ts_us, starts_us);
        if h2.failed() {
            self.state = State::Lost;
        }
        Step::Stop
    }

    /// Inside a body: skips what is left of it in this segment.
    fn in_body(&mut self, pos: usize, wire_len: usize) -> Step {
        let State::Body { remaining } = &mut self.state else {
            return Step::Stop;
        };
        let take = (*remaining).min((wire_len - pos) as u64);
        *remaining -= take;
        if *remaining == 0 {
            self.state = State::Boundary;
        }
        Step::At(pos + take as usize)
    }

    /// Between messages: a whole head in this segment is counted and framed at once (no copy);
    /// otherwise the head starts collecting.
    fn at_boundary<S: MessageStarts + ?Sized>(
        &mut self,
        captured: &[u8],
        pos: usize,
        wire_len: usize,
        ts_us: u64,
        starts_us: &mut S,
    ) -> Step {
        let Some(&byte) = captured.get(pos) else {
            self.state = State::Lost; // the message start was not captured
            return Step::Stop;
        };
        if byte == b'\r' || byte == b'\n' {
            return Step::At(pos + 1); // empty lines before a message are allowed (RFC 9112 2.2)
        }
        let rest = &captured[pos..];
        let h2 = match self.kind {
            MessageKind::Request if rest.len() >= 4 && h2::may_be_preface(rest) => {
                Some(h2::H2Counter::requests())
            }
            MessageKind::Response if h2::is_server_preface(rest) => {
                Some(h2::H2Counter::responses())
            }
            _ => None,
        };
        if let Some(h2) = h2 {
            self.state = State::H2(Box::new(h2));
            return Step::At(pos);
        }
        if let Some((end, framing)) = scan_head(self.kind, rest) {
            let head = &rest[..end];
            if starts_message(self.kind, head) != Start::Yes {
                self.state = State::Lost;
                return Step::Stop;
            }
            if counts(self.kind, head) {
                starts_us.start(ts_us);
            }
            self.state = framing;
            return Step::At(pos + end);
        }
        if captured.len() < wire_len {
            // The snaplen cut this head: counted if its start is certain, then framing is lost
            // (what collecting it would come to at once, without keeping its bytes).
            let head = &rest[..rest.len().min(MAX_HEAD_BYTES)];
            if starts_message(self.kind, head) == Start::Yes && counts(self.kind, head) {
                starts_us.start(ts_us);
            }
            self.state = State::Lost;
            return Step::Stop;
        }
        self.state = State::Head {
            head: Vec::new(),
            counted: false,
            start_ts_us: ts_us,
        };
        Step::At(pos)
    }

    /// Collecting a head split over segments: counted as soon as its start is certain, framed
    /// once its end arrives.
    fn in_head<S: MessageStarts + ?Sized>(
        &mut self,
        captured: &[u8],
        pos: usize,
        wire_len: usize,
        starts_us: &mut S,
    ) -> Step {
        let kind = self.kind;
        let State::Head {
            head,
            counted,
            start_ts_us,
        } = &mut self.state
        else {
            return Step::Stop;
        };
        let available = captured.get(pos..).unwrap_or(&[]);
        if available.is_empty() {
            self.state = State::Lost; // the rest of the head was cut by the snaplen
            return Step::Stop;
        }
        let search_from = head.len().saturating_sub(3);
        let before = head.len();
        let room = MAX_HEAD_BYTES.saturating_sub(head.len());
        head.extend_from_slice(&available[..available.len().min(room)]);
        let end = find_head_end(&head[search_from..]).map(|e| search_from + e);
        if !*counted {
            let start = match starts_message(kind, head) {
                Start::NeedMore if end.is_some() => Start::No,
                s => s,
            };
            match start {
                Start::No => {
                    self.state = State::Lost;
                    return Step::Stop;
                }
                Start::Yes => {
                    if counts(kind, head) {
                        starts_us.start(*start_ts_us);
                    }
                    *counted = true;
                }
                Start::NeedMore => {}
            }
        }
        match end {
            Some(end) => {
                let next = framing_after_head(kind, &head[..end]);
                self.state = next;
                Step::At(pos + end - before)
            }
            None if head.len() >= MAX_HEAD_BYTES => {
                self.state = State::Lost;
                Step::Stop
            }
            None if captured.len() < wire_len => {
                self.state = State::Lost; // head continues past the snaplen
                Step::Stop
            }
            None => Step::At(pos + available.len()),
        }
    }

    fn starts(&self, bytes: &[u8]) -> Start {
        starts_message(self.kind, bytes)
    }
}

/// What one step of [`MessageCounter::push`] leaves: the next byte to look at, or nothing more
/// to do in this segment.
enum Step {
    At(usize),
    Stop,
}

/// Whether `bytes` begins with a message start of this kind.
fn starts_message(kind: MessageKind, bytes: &[u8]) -> Start {
    let candidates: &[&[u8]] = match kind {
        MessageKind::Request => &METHODS,
        MessageKind::Response => &[RESPONSE_START],
    };
    let mut need_more = false;
    for token in candidates {
        if bytes.starts_with(token) {
            return Start::Yes;
        }
        if token.starts_with(bytes) {
            need_more = true;
        }
    }
    if need_more {
        Start::NeedMore
    } else {
        Start::No
    }
}

/// Interim (1xx) responses are not counted as responses.
fn counts(kind: MessageKind, head: &[u8]) -> bool {
    kind == MessageKind::Request || status_code(head).is_none_or(|s| s >= 200)
}

/// Index just past the blank line that ends a message head.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    // The first "\r\n\r\n" (no two occurrences can overlap so that a later one ends first).
    HEAD_END.find(bytes).map(|i| i + 4)
}

/// The blank line ending a head, searched with memchr's vectorised substring search.
static HEAD_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));

fn status_code(head: &[u8]) -> Option<u16> {
    let code = head.get(9..12)?;
    code.iter().try_fold(0u16, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
    })
}

/// A `Content-Length` value as `u64::from_str` reads it (plain digits take a fast path).
fn parse_length(value: &[u8]) -> Option<u64> {
    if !value.is_empty() && value.len() <= 19 && value.iter().all(u8::is_ascii_digit) {
        return Some(
            value
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
        );
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// What follows a complete head: the body framing (RFC 9112 section 6).
fn framing_after_head(kind: MessageKind, head: &[u8]) -> State {
    // A complete head ends with its first blank line, so the scan reads all of it.
    scan_head(kind, head).map_or(State::Lost, |(_, framing)| framing)
}

/// The first message head in `bytes` (the index just past its blank line: the first
/// "\r\n\r\n") and the body framing after it, found in one pass over the bytes; None when no
/// head ends in `bytes`. The same as [`find_head_end`] followed by reading the head's header
/// lines, without searching the head twice.
fn scan_head(kind: MessageKind, bytes: &[u8]) -> Option<(usize, State)> {
    let mut fields = HeadFields::default();
    // The start of the line being read when it may name a framing field (the start line
    // never does).
    let mut wanted_line = None;
    let end = each_newline(bytes, |newline| {
        if let Some(start) = wanted_line.take() {
            fields.line(&bytes[start..newline]);
        }
        match bytes.get(newline + 1) {
            Some(b'\r') => {
                let blank_follows = newline > 0
                    && bytes[newline - 1] == b'\r'
                    && bytes.get(newline + 2) == Some(&b'\n');
                if blank_follows {
                    return Some(newline + 3);
                }
            }
            Some(first) if HeadFields::may_name_one(*first) => wanted_line = Some(newline + 1),
            _ => {}
        }
        None
    })?;
    Some((end, fields.framing(kind, &bytes[..end])))
}

/// Calls `at` with the index of each '\n' in `bytes`, in order, until it returns Some. Sixteen
/// bytes at a time, as a bit mask: message heads are short and have many lines, where a
/// vectorised search per line costs more in set-up than it saves.
#[inline]
fn each_newline<T>(bytes: &[u8], mut at: impl FnMut(usize) -> Option<T>) -> Option<T> {
    let mut chunks = bytes.chunks_exact(16);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut mask = newline_mask(chunk);
        while mask != 0 {
            if let Some(found) = at(base + mask.trailing_zeros() as usize) {
                return Some(found);
            }
            mask &= mask - 1;
        }
        base += 16;
    }
    for (i, &byte) in chunks.remainder().iter().enumerate() {
        if byte == b'\n' {
            if let Some(found) = at(base + i) {
                return Some(found);
            }
        }
    }
    None
}

/// Bit i set when `chunk[i]` (of 16 bytes) is '\n': one SSE2 compare on x86_64.
#[inline(always)]
fn newline_mask(chunk: &[u8]) -> u32 {
    debug_assert_eq!(chunk.len(), 16);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        if chunk.len() >= 16 {
            // SAFETY: SSE2 is part of the x86_64 baseline, and the unaligned load reads the
            // first 16 bytes of `chunk`, which has at least that many.
            return unsafe {
                let bytes = _mm_loadu_si128(chunk.as_ptr().cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8))) as u32
            };
        }
    }
    chunk
        .iter()
        .take(16)
        .enumerate()
        .fold(0, |mask, (i, &byte)| mask | u32::from(byte == b'\n') << i)
}

/// The two header fields that decide a body's framing, as a head's lines are read.
#[derive(Default)]
struct HeadFields {
    content_length: Option<u64>,
    chunked: bool,
}

impl HeadFields {
    /// Whether a header line starting with `first` may name one of the two fields.
    #[inline]
    fn may_name_one(first: u8) -> bool {
        matches!(first.to_ascii_lowercase(), b'c' | b't')
    }

    /// Takes note of one header line (without its '\n'). Only two names matter, so a line is
    /// looked at only when its first byte and length could make one of them.
    #[inline]
    fn line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        const CONTENT_LENGTH: &[u8] = b"content-length";
        const TRANSFER_ENCODING: &[u8] = b"transfer-encoding";
        let name_len = match line.first().map(u8::to_ascii_lowercase) {
            Some(b'c') => CONTENT_LENGTH.len(),
            Some(b't') => TRANSFER_ENCODING.len(),
            _ => return,
        };
        if line.len() <= name_len {
            return;
        }
        let (name, after) = line.split_at(name_len);
        // The name ends at the first ':' (`Content-Length : 5` is no Content-Length).
        let Some(value) = after.strip_prefix(b":") else {
            return;
        };
        if name.eq_ignore_ascii_case(CONTENT_LENGTH) {
            self.content_length = parse_length(value.trim_ascii());
        } else if name.eq_ignore_ascii_case(TRANSFER_ENCODING) {
            self.chunked = true;
        }
    }

    /// The framing after `head`, whose header lines were all read.
    fn framing(&self, kind: MessageKind, head: &[u8]) -> State {
        if kind == MessageKind::Response {
            match status_code(head) {
                Some(101) => return State::Switched,
                Some(s) if s < 200 || s == 204 || s == 304 => return State::Boundary,
                _ => {}
            }
        }
        match (self.chunked, self.content_length) {
            (true, _) => State::Lost,
            (false, Some(0)) => State::Boundary,
            (false, Some(n)) => State::Body { remaining: n },
            (false, None) if kind == MessageKind::Request => State::Boundary,
            (false, None) => State::Lost, // close-delimited response body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(seq offset, captured, wire_len)` pieces; returns the start times.
    fn feed(kind: MessageKind, pieces: &[(u32, &[u8], u32)]) -> Vec<u64> {
        let mut counter = MessageCounter::new(kind);
        counter.set_first_seq(1000);
        let mut starts = Vec::new();
        for (i, (off, data, wire)) in pieces.iter().enumerate() {
            counter.push(1000 + off, data, *wire, i as u64, &mut starts);
        }
        starts
    }

    fn whole(data: &[u8]) -> (u32, &[u8], u32) {
        (0, data, data.len() as u32)
    }

    #[test]
    fn counts_one_request() {
        assert_eq!(
            feed(
                MessageKind::Request,
                &[whole(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")]
            ),
            vec![0]
        );
    }

    #[test]
    fn request_split_across_segments_counts_once() {
        let a = b"GE";
        let b = b"T / HTTP/1.1\r\nHo";
        let c = b"st: a\r\n\r";
        let d = b"\n";
        let starts = feed(
            MessageKind::Request,
            &[(0, a, 2), (2, b, 16), (18, c, 8), (26, d, 1)],
        );
        assert_eq!(starts, vec![0]);
    }

    #[test]
    fn pipelined_requests_in_one_segment() {
        let data = b"GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 6\r\n\r\nGET /xGET /c HTTP/1.1\r\n\r\n";
        assert_eq!(feed(MessageKind::Request, &[whole(data)]).len(), 3);
    }

    #[test]
    fn body_that_looks_like_a_request_is_not_counted() {
        let head = b"POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n";
        let body = b"GET / HTTP/1.1\r\n";
        let starts = feed(
            MessageKind::Request,
            &[whole(head), (head.len() as u32, body, 16)],
        );
        assert_eq!(starts.len(), 1);
    }

    #[test]
    fn retransmission_is_not_counted_twice() {
        let req = b"GET / HTTP/1.1\r\n\r\n";
        let starts = feed(MessageKind::Request, &[whole(req), whole(req)]);
        assert_eq!(starts.len(), 1);
    }

    #[test]
    fn response_bodies_are_skipped_by_wire_length_when_truncated() {
        // 1 MiB body, only 40 bytes of each segment captured.
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
        let mut pieces: Vec<(u32, &[u8], u32)> = vec![whole(head)];
        let filler = [b'x'; 40];
        let mut off = head.len() as u32;
        let mut left = 1_048_576u32;
        while left > 0 {
            let n = left.min(65_483);
            pieces.push((off, &filler, n));
            off += n;
            left -= n;
        }
        let second = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        pieces.push((off, second, second.len() as u32));
        assert_eq!(feed(MessageKind::Response, &pieces).len(), 2);
    }

    #[test]
    fn chunked_response_resyncs_at_next_segment_start() {
        let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
        let second = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let starts = feed(
            MessageKind::Response,
            &[
                whole(head),
                (head.len() as u32, second, second.len() as u32),
            ],
        );
        assert_eq!(starts.len(), 2);
    }

    #[test]
    fn interim_responses_are_not_counted() {
        let data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(feed(MessageKind::Response, &[whole(data)]).len(), 1);
    }

    #[test]
    fn garbage_is_not_counted() {
        assert!(feed(
            MessageKind::Request,
            &[whole(b"\x16\x03\x01\x02\x00 TLS hello")]
        )
        .is_empty());
        assert!(feed(
            MessageKind::Request,
            &[whole(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]
        )
        .is_empty());
    }

    #[test]
    fn mid_stream_counter_waits_for_a_message_start() {
        let mut counter = MessageCounter::new_mid_stream(MessageKind::Request);
        let mut starts = Vec::new();
        counter.push(50, b"ost: a\r\n\r\n", 10, 1, &mut starts);
        counter.push(60, b"GET / HTTP/1.1\r\n\r\n", 18, 2, &mut starts);
        assert_eq!(starts, vec![2]);
    }

    #[test]
    fn head_cut_by_snaplen_loses_framing_then_resyncs() {
        let mut counter = MessageCounter::new(MessageKind::Request);
        counter.set_first_seq(0);
        let mut starts = Vec::new();
        // 30 of 500 bytes captured: counted, but the head's end was not seen.
        counter.push(0, b"POST / HTTP/1.1\r\nContent-Len", 500, 1, &mut starts);
        counter.push(500, b"\x00\x01binary body", 1000, 2, &mut starts);
        counter.push(1500, b"GET / HTTP/1.1\r\n\r\n", 18, 3, &mut starts);
        assert_eq!(starts, vec![1, 3]);
    }

    #[test]
    fn gap_inside_a_body_keeps_framing() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
        let h = head.len() as u32;
        let second = b"HTTP/1.1 204 No Content\r\n\r\n";
        // Bytes h..h+60 were lost by the capture; h+60..h+100 arrive; then the next response.
        let starts = feed(
            MessageKind::Response,
            &[
                whole(head),
                (h + 60, b"x", 40),
                (h + 100, second, second.len() as u32),
            ],
        );
        assert_eq!(starts.len(), 2);
    }

    /// The head-end search and header reading the one-pass scan replaces: memmem for the
    /// blank line, then every line of the head.
    fn reference_scan(kind: MessageKind, bytes: &[u8]) -> Option<(usize, State)> {
        let end = find_head_end(bytes)?;
        let head = &bytes[..end];
        let mut fields = HeadFields::default();
        for (i, line) in head.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                fields.line(line);
            }
        }
        Some((end, fields.framing(kind, head)))
    }

    #[test]
    fn one_pass_head_scan_matches_search_then_read() {
        let heads: [&[u8]; 14] = [
            b"GET / HTTP/1.0\r\nHost: 127.0.0.1:25741\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhello world\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
            b"HTTP/1.1 101 Switching\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length : 5\r\nCONTENT-LENGTH:  9 \r\n\r\n",
            b"POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\n\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r",
            b"\r\n\r\n",
            b"ab\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nT\r\nC\r\nContent-Length:\r\n\r\n",
        ];
        for head in heads {
            // Every cut and lead, so the blank line falls at every place in a word.
            for cut in 0..=head.len() {
                for lead in 0..9 {
                    // Bytes before the head lengthen its start line.
                    let mut bytes = vec![b'x'; lead];
                    bytes.extend_from_slice(&head[..cut]);
                    let bytes = bytes.as_slice();
                    for kind in [MessageKind::Request, MessageKind::Response] {
                        assert_eq!(
                            scan_head(kind, bytes),
                            reference_scan(kind, bytes),
                            "{:?}",
                            String::from_utf8_lossy(bytes)
                        );
                    }
                }
            }
        }
    }
}
