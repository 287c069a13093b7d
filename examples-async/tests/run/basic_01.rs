use std::time::Duration;

use common::process::run_example;

/// The measured speed-up on the summary line that starts with `label`: 2.25 from
/// "sequential 1352 ms | concurrent 601 ms | 2.25x, ideal 2.25x".
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
fn basic_async_01_shows_sum_vs_longest_on_one_thread() {
    let run = run_example(env!("CARGO_BIN_EXE_01_basic_async"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "sequential ",
            "| concurrent ",
            "ideal 2.25x",
            "lazy future awaited after a 200 ms head start",
            "spawned task awaited after a 200 ms head start",
        ]);
    // The measured figure, not only the ideal: 1350 ms of sleeps overlapped into about 600 ms. A
    // `main` that awaited everything in turn would show about 1.00x. Sleeps need no CPU, so a busy
    // machine delays each wake-up by milliseconds, far less than the 240 ms this bound allows.
    let speedup = measured_speedup(&run.stdout, "sequential ");
    assert!(speedup > 1.6, "measured {speedup:.2}x\n{}", run.stdout);
    // One thread: every fetch line was printed by `main`.
    let fetch_lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("request sent"))
        .collect();
    assert!(fetch_lines.len() >= 6, "{}", run.stdout);
    for line in fetch_lines {
        assert!(line.contains(" [main] "), "not on the main thread: {line}");
    }
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
