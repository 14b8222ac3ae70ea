//! The side-by-side view every format shares: header, one row per variant, comparison
//! sentences and notes. The terminal table and the markdown exporter only differ in markup.
//!
//! Two sets of columns: the wide one (every figure and every source: markdown, `--wide`, the
//! vertical layout of a single run) and the compact one the terminal table shows by default,
//! which names its sources in a legend and lists the columns it may drop on a narrow terminal.

use super::figures::{self, Figure};
use super::model::{Comparison, ResultSet, RunReport, Source};
use super::sentences::{self, Baselines};
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
    /// The compact columns of the default terminal table.
    pub compact: Compact,
    /// Per row: the endpoint it breaks down (`None` on a run's own row).
    pub breakdown: Vec<Option<String>>,
    /// "X opened 10.0x fewer connections than Y" sentences.
    pub sentences: Vec<String>,
    /// Warnings (and unstable counts), one line each.
    pub notes: Vec<String>,
    /// Files the runs wrote (saved captures), one line each.
    pub files: Vec<String>,
    /// Notes on how to read the numbers (nothing wrong), one line each.
    pub info: Vec<String>,
}

/// The default terminal table's columns: fewer, shorter, with their sources in a legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Compact {
    /// Column headers.
    pub headers: Vec<String>,
    /// One row per variant (breakdown rows labelled `  @ ENDPOINT`).
    pub rows: Vec<Vec<String>>,
    /// Columns that may go on a narrow terminal, the first to go first.
    pub droppable: Vec<usize>,
    /// Where the compact cells come from, one line each.
    pub legend: Vec<String>,
}

impl Grid {
    /// How many runs (variants) it shows, breakdown rows not counted.
    pub fn variants(&self) -> usize {
        self.breakdown.iter().filter(|b| b.is_none()).count()
    }
}

/// The grid of a result set, with the explicit comparisons it names.
pub fn build_set(results: &ResultSet, baseline: Option<&str>) -> Grid {
    build_with(&results.runs, baseline, &results.comparisons)
}

/// Builds the side-by-side grid. `baseline` picks the variant others are compared with (by
/// label or variant text); without it, only like things compare (see `report::sentences`).
pub fn build(runs: &[RunReport], baseline: Option<&str>) -> Grid {
    build_with(runs, baseline, &[])
}

/// [`build`], with explicit comparisons between runs of different scenarios.
pub fn build_with(runs: &[RunReport], baseline: Option<&str>, explicit: &[Comparison]) -> Grid {
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
        variants.iter().find(|v| {
            v.label == wanted
                || v.first().variant == wanted
                || (v.first().endpoint.is_none() && v.first().label() == wanted)
        })
    });
    let baselines = Baselines { chosen, explicit };
    let repeated = variants.iter().any(|v| v.runs.len() > 1);
    let ratios: Vec<String> = (0..variants.len())
        .map(|index| vs_baseline(&variants, index, baselines))
        .collect();
    let rows = variants
        .iter()
        .zip(&ratios)
        .map(|(variant, ratio)| row(variant, ratio, &sources, repeated))
        .collect();
    let mut grid = Grid {
        headers: headers(&sources, repeated),
        rows,
        compact: compact(&variants, &ratios, repeated),
        breakdown: variants
            .iter()
            .map(|v| v.first().endpoint.clone())
            .collect(),
        sentences: sentences::comparisons(&variants, baselines),
        notes: notes(&variants, false),
        files: saved_files(runs),
        info: notes(&variants, true),
    };
    if tls::any(runs) {
        grid.headers.push(tls::COLUMN_HEADER.to_string());
        for (row, variant) in grid.rows.iter_mut().zip(&variants) {
            row.push(tls::cell_text(variant));
        }
        // The compact table shows the handshakes too, after the rates (dropped before them).
        grid.compact.headers.push("TLS\nfull/resumed".into());
        for (row, variant) in grid.compact.rows.iter_mut().zip(&variants) {
            row.push(tls::cell_text(variant));
        }
        let tls_column = grid.compact.headers.len() - 1;
        grid.compact.droppable.insert(1, tls_column);
        grid.sentences.extend(tls::sentences(&variants, baselines));
    }
    grid
}

