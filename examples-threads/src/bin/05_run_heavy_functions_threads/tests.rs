//! Real time, on a machine that may be busy: results are checked exactly, the heartbeat and the
//! calibration with generous bounds, the verdicts over given figures. Speedups are printed by
//! the example, not asserted: they depend on what else the machine runs; the slices counted
//! at once prove the parallelism instead.
use super::*;
use calibrate::cpu_time;
use report::{heartbeat_verdict, oversubscription_verdict, speedup_verdict};
use std::sync::{Mutex, PoisonError};

/// The tests that measure time take turns: on two cores, a CPU-bound test next to a timing test
/// would measure the neighbour, not the lesson.
static CORES: Mutex<()> = Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still get their turn.
    CORES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The exact total of `i * i` for `i` in `0..n`, wrapping at 2^64: `n(n-1)(2n-1)/6`.
fn closed_form(n: u64) -> u64 {
    let n = u128::from(n);
    (n * (n.saturating_sub(1)) * (2 * n).saturating_sub(1) / 6) as u64
}

#[test]
fn heavy_sum_matches_the_closed_form() {
    assert_eq!(heavy_sum(0..0), 0);
    assert_eq!(heavy_sum(0..4), 1 + 4 + 9);
    // Large enough to wrap: the wrapping sum still equals the formula modulo 2^64.
    let n = 5_000_000;
    assert_eq!(heavy_sum(0..n), closed_form(n));
}

#[test]
fn split_covers_the_range_exactly_once() {
    assert_eq!(split(0..10, 3), [0..3, 3..6, 6..10]);
    assert_eq!(split(5..9, 1), vec![5..9]);
    for parts in [1, 2, 3, 7, 16, 100] {
        let slices = split(0..1000, parts);
        assert_eq!(slices.len(), parts);
        assert_eq!(slices[0].start, 0);
        assert_eq!(slices[parts - 1].end, 1000);
        assert!(slices.windows(2).all(|w| w[0].end == w[1].start));
    }
}

#[test]
fn the_calibrated_call_takes_about_its_target_in_this_build() {
    let _turn = take_turn();
    // Whatever this build is (the tests run in debug, `cargo test --release` in release), a call
    // sized for a target takes about that much CPU time (a factor of three either way: the kernel
    // counts it in ticks of 10 ms), and a call sized for 2.5 times the target clearly longer: a
    // fixed count, right for one build only, would take as long for both (ratio 1), or 30 times too
    // short in release. CPU time of this thread, not the wall clock: a busy machine makes a call
    // wait for a core, not do more work, and the sibling tests running meanwhile do not count.
    let mut took = Vec::new();
    for target in [ms(100), ms(250)] {
        let per_call = calibrate(target);
        let least = (0..3)
            .map(|_| cpu_time(|| heavy_sum(0..per_call)).1)
            .min()
            .expect("three tries");
        assert!(
            least >= target / 3 && least <= target * 3,
            "sized for {target:?}: {per_call} squares took {least:?} of CPU"
        );
        took.push(least);
    }
    let ratio = took[1].as_secs_f64() / took[0].as_secs_f64();
    assert!(
        (1.4..=6.0).contains(&ratio),
        "{took:?}: {ratio:.2}, ideal 2.5"
    );
}

#[test]
fn every_way_computes_the_same_total() {
    let _turn = take_turn();
    // Smaller calls: this test is about the results, not the time.
    let calls = || job(4, 400_000);
    let expected = closed_form(4 * 400_000);
    assert_eq!(sequential(calls()), expected);
    for threads in [
        1,
        2,
        3,
        available_cores(),
        available_cores() * THREADS_PER_CORE,
    ] {
        let total = on_threads(calls(), threads, "test").expect("no thread panics");
        assert_eq!(total, expected, "{threads} threads");
    }
}

