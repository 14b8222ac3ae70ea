//! The limits of every numeric scenario value (and of the flags that set the same things),
//! checked when a scenario loads and for every sweep variant, before anything runs. A value
//! past its limit is an input error at its line and column; nothing in kalab allocates in
//! proportion to a value that passed. The limits are documented in the README.

use std::net::IpAddr;

use super::model::{Scenario, ServerSettings};

/// Most concurrent workers of one pattern (each is a task, and usually a connection).
pub const MAX_WORKERS: u32 = 10_000;
/// Most requests one pattern may send (workers x requests per worker).
pub const MAX_REQUESTS: u64 = 1_000_000;
/// Longest pause between two requests of a worker, in milliseconds (1 h).
pub const MAX_PAUSE_MS: u64 = 3_600_000;
/// Largest response body, in bytes (1 GiB; bodies are streamed from a fixed buffer).
pub const MAX_BODY_BYTES: u64 = 1 << 30;
/// Longest handler delay, in microseconds (60 s).
pub const MAX_DELAY_US: u64 = 60_000_000;
/// Longest idle timeout (server or client), in milliseconds (1 h).
pub const MAX_IDLE_TIMEOUT_MS: u64 = 3_600_000;
/// Most embedded servers of one scenario (consecutive loopback addresses).
pub const MAX_HOSTS: u32 = 256;
/// Most variants a sweep may expand to, counted before any is built.
pub const MAX_VARIANTS: usize = 10_000;

/// A value past its limit: the section and key it is at, and what to do.
pub type BoundError = (&'static str, &'static str, String);

/// Checks every bounded value of a scenario.
pub fn check(scenario: &Scenario) -> Result<(), BoundError> {
    check_server(&scenario.server).map_err(|(key, why)| ("server", key, why))?;
    let pattern = &scenario.pattern;
    let workers = pattern.workers.get();
    if workers > MAX_WORKERS {
        return Err((
            "pattern",
            "workers",
            format!("{workers} workers is more than the limit of {MAX_WORKERS}"),
        ));
    }
    if let Some(per_worker) = pattern.requests_per_worker {
        let total = u64::from(workers) * u64::from(per_worker.get());
        if total > MAX_REQUESTS {
            return Err((
                "pattern",
                "requests_per_worker",
                format!(
                    "{workers} workers x {per_worker} requests = {total} requests, more than the limit of {MAX_REQUESTS} per run"
                ),
            ));
        }
    }
    at_most("pattern", "pause_ms", pattern.pause_ms, MAX_PAUSE_MS, "ms")?;
    at_most(
        "client",
        "idle_timeout_ms",
        scenario.client.idle_timeout_ms,
        MAX_IDLE_TIMEOUT_MS,
        "ms",
    )?;
    Ok(())
}

/// Checks the embedded server's values (a scenario's `[server]`, or `observe --serve`'s
/// flags): the key and what to do.
pub fn check_server(server: &ServerSettings) -> Result<(), (&'static str, String)> {
    if server.url.is_none() && server.urls.is_empty() {
        check_loopback(server.address).map_err(|why| ("address", why))?;
    }
    let bound = |key, value, max, unit| {
        at_most("server", key, value, max, unit).map_err(|(_, key, why)| (key, why))
    };
    bound("body_bytes", server.body_bytes, MAX_BODY_BYTES, "bytes")?;
    bound("delay_us", server.delay_us, MAX_DELAY_US, "us")?;
    bound(
        "idle_timeout_ms",
        server.idle_timeout_ms,
        MAX_IDLE_TIMEOUT_MS,
        "ms",
    )?;
    let hosts = server.hosts.get();
    if hosts > MAX_HOSTS {
        return Err((
            "hosts",
            format!("{hosts} hosts is more than the limit of {MAX_HOSTS}"),
        ));
    }
    Ok(())
}

/// The embedded server listens on loopback only: a shared scenario file must not expose it to
/// the network.
pub fn check_loopback(address: IpAddr) -> Result<(), String> {
    if address.is_loopback() {
        return Ok(());
    }
    Err(format!(
        "`{address}` is not a loopback address; the embedded server listens on loopback only (127.0.0.1, another 127.x.y.z, or ::1)"
    ))
}

fn at_most(
    section: &'static str,
    key: &'static str,
    value: u64,
    max: u64,
    unit: &str,
) -> Result<(), BoundError> {
    if value <= max {
        return Ok(());
    }
    Err((
        section,
        key,
        format!("{value} {unit} is more than the limit of {max} {unit}"),
    ))
}

/// The number of variants a sweep with these axis lengths expands to, when within
/// [`MAX_VARIANTS`].
pub fn variant_count(axis_lengths: impl IntoIterator<Item = usize>) -> Result<usize, String> {
    let mut count: usize = 1;
    for len in axis_lengths {
        count = count
            .checked_mul(len)
            .filter(|&c| c <= MAX_VARIANTS)
            .ok_or_else(|| {
                format!("the sweep expands to more than {MAX_VARIANTS} variants; sweep fewer values, or split it into several files")
            })?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_counts_are_bounded_without_overflow() {
        assert_eq!(variant_count([2, 3, 4]), Ok(24));
        assert!(variant_count([300, 300, 300, 300]).is_err());
        assert!(variant_count([usize::MAX, usize::MAX]).is_err());
        assert_eq!(variant_count([]), Ok(1));
    }

    #[test]
    fn only_loopback_addresses_are_served() {
        assert!(check_loopback("127.0.0.1".parse().unwrap()).is_ok());
        assert!(check_loopback("127.0.0.9".parse().unwrap()).is_ok());
        assert!(check_loopback("::1".parse().unwrap()).is_ok());
        for other in ["0.0.0.0", "::", "10.0.0.7"] {
            let err = check_loopback(other.parse().unwrap()).unwrap_err();
            assert!(err.contains("loopback only"), "{err}");
        }
    }
}
