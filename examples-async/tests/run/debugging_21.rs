use std::time::Duration;

use common::process::run_example;

/// The figure after `label` up to " ms" in `stdout`: "longest gap 519 ms" -> 519.
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
fn debugging_21_the_watchdog_catches_the_blocked_runtime_and_spans_name_the_requests() {
    let run = run_example(env!("CARGO_BIN_EXE_21_debugging"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            " stall(s) past 200 ms: the runtime was BLOCKED",
            "WARN [watchdog] runtime stalled: no heartbeat for",
            "request{id=3 name=\"checksum\" task=",
            "checksum on the runtime thread (blocking call!)",
            "runtime metrics (",
        ]);
    // The measured gap covers the 500 ms blocking call; `users` (a 100 ms answer) waited for it.
    let gap = ms_after(&run.stdout, "longest gap");
    assert!((480..3000).contains(&gap), "gap {gap} ms\n{}", run.stdout);
    let users = ms_after(&run.stdout, "users    200     3 bytes in");
    assert!(users >= 480, "users took {users} ms\n{}", run.stdout);
    // A hang guard, not a timing claim (the run takes about 1 s).
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn debugging_21_fixed_moves_the_call_to_spawn_blocking_and_the_watchdog_stays_quiet() {
    let run = run_example(env!("CARGO_BIN_EXE_21_debugging"), &["--fixed"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "0 stall(s) past 200 ms: the runtime kept time",
            "checksum on the blocking pool",
        ]);
    assert!(!run.stdout.contains("runtime stalled"), "{}", run.stdout);
    let gap = ms_after(&run.stdout, "longest gap");
    assert!(gap < 200, "gap {gap} ms\n{}", run.stdout);
    let users = ms_after(&run.stdout, "users    200     3 bytes in");
    assert!(users < 480, "users took {users} ms\n{}", run.stdout);
}

#[test]
fn debugging_21_talks_to_its_local_server_directly_even_with_a_proxy_in_the_environment() {
    // A proxy from the environment cannot reach the example's 127.0.0.1 server: port 9 (discard)
    // refuses. A client that honoured it would get no answers at all.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_21_debugging"));
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env(var, "http://127.0.0.1:9");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    let run = common::process::run_with_deadline(cmd, common::process::RUN_TEST_DEADLINE);
    run.assert_success().assert_no_panic();
    assert!(run.stdout.contains(" 200 "), "{}", run.stdout);
}
