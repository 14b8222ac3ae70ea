//! HTTPS with real peers: curl and `openssl s_client` observed against `kalab observe --serve
//! --tls`, nginx with a session cache as an external `https://` target, and tshark reading
//! kalab's saved capture (its ClientHellos, and with kalab's key log the decrypted requests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kalab::model::HandshakeKind;
use kalab::report::{RunReport, Source};

use crate::helpers::{capture_of, kalab, peer, run_scenario, summary};
use crate::observe::{observe, read_report};

/// Server-side handshakes of a run, in accept order.
fn server_kinds(report: &RunReport) -> Vec<HandshakeKind> {
    report
        .server_connections
        .iter()
        .map(|c| {
            c.tls
                .as_ref()
                .unwrap_or_else(|| panic!("a connection without TLS: {}", summary(report)))
                .kind
        })
        .collect()
}

/// The wire's handshakes (full, resumed), when the capture is a source of the run.
fn wire_counts(report: &RunReport) -> Option<(u64, u64)> {
    capture_of(report)?;
    let tls = report.tls.as_ref().expect("TLS figures");
    Some((
        tls.handshakes_full.get(Source::Capture)?,
        tls.handshakes_resumed.get(Source::Capture)?,
    ))
}

#[test]
fn curl_with_three_urls_over_observe_serve_tls_costs_one_connection_and_one_handshake() {
    let Some(_) = peer("curl") else { return };
    let url = |path: &str| format!("https://127.0.0.1:{{port}}/{path}");
    let (a, b, c) = (url("a"), url("b"), url("c"));
    let observed = observe(
        &["--serve", "--tls"],
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "--cacert",
            "{ca}",
            &a,
            &b,
            &c,
        ],
    );
    let report = &observed.report;
    assert_eq!(report.observed().unwrap().exit_code, Some(0), "curl failed");
    assert_eq!(
        report.connections_opened.server,
        Some(1),
        "{}",
        summary(report)
    );
    assert_eq!(report.server_connections[0].requests, 3);
    assert_eq!(server_kinds(report), vec![HandshakeKind::Full]);
    if capture_of(report).is_some() {
        assert_eq!(report.connections_opened.capture, Some(1));
    }
    if let Some(wire) = wire_counts(report) {
        assert_eq!(wire, (1, 0), "wire: (full, resumed)");
    }
    // The requests are encrypted: they are counted by the server, not the capture.
    assert_eq!(report.requests_sent, 3);
}

#[test]
fn the_ca_file_is_exported_to_the_observed_program() {
    let observed = observe(
        &["--serve", "--tls"],
        &["sh", "-c", "grep -q 'BEGIN CERTIFICATE' \"$KALAB_CA\""],
    );
    assert_eq!(observed.report.observed().unwrap().exit_code, Some(0));
}

#[test]
fn openssl_s_client_reconnect_resumes_five_times_after_one_full_handshake() {
    let Some(_) = peer("openssl") else { return };
    // TLS 1.2: with TLS 1.3, s_client reconnects before its tickets arrive (they come after
    // the handshake), so it never has a session to resume.
    let observed = observe(
        &["--serve", "--tls"],
        &[
            "openssl",
            "s_client",
            "-connect",
            "127.0.0.1:{port}",
            "-CAfile",
            "{ca}",
            "-tls1_2",
            "-reconnect",
        ],
    );
    let report = &observed.report;
    assert_eq!(
        report.connections_opened.server,
        Some(6),
        "{}",
        summary(report)
    );
    let mut expected = vec![HandshakeKind::Full];
    expected.extend([HandshakeKind::Resumed; 5]);
    assert_eq!(server_kinds(report), expected);
    let tls = report.tls.expect("TLS figures");
    assert_eq!(tls.handshakes_full.server, Some(1));
    assert_eq!(tls.handshakes_resumed.server, Some(5));
    if let Some(wire) = wire_counts(report) {
        assert_eq!(wire, (1, 5), "wire: (full, resumed)");
    }
}

#[test]
fn openssl_s_client_reconnect_without_server_resumption_pays_six_full_handshakes() {
    let Some(_) = peer("openssl") else { return };
    let observed = observe(
        &["--serve", "--tls", "--no-tls-resumption"],
        &[
            "openssl",
            "s_client",
            "-connect",
            "127.0.0.1:{port}",
            "-CAfile",
            "{ca}",
            "-tls1_2",
            "-reconnect",
        ],
    );
    assert_eq!(server_kinds(&observed.report), vec![HandshakeKind::Full; 6]);
}

