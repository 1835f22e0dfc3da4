//! The command line.

use clap::Parser;
use std::path::{Path, PathBuf};

/// canopy vs tokio vs async-executor, side by side, in one command.
///
/// Runs every workload (scheduler, timers, cancellation, task groups,
/// blocked workers, the blocking pool, channels and locks) on each runtime
/// with the same worker count. Runtimes are interleaved in short blocks —
/// one runtime alive at a time: build it, run a warm-up and a few timed
/// iterations, drop it; the order rotates each repetition — so drift of a
/// noisy machine hits all alike. Prints a table (median, min, max, per-op
/// cost, ratio to tokio and to the best peer) on stdout, a progress bar on
/// stderr, and writes report.json, report.html (an SVG chart and the
/// table) and the chart alone, chart.svg, to target/canopy-bench/.
///
/// A runtime that fails a workload (a panic, or a block that outlives
/// --timeout) shows the error in its cell, never a number; one that lacks a
/// feature (async-executor has no cancel scopes) shows "n/a" and why.
#[derive(Debug, Parser)]
#[command(name = "canopy-bench", version, verbatim_doc_comment)]
pub struct Options {
    /// Worker threads for every runtime.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub workers: usize,

    /// A smoke run: counts divided by 10, 3 repetitions of 2 iterations
    /// (the whole run takes under a minute).
    #[arg(long)]
    pub quick: bool,

    /// Only the workloads whose name contains one of these substrings,
    /// comma-separated (e.g. `spawn`, `chan_,tcp_`).
    #[arg(long, value_name = "SUBSTRING", value_delimiter = ',')]
    pub filter: Vec<String>,

    /// The runtimes to compare, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "canopy,tokio,async-executor"
    )]
    pub runtimes: Vec<String>,

    /// Repetitions: blocks per runtime per workload [default: 5, --quick: 3].
    #[arg(long, value_name = "N")]
    pub reps: Option<usize>,

    /// Timed iterations per block, after one warm-up [default: 3, --quick: 2].
    #[arg(long, value_name = "N")]
    pub iters: Option<usize>,

    /// Where to write the JSON report [default: OUT/report.json].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// The directory for report.html and chart.svg (and report.json unless
    /// --json says otherwise) [default: the workspace's target/canopy-bench,
    /// wherever the command is run from].
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,

    /// A block (warm-up and timed iterations of one runtime) that takes
    /// longer fails with a timeout [default: 60, --quick: 20].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// The global allocator: `system`, or `mimalloc`, which needs the
    /// binary built with the `mimalloc` feature:
    /// `cargo run --release -p canopy-bench --features mimalloc -- --allocator mimalloc`.
    #[arg(long, default_value = "system", value_parser = ["system", "mimalloc"])]
    pub allocator: String,

    /// Exits with status 1 if any runtime failed any workload (for CI: the
    /// smoke run is `--quick --reps 1 --iters 1 --strict`).
    #[arg(long)]
    pub strict: bool,

    /// Lists the workloads and what each measures, then exits.
    #[arg(long)]
    pub list: bool,
}

impl Options {
    /// Repetitions, with the mode's default.
    pub fn reps(&self) -> usize {
        self.reps.unwrap_or(if self.quick { 3 } else { 5 }).max(1)
    }

    /// Timed iterations per block, with the mode's default.
    pub fn iters(&self) -> usize {
        self.iters.unwrap_or(if self.quick { 2 } else { 3 }).max(1)
    }

    /// The output directory.
    pub fn out(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            // The workspace root is this crate's parent; `cargo run` keeps the
            // caller's working directory, which may be any folder below it.
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest
                .parent()
                .unwrap_or(manifest)
                .join("target/canopy-bench")
        })
    }

    /// Where the JSON report goes.
    pub fn json(&self) -> PathBuf {
        self.json
            .clone()
            .unwrap_or_else(|| self.out().join("report.json"))
    }

    /// The watchdog's bound per block, in seconds.
    pub fn timeout(&self) -> u64 {
        self.timeout.unwrap_or(if self.quick { 20 } else { 60 })
    }
}
