//! Sweep expansion: `[sweep]` lists values for scenario fields by dotted path; the variants are
//! the cartesian product, each labelled by what it sets.
//!
//! Every variant is built and validated before anything runs, so a sweep that names an unknown
//! field or a value of the wrong type is an input error pointing at the sweep's line.

use super::load::{locate, LoadedScenario, ScenarioError};
use super::model::Scenario;

/// One combination of sweep values, applied to the scenario.
#[derive(Debug, Clone)]
pub struct Variant {
    /// What the variant sets, `key=value, key=value` (empty without a sweep).
    pub label: String,
    /// The scenario with those values applied.
    pub scenario: Scenario,
}

/// Expands a loaded scenario into its variants (one variant, unlabelled, without a sweep).
pub fn expand(loaded: &LoadedScenario) -> Result<Vec<Variant>, ScenarioError> {
    let sweep = &loaded.scenario.sweep;
    if sweep.is_empty() {
        return Ok(vec![Variant {
            label: String::new(),
            scenario: loaded.scenario.clone(),
        }]);
    }
    let error = |key: &str, message: String| ScenarioError {
        origin: loaded.origin.clone(),
        position: locate(&loaded.text, "sweep", key),
        field: Some(format!("sweep.\"{key}\"")),
        message,
    };
    let mut axes: Vec<(&str, &Vec<toml::Value>)> = Vec::new();
    for (path, values) in sweep {
        let values = match values {
            toml::Value::Array(values) if !values.is_empty() => values,
            _ => {
                return Err(error(
                    path,
                    "a sweep lists its values as a non-empty array, e.g. [2, 10]".into(),
                ))
            }
        };
        if path.starts_with("sweep") || path.starts_with("expect") || path == "name" {
            return Err(error(path, format!("`{path}` cannot be swept")));
        }
        axes.push((path, values));
    }
    let short = short_names(&axes.iter().map(|(p, _)| *p).collect::<Vec<_>>());

    let mut base: toml::Table = toml::from_str(&loaded.text).map_err(|err| {
        error(
            "",
            format!("cannot re-read the file for the sweep: {}", err.message()),
        )
    })?;
    base.remove("sweep");

    let combinations = super::bounds::variant_count(axes.iter().map(|(_, v)| v.len()))
        .map_err(|why| error(axes[0].0, why))?;
    let mut variants = Vec::with_capacity(combinations);
    for index in 0..combinations {
        let mut document = base.clone();
        let mut label = Vec::new();
        let mut rest = index;
        // The last axis varies fastest, as in nested loops written in file order.
        let mut picks = vec![0; axes.len()];
        for (axis, (_, values)) in axes.iter().enumerate().rev() {
            picks[axis] = rest % values.len();
            rest /= values.len();
        }
        for (axis, &(path, values)) in axes.iter().enumerate() {
            let value = &values[picks[axis]];
            set_path(&mut document, path, value.clone()).map_err(|why| error(path, why))?;
            label.push(format!("{}={}", short[axis], display(value)));
        }
        let scenario: Scenario =
            toml::Value::Table(document)
                .try_into()
                .map_err(|err: toml::de::Error| {
                    let message = err.message().trim().replace('\n', " ");
                    let path = axes
                        .iter()
                        .map(|(p, _)| *p)
                        .find(|p| message.contains(p.rsplit('.').next().unwrap_or(p)))
                        .unwrap_or(axes[0].0);
                    error(
                        path,
                        format!(
                            "the value {} does not fit: {message}",
                            display(&values_at(&axes, &picks, path))
                        ),
                    )
                })?;
        if let Err((_, key, why)) = super::bounds::check(&scenario) {
            let path = axes
                .iter()
                .map(|(p, _)| *p)
                .find(|p| p.ends_with(key))
                .unwrap_or(axes[0].0);
            return Err(error(path, format!("{why} (variant {})", label.join(", "))));
        }
        if let Err((section, key, why)) = super::load::check_tls(&scenario) {
            let path = axes.iter().map(|(p, _)| *p).next().unwrap_or_default();
            return Err(error(
                path,
                format!(
                    "the variant {} cannot run: {section}.{key}: {why}",
                    label.join(", ")
                ),
            ));
        }
        variants.push(Variant {
            label: label.join(", "),
            scenario,
        });
    }
    Ok(variants)
}

