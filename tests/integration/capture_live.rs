//! Real captures on `lo` (needs CAP_NET_RAW; run as root): `LiveCapture` around a tiny HTTP/1.1
//! server with known close sides over 127.0.0.1 and ::1, and `tcpdump` + `curl` captures checked
//! against `tshark`. Missing permission or tools skip visibly, unless `CI=true` makes them fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kalab::capture::{analyze_file, CaptureSpec, LiveCapture};

use crate::helpers::{peer, skip};

fn have_tool(tool: &str) -> bool {
    peer(tool).is_some()
}

/// A loopback HTTP/1.1 server: answers every request with `ok`, closes after a response when
/// the request said `Connection: close`, and closes when the client does.
struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const SERVER_DEADLINE: Duration = Duration::from_secs(30);

impl TestServer {
    fn start(bind: &str) -> TestServer {
        let listener = TcpListener::bind(bind).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + SERVER_DEADLINE;
            while !flag.load(Ordering::Acquire) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        std::thread::spawn(move || serve(stream));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..1000 {
        let mut close = false;
        let mut saw_request = false;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return, // the client closed (or went silent)
                Ok(_) => {}
            }
            if line == "\r\n" {
                break;
            }
            saw_request = true;
            close |= line.to_ascii_lowercase().starts_with("connection: close");
        }
        if !saw_request {
            return;
        }
        let response = if close {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        } else {
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        if writer.write_all(response.as_bytes()).is_err() || close {
            return; // dropping both halves sends the server's FIN first
        }
    }
}

/// Sends `requests` GETs on one connection; the last says `Connection: close` when the server
/// should close. Returns after the connection is closed.
fn client(addr: SocketAddr, requests: usize, server_closes: bool) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for i in 0..requests {
        let close = server_closes && i + 1 == requests;
        let header = if close { "Connection: close\r\n" } else { "" };
        write!(stream, "GET /{i} HTTP/1.1\r\nHost: t\r\n{header}\r\n").unwrap();
        let mut response = [0u8; 256];
        let mut got = Vec::new();
        while !got.ends_with(b"ok") {
            let n = stream.read(&mut response).unwrap();
            assert!(n > 0, "server closed early");
            got.extend_from_slice(&response[..n]);
        }
    }
    if server_closes {
        // Wait for the server's FIN before closing our end.
        let mut rest = [0u8; 16];
        assert_eq!(stream.read(&mut rest).unwrap(), 0);
    }
}

fn start_capture(spec: CaptureSpec) -> Option<LiveCapture> {
    match LiveCapture::start(spec) {
        Ok(c) => Some(c),
        Err(e) if e.is_permission() => {
            skip(&format!("no capture permission: {e}"));
            None
        }
        Err(e) => panic!("capture failed to start: {e}"),
    }
}

fn live_run(bind: &str, save: Option<&Path>) {
    let server = TestServer::start(bind);
    let spec = CaptureSpec {
        detail_cap: None,
        server: server.addr,
        interface: None,
        save_to: save.map(Path::to_path_buf),
    };
    let Some(capture) = start_capture(spec) else {
        return;
    };
    assert_eq!(capture.interface(), "lo");
    for _ in 0..5 {
        client(server.addr, 3, false);
    }
    for _ in 0..4 {
        client(server.addr, 2, true);
    }
    std::thread::sleep(Duration::from_millis(100)); // settle: let the last ACKs pass
    let started = Instant::now();
    let outcome = capture.stop();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stop took too long"
    );
    let s = &outcome.summary;
    assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
    assert_eq!(outcome.kernel.dropped, 0);
    assert_eq!(s.connections_opened, 9, "{s:?}");
    assert_eq!(s.partial_connections, 0);
    assert_eq!(s.closes_by_client, 5, "{s:?}");
    assert_eq!(s.closes_by_server, 4, "{s:?}");
    assert_eq!(s.closes_by_reset + s.open_at_end, 0, "{s:?}");
    assert_eq!(s.requests, 5 * 3 + 4 * 2);
    assert_eq!(outcome.packets_skipped, 0);
    for c in &outcome.connections {
        assert_eq!(c.tuple.server, server.addr);
        assert_eq!(c.requests, c.responses);
        assert!(c.syn_at_us.is_some() && c.syn_ack_at_us >= c.syn_at_us);
    }
    if let Some(path) = save {
        assert_eq!(outcome.saved_file.as_deref(), Some(path));
        let again = analyze_file(path, None).unwrap();
        assert_eq!(again.packets_read, outcome.packets_captured);
        assert_eq!(again.summary, outcome.summary);
    }
}

#[test]
fn live_capture_ipv4_counts_close_sides_and_saves_a_readable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.pcap");
    live_run("127.0.0.1:0", Some(&path));
    if path.exists() && have_tool("tshark") {
        let out = Command::new("tshark")
            .args([
                "-r",
                path.to_str().unwrap(),
                "-Y",
                "tcp.flags.syn==1 && tcp.flags.ack==0",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "tshark cannot read the saved file");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 9);
    }
}

#[test]
fn live_capture_ipv6() {
    if TcpListener::bind("[::1]:0").is_err() {
        skip("IPv6 loopback is not available");
        return;
    }
    live_run("[::1]:0", None);
}

#[test]
fn live_capture_stops_promptly_when_idle() {
    let server = TestServer::start("127.0.0.1:0");
    let Some(capture) = start_capture(CaptureSpec::new(server.addr)) else {
        return;
    };
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    let outcome = capture.stop();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(outcome.packets_captured, 0);
    assert!(outcome.connections.is_empty());
}

