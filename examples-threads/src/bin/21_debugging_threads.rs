//! # 21 · Debugging, with threads: named threads, captured backtraces, a deadlock found by a detector
//!
//! The twin of `examples-async/src/bin/21_debugging/main.rs`. Threads have their own ways to go wrong
//! quietly, and their own tools to see it:
//!
//! - **Named threads.** Three requests to the local test server, one `std::thread::Builder::name`d
//!   thread each (`fetch-users`, `fetch-orders`, `fetch-report`). `fetch-orders` parses the answer with
//!   an `expect` that fails: the panic message names the thread (`thread 'fetch-orders' panicked at
//!   ...`), where an unnamed one would say `'<unnamed>'`. The thread's name is to a thread what the
//!   span is to a task in the async twin.
//! - **A captured backtrace.** A panic hook (`std::panic::set_hook`) takes
//!   `std::backtrace::Backtrace::force_capture()` (whatever `RUST_BACKTRACE` says) and logs the
//!   panic through the logger instead of stderr; `main` reads `join()`'s `Err` and prints which of
//!   this file's functions the backtrace passes through.
//! - **A deadlock, found, not waited for.** Two transfers lock two accounts in opposite orders
//!   (`transfer-to-savings`: checking, then savings; `transfer-to-checking`: savings, then checking):
//!   each holds one lock and waits for the other, forever. std's `Mutex` would just hang. These are
//!   `parking_lot` mutexes built with its `deadlock_detection` feature: a `deadlock-detector` thread
//!   calls `parking_lot::deadlock::check_deadlock()` every 50 ms, which returns the cycle of blocked
//!   threads with their backtraces. The example names them, measures how long detection took, and ends
//!   (the two stuck threads end with the process; a service would log and restart). With `--fixed` both
//!   transfers take the locks in one global order (checking before savings): no cycle, no report, and
//!   the money adds up.
//!
//! The async twin's watchdog has no analogue here: a thread that blocks stops only itself.
//!
//! Seed: "Asynchrony" > Challenges and Considerations, 3. Debugging Asynchronous Code, and the Quick
//! Comparison's "common risks" for threads (races, deadlocks). No upstream file.
//!
//! Run: `cargo run -p examples-threads --bin 21_debugging_threads` (about 1 s). Flags: `--fixed` (lock
//! in one global order: no deadlock).
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.001s  INFO [fetch-users] GET http://127.0.0.1:43385/delay/100
//!   0.003s  INFO [fetch-orders] GET http://127.0.0.1:43385/delay/200
//!   0.003s  INFO [fetch-report] GET http://127.0.0.1:43385/delay/300
//!   0.108s  INFO [fetch-users] 200 OK, 3 bytes after 107 ms
//!   0.209s  INFO [fetch-orders] 200 OK, 3 bytes after 206 ms
//!   0.308s  INFO [fetch-report] 200 OK, 3 bytes after 305 ms
//!   0.359s  WARN [fetch-orders] thread 'fetch-orders' panicked at examples-threads/src/bin/21_debugging_threads.rs:113: the orders endpoint answers with a count: ParseIntError { kind: InvalidDigit }
//!   0.361s  INFO [main] two transfers, locks taken SourceFirst; a detector checks every 50 ms
//!   0.362s  INFO [transfer-to-savings] holds checking, waiting for savings
//!   0.362s  INFO [transfer-to-checking] holds savings, waiting for checking
//!   0.929s ERROR [main] deadlock: 2 threads wait for each other: transfer-to-checking, transfer-to-savings
//!
//! Summary
//!   fetch-users: answered
//!   fetch-orders: panic on thread 'fetch-orders' at examples-threads/src/bin/21_debugging_threads.rs:113: the orders endpoint answers with a count: ParseIntError { kind: InvalidDigit }
//!   fetch-orders: backtrace of 25 frames, through parse_order_count <- fetch
//!   fetch-report: answered
//!   deadlock: transfer-to-checking <-> transfer-to-savings stuck in transfer
//!   found by check 1 at 51 ms (ideal: by 70 ms, the 20 ms hold plus one check period); collecting its backtraces took 516 ms
//! ```
//!
//! The panic took about 50 ms to report: capturing and resolving the backtrace. With `--fixed`: `no
//! deadlock (2 checks): checking 120, savings 80, total 200 (was 200)`.

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex as StdMutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use clap::Parser;
use common::fmt_duration;
use common::http_server::TestServer;
use parking_lot::Mutex;
use tracing::{error, info, warn};

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

/// An account: a balance behind a `parking_lot` mutex (which the deadlock detector can see).
struct Account {
    name: &'static str,
    balance: Mutex<u64>,
}

