//! Port-exhaustion forecast: how long a client could keep a run's connection churn before
//! `connect()` fails with "cannot assign requested address".
//!
//! The side that closes first keeps each closed connection in TIME_WAIT for 60 s on Linux
//! (`TCP_TIMEWAIT_LEN`). When that side is the client, each such socket holds a local port for the
//! 4-tuple to this server address, and the client has only `ip_local_port_range` of them. At `r`
//! client-closed connections per second, `r x 60` ports sit in TIME_WAIT at steady state; if that
//! is more than the range holds, the ports run out after `ports / r` seconds. With
//! `net.ipv4.tcp_tw_reuse` (1: every target; 2, the default: loopback only) and TCP timestamps,
//! `connect()` may take over a TIME_WAIT port once it is `tcp_tw_reuse_delay` (1 s) old, so the
//! same churn only exhausts ports above `ports / 1 s`. The arithmetic is pure and unit-tested; the
//! sysctls are read from `/proc/sys` separately, and a missing file means "assume the default".

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How long Linux keeps a socket in TIME_WAIT (`TCP_TIMEWAIT_LEN`), in seconds.
pub const TIME_WAIT_SECS: u64 = 60;

/// Below this many seconds to exhaustion the forecast warns (10 minutes).
pub(crate) const WARN_BELOW_SECS: f64 = 600.0;

/// Linux's default `net.ipv4.ip_local_port_range`.
pub(crate) const DEFAULT_LOCAL_PORT_RANGE: (u16, u16) = (32768, 60999);

/// Linux's default `net.ipv4.tcp_tw_reuse_delay`, in milliseconds.
pub(crate) const DEFAULT_TW_REUSE_DELAY_MS: u64 = 1000;

/// The value of `net.ipv4.tcp_tw_reuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TwReuse {
    /// 0: TIME_WAIT ports are never reused by `connect()`.
    Off,
    /// 1: reused for every target.
    AllTargets,
    /// 2 (the default on current kernels): reused for loopback targets only.
    LoopbackOnly,
}

impl TwReuse {
    /// The mode for a sysctl value, if it is one.
    pub(crate) fn from_sysctl(value: u8) -> Option<TwReuse> {
        match value {
            0 => Some(TwReuse::Off),
            1 => Some(TwReuse::AllTargets),
            2 => Some(TwReuse::LoopbackOnly),
            _ => None,
        }
    }

    /// The sysctl value.
    pub(crate) fn sysctl_value(self) -> u8 {
        match self {
            TwReuse::Off => 0,
            TwReuse::AllTargets => 1,
            TwReuse::LoopbackOnly => 2,
        }
    }

    /// Whether `connect()` may reuse TIME_WAIT ports for a target of this kind.
    pub(crate) fn applies_to(self, target_is_loopback: bool) -> bool {
        match self {
            TwReuse::Off => false,
            TwReuse::AllTargets => true,
            TwReuse::LoopbackOnly => target_is_loopback,
        }
    }
}

/// The sysctls the forecast needs, as read from `/proc/sys/net/ipv4`; `None` where unreadable.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PortSysctls {
    /// `ip_local_port_range`: the lowest and highest ephemeral port.
    pub local_port_range: Option<(u16, u16)>,
    /// `tcp_tw_reuse`.
    pub tcp_tw_reuse: Option<TwReuse>,
    /// `tcp_timestamps` != 0 (TIME_WAIT reuse needs timestamps).
    pub tcp_timestamps: Option<bool>,
    /// `tcp_tw_reuse_delay` in milliseconds (kernels before 6.13 have none: 1 s fixed).
    pub tw_reuse_delay_ms: Option<u64>,
}

/// Parses `ip_local_port_range` text such as `"32768\t60999\n"`.
pub(crate) fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let mut parts = text.split_ascii_whitespace();
    let low = parts.next()?.parse::<u16>().ok()?;
    let high = parts.next()?.parse::<u16>().ok()?;
    if parts.next().is_some() || low == 0 || low > high {
        return None;
    }
    Some((low, high))
}

/// Parses `tcp_tw_reuse` text such as `"2\n"`.
pub(crate) fn parse_tw_reuse(text: &str) -> Option<TwReuse> {
    TwReuse::from_sysctl(text.trim().parse().ok()?)
}

