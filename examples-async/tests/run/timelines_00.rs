use std::time::Duration;

use common::process::run_example;

#[test]
fn async_vs_threads_00_draws_four_timelines_and_writes_a_trace() {
    let trace = std::env::temp_dir().join(format!("timelines-00-{}.json", std::process::id()));
    let trace_arg = trace.to_str().expect("a UTF-8 temp path");
    let run = run_example(
        env!("CARGO_BIN_EXE_00_async_vs_threads"),
        &["--trace-json", trace_arg],
    );
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "I. sequential, one thread: ",
            "II. one OS thread per job: ",
            "III. async, current_thread runtime: ",
            "IV. async, multi-thread runtime, ",
            "scale: 1 slot = 10 ms",
            "Summary",
            "I. sequential took ",
            "(ideal: the sum of every burst and wait, 600 ms)",
            "| threads ",
            "ideal 2.73x",
            "| async 1 thread ",
            "ideal 2.22x",
            "threads used: I 1, II 3, III 1, IV ",
        ]);
    // The lanes of each way, read from its own block (a block is its title, the scale and one lane
    // per thread, up to the next blank line): I and III on the one thread that calls them
    // (`main`), II on one thread per job, IV on the runtime's workers only.
    assert_eq!(lanes(&run.stdout, "I. sequential, one thread: "), ["main"]);
    assert_eq!(
        lanes(&run.stdout, "II. one OS thread per job: "),
        ["job-A", "job-B", "job-C"]
    );
    assert_eq!(
        lanes(&run.stdout, "III. async, current_thread runtime: "),
        ["main"]
    );
    let four = lanes(&run.stdout, "IV. async, multi-thread runtime, ");
    assert!(
        !four.is_empty() && four.iter().all(|t| t.starts_with("worker-")),
        "{four:?}\n{}",
        run.stdout
    );
    let json = std::fs::read_to_string(&trace).expect("--trace-json wrote the file");
    let _ = std::fs::remove_file(&trace);
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let events = value["traceEvents"]
        .as_array()
        .expect("a trace-event array");
    // Three jobs of three bursts: at least 9 complete events per way, 36 in all (II and I add waits).
    assert!(events.iter().filter(|e| e["ph"] == "X").count() >= 36);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}

/// The thread names of the lanes drawn under the title that starts with `title`.
fn lanes(stdout: &str, title: &str) -> Vec<String> {
    let block: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with(title))
        .take_while(|l| !l.trim().is_empty())
        .collect();
    assert!(!block.is_empty(), "no block {title:?}\n{stdout}");
    block
        .iter()
        .filter(|l| l.ends_with('|'))
        .filter_map(|l| l.split(" |").next())
        .map(|name| name.trim().to_string())
        .collect()
}

#[test]
fn async_vs_threads_00_rejects_a_bad_flag() {
    let run = run_example(env!("CARGO_BIN_EXE_00_async_vs_threads"), &["--slots"]);
    run.assert_code(2).assert_stderr_contains(&["--slots"]);
    // `--help` says what the example demonstrates, under its number.
    let help = run_example(env!("CARGO_BIN_EXE_00_async_vs_threads"), &["--help"]);
    help.assert_success().assert_no_panic();
    assert!(help.stdout.starts_with("00 · "), "{}", help.stdout);
}
