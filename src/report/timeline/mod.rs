//! The connection timeline picture: every connection of a run as a lane over time, drawn as SVG
//! with plotters.
//!
//! A lane is a bar from the connection's SYN to its close, coloured by how it ended, with a tick
//! per request and a faded tail for TIME_WAIT on the closing side. Runs are stacked as panels, one
//! per variant, on one shared time axis in milliseconds (the longest run sets it), under one title
//! and one legend. Rendering is pure (panels in, SVG text out) and never panics: non-finite or
//! out-of-order times are clamped onto the axis, empty input gives a picture that says so.
//!
//! A TLS connection starts with a handshake mark (`<rect class="handshake" data-kind="full">`):
//! a solid black block for a full handshake, a hollow one for a resumed handshake, so where
//! resumption saved a full handshake reads at a glance; the legend then names both.
//!
//! Text is written as SVG `<text>` by plotters' SVG backend, so no system font is read.
//!
//! plotters draws the frame: title, legend, axes, TIME_WAIT tails, labels. It cannot attach
//! attributes to what it draws, so the lanes themselves are written here while drawing, at the
//! coordinates plotters maps them to: each lane bar is an SVG `<rect class="lane" data-panel="I"
//! ...>` with a `<title>` tooltip, each request tick a `<line class="request">`, placed after
//! plotters' elements so they are drawn on top. Counting `rect.lane` elements with
//! `data-panel="I"` gives [`drawn_lane_count`] for panel `I`.
//!
//! A panel with more than [`MAX_LANES_PER_PANEL`] connections is aggregated so it stays legible:
//! connections are grouped by end state, each group's connections taken in start order in chunks
//! of K, and each chunk becomes one lane (`class="lane group"`, `data-connections="K"`) spanning
//! its first SYN to its last close, labelled with its count. The panel title then says
//! "N connections, aggregated K per lane". So that such a lane never reads as one long-lived
//! connection, its span is only a faint dashed outline, and inside it the connections
//! themselves are drawn on [`GROUP_SUB_ROWS`] thin sub-rows (`<rect class="member">`, the
//! connections dealt in start order, overlapping spans of one sub-row merged): the gaps between
//! connections show, and the legend names the aggregated lane.

use std::fmt;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::model::{EndState, HandshakeKind};

/// The end states in legend order.
const END_ORDER: [EndState; 5] = [
    EndState::ClosedByClient,
    EndState::ClosedByServer,
    EndState::Reset,
    EndState::OpenAtEnd,
    EndState::ClosedSimultaneously,
];

/// How the legend and the tooltips say an end state.
fn legend_text(end: EndState) -> &'static str {
    match end {
        EndState::ClosedByClient => "closed by client",
        EndState::ClosedByServer => "closed by server",
        EndState::Reset => "reset",
        EndState::OpenAtEnd => "open at end",
        EndState::ClosedSimultaneously => "closed by both at once",
    }
}

/// A lane's colour: how its connection ended.
fn colour(end: EndState) -> RGBColor {
    match end {
        EndState::ClosedByClient => RGBColor(0x1F, 0x77, 0xB4),
        EndState::ClosedByServer => RGBColor(0xFF, 0x7F, 0x0E),
        EndState::Reset => RGBColor(0xD6, 0x27, 0x28),
        EndState::OpenAtEnd => RGBColor(0x2C, 0xA0, 0x2C),
        EndState::ClosedSimultaneously => RGBColor(0x94, 0x67, 0xBD),
    }
}

/// One connection: a bar from its SYN (`start_ms`) to its end (`end_ms`), in milliseconds since
/// the run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    /// When the SYN was sent.
    pub start_ms: f64,
    /// The close (first FIN or RST), or the end of the run for [`EndState::OpenAtEnd`].
    pub end_ms: f64,
    /// How the connection ended.
    pub end: EndState,
    /// A tick per request sent on this connection.
    pub request_ticks_ms: Vec<f64>,
    /// When TIME_WAIT on the closing side ends, drawn as a faded tail after `end_ms` and clipped
    /// to the time axis (Linux holds TIME_WAIT for 60 s, far past most runs).
    pub time_wait_until_ms: Option<f64>,
    /// A short name for the lane, e.g. the client port `":54321"`.
    pub label: String,
    /// Its TLS handshake, for a TLS connection.
    pub tls: Option<HandshakeKind>,
}

