//! TLS handshakes classified from the wire: the ClientHello and ServerHello at the start of a TCP
//! connection's two byte streams say whether the handshake was `full`, `full-hrr` or `resumed`.
//!
//! Pure: bytes in, a verdict out. Each direction is reassembled by TCP sequence number, so
//! retransmitted and out-of-order segments land where they belong, then read as TLS records
//! (content type 0x16 carries handshake messages; a message may span records and segments).
//! Rules: TLS 1.3 (the ServerHello's `supported_versions` is 0x0304) is resumed when the
//! ServerHello carries `pre_shared_key` (an offered PSK was accepted); a ServerHello whose random
//! is the HelloRetryRequest value is a retry, and the second ServerHello decides between
//! `full-hrr` and `resumed`. TLS 1.2 and older are resumed when the server answers with an
//! abbreviated handshake: it echoes a non-empty session id the client offered, or (session
//! tickets) its ServerHello is followed by a ChangeCipherSpec or a NewSessionTicket rather than
//! a Certificate. ALPN is read from a TLS 1.2 ServerHello; TLS 1.3 encrypts it, so it stays
//! unknown there (the ClientHello's offer is not the answer, and is not reported).
//!
//! Memory is bounded: nothing is kept for a connection whose first payload byte is not 0x16,
//! at most [`MAX_STREAM_BYTES`] of each direction is looked at, and everything is released once
//! the handshake is classified. Only the first bytes of a ClientHello are needed (up to its
//! session id), so a capture's snaplen cutting the rest of it does not matter.
//! Hand-written rather than a TLS parsing crate: a ClientHello cut by the snaplen must still be
//! read up to its session id, and those parsers want whole messages.

use super::decode::TcpSegment;
use crate::model::{HandshakeKind, TlsHandshake, TlsVersion};

/// Bytes of each direction's stream looked at, at most; later bytes are ignored.
pub const MAX_STREAM_BYTES: usize = 16 * 1024;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;
/// Longest record a peer may send (TLS 1.2 allows 2^14 + 2048 bytes of ciphertext).
const MAX_RECORD_BYTES: usize = 16_384 + 2_048;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const NEW_SESSION_TICKET: u8 = 4;
const CERTIFICATE: u8 = 11;
const SERVER_KEY_EXCHANGE: u8 = 12;
const CERTIFICATE_REQUEST: u8 = 13;
const SERVER_HELLO_DONE: u8 = 14;

const EXT_ALPN: u16 = 16;
const EXT_PRE_SHARED_KEY: u16 = 41;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The `random` of a HelloRetryRequest: SHA-256 of "HelloRetryRequest" (RFC 8446, 4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// What the bytes seen so far say about a connection's TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not decided yet: more bytes may tell.
    Pending,
    /// The connection does not start with a TLS handshake record.
    NotTls,
    /// TLS, and its handshake classified.
    Classified(TlsHandshake),
    /// TLS, but its handshake cannot be classified (the server answered with an alert or
    /// something that is not a ServerHello, or a hello is malformed).
    Unclassified,
}

/// Why a direction's stream stopped being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// An alert record.
    Alert,
    /// Application data: the handshake is encrypted from here.
    Encrypted,
    /// A record header that is not TLS.
    Malformed,
}

/// One direction of a connection: bytes placed by offset from the stream start, read as records;
/// the handshake messages' bytes are collected in `handshake`.
#[derive(Debug, Default)]
struct Direction {
    /// Offset of the next byte to read: every byte before it was read.
    next: usize,
    /// Bytes that arrived ahead of `next`, by offset (kept sorted).
    pending: Vec<(usize, Vec<u8>)>,
    pending_bytes: usize,
    header: [u8; 5],
    header_len: usize,
    /// Content type and bytes left of the record being read (0 left: at a header).
    content: u8,
    body_left: usize,
    /// Content type of the first record, once its header was read.
    first_content: Option<u8>,
    /// Concatenated handshake-message bytes of every handshake record so far.
    handshake: Vec<u8>,
    /// Length of `handshake` when the first ChangeCipherSpec record arrived.
    change_cipher_spec_at: Option<usize>,
    end: Option<End>,
}

