//! # 17 · Antipatterns, with threads: six mistakes run for real, each measured beside its fix
//!
//! The twin of `examples-async/src/bin/17_async_antipatterns.rs`, for the mistakes that exist with
//! threads. Two of the async list do not: a thread cannot "block the runtime" (blocking is what a
//! thread is for; it costs a thread, measured in 4), and a thread cannot be created and never run
//! (`thread::spawn` starts it at once, like a JS promise; only a future is lazy).
//!
//! What it shows:
//! 1. **A lock held during slow I/O** (the twin of a `MutexGuard` across an `.await`). Four ATMs
//!    debit one account and print a receipt (100 ms of slow I/O). Printing while holding the lock
//!    makes the four take turns: 400 ms, the sum; debiting under the lock and printing after letting
//!    go takes 100 ms, the longest. The longest wait for the lock is printed too.
//! 2. **Lock-order deadlock, detected by a timeout.** A transfer A->B locks A then B; a transfer
//!    B->A locks B then A. Once each holds its first lock, each waits for ever for the other's. std's
//!    `Mutex` has no `lock` with a deadline, so the second lock is taken with `try_lock` until 200 ms
//!    have passed (C++'s `timed_mutex::try_lock_for`): the deadline fires, the deadlock is reported,
//!    the transfer backs out, and the program goes on. The fix, one global order (lower account
//!    first): both transfers go through, none times out.
//! 3. **Spawn and join in the same loop** (C++ demo 1: a discarded `std::async` future blocks in its
//!    destructor, which serialises the loop): the time is the sum of the delays; spawning them all
//!    first and joining after takes the longest one.
//! 4. **A thread per item instead of a pool** (the twin of unbounded `tokio::spawn`). 300 requests
//!    to a database with 10 connections (10 ms a query): a thread each does not finish sooner (the
//!    connections set the pace, about 300 ms either way); it only starts hundreds of threads that
//!    wait, each with its stack and its 16 KiB request (peak threads and resident memory measured).
//!    A pool of 10 workers fed by a bounded queue does the same work with 10 threads.
//! 5. **Busy-waiting instead of a `Condvar`.** A thread waits 200 ms for a report to be ready: one
//!    spins on an atomic flag, one sleeps on a condvar. Each waiter's own CPU time is read from
//!    `/proc/self/task/<tid>/stat` (as 04's test reads it): the spinner burns up to a whole core for
//!    the whole wait, the sleeper about nothing (ideal 0).
//! 6. **A detached thread killed at exit.** A thread saves 10 records (30 ms each) and its
//!    `JoinHandle` is dropped; `main` returns after 100 ms, and the process ends with it: the thread
//!    is killed mid-work, no destructor runs, no error is reported. Run here in a child process of
//!    this same binary (so the parent can count what got saved): about 3 of 10. Joining the handle
//!    before returning: 10 of 10.
//!
//! Upstream: `src/cpp/asynchrony/async_antipatterns.cpp` (demo 1), `src/js/asynchrony/17_async_antipatterns.js`
//! (the sequential loop), `src/cpp/multithreading/deadlock_philosophers_antipattern.cpp` (a lock-order
//! deadlock detected with `try_lock_for` rather than hanging). Seed: "Asynchrony" > "Asynchrony vs
//! Multithreading". Async twin: `examples-async/src/bin/17_async_antipatterns.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 17_async_antipatterns_threads` (no flags but `--help`,
//! about 3 s; `--child` is internal: lesson 6 runs this binary again with it).
//!
//! The output will look similar to this (timings vary with the machine's load):
//!
//! ```text
//!   0.000s  INFO [main] --- 1. a lock held while printing the receipt (slow I/O) ---
//!   ...
//!   0.719s  WARN [transfer A->B] transfer A->B: no lock on B after 200 ms: deadlock, backing out
//!   0.719s  INFO [transfer B->A] transfer B->A: done
//!   0.919s  INFO [transfer A->B] transfer A->B: done
//!   ...
//! Summary
//!   1. lock held during I/O 416 ms | I/O after unlocking 101 ms | 4.14x, ideal 4.00x (longest wait for the lock 299 ms vs 0.00 ms; balance 60 and 60, both right)
//!   2. locks taken in opposite orders: 1 of 2 transfers timed out after 200 ms, 1 done, 201 ms: DEADLOCK | one global order: 0 of 2 transfers timed out after 200 ms, 2 done, 200 ms: no deadlock
//!   3. spawn+join in a loop 361 ms | spawn all, then join 120 ms | 3.00x, ideal 3.00x (sum 360 ms vs max 120 ms)
//!   4. a thread per request: 300/300 served, at most 290 threads alive, 4640 KiB of requests held, resident memory +6.9 MiB, 314 ms
//!      a pool of 10 workers: 300/300 served, at most 10 threads alive, 336 KiB of requests held, resident memory +0.5 MiB, 322 ms (ideal 300 ms: 10 connections set the pace)
//!   5. busy-waiting 222 ms: used 80 ms of CPU (36% of a core) | Condvar 208 ms: used 0.00 ms of CPU (0% of a core) (ideal 0)
//!   6. detached writer: 3 of 10 records saved before the process ended (killed mid-work) | joined writer: 10 of 10 saved
//! ```

