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
        kalab completions fish > ~/.config/fish/completions/kalab.fish\n\n\
        Exit codes: 0 printed, 2 bad usage (an unknown shell).")]
    Completions(CompletionsArgs),
    /// Print kalab's man page (roff) on stdout: `kalab man | man -l -`.
    #[command(after_help = "Examples:\n  \
        kalab man | man -l -\n  \
        kalab man > /usr/local/share/man/man1/kalab.1\n\n\
        Exit codes: 0 printed, 2 bad usage.")]
    Man,
    /// The scenario file format: every table and key with its type, default and meaning, and
    /// an example per table (`--help`); `scenario new NAME` writes a starter file.
    #[command(
        after_help = "Examples:\n  \
            kalab scenario --help | less          the whole reference\n  \
            kalab scenario new pool-test          a commented starter file, pool-test.toml\n\n\
            Exit codes: 0 done, 2 bad usage or the file exists.\n\n\
            `kalab scenario --help` (or `kalab help scenario`, or `kalab scenario`) prints the \
            reference of every table and key.",
        after_long_help = scenario_reference() + "\nExamples:\n  \
            kalab scenario | less                 this reference, on stdout\n  \
            kalab scenario new pool-test          a commented starter file, pool-test.toml\n  \
            kalab run --serve -c 10 --max-idle-per-host 2 --print-scenario   flags as a file\n\n\
            Exit codes: 0 done, 2 bad usage or the file exists."
    )]
    Scenario(ScenarioArgs),
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
#[command(after_help = "Examples:\n  \
    kalab analyze captures/quick-1.pcap\n  \
    kalab analyze trace.pcapng --port 8443 --format csv > connections.csv\n  \
    tcpdump -i lo -w - port 8080 | kalab analyze - --port 8080\n\n\
    Exit codes: 0 analysed, 2 bad usage, a file that cannot be read or is not a capture (what \
    was read before the damage is printed first), or no connection on --port.")]
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
///
/// Runs scenario files, or one scenario described by flags (quick mode: `--serve` or `--url`
/// with `-c`, `-n` and the knobs below; `--print-scenario` turns the flags into a file).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    kalab run scenarios/demo/04-concurrent-idle2.toml --repeat 3\n  \
    kalab run scenarios/ --format json > results.json\n  \
    kalab run --serve -c 10 -n 100 --max-idle-per-host 2 --pause 20ms\n  \
    kalab run --url http://127.0.0.1:8080/ -c 4 --duration 10s --expect 'connections_opened <= 4'\n  \
    kalab run --serve -c 10 -n 100 --body drop --print-scenario > drop.toml\n\n\
    Exit codes: 0 ran (every expectation held), 1 an --expect or [expect] failed, 2 bad input \
    (a scenario file, a flag), 3 the environment cannot measure what was asked (capture \
    permission with --capture required, an unreachable target, most requests failing for one \
    local cause), 130 interrupted (what was measured is reported).\n\n\
    The scenario format: kalab scenario --help")]
pub struct RunArgs {
    /// Scenario files or directories of them (or, instead, quick-mode flags: --serve or --url).
    #[arg(value_name = "SCENARIO")]
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
    /// Quick mode: one scenario described by flags.
    #[command(flatten)]
    pub quick: Box<QuickArgs>,
}

