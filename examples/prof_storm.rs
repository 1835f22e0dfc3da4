use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, task_group};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
const STORM: usize = 100_000;
async fn storm() -> (Duration, Duration) {
    let scope = CancelScope::new();
    let remote = scope.clone();
    let blocked = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Mutex::new(None));
    let (watch, mark) = (blocked.clone(), started.clone());
    let t0 = Instant::now();
    let canceller = canopy::spawn(async move {
        while watch.load(SeqCst) < STORM { canopy::yield_now().await.unwrap(); }
        *mark.lock().unwrap() = Some(Instant::now());
        remote.cancel();
    });
    scope.run(task_group(|tg| async move {
        for _ in 0..STORM {
            let blocked = blocked.clone();
            tg.spawn(async move { let s = sleep(Duration::from_secs(3600)); blocked.fetch_add(1, SeqCst); s.await });
        }
        Ok::<(), Cancelled>(())
    })).await.unwrap();
    let st = started.lock().unwrap().unwrap();
    canceller.await.unwrap();
    (st - t0, st.elapsed())
}
fn main() {
    let rt = canopy::Runtime::builder().workers(2).build().unwrap();
    for _ in 0..10 { let (setup, storm) = rt.block_on(storm()); println!("setup {setup:?} storm {storm:?}"); }
}
