use std::time::Duration;

use common::process::run_example;

#[test]
fn mutex_10_shows_the_race_across_await_and_both_fixes() {
    let run = run_example(env!("CARGO_BIN_EXE_10_mutex"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80",
        "tokio::sync::Mutex across the .await: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "std::sync::Mutex, reserve then dispense: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "the rejected customer waited ",
    ]);
    // One thread: the race needs no parallelism.
    for line in run.stdout.lines().filter(|l| l.contains(" ATM-")) {
        assert!(line.contains(" [main] "), "not on the main thread: {line}");
    }
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
