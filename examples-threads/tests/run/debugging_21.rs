use std::time::Duration;

use common::process::run_example;

/// The figure after `label` up to " ms" in `stdout`: "at 55 ms" -> 55.
fn ms_after(stdout: &str, label: &str) -> u64 {
    let rest = stdout
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{stdout}"));
    rest.split(" ms")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure after {label:?} in:\n{stdout}"))
}

#[test]
fn debugging_21_threads_names_the_panicking_thread_and_finds_the_deadlock_without_hanging() {
    let run = run_example(env!("CARGO_BIN_EXE_21_debugging_threads"), &[]);
    // The panic is the lesson: reported on stdout by the example's hook, nothing on stderr.
    run.assert_success().assert_stdout_contains(&[
        "Summary",
        "fetch-users: answered",
        "fetch-orders: panic on thread 'fetch-orders' at ",
        "the orders endpoint answers with a count",
        "through parse_order_count <- fetch",
        "fetch-report: answered",
        "deadlock: transfer-to-checking <-> transfer-to-savings stuck in transfer",
    ]);
    assert!(run.stderr.trim().is_empty(), "stderr: {}", run.stderr);
    let check = run
        .stdout
        .lines()
        .find(|l| l.contains("found by check "))
        .expect("a detection line");
    let found = ms_after(check, " at ");
    assert!(found < 3000, "found after {found} ms\n{}", run.stdout);
    // It ended by itself: the two stuck threads went with the process.
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn debugging_21_threads_fixed_takes_the_locks_in_one_order_and_the_books_balance() {
    let run = run_example(env!("CARGO_BIN_EXE_21_debugging_threads"), &["--fixed"]);
    run.assert_success().assert_stdout_contains(&[
        "no deadlock (",
        "checking 120, savings 80, total 200 (was 200)",
    ]);
    assert!(!run.stdout.contains("deadlock:"), "{}", run.stdout);
}

#[test]
fn debugging_21_threads_talks_to_its_local_server_directly_even_with_a_proxy_in_the_environment() {
    // A proxy from the environment cannot reach the example's 127.0.0.1 server: port 9 (discard)
    // refuses. A client that honoured it would get no answers at all.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_21_debugging_threads"));
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    let run = common::process::run_with_deadline(cmd, common::process::RUN_TEST_DEADLINE);
    // (Its one panic, in `fetch-orders`, is the lesson: caught and reported by its hook.)
    run.assert_success();
    assert!(run.stdout.contains(" 200 OK, "), "{}", run.stdout);
}
