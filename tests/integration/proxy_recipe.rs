//! The README's recipe "is my proxy reusing its upstream connections?", run for real: kalab's
//! embedded server (`kalab observe --serve`) is the upstream, nginx a reverse proxy in front
//! of it, curl the client in front of nginx, and `kalab watch` on the upstream port. Without
//! `keepalive` in the upstream block nginx opens one upstream connection per request; with
//! `keepalive 16; proxy_http_version 1.1; proxy_set_header Connection "";` it reuses them.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kalab::report::ResultSet;

use crate::helpers::free_port;
use crate::helpers::{capture_expected, peer};
use crate::watch::{finish_watch, start_watch, Peer};

/// Requests curl sends through nginx (on one client connection).
const REQUESTS: u64 = 20;

/// The upstream block's keep-alive lines, as the recipe gives them.
const UPSTREAM_KEEPALIVE: &str = "keepalive 16;";
const LOCATION_KEEPALIVE: &str = "proxy_http_version 1.1; proxy_set_header Connection \"\";";

fn nginx_binary() -> Option<PathBuf> {
    // Debian installs nginx in /usr/sbin, which a non-root PATH may lack.
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.is_file() {
        Some(sbin)
    } else {
        peer("nginx")
    }
}

/// nginx on a fresh port, proxying to 127.0.0.1:`upstream`.
fn start_nginx(nginx: &Path, dir: &Path, upstream: u16, keepalive: bool) -> (Peer, u16) {
    let port = free_port();
    let prefix = dir.display();
    let (upstream_extra, location_extra) = if keepalive {
        (UPSTREAM_KEEPALIVE, LOCATION_KEEPALIVE)
    } else {
        ("", "")
    };
    let config = format!(
        "worker_processes 1;\nerror_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  \
         fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
         upstream backend {{\n    server 127.0.0.1:{upstream};\n    {upstream_extra}\n  }}\n  \
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://backend;\n      {location_extra}\n    }}\n  }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut nginx = Peer(child);
    // nginx writes its pid file once its listening socket is bound; no probe connection, which
    // could reach another test's server should the port have been taken in between.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("nginx.pid").exists() {
        if let Some(status) = nginx.0.try_wait().unwrap() {
            panic!(
                "nginx exited ({status}): {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (nginx, port)
}

/// kalab's embedded server as the upstream: `kalab observe --serve` on a port of its own
/// choosing, around a program that says the port (`$KALAB_PORT`) and waits; stopped with SIGINT
/// (so the program is stopped too).
struct Upstream(Peer);

impl Upstream {
    fn start() -> (Upstream, u16) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kalab"))
            .args([
                "observe",
                "--serve",
                "--capture",
                "off",
                "--format",
                "json",
                "--",
            ])
            .args([
                "sh",
                "-c",
                "echo \"upstream port $KALAB_PORT\" >&2; exec sleep 60",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let upstream = Upstream(Peer(child));
        let mut seen = String::new();
        let port = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "no upstream: {seen}"
            );
            if let Some(port) = line.trim().strip_prefix("upstream port ") {
                break port.parse().unwrap();
            }
            seen.push_str(&line);
        };
        // The embedded server listens before the program starts; the rest of its stderr is a
        // few lines at exit, well within the pipe's buffer.
        (upstream, port)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.0 .0.id()) {
            // SAFETY: kill(2) on our own child's pid, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
        let _ = self.0 .0.wait();
    }
}

/// Upstream connections opened and requests seen on them while curl sends [`REQUESTS`]
/// requests through nginx.
fn upstream_figures(keepalive: bool) -> Option<(u64, u64, f64)> {
    let nginx = nginx_binary()?;
    let curl = peer("curl")?;
    if !capture_expected() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_upstream, upstream_port) = Upstream::start();
    let (_nginx, port) = start_nginx(&nginx, dir.path(), upstream_port, keepalive);
    let upstream_text = upstream_port.to_string();
    let (watch, stderr) = start_watch(
        &[],
        &[
            "--port",
            &upstream_text,
            "--duration",
            "4s",
            "--format",
            "json",
        ],
    );
    let url = format!("http://127.0.0.1:{port}/");
    let mut command = Command::new(curl);
    command.arg("-sf");
    for _ in 0..REQUESTS {
        command.args(["-o", "/dev/null", &url]);
    }
    let status = command.status().unwrap();
    assert!(status.success(), "curl through nginx: {status}");
    let (code, stdout, stderr) = finish_watch(watch, stderr);
    assert_eq!(code, Some(0), "{stderr}");
    let results: ResultSet = serde_json::from_slice(&stdout).unwrap();
    let run = &results.runs[0];
    assert_eq!(run.requests_ok, REQUESTS, "{:?}", run.warnings);
    let opened = run.connections_opened.capture.expect("capture source");
    Some((opened, run.requests_ok, run.reuse_ratio.unwrap_or_default()))
}

#[test]
fn nginx_without_upstream_keepalive_opens_one_upstream_connection_per_request() {
    let Some((opened, requests, reuse)) = upstream_figures(false) else {
        return;
    };
    assert_eq!(opened, requests, "one upstream connection per request");
    assert_eq!(reuse, 1.0);
}

#[test]
fn nginx_with_upstream_keepalive_reuses_its_upstream_connections() {
    let Some((opened, requests, reuse)) = upstream_figures(true) else {
        return;
    };
    assert!(
        opened * 5 <= requests,
        "far fewer upstream connections than requests: {opened} for {requests}"
    );
    assert!(reuse >= 5.0, "reuse ratio {reuse}");
}