use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use common::{Comparison, fmt_duration, init_logging, out, parse_args, time};
use tracing::{info, warn};

// --- 1. A lock held during slow I/O -------------------------------------------------------------

const ATMS: usize = 4;
const WITHDRAWAL: u64 = 10;
/// Printing a receipt: the slow I/O (a slow disk, a network printer), as a blocking sleep.
const RECEIPT: Duration = Duration::from_millis(100);

/// What the four ATMs measured.
#[derive(Debug, Clone, Copy)]
struct IoReport {
    took: Duration,
    longest_wait: Duration,
    balance: u64,
}

/// Four ATMs withdraw from one account at once. `print_under_lock` is the mistake: the receipt is
/// printed while the guard is alive, so every other ATM waits for the printer too.
fn atms_printing_receipts(print_under_lock: bool) -> IoReport {
    let account = Mutex::new(100u64);
    let longest_wait = Mutex::new(Duration::ZERO);
    let start = Instant::now();
    thread::scope(|s| {
        for atm in 1..=ATMS {
            let (account, longest_wait) = (&account, &longest_wait);
            thread::Builder::new()
                .name(format!("ATM-{atm}"))
                .spawn_scoped(s, move || {
                    let asked = Instant::now();
                    let mut balance = lock(account);
                    let waited = asked.elapsed();
                    *balance -= WITHDRAWAL;
                    if print_under_lock {
                        thread::sleep(RECEIPT); // the guard is still alive: everyone waits
                        drop(balance);
                    } else {
                        drop(balance); // let go first, then do the slow part
                        thread::sleep(RECEIPT);
                    }
                    let mut longest = lock(longest_wait);
                    *longest = (*longest).max(waited);
                })
                .expect("the OS starts a thread");
        }
    });
    IoReport {
        took: start.elapsed(),
        longest_wait: *lock(&longest_wait),
        balance: *lock(&account),
    }
}

// --- 2. Lock-order deadlock ---------------------------------------------------------------------

/// How long a transfer waits for its second lock before it calls it a deadlock.
const PATIENCE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockOrder {
    /// The mistake: each transfer locks its source first.
    SourceFirst,
    /// The fix: every transfer locks the lower-numbered account first.
    Global,
}

/// How the two transfers ended.
#[derive(Debug, Clone, Copy, PartialEq)]
struct DeadlockReport {
    timed_out: usize,
    done: usize,
    took: Duration,
}

