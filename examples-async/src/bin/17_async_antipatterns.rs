//! # 17 · Async antipatterns: six mistakes run for real, each measured beside its fix
//!
//! Every mistake below compiles (but one, whose compiler error is quoted) and runs; each is followed by
//! the fixed version, and the summary prints both figures and a verdict computed from them.
//!
//! What it shows:
//! 1. **Blocking the runtime.** `std::thread::sleep` and a CPU loop inside an `async fn` hold the
//!    runtime's only thread: a heartbeat task that should tick every 25 ms misses every tick for
//!    300 ms (its longest gap is printed). `tokio::time::sleep` and `spawn_blocking` keep it ticking.
//! 2. **A `std::sync::MutexGuard` held across an `.await`.** With `tokio::spawn` it does not compile
//!    (the guard is not `Send`; the real message is quoted at [`atm_holding_std_guard`]). `spawn_local`
//!    on a `current_thread` runtime accepts it, and there it deadlocks: ATM-1 sleeps holding the
//!    guard, ATM-2's `lock()` blocks the only thread, and ATM-1 can never wake up to let go. A plain
//!    `lock()` would hang for ever; here ATM-2 asks with a deadline (`try_lock` until 300 ms have
//!    passed, blocking exactly as `lock()` does), so the deadlock is *seen*: the deadline fires, and
//!    ATM-1, which needed 50 ms, held the lock for the whole 300 ms. The fix, `tokio::sync::Mutex`:
//!    ATM-2 waits 50 ms without blocking anyone.
//! 3. **Awaiting in a loop** where the calls do not depend on each other: the time is the sum of the
//!    delays; `join_all` takes the longest one (JS demo 4, C++ demo 1).
//! 4. **A future created and never awaited.** Rust's futures are lazy: `flaky_op(i);` does nothing at
//!    all, not even fail. The compiler warns (quoted at [`never_awaited`]); the count of operations
//!    that ran is 0, and the one that must fail is never seen failing. JS's promises run anyway and
//!    their errors vanish; here the work itself vanishes. Upstream JS's `flakyOp` never fails
//!    (`failProb = 0`), so its demo shows nothing: ours fails for real (op 2), and only the fixed
//!    version sees it.
//! 5. **Unbounded `tokio::spawn` in a loop.** 300 requests go to a database with 10 connections
//!    (10 ms a query). Spawning one task per request at once does not finish sooner (the 10
//!    connections set the pace: 300 ms either way), it only parks 290 tasks and their 16 KiB requests
//!    in memory (the runtime's task count and the process's resident memory are measured). A
//!    `Semaphore` taken *before* the spawn keeps 20 in flight, for the same total time.
//! 6. **A forgotten `JoinHandle`.** `JoinHandle` is not `#[must_use]`: dropping it detaches the task
//!    without a warning. One task returns an error, another panics; the program says "saved" and exits
//!    0, having learnt of neither (the error leaves no trace at all; the panic only reaches the panic
//!    hook). Awaiting the handles gives both back: `Err(e)` and `JoinError::is_panic()`.
//!
//! Upstream: `src/js/asynchrony/17_async_antipatterns.js` (its demo 1, a fire-and-forget rejection,
//! is number 6 here; demo 2, `forEach(async ...)`, does not compile in Rust (`for_each` wants a
//! closure that returns `()`, not a future), and the version that does, `{ flaky_op(i); }`, is
//! number 4, as is demo 3, the forgotten `await`; demo 4 is number 3),
//! `src/cpp/asynchrony/async_antipatterns.cpp` (its demo 1, discarded `std::async` temporaries that
//! serialise a loop, is number 3 here; dropping a `JoinHandle` does not block, unlike a discarded
//! `std::future`; its double `get()` cannot be written in Rust: `.await` consumes), the bad demos of
//! `src/python/asynchrony/asyncio_execution_model.py` (a CPU loop and `time.sleep` that freeze its
//! ticks: number 1). Seed: "Asynchrony" > Challenges and Considerations.
//! Threads twin: `examples-threads/src/bin/17_async_antipatterns_threads.rs`.
//!
//! Run: `cargo run -p examples-async --bin 17_async_antipatterns` (no flags but `--help`, about 3 s).
//!
//! The output will look similar to this (timings vary; a busy machine makes the gaps longer):
//!
//! ```text
//!   0.000s  INFO [main] --- 1. blocking the runtime: std::thread::sleep in an async fn ---
//!   0.339s  WARN [main] heartbeat 2: 337 ms since the last tick, the runtime thread was blocked
//!   ...
//!   1.464s  INFO [main] ATM-1: balance is 100, dispensing (holding a std MutexGuard)
//!   1.773s  WARN [main] ATM-2: no lock after 309 ms: deadlock (its holder needs this thread to let go)
//!   1.773s  INFO [main] ATM-1: done, held the lock 309 ms
//!   ...
//!   3.144s ERROR [main] panic hook: a task panic, charts.pdf: chart index 7 out of range
//!   3.188s  INFO [main] forgotten handles: "report saved" (so the program believes)
//!   ...
//! Summary
//!   1. std::thread::sleep in an async fn: heartbeat longest gap 337 ms (tick 25 ms): froze
//!      CPU loop in an async fn: heartbeat longest gap 346 ms (tick 25 ms): froze
//!      fix, tokio::time::sleep: heartbeat longest gap 30 ms (tick 25 ms): kept time
//!      fix, spawn_blocking: heartbeat longest gap 46 ms (tick 25 ms): kept time
//!   2. std MutexGuard across .await on spawn_local: ATM-2 gave up after 309 ms (deadline 300 ms): DEADLOCK; ATM-1 held the lock 309 ms (needs 50 ms)
//!      fix, tokio::sync::Mutex: ATM-2 got the lock after 52 ms (ideal 50 ms): no deadlock
//!   3. await in a loop 386 ms | join_all 122 ms | 3.17x, ideal 3.00x (sum 360 ms vs max 120 ms)
//!   4. never awaited: 0 of 4 operations ran, 0 failures seen | awaited: 4 of 4 operations ran, 1 failure seen (op 2: quote service unavailable)
//!   5. unbounded spawn: 300/300 served, at most 300 tasks alive, 4800 KiB of requests held, resident memory +4.4 MiB, 360 ms
//!      bounded (Semaphore, 20 in flight): 300/300 served, at most 20 tasks alive, 320 KiB of requests held, resident memory +0.6 MiB, 409 ms (ideal 300 ms: 10 connections set the pace)
//!   6. forgotten JoinHandles: 2 tasks started, 0 of 2 failures learnt of (the panic hook saw 1 panic) | awaited: 2 of 2 failures learnt of
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use common::{Comparison, fmt_duration, init_logging, out, parse_args, time_async};
use futures::future::join_all;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

