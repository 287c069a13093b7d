use std::time::Duration;

use common::process::run_example;

/// The figure after `woken ` in a summary line, in ms.
fn woken_ms(line: &str) -> f64 {
    let rest = line
        .split("woken ")
        .nth(1)
        .unwrap_or_else(|| panic!("no `woken` in {line:?}"));
    let mut words = rest.split_whitespace();
    let n: f64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number in {line:?}"));
    match words.next() {
        Some("ms") => n,
        Some("s") => n * 1000.0,
        unit => panic!("unit {unit:?} in {line:?}"),
    }
}

#[test]
fn testing_22_threads_the_forced_interleaving_loses_the_wakeup_only_in_the_buggy_semaphore() {
    let run = run_example(env!("CARGO_BIN_EXE_22_testing_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "(ideal 0): the release woke it",
            "(ideal 0): LOST WAKE-UP, it slept with a permit free until nudged after 300 ms",
            "run the loom checks",
        ]);
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}\n{}", run.stdout))
    };
    let correct = woken_ms(line("correct semaphore:"));
    let buggy = woken_ms(line("lost-wake-up semaphore:"));
    assert!(line("correct semaphore:").ends_with("the release woke it"));
    // The correct one is woken by the release itself: far sooner than the 300 ms patience, even on
    // a loaded machine. The buggy one only by the nudge, after the whole patience.
    assert!(
        correct < 250.0,
        "correct semaphore woken after {correct} ms"
    );
    assert!(buggy >= 300.0, "buggy semaphore woken after {buggy} ms");
    // A hang guard, not a timing claim.
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}