/// `lock()` with a deadline: std's `Mutex` has none, so try, sleep 1 ms, try again until the
/// deadline. As blocking as `lock()`, but it gives up instead of waiting for ever.
fn lock_within<T>(mutex: &Mutex<T>, patience: Duration) -> Option<MutexGuard<'_, T>> {
    let deadline = Instant::now() + patience;
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => {}
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// Two transfers at once, A->B and B->A, taking their locks in `order`.
fn opposite_transfers(order: LockOrder) -> DeadlockReport {
    let accounts = [Mutex::new(100u64), Mutex::new(100u64)];
    let names = ["A", "B"];
    let timed_out = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // Each transfer tells the other when it holds its first lock, and waits (at most PATIENCE) to
    // hear the same: this makes the unlucky timing, both holding one lock, certain instead of
    // occasional. With the global order the other transfer is blocked on the same first lock and
    // never says so; the wait then ends at its deadline and the transfer goes on (so the fixed run
    // takes PATIENCE too: the cost of this rig, not of the fix).
    let (to_b, from_a) = std::sync::mpsc::channel::<()>();
    let (to_a, from_b) = std::sync::mpsc::channel::<()>();
    let start = Instant::now();
    thread::scope(|s| {
        for (from, to, tell, hear) in [(0, 1, to_b, from_b), (1, 0, to_a, from_a)] {
            let (accounts, timed_out, done) = (&accounts, &timed_out, &done);
            let name = format!("transfer {}->{}", names[from], names[to]);
            thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(s, move || {
                    let (first, second) = match order {
                        LockOrder::SourceFirst => (from, to),
                        LockOrder::Global => (from.min(to), from.max(to)),
                    };
                    let first_guard = lock(&accounts[first]);
                    let _ = tell.send(()); // the other transfer may be gone: then nobody listens
                    let _ = hear.recv_timeout(PATIENCE);
                    let Some(second_guard) = lock_within(&accounts[second], PATIENCE) else {
                        warn!(
                            "{name}: no lock on {} after {}: deadlock, backing out",
                            names[second],
                            fmt_duration(PATIENCE)
                        );
                        timed_out.fetch_add(1, Ordering::SeqCst);
                        return; // dropping `first_guard` lets the other transfer through
                    };
                    let (mut source, mut target) = if first == from {
                        (first_guard, second_guard)
                    } else {
                        (second_guard, first_guard)
                    };
                    *source -= WITHDRAWAL;
                    *target += WITHDRAWAL;
                    info!("{name}: done");
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .expect("the OS starts a thread");
        }
    });
    DeadlockReport {
        timed_out: timed_out.into_inner(),
        done: done.into_inner(),
        took: start.elapsed(),
    }
}

// --- 3. Spawn and join in the same loop ---------------------------------------------------------

/// Four independent look-ups and how long each takes (the same as the async twin's).
const QUOTES: [(&str, Duration); 4] = [
    ("EUR", Duration::from_millis(120)),
    ("USD", Duration::from_millis(80)),
    ("GBP", Duration::from_millis(100)),
    ("JPY", Duration::from_millis(60)),
];

fn fetch_quote(currency: &str, delay: Duration) -> String {
    thread::sleep(delay);
    format!("{currency} ok")
}

/// The mistake: `join` right after `spawn`, so each thread ends before the next starts.
fn quotes_spawn_join_in_a_loop() -> Vec<String> {
    QUOTES
        .iter()
        .map(|&(currency, delay)| {
            thread::spawn(move || fetch_quote(currency, delay))
                .join()
                .expect("a look-up does not panic")
        })
        .collect()
}

/// The fix: start them all, then join them all.
fn quotes_spawn_all_then_join() -> Vec<String> {
    let handles: Vec<_> = QUOTES
        .iter()
        .map(|&(currency, delay)| thread::spawn(move || fetch_quote(currency, delay)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a look-up does not panic"))
        .collect()
}

// --- 4. A thread per item instead of a pool -----------------------------------------------------

/// Requests to serve.
const REQUESTS: usize = 300;
/// Connections the database allows: the real limit on how fast the requests can go.
const CONNECTIONS: usize = 10;
/// How long one request holds a connection.
const QUERY: Duration = Duration::from_millis(10);
/// The bytes each request carries until it is done.
const REQUEST_BYTES: usize = 16 * 1024;

/// What a run of [`REQUESTS`] requests measured.
#[derive(Debug, Clone, PartialEq)]
struct ServeReport {
    /// The most threads alive at once, counted as they start and end.
    peak_threads: usize,
    /// The most request bytes held at once.
    peak_bytes: usize,
    /// Growth of the process's resident memory (Linux), the most seen during the run.
    rss_growth_kib: Option<u64>,
    served: usize,
    took: Duration,
}

/// Counters shared by the requests and the threads that serve them.
#[derive(Default)]
struct Counters {
    threads: AtomicUsize,
    peak_threads: AtomicUsize,
    bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
    served: AtomicUsize,
}

impl Counters {
    fn thread_started(&self) {
        let now = self.threads.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_threads.fetch_max(now, Ordering::SeqCst);
    }

    fn thread_ended(&self) {
        self.threads.fetch_sub(1, Ordering::SeqCst);
    }

    /// A request's bytes, written to so that they are really resident (zeroed memory may not be).
    fn new_request(&self) -> Vec<u8> {
        let now = self.bytes.fetch_add(REQUEST_BYTES, Ordering::SeqCst) + REQUEST_BYTES;
        self.peak_bytes.fetch_max(now, Ordering::SeqCst);
        vec![1u8; REQUEST_BYTES]
    }
}

/// The database's connections, as a bounded channel of connection numbers: `recv` takes one
/// (waiting while none is free), `send` gives it back.
type Pool = (
    crossbeam_channel::Sender<usize>,
    crossbeam_channel::Receiver<usize>,
);

fn database() -> Pool {
    let (give_back, take) = crossbeam_channel::bounded(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        give_back
            .send(connection)
            .expect("room for every connection");
    }
    (give_back, take)
}

/// One request: wait for a connection, query, give it back.
fn serve(request: Vec<u8>, db: &Pool, counters: &Counters) {
    let connection = db.1.recv().expect("the pool outlives the requests");
    thread::sleep(QUERY);
    db.0.send(connection)
        .expect("the pool outlives the requests");
    black_box(&request);
    counters.bytes.fetch_sub(request.len(), Ordering::SeqCst);
    counters.served.fetch_add(1, Ordering::SeqCst);
}

/// The mistake: a new thread for every request, all started at once.
fn thread_per_request() -> ServeReport {
    measure_serving(|db, counters| {
        thread::scope(|s| {
            for _ in 0..REQUESTS {
                let request = counters.new_request();
                counters.thread_started();
                s.spawn(move || {
                    serve(request, db, counters);
                    counters.thread_ended();
                });
            }
        });
    })
}

/// The fix: as many workers as there are connections (more would only wait), fed by a bounded
/// queue, so the loop that hands out requests waits when the workers are behind.
fn pool_of_workers() -> ServeReport {
    measure_serving(|db, counters| {
        let (queue, requests) = crossbeam_channel::bounded::<Vec<u8>>(CONNECTIONS);
        thread::scope(|s| {
            for _ in 0..CONNECTIONS {
                let requests = requests.clone();
                counters.thread_started();
                s.spawn(move || {
                    for request in requests {
                        serve(request, db, counters);
                    }
                    counters.thread_ended();
                });
            }
            for _ in 0..REQUESTS {
                let request = counters.new_request();
                queue.send(request).expect("the workers outlive the queue");
            }
            drop(queue); // closes the queue: each worker's loop ends when it is empty
        });
    })
}

/// Runs `serve_all`, sampling the resident memory meanwhile (from this thread, every 5 ms).
fn measure_serving(serve_all: impl FnOnce(&Pool, &Counters) + Send) -> ServeReport {
    let db = database();
    let counters = Counters::default();
    let finished = AtomicBool::new(false);
    let rss_before = resident_kib();
    let start = Instant::now();
    let rss_peak = thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = rss_before;
            while !finished.load(Ordering::SeqCst) {
                peak = peak.max(resident_kib());
                thread::sleep(Duration::from_millis(5));
            }
            peak
        });
        serve_all(&db, &counters);
        finished.store(true, Ordering::SeqCst);
        sampler.join().expect("the sampler does not panic")
    });
    ServeReport {
        peak_threads: counters.peak_threads.load(Ordering::SeqCst),
        peak_bytes: counters.peak_bytes.load(Ordering::SeqCst),
        rss_growth_kib: rss_before.zip(rss_peak).map(|(b, p)| p.saturating_sub(b)),
        served: counters.served.load(Ordering::SeqCst),
        took: start.elapsed(),
    }
}

