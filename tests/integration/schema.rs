//! The committed JSON Schema matches the model, and real output validates against it.

use std::path::Path;

use crate::helpers::kalab;

const SCHEMA: &str = "schema/results.schema.json";

#[test]
fn the_committed_schema_is_the_one_the_model_generates() {
    let generated = kalab::report::schema::results_schema();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA);
    if std::env::var_os("KALAB_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{SCHEMA} is out of date: regenerate it with KALAB_UPDATE_SCHEMA=1 cargo test --test integration schema"
    );
}

#[test]
fn real_output_validates_against_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"s\"\n[server]\nkeep_alive = false\n[pattern]\nkind = \"concurrent\"\nworkers = 2\nrequests_per_worker = 3\n[sweep]\n\"body.policy\" = [\"drain\", \"drop\"]\n[expect]\nrequests_failed = 0\n",
    )
    .unwrap();
    let output = kalab()
        .arg("run")
        .arg(&scenario)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let instance: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&kalab::report::schema::results_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(instance["runs"].as_array().unwrap().len(), 2);
}
