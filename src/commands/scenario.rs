//! `kalab scenario`: the scenario reference on stdout (the same text as `--help`), and
//! `kalab scenario new NAME`, a commented starter file that loads and runs as written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::{ScenarioAction, ScenarioArgs};
use crate::exit_code::ExitCode;
use crate::model::InputError;

/// Runs `kalab scenario`.
pub fn scenario(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        None => super::print(&crate::cli::scenario_reference())?,
        Some(ScenarioAction::New(new)) => {
            let (path, name) = target(&new.name)?;
            write_new(&path, &starter(&name))?;
            super::print(&format!(
                "wrote {path}: a commented scenario named {name}\n  run it:    kalab run {path}\n  check it:  kalab check {path}   (its [expect] table; exit 1 when one fails)\n  every key: kalab scenario --help\n",
                path = path.display()
            ))?;
        }
    }
    Ok(ExitCode::Success)
}

/// The file to write (`.toml` added when missing) and the scenario's name (the file's stem).
fn target(given: &Path) -> Result<(PathBuf, String), InputError> {
    let path = if given.extension().is_some_and(|ext| ext == "toml") {
        given.to_path_buf()
    } else {
        let mut name = given.as_os_str().to_os_string();
        name.push(".toml");
        PathBuf::from(name)
    };
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with('.'))
        .ok_or_else(|| {
            InputError::new(format!(
                "`{}`: give a file name for the scenario, e.g. `kalab scenario new pool-test`",
                given.display()
            ))
        })?;
    Ok((path.clone(), name.to_string()))
}

/// Writes `text` to a new file at `path`; an existing file is never replaced.
fn write_new(path: &Path, text: &str) -> Result<(), InputError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => InputError::new(format!(
                "{} already exists; kalab never overwrites it: choose another name, or remove the file first",
                path.display()
            )),
            _ => InputError::new(format!(
                "cannot create {}: {err}; check that its directory exists and is writable",
                path.display()
            )),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|err| InputError::new(format!("cannot write {}: {err}", path.display())))
}

/// The starter scenario named `name`.
pub fn starter(name: &str) -> String {
    STARTER
        .replace("{file}", name)
        .replace("{name}", &toml::Value::String(name.to_string()).to_string())
}

const STARTER: &str = r#"# {file}.toml: a kalab scenario. Run it with `kalab run {file}.toml`; `kalab check {file}.toml`
# asserts its [expect] table (exit 1 when one fails). Every table and key, with its default:
# `kalab scenario --help`.
#
# As written: 10 workers send 10 GETs each to kalab's embedded server, and the client keeps at
# most 2 idle connections per host, so most connections that come back to the pool are closed
# and later requests open new ones. Try max_idle_per_host = 10 and compare.

name = {name}
about = "10 workers x 10 GETs with at most 2 idle connections per host"

# The target. As written, kalab's embedded server on a fresh loopback port for every run.
# An external server instead: url = "http://127.0.0.1:8080/" (and remove the other keys).
[server]
body_bytes = 11            # size of every response body, in bytes
delay_us = 20000           # the handler waits 20 ms before answering (in microseconds)
keep_alive = true          # false: every response says `Connection: close`
idle_timeout_ms = 0        # T: close keep-alive connections idle for T ms; 0: never

# kalab's HTTP client (reqwest).
[client]
max_idle_per_host = 2      # idle connections kept per host; remove the line: unlimited
idle_timeout_ms = 90000    # how long an idle pooled connection is kept; 0: forever
keep_alive = true          # false: `Connection: close` on every request, nothing pooled
protocol = "http1"         # or "h2c": HTTP/2 over cleartext

# Which requests are sent, and when.
[pattern]
kind = "concurrent"        # or "sequential": one worker
workers = 10
requests_per_worker = 10
pause_ms = 20              # pause between two requests of one worker
# duration = "30s"         # send for this long (with a count too: whichever ends first)
# rate = "200/s"           # open-loop arrivals on the clock instead of pauses

# What the client does with each response body.
[body]
policy = "drain"           # drain | drop | partial:N | drain-limit:N

# Optional: one run per combination of values, side by side in the report.
# [sweep]
# "client.max_idle_per_host" = [2, 10]

# What `kalab check` asserts on every run: METRIC = "OP VALUE" (OP: == != < <= > >=).
[expect]
requests_failed = 0
connections_opened = "<= 100"   # at most one new connection per request
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_loads_with_its_name() {
        let loaded = crate::scenario::parse_str("x.toml", &starter("pool \"test\"")).unwrap();
        assert_eq!(loaded.scenario.name, "pool \"test\"");
        assert_eq!(loaded.scenario.pattern.total_requests(), Some(100));
        assert_eq!(loaded.scenario.expect.len(), 2);
    }

    #[test]
    fn names_get_toml_added_once() {
        assert_eq!(
            target(Path::new("a/b")).unwrap(),
            (PathBuf::from("a/b.toml"), "b".to_string())
        );
        assert_eq!(
            target(Path::new("b.toml")).unwrap().0,
            PathBuf::from("b.toml")
        );
        assert!(target(Path::new(".toml")).is_err());
    }
}
