//! Task groups (canopy-bench's area `groups`): `group_spawn_join` and
//! `group_fail_fast`, canopy's `task_group` next to tokio's `JoinSet` and a
//! `Vec` of async-executor tasks. The bodies are in
//! `bench/src/workloads/groups.rs`. `cargo bench --bench groups`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;

use criterion::{Criterion, criterion_group, criterion_main};

fn groups(c: &mut Criterion) {
    harness::bench_area(c, "groups");
}

criterion_group!(benches, groups);
criterion_main!(benches);
