//! # 09 · Fetch in parallel: six URLs, one after another, then at most three at a time
//!
//! Upstream fetches three public sites (httpbin.org, api.github.com, example.com). Here the URLs are
//! on a local HTTP server started in-process (`common::http_server`), so the run needs no network and
//! each URL says what it will do: a fast one, a slow one (350 ms), a `500` (after 100 ms), one that
//! would answer after 5 s but is given up at the 600 ms per-request timeout, and two more.
//!
//! What it shows:
//! - **Sequential** (`for url in urls { fetch(url).await }`) takes the **sum** of the requests
//!   (1300 ms, the timed-out one counting for its 600 ms timeout).
//! - **Concurrent with a limit**: `stream::iter(urls).map(fetch).buffer_unordered(3)` keeps at most 3
//!   requests in flight, starting the next as soon as one finishes, all on one thread. It takes about
//!   as long as the slowest request allowed (600 ms). Without the limit, a list of ten thousand URLs
//!   would open ten thousand connections at once; `buffer_unordered(n)` is the async twin of a pool of
//!   n threads (and of the `asyncio.Semaphore` the chapter suggests for HTTP clients).
//! - **A timeout per request**: `tokio::time::timeout` races the request against a timer; when the timer
//!   wins, the request future is **dropped**, which cancels it (the connection is closed). No thread is
//!   left blocked, unlike Python's `to_thread` under `asyncio.timeout`.
//! - **Failures are failures.** A `500` is a response, not a success (JS: `response.ok` is false): it is
//!   counted as failed, as are the timeout, a refused connection and a bad URL. Upstream counts every
//!   response as "fetched", and prints a speedup even when every request failed; this one prints none
//!   then.
//!
//! Seed: "Asynchrony" > Examples in JavaScript ("Handling Multiple Asynchronous Operations",
//! "Error Handling in Asynchronous Code": `Promise.all`, `response.ok`), Examples in Python
//! ("Handling Concurrent I/O Operations"). Upstream: `src/python/asynchrony/fetch_parallel.py`,
//! `src/js/asynchrony/09_fetch_parallel.js`, `src/cpp/asynchrony/parallel_fetch.cpp`.
//! Threads twin: `examples-threads/src/bin/09_fetch_parallel_threads/main.rs`.
//!
//! This file is the lesson: `main`, the two runs and `fetch`. How a request ended, the counts and the
//! summary with its ideal live in `report.rs` beside it.
//!
//! Run: `cargo run -p examples-async --bin 09_fetch_parallel` (about 2 s). Flags:
//! - `--concurrency N` (default 3): requests in flight at once in the concurrent run;
//! - `--timeout-ms MS` (default 600): per-request timeout (connect, headers and body);
//! - `--url URL` (repeatable): fetch these instead of the local list, e.g.
//!   `--url https://www.rust-lang.org --url https://example.com` (needs the network; https works).
//!
//! The output will look similar to this (ports and milliseconds vary; the concurrent lines come in
//! the order the requests finish):
//!
//! ```text
//!   0.004s  INFO [main] --- sequential: one request at a time ---
//!   0.015s  INFO [main] #1 http://127.0.0.1:46603/bytes/2048 -> 200 OK, 2048 bytes in 11 ms
//!   0.367s  INFO [main] #2 http://127.0.0.1:46603/delay/350?bytes=16384 -> 200 OK, 16384 bytes in 352 ms
//!   0.470s  INFO [main] #3 http://127.0.0.1:46603/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes (failed) in 103 ms
//!   1.071s  INFO [main] #4 http://127.0.0.1:46603/delay/5000 -> timed out after 600 ms (failed) in 601 ms
//!   ...
//! Summary
//!   sequential: 6 requests, 4 ok, 2 failed (at most 1 in flight)
//!   concurrent: 6 requests, 4 ok, 2 failed (at most 3 in flight, limit 3)
//!   failed (both runs): #3 http://127.0.0.1:46603/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes
//!   failed (both runs): #4 http://127.0.0.1:46603/delay/5000 -> timed out after 600 ms
//!   ideal: sequential 1300 ms (the sum), concurrent 600 ms (3 at a time)
//!   sequential 1325 ms | concurrent 608 ms | 2.18x, ideal 2.17x
//! ```

