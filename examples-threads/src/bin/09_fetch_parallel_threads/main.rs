//! # 09 · Fetch in parallel, with threads: six URLs, one after another, one thread each, a pool of three
//!
//! The same six URLs as the async twin, on the same local HTTP server (`common::http_server`): a
//! fast one, a slow one (350 ms), a `500` (after 100 ms), one that would answer after 5 s but is given
//! up at the 600 ms per-request timeout, and two more. The client is `ureq`, a blocking one: a call
//! returns when the response is there, holding its thread meanwhile.
//!
//! What it shows:
//! - **Sequential** on the main thread takes the **sum** (1300 ms, the timed-out one counting 600 ms).
//! - **One scoped thread per URL** (`thread::scope`, the seed's C++ `std::async` per URL) takes about
//!   the slowest request allowed (600 ms). Scoped threads may borrow the URL list and the client, and
//!   the scope joins them all before it returns.
//! - **A pool of 3 threads** pulling the next URL from a shared counter does the same work with at most
//!   3 requests in flight: the threads twin of `buffer_unordered(3)` (here also 600 ms, since the
//!   slowest request starts in the first round).
//! - **Concurrency costs a thread per request in flight**: 6 URLs, 6 threads, each with its own stack.
//!   The async twin keeps every request on one thread; for thousands of URLs the pool (or async) is the
//!   only sane shape, and it bounds threads *and* open connections.
//! - **The timeout is a setting of the blocking call**, not a race, and failures are failures: in
//!   `fetch.rs`, the one request.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading", Examples in C++ (`std::async`). Upstream:
//! `src/cpp/asynchrony/parallel_fetch.cpp`, `src/python/asynchrony/fetch_parallel.py` (`fetch_sync`).
//! Async twin: `examples-async/src/bin/09_fetch_parallel/`. Beside this lesson: `fetch.rs` (one
//! request), `report.rs` (outcomes, counts, the summary), `tests.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 09_fetch_parallel_threads` (about 2.5 s). Flags as in the
//! async twin: `--concurrency N` (threads in the pool), `--timeout-ms MS`, `--url URL` (repeatable).
//!
//! Output of a real run: `docs/output/09_fetch_parallel_threads.txt`.

mod fetch;
mod report;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, time};
use fetch::{client, fetch};
use report::{Fetched, InFlight, Report, summary_lines};
use tracing::info;
use ureq::Agent;

/// The local scenario: path on the test server, and how long the server waits before answering.
/// The same list as the async twin.
const LOCAL_URLS: [(&str, Duration); 6] = [
    ("/bytes/2048", Duration::ZERO),
    ("/delay/350?bytes=16384", Duration::from_millis(350)),
    ("/status/500?delay_ms=100", Duration::from_millis(100)),
    // Answers after 5 s: the 600 ms timeout gives up first (the server's task is cancelled at exit).
    ("/delay/5000", Duration::from_millis(5000)),
    ("/delay/250?bytes=4096", Duration::from_millis(250)),
    ("/bytes/512", Duration::ZERO),
];

#[derive(Parser, Debug)]
#[command(
    about = "09 · Fetch in parallel with threads: the same URLs fetched one after another, with one \
             scoped thread each, and with a pool of n threads, using a blocking client with a \
             per-request timeout; failures counted as failures",
    long_about = None
)]
struct Args {
    /// Fetch this URL instead of the local server's list (repeat for several; http and https).
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// How many threads the pool has: requests in flight at once in the pool run.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    concurrency: u16,
    /// Per-request timeout in milliseconds, covering connect, headers and body.
    #[arg(long, value_name = "MS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    timeout_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args: Args = common::parse_args();
    init_logging();
    let timeout = Duration::from_millis(args.timeout_ms);
    let limit = usize::from(args.concurrency);

    // The server lives until the end of `main`; dropping it stops it (and cancels the 5 s request
    // still sleeping there).
    let mut server = None;
    let urls: Vec<String> = if args.urls.is_empty() {
        let local = server.insert(TestServer::start()?);
        info!("local HTTP server on http://{}", local.addr());
        LOCAL_URLS.iter().map(|(path, _)| local.url(path)).collect()
    } else {
        args.urls.clone()
    };
    let client = client(server.is_some());

