use std::time::Duration;

use common::process::run_example;

#[test]
fn mutex_threads_10_shows_the_forced_lost_update_and_both_fixes() {
    let run = run_example(env!("CARGO_BIN_EXE_10_mutex_threads"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80",
        "std::sync::Mutex held to the write: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "std::sync::Mutex, reserve then dispense: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "the rejected customer waited ",
        // Each ATM is its own named thread.
        "[ATM-1]",
        "[ATM-2]",
    ]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
