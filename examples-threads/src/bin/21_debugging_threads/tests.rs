//! Real threads, real clock: the deadlock is real and the detector must find it; bounds are loose
//! enough for a busy 2-core machine. A test that deadlocks leaves its two threads stuck in the test
//! process; `run_transfers` only counts cycles of its own threads, so other tests are unaffected.
use super::*;
use crate::deadlock::*;
use crate::panics::*;
use crate::report::*;
use clap::Parser;
use std::sync::Mutex as StdMutex;

/// `check_deadlock` hands each cycle to the first caller: two detectors running at once (two
/// tests) could take each other's. The tests that run one take turns.
static ONE_DETECTOR: StdMutex<()> = StdMutex::new(());

fn one_detector() -> std::sync::MutexGuard<'static, ()> {
    ONE_DETECTOR.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_named_thread_s_panic_is_reported_with_its_name_and_backtrace() {
    install_panic_hook();
    let handle = thread::Builder::new()
        .name("fetch-test".into())
        .spawn(|| parse_order_count("ok"))
        .expect("a thread");
    assert!(handle.join().is_err(), "it panicked");
    let report = take_panic_report("fetch-test").expect("the hook kept a report");
    assert_eq!(report.thread, "fetch-test");
    assert!(
        report.message.contains("answers with a count"),
        "{report:?}"
    );
    assert!(
        report.location.contains("21_debugging_threads/main.rs"),
        "{report:?}"
    );
    assert_eq!(
        report.ours.first().map(String::as_str),
        Some("parse_order_count"),
        "{report:?}"
    );
    assert!(report.frames > 3, "{report:?}");
}

#[test]
fn the_scenario_names_the_thread_that_panicked_and_the_others_answer() {
    install_panic_hook();
    let server = TestServer::start().expect("a test server");
    let outcomes = run_requests(&server).expect("threads start");
    let names: Vec<&str> = outcomes.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["fetch-users", "fetch-orders", "fetch-report"]);
    assert!(matches!(outcomes[0].1, Outcome::Answered), "{outcomes:?}");
    assert!(matches!(outcomes[2].1, Outcome::Answered), "{outcomes:?}");
    let Outcome::Panicked(report) = &outcomes[1].1 else {
        panic!("fetch-orders should have panicked: {outcomes:?}");
    };
    assert_eq!(report.thread, "fetch-orders");
    assert_eq!(report.ours, ["parse_order_count", "fetch"], "{report:?}");
}

#[test]
fn opposite_lock_orders_deadlock_and_the_detector_names_both_threads() {
    let _turn = one_detector();
    let run =
        run_transfers(LockOrder::SourceFirst).expect("the run ends: finished or found deadlocked");
    let (threads, found, _took) = run.deadlock.expect("a deadlock was found, not waited for");
    assert_eq!(threads, ["transfer-to-checking", "transfer-to-savings"]);
    assert_eq!(run.stuck_in, ["transfer"], "{:?}", run.stuck_in);
    // Ideal: by 70 ms. A busy machine may delay the threads and the checks, not prevent them.
    assert!(found < Duration::from_secs(3), "found after {found:?}");
    assert!(run.balances.is_none());
}

#[test]
fn one_global_lock_order_never_deadlocks_and_the_money_adds_up() {
    let _turn = one_detector();
    for _ in 0..3 {
        let run =
            run_transfers(LockOrder::Global).expect("the run ends: finished or found deadlocked");
        assert!(run.deadlock.is_none(), "{run:?}");
        assert_eq!(
            run.balances,
            Some((120, 80)),
            "100 - 30 + 50 and 100 + 30 - 50"
        );
    }
}

#[test]
fn backtraces_are_read_from_either_kind_of_frame() {
    let backtrace = "   0: std::panicking::begin_panic\n\
                     \x20  9: _21_debugging_threads::parse_order_count\n\
                     \x20            at ./src/bin/21_debugging_threads/main.rs:89:10\n\
                     \x20 10: fetch\n\
                     \x20 11: _21_debugging_threads::deadlock::transfer\n\
                     \x20 11: _21_debugging_threads::run_requests::{{closure}}\n";
    assert_eq!(
        our_functions(backtrace),
        ["parse_order_count", "fetch", "transfer"]
    );
    assert_eq!(frame_count(backtrace), 5);
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["21", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("21 · Debugging"), "{help}");
    let bad = Args::try_parse_from(["21", "--deadlock"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
