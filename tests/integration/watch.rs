//! `kalab watch` on a service kalab did not start: Python's `http.server` speaking HTTP/1.1 on a
//! fresh loopback port, with curl making three requests on one connection and then two on
//! connections of their own. kalab's figures are checked against tcpdump (SYNs, who sent the
//! first FIN) and `ss` (TIME_WAIT sockets by side) run in the same test; then the same traffic
//! without the capture capability (the socket table only, and the remedy), and a watch ended by
//! SIGINT (exit 130, valid exports, a complete capture file).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use kalab::report::{ResultSet, RunReport};

use crate::helpers::{capture_expected, peer};

/// A child process killed (by its own pid) when the test ends, however it ends.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `python3 -m http.server --protocol HTTP/1.1` on 127.0.0.1 and a port of its own choosing
/// (no port is picked and released first, which another test could take in between), serving
/// a small file. Returns once it listens, with its port.
fn python_server(python: &Path, dir: &Path) -> (Peer, u16) {
    python_server_on(python, dir, "127.0.0.1", 0)
}

/// The same on `ip`:`port` (`0`: a port of its own choosing).
fn python_server_on(python: &Path, dir: &Path, ip: &str, port: u16) -> (Peer, u16) {
    std::fs::write(dir.join("hello.txt"), "hello world").unwrap();
    let mut child = Command::new(python)
        .args([
            "-u",
            "-m",
            "http.server",
            "--protocol",
            "HTTP/1.1",
            "--bind",
            ip,
        ])
        .arg(port.to_string())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // It says `Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ...` once bound.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let server = Peer(child);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let bound: u16 = line
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("python http.server did not start on {ip}:{port}: {line:?}"));
    (server, bound)
}

/// Starts `kalab watch` (through `wrapper` if given) and waits for its "watching" line on
/// stderr: from then on the collectors run. Returns the child and the rest of its stderr.
pub fn start_watch(wrapper: &[&str], args: &[&str]) -> (Peer, BufReader<ChildStderr>) {
    let kalab = env!("CARGO_BIN_EXE_kalab");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(kalab);
            c
        }
        None => Command::new(kalab),
    };
    let mut child = command
        .arg("watch")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "kalab watch ended before watching: {seen}");
        seen.push_str(&line);
        if line.starts_with("kalab: watching") {
            break;
        }
    }
    (Peer(child), stderr)
}

/// Waits (bounded) for the watch to end; its exit code, stdout and the rest of its stderr.
pub fn finish_watch(
    mut watch: Peer,
    mut stderr: BufReader<ChildStderr>,
) -> (Option<i32>, Vec<u8>, String) {
    let mut stdout = Vec::new();
    watch
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = watch.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "kalab watch did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), stdout, rest)
}

/// curl: three requests on one connection, then two on a connection each.
fn curl_3_then_1_1(curl: &Path, port: u16) {
    let url = format!("http://127.0.0.1:{port}/hello.txt");
    let run = |urls: &[&str]| {
        let mut command = Command::new(curl);
        command.arg("-sf");
        for url in urls {
            command.args(["-o", "/dev/null", url]);
        }
        let status = command.status().unwrap();
        assert!(status.success(), "curl {urls:?}: {status}");
    };
    run(&[&url, &url, &url]);
    run(&[&url]);
    run(&[&url]);
}

/// tcpdump on `lo` for the port, writing `file`; returns once it is capturing.
pub fn start_tcpdump(tcpdump: &Path, port: u16, file: &Path) -> Peer {
    let mut child = Command::new(tcpdump)
        .args(["-i", "lo", "-U", "-n", "-w"])
        .arg(file)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "tcpdump: {line}");
    Peer(child)
}

