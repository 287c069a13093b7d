//! # 13 · An async HTTP server: one task per connection, hardened, with a graceful shutdown
//!
//! Upstream's JS server (`GET /`, `/user/{id}` after a simulated database delay, `/data` after twice
//! that, `/slow` after ten times, 404 as JSON) written on hyper with an explicit accept loop, so the
//! async model is in plain sight: `accept`, `tokio::spawn` one task for the connection, repeat.
//! While a handler waits on its timer, its task is parked and the runtime serves the others: a
//! burst of N requests of D ms each takes about D, not N x D.
//!
//! What an engineer would add before shipping it, and what each one prevents:
//! - **`--max-connections`** (a semaphore taken *before* `accept`): at the limit the accept loop
//!   waits and new clients queue in the kernel; the server's memory stops growing.
//! - **`--header-timeout-ms`**: a client that does not finish its request head in time is dropped
//!   (a "slowloris" cannot hold a connection forever), and so is an idle keep-alive connection.
//! - **`--write-timeout-ms`**: hyper's header timeout stops once a head is in. A client that
//!   pipelines requests and never reads its answers would then hold its connection (and slot) for
//!   ever, its task waiting on a flush. `write_deadline.rs` wraps the socket so that a response
//!   not taken within the timeout fails the write: the connection is dropped, logged once.
//! - **Half-closed clients are answered**: a client may send its request and `shutdown(SHUT_WR)`
//!   (`nc -N` does). hyper's default takes that for an abort and answers nothing; this server
//!   allows half-closes (the price: a client that leaves mid-request is noticed only when its
//!   answer is written, so its handler runs to the end, as in the threads twin).
//! - **A cap on the request head** (`server::MAX_HEAD_BYTES`, 16 KiB): past it, `431` and close.
//! - **Graceful shutdown**: on Ctrl-C or SIGTERM it stops accepting, lets in-flight requests finish
//!   within `--grace-period-ms`, then exits 0; a second Ctrl-C or SIGTERM exits at once with one
//!   line and status 130. The server function takes its shutdown signal as a parameter, so the
//!   demo and the tests stop it at will.
//! - Method checks (405 with `Allow`), exact route matching, JSON errors, and client resets logged
//!   at `debug` (a closed browser tab is not an error).
//!
//! Seed: "Asynchrony" > Asynchronous programming in servers (the event loop serving many clients).
//! Upstream: `src/js/asynchrony/13_async_server.js` (routes), `src/python/asynchrony/async_server.py`
//! (timeouts, 400), `src/cpp/asynchrony/async_server.cpp` (the thread-per-connection antipattern).
//! Threads twin: `examples-threads/src/bin/13_async_server_threads/`.
//!
//! Run:
//! - `cargo run -p examples-async --bin 13_async_server`: the demo (about 1.5 s). A server on
//!   `127.0.0.1:0`, a tour of the routes, a burst of `--burst` (64) concurrent requests, then a
//!   graceful shutdown with a `/slow` request in flight.
//! - `cargo run -p examples-async --bin 13_async_server -- serve`: serve on `--addr`
//!   (127.0.0.1:8080) until Ctrl-C, e.g. `curl -i localhost:8080/user/7`.
//! - Flags (both modes): `--delay-ms 100` (0: no wait at all, not even a timer tick),
//!   `--max-connections 10000`, `--header-timeout-ms 5000`, `--write-timeout-ms 5000`,
//!   `--grace-period-ms 5000`; `--burst 64` for the demo. `scripts/load-test` runs it under `wrk`.
//!
//! The output will look similar to this (times vary; `tokio-rt-worker` lines come from the
//! runtime's worker threads, one per core, and `main` is the demo's client). The connections open
//! at shutdown are reqwest's idle keep-alive connections, closed at once, and the one with a
//! request in flight, which is let finish.
//!
//! ```text
//!   0.009s  INFO [main] demo server listening on http://127.0.0.1:35043 (delay 100 ms)
//!   0.010s  INFO [main] --- the routes, one request at a time ---
//!   0.018s  INFO [tokio-rt-worker] GET / -> 200 OK
//!   0.019s  INFO [main] GET / -> 200 OK in 8.14 ms: Hello from the async server. Routes: GET /, ...
//!   0.142s  INFO [main] GET /user/7 -> 200 OK in 104 ms: {"id":7,"name":"User 7","email":"user7@...
//!   ...
//!   0.349s  INFO [main] --- a burst of 64 concurrent GET /user/{id} ---
//!   0.484s  INFO [tokio-rt-worker] GET /user/12 -> 200 OK
//!   ...     (64 such lines within a millisecond or two)
//!   0.485s  INFO [main] burst: 64 concurrent GET /user/{id} answered 200 in 133 ms
//!   0.485s  INFO [main] --- graceful shutdown with GET /slow in flight ---
//!   0.487s  INFO [main] shutdown signal sent while GET /slow is in flight
//!   0.487s  INFO [tokio-rt-worker] shutdown: stopped accepting; 65 connection(s) open, 1 request(s) in flight, grace period 5000 ms
//!   1.486s  INFO [tokio-rt-worker] GET /slow -> 200 OK
//!   1.487s  INFO [tokio-rt-worker] shutdown: done in 999 ms
//!   1.534s  INFO [main] GET /slow -> 200 OK after 1005 ms
//!   1.550s  INFO [main] a new connection after shutdown is refused
//!
//! Summary
//!   routes: GET / 200, GET /user/7 200, GET /data 200, GET /nope 404, POST / 405
//!   burst: 64 requests of 100 ms each took 133 ms (ideal 100 ms; one at a time 6400 ms)
//!   requests in flight at once: at most 64 of 64
//!   graceful shutdown: the in-flight GET /slow got 200 after 1005 ms; 0 connection(s) dropped
//!   after shutdown: new connections are refused
//!   server counters: 65 connection(s), 70 request(s), 0 error(s)
//! ```
//!
//! In `serve`, with a client that pipelines `GET /` and never reads, a `GET /slow` in
//! flight and two Ctrl-C (`serve --addr 127.0.0.1:0 --write-timeout-ms 500 --delay-ms 1000
//! --grace-period-ms 60000`; exit status 130):
//!
//! ```text
//!   0.001s  INFO [main] listening on http://127.0.0.1:33051 (delay 1000 ms, max 10000 connections); Ctrl-C to stop
//!   ...     (GET / -> 200 OK, thousands of times: the pipelined requests)
//!   2.668s  INFO [tokio-rt-worker] dropped: the client did not read its response in time (write timeout) peer=127.0.0.1:55758
//!   4.380s  INFO [tokio-rt-worker] shutdown signal received (a second one exits at once)
//!   4.380s  INFO [main] shutdown: stopped accepting; 1 connection(s) open, 1 request(s) in flight, grace period 60000 ms
//!   4.884s  WARN [tokio-rt-worker] second signal: exiting now, without waiting for in-flight requests
//! ```