// --- 1. Blocking the runtime ---------------------------------------------------------------------

/// How long each blocking call holds the thread (upstream Python: 3 s, scaled down).
const BLOCK: Duration = Duration::from_millis(300);
/// The heartbeat's period.
const TICK: Duration = Duration::from_millis(25);
/// How late a tick may come, on a busy machine, and still count as "kept time": generous (a loaded
/// 2-core machine can delay a ready thread by 100 ms), and still well under [`BLOCK`].
const LATE: Duration = Duration::from_millis(125);

/// The mistake: a blocking sleep in an `async fn`. The thread sleeps, and with it every task of
/// this runtime: nothing here gives the thread back, there is no `.await`.
async fn blocking_sleep_inline() {
    std::thread::sleep(BLOCK);
}

/// CPU work for `for_how_long` of wall time: sized by the clock rather than by a count, so that it
/// blocks as long in a debug build as in a release one. `black_box` keeps the loop from being
/// optimised away.
fn cpu_loop(for_how_long: Duration) -> u64 {
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    let mut i = 0u64;
    while start.elapsed() < for_how_long {
        for _ in 0..1000 {
            sum = sum.wrapping_add(black_box(i).wrapping_mul(i));
            i += 1;
        }
    }
    sum
}

/// The same mistake with computation: an `async fn` with no `.await` runs to its end in one poll.
async fn cpu_loop_inline() -> u64 {
    cpu_loop(BLOCK)
}

/// Fix for the sleep: tokio's sleep registers a timer and gives the thread back until it fires.
async fn async_sleep() {
    sleep(BLOCK).await;
}

/// Fix for the CPU loop: it runs on tokio's blocking pool (another thread); this task waits at the
/// `.await`, and the runtime thread is free for the heartbeat.
async fn cpu_loop_on_blocking_pool() -> u64 {
    tokio::task::spawn_blocking(|| cpu_loop(BLOCK))
        .await
        .expect("the CPU loop does not panic")
}

/// What the heartbeat saw while some work ran.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Heartbeat {
    ticks: u32,
    longest_gap: Duration,
}

impl Heartbeat {
    fn kept_time(&self) -> bool {
        self.longest_gap <= TICK + LATE
    }

    fn verdict(&self) -> &'static str {
        if self.kept_time() {
            "kept time"
        } else {
            "froze"
        }
    }
}

