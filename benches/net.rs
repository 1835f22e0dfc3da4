//! Sockets (canopy-bench's area `net`): `tcp_echo` (50 connections x 2,000
//! round trips of 64 B over loopback; goal: canopy ≤ 0.83× tokio's time),
//! `tcp_accept` (200 connections accepted and closed per iteration) and
//! `http_hello` (hyper server and keep-alive clients on one runtime), on
//! canopy, tokio and async-io (on async-executor), each with its own
//! sockets. The bodies are in `bench/src/workloads/net/`; `benches/http.rs`
//! drives the same hyper server from an outside load generator.
//! `cargo bench --bench net`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;

use criterion::{Criterion, criterion_group, criterion_main};

fn net(c: &mut Criterion) {
    harness::bench_area(c, "net");
}

criterion_group! {
    name = benches;
    config = harness::config(10, 5);
    targets = net
}
criterion_main!(benches);
