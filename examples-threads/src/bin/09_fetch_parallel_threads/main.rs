//! # 09 · Fetch in parallel, with threads: six URLs, one after another, one thread each, a pool of three
//!
//! The same six URLs as `examples-async/src/bin/09_fetch_parallel/main.rs`, on the same local HTTP server
//! (`common::http_server`): a fast one, a slow one (350 ms), a `500` (after 100 ms), one that would
//! answer after 5 s but is given up at the 600 ms per-request timeout, and two more. The client is
//! `ureq`, a blocking one: a call returns when the response is there, holding its thread meanwhile.
//!
//! What it shows:
//! - **Sequential** on the main thread takes the **sum** (1300 ms, the timed-out request counting for
//!   its 600 ms timeout).
//! - **One scoped thread per URL** (`thread::scope`, the seed's C++ `std::async` per URL) takes about
//!   the slowest request allowed (600 ms). Scoped threads may borrow the URL list and the client, and
//!   the scope joins them all before it returns.
//! - **A pool of 3 threads** pulling the next URL from a shared counter does the same work with at most
//!   3 requests in flight: the threads twin of `buffer_unordered(3)`. Here it also takes 600 ms, since
//!   the slowest request starts in the first round.
//! - **Failures are failures**: the `500`, the timeout, a refused connection, a bad URL (upstream counts
//!   them as fetched; its JS prints a speedup when everything failed; this prints none then).
//!
//! What differs from the async twin, and why:
//! - **The timeout is a setting of the blocking call**, not a race: `tokio::time::timeout` cancels a
//!   request by dropping its future, but nothing can stop a thread from outside. So the client itself
//!   must give up (ureq puts deadlines on the socket reads and writes) and return `Err(Timeout)`.
//! - **Concurrency costs a thread per request in flight**: 6 URLs, 6 threads, each with its own stack
//!   and a kernel object. The async twin keeps every request on one thread. For thousands of URLs, the
//!   pool (or async) is the only sane shape; the pool bounds threads *and* open connections.
//! - Blocking calls are fine here: a thread waiting on a socket blocks only itself.
//!
//! Seed: "Asynchrony" > "Asynchrony vs Multithreading", Examples in C++ (`std::async`).
//! Upstream: `src/cpp/asynchrony/parallel_fetch.cpp` (libcurl, one `std::async` per URL),
//! `src/python/asynchrony/fetch_parallel.py` (its blocking `fetch_sync`).
//!
//! This file is the lesson: `main`, the three runs and `fetch`. How a request ended, the counts and
//! the summary with its ideal live in `report.rs` beside it.
//!
//! Run: `cargo run -p examples-threads --bin 09_fetch_parallel_threads` (about 2.5 s). Flags, as in the
//! async twin:
//! - `--concurrency N` (default 3): threads in the pool;
//! - `--timeout-ms MS` (default 600): per-request timeout (connect, headers and body);
//! - `--url URL` (repeatable): fetch these instead of the local list (needs the network; https works).
//!
//! The output will look similar to this (ports and milliseconds vary; threads finish in any order;
//! a 2 ms request may be done before the last thread starts, so "at most 6 in flight" can read 5):
//!
//! ```text
//!   0.001s  INFO [main] --- sequential: one request at a time ---
//!   0.006s  INFO [main] #1 http://127.0.0.1:40335/bytes/2048 -> 200 OK, 2048 bytes in 4.90 ms
//!   ...
//!   1.351s  INFO [main] --- one thread per URL (thread::scope) ---
//!   1.355s  INFO [fetch-1] #1 http://127.0.0.1:40335/bytes/2048 -> 200 OK, 2048 bytes in 3.82 ms
//!   1.455s  INFO [fetch-3] #3 http://127.0.0.1:40335/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes (failed) in 104 ms
//!   ...
//!   1.985s  INFO [main] --- a pool of 3 threads ---
//!   1.986s  INFO [pool-1] #1 http://127.0.0.1:40335/bytes/2048 -> 200 OK, 2048 bytes in 1.11 ms
//!   ...
//! Summary
//!   sequential: 6 requests, 4 ok, 2 failed (at most 1 in flight)
//!   thread per URL: 6 requests, 4 ok, 2 failed (at most 5 in flight)
//!   pool of 3: 6 requests, 4 ok, 2 failed (at most 3 in flight, limit 3)
//!   failed (every run): #3 http://127.0.0.1:40335/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes
//!   failed (every run): #4 http://127.0.0.1:40335/delay/5000 -> timed out after 600 ms
//!   ideal: sequential 1300 ms (the sum), thread per URL 600 ms (all at once), pool 600 ms (3 at a time)
//!   sequential 1350 ms | thread per URL 634 ms | 2.13x, ideal 2.17x
//!   sequential 1350 ms | pool of 3 608 ms | 2.22x, ideal 2.17x
//! ```

