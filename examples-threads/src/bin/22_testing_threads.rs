//! # 22 · Testing threads: every interleaving checked by loom, one forced by a `Barrier`
//!
//! The chapter's sixth challenge for threads. A test of threaded code that passes may only have been
//! lucky: the bad interleaving exists, the scheduler just did not pick it. Two answers, both here,
//! on the hand-made semaphore of 07 (a count behind a `Mutex`, a `Condvar` to sleep on):
//!
//! - **loom** runs a small test under *every* interleaving its threads allow (every order of lock,
//!   unlock, wait and notify), so a bug in one of them is found for certain. The correct semaphore
//!   passes; a version with a deliberate **lost wake-up** (it lets go of the lock between "the count
//!   is 0" and "sleep on the condvar", so a permit returned in that moment notifies nobody) is caught:
//!   loom finds the schedule where the waiter sleeps for ever and reports a deadlock (then aborts
//!   the process, so that test runs the model in a child process and checks how it failed). The
//!   same code is checked as it runs here: a small `sync` module picks `loom::sync` types under `cfg(loom_check)`, std's
//!   otherwise.
//! - **A `Barrier` forces one interleaving** on real threads: `main` puts the release exactly in
//!   that moment, for both versions. The correct one cannot be caught there (the moment is inside
//!   its lock, so the release waits until the waiter sleeps, then wakes it: woken in microseconds); the
//!   buggy one sleeps with a permit free until `main`, after 300 ms of patience, nudges the condvar.
//!   Measured: the wait after the release, beside its ideal (0).
//!
//! What differs from the async twin: there, a paused clock makes time deterministic; here what
//! varies is the *order* of the threads' steps, and loom is what enumerates it.
//!
//! Seed: "Asynchrony" > Challenges and Considerations ("Testing"), "Asynchrony vs Multithreading".
//! Async twin: `examples-async/src/bin/22_testing.rs`. The semaphore: `07_semaphore_threads.rs`.
//!
//! Run: `cargo run -p examples-threads --bin 22_testing_threads` (no flags but `--help`, about
//! 0.3 s). The loom checks, in their own target dir since a new `RUSTFLAGS` rebuilds every
//! dependency (so it would evict the normal build's):
//! `RUSTFLAGS="--cfg loom_check" CARGO_TARGET_DIR=target/loom cargo test -p examples-threads --bin 22_testing_threads -- loom`
//!
//! Why `loom_check` and not the usual `--cfg loom`: `RUSTFLAGS` reaches every crate of the build,
//! and tokio (a dependency of `common`) reacts to `cfg(loom)` by leaving out `tokio::net`, so
//! `common` no longer compiles. A cfg of our own is seen by this file only.
//!
//! The output will look similar to this:
//!
//! ```text
//!   0.005s  INFO [main] correct semaphore: the waiter is between its check and its sleep; releasing now
//!   0.006s  INFO [main] correct semaphore: in, 0.06 ms after the release
//!   0.010s  INFO [main] lost-wake-up semaphore: the waiter is between its check and its sleep; releasing now
//!   0.310s  WARN [main] lost-wake-up semaphore: the waiter still sleeps 300 ms after the release, with a permit free: nudging it
//!   0.310s  INFO [main] lost-wake-up semaphore: in, 300 ms after the release
//!
//! Summary
//!   correct semaphore: woken 0.06 ms after the release (ideal 0): the release woke it
//!   lost-wake-up semaphore: woken 300 ms after the release (ideal 0): LOST WAKE-UP, it slept with a permit free until nudged after 300 ms
//!   every interleaving: run the loom checks (see the header) to have loom prove the first and catch the second
//! ```

use std::sync::PoisonError;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{fmt_duration, init_logging};
use tracing::{info, warn};

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

/// The same semaphore with a deliberate bug, kept beside the correct one so the two can be diffed:
/// it checks the count, **lets go of the lock**, then locks again to sleep. A permit returned in
/// between is counted, but its `notify_one` finds nobody asleep, and the waiter then sleeps for
/// ever (if no other release comes): a lost wake-up. Used only by `main`'s demonstration and by the
/// loom test that must catch it.
struct LostWakeupSemaphore {
    free: Mutex<usize>,
    permit_returned: Condvar,
}

