//! Real time, on a machine that may be busy: lower bounds are exact (a sleep never ends early),
//! upper bounds generous. Where an order is asserted, the files finish 200 ms apart, far more
//! than a loaded machine delays a waking thread; the deadline falls 400 ms from any finish.
use super::continuation::{INITIAL_TASK_DELAY, STORE_DELAY, continuation};
use super::files::{Plan, download_of};
use super::outcome::Outcome;
use super::polling::{POLL_EVERY, SLOW_ADD_DELAY, wait_with_polling};
use super::shared::{COMPUTE_DELAY, READERS, share_one_result};
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The batch for the order tests: started slowest-first, so spawn order is the reverse of
/// completion order; `products.csv` would take 5 s and is stopped at the 900 ms deadline.
const SPREAD: [Download; 4] = [
    download_of("users.csv", 500, Plan::Rows(1200)),
    download_of("payments.csv", 300, Plan::ServerError(500)),
    download_of("orders.csv", 100, Plan::Rows(5400)),
    download_of("products.csv", 5000, Plan::Rows(87)),
];
const SPREAD_DEADLINE: Duration = Duration::from_millis(900);

#[test]
fn results_come_in_completion_order_not_spawn_order() {
    let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
    let files: Vec<&str> = finished.iter().map(|f| f.file).collect();
    assert_eq!(
        files,
        ["orders.csv", "payments.csv", "users.csv", "products.csv"]
    );
    // Each reported no earlier than it could, and the first long before the last.
    let at: Vec<Duration> = finished.iter().map(|f| f.at).collect();
    assert!(at[0] >= ms(100) && at[0] < ms(400), "{at:?}");
    assert!(at[1] >= ms(300) && at[2] >= ms(500), "{at:?}");
}

#[test]
fn progress_reaches_4_of_4_with_the_right_split() {
    let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
    let lines: Vec<String> = finished.iter().map(|f| f.progress.to_string()).collect();
    assert_eq!(
        lines,
        [
            "1/4 finished, 1 succeeded, 0 failed, 0 panicked, 0 cancelled",
            "2/4 finished, 1 succeeded, 1 failed, 0 panicked, 0 cancelled",
            "3/4 finished, 2 succeeded, 1 failed, 0 panicked, 0 cancelled",
            "4/4 finished, 2 succeeded, 1 failed, 0 panicked, 1 cancelled",
        ]
    );
}

#[test]
fn a_cancelled_thread_stops_soon_after_the_deadline_not_at_its_end() {
    let finished = download_all(&SPREAD, SPREAD_DEADLINE).expect("spawn works");
    let products = finished.last().expect("four records");
    assert_eq!(products.outcome, Outcome::Cancelled);
    assert!(products.at >= SPREAD_DEADLINE, "{:?}", products.at);
    // It checks every 50 ms; its full download would take 5 s.
    assert!(
        products.at < SPREAD_DEADLINE + ms(1000),
        "{:?}",
        products.at
    );
}

#[test]
fn an_error_a_panic_and_a_cancellation_are_told_apart() {
    let files = [SPREAD[1], INVOICES, SPREAD[3], SPREAD[2]];
    let finished = download_all(&files, SPREAD_DEADLINE).expect("spawn works");
    let mut outcomes: Vec<(&str, Outcome)> = finished
        .iter()
        .map(|f| (f.file, f.outcome.clone()))
        .collect();
    // Which finished first is the test above's business; here only how each ended.
    outcomes.sort_by_key(|(file, _)| *file);
    assert_eq!(
        outcomes,
        [
            (
                "invoices.csv",
                Outcome::Panicked("invoices.csv: malformed row 17".into())
            ),
            ("orders.csv", Outcome::Succeeded { rows: 5400 }),
            (
                "payments.csv",
                Outcome::Failed("payments.csv: server returned 500".into())
            ),
            ("products.csv", Outcome::Cancelled),
        ]
    );
    assert_eq!(
        finished.last().expect("four records").progress.to_string(),
        "4/4 finished, 1 succeeded, 1 failed, 1 panicked, 1 cancelled"
    );
}

#[test]
fn polling_waits_in_a_loop_and_gets_the_result() {
    let (polling, took) = time(wait_with_polling);
    let (result, waits) = polling.expect("slow_add does not panic");
    assert_eq!(result, 7);
    assert!(took >= SLOW_ADD_DELAY, "{took:?}");
    // At least one wait ran out (the result takes 900 ms, a wait 200 ms), and each that ran out
    // lasted its full 200 ms. The exact count, 4, is proven on the async twin's paused clock.
    assert!(waits >= 1, "{waits}");
    assert!(POLL_EVERY * waits <= took, "{waits} waits in {took:?}");
}

#[test]
fn the_continuation_runs_each_step_after_the_previous() {
    let (value, took) = time(continuation);
    assert_eq!(value.expect("no panic"), 10);
    assert!(took >= INITIAL_TASK_DELAY + STORE_DELAY, "{took:?}");
}

#[test]
fn five_readers_share_one_computation() {
    let (shared, took) = time(share_one_result);
    let (values, computed) = shared.expect("no thread panics");
    assert_eq!(values, [10; READERS]);
    // Five readers race to `get_or_init`: one computes, four wait. A reader computing for
    // itself would make this 5.
    assert_eq!(computed, 1, "computed once, not once per reader");
    assert!(took >= COMPUTE_DELAY, "{took:?}");
}
