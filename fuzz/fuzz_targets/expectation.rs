//! Expectation expressions (`METRIC[.SOURCE][[HOST]] OP VALUE`): parse, print, parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expectation) = kalab::check::expect::parse(text) {
        let printed = expectation.to_string();
        let again = kalab::check::expect::parse(&printed)
            .unwrap_or_else(|e| panic!("`{printed}` (from `{text}`) does not parse again: {e}"));
        assert_eq!(printed, again.to_string());
    }
});
