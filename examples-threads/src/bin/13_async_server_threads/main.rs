//! # 13 · The same HTTP server on threads: a fixed pool of workers, and what it costs
//!
//! The routes, flags, demo and shutdown of `examples-async/src/bin/13_async_server/`, on blocking
//! `std::net`: an acceptor thread pushes each connection into a queue, and `--threads` worker
//! threads (16) take connections from it and serve them. Requests are parsed with
//! `httparse`, a real HTTP/1.1 parser (no hand-rolled parsing).
//!
//! What it shows: **with n threads and a delay of D, at most n requests make progress at once**. A
//! worker sleeping in a handler (`thread::sleep` standing in for a blocking database call) can do
//! nothing else, so a burst of 64 requests of 100 ms on 16 threads takes 4 rounds, about 400 ms,
//! where the async twin takes about 100 ms; the server can never pass n / D requests per second
//! (160/s here). `scripts/load-test` measures both under `wrk`.
//!
//! What differs from the async twin, and why:
//! - **Two limits.** The pool bounds the requests in progress (`--threads`); `--max-connections`
//!   bounds the connections held, served plus queued for a worker. std has no semaphore, so the
//!   connection slots are a `Mutex<usize>` and a `Condvar` (as in 07_semaphore_threads); the
//!   acceptor takes one before each `accept` and waits at the limit.
//! - **Blocking calls wait for one thing.** A worker blocked in `read` cannot also notice "shutdown
//!   started" or "a client is queued"; `tokio::select!` can. So workers read with a short timeout
//!   and look up between reads, and a watcher thread wakes the blocked `accept` at shutdown by
//!   connecting to it.
//! - **Keep-alive needs care.** A keep-alive client owns its worker while it is connected, so an
//!   idle keep-alive connection gives its worker up as soon as another client is queued (and the
//!   response says `connection: close` when someone is waiting). An async connection costs a few
//!   KiB when idle; here it would cost a whole thread.
//! - **A silent connection costs a whole worker for the whole header timeout.** A fresh connection
//!   keeps its worker until its first head arrives or `--header-timeout-ms` passes; it cannot hand
//!   the worker over, since its client has not been answered yet. So n clients that connect and
//!   say nothing stall an n-thread server for the header timeout: with `--threads 2`, two silent
//!   connections and a 1.5 s header timeout, a `GET /` waited 1.50 s, where the async twin
//!   answered in 0.8 ms (the tests `silent_connections_*` of both twins measure it). That is the
//!   threads model's real cost: a short header timeout limits it, only more threads (or the async
//!   model) remove it.
//! - **A client that never reads would block its worker for ever** in `write_all` once the socket
//!   buffers are full (sixteen such clients stop the server). `--write-timeout-ms` bounds the
//!   whole write of a response (`set_write_timeout` before each `write`): past it the connection
//!   is dropped, logged once, and the worker freed.
//! - **Threads cannot be cancelled.** A client that leaves mid-request keeps its worker busy until
//!   the handler is done (the async twin's handler runs on too, but holds only a timer); after the
//!   grace period the server closes the sockets of the workers still busy and stops waiting for
//!   them.
//! - **httparse parses, the server checks meaning**: two `Content-Length` headers that disagree,
//!   or one that is not a plain number, get `400` (as hyper answers): a request whose end is
//!   ambiguous is refused.
//! - Signals: std has no signal API; the `ctrlc` crate turns Ctrl-C and SIGTERM into a message on
//!   the channel the server waits on. A second signal during the grace period exits at once with
//!   one line and status 130.
//!
//! Seed: "Asynchrony" > Asynchrony vs Multithreading; servers. Upstream:
//! `src/cpp/asynchrony/async_server.cpp` (a detached thread per connection, unbounded: the
//! antipattern this pool fixes), `src/js/asynchrony/13_async_server.js` (routes).
//! Async twin: `examples-async/src/bin/13_async_server/`.
//!
//! Run:
//! - `cargo run -p examples-threads --bin 13_async_server_threads`: the demo (about 2 s).
//! - `cargo run -p examples-threads --bin 13_async_server_threads -- serve`: serve on `--addr`
//!   (127.0.0.1:8080) until Ctrl-C.
//! - Flags (both modes): `--threads 16`, `--delay-ms 100`, `--max-connections 10000`,
//!   `--header-timeout-ms 5000`, `--write-timeout-ms 5000`, `--grace-period-ms 5000`; `--burst 64`
//!   for the demo.
//!
//! The output will look similar to this (which worker serves which request varies; the burst
//! goes in rounds of 16, 100 ms apart):
//!
//! ```text
//!   0.012s  INFO [main] demo server listening on http://127.0.0.1:35677 (delay 100 ms, 16 threads)
//!   0.012s  INFO [main] --- the routes, one request at a time ---
//!   0.015s  INFO [worker-7] GET / -> 200 OK
//!   0.016s  INFO [main] GET / -> 200 in 3.93 ms: Hello from the threads server. Routes: GET /, ...
//!   ...
//!   0.326s  INFO [main] --- a burst of 64 concurrent GET /user/{id}, one client thread each ---
//!   0.440s  INFO [worker-7] GET /user/22 -> 200 OK
//!   ...     (16 lines at about 0.44 s, 16 at 0.54 s, 16 at 0.65 s, 16 at 0.76-0.86 s)
//!   0.862s  INFO [main] burst: 64 concurrent GET /user/{id} answered 200 in 536 ms
//!   0.862s  INFO [main] --- graceful shutdown with GET /slow in flight ---
//!   0.864s  INFO [main] shutdown signal sent while GET /slow is in flight
//!   0.864s  INFO [server] shutdown: stopped accepting; 1 connection(s) open, 1 request(s) in flight, grace period 5000 ms
//!   1.864s  INFO [worker-9] GET /slow -> 200 OK
//!   1.864s  INFO [server] shutdown: done in 1000 ms
//!   1.865s  INFO [main] GET /slow -> 200 after 1002 ms
//!   1.865s  INFO [main] a new connection after shutdown is refused
//!
//! Summary
//!   routes: GET / 200, GET /user/7 200, GET /data 200, GET /nope 404, POST / 405
//!   burst: 64 requests of 100 ms each on 16 threads took 536 ms (ideal 400 ms = 4 rounds; all at once 100 ms)
//!   requests in flight at once: at most 16 of 64 (the pool size)
//!   graceful shutdown: the in-flight GET /slow got 200 after 1002 ms; 0 connection(s) dropped
//!   after shutdown: new connections are refused
//!   server counters: 70 connection(s), 70 request(s), 0 error(s)
//! ```
//!
//! (Taken with other builds running on the machine's two cores: on an idle machine the burst is
//! closer to its 400 ms.) In `serve`, with a client that pipelines `GET /` and never reads, a
//! `GET /slow` in flight and two Ctrl-C (`serve --addr 127.0.0.1:0 --write-timeout-ms 500 --delay-ms 1000
//! --grace-period-ms 60000`; exit status 130):
//!
//! ```text
//!   0.011s  INFO [main] listening on http://127.0.0.1:43251 (16 threads, delay 1000 ms, max 10000 connections); Ctrl-C to stop
//!   ...     (GET / -> 200 OK, thousands of times: the pipelined requests)
//!   2.163s  INFO [worker-1] dropped: the client did not read its response in time (write timeout) peer=127.0.0.1:32812
//!   4.369s  INFO [ctrl-c] shutdown signal received (a second one exits at once)
//!   4.370s  INFO [server] shutdown: stopped accepting; 1 connection(s) open, 1 request(s) in flight, grace period 60000 ms
//!   4.865s  WARN [ctrl-c] second signal: exiting now, without waiting for in-flight requests
//! ```

