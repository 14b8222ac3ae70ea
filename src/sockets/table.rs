//! Socket tables: what `/proc/net/tcp` and `/proc/net/tcp6` say, parsed into [`SocketEntry`] values.
//!
//! Every side effect enters through the [`SocketTable`] trait: [`ProcfsTable`] reads the kernel's
//! tables, [`ScriptedTable`] replays canned snapshots in tests. The parser is a pure function over
//! text that never panics: a malformed line is skipped and counted, so one odd line (a kernel that
//! prints an extra column, a truncated read) never hides the rest of the table.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A TCP socket state as the kernel numbers it (`include/net/tcp_states.h`).
///
/// Serialized like `netstat` prints it: `ESTABLISHED`, `TIME_WAIT`, `FIN_WAIT1`, ...
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    /// Data can flow both ways.
    Established,
    /// `connect()` sent a SYN and waits for the SYN-ACK.
    SynSent,
    /// A SYN arrived and was answered (full socket).
    SynRecv,
    /// This side closed first and sent its FIN; no ACK for it yet.
    FinWait1,
    /// This side's FIN was acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// This side closed first and both FINs were exchanged; the socket lingers for 60 s.
    TimeWait,
    /// Closed, but still hashed.
    Close,
    /// The peer closed first; this side has not closed yet (a leak if it lasts).
    CloseWait,
    /// The peer closed first, this side closed too, and waits for the last ACK.
    LastAck,
    /// A listening socket.
    Listen,
    /// Both sides sent a FIN at the same time.
    Closing,
    /// A request socket: a SYN answered, the connection not yet accepted.
    NewSynRecv,
}

impl TcpState {
    /// Every state, in the kernel's numbering order.
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    /// The state for the kernel's number (the `st` column), if it is one.
    pub(crate) fn from_kernel(number: u8) -> Option<TcpState> {
        match number {
            1..=12 => Some(TcpState::ALL[usize::from(number - 1)]),
            _ => None,
        }
    }

    /// The name `netstat` prints (and the serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::NewSynRecv => "NEW_SYN_RECV",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of a TCP socket table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SocketEntry {
    /// This socket's own address. IPv4-mapped IPv6 addresses are given as IPv4.
    pub local: SocketAddr,
    /// The peer's address (unspecified for a listening socket).
    pub remote: SocketAddr,
    /// The TCP state.
    pub state: TcpState,
    /// Bytes queued to send and not yet acknowledged (for LISTEN: 0).
    pub tx_queue_bytes: u32,
    /// Bytes received and not yet read by the application (for LISTEN: the accept backlog).
    /// Unread data at close is what turns a FIN into a RST.
    pub rx_queue_bytes: u32,
    /// The socket's inode (0 for TIME_WAIT and request sockets, which have no file).
    pub inode: u64,
}

/// Why a socket table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SocketTableError {
    /// The table does not exist here (not Linux, `/proc` not mounted, no IPv4 stack).
    #[error("{} is not available: {source}", path.display())]
    Unavailable {
        /// The file that was missing.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The table exists but reading it failed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A scripted table ran out of snapshots or was told to fail (tests only).
    #[error("scripted socket table: {0}")]
    Scripted(String),
}

/// Where socket tables come from: procfs for real, canned text in tests.
pub trait SocketTable: Send {
    /// Every TCP socket (IPv4 and IPv6) in the table right now.
    fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError>;

    /// How many malformed lines were skipped over all snapshots so far.
    fn malformed_lines_skipped(&self) -> u64 {
        0
    }

    /// From now on only sockets with this local or remote port are needed. A table that can
    /// filter (sock_diag, in the kernel) returns only those; others return every socket, and the
    /// caller filters anyway.
    fn restrict_to_port(&mut self, _port: u16) {}
}