/// Ticks every [`TICK`] until `stop`; records the longest gap between two ticks.
async fn heartbeat(stop: CancellationToken) -> Heartbeat {
    let mut ticker = interval(TICK);
    // After a freeze, tick once and carry on (the default, `Burst`, fires the missed ticks at once).
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seen = Heartbeat {
        ticks: 0,
        longest_gap: Duration::ZERO,
    };
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return seen,
            _ = ticker.tick() => {
                let now = Instant::now();
                seen.ticks += 1;
                let gap = last.map_or(Duration::ZERO, |last| now.duration_since(last));
                seen.longest_gap = seen.longest_gap.max(gap);
                if gap > TICK + LATE {
                    warn!(
                        "heartbeat {}: {} since the last tick, the runtime thread was blocked",
                        seen.ticks,
                        fmt_duration(gap)
                    );
                }
                last = Some(now);
            }
        }
    }
}

/// Runs `work` while a heartbeat ticks on the same runtime; returns what the heartbeat saw.
async fn with_heartbeat<T>(work: impl Future<Output = T>) -> Heartbeat {
    let stop = CancellationToken::new();
    let beat = tokio::spawn(heartbeat(stop.clone()));
    // A tick before the work and one after it: the gap that spans the work lies between two ticks.
    sleep(TICK).await;
    black_box(work.await);
    sleep(TICK).await;
    stop.cancel();
    beat.await.expect("the heartbeat does not panic")
}

/// The four runs of section 1, in order: sleep inline, CPU inline, async sleep, blocking pool.
async fn blocking_the_runtime() -> [(&'static str, Heartbeat); 4] {
    info!("--- 1. blocking the runtime: std::thread::sleep in an async fn ---");
    let sleep_inline = with_heartbeat(blocking_sleep_inline()).await;
    info!("--- 1. blocking the runtime: a CPU loop in an async fn ---");
    let cpu_inline = with_heartbeat(cpu_loop_inline()).await;
    info!("--- 1. fixed: tokio::time::sleep, and the CPU loop on spawn_blocking ---");
    let sleep_async = with_heartbeat(async_sleep()).await;
    let cpu_pool = with_heartbeat(cpu_loop_on_blocking_pool()).await;
    [
        ("std::thread::sleep in an async fn", sleep_inline),
        ("CPU loop in an async fn", cpu_inline),
        ("fix, tokio::time::sleep", sleep_async),
        ("fix, spawn_blocking", cpu_pool),
    ]
}

// --- 2. A std::sync::MutexGuard held across an .await ------------------------------------------

const OPENING_BALANCE: u64 = 100;
const WITHDRAWAL: u64 = 80;
/// The `.await` ATM-1 makes while it holds the lock (10's dispense).
const DISPENSE: Duration = Duration::from_millis(50);
/// How long ATM-2 waits for the lock before it calls it a deadlock.
const PATIENCE: Duration = Duration::from_millis(300);

/// What the two ATMs measured.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LockReport {
    /// How long ATM-2 waited: until it got the lock, or until it gave up.
    atm2_waited: Duration,
    /// Whether ATM-2 got the lock at all.
    atm2_got_it: bool,
    /// How long ATM-1 held the lock (it needs [`DISPENSE`]).
    atm1_held: Duration,
}

/// ATM-1 with the mistake: the `std::sync::MutexGuard` lives across the `.await`.
///
/// Given to `tokio::spawn`, this does not compile (rustc 1.95, tokio 1.54):
///
/// ```text
/// error: future cannot be sent between threads safely
///    --> src/main.rs:13:16
///     |
///  13 |       let task = tokio::spawn(async move {
///     |  ________________^
///  14 | |         let mut guard = b.lock().unwrap();
///  15 | |         tokio::time::sleep(Duration::from_millis(50)).await;
///  16 | |         *guard -= 80;
///  17 | |     });
///     | |______^ future created by async block is not `Send`
///     |
///     = help: within `{async block@src/main.rs:13:29: 13:39}`, the trait `Send` is not implemented for `std::sync::MutexGuard<'_, i32>`
/// note: future is not `Send` as this value is used across an await
///    --> src/main.rs:15:55
///     |
///  14 |         let mut guard = b.lock().unwrap();
///     |             --------- has type `std::sync::MutexGuard<'_, i32>` which is not `Send`
///  15 |         tokio::time::sleep(Duration::from_millis(50)).await;
///     |                                                       ^^^^^ await occurs here, with `mut guard` maybe used later
/// note: required by a bound in `tokio::spawn`
/// ```
///
/// `spawn_local` has no `Send` bound, so the compiler lets it through there (clippy's
/// `await_holding_lock` would still flag it: it is allowed here to run the mistake on purpose).
#[allow(clippy::await_holding_lock)]
async fn atm_holding_std_guard(balance: Arc<std::sync::Mutex<u64>>, start: Instant) -> Duration {
    let mut guard = balance
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let locked_at = start.elapsed();
    info!(
        "ATM-1: balance is {}, dispensing (holding a std MutexGuard)",
        *guard
    );
    sleep(DISPENSE).await;
    *guard -= WITHDRAWAL;
    let held = start.elapsed() - locked_at;
    drop(guard);
    info!("ATM-1: done, held the lock {}", fmt_duration(held));
    held
}

