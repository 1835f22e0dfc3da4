use canopy::{CancelScope, Cancelled};
macro_rules! nest {
    ($body:expr ;) => { $body };
    ($body:expr ; $level:tt $($rest:tt)*) => { CancelScope::new().run(nest!($body ; $($rest)*)) };
}
async fn yield_loop() -> Result<(), Cancelled> {
    for _ in 0..1000 { canopy::yield_now().await?; }
    Ok(())
}
fn main() {
    let depth: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let rt = canopy::Runtime::builder().workers(2).build().unwrap();
    let t = std::time::Instant::now();
    for _ in 0..50 {
        let (tx, rx) = std::sync::mpsc::sync_channel(200);
        for _ in 0..200 {
            let tx = tx.clone();
            if depth == 0 {
                drop(rt.spawn(async move { let _ = yield_loop().await; tx.send(()).unwrap(); }));
            } else {
                drop(rt.spawn(async move { let _ = nest!(yield_loop(); x).await; tx.send(()).unwrap(); }));
            }
        }
        for _ in 0..200 { rx.recv().unwrap(); }
    }
    println!("{:?} per poll", t.elapsed() / (50 * 200 * 1000));
}
