//! The timeline picture, read back as XML: lanes per panel, colours and legend, the shared
//! axis, aggregation, odd input, and the file written.

use super::*;

fn lane(start_ms: f64, end_ms: f64, end: EndState) -> Lane {
    Lane {
        start_ms,
        end_ms,
        end,
        request_ticks_ms: vec![start_ms + 1.0, (start_ms + end_ms) / 2.0],
        time_wait_until_ms: (end != EndState::OpenAtEnd).then_some(end_ms + 60_000.0),
        label: format!(":{}", 40000 + start_ms as u32),
        tls: None,
    }
}

fn panel(title: &str, duration_ms: f64, lanes: Vec<Lane>) -> Panel {
    Panel {
        title: title.into(),
        duration_ms,
        lanes,
    }
}

/// Lane bars per panel, counted the way the module documentation promises.
fn lanes_per_panel(svg: &str) -> Vec<usize> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    let mut counts = Vec::new();
    for node in doc.descendants().filter(|n| {
        n.has_tag_name("rect")
            && n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|w| w == "lane"))
    }) {
        let panel: usize = node.attribute("data-panel").unwrap().parse().unwrap();
        if counts.len() <= panel {
            counts.resize(panel + 1, 0);
        }
        counts[panel] += 1;
    }
    counts
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

#[test]
fn empty_input_gives_a_picture_that_says_so() {
    let svg = render_svg(&[], "nothing ran").unwrap();
    assert!(lanes_per_panel(&svg).is_empty());
    let texts = texts(&svg);
    assert!(texts.contains(&"nothing ran".to_string()));
    assert!(texts.contains(&"no runs to draw".to_string()));
}

#[test]
fn a_panel_without_lanes_says_so() {
    let svg = render_svg(&[panel("idle", 0.0, vec![])], "t").unwrap();
    assert!(lanes_per_panel(&svg).is_empty());
    assert!(texts(&svg).contains(&"no connections".to_string()));
}

#[test]
fn every_end_state_has_its_colour_and_the_legend_names_them() {
    let lanes: Vec<Lane> = END_ORDER
        .iter()
        .enumerate()
        .map(|(i, &end)| lane(i as f64 * 10.0, 80.0, end))
        .collect();
    let svg = render_svg(&[panel("drain", 100.0, lanes)], "reuse").unwrap();
    assert_eq!(lanes_per_panel(&svg), vec![END_ORDER.len()]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    for end in END_ORDER {
        let bar = doc
            .descendants()
            .find(|n| n.attribute("data-end") == Some(end.as_str()))
            .unwrap();
        let (r, g, b) = (colour(end).0, colour(end).1, colour(end).2);
        assert_eq!(
            bar.attribute("fill"),
            Some(&*format!("#{r:02X}{g:02X}{b:02X}"))
        );
    }
    let texts = texts(&svg);
    for expected in [
        "closed by client",
        "closed by server",
        "reset",
        "open at end",
        "closed by both at once",
        "TIME_WAIT on the closing side",
        "request",
        "drain",
        "ms since the run started",
    ] {
        assert!(
            texts.contains(&expected.to_string()),
            "missing {expected:?}"
        );
    }
    // Four closing lanes (the reset's included, as this test's lanes are built) have a faded
    // TIME_WAIT tail.
    let tails = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| n.attribute("opacity") == Some(&*TAIL_ALPHA.to_string()))
        .count();
    assert_eq!(tails, 4 + 1, "four lanes and the legend swatch");
}

