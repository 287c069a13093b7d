//! # 22 · Testing async code: the same scenario on the real clock and on a paused one
//!
//! Different from its threads twin by nature: here a paused clock makes time deterministic; there
//! what varies is the order of the threads' steps, and loom enumerates it.
//!
//! The chapter's sixth challenge ("testing asynchronous code can be harder": timing, ordering,
//! mocks; Python answers with `pytest-asyncio`). Every file of this workspace relies on the answer,
//! and this one teaches it. The component under test is small and timing-heavy: a **price cache with
//! a TTL** in front of a slow backend (each load takes 200 ms, an entry is fresh for 500 ms), served
//! over a line protocol like 14's (`protocol.rs`: `GET EUR` -> `VALUE EUR 108 MISS`).
//!
//! `main` runs one client session (7 requests, 4 misses and 3 hits, 1300 ms of waiting by design)
//! twice: on the **real clock**, where it takes 1.3 s of wall time, and on a **paused runtime**
//! (`Builder::start_paused`), where tokio jumps the clock to the next timer whenever every task is
//! waiting: the same 1300 ms of scenario time, the same outcomes, in about a millisecond of wall time.
//!
//! Its tests (`tests.rs`) show each technique once, named for what it proves: `start_paused` and
//! `time::advance` (exact times, fresh until exactly the TTL); the auto-advance trap (a timeout
//! around real I/O fires at once on a paused clock); polling a future by hand (`tokio_test`); a
//! protocol handler without sockets (`tokio_test::io::Builder`); a cancelled future tested for
//! cleanup (a drop guard, not code after the `.await`).
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Testing: testing asynchronous code can be
//! more complex"), Python's `pytest-asyncio`. Threads twin:
//! `examples-threads/src/bin/22_testing_threads/main.rs` (loom's interleavings, a forcing `Barrier`).
//!
//! Run: `cargo run -p examples-async --bin 22_testing` (about 1.4 s), and its tests:
//! `cargo test -p examples-async --bin 22_testing`. Output of a real run:
//! `docs/output/22_testing.txt`.

mod protocol;
mod report;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{fmt_duration, init_logging};
use futures::{SinkExt, StreamExt};
use tokio::time::{Instant, sleep};
use tokio_util::codec::{Framed, LinesCodec};
use tracing::info;

use protocol::{MAX_LINE, serve};
use report::Args;

/// How long the backend takes to answer one load.
const LOAD: Duration = Duration::from_millis(200);
/// How long a loaded price stays fresh.
const TTL: Duration = Duration::from_millis(500);

/// The client's session: wait this long, then ask for this key. Every check of a cached entry is
/// at least 100 ms from its expiry, so the real clock, a little late on every timer, gives the same
/// outcomes as the paused one.
const SESSION: [(u64, &str); 7] = [
    (0, "EUR"),   // t=0: miss, loaded at 200 (fresh until 700)
    (0, "EUR"),   // t=200: hit
    (0, "USD"),   // t=200: miss, loaded at 400 (fresh until 900)
    (400, "EUR"), // t=800: expired at 700: miss, loaded at 1000 (fresh until 1500)
    (0, "USD"),   // t=1000: expired at 900: miss, loaded at 1200
    (100, "EUR"), // t=1300: hit
    (0, "USD"),   // t=1300: hit
];
/// What the session must see, worked out by hand above.
const EXPECTED: [Outcome; 7] = [
    Outcome::Miss,
    Outcome::Hit,
    Outcome::Miss,
    Outcome::Miss,
    Outcome::Miss,
    Outcome::Hit,
    Outcome::Hit,
];
/// Its scenario time: four loads and 500 ms of pauses.
const IDEAL: Duration = Duration::from_millis(1300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Hit,
    Miss,
}

/// The component under test: prices from a slow backend, kept for `ttl`.
struct PriceCache {
    ttl: Duration,
    /// Price and the instant it was loaded. A std mutex: it is never held across an `.await`.
    entries: Mutex<HashMap<String, (u32, Instant)>>,
    /// Loads started and not finished (running, or cancelled without cleanup).
    in_flight: AtomicUsize,
}

