//! Live capture on a named thread: libpcap in buffered (non-immediate) mode with a small snaplen
//! and a large buffer, a BPF filter on the server, an optional pcap savefile, and a clean stop.
//!
//! Buffered mode lets the kernel hand packets over a block at a time (TPACKET_V3): one wake-up
//! per block or per [`READ_TIMEOUT_MS`], not one per packet, which is what keeps the capture's
//! cost off the experiment it watches. The price is at the stop: a block the kernel is still
//! filling is handed over only when its timer retires it, so the stop keeps reading until one
//! whole read timeout has passed empty after the block timer ran out, then drains what is left
//! without blocking. Should the read timeout never fire (it did not on some kernels in immediate
//! mode), the stop falls back to `pcap_breakloop` from the caller's thread. The capture thread
//! decodes and assembles as it reads, so memory grows with connections, not packets.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcap::{Active, Capture, Savefile};
use serde::{Deserialize, Serialize};

use super::decode::LinkType;
use super::flows::{summarize_with, CaptureSummary, LiveTally};
use super::route;
use super::source::{Ingest, PacketSource, RawPacket, SkipCounts, SourceError};
use crate::model::ConnectionRecord;

/// Bytes kept of each packet: all headers plus the start of an HTTP message head.
pub const SNAPLEN_BYTES: i32 = 512;
/// Bytes kept of each packet when the capture is saved (`--save-capture`): whole packets, so
/// the file opens in Wireshark with every payload (and, with a TLS key log, decrypted).
pub const SAVED_SNAPLEN_BYTES: i32 = 65535;
/// Kernel capture buffer; with [`SNAPLEN_BYTES`] it holds tens of thousands of packets.
pub const BUFFER_BYTES: i32 = 16 << 20;
/// Read timeout, and the kernel's block timer in buffered mode: packets reach the capture
/// thread at most this long after they were captured.
pub const READ_TIMEOUT_MS: i32 = 50;
/// How long after the stop is asked for the capture thread is left to finish on its own (the
/// block timer, then one empty read timeout) before `pcap_breakloop` is used.
const STOP_GRACE_MS: u64 = 5 * READ_TIMEOUT_MS as u64;
/// How long [`LiveCapture::stop`] waits for the capture thread before giving up on it.
pub const STOP_TIMEOUT_MS: u64 = 5_000;
/// The remedy printed wherever capturing is not permitted: the `setcap` command for the
/// running binary's real path (`$(command -v kalab)` when it cannot be known).
pub fn permission_remedy() -> String {
    let binary = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map(|path| shell_word(&path.display().to_string()))
        .unwrap_or_else(|_| "\"$(command -v kalab)\"".to_string());
    format!("sudo setcap cap_net_raw,cap_net_admin=eip {binary}")
}

/// A path as one POSIX shell word: as is when plain, else in single quotes (a binary under
/// `/home/my user/` must still be one argument of the printed command).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+@%:,".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// What to capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    /// The server's address; the filter is `tcp and host IP and port PORT` (no host term for an
    /// unspecified address such as 0.0.0.0).
    pub server: SocketAddr,
    /// The interface; None picks the one that carries `server.ip()` (`lo` for loopback and the
    /// machine's own addresses, else the routing table).
    pub interface: Option<String>,
    /// Also write every captured packet to this pcap file (whole packets: see
    /// [`SAVED_SNAPLEN_BYTES`]).
    pub save_to: Option<PathBuf>,
    /// Keep at most this many connection records as detail; fold the rest into exact
    /// aggregates (`None`: keep all).
    pub detail_cap: Option<usize>,
}

impl CaptureSpec {
    /// A spec for `server` on the automatic interface, without a saved file.
    pub fn new(server: SocketAddr) -> Self {
        CaptureSpec {
            server,
            interface: None,
            save_to: None,
            detail_cap: None,
        }
    }

