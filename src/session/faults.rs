//! Faults of kalab's own machine that a run's numbers must admit: a socket table that could not
//! be read for some of the samples (out of file descriptors, say), and requests that failed for
//! one local cause (the file-descriptor limit, no local port left). Pure: outcomes in, a
//! warning or a sentence out.

use crate::model::{RequestOutcome, Source, Warning};
use crate::sockets::SocketsOutcome;

/// The warning for a socket table that failed some of its snapshots.
pub fn sampling_warning(outcome: &SocketsOutcome) -> Option<Warning> {
    if outcome.failed_snapshots == 0 && !outcome.final_snapshot_failed {
        return None;
    }
    let last = if outcome.final_snapshot_failed {
        ", the final one included"
    } else {
        ""
    };
    Some(Warning::Note {
        message: format!(
            "the {} source could not read the socket table {} time(s){last} (out of file descriptors?): its counts come from the samples that worked and are lower bounds",
            Source::Sockets,
            outcome.failed_snapshots
        ),
    })
}

/// A local cause that most requests of a run failed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalCause {
    /// `EMFILE`: the process ran out of file descriptors.
    FileLimit,
    /// `EADDRNOTAVAIL`: no local port was left to connect from.
    NoPorts,
}

impl LocalCause {
    fn of(detail: &str) -> Option<LocalCause> {
        if detail.contains("Too many open files") || detail.contains("os error 24") {
            Some(LocalCause::FileLimit)
        } else if detail.contains("Cannot assign requested address")
            || detail.contains("os error 99")
        {
            Some(LocalCause::NoPorts)
        } else {
            None
        }
    }

    /// What happened and what to do.
    pub fn advice(self) -> String {
        match self {
            LocalCause::FileLimit => format!(
                "too many open files: the file-descriptor limit (ulimit -n) is {}; raise it or run fewer workers",
                file_limit().map_or("unknown".to_string(), |n| n.to_string())
            ),
            LocalCause::NoPorts => "cannot assign requested address: no local port was left (net.ipv4.ip_local_port_range, TIME_WAIT sockets); see the port forecast, reuse connections, or widen the range".to_string(),
        }
    }
}

/// The local cause most (more than half) of `requests` failed for, with how many failed for it.
pub fn dominant_local_cause(requests: &[RequestOutcome]) -> Option<(LocalCause, u64)> {
    let mut counts = [0u64; 2];
    for request in requests {
        match request
            .error
            .as_ref()
            .and_then(|e| LocalCause::of(&e.detail))
        {
            Some(LocalCause::FileLimit) => counts[0] += 1,
            Some(LocalCause::NoPorts) => counts[1] += 1,
            None => {}
        }
    }
    let (cause, count) = if counts[0] >= counts[1] {
        (LocalCause::FileLimit, counts[0])
    } else {
        (LocalCause::NoPorts, counts[1])
    };
    (count > 0 && count * 2 > requests.len() as u64).then_some((cause, count))
}

/// The soft limit on open files of this process.
fn file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into the struct we own.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    ok.then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RequestError;

    fn failed(detail: Option<&str>) -> RequestOutcome {
        RequestOutcome {
            worker: 0,
            index: 0,
            started_at_us: 0,
            latency_us: 0,
            status: detail.is_none().then_some(200),
            bytes_read: 0,
            body: None,
            local: None,
            error: detail.map(|d| RequestError {
                kind: "connect".into(),
                detail: d.into(),
            }),
            connection: None,
            reused: None,
            remote: None,
        }
    }

    #[test]
    fn a_local_cause_counts_when_most_requests_failed_for_it() {
        let emfile = "client error (Connect): tcp open error: Too many open files (os error 24)";
        let mut requests: Vec<_> = (0..6).map(|_| failed(Some(emfile))).collect();
        requests.extend((0..4).map(|_| failed(None)));
        assert_eq!(
            dominant_local_cause(&requests),
            Some((LocalCause::FileLimit, 6))
        );
        requests.extend((0..3).map(|_| failed(None)));
        assert_eq!(dominant_local_cause(&requests), None, "6 of 13 is not most");
        let ports = vec![failed(Some("Cannot assign requested address (os error 99)")); 3];
        assert_eq!(dominant_local_cause(&ports), Some((LocalCause::NoPorts, 3)));
        assert!(LocalCause::FileLimit.advice().contains("ulimit -n"));
    }
}
