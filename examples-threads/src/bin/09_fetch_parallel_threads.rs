//! # 09 · Fetch in parallel, with threads: six URLs, one after another, one thread each, a pool of three
//!
//! The same six URLs as `examples-async/src/bin/09_fetch_parallel.rs`, on the same local HTTP server
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
//!   0.003s  INFO [main] --- sequential: one request at a time ---
//!   0.005s  INFO [main] #1 http://127.0.0.1:40771/bytes/2048 -> 200 OK, 2048 bytes in 1.95 ms
//!   ...
//!   1.313s  INFO [main] --- one thread per URL (thread::scope) ---
//!   1.315s  INFO [fetch-1] #1 http://127.0.0.1:40771/bytes/2048 -> 200 OK, 2048 bytes in 1.51 ms
//!   1.415s  INFO [fetch-3] #3 http://127.0.0.1:40771/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes (failed) in 101 ms
//!   ...
//!   1.916s  INFO [main] --- a pool of 3 threads ---
//!   1.918s  INFO [pool-1] #1 http://127.0.0.1:40771/bytes/2048 -> 200 OK, 2048 bytes in 1.43 ms
//!   ...
//! Summary
//!   sequential: 6 requests, 4 ok, 2 failed (at most 1 in flight)
//!   thread per URL: 6 requests, 4 ok, 2 failed (at most 6 in flight)
//!   pool of 3: 6 requests, 4 ok, 2 failed (at most 3 in flight, limit 3)
//!   failed (every run): #3 http://127.0.0.1:40771/status/500?delay_ms=100 -> 500 Internal Server Error, 0 bytes
//!   failed (every run): #4 http://127.0.0.1:40771/delay/5000 -> timed out after 600 ms
//!   ideal: sequential 1300 ms (the sum), thread per URL 600 ms (all at once), pool 600 ms (3 at a time)
//!   sequential 1305 ms | thread per URL 602 ms | 2.17x, ideal 2.17x
//!   sequential 1305 ms | pool of 3 603 ms | 2.17x, ideal 2.17x
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use clap::Parser;
use common::http_server::TestServer;
use common::{Comparison, fmt_duration, init_logging, time};
use tracing::info;
use ureq::Agent;
use ureq::http::StatusCode;

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
             per-request timeout; failures counted as failures"
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

/// How one request ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// A 2xx response whose body arrived completely.
    Ok { status: StatusCode, bytes: usize },
    /// A response, but not a 2xx one (JS: `!response.ok`): a failure, although bytes arrived.
    HttpError { status: StatusCode, bytes: usize },
    /// No complete response within the per-request timeout; the client gave up.
    TimedOut(Duration),
    /// No response at all: a bad URL, a refused connection, DNS, TLS...
    Failed(String),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok { status, bytes } => write!(f, "{status}, {bytes} bytes"),
            Outcome::HttpError { status, bytes } => write!(f, "{status}, {bytes} bytes"),
            Outcome::TimedOut(after) => write!(f, "timed out after {}", fmt_duration(*after)),
            Outcome::Failed(why) => write!(f, "{why}"),
        }
    }
}

/// One request: which URL (its place in the list, from 1), how it ended, how long it took.
#[derive(Debug, Clone)]
struct Fetched {
    number: usize,
    url: String,
    outcome: Outcome,
    took: Duration,
}

/// One run over the whole list.
#[derive(Debug)]
struct Report {
    /// In list order, whatever order the requests finished in.
    fetched: Vec<Fetched>,
    took: Duration,
    /// The most requests that were in flight at the same moment.
    max_in_flight: usize,
}

impl Report {
    fn ok(&self) -> usize {
        self.fetched.iter().filter(|f| f.outcome.is_ok()).count()
    }

    fn failed(&self) -> Vec<&Fetched> {
        self.fetched.iter().filter(|f| !f.outcome.is_ok()).collect()
    }
}

/// Counts requests in flight and remembers the most at once: the proof that the limit holds.
/// Atomics, because here the counting really happens on several threads at once.
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// Leaving a request (however it ends, timeouts included) lowers the count: RAII, no path forgets it.
struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(self)
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
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

/// A one-line reason: the kind of failure and its cause ("Connection refused (os error 111)").
fn describe(error: &ureq::Error) -> String {
    match error {
        ureq::Error::Http(e) => format!("bad URL: {e}"),
        ureq::Error::BadUri(e) => format!("bad URL: {e}"),
        ureq::Error::Io(e) => format!("cannot connect: {e}"),
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            format!("cannot connect: {error}")
        }
        other => format!("request failed: {other}"),
    }
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

/// How long requests of these durations take with at most `limit` at once, each started in list
/// order as soon as a slot is free (what the pool does): the ideal a run should approach. With
/// `limit` 1 it is the sum; with a thread per URL, the longest.
fn ideal_with_limit(durations: &[Duration], limit: usize) -> Duration {
    let mut slots = vec![Duration::ZERO; limit.clamp(1, durations.len().max(1))];
    for duration in durations {
        let free_first = slots.iter_mut().min().expect("at least one slot");
        *free_first += *duration;
    }
    slots.into_iter().max().unwrap_or_default()
}

