//! Baselines: a saved result set that later runs must not get worse than, beyond a tolerance.
//! Only figures where worse has a direction and is about connection reuse are compared: more
//! connections, lower reuse, more TIME_WAIT, more resets, more failed requests, more full TLS
//! handshakes.

use crate::report::figures::{self, Figure, Worse};
use crate::report::summary::group;
use crate::report::RunReport;

use super::expect::number;

/// The figures a baseline guards.
pub const GUARDED: &[&Figure] = &[
    &figures::CONNECTIONS_OPENED,
    &figures::REUSE_RATIO,
    &figures::REQUESTS_FAILED,
    &figures::RESETS,
    &figures::TIME_WAIT_CLIENT_PEAK,
    &figures::TIME_WAIT_CLIENT_END,
    &figures::TIME_WAIT_SERVER_PEAK,
    &figures::TIME_WAIT_SERVER_END,
    &figures::TLS_HANDSHAKES_FULL,
    &figures::TLS_HANDSHAKES_PER_REQUEST,
];

/// Every regression of `current` against `baseline`, one sentence each. Variants are matched
/// by label; medians over repetitions are compared. `tolerance_pct` allows that much change.
pub fn regressions(
    baseline: &[RunReport],
    current: &[RunReport],
    tolerance_pct: f64,
) -> Vec<String> {
    let before = group(baseline);
    let mut found = Vec::new();
    for now in group(current) {
        let Some(then) = before.iter().find(|b| b.label == now.label) else {
            continue;
        };
        for figure in GUARDED {
            let name = figure.name;
            let (Some(old), Some(new)) = (then.median(figure, None), now.median(figure, None))
            else {
                continue;
            };
            let allowed = old.abs() * tolerance_pct / 100.0;
            let worse = match figure.worse {
                Worse::Higher => new > old + allowed,
                Worse::Lower => new < old - allowed,
                Worse::Neither => false,
            };
            if worse {
                found.push(format!(
                    "{}: {name} got worse: {} now, {} in the baseline (tolerance {}%)",
                    now.label,
                    number(new),
                    number(old),
                    number(tolerance_pct)
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;

    #[test]
    fn more_connections_beyond_the_tolerance_is_a_regression() {
        let baseline = vec![sample_run("s", "", 5)];
        let worse = vec![sample_run("s", "", 10)];
        let found = regressions(&baseline, &worse, 40.0);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("connections_opened got worse: 10 now, 5 in the baseline"));
        assert!(found[1].contains("reuse_ratio got worse: 1 now, 2 in the baseline"));
        assert!(regressions(&baseline, &worse, 100.0).is_empty());
    }

    #[test]
    fn improvements_and_unknown_variants_are_not_regressions() {
        let baseline = vec![sample_run("s", "", 10)];
        assert!(regressions(&baseline, &[sample_run("s", "", 1)], 0.0).is_empty());
        assert!(regressions(&baseline, &[sample_run("other", "", 10)], 0.0).is_empty());
    }
}
