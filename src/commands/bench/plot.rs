//! A small log–log line plot as SVG text (the look of the study reports' figures: sans-serif text,
//! the Tableau 10 palette, light grid), for the scaling figure.

use std::fmt::Write;

/// Tableau 10 colours, as in the study reports' figures.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf",
];

/// Marker of a series' points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled circle.
    Circle,
    /// A filled square.
    Square,
}

/// One line of the plot: points in data units (both positive), joined in the order given.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke and fill colour (CSS).
    pub color: String,
    /// Dashed line (reference lines).
    pub dashed: bool,
    /// Point marker (`None`: a line only).
    pub marker: Option<Marker>,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
}

/// Titles of a plot.
#[derive(Debug, Clone)]
pub struct Labels {
    /// Title above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x: String,
    /// Label of the vertical axis.
    pub y: String,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 240.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

/// Decades spanned by `values` (whole powers of ten enclosing them).
fn decades(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let (lo, hi) = (lo.log10().floor(), hi.log10().ceil());
    (lo, if hi > lo { hi } else { lo + 1.0 })
}

/// Text of a power of ten for a tick label: 100, 1 k, 1 M, 0.1.
fn tick_text(exponent: i32) -> String {
    match exponent {
        e if e >= 6 => format!("{} M", 10f64.powi(e - 6)),
        e if e >= 3 => format!("{} k", 10f64.powi(e - 3)),
        e => format!("{}", 10f64.powi(e)),
    }
}

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Renders the series on log–log axes as an SVG document.
pub fn log_log_svg(labels: &Labels, series: &[Series]) -> String {
    let points = || series.iter().flat_map(|s| s.points.iter().copied()).filter(|&(x, y)| x > 0.0 && y > 0.0);
    let (x0, x1) = decades(points().map(|p| p.0));
    let (y0, y1) = decades(points().map(|p| p.1));
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + (x.log10() - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y.log10() - y0) / (y1 - y0) * ph;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="28" font-size="16" text-anchor="middle" fill="#282828">{}</text>"##,
        LEFT + pw / 2.0,
        escape(&labels.title)
    );
    // Grid: every decade solid, 2× and 5× lighter.
    for (lo, hi, vertical) in [(x0, x1, true), (y0, y1, false)] {
        for e in lo as i32..=hi as i32 {
            for (mult, major) in [(1.0, true), (2.0, false), (5.0, false)] {
                let v = mult * 10f64.powi(e);
                if v.log10() > hi + 1e-9 {
                    continue;
                }
                let color = if major { "#d0d0d0" } else { "#ececec" };
                let (xa, ya, xb, yb) =
                    if vertical { (sx(v), TOP, sx(v), TOP + ph) } else { (LEFT, sy(v), LEFT + pw, sy(v)) };
                let _ = writeln!(
                    svg,
                    r#"<line x1="{xa:.1}" y1="{ya:.1}" x2="{xb:.1}" y2="{yb:.1}" stroke="{color}" stroke-width="1"/>"#
                );
                if major {
                    let (tx, ty, anchor) = if vertical {
                        (sx(v), TOP + ph + 18.0, "middle")
                    } else {
                        (LEFT - 8.0, sy(v) + 4.0, "end")
                    };
                    let _ = writeln!(
                        svg,
                        r##"<text x="{tx:.1}" y="{ty:.1}" font-size="12" text-anchor="{anchor}" fill="#282828">{}</text>"##,
                        tick_text(e)
                    );
                }
            }
        }
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#282828" stroke-width="1"/>"##
    );
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle" fill="#282828">{}</text>"##,
        LEFT + pw / 2.0,
        HEIGHT - 16.0,
        escape(&labels.x)
    );
    let _ = writeln!(
        svg,
        r##"<text transform="translate(22,{:.1}) rotate(-90)" font-size="13" text-anchor="middle" fill="#282828">{}</text>"##,
        TOP + ph / 2.0,
        escape(&labels.y)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|&(x, y)| x > 0.0 && y > 0.0).collect();
        let dash = if s.dashed { r#" stroke-dasharray="6,4""# } else { "" };
        if pts.len() > 1 {
            let path: Vec<String> = pts.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                path.join(" "),
                s.color
            );
        }
        for &(x, y) in &pts {
            svg += &marker(s.marker, sx(x), sy(y), &s.color);
        }
        // Legend entry.
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = WIDTH - RIGHT + 20.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{dash}/>"#,
            lx + 28.0,
            s.color
        );
        svg += &marker(s.marker, lx + 14.0, ly, &s.color);
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#282828">{}</text>"##,
            lx + 36.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// SVG line of a marker at (x, y) in pixels (empty without a marker).
fn marker(kind: Option<Marker>, x: f64, y: f64, color: &str) -> String {
    match kind {
        Some(Marker::Circle) => format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>\n"),
        Some(Marker::Square) => {
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"{color}\"/>\n",
                x - 4.0,
                y - 4.0
            )
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lines_markers_and_legend() {
        let s = Series {
            name: "a & b".into(),
            color: PALETTE[0].into(),
            dashed: false,
            marker: Some(Marker::Circle),
            points: vec![(1e5, 10.0), (1e7, 1000.0)],
        };
        let svg = log_log_svg(&Labels { title: "t".into(), x: "x".into(), y: "y".into() }, &[s]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("<polyline") && svg.contains("<circle") && svg.contains("a &amp; b"));
        assert!(svg.contains(">100 k<") && svg.contains(">10 M<"));
    }
}
