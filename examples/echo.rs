//! A TCP echo server: the accept loop in a task group, one child per
//! connection, an idle timeout per connection, and a graceful shutdown.
//!
//! ```sh
//! cargo run --example echo -- 127.0.0.1:7000
//! ```
//!
//! It prints `listening on ADDR` once ready. On the first Ctrl-C (or
//! SIGTERM) it stops accepting, lets open connections finish for a grace
//! period (`GRACE_MS`, default 2,000), then cancels those still open, and
//! exits 0. A connection idle for `IDLE_MS` (default 30,000) is closed.

use canopy::net::{TcpListener, TcpStream, is_out_of_descriptors};
use canopy::time::sleep;
use canopy::{CancelScope, Cancelled, Runtime, move_on_after, task_group};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

fn env_ms(name: &str, default: u64) -> Duration {
    let ms = std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_millis(ms)
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Echoes until the peer closes, the connection idles for `idle`, or the
/// connection's scope is cancelled (shutdown after the grace period).
async fn serve(stream: TcpStream, idle: Duration) -> io::Result<()> {
    let mut buf = vec![0; 16 * 1024];
    loop {
        // `None`: idle for too long; the timeout's own scope caught it.
        let Some(n) = move_on_after(idle, stream.read(&mut buf)).await? else {
            return Ok(());
        };
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Accepts until cancelled; each connection is a child of `tg`. Running
/// out of file descriptors is reported and waited out, not fatal.
async fn accept_loop(
    listener: TcpListener,
    tg: canopy::task::TaskGroup<io::Error>,
    live: Arc<AtomicUsize>,
    idle: Duration,
) -> io::Result<()> {
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_out_of_descriptors(&e) => {
                eprintln!("echo: {e}");
                sleep(Duration::from_millis(100)).await?;
                continue;
            }
            Err(e) => return Err(e),
        };
        live.fetch_add(1, SeqCst);
        let live = live.clone();
        tg.spawn(async move {
            let served = serve(stream, idle).await;
            live.fetch_sub(1, SeqCst);
            served
        });
    }
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_owned());
    let grace = env_ms("GRACE_MS", 2_000);
    let idle = env_ms("IDLE_MS", 30_000);
    let rt = match Runtime::builder().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        say(&format!("listening on {}", listener.local_addr()?));
        let live = Arc::new(AtomicUsize::new(0));
        task_group(|tg| async move {
            let accepting = CancelScope::new();
            let stop = accepting.clone();
            // The first Ctrl-C stops the accept loop (only: the connections
            // go on, in the group's scope).
            tg.spawn(async move {
                // The first SIGINT or SIGTERM.
                canopy::signal::signals().recv().await?;
                stop.cancel();
                Ok(())
            });
            let loop_tg = tg.clone();
            let loop_live = live.clone();
            accepting
                .run(accept_loop(listener, loop_tg, loop_live, idle))
                .await?;
            say(&format!(
                "stopping: no new connections; {} open, grace period {grace:?}",
                live.load(SeqCst)
            ));
            let until = Instant::now() + grace;
            while live.load(SeqCst) > 0 && Instant::now() < until {
                sleep(Duration::from_millis(10)).await?;
            }
            let left = live.load(SeqCst);
            if left > 0 {
                say(&format!("grace period over: cancelling {left} connections"));
            }
            // Cancels the connections still open (and nothing else is left).
            tg.cancel_scope().cancel();
            Ok::<(), io::Error>(())
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))
    });
    match result {
        Ok(()) => {
            say("stopped");
            ExitCode::SUCCESS
        }
        Err(e) if Cancelled::find_in_io(&e).is_some() => {
            say("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo: {e}");
            ExitCode::FAILURE
        }
    }
}