/// The `vs baseline` cell: connections opened over the baseline's (`1.00x` on a baseline,
/// `-` where nothing like it ran).
fn vs_baseline(
    variants: &[VariantSummary<'_>],
    index: usize,
    baselines: Baselines<'_, '_>,
) -> String {
    let opened = &figures::CONNECTIONS_OPENED;
    let variant = &variants[index];
    match sentences::baseline_for(variants, index, baselines) {
        Some(base) if base.label == variant.label => {
            if sentences::is_baseline(variants, index, baselines) {
                "1.00x".into()
            } else {
                "-".into()
            }
        }
        Some(base) => match (base.median(opened, None), variant.median(opened, None)) {
            (Some(b), Some(value)) if b > 0.0 => format!("{:.2}x", value / b),
            _ => "-".into(),
        },
        None if sentences::is_baseline(variants, index, baselines) => "1.00x".into(),
        None => "-".into(),
    }
}

/// The column headers.
fn headers(sources: &[Source], repeated: bool) -> Vec<String> {
    let mut headers = vec!["run".to_string()];
    if repeated {
        headers.push("runs".into());
    }
    headers.extend([
        "requests\nok / failed".to_string(),
        if sources.is_empty() {
            "connections opened".to_string()
        } else {
            format!(
                "connections opened\n({})",
                sources
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" / ")
            )
        },
        "socket table saw\n(lower bound)".into(),
        "vs\nbaseline".into(),
        "reuse\nratio".into(),
        "requests per conn\nmin / med / max".into(),
        "closed by\nclient / server / reset / open".into(),
        "TIME_WAIT end\nclient / server".into(),
        "latency ms\np50 / p99".into(),
        "requests\nper s".into(),
        "conns\nper s".into(),
        "wall\nms".into(),
    ]);
    headers
}

/// The compact columns: run, requests ok/failed, connections opened (best exact source), vs
/// baseline, reuse, closes, TIME_WAIT at the end, p50 latency, requests/s and connections/s.
fn compact(variants: &[VariantSummary<'_>], ratios: &[String], repeated: bool) -> Compact {
    let opened = &figures::CONNECTIONS_OPENED;
    // The source most rows' best count comes from names the column; others say theirs.
    let best = |v: &VariantSummary<'_>| v.first().connections_opened.best().map(|(_, s)| s);
    let main_source = Source::PREFERENCE
        .iter()
        .copied()
        .max_by_key(|&s| variants.iter().filter(|v| best(v) == Some(s)).count())
        .filter(|&s| variants.iter().any(|v| best(v) == Some(s)));
    let closes_source = variants.iter().find_map(|v| v.first().closes.source);
    let mut headers = vec!["run".to_string()];
    if repeated {
        headers.push("runs".into());
    }
    let first_figure = headers.len();
    headers.extend([
        "requests\nok/fail".to_string(),
        match main_source {
            Some(source) => format!("opened\n({source})"),
            None => "opened".into(),
        },
        "vs\nbase".into(),
        "reuse".into(),
        "closed by\nc/s/rst/open".into(),
        "TIME_WAIT\ncli/srv".into(),
        "p50\nms".into(),
        "req/s".into(),
        "conn/s".into(),
    ]);
    let slash = |variant: &VariantSummary<'_>, figures: &[&Figure]| -> String {
        joined(variant, figures, 0).replace(" / ", "/")
    };
    let rows = variants
        .iter()
        .zip(ratios)
        .map(|(variant, ratio)| {
            let run = variant.first();
            let mut row = vec![match &run.endpoint {
                Some(endpoint) => format!("  @ {endpoint}"),
                None => variant.label.clone(),
            }];
            if repeated {
                row.push(variant.runs.len().to_string());
            }
            row.push(unmeasured_or(
                variant,
                slash(variant, &[&figures::REQUESTS_OK, &figures::REQUESTS_FAILED]),
            ));
            row.push(match best(variant) {
                Some(source) if Some(source) != main_source => format!(
                    "{} ({source})",
                    cell(&variant.values(opened, Some(source)), 0)
                ),
                Some(source) => cell(&variant.values(opened, Some(source)), 0),
                None => "-".into(),
            });
            row.push(ratio.clone());
            row.push(cell(&variant.values(&figures::REUSE_RATIO, None), 1));
            row.push(slash(
                variant,
                &[
                    &figures::CLOSES_BY_CLIENT,
                    &figures::CLOSES_BY_SERVER,
                    &figures::RESETS,
                    &figures::OPEN_AT_END,
                ],
            ));
            row.push(slash(
                variant,
                &[
                    &figures::TIME_WAIT_CLIENT_END,
                    &figures::TIME_WAIT_SERVER_END,
                ],
            ));
            row.push(cell(&variant.values(&figures::LATENCY_P50_MS, None), 2));
            row.push(rate_cell(&variant.values(&figures::REQUESTS_PER_S, None)));
            row.push(rate_cell(
                &variant.values(&figures::CONNECTIONS_PER_S, None),
            ));
            row
        })
        .collect();
    let mut legend = Vec::new();
    if let Some(source) = main_source {
        legend.push(format!(
            "opened: connections (SYNs) counted by the {source} source, exact"
        ));
    }
    if let Some(source) = closes_source {
        legend.push(format!(
            "closed by ({source} source): client (first FIN), server, reset, still open at the end"
        ));
    }
    legend.push("TIME_WAIT: sockets left after the settle, client/server (sockets source)".into());
    legend.push(
        "req/s, conn/s: per second of driven traffic; --wide shows every figure and source".into(),
    );
    Compact {
        droppable: vec![
            first_figure + 8, // conn/s
            first_figure + 6, // p50
            first_figure + 7, // req/s
            first_figure + 3, // reuse
        ],
        headers,
        rows,
        legend,
    }
}

