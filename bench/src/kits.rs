//! The channel and lock implementations the sync workloads compare (in
//! canopy-bench and `benches/sync.rs`), behind one small trait, so every
//! workload is written once: canopy's
//! (`canopy::sync`), tokio's (`tokio::sync`) and smol's (`async-channel`,
//! `async-lock`).
//!
//! tokio has no MPMC channel: its MPMC receiver is the usual idiom, an
//! `mpsc::Receiver` shared behind a `tokio::sync::Mutex`. Its oneshot is
//! `tokio::sync::oneshot`; async-channel's is a bounded(1) channel.

use std::future::Future;
use std::sync::Arc;

pub trait Kit: 'static {
    // Named in the criterion bench, which pairs runtimes with other kits;
    // canopy-bench names the runtime instead.
    #[allow(dead_code)]
    const NAME: &'static str;
    type Tx<T: Send + 'static>: Clone + Send + Sync + 'static;
    type MpmcRx<T: Send + 'static>: Clone + Send + Sync + 'static;
    type SpscRx<T: Send + 'static>: Send + 'static;
    type OnceTx<T: Send + 'static>: Send + 'static;
    type OnceRx<T: Send + 'static>: Send + 'static;
    type Sem: Send + Sync + 'static;
    type Mutex: Send + Sync + 'static;

    fn mpmc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::MpmcRx<T>);
    fn spsc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::SpscRx<T>);
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) -> impl Future<Output = ()> + Send;
    fn recv_mpmc<T: Send + 'static>(rx: &Self::MpmcRx<T>)
    -> impl Future<Output = Option<T>> + Send;
    fn recv_spsc<T: Send + 'static>(
        rx: &mut Self::SpscRx<T>,
    ) -> impl Future<Output = Option<T>> + Send;
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>);
    fn once_send<T: Send + 'static>(tx: Self::OnceTx<T>, v: T);
    fn once_recv<T: Send + 'static>(rx: Self::OnceRx<T>) -> impl Future<Output = T> + Send;
    fn semaphore(permits: usize) -> Self::Sem;
    /// Acquires one permit and gives it back.
    fn with_permit(sem: &Self::Sem) -> impl Future<Output = ()> + Send;
    fn mutex() -> Self::Mutex;
    /// Locks the `u64` mutex and increments it.
    fn increment(mutex: &Self::Mutex) -> impl Future<Output = ()> + Send;
}

pub struct CanopyKit;

impl Kit for CanopyKit {
    const NAME: &'static str = "canopy";
    type Tx<T: Send + 'static> = canopy::sync::channel::Sender<T>;
    type MpmcRx<T: Send + 'static> = canopy::sync::channel::Receiver<T>;
    type SpscRx<T: Send + 'static> = canopy::sync::channel::Receiver<T>;
    type OnceTx<T: Send + 'static> = canopy::sync::oneshot::Sender<T>;
    type OnceRx<T: Send + 'static> = canopy::sync::oneshot::Receiver<T>;
    type Sem = canopy::sync::Semaphore;
    type Mutex = canopy::sync::Mutex<u64>;

    fn mpmc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::MpmcRx<T>) {
        canopy::sync::channel::channel(cap)
    }
    fn spsc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::SpscRx<T>) {
        canopy::sync::channel::channel(cap)
    }
    async fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) {
        tx.send(v).await.unwrap_or_else(|e| panic!("{e}"));
    }
    async fn recv_mpmc<T: Send + 'static>(rx: &Self::MpmcRx<T>) -> Option<T> {
        rx.recv().await.unwrap()
    }
    async fn recv_spsc<T: Send + 'static>(rx: &mut Self::SpscRx<T>) -> Option<T> {
        rx.recv().await.unwrap()
    }
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
        canopy::sync::oneshot::oneshot()
    }
    fn once_send<T: Send + 'static>(tx: Self::OnceTx<T>, v: T) {
        assert!(tx.send(v).is_ok());
    }
    async fn once_recv<T: Send + 'static>(rx: Self::OnceRx<T>) -> T {
        rx.await.unwrap().unwrap()
    }
    fn semaphore(permits: usize) -> Self::Sem {
        canopy::sync::Semaphore::new(permits)
    }
    async fn with_permit(sem: &Self::Sem) {
        drop(sem.acquire().await.unwrap());
    }
    fn mutex() -> Self::Mutex {
        canopy::sync::Mutex::new(0)
    }
    async fn increment(mutex: &Self::Mutex) {
        *mutex.lock().await.unwrap() += 1;
    }
}

