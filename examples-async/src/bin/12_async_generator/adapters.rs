//! Adapters on an endless stream: a counter, `map` (x2), `filter` (multiples of 4), `take(5)` give
//! `[0, 4, 8, 12, 16]`. Streams are pulled, so `take` stops the counter after the 9 numbers it
//! needed; nothing is computed ahead.

use std::time::Duration;

use futures::stream::{self, Stream, StreamExt};
use tokio::time::sleep;

/// The counter of the adapter demo yields one number per tick.
pub const TICK: Duration = Duration::from_millis(25);

/// 0, 1, 2, ... one per tick, forever (JS's `countWithDelay` without an end).
pub fn count_with_delay() -> impl Stream<Item = u64> {
    stream::unfold(0u64, |n| async move {
        sleep(TICK).await;
        Some((n, n + 1))
    })
}

/// Doubles, keeps multiples of 4, takes 5. Returns them and how many numbers the counter produced.
pub async fn adapters() -> (Vec<u64>, usize) {
    let mut produced = 0;
    let out = count_with_delay()
        .inspect(|_| produced += 1)
        .map(|n| n * 2)
        // `filter` takes a closure returning a future (it may await); `ready` is an instant one.
        .filter(|n| std::future::ready(n % 4 == 0))
        .take(5)
        .collect::<Vec<u64>>()
        .await;
    (out, produced)
}
