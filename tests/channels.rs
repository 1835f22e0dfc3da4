//! `canopy::sync::channel` and `canopy::sync::oneshot`, by behaviour: FIFO
//! delivery, closing from either side, rendezvous at capacity 0, and the
//! cancellation rules of DESIGN §2.13 — an operation in a cancelled scope
//! does nothing, one cancelled while waiting did nothing (a send hands its
//! value back), one already handed its outcome completes, and a dropped
//! waiter passes on what it was handed. Ends with the MPMC stress test:
//! every message received exactly once while senders and receivers are
//! cancelled mid-wait from tasks and from OS threads.
//!
//! Several tests are ports, in our own words, of Trio's `test_channel.py`
//! and tokio's `tests/sync_mpsc.rs`.

mod common;

use canopy::sync::channel::{self, Receiver, SendError, Sender, TryRecvError, TrySendError};
use canopy::sync::{broadcast, oneshot, watch};
use canopy::{CancelScope, Cancelled, checkpoint, task::yield_now};
use common::{Gate, paused, real_clock};
use futures::StreamExt;
use futures::future::{Either, select};
use futures::stream::FuturesUnordered;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_and_futures_are_send_and_sync() {
    assert_send_sync::<Sender<String>>();
    assert_send_sync::<Receiver<String>>();
    assert_send_sync::<channel::Send<'static, String>>();
    assert_send_sync::<channel::Recv<'static, String>>();
    assert_send_sync::<oneshot::Sender<String>>();
    assert_send_sync::<oneshot::Receiver<String>>();
    assert_send_sync::<SendError<String>>();
}

#[test]
fn values_come_out_in_the_order_they_went_in() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(4);
        for i in 0..4 {
            tx.send(i).await.unwrap();
        }
        assert!(tx.try_send(99).unwrap_err().is_full());
        for i in 0..4 {
            assert_eq!(rx.recv().await.unwrap(), Some(i));
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

// Trio: test_channel_multiple_producers / close semantics. Dropping every
// sender lets the receivers drain what is buffered, then reports the end.
#[test]
fn recv_drains_the_buffer_after_every_sender_is_gone_then_ends() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(8);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed(), "one sender is left");
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv().await.unwrap(), Some(1));
        assert_eq!(rx.recv().await.unwrap(), Some(2));
        assert_eq!(rx.recv().await.unwrap(), None);
        assert_eq!(rx.recv().await.unwrap(), None, "the end is reported again");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

// Trio: send on a channel whose receivers are closed raises BrokenResourceError.
#[test]
fn send_after_every_receiver_is_gone_hands_the_value_back() {
    paused().block_on(async {
        let (tx, rx) = channel::channel::<String>(8);
        drop(rx);
        let err = tx.send("lost?".to_string()).await.unwrap_err();
        assert!(err.is_closed());
        assert_eq!(err.into_inner(), "lost?");
        let err = tx.try_send("again".to_string()).unwrap_err();
        assert!(err.is_closed());
        assert_eq!(err.into_inner(), "again");
    });
}

#[test]
fn dropping_the_last_receiver_drops_the_buffered_values() {
    let value = Arc::new(());
    let (tx, rx) = channel::channel(4);
    tx.try_send(value.clone()).unwrap();
    assert_eq!(Arc::strong_count(&value), 2);
    drop(rx);
    assert_eq!(Arc::strong_count(&value), 1);
}

#[test]
fn close_from_either_side_closes_the_channel_for_everyone() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(4);
        tx.send(1).await.unwrap();
        assert!(tx.close());
        assert!(!rx.close(), "already closed");
        assert!(tx.send(2).await.unwrap_err().is_closed());
        assert_eq!(rx.recv().await.unwrap(), Some(1), "buffered values remain");
        assert_eq!(rx.recv().await.unwrap(), None);

        let (tx, rx) = channel::channel::<u8>(4);
        rx.close();
        assert!(matches!(tx.try_send(1), Err(TrySendError::Closed(1))));
    });
}

#[test]
fn senders_waiting_when_the_channel_closes_get_their_values_back() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        tx.send(0).await.unwrap();
        let mut send = pin!(tx.send(1));
        assert!(futures::poll!(send.as_mut()).is_pending());
        rx.close();
        let err = send.await.unwrap_err();
        assert!(err.is_closed());
        assert_eq!(err.into_inner(), 1);
        assert_eq!(rx.recv().await.unwrap(), Some(0));
        assert_eq!(rx.recv().await.unwrap(), None);
    });
}

