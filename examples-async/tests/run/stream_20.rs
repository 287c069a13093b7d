use std::time::Duration;

use common::process::run_example;

#[test]
fn async_stream_20_keeps_the_bound_and_stops_the_source_on_an_error() {
    let run = run_example(env!("CARGO_BIN_EXE_20_async_stream"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            // Measured by the producer: its waits beside the count worked out from the rates.
            "backpressure: 8/8 chunks written; the producer waited 4 times (ideal 4)",
            "largest queue 2 (bound 2)",
            "buffered(3): [0, 2, 4, 6, 8, 10], order kept,",
            "(ideal 520 ms)",
            "(ideal 440 ms)",
            "at most 2 chunks (bound 2: kept)",
            "error: transform failed at chunk 6; the sink got [0, 2, 4] first; the source made 12 of 1000 chunks, 5 past the failing one (bound 7: stopped)",
            "cleanup after the error: source 1, filter 1, transform 1, enrich 1, sink 1 (each stage once)",
        ]);
    // One task runs the sink, the stages and the source in turn: the finish order is exact even on a
    // busy machine (timers that far apart do not swap).
    assert!(
        run.stdout
            .contains("buffer_unordered(3): [2, 6, 0, 4, 10, 8], finish order,"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("source: channel full (2 chunks), waiting to send chunk")
    );
    assert!(
        run.stdout
            .contains("source: the pipeline is gone, stopping at chunk 11")
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
