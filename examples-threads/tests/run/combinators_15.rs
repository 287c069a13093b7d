use std::time::Duration;

use common::process::run_example;

/// `(measured, ideal)` in ms from a summary line's "after 101 ms (ideal 100 ms".
fn measured_and_ideal(line: &str) -> (f64, f64) {
    let number = |text: &str| -> f64 {
        text.trim()
            .strip_suffix(" ms")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a figure in ms: {text:?} in {line}"))
    };
    let after = line.rsplit(" after ").next().expect("an elapsed time");
    let (measured, rest) = after.split_once(" (ideal ").expect("an ideal");
    let ideal = rest.split(',').next().expect("the ideal's figure");
    (number(measured), number(ideal))
}

#[test]
fn future_combinators_threads_15_end_at_their_ideal_and_no_loser_stops() {
    let run = run_example(env!("CARGO_BIN_EXE_15_future_combinators_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "all (join each): 3/3 ok after ",
            "fail-fast all (channel): Err(task-2 failed) after ",
            "race (select!): A won after ",
            "timeout (select! + after): the timer won after ",
            "any (channel): Y won after ",
            "all-settled (join each): 2/3 succeeded after ",
        ]);
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" (ideal "))
        .collect();
    assert_eq!(rows.len(), 7, "{}", run.stdout);
    for row in rows {
        // A sleep never ends early, so no combinator beats its ideal; a loaded machine makes it late.
        let (measured, ideal) = measured_and_ideal(row);
        assert!(measured >= ideal - 0.5, "{row}");
        assert!(measured < ideal + 1000.0, "{row}");
        if row.contains("the rest:") {
            assert!(
                row.contains("ran to the end: a thread cannot be cancelled"),
                "{row}"
            );
        }
    }
    // Every error of the all-fail `any`, in whichever order they arrived.
    let all_fail = run
        .stdout
        .lines()
        .find(|l| l.contains("any (channel), all fail: every error: "))
        .unwrap_or_else(|| panic!("no all-fail row\n{}", run.stdout));
    for job in ["P failed", "Q failed", "R failed"] {
        assert!(all_fail.contains(job), "{all_fail}");
    }
    // The lesson, counted: every loser's side effect happened after its combinator returned.
    let losers = run
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("losers: "))
        .unwrap_or_else(|| panic!("no losers line\n{}", run.stdout));
    let figures: Vec<usize> = losers
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(3)
        .collect();
    let [unfinished, cancelled, side_effects] = figures[..] else {
        panic!("three figures in {losers:?}");
    };
    // Four combinators answer before their slowest job ends (fail-fast all, race, timeout, any),
    // each at least 150 ms before it: one loser each was still running when they returned.
    assert_eq!(unfinished, 4, "{losers}");
    assert_eq!(cancelled, 0, "{losers}");
    assert_eq!(side_effects, unfinished, "{losers}");
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