/// Parses the text of `/proc/net/tcp` (`ipv6 == false`) or `/proc/net/tcp6` (`ipv6 == true`).
///
/// Returns the entries and the number of malformed lines skipped (the header line and blank lines
/// are not malformed). Addresses are decoded in the host's byte order, as the kernel prints them.
///
/// The table is parsed with the `procfs` crate; a table that crate rejects as a whole (it stops
/// at the first malformed line) is parsed line by line here instead, skipping and counting the
/// malformed lines, so one bad line never hides the rest.
pub fn parse_tcp_table(text: &str, ipv6: bool) -> (Vec<SocketEntry>, usize) {
    match parse_with_procfs(text, ipv6) {
        Some(entries) => (entries, 0),
        None => parse_line_by_line(text, ipv6),
    }
}

/// The whole table through `procfs`, or `None` when it rejects any line.
fn parse_with_procfs(text: &str, ipv6: bool) -> Option<Vec<SocketEntry>> {
    use procfs::FromBufReadSI;
    // The crate skips the first line as the header: only hand it tables that have one.
    if !text.trim_start().starts_with("sl") {
        return None;
    }
    let table =
        procfs::net::TcpNetEntries::from_buf_read(text.as_bytes(), procfs::current_system_info())
            .ok()?;
    table
        .0
        .into_iter()
        .map(|entry| {
            // The crate reads both tables alike; a v4 address in tcp6 (or the reverse) is not
            // what the kernel writes: let the line parser judge such a table.
            if entry.local_address.is_ipv6() != ipv6 {
                return None;
            }
            Some(SocketEntry {
                local: canonical(entry.local_address),
                remote: canonical(entry.remote_address),
                state: TcpState::from_kernel(entry.state.to_u8())?,
                tx_queue_bytes: entry.tx_queue,
                rx_queue_bytes: entry.rx_queue,
                inode: entry.inode,
            })
        })
        .collect()
}

/// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) as plain IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn parse_line_by_line(text: &str, ipv6: bool) -> (Vec<SocketEntry>, usize) {
    let mut entries = Vec::new();
    let mut malformed = 0;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("sl ") || trimmed == "sl" {
            continue;
        }
        match parse_line(trimmed, ipv6) {
            Some(entry) => entries.push(entry),
            None => malformed += 1,
        }
    }
    (entries, malformed)
}

/// One data line: `sl: local remote st tx:rx tr:when retrnsmt uid timeout inode ...`.
fn parse_line(line: &str, ipv6: bool) -> Option<SocketEntry> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    if fields.len() < 10 {
        return None;
    }
    let slot = fields[0].strip_suffix(':')?;
    if slot.is_empty() || !slot.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let local = parse_address(fields[1], ipv6)?;
    let remote = parse_address(fields[2], ipv6)?;
    if fields[3].len() != 2 {
        return None;
    }
    let state = TcpState::from_kernel(u8::from_str_radix(fields[3], 16).ok()?)?;
    let (tx, rx) = fields[4].split_once(':')?;
    let tx_queue_bytes = parse_hex_u32(tx)?;
    let rx_queue_bytes = parse_hex_u32(rx)?;
    let inode = fields[9].parse::<u64>().ok()?;
    Some(SocketEntry {
        local,
        remote,
        state,
        tx_queue_bytes,
        rx_queue_bytes,
        inode,
    })
}

/// Hex digits only (`from_str_radix` alone would accept a leading `+`).
fn parse_hex_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// `0100007F:1F90` or `00000000000000000000000001000000:1F90`.
fn parse_address(text: &str, ipv6: bool) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    if port_hex.len() != 4 {
        return None;
    }
    let port = u16::try_from(parse_hex_u32(port_hex)?).ok()?;
    // The kernel prints each 32-bit word of the address as a number read in host byte order.
    let word = |i: usize| parse_hex_u32(ip_hex.get(i * 8..i * 8 + 8)?).map(u32::to_ne_bytes);
    let ip = match (ipv6, ip_hex.len()) {
        (false, 8) => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        (true, 32) => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(octets)).to_canonical()
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Reads `/proc/net/tcp` and `/proc/net/tcp6` (or the same files elsewhere, for tests).
///
/// A missing `tcp6` is fine (IPv6 disabled); a missing `tcp` makes the source unavailable.
#[derive(Debug, Clone)]
pub struct ProcfsTable {
    tcp_path: PathBuf,
    tcp6_path: PathBuf,
    malformed_lines_skipped: u64,
}

