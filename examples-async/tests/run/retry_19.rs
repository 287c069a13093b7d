use std::time::Duration;

use common::process::run_example;

const BIN: &str = env!("CARGO_BIN_EXE_19_retry_backoff");

/// The first number (milliseconds) after `prefix` on the first line that contains it.
fn ms_after(stdout: &str, prefix: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.contains(prefix))
        .unwrap_or_else(|| panic!("no line with {prefix:?}\n{stdout}"));
    let rest = &line[line.find(prefix).expect("found") + prefix.len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
}

#[test]
fn retry_backoff_19_retries_with_the_seeded_waits_keeps_the_deadline_and_probes_once() {
    let run = run_example(BIN, &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "retry (full jitter, seed 7): success on attempt 4 of 5",
            // Seeded: the same waits on every run, each within its full-jitter range.
            "waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms, 11 ms of 0..=80 ms",
            "(deadline 1000 ms, kept, ",
            "404: gave up after 1 attempt(s) (not retryable); the error keeps its cause: \
             GET /status/404: gave up (not retryable): attempt 1 of 5: HTTP 404",
            "half-open burst of 5: 1 probe(s) admitted, 4 failed fast (ideal 1 probe)",
            "10 calls, 5 sent to the service, 5 failed fast without being sent",
            "backon (its jitter, seed 7): success on attempt 4 of 5",
            // backon's jitter is seeded too (fastrand): its waits lie in [d, 2d), not [0, d].
            "waits: 35 ms of 20..40 ms, 49 ms of 40..80 ms, 137 ms of 80..160 ms",
        ]);
    assert!(!run.stdout.contains("OUTSIDE"), "{}", run.stdout);
    // The measured total of the first retry covers its waits (23 ms) and stays far below 1 s.
    let total = ms_after(&run.stdout, "    total ");
    assert!((23.0..1000.0).contains(&total), "{total}\n{}", run.stdout);
    // The deadline demo: stopped before a wait that would cross 150 ms, or (on a busy machine)
    // cut at the deadline itself, late only by the timer's wake-up.
    let line = run
        .stdout
        .lines()
        .skip_while(|l| !l.contains("  deadline: gave up"))
        .nth(1)
        .expect("the deadline demo's total");
    assert!(line.contains("(deadline 150 ms, kept, "), "{line}");
    let late = ms_after(line, "total ");
    // At least one 40 ms attempt; past 150 ms only by a late wake-up (wide: a busy machine).
    assert!((40.0..1500.0).contains(&late), "{line}");
    // The breaker went closed -> open -> half-open -> closed, and stayed open the recovery time.
    let breaker = run
        .stdout
        .lines()
        .find(|l| l.contains("  breaker: "))
        .expect("the breaker's path");
    assert!(
        breaker.contains("Closed at 0.00 ms -> Open at ")
            && breaker.contains(" -> HalfOpen at ")
            && breaker.contains(" -> Closed at "),
        "{breaker}"
    );
    let open_for = ms_after(&run.stdout, "open for ");
    assert!(open_for >= 300.0, "{open_for}\n{}", run.stdout);
    assert!(run.stdout.contains("(recovery 300 ms, no probe before it)"));
    // A hang guard, not a timing claim (the run takes about 1 s; a busy machine may stretch it).
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn retry_backoff_19_keeps_the_cause_when_the_attempts_run_out_and_refuses_bad_flags() {
    let run = run_example(BIN, &["--fail-first", "5", "--seed", "7"]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "retry (full jitter, seed 7): failed after 5 attempt(s): GET /flaky/retry: gave up \
         (attempts used up): attempt 5 of 5: HTTP 503",
            "waits: 0 ms of 0..=20 ms, 12 ms of 0..=40 ms, 11 ms of 0..=80 ms, 87 ms of 0..=160 ms",
        ]);
    let bad = run_example(BIN, &["--fail-first", "101"]);
    bad.assert_code(2)
        .assert_no_panic()
        .assert_stderr_contains(&["--fail-first"]);
}