/// `lock()` with a deadline. std's `Mutex` has none (C++ has `timed_mutex::try_lock_for`): this
/// tries, sleeps 1 ms **blocking the thread**, and tries again, exactly as blocking as `lock()`,
/// except that it gives up at the deadline instead of waiting for ever. The deadline is real time
/// (`std::time`): the thread is blocked, so tokio's clock means nothing to it.
fn lock_within<T>(
    mutex: &std::sync::Mutex<T>,
    patience: Duration,
) -> Option<std::sync::MutexGuard<'_, T>> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The mistake on a `current_thread` runtime: two ATMs as `spawn_local` tasks share a
/// `std::sync::Mutex`; ATM-1 sleeps holding it, ATM-2 blocks the only thread waiting for it.
async fn std_guard_across_await() -> LockReport {
    let balance = Arc::new(std::sync::Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let atm1 = tokio::task::spawn_local(atm_holding_std_guard(balance.clone(), start));
            let balance2 = balance.clone();
            let atm2 = tokio::task::spawn_local(async move {
                let asked = std::time::Instant::now();
                // With `balance2.lock()` this line never returns: ATM-1 holds the lock and can
                // only let go when this thread polls it again, which it cannot while it waits here.
                let got = lock_within(&balance2, PATIENCE);
                let waited = asked.elapsed();
                let got_it = got.is_some();
                match got {
                    Some(guard) => info!("ATM-2: balance is {}", *guard),
                    None => warn!(
                        "ATM-2: no lock after {}: deadlock (its holder needs this thread to let go)",
                        fmt_duration(waited)
                    ),
                }
                (waited, got_it)
            });
            let (atm2_waited, atm2_got_it) = atm2.await.expect("ATM-2 does not panic");
            let atm1_held = atm1.await.expect("ATM-1 does not panic");
            LockReport {
                atm2_waited,
                atm2_got_it,
                atm1_held,
            }
        })
        .await
}

/// The fix: `tokio::sync::Mutex`. Its guard may live across an `.await` (it is `Send`, and waiting
/// for it is an `.await` that gives the thread back), so ATM-2 waits while ATM-1 dispenses.
async fn tokio_mutex_across_await() -> LockReport {
    let balance = Arc::new(tokio::sync::Mutex::new(OPENING_BALANCE));
    let start = Instant::now();
    let b1 = balance.clone();
    let atm1 = tokio::spawn(async move {
        let mut guard = b1.lock().await;
        let locked_at = start.elapsed();
        info!(
            "ATM-1: balance is {}, dispensing (holding a tokio MutexGuard)",
            *guard
        );
        sleep(DISPENSE).await;
        *guard -= WITHDRAWAL;
        start.elapsed() - locked_at
    });
    // Let ATM-1 take the lock first, as in the bad version.
    tokio::task::yield_now().await;
    let b2 = balance.clone();
    let atm2 = tokio::spawn(async move {
        let asked = Instant::now();
        let guard = b2.lock().await;
        info!("ATM-2: balance is {}", *guard);
        asked.elapsed()
    });
    let atm2_waited = atm2.await.expect("ATM-2 does not panic");
    let atm1_held = atm1.await.expect("ATM-1 does not panic");
    LockReport {
        atm2_waited,
        atm2_got_it: true,
        atm1_held,
    }
}

// --- 3. Awaiting in a loop ----------------------------------------------------------------------

/// Four independent look-ups and how long each takes.
const QUOTES: [(&str, Duration); 4] = [
    ("EUR", Duration::from_millis(120)),
    ("USD", Duration::from_millis(80)),
    ("GBP", Duration::from_millis(100)),
    ("JPY", Duration::from_millis(60)),
];

async fn fetch_quote(currency: &str, delay: Duration) -> String {
    sleep(delay).await;
    format!("{currency} ok")
}

/// The mistake: each `.await` finishes before the next call starts. Time: the sum.
async fn quotes_one_after_another() -> Vec<String> {
    let mut out = Vec::new();
    for (currency, delay) in QUOTES {
        out.push(fetch_quote(currency, delay).await);
    }
    out
}

/// The fix: build all the futures, then await them together. Time: the longest.
async fn quotes_together() -> Vec<String> {
    join_all(QUOTES.map(|(currency, delay)| fetch_quote(currency, delay))).await
}

// --- 4. A future never awaited ------------------------------------------------------------------

/// How many operations start, in [`never_awaited`] and [`awaited`].
const OPS: u32 = 4;
/// The operation that fails for real.
const FAILING_OP: u32 = 2;

