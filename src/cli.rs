//! The command line (clap derive). Parsed arguments become plain option structs in
//! `commands`; no clap type travels further.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::report::export::Format;

/// kalab: a laboratory for HTTP connection reuse.
///
/// Runs keep-alive experiments against an embedded server (or a real one), counts the TCP
/// connections every source saw, and compares scenarios side by side.
#[derive(Debug, Parser)]
#[command(name = "kalab", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Print the report only: no progress, no notes on stderr (errors still).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print every connection event on stderr as it happens (dialled, accepted, closed).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The classic Go keep-alive experiments, side by side: dropped vs drained bodies, idle pool 2 vs 10.
    Demo(DemoArgs),
    /// Run scenario files and report what every source measured.
    Run(RunArgs),
    /// The side-by-side report from saved JSON results (`--export-json`).
    Compare(CompareArgs),
    /// Run the scenarios that have expectations and fail (exit 1) when one does not hold.
    Check(CheckArgs),
    /// Rebuild every connection's life from any pcap or pcapng file.
    Analyze(AnalyzeArgs),
    /// Run any program and report its connections to a port (its own client, curl, Go, ...).
    Observe(ObserveArgs),
    /// Watch a port of a service already running (nothing launched), for a duration or until
    /// Ctrl-C, and report its connections like a run.
    Watch(WatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = "Examples:\n  \
        source <(kalab completions bash)\n  \
        kalab completions zsh > ~/.zfunc/_kalab\n  \
        kalab completions fish > ~/.config/fish/completions/kalab.fish")]
    Completions(CompletionsArgs),
    /// Print kalab's man page (roff) on stdout: `kalab man | man -l -`.
    Man,
}

/// Options of `kalab completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `kalab watch`.
///
/// Nothing is launched and no request is sent: the capture and the socket table watch the port
/// while other programs use it. Connections already open when watching starts are reported as
/// such (no SYN seen), never counted as opened. On a terminal, a live line is rewritten every
/// second on stderr (not when stderr is a pipe or a file).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    kalab watch --port 8080 --duration 30s\n  \
    kalab watch --port 5432 --host 10.0.0.7 --interface eth0 --format json > db.json\n\n\
    Exit codes: 0 watched, 1 an --expect failed, 2 bad usage, 3 unmeasurable \
    (e.g. --capture required without permission), 130 Ctrl-C (still reported, exports and \
    capture file complete).")]
pub struct WatchArgs {
    /// The server port to watch (the service's own port, local or remote).
    #[arg(long, value_name = "N")]
    pub port: u16,
    /// The server's IP address; default: any address on the port, captured on `lo` unless
    /// --interface says otherwise.
    #[arg(long, value_name = "IP")]
    pub host: Option<std::net::IpAddr>,
    /// Stop after this long (`30s`, `2m`, `1h 30m`); default: until Ctrl-C.
    #[arg(long, value_name = "DURATION", value_parser = crate::scenario::rate::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// An expectation on the run, `METRIC[.SOURCE][[HOST]] OP VALUE` (repeatable), e.g.
    /// `connections_opened.capture <= 10`; exit 1 when one fails, 3 when it cannot be measured.
    #[arg(long, value_name = "EXPR")]
    pub expect: Vec<String>,
    /// Wait this long after the watch ends before the collectors stop, in milliseconds.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub settle_ms: u64,
    /// Sample the socket table (TIME_WAIT, CLOSE_WAIT, ...) this often, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub sample_ms: u64,
    /// Packet capture (the `capture` source): `auto` captures when permitted, `required` exits
    /// with code 3 when it cannot, `off` never captures.
    #[arg(long, value_enum, default_value_t = CaptureArg::Auto)]
    pub capture: CaptureArg,
    /// Save the packets as a pcap file (Wireshark, tshark, `kalab analyze`) in DIR.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "captures")]
    pub save_capture: Option<PathBuf>,
    /// Capture on this interface (default: `lo`, or the one that carries --host).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Keep at most N items of each detail list (requests, dials, server connections,
    /// captured connections) for the per-connection view and the exports; beyond N every
    /// figure stays exact (folded as it arrives) and the report says the detail was capped.
    #[arg(long, value_name = "N", default_value_t = crate::model::DETAIL_CAP)]
    pub detail_cap: usize,
}