fn parse_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// Reads the sysctls from `/proc/sys/net/ipv4`.
pub fn read_port_sysctls() -> PortSysctls {
    read_port_sysctls_from(Path::new("/proc/sys/net/ipv4"))
}

/// Reads the sysctls from files named like those in `/proc/sys/net/ipv4` under `dir`.
pub(crate) fn read_port_sysctls_from(dir: &Path) -> PortSysctls {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    PortSysctls {
        local_port_range: read("ip_local_port_range").and_then(|t| parse_port_range(&t)),
        tcp_tw_reuse: read("tcp_tw_reuse").and_then(|t| parse_tw_reuse(&t)),
        tcp_timestamps: read("tcp_timestamps")
            .and_then(|t| parse_u64(&t))
            .map(|v| v != 0),
        tw_reuse_delay_ms: read("tcp_tw_reuse_delay").and_then(|t| parse_u64(&t)),
    }
}

/// Everything the forecast is computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForecastInput {
    /// Lowest and highest ephemeral port.
    pub local_port_range: (u16, u16),
    /// `net.ipv4.tcp_tw_reuse`.
    pub tw_reuse: TwReuse,
    /// Whether TCP timestamps are on (TIME_WAIT reuse needs them).
    pub tcp_timestamps: bool,
    /// How long a TIME_WAIT port must age before `connect()` may reuse it, in milliseconds.
    pub tw_reuse_delay_ms: u64,
    /// How long TIME_WAIT lasts, in seconds (60 on Linux).
    pub time_wait_secs: u64,
    /// New client connections per second that end with the client as active closer.
    pub client_closes_per_sec: f64,
    /// Whether the server address is a loopback address.
    pub target_is_loopback: bool,
    /// The sysctls that could not be read and were assumed to have Linux's default.
    pub assumed_defaults: Vec<String>,
}

impl ForecastInput {
    /// The input for a run, from the sysctls read (defaults where they were unreadable).
    pub fn from_sysctls(
        sysctls: &PortSysctls,
        client_closes_per_sec: f64,
        target_is_loopback: bool,
    ) -> ForecastInput {
        let mut assumed_defaults = Vec::new();
        let mut assume = |name: &str| assumed_defaults.push(name.to_string());
        let local_port_range = sysctls.local_port_range.unwrap_or_else(|| {
            assume("net.ipv4.ip_local_port_range");
            DEFAULT_LOCAL_PORT_RANGE
        });
        let tw_reuse = sysctls.tcp_tw_reuse.unwrap_or_else(|| {
            assume("net.ipv4.tcp_tw_reuse");
            TwReuse::LoopbackOnly
        });
        let tcp_timestamps = sysctls.tcp_timestamps.unwrap_or_else(|| {
            assume("net.ipv4.tcp_timestamps");
            true
        });
        // Kernels without the sysctl use a fixed 1 s: nothing is assumed.
        let tw_reuse_delay_ms = sysctls
            .tw_reuse_delay_ms
            .unwrap_or(DEFAULT_TW_REUSE_DELAY_MS);
        ForecastInput {
            local_port_range,
            tw_reuse,
            tcp_timestamps,
            tw_reuse_delay_ms,
            time_wait_secs: TIME_WAIT_SECS,
            client_closes_per_sec,
            target_is_loopback,
            assumed_defaults,
        }
    }
}

/// Which rule decides the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ForecastCase {
    /// `tcp_tw_reuse` lets `connect()` reuse TIME_WAIT ports for this target after the reuse
    /// delay, so TIME_WAIT does not exhaust ports at any realistic rate.
    ReuseTimeWait,
    /// No reuse for this target: each TIME_WAIT socket holds its port for the full TIME_WAIT.
    Arithmetic,
}

