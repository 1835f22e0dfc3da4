//! The harness end to end: a few small workloads (a scheduler one and every
//! socket one), quick, on every runtime; it exits 0 and writes a JSON report
//! of the documented shape and an HTML page naming each.

use std::process::Command;

/// What the run covers: `chained_spawn` (the smallest) and the socket
/// workloads, whose runtimes each bring their own sockets.
const WORKLOADS: [&str; 4] = ["chained_spawn", "tcp_echo", "tcp_accept", "http_hello"];

#[test]
fn quick_run_of_the_workloads_writes_the_report() {
    let dir = std::env::temp_dir().join(format!("canopy-bench-smoke-{}", std::process::id()));
    let json = dir.join("custom.json");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args([
            "--quick",
            "--filter",
            &WORKLOADS.join(","),
            "--reps",
            "1",
            "--iters",
            "1",
        ])
        .arg("--out")
        .arg(&dir)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);

    let stdout = String::from_utf8_lossy(&out.stdout);
    for runtime in ["canopy", "tokio", "async-executor"] {
        assert!(
            stdout.contains(runtime),
            "{runtime} missing from the table:\n{stdout}"
        );
    }
    let report = std::fs::read_to_string(&json).expect("the JSON report was written");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["schema"], "canopy-bench/1");
    let workloads = report["workloads"].as_array().unwrap();
    let names: Vec<_> = workloads
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, WORKLOADS);
    for workload in workloads {
        let results = workload["results"].as_object().unwrap();
        assert_eq!(results.len(), 3, "{}", workload["name"]);
        for (runtime, cell) in results {
            assert_eq!(
                cell["status"], "ok",
                "{}/{runtime}: {cell}",
                workload["name"]
            );
            assert!(cell["median_ns"].as_u64().unwrap() > 0);
        }
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg"));
    for name in WORKLOADS {
        assert!(html.contains(name), "{name} missing from the HTML report");
    }
    assert!(dir.join("chart.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_runtime_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args(["--runtimes", "canopy,glommio", "--list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("glommio"));
}
