//! Continuations (the seed's `.then`): a thread runs `initial_task`, then `next_task` on its
//! result, then `store_result`: in a thread, "then" is the next line. (C++'s `.then` never made it
//! into the standard: it is from the Concurrency TS.)
//!
//! Seed: "Asynchronous Continuations". Upstream: `src/cpp/asynchrony/future.cpp`.

use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use tracing::info;

/// The seed's continuation: `initial_task` (2 s there), then a step that stores the result.
pub const INITIAL_TASK_DELAY: Duration = Duration::from_millis(300);
pub const STORE_DELAY: Duration = Duration::from_millis(100);

fn initial_task() -> i32 {
    info!("initial_task: working");
    thread::sleep(INITIAL_TASK_DELAY);
    5
}

fn next_task(input: i32) -> i32 {
    info!("next_task: doubling {input}");
    input * 2
}

fn store_result(value: i32) -> i32 {
    info!("store_result: storing {value}");
    thread::sleep(STORE_DELAY);
    value
}

/// The seed's continuation, `std::async(initial_task).then(next_task)`, then one more step: on a
/// thread of its own, "then" is simply the next call.
pub fn continuation() -> anyhow::Result<i32> {
    let chain = thread::Builder::new()
        .name("continuation".into())
        .spawn(|| store_result(next_task(initial_task())))?;
    chain
        .join()
        .map_err(|_| anyhow!("the continuation panicked"))
}
