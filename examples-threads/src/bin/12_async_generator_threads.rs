//! # 12 · Async generator, with threads: a paged API as a lazy `Iterator`, prefetching in a thread
//!
//! The same user service as `examples-async/src/bin/12_async_generator.rs`: page 1 has user-1..3,
//! page 2 user-4..6, page 3 user-7 and user-8; a page takes 150 ms to fetch (a blocking
//! `thread::sleep` stands in for a blocking HTTP call), processing a user takes 40 ms.
//!
//! What it shows:
//! - **Collect, then process:** the first user is touched only after every page is in (450 ms).
//! - **A lazy `Iterator`:** `std::iter::from_fn` turns "fetch page n, then n+1" into an iterator of
//!   pages, `flatten` into an iterator of users, and `for user in users` processes each user as soon
//!   as its page is in: the first after one page delay. Nothing is fetched until `next()` is called.
//!   The total is the same as collecting first.
//! - **Prefetching in a thread:** a producer thread fetches the next page while the consumer
//!   processes the current one, handing pages over `sync_channel(1)` (at most one page waits; a slow
//!   consumer blocks the producer instead of piling up pages). The consumer iterates the receiver
//!   like any iterator. Measured saving printed next to the ideal.
//! - **Adapters:** an endless counter, `map` (x2), `filter` (multiples of 4), `take(5)`:
//!   `[0, 4, 8, 12, 16]`. Iterators are pulled, so `take` stops the counter after 9 numbers.
//! - **A file line by line** with `std::fs` and `BufRead::lines`: the users are written to a
//!   temporary file and read back; the file removes itself when dropped, also when reading fails.
//!
//! What differs from the async twin, and why:
//! - An `Iterator`'s `next()` **blocks the calling thread** until the item is there; a `Stream`'s
//!   `next().await` gives the thread back while it waits. With one consumer that makes no
//!   difference to the timings (compare the summaries); it matters when one thread must serve
//!   many consumers.
//! - The producer is an **OS thread**, not a task: it costs a kernel thread and a stack, and it
//!   cannot be cancelled from outside. It notices that the consumer is gone only when its next
//!   `send` fails, after its current fetch. The async fetcher is written the same way, but it
//!   could stop sooner: tokio's `Sender::closed()` is a future that completes when the receiver
//!   is dropped, so a `select!` between the fetch and `closed()` would drop the fetch mid-way.
//!   std's `SyncSender` has no such call, and a blocking fetch cannot be interrupted anyway.
//! - This is what C++20's `coroutine_generator.cpp` upstream really is: a lazy, blocking generator.
//!
//! Seed: "Asynchrony" > Asynchronous Iteration, "Asynchrony vs Multithreading". Upstream:
//! `src/cpp/asynchrony/coroutine_generator.cpp`, `src/python/asynchrony/async_generator.py`,
//! `src/js/asynchrony/12_async_generator.js`.
//!
//! Run: `cargo run -p examples-threads --bin 12_async_generator_threads` (about 2.5 s; no flags but
//! `--help`).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.000s  INFO [main] --- collect every page, then process ---
//!   0.000s  INFO [main] fetching page 1...
//!   0.151s  INFO [main] page 1: 3 users
//!   ...
//!   1.557s  INFO [main] --- the same iterator, a thread fetching the next page while processing ---
//!   1.558s  INFO [page-fetcher] fetching page 1...
//!   1.711s  INFO [page-fetcher] page 1: 3 users
//!   1.712s  INFO [page-fetcher] fetching page 2...
//!   1.755s  INFO [main] processed user-1
//!   ...
//!
//! Summary
//!   collect all, then process: first user after 453 ms (ideal 450 ms: every page), all 8 after 780 ms
//!   iterator: first user after 150 ms (ideal 150 ms: one page), all 8 after 777 ms
//!   iterator 777 ms | iterator with prefetch 536 ms | 1.45x, ideal 1.45x
//!   prefetch saved 241 ms (ideal 240 ms)
//!   adapters (x2, multiples of 4, take 5): [0, 4, 8, 12, 16] from 9 numbers produced
//!   file: 8 lines read back with std::fs, temporary file removed
//! ```

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, out, parse_args};
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

// --- 3. The same iterator, with the next page fetched while this one is processed ---------------

