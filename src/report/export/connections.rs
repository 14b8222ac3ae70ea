//! The per-connection table of a run (`--connections`): one row per connection of the
//! report's per-connection view, each column naming its source.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use crate::report::model::RunReport;
use crate::report::number;

/// The per-connection table of one run, for a terminal: one row per connection, each column
/// naming its source.
pub fn render(run: &RunReport) -> String {
    let mut table = Table::new();
    let mut header = vec![
        "#",
        "client",
        "opened ms",
        "seen by",
        "requests",
        "idle before reuse ms\nmin / max",
        "closer",
        "end",
    ];
    let tls = run.connections.iter().any(|v| !v.tls.is_empty());
    if tls {
        header.push("TLS handshake");
    }
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    for view in &run.connections {
        let ms = view.opened_at_us.saturating_sub(run.started_at_us) as f64 / 1000.0;
        let idle = &view.idle_before_reuse_ms;
        let idle_text = match (
            idle.iter().copied().reduce(f64::min),
            idle.iter().copied().reduce(f64::max),
        ) {
            (Some(min), Some(max)) => format!("{min:.1} / {max:.1}"),
            _ => "-".to_string(),
        };
        let seen: Vec<&str> = view.seen_by.iter().map(|s| s.as_str()).collect();
        let mut row = vec![
            view.id.to_string(),
            view.client.to_string(),
            format!("{} ({})", number::plain(ms, 3), view.opened_source),
            seen.join(", "),
            format!("{} ({})", view.requests, view.requests_source),
            idle_text,
            view.closer.map_or("-".to_string(), |side| side.to_string()),
            match view.end_source {
                Some(source) => format!("{} ({source})", view.end),
                None => "-".to_string(),
            },
        ];
        if tls {
            row.push(crate::report::tls_text::connection_text(view));
        }
        table.add_row(row);
    }
    let unused = run.connections.iter().filter(|v| v.requests == 0).count();
    format!(
        "\n{}: {} connection(s), {unused} carried no request\n{table}\n",
        run.label(),
        run.connections.len()
    )
}
