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
//! - **Prefetching** is what lowers the total: a spawned task fetches the next page while the
//!   consumer processes the current one, handing pages over a bounded channel of capacity 1 (at most
//!   one page waits, so a slow consumer slows the fetcher instead of piling up pages). Measured
//!   saving printed next to the ideal.
//! - **Adapters:** an endless counter stream, `map` (x2), `filter` (multiples of 4), `take(5)`:
//!   `[0, 4, 8, 12, 16]`. Streams are pulled, so `take` stops the counter after the 9 numbers it
//!   needed; nothing is computed ahead.
//! - **A file line by line** with `tokio::fs` (the seed's `for await (const line of rl)`): the users
//!   are written to a temporary file and read back; the file removes itself when dropped, also when
//!   reading fails halfway (a test feeds it invalid UTF-8).
//!
//! Why `futures::stream::unfold` and not the `async-stream` crate: `unfold` is in `futures`, which
//! every example already uses, and it shows what a stream is (a state and a step that returns the
//! next item and the next state). `async_stream::stream! { ... yield x; }` reads more like a Python
//! generator at the cost of a macro and a dependency. Native `async gen` blocks are not stable Rust
//! yet. (The seed's Python `AsyncCounter` is broken: `__aiter__` must not be `async def`.)
//!
//! Seed: "Asynchrony" > Asynchronous Iteration (Python), Asynchronous Iteration with `for-await-of`
//! (JavaScript). Upstream: `src/python/asynchrony/async_generator.py`,
//! `src/js/asynchrony/12_async_generator.js`, `src/cpp/asynchrony/coroutine_generator.cpp`.
//! Threads twin: `examples-threads/src/bin/12_async_generator_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 12_async_generator` (about 2.5 s; no flags but `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- collect every page, then process ---
//!   0.000s  INFO [main] fetching page 1...
//!   0.151s  INFO [main] page 1: 3 users
//!   ...
//!   0.454s  INFO [main] page 3: 2 users
//!   0.496s  INFO [main] processed user-1
//!   ...
//!   0.785s  INFO [main] --- a stream: process each user as its page arrives ---
//!   0.785s  INFO [main] fetching page 1...
//!   0.936s  INFO [main] page 1: 3 users
//!   0.980s  INFO [main] processed user-1
//!   ...
//!   1.574s  INFO [main] --- the same stream, fetching the next page while processing ---
//!   1.574s  INFO [main] fetching page 1...
//!   1.725s  INFO [main] page 1: 3 users
//!   1.725s  INFO [main] fetching page 2...
//!   1.766s  INFO [main] processed user-1
//!   ...
//!
//! Summary
//!   collect all, then process: first user after 453 ms (ideal 450 ms: every page), all 8 after 785 ms
//!   stream: first user after 151 ms (ideal 150 ms: one page), all 8 after 789 ms
//!   stream 789 ms | stream with prefetch 535 ms | 1.47x, ideal 1.45x
//!   prefetch saved 254 ms (ideal 240 ms)
//!   adapters (x2, multiples of 4, take 5): [0, 4, 8, 12, 16] from 9 numbers produced
//!   file: 8 lines read back with tokio::fs, temporary file removed
//! ```

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, out, parse_args};
use futures::stream::{self, Stream, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};
use tracing::{info, warn};

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
/// The counter of the adapter demo yields one number per tick.
const TICK: Duration = Duration::from_millis(25);

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

// --- 3. The same stream, with the next page fetched while this one is processed -----------------

/// A fetcher task runs ahead of the consumer: it fetches page n+1 as soon as page n is handed
/// over. Capacity 1 bounds how far ahead it gets: when a page is already waiting, `send` waits too
/// (backpressure, as in 06_data_sharing_queue). When the consumer drops the stream, `send` fails
/// and the fetcher stops after its current page. Its handle says how many pages it fetched (and
/// would carry its panic, if it had one).
///
/// Unlike `user_stream`, this one starts fetching when it is created: a spawned task is not lazy.
fn user_stream_prefetched() -> (impl Stream<Item = String>, JoinHandle<usize>) {
    let (pages_tx, pages_rx) = mpsc::channel::<Page>(1);
    let fetcher = tokio::spawn(async move {
        let mut fetched = 0;
        let mut next = Some(1);
        while let Some(number) = next {
            let page = fetch_page(number).await;
            fetched += 1;
            next = page.next;
            if pages_tx.send(page).await.is_err() {
                info!("the consumer is gone: the fetcher stops");
                break;
            }
        }
        fetched
    });
    let users = stream::unfold(pages_rx, |mut pages_rx| async move {
        let page = pages_rx.recv().await?;
        Some((stream::iter(page.users), pages_rx))
    })
    .flatten();
    (users, fetcher)
}