/// Options of `kalab observe`.
///
/// The command runs directly (no shell) with stdin closed; its output passes through. The
/// capture and the socket table watch the port during its whole life and a settle after it
/// exits. The port is given to it as the environment variable `KALAB_PORT` and replaces every
/// literal `{port}` in its arguments.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    kalab observe --serve -- curl -s http://127.0.0.1:{port}/ http://127.0.0.1:{port}/\n  \
    kalab observe --serve --tls -- curl -s --cacert {ca} https://127.0.0.1:{port}/\n  \
    kalab observe --port 8080 -- go run ./main.go\n\n\
    Exit codes: 0 observed (whatever the command's own status), 1 an --expect failed, \
    2 bad usage or the command cannot start, 3 unmeasurable, 130 Ctrl-C (still reported).")]
pub struct ObserveArgs {
    /// The server port to watch. Required without --serve; with --serve, default: a free port.
    #[arg(long, value_name = "N", required_unless_present = "serve")]
    pub port: Option<u16>,
    /// The server's IP address; default: any address on the port (captured on `lo` unless
    /// --interface says otherwise). With --serve: the address to bind (default 127.0.0.1).
    #[arg(long, value_name = "IP")]
    pub host: Option<std::net::IpAddr>,
    /// Start kalab's embedded server on the port for the command to talk to.
    #[arg(long)]
    pub serve: bool,
    /// --serve: size of every response body, in bytes.
    #[arg(long, value_name = "BYTES", requires = "serve", default_value_t = 11)]
    pub body_bytes: u64,
    /// --serve: time the handler waits before answering, in microseconds.
    #[arg(long, value_name = "US", requires = "serve", default_value_t = 50)]
    pub delay_us: u64,
    /// --serve: `Transfer-Encoding: chunked` framing instead of `Content-Length`.
    #[arg(long, requires = "serve")]
    pub chunked: bool,
    /// --serve: every response carries `Connection: close`.
    #[arg(long, requires = "serve")]
    pub no_keep_alive: bool,
    /// --serve: `Connection: close` on the Nth response of each connection (0: never).
    #[arg(long, value_name = "N", requires = "serve", default_value_t = 0)]
    pub close_after_requests: u64,
    /// --serve: close keep-alive connections idle for this long, in milliseconds (0: never).
    #[arg(long, value_name = "MS", requires = "serve", default_value_t = 0)]
    pub server_idle_timeout_ms: u64,
    /// An expectation on the run, `METRIC[.SOURCE] OP VALUE` (repeatable), e.g.
    /// `connections_opened.capture == 1`; exit 1 when one fails, 3 when it cannot be measured.
    #[arg(long, value_name = "EXPR")]
    pub expect: Vec<String>,
    /// Wait this long after the command exits before the collectors stop, in milliseconds.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub settle_ms: u64,
    /// Sample the socket table (TIME_WAIT, CLOSE_WAIT, ...) this often, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub sample_ms: u64,
    /// Packet capture (the `capture` source): `auto` captures when permitted, `required` exits
    /// with code 3 before the command starts when it cannot, `off` never captures.
    #[arg(long, value_enum, default_value_t = CaptureArg::Auto)]
    pub capture: CaptureArg,
    /// Save the packets as a pcap file (Wireshark, tshark, `kalab analyze`) in DIR.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "captures")]
    pub save_capture: Option<PathBuf>,
    /// Capture on this interface (default: `lo`, or the one that carries --host).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// --serve: speak HTTPS (HTTP/1.1 and h2 by ALPN) with a certificate made for the run; its
    /// CA's PEM file replaces `{ca}` in the command and is exported as `KALAB_CA`.
    #[arg(long, requires = "serve")]
    pub tls: bool,
    /// --serve --tls: no session cache and no tickets, so every connection costs a full
    /// handshake.
    #[arg(long, requires = "tls")]
    pub no_tls_resumption: bool,
    /// Append the embedded server's TLS session secrets to FILE (NSS key log format).
    /// Default: the file `SSLKEYLOGFILE` names, if set.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Option<PathBuf>,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
    /// The program to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Keep at most N items of each detail list (requests, dials, server connections,
    /// captured connections) for the per-connection view and the exports; beyond N every
    /// figure stays exact (folded as it arrives) and the report says the detail was capped.
    #[arg(long, value_name = "N", default_value_t = crate::model::DETAIL_CAP)]
    pub detail_cap: usize,
}

/// Options of `kalab analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A pcap or pcapng file (kalab's, tcpdump's, Wireshark's...).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The server port; default: the port most SYNs go to.
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Output format: `table` (one row per connection, then the capture's summary), `json`
    /// (every connection record), `markdown` (the table, for pasting), `csv` (one row per
    /// connection).
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = format_parser())]
    pub format: Format,
}

