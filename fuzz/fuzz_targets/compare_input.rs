//! `kalab compare` input: arbitrary bytes as a saved result file, read through the same bounded
//! loader `compare` and `check --baseline` use, then reported in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = kalab::commands::compare::parse(data, std::path::Path::new("fuzz.json")) {
        for format in [
            kalab::report::export::Format::Table,
            kalab::report::export::Format::Json,
            kalab::report::export::Format::Csv,
            kalab::report::export::Format::Markdown,
        ] {
            let _ = format.exporter().export(&set, None);
        }
    }
});
