//! JSON: the result model as it is (documented in `report::model`, schema in
//! `schema/results.schema.json`).

use super::Exporter;
use crate::report::model::ResultSet;

/// The JSON exporter.
pub struct Json;

impl Exporter for Json {
    fn export(&self, results: &ResultSet, _baseline: Option<&str>) -> anyhow::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(results)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::ResultSet;

    #[test]
    fn json_reads_back_into_the_model() {
        let results = ResultSet::new(vec![crate::report::export::tests::sample_run("a", "", 10)]);
        let bytes = Json.export(&results, None).unwrap();
        let back: ResultSet = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.runs.len(), 1);
        assert_eq!(
            back.runs[0].connections_opened,
            results.runs[0].connections_opened
        );
        assert_eq!(back.format_version, crate::report::model::FORMAT_VERSION);
    }
}