/// Quick mode of `kalab run`: the flags that describe one scenario instead of a file. Each sets
/// one key of the scenario (`kalab scenario --help`); `--duration` and `--rate` above go into
/// its `[pattern]`.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Quick mode (one scenario from flags, instead of files)")]
pub struct QuickArgs {
    /// Target this external server, `http://HOST:PORT/PATH` or `https://...` (repeat for
    /// several hosts sharing one port).
    #[arg(long, value_name = "URL", conflicts_with = "serve")]
    pub url: Vec<String>,
    /// Target kalab's embedded server (loopback, a fresh port for every run).
    #[arg(long)]
    pub serve: bool,
    /// Concurrent workers; 1 (the default) is a sequential pattern.
    #[arg(short = 'c', long = "workers", value_name = "WORKERS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// Requests in total, shared evenly by the workers (a multiple of -c); default: 10 per
    /// worker, or none with --duration (which then alone ends the run).
    #[arg(short = 'n', long = "requests", value_name = "REQUESTS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Pause between two requests of one worker (`20ms`, `1s`).
    #[arg(long = "pause", value_name = "DURATION", value_parser = parse_whole_ms)]
    pub pause_ms: Option<u64>,
    /// What the client does with each response body: `drain` (default), `drop`, `partial:N`,
    /// `drain-limit:N`.
    #[arg(long, value_name = "POLICY", value_parser = parse_body_policy)]
    pub body: Option<crate::scenario::BodyPolicy>,
    /// Client: idle connections the pool keeps per host (default: unlimited).
    #[arg(long, value_name = "N")]
    pub max_idle_per_host: Option<u32>,
    /// Client: how long an idle pooled connection is kept (`90s`, default; `0`: forever).
    #[arg(long = "idle-timeout", value_name = "DURATION", value_parser = parse_whole_ms)]
    pub idle_timeout_ms: Option<u64>,
    /// Client: `Connection: close` on every request, nothing pooled.
    #[arg(long)]
    pub no_keep_alive: bool,
    /// Client: `http1` (default), `h2c` (HTTP/2 cleartext, prior knowledge) or `h2` (over TLS).
    #[arg(long, value_name = "PROTOCOL", value_parser = ["http1", "h2c", "h2"])]
    pub protocol: Option<String>,
    /// Client: per-request timeout (default `10s`).
    #[arg(long = "request-timeout", value_name = "DURATION", value_parser = parse_whole_ms)]
    pub request_timeout_ms: Option<u64>,
    /// Client, HTTPS: the TLS versions offered (`1.2,1.3`, default).
    #[arg(long, value_name = "VERSIONS", value_delimiter = ',', value_parser = ["1.2", "1.3"])]
    pub tls_versions: Vec<String>,
    /// Client, HTTPS: never offer to resume a session (every handshake full).
    #[arg(long)]
    pub no_tls_resumption: bool,
    /// Client, HTTPS: TLS sessions remembered for resumption (default 256).
    #[arg(long, value_name = "N")]
    pub tls_session_cache: Option<u32>,
    /// Client, HTTPS: a PEM file of CA certificates to trust for an external --url.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client, HTTPS: accept any certificate unchecked (the report warns).
    #[arg(long)]
    pub insecure: bool,
    /// Several hosts: how requests are spread, `round-robin` (default) or `random`.
    #[arg(long, value_name = "SPREAD", value_parser = ["round-robin", "random"])]
    pub spread: Option<String>,
    /// With --spread random: the seed, so a run repeats exactly.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// --serve: the address to bind (default 127.0.0.1; loopback only).
    #[arg(long, value_name = "IP")]
    pub server_address: Option<std::net::IpAddr>,
    /// --serve: the port to bind (default: a fresh ephemeral port for every run).
    #[arg(long, value_name = "N")]
    pub server_port: Option<u16>,
    /// --serve: N servers on 127.0.0.1, 127.0.0.2, ... (distinct hosts, one port).
    #[arg(long, value_name = "N")]
    pub hosts: Option<u32>,
    /// --serve: size of every response body, in bytes (default 11).
    #[arg(long, value_name = "BYTES")]
    pub body_bytes: Option<u64>,
    /// --serve: time the handler waits before answering, in microseconds (default 50).
    #[arg(long, value_name = "US")]
    pub delay_us: Option<u64>,
    /// --serve: `Transfer-Encoding: chunked` framing instead of `Content-Length`.
    #[arg(long)]
    pub chunked: bool,
    /// --serve: `off`: every response carries `Connection: close`.
    #[arg(long, value_name = "on|off", value_enum)]
    pub server_keep_alive: Option<OnOff>,
    /// --serve: `Connection: close` on the Nth response of each connection.
    #[arg(long, value_name = "N")]
    pub close_after_requests: Option<u64>,
    /// --serve: close keep-alive connections idle this long (`500ms`; default: never).
    #[arg(long = "server-idle-timeout", value_name = "DURATION", value_parser = parse_whole_ms)]
    pub server_idle_timeout_ms: Option<u64>,
    /// --serve: speak HTTPS (HTTP/1.1 and h2 by ALPN) with a certificate made for the run.
    #[arg(long)]
    pub tls: bool,
    /// --serve --tls: `off`: no session cache and no tickets (every handshake full).
    #[arg(long, value_name = "on|off", value_enum)]
    pub server_tls_resumption: Option<OnOff>,
    /// The scenario's name in reports (default `quick`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Print the scenario these flags describe as a TOML file on stdout, and run nothing
    /// (`kalab run --serve ... --print-scenario > NAME.toml`, then `kalab run NAME.toml`).
    #[arg(long)]
    pub print_scenario: bool,
}

