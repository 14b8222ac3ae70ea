//! What one socket-table snapshot costs when the machine holds many sockets unrelated to the run,
//! for `bench/run`: `sampler_cost UNRELATED SNAPSHOTS`.
//!
//! Leaves UNRELATED client-side TIME_WAIT sockets to one loopback listener (closed by the
//! client, so they linger 60 s), opens a few connections to a second listener (the run's port),
//! then times SNAPSHOTS snapshots of the procfs table (every socket, as text) and of the
//! sock_diag netlink table restricted to the run's port (filtered in the kernel). Prints
//! `procfs_us netlink_us procfs_entries netlink_entries` (mean microseconds per snapshot).
//! Bounded: UNRELATED is capped at 20,000 connections and every socket has I/O timeouts.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use kalab::sockets::{NetlinkTable, ProcfsTable, SocketTable};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() {
    let mut args = std::env::args().skip(1);
    let unrelated: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000)
        .min(20_000);
    let snapshots: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .max(1);

    let other = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let other_addr = other.local_addr().unwrap();
    let acceptor = std::thread::spawn(move || {
        let mut buf = [0u8; 1];
        for _ in 0..unrelated {
            let Ok((mut stream, _)) = other.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
            // Wait for the client's FIN, then close: the client holds the TIME_WAIT.
            let _ = stream.read(&mut buf);
        }
    });
    for _ in 0..unrelated {
        match TcpStream::connect_timeout(&other_addr, IO_TIMEOUT) {
            Ok(stream) => drop(stream),
            Err(err) => {
                eprintln!("sampler_cost: connect: {err}");
                break;
            }
        }
    }
    acceptor.join().expect("acceptor");

    let run = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let run_addr = run.local_addr().unwrap();
    let mut open = Vec::new();
    for _ in 0..5 {
        let client = TcpStream::connect_timeout(&run_addr, IO_TIMEOUT).expect("connect");
        let (server, _) = run.accept().expect("accept");
        open.push((client, server));
    }

    let time = |table: &mut dyn SocketTable| -> (f64, usize) {
        let mut entries = 0;
        let start = Instant::now();
        for _ in 0..snapshots {
            entries = table.snapshot().expect("snapshot").len();
        }
        (
            start.elapsed().as_secs_f64() * 1e6 / f64::from(snapshots),
            entries,
        )
    };
    let mut procfs = ProcfsTable::new();
    let mut netlink = NetlinkTable::open().expect("a NETLINK_SOCK_DIAG socket");
    netlink.restrict_to_port(run_addr.port());
    let (procfs_us, procfs_entries) = time(&mut procfs);
    let (netlink_us, netlink_entries) = time(&mut netlink);
    println!("{procfs_us:.0} {netlink_us:.0} {procfs_entries} {netlink_entries}");
    drop(open);
}
