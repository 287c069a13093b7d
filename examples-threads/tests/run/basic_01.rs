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

#[test]
fn basic_async_threads_01_help_names_the_example_and_an_unknown_flag_exits_2() {
    let help = run_example(env!("CARGO_BIN_EXE_01_basic_async_threads"), &["--help"]);
    help.assert_success().assert_no_panic();
    assert!(help.stdout.starts_with("01 · "), "{}", help.stdout);
    assert!(!help.stdout.contains("request sent"), "the demo ran");

    let bad = run_example(env!("CARGO_BIN_EXE_01_basic_async_threads"), &["--bogus"]);
    bad.assert_code(2).assert_no_panic();
    let lines: Vec<&str> = bad
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", bad.stderr);
    let first = lines[0];
    assert!(
        first.starts_with("error: ") && first.contains("--bogus"),
        "{first}"
    );
    assert!(bad.stdout.is_empty(), "the demo ran: {}", bad.stdout);
}