/// In which order the transfers take the two locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockOrder {
    /// Each transfer locks its source first: two transfers in opposite directions deadlock.
    SourceFirst,
    /// Every transfer locks `checking` before `savings`, whatever the direction: no cycle possible.
    Global,
}

/// Moves `amount` from `from` to `to`, holding both locks. `both_hold_one` lines the two transfers
/// up so that each holds its first lock before either asks for its second.
#[inline(never)]
fn transfer(from: &Account, to: &Account, amount: u64, order: LockOrder, both_hold_one: &Barrier) {
    let (first, second) = match order {
        LockOrder::SourceFirst => (from, to),
        LockOrder::Global if from.name < to.name => (from, to),
        LockOrder::Global => (to, from),
    };
    let mut first_balance = first.balance.lock();
    info!("holds {}, waiting for {}", first.name, second.name);
    if order == LockOrder::SourceFirst {
        both_hold_one.wait();
    }
    thread::sleep(HOLD);
    let mut second_balance = second.balance.lock();
    let (from_balance, to_balance) = if first.name == from.name {
        (&mut *first_balance, &mut *second_balance)
    } else {
        (&mut *second_balance, &mut *first_balance)
    };
    *from_balance -= amount;
    *to_balance += amount;
    info!("moved {amount} from {} to {}", from.name, to.name);
}

/// What the transfers ended as.
#[derive(Debug)]
struct TransferRun {
    /// The threads of the lock cycle the detector found (names, sorted), when the check that found
    /// it started, and how long that check took (it collects every stuck thread's backtrace).
    deadlock: Option<(Vec<String>, Duration, Duration)>,
    /// Which of this file's functions the first deadlocked thread's backtrace passes through.
    stuck_in: Vec<String>,
    /// The balances afterwards, if the transfers finished.
    balances: Option<(u64, u64)>,
    checks: u32,
}

/// Two transfers in opposite directions, watched by a deadlock detector.
fn run_transfers(order: LockOrder) -> anyhow::Result<TransferRun> {
    let checking = Arc::new(Account {
        name: "checking",
        balance: Mutex::new(100),
    });
    let savings = Arc::new(Account {
        name: "savings",
        balance: Mutex::new(100),
    });
    let barrier = Arc::new(Barrier::new(2));
    let started = Instant::now();
    let mut handles = Vec::new();
    for (name, from, to, amount) in [
        ("transfer-to-savings", &checking, &savings, 30),
        ("transfer-to-checking", &savings, &checking, 50),
    ] {
        let (from, to, barrier) = (from.clone(), to.clone(), barrier.clone());
        handles.push(
            thread::Builder::new()
                .name(name.into())
                .spawn(move || transfer(&from, &to, amount, order, &barrier))?,
        );
    }
    // parking_lot reports std `ThreadId`s: this map turns them back into names.
    let names: HashMap<ThreadId, String> = handles
        .iter()
        .map(|h| {
            (
                h.thread().id(),
                h.thread().name().unwrap_or("?").to_string(),
            )
        })
        .collect();

    let mut checks = 0;
    loop {
        if handles.iter().all(|h| h.is_finished()) {
            for handle in handles {
                // A panic in `transfer` would be a bug in this file: report it as an error.
                handle
                    .join()
                    .map_err(|_| anyhow::anyhow!("a transfer thread panicked"))?;
            }
            return Ok(TransferRun {
                deadlock: None,
                stuck_in: Vec::new(),
                balances: Some((*checking.balance.lock(), *savings.balance.lock())),
                checks,
            });
        }
        if started.elapsed() > GIVE_UP_AFTER {
            anyhow::bail!(
                "the transfers neither finished nor were found deadlocked within {}",
                fmt_duration(GIVE_UP_AFTER)
            );
        }
        thread::sleep(CHECK_EVERY);
        checks += 1;
        // Every cycle in the process found since the last call (each is reported once, to whoever
        // asks first: one detector per process); keep the ones made of our threads (a test binary
        // may hold the stuck threads of an earlier test).
        let check_started = started.elapsed();
        let cycles = parking_lot::deadlock::check_deadlock();
        let check_took = started.elapsed() - check_started;
        for cycle in cycles {
            let mut threads: Vec<String> = cycle
                .iter()
                .filter_map(|t| names.get(&t.thread_id()).cloned())
                .collect();
            if threads.len() != cycle.len() {
                continue;
            }
            threads.sort();
            let backtrace = format!("{:?}", cycle[0].backtrace());
            let stuck_in = our_functions(&backtrace);
            error!(
                "deadlock: {} threads wait for each other: {}",
                threads.len(),
                threads.join(", ")
            );
            // The two stuck threads cannot be unstuck or joined: they end with the process.
            return Ok(TransferRun {
                deadlock: Some((threads, check_started, check_took)),
                stuck_in,
                balances: None,
                checks,
            });
        }
    }
}