/// Without prefetch every page costs its fetch plus its processing, one after another.
fn ideal_streamed_total() -> Duration {
    PAGES
        .iter()
        .map(|page| PAGE_DELAY + PROCESS * page.len() as u32)
        .sum()
}

/// With prefetch page n+1 is fetched while page n is processed: page i arrives at i x PAGE_DELAY
/// (the fetcher never waits, as long as processing a page takes no longer than two fetches), and
/// the consumer starts a page when it has arrived and the previous one is done.
fn ideal_prefetched_total() -> Duration {
    let mut done = Duration::ZERO;
    for (index, page) in PAGES.iter().enumerate() {
        let arrived = PAGE_DELAY * (index as u32 + 1);
        done = done.max(arrived) + PROCESS * page.len() as u32;
    }
    done
}

// --- 4. Adapters on an endless stream ------------------------------------------------------------

/// 0, 1, 2, ... one per tick, forever (JS's `countWithDelay` without an end).
fn count_with_delay() -> impl Stream<Item = u64> {
    stream::unfold(0u64, |n| async move {
        sleep(TICK).await;
        Some((n, n + 1))
    })
}

/// Doubles, keeps multiples of 4, takes 5. Returns them and how many numbers the counter produced.
async fn adapters() -> (Vec<u64>, usize) {
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

// --- 5. A file, line by line ---------------------------------------------------------------------

/// A file in the temporary directory that removes itself when dropped: after a normal end, an
/// early `?` return or a panic alike.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A path in the temporary directory, unique per process and per call (tests run in parallel
    /// in one process).
    fn unique_path() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "12_async_generator-{}-{}.txt",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        std::env::temp_dir().join(name)
    }

    async fn create(path: PathBuf, contents: &[u8]) -> std::io::Result<TempFile> {
        // Built before the write, so a failed or partial write is cleaned up too.
        let file = TempFile { path };
        tokio::fs::write(&file.path, contents).await?;
        Ok(file)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // `drop` cannot `.await`, so this is the blocking `std::fs`: one short system call, which
        // is acceptable even on the runtime's thread. (`tokio::fs` itself runs `std::fs` on the
        // blocking pool.)
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("could not remove {}: {e}", self.path.display()),
        }
    }
}

/// Reads `path` line by line. Each `next_line().await` reads only as far as the next newline, so
/// a large file never sits in memory at once. Invalid UTF-8 is an error, returned, not a panic.
async fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    let file = tokio::fs::File::open(path).await?;
    let mut lines = BufReader::new(file).lines();
    let mut read = Vec::new();
    // The seed's `for await (const line of rl)`.
    while let Some(line) = lines.next_line().await? {
        info!("line from file: {line}");
        read.push(line);
    }
    Ok(read)
}

