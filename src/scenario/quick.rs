//! Quick mode: `kalab run --url URL -c 10 -n 100 ...` or `kalab run --serve ...` describes one
//! scenario with flags instead of a file.
//!
//! The flags become a scenario document (the same TOML a file would hold), which is written as
//! text and loaded by the one loader, so a quick run and the file `--print-scenario` writes are
//! the same scenario by construction: same validation, same limits, same session. Errors name
//! the flag, not a position in a file the user never wrote.

use super::load::{parse_str, LoadedScenario, ScenarioError};
use super::rate::{PatternDuration, Rate};
use crate::model::InputError;

/// What a quick run targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuickTarget {
    /// kalab's embedded server (`--serve`).
    Serve,
    /// One or more external servers (`--url`, repeatable).
    Urls(Vec<String>),
}

/// One flag that sets one scenario key (`--max-idle-per-host 2` is `client.max_idle_per_host`).
#[derive(Debug, Clone, PartialEq)]
pub struct Knob {
    /// The flag as the user would write it, with its value (`--max-idle-per-host 2`).
    pub shown: String,
    /// The flag's name (`--max-idle-per-host`), for errors.
    pub flag: &'static str,
    /// The scenario table it sets.
    pub table: &'static str,
    /// The key in that table.
    pub key: &'static str,
    /// The value, as the file would hold it.
    pub value: toml::Value,
}

impl Knob {
    /// A flag setting `table.key` to `value`; `shown` is the flag's value as written.
    pub fn new(
        flag: &'static str,
        shown: impl std::fmt::Display,
        table: &'static str,
        key: &'static str,
        value: impl Into<toml::Value>,
    ) -> Knob {
        Knob {
            shown: format!("{flag} {shown}"),
            flag,
            table,
            key,
            value: value.into(),
        }
    }

    /// A flag without a value (`--no-keep-alive`) setting `table.key` to `value`.
    pub fn switch(flag: &'static str, table: &'static str, key: &'static str, value: bool) -> Knob {
        Knob {
            shown: flag.to_string(),
            flag,
            table,
            key,
            value: toml::Value::Boolean(value),
        }
    }
}

/// One quick run, described by flags.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickSpec {
    /// The target.
    pub target: QuickTarget,
    /// `--name`; default `quick`.
    pub name: Option<String>,
    /// `-c`: concurrent workers; 1 (the default) is a sequential pattern.
    pub workers: Option<u32>,
    /// `-n`: requests in total, shared evenly by the workers.
    pub requests: Option<u64>,
    /// `--duration`: send for this long.
    pub duration: Option<PatternDuration>,
    /// `--rate`: open-loop arrivals.
    pub rate: Option<Rate>,
    /// Every other flag, each setting one key.
    pub knobs: Vec<Knob>,
    /// `--expect` as `[expect]` entries: metric, "OP VALUE".
    pub expect: Vec<(String, String)>,
}

/// Requests each worker sends when neither `-n` nor `--duration` is given.
pub const DEFAULT_REQUESTS_PER_WORKER: u64 = 10;

/// The scenario the flags describe: its document, the command line it stands for, and the
/// loaded scenario.
#[derive(Debug, Clone)]
pub struct QuickScenario {
    /// `kalab run ...`, the flags that describe it.
    pub command_line: String,
    /// The scenario as a TOML document.
    pub document: toml::Table,
    /// The loaded scenario; its text is [`QuickScenario::file_text`].
    pub loaded: LoadedScenario,
}

/// Where a quick scenario comes from, in reports and errors.
pub const ORIGIN: &str = "command line";

impl QuickScenario {
    /// The file `--print-scenario` writes: a comment saying where it came from and how to run
    /// it, then every key the flags set, each under its meaning. It is the very text that was
    /// loaded, so printing and running cannot differ.
    pub fn file_text(&self) -> String {
        self.loaded.text.clone()
    }
}

