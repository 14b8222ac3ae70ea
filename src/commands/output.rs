//! Where results go: the report on stdout in the chosen format, and the export files, which are
//! rewritten after every run so an interrupted session keeps what it measured.

use std::path::PathBuf;

use crate::cli::OutputArgs;
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
        if let Some(path) = &self.timeline {
            timeline::write_svg(path, &lanes::panels(runs), "kalab: connections over time")?;
        }
        let files: Vec<_> = self.exports.iter().filter(|e| !e.is_stdout()).collect();
        if files.is_empty() {
            return Ok(());
        }
        let results = ResultSet::new(runs.to_vec());
        for export in files {
            export.write_file(&results, self.baseline_variant.as_deref())?;
        }
        Ok(())
    }

    /// Writes the final report to stdout (and the exports to `-`), and the export files.
    pub fn write_final(&self, runs: &[RunReport]) -> anyhow::Result<()> {
        self.write_files(runs)?;
        let results = ResultSet::new(runs.to_vec());
        let baseline = self.baseline_variant.as_deref();
        let bytes = self.format.exporter().export(&results, baseline)?;
        super::print(&String::from_utf8_lossy(&bytes))?;
        if self.connections && !self.format.machine_readable() {
            for run in runs {
                super::print(&connections::render(run))?;
            }
        }
        for export in self.exports.iter().filter(|e| e.is_stdout()) {
            let bytes = export.format.exporter().export(&results, baseline)?;
            super::print(&String::from_utf8_lossy(&bytes))?;
        }
        Ok(())
    }
}