/// A fetcher thread runs ahead of the consumer: it fetches page n+1 as soon as page n is handed
/// over. `sync_channel(1)` bounds how far ahead it gets: when a page is already waiting, `send`
/// blocks (backpressure, as in 06_data_sharing_queue_threads). When the consumer drops the
/// iterator, `send` fails and the fetcher stops after its current page. Its handle says how many
/// pages it fetched (and carries its panic, if it had one).
///
/// Unlike `user_iter`, this one starts fetching when it is created: a spawned thread is not lazy.
fn user_iter_prefetched() -> anyhow::Result<(impl Iterator<Item = String>, JoinHandle<usize>)> {
    let (pages_tx, pages_rx) = mpsc::sync_channel::<Page>(1);
    let fetcher = thread::Builder::new()
        .name("page-fetcher".to_string())
        .spawn(move || {
            let mut fetched = 0;
            let mut next = Some(1);
            while let Some(number) = next {
                let page = fetch_page(number);
                fetched += 1;
                next = page.next;
                if pages_tx.send(page).is_err() {
                    info!("the consumer is gone: the fetcher stops");
                    break;
                }
            }
            fetched
        })?;
    // A `Receiver` is an iterator that ends when every sender is gone.
    let users = pages_rx.into_iter().flat_map(|page| page.users);
    Ok((users, fetcher))
}

/// Without prefetch every page costs its fetch plus its processing, one after another.
fn ideal_iterated_total() -> Duration {
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

fn join_fetcher(fetcher: JoinHandle<usize>) -> anyhow::Result<usize> {
    fetcher
        .join()
        .map_err(|_| anyhow::anyhow!("the page fetcher panicked"))
}

// --- 4. Adapters on an endless iterator ----------------------------------------------------------

/// 0, 1, 2, ... one per tick, forever (JS's `countWithDelay` without an end).
fn count_with_delay() -> impl Iterator<Item = u64> {
    let mut next = 0u64;
    std::iter::from_fn(move || {
        thread::sleep(TICK);
        next += 1;
        Some(next - 1)
    })
}

/// Doubles, keeps multiples of 4, takes 5. Returns them and how many numbers the counter produced.
fn adapters() -> (Vec<u64>, usize) {
    let mut produced = 0;
    let out = count_with_delay()
        .inspect(|_| produced += 1)
        .map(|n| n * 2)
        .filter(|n| n % 4 == 0)
        .take(5)
        .collect::<Vec<u64>>();
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
            "12_async_generator_threads-{}-{}.txt",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        std::env::temp_dir().join(name)
    }

    fn create(path: PathBuf, contents: &[u8]) -> std::io::Result<TempFile> {
        // Built before the write, so a failed or partial write is cleaned up too.
        let file = TempFile { path };
        std::fs::write(&file.path, contents)?;
        Ok(file)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!("could not remove {}: {e}", self.path.display()),
        }
    }
}

/// Reads `path` line by line. Each `next()` of `lines()` reads only as far as the next newline, so
/// a large file never sits in memory at once. Invalid UTF-8 is an error, returned, not a panic.
fn read_lines(path: &Path) -> std::io::Result<Vec<String>> {
    let file = std::fs::File::open(path)?;
    let mut read = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        info!("line from file: {line}");
        read.push(line);
    }
    Ok(read)
}

