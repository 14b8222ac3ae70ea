//! `kalab demo`: the classic Go keep-alive experiments re-done with reqwest and hyper, side by side, with an
//! honest account of where reqwest behaves like Go's net/http and where it does not. Every
//! number in the explanation is the one measured in this very run.

use crate::cli::{DemoArgs, Format};
use crate::exit_code::ExitCode;
use crate::model::{verbosity, Source};
use crate::report::model::Comparison;
use crate::report::RunReport;
use crate::scenario::builtin;
use crate::session::RunOptions;

use super::output::OutputConfig;
use super::run::{execute_all, finish, plans};

/// What `kalab demo` needs.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// `--duration` and `--rate`, replacing the scenarios' own.
    pub pattern: crate::scenario::PatternOverride,
    /// Measurement options.
    pub options: RunOptions,
    /// Output options.
    pub output: OutputConfig,
}

impl From<DemoArgs> for DemoConfig {
    fn from(args: DemoArgs) -> Self {
        DemoConfig {
            pattern: (&args.measure).into(),
            options: args.measure.into(),
            output: args.output.into(),
        }
    }
}

/// The demo's comparisons: (variant, the variant it is compared with), by scenario name.
pub const PAIRS: &[(&str, &str)] = &[
    ("sequential-drain", "sequential-drop"),
    ("sequential-drop-small", "sequential-drop"),
    ("concurrent-idle10", "concurrent-idle2"),
    ("https-resumption-on", "https-resumption-off"),
];

/// Runs the built-in demo scenarios and explains them (with `-q`: the table only).
pub fn demo(mut config: DemoConfig) -> anyhow::Result<ExitCode> {
    config.output.validate(&[])?;
    super::stdout::check_options(&config.options)?;
    let loaded = builtin::demo_scenarios()?;
    // The demo's scenarios are a curated set: each pair below is one experiment, before and
    // after, and only these pairs are compared.
    config.output.comparisons = PAIRS
        .iter()
        .map(|&(variant, baseline)| Comparison {
            variant: variant.into(),
            baseline: baseline.into(),
        })
        .collect();
    let explain_too = config.output.stdout_format()? == Format::Table && !verbosity::quiet();
    // Paragraphs wider than the terminal are reflowed to fit, like the report's lines.
    let width = super::output::terminal_layout(false).width;
    if explain_too {
        super::print(&reflow(
            "kalab demo: the classic Go keep-alive experiments (net/http, netstat, tcpdump) re-done with reqwest + hyper on loopback.\n\
             Each scenario runs against a fresh embedded server. Every source there is counts the connections: the client (dials),\n\
             the server (accepts), the wire (the capture, given the permission) and the socket table; each figure quoted below\n\
             names its source, the capture's when it ran.\n\n",
            width,
        ))?;
    }
    let plans = plans(&loaded, 1, &config.pattern)?;
    let baseline = config.output.baseline_variant.as_deref();
    super::baseline_variant::check(baseline, &super::baseline_variant::of_plans(&plans))?;
    let (runs, interrupted) = execute_all(&plans, &config.options, &config.output)?;
    if explain_too && !interrupted {
        super::print(&reflow(&explain(&runs), width))?;
        super::print("\nSide by side:\n\n")?;
    }
    finish(&runs, &config.output, interrupted)
}

/// The demo's HTTPS part: what resumption saved, from the measured runs, and whether client,
/// server and wire agree.
fn tls_part(runs: &[RunReport]) -> Option<String> {
    let run = |name: &str| runs.iter().find(|r| r.scenario == name);
    let (off, on) = (run("https-resumption-off")?, run("https-resumption-on")?);
    let cost = |r: &RunReport| crate::report::tls_text::cost(r).unwrap_or_else(|| "?".into());
    let sources = |r: &RunReport| {
        r.tls
            .as_ref()
            .map_or("?".into(), crate::report::tls_text::per_source_text)
    };
    let sentence = reflow(
        &format!(
            "  6. HTTPS, the server closing every connection (keep-alive off): with TLS resumption off, {}; \
             on, {}. A resumed handshake skips the certificate and its signature.\n",
            cost(off),
            cost(on),
        ),
        Some(POINT_WIDTH),
    );
    Some(format!(
        "\n{sentence}     Per source, off: {}\n     Per source, on:  {}\n",
        sources(off),
        sources(on),
    ))
}

/// The width the explanation's points are written at.
const POINT_WIDTH: u16 = 112;

/// Connections a concurrent pattern opens when its workers stay in lockstep: every round's
/// connections come back to the pool at once, the pool keeps `max_idle` and closes the rest,
/// and the next round dials that many again. `None` without a cap below the workers.
fn lockstep_connections(workers: u64, requests_per_worker: u64, max_idle: u64) -> Option<u64> {
    (max_idle < workers && requests_per_worker > 0)
        .then(|| workers + (requests_per_worker - 1) * (workers - max_idle))
}

