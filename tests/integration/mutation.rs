//! A bounded, seeded mutation pass over the capture reader, in the stable suite: every
//! committed capture fixture, mutated a hundred ways each (bit flips, overwritten words
//! with extreme values, cuts, duplicated and dropped ranges), goes through decoding and flow
//! assembly in memory and through a stream. Nothing may panic, and both reads must agree. The
//! long, coverage-guided runs are the `fuzz/` targets; this pass keeps the reader honest in
//! every `cargo test`.

use std::path::PathBuf;

/// Mutations per fixture (a few seconds in all, in a debug build).
const MUTATIONS_PER_FIXTURE: usize = 100;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/capture");
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

const EXTREMES: [u32; 8] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff_fffe,
    0x0001_0000,
    0x00ff_ffff,
];

fn mutate(rng: &mut fastrand::Rng, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.usize(1..=4) {
        if bytes.is_empty() {
            bytes.push(rng.u8(..));
            continue;
        }
        let at = rng.usize(..bytes.len());
        match rng.u8(..6) {
            0 => bytes[at] ^= 1 << rng.u8(..8),
            1 => bytes[at] = rng.u8(..),
            2 => {
                let word = EXTREMES[rng.usize(..EXTREMES.len())].to_le_bytes();
                for (i, b) in word.iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            3 => bytes.truncate(at),
            4 => {
                let end = (at + rng.usize(1..64)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.usize(..=bytes.len());
                bytes.splice(to..to, copy);
            }
            _ => {
                let end = (at + rng.usize(1..64)).min(bytes.len());
                bytes.drain(at..end);
            }
        }
    }
    bytes
}

#[test]
fn mutated_captures_never_panic_and_read_the_same_in_memory_and_streamed() {
    let mut rng = fastrand::Rng::with_seed(0x006b_616c_6162);
    let mut inputs = 0;
    for (name, seed) in fixtures() {
        for round in 0..MUTATIONS_PER_FIXTURE {
            let bytes = mutate(&mut rng, &seed);
            let in_memory = kalab::capture::analyze_bytes(&bytes, Some(80));
            let streamed =
                kalab::capture::analyze_reader(std::io::Cursor::new(bytes.clone()), Some(80));
            let packets =
                |r: &Result<kalab::capture::Analysis, kalab::capture::AnalyzeError>| match r {
                    Ok(a) => Some(a.packets_read),
                    Err(e) => e.partial().map(|p| p.packets_read),
                };
            assert_eq!(
                packets(&in_memory),
                packets(&streamed),
                "{name}, mutation {round}: in-memory and streamed reads disagree"
            );
            let _ = kalab::capture::analyze_bytes(&bytes, None);
            inputs += 1;
        }
    }
    assert!(inputs >= 5 * MUTATIONS_PER_FIXTURE, "{inputs} inputs");
}