mod server;
mod write_deadline;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use common::{fmt_duration, init_logging, time_async};
use futures::future::join_all;
use reqwest::Method;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::time::sleep;
use tracing::{info, warn};

use server::{Config, Server};

#[derive(Debug, Parser)]
#[command(
    about = "13 · An async HTTP server on hyper: one task per connection, a connection limit, \
             header and write timeouts, a head-size cap and a graceful shutdown. Without a \
             subcommand: a self-contained demo showing N requests of D ms answered in about D, not \
             N x D.",
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
    /// Simulated database delay: /user/{id} waits this long, /data twice, /slow ten times.
    #[arg(long, default_value_t = 100, global = true,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    delay_ms: u64,
    /// Connections served at once; past it the accept loop waits for one to close.
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

/// Ctrl-C (every platform) and SIGTERM (Unix: what `kill`, systemd and container runtimes send),
/// as a stream of signals. The listeners are installed once, up front, so that a signal arriving
/// while the first one is being handled is not lost.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Completes at the next Ctrl-C or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!("cannot listen for Ctrl-C ({e}); the server runs until killed");
            std::future::pending::<()>().await;
        }
    }
}

/// The kernel's queue of connections not yet accepted. `TcpListener::bind` asks for 1024; when
/// thousands of clients connect at once (the load test opens 5000) that queue overflows, and the
/// kernel drops handshakes that the clients retry only a second later. Linux caps the value at
/// `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with [`LISTEN_BACKLOG`]. `SO_REUSEADDR` lets a restarted server bind again at once
/// while connections of the previous one linger in TIME_WAIT (what `TcpListener::bind` does too).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// `serve`: the real server, until a signal.
async fn serve(args: &ServerArgs) -> anyhow::Result<()> {
    let listener = listen(args.addr).with_context(|| format!("cannot listen on {}", args.addr))?;
    info!(
        "listening on http://{} (delay {} ms, max {} connections); Ctrl-C to stop",
        listener.local_addr()?,
        args.delay_ms,
        args.max_connections
    );
    let mut signals = Signals::install().context("cannot listen for Ctrl-C/SIGTERM")?;
    // The first signal starts the graceful shutdown; a second one, during the grace period, means
    // "do not wait": it exits at once. Without it, nothing but the grace period (up to 600 s)
    // could stop a server whose clients are slow.
    let (first, first_signal) = oneshot::channel::<()>();
    tokio::spawn(async move {
        signals.next().await;
        info!("shutdown signal received (a second one exits at once)");
        let _ = first.send(());
        signals.next().await;
        warn!("second signal: exiting now, without waiting for in-flight requests");
        std::process::exit(EXIT_INTERRUPTED);
    });
    let stopped = Server::new(args.config())
        .run(listener, async {
            // An error means the signal task ended: stop as well.
            let _ = first_signal.await;
        })
        .await;
    info!(
        "stopped: {} connection(s) open at the signal, {} dropped after the grace period",
        stopped.open_at_signal, stopped.dropped_after_grace
    );
    Ok(())
}