mod report;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{fmt_duration, init_logging, time};
use report::{Fetched, InFlight, Outcome, Report, describe, summary_lines};
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

/// GETs `url` and reads the whole body, giving up after `timeout`. Never panics, never returns an
/// error: every way a request can end is an [`Outcome`], so the caller can count them.
fn fetch(
    client: &Agent,
    number: usize,
    url: &str,
    timeout: Duration,
    in_flight: &InFlight,
) -> Fetched {
    let _in_flight = in_flight.enter();
    // The timeout is the client's own deadline on connect, send and every read: the only way to stop
    // a blocking call, since no one can cancel this thread from outside.
    let request = || {
        // A URL that does not parse is reported here, by `call`, as an error: not a panic.
        let mut response = client
            .get(url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .call()?;
        let status = response.status();
        // No size limit (ureq's default is 10 MB): we only count the bytes.
        let body = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()?;
        Ok::<_, ureq::Error>((status, body.len()))
    };
    let (result, took) = time(request);
    let outcome = match result {
        Err(ureq::Error::Timeout(_)) => Outcome::TimedOut(timeout),
        Err(error) => Outcome::Failed(describe(&error)),
        Ok((status, bytes)) if status.is_success() => Outcome::Ok { status, bytes },
        Ok((status, bytes)) => Outcome::HttpError { status, bytes },
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

/// The HTTP client: one for the whole program, shared by reference by every thread (an `Agent` is
/// `Sync`), so connections are pooled and reused.
///
/// `local` turns off proxies from the environment (`HTTP_PROXY`...): a proxy cannot reach our
/// `127.0.0.1`. Real URLs (`--url`) go through the user's proxy, if any, like any other program.
fn client(local: bool) -> Agent {
    let config = Agent::config_builder()
        // Some sites (api.github.com, upstream's example) refuse requests without a User-Agent.
        .user_agent(concat!(
            "rust-asynchrony-09-threads/",
            env!("CARGO_PKG_VERSION")
        ))
        // A 500 is a response to count, not an `Err` to unwrap: we look at the status ourselves.
        .http_status_as_error(false);
    let config = if local { config.proxy(None) } else { config };
    config.build().into()
}

#[cfg(test)]
mod tests {
    //! These go over real loopback connections to the local server, so durations are checked with
    //! bounds: lower bounds from the server's delays and the timeout are exact, upper bounds generous
    //! (they hold on a loaded 2-core machine). The accounting of outcomes is exact.
    use super::*;
    use common::schedule;
    use ureq::http::StatusCode;

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

    #[test]
    fn the_500_and_the_timeout_are_counted_as_failures_every_way() {
        let server = TestServer::start().expect("start the server");
        let client = client(true);
        let urls = local_urls(&server);
        let sequential = fetch_sequentially(&client, &urls, TIMEOUT);
        let thread_each = fetch_with_a_thread_each(&client, &urls, TIMEOUT).expect("threads start");
        let pool = fetch_with_a_pool(&client, &urls, TIMEOUT, 3).expect("threads start");
        for report in [&sequential, &thread_each, &pool] {
            assert_eq!(outcomes(report), expected_outcomes());
            assert_eq!(report.ok(), 4);
            let failed: Vec<usize> = report.failed().iter().map(|f| f.number).collect();
            assert_eq!(failed, [3, 4]);
        }
        let timed_out = &pool.fetched[3];
        assert!(timed_out.took >= TIMEOUT, "{:?}", timed_out.took);
    }

    #[test]
    fn sequential_takes_the_sum_and_threads_about_the_slowest_allowed_request() {
        let server = TestServer::start().expect("start the server");
        let client = client(true);
        let urls = local_urls(&server);
        let sum = ms(350 + 100 + 600 + 250); // the 5 s request counts for its 600 ms timeout
        let sequential = fetch_sequentially(&client, &urls, TIMEOUT);
        let thread_each = fetch_with_a_thread_each(&client, &urls, TIMEOUT).expect("threads start");
        let pool = fetch_with_a_pool(&client, &urls, TIMEOUT, 3).expect("threads start");
        assert!(sequential.took >= sum, "{:?}", sequential.took);
        assert_eq!(sequential.max_in_flight, 1);
        for report in [&thread_each, &pool] {
            // The slowest request allowed is the one cut off at 600 ms: nothing finishes sooner...
            assert!(report.took >= TIMEOUT, "{:?}", report.took);
            // ...and the requests overlapped: well under the 1300 ms of one after another.
            assert!(report.took < sum, "not concurrent: {:?}", report.took);
        }
        // Exact counts would be flaky here: a 2 ms request may finish before the last thread starts.
        // The four delayed ones (100 ms and more) overlap, and the pool never exceeds its 3 threads.
        assert!(
            thread_each.max_in_flight >= 4,
            "{}",
            thread_each.max_in_flight
        );
        assert!(pool.max_in_flight <= 3, "{}", pool.max_in_flight);
    }

    #[test]
    fn one_thread_per_url_has_every_request_in_flight_at_once() {
        let server = TestServer::start().expect("start the server");
        let client = client(true);
        let urls: Vec<String> = (0..6).map(|_| server.url("/delay/300")).collect();
        let report = fetch_with_a_thread_each(&client, &urls, ms(5000)).expect("threads start");
        assert_eq!(report.ok(), 6);
        // Starting six threads takes far less than 300 ms, even on a busy machine.
        assert_eq!(report.max_in_flight, 6);
        assert!(report.took >= ms(300), "{:?}", report.took);
        // One after another would be 1800 ms.
        assert!(report.took < ms(1500), "not concurrent: {:?}", report.took);
    }

    #[test]
    fn the_pool_never_has_more_than_its_threads_in_flight() {
        let server = TestServer::start().expect("start the server");
        let client = client(true);
        let urls: Vec<String> = (0..6).map(|_| server.url("/delay/100")).collect();
        let report = fetch_with_a_pool(&client, &urls, ms(5000), 2).expect("threads start");
        assert_eq!(report.ok(), 6);
        assert_eq!(report.max_in_flight, 2);
        // Six 100 ms requests two at a time: three rounds. All at once would be one round.
        assert!(report.took >= ms(300), "{:?}", report.took);
    }

    #[test]
    fn a_closed_port_and_a_bad_url_are_reported_failures_not_panics() {
        // A port that was free a moment ago: bind it, note it, close it.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let client = client(true);
        let urls = vec![
            format!("http://{closed}/"),
            "not a url".to_string(),
            "ftp://127.0.0.1/file".to_string(),
        ];
        let report = fetch_with_a_thread_each(&client, &urls, ms(5000)).expect("threads start");
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
        let lines = summary_lines(&report, &report, &report, 3, &[ms(1); 3]);
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
        assert_eq!(
            schedule::makespan_of_tasks(&planned, planned.len()),
            ms(600)
        );
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
