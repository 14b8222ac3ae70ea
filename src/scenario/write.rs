//! Writing a scenario document as a TOML file a person can read: each key preceded by its
//! meaning from the reference, the tables in file order. What it writes loads back unchanged
//! (a test reads every written document back through the loader).

use super::reference;

/// The tables of a scenario file, in the order they are written.
const ORDER: [&str; 6] = ["server", "client", "pattern", "body", "sweep", "expect"];

/// `document` (a scenario as a TOML table: top-level keys, then sub-tables) as commented TOML,
/// after the `header` lines (each written as a `#` comment).
pub fn commented_toml(header: &[String], document: &toml::Table) -> String {
    let mut out = String::new();
    for line in header {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {line}\n"));
        }
    }
    if !header.is_empty() {
        out.push('\n');
    }
    for (key, value) in document {
        if !value.is_table() {
            write_key(&mut out, "", key, value);
        }
    }
    let mut tables: Vec<(&String, &toml::Table)> = document
        .iter()
        .filter_map(|(k, v)| v.as_table().map(|t| (k, t)))
        .collect();
    tables.sort_by_key(|(name, _)| ORDER.iter().position(|o| o == name).unwrap_or(ORDER.len()));
    for (name, table) in tables {
        out.push_str(&format!("\n[{}]\n", key_text(name)));
        for (key, value) in table {
            write_key(&mut out, name, key, value);
        }
    }
    out
}

fn write_key(out: &mut String, table: &str, key: &str, value: &toml::Value) {
    if let Some(doc) = reference::lookup(table, key) {
        out.push_str(&format!("# {}\n", doc.meaning));
    }
    out.push_str(&format!("{} = {value}\n", key_text(key)));
}

/// A key as TOML writes it: bare when it can be, quoted otherwise (`"client.max_idle_per_host"`).
fn key_text(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        toml::Value::String(key.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_documents_load_back_unchanged() {
        let text = r#"name = "t"
about = "a \"quoted\" about"
[pattern]
kind = "concurrent"
workers = 3
requests_per_worker = 2
rate = "10/s"
[client]
max_idle_per_host = 2
tls_versions = ["1.3"]
[sweep]
"client.max_idle_per_host" = [2, 10]
[expect]
"connections_opened.capture" = "<= 10"
requests_failed = 0
"#;
        let document: toml::Table = toml::from_str(text).unwrap();
        let written = commented_toml(&["made by a test".into(), String::new()], &document);
        assert!(written.starts_with("# made by a test\n#\n"), "{written}");
        assert!(
            written.contains("# idle connections the pool keeps per host"),
            "{written}"
        );
        let original = crate::scenario::parse_str("a.toml", text).unwrap().scenario;
        let reloaded = crate::scenario::parse_str("b.toml", &written)
            .unwrap_or_else(|err| panic!("{err}\n{written}"))
            .scenario;
        assert_eq!(original, reloaded);
        let pattern_at = written.find("[pattern]").unwrap();
        assert!(written.find("[client]").unwrap() < pattern_at, "{written}");
    }
}