/// `--help` text and flags.
#[derive(Parser, Debug)]
#[command(
    about = "21 · Debugging, with threads: named threads in panic messages, a captured \
             std::backtrace::Backtrace, and a deadlock found by parking_lot's detector (--fixed \
             locks in one order)",
    long_about = None
)]
struct Args {
    /// Take the locks in one global order (checking before savings): no deadlock.
    #[arg(long)]
    fixed: bool,
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

    common::out!();
    common::out!("Summary");
    for (thread, outcome) in &outcomes {
        match outcome {
            Outcome::Answered => common::out!("  {thread}: answered"),
            Outcome::Failed(e) => common::out!("  {thread}: failed: {e}"),
            Outcome::Panicked(p) => {
                common::out!(
                    "  {thread}: panic on thread '{}' at {}: {}",
                    p.thread,
                    p.location,
                    p.message
                );
                common::out!(
                    "  {thread}: backtrace of {} frames, through {}",
                    p.frames,
                    p.ours.join(" <- ")
                );
            }
        }
    }
    match (&transfers.deadlock, transfers.balances) {
        (Some((threads, found, took)), _) => {
            common::out!(
                "  deadlock: {} stuck in {}",
                threads.join(" <-> "),
                transfers.stuck_in.join(" <- ")
            );
            common::out!(
                "  found by check {} at {} (ideal: by {}, the {} hold plus one check period); \
                 collecting its backtraces took {}",
                transfers.checks,
                fmt_duration(*found),
                fmt_duration(HOLD + CHECK_EVERY),
                fmt_duration(HOLD),
                fmt_duration(*took)
            );
        }
        (None, Some((checking, savings))) => {
            common::out!(
                "  no deadlock ({} checks): checking {checking}, savings {savings}, total {} (was 200)",
                transfers.checks,
                checking + savings
            );
        }
        (None, None) => common::out!("  transfers: no result"),
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Support: the panic hook and its reports, reading a backtrace.
// ------------------------------------------------------------------------------------------------

/// What the panic hook saw.
#[derive(Debug, Clone)]
struct PanicReport {
    thread: String,
    location: String,
    message: String,
    /// How many frames the captured backtrace has.
    frames: usize,
    /// This file's functions in it, innermost first.
    ours: Vec<String>,
}

/// Reports by thread name, filled by the hook, emptied by `main`.
fn panic_reports() -> &'static StdMutex<Vec<PanicReport>> {
    static REPORTS: OnceLock<StdMutex<Vec<PanicReport>>> = OnceLock::new();
    REPORTS.get_or_init(Default::default)
}

fn take_panic_report(thread: &str) -> Option<PanicReport> {
    let mut reports = panic_reports().lock().unwrap_or_else(|e| e.into_inner());
    let index = reports.iter().position(|r| r.thread == thread)?;
    Some(reports.remove(index))
}

/// Replaces the default hook (which writes to stderr) for this example's `fetch-` threads: the panic
/// is logged with its thread's name, and its backtrace is captured and kept for `main`. Panics on
/// other threads (a failing test's) still go to the previous hook.
fn install_panic_hook() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let current = thread::current();
        let thread = current.name().unwrap_or("<unnamed>").to_string();
        if !thread.starts_with("fetch-") {
            return previous(info);
        }
        // `force_capture`: whatever RUST_BACKTRACE says. Resolving symbols is slow, but a panic is rare.
        let backtrace = Backtrace::force_capture().to_string();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".into());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // The message the default hook would print, through the logger (stdout) instead of stderr.
        warn!("thread '{thread}' panicked at {location}: {message}");
        let report = PanicReport {
            thread,
            location,
            message,
            frames: frame_count(&backtrace),
            ours: our_functions(&backtrace),
        };
        panic_reports()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report);
    }));
}

