//! # 21 · Debugging, with threads: named threads, captured backtraces, a deadlock found by a detector
//!
//! Different from its async twin by nature: named threads, backtraces and parking_lot's deadlock
//! detector here; tokio's spans, runtime metrics and a stall watchdog there
//! (`examples-async/src/bin/21_debugging/main.rs`). Threads have their own ways to go wrong quietly,
//! and their own tools to see it:
//!
//! - **Named threads.** Three requests to the local test server, one `std::thread::Builder::name`d
//!   thread each (`fetch-users`, `fetch-orders`, `fetch-report`). `fetch-orders` parses the answer with
//!   an `expect` that fails: the panic message names the thread (`thread 'fetch-orders' panicked at
//!   ...`), where an unnamed one would say `'<unnamed>'`. The thread's name is to a thread what the
//!   span is to a task in the async twin.
//! - **A captured backtrace** (`panics.rs`): a panic hook captures one and logs the panic; `main`
//!   reads `join()`'s `Err` and prints which of this example's functions it passes through.
//! - **A deadlock, found, not waited for** (`deadlock.rs`): two transfers lock two accounts in
//!   opposite orders; parking_lot's detector names the cycle. `--fixed` locks in one global order.
//!
//! The async twin's watchdog has no analogue here: a thread that blocks stops only itself.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 3. Debugging Asynchronous Code, and the Quick
//! Comparison's "common risks" for threads (races, deadlocks). No upstream file.
//!
//! Run: `cargo run -p examples-threads --bin 21_debugging_threads` (about 1 s). Flags: `--fixed` (lock
//! in one global order: no deadlock). Output of a real run: `docs/output/21_debugging_threads.txt`.

mod deadlock;
mod panics;
mod report;

use std::thread;
use std::time::{Duration, Instant};

use common::fmt_duration;
use common::http_server::TestServer;
use tracing::info;

use deadlock::{LockOrder, run_transfers};
use panics::{PanicReport, install_panic_hook, take_panic_report};
use report::Args;

/// The requests, as in the async twin (without its blocking mistake: a thread may block).
const REQUESTS: [(&str, &str); 3] = [
    ("users", "/delay/100"),
    ("orders", "/delay/200"),
    ("report", "/delay/300"),
];
/// How often the detector looks for a lock cycle.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// If the transfers neither finish nor are found deadlocked by then, something else is wrong (the
/// detector, say): give up with an error rather than hang.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);
/// How long each transfer keeps its first lock before it asks for the second: long enough that both
/// hold one (a `Barrier` makes sure of it anyway), short enough to be quick.
const HOLD: Duration = Duration::from_millis(20);

/// One request on its own named thread. `fetch-orders` panics in `parse_order_count`.
#[inline(never)] // so that it shows in the backtrace of a release build too
fn fetch(server_url: &str, name: &str, path: &str) -> anyhow::Result<u32> {
    let started = Instant::now();
    info!("GET {server_url}{path}");
    // No proxy: a proxy from the environment (`HTTP_PROXY`) cannot reach our 127.0.0.1.
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let mut response = agent.get(format!("{server_url}{path}")).call()?;
    let body = response.body_mut().read_to_string()?;
    info!(
        "{}, {} bytes after {}",
        response.status(),
        body.len(),
        fmt_duration(started.elapsed())
    );
    Ok(if name == "orders" {
        parse_order_count(&body)
    } else {
        1
    })
}

/// The bug: the test server answers "ok", not a number, and `expect` turns that into a panic.
#[inline(never)] // so that it shows in the backtrace of a release build too
fn parse_order_count(body: &str) -> u32 {
    body.trim()
        .parse()
        .expect("the orders endpoint answers with a count")
}

/// What `main` learnt about one request thread.
#[derive(Debug)]
enum Outcome {
    Answered,
    Failed(String),
    Panicked(PanicReport),
}

/// Starts one named thread per request and joins them all.
fn run_requests(server: &TestServer) -> anyhow::Result<Vec<(String, Outcome)>> {
    let base = server.url("");
    let handles = REQUESTS
        .iter()
        .map(|&(name, path)| {
            let base = base.clone();
            let thread = format!("fetch-{name}");
            let handle = thread::Builder::new()
                .name(thread.clone())
                .spawn(move || fetch(&base, name, path))?;
            Ok((thread, handle))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut outcomes = Vec::new();
    for (thread, handle) in handles {
        let outcome = match handle.join() {
            Ok(Ok(_)) => Outcome::Answered,
            Ok(Err(e)) => Outcome::Failed(format!("{e:#}")),
            // The payload says little ("Any"); the hook kept the thread, place and backtrace.
            Err(_) => match take_panic_report(&thread) {
                Some(report) => Outcome::Panicked(report),
                None => Outcome::Failed("panicked (no report)".into()),
            },
        };
        outcomes.push((thread, outcome));
    }
    Ok(outcomes)
}

fn main() -> anyhow::Result<()> {
    let args = common::parse_args::<Args>();
    common::init_logging();
    install_panic_hook();

    let server = TestServer::start()?;
    let outcomes = run_requests(&server)?;
    let order = if args.fixed {
        LockOrder::Global
    } else {
        LockOrder::SourceFirst
    };
    info!(
        "two transfers, locks taken {order:?}; a detector checks every {}",
        fmt_duration(CHECK_EVERY)
    );
    let transfers = run_transfers(order)?;

    report::print_summary(&outcomes, &transfers);
    Ok(())
}

#[cfg(test)]
mod tests;
