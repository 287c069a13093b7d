use std::time::Duration;

use common::process::run_example;

/// The milliseconds after `label ` in `line`, e.g. `page in 301 ms` -> 301.
fn millis_after(line: &str, label: &str) -> u64 {
    let after = line
        .split(&format!("{label} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    let number = after.split(' ').next().expect("a figure");
    number.parse::<f64>().expect("a number") as u64
}

#[test]
fn event_loop_threads_18_runs_every_job_once_contains_the_panic_and_needs_a_worker_per_wait() {
    let run = run_example(env!("CARGO_BIN_EXE_18_event_loop_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "3 workers: 4 jobs submitted, 4 runs, each job once: yes (3 finished, 1 ended in a panic, contained); workers joined at shutdown 3/3",
            "2 workers: 4 jobs submitted, 4 runs, each job once: yes (3 finished, 1 ended in a panic, contained); workers joined at shutdown 2/2",
            "(ideal 300 ms; the event loop's one thread: 300 ms)",
            "(ideal 500 ms; the event loop's one thread: 300 ms)",
            "page: profile + recommendations for orders",
        ]);
    // The panic is logged as an error line, and the worker that ran it goes on.
    assert!(
        run.stdout
            .contains("failed job broken (the recommendation cache is corrupt): contained")
    );
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", run.stdout))
            .to_string()
    };
    // Measured: 3 workers take the longest chain, 2 workers the sum (bounds for a busy machine).
    let three = millis_after(&line("3 workers: page in"), "page in");
    let two = millis_after(&line("2 workers: page in"), "page in");
    assert!((300..600).contains(&three), "{three} ms");
    assert!((500..900).contains(&two), "{two} ms");
    // With 2 workers, recommendations held its worker while profile and orders ran (300 ms, less
    // the moment between profile's start and its own).
    let held = millis_after(&line("2 workers: page in"), "held its worker");
    assert!(held >= 250, "{held} ms");
    // About 1 s alone (the recording shows it); wide, so that it catches a hang, not a busy machine.
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
}