/// Point 4's account of the lockstep count, from the run's own settings and count: the count
/// lockstep gives, and that a run whose workers drift out of step opens fewer.
fn lockstep_text(run: Option<&RunReport>) -> String {
    let settings = run.and_then(|r| r.settings());
    let expected = settings.and_then(|s| {
        lockstep_connections(
            u64::from(s.pattern.workers.get()),
            u64::from(s.pattern.requests_per_worker?.get()),
            u64::from(s.client.max_idle_per_host?),
        )
    });
    let (Some(settings), Some(expected)) = (settings, expected) else {
        return "each round's connections come back to the pool at once, and the pool closes all but 2 of them."
            .to_string();
    };
    let (workers, idle) = (
        settings.pattern.workers.get(),
        settings.client.max_idle_per_host.unwrap_or(0),
    );
    let rounds = settings
        .pattern
        .requests_per_worker
        .map_or(0, |r| r.get().saturating_sub(1));
    let measured = run
        .and_then(|r| r.connections_opened.best())
        .map(|(n, _)| n);
    let this_run = match measured {
        Some(n) if n == expected => "this run stayed in step".to_string(),
        Some(n) => format!("this run drifted: {n}"),
        None => "this run was not counted".to_string(),
    };
    format!(
        "each round all {workers} connections come back at once, the pool keeps {idle} and \
         closes {closed}, and the next round dials {closed} new ones: {workers} + {rounds} x {closed} = {expected} connections, the most \
         this pattern opens ({this_run}). Workers that drift out of step find connections others put back, so a \
         loaded machine counts a few fewer from run to run; `kalab run --repeat 6 \
         scenarios/demo/04-concurrent-idle2.toml` shows by how much.",
        closed = workers - idle,
    )
}

/// The demo's closing explanation, built from the measured runs.
pub fn explain(runs: &[RunReport]) -> String {
    let run = |name: &str| runs.iter().find(|r| r.scenario == name);
    let opened = |name: &str| -> String {
        run(name)
            .and_then(|r| r.connections_opened.best())
            .map_or("?".into(), |(n, source)| format!("{n} ({source})"))
    };
    let sent = |name: &str| run(name).map_or("?".into(), |r| r.requests_sent.to_string());
    let time_wait = |name: &str| {
        run(name)
            .and_then(|r| r.time_wait)
            .map_or("?".into(), |t| t.time_wait_client_end.to_string())
    };
    // Only the wire sees a RST that follows a FIN: without the capture, say so instead.
    let drop_end = match run("sequential-drop").filter(|r| r.closes.source == Some(Source::Capture)) {
        Some(r) => format!(
            "But where Go's closed connections pile up in TIME_WAIT, {} of\n     \
             reqwest's ended in a RST (it closes with unread data in its receive buffer), leaving {}\n     \
             TIME_WAIT sockets: a low TIME_WAIT count is not a sign of reuse.",
            r.closes.reset,
            time_wait("sequential-drop"),
        ),
        None => "How they ended (a FIN, or a RST that skips TIME_WAIT) only the\n     \
                 wire can tell, and this run had no capture source: its TIME_WAIT count is no sign of reuse."
            .to_string(),
    };
    let mut text = format!(
        "What this shows (numbers measured just now):\n\
         \n  1. Body dropped unread (256 KiB): {drop_n} requests opened {drop} connections, as in Go when a body is\n     \
              neither read to EOF nor closed. {drop_end}\n\
         \n  2. Body drained (256 KiB): {drain_n} requests opened {drain} connection, as in Go with\n     \
              io.Copy(io.Discard, body) and body.Close().\n\
         \n  3. Body dropped unread, the classic 11 bytes: {small_n} requests opened {small} connection. Unlike Go: hyper\n     \
              reads a small response (headers and body up to about 8 KiB) together with its headers, so dropping the\n     \
              body costs nothing and the connection goes back to the pool; the same program in Go opens one connection\n     \
              per request. From about 24.5 KiB on, reqwest too loses the connection of a dropped body.\n\
         \n",
        drop = opened("sequential-drop"),
        drop_n = sent("sequential-drop"),
        drain = opened("sequential-drain"),
        drain_n = sent("sequential-drain"),
        small = opened("sequential-drop-small"),
        small_n = sent("sequential-drop-small"),
    );
    // Points with measured figures inside are one line each, hard-wrapped here like the
    // others (a pipe or a file gets no terminal width).
    text.push_str(&reflow(
        &format!(
            "  4. 10 workers x 10 requests: with max_idle_per_host = 2, {idle2} connections were opened and {idle2_tw} TIME_WAIT \
             sockets left on the client; with 10, {idle10} connections and {idle10_tw}. Go's default MaxIdleConnsPerHost \
             is 2: that is where Go piles up connections. reqwest's default is unlimited, so it only behaves like \
             Go's default when the limit is set, as here. The 20 ms pause between a worker's requests and the \
             server's 20 ms delay keep the workers in step: {lockstep} With 10 idle connections allowed every \
             worker keeps its own connection, and the count is 10 every time.\n",
            idle2 = opened("concurrent-idle2"),
            idle2_tw = time_wait("concurrent-idle2"),
            idle10 = opened("concurrent-idle10"),
            idle10_tw = time_wait("concurrent-idle10"),
            lockstep = lockstep_text(run("concurrent-idle2")),
        ),
        Some(POINT_WIDTH),
    ));
    if let Some(forecast) = run("concurrent-idle2").and_then(|r| r.port_forecast.as_ref()) {
        // Hard-wrapped like the other points (a pipe or a file gets no terminal width).
        text.push_str(&reflow(
            &format!("\n  5. Port exhaustion, at the churn of concurrent-idle2: {forecast}\n"),
            Some(POINT_WIDTH),
        ));
    }
    if let Some(tls) = tls_part(runs) {
        text.push_str(&tls);
    }
    let wire: Vec<String> = runs
        .iter()
        .filter_map(|r| {
            let s = &r.capture.as_ref()?.summary;
            Some(format!(
                "     {:<22} SYN {:>3}   FIN from client {:>3} / server {:>3}   RST {:>3}",
                r.scenario, s.connections_opened, s.fins_from_client, s.fins_from_server, s.resets
            ))
        })
        .collect();
    if wire.is_empty() {
        text.push_str(&format!(
            "\n  The capture source was off (no capture permission): run as root, or grant it with\n  {}\n",
            crate::capture::permission_remedy()
        ));
    } else {
        text.push_str("\n  On the wire (capture source, connections with each flag):\n");
        text.push_str(&wire.join("\n"));
        text.push('\n');
    }
    text
}

