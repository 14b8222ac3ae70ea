//! The socket table read through the kernel's sock_diag netlink interface, filtered in the kernel.
//!
//! `/proc/net/tcp` prints every TCP socket of the namespace as text, so one read costs time in
//! proportion to all of them (15-40 ms at 11,000 TIME_WAIT sockets), whether or not they belong to
//! the run. A `SOCK_DIAG_BY_FAMILY` dump with an `INET_DIAG_REQ_BYTECODE` filter ("source port
//! is P or destination port is P") makes the kernel skip the unrelated sockets itself and send
//! only the run's, in binary: the cost follows the run's sockets, not the machine's.
//!
//! The kernel walks its whole socket hash for every dump, related or not, and a
//! `SOCK_DIAG_BY_FAMILY` dump asks for one address family: IPv4 and IPv6 are two walks. The
//! older `TCPDIAG_GETSOCK` request (the same filter, the same answer) dumps both families in one
//! walk, which halves the kernel's share of every snapshot; it is used while the kernel answers
//! it, and the two family dumps otherwise.
//!
//! [`KernelTable`] is what sessions use: sock_diag while it works, and the procfs reader
//! ([`ProcfsTable`]) when netlink is unavailable (a kernel without `inet_diag`, a sandbox that
//! forbids netlink sockets) or fails once; it then stays on procfs for the rest of its life.
//! Needs no privilege.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use super::table::{ProcfsTable, SocketEntry, SocketTable, SocketTableError, TcpState};

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The `inet_diag` request of before `sock_diag`: no family in it, so a dump covers both.
const TCPDIAG_GETSOCK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const INET_DIAG_BC_D_GE: u8 = 4;
const INET_DIAG_BC_D_LE: u8 = 5;
/// `struct nlmsghdr`.
const NLMSG_HEADER_BYTES: usize = 16;
/// `struct inet_diag_req_v2`.
const REQUEST_BYTES: usize = 56;
/// `struct inet_diag_req` (the `TCPDIAG_GETSOCK` request).
const COMPAT_REQUEST_BYTES: usize = 60;
/// `struct inet_diag_msg`.
const MESSAGE_BYTES: usize = 72;

/// A sock_diag dump of the TCP sockets on one port (IPv4 and IPv6), or of all of them.
#[derive(Debug)]
pub struct NetlinkTable {
    socket: OwnedFd,
    port: Option<u16>,
    sequence: u32,
    buffer: Vec<u8>,
    /// Both families in one `TCPDIAG_GETSOCK` walk, until the kernel refuses it once.
    one_walk: bool,
}

impl NetlinkTable {
    /// Opens a `NETLINK_SOCK_DIAG` socket; every socket is dumped until
    /// [`SocketTable::restrict_to_port`] narrows it.
    pub fn open() -> io::Result<NetlinkTable> {
        // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd right after.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(NetlinkTable {
            socket,
            port: None,
            sequence: 0,
            buffer: vec![0; 64 * 1024],
            one_walk: true,
        })
    }

    fn error(&self, source: io::Error) -> SocketTableError {
        SocketTableError::Read {
            path: PathBuf::from("netlink sock_diag"),
            source,
        }
    }

    /// How many walks of the kernel's socket hash one snapshot costs: 1 while the kernel
    /// answers `TCPDIAG_GETSOCK`, 2 (one per address family) after it refused it.
    pub fn walks_per_snapshot(&self) -> u32 {
        if self.one_walk {
            1
        } else {
            2
        }
    }

    /// One dump of one address family (`Some`), or of both in one walk (`None`), appended to
    /// `out`.
    fn dump(
        &mut self,
        family: Option<u8>,
        out: &mut Vec<SocketEntry>,
    ) -> Result<(), SocketTableError> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = match family {
            Some(family) => dump_request(family, self.port, self.sequence),
            None => one_walk_request(self.port, self.sequence),
        };
        // SAFETY: the buffer is valid for its length; the kernel is the destination (pid 0).
        let sent = unsafe {
            let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
            kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(self.error(io::Error::last_os_error()));
        }
        loop {
            // SAFETY: recv(2) writes at most buffer.len() bytes into the buffer.
            let received = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    self.buffer.as_mut_ptr().cast(),
                    self.buffer.len(),
                    0,
                )
            };
            if received < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(self.error(err));
            }
            let datagram = &self.buffer[..received as usize];
            match parse_datagram(datagram, self.sequence, out) {
                Ok(Parsed::More) => {}
                Ok(Parsed::Done) => return Ok(()),
                Err(err) => return Err(self.error(err)),
            }
        }
    }
}

