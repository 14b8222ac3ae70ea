//! The terminal report: the side-by-side grid as a comfy-table (it rearranges itself for narrow
//! terminals), then the comparison sentences and the notes.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement};

use super::Exporter;
use crate::report::grid::{self, Grid};
use crate::report::model::ResultSet;

/// The terminal table exporter.
pub struct Table;

impl Exporter for Table {
    fn export(&self, results: &ResultSet, baseline: Option<&str>) -> anyhow::Result<Vec<u8>> {
        Ok(render(&grid::build(&results.runs, baseline)).into_bytes())
    }
}

/// Renders the grid for a terminal.
pub fn render(grid: &Grid) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(grid.headers.clone());
    for row in &grid.rows {
        table.add_row(row.iter().enumerate().map(|(i, text)| {
            let cell = Cell::new(text);
            if i == 0 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    let mut out = table.to_string();
    out.push('\n');
    if !grid.sentences.is_empty() {
        out.push('\n');
        for sentence in &grid.sentences {
            out.push_str(&format!("  {sentence}\n"));
        }
    }
    if !grid.notes.is_empty() {
        out.push('\n');
        for note in &grid.notes {
            out.push_str(&format!("  warning: {note}\n"));
        }
    }
    if !grid.files.is_empty() {
        out.push('\n');
        for file in &grid.files {
            out.push_str(&format!("  {file}\n"));
        }
    }
    out
}
