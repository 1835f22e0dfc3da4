//! `target/canopy-bench/report.html`: the machine, an SVG chart and the
//! table, in one self-contained page.
//!
//! The SVG is written by hand rather than with a plotting crate: it needs no
//! fonts at build time (the browser picks a generic `sans-serif`), so the
//! harness builds on a bare machine without fontconfig.
//!
//! The chart has one group of bars per workload, one bar per runtime, each
//! the runtime's median over the fastest median of the row (1.0 = fastest,
//! shorter is better), because the workloads' absolute times differ by
//! orders of magnitude. Bars are cut at [`CAP`] and labelled.

use super::table::times;
use super::{Outcome, Report, human, human_ns};
use std::fmt::Write;

/// Ratios above this are drawn at this length, with their value written.
const CAP: f64 = 4.0;
const COLORS: [&str; 4] = ["#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a"];
const LABEL_W: f64 = 230.0;
const PLOT_W: f64 = 520.0;
const BAR_H: f64 = 11.0;
const GAP: f64 = 9.0;

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The runtimes in the report, in first-seen order.
fn runtimes(report: &Report) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for row in &report.rows {
        for (name, _) in &row.cells {
            if !names.contains(name) {
                names.push(name);
            }
        }
    }
    names
}

/// The SVG chart of every workload's ratio to the fastest runtime.
pub fn chart(report: &Report) -> String {
    let names = runtimes(report);
    let color = |name: &str| COLORS[names.iter().position(|n| *n == name).unwrap_or(0) % 4];
    let group_h = names.len() as f64 * BAR_H + GAP;
    let height = 40.0 + report.rows.len() as f64 * group_h + 30.0;
    let width = LABEL_W + PLOT_W + 60.0;
    let x = |ratio: f64| LABEL_W + ratio.min(CAP) / CAP * PLOT_W;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    // The legend, then the 1x..4x grid.
    for (i, name) in names.iter().enumerate() {
        let lx = LABEL_W + i as f64 * 150.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16">{}</text>"#,
            color(name),
            lx + 16.0,
            esc(name)
        );
    }
    for tick in 0..=CAP as usize {
        let tx = x(tick as f64);
        let _ = writeln!(
            svg,
            r##"<line x1="{tx}" y1="30" x2="{tx}" y2="{}" stroke="#ccc"/><text x="{tx}" y="{}" text-anchor="middle">{tick}x</text>"##,
            height - 25.0,
            height - 12.0
        );
    }
    for (r, row) in report.rows.iter().enumerate() {
        let top = 36.0 + r as f64 * group_h;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL_W - 6.0,
            top + names.len() as f64 * BAR_H / 2.0 + 4.0,
            esc(row.name)
        );
        for (i, name) in names.iter().enumerate() {
            let y = top + i as f64 * BAR_H;
            let cell = row.cells.iter().find(|(n, _)| n == name).map(|(_, o)| o);
            let (Some(Outcome::Measured(_)), Some(ratio)) = (cell, row.vs_best(name)) else {
                let note = match cell {
                    Some(Outcome::Failed(_)) => "failed",
                    Some(Outcome::NotAvailable(_)) => "n/a",
                    _ => continue,
                };
                let _ = writeln!(
                    svg,
                    r##"<text x="{}" y="{}" fill="#b71c1c">{name}: {note}</text>"##,
                    LABEL_W + 4.0,
                    y + BAR_H - 2.0
                );
                continue;
            };
            let _ = writeln!(
                svg,
                r#"<rect x="{LABEL_W}" y="{y}" width="{:.1}" height="{}" fill="{}"><title>{} {}: {:.2}x the fastest</title></rect>"#,
                x(ratio) - LABEL_W,
                BAR_H - 2.0,
                color(name),
                esc(row.name),
                esc(name),
                ratio
            );
            if ratio > CAP {
                let _ = writeln!(
                    svg,
                    r#"<text x="{}" y="{}">{ratio:.1}x</text>"#,
                    x(CAP) + 4.0,
                    y + BAR_H - 2.0
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let m = &report.machine;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>canopy-bench</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}\
         td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){{text-align:left}}\
         .err{{color:#b71c1c;text-align:left}}</style></head><body>\n\
         <h1>canopy vs tokio vs async-executor</h1>\n<p>{}</p>\n\
         <h2>Median time relative to the fastest runtime (shorter is better)</h2>\n",
        esc(&m.summary())
    );
    html.push_str(&chart(report));
    html.push_str("<h2>Table</h2>\n<table>\n<tr><th>workload</th><th>runtime</th><th>median</th><th>min</th><th>max</th><th>per op</th><th>vs tokio</th><th>vs best peer</th></tr>\n");
    for row in &report.rows {
        for (runtime, outcome) in &row.cells {
            let _ = write!(
                html,
                "<tr><td title=\"{}\">{}</td><td>{}</td>",
                esc(row.about),
                esc(row.name),
                esc(runtime)
            );
            let _ = match outcome {
                Outcome::Measured(s) => writeln!(
                    html,
                    "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    human(s.median),
                    human(s.min),
                    human(s.max),
                    human_ns(s.per_op_ns(row.ops)),
                    times(row.vs_tokio(runtime)),
                    times(row.vs_best_peer(runtime))
                ),
                Outcome::Failed(e) => writeln!(
                    html,
                    "<td class=\"err\" colspan=\"6\">FAILED: {}</td></tr>",
                    esc(e)
                ),
                Outcome::NotAvailable(r) => writeln!(
                    html,
                    "<td class=\"err\" colspan=\"6\">n/a: {}</td></tr>",
                    esc(r)
                ),
            };
        }
    }
    html.push_str("</table>\n<h2>Workloads</h2>\n<dl>\n");
    for row in &report.rows {
        let _ = writeln!(
            html,
            "<dt><b>{}</b> ({})</dt><dd>{}</dd>",
            esc(row.name),
            esc(row.area),
            esc(row.about)
        );
    }
    html.push_str("</dl>\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_the_chart_and_every_workload() {
        let report = crate::report::tests::sample();
        let html = render(&report);
        assert!(html.contains("<svg"));
        for row in &report.rows {
            assert!(html.contains(row.name));
        }
        assert!(html.contains("FAILED: panicked: boom"));
        assert!(html.contains("&lt;from&gt;"), "text is escaped");
    }

    #[test]
    fn a_failed_runtime_has_no_bar() {
        let svg = chart(&crate::report::tests::sample());
        assert!(svg.contains("async-executor: failed"));
        assert!(svg.contains("canopy: 1.00x the fastest") || svg.contains("canopy: 1.00x"));
        assert!(!svg.contains("spawn_many_local async-executor:"));
    }
}
