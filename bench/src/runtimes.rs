//! The runtimes the harness compares, behind one trait, so every workload is
//! written once and runs the same code on each: canopy, tokio (multi-thread,
//! `enable_all` as in tokio's own benches) and async-executor (one runner
//! thread per worker, timers from async-io, the blocking pool from smol's
//! `blocking`). All get the same worker count.
//!
//! The criterion benches in `benches/` compile this file too. Where a
//! runtime has no such feature, its method is its closest equivalent, and
//! the workload's description says so.

use futures_lite::FutureExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

/// A boxed, sendable future of `()`: what scope nesting wraps.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An hour: the deadline of a timeout that never fires in a workload.
pub const HOUR: Duration = Duration::from_secs(3600);

static WORKERS: AtomicUsize = AtomicUsize::new(2);

/// The worker count of this run (workloads that size themselves by it, such
/// as `spawn_many_remote_busy`, read it here).
pub fn workers() -> usize {
    WORKERS.load(Relaxed)
}

/// Sets the worker count every runtime of this run starts with.
pub fn set_workers(n: usize) {
    WORKERS.store(n, Relaxed);
}

/// What a workload needs from a runtime.
pub trait Runtime: Sized + 'static {
    /// The name in the table and the report.
    const NAME: &'static str;
    /// Spawns from any thread; cheap to clone into tasks.
    type Spawner: Clone + Send + Sync + 'static;
    /// A task's join handle, already unwrapped to its output.
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Builds the runtime with `workers` worker threads.
    fn start(workers: usize) -> Self;
    /// A spawner for this runtime.
    fn spawner(&self) -> Self::Spawner;
    /// Runs `future` to completion on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Spawns `future` and returns its join handle.
    fn spawn<F>(spawner: &Self::Spawner, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    /// Spawns a task nobody joins. (Dropping an async-executor `Task` would
    /// cancel it, so each runtime says how to let a task run on its own.)
    fn spawn_detached<F>(spawner: &Self::Spawner, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn(spawner, future));
    }
    /// Yields to the scheduler once (canopy's is also a checkpoint).
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// The runtime's sleep (async-io's `Timer` for async-executor), its
    /// deadline taken when called.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;
    /// `future`, or `None` if `duration` passes first: canopy's
    /// `move_on_after`, `tokio::time::timeout`, and for async-executor the
    /// future raced against an async-io `Timer`.
    fn timeout<F>(duration: Duration, future: F) -> impl Future<Output = Option<F::Output>> + Send
    where
        F: Future + Send,
        F::Output: Send;
    /// `future` inside one cancel scope (canopy), or the closest equivalent:
    /// an hour-long timeout (tokio's `timeout`, async-io's `Timer` race).
    fn in_scope(future: BoxFuture) -> BoxFuture;
    /// Starts `f` on the runtime's blocking pool at once (not on first
    /// poll, so many can run together) and returns its result's future.
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
}

/// Maps a `Result` join output to its value: workloads expect success, and a
/// failure panics, which the runner reports in the runtime's cell.
#[derive(Debug)]
pub struct Unwrap<J>(J);

impl<T, E: std::fmt::Debug, J: Future<Output = Result<T, E>> + Unpin> Future for Unwrap<J> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.unwrap())
    }
}

/// canopy, built with `Runtime::builder().workers(n)`.
#[derive(Debug)]
pub struct Canopy(canopy::Runtime);

impl Runtime for Canopy {
    const NAME: &'static str = "canopy";
    type Spawner = canopy::runtime::Handle;
    type Join<T: Send + 'static> = Unwrap<canopy::task::JoinHandle<T>>;

    fn start(workers: usize) -> Self {
        Canopy(canopy::Runtime::builder().workers(workers).build().unwrap())
    }
    fn spawner(&self) -> canopy::runtime::Handle {
        self.0.handle().clone()
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
    fn spawn<F>(spawner: &canopy::runtime::Handle, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(spawner.spawn(future))
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        Unwrap(canopy::task::yield_now())
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        Unwrap(canopy::time::sleep(duration))
    }
    async fn timeout<F>(duration: Duration, future: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let body = async { Ok::<_, canopy::Cancelled>(future.await) };
        canopy::move_on_after(duration, body).await.unwrap()
    }
    fn in_scope(future: BoxFuture) -> BoxFuture {
        Box::pin(async move {
            let body = async {
                future.await;
                Ok::<_, canopy::Cancelled>(())
            };
            canopy::CancelScope::new().run(body).await.unwrap();
        })
    }
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Unwrap(canopy::blocking::spawn(f))
    }
}

/// tokio's multi-thread runtime with `enable_all`.
#[derive(Debug)]
pub struct Tokio(tokio::runtime::Runtime);

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = tokio::runtime::Handle;
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;

    fn start(workers: usize) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        Tokio(rt)
    }
    fn spawner(&self) -> tokio::runtime::Handle {
        self.0.handle().clone()
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
    fn spawn<F>(spawner: &tokio::runtime::Handle, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Unwrap(spawner.spawn(future))
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(duration)
    }
    async fn timeout<F>(duration: Duration, future: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        tokio::time::timeout(duration, future).await.ok()
    }
    fn in_scope(future: BoxFuture) -> BoxFuture {
        Box::pin(async move {
            let _ = tokio::time::timeout(HOUR, future).await;
        })
    }
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        Unwrap(tokio::task::spawn_blocking(f))
    }
}

/// async-executor with one runner thread per worker.
#[derive(Debug)]
pub struct AsyncExecutor {
    executor: Arc<async_executor::Executor<'static>>,
    /// Closing it ends every runner's `run` future.
    stop: async_channel::Sender<()>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Runtime for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    type Spawner = Arc<async_executor::Executor<'static>>;
    type Join<T: Send + 'static> = async_executor::Task<T>;

    fn start(workers: usize) -> Self {
        let executor = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..workers)
            .map(|_| {
                let executor = executor.clone();
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    futures_lite::future::block_on(executor.run(async move {
                        let _ = stopped.recv().await;
                    }));
                })
            })
            .collect();
        AsyncExecutor {
            executor,
            stop,
            threads,
        }
    }
    fn spawner(&self) -> Self::Spawner {
        self.executor.clone()
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }
    fn spawn<F>(spawner: &Self::Spawner, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawner.spawn(future)
    }
    fn spawn_detached<F>(spawner: &Self::Spawner, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawner.spawn(future).detach();
    }
    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static {
        // Created now, as canopy's and tokio's sleeps take their deadline
        // when called (an `async fn` would defer even that to the first poll).
        let timer = async_io::Timer::after(duration);
        async move {
            timer.await;
        }
    }
    async fn timeout<F>(duration: Duration, future: F) -> Option<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let timer = async_io::Timer::after(duration);
        async { Some(future.await) }
            .or(async {
                timer.await;
                None
            })
            .await
    }
    fn in_scope(future: BoxFuture) -> BoxFuture {
        Box::pin(future.or(async {
            async_io::Timer::after(HOUR).await;
        }))
    }
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + Send
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::unblock(f)
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        self.stop.close();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
