//! Loading and validating scenario files.
//!
//! A file is read whole, parsed and validated before anything runs. Every error names the file,
//! the line and column where one exists, the field, and what is allowed, so the user can fix the
//! file without guessing.

use std::fmt;
use std::path::{Path, PathBuf};

use super::model::{PatternKind, Scenario};

/// A scenario file that parsed and validated, with its text kept for later error positions.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Where the scenario came from, as shown to the user (a path, or `built-in:NAME`).
    pub origin: String,
    /// The file's text.
    pub text: String,
    /// The validated scenario.
    pub scenario: Scenario,
}

/// A scenario file that cannot be used: where, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file (or built-in name).
    pub origin: String,
    /// 1-based line and column, where the error has a position.
    pub position: Option<(usize, usize)>,
    /// The dotted field the error is about, where known (`pattern.workers`).
    pub field: Option<String>,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// The message of an error about a path that does not exist: nothing is wrong with a file
/// there, the path is, and the error says so.
pub const NO_SUCH_FILE: &str = "no such file or directory";

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_not_found() {
            return write!(
                f,
                "no scenario file {}: no such file or directory; check the path (scenario files are *.toml, e.g. under scenarios/)",
                self.origin
            );
        }
        write!(f, "invalid scenario file {}", self.origin)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(
            f,
            "{}. Fix the file and run again (every table and key: `kalab scenario --help`).",
            self.message.trim_end_matches('.')
        )
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    fn not_found(path: &Path) -> ScenarioError {
        ScenarioError {
            origin: path.display().to_string(),
            position: None,
            field: None,
            message: NO_SUCH_FILE.into(),
        }
    }

    /// Whether the error is about a path that does not exist (not about a file's content).
    pub fn is_not_found(&self) -> bool {
        self.position.is_none() && self.field.is_none() && self.message == NO_SUCH_FILE
    }
}

/// Reads, parses and validates one scenario file.
pub fn load_file(path: &Path) -> Result<LoadedScenario, ScenarioError> {
    let origin = path.display().to_string();
    if !path.exists() {
        return Err(ScenarioError::not_found(path));
    }
    let fail = |message: String| ScenarioError {
        origin: origin.clone(),
        position: None,
        field: None,
        message,
    };
    let bytes =
        crate::model::limits::read_regular(path, crate::model::limits::MAX_SCENARIO_FILE_BYTES)
            .map_err(|err| fail(err.to_string().replacen(&format!("{origin}: "), "", 1)))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| fail("not UTF-8 text; a scenario file is TOML".to_string()))?;
    parse_str(&origin, &text)
}

/// Parses and validates scenario text; `origin` names it in errors.
pub fn parse_str(origin: &str, text: &str) -> Result<LoadedScenario, ScenarioError> {
    let scenario: Scenario = toml::from_str(text).map_err(|err| {
        let position = err.span().map(|span| line_col(text, span.start));
        let field = err.span().and_then(|span| field_at(text, span.start));
        ScenarioError {
            origin: origin.to_string(),
            position,
            field,
            message: err.message().trim().replace('\n', " "),
        }
    })?;
    validate(origin, text, &scenario)?;
    Ok(LoadedScenario {
        origin: origin.to_string(),
        text: text.to_string(),
        scenario,
    })
}