mod server;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use common::{fmt_duration, init_logging, time};
use tracing::{info, warn};

use server::{Config, Server};

#[derive(Debug, Parser)]
#[command(
    about = "13 · The async server's twin on OS threads: a fixed pool of --threads workers on \
             blocking std::net, httparse for parsing, the same limits, timeouts and graceful \
             shutdown. Without a subcommand: a demo showing that with n threads and delay D at \
             most n requests progress at once.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: ServerArgs,
    /// Demo only: how many concurrent requests the burst sends.
    #[arg(long, default_value_t = 64, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    burst: u32,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve on --addr until Ctrl-C or SIGTERM, then shut down gracefully and exit 0.
    Serve,
}

#[derive(Debug, Clone, Args)]
struct ServerArgs {
    /// Address to listen on (`serve`; the demo always uses 127.0.0.1:0).
    #[arg(long, default_value = "127.0.0.1:8080", global = true)]
    addr: SocketAddr,
    /// Worker threads: at most this many connections are served at once.
    #[arg(long, default_value_t = 16, global = true,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    threads: u32,
    /// Simulated database delay: /user/{id} waits this long, /data twice, /slow ten times.
    #[arg(long, default_value_t = 100, global = true,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    delay_ms: u64,
    /// Connections held at once (served plus queued for a worker); past it the acceptor waits.
    #[arg(long, default_value_t = 10_000, global = true,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,
    /// Drop a client that has not sent a complete request head within this time.
    #[arg(long, default_value_t = 5_000, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    header_timeout_ms: u64,
    /// Drop a client that has not taken a response within this time (it does not read).
    #[arg(long, default_value_t = 5_000, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    write_timeout_ms: u64,
    /// After Ctrl-C/SIGTERM: how long in-flight requests get to finish (a second signal exits
    /// at once, status 130).
    #[arg(long, default_value_t = 5_000, global = true,
          value_parser = clap::value_parser!(u64).range(0..=600_000))]
    grace_period_ms: u64,
}

