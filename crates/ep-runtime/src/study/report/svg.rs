//! SVG drawing helpers shared by the plots: fonts, palette and line looks, rendering into a string,
//! legends, lines and padded axis ranges.

use std::error::Error;

use plotters::backend::SVGBackend;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::study::report::format::{escape, truncate};

/// Font family of all plot text (generic, so that any viewer can substitute a font).
pub(super) const FONT: &str = "sans-serif";

/// Fixed categorical palette (Tableau 10), cycled when there are more series than colors.
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Color of axis labels and secondary text.
pub(super) const DARK: RGBColor = RGBColor(40, 40, 40);
/// Color of grid lines.
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);
/// Color of cells without data.
pub(super) const NO_DATA: RGBColor = RGBColor(220, 220, 220);

/// Line pattern of a series: the palette is cycled with a different pattern each time round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dash {
    /// Continuous line.
    Solid,
    /// Long dashes.
    Dashed,
    /// Short dots.
    Dotted,
}

impl Dash {
    /// Dash length and gap in pixels, `None` for a solid line.
    fn pattern(self) -> Option<(i32, i32)> {
        match self {
            Self::Solid => None,
            Self::Dashed => Some((9, 5)),
            Self::Dotted => Some((3, 4)),
        }
    }

    /// CSS border style showing the same pattern.
    pub(super) fn css(self) -> &'static str {
        match self {
            Self::Solid => "solid",
            Self::Dashed => "dashed",
            Self::Dotted => "dotted",
        }
    }
}

/// How series `i` is drawn: a palette color and a line pattern.
#[derive(Debug, Clone, Copy)]
pub(super) struct Look {
    pub(super) color: RGBColor,
    pub(super) dash: Dash,
}

impl Look {
    /// Look of the `i`-th series: colors of the fixed palette, then again dashed, then dotted.
    pub(super) fn nth(i: usize) -> Self {
        let (r, g, b) = PALETTE[i % PALETTE.len()];
        let dash = match (i / PALETTE.len()) % 3 {
            0 => Dash::Solid,
            1 => Dash::Dashed,
            _ => Dash::Dotted,
        };
        Self { color: RGBColor(r, g, b), dash }
    }

    /// CSS color `#RRGGBB`.
    pub(super) fn css_color(self) -> String {
        let RGBColor(r, g, b) = self.color;
        format!("#{r:02X}{g:02X}{b:02X}")
    }
}

/// Result of a drawing closure.
type DrawResult = std::result::Result<(), Box<dyn Error>>;

/// The root drawing area of an SVG string backend.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// A chart with f64 coordinates on an SVG string backend.
type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Renders an SVG of `size` pixels with `draw`, on a white background.
pub(super) fn render_svg(
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> std::result::Result<String, String> {
    let mut buf = String::new();
    let outcome: DrawResult = {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)
            .map_err(Box::<dyn Error>::from)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Box::<dyn Error>::from))
    };
    match outcome {
        Ok(()) => Ok(buf),
        Err(e) => Err(e.to_string()),
    }
}

/// A small SVG with a title and a one-line message (used when there is nothing to plot).
pub(super) fn message_svg(title: &str, message: &str) -> String {
    format!(
        "<svg width=\"640\" height=\"110\" viewBox=\"0 0 640 110\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect x=\"0\" y=\"0\" width=\"640\" height=\"110\" fill=\"#FFFFFF\" stroke=\"#CCCCCC\"/>\n\
         <text x=\"320\" y=\"42\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"17\" \
         font-weight=\"bold\" fill=\"#000000\">{}</text>\n\
         <text x=\"320\" y=\"74\" text-anchor=\"middle\" font-family=\"{FONT}\" font-size=\"14\" \
         fill=\"#555555\">{}</text>\n</svg>\n",
        escape(title),
        escape(message)
    )
}

/// Text style of `size` (plotters units) and `color`, anchored at `h`/`v`.
pub(super) fn text_style(size: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    styled((FONT, size).into_font(), color, h, v)
}