/// An operation that really fails (op [`FAILING_OP`]), unlike upstream's `flakyOp`. It counts its
/// runs in `ran`, at its first line: a run that never started leaves the count alone.
async fn flaky_op(i: u32, ran: Arc<AtomicUsize>) -> Result<u32, String> {
    ran.fetch_add(1, Ordering::SeqCst);
    sleep(Duration::from_millis(20)).await;
    if i == FAILING_OP {
        Err(format!("op {i}: quote service unavailable"))
    } else {
        Ok(i)
    }
}

/// How many operations ran, and the failures that were seen.
#[derive(Debug, Clone, PartialEq)]
struct OpsReport {
    ran: usize,
    failures: Vec<String>,
}

/// The mistake: the futures are created and dropped. Without the `allow`, rustc 1.95 says:
///
/// ```text
/// warning: unused implementer of `Future` that must be used
///   --> src/main.rs:11:9
///    |
/// 11 |         flaky_op(i);
///    |         ^^^^^^^^^^^
///    |
///    = note: futures do nothing unless you `.await` or poll them
///    = note: `#[warn(unused_must_use)]` (part of `#[warn(unused)]`) on by default
/// ```
///
/// The `allow` is here because the workspace builds with warnings as errors; remove it to see the
/// warning. Nothing runs: no request, no error, nothing to catch.
async fn never_awaited() -> OpsReport {
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..OPS {
        #[allow(unused_must_use)]
        flaky_op(i, ran.clone());
    }
    OpsReport {
        ran: ran.load(Ordering::SeqCst),
        failures: Vec::new(),
    }
}

/// The fix: await them (together), and look at every result.
async fn awaited() -> OpsReport {
    let ran = Arc::new(AtomicUsize::new(0));
    let results = join_all((0..OPS).map(|i| flaky_op(i, ran.clone()))).await;
    let failures = results.into_iter().filter_map(Result::err).collect();
    OpsReport {
        ran: ran.load(Ordering::SeqCst),
        failures,
    }
}

// --- 5. Unbounded spawn in a loop ---------------------------------------------------------------

/// Requests to serve.
const REQUESTS: usize = 300;
/// Connections the database allows: the real limit on how fast the requests can go.
const CONNECTIONS: usize = 10;
/// How long one request holds a connection.
const QUERY: Duration = Duration::from_millis(10);
/// The bytes each request carries until it is done (its body, its buffers).
const REQUEST_BYTES: usize = 16 * 1024;
/// Requests in flight in the bounded version: the connections, plus as many waiting for one.
const IN_FLIGHT: usize = 2 * CONNECTIONS;

/// What a run of [`REQUESTS`] requests measured.
#[derive(Debug, Clone, PartialEq)]
struct SpawnReport {
    /// The most tasks alive at once, as the runtime counts them (`num_alive_tasks`).
    peak_tasks: usize,
    /// The most request bytes held at once, counted by the requests.
    peak_bytes: usize,
    /// Growth of the process's resident memory (Linux), the most seen during the run.
    rss_growth_kib: Option<u64>,
    served: usize,
    took: Duration,
}

/// Live request bytes, and their peak.
#[derive(Default)]
struct Held {
    now: AtomicUsize,
    peak: AtomicUsize,
    served: AtomicUsize,
}

/// One request: it holds its bytes from the moment it is created until it has been served.
async fn serve(request: Vec<u8>, db: Arc<Semaphore>, held: Arc<Held>) {
    let connection = db.acquire().await.expect("the pool is never closed");
    sleep(QUERY).await;
    drop(connection);
    black_box(&request);
    held.now.fetch_sub(request.len(), Ordering::SeqCst);
    held.served.fetch_add(1, Ordering::SeqCst);
}

/// A request's bytes, written to so that they are really resident (zeroed memory may not be).
fn new_request(held: &Held) -> Vec<u8> {
    let now = held.now.fetch_add(REQUEST_BYTES, Ordering::SeqCst) + REQUEST_BYTES;
    held.peak.fetch_max(now, Ordering::SeqCst);
    vec![1u8; REQUEST_BYTES]
}

