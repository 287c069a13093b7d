//! # 13 · The same HTTP server on threads: a fixed pool of workers, and what it costs
//!
//! The routes, flags, demo and shutdown of `examples-async/src/bin/13_async_server/`, on blocking
//! `std::net`: an acceptor thread pushes each connection into a queue, and `--threads` worker
//! threads (16) take connections from it and serve them (`server.rs`). Requests are parsed with
//! `httparse`, a real HTTP/1.1 parser (`parse.rs`).
//!
//! What it shows: **with n threads and a delay of D, at most n requests make progress at once**. A
//! worker sleeping in a handler (`thread::sleep` standing in for a blocking database call) can do
//! nothing else, so a burst of 64 requests of 100 ms on 16 threads takes 4 rounds, about 400 ms,
//! where the async twin takes about 100 ms; the server can never pass n / D requests per second
//! (160/s here). `scripts/load-test` measures both under `wrk`.
//!
//! What differs from the async twin, each explained where it lives: two limits, a pool and
//! connection slots (`server.rs`); blocking reads that look up between short timeouts, keep-alive
//! that gives its worker up, and **a silent connection that costs a whole worker for the whole
//! header timeout** (`parse.rs`, `connection.rs`); a write deadline (`write_deadline.rs`); threads
//! that cannot be cancelled at shutdown (`server.rs`); signals through `ctrlc` (`serve.rs`).
//!
//! Seed: "Asynchrony" > Asynchronous programming in servers. Upstream:
//! `src/cpp/asynchrony/async_server.cpp` (a detached thread per connection, unbounded: the
//! antipattern this pool fixes), `src/js/asynchrony/13_async_server.js` (routes).
//!
//! Run: `cargo run -p examples-threads --bin 13_async_server_threads` for the demo (`demo.rs`,
//! about 2 s: the burst goes in rounds of 16, 100 ms apart; a few requests logged, the rest
//! counted), `... -- serve` to serve on `--addr` (127.0.0.1:8080) until Ctrl-C. Flags (both
//! modes): `--threads 16`, `--delay-ms 100`, `--max-connections 10000`, `--header-timeout-ms 5000`,
//! `--write-timeout-ms 5000`, `--grace-period-ms 5000`; `--burst 64` for the demo.
//!
//! Output of a real run: `docs/output/13_async_server_threads.txt`.

mod connection;
mod demo;
mod parse;
mod report;
mod routes;
mod serve;
mod server;
mod slots;
mod write_deadline;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::init_logging;

use server::Config;

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

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli: Cli = common::parse_args();
    match cli.command {
        Some(Command::Serve) => serve::serve(&cli.server),
        None => report::run_demo(&cli.server, cli.burst as usize),
    }
}

#[cfg(test)]
mod tests;