/// One variant's run, drawn as one panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Names the scenario and the variant.
    pub title: String,
    /// How long the run lasted.
    pub duration_ms: f64,
    /// Its connections.
    pub lanes: Vec<Lane>,
}

/// Why a timeline could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// plotters reported an error while drawing.
    #[error("drawing the timeline failed: {0}")]
    Draw(String),
    /// The SVG file could not be written.
    #[error("cannot write the timeline to {}", path.display())]
    Write {
        /// The file asked for.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// Above this many connections a panel draws aggregated lanes (see the module documentation).
pub const MAX_LANES_PER_PANEL: usize = 60;

/// The opacity of lane bars (and their legend swatches).
pub const LANE_BAR_ALPHA: f64 = 0.87;

/// The thin sub-rows an aggregated lane draws its connections on.
pub const GROUP_SUB_ROWS: usize = 3;

/// The opacity of an aggregated lane's span, behind its connections.
const GROUP_SPAN_ALPHA: f64 = 0.15;

const WIDTH_PX: u32 = 1000;
const HEADER_PX: u32 = 70;
const FOOTER_PX: u32 = 8;
const ROW_PX: u32 = 14;
const PANEL_CHROME_PX: u32 = 80;
const MIN_PANEL_PX: u32 = 120;
const Y_LABEL_AREA_PX: u32 = 90;
const TAIL_ALPHA: f64 = 0.25;
const TICK_COLOUR: RGBColor = RGBColor(0x20, 0x20, 0x20);
const TLS_MARK_COLOUR: RGBColor = RGBColor(0x00, 0x00, 0x00);
const TLS_MARK_PX: i32 = 6;
const FONT: &str = "sans-serif";

/// How many lanes the SVG draws for `panel`: `panel.lanes.len()` when they fit
/// ([`MAX_LANES_PER_PANEL`] or fewer), else the number of aggregated lanes.
pub fn drawn_lane_count(panel: &Panel) -> usize {
    let counts = end_counts(&panel.lanes);
    let per_lane = group_size(&counts);
    counts.iter().map(|&c| c.div_ceil(per_lane)).sum()
}

/// Draws the panels stacked, one per variant, on one shared time axis in milliseconds, under
/// `title` and a legend (colours by end state, the TIME_WAIT tail, request ticks). Returns the SVG
/// text.
pub fn render_svg(panels: &[Panel], title: &str) -> Result<String, TimelineError> {
    let axis_max_ms = axis_max_ms(panels);
    let prepared: Vec<PreparedPanel> = panels
        .iter()
        .map(|p| PreparedPanel::new(p, axis_max_ms))
        .collect();
    let mut svg = String::new();
    let lanes = draw(&mut svg, &prepared, title, axis_max_ms)?;
    // The lanes go last, over the axes and the TIME_WAIT tails plotters drew.
    let close = svg.rfind("</svg>").unwrap_or(svg.len());
    svg.insert_str(close, &lanes);
    Ok(svg)
}

/// Renders the timeline like [`render_svg`] and writes it to `path`.
pub fn write_svg(path: &Path, panels: &[Panel], title: &str) -> Result<(), TimelineError> {
    let svg = render_svg(panels, title)?;
    std::fs::write(path, svg).map_err(|source| TimelineError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// One drawn lane: a connection, or a group of connections with the same end state.
#[derive(Clone)]
struct Row {
    start_ms: f64,
    end_ms: f64,
    end: EndState,
    ticks_ms: Vec<f64>,
    time_wait_until_ms: Option<f64>,
    label: String,
    connections: usize,
    /// TLS handshakes among its connections: (full, resumed).
    handshakes: (usize, usize),
    /// An aggregated lane's connections, `(start_ms, end_ms)` in start order (empty for a
    /// lane of one connection).
    members_ms: Vec<(f64, f64)>,
}

struct PreparedPanel {
    title: String,
    run_end_ms: f64,
    rows: Vec<Row>,
}

impl PreparedPanel {
    fn new(panel: &Panel, axis_max_ms: f64) -> Self {
        let run_end_ms = clamp_ms(panel_end_ms(panel), axis_max_ms);
        let lanes: Vec<Row> = panel
            .lanes
            .iter()
            .map(|lane| sanitize(lane, run_end_ms, axis_max_ms))
            .collect();
        let counts = end_counts(&panel.lanes);
        let k = group_size(&counts);
        let (title, mut rows) = if k == 1 {
            (panel.title.clone(), lanes)
        } else {
            let note = format!(
                "{} — {} connections, aggregated {k} per lane",
                panel.title,
                lanes.len()
            );
            (note, aggregate(lanes, k))
        };
        rows.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        PreparedPanel {
            title,
            run_end_ms,
            rows,
        }
    }

    fn height_px(&self) -> u32 {
        let rows = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
        rows.saturating_mul(ROW_PX)
            .saturating_add(PANEL_CHROME_PX)
            .max(MIN_PANEL_PX)
    }
}

fn end_counts(lanes: &[Lane]) -> [usize; 5] {
    let mut counts = [0; 5];
    for lane in lanes {
        counts[end_index(lane.end)] += 1;
    }
    counts
}

fn end_index(end: EndState) -> usize {
    END_ORDER.iter().position(|&e| e == end).unwrap_or(0)
}

/// The smallest number of connections per lane that keeps the panel within
/// [`MAX_LANES_PER_PANEL`] lanes when each end state is grouped on its own.
fn group_size(counts: &[usize; 5]) -> usize {
    let total: usize = counts.iter().sum();
    if total <= MAX_LANES_PER_PANEL {
        return 1;
    }
    let mut k = total.div_ceil(MAX_LANES_PER_PANEL);
    while counts.iter().map(|&c| c.div_ceil(k)).sum::<usize>() > MAX_LANES_PER_PANEL {
        k += 1;
    }
    k
}

fn aggregate(lanes: Vec<Row>, k: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for end in END_ORDER {
        let mut same: Vec<Row> = lanes.iter().filter(|r| r.end == end).cloned().collect();
        same.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        for chunk in same.chunks(k) {
            let mut ticks_ms: Vec<f64> = chunk.iter().flat_map(|r| r.ticks_ms.clone()).collect();
            ticks_ms.sort_by(f64::total_cmp);
            rows.push(Row {
                start_ms: chunk
                    .iter()
                    .map(|r| r.start_ms)
                    .fold(f64::INFINITY, f64::min),
                end_ms: chunk.iter().map(|r| r.end_ms).fold(0.0, f64::max),
                end,
                ticks_ms,
                time_wait_until_ms: chunk
                    .iter()
                    .filter_map(|r| r.time_wait_until_ms)
                    .reduce(f64::max),
                label: format!("{} conns", chunk.len()),
                connections: chunk.len(),
                members_ms: chunk.iter().map(|r| (r.start_ms, r.end_ms)).collect(),
                handshakes: chunk.iter().fold((0, 0), |(f, r), row| {
                    (f + row.handshakes.0, r + row.handshakes.1)
                }),
            });
        }
    }
    rows
}

/// A finite, non-negative time, or `None`.
fn finite_ms(ms: f64) -> Option<f64> {
    ms.is_finite().then_some(ms.max(0.0))
}

fn clamp_ms(ms: f64, axis_max_ms: f64) -> f64 {
    finite_ms(ms).unwrap_or(0.0).min(axis_max_ms)
}

/// Where a panel's run ends: its duration, or its last lane end when the duration is unusable.
fn panel_end_ms(panel: &Panel) -> f64 {
    finite_ms(panel.duration_ms)
        .filter(|&d| d > 0.0)
        .unwrap_or_else(|| {
            panel
                .lanes
                .iter()
                .flat_map(|l| [l.start_ms, l.end_ms])
                .filter_map(finite_ms)
                .fold(0.0, f64::max)
        })
}

/// The shared axis: the longest run (or the latest lane end), at least 1 ms.
fn axis_max_ms(panels: &[Panel]) -> f64 {
    panels
        .iter()
        .flat_map(|p| {
            std::iter::once(p.duration_ms)
                .chain(p.lanes.iter().flat_map(|l| [l.start_ms, l.end_ms]))
        })
        .filter_map(finite_ms)
        .fold(0.0, f64::max)
        .max(1.0)
}

fn sanitize(lane: &Lane, run_end_ms: f64, axis_max_ms: f64) -> Row {
    let start_ms = clamp_ms(lane.start_ms, axis_max_ms);
    let end_ms = match finite_ms(lane.end_ms) {
        Some(end) if end >= start_ms => end.min(axis_max_ms),
        _ if lane.end == EndState::OpenAtEnd => run_end_ms.max(start_ms),
        _ => start_ms,
    };
    let mut ticks_ms: Vec<f64> = lane
        .request_ticks_ms
        .iter()
        .filter_map(|&t| finite_ms(t))
        .map(|t| t.min(axis_max_ms))
        .collect();
    ticks_ms.sort_by(f64::total_cmp);
    let time_wait_until_ms = lane
        .time_wait_until_ms
        .and_then(finite_ms)
        .map(|t| t.min(axis_max_ms))
        .filter(|&t| t > end_ms);
    Row {
        start_ms,
        end_ms,
        end: lane.end,
        ticks_ms,
        time_wait_until_ms,
        label: lane.label.clone(),
        connections: 1,
        members_ms: Vec::new(),
        handshakes: match lane.tls {
            Some(kind) if kind.is_full() => (1, 0),
            Some(_) => (0, 1),
            None => (0, 0),
        },
    }
}

fn draw_error(e: impl fmt::Display) -> TimelineError {
    TimelineError::Draw(e.to_string())
}

fn draw(
    svg: &mut String,
    panels: &[PreparedPanel],
    title: &str,
    axis_max_ms: f64,
) -> Result<String, TimelineError> {
    let panels_px = panels
        .iter()
        .fold(0u32, |sum, p| sum.saturating_add(p.height_px()));
    let empty_note_px = if panels.is_empty() { 40 } else { 0 };
    let height_px = HEADER_PX
        .saturating_add(panels_px)
        .saturating_add(FOOTER_PX + empty_note_px);
    let root = SVGBackend::with_string(svg, (WIDTH_PX, height_px)).into_drawing_area();
    root.fill(&WHITE).map_err(draw_error)?;
    let tls = panels
        .iter()
        .any(|p| p.rows.iter().any(|r| r.handshakes != (0, 0)));
    let aggregated = panels
        .iter()
        .any(|p| p.rows.iter().any(|r| r.connections > 1));
    draw_header(&root, title, tls, aggregated)?;
    if panels.is_empty() {
        root.draw(&Text::new(
            "no runs to draw",
            (WIDTH_PX as i32 / 2, HEADER_PX as i32 + 10),
            (FONT, 14)
                .into_font()
                .color(&BLACK.mix(0.6))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(draw_error)?;
    }
    let mut lanes = String::new();
    let mut top_px = HEADER_PX;
    for (index, panel) in panels.iter().enumerate() {
        let bottom_px = top_px.saturating_add(panel.height_px());
        let area = root
            .clone()
            .shrink((0, top_px), (WIDTH_PX, bottom_px.saturating_sub(top_px)));
        draw_panel(&root, &area, index, panel, axis_max_ms, &mut lanes)?;
        top_px = bottom_px;
    }
    root.present().map_err(draw_error)?;
    Ok(lanes)
}

fn draw_header(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    tls: bool,
    aggregated: bool,
) -> Result<(), TimelineError> {
    root.draw(&Text::new(
        title.to_string(),
        (WIDTH_PX as i32 / 2, 10),
        (FONT, 20)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(draw_error)?;
    let text_style = (FONT, 14).into_font().color(&BLACK);
    let entries = END_ORDER
        .iter()
        .map(|&end| LegendSymbol::Bar(end))
        .chain([LegendSymbol::TimeWait, LegendSymbol::Request])
        .chain(
            tls.then_some([LegendSymbol::TlsFull, LegendSymbol::TlsResumed])
                .into_iter()
                .flatten(),
        )
        .chain(aggregated.then_some(LegendSymbol::Aggregated));
    // plotters writes font-size as size / 1.24 (11 px here) and its font-less width estimate runs
    // wide; common sans-serif fonts average about 6 px a character at that size.
    let width_px = |symbol: LegendSymbol| symbol.text().chars().count() as i32 * 6 + 28 + 22;
    let total_px: i32 = entries.clone().map(width_px).sum();
    let mut x = ((WIDTH_PX as i32 - total_px) / 2).max(8);
    for symbol in entries {
        match symbol {
            LegendSymbol::Bar(end) => root.draw(&legend_swatch(colour(end).mix(LANE_BAR_ALPHA), x)),
            LegendSymbol::TimeWait => root.draw(&legend_swatch(
                colour(EndState::ClosedByClient).mix(TAIL_ALPHA),
                x,
            )),
            LegendSymbol::Request => root.draw(&PathElement::new(
                vec![(x + 11, 43), (x + 11, 57)],
                TICK_COLOUR.stroke_width(2),
            )),
            LegendSymbol::TlsFull => root.draw(&Rectangle::new(
                [(x + 8, 44), (x + 14, 56)],
                TLS_MARK_COLOUR.filled(),
            )),
            LegendSymbol::TlsResumed => root.draw(&Rectangle::new(
                [(x + 8, 44), (x + 14, 56)],
                TLS_MARK_COLOUR.stroke_width(1),
            )),
            LegendSymbol::Aggregated => {
                let grey = BLACK.mix(0.6);
                root.draw(&legend_swatch(BLACK.mix(GROUP_SPAN_ALPHA), x))
                    .and_then(|()| {
                        root.draw(&Rectangle::new([(x + 2, 46), (x + 8, 49)], grey.filled()))
                    })
                    .and_then(|()| {
                        root.draw(&Rectangle::new([(x + 12, 51), (x + 20, 54)], grey.filled()))
                    })
            }
        }
        .map_err(draw_error)?;
        root.draw(&Text::new(
            symbol.text(),
            (x + 28, 50),
            text_style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(draw_error)?;
        x += width_px(symbol);
    }
    Ok(())
}

/// One legend entry's symbol.
#[derive(Clone, Copy)]
enum LegendSymbol {
    Bar(EndState),
    TimeWait,
    Request,
    TlsFull,
    TlsResumed,
    Aggregated,
}

impl LegendSymbol {
    fn text(self) -> &'static str {
        match self {
            LegendSymbol::Bar(end) => legend_text(end),
            LegendSymbol::TimeWait => "TIME_WAIT on the closing side",
            LegendSymbol::Request => "request",
            LegendSymbol::TlsFull => "TLS full handshake",
            LegendSymbol::TlsResumed => "TLS resumed",
            LegendSymbol::Aggregated => "N conns: N connections in one lane",
        }
    }
}

fn legend_swatch(colour: RGBAColor, x: i32) -> Rectangle<(i32, i32)> {
    Rectangle::new([(x, 45), (x + 22, 55)], colour.filled())
}

/// The panel's time axis and its light grid.
fn draw_axes(chart: &mut Chart<'_, '_>, axis_max_ms: f64) -> Result<(), TimelineError> {
    let decimals = if axis_max_ms >= 50.0 {
        0
    } else if axis_max_ms >= 5.0 {
        1
    } else {
        2
    };
    let x_label = |ms: &f64| format!("{ms:.decimals$}");
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(12)
        .x_label_formatter(&x_label)
        .x_desc("ms since the run started")
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 12))
        .light_line_style(BLACK.mix(0.05))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

/// A vertical line where a run shorter than the axis ended, labelled "run end".
fn draw_run_end(
    root: &DrawingArea<SVGBackend, Shift>,
    chart: &mut Chart<'_, '_>,
    run_end_ms: f64,
    y_max: f64,
) -> Result<(), TimelineError> {
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(run_end_ms, 0.0), (run_end_ms, y_max)],
            BLACK.mix(0.35).stroke_width(1),
        )))
        .map_err(draw_error)?;
    let (x, y) = chart.backend_coord(&(run_end_ms, y_max));
    root.draw(&Text::new(
        "run end",
        (x + 4, y + 2),
        (FONT, 10)
            .into_font()
            .color(&BLACK.mix(0.55))
            .pos(Pos::new(HPos::Left, VPos::Top)),
    ))
    .map_err(draw_error)?;
    Ok(())
}

/// A panel's chart: milliseconds across, lanes up.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn draw_panel(
    root: &DrawingArea<SVGBackend, Shift>,
    area: &DrawingArea<SVGBackend, Shift>,
    index: usize,
    panel: &PreparedPanel,
    axis_max_ms: f64,
    lanes: &mut String,
) -> Result<(), TimelineError> {
    let rows = panel.rows.len();
    let y_max = rows.max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 15).into_font().style(FontStyle::Bold))
        .margin_left(10)
        .margin_right(30)
        .margin_top(4)
        .x_label_area_size(36)
        .y_label_area_size(Y_LABEL_AREA_PX)
        .build_cartesian_2d(0.0..axis_max_ms, 0.0..y_max)
        .map_err(draw_error)?;
    draw_axes(&mut chart, axis_max_ms)?;

    if rows == 0 {
        chart
            .draw_series(std::iter::once(Text::new(
                "no connections",
                (axis_max_ms / 2.0, 0.5),
                (FONT, 13)
                    .into_font()
                    .color(&BLACK.mix(0.6))
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )))
            .map_err(draw_error)?;
        return Ok(());
    }

    if panel.run_end_ms < axis_max_ms {
        draw_run_end(root, &mut chart, panel.run_end_ms, y_max)?;
    }

    // About two pixels: zero-length lanes stay visible and ticks closer than that are merged.
    let min_width_ms = axis_max_ms / 500.0;
    let label_style = (FONT, 12)
        .into_font()
        .color(&BLACK.mix(0.8))
        .pos(Pos::new(HPos::Right, VPos::Center));
    for (i, row) in panel.rows.iter().enumerate() {
        let y = (rows - 1 - i) as f64;
        if let Some(until_ms) = row.time_wait_until_ms {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(row.end_ms, y + 0.2), (until_ms, y + 0.8)],
                    colour(row.end).mix(TAIL_ALPHA).filled(),
                )))
                .map_err(draw_error)?;
        }
        let bar_end_ms = row.end_ms.max(row.start_ms + min_width_ms);
        let top_left = chart.backend_coord(&(row.start_ms, y + 0.85));
        let bottom_right = chart.backend_coord(&(bar_end_ms, y + 0.15));
        lanes.push_str(&lane_bar(index, row, top_left, bottom_right));
        for (sub_row, segments) in member_segments(row, min_width_ms).iter().enumerate() {
            // Sub-rows top to bottom inside the bar's 0.15..0.85 band.
            let band = 0.7 / GROUP_SUB_ROWS as f64;
            let top = y + 0.85 - band * sub_row as f64 - band * 0.1;
            let bottom = top - band * 0.8;
            for &(start_ms, end_ms) in segments {
                let top_left = chart.backend_coord(&(start_ms, top));
                let bottom_right = chart.backend_coord(&(end_ms, bottom));
                lanes.push_str(&member_bar(index, row.end, top_left, bottom_right));
            }
        }
        if let Some(mark) = handshake_mark(index, row, top_left, bottom_right) {
            lanes.push_str(&mark);
        }
        let mut last_tick_ms = f64::NEG_INFINITY;
        for &t in &row.ticks_ms {
            if t - last_tick_ms >= min_width_ms {
                let (x, top) = chart.backend_coord(&(t, y + 0.92));
                let (_, bottom) = chart.backend_coord(&(t, y + 0.08));
                lanes.push_str(&tick(x, top, bottom));
                last_tick_ms = t;
            }
        }
        let (label_x, label_y) = chart.backend_coord(&(0.0, y + 0.5));
        root.draw(&Text::new(
            row.label.clone(),
            (label_x - 6, label_y),
            label_style.clone(),
        ))
        .map_err(draw_error)?;
    }
    Ok(())
}

