//! One pass over a capture file, on one thread or split across several: the reading floor of
//! `analyze`.
//!
//! With several threads each reads the whole file (its own mapping: reading and decoding are
//! the cheap part) and assembles only its share of the connections ([`FlowAssembler::sharded`]:
//! a connection always falls in one shard, and every shard sweeps at the same instants). Every
//! [`BATCH_PACKETS`] packets each shard hands over what finished; the calling thread merges the
//! shards' batches of the same packets and passes them on, so output is written while the
//! shards read and memory stays bounded by the batches in flight. The order is the same on any
//! number of threads: batch by batch (a batch holds the same connections whoever assembled
//! them, since every shard sweeps at the same instants), by start time and tuple within one.
//! Packet counts come from shard 0, which sees every frame exactly as one thread would.

use std::ops::ControlFlow;
use std::sync::mpsc;

use super::decode::LinkType;
use super::file::{CaptureInput, FileSource};
use super::flows::{FlowAssembler, PacketCounts};
use super::source::{Ingest, PacketSource, SourceError};
use crate::model::ConnectionRecord;

/// Packets between two hand-overs of finished connections.
pub(crate) const BATCH_PACKETS: u64 = 4096;
/// Most threads an analysis uses: each one decodes every packet, so more stop paying.
pub(crate) const MAX_THREADS: usize = 4;
/// Files smaller than this are read on one thread (starting threads would cost more).
pub(crate) const SHARD_MIN_BYTES: u64 = 16 << 20;
/// Batches a shard may hand over ahead of the merge before it waits.
const BATCHES_IN_FLIGHT: usize = 8;

/// What one pass counted besides the connections it handed over.
pub(crate) struct Pass {
    /// Frames read, skipped (by reason), first and last times: as one thread counts them.
    pub ingest: Ingest,
    /// Packet counts of all shards together.
    pub counts: PacketCounts,
    /// Link types in order of first appearance.
    pub link_types: Vec<LinkType>,
    /// How the reading ended (damage after some packets is an error with results kept).
    pub result: Result<(), SourceError>,
}

