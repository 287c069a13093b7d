//! Support for `main.rs`, no lesson in it: the ideal totals with and without prefetching, and the
//! summary lines.

use std::time::Duration;

use common::{Comparison, fmt_duration};

use crate::{Consumed, PAGE_DELAY, PAGES, PROCESS};

/// Without prefetch every page costs its fetch plus its processing, one after another.
pub fn ideal_iterated_total() -> Duration {
    PAGES
        .iter()
        .map(|page| PAGE_DELAY + PROCESS * page.len() as u32)
        .sum()
}

/// With prefetch page n+1 is fetched while page n is processed: page i arrives at i x PAGE_DELAY
/// (the fetcher never waits, as long as processing a page takes no longer than two fetches), and
/// the consumer starts a page when it has arrived and the previous one is done.
pub fn ideal_prefetched_total() -> Duration {
    let mut done = Duration::ZERO;
    for (index, page) in PAGES.iter().enumerate() {
        let arrived = PAGE_DELAY * (index as u32 + 1);
        done = done.max(arrived) + PROCESS * page.len() as u32;
    }
    done
}

/// The summary: when the first user arrived and when all were done for each way, the saving of the
/// prefetch beside its ideal, the adapters' numbers and the file's lines.
pub fn summary_lines(
    collected: &Consumed,
    iterated: &Consumed,
    prefetched: &Consumed,
    adapted: &[u64],
    produced: usize,
    lines_read: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let ideal_saving = ideal_iterated_total() - ideal_prefetched_total();
    lines.push(format!(
        "collect all, then process: first user after {} (ideal {}: every page), all {} after {}",
        fmt_duration(collected.first_arrival),
        fmt_duration(PAGE_DELAY * PAGES.len() as u32),
        collected.users.len(),
        fmt_duration(collected.total)
    ));
    lines.push(format!(
        "iterator: first user after {} (ideal {}: one page), all {} after {}",
        fmt_duration(iterated.first_arrival),
        fmt_duration(PAGE_DELAY),
        iterated.users.len(),
        fmt_duration(iterated.total)
    ));
    lines.push(
        Comparison::new(
            "iterator",
            iterated.total,
            "iterator with prefetch",
            prefetched.total,
            ideal_iterated_total().as_secs_f64() / ideal_prefetched_total().as_secs_f64(),
        )
        .to_string(),
    );
    lines.push(format!(
        "prefetch saved {} (ideal {})",
        fmt_duration(iterated.total.saturating_sub(prefetched.total)),
        fmt_duration(ideal_saving)
    ));
    lines.push(format!(
        "adapters (x2, multiples of 4, take 5): {adapted:?} from {produced} numbers produced"
    ));
    lines.push(format!(
        "file: {} lines read back with std::fs, temporary file removed",
        lines_read
    ));
    lines
}
