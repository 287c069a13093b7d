//! The crawl's delays, drawn from a seeded generator before anything runs: how long each producer
//! takes to find each URL, and how long a consumer takes to download and save it. Drawn up front, so
//! that a seed fixes every delay whatever order the threads happen to run in.
//!
//! A seed fixes the delays but not the OS scheduler, so the same seed may hand a URL to a different
//! consumer on another run: the accounting must hold for every interleaving, and the tests run 100
//! seeded patterns (with delays of a few milliseconds, to stay fast).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{PRODUCERS, URLS_PER_PRODUCER};

/// The ranges the random delays are drawn from, in milliseconds (inclusive).
#[derive(Debug, Clone, Copy)]
pub struct Delays {
    pub find: (u64, u64),
    pub download: (u64, u64),
    pub save: (u64, u64),
}

pub const DELAYS: Delays = Delays {
    find: (30, 120),
    download: (100, 300),
    save: (40, 120),
};

/// A URL found by a producer, with the delays it will cost (drawn when the plan is made, so that a
/// seed fixes every delay whatever order the threads happen to run in).
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub find: Duration,
    pub download: Duration,
    pub save: Duration,
}

/// What each producer will find, in order: `plan[p]` is producer `p`'s list.
pub fn plan(seed: u64, delays: Delays) -> Vec<Vec<Page>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |(low, high): (u64, u64)| Duration::from_millis(rng.random_range(low..=high));
    PRODUCERS
        .iter()
        .map(|(_, kind)| {
            (1..=URLS_PER_PRODUCER)
                .map(|i| Page {
                    url: format!("https://example.com/{kind}-{i}"),
                    find: draw(delays.find),
                    download: draw(delays.download),
                    save: draw(delays.save),
                })
                .collect()
        })
        .collect()
}
