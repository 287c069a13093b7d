//! Waiting with a deadline, in a loop (the seed's `future.wait_for(500ms)` polling):
//! `tokio::time::timeout` over `&mut handle` gives up on the *wait* every 200 ms, printing
//! "Waiting for the result..." four times, while the task itself keeps running (only the borrow is
//! dropped; a timeout over the owned handle would drop the handle, which detaches the task, and a
//! timeout over a plain future would drop and so cancel the work itself).
//!
//! Seed: "Asynchronous Waiting with `std::future`" (`wait_for` polling -> `timeout` over
//! `&mut JoinHandle`). Upstream: `src/cpp/asynchrony/future_timed_wait.cpp`.

use std::time::Duration;

use tokio::time::{sleep, timeout};
use tracing::info;

/// The seed's `slow_add` (3 s) and its `wait_for` period (500 ms), scaled.
pub const SLOW_ADD_DELAY: Duration = Duration::from_millis(900);
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// The seed's `slow_add`: 3 + 4, slowly.
async fn slow_add(a: i32, b: i32) -> i32 {
    sleep(SLOW_ADD_DELAY).await;
    a + b
}

/// The seed's `while (future.wait_for(500ms) != ready) { "Waiting for the result..." }`.
/// Returns the result and how many waits ran out before it was there.
pub async fn wait_with_polling() -> anyhow::Result<(i32, u32)> {
    let mut task = tokio::spawn(slow_add(3, 4));
    let mut waits = 0;
    let result = loop {
        // `&mut task`: when the timeout fires it drops only this borrow; the task runs on.
        match timeout(POLL_EVERY, &mut task).await {
            Ok(joined) => break joined?,
            Err(_elapsed) => {
                waits += 1;
                info!("Waiting for the result...");
            }
        }
    };
    info!("Result: {result}");
    Ok((result, waits))
}