impl Direction {
    fn closed(&self) -> bool {
        self.end.is_some() || self.next >= MAX_STREAM_BYTES
    }

    /// Places `bytes` found at `offset` (negative: starting before the stream) and reads
    /// whatever became contiguous.
    fn place(&mut self, offset: i64, bytes: &[u8]) {
        if self.closed() {
            return;
        }
        let (offset, bytes) = if offset < 0 {
            let skip = offset.unsigned_abs().min(bytes.len() as u64) as usize;
            (0, &bytes[skip..])
        } else {
            (offset as usize, bytes)
        };
        if offset >= MAX_STREAM_BYTES || bytes.is_empty() {
            return;
        }
        let bytes = &bytes[..bytes.len().min(MAX_STREAM_BYTES - offset)];
        if offset > self.next {
            if self.pending_bytes + bytes.len() <= MAX_STREAM_BYTES {
                let at = self.pending.partition_point(|(o, _)| *o <= offset);
                self.pending.insert(at, (offset, bytes.to_vec()));
                self.pending_bytes += bytes.len();
            }
            return;
        }
        self.take(offset, bytes);
        while let Some(first) = self.pending.first() {
            if first.0 > self.next || self.closed() {
                break;
            }
            let (at, piece) = self.pending.remove(0);
            self.pending_bytes -= piece.len();
            self.take(at, &piece);
        }
        if self.closed() {
            self.pending = Vec::new();
            self.pending_bytes = 0;
        }
    }

    /// Reads the part of `bytes` (found at `offset <= next`) that is new.
    fn take(&mut self, offset: usize, bytes: &[u8]) {
        let end = offset + bytes.len();
        if end > self.next {
            let fresh = &bytes[self.next - offset..];
            self.next = end;
            self.read_records(fresh);
        }
    }

    /// The record layer: headers checked, handshake bytes collected, other records noted.
    fn read_records(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && self.end.is_none() {
            if self.body_left == 0 {
                let want = 5 - self.header_len;
                let n = want.min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < 5 {
                    return;
                }
                self.header_len = 0;
                let [content, major, _minor, hi, lo] = self.header;
                let length = usize::from(u16::from_be_bytes([hi, lo]));
                let known = matches!(
                    content,
                    CONTENT_CHANGE_CIPHER_SPEC
                        | CONTENT_ALERT
                        | CONTENT_HANDSHAKE
                        | CONTENT_APPLICATION_DATA
                );
                if !known || major != 3 || length == 0 || length > MAX_RECORD_BYTES {
                    self.end = Some(End::Malformed);
                    return;
                }
                self.first_content.get_or_insert(content);
                self.content = content;
                self.body_left = length;
                match content {
                    CONTENT_ALERT => self.end = Some(End::Alert),
                    CONTENT_APPLICATION_DATA => self.end = Some(End::Encrypted),
                    CONTENT_CHANGE_CIPHER_SPEC => {
                        self.change_cipher_spec_at
                            .get_or_insert(self.handshake.len());
                    }
                    _ => {}
                }
            } else {
                let n = self.body_left.min(bytes.len());
                if self.content == CONTENT_HANDSHAKE {
                    self.handshake.extend_from_slice(&bytes[..n]);
                }
                self.body_left -= n;
                bytes = &bytes[n..];
            }
        }
    }

    /// Whether the stream began with a TLS handshake record: Some once its first header was
    /// read (or found not to be TLS).
    fn starts_with_handshake_record(&self) -> Option<bool> {
        match self.first_content {
            Some(content) => Some(content == CONTENT_HANDSHAKE),
            None if self.end == Some(End::Malformed) => Some(false),
            None => None,
        }
    }
}

/// A session id: up to 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SessionId {
    len: u8,
    bytes: [u8; 32],
}

