//! Packet decoding: one captured frame (link type, bytes, wire length, time) to one TCP segment.
//!
//! Pure and allocation-free. It uses etherparse's *lax* slicing because captures are truncated by
//! their snaplen and loopback frames can exceed 65535 bytes: only the headers matter. The payload
//! length of a segment is the length on the wire (from the IP header, or from the frame's wire
//! length when the IP header cannot say), while `payload` holds only the bytes actually captured.
//! Anything that is not a decodable TCP segment comes back as a [`SkipReason`], never a panic.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use etherparse::{
    err::packet::SliceError, EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};
use serde::{Deserialize, Serialize};

/// The link-layer header types kalab decodes (a subset of the tcpdump.org LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1), what libpcap reports for `lo` and Ethernet devices.
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113), Linux "cooked" capture v1 (`tcpdump -i any` before 4.99).
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276), Linux "cooked" capture v2 (`tcpdump -i any` since 4.99).
    LinuxSll2,
    /// LINKTYPE_NULL (0), BSD loopback with a host-byte-order address family word.
    Null,
    /// LINKTYPE_LOOP (108), OpenBSD loopback with a network-byte-order address family word.
    Loop,
    /// LINKTYPE_RAW (101) or DLT_RAW (12, 14): the frame starts with the IP header.
    Raw,
    /// LINKTYPE_IPV4 (228): the frame is an IPv4 packet.
    Ipv4,
    /// LINKTYPE_IPV6 (229): the frame is an IPv6 packet.
    Ipv6,
}

impl LinkType {
    /// Maps a pcap link-type number (DLT/LINKTYPE value) to a decodable link type.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            0 => Some(LinkType::Null),
            108 => Some(LinkType::Loop),
            101 | 12 | 14 => Some(LinkType::Raw),
            228 => Some(LinkType::Ipv4),
            229 => Some(LinkType::Ipv6),
            _ => None,
        }
    }

    /// The canonical LINKTYPE_ number, as written into pcap file headers.
    pub fn dlt(self) -> i32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
        }
    }

    /// The name libpcap uses (`EN10MB`, `LINUX_SLL2`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "EN10MB",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::LinuxSll2 => "LINUX_SLL2",
            LinkType::Null => "NULL",
            LinkType::Loop => "LOOP",
            LinkType::Raw => "RAW",
            LinkType::Ipv4 => "IPV4",
            LinkType::Ipv6 => "IPV6",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The TCP control flags kalab looks at, as the low byte of the TCP flags field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: the sender has no more data.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers (opens a connection).
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push buffered data to the application.
    pub const PSH: u8 = 0x08;
    /// ACK: the acknowledgment number is valid.
    pub const ACK: u8 = 0x10;

    /// True when the FIN bit is set.
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    /// True when the SYN bit is set.
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    /// True when the RST bit is set.
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    /// True when the ACK bit is set.
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// One decoded TCP segment; `payload` borrows the captured bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    /// Capture time, microseconds since the Unix epoch.
    pub ts_us: u64,
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// Control flags.
    pub flags: TcpFlags,
    /// Payload length on the wire, in bytes (may exceed `payload.len()` when the snaplen cut it).
    pub payload_len: u32,
    /// The captured part of the payload.
    pub payload: &'a [u8],
}

/// Why a captured frame produced no TCP segment. Every skipped frame is counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The frame ended inside a link, IP or TCP header.
    Truncated,
    /// A header is invalid (bad version, bad header length, ...).
    Malformed,
    /// Not an IP packet (ARP, LLDP, ...).
    NotIp,
    /// An IP packet that does not carry TCP (UDP, ICMP, ...).
    NotTcp,
    /// A non-first IP fragment (no TCP header in it).
    Fragment,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Truncated => "truncated",
            SkipReason::Malformed => "malformed",
            SkipReason::NotIp => "not IP",
            SkipReason::NotTcp => "not TCP",
            SkipReason::Fragment => "IP fragment",
        })
    }
}

