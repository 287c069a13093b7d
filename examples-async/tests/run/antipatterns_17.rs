use std::time::Duration;

use common::process::run_example;

/// The milliseconds printed after `label` ("... heartbeat longest gap 312 ms ..." -> 312).
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
fn async_antipatterns_17_each_mistake_costs_what_it_should_and_each_fix_avoids_it() {
    let run = run_example(env!("CARGO_BIN_EXE_17_async_antipatterns"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "1. std::thread::sleep in an async fn: heartbeat longest gap ",
            "ATM-2 gave up after ",
            "(deadline 300 ms): DEADLOCK",
            "fix, tokio::sync::Mutex: ATM-2 got the lock after ",
            "(sum 360 ms vs max 120 ms)",
            "4. never awaited: 0 of 4 operations ran, 0 failures seen (of 0 raised) | awaited: 4 of 4 \
             operations ran, 1 failure seen (of 1 raised): op 2: quote service unavailable",
            "5. unbounded spawn: 300/300 served, at most 300 tasks alive, 4800 KiB of requests held",
            "bounded (Semaphore, 20 in flight): 300/300 served, at most 20 tasks alive, 320 KiB of requests held",
            "6. forgotten JoinHandles: 2 tasks started, 0 of 2 failures learnt of (the panic hook saw 1 panic) \
             | awaited: 2 of 2 failures learnt of",
        ]);
    // Blocking the only thread for 300 ms: no tick can come in those 300 ms, on any machine. The
    // fixes keep the gaps well under that even on a loaded one.
    for bad in [
        "std::thread::sleep in an async fn",
        "CPU loop in an async fn",
    ] {
        let gap = ms_after(line_with(&run.stdout, bad), "longest gap ");
        assert!(gap >= 300, "{bad}: {gap} ms\n{}", run.stdout);
        assert!(line_with(&run.stdout, bad).ends_with(": froze"));
    }
    for good in ["fix, tokio::time::sleep", "fix, spawn_blocking"] {
        let gap = ms_after(line_with(&run.stdout, good), "longest gap ");
        assert!(gap < 300, "{good}: {gap} ms\n{}", run.stdout);
        assert!(line_with(&run.stdout, good).ends_with(": kept time"));
    }
    // The deadlock: ATM-1 needed 50 ms and could only let go once ATM-2 gave the thread back.
    let held = ms_after(
        line_with(&run.stdout, "ATM-1 held the lock"),
        "held the lock ",
    );
    assert!(held >= 300, "{held} ms\n{}", run.stdout);
    // Sum vs max, on the real clock: the loop takes at least the sum, join_all far less.
    let loop_line = line_with(&run.stdout, "3. await in a loop");
    let one_by_one = ms_after(loop_line, "await in a loop ");
    let together = ms_after(loop_line, "join_all ");
    assert!(one_by_one >= 360 && together >= 120, "{loop_line}");
    assert!(together < one_by_one, "{loop_line}");
    // The panic surfaced only as the hook's one-line log, never Rust's default message.
    assert!(run.stdout.contains("panic hook: a task panic, charts.pdf"));
    // Memory: the hundreds of waiting requests (16 KiB each, 4.7 MiB in all) are resident.
    if cfg!(target_os = "linux") {
        let piled = line_with(&run.stdout, "5. unbounded spawn");
        assert!(ms_after(piled, "resident memory +") >= 3, "{piled}");
    }
    // About 3 s alone (the recording shows it); the bound is wide so that a busy machine does not
    // fail it: it catches a run that hangs, not one that is slow.
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
}
