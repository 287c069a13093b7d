//! # 17.3 · Awaiting in a loop
//!
//! where the calls do not depend on each other: the time is the sum of the delays; `join_all` takes
//! the longest one. Upstream: JS demo 4 (`for ... await`), C++ demo 1 (discarded `std::async`
//! temporaries that serialise a loop). Threads twin: the same file name, spawn and join in the same
//! loop.

use std::time::Duration;

use futures::future::join_all;
use tokio::time::sleep;

/// Four independent look-ups and how long each takes.
pub const QUOTES: [(&str, Duration); 4] = [
    ("EUR", Duration::from_millis(120)),
    ("USD", Duration::from_millis(80)),
    ("GBP", Duration::from_millis(100)),
    ("JPY", Duration::from_millis(60)),
];

pub async fn fetch_quote(currency: &str, delay: Duration) -> String {
    sleep(delay).await;
    format!("{currency} ok")
}

/// The mistake: each `.await` finishes before the next call starts. Time: the sum.
pub async fn quotes_one_after_another() -> Vec<String> {
    let mut out = Vec::new();
    for (currency, delay) in QUOTES {
        out.push(fetch_quote(currency, delay).await);
    }
    out
}

/// The fix: build all the futures, then await them together. Time: the longest.
pub async fn quotes_together() -> Vec<String> {
    join_all(QUOTES.map(|(currency, delay)| fetch_quote(currency, delay))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::time_async;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn awaiting_in_a_loop_takes_the_sum_and_join_all_the_max() {
        let (a, one_by_one) = time_async(quotes_one_after_another()).await;
        let (b, together) = time_async(quotes_together()).await;
        assert_eq!(a, b, "same answers in the same order");
        assert_eq!(one_by_one, ms(360));
        assert_eq!(together, ms(120));
    }
}
