//! Integration tests for the `sockets` source against the real kernel: real TCP connections on
//! loopback, the real `/proc/net/tcp{,6}`, and `ss` as an independent witness.
//!
//! Each test makes a bounded number of connections (at most 10 per run) with read timeouts, so
//! nothing can loop or hang. Every test uses a fresh ephemeral server port, except the fixed-port
//! test, which is built to hold however many TIME_WAIT sockets earlier invocations left behind.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use kalab::model::{FourTuple, Side};

use crate::helpers::skip;
use kalab::sockets::{
    classify, ProcfsTable, Sampler, SamplerSpec, SocketTable, SocketsOutcome, TcpState,
};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// A port outside Linux's default ephemeral range (32768-60999), used only by the fixed-port test.
const FIXED_PORT: u16 = 29_417;

/// Which side sends the first FIN.
#[derive(Clone, Copy)]
enum Closer {
    Client,
    Server,
}

fn start_sampler(server: SocketAddr) -> Sampler {
    let spec = SamplerSpec {
        server,
        interval: SAMPLE_INTERVAL,
    };
    Sampler::start(spec, Box::new(ProcfsTable::new()))
}

/// The sampler's time between two snapshots right now: the interval, or more when one snapshot
/// of this machine's table costs more than its share (see `MAX_DUTY_DIVISOR`).
fn sampler_tick() -> Duration {
    let began = Instant::now();
    let _ = ProcfsTable::new().snapshot();
    SAMPLE_INTERVAL.max(began.elapsed() * kalab::sockets::sampler::MAX_DUTY_DIVISOR)
}

fn connect(server: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&server, IO_TIMEOUT).expect("connect on loopback");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = listener.accept().expect("accept on loopback");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Reads until EOF and asserts nothing else came: the peer's FIN has been processed.
fn read_to_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("clean EOF");
    assert!(rest.is_empty(), "unexpected bytes before EOF: {rest:?}");
}

/// `count` sequential request/response exchanges, each connection closed cleanly (FIN, no RST)
/// by `closer` first; the other side closes only after it has read the closer's FIN.
fn exchange(
    listener: &TcpListener,
    server: SocketAddr,
    closer: Closer,
    count: usize,
) -> Vec<FourTuple> {
    let mut tuples = Vec::new();
    for _ in 0..count {
        let mut client = connect(server);
        let mut accepted = accept(listener);
        tuples.push(FourTuple::new(client.local_addr().unwrap(), server));
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).unwrap();
        accepted.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        match closer {
            Closer::Client => {
                drop(client);
                read_to_eof(&mut accepted);
                drop(accepted);
            }
            Closer::Server => {
                drop(accepted);
                read_to_eof(&mut client);
                drop(client);
            }
        }
    }
    tuples
}

