//! The sock_diag netlink table against the procfs table on the real kernel: the same sockets, in
//! the same states, for the port asked about, and none of another port's.
//!
//! Bounded: six connections on loopback, each with I/O timeouts.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use kalab::sockets::{KernelTable, NetlinkTable, ProcfsTable, SocketEntry, SocketTable, TcpState};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn on_port(entries: &[SocketEntry], port: u16) -> BTreeSet<(SocketAddr, SocketAddr, TcpState)> {
    entries
        .iter()
        .filter(|e| e.local.port() == port || e.remote.port() == port)
        .map(|e| (e.local, e.remote, e.state))
        .collect()
}

#[test]
fn netlink_sees_what_procfs_sees_on_the_port_and_nothing_else() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let server = listener.local_addr().unwrap();
    let other = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let _unrelated = TcpStream::connect_timeout(&other.local_addr().unwrap(), IO_TIMEOUT).unwrap();
    // Two closed by the client (client TIME_WAIT), two closed by the server (server
    // TIME_WAIT), two left open (ESTABLISHED on both sides).
    let mut open = Vec::new();
    for i in 0..6 {
        let mut client = TcpStream::connect_timeout(&server, IO_TIMEOUT).expect("connect");
        client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let (mut accepted, _) = listener.accept().expect("accept");
        accepted.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut rest = Vec::new();
        match i {
            0 | 1 => {
                drop(client);
                accepted.read_to_end(&mut rest).expect("EOF");
            }
            2 | 3 => {
                drop(accepted);
                client.read_to_end(&mut rest).expect("EOF");
            }
            _ => open.push((client, accepted)),
        }
    }
    let mut netlink = NetlinkTable::open().expect("a NETLINK_SOCK_DIAG socket");
    netlink.restrict_to_port(server.port());
    let from_netlink = netlink.snapshot().expect("a sock_diag dump");
    let from_procfs = ProcfsTable::new().snapshot().expect("/proc/net/tcp");
    assert!(
        from_netlink
            .iter()
            .all(|e| e.local.port() == server.port() || e.remote.port() == server.port()),
        "the kernel filtered by port: {from_netlink:?}"
    );
    let netlink_set = on_port(&from_netlink, server.port());
    let procfs_set = on_port(&from_procfs, server.port());
    // Sockets closed by this test reach their final state before the reads: both tables agree
    // on every one (the kernel may still be finishing a FIN_WAIT2 -> TIME_WAIT on a loaded
    // machine, so TIME_WAIT is compared as a superset of what both saw).
    let time_wait = |set: &BTreeSet<(SocketAddr, SocketAddr, TcpState)>| {
        set.iter()
            .filter(|(_, _, s)| *s == TcpState::TimeWait)
            .count()
    };
    let established = |set: &BTreeSet<(SocketAddr, SocketAddr, TcpState)>| {
        set.iter()
            .filter(|(_, _, s)| *s == TcpState::Established)
            .count()
    };
    assert_eq!(established(&netlink_set), 4, "{netlink_set:?}");
    assert_eq!(established(&procfs_set), 4, "{procfs_set:?}");
    assert!(netlink_set.contains(&(server, "0.0.0.0:0".parse().unwrap(), TcpState::Listen)));
    assert!(time_wait(&netlink_set) >= 4 || time_wait(&procfs_set) >= 4);
    assert_eq!(netlink_set, procfs_set, "netlink and procfs disagree");
    drop(open);

    let mut kernel = KernelTable::new();
    assert!(
        kernel.uses_netlink(),
        "sock_diag is available on this kernel"
    );
    kernel.restrict_to_port(other.local_addr().unwrap().port());
    let other_port = kernel.snapshot().unwrap();
    assert_eq!(
        other_port.len(),
        3,
        "the other port: its listener and one connection's two ends: {other_port:?}"
    );
}

#[test]
fn one_snapshot_holds_both_address_families() {
    // The same port on 127.0.0.1 and ::1 (when the machine has IPv6 loopback).
    let v4 = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = v4.local_addr().unwrap().port();
    let Ok(v6) = TcpListener::bind(("::1", port)) else {
        eprintln!("SKIP one_snapshot_holds_both_address_families: cannot bind [::1]:{port}");
        return;
    };
    let mut open = Vec::new();
    for listener in [&v4, &v6] {
        let client =
            TcpStream::connect_timeout(&listener.local_addr().unwrap(), IO_TIMEOUT).unwrap();
        let (accepted, _) = listener.accept().expect("accept");
        open.push((client, accepted));
    }
    let mut netlink = NetlinkTable::open().expect("a NETLINK_SOCK_DIAG socket");
    netlink.restrict_to_port(port);
    let from_netlink = on_port(&netlink.snapshot().expect("a sock_diag dump"), port);
    let from_procfs = on_port(&ProcfsTable::new().snapshot().expect("/proc/net/tcp"), port);
    eprintln!(
        "one snapshot: {} walk(s) of the kernel's socket table",
        netlink.walks_per_snapshot()
    );
    let established = |family_v6: bool| {
        from_netlink
            .iter()
            .filter(|(l, _, s)| *s == TcpState::Established && l.is_ipv6() == family_v6)
            .count()
    };
    assert_eq!(established(false), 2, "{from_netlink:?}");
    assert_eq!(established(true), 2, "{from_netlink:?}");
    assert_eq!(
        from_netlink
            .iter()
            .filter(|(_, _, s)| *s == TcpState::Listen)
            .count(),
        2,
        "both listeners: {from_netlink:?}"
    );
    assert_eq!(from_netlink, from_procfs, "netlink and procfs disagree");
    // A second snapshot answers the same way (the request kind does not switch).
    let walks = netlink.walks_per_snapshot();
    assert_eq!(
        on_port(&netlink.snapshot().unwrap(), port),
        from_netlink,
        "the second snapshot"
    );
    assert_eq!(netlink.walks_per_snapshot(), walks);
    drop(open);
}
