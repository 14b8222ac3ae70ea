//! Stdout holds the report and nothing else: at most one machine-readable document claims it
//! (`--format json|csv|markdown`, or one export naming `-`), and every file a command will write
//! is checked for writability before anything runs, so a typo in a path fails in a second, not
//! after the first run.
//!
//! Export files are written beside themselves then renamed over (a reader never sees half a
//! file); a path that is not a regular file (`/dev/stdout`, `/dev/full`, a FIFO) is written in
//! place instead, since renaming over a device would replace it.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::output::OutputConfig;
use crate::model::InputError;
use crate::report::export::file::{is_special, partial_path};
use crate::report::export::{ExportTarget, Format};

impl OutputConfig {
    /// The format stdout carries: the one export naming `-`, else `--format`. Two claims on
    /// stdout (two `-` exports, or a `-` export next to a machine-readable `--format`) are a
    /// usage error.
    pub fn stdout_format(&self) -> Result<Format, InputError> {
        let dashes: Vec<&ExportTarget> = self.exports.iter().filter(|e| e.is_stdout()).collect();
        match dashes.as_slice() {
            [] => Ok(self.format),
            [only] if !self.format.machine_readable() || self.format == only.format => {
                Ok(only.format)
            }
            [only] => Err(InputError::new(format!(
                "--format {} and --export-{} - both want stdout; write one of them to a file",
                self.format,
                export_flag(only.format)
            ))),
            [first, second, ..] => Err(InputError::new(format!(
                "--export-{} - and --export-{} - both want stdout; at most one export may name `-`, write the other to a file",
                export_flag(first.format),
                export_flag(second.format)
            ))),
        }
    }

    /// Checks, before anything runs, that stdout has one claimant and that every export file,
    /// the timeline picture and `extra` (other files the command writes, with their flags) can
    /// be written.
    pub fn validate(&self, extra: &[(&str, &Path)]) -> anyhow::Result<()> {
        self.stdout_format()?;
        for export in self.exports.iter().filter(|e| !e.is_stdout()) {
            let flag = format!("--export-{}", export_flag(export.format));
            check_writable(&flag, &export.path)?;
        }
        if let Some(path) = &self.timeline {
            check_writable("--timeline", path)?;
        }
        for (flag, path) in extra {
            check_writable(flag, path)?;
        }
        Ok(())
    }
}

/// Checks the measuring options' paths before anything runs: `--save-capture` must be a
/// directory kalab can write in (created if missing, as the capture would).
pub fn check_options(options: &crate::session::RunOptions) -> Result<(), InputError> {
    use std::time::Duration;
    let bounds = [
        (
            "--settle-ms",
            options.settle,
            Duration::ZERO,
            Duration::from_secs(60),
        ),
        (
            "--sample-ms",
            options.sample_interval,
            Duration::from_millis(1),
            Duration::from_secs(60),
        ),
        (
            "--max-run-secs",
            options.max_run,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        ),
    ];
    for (flag, value, min, max) in bounds {
        if value < min || value > max {
            return Err(InputError::new(format!(
                "{flag}: {value:?} is outside {min:?} to {max:?}"
            )));
        }
    }
    let Some(dir) = &options.save_capture else {
        return Ok(());
    };
    if let Err(err) = std::fs::create_dir_all(dir) {
        return Err(InputError::new(format!(
            "--save-capture {}: cannot create the directory: {err}",
            dir.display()
        )));
    }
    check_writable("--save-capture", &dir.join(".kalab-probe.pcap"))
}

/// Checks `observe --serve`'s server flags against the scenario limits, and that it binds
/// loopback only.
pub fn check_serve(spec: &crate::session::ObserveSpec) -> Result<(), InputError> {
    let Some(settings) = &spec.serve else {
        return Ok(());
    };
    let mut settings = settings.clone();
    if let Some(host) = spec.host {
        settings.address = host;
    }
    crate::scenario::bounds::check_server(&settings).map_err(|(key, why)| {
        let flag = match key {
            "address" => "--host",
            "body_bytes" => "--body-bytes",
            "delay_us" => "--delay-us",
            "idle_timeout_ms" => "--server-idle-timeout-ms",
            other => other,
        };
        InputError::new(format!("{flag}: {why}"))
    })
}

/// The flag that names an export of `format`.
fn export_flag(format: Format) -> &'static str {
    match format {
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Markdown => "markdown",
        Format::Table => "table",
    }
}

/// Fails with what to do when `path` cannot be written: its directory is missing or not
/// writable, it is a directory, or a device refuses writing.
pub fn check_writable(flag: &str, path: &Path) -> Result<(), InputError> {
    let fail = |why: String| InputError::new(format!("{flag} {}: {why}", path.display()));
    if path.as_os_str().is_empty() {
        return Err(fail("an empty path".into()));
    }
    if path.is_dir() {
        return Err(fail("is a directory; give a file name".into()));
    }
    if is_special(path) {
        return OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|err| fail(format!("cannot be opened for writing: {err}")));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(fail(format!(
            "the directory {} does not exist; create it or choose another path",
            dir.display()
        )));
    }
    // Probe with the file written first (export files are written beside themselves, then
    // renamed), and leave nothing behind.
    let probe = partial_path(path);
    let existed = probe.exists();
    let opened = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&probe);
    match opened {
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(&probe);
            }
            Ok(())
        }
        Err(err) => Err(fail(format!("cannot write in {}: {err}", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(format: Format, exports: &[(Format, &str)]) -> OutputConfig {
        OutputConfig {
            format,
            baseline_variant: None,
            exports: exports
                .iter()
                .map(|(format, path)| ExportTarget {
                    format: *format,
                    path: PathBuf::from(path),
                })
                .collect(),
            timeline: None,
            connections: false,
            wide: false,
            comparisons: Vec::new(),
        }
    }

    #[test]
    fn one_claim_on_stdout_at_most() {
        assert_eq!(
            config(Format::Table, &[]).stdout_format().unwrap(),
            Format::Table
        );
        assert_eq!(
            config(Format::Table, &[(Format::Csv, "-")])
                .stdout_format()
                .unwrap(),
            Format::Csv
        );
        assert_eq!(
            config(Format::Json, &[(Format::Json, "-")])
                .stdout_format()
                .unwrap(),
            Format::Json
        );
        let two = config(Format::Table, &[(Format::Json, "-"), (Format::Csv, "-")]);
        let err = two.stdout_format().unwrap_err().to_string();
        assert!(err.contains("--export-json - and --export-csv -"), "{err}");
        let mixed = config(Format::Json, &[(Format::Csv, "-")]);
        assert!(mixed.stdout_format().is_err());
    }

    #[test]
    fn unwritable_paths_are_refused_before_anything_runs() {
        let err = check_writable("--export-json", Path::new("/nonexistent/x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent does not exist"), "{err}");
        let dir = std::env::temp_dir();
        assert!(check_writable("--export-json", &dir).is_err());
        let file = dir.join(format!("kalab-probe-{}.json", std::process::id()));
        check_writable("--export-json", &file).unwrap();
        assert!(
            !file.exists() && !partial_path(&file).exists(),
            "nothing left behind"
        );
        check_writable("--export-json", Path::new("/dev/null")).unwrap();
    }
}
