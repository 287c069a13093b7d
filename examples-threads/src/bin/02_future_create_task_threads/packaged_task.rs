//! `std::packaged_task` (a callable whose result lands in a future) is a closure plus a channel:
//! [`package`] wraps a function into a job that any thread can run and a receiver for its result.
//! (The async twin has no such module: there an `async fn` call already is one, a future you hand
//! to `spawn`.)

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use tracing::info;

/// One `slow_square` call (upstream: 1 s).
pub const SQUARE_DELAY: Duration = Duration::from_millis(300);

/// `std::packaged_task<R(A)>`: wraps `f` into a job that any thread can run later, and returns the
/// receiver its result will arrive on (C++: `task.get_future()`). A panic in `f` drops the sender,
/// so the receiver sees an error instead of a value.
pub fn package<A, R>(
    f: impl FnOnce(A) -> R + Send + 'static,
) -> (impl FnOnce(A) + Send + 'static, mpsc::Receiver<R>)
where
    R: Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    let job = move |arg: A| {
        let _ = tx.send(f(arg));
    };
    (job, rx)
}

fn slow_square(x: i32) -> i32 {
    info!("slow_square({x}): computing");
    thread::sleep(SQUARE_DELAY);
    x * x
}

/// Upstream's `packaged_task.cpp`: two packaged `slow_square` calls, each run on its own thread.
/// The two results, read from the packages' receivers.
pub fn run_packaged_tasks() -> anyhow::Result<(i32, i32)> {
    let (square_3, result_3) = package(slow_square);
    let (square_4, result_4) = package(slow_square);
    let t3 = thread::Builder::new()
        .name("packaged-3".into())
        .spawn(move || square_3(3))?;
    let t4 = thread::Builder::new()
        .name("packaged-4".into())
        .spawn(move || square_4(4))?;
    let results = (result_3.recv()?, result_4.recv()?);
    t3.join().map_err(|_| anyhow!("packaged-3 panicked"))?;
    t4.join().map_err(|_| anyhow!("packaged-4 panicked"))?;
    Ok(results)
}