/// A CA and a certificate for 127.0.0.1 signed by it, as PEM files in `dir`: (ca, chain, key).
fn certificate_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("chain.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// nginx serving HTTPS on a loopback port, with its own prefix directory; stopped on drop.
struct HttpsNginx {
    child: Child,
    port: u16,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl HttpsNginx {
    fn start(settings: &str) -> Option<HttpsNginx> {
        let sbin = PathBuf::from("/usr/sbin/nginx");
        let nginx = if sbin.is_file() { sbin } else { peer("nginx")? };
        let dir = tempfile::tempdir().unwrap();
        let (ca, chain, key) = certificate_files(dir.path());
        let port = crate::helpers::free_port();
        let prefix = dir.path().display().to_string();
        let config = format!(
            "worker_processes 1;\nerror_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  \
             fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
             {settings}\n  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    \
             location / {{ return 200 \"hello from nginx over TLS\\n\"; }}\n  }}\n}}\n",
            chain.display(),
            key.display()
        );
        std::fs::write(dir.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(100));
        Some(HttpsNginx {
            child,
            port,
            ca,
            _dir: dir,
        })
    }

    fn scenario(&self, version: &str) -> String {
        format!(
            "name = \"nginx-https\"\n[server]\nurl = \"https://127.0.0.1:{}/\"\n[client]\nca_file = \"{}\"\ntls_versions = [\"{version}\"]\n\
             [pattern]\nkind = \"sequential\"\nrequests_per_worker = 10\npause_ms = 5\n",
            self.port,
            self.ca.display()
        )
    }
}

impl Drop for HttpsNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nginx_with_a_session_cache_resumes_every_connection_after_the_first() {
    let Some(nginx) = HttpsNginx::start(
        "keepalive_timeout 0;\n  ssl_session_cache shared:SSL:1m;\n  ssl_session_tickets off;",
    ) else {
        return;
    };
    for version in ["1.2", "1.3"] {
        let report = run_scenario(&nginx.scenario(version));
        assert_eq!(
            report.requests_ok,
            10,
            "{:?}",
            report.requests.first().and_then(|r| r.error.clone())
        );
        assert_eq!(report.connections_opened.client, Some(10));
        let tls = report.tls.expect("TLS figures");
        assert_eq!(
            (tls.handshakes_full.client, tls.handshakes_resumed.client),
            (Some(1), Some(9)),
            "TLS {version}: {}",
            summary(&report)
        );
        assert_eq!(tls.handshakes_full.server, None, "no server source");
        if let Some(wire) = wire_counts(&report) {
            assert_eq!(wire, (1, 9), "TLS {version}, wire: (full, resumed)");
        }
    }
}

#[test]
fn nginx_keep_alive_over_tls_costs_one_handshake() {
    let Some(nginx) = HttpsNginx::start("keepalive_timeout 65;\n  ssl_session_cache off;") else {
        return;
    };
    let report = run_scenario(&nginx.scenario("1.3"));
    assert_eq!(
        report.requests_ok,
        10,
        "{:?}",
        report.requests.first().and_then(|r| r.error.clone())
    );
    assert_eq!(report.connections_opened.client, Some(1));
    let tls = report.tls.expect("TLS figures");
    assert_eq!(tls.handshakes_full.client, Some(1));
    assert_eq!(tls.handshakes_resumed.client, Some(0));
}

#[test]
fn an_untrusted_certificate_fails_the_handshake_unless_insecure() {
    let Some(nginx) = HttpsNginx::start("keepalive_timeout 65;") else {
        return;
    };
    let untrusted = format!(
        "name = \"nginx-untrusted\"\n[server]\nurl = \"https://127.0.0.1:{}/\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n",
        nginx.port
    );
    let report = run_scenario(&untrusted);
    assert_eq!(report.requests_ok, 0);
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.error.as_ref().is_some_and(|e| e.kind == "connect")),
        "{:?}",
        report.errors
    );
    let insecure = untrusted.replace("[pattern]", "[client]\ninsecure = true\n[pattern]");
    let report = run_scenario(&insecure);
    assert_eq!(report.requests_ok, 2, "{:?}", report.errors);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.to_string().contains("insecure")),
        "{:?}",
        report.warnings
    );
}

/// Counts the lines tshark prints for `filter` on `pcap`, decoding `port` as TLS.
fn tshark_count(pcap: &Path, port: u16, filter: &str, keylog: Option<&Path>) -> usize {
    let mut command = Command::new("tshark");
    command
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("tcp.port=={port},tls")])
        .args(["-Y", filter])
        .args(["-T", "fields", "-e", "frame.number"]);
    if let Some(keylog) = keylog {
        command.args(["-o", &format!("tls.keylog_file:{}", keylog.display())]);
    }
    let output = command.output().expect("tshark runs");
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).lines().count()
}