impl ServerArgs {
    fn config(&self) -> Config {
        Config {
            delay: Duration::from_millis(self.delay_ms),
            threads: self.threads as usize,
            max_connections: self.max_connections as usize,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            write_timeout: Duration::from_millis(self.write_timeout_ms),
            grace_period: Duration::from_millis(self.grace_period_ms),
            log_requests: u64::MAX,
        }
    }
}

/// The exit status after a second signal: 128 + SIGINT, what a shell reports for a process stopped
/// by Ctrl-C.
const EXIT_INTERRUPTED: i32 = 130;

/// `serve`: the real server, until a signal. The acceptor runs on a thread named `server`.
fn serve(args: &ServerArgs) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    // Ctrl-C (every platform) or SIGTERM becomes a message on the server's shutdown channel. The
    // handler runs on every signal: the first starts the graceful shutdown; a second one, during
    // the grace period, means "do not wait" and exits at once. Without it, nothing but the grace
    // period (up to 600 s) could stop a server whose clients are slow.
    let (stop, stop_signal) = mpsc::channel::<()>();
    let signals = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::SeqCst) == 0 {
            info!("shutdown signal received (a second one exits at once)");
            let _ = stop.send(());
        } else {
            warn!("second signal: exiting now, without waiting for in-flight requests");
            std::process::exit(EXIT_INTERRUPTED);
        }
    })
    .context("cannot install the Ctrl-C/SIGTERM handler")?;
    info!(
        "listening on http://{} ({} threads, delay {} ms, max {} connections); Ctrl-C to stop",
        listener.local_addr()?,
        args.threads,
        args.delay_ms,
        args.max_connections
    );
    let server = Server::new(args.config());
    let stopped = thread::Builder::new()
        .name("server".into())
        .spawn(move || server.run(listener, stop_signal))?
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    info!(
        "stopped: {} connection(s) open at the signal, {} dropped after the grace period",
        stopped.open_at_signal, stopped.dropped_after_grace
    );
    Ok(())
}

/// What the demo measured; `main` prints it and the tests check it.
#[derive(Debug)]
struct DemoReport {
    routes: Vec<(String, u16)>,
    burst: usize,
    burst_all_ok: bool,
    burst_took: Duration,
    peak_in_flight: usize,
    slow_status: u16,
    slow_took: Duration,
    dropped_after_grace: usize,
    refused_after_shutdown: bool,
    server: server::Snapshot,
}

/// A blocking HTTP client. `max_idle_connections(0)`: every request opens its own connection, so
/// the demo measures the server's pool and nothing of the client's.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_idle_connections(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Sends one request and returns its status and body.
fn send(agent: &ureq::Agent, method: &str, url: &str) -> anyhow::Result<(u16, String)> {
    let mut response = match method {
        "POST" => agent.post(url).send_empty()?,
        _ => agent.get(url).call()?,
    };
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok((status, body))
}

/// Starts a server on `127.0.0.1:0`, drives it with ureq from client threads, and shuts it down
/// gracefully with a `/slow` request in flight.
/// The tour of the routes, one request each.
const ROUTES: [(&str, &str); 5] = [
    ("GET", "/"),
    ("GET", "/user/7"),
    ("GET", "/data"),
    ("GET", "/nope"),
    ("POST", "/"),
];

/// How many requests of the burst the demo's access log shows; the rest are counted.
const BURST_LOGGED: u64 = 3;