impl SocketTable for NetlinkTable {
    fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError> {
        let mut entries = Vec::new();
        if self.one_walk {
            match self.dump(None, &mut entries) {
                Ok(()) => return Ok(entries),
                // A kernel without the old request: the two family dumps from now on.
                Err(_) => {
                    self.one_walk = false;
                    entries.clear();
                }
            }
        }
        self.dump(Some(libc::AF_INET as u8), &mut entries)?;
        self.dump(Some(libc::AF_INET6 as u8), &mut entries)?;
        Ok(entries)
    }

    fn restrict_to_port(&mut self, port: u16) {
        self.port = Some(port);
    }
}

/// The request: `nlmsghdr`, `inet_diag_req_v2` (TCP, every state), and with a port the bytecode
/// "sport >= P && sport <= P || dport >= P && dport <= P" (comparisons every kernel since 2.6
/// knows; `S_EQ` came in 4.16).
fn dump_request(family: u8, port: Option<u16>, sequence: u32) -> Vec<u8> {
    // inet_diag_req_v2: family, protocol, ext, pad, states, then a zero inet_diag_sockid.
    let mut request = Vec::with_capacity(REQUEST_BYTES);
    request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    request.extend_from_slice(&[0; 48]);
    message(SOCK_DIAG_BY_FAMILY, &request, port, sequence)
}

/// The `TCPDIAG_GETSOCK` request: `nlmsghdr`, `inet_diag_req` (every state; the kernel dumps
/// both families), and the same bytecode.
fn one_walk_request(port: Option<u16>, sequence: u32) -> Vec<u8> {
    // inet_diag_req: family, src_len, dst_len, ext, a zero inet_diag_sockid, states, dbs.
    let mut request = Vec::with_capacity(COMPAT_REQUEST_BYTES);
    request.extend_from_slice(&[0; 4]);
    request.extend_from_slice(&[0; 48]);
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    message(TCPDIAG_GETSOCK, &request, port, sequence)
}

/// A dump request of `kind`: the netlink header, `request`, and with a port the bytecode
/// attribute.
fn message(kind: u16, request: &[u8], port: Option<u16>, sequence: u32) -> Vec<u8> {
    let bytecode = port.map(port_filter).unwrap_or_default();
    let attribute_bytes = if bytecode.is_empty() {
        0
    } else {
        4 + bytecode.len()
    };
    let total = NLMSG_HEADER_BYTES + request.len() + attribute_bytes;
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&(total as u32).to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    message.extend_from_slice(&sequence.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(request);
    if !bytecode.is_empty() {
        message.extend_from_slice(&(attribute_bytes as u16).to_ne_bytes());
        message.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        message.extend_from_slice(&bytecode);
    }
    message
}

/// Port comparisons of 8 bytes each (`inet_diag_bc_op`, then one holding the port in `no`) and
/// one 4-byte jump. The kernel audits a program along its `yes` jumps, so each `yes` goes to the
/// next op; reaching the end (36) accepts, jumping past it (40) rejects.
fn port_filter(port: u16) -> Vec<u8> {
    let port_ops = |code: &mut Vec<u8>, op: u8, no: u16| {
        code.extend_from_slice(&[op, 8]);
        code.extend_from_slice(&no.to_ne_bytes());
        code.extend_from_slice(&[0, 0]);
        code.extend_from_slice(&port.to_ne_bytes());
    };
    let mut code = Vec::with_capacity(36);
    port_ops(&mut code, INET_DIAG_BC_S_GE, 20); // at 0: sport >= P, else to dport (20)
    port_ops(&mut code, INET_DIAG_BC_S_LE, 12); // at 8: sport <= P, else to dport (20)
    code.extend_from_slice(&[INET_DIAG_BC_JMP, 4]); // at 16: sport == P: accept (36)
    code.extend_from_slice(&20u16.to_ne_bytes());
    port_ops(&mut code, INET_DIAG_BC_D_GE, 20); // at 20: dport >= P, else reject (40)
    port_ops(&mut code, INET_DIAG_BC_D_LE, 12); // at 28: dport <= P: accept, else reject
    code
}

enum Parsed {
    More,
    Done,
}

/// The messages of one datagram of the dump's answer, appended to `out`.
fn parse_datagram(
    mut data: &[u8],
    sequence: u32,
    out: &mut Vec<SocketEntry>,
) -> io::Result<Parsed> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    while data.len() >= NLMSG_HEADER_BYTES {
        let length = u32::from_ne_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into().expect("2 bytes"));
        let seq = u32::from_ne_bytes(data[8..12].try_into().expect("4 bytes"));
        if length < NLMSG_HEADER_BYTES || length > data.len() {
            return Err(bad("a truncated netlink message"));
        }
        let body = &data[NLMSG_HEADER_BYTES..length];
        // Messages are padded to 4 bytes.
        data = &data[((length + 3) & !3).min(data.len())..];
        if seq != sequence {
            continue;
        }
        match kind {
            NLMSG_DONE => return Ok(Parsed::Done),
            NLMSG_ERROR => {
                let code = body
                    .get(0..4)
                    .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                    .unwrap_or(0);
                if code == 0 {
                    continue;
                }
                return Err(io::Error::from_raw_os_error(-code));
            }
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                if let Some(entry) = parse_message(body) {
                    out.push(entry);
                }
            }
            _ => {}
        }
    }
    Ok(Parsed::More)
}

