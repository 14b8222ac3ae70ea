//! Scenario files: parsing, bounds and sweep expansion. Every input either loads (and expands
//! to a bounded number of variants) or fails with a located error; never a panic, never an
//! allocation in proportion to a value in the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(loaded) = kalab::scenario::parse_str("fuzz.toml", text) {
        if let Ok(variants) = kalab::scenario::sweep::expand(&loaded) {
            assert!(variants.len() <= kalab::scenario::bounds::MAX_VARIANTS);
        }
    }
});