/// The threads a pass over `input` uses when the user did not say: one for small inputs and
/// streams, else one per core up to [`MAX_THREADS`].
pub(crate) fn auto_threads(input: &CaptureInput) -> usize {
    let bytes = match input {
        CaptureInput::Path(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        CaptureInput::Spooled(file) => file.metadata().map_or(0, |m| m.len()),
        CaptureInput::Bytes(bytes) => bytes.len() as u64,
        CaptureInput::Once(_) => 0,
    };
    if bytes < SHARD_MIN_BYTES {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

/// Reads the whole capture once, handing every connection to `emit` (finished ones as they
/// finish, the rest at the end), on `threads` threads (1 when the input can be read only once
/// or a second reader cannot be opened). `first` is a source already opened on `input`.
pub(crate) fn read(
    input: &CaptureInput,
    first: FileSource,
    port: u16,
    threads: usize,
    emit: &mut dyn FnMut(ConnectionRecord),
) -> Pass {
    let threads = threads.clamp(1, MAX_THREADS);
    if threads == 1 || !input.rereadable() {
        return read_one(first, port, emit);
    }
    let mut sources = vec![first];
    for _ in 1..threads {
        match input.source() {
            Ok(source) => sources.push(source),
            Err(_) => return read_one(sources.swap_remove(0), port, emit),
        }
    }
    read_sharded(sources, port, emit)
}

/// Walks a source into `ingest`, recording link types and handing over finished connections
/// every [`BATCH_PACKETS`] frames (an empty batch too: shards stay in step).
fn walk(
    source: &mut FileSource,
    ingest: &mut Ingest,
    link_types: &mut Vec<LinkType>,
    on_batch: &mut dyn FnMut(Vec<ConnectionRecord>),
) -> Result<(), SourceError> {
    let mut last_link = None;
    source.for_each_packet(&mut |p| {
        if p.link != last_link {
            last_link = p.link;
            if let Some(link) = p.link.filter(|l| !link_types.contains(l)) {
                link_types.push(link);
            }
        }
        ingest.packet(p);
        if ingest.packets_captured % BATCH_PACKETS == 0 {
            on_batch(ingest.assembler.take_finished());
        }
        ControlFlow::Continue(())
    })
}

fn read_one(mut source: FileSource, port: u16, emit: &mut dyn FnMut(ConnectionRecord)) -> Pass {
    let mut ingest = Ingest::new(port);
    let mut link_types = Vec::new();
    let result = walk(&mut source, &mut ingest, &mut link_types, &mut |mut batch| {
        by_start(&mut batch);
        batch.into_iter().for_each(&mut *emit);
    });
    let counts = ingest.assembler.counts();
    let (mut done, rest) = ingest.assembler.finish_parts();
    by_start(&mut done);
    done.into_iter().chain(rest).for_each(emit);
    Pass {
        ingest,
        counts,
        link_types,
        result,
    }
}

/// What a shard's thread gives back when its reading ends.
struct ShardEnd {
    ingest: Ingest,
    link_types: Vec<LinkType>,
    result: Result<(), SourceError>,
    done: Vec<ConnectionRecord>,
    rest: Vec<ConnectionRecord>,
}

fn by_start(records: &mut [ConnectionRecord]) {
    records.sort_by_key(|r| (r.started_at_us(), r.tuple));
}

fn read_sharded(
    sources: Vec<FileSource>,
    port: u16,
    emit: &mut dyn FnMut(ConnectionRecord),
) -> Pass {
    let count = sources.len();
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(count);
        let mut shards = Vec::with_capacity(count);
        for (index, mut source) in sources.into_iter().enumerate() {
            let (batches, received) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
            receivers.push(received);
            let shard = std::thread::Builder::new()
                .name(format!("kalab-analyze-{index}"))
                .spawn_scoped(scope, move || {
                    let mut ingest = Ingest {
                        assembler: FlowAssembler::sharded(port, index, count),
                        ..Ingest::new(port)
                    };
                    let mut link_types = Vec::new();
                    let result = walk(&mut source, &mut ingest, &mut link_types, &mut |batch| {
                        // The merge stopped only if the calling thread is unwinding.
                        let _ = batches.send(batch);
                    });
                    drop(batches);
                    let (done, rest) = ingest.assembler.finish_parts();
                    ShardEnd {
                        ingest,
                        link_types,
                        result,
                        done,
                        rest,
                    }
                });
            shards.push(shard);
        }
        // Batch k of every shard covers the same packets: merged, they are what one thread
        // would have handed over then.
        loop {
            let mut merged = Vec::new();
            let mut open = 0;
            for received in &receivers {
                if let Ok(batch) = received.recv() {
                    merged.extend(batch);
                    open += 1;
                }
            }
            if open == 0 {
                break;
            }
            by_start(&mut merged);
            merged.into_iter().for_each(&mut *emit);
        }
        let mut ends: Vec<ShardEnd> = Vec::with_capacity(count);
        let mut failed = None;
        for shard in shards {
            match shard.map(|handle| handle.join()) {
                Ok(Ok(end)) => ends.push(end),
                Ok(Err(_)) => failed = Some("an analysis thread panicked".to_string()),
                Err(e) => failed = Some(format!("cannot start an analysis thread: {e}")),
            }
        }
        let mut counts = PacketCounts::default();
        let (mut done, mut rest) = (Vec::new(), Vec::new());
        for end in &mut ends {
            counts += end.ingest.assembler.counts();
            done.append(&mut end.done);
            rest.append(&mut end.rest);
        }
        by_start(&mut done);
        by_start(&mut rest);
        done.into_iter().chain(rest).for_each(&mut *emit);
        let mut first = ends.into_iter().next();
        let result = match (&failed, &mut first) {
            (Some(message), _) => Err(SourceError::Read(message.clone())),
            (None, Some(end)) => std::mem::replace(&mut end.result, Ok(())),
            (None, None) => Err(SourceError::Read("no analysis thread ran".into())),
        };
        let (ingest, link_types) = match first {
            Some(end) => (end.ingest, end.link_types),
            None => (Ingest::new(port), Vec::new()),
        };
        Pass {
            ingest,
            counts,
            link_types,
            result,
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use etherparse::PacketBuilder;

    use crate::capture::analyze::{analyze_input_with, Analysis};
    use crate::capture::file::CaptureInput;
    use crate::model::ConnectionRecord;

    const SERVER_PORT: u16 = 8080;

    /// One raw-IP packet record of a classic pcap file.
    fn record(out: &mut Vec<u8>, ts_us: u64, packet: &[u8]) {
        let words = [
            (ts_us / 1_000_000) as u32,
            (ts_us % 1_000_000) as u32,
            packet.len() as u32,
            packet.len() as u32,
        ];
        for word in words {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(packet);
    }

    /// `count` short HTTP connections, several open at once, client ports reused after a
    /// while, now and then a FIN retransmitted seconds later and a packet to another port.
    fn churn_capture(count: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        let client = [127, 0, 0, 1];
        let server = [127, 0, 0, 2];
        let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
        let packet =
            |from_client: bool, port: u16, seq: u32, ack: u32, flags: &str, payload: &[u8]| {
                let (src, dst, sport, dport) = if from_client {
                    (client, server, port, SERVER_PORT)
                } else {
                    (server, client, SERVER_PORT, port)
                };
                let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, seq, 65535);
                if flags.contains('S') {
                    b = b.syn();
                }
                if flags.contains('A') {
                    b = b.ack(ack);
                }
                if flags.contains('F') {
                    b = b.fin();
                }
                if flags.contains('P') {
                    b = b.psh();
                }
                let mut bytes = Vec::new();
                b.write(&mut bytes, payload).unwrap();
                bytes
            };
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for i in 0..count {
            let port = 20_000 + (i % 1_500) as u16;
            let t = 1_000_000 + u64::from(i) * 1_000;
            let (c, s) = (1000 + i * 7, 5000 + i * 11);
            let (q, r) = (request.len() as u32, response.len() as u32);
            packets.push((t, packet(true, port, c, 0, "S", &[])));
            packets.push((t + 100, packet(false, port, s, c + 1, "SA", &[])));
            packets.push((t + 200, packet(true, port, c + 1, s + 1, "A", &[])));
            packets.push((t + 300, packet(true, port, c + 1, s + 1, "AP", request)));
            packets.push((
                t + 900,
                packet(false, port, s + 1, c + 1 + q, "AP", response),
            ));
            packets.push((
                t + 1_100,
                packet(false, port, s + 1 + r, c + 1 + q, "AF", &[]),
            ));
            packets.push((
                t + 1_300,
                packet(true, port, c + 1 + q, s + 2 + r, "AF", &[]),
            ));
            packets.push((
                t + 1_500,
                packet(false, port, s + 2 + r, c + 2 + q, "A", &[]),
            ));
            if i % 97 == 0 {
                packets.push((
                    t + 2_500_000,
                    packet(true, port, c + 1 + q, s + 2 + r, "AF", &[]),
                ));
            }
            if i % 131 == 0 {
                let mut other = Vec::new();
                PacketBuilder::ipv4(client, server, 64)
                    .tcp(port, 9, 1, 65535)
                    .ack(1)
                    .write(&mut other, &[])
                    .unwrap();
                packets.push((t + 400, other));
            }
        }
        packets.sort_by_key(|(ts, _)| *ts);
        for (ts, bytes) in &packets {
            record(&mut out, *ts, bytes);
        }
        out
    }

    fn analyse(bytes: &[u8], threads: usize) -> (Analysis, Vec<ConnectionRecord>) {
        let input = CaptureInput::Bytes(bytes.into());
        let mut connections = Vec::new();
        let analysis = analyze_input_with(
            &input,
            Path::new("<memory>"),
            Some(SERVER_PORT),
            Some(threads),
            &mut |r| connections.push(r),
        )
        .unwrap();
        (analysis, connections)
    }

    #[test]
    fn every_thread_count_gives_the_same_connections_in_the_same_order() {
        let bytes = churn_capture(4_000);
        let (one, one_connections) = analyse(&bytes, 1);
        assert_eq!(one.summary.connections_opened, 4_000);
        assert!(one.packets_other_port > 0);
        assert_eq!(one.summary.requests, 4_000);
        assert!(one.summary.fin_packets_from_client > one.summary.fins_from_client);
        let one_json = serde_json::to_string(&(&one, &one_connections)).unwrap();
        for threads in [2, 3, 4] {
            let (many, many_connections) = analyse(&bytes, threads);
            assert_eq!(
                serde_json::to_string(&(&many, &many_connections)).unwrap(),
                one_json,
                "{threads} threads"
            );
        }
    }
}