pub struct TokioKit;

impl Kit for TokioKit {
    const NAME: &'static str = "tokio";
    type Tx<T: Send + 'static> = tokio::sync::mpsc::Sender<T>;
    type MpmcRx<T: Send + 'static> = Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<T>>>;
    type SpscRx<T: Send + 'static> = tokio::sync::mpsc::Receiver<T>;
    type OnceTx<T: Send + 'static> = tokio::sync::oneshot::Sender<T>;
    type OnceRx<T: Send + 'static> = tokio::sync::oneshot::Receiver<T>;
    type Sem = tokio::sync::Semaphore;
    type Mutex = tokio::sync::Mutex<u64>;

    fn mpmc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::MpmcRx<T>) {
        let (tx, rx) = tokio::sync::mpsc::channel(cap);
        (tx, Arc::new(tokio::sync::Mutex::new(rx)))
    }
    fn spsc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::SpscRx<T>) {
        tokio::sync::mpsc::channel(cap)
    }
    async fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) {
        assert!(tx.send(v).await.is_ok());
    }
    async fn recv_mpmc<T: Send + 'static>(rx: &Self::MpmcRx<T>) -> Option<T> {
        rx.lock().await.recv().await
    }
    async fn recv_spsc<T: Send + 'static>(rx: &mut Self::SpscRx<T>) -> Option<T> {
        rx.recv().await
    }
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
        tokio::sync::oneshot::channel()
    }
    fn once_send<T: Send + 'static>(tx: Self::OnceTx<T>, v: T) {
        assert!(tx.send(v).is_ok());
    }
    async fn once_recv<T: Send + 'static>(rx: Self::OnceRx<T>) -> T {
        rx.await.unwrap()
    }
    fn semaphore(permits: usize) -> Self::Sem {
        tokio::sync::Semaphore::new(permits)
    }
    async fn with_permit(sem: &Self::Sem) {
        drop(sem.acquire().await.unwrap());
    }
    fn mutex() -> Self::Mutex {
        tokio::sync::Mutex::new(0)
    }
    async fn increment(mutex: &Self::Mutex) {
        *mutex.lock().await += 1;
    }
}

pub struct SmolKit;

impl Kit for SmolKit {
    const NAME: &'static str = "async-channel";
    type Tx<T: Send + 'static> = async_channel::Sender<T>;
    type MpmcRx<T: Send + 'static> = async_channel::Receiver<T>;
    type SpscRx<T: Send + 'static> = async_channel::Receiver<T>;
    type OnceTx<T: Send + 'static> = async_channel::Sender<T>;
    type OnceRx<T: Send + 'static> = async_channel::Receiver<T>;
    type Sem = async_lock::Semaphore;
    type Mutex = async_lock::Mutex<u64>;

    fn mpmc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::MpmcRx<T>) {
        async_channel::bounded(cap)
    }
    fn spsc<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::SpscRx<T>) {
        async_channel::bounded(cap)
    }
    async fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) {
        assert!(tx.send(v).await.is_ok());
    }
    async fn recv_mpmc<T: Send + 'static>(rx: &Self::MpmcRx<T>) -> Option<T> {
        rx.recv().await.ok()
    }
    async fn recv_spsc<T: Send + 'static>(rx: &mut Self::SpscRx<T>) -> Option<T> {
        rx.recv().await.ok()
    }
    fn oneshot<T: Send + 'static>() -> (Self::OnceTx<T>, Self::OnceRx<T>) {
        async_channel::bounded(1)
    }
    fn once_send<T: Send + 'static>(tx: Self::OnceTx<T>, v: T) {
        assert!(tx.try_send(v).is_ok());
    }
    async fn once_recv<T: Send + 'static>(rx: Self::OnceRx<T>) -> T {
        rx.recv().await.unwrap()
    }
    fn semaphore(permits: usize) -> Self::Sem {
        async_lock::Semaphore::new(permits)
    }
    async fn with_permit(sem: &Self::Sem) {
        drop(sem.acquire().await);
    }
    fn mutex() -> Self::Mutex {
        async_lock::Mutex::new(0)
    }
    async fn increment(mutex: &Self::Mutex) {
        *mutex.lock().await += 1;
    }
}