#[test]
fn receivers_waiting_when_the_channel_closes_see_the_end() {
    paused().block_on(async {
        let (tx, rx) = channel::channel::<u8>(1);
        let mut recv = pin!(rx.recv());
        assert!(futures::poll!(recv.as_mut()).is_pending());
        drop(tx);
        assert_eq!(recv.await.unwrap(), None);
    });
}

// Trio: capacity 0 is allowed; a send completes only when a receiver takes
// the value.
#[test]
fn capacity_zero_is_a_rendezvous() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(0);
        assert!(tx.try_send(1).unwrap_err().is_full(), "no receiver waits");
        let mut send = pin!(tx.send(1));
        assert!(futures::poll!(send.as_mut()).is_pending());
        assert_eq!(rx.len(), 0, "nothing is buffered");
        assert_eq!(rx.try_recv(), Ok(1), "taken from the sender's hands");
        assert_eq!(send.await, Ok(()));

        let mut recv = pin!(rx.recv());
        assert!(futures::poll!(recv.as_mut()).is_pending());
        tx.try_send(2).unwrap();
        assert_eq!(recv.await.unwrap(), Some(2));
    });
}

#[test]
fn rendezvous_between_tasks_delivers_everything() {
    real_clock().block_on(async {
        let (tx, rx) = channel::channel(0);
        let producer = canopy::spawn(async move {
            for i in 0..1000u32 {
                tx.send(i).await.unwrap();
            }
        });
        let mut expected = 0;
        while let Some(i) = rx.recv().await.unwrap() {
            assert_eq!(i, expected);
            expected += 1;
        }
        assert_eq!(expected, 1000);
        producer.await.unwrap();
    });
}

#[test]
fn unbounded_sends_never_wait() {
    paused().block_on(async {
        let (tx, rx) = channel::unbounded();
        assert_eq!(tx.capacity(), None);
        for i in 0..10_000 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(rx.len(), 10_000);
        drop(tx);
        let received: Vec<_> = rx.map(Result::unwrap).collect().await;
        assert_eq!(received, (0..10_000).collect::<Vec<_>>());
    });
}

#[test]
fn the_receiver_is_a_stream_that_ends_when_the_channel_is_closed_and_drained() {
    paused().block_on(async {
        let (tx, mut rx) = channel::channel(3);
        for i in 0..3 {
            tx.send(i).await.unwrap();
        }
        drop(tx);
        assert_eq!(rx.next().await, Some(Ok(0)));
        let rest: Vec<_> = rx.map(Result::unwrap).collect().await;
        assert_eq!(rest, [1, 2]);
    });
}

// The rules of DESIGN §2.13.

#[test]
fn recv_in_a_cancelled_scope_takes_nothing_even_when_a_value_is_ready() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        tx.send(7).await.unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope
            .run(async {
                let err = rx.recv().await.unwrap_err();
                assert_eq!(err.scope(), scope.id());
                Err::<(), _>(err)
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(rx.try_recv(), Ok(7), "the value is still there");
    });
}

#[test]
fn send_in_a_cancelled_scope_sends_nothing_even_when_there_is_room() {
    paused().block_on(async {
        let (tx, rx) = channel::channel::<String>(1);
        let scope = CancelScope::new();
        scope.cancel();
        scope
            .run(async {
                match tx.send("v".to_string()).await {
                    Err(SendError::Cancelled(value, _)) => assert_eq!(value, "v"),
                    other => panic!("expected a cancelled send, got {other:?}"),
                }
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn a_send_cancelled_while_waiting_delivered_nothing_and_gives_the_value_back() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        tx.send(1).await.unwrap();
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                let mut send = pin!(tx.send(2));
                assert!(futures::poll!(send.as_mut()).is_pending());
                scope.cancel();
                let err = send.await.unwrap_err();
                assert_eq!(err.cancelled().map(Cancelled::scope), Some(scope.id()));
                assert_eq!(err.into_inner(), 2);
                checkpoint().await
            })
            .await;
        assert_eq!(out, Ok(None));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "2 was not delivered"
        );
    });
}

