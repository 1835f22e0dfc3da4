//! The JSON report (`--json PATH`, by default
//! `target/canopy-bench/report.json`), for tools and for comparing runs.
//!
//! # Schema (`"schema": "canopy-bench/1"`)
//!
//! ```text
//! {
//!   "schema": "canopy-bench/1",
//!   "machine": { "cores", "workers", "allocator", "date", "rustc",
//!                "git_commit", "os", "load_average", "quick", "reps",
//!                "iterations" },
//!   "workloads": [ {
//!     "name", "area", "about", "ops_per_iteration",
//!     "results": { "<runtime>":
//!         { "status": "ok", "median_ns", "min_ns", "max_ns", "samples",
//!           "per_op_ns", "vs_tokio", "vs_best_peer", "vs_best" }
//!       | { "status": "failed", "error": "..." }
//!       | { "status": "n/a", "reason": "..." } }
//!   } ]
//! }
//! ```
//!
//! `vs_tokio` is the median over tokio's; `vs_best_peer` over the fastest
//! other runtime's (below 1: it beat all of them); `vs_best` over the
//! fastest in the row, itself included (1: it was the fastest). Each is
//! `null` when there is nothing to compare with.
//!
//! A failed runtime has an error and no number, so a tool cannot mistake a
//! crash for a fast run.

use super::{Outcome, Report};
use serde_json::{Map, Value, json};

/// The schema name and version written in every report.
pub const SCHEMA: &str = "canopy-bench/1";

/// `report` as a JSON value of the schema above.
pub fn to_value(report: &Report) -> Value {
    let workloads: Vec<Value> = report
        .rows
        .iter()
        .map(|row| {
            let mut results = Map::new();
            for (runtime, outcome) in &row.cells {
                let cell = match outcome {
                    Outcome::Measured(s) => json!({
                        "status": "ok",
                        "median_ns": s.median.as_nanos() as u64,
                        "min_ns": s.min.as_nanos() as u64,
                        "max_ns": s.max.as_nanos() as u64,
                        "samples": s.samples,
                        "per_op_ns": s.per_op_ns(row.ops),
                        "vs_tokio": row.vs_tokio(runtime),
                        "vs_best_peer": row.vs_best_peer(runtime),
                        "vs_best": row.vs_best(runtime),
                    }),
                    Outcome::Failed(error) => json!({ "status": "failed", "error": error }),
                    Outcome::NotAvailable(reason) => json!({ "status": "n/a", "reason": reason }),
                };
                results.insert(runtime.to_string(), cell);
            }
            json!({
                "name": row.name,
                "area": row.area,
                "about": row.about,
                "ops_per_iteration": row.ops,
                "results": results,
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "machine": report.machine.to_json(),
        "workloads": workloads,
    })
}

/// `report` as pretty-printed JSON text.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(&to_value(report)).expect("a JSON value always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let v: Value = serde_json::from_str(&render(&crate::report::tests::sample())).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert!(v["machine"]["cores"].is_u64());
        assert!(v["machine"]["date"].is_string());
        let row = &v["workloads"][0];
        assert_eq!(row["name"], "spawn_many_local");
        assert_eq!(row["ops_per_iteration"], 10_000);
        let canopy = &row["results"]["canopy"];
        assert_eq!(canopy["status"], "ok");
        assert_eq!(canopy["median_ns"], 2_000_000);
        assert_eq!(canopy["per_op_ns"], 200.0);
        assert_eq!(canopy["vs_tokio"], 0.5);
        assert_eq!(canopy["vs_best"], 1.0);
        assert_eq!(canopy["vs_best_peer"], 0.5);
    }

    #[test]
    fn a_failed_cell_has_an_error_and_no_number() {
        let v = to_value(&crate::report::tests::sample());
        let failed = &v["workloads"][0]["results"]["async-executor"];
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"], "panicked: boom");
        assert!(failed.get("median_ns").is_none());
        let na = &v["workloads"][1]["results"]["async-executor"];
        assert_eq!(na["status"], "n/a");
        assert_eq!(
            v["workloads"][1]["results"]["canopy"]["vs_tokio"],
            Value::Null
        );
    }
}
