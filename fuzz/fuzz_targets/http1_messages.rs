//! HTTP/1 message counting over arbitrary byte streams cut into arbitrary segments, with
//! arbitrary sequence numbers and wire lengths (retransmissions, gaps, snaplen cuts).
#![no_main]

use kalab::capture::http::{MessageCounter, MessageKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let kind = if control & 1 == 0 {
        MessageKind::Request
    } else {
        MessageKind::Response
    };
    let mut counter = if control & 2 == 0 {
        MessageCounter::new(kind)
    } else {
        MessageCounter::new_mid_stream(kind)
    };
    let mut seq: u32 = u32::from(control).wrapping_mul(0x0101_0101);
    counter.set_first_seq(seq);
    let mut starts: Vec<u64> = Vec::new();
    let mut count: u64 = 0;
    // Segments: a length byte, a "wire extra" byte, a sequence-skew byte, then the bytes.
    let mut at = rest;
    let mut ts_us = 0u64;
    while at.len() >= 3 {
        let len = usize::from(at[0]).min(at.len() - 3);
        let extra = u32::from(at[1]);
        let skew = i32::from(at[2] as i8);
        let payload = &at[3..3 + len];
        let wire = (len as u32).saturating_add(extra % 8 * 512);
        let this_seq = seq.wrapping_add(skew as u32);
        counter.push(this_seq, payload, wire, ts_us, &mut starts);
        counter.clone().push(this_seq, payload, wire, ts_us, &mut count);
        seq = this_seq.wrapping_add(wire);
        ts_us += 1;
        at = &at[3 + len..];
    }
});