/// One `inet_diag_msg`: family, state, ports and addresses, queues, inode.
fn parse_message(body: &[u8]) -> Option<SocketEntry> {
    if body.len() < MESSAGE_BYTES {
        return None;
    }
    let u32_at = |at: usize| u32::from_ne_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    let port_at = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let address_at = |at: usize| -> Option<IpAddr> {
        match i32::from(body[0]) {
            libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                body[at],
                body[at + 1],
                body[at + 2],
                body[at + 3],
            ))),
            libc::AF_INET6 => {
                let octets: [u8; 16] = body[at..at + 16].try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(octets)).to_canonical())
            }
            _ => None,
        }
    };
    let state = TcpState::from_kernel(body[1])?;
    let rx_queue_bytes = u32_at(56);
    let tx_queue_bytes = if state == TcpState::Listen {
        0
    } else {
        u32_at(60)
    };
    Some(SocketEntry {
        local: SocketAddr::new(address_at(8)?, port_at(4)),
        remote: SocketAddr::new(address_at(24)?, port_at(6)),
        state,
        tx_queue_bytes,
        rx_queue_bytes,
        inode: u64::from(u32_at(68)),
    })
}

/// The machine's socket table: sock_diag netlink with the port filtered in the kernel, or the
/// procfs tables when netlink cannot be used.
#[derive(Debug)]
pub struct KernelTable {
    netlink: Option<NetlinkTable>,
    procfs: ProcfsTable,
}

impl KernelTable {
    /// sock_diag when a netlink socket can be opened, procfs otherwise.
    pub fn new() -> KernelTable {
        KernelTable {
            netlink: NetlinkTable::open().ok(),
            procfs: ProcfsTable::new(),
        }
    }

    /// Whether the next snapshot is read through netlink.
    pub fn uses_netlink(&self) -> bool {
        self.netlink.is_some()
    }
}

impl Default for KernelTable {
    fn default() -> Self {
        KernelTable::new()
    }
}

impl SocketTable for KernelTable {
    fn snapshot(&mut self) -> Result<Vec<SocketEntry>, SocketTableError> {
        if let Some(netlink) = &mut self.netlink {
            match netlink.snapshot() {
                Ok(entries) => return Ok(entries),
                // From now on procfs answers: a table must not switch back and forth.
                Err(_) => self.netlink = None,
            }
        }
        self.procfs.snapshot()
    }

    fn restrict_to_port(&mut self, port: u16) {
        if let Some(netlink) = &mut self.netlink {
            netlink.restrict_to_port(port);
        }
    }

