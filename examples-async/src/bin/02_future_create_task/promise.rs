//! "Create a future, complete it later" (the seed's `loop.create_future()` + `set_result`) is a
//! `tokio::sync::oneshot` channel: the `Sender` is the promise, the `Receiver` is the future you
//! await. If the sender is dropped without sending, the receiver gets an error at once; an asyncio
//! future nobody ever completes would make its awaiter wait forever.

use std::time::Duration;

use common::time_async;
use tokio::sync::oneshot;
use tokio::time::sleep;
use tracing::info;

/// How long the seed's `set_result` task waits before completing the future (seed: 2 s).
pub const SET_RESULT_DELAY: Duration = Duration::from_millis(150);
/// How long the task that never sets its result works before it gives up.
pub const GIVE_UP_DELAY: Duration = Duration::from_millis(50);

/// The seed's "Futures and Asyncio Tasks" snippet: create a future, let another task set its
/// result after a while, await it. The result, and how long the await took.
pub async fn set_result_later() -> anyhow::Result<(&'static str, Duration)> {
    // `create_future()`: the sender completes it, the receiver is awaited.
    let (promise, future) = oneshot::channel();
    tokio::spawn(async move {
        sleep(SET_RESULT_DELAY).await;
        // `set_result`. `send` takes the sender by value, so a result can be set only once; it
        // fails only if the receiver is gone, and then nobody wants the value.
        let _ = promise.send("Hello, world!");
    });
    let (result, waited) = time_async(future).await;
    Ok((result?, waited))
}

/// The task meant to set the result fails first and drops its sender: the receiver learns it at
/// once (`RecvError`, C++'s "broken promise"), it does not wait forever. The error text.
pub async fn result_never_set() -> Option<String> {
    let (promise, future) = oneshot::channel::<&'static str>();
    tokio::spawn(async move {
        sleep(GIVE_UP_DELAY).await;
        info!("the task that should set the result gives up without sending");
        drop(promise);
    });
    future.await.err().map(|e| e.to_string())
}
