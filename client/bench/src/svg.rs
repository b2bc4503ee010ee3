//! Small SVG charts, enough for the suite's figures: line charts of series, and one row per
//! measurement showing min / p50 / p95 / p99 / max.

use std::fmt::Write;

use crate::stats::Summary;

const W: f64 = 760.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// A named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn header(out: &mut String, width: f64, height: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        width / 2.0,
        esc(title)
    );
}

/// A "nice" upper bound for an axis.
fn nice(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * p).find(|v| *v >= max).unwrap_or(10.0 * p)
}

fn label(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// A line chart; `log_x` spaces x logarithmically (for in-flight counts 1, 4, 16, 64).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], log_x: bool) -> String {
    let mut out = String::new();
    header(&mut out, W, H, title);
    let fx = |x: f64| if log_x { x.max(1e-9).log2() } else { x };
    let xs: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| fx(p.0))).collect();
    let (x0, x1) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (x0.min(0.0), x0.max(0.0) + 1.0) };
    let ymax = nice(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let px = |x: f64| LEFT + (fx(x) - x0) / (x1 - x0) * pw;
    let py = |y: f64| TOP + ph - y / ymax * ph;
    axes(&mut out, x_label, y_label, ymax, W, H);
    let mut ticks: Vec<f64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    for t in ticks.iter().take(24) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            px(*t),
            H - BOTTOM + 16.0,
            label(*t)
        );
    }
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s.points.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
        let _ =
            write!(out, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, path.join(" "));
        for (x, y) in &s.points {
            let _ = write!(out, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, px(*x), py(*y));
        }
        let ly = TOP + 14.0 + 18.0 * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="3" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            W - RIGHT + 12.0,
            ly - 4.0,
            W - RIGHT + 28.0,
            ly,
            esc(&s.name)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn axes(out: &mut String, x_label: &str, y_label: &str, ymax: f64, width: f64, height: f64) {
    let (pw, ph) = (width - LEFT - RIGHT, height - TOP - BOTTOM);
    for i in 0..=5 {
        let v = ymax * f64::from(i) / 5.0;
        let y = TOP + ph - ph * f64::from(i) / 5.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            label(v)
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        TOP + ph,
        LEFT + pw,
        TOP + ph,
        TOP + ph,
        LEFT + pw / 2.0,
        height - 12.0,
        esc(x_label),
        TOP + ph / 2.0,
        esc(y_label)
    );
}

/// One row per measurement: a whisker from min to max, a box from p50 to p95, a tick at p99.
pub fn five_figures(title: &str, unit: &str, rows: &[(String, Summary)]) -> String {
    let row_h = 26.0;
    let left = 210.0;
    let height = TOP + BOTTOM + row_h * rows.len().max(1) as f64;
    let mut out = String::new();
    header(&mut out, W, height, title);
    let xmax = nice(rows.iter().map(|(_, s)| s.max).fold(0.0, f64::max));
    let pw = W - left - 40.0;
    let px = |v: f64| left + v / xmax * pw;
    for i in 0..=5 {
        let v = xmax * f64::from(i) / 5.0;
        let _ = write!(
            out,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            px(v),
            height - BOTTOM,
            height - BOTTOM + 16.0,
            label(v)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{} (whisker min–max, box p50–p95, bar p99)</text>"#,
        left + pw / 2.0,
        height - 12.0,
        esc(unit)
    );
    for (i, (name, s)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64 + row_h / 2.0;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#555"/><rect x="{:.1}" y="{:.1}" width="{:.1}" height="12" fill="{colour}" opacity="0.8"/><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="black" stroke-width="2"/>"##,
            left - 8.0,
            y + 4.0,
            esc(name),
            px(s.min),
            px(s.max),
            px(s.p50),
            y - 6.0,
            (px(s.p95) - px(s.p50)).max(1.5),
            px(s.p99),
            px(s.p99),
            y - 8.0,
            y + 8.0
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_documents_with_their_labels() {
        let s = Series { name: "ping <floor>".into(), points: vec![(1.0, 10.0), (4.0, 30.0)] };
        let line = line_chart("t", "in flight", "tx/s", &[s], true);
        assert!(line.starts_with("<svg") && line.trim_end().ends_with("</svg>"));
        assert!(line.contains("ping &lt;floor&gt;"));
        let rows = vec![("Ping".to_owned(), Summary::of(&[1.0, 2.0, 3.0]))];
        assert!(five_figures("t", "ms", &rows).contains("Ping"));
        assert_eq!(nice(73.0), 100.0);
        assert_eq!(nice(0.0), 1.0);
    }
}