/// Serves every request, spawning at most `limit` at a time (`None`: the mistake, no limit).
async fn serve_all(limit: Option<usize>) -> SpawnReport {
    let db = Arc::new(Semaphore::new(CONNECTIONS));
    let held = Arc::new(Held::default());
    let in_flight = limit.map(|n| Arc::new(Semaphore::new(n)));
    let metrics = tokio::runtime::Handle::current().metrics();
    let rss_before = resident_kib();
    let mut rss_peak = rss_before;
    let mut peak_tasks = 0;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(REQUESTS);
    for n in 0..REQUESTS {
        // The fix: wait for room *before* spawning, so the loop itself slows to the pace of the
        // work. (A permit taken inside the task would limit the work, not the tasks: all 300
        // would still be spawned and held.)
        let permit = match &in_flight {
            Some(limit) => Some(limit.clone().acquire_owned().await.expect("never closed")),
            None => None,
        };
        let request = new_request(&held);
        let (db, held) = (db.clone(), held.clone());
        tasks.push(tokio::spawn(async move {
            serve(request, db, held).await;
            drop(permit);
        }));
        peak_tasks = peak_tasks.max(metrics.num_alive_tasks());
        if n % 25 == 24 {
            rss_peak = rss_peak.max(resident_kib());
        }
    }
    rss_peak = rss_peak.max(resident_kib());
    for task in tasks {
        task.await.expect("a request does not panic");
    }
    SpawnReport {
        peak_tasks,
        peak_bytes: held.peak.load(Ordering::SeqCst),
        rss_growth_kib: rss_before.zip(rss_peak).map(|(b, p)| p.saturating_sub(b)),
        served: held.served.load(Ordering::SeqCst),
        took: start.elapsed(),
    }
}

// --- 6. A forgotten JoinHandle ------------------------------------------------------------------

/// Report parts saved by background tasks: one fails with an error, one panics.
const PARTS: [&str; 2] = ["summary.pdf", "charts.pdf"];

/// Saves one part. `summary.pdf` fails (an error); `charts.pdf` hits a bug (a panic).
async fn save_part(part: &'static str, started: Arc<AtomicUsize>) -> anyhow::Result<()> {
    started.fetch_add(1, Ordering::SeqCst);
    sleep(Duration::from_millis(10)).await;
    match part {
        "summary.pdf" => anyhow::bail!("{part}: disk full"),
        _ => panic!("{part}: chart index 7 out of range"),
    }
}

/// What the program learnt about its background tasks.
#[derive(Debug, Clone, PartialEq)]
struct HandleReport {
    started: usize,
    /// Failures the program itself learnt of (not the panic hook).
    failures_learnt: Vec<String>,
}

/// The mistake: spawn and drop the handle. No warning (`JoinHandle` is not `#[must_use]`), and
/// nothing comes back: the error is dropped with the task's output, the panic is caught by the
/// runtime and kept in a handle nobody holds.
async fn forgotten_handles() -> HandleReport {
    let started = Arc::new(AtomicUsize::new(0));
    for part in PARTS {
        tokio::spawn(save_part(part, started.clone()));
    }
    // The program goes on, and after a while believes it is done.
    sleep(Duration::from_millis(50)).await;
    info!("forgotten handles: \"report saved\" (so the program believes)");
    HandleReport {
        started: started.load(Ordering::SeqCst),
        failures_learnt: Vec::new(),
    }
}

/// The fix: keep the handles and await them; an error is `Ok(Err(e))`, a panic `Err(JoinError)`.
async fn awaited_handles() -> HandleReport {
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = PARTS
        .iter()
        .map(|&part| tokio::spawn(save_part(part, started.clone())))
        .collect();
    let mut failures_learnt = Vec::new();
    for handle in handles {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures_learnt.push(format!("error: {e}")),
            Err(e) if e.is_panic() => failures_learnt.push("panic".to_string()),
            Err(e) => failures_learnt.push(format!("cancelled: {e}")),
        }
    }
    for failure in &failures_learnt {
        error!("awaited handle: {failure}");
    }
    HandleReport {
        started: started.load(Ordering::SeqCst),
        failures_learnt,
    }
}

/// Panics counted by the panic hook: the only place the forgotten task's panic shows up.
static PANICS_SEEN_BY_HOOK: AtomicUsize = AtomicUsize::new(0);

/// `--help` text. No flags: the figures are fixed so the tests can check them.
#[derive(Parser, Debug)]
#[command(
    about = "17 · Async antipatterns run for real and measured beside their fixes: blocking the \
             runtime, a std MutexGuard across .await (deadlock), awaiting in a loop, a future never \
             awaited, unbounded spawn, a forgotten JoinHandle",
    long_about = None
)]
struct Args {}

