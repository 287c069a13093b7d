use std::time::Duration;

use common::process::run_example;

/// The `polls/wakes` of one summary line, e.g. `main 3/2` -> (3, 2).
fn counts(line: &str, task: &str) -> (u32, u32) {
    let after = line
        .split(&format!("{task} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {task} in {line:?}"));
    let figure: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '/')
        .collect();
    let (polls, wakes) = figure.split_once('/').expect("polls/wakes");
    (
        polls.parse().expect("a number"),
        wakes.parse().expect("a number"),
    )
}

/// The milliseconds after `label ` in `line`, e.g. `total 304 ms` -> 304.
fn millis_after(line: &str, label: &str) -> u64 {
    let after = line
        .split(&format!("{label} "))
        .nth(1)
        .unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    let number = after.split(' ').next().expect("a figure");
    number.parse::<f64>().expect("a number") as u64
}

#[test]
fn event_loop_18_polls_once_more_than_it_wakes_and_takes_the_longest_chain() {
    let run = run_example(env!("CARGO_BIN_EXE_18_event_loop"), &[]);
    run.assert_success()
        .assert_no_panic()
        .assert_stdout_contains(&[
            "Summary (polls/wakes per task; ideal: polls = wakes + 1)",
            "polls = wakes + 1 for every task: yes",
            "(ideal 300 ms, the longest chain; in sequence 500 ms)",
            "same events at the same instants: yes",
            "Handle::try_current() is an error: yes",
            "a task spawned in block_on call 1 finished in call 2 (the runtime outlived the call: yes)",
            "order on current_thread: A1 A2 B1 B2 A3 (expected A1 A2 B1 B2 A3",
            "yielded after 128 receives (tokio's budget 128): yes",
        ]);
    // The printed trace shows the loop's three kinds of step.
    for step in [
        "poll   task 3 (recommendations)",
        "wake   task 2 (orders)",
        "idle   nothing ready",
    ] {
        assert!(run.stdout.contains(step), "{step}\n{}", run.stdout);
    }
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", run.stdout))
            .to_string()
    };
    // The measured counts, read back from the summary: every task polled once more than woken.
    let tiny = line("tiny executor: main");
    for task in ["main", "profile", "orders", "recommendations"] {
        let (polls, wakes) = counts(&tiny, task);
        assert_eq!(polls, wakes + 1, "{task}: {tiny}");
    }
    assert_eq!(counts(&tiny, "recommendations"), (3, 2), "{tiny}");
    // The total is the longest chain (300 ms), under the sum (500 ms), on the real clock: the
    // 200 ms between them are the slack a busy machine may take (exactly 300 on the fake clock).
    let total_line = line("tiny executor: total");
    let total = millis_after(&total_line, "total");
    assert!((300..500).contains(&total), "{total} ms");
    // It idles (sleeps until the next timer) once per timer, 3 times, not in a busy loop; a very
    // slow machine may find a timer already due and skip an idle.
    let idles = millis_after(&total_line, "idle");
    assert!((1..=3).contains(&idles), "{total_line}");
    assert!(millis_after(&total_line, "times,") >= 200, "{total_line}");
    // tokio's current_thread polls as the tiny executor does; LocalSet polls its root unprompted.
    let single = line("tokio current_thread:");
    assert!(
        single.contains("same counts as the tiny executor"),
        "{single}"
    );
    assert!(
        (300..500).contains(&millis_after(&single, "total")),
        "{single}"
    );
    assert!(line("tokio LocalSet:").contains("polls without a wake"));
    // About 2 s alone (the recording shows it); wide, so that it catches a hang, not a busy machine.
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
}
