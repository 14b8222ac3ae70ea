//! Numbers as reports write them: one formatter for sentences, checks and tables.

/// A number as people write it: an integer without decimals, anything else with `decimals`
/// places (`10`, `2.5`, `0.33`).
pub fn plain(value: f64, decimals: usize) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.decimals$}")
    }
}

/// A measured value with a fixed number of places, or `-` when nothing measured it.
pub fn fixed_or_dash(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_lose_their_decimals_and_fractions_keep_the_places_asked_for() {
        assert_eq!(plain(10.0, 2), "10");
        assert_eq!(plain(2.5, 1), "2.5");
        assert_eq!(plain(1.0 / 3.0, 2), "0.33");
        assert_eq!(fixed_or_dash(Some(1.0), 2), "1.00");
        assert_eq!(fixed_or_dash(None, 2), "-");
    }
}