/// Length of the Linux cooked capture v1 header.
const SLL_HEADER_LEN: usize = 16;
/// Length of the Linux cooked capture v2 header.
const SLL2_HEADER_LEN: usize = 20;
/// Length of the NULL/LOOP address-family word.
const NULL_HEADER_LEN: usize = 4;

/// Decodes one captured frame.
///
/// `data` holds the captured bytes, `wire_len` the frame's length on the wire (pcap's `len` /
/// `origlen`), used when the IP header cannot give the packet length (IPv4 GSO frames with a
/// zero total length, IPv6 jumbograms).
///
/// The common case (no VLAN tag, IPv4 or IPv6 without extension headers, unfragmented TCP with
/// complete headers) takes a direct fast path, about three times faster than slicing with
/// etherparse; everything else, including every error, goes through [`decode_lax`]. Both give
/// the same result where the fast path applies (tested).
#[inline]
pub fn decode(
    link: LinkType,
    data: &[u8],
    wire_len: u32,
    ts_us: u64,
) -> Result<TcpSegment<'_>, SkipReason> {
    match decode_fast(link, data, wire_len, ts_us) {
        Some(segment) => Ok(segment),
        None => decode_lax(link, data, wire_len, ts_us),
    }
}

/// [`decode`] handing the segment to `on_segment` where it was built (moving it out of the
/// fast path's result into another copied it field by field, for every packet).
#[inline]
pub(crate) fn decode_with<R>(
    link: LinkType,
    data: &[u8],
    wire_len: u32,
    ts_us: u64,
    on_segment: impl FnOnce(&TcpSegment<'_>) -> R,
) -> Result<R, SkipReason> {
    match &decode_fast(link, data, wire_len, ts_us) {
        Some(segment) => Ok(on_segment(segment)),
        None => decode_lax(link, data, wire_len, ts_us).map(|segment| on_segment(&segment)),
    }
}

#[inline(always)]
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

#[inline(always)]
fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// The fast path of [`decode`]: None whenever the frame is anything but the common case.
#[inline(always)]
fn decode_fast(link: LinkType, data: &[u8], wire_len: u32, ts_us: u64) -> Option<TcpSegment<'_>> {
    const IPV4: u16 = 0x0800;
    const IPV6: u16 = 0x86DD;
    let (ip, ether_type) = match link {
        LinkType::Ethernet if data.len() >= 14 => (14, Some(be16(data, 12))),
        LinkType::LinuxSll if data.len() >= SLL_HEADER_LEN => {
            (SLL_HEADER_LEN, Some(be16(data, 14)))
        }
        LinkType::LinuxSll2 if data.len() >= SLL2_HEADER_LEN => {
            (SLL2_HEADER_LEN, Some(be16(data, 0)))
        }
        LinkType::Null | LinkType::Loop => (NULL_HEADER_LEN, None),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => (0, None),
        _ => return None,
    };
    let version = data.get(ip)? >> 4;
    let (src_ip, dst_ip, tcp, ip_end) = match (version, ether_type) {
        (4, None | Some(IPV4)) => {
            let v4: &[u8; 20] = data.get(ip..ip + 20)?.try_into().ok()?;
            let ihl = usize::from(v4[0] & 0x0f) * 4;
            if ihl < 20 || data.len() < ip + ihl || v4[9] != 6 {
                return None;
            }
            if be16(v4, 6) & 0x3fff != 0 {
                return None; // fragmented
            }
            let total_len = usize::from(be16(v4, 2));
            let src = [v4[12], v4[13], v4[14], v4[15]];
            let dst = [v4[16], v4[17], v4[18], v4[19]];
            let end = (total_len >= ihl).then_some(ip + total_len);
            (IpAddr::from(src), IpAddr::from(dst), ip + ihl, end)
        }
        (6, None | Some(IPV6)) => {
            if data.len() < ip + 40 || data[ip + 6] != 6 {
                return None;
            }
            let payload_len = usize::from(be16(data, ip + 4));
            let src: [u8; 16] = data[ip + 8..ip + 24].try_into().ok()?;
            let dst: [u8; 16] = data[ip + 24..ip + 40].try_into().ok()?;
            let end = (payload_len != 0).then_some(ip + 40 + payload_len);
            (IpAddr::from(src), IpAddr::from(dst), ip + 40, end)
        }
        _ => return None,
    };
    // The fixed TCP header as an array: its fields are read without bounds checks.
    let header: &[u8; 20] = data.get(tcp..tcp + 20)?.try_into().ok()?;
    let payload_start = tcp + usize::from(header[12] >> 4) * 4;
    if payload_start < tcp + 20 || data.len() < payload_start {
        return None;
    }
    let end = ip_end.unwrap_or_else(|| (wire_len as usize).max(data.len()));
    if end < payload_start {
        return None;
    }
    let payload = &data[payload_start..end.min(data.len())];
    Some(TcpSegment {
        ts_us,
        src: SocketAddr::new(src_ip, be16(header, 0)),
        dst: SocketAddr::new(dst_ip, be16(header, 2)),
        seq: be32(header, 4),
        ack: be32(header, 8),
        flags: TcpFlags(header[13]),
        payload_len: u32::try_from(end - payload_start).unwrap_or(u32::MAX),
        payload,
    })
}

