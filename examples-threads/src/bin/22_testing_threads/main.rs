//! # 22 · Testing threads: every interleaving checked by loom, one forced by a `Barrier`
//!
//! Different from its async twin by nature: there a paused clock makes time deterministic; here what
//! varies is the *order* of the threads' steps, and loom is what enumerates it.
//!
//! The chapter's sixth challenge for threads. A test of threaded code that passes may only have been
//! lucky: the bad interleaving exists, the scheduler just did not pick it. Two answers, both here,
//! on the hand-made semaphore of 07 (a count behind a `Mutex`, a `Condvar` to sleep on):
//!
//! - **loom** (`loom_checks.rs`) runs a small test under *every* interleaving its threads allow, so
//!   a bug in one of them is found for certain. The correct semaphore passes; a version with a
//!   deliberate **lost wake-up** (`lost_wakeup.rs`: it lets go of the lock between "the count is 0"
//!   and "sleep on the condvar", so a permit returned in that moment notifies nobody) is caught. The
//!   same code is checked as it runs here: the `sync` module picks loom's types under
//!   `cfg(loom_check)`, std's otherwise.
//! - **A `Barrier` forces one interleaving** on real threads: `main` puts the release exactly in
//!   that moment, for both versions. The correct one wakes its waiter in microseconds; the buggy one
//!   sleeps with a permit free until `main`, after 300 ms of patience, nudges the condvar.
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Testing"), "Asynchrony vs Multithreading".
//! Async twin: `examples-async/src/bin/22_testing/main.rs`. The semaphore: `07_semaphore_threads.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 22_testing_threads` (about 0.3 s). Output of a real
//! run: `docs/output/22_testing_threads.txt`. The loom checks, in their own target dir (a new
//! `RUSTFLAGS` rebuilds every dependency), with a cfg of our own (tokio reacts to `cfg(loom)` by
//! leaving out `tokio::net`, which `common` needs):
//! `RUSTFLAGS="--cfg loom_check" CARGO_TARGET_DIR=target/loom cargo test -p examples-threads --bin 22_testing_threads -- loom`

mod lost_wakeup;
mod report;

use std::sync::PoisonError;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{fmt_duration, init_logging};
use tracing::{info, warn};

use lost_wakeup::forced_handover_lost_wakeup;
use report::Args;
use sync::{Condvar, Mutex, MutexGuard};

/// The sync types the semaphores are built from: loom's under `--cfg loom_check`, so loom can see (and
/// reorder) every lock, wait and notify; std's in every other build. One code, checked as it runs.
mod sync {
    #[cfg(loom_check)]
    pub use loom::sync::{Condvar, Mutex, MutexGuard};
    #[cfg(not(loom_check))]
    pub use std::sync::{Condvar, Mutex, MutexGuard};
}

/// How long `main` lets a waiter sleep with a permit free before it nudges the condvar.
const PATIENCE: Duration = Duration::from_millis(300);

/// 07's semaphore: `free` permits behind a mutex, and a condvar that waiting threads sleep on.
struct Semaphore {
    free: Mutex<usize>,
    permit_returned: Condvar,
}

impl Semaphore {
    fn new(permits: usize) -> Self {
        Semaphore {
            free: Mutex::new(permits),
            permit_returned: Condvar::new(),
        }
    }

    /// The count. Every change is a single `+= 1` or `-= 1`, so a poisoned lock holds a whole
    /// number: recovering the guard is safe.
    fn count(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self) -> Permit<'_, Self> {
        self.acquire_observed(|| {})
    }

    /// Blocks until a permit is free, then takes it. `before_sleeping` runs each time the thread is
    /// about to sleep (the tests and `main` force an interleaving there); it runs *with the lock
    /// held*, and `wait` lets go of the lock and starts sleeping in one step: no release can slip in
    /// between, which is the whole point of a condvar taking the guard.
    fn acquire_observed(&self, mut before_sleeping: impl FnMut()) -> Permit<'_, Self> {
        let mut free = self.count();
        while *free == 0 {
            before_sleeping();
            free = self
                .permit_returned
                .wait(free)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        Permit { semaphore: self }
    }
}

impl Release for Semaphore {
    fn release(&self) {
        *self.count() += 1;
        self.permit_returned.notify_one();
    }
}

/// What a permit gives back to when dropped.
trait Release {
    fn release(&self);
}

/// A permit: it gives itself back when dropped, on every path (07's RAII guard).
#[must_use = "the permit goes back when dropped: bind it for as long as you use the resource"]
struct Permit<'a, S: Release> {
    semaphore: &'a S,
}

impl<S: Release> Drop for Permit<'_, S> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

/// What one forced hand-over measured.
#[derive(Debug)]
struct Handover {
    /// From the release to the waiter getting its permit.
    woken_after: Duration,
    /// Whether `main` had to nudge the condvar because the release woke nobody.
    nudged: bool,
}

/// The correct semaphore, one permit held by this thread, a waiter that wants it. The `Barrier`
/// holds the release back until the waiter is between its check (count 0) and its sleep; the
/// waiter is there with the lock held, so the release blocks until the waiter sleeps, then wakes it.
fn forced_handover_correct() -> anyhow::Result<Handover> {
    let semaphore = Semaphore::new(1);
    let held = semaphore.acquire();
    let at_the_gap = std::sync::Barrier::new(2);
    let (entered, entered_rx) = mpsc::channel();
    thread::scope(|s| -> anyhow::Result<Handover> {
        thread::Builder::new()
            .name("waiter".into())
            .spawn_scoped(s, || {
                let mut first = true;
                let _permit = semaphore.acquire_observed(|| {
                    if std::mem::take(&mut first) {
                        at_the_gap.wait();
                    }
                });
                let _ = entered.send(Instant::now());
            })?;
        at_the_gap.wait();
        info!("correct semaphore: the waiter is between its check and its sleep; releasing now");
        let released = Instant::now();
        drop(held);
        // The same patience as for the buggy one: were this semaphore broken, `main` would nudge
        // it (and say so) rather than hang.
        let (entered, nudged) = wait_for_entry(&entered_rx, "correct semaphore", || {
            semaphore.permit_returned.notify_all()
        })?;
        let woken_after = entered.saturating_duration_since(released);
        info!(
            "correct semaphore: in, {} after the release",
            fmt_duration(woken_after)
        );
        Ok(Handover {
            woken_after,
            nudged,
        })
    })
}

/// Waits for the waiter to get in; if it still sleeps after `PATIENCE` (its wake-up was lost),
/// says so and `nudge`s the condvar. Returns when it got in and whether it needed the nudge.
fn wait_for_entry(
    entered: &mpsc::Receiver<Instant>,
    which: &str,
    nudge: impl Fn(),
) -> anyhow::Result<(Instant, bool)> {
    match entered.recv_timeout(PATIENCE) {
        Ok(at) => Ok((at, false)),
        Err(_) => {
            warn!(
                "{which}: the waiter still sleeps {} after the release, with a permit free: \
                 nudging it",
                fmt_duration(PATIENCE)
            );
            nudge();
            Ok((entered.recv()?, true))
        }
    }
}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    let correct = forced_handover_correct()?;
    let buggy = forced_handover_lost_wakeup()?;
    report::print_summary(&correct, &buggy);
    Ok(())
}

#[cfg(test)]
mod tests;

#[cfg(all(test, loom_check))]
mod loom_checks;
