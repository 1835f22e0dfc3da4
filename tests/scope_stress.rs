//! Stress tests of the scope tree's lock-free protocol through the public
//! API: scopes entering and leaving on both workers while other OS threads
//! cancel, toggle shields and move deadlines. They check that nothing hangs
//! (every cancel reaches every task), nothing is lost, and no timer is left
//! armed. The loom models in `scope/src/loom_models.rs` check the same
//! protocol exhaustively on small cases.

use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, Runtime, checkpoint, move_on_after, task_group};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// Children keep entering and leaving short-lived scopes under a shared
/// parent (linking into and unlinking from its list) while an OS thread
/// toggles the parent's shield and finally cancels the outer scope: every
/// child must see that cancel, however the races fell.
#[test]
fn churning_scopes_under_shield_toggles_all_see_the_final_cancel() {
    let rt = runtime();
    for round in 0..10 {
        let outer = CancelScope::new();
        let middle = CancelScope::new();
        let (remote_outer, remote_middle) = (outer.clone(), middle.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let stop_toggling = stop.clone();
        let toggler = thread::spawn(move || {
            let mut shield = false;
            while !stop_toggling.load(SeqCst) {
                shield = !shield;
                remote_middle.set_shield(shield);
                thread::yield_now();
            }
            remote_middle.set_shield(false);
            remote_outer.cancel();
        });
        let finished = Arc::new(AtomicUsize::new(0));
        let count = finished.clone();
        let stopper = stop.clone();
        let started = Instant::now();
        let out = rt.block_on(outer.run(middle.run(task_group(move |tg| async move {
            for i in 0..200u64 {
                let count = count.clone();
                tg.spawn(async move {
                    loop {
                        let step = move_on_after(Duration::from_millis(i % 3), async {
                            CancelScope::new().run(checkpoint()).await?;
                            sleep(Duration::from_micros(50 * (i % 4))).await
                        })
                        .await;
                        if let Err(cancelled) = step {
                            count.fetch_add(1, SeqCst);
                            return Err::<(), Cancelled>(cancelled);
                        }
                    }
                });
            }
            sleep(Duration::from_millis(20)).await?;
            stopper.store(true, SeqCst);
            Ok(())
        }))));
        stop.store(true, SeqCst);
        toggler.join().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "round {round} took too long"
        );
        // The outer scope caught it (the middle one was unshielded at the end).
        assert!(out.unwrap().is_none(), "round {round}");
        assert_eq!(
            finished.load(SeqCst),
            200,
            "round {round}: a child missed the cancel"
        );
    }
    assert_eq!(
        rt.metrics().armed_timers,
        0,
        "a deadline timer was left armed"
    );
}

/// Deadlines moved from an OS thread while scopes expire, enter and exit:
/// every scope ends (caught by its own deadline or completed), and nothing
/// stays armed.
#[test]
fn deadlines_moved_while_they_expire() {
    let rt = runtime();
    let scopes: Vec<CancelScope> = (0..500).map(|_| CancelScope::new()).collect();
    let movers_scopes = scopes.clone();
    let mover = thread::spawn(move || {
        for round in 0..20u64 {
            for (i, scope) in movers_scopes.iter().enumerate() {
                let ms = (i as u64 + round) % 5;
                scope.set_deadline(Some(Instant::now() + Duration::from_millis(ms)));
            }
        }
    });
    rt.block_on(task_group(|tg| async move {
        for scope in scopes {
            tg.spawn(async move {
                let out = scope.run(sleep(Duration::from_secs(3600))).await;
                assert_eq!(out, Ok(None), "only its deadline can end the sleep");
                Ok::<(), Cancelled>(())
            });
        }
        Ok(())
    }))
    .unwrap();
    mover.join().unwrap();
    assert_eq!(rt.metrics().armed_timers, 0);
}

/// Cancels racing the entry of the very scopes they cancel, from many OS
/// threads at once.
#[test]
fn cancels_racing_scope_entry() {
    let rt = runtime();
    for _ in 0..200 {
        let scope = CancelScope::new();
        let cancellers: Vec<_> = (0..3)
            .map(|_| {
                let scope = scope.clone();
                thread::spawn(move || scope.cancel())
            })
            .collect();
        let out = rt.block_on(scope.run(sleep(Duration::from_secs(3600))));
        assert_eq!(out, Ok(None));
        for canceller in cancellers {
            canceller.join().unwrap();
        }
    }
}