#[test]
fn tshark_counts_the_same_client_hellos_and_decrypts_the_requests_with_the_key_log() {
    let Some(_) = peer("tshark") else { return };
    if capture_of(&run_scenario(
        "name = \"probe\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n",
    ))
    .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("https.toml");
    std::fs::write(
        &scenario,
        "name = \"https-resumption\"\n[server]\ntls = true\nkeep_alive = false\n\
         [pattern]\nkind = \"sequential\"\nrequests_per_worker = 10\n",
    )
    .unwrap();
    let keylog = dir.path().join("keys.log");
    let json = dir.path().join("run.json");
    let captures = dir.path().join("captures");
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .arg("--capture")
        .arg("required")
        .arg("--save-capture")
        .arg(&captures)
        .arg("--tls-keylog")
        .arg(&keylog)
        .arg("--export-json")
        .arg(&json)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = read_report(&json);
    let pcap = std::fs::read_dir(&captures)
        .unwrap()
        .next()
        .expect("a saved capture")
        .unwrap()
        .path();
    let port: u16 = report
        .target
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dials = report.dials.iter().filter(|d| d.local.is_some()).count();
    assert_eq!(dials, 10);
    assert_eq!(
        tshark_count(&pcap, port, "tls.handshake.type == 1", None),
        dials,
        "ClientHellos"
    );
    let tls = report.tls.expect("TLS figures");
    // kalab's own wire source counted the same hellos.
    assert_eq!(
        tls.handshakes_full.capture.unwrap() + tls.handshakes_resumed.capture.unwrap(),
        dials as u64,
        "kalab's capture"
    );
    // A resumed TLS 1.3 handshake sends no Certificate message: tshark sees one per full one.
    // (Encrypted in TLS 1.3: only with the key log.)
    assert_eq!(
        tshark_count(&pcap, port, "tls.handshake.type == 11", Some(&keylog)) as u64,
        tls.handshakes_full.client.unwrap(),
        "Certificate messages"
    );
    assert_eq!(tshark_count(&pcap, port, "http.request", None), 0);
    assert_eq!(
        tshark_count(&pcap, port, "http.request", Some(&keylog)) as u64,
        report.requests_sent,
        "decrypted requests"
    );
}

#[test]
fn a_hello_retry_request_is_counted_as_such_by_the_client() {
    // nginx accepts only P-384, rustls offers an X25519 key share first: the server asks again.
    let Some(nginx) = HttpsNginx::start(
        "keepalive_timeout 0;\n  ssl_ecdh_curve secp384r1;\n  ssl_session_cache shared:SSL:1m;",
    ) else {
        return;
    };
    let report = run_scenario(&nginx.scenario("1.3"));
    assert_eq!(report.requests_ok, 10, "{:?}", report.errors);
    let kinds: Vec<Option<HandshakeKind>> = report
        .dials
        .iter()
        .map(|d| d.tls.as_ref().map(|t| t.kind))
        .collect();
    // The first handshake retried; the client then remembers the group, and resumes.
    assert_eq!(kinds[0], Some(HandshakeKind::FullHrr), "{kinds:?}");
    assert!(
        kinds[1..]
            .iter()
            .all(|k| *k == Some(HandshakeKind::Resumed)),
        "{kinds:?}"
    );
    let tls = report.tls.expect("TLS figures");
    assert_eq!(tls.handshakes_full_hrr.client, Some(1));
    if let Some(capture) = capture_of(&report) {
        let first = capture
            .connections
            .iter()
            .filter(|c| c.opened())
            .min_by_key(|c| c.started_at_us())
            .unwrap();
        assert_eq!(
            first.tls.as_ref().map(|t| t.kind),
            Some(HandshakeKind::FullHrr)
        );
    }
}

#[test]
fn curl_http2_over_tls_agrees_on_h2_by_alpn() {
    let Some(_) = peer("curl") else { return };
    let url = "https://127.0.0.1:{port}/";
    let observed = observe(
        &["--serve", "--tls"],
        &[
            "curl",
            "-s",
            "--http2",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "--cacert",
            "{ca}",
            url,
            url,
        ],
    );
    let report = &observed.report;
    assert_eq!(
        report.connections_opened.server,
        Some(1),
        "{}",
        summary(report)
    );
    let served = &report.server_connections[0];
    assert_eq!(served.protocol, "h2");
    assert_eq!(served.requests, 2);
    let tls = served.tls.as_ref().expect("a TLS handshake");
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_eq!(tls.kind, HandshakeKind::Full);
}
