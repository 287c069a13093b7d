//! How long a demo takes is not asserted here: on a busy machine that is a benchmark, not a test.
//! A demo that hangs is killed at `run_example`'s deadline and fails `assert_success`.

use common::process::run_example;

#[test]
fn data_sharing_queue_threads_06_bounds_the_queue_and_lets_the_unbounded_one_grow() {
    let run = run_example(env!("CARGO_BIN_EXE_06_data_sharing_queue_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "bounded (capacity 3): 10/10 items received, in order; largest queue ",
            "unbounded: 10/10 items received, in order; largest queue ",
            "unbounded: producer waited 0 times",
            "(ideal 1030 ms each: the consumer sets the pace)",
        ]);
    // The counted queue length never exceeds the capacity, even on a busy machine.
    let largest = |prefix: &str| -> usize {
        let line = run
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", run.stdout));
        let rest = &line[line.find("largest queue ").expect("the figure") + 14..];
        rest.split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a number")
    };
    assert!(largest("bounded (capacity 3):") <= 3, "{}", run.stdout);
    assert!(largest("unbounded:") > 3, "{}", run.stdout);
    // Backpressure is visible in the log, on the producer's own thread.
    assert!(
        run.stdout
            .contains("[producer] producer: queue full (3 items)")
    );
    assert!(run.stdout.contains("dropping the sender closes the queue"));
}

#[test]
fn semaphore_threads_07_lets_exactly_three_in() {
    let run = run_example(env!("CARGO_BIN_EXE_07_semaphore_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "10/10 tasks used the resource; at most 3 inside at once (3 permits)",
            "permits free at the end: 3 of 3 (none leaked)",
            "(ideal 783 ms to 1050 ms, depending on who gets each freed permit;",
        ]);
    // One named thread per task.
    for task in 0..10 {
        let thread = format!("[task-{task}] task {task}: in after waiting");
        assert!(run.stdout.contains(&thread), "{thread}\n{}", run.stdout);
    }
}

#[test]
fn producer_consumer_threads_08_consumes_every_url_once_and_stops_after_the_producers() {
    let run = run_example(
        env!("CARGO_BIN_EXE_08_producer_consumer_threads"),
        &["--seed", "7"],
    );
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
fn producer_consumer_threads_08_rejects_a_bad_seed_with_status_2() {
    let run = run_example(
        env!("CARGO_BIN_EXE_08_producer_consumer_threads"),
        &["--seed", "abc"],
    );
    run.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains(&["invalid value 'abc' for '--seed <SEED>'"]);
}

#[test]
fn queues_06_to_08_threads_say_what_they_show_and_reject_a_bad_flag() {
    for (bin, number) in [
        (env!("CARGO_BIN_EXE_06_data_sharing_queue_threads"), "06 · "),
        (env!("CARGO_BIN_EXE_07_semaphore_threads"), "07 · "),
        (env!("CARGO_BIN_EXE_08_producer_consumer_threads"), "08 · "),
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
