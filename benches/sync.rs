//! Channels and locks, side by side in one run: canopy's `canopy::sync` on
//! the canopy runtime, `tokio::sync` on tokio, and smol's `async-channel` /
//! `async-lock` on tokio — plus `async-channel` / `async-lock` on canopy, to
//! tell the primitive's cost from the executor's. Same worker count for all
//! (2 by default; `CANOPY_BENCH_WORKERS=n`).
//!
//! Workloads (each iteration):
//! - `chan_mpmc`: 4 producers × 4 consumers, bounded 1,024, 100,000
//!   messages (tokio: `mpsc` with the receiver shared behind its `Mutex`,
//!   the usual idiom, as tokio has no MPMC channel);
//! - `chan_spsc`: one producer, one consumer, bounded 1,024, 100,000
//!   messages;
//! - `oneshot_ping_pong`: tokio's `ping_pong` — 1,000 tasks, each spawning a
//!   partner and trading two oneshot messages with it;
//! - `request_reply`: 4 clients × 2,500 requests to one server task over a
//!   bounded(128) channel, each answered on its own oneshot;
//! - `semaphore_contended`: 8 tasks × 2,000 acquire/release of 2 permits;
//! - `mutex_contended`: 8 tasks × 2,000 lock-and-increment.
//!
//! `cargo bench --bench sync`.

#[path = "contenders/mod.rs"]
mod contenders;
#[path = "contenders/sync_kits.rs"]
mod sync_kits;

use contenders::{Canopy, Contender, Tokio, workers};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use sync_kits::{CanopyKit, Kit, SmolKit, TokioKit};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MESSAGES: usize = 100_000;
const CAPACITY: usize = 1024;
const PINGS: usize = 1_000;
const CLIENTS: usize = 4;
const REQUESTS: usize = 2_500;
const LOCKERS: usize = 8;
const LOCKS: usize = 2_000;

fn chan_mpmc<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let (tx, rx) = K::mpmc::<usize>(CAPACITY);
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                R::spawn(&spawner, async move {
                    for i in 0..MESSAGES / 4 {
                        K::send(&tx, i).await;
                    }
                })
            })
            .collect();
        drop(tx);
        let consumers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                R::spawn(&spawner, async move {
                    let mut n = 0;
                    while K::recv_mpmc(&rx).await.is_some() {
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        drop(rx);
        for producer in producers {
            producer.await;
        }
        let mut received = 0;
        for consumer in consumers {
            received += consumer.await;
        }
        assert_eq!(received, MESSAGES);
    });
}

fn chan_spsc<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let (tx, mut rx) = K::spsc::<usize>(CAPACITY);
        let producer = R::spawn(&spawner, async move {
            for i in 0..MESSAGES {
                K::send(&tx, i).await;
            }
        });
        let mut received = 0;
        while K::recv_spsc(&mut rx).await.is_some() {
            received += 1;
        }
        producer.await;
        assert_eq!(received, MESSAGES);
    });
}

fn oneshot_ping_pong<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let pings: Vec<_> = (0..PINGS)
            .map(|_| {
                let spawner2 = spawner.clone();
                R::spawn(&spawner, async move {
                    let (tx1, rx1) = K::oneshot::<()>();
                    let (tx2, rx2) = K::oneshot::<()>();
                    R::spawn_detached(&spawner2, async move {
                        K::once_recv(rx1).await;
                        K::once_send(tx2, ());
                    });
                    K::once_send(tx1, ());
                    K::once_recv(rx2).await;
                })
            })
            .collect();
        for ping in pings {
            ping.await;
        }
    });
}

fn request_reply<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let (tx, mut rx) = K::spsc::<(u64, K::OnceTx<u64>)>(128);
        let server = R::spawn(&spawner, async move {
            while let Some((request, reply)) = K::recv_spsc(&mut rx).await {
                K::once_send(reply, request + 1);
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let tx = tx.clone();
                R::spawn(&spawner, async move {
                    for i in 0..REQUESTS as u64 {
                        let (reply, answer) = K::oneshot();
                        K::send(&tx, (i, reply)).await;
                        assert_eq!(K::once_recv(answer).await, i + 1);
                    }
                })
            })
            .collect();
        drop(tx);
        for client in clients {
            client.await;
        }
        server.await;
    });
}

fn semaphore_contended<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let sem = Arc::new(K::semaphore(2));
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let sem = sem.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..LOCKS {
                        K::with_permit(&sem).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
}

fn mutex_contended<R: Contender, K: Kit>(rt: &R) {
    let spawner = rt.spawner();
    rt.block_on(async move {
        let mutex = Arc::new(K::mutex());
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let mutex = mutex.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..LOCKS {
                        K::increment(&mutex).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
}

/// A named workload for one runtime.
type Workload<R> = (&'static str, fn(&R));

/// Runs every workload for one runtime + kit pair.
fn bench_pair<R: Contender, K: Kit>(c: &mut Criterion) {
    let rt = R::start(workers());
    let name = if R::NAME == K::NAME {
        R::NAME.to_string()
    } else {
        format!("{}+{}", R::NAME, K::NAME)
    };
    let workloads: [Workload<R>; 6] = [
        ("chan_mpmc", chan_mpmc::<R, K>),
        ("chan_spsc", chan_spsc::<R, K>),
        ("oneshot_ping_pong", oneshot_ping_pong::<R, K>),
        ("request_reply", request_reply::<R, K>),
        ("semaphore_contended", semaphore_contended::<R, K>),
        ("mutex_contended", mutex_contended::<R, K>),
    ];
    for (group, workload) in workloads {
        c.benchmark_group(group)
            .sample_size(20)
            .measurement_time(Duration::from_secs(3))
            .bench_function(&name, |b| b.iter(|| workload(&rt)));
    }
}

fn sync(c: &mut Criterion) {
    bench_pair::<Canopy, CanopyKit>(c);
    bench_pair::<Tokio, TokioKit>(c);
    bench_pair::<Tokio, SmolKit>(c);
    bench_pair::<Canopy, SmolKit>(c);
}

criterion_group!(benches, sync);
criterion_main!(benches);