fn values_at(axes: &[(&str, &Vec<toml::Value>)], picks: &[usize], path: &str) -> toml::Value {
    axes.iter()
        .zip(picks)
        .find(|((p, _), _)| *p == path)
        .map(|((_, values), &pick)| values[pick].clone())
        .unwrap_or(toml::Value::Boolean(false))
}

/// Sets `a.b.c` in a TOML document, creating tables on the way.
fn set_path(document: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{path}` is not a dotted field path like \"client.max_idle_per_host\""
        ));
    }
    let mut table = document;
    for part in &parts[..parts.len() - 1] {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{path}`: `{part}` is a value, not a table of fields"))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// Labels use each path's last segment, or the whole path where two would collide.
fn short_names(paths: &[&str]) -> Vec<String> {
    let last = |p: &str| p.rsplit('.').next().unwrap_or(p).to_string();
    paths
        .iter()
        .map(|p| {
            let name = last(p);
            if paths.iter().filter(|q| last(q) == name).count() > 1 {
                p.to_string()
            } else {
                name
            }
        })
        .collect()
}

fn display(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse_str, BodyPolicy};

    const BASE: &str = r#"name = "s"
[pattern]
kind = "sequential"
requests_per_worker = 3
"#;

    fn variants(sweep: &str) -> Result<Vec<Variant>, ScenarioError> {
        let text = format!("{BASE}[sweep]\n{sweep}");
        expand(&parse_str("s.toml", &text).unwrap())
    }

    #[test]
    fn a_variant_whose_tls_settings_contradict_its_target_is_refused() {
        let err = variants("\"client.protocol\" = [\"http1\", \"h2\"]\n").unwrap_err();
        assert!(err.message.contains("protocol=h2"), "{err}");
        assert!(err.message.contains("HTTP/2 over TLS"), "{err}");
        assert!(err.position.is_some());
        assert_eq!(
            variants("\"server.tls\" = [false, true]\n").unwrap().len(),
            2
        );
    }

    #[test]
    fn no_sweep_gives_one_unlabelled_variant() {
        let loaded = parse_str("s.toml", BASE).unwrap();
        let variants = expand(&loaded).unwrap();
        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].label, "");
    }

    #[test]
    fn sweeps_are_the_cartesian_product_in_file_order() {
        let v = variants(
            "\"client.max_idle_per_host\" = [2, 10]\n\"body.policy\" = [\"drain\", \"drop\"]\n",
        )
        .unwrap();
        let labels: Vec<&str> = v.iter().map(|v| v.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "max_idle_per_host=2, policy=drain",
                "max_idle_per_host=2, policy=drop",
                "max_idle_per_host=10, policy=drain",
                "max_idle_per_host=10, policy=drop"
            ]
        );
        assert_eq!(v[3].scenario.client.max_idle_per_host, Some(10));
        assert_eq!(v[3].scenario.body.policy, BodyPolicy::Drop);
        assert!(v[3].scenario.sweep.is_empty());
    }

    #[test]
    fn colliding_last_segments_keep_the_whole_path() {
        let v = variants("\"client.idle_timeout_ms\" = [0]\n\"server.idle_timeout_ms\" = [5]\n")
            .unwrap();
        assert_eq!(
            v[0].label,
            "client.idle_timeout_ms=0, server.idle_timeout_ms=5"
        );
    }

    #[test]
    fn unknown_fields_are_input_errors_at_the_sweep_line() {
        let err = variants("\"client.max_idle\" = [1]\n").unwrap_err();
        assert_eq!(err.position, Some((6, 1)));
        assert!(err.message.contains("max_idle"), "{err}");
    }

    #[test]
    fn values_of_the_wrong_type_are_input_errors() {
        let err = variants("\"pattern.pause_ms\" = [\"soon\"]\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("sweep.\"pattern.pause_ms\""));
        assert!(err.message.contains("soon"), "{err}");
        let err = variants("\"body.policy\" = [\"slurp\"]\n").unwrap_err();
        assert!(err.message.contains("unknown body policy"), "{err}");
    }

    #[test]
    fn sweeps_must_list_values() {
        let err = variants("\"pattern.pause_ms\" = 5\n").unwrap_err();
        assert!(err.message.contains("non-empty array"), "{err}");
        let err = variants("\"name.x\" = [1]\n").unwrap_err();
        assert!(err.message.contains("not a table"), "{err}");
    }
}