fn tooltip(row: &Row) -> String {
    let mut text = if row.connections == 1 {
        format!(
            "{}: {:.1}–{:.1} ms, {} requests, {}",
            row.label,
            row.start_ms,
            row.end_ms,
            row.ticks_ms.len(),
            row.end
        )
    } else {
        format!(
            "{} connections {}, {:.1}–{:.1} ms, {} requests",
            row.connections,
            row.end,
            row.start_ms,
            row.end_ms,
            row.ticks_ms.len()
        )
    };
    if let Some(until_ms) = row.time_wait_until_ms {
        text.push_str(&format!(", TIME_WAIT until {until_ms:.1} ms or later"));
    }
    match (row.connections, row.handshakes) {
        (_, (0, 0)) => {}
        (1, (1, _)) => text.push_str(", TLS full handshake"),
        (1, _) => text.push_str(", TLS resumed handshake"),
        (_, (full, resumed)) => {
            text.push_str(&format!(", TLS {full} full + {resumed} resumed handshakes"))
        }
    }
    text
}

/// The handshake mark at the start of a TLS lane: solid for full, hollow for resumed, grey for
/// an aggregated lane holding both.
fn handshake_mark(
    panel: usize,
    row: &Row,
    top_left: (i32, i32),
    bottom_right: (i32, i32),
) -> Option<String> {
    let (fill, kind) = match row.handshakes {
        (0, 0) => return None,
        (_, 0) => ("#000000", "full"),
        (0, _) => ("#FFFFFF", "resumed"),
        _ => ("#808080", "mixed"),
    };
    let (full, resumed) = row.handshakes;
    Some(format!(
        "<rect class=\"handshake\" data-panel=\"{panel}\" data-kind=\"{kind}\" data-full=\"{full}\" \
         data-resumed=\"{resumed}\" x=\"{}\" y=\"{}\" width=\"{TLS_MARK_PX}\" height=\"{}\" fill=\"{fill}\" \
         stroke=\"#000000\" stroke-width=\"1\"><title>TLS: {full} full, {resumed} resumed</title></rect>\n",
        top_left.0,
        top_left.1,
        (bottom_right.1 - top_left.1).max(1),
    ))
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// One lane bar as SVG, marked while it is drawn: `class`, `data-*` attributes and a `<title>`
/// tooltip (plotters cannot attach attributes, so lane bars and their ticks are written here).
fn lane_bar(panel: usize, row: &Row, top_left: (i32, i32), bottom_right: (i32, i32)) -> String {
    let RGBColor(r, g, b) = colour(row.end);
    // An aggregated lane's span is a faint dashed outline: its connections are drawn inside.
    let (class, paint) = if row.connections == 1 {
        (
            "lane",
            format!("opacity=\"{LANE_BAR_ALPHA}\" fill=\"#{r:02X}{g:02X}{b:02X}\" stroke=\"none\""),
        )
    } else {
        (
            "lane group",
            format!(
                "fill=\"#{r:02X}{g:02X}{b:02X}\" fill-opacity=\"{GROUP_SPAN_ALPHA}\" \
                 stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"1\" stroke-dasharray=\"4 2\""
            ),
        )
    };
    format!(
        "<rect class=\"{class}\" data-panel=\"{panel}\" data-end=\"{}\" data-label=\"{}\" \
         data-connections=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
         {paint}><title>{}</title></rect>\n",
        row.end.as_str(),
        escape_xml(&row.label),
        row.connections,
        top_left.0,
        top_left.1,
        (bottom_right.0 - top_left.0).max(1),
        (bottom_right.1 - top_left.1).max(1),
        escape_xml(&tooltip(row)),
    )
}

/// An aggregated lane's connections as segments on [`GROUP_SUB_ROWS`] sub-rows: the
/// connections dealt to the sub-rows in start order, each at least `min_width_ms` wide, spans
/// that overlap or touch on one sub-row merged (so the picture stays bounded by its pixels).
fn member_segments(row: &Row, min_width_ms: f64) -> Vec<Vec<(f64, f64)>> {
    if row.connections <= 1 {
        return Vec::new();
    }
    let mut sub_rows: Vec<Vec<(f64, f64)>> = vec![Vec::new(); GROUP_SUB_ROWS];
    for (i, &(start_ms, end_ms)) in row.members_ms.iter().enumerate() {
        let end_ms = end_ms.max(start_ms + min_width_ms);
        let segments = &mut sub_rows[i % GROUP_SUB_ROWS];
        match segments.last_mut() {
            Some(last) if start_ms <= last.1 + min_width_ms => last.1 = last.1.max(end_ms),
            _ => segments.push((start_ms, end_ms)),
        }
    }
    sub_rows.retain(|segments| !segments.is_empty());
    sub_rows
}

/// One connection (or merged run of connections) inside an aggregated lane, as SVG.
fn member_bar(
    panel: usize,
    end: EndState,
    top_left: (i32, i32),
    bottom_right: (i32, i32),
) -> String {
    let RGBColor(r, g, b) = colour(end);
    format!(
        "<rect class=\"member\" data-panel=\"{panel}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
         opacity=\"{LANE_BAR_ALPHA}\" fill=\"#{r:02X}{g:02X}{b:02X}\" stroke=\"none\"/>\n",
        top_left.0,
        top_left.1,
        (bottom_right.0 - top_left.0).max(1),
        (bottom_right.1 - top_left.1).max(1),
    )
}

/// One request tick as SVG, drawn over its lane bar.
fn tick(x: i32, top: i32, bottom: i32) -> String {
    let RGBColor(r, g, b) = TICK_COLOUR;
    format!(
        "<line class=\"request\" x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{bottom}\" \
         stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"1\"/>\n"
    )
}

#[cfg(test)]
mod tests;
