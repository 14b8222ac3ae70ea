//! TLS handshakes on the wire, in captures kalab has never seen: nginx serving HTTPS on
//! loopback (certificate made by openssl, shared session cache and tickets), curl fetching
//! several URLs with `Connection: close` (curl resumes the first connection's session on the
//! next ones), tcpdump writing the pcap. `kalab analyze` must classify every connection's
//! handshake as tshark's dissection of the same file does: ClientHellos, full, full after a
//! HelloRetryRequest, resumed, connection by connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kalab::capture::{analyze_file, Analysis};
use kalab::model::HandshakeKind;

use crate::helpers::{capture_expected, kalab, peer, skip};

/// URLs curl fetches per run, each on its own connection.
const URLS: usize = 4;
/// The `random` of a TLS 1.3 HelloRetryRequest, as tshark prints it.
const HRR_RANDOM: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

/// One way to run nginx and curl.
struct Variant {
    /// nginx `ssl_protocols`.
    protocols: &'static str,
    /// More nginx `server` directives.
    nginx_extra: &'static str,
    /// More curl arguments.
    curl_extra: &'static [&'static str],
    /// (full, full-hrr, resumed) expected of curl 7.88 and nginx 1.22 with OpenSSL 3.
    expected: (u64, u64, u64),
}

/// The programs the tests drive, or None after a visible skip.
struct Peers {
    nginx: PathBuf,
    openssl: PathBuf,
    curl: PathBuf,
    tcpdump: PathBuf,
    tshark: PathBuf,
}

