//! What the producers and consumers of `main.rs` report, the accounting over a whole run (each URL
//! exactly once, the most consumers busy at once), the least the run can take, and the summary.

use std::time::Duration;

use common::fmt_duration;

use super::CONSUMERS;
use super::plan::{DELAYS, Delays, plan};

/// What one producer did.
#[derive(Debug)]
pub struct ProducerReport {
    pub produced: Vec<String>,
    pub done_at: Duration,
}

/// What one consumer did.
#[derive(Debug)]
pub struct ConsumerReport {
    pub consumed: Vec<String>,
    /// When it worked on each URL: from taking it to having saved it.
    pub busy: Vec<(Duration, Duration)>,
    pub stopped_at: Duration,
}

/// What a whole run measured.
#[derive(Debug)]
pub struct CrawlRun {
    /// Every URL produced, producer by producer.
    pub produced: Vec<String>,
    /// What each consumer consumed (index 0 is consumer-1).
    pub consumers: Vec<ConsumerReport>,
    /// When the last producer was done.
    pub producers_done: Duration,
    pub total: Duration,
}

impl CrawlRun {
    /// Every consumed URL, sorted.
    pub fn consumed_sorted(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .consumers
            .iter()
            .flat_map(|c| c.consumed.iter().cloned())
            .collect();
        all.sort();
        all
    }

    /// The most consumers that were working on a URL at the same moment: the proof that the work
    /// was shared (with `n` consumers it can never exceed `n`).
    pub fn most_busy_at_once(&self) -> usize {
        // Sweep the starts and ends in time order; at equal times, ends first (one consumer handing
        // over to another is not two at once).
        let mut events: Vec<(Duration, i32)> = self
            .consumers
            .iter()
            .flat_map(|c| c.busy.iter())
            .flat_map(|&(from, to)| [(from, 1), (to, -1)])
            .collect();
        events.sort();
        let (mut now, mut most) = (0i32, 0i32);
        for (_, step) in events {
            now += step;
            most = most.max(now);
        }
        usize::try_from(most).expect("never negative")
    }

    /// True when the consumed URLs are exactly the produced ones: none lost, none twice.
    pub fn each_exactly_once(&self) -> bool {
        let mut produced = self.produced.clone();
        produced.sort();
        produced == self.consumed_sorted()
    }
}

/// The least the run can take: the download and save time shared perfectly among the consumers.
pub fn lower_bound(seed: u64, delays: Delays) -> (Duration, Duration) {
    let work: Duration = plan(seed, delays)
        .iter()
        .flatten()
        .map(|p| p.download + p.save)
        .sum();
    (work, work / CONSUMERS as u32)
}

/// The summary: the accounting, who did how much, when everyone stopped, and the total beside the
/// least it can be.
pub fn print_summary(seed: u64, r: &CrawlRun) {
    let consumed: usize = r.consumers.iter().map(|c| c.consumed.len()).sum();
    let per_consumer: Vec<String> = r
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| format!("consumer-{} {}", i + 1, c.consumed.len()))
        .collect();
    let stopped: Vec<String> = r
        .consumers
        .iter()
        .map(|c| fmt_duration(c.stopped_at))
        .collect();
    let all_after = r.consumers.iter().all(|c| c.stopped_at >= r.producers_done);
    let (work, least) = lower_bound(seed, DELAYS);

    common::out!();
    common::out!("Summary");
    common::out!(
        "  produced {} {} consumed {consumed} ({})",
        r.produced.len(),
        if r.produced.len() == consumed {
            "="
        } else {
            "!="
        },
        if r.each_exactly_once() {
            "each URL exactly once"
        } else {
            "NOT each URL exactly once"
        }
    );
    common::out!(
        "  per consumer: {}; at most {} busy at once",
        per_consumer.join(", "),
        r.most_busy_at_once()
    );
    common::out!(
        "  producers done at {}; consumers stopped at {} ({})",
        fmt_duration(r.producers_done),
        stopped.join(", "),
        if all_after {
            "all after the producers"
        } else {
            "SOME BEFORE THE PRODUCERS"
        }
    );
    common::out!(
        "  total {} (at least {}: the download and save time, {}, shared by {CONSUMERS} consumers)",
        fmt_duration(r.total),
        fmt_duration(least),
        fmt_duration(work)
    );
}
