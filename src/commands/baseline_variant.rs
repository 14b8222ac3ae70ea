//! `--baseline-variant NAME` must name a variant that exists: checked against the planned runs
//! before anything runs (`run`, `check`), or against the loaded or measured runs (`compare`,
//! `observe`, `watch`, `demo`), so a typo is a usage error that lists the names that would
//! work instead of a report silently compared with the default baselines.
//!
//! A name matches as the report's grid matches it (`report::grid`): a row's label
//! (`scenario [variant]`, with `input: ` before it in `kalab compare`), the scenario alone when
//! it has no sweep, or what the variant sets (`max_idle_per_host=2`).

use crate::model::InputError;
use crate::report::RunReport;
use crate::session::RunPlan;

/// One variant as `--baseline-variant` can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedVariant {
    /// Its label in the report: `scenario [variant]`, `input: scenario` in `kalab compare`.
    pub label: String,
    /// Other names that select it: the label without the input, what the variant sets.
    pub aliases: Vec<String>,
}

impl NamedVariant {
    fn answers_to(&self, wanted: &str) -> bool {
        self.label == wanted || self.aliases.iter().any(|a| a == wanted)
    }
}

/// The variants of planned runs (repetitions of a variant are one variant).
pub(crate) fn of_plans(plans: &[RunPlan]) -> Vec<NamedVariant> {
    let mut named: Vec<NamedVariant> = Vec::new();
    for plan in plans {
        let variant = named_one(&plan.scenario.name, &plan.variant, None);
        if !named.contains(&variant) {
            named.push(variant);
        }
    }
    named
}

/// The variants of runs already measured or loaded.
pub(crate) fn of_runs(runs: &[RunReport]) -> Vec<NamedVariant> {
    let mut named: Vec<NamedVariant> = Vec::new();
    for run in runs {
        let variant = named_one(&run.scenario, &run.variant, run.input.as_deref());
        if !named.contains(&variant) {
            named.push(variant);
        }
    }
    named
}

fn named_one(scenario: &str, variant: &str, input: Option<&str>) -> NamedVariant {
    let bare = if variant.is_empty() {
        scenario.to_string()
    } else {
        format!("{scenario} [{variant}]")
    };
    let mut aliases = Vec::new();
    let label = match input {
        Some(input) => {
            aliases.push(bare.clone());
            format!("{input}: {bare}")
        }
        None => bare,
    };
    if !variant.is_empty() {
        aliases.push(variant.to_string());
    }
    NamedVariant { label, aliases }
}

/// Checks that `wanted` (if given) names one of `variants`; the error lists them.
pub(crate) fn check(wanted: Option<&str>, variants: &[NamedVariant]) -> Result<(), InputError> {
    let Some(wanted) = wanted else {
        return Ok(());
    };
    if variants.iter().any(|v| v.answers_to(wanted)) {
        return Ok(());
    }
    /// Most names listed in the error; the rest are counted.
    const SHOWN: usize = 20;
    let mut names: Vec<String> = Vec::new();
    for variant in variants {
        let mut name = format!("`{}`", variant.label);
        if let Some(sets) = variant.aliases.last().filter(|a| **a != variant.label) {
            if variant.label.ends_with(&format!("[{sets}]")) {
                name.push_str(&format!(" (or `{sets}`)"));
            }
        }
        names.push(name);
    }
    let mut list = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(", and {} more", names.len() - SHOWN));
    }
    let message = match variants.len() {
        0 => format!("--baseline-variant `{wanted}`: there are no runs to compare with it"),
        1 => format!(
            "--baseline-variant `{wanted}` is not a variant of these runs; the only one is {list}, so there is nothing to compare it with: a baseline needs a sweep or several scenarios"
        ),
        _ => format!(
            "--baseline-variant `{wanted}` is not a variant of these runs; give one of: {list}"
        ),
    };
    Err(InputError::new(message))
}

/// `kalab observe` and `kalab watch` measure one run: a baseline has nothing to compare with.
pub(crate) fn refuse_for_one_run(wanted: Option<&str>, command: &str) -> Result<(), InputError> {
    match wanted {
        None => Ok(()),
        Some(wanted) => Err(InputError::new(format!(
            "--baseline-variant `{wanted}`: `kalab {command}` measures one run, so there is no variant to compare with; save its results with --export-json and compare saved results with `kalab compare`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_matches_nothing_lists_the_variants() {
        let variants = vec![
            named_one("pool", "max_idle_per_host=2", None),
            named_one("pool", "max_idle_per_host=10", None),
            named_one("plain", "", None),
        ];
        for ok in [
            "pool [max_idle_per_host=2]",
            "max_idle_per_host=10",
            "plain",
        ] {
            assert!(check(Some(ok), &variants).is_ok(), "{ok}");
        }
        assert!(check(None, &variants).is_ok());
        let err = check(Some("nope"), &variants).unwrap_err().to_string();
        assert!(
            err.contains("`nope`")
                && err.contains("`pool [max_idle_per_host=2]` (or `max_idle_per_host=2`)")
                && err.contains("`plain`"),
            "{err}"
        );
    }

    #[test]
    fn compared_inputs_answer_to_their_label_with_and_without_the_input() {
        let variants = vec![
            named_one("s", "", Some("before")),
            named_one("s", "", Some("after")),
        ];
        assert!(check(Some("before: s"), &variants).is_ok());
        assert!(check(Some("s"), &variants).is_ok());
        let err = check(Some("during"), &variants).unwrap_err().to_string();
        assert!(
            err.contains("`before: s`") && err.contains("`after: s`"),
            "{err}"
        );
    }

    #[test]
    fn one_variant_alone_has_nothing_to_compare_with() {
        let err = check(Some("x"), &[named_one("s", "", None)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("the only one is `s`"), "{err}");
    }
}
