//! How long a demo takes is not asserted here: on a busy machine that is a benchmark, not a test.
//! A demo that hangs is killed at `run_example`'s deadline and fails `assert_success`.

use common::process::run_example;

#[test]
fn data_sharing_queue_06_bounds_the_queue_and_lets_the_unbounded_one_grow() {
    let run = run_example(env!("CARGO_BIN_EXE_06_data_sharing_queue"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "bounded (capacity 3): 10/10 items received, in order; largest queue ",
            "unbounded: 10/10 items received, in order; largest queue ",
            "unbounded: producer waited 0 times",
            "(ideal 1030 ms each: the consumer sets the pace)",
        ]);
    // This run is on the real clock: the exact figures (largest 3 vs 7, 5 waits) are proven on the
    // paused clock in the file's tests; here, bounds that hold on a busy machine.
    let figure = |prefix: &str, after: &str| -> usize {
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix) && l.contains(after))
            .unwrap_or_else(|| panic!("no line {prefix:?} with {after:?}\n{}", run.stdout));
        let rest = &line[line.find(after).expect("the figure") + after.len()..];
        rest.split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    assert!(
        figure("bounded (capacity 3):", "largest queue ") <= 3,
        "{}",
        run.stdout
    );
    assert!(
        figure("bounded (capacity 3):", "producer waited ") >= 1,
        "{}",
        run.stdout
    );
    assert!(figure("unbounded:", "largest queue ") > 3, "{}", run.stdout);
    // Backpressure is visible in the log, and the queue is closed by dropping the sender.
    assert!(
        run.stdout
            .contains("producer: queue full (3 items), waiting for room")
    );
    assert!(run.stdout.contains("dropping the sender closes the queue"));
}

#[test]
fn semaphore_07_lets_exactly_three_in_and_follows_the_schedule() {
    let run = run_example(env!("CARGO_BIN_EXE_07_semaphore"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "10/10 tasks used the resource; at most 3 inside at once (3 permits)",
            "permits free at the end: 3 of 3 (none leaked)",
            "(ideal 950 ms, the FIFO schedule; one at a time 2350 ms, all at once 400 ms)",
        ]);
    // Fair (FIFO): each freed permit goes to the longest waiter, so the tasks enter in order.
    let entered: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(": in after waiting"))
        .filter_map(|l| l.split("task ").nth(1)?.split(':').next())
        .collect();
    assert_eq!(entered, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
}

#[test]
fn producer_consumer_08_consumes_every_url_once_and_stops_after_the_producers() {
    let run = run_example(env!("CARGO_BIN_EXE_08_producer_consumer"), &["--seed", "7"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "seed 7",
            "Summary",
            "produced 8 = consumed 8 (each URL exactly once)",
            "per consumer: consumer-1 ",
            "(all after the producers)",
            "shared by 3 consumers)",
            // Measured from when each consumer worked: the three really shared the work.
            "; at most 3 busy at once",
        ]);
    // Shutdown by dropped senders: every consumer says it saw the queue closed.
    for id in 1..=3 {
        let line = format!("consumer-{id}: queue closed and empty, stopping");
        assert!(run.stdout.contains(&line), "{line}\n{}", run.stdout);
    }
}

#[test]
fn producer_consumer_08_rejects_a_bad_seed_with_status_2() {
    let run = run_example(
        env!("CARGO_BIN_EXE_08_producer_consumer"),
        &["--seed", "abc"],
    );
    run.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains(&["invalid value 'abc' for '--seed <SEED>'"]);
}

#[test]
fn queues_06_to_08_say_what_they_show_and_reject_a_bad_flag() {
    for (bin, number) in [
        (env!("CARGO_BIN_EXE_06_data_sharing_queue"), "06 · "),
        (env!("CARGO_BIN_EXE_07_semaphore"), "07 · "),
        (env!("CARGO_BIN_EXE_08_producer_consumer"), "08 · "),
    ] {
        // `--help` prints what the example demonstrates (and does not run the demo).
        let help = run_example(bin, &["--help"]);
        help.assert_success().assert_no_panic();
        assert!(help.stdout.starts_with(number), "{bin}: {}", help.stdout);
        assert!(!help.stdout.contains("Summary"), "{bin} ran the demo");
        // An unknown flag: status 2, and one line of error before clap's usage hint.
        let bad = run_example(bin, &["--bogus"]);
        bad.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains(&["unexpected argument '--bogus'"]);
        assert!(bad.stdout.is_empty(), "{bin} ran the demo: {}", bad.stdout);
    }
}