#[test]
fn the_main_thread_keeps_time_while_every_core_is_busy() {
    let _turn = take_turn();
    let threads = available_cores() * THREADS_PER_CORE;
    let per_call = calibrate(ms(100));
    let (total, beat, took) =
        with_heartbeat(|| on_threads(job(4, per_call), threads, "busy").expect("no thread panics"))
            .expect("no thread panics");
    assert_eq!(total, closed_form(4 * per_call));
    // More slices ran at once than there are cores: the OS runs them all, taking turns. (Not
    // all of them for certain: on a busy machine the first may end before the last starts.)
    assert!(beat.calls_at_once > available_cores(), "{beat:?}");
    // The example's own verdict, relative to the work: a gap longer than the tick plus a call
    // (as long as the whole 4-call job here, on two cores) would be a freeze.
    assert_eq!(
        heartbeat_verdict(beat.longest_gap, TICK, took * available_cores() as u32 / 4),
        "kept time",
        "{beat:?} in {took:?}"
    );
    // It did tick while the work ran: the first tick, and at least two more while every core was
    // busy (the job is 400 ms of CPU on the cores, 200 ms at best on two). Not one per 50 ms: on a
    // busy machine every wake-up of the main thread comes late, and each late tick delays the next.
    assert!(beat.ticks >= 3, "{beat:?} in {took:?}");
}

#[test]
fn one_thread_runs_one_slice_at_a_time_and_one_per_core_runs_them_side_by_side() {
    let _turn = take_turn();
    let per_call = calibrate(ms(100));
    let ((), sequential_beat, _) = with_heartbeat(|| {
        sequential(job(2, per_call));
    })
    .expect("no thread panics");
    assert_eq!(sequential_beat.calls_at_once, 1, "{sequential_beat:?}");
    let cores = available_cores();
    // Four calls a thread: on a busy machine a thread may start late, but not a whole
    // 400 ms of work late, so the threads' calls still overlap.
    let (_, per_core_beat, _) =
        with_heartbeat(|| on_threads(job(4 * cores as u64, per_call), cores, "core"))
            .expect("no panic");
    assert_eq!(per_core_beat.calls_at_once, cores, "{per_core_beat:?}");
}

#[test]
fn the_verdicts_follow_the_figures() {
    // The heartbeat: relative to the work.
    assert_eq!(heartbeat_verdict(ms(140), TICK, ms(150)), "kept time");
    assert_eq!(heartbeat_verdict(ms(250), TICK, ms(150)), "froze");
    assert_eq!(heartbeat_verdict(ms(65), TICK, ms(4)), "froze");
    // One thread per core.
    assert_eq!(
        speedup_verdict(1.93, 2.0, None),
        "near the ideal: every core worked"
    );
    assert!(speedup_verdict(1.3, 2.0, Some(4.7)).ends_with("(load average 4.7)"));
    // The run of the issue: 2.59x from more threads beside "gain nothing". Now the verdict
    // says what the figures show, and why.
    let busy = oversubscription_verdict(2.59, 0.4, Some(4.7));
    assert!(
        busy.starts_with("faster, but not from the extra threads"),
        "{busy}"
    );
    assert!(
        busy.contains("only 40%") && busy.contains("load average 4.7"),
        "{busy}"
    );
    assert!(!busy.contains("gain nothing"), "{busy}");
    assert!(oversubscription_verdict(1.4, 0.95, None).starts_with("faster, which"));
    assert_eq!(
        oversubscription_verdict(0.97, 0.96, None),
        "more threads than cores gain nothing: the cores were already busy"
    );
    assert_eq!(
        oversubscription_verdict(0.5, 0.96, None),
        "slower by 100%: the extra threads only took turns on cores that were already busy"
    );
}

#[test]
fn a_panicking_worker_becomes_an_error_not_a_crash() {
    let result = with_heartbeat(|| -> u64 { panic!("the heavy function exploded") });
    assert!(result.is_err());
    let result = on_threads(job(2, 10), 0, "none");
    assert_eq!(result.expect("0 threads means 1 slice"), heavy_sum(0..20));
}
