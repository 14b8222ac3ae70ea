//! `kalab compare`: the side-by-side report from saved JSON results, e.g. last month's result
//! against today's. Every input is its own group of rows, named by its file name or its
//! `--label`, and each row is compared with the same row of the first input (ratios and
//! sentences); repetitions merge only within one input. Results of another format version are
//! refused with a clear message.

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
    /// The saved results, each with the name its rows carry (`None`: its file name).
    pub results: Vec<(Option<String>, PathBuf)>,
    /// Output options.
    pub output: OutputConfig,
    /// `--label` values that are not `NAME=FILE`.
    pub bad_labels: Vec<String>,
}

impl From<CompareArgs> for CompareConfig {
    fn from(args: CompareArgs) -> Self {
        let mut results: Vec<(Option<String>, PathBuf)> =
            args.results.into_iter().map(|path| (None, path)).collect();
        let mut bad_labels = Vec::new();
        for label in args.label {
            match label.split_once('=') {
                Some((name, file)) if !name.trim().is_empty() && !file.is_empty() => {
                    results.push((Some(name.trim().to_string()), PathBuf::from(file)));
                }
                _ => bad_labels.push(label),
            }
        }
        CompareConfig {
            results,
            output: args.output.into(),
            bad_labels,
        }
    }
}

/// The names of the inputs: the `--label`s, else the file names (the whole paths where two
/// file names are the same).
fn input_names(results: &[(Option<String>, PathBuf)]) -> Vec<String> {
    let file_name = |path: &PathBuf| {
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    results
        .iter()
        .map(|(label, path)| match label {
            Some(label) => label.clone(),
            None => {
                let name = file_name(path);
                let clash = results
                    .iter()
                    .filter(|(l, p)| l.is_none() && file_name(p) == name)
                    .count()
                    > 1;
                if clash {
                    path.display().to_string()
                } else {
                    name
                }
            }
        })
        .collect()
}

/// Loads saved results and reports them side by side.
pub fn compare(config: CompareConfig) -> anyhow::Result<ExitCode> {
    config.output.validate(&[])?;
    if let Some(bad) = config.bad_labels.first() {
        return Err(InputError::new(format!(
            "--label `{bad}`: write NAME=FILE, e.g. --label before=old.json"
        ))
        .into());
    }
    let names = input_names(&config.results);
    if let Some(name) = names
        .iter()
        .enumerate()
        .find_map(|(i, n)| names[..i].contains(n).then_some(n))
    {
        return Err(InputError::new(format!(
            "two inputs are named `{name}`: give each --label a different NAME"
        ))
        .into());
    }
    let mut runs = Vec::new();
    let mut output = config.output.clone();
    for ((_, path), name) in config.results.iter().zip(names) {
        let set = load(path)?;
        if set.kalab_version != env!("CARGO_PKG_VERSION") {
            crate::model::verbosity::note(&format!(
                "note: {} was written by kalab {} (this is {}); same result format, compared as is",
                path.display(),
                set.kalab_version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        if config.results.len() == 1 {
            // One input alone is reported as it was saved, with the pairs it names.
            output.comparisons = set.comparisons;
            runs.extend(set.runs);
        } else {
            runs.extend(set.runs.into_iter().map(|mut run| {
                run.input = Some(name.clone());
                run
            }));
        }
    }
    let baseline = output.baseline_variant.as_deref();
    super::baseline_variant::check(baseline, &super::baseline_variant::of_runs(&runs))?;
    output.write_final(&runs)?;
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
