//! # 21 · Debugging: spans that name every request, runtime metrics, a stall detector
//!
//! Different from its threads twin by nature: tokio's spans, metrics and a stall watchdog here;
//! named threads, backtraces and parking_lot's deadlock detector there.
//!
//! Four requests to the local test server run as four tasks on one thread: `users` (100 ms),
//! `orders` (200 ms), `report` (the slow one, 900 ms) and `checksum` (50 ms), whose handler then
//! makes the classic mistake: a blocking call (`std::thread::sleep` standing in for a synchronous
//! file read or a heavy parse, 500 ms) right inside the async task. Nothing crashes; everything is
//! just late (`users`, answered at 100 ms, is read at 560). This file makes that visible three ways:
//!
//! - **Spans.** `fetch` is `#[tracing::instrument]`ed: every line it logs carries
//!   `request{id=2 name="report" task=7}`, so four interleaved requests read apart.
//! - **Runtime metrics** and **a stall detector** (`watchdog.rs`): tokio's `Handle::metrics()`
//!   sampled from a thread outside the runtime (the "global queue" is where tasks wait for a
//!   worker), and a heartbeat task whose stamps a watchdog thread sees stop. With `--fixed` the call
//!   runs on `spawn_blocking` and the detector stays quiet: the longest gap is about one heartbeat.
//!
//! tokio-console, opt-in: `--features console` plus `RUSTFLAGS="--cfg tokio_unstable"` (forgetting the
//! cfg is a compile error that says so); the book's page "Debugging with tokio-console" has the steps.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 3. Debugging Asynchronous Code (its
//! `asyncio.debug()` does not exist; Python's `asyncio.run(debug=True)` warns of slow callbacks, as
//! the watchdog here does). No upstream file. Threads twin:
//! `examples-threads/src/bin/21_debugging_threads/main.rs`.
//!
//! Run: `cargo run -p examples-async --bin 21_debugging` (about 1 s). Flags: `--fixed` (the blocking
//! call on `spawn_blocking`), `--rounds N` (repeat the scenario, e.g. to watch it in tokio-console).
//! Output of a real run: `docs/output/21_debugging.txt`.

#[cfg(all(feature = "console", not(tokio_unstable)))]
compile_error!(
    "the `console` feature needs tokio's unstable instrumentation: build with \
     RUSTFLAGS=\"--cfg tokio_unstable\" (and CARGO_TARGET_DIR=target/console to keep the normal \
     build's cache); see the book, \"Debugging with tokio-console\""
);

mod report;
mod watchdog;

use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use common::http_server::TestServer;
use tokio::task::JoinSet;
use tracing::{info, warn};

use report::Args;
use watchdog::Watchdog;

/// How often the heartbeat task stamps the time: the best gap the watchdog can ever see.
const HEARTBEAT: Duration = Duration::from_millis(20);
/// A gap longer than this is a stall. Ten heartbeats: far above scheduling noise on a busy machine,
/// far below what a user notices.
const STALL_THRESHOLD: Duration = Duration::from_millis(200);
/// How often the watchdog looks at the heartbeat, and how often it samples the runtime's metrics.
const WATCH_EVERY: Duration = Duration::from_millis(10);
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How long the mistaken blocking call holds the runtime's only thread.
const BLOCKING_CALL: Duration = Duration::from_millis(500);

/// One request of the scenario: a name for the logs, the test server's path.
#[derive(Debug, Clone, Copy)]
struct Request {
    name: &'static str,
    path: &'static str,
    /// Whether its handler makes the blocking call after the response arrives.
    blocks: bool,
}

const REQUESTS: [Request; 4] = [
    Request {
        name: "users",
        path: "/delay/100",
        blocks: false,
    },
    Request {
        name: "orders",
        path: "/delay/200",
        blocks: false,
    },
    Request {
        name: "report",
        path: "/delay/900",
        blocks: false,
    },
    Request {
        name: "checksum",
        path: "/delay/50?bytes=4096",
        blocks: true,
    },
];

/// Where the blocking call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocking {
    /// Inline, on the runtime's thread: the mistake.
    Inline,
    /// On tokio's blocking pool (`spawn_blocking`): the fix.
    SpawnBlocking,
}