    info!("--- sequential: one request at a time ---");
    let sequential = fetch_sequentially(&client, &urls, timeout);
    info!("sequential run done in {}", fmt_duration(sequential.took));

    info!("--- one thread per URL (thread::scope) ---");
    let thread_each = fetch_with_a_thread_each(&client, &urls, timeout)?;
    info!(
        "thread-per-URL run done in {}",
        fmt_duration(thread_each.took)
    );

    info!("--- a pool of {limit} threads ---");
    let pool = fetch_with_a_pool(&client, &urls, timeout, limit)?;
    info!("pool run done in {}", fmt_duration(pool.took));

    // The ideal: for the local list, what each URL was built to take (capped by the timeout); for real
    // URLs, what each took in the sequential run.
    let expected: Vec<Duration> = if server.is_some() {
        LOCAL_URLS
            .iter()
            .map(|(_, delay)| (*delay).min(timeout))
            .collect()
    } else {
        sequential.fetched.iter().map(|f| f.took).collect()
    };

    common::out!();
    common::out!("Summary");
    for line in summary_lines(&sequential, &thread_each, &pool, limit, &expected) {
        common::out!("  {line}");
    }
    Ok(())
}

/// One request after another on the calling thread: each call returns before the next is sent.
fn fetch_sequentially(client: &Agent, urls: &[String], timeout: Duration) -> Report {
    let in_flight = InFlight::default();
    let (fetched, took) = time(|| {
        let mut fetched = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            fetched.push(fetch(client, i + 1, url, timeout, &in_flight));
        }
        fetched
    });
    Report {
        fetched,
        took,
        max_in_flight: in_flight.max(),
    }
}

/// One thread per URL, all started at once. `thread::scope` lets them borrow `client`, `urls` and
/// the counter (no `Arc`, no `'static`), and joins every one of them before it returns.
fn fetch_with_a_thread_each(
    client: &Agent,
    urls: &[String],
    timeout: Duration,
) -> std::io::Result<Report> {
    let in_flight = InFlight::default();
    let in_flight = &in_flight;
    let (fetched, took) = time(|| {
        thread::scope(|scope| {
            let mut handles = Vec::with_capacity(urls.len());
            for (i, url) in urls.iter().enumerate() {
                let handle = thread::Builder::new()
                    .name(format!("fetch-{}", i + 1))
                    .spawn_scoped(scope, move || fetch(client, i + 1, url, timeout, in_flight))?;
                handles.push(handle);
            }
            // Joined in list order: the report keeps the order of the URLs.
            Ok::<_, std::io::Error>(
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .expect("fetch never panics: every failure is an Outcome")
                    })
                    .collect::<Vec<Fetched>>(),
            )
        })
    });
    Ok(Report {
        fetched: fetched?,
        took,
        max_in_flight: in_flight.max(),
    })
}

/// At most `limit` requests at once: `limit` scoped threads, each taking the next URL from a shared
/// counter as soon as it is free (what `buffer_unordered` does on one thread in the async twin).
/// A `fetch_add` hands out every index exactly once, with no lock and no queue to fill first.
fn fetch_with_a_pool(
    client: &Agent,
    urls: &[String],
    timeout: Duration,
    limit: usize,
) -> std::io::Result<Report> {
    let in_flight = InFlight::default();
    let in_flight = &in_flight;
    let next = AtomicUsize::new(0);
    let next = &next;
    let (fetched, took) = time(|| {
        thread::scope(|scope| {
            let mut workers = Vec::with_capacity(limit);
            for w in 1..=limit.min(urls.len()) {
                let worker = thread::Builder::new()
                    .name(format!("pool-{w}"))
                    .spawn_scoped(scope, move || {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            let Some(url) = urls.get(i) else { break };
                            mine.push(fetch(client, i + 1, url, timeout, in_flight));
                        }
                        mine
                    })?;
                workers.push(worker);
            }
            let mut fetched: Vec<Fetched> = workers
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .expect("fetch never panics: every failure is an Outcome")
                })
                .collect();
            // Each worker did whichever URLs it got; the report lists them in the order of the URLs.
            fetched.sort_by_key(|f| f.number);
            Ok::<_, std::io::Error>(fetched)
        })
    });
    Ok(Report {
        fetched: fetched?,
        took,
        max_in_flight: in_flight.max(),
    })
}

#[cfg(test)]
mod tests;
