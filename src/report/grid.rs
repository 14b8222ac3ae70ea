//! The side-by-side view every format shares: header, one row per variant, comparison
//! sentences and notes. The terminal table and the markdown exporter only differ in markup.

use super::figures::lookup;
use super::model::{RunReport, Source};
use super::sentences;
use super::summary::{cell, group, VariantSummary};
use crate::model::Warning;

/// The side-by-side comparison of a set of runs, as text cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Column headers (a header may hold a line break).
    pub headers: Vec<String>,
    /// One row per variant.
    pub rows: Vec<Vec<String>>,
    /// "X opened 10.0x fewer connections than Y" sentences.
    pub sentences: Vec<String>,
    /// Warnings and notes, one line each.
    pub notes: Vec<String>,
    /// Files the runs wrote (saved captures), one line each.
    pub files: Vec<String>,
}

fn figure(name: &str) -> &'static super::figures::Figure {
    lookup(name).expect("figure in catalogue")
}

/// Builds the side-by-side grid. `baseline` picks the variant others are compared with (by
/// label or variant text); without it, each group of like patterns compares with its first.
pub fn build(runs: &[RunReport], baseline: Option<&str>) -> Grid {
    let variants = group(runs);
    let sources: Vec<Source> = [
        Source::Client,
        Source::Server,
        Source::Capture,
        Source::Sockets,
    ]
    .into_iter()
    .filter(|&s| runs.iter().any(|r| r.connections_opened.get(s).is_some()))
    .collect();
    let chosen = baseline.and_then(|wanted| {
        variants
            .iter()
            .find(|v| v.label == wanted || v.first().variant == wanted)
    });
    let repeated = variants.iter().any(|v| v.runs.len() > 1);

    let mut headers = vec!["run".to_string()];
    if repeated {
        headers.push("runs".into());
    }
    headers.extend([
        "requests\nok / failed".to_string(),
        format!(
            "connections opened\n({})",
            sources
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" / ")
        ),
        "vs\nbaseline".into(),
        "reuse\nratio".into(),
        "requests per conn\nmin / med / max".into(),
        "closed by\nclient / server / reset / open".into(),
        "TIME_WAIT end\nclient / server".into(),
        "latency ms\np50 / p99".into(),
        "wall\nms".into(),
    ]);

    let joined = |v: &VariantSummary<'_>, names: &[&str], decimals: usize| {
        let parts: Vec<String> = names
            .iter()
            .map(|name| cell(&v.values(figure(name), None), decimals))
            .collect();
        if parts.iter().all(|p| p == "-") {
            "-".to_string()
        } else {
            parts.join(" / ")
        }
    };
    let opened = figure("connections_opened");
    let mut rows = Vec::new();
    for (index, variant) in variants.iter().enumerate() {
        let baseline_variant = sentences::baseline_for(&variants, index, chosen);
        let mut row = vec![variant.label.clone()];
        if repeated {
            row.push(variant.runs.len().to_string());
        }
        row.push(joined(variant, &["requests_ok", "requests_failed"], 0));
        row.push(
            sources
                .iter()
                .map(|&s| cell(&variant.values(opened, Some(s)), 0))
                .collect::<Vec<_>>()
                .join(" / "),
        );
        row.push(match (baseline_variant, variant.median(opened, None)) {
            (Some(base), Some(value)) => match base.median(opened, None) {
                Some(b) if b > 0.0 => format!("{:.2}x", value / b),
                _ => "-".into(),
            },
            _ => "-".into(),
        });
        row.push(cell(&variant.values(figure("reuse_ratio"), None), 1));
        row.push(joined(
            variant,
            &[
                "requests_per_connection_min",
                "requests_per_connection_median",
                "requests_per_connection_max",
            ],
            0,
        ));
        let closes = joined(
            variant,
            &[
                "closes_by_client",
                "closes_by_server",
                "resets",
                "open_at_end",
            ],
            0,
        );
        row.push(match variant.first().closes.source {
            Some(source) if closes != "-" => format!("{closes} ({source})"),
            _ => closes,
        });
        row.push(joined(
            variant,
            &["time_wait_client_end", "time_wait_server_end"],
            0,
        ));
        row.push(joined(variant, &["latency_p50_ms", "latency_p99_ms"], 2));
        row.push(cell(&variant.values(figure("wall_time_ms"), None), 0));
        rows.push(row);
    }

    let sentences = sentences::comparisons(&variants, chosen);
    let mut notes = Vec::new();
    for variant in &variants {
        if let Some(counts) = variant.unstable_connection_counts() {
            let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
            notes.push(format!(
                "{}: connections opened changed between repetitions ({}): the behaviour is not deterministic here",
                variant.label,
                counts.join(", ")
            ));
        }
        for (index, run) in variant.runs.iter().enumerate() {
            let which = if variant.runs.len() > 1 {
                format!(" run {}/{}", index + 1, variant.runs.len())
            } else {
                String::new()
            };
            for warning in &run.warnings {
                // Missing capture permission is said once, on stderr, with the remedy.
                if matches!(
                    warning,
                    Warning::SourceUnavailable {
                        source: Source::Capture,
                        ..
                    }
                ) {
                    continue;
                }
                notes.push(format!("{}{which}: {warning}", variant.label));
            }
        }
    }
    let files = runs
        .iter()
        .filter_map(|run| {
            let path = run.capture.as_ref()?.saved_file.as_ref()?;
            Some(format!(
                "{} run {}: packets saved to {}",
                run.label(),
                run.repetition,
                path.display()
            ))
        })
        .collect();
    Grid {
        headers,
        rows,
        sentences,
        notes,
        files,
    }
}