/// Text style of `font` and `color`, anchored at `h`/`v`.
pub(super) fn styled(font: FontDesc<'static>, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle { font, color: color.to_backend_color(), pos: Pos::new(h, v) }
}

/// One legend entry: label and look.
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) look: Look,
}

/// Draws a polyline through `points` in the look's color and pattern, 2 px wide.
pub(super) fn draw_line(chart: &mut Chart<'_, '_>, points: Vec<(f64, f64)>, look: Look) -> DrawResult {
    let style = look.color.stroke_width(2);
    match look.dash.pattern() {
        None => chart.draw_series(LineSeries::new(points, style))?,
        Some((size, gap)) => chart.draw_series(DashedLineSeries::new(points, size, gap, style))?,
    };
    Ok(())
}

/// Layout of a legend drawn below a chart: number of columns and total height in pixels.
pub(super) fn legend_layout(entries: usize, width: u32) -> (usize, u32) {
    if entries == 0 {
        return (1, 0);
    }
    let columns = if entries <= 3 || width < 700 { 1 } else { 2 };
    let rows = entries.div_ceil(columns);
    (columns, u32::try_from(rows).unwrap_or(u32::MAX).saturating_mul(22).saturating_add(16).min(60_000))
}

/// Draws a legend (line sample, optional band sample, label) into `area`.
pub(super) fn draw_legend(
    area: &Area<'_>,
    entries: &[LegendEntry],
    columns: usize,
    band: bool,
) -> DrawResult {
    let (width, _) = area.dim_in_pixel();
    let columns = columns.max(1);
    let col_w = (i32::try_from(width).unwrap_or(960) - 80) / i32::try_from(columns).unwrap_or(1);
    let max_chars = usize::try_from(((col_w - 50) / 7).max(8)).unwrap_or(8);
    let style = text_style(14.0, DARK, HPos::Left, VPos::Center);
    for (i, entry) in entries.iter().enumerate() {
        let col = i32::try_from(i % columns).unwrap_or(0);
        let row = i32::try_from(i / columns).unwrap_or(0);
        let x = 70 + col * col_w;
        let y = 14 + row * 22;
        let color = entry.look.color;
        if band {
            area.draw(&Rectangle::new([(x, y - 6), (x + 30, y + 6)], color.mix(0.2).filled()))?;
        }
        match entry.look.dash.pattern() {
            None => area.draw(&PathElement::new(vec![(x, y), (x + 30, y)], color.stroke_width(2)))?,
            Some((size, gap)) => {
                let mut x0 = x;
                while x0 < x + 30 {
                    let x1 = (x0 + size).min(x + 30);
                    area.draw(&PathElement::new(vec![(x0, y), (x1, y)], color.stroke_width(2)))?;
                    x0 = x1 + gap;
                }
            }
        }
        area.draw(&Text::new(truncate(&entry.label, max_chars), (x + 38, y), style.clone()))?;
    }
    Ok(())
}

/// A data range with padding: at least `min_span` wide, padded by 8 % on each side, clamped to
/// `clamp`. `None` data (no finite values) gives `default`.
pub(super) fn padded_range(
    data: Option<(f64, f64)>,
    min_span: f64,
    clamp: (f64, f64),
    default: (f64, f64),
) -> (f64, f64) {
    let Some((mut lo, mut hi)) = data.filter(|(lo, hi)| lo.is_finite() && hi.is_finite() && lo <= hi) else {
        return default;
    };
    if hi - lo < min_span {
        let center = (lo + hi) / 2.0;
        lo = center - min_span / 2.0;
        hi = center + min_span / 2.0;
    }
    let pad = (hi - lo) * 0.08;
    lo = (lo - pad).max(clamp.0);
    hi = (hi + pad).min(clamp.1);
    if lo < hi { (lo, hi) } else { default }
}

/// Extends an optional (min, max) by `v` if it is finite.
pub(super) fn extend(range: &mut Option<(f64, f64)>, v: f64) {
    if !v.is_finite() {
        return;
    }
    *range = Some(match *range {
        Some((lo, hi)) => (lo.min(v), hi.max(v)),
        None => (v, v),
    });
}