    fn malformed_lines_skipped(&self) -> u64 {
        self.procfs.malformed_lines_skipped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_accepts_either_port_and_rejects_others() {
        // A small interpreter of the kernel's inet_diag_bc_run for the comparisons used.
        fn run(code: &[u8], sport: u16, dport: u16) -> bool {
            let mut at = 0usize;
            let len = code.len();
            while at < len {
                let op = code[at];
                let yes = usize::from(code[at + 1]);
                let no = usize::from(u16::from_ne_bytes([code[at + 2], code[at + 3]]));
                let value = code
                    .get(at + 6..at + 8)
                    .map(|b| u16::from_ne_bytes([b[0], b[1]]))
                    .unwrap_or(0);
                let ok = match op {
                    INET_DIAG_BC_JMP => false,
                    INET_DIAG_BC_S_GE => sport >= value,
                    INET_DIAG_BC_S_LE => sport <= value,
                    INET_DIAG_BC_D_GE => dport >= value,
                    INET_DIAG_BC_D_LE => dport <= value,
                    _ => panic!("unexpected op {op}"),
                };
                at += if ok { yes } else { no };
            }
            at == len
        }
        let code = port_filter(8080);
        assert_eq!(code.len(), 36);
        assert!(run(&code, 8080, 40000));
        assert!(run(&code, 40000, 8080));
        assert!(!run(&code, 8081, 40000));
        assert!(!run(&code, 40000, 8079));
        assert!(!run(&code, 1, 2));
    }

    #[test]
    fn the_request_has_the_kernel_layout() {
        let request = dump_request(libc::AF_INET as u8, Some(80), 7);
        assert_eq!(request.len(), 16 + 56 + 4 + 36);
        assert_eq!(
            u32::from_ne_bytes(request[0..4].try_into().unwrap()) as usize,
            request.len()
        );
        assert_eq!(request[16], libc::AF_INET as u8);
        assert_eq!(request[17], libc::IPPROTO_TCP as u8);
        assert_eq!(dump_request(libc::AF_INET6 as u8, None, 1).len(), 16 + 56);
    }

    #[test]
    fn the_one_walk_request_has_the_old_layout() {
        let request = one_walk_request(Some(80), 7);
        assert_eq!(request.len(), 16 + 60 + 4 + 36);
        assert_eq!(
            u32::from_ne_bytes(request[0..4].try_into().unwrap()) as usize,
            request.len()
        );
        assert_eq!(
            u16::from_ne_bytes([request[4], request[5]]),
            TCPDIAG_GETSOCK
        );
        assert_eq!(u32::from_ne_bytes(request[8..12].try_into().unwrap()), 7);
        assert_eq!(request[16], 0, "no family: both");
        assert_eq!(
            &request[16 + 52..16 + 56],
            &u32::MAX.to_ne_bytes(),
            "every state"
        );
        assert_eq!(
            &request[16 + 60 + 2..16 + 60 + 4],
            &INET_DIAG_REQ_BYTECODE.to_ne_bytes()
        );
        assert_eq!(one_walk_request(None, 1).len(), 16 + 60);
    }

    #[test]
    fn messages_decode_addresses_ports_and_state() {
        let mut body = vec![0u8; MESSAGE_BYTES];
        body[0] = libc::AF_INET as u8;
        body[1] = 6; // TIME_WAIT
        body[4..6].copy_from_slice(&40000u16.to_be_bytes());
        body[6..8].copy_from_slice(&8080u16.to_be_bytes());
        body[8..12].copy_from_slice(&[127, 0, 0, 1]);
        body[24..28].copy_from_slice(&[127, 0, 0, 2]);
        body[56..60].copy_from_slice(&5u32.to_ne_bytes());
        let entry = parse_message(&body).unwrap();
        assert_eq!(entry.local, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(entry.remote, "127.0.0.2:8080".parse().unwrap());
        assert_eq!(entry.state, TcpState::TimeWait);
        assert_eq!(entry.rx_queue_bytes, 5);
        body[0] = libc::AF_INET6 as u8;
        body[8..24].copy_from_slice(&"::ffff:127.0.0.1".parse::<Ipv6Addr>().unwrap().octets());
        body[24..40].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let entry = parse_message(&body).unwrap();
        assert_eq!(entry.local, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(entry.remote, "[::1]:8080".parse().unwrap());
        assert!(parse_message(&body[..40]).is_none(), "short: skipped");
        body[1] = 0;
        assert!(parse_message(&body).is_none(), "no such state: skipped");
    }

    #[test]
    fn a_truncated_datagram_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        let mut datagram = vec![0u8; 20];
        datagram[0..4].copy_from_slice(&200u32.to_ne_bytes());
        assert!(parse_datagram(&datagram, 1, &mut out).is_err());
        assert!(parse_datagram(&[1, 2, 3], 1, &mut out).is_ok());
    }
}
