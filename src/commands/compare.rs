//! `kalab compare`: the side-by-side report from saved JSON results, e.g. last month's result
//! against today's. Results of another format version are refused with a clear message.

use std::path::PathBuf;

use crate::cli::CompareArgs;
use crate::exit_code::ExitCode;
use crate::model::error::InputError;
use crate::report::model::FORMAT_VERSION;
use crate::report::ResultSet;

use super::output::OutputConfig;

/// What `kalab compare` needs.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The saved results.
    pub results: Vec<PathBuf>,
    /// Output options.
    pub output: OutputConfig,
}

impl From<CompareArgs> for CompareConfig {
    fn from(args: CompareArgs) -> Self {
        CompareConfig {
            results: args.results,
            output: args.output.into(),
        }
    }
}

/// Loads saved results and reports them side by side.
pub fn compare(config: CompareConfig) -> anyhow::Result<ExitCode> {
    config.output.validate(&[])?;
    let mut runs = Vec::new();
    for path in &config.results {
        let set = load(path)?;
        if set.kalab_version != env!("CARGO_PKG_VERSION") {
            eprintln!(
                "kalab: note: {} was written by kalab {} (this is {}); same result format, compared as is",
                path.display(),
                set.kalab_version,
                env!("CARGO_PKG_VERSION")
            );
        }
        runs.extend(set.runs);
    }
    config.output.write_final(&runs)?;
    Ok(ExitCode::Success)
}

/// Reads one saved result file, checking its format version before its content.
pub fn load(path: &std::path::Path) -> anyhow::Result<ResultSet> {
    let bytes =
        crate::model::limits::read_regular(path, crate::model::limits::MAX_RESULT_FILE_BYTES)?;
    parse(&bytes, path)
}

/// Parses saved results read from `path` (named in errors).
pub fn parse(bytes: &[u8], path: &std::path::Path) -> anyhow::Result<ResultSet> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|err| {
        InputError::new(format!(
            "{}: not a kalab JSON result ({err}); write one with `kalab run --export-json FILE`",
            path.display()
        ))
    })?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    let written_by = value
        .get("kalab_version")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("an unknown version");
    match version {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(InputError::new(format!(
                "{}: result format {v} (kalab {written_by}) cannot be compared by this kalab, which reads format {FORMAT_VERSION}; re-run the scenarios with this version",
                path.display()
            ))
            .into())
        }
        None => {
            return Err(InputError::new(format!(
                "{}: no `format_version`: not a kalab JSON result; write one with `kalab run --export-json FILE`",
                path.display()
            ))
            .into())
        }
    }
    serde_json::from_value(value).map_err(|err| {
        InputError::new(format!(
            "{}: a kalab result of format {FORMAT_VERSION} with fields this kalab does not understand ({err}); was it edited by hand?",
            path.display()
        ))
        .into()
    })
}
