//! A wire that loses and duplicates packets: nginx in a network namespace this test creates,
//! behind a veth pair (198.18.0.1/30 here, 198.18.0.2/30 there), with nftables in the namespace
//! dropping a fifth of the packets each way at random and duplicating a tenth of the server's.
//! kalab's client runs outside against `[server] url`, capturing on the veth. SYNs, data and
//! FINs are retransmitted, SYN-ACKs and FINs arrive twice; every connection must still be
//! counted once, alike by the client, the wire and nginx (its `stub_status` accepts), and
//! `kalab analyze` of the capture must find as many connections as tshark.
//!
//! Needs root (CAP_NET_ADMIN for the namespace, CAP_NET_RAW for the capture): skipped with a
//! message without it, required under `CI=true`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kalab::report::Source;

use crate::helpers::{kalab, peer, skip, summary};
use crate::observe::read_report;

const CLIENT_ADDR: &str = "198.18.0.1";
const SERVER_ADDR: &str = "198.18.0.2";
/// Connections the scenario opens: 4 workers x 5 requests, each request on its own connection.
const CONNECTIONS: u64 = 20;

/// Runs `program args`, returning whether it succeeded (its stderr kept for the message).
fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|err| format!("{program}: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The namespace, its veth pair and the nginx inside; all removed on drop.
struct LossyLink {
    namespace: String,
    /// The lossy server port: a fresh one per run, so that a FIN an earlier run's client socket
    /// still retransmits to the same address is not on this run's wire.
    port: u16,
    host_side: String,
    nginx: Option<Child>,
    dir: tempfile::TempDir,
}

impl LossyLink {
    /// Creates the namespace and the link, or says why it cannot.
    fn create() -> Result<LossyLink, String> {
        let id = std::process::id();
        let link = LossyLink {
            namespace: format!("kalab-lossy-{id}"),
            port: 20_000 + (id % 20_000) as u16,
            host_side: format!("kl{id}h"),
            nginx: None,
            dir: tempfile::tempdir().unwrap(),
        };
        let (ns, host, port) = (link.namespace.as_str(), link.host_side.as_str(), link.port);
        let inner = format!("kl{id}n");
        run("ip", &["netns", "add", ns])?;
        let client_cidr = format!("{CLIENT_ADDR}/30");
        let server_cidr = format!("{SERVER_ADDR}/30");
        let steps: [&[&str]; 8] = [
            &["link", "add", host, "type", "veth", "peer", "name", &inner],
            &["link", "set", &inner, "netns", ns],
            &["addr", "add", &client_cidr, "dev", host],
            &["link", "set", host, "up"],
            &["-n", ns, "addr", "add", &server_cidr, "dev", &inner],
            &["-n", ns, "link", "set", &inner, "up"],
            &["-n", ns, "link", "set", "lo", "up"],
            &["-n", ns, "link", "show", &inner],
        ];
        for step in steps {
            run("ip", step)?;
        }
        // The first connection to the server port is kalab's reachability probe, made before the
        // run's collectors start: it is spared, so the probe's 2 s limit never fails on this link.
        // Every later packet to the server port (SYNs, data, FINs, ACKs) is dropped with 20%
        // chance, and so is every packet from it but the SYN-ACK: losing both a SYN and its
        // SYN-ACK would make one handshake in three fail, and SYN retransmissions back off
        // exponentially (1, 3, 7, 15, 31, 63 s), so a run would now and then outlast any
        // timeout. 10% of the server's packets that pass (SYN-ACKs included) are sent twice.
        let rules = format!(
            "table ip kalab_lossy {{
  set spared {{ type inet_service; size 1; flags dynamic; }}
  chain in {{
    type filter hook input priority 0; policy accept;
    iifname \"{inner}\" tcp dport {port} tcp flags syn add @spared {{ tcp sport }}
    iifname \"{inner}\" tcp dport {port} tcp sport @spared accept
    iifname \"{inner}\" tcp dport {port} numgen random mod 100 < 20 drop
  }}
  chain out {{
    type filter hook output priority 0; policy accept;
    oifname \"{inner}\" tcp sport {port} tcp dport @spared accept
    oifname \"{inner}\" tcp sport {port} tcp flags & syn == 0 numgen random mod 100 < 20 drop
    oifname \"{inner}\" tcp sport {port} numgen random mod 100 < 10 dup to {CLIENT_ADDR} device \"{inner}\"
  }}
}}
"
        );
        let rules_file = link.dir.path().join("lossy.nft");
        std::fs::write(&rules_file, rules).unwrap();
        run(
            "ip",
            &[
                "netns",
                "exec",
                ns,
                "nft",
                "-f",
                &rules_file.display().to_string(),
            ],
        )?;
        Ok(link)
    }

    /// Starts nginx in the namespace: the server port (lossy) answers every request, 8080 (spared by
    /// the rules, not captured) serves `stub_status`.
    fn start_nginx(&mut self, nginx: &Path) {
        let prefix = self.dir.path().display().to_string();
        let port = self.port;
        let config = format!(
            "worker_processes 1;\nerror_log {prefix}/error.log;\npid {prefix}/nginx.pid;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {prefix}/body;\n  proxy_temp_path {prefix}/proxy;\n  \
             fastcgi_temp_path {prefix}/fastcgi;\n  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n  \
             server {{ listen {SERVER_ADDR}:{port}; location / {{ return 200 \"hello from nginx\\n\"; }} }}\n  \
             server {{ listen {SERVER_ADDR}:8080; location /status {{ stub_status; }} }}\n}}\n"
        );
        let conf = self.dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .arg(nginx)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.nginx = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((SERVER_ADDR, 8080)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not listen in the namespace"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's `accepts` counter from `stub_status` (this request's own connection included).
    fn accepts(&self) -> u64 {
        let mut stream = TcpStream::connect((SERVER_ADDR, 8080)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        // "server accepts handled requests\n A H R"
        let numbers = text
            .lines()
            .skip_while(|l| !l.starts_with("server accepts"))
            .nth(1)
            .unwrap_or_else(|| panic!("no accepts in stub_status: {text}"));
        numbers.split_whitespace().next().unwrap().parse().unwrap()
    }
}

impl Drop for LossyLink {
    fn drop(&mut self) {
        if let Some(mut child) = self.nginx.take() {
            // SIGTERM lets the master stop its worker before the namespace goes.
            // SAFETY: kill only sends a signal to our own child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = child.wait();
        }
        // Deleting the namespace deletes the veth pair with it.
        let _ = run("ip", &["netns", "del", &self.namespace]);
        let _ = run("ip", &["link", "del", &self.host_side]);
    }
}

/// Counts `tshark -r FILE` lines for a display filter (or the conversations of `-z conv,tcp`).
fn tshark_count(tshark: &Path, file: &Path, filter: Option<&str>) -> u64 {
    let mut command = Command::new(tshark);
    command.arg("-r").arg(file);
    match filter {
        Some(filter) => command.args(["-Y", filter]),
        None => command.args(["-q", "-z", "conv,tcp"]),
    };
    let output = command.stderr(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "tshark failed on {}",
        file.display()
    );
    let text = String::from_utf8_lossy(&output.stdout);
    match filter {
        Some(_) => text.lines().filter(|l| !l.trim().is_empty()).count() as u64,
        None => text.lines().filter(|l| l.contains("<->")).count() as u64,
    }
}

/// The privileged peers, or `None` after a visible skip.
fn peers() -> Option<(PathBuf, PathBuf)> {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    let nginx = if sbin.is_file() { sbin } else { peer("nginx")? };
    let tshark = peer("tshark")?;
    for program in ["ip", "nft"] {
        let found = ["/usr/sbin", "/sbin", "/usr/bin"]
            .iter()
            .any(|dir| Path::new(dir).join(program).is_file());
        if !found {
            peer(program)?;
        }
    }
    Some((nginx, tshark))
}

#[test]
fn a_lossy_duplicating_link_still_counts_every_connection_once() {
    let Some((nginx, tshark)) = peers() else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("not root: the lossy-link test creates a network namespace and captures on it");
        return;
    }
    let mut link = match LossyLink::create() {
        Ok(link) => link,
        Err(err) => {
            skip(&format!("cannot create the lossy link: {err}"));
            return;
        }
    };
    link.start_nginx(&nginx);

    let port = link.port;
    let work = tempfile::tempdir().unwrap();
    let scenario = work.path().join("lossy.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"lossy-link\"\n[server]\nurl = \"http://{SERVER_ADDR}:{port}/\"\n\
             [client]\nkeep_alive = false\nrequest_timeout_ms = 120000\n\
             [pattern]\nkind = \"concurrent\"\nworkers = 4\nrequests_per_worker = 5\npause_ms = 0\n"
        ),
    )
    .unwrap();
    let captures = work.path().join("captures");
    let json = work.path().join("run.json");

    let accepts_before = link.accepts();
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .args(["--capture", "required", "--interface", &link.host_side])
        // Long enough for a FIN dropped three times in a row to be retransmitted (200 ms,
        // then 400, 800, 1600) before the capture stops.
        .args(["--settle-ms", "3500"])
        .arg("--save-capture")
        .arg(&captures)
        .arg("--export-json")
        .arg(&json)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "kalab run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let accepts_after = link.accepts();
    let report = read_report(&json);

    // nginx accepted the probe, the run's connections, and the second status request.
    let accepted = accepts_after - accepts_before - 2;
    assert_eq!(
        (report.requests_ok, report.requests_failed),
        (CONNECTIONS, 0),
        "{:?}: {}; failures: {:?}",
        report.errors,
        summary(&report),
        report
            .requests
            .iter()
            .filter_map(|r| r.error.as_ref())
            .collect::<Vec<_>>()
    );
    for source in [Source::Client, Source::Capture] {
        assert_eq!(
            report.connections_opened.get(source),
            Some(CONNECTIONS),
            "{source}: {}",
            summary(&report)
        );
    }
    assert_eq!(accepted, CONNECTIONS, "nginx accepts: {}", summary(&report));
    assert_eq!(report.connections_unanswered.capture, Some(0));

    let capture = report.capture.as_ref().unwrap();
    let s = &capture.summary;
    // Duplicated and retransmitted segments are counted once: one request and one response per
    // connection, one FIN per side.
    let opened = || capture.connections.iter().filter(|c| c.opened());
    assert!(
        opened().all(|c| c.requests == 1 && c.responses == 1),
        "{:?}",
        s
    );
    assert_eq!(
        (s.fins_from_client, s.fins_from_server),
        (CONNECTIONS, CONNECTIONS)
    );
    assert_eq!(s.requests, CONNECTIONS);

    let file = std::fs::read_dir(&captures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pcap"))
        .expect("a saved capture");
    // The link did lose and repeat packets: more SYNs and FINs on the wire than connections.
    let syn_packets = tshark_count(
        &tshark,
        &file,
        Some("tcp.flags.syn == 1 && tcp.flags.ack == 0"),
    );
    let fin_packets = s.fin_packets_from_client + s.fin_packets_from_server;
    eprintln!(
        "lossy link: {CONNECTIONS} connections, {syn_packets} SYN packets, {fin_packets} FIN packets, nginx accepted {accepted}"
    );
    assert!(
        syn_packets > CONNECTIONS || fin_packets > 2 * CONNECTIONS,
        "no SYN or FIN was lost or duplicated: the link is not lossy ({syn_packets} SYNs, {fin_packets} FINs)"
    );

    // `kalab analyze` of the capture finds every conversation tshark finds.
    let analyzed = kalab()
        .arg("analyze")
        .arg(&file)
        .args(["--format", "json"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(analyzed.status.success());
    let analysis: serde_json::Value = serde_json::from_slice(&analyzed.stdout).unwrap();
    let records = analysis["connections"].as_array().unwrap().len() as u64;
    let conversations = tshark_count(&tshark, &file, None);
    if records != conversations {
        let kept = std::env::temp_dir().join("kalab-lossy-mismatch.pcap");
        let _ = std::fs::copy(&file, kept);
    }
    let partial: Vec<_> = analysis["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["partial"] == true)
        .map(|c| c["tuple"]["client"].to_string())
        .collect();
    assert_eq!(
        records, conversations,
        "kalab analyze vs tshark -z conv,tcp (partial connections: {partial:?}; the capture is kept as kalab-lossy-mismatch.pcap in the temp directory)"
    );
    assert_eq!(
        analysis["summary"]["connections_opened"].as_u64(),
        Some(CONNECTIONS)
    );
}
