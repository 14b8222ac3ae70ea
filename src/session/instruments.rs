//! The seams through which a session touches the machine: the packet capture, the socket
//! table, the port sysctls, the listen-queue counters and the clock.
//!
//! [`Instruments::live`] is what the commands use: libpcap on the target's interface,
//! `/proc/net/tcp`, `/proc/sys/net/ipv4`, the wall clock. Tests build their own: a session that
//! reads its packets from a pcap file ([`RecordedCapture`]) and its sockets from canned
//! `/proc/net/tcp` text runs with no network and no privilege.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::capture::{
    summarize_with, CaptureError, CaptureOutcome, CaptureSpec, FileSource, Ingest, LiveCapture,
    LiveTally, PacketSource as _,
};
use crate::sockets::{
    read_listen_counters, read_port_sysctls, read_somaxconn, KernelTable, ListenCounters,
    PortSysctls, SocketTable,
};

/// A running packet capture, stopped once the session's traffic has settled.
pub trait PacketCapture: Send {
    /// Stops capturing and assembles every connection seen.
    fn stop(self: Box<Self>) -> CaptureOutcome;

    /// What it has seen so far, for a live display, when it can tell while capturing.
    fn tally(&self) -> Option<Arc<Mutex<LiveTally>>> {
        None
    }
}

impl PacketCapture for LiveCapture {
    fn stop(self: Box<Self>) -> CaptureOutcome {
        LiveCapture::stop(*self)
    }

    fn tally(&self) -> Option<Arc<Mutex<LiveTally>>> {
        Some(LiveCapture::tally(self))
    }
}

/// Starts a packet capture for a session (called on a blocking thread).
pub type CaptureFactory =
    Arc<dyn Fn(CaptureSpec) -> Result<Box<dyn PacketCapture>, CaptureError> + Send + Sync>;
/// Opens the socket table the sampler reads.
pub type SocketTableFactory = Arc<dyn Fn() -> Box<dyn SocketTable> + Send + Sync>;

/// Everything a session measures through; see the module documentation.
#[derive(Clone)]
pub struct Instruments {
    /// Starts the packet capture.
    pub capture: CaptureFactory,
    /// Opens the socket table.
    pub socket_table: SocketTableFactory,
    /// Reads the port sysctls (for the port-exhaustion forecast).
    pub port_sysctls: Arc<dyn Fn() -> PortSysctls + Send + Sync>,
    /// Microseconds since the Unix epoch: the run's start on the shared timeline.
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Reads the kernel's listen-queue counters (`/proc/net/netstat`), before and after a run.
    pub listen_counters: Arc<dyn Fn() -> Option<ListenCounters> + Send + Sync>,
    /// Reads `net.core.somaxconn`, the cap on the embedded server's listen backlog.
    pub somaxconn: Arc<dyn Fn() -> Option<u32> + Send + Sync>,
}

impl Instruments {
    /// The machine's own instruments: libpcap, the socket table (sock_diag netlink, or
    /// `/proc/net/tcp`), `/proc/sys`, `/proc/net/netstat`, the wall clock.
    pub fn live() -> Instruments {
        Instruments {
            capture: Arc::new(|spec| {
                LiveCapture::start(spec).map(|c| Box::new(c) as Box<dyn PacketCapture>)
            }),
            socket_table: Arc::new(|| Box::new(KernelTable::new())),
            port_sysctls: Arc::new(read_port_sysctls),
            clock: Arc::new(crate::model::now_us),
            listen_counters: Arc::new(read_listen_counters),
            somaxconn: Arc::new(read_somaxconn),
        }
    }
}

impl Default for Instruments {
    fn default() -> Self {
        Instruments::live()
    }
}

/// A capture read from a pcap or pcapng file instead of an interface: at [`PacketCapture::stop`]
/// the file's packets to the session's server port are assembled exactly as live ones are.
#[derive(Debug, Clone)]
pub struct RecordedCapture {
    path: PathBuf,
    spec: CaptureSpec,
}

impl RecordedCapture {
    /// A capture factory that replays `path` for every session.
    pub fn factory(path: impl Into<PathBuf>) -> CaptureFactory {
        let path = path.into();
        Arc::new(move |spec| {
            Ok(Box::new(RecordedCapture {
                path: path.clone(),
                spec,
            }) as Box<dyn PacketCapture>)
        })
    }
}

impl PacketCapture for RecordedCapture {
    fn stop(self: Box<Self>) -> CaptureOutcome {
        let mut outcome = CaptureOutcome {
            interface: format!("file {}", self.path.display()),
            filter: self.spec.filter(),
            link_type: None,
            connections: Vec::new(),
            summary: Default::default(),
            kernel: Default::default(),
            packets_captured: 0,
            packets_skipped: 0,
            skipped: Default::default(),
            saved_file: None,
            warnings: Vec::new(),
            dropped: Default::default(),
        };
        let mut ingest = Ingest::new(self.spec.server.port());
        if let Some(cap) = self.spec.detail_cap {
            ingest.assembler.set_detail_cap(cap);
        }
        let read = FileSource::open(&self.path).and_then(|mut source| {
            source.for_each_packet(&mut |packet| {
                outcome.link_type = outcome.link_type.or(packet.link);
                ingest.packet(packet);
                std::ops::ControlFlow::Continue(())
            })
        });
        if let Err(err) = read {
            outcome.warnings.push(format!(
                "cannot read the capture file {}: {err}",
                self.path.display()
            ));
        }
        let counts = ingest.assembler.counts();
        outcome.packets_captured = ingest.packets_captured;
        outcome.skipped = ingest.skipped;
        outcome.packets_skipped = ingest.skipped.total();
        (outcome.connections, outcome.dropped) = ingest.assembler.finish_capped();
        outcome.summary = summarize_with(&outcome.connections, &outcome.dropped, &counts);
        outcome
    }
}