// --- 5. Busy-waiting instead of a Condvar -------------------------------------------------------

/// How long the waiter waits for the report.
const READY_AFTER: Duration = Duration::from_millis(200);

/// What one waiter measured about itself.
#[derive(Debug, Clone, Copy)]
struct WaitReport {
    waited: Duration,
    /// CPU time the waiting thread used while it waited (`None` off Linux).
    cpu: Option<Duration>,
}

/// The mistake: check an atomic flag in a loop until another thread sets it.
fn busy_wait() -> WaitReport {
    let ready = AtomicBool::new(false);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            measure_own_cpu(|| {
                while !ready.load(Ordering::Acquire) {
                    std::hint::spin_loop(); // a hint to the CPU, not to the OS: still running
                }
            })
        });
        thread::sleep(READY_AFTER);
        ready.store(true, Ordering::Release);
        waiter.join().expect("the waiter does not panic")
    })
}

/// The fix: sleep on a `Condvar` until the flag is set; the OS wakes the thread on `notify`.
fn condvar_wait() -> WaitReport {
    let ready = Mutex::new(false);
    let report_ready = Condvar::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            measure_own_cpu(|| {
                let guard = lock(&ready);
                let _ready = report_ready
                    .wait_while(guard, |ready| !*ready)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            })
        });
        thread::sleep(READY_AFTER);
        *lock(&ready) = true;
        report_ready.notify_all();
        waiter.join().expect("the waiter does not panic")
    })
}

