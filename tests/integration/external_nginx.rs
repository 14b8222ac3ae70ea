//! External targets: a real nginx started by the test on a loopback port. Its keep-alive
//! settings decide the connection count, and the capture sees the server close.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{capture_of, peer, run_scenario};

/// An nginx master process with its own prefix directory, stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(keepalive: &str) -> Option<Nginx> {
        // Debian installs nginx in /usr/sbin, which a non-root PATH may lack.
        let sbin = std::path::PathBuf::from("/usr/sbin/nginx");
        let nginx = if sbin.is_file() { sbin } else { peer("nginx")? };
        let dir = tempfile::tempdir().unwrap();
        let port = crate::helpers::free_port();
        let prefix = dir.path().display().to_string();
        let config = format!(
            "worker_processes 1;\nerror_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  \
             fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
             {keepalive}\n  server {{\n    listen 127.0.0.1:{port};\n    location / {{ return 200 \"hello from nginx\\n\"; }}\n  }}\n}}\n"
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
        // The readiness probe above is a connection of its own: let it close before the run.
        std::thread::sleep(Duration::from_millis(100));
        Some(Nginx {
            child,
            port,
            _dir: dir,
        })
    }

    fn scenario(&self) -> String {
        format!(
            "name = \"nginx\"\n[server]\nurl = \"http://127.0.0.1:{}/\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 20\npause_ms = 5\n[body]\npolicy = \"drain\"\n",
            self.port
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nginx_keepalive_requests_5_closes_every_fifth_request() {
    let Some(nginx) = Nginx::start("keepalive_requests 5; keepalive_timeout 65;") else {
        return;
    };
    let report = run_scenario(&nginx.scenario());
    assert_eq!(report.requests_ok, 20, "{:?}", report.errors);
    assert_eq!(report.connections_opened.client, Some(4));
    assert_eq!(
        report.connections_opened.server, None,
        "an external target has no server source"
    );
    if let Some(capture) = capture_of(&report) {
        assert_eq!(capture.summary.connections_opened, 4);
        // nginx says `Connection: close` on the 5th response and closes, nearly always before
        // the client does (the client can win that race under load).
        let summary = &capture.summary;
        // When the two FINs cross, the close is simultaneous: its own kind.
        assert_eq!(
            summary.closes_by_server + summary.closes_by_client + summary.closes_simultaneous,
            4,
            "{summary:?}"
        );
        assert!(summary.closes_by_server >= 2, "{summary:?}");
        assert_eq!(
            report.requests_per_connection.map(|s| (s.min, s.max)),
            Some((5.0, 5.0))
        );
    }
}

#[test]
fn nginx_keepalive_timeout_0_opens_one_connection_per_request() {
    let Some(nginx) = Nginx::start("keepalive_timeout 0;") else {
        return;
    };
    let report = run_scenario(&nginx.scenario());
    assert_eq!(report.requests_ok, 20, "{:?}", report.errors);
    assert_eq!(report.connections_opened.client, Some(20));
    let tw = report.time_wait.expect("sockets source");
    // Whoever closed first holds the TIME_WAIT: nearly always nginx, which says
    // `Connection: close` and closes; the client can win that race under load. When the FINs
    // cross (a simultaneous close), both sides hold one.
    let time_wait = tw.time_wait_server_end + tw.time_wait_client_end;
    assert!(time_wait >= 20, "{tw:?}");
    if let Some(capture) = capture_of(&report) {
        let summary = &capture.summary;
        assert_eq!(summary.connections_opened, 20);
        let both = summary.closes_simultaneous;
        assert_eq!(
            summary.closes_by_server + summary.closes_by_client + both,
            20,
            "{summary:?}"
        );
        assert_eq!(time_wait, 20 + both, "{tw:?}, {summary:?}");
        assert!(summary.closes_by_server >= 10, "{summary:?}");
        assert_eq!(tw.time_wait_server_end, summary.closes_by_server + both);
    }
}

#[test]
fn an_unreachable_target_fails_fast_with_exit_3() {
    let port = crate::helpers::free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        format!("name = \"gone\"\n[server]\nurl = \"http://127.0.0.1:{port}/\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 3\n"),
    )
    .unwrap();
    let started = Instant::now();
    let output = crate::helpers::kalab()
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is unreachable"));
    assert!(started.elapsed() < Duration::from_secs(5));
}