impl LostWakeupSemaphore {
    fn new(permits: usize) -> Self {
        LostWakeupSemaphore {
            free: Mutex::new(permits),
            permit_returned: Condvar::new(),
        }
    }

    fn count(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(loom_check)]
    fn acquire(&self) -> Permit<'_, Self> {
        self.acquire_observed(|| {})
    }

    fn acquire_observed(&self, mut before_sleeping: impl FnMut()) -> Permit<'_, Self> {
        loop {
            {
                let mut free = self.count();
                if *free > 0 {
                    *free -= 1;
                    return Permit { semaphore: self };
                }
            } // THE BUG: the lock goes here, before the thread sleeps
            before_sleeping(); // without the lock: a release now wakes nobody
            let free = self.count();
            drop(
                self.permit_returned
                    .wait(free)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// Wakes every sleeper: what rescues the stuck waiter in `main` (a real program has no such
    /// rescuer, only the next release, if one ever comes).
    fn nudge(&self) {
        self.permit_returned.notify_all();
    }
}

impl Release for LostWakeupSemaphore {
    fn release(&self) {
        *self.count() += 1;
        self.permit_returned.notify_one();
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

/// The same hand-over on the buggy semaphore. Its gap is outside the lock, so the schedule can be
/// forced completely: the waiter stops at the gap (first barrier), the release happens, and only
/// then (second barrier) does the waiter go to sleep, after its wake-up was sent to nobody.
fn forced_handover_lost_wakeup() -> anyhow::Result<Handover> {
    let semaphore = LostWakeupSemaphore::new(1);
    let held = Permit {
        semaphore: &semaphore,
    };
    *semaphore.count() -= 1; // `held` owns the only permit
    let at_the_gap = std::sync::Barrier::new(2);
    let (entered, entered_rx) = mpsc::channel();
    thread::scope(|s| -> anyhow::Result<Handover> {
        thread::Builder::new()
            .name("waiter".into())
            .spawn_scoped(s, || {
                let mut first = true;
                let _permit = semaphore.acquire_observed(|| {
                    if std::mem::take(&mut first) {
                        at_the_gap.wait(); // stopped between the check and the sleep
                        at_the_gap.wait(); // the release has happened
                    }
                });
                let _ = entered.send(Instant::now());
            })?;
        at_the_gap.wait();
        info!(
            "lost-wake-up semaphore: the waiter is between its check and its sleep; releasing now"
        );
        let released = Instant::now();
        drop(held);
        at_the_gap.wait();
        let (entered, nudged) =
            wait_for_entry(&entered_rx, "lost-wake-up semaphore", || semaphore.nudge())?;
        let woken_after = entered.saturating_duration_since(released);
        info!(
            "lost-wake-up semaphore: in, {} after the release",
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

/// `--help` text: what the example demonstrates.
#[derive(Parser, Debug)]
#[command(
    about = "22 · Testing threads: 07's semaphore checked under every interleaving by loom (a lost \
             wake-up version is caught), and one interleaving forced with a Barrier",
    long_about = None
)]
struct Args {}

fn main() -> anyhow::Result<()> {
    common::parse_args::<Args>();
    init_logging();

    let correct = forced_handover_correct()?;
    let buggy = forced_handover_lost_wakeup()?;

    let verdict = |h: &Handover| {
        if h.nudged {
            format!(
                "LOST WAKE-UP, it slept with a permit free until nudged after {}",
                fmt_duration(PATIENCE)
            )
        } else {
            "the release woke it".to_string()
        }
    };
    common::out!();
    common::out!("Summary");
    common::out!(
        "  correct semaphore: woken {} after the release (ideal 0): {}",
        fmt_duration(correct.woken_after),
        verdict(&correct)
    );
    common::out!(
        "  lost-wake-up semaphore: woken {} after the release (ideal 0): {}",
        fmt_duration(buggy.woken_after),
        verdict(&buggy)
    );
    common::out!(
        "  every interleaving: run the loom checks (see the header) to have loom prove the first and catch the second"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Support: one RAII permit type for both semaphores.

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

#[cfg(test)]
mod tests {
    //! On real threads (std's types). The loom checks are in `loom_checks` below, built only with
    //! `--cfg loom_check`.
    #![cfg_attr(loom_check, allow(unused_imports, dead_code))]
    use super::*;

    /// The forced interleaving: the release lands between the waiter's check and its sleep. The
    /// correct semaphore wakes it (far sooner than the patience, even on a loaded machine); the
    /// buggy one loses the wake-up every time, since the barriers leave no other order.
    #[cfg(not(loom_check))]
    #[test]
    fn a_release_between_check_and_sleep_is_lost_only_by_the_buggy_semaphore() {
        for _ in 0..3 {
            let correct = forced_handover_correct().expect("runs");
            assert!(!correct.nudged, "{correct:?}");
            assert!(correct.woken_after < PATIENCE, "{correct:?}");
            let buggy = forced_handover_lost_wakeup().expect("runs");
            assert!(buggy.nudged, "the wake-up was lost: {buggy:?}");
            assert!(buggy.woken_after >= PATIENCE, "{buggy:?}");
        }
    }

    #[cfg(not(loom_check))]
    #[test]
    fn help_names_the_example_and_a_bad_flag_is_an_error() {
        let help = Args::try_parse_from(["22", "--help"]).expect_err("--help stops the program");
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().starts_with("22 · Testing"), "{help}");
        let bad = Args::try_parse_from(["22", "--loom"]).expect_err("no such flag");
        assert_eq!(bad.exit_code(), 2);
    }
}

/// Every interleaving of two threads and `main` sharing one permit. Run with
/// `RUSTFLAGS="--cfg loom_check" CARGO_TARGET_DIR=target/loom cargo test -p examples-threads --bin 22_testing_threads -- loom`.
#[cfg(all(test, loom_check))]
mod loom_checks {
    use super::*;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    /// Two threads and `main` each take the one permit once. Under every interleaving: never two
    /// inside, everyone gets in (a lost wake-up would leave a thread asleep: loom calls it a
    /// deadlock and fails), and the permit is back at the end.
    #[test]
    fn loom_the_semaphore_lets_one_in_at_a_time_and_loses_no_wakeup() {
        loom::model(|| {
            let semaphore = Arc::new(Semaphore::new(1));
            let inside = Arc::new(AtomicUsize::new(0));
            let use_it = |semaphore: &Semaphore, inside: &AtomicUsize| {
                let _permit = semaphore.acquire();
                assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two inside");
                inside.fetch_sub(1, Ordering::SeqCst);
            };
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let (semaphore, inside) = (semaphore.clone(), inside.clone());
                    loom::thread::spawn(move || use_it(&semaphore, &inside))
                })
                .collect();
            use_it(&semaphore, &inside);
            for t in threads {
                t.join().expect("no thread panicked");
            }
            assert_eq!(*semaphore.count(), 1, "the permit came back");
        });
    }

    /// The same check on the buggy semaphore must fail: loom finds the schedule where the release
    /// falls between the check and the sleep, and reports the waiter that never wakes ("deadlock").
    /// loom reports it by panicking, then aborts the process while it unwinds the threads it stopped
    /// (a second panic inside its own runtime), so no `#[should_panic]` or `catch_unwind` can see
    /// it: the model runs in a child process of this very test binary, and its failure is checked.
    #[test]
    fn loom_catches_the_lost_wakeup() {
        let exe = std::env::current_exe().expect("the test binary knows its path");
        let child = std::process::Command::new(exe)
            .args([
                "loom_checks::lost_wakeup_model",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("the test binary runs");
        let stderr = String::from_utf8_lossy(&child.stderr);
        assert!(
            !child.status.success(),
            "loom passed the buggy semaphore: {stderr}"
        );
        assert!(stderr.contains("deadlock; threads"), "{stderr}");
    }

    /// The model `loom_catches_the_lost_wakeup` runs in a child process: two threads, one permit.
    #[test]
    #[ignore = "run (and expected to fail) by loom_catches_the_lost_wakeup, in a child process"]
    fn lost_wakeup_model() {
        loom::model(|| {
            let semaphore = Arc::new(LostWakeupSemaphore::new(1));
            let other = {
                let semaphore = semaphore.clone();
                loom::thread::spawn(move || drop(semaphore.acquire()))
            };
            drop(semaphore.acquire());
            other.join().expect("no thread panicked");
        });
    }
}
