//! One [`ConnectionRecord`] as JSON, written straight into a byte buffer: `analyze --format
//! json` writes one per connection, and serde_json spends most of its time there escaping the
//! same twenty field names and formatting addresses through `fmt`. The bytes are exactly
//! serde_json's for the same record (tested on every kind of record); the destructuring below
//! names every field, so a field added to the record does not compile until it is written here.

use std::io::Write as _;
use std::net::SocketAddr;

use serde::Serialize;

use crate::model::{ConnectionRecord, Side};

/// Appends `r` as serde_json would serialise it (compact).
pub(crate) fn write_record(out: &mut Vec<u8>, r: &ConnectionRecord) {
    let ConnectionRecord {
        tuple,
        client_isn,
        syn_at_us,
        syn_ack_at_us,
        client_fin_at_us,
        server_fin_at_us,
        rst_at_us,
        rst_from,
        first_packet_at_us,
        last_packet_at_us,
        packets_to_server,
        packets_to_client,
        payload_bytes_to_server,
        payload_bytes_to_client,
        requests,
        responses,
        request_times_us,
        active_closer,
        end,
        partial,
        tls,
        tls_seen,
    } = r;
    // One growth check for the whole record (a record is rarely longer).
    out.reserve(640 + 24 * request_times_us.len());
    out.extend_from_slice(b"{\"tuple\":{\"client\":\"");
    address(out, &tuple.client);
    out.extend_from_slice(b"\",\"server\":\"");
    address(out, &tuple.server);
    out.extend_from_slice(b"\"},\"client_isn\":");
    number(out, u64::from(*client_isn));
    // Each key written by its own call: a constant length is copied inline, where a loop over
    // keys of different lengths called memcpy for each.
    key(out, b",\"syn_at_us\":");
    optional(out, *syn_at_us);
    key(out, b",\"syn_ack_at_us\":");
    optional(out, *syn_ack_at_us);
    key(out, b",\"client_fin_at_us\":");
    optional(out, *client_fin_at_us);
    key(out, b",\"server_fin_at_us\":");
    optional(out, *server_fin_at_us);
    key(out, b",\"rst_at_us\":");
    optional(out, *rst_at_us);
    key(out, b",\"rst_from\":");
    side(out, *rst_from);
    key(out, b",\"first_packet_at_us\":");
    number(out, *first_packet_at_us);
    key(out, b",\"last_packet_at_us\":");
    number(out, *last_packet_at_us);
    key(out, b",\"packets_to_server\":");
    number(out, *packets_to_server);
    key(out, b",\"packets_to_client\":");
    number(out, *packets_to_client);
    key(out, b",\"payload_bytes_to_server\":");
    number(out, *payload_bytes_to_server);
    key(out, b",\"payload_bytes_to_client\":");
    number(out, *payload_bytes_to_client);
    key(out, b",\"requests\":");
    number(out, *requests);
    key(out, b",\"responses\":");
    number(out, *responses);
    out.extend_from_slice(b",\"request_times_us\":[");
    for (i, at) in request_times_us.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        number(out, *at);
    }
    out.extend_from_slice(b"],\"active_closer\":");
    side(out, *active_closer);
    out.extend_from_slice(b",\"end\":\"");
    out.extend_from_slice(end.as_str().as_bytes());
    out.push(b'"');
    out.extend_from_slice(if *partial {
        b",\"partial\":true"
    } else {
        b",\"partial\":false"
    });
    if let Some(tls) = tls {
        out.extend_from_slice(b",\"tls\":");
        serde_value(out, tls);
    }
    if *tls_seen {
        out.extend_from_slice(b",\"tls_seen\":true");
    }
    out.push(b'}');
}

#[inline(always)]
fn key(out: &mut Vec<u8>, key: &'static [u8]) {
    out.extend_from_slice(key);
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn optional(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => number(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// A side as serde names it (`"client"`, `"server"`), or `null`.
fn side(out: &mut Vec<u8>, side: Option<Side>) {
    match side {
        Some(side) => {
            out.push(b'"');
            out.extend_from_slice(side.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A small value (a TLS handshake) through serde_json itself.
fn serde_value(out: &mut Vec<u8>, value: &impl Serialize) {
    // Writing into a Vec cannot fail, and these types always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// An address as its `Display` (what serde writes for it): IPv4 by hand, IPv6 through `fmt`.
/// Neither form holds a character JSON needs escaped.
fn address(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.ip().octets().iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(digits.format(*octet).as_bytes());
            }
            out.push(b':');
            out.extend_from_slice(digits.format(v4.port()).as_bytes());
        }
        SocketAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EndState, FourTuple, HandshakeKind, TlsHandshake, TlsVersion};

    fn record(client: &str, server: &str) -> ConnectionRecord {
        let tuple = FourTuple::new(client.parse().unwrap(), server.parse().unwrap());
        ConnectionRecord::new(tuple, 1_796_121_245_981_742)
    }

    fn records() -> Vec<ConnectionRecord> {
        let fresh = record("127.0.0.1:54626", "127.0.0.1:8080");
        let mut closed = record("10.255.0.9:1", "192.168.100.200:65535");
        closed.client_isn = u32::MAX;
        closed.syn_at_us = Some(1);
        closed.syn_ack_at_us = Some(0);
        closed.client_fin_at_us = Some(u64::MAX);
        closed.server_fin_at_us = Some(12_345);
        closed.rst_at_us = Some(99);
        closed.rst_from = Some(Side::Server);
        closed.packets_to_server = 5;
        closed.payload_bytes_to_client = 155;
        closed.requests = 3;
        closed.responses = 2;
        closed.request_times_us = vec![1, 22, 333];
        closed.active_closer = Some(Side::Client);
        closed.end = EndState::ClosedByClient;
        closed.partial = false;
        let mut v6 = record("[::1]:40000", "[fe80::1%2]:443");
        v6.end = EndState::Reset;
        v6.tls_seen = true;
        let mut tls = record("[2001:db8::ff00:42:8329]:5", "0.0.0.0:0");
        tls.tls = Some(TlsHandshake {
            kind: HandshakeKind::Resumed,
            version: Some(TlsVersion::Tls13),
            alpn: Some("h2".into()),
        });
        tls.request_times_us = vec![7];
        vec![fresh, closed, v6, tls]
    }

    #[test]
    fn names_sides_and_ends_as_serde_does() {
        for s in [None, Some(Side::Client), Some(Side::Server)] {
            let mut ours = Vec::new();
            side(&mut ours, s);
            assert_eq!(ours, serde_json::to_vec(&s).unwrap());
        }
        for end in [
            EndState::ClosedByClient,
            EndState::ClosedByServer,
            EndState::Reset,
            EndState::OpenAtEnd,
            EndState::ClosedSimultaneously,
        ] {
            let mut r = record("127.0.0.1:1", "127.0.0.1:2");
            r.end = end;
            let mut ours = Vec::new();
            write_record(&mut ours, &r);
            assert_eq!(ours, serde_json::to_vec(&r).unwrap(), "{end:?}");
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for r in records() {
            let mut ours = Vec::new();
            write_record(&mut ours, &r);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&r).unwrap()
            );
        }
    }
}
