//! Comparison sentences in hyperfine's spirit: "sequential-drain opened 10.0x fewer connections
//! than sequential-drop and left 0 instead of 10 TIME_WAIT sockets on the client".
//!
//! Only like things are compared: the variants of one sweep (one scenario file, like request
//! patterns), the inputs of one `kalab compare` (each row with the same row of the first input),
//! the explicit pairs a result set names (the demo's curated pairs), or every variant with a
//! chosen `--baseline-variant`. Unrelated scenario files are never compared. Repetitions of one
//! variant merge into one row and are compared by their medians.

use super::figures;
use super::model::Comparison;
use super::summary::VariantSummary;

/// What the variants are compared with: a chosen baseline, and explicit pairs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Baselines<'v, 'a> {
    /// `--baseline-variant`: every variant is compared with it.
    pub chosen: Option<&'v VariantSummary<'a>>,
    /// Explicit pairs between runs of different scenarios.
    pub explicit: &'v [Comparison],
}

/// `scenario [variant]`, without the endpoint or the input.
fn run_name(variant: &VariantSummary<'_>) -> String {
    let run = variant.first();
    if run.variant.is_empty() {
        run.scenario.clone()
    } else {
        format!("{} [{}]", run.scenario, run.variant)
    }
}

/// The variant that `variants[index]` is compared with, if any (possibly itself, for the
/// first variant of a sweep: it is then its group's baseline).
pub fn baseline_for<'v, 'a>(
    variants: &'v [VariantSummary<'a>],
    index: usize,
    baselines: Baselines<'v, 'a>,
) -> Option<&'v VariantSummary<'a>> {
    let variant = &variants[index];
    let endpoint = &variant.first().endpoint;
    match baselines.chosen {
        // An endpoint's row compares with the same endpoint of the chosen variant.
        Some(base) if endpoint.is_some() => {
            return variants.iter().find(|v| {
                &v.first().endpoint == endpoint
                    && v.input == base.input
                    && v.first().scenario == base.first().scenario
                    && v.first().variant == base.first().variant
            })
        }
        Some(base) => return Some(base),
        None => {}
    }
    if variant.input.is_some() {
        return input_baseline(variants, variant);
    }
    let name = run_name(variant);
    if let Some(pair) = baselines.explicit.iter().find(|c| c.variant == name) {
        return variants
            .iter()
            .find(|v| run_name(v) == pair.baseline && &v.first().endpoint == endpoint);
    }
    variants[..=index]
        .iter()
        .find(|earlier| same_sweep(earlier, variant))
}

/// In `kalab compare`: the same row of the first input (same scenario, variant and endpoint),
/// or else the row at the same place when the inputs have as many rows.
fn input_baseline<'v, 'a>(
    variants: &'v [VariantSummary<'a>],
    variant: &VariantSummary<'a>,
) -> Option<&'v VariantSummary<'a>> {
    let first_input = variants.iter().find_map(|v| v.input.as_ref())?;
    if variant.input.as_ref() == Some(first_input) {
        return None;
    }
    let base_rows: Vec<&VariantSummary<'a>> = variants
        .iter()
        .filter(|v| v.input.as_ref() == Some(first_input))
        .collect();
    let same = |a: &VariantSummary<'_>, b: &VariantSummary<'_>| {
        run_name(a) == run_name(b) && a.first().endpoint == b.first().endpoint
    };
    if let Some(base) = base_rows.iter().find(|b| same(b, variant)) {
        return Some(base);
    }
    let mine: Vec<&VariantSummary<'a>> = variants
        .iter()
        .filter(|v| v.input == variant.input)
        .collect();
    if mine.len() != base_rows.len() {
        return None;
    }
    let place = mine.iter().position(|v| v.label == variant.label)?;
    let base = base_rows[place];
    (base.first().endpoint == variant.first().endpoint).then_some(base)
}

