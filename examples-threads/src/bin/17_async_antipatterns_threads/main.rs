//! # 17 · Antipatterns, with threads: six mistakes run for real, each measured beside its fix
//!
//! The twin of `examples-async/src/bin/17_async_antipatterns/`, for the mistakes that exist with
//! threads. Two of the async list do not: a thread cannot "block the runtime" (blocking is what a
//! thread is for; it costs a thread, measured in 4), and a thread cannot be created and never run
//! (`thread::spawn` starts it at once, like a JS promise; only a future is lazy). One module per
//! mistake (the mistake, the fix, the proof), named as the async twin's where the mistake is the
//! same:
//! 1. `lock_held`: a lock held during slow I/O makes four ATMs take turns (the sum); printing after
//!    letting go takes the longest one.
//! 2. `lock_order`: two transfers locking in opposite orders deadlock until a `try_lock` deadline
//!    fires; one global order fixes it.
//! 3. `sequential_loop`: spawn and join in the same loop take the sum; spawn all, then join, the
//!    max.
//! 4. `unbounded_spawn`: a thread per request piles up threads and memory; a pool of 10 does not.
//! 5. `busy_wait`: a spinning waiter burns CPU, a `Condvar` waiter none (each one's CPU time read).
//! 6. `forgotten_handle`: a detached thread is killed mid-work when `main` returns (counted in a
//!    child process of this binary); joining it saves every record.
//!
//! The summary lines are in `report`. Upstream: `src/cpp/asynchrony/async_antipatterns.cpp`,
//! `src/js/asynchrony/17_async_antipatterns.js`,
//! `src/cpp/multithreading/deadlock_philosophers_antipattern.cpp`; each module names the demo it
//! answers. Seed: "Asynchrony" > "Asynchrony vs Multithreading".
//!
//! Run: `cargo run -p examples-threads --bin 17_async_antipatterns_threads` (no flags but `--help`,
//! about 3 s; `--child` is internal: lesson 6 runs this binary again with it). Output of a real
//! run: `docs/output/17_async_antipatterns_threads.txt`.

mod busy_wait;
mod forgotten_handle;
mod lock_held;
mod lock_order;
mod report;
mod sequential_loop;
mod unbounded_spawn;

use std::sync::{Mutex, MutexGuard};

use clap::Parser;
use common::{init_logging, out, parse_args, time};
use forgotten_handle::{Child, child_main, records_saved_by_child};
use lock_order::LockOrder;
use tracing::info;

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
    let under_lock = lock_held::atms_printing_receipts(true);
    info!("--- 1. fixed: debit under the lock, print after letting go ---");
    let after_unlock = lock_held::atms_printing_receipts(false);

    info!("--- 2. two transfers taking their locks in opposite orders ---");
    let opposite = lock_order::opposite_transfers(LockOrder::SourceFirst);
    info!("--- 2. fixed: one global lock order ---");
    let ordered = lock_order::opposite_transfers(LockOrder::Global);

    info!("--- 3. spawn and join in the same loop vs spawn all, then join ---");
    let (_, one_by_one) = time(sequential_loop::quotes_spawn_join_in_a_loop);
    let (_, together) = time(sequential_loop::quotes_spawn_all_then_join);

    info!("--- 4. a thread per request vs a pool of workers ---");
    // The pool first: memory the allocator keeps after the other run would hide its growth.
    let pool = unbounded_spawn::pool_of_workers();
    let per_request = unbounded_spawn::thread_per_request();

    info!("--- 5. busy-waiting vs a Condvar ---");
    let spinning = busy_wait::busy_wait();
    let sleeping = busy_wait::condvar_wait();

    info!("--- 6. a detached writer thread when main returns, vs a joined one ---");
    let detached = records_saved_by_child(Child::Detached)?;
    let joined = records_saved_by_child(Child::Joined)?;

    out!();
    out!("Summary");
    report::lock_held(&under_lock, &after_unlock);
    report::lock_order(&opposite, &ordered);
    report::sequential_loop(one_by_one, together);
    report::unbounded_spawn(&per_request, &pool);
    report::busy_wait(&spinning, &sleeping);
    report::forgotten_handle(detached, joined);
    Ok(())
}

/// Locks `mutex`, taking the value even if a panicking thread poisoned it: the values here are
/// plain numbers, never left half-updated.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

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
