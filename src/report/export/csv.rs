//! CSV: one row per variant and repetition, one column per figure of the catalogue
//! (`connections_opened` once per source, in the table's order: client, server, capture), then
//! `interrupted` (`true` for a run a stop signal ended early), `detail_capped` (the detail lists
//! the cap cut short, `list:kept/seen` separated by `;`, empty when none was). A run with several server
//! endpoints is followed by one row per endpoint, named in the last column (`endpoint`, empty on
//! the total's row).

use super::Exporter;
use crate::report::figures::FIGURES;
use crate::report::model::{ResultSet, Source};

/// The CSV exporter.
pub struct Csv;

impl Exporter for Csv {
    fn export(&self, results: &ResultSet, _baseline: Option<&str>) -> anyhow::Result<Vec<u8>> {
        let mut writer = ::csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "scenario".to_string(),
            "variant".into(),
            "repetition".into(),
        ];
        for figure in FIGURES {
            if figure.per_source() {
                for source in in_table_order(figure.sources) {
                    header.push(format!("{}_{}", figure.name, source));
                }
            } else {
                header.push(figure.name.to_string());
            }
        }
        header.push("interrupted".into());
        header.push("detail_capped".into());
        header.push("endpoint".into());
        writer.write_record(&header)?;
        for run in &crate::report::endpoints::views(&results.runs) {
            let mut record = vec![
                run.scenario.clone(),
                run.variant.clone(),
                run.repetition.to_string(),
            ];
            for figure in FIGURES {
                let sources: Vec<Option<Source>> = if figure.per_source() {
                    in_table_order(figure.sources)
                        .into_iter()
                        .map(Some)
                        .collect()
                } else {
                    vec![None]
                };
                for source in sources {
                    record.push(
                        figure
                            .value(run, source)
                            .map_or(String::new(), |v| v.to_string()),
                    );
                }
            }
            record.push(run.interrupted.to_string());
            let capped: Vec<String> = run
                .detail_capped
                .iter()
                .map(|c| format!("{}:{}/{}", c.list, c.kept, c.seen))
                .collect();
            record.push(capped.join(";"));
            record.push(run.endpoint.clone().unwrap_or_default());
            writer.write_record(&record)?;
        }
        Ok(writer.into_inner()?)
    }
}

/// A figure's sources in the order the table names them: client, server, capture, sockets.
fn in_table_order(sources: &[Source]) -> Vec<Source> {
    const ORDER: [Source; 4] = [
        Source::Client,
        Source::Server,
        Source::Capture,
        Source::Sockets,
    ];
    ORDER.into_iter().filter(|s| sources.contains(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;

    #[test]
    fn one_row_per_run_with_named_columns() {
        let mut second = sample_run("drop", "max_idle_per_host=2", 12);
        second.repetition = 2;
        let results = ResultSet::new(vec![sample_run("drop", "max_idle_per_host=2", 10), second]);
        let bytes = Csv.export(&results, None).unwrap();
        let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
        let headers = reader.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[1][column("repetition")], "2");
        assert_eq!(&rows[1][column("connections_opened_server")], "12");
        assert_eq!(&rows[0][column("connections_opened_capture")], "");
        assert_eq!(&rows[0][column("variant")], "max_idle_per_host=2");
        // Per-source columns follow the table: client, server, capture.
        let order: Vec<usize> = ["client", "server", "capture"]
            .iter()
            .map(|s| column(&format!("connections_opened_{s}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] + 1 == w[1]), "{headers:?}");
        assert!(column("requests_per_s") < column("endpoint"));
    }
}
