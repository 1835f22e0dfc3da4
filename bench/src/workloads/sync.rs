//! Channels and locks, each runtime with its own: `canopy::sync` on canopy,
//! `tokio::sync` on tokio, smol's `async-channel` / `async-lock` on
//! async-executor ([`Runtime::Sync`]). As in `benches/sync.rs`, whose
//! workloads these are (same counts, same code).

use super::{Size, Workload, generic, on_all};
use crate::kits::Kit;
use crate::runtimes::Runtime;
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

fn chan_mpmc<R: Runtime>(rt: &R, size: Size) -> Duration {
    let per = size.n(MESSAGES) / 4;
    let spawner = rt.spawner();
    timed(rt, async move {
        let (tx, rx) = <R::Sync as Kit>::mpmc::<usize>(CAPACITY);
        let producers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                R::spawn(&spawner, async move {
                    for i in 0..per {
                        R::Sync::send(&tx, i).await;
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
                    while R::Sync::recv_mpmc(&rx).await.is_some() {
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

fn chan_spsc<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(MESSAGES);
    let spawner = rt.spawner();
    timed(rt, async move {
        let (tx, mut rx) = <R::Sync as Kit>::spsc::<usize>(CAPACITY);
        let producer = R::spawn(&spawner, async move {
            for i in 0..n {
                R::Sync::send(&tx, i).await;
            }
        });
        let mut received = 0;
        while R::Sync::recv_spsc(&mut rx).await.is_some() {
            received += 1;
        }
        producer.await;
        assert_eq!(received, n);
    })
}

fn oneshot_ping_pong<R: Runtime>(rt: &R, size: Size) -> Duration {
    let n = size.n(PINGS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let pings: Vec<_> = (0..n)
            .map(|_| {
                let partner = spawner.clone();
                R::spawn(&spawner, async move {
                    let (tx1, rx1) = R::Sync::oneshot::<()>();
                    let (tx2, rx2) = R::Sync::oneshot::<()>();
                    R::spawn_detached(&partner, async move {
                        R::Sync::once_recv(rx1).await;
                        R::Sync::once_send(tx2, ());
                    });
                    R::Sync::once_send(tx1, ());
                    R::Sync::once_recv(rx2).await;
                })
            })
            .collect();
        for ping in pings {
            ping.await;
        }
    })
}

fn request_reply<R: Runtime>(rt: &R, size: Size) -> Duration {
    let requests = size.n(REQUESTS) as u64;
    let spawner = rt.spawner();
    timed(rt, async move {
        type Reply<R> = <<R as Runtime>::Sync as Kit>::OnceTx<u64>;
        let (tx, mut rx) = <R::Sync as Kit>::spsc::<(u64, Reply<R>)>(128);
        let server = R::spawn(&spawner, async move {
            while let Some((request, reply)) = R::Sync::recv_spsc(&mut rx).await {
                R::Sync::once_send(reply, request + 1);
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let tx = tx.clone();
                R::spawn(&spawner, async move {
                    for i in 0..requests {
                        let (reply, answer) = R::Sync::oneshot();
                        R::Sync::send(&tx, (i, reply)).await;
                        assert_eq!(R::Sync::once_recv(answer).await, i + 1);
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

fn semaphore_contended<R: Runtime>(rt: &R, size: Size) -> Duration {
    let locks = size.n(LOCKS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let sem = Arc::new(R::Sync::semaphore(2));
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let sem = sem.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..locks {
                        R::Sync::with_permit(&sem).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    })
}

fn mutex_contended<R: Runtime>(rt: &R, size: Size) -> Duration {
    let locks = size.n(LOCKS);
    let spawner = rt.spawner();
    timed(rt, async move {
        let mutex = Arc::new(R::Sync::mutex());
        let tasks: Vec<_> = (0..LOCKERS)
            .map(|_| {
                let mutex = mutex.clone();
                R::spawn(&spawner, async move {
                    for _ in 0..locks {
                        R::Sync::increment(&mutex).await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    })
}

/// The channel and lock workloads.
pub fn workloads() -> Vec<Workload> {
    let area = "sync";
    vec![
        generic(
            "chan_mpmc",
            area,
            "4 producers x 4 consumers, bounded 1,024, 100,000 messages (tokio: mpsc with the receiver behind its Mutex; it has no MPMC channel).",
            |s| s.n(MESSAGES) / 4 * 4,
            on_all!(chan_mpmc),
        ),
        generic(
            "chan_spsc",
            area,
            "One producer, one consumer, bounded 1,024, 100,000 messages.",
            |s| s.n(MESSAGES),
            on_all!(chan_spsc),
        ),
        generic(
            "oneshot_ping_pong",
            area,
            "1,000 tasks, each spawning a partner and trading two oneshot messages with it (async-channel: bounded(1)).",
            |s| s.n(PINGS),
            on_all!(oneshot_ping_pong),
        ),
        generic(
            "request_reply",
            area,
            "4 clients x 2,500 requests to one server task over a bounded(128) channel, each answered on its own oneshot.",
            |s| s.n(REQUESTS) * CLIENTS,
            on_all!(request_reply),
        ),
        generic(
            "semaphore_contended",
            area,
            "8 tasks x 2,000 acquire/release of a 2-permit semaphore.",
            |s| s.n(LOCKS) * LOCKERS,
            on_all!(semaphore_contended),
        ),
        generic(
            "mutex_contended",
            area,
            "8 tasks x 2,000 lock-and-increment of one mutex.",
            |s| s.n(LOCKS) * LOCKERS,
            on_all!(mutex_contended),
        ),
    ]
}
