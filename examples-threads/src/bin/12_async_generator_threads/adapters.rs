//! Adapters on an endless iterator: a counter, `map` (x2), `filter` (multiples of 4), `take(5)` give
//! `[0, 4, 8, 12, 16]`. Iterators are pulled, so `take` stops the counter after the 9 numbers it
//! needed; nothing is computed ahead.

use std::thread;
use std::time::Duration;

/// The counter of the adapter demo yields one number per tick.
pub const TICK: Duration = Duration::from_millis(25);

/// 0, 1, 2, ... one per tick, forever (JS's `countWithDelay` without an end).
pub fn count_with_delay() -> impl Iterator<Item = u64> {
    let mut next = 0u64;
    std::iter::from_fn(move || {
        thread::sleep(TICK);
        next += 1;
        Some(next - 1)
    })
}

/// Doubles, keeps multiples of 4, takes 5. Returns them and how many numbers the counter produced.
pub fn adapters() -> (Vec<u64>, usize) {
    let mut produced = 0;
    let out = count_with_delay()
        .inspect(|_| produced += 1)
        .map(|n| n * 2)
        .filter(|n| n % 4 == 0)
        .take(5)
        .collect::<Vec<u64>>();
    (out, produced)
}