/// Checks what a single field's type cannot: combinations of fields.
fn validate(origin: &str, text: &str, scenario: &Scenario) -> Result<(), ScenarioError> {
    let fail = |section: &str, key: &str, message: String| ScenarioError {
        origin: origin.to_string(),
        position: locate(text, section, key),
        field: Some(format!("{section}.{key}")),
        message,
    };
    if scenario.name.trim().is_empty() {
        return Err(fail("", "name", "must not be empty".into()));
    }
    let pattern = &scenario.pattern;
    if pattern.kind == PatternKind::Sequential && pattern.workers.get() != 1 {
        return Err(fail(
            "pattern",
            "workers",
            format!(
                "a sequential pattern has exactly 1 worker, found {}; use kind = \"concurrent\" for more",
                pattern.workers
            ),
        ));
    }
    if pattern.requests_per_worker.is_none() && pattern.duration.is_none() {
        return Err(fail(
            "pattern",
            "requests_per_worker",
            "missing: give `requests_per_worker = N`, or `duration = \"30s\"` to send for that long (or both: whichever ends first)".into(),
        ));
    }
    if let Some(url) = &scenario.server.url {
        if let Err(why) = check_url(url) {
            return Err(fail("server", "url", why));
        }
    }
    if let Err((section, key, why)) = check_tls(scenario) {
        return Err(fail(section, key, why));
    }
    super::bounds::check(scenario).map_err(|(section, key, why)| fail(section, key, why))?;
    validate_hosts(scenario).map_err(|(key, why)| fail("server", key, why))
}

/// Several hosts: `hosts = N` for embedded servers on consecutive loopback addresses, or a list
/// of external `urls`; not both, and not with `url`.
fn validate_hosts(scenario: &Scenario) -> Result<(), (&'static str, String)> {
    let server = &scenario.server;
    let hosts = server.hosts.get();
    if !server.urls.is_empty() {
        if server.url.is_some() {
            return Err((
                "urls",
                "give either `url` (one server) or `urls` (several), not both".into(),
            ));
        }
        if hosts > 1 {
            return Err((
                "hosts",
                "`hosts` starts embedded servers; with external `urls` the hosts are the URLs: remove `hosts`".into(),
            ));
        }
        for url in &server.urls {
            check_url(url).map_err(|why| ("urls", why))?;
        }
        return Ok(());
    }
    if hosts > 1 && server.url.is_some() {
        return Err((
            "hosts",
            "`hosts` starts embedded servers, but `url` names an external one; list external servers in `urls` instead".into(),
        ));
    }
    server.check_hosts().map_err(|why| ("hosts", why))
}

/// TLS settings that contradict the target: HTTP/2 by ALPN needs HTTPS, h2c needs cleartext,
/// and at least one TLS version must be offered.
pub(crate) fn check_tls(scenario: &Scenario) -> Result<(), (&'static str, &'static str, String)> {
    use super::model::Protocol;
    let https = match &scenario.server.url {
        Some(url) => url.starts_with("https://"),
        None => scenario.server.tls,
    };
    match scenario.client.protocol {
        Protocol::H2 if !https => Err((
            "client",
            "protocol",
            "`h2` is HTTP/2 over TLS: set [server] tls = true or an https:// url; for HTTP/2 over cleartext use `h2c`".into(),
        )),
        Protocol::H2c if https => Err((
            "client",
            "protocol",
            "`h2c` is HTTP/2 over cleartext, but the target speaks HTTPS; use `h2` (HTTP/2 agreed by ALPN)".into(),
        )),
        _ if scenario.client.tls_versions.is_empty() => Err((
            "client",
            "tls_versions",
            "offer at least one TLS version: [\"1.2\"], [\"1.3\"] or [\"1.2\", \"1.3\"]".into(),
        )),
        _ if scenario
            .client
            .ca_file
            .as_ref()
            .is_some_and(|ca| !ca.is_file()) =>
        {
            Err((
                "client",
                "ca_file",
                format!(
                    "no such file: {} (a PEM file of CA certificates; a relative path is read from the current directory)",
                    scenario.client.ca_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
                ),
            ))
        }
        _ if scenario.server.url.is_some() && scenario.server.tls => Err((
            "server",
            "tls",
            "`tls` configures the embedded server; for an external HTTPS server write its url as https://...".into(),
        )),
        _ => Ok(()),
    }
}

