//! How long a pattern runs and how fast it sends: `duration = "30s"` and `rate = "200/s"` in a
//! scenario's `[pattern]`, or `--duration` and `--rate` on the command line.
//!
//! A rate is written `N/s` (or `N/min`), optionally `N requests/s` or `N connections/s`, and
//! optionally followed by `per worker`: `200/s` is 200 requests a second in total, spread over
//! the workers; `20 connections/s per worker` opens 20 new connections a second on each worker.
//! A rate makes the pattern open-loop: arrivals follow the clock, whether or not earlier
//! requests have finished.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateOf {
    /// Requests, over the pool's connections (kept-alive ones are reused).
    Requests,
    /// New connections: every arrival opens one (the client keeps no idle connection), for
    /// port-exhaustion and TIME_WAIT experiments.
    Connections,
}

/// An arrival rate: so many requests (or new connections) per second, in total or per worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Arrivals per second (total, or per worker when `per_worker`).
    pub per_second: f64,
    /// Whether `per_second` is each worker's rate rather than the total.
    pub per_worker: bool,
    /// Whether each arrival is a request or a new connection.
    pub of: RateOf,
}

/// The rate syntax, for error messages.
pub const RATE_HELP: &str = "`N/s` or `N/min`, optionally `N requests/s` or `N connections/s`, optionally followed by `per worker` (e.g. `200/s`, `20 connections/s per worker`)";

impl Rate {
    /// One worker's arrivals per second, with `workers` workers.
    pub fn per_worker_per_second(&self, workers: u32) -> f64 {
        if self.per_worker {
            self.per_second
        } else {
            self.per_second / f64::from(workers.max(1))
        }
    }

    /// Every worker's arrivals per second together.
    pub fn total_per_second(&self, workers: u32) -> f64 {
        self.per_worker_per_second(workers) * f64::from(workers.max(1))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("`{text}` is not a rate ({why}); write {RATE_HELP}");
        let mut rest = text.trim();
        let per_worker = match rest.strip_suffix("per worker") {
            Some(before) => {
                rest = before.trim_end();
                true
            }
            None => false,
        };
        let (amount, unit) = rest.split_once('/').ok_or_else(|| bad("no `/s`"))?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1.0,
            "min" | "minute" => 60.0,
            "ms" => 0.001,
            other => return Err(bad(&format!("unknown unit `{other}`"))),
        };
        let amount = amount.trim();
        let (number, of) = if let Some(n) = amount.strip_suffix("connections") {
            (n.trim(), RateOf::Connections)
        } else if let Some(n) = amount.strip_suffix("requests") {
            (n.trim(), RateOf::Requests)
        } else {
            (amount, RateOf::Requests)
        };
        let count: f64 = number
            .parse()
            .map_err(|_| bad(&format!("`{number}` is not a number")))?;
        if !count.is_finite() || count <= 0.0 {
            return Err(bad("the number must be greater than 0"));
        }
        let per_second = count / seconds;
        if per_second > 1_000_000.0 {
            return Err(bad("more than 1,000,000 a second"));
        }
        Ok(Rate {
            per_second,
            per_worker,
            of,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.of {
            RateOf::Requests => "",
            RateOf::Connections => " connections",
        };
        let number = format!("{:.3}", self.per_second);
        let number = number.trim_end_matches('0').trim_end_matches('.');
        write!(f, "{number}{what}/s")?;
        if self.per_worker {
            f.write_str(" per worker")?;
        }
        Ok(())
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// When arrival `k` of worker `w` (of `workers`) is due, after the pattern's start: worker `w`'s
/// arrivals are evenly spaced at its rate, and the workers are staggered so that together they
/// arrive evenly too.
pub fn arrival_offset(rate: &Rate, workers: u32, worker: u32, k: u64) -> Duration {
    let per_worker = rate.per_worker_per_second(workers);
    let stagger = f64::from(worker) / f64::from(workers.max(1));
    Duration::from_secs_f64((k as f64 + stagger) / per_worker)
}

/// How many arrivals worker `w` has within `duration` (those due strictly before its end).
pub fn arrivals(rate: &Rate, workers: u32, worker: u32, duration: Duration) -> u64 {
    let per_worker = rate.per_worker_per_second(workers);
    let stagger = f64::from(worker) / f64::from(workers.max(1));
    // Arrival k is due at (k + stagger) / rate: those with k < duration * rate - stagger.
    let bound = duration.as_secs_f64() * per_worker - stagger;
    // A tiny tolerance, so 2 s at 100/s is 200 arrivals, not 201 from rounding.
    (bound - 1e-9).ceil().max(0.0) as u64
}

/// Parses humantime text (`30s`, `500ms`, `1h 30m`), with an error that says what was wrong
/// and how to write it: humantime's own ("expected number at 0") names neither.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError;
    const WRITE: &str = "write a number and a unit, e.g. `30s`, `500ms`, `2m` or `1h 30m`";
    let trimmed = text.trim();
    humantime::parse_duration(trimmed).map_err(|err| match err {
        DurationError::Empty => format!("an empty duration: {WRITE}"),
        DurationError::InvalidCharacter(at) => {
            let found = trimmed.get(at..).and_then(|t| t.chars().next()).unwrap_or(' ');
            format!("`{text}` is not a duration: `{found}` cannot be in one; {WRITE}")
        }
        DurationError::NumberExpected(at) => format!(
            "`{text}` is not a duration: a number is missing before `{}`; {WRITE}",
            trimmed.get(at..).unwrap_or(trimmed)
        ),
        DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => format!(
            "`{text}` is not a duration: `{value}` needs a unit, e.g. `{value}s` or `{value}ms`"
        ),
        DurationError::UnknownUnit { unit, .. } => format!(
            "`{text}` is not a duration: unknown unit `{unit}`; units: ms, s, m (min), h, d; {WRITE}"
        ),
        DurationError::NumberOverflow => format!(
            "`{text}` is not a duration kalab can hold (too large, or finer than a nanosecond); {WRITE}"
        ),
    })
}

/// A pattern's duration, written as humantime text (`30s`, `2m`, `1h 30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternDuration(pub Duration);

impl FromStr for PatternDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let duration = parse_duration(text)?;
        if duration.is_zero() {
            return Err(format!("`{text}`: a duration must be longer than 0"));
        }
        Ok(PatternDuration(duration))
    }
}