/// Waits (at most 3 s) until none of the server's sockets is still between ESTABLISHED and
/// TIME_WAIT, so the last ACKs have been processed before the final snapshot.
fn settle(server: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut table = ProcfsTable::new();
    while Instant::now() < deadline {
        let snapshot = table.snapshot().expect("/proc/net/tcp");
        let busy = snapshot.iter().any(|e| {
            classify(e, server).is_some()
                && matches!(
                    e.state,
                    TcpState::FinWait1 | TcpState::FinWait2 | TcpState::LastAck | TcpState::Closing
                )
        });
        if !busy {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// TIME_WAIT sockets to or from `port` according to `ss`: (client side, server side).
/// `None` when `ss` is not installed.
fn ss_time_wait(port: u16) -> Option<(u64, u64)> {
    let filter = format!("( sport = :{port} or dport = :{port} )");
    let output = match Command::new("ss")
        .args(["-Htan", "state", "time-wait", &filter])
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run ss: {e}"),
    };
    assert!(output.status.success(), "ss failed: {output:?}");
    let text = String::from_utf8(output.stdout).expect("ss prints UTF-8");
    let port_of = |field: &str| -> u16 {
        let (_, port) = field.rsplit_once(':').expect("address:port");
        port.parse().expect("numeric port (-n)")
    };
    let (mut client, mut server) = (0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 4, "unexpected ss line: {line}");
        if port_of(fields[2]) == port {
            server += 1;
        } else {
            assert_eq!(port_of(fields[3]), port, "{line}");
            client += 1;
        }
    }
    Some((client, server))
}

/// Client-side TIME_WAIT sockets to `server` in the table right now, attributed or not.
fn raw_client_time_wait(server: SocketAddr) -> usize {
    let snapshot = ProcfsTable::new().snapshot().expect("/proc/net/tcp");
    snapshot
        .iter()
        .filter(|e| e.state == TcpState::TimeWait)
        .filter(|e| matches!(classify(e, server), Some((Side::Client, _))))
        .count()
}

fn assert_time_wait(outcome: &SocketsOutcome, client: u64, server: u64) {
    assert!(outcome.available, "{:?}", outcome.unavailable_reason);
    assert_eq!(
        (
            outcome.time_wait.time_wait_client_end,
            outcome.time_wait.time_wait_server_end
        ),
        (client, server),
        "TIME_WAIT (client, server) at end; outcome: {outcome:#?}"
    );
}

/// One run of `count` exchanges closed by `closer` against a fresh listener on `ip`.
fn run_fresh(ip: &str, closer: Closer, count: usize) -> SocketsOutcome {
    let listener = TcpListener::bind((ip, 0)).expect("bind loopback");
    let server = listener.local_addr().unwrap();
    let sampler = start_sampler(server);
    let tuples = exchange(&listener, server, closer, count);
    settle(server);
    // At least one sample between the exchange and the final snapshot, however fast the
    // exchange was (TIME_WAIT lasts 60 s, so nothing is lost by waiting).
    thread::sleep(sampler_tick() * 3);
    sampler.stop(&tuples)
}

#[test]
fn client_closes_first_leaves_time_wait_on_the_client_side() {
    let outcome = run_fresh("127.0.0.1", Closer::Client, 10);
    assert_time_wait(&outcome, 10, 0);
    assert_eq!(outcome.time_wait.time_wait_client_peak, 10);
    assert_eq!(outcome.time_wait.time_wait_server_peak, 0);
    assert_eq!(outcome.distinct_connections, 10);
    assert_eq!(outcome.baseline_excluded, 0);
    assert!(outcome.samples.len() >= 2);
}

#[test]
fn server_closes_first_leaves_time_wait_on_the_server_side() {
    let outcome = run_fresh("127.0.0.1", Closer::Server, 10);
    assert_time_wait(&outcome, 0, 10);
    assert_eq!(outcome.time_wait.time_wait_server_peak, 10);
    assert_eq!(outcome.time_wait.time_wait_client_peak, 0);
    assert_eq!(outcome.distinct_connections, 10);
}

#[test]
fn close_with_unread_data_resets_and_leaves_no_time_wait() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let server = listener.local_addr().unwrap();
    let sampler = start_sampler(server);
    let mut pairs = Vec::new();
    let mut tuples = Vec::new();
    for _ in 0..10 {
        let client = connect(server);
        let mut accepted = accept(&listener);
        tuples.push(FourTuple::new(client.local_addr().unwrap(), server));
        accepted.write_all(&[b'x'; 64]).unwrap();
        // Make sure the bytes sit in the client's receive buffer, still unread, before it closes.
        let mut peeked = [0u8; 64];
        let deadline = Instant::now() + IO_TIMEOUT;
        while client.peek(&mut peeked).unwrap() < 64 {
            assert!(Instant::now() < deadline, "data never arrived");
            thread::sleep(Duration::from_millis(1));
        }
        pairs.push((client, accepted));
    }
    // Let the sampler see every connection established: five of its ticks, which stretch when
    // the machine's table is slow to read (the sampler's duty cap).
    thread::sleep(sampler_tick() * 5);
    for (client, mut accepted) in pairs {
        drop(client); // unread data in the receive buffer: the kernel sends RST, not FIN
        let mut buf = [0u8; 1];
        let err = accepted
            .read(&mut buf)
            .expect_err("the server side must see a reset");
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    }
    settle(server);
    let outcome = sampler.stop(&tuples);
    assert_time_wait(&outcome, 0, 0);
    assert_eq!(outcome.time_wait.time_wait_client_peak, 0);
    assert_eq!(outcome.time_wait.time_wait_server_peak, 0);
    assert_eq!(outcome.distinct_connections, 10);
    let established_peak = outcome
        .samples
        .iter()
        .map(|s| s.client.established() + s.server.established())
        .max()
        .unwrap();
    assert_eq!(
        established_peak, 20,
        "both ends of 10 connections were seen established"
    );
}

