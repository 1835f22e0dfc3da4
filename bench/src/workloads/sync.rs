//! Channels and locks, each runtime with its own: `canopy::sync` on canopy,
//! `tokio::sync` on tokio, smol's `async-channel` / `async-lock` on
//! async-executor. `benches/sync.rs` runs the same bodies, and pairs tokio
//! and canopy with smol's kit too, to tell a primitive's cost from its
//! executor's.

use super::{Body, Entry, Ops, Size, Workload};
use crate::kits::{CanopyKit, Kit, SmolKit, TokioKit};
use crate::runtimes::{AsyncExecutor, Canopy, Runtime, Tokio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MESSAGES: usize = 100_000;
const CAPACITY: usize = 1024;
const PINGS: usize = 1_000;
const CLIENTS: usize = 4;
const REQUESTS: usize = 2_500;
const LOCKERS: usize = 8;
const LOCKS: usize = 2_000;

/// Times `body` run to completion in a task.
fn timed<R: Runtime, F>(rt: &R, body: F) -> Duration
where
    F: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    rt.block_on(R::spawn(&rt.spawner(), body));
    start.elapsed()
}

fn chan_mpmc<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let per = size.n(MESSAGES) / 4;
    let spawner = rt.spawner();
    timed(rt, async move {
        let (tx, rx) = K::mpmc::<usize>(CAPACITY);
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                R::spawn(&spawner, async move {
                    for i in 0..per {
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
        assert_eq!(received, per * 4);
    })
}

fn chan_spsc<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let n = size.n(MESSAGES);
    let spawner = rt.spawner();
    timed(rt, async move {
        let (tx, mut rx) = K::spsc::<usize>(CAPACITY);
        let producer = R::spawn(&spawner, async move {
            for i in 0..n {
                K::send(&tx, i).await;
            }
        });
        let mut received = 0;
        while K::recv_spsc(&mut rx).await.is_some() {
            received += 1;
        }
        producer.await;
        assert_eq!(received, n);
    })
}

fn oneshot_ping_pong<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let n = size.n(PINGS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let pings: Vec<_> = (0..n)
            .map(|_| {
                let partner = spawner.clone();
                R::spawn(&spawner, async move {
                    let (tx1, rx1) = K::oneshot::<()>();
                    let (tx2, rx2) = K::oneshot::<()>();
                    R::spawn_detached(&partner, async move {
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
    })
}

fn request_reply<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let requests = size.n(REQUESTS) as u64;
    let spawner = rt.spawner();
    timed(rt, async move {
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
                    for i in 0..requests {
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
    })
}

fn semaphore_contended<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let locks = size.n(LOCKS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let sem = Arc::new(K::semaphore(2));
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let sem = sem.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..locks {
                        K::with_permit(&sem).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    })
}

fn mutex_contended<R: Runtime, K: Kit>(rt: &R, size: Size) -> Duration {
    let locks = size.n(LOCKS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let mutex = Arc::new(K::mutex());
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let mutex = mutex.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..locks {
                        K::increment(&mutex).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    })
}

/// Every workload's body on runtime `R` with the kit `K`, in the order of
/// [`ABOUT`]: the harness pairs each runtime with its own kit, the
/// criterion bench also tokio and canopy with smol's.
pub fn with_kit<R: Runtime, K: Kit>() -> [(&'static str, Body<R>); 6] {
    [
        ("chan_mpmc", chan_mpmc::<R, K>),
        ("chan_spsc", chan_spsc::<R, K>),
        ("oneshot_ping_pong", oneshot_ping_pong::<R, K>),
        ("request_reply", request_reply::<R, K>),
        ("semaphore_contended", semaphore_contended::<R, K>),
        ("mutex_contended", mutex_contended::<R, K>),
    ]
}

/// What each workload of [`with_kit`] does, and its operation count.
const ABOUT: [(&str, Ops); 6] = [
    (
        "4 producers x 4 consumers, bounded 1,024, 100,000 messages (tokio: mpsc with the receiver behind its Mutex; it has no MPMC channel).",
        |s| s.n(MESSAGES) / 4 * 4,
    ),
    (
        "One producer, one consumer, bounded 1,024, 100,000 messages.",
        |s| s.n(MESSAGES),
    ),
    (
        "1,000 tasks, each spawning a partner and trading two oneshot messages with it (async-channel: bounded(1)).",
        |s| s.n(PINGS),
    ),
    (
        "4 clients x 2,500 requests to one server task over a bounded(128) channel, each answered on its own oneshot.",
        |s| s.n(REQUESTS) * CLIENTS,
    ),
    (
        "8 tasks x 2,000 acquire/release of a 2-permit semaphore.",
        |s| s.n(LOCKS) * LOCKERS,
    ),
    ("8 tasks x 2,000 lock-and-increment of one mutex.", |s| {
        s.n(LOCKS) * LOCKERS
    }),
];

/// The channel and lock workloads, each runtime with its own kit.
pub fn workloads() -> Vec<Workload> {
    let canopy = with_kit::<Canopy, CanopyKit>();
    let tokio = with_kit::<Tokio, TokioKit>();
    let smol = with_kit::<AsyncExecutor, SmolKit>();
    ABOUT
        .iter()
        .enumerate()
        .map(|(i, &(about, ops))| Workload {
            name: canopy[i].0,
            area: "sync",
            about,
            ops,
            canopy: Entry::Run(canopy[i].1),
            tokio: Entry::Run(tokio[i].1),
            async_executor: Entry::Run(smol[i].1),
        })
        .collect()
}