/// The summary block (without its "Summary" title): counts, the failures, the figures with their
/// ideal. `expected` is how long each request should take (the local list's plan, or for real URLs
/// what each took in the sequential run).
fn summary_lines(
    sequential: &Report,
    thread_each: &Report,
    pool: &Report,
    limit: usize,
    expected: &[Duration],
) -> Vec<String> {
    let mut lines = vec![
        format!(
            "sequential: {} requests, {} ok, {} failed (at most {} in flight)",
            sequential.fetched.len(),
            sequential.ok(),
            sequential.failed().len(),
            sequential.max_in_flight
        ),
        format!(
            "thread per URL: {} requests, {} ok, {} failed (at most {} in flight)",
            thread_each.fetched.len(),
            thread_each.ok(),
            thread_each.failed().len(),
            thread_each.max_in_flight
        ),
        format!(
            "pool of {limit}: {} requests, {} ok, {} failed (at most {} in flight, limit {limit})",
            pool.fetched.len(),
            pool.ok(),
            pool.failed().len(),
            pool.max_in_flight
        ),
    ];
    // The same failures every way (the local list) are listed once; real URLs may differ per run.
    let key = |r: &Report| -> Vec<(usize, Outcome)> {
        r.failed()
            .iter()
            .map(|f| (f.number, f.outcome.clone()))
            .collect()
    };
    let pool_label = format!("pool of {limit}");
    let runs = if key(sequential) == key(thread_each) && key(sequential) == key(pool) {
        vec![("every run", sequential)]
    } else {
        vec![
            ("sequential", sequential),
            ("thread per URL", thread_each),
            (pool_label.as_str(), pool),
        ]
    };
    for (run, report) in runs {
        for f in report.failed() {
            lines.push(format!(
                "failed ({run}): #{} {} -> {}",
                f.number, f.url, f.outcome
            ));
        }
    }
    if sequential.ok() + thread_each.ok() + pool.ok() == 0 {
        // Upstream's JS prints "11.74x faster" when every request failed at once: a speedup of
        // nothing is not a result.
        lines.push("no request succeeded: no speedup to report".to_string());
        return lines;
    }
    let sum: Duration = expected.iter().sum();
    let longest = ideal_with_limit(expected, expected.len());
    let best = ideal_with_limit(expected, limit);
    lines.push(format!(
        "ideal: sequential {} (the sum), thread per URL {} (all at once), pool {} ({limit} at a time)",
        fmt_duration(sum),
        fmt_duration(longest),
        fmt_duration(best)
    ));
    for (label, report, ideal) in [
        ("thread per URL", thread_each, longest),
        (pool_label.as_str(), pool, best),
    ] {
        lines.push(
            Comparison::new(
                "sequential",
                sequential.took,
                label,
                report.took,
                common::timing::speedup(sum, ideal),
            )
            .to_string(),
        );
    }
    lines
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let args = Args::parse();
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

    println!();
    println!("Summary");
    for line in summary_lines(&sequential, &thread_each, &pool, limit, &expected) {
        println!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! These go over real loopback connections to the local server, so durations are checked with
    //! bounds: lower bounds from the server's delays and the timeout are exact, upper bounds generous
    //! (they hold on a loaded 2-core machine). The accounting of outcomes is exact.
    use super::*;

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
    fn the_ideal_is_the_makespan_of_list_order_scheduling() {
        let planned: Vec<Duration> = LOCAL_URLS.iter().map(|(_, d)| (*d).min(TIMEOUT)).collect();
        assert_eq!(ideal_with_limit(&planned, 1), ms(1300));
        assert_eq!(ideal_with_limit(&planned, 3), ms(600));
        // Two slots: 0 | 350 ; 100 -> slot 1 (100) ; 600 -> slot 1 (700) ; 250 -> slot 2 (600) ; 0.
        assert_eq!(ideal_with_limit(&planned, 2), ms(700));
        assert_eq!(ideal_with_limit(&planned, 100), ms(600));
        assert_eq!(ideal_with_limit(&[], 3), Duration::ZERO);
    }

    #[test]
    fn the_summary_counts_and_names_the_failures() {
        let fetched = |number, outcome| Fetched {
            number,
            url: format!("http://x/{number}"),
            outcome,
            took: ms(10),
        };
        let report = Report {
            fetched: vec![
                fetched(
                    1,
                    Outcome::Ok {
                        status: StatusCode::OK,
                        bytes: 3,
                    },
                ),
                fetched(2, Outcome::TimedOut(ms(600))),
            ],
            took: ms(20),
            max_in_flight: 1,
        };
        let lines = summary_lines(&report, &report, &report, 2, &[ms(10), ms(10)]);
        assert_eq!(
            lines[0],
            "sequential: 2 requests, 1 ok, 1 failed (at most 1 in flight)"
        );
        assert_eq!(
            lines[3],
            "failed (every run): #2 http://x/2 -> timed out after 600 ms"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("sequential 20 ms | pool of 2 20 ms | 1.00x, ideal 2.00x")
        );
        // Different failures per run (real URLs can do that): each run lists its own.
        let all_ok = Report {
            fetched: vec![report.fetched[0].clone()],
            took: ms(10),
            max_in_flight: 1,
        };
        let lines = summary_lines(&report, &all_ok, &all_ok, 2, &[ms(10)]);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("failed (sequential): #2")),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("every run")), "{lines:?}");
    }
}