#[test]
fn a_recv_cancelled_while_waiting_took_nothing() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut recv = pin!(rx.recv());
                assert!(futures::poll!(recv.as_mut()).is_pending());
                scope.cancel();
                assert!(recv.await.is_err());
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        tx.try_send(5).unwrap();
        assert_eq!(
            rx.try_recv(),
            Ok(5),
            "the value went to no cancelled waiter"
        );
    });
}

#[test]
fn a_recv_handed_its_value_before_the_cancel_completes() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        let scope = CancelScope::new();
        let out = scope
            .run(async {
                let mut recv = pin!(rx.recv());
                assert!(futures::poll!(recv.as_mut()).is_pending());
                tx.try_send(9).unwrap(); // handed to the waiting recv
                scope.cancel();
                assert_eq!(recv.await, Ok(Some(9)));
                checkpoint().await // the next checkpoint reports it
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn a_send_taken_before_the_cancel_completes() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(0);
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut send = pin!(tx.send(3));
                assert!(futures::poll!(send.as_mut()).is_pending());
                assert_eq!(rx.try_recv(), Ok(3));
                scope.cancel();
                assert_eq!(send.await, Ok(()));
                checkpoint().await
            })
            .await
            .unwrap();
    });
}

#[test]
fn a_dropped_recv_passes_its_value_on_to_the_next_receiver() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(1);
        let rx2 = rx.clone();
        let mut first = Box::pin(rx.recv());
        let mut second = pin!(rx2.recv());
        assert!(futures::poll!(first.as_mut()).is_pending());
        assert!(futures::poll!(second.as_mut()).is_pending());
        tx.try_send(1).unwrap(); // handed to `first`
        drop(first);
        assert_eq!(second.await, Ok(Some(1)));
    });
}

#[test]
fn a_dropped_recv_puts_its_value_back_at_the_front() {
    paused().block_on(async {
        let (tx, rx) = channel::channel(2);
        let mut recv = Box::pin(rx.recv());
        assert!(futures::poll!(recv.as_mut()).is_pending());
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        drop(recv);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
    });
}

#[test]
fn a_dropped_stream_passes_its_value_on() {
    paused().block_on(async {
        let (tx, mut rx) = channel::channel(1);
        let rx2 = rx.clone();
        assert!(futures::poll!(rx.next()).is_pending());
        tx.try_send(4).unwrap(); // handed to the stream's pending receive
        drop(rx);
        assert_eq!(rx2.try_recv(), Ok(4));
    });
}

#[test]
fn a_recv_under_futures_unordered_is_woken_by_the_cancel() {
    real_clock().block_on(async {
        let (_tx, rx) = channel::channel::<u8>(1);
        let scope = CancelScope::new();
        let canceller = scope.clone();
        let out = scope
            .run(async {
                let mut set: FuturesUnordered<_> = (0..3).map(|_| rx.recv()).collect();
                let gate = Gate::default();
                let waiting = gate.clone();
                let _cancelling = canopy::spawn(async move {
                    waiting.passed().await;
                    canceller.cancel();
                });
                assert!(futures::poll!(set.next()).is_pending());
                gate.open(); // all three are queued now
                set.next().await.unwrap()?;
                unreachable!("nothing was sent");
                #[allow(unreachable_code)]
                Ok::<(), Cancelled>(())
            })
            .await;
        assert_eq!(out, Ok(None));
    });
}

#[test]
fn a_cancel_from_an_os_thread_wakes_a_waiting_recv() {
    real_clock().block_on(async {
        let (_tx, rx) = channel::channel::<u8>(1);
        let scope = CancelScope::new();
        let canceller = scope.clone();
        let thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            canceller.cancel();
        });
        let out = scope.run(async { rx.recv().await }).await;
        assert_eq!(out, Ok(None));
        thread.join().unwrap();
    });
}

#[test]
fn a_waiting_recv_is_cancelled_at_shutdown() {
    let rt = real_clock();
    let (tx, rx) = channel::channel::<u8>(1);
    let saw = Arc::new(Mutex::new(None));
    let report = saw.clone();
    rt.spawn_detached(async move {
        let out = rx.recv().await;
        *report.lock().unwrap() = Some(out.map_err(|c| c.reason()));
        Ok::<_, Cancelled>(())
    });
    thread::sleep(Duration::from_millis(10));
    assert!(rt.shutdown(Duration::from_secs(10)));
    let out = saw.lock().unwrap().take().expect("the task ran to the end");
    assert!(out.is_err(), "shutdown cancels the wait: {out:?}");
    drop(tx);
}

