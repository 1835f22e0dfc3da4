//! Finds (and if need be builds) an example binary for the suites that run
//! one as a child process. Include it with
//! `#[path = "common/examples.rs"] mod examples;`.
//!
//! The path is derived from this test binary's own, never assumed: cargo puts
//! test binaries in `<profile dir>/deps/` and examples in
//! `<profile dir>/examples/`, where the profile dir is
//! `<target dir>/<profile>` or, in a `--target <triple>` build,
//! `<target dir>/<triple>/<profile>`, whatever the target dir is
//! (`CARGO_TARGET_DIR`, `--target-dir`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The example `name`, built with `features` by the same profile, target and
/// target dir as this test binary. `cargo test` builds examples; `cargo test
/// --test <suite>` does not, so a missing one is built here (once: other
/// tests of the binary wait for that build).
pub fn example_binary(name: &str, features: &[&str]) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = profile_dir(&test_binary);
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let _one_build = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if !path.exists() {
        let status = build_command(&profile_dir, name, features)
            .status()
            .expect("running cargo");
        assert!(status.success(), "building the example {name} failed");
    }
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `<profile dir>` of a binary in `<profile dir>/deps/` (or directly in it).
fn profile_dir(binary: &Path) -> PathBuf {
    let mut dir = binary
        .parent()
        .expect("a binary has a directory")
        .to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// `cargo build --example name` into the layout `profile_dir` belongs to.
fn build_command(profile_dir: &Path, name: &str, features: &[&str]) -> Command {
    let profile = profile_dir
        .file_name()
        .and_then(|p| p.to_str())
        .expect("a profile directory name");
    let parent = profile_dir.parent().expect("a target directory");
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--example", name])
        // Cargo names the dev profile's directory `debug`.
        .args([
            "--profile",
            if profile == "debug" { "dev" } else { profile },
        ]);
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    match parent.file_name().and_then(|p| p.to_str()) {
        Some(triple) if is_this_machines_triple(triple) => {
            let target_dir = parent.parent().expect("a target directory");
            build
                .args(["--target", triple])
                .arg("--target-dir")
                .arg(target_dir);
        }
        _ => {
            build.arg("--target-dir").arg(parent);
        }
    };
    build
}

/// Whether a directory name is a target triple this test can run on (so
/// the directory is a `--target` build's): `x86_64-unknown-linux-gnu`
/// starts with the architecture and names the OS.
fn is_this_machines_triple(name: &str) -> bool {
    name.starts_with(std::env::consts::ARCH) && name.contains(std::env::consts::OS)
}
