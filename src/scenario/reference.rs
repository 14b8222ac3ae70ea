//! The scenario file reference, built into the binary: every table and key the loader accepts,
//! with its type, default and meaning, and an example per table. `kalab scenario --help` prints
//! it, `kalab run --print-scenario` and `kalab scenario new` take their comments from it.
//!
//! A test derives the keys the loader accepts from the loader itself (the list serde gives in
//! its "unknown field" error) and fails when one is missing here, so the reference cannot fall
//! behind the model.

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// The key as written in the file.
    pub key: &'static str,
    /// Its TOML type, and the values it takes.
    pub kind: &'static str,
    /// What it is when omitted.
    pub default: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

/// One table of a scenario file (the top level has the empty name).
#[derive(Debug, Clone, Copy)]
pub struct TableDoc {
    /// `server`, `client`, ...; empty for the keys at the top of the file.
    pub name: &'static str,
    /// What the table is for.
    pub about: &'static str,
    /// Its keys, in the order a file usually lists them.
    pub keys: &'static [KeyDoc],
    /// A short example of the table, as it appears in a file.
    pub example: &'static str,
}

const fn key(
    key: &'static str,
    kind: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> KeyDoc {
    KeyDoc {
        key,
        kind,
        default,
        meaning,
    }
}

/// Every table, in file order.
pub const TABLES: &[TableDoc] = &[
    TableDoc {
        name: "",
        about: "The keys at the top of the file. Only `name` and the [pattern] table are required.",
        keys: &[
            key("name", "string", "required", "short name used in reports (`sequential-drop`)"),
            key("about", "string", "\"\"", "one sentence saying what the scenario shows"),
        ],
        example: "name = \"concurrent-idle2\"\nabout = \"10 workers with at most 2 idle connections per host\"",
    },
    TableDoc {
        name: "server",
        about: "The target: kalab's embedded HTTP server (the default), or an external server \
                given by `url` (or several by `urls`). Every other key configures the embedded \
                server.",
        keys: &[
            key("url", "string", "none: the embedded server", "an external server to target instead, `http://HOST:PORT/PATH` or `https://...`"),
            key("urls", "array of strings", "[]", "several external servers sharing one port; the pattern spreads its requests across them (not with `url`)"),
            key("address", "string (IP)", "\"127.0.0.1\"", "the address the embedded server binds to: loopback only (127.x.y.z or ::1)"),
            key("port", "integer", "0", "the port the embedded server binds to; 0: a fresh ephemeral port for every run"),
            key("hosts", "integer >= 1", "1", "N embedded servers on consecutive loopback addresses from `address` (127.0.0.1, 127.0.0.2, ...), one port; each is a distinct host (pool key)"),
            key("body_bytes", "integer", "11", "size of every response body, in bytes (the byte `k` repeated); at most 1 GiB"),
            key("delay_us", "integer", "50", "time the handler waits before answering, in microseconds; at most 60 s"),
            key("chunked", "boolean", "false", "true: `Transfer-Encoding: chunked` framing instead of `Content-Length`"),
            key("keep_alive", "boolean", "true", "false: every response carries `Connection: close`"),
            key("close_after_requests", "integer", "0", "N: `Connection: close` on the Nth response of each connection; 0: never"),
            key("idle_timeout_ms", "integer", "0", "T: close keep-alive connections idle for T milliseconds; 0: never"),
            key("tls", "boolean", "false", "true: serve HTTPS (HTTP/1.1 and h2 by ALPN) with a certificate made for the run"),
            key("tls_resumption", "boolean", "true", "with `tls`: a session cache and tickets; false: every TLS connection costs a full handshake"),
        ],
        example: "[server]\nbody_bytes = 65536\ndelay_us = 20000\nidle_timeout_ms = 500",
    },
    TableDoc {
        name: "client",
        about: "How kalab's HTTP client (reqwest over hyper) is built.",
        keys: &[
            key("max_idle_per_host", "integer", "none: the library default (unlimited)", "idle connections the pool keeps per host; the others are closed when they come back"),
            key("idle_timeout_ms", "integer", "90000", "how long an idle pooled connection is kept, in milliseconds; 0: forever"),
            key("keep_alive", "boolean", "true", "false: every request says `Connection: close` and nothing is pooled"),
            key("protocol", "string: \"http1\", \"h2c\" or \"h2\"", "\"http1\"", "HTTP/1.1; HTTP/2 over cleartext with prior knowledge (`h2c`); HTTP/2 over TLS by ALPN (`h2`, https targets)"),
            key("request_timeout_ms", "integer >= 1", "10000", "per-request timeout, in milliseconds"),
            key("tls_versions", "array of \"1.2\", \"1.3\"", "[\"1.2\", \"1.3\"]", "HTTPS: the TLS versions offered"),
            key("tls_resumption", "boolean", "true", "HTTPS: offer to resume earlier TLS sessions (session ids, tickets, pre-shared keys)"),
            key("tls_session_cache", "integer", "256", "HTTPS: how many TLS sessions the client remembers"),
            key("ca_file", "string (path)", "none: the system's trusted roots", "HTTPS: a PEM file of CA certificates to trust for an external target (the embedded server's CA is always trusted)"),
            key("insecure", "boolean", "false", "HTTPS: accept any certificate unchecked (the report warns)"),
        ],
        example: "[client]\nmax_idle_per_host = 2\nidle_timeout_ms = 90000\nprotocol = \"http1\"",
    },
    TableDoc {
        name: "pattern",
        about: "Which requests are sent, and when: `workers` loops at once, each sending \
                `requests_per_worker` requests one after the other (or for a `duration`). \
                Required.",
        keys: &[
            key("kind", "string: \"sequential\" or \"concurrent\"", "required", "one worker, or several at once"),
            key("workers", "integer >= 1", "1", "concurrent workers (exactly 1 for `sequential`); at most 10,000"),
            key("requests_per_worker", "integer >= 1", "required unless `duration` is given", "requests each worker sends; workers x requests at most 1,000,000"),
            key("pause_ms", "integer", "0", "pause between two requests of one worker, in milliseconds (not with a `rate`); at most 1 h"),
            key("duration", "string (`500ms`, `30s`, `2m`, `1h 30m`)", "none", "send for this long; with a request count too, whichever ends first"),
            key("rate", "string (`200/s`, `50/s per worker`, `20 connections/s`)", "none: closed loop", "open-loop arrivals: requests start on the clock whether or not earlier ones finished; `connections/s` opens a new connection for each"),
            key("spread", "string: \"round-robin\" or \"random\"", "\"round-robin\"", "with several hosts: how requests are spread across them"),
            key("seed", "integer", "0", "with `spread = \"random\"`: the seed, so a run repeats exactly"),
        ],
        example: "[pattern]\nkind = \"concurrent\"\nworkers = 10\nrequests_per_worker = 10\npause_ms = 20",
    },
    TableDoc {
        name: "body",
        about: "What the client does with each response body.",
        keys: &[key(
            "policy",
            "string: \"drain\", \"drop\", \"partial:N\" or \"drain-limit:N\"",
            "\"drain\"",
            "`drain` reads each body to its end; `drop` drops the response unread; `partial:N` reads N bytes and drops the rest; `drain-limit:N` reads up to N bytes and drops the response if more remain",
        )],
        example: "[body]\npolicy = \"drop\"",
    },
    TableDoc {
        name: "sweep",
        about: "Optional: one variant per combination of values, each labelled by what it sets. \
                A key is the dotted path of any key above (quoted), its value a non-empty array \
                of values for it; `name`, [sweep] and [expect] cannot be swept. At most 10,000 \
                variants.",
        keys: &[key(
            "\"TABLE.KEY\"",
            "array",
            "no sweep",
            "the values `TABLE.KEY` takes, one variant each (the last key varies fastest)",
        )],
        example: "[sweep]\n\"client.max_idle_per_host\" = [2, 10]\n\"body.policy\" = [\"drain\", \"drop\"]",
    },
    TableDoc {
        name: "expect",
        about: "Optional: what `kalab check` (and `kalab run`) asserts on every run: a failed \
                expectation exits 1, one that cannot be measured (its source did not measure) \
                exits 3. A key is `METRIC`, `METRIC.SOURCE` (client, server, capture) or \
                `METRIC[HOST]` (quoted), the metrics listed below; the value is \"OP VALUE\" \
                with OP one of ==, !=, <, <=, >, >=, or a bare number for ==.",
        keys: &[key(
            "METRIC[.SOURCE][[HOST]]",
            "string \"OP VALUE\", or a number",
            "no expectation",
            "the figure, optionally from one source or for one host, and what it must be",
        )],
        example: "[expect]\nconnections_opened = \"<= 10\"\n\"connections_opened.capture\" = \"<= 10\"\nrequests_failed = 0",
    },
];

/// The documentation of `table.key`, if the reference has it.
pub fn lookup(table: &str, key: &str) -> Option<&'static KeyDoc> {
    TABLES
        .iter()
        .find(|t| t.name == table)?
        .keys
        .iter()
        .find(|k| k.key == key)
}

