//! # 09 · Fetch in parallel: six URLs, one after another, then at most three at a time
//!
//! Upstream fetches three public sites. Here the URLs are on a local HTTP server started in-process
//! (`common::http_server`), so the run needs no network and each URL says what it will do: a fast
//! one, a slow one (350 ms), a `500` (after 100 ms), one that would answer after 5 s but is given up
//! at the 600 ms per-request timeout, and two more.
//!
//! What it shows:
//! - **Sequential** (`for url in urls { fetch(url).await }`) takes the **sum** of the requests
//!   (1300 ms, the timed-out one counting for its 600 ms timeout).
//! - **Concurrent with a limit**: `stream::iter(urls).map(fetch).buffer_unordered(3)` keeps at most 3
//!   requests in flight, starting the next as soon as one finishes, all on one thread. It takes about
//!   as long as the slowest request allowed (600 ms). Without the limit, ten thousand URLs would open
//!   ten thousand connections at once: `buffer_unordered(n)` is the async twin of a pool of n threads.
//! - **A timeout per request, and failures counted as failures**: in `fetch.rs`, the one request.
//!
//! Seed: "Asynchrony" > Examples in JavaScript ("Handling Multiple Asynchronous Operations",
//! "Error Handling in Asynchronous Code"), Examples in Python ("Handling Concurrent I/O Operations").
//! Upstream: `src/python/asynchrony/fetch_parallel.py`, `src/js/asynchrony/09_fetch_parallel.js`,
//! `src/cpp/asynchrony/parallel_fetch.cpp`. Threads twin: `examples-threads/src/bin/09_fetch_parallel_threads/`.
//! Beside this lesson: `fetch.rs` (one request), `report.rs` (outcomes, counts, the summary), `tests.rs`.
//!
//! Run: `cargo run -p examples-async --bin 09_fetch_parallel` (about 2 s). Flags:
//! `--concurrency N` (default 3) requests in flight at once; `--timeout-ms MS` (default 600) per
//! request (connect, headers and body); `--url URL` (repeatable) fetches these instead of the local
//! list, e.g. `--url https://www.rust-lang.org` (needs the network; https works).
//!
//! Output of a real run: `docs/output/09_fetch_parallel.txt`.

mod fetch;
mod report;

use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, time_async};
use fetch::{client, fetch};
use futures::stream::{self, StreamExt};
use report::{Fetched, InFlight, Report, summary_lines};
use reqwest::Client;
use tracing::info;

/// The local scenario: path on the test server, and how long the server waits before answering.
/// The times keep upstream's spirit (a mix of quick and slow sites) at a few hundred milliseconds.
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
    about = "09 · Fetch in parallel: the same URLs fetched one after another, then concurrently with \
             a limit (buffer_unordered) and a per-request timeout; failures counted as failures",
    long_about = None
)]
struct Args {
    /// Fetch this URL instead of the local server's list (repeat for several; http and https).
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// How many requests may be in flight at once in the concurrent run.
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    concurrency: u16,
    /// Per-request timeout in milliseconds, covering connect, headers and body.
    #[arg(long, value_name = "MS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    timeout_ms: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
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
    let client = client(server.is_some())?;

    info!("--- sequential: one request at a time ---");
    let sequential = fetch_sequentially(&client, &urls, timeout).await;
    info!("sequential run done in {}", fmt_duration(sequential.took));

    info!("--- concurrent: at most {limit} in flight (buffer_unordered) ---");
    let concurrent = fetch_concurrently(&client, &urls, timeout, limit).await;
    info!("concurrent run done in {}", fmt_duration(concurrent.took));

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
    for line in summary_lines(&sequential, &concurrent, limit, &expected) {
        common::out!("  {line}");
    }
    Ok(())
}

/// One request after another: each `.await` finishes before the next request is sent.
async fn fetch_sequentially(client: &Client, urls: &[String], timeout: Duration) -> Report {
    let in_flight = InFlight::default();
    let (fetched, took) = time_async(async {
        let mut fetched = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            fetched.push(fetch(client, i + 1, url, timeout, &in_flight).await);
        }
        fetched
    })
    .await;
    Report {
        fetched,
        took,
        max_in_flight: in_flight.max(),
    }
}

/// At most `limit` requests at once, on this one task: `buffer_unordered` polls up to `limit` of the
/// futures the `map` produces and pulls the next URL as soon as one finishes. (`join_all` would start
/// them all at once, with no limit; `buffered(n)` would keep the results in list order.)
async fn fetch_concurrently(
    client: &Client,
    urls: &[String],
    timeout: Duration,
    limit: usize,
) -> Report {
    let in_flight = InFlight::default();
    let in_flight = &in_flight;
    let (mut fetched, took) = time_async(
        stream::iter(urls.iter().enumerate())
            .map(|(i, url)| fetch(client, i + 1, url, timeout, in_flight))
            .buffer_unordered(limit)
            .collect::<Vec<Fetched>>(),
    )
    .await;
    // They arrive in the order they finished; the report lists them in the order of the URLs.
    fetched.sort_by_key(|f| f.number);
    Report {
        fetched,
        took,
        max_in_flight: in_flight.max(),
    }
}

#[cfg(test)]
mod tests;