#[test]
fn panels_share_the_longest_axis() {
    let short = panel(
        "short",
        100.0,
        vec![lane(0.0, 50.0, EndState::ClosedByClient)],
    );
    let long = panel(
        "long",
        1000.0,
        vec![
            lane(0.0, 50.0, EndState::ClosedByServer),
            lane(100.0, 900.0, EndState::Reset),
        ],
    );
    let svg = render_svg(&[short, long], "sweep").unwrap();
    assert_eq!(lanes_per_panel(&svg), vec![1, 2]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    // The lanes from 0 to 50 ms start and end at the same pixels in both panels.
    let first_lane = |panel: &str| {
        doc.descendants()
            .find(|n| n.attribute("data-panel") == Some(panel))
            .map(|n| (n.attribute("x"), n.attribute("width")))
            .unwrap()
    };
    assert_eq!(first_lane("0"), first_lane("1"));
    let texts = texts(&svg);
    assert_eq!(
        texts.iter().filter(|t| *t == "1000").count(),
        2,
        "both axes reach 1000 ms"
    );
}

#[test]
fn many_lanes_are_aggregated_and_say_so() {
    let lanes: Vec<Lane> = (0..5000)
        .map(|i| {
            let end = END_ORDER[i % 7 % 4];
            lane(i as f64, i as f64 + 5.0, end)
        })
        .collect();
    let p = panel("drop-unread", 5000.0, lanes);
    let drawn = drawn_lane_count(&p);
    assert!(drawn <= MAX_LANES_PER_PANEL && drawn > 4, "{drawn}");
    let svg = render_svg(std::slice::from_ref(&p), "long run").unwrap();
    assert_eq!(lanes_per_panel(&svg), vec![drawn]);
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let connections: usize = doc
        .descendants()
        .filter_map(|n| n.attribute("data-connections"))
        .map(|c| c.parse::<usize>().unwrap())
        .sum();
    assert_eq!(connections, 5000);
    let k = group_size(&end_counts(&p.lanes));
    let note = format!("drop-unread — 5000 connections, aggregated {k} per lane");
    assert!(texts(&svg).contains(&note));
}

#[test]
fn sixty_lanes_fit_and_sixty_one_do_not() {
    let lanes = |n: usize| -> Vec<Lane> {
        (0..n)
            .map(|i| lane(i as f64, 100.0, EndState::ClosedByClient))
            .collect()
    };
    assert_eq!(drawn_lane_count(&panel("a", 100.0, lanes(60))), 60);
    assert_eq!(drawn_lane_count(&panel("b", 100.0, lanes(61))), 31);
    assert_eq!(drawn_lane_count(&panel("c", 100.0, lanes(0))), 0);
}

#[test]
fn odd_times_and_labels_do_not_break_the_picture() {
    let odd = vec![
        Lane {
            start_ms: f64::NAN,
            end_ms: f64::INFINITY,
            end: EndState::OpenAtEnd,
            request_ticks_ms: vec![f64::NAN, -5.0, 1e12],
            time_wait_until_ms: Some(f64::NEG_INFINITY),
            label: "<&\"'>".into(),
            tls: Some(HandshakeKind::FullHrr),
        },
        Lane {
            start_ms: 30.0,
            end_ms: 10.0,
            end: EndState::Reset,
            request_ticks_ms: vec![],
            time_wait_until_ms: Some(5.0),
            label: String::new(),
            tls: None,
        },
        lane(0.0, 0.0, EndState::ClosedByServer),
    ];
    let svg = render_svg(
        &[
            panel("odd <title> & co", f64::NAN, odd),
            panel("", -1.0, vec![]),
        ],
        "weird & wonderful",
    )
    .unwrap();
    assert_eq!(lanes_per_panel(&svg), vec![3]);
    assert!(texts(&svg).contains(&"odd <title> & co".to_string()));
}

#[test]
fn write_svg_writes_the_file_and_reports_the_path_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.svg");
    let panels = [panel("p", 10.0, vec![lane(0.0, 5.0, EndState::Reset)])];
    write_svg(&path, &panels, "t").unwrap();
    assert_eq!(
        lanes_per_panel(&std::fs::read_to_string(&path).unwrap()),
        vec![1]
    );
    let bad = dir.path().join("missing").join("t.svg");
    let err = write_svg(&bad, &panels, "t").unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn tls_lanes_are_marked_full_or_resumed() {
    let mut lanes: Vec<Lane> = (0..10)
        .map(|i| {
            lane(
                f64::from(i) * 10.0,
                f64::from(i) * 10.0 + 5.0,
                EndState::ClosedByServer,
            )
        })
        .collect();
    for (i, lane) in lanes.iter_mut().enumerate() {
        lane.tls = Some(if i == 0 {
            HandshakeKind::Full
        } else {
            HandshakeKind::Resumed
        });
    }
    let svg = render_svg(&[panel("tls", 120.0, lanes)], "t").unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let kinds: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("handshake"))
        .filter_map(|n| n.attribute("data-kind"))
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "full").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "resumed").count(), 9);
    assert!(texts(&svg).contains(&"TLS resumed".to_string()));
    // Without TLS, no marks and no TLS legend.
    let plain = render_svg(
        &[panel("plain", 10.0, vec![lane(0.0, 5.0, EndState::Reset)])],
        "t",
    )
    .unwrap();
    assert!(!plain.contains("class=\"handshake\""));
    assert!(!texts(&plain).contains(&"TLS resumed".to_string()));
}