impl SessionId {
    fn read(from: &[u8]) -> Option<(SessionId, &[u8])> {
        let (&len, rest) = from.split_first()?;
        if len > 32 || rest.len() < usize::from(len) {
            return None;
        }
        let mut bytes = [0; 32];
        bytes[..usize::from(len)].copy_from_slice(&rest[..usize::from(len)]);
        Some((SessionId { len, bytes }, &rest[usize::from(len)..]))
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A parse that may need more bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parse<T> {
    NeedMore,
    Bad,
    Done(T),
}

/// Reads the session id of the ClientHello at the start of `handshake`: only its first bytes
/// are needed.
fn client_hello_session_id(handshake: &[u8]) -> Parse<SessionId> {
    // type (1), length (3), legacy_version (2), random (32), session id length (1) + id.
    const FIXED: usize = 4 + 2 + 32;
    if handshake.is_empty() {
        return Parse::NeedMore;
    }
    if handshake[0] != CLIENT_HELLO {
        return Parse::Bad;
    }
    if handshake.len() < 4 {
        return Parse::NeedMore;
    }
    let length = usize::from(handshake[1]) << 16
        | usize::from(handshake[2]) << 8
        | usize::from(handshake[3]);
    if length < 2 + 32 + 1 {
        return Parse::Bad;
    }
    let Some(sid_len) = handshake.get(FIXED) else {
        return Parse::NeedMore;
    };
    if *sid_len > 32 || length < 2 + 32 + 1 + usize::from(*sid_len) {
        return Parse::Bad;
    }
    match SessionId::read(&handshake[FIXED..]) {
        Some((sid, _)) => Parse::Done(sid),
        None => Parse::NeedMore,
    }
}

/// What a ServerHello (or HelloRetryRequest) says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerHello {
    legacy_version: u16,
    retry_request: bool,
    session_id: SessionId,
    supported_version: Option<u16>,
    pre_shared_key: bool,
    alpn: Option<String>,
}

impl ServerHello {
    fn version(&self) -> Option<TlsVersion> {
        match self.supported_version {
            // 0x7fXX: drafts of TLS 1.3.
            Some(v) if v == 0x0304 || v >> 8 == 0x7f => Some(TlsVersion::Tls13),
            Some(_) => None,
            None if self.legacy_version == 0x0303 => Some(TlsVersion::Tls12),
            None => None,
        }
    }
}

/// A big-endian reader over a slice that never panics.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

/// Parses a ServerHello body (after the 4-byte message header). None: malformed.
fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader(body);
    let legacy_version = r.u16()?;
    let random = r.bytes(32)?;
    let (session_id, rest) = SessionId::read(r.0)?;
    r.0 = rest;
    let _cipher_suite = r.u16()?;
    let _compression = r.u8()?;
    let mut hello = ServerHello {
        legacy_version,
        retry_request: random == HELLO_RETRY_REQUEST_RANDOM,
        session_id,
        supported_version: None,
        pre_shared_key: false,
        alpn: None,
    };
    if r.0.is_empty() {
        return Some(hello); // no extensions (allowed before TLS 1.3)
    }
    let extensions_len = usize::from(r.u16()?);
    if extensions_len != r.0.len() {
        return None;
    }
    while !r.0.is_empty() {
        let kind = r.u16()?;
        let len = usize::from(r.u16()?);
        let mut data = Reader(r.bytes(len)?);
        match kind {
            EXT_SUPPORTED_VERSIONS => {
                hello.supported_version = Some(data.u16()?);
            }
            EXT_PRE_SHARED_KEY => {
                let _selected_identity = data.u16()?;
                hello.pre_shared_key = true;
            }
            EXT_ALPN => {
                let list_len = usize::from(data.u16()?);
                let mut list = Reader(data.bytes(list_len)?);
                let name_len = usize::from(list.u8()?);
                let name = list.bytes(name_len)?;
                hello.alpn = std::str::from_utf8(name).ok().map(str::to_owned);
            }
            _ => {}
        }
    }
    Some(hello)
}

