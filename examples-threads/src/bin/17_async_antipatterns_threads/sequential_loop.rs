//! # 17.3 · Spawn and join in the same loop
//!
//! C++ demo 1: a discarded `std::async` future blocks in its destructor, which serialises the loop.
//! Here `join` right after `spawn` does the same: the time is the sum of the delays; spawning them
//! all first and joining after takes the longest one. Upstream JS `17_async_antipatterns.js` (the
//! sequential loop). The async twin's `sequential_loop.rs` awaits in a loop.

use std::thread;
use std::time::Duration;

/// Four independent look-ups and how long each takes (the same as the async twin's).
pub const QUOTES: [(&str, Duration); 4] = [
    ("EUR", Duration::from_millis(120)),
    ("USD", Duration::from_millis(80)),
    ("GBP", Duration::from_millis(100)),
    ("JPY", Duration::from_millis(60)),
];

pub fn fetch_quote(currency: &str, delay: Duration) -> String {
    thread::sleep(delay);
    format!("{currency} ok")
}

/// The mistake: `join` right after `spawn`, so each thread ends before the next starts.
pub fn quotes_spawn_join_in_a_loop() -> Vec<String> {
    QUOTES
        .iter()
        .map(|&(currency, delay)| {
            thread::spawn(move || fetch_quote(currency, delay))
                .join()
                .expect("a look-up does not panic")
        })
        .collect()
}

/// The fix: start them all, then join them all.
pub fn quotes_spawn_all_then_join() -> Vec<String> {
    let handles: Vec<_> = QUOTES
        .iter()
        .map(|&(currency, delay)| thread::spawn(move || fetch_quote(currency, delay)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a look-up does not panic"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::time;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn spawn_and_join_in_a_loop_takes_the_sum() {
        let (a, one_by_one) = time(quotes_spawn_join_in_a_loop);
        let (b, together) = time(quotes_spawn_all_then_join);
        assert_eq!(a, b);
        assert!(one_by_one >= ms(360), "{one_by_one:?}");
        assert!(together >= ms(120), "{together:?}");
        assert!(together < ms(360), "{together:?}");
    }
}