/// Runs `wait` on the calling thread; returns how long it took and the CPU time it used.
fn measure_own_cpu(wait: impl FnOnce()) -> WaitReport {
    let tid = common::timing::current_tid();
    let cpu_before = tid.as_deref().and_then(common::timing::thread_cpu_time);
    let (_, waited) = time(wait);
    let cpu_after = tid.as_deref().and_then(common::timing::thread_cpu_time);
    WaitReport {
        waited,
        cpu: cpu_before
            .zip(cpu_after)
            .map(|(before, after)| after.saturating_sub(before)),
    }
}

// --- 6. A detached thread killed at exit --------------------------------------------------------

const RECORDS: usize = 10;
const RECORD_TIME: Duration = Duration::from_millis(30);
/// When `main` of the child returns, with the writer still at work.
const CHILD_MAIN_ENDS_AFTER: Duration = Duration::from_millis(100);
const SAVED: &str = "saved record";

/// What the child process does (lesson 6 runs this binary again with `--child`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Child {
    /// Drops the writer's `JoinHandle` and returns from `main` after 100 ms.
    Detached,
    /// Joins the writer before returning.
    Joined,
}

/// The child: a writer thread saves records; `main` returns after [`CHILD_MAIN_ENDS_AFTER`] (and
/// joins the writer first only if `Joined`).
fn child_main(role: Child) {
    let writer = thread::spawn(|| {
        for record in 1..=RECORDS {
            thread::sleep(RECORD_TIME);
            out!("{SAVED} {record}/{RECORDS}");
        }
    });
    thread::sleep(CHILD_MAIN_ENDS_AFTER);
    match role {
        // Dropping the handle detaches the thread; when `main` returns, the process exits and the
        // OS ends every thread in it, mid-record, without running anything of theirs.
        Child::Detached => drop(writer),
        Child::Joined => writer.join().expect("the writer does not panic"),
    }
}

/// Runs this binary as a child in `role` and counts the records its writer saved.
fn records_saved_by_child(role: Child) -> anyhow::Result<usize> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--child").arg(
        role.to_possible_value()
            .expect("no skipped variants")
            .get_name(),
    );
    let run = common::process::run_with_deadline(cmd, Duration::from_secs(10));
    anyhow::ensure!(run.succeeded(), "the child failed: {}", run.stderr);
    Ok(run.stdout.lines().filter(|l| l.starts_with(SAVED)).count())
}

/// `--help` text. No flags for the reader: the figures are fixed so the tests can check them.
#[derive(Parser, Debug)]
#[command(
    about = "17 · Antipatterns with threads run for real and measured beside their fixes: a lock \
             held during slow I/O, lock-order deadlock (a timeout detects it), spawn+join in a loop, \
             a thread per item vs a pool, busy-waiting vs a Condvar, a detached thread killed at exit",
    long_about = None
)]
struct Args {
    /// Internal: run as lesson 6's child process.
    #[arg(long, hide = true, value_enum)]
    child: Option<Child>,
}

