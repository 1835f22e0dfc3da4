//! The results of a run, and the three forms they are written in: the
//! table on stdout ([`table`]), JSON ([`json`]) and an HTML page with an
//! SVG chart ([`html`]).

pub mod html;
pub mod json;
pub mod table;

use crate::machine::Machine;
use crate::stats::{Summary, ratio};

/// What one runtime did on one workload.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It ran; its samples come to this.
    Measured(Summary),
    /// It failed (a panic, a timeout): the error, never a number.
    Failed(String),
    /// It lacks the feature the workload needs: the reason.
    NotAvailable(String),
}

/// One workload's results across the runtimes.
#[derive(Clone, Debug)]
pub struct Row {
    /// The workload's name.
    pub name: &'static str,
    /// Its area (scheduler, timers, ...).
    pub area: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// Operations per iteration, for the per-op cost.
    pub ops: usize,
    /// Each runtime's outcome, in the order of `--runtimes`.
    pub cells: Vec<(&'static str, Outcome)>,
}

impl Row {
    fn median_of(&self, runtime: &str) -> Option<std::time::Duration> {
        self.cells.iter().find_map(|(name, outcome)| match outcome {
            Outcome::Measured(s) if *name == runtime => Some(s.median),
            _ => None,
        })
    }

    /// `runtime`'s median over tokio's (`None` if either has no number).
    pub fn vs_tokio(&self, runtime: &str) -> Option<f64> {
        ratio(self.median_of(runtime)?, self.median_of("tokio")?)
    }

    /// `runtime`'s median over the fastest median among the *other*
    /// runtimes of the row: below 1 it beat all of them, by that factor.
    pub fn vs_best_peer(&self, runtime: &str) -> Option<f64> {
        let best_peer = self
            .cells
            .iter()
            .filter(|(name, _)| *name != runtime)
            .filter_map(|(_, o)| match o {
                Outcome::Measured(s) => Some(s.median),
                _ => None,
            })
            .min()?;
        ratio(self.median_of(runtime)?, best_peer)
    }

    /// `runtime`'s median over the fastest median in the row: 1.00 means
    /// it was the fastest. (The chart's bar length.)
    pub fn vs_best(&self, runtime: &str) -> Option<f64> {
        let best = self
            .cells
            .iter()
            .filter_map(|(_, o)| match o {
                Outcome::Measured(s) => Some(s.median),
                _ => None,
            })
            .min()?;
        ratio(self.median_of(runtime)?, best)
    }
}

/// A whole run: where it ran, and every workload's row.
#[derive(Clone, Debug)]
pub struct Report {
    /// The machine and the run's settings.
    pub machine: Machine,
    /// One row per workload, in table order.
    pub rows: Vec<Row>,
}

impl Report {
    /// How many runtime/workload pairs failed (n/a does not count).
    pub fn failures(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .count()
    }
}

/// A duration for people: `812 ns`, `4.21 µs`, `13.0 ms`, `1.52 s`.
pub fn human(d: std::time::Duration) -> String {
    human_ns(d.as_nanos() as f64)
}

/// Nanoseconds for people (as [`human`]).
pub fn human_ns(ns: f64) -> String {
    let (value, unit) = match ns {
        n if n < 1e3 => (n, "ns"),
        n if n < 1e6 => (n / 1e3, "µs"),
        n if n < 1e9 => (n / 1e6, "ms"),
        n => (n / 1e9, "s"),
    };
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

    /// A report with every kind of cell, for the writers' tests.
    pub fn sample() -> Report {
        let s = |ms| Summary::of(&[Duration::from_millis(ms)]).unwrap();
        Report {
            machine: Machine::sample(),
            rows: vec![
                Row {
                    name: "spawn_many_local",
                    area: "scheduler",
                    about: "10,000 spawns <from> a task",
                    ops: 10_000,
                    cells: vec![
                        ("canopy", Outcome::Measured(s(2))),
                        ("tokio", Outcome::Measured(s(4))),
                        ("async-executor", Outcome::Failed("panicked: boom".into())),
                    ],
                },
                Row {
                    name: "cancel_storm",
                    area: "cancellation",
                    about: "storm",
                    ops: 10,
                    cells: vec![
                        ("canopy", Outcome::Measured(s(1))),
                        (
                            "async-executor",
                            Outcome::NotAvailable("no cancel scopes".into()),
                        ),
                    ],
                },
            ],
        }
    }

    #[test]
    fn ratios_compare_medians() {
        let r = &sample().rows[0];
        assert_eq!(r.vs_tokio("canopy"), Some(0.5));
        assert_eq!(r.vs_best("tokio"), Some(2.0));
        assert_eq!(r.vs_best("canopy"), Some(1.0));
        assert_eq!(r.vs_best_peer("canopy"), Some(0.5));
        assert_eq!(r.vs_best_peer("tokio"), Some(2.0));
        assert_eq!(sample().rows[1].vs_best_peer("canopy"), None);
        assert_eq!(r.vs_tokio("async-executor"), None);
        assert_eq!(sample().rows[1].vs_tokio("canopy"), None);
    }

    #[test]
    fn failures_count_errors_not_na() {
        assert_eq!(sample().failures(), 1);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_nanos(812)), "812 ns");
        assert_eq!(human(Duration::from_nanos(4_210)), "4.21 µs");
        assert_eq!(human(Duration::from_micros(13_000)), "13.0 ms");
    }
}