/// What the demo measured; `main` prints it and the tests check it.
#[derive(Debug)]
struct DemoReport {
    /// `("GET /", 200)`, ... for the tour of the routes.
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

/// The tour of the routes, one request each.
const ROUTES: [(Method, &str); 5] = [
    (Method::GET, "/"),
    (Method::GET, "/user/7"),
    (Method::GET, "/data"),
    (Method::GET, "/nope"),
    (Method::POST, "/"),
];

/// How many requests of the burst the demo's access log shows; the rest are counted.
const BURST_LOGGED: u64 = 3;

/// Starts a server on `127.0.0.1:0`, drives it with reqwest, and shuts it down gracefully with a
/// `/slow` request in flight.
async fn demo(args: &ServerArgs, burst: usize) -> anyhow::Result<DemoReport> {
    // The access log shows the tour of the routes and the first few requests of the burst; the
    // rest of the burst is counted, so the lesson (N requests answered in about one delay) stands
    // out instead of scrolling by in N lines.
    let config = Config {
        log_requests: ROUTES.len() as u64 + BURST_LOGGED,
        ..args.config()
    };
    let delay = config.delay;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let server = Server::new(config);
    let stats = server.stats();
    // The demo's shutdown signal: a oneshot it fires itself, where `serve` waits for Ctrl-C.
    let (stop, stop_signal) = oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, async {
        // An error means the sender was dropped: stop as well.
        let _ = stop_signal.await;
    }));
    info!(
        "demo server listening on {base} (delay {})",
        fmt_duration(delay)
    );

    // `no_proxy`: the demo talks to loopback, never through an HTTP_PROXY from the environment.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;

    info!("--- the routes, one request at a time ---");
    let mut routes = Vec::new();
    for (method, path) in ROUTES {
        let (response, took) = time_async(
            client
                .request(method.clone(), format!("{base}{path}"))
                .send(),
        )
        .await;
        let response = response?;
        let status = response.status();
        let body = response.text().await?;
        info!(
            "{method} {path} -> {status} in {}: {}",
            fmt_duration(took),
            shorten(body.trim_end(), 60)
        );
        routes.push((format!("{method} {path}"), status.as_u16()));
    }

    info!("--- a burst of {burst} concurrent GET /user/{{id}} ---");
    let before = stats.snapshot();
    let requests = (0..burst).map(|id| {
        let request = client.get(format!("{base}/user/{id}")).send();
        async move {
            match request.await {
                Ok(response) => response.status().is_success(),
                Err(e) => {
                    warn!("burst request {id} failed: {e}");
                    false
                }
            }
        }
    });
    let (oks, burst_took) = time_async(join_all(requests)).await;
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
    let slow = tokio::spawn(time_async(client.get(format!("{base}/slow")).send()));
    // Wait until the server is handling it, so the signal really lands mid-request (or until
    // the request has failed on its own: it is reported below).
    while stats.snapshot().in_flight == 0 && !slow.is_finished() {
        sleep(Duration::from_millis(1)).await;
    }
    info!("shutdown signal sent while GET /slow is in flight");
    let _ = stop.send(());
    let stopped = running.await.context("the server task panicked")?;
    let (slow_response, slow_took) = slow.await.context("the /slow request task panicked")?;
    let slow_status = slow_response?.status();
    info!(
        "GET /slow -> {slow_status} after {}",
        fmt_duration(slow_took)
    );
    let refused_after_shutdown = TcpStream::connect(addr).await.is_err();
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
        slow_status: slow_status.as_u16(),
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

