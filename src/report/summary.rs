//! Variants and repetitions: runs grouped by scenario variant, with min / median / max of each
//! figure across repetitions, and the flag for counts that changed between repetitions.

use super::compute::spread;
use super::figures::Figure;
use super::model::{RunReport, Source, Spread};

/// The repetitions of one scenario variant (within one input of `kalab compare`).
#[derive(Debug, Clone)]
pub struct VariantSummary<'a> {
    /// `scenario [variant]`, `@ endpoint` on a breakdown row, prefixed by `INPUT: ` in
    /// `kalab compare`.
    pub label: String,
    /// The `kalab compare` input its runs were read from.
    pub input: Option<String>,
    /// Its runs, in repetition order.
    pub runs: Vec<&'a RunReport>,
}

/// Groups runs by scenario, variant and input, in the order each first ran: repetitions merge
/// only within one result set, never across the inputs of `kalab compare`.
pub fn group(runs: &[RunReport]) -> Vec<VariantSummary<'_>> {
    let mut groups: Vec<VariantSummary<'_>> = Vec::new();
    for run in runs {
        let label = match &run.input {
            Some(input) => format!("{input}: {}", run.label()),
            None => run.label(),
        };
        match groups
            .iter_mut()
            .find(|g| g.label == label && g.input == run.input)
        {
            Some(group) => group.runs.push(run),
            None => groups.push(VariantSummary {
                label,
                input: run.input.clone(),
                runs: vec![run],
            }),
        }
    }
    groups
}

impl<'a> VariantSummary<'a> {
    /// The first run (its settings stand for the variant's).
    pub fn first(&self) -> &'a RunReport {
        self.runs[0]
    }

    /// A figure's values over the repetitions that have it.
    pub fn values(&self, figure: &Figure, source: Option<Source>) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|run| figure.value(run, source))
            .collect()
    }

    /// Min / median / max of a figure over the repetitions.
    pub fn spread(&self, figure: &Figure, source: Option<Source>) -> Option<Spread> {
        spread(&self.values(figure, source))
    }

    /// The median of a figure over the repetitions.
    pub fn median(&self, figure: &Figure, source: Option<Source>) -> Option<f64> {
        self.spread(figure, source).map(|s| s.median)
    }

    /// The connection counts of the repetitions, when they differ: the behaviour is not
    /// deterministic there.
    pub fn unstable_connection_counts(&self) -> Option<Vec<u64>> {
        let counts: Vec<u64> = self
            .runs
            .iter()
            .filter_map(|r| r.connections_opened.best().map(|(v, _)| v))
            .collect();
        let differ = counts.windows(2).any(|w| w[0] != w[1]);
        differ.then_some(counts)
    }
}

/// A figure for a cell: the value when every repetition agrees, else `median (min-max)`.
pub fn cell(values: &[f64], decimals: usize) -> String {
    match spread(values) {
        None => "-".into(),
        Some(s) if s.min == s.max => format!("{:.*}", decimals, s.median),
        Some(s) => format!(
            "{:.*} ({:.*}-{:.*})",
            decimals, s.median, decimals, s.min, decimals, s.max
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::export::tests::sample_run;
    use crate::report::figures;

    fn repetition(name: &str, variant: &str, connections: u64, repetition: u32) -> RunReport {
        let mut run = sample_run(name, variant, connections);
        run.repetition = repetition;
        run
    }

    #[test]
    fn repetitions_group_by_variant_in_first_seen_order() {
        let runs = vec![
            repetition("s", "a=1", 5, 1),
            repetition("s", "a=2", 1, 1),
            repetition("s", "a=1", 5, 2),
        ];
        let groups = group(&runs);
        let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["s [a=1]", "s [a=2]"]);
        assert_eq!(groups[0].runs.len(), 2);
    }

    #[test]
    fn inputs_of_a_comparison_never_merge() {
        let mut before = repetition("s", "", 5, 1);
        before.input = Some("before".into());
        let mut after = repetition("s", "", 3, 1);
        after.input = Some("after".into());
        let runs = vec![before, after];
        let groups = group(&runs);
        let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["before: s", "after: s"]);
    }

    #[test]
    fn figures_spread_over_repetitions() {
        let runs = vec![
            repetition("s", "", 5, 1),
            repetition("s", "", 2, 2),
            repetition("s", "", 10, 3),
        ];
        let groups = group(&runs);
        let opened = &figures::CONNECTIONS_OPENED;
        let spread = groups[0].spread(opened, None).unwrap();
        assert_eq!((spread.min, spread.median, spread.max), (2.0, 5.0, 10.0));
        assert_eq!(cell(&groups[0].values(opened, None), 0), "5 (2-10)");
        assert_eq!(groups[0].unstable_connection_counts(), Some(vec![5, 2, 10]));
    }

    #[test]
    fn agreeing_repetitions_show_one_value_and_are_stable() {
        let runs = vec![repetition("s", "", 10, 1), repetition("s", "", 10, 2)];
        let groups = group(&runs);
        let opened = &figures::CONNECTIONS_OPENED;
        assert_eq!(cell(&groups[0].values(opened, None), 0), "10");
        assert_eq!(groups[0].unstable_connection_counts(), None);
        assert_eq!(cell(&[], 1), "-");
        assert_eq!(cell(&[1.25, 1.75], 2), "1.50 (1.25-1.75)");
    }
}
