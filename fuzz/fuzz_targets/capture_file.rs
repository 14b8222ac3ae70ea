//! Capture files (pcap and pcapng, any link type) through the reader, decoding and flow
//! assembly: the whole offline analysis, with the port given and guessed. Never a panic, and
//! the same packets whether the file is mapped or read through a pipe.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mapped = kalab::capture::analyze_bytes(data, Some(80));
    let piped = kalab::capture::analyze_reader(std::io::Cursor::new(data.to_vec()), Some(80));
    match (&mapped, &piped) {
        (Ok(a), Ok(b)) => assert_eq!(a.packets_read, b.packets_read),
        (Err(a), Err(b)) => assert_eq!(
            a.partial().map(|p| p.packets_read),
            b.partial().map(|p| p.packets_read)
        ),
        _ => panic!("mapped and piped reads disagree"),
    }
    let _ = kalab::capture::analyze_bytes(data, None);
});
