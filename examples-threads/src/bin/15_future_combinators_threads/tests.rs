//! Real threads and a real clock. Outcomes are asserted exactly; times with exact lower bounds
//! (a sleep never ends early) and upper bounds with wide margins for a loaded machine: the jobs
//! here are slower than the program's so that "ended before the loser" has room to hold.
use super::*;
use crate::jobs::Launch;
use crate::measure::measure;
use crate::report::totals;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn all_and_all_settled_wait_for_the_slowest_and_keep_the_input_order() {
    let (results, took, rest) = measure(TASKS, Launch::Blocking, |s| all(s.handles)).expect("runs");
    assert_eq!(results, [Ok("task-1"), Ok("task-2"), Ok("task-3")]);
    assert!(took >= ms(250), "{took:?}");
    assert_eq!(rest.unfinished, 0);

    let (outcomes, took, _) =
        measure(SETTLED, Launch::Blocking, |s| all_settled(s.handles)).expect("runs");
    assert_eq!(outcomes, [Ok("M"), Err(Failed("N")), Ok("O")]);
    assert!(took >= ms(150), "{took:?}");
}

#[test]
fn fail_fast_all_returns_at_the_first_error_and_the_rest_runs_to_the_end() {
    let jobs = [ok("task-1", 50), fail("task-2", 100), ok("task-3", 1500)];
    let (result, took, rest) =
        measure(jobs, Launch::Blocking, |s| fail_fast_all(s.results)).expect("runs");
    assert_eq!(result, Err(Failed("task-2")));
    assert!(took >= ms(100) && took < ms(1500), "{took:?}");
    // task-3 could not be stopped: its side effect happened, at its own 1500 ms.
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 0, 1)
    );
    assert!(rest.counted_at >= ms(1500), "{rest:?}");
}

#[test]
fn select_with_after_gives_the_first_finisher_or_the_timer_and_stops_no_thread() {
    let (winner, took, rest) = measure([ok("A", 100), ok("B", 1500)], Launch::Blocking, |s| {
        race(s.results, ms(1000))
    })
    .expect("runs");
    assert_eq!(winner, Winner::Job(Ok("A")));
    assert!(took >= ms(100) && took < ms(1000), "{took:?}");
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 0, 1)
    );
    assert!(rest.counted_at >= ms(1500), "{rest:?}");

    let (winner, took, rest) = measure([ok("C", 1500)], Launch::Blocking, |s| {
        with_deadline(s.results, ms(100))
    })
    .expect("runs");
    assert_eq!(winner, Winner::Timer);
    assert!(took >= ms(100) && took < ms(1500), "{took:?}");
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 0, 1)
    );
    assert!(rest.counted_at >= ms(1500), "{rest:?}");
}

#[test]
fn any_skips_failures_and_when_all_fail_reports_every_error() {
    let jobs = [fail("X", 50), ok("Y", 150), ok("Z", 1500)];
    let (result, took, rest) = measure(jobs, Launch::Blocking, |s| any(s.results)).expect("runs");
    assert_eq!(result, Ok("Y"));
    assert!(took >= ms(150) && took < ms(1500), "{took:?}");
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 0, 1)
    );

    let (result, took, _) = measure(ALL_FAIL, Launch::Blocking, |s| any(s.results)).expect("runs");
    let mut errors = result.expect_err("every job fails");
    // Completion order; a loaded machine may swap two that end 50 ms apart.
    errors.sort_by_key(|e| e.0);
    assert_eq!(errors, [Failed("P"), Failed("Q"), Failed("R")]);
    assert!(took >= ms(150), "{took:?}");
}

#[test]
fn the_program_reaches_every_ideal_and_a_loser_stops_only_when_it_can_hear() {
    let rows = run_all().expect("runs");
    assert_eq!(rows.len(), 11);
    for r in &rows {
        assert!(r.took >= r.ideal, "{r}");
        assert!(r.took < r.ideal + ms(1000), "{r}");
    }
    // Blocked threads: none stops, every loser's side effect happens.
    let (unfinished, stopped, side_effects) = totals(&rows, Launch::Blocking);
    assert_eq!(stopped, 0);
    assert_eq!(side_effects, unfinished);
    // Asked threads: every loser still running at the answer either stopped or (on a machine so
    // loaded that it heard the stop only after its 150 ms or more) finished; on any run some stop.
    let (unfinished, stopped, side_effects) = totals(&rows, Launch::AskedToStop);
    assert_eq!(stopped + side_effects, unfinished);
    assert!(stopped > 0, "no loser stopped: {rows:#?}");
}

/// The fix for "only a panic moves the counter": a job that waits where it can hear stops when
/// asked, before its side effect, and the guard counts it. The losers here have 1500 ms left, so
/// the stop comes long before their end on any machine.
#[test]
fn a_thread_asked_to_stop_returns_early_without_its_side_effect() {
    let jobs = [ok("task-1", 50), fail("task-2", 100), ok("task-3", 1500)];
    let (result, took, rest) =
        measure(jobs, Launch::AskedToStop, |s| fail_fast_all(s.results)).expect("runs");
    assert_eq!(result, Err(Failed("task-2")));
    assert!(took >= ms(100) && took < ms(1500), "{took:?}");
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 1, 0)
    );
    assert!(
        rest.counted_at < ms(1500),
        "task-3 stopped before its end: {rest:?}"
    );

    let (winner, _, rest) = measure([ok("A", 100), ok("B", 1500)], Launch::AskedToStop, |s| {
        race(s.results, ms(1000))
    })
    .expect("runs");
    assert_eq!(winner, Winner::Job(Ok("A")));
    assert_eq!(
        (rest.unfinished, rest.stopped, rest.side_effects),
        (1, 1, 0)
    );
    // And a job that is never asked (all waits for it) finishes as a blocking one does.
    let (results, _, rest) = measure(TASKS, Launch::AskedToStop, |s| all(s.handles)).expect("runs");
    assert_eq!(results, [Ok("task-1"), Ok("task-2"), Ok("task-3")]);
    assert_eq!((rest.unfinished, rest.stopped), (0, 0));
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["15", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(
        help.to_string().starts_with("15 · Future combinators"),
        "{help}"
    );
    let bad = Args::try_parse_from(["15", "--jobs", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