/// The `rect` elements of `class` (one word of it) in panel `panel`.
fn rects<'a>(doc: &'a roxmltree::Document<'a>, class: &str) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("rect")
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|w| w == class))
        })
        .collect()
}

#[test]
fn an_aggregated_lane_shows_its_connections_not_one_long_bar() {
    // 120 short connections, 10 ms apart: two per lane, with a gap between them.
    let lanes: Vec<Lane> = (0..120)
        .map(|i| {
            lane(
                i as f64 * 10.0,
                i as f64 * 10.0 + 2.0,
                EndState::ClosedByClient,
            )
        })
        .collect();
    let svg = render_svg(&[panel("churn", 1200.0, lanes)], "t").unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let groups = rects(&doc, "group");
    assert_eq!(groups.len(), 60);
    for group in &groups {
        // The span is an outline, not a solid bar.
        assert_eq!(group.attribute("stroke-dasharray"), Some("4 2"));
        let fill: f64 = group.attribute("fill-opacity").unwrap().parse().unwrap();
        assert!(fill < 0.5, "{fill}");
        assert!(group.attribute("opacity").is_none());
    }
    // Each connection is drawn inside: two separate members per lane of two.
    let members = rects(&doc, "member");
    assert_eq!(members.len(), 120);
    assert!(members
        .iter()
        .all(|m| m.attribute("data-connections").is_none()));
    assert!(texts(&svg).contains(&"N conns: N connections in one lane".to_string()));
}

#[test]
fn overlapping_connections_of_a_lane_are_stacked_and_merged() {
    // 130 connections that all span the run: 3 per lane, each on its own sub-row.
    let lanes: Vec<Lane> = (0..130)
        .map(|i| lane(i as f64 * 0.01, 100.0, EndState::OpenAtEnd))
        .collect();
    let p = panel("long-lived", 100.0, lanes);
    let svg = render_svg(std::slice::from_ref(&p), "t").unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let groups = rects(&doc, "group");
    let members = rects(&doc, "member");
    let y = |n: &roxmltree::Node<'_, '_>| n.attribute("y").unwrap().parse::<i32>().unwrap();
    assert!(
        members.len() >= groups.len() * 2,
        "{} {}",
        members.len(),
        groups.len()
    );
    // Inside the first lane: one segment per sub-row, at different heights.
    let first = &groups[0];
    let (top, bottom) = (
        y(first),
        y(first) + first.attribute("height").unwrap().parse::<i32>().unwrap(),
    );
    let mut inside: Vec<i32> = members
        .iter()
        .map(y)
        .filter(|&m| m >= top && m < bottom)
        .collect();
    inside.sort_unstable();
    inside.dedup();
    assert_eq!(
        inside.len(),
        GROUP_SUB_ROWS.min(drawn_connections(first)),
        "{inside:?}"
    );
    // Many connections of one sub-row that touch merge into one segment.
    let row = Row {
        start_ms: 0.0,
        end_ms: 100.0,
        end: EndState::ClosedByClient,
        ticks_ms: Vec::new(),
        time_wait_until_ms: None,
        label: String::new(),
        connections: 300,
        handshakes: (0, 0),
        members_ms: (0..300)
            .map(|i| (i as f64 * 0.1, i as f64 * 0.1 + 1.0))
            .collect(),
    };
    let segments = member_segments(&row, 0.2);
    assert_eq!(segments.len(), GROUP_SUB_ROWS);
    assert!(segments.iter().all(|s| s.len() == 1), "{segments:?}");
}

fn drawn_connections(node: &roxmltree::Node<'_, '_>) -> usize {
    node.attribute("data-connections").unwrap().parse().unwrap()
}

#[test]
fn lanes_of_one_connection_are_solid_and_the_legend_has_no_aggregate() {
    let svg = render_svg(
        &[panel(
            "few",
            100.0,
            vec![lane(0.0, 50.0, EndState::ClosedByServer)],
        )],
        "t",
    )
    .unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(rects(&doc, "member").is_empty());
    assert!(rects(&doc, "lane")
        .iter()
        .all(|l| l.attribute("stroke-dasharray").is_none()));
    assert!(!texts(&svg).iter().any(|t| t.starts_with("N conns")));
}
