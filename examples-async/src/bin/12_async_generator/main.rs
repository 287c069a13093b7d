//! # 12 · Async generator: a paged API as a `Stream`, adapters, prefetching, and a file line by line
//!
//! A user service returns its users a page at a time: page 1 has user-1..3, page 2 user-4..6, page 3
//! user-7 and user-8. Each page takes 150 ms to fetch, and processing a user takes 40 ms. Upstream
//! uses 1 s and 0.2 s; the ratio is kept, the seconds scaled down.
//!
//! What it shows:
//! - **Collect, then process:** the first user is touched only after every page is in (450 ms).
//! - **A `Stream`, processed as it arrives:** `futures::stream::unfold` turns "fetch page n, then
//!   n+1" into a stream of pages, `flatten` into a stream of users, and `while let Some(user) =
//!   users.next().await` (Rust's `for await`) processes each user as soon as its page is in: the
//!   first after one page delay (150 ms). Like every future, the stream is lazy: nothing is fetched
//!   until it is polled. The total is the same as collecting first (upstream's example stops here).
//! - Further ideas, each in its module: **prefetching** the next page in a task, which lowers the
//!   total (`prefetch.rs`); **adapters** `map`/`filter`/`take` on an endless stream (`adapters.rs`);
//!   **a file line by line** with `tokio::fs`, the seed's `for await` over `readline` (`file_lines.rs`).
//!
//! Why `futures::stream::unfold` and not the `async-stream` crate: `unfold` is in `futures`, which
//! every example already uses, and it shows what a stream is (a state and a step that returns the
//! next item and the next state). `async_stream::stream! { ... yield x; }` reads more like a Python
//! generator at the cost of a macro and a dependency. Native `async gen` blocks are not stable Rust
//! yet. (The seed's Python `AsyncCounter` is broken: `__aiter__` must not be `async def`.)
//!
//! Seed: "Asynchrony" > Asynchronous Iteration (Python), `for-await-of` (JavaScript). Upstream:
//! `src/python/asynchrony/async_generator.py`, `src/js/asynchrony/12_async_generator.js`,
//! `src/cpp/asynchrony/coroutine_generator.cpp`. Threads twin: `examples-threads/src/bin/12_async_generator_threads/`.
//!
//! Run: `cargo run -p examples-async --bin 12_async_generator` (about 2.5 s; no flags but `--help`).
//! Output of a real run: `docs/output/12_async_generator.txt`.

mod adapters;
mod file_lines;
mod prefetch;
mod report;

use std::pin::pin;
use std::time::Duration;

use clap::Parser;
use common::{init_logging, out, parse_args};
use futures::stream::{self, Stream, StreamExt};
use tokio::time::{Instant, sleep};
use tracing::info;

use adapters::adapters;
use file_lines::{TempFile, file_round_trip};
use prefetch::user_stream_prefetched;
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

/// Pretends to call the user service for page `number` (counting from 1).
async fn fetch_page(number: usize) -> Page {
    info!("fetching page {number}...");
    sleep(PAGE_DELAY).await;
    let users: Vec<String> = number
        .checked_sub(1)
        .and_then(|index| PAGES.get(index))
        .map(|page| page.iter().map(|u| u.to_string()).collect())
        .unwrap_or_default();
    let next = (number < PAGES.len()).then_some(number + 1);
    info!("page {number}: {} users", users.len());
    Page { users, next }
}

async fn process_user(user: &str) {
    sleep(PROCESS).await;
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

/// Processes a stream of users one by one, as they arrive. `pin!` because `next()` needs the
/// stream pinned (a stream built from async blocks may point into itself).
async fn consume(start: Instant, users: impl Stream<Item = String>) -> Consumed {
    let mut users = pin!(users);
    let mut first_arrival = None;
    let mut processed = Vec::new();
    // Rust's `async for user in users` / `for await (const user of users)`.
    while let Some(user) = users.next().await {
        first_arrival.get_or_insert(start.elapsed());
        process_user(&user).await;
        processed.push(user);
    }
    Consumed {
        users: processed,
        first_arrival: first_arrival.unwrap_or_default(),
        total: start.elapsed(),
    }
}

// --- 1. Collect every page, then process ---------------------------------------------------------

async fn fetch_all_users() -> Vec<String> {
    let mut users = Vec::new();
    let mut next = Some(1);
    while let Some(number) = next {
        let page = fetch_page(number).await;
        users.extend(page.users);
        next = page.next;
    }
    users
}

async fn collect_then_process() -> Consumed {
    let start = Instant::now();
    let users = fetch_all_users().await;
    consume(start, stream::iter(users)).await
}

// --- 2. A stream of users, page by page ----------------------------------------------------------

/// The paged API as a `Stream`. `unfold` keeps a state (the next page to fetch, `None` after the
/// last one) and a step that fetches one page and returns it with the next state; `flatten` turns
/// the stream of pages into a stream of users. Lazy: the first fetch starts at the first poll.
/// (A real client would yield `Result<User, Error>` and the consumer would use `try_next`.)
fn user_stream() -> impl Stream<Item = String> {
    stream::unfold(Some(1), |next| async move {
        let page = fetch_page(next?).await;
        Some((stream::iter(page.users), page.next))
    })
    .flatten()
}

// One thread: a stream is pulled by one consumer; the fetcher task shares the thread with it.
#[derive(Parser, Debug)]
#[command(about = "12 · Async generator: a paged API as a Stream, processed as pages arrive, with adapters, prefetching and a file read line by line", long_about = None)]
struct Args {}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();

    info!("--- collect every page, then process ---");
    let collected = collect_then_process().await;

    info!("--- a stream: process each user as its page arrives ---");
    let streamed = consume(Instant::now(), user_stream()).await;

    info!("--- the same stream, fetching the next page while processing ---");
    let start = Instant::now();
    let (users, fetcher) = user_stream_prefetched();
    let prefetched = consume(start, users).await;
    let pages = fetcher.await?;
    info!("the fetcher fetched {pages} pages");
    anyhow::ensure!(
        collected.users == streamed.users && streamed.users == prefetched.users,
        "all three ways must process the same users in the same order"
    );

    info!("--- adapters: x2, multiples of 4, take 5 ---");
    let (adapted, produced) = adapters().await;
    info!("got {adapted:?}; the counter produced {produced} numbers");

    info!("--- a file, line by line ---");
    let path = TempFile::unique_path();
    let lines = file_round_trip(path.clone(), prefetched.users.join("\n").as_bytes()).await?;
    anyhow::ensure!(
        lines == prefetched.users,
        "the file must give back what was written"
    );
    let removed = !tokio::fs::try_exists(&path).await?;
    anyhow::ensure!(removed, "{} should have been removed", path.display());

    out!();
    out!("Summary");
    for line in summary_lines(
        &collected,
        &streamed,
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
