use std::time::Duration;

use common::process::{Run, run_example};

fn assert_under_five_seconds(run: &Run) {
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn future_create_task_threads_02_spawns_early_promise_and_packaged_task() {
    let run = run_example(env!("CARGO_BIN_EXE_02_future_create_task_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "sequential ",
            "| threads ",
            "ideal 2.40x",
            "header rendered ",
            "never-called closure ran: false | detached thread ran: true",
            "channel promise delivered 10 after ",
            "sender dropped without a value: the receiver got ",
            "packaged tasks: slow_square(3) = 9, slow_square(4) = 16 in ",
        ]);
    for thread in [
        "[fetch-profile]",
        "[fetch-orders]",
        "[packaged-3]",
        "[packaged-4]",
    ] {
        assert!(
            run.stdout.contains(thread),
            "no line from {thread}\n{}",
            run.stdout
        );
    }
    assert_under_five_seconds(&run);
}

#[test]
fn future_read_result_threads_03_reports_in_completion_order_and_tells_failures_apart() {
    let run = run_example(env!("CARGO_BIN_EXE_03_future_read_result_threads"), &[]);
    run.assert_success().assert_stdout_contains(&[
        "Summary",
        "completion order: orders.csv ",
        "progress: 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled",
        "error \"payments.csv: server returned 500\"",
        "panic \"invoices.csv: malformed row 17\"",
        "cancelled products.csv",
        "\"Waiting for the result...\" ",
        "result 7 after ",
        "continuation next_task(initial_task()) then store_result: 10 after ",
        "shared result: 5 readers got [10, 10, 10, 10, 10], computed 1 time(s)",
    ]);
    // This example panics on purpose, once, on the invoices thread, and logs it as an ERROR line:
    // no other panic, and nothing on stderr (`assert_no_panic` cannot be used: "0 panicked" is part
    // of the progress line).
    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" ERROR "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0].contains("[download-invoices.csv]")
            && errors[0].contains("invoices.csv: malformed row 17"),
        "{}",
        errors[0]
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_under_five_seconds(&run);
}