/// The functions of this file a backtrace passes through, innermost first. Frames read
/// `  9: _21_debugging_threads::parse_order_count` (from the symbol table) or `  10: fetch` (from the
/// line tables of a debug build, which also list inlined frames on lines of their own).
fn our_functions(backtrace: &str) -> Vec<String> {
    const OURS: [&str; 3] = ["parse_order_count", "fetch", "transfer"];
    let mut found: Vec<String> = Vec::new();
    for line in backtrace.lines() {
        let symbol = line.trim_start();
        let symbol = symbol
            .split_once(": ")
            .filter(|(n, _)| n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(symbol, |(_, s)| s);
        let symbol = symbol.split('<').next().unwrap_or(symbol).trim_end();
        for name in OURS {
            let ours = symbol == name || symbol.ends_with(&format!("21_debugging_threads::{name}"));
            if ours && found.last().is_none_or(|last| last != name) {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// The number of frames in a formatted `std::backtrace::Backtrace` (lines `  12: symbol`).
fn frame_count(backtrace: &str) -> usize {
    backtrace
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            line.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count()
}

#[cfg(test)]
mod tests {
    //! Real threads, real clock: the deadlock is real and the detector must find it; bounds are loose
    //! enough for a busy 2-core machine. A test that deadlocks leaves its two threads stuck in the test
    //! process; `run_transfers` only counts cycles of its own threads, so other tests are unaffected.
    use super::*;

    /// `check_deadlock` hands each cycle to the first caller: two detectors running at once (two
    /// tests) could take each other's. The tests that run one take turns.
    static ONE_DETECTOR: StdMutex<()> = StdMutex::new(());

    fn one_detector() -> std::sync::MutexGuard<'static, ()> {
        ONE_DETECTOR.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[test]
    fn a_named_thread_s_panic_is_reported_with_its_name_and_backtrace() {
        install_panic_hook();
        let handle = thread::Builder::new()
            .name("fetch-test".into())
            .spawn(|| parse_order_count("ok"))
            .expect("a thread");
        assert!(handle.join().is_err(), "it panicked");
        let report = take_panic_report("fetch-test").expect("the hook kept a report");
        assert_eq!(report.thread, "fetch-test");
        assert!(
            report.message.contains("answers with a count"),
            "{report:?}"
        );
        assert!(
            report.location.contains("21_debugging_threads.rs"),
            "{report:?}"
        );
        assert_eq!(
            report.ours.first().map(String::as_str),
            Some("parse_order_count"),
            "{report:?}"
        );
        assert!(report.frames > 3, "{report:?}");
    }

    #[test]
    fn the_scenario_names_the_thread_that_panicked_and_the_others_answer() {
        install_panic_hook();
        let server = TestServer::start().expect("a test server");
        let outcomes = run_requests(&server).expect("threads start");
        let names: Vec<&str> = outcomes.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["fetch-users", "fetch-orders", "fetch-report"]);
        assert!(matches!(outcomes[0].1, Outcome::Answered), "{outcomes:?}");
        assert!(matches!(outcomes[2].1, Outcome::Answered), "{outcomes:?}");
        let Outcome::Panicked(report) = &outcomes[1].1 else {
            panic!("fetch-orders should have panicked: {outcomes:?}");
        };
        assert_eq!(report.thread, "fetch-orders");
        assert_eq!(report.ours, ["parse_order_count", "fetch"], "{report:?}");
    }

    #[test]
    fn opposite_lock_orders_deadlock_and_the_detector_names_both_threads() {
        let _turn = one_detector();
        let run = run_transfers(LockOrder::SourceFirst)
            .expect("the run ends: finished or found deadlocked");
        let (threads, found, _took) = run.deadlock.expect("a deadlock was found, not waited for");
        assert_eq!(threads, ["transfer-to-checking", "transfer-to-savings"]);
        assert_eq!(run.stuck_in, ["transfer"], "{:?}", run.stuck_in);
        // Ideal: by 70 ms. A busy machine may delay the threads and the checks, not prevent them.
        assert!(found < Duration::from_secs(3), "found after {found:?}");
        assert!(run.balances.is_none());
    }

    #[test]
    fn one_global_lock_order_never_deadlocks_and_the_money_adds_up() {
        let _turn = one_detector();
        for _ in 0..3 {
            let run = run_transfers(LockOrder::Global)
                .expect("the run ends: finished or found deadlocked");
            assert!(run.deadlock.is_none(), "{run:?}");
            assert_eq!(
                run.balances,
                Some((120, 80)),
                "100 - 30 + 50 and 100 + 30 - 50"
            );
        }
    }

    #[test]
    fn backtraces_are_read_from_either_kind_of_frame() {
        let backtrace = "   0: std::panicking::begin_panic\n\
                         \x20  9: _21_debugging_threads::parse_order_count\n\
                         \x20            at ./src/bin/21_debugging_threads.rs:89:10\n\
                         \x20 10: fetch\n\
                         \x20 11: _21_debugging_threads::run_requests::{{closure}}\n";
        assert_eq!(our_functions(backtrace), ["parse_order_count", "fetch"]);
        assert_eq!(frame_count(backtrace), 4);
    }

    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["21", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("21 · Debugging"), "{help}");
        let bad = Args::try_parse_from(["21", "--deadlock"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}
