//! On the paused clock every combinator ends at exactly its ideal, and the rest's side effects
//! are counted at exactly the slowest job's delay.
use super::*;
use crate::jobs::Launch;
use crate::measure::{Rest, measure};
use crate::report::{Row, totals};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn row<'a>(rows: &'a [Row], combinator: &str, launch: Launch) -> &'a Row {
    rows.iter()
        .find(|r| r.combinator == combinator && r.launch == launch)
        .unwrap_or_else(|| panic!("no row {combinator} over {launch:?}"))
}

#[tokio::test(start_paused = true)]
async fn every_combinator_ends_at_exactly_its_ideal() {
    let rows = run_all().await;
    assert_eq!(rows.len(), 12);
    for r in &rows {
        assert_eq!(r.took, r.ideal, "{r}");
    }
    let took: Vec<u64> = rows.iter().map(|r| r.took.as_millis() as u64).collect();
    assert_eq!(
        took,
        [250, 100, 100, 100, 100, 100, 100, 150, 150, 150, 150, 150]
    );
}

#[tokio::test(start_paused = true)]
async fn all_waits_for_the_slowest() {
    let (results, took, rest) = measure(TASKS, Launch::Futures, all).await;
    assert_eq!(results, [Ok("task-1"), Ok("task-2"), Ok("task-3")]);
    assert_eq!(took, ms(250));
    assert_eq!(rest.unfinished, 0);
}

