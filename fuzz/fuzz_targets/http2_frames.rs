//! HTTP/2 frame counting (h2c on the wire): every input is one direction of a stream that
//! opens with the client preface (requests) or the server's SETTINGS (responses), followed by
//! arbitrary frames cut into arbitrary segments, with gaps and retransmissions.
#![no_main]

use kalab::capture::http::{MessageCounter, MessageKind};
use libfuzzer_sys::fuzz_target;

const CLIENT_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SERVER_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let (kind, preface) = if control & 1 == 0 {
        (MessageKind::Request, CLIENT_PREFACE)
    } else {
        (MessageKind::Response, SERVER_SETTINGS)
    };
    let mut counter = MessageCounter::new(kind);
    let mut seq: u32 = 1;
    counter.set_first_seq(seq);
    let mut starts: Vec<u64> = Vec::new();
    counter.push(seq, preface, preface.len() as u32, 0, &mut starts);
    seq = seq.wrapping_add(preface.len() as u32);
    // Segments: a length byte, a gap byte (bytes lost before it), then the bytes.
    let mut at = rest;
    let mut ts_us = 1u64;
    while at.len() >= 2 {
        let len = usize::from(at[0]).min(at.len() - 2);
        let gap = u32::from(at[1] & 0x0f);
        let payload = &at[2..2 + len];
        seq = seq.wrapping_add(gap);
        counter.push(seq, payload, len as u32, ts_us, &mut starts);
        if at[1] & 0x80 != 0 {
            // A retransmission of the same bytes.
            counter.push(seq, payload, len as u32, ts_us, &mut starts);
        }
        seq = seq.wrapping_add(len as u32);
        ts_us += 1;
        at = &at[2 + len..];
    }
});
