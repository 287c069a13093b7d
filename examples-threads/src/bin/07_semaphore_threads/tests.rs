//! Real threads. The semaphore's guarantees are asserted exactly (never more than n inside, no
//! permit leaked); timings as exact lower bounds, and an upper bound only where it is the lesson.
use super::*;
use common::schedule;
use std::sync::mpsc;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `f` on its own thread and fails if it has not finished within `deadline`: a leaked
/// permit shows up as threads waiting forever, and this turns that hang into a failure.
fn within<T: Send + 'static>(deadline: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(deadline)
        .expect("finished in time (a hang here means a permit was leaked)")
}

/// The most visits that overlap at any instant, from the recorded times alone.
fn max_overlap(visits: &[Visit]) -> usize {
    visits
        .iter()
        .map(|v| {
            visits
                .iter()
                .filter(|w| w.entered <= v.entered && v.entered < w.left)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn never_more_than_three_inside_and_three_is_reached() {
    let r = within(Duration::from_secs(20), || run(&WORK, PERMITS)).expect("runs");
    assert_eq!(r.peak_inside, 3, "{r:?}");
    // `entered` is taken after acquiring and `left` before releasing, so the recorded times can
    // only understate the overlap, never overstate it.
    assert!(max_overlap(&r.visits) <= 3, "{r:?}");
    assert_eq!(r.free_at_end, 3, "every permit came back");
    assert_eq!(r.visits.len(), WORK.len());
}

#[test]
fn the_total_fits_the_schedule_whatever_the_order() {
    let r = within(Duration::from_secs(20), || run(&WORK, PERMITS)).expect("runs");
    let (lower, upper) = schedule::any_order_bounds(&WORK, PERMITS);
    assert_eq!((lower, upper), (ms(2350) / 3, ms(1050)));
    assert!(r.total >= lower, "{r:?}");
    // No wall-clock upper bound past the lesson's: more than one at a time, so below one at a
    // time (2350 ms), however late a busy machine wakes the threads.
    let one_at_a_time: Duration = WORK.iter().sum();
    assert!(r.total < one_at_a_time, "{r:?}");
    for v in &r.visits {
        assert!(v.left - v.entered >= WORK[v.task], "{v:?}");
    }
}

#[test]
fn hammered_from_16_threads_it_never_lets_more_than_n_in_and_leaks_nothing() {
    for permits in [1, 3] {
        let r = within(Duration::from_secs(20), move || {
            let semaphore = Semaphore::new(permits);
            let occupancy = Occupancy::default();
            thread::scope(|s| {
                for _ in 0..16 {
                    s.spawn(|| {
                        for _ in 0..2000 {
                            let _permit = semaphore.acquire();
                            let inside = occupancy.inside.fetch_add(1, Ordering::SeqCst) + 1;
                            occupancy.peak.fetch_max(inside, Ordering::SeqCst);
                            thread::yield_now(); // let the others try to get in meanwhile
                            occupancy.inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    });
                }
            });
            (
                occupancy.peak.load(Ordering::SeqCst),
                semaphore.available_permits(),
            )
        });
        let (peak, free_at_end) = r;
        assert!(peak <= permits, "{permits} permits, {peak} inside");
        assert!(peak >= 1);
        assert_eq!(free_at_end, permits, "a permit leaked");
    }
}

/// `#[must_use]` acts at compile time (a warning on `semaphore.acquire();`, an error under CI's
/// `-D warnings`), so no test can run the mistake. This one keeps the attribute from being lost:
/// it reads this file and checks that the permit's type carries it.
#[test]
fn the_permit_is_must_use() {
    let source = include_str!("main.rs");
    let permit = source
        .find("\nstruct Permit<'a>")
        .expect("the permit type is declared here");
    let attributes = &source[..permit];
    let last_item = attributes.rfind("\n}\n").unwrap_or(0);
    assert!(
        attributes[last_item..]
            .lines()
            .any(|line| line.starts_with("#[must_use")),
        "`Permit` lost its #[must_use]"
    );
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["07", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("07 · Semaphore"), "{help}");
    let bad = Args::try_parse_from(["07", "--permits", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}

#[test]
fn a_thread_that_panics_still_gives_its_permit_back() {
    let semaphore = Semaphore::new(1);
    thread::scope(|s| {
        let doomed = s.spawn(|| {
            let _permit = semaphore.acquire();
            panic!("the resource exploded");
        });
        assert!(doomed.join().is_err());
    });
    assert_eq!(semaphore.available_permits(), 1);
    // And the permit can be taken again: the mutex was not left unusable.
    drop(semaphore.acquire());
}