/// A rate for a compact cell: no decimals from 100 up, one below.
fn rate_cell(values: &[f64]) -> String {
    let decimals = if values.iter().all(|&v| v >= 100.0) {
        0
    } else {
        1
    };
    cell(values, decimals)
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

/// What a cell says of a figure no source measured: not measured is not zero.
const UNMEASURED: &str = "unmeasured";

/// `cell`, or "unmeasured" when no source counted the variant's requests.
fn unmeasured_or(variant: &VariantSummary<'_>, cell: String) -> String {
    if variant.runs.iter().all(|r| r.requests_unmeasured) {
        UNMEASURED.to_string()
    } else {
        cell
    }
}

/// One variant's row.
fn row(
    variant: &VariantSummary<'_>,
    ratio: &str,
    sources: &[Source],
    repeated: bool,
) -> Vec<String> {
    let opened = &figures::CONNECTIONS_OPENED;
    let mut row = vec![variant.label.clone()];
    if repeated {
        row.push(variant.runs.len().to_string());
    }
    row.push(unmeasured_or(
        variant,
        joined(
            variant,
            &[&figures::REQUESTS_OK, &figures::REQUESTS_FAILED],
            0,
        ),
    ));
    row.push(if sources.is_empty() {
        UNMEASURED.to_string()
    } else {
        sources
            .iter()
            .map(|&s| cell(&variant.values(opened, Some(s)), 0))
            .collect::<Vec<_>>()
            .join(" / ")
    });
    let seen = cell(
        &variant.values(&figures::CONNECTIONS_SEEN_LOWER_BOUND, None),
        0,
    );
    row.push(if seen == "-" {
        seen
    } else {
        format!(">= {seen}")
    });
    row.push(ratio.to_string());
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
    // Simultaneous closes (the FINs crossed) are a kind of their own, shown only when seen.
    let closes = if variant.runs.iter().any(|r| r.closes.simultaneous > 0) {
        let both = cell(&variant.values(&figures::CLOSES_SIMULTANEOUS, None), 0);
        format!("{closes} + {both} both")
    } else {
        closes
    };
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
    row.push(rate_cell(&variant.values(&figures::REQUESTS_PER_S, None)));
    row.push(rate_cell(
        &variant.values(&figures::CONNECTIONS_PER_S, None),
    ));
    row.push(cell(&variant.values(&figures::WALL_TIME_MS, None), 0));
    row
}

/// Unstable counts between repetitions, and every run's warnings, one line each.
/// With `info`: the notes on how to read the numbers instead of the warnings.
fn notes(variants: &[VariantSummary<'_>], info: bool) -> Vec<String> {
    let mut notes = Vec::new();
    for variant in variants {
        if let Some(counts) = variant.unstable_connection_counts().filter(|_| !info) {
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
            for warning in run.warnings.iter().filter(|w| w.is_note() == info) {
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