/// Decodes one captured frame with etherparse's lax slicing only (VLAN tags, IPv6 extension
/// headers, IPsec AH, and classification of everything that is not a TCP segment).
pub fn decode_lax(
    link: LinkType,
    data: &[u8],
    wire_len: u32,
    ts_us: u64,
) -> Result<TcpSegment<'_>, SkipReason> {
    let sliced = match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(data).map_err(|_| SkipReason::Truncated)?
        }
        LinkType::LinuxSll => {
            let header = data.get(..SLL_HEADER_LEN).ok_or(SkipReason::Truncated)?;
            let ether_type = u16::from_be_bytes([header[14], header[15]]);
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), &data[SLL_HEADER_LEN..])
        }
        LinkType::LinuxSll2 => {
            let header = data.get(..SLL2_HEADER_LEN).ok_or(SkipReason::Truncated)?;
            let ether_type = u16::from_be_bytes([header[0], header[1]]);
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), &data[SLL2_HEADER_LEN..])
        }
        LinkType::Null | LinkType::Loop => {
            // The family word's byte order depends on the capturing host; the IP version
            // nibble says the same thing unambiguously.
            let ip = data.get(NULL_HEADER_LEN..).ok_or(SkipReason::Truncated)?;
            from_ip(ip)?
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => from_ip(data)?,
    };
    segment_from_sliced(&sliced, data, wire_len, ts_us)
}

fn from_ip(ip: &[u8]) -> Result<LaxSlicedPacket<'_>, SkipReason> {
    use etherparse::err::ip::LaxHeaderSliceError;
    match LaxSlicedPacket::from_ip(ip) {
        Ok(p) => Ok(p),
        Err(LaxHeaderSliceError::Len(_)) => Err(SkipReason::Truncated),
        Err(LaxHeaderSliceError::Content(_)) => {
            if ip.first().is_some_and(|b| b >> 4 == 4 || b >> 4 == 6) {
                Err(SkipReason::Malformed)
            } else {
                Err(SkipReason::NotIp)
            }
        }
    }
}

fn stop_reason(sliced: &LaxSlicedPacket<'_>) -> Option<SkipReason> {
    sliced.stop_err.as_ref().map(|(err, _)| match err {
        SliceError::Len(_) => SkipReason::Truncated,
        _ => SkipReason::Malformed,
    })
}

