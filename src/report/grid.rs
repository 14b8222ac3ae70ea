//! The side-by-side view every format shares: header, one row per variant, comparison
//! sentences and notes. The terminal table and the markdown exporter only differ in markup.

use super::figures::{self, Figure};
use super::model::{RunReport, Source};
use super::sentences;
use super::summary::{cell, group, VariantSummary};
use super::tls_text as tls;
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

/// Builds the side-by-side grid. `baseline` picks the variant others are compared with (by
/// label or variant text); without it, each group of like patterns compares with its first.
pub fn build(runs: &[RunReport], baseline: Option<&str>) -> Grid {
    // A run with several server endpoints is followed by one row per endpoint.
    let with_endpoints = super::endpoints::views(runs);
    let runs = with_endpoints.as_slice();
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
    let rows = variants
        .iter()
        .enumerate()
        .map(|(index, variant)| {
            let baseline_variant = sentences::baseline_for(&variants, index, chosen);
            row(variant, baseline_variant, &sources, repeated)
        })
        .collect();
    let mut grid = Grid {
        headers: headers(&sources, repeated),
        rows,
        sentences: sentences::comparisons(&variants, chosen),
        notes: notes(&variants),
        files: saved_files(runs),
    };
    if tls::any(runs) {
        grid.headers.push(tls::COLUMN_HEADER.to_string());
        for (row, variant) in grid.rows.iter_mut().zip(&variants) {
            row.push(tls::cell_text(variant));
        }
        grid.sentences.extend(tls::sentences(&variants, chosen));
    }
    grid
}

/// The column headers.
fn headers(sources: &[Source], repeated: bool) -> Vec<String> {
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
        "socket table saw\n(lower bound)".into(),
        "vs\nbaseline".into(),
        "reuse\nratio".into(),
        "requests per conn\nmin / med / max".into(),
        "closed by\nclient / server / reset / open".into(),
        "TIME_WAIT end\nclient / server".into(),
        "latency ms\np50 / p99".into(),
        "wall\nms".into(),
    ]);
    headers
}

/// Several figures of a variant in one cell, `a / b / c`; `-` when none was measured.
fn joined(variant: &VariantSummary<'_>, figures: &[&Figure], decimals: usize) -> String {
    let parts: Vec<String> = figures
        .iter()
        .map(|figure| cell(&variant.values(figure, None), decimals))
        .collect();
    if parts.iter().all(|p| p == "-") {
        "-".to_string()
    } else {
        parts.join(" / ")
    }
}

/// One variant's row.
fn row(
    variant: &VariantSummary<'_>,
    baseline: Option<&VariantSummary<'_>>,
    sources: &[Source],
    repeated: bool,
) -> Vec<String> {
    let opened = &figures::CONNECTIONS_OPENED;
    let mut row = vec![variant.label.clone()];
    if repeated {
        row.push(variant.runs.len().to_string());
    }
    row.push(joined(
        variant,
        &[&figures::REQUESTS_OK, &figures::REQUESTS_FAILED],
        0,
    ));
    row.push(
        sources
            .iter()
            .map(|&s| cell(&variant.values(opened, Some(s)), 0))
            .collect::<Vec<_>>()
            .join(" / "),
    );
    let seen = cell(
        &variant.values(&figures::CONNECTIONS_SEEN_LOWER_BOUND, None),
        0,
    );
    row.push(if seen == "-" {
        seen
    } else {
        format!(">= {seen}")
    });
    row.push(match (baseline, variant.median(opened, None)) {
        (Some(base), Some(value)) => match base.median(opened, None) {
            Some(b) if b > 0.0 => format!("{:.2}x", value / b),
            _ => "-".into(),
        },
        _ => "-".into(),
    });
    row.push(cell(&variant.values(&figures::REUSE_RATIO, None), 1));
    row.push(joined(
        variant,
        &[
            &figures::REQUESTS_PER_CONNECTION_MIN,
            &figures::REQUESTS_PER_CONNECTION_MEDIAN,
            &figures::REQUESTS_PER_CONNECTION_MAX,
        ],
        0,
    ));
    let closes = joined(
        variant,
        &[
            &figures::CLOSES_BY_CLIENT,
            &figures::CLOSES_BY_SERVER,
            &figures::RESETS,
            &figures::OPEN_AT_END,
        ],
        0,
    );
    row.push(match variant.first().closes.source {
        Some(source) if closes != "-" => format!("{closes} ({source})"),
        _ => closes,
    });
    row.push(joined(
        variant,
        &[
            &figures::TIME_WAIT_CLIENT_END,
            &figures::TIME_WAIT_SERVER_END,
        ],
        0,
    ));
    row.push(joined(
        variant,
        &[&figures::LATENCY_P50_MS, &figures::LATENCY_P99_MS],
        2,
    ));
    row.push(cell(&variant.values(&figures::WALL_TIME_MS, None), 0));
    row
}

/// Unstable counts between repetitions, and every run's warnings, one line each.
fn notes(variants: &[VariantSummary<'_>]) -> Vec<String> {
    let mut notes = Vec::new();
    for variant in variants {
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
    notes
}

/// The capture files the runs saved, one line each.
fn saved_files(runs: &[RunReport]) -> Vec<String> {
    runs.iter()
        .filter_map(|run| {
            let path = run.capture.as_ref()?.saved_file.as_ref()?;
            Some(format!(
                "{} run {}: packets saved to {}",
                run.label(),
                run.repetition,
                path.display()
            ))
        })
        .collect()
}