/// The next whole handshake message of `handshake` at `pos`: its type, body and end.
fn message_at(handshake: &[u8], pos: usize) -> Parse<(u8, &[u8], usize)> {
    let Some(header) = handshake.get(pos..pos + 4) else {
        return Parse::NeedMore;
    };
    let length =
        usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if length > MAX_STREAM_BYTES {
        return Parse::Bad;
    }
    match handshake.get(pos + 4..pos + 4 + length) {
        Some(body) => Parse::Done((header[0], body, pos + 4 + length)),
        None => Parse::NeedMore,
    }
}

/// What follows a TLS 1.2 ServerHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterHello {
    /// A Certificate, ServerKeyExchange, CertificateRequest or ServerHelloDone: a full
    /// handshake.
    KeyExchange,
    /// A ChangeCipherSpec or a NewSessionTicket: an abbreviated (resumed) handshake.
    Abbreviated,
    /// Something else.
    Other,
}

/// The server's hellos as far as they were read.
#[derive(Debug, Default)]
struct ServerProgress {
    /// Offset in the server's handshake bytes of the next message to read.
    pos: usize,
    /// The first ServerHello (a HelloRetryRequest, for a retry).
    first: Option<ServerHello>,
    /// The ServerHello after a HelloRetryRequest.
    second: Option<ServerHello>,
    /// For TLS 1.2 and older: what followed the ServerHello.
    after: Option<AfterHello>,
    /// The server's messages do not read as a handshake.
    bad: bool,
}

/// Classifies one connection's handshake from both of its byte streams, fed by offset.
#[derive(Debug, Default)]
pub struct HelloClassifier {
    client: Direction,
    server: Direction,
    client_session_id: Option<SessionId>,
    client_bad: bool,
    progress: ServerProgress,
}

impl HelloClassifier {
    /// A classifier that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes found at `offset` from the start of one direction's stream (negative offsets
    /// start before the stream; the part before it is ignored) and says what is known.
    pub fn push(&mut self, from_client: bool, offset: i64, bytes: &[u8]) -> Verdict {
        if from_client {
            if self.client_session_id.is_none() && !self.client_bad {
                self.client.place(offset, bytes);
                self.read_client();
            }
        } else if !self.progress.bad && !self.server_decided() {
            self.server.place(offset, bytes);
            self.read_server();
        }
        self.verdict()
    }

    /// The verdict once no more bytes will come: a TLS connection whose handshake was not
    /// classified is [`Verdict::Unclassified`], never `Pending`.
    pub fn finish(&self) -> Verdict {
        match self.verdict() {
            Verdict::Pending if self.tls_seen() => Verdict::Unclassified,
            Verdict::Pending => Verdict::NotTls,
            v => v,
        }
    }

    fn read_client(&mut self) {
        match client_hello_session_id(&self.client.handshake) {
            Parse::Done(sid) => {
                self.client_session_id = Some(sid);
                // Nothing else of the client is needed.
                self.client = Direction {
                    first_content: self.client.first_content,
                    next: self.client.next,
                    ..Direction::default()
                };
            }
            Parse::Bad => self.client_bad = true,
            Parse::NeedMore if self.client.closed() => self.client_bad = true,
            Parse::NeedMore => {}
        }
    }

    fn server_decided(&self) -> bool {
        let p = &self.progress;
        match (&p.first, &p.second) {
            (Some(first), _) if first.version() == Some(TlsVersion::Tls13) => {
                !first.retry_request || p.second.is_some()
            }
            (Some(_), _) => p.after.is_some(),
            (None, _) => false,
        }
    }