fn peers() -> Option<Peers> {
    // Debian installs nginx and tcpdump in /usr/sbin, which a non-root PATH may lack.
    let sbin = |name: &str| {
        let path = Path::new("/usr/sbin").join(name);
        path.is_file().then_some(path).or_else(|| peer(name))
    };
    let found = Peers {
        nginx: sbin("nginx")?,
        openssl: peer("openssl")?,
        curl: peer("curl")?,
        tcpdump: sbin("tcpdump")?,
        tshark: peer("tshark")?,
    };
    capture_expected().then_some(found)
}

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed certificate for 127.0.0.1 in `dir`: (certificate, key).
fn certificate(peers: &Peers, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new(&peers.openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext"])
        .arg("subjectAltName=IP:127.0.0.1,DNS:localhost")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

/// nginx serving HTTPS on `port` until dropped.
fn nginx(peers: &Peers, dir: &Path, port: u16, variant: &Variant) -> Running {
    let (cert, key) = certificate(peers, dir);
    let prefix = dir.display();
    let config = format!(
        "worker_processes 1;\nerror_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  \
         proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n  \
         uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
         server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {cert};\n    \
         ssl_certificate_key {key};\n    ssl_protocols {protocols};\n    \
         ssl_session_cache shared:kalab:1m;\n    ssl_session_tickets on;\n    {extra}\n    \
         location / {{ return 200 \"hello over tls\\n\"; }}\n  }}\n}}\n",
        cert = cert.display(),
        key = key.display(),
        protocols = variant.protocols,
        extra = variant.nginx_extra,
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config).unwrap();
    let child = Command::new(&peers.nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let running = Running(child);
    // Listening before the capture starts: the probe is not in the capture.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// tcpdump writing a capture, and what it says on stderr after its first line.
struct Tcpdump {
    process: Running,
    stderr: mpsc::Receiver<String>,
}

/// tcpdump writing `file`, capturing once this returns; None (after a visible skip) when it
/// may not capture. The snaplen keeps whole hellos for tshark, and is small enough that the
/// kernel ring (one slot per snaplen) holds thousands of packets: with the default snaplen of
/// 256 KiB a 2 MiB ring holds 8 loopback frames, and a busy machine drops whole handshakes.
fn tcpdump(peers: &Peers, file: &Path, port: u16) -> Option<Tcpdump> {
    let mut child = Command::new(&peers.tcpdump)
        .args([
            "-i",
            "lo",
            "--immediate-mode",
            "-U",
            "-s",
            "8192",
            "-B",
            "32768",
        ])
        .args(["-Z", "root", "-w"])
        .arg(file)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    // tcpdump announces "listening on lo" once it captures.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    if line.contains("ermission") || line.contains("not permitted") {
        skip(&format!("tcpdump cannot capture: {line}"));
        return None;
    }
    assert!(line.contains("listening"), "tcpdump said: {line:?}");
    Some(Tcpdump {
        process: running,
        stderr: rx,
    })
}

/// Stops tcpdump once `file` holds a sentinel connection opened after everything else, so no
/// packet of the run is still in flight; SIGINT makes it close the file.
fn stop_after_sentinel(mut tcpdump: Tcpdump, file: &Path, port: u16) {
    let sentinel = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let sentinel_port = sentinel.local_addr().unwrap().port();
    drop(sentinel);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let seen = |a: &Analysis| {
            a.connections
                .iter()
                .any(|c| c.tuple.client.port() == sentinel_port)
        };
        let seen = match analyze_file(file, Some(port)) {
            Ok(a) => seen(&a),
            Err(e) => e.partial().is_some_and(seen),
        };
        if seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sentinel connection never reached {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let process = &mut tcpdump.process.0;
    let pid = libc::pid_t::try_from(process.id()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while process.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "tcpdump did not stop");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Its closing words: "N packets captured ... M packets dropped by kernel".
    let said: Vec<String> = tcpdump.stderr.try_iter().collect();
    let dropped = said
        .iter()
        .find(|l| l.contains("dropped by kernel"))
        .unwrap_or_else(|| panic!("tcpdump said: {said:?}"));
    assert!(
        dropped.starts_with("0 "),
        "the capture is incomplete, the comparison would be void: {said:?}"
    );
}

/// curl fetching [`URLS`] URLs, each on a new connection; the sum of its `%{num_connects}`.
fn curl(peers: &Peers, dir: &Path, port: u16, variant: &Variant) -> u64 {
    let url = format!("https://127.0.0.1:{port}/");
    let mut command = Command::new(&peers.curl);
    command
        .args(["-s", "--max-time", "20", "--cacert"])
        .arg(dir.join("cert.pem"))
        .args(["-H", "Connection: close", "-w", "%{num_connects}\n"])
        .args(variant.curl_extra);
    for _ in 0..URLS {
        command.args(["-o", "/dev/null", url.as_str()]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "curl failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse::<u64>().unwrap())
        .sum()
}

/// What tshark dissects of one TCP stream's handshake.
#[derive(Debug, Default)]
struct StreamHellos {
    client_port: u16,
    client_hellos: u64,
    client_session_id: String,
    /// The server's hellos: (random, session id, extension types, selected version 1.3).
    server_hellos: Vec<(String, String, Vec<u16>, bool)>,
    certificate_seen: bool,
}

impl StreamHellos {
    /// The handshake by tshark's fields: TLS 1.3 resumed when the (last) ServerHello carries
    /// `pre_shared_key` (41), full-hrr after a HelloRetryRequest random; TLS 1.2 resumed when
    /// the ServerHello echoes the ClientHello's non-empty session id.
    fn kind(&self) -> Option<HandshakeKind> {
        let (random, session_id, extensions, tls13) = self.server_hellos.last()?;
        if *tls13 {
            let retried = self.server_hellos.iter().any(|h| h.0 == HRR_RANDOM);
            assert_ne!(random, HRR_RANDOM, "a retry without a second ServerHello");
            return Some(if extensions.contains(&41) {
                HandshakeKind::Resumed
            } else if retried {
                HandshakeKind::FullHrr
            } else {
                HandshakeKind::Full
            });
        }
        let echoed = !self.client_session_id.is_empty() && *session_id == self.client_session_id;
        // The other reading of TLS 1.2: an abbreviated handshake sends no Certificate.
        assert_eq!(echoed, !self.certificate_seen, "{self:?}");
        Some(if echoed {
            HandshakeKind::Resumed
        } else {
            HandshakeKind::Full
        })
    }
}

/// tshark's dissection of the hellos in `file`, per TCP stream.
fn tshark_hellos(peers: &Peers, file: &Path, port: u16) -> BTreeMap<u64, StreamHellos> {
    let out = Command::new(&peers.tshark)
        .arg("-r")
        .arg(file)
        .args(["-d", &format!("tcp.port=={port},tls")])
        .args(["-Y", "tls.handshake.type", "-T", "fields"])
        .args(["-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "tcp.stream", "-e", "tcp.srcport", "-e"])
        .args(["tls.handshake.type", "-e", "tls.handshake.session_id"])
        .args(["-e", "tls.handshake.random", "-e"])
        .args(["tls.handshake.extension.type", "-e"])
        .arg("tls.handshake.extensions.supported_version")
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark failed: {out:?}");
    let mut streams: BTreeMap<u64, StreamHellos> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 7, "{line:?}");
        let stream = streams.entry(f[0].parse().unwrap()).or_default();
        let from_server = f[1].parse::<u16>().unwrap() == port;
        let types: Vec<&str> = f[2].split(',').collect();
        if !from_server {
            stream.client_port = f[1].parse().unwrap();
            let hellos = types.iter().filter(|t| **t == "1").count() as u64;
            if hellos > 0 {
                stream.client_hellos += hellos;
                stream.client_session_id = f[3].to_string();
            }
            continue;
        }
        stream.certificate_seen |= types.contains(&"11");
        if types.contains(&"2") {
            let extensions = f[5].split(',').filter_map(|e| e.parse().ok()).collect();
            stream.server_hellos.push((
                f[4].to_string(),
                f[3].to_string(),
                extensions,
                f[6].split(',').any(|v| v == "0x0304"),
            ));
        }
    }
    streams
}

/// Runs nginx and curl under tcpdump, then compares `kalab analyze` with tshark.
fn handshakes_match_tshark(variant: Variant) {
    let Some(peers) = peers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let file = dir.path().join("tls.pcap");
    let _nginx = nginx(&peers, dir.path(), port, &variant);
    let Some(capture) = tcpdump(&peers, &file, port) else {
        return;
    };
    let connects = curl(&peers, dir.path(), port, &variant);
    assert_eq!(connects, URLS as u64, "curl opened one connection per URL");
    stop_after_sentinel(capture, &file, port);

    let out = kalab()
        .args(["analyze"])
        .arg(&file)
        .args(["--port", &port.to_string(), "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let analysis: Analysis = serde_json::from_slice(&out.stdout).unwrap();
    let tshark = tshark_hellos(&peers, &file, port);
    let seen: Vec<_> = analysis
        .connections
        .iter()
        .map(|c| {
            (
                c.tuple.client.port(),
                c.tls_seen,
                c.tls.as_ref().map(|t| t.kind),
            )
        })
        .collect();
    let context = format!("kalab: {seen:?}\ntshark: {tshark:?}");
    assert_eq!(analysis.summary.tls_connections, URLS as u64, "{context}");

    // Connection by connection: the same handshake as tshark reads.
    let by_port: BTreeMap<u16, Option<HandshakeKind>> =
        tshark.values().map(|s| (s.client_port, s.kind())).collect();
    let tls: Vec<_> = analysis.connections.iter().filter(|c| c.tls_seen).collect();
    assert_eq!(tls.len(), by_port.len(), "{context}");
    for c in &tls {
        assert_eq!(
            c.tls.as_ref().map(|t| t.kind),
            by_port[&c.tuple.client.port()],
            "connection from port {}\n{context}",
            c.tuple.client.port()
        );
    }
    // In total: ClientHellos (one more per retry), full, full-hrr, resumed.
    let count = |kind| by_port.values().filter(|k| **k == Some(kind)).count() as u64;
    let tshark_totals = (
        count(HandshakeKind::Full),
        count(HandshakeKind::FullHrr),
        count(HandshakeKind::Resumed),
    );
    let s = &analysis.summary;
    let kalab_totals = (
        s.tls_handshakes_full,
        s.tls_handshakes_full_hrr,
        s.tls_handshakes_resumed,
    );
    assert_eq!(kalab_totals, tshark_totals, "kalab vs tshark\n{context}");
    let retries = tshark
        .values()
        .flat_map(|s| &s.server_hellos)
        .filter(|h| h.0 == HRR_RANDOM)
        .count() as u64;
    let client_hellos: u64 = tshark.values().map(|s| s.client_hellos).sum();
    assert_eq!(s.tls_connections + retries, client_hellos);
    assert_eq!(s.tls_unclassified, 0);
    // What these peers do: a full handshake first, then every connection resumes it.
    assert_eq!(kalab_totals, variant.expected, "{context}");
    assert_eq!(s.tls_connections, URLS as u64);
    // The sentinel: one plain connection, no TLS.
    assert_eq!(s.connections_opened, URLS as u64 + 1);
}

#[test]
fn tls12_session_resumption_matches_tshark() {
    handshakes_match_tshark(Variant {
        protocols: "TLSv1.2",
        nginx_extra: "",
        curl_extra: &[],
        expected: (1, 0, URLS as u64 - 1),
    });
}

#[test]
fn tls13_psk_resumption_matches_tshark() {
    handshakes_match_tshark(Variant {
        protocols: "TLSv1.3",
        nginx_extra: "",
        curl_extra: &[],
        expected: (1, 0, URLS as u64 - 1),
    });
}

/// The server accepts only P-256 while curl's first key share is X25519: every connection
/// starts with a HelloRetryRequest, and still resumes.
#[test]
fn tls13_hello_retry_request_matches_tshark() {
    handshakes_match_tshark(Variant {
        protocols: "TLSv1.3",
        nginx_extra: "ssl_ecdh_curve prime256v1;",
        curl_extra: &["--curves", "X25519:P-256"],
        expected: (0, 1, URLS as u64 - 1),
    });
}
