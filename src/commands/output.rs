//! Where results go: the report on stdout in the chosen format, and the export files, which are
//! rewritten after every run so an interrupted session keeps what it measured.

use std::path::PathBuf;

use crate::cli::OutputArgs;
use crate::model::EnvironmentError;
use crate::report::export::connections;
use crate::report::export::{ExportTarget, Format};
use crate::report::{lanes, timeline, ResultSet, RunReport};

/// Output options, free of command-line types.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// The stdout format.
    pub format: Format,
    /// The variant the comparisons are against.
    pub baseline_variant: Option<String>,
    /// Export files (and `-` for stdout).
    pub exports: Vec<ExportTarget>,
    /// The timeline picture (SVG).
    pub timeline: Option<PathBuf>,
    /// List every connection after the table.
    pub connections: bool,
}

impl From<OutputArgs> for OutputConfig {
    fn from(args: OutputArgs) -> Self {
        let mut exports = Vec::new();
        let mut add = |path: Option<PathBuf>, format| {
            if let Some(path) = path {
                exports.push(ExportTarget { format, path });
            }
        };
        add(args.export_json, Format::Json);
        add(args.export_markdown, Format::Markdown);
        add(args.export_csv, Format::Csv);
        OutputConfig {
            format: args.format,
            baseline_variant: args.baseline_variant,
            exports,
            timeline: args.timeline,
            connections: args.connections,
        }
    }
}

impl OutputConfig {
    /// Whether stdout carries a machine-readable report (JSON, CSV, Markdown), which nothing
    /// else may write into.
    pub fn machine_readable_on_stdout(&self) -> bool {
        self.format.machine_readable() || self.exports.iter().any(ExportTarget::is_stdout)
    }

    /// Rewrites every export file with the runs so far.
    pub fn write_files(&self, runs: &[RunReport]) -> anyhow::Result<()> {
        self.write_files_set(&ResultSet::new(runs.to_vec()))
    }

    /// Rewrites every export file with `results`. Every file is tried; the first failure is
    /// returned after the others were written, so one full disk loses no other export.
    pub fn write_files_set(&self, results: &ResultSet) -> anyhow::Result<()> {
        let mut first_error = None;
        if let Some(path) = &self.timeline {
            if let Err(err) = timeline::write_svg(
                path,
                &lanes::panels(&results.runs),
                "kalab: connections over time",
            ) {
                first_error.get_or_insert(anyhow::Error::from(err));
            }
        }
        for export in self.exports.iter().filter(|e| !e.is_stdout()) {
            if let Err(err) = export.write_file(results, self.baseline_variant.as_deref()) {
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(err) => Err(EnvironmentError::new(format!("{err:#}")).into()),
            None => Ok(()),
        }
    }

    /// Writes the final report to stdout (in the one format that claims it), and the export
    /// files; an export that cannot be written fails after the report is out.
    pub fn write_final(&self, runs: &[RunReport]) -> anyhow::Result<()> {
        self.write_final_set(&ResultSet::new(runs.to_vec()))
    }

    /// [`OutputConfig::write_final`] of a whole result set.
    pub fn write_final_set(&self, results: &ResultSet) -> anyhow::Result<()> {
        let files = self.write_files_set(results);
        let format = self.stdout_format()?;
        let bytes = format
            .exporter()
            .export(results, self.baseline_variant.as_deref())?;
        super::print(&String::from_utf8_lossy(&bytes))?;
        if self.connections && !format.machine_readable() {
            for run in &results.runs {
                super::print(&connections::render(run))?;
            }
        }
        files
    }
}
