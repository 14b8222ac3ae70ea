//! What a new user meets in the first minutes: a misspelt flag value or expression is a usage
//! error (exit 2) that names the mistake and what would work, before anything runs.

use predicates::prelude::*;

use crate::helpers::kalab;

/// A two-variant sweep that would take seconds to run: the errors below come before it runs.
const SWEEP: &str = "name = \"pool\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n[sweep]\n\"client.max_idle_per_host\" = [1, 2]\n";

fn sweep_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("pool.toml");
    std::fs::write(&path, SWEEP).unwrap();
    path
}

#[test]
fn an_unknown_baseline_variant_is_refused_with_the_variants_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    for command in ["run", "check"] {
        let mut cmd = kalab();
        cmd.arg(command)
            .arg(&path)
            .args(["--capture", "off", "--baseline-variant", "nope"]);
        if command == "check" {
            cmd.args(["--expect", "requests_failed == 0"]);
        }
        cmd.assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains("--baseline-variant `nope`"))
            .stderr(predicate::str::contains(
                "`pool [max_idle_per_host=1]` (or `max_idle_per_host=1`)",
            ))
            .stderr(predicate::str::contains("`pool [max_idle_per_host=2]`"));
    }
}

#[test]
fn a_baseline_variant_that_exists_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    kalab()
        .arg("run")
        .arg(&path)
        .args([
            "--capture",
            "off",
            "--baseline-variant",
            "max_idle_per_host=2",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "pool [max_idle_per_host=1] opened as many connections as pool [max_idle_per_host=2]",
        ));
}