/// What one request measured.
#[derive(Debug, Clone)]
struct Fetched {
    name: &'static str,
    status: u16,
    bytes: usize,
    took: Duration,
}

/// One request, as a task. The span (`request{id=.. name=.. task=..}`) wraps every line it logs, and
/// every line logged by code it calls, until it returns.
#[tracing::instrument(
    name = "request",
    skip_all,
    fields(id = id, name = request.name, task = tracing::field::Empty)
)]
async fn fetch(
    client: reqwest::Client,
    id: usize,
    request: Request,
    url: String,
    blocking: Blocking,
) -> anyhow::Result<Fetched> {
    // The span was made when `fetch` was called, before `tokio::spawn` made the task: only now, inside
    // it, is there a task id to record.
    if let Some(task) = tokio::task::try_id() {
        tracing::Span::current().record("task", tracing::field::display(task));
    }
    let started = Instant::now();
    info!("GET {url}");
    let response = client.get(&url).send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    let bytes = body.len();
    info!(
        "{status}, {bytes} bytes after {}",
        fmt_duration(started.elapsed())
    );
    if request.blocks {
        let sum = match blocking {
            Blocking::Inline => {
                warn!("checksum on the runtime thread (blocking call!)");
                checksum(&body)
            }
            Blocking::SpawnBlocking => {
                info!("checksum on the blocking pool");
                tokio::task::spawn_blocking(move || checksum(&body)).await?
            }
        };
        info!("checksum {sum:#010x} of {bytes} bytes");
    }
    let took = started.elapsed();
    info!("done in {}", fmt_duration(took));
    Ok(Fetched {
        name: request.name,
        status,
        bytes,
        took,
    })
}

/// The scenario: every request at once, each in its own task, on the caller's runtime.
async fn run_requests(server: &TestServer, blocking: Blocking) -> anyhow::Result<Vec<Fetched>> {
    // `no_proxy`: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut tasks = JoinSet::new();
    for (id, request) in REQUESTS.into_iter().enumerate() {
        let url = server.url(request.path);
        tasks.spawn(fetch(client.clone(), id, request, url, blocking));
    }
    let mut fetched = Vec::new();
    while let Some(done) = tasks.join_next().await {
        fetched.push(done??);
    }
    // In the scenario's order, not completion order, for the summary.
    fetched.sort_by_key(|f| REQUESTS.iter().position(|r| r.name == f.name));
    Ok(fetched)
}

/// The mistaken blocking call: a synchronous hash of the body (FNV-1a) that also waits `BLOCKING_CALL` (a
/// stand-in for `std::fs::read` on a slow disk, a sync DNS lookup, a heavy parse).
fn checksum(body: &[u8]) -> u32 {
    thread::sleep(BLOCKING_CALL);
    body.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn main() -> anyhow::Result<()> {
    let args = common::parse_args::<Args>();
    init_tracing();
    let blocking = if args.fixed {
        Blocking::SpawnBlocking
    } else {
        Blocking::Inline
    };

    // One thread on purpose: a blocking call then stops everything, which is what the detector is
    // for. (On a multi-threaded runtime it stops one worker and whatever is queued behind it: harder
    // to see, same cause.)
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = TestServer::start()?;
    info!(
        "{} requests, one thread; heartbeat every {}, stall past {}",
        REQUESTS.len(),
        fmt_duration(HEARTBEAT),
        fmt_duration(STALL_THRESHOLD)
    );

    let watchdog = Watchdog::start(runtime.handle(), STALL_THRESHOLD)?;
    let started = Instant::now();
    let mut fetched = Vec::new();
    for _ in 0..args.rounds {
        fetched = runtime.block_on(run_requests(&server, blocking))?;
    }
    let total = started.elapsed();
    let report = watchdog.stop();

    report::print_summary(&fetched, args.rounds, total, &report);
    Ok(())
}

/// The common logger, or, with `--features console`, tokio-console's subscriber (which also prints
/// the lines `RUST_LOG` selects, in tracing's default format).
fn init_tracing() {
    #[cfg(feature = "console")]
    console_subscriber::init();
    #[cfg(not(feature = "console"))]
    common::init_logging();
}

#[cfg(test)]
mod tests;
