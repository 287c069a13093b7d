//! Continuations (the seed's `.then`): `FutureExt::map` chains a plain function onto a future,
//! `FutureExt::then` chains another future: `initial_task().map(next_task).then(store_result)`.
//! C++'s `std::future::then` never made it into the standard (it is from the Concurrency TS), so
//! the seed's C++ snippet does not compile as written; in Rust, `next_task(initial_task().await)`
//! says the same, and `map`/`then` are for building the chain as a value to hand to someone else.

use std::time::Duration;

use futures::FutureExt;
use tokio::time::sleep;
use tracing::info;

/// The seed's continuation: `initial_task` (2 s there), then an async step that stores the result.
pub const INITIAL_TASK_DELAY: Duration = Duration::from_millis(300);
pub const STORE_DELAY: Duration = Duration::from_millis(100);

async fn initial_task() -> i32 {
    info!("initial_task: working");
    sleep(INITIAL_TASK_DELAY).await;
    5
}

fn next_task(input: i32) -> i32 {
    info!("next_task: doubling {input}");
    input * 2
}

async fn store_result(value: i32) -> i32 {
    info!("store_result: storing {value}");
    sleep(STORE_DELAY).await;
    value
}

/// The seed's continuation. `map` runs a plain function on the output, `then` an async one; the
/// chain is one future, and like any future it starts only when awaited (or spawned).
pub async fn continuation() -> i32 {
    let chain = initial_task().map(next_task).then(store_result);
    chain.await
}