// One thread: blocking it is lesson 1, and the deadlock of lesson 2 needs it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let Args {} = parse_args();
    init_logging();
    log_and_count_panics();

    let heartbeats = blocking_the_runtime().await;

    info!("--- 2. a std::sync::MutexGuard held across .await, two spawn_local tasks ---");
    let std_guard = std_guard_across_await().await;
    info!("--- 2. fixed: tokio::sync::Mutex ---");
    let tokio_guard = tokio_mutex_across_await().await;

    info!("--- 3. awaiting in a loop vs join_all ---");
    let (_, one_by_one) = time_async(quotes_one_after_another()).await;
    let (_, together) = time_async(quotes_together()).await;

    info!("--- 4. futures created and never awaited ---");
    let dropped = never_awaited().await;
    let kept = awaited().await;

    info!("--- 5. unbounded tokio::spawn in a loop vs a Semaphore before the spawn ---");
    // Bounded first: memory the allocator keeps after the unbounded run would hide its growth.
    let bounded = serve_all(Some(IN_FLIGHT)).await;
    let unbounded = serve_all(None).await;

    info!("--- 6. forgotten JoinHandles vs awaited ones ---");
    let forgotten = forgotten_handles().await;
    let panics_unseen = PANICS_SEEN_BY_HOOK.load(Ordering::SeqCst);
    let kept_handles = awaited_handles().await;

    out!();
    out!("Summary");
    for (i, (label, beat)) in heartbeats.iter().enumerate() {
        out!(
            "  {}{label}: heartbeat longest gap {} (tick {}): {}",
            if i == 0 { "1. " } else { "   " },
            fmt_duration(beat.longest_gap),
            fmt_duration(TICK),
            beat.verdict()
        );
    }
    out!(
        "  2. std MutexGuard across .await on spawn_local: ATM-2 {} after {} (deadline {}): {}; \
         ATM-1 held the lock {} (needs {})",
        if std_guard.atm2_got_it {
            "got the lock"
        } else {
            "gave up"
        },
        fmt_duration(std_guard.atm2_waited),
        fmt_duration(PATIENCE),
        lock_verdict(&std_guard),
        fmt_duration(std_guard.atm1_held),
        fmt_duration(DISPENSE)
    );
    out!(
        "     fix, tokio::sync::Mutex: ATM-2 got the lock after {} (ideal {}): {}",
        fmt_duration(tokio_guard.atm2_waited),
        fmt_duration(DISPENSE),
        lock_verdict(&tokio_guard)
    );
    let sum: Duration = QUOTES.iter().map(|q| q.1).sum();
    let max = QUOTES.iter().map(|q| q.1).max().unwrap_or_default();
    let comparison = Comparison::new(
        "await in a loop",
        one_by_one,
        "join_all",
        together,
        sum.as_secs_f64() / max.as_secs_f64(),
    );
    out!(
        "  3. {comparison} (sum {} vs max {})",
        fmt_duration(sum),
        fmt_duration(max)
    );
    out!(
        "  4. never awaited: {} | awaited: {}",
        ops_line(&dropped),
        ops_line(&kept)
    );
    out!("  5. unbounded spawn: {}", spawn_line(&unbounded));
    out!(
        "     bounded (Semaphore, {IN_FLIGHT} in flight): {} (ideal {}: {CONNECTIONS} connections set the pace)",
        spawn_line(&bounded),
        fmt_duration(ideal_serving_time())
    );
    out!(
        "  6. forgotten JoinHandles: {} tasks started, {} of {} failures learnt of (the panic hook saw {} panic) \
         | awaited: {} of {} failures learnt of",
        forgotten.started,
        forgotten.failures_learnt.len(),
        PARTS.len(),
        panics_unseen,
        kept_handles.failures_learnt.len(),
        PARTS.len()
    );
    Ok(())
}

// --- Support: verdicts, formatting, measuring ---------------------------------------------------

/// "DEADLOCK" when ATM-2 never got the lock, computed from what was measured.
fn lock_verdict(r: &LockReport) -> &'static str {
    if r.atm2_got_it {
        "no deadlock"
    } else {
        "DEADLOCK"
    }
}

fn ops_line(r: &OpsReport) -> String {
    let mut line = format!(
        "{} of {OPS} operations ran, {} failure{} seen",
        r.ran,
        r.failures.len(),
        if r.failures.len() == 1 { "" } else { "s" }
    );
    if !r.failures.is_empty() {
        line.push_str(&format!(" ({})", r.failures.join("; ")));
    }
    line
}

fn spawn_line(r: &SpawnReport) -> String {
    let rss = match r.rss_growth_kib {
        Some(kib) => format!("resident memory +{:.1} MiB", kib as f64 / 1024.0),
        None => "resident memory not measured (Linux only)".to_string(),
    };
    format!(
        "{}/{REQUESTS} served, at most {} tasks alive, {} KiB of requests held, {rss}, {}",
        r.served,
        r.peak_tasks,
        r.peak_bytes / 1024,
        fmt_duration(r.took)
    )
}

/// The time the connections need for every request: rounds of [`CONNECTIONS`] queries.
fn ideal_serving_time() -> Duration {
    QUERY * REQUESTS.div_ceil(CONNECTIONS) as u32
}

