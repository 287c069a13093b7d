//! The promise/future pair (`std::promise<int>` + `std::future<int>`, the seed's `set_value`
//! snippet) is a one-shot channel: `mpsc::sync_channel(1)`, the `SyncSender` moved into the thread
//! that sets the value, the `Receiver` kept by the thread that waits. A sender dropped without
//! sending wakes the receiver with `RecvError` at once (C++: `std::future_error`, "broken promise").
//!
//! std has no one-shot channel type: a `sync_channel(1)` used once plays the part, and "set only
//! once" is kept by moving the sender into the one thread that sets it, not by the type.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::anyhow;
use common::time;
use tracing::info;

/// How long the thread holding the promise works before it sets the value (seed: 1 s).
pub const SET_VALUE_DELAY: Duration = Duration::from_millis(150);
/// How long the thread that never sets its value works before it gives up.
pub const GIVE_UP_DELAY: Duration = Duration::from_millis(50);

/// The seed's `std::promise` / `std::future` snippet: a thread sets the value after a while, the
/// main thread waits for it. The value, and how long the wait took.
pub fn set_value_later() -> anyhow::Result<(i32, Duration)> {
    // `std::promise<int>` + `get_future()`: capacity 1, so `send` never blocks the setter.
    let (promise, future) = mpsc::sync_channel(1);
    let setter = thread::Builder::new()
        .name("set-value".into())
        .spawn(move || {
            thread::sleep(SET_VALUE_DELAY);
            // `set_value(10)`. It fails only if the receiver is gone, and then nobody wants it.
            let _ = promise.send(10);
        })?;
    // `future.get()`: blocks this thread, and only this one, until the value is there.
    let (value, waited) = time(|| future.recv());
    setter.join().map_err(|_| anyhow!("set-value panicked"))?;
    Ok((value?, waited))
}

/// The thread meant to set the value gives up first and drops its sender: the receiver learns it
/// at once (`RecvError`, C++'s "broken promise"), it does not wait forever. The error text.
pub fn value_never_set() -> anyhow::Result<Option<String>> {
    let (promise, future) = mpsc::sync_channel::<i32>(1);
    let setter = thread::Builder::new()
        .name("set-value".into())
        .spawn(move || {
            thread::sleep(GIVE_UP_DELAY);
            info!("the thread that should set the value gives up without sending");
            drop(promise);
        })?;
    let error = future.recv().err().map(|e| e.to_string());
    setter.join().map_err(|_| anyhow!("set-value panicked"))?;
    Ok(error)
}
