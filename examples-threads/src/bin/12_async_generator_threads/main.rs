//! # 12 · Async generator, with threads: a paged API as a lazy `Iterator`, prefetching in a thread
//!
//! The same user service as the async twin: page 1 has user-1..3, page 2 user-4..6, page 3 user-7
//! and user-8; a page takes 150 ms to fetch (a blocking `thread::sleep` stands in for a blocking
//! HTTP call), processing a user takes 40 ms.
//!
//! What it shows:
//! - **Collect, then process:** the first user is touched only after every page is in (450 ms).
//! - **A lazy `Iterator`:** `std::iter::from_fn` turns "fetch page n, then n+1" into an iterator of
//!   pages, `flatten` into an iterator of users, and `for user in users` processes each user as soon
//!   as its page is in: the first after one page delay. Nothing is fetched until `next()` is called.
//!   The total is the same as collecting first.
//! - Further ideas, each in its module: **prefetching in a thread** (`prefetch.rs`); **adapters** on
//!   an endless counter (`adapters.rs`); **a file line by line** with `std::fs` (`file_lines.rs`).
//!
//! What differs from the async twin, and why:
//! - An `Iterator`'s `next()` **blocks the calling thread** until the item is there; a `Stream`'s
//!   `next().await` gives the thread back while it waits. With one consumer that makes no
//!   difference to the timings (compare the summaries); it matters when one thread must serve
//!   many consumers.
//! - The producer is an **OS thread**, not a task: `prefetch.rs` says what that costs.
//! - This is what C++20's `coroutine_generator.cpp` upstream really is: a lazy, blocking generator.
//!
//! Seed: "Asynchrony" > Asynchronous Iteration, "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/coroutine_generator.cpp`, `src/python/asynchrony/async_generator.py`,
//! `src/js/asynchrony/12_async_generator.js`. Async twin: `examples-async/src/bin/12_async_generator/`.
//!
//! Run: `cargo run -p examples-threads --bin 12_async_generator_threads` (about 2.5 s; `--help`).
//! Output of a real run: `docs/output/12_async_generator_threads.txt`.

mod adapters;
mod file_lines;
mod prefetch;
mod report;

use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{init_logging, out, parse_args};
use tracing::info;

use adapters::adapters;
use file_lines::{TempFile, file_round_trip};
use prefetch::{join_fetcher, user_iter_prefetched};
use report::summary_lines;

/// The service's data, page by page (upstream's `PAGES`).
const PAGES: [&[&str]; 3] = [
    &["user-1", "user-2", "user-3"],
    &["user-4", "user-5", "user-6"],
    &["user-7", "user-8"],
];
/// One page request (upstream: 1 s).
const PAGE_DELAY: Duration = Duration::from_millis(150);
/// Processing one user (upstream: 0.2 s).
const PROCESS: Duration = Duration::from_millis(40);

#[derive(Debug, Clone, PartialEq)]
struct Page {
    users: Vec<String>,
    /// The page to ask for next; `None` on the last page. Upstream asks for a fourth page and stops
    /// when it comes back empty: one request for nothing.
    next: Option<usize>,
}

/// Pretends to call the user service for page `number` (counting from 1). Blocks the caller.
fn fetch_page(number: usize) -> Page {
    info!("fetching page {number}...");
    thread::sleep(PAGE_DELAY);
    let users: Vec<String> = number
        .checked_sub(1)
        .and_then(|index| PAGES.get(index))
        .map(|page| page.iter().map(|u| u.to_string()).collect())
        .unwrap_or_default();
    let next = (number < PAGES.len()).then_some(number + 1);
    info!("page {number}: {} users", users.len());
    Page { users, next }
}

fn process_user(user: &str) {
    thread::sleep(PROCESS);
    info!("processed {user}");
}

/// How a run went: the users in the order they were processed, when the first one was available
/// to the consumer, and when the last one was done. Both times count from the start of the run.
#[derive(Debug, Clone, PartialEq)]
struct Consumed {
    users: Vec<String>,
    first_arrival: Duration,
    total: Duration,
}

/// Processes users one by one, as the iterator hands them over.
fn consume(start: Instant, users: impl Iterator<Item = String>) -> Consumed {
    let mut first_arrival = None;
    let mut processed = Vec::new();
    for user in users {
        first_arrival.get_or_insert(start.elapsed());
        process_user(&user);
        processed.push(user);
    }
    Consumed {
        users: processed,
        first_arrival: first_arrival.unwrap_or_default(),
        total: start.elapsed(),
    }
}

// --- 1. Collect every page, then process ---------------------------------------------------------

fn fetch_all_users() -> Vec<String> {
    let mut users = Vec::new();
    let mut next = Some(1);
    while let Some(number) = next {
        let page = fetch_page(number);
        users.extend(page.users);
        next = page.next;
    }
    users
}

fn collect_then_process() -> Consumed {
    let start = Instant::now();
    let users = fetch_all_users();
    consume(start, users.into_iter())
}

// --- 2. An iterator of users, page by page -------------------------------------------------------

/// The paged API as a lazy `Iterator`. `from_fn` keeps a state (the next page to fetch, `None`
/// after the last one) and a step that fetches one page; `flatten` turns the iterator of pages into
/// an iterator of users. Lazy: the first fetch happens at the first `next()`.
fn user_iter() -> impl Iterator<Item = String> {
    let mut next = Some(1);
    std::iter::from_fn(move || {
        let page = fetch_page(next?);
        next = page.next;
        Some(page.users)
    })
    .flatten()
}

#[derive(Parser, Debug)]
#[command(about = "12 · Async generator, with threads: a paged API as a lazy Iterator, a prefetching producer thread, adapters and a file read line by line", long_about = None)]
struct Args {}

fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!("--- collect every page, then process ---");
    let collected = collect_then_process();

    info!("--- an iterator: process each user as its page arrives ---");
    let iterated = consume(Instant::now(), user_iter());

    info!("--- the same iterator, a thread fetching the next page while processing ---");
    let start = Instant::now();
    let (users, fetcher) = user_iter_prefetched()?;
    let prefetched = consume(start, users);
    let pages = join_fetcher(fetcher)?;
    info!("the fetcher fetched {pages} pages");
    anyhow::ensure!(
        collected.users == iterated.users && iterated.users == prefetched.users,
        "all three ways must process the same users in the same order"
    );

    info!("--- adapters: x2, multiples of 4, take 5 ---");
    let (adapted, produced) = adapters();
    info!("got {adapted:?}; the counter produced {produced} numbers");

    info!("--- a file, line by line ---");
    let path = TempFile::unique_path();
    let lines = file_round_trip(path.clone(), prefetched.users.join("\n").as_bytes())?;
    anyhow::ensure!(
        lines == prefetched.users,
        "the file must give back what was written"
    );
    let removed = !std::fs::exists(&path)?;
    anyhow::ensure!(removed, "{} should have been removed", path.display());

    out!();
    out!("Summary");
    for line in summary_lines(
        &collected,
        &iterated,
        &prefetched,
        &adapted,
        produced,
        lines.len(),
    ) {
        out!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
