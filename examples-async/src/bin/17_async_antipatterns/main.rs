//! # 17 · Async antipatterns: six mistakes run for real, each measured beside its fix
//!
//! Every mistake compiles (but one, whose compiler error is quoted) and runs; each is followed by
//! its fix, and the summary prints both figures and a verdict computed from them. One module per
//! mistake (the mistake, the fix, the proof), in the order `main` runs them:
//! 1. `blocking`: `std::thread::sleep` and a CPU loop in an `async fn` freeze a 25 ms heartbeat;
//!    `tokio::time::sleep` and `spawn_blocking` keep it ticking.
//! 2. `lock_held`: a `std::sync::MutexGuard` across an `.await`. `tokio::spawn` refuses it (not
//!    `Send`); `spawn_local`, which only runs inside a `LocalSet` (tasks kept on this thread),
//!    takes it and deadlocks until a deadline fires. The fix: `tokio::sync::Mutex`.
//! 3. `sequential_loop`: awaiting in a loop takes the sum of the delays, `join_all` the longest.
//! 4. `never_awaited`: a future created and dropped never runs, so its failure is never raised.
//! 5. `unbounded_spawn`: a task per request piles up tasks and memory; a `Semaphore` before the
//!    spawn keeps 20 in flight, in the same time.
//! 6. `forgotten_handle`: a dropped `JoinHandle` loses an error and a panic; awaiting finds both.
//!
//! Failures in 4 and 6 count themselves where raised and where read (`failure`), so what the
//! program learnt of is measured. The summary lines are in `report`.
//!
//! Upstream: `src/js/asynchrony/17_async_antipatterns.js`,
//! `src/cpp/asynchrony/async_antipatterns.cpp` (its double `get()` cannot be written in Rust:
//! `.await` consumes), the bad demos of `src/python/asynchrony/asyncio_execution_model.py`; each
//! module names the demo it answers. Seed: "Asynchrony" > Challenges and Considerations. Threads
//! twin: `examples-threads/src/bin/17_async_antipatterns_threads/` (same module names where the
//! mistake is the same).
//!
//! Run: `cargo run -p examples-async --bin 17_async_antipatterns` (no flags but `--help`, about 3
//! s). Output of a real run: `docs/output/17_async_antipatterns.txt`.

mod blocking;
mod failure;
mod forgotten_handle;
mod lock_held;
mod never_awaited;
mod report;
mod sequential_loop;
mod unbounded_spawn;

use std::sync::atomic::Ordering;

use clap::Parser;
use common::{init_logging, out, parse_args, time_async};
use tracing::info;

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
    forgotten_handle::log_and_count_panics();

    let heartbeats = blocking::blocking_the_runtime().await;

    info!("--- 2. a std::sync::MutexGuard held across .await, two spawn_local tasks ---");
    let std_guard = lock_held::std_guard_across_await().await;
    info!("--- 2. fixed: tokio::sync::Mutex ---");
    let tokio_guard = lock_held::tokio_mutex_across_await().await;

    info!("--- 3. awaiting in a loop vs join_all ---");
    let (_, one_by_one) = time_async(sequential_loop::quotes_one_after_another()).await;
    let (_, together) = time_async(sequential_loop::quotes_together()).await;

    info!("--- 4. futures created and never awaited ---");
    let dropped = never_awaited::never_awaited().await;
    let kept = never_awaited::awaited().await;

    info!("--- 5. unbounded tokio::spawn in a loop vs a Semaphore before the spawn ---");
    // Bounded first: memory the allocator keeps after the unbounded run would hide its growth.
    let bounded = unbounded_spawn::serve_all(Some(unbounded_spawn::IN_FLIGHT)).await;
    let unbounded = unbounded_spawn::serve_all(None).await;

    info!("--- 6. forgotten JoinHandles vs awaited ones ---");
    let forgotten = forgotten_handle::forgotten_handles().await;
    let panics_unseen = forgotten_handle::PANICS_SEEN_BY_HOOK.load(Ordering::SeqCst);
    let kept_handles = forgotten_handle::awaited_handles().await;

    out!();
    out!("Summary");
    report::blocking(&heartbeats);
    report::lock_held(&std_guard, &tokio_guard);
    report::sequential_loop(one_by_one, together);
    report::never_awaited(&dropped, &kept);
    report::unbounded_spawn(&unbounded, &bounded);
    report::forgotten_handle(&forgotten, panics_unseen, &kept_handles);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