/// Stops tcpdump (SIGINT to its own pid, so it flushes the file) and waits for it.
pub fn stop_tcpdump(mut tcpdump: Peer) {
    let pid = libc::pid_t::try_from(tcpdump.0.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, not yet reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let _ = tcpdump.0.wait();
}

/// What tcpdump's file says, read back with `tcpdump -r`: SYNs (without ACK) per client port,
/// and who sent each connection's first FIN.
pub struct Tcpdump {
    /// Client ports whose SYN was seen, in order.
    pub syn_ports: Vec<u16>,
    /// Client port -> `client` or `server`: the first FIN's sender.
    pub first_fin: BTreeMap<u16, &'static str>,
}

/// Reads a tcpdump file back with tcpdump itself.
pub fn read_tcpdump(tcpdump: &Path, file: &Path, server_port: u16) -> Tcpdump {
    let lines = |filter: &str| -> Vec<String> {
        let out = Command::new(tcpdump)
            .args(["-nn", "-r"])
            .arg(file)
            .arg(filter)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    // `... IP 127.0.0.1.44112 > 127.0.0.1.8000: Flags [S], ...`
    let ports = |line: &str| -> (u16, u16) {
        let mut words = line.split_whitespace().skip_while(|w| *w != "IP").skip(1);
        let port = |w: &str| {
            w.trim_end_matches(':')
                .rsplit('.')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let src = port(words.next().unwrap());
        words.next();
        let dst = port(words.next().unwrap());
        (src, dst)
    };
    let syn_ports = lines("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
        .iter()
        .map(|l| ports(l).0)
        .collect();
    let mut first_fin = BTreeMap::new();
    for line in lines("tcp[tcpflags] & tcp-fin != 0") {
        let (src, dst) = ports(&line);
        let (client_port, side) = if src == server_port {
            (dst, "server")
        } else {
            (src, "client")
        };
        first_fin.entry(client_port).or_insert(side);
    }
    Tcpdump {
        syn_ports,
        first_fin,
    }
}

/// TIME_WAIT sockets `ss` lists for these client ports to `server_port`: (client side, server
/// side).
pub fn ss_time_wait(ss: &Path, server_port: u16, client_ports: &[u16]) -> (u64, u64) {
    let out = Command::new(ss)
        .args(["-tan", "state", "time-wait"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut client, mut server) = (0, 0);
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [.., local, peer] = fields.as_slice() else {
            continue;
        };
        let port = |addr: &str| addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
        let (Some(local), Some(peer)) = (port(local), port(peer)) else {
            continue;
        };
        if peer == server_port && client_ports.contains(&local) {
            client += 1;
        } else if local == server_port && client_ports.contains(&peer) {
            server += 1;
        }
    }
    (client, server)
}

fn parse_run(stdout: &[u8]) -> RunReport {
    let results: ResultSet = serde_json::from_slice(stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(stdout)));
    assert_eq!(results.runs.len(), 1);
    results.runs.into_iter().next().unwrap()
}

struct Peers {
    python: PathBuf,
    curl: PathBuf,
    tcpdump: PathBuf,
    ss: PathBuf,
}

fn peers() -> Option<Peers> {
    Some(Peers {
        python: peer("python3")?,
        curl: peer("curl")?,
        tcpdump: peer("tcpdump")?,
        ss: peer("ss")?,
    })
}

#[test]
fn watch_counts_a_running_servers_connections_like_tcpdump_and_ss() {
    let Some(peers) = peers() else { return };
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = python_server(&peers.python, dir.path());
    let pcap = dir.path().join("tcpdump.pcap");
    let tcpdump = start_tcpdump(&peers.tcpdump, port, &pcap);
    let port_text = port.to_string();
    let (watch, stderr) = start_watch(
        &[],
        &["--port", &port_text, "--duration", "3s", "--format", "json"],
    );
    curl_3_then_1_1(&peers.curl, port);
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains("\x1b[2K") && !stderr.contains("watching    "),
        "no live line on a pipe: {stderr:?}"
    );
    stop_tcpdump(tcpdump);
    let run = parse_run(&stdout);
    let wire = read_tcpdump(&peers.tcpdump, &pcap, port);
    let (ss_client, ss_server) = ss_time_wait(&peers.ss, port, &wire.syn_ports);

    assert_eq!(
        run.connections_opened.capture,
        Some(3),
        "{:?}",
        run.warnings
    );
    assert_eq!(run.connections_opened.client, None, "kalab sent nothing");
    assert_eq!(wire.syn_ports.len(), 3, "tcpdump saw 3 SYNs");
    assert_eq!(run.connections_already_open, Some(0));
    let capture = run.capture.as_ref().unwrap();
    let mut connections: Vec<_> = capture.connections.iter().filter(|c| !c.partial).collect();
    connections.sort_by_key(|c| c.syn_at_us);
    let per_connection: Vec<u64> = connections.iter().map(|c| c.requests).collect();
    assert_eq!(per_connection, [3, 1, 1]);
    assert_eq!((run.requests_sent, run.requests_ok), (5, 5));
    assert_eq!(run.reuse_ratio, Some(5.0 / 3.0));

    // Closes per side: kalab's wire against tcpdump's first FINs.
    let tcpdump_client = wire.first_fin.values().filter(|s| **s == "client").count() as u64;
    let tcpdump_server = wire.first_fin.values().filter(|s| **s == "server").count() as u64;
    assert_eq!(wire.first_fin.len(), 3, "every connection closed");
    assert_eq!(
        (run.closes.by_client, run.closes.by_server),
        (tcpdump_client, tcpdump_server)
    );
    // TIME_WAIT per side: kalab's final snapshot against `ss` a moment later (TIME_WAIT lasts
    // 60 s, so nothing expires in between).
    let time_wait = run.time_wait.expect("sockets source");
    assert_eq!(
        (
            time_wait.time_wait_client_end,
            time_wait.time_wait_server_end
        ),
        (ss_client, ss_server)
    );
    assert_eq!(ss_client + ss_server, 3, "each close left one TIME_WAIT");
    let reconciled = run.time_wait_reconciled.expect("capture and sockets");
    assert!(reconciled.client.adds_up() && reconciled.server.adds_up());
    // One endpoint: its figures are the total's.
    assert_eq!(run.endpoints.len(), 1);
    assert_eq!(run.endpoints[0].connections_opened, run.connections_opened);
    assert!(run
        .watched()
        .is_some_and(|w| w.port == port && !w.stopped_by_ctrl_c));
}

#[test]
fn watch_without_the_capture_capability_uses_the_socket_table_and_says_how_to_grant_it() {
    let Some(peers) = peers() else { return };
    let Some(capsh) = peer("capsh") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = python_server(&peers.python, dir.path());
    let capsh = capsh.to_string_lossy().to_string();
    let wrapper = [
        capsh.as_str(),
        "--drop=cap_net_raw,cap_net_admin",
        "--",
        "-c",
        "exec \"$@\"",
        "sh",
    ];
    let port_text = port.to_string();
    let (watch, stderr) = start_watch(
        &wrapper,
        &["--port", &port_text, "--duration", "3s", "--format", "json"],
    );
    curl_3_then_1_1(&peers.curl, port);
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(0), "{stderr}");
    let run = parse_run(&stdout);
    assert!(run.capture.is_none());
    assert_eq!(run.connections_opened.capture, None);
    assert_eq!(run.connections_opened.best(), None, "no exact source");
    let warnings: Vec<String> = run.warnings.iter().map(|w| w.to_string()).collect();
    let missing = warnings
        .iter()
        .find(|w| w.contains("capture"))
        .unwrap_or_else(|| panic!("no word on the capture: {warnings:?}"));
    assert!(
        missing.contains("sudo setcap cap_net_raw,cap_net_admin=eip"),
        "{missing}"
    );
    // The socket table still saw every connection: each left a TIME_WAIT socket for 60 s.
    let time_wait = run.time_wait.expect("sockets source");
    assert_eq!(
        time_wait.time_wait_client_end + time_wait.time_wait_server_end,
        3,
        "{warnings:?}"
    );
    assert_eq!(run.connections_seen_lower_bound, Some(3));
}

#[test]
fn watch_stopped_by_sigint_exits_130_with_valid_exports_and_capture() {
    let Some(peers) = peers() else { return };
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = python_server(&peers.python, dir.path());
    let json = dir.path().join("watch.json");
    let csv = dir.path().join("watch.csv");
    let captures = dir.path().join("captures");
    let port_text = port.to_string();
    let (watch, stderr) = start_watch(
        &[],
        &[
            "--port",
            &port_text,
            "--export-json",
            json.to_str().unwrap(),
            "--export-csv",
            csv.to_str().unwrap(),
            "--save-capture",
            captures.to_str().unwrap(),
        ],
    );
    curl_3_then_1_1(&peers.curl, port);
    let pid = libc::pid_t::try_from(watch.0.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid, not yet reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        String::from_utf8_lossy(&stdout).contains("watch: port"),
        "the table is printed"
    );
    let run = parse_run(&std::fs::read(&json).unwrap());
    assert!(run.watched().is_some_and(|w| w.stopped_by_ctrl_c));
    assert_eq!(run.connections_opened.capture, Some(3));
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), 2, "{csv_text}");
    // The saved capture is complete: tcpdump reads it to the end and finds the 3 SYNs.
    let saved: Vec<_> = std::fs::read_dir(&captures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    let wire = read_tcpdump(&peers.tcpdump, &saved[0], port);
    assert_eq!(wire.syn_ports.len(), 3);
    assert_eq!(wire.first_fin.len(), 3);
}

