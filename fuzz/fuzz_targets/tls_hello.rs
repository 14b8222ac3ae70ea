//! TLS hello classification over arbitrary client and server byte streams, fed in arbitrary
//! pieces at arbitrary offsets (reordering, overlaps, gaps).
#![no_main]

use kalab::capture::tls::HelloClassifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut classifier = HelloClassifier::new();
    let mut offsets = [0i64; 2];
    let mut at = data;
    // Pieces: a control byte (direction, offset jump), a length byte, then the bytes.
    while at.len() >= 2 {
        let control = at[0];
        let len = usize::from(at[1]).min(at.len() - 2);
        let from_client = control & 1 == 0;
        let side = usize::from(!from_client);
        let jump = i64::from((control >> 1) as i8 >> 2);
        offsets[side] = offsets[side].saturating_add(jump);
        let _ = classifier.push(from_client, offsets[side], &at[2..2 + len]);
        offsets[side] = offsets[side].saturating_add(len as i64);
        at = &at[2 + len..];
    }
    let _ = classifier.finish();
});