/// Whether `variant` is the baseline some other variant is compared with.
pub fn is_baseline(
    variants: &[VariantSummary<'_>],
    index: usize,
    baselines: Baselines<'_, '_>,
) -> bool {
    (0..variants.len()).any(|other| {
        other != index
            && baseline_for(variants, other, baselines)
                .is_some_and(|base| base.label == variants[index].label)
    })
}

/// The sentences for a list of variants, in order.
pub fn comparisons(variants: &[VariantSummary<'_>], baselines: Baselines<'_, '_>) -> Vec<String> {
    (0..variants.len())
        .filter_map(|index| {
            let base = baseline_for(variants, index, baselines)?;
            if base.label == variants[index].label {
                return None;
            }
            compare(base, &variants[index])
        })
        .collect()
}

/// Variants of one sweep: the same scenario from the same file (and the same input), with like
/// request patterns (a sequential run is not compared with a concurrent one); a host's figures
/// compare with the same host's, totals with totals.
fn same_sweep(a: &VariantSummary<'_>, b: &VariantSummary<'_>) -> bool {
    let (ra, rb) = (a.first(), b.first());
    if ra.endpoint != rb.endpoint
        || ra.origin != rb.origin
        || ra.scenario != rb.scenario
        || a.input != b.input
    {
        return false;
    }
    match (ra.pattern(), rb.pattern()) {
        (Some(pa), Some(pb)) => {
            pa.kind == pb.kind
                && pa.workers == pb.workers
                && pa.requests_per_worker == pb.requests_per_worker
                && pa.duration == pb.duration
                && pa.rate == pb.rate
        }
        (None, None) => true,
        _ => false,
    }
}

/// One sentence saying how `variant` differs from `baseline` in connections opened and
/// TIME_WAIT.
pub fn compare(baseline: &VariantSummary<'_>, variant: &VariantSummary<'_>) -> Option<String> {
    let opened = &figures::CONNECTIONS_OPENED;
    let (_, source) = baseline.first().connections_opened.best()?;
    let base = baseline.median(opened, Some(source))?;
    let value = variant.median(opened, Some(source))?;
    let what = if value == base {
        format!("opened as many connections as {}", baseline.label)
    } else if value < base {
        format!(
            "opened {} fewer connections than {}",
            ratio(base, value),
            baseline.label
        )
    } else {
        format!(
            "opened {} more connections than {}",
            ratio(value, base),
            baseline.label
        )
    };
    let mut time_wait = String::new();
    for (figure, side) in [
        (&figures::TIME_WAIT_CLIENT_END, "client"),
        (&figures::TIME_WAIT_SERVER_END, "server"),
    ] {
        if let (Some(b), Some(v)) = (baseline.median(figure, None), variant.median(figure, None)) {
            if b != v {
                time_wait.push_str(&format!(
                    " and left {} instead of {} TIME_WAIT sockets on the {side}",
                    number(v),
                    number(b)
                ));
                break;
            }
        }
    }
    Some(format!(
        "{} {what}{time_wait} ({} vs {} connections, {source} source)",
        variant.label,
        number(value),
        number(base)
    ))
}

fn ratio(larger: f64, smaller: f64) -> String {
    if smaller == 0.0 {
        format!("{} (vs none)", number(larger))
    } else {
        format!("{:.1}x", larger / smaller)
    }
}

fn number(value: f64) -> String {
    super::number::plain(value, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;
    use crate::report::grid;
    use crate::report::model::RunReport;

    fn from_file(name: &str, variant: &str, connections: u64, origin: &str) -> RunReport {
        let mut run = sample_run(name, variant, connections);
        run.origin = origin.into();
        run
    }

    #[test]
    fn different_scenario_files_are_never_compared() {
        let runs = vec![
            from_file("h2c-multiplexing", "", 1, "scenarios/h2c.toml"),
            from_file("concurrent-idle2", "", 82, "scenarios/idle2.toml"),
        ];
        let grid = grid::build(&runs, None);
        assert!(grid.sentences.is_empty(), "{:?}", grid.sentences);
        assert!(grid.rows.iter().all(|r| r[4] == "-"), "{:?}", grid.rows);
    }

    #[test]
    fn variants_of_one_sweep_are_compared_with_its_first() {
        let runs = vec![
            from_file("pool", "max=2", 10, "pool.toml"),
            from_file("pool", "max=10", 1, "pool.toml"),
            from_file("other", "", 5, "other.toml"),
        ];
        let grid = grid::build(&runs, None);
        assert_eq!(
            grid.sentences,
            ["pool [max=10] opened 10.0x fewer connections than pool [max=2] (1 vs 10 connections, server source)"]
        );
        let ratios: Vec<&str> = grid.rows.iter().map(|r| r[4].as_str()).collect();
        assert_eq!(ratios, ["1.00x", "0.10x", "-"]);
    }

    #[test]
    fn inputs_of_a_compare_are_compared_row_by_row() {
        let mut before = from_file("concurrent-idle2", "", 80, "a.toml");
        before.input = Some("a.json".into());
        let mut after = from_file("concurrent-idle10", "", 10, "b.toml");
        after.input = Some("b.json".into());
        let grid = grid::build(&[before, after], None);
        assert_eq!(grid.rows.len(), 2);
        assert_eq!(
            grid.sentences,
            ["b.json: concurrent-idle10 opened 8.0x fewer connections than a.json: concurrent-idle2 (10 vs 80 connections, server source)"]
        );
    }

    #[test]
    fn explicit_pairs_compare_unlike_scenarios() {
        let runs = vec![
            from_file("drop", "", 10, "1.toml"),
            from_file("drain", "", 1, "2.toml"),
            from_file("unrelated", "", 3, "3.toml"),
        ];
        let pairs = [Comparison {
            variant: "drain".into(),
            baseline: "drop".into(),
        }];
        let grid = grid::build_with(&runs, None, &pairs);
        assert_eq!(grid.sentences.len(), 1, "{:?}", grid.sentences);
        assert!(grid.sentences[0].starts_with("drain opened 10.0x fewer connections than drop"));
        // A chosen baseline compares everything with it.
        let grid = grid::build(&runs, Some("drop"));
        assert_eq!(grid.sentences.len(), 2, "{:?}", grid.sentences);
    }
}