fn main() -> anyhow::Result<()> {
    let args: Args = parse_args();
    if let Some(role) = args.child {
        child_main(role);
        return Ok(());
    }
    init_logging();

    info!("--- 1. a lock held while printing the receipt (slow I/O) ---");
    let under_lock = atms_printing_receipts(true);
    info!("--- 1. fixed: debit under the lock, print after letting go ---");
    let after_unlock = atms_printing_receipts(false);

    info!("--- 2. two transfers taking their locks in opposite orders ---");
    let opposite = opposite_transfers(LockOrder::SourceFirst);
    info!("--- 2. fixed: one global lock order ---");
    let ordered = opposite_transfers(LockOrder::Global);

    info!("--- 3. spawn and join in the same loop vs spawn all, then join ---");
    let (_, one_by_one) = time(quotes_spawn_join_in_a_loop);
    let (_, together) = time(quotes_spawn_all_then_join);

    info!("--- 4. a thread per request vs a pool of workers ---");
    // The pool first: memory the allocator keeps after the other run would hide its growth.
    let pool = pool_of_workers();
    let per_request = thread_per_request();

    info!("--- 5. busy-waiting vs a Condvar ---");
    let spinning = busy_wait();
    let sleeping = condvar_wait();

    info!("--- 6. a detached writer thread when main returns, vs a joined one ---");
    let detached = records_saved_by_child(Child::Detached)?;
    let joined = records_saved_by_child(Child::Joined)?;

    out!();
    out!("Summary");
    let io = Comparison::new(
        "lock held during I/O",
        under_lock.took,
        "I/O after unlocking",
        after_unlock.took,
        ATMS as f64,
    );
    out!(
        "  1. {io} (longest wait for the lock {} vs {}; balance {} and {}, both right)",
        fmt_duration(under_lock.longest_wait),
        fmt_duration(after_unlock.longest_wait),
        under_lock.balance,
        after_unlock.balance
    );
    out!(
        "  2. locks taken in opposite orders: {} | one global order: {}",
        deadlock_line(&opposite),
        deadlock_line(&ordered)
    );
    let sum: Duration = QUOTES.iter().map(|q| q.1).sum();
    let max = QUOTES.iter().map(|q| q.1).max().unwrap_or_default();
    let loop_vs_all = Comparison::new(
        "spawn+join in a loop",
        one_by_one,
        "spawn all, then join",
        together,
        sum.as_secs_f64() / max.as_secs_f64(),
    );
    out!(
        "  3. {loop_vs_all} (sum {} vs max {})",
        fmt_duration(sum),
        fmt_duration(max)
    );
    out!("  4. a thread per request: {}", serve_line(&per_request));
    out!(
        "     a pool of {CONNECTIONS} workers: {} (ideal {}: {CONNECTIONS} connections set the pace)",
        serve_line(&pool),
        fmt_duration(QUERY * REQUESTS.div_ceil(CONNECTIONS) as u32)
    );
    out!(
        "  5. busy-waiting {} | Condvar {} (ideal 0)",
        wait_line(&spinning),
        wait_line(&sleeping)
    );
    out!(
        "  6. detached writer: {detached} of {RECORDS} records saved before the process ended{} \
         | joined writer: {joined} of {RECORDS} saved",
        if detached < RECORDS {
            " (killed mid-work)"
        } else {
            ""
        }
    );
    Ok(())
}

// --- Support: locking, verdicts, formatting, measuring ------------------------------------------

/// Locks `mutex`, taking the value even if a panicking thread poisoned it: the values here are
/// plain numbers, never left half-updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn deadlock_line(r: &DeadlockReport) -> String {
    let verdict = if r.timed_out > 0 {
        "DEADLOCK"
    } else {
        "no deadlock"
    };
    format!(
        "{} of 2 transfers timed out after {}, {} done, {}: {verdict}",
        r.timed_out,
        fmt_duration(PATIENCE),
        r.done,
        fmt_duration(r.took)
    )
}

fn serve_line(r: &ServeReport) -> String {
    let rss = match r.rss_growth_kib {
        Some(kib) => format!("resident memory +{:.1} MiB", kib as f64 / 1024.0),
        None => "resident memory not measured (Linux only)".to_string(),
    };
    format!(
        "{}/{REQUESTS} served, at most {} threads alive, {} KiB of requests held, {rss}, {}",
        r.served,
        r.peak_threads,
        r.peak_bytes / 1024,
        fmt_duration(r.took)
    )
}

fn wait_line(r: &WaitReport) -> String {
    match r.cpu {
        Some(cpu) => format!(
            "{}: used {} of CPU ({:.0}% of a core)",
            fmt_duration(r.waited),
            fmt_duration(cpu),
            100.0 * cpu.as_secs_f64() / r.waited.as_secs_f64().max(1e-9)
        ),
        None => format!(
            "{}: CPU time not measured (Linux only)",
            fmt_duration(r.waited)
        ),
    }
}

