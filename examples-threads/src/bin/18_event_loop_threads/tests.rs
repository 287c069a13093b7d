//! The dashboard on real threads: lower bounds exact, upper bounds generous for a busy machine.
use super::*;
use std::sync::mpsc;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Fails instead of hanging if `f` takes longer than `deadline` (a lost wake-up hangs a pool).
fn within<T: Send + 'static>(deadline: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(deadline)
        .expect("finished in time (a hang here means a worker missed a wake-up)")
}

#[test]
fn with_a_worker_per_job_the_page_takes_the_longest_chain() {
    let run = within(Duration::from_secs(20), || run_dashboard(3)).expect("runs");
    assert_eq!(run.page, "profile + recommendations for orders");
    assert_eq!(run.report.records.len(), 4);
    assert_eq!(run.report.panicked(), 1);
    assert_eq!(run.report.workers_joined, 3);
    let ideal = ideal_total(3).expect("it finishes");
    assert_eq!(ideal, ms(300));
    assert!(run.total >= ideal, "{run:?}");
    // Below the 500 ms of two workers (the lesson), with 200 ms to spare for a loaded machine.
    assert!(run.total < ideal_total(2).expect("it finishes"), "{run:?}");
    // Blocked while orders ran (100 ms, less the moment between the two jobs' starts).
    assert!(run.recommendations_blocked >= ORDERS / 2, "{run:?}");
}

#[test]
fn one_worker_fewer_and_the_waiting_job_holds_a_worker_so_the_page_takes_the_sum() {
    let run = within(Duration::from_secs(20), || run_dashboard(2)).expect("runs");
    let ideal = ideal_total(2).expect("it finishes");
    assert_eq!(ideal, ms(500));
    assert!(run.total >= ideal, "{run:?}");
    assert!(run.total < ideal + ms(400), "{run:?}");
    // Blocked until orders ran, after profile: about the whole of profile and orders (less the
    // moment between profile's start and its own), far more than with 3 workers.
    assert!(
        run.recommendations_blocked >= PROFILE + ORDERS / 2,
        "{run:?}"
    );
    // Each job ran once, in one piece, on one worker.
    assert!(run.report.each_once(&JOBS), "{run:?}");
    assert!(!run.report.each_once(&["profile", "orders"]));
    assert_eq!(ideal_total(1), None);
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["18", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(
        help.to_string().starts_with("18 · The event loop"),
        "{help}"
    );
    let bad = Args::try_parse_from(["18", "--workers", "4"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
