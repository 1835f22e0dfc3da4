//! A dropped `ctrl_c()` or `signals()` future leaves nothing behind in the
//! process-wide signal hub (issue 15 item 6): not its waker, and so not its
//! task's allocation. Before, 20,000 finished "select(ctrl_c, request)"
//! tasks kept their wakers — and 23 MB — until the next signal.
//!
//! Its own test binary: it counts live heap bytes with a
//! `#[global_allocator]`, and using `ctrl_c` starts catching SIGINT for the
//! whole process.

use canopy::signal::{ctrl_c, registered_waiters, signals};
use canopy::{Runtime, task::yield_now};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// The system allocator, counting the bytes live at any moment.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TASKS: usize = 20_000;

/// The tests here read process-wide counts (live bytes, hub slots): one at
/// a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A request that completes on its second poll, raced against `ctrl_c()`,
/// which has registered its waker by then and loses.
async fn select_ctrl_c_or_request() -> u32 {
    futures_lite::future::or(
        async {
            ctrl_c().await.expect("not cancelled");
            0
        },
        async {
            yield_now().await.expect("not cancelled");
            1
        },
    )
    .await
}

/// Runs `n` tasks doing `select_ctrl_c_or_request`, a hundred at a time.
fn run_selects(rt: &Runtime, n: usize) {
    rt.block_on(async {
        for _ in 0..n / 100 {
            let batch: Vec<_> = (0..100)
                .map(|_| canopy::spawn(select_ctrl_c_or_request()))
                .collect();
            for task in batch {
                assert_eq!(task.await.unwrap(), 1, "the request wins");
            }
        }
    });
}

#[test]
fn dropped_signal_futures_leave_no_waker_and_no_memory_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder().workers(2).build().unwrap();
    // Warm up: the hub, the registry's and queues' capacity, thread-locals.
    run_selects(&rt, 1_000);
    assert_eq!(registered_waiters(), 0, "a finished select holds no waiter");
    let before = LIVE.load(Relaxed);
    run_selects(&rt, TASKS);
    let grown = LIVE.load(Relaxed) - before;
    assert_eq!(registered_waiters(), 0);
    // Before the fix this was about 23 MB (over 1 kB a task).
    assert!(
        grown < 64 * 1024,
        "{TASKS} finished selects left {grown} bytes live"
    );
}

#[test]
fn a_signals_stream_holds_one_slot_while_waiting_and_none_once_dropped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(async {
        let mut stream = signals();
        assert_eq!(registered_waiters(), 0, "not waiting yet");
        for _ in 0..3 {
            // Each poll of the same waiting stream reuses its slot.
            let polled = futures_lite::future::poll_once(stream.recv()).await;
            assert!(polled.is_none(), "no signal was sent");
        }
        assert_eq!(registered_waiters(), 1);
        drop(stream);
        assert_eq!(registered_waiters(), 0);
    });
}
