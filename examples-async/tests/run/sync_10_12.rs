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

#[test]
fn barrier_11_keeps_the_phases_in_step() {
    let run = run_example(env!("CARGO_BIN_EXE_11_barrier"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "phase 1: arrival order ",
        "phase 3: arrival order ",
        "checked: no worker started a phase before all 5 had finished the previous one; 1 leader per phase",
        "barrier run ",
        "(the slowest worker of each phase, summed)",
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
fn barrier_11_takes_a_seed_and_rejects_a_bad_one() {
    let first = run_example(env!("CARGO_BIN_EXE_11_barrier"), &["--seed", "7"]);
    let second = run_example(env!("CARGO_BIN_EXE_11_barrier"), &["--seed", "7"]);
    first.assert_success();
    second.assert_success();
    let arrivals = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .filter(|l| l.contains("arrival order"))
            .map(str::to_string)
            .collect()
    };
    // The same seed gives the same work, so the same arrival orders.
    let strip = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| l.split("; took").next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        strip(arrivals(&first.stdout)),
        strip(arrivals(&second.stdout))
    );

    run_example(env!("CARGO_BIN_EXE_11_barrier"), &["--seed", "x"])
        .assert_code(2)
        .assert_stderr_contains(&["--seed"]);
}

#[test]
fn async_generator_12_streams_prefetches_adapts_and_reads_a_file() {
    let run = run_example(env!("CARGO_BIN_EXE_12_async_generator"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "collect all, then process: first user after ",
            "stream: first user after ",
            "(ideal 150 ms: one page), all 8 after ",
            "stream with prefetch ",
            "ideal 1.45x",
            "prefetch saved ",
            "(ideal 240 ms)",
            "adapters (x2, multiples of 4, take 5): [0, 4, 8, 12, 16] from 9 numbers produced",
            "file: 8 lines read back with tokio::fs, temporary file removed",
        ]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
