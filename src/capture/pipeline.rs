//! Two-stage ingest for capture files: a reader thread reads and decodes frames into batches of
//! owned segments while the calling thread assembles flows and counts HTTP messages.
//!
//! Reading (the kernel's copy out of the page cache) and decoding are about a third of the work
//! of `kalab analyze`; on a machine with a second core they overlap with flow assembly. The result
//! is identical to [`Ingest`](super::source::Ingest) feeding one [`FlowAssembler`] frame by frame:
//! segments arrive in capture order and finished connections are handed out in the same order.
//! Memory stays bounded: at most [`BATCHES`] batches of [`BATCH_FRAMES`] frames or
//! [`BATCH_PAYLOAD_BYTES`] of captured payload are in flight, and their buffers are recycled.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use super::decode::{decode, LinkType, TcpFlags, TcpSegment};
use super::flows::FlowAssembler;
use super::source::{PacketSource, RawPacket, SkipCounts, SourceError};

/// Frames per batch.
pub const BATCH_FRAMES: usize = 4096;
/// A batch is sent early once its captured payload reaches this size (large snaplens).
pub const BATCH_PAYLOAD_BYTES: usize = 1 << 20;
/// Batches in flight (queued or being filled) besides the one being assembled.
pub const BATCHES: usize = 2;

/// A decoded segment whose payload lives in its batch's arena.
#[derive(Clone, Copy)]
struct OwnedSegment {
    ts_us: u64,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload_len: u32,
    payload_start: usize,
    payload_end: usize,
}

#[derive(Default)]
struct Batch {
    segments: Vec<OwnedSegment>,
    payload: Vec<u8>,
}

/// What the reader saw: frame counts, skips, times and link types, and how reading ended.
pub struct ReadTotals {
    /// Frames delivered by the source.
    pub packets: u64,
    /// Frames that produced no TCP segment, by reason.
    pub skipped: SkipCounts,
    /// Time of the first frame.
    pub first_packet_at_us: Option<u64>,
    /// Time of the last frame.
    pub last_packet_at_us: Option<u64>,
    /// Link types in order of first appearance.
    pub link_types: Vec<LinkType>,
    /// How the source ended.
    pub result: Result<(), SourceError>,
}

/// Reads `source` on a second thread and feeds every decoded segment to `assembler` on this one,
/// calling `after_batch` after each batch (to hand out finished connections).
pub fn ingest<S: PacketSource + Send>(
    source: &mut S,
    assembler: &mut FlowAssembler,
    after_batch: &mut dyn FnMut(&mut FlowAssembler),
) -> ReadTotals {
    let (full_tx, full_rx) = sync_channel::<Batch>(BATCHES);
    let (empty_tx, empty_rx) = channel::<Batch>();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("kalab-read".into())
            .spawn_scoped(scope, move || read(source, full_tx, empty_rx));
        let reader = match reader {
            Ok(handle) => handle,
            Err(e) => {
                return ReadTotals {
                    packets: 0,
                    skipped: SkipCounts::default(),
                    first_packet_at_us: None,
                    last_packet_at_us: None,
                    link_types: Vec::new(),
                    result: Err(SourceError::Read(format!("cannot start a thread: {e}"))),
                }
            }
        };
        assemble(assembler, &full_rx, &empty_tx, after_batch);
        drop(full_rx);
        match reader.join() {
            Ok(totals) => totals,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

fn assemble(
    assembler: &mut FlowAssembler,
    full: &Receiver<Batch>,
    empty: &Sender<Batch>,
    after_batch: &mut dyn FnMut(&mut FlowAssembler),
) {
    while let Ok(mut batch) = full.recv() {
        for s in &batch.segments {
            assembler.push(&TcpSegment {
                ts_us: s.ts_us,
                src: s.src,
                dst: s.dst,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                payload_len: s.payload_len,
                payload: batch
                    .payload
                    .get(s.payload_start..s.payload_end)
                    .unwrap_or(&[]),
            });
        }
        after_batch(assembler);
        batch.segments.clear();
        batch.payload.clear();
        // The reader may have finished; then the buffer is simply dropped.
        let _ = empty.send(batch);
    }
}

fn read<S: PacketSource>(
    source: &mut S,
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
) -> ReadTotals {
    let mut totals = ReadTotals {
        packets: 0,
        skipped: SkipCounts::default(),
        first_packet_at_us: None,
        last_packet_at_us: None,
        link_types: Vec::new(),
        result: Ok(()),
    };
    let mut last_link = None;
    let mut batch = Batch::default();
    let mut frames = 0usize;
    let mut consumer_gone = false;
    let send = |batch: &mut Batch| -> bool {
        let next = empty.try_recv().unwrap_or_default();
        full.send(std::mem::replace(batch, next)).is_ok()
    };
    totals.result = source.for_each_packet(&mut |p: &RawPacket<'_>| {
        totals.packets += 1;
        totals.first_packet_at_us.get_or_insert(p.ts_us);
        totals.last_packet_at_us = Some(p.ts_us);
        if p.link != last_link {
            last_link = p.link;
            if let Some(link) = p.link.filter(|l| !totals.link_types.contains(l)) {
                totals.link_types.push(link);
            }
        }
        match p.link {
            None => totals.skipped.unsupported_link += 1,
            Some(link) => match decode(link, p.data, p.wire_len, p.ts_us) {
                Ok(seg) => {
                    let payload_start = batch.payload.len();
                    batch.payload.extend_from_slice(seg.payload);
                    batch.segments.push(OwnedSegment {
                        ts_us: seg.ts_us,
                        src: seg.src,
                        dst: seg.dst,
                        seq: seg.seq,
                        ack: seg.ack,
                        flags: seg.flags,
                        payload_len: seg.payload_len,
                        payload_start,
                        payload_end: batch.payload.len(),
                    });
                }
                Err(reason) => totals.skipped.add(reason),
            },
        }
        frames += 1;
        if frames >= BATCH_FRAMES || batch.payload.len() >= BATCH_PAYLOAD_BYTES {
            frames = 0;
            if !send(&mut batch) {
                consumer_gone = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    if !consumer_gone && !batch.segments.is_empty() {
        send(&mut batch);
    }
    totals
}
