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
fn future_create_task_02_spawns_early_and_sets_a_result_later() {
    let run = run_example(env!("CARGO_BIN_EXE_02_future_create_task"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "sequential ",
            "| spawned tasks ",
            "ideal 2.40x",
            "futures created early, awaited after the header: ",
            "header rendered ",
            "never-awaited future ran: false | detached task ran: true",
            "oneshot delivered \"Hello, world!\" after ",
            "sender dropped without a result: the receiver got \"channel closed\" at once",
        ]);
    // The multi-thread runtime: spawned fetches run on worker threads, `main` renders the header.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("[tokio-rt-worker] fetch_recent_orders: request sent")),
        "no fetch on a worker thread\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .lines()
            .all(|l| !l.contains("render_static_header") || l.contains(" [main] ")),
        "the header is rendered by main\n{}",
        run.stdout
    );
    assert_under_five_seconds(&run);
}

#[test]
fn future_read_result_03_reads_in_completion_order_and_tells_failures_apart() {
    let run = run_example(env!("CARGO_BIN_EXE_03_future_read_result"), &[]);
    run.assert_success().assert_stdout_contains(&[
        "Summary",
        "completion order: orders.csv ",
        "progress: 4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled",
        "error \"payments.csv: server returned 500\"",
        "panic \"invoices.csv: malformed row 17\"",
        "cancelled products.csv",
        "\"Waiting for the result...\" ",
        "result 7 after ",
        "continuation initial_task().map(next_task).then(store_result): 10 after ",
        "shared result: 5 readers got [10, 10, 10, 10, 10], computed 1 time(s)",
        "heartbeat: ",
    ]);
    let order = run
        .stdout
        .lines()
        .find(|l| l.contains("completion order:"))
        .expect("checked above");
    let position = |file: &str| {
        order
            .find(file)
            .unwrap_or_else(|| panic!("{file}: {order}"))
    };
    assert!(
        position("orders.csv") < position("payments.csv")
            && position("payments.csv") < position("users.csv")
            && position("users.csv") < position("products.csv"),
        "{order}"
    );
    // This example panics on purpose, once, and logs it as an ERROR line: no other panic, and
    // nothing on stderr (`assert_no_panic` cannot be used: "0 panicked" is part of the progress).
    let errors: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains(" ERROR "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    assert!(
        errors[0].contains("invoices.csv: malformed row 17"),
        "{}",
        errors[0]
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_under_five_seconds(&run);
}