#[test]
fn watch_gives_every_figure_per_server_endpoint() {
    let Some(peers) = peers() else { return };
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_first, port) = python_server(&peers.python, dir.path());
    let (_second, _) = python_server_on(&peers.python, dir.path(), "127.0.0.2", port);
    let port_text = port.to_string();
    let csv = dir.path().join("watch.csv");
    let (watch, stderr) = start_watch(
        &[],
        &[
            "--port",
            &port_text,
            "--duration",
            "3s",
            "--format",
            "json",
            "--export-csv",
            csv.to_str().unwrap(),
        ],
    );
    let url = |ip: &str| format!("http://{ip}:{port}/hello.txt");
    let status = Command::new(&peers.curl)
        .args([
            "-sf",
            "-o",
            "/dev/null",
            &url("127.0.0.1"),
            "-o",
            "/dev/null",
        ])
        .arg(url("127.0.0.1"))
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new(&peers.curl)
        .args(["-sf", "-o", "/dev/null", &url("127.0.0.2")])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(0), "{stderr}");
    let run = parse_run(&stdout);
    assert_eq!(run.connections_opened.capture, Some(2));
    let names: Vec<&str> = run.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["127.0.0.1", "127.0.0.2"]);
    let figures: Vec<(Option<u64>, u64, Option<f64>, u64)> = run
        .endpoints
        .iter()
        .map(|e| {
            (
                e.connections_opened.capture,
                e.requests_ok,
                e.reuse_ratio,
                e.time_wait.unwrap().time_wait_client_end,
            )
        })
        .collect();
    assert_eq!(
        figures,
        [(Some(1), 2, Some(2.0), 1), (Some(1), 1, Some(1.0), 1)]
    );
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        csv_text.lines().count(),
        4,
        "total and two endpoints: {csv_text}"
    );
    assert!(
        csv_text.lines().nth(3).unwrap().ends_with(",127.0.0.2"),
        "{csv_text}"
    );
}