/// Runs `demo` and prints its summary.
async fn run_demo(args: &ServerArgs, burst: usize) -> anyhow::Result<()> {
    let report = demo(args, burst).await?;
    let delay = Duration::from_millis(args.delay_ms);
    let routes: Vec<String> = report
        .routes
        .iter()
        .map(|(route, status)| format!("{route} {status}"))
        .collect();
    common::out!();
    common::out!("Summary");
    common::out!("  routes: {}", routes.join(", "));
    common::out!(
        "  burst: {} requests of {} each took {} (ideal {}; one at a time {}){}",
        report.burst,
        fmt_duration(delay),
        fmt_duration(report.burst_took),
        fmt_duration(delay),
        fmt_duration(delay * report.burst as u32),
        if report.burst_all_ok {
            ""
        } else {
            ", SOME FAILED"
        }
    );
    common::out!(
        "  requests in flight at once: at most {} of {}",
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

// The multi-threaded runtime: a server uses every core (one worker thread each); tasks move
// between workers, so the thread column in the log varies.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli: Cli = common::parse_args();
    match cli.command {
        Some(Command::Serve) => serve(&cli.server).await,
        None => run_demo(&cli.server, cli.burst as usize).await,
    }
}

/// Sends `request` (raw bytes) on a fresh connection and returns what the server wrote back before
/// it closed, or the I/O error that ended the read. Shared by the tests of both modules.
#[cfg(test)]
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// A future the tests complete when they want the server to stop.
#[cfg(test)]
fn shutdown_trigger() -> (oneshot::Sender<()>, impl std::future::Future<Output = ()>) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async {
        let _ = rx.await;
    })
}

#[cfg(test)]
mod tests {
    //! The demo end to end on real sockets (real time, so bounds, not exact figures; the exact
    //! timing claims are proven on the paused clock in `server::tests`).
    use super::*;

    fn args(delay_ms: u64) -> ServerArgs {
        ServerArgs {
            addr: "127.0.0.1:0".parse().expect("valid address"),
            delay_ms,
            max_connections: 1000,
            header_timeout_ms: 5_000,
            write_timeout_ms: 5_000,
            grace_period_ms: 5_000,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_serves_a_burst_in_about_one_delay_and_shuts_down_gracefully() {
        let delay = Duration::from_millis(200);
        let burst = 40;
        let report = demo(&args(200), burst).await.expect("demo runs");
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
        // Concurrent: every request of the burst was in the server at the same time, and the
        // burst took about one delay, far from the 40 x 200 ms of one at a time.
        assert_eq!(report.peak_in_flight, burst, "{report:?}");
        assert!(report.burst_took >= delay, "{report:?}");
        assert!(report.burst_took < delay * 5, "{report:?}");
        // Graceful: the request in flight at the signal finished with its full 10 x delay.
        assert_eq!(report.slow_status, 200);
        assert!(report.slow_took >= delay * 10, "{report:?}");
        assert_eq!(report.dropped_after_grace, 0);
        // The access log showed the tour and a few of the burst; the rest was only counted.
        assert_eq!(report.server.logged, ROUTES.len() as u64 + BURST_LOGGED);
        assert!(report.server.requests > report.server.logged, "{report:?}");
        assert!(report.refused_after_shutdown);
        assert_eq!(report.server.errors, 0);
        assert_eq!(report.server.live_connections, 0, "every connection closed");
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("héllo", 2), "hé...");
        assert_eq!(shorten("hi", 5), "hi");
    }
}
