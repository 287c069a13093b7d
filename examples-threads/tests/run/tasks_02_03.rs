use std::time::Duration;

use common::process::{Run, run_example};

fn assert_under_five_seconds(run: &Run) {
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

/// The measured speed-up on the summary line that starts with `label`: 2.40 from
/// "sequential 1442 ms | spawned tasks 601 ms | 2.40x, ideal 2.40x".
fn measured_speedup(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with(label) && l.contains("x, ideal "))
        .unwrap_or_else(|| panic!("no summary line for {label:?}\n{stdout}"));
    let figures = line.split("x, ideal ").next().unwrap_or_default();
    let speedup = figures.rsplit("| ").next().unwrap_or_default().trim();
    speedup
        .parse()
        .unwrap_or_else(|_| panic!("no speed-up in {line:?}"))
}

/// The first figure in milliseconds after `after` on the first summary line (no log prefix) that
/// contains it: 90 from "  header rendered 90 ms into ...".
fn millis_after(stdout: &str, after: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("  ") && !l.contains(" INFO ") && l.contains(after))
        .unwrap_or_else(|| panic!("no line with {after:?}\n{stdout}"));
    let rest = &line[line.find(after).unwrap_or_default() + after.len()..];
    let figure = rest.split(" ms").next().unwrap_or_default().trim();
    figure
        .parse()
        .unwrap_or_else(|_| panic!("no figure after {after:?} in {line:?}"))
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
            "deferred work ran before get(): false, get() took ",
            "it ran only then) | detached thread ran: true",
            "channel promise delivered 10 after ",
            "sender dropped without a value: the receiver got ",
            "packaged tasks: slow_square(3) = 9, slow_square(4) = 16 in ",
        ]);
    // The measured figures, not only the ideals: the fetches overlapped (a `main` that called
    // everything in turn shows about 1.00x), the header did not wait for them, and the deferred
    // work ran inside `get()` (50 ms). Sleeping threads need no CPU: a busy machine delays
    // wake-ups by milliseconds.
    let speedup = measured_speedup(&run.stdout, "sequential ");
    assert!(speedup > 1.6, "measured {speedup:.2}x\n{}", run.stdout);
    let header = millis_after(&run.stdout, "header rendered ");
    assert!(header < 300.0, "header after {header} ms\n{}", run.stdout);
    let get = millis_after(&run.stdout, "get() took ");
    assert!(get >= 50.0, "get() took {get} ms\n{}", run.stdout);
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
    // Measured: the first result was reported when it existed (orders.csv, 300 ms), not after the
    // slowest, and products.csv (900 ms of work) stopped at the 700 ms deadline, at its next check.
    let orders = millis_after(&run.stdout, "completion order: orders.csv ");
    let products = millis_after(&run.stdout, "products.csv ");
    assert!(
        (300.0..600.0).contains(&orders),
        "orders.csv after {orders} ms"
    );
    assert!(
        (700.0..900.0).contains(&products),
        "products.csv after {products} ms"
    );
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