#[test]
fn watch_rewrites_a_live_line_on_a_terminal() {
    let Some(script) = peer("script") else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let command = format!(
        "{} watch --port {port} --duration 2500ms --format json > /dev/null",
        env!("CARGO_BIN_EXE_kalab")
    );
    // `script` gives kalab a terminal for stderr and copies what it writes to ours.
    let output = Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    drop(listener);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    // One rewrite a second (how many fit in 2.5 s depends on the machine's load): each starts
    // with a carriage return and a clear-line, and says what the watch has seen so far.
    let lines: Vec<&str> = shown.split("\r\x1b[2K").skip(1).collect();
    assert!(!lines.is_empty(), "no live line: {shown:?}");
    for line in lines {
        assert!(line.starts_with("watching "), "{line:?}");
        assert!(line.contains(" s | "), "{line:?}");
        assert!(line.contains("TIME_WAIT client 0 / server 0"), "{line:?}");
    }
}

/// Sends one GET on `stream` and reads the response (the file is `hello world`).
fn get_on(stream: &mut TcpStream) {
    use std::io::Write as _;
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.ends_with(b"hello world") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the server closed the connection");
        response.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn a_connection_open_before_the_watch_is_reported_as_already_open_never_as_opened() {
    let Some(peers) = peers() else { return };
    if !capture_expected() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, port) = python_server(&peers.python, dir.path());
    let mut held = TcpStream::connect(("127.0.0.1", port)).unwrap();
    get_on(&mut held);
    let port_text = port.to_string();
    let (watch, stderr) = start_watch(
        &[],
        &["--port", &port_text, "--duration", "3s", "--format", "json"],
    );
    get_on(&mut held);
    drop(held);
    let status = Command::new(&peers.curl)
        .args(["-sf", "-o", "/dev/null"])
        .arg(format!("http://127.0.0.1:{port}/hello.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(0), "{stderr}");
    let run = parse_run(&stdout);
    assert_eq!(run.connections_opened.capture, Some(1), "curl's only");
    assert_eq!(run.connections_already_open, Some(1));
    assert_eq!(run.requests_ok, 1, "requests on full connections only");
    let capture = run.capture.as_ref().unwrap();
    let partial: Vec<_> = capture.connections.iter().filter(|c| c.partial).collect();
    assert_eq!(partial.len(), 1);
    assert_eq!(partial[0].requests, 1, "the request sent during the watch");
    assert!(
        run.warnings
            .iter()
            .any(|w| w.to_string().contains("already open when the run started")),
        "{:?}",
        run.warnings
    );
}
