use std::time::Duration;

use common::process::run_example;

#[test]
fn basic_async_threads_01_shows_sum_vs_longest_on_three_threads() {
    let run = run_example(env!("CARGO_BIN_EXE_01_basic_async_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&["Summary", "sequential ", "| threads ", "ideal 2.25x"]);
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
