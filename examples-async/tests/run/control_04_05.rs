//! How long a demo takes is not asserted here: on a busy machine that is a benchmark, not a test.
//! A demo that hangs is killed at `run_example`'s deadline and fails `assert_success`.

use common::process::{run_closing_stdout_after, run_example};

#[test]
fn pause_resume_04_pauses_at_the_next_chunk_and_finishes_with_stdin_closed() {
    // No `--commands` and stdin closed (not a terminal): the built-in script runs.
    let run = run_example(env!("CARGO_BIN_EXE_04_pause_resume"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "commands from the script: pause@250ms,resume@850ms",
            // Which chunk: 1 of orders.csv when nothing is late; the job and the script are two
            // tasks, so on a busy machine the pause may land a chunk earlier or later (the unit
            // tests check the exact schedule on the paused clock).
            "paused before chunk ",
            "Summary",
            "chunks processed: 15/15 (5 files x 3 chunks of 100 ms)",
            "pauses: 1, stood still ",
            "finished in ",
            "| ideal ",
        ]);
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
}

#[test]
fn run_heavy_functions_05_freezes_inline_and_keeps_time_off_the_runtime_thread() {
    let run = run_example(env!("CARGO_BIN_EXE_05_run_heavy_functions"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary",
            "one call: ",
            "inline on the runtime thread: ",
            "spawn_blocking, one call at a time: ",
            "rayon on all cores: ",
            "spawn_blocking one by one ",
            "| rayon ",
            "(available_parallelism ",
            "results equal: yes",
        ]);
    let line = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}\n{}", run.stdout))
    };
    // The figure just before `unit` on `line`: 2 from "..., 2 call(s) at once, ...".
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
    let inline = line("inline on the runtime thread: ");
    let blocking = line("spawn_blocking, one call at a time: ");
    let rayon = line("rayon on all cores: ");
    // The freeze is certain (the whole job blocks the only thread) and measured: the inline gap is
    // longer than the whole spawn_blocking gap; "kept time" for the other two depends on how busy
    // the machine is, and the unit tests check it with their bounds.
    // The verdicts are logged above the summary, which counts them.
    assert!(
        run.stdout
            .contains("inline on the runtime thread: the heartbeat froze ("),
        "{}",
        run.stdout
    );
    let froze = line("the heartbeat froze in ");
    assert!(figure(froze, " of ") >= 1.0, "{froze}");
    let gap = |l: &str| figure(l.split("longest gap ").nth(1).unwrap_or_default(), " ms");
    assert!(gap(inline) > gap(blocking), "{inline}\n{blocking}");
    // Measured parallelism, which holds however busy the machine is (the speedup does not):
    // rayon ran its calls side by side on every core, the other ways one at a time. A `main`
    // that ran the calls in turn shows 1 everywhere.
    let cores = figure(line("spawn_blocking one by one "), ")");
    assert_eq!(figure(inline, " call(s) at once"), 1.0, "{inline}");
    assert_eq!(figure(blocking, " call(s) at once"), 1.0, "{blocking}");
    assert_eq!(
        figure(rayon, " call(s) at once"),
        cores.min(4.0),
        "{rayon}\n{}",
        run.stdout
    );
    // The speedup's verdict follows its figure. It is logged above the summary, since its words
    // depend on how busy the machine is (the summary's words stay the same from run to run).
    let comparison = line("spawn_blocking one by one ");
    let speedup = figure(comparison, "x, ideal");
    let ideal = figure(
        comparison.split("x, ideal ").nth(1).unwrap_or_default(),
        "x",
    );
    let verdict = run
        .stdout
        .lines()
        .find(|l| l.contains("rayon against spawn_blocking one by one: "))
        .unwrap_or_else(|| panic!("no speedup verdict\n{}", run.stdout));
    if ideal >= 1.5 && speedup >= 0.8 * ideal {
        assert!(
            verdict.ends_with("near the ideal: every core worked"),
            "{comparison}\n{verdict}"
        );
    } else if ideal >= 1.5 {
        assert!(
            !verdict.contains("near the ideal"),
            "{comparison}\n{verdict}"
        );
    }
    // Every call ran on the thread its way promises: inline on `main` (only there), spawn_blocking
    // on the blocking pool, rayon on its own threads.
    assert_eq!(
        run.stdout.matches("[main] call 1/4: start").count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[tokio-rt-worker] call 1/4: start"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[rayon-"), "{}", run.stdout);
}

#[test]
fn run_heavy_functions_05_help_names_the_example_and_bad_flags_exit_2() {
    let program = env!("CARGO_BIN_EXE_05_run_heavy_functions");
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