fn file_text(command_line: &str, document: &toml::Table) -> String {
    let header = [
        format!("The scenario of: {command_line}"),
        "Save it as NAME.toml, then: kalab run NAME.toml (kalab check NAME.toml asserts [expect])."
            .into(),
        "Every table and key: kalab scenario --help".into(),
    ];
    super::write::commented_toml(&header, document)
}

/// Builds and loads the scenario the flags describe.
pub fn build(spec: &QuickSpec) -> Result<QuickScenario, InputError> {
    let (command_line, document) = document(spec)?;
    let text = file_text(&command_line, &document);
    let loaded = parse_str(ORIGIN, &text).map_err(|err| flag_error(spec, &err))?;
    Ok(QuickScenario {
        command_line,
        document,
        loaded,
    })
}

fn document(spec: &QuickSpec) -> Result<(String, toml::Table), InputError> {
    let mut shown = vec!["kalab run".to_string()];
    let mut server = toml::Table::new();
    match &spec.target {
        QuickTarget::Serve => shown.push("--serve".into()),
        QuickTarget::Urls(urls) => {
            for url in urls {
                shown.push(format!("--url {url}"));
            }
            if let Some(knob) = spec.knobs.iter().find(|k| k.table == "server") {
                return Err(InputError::new(format!(
                    "{} configures kalab's embedded server, but --url targets an external one: use --serve instead of --url, or drop {}",
                    knob.flag, knob.flag
                )));
            }
            match urls.as_slice() {
                [] => return Err(InputError::new("--url: give the server's URL")),
                [url] => {
                    server.insert("url".into(), url.clone().into());
                }
                several => {
                    server.insert(
                        "urls".into(),
                        toml::Value::Array(several.iter().map(|u| u.clone().into()).collect()),
                    );
                }
            }
        }
    }

    let workers = spec.workers.unwrap_or(1);
    if workers == 0 {
        return Err(InputError::new("-c 0: give at least 1 worker"));
    }
    let mut pattern = toml::Table::new();
    let kind = if workers == 1 {
        "sequential"
    } else {
        "concurrent"
    };
    pattern.insert("kind".into(), kind.into());
    pattern.insert("workers".into(), i64::from(workers).into());
    if spec.workers.is_some() {
        shown.push(format!("-c {workers}"));
    }
    let per_worker = match spec.requests {
        Some(total) => {
            shown.push(format!("-n {total}"));
            let workers = u64::from(workers);
            if total < workers || total % workers != 0 {
                let upper = (total / workers + 1) * workers;
                let choice = match total / workers * workers {
                    0 => format!("-n {upper}"),
                    lower => format!("-n {lower} or -n {upper}"),
                };
                return Err(InputError::new(format!(
                    "-n {total} with -c {workers}: every worker sends the same number of requests, so -n must be a multiple of -c (e.g. {choice})"
                )));
            }
            Some(total / workers)
        }
        None if spec.duration.is_some() => None,
        None => Some(DEFAULT_REQUESTS_PER_WORKER),
    };
    if let Some(per_worker) = per_worker {
        let value =
            i64::try_from(per_worker).map_err(|_| InputError::new("-n: too many requests"))?;
        pattern.insert("requests_per_worker".into(), value.into());
    }
    if let Some(duration) = spec.duration {
        shown.push(format!("--duration {duration}"));
        pattern.insert("duration".into(), duration.to_string().into());
    }
    if let Some(rate) = spec.rate {
        let text = rate_text(&rate);
        shown.push(format!("--rate '{text}'"));
        pattern.insert("rate".into(), text.into());
    }

    let mut tables: Vec<(&str, toml::Table)> = vec![
        ("server", server),
        ("client", toml::Table::new()),
        ("pattern", pattern),
        ("body", toml::Table::new()),
    ];
    for knob in &spec.knobs {
        let Some((_, table)) = tables.iter_mut().find(|(name, _)| *name == knob.table) else {
            return Err(InputError::new(format!(
                "{}: sets [{}] {}, which quick mode does not write",
                knob.flag, knob.table, knob.key
            )));
        };
        table.insert(knob.key.into(), knob.value.clone());
        shown.push(knob.shown.clone());
    }
    if let Some(name) = &spec.name {
        shown.push(format!("--name {}", toml::Value::String(name.clone())));
    }
    let command_line = shown.join(" ");

    let mut document = toml::Table::new();
    let name = spec.name.clone().unwrap_or_else(|| "quick".into());
    document.insert("name".into(), name.into());
    document.insert("about".into(), command_line.clone().into());
    for (name, table) in tables {
        if !table.is_empty() {
            document.insert(name.into(), toml::Value::Table(table));
        }
    }
    if !spec.expect.is_empty() {
        let expect: toml::Table = spec
            .expect
            .iter()
            .map(|(metric, rule)| (metric.clone(), toml::Value::String(rule.clone())))
            .collect();
        document.insert("expect".into(), toml::Value::Table(expect));
    }
    Ok((command_line, document))
}

