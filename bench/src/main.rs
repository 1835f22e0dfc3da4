//! `canopy-bench`: canopy, tokio and async-executor side by side, in one
//! command — `cargo run --release -p canopy-bench` (`--help` for options).
//!
//! Every workload is written once, generic over [`runtimes::Runtime`], so the
//! three runtimes run the same code; the runner ([`runner`]) interleaves
//! them in short blocks under a watchdog; the results go to a table on
//! stdout, a JSON report and an HTML page with an SVG chart ([`report`]).
//! The criterion benches in `benches/` measure the same workloads (same
//! names, same counts) for finer, one-at-a-time study.

#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

// The runtimes, their channel and lock kits and the workloads are also
// compiled into the criterion benches in `benches/` (by `#[path]`), so both
// run the same code by construction.
mod kits;
mod machine;
mod options;
mod report;
mod runner;
mod runtimes;
mod stats;
mod workloads;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use options::Options;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this binary was built with.
const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

/// Writes `text` to `path`, creating its directory.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

fn main() -> ExitCode {
    let options = Options::parse();
    if options.allocator != ALLOCATOR {
        eprintln!(
            "canopy-bench was built with the {ALLOCATOR} allocator; for {} build it with{} the \
             `mimalloc` feature: cargo run --release -p canopy-bench{} -- --allocator {}",
            options.allocator,
            if ALLOCATOR == "system" { "" } else { "out" },
            if ALLOCATOR == "system" {
                " --features mimalloc"
            } else {
                ""
            },
            options.allocator
        );
        return ExitCode::FAILURE;
    }
    let mut runtimes = Vec::new();
    for name in &options.runtimes {
        match workloads::RUNTIMES.iter().find(|r| **r == name.trim()) {
            Some(r) => runtimes.push(*r),
            None => {
                eprintln!(
                    "unknown runtime {name:?}; the runtimes are {}",
                    workloads::RUNTIMES.join(",")
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let selected: Vec<_> = workloads::all()
        .into_iter()
        .filter(|w| options.filter.is_empty() || options.filter.iter().any(|f| w.name.contains(f)))
        .collect();
    if options.list {
        for w in &selected {
            println!("{:<28} {:<13} {}", w.name, w.area, w.about);
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() || runtimes.is_empty() || options.workers == 0 {
        eprintln!(
            "nothing to run: no workload matches the filter, no runtime, or 0 workers (see --list)"
        );
        return ExitCode::FAILURE;
    }
    let plan = runner::Plan {
        workers: options.workers,
        reps: options.reps(),
        iters: options.iters(),
        size: if options.quick {
            workloads::Size::QUICK
        } else {
            workloads::Size::FULL
        },
        timeout: Duration::from_secs(options.timeout()),
        runtimes,
    };
    let machine = machine::Machine::detect(
        plan.workers,
        ALLOCATOR,
        options.quick,
        plan.reps,
        plan.iters,
    );
    eprintln!("{}", machine.summary());

    let blocks = selected.len() * plan.runtimes.len() * plan.reps;
    let bar = ProgressBar::new(blocks as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} blocks  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let rows = runner::run(&selected, &plan, &bar);
    bar.finish_and_clear();

    let mut machine = machine;
    machine.load_average = machine::load_average();
    let report = report::Report { machine, rows };
    println!("{}\n", report.machine.summary());
    print!("{}", report::table::render(&report));
    let failed = report.failures();
    let mut status = if options.strict && failed > 0 {
        eprintln!("--strict: {failed} runtime/workload pairs failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    let out = options.out();
    for (path, text) in [
        (options.json(), report::json::render(&report)),
        (out.join("report.html"), report::html::render(&report)),
        (out.join("chart.svg"), report::html::chart(&report)),
    ] {
        match write(&path, &text) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(error) => {
                eprintln!("could not write {}: {error}", path.display());
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
