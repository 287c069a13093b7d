//! On real threads (std's types). The loom checks are in `loom_checks.rs`, built only with
//! `--cfg loom_check`.
#![cfg_attr(loom_check, allow(unused_imports, dead_code))]
use super::*;
use clap::Parser;

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

/// The lock held across the check and the sleep, guarded without loom: a releaser thread gives the
/// permit back exactly while the waiter is between its check (count 0) and its sleep. The correct
/// semaphore holds its lock there, so the release cannot land before the sleep: it waits for the
/// lock (not done 100 ms later, the lock not free), then wakes the sleeper. A semaphore that let
/// go of the lock in that gap would see the release land there, and its waiter sleep through it.
#[cfg(not(loom_check))]
#[test]
fn a_release_in_the_gap_cannot_land_before_the_correct_semaphore_s_waiter_sleeps() {
    let semaphore = Semaphore::new(1);
    let held = semaphore.acquire();
    let (go, go_rx) = mpsc::channel::<()>();
    let (released, released_rx) = mpsc::channel::<()>();
    let seen_in_gap = thread::scope(|s| {
        s.spawn(move || {
            let _ = go_rx.recv();
            drop(held);
            let _ = released.send(());
        });
        let semaphore = &semaphore;
        let waiter = s.spawn(move || {
            let mut first = true;
            let mut seen = None;
            let _permit = semaphore.acquire_observed(|| {
                if std::mem::take(&mut first) {
                    let _ = go.send(());
                    let landed = released_rx.recv_timeout(Duration::from_millis(100)).is_ok();
                    let lock_free = semaphore.free.try_lock().is_ok();
                    seen = Some((landed, lock_free));
                }
            });
            seen
        });
        // Were the wake-up lost, the waiter would sleep for ever: nudge it until it is done.
        while !waiter.is_finished() {
            thread::sleep(Duration::from_millis(20));
            semaphore.permit_returned.notify_all();
        }
        waiter.join().expect("the waiter does not panic")
    });
    assert_eq!(
        seen_in_gap,
        Some((false, false)),
        "(release landed in the gap, lock free in the gap)"
    );
}