/// Writes `contents` to a temporary file at `path` and reads it back line by line. The file is
/// gone by the time this returns, whether it returns the lines or an error.
async fn file_round_trip(path: PathBuf, contents: &[u8]) -> std::io::Result<Vec<String>> {
    let file = TempFile::create(path, contents).await?;
    info!("wrote {} bytes to {}", contents.len(), file.path.display());
    let lines = read_lines(&file.path).await?;
    Ok(lines)
    // `file` is dropped here, and on the `?` above: the file is removed either way.
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

    let ideal_saving = ideal_streamed_total() - ideal_prefetched_total();
    out!();
    out!("Summary");
    out!(
        "  collect all, then process: first user after {} (ideal {}: every page), all {} after {}",
        fmt_duration(collected.first_arrival),
        fmt_duration(PAGE_DELAY * PAGES.len() as u32),
        collected.users.len(),
        fmt_duration(collected.total)
    );
    out!(
        "  stream: first user after {} (ideal {}: one page), all {} after {}",
        fmt_duration(streamed.first_arrival),
        fmt_duration(PAGE_DELAY),
        streamed.users.len(),
        fmt_duration(streamed.total)
    );
    out!(
        "  {}",
        Comparison::new(
            "stream",
            streamed.total,
            "stream with prefetch",
            prefetched.total,
            ideal_streamed_total().as_secs_f64() / ideal_prefetched_total().as_secs_f64()
        )
    );
    out!(
        "  prefetch saved {} (ideal {})",
        fmt_duration(streamed.total.saturating_sub(prefetched.total)),
        fmt_duration(ideal_saving)
    );
    out!("  adapters (x2, multiples of 4, take 5): {adapted:?} from {produced} numbers produced");
    out!(
        "  file: {} lines read back with tokio::fs, temporary file removed",
        lines.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Timings on the paused clock, exact. The file tests use the real clock (there is nothing to
    //! time, and `tokio::fs` works on the blocking pool).
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn all_users() -> Vec<String> {
        (1..=8).map(|n| format!("user-{n}")).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_delivers_the_first_user_after_exactly_one_page() {
        let streamed = consume(Instant::now(), user_stream()).await;
        assert_eq!(streamed.first_arrival, PAGE_DELAY);
        assert_eq!(streamed.users, all_users());
        // Collecting first makes the first user wait for every page.
        let collected = collect_then_process().await;
        assert_eq!(collected.first_arrival, ms(3 * 150));
        assert_eq!(collected.users, all_users());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_alone_saves_no_time_prefetching_does() {
        let collected = collect_then_process().await;
        let streamed = consume(Instant::now(), user_stream()).await;
        let start = Instant::now();
        let (users, fetcher) = user_stream_prefetched();
        let prefetched = consume(start, users).await;
        assert_eq!(fetcher.await.expect("the fetcher does not panic"), 3);
        // 3 pages x 150 + 8 users x 40, one after another.
        assert_eq!(collected.total, ms(770));
        assert_eq!(streamed.total, ms(770));
        assert_eq!(streamed.total, ideal_streamed_total());
        // Pages 2 and 3 are fetched while pages 1 and 2 are processed: 240 ms hidden.
        assert_eq!(prefetched.total, ms(530));
        assert_eq!(prefetched.total, ideal_prefetched_total());
        assert_eq!(prefetched.first_arrival, PAGE_DELAY);
        assert_eq!(prefetched.users, all_users());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_is_lazy_until_polled() {
        let users = user_stream();
        sleep(ms(1000)).await;
        // Had it fetched during that second, the first user would be ready at once.
        let streamed = consume(Instant::now(), users).await;
        assert_eq!(streamed.first_arrival, PAGE_DELAY);
    }

    #[tokio::test(start_paused = true)]
    async fn adapters_give_0_4_8_12_16_and_take_stops_the_counter() {
        let ((out, produced), took) = common::time_async(adapters()).await;
        assert_eq!(out, [0, 4, 8, 12, 16]);
        // 0..=8 doubled reach 16: nine numbers, nothing computed ahead.
        assert_eq!(produced, 9);
        assert_eq!(took, TICK * 9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_that_stops_early_stops_the_fetcher() {
        let (users, fetcher) = user_stream_prefetched();
        let first_two: Vec<String> = users.take(2).collect().await;
        assert_eq!(first_two, ["user-1", "user-2"]);
        // `take(2)` dropped the stream (and its receiver) at 150 ms, while the fetcher was fetching
        // page 2. It finishes that page, its `send` fails, and it stops: page 3 is never fetched.
        let fetched = fetcher.await.expect("the fetcher does not panic");
        assert_eq!(fetched, 2);
    }

    #[tokio::test]
    async fn a_file_is_read_line_by_line_and_removed() {
        let users = all_users();
        let path = TempFile::unique_path();
        let lines = file_round_trip(path.clone(), users.join("\n").as_bytes())
            .await
            .expect("temp dir is writable");
        assert_eq!(lines, users);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[tokio::test]
    async fn a_file_that_fails_to_read_is_removed_too() {
        // The path `main` takes: reading fails halfway (invalid UTF-8), `?` returns early, and
        // dropping the `TempFile` on the way out removes the file.
        let path = TempFile::unique_path();
        let error = file_round_trip(
            path.clone(),
            b"user-1\nuser-2\n\xff\xfe not UTF-8\nuser-4\n",
        )
        .await
        .expect_err("invalid UTF-8");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(!path.exists(), "{} left behind", path.display());
    }
}