/// Values of the `on|off` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl OnOff {
    /// Whether it is `on`.
    pub fn on(self) -> bool {
        self == OnOff::On
    }
}

/// Options of `kalab scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// What to do; without one, print the reference on stdout.
    #[command(subcommand)]
    pub action: Option<ScenarioAction>,
}

/// The subcommands of `kalab scenario`.
#[derive(Debug, Subcommand)]
pub enum ScenarioAction {
    /// Write a commented starter scenario NAME.toml (never over an existing file).
    #[command(after_help = "Examples:\n  \
        kalab scenario new pool-test          writes pool-test.toml here\n  \
        kalab scenario new scenarios/mine     writes scenarios/mine.toml\n\n\
        Exit codes: 0 written, 2 the file exists or cannot be written.")]
    New(ScenarioNewArgs),
}

/// Options of `kalab scenario new`.
#[derive(Debug, Args)]
pub struct ScenarioNewArgs {
    /// The file to write, with or without `.toml`; its name (without the directory) is the
    /// scenario's name.
    #[arg(value_name = "NAME")]
    pub name: PathBuf,
}

/// The scenario reference `kalab scenario --help` prints: every table and key, and every
/// metric an expectation can name.
pub fn scenario_reference() -> String {
    let metrics: Vec<(&str, &str, bool)> = crate::report::figures::FIGURES
        .iter()
        .map(|f| (f.name, f.about, f.per_source()))
        .collect();
    crate::scenario::reference::render(&metrics)
}

/// A duration flag (`20ms`, `1s`, `0`) as whole milliseconds, the unit scenario files use.
fn parse_whole_ms(text: &str) -> Result<u64, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|err| format!("{err}; write e.g. `20ms`, `1s` or `0`"))?;
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err("give whole milliseconds (e.g. `20ms`, `1s`)".into());
    }
    u64::try_from(duration.as_millis()).map_err(|_| "too long".into())
}

fn parse_body_policy(text: &str) -> Result<crate::scenario::BodyPolicy, String> {
    text.parse()
}

/// Options of `kalab check`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    kalab check scenarios/\n  \
    kalab check scenarios/ --repeat 3 --junit junit.xml\n  \
    kalab check pool.toml --expect 'connections_opened.capture <= 10' --capture required\n  \
    kalab check scenarios/ --save-baseline base.json; kalab check scenarios/ --baseline base.json\n\n\
    Exit codes: 0 every expectation held, 1 one failed (or a figure regressed against \
    --baseline), 2 bad input (a scenario file, an expectation, a flag), 3 an expectation \
    could not be measured (its source did not measure) or the environment cannot run it, \
    130 interrupted (what was measured is reported).\n\n\
    The scenario format, [expect] and its metrics: kalab scenario --help")]
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
#[command(after_help = "Examples:\n  \
    kalab demo\n  \
    kalab demo --format markdown > demo.md\n  \
    kalab demo --capture required --timeline demo.svg\n\n\
    Exit codes: 0 ran, 2 bad usage, 3 the environment cannot measure what was asked (e.g. \
    --capture required without permission), 130 interrupted (what was measured is reported).")]
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
#[command(after_help = "Examples:\n  \
    kalab compare before.json after.json\n  \
    kalab compare --label before=old.json --label after=new.json --format markdown\n\n\
    Exit codes: 0 compared, 2 bad usage or a file that is not a kalab JSON result, 3 an \
    export file that cannot be written.")]
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
