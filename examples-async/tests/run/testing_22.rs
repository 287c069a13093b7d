use std::time::Duration;

use common::process::run_example;

/// The wall time at the end of a summary line, `... in 1303 ms of wall time` -> 1303 (in ms).
fn wall_ms(line: &str) -> f64 {
    let rest = line
        .rsplit(" in ")
        .next()
        .unwrap_or_else(|| panic!("no wall time in {line:?}"));
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
fn testing_22_runs_the_session_for_real_in_seconds_and_paused_in_milliseconds() {
    let run = run_example(env!("CARGO_BIN_EXE_22_testing"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            // The paused clock's figures are exact, on any machine.
            "paused clock: MISS HIT MISS MISS MISS HIT HIT: 4 misses, 3 hits; 1300 ms of scenario time (ideal 1300 ms) in ",
            "paused yes)",
            "loads still in flight at the end: 0 (none leaked)",
        ]);
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}\n{}", run.stdout))
    };
    // Measured: the real clock waits its 1300 ms (a little more), the paused one next to nothing.
    let real = wall_ms(line("real clock:"));
    let paused = wall_ms(line("paused clock:"));
    assert!(real >= 1300.0, "real clock: {real} ms of wall time");
    // A ratio, not a bound: on a busy machine both stretch, the paused one stays far the shorter.
    assert!(
        paused * 2.0 < real,
        "paused clock: {paused} ms of wall time, real: {real} ms"
    );
    // A hang guard, not a timing claim.
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}