/// An external target must be a plain `http://` or `https://HOST:PORT/PATH` URL.
fn check_url(url: &str) -> Result<(), String> {
    let parsed: http::Uri = url.parse().map_err(|err| {
        format!("`{url}` is not a URL ({err}); write it as http://HOST:PORT/PATH")
    })?;
    if !matches!(parsed.scheme_str(), Some("http" | "https")) {
        return Err(format!(
            "`{url}`: only http:// and https:// targets are supported"
        ));
    }
    if parsed.host().is_none() {
        return Err(format!(
            "`{url}` has no host; write it as http://HOST:PORT/PATH"
        ));
    }
    Ok(())
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The dotted name of the key written on the line that holds `offset`, from the nearest
/// `[table]` header above it.
fn field_at(text: &str, offset: usize) -> Option<String> {
    let (line_no, _) = line_col(text, offset);
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no - 1)?.trim();
    if let Some(header) = header_name(line) {
        return Some(header.to_string());
    }
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    let section = lines[..line_no - 1]
        .iter()
        .rev()
        .find_map(|l| header_name(l.trim()));
    Some(match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_string(),
    })
}

fn header_name(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?.split(']').next()?;
    Some(inner.trim())
}

/// Line and column of `key = ...` inside `[section]` (the top level for an empty section).
pub fn locate(text: &str, section: &str, key: &str) -> Option<(usize, usize)> {
    let mut current = "";
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(header) = header_name(line) {
            current = header;
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if current == section && name.trim().trim_matches('"') == key {
            return Some((index + 1, raw.len() - line.len() + 1));
        }
    }
    None
}

