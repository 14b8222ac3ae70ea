//! How much kalab says on stderr besides the report: `-q` (the report only), the default
//! (progress, notes), or `-v` (also every connection event as it happens). Set once from the
//! command line; read by whoever writes to stderr.

use std::sync::atomic::{AtomicU8, Ordering};

/// How talkative kalab is on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: nothing but the report (and errors).
    Quiet = 0,
    /// Progress bars and notes.
    Normal = 1,
    /// `-v`: also one line per connection event (dialled, accepted, closed) as it happens.
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Sets the process's verbosity (the command line does, once).
pub fn set(verbosity: Verbosity) {
    LEVEL.store(verbosity as u8, Ordering::Relaxed);
}

/// The process's verbosity.
pub fn get() -> Verbosity {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Whether only the report may be written (`-q`).
pub fn quiet() -> bool {
    get() == Verbosity::Quiet
}

/// Writes a note to stderr (`kalab: ...`), unless `-q`.
pub fn note(text: &str) {
    if !quiet() {
        eprintln!("kalab: {text}");
    }
}

/// With `-v`, writes one connection event to stderr as it happens, stamped with the wall
/// clock; `line` is only built when it will be written.
pub fn event(line: impl FnOnce() -> String) {
    if get() == Verbosity::Verbose {
        let now = chrono::Utc::now().format("%H:%M:%S%.6f");
        eprintln!("kalab: {now} {}", line());
    }
}
