//! clap's usage errors, with the hint a new user needs added where clap's own message stops
//! short: a program given to `kalab observe` without the `--` before it (the corrected command
//! line is printed), and a missing `--port` (`--serve` is the other way to say where the server
//! is). Everything else is clap's message as it is.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser as _;

use crate::cli::Cli;
use crate::session::drivers::command::display_command;

/// Parses the process's arguments; on a usage error, prints it (with kalab's hints) and exits
/// with clap's status (2; 0 for `--help` and `--version`).
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => with_hints(err, &args).exit(),
    }
}

/// `err` with kalab's hints added for what `args` (the whole command line, program name
/// first) got wrong.
pub fn with_hints(mut err: clap::Error, args: &[OsString]) -> clap::Error {
    let Some(observe_at) = args
        .iter()
        .skip(1)
        .position(|a| a == "observe")
        .map(|i| i + 1)
    else {
        return err;
    };
    let tip = match err.kind() {
        ErrorKind::UnknownArgument => program_without_dashes(&err, args, observe_at),
        ErrorKind::MissingRequiredArgument if missing(&err, "--port") => Some(
            "give --port the port the command's server listens on, or --serve to start kalab's embedded server for it (`{port}` in the command becomes its port): `kalab observe --serve -- curl -s http://127.0.0.1:{port}/`"
                .to_string(),
        ),
        _ => None,
    };
    if let Some(tip) = tip {
        let mut tips = match err.get(ContextKind::Suggested) {
            Some(ContextValue::StyledStrs(tips)) => tips.clone(),
            _ => Vec::new(),
        };
        tips.push(tip.into());
        err.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
    }
    err
}

/// The hint for `kalab observe --port N curl ...`: the program starts where the unexpected
/// argument is, and the command line with `--` before it.
fn program_without_dashes(
    err: &clap::Error,
    args: &[OsString],
    observe_at: usize,
) -> Option<String> {
    let Some(ContextValue::String(unexpected)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    if unexpected.starts_with('-') || args.iter().any(|a| a == "--") {
        return None;
    }
    let at = args
        .iter()
        .enumerate()
        .skip(observe_at + 1)
        .find(|(_, a)| *a == unexpected.as_str())
        .map(|(i, _)| i)?;
    let words = |args: &[OsString]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    let fixed = format!(
        "kalab {} -- {}",
        display_command(&words(&args[1..at])),
        display_command(&words(&args[at..]))
    );
    let told_where = args[..at].iter().any(|a| {
        let a = a.to_string_lossy();
        a == "--serve" || a == "--port" || a.starts_with("--port=")
    });
    let and_where = if told_where {
        ""
    } else {
        ", with --port N (the port its server listens on) or --serve (kalab's embedded server) before the `--`"
    };
    Some(format!(
        "the program to observe and its arguments go after `--`: `{fixed}`{and_where}"
    ))
}

/// Whether a missing-argument error names `flag`.
fn missing(err: &clap::Error, flag: &str) -> bool {
    match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::Strings(names)) => names.iter().any(|n| n.starts_with(flag)),
        Some(ContextValue::String(name)) => name.starts_with(flag),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_for(line: &[&str]) -> String {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        let err = Cli::try_parse_from(&args).unwrap_err();
        with_hints(err, &args).render().to_string()
    }

    #[test]
    fn a_program_without_dashes_gets_the_corrected_command_line() {
        let text = error_for(&[
            "kalab",
            "observe",
            "--port",
            "8080",
            "curl",
            "-s",
            "http://127.0.0.1:8080/a b",
        ]);
        assert!(
            text.contains("unexpected argument 'curl'")
                && text
                    .contains("`kalab observe --port 8080 -- curl -s 'http://127.0.0.1:8080/a b'`"),
            "{text}"
        );
    }

    #[test]
    fn a_program_without_dashes_or_port_is_told_both() {
        let text = error_for(&["kalab", "observe", "curl", "http://127.0.0.1:8080/"]);
        assert!(
            text.contains("`kalab observe -- curl http://127.0.0.1:8080/`, with --port N")
                && text.contains("--serve"),
            "{text}"
        );
        let text = error_for(&["kalab", "observe", "--serve", "curl", "x"]);
        assert!(text.contains("`kalab observe --serve -- curl x`"), "{text}");
        assert!(!text.contains("with --port N"), "{text}");
    }

    #[test]
    fn a_missing_port_mentions_serve() {
        let text = error_for(&["kalab", "observe", "--", "curl", "x"]);
        assert!(
            text.contains("--port") && text.contains("--serve"),
            "{text}"
        );
    }

    #[test]
    fn other_errors_are_left_as_clap_wrote_them() {
        let args: Vec<OsString> = ["kalab", "run", "--nope"]
            .iter()
            .map(OsString::from)
            .collect();
        let plain = Cli::try_parse_from(&args).unwrap_err().render().to_string();
        let hinted = with_hints(Cli::try_parse_from(&args).unwrap_err(), &args)
            .render()
            .to_string();
        assert_eq!(plain, hinted);
    }
}
