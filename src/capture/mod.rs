//! Packet capture: every SYN, FIN and RST of a run, per-connection lifecycles, saved captures and
//! offline analysis of any pcap or pcapng file.
//!
//! Layout follows the data: a [`PacketSource`] (live pcap in `live`, capture files in `file`)
//! pushes frames; `decode` turns each into a [`TcpSegment`] (pure); `flows` assembles segments
//! into [`ConnectionRecord`](crate::model::ConnectionRecord)s (pure); `tls` classifies each
//! connection's TLS handshake from its hellos (pure); `analyze` is the offline command.

pub mod analyze;
pub mod decode;
pub(crate) mod events;
pub mod file;
pub mod flows;
pub mod http;
pub mod live;
pub mod route;
pub mod source;
pub mod tls;

pub use analyze::{
    analyze_bytes, analyze_file, analyze_file_with, analyze_input_with, analyze_reader, Analysis,
    AnalyzeError,
};
pub use decode::{decode, LinkType, SkipReason, TcpFlags, TcpSegment};
pub use file::{CaptureInput, FileFormat, FileSource};
pub use flows::{
    summarize, CaptureSummary, FlowAssembler, LiveTally, PacketCounts, SummaryBuilder,
};
pub use flows::{summarize_with, CaptureFold, DroppedConnections, ReconcileTally};
pub use live::{
    permission_remedy, CaptureError, CaptureOutcome, CaptureSpec, KernelStats, LiveCapture,
};
pub use source::{Ingest, PacketSource, RawPacket, SkipCounts, SourceError};