impl ProcfsTable {
    /// The running kernel's tables (this process's network namespace).
    pub fn new() -> ProcfsTable {
        ProcfsTable::with_paths("/proc/net/tcp", "/proc/net/tcp6")
    }

    /// Tables read from other files with the same format.
    pub(crate) fn with_paths(tcp: impl Into<PathBuf>, tcp6: impl Into<PathBuf>) -> ProcfsTable {
        ProcfsTable {
            tcp_path: tcp.into(),
            tcp6_path: tcp6.into(),
            malformed_lines_skipped: 0,
        }
    }

    fn read(&mut self, ipv6: bool, out: &mut Vec<SocketEntry>) -> Result<(), SocketTableError> {
        let path = if ipv6 {
            &self.tcp6_path
        } else {
            &self.tcp_path
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound && ipv6 => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SocketTableError::Unavailable {
                    path: path.clone(),
                    source: e,
                })
            }
            Err(e) => {
                return Err(SocketTableError::Read {
                    path: path.clone(),
                    source: e,
                })
            }
        };
        let (entries, malformed) = parse_tcp_table(&text, ipv6);
        self.malformed_lines_skipped += malformed as u64;
        out.extend(entries);
        Ok(())
    }
}

impl Default for ProcfsTable {
    fn default() -> Self {
        ProcfsTable::new()
    }
}

impl SocketTable for ProcfsTable {
    fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError> {
        let mut entries = Vec::new();
        self.read(false, &mut entries)?;
        self.read(true, &mut entries)?;
        Ok(entries)
    }

    fn malformed_lines_skipped(&self) -> u64 {
        self.malformed_lines_skipped
    }
}

/// Replays prepared snapshots in order, then repeats the last one forever.
///
/// `Err` items make that snapshot fail, to test how callers cope with a table that goes away.
#[derive(Debug)]
pub struct ScriptedTable {
    script: VecDeque<Result<Vec<SocketEntry>, String>>,
    last: Result<Vec<SocketEntry>, String>,
}

impl ScriptedTable {
    /// A table that returns `script` one snapshot per call.
    pub fn new(script: Vec<Result<Vec<SocketEntry>, String>>) -> ScriptedTable {
        ScriptedTable {
            script: script.into(),
            last: Err("no snapshot scripted".to_string()),
        }
    }
}

