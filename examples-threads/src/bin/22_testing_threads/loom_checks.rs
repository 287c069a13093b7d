//! Every interleaving of two threads and `main` sharing one permit. Run with
//! `RUSTFLAGS="--cfg loom_check" CARGO_TARGET_DIR=target/loom cargo test -p examples-threads --bin 22_testing_threads -- loom`.

use super::*;
use crate::lost_wakeup::*;
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
