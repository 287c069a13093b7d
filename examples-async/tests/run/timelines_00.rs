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
    // The lanes: I and III on one thread (`main`), II on one thread per job.
    for lane in ["main |", "job-A |", "job-B |", "job-C |"] {
        assert!(run.stdout.contains(lane), "no lane {lane:?}{}", run.stdout);
    }
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

#[test]
fn async_vs_threads_00_rejects_a_bad_flag() {
    let run = run_example(env!("CARGO_BIN_EXE_00_async_vs_threads"), &["--slots"]);
    run.assert_code(2).assert_stderr_contains(&["--slots"]);
}
