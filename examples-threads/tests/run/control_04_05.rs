//! How long a demo takes is not asserted here: on a busy machine that is a benchmark, not a test.
//! A demo that hangs is killed at `run_example`'s deadline and fails `assert_success`.

use common::process::{run_closing_stdout_after, run_example};

#[test]
fn pause_resume_threads_04_pauses_at_the_next_chunk_and_finishes_with_stdin_closed() {
    // No `--commands` and stdin closed (not a terminal): the built-in script runs.
    let run = run_example(env!("CARGO_BIN_EXE_04_pause_resume_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "commands from the script: pause@250ms,resume@850ms",
            // Which chunk: 1 of orders.csv when nothing is late; the worker and the controller are
            // two threads, so on a busy machine the pause may land a chunk earlier or later.
            "[worker] paused before chunk ",
            "[controller] command: pause",
            "Summary",
            "chunks processed: 15/15 (5 files x 3 chunks of 100 ms)",
            "pauses: 1, stood still ",
            "finished in ",
            "| ideal ",
        ]);
}

#[test]
fn pause_resume_threads_04_quit_ends_the_job_and_a_script_ending_paused_does_not_hang() {
    let run = run_example(
        env!("CARGO_BIN_EXE_04_pause_resume_threads"),
        &["--commands", "pause@250ms,resume@450ms,quit@650ms"],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&["quit at ", "after finishing the chunk in progress"]);

    // Upstream's C++ hangs here: the input ends while paused. The job resumes and finishes.
    let run = run_example(
        env!("CARGO_BIN_EXE_04_pause_resume_threads"),
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
}

#[test]
fn pause_resume_threads_04_a_malformed_script_is_a_one_line_error_with_status_2() {
    for bad in [
        "pause@soon",
        "jump@1s",
        "resume@900ms,pause@300ms",
        "pause",
        // Would overflow the clock when the step is due: refused where it is parsed.
        "pause@18446744073709551615s",
    ] {
        let run = run_example(
            env!("CARGO_BIN_EXE_04_pause_resume_threads"),
            &["--commands", bad],
        );
        run.assert_code(2)
            .assert_no_panic()
            .assert_stderr_contains(&["error: invalid value", "--commands"]);
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(bad), "the error names the value: {first}");
        assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
    }
}

#[test]
fn pause_resume_threads_04_a_closed_stdout_ends_it_quietly() {
    // `04 | head -1`: the reader goes away after the first line; the program stops at its next line.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_04_pause_resume_threads"));
    cmd.args(["--commands", "pause@100ms,resume@200ms"]);
    let run = run_closing_stdout_after(cmd, "commands from the script");
    run.assert_code(0).assert_no_panic();
    assert!(run.stderr.trim().is_empty(), "{run:?}");
}

#[test]
fn run_heavy_functions_threads_05_compares_thread_counts_with_equal_results() {
    let run = run_example(env!("CARGO_BIN_EXE_05_run_heavy_functions_threads"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "one call: ",
            "sequential, 1 thread: ",
            " threads (one per core): ",
            " threads (8 per core): ",
            "sequential ",
            "| one thread per core ",
            "(available_parallelism ",
            "| 8 threads per core ",
            "results equal: yes",
        ]);
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}\n{}", run.stdout))
    };
    // The figure just before `unit` on `line`: 2 from "..., 2 slice(s) at once, ...".
    let figure = |line: &str, unit: &str| -> f64 {
        let before = line
            .split(unit)
            .next()
            .unwrap_or_default()
            .trim_end()
            .rsplit([' ', '|'])
            .next()
            .unwrap_or_default();
        before
            .parse()
            .unwrap_or_else(|_| panic!("no figure before {unit:?} in {line:?}"))
    };
    // Measured parallelism, which holds however busy the machine is (the speedup does not): one
    // slice at a time on one thread, one per core side by side, and more than that when
    // oversubscribed. A `main` that ran everything on one thread shows 1.
    let per_core_line = line("sequential ");
    let cores = figure(per_core_line, ")");
    assert_eq!(
        figure(line("sequential, 1 thread: "), " slice(s) at once"),
        1.0
    );
    let per_core = run
        .stdout
        .lines()
        .find(|l| l.contains(" threads (one per core): ") && l.contains(" slice(s) at once"))
        .unwrap_or_default();
    assert_eq!(figure(per_core, " slice(s) at once"), cores, "{per_core}");
    let oversubscribed = run
        .stdout
        .lines()
        .find(|l| l.contains(" threads (8 per core): ") && l.contains(" slice(s) at once"))
        .unwrap_or_default();
    // More slices running at once than there are cores: the OS slices the cores among them. (Not
    // all 16 for certain: on a busy machine the first slice may end before the last thread starts.)
    assert!(
        figure(oversubscribed, " slice(s) at once") > cores,
        "{oversubscribed}"
    );
    // The verdict on more threads follows its figure: "gain nothing" only beside no gain. It is
    // logged above the summary, since its words depend on how busy the machine is.
    let gain = figure(line("one thread per core "), "x, ideal");
    let more = run
        .stdout
        .lines()
        .find(|l| l.contains("8 threads per core against one per core: "))
        .unwrap_or_else(|| panic!("no verdict on more threads\n{}", run.stdout));
    if gain > 1.15 {
        assert!(
            more.contains("faster") && !more.contains("gain nothing"),
            "{more}"
        );
    } else if gain >= 0.85 {
        assert!(
            more.ends_with("more threads than cores gain nothing: the cores were already busy"),
            "{more}"
        );
    } else {
        assert!(more.contains("slower"), "{more}");
    }
    // The work ran on named threads, and the heartbeat on main.
    for thread in ["[cruncher]", "[core-0]", "[thread-0]", "[main] heartbeat"] {
        assert!(
            run.stdout.contains(thread),
            "no line from {thread}\n{}",
            run.stdout
        );
    }
}

#[test]
fn run_heavy_functions_threads_05_help_names_the_example_and_bad_flags_exit_2() {
    let program = env!("CARGO_BIN_EXE_05_run_heavy_functions_threads");
    let help = run_example(program, &["--help"]);
    help.assert_success().assert_no_panic();
    assert!(help.stdout.starts_with("05 · "), "{}", help.stdout);
    assert!(help.stdout.contains("--call-ms"), "{}", help.stdout);
    for bad in [
        &["--bogus"][..],
        &["--call-ms", "0"],
        &["--call-ms", "soon"],
    ] {
        let run = run_example(program, bad);
        run.assert_code(2).assert_no_panic();
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "{bad:?}: one line: {}", run.stderr);
        assert!(lines[0].starts_with("error: "), "{bad:?}: {}", lines[0]);
        assert!(run.stdout.is_empty(), "the demo ran: {}", run.stdout);
    }
}
