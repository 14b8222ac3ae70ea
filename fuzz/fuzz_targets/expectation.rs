//! Expectation expressions (`METRIC[.SOURCE][[HOST]] OP VALUE`): parse, print, parse again.
//! The printed form rounds the value for people (`9999999999999.999` prints as
//! `10000000000000.00`), so only the metric, source, host and operator must survive.
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
        assert_eq!(expectation.figure.name, again.figure.name, "{text}");
        assert_eq!(expectation.source, again.source, "{text}");
        assert_eq!(expectation.op, again.op, "{text}");
        assert_eq!(expectation.host, again.host, "{text}");
    }
});
