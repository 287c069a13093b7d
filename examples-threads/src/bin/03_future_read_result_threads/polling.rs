//! Waiting with a deadline, in a loop (the seed's `future.wait_for(500ms)`): `recv_timeout` on a
//! one-shot channel gives up on the wait every 200 ms, prints "Waiting for the result..." and
//! tries again, while `slow_add(3, 4)` keeps computing on its own thread.
//!
//! Seed: "Asynchronous Waiting with `std::future`" (`wait_for` polling -> `recv_timeout`).
//! Upstream: `src/cpp/asynchrony/future_timed_wait.cpp`.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use tracing::info;

use crate::outcome::panic_message;

/// The seed's `slow_add` (3 s) and its `wait_for` period (500 ms), scaled.
pub const SLOW_ADD_DELAY: Duration = Duration::from_millis(900);
pub const POLL_EVERY: Duration = Duration::from_millis(200);

/// The seed's `slow_add`: 3 + 4, slowly.
fn slow_add(a: i32, b: i32) -> i32 {
    thread::sleep(SLOW_ADD_DELAY);
    a + b
}

/// The seed's `while (future.wait_for(500ms) != ready) { "Waiting for the result..." }`.
/// Returns the result and how many waits ran out before it was there.
pub fn wait_with_polling() -> anyhow::Result<(i32, u32)> {
    let (result_tx, result_rx) = mpsc::sync_channel(1);
    let worker = thread::Builder::new()
        .name("slow-add".into())
        .spawn(move || {
            let _ = result_tx.send(slow_add(3, 4));
        })?;
    let mut waits = 0;
    let result = loop {
        // Gives up on this wait after `POLL_EVERY`; the worker is not affected.
        match result_rx.recv_timeout(POLL_EVERY) {
            Ok(sum) => break sum,
            Err(RecvTimeoutError::Timeout) => {
                waits += 1;
                info!("Waiting for the result...");
            }
            // The worker ended without sending: it panicked. `join` says how.
            Err(RecvTimeoutError::Disconnected) => {
                return Err(match worker.join() {
                    Err(panic) => anyhow!("slow_add panicked: {}", panic_message(&*panic)),
                    Ok(()) => anyhow!("slow_add ended without a result"),
                });
            }
        }
    };
    worker.join().map_err(|_| anyhow!("slow-add panicked"))?;
    info!("Result: {result}");
    Ok((result, waits))
}