/// Options of `kalab run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories of them.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Run every variant this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// An expectation on every run, `METRIC[.SOURCE] OP VALUE` (repeatable), e.g.
    /// `--expect 'connections_opened.capture <= 10'`. Scenario files add theirs from `[expect]`.
    #[arg(long, value_name = "EXPR")]
    pub expect: Vec<String>,
    /// How runs are measured.
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of `kalab check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario files or directories; those with expectations (or all, with --expect) run.
    #[arg(required = true, value_name = "PATH")]
    pub scenarios: Vec<PathBuf>,
    /// Run every variant this many times; every repetition must pass.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// An expectation on every run, `METRIC[.SOURCE] OP VALUE` (repeatable).
    #[arg(long, value_name = "EXPR")]
    pub expect: Vec<String>,
    /// Write a JUnit XML report here (one test case per scenario variant).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Save these results as a baseline for later checks.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Fail when a figure got worse than in this baseline (more connections, lower reuse,
    /// more TIME_WAIT, more resets).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// How much worse than the baseline a figure may get, in percent.
    #[arg(long, default_value_t = 0.0, value_name = "PCT")]
    pub tolerance: f64,
    /// How runs are measured.
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of `kalab demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How runs are measured.
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Options of `kalab compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// JSON results written by `--export-json` (or `--format json`); each is its own group of
    /// rows, named by its file name.
    #[arg(required_unless_present = "label", value_name = "RESULT.json")]
    pub results: Vec<PathBuf>,
    /// A result file with the name its rows carry, `NAME=FILE` (repeatable; e.g.
    /// `--label before=old.json --label after=new.json`).
    #[arg(long, value_name = "NAME=FILE")]
    pub label: Vec<String>,
    /// Where and how results are written.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How runs are measured.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// Wait this long after the last request before the collectors stop, in milliseconds.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub settle_ms: u64,
    /// Send every pattern for this long (`30s`, `2m`), instead of its request count.
    #[arg(long, value_name = "DURATION", value_parser = parse_pattern_duration)]
    pub duration: Option<crate::scenario::PatternDuration>,
    /// Open-loop arrivals at this rate: `N/s`, `N connections/s` (each a new connection),
    /// `... per worker` (e.g. `200/s`, `20 connections/s per worker`).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub rate: Option<crate::scenario::Rate>,
    /// Stop a run's request pattern after this many seconds, whatever is left.
    #[arg(long, default_value_t = 120, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub max_run_secs: u64,
    /// Sample the socket table (TIME_WAIT, CLOSE_WAIT, ...) this often, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub sample_ms: u64,
    /// Packet capture (the `capture` source): `auto` captures when permitted, `required` exits
    /// with code 3 before any request when it cannot, `off` never captures.
    #[arg(long, value_enum, default_value_t = CaptureArg::Auto)]
    pub capture: CaptureArg,
    /// Save each run's packets as a pcap file (Wireshark, tshark, `kalab analyze`) in DIR.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "captures")]
    pub save_capture: Option<PathBuf>,
    /// Capture on this interface (default: the one that carries the target, `lo` on loopback).
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Append the TLS session secrets of kalab's client and embedded server to FILE (NSS key
    /// log format), so a saved capture opens decrypted in Wireshark or tshark. Default: the
    /// file `SSLKEYLOGFILE` names, if set.
    #[arg(long, value_name = "FILE")]
    pub tls_keylog: Option<PathBuf>,
    /// Keep at most N items of each detail list (requests, dials, server connections,
    /// captured connections) for the per-connection view and the exports; beyond N every
    /// figure stays exact (folded as it arrives) and the report says the detail was capped.
    #[arg(long, value_name = "N", default_value_t = crate::model::DETAIL_CAP)]
    pub detail_cap: usize,
}

/// Values of `--capture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CaptureArg {
    /// Capture when permitted; otherwise say how to grant it and run on.
    Auto,
    /// Capture or exit with code 3.
    Required,
    /// Never capture.
    Off,
}

/// Where and how results are written.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Format of the report on stdout.
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = format_parser())]
    pub format: Format,
    /// The variant the others are compared with (its label, or what it sets, e.g.
    /// `max_idle_per_host=2`); default: the first of each group of like patterns.
    #[arg(long, value_name = "VARIANT")]
    pub baseline_variant: Option<String>,
    /// Write the full results as JSON (rewritten after every run; `-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Write the side-by-side table and sentences as Markdown (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Write one CSV row per variant and repetition (`-` is stdout).
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
    /// Draw every run's connections as lanes over time into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// After the report, list every connection of every run: when it opened, the sources that
    /// saw it, requests carried, idle time before each reuse, who closed it and how it ended
    /// (table format; JSON always holds them).
    #[arg(long)]
    pub connections: bool,
    /// Show every column of the table (every figure, every source), whatever the terminal's
    /// width; by default the table fits the terminal (or `COLUMNS`).
    #[arg(long)]
    pub wide: bool,
}

/// `--format`: one of [`Format::NAMES`], parsed into the one output format enum.
fn format_parser() -> impl clap::builder::TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new(Format::NAMES)
        .map(|name| name.parse::<Format>().expect("a listed format name"))
}

fn parse_pattern_duration(text: &str) -> Result<crate::scenario::PatternDuration, String> {
    text.parse()
}

fn parse_rate(text: &str) -> Result<crate::scenario::Rate, String> {
    text.parse()
}