mod report;

use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, time_async};
use futures::stream::{self, StreamExt};
use report::{Fetched, InFlight, Outcome, Report, describe, summary_lines};
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

/// GETs `url` and reads the whole body, giving up after `timeout`. Never panics, never returns an
/// error: every way a request can end is an [`Outcome`], so the caller can count them.
async fn fetch(
    client: &Client,
    number: usize,
    url: &str,
    timeout: Duration,
    in_flight: &InFlight,
) -> Fetched {
    let _in_flight = in_flight.enter();
    let request = async {
        // A URL that does not parse is reported here, by `send`, as an error: not a panic.
        let response = client.get(url).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, body.len()))
    };
    // `timeout` polls `request` and a timer together. If the timer fires first, `request` is dropped
    // mid-flight: dropping a future is how Rust cancels it (its connection is closed).
    let (result, took) = time_async(tokio::time::timeout(timeout, request)).await;
    let outcome = match result {
        Err(_elapsed) => Outcome::TimedOut(timeout),
        Ok(Err(error)) => Outcome::Failed(describe(&error)),
        Ok(Ok((status, bytes))) if status.is_success() => Outcome::Ok { status, bytes },
        Ok(Ok((status, bytes))) => Outcome::HttpError { status, bytes },
    };
    let verdict = if outcome.is_ok() { "" } else { " (failed)" };
    info!(
        "#{number} {url} -> {outcome}{verdict} in {}",
        fmt_duration(took)
    );
    Fetched {
        number,
        url: url.to_string(),
        outcome,
        took,
    }
}

/// The HTTP client: one for the whole program, so connections are pooled and reused.
///
/// `local` turns off proxies from the environment (`HTTP_PROXY`...): a proxy cannot reach our
/// `127.0.0.1`. Real URLs (`--url`) go through the user's proxy, if any, like any other program.
fn client(local: bool) -> reqwest::Result<Client> {
    let builder = Client::builder()
        // Some sites (api.github.com, upstream's example) refuse requests without a User-Agent.
        .user_agent(concat!("rust-asynchrony-09/", env!("CARGO_PKG_VERSION")));
    let builder = if local { builder.no_proxy() } else { builder };
    builder.build()
}

#[cfg(test)]
mod tests {
    //! These go over real loopback connections to the local server (its delays are real time), so
    //! durations are checked with bounds: lower bounds from the server's delays and the timeout are
    //! exact, upper bounds generous. The accounting of outcomes is exact.
    use super::*;
    use common::schedule;
    use reqwest::StatusCode;

    const TIMEOUT: Duration = Duration::from_millis(600);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn local_urls(server: &TestServer) -> Vec<String> {
        LOCAL_URLS
            .iter()
            .map(|(path, _)| server.url(path))
            .collect()
    }

    fn outcomes(report: &Report) -> Vec<Outcome> {
        report.fetched.iter().map(|f| f.outcome.clone()).collect()
    }

