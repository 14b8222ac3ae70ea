//! Comparison sentences in hyperfine's spirit: "sequential-drain opened 10.0x fewer connections
//! than sequential-drop".
//!
//! Runs are compared within groups of like patterns (same kind, workers and requests), each
//! against the group's first run, so a sentence never compares a sequential run with a
//! concurrent one.

use super::model::RunReport;

/// The sentences for a list of runs, in order.
pub fn comparisons(runs: &[RunReport]) -> Vec<String> {
    let mut sentences = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        let baseline = runs[..index]
            .iter()
            .find(|earlier| same_group(earlier, run) && earlier.label() != run.label());
        if let Some(baseline) = baseline {
            if let Some(sentence) = compare(baseline, run) {
                sentences.push(sentence);
            }
        }
    }
    sentences
}

fn same_group(a: &RunReport, b: &RunReport) -> bool {
    let (pa, pb) = (&a.settings.pattern, &b.settings.pattern);
    pa.kind == pb.kind
        && pa.workers == pb.workers
        && pa.requests_per_worker == pb.requests_per_worker
}

/// One sentence saying how `run` differs from `baseline` in connections opened.
pub fn compare(baseline: &RunReport, run: &RunReport) -> Option<String> {
    let (base, base_source) = baseline.connections_opened.best()?;
    let value = run.connections_opened.get(base_source)?;
    let what = match value.cmp(&base) {
        std::cmp::Ordering::Equal => format!("opened as many connections as {}", baseline.label()),
        std::cmp::Ordering::Less => format!(
            "opened {} fewer connections than {}",
            ratio(base, value),
            baseline.label()
        ),
        std::cmp::Ordering::Greater => format!(
            "opened {} more connections than {}",
            ratio(value, base),
            baseline.label()
        ),
    };
    let time_wait = match (baseline.time_wait, run.time_wait) {
        (Some(b), Some(r)) if b.time_wait_client_end != r.time_wait_client_end => format!(
            " and left {} instead of {} TIME_WAIT sockets on the client",
            r.time_wait_client_end, b.time_wait_client_end
        ),
        (Some(b), Some(r)) if b.time_wait_server_end != r.time_wait_server_end => format!(
            " and left {} instead of {} TIME_WAIT sockets on the server",
            r.time_wait_server_end, b.time_wait_server_end
        ),
        _ => String::new(),
    };
    Some(format!(
        "{} {what}{time_wait} ({value} vs {base} connections, {base_source} source)",
        run.label()
    ))
}

fn ratio(larger: u64, smaller: u64) -> String {
    if smaller == 0 {
        format!("{larger} (vs none)")
    } else {
        format!("{:.1}x", larger as f64 / smaller as f64)
    }
}