    /// Reads the server's handshake messages: ServerHello, then (a retry's second ServerHello,
    /// or for TLS 1.2 the type of the next message).
    fn read_server(&mut self) {
        let handshake = &self.server.handshake;
        let p = &mut self.progress;
        loop {
            let first = p
                .first
                .as_ref()
                .map(|f| (f.version() == Some(TlsVersion::Tls13), f.retry_request));
            match first {
                Some((false, _)) => {
                    // TLS 1.2: a ChangeCipherSpec right after the ServerHello, or the type of
                    // the next message, is enough.
                    if self.server.change_cipher_spec_at == Some(p.pos) {
                        p.after = Some(AfterHello::Abbreviated);
                    } else if let Some(&kind) = handshake.get(p.pos) {
                        p.after = Some(match kind {
                            NEW_SESSION_TICKET => AfterHello::Abbreviated,
                            CERTIFICATE | SERVER_KEY_EXCHANGE | CERTIFICATE_REQUEST
                            | SERVER_HELLO_DONE => AfterHello::KeyExchange,
                            _ => AfterHello::Other,
                        });
                    }
                    return;
                }
                Some((true, false)) => return,
                Some((true, true)) if p.second.is_some() => return,
                _ => {}
            }
            match message_at(handshake, p.pos) {
                Parse::NeedMore => {
                    if self.server.closed() {
                        p.bad = true;
                    }
                    return;
                }
                Parse::Bad => {
                    p.bad = true;
                    return;
                }
                Parse::Done((kind, body, end)) => {
                    p.pos = end;
                    let hello = (kind == SERVER_HELLO)
                        .then(|| parse_server_hello(body))
                        .flatten();
                    let Some(hello) = hello else {
                        p.bad = true;
                        return;
                    };
                    if p.first.is_none() {
                        p.first = Some(hello);
                    } else if hello.retry_request {
                        p.bad = true; // a second retry is a protocol error
                        return;
                    } else {
                        p.second = Some(hello);
                    }
                }
            }
        }
    }

    /// Whether the connection shows TLS: the client's stream began with a handshake record, or
    /// the server sent a ServerHello.
    fn tls_seen(&self) -> bool {
        self.client_session_id.is_some()
            || self.client.starts_with_handshake_record() == Some(true)
            || self.progress.first.is_some()
    }

    fn verdict(&self) -> Verdict {
        if self.client.starts_with_handshake_record() == Some(false)
            && self.client_session_id.is_none()
            && self.progress.first.is_none()
        {
            return Verdict::NotTls;
        }
        if self.progress.first.is_none()
            && self.server.starts_with_handshake_record() == Some(false)
        {
            return if self.tls_seen() {
                Verdict::Unclassified
            } else {
                Verdict::NotTls
            };
        }
        let p = &self.progress;
        if p.bad {
            return Verdict::Unclassified;
        }
        let Some(first) = &p.first else {
            return Verdict::Pending;
        };
        let classified = |kind: HandshakeKind, version: Option<TlsVersion>, alpn| {
            Verdict::Classified(TlsHandshake {
                kind,
                version,
                alpn,
            })
        };
        if first.version() == Some(TlsVersion::Tls13) {
            if !first.retry_request {
                let kind = if first.pre_shared_key {
                    HandshakeKind::Resumed
                } else {
                    HandshakeKind::Full
                };
                return classified(kind, Some(TlsVersion::Tls13), None);
            }
            return match &p.second {
                Some(second) if second.version() != Some(TlsVersion::Tls13) => {
                    Verdict::Unclassified
                }
                Some(second) if second.pre_shared_key => {
                    classified(HandshakeKind::Resumed, Some(TlsVersion::Tls13), None)
                }
                Some(_) => classified(HandshakeKind::FullHrr, Some(TlsVersion::Tls13), None),
                None => Verdict::Pending,
            };
        }
        if first.retry_request {
            return Verdict::Unclassified; // a retry outside TLS 1.3
        }
        let version = first.version();
        let alpn = first.alpn.clone();
        let echoed = self
            .client_session_id
            .filter(|sid| !sid.is_empty())
            .map(|sid| sid == first.session_id);
        match (echoed, p.after) {
            (Some(true), _) | (None, Some(AfterHello::Abbreviated)) => {
                classified(HandshakeKind::Resumed, version, alpn)
            }
            (Some(false), _) | (None, Some(AfterHello::KeyExchange)) => {
                classified(HandshakeKind::Full, version, alpn)
            }
            (None, Some(AfterHello::Other)) => Verdict::Unclassified,
            (None, None) => Verdict::Pending,
        }
    }
}

