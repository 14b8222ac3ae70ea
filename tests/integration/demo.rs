//! `kalab demo` prints the comparison, and its numbers agree with the integration tests.

use kalab::report::ResultSet;

use crate::helpers::kalab;

#[test]
fn the_demo_measures_what_the_integration_tests_assert() {
    let output = kalab().args(["demo", "--format", "json"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: ResultSet = serde_json::from_slice(&output.stdout).unwrap();
    let opened = |name: &str| {
        let run = results.runs.iter().find(|r| r.scenario == name).unwrap();
        assert_eq!(run.requests_failed, 0, "{name}");
        assert_eq!(
            run.connections_opened.client, run.connections_opened.server,
            "{name}: sources disagree"
        );
        run.connections_opened.server.unwrap()
    };
    assert_eq!(opened("sequential-drop"), 10);
    assert_eq!(opened("sequential-drain"), 1);
    assert_eq!(opened("sequential-drop-small"), 1);
    assert!(opened("concurrent-idle2") > 10);
    assert_eq!(opened("concurrent-idle10"), 10);
}

#[test]
fn the_demo_table_explains_go_and_reqwest() {
    let output = kalab().arg("demo").env_remove("COLUMNS").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("sequential-drain opened 10.0x fewer connections than sequential-drop"),
        "{text}"
    );
    assert!(text.contains("Unlike Go"), "{text}");
    assert!(text.contains("concurrent-idle10 opened"), "{text}");
}
