use std::time::Duration;

use common::process::run_example;

/// The figure after `label` up to the next space: `made 10 of` -> 10.
fn number_after(text: &str, label: &str) -> u32 {
    text.split(label)
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in\n{text}"))
}

#[test]
fn async_stream_threads_20_keeps_the_bound_and_ends_every_thread_on_an_error() {
    let run = run_example(env!("CARGO_BIN_EXE_20_async_stream_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "backpressure: 8/8 chunks written; the producer waited ",
            "(bound 2)",
            "window of 3 in order: [0, 2, 4, 6, 8, 10], order kept,",
            "(ideal 520 ms)",
            "(ideal 440 ms)",
            "(bound 2: kept)",
            "error: transform failed at chunk 6; the sink got [0, 2, 4] first;",
            ": stopped)",
            "cleanup after the error: source 1, filter 1, transform 1, enrich 1, sink 1 (each stage once); every thread joined",
        ]);
    // Measured on the real clock: the waits near the 4 worked out from the rates (on a busy machine
    // a late thread turns one or two either way), and the source stopped within what the channels
    // hold (chunk 6 made, at most 9 past it).
    let waits = number_after(&run.stdout, "the producer waited ");
    assert!((2..=6).contains(&waits), "{waits}\n{}", run.stdout);
    let made = number_after(&run.stdout, "the source made ");
    assert!((7..=16).contains(&made), "{made}\n{}", run.stdout);
    // A hang guard, not a timing claim (the run takes about 2 s).
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}