/// A rate as text that parses back to the same rate (`Rate`'s own text rounds to 3 decimals).
fn rate_text(rate: &Rate) -> String {
    let text = rate.to_string();
    if text.parse::<Rate>().ok().as_ref() == Some(rate) {
        return text;
    }
    let what = match rate.of {
        super::rate::RateOf::Requests => "",
        super::rate::RateOf::Connections => " connections",
    };
    let per = if rate.per_worker { " per worker" } else { "" };
    format!("{}{what}/s{per}", rate.per_second)
}

/// A load error turned into an error about the flag that set the key.
fn flag_error(spec: &QuickSpec, err: &ScenarioError) -> InputError {
    let field = err.field.as_deref().unwrap_or_default();
    let message = err.message.trim_end_matches('.');
    let flag = spec
        .knobs
        .iter()
        .rev()
        .find(|k| format!("{}.{}", k.table, k.key) == field)
        .map(|k| k.shown.clone())
        .or_else(|| match field {
            "pattern.workers" => spec.workers.map(|n| format!("-c {n}")),
            "pattern.requests_per_worker" => spec.requests.map(|n| format!("-n {n}")),
            "pattern.duration" => Some("--duration".into()),
            "pattern.rate" => Some("--rate".into()),
            "server.url" | "server.urls" => Some("--url".into()),
            "name" => Some("--name".into()),
            _ => None,
        });
    match flag {
        Some(flag) => InputError::new(format!("{flag}: {message}")),
        None => InputError::new(format!(
            "the quick-mode flags make an invalid scenario: `{field}`: {message}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(knobs: Vec<Knob>) -> QuickSpec {
        QuickSpec {
            target: QuickTarget::Serve,
            name: None,
            workers: Some(10),
            requests: Some(100),
            duration: None,
            rate: None,
            knobs,
            expect: Vec::new(),
        }
    }

    #[test]
    fn flags_make_the_scenario_a_file_would() {
        let spec = serve(vec![
            Knob::new("--max-idle-per-host", 2, "client", "max_idle_per_host", 2),
            Knob::new("--pause", "20ms", "pattern", "pause_ms", 20),
        ]);
        let quick = build(&spec).unwrap();
        let file = parse_str(
            "f.toml",
            "name = \"quick\"\nabout = \"kalab run --serve -c 10 -n 100 --max-idle-per-host 2 --pause 20ms\"\n\
             [client]\nmax_idle_per_host = 2\n[pattern]\nkind = \"concurrent\"\nworkers = 10\n\
             requests_per_worker = 10\npause_ms = 20\n",
        )
        .unwrap();
        assert_eq!(quick.loaded.scenario, file.scenario);
        let printed = parse_str("p.toml", &quick.file_text()).unwrap();
        assert_eq!(printed.scenario, file.scenario);
        assert!(quick
            .file_text()
            .starts_with("# The scenario of: kalab run --serve -c 10"));
    }

    #[test]
    fn one_worker_is_sequential_and_counts_default_per_worker() {
        let mut spec = serve(Vec::new());
        spec.workers = None;
        spec.requests = None;
        let quick = build(&spec).unwrap();
        let pattern = &quick.loaded.scenario.pattern;
        assert_eq!(pattern.kind, super::super::PatternKind::Sequential);
        assert_eq!(pattern.total_requests(), Some(DEFAULT_REQUESTS_PER_WORKER));
        spec.duration = Some("2s".parse().unwrap());
        let quick = build(&spec).unwrap();
        assert_eq!(quick.loaded.scenario.pattern.requests_per_worker, None);
    }

    #[test]
    fn requests_must_share_evenly() {
        let mut spec = serve(Vec::new());
        spec.requests = Some(105);
        let err = build(&spec).unwrap_err().to_string();
        assert!(err.contains("-n 100 or -n 110"), "{err}");
        spec.requests = Some(5);
        let err = build(&spec).unwrap_err().to_string();
        assert!(err.contains("multiple of -c (e.g. -n 10)"), "{err}");
    }

    #[test]
    fn errors_name_the_flag() {
        let err = build(&serve(vec![Knob::new(
            "--body-bytes",
            1u64 << 40,
            "server",
            "body_bytes",
            1i64 << 40,
        )]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("--body-bytes 1099511627776: "), "{err}");
        assert!(err.contains("limit"), "{err}");
        let mut spec = serve(vec![Knob::new(
            "--body-bytes",
            5,
            "server",
            "body_bytes",
            5,
        )]);
        spec.target = QuickTarget::Urls(vec!["http://127.0.0.1:1/".into()]);
        let err = build(&spec).unwrap_err().to_string();
        assert!(err.contains("use --serve"), "{err}");
        spec.knobs.clear();
        spec.target = QuickTarget::Urls(vec!["ftp://x/".into()]);
        let err = build(&spec).unwrap_err().to_string();
        assert!(err.starts_with("--url: "), "{err}");
        let mut spec = serve(Vec::new());
        spec.workers = Some(20_000);
        spec.requests = Some(20_000);
        let err = build(&spec).unwrap_err().to_string();
        assert!(err.starts_with("-c 20000: "), "{err}");
    }

    #[test]
    fn several_urls_are_several_hosts() {
        let mut spec = serve(Vec::new());
        spec.target = QuickTarget::Urls(vec![
            "http://127.0.0.1:8080/".into(),
            "http://127.0.0.2:8080/".into(),
        ]);
        let server = build(&spec).unwrap().loaded.scenario.server;
        assert_eq!((server.url, server.urls.len()), (None, 2));
        spec.target = QuickTarget::Urls(vec!["http://127.0.0.1:8080/".into()]);
        let server = build(&spec).unwrap().loaded.scenario.server;
        assert_eq!(server.url.as_deref(), Some("http://127.0.0.1:8080/"));
    }

    #[test]
    fn rates_are_written_exactly() {
        let rate: Rate = "20/min".parse().unwrap();
        assert_eq!(rate_text(&rate).parse::<Rate>().unwrap(), rate);
        let rate: Rate = "20 connections/s per worker".parse().unwrap();
        assert_eq!(rate_text(&rate), "20 connections/s per worker");
    }

    #[test]
    fn expectations_become_the_expect_table() {
        let mut spec = serve(Vec::new());
        spec.expect = vec![("connections_opened.capture".into(), "<= 10".into())];
        let quick = build(&spec).unwrap();
        assert!(quick
            .file_text()
            .contains("[expect]\n\"connections_opened.capture\" = \"<= 10\"\n"));
        assert_eq!(quick.loaded.scenario.expect.len(), 1);
    }
}
