//! Where and how a run ran: cores, allocator, date, rustc, git commit, and
//! the run's settings, so a reader can tell two reports' conditions apart.

use serde_json::{Value, json};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The machine and the run's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// Cores the process may use.
    pub cores: usize,
    /// Workers per runtime.
    pub workers: usize,
    /// `system` or `mimalloc`.
    pub allocator: &'static str,
    /// UTC date and time of the run, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `rustc --version`, or `unknown`.
    pub rustc: String,
    /// `git rev-parse --short HEAD`, or `unknown`.
    pub git_commit: String,
    /// `linux-x86_64` and the like.
    pub os: String,
    /// The load average (1, 5, 15 minutes) at the end of the run, from
    /// `/proc/loadavg`, or `unknown`: above the core count, other programs
    /// competed with the run and its numbers are noisier.
    pub load_average: String,
    /// Whether it was a `--quick` run.
    pub quick: bool,
    /// Repetitions (blocks per runtime per workload).
    pub reps: usize,
    /// Timed iterations per block.
    pub iterations: usize,
}

/// The first line a command prints, or `unknown`.
fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// The 1, 5 and 15-minute load averages, or `unknown` off Linux.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the epoch (Howard Hinnant's
/// `civil_from_days`, so no date crate is needed).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (hh, mm) = (secs % 86_400 / 3600, secs % 3600 / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
}

impl Machine {
    /// Describes this machine, for a run with these settings.
    pub fn detect(
        workers: usize,
        allocator: &'static str,
        quick: bool,
        reps: usize,
        iterations: usize,
    ) -> Machine {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            workers,
            allocator,
            date: utc(now),
            rustc: first_line("rustc", &["--version"]),
            git_commit: first_line("git", &["rev-parse", "--short", "HEAD"]),
            os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            load_average: load_average(),
            quick,
            reps,
            iterations,
        }
    }

    /// One line for the table's header and the HTML page.
    pub fn summary(&self) -> String {
        format!(
            "{} cores (load average {}), {} workers per runtime, {} allocator, {}, {}, {}, commit {}; {} run: {} repetitions x {} iterations",
            self.cores,
            self.load_average,
            self.workers,
            self.allocator,
            self.os,
            self.date,
            self.rustc,
            self.git_commit,
            if self.quick { "quick" } else { "full" },
            self.reps,
            self.iterations
        )
    }

    /// The `machine` object of the JSON report.
    pub fn to_json(&self) -> Value {
        json!({
            "cores": self.cores,
            "workers": self.workers,
            "allocator": self.allocator,
            "date": self.date,
            "rustc": self.rustc,
            "git_commit": self.git_commit,
            "os": self.os,
            "load_average": self.load_average,
            "quick": self.quick,
            "reps": self.reps,
            "iterations": self.iterations,
        })
    }

    /// A fixed machine for tests.
    #[cfg(test)]
    pub fn sample() -> Machine {
        Machine {
            cores: 2,
            workers: 2,
            allocator: "system",
            date: utc(0),
            rustc: "rustc 1.0".into(),
            git_commit: "abc1234".into(),
            os: "linux-x86_64".into(),
            load_average: "0.10 0.20 0.30".into(),
            quick: true,
            reps: 3,
            iterations: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(951_782_400 + 3_660), "2000-02-29 01:01 UTC");
    }
}