// oneshot

#[test]
fn oneshot_delivers_one_value_or_reports_the_sender_gone() {
    paused().block_on(async {
        let (tx, rx) = oneshot::oneshot();
        tx.send(1).unwrap();
        assert_eq!(rx.await, Ok(Some(1)));

        let (tx, mut rx) = oneshot::oneshot::<u8>();
        assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));
        assert_eq!(rx.await, Ok(None));

        let (tx, rx) = oneshot::oneshot();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send("back"), Err("back"));
    });
}

#[test]
fn oneshot_recv_in_a_cancelled_scope_leaves_the_value_in_place() {
    paused().block_on(async {
        let (tx, mut rx) = oneshot::oneshot();
        tx.send(5).unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { (&mut rx).await }).await;
        assert_eq!(out, Ok(None));
        assert_eq!(rx.await, Ok(Some(5)), "awaited again, outside the scope");
    });
}

#[test]
fn oneshot_value_that_arrived_while_waiting_stands_after_the_cancel() {
    paused().block_on(async {
        let (tx, mut rx) = oneshot::oneshot();
        let scope = CancelScope::new();
        scope
            .run(async {
                assert!(futures::poll!(&mut rx).is_pending());
                tx.send(8).unwrap();
                scope.cancel();
                assert_eq!((&mut rx).await, Ok(Some(8)));
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
    });
}

#[test]
fn oneshot_ping_pong_between_tasks() {
    real_clock().block_on(async {
        for _ in 0..1000 {
            let (tx, rx) = oneshot::oneshot();
            let (tx2, rx2) = oneshot::oneshot();
            let _echo = canopy::spawn(async move {
                let v: u32 = rx.await.unwrap().unwrap();
                tx2.send(v + 1).unwrap();
            });
            tx.send(1).unwrap();
            assert_eq!(rx2.await, Ok(Some(2)));
        }
    });
}

#[test]
fn errors_say_what_went_wrong_and_what_to_do() {
    let closed = SendError::Closed(1).to_string();
    assert!(
        closed.contains("closed") && closed.contains("into_inner"),
        "{closed}"
    );
    let full = TrySendError::Full(1).to_string();
    assert!(full.contains("full") && full.contains("send"), "{full}");
    let empty = TryRecvError::Empty.to_string();
    assert!(empty.contains("recv"), "{empty}");
    assert!(TryRecvError::Closed.to_string().contains("closed"));
}

// The stress test.

/// Messages per producer: `CANOPY_STRESS_MESSAGES` in total (default
/// 1,000,000, the count: under a second in a debug build here).
fn stress_messages() -> usize {
    let total = std::env::var("CANOPY_STRESS_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    total / 4
}

/// A tiny xorshift: tests need no `rand`.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The scopes the workers are in now, for the cancellers to pick from.
type Slots = Arc<Vec<Mutex<Option<CancelScope>>>>;

fn cancel_random(slots: &Slots, seed: &mut u64) {
    let slot = &slots[next_random(seed) as usize % slots.len()];
    if let Some(scope) = &*slot.lock().unwrap() {
        scope.cancel();
    }
}

#[test]
fn mpmc_every_message_arrives_exactly_once_while_waiters_are_cancelled() {
    mpmc_stress(16, stress_messages());
}

#[test]
fn rendezvous_mpmc_every_message_arrives_exactly_once_while_waiters_are_cancelled() {
    mpmc_stress(0, stress_messages() / 10);
}

/// 4 producers × 4 consumers over a channel of `capacity`, `per_producer`
/// messages each, while an OS thread and a task cancel the scopes of random
/// producers and consumers; two of the consumers also drop their receive
/// whenever it is still pending at its second poll (so some are dropped
/// after a value was handed to them). Every message must arrive exactly once.
fn mpmc_stress(capacity: usize, per_producer: usize) {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    let total = per_producer * PRODUCERS;
    let seen: Arc<Vec<AtomicU8>> = Arc::new((0..total).map(|_| AtomicU8::new(0)).collect());
    let slots: Slots = Arc::new(
        (0..PRODUCERS + CONSUMERS)
            .map(|_| Mutex::new(None))
            .collect(),
    );
    let cancels = Arc::new(AtomicUsize::new(0));
    let cancelled_ops = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));

    // Cancels from a plain OS thread.
    let thread_canceller = {
        let (slots, done, cancels) = (slots.clone(), done.clone(), cancels.clone());
        thread::spawn(move || {
            let mut seed = 0x9e37_79b9_7f4a_7c15;
            while !done.load(SeqCst) {
                cancel_random(&slots, &mut seed);
                cancels.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_micros(300));
            }
        })
    };

    real_clock().block_on(async {
        // Small enough that senders wait often, so cancels hit waiting sends.
        let (tx, rx) = channel::channel::<usize>(capacity);
        let mut tasks = Vec::new();
        for p in 0..PRODUCERS {
            let (tx, slots) = (tx.clone(), slots.clone());
            let cancelled_ops = cancelled_ops.clone();
            tasks.push(canopy::spawn(async move {
                let mut next = p * per_producer;
                let end = next + per_producer;
                while next < end {
                    let scope = CancelScope::new();
                    *slots[p].lock().unwrap() = Some(scope.clone());
                    let _ = scope
                        .run(async {
                            while next < end {
                                match tx.send(next).await {
                                    Ok(()) => next += 1,
                                    Err(SendError::Cancelled(value, c)) => {
                                        assert_eq!(value, next, "the value comes back");
                                        cancelled_ops.fetch_add(1, SeqCst);
                                        return Err(c);
                                    }
                                    Err(SendError::Closed(_)) => panic!("closed early"),
                                }
                            }
                            Ok(())
                        })
                        .await;
                }
            }));
        }
        drop(tx);
        for c in 0..CONSUMERS {
            let (rx, slots, seen) = (rx.clone(), slots.clone(), seen.clone());
            let cancelled_ops = cancelled_ops.clone();
            tasks.push(canopy::spawn(async move {
                loop {
                    let scope = CancelScope::new();
                    *slots[PRODUCERS + c].lock().unwrap() = Some(scope.clone());
                    let ended = scope
                        .run(async {
                            loop {
                                let got = if c % 2 == 1 {
                                    let recv = pin!(rx.recv());
                                    match select(recv, pin!(yield_now())).await {
                                        Either::Left((got, _)) => got?,
                                        Either::Right((yielded, _)) => {
                                            yielded?; // the receive was dropped
                                            continue;
                                        }
                                    }
                                } else {
                                    rx.recv().await?
                                };
                                match got {
                                    Some(v) => seen[v].fetch_add(1, SeqCst),
                                    None => return Ok::<_, Cancelled>(()),
                                };
                            }
                        })
                        .await
                        .unwrap();
                    if ended.is_some() {
                        return;
                    }
                    cancelled_ops.fetch_add(1, SeqCst);
                }
            }));
        }
        drop(rx);
        // Cancels from a task too.
        let task_canceller = {
            let (slots, done, cancels) = (slots.clone(), done.clone(), cancels.clone());
            canopy::spawn(async move {
                let mut seed = 0x2545_f491_4f6c_dd1d;
                while !done.load(SeqCst) {
                    cancel_random(&slots, &mut seed);
                    cancels.fetch_add(1, SeqCst);
                    canopy::time::sleep(Duration::from_millis(1)).await.unwrap();
                }
            })
        };
        for task in tasks {
            task.await.unwrap();
        }
        done.store(true, SeqCst);
        task_canceller.await.unwrap();
    });
    thread_canceller.join().unwrap();

    let wrong: Vec<_> = (0..total)
        .filter(|&i| seen[i].load(SeqCst) != 1)
        .take(10)
        .map(|i| (i, seen[i].load(SeqCst)))
        .collect();
    assert!(wrong.is_empty(), "(message, times received): {wrong:?}");
    eprintln!(
        "{total} messages; {} cancels issued; {} sends or receives cancelled",
        cancels.load(SeqCst),
        cancelled_ops.load(SeqCst)
    );
    assert!(cancelled_ops.load(SeqCst) > 0, "the cancellers never hit");
}