    fn expected_outcomes() -> Vec<Outcome> {
        let ok = |bytes| Outcome::Ok {
            status: StatusCode::OK,
            bytes,
        };
        vec![
            ok(2048),
            ok(16384),
            Outcome::HttpError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                bytes: 0,
            },
            Outcome::TimedOut(TIMEOUT),
            ok(4096),
            ok(512),
        ]
    }

    #[tokio::test]
    async fn the_500_and_the_timeout_are_counted_as_failures_both_ways() {
        let server = TestServer::start().expect("start the server");
        let client = client(true).expect("a client");
        let urls = local_urls(&server);
        let sequential = fetch_sequentially(&client, &urls, TIMEOUT).await;
        let concurrent = fetch_concurrently(&client, &urls, TIMEOUT, 3).await;
        for report in [&sequential, &concurrent] {
            assert_eq!(outcomes(report), expected_outcomes());
            assert_eq!(report.ok(), 4);
            let failed: Vec<usize> = report.failed().iter().map(|f| f.number).collect();
            assert_eq!(failed, [3, 4]);
        }
        let timed_out = &concurrent.fetched[3];
        assert!(timed_out.took >= TIMEOUT, "{:?}", timed_out.took);
    }

    #[tokio::test]
    async fn sequential_takes_the_sum_and_concurrent_about_the_slowest_allowed_request() {
        let server = TestServer::start().expect("start the server");
        let client = client(true).expect("a client");
        let urls = local_urls(&server);
        let sum = ms(350 + 100 + 600 + 250); // the 5 s request counts for its 600 ms timeout
        let sequential = fetch_sequentially(&client, &urls, TIMEOUT).await;
        let concurrent = fetch_concurrently(&client, &urls, TIMEOUT, 3).await;
        assert!(sequential.took >= sum, "{:?}", sequential.took);
        assert_eq!(sequential.max_in_flight, 1);
        // The slowest request allowed is the one cut off at 600 ms: nothing finishes sooner...
        assert!(concurrent.took >= TIMEOUT, "{:?}", concurrent.took);
        // ...and the requests overlapped: well under the 1300 ms of one after another.
        assert!(
            concurrent.took < sum,
            "not concurrent: {:?}",
            concurrent.took
        );
        assert_eq!(concurrent.max_in_flight, 3);
    }

    #[tokio::test]
    async fn buffer_unordered_never_has_more_than_the_limit_in_flight() {
        let server = TestServer::start().expect("start the server");
        let client = client(true).expect("a client");
        let urls: Vec<String> = (0..6).map(|_| server.url("/delay/100")).collect();
        let report = fetch_concurrently(&client, &urls, ms(5000), 2).await;
        assert_eq!(report.ok(), 6);
        assert_eq!(report.max_in_flight, 2);
        // Six 100 ms requests two at a time: three rounds. All at once would be one round.
        assert!(report.took >= ms(300), "{:?}", report.took);
    }

    #[tokio::test]
    async fn a_closed_port_and_a_bad_url_are_reported_failures_not_panics() {
        // A port that was free a moment ago: bind it, note it, close it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let client = client(true).expect("a client");
        let urls = vec![
            format!("http://{closed}/"),
            "not a url".to_string(),
            "ftp://127.0.0.1/file".to_string(),
        ];
        let report = fetch_concurrently(&client, &urls, ms(5000), 3).await;
        assert_eq!(report.ok(), 0);
        assert_eq!(report.failed().len(), 3);
        let reasons: Vec<String> = report
            .fetched
            .iter()
            .map(|f| f.outcome.to_string())
            .collect();
        assert!(reasons[0].starts_with("cannot connect"), "{reasons:?}");
        assert!(reasons[1].starts_with("bad URL"), "{reasons:?}");
        assert!(
            matches!(report.fetched[2].outcome, Outcome::Failed(_)),
            "{reasons:?}"
        );
        // And the summary does not invent a speedup.
        let lines = summary_lines(&report, &report, 3, &[ms(1); 3]);
        assert!(
            lines.iter().any(|l| l.contains("no speedup to report")),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("ideal")), "{lines:?}");
    }

    #[test]
    fn the_local_list_should_take_1300_ms_in_sequence_and_600_ms_three_at_a_time() {
        // The ideal printed beside the runs: list scheduling of the planned delays (the 5 s request
        // cut at its timeout), worked out in `common::schedule`.
        let planned: Vec<Duration> = LOCAL_URLS.iter().map(|(_, d)| (*d).min(TIMEOUT)).collect();
        assert_eq!(schedule::makespan_of_tasks(&planned, 1), ms(1300));
        assert_eq!(schedule::makespan_of_tasks(&planned, 3), ms(600));
    }

    #[test]
    fn help_names_the_example_and_a_zero_limit_is_an_error() {
        let help = Args::try_parse_from(["09", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("09 · Fetch in parallel"),
            "{help}"
        );
        let bad = Args::try_parse_from(["09", "--concurrency", "0"]).expect_err("out of range");
        assert_eq!(bad.exit_code(), 2);
    }
}