/// The reference as text: every table with its keys and an example, then the expectation
/// metrics (`metrics`: name, what it measures, whether it takes a source), for
/// `kalab scenario --help`.
pub fn render(metrics: &[(&str, &str, bool)]) -> String {
    let mut out = String::from(
        "A scenario is a TOML file: what to run (target, client, request pattern, body policy), \
         optionally a sweep and expectations. Unknown keys, wrong types and impossible values \
         are errors naming the file, line, column and key, and nothing runs until every file \
         is valid. Start one with `kalab scenario new NAME`, or turn quick-mode flags into one \
         with `kalab run --serve ... --print-scenario`.\n",
    );
    for table in TABLES {
        out.push('\n');
        if table.name.is_empty() {
            out.push_str("Top level\n");
        } else {
            out.push_str(&format!("[{}]\n", table.name));
        }
        out.push_str(&wrap(table.about, 2));
        let width = table.keys.iter().map(|k| k.key.len()).max().unwrap_or(0);
        for k in table.keys {
            out.push_str(&format!(
                "  {:<width$}  {}; default: {}\n",
                k.key, k.kind, k.default
            ));
            out.push_str(&wrap(k.meaning, width + 4));
        }
        out.push_str("  Example:\n");
        for line in table.example.lines() {
            out.push_str(&format!("    {line}\n"));
        }
    }
    if !metrics.is_empty() {
        out.push_str(
            "\nMetrics for [expect] and --expect (S: takes .client, .server or .capture)\n",
        );
        let width = metrics.iter().map(|m| m.0.len()).max().unwrap_or(0);
        for (name, about, per_source) in metrics {
            let mark = if *per_source { "S" } else { " " };
            let wrapped = wrap(about, width + 5);
            out.push_str(&format!("  {name:<width$} {mark} {}", wrapped.trim_start()));
        }
    }
    out.push_str(
        "\nA complete file:\n    name = \"concurrent-idle2\"\n    [client]\n    max_idle_per_host = 2\n    \
         [pattern]\n    kind = \"concurrent\"\n    workers = 10\n    requests_per_worker = 10\n    \
         pause_ms = 20\n    [expect]\n    requests_failed = 0\n\
         Run it with `kalab run FILE.toml`, check its expectations with `kalab check FILE.toml`.\n",
    );
    out
}