#[test]
fn bad_interface_is_a_clear_error() {
    let spec = CaptureSpec {
        detail_cap: None,
        server: "127.0.0.1:9".parse().unwrap(),
        interface: Some("kalab-no-such-if0".into()),
        save_to: None,
    };
    match LiveCapture::start(spec) {
        Err(e) if e.is_permission() => {
            skip(&format!("no capture permission: {e}"));
        }
        Err(e) => assert!(e.to_string().contains("kalab-no-such-if0"), "{e}"),
        Ok(_) => panic!("capturing on a missing interface succeeded"),
    }
}

fn tshark_count(file: &Path, args: &[&str]) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark {args:?} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[test]
fn tcpdump_and_curl_capture_matches_tshark() {
    if !(have_tool("tcpdump") && have_tool("tshark") && have_tool("curl")) {
        return;
    }
    let server = TestServer::start("127.0.0.1:0");
    let port = server.addr.port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("curl.pcap");
    let mut tcpdump = Command::new("tcpdump")
        .args([
            "-i",
            "lo",
            "--immediate-mode",
            "-U",
            "-s",
            "512",
            "-Z",
            "root",
            "-w",
        ])
        .arg(&file)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump announces "listening on lo" once it captures.
    let mut stderr = BufReader::new(tcpdump.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    if line.contains("ermission") || line.contains("not permitted") {
        let _ = tcpdump.kill();
        let _ = tcpdump.wait();
        skip(&format!("tcpdump cannot capture: {line}"));
        return;
    }
    assert!(line.contains("listening"), "tcpdump said: {line}");
    let url = format!("http://127.0.0.1:{port}/");
    // One connection with three requests (client closes), two closed by the server.
    let runs: [&[&str]; 3] = [
        &[url.as_str(), url.as_str(), url.as_str()],
        &["-H", "Connection: close", url.as_str()],
        &["-H", "Connection: close", url.as_str()],
    ];
    for args in runs {
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "10"])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::thread::sleep(Duration::from_millis(200));
    // SIGINT makes tcpdump flush and close the file.
    unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while tcpdump.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tcpdump did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }

    let a = analyze_file(&file, None).unwrap_or_else(|e| {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        panic!("{e} (file size {size} bytes)")
    });
    assert_eq!(a.port, port);
    let conversations = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-q", "-z", "conv,tcp"])
        .output()
        .unwrap();
    let conversations = String::from_utf8_lossy(&conversations.stdout)
        .lines()
        .filter(|l| l.contains("<->"))
        .count();
    let syns = tshark_count(&file, &["-Y", "tcp.flags.syn==1 && tcp.flags.ack==0"]);
    let fin_client = tshark_count(
        &file,
        &["-Y", &format!("tcp.flags.fin==1 && tcp.dstport=={port}")],
    );
    let fin_server = tshark_count(
        &file,
        &["-Y", &format!("tcp.flags.fin==1 && tcp.srcport=={port}")],
    );
    let rst = tshark_count(&file, &["-Y", "tcp.flags.reset==1"]);
    let s = &a.summary;
    assert_eq!(conversations, 3);
    assert_eq!(s.connections_opened as usize, conversations);
    assert_eq!(s.connections_opened as usize, syns);
    assert_eq!(s.fin_packets_from_client as usize, fin_client);
    assert_eq!(s.fin_packets_from_server as usize, fin_server);
    assert_eq!(s.rst_packets as usize, rst);
    assert_eq!(
        s.fins_from_client as usize, fin_client,
        "no retransmitted FINs on lo"
    );
    assert_eq!(s.fins_from_server as usize, fin_server);
    // Who closed first per connection, by tshark: the first FIN of each TCP stream, unless the
    // other side's FIN was sent before that one arrived (its ACK does not cover it): then the
    // FINs crossed, a simultaneous close. (curl closes as soon as it reads
    // `Connection: close`, racing the server's FIN.)
    let fins = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-Y",
            "tcp.flags.fin==1",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.len",
            "-e",
            "tcp.flags.ack",
            "-e",
            "tcp.ack_raw",
        ])
        .output()
        .unwrap();
    // Per stream: the first FIN's sender (true: the server) and where its sequence space ends,
    // then whether the other side's first FIN crossed it.
    let mut streams: std::collections::BTreeMap<String, (bool, u32, Option<bool>)> =
        std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&fins.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [stream, src, seq, len, ack_flag, ack] = f[..] else {
            continue;
        };
        let from_server = src == port.to_string();
        let seq: u32 = seq.parse().unwrap();
        let len: u32 = len.parse().unwrap();
        let acks = ack_flag == "1" || ack_flag == "True";
        let ack: u32 = ack.parse().unwrap_or(0);
        match streams.get_mut(stream) {
            None => {
                streams.insert(
                    stream.to_string(),
                    (from_server, seq.wrapping_add(len).wrapping_add(1), None),
                );
            }
            Some((first_from_server, first_end, crossed @ None))
                if *first_from_server != from_server =>
            {
                *crossed = Some(!(acks && ack.wrapping_sub(*first_end) as i32 >= 0));
            }
            Some(_) => {} // a retransmitted FIN
        }
    }
    assert_eq!(streams.len(), 3);
    let simultaneous = streams.values().filter(|s| s.2 == Some(true)).count() as u64;
    let by_server = streams
        .values()
        .filter(|s| s.0 && s.2 != Some(true))
        .count() as u64;
    assert_eq!(
        (
            s.closes_by_client,
            s.closes_by_server,
            s.closes_simultaneous
        ),
        (3 - by_server - simultaneous, by_server, simultaneous),
        "{s:?}"
    );
    assert_eq!(s.requests, 5);
    assert_eq!(s.requests_per_connection_max, Some(3));
}
