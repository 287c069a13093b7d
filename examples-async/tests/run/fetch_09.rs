use common::process::run_example;

const BIN: &str = env!("CARGO_BIN_EXE_09_fetch_parallel");

#[test]
fn fetch_parallel_09_counts_the_500_and_the_timeout_as_failures_and_overlaps_the_rest() {
    let run = run_example(BIN, &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "sequential: 6 requests, 4 ok, 2 failed (at most 1 in flight)",
            "concurrent: 6 requests, 4 ok, 2 failed (at most 3 in flight, limit 3)",
            "failed (both runs): #3 ",
            "/status/500?delay_ms=100 -> 500 Internal Server Error",
            "failed (both runs): #4 ",
            "/delay/5000 -> timed out after 600 ms",
            "ideal: sequential 1300 ms (the sum), concurrent 600 ms (3 at a time)",
            "| concurrent ",
            "ideal 2.17x",
        ]);
    // The measured speed-up, not only the ideal computed from the inputs: a main that fetched the
    // URLs one after another in its "concurrent" run would print about 1.0x. The ideal is 2.17x;
    // the bounds leave room for a loaded 2-core machine (the waits are the server's, not the CPU's).
    let speedup = measured_speedup(&run.stdout, "| concurrent ");
    assert!(
        (1.5..=3.5).contains(&speedup),
        "speed-up {speedup}x\n{}",
        run.stdout
    );
}

#[test]
fn fetch_parallel_09_flags_change_the_limit_and_the_timeout() {
    // A longer timeout and no limit: the same two failures, the new figures in the summary. (A
    // timeout between two delays, say 300 ms between 250 and 350, would make a flaky test.)
    let run = run_example(BIN, &["--concurrency", "6", "--timeout-ms", "1000"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "concurrent: 6 requests, 4 ok, 2 failed (at most 6 in flight, limit 6)",
            "/delay/5000 -> timed out after 1000 ms",
            "ideal: sequential 1700 ms (the sum), concurrent 1000 ms (6 at a time)",
        ]);
}

#[test]
fn fetch_parallel_09_reports_a_refused_connection_and_a_bad_url_without_a_speedup() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let refused = format!("http://{closed}/");
    let run = run_example(BIN, &["--url", &refused, "--url", "not a url"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "sequential: 2 requests, 0 ok, 2 failed",
            "concurrent: 2 requests, 0 ok, 2 failed",
            "-> cannot connect: ",
            "#2 not a url -> bad URL: ",
            "no request succeeded: no speedup to report",
        ]);
}

#[test]
fn fetch_parallel_09_rejects_a_zero_limit_or_timeout() {
    for flag in ["--concurrency", "--timeout-ms"] {
        let run = run_example(BIN, &[flag, "0"]);
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains(&["invalid value '0'", flag]);
    }
    // `--help` says what the example demonstrates, under its number.
    let help = run_example(BIN, &["--help"]);
    help.assert_success().assert_no_panic();
    assert!(help.stdout.starts_with("09 · "), "{}", help.stdout);
}

/// The measured speed-up (`2.17` in `sequential 1306 ms | concurrent 603 ms | 2.17x, ideal 2.17x`)
/// on the summary line that contains `label`.
fn measured_speedup(stdout: &str, label: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains(label) && l.contains("x, ideal "))
        .unwrap_or_else(|| panic!("no comparison line with {label:?}\n{stdout}"));
    line.rsplit(" | ")
        .next()
        .and_then(|figures| figures.split("x, ideal").next())
        .and_then(|x| x.trim().parse().ok())
        .unwrap_or_else(|| panic!("no speed-up on {line:?}"))
}
