use std::time::Duration;

use common::process::run_example;

#[test]
fn async_stream_20_keeps_the_bound_and_stops_the_source_on_an_error() {
    let run = run_example(env!("CARGO_BIN_EXE_20_async_stream"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "backpressure: 8/8 chunks written; the producer waited ",
            "(ideal 4)",
            // Counted from both ends after every send: the channel's bound, and in the pipelines
            // the channel plus the window (the exact figures are proven on the paused clock).
            "not yet taken (bound 2: the channel)",
            "buffered(3): [0, 2, 4, 6, 8, 10], order kept,",
            "(ideal 520 ms)",
            "(ideal 440 ms)",
            "not yet done with (bound 5: 2 in the channel, 3 in the window: kept)",
            // How many the source made before its send failed follows the timers (12 on the paused
            // clock, proven there); on the real clock, within the bound.
            "error: transform failed at chunk 6; the sink got [0, 2, 4] first;",
            "(bound 7: stopped)",
            "cleanup after the error: source 1, filter 1, transform 1, enrich 1, sink 1 (each stage once)",
        ]);
    // The finish order is proven exactly on the paused clock; on a busy machine's real clock only
    // that every chunk came through is certain.
    let unordered = run
        .stdout
        .lines()
        .find(|l| l.contains("buffer_unordered(3): ["))
        .expect("the unordered line");
    for id in ["0", "2", "4", "6", "8", "10"] {
        assert!(
            unordered.split(['[', ']', ',', ' ']).any(|w| w == id),
            "{unordered}"
        );
    }
    // Measured on the real clock: the waits near the 4 worked out from the rates (a late wake-up on
    // a busy machine turns one or two either way).
    let waits: u32 = run
        .stdout
        .split("the producer waited ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the waits");
    assert!((2..=6).contains(&waits), "{waits}\n{}", run.stdout);
    assert!(
        run.stdout
            .contains("source: channel full (2 chunks), waiting to send chunk")
    );
    assert!(
        run.stdout
            .contains("source: the pipeline is gone, stopping at chunk")
    );
    // A hang guard, not a timing claim (the run takes about 2 s).
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}
