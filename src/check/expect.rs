//! Expectations: `METRIC[.SOURCE][[HOST]] OP VALUE`, parsed and evaluated against a run's report.
//!
//! A host in brackets, after the source if there is one, restricts the figure to one server
//! endpoint of the run (its name in the report, its IP, or its `IP:PORT`):
//! `connections_opened[127.0.0.2] <= 3`, `connections_opened.capture[127.0.0.3] == 10`. In an
//! `[expect]` table the key is quoted: `"connections_opened[127.0.0.2]" = "<= 3"`.
//!
//! Pure: parsing names every error and lists the valid metrics; evaluation says pass, fail, or
//! "not measured" (an expectation on a source that did not measure never passes silently).

use std::fmt;

use crate::report::figures::{lookup, names, Figure};
use crate::report::model::{RunReport, Source};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    const ALL: [(&'static str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    /// Whether `actual OP expected` holds.
    pub fn holds(self, actual: f64, expected: f64) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Lt => actual < expected,
            Op::Le => actual <= expected,
            Op::Gt => actual > expected,
            Op::Ge => actual >= expected,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("?", |(s, _)| s)
    }
}

/// One expectation on a figure of a run.
#[derive(Clone)]
pub struct Expectation {
    /// The figure.
    pub figure: &'static Figure,
    /// The source asked for (`connections_opened.capture`), if any.
    pub source: Option<Source>,
    /// The comparison.
    pub op: Op,
    /// The value compared with.
    pub value: f64,
    /// The server endpoint the figure is restricted to (`connections_opened[127.0.0.2]`), if
    /// any: its report name, IP or `IP:PORT`.
    pub host: Option<String>,
}

impl fmt::Debug for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expectation({self})")
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric(),
            self.op.as_str(),
            number(self.value)
        )
    }
}

impl Expectation {
    /// The metric as written: `connections_opened.capture`.
    pub fn metric(&self) -> String {
        let metric = match self.source {
            Some(source) => format!("{}.{source}", self.figure.name),
            None => self.figure.name.to_string(),
        };
        match &self.host {
            Some(host) => format!("{metric}[{host}]"),
            None => metric,
        }
    }
}

/// The characters an operator is written with, including the look-alikes people type
/// (`=<`, `≤`, `<>`), so a wrong operator is read as one and named in the error.
const OPERATOR_CHARS: &[char] = &['=', '<', '>', '!', '\u{2264}', '\u{2265}', '\u{2260}', '~'];

/// The valid operators, for error messages.
const OPERATORS: &str = "==, !=, <, <=, >, >=";

/// Parses `METRIC[.SOURCE] OP VALUE` (as given to `--expect`).
pub fn parse(text: &str) -> Result<Expectation, String> {
    let text = text.trim();
    let Some(start) = text.find(OPERATOR_CHARS) else {
        return Err(format!(
            "`{text}` has no comparison; write METRIC OP VALUE with OP one of {OPERATORS} (e.g. `connections_opened <= 10`)"
        ));
    };
    let metric = text[..start].trim();
    let after = &text[start..];
    let op_len = after
        .find(|c: char| !OPERATOR_CHARS.contains(&c))
        .unwrap_or(after.len());
    let op_text = &after[..op_len];
    let value = after[op_len..].trim();
    let op = Op::ALL
        .iter()
        .find(|(s, _)| *s == op_text)
        .map(|&(_, op)| op)
        .ok_or_else(|| unknown_operator(text, op_text))?;
    if value.is_empty() && !metric.is_empty() {
        return Err(format!(
            "`{text}` has no value after `{op_text}`; write METRIC OP VALUE, e.g. `{metric} {op_text} 10`"
        ));
    }
    build(metric, op, value)
}

/// The error for an operator that is not one of [`Op::ALL`]: the operator, the valid ones,
/// and the likely intended one when the typo is a common one.
fn unknown_operator(text: &str, op_text: &str) -> String {
    let meant = match op_text {
        "=<" | "\u{2264}" | "<==" | "=<=" => Some("<="),
        "=>" | "\u{2265}" | ">==" | "=>=" => Some(">="),
        "=" | "===" => Some("=="),
        "<>" | "\u{2260}" | "!" | "!==" | "=!" | "~=" => Some("!="),
        _ => None,
    };
    let hint = meant.map_or(String::new(), |op| format!(" (did you mean `{op}`?)"));
    format!("`{text}`: unknown operator `{op_text}`; valid operators: {OPERATORS}{hint}")
}

