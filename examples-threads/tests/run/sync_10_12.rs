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

#[test]
fn barrier_threads_11_keeps_the_phases_in_step() {
    let run = run_example(env!("CARGO_BIN_EXE_11_barrier_threads"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "phase 1: arrival order ",
        "phase 3: arrival order ",
        "checked: no worker started a phase before all 5 had finished the previous one; 1 leader per phase",
        "barrier run ",
        "(the slowest worker of each phase, summed)",
        "[worker-1]",
        "[worker-5]",
    ]);
    // After the last phase nobody "continues to phase 4" (upstream JS does).
    assert!(!run.stdout.contains("phase 4"), "{}", run.stdout);
    let leader_lines = run
        .stdout
        .lines()
        .filter(|l| l.contains(": leader of phase "))
        .count();
    assert_eq!(leader_lines, 3, "{}", run.stdout);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn barrier_threads_11_rejects_a_bad_seed() {
    run_example(env!("CARGO_BIN_EXE_11_barrier_threads"), &["--seed=-1"])
        .assert_code(2)
        .assert_stderr_contains(&["--seed"]);
}

#[test]
fn async_generator_threads_12_iterates_prefetches_adapts_and_reads_a_file() {
    let run = run_example(env!("CARGO_BIN_EXE_12_async_generator_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "collect all, then process: first user after ",
            "iterator: first user after ",
            "(ideal 150 ms: one page), all 8 after ",
            "iterator with prefetch ",
            "ideal 1.45x",
            "prefetch saved ",
            "(ideal 240 ms)",
            "adapters (x2, multiples of 4, take 5): [0, 4, 8, 12, 16] from 9 numbers produced",
            "file: 8 lines read back with std::fs, temporary file removed",
            // The prefetching is done by its own thread.
            "[page-fetcher]",
        ]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