fn demo(args: &ServerArgs, burst: usize) -> anyhow::Result<DemoReport> {
    // The access log shows the tour of the routes and the first few requests of the burst; the
    // rest of the burst is counted, so the lesson (n threads serve n requests at a time) stands
    // out instead of scrolling by in N lines.
    let config = Config {
        log_requests: ROUTES.len() as u64 + BURST_LOGGED,
        ..args.config()
    };
    let delay = config.delay;
    let threads = config.threads;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let server = Server::new(config);
    let stats = server.stats();
    // The demo's shutdown signal: a channel it sends on itself, where `serve` waits for Ctrl-C.
    let (stop, stop_signal) = mpsc::channel::<()>();
    let running = thread::Builder::new()
        .name("server".into())
        .spawn(move || server.run(listener, stop_signal))?;
    info!(
        "demo server listening on {base} (delay {}, {threads} threads)",
        fmt_duration(delay)
    );
    let agent = client();

    info!("--- the routes, one request at a time ---");
    let mut routes = Vec::new();
    for (method, path) in ROUTES {
        let (response, took) = time(|| send(&agent, method, &format!("{base}{path}")));
        let (status, body) = response?;
        info!(
            "{method} {path} -> {status} in {}: {}",
            fmt_duration(took),
            shorten(body.trim_end(), 60)
        );
        routes.push((format!("{method} {path}"), status));
    }

    info!("--- a burst of {burst} concurrent GET /user/{{id}}, one client thread each ---");
    let before = stats.snapshot();
    let (oks, burst_took) = time(|| {
        thread::scope(|scope| {
            let clients: Vec<_> = (0..burst)
                .map(|id| {
                    let (agent, base) = (&agent, &base);
                    thread::Builder::new()
                        .name(format!("client-{id}"))
                        .spawn_scoped(scope, move || {
                            match send(agent, "GET", &format!("{base}/user/{id}")) {
                                Ok((status, _)) => status == 200,
                                Err(e) => {
                                    warn!("burst request {id} failed: {e}");
                                    false
                                }
                            }
                        })
                })
                .collect();
            clients
                .into_iter()
                .map(|client| client.is_ok_and(|handle| handle.join().unwrap_or(false)))
                .collect::<Vec<bool>>()
        })
    });
    let burst_all_ok = oks.iter().all(|ok| *ok);
    let after = stats.snapshot();
    let peak_in_flight = after.peak_in_flight.max(before.peak_in_flight);
    let shown = after.logged - before.logged;
    info!(
        "burst: {burst} concurrent GET /user/{{id}} answered {} in {} ({shown} shown above, {} more \
         counted: RUST_LOG=debug shows each)",
        if burst_all_ok { "200" } else { "with failures" },
        fmt_duration(burst_took),
        (after.requests - before.requests).saturating_sub(shown)
    );

    info!("--- graceful shutdown with GET /slow in flight ---");
    let slow = {
        let (agent, url) = (agent.clone(), format!("{base}/slow"));
        thread::Builder::new()
            .name("client-slow".into())
            .spawn(move || time(|| send(&agent, "GET", &url)))?
    };
    // Wait until the server is handling it, so the signal really lands mid-request (or until
    // the request has failed on its own: it is reported below).
    while stats.snapshot().in_flight == 0 && !slow.is_finished() {
        thread::sleep(Duration::from_millis(1));
    }
    info!("shutdown signal sent while GET /slow is in flight");
    let _ = stop.send(());
    let stopped = running
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    let (slow_response, slow_took) = slow
        .join()
        .map_err(|_| anyhow::anyhow!("the /slow client thread panicked"))?;
    let (slow_status, _) = slow_response?;
    info!(
        "GET /slow -> {slow_status} after {}",
        fmt_duration(slow_took)
    );
    let refused_after_shutdown = TcpStream::connect(addr).is_err();
    info!(
        "a new connection after shutdown is {}",
        if refused_after_shutdown {
            "refused"
        } else {
            "accepted (unexpected)"
        }
    );

    Ok(DemoReport {
        routes,
        burst,
        burst_all_ok,
        burst_took,
        peak_in_flight,
        slow_status,
        slow_took,
        dropped_after_grace: stopped.dropped_after_grace,
        refused_after_shutdown,
        server: stats.snapshot(),
    })
}

/// The first `max` characters of `text`, with `...` if it was longer.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// Rounds of the pool a burst needs: ceil(burst / threads).
fn rounds(burst: usize, threads: usize) -> usize {
    burst.div_ceil(threads.max(1))
}