/// The process's resident memory in KiB (`VmRSS` in `/proc/self/status`), as the idle-memory
/// benchmark reads it; `None` where there is no `/proc`.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A panic hook that logs a panic as one `ERROR` line (not Rust's default multi-line message with a
/// backtrace) and counts it: lesson 6 shows that nothing else hears of the forgotten task's panic.
fn log_and_count_panics() {
    std::panic::set_hook(Box::new(|info| {
        PANICS_SEEN_BY_HOOK.fetch_add(1, Ordering::SeqCst);
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        error!("panic hook: a task panic, {message}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // 1. Blocking is a real-clock claim: on the paused clock the blocked thread would not even
    // move the clock. Bounds: a blocked thread misses every tick for the whole block (at least
    // BLOCK, on any machine); a free one keeps its gaps well under BLOCK even when busy.
    #[tokio::test(flavor = "current_thread")]
    async fn blocking_calls_freeze_the_heartbeat_and_the_fixes_do_not() {
        let [sleep_inline, cpu_inline, sleep_async, cpu_pool] = blocking_the_runtime().await;
        for (label, beat) in [sleep_inline, cpu_inline] {
            assert!(beat.longest_gap >= BLOCK, "{label}: {beat:?}");
            assert!(!beat.kept_time(), "{label}");
        }
        for (label, beat) in [sleep_async, cpu_pool] {
            assert!(beat.longest_gap < BLOCK, "{label}: {beat:?}");
            assert!(beat.ticks >= 3, "{label}: {beat:?}");
        }
    }

    // 2. The deadlock holds the thread, so it is measured on the real clock too; its outcome does
    // not depend on the machine's speed: ATM-1 cannot run until ATM-2 lets go of the thread.
    #[tokio::test(flavor = "current_thread")]
    async fn a_std_guard_across_await_deadlocks_until_the_deadline_fires() {
        let r = std_guard_across_await().await;
        assert!(!r.atm2_got_it, "{r:?}");
        assert!(r.atm2_waited >= PATIENCE, "{r:?}");
        assert!(
            r.atm1_held >= PATIENCE,
            "ATM-1 could not finish meanwhile: {r:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_tokio_mutex_across_await_just_waits_for_the_dispense() {
        let r = tokio_mutex_across_await().await;
        assert_eq!(
            r,
            LockReport {
                atm2_waited: DISPENSE,
                atm2_got_it: true,
                atm1_held: DISPENSE
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn awaiting_in_a_loop_takes_the_sum_and_join_all_the_max() {
        let (a, one_by_one) = time_async(quotes_one_after_another()).await;
        let (b, together) = time_async(quotes_together()).await;
        assert_eq!(a, b, "same answers in the same order");
        assert_eq!(one_by_one, ms(360));
        assert_eq!(together, ms(120));
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_never_awaited_never_runs_and_its_failure_is_never_seen() {
        let (dropped, took) = time_async(never_awaited()).await;
        assert_eq!(
            dropped,
            OpsReport {
                ran: 0,
                failures: vec![]
            }
        );
        assert_eq!(took, Duration::ZERO, "nothing waited either");
        let (kept, took) = time_async(awaited()).await;
        assert_eq!(kept.ran, OPS as usize);
        assert_eq!(kept.failures, ["op 2: quote service unavailable"]);
        assert_eq!(took, ms(20));
    }

    #[tokio::test(start_paused = true)]
    async fn unbounded_spawn_piles_up_tasks_and_a_semaphore_does_not_and_neither_is_faster() {
        let unbounded = serve_all(None).await;
        assert_eq!(unbounded.served, REQUESTS);
        assert_eq!(unbounded.peak_tasks, REQUESTS);
        assert_eq!(unbounded.peak_bytes, REQUESTS * REQUEST_BYTES);
        assert_eq!(unbounded.took, ms(300));

        let bounded = serve_all(Some(IN_FLIGHT)).await;
        assert_eq!(bounded.served, REQUESTS);
        assert_eq!(bounded.peak_tasks, IN_FLIGHT);
        assert_eq!(bounded.peak_bytes, IN_FLIGHT * REQUEST_BYTES);
        assert_eq!(bounded.took, ms(300));
        assert_eq!(ideal_serving_time(), ms(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_handle_loses_the_error_and_the_panic_and_awaiting_finds_both() {
        let forgotten = forgotten_handles().await;
        assert_eq!(forgotten.started, 2);
        assert!(forgotten.failures_learnt.is_empty());
        let kept = awaited_handles().await;
        assert_eq!(kept.started, 2);
        assert_eq!(
            kept.failures_learnt,
            ["error: summary.pdf: disk full", "panic"]
        );
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["17", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string().starts_with("17 · Async antipatterns"),
            "{help}"
        );
        let bad = Args::try_parse_from(["17", "--fast"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