impl fmt::Display for PatternDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for PatternDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PatternDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `--duration` and `--rate` from the command line: they replace the scenario's own.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PatternOverride {
    /// Run every pattern for this long (it replaces the scenario's request count).
    pub duration: Option<PatternDuration>,
    /// Send at this rate.
    pub rate: Option<Rate>,
}

impl PatternOverride {
    /// Applies the override to a scenario's pattern. A `--duration` replaces the request
    /// count, so the pattern runs for that long.
    pub fn apply(&self, pattern: &mut super::PatternSettings) {
        if let Some(duration) = self.duration {
            pattern.duration = Some(duration);
            pattern.requests_per_worker = None;
        }
        if let Some(rate) = self.rate {
            pattern.rate = Some(rate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_spelling() {
        let rate: Rate = "200/s".parse().unwrap();
        assert_eq!(
            rate,
            Rate {
                per_second: 200.0,
                per_worker: false,
                of: RateOf::Requests
            }
        );
        assert_eq!(rate.per_worker_per_second(4), 50.0);
        let rate: Rate = "20 connections/s per worker".parse().unwrap();
        assert_eq!(rate.of, RateOf::Connections);
        assert!(rate.per_worker);
        assert_eq!(rate.total_per_second(3), 60.0);
        let rate: Rate = "120 requests/min".parse().unwrap();
        assert_eq!(rate.per_second, 2.0);
        for text in ["200/s", "20 connections/s per worker", "2.5/s"] {
            let rate: Rate = text.parse().unwrap();
            assert_eq!(rate.to_string(), text);
        }
    }

    #[test]
    fn arrivals_add_up_to_rate_times_duration() {
        let rate: Rate = "100/s".parse().unwrap();
        for workers in [1, 3, 4, 7] {
            let total: u64 = (0..workers)
                .map(|w| arrivals(&rate, workers, w, Duration::from_secs(2)))
                .sum();
            assert_eq!(total, 200, "{workers} workers");
        }
        let offsets: Vec<Duration> = (0..2)
            .flat_map(|k| (0..2).map(move |w| arrival_offset(&rate, 2, w, k)))
            .collect();
        let ms: Vec<u128> = offsets.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 10, 20, 30], "two workers interleave evenly");
        let per: Rate = "10/s per worker".parse().unwrap();
        assert_eq!(arrivals(&per, 3, 2, Duration::from_secs(1)), 10);
    }

    #[test]
    fn bad_rates_say_how_to_write_one() {
        for text in ["200", "0/s", "-1/s", "fast/s", "10/h", "NaN/s"] {
            let err = text.parse::<Rate>().unwrap_err();
            assert!(err.contains("N/s"), "{text}: {err}");
        }
    }

    #[test]
    fn durations_round_trip_and_refuse_zero() {
        let d: PatternDuration = "1m 30s".parse().unwrap();
        assert_eq!(d.0, Duration::from_secs(90));
        assert_eq!(d.to_string(), "1m 30s");
        assert!("0s".parse::<PatternDuration>().is_err());
        assert!("soon"
            .parse::<PatternDuration>()
            .unwrap_err()
            .contains("30s"));
    }

    #[test]
    fn a_bad_duration_says_what_was_wrong_and_how_to_write_one() {
        for (text, says) in [
            ("abc", "a number is missing before `abc`"),
            ("10", "`10` needs a unit, e.g. `10s`"),
            ("5x", "unknown unit `x`"),
            ("", "an empty duration"),
            ("1s!", "`!` cannot be in one"),
            ("99999999999999999999h", "too large"),
            ("é", "is not a duration"),
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
            assert!(!err.contains(" at 0"), "{text}: {err}");
        }
        assert_eq!(parse_duration(" 1m 30s ").unwrap(), Duration::from_secs(90));
        assert!("abc"
            .parse::<PatternDuration>()
            .unwrap_err()
            .contains("`30s`"));
    }
}