/// Parses an `[expect]` table entry: `metric = "OP VALUE"`, or `metric = VALUE` for `==`.
pub fn parse_entry(metric: &str, rule: &toml::Value) -> Result<Expectation, String> {
    match rule {
        toml::Value::Integer(v) => build(metric, Op::Eq, &v.to_string()),
        toml::Value::Float(v) => build(metric, Op::Eq, &v.to_string()),
        toml::Value::String(rule) => {
            let parsed = parse(&format!("{metric} {rule}"))?;
            if parsed.metric() != metric.trim() {
                return Err(format!(
                    "`{rule}`: write the comparison alone, e.g. \"<= 10\""
                ));
            }
            Ok(parsed)
        }
        other => Err(format!(
            "`{other}`: write \"OP VALUE\" (e.g. \"<= 10\") or a number"
        )),
    }
}

fn build(metric: &str, op: Op, value: &str) -> Result<Expectation, String> {
    if metric.is_empty() {
        return Err(format!(
            "no metric before `{}`; valid metrics: {}",
            op.as_str(),
            names()
        ));
    }
    let (metric, host) = split_host(metric)?;
    let (name, source) = match metric.split_once('.') {
        Some((name, source)) => (name, Some(source)),
        None => (metric, None),
    };
    let figure = lookup(name)
        .ok_or_else(|| format!("unknown metric `{name}`; valid metrics: {}", names()))?;
    let source = match source {
        None => None,
        Some(text) => {
            if !figure.per_source() {
                return Err(format!(
                    "`{name}` has one source only; a source can be named for: {}",
                    crate::report::figures::FIGURES
                        .iter()
                        .filter(|f| f.per_source())
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let source = figure
                .sources
                .iter()
                .copied()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| {
                    let known: Vec<&str> = figure.sources.iter().map(|s| s.as_str()).collect();
                    let hint = if text == Source::Sockets.as_str() {
                        "; the socket table samples, so it only bounds counts from below: use `connections_seen_lower_bound`"
                    } else {
                        ""
                    };
                    format!(
                        "unknown source `{text}` for `{name}`; sources: {}{hint}",
                        known.join(", ")
                    )
                })?;
            Some(source)
        }
    };
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            format!(
                "`{value}` is not a number; write METRIC OP VALUE with a finite number, e.g. `connections_opened <= 10` or `reuse_ratio >= 2.5`"
            )
        })?;
    Ok(Expectation {
        figure,
        source,
        op,
        value,
        host,
    })
}

/// `METRIC[.SOURCE][HOST]` into the metric and the host.
fn split_host(metric: &str) -> Result<(&str, Option<String>), String> {
    let Some((name, rest)) = metric.split_once('[') else {
        if metric.contains(']') {
            return Err(format!("`{metric}`: a `]` without its `[`; name a host as METRIC[HOST], e.g. connections_opened[127.0.0.2]"));
        }
        return Ok((metric, None));
    };
    let host = rest
        .strip_suffix(']')
        .map(str::trim)
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => Ok((name.trim(), Some(host.to_string()))),
        None => Err(format!(
            "`{metric}`: name a host as METRIC[HOST] with the host's IP or IP:PORT inside the brackets, e.g. connections_opened[127.0.0.2]"
        )),
    }
}

/// What an expectation found in one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It holds.
    Pass {
        /// The measured value.
        actual: f64,
        /// Its source.
        source: Option<Source>,
    },
    /// It does not.
    Fail {
        /// The measured value.
        actual: f64,
        /// Its source.
        source: Option<Source>,
    },
    /// The run did not measure the figure (e.g. no capture permission).
    NotMeasured {
        /// Why, and how to fix it.
        reason: String,
    },
}