/// How long the client could keep this rate of client-closed connections to this server address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PortForecast {
    /// Local ports in the ephemeral range (per server address and port).
    pub ports_available: u64,
    /// The range they come from.
    pub local_port_range: (u16, u16),
    /// The rate the forecast is for: new connections per second closed by the client.
    pub client_closes_per_sec: f64,
    /// How long TIME_WAIT lasts, in seconds.
    pub time_wait_secs: u64,
    /// Client-side TIME_WAIT sockets at steady state (rate x TIME_WAIT length).
    pub steady_state_time_wait: u64,
    /// `net.ipv4.tcp_tw_reuse`.
    pub tw_reuse: TwReuse,
    /// Which rule applies.
    pub case: ForecastCase,
    /// Seconds until `connect()` runs out of ports; `None`: sustainable.
    pub seconds_until_exhaustion: Option<f64>,
    /// The same without TIME_WAIT reuse, i.e. against a remote server; `None`: sustainable.
    pub seconds_until_exhaustion_without_reuse: Option<f64>,
    /// True when the ports run out in under 10 minutes.
    pub warning: bool,
    /// The sysctls that could not be read and were assumed to have Linux's default.
    pub assumed_defaults: Vec<String>,
}

/// Seconds until `ports` run out when each of `rate` new ports per second stays taken for
/// `hold_secs`; `None` when ports free up at least as fast as they are taken.
fn exhaustion_secs(ports: u64, rate_per_sec: f64, hold_secs: f64) -> Option<f64> {
    if rate_per_sec * hold_secs < ports as f64 {
        None
    } else {
        Some(ports as f64 / rate_per_sec)
    }
}

/// Computes the forecast. A rate that is not a positive finite number counts as zero.
pub fn forecast_ports(input: &ForecastInput) -> PortForecast {
    let (low, high) = input.local_port_range;
    let ports_available = u64::from(high.saturating_sub(low)) + u64::from(high >= low);
    let rate = if input.client_closes_per_sec.is_finite() && input.client_closes_per_sec > 0.0 {
        input.client_closes_per_sec
    } else {
        0.0
    };
    let time_wait_secs = input.time_wait_secs as f64;
    let reuse = input.tcp_timestamps && input.tw_reuse.applies_to(input.target_is_loopback);
    let without_reuse = exhaustion_secs(ports_available, rate, time_wait_secs);
    let (case, seconds_until_exhaustion) = if reuse {
        let delay_secs = input.tw_reuse_delay_ms as f64 / 1000.0;
        (
            ForecastCase::ReuseTimeWait,
            exhaustion_secs(ports_available, rate, delay_secs.min(time_wait_secs)),
        )
    } else {
        (ForecastCase::Arithmetic, without_reuse)
    };
    PortForecast {
        ports_available,
        local_port_range: input.local_port_range,
        client_closes_per_sec: rate,
        time_wait_secs: input.time_wait_secs,
        steady_state_time_wait: (rate * time_wait_secs).round() as u64,
        tw_reuse: input.tw_reuse,
        case,
        seconds_until_exhaustion,
        seconds_until_exhaustion_without_reuse: without_reuse,
        warning: seconds_until_exhaustion.is_some_and(|secs| secs < WARN_BELOW_SECS),
        assumed_defaults: input.assumed_defaults.clone(),
    }
}

/// `28232` -> `28,232`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with at most one decimal: `500`, `12.5`.
fn rate_text(rate: f64) -> String {
    if (rate - rate.round()).abs() < 0.05 {
        format!("{}", rate.round() as u64)
    } else {
        format!("{rate:.1}")
    }
}

