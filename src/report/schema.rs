//! The JSON Schema of the result model (`schema/results.schema.json` in the repository),
//! generated from the Rust types so it cannot drift from what kalab writes.

use super::model::ResultSet;

/// The schema of `--export-json` / `--format json` output, pretty-printed.
pub fn results_schema() -> String {
    let schema = schemars::schema_for!(ResultSet);
    serde_json::to_string_pretty(&schema).expect("a schema serializes") + "\n"
}
