//! A whole measuring session in-process, on recorded instruments: the packets come from a
//! committed capture file and the socket table from canned `/proc/net/tcp` text, so it needs no
//! network and no privilege. The driver is a real program (`true`) that sends nothing: every
//! figure comes from the recordings, through the same session the commands use.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kalab::model::Source;
use kalab::report::DrivenBy;
use kalab::session::{self, CaptureMode, Instruments, ObserveSpec, RecordedCapture, RunOptions};
use kalab::sockets::{parse_tcp_table, PortSysctls, ScriptedTable};

/// The fixture's connections, as `kalab analyze` reads them: two HTTP/1.1 requests to port
/// 18931, one connection per request; the client closed the first (127.0.0.1:35088), the
/// server the second (127.0.0.1:35104).
const FIXTURE: &str = "tests/fixtures/capture/lo-en10mb.pcap";
const SERVER_PORT: u16 = 18931;

/// `/proc/net/tcp` after those two connections: each one's active closer holds TIME_WAIT
/// (ports in hex: 18931 = 49F3, 35088 = 8910, 35104 = 8920), beside an unrelated connection.
const SOCKETS_AFTER: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:49F3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8910 0100007F:49F3 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   2: 0100007F:49F3 0100007F:8920 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   3: 0100007F:1F90 0100007F:C000 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";

/// Instruments that replay the recordings: the capture file, an empty socket table at the
/// start and `SOCKETS_AFTER` from then on, fixed sysctls, and a clock at the capture's start.
fn recorded_instruments() -> Instruments {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let (after, malformed) = parse_tcp_table(SOCKETS_AFTER, false);
    assert_eq!((after.len(), malformed), (4, 0), "canned table parses");
    Instruments {
        capture: RecordedCapture::factory(fixture),
        socket_table: Arc::new(move || {
            Box::new(ScriptedTable::new(vec![Ok(Vec::new()), Ok(after.clone())]))
        }),
        port_sysctls: Arc::new(|| PortSysctls {
            local_port_range: Some((32768, 60999)),
            ..PortSysctls::default()
        }),
        clock: Arc::new(|| 1_700_000_000_000_000),
        listen_counters: Arc::new(|| None),
        somaxconn: Arc::new(|| Some(4096)),
    }
}

/// Observes `argv` on the fixture's server port with a required capture, through `instruments`.
fn observe_recorded(
    argv: &[&str],
    instruments: &Instruments,
) -> anyhow::Result<session::SessionOutcome> {
    let spec = ObserveSpec {
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        port: Some(SERVER_PORT),
        host: Some("127.0.0.1".parse().unwrap()),
        serve: None,
        pass_stdout: false,
        options: RunOptions {
            capture: CaptureMode::Required,
            settle: Duration::from_millis(20),
            sample_interval: Duration::from_millis(10),
            ..RunOptions::default()
        },
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(session::observe(&spec, instruments))
}

#[test]
fn a_whole_session_runs_on_a_recorded_capture_and_a_canned_socket_table() {
    let outcome = observe_recorded(&["true", "{port}"], &recorded_instruments())
        .unwrap_or_else(|err| panic!("session failed: {err:#}"));
    let report = outcome.report;
    assert!(!outcome.interrupted);

    // What drove it: the command, with its port substituted; no scenario pattern.
    let DrivenBy::Observed(observed) = &report.driven_by else {
        panic!("driven by the command: {:?}", report.driven_by)
    };
    assert_eq!(observed.command.argv, ["true", "18931"]);
    assert_eq!(observed.command.exit_code, Some(0));
    assert!(observed.serve.is_none());
    assert!(report.settings().is_none());
    assert_eq!(report.target, "http://127.0.0.1:18931/");
    assert_eq!(report.started_at_us, 1_700_000_000_000_000);

    // The wire: two connections, two requests answered, one close by each side.
    let capture = report.capture.as_ref().expect("capture source");
    assert_eq!(capture.connections.len(), 2);
    assert_eq!(report.connections_opened.get(Source::Capture), Some(2));
    assert_eq!(report.connections_opened.get(Source::Client), None);
    assert_eq!(report.connections_opened.get(Source::Server), None);
    assert_eq!((report.requests_sent, report.requests_ok), (2, 2));
    assert_eq!(report.reuse_ratio, Some(1.0));
    assert_eq!(report.closes.source, Some(Source::Capture));
    assert_eq!(
        (
            report.closes.by_client,
            report.closes.by_server,
            report.closes.reset
        ),
        (1, 1, 0)
    );

    // The socket table: this run's two TIME_WAIT sockets, one per side; the unrelated one
    // (port 8080) and the listener never count.
    assert_eq!(report.connections_opened.get(Source::Sockets), None);
    assert_eq!(report.connections_seen_lower_bound, Some(2));
    let time_wait = report.time_wait.expect("sockets source");
    assert_eq!(
        (
            time_wait.time_wait_client_end,
            time_wait.time_wait_server_end
        ),
        (1, 1)
    );
    assert_eq!(time_wait.time_wait_client_peak, 1);

    // The sysctls came through the seam: the forecast uses the canned port range.
    let forecast = report.port_forecast.as_ref().expect("port forecast");
    assert_eq!(forecast.ports_available, 60999 - 32768 + 1);
    assert!(
        !report
            .warnings
            .iter()
            .any(|w| w.to_string().contains("sources disagree")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_required_capture_that_cannot_start_stops_the_session_before_the_driver() {
    let mut instruments = recorded_instruments();
    instruments.capture = Arc::new(|_| {
        Err(kalab::capture::CaptureError::Interface {
            interface: "recorded".to_string(),
            message: "no capture here".to_string(),
        })
    });
    let marker = tempfile::tempdir().unwrap();
    let touched = marker.path().join("ran");
    let err = observe_recorded(&["touch", &touched.display().to_string()], &instruments)
        .expect_err("--capture required without a capture");
    assert!(format!("{err:#}").contains("--capture required"), "{err:#}");
    assert!(!touched.exists(), "the driver must not run");
}