impl SocketTable for ScriptedTable {
    fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError> {
        if let Some(next) = self.script.pop_front() {
            self.last = next;
        }
        self.last.clone().map_err(SocketTableError::Scripted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP4: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:D503 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12259 1 00000000ad9192d2 100 0 0 10 0
   1: 0100007F:CBC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3 00000000e5faac5a
   2: 0100007F:D503 0100007F:CBC6 01 00000000:0000002A 00:00000000 00000000  1000        0 4242 1 00000000ad9192d2 20 4 30 10 -1
";

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_ipv4_listen_time_wait_and_established() {
        let (entries, malformed) = parse_tcp_table(TCP4, false);
        assert_eq!(malformed, 0);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].local, "127.0.0.1:54531".parse().unwrap());
        assert_eq!(entries[0].remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(entries[0].state, TcpState::Listen);
        assert_eq!(entries[0].inode, 12259);
        assert_eq!(entries[1].local, "127.0.0.1:52164".parse().unwrap());
        assert_eq!(entries[1].remote, "127.0.0.1:54531".parse().unwrap());
        assert_eq!(entries[1].state, TcpState::TimeWait);
        assert_eq!(entries[1].inode, 0);
        assert_eq!(entries[2].state, TcpState::Established);
        assert_eq!(entries[2].rx_queue_bytes, 42);
        assert_eq!(entries[2].tx_queue_bytes, 0);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_real_ipv6_and_ipv4_mapped() {
        let text = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:A000 00000000000000000000000001000000:1F90 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0000000000000000
   2: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:B000 08 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 20 4 0 10 -1
   3: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 779 1 0000000000000000 100 0 0 10 0
";
        let (entries, malformed) = parse_tcp_table(text, true);
        assert_eq!(malformed, 0);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].local, "[::1]:8080".parse().unwrap());
        assert_eq!(entries[1].local, "[::1]:40960".parse().unwrap());
        assert_eq!(entries[1].remote, "[::1]:8080".parse().unwrap());
        assert_eq!(entries[1].state, TcpState::TimeWait);
        // IPv4-mapped addresses come out as plain IPv4, so they match an IPv4 server address.
        assert_eq!(entries[2].local, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(entries[2].remote, "127.0.0.1:45056".parse().unwrap());
        assert_eq!(entries[2].state, TcpState::CloseWait);
        assert_eq!(entries[3].local, "[2001:db8::1]:80".parse().unwrap());
    }

    #[test]
    fn skips_and_counts_malformed_lines() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:D503 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12259 1
   1: 0100007F:CBC4 0100007F:D503 06
   2: 0100007G:CBC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3
   3: 0100007F:CBC4 0100007F:D503 0D 00000000:00000000 03:00001766 00000000     0        0 0 3
   4: 0100007F:CBC4 0100007F:D5031 06 00000000:00000000 03:00001766 00000000     0        0 0 3
   5: 0100007F:CBC4 0100007F:D503 06 00000000-00000000 03:00001766 00000000     0        0 0 3
   6: 0100007F:CBC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 -5 3
   7 0100007F:CBC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3
   8: 00000000000000000000000001000000:1F90 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3
   9: 0100007F:+BC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3
  10: \u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}:CBC4 0100007F:D503 06 00000000:00000000 03:00001766 00000000     0        0 0 3

garbage
";
        let (entries, malformed) = parse_tcp_table(text, false);
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0].state, TcpState::Listen);
        assert_eq!(malformed, 11);
    }

    #[test]
    fn ipv6_text_in_the_ipv4_table_is_malformed() {
        let line = "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1\n";
        assert_eq!(parse_tcp_table(line, false).1, 1);
        assert_eq!(parse_tcp_table(line, true).1, 0);
        let v4 = "   0: 0100007F:D503 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12259 1\n";
        assert_eq!(parse_tcp_table(v4, true).1, 1);
    }

    #[test]
    fn state_numbers_round_trip_and_serialize_like_netstat() {
        for (i, state) in TcpState::ALL.iter().enumerate() {
            assert_eq!(TcpState::from_kernel(i as u8 + 1), Some(*state));
            let json = serde_json::to_string(state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            let back: TcpState = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *state);
        }
        assert_eq!(TcpState::from_kernel(0), None);
        assert_eq!(TcpState::from_kernel(13), None);
    }

    #[test]
    fn procfs_table_reads_files_and_tolerates_missing_tcp6() {
        let dir = tempfile::tempdir().unwrap();
        let tcp = dir.path().join("tcp");
        std::fs::write(&tcp, format!("{TCP4}   9: broken\n")).unwrap();
        let mut table = ProcfsTable::with_paths(&tcp, dir.path().join("no-tcp6"));
        let entries = table.snapshot().unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(table.malformed_lines_skipped(), 1);
    }

    #[test]
    fn procfs_table_without_tcp_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut table = ProcfsTable::with_paths(dir.path().join("tcp"), dir.path().join("tcp6"));
        let err = table.snapshot().unwrap_err();
        assert!(matches!(err, SocketTableError::Unavailable { .. }), "{err}");
        assert!(err.to_string().contains("is not available"), "{err}");
    }

    #[test]
    fn scripted_table_replays_then_repeats_the_last() {
        let one = parse_tcp_table(TCP4, false).0;
        let mut table = ScriptedTable::new(vec![Err("gone".into()), Ok(one.clone())]);
        assert!(table.snapshot().is_err());
        assert_eq!(table.snapshot().unwrap(), one);
        assert_eq!(table.snapshot().unwrap(), one);
    }
}
