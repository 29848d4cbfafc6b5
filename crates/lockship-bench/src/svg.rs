//! Hand-written SVG bar charts: one horizontal bar per contender, grouped by
//! project, each labelled with its median (and its min–max as a whisker).

use std::fmt::Write as _;

use crate::{format_value, Metric, Record};

const LABEL_W: f64 = 230.0;
const BAR_W: f64 = 420.0;
const VALUE_W: f64 = 110.0;
const ROW_H: f64 = 22.0;
const HEAD_H: f64 = 24.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One chart of `metric` over `rows` (any order; grouped by project here).
pub fn bar_chart(metric: Metric, rows: &[&Record]) -> String {
    let mut projects: Vec<&str> = Vec::new();
    for r in rows {
        if !projects.contains(&r.project.as_str()) {
            projects.push(&r.project);
        }
    }
    let scale = rows.iter().map(|r| r.max.max(r.median)).fold(0.0, f64::max);
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let height = 40.0 + projects.len() as f64 * HEAD_H + rows.len() as f64 * ROW_H + 10.0;
    let width = LABEL_W + BAR_W + VALUE_W + 20.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(metric.title())
    );
    let mut y = 40.0;
    for project in projects {
        let _ = writeln!(
            out,
            r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
            y + 16.0,
            escape(project)
        );
        y += HEAD_H;
        for r in rows.iter().filter(|r| r.project == project) {
            let lockship = r.contender.starts_with("lockship");
            let w = (r.median / scale * BAR_W).max(1.0);
            let color = if lockship { "#2b8a3e" } else { "#4c6ef5" };
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
                LABEL_W - 8.0,
                y + 15.0,
                escape(&r.contender)
            );
            let _ = writeln!(
                out,
                r#"<rect x="{LABEL_W}" y="{}" width="{w:.1}" height="{}" fill="{color}"><title>{} {}: median {}, min {}, max {}, {} runs</title></rect>"#,
                y + 3.0,
                ROW_H - 6.0,
                escape(&r.project),
                escape(&r.contender),
                format_value(metric, r.median),
                format_value(metric, r.min),
                format_value(metric, r.max),
                r.runs
            );
            if r.runs > 1 && r.max > r.min {
                let (x1, x2) = (
                    LABEL_W + r.min / scale * BAR_W,
                    LABEL_W + r.max / scale * BAR_W,
                );
                let _ = writeln!(
                    out,
                    r##"<line x1="{x1:.1}" x2="{x2:.1}" y1="{cy}" y2="{cy}" stroke="#212529" stroke-width="1.5"/>"##,
                    cy = y + ROW_H / 2.0
                );
            }
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{}">{}</text>"#,
                LABEL_W + w.max(r.max / scale * BAR_W) + 6.0,
                y + 15.0,
                format_value(metric, r.median)
            );
            y += ROW_H;
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(project: &str, contender: &str, median: f64) -> Record {
        Record {
            project: project.into(),
            contender: contender.into(),
            metric: "size_bytes".into(),
            unit: "bytes".into(),
            median,
            min: median * 0.9,
            max: median * 1.1,
            runs: 3,
        }
    }

    #[test]
    fn bars_are_labelled_and_scaled() {
        let a = rec("app", "basic-full", 7.6e8);
        let b = rec("app", "lockship-warm", 5.0e7);
        let c = rec("other & co", "recommended", 2.0e8);
        let svg = bar_chart(Metric::SizeBytes, &[&a, &b, &c]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(">760.0 MB</text>"), "{svg}");
        assert!(svg.contains(">50.0 MB</text>"), "{svg}");
        assert!(svg.contains("other &amp; co"));
        assert!(svg.contains("#2b8a3e"));
        assert_eq!(svg.matches("<rect x=").count(), 3);
    }

    #[test]
    fn zero_values_still_draw() {
        let a = rec("app", "x", 0.0);
        let svg = bar_chart(Metric::SizeBytes, &[&a]);
        assert!(svg.contains("width=\"1.0\""), "{svg}");
    }
}
