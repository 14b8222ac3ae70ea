//! The terminal report: the side-by-side grid as a comfy-table, then the comparison sentences
//! and the notes.
//!
//! Three layouts. `--wide`: every column, whatever the width. One run: a vertical table, one
//! line per figure (every figure and source). Several runs: the compact columns; given a width
//! (a terminal, or `COLUMNS`), the optional columns go one by one until the table fits, and
//! comfy-table's dynamic arrangement wraps what still does not. Without a width (a pipe), the
//! compact columns as they are: a stable layout, whatever the environment.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement};

use super::Exporter;
use crate::report::grid::{self, Grid};
use crate::report::model::ResultSet;

/// How the table is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layout {
    /// The width to fit, in columns; `None`: no limit (a pipe).
    pub width: Option<u16>,
    /// `--wide`: every column, unfitted.
    pub wide: bool,
}

/// The terminal table exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Table {
    /// Its layout.
    pub layout: Layout,
}

impl Exporter for Table {
    fn export(&self, results: &ResultSet, baseline: Option<&str>) -> anyhow::Result<Vec<u8>> {
        Ok(render_with(&grid::build_set(results, baseline), self.layout).into_bytes())
    }
}

/// Renders the grid for a terminal of unknown width (the stable layout).
pub fn render(grid: &Grid) -> String {
    render_with(grid, Layout::default())
}

/// Renders the grid in a layout.
pub fn render_with(grid: &Grid, layout: Layout) -> String {
    let mut out = if layout.wide {
        table(&grid.headers, &grid.rows, None)
    } else if grid.variants() == 1 {
        vertical(grid, layout.width)
    } else {
        fitted(grid, layout.width)
    };
    out.push('\n');
    // Lines below the table wrap at the width too (never inside a word).
    let width = if layout.wide { None } else { layout.width };
    let lines = |out: &mut String, texts: &[String], prefix: &str, gap: bool| {
        if texts.is_empty() {
            return;
        }
        if gap {
            out.push('\n');
        }
        for text in texts {
            out.push_str(&wrap(&format!("  {prefix}{text}"), width));
        }
    };
    if !layout.wide && grid.variants() != 1 {
        lines(&mut out, &grid.compact.legend, "", false);
    }
    lines(&mut out, &grid.sentences, "", true);
    lines(&mut out, &grid.info, "note: ", true);
    lines(&mut out, &grid.notes, "warning: ", true);
    lines(&mut out, &grid.files, "", true);
    out
}

/// `text` as lines of at most `width` characters (continuations indented two more), words
/// kept whole; unchanged without a width.
pub fn wrap(text: &str, width: Option<u16>) -> String {
    let Some(width) = width.map(usize::from) else {
        return format!("{text}\n");
    };
    let body = text.trim_start();
    let indent = &text[..text.len() - body.len()];
    let mut out = String::new();
    let mut line = indent.to_string();
    let mut empty = true;
    for word in body.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = format!("{indent}  ");
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The compact columns, dropping optional ones until the table fits `width`.
fn fitted(grid: &Grid, width: Option<u16>) -> String {
    let compact = &grid.compact;
    let mut keep: Vec<usize> = (0..compact.headers.len()).collect();
    let pick = |keep: &[usize], cells: &[String]| -> Vec<String> {
        keep.iter().map(|&i| cells[i].clone()).collect()
    };
    let render = |keep: &[usize], width: Option<u16>| {
        let rows: Vec<Vec<String>> = compact.rows.iter().map(|r| pick(keep, r)).collect();
        table(&pick(keep, &compact.headers), &rows, width)
    };
    let Some(width) = width else {
        return render(&keep, None);
    };
    for &column in &compact.droppable {
        if widest(&render(&keep, None)) <= usize::from(width) {
            break;
        }
        keep.retain(|&i| i != column);
    }
    render(&keep, Some(width))
}

/// One run: a line per figure, its total and (with several endpoints) each endpoint's.
fn vertical(grid: &Grid, width: Option<u16>) -> String {
    let mut headers = vec!["figure".to_string(), grid.rows[0][0].clone()];
    headers.extend(
        grid.breakdown
            .iter()
            .skip(1)
            .map(|e| format!("@ {}", e.as_deref().unwrap_or("?"))),
    );
    let rows: Vec<Vec<String>> = grid
        .headers
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, header)| {
            let mut line = vec![header.replace('\n', " ")];
            line.extend(grid.rows.iter().map(|row| row[i].clone()));
            line
        })
        .collect();
    table(&headers, &rows, width)
}

