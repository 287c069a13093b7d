//! Real threads, real clock: lower bounds are exact (nothing can stop before it is asked, or a
//! blocking call before it returns), upper bounds generous enough for a loaded 2-core machine.
use super::*;
use crate::group::*;
use crate::request::*;
use crate::timeout_is_not_cancel::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `f` on its own thread and fails if it has not finished within 30 s: a worker that never
/// sees its cancel would otherwise hang the test run.
fn within_30_s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("finished in time (a hang here means a cancel was not seen)")
}

#[test]
fn a_channel_wait_stops_when_the_cancel_arrives_not_at_its_end() {
    let r = within_30_s(demo_abort_a_sleep).expect("threads start");
    assert_eq!(r.ended, Ended::Cancelled);
    assert!(r.after >= USER_ABORT, "{r:?}");
    assert!(r.after < ms(1500), "slept on: {r:?}");
    assert_eq!(r.pre_cancelled, Ended::Cancelled);
    assert!(r.pre_cancelled_after < ms(500), "{r:?}");
    // And an uncancelled wait runs to its end.
    let (_keep, rx) = mpsc::channel();
    assert_eq!(abortable_sleep(ms(30), &rx), Ended::Finished);
}

#[test]
fn a_timeout_stops_the_wait_and_the_worker_runs_on() {
    let r = demo_timeout_is_not_cancellation().expect("threads start");
    assert!(r.gave_up, "{r:?}");
    assert!(r.gave_up_after >= WAIT_LIMIT, "{r:?}");
    assert!(!r.done_at_give_up, "{r:?}");
    assert!(r.worker_done_after >= SLOW_WORK, "{r:?}");
}

#[test]
fn a_blocking_call_stops_only_when_it_returns() {
    let server = TestServer::start().expect("start the test server");
    let r = demo_blocking_call(&server).expect("threads start");
    assert_eq!(r.answer, Ok(200), "{r:?}");
    // The server answers after 1000 ms: the thread cannot have stopped before.
    assert!(r.stopped_after >= ms(REQUEST_MS), "{r:?}");
    assert!(
        r.latency_to_stop() >= ms(REQUEST_MS) - REQUEST_ABORT,
        "{r:?}"
    );
    assert!(r.stopped_after < ms(5000), "{r:?}");
}

#[test]
fn a_group_stops_at_its_next_look_and_every_guard_is_dropped() {
    let r = within_30_s(|| demo_group(CHUNK, GROUP_STOP)).expect("threads start");
    assert_eq!(
        (r.by_channel_stopped, r.by_flag_stopped),
        (WORKERS, WORKERS)
    );
    assert!(r.by_channel_stopped_at >= GROUP_STOP, "{r:?}");
    assert!(r.by_flag_stopped_at >= GROUP_STOP, "{r:?}");
    // Up to a step, plus wide slack for a busy machine (the test below parts the two ways cleanly).
    assert!(r.by_flag_latency < CHUNK + ms(900), "{r:?}");
    assert_eq!(r.guards_made, 2 * WORKERS);
    assert_eq!(r.guards_dropped, r.guards_made, "a guard leaked: {r:?}");
}

/// With 1 s chunks and the cancel at 100 ms the two ways part clearly, on any machine: a
/// worker waiting on the channel wakes before its chunk is over; a worker inside a blocking
/// step cannot see the flag before the step's end.
#[test]
fn a_waiting_worker_wakes_at_once_a_stepping_one_only_after_its_step() {
    let step = ms(1000);
    let r = within_30_s(move || demo_group(step, ms(100))).expect("threads start");
    assert!(r.by_channel_stopped_at < step, "{r:?}");
    assert!(r.by_flag_stopped_at >= step, "{r:?}");
    assert_eq!(r.guards_dropped, 2 * WORKERS, "{r:?}");
}

/// Waits (up to 30 s) until `counts` has made `n` guards: the worker threads have started.
fn until_made(counts: &GuardCounts, n: usize) {
    let start = Instant::now();
    while counts.made.load(Ordering::SeqCst) < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the workers never started"
        );
        thread::sleep(ms(1));
    }
}

/// The guard lives as long as the worker: held at every look while it runs (across several of
/// its waits or steps), dropped once it has stopped. Both kinds of worker.
#[test]
fn a_worker_holds_its_guard_for_as_long_as_it_runs() {
    let counts = GuardCounts::default();
    let stop = AtomicBool::new(false);
    let (cancel, cancelled) = crossbeam_channel::bounded::<()>(0);
    // Looked at while both run; asserted after the scope, so a failure cannot leave them running.
    let held_while_running = thread::scope(|s| {
        let waiting = s.spawn(|| waiting_worker(0, ms(20), cancelled, &counts));
        let stepping = s.spawn(|| stepping_worker(1, ms(20), &stop, &counts));
        until_made(&counts, 2);
        let held: Vec<usize> = (0..5)
            .map(|_| {
                thread::sleep(ms(30));
                counts.held()
            })
            .collect();
        drop(cancel);
        stop.store(true, Ordering::SeqCst);
        let _ = (waiting.join(), stepping.join());
        held
    });
    assert_eq!(
        held_while_running, [2; 5],
        "each running worker holds its guard"
    );
    assert_eq!(counts.held(), 0, "dropped when they stopped");
    assert_eq!(counts.made.load(Ordering::SeqCst), 2);
}

#[test]
fn help_names_the_example_and_a_bad_flag_is_an_error() {
    let help = Args::try_parse_from(["16", "--help"]).expect_err("--help stops the program");
    assert_eq!(help.exit_code(), 0);
    assert!(help.to_string().starts_with("16 · Cancellation"), "{help}");
    let bad = Args::try_parse_from(["16", "--bogus"]).expect_err("no such flag");
    assert_eq!(bad.exit_code(), 2);
}