#[tokio::test(start_paused = true)]
async fn try_join_all_over_futures_ends_at_the_first_error_and_cancels_the_rest() {
    let (result, took, rest) = measure(TASKS_ONE_FAILS, Launch::Futures, fail_fast_all).await;
    assert_eq!(result, Err(Failed("task-2")));
    assert_eq!(took, ms(100));
    assert_eq!(
        rest,
        Rest {
            unfinished: 1,
            cancelled: 1,
            side_effects: 0,
            counted_at: ms(250),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn try_join_all_over_spawned_tasks_ends_as_early_but_the_rest_runs_on() {
    let (result, took, rest) = measure(TASKS_ONE_FAILS, Launch::Spawned, fail_fast_all).await;
    assert_eq!(result, Err(Failed("task-2")));
    assert_eq!(took, ms(100));
    // task-3's side effect happened, at its own 250 ms: nobody waited for it, nobody stopped it.
    assert_eq!(
        rest,
        Rest {
            unfinished: 1,
            cancelled: 0,
            side_effects: 1,
            counted_at: ms(250),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn select_gives_the_first_finisher_and_drops_the_others() {
    let (winner, took, rest) = measure(RACERS, Launch::Futures, |j| race(j, RACE_TIMER)).await;
    assert_eq!((winner, took), (Winner::Job(Ok("A")), ms(100)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 1, 0)
    );
    assert_eq!(rest.counted_at, ms(300));

    let (winner, took, rest) = measure(RACERS, Launch::Spawned, |j| race(j, RACE_TIMER)).await;
    assert_eq!((winner, took), (Winner::Job(Ok("A")), ms(100)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 0, 1)
    );
    assert_eq!(rest.counted_at, ms(300));

    // Both racers slower than the timer: the timer wins at 200 ms and both are cancelled.
    let slow = [ok("A", 250), ok("B", 300)];
    let (winner, took, rest) = measure(slow, Launch::Futures, |j| race(j, RACE_TIMER)).await;
    assert_eq!((winner, took), (Winner::Timer, ms(200)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (2, 2, 0)
    );
}

/// `biased;` polls the branches in the order written: two jobs ready in the same poll (a tie on the
/// paused clock) go to the one listed first, on every run. Without it `select!` starts at a random
/// branch, and twenty runs in a row would not all go the same way.
#[tokio::test(start_paused = true)]
async fn a_tie_in_the_race_goes_to_the_job_listed_first() {
    for _ in 0..20 {
        let tie = [ok("A", 100), ok("B", 100)];
        let (winner, took, _) = measure(tie, Launch::Futures, |j| race(j, RACE_TIMER)).await;
        assert_eq!((winner, took), (Winner::Job(Ok("A")), ms(100)));
        let tie = [ok("B", 100), ok("A", 100)];
        let (winner, _, _) = measure(tie, Launch::Futures, |j| race(j, RACE_TIMER)).await;
        assert_eq!(
            winner,
            Winner::Job(Ok("B")),
            "the first listed, whatever its name"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn timeout_is_a_race_against_a_timer_that_drops_a_future_but_not_a_task() {
    let (winner, took, rest) = measure(SLOW, Launch::Futures, |j| with_deadline(j, DEADLINE)).await;
    assert_eq!((winner, took), (Winner::Timer, ms(100)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 1, 0)
    );
    assert_eq!(rest.counted_at, ms(300));

    let (winner, took, rest) = measure(SLOW, Launch::Spawned, |j| with_deadline(j, DEADLINE)).await;
    assert_eq!((winner, took), (Winner::Timer, ms(100)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 0, 1)
    );
    assert_eq!(rest.counted_at, ms(300), "C ended at its own 300 ms");

    // A job faster than its deadline is not touched.
    let quick = [ok("C", 50)];
    let (winner, took, _) = measure(quick, Launch::Futures, |j| with_deadline(j, DEADLINE)).await;
    assert_eq!((winner, took), (Winner::Job(Ok("C")), ms(50)));
}

#[tokio::test(start_paused = true)]
async fn select_ok_skips_failures_takes_the_first_success_and_drops_the_rest() {
    let (result, took, rest) = measure(ANY, Launch::Futures, any).await;
    assert_eq!((result, took), (Ok("Y"), ms(150)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 1, 0)
    );

    let (result, took, rest) = measure(ANY, Launch::Spawned, any).await;
    assert_eq!((result, took), (Ok("Y"), ms(150)));
    assert_eq!(
        (rest.unfinished, rest.cancelled, rest.side_effects),
        (1, 0, 1)
    );
    assert_eq!(rest.counted_at, ms(300));
}

#[tokio::test(start_paused = true)]
async fn when_all_fail_select_ok_keeps_the_last_error_and_the_drained_version_every_one() {
    let (result, took, _) = measure(ALL_FAIL, Launch::Futures, any).await;
    assert_eq!((result, took), (Err(Failed("R")), ms(150)));
    let (result, took, _) = measure(ALL_FAIL, Launch::Futures, any_every_error).await;
    assert_eq!(took, ms(150));
    assert_eq!(result, Err(vec![Failed("P"), Failed("Q"), Failed("R")]));
    // With a success in the list it ends there, and cancels the rest.
    let (result, took, rest) = measure(ANY, Launch::Futures, any_every_error).await;
    assert_eq!((result, took), (Ok("Y"), ms(150)));
    assert_eq!((rest.cancelled, rest.side_effects), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn all_settled_keeps_every_outcome_in_order_and_waits_for_the_slowest() {
    let (outcomes, took, rest) = measure(SETTLED, Launch::Futures, all_settled).await;
    assert_eq!(outcomes, [Ok("M"), Err(Failed("N")), Ok("O")]);
    assert_eq!(took, ms(150));
    assert_eq!(rest.unfinished, 0);
}

#[tokio::test(start_paused = true)]
async fn the_summary_totals_match_the_rows() {
    let rows = run_all().await;
    // Over futures: try_join's task-3, select!'s B, timeout's C, select_ok's Z.
    assert_eq!(totals(&rows, Launch::Futures), (4, 4, 0));
    assert_eq!(totals(&rows, Launch::Spawned), (4, 0, 4));
    let r = row(&rows, "fail-fast all (try_join_all)", Launch::Spawned);
    assert!(r.to_string().contains("ran to the end, as in JS"), "{r}");
    let r = row(&rows, "fail-fast all (try_join_all)", Launch::Futures);
    assert!(r.to_string().contains("dropped, i.e. cancelled"), "{r}");
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
