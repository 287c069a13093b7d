use common::process::{run_closing_stdout_after, run_example};

#[test]
fn mutex_threads_10_shows_the_forced_lost_update_and_both_fixes() {
    let run = run_example(env!("CARGO_BIN_EXE_10_mutex_threads"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "no lock: 2 approved, 0 rejected, balance 20, dispensed 160: BUG, the books are off by 80",
        "std::sync::Mutex held to the write: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "std::sync::Mutex, reserve then dispense: 1 approved, 1 rejected, balance 20, dispensed 80: books balance",
        "the rejected customer waited ",
        // Each ATM is its own named thread.
        "[ATM-1]",
        "[ATM-2]",
    ]);
    // The measured waits, not only the ideals printed beside them: the customer rejected behind a
    // lock held across the dispense waits for the card check and the whole dispense (250 ms ideal,
    // never less); with a short reservation "no" comes after the card check, before the other
    // ATM could have finished dispensing (the bound leaves 200 ms for a busy machine).
    let held = ms_after(&run.stdout, "the rejected customer waited ");
    let reserved = ms_after(&run.stdout, "across the dispense (ideal 250 ms), ");
    assert!(
        (250.0..1250.0).contains(&held),
        "held {held} ms\n{}",
        run.stdout
    );
    assert!(
        (50.0..250.0).contains(&reserved),
        "reserved {reserved} ms\n{}",
        run.stdout
    );
}

#[test]
fn mutex_threads_10_ends_quietly_when_its_stdout_is_closed() {
    // `10_mutex | head -2` used to exit 1: a log line failed in an ATM task, which then came back
    // as an error.
    assert_quiet_on_a_closed_stdout(env!("CARGO_BIN_EXE_10_mutex_threads"));
}

#[test]
fn barrier_threads_11_keeps_the_phases_in_step() {
    let run = run_example(env!("CARGO_BIN_EXE_11_barrier_threads"), &[]);
    run.assert_success().assert_no_panic().assert_stdout_contains(&[
        "Summary",
        "phase 1: arrival order ",
        "phase 3: arrival order ",
        "checked: no worker started a phase before all 5 had finished the previous one; 1 leader per phase",
        "barrier run ",
        "(the slowest worker of each phase, summed)",
        "[worker-1]",
        "[worker-5]",
    ]);
    // After the last phase nobody "continues to phase 4" (upstream JS does).
    assert!(!run.stdout.contains("phase 4"), "{}", run.stdout);
    let leader_lines = run
        .stdout
        .lines()
        .filter(|l| l.contains(": leader of phase "))
        .count();
    assert_eq!(leader_lines, 3, "{}", run.stdout);
}

#[test]
fn barrier_threads_11_rejects_a_bad_seed() {
    run_example(env!("CARGO_BIN_EXE_11_barrier_threads"), &["--seed=-1"])
        .assert_code(2)
        .assert_stderr_contains(&["--seed"]);
}

#[test]
fn async_generator_threads_12_iterates_prefetches_adapts_and_reads_a_file() {
    let run = run_example(env!("CARGO_BIN_EXE_12_async_generator_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "collect all, then process: first user after ",
            "iterator: first user after ",
            "(ideal 150 ms: one page), all 8 after ",
            "iterator with prefetch ",
            "ideal 1.45x",
            "prefetch saved ",
            "(ideal 240 ms)",
            "adapters (x2, multiples of 4, take 5): [0, 4, 8, 12, 16] from 9 numbers produced",
            "file: 8 lines read back with std::fs, temporary file removed",
            // The prefetching is done by its own thread.
            "[page-fetcher]",
        ]);
    // The measured figures, not only the ideals beside them. Streaming hands over the first user
    // after one page (ideal 150 ms), collecting first after all three (450 ms); prefetching hides
    // the fetch of pages 2 and 3 (ideal saving 240 ms). A `main` that collected first, or fetched
    // without prefetching, fails here; the bounds leave room for a busy machine.
    let collected_first = ms_after(&run.stdout, "collect all, then process: first user after ");
    let first = ms_after(&run.stdout, "iterator: first user after ");
    assert!(
        first < 400.0 && first + 100.0 < collected_first,
        "first user after {first} ms, collecting first {collected_first} ms\n{}",
        run.stdout
    );
    let saved = ms_after(&run.stdout, "prefetch saved ");
    assert!(
        saved >= 80.0,
        "prefetch saved only {saved} ms\n{}",
        run.stdout
    );
}

#[test]
fn async_generator_threads_12_ends_quietly_when_its_stdout_is_closed() {
    assert_quiet_on_a_closed_stdout(env!("CARGO_BIN_EXE_12_async_generator_threads"));
}

/// The duration printed right after `marker` in `text` ("waited 251 ms": `marker` = "waited "), in
/// milliseconds. Panics with the whole text if it is not there: the figure is what the test checks.
fn ms_after(text: &str, marker: &str) -> f64 {
    let rest = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in\n{text}"))
        .1;
    let mut words = rest.split_whitespace();
    let number: f64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {marker:?} in\n{text}"));
    match words.next() {
        Some("ms") => number,
        Some("s") => number * 1000.0,
        unit => panic!("unit {unit:?} after {marker:?} in\n{text}"),
    }
}

/// Runs `program`, closes its stdout after the first line (as `| head -1` does) and checks that it
/// ends quietly: status 0, no panic, nothing on stderr.
fn assert_quiet_on_a_closed_stdout(program: &str) {
    let run = run_closing_stdout_after(std::process::Command::new(program), "INFO");
    run.assert_code(0).assert_no_panic();
    assert!(run.stderr.trim().is_empty(), "{run:?}");
}
