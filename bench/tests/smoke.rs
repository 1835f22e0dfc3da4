//! The harness end to end: one small workload, quick, on every runtime; it
//! exits 0 and writes a JSON report of the documented shape.

use std::process::Command;

#[test]
fn quick_run_of_one_workload_writes_the_report() {
    let dir = std::env::temp_dir().join(format!("canopy-bench-smoke-{}", std::process::id()));
    let json = dir.join("custom.json");
    let out = Command::new(env!("CARGO_BIN_EXE_canopy-bench"))
        .args([
            "--quick",
            "--filter",
            "chained_spawn",
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
    assert_eq!(workloads.len(), 1);
    assert_eq!(workloads[0]["name"], "chained_spawn");
    for (runtime, cell) in workloads[0]["results"].as_object().unwrap() {
        assert_eq!(cell["status"], "ok", "{runtime}: {cell}");
        assert!(cell["median_ns"].as_u64().unwrap() > 0);
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("chained_spawn"));
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