#[test]
fn a_second_run_on_a_fixed_port_excludes_the_first_runs_time_wait() {
    let server: SocketAddr = ([127, 0, 0, 1], FIXED_PORT).into();
    // Earlier invocations of this test (within 60 s) may have left TIME_WAIT here: the baseline
    // excludes them just as it excludes run 1's sockets from run 2.
    let first = {
        let listener = TcpListener::bind(server).expect("bind the fixed port");
        let sampler = start_sampler(server);
        let tuples = exchange(&listener, server, Closer::Client, 5);
        settle(server);
        sampler.stop(&tuples)
    };
    assert_time_wait(&first, 5, 0);
    assert_eq!(first.distinct_connections, 5);

    let listener = TcpListener::bind(server).expect("rebind the fixed port");
    let sampler = start_sampler(server);
    let tuples = exchange(&listener, server, Closer::Client, 3);
    settle(server);
    let second = sampler.stop(&tuples);
    assert_time_wait(&second, 3, 0);
    assert_eq!(second.time_wait.time_wait_client_peak, 3);
    assert_eq!(second.distinct_connections, 3);
    assert!(second.baseline_excluded >= 5, "{second:#?}");
    let raw = raw_client_time_wait(server);
    assert!(
        raw >= 8,
        "run 1's 5 and run 2's 3 are all in TIME_WAIT, the table shows {raw}"
    );
}

#[test]
fn time_wait_counts_match_ss_at_the_same_moment() {
    if ss_time_wait(1).is_none() {
        skip("`ss` (iproute2) is not installed");
        return;
    }
    // A port with no sockets at all yet, so `ss` has nothing from earlier runs to count either.
    let listener = (0..20)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)).unwrap())
        .find(|l| ss_time_wait(l.local_addr().unwrap().port()) == Some((0, 0)))
        .expect("a port without leftover TIME_WAIT sockets");
    let server = listener.local_addr().unwrap();
    let sampler = start_sampler(server);
    let mut tuples = exchange(&listener, server, Closer::Client, 4);
    tuples.extend(exchange(&listener, server, Closer::Server, 6));
    settle(server);
    let outcome = sampler.stop(&tuples);
    // No TIME_WAIT socket of this run can expire within 60 s, and no new one appears: the final
    // snapshot and `ss` see the same moment.
    let (ss_client, ss_server) = ss_time_wait(server.port()).unwrap();
    assert_eq!((ss_client, ss_server), (4, 6));
    assert_time_wait(&outcome, ss_client, ss_server);
}

#[test]
fn ipv6_loopback_is_attributed() {
    let listener = match TcpListener::bind(("::1", 0)) {
        Ok(listener) => listener,
        Err(e) => {
            skip(&format!("no IPv6 loopback: {e}"));
            return;
        }
    };
    let server = listener.local_addr().unwrap();
    let sampler = start_sampler(server);
    let mut tuples = exchange(&listener, server, Closer::Client, 3);
    tuples.extend(exchange(&listener, server, Closer::Server, 2));
    settle(server);
    let outcome = sampler.stop(&tuples);
    assert_time_wait(&outcome, 3, 2);
    assert_eq!(outcome.distinct_connections, 5);
}

#[test]
fn ipv4_clients_of_a_dual_stack_server_are_attributed() {
    // A server on [::] sees IPv4 clients as ::ffff:127.0.0.1 in /proc/net/tcp6.
    let listener = match TcpListener::bind(("::", 0)) {
        Ok(listener) => listener,
        Err(e) => {
            skip(&format!("no IPv6 stack: {e}"));
            return;
        }
    };
    let server: SocketAddr = ([127, 0, 0, 1], listener.local_addr().unwrap().port()).into();
    let sampler = start_sampler(server);
    let tuples = match TcpStream::connect_timeout(&server, IO_TIMEOUT) {
        Ok(probe) => {
            let mut accepted = accept(&listener);
            probe.shutdown(Shutdown::Both).unwrap();
            drop(probe);
            read_to_eof(&mut accepted);
            let mut tuples = exchange(&listener, server, Closer::Server, 4);
            tuples.push(FourTuple::new(accepted.peer_addr().unwrap(), server));
            tuples
        }
        Err(e) => {
            skip(&format!(
                "the [::] listener does not accept IPv4 (bindv6only?): {e}"
            ));
            return;
        }
    };
    settle(server);
    let outcome = sampler.stop(&tuples);
    assert_time_wait(&outcome, 1, 4);
    assert_eq!(outcome.distinct_connections, 5);
}