    /// The BPF filter this spec captures with.
    pub fn filter(&self) -> String {
        let ip = self.server.ip();
        if ip.is_unspecified() {
            format!("tcp and port {}", self.server.port())
        } else {
            format!("tcp and host {} and port {}", ip, self.server.port())
        }
    }
}

/// Why a capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The process may not capture packets (no CAP_NET_RAW).
    #[error(
        "no permission to capture packets on {interface} ({message}); grant it with: {}",
        permission_remedy()
    )]
    Permission {
        /// The interface.
        interface: String,
        /// libpcap's message.
        message: String,
    },
    /// The interface does not exist or cannot be opened, or none carries the server address.
    #[error("cannot capture on interface {interface}: {message}")]
    Interface {
        /// The interface (or the address no interface was found for).
        interface: String,
        /// What went wrong.
        message: String,
    },
    /// The interface the user named does not exist: bad input, not a machine problem.
    #[error("there is no interface {interface} (interfaces here: {known}); fix --interface")]
    NoSuchInterface {
        /// The name given.
        interface: String,
        /// The interfaces libpcap knows, comma-separated.
        known: String,
    },
    /// The BPF filter was rejected.
    #[error("capture filter `{filter}` rejected: {message}")]
    Filter {
        /// The filter.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// The capture file could not be created.
    #[error("cannot write capture file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Anything else (thread spawn failure, ...).
    #[error("capture failed: {0}")]
    Other(String),
}

impl CaptureError {
    /// True when the failure is a missing capture permission (exit code 3 under `required`).
    pub fn is_permission(&self) -> bool {
        matches!(self, CaptureError::Permission { .. })
    }

    /// True when the user named an interface that does not exist (bad input: exit code 2).
    pub fn is_bad_interface(&self) -> bool {
        matches!(self, CaptureError::NoSuchInterface { .. })
    }
}