#[test]
fn a_baseline_variant_for_one_observed_run_is_refused() {
    kalab()
        .args([
            "observe",
            "--port",
            "1",
            "--baseline-variant",
            "x",
            "--",
            "true",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("measures one run"));
}

#[test]
fn a_wrong_operator_is_named_not_taken_for_part_of_the_metric() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    kalab()
        .arg("run")
        .arg(&path)
        .args(["--capture", "off", "--expect", "connections_opened =< 2"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unknown operator `=<`"))
        .stderr(predicate::str::contains("==, !=, <, <=, >, >="))
        .stderr(predicate::str::contains("did you mean `<=`"))
        .stderr(predicate::str::contains("unknown metric").not());
}

#[test]
fn a_program_given_to_observe_without_dashes_gets_the_command_line_with_them() {
    kalab()
        .args([
            "observe",
            "--port",
            "8080",
            "curl",
            "-s",
            "http://127.0.0.1:8080/",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unexpected argument 'curl'"))
        .stderr(predicate::str::contains(
            "`kalab observe --port 8080 -- curl -s http://127.0.0.1:8080/`",
        ));
}

#[test]
fn observe_without_a_port_mentions_serve() {
    kalab()
        .args(["observe", "--", "curl", "-s", "http://127.0.0.1:8080/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--port <N>"))
        .stderr(predicate::str::contains(
            "--serve to start kalab's embedded server",
        ));
}

/// The JSON report a command printed with `--export-json -`.
fn json_report(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn warnings_of(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["runs"][0]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_port_with_no_traffic_gets_a_hint_naming_the_flags_and_the_busy_ports() {
    // A real listener with one connection: the port the user probably meant.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    let _client = std::net::TcpStream::connect(("127.0.0.1", busy)).unwrap();
    let (_server_side, _) = listener.accept().unwrap();
    let quiet = crate::helpers::free_port();
    let output = kalab()
        .args(["watch", "--port", &quiet.to_string(), "--duration", "300ms"])
        .args(["--settle-ms", "0", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = json_report(&output);
    let hint = warnings_of(&report)
        .into_iter()
        .find(|w| w["kind"] == "no-traffic")
        .unwrap_or_else(|| panic!("no no-traffic warning: {report:#}"));
    assert_eq!(hint["port"], quiet);
    let listed = hint["listening"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|p| p["port"] == busy && p["connections"].as_u64() >= Some(1)),
        "{hint:#}"
    );
    kalab()
        .args(["watch", "--port", &quiet.to_string(), "--duration", "200ms"])
        .args(["--settle-ms", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing was seen on port"))
        .stdout(predicate::str::contains("check --port"));
}

#[test]
fn a_port_with_traffic_gets_no_such_hint() {
    let Some(curl) = crate::helpers::peer("curl") else {
        return;
    };
    let output = kalab()
        .args([
            "observe",
            "--serve",
            "--settle-ms",
            "50",
            "--format",
            "json",
            "--",
        ])
        .arg(curl)
        .args(["-s", "-o", "/dev/null", "http://127.0.0.1:{port}/"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = json_report(&output);
    assert!(
        warnings_of(&report)
            .iter()
            .all(|w| w["kind"] != "no-traffic"),
        "{report:#}"
    );
    // Which source counted the requests is a note, not a warning.
    assert!(
        warnings_of(&report).iter().any(|w| w["kind"] == "info"
            && w["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("requests counted by")),
        "{report:#}"
    );
}

#[test]
fn without_a_request_source_requests_are_unmeasured_not_zero() {
    let output = kalab()
        .args([
            "observe",
            "--port",
            &crate::helpers::free_port().to_string(),
        ])
        .args([
            "--capture",
            "off",
            "--settle-ms",
            "0",
            "--format",
            "json",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report = json_report(&output);
    assert_eq!(report["runs"][0]["requests_unmeasured"], true, "{report:#}");
    kalab()
        .args([
            "observe",
            "--port",
            &crate::helpers::free_port().to_string(),
        ])
        .args(["--capture", "off", "--settle-ms", "0", "--", "true"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"requests ok / failed\s+┆\s+unmeasured").unwrap());
    // An expectation on an unmeasured figure is not a pass.
    kalab()
        .args([
            "observe",
            "--port",
            &crate::helpers::free_port().to_string(),
        ])
        .args([
            "--capture",
            "off",
            "--settle-ms",
            "0",
            "--expect",
            "requests_failed == 0",
        ])
        .args(["--", "true"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not measured"));
}

#[test]
fn the_setcap_remedy_names_the_binary_run_as_dot_slash_kalab() {
    let Some(capsh) = crate::helpers::peer("capsh") else {
        return;
    };
    // A hard link of the binary in a directory with a space: run as `./kalab`, where
    // `$(command -v kalab)` would be empty, and the path must stay one shell word.
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = base.path().join("my tools");
    std::fs::create_dir(&dir).unwrap();
    std::fs::hard_link(env!("CARGO_BIN_EXE_kalab"), dir.join("kalab")).unwrap();
    let output = std::process::Command::new(capsh)
        .args([
            "--drop=cap_net_raw,cap_net_admin",
            "--",
            "-c",
            "exec ./kalab \"$@\"",
            "sh",
        ])
        .args([
            "observe",
            "--port",
            "9",
            "--capture",
            "required",
            "--",
            "true",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let real = std::fs::canonicalize(dir.join("kalab")).unwrap();
    assert!(
        stderr.contains(&format!(
            "sudo setcap cap_net_raw,cap_net_admin=eip '{}'",
            real.display()
        )),
        "{stderr}"
    );
}

/// A server on loopback that reads each request head and then, instead of a response, writes
/// `reply` (maybe nothing) and closes: every request fails after its connection was made.
fn closing_server(reply: &'static [u8], connections: usize) -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(reply);
        }
    });
    port
}

#[test]
fn a_request_that_fails_after_connecting_names_its_connection() {
    for reply in [&b""[..], b"HTTP/1.1 200 OK\r\nContent-Le"] {
        // Room for kalab's reachability probe before the run, and a retry.
        let port = closing_server(reply, 10);
        let report = crate::helpers::run_scenario(&format!(
            "name = \"closing\"\n[server]\nurl = \"http://127.0.0.1:{port}/\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 3\n"
        ));
        assert_eq!(report.requests_failed, 3, "{:?}", report.errors);
        let dialled: Vec<_> = report.dials.iter().filter_map(|d| d.local).collect();
        assert!(dialled.len() >= 3, "{:?}", report.dials);
        for request in &report.requests {
            assert!(request.error.is_some(), "{request:?}");
            let local = request.local.unwrap_or_else(|| {
                panic!("a failed request without its local address: {request:?}")
            });
            assert!(dialled.contains(&local), "{local} not dialled: {dialled:?}");
            // And so the report counts the failure against that connection.
            assert!(request.connection.is_some(), "{request:?}");
            assert_eq!(request.remote.map(|r| r.port()), Some(port), "{request:?}");
        }
    }
}

#[test]
fn a_bad_duration_says_how_to_write_one() {
    for command in [
        &["watch", "--port", "9"][..],
        &["run", "scenarios/h2c-multiplexing.toml"],
    ] {
        kalab()
            .args(command)
            .args(["--duration", "abc"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("a number is missing before `abc`"))
            .stderr(predicate::str::contains("`30s`"))
            .stderr(predicate::str::contains("expected number at").not());
    }
}

#[test]
fn the_demo_text_is_wrapped_and_says_what_it_quotes() {
    let output = kalab().arg("demo").env_remove("COLUMNS").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let explanation = &text[..text.find("Side by side:").expect("the table follows")];
    // Piped, there is no terminal width: every point is hard-wrapped all the same.
    for line in explanation.lines() {
        assert!(line.chars().count() <= 120, "too long: {line}");
    }
    if let Some(at) = explanation.find("  5. Port exhaustion") {
        let point = &explanation[at..];
        let point = &point[..point.find("\n\n").unwrap_or(point.len())];
        assert!(point.lines().count() > 1, "{point}");
    }
    // The figures quoted name their source, and the intro names every source they come from.
    assert!(
        !explanation.contains("counted by the client (dials) and the server (accepts)."),
        "{explanation}"
    );
    assert!(
        explanation.contains("the wire (the capture"),
        "{explanation}"
    );
    // concurrent-idle2 is not claimed deterministic: the lockstep count and the drift are said.
    assert!(
        explanation.contains("10 + 9 x 8 = 82 connections, the most this pattern opens"),
        "{explanation}"
    );
    assert!(
        !explanation.contains("keep the counts deterministic"),
        "{explanation}"
    );
}

#[test]
fn compare_refuses_a_baseline_variant_that_is_not_in_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = sweep_file(&dir);
    let json = dir.path().join("pool.json");
    kalab()
        .arg("run")
        .arg(&path)
        .args(["--capture", "off", "--export-json"])
        .arg(&json)
        .assert()
        .success();
    kalab()
        .arg("compare")
        .arg(&json)
        .args(["--baseline-variant", "nope"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("`pool [max_idle_per_host=2]`"));
    kalab()
        .arg("compare")
        .arg(&json)
        .args(["--baseline-variant", "max_idle_per_host=2"])
        .assert()
        .success();
}

/// A server on loopback that reads each request and never answers; it lets a connection go
/// when the client closes it.
fn silent_server(connections: usize) -> u16 {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut buf = [0u8; 1024];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_request_that_times_out_on_its_own_connection_names_it() {
    let port = silent_server(10);
    let report = crate::helpers::run_scenario(&format!(
        "name = \"silent\"\n[server]\nurl = \"http://127.0.0.1:{port}/\"\n[client]\nrequest_timeout_ms = 300\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 2\n"
    ));
    assert_eq!(report.requests_failed, 2, "{:?}", report.errors);
    assert_eq!(
        report.errors.get("timeout"),
        Some(&2),
        "{:?}",
        report.errors
    );
    let dialled: Vec<_> = report.dials.iter().filter_map(|d| d.local).collect();
    let mut locals = Vec::new();
    for request in &report.requests {
        let local = request.local.unwrap_or_else(|| {
            panic!("a timed-out request without its local address: {request:?}")
        });
        assert!(dialled.contains(&local), "{local} not dialled: {dialled:?}");
        assert!(request.connection.is_some(), "{request:?}");
        locals.push(local);
    }
    // Each timed-out request's connection is its own: a timeout ends the connection.
    locals.dedup();
    assert_eq!(locals.len(), 2, "{locals:?}");
}
