use std::time::Duration;

use common::process::run_example;

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
