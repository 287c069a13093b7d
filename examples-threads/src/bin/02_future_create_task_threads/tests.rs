//! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early),
//! upper bounds are generous. Sleeping threads overlap even on one core, so the threaded run stays
//! well below the sum however loaded the machine is.
use super::detached::{WARM_CACHE_DELAY, deferred_vs_detached};
use super::packaged_task::{SQUARE_DELAY, package, run_packaged_tasks};
use super::promise::{GIVE_UP_DELAY, SET_VALUE_DELAY, set_value_later, value_never_set};
use super::*;

#[test]
fn sequential_takes_at_least_the_sum() {
    let ((_, header_done), took) = time(|| load_dashboard_sequential(USER_ID));
    assert!(took >= SUM, "{took:?}");
    assert!(header_done >= SUM, "the header came last: {header_done:?}");
}

#[test]
fn threads_overlap_the_header_total_is_about_the_longest_branch() {
    let (run, took) = time(|| load_dashboard_threads(USER_ID));
    let (_, header_done) = run.expect("no thread panics");
    assert!(took >= LONGEST, "{took:?}");
    // Running any two fetches one after the other would add at least the shortest one (300 ms):
    // below that, all three overlapped. The margin absorbs a loaded machine.
    assert!(took < LONGEST + PROFILE_DELAY, "{took:?}");
    // The header did not wait for the fetches: it was done long before the slowest one.
    assert!(header_done >= HEADER_DELAY, "{header_done:?}");
    assert!(header_done < LONGEST, "{header_done:?}");
}

#[test]
fn both_ways_build_the_same_dashboard() {
    let (sequential, _) = load_dashboard_sequential(USER_ID);
    let (threads, _) = load_dashboard_threads(USER_ID).expect("no thread panics");
    assert_eq!(sequential, threads);
    assert_eq!(threads.header, "<h1>Dashboard</h1>");
    assert_eq!(threads.orders, ["order-1001", "order-1002"]);
}

#[test]
fn deferred_work_runs_only_at_get_but_a_detached_thread_runs_at_once() {
    let seen = deferred_vs_detached().expect("spawn works");
    assert!(
        !seen.deferred_ran_before_get,
        "deferred work waits to be asked for: {seen:?}"
    );
    // Had it started early (on a thread of its own), it would have been done 50 ms before
    // `get()`, and `get()` would have returned at once.
    assert!(seen.get_took >= WARM_CACHE_DELAY, "{seen:?}");
    assert!(
        seen.detached_ran,
        "dropping a JoinHandle detaches the thread, it does not stop it: {seen:?}"
    );
}

#[test]
fn the_channel_promise_delivers_the_value_set_later() {
    let (value, waited) = set_value_later().expect("the setter sends");
    assert_eq!(value, 10);
    assert!(waited >= SET_VALUE_DELAY, "{waited:?}");
}

#[test]
fn a_dropped_sender_wakes_the_receiver_with_an_error() {
    let (error, took) = time(value_never_set);
    assert!(
        error.expect("spawn works").is_some(),
        "an error, not a value"
    );
    // It learned when the sender was dropped (50 ms), not after some timeout.
    assert!(
        took >= GIVE_UP_DELAY && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn packaged_tasks_deliver_their_results_and_run_at_the_same_time() {
    let (squares, took) = time(run_packaged_tasks);
    assert_eq!(squares.expect("no panic"), (9, 16));
    assert!(took >= SQUARE_DELAY, "{took:?}");
    // Two 300 ms calls one after the other would take 600 ms.
    assert!(
        took < SQUARE_DELAY * 2 - Duration::from_millis(100),
        "{took:?}"
    );
}

#[test]
fn a_panicking_packaged_task_gives_an_error_not_a_value() {
    let (job, result) = package(|_: ()| -> i32 { panic!("the job failed") });
    let handle = thread::Builder::new()
        .name("doomed".into())
        .spawn(move || job(()))
        .expect("spawn works");
    assert!(
        result.recv().is_err(),
        "the sender was dropped by the unwinding job"
    );
    assert!(handle.join().is_err());
}
