//! Variants and repetitions: runs grouped by scenario variant, with min / median / max of each
//! figure across repetitions, and the flag for counts that changed between repetitions.

use super::compute::spread;
use super::figures::Figure;
use super::model::{RunReport, Source, Spread};

/// The repetitions of one scenario variant.
#[derive(Debug, Clone)]
pub struct VariantSummary<'a> {
    /// `scenario [variant]`.
    pub label: String,
    /// Its runs, in repetition order.
    pub runs: Vec<&'a RunReport>,
}

/// Groups runs by scenario and variant, in the order each first ran.
pub fn group(runs: &[RunReport]) -> Vec<VariantSummary<'_>> {
    let mut groups: Vec<VariantSummary<'_>> = Vec::new();
    for run in runs {
        let label = run.label();
        match groups.iter_mut().find(|g| g.label == label) {
            Some(group) => group.runs.push(run),
            None => groups.push(VariantSummary {
                label,
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
