use std::time::Duration;

use common::process::run_example;

#[test]
fn data_sharing_queue_06_bounds_the_queue_and_lets_the_unbounded_one_grow() {
    let run = run_example(env!("CARGO_BIN_EXE_06_data_sharing_queue"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "bounded (capacity 3): 10/10 items received, in order; largest queue 3 (capacity 3)",
            "bounded (capacity 3): producer waited 5 times",
            "unbounded: 10/10 items received, in order; largest queue 7 (no limit)",
            "unbounded: producer waited 0 times",
            "(ideal 1030 ms each: the consumer sets the pace)",
        ]);
    // Backpressure is visible in the log, and the queue is closed by dropping the sender.
    assert!(
        run.stdout
            .contains("producer: queue full (3 items), waiting for room")
    );
    assert!(run.stdout.contains("dropping the sender closes the queue"));
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