/// `text` with every paragraph (lines between blank lines) that has a line wider than `width`
/// refilled to fit: words kept whole, the first line's indent kept, and the continuation lines
/// indented like the paragraph's second line. Paragraphs that fit (the wire table) stay as they
/// are; without a width nothing changes.
pub fn reflow(text: &str, width: Option<u16>) -> String {
    let Some(limit) = width.map(usize::from) else {
        return text.to_string();
    };
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, out: &mut String| {
        if paragraph.iter().all(|l| l.chars().count() <= limit) {
            for line in paragraph.iter() {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            let indent = |l: &str| l.len() - l.trim_start().len();
            let first = &paragraph[0][..indent(paragraph[0])];
            // A one-line paragraph hangs its continuation under the text after `N. `.
            let hanging = format!("{first}   ");
            let rest = paragraph
                .get(1)
                .map_or(hanging.as_str(), |l| &l[..indent(l)]);
            let mut line = first.to_string();
            let mut empty = true;
            for word in paragraph.iter().flat_map(|l| l.split_whitespace()) {
                if !empty && line.chars().count() + 1 + word.chars().count() > limit {
                    out.push_str(&line);
                    out.push('\n');
                    line = rest.to_string();
                    empty = true;
                }
                if !empty {
                    line.push(' ');
                }
                line.push_str(word);
                empty = false;
            }
            out.push_str(&line);
            out.push('\n');
        }
        paragraph.clear();
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                flush(&mut paragraph, &mut out);
            }
            out.push_str(line);
            out.push('\n');
        } else {
            paragraph.push(line);
        }
    }
    if !paragraph.is_empty() {
        flush(&mut paragraph, &mut out);
    }
    if !text.ends_with('\n') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{lockstep_connections, reflow};

    #[test]
    fn lockstep_counts_every_round_past_the_idle_cap() {
        assert_eq!(lockstep_connections(10, 10, 2), Some(82));
        assert_eq!(lockstep_connections(10, 1, 2), Some(10));
        assert_eq!(lockstep_connections(10, 10, 10), None);
        assert_eq!(lockstep_connections(10, 0, 2), None);
    }

    #[test]
    fn wide_paragraphs_are_refilled_and_narrow_ones_kept() {
        let text = "  1. one two three four five six seven\n     eight nine\n\n  a  b\n";
        let out = reflow(text, Some(20));
        assert!(out.lines().all(|l| l.chars().count() <= 20), "{out}");
        assert!(out.starts_with("  1. one two three\n     four"), "{out}");
        assert!(out.ends_with("\n\n  a  b\n"), "{out}");
        assert_eq!(reflow(text, None), text);
    }
}
