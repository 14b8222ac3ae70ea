//! Stop signals: SIGTERM and SIGINT during `run`, `observe` and `watch` end kalab with exit
//! 130, the report of what was measured on stdout and in every export, a complete capture file,
//! and no process left behind, grandchildren of an observed program included.
//!
//! The traffic goes to a small HTTP/1.1 server in the test, which says when requests arrive, so
//! each signal is sent once something was measured, whatever the load of the machine.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::helpers::capture_expected;

/// A keep-alive HTTP/1.1 server on a loopback port: answers every request with `ok` and counts
/// the requests.
struct CountingServer {
    port: u16,
    requests: Arc<AtomicU64>,
}

impl CountingServer {
    fn start() -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || serve(stream, &counted));
            }
        });
        CountingServer { port, requests }
    }

    /// Waits (at most a minute) until `n` requests arrived.
    fn wait_for(&self, n: u64) {
        let until = Instant::now() + Duration::from_secs(60);
        while self.requests.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < until, "{n} requests never arrived");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, counted: &AtomicU64) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = 0;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head += 1;
            if line == "\r\n" && head > 1 {
                break;
            }
        }
        counted.fetch_add(1, Ordering::SeqCst);
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

fn kalab_command() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("kalab"))
}

fn send(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// The pids of processes whose command line is exactly `argv`.
fn processes_running(argv: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z'))
            });
            cmdline == wanted && !zombie
        })
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A 10-second run (100 requests, 100 ms apart) to the counting server.
fn ten_second_run(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("ten-seconds.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"ten-seconds\"\n[server]\nurl = \"http://127.0.0.1:{port}/\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 100\npause_ms = 100\n"
        ),
    )
    .unwrap();
    path
}

fn interrupted_run_is_reported(signal: libc::c_int) {
    let server = CountingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let scenario = ten_second_run(dir.path(), server.port);
    let json_file = dir.path().join("runs.json");
    let csv_file = dir.path().join("runs.csv");
    let pcaps = dir.path().join("pcaps");
    let capture = if capture_expected() {
        "required"
    } else {
        "off"
    };
    let child = kalab_command()
        .args(["run", "--format", "json", "--capture", capture])
        .arg("--export-json")
        .arg(&json_file)
        .arg("--export-csv")
        .arg(&csv_file)
        .arg("--save-capture")
        .arg(&pcaps)
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Some requests in (about 2 s of the 10), then the signal.
    server.wait_for(15);
    send(&child, signal);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the last one as far as it got"), "{stderr}");
    let sent_to_server = server.requests.load(Ordering::SeqCst);
    for json in [out.stdout.clone(), std::fs::read(&json_file).unwrap()] {
        let set: kalab::report::ResultSet = serde_json::from_slice(&json).unwrap();
        assert_eq!(set.runs.len(), 1, "the interrupted run is reported");
        let run = &set.runs[0];
        assert!(run.interrupted, "marked interrupted");
        assert!(
            run.requests_sent >= 15 && run.requests_sent < 100,
            "the requests so far: {}",
            run.requests_sent
        );
        assert!(run.requests_sent <= sent_to_server);
        assert_eq!(run.connections_opened.client, Some(1));
        assert!(
            run.warnings
                .iter()
                .any(|w| w.to_string().contains("interrupted by")),
            "{:?}",
            run.warnings
        );
        assert!(
            !run.warnings
                .iter()
                .any(|w| w.to_string().contains("time limit")),
            "a signal is not the time limit: {:?}",
            run.warnings
        );
        if capture_expected() {
            assert_eq!(run.connections_opened.capture, Some(1));
        }
    }
    let csv = std::fs::read_to_string(&csv_file).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "interrupted");
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(
        column.map(|c| &row[c]),
        Some("true"),
        "marked in the CSV too"
    );
    if capture_expected() {
        let saved: Vec<_> = std::fs::read_dir(&pcaps).unwrap().flatten().collect();
        assert_eq!(saved.len(), 1);
        let analyzed = kalab_command()
            .args(["analyze", "--format", "json"])
            .arg(saved[0].path())
            .output()
            .unwrap();
        assert!(
            analyzed.status.success(),
            "the capture file is complete: {}",
            String::from_utf8_lossy(&analyzed.stderr)
        );
    }
}

#[test]
fn sigterm_during_a_run_reports_the_run_so_far() {
    interrupted_run_is_reported(libc::SIGTERM);
}

#[test]
fn ctrl_c_during_a_run_reports_the_run_so_far() {
    interrupted_run_is_reported(libc::SIGINT);
}

#[test]
fn sigterm_during_observe_stops_the_program_and_its_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("observed.json");
    let sleeper = ["sleep", "9.173"];
    let child = kalab_command()
        .args(["observe", "--serve", "--capture", "off", "--format", "json"])
        .arg("--export-json")
        .arg(&json_file)
        .args(["--", "sh", "-c", "sleep 9.173; true"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the grandchild runs", || {
        !processes_running(&sleeper).is_empty()
    });
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        processes_running(&sleeper).is_empty(),
        "the grandchild outlived kalab"
    );
    for json in [out.stdout.clone(), std::fs::read(&json_file).unwrap()] {
        let set: kalab::report::ResultSet = serde_json::from_slice(&json).unwrap();
        let observed = set.runs[0].observed().expect("an observed run");
        assert!(observed.stopped_by_kalab);
        assert!(observed.duration_ms < 9000.0);
    }
}

#[test]
fn what_an_observed_program_leaves_running_is_stopped_with_it() {
    let sleeper = ["sleep", "9.291"];
    let out = kalab_command()
        .args(["observe", "--serve", "--capture", "off", "--format", "json"])
        .args(["--", "sh", "-c", "sleep 9.291 & exit 0"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        processes_running(&sleeper).is_empty(),
        "the orphan outlived kalab"
    );
}

#[test]
fn sigterm_during_watch_reports_the_watch_so_far() {
    let server = CountingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let json_file = dir.path().join("watched.json");
    let mut child = kalab_command()
        .args(["watch", "--capture", "off", "--format", "json", "--port"])
        .arg(server.port.to_string())
        .arg("--export-json")
        .arg(&json_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");
    let mut client = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 40];
    client.read_exact(&mut answer).unwrap();
    send(&child, libc::SIGTERM);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{rest}");
    for json in [out.stdout.clone(), std::fs::read(&json_file).unwrap()] {
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["runs"].as_array().unwrap().len(), 1);
        assert_eq!(
            value["runs"][0]["watched"]["stopped_by_ctrl_c"], true,
            "{value}"
        );
    }
    drop(client);
}
