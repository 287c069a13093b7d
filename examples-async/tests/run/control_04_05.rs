use std::time::Duration;

use common::process::{run_closing_stdout_after, run_example};

#[test]
fn pause_resume_04_pauses_at_the_next_chunk_and_finishes_with_stdin_closed() {
    // No `--commands` and stdin closed (not a terminal): the built-in script runs.
    let run = run_example(env!("CARGO_BIN_EXE_04_pause_resume"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "commands from the script: pause@250ms,resume@850ms",
            "paused before chunk 1 of orders.csv",
            "Summary",
            "chunks processed: 15/15 (5 files x 3 chunks of 100 ms)",
            "pauses: 1, stood still ",
            "finished in ",
            "| ideal ",
        ]);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn pause_resume_04_quit_ends_the_job_and_a_script_ending_paused_does_not_hang() {
    let run = run_example(
        env!("CARGO_BIN_EXE_04_pause_resume"),
        &["--commands", "pause@250ms,resume@450ms,quit@650ms"],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&["quit at ", "stopped during chunk "]);

    // Upstream's C++ hangs here: the input ends while paused. The job resumes and finishes.
    let run = run_example(
        env!("CARGO_BIN_EXE_04_pause_resume"),
        &["--commands", "pause@150ms"],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&["end of input while paused", "chunks processed: 15/15"]);
    // The job goes on because the controller resumed it, not because the controller went away.
    let after_end = run
        .stdout
        .split("end of input while paused")
        .nth(1)
        .unwrap_or_default();
    assert!(after_end.contains("command: resume"), "{}", run.stdout);
    assert!(!run.stdout.contains("controller is gone"), "{}", run.stdout);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn pause_resume_04_a_malformed_script_is_a_one_line_error_with_status_2() {
    for bad in [
        "pause@soon",
        "jump@1s",
        "resume@900ms,pause@300ms",
        "pause",
        // Would overflow the clock when the step is due: refused where it is parsed.
        "pause@18446744073709551615s",
    ] {
        let run = run_example(env!("CARGO_BIN_EXE_04_pause_resume"), &["--commands", bad]);
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains(&["error: invalid value", "--commands"]);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(bad), "the error names the value: {first}");
        assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
    }
}

#[test]
fn pause_resume_04_a_closed_stdout_ends_it_quietly() {
    // `04 | head -1`: the reader goes away after the first line; the program stops at its next line.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_04_pause_resume"));
    cmd.args(["--commands", "pause@100ms,resume@200ms"]);
    let run = run_closing_stdout_after(cmd, "commands from the script");
    run.assert_code(0).assert_no_panic();
    assert!(run.stderr.trim().is_empty(), "{run:?}");
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn run_heavy_functions_05_freezes_inline_and_keeps_time_off_the_runtime_thread() {
    let run = run_example(env!("CARGO_BIN_EXE_05_run_heavy_functions"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "inline on the runtime thread: ",
            "spawn_blocking, one call at a time: ",
            "rayon on all cores: ",
            "spawn_blocking one by one ",
            "| rayon ",
            "(available_parallelism ",
            "results equal: yes",
        ]);
    // The freeze is certain (the whole job blocks the only thread); "kept time" for the other two
    // depends on how busy the machine is, and the unit tests check it with their bounds.
    let inline = run
        .stdout
        .lines()
        .find(|l| l.contains("inline on the runtime thread: "))
        .unwrap_or_default();
    assert!(inline.ends_with("froze"), "{inline}");
    // Every call ran on the thread its way promises: inline on `main`, the others elsewhere.
    assert!(
        run.stdout.contains("[main] call 1/4: start"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[rayon-"), "{}", run.stdout);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
