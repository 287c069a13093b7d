use std::time::Duration;

use common::process::run_example;

/// The milliseconds printed after `label` ("... in a loop 361 ms ..." -> 361).
fn ms_after(line: &str, label: &str) -> u64 {
    let rest = line
        .split(label)
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    let number = rest.split_whitespace().next().expect("a number follows");
    number
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("{number:?} in {line:?}")) as u64
}

/// The summary line that contains `needle` (the log above it is not searched).
fn line_with<'a>(stdout: &'a str, needle: &str) -> &'a str {
    let summary = stdout.split("\nSummary\n").nth(1).unwrap_or_default();
    summary
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}:\n{stdout}"))
}

#[test]
fn antipatterns_17_threads_each_mistake_costs_what_it_should_and_each_fix_avoids_it() {
    let run = run_example(env!("CARGO_BIN_EXE_17_async_antipatterns_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "balance 60 and 60, both right",
            "one global order: 0 of 2 transfers timed out after 200 ms, 2 done",
            ": no deadlock",
            "(sum 360 ms vs max 120 ms)",
            "4. a thread per request: 300/300 served, at most ",
            "a pool of 10 workers: 300/300 served, at most 10 threads alive",
            "| joined writer: 10 of 10 saved",
        ]);
    // 1. Four receipts printed under one lock: at least their sum.
    let io = line_with(&run.stdout, "1. lock held during I/O");
    assert!(ms_after(io, "lock held during I/O ") >= 400, "{io}");
    assert!(ms_after(io, "I/O after unlocking ") < 400, "{io}");
    // 2. Opposite orders: at least one transfer saw the deadline fire.
    let deadlock = line_with(&run.stdout, "2. locks taken in opposite orders: ");
    let timed_out = ms_after(deadlock, "opposite orders: ");
    assert!((1..=2).contains(&timed_out), "{deadlock}");
    assert!(deadlock.contains(": DEADLOCK |"), "{deadlock}");
    // 3. Spawn+join in a loop: at least the sum.
    let loop_line = line_with(&run.stdout, "3. spawn+join in a loop");
    assert!(ms_after(loop_line, "in a loop ") >= 360, "{loop_line}");
    assert!(ms_after(loop_line, "then join ") < 360, "{loop_line}");
    // 4. Threads pile up far past the 10 that can work.
    let per_request = line_with(&run.stdout, "4. a thread per request");
    assert!(ms_after(per_request, "at most ") >= 40, "{per_request}");
    // 5. The spinner used CPU, the sleeper (almost) none.
    if cfg!(target_os = "linux") {
        let wait = line_with(&run.stdout, "5. busy-waiting");
        let (spinner, sleeper) = wait.split_once(" | Condvar ").expect("two halves");
        // On a loaded 2-core machine a spinner may get a fifth of a core: 40 ms of the 200, and it
        // was seen at 30; still two ticks or more. The sleeper gets at most the one tick of its wake.
        assert!(ms_after(spinner, "used ") >= 20, "{wait}");
        assert!(ms_after(sleeper, "used ") <= 10, "{wait}");
    }
    // 6. The detached writer was killed with work left: fewer than 10 records saved.
    let writer = line_with(&run.stdout, "6. detached writer: ");
    assert!(ms_after(writer, "detached writer: ") < 10, "{writer}");
    assert!(writer.contains("(killed mid-work)"), "{writer}");
    // Memory: the hundreds of waiting requests (16 KiB each, 4.7 MiB in all) are resident.
    if cfg!(target_os = "linux") {
        let piled = line_with(&run.stdout, "4. a thread per request");
        assert!(ms_after(piled, "resident memory +") >= 3, "{piled}");
    }
    // About 3 s alone (the recording shows it); wide, so that it catches a hang, not a busy machine.
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
}