fn segment_from_sliced<'a>(
    sliced: &LaxSlicedPacket<'a>,
    frame: &'a [u8],
    wire_len: u32,
    ts_us: u64,
) -> Result<TcpSegment<'a>, SkipReason> {
    let (src_ip, dst_ip, ip_end) = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let header = v4.header();
            let start = offset_in(frame, header.slice());
            let total_len = usize::from(header.total_len());
            let declared = total_len >= header.slice().len();
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                declared.then_some(start + total_len),
            )
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let header = v6.header();
            let start = offset_in(frame, header.slice());
            let payload_len = usize::from(header.payload_length());
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                (payload_len != 0).then_some(start + header.slice().len() + payload_len),
            )
        }
        Some(LaxNetSlice::Arp(_)) => return Err(SkipReason::NotIp),
        None => return Err(stop_reason(sliced).unwrap_or(SkipReason::NotIp)),
    };
    let ip_payload = sliced
        .net
        .as_ref()
        .and_then(|n| n.ip_payload_ref())
        .ok_or(SkipReason::NotIp)?;
    if ip_payload.ip_number != etherparse::IpNumber::TCP {
        return Err(stop_reason(sliced).unwrap_or(SkipReason::NotTcp));
    }
    if ip_payload.fragmented {
        return Err(SkipReason::Fragment);
    }
    let tcp = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => tcp,
        _ => return Err(stop_reason(sliced).unwrap_or(SkipReason::Truncated)),
    };
    let payload = tcp.payload();
    let payload_start = offset_in(frame, tcp.slice()) + tcp.header_slice().len();
    let end = ip_end.unwrap_or_else(|| (wire_len as usize).max(frame.len()));
    let payload_len = end.saturating_sub(payload_start).max(payload.len());
    let flags = tcp.header_slice().get(13).copied().unwrap_or(0);
    Ok(TcpSegment {
        ts_us,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(flags),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        payload,
    })
}