impl fmt::Display for PortForecast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = rate_text(self.client_closes_per_sec);
        let ports = thousands(self.ports_available);
        let (low, high) = self.local_port_range;
        let steady = thousands(self.steady_state_time_wait);
        let tw = self.time_wait_secs;
        let sysctl = self.tw_reuse.sysctl_value();
        match (self.case, self.seconds_until_exhaustion) {
            (ForecastCase::Arithmetic, None) => write!(
                f,
                "At {rate} client-closed connections/s, {steady} client sockets sit in TIME_WAIT \
                 at steady state ({rate}/s x {tw} s), fewer than the {ports} local ports \
                 ({low}-{high}): this rate is sustainable."
            )?,
            (ForecastCase::Arithmetic, Some(secs)) => write!(
                f,
                "At {rate} client-closed connections/s, TIME_WAIT holds {steady} local ports at \
                 steady state ({rate}/s x {tw} s) but only {ports} exist ({low}-{high}): the \
                 client runs out of ports to this server after {secs:.1} s (connect fails with \
                 \"cannot assign requested address\"), since net.ipv4.tcp_tw_reuse = {sysctl} \
                 does not let it reuse TIME_WAIT ports here."
            )?,
            (ForecastCase::ReuseTimeWait, reuse_secs) => {
                write!(
                    f,
                    "net.ipv4.tcp_tw_reuse = {sysctl} lets connect() reuse this target's \
                     TIME_WAIT ports, so {rate} client-closed connections/s "
                )?;
                match reuse_secs {
                    None => write!(f, "do not exhaust the {ports} local ports")?,
                    Some(secs) => write!(
                        f,
                        "still exhaust the {ports} local ports after {secs:.1} s, faster than \
                         TIME_WAIT ports age for reuse"
                    )?,
                }
                match self.seconds_until_exhaustion_without_reuse {
                    Some(secs) => write!(
                        f,
                        "; against a remote server the same rate would run out after {secs:.1} s \
                         ({rate}/s x {tw} s = {steady} > {ports})."
                    )?,
                    None => write!(
                        f,
                        "; even without reuse it would be sustainable ({rate}/s x {tw} s = \
                         {steady} < {ports})."
                    )?,
                }
            }
        }
        if !self.assumed_defaults.is_empty() {
            write!(
                f,
                " (Assumed Linux defaults for unreadable {}.)",
                self.assumed_defaults.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rate: f64, tw_reuse: u8, loopback: bool) -> ForecastInput {
        ForecastInput {
            local_port_range: (32768, 60999),
            tw_reuse: TwReuse::from_sysctl(tw_reuse).unwrap(),
            tcp_timestamps: true,
            tw_reuse_delay_ms: 1000,
            time_wait_secs: TIME_WAIT_SECS,
            client_closes_per_sec: rate,
            target_is_loopback: loopback,
            assumed_defaults: Vec::new(),
        }
    }

    #[test]
    fn high_churn_without_reuse_runs_out_in_under_a_minute() {
        let forecast = forecast_ports(&input(500.0, 0, false));
        assert_eq!(forecast.ports_available, 28_232);
        assert_eq!(forecast.steady_state_time_wait, 30_000);
        assert_eq!(forecast.case, ForecastCase::Arithmetic);
        let secs = forecast.seconds_until_exhaustion.unwrap();
        assert!((secs - 56.464).abs() < 0.001, "{secs}");
        assert!(forecast.warning);
        let text = forecast.to_string();
        assert!(text.contains("after 56.5 s"), "{text}");
        assert!(text.contains("28,232"), "{text}");
        assert!(text.contains("30,000"), "{text}");
    }

    #[test]
    fn low_churn_is_sustainable() {
        let forecast = forecast_ports(&input(100.0, 0, false));
        assert_eq!(forecast.steady_state_time_wait, 6_000);
        assert_eq!(forecast.seconds_until_exhaustion, None);
        assert!(!forecast.warning);
        assert!(forecast.to_string().contains("sustainable"), "{forecast}");
    }

    #[test]
    fn exactly_full_range_is_exhaustion_and_warning_threshold_is_ten_minutes() {
        // 28,232 / 60 s per port: every port taken at steady state.
        let full = forecast_ports(&input(28_232.0 / 60.0, 0, false));
        assert!((full.seconds_until_exhaustion.unwrap() - 60.0).abs() < 1e-9);
        let mut small = input(10.0, 0, false);
        small.local_port_range = (1024, 1024 + 5_999 + 1);
        small.time_wait_secs = 1_000;
        let f = forecast_ports(&small);
        assert_eq!(f.ports_available, 6_001);
        assert!((f.seconds_until_exhaustion.unwrap() - 600.1).abs() < 1e-9);
        assert!(!f.warning, "600.1 s is not under 10 minutes");
        small.local_port_range = (1024, 1024 + 5_998);
        let f = forecast_ports(&small);
        assert!(f.warning, "599.9 s is under 10 minutes");
    }

    #[test]
    fn reuse_for_loopback_applies_on_loopback_only() {
        let on_loopback = forecast_ports(&input(500.0, 2, true));
        assert_eq!(on_loopback.case, ForecastCase::ReuseTimeWait);
        assert_eq!(on_loopback.seconds_until_exhaustion, None);
        assert!(!on_loopback.warning);
        let remote_secs = on_loopback.seconds_until_exhaustion_without_reuse.unwrap();
        assert!((remote_secs - 56.464).abs() < 0.001);
        let text = on_loopback.to_string();
        assert!(text.contains("tcp_tw_reuse = 2"), "{text}");
        assert!(text.contains("remote server"), "{text}");

        let remote = forecast_ports(&input(500.0, 2, false));
        assert_eq!(remote.case, ForecastCase::Arithmetic);
        assert!(remote.warning);
        assert!(
            remote.to_string().contains("tcp_tw_reuse = 2 does not"),
            "{remote}"
        );

        let everywhere = forecast_ports(&input(500.0, 1, false));
        assert_eq!(everywhere.case, ForecastCase::ReuseTimeWait);
    }

    #[test]
    fn reuse_needs_timestamps_and_has_its_own_limit() {
        let mut no_ts = input(500.0, 2, true);
        no_ts.tcp_timestamps = false;
        assert_eq!(forecast_ports(&no_ts).case, ForecastCase::Arithmetic);
        // Faster than the ports age for reuse: 30,000/s x 1 s > 28,232.
        let extreme = forecast_ports(&input(30_000.0, 2, true));
        assert_eq!(extreme.case, ForecastCase::ReuseTimeWait);
        let secs = extreme.seconds_until_exhaustion.unwrap();
        assert!((secs - 28_232.0 / 30_000.0).abs() < 1e-9);
        assert!(extreme.warning);
    }

    #[test]
    fn nonsense_rates_count_as_zero() {
        for rate in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let f = forecast_ports(&input(rate, 0, false));
            assert_eq!(f.seconds_until_exhaustion, None, "{rate}");
            assert_eq!(f.steady_state_time_wait, 0);
        }
    }

    #[test]
    fn parses_sysctl_text() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_port_range("1024 65535"), Some((1024, 65535)));
        assert_eq!(parse_port_range("60999 32768"), None);
        assert_eq!(parse_port_range("32768"), None);
        assert_eq!(parse_port_range("0 100"), None);
        assert_eq!(parse_port_range("1 2 3"), None);
        assert_eq!(parse_port_range("a b"), None);
        assert_eq!(parse_port_range("1 70000"), None);
        assert_eq!(parse_tw_reuse("2\n"), Some(TwReuse::LoopbackOnly));
        assert_eq!(parse_tw_reuse("0"), Some(TwReuse::Off));
        assert_eq!(parse_tw_reuse("3"), None);
        assert_eq!(parse_tw_reuse(""), None);
    }

    #[test]
    fn reads_sysctls_and_defaults_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ip_local_port_range"), "40000\t40999\n").unwrap();
        std::fs::write(dir.path().join("tcp_tw_reuse"), "0\n").unwrap();
        let sysctls = read_port_sysctls_from(dir.path());
        assert_eq!(sysctls.local_port_range, Some((40000, 40999)));
        assert_eq!(sysctls.tcp_tw_reuse, Some(TwReuse::Off));
        assert_eq!(sysctls.tcp_timestamps, None);
        let input = ForecastInput::from_sysctls(&sysctls, 50.0, true);
        assert_eq!(
            input.assumed_defaults,
            vec!["net.ipv4.tcp_timestamps".to_string()]
        );
        let f = forecast_ports(&input);
        assert_eq!(f.ports_available, 1000);
        assert!((f.seconds_until_exhaustion.unwrap() - 20.0).abs() < 1e-9);
        assert!(f.to_string().contains("Assumed Linux defaults"), "{f}");

        let empty = read_port_sysctls_from(&dir.path().join("missing"));
        assert_eq!(empty, PortSysctls::default());
        let input = ForecastInput::from_sysctls(&empty, 1.0, false);
        assert_eq!(input.local_port_range, DEFAULT_LOCAL_PORT_RANGE);
        assert_eq!(input.tw_reuse, TwReuse::LoopbackOnly);
        assert_eq!(input.assumed_defaults.len(), 3);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(28_232), "28,232");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
