//! The runtimes the benches compare, behind one small trait, so every
//! workload is written once and runs the same code on each: canopy, tokio
//! (multi-thread, `enable_all` as in tokio's own benches) and async-executor
//! (one runner thread per worker, timers from async-io). All get the same
//! worker count: 2 by default, `CANOPY_BENCH_WORKERS=n` to change.

// Each bench uses a subset of this shared module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

pub fn workers() -> usize {
    std::env::var("CANOPY_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// A canopy runtime with `workers` workers, as every bench builds it.
pub fn canopy_runtime(workers: usize) -> canopy::Runtime {
    canopy::Runtime::builder().workers(workers).build().unwrap()
}

/// A tokio multi-thread runtime with `workers` workers and `enable_all`.
pub fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// What a workload needs from a runtime.
pub trait Contender: Sized {
    const NAME: &'static str;
    /// Spawns from any thread; cheap to clone into tasks.
    type Spawner: Clone + Send + Sync + 'static;
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;

    fn start(workers: usize) -> Self;
    fn spawner(&self) -> Self::Spawner;
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    fn spawn<F>(spawner: &Self::Spawner, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    fn yield_now() -> impl Future<Output = ()> + Send;
    /// The runtime's sleep (async-io's `Timer` for async-executor).
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send + 'static;

    /// Spawns a task nobody joins. (Dropping an async-executor `Task` would
    /// cancel it, so each contender says how to let a task run on its own.)
    fn spawn_detached<F>(spawner: &Self::Spawner, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(Self::spawn(spawner, future));
    }
}

/// Maps a `Result` join output to its value, as the benches always expect success.
pub struct Unwrap<J>(J);

impl<T, E: std::fmt::Debug, J: Future<Output = Result<T, E>> + Unpin> Future for Unwrap<J> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.unwrap())
    }
}

pub struct Canopy(canopy::Runtime);

impl Contender for Canopy {
    const NAME: &'static str = "canopy";
    type Spawner = canopy::runtime::Handle;
    type Join<T: Send + 'static> = Unwrap<canopy::task::JoinHandle<T>>;

    fn start(workers: usize) -> Self {
        Canopy(canopy_runtime(workers))
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
}

pub struct Tokio(tokio::runtime::Runtime);

impl Contender for Tokio {
    const NAME: &'static str = "tokio";
    type Spawner = tokio::runtime::Handle;
    type Join<T: Send + 'static> = Unwrap<tokio::task::JoinHandle<T>>;

    fn start(workers: usize) -> Self {
        Tokio(tokio_runtime(workers))
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
}

pub struct AsyncExecutor {
    executor: Arc<async_executor::Executor<'static>>,
    /// Dropping it ends every runner's `run` future.
    stop: Option<tokio::sync::watch::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Contender for AsyncExecutor {
    const NAME: &'static str = "async-executor";
    type Spawner = Arc<async_executor::Executor<'static>>;
    type Join<T: Send + 'static> = async_executor::Task<T>;

    fn start(workers: usize) -> Self {
        let executor = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = tokio::sync::watch::channel(());
        let threads = (0..workers)
            .map(|_| {
                let executor = executor.clone();
                let mut stopped = stopped.clone();
                std::thread::spawn(move || {
                    futures_lite::future::block_on(executor.run(async move {
                        let _ = stopped.changed().await;
                    }));
                })
            })
            .collect();
        AsyncExecutor {
            executor,
            stop: Some(stop),
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
    fn spawn_detached<F>(spawner: &Self::Spawner, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        spawner.spawn(future).detach();
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
    }
}
