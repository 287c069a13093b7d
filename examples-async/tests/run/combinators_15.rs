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

/// The three figures of a totals line, after `prefix`: (losers cancelled, losers, side effects).
fn totals(stdout: &str, prefix: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line\n{stdout}"));
    let figures: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .take(3)
        .collect();
    let [cancelled, losers, side_effects] = figures[..] else {
        panic!("three figures in {line:?}");
    };
    (cancelled, losers, side_effects)
}

#[test]
fn future_combinators_15_end_at_their_ideal_and_cancel_only_futures() {
    let run = run_example(env!("CARGO_BIN_EXE_15_future_combinators"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "all (join!) over futures: 3/3 ok after ",
            "fail-fast all (try_join_all) over futures: Err(task-2 failed) after ",
            "fail-fast all (try_join_all) over spawned: Err(task-2 failed) after ",
            "race (select!) over futures: A won after ",
            "timeout over spawned: the timer won after ",
            "any (select_ok) over futures: Y won after ",
            "any (select_ok), all fail over futures: Err(R failed) after ",
            "every error: P failed, Q failed, R failed after ",
            "all-settled (join_all) over futures: 2/3 succeeded after ",
        ]);
    // The lesson, counted: dropped futures never do their side effect; detached tasks do. How
    // many losers were still running at the answer (4 on an idle machine, each with 150 ms or more
    // to go) can drop on a loaded one, so the counts are checked against each other.
    let (cancelled, losers, side_effects) = totals(&run.stdout, "over futures: ");
    assert_eq!((cancelled, side_effects), (losers, 0), "{}", run.stdout);
    assert!(losers > 0, "{}", run.stdout);
    let (cancelled, losers, side_effects) = totals(&run.stdout, "over spawned tasks: ");
    assert_eq!((cancelled, side_effects), (0, losers), "{}", run.stdout);
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" (ideal "))
        .collect();
    assert_eq!(rows.len(), 12, "{}", run.stdout);
    for row in rows {
        // A timer never fires early, so no combinator beats its ideal; a loaded machine makes it late.
        let (measured, ideal) = measured_and_ideal(row);
        assert!(measured >= ideal - 0.5, "{row}");
        assert!(measured < ideal + 1000.0, "{row}");
        if row.contains(" over futures: ") && row.contains("the rest:") {
            assert!(row.contains("0 side effects"), "{row}");
        }
        if row.contains(" over spawned: ") && row.contains("the rest:") {
            assert!(row.contains(" 0 cancelled, "), "{row}");
        }
    }
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
}
