//! The table printed on stdout: one line per workload and runtime, with the
//! median, min, max, per-op cost and the ratios: to tokio's median, and to
//! the best peer's (the fastest of the other runtimes; below 1.00x the
//! runtime beat every other one). A failed or unavailable
//! runtime's line shows its error or reason in place of the numbers.

use super::{Outcome, Report, human, human_ns};
use std::fmt::Write;

/// Renders `report` as a plain-text table (also Markdown-friendly when
/// pasted in a code block).
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<28} {:<15} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
        "workload", "runtime", "median", "min", "max", "per op", "vs tokio", "vs peer"
    );
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{}", "-".repeat(header.chars().count()));
    for row in &report.rows {
        for (i, (runtime, outcome)) in row.cells.iter().enumerate() {
            let name = if i == 0 { row.name } else { "" };
            let _ = match outcome {
                Outcome::Measured(s) => writeln!(
                    out,
                    "{:<28} {:<15} {:>10} {:>10} {:>10} {:>10} {:>8} {:>8}",
                    name,
                    runtime,
                    human(s.median),
                    human(s.min),
                    human(s.max),
                    human_ns(s.per_op_ns(row.ops)),
                    times(row.vs_tokio(runtime)),
                    times(row.vs_best_peer(runtime)),
                ),
                Outcome::Failed(error) => {
                    writeln!(out, "{name:<28} {runtime:<15} FAILED: {}", one_line(error))
                }
                Outcome::NotAvailable(reason) => {
                    writeln!(out, "{name:<28} {runtime:<15} n/a: {reason}")
                }
            };
        }
    }
    out
}

/// `1.23x`, or `-` when there is nothing to compare with.
pub fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

/// An error on one line, so it stays in its row.
fn one_line(error: &str) -> String {
    error.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_ratios() {
        let table = render(&crate::report::tests::sample());
        let canopy = table.lines().find(|l| l.contains("canopy")).unwrap();
        assert!(canopy.starts_with("spawn_many_local"));
        assert!(canopy.contains("2.00 ms"), "{canopy}");
        assert!(canopy.contains("200 ns"), "{canopy}"); // 2 ms / 10,000
        assert!(canopy.contains("0.50x"), "{canopy}");
    }

    #[test]
    fn a_failed_cell_shows_its_error_not_a_number() {
        let table = render(&crate::report::tests::sample());
        let failed = table.lines().find(|l| l.contains("FAILED")).unwrap();
        assert!(failed.contains("async-executor"));
        assert!(failed.contains("panicked: boom"));
        assert!(!failed.contains(" ms"));
        assert!(table.contains("n/a: no cancel scopes"));
    }
}
