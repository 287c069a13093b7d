use std::time::Duration;

use common::process::run_example;

/// The figure after `label` up to " ms", e.g. `latency to stop 855 ms` -> 855.
fn ms_after(line: &str, label: &str) -> f64 {
    let rest = line
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("{label:?} in {line:?}"));
    rest.split(" ms")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a number of ms after {label:?} in {line:?}"))
}

fn summary_line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no summary line starting {start:?}\n{stdout}"))
}

#[test]
fn cancellation_16_threads_stops_only_where_the_thread_looks() {
    let run = run_example(env!("CARGO_BIN_EXE_16_cancellation_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "channel already closed: cancelled after",
            "the work done then: no",
            "(a timeout is not a cancellation)",
            "the call returned (status 200)",
            "3/3 waiting workers stopped at",
            "3/3 stepping workers at",
            "guards dropped 6 of 6 (none leaked)",
            "guards held until the stop ",
            "a thread stops where it looks: ",
        ]);
    // Measured: the channel wait ends at the cancel, long before its 2000 ms.
    let sleep = summary_line(&run.stdout, "1. sleep 2000 ms");
    let after = ms_after(sleep, "cancelled after");
    assert!((200.0..1500.0).contains(&after), "{sleep}");
    // The blocking call could not stop before the server answered at 1000 ms: 850 ms late at least.
    let request = summary_line(&run.stdout, "3. blocking GET /delay/1000");
    let latency = ms_after(request, "latency to stop");
    assert!(latency >= 850.0, "{request}");
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
}
