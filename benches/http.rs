//! `http_hello` from outside: canopy-bench's hyper server
//! (`bench/src/workloads/net/http.rs`: HTTP/1.1, a task per connection, each
//! request answered under the runtime's timeout) on canopy, tokio and
//! async-executor, each loaded by the same in-process generator — the
//! workload's own keep-alive hyper clients, on a one-worker tokio runtime of
//! their own: `CONNS` connections (default 50) sending requests back to
//! back, `REQUESTS` in all (default 100,000) per round, rounds cycling
//! through the servers (`ROUNDS`, default 3). It reports requests/s and the
//! p50/p99 latency of each round. (canopy-bench's `http_hello` runs the
//! clients on the runtime under test instead.)
//!
//! ```sh
//! cargo bench --bench http
//! HTTP_BENCH_CONNS=100 HTTP_BENCH_REQUESTS=200000 cargo bench --bench http
//! ```
//!
//! With `wrk` or `h2load` (Debian: `apt-get install wrk nghttp2-client`),
//! drive `examples/http.rs` from outside instead:
//! `cargo run --release --features hyper --example http -- 127.0.0.1:8080`,
//! then `wrk -t1 -c50 -d10s --latency http://127.0.0.1:8080/` or
//! `h2load -n100000 -c50 http://127.0.0.1:8080/`.

// The harness's runtimes, kits and workloads at this crate's root, where
// their `crate::` paths look for them.
use harness::{kits, runtimes, workloads};
mod harness;
use runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::time::{Duration, Instant};
use workloads::net::http::{bind, load, serve};
use workloads::net::sockets::Net;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One round: `R` serves `conns` connections while the load generator
/// sends `requests` requests; returns the requests per second.
fn round<R: Net>(conns: usize, requests: usize) -> f64 {
    let server = R::start(harness::workers());
    let (listener, addr) = bind();
    let serving = R::spawn(
        &server.spawner(),
        serve::<R>(server.spawner(), listener, conns),
    );
    let generator = Tokio::start(1);
    let started = Instant::now();
    let mut latencies =
        generator.block_on(load::<Tokio>(generator.spawner(), addr, conns, requests));
    let elapsed = started.elapsed();
    server.block_on(serving);
    report(R::NAME, elapsed, &mut latencies)
}

fn report(name: &str, elapsed: Duration, latencies: &mut [Duration]) -> f64 {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let rps = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "http_hello/{name:<15} {:>9.0} req/s   p50 {:>7.1?}   p99 {:>7.1?}   ({} requests in {elapsed:.2?})",
        rps,
        at(0.50),
        at(0.99),
        latencies.len()
    );
    rps
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench
    // skips this one.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "http_hello".contains(a.as_str())) {
        return;
    }
    let conns = env("HTTP_BENCH_CONNS", 50);
    let requests = env("HTTP_BENCH_REQUESTS", 100_000);
    let rounds = env("HTTP_BENCH_ROUNDS", 3);
    println!("http_hello: {conns} connections, {requests} requests per round, {rounds} rounds");
    let mut totals = [0.0; 3];
    for _ in 0..rounds {
        totals[0] += round::<Canopy>(conns, requests);
        totals[1] += round::<Tokio>(conns, requests);
        totals[2] += round::<AsyncExecutor>(conns, requests);
    }
    println!(
        "http_hello: throughput over tokio's: canopy {:.2}, async-executor {:.2}",
        totals[0] / totals[1],
        totals[2] / totals[1]
    );
}
