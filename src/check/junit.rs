//! JUnit XML for CI systems: one test case per scenario variant (all its repetitions and
//! expectations); a failure carries the same lines the terminal prints.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::CheckResult;

/// Renders check results as a JUnit XML document.
pub fn render(results: &[CheckResult], regressions: &[String]) -> anyhow::Result<String> {
    let mut variants: Vec<&str> = Vec::new();
    for result in results {
        if !variants.contains(&result.variant.as_str()) {
            variants.push(&result.variant);
        }
    }
    let failing = |variant: &str| -> Vec<String> {
        results
            .iter()
            .filter(|r| r.variant == variant && !r.passed())
            .map(CheckResult::message)
            .collect()
    };
    let failures = variants.iter().filter(|v| !failing(v).is_empty()).count()
        + usize::from(!regressions.is_empty());
    let tests = variants.len() + usize::from(!regressions.is_empty());

    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut suites = BytesStart::new("testsuites");
    suites.push_attribute(("name", "kalab"));
    suites.push_attribute(("tests", tests.to_string().as_str()));
    suites.push_attribute(("failures", failures.to_string().as_str()));
    writer.write_event(Event::Start(suites))?;
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", "kalab check"));
    suite.push_attribute(("tests", tests.to_string().as_str()));
    suite.push_attribute(("failures", failures.to_string().as_str()));
    suite.push_attribute(("errors", "0"));
    writer.write_event(Event::Start(suite))?;
    let mut case = |name: &str, failed: Vec<String>| -> anyhow::Result<()> {
        let mut start = BytesStart::new("testcase");
        start.push_attribute(("classname", "kalab"));
        start.push_attribute(("name", name));
        if failed.is_empty() {
            writer.write_event(Event::Empty(start))?;
        } else {
            writer.write_event(Event::Start(start))?;
            let mut failure = BytesStart::new("failure");
            failure.push_attribute(("message", failed[0].as_str()));
            writer.write_event(Event::Start(failure))?;
            writer.write_event(Event::Text(BytesText::new(&failed.join("\n"))))?;
            writer.write_event(Event::End(BytesEnd::new("failure")))?;
            writer.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        Ok(())
    };
    for variant in &variants {
        case(variant, failing(variant))?;
    }
    if !regressions.is_empty() {
        case("baseline", regressions.to_vec())?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuite")))?;
    writer.write_event(Event::End(BytesEnd::new("testsuites")))?;
    Ok(String::from_utf8(writer.into_inner())? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::expect::Verdict;

    fn result(variant: &str, pass: bool) -> CheckResult {
        CheckResult {
            variant: variant.into(),
            run: (1, 1),
            expectation: "connections_opened <= 10".into(),
            verdict: if pass {
                Verdict::Pass {
                    actual: 1.0,
                    source: None,
                }
            } else {
                Verdict::Fail {
                    actual: 31.0,
                    source: None,
                }
            },
        }
    }

    #[test]
    fn one_case_per_variant_with_failures_carrying_the_message() {
        let xml = render(
            &[
                result("a", true),
                result("b <&>", false),
                result("b <&>", true),
            ],
            &[],
        )
        .unwrap();
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut cases, mut failures, mut text) = (0, 0, String::new());
        loop {
            match reader.read_event().unwrap() {
                Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => cases += 1,
                Event::Start(e) if e.name().as_ref() == b"failure" => failures += 1,
                Event::Text(t) => text.push_str(&t.decode().unwrap()),
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!((cases, failures), (2, 1));
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(text.contains("connections_opened = 31"), "{xml}");
    }
}
