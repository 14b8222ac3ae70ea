//! Faults with nothing lost: the external target killed in the middle of a run, kalab short of
//! file descriptors (`ulimit -n 256` with 1,000 workers), and no local port left inside a
//! network namespace with a narrowed `ip_local_port_range`. Each asserts the message, the exit
//! code and the report that survives. (An export to a full disk is in `stdout_only`.)

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::helpers::{in_ci, peer, skip};

fn kalab_path() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("kalab")
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_target_killed_mid_run_leaves_counted_failures_and_the_report() {
    let Some(python) = peer("python3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    let mut server = Command::new(python)
        .args([
            "-u",
            "-m",
            "http.server",
            "--protocol",
            "HTTP/1.1",
            "--bind",
            "127.0.0.1",
            "0",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let scenario = write(
        dir.path(),
        "killed.toml",
        &format!(
            "name = \"killed\"\n[server]\nurl = \"http://127.0.0.1:{port}/hello.txt\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 60\npause_ms = 50\n"
        ),
    );
    let kalab = Command::new(kalab_path())
        .args(["run", "--capture", "off", "--format", "json"])
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The server logs each request on stderr: kill it after the fifth.
    let mut log = BufReader::new(server.stderr.take().unwrap());
    let mut served = 0;
    while served < 5 {
        let mut entry = String::new();
        if log.read_line(&mut entry).unwrap() == 0 {
            panic!("the server ended early");
        }
        served += usize::from(entry.contains("\"GET /hello.txt"));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let out = kalab.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the run itself worked: {stderr}"
    );
    let set: kalab::report::ResultSet = serde_json::from_slice(&out.stdout).unwrap();
    let run = &set.runs[0];
    assert_eq!(run.requests_sent, 60, "every request was tried");
    // The fifth may have been cut by the kill.
    assert!(run.requests_ok >= 4, "{}", run.requests_ok);
    assert!(run.requests_failed > 0);
    let counted: u64 = run.errors.values().sum();
    assert_eq!(
        counted, run.requests_failed,
        "every failure has a kind: {:?}",
        run.errors
    );
    assert!(run.errors.contains_key("connect"), "{:?}", run.errors);
    assert!(
        run.warnings
            .iter()
            .any(|w| w.to_string().contains("failed")),
        "{:?}",
        run.warnings
    );
}

#[test]
fn short_of_file_descriptors_a_run_degrades_says_why_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "many.toml",
        "name = \"many\"\n[pattern]\nkind = \"concurrent\"\nworkers = 1000\nrequests_per_worker = 2\n",
    );
    let json = dir.path().join("many.json");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" run --capture off --max-run-secs 60 --export-json "$1" "$2""#)
        .arg(kalab_path())
        .arg(&json)
        .arg(&scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "requests failed: too many open files: the file-descriptor limit (ulimit -n) is 256"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let set: kalab::report::ResultSet =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let run = &set.runs[0];
    assert_eq!(run.requests_sent, 2000);
    assert!(run.requests_failed > 1000, "{}", run.requests_failed);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("many"),
        "the table is out"
    );
}

/// Runs `script` in a fresh network namespace (its own loopback, its own sysctls), or skips
/// when namespaces cannot be made here.
fn in_namespace(script: &str, args: &[&std::ffi::OsStr]) -> Option<std::process::Output> {
    let unshare = peer("unshare")?;
    peer("ip")?;
    let probe = Command::new(&unshare).args(["-n", "true"]).output().ok()?;
    if !probe.status.success() {
        skip("cannot create a network namespace (needs root): port exhaustion is not tested");
        return None;
    }
    Some(
        Command::new(unshare)
            .args(["-n", "sh", "-c", script])
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn no_local_port_left_is_counted_reported_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    // Every request on a fresh connection the client closes: each leaves a TIME_WAIT socket on
    // one of the ten local ports the namespace allows.
    let scenario = write(
        dir.path(),
        "ports.toml",
        "name = \"ports\"\n[client]\nmax_idle_per_host = 0\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 40\n",
    );
    let json = dir.path().join("ports.json");
    let script = r#"ip link set lo up && echo "40000 40009" > /proc/sys/net/ipv4/ip_local_port_range && exec "$0" run --capture off --export-json "$1" "$2""#;
    let Some(out) = in_namespace(
        script,
        &[
            kalab_path().as_os_str(),
            json.as_os_str(),
            scenario.as_os_str(),
        ],
    ) else {
        assert!(!in_ci(), "CI must test port exhaustion");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("requests failed: cannot assign requested address"),
        "{stderr}"
    );
    let set: kalab::report::ResultSet =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let run = &set.runs[0];
    assert_eq!(run.requests_sent, 40);
    assert!(run.requests_ok >= 1, "the first ports worked");
    assert!(run.requests_failed >= 21, "{:?}", run.errors);
    assert!(
        run.port_forecast.is_some(),
        "the port forecast stands next to the finding"
    );
}
