//! # 13 · An async HTTP server: one task per connection, hardened, with a graceful shutdown
//!
//! Upstream's JS server (`GET /`, `/user/{id}` after a simulated database delay, `/data` after twice
//! that, `/slow` after ten times, 404 as JSON) written on hyper with an explicit accept loop, so the
//! async model is in plain sight (`server.rs`): `accept`, `tokio::spawn` one task for the
//! connection, repeat. While a handler waits on its timer, its task is parked and the runtime
//! serves the others: a burst of N requests of D ms each takes about D, not N x D.
//!
//! What an engineer would add before shipping it (each explained where it lives): a connection
//! limit taken before `accept` and a graceful shutdown (`server.rs`), hyper's header timeout, a
//! head-size cap and half-closed clients answered (`connection.rs`), a write deadline for clients
//! that never read (`write_deadline.rs`); 405 with `Allow`, JSON errors (`routes.rs`).
//!
//! Seed: "Asynchrony" > Asynchronous programming in servers (the event loop serving many clients).
//! Upstream: `src/js/asynchrony/13_async_server.js` (routes), `src/python/asynchrony/async_server.py`
//! (timeouts, 400), `src/cpp/asynchrony/async_server.cpp` (the thread-per-connection antipattern).
//! Threads twin: `examples-threads/src/bin/13_async_server_threads/`.
//!
//! Run:
//! - `cargo run -p examples-async --bin 13_async_server`: the demo (`demo.rs`, about 1.5 s): a
//!   server on `127.0.0.1:0`, a tour of the routes, a burst of `--burst` (64) concurrent requests
//!   (a few logged, the rest counted), a graceful shutdown with `/slow` in flight.
//! - `... --bin 13_async_server -- serve`: serve on `--addr` (127.0.0.1:8080) until Ctrl-C
//!   (`serve.rs`), e.g. `curl -i localhost:8080/user/7`; a second Ctrl-C exits at once (130).
//! - Flags (both modes): `--delay-ms 100` (0: no wait at all, not even a timer tick),
//!   `--max-connections 10000`, `--header-timeout-ms 5000`, `--write-timeout-ms 5000`,
//!   `--grace-period-ms 5000`; `--burst 64` for the demo. `scripts/load-test` runs it under `wrk`.
//!
//! Output of a real run: `docs/output/13_async_server.txt` (`tokio-rt-worker` lines come from the
//! runtime's worker threads, `main` is the demo's client).

mod connection;
mod demo;
mod report;
mod routes;
mod serve;
mod server;
mod write_deadline;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::init_logging;

use server::Config;

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

// The multi-threaded runtime: a server uses every core (one worker thread each); tasks move
// between workers, so the thread column in the log varies.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logging();
    let cli: Cli = common::parse_args();
    match cli.command {
        Some(Command::Serve) => serve::serve(&cli.server).await,
        None => report::run_demo(&cli.server, cli.burst as usize).await,
    }
}

#[cfg(test)]
mod tests;