/// Byte offset of `inner` within `outer` (both come from the same frame).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(40000, 8080, 1000, 65535)
            .ack(77)
            .psh()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn ethernet_ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
            .tcp(40000, 8080, 1000, 65535)
            .ack(77)
            .psh()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    fn check(seg: &TcpSegment<'_>) {
        assert_eq!(seg.src, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(seg.dst, "127.0.0.2:8080".parse().unwrap());
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.ack, 77);
        assert!(seg.flags.ack() && !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst());
        assert_eq!(seg.payload, PAYLOAD);
        assert_eq!(seg.payload_len as usize, PAYLOAD.len());
        assert_eq!(seg.ts_us, 5);
    }

    fn wire(frame: &[u8]) -> u32 {
        frame.len() as u32
    }

    /// Every decode in these tests also checks that the fast path agrees with etherparse.
    fn decode(
        link: LinkType,
        data: &[u8],
        wire_len: u32,
        ts_us: u64,
    ) -> Result<TcpSegment<'_>, SkipReason> {
        let result = super::decode(link, data, wire_len, ts_us);
        assert_eq!(
            result,
            decode_lax(link, data, wire_len, ts_us),
            "{link} {data:02x?}"
        );
        result
    }

    #[test]
    fn ethernet_ipv4() {
        let frame = ethernet_ipv4_tcp(PAYLOAD);
        assert!(decode_fast(LinkType::Ethernet, &frame, wire(&frame), 5).is_some());
        check(&decode(LinkType::Ethernet, &frame, wire(&frame), 5).unwrap());
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1, 2, 3, 4)
            .ack(1)
            .write(&mut frame, &[])
            .unwrap();
        frame.resize(60, 0);
        let seg = decode(LinkType::Ethernet, &frame, 60, 0).unwrap();
        assert_eq!((seg.payload_len, seg.payload.len()), (0, 0));
    }

    #[test]
    fn ethernet_ipv6() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6(
                [0; 16],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                64,
            )
            .tcp(40000, 8080, 9, 100)
            .syn()
            .write(&mut frame, &[])
            .unwrap();
        let seg = decode(LinkType::Ethernet, &frame, wire(&frame), 0).unwrap();
        assert_eq!(seg.dst, "[::1]:8080".parse().unwrap());
        assert_eq!(seg.src, "[::]:40000".parse().unwrap());
        assert!(seg.flags.syn() && !seg.flags.ack());
        assert_eq!(seg.payload_len, 0);
    }

    #[test]
    fn linux_sll_and_sll2() {
        let ip = ipv4_tcp(PAYLOAD);
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&ip);
        check(&decode(LinkType::LinuxSll, &sll, wire(&sll), 5).unwrap());
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        check(&decode(LinkType::LinuxSll2, &sll2, wire(&sll2), 5).unwrap());
    }

    #[test]
    fn null_loop_and_raw() {
        let ip = ipv4_tcp(PAYLOAD);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        check(&decode(LinkType::Null, &null, wire(&null), 5).unwrap());
        let mut lp = 2u32.to_be_bytes().to_vec();
        lp.extend_from_slice(&ip);
        check(&decode(LinkType::Loop, &lp, wire(&lp), 5).unwrap());
        check(&decode(LinkType::Raw, &ip, wire(&ip), 5).unwrap());
        check(&decode(LinkType::Ipv4, &ip, wire(&ip), 5).unwrap());
    }

    #[test]
    fn snaplen_truncated_payload_keeps_wire_length() {
        let payload = vec![b'x'; 1000];
        let frame = ethernet_ipv4_tcp(&payload);
        let cut = &frame[..100];
        let seg = decode(LinkType::Ethernet, cut, wire(&frame), 0).unwrap();
        assert_eq!(seg.payload_len, 1000);
        assert_eq!(seg.payload.len(), 100 - 14 - 20 - 20);
    }

    #[test]
    fn gso_frame_with_zero_total_length_uses_wire_length() {
        let payload = vec![b'x'; 1000];
        let mut frame = ethernet_ipv4_tcp(&payload);
        frame[14 + 2] = 0; // IPv4 total length = 0, as for >64 KiB loopback GSO frames
        frame[14 + 3] = 0;
        let seg = decode(LinkType::Ethernet, &frame[..200], 70_000, 0).unwrap();
        assert_eq!(seg.payload_len, 70_000 - 14 - 20 - 20);
    }

    #[test]
    fn truncated_headers_are_skipped() {
        let frame = ethernet_ipv4_tcp(PAYLOAD);
        for cut in [0, 5, 13, 20, 33, 40, 53] {
            assert_eq!(
                decode(LinkType::Ethernet, &frame[..cut], wire(&frame), 0),
                Err(SkipReason::Truncated),
                "cut at {cut}"
            );
        }
        assert_eq!(
            decode(LinkType::LinuxSll2, &[0x08, 0], 2, 0),
            Err(SkipReason::Truncated)
        );
        assert_eq!(
            decode(LinkType::Null, &[2, 0], 2, 0),
            Err(SkipReason::Truncated)
        );
    }

    #[test]
    fn garbage_and_non_tcp_are_skipped() {
        let garbage = [0xffu8; 64];
        assert!(decode(LinkType::Raw, &garbage, 64, 0).is_err());
        assert!(decode(LinkType::Ethernet, &garbage, 64, 0).is_err());
        let mut bad_ihl = ipv4_tcp(PAYLOAD);
        bad_ihl[0] = 0x41; // header length 4 bytes
        assert_eq!(
            decode(LinkType::Raw, &bad_ihl, wire(&bad_ihl), 0),
            Err(SkipReason::Malformed)
        );
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
            .udp(53, 53)
            .write(&mut udp, b"dns")
            .unwrap();
        assert_eq!(
            decode(LinkType::Ethernet, &udp, wire(&udp), 0),
            Err(SkipReason::NotTcp)
        );
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert!(decode(LinkType::Ethernet, &arp, 42, 0).is_err());
        let mut ipx = vec![0u8; 60];
        ipx[12] = 0x81;
        ipx[13] = 0x37;
        assert_eq!(
            decode(LinkType::Ethernet, &ipx, 60, 0),
            Err(SkipReason::NotIp)
        );
    }

    #[test]
    fn link_type_numbers_round_trip() {
        for link in [
            LinkType::Ethernet,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Loop,
            LinkType::Raw,
            LinkType::Ipv4,
            LinkType::Ipv6,
        ] {
            assert_eq!(LinkType::from_dlt(link.dlt()), Some(link));
        }
        assert_eq!(LinkType::from_dlt(12), Some(LinkType::Raw));
        assert_eq!(LinkType::from_dlt(127), None);
    }
}