/// The process's resident memory in KiB (`VmRSS` in `/proc/self/status`), as the idle-memory
/// benchmark reads it; `None` where there is no `/proc`.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    //! Real clock, bounds that hold on a busy 2-core machine: a lower bound where the mistake
    //! forces the time (a lock held for 4 x 100 ms cannot take less than 400 ms), a generous upper
    //! bound where the fix lets it overlap.
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_lock_held_during_io_makes_the_atms_take_turns() {
        let bad = atms_printing_receipts(true);
        assert!(bad.took >= RECEIPT * ATMS as u32, "{bad:?}");
        // The last in line waits for three receipts, less how late it asked (far under 100 ms).
        assert!(bad.longest_wait >= RECEIPT * 2, "{bad:?}");
        let good = atms_printing_receipts(false);
        assert!(good.took < RECEIPT * ATMS as u32, "{good:?}");
        assert!(good.longest_wait < RECEIPT, "{good:?}");
        assert_eq!(bad.balance, 100 - ATMS as u64 * WITHDRAWAL);
        assert_eq!(good.balance, bad.balance);
    }

    #[test]
    fn opposite_lock_orders_deadlock_until_the_deadline_and_one_order_does_not() {
        let bad = opposite_transfers(LockOrder::SourceFirst);
        assert!(bad.timed_out >= 1, "{bad:?}");
        assert_eq!(bad.timed_out + bad.done, 2, "{bad:?}");
        let good = opposite_transfers(LockOrder::Global);
        assert_eq!(good.timed_out, 0, "{good:?}");
        assert_eq!(good.done, 2, "{good:?}");
    }

    #[test]
    fn spawn_and_join_in_a_loop_takes_the_sum() {
        let (a, one_by_one) = time(quotes_spawn_join_in_a_loop);
        let (b, together) = time(quotes_spawn_all_then_join);
        assert_eq!(a, b);
        assert!(one_by_one >= ms(360), "{one_by_one:?}");
        assert!(together >= ms(120), "{together:?}");
        assert!(together < ms(360), "{together:?}");
    }

    #[test]
    fn a_thread_per_request_starts_hundreds_and_a_pool_ten() {
        let pool = pool_of_workers();
        assert_eq!(pool.served, REQUESTS);
        assert_eq!(pool.peak_threads, CONNECTIONS);
        // In the workers, in the queue, and one the loop holds while it waits for room.
        assert!(
            pool.peak_bytes <= (2 * CONNECTIONS + 1) * REQUEST_BYTES,
            "{pool:?}"
        );
        let per_request = thread_per_request();
        assert_eq!(per_request.served, REQUESTS);
        // The connections finish one request a millisecond; even a slow machine starts threads
        // faster than that, so they pile up far beyond the 10 that can work.
        assert!(
            per_request.peak_threads >= 4 * CONNECTIONS,
            "{per_request:?}"
        );
        assert!(per_request.peak_bytes >= 4 * CONNECTIONS * REQUEST_BYTES);
        // Neither beats the connections: 30 rounds of 10 ms.
        for r in [&pool, &per_request] {
            assert!(r.took >= ms(300), "{r:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn busy_waiting_burns_cpu_and_a_condvar_does_not() {
        let spinning = busy_wait();
        let sleeping = condvar_wait();
        let (spun, slept) = (
            spinning.cpu.expect("Linux has /proc"),
            sleeping.cpu.expect("Linux has /proc"),
        );
        // Each waiter times itself from its own start, a little after the 200 ms began.
        assert!(spinning.waited >= READY_AFTER / 2 && sleeping.waited >= READY_AFTER / 2);
        // A spinner on a loaded 2-core machine still gets a share of a core: far more than the
        // 0-10 ms (0 or 1 tick) of a thread asleep on the condvar.
        assert!(spun >= ms(40), "busy-waiting used {spun:?}");
        assert!(slept <= ms(20), "the condvar waiter used {slept:?}");
    }

    #[test]
    fn the_child_roles_parse_and_only_the_child_flag_is_accepted() {
        let args = Args::try_parse_from(["17", "--child", "detached"]).expect("valid");
        assert_eq!(args.child, Some(Child::Detached));
        let help = Args::try_parse_from(["17", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(
            help.to_string()
                .starts_with("17 · Antipatterns with threads"),
            "{help}"
        );
        assert!(
            !help.to_string().contains("--child"),
            "internal flag hidden"
        );
        let bad = Args::try_parse_from(["17", "--fast"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
