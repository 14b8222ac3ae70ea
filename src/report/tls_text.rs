//! How TLS handshakes read in reports: the grid's column (`1 / 9 (capture)`), and sentences
//! saying what resumption saved ("with https-resumption-off, 10 requests cost 10 full
//! handshakes; with https-resumption-on, 1 full + 9 resumed").

use super::connections::ConnectionView;
use super::figures;
use super::model::{PerSource, RunReport, TlsFigures};
use super::sentences::{baseline_for, Baselines};
use super::summary::{cell, VariantSummary};
use crate::model::Source;

/// `1 full + 9 resumed`, `10 full`, `3 full (1 after a HelloRetryRequest) + 2 resumed`.
fn handshakes_text(full: u64, hrr: u64, resumed: u64) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut text = match full {
        0 => String::new(),
        _ => format!("{full} full"),
    };
    if hrr > 0 {
        text.push_str(&format!(" ({hrr} after a HelloRetryRequest)"));
    }
    match (full, resumed) {
        (0, 0) => format!("no handshake{}", plural(0)),
        (_, 0) => format!("{text} handshake{}", plural(full)),
        (0, _) => format!("{resumed} resumed handshake{}", plural(resumed)),
        _ => format!("{text} + {resumed} resumed"),
    }
}

/// What one run's requests cost in handshakes, from its best source:
/// `10 requests cost 1 full + 9 resumed (capture source)`.
pub fn cost(run: &RunReport) -> Option<String> {
    let tls = run.tls.as_ref()?;
    let (full, source) = tls.handshakes_full.best()?;
    let resumed = tls.handshakes_resumed.get(source)?;
    let hrr = tls.handshakes_full_hrr.get(source).unwrap_or(0);
    Some(format!(
        "{} requests cost {} ({source} source)",
        run.requests_sent,
        handshakes_text(full, hrr, resumed)
    ))
}

/// One sentence per HTTPS variant: what its requests cost in handshakes beside what the
/// variant it is compared with paid, or alone for a variant nothing is compared with.
pub fn sentences(variants: &[VariantSummary<'_>], compared_with: Baselines<'_, '_>) -> Vec<String> {
    let mut compared = Vec::new();
    let mut baselines = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let Some(cost_here) = cost(variant.first()) else {
            continue;
        };
        let base = baseline_for(variants, index, compared_with)
            .filter(|base| base.label != variant.label)
            .and_then(|base| Some((base.label.clone(), cost(base.first())?)));
        match base {
            Some((label, cost_there)) => {
                compared.push(format!(
                    "with {}, {cost_here}; with {label}, {cost_there}",
                    variant.label
                ));
                baselines.push(label);
            }
            None => compared.push(String::new()),
        }
    }
    // A variant only others are compared with is named in their sentences already.
    let mut sentences = Vec::new();
    let mut costs = variants.iter().filter_map(|v| Some((v, cost(v.first())?)));
    for sentence in compared {
        let Some((variant, cost_here)) = costs.next() else {
            break;
        };
        if !sentence.is_empty() {
            sentences.push(sentence);
        } else if !baselines.contains(&variant.label) {
            sentences.push(format!("with {}, {cost_here}", variant.label));
        }
    }
    sentences
}

/// One connection's handshake in the per-connection table: `resumed (capture, server, client)`
/// when the sources agree, `DISAGREE: full (capture), resumed (client)` when they do not.
pub fn connection_text(view: &ConnectionView) -> String {
    let Some(&(_, first)) = view.tls.first() else {
        return "-".to_string();
    };
    if view.tls_disagrees() {
        let each: Vec<String> = view
            .tls
            .iter()
            .map(|(source, kind)| format!("{kind} ({source})"))
            .collect();
        return format!("DISAGREE: {}", each.join(", "));
    }
    let sources: Vec<&str> = view.tls.iter().map(|(s, _)| s.as_str()).collect();
    format!("{first} ({})", sources.join(", "))
}

/// Whether any run is an HTTPS run (the grid then shows the handshake column).
pub fn any(runs: &[RunReport]) -> bool {
    runs.iter().any(|r| r.tls.is_some())
}

/// The grid column's header.
pub const COLUMN_HEADER: &str = "TLS handshakes\nfull / resumed";

/// The grid column's cell: `1 / 9 (capture)`, from the best source of the first repetition.
pub fn cell_text(variant: &VariantSummary<'_>) -> String {
    let Some(tls) = variant.first().tls.as_ref() else {
        return "-".to_string();
    };
    let Some((_, source)) = tls.handshakes_full.best() else {
        return "-".to_string();
    };
    format!(
        "{} / {} ({source})",
        cell(
            &variant.values(&figures::TLS_HANDSHAKES_FULL, Some(source)),
            0
        ),
        cell(
            &variant.values(&figures::TLS_HANDSHAKES_RESUMED, Some(source)),
            0
        )
    )
}

/// Every source's counts of the run, `client 1 + 9, server 1 + 9, capture 1 + 9` (full +
/// resumed).
pub fn per_source_text(tls: &TlsFigures) -> String {
    let per = |values: &PerSource, source: Source| values.get(source);
    tls.handshakes_full
        .present()
        .into_iter()
        .filter_map(|(source, full)| {
            let resumed = per(&tls.handshakes_resumed, source)?;
            Some(format!("{source} {full} full + {resumed} resumed"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_counts_read_as_words() {
        assert_eq!(handshakes_text(10, 0, 0), "10 full handshakes");
        assert_eq!(handshakes_text(1, 0, 0), "1 full handshake");
        assert_eq!(handshakes_text(1, 0, 9), "1 full + 9 resumed");
        assert_eq!(
            handshakes_text(2, 1, 3),
            "2 full (1 after a HelloRetryRequest) + 3 resumed"
        );
        assert_eq!(handshakes_text(0, 0, 4), "4 resumed handshakes");
    }
}