#[test]
fn concurrent_try_and_waiting_ops_on_a_rendezvous_channel_lose_nothing() {
    const N: usize = 20_000;
    let got = Arc::new(AtomicUsize::new(0));
    real_clock().block_on(async {
        let (tx, rx) = channel::channel::<usize>(0);
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let tx = tx.clone();
            tasks.push(canopy::spawn(async move {
                for i in 0..N / 2 {
                    // Try first; if no receiver waits, wait for one.
                    match tx.try_send(i) {
                        Ok(()) => {}
                        Err(TrySendError::Full(v)) => tx.send(v).await.unwrap(),
                        Err(TrySendError::Closed(_)) => panic!("closed"),
                    }
                }
            }));
        }
        drop(tx);
        for _ in 0..2 {
            let (rx, got) = (rx.clone(), got.clone());
            tasks.push(canopy::spawn(async move {
                while let Some(_v) = rx.recv().await.unwrap() {
                    got.fetch_add(1, SeqCst);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(got.load(SeqCst), N);
}

// watch (tokio: sync_watch.rs)

#[test]
fn watch_receivers_see_the_latest_value_and_the_senders_end() {
    paused().block_on(async {
        let (tx, mut rx) = watch::watch(0);
        let mut other = tx.subscribe();
        assert!(!rx.has_changed());
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // 1 is skipped: only the latest counts
        assert!(rx.changed().await.unwrap());
        assert_eq!(*rx.borrow(), 2);
        assert!(other.changed().await.unwrap());
        let mut waiting = pin!(rx.changed());
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(tx);
        assert_eq!(waiting.await, Ok(false), "the sender is gone");
        assert_eq!(*other.borrow_and_update(), 2);
    });
}

#[test]
fn watch_changed_cancelled_marks_nothing_seen() {
    paused().block_on(async {
        let (tx, mut rx) = watch::watch(0);
        tx.send(1).unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        assert_eq!(scope.run(async { rx.changed().await }).await, Ok(None));
        assert!(rx.has_changed(), "still unseen");

        rx.borrow_and_update();
        let scope = CancelScope::new();
        scope
            .run(async {
                let mut changed = pin!(rx.changed());
                assert!(futures::poll!(changed.as_mut()).is_pending());
                tx.send(2).unwrap();
                scope.cancel();
                assert_eq!(changed.await, Ok(true), "the change came first: it stands");
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        assert_eq!(tx.send_replace(3), 2);
        assert_eq!(tx.receiver_count(), 1);
        drop(rx);
        assert_eq!(tx.send(4), Err(4), "nobody could see it");
    });
}

// broadcast (tokio: sync_broadcast.rs)

#[test]
fn broadcast_gives_every_receiver_every_value_and_reports_lag() {
    paused().block_on(async {
        let (tx, mut a) = broadcast::broadcast(2);
        let mut b = tx.subscribe();
        for i in 0..3 {
            assert_eq!(tx.send(i), Ok(2));
        }
        // Capacity 2: `0` is gone.
        assert_eq!(a.recv().await, Err(broadcast::RecvError::Lagged(1)));
        assert_eq!(a.recv().await, Ok(1));
        assert_eq!(a.recv().await, Ok(2));
        assert_eq!(b.try_recv(), Err(broadcast::RecvError::Lagged(1)));
        assert_eq!(b.try_recv(), Ok(Some(1)));
        let mut waiting = pin!(a.recv());
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(tx);
        assert_eq!(waiting.await, Err(broadcast::RecvError::Closed));
        assert_eq!(b.recv().await, Ok(2), "what is kept is still received");
        assert_eq!(b.recv().await, Err(broadcast::RecvError::Closed));
    });
}

#[test]
fn broadcast_recv_cancelled_takes_nothing() {
    paused().block_on(async {
        let (tx, mut rx) = broadcast::broadcast(4);
        tx.send(1).unwrap();
        let scope = CancelScope::new();
        scope.cancel();
        let out = scope.run(async { rx.recv().await }).await;
        assert_eq!(out, Ok(None));
        assert_eq!(rx.recv().await, Ok(1), "its position did not move");

        let scope = CancelScope::new();
        scope
            .run(async {
                let mut recv = pin!(rx.recv());
                assert!(futures::poll!(recv.as_mut()).is_pending());
                tx.send(2).unwrap();
                scope.cancel();
                assert_eq!(recv.await, Ok(2), "woken by the send first: it stands");
                Ok::<_, Cancelled>(())
            })
            .await
            .unwrap();
        drop(rx);
        assert_eq!(tx.send(3), Err(3), "no receiver left");
    });
}
