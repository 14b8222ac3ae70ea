//! Markdown: the side-by-side grid as a table, then the sentences and notes, ready to paste into
//! a blog post, a pull request or a CI summary.

use super::Exporter;
use crate::report::grid;
use crate::report::model::ResultSet;

/// The markdown exporter.
pub struct Markdown;

impl Exporter for Markdown {
    fn export(&self, results: &ResultSet, baseline: Option<&str>) -> anyhow::Result<Vec<u8>> {
        let grid = grid::build_set(results, baseline);
        let escape = |text: &str| text.replace('|', "\\|").replace('\n', " ");
        let mut out = String::new();
        out.push_str(&format!(
            "| {} |\n",
            grid.headers
                .iter()
                .map(|h| escape(h))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
        out.push_str(&format!(
            "|{}\n",
            grid.headers
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { ":---|" } else { "---:|" })
                .collect::<String>()
        ));
        for row in &grid.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter()
                    .map(|c| escape(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        if !grid.sentences.is_empty() {
            out.push('\n');
            for sentence in &grid.sentences {
                out.push_str(&format!("- {sentence}\n"));
            }
        }
        for (notes, kind) in [(&grid.info, "note"), (&grid.notes, "warning")] {
            if notes.is_empty() {
                continue;
            }
            out.push('\n');
            for note in notes {
                out.push_str(&format!("> **{kind}**: {}\n>\n", escape(note)));
            }
            out.truncate(out.len() - 2);
        }
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;

    #[test]
    fn markdown_has_a_row_per_variant_and_the_sentences() {
        let results = ResultSet::new(vec![
            sample_run("pool", "policy=drop", 10),
            sample_run("pool", "policy=drain", 1),
        ]);
        let text = String::from_utf8(Markdown.export(&results, None).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("| run | requests ok / failed |"),
            "{text}"
        );
        assert!(lines[1].starts_with("|:---|---:|"), "{text}");
        assert!(
            lines[2].starts_with("| pool [policy=drop] | 10 / 0 |"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("| pool [policy=drain] | 10 / 0 |"),
            "{text}"
        );
        assert!(
            text.contains(
                "- pool [policy=drain] opened 10.0x fewer connections than pool [policy=drop]"
            ),
            "{text}"
        );
    }
}
