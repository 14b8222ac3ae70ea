//! Comparison sentences in hyperfine's spirit: "sequential-drain opened 10.0x fewer connections
//! than sequential-drop and left 0 instead of 10 TIME_WAIT sockets on the client".
//!
//! Without a chosen baseline, variants are compared within groups of like patterns (same kind,
//! workers and requests), each against the group's first, so a sentence never compares a
//! sequential run with a concurrent one. Repeated runs are compared by their medians.

use super::figures;
use super::summary::VariantSummary;

/// The variant that `variants[index]` is compared with: the chosen baseline, else the first
/// variant of its group of like patterns (none for that first variant itself).
pub fn baseline_for<'v, 'a>(
    variants: &'v [VariantSummary<'a>],
    index: usize,
    chosen: Option<&'v VariantSummary<'a>>,
) -> Option<&'v VariantSummary<'a>> {
    let variant = &variants[index];
    match chosen {
        // An endpoint's row compares with the same endpoint of the chosen variant.
        Some(base) if variant.first().endpoint.is_some() => variants.iter().find(|v| {
            v.first().endpoint == variant.first().endpoint
                && v.first().scenario == base.first().scenario
                && v.first().variant == base.first().variant
        }),
        Some(base) => Some(base),
        None => variants[..=index]
            .iter()
            .find(|earlier| same_group(earlier, variant)),
    }
}

/// The sentences for a list of variants, in order. With `baseline`, every other variant is
/// compared with it.
pub fn comparisons(
    variants: &[VariantSummary<'_>],
    baseline: Option<&VariantSummary<'_>>,
) -> Vec<String> {
    (0..variants.len())
        .filter_map(|index| {
            let base = baseline_for(variants, index, baseline)?;
            if base.label == variants[index].label {
                return None;
            }
            compare(base, &variants[index])
        })
        .collect()
}

/// Runs of the same request pattern compare; so do two observed programs (kalab sent no
/// pattern); a pattern and a program do not.
fn same_group(a: &VariantSummary<'_>, b: &VariantSummary<'_>) -> bool {
    // A host's figures compare with the same host's, totals with totals.
    if a.first().endpoint != b.first().endpoint {
        return false;
    }
    match (a.first().pattern(), b.first().pattern()) {
        (Some(pa), Some(pb)) => {
            pa.kind == pb.kind
                && pa.workers == pb.workers
                && pa.requests_per_worker == pb.requests_per_worker
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