/// `text` wrapped at 92 columns, every line indented by `indent` spaces.
fn wrap(text: &str, indent: usize) -> String {
    const WIDTH: usize = 92;
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("{:indent$}{line}\n", ""));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{:indent$}{line}\n", ""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys the loader accepts in `table`, from the loader itself: serde lists them when it
    /// meets an unknown one (every table denies unknown fields).
    fn accepted_keys(table: &str) -> Vec<String> {
        let probe = "zz_not_a_key";
        let text = match table {
            "" => format!("{probe} = 1\nname = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n"),
            "pattern" => format!("name = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n{probe} = 1\n"),
            other => format!("name = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n[{other}]\n{probe} = 1\n"),
        };
        let err = crate::scenario::parse_str("probe.toml", &text).unwrap_err();
        let list = err
            .message
            .split_once("expected one of")
            .or_else(|| err.message.split_once("expected"))
            .unwrap_or_else(|| panic!("no key list in: {err}"))
            .1;
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_key_the_loader_accepts_is_documented() {
        let top = accepted_keys("");
        assert!(top.contains(&"pattern".to_string()), "{top:?}");
        for key in &top {
            let documented = TABLES.iter().any(|t| t.name == key) || lookup("", key).is_some();
            assert!(documented, "top-level key `{key}` is not in the reference");
        }
        for table in ["server", "client", "pattern", "body"] {
            let keys = accepted_keys(table);
            assert!(!keys.is_empty(), "{table}");
            for key in keys {
                assert!(
                    lookup(table, &key).is_some(),
                    "`[{table}] {key}` is accepted by the loader but not in the reference"
                );
            }
            for doc in TABLES.iter().find(|t| t.name == table).unwrap().keys {
                assert!(
                    accepted_keys(table).iter().any(|k| k == doc.key),
                    "`[{table}] {}` is documented but the loader refuses it",
                    doc.key
                );
            }
        }
    }

    #[test]
    fn documented_defaults_are_the_loaders() {
        let loaded = crate::scenario::parse_str(
            "t.toml",
            "name = \"t\"\n[pattern]\nkind = \"concurrent\"\nrequests_per_worker = 1\n",
        )
        .unwrap();
        let value = toml::Value::try_from(&loaded.scenario).unwrap();
        for table in ["server", "client", "pattern", "body"] {
            let written = value.get(table).and_then(|t| t.as_table()).unwrap();
            for (key, actual) in written {
                let doc = lookup(table, key).unwrap();
                if doc.default.starts_with("required") {
                    continue;
                }
                assert_eq!(doc.default, actual.to_string(), "[{table}] {key}");
            }
        }
    }

    #[test]
    fn every_example_loads() {
        for table in TABLES {
            let text = match table.name {
                "" => format!(
                    "{}\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n",
                    table.example
                ),
                "pattern" => format!("name = \"t\"\n{}\n", table.example),
                _ => format!(
                    "name = \"t\"\n[pattern]\nkind = \"sequential\"\nrequests_per_worker = 1\n{}\n",
                    table.example
                ),
            };
            let loaded = crate::scenario::parse_str("example.toml", &text)
                .unwrap_or_else(|err| panic!("[{}] example: {err}", table.name));
            crate::scenario::sweep::expand(&loaded).unwrap();
        }
    }

    #[test]
    fn the_rendered_reference_names_every_key() {
        let text = render(&[("connections_opened", "connections opened", true)]);
        for table in TABLES {
            for k in table.keys {
                assert!(text.contains(k.key), "{}", k.key);
            }
        }
        assert!(text.contains("connections_opened S"));
    }
}
