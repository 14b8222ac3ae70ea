//! The terminal report: one row per run (comfy-table), then the comparison sentences and the
//! warnings.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use super::model::{RunReport, Source, Spread};
use super::sentences;

/// Renders runs as the side-by-side table with sentences and warnings under it.
pub fn render(runs: &[RunReport]) -> String {
    let sources: Vec<Source> = Source::PREFERENCE
        .iter()
        .rev()
        .copied()
        .filter(|&s| runs.iter().any(|r| r.connections_opened.get(s).is_some()))
        .collect();
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let opened_header = format!(
        "connections opened\n({})",
        sources
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    table.set_header(vec![
        "run",
        "requests\nok / failed",
        &opened_header,
        "reuse\nratio",
        "requests per conn\nmin / med / max",
        "closed by\nclient / server / reset / open",
        "TIME_WAIT end\nclient / server",
        "latency ms\np50 / p99",
        "wall\nms",
    ]);
    for run in runs {
        let opened = sources
            .iter()
            .map(|&s| {
                run.connections_opened
                    .get(s)
                    .map_or("-".into(), |v| v.to_string())
            })
            .collect::<Vec<_>>()
            .join(" / ");
        let closes = match run.closes.source {
            Some(source) => format!(
                "{} / {} / {} / {} ({source})",
                run.closes.by_client,
                run.closes.by_server,
                run.closes.reset,
                run.closes.open_at_end
            ),
            None => "-".into(),
        };
        table.add_row(vec![
            Cell::new(run.label()),
            Cell::new(format!("{} / {}", run.requests_ok, run.requests_failed))
                .set_alignment(CellAlignment::Right),
            Cell::new(opened).set_alignment(CellAlignment::Right),
            Cell::new(run.reuse_ratio.map_or("-".into(), |r| format!("{r:.1}")))
                .set_alignment(CellAlignment::Right),
            Cell::new(spread_text(run.requests_per_connection)).set_alignment(CellAlignment::Right),
            Cell::new(closes).set_alignment(CellAlignment::Right),
            Cell::new(match run.time_wait {
                Some(tw) => format!("{} / {}", tw.time_wait_client_end, tw.time_wait_server_end),
                None => "-".into(),
            })
            .set_alignment(CellAlignment::Right),
            Cell::new(format!(
                "{} / {}",
                ms(run.latency_p50_ms),
                ms(run.latency_p99_ms)
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(format!("{:.0}", run.wall_time_ms)).set_alignment(CellAlignment::Right),
        ]);
    }
    let mut out = table.to_string();
    out.push('\n');
    let sentences = sentences::comparisons(runs);
    if !sentences.is_empty() {
        out.push('\n');
        for sentence in sentences {
            out.push_str(&format!("  {sentence}\n"));
        }
    }
    let warned: Vec<_> = runs.iter().filter(|r| !r.warnings.is_empty()).collect();
    if !warned.is_empty() {
        out.push('\n');
        for run in warned {
            for warning in &run.warnings {
                out.push_str(&format!("  warning: {}: {warning}\n", run.label()));
            }
        }
    }
    out
}

fn spread_text(spread: Option<Spread>) -> String {
    match spread {
        Some(s) => format!("{} / {} / {}", s.min, s.median, s.max),
        None => "-".into(),
    }
}

fn ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.2}"))
}