/// Expands files and directories into the scenario files they name: a directory gives its
/// `*.toml` files (recursively), sorted so runs are in a stable order.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|err| ScenarioError {
                origin: path.display().to_string(),
                position: None,
                field: None,
                message: format!("cannot list the directory: {err}"),
            })?;
            found.sort();
            if found.is_empty() {
                return Err(ScenarioError {
                    origin: path.display().to_string(),
                    position: None,
                    field: None,
                    message: "the directory holds no *.toml scenario files".into(),
                });
            }
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Loads every scenario file the paths name (see [`collect_files`]); all must be valid.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedScenario>, ScenarioError> {
    collect_files(paths)?
        .iter()
        .map(|path| load_file(path))
        .collect()
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "toml") {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"name = "t"
[pattern]
kind = "sequential"
requests_per_worker = 10
"#;

    fn error(text: &str) -> ScenarioError {
        parse_str("t.toml", text).unwrap_err()
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let loaded = parse_str("t.toml", GOOD).unwrap();
        assert_eq!(loaded.scenario.pattern.total_requests(), Some(10));
        assert_eq!(loaded.scenario.server.body_bytes, 11);
        assert_eq!(loaded.scenario.client.max_idle_per_host, None);
    }

    #[test]
    fn unknown_keys_are_named_with_their_position_and_the_allowed_keys() {
        let err = error(&GOOD.replace("kind", "wrkers = 2\nkind"));
        assert_eq!(err.position, Some((3, 1)));
        assert_eq!(err.field.as_deref(), Some("pattern.wrkers"));
        assert!(err.message.contains("requests_per_worker"), "{err}");
    }

    #[test]
    fn wrong_types_point_at_the_value() {
        let err = error(&GOOD.replace("= 10", "= \"ten\""));
        assert_eq!(err.position, Some((4, 23)));
        assert_eq!(err.field.as_deref(), Some("pattern.requests_per_worker"));
    }

    #[test]
    fn zero_workers_are_impossible() {
        let text = GOOD.replace("sequential", "concurrent") + "workers = 0\n";
        let err = error(&text);
        assert_eq!(err.field.as_deref(), Some("pattern.workers"));
        assert_eq!(err.position.map(|p| p.0), Some(5));
    }

    #[test]
    fn negative_pauses_are_impossible() {
        let err = error(&(GOOD.to_string() + "pause_ms = -5\n"));
        assert_eq!(err.field.as_deref(), Some("pattern.pause_ms"));
    }

    #[test]
    fn unknown_body_policies_list_the_allowed_ones() {
        let err = error(&(GOOD.to_string() + "[body]\npolicy = \"slurp\"\n"));
        assert_eq!(err.position, Some((6, 10)));
        assert!(err.to_string().contains("partial:N"), "{err}");
    }

    #[test]
    fn sequential_patterns_have_one_worker() {
        let err = error(&(GOOD.to_string() + "workers = 3\n"));
        assert_eq!(err.position, Some((5, 1)));
        assert!(err.message.contains("concurrent"), "{err}");
    }

    #[test]
    fn text_that_is_not_toml_is_reported_with_its_position() {
        let err = error("name = \"t\"\n[pattern\n");
        assert_eq!(err.position.map(|p| p.0), Some(2));
    }

    #[test]
    fn missing_files_say_so() {
        let err = load_file(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert!(err.to_string().contains("no such file"), "{err}");
    }

    #[test]
    fn several_hosts_need_ipv4_loopback_and_no_url() {
        let err = parse_str(
            "t.toml",
            &format!("{GOOD}[server]\naddress = \"::1\"\nhosts = 3\n"),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("server.hosts"));
        assert!(err.to_string().contains("needs IPv4"), "{err}");
        assert_eq!(err.position, Some((7, 1)), "{err}");
        let err = parse_str(
            "t.toml",
            &format!("{GOOD}[server]\nurl = \"http://127.0.0.1:1/\"\nhosts = 2\n"),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("server.hosts"));
        let ok = parse_str("t.toml", &format!("{GOOD}[server]\nhosts = 3\n")).unwrap();
        assert_eq!(ok.scenario.server.hosts.get(), 3);
        let err = parse_str("t.toml", &format!("{GOOD}[server]\nhosts = 0\n")).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("server.hosts"));
    }

    #[test]
    fn external_urls_must_be_http_or_https() {
        let err = error(&format!("{GOOD}[server]\nurl = \"ftp://example.test/\"\n"));
        assert_eq!(err.field.as_deref(), Some("server.url"));
        assert!(err.message.contains("http:// and https://"), "{err}");
        parse_str(
            "t.toml",
            &format!("{GOOD}[server]\nurl = \"https://example.test/\"\n"),
        )
        .unwrap();
    }

    #[test]
    fn tls_settings_must_fit_the_target() {
        let err = error(&format!("{GOOD}[client]\nprotocol = \"h2\"\n"));
        assert_eq!(err.field.as_deref(), Some("client.protocol"));
        assert!(err.message.contains("tls = true"), "{err}");
        assert!(err.position.is_some());
        let err = error(&format!(
            "{GOOD}[server]\ntls = true\n[client]\nprotocol = \"h2c\"\n"
        ));
        assert!(err.message.contains("use `h2`"), "{err}");
        let err = error(&format!(
            "{GOOD}[server]\ntls = true\n[client]\ntls_versions = []\n"
        ));
        assert_eq!(err.field.as_deref(), Some("client.tls_versions"));
        let err = error(&format!(
            "{GOOD}[server]\ntls = true\n[client]\ntls_versions = [\"1.1\"]\n"
        ));
        assert_eq!(err.field.as_deref(), Some("client.tls_versions"), "{err}");
        parse_str(
            "t.toml",
            &format!("{GOOD}[server]\ntls = true\n[client]\nprotocol = \"h2\"\n"),
        )
        .unwrap();
        let err = error(&format!(
            "{GOOD}[server]\nurl = \"https://x.test/\"\n[client]\nca_file = \"/nonexistent/ca.pem\"\n"
        ));
        assert_eq!(err.field.as_deref(), Some("client.ca_file"));
        assert!(err.position.is_some());
        assert!(err.message.contains("no such file"), "{err}");
    }
}
