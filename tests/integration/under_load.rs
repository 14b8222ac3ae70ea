//! Exact under load: a thousand concurrent workers against the embedded server, and repeated
//! runs of two hundred, counted alike by the client, the server and the wire, with the kernel's
//! listen-queue counters as witnesses; and a listener whose accept queue is full, whose
//! unanswered SYNs are attempts reported apart, with their cause.
//!
//! The test harness starts tests in name order: this module's name puts its two heavy tests
//! (both cores busy for about a minute) near the end of the suite, after the timing-sensitive
//! ones have run.

use kalab::report::{RunReport, Source, Warning};

use crate::helpers::{assert_source, capture_expected, capture_of, peer, run_scenario, summary};
use crate::observe::observe;

/// The kernel's listen-queue counters belong to the network namespace, and one test here
/// overflows a queue on purpose: the tests that read the counters take turns.
static LISTEN_COUNTERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counters_to_myself() -> std::sync::MutexGuard<'static, ()> {
    LISTEN_COUNTERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Raises this process's open-file limit to what `needed` descriptors take (or the hard limit):
/// a thousand workers hold a thousand client and a thousand server sockets at once.
fn raise_file_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < needed {
            limit.rlim_cur = needed.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= needed,
        "the open-file limit is {} (hard limit {}); this test needs {needed}",
        limit.rlim_cur,
        limit.rlim_max
    );
}

/// Client, server and (when captured) the wire agree on the connections opened; every request
/// succeeded; no SYN went unanswered; the listen queues never overflowed.
fn assert_exact(report: &RunReport, requests: u64) {
    assert_same_everywhere(report, requests);
    if capture_expected() {
        assert_eq!(
            report.connections_unanswered.capture,
            Some(0),
            "{}",
            summary(report)
        );
    }
    let queue = report.listen_queue.expect("/proc/net/netstat read");
    assert_eq!(queue.listen_overflows, 0, "{}", summary(report));
}

/// Client, server and (when captured) the wire agree on the connections opened, and every
/// request succeeded; SYNs nobody answered, if any, are reported apart, with their cause.
fn assert_same_everywhere(report: &RunReport, requests: u64) {
    assert_eq!(
        (report.requests_ok, report.requests_failed),
        (requests, 0),
        "{:?}",
        report.errors
    );
    let opened = report.connections_opened.client.expect("client source");
    assert_source(report, Source::Server, opened);
    if capture_expected() {
        assert_source(report, Source::Capture, opened);
        let kernel = &report.capture.as_ref().unwrap().kernel;
        assert_eq!(kernel.dropped, 0, "the capture lost packets: {kernel:?}");
    }
    if let Some((count, source)) = report.connections_unanswered.best().filter(|&(n, _)| n > 0) {
        assert!(
            report.warnings.iter().any(|w| matches!(
                w,
                Warning::ConnectionsUnanswered { count: c, source: s, listen_overflows: Some(_) }
                    if *c == count && *s == source
            )),
            "{count} unanswered ({source}) without their finding: {}",
            summary(report)
        );
    }
}

#[test]
fn a_thousand_workers_are_counted_exactly_and_never_overflow_the_listen_queue() {
    let _turn = counters_to_myself();
    raise_file_limit(4096);
    let report = run_scenario(
        r#"
name = "thousand-workers"
[client]
max_idle_per_host = 10
[pattern]
kind = "concurrent"
workers = 1000
requests_per_worker = 20
pause_ms = 0
"#,
    );
    assert_exact(&report, 20_000);
    let opened = report.connections_opened.client.unwrap();
    assert!(opened >= 1000, "every worker dialled: {}", summary(&report));
}

#[test]
fn two_hundred_workers_repeated_nine_times_agree_on_every_source_in_every_run() {
    let _turn = counters_to_myself();
    raise_file_limit(4096);
    let text = r#"
name = "two-hundred-workers"
[pattern]
kind = "concurrent"
workers = 200
requests_per_worker = 40
pause_ms = 0
"#;
    for run in 1..=9 {
        let report = run_scenario(text);
        eprintln!(
            "run {run}/9: {}, unanswered {:?}, listen queue {:?}",
            summary(&report),
            report.connections_unanswered,
            report.listen_queue
        );
        // Equal on every source even if the listen queue overflowed (a machine whose
        // somaxconn is below 200): the SYNs nobody answered are attempts, reported apart.
        assert_same_everywhere(&report, 8_000);
        // The socket table samples: what it saw is a lower bound of the exact count.
        let opened = report.connections_opened.client.unwrap();
        let seen = report.connections_seen_lower_bound.unwrap_or(0);
        assert!(seen <= opened, "run {run}: {}", summary(&report));
    }
}

#[test]
fn syns_a_full_accept_queue_drops_are_attempts_reported_apart_with_their_cause() {
    let Some(python) = peer("python3") else {
        return;
    };
    let _turn = counters_to_myself();
    // A listener with a backlog of 1 that never accepts: two handshakes fill its accept queue,
    // and the kernel drops every later SYN (a listen overflow).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        socket.listen(1).unwrap()
    });
    let port = listener.local_addr().unwrap().port().to_string();
    // Four dials 50 ms apart, each given up after 1.5 s (one SYN retransmission). Apart, so
    // each handshake ends before the next SYN: SYNs arriving together would all be answered
    // while the queue is still empty, and a third client would believe itself connected.
    let dial = "import socket, sys, threading, time
held = []
def dial(i):
    time.sleep(0.05 * i)
    s = socket.socket()
    s.settimeout(1.5)
    try:
        s.connect(('127.0.0.1', int(sys.argv[1])))
        held.append(s)
    except OSError:
        s.close()
threads = [threading.Thread(target=dial, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print('connected', len(held))
";
    let python = python.to_string_lossy().into_owned();
    let observed = observe(
        &["--port", &port, "--host", "127.0.0.1"],
        &[&python, "-c", dial, &port],
    );
    drop(listener);
    let report = &observed.report;
    assert!(
        observed.stdout.contains("connected 2"),
        "two handshakes fit the queue: {}",
        observed.stdout
    );
    let overflows = report.listen_queue.expect("/proc/net/netstat read");
    assert!(overflows.listen_overflows >= 2, "{}", summary(report));
    if let Some(capture) = capture_of(report) {
        assert_eq!(
            report.connections_opened.capture,
            Some(2),
            "{}",
            summary(report)
        );
        assert_eq!(report.connections_unanswered.capture, Some(2));
        // Each dropped SYN was sent twice (a retransmission): still one attempt each.
        let attempts: Vec<_> = capture
            .connections
            .iter()
            .filter(|c| c.unanswered())
            .collect();
        assert_eq!(attempts.len(), 2);
        assert!(
            report.warnings.iter().any(|w| matches!(
                w,
                Warning::ConnectionsUnanswered { count: 2, source: Source::Capture, listen_overflows: Some(n) } if *n >= 2
            )),
            "{}",
            summary(report)
        );
    }
    // The socket table saw the two client sockets wait in SYN_SENT, and never answered.
    assert_eq!(
        report.connections_unanswered.sockets,
        Some(2),
        "{}",
        summary(report)
    );
    assert_eq!(report.connections_seen_lower_bound, Some(2));
}
