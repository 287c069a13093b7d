use std::time::Duration;

use common::process::run_example;

/// The measured speed-up on the summary line that starts with `label`: 2.25 from
/// "sequential 1351 ms | threads 601 ms | 2.25x, ideal 2.25x".
fn measured_speedup(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label) && l.contains("x, ideal "))
        .unwrap_or_else(|| panic!("no summary line for {label:?}\n{stdout}"));
    let figures = line.split("x, ideal ").next().unwrap_or_default();
    let speedup = figures.rsplit("| ").next().unwrap_or_default().trim();
    speedup
        .parse()
        .unwrap_or_else(|_| panic!("no speed-up in {line:?}"))
}

#[test]
fn basic_async_threads_01_shows_sum_vs_longest_on_three_threads() {
    let run = run_example(env!("CARGO_BIN_EXE_01_basic_async_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&["Summary", "sequential ", "| threads ", "ideal 2.25x"]);
    // The measured figure, not only the ideal: 1350 ms of sleeps overlapped into about 600 ms. A
    // `main` that called everything in turn would show about 1.00x. Sleeping threads need no CPU,
    // so a busy machine delays each wake-up by milliseconds, far less than this bound allows.
    let speedup = measured_speedup(&run.stdout, "sequential ");
    assert!(speedup > 1.6, "measured {speedup:.2}x\n{}", run.stdout);
    // One thread per fetch: the threaded run's lines name three different threads.
    for thread in [
        "[fetch-profile]",
        "[fetch-orders]",
        "[fetch-recommendations]",
    ] {
        assert!(
            run.stdout.contains(thread),
            "no line from {thread}\n{}",
            run.stdout
        );
    }
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