impl PriceCache {
    fn new(ttl: Duration) -> Self {
        PriceCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The price of `key`: from the cache while fresh, else from the backend (and then cached).
    /// `tokio::time::Instant`, not std's: it follows the paused clock, which is what makes the TTL
    /// testable without waiting for it.
    async fn get(&self, key: &str) -> (u32, Outcome) {
        let cached = self.lock().get(key).copied();
        if let Some((price, loaded)) = cached
            && loaded.elapsed() < self.ttl
        {
            return (price, Outcome::Hit);
        }
        // The count goes back down in the guard's `Drop`, which runs also when this future is
        // dropped at the `.await` below (cancelled): code written after the `.await` would not run.
        let _loading = InFlight::start(&self.in_flight);
        let price = load_price(key).await;
        self.lock().insert(key.to_string(), (price, Instant::now()));
        (price, Outcome::Miss)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        // A panic while locked cannot leave the map half-updated (one `insert`): recover the guard.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The slow backend: a fixed price per key after `LOAD`.
async fn load_price(key: &str) -> u32 {
    sleep(LOAD).await;
    price_of(key)
}

fn price_of(key: &str) -> u32 {
    match key {
        "EUR" => 108,
        "USD" => 100,
        "GBP" => 127,
        _ => {
            key.bytes()
                .fold(7u32, |a, b| a.wrapping_mul(31) ^ u32::from(b))
                % 1000
        }
    }
}

/// Counts one load in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn start(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one session measured.
#[derive(Debug)]
struct SessionRun {
    outcomes: Vec<Outcome>,
    /// Scenario time, on whatever clock the runtime has (real or paused).
    elapsed: Duration,
}

/// One client session against a server task, over an in-memory pipe (`tokio::io::duplex`).
async fn session(cache: std::sync::Arc<PriceCache>) -> anyhow::Result<SessionRun> {
    let start = Instant::now();
    let (client, server) = tokio::io::duplex(1024);
    let server = tokio::spawn(async move { serve(server, &cache).await });
    let mut client = Framed::new(client, LinesCodec::new_with_max_length(MAX_LINE));
    let mut outcomes = Vec::new();
    for (wait, key) in SESSION {
        sleep(Duration::from_millis(wait)).await;
        let asked = Instant::now();
        let at = start.elapsed();
        client.send(format!("GET {key}")).await?;
        let reply = client
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the server hung up"))??;
        info!(
            "GET {key} at {} -> {reply} (answered after {})",
            fmt_duration(at),
            fmt_duration(asked.elapsed())
        );
        outcomes.push(match reply.rsplit(' ').next() {
            Some("HIT") => Outcome::Hit,
            Some("MISS") => Outcome::Miss,
            _ => anyhow::bail!("unexpected reply {reply:?}"),
        });
    }
    client.send("QUIT").await?;
    server.await??;
    Ok(SessionRun {
        outcomes,
        elapsed: start.elapsed(),
    })
}

/// Runs the session on a fresh current-thread runtime, paused or not; returns it with the wall
/// time it took (std's clock, which no runtime can pause) and the loads left in flight.
fn run_session(paused: bool) -> anyhow::Result<(SessionRun, Duration, usize)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()?;
    let cache = std::sync::Arc::new(PriceCache::new(TTL));
    let wall = std::time::Instant::now();
    let run = runtime.block_on(session(cache.clone()))?;
    Ok((run, wall.elapsed(), cache.in_flight.load(Ordering::SeqCst)))
}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    info!("--- the session on the real clock ---");
    let (real, real_wall, real_left) = run_session(false)?;
    info!("--- the same session on a paused clock ---");
    let (paused, paused_wall, paused_left) = run_session(true)?;
    report::print_summary(
        (&real, real_wall, real_left),
        (&paused, paused_wall, paused_left),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
