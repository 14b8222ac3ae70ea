//! Simultaneous close on loopback for real: Python's `http.server` speaks HTTP/1.0 and closes
//! each connection as soon as it has answered, while curl closes as soon as it has read the
//! body; now and then the two FINs cross. The wire must call those `closed-simultaneously`, and
//! the reconciliation must find TIME_WAIT on both sides for each of them.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kalab::model::Side;

use crate::helpers::{capture_expected, free_port, peer, summary};
use crate::observe::observe;

/// Observations tried at most, looking for FINs that cross (each one ten connections).
const MAX_OBSERVATIONS: usize = 10;
const URLS: usize = 10;

/// Python's HTTP server on `port`, serving `dir`; killed when dropped.
struct PythonServer(Child);

impl PythonServer {
    fn start(python: &std::path::Path, port: u16, dir: &std::path::Path) -> PythonServer {
        let child = Command::new(python)
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = PythonServer(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn crossed_fins_are_a_simultaneous_close_with_time_wait_on_both_sides() {
    let (Some(python), Some(curl)) = (peer("python3"), peer("curl")) else {
        return;
    };
    if !capture_expected() {
        return; // only the wire tells a simultaneous close (capture_expected said why)
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "hello\n").unwrap();
    let port = free_port();
    let _server = PythonServer::start(&python, port, dir.path());
    let url = format!("http://127.0.0.1:{port}/");
    let port = port.to_string();
    let curl = curl.to_string_lossy().into_owned();
    let mut command = vec![curl.as_str(), "-s"];
    for _ in 0..URLS {
        command.extend(["-o", "/dev/null", url.as_str()]);
    }
    let mut simultaneous_seen = 0;
    for _ in 0..MAX_OBSERVATIONS {
        let observed = observe(&["--port", &port, "--settle-ms", "200"], &command);
        let report = &observed.report;
        let closes = report.closes;
        assert_eq!(
            closes.by_client + closes.by_server + closes.simultaneous,
            URLS as u64,
            "every connection closed with FINs: {}",
            summary(report)
        );
        let crossed: Vec<_> = report
            .capture
            .as_ref()
            .unwrap()
            .connections
            .iter()
            .filter(|c| c.closed_simultaneously())
            .collect();
        assert_eq!(crossed.len() as u64, closes.simultaneous);
        let reconciled = report.time_wait_reconciled.expect("capture and sockets");
        for side in [Side::Client, Side::Server] {
            let terms = reconciled.side(side);
            let first = match side {
                Side::Client => closes.by_client,
                Side::Server => closes.by_server,
            };
            assert_eq!(
                (terms.closes, terms.simultaneous),
                (first + closes.simultaneous, closes.simultaneous),
                "{side} side: {}",
                summary(report)
            );
            assert!(
                terms.adds_up(),
                "{side} side: {terms:?}, {}",
                summary(report)
            );
        }
        simultaneous_seen += closes.simultaneous;
        if simultaneous_seen > 0 {
            break;
        }
    }
    if simultaneous_seen == 0 {
        eprintln!(
            "NOTE: no FINs crossed in {MAX_OBSERVATIONS} x {URLS} connections this time; the closes still reconciled"
        );
    }
}