/// Runs `demo` and prints its summary.
fn run_demo(args: &ServerArgs, burst: usize) -> anyhow::Result<()> {
    let report = demo(args, burst)?;
    let delay = Duration::from_millis(args.delay_ms);
    let threads = args.threads as usize;
    let rounds = rounds(burst, threads);
    let routes: Vec<String> = report
        .routes
        .iter()
        .map(|(route, status)| format!("{route} {status}"))
        .collect();
    common::out!();
    common::out!("Summary");
    common::out!("  routes: {}", routes.join(", "));
    common::out!(
        "  burst: {} requests of {} each on {threads} threads took {} (ideal {} = {rounds} rounds; all at once {}){}",
        report.burst,
        fmt_duration(delay),
        fmt_duration(report.burst_took),
        fmt_duration(delay * rounds as u32),
        fmt_duration(delay),
        if report.burst_all_ok {
            ""
        } else {
            ", SOME FAILED"
        }
    );
    common::out!(
        "  requests in flight at once: at most {} of {} (the pool size)",
        report.peak_in_flight,
        report.burst
    );
    common::out!(
        "  graceful shutdown: the in-flight GET /slow got {} after {}; {} connection(s) dropped",
        report.slow_status,
        fmt_duration(report.slow_took),
        report.dropped_after_grace
    );
    common::out!(
        "  after shutdown: new connections are {}",
        if report.refused_after_shutdown {
            "refused"
        } else {
            "still accepted (unexpected)"
        }
    );
    common::out!(
        "  server counters: {} connection(s), {} request(s), {} error(s)",
        report.server.accepted,
        report.server.requests,
        report.server.errors
    );
    anyhow::ensure!(
        report.burst_all_ok && report.slow_status == 200 && report.refused_after_shutdown,
        "the demo did not go as expected (see above)"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli: Cli = common::parse_args();
    match cli.command {
        Some(Command::Serve) => serve(&cli.server),
        None => run_demo(&cli.server, cli.burst as usize),
    }
}

/// Sends `request` (raw bytes) on a fresh connection and returns what the server wrote back before
/// it closed, or the I/O error that ended the read. Shared by the tests of both modules.
#[cfg(test)]
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr)?;
    // A test must fail, not hang, if the server never answers.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[cfg(test)]
mod tests {
    //! The demo end to end on real sockets, with bounds that hold on a loaded machine: the lower
    //! bound (rounds x delay) is exact, because n workers cannot finish more than n requests per
    //! delay; the upper bound is generous.
    use super::*;

    fn args(delay_ms: u64, threads: u32) -> ServerArgs {
        ServerArgs {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            threads,
            delay_ms,
            max_connections: 1000,
            header_timeout_ms: 5_000,
            write_timeout_ms: 5_000,
            grace_period_ms: 5_000,
        }
    }

    #[test]
    fn with_n_threads_at_most_n_requests_progress_at_once() {
        let delay = Duration::from_millis(100);
        let (threads, burst) = (4, 12);
        let report = demo(&args(100, threads), burst).expect("demo runs");
        assert_eq!(
            report.routes,
            [
                ("GET /".to_string(), 200),
                ("GET /user/7".to_string(), 200),
                ("GET /data".to_string(), 200),
                ("GET /nope".to_string(), 404),
                ("POST /".to_string(), 405),
            ]
        );
        assert!(report.burst_all_ok);
        // The pool is the limit: never more than 4 in flight, and 12 requests need 3 rounds.
        assert_eq!(report.peak_in_flight, threads as usize, "{report:?}");
        assert!(report.burst_took >= delay * 3, "{report:?}");
        assert!(report.burst_took < delay * 12, "{report:?}");
        // Graceful: the request in flight at the signal finished with its full 10 x delay.
        assert_eq!(report.slow_status, 200);
        assert!(report.slow_took >= delay * 10, "{report:?}");
        assert_eq!(report.dropped_after_grace, 0);
        // The access log showed the tour and a few of the burst; the rest was only counted.
        assert_eq!(report.server.logged, ROUTES.len() as u64 + BURST_LOGGED);
        assert!(report.server.requests > report.server.logged, "{report:?}");
        assert!(report.refused_after_shutdown);
        assert_eq!(report.server.errors, 0);
    }

    #[test]
    fn rounds_round_up() {
        assert_eq!(rounds(64, 16), 4);
        assert_eq!(rounds(65, 16), 5);
        assert_eq!(rounds(3, 16), 1);
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("héllo", 2), "hé...");
        assert_eq!(shorten("hi", 5), "hi");
    }
}