/// Writes `contents` to a temporary file at `path` and reads it back line by line. The file is
/// gone by the time this returns, whether it returns the lines or an error.
fn file_round_trip(path: PathBuf, contents: &[u8]) -> std::io::Result<Vec<String>> {
    let file = TempFile::create(path, contents)?;
    info!("wrote {} bytes to {}", contents.len(), file.path.display());
    let lines = read_lines(&file.path)?;
    Ok(lines)
    // `file` is dropped here, and on the `?` above: the file is removed either way.
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

    let ideal_saving = ideal_iterated_total() - ideal_prefetched_total();
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
        "  iterator: first user after {} (ideal {}: one page), all {} after {}",
        fmt_duration(iterated.first_arrival),
        fmt_duration(PAGE_DELAY),
        iterated.users.len(),
        fmt_duration(iterated.total)
    );
    out!(
        "  {}",
        Comparison::new(
            "iterator",
            iterated.total,
            "iterator with prefetch",
            prefetched.total,
            ideal_iterated_total().as_secs_f64() / ideal_prefetched_total().as_secs_f64()
        )
    );
    out!(
        "  prefetch saved {} (ideal {})",
        fmt_duration(iterated.total.saturating_sub(prefetched.total)),
        fmt_duration(ideal_saving)
    );
    out!("  adapters (x2, multiples of 4, take 5): {adapted:?} from {produced} numbers produced");
    out!(
        "  file: {} lines read back with std::fs, temporary file removed",
        lines.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Real time on a machine that may be busy: a sleep never ends early, so lower bounds are exact;
    //! upper bounds leave a wide margin. "Prefetching lowers the total" is asserted against the
    //! least time any run without overlap could take (770 ms), 240 ms above the prefetch ideal.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn all_users() -> Vec<String> {
        (1..=8).map(|n| format!("user-{n}")).collect()
    }

    #[test]
    fn an_iterator_delivers_the_first_user_after_one_page_not_all() {
        let iterated = consume(Instant::now(), user_iter());
        assert!(iterated.first_arrival >= PAGE_DELAY, "{iterated:?}");
        assert!(iterated.first_arrival < ms(3 * 150), "{iterated:?}");
        assert_eq!(iterated.users, all_users());
        // Collecting first makes the first user wait for every page.
        let collected = collect_then_process();
        assert!(collected.first_arrival >= ms(3 * 150), "{collected:?}");
        assert_eq!(collected.users, all_users());
    }

    #[test]
    fn prefetching_in_a_thread_lowers_the_total() {
        let iterated = consume(Instant::now(), user_iter());
        let (users, fetcher) = user_iter_prefetched().expect("a thread can be spawned");
        let prefetched = consume(Instant::now(), users);
        assert_eq!(join_fetcher(fetcher).expect("no panic"), 3);
        // 3 pages x 150 + 8 users x 40, one after another.
        assert!(iterated.total >= ideal_iterated_total(), "{iterated:?}");
        assert!(
            prefetched.total >= ideal_prefetched_total(),
            "{prefetched:?}"
        );
        // Below anything without overlap: the fetches really ran during the processing.
        assert!(prefetched.total < ideal_iterated_total(), "{prefetched:?}");
        assert!(prefetched.total < iterated.total, "{prefetched:?}");
        assert_eq!(prefetched.users, all_users());
    }

    #[test]
    fn an_iterator_is_lazy_until_pulled() {
        let users = user_iter();
        thread::sleep(ms(500));
        // Had it fetched during that pause, the first user would be ready at once.
        let iterated = consume(Instant::now(), users);
        assert!(iterated.first_arrival >= PAGE_DELAY, "{iterated:?}");
    }

    #[test]
    fn adapters_give_0_4_8_12_16_and_take_stops_the_counter() {
        let ((out, produced), took) = common::time(adapters);
        assert_eq!(out, [0, 4, 8, 12, 16]);
        // 0..=8 doubled reach 16: nine numbers, nothing computed ahead.
        assert_eq!(produced, 9);
        assert!(took >= TICK * 9, "{took:?}");
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_fetcher() {
        let (users, fetcher) = user_iter_prefetched().expect("a thread can be spawned");
        let first_two: Vec<String> = users.take(2).collect();
        assert_eq!(first_two, ["user-1", "user-2"]);
        // `take(2)` dropped the iterator (and its receiver) right after page 1 arrived, while the
        // fetcher was fetching page 2. It finishes that page, its `send` fails, and it stops.
        assert_eq!(join_fetcher(fetcher).expect("no panic"), 2);
    }

    #[test]
    fn a_file_is_read_line_by_line_and_removed() {
        let users = all_users();
        let path = TempFile::unique_path();
        let lines = file_round_trip(path.clone(), users.join("\n").as_bytes())
            .expect("temp dir is writable");
        assert_eq!(lines, users);
        assert!(!path.exists(), "{} left behind", path.display());
    }

    #[test]
    fn a_file_that_fails_to_read_is_removed_too() {
        // The path `main` takes: reading fails halfway (invalid UTF-8), `?` returns early, and
        // dropping the `TempFile` on the way out removes the file.
        let path = TempFile::unique_path();
        let error = file_round_trip(
            path.clone(),
            b"user-1\nuser-2\n\xff\xfe not UTF-8\nuser-4\n",
        )
        .expect_err("invalid UTF-8");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(!path.exists(), "{} left behind", path.display());
    }
}