/// A flow's TLS state, fed every segment until it is decided: no allocation and one branch per
/// segment for a connection that is not TLS (decided from its first payload byte), and none of
/// either once its handshake is classified.
#[derive(Debug, Default)]
pub(crate) struct TlsWire {
    /// Sequence number of the client's first data byte (its ISN + 1), once known.
    client_start: Option<u32>,
    /// Sequence number of the server's first data byte, once known.
    server_start: Option<u32>,
    state: WireState,
}

#[derive(Debug, Default)]
enum WireState {
    /// No payload at a stream start seen yet.
    #[default]
    Undecided,
    /// Not a TLS connection (or its start cannot be placed): nothing more to do.
    NotTls,
    /// A TLS handshake in progress.
    Reading(Box<HelloClassifier>),
    /// TLS, handshake classified when `Some`.
    Done(Option<Box<TlsHandshake>>),
}

impl TlsWire {
    /// Whether segments still matter.
    #[inline]
    pub(crate) fn wants_segments(&self) -> bool {
        matches!(self.state, WireState::Undecided | WireState::Reading(_))
    }

    /// Feeds one segment sent by the client (`from_client`) or the server.
    pub(crate) fn segment(&mut self, from_client: bool, seg: &TcpSegment<'_>) {
        let flags = seg.flags;
        if flags.syn() {
            if from_client && !flags.ack() {
                self.client_start.get_or_insert(seg.seq.wrapping_add(1));
            } else if !from_client && flags.ack() {
                self.server_start.get_or_insert(seg.seq.wrapping_add(1));
                self.client_start.get_or_insert(seg.ack);
            }
        }
        let captured = &seg.payload[..seg.payload.len().min(seg.payload_len as usize)];
        if captured.is_empty() {
            return;
        }
        // Data in a SYN (TCP Fast Open) follows the ISN.
        let data_seq = seg.seq.wrapping_add(u32::from(flags.syn()));
        let start = if from_client {
            self.client_start
        } else {
            self.server_start
        };
        let Some(start) = start else {
            // A stream that started before the capture: its records cannot be placed.
            if from_client && matches!(self.state, WireState::Undecided) {
                self.state = WireState::NotTls;
            }
            return;
        };
        let offset = i64::from(data_seq.wrapping_sub(start) as i32);
        if let WireState::Undecided = self.state {
            if offset == 0 && captured[0] != CONTENT_HANDSHAKE {
                self.state = WireState::NotTls;
                return;
            }
            self.state = WireState::Reading(Box::default());
        }
        let WireState::Reading(classifier) = &mut self.state else {
            return;
        };
        match classifier.push(from_client, offset, captured) {
            Verdict::Pending => {}
            Verdict::NotTls => self.state = WireState::NotTls,
            Verdict::Unclassified => self.state = WireState::Done(None),
            Verdict::Classified(handshake) => {
                self.state = WireState::Done(Some(Box::new(handshake)));
            }
        }
    }

    /// At the end of the connection: whether it spoke TLS, and its handshake when classified.
    pub(crate) fn finish(self) -> (bool, Option<TlsHandshake>) {
        match self.state {
            WireState::Undecided | WireState::NotTls => (false, None),
            WireState::Done(handshake) => (true, handshake.map(|h| *h)),
            WireState::Reading(classifier) => match classifier.finish() {
                Verdict::Classified(handshake) => (true, Some(handshake)),
                Verdict::Unclassified => (true, None),
                Verdict::Pending | Verdict::NotTls => (false, None),
            },
        }
    }
}

#[cfg(test)]
mod tests;