/// Evaluates an expectation against a run.
pub fn evaluate(expectation: &Expectation, run: &RunReport) -> Verdict {
    let Some(host) = &expectation.host else {
        return evaluate_on(expectation, run);
    };
    match crate::report::endpoints::find(run, host) {
        Some(endpoint) => evaluate_on(expectation, &crate::report::endpoints::view(run, endpoint)),
        None => Verdict::NotMeasured {
            reason: if run.endpoints.is_empty() {
                format!("the run has no server endpoint `{host}`: no source saw a server")
            } else {
                format!(
                    "the run has no server endpoint `{host}`; its endpoints: {}",
                    run.endpoints
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        },
    }
}

/// Evaluates an expectation on a run (or an endpoint's view of it).
fn evaluate_on(expectation: &Expectation, run: &RunReport) -> Verdict {
    let source = match expectation.source {
        Some(source) => Some(source),
        None if expectation.figure.per_source() => run.connections_opened.best().map(|(_, s)| s),
        None => None,
    };
    match expectation.figure.value(run, expectation.source) {
        None => Verdict::NotMeasured {
            reason: match expectation.source.or(expectation.figure.needs) {
                Some(Source::Capture) => format!("the capture source did not measure this run (no capture permission, or --capture off); run as root or grant the capability: {}", crate::capture::permission_remedy()),
                Some(source) => format!("the {source} source did not measure this run"),
                None => format!("{} was not measured in this run", expectation.figure.name),
            },
        },
        Some(actual) if expectation.op.holds(actual, expectation.value) => {
            Verdict::Pass { actual, source }
        }
        Some(actual) => Verdict::Fail { actual, source },
    }
}

/// A number as checks write it: no trailing `.0`, at most two places.
pub fn number(value: f64) -> String {
    crate::report::number::plain(value, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;

    #[test]
    fn every_operator_parses() {
        for (text, op) in [
            ("connections_opened == 1", Op::Eq),
            ("connections_opened != 1", Op::Ne),
            ("connections_opened < 1", Op::Lt),
            ("connections_opened <= 1", Op::Le),
            ("connections_opened > 1", Op::Gt),
            ("connections_opened>=1", Op::Ge),
        ] {
            let e = parse(text).unwrap();
            assert_eq!(
                (e.op, e.value, e.figure.name),
                (op, 1.0, "connections_opened"),
                "{text}"
            );
        }
    }

    #[test]
    fn sources_are_parsed_and_checked() {
        let e = parse("connections_opened.capture <= 10").unwrap();
        assert_eq!(e.source, Some(Source::Capture));
        assert_eq!(e.to_string(), "connections_opened.capture <= 10");
        let err = parse("connections_opened.wire <= 10").err().unwrap();
        assert!(err.contains("unknown source `wire`"), "{err}");
        let err = parse("reuse_ratio.capture >= 2").err().unwrap();
        assert!(err.contains("one source only"), "{err}");
    }

    #[test]
    fn hosts_are_parsed_after_the_source() {
        let e = parse("connections_opened.capture[127.0.0.2] <= 3").unwrap();
        assert_eq!(e.source, Some(Source::Capture));
        assert_eq!(e.host.as_deref(), Some("127.0.0.2"));
        assert_eq!(e.to_string(), "connections_opened.capture[127.0.0.2] <= 3");
        let e = parse_entry(
            "connections_opened[127.0.0.2]",
            &toml::Value::String("<= 3".into()),
        )
        .unwrap();
        assert_eq!((e.host.as_deref(), e.op), (Some("127.0.0.2"), Op::Le));
        assert!(parse("connections_opened[] <= 3")
            .unwrap_err()
            .contains("METRIC[HOST]"));
        assert!(parse("connections_opened] <= 3").is_err());
    }

    #[test]
    fn a_host_restricts_the_figure_to_its_endpoint() {
        let mut run = sample_run("s", "", 10);
        let endpoint = |ip: &str, opened: u64| {
            let mut view = crate::report::export::tests::sample_run("s", "", opened);
            view.connections_opened.capture = Some(opened);
            crate::report::model::EndpointReport {
                endpoint: format!("{ip}:9000").parse().unwrap(),
                name: ip.to_string(),
                requests_sent: view.requests_sent,
                requests_ok: view.requests_ok,
                requests_failed: 0,
                errors: Default::default(),
                connections_opened: view.connections_opened,
                connections_seen_lower_bound: None,
                connections_refused: None,
                connections_already_open: None,
                reset_causes: None,
                connections_without_requests: Default::default(),
                reuse_ratio: view.reuse_ratio,
                requests_per_connection: None,
                requests_per_connection_source: None,
                latency_p50_ms: None,
                latency_p99_ms: None,
                closes: Default::default(),
                time_wait: None,
                time_wait_reconciled: None,
                tls: None,
            }
        };
        run.endpoints = vec![endpoint("127.0.0.1", 7), endpoint("127.0.0.2", 3)];
        let pass = evaluate(&parse("connections_opened[127.0.0.2] <= 3").unwrap(), &run);
        assert!(
            matches!(pass, Verdict::Pass { actual, .. } if actual == 3.0),
            "{pass:?}"
        );
        let by_addr = evaluate(
            &parse("connections_opened[127.0.0.1:9000] == 7").unwrap(),
            &run,
        );
        assert!(matches!(by_addr, Verdict::Pass { .. }), "{by_addr:?}");
        let missing = evaluate(&parse("connections_opened[127.0.0.9] <= 3").unwrap(), &run);
        assert!(
            matches!(&missing, Verdict::NotMeasured { reason } if reason.contains("127.0.0.1, 127.0.0.2")),
            "{missing:?}"
        );
    }

    #[test]
    fn unknown_metrics_list_the_valid_ones() {
        let err = parse("conns <= 10").err().unwrap();
        assert!(err.contains("unknown metric `conns`"), "{err}");
        assert!(
            err.contains("time_wait_client_peak") && err.contains("latency_p99_ms"),
            "{err}"
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        assert!(parse("connections_opened 10")
            .err()
            .unwrap()
            .contains("no comparison"));
        assert!(parse("connections_opened <= ten")
            .err()
            .unwrap()
            .contains("not a number"));
        assert!(parse("<= 10").err().unwrap().contains("no metric"));
        assert!(parse("connections_opened <= inf").is_err());
    }

    #[test]
    fn a_wrong_operator_is_named_with_the_valid_ones() {
        for (text, wrong, meant) in [
            ("connections_opened =< 2", "=<", Some("<=")),
            ("connections_opened >== 2", ">==", Some(">=")),
            ("connections_opened => 2", "=>", Some(">=")),
            ("connections_opened = 2", "=", Some("==")),
            ("connections_opened <> 2", "<>", Some("!=")),
            ("connections_opened \u{2264} 2", "\u{2264}", Some("<=")),
            ("connections_opened <=> 2", "<=>", None),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains(&format!("unknown operator `{wrong}`"))
                    && err.contains("==, !=, <, <=, >, >="),
                "{text}: {err}"
            );
            assert!(!err.contains("unknown metric"), "{text}: {err}");
            match meant {
                Some(op) => assert!(err.contains(&format!("did you mean `{op}`")), "{err}"),
                None => assert!(!err.contains("did you mean"), "{err}"),
            }
        }
        let entry =
            parse_entry("connections_opened", &toml::Value::String("=< 2".into())).unwrap_err();
        assert!(entry.contains("unknown operator `=<`"), "{entry}");
    }

    #[test]
    fn a_missing_value_or_operator_says_what_to_write() {
        let err = parse("connections_opened <=").unwrap_err();
        assert!(
            err.contains("no value after `<=`") && err.contains("connections_opened <= 10"),
            "{err}"
        );
        let err = parse("connections_opened != two").unwrap_err();
        assert!(err.contains("`two` is not a number"), "{err}");
        assert_eq!(parse("connections_opened != 2").unwrap().op, Op::Ne);
        assert_eq!(parse("connections_opened>=2").unwrap().op, Op::Ge);
        for text in [
            "",
            "=",
            "<=",
            "!",
            "[",
            "]<",
            "x[=]",
            "\u{2264}\u{2264}",
            "a.b[c] == ",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn table_entries_take_a_rule_or_a_number() {
        let rule = toml::Value::String("<= 10".into());
        assert_eq!(parse_entry("connections_opened", &rule).unwrap().op, Op::Le);
        let exact = parse_entry("requests_failed", &toml::Value::Integer(0)).unwrap();
        assert_eq!((exact.op, exact.value), (Op::Eq, 0.0));
        assert!(parse_entry("requests_failed", &toml::Value::Boolean(true)).is_err());
        assert!(parse_entry(
            "requests_failed",
            &toml::Value::String("reuse_ratio > 1".into())
        )
        .is_err());
    }

    #[test]
    fn evaluation_passes_fails_and_refuses_unmeasured_sources() {
        let run = sample_run("s", "", 10);
        let pass = evaluate(&parse("connections_opened <= 10").unwrap(), &run);
        assert!(matches!(pass, Verdict::Pass { actual, .. } if actual == 10.0));
        let fail = evaluate(&parse("connections_opened.client < 10").unwrap(), &run);
        assert_eq!(
            fail,
            Verdict::Fail {
                actual: 10.0,
                source: Some(Source::Client)
            }
        );
        let missing = evaluate(&parse("connections_opened.capture <= 10").unwrap(), &run);
        assert!(matches!(missing, Verdict::NotMeasured { reason } if reason.contains("setcap")));
        let no_sockets = evaluate(&parse("time_wait_client_end == 0").unwrap(), &run);
        assert!(matches!(no_sockets, Verdict::NotMeasured { .. }));
    }
}