/// Fails when libpcap knows no interface called `name` (when it cannot list them, the open
/// that follows tells).
fn check_interface_exists(name: &str) -> Result<(), CaptureError> {
    let Ok(devices) = pcap::Device::list() else {
        return Ok(());
    };
    if devices.iter().any(|d| d.name == name) {
        return Ok(());
    }
    Err(CaptureError::NoSuchInterface {
        interface: name.to_string(),
        known: devices
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn is_permission_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("permission") || m.contains("operation not permitted")
}

/// Kernel capture statistics. On `lo` every packet passes the capture point twice, so
/// `received` is about twice the packets delivered.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct KernelStats {
    /// Packets the kernel saw passing the filter point.
    pub received: u64,
    /// Packets dropped because the capture buffer was full.
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// Everything a live capture produced.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureOutcome {
    /// The interface captured on.
    pub interface: String,
    /// The BPF filter.
    pub filter: String,
    /// The link type libpcap reported.
    pub link_type: Option<LinkType>,
    /// One record per connection: finished ones in finishing order, then open ones by start.
    pub connections: Vec<ConnectionRecord>,
    /// Counts over `connections` plus packet-level FIN/RST counts.
    pub summary: CaptureSummary,
    /// Kernel statistics at the stop.
    pub kernel: KernelStats,
    /// Packets delivered to kalab.
    pub packets_captured: u64,
    /// Packets that were truncated, malformed or not TCP.
    pub packets_skipped: u64,
    /// `packets_skipped` by reason.
    pub skipped: SkipCounts,
    /// The saved pcap file, when one was requested and written.
    pub saved_file: Option<PathBuf>,
    /// Problems worth a line in the report (kernel drops, read errors, a stuck thread).
    pub warnings: Vec<String>,
    /// The connections beyond the detail cap, not in `connections` but folded into exact
    /// aggregates (`summary` counts them too).
    #[serde(skip)]
    pub dropped: super::flows::DroppedConnections,
}

/// What the capture thread hands back.
struct ThreadResult {
    ingest: Ingest,
    kernel: Option<KernelStats>,
    warnings: Vec<String>,
}

/// A running capture. Dropping it without [`stop`](LiveCapture::stop) stops the thread too.
pub struct LiveCapture {
    interface: String,
    filter: String,
    link_type: Option<LinkType>,
    saved_file: Option<PathBuf>,
    breaker: pcap::BreakLoop,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<ThreadResult>>,
    tally: Arc<Mutex<LiveTally>>,
}

/// How often the capture thread refreshes its [`LiveTally`] (only as packets arrive).
const TALLY_INTERVAL: Duration = Duration::from_millis(250);

struct LiveSource {
    capture: Option<Capture<Active>>,
    savefile: Option<Savefile>,
    link: Option<LinkType>,
    stopping: Arc<AtomicBool>,
}

impl LiveSource {
    fn deliver(
        packet: &pcap::Packet<'_>,
        link: Option<LinkType>,
        savefile: &mut Option<Savefile>,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if let Some(file) = savefile {
            file.write(packet);
        }
        let ts = packet.header.ts;
        let ts_us = (ts.tv_sec.max(0) as u64)
            .saturating_mul(1_000_000)
            .saturating_add(ts.tv_usec.max(0) as u64);
        on_packet(&RawPacket {
            link,
            ts_us,
            wire_len: packet.header.len,
            data: packet.data,
        })
    }
}

impl PacketSource for LiveSource {
    fn for_each_packet(
        &mut self,
        on_packet: &mut dyn FnMut(&RawPacket<'_>) -> ControlFlow<()>,
    ) -> Result<(), SourceError> {
        let Some(mut capture) = self.capture.take() else {
            return Ok(());
        };
        // When the stop was first seen: from then on, a read timeout that began after the block
        // timer ran out (one timeout later) proves every block holding earlier packets was read.
        let mut stop_seen: Option<Instant> = None;
        let drained_after = Duration::from_millis(2 * READ_TIMEOUT_MS as u64);
        loop {
            if stop_seen.is_none() && self.stopping.load(Ordering::Acquire) {
                stop_seen = Some(Instant::now());
            }
            match capture.next_packet() {
                Ok(packet) => {
                    if Self::deliver(&packet, self.link, &mut self.savefile, on_packet).is_break() {
                        break;
                    }
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if stop_seen.is_some_and(|at| at.elapsed() >= drained_after) {
                        break;
                    }
                }
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    self.capture = Some(capture);
                    return Err(SourceError::Read(e.to_string()));
                }
            }
        }
        // Drain what the kernel already holds, without blocking.
        let mut capture = capture
            .setnonblock()
            .map_err(|e| SourceError::Read(e.to_string()))?;
        while let Ok(packet) = capture.next_packet() {
            if Self::deliver(&packet, self.link, &mut self.savefile, on_packet).is_break() {
                break;
            }
        }
        self.capture = Some(capture);
        Ok(())
    }
}

fn open_capture(
    interface: &str,
    filter: &str,
    snaplen: i32,
) -> Result<Capture<Active>, CaptureError> {
    let classify = |e: pcap::Error| {
        let message = e.to_string();
        if is_permission_message(&message) {
            CaptureError::Permission {
                interface: interface.to_string(),
                message,
            }
        } else {
            CaptureError::Interface {
                interface: interface.to_string(),
                message,
            }
        }
    };
    let mut capture = Capture::from_device(interface)
        .map_err(classify)?
        .immediate_mode(false)
        .snaplen(snaplen)
        .buffer_size(BUFFER_BYTES)
        .timeout(READ_TIMEOUT_MS)
        .promisc(false)
        .open()
        .map_err(classify)?;
    capture
        .filter(filter, true)
        .map_err(|e| CaptureError::Filter {
            filter: filter.to_string(),
            message: e.to_string(),
        })?;
    Ok(capture)
}

fn open_savefile(capture: &Capture<Active>, path: &Path) -> Result<Savefile, CaptureError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CaptureError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    capture.savefile(path).map_err(|e| CaptureError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

impl LiveCapture {
    /// Opens the device (buffered mode, [`SNAPLEN_BYTES`], [`BUFFER_BYTES`],
    /// [`READ_TIMEOUT_MS`]), sets the filter, opens the savefile, starts the thread named
    /// `kalab-capture`, and returns once the device is capturing.
    pub fn start(spec: CaptureSpec) -> Result<LiveCapture, CaptureError> {
        let interface = match &spec.interface {
            Some(name) => {
                check_interface_exists(name)?;
                name.clone()
            }
            None => {
                route::interface_for(spec.server.ip()).ok_or_else(|| CaptureError::Interface {
                    interface: spec.server.ip().to_string(),
                    message: "no interface routes to this address; pass --interface".into(),
                })?
            }
        };
        let filter = spec.filter();
        let snaplen = match spec.save_to {
            Some(_) => SAVED_SNAPLEN_BYTES,
            None => SNAPLEN_BYTES,
        };
        let mut capture = open_capture(&interface, &filter, snaplen)?;
        let link_type = LinkType::from_dlt(capture.get_datalink().0);
        let savefile = spec
            .save_to
            .as_deref()
            .map(|path| open_savefile(&capture, path))
            .transpose()?;
        let breaker = capture.breakloop_handle();
        let stopping = Arc::new(AtomicBool::new(false));
        let mut source = LiveSource {
            capture: Some(capture),
            savefile,
            link: link_type,
            stopping: Arc::clone(&stopping),
        };
        let server_port = spec.server.port();
        let detail_cap = spec.detail_cap;
        let tally = Arc::new(Mutex::new(LiveTally::default()));
        let published = Arc::clone(&tally);
        let thread = std::thread::Builder::new()
            .name("kalab-capture".into())
            .spawn(move || {
                let mut ingest = Ingest::new(server_port);
                if let Some(cap) = detail_cap {
                    ingest.assembler.set_detail_cap(cap);
                }
                let mut warnings = Vec::new();
                let mut last_tally = Instant::now();
                if let Err(e) = source.for_each_packet(&mut |p| {
                    ingest.packet(p);
                    super::events::emit(p, server_port);
                    if last_tally.elapsed() >= TALLY_INTERVAL {
                        last_tally = Instant::now();
                        if let Ok(mut shown) = published.lock() {
                            *shown = ingest.assembler.tally();
                        }
                    }
                    ControlFlow::Continue(())
                }) {
                    warnings.push(format!("capture stopped early: {e}"));
                }
                if let Some(file) = source.savefile.as_mut() {
                    if let Err(e) = file.flush() {
                        warnings.push(format!("saving the capture failed: {e}"));
                    }
                }
                let kernel = source
                    .capture
                    .as_mut()
                    .and_then(|c| c.stats().ok())
                    .map(|s| KernelStats {
                        received: u64::from(s.received),
                        dropped: u64::from(s.dropped),
                        if_dropped: u64::from(s.if_dropped),
                    });
                ThreadResult {
                    ingest,
                    kernel,
                    warnings,
                }
            })
            .map_err(|e| CaptureError::Other(format!("cannot start the capture thread: {e}")))?;
        Ok(LiveCapture {
            interface,
            filter,
            link_type,
            saved_file: spec.save_to,
            breaker,
            stopping,
            thread: Some(thread),
            tally,
        })
    }

    /// What the capture has seen so far, refreshed every [`TALLY_INTERVAL`] while packets
    /// arrive (for a live display; the outcome of [`LiveCapture::stop`] is the exact count).
    pub fn tally(&self) -> Arc<Mutex<LiveTally>> {
        Arc::clone(&self.tally)
    }

    /// The interface being captured on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The BPF filter in use.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Stops the capture (breakloop, then drains what the kernel holds), joins the thread and
    /// assembles the connections.
    pub fn stop(mut self) -> CaptureOutcome {
        let mut outcome = CaptureOutcome {
            interface: self.interface.clone(),
            filter: self.filter.clone(),
            link_type: self.link_type,
            connections: Vec::new(),
            summary: CaptureSummary::default(),
            kernel: KernelStats::default(),
            packets_captured: 0,
            packets_skipped: 0,
            skipped: SkipCounts::default(),
            saved_file: None,
            warnings: Vec::new(),
            dropped: Default::default(),
        };
        let Some(thread) = self.halt() else {
            outcome.warnings.push(format!(
                "the capture thread did not stop within {STOP_TIMEOUT_MS} ms; capture results are missing"
            ));
            return outcome;
        };
        let result = match thread.join() {
            Ok(result) => result,
            Err(_) => {
                outcome
                    .warnings
                    .push("the capture thread panicked; capture results are missing".into());
                return outcome;
            }
        };
        let counts = result.ingest.assembler.counts();
        outcome.packets_captured = result.ingest.packets_captured;
        outcome.skipped = result.ingest.skipped;
        outcome.packets_skipped = result.ingest.skipped.total();
        (outcome.connections, outcome.dropped) = result.ingest.assembler.finish_capped();
        outcome.summary = summarize_with(&outcome.connections, &outcome.dropped, &counts);
        outcome.warnings = result.warnings;
        match result.kernel {
            Some(kernel) => {
                outcome.kernel = kernel;
                if kernel.dropped > 0 || kernel.if_dropped > 0 {
                    outcome.warnings.push(format!(
                        "the kernel dropped {} packets ({} by the interface): capture counts may be low",
                        kernel.dropped, kernel.if_dropped
                    ));
                }
            }
            None => outcome
                .warnings
                .push("kernel capture statistics unavailable".into()),
        }
        outcome.saved_file = self.saved_file.take();
        outcome
    }

    /// Asks the capture loop to stop and waits for the thread to end (breaking the loop after
    /// [`STOP_GRACE_MS`]); None if it did not within [`STOP_TIMEOUT_MS`].
    fn halt(&mut self) -> Option<JoinHandle<ThreadResult>> {
        let thread = self.thread.take()?;
        self.stopping.store(true, Ordering::Release);
        let asked = Instant::now();
        let grace = asked + Duration::from_millis(STOP_GRACE_MS);
        let deadline = asked + Duration::from_millis(STOP_TIMEOUT_MS);
        while !thread.is_finished() {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if now >= grace {
                self.breaker.breakloop();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(thread)
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        if let Some(thread) = self.halt() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_name_host_and_port() {
        let spec = CaptureSpec::new("127.0.0.1:8080".parse().unwrap());
        assert_eq!(spec.filter(), "tcp and host 127.0.0.1 and port 8080");
        let spec = CaptureSpec::new("[::1]:9".parse().unwrap());
        assert_eq!(spec.filter(), "tcp and host ::1 and port 9");
        let spec = CaptureSpec::new("0.0.0.0:80".parse().unwrap());
        assert_eq!(spec.filter(), "tcp and port 80");
    }

    #[test]
    fn permission_errors_carry_the_remedy() {
        assert!(is_permission_message(
            "lo: You don't have permission to capture on that device (socket: Operation not permitted)"
        ));
        assert!(!is_permission_message("eth9: No such device exists"));
        let e = CaptureError::Permission {
            interface: "lo".into(),
            message: "denied".into(),
        };
        assert!(e.is_permission());
        assert!(e
            .to_string()
            .contains("setcap cap_net_raw,cap_net_admin=eip"));
    }

    #[test]
    fn the_remedy_names_this_binary_as_one_shell_word() {
        let remedy = permission_remedy();
        let binary = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .unwrap();
        assert!(
            remedy.ends_with(&shell_word(&binary.display().to_string())),
            "{remedy}"
        );
        assert!(!remedy.contains("command -v"), "{remedy}");
        assert_eq!(shell_word("/usr/local/bin/kalab"), "/usr/local/bin/kalab");
        assert_eq!(shell_word("/home/my user/kalab"), "'/home/my user/kalab'");
        assert_eq!(shell_word("/tmp/it's/kalab"), r"'/tmp/it'\''s/kalab'");
    }
}
