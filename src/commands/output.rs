//! Where results go: the report on stdout in the chosen format, and the export files, which are
//! rewritten after every run so an interrupted session keeps what it measured.

use std::path::PathBuf;

use std::io::IsTerminal as _;

use crate::cli::OutputArgs;
use crate::report::export::connections;
use crate::report::export::table::{Layout, Table};
use crate::report::export::{ExportTarget, Exporter as _, Format};
use crate::report::model::Comparison;
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
    /// `--wide`: every column of the table, whatever the terminal's width.
    pub wide: bool,
    /// Explicit comparisons between runs of different scenarios (the demo's pairs).
    pub comparisons: Vec<Comparison>,
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
            wide: args.wide,
            comparisons: Vec::new(),
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
        let results = self.result_set(runs);
        for export in files {
            export.write_file(&results, self.baseline_variant.as_deref())?;
        }
        Ok(())
    }

    /// Writes the final report to stdout (and the exports to `-`), and the export files.
    pub fn write_final(&self, runs: &[RunReport]) -> anyhow::Result<()> {
        self.write_files(runs)?;
        let results = self.result_set(runs);
        let baseline = self.baseline_variant.as_deref();
        let bytes = match self.format {
            Format::Table => Table {
                layout: terminal_layout(self.wide),
            }
            .export(&results, baseline)?,
            other => other.exporter().export(&results, baseline)?,
        };
        super::print(&String::from_utf8_lossy(&bytes))?;
        if self.format.machine_readable() {
            // The table lists saved captures below itself; other formats say it on stderr.
            for line in saved_captures(runs) {
                crate::model::verbosity::note(&line);
            }
        }
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

    /// The runs as a result set, with this output's explicit comparisons.
    fn result_set(&self, runs: &[RunReport]) -> ResultSet {
        let mut results = ResultSet::new(runs.to_vec());
        results.comparisons = self.comparisons.clone();
        results
    }
}

/// The table's layout on this stdout: `COLUMNS` when set, else the terminal's width, else (a
/// pipe or a file) no width: the stable layout.
pub fn terminal_layout(wide: bool) -> Layout {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .filter(|&columns| columns >= 20);
    let width = from_env.or_else(|| {
        let stdout = std::io::stdout();
        if stdout.is_terminal() {
            terminal_size::terminal_size_of(&stdout).map(|(width, _)| width.0)
        } else {
            None
        }
    });
    Layout { width, wide }
}

/// One line per capture file the runs saved: where the packets went.
fn saved_captures(runs: &[RunReport]) -> Vec<String> {
    runs.iter()
        .filter_map(|run| {
            let path = run.capture.as_ref()?.saved_file.as_ref()?;
            Some(format!(
                "{} run {}: packets saved to {}",
                run.label(),
                run.repetition,
                path.display()
            ))
        })
        .collect()
}
