//! Exporters: one small trait, one file per format, all fed by the one serde result model.
//!
//! File exports are rewritten after every run, so an interrupted sweep keeps what it measured;
//! `-` (stdout) is written once, at the end.

pub mod analysis;
pub mod connections;
pub mod csv;
pub mod file;
pub mod json;
pub mod markdown;
pub(crate) mod record_json;
pub mod table;

use std::path::PathBuf;

use super::model::ResultSet;

/// Turns results into the bytes of one format.
pub trait Exporter {
    /// Renders the results; `baseline` is the variant the comparisons are against.
    fn export(&self, results: &ResultSet, baseline: Option<&str>) -> anyhow::Result<Vec<u8>>;
}

/// The output formats: of the report on stdout, of export files, of `analyze` and of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The side-by-side table with comparison sentences, for a terminal.
    #[default]
    Table,
    /// The full result model (`kalab compare` reads it back).
    Json,
    /// A table plus the comparison sentences, for blogs and pull requests.
    Markdown,
    /// One row per variant and repetition, one column per figure.
    Csv,
}

impl Format {
    /// Every format's name, as the command line takes them.
    pub const NAMES: [&'static str; 4] = ["table", "json", "markdown", "csv"];

    /// The exporter for this format.
    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Table => Box::new(table::Table::default()),
            Format::Json => Box::new(json::Json),
            Format::Markdown => Box::new(markdown::Markdown),
            Format::Csv => Box::new(csv::Csv),
        }
    }

    /// Whether it is meant for programs rather than a terminal.
    pub fn machine_readable(self) -> bool {
        self != Format::Table
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown format `{other}` (expected table, json, markdown or csv)"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Csv => "csv",
        })
    }
}

/// One requested export: a format and where it goes (`-` is stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTarget {
    /// The format.
    pub format: Format,
    /// The file, or `-` for stdout.
    pub path: PathBuf,
}

impl ExportTarget {
    /// Whether this export goes to stdout.
    pub fn is_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }

    /// Renders the results and writes them to the file (not for stdout targets).
    pub fn write_file(&self, results: &ResultSet, baseline: Option<&str>) -> anyhow::Result<()> {
        let bytes = self.format.exporter().export(results, baseline)?;
        file::write_whole(&self.path, &bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::{Dial, EndState, RequestOutcome, ServerConnection};
    use crate::report::compute::{compute, RawRun};
    use crate::report::model::RunReport;
    use crate::report::DrivenBy;

    /// A run of 10 sequential requests over `connections` connections, computed from crafted
    /// observations.
    pub fn sample_run(name: &str, variant: &str, connections: u64) -> RunReport {
        let text = format!(
            "name = \"{name}\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 10\n"
        );
        let scenario = crate::scenario::parse_str("t.toml", &text)
            .unwrap()
            .scenario;
        let port = |i: u64| format!("127.0.0.1:{}", 40000 + i).parse().unwrap();
        let requests = (0..10)
            .map(|i| RequestOutcome {
                worker: 0,
                index: i,
                started_at_us: 1_000_000 + u64::from(i) * 1000,
                latency_us: 500,
                status: Some(200),
                bytes_read: 11,
                body: None,
                local: Some(port(u64::from(i) % connections)),
                error: None,
                connection: None,
                reused: None,
                remote: None,
            })
            .collect();
        let dials = (0..connections)
            .map(|i| Dial {
                at_us: 1_000_000 + i * 1000,
                connect_us: 50,
                local: Some(port(i)),
                error: None,
                tls: None,
                remote: None,
            })
            .collect();
        let servers = (0..connections)
            .map(|i| ServerConnection {
                peer: port(i),
                accepted_at_us: 1_000_000 + i * 1000,
                ended_at_us: None,
                requests: 10 / connections,
                end: EndState::OpenAtEnd,
                error: None,
                protocol: "http1".into(),
                tls: None,
                local: None,
            })
            .collect();
        compute(RawRun {
            name: scenario.name.clone(),
            about: scenario.about.clone(),
            driven_by: DrivenBy::Settings(Box::new(scenario)),
            target_is_loopback: true,
            port_sysctls: Default::default(),
            origin: "t.toml".into(),
            variant: variant.into(),
            repetition: 1,
            started_at_us: 1_000_000,
            wall_time_ms: 100.0,
            target: "http://127.0.0.1:8080/".into(),
            requests,
            dials: Some(dials),
            server_connections: Some(servers),
            sockets: None,
            capture: None,
            notes: Vec::new(),
            listen_queue: None,
            endpoints: Vec::new(),
            dropped: Default::default(),
        })
    }
}
