//! Loopback TCP: an echo server started in a group (`start` hands back its
//! address; its accept loop runs in a scope cancelled when the clients are
//! done), and clients whose reads the cancellers and short deadlines cut.
//!
//! Checked: a read cancelled on a connection the server has sent nothing on
//! returns `Cancelled` (never data), and across cancelled reads each client
//! gets its message back byte for byte: a cancelled read consumed nothing
//! (DESIGN §2.13).

use super::progress::{SOCKETS, Stats};
use super::{BoxError, Rng, Shared};
use canopy::net::{TcpListener, TcpStream};
use canopy::{
    CancelScope,
    task::{TaskGroup, TaskStatus},
    task_group,
};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

const CLIENTS: u64 = 16;
const MAX_MESSAGE: u64 = 4096;

pub async fn run(shared: Arc<Shared>, seed: u64) -> Result<(), BoxError> {
    shared.progress.stage(SOCKETS, "starting the server");
    let progress = shared.clone();
    task_group(|tg| async move {
        let stop = CancelScope::new();
        let (server_stop, server_group) = (stop.clone(), tg.clone());
        let addr = tg
            .start(move |status: TaskStatus<SocketAddr>| serve(status, server_stop, server_group))
            .await
            .map_err(|error| shared.violated(format!("the server did not start: {error}")))?;
        shared.progress.stage(SOCKETS, "clients echoing");
        let each = shared.clone();
        task_group(|clients| async move {
            for c in 0..CLIENTS {
                clients.spawn(client(each.clone(), addr, Rng::new(seed ^ (c + 1) << 36)));
            }
            Ok::<(), BoxError>(())
        })
        .await
        .map_err(|error| BoxError::from(error.to_string()))?;
        shared.progress.stage(SOCKETS, "stopping the server");
        stop.cancel();
        Ok::<(), BoxError>(())
    })
    .await
    .map_err(|error| BoxError::from(error.to_string()))?;
    progress.progress.stage(SOCKETS, "done");
    Ok(())
}

/// Accepts until `stop` is cancelled, each connection echoed by a child of
/// `group` (it ends when its client closes).
async fn serve(
    status: TaskStatus<SocketAddr>,
    stop: CancelScope,
    group: TaskGroup<BoxError>,
) -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    status.started(listener.local_addr()?);
    stop.run(async {
        loop {
            let (stream, _) = listener.accept().await?;
            group.spawn(echo(stream));
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    })
    .await?;
    Ok(())
}

async fn echo(stream: TcpStream) -> Result<(), BoxError> {
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

async fn client(shared: Arc<Shared>, addr: SocketAddr, mut rng: Rng) -> Result<(), BoxError> {
    let stream = TcpStream::connect(addr).await?;
    // Nothing was sent yet: a read can only end by its deadline.
    let idle = CancelScope::new();
    idle.set_deadline(Some(Instant::now() + rng.micros(1_000)));
    let mut probe = [0u8; 16];
    if let Some(n) = idle.run(stream.read(&mut probe)).await? {
        return Err(shared.violated(format!("read {n} bytes nobody sent")));
    }
    Stats::add(&shared.stats.reads_cancelled, 1);
    let len = 1 + rng.below(MAX_MESSAGE) as usize;
    let message: Vec<u8> = (0..len).map(|i| (rng.next() as usize ^ i) as u8).collect();
    // Small enough for the socket buffers: the write cannot wait on our reads.
    stream.write_all(&message).await?;
    let mut echoed = Vec::with_capacity(len);
    let mut buf = [0u8; 512];
    while echoed.len() < len {
        let scope = CancelScope::new();
        if rng.below(3) == 0 {
            scope.set_deadline(Some(Instant::now() + rng.micros(200)));
        }
        shared.slots.offer(&mut rng, &scope);
        match scope.run(stream.read(&mut buf)).await? {
            Some(0) => return Err(shared.violated("the echo ended early")),
            Some(n) => echoed.extend_from_slice(&buf[..n]),
            None => Stats::add(&shared.stats.reads_cancelled, 1),
        }
    }
    if echoed != message {
        return Err(shared.violated(format!(
            "an echo of {len} bytes came back different: a cancelled read lost or took bytes"
        )));
    }
    stream.shutdown(Shutdown::Write)?;
    Stats::add(&shared.stats.echoes, 1);
    Ok(())
}