/// A comfy-table: figures right-aligned, the first column left; fitted to `width` by the
/// dynamic arrangement when one is given, else laid out as the cells are.
fn table(headers: &[String], rows: &[Vec<String>], width: Option<u16>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    match width {
        Some(width) => {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    table.set_header(headers.to_vec());
    for row in rows {
        table.add_row(row.iter().enumerate().map(|(i, text)| {
            let cell = Cell::new(text);
            if i == 0 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        }));
    }
    table.to_string()
}

/// The widest line of a text, in characters.
pub fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;

    fn sweep(variants: &[&str]) -> Grid {
        let runs: Vec<_> = variants
            .iter()
            .enumerate()
            .map(|(i, v)| sample_run("pool-and-body", v, 1 + i as u64))
            .collect();
        grid::build(&runs, None)
    }

    const FOUR: [&str; 4] = [
        "client.max_idle_per_host=2 body.policy=drain",
        "client.max_idle_per_host=2 body.policy=drop",
        "client.max_idle_per_host=10 body.policy=drain",
        "client.max_idle_per_host=10 body.policy=drop",
    ];

    #[test]
    fn the_compact_table_fits_80_and_100_columns() {
        let grid = sweep(&FOUR);
        for width in [80, 100] {
            let text = render_with(
                &grid,
                Layout {
                    width: Some(width),
                    wide: false,
                },
            );
            assert!(widest(&text) <= usize::from(width), "{width}:\n{text}");
            assert!(text.contains("opened"), "{text}");
        }
    }

    #[test]
    fn wide_shows_every_column_and_a_pipe_gets_a_stable_layout() {
        let grid = sweep(&FOUR);
        let wide = render_with(
            &grid,
            Layout {
                width: Some(100),
                wide: true,
            },
        );
        assert!(wide.contains("requests per conn") && wide.contains("socket table saw"));
        assert!(widest(&wide) > 100);
        let pipe = render(&grid);
        assert_eq!(pipe, render_with(&grid, Layout::default()));
        assert!(pipe.contains("conn/s") && !pipe.contains("socket table saw"));
    }

    #[test]
    fn one_run_is_shown_vertically() {
        let grid = grid::build(&[sample_run("one", "", 2)], None);
        let text = render_with(
            &grid,
            Layout {
                width: Some(80),
                wide: false,
            },
        );
        assert!(widest(&text) <= 80, "{text}");
        let figures: Vec<&str> = text.lines().filter(|l| l.contains("reuse ratio")).collect();
        assert_eq!(figures.len(), 1, "{text}");
        assert!(figures[0].contains("5.0"), "{text}");
    }

    #[test]
    fn long_lines_below_the_table_wrap_at_the_width() {
        let text = "  warning: a very long sentence about connections that goes on and on";
        let wrapped = wrap(text, Some(30));
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert!(
            wrapped.lines().skip(1).all(|l| l.starts_with("    ")),
            "{wrapped}"
        );
        assert_eq!(wrap(text, None), format!("{text}\n"));
    }

    #[test]
    fn notes_are_printed_as_notes_and_warnings_as_warnings() {
        use crate::model::Warning;
        let mut run = sample_run("one", "", 2);
        run.warnings = vec![
            Warning::Info {
                message: "requests counted by the capture".into(),
            },
            Warning::RequestsFailed {
                count: 1,
                kinds: "timeout: 1".into(),
            },
        ];
        let grid = grid::build(std::slice::from_ref(&run), None);
        let text = render_with(
            &grid,
            Layout {
                width: None,
                wide: false,
            },
        );
        assert!(
            text.contains("  note: one: requests counted by the capture\n"),
            "{text}"
        );
        assert!(
            text.contains("  warning: one: 1 request(s) failed"),
            "{text}"
        );
        assert!(!text.contains("warning: one: requests counted"), "{text}");
        let markdown = String::from_utf8(
            crate::report::export::Format::Markdown
                .exporter()
                .export(&crate::report::ResultSet::new(vec![run]), None)
                .unwrap(),
        )
        .unwrap();
        assert!(markdown.contains("> **note**: "), "{markdown}");
    }
}
