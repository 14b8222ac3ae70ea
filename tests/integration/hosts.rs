//! Several hosts in one scenario: `hosts = 3` starts embedded servers on 127.0.0.1, 127.0.0.2
//! and 127.0.0.3 (one port), 9 workers x 10 requests spread round-robin across them, with
//! `max_idle_per_host = 1` and `= 3`. Every host's connections are counted by the client, the
//! servers and the capture, and must agree exactly, sum to the run's totals, and be compared
//! variant against variant, host by host.

use kalab::report::{ResultSet, RunReport, Source};

use crate::helpers::{capture_expected, kalab};

const SCENARIO: &str = r#"name = "hosts"
about = "9 workers x 10 requests across 3 loopback hosts"
[server]
hosts = 3
body_bytes = 1024
delay_us = 2000
[client]
max_idle_per_host = 1
[pattern]
kind = "concurrent"
workers = 9
requests_per_worker = 10
[body]
policy = "drain"
[sweep]
"client.max_idle_per_host" = [1, 3]
[expect]
"requests_ok[127.0.0.2]" = 30
"connections_opened[127.0.0.3]" = "<= 90"
"#;

const HOSTS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];

fn check_run(run: &RunReport) {
    assert_eq!(run.requests_ok, 90, "{:?}", run.errors);
    assert_eq!(run.endpoints.len(), 3, "{:?}", run.endpoints);
    let names: Vec<&str> = run.endpoints.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, HOSTS);
    let port = run.endpoints[0].endpoint.port();
    assert!(run.endpoints.iter().all(|e| e.endpoint.port() == port));
    let mut sources = vec![Source::Client, Source::Server];
    if capture_expected() {
        sources.push(Source::Capture);
    }
    for endpoint in &run.endpoints {
        // Round-robin from different starting hosts: every host gets exactly a third.
        assert_eq!(endpoint.requests_ok, 30, "{}", endpoint.name);
        let client = endpoint.connections_opened.client.unwrap();
        assert!(client >= 1);
        for &source in &sources {
            assert_eq!(
                endpoint.connections_opened.get(source),
                Some(client),
                "{} source on {}: {:?}",
                source,
                endpoint.name,
                endpoint.connections_opened
            );
        }
    }
    for &source in &sources {
        let sum: u64 = run
            .endpoints
            .iter()
            .map(|e| e.connections_opened.get(source).unwrap())
            .sum();
        assert_eq!(Some(sum), run.connections_opened.get(source), "{source}");
    }
    // Closes and TIME_WAIT: the hosts' shares add up to the total.
    let closes: u64 = run.endpoints.iter().map(|e| e.closes.by_client).sum();
    assert_eq!(closes, run.closes.by_client);
    let time_wait = run.time_wait.expect("sockets source");
    let host_time_wait: u64 = run
        .endpoints
        .iter()
        .map(|e| e.time_wait.unwrap().time_wait_client_end)
        .sum();
    assert_eq!(host_time_wait, time_wait.time_wait_client_end);
    // Each host is a distinct endpoint on the wire and in the client's dials.
    for dial in &run.dials {
        let remote = dial.remote.expect("every dial names its host");
        assert!(
            HOSTS.contains(&remote.ip().to_string().as_str()),
            "{remote}"
        );
        assert_eq!(remote.port(), port);
    }
    if let Some(capture) = &run.capture {
        for host in HOSTS {
            assert!(
                capture
                    .connections
                    .iter()
                    .any(|c| c.tuple.server.ip().to_string() == host),
                "no connection to {host} on the wire"
            );
        }
    }
}

#[test]
fn per_host_idle_limits_are_counted_per_host_by_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("hosts.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let markdown = dir.path().join("hosts.md");
    let csv = dir.path().join("hosts.csv");
    let json = dir.path().join("hosts.json");
    let output = kalab()
        .arg("check")
        .arg(&scenario)
        .arg("--export-json")
        .arg(&json)
        .arg("--export-markdown")
        .arg(&markdown)
        .arg("--export-csv")
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let results: ResultSet = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("4 of 4 expectation(s) held"), "{stdout}");
    assert_eq!(results.runs.len(), 2);
    for run in &results.runs {
        check_run(run);
    }
    let markdown = std::fs::read_to_string(&markdown).unwrap();
    for host in HOSTS {
        let row = format!("hosts [max_idle_per_host=3] @ {host}");
        let sentence = markdown
            .lines()
            .find(|l| {
                l.contains(&row) && l.contains("connections than hosts [max_idle_per_host=1] @ ")
                    || l.contains(&row)
                        && l.contains("as many connections as hosts [max_idle_per_host=1] @ ")
            })
            .unwrap_or_else(|| panic!("no sentence for {host}:\n{markdown}"));
        assert!(
            sentence.contains(&format!("than hosts [max_idle_per_host=1] @ {host}"))
                || sentence.contains(&format!("as hosts [max_idle_per_host=1] @ {host}")),
            "{sentence}"
        );
        let opened_1 = results.runs[0]
            .endpoints
            .iter()
            .find(|e| e.name == host)
            .unwrap();
        let opened_3 = results.runs[1]
            .endpoints
            .iter()
            .find(|e| e.name == host)
            .unwrap();
        let best = |e: &kalab::report::model::EndpointReport| {
            e.connections_opened.best().unwrap().0.to_string()
        };
        assert!(
            sentence.contains(&format!(
                "({} vs {} connections",
                best(opened_3),
                best(opened_1)
            )),
            "{sentence}"
        );
    }
    // CSV: a total row then one row per host, for each variant.
    let mut reader = csv::Reader::from_path(&csv).unwrap();
    let endpoint_column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "endpoint")
        .unwrap();
    let endpoints: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[endpoint_column].to_string())
        .collect();
    assert_eq!(
        endpoints,
        ["", HOSTS[0], HOSTS[1], HOSTS[2], "", HOSTS[0], HOSTS[1], HOSTS[2]]
    );
}

#[test]
fn a_host_named_in_an_expectation_is_checked_on_that_host_alone() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("hosts.toml");
    std::fs::write(
        &scenario,
        SCENARIO
            .replace("[sweep]\n\"client.max_idle_per_host\" = [1, 3]\n", "")
            .replace(
                "\"requests_ok[127.0.0.2]\" = 30",
                "\"requests_ok[127.0.0.2]\" = 31",
            ),
    )
    .unwrap();
    let output = kalab()
        .arg("check")
        .arg(&scenario)
        .args(["--capture", "off"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("requests_ok[127.0.0.2] == 31"), "{stdout}");
    assert!(stdout.contains("30"), "{stdout}");
}

#[test]
fn several_hosts_on_ipv6_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("v6.toml");
    std::fs::write(
        &scenario,
        "name = \"v6\"\n[server]\naddress = \"::1\"\nhosts = 2\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n",
    )
    .unwrap();
    let output = kalab().arg("run").arg(&scenario).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("v6.toml:4:1"), "{stderr}");
    assert!(
        stderr.contains("server.hosts") && stderr.contains("needs IPv4"),
        "{stderr}"
    );
}
